#include "proxies.h"

namespace peer {

// --------------------------------------------------------------------------------------
// Value conversions

Primitives readPrimitives(msg::Primitives::Reader r)
{
    Primitives v;
    v.b = r.getB();
    v.i8 = r.getI8();
    v.i16 = r.getI16();
    v.i32 = r.getI32();
    v.i64 = r.getI64();
    v.u8 = r.getU8();
    v.u16 = r.getU16();
    v.u32 = r.getU32();
    v.u64 = r.getU64();
    v.f32 = r.getF32();
    v.f64 = r.getF64();
    return v;
}

void writePrimitives(msg::Primitives::Builder b, const Primitives& v)
{
    b.setB(v.b);
    b.setI8(v.i8);
    b.setI16(v.i16);
    b.setI32(v.i32);
    b.setI64(v.i64);
    b.setU8(v.u8);
    b.setU16(v.u16);
    b.setU32(v.u32);
    b.setU64(v.u64);
    b.setF32(v.f32);
    b.setF64(v.f64);
}

Point readPoint(msg::Point::Reader r)
{
    Point v;
    v.x = r.getX();
    v.y = r.getY();
    v.label = toString(r.getLabel());
    for (auto t : r.getTags()) v.tags.push_back(toString(t));
    v.weight = r.getWeight();
    v.hasWeight = r.getHasWeight();
    return v;
}

void writePoint(msg::Point::Builder b, const Point& v)
{
    b.setX(v.x);
    b.setY(v.y);
    b.setLabel(asText(v.label));
    auto tags = b.initTags(static_cast<unsigned>(v.tags.size()));
    for (unsigned i = 0; i < v.tags.size(); ++i) tags.set(i, asText(v.tags[i]));
    // An absent weight stays absent: hasWeight false, weight left at its default.
    if (v.hasWeight) b.setWeight(v.weight);
    b.setHasWeight(v.hasWeight);
}

std::vector<Pair> readPairs(capnp::List<msg::Pair>::Reader r)
{
    std::vector<Pair> out;
    for (auto p : r) out.push_back(Pair{toString(p.getKey()), p.getValue()});
    return out;
}

void writePairs(capnp::List<msg::Pair>::Builder b, const std::vector<Pair>& v)
{
    for (unsigned i = 0; i < v.size(); ++i) {
        b[i].setKey(asText(v[i].key));
        b[i].setValue(v[i].value);
    }
}

namespace {
std::vector<std::string> readTexts(capnp::List<capnp::Text>::Reader r)
{
    std::vector<std::string> out;
    for (auto t : r) out.push_back(toString(t));
    return out;
}
std::vector<std::string> readDatas(capnp::List<capnp::Data>::Reader r)
{
    std::vector<std::string> out;
    for (auto d : r) out.push_back(toString(d));
    return out;
}
}  // namespace

// --------------------------------------------------------------------------------------
// Callback

int32_t invokeCallback(const CapRef<msg::Callback::Client>& cb, int32_t arg)
{
    return callWithContext<int32_t>(cb, [arg](msg::Callback::Client& c, auto fill) {
        auto req = c.callRequest();
        fill(req.initContext());
        req.setArg(arg);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

namespace {

class CallbackServer final : public msg::Callback::Server {
public:
    CallbackServer(std::weak_ptr<Connection> conn, std::function<int32_t(int32_t)> fn)
        : conn_(kj::mv(conn)), fn_(kj::mv(fn))
    {
    }

    kj::Promise<void> call(CallContext call) override
    {
        auto conn = conn_.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        auto params = call.getParams();
        int32_t arg = params.getArg();
        auto fn = fn_;
        return conn->dispatch<int32_t>(params.getContext(), [fn, arg] { return fn(arg); })
            .then([call](int32_t result) mutable { call.getResults().setResult(result); });
    }

    // A libmultiprocess server calls destroy at the end of every call that passed a callback
    // by reference (it made a fresh server per pass). We hand one capability out for every
    // call, so destroy only acknowledges; the object lives until the last reference goes.
    kj::Promise<void> destroy(DestroyContext) override { return kj::READY_NOW; }

private:
    std::weak_ptr<Connection> conn_;
    std::function<int32_t(int32_t)> fn_;
};

}  // namespace

CapRef<msg::Callback::Client> hostCallback(const std::weak_ptr<Connection>& conn, std::function<int32_t(int32_t)> fn)
{
    return Loop::get().sync([&] {
        msg::Callback::Client client = kj::heap<CallbackServer>(conn, kj::mv(fn));
        return makeCapRef(kj::mv(client), conn);
    });
}

// --------------------------------------------------------------------------------------
// Counter

int64_t CounterProxy::increment()
{
    return callWithContext<int64_t>(cap_, [](msg::Counter::Client& c, auto fill) {
        auto req = c.incrementRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

int64_t CounterProxy::get()
{
    return callWithContext<int64_t>(cap_, [](msg::Counter::Client& c, auto fill) {
        auto req = c.getRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

void CounterProxy::destroy()
{
    callWithContext<Done>(cap_, [](msg::Counter::Client& c, auto fill) {
        auto req = c.destroyRequest();
        fill(req.initContext());
        return req.send().then([](auto&&) { return Done{}; });
    });
    cap_.reset();
}

// --------------------------------------------------------------------------------------
// Tester

Primitives TesterProxy::passPrimitives(const Primitives& v)
{
    return callWithContext<Primitives>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passPrimitivesRequest();
        fill(req.initContext());
        writePrimitives(req.initArg(), v);
        return req.send().then([](auto&& r) { return readPrimitives(r.getResult()); });
    });
}

int64_t TesterProxy::addInt64(int64_t a, int64_t b)
{
    return callWithContext<int64_t>(cap_, [a, b](msg::Tester::Client& c, auto fill) {
        auto req = c.addInt64Request();
        fill(req.initContext());
        req.setA(a);
        req.setB(b);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

int64_t TesterProxy::addInt64Raw(RawThread thread, int64_t a, int64_t b)
{
    return blockingCall<int64_t>([&](ThreadContext& tc) -> kj::Promise<int64_t> {
        auto conn = cap_->conn.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        auto req = cap_->client.addInt64Request();
        auto ctx = req.initContext();
        ctx.setCallbackThread(conn->callbackThreadFor(tc));
        // SelfHosted: a Thread we host ourselves, which the server never handed out.
        if (thread == RawThread::SelfHosted) ctx.setThread(conn->callbackThreadFor(tc));
        req.setA(a);
        req.setB(b);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

std::string TesterProxy::passText(const std::string& v)
{
    return callWithContext<std::string>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passTextRequest();
        fill(req.initContext());
        req.setArg(asText(v));
        return req.send().then([](auto&& r) { return toString(r.getResult()); });
    });
}

std::string TesterProxy::passData(const std::string& v)
{
    return callWithContext<std::string>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        // Size hint: one segment for a large payload instead of growing through several.
        auto req = c.passDataRequest(capnp::MessageSize{v.size() / 8 + 64, 4});
        fill(req.initContext());
        req.setArg(asData(v));
        return req.send().then([](auto&& r) { return toString(r.getResult()); });
    });
}

std::optional<std::string> TesterProxy::passOptionalData(const std::optional<std::string>& v)
{
    return callWithContext<std::optional<std::string>>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passOptionalDataRequest();
        fill(req.initContext());
        if (v) req.setArg(asData(*v));
        req.setHasArg(v.has_value());
        return req.send().then([](auto&& r) -> std::optional<std::string> {
            if (!r.getHasResult()) return std::nullopt;
            return toString(r.getResult());
        });
    });
}

std::vector<int32_t> TesterProxy::passInts(const std::vector<int32_t>& v)
{
    return callWithContext<std::vector<int32_t>>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passIntsRequest();
        fill(req.initContext());
        auto list = req.initArg(static_cast<unsigned>(v.size()));
        for (unsigned i = 0; i < v.size(); ++i) list.set(i, v[i]);
        return req.send().then([](auto&& r) {
            std::vector<int32_t> out;
            for (auto x : r.getResult()) out.push_back(x);
            return out;
        });
    });
}

std::vector<std::string> TesterProxy::passTexts(const std::vector<std::string>& v)
{
    return callWithContext<std::vector<std::string>>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passTextsRequest();
        fill(req.initContext());
        auto list = req.initArg(static_cast<unsigned>(v.size()));
        for (unsigned i = 0; i < v.size(); ++i) list.set(i, asText(v[i]));
        return req.send().then([](auto&& r) { return readTexts(r.getResult()); });
    });
}

std::vector<std::string> TesterProxy::passDatas(const std::vector<std::string>& v)
{
    return callWithContext<std::vector<std::string>>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passDatasRequest();
        fill(req.initContext());
        auto list = req.initArg(static_cast<unsigned>(v.size()));
        for (unsigned i = 0; i < v.size(); ++i) list.set(i, asData(v[i]));
        return req.send().then([](auto&& r) { return readDatas(r.getResult()); });
    });
}

std::vector<Pair> TesterProxy::passMap(const std::vector<Pair>& v)
{
    return callWithContext<std::vector<Pair>>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passMapRequest();
        fill(req.initContext());
        writePairs(req.initArg(static_cast<unsigned>(v.size())), v);
        return req.send().then([](auto&& r) { return readPairs(r.getResult()); });
    });
}

Point TesterProxy::passPoint(const Point& v)
{
    return callWithContext<Point>(cap_, [&v](msg::Tester::Client& c, auto fill) {
        auto req = c.passPointRequest();
        fill(req.initContext());
        writePoint(req.initArg(), v);
        return req.send().then([](auto&& r) { return readPoint(r.getResult()); });
    });
}

std::optional<int32_t> TesterProxy::maybeInt(bool want)
{
    return callWithContext<std::optional<int32_t>>(cap_, [want](msg::Tester::Client& c, auto fill) {
        auto req = c.maybeIntRequest();
        fill(req.initContext());
        req.setWant(want);
        return req.send().then([](auto&& r) -> std::optional<int32_t> {
            if (!r.getHasResult()) return std::nullopt;
            return r.getResult();
        });
    });
}

std::pair<int32_t, int32_t> TesterProxy::divide(int32_t a, int32_t b, bool wantRemainder)
{
    using Out = std::pair<int32_t, int32_t>;
    return callWithContext<Out>(cap_, [=](msg::Tester::Client& c, auto fill) {
        auto req = c.divideRequest();
        fill(req.initContext());
        req.setA(a);
        req.setB(b);
        req.setWantRemainder(wantRemainder);
        return req.send().then([](auto&& r) { return Out(r.getResult(), r.getRemainder()); });
    });
}

int32_t TesterProxy::addInOut(int32_t x, int32_t sum)
{
    return callWithContext<int32_t>(cap_, [=](msg::Tester::Client& c, auto fill) {
        auto req = c.addInOutRequest();
        fill(req.initContext());
        req.setX(x);
        req.setSum(sum);
        return req.send().then([](auto&& r) { return r.getSum(); });
    });
}

std::pair<std::string, std::string> TesterProxy::split(const std::string& text, uint32_t at)
{
    using Out = std::pair<std::string, std::string>;
    return callWithContext<Out>(cap_, [&text, at](msg::Tester::Client& c, auto fill) {
        auto req = c.splitRequest();
        fill(req.initContext());
        req.setText(asText(text));
        req.setAt(at);
        return req.send().then([](auto&& r) { return Out(toString(r.getHead()), toString(r.getTail())); });
    });
}

namespace {
// A declared exception arrives as a successful return with the `error` field set.
template <typename Results>
std::optional<DeclaredTestError> declaredError(const Results& r)
{
    if (!r.hasError()) return std::nullopt;
    return DeclaredTestError(r.getError().getCode(), toString(r.getError().getMessage()));
}

// Outcome of a call whose results can carry a declared TestError.
struct MaybeDeclared {
    std::optional<DeclaredTestError> error;
    int32_t result = 0;
};
}  // namespace

void TesterProxy::raise(int32_t code, const std::string& message)
{
    auto out = callWithContext<MaybeDeclared>(cap_, [code, &message](msg::Tester::Client& c, auto fill) {
        auto req = c.raiseRequest();
        fill(req.initContext());
        req.setCode(code);
        req.setMessage(asText(message));
        return req.send().then([](auto&& r) { return MaybeDeclared{declaredError(r), 0}; });
    });
    if (out.error) throw *out.error;
}

int32_t TesterProxy::checkedDivide(int32_t a, int32_t b)
{
    auto out = callWithContext<MaybeDeclared>(cap_, [a, b](msg::Tester::Client& c, auto fill) {
        auto req = c.checkedDivideRequest();
        fill(req.initContext());
        req.setA(a);
        req.setB(b);
        return req.send().then([](auto&& r) { return MaybeDeclared{declaredError(r), r.getResult()}; });
    });
    if (out.error) throw *out.error;
    return out.result;
}

void TesterProxy::fail(const std::string& message)
{
    callWithContext<Done>(cap_, [&message](msg::Tester::Client& c, auto fill) {
        auto req = c.failRequest();
        fill(req.initContext());
        req.setMessage(asText(message));
        return req.send().then([](auto&&) { return Done{}; });
    });
}

int32_t TesterProxy::addNoContext(int32_t a, int32_t b)
{
    // No Context field: the server runs it on its event-loop thread; nothing to fill.
    return callWithContext<int32_t>(cap_, [a, b](msg::Tester::Client& c, auto) {
        auto req = c.addNoContextRequest();
        req.setA(a);
        req.setB(b);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

std::string TesterProxy::sleepMs(uint32_t ms)
{
    return callWithContext<std::string>(cap_, [ms](msg::Tester::Client& c, auto fill) {
        auto req = c.sleepMsRequest();
        fill(req.initContext());
        req.setMs(ms);
        return req.send().then([](auto&& r) { return toString(r.getResult()); });
    });
}

std::string TesterProxy::threadName()
{
    return callWithContext<std::string>(cap_, [](msg::Tester::Client& c, auto fill) {
        auto req = c.threadNameRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return toString(r.getResult()); });
    });
}

void TesterProxy::appendLog(int32_t value)
{
    callWithContext<Done>(cap_, [value](msg::Tester::Client& c, auto fill) {
        auto req = c.appendLogRequest();
        fill(req.initContext());
        req.setValue(value);
        return req.send().then([](auto&&) { return Done{}; });
    });
}

void TesterProxy::appendLogPipelined(const std::vector<int32_t>& values)
{
    callWithContext<Done>(cap_, [&values](msg::Tester::Client& c, auto fill) {
        // All requests leave in one loop turn, in order, each naming the same server thread.
        auto replies = kj::heapArrayBuilder<kj::Promise<void>>(values.size());
        for (int32_t v : values) {
            auto req = c.appendLogRequest();
            fill(req.initContext());
            req.setValue(v);
            replies.add(req.send().ignoreResult());
        }
        return kj::joinPromises(replies.finish()).then([] { return Done{}; });
    });
}

std::vector<int32_t> TesterProxy::takeLog()
{
    return callWithContext<std::vector<int32_t>>(cap_, [](msg::Tester::Client& c, auto fill) {
        auto req = c.takeLogRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) {
            std::vector<int32_t> out;
            for (auto x : r.getResult()) out.push_back(x);
            return out;
        });
    });
}

int32_t TesterProxy::callCallback(const CapRef<msg::Callback::Client>& cb, int32_t arg)
{
    return callWithContext<int32_t>(cap_, [&cb, arg](msg::Tester::Client& c, auto fill) {
        auto req = c.callCallbackRequest();
        fill(req.initContext());
        req.setCallback(cb->client);
        req.setArg(arg);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

void TesterProxy::saveCallback(const CapRef<msg::Callback::Client>& cb)
{
    callWithContext<Done>(cap_, [&cb](msg::Tester::Client& c, auto fill) {
        auto req = c.saveCallbackRequest();
        fill(req.initContext());
        req.setCallback(cb->client);
        return req.send().then([](auto&&) { return Done{}; });
    });
}

int32_t TesterProxy::callSavedCallback(int32_t arg)
{
    return callWithContext<int32_t>(cap_, [arg](msg::Tester::Client& c, auto fill) {
        auto req = c.callSavedCallbackRequest();
        fill(req.initContext());
        req.setArg(arg);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

int32_t TesterProxy::recurse(const CapRef<msg::Callback::Client>& cb, int32_t depth)
{
    return callWithContext<int32_t>(cap_, [&cb, depth](msg::Tester::Client& c, auto fill) {
        auto req = c.recurseRequest();
        fill(req.initContext());
        req.setCallback(cb->client);
        req.setDepth(depth);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

namespace {

// What a libmultiprocess client sends for a `Counter&` argument: not the capability it
// holds, but a fresh server object of its own wrapping that reference (the sender hosts a
// new server per value). The peer's calls on it come back here, on the thread waiting for the
// call that passed it, and are forwarded. Passing the peer's own capability back instead
// breaks against a libmultiprocess server: it calls it through a ProxyClient whose
// context.thread is our callbackThread, and its own server then rejects that thread as
// `invalid thread handle`.
class CounterForwarder final : public msg::Counter::Server {
public:
    CounterForwarder(std::weak_ptr<Connection> conn, CapRef<msg::Counter::Client> target)
        : conn_(kj::mv(conn)), target_(kj::mv(target))
    {
    }

    kj::Promise<void> increment(IncrementContext call) override
    {
        auto target = target_;
        return forward(call.getParams().getContext(), [target] { return CounterProxy(target).increment(); })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

    kj::Promise<void> get(GetContext call) override
    {
        auto target = target_;
        return forward(call.getParams().getContext(), [target] { return CounterProxy(target).get(); })
            .then([call](int64_t v) mutable { call.getResults().setResult(v); });
    }

    // Ends the wrapper only (libmultiprocess calls it when its by-reference parameter goes
    // out of scope); the wrapped Counter lives on.
    kj::Promise<void> destroy(DestroyContext) override { return kj::READY_NOW; }

private:
    kj::Promise<int64_t> forward(mp::Context::Reader context, kj::Function<int64_t()> job)
    {
        auto conn = conn_.lock();
        if (!conn || conn->closed()) return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        return conn->dispatch<int64_t>(context, kj::mv(job));
    }

    std::weak_ptr<Connection> conn_;
    CapRef<msg::Counter::Client> target_;
};

}  // namespace

int64_t TesterProxy::readCounter(const CounterProxy& counter)
{
    auto target = counter.cap();
    return callWithContext<int64_t>(cap_, [&target](msg::Tester::Client& c, auto fill) {
        auto req = c.readCounterRequest();
        fill(req.initContext());
        req.setCounter(kj::heap<CounterForwarder>(target->conn, target));
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

int32_t TesterProxy::renamedMethod(int32_t value)
{
    return callWithContext<int32_t>(cap_, [value](msg::Tester::Client& c, auto fill) {
        auto req = c.renamedMethodRequest();
        fill(req.initContext());
        req.setValue(value);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

int64_t TesterProxy::liveCounters()
{
    return callWithContext<int64_t>(cap_, [](msg::Tester::Client& c, auto fill) {
        auto req = c.liveCountersRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

void TesterProxy::destroy()
{
    callWithContext<Done>(cap_, [](msg::Tester::Client& c, auto fill) {
        auto req = c.destroyRequest();
        fill(req.initContext());
        return req.send().then([](auto&&) { return Done{}; });
    });
    cap_.reset();
}

}  // namespace peer
