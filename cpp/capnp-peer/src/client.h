// Client side: connecting (unix socket or spawned child), Init.construct, and the command
// line entry points for `client` and `client-echo`.
#pragma once

#include "proxies.h"

#include <sys/types.h>

namespace peer {

// Where the server is: a socket path, or a server binary to spawn with `-ipcfd N`.
struct Endpoint {
    std::string socket;
    std::string spawn;
};

// One client connection to a TestInit server, after Init.construct.
class Session {
public:
    // Connects (or spawns), bootstraps TestInit and calls construct with our own ThreadMap.
    static std::unique_ptr<Session> open(const Endpoint& endpoint);
    ~Session();

    TesterProxy makeTester();
    CounterProxy makeCounter(int64_t start);
    const std::weak_ptr<Connection>& connection() const { return conn_; }
    // The spawned child's pid, or -1 for a socket.
    pid_t childPid() const { return child_; }
    // The scenario killed the child on purpose (killed-mid-call).
    void childKilled() { childKilled_ = true; }
    // Drops the connection (a spawned child then exits) and reaps the child.
    void close();
    // ThreadMap.makePool(count) on the server's ThreadMap (from construct).
    void makePool(uint32_t count);

private:
    Session() = default;
    std::weak_ptr<Connection> conn_;
    CapRef<msg::TestInit::Client> init_;
    pid_t child_ = -1;
    bool childKilled_ = false;
};

// Starts the client's event-loop thread (once per process).
void startClientLoop();

// Client connections, owned by the loop thread (application threads hold weak refs).
std::vector<std::shared_ptr<Connection>>& ownedConnections();

// Wraps a connected socket, starts an RPC client on it and returns its bootstrap capability.
template <typename Init>
CapRef<typename Init::Client> adoptFd(int fd, const std::string& label)
{
    return Loop::get().sync([&] {
        auto stream = Loop::get().io().lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
        auto conn = Connection::create(kj::mv(stream), label);
        auto init = conn->startClient().castAs<Init>();
        ownedConnections().push_back(conn);
        return makeCapRef(kj::mv(init), std::weak_ptr<Connection>(conn));
    });
}

// Drops a client connection (pending calls fail as disconnected).
void closeConnection(const std::weak_ptr<Connection>& weak);

// Init.construct, as a libmultiprocess client does first: offer our ThreadMap (so the server
// can call our callbacks outside a request) and keep the server's (for our Context calls).
template <typename InitClient>
void construct(const CapRef<InitClient>& init)
{
    std::weak_ptr<Connection> weak = init->conn;
    blockingCall<Done>([&](ThreadContext&) -> kj::Promise<Done> {
        auto conn = weak.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        auto req = init->client.constructRequest();
        req.setThreadMap(conn->hostThreadMap());
        return req.send().then([weak](auto&& r) {
            auto conn = weak.lock();
            if (conn && r.hasThreadMap()) conn->setPeerThreadMap(r.getThreadMap());
            return Done{};
        });
    });
}

// Connected unix socket fd, or throws.
int connectUnix(const std::string& path);
// socketpair + fork + exec `bin -ipcfd N`; returns the child pid and our end in `fd`.
pid_t spawnServer(const std::string& bin, int& fd);
// Waits up to `ms` for the child to exit, then kills it; returns its wait status or -1.
int reapChild(pid_t pid, int ms);

struct ClientOptions {
    Endpoint endpoint;
    pid_t serverPid = -1;
    std::string scenario;
    std::string bench;
    long calls = 0;
    long warmup = -1;
};

// `client ...`: runs one scenario or a benchmark; returns the exit code (0/1/77/2).
int runClient(const ClientOptions& options);
// `client-echo --socket PATH --text T`: Init.makeEcho then Echo.echo, printing the result.
int runClientEcho(const std::string& socket, const std::string& text);

// Scenarios (scenarios.cpp).
bool scenarioExists(const std::string& name);
// The contract's scenarios. `extra-*` scenarios (edges of our own server) run by name only.
std::vector<std::string> scenarioNames();
// Runs `name`; throws ScenarioFailure / ScenarioSkip (or anything else, a failure too).
void runScenario(const std::string& name, Session& session, const ClientOptions& options);
int runBench(Session& session, const ClientOptions& options);

class ScenarioFailure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
class ScenarioSkip : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace peer
