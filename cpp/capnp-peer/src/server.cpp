#include "server.h"

#include "proxies.h"

#include <kj/async-unix.h>

#include <csignal>
#include <utility>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace peer {

namespace {

// --------------------------------------------------------------------------------------
// Implementation objects. They live as long as their capability (or until `destroy`), are
// shared with worker threads through shared_ptr, and hold no Cap'n Proto object except
// through CapRef.

std::atomic<int64_t> g_liveCounters{0};

struct CounterState {
    explicit CounterState(int64_t start) : value(start) { g_liveCounters++; }
    ~CounterState() { g_liveCounters--; }
    std::atomic<int64_t> value;
};

struct TesterState {
    std::mutex mu;
    std::vector<int32_t> log;
    CapRef<msg::Callback::Client> saved;
};

// The process's Counters, so readCounter can tell one of ours from one the client hosts.
capnp::CapabilityServerSet<msg::Counter>& counterSet()
{
    static capnp::CapabilityServerSet<msg::Counter> set;
    return set;
}

std::shared_ptr<Connection> lockConnection(const std::weak_ptr<Connection>& weak)
{
    auto conn = weak.lock();
    if (!conn || conn->closed()) kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "connection closed"));
    return conn;
}

// Base for interface servers that belong to one connection.
class ConnectionBound {
protected:
    explicit ConnectionBound(std::weak_ptr<Connection> conn) : conn_(kj::mv(conn)) {}

    // Runs `job` on the thread the Context names (doc: "each call with a Context is run on
    // the thread its context.thread names, in order").
    template <typename T>
    kj::Promise<T> run(mp::Context::Reader context, kj::Function<T()> job)
    {
        return kj::evalNow([&] { return lockConnection(conn_)->dispatch<T>(context, kj::mv(job)); });
    }

    // Init.construct (no Context: runs on the loop thread). Keeps the client's ThreadMap
    // (for callbacks outside a request) and gives it ours (for its Context calls).
    template <typename ConstructContext>
    kj::Promise<void> serveConstruct(ConstructContext& call)
    {
        auto conn = lockConnection(conn_);
        auto p = call.getParams();
        if (p.hasThreadMap()) conn->setPeerThreadMap(p.getThreadMap());
        call.getResults().setThreadMap(conn->hostThreadMap());
        return kj::READY_NOW;
    }

    std::weak_ptr<Connection> conn_;
};

// --------------------------------------------------------------------------------------
// Counter

class CounterServer final : public msg::Counter::Server, ConnectionBound {
public:
    CounterServer(std::weak_ptr<Connection> conn, std::shared_ptr<CounterState> state)
        : ConnectionBound(kj::mv(conn)), state_(kj::mv(state))
    {
    }

    // Used by readCounter when the client hands one of our Counters back.
    std::shared_ptr<CounterState> state() const { return state_; }

    kj::Promise<void> destroy(DestroyContext call) override
    {
        return run<Done>(call.getParams().getContext(), [] { return Done{}; }).then([this](Done) {
            // Like libmultiprocess: destroy runs the C++ destructor now; the capability itself
            // stays until the client releases it.
            state_.reset();
        });
    }

    kj::Promise<void> increment(IncrementContext call) override
    {
        auto state = live();
        return run<int64_t>(call.getParams().getContext(), [state] { return ++state->value; })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> get(GetContext call) override
    {
        auto state = live();
        return run<int64_t>(call.getParams().getContext(), [state] { return state->value.load(); })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

private:
    std::shared_ptr<CounterState> live()
    {
        // libmultiprocess would dereference null here and crash; an error is kinder.
        if (!state_) kj::throwFatalException(failure("Counter called after destroy"));
        return state_;
    }
    std::shared_ptr<CounterState> state_;
};

// --------------------------------------------------------------------------------------
// Tester

struct Declared {
    bool raised = false;
    int32_t code = 0;
    std::string message;
    int32_t result = 0;
};

void writeDeclared(msg::TestError::Builder b, const Declared& d)
{
    b.setCode(d.code);
    b.setMessage(asText(d.message));
}

class TesterServer final : public msg::Tester::Server, ConnectionBound {
public:
    TesterServer(std::weak_ptr<Connection> conn, std::shared_ptr<TesterState> state)
        : ConnectionBound(kj::mv(conn)), state_(kj::mv(state))
    {
    }

    kj::Promise<void> destroy(DestroyContext call) override
    {
        return run<Done>(call.getParams().getContext(), [] { return Done{}; }).then([this](Done) { state_.reset(); });
    }

    kj::Promise<void> passPrimitives(PassPrimitivesContext call) override
    {
        auto p = call.getParams();
        Primitives v = readPrimitives(p.getArg());
        return run<Primitives>(p.getContext(), [v] { return v; }).then([call](Primitives v) mutable {
            writePrimitives(call.getResults().initResult(), v);
        });
    }

    kj::Promise<void> addInt64(AddInt64Context call) override
    {
        auto p = call.getParams();
        int64_t a = p.getA(), b = p.getB();
        return run<int64_t>(p.getContext(), [a, b] {
                   int64_t r;
                   if (__builtin_add_overflow(a, b, &r)) throw std::overflow_error("integer overflow in addInt64");
                   return r;
               })
            .then([call](int64_t r) mutable { call.getResults().setResult(r); });
    }

    kj::Promise<void> passText(PassTextContext call) override
    {
        auto p = call.getParams();
        std::string v = toString(p.getArg());
        return run<std::string>(p.getContext(), [v] { return v; }).then([call](std::string v) mutable {
            call.getResults().setResult(asText(v));
        });
    }

    kj::Promise<void> passData(PassDataContext call) override
    {
        auto p = call.getParams();
        auto v = std::make_shared<std::string>(toString(p.getArg()));
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            // The payload is only copied once in and once out; the worker has nothing to do.
            call.initResults(capnp::MessageSize{v->size() / 8 + 8, 0}).setResult(asData(*v));
        });
    }

    kj::Promise<void> passOptionalData(PassOptionalDataContext call) override
    {
        auto p = call.getParams();
        std::optional<std::string> v;
        if (p.getHasArg()) v = toString(p.getArg());
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            auto r = call.getResults();
            if (v) r.setResult(asData(*v));
            r.setHasResult(v.has_value());
        });
    }

    kj::Promise<void> passInts(PassIntsContext call) override
    {
        auto p = call.getParams();
        std::vector<int32_t> v;
        for (int32_t x : p.getArg()) v.push_back(x);
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            auto list = call.getResults().initResult(static_cast<unsigned>(v.size()));
            for (unsigned i = 0; i < v.size(); ++i) list.set(i, v[i]);
        });
    }

    kj::Promise<void> passTexts(PassTextsContext call) override
    {
        auto p = call.getParams();
        std::vector<std::string> v;
        for (auto t : p.getArg()) v.push_back(toString(t));
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            auto list = call.getResults().initResult(static_cast<unsigned>(v.size()));
            for (unsigned i = 0; i < v.size(); ++i) list.set(i, asText(v[i]));
        });
    }

    kj::Promise<void> passDatas(PassDatasContext call) override
    {
        auto p = call.getParams();
        std::vector<std::string> v;
        for (auto d : p.getArg()) v.push_back(toString(d));
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            auto list = call.getResults().initResult(static_cast<unsigned>(v.size()));
            for (unsigned i = 0; i < v.size(); ++i) list.set(i, asData(v[i]));
        });
    }

    kj::Promise<void> passMap(PassMapContext call) override
    {
        auto p = call.getParams();
        auto v = readPairs(p.getArg());
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            writePairs(call.getResults().initResult(static_cast<unsigned>(v.size())), v);
        });
    }

    kj::Promise<void> passPoint(PassPointContext call) override
    {
        auto p = call.getParams();
        Point v = readPoint(p.getArg());
        return run<Done>(p.getContext(), [] { return Done{}; }).then([call, v](Done) mutable {
            writePoint(call.getResults().initResult(), v);
        });
    }

    kj::Promise<void> maybeInt(MaybeIntContext call) override
    {
        auto p = call.getParams();
        bool want = p.getWant();
        return run<std::optional<int32_t>>(p.getContext(), [want] { return want ? std::optional<int32_t>(42) : std::nullopt; })
            .then([call](std::optional<int32_t> v) mutable {
                auto r = call.getResults();
                if (v) r.setResult(*v);
                r.setHasResult(v.has_value());
            });
    }

    kj::Promise<void> divide(DivideContext call) override
    {
        auto p = call.getParams();
        int32_t a = p.getA(), b = p.getB();
        bool want = p.getWantRemainder();
        using Out = std::pair<int32_t, int32_t>;
        return run<Out>(p.getContext(), [a, b] {
                   if (b == 0) throw std::runtime_error("division by zero");
                   // INT32_MIN / -1 wraps, as in the Rust reference.
                   if (b == -1) return Out(static_cast<int32_t>(0u - static_cast<uint32_t>(a)), 0);
                   return Out(a / b, a % b);
               })
            .then([call, want](Out v) mutable {
                auto r = call.getResults();
                r.setResult(v.first);
                if (want) r.setRemainder(v.second);
            });
    }

    kj::Promise<void> addInOut(AddInOutContext call) override
    {
        auto p = call.getParams();
        int32_t x = p.getX(), sum = p.getSum();
        return run<int32_t>(p.getContext(), [x, sum] {
                   return static_cast<int32_t>(static_cast<uint32_t>(sum) + static_cast<uint32_t>(x));
               })
            .then([call](int32_t v) mutable { call.getResults().setSum(v); });
    }

    kj::Promise<void> split(SplitContext call) override
    {
        auto p = call.getParams();
        std::string text = toString(p.getText());
        size_t at = std::min<size_t>(p.getAt(), text.size());
        using Out = std::pair<std::string, std::string>;
        return run<Out>(p.getContext(), [text, at] { return Out(text.substr(0, at), text.substr(at)); })
            .then([call](Out v) mutable {
                auto r = call.getResults();
                r.setHead(asText(v.first));
                r.setTail(asText(v.second));
            });
    }

    kj::Promise<void> raise(RaiseContext call) override
    {
        auto p = call.getParams();
        Declared d{true, p.getCode(), toString(p.getMessage()), 0};
        // A declared exception is data in the `error` result field; the call succeeds.
        return run<Declared>(p.getContext(), [d] { return d; }).then([call](Declared d) mutable {
            writeDeclared(call.getResults().initError(), d);
        });
    }

    kj::Promise<void> checkedDivide(CheckedDivideContext call) override
    {
        auto p = call.getParams();
        int32_t a = p.getA(), b = p.getB();
        return run<Declared>(p.getContext(), [a, b] {
                   if (b == 0) return Declared{true, 1, "division by zero", 0};
                   if (b == -1) return Declared{false, 0, "", static_cast<int32_t>(0u - static_cast<uint32_t>(a))};
                   return Declared{false, 0, "", a / b};
               })
            .then([call](Declared d) mutable {
                auto r = call.getResults();
                if (d.raised) {
                    writeDeclared(r.initError(), d);
                } else {
                    r.setResult(d.result);
                }
            });
    }

    kj::Promise<void> fail(FailContext call) override
    {
        auto p = call.getParams();
        std::string message = toString(p.getMessage());
        return run<Done>(p.getContext(), [message]() -> Done { throw std::runtime_error(message); }).ignoreResult();
    }

    kj::Promise<void> addNoContext(AddNoContextContext call) override
    {
        // No Context: runs right here on the event-loop thread, like libmultiprocess.
        auto p = call.getParams();
        call.getResults().setResult(static_cast<int32_t>(static_cast<uint32_t>(p.getA()) + static_cast<uint32_t>(p.getB())));
        return kj::READY_NOW;
    }

    kj::Promise<void> sleepMs(SleepMsContext call) override
    {
        auto p = call.getParams();
        uint32_t ms = p.getMs();
        return run<std::string>(p.getContext(), [ms] {
                   std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                   return ThreadContext::current()->name();
               })
            .then([call](std::string name) mutable { call.getResults().setResult(asText(name)); });
    }

    kj::Promise<void> threadName(ThreadNameContext call) override
    {
        return run<std::string>(call.getParams().getContext(), [] { return ThreadContext::current()->name(); })
            .then([call](std::string name) mutable { call.getResults().setResult(asText(name)); });
    }

    kj::Promise<void> appendLog(AppendLogContext call) override
    {
        auto state = live();
        auto p = call.getParams();
        int32_t value = p.getValue();
        return run<Done>(p.getContext(), [state, value] {
                   std::lock_guard<std::mutex> lock(state->mu);
                   state->log.push_back(value);
                   return Done{};
               })
            .ignoreResult();
    }

    kj::Promise<void> takeLog(TakeLogContext call) override
    {
        auto state = live();
        return run<std::vector<int32_t>>(call.getParams().getContext(), [state] {
                   std::lock_guard<std::mutex> lock(state->mu);
                   return std::exchange(state->log, {});
               })
            .then([call](std::vector<int32_t> v) mutable {
                auto list = call.getResults().initResult(static_cast<unsigned>(v.size()));
                for (unsigned i = 0; i < v.size(); ++i) list.set(i, v[i]);
            });
    }

    kj::Promise<void> callCallback(CallCallbackContext call) override
    {
        auto p = call.getParams();
        auto cb = callbackParam(p.hasCallback(), p.getCallback());
        int32_t arg = p.getArg();
        return run<int32_t>(p.getContext(), [cb, arg] { return invokeCallback(cb, arg); })
            .then([call](int32_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> saveCallback(SaveCallbackContext call) override
    {
        auto state = live();
        auto p = call.getParams();
        CapRef<msg::Callback::Client> cb;
        if (p.hasCallback()) cb = makeCapRef(p.getCallback(), conn_);
        return run<Done>(p.getContext(), [state, cb] {
                   std::lock_guard<std::mutex> lock(state->mu);
                   state->saved = cb;
                   return Done{};
               })
            .ignoreResult();
    }

    kj::Promise<void> callSavedCallback(CallSavedCallbackContext call) override
    {
        auto state = live();
        auto p = call.getParams();
        int32_t arg = p.getArg();
        return run<int32_t>(p.getContext(), [state, arg] { return callFromNewThread(state, arg); })
            .then([call](int32_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> recurse(RecurseContext call) override
    {
        auto p = call.getParams();
        int32_t depth = p.getDepth();
        CapRef<msg::Callback::Client> cb;
        if (p.hasCallback()) cb = makeCapRef(p.getCallback(), conn_);
        return run<int32_t>(p.getContext(), [cb, depth] {
                   if (depth <= 0) return 0;
                   if (!cb) throw std::runtime_error("null callback");
                   // Runs on the client's waiting thread, which may call recurse again: that
                   // nested call comes back to this very thread (see threads.h).
                   return invokeCallback(cb, depth - 1) + 1;
               })
            .then([call](int32_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> readCounter(ReadCounterContext call) override
    {
        auto p = call.getParams();
        if (!p.hasCounter()) return failure("null counter");
        auto cap = kj::heap<msg::Counter::Client>(p.getCounter());
        auto& ref = *cap;
        return counterSet()
            .getLocalServer(ref)
            .then([this, call, cap = kj::mv(cap)](kj::Maybe<msg::Counter::Server&> local) mutable {
                auto p = call.getParams();
                std::shared_ptr<CounterState> state;
                KJ_IF_MAYBE(server, local) {
                    // One of ours came back: read it directly, as a C++ server would.
                    state = kj::downcast<CounterServer>(*server).state();
                    if (!state) return kj::Promise<int64_t>(failure("Counter called after destroy"));
                    return run<int64_t>(p.getContext(), [state] { return state->value.load(); });
                }
                auto remote = makeCapRef(kj::mv(*cap), conn_);
                return run<int64_t>(p.getContext(), [remote] { return CounterProxy(remote).get(); });
            })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> renamedMethod(RenamedMethodContext call) override
    {
        auto p = call.getParams();
        int32_t v = p.getValue();
        return run<int32_t>(p.getContext(), [v] { return static_cast<int32_t>(static_cast<uint32_t>(v) * 2u); })
            .then([call](int32_t r) mutable { call.getResults().setResult(r); });
    }

    kj::Promise<void> liveCounters(LiveCountersContext call) override
    {
        return run<int64_t>(call.getParams().getContext(), [] { return g_liveCounters.load(); })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

private:
    std::shared_ptr<TesterState> live()
    {
        if (!state_) kj::throwFatalException(failure("Tester called after destroy"));
        return state_;
    }

    CapRef<msg::Callback::Client> callbackParam(bool has, msg::Callback::Client client)
    {
        if (!has) kj::throwFatalException(failure("null callback"));
        return makeCapRef(kj::mv(client), conn_);
    }

    // callSavedCallback: call the saved callback from a fresh OS thread, outside this
    // request. That thread has no request from the client, so the call needs a thread made
    // with the ThreadMap the client passed to construct (libmultiprocess does the same).
    static int32_t callFromNewThread(const std::shared_ptr<TesterState>& state, int32_t arg)
    {
        CapRef<msg::Callback::Client> cb;
        {
            std::lock_guard<std::mutex> lock(state->mu);
            cb = state->saved;
        }
        if (!cb) throw std::runtime_error("no saved callback");
        struct Result {
            bool done = false;
            int32_t value = 0;
            std::exception_ptr error;
        };
        auto result = std::make_shared<Result>();
        auto waiter = ThreadContext::current();
        std::thread thread([cb, arg, result, waiter] {
            int32_t value = 0;
            std::exception_ptr error;
            try {
                value = invokeCallback(cb, arg);
            } catch (...) {
                error = std::current_exception();
            }
            waiter->signal([&] {
                result->value = value;
                result->error = error;
                result->done = true;
            });
        });
        // Wait the libmultiprocess way: this worker keeps serving jobs posted to it.
        waiter->waitUntil([&] { return result->done; });
        thread.join();
        if (result->error) std::rethrow_exception(result->error);
        return result->value;
    }

    std::shared_ptr<TesterState> state_;
};

// --------------------------------------------------------------------------------------
// TestInit

class TestInitServer final : public msg::TestInit::Server, ConnectionBound {
public:
    explicit TestInitServer(std::weak_ptr<Connection> conn) : ConnectionBound(kj::mv(conn)) {}

    kj::Promise<void> construct(ConstructContext call) override { return serveConstruct(call); }

    kj::Promise<void> makeTester(MakeTesterContext call) override
    {
        return run<Done>(call.getParams().getContext(), [] { return Done{}; }).then([this, call](Done) mutable {
            call.getResults().setResult(kj::heap<TesterServer>(conn_, std::make_shared<TesterState>()));
        });
    }

    kj::Promise<void> makeCounter(MakeCounterContext call) override
    {
        auto p = call.getParams();
        int64_t start = p.getStart();
        return run<Done>(p.getContext(), [] { return Done{}; }).then([this, call, start](Done) mutable {
            call.getResults().setResult(
                counterSet().add(kj::heap<CounterServer>(conn_, std::make_shared<CounterState>(start))));
        });
    }
};

// --------------------------------------------------------------------------------------
// Bitcoin Core's Init/Echo (schema/bitcoin/master), for checks against a real node.

class EchoServer final : public btc::Echo::Server, ConnectionBound {
public:
    explicit EchoServer(std::weak_ptr<Connection> conn) : ConnectionBound(kj::mv(conn)) {}

    kj::Promise<void> destroy(DestroyContext call) override
    {
        return run<Done>(call.getParams().getContext(), [] { return Done{}; }).ignoreResult();
    }

    kj::Promise<void> echo(EchoContext call) override
    {
        auto p = call.getParams();
        std::string text = toString(p.getEcho());
        return run<std::string>(p.getContext(), [text] { return text; }).then([call](std::string v) mutable {
            call.getResults().setResult(asText(v));
        });
    }
};

class EchoInitServer final : public btc::Init::Server, ConnectionBound {
public:
    explicit EchoInitServer(std::weak_ptr<Connection> conn) : ConnectionBound(kj::mv(conn)) {}

    kj::Promise<void> construct(ConstructContext call) override { return serveConstruct(call); }

    kj::Promise<void> makeEcho(MakeEchoContext call) override
    {
        return run<Done>(call.getParams().getContext(), [] { return Done{}; }).then([this, call](Done) mutable {
            call.getResults().setResult(kj::heap<EchoServer>(conn_));
        });
    }
    // makeMining, makeRpc and the retired makeMiningOld2 stay unimplemented.
};

// --------------------------------------------------------------------------------------
// Transport

class LogErrors final : public kj::TaskSet::ErrorHandler {
public:
    void taskFailed(kj::Exception&& e) override
    {
        PEER_LOG(std::string("IPC server task failed: ") + e.getDescription().cStr());
    }
};

void serveConnection(kj::Own<kj::AsyncIoStream> stream, BootstrapFactory bootstrap, kj::TaskSet& tasks)
{
    auto conn = Connection::create(kj::mv(stream), "server");
    conn->startServer(bootstrap(conn));
    PEER_LOG("IPC server: socket connected.");
    // The task owns the connection until the peer goes; then it is closed and dropped.
    tasks.add(conn->onDisconnect().then([conn] {
        PEER_LOG("IPC server: socket disconnected.");
        conn->close();
    }));
}

kj::Promise<void> acceptLoop(kj::ConnectionReceiver& listener, BootstrapFactory bootstrap, kj::TaskSet& tasks)
{
    return listener.accept().then([&listener, bootstrap, &tasks](kj::Own<kj::AsyncIoStream> stream) {
        serveConnection(kj::mv(stream), bootstrap, tasks);
        return acceptLoop(listener, bootstrap, tasks);
    });
}

int listenUnix(const std::string& path)
{
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
    // A socket file left by a killed server would make bind fail; replace it.
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
    // Created under umask 077 so no one else can reach it at any moment, then set to 0600.
    mode_t old = umask(0077);
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    umask(old);
    if (rc == 0) rc = chmod(path.c_str(), 0600);
    if (rc != 0 || listen(fd, 64) != 0) {
        std::string err = strerror(errno);
        close(fd);
        throw std::runtime_error("listening on " + path + ": " + err);
    }
    return fd;
}

}  // namespace

capnp::Capability::Client makeTestInit(std::weak_ptr<Connection> conn)
{
    return msg::TestInit::Client(kj::heap<TestInitServer>(kj::mv(conn)));
}

capnp::Capability::Client makeEchoInit(std::weak_ptr<Connection> conn)
{
    return btc::Init::Client(kj::heap<EchoInitServer>(kj::mv(conn)));
}

int serveSocket(const std::string& path, BootstrapFactory bootstrap)
{
    kj::UnixEventPort::captureSignal(SIGTERM);
    kj::UnixEventPort::captureSignal(SIGINT);
    auto io = kj::setupAsyncIo();
    auto* loop = new Loop(io);  // never freed, see Loop
    (void)loop;
    int fd = listenUnix(path);
    auto listener = io.lowLevelProvider->wrapListenSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    LogErrors errors;
    kj::TaskSet tasks(errors);
    tasks.add(acceptLoop(*listener, bootstrap, tasks));
    fprintf(stderr, "%s: listening on %s\n", exeName().c_str(), path.c_str());
    auto stop = io.unixEventPort.onSignal(SIGTERM).ignoreResult().exclusiveJoin(
        io.unixEventPort.onSignal(SIGINT).ignoreResult());
    stop.wait(io.waitScope);
    unlink(path.c_str());
    // Workers may still be busy (a client's sleepMs); there is nothing to save, so leave
    // without running destructors under their feet.
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

int serveFd(int fd, BootstrapFactory bootstrap)
{
    auto io = kj::setupAsyncIo();
    auto* loop = new Loop(io);  // never freed, see Loop
    (void)loop;
    LogErrors errors;
    kj::TaskSet tasks(errors);
    auto conn = Connection::create(
        io.lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP), "spawned");
    conn->startServer(bootstrap(conn));
    conn->onDisconnect().wait(io.waitScope);
    PEER_LOG("IPC server: socket disconnected.");
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

}  // namespace peer
