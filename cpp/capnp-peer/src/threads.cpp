#include "threads.h"

#include <algorithm>

namespace peer {

// --------------------------------------------------------------------------------------
// ThreadContext

namespace {

std::atomic<uint64_t> g_nextThreadId{1};

// Owns the calling thread's context; at thread exit the connections drop the Thread caps
// cached for it, so the peer's worker made for this thread is released (libmultiprocess
// releases them when the thread's ThreadContext goes away).
struct CurrentHolder {
    std::shared_ptr<ThreadContext> tc;
    ~CurrentHolder()
    {
        if (!tc || !Loop::exists()) return;
        uint64_t id = tc->id();
        Loop::get().tryRun([id] {
            for (auto& conn : liveConnections()) conn->forgetThread(id);
        });
    }
};
thread_local CurrentHolder t_current;

}  // namespace

ThreadContext::ThreadContext(std::string name) : id_(g_nextThreadId++), name_(kj::mv(name)) {}

ThreadContext::~ThreadContext() = default;

std::shared_ptr<ThreadContext> ThreadContext::current()
{
    if (!t_current.tc) t_current.tc = std::make_shared<ThreadContext>(currentThreadLabel());
    return t_current.tc;
}

std::shared_ptr<ThreadContext> ThreadContext::startWorker(const std::string& suffix)
{
    // The name includes the worker's tid, so wait until the thread exists and named itself.
    struct Start {
        std::mutex mu;
        std::condition_variable cv;
        std::shared_ptr<ThreadContext> tc;
    };
    auto start = std::make_shared<Start>();
    std::thread([start, suffix] {
        auto tc = std::make_shared<ThreadContext>(currentThreadLabel() + " " + suffix);
        t_current.tc = tc;
        {
            std::lock_guard<std::mutex> lock(start->mu);
            start->tc = tc;
        }
        start->cv.notify_all();
        PEER_LOG("worker started: " + tc->name());
        tc->runWorker();
        PEER_LOG("worker exits");
    }).detach();
    std::unique_lock<std::mutex> lock(start->mu);
    start->cv.wait(lock, [&] { return start->tc != nullptr; });
    return start->tc;
}

bool ThreadContext::post(kj::Function<void()> job)
{
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return false;
        jobs_.push_back(kj::mv(job));
    }
    cv_.notify_all();
    return true;
}

void ThreadContext::waitUntil(const std::function<bool()>& done)
{
    std::unique_lock<std::mutex> lock(mu_);
    while (!done()) {
        if (jobs_.empty()) {
            cv_.wait(lock);
            continue;
        }
        {
            kj::Function<void()> job = kj::mv(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
        }  // the job's captures (fulfillers, references) die outside the lock
        lock.lock();
    }
}

void ThreadContext::signal(const std::function<void()>& update)
{
    {
        std::lock_guard<std::mutex> lock(mu_);
        update();
    }
    cv_.notify_all();
}

void ThreadContext::stop()
{
    signal([this] { stopping_ = true; });
}

void ThreadContext::runWorker()
{
    waitUntil([this] { return stopping_; });
}

// --------------------------------------------------------------------------------------
// Loop

namespace {
std::atomic<Loop*> g_loop{nullptr};
}

Loop::Loop(kj::AsyncIoContext& io)
    : io_(io), executor_(kj::getCurrentThreadExecutor().addRef()), thread_(std::this_thread::get_id())
{
    g_loop = this;
}

Loop& Loop::get()
{
    Loop* loop = g_loop.load();
    KJ_REQUIRE(loop != nullptr, "no event loop");
    return *loop;
}

bool Loop::exists() { return g_loop.load() != nullptr; }

void Loop::tryRun(kj::Function<void()> f)
{
    if (onLoopThread()) {
        f();
        return;
    }
    try {
        executor_->executeSync([&] { f(); });
    } catch (...) {
        // The event loop has exited; nothing left to clean up there.
    }
}

// --------------------------------------------------------------------------------------
// Thread / ThreadMap servers

ThreadServer::~ThreadServer() noexcept(false)
{
    if (owner_) tc_->stop();
}

kj::Promise<void> ThreadServer::getName(GetNameContext context)
{
    context.getResults().setResult(asText(tc_->name()));
    return kj::READY_NOW;
}

kj::Promise<void> ThreadMapServer::makeThread(MakeThreadContext context)
{
    auto conn = conn_.lock();
    if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
    std::string from = toString(context.getParams().getName());
    auto tc = ThreadContext::startWorker("(from " + from + ")");
    PEER_LOG("makeThread (from " + from + ") -> " + tc->name());
    context.getResults().setResult(conn->addThread(tc, /*owner=*/true));
    return kj::READY_NOW;
}

kj::Promise<void> ThreadMapServer::makePool(MakePoolContext context)
{
    auto conn = conn_.lock();
    if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
    uint32_t count = context.getParams().getCount();
    if (count == 0 || count > 1024) {
        return failure("makePool count " + std::to_string(count) + " out of range 1..=1024");
    }
    if (!conn->makePool(count)) return failure("makePool called on connection with existing pool");
    return kj::READY_NOW;
}

// --------------------------------------------------------------------------------------
// Connection

namespace {
std::vector<std::weak_ptr<Connection>> g_connections;  // loop thread only
}

std::vector<std::shared_ptr<Connection>> liveConnections()
{
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& weak : g_connections) {
        if (auto conn = weak.lock()) out.push_back(conn);
    }
    return out;
}

std::shared_ptr<Connection> Connection::create(kj::Own<kj::AsyncIoStream> stream, std::string label)
{
    std::shared_ptr<Connection> conn(new Connection(kj::mv(stream), kj::mv(label)));
    g_connections.erase(std::remove_if(g_connections.begin(), g_connections.end(),
                                       [](const std::weak_ptr<Connection>& w) { return w.expired(); }),
                        g_connections.end());
    g_connections.push_back(conn);
    return conn;
}

Connection::Connection(kj::Own<kj::AsyncIoStream> stream, std::string label)
    : label_(kj::mv(label)), stream_(kj::mv(stream)), lookupTail_(kj::Promise<void>(kj::READY_NOW).fork())
{
}

Connection::~Connection() { close(); }

void Connection::startServer(capnp::Capability::Client bootstrap)
{
    network_ = kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::SERVER);
    rpc_ = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcServer(*network_, kj::mv(bootstrap)));
}

capnp::Capability::Client Connection::startClient()
{
    network_ = kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::CLIENT);
    rpc_ = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network_));
    capnp::MallocMessageBuilder vatId;
    auto id = vatId.initRoot<capnp::rpc::twoparty::VatId>();
    id.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc_->bootstrap(id);
}

kj::Promise<void> Connection::onDisconnect()
{
    KJ_REQUIRE(network_.get() != nullptr, "connection not started");
    return network_->onDisconnect();
}

void Connection::close()
{
    callbackThreads_.clear();
    requestThreads_.clear();
    for (auto& tc : poolThreads_) tc->stop();
    poolThreads_.clear();
    peerThreadMap_ = nullptr;
    // The RPC system goes before the network and the stream it uses.
    rpc_ = nullptr;
    network_ = nullptr;
    stream_ = nullptr;
}

mp::ThreadMap::Client Connection::hostThreadMap()
{
    return kj::heap<ThreadMapServer>(weak_from_this());
}

mp::Thread::Client Connection::addThread(std::shared_ptr<ThreadContext> tc, bool owner)
{
    return threads_.add(kj::heap<ThreadServer>(kj::mv(tc), owner));
}

mp::Thread::Client Connection::callbackThreadFor(ThreadContext& tc)
{
    auto it = callbackThreads_.find(tc.id());
    if (it == callbackThreads_.end()) {
        it = callbackThreads_.emplace(tc.id(), addThread(tc.shared_from_this(), /*owner=*/false)).first;
    }
    return it->second;
}

mp::Thread::Client Connection::requestThreadFor(ThreadContext& tc)
{
    for (auto it = tc.active.rbegin(); it != tc.active.rend(); ++it) {
        if ((*it)->conn != this) continue;
        KJ_IF_MAYBE(thread, (*it)->callbackThread) {
            return *thread;
        }
    }
    auto it = requestThreads_.find(tc.id());
    if (it != requestThreads_.end()) return it->second;
    KJ_IF_MAYBE(map, peerThreadMap_) {
        auto req = map->makeThreadRequest();
        req.setName(asText(tc.name()));
        PEER_LOG("IPC client send ThreadMap.makeThread$Params (" + tc.name() + ")");
        // Pipelined: the first call on the new thread goes out without waiting for it.
        mp::Thread::Client thread = req.send().getResult();
        requestThreads_.emplace(tc.id(), thread);
        return thread;
    }
    kj::throwFatalException(failure("peer provided no ThreadMap, so no thread can be made for " + tc.name()));
}

void Connection::fillContext(ThreadContext& tc, mp::Context::Builder context)
{
    context.setCallbackThread(callbackThreadFor(tc));
    context.setThread(requestThreadFor(tc));
}

void Connection::forgetThread(uint64_t tcId)
{
    callbackThreads_.erase(tcId);
    requestThreads_.erase(tcId);
}

bool Connection::makePool(uint32_t count)
{
    if (!poolThreads_.empty()) return false;
    for (uint32_t i = 0; i < count; ++i) {
        poolThreads_.push_back(ThreadContext::startWorker("(pool/" + std::to_string(i) + ")"));
    }
    return true;
}

kj::Promise<std::shared_ptr<ThreadContext>> Connection::resolveThread(mp::Context::Reader context)
{
    if (!context.hasThread()) {
        if (poolThreads_.empty()) return failure("no thread specified and no pool configured");
        auto best = std::min_element(poolThreads_.begin(), poolThreads_.end(), [](const auto& a, const auto& b) {
            return a->inflight.load() < b->inflight.load();
        });
        return *best;
    }
    // getLocalServer wants the client alive (and at a fixed address) until it resolves.
    auto cap = kj::heap<mp::Thread::Client>(context.getThread());
    auto lookup = lookupTail_.addBranch()
                      .then([this, cap = kj::mv(cap)]() mutable {
                          auto& ref = *cap;
                          return threads_.getLocalServer(ref)
                              .then([](kj::Maybe<mp::Thread::Server&> server) -> std::shared_ptr<ThreadContext> {
                                  KJ_IF_MAYBE(s, server) {
                                      // Only ThreadServers are ever added to this set.
                                      return kj::downcast<ThreadServer>(*s).context();
                                  }
                                  kj::throwFatalException(failure("invalid thread handle"));
                              })
                              .attach(kj::mv(cap));
                      })
                      .fork();
    lookupTail_ = lookup.addBranch().then([](std::shared_ptr<ThreadContext>) {}, [](kj::Exception&&) {}).fork();
    return lookup.addBranch();
}

}  // namespace peer
