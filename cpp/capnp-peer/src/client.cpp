#include "client.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace peer {

void closeConnection(const std::weak_ptr<Connection>& weak)
{
    Loop::get().sync([&] {
        auto conn = weak.lock();
        if (!conn) return;
        conn->close();
        auto& owned = ownedConnections();
        owned.erase(std::remove(owned.begin(), owned.end(), conn), owned.end());
    });
}

std::vector<std::shared_ptr<Connection>>& ownedConnections()
{
    static std::vector<std::shared_ptr<Connection>> owned;  // loop thread only
    return owned;
}

void startClientLoop()
{
    struct Ready {
        std::mutex mu;
        std::condition_variable cv;
        bool ready = false;
    };
    auto ready = std::make_shared<Ready>();
    std::thread([ready] {
        auto io = kj::setupAsyncIo();
        new Loop(io);  // never freed, see Loop
        {
            std::lock_guard<std::mutex> lock(ready->mu);
            ready->ready = true;
        }
        ready->cv.notify_all();
        // Runs until the process leaves through _exit.
        kj::NEVER_DONE.wait(io.waitScope);
    }).detach();
    std::unique_lock<std::mutex> lock(ready->mu);
    ready->cv.wait(lock, [&] { return ready->ready; });
}

int connectUnix(const std::string& path)
{
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        std::string err = strerror(errno);
        ::close(fd);
        throw std::runtime_error("connecting to " + path + ": " + err);
    }
    return fd;
}

pid_t spawnServer(const std::string& bin, int& fd)
{
    // Checked here because a failed exec in the child only shows up as a disconnect.
    if (access(bin.c_str(), X_OK) != 0) throw std::runtime_error("cannot execute " + bin + ": " + strerror(errno));
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw std::runtime_error(std::string("socketpair: ") + strerror(errno));
    }
    // Bitcoin Core's convention: `<bin> -ipcfd <fd>`, the child serving on its end.
    std::string fdArg = std::to_string(fds[1]);
    std::vector<char*> argv{const_cast<char*>(bin.c_str()), const_cast<char*>("-ipcfd"),
                            const_cast<char*>(fdArg.c_str()), nullptr};
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec (other threads exist).
        fcntl(fds[1], F_SETFD, 0);
        execv(bin.c_str(), argv.data());
        _exit(127);
    }
    ::close(fds[1]);
    fd = fds[0];
    return pid;
}

int reapChild(pid_t pid, int ms)
{
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

// --------------------------------------------------------------------------------------
// Session

std::unique_ptr<Session> Session::open(const Endpoint& endpoint)
{
    std::unique_ptr<Session> s(new Session());
    int fd;
    if (!endpoint.spawn.empty()) {
        s->child_ = spawnServer(endpoint.spawn, fd);
    } else {
        fd = connectUnix(endpoint.socket);
    }
    s->init_ = adoptFd<msg::TestInit>(fd, endpoint.spawn.empty() ? "socket" : "spawned");
    s->conn_ = s->init_->conn;
    construct(s->init_);
    return s;
}

Session::~Session() { close(); }

void Session::close()
{
    init_.reset();
    closeConnection(conn_);
    if (child_ > 0) {
        // A spawned server must leave with status 0 once we disconnect (Core's convention).
        int status = reapChild(child_, 3000);
        if (!childKilled_ && !(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "warning: spawned server %d did not exit 0 after the disconnect (status %d)\n",
                    static_cast<int>(child_), status);
        }
        child_ = -1;
    }
}

void Session::makePool(uint32_t count)
{
    auto weak = conn_;
    blockingCall<Done>([&](ThreadContext&) -> kj::Promise<Done> {
        auto conn = weak.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        KJ_IF_MAYBE(map, conn->peerThreadMap()) {
            auto req = map->makePoolRequest();
            req.setCount(count);
            return req.send().then([](auto&&) { return Done{}; });
        }
        return failure("server gave no ThreadMap");
    });
}

TesterProxy Session::makeTester()
{
    auto weak = conn_;
    return TesterProxy(callWithContext<CapRef<msg::Tester::Client>>(init_, [weak](msg::TestInit::Client& c, auto fill) {
        auto req = c.makeTesterRequest();
        fill(req.initContext());
        return req.send().then([weak](auto&& r) { return makeCapRef(r.getResult(), weak); });
    }));
}

CounterProxy Session::makeCounter(int64_t start)
{
    auto weak = conn_;
    return CounterProxy(
        callWithContext<CapRef<msg::Counter::Client>>(init_, [weak, start](msg::TestInit::Client& c, auto fill) {
            auto req = c.makeCounterRequest();
            fill(req.initContext());
            req.setStart(start);
            return req.send().then([weak](auto&& r) { return makeCapRef(r.getResult(), weak); });
        }));
}

// --------------------------------------------------------------------------------------
// Entry points

namespace {

[[noreturn]] void leave(int code)
{
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

// The contract gives a client 20 s; fail clearly just before rather than be killed.
void startWatchdog(int seconds)
{
    std::thread([seconds] {
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        fprintf(stderr, "client timed out after %d s\n", seconds);
        leave(1);
    }).detach();
}

}  // namespace

int runClient(const ClientOptions& options)
{
    signal(SIGPIPE, SIG_IGN);
    if (options.bench.empty() && !scenarioExists(options.scenario)) {
        fprintf(stderr, "unknown scenario: %s\n", options.scenario.c_str());
        return 2;
    }
    startWatchdog(options.bench.empty() ? 19 : 3600);
    startClientLoop();
    int code = 0;
    std::unique_ptr<Session> session;
    try {
        session = Session::open(options.endpoint);
        if (!options.bench.empty()) {
            code = runBench(*session, options);
        } else {
            runScenario(options.scenario, *session, options);
        }
    } catch (const ScenarioSkip& e) {
        printf("SKIPPED: %s\n", e.what());
        code = 77;
    } catch (const ScenarioFailure& e) {
        fprintf(stderr, "FAIL %s: %s\n", options.scenario.c_str(), e.what());
        code = 1;
    } catch (const kj::Exception& e) {
        fprintf(stderr, "FAIL %s: unexpected error: %s\n", options.scenario.c_str(), e.getDescription().cStr());
        code = 1;
    } catch (const std::exception& e) {
        fprintf(stderr, "FAIL %s: unexpected error: %s\n", options.scenario.c_str(), e.what());
        code = 1;
    }
    if (session) session->close();
    if (code == 0 && options.bench.empty()) fprintf(stderr, "PASS %s\n", options.scenario.c_str());
    leave(code);
}

int runClientEcho(const std::string& socket, const std::string& text)
{
    signal(SIGPIPE, SIG_IGN);
    startWatchdog(19);
    startClientLoop();
    try {
        auto init = adoptFd<btc::Init>(connectUnix(socket), "socket");
        auto conn = init->conn;
        construct(init);
        auto echo = callWithContext<CapRef<btc::Echo::Client>>(init, [conn](btc::Init::Client& c, auto fill) {
            auto req = c.makeEchoRequest();
            fill(req.initContext());
            return req.send().then([conn](auto&& r) { return makeCapRef(r.getResult(), conn); });
        });
        std::string result = callWithContext<std::string>(echo, [&text](btc::Echo::Client& c, auto fill) {
            auto req = c.echoRequest();
            fill(req.initContext());
            req.setEcho(asText(text));
            return req.send().then([](auto&& r) { return toString(r.getResult()); });
        });
        // Like a libmultiprocess client dropping its proxy: destroy, then release.
        callWithContext<Done>(echo, [](btc::Echo::Client& c, auto fill) {
            auto req = c.destroyRequest();
            fill(req.initContext());
            return req.send().then([](auto&&) { return Done{}; });
        });
        echo.reset();
        init.reset();
        closeConnection(conn);
        printf("%s\n", result.c_str());
        leave(0);
    } catch (const kj::Exception& e) {
        fprintf(stderr, "client-echo failed: %s\n", e.getDescription().cStr());
    } catch (const std::exception& e) {
        fprintf(stderr, "client-echo failed: %s\n", e.what());
    }
    leave(1);
}

}  // namespace peer
