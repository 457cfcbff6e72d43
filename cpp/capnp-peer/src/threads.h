// The Thread/ThreadMap machinery: libmultiprocess's threading protocol on plain Cap'n Proto.
//
// Model (same as libmultiprocess, see the protocol doc sections 3 and 4):
// - One event-loop thread per process owns every Cap'n Proto object (clients, servers,
//   messages, promises). Nothing capnp-related is touched on any other thread.
// - Every other OS thread that takes part in IPC has a ThreadContext: a job queue it drains
//   while it waits for an outgoing call. Worker threads (made by ThreadMap.makeThread or
//   makePool) drain it forever; application threads (a client scenario, the server thread
//   behind callSavedCallback) drain it only while blocked in a call. That is what lets a
//   callback into a thread that is itself waiting run on that very thread, so recursion
//   stays on the same two OS threads.
// - A `Thread` capability names one ThreadContext. A Context call is posted to the thread
//   that its `context.thread` names, after checking that this connection handed that cap out
//   (CapabilityServerSet), exactly as libmultiprocess checks.
#pragma once

#include "common.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace peer {

class Connection;
struct RequestState;

// --------------------------------------------------------------------------------------
// ThreadContext: one per OS thread that sends or serves Context calls.

class ThreadContext : public std::enable_shared_from_this<ThreadContext> {
public:
    // The calling thread's context, created on first use. Its name is
    // "<exe>-<pid>/<pthread name>-<tid>", libmultiprocess's ThreadName format.
    static std::shared_ptr<ThreadContext> current();

    // Starts a worker OS thread and returns once it runs. `suffix` becomes part of the name,
    // e.g. "(from <client thread name>)" for makeThread or "(pool/0)" for makePool.
    static std::shared_ptr<ThreadContext> startWorker(const std::string& suffix);

    explicit ThreadContext(std::string name);
    ~ThreadContext();

    uint64_t id() const { return id_; }
    const std::string& name() const { return name_; }

    // Queues a job for this thread (any thread may call). False when the thread has stopped.
    bool post(kj::Function<void()> job);

    // Runs queued jobs on the calling thread (which must be this context's thread) until
    // `done()` holds. `done` is evaluated with the queue mutex held, so completions made
    // through signal() are seen without races. Re-entrant: a job may wait again.
    void waitUntil(const std::function<bool()>& done);

    // Applies `update` under the queue mutex and wakes this thread (any thread may call).
    void signal(const std::function<void()>& update);

    // Asks a worker to finish; its queue is no longer accepted.
    void stop();

    // Requests from a peer currently executing on this thread, innermost last. Only this
    // thread changes it; the loop thread reads it while this thread is blocked in a call.
    std::vector<std::shared_ptr<RequestState>> active;

    // Calls queued or running here, for choosing the least busy pool thread.
    std::atomic<int> inflight{0};

private:
    void runWorker();

    const uint64_t id_;
    std::string name_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<kj::Function<void()>> jobs_;
    bool stopping_ = false;
};

// --------------------------------------------------------------------------------------
// Loop: the process's single Cap'n Proto event-loop thread.

class Loop {
public:
    // Constructed on the loop thread, after kj::setupAsyncIo().
    // It is never destroyed: processes leave through _exit once their work is done, and a
    // Loop that outlives its event loop only makes tryRun() a no-op.
    explicit Loop(kj::AsyncIoContext& io);

    static Loop& get();
    static bool exists();

    kj::AsyncIoContext& io() { return io_; }
    bool onLoopThread() const { return std::this_thread::get_id() == thread_; }

    // Runs `f` on the loop thread and returns its result (waiting for it if it is a
    // promise). Called on the loop thread itself it just runs `f`.
    template <typename F>
    auto sync(F&& f) -> kj::_::UnwrapPromise<kj::PromiseForResult<F, void>>
    {
        if (onLoopThread()) {
            return runHere(kj::fwd<F>(f));
        }
        return executor_->executeSync(kj::fwd<F>(f));
    }

    // Best effort: runs `f` on the loop thread, or does nothing if the loop has gone.
    void tryRun(kj::Function<void()> f);

private:
    template <typename T>
    struct IsPromise : std::false_type {};
    template <typename T>
    struct IsPromise<kj::Promise<T>> : std::true_type {};

    // On the loop thread itself nothing may wait (kj forbids waiting inside an event), so
    // only plain functions can run here.
    template <typename F>
    auto runHere(F&& f) -> kj::_::UnwrapPromise<kj::PromiseForResult<F, void>>
    {
        if constexpr (IsPromise<decltype(f())>::value) {
            kj::throwFatalException(KJ_EXCEPTION(FAILED, "Loop::sync with a promise on the loop thread"));
        } else {
            return f();
        }
    }

    kj::AsyncIoContext& io_;
    kj::Own<const kj::Executor> executor_;
    std::thread::id thread_;
};

// A capability client that any thread may hold, but only the loop thread may use. The
// holder is destroyed on the loop thread whatever thread drops the last reference.
template <typename Client>
struct CapHolder {
    Client client;
    std::weak_ptr<Connection> conn;  // the connection the capability travels on
};
template <typename Client>
using CapRef = std::shared_ptr<CapHolder<Client>>;

template <typename Client>
CapRef<Client> makeCapRef(Client client, std::weak_ptr<Connection> conn)
{
    return CapRef<Client>(new CapHolder<Client>{kj::mv(client), kj::mv(conn)}, [](CapHolder<Client>* h) {
        if (Loop::exists() && !Loop::get().onLoopThread()) {
            Loop::get().tryRun([h] { delete h; });
        } else {
            delete h;
        }
    });
}

// One incoming Context request while it executes on one of our threads.
struct RequestState {
    Connection* conn;  // identity of the connection it came from (not owned)
    // The caller's thread, to name in calls back to it during this request. Loop thread only;
    // cleared there when the request ends.
    kj::Maybe<mp::Thread::Client> callbackThread;
    std::atomic<bool> ended{false};
};

// --------------------------------------------------------------------------------------
// Thread and ThreadMap servers.

class ThreadServer final : public mp::Thread::Server {
public:
    // `owner`: this capability keeps a worker alive and stops it when released (makeThread,
    // makePool). Otherwise it names an application thread (a callbackThread).
    ThreadServer(std::shared_ptr<ThreadContext> tc, bool owner) : tc_(kj::mv(tc)), owner_(owner) {}
    ~ThreadServer() noexcept(false);

    kj::Promise<void> getName(GetNameContext context) override;
    const std::shared_ptr<ThreadContext>& context() const { return tc_; }

private:
    std::shared_ptr<ThreadContext> tc_;
    bool owner_;
};

class ThreadMapServer final : public mp::ThreadMap::Server {
public:
    explicit ThreadMapServer(std::weak_ptr<Connection> conn) : conn_(kj::mv(conn)) {}
    kj::Promise<void> makeThread(MakeThreadContext context) override;
    kj::Promise<void> makePool(MakePoolContext context) override;

private:
    std::weak_ptr<Connection> conn_;
};

// --------------------------------------------------------------------------------------
// Connection: one two-party RPC connection and its thread bookkeeping (loop thread only).

class Connection : public std::enable_shared_from_this<Connection> {
public:
    static std::shared_ptr<Connection> create(kj::Own<kj::AsyncIoStream> stream, std::string label);
    ~Connection();

    const std::string& label() const { return label_; }

    // Server side: serve `bootstrap` to the peer. Client side: make an RPC client.
    void startServer(capnp::Capability::Client bootstrap);
    capnp::Capability::Client startClient();

    kj::Promise<void> onDisconnect();
    // Drops every capability and the socket; pending calls fail as disconnected.
    void close();
    bool closed() const { return rpc_.get() == nullptr; }

    // A fresh ThreadMap we host, for Init.construct (either direction).
    mp::ThreadMap::Client hostThreadMap();
    void setPeerThreadMap(mp::ThreadMap::Client map) { peerThreadMap_ = kj::mv(map); }
    kj::Maybe<mp::ThreadMap::Client&> peerThreadMap() { return peerThreadMap_; }

    // A Thread cap we host for `tc`, recognised when it comes back on this connection.
    mp::Thread::Client addThread(std::shared_ptr<ThreadContext> tc, bool owner);
    // The callbackThread for calls from `tc`: one cap per OS thread and connection.
    mp::Thread::Client callbackThreadFor(ThreadContext& tc);
    // The peer thread that should run calls from `tc`: the waiting caller's thread if `tc` is
    // serving a request from this peer, else the one made for `tc` with the peer's ThreadMap
    // (made on first use and pipelined, as libmultiprocess does).
    mp::Thread::Client requestThreadFor(ThreadContext& tc);
    // Fills `context` for a call from `tc`.
    void fillContext(ThreadContext& tc, mp::Context::Builder context);
    // Drops the handles cached for a thread that exits.
    void forgetThread(uint64_t tcId);

    bool makePool(uint32_t count);

    // Runs `job` on the thread named by `context.thread` (after the calls that arrived before
    // it on that thread), with `context.callbackThread` recorded for calls back to the peer.
    template <typename T>
    kj::Promise<T> dispatch(mp::Context::Reader context, kj::Function<T()> job);

private:
    Connection(kj::Own<kj::AsyncIoStream> stream, std::string label);
    kj::Promise<std::shared_ptr<ThreadContext>> resolveThread(mp::Context::Reader context);

    std::string label_;
    capnp::CapabilityServerSet<mp::Thread> threads_;
    kj::Own<kj::AsyncIoStream> stream_;
    kj::Own<capnp::TwoPartyVatNetwork> network_;
    kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
    kj::Maybe<mp::ThreadMap::Client> peerThreadMap_;
    std::map<uint64_t, mp::Thread::Client> callbackThreads_;
    std::map<uint64_t, mp::Thread::Client> requestThreads_;
    std::vector<mp::Thread::Client> pool_;  // owner caps keep the pool workers alive
    std::vector<std::shared_ptr<ThreadContext>> poolThreads_;
    // Thread lookups are asynchronous (context.thread may be a pipelined promise); chaining
    // them keeps calls in arrival order, so calls naming one thread run in the order sent.
    kj::ForkedPromise<void> lookupTail_;
};

// Every live connection of this process (loop thread only).
std::vector<std::shared_ptr<Connection>> liveConnections();

// Runs one request's job on its thread: records the request for callbacks, converts C++
// exceptions into libmultiprocess's failure text, stores the value in `out` and completes
// the loop-side promise. (The value travels beside a void fulfiller rather than through a
// CrossThreadPromiseFulfiller<T>, whose instantiation for non-trivial T trips a GCC 12
// -Wmaybe-uninitialized false positive in kj's headers.)
template <typename T>
void runRequestJob(const std::shared_ptr<RequestState>& state, ThreadContext& tc,
                   kj::CrossThreadPromiseFulfiller<void>& fulfiller, kj::Function<T()>& job, std::optional<T>& out)
{
    if (state->ended.load()) {
        fulfiller.reject(KJ_EXCEPTION(DISCONNECTED, "request canceled before it ran"));
        return;
    }
    tc.active.push_back(state);
    kj::Maybe<kj::Exception> error;
    try {
        out.emplace(job());
    } catch (const kj::Exception& e) {
        error = e;
    } catch (const std::exception& e) {
        error = failure(e.what());
    } catch (...) {
        error = failure("unknown exception");
    }
    tc.active.pop_back();
    KJ_IF_MAYBE(e, error) {
        fulfiller.reject(kj::mv(*e));
    } else {
        fulfiller.fulfill();
    }
}

template <typename T>
kj::Promise<T> Connection::dispatch(mp::Context::Reader context, kj::Function<T()> job)
{
    auto state = std::make_shared<RequestState>();
    state->conn = this;
    if (context.hasCallbackThread()) state->callbackThread = context.getCallbackThread();
    return resolveThread(context).then(
        [state, job = kj::mv(job)](std::shared_ptr<ThreadContext> tc) mutable -> kj::Promise<T> {
            auto out = std::make_shared<std::optional<T>>();
            auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
            tc->inflight++;
            bool posted =
                tc->post([state, tc, out, fulfiller = kj::mv(paf.fulfiller), job = kj::mv(job)]() mutable {
                    runRequestJob<T>(state, *tc, *fulfiller, job, *out);
                });
            if (!posted) {
                tc->inflight--;
                return KJ_EXCEPTION(DISCONNECTED, "thread has exited");
            }
            return paf.promise.then([out]() -> T { return kj::mv(**out); }).attach(kj::defer([state, tc] {
                // Loop thread, request over (or canceled by a disconnect): the callback
                // thread cap must die here, never on the worker.
                state->ended = true;
                state->callbackThread = nullptr;
                tc->inflight--;
            }));
        });
}

// --------------------------------------------------------------------------------------
// Outgoing calls from an ordinary (non-loop) thread, blocking like a libmultiprocess client.

// Runs `start(tc)` on the loop thread to send a request, then blocks the calling thread until
// its promise settles, running jobs posted to this thread meanwhile (incoming callbacks).
template <typename T, typename Start>
T blockingCall(Start&& start)
{
    auto tc = ThreadContext::current();
    KJ_REQUIRE(!Loop::get().onLoopThread(), "blocking IPC call from the event-loop thread");
    struct Outcome {
        std::optional<T> value;
        kj::Maybe<kj::Exception> error;
        bool done = false;
    };
    auto out = std::make_shared<Outcome>();
    Loop::get().sync([&]() {
        kj::Promise<T> p = kj::evalNow([&]() -> kj::Promise<T> { return start(*tc); });
        p.then([out, tc](T&& v) { tc->signal([&] { out->value.emplace(kj::mv(v)); out->done = true; }); },
               [out, tc](kj::Exception&& e) { tc->signal([&] { out->error = kj::mv(e); out->done = true; }); })
            .detach([](kj::Exception&&) {});
    });
    tc->waitUntil([&] { return out->done; });
    KJ_IF_MAYBE(e, out->error) {
        kj::throwFatalException(kj::mv(*e));
    }
    return kj::mv(*out->value);
}

// A call on `target` with a libmultiprocess Context. `f(client, fill)` runs on the loop
// thread, builds and sends the request (calling `fill(request.initContext())`) and maps the
// response to a plain value of type T.
template <typename T, typename Client, typename F>
T callWithContext(const CapRef<Client>& target, F&& f)
{
    return blockingCall<T>([&](ThreadContext& tc) -> kj::Promise<T> {
        auto conn = target->conn.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        return f(target->client, [&](mp::Context::Builder ctx) { conn->fillContext(tc, ctx); });
    });
}

}  // namespace peer
