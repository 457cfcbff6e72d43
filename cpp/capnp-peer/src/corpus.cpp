#include "corpus.h"

#include <corpus/api/base.capnp.h>
#include <corpus/api/corpus.capnp.h>
#include <corpus/types/generic.capnp.h>
#include <corpus/types/shapes.capnp.h>

#include <capnp/capability.h>
#include <capnp/dynamic.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sys/wait.h>

namespace peer {

namespace {

namespace cs = mphub::corpus;

cs::Fixtures::Reader fixtures() { return cs::Corpus::FIXTURES.get(); }

// --------------------------------------------------------------------------------------
// Comparing values through Cap'n Proto's reflection: schema defaults apply, so a null
// pointer equals an empty or default value. Returns where the values differ ("" if equal).

std::string diff(capnp::DynamicValue::Reader a, capnp::DynamicValue::Reader b, const std::string& at)
{
    using T = capnp::DynamicValue::Type;
    if (a.getType() != b.getType()) return at + ": values of different kinds";
    switch (a.getType()) {
    case T::VOID:
    case T::CAPABILITY:
    case T::UNKNOWN:
        return "";
    case T::BOOL:
        return a.as<bool>() == b.as<bool>() ? "" : at + ": bool differs";
    case T::INT:
        return a.as<int64_t>() == b.as<int64_t>() ? ""
               : at + ": " + std::to_string(a.as<int64_t>()) + " vs " + std::to_string(b.as<int64_t>());
    case T::UINT:
        return a.as<uint64_t>() == b.as<uint64_t>() ? ""
               : at + ": " + std::to_string(a.as<uint64_t>()) + " vs " + std::to_string(b.as<uint64_t>());
    case T::FLOAT: {
        double x = a.as<double>(), y = b.as<double>();
        return memcmp(&x, &y, sizeof x) == 0 ? "" : at + ": " + std::to_string(x) + " vs " + std::to_string(y);
    }
    case T::TEXT:
        return toString(a.as<capnp::Text>()) == toString(b.as<capnp::Text>())
                   ? ""
                   : at + ": \"" + toString(a.as<capnp::Text>()) + "\" vs \"" + toString(b.as<capnp::Text>()) + "\"";
    case T::DATA:
        return toString(a.as<capnp::Data>()) == toString(b.as<capnp::Data>()) ? "" : at + ": Data differs";
    case T::ENUM:
        return a.as<capnp::DynamicEnum>().getRaw() == b.as<capnp::DynamicEnum>().getRaw() ? "" : at + ": enum differs";
    case T::ANY_POINTER:
        return a.as<capnp::AnyPointer>().isNull() == b.as<capnp::AnyPointer>().isNull() ? "" : at + ": AnyPointer";
    case T::LIST: {
        auto la = a.as<capnp::DynamicList>(), lb = b.as<capnp::DynamicList>();
        if (la.size() != lb.size()) {
            return at + ": length " + std::to_string(la.size()) + " vs " + std::to_string(lb.size());
        }
        for (uint32_t i = 0; i < la.size(); ++i) {
            auto d = diff(la[i], lb[i], at + "[" + std::to_string(i) + "]");
            if (!d.empty()) return d;
        }
        return "";
    }
    case T::STRUCT: {
        auto sa = a.as<capnp::DynamicStruct>(), sb = b.as<capnp::DynamicStruct>();
        auto compare = [&](capnp::StructSchema::Field f) -> std::string {
            // Two unset pointers are equal (and reading them would descend forever into
            // the defaults of a recursive struct).
            if (!sa.has(f) && !sb.has(f)) return "";
            return diff(sa.get(f), sb.get(f), at + "." + std::string(f.getProto().getName().cStr()));
        };
        for (auto f : sa.getSchema().getNonUnionFields()) {
            auto d = compare(f);
            if (!d.empty()) return d;
        }
        KJ_IF_MAYBE(fa, sa.which()) {
            KJ_IF_MAYBE(fb, sb.which()) {
                if (fa->getIndex() != fb->getIndex()) return at + ": different union members";
                return compare(*fa);
            }
            return at + ": union set on one side only";
        }
        return "";
    }
    }
    return "";
}

template <typename R>
std::string diffValues(R a, R b, const std::string& at)
{
    return diff(capnp::toDynamic(a), capnp::toDynamic(b), at);
}

// --------------------------------------------------------------------------------------
// Server

std::shared_ptr<Connection> lockConn(const std::weak_ptr<Connection>& weak)
{
    auto conn = weak.lock();
    if (!conn || conn->closed()) kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "connection closed"));
    return conn;
}

// Waits for the call's turn on the thread its Context names (the work itself is done on the
// loop thread afterwards: it only touches Cap'n Proto messages).
kj::Promise<void> onThread(const std::weak_ptr<Connection>& conn, mp::Context::Reader context)
{
    return kj::evalNow([&] {
               return lockConn(conn)->dispatch<Done>(context, kj::Function<Done()>([] { return Done{}; }));
           })
        .ignoreResult();
}

// A counter (also a Derived and a Named): what makeCounter and makeDerived return, and what
// the client scenarios host themselves.
class CounterImpl final : public cs::Derived::Server {
public:
    CounterImpl(std::weak_ptr<Connection> conn, std::string name, int64_t start)
        : conn_(kj::mv(conn)), name_(kj::mv(name)), value_(start)
    {
    }

    kj::Promise<void> name(NameContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([this, call]() mutable {
            call.getResults().setResult(asText(name_));
        });
    }
    kj::Promise<void> increment(IncrementContext call) override
    {
        int64_t by = call.getParams().getBy();
        return onThread(conn_, call.getParams().getContext()).then([this, call, by]() mutable {
            call.getResults().setResult(value_ += by);
        });
    }
    kj::Promise<void> reset(ResetContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([this, call]() mutable {
            call.getResults().setResult(value_.exchange(0));
        });
    }
    kj::Promise<void> destroy(DestroyContext call) override { return onThread(conn_, call.getParams().getContext()); }

    int64_t value() const { return value_; }

private:
    std::weak_ptr<Connection> conn_;
    std::string name_;
    std::atomic<int64_t> value_;
};

// A Mapper (a libmultiprocess callback, std::function<int32_t(int32_t)> in C++): adds
// `add`, or doubles, wrapping on overflow as the Rust reference does. It answers on the
// loop thread whatever the Context names, as a plain Cap'n Proto object may.
class MapperImpl final : public cs::Mapper::Server {
public:
    explicit MapperImpl(std::optional<int32_t> add) : add_(add) {}
    kj::Promise<void> call(CallContext ctx) override
    {
        auto v = static_cast<uint32_t>(ctx.getParams().getValue());
        auto r = add_ ? v + static_cast<uint32_t>(*add_) : v * 2u;
        ctx.getResults().setResult(static_cast<int32_t>(r));
        return kj::READY_NOW;
    }
    kj::Promise<void> destroy(DestroyContext) override { return kj::READY_NOW; }

private:
    std::optional<int32_t> add_;
};

bool isNullCap(capnp::Capability::Client client) { return capnp::ClientHook::from(kj::mv(client))->isNull(); }

void fillFind(cs::FindResult::Builder out, capnp::Data::Reader key, cs::FindParam::Reader want)
{
    out.setFound(key.size() > 0);
    if (want.getWantHash()) out.setHash(key);
    if (want.getWantHeight()) out.setHeight(static_cast<int32_t>(key.size()));
    if (want.hasNext()) fillFind(out.initNext(), key, want.getNext());
}

// The three methods of one value construct: echo, get fixture #index, check against it.
#define VALUE_CONSTRUCT(Name)                                                                             \
    kj::Promise<void> echo##Name(Echo##Name##Context call) override                                       \
    {                                                                                                     \
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {                     \
            call.getResults().setResult(call.getParams().getValue());                                     \
        });                                                                                               \
    }                                                                                                     \
    kj::Promise<void> get##Name(Get##Name##Context call) override                                         \
    {                                                                                                     \
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {                     \
            auto list = fixtures().get##Name();                                                           \
            uint32_t i = call.getParams().getIndex();                                                     \
            if (i >= list.size()) throw std::runtime_error("no " #Name " fixture #" + std::to_string(i)); \
            call.getResults().setResult(list[i]);                                                         \
        });                                                                                               \
    }                                                                                                     \
    kj::Promise<void> check##Name(Check##Name##Context call) override                                     \
    {                                                                                                     \
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {                     \
            auto list = fixtures().get##Name();                                                           \
            uint32_t i = call.getParams().getIndex();                                                     \
            std::string d = i < list.size() ? diffValues(call.getParams().getValue(), list[i], #Name)     \
                                            : "no fixture #" + std::to_string(i);                         \
            call.getResults().setOk(d.empty());                                                           \
            call.getResults().setDetail(asText(d));                                                       \
        });                                                                                               \
    }

class CorpusImpl final : public cs::Corpus::Server {
public:
    explicit CorpusImpl(std::weak_ptr<Connection> conn) : conn_(kj::mv(conn)) {}

    kj::Promise<void> construct(ConstructContext call) override
    {
        auto conn = lockConn(conn_);
        auto p = call.getParams();
        if (p.hasThreadMap()) conn->setPeerThreadMap(p.getThreadMap());
        call.getResults().setThreadMap(conn->hostThreadMap());
        return kj::READY_NOW;
    }

    VALUE_CONSTRUCT(Scalars)
    VALUE_CONSTRUCT(Shapes)
    VALUE_CONSTRUCT(Choice)
    VALUE_CONSTRUCT(Generics)
    VALUE_CONSTRUCT(Keywords)
    VALUE_CONSTRUCT(Annotated)

    kj::Promise<void> makeCounter(MakeCounterContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([this, call]() mutable {
            auto p = call.getParams();
            call.getResults().setResult(kj::heap<CounterImpl>(conn_, toString(p.getName()), p.getStart()));
        });
    }
    kj::Promise<void> makeDerived(MakeDerivedContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([this, call]() mutable {
            call.getResults().setResult(kj::heap<CounterImpl>(conn_, toString(call.getParams().getName()), 0));
        });
    }
    kj::Promise<void> makeCounters(MakeCountersContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([this, call]() mutable {
            uint32_t n = call.getParams().getCount();
            if (n > 1024) throw std::runtime_error("makeCounters: more than 1024");
            auto list = call.getResults().initResult(n);
            for (uint32_t i = 0; i < n; ++i) {
                list.set(i, kj::heap<CounterImpl>(conn_, "c" + std::to_string(i), i));
            }
        });
    }
    // sumCounters and readName call the caller's objects back on its waiting thread. An
    // object of this server's own, passed back to it, would need a forwarder (what
    // libmultiprocess and mphub send in that case); this server does not make one.
    kj::Promise<void> sumCounters(SumCountersContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            // Calls back into the caller's counters on its waiting thread (callbackThread).
            auto p = call.getParams();
            auto thread = p.getContext().getCallbackThread();
            kj::Promise<int64_t> sum = int64_t(0);
            for (auto counter : p.getCounters()) {
                sum = sum.then([counter, thread](int64_t acc) mutable {
                    auto req = counter.incrementRequest();
                    req.initContext().setThread(thread);
                    req.setBy(0);
                    return req.send().then([acc](auto&& r) { return acc + r.getResult(); });
                });
            }
            return sum.then([call](int64_t total) mutable { call.getResults().setResult(total); });
        });
    }
    kj::Promise<void> echoHolder(EchoHolderContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            if (call.getParams().hasValue()) call.getResults().setResult(call.getParams().getValue());
        });
    }
    kj::Promise<void> readName(ReadNameContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto p = call.getParams();
            auto req = p.getNamed().nameRequest();
            req.initContext().setThread(p.getContext().getCallbackThread());
            return req.send().then([call](auto&& r) mutable { call.getResults().setResult(r.getResult()); });
        });
    }
    kj::Promise<void> raise(RaiseContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto r = call.getResults();
            switch (call.getParams().getWhich()) {
            case 0:
                r.setResult(42);
                return;
            case 1: {
                auto f = r.initFailure();
                f.setCode(1);
                f.setMessage("first");
                return;
            }
            case 2:
                r.setMessage("second");
                return;
            case 3:
                r.setNote("third");
                return;
            default:
                throw std::runtime_error("raise: no such exception");
            }
        });
    }
    kj::Promise<void> find(FindContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto p = call.getParams();
            auto block = call.getResults().initBlock();
            fillFind(block, p.getKey(), p.getBlock());
            call.getResults().setResult(block.getFound());
        });
    }
    kj::Promise<void> start(StartContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            call.getResults().setResult(call.getParams().getArgv().size());
        });
    }
    kj::Promise<void> tick(TickContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            call.getResults().setResult(call.getParams().getStep() + 1);
        });
    }
    kj::Promise<void> addNoContext(AddNoContextContext call) override
    {
        call.getResults().setResult(call.getParams().getA() + call.getParams().getB());
        return kj::READY_NOW;
    }
    kj::Promise<void> subscribe(SubscribeContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto listener = call.getParams().getListener();
            kj::Promise<void> done = kj::READY_NOW;
            for (int32_t i = 0; i < call.getParams().getCount(); ++i) {
                done = done.then([listener, i]() mutable {
                    auto req = listener.notifyRequest();
                    req.setValue(i);
                    return req.send().ignoreResult();
                });
            }
            return done;
        });
    }

#define CONSTANT(method, Ctx, value)                                                          \
    kj::Promise<void> method(Ctx call) override                                               \
    {                                                                                         \
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {         \
            call.getResults().setResult(value);                                               \
        });                                                                                   \
    }
    CONSTANT(late, LateContext, 32)
    CONSTANT(early, EarlyContext, 31)
    CONSTANT(local, LocalContext, 34)
    CONSTANT(intoCap, IntoCapContext, 35)
    CONSTANT(count, CountContext, 36)
    CONSTANT(countBlocking, CountBlockingContext, 37)
#undef CONSTANT

    kj::Promise<void> type(TypeContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            call.getResults().setResult(call.getParams().getSelf() * call.getParams().getMatch());
        });
    }
    kj::Promise<void> maybe(MaybeContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            if (!call.getParams().getWant()) return;
            auto pt = call.getResults().initResult();
            pt.setX(1);
            pt.setY(2);
            call.getResults().setHasResult(true);
        });
    }
    kj::Promise<void> divide(DivideContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto p = call.getParams();
            if (p.getB() == 0) throw std::runtime_error("division by zero");
            call.getResults().setResult(p.getA() / p.getB());
            if (p.getWantRemainder()) call.getResults().setRemainder(p.getA() % p.getB());
        });
    }
    // Calls the job's mappers in turn (null ones skipped), back on the caller's waiting
    // thread (callbackThread); a mapper of this server's own, passed back, runs locally.
    kj::Promise<void> runJob(RunJobContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            auto p = call.getParams();
            auto thread = p.getContext().getCallbackThread();
            auto job = p.getJob();
            kj::Vector<cs::Mapper::Client> mappers;
            if (job.hasMapper()) mappers.add(job.getMapper());
            for (auto m : job.getThen()) {
                if (!isNullCap(m)) mappers.add(kj::mv(m));
            }
            kj::Promise<int32_t> value = p.getValue();
            for (auto& m : mappers) {
                value = value.then([m = kj::mv(m), thread](int32_t v) mutable {
                    auto req = m.callRequest();
                    req.initContext().setThread(thread);
                    req.setValue(v);
                    return req.send().then([](auto&& r) { return r.getResult(); });
                });
            }
            return value.then([call](int32_t v) mutable { call.getResults().setResult(v); });
        });
    }
    kj::Promise<void> makeJob(MakeJobContext call) override
    {
        return onThread(conn_, call.getParams().getContext()).then([call]() mutable {
            int32_t offset = call.getParams().getOffset();
            auto job = call.getResults().initResult();
            job.setLabel(asText("add " + std::to_string(offset) + " then double"));
            job.setMapper(kj::heap<MapperImpl>(offset));
            job.initThen(1).set(0, kj::heap<MapperImpl>(std::nullopt));
            auto tagged = job.initTagged();
            tagged.setTag("tag");
            tagged.setMapper(kj::heap<MapperImpl>(100));
        });
    }

private:
    std::weak_ptr<Connection> conn_;
};

#undef VALUE_CONSTRUCT

// --------------------------------------------------------------------------------------
// Client

struct CorpusSession {
    CapRef<cs::Corpus::Client> corpus;
    std::weak_ptr<Connection> conn;
    pid_t child = -1;
};

void expect(bool ok, const std::string& what)
{
    if (!ok) throw ScenarioFailure(what);
}

// A call on `target` with a libmultiprocess Context; `f(client, fill)` sends it on the loop.
template <typename T, typename Client, typename F>
T call(const CapRef<Client>& target, F&& f)
{
    return callWithContext<T>(target, kj::fwd<F>(f));
}

#define VALUE_SCENARIO(Name)                                                                              \
    void values##Name(CorpusSession& s)                                                                   \
    {                                                                                                     \
        auto list = fixtures().get##Name();                                                               \
        for (uint32_t i = 0; i < list.size(); ++i) {                                                      \
            std::string at = #Name " #" + std::to_string(i);                                              \
            auto d = call<std::string>(s.corpus, [i, at](cs::Corpus::Client& c, auto fill) {              \
                auto req = c.get##Name##Request();                                                        \
                fill(req.initContext());                                                                  \
                req.setIndex(i);                                                                          \
                return req.send().then([i, at](auto&& r) {                                                \
                    return diffValues(r.getResult(), fixtures().get##Name()[i], at + " get");             \
                });                                                                                       \
            });                                                                                           \
            expect(d.empty(), d);                                                                         \
            d = call<std::string>(s.corpus, [i](cs::Corpus::Client& c, auto fill) {                       \
                auto req = c.check##Name##Request();                                                      \
                fill(req.initContext());                                                                  \
                req.setIndex(i);                                                                          \
                req.setValue(fixtures().get##Name()[i]);                                                  \
                return req.send().then([](auto&& r) {                                                     \
                    return r.getOk() ? std::string() : "check refused: " + toString(r.getDetail());       \
                });                                                                                       \
            });                                                                                           \
            expect(d.empty(), at + ": " + d);                                                             \
            d = call<std::string>(s.corpus, [i, at](cs::Corpus::Client& c, auto fill) {                   \
                auto req = c.echo##Name##Request();                                                       \
                fill(req.initContext());                                                                  \
                req.setValue(fixtures().get##Name()[i]);                                                  \
                return req.send().then([i, at](auto&& r) {                                               \
                    return diffValues(r.getResult(), fixtures().get##Name()[i], at + " echo");            \
                });                                                                                       \
            });                                                                                           \
            expect(d.empty(), d);                                                                         \
        }                                                                                                 \
        bool failed = false;                                                                              \
        try {                                                                                             \
            call<Done>(s.corpus, [n = list.size()](cs::Corpus::Client& c, auto fill) {                    \
                auto req = c.get##Name##Request();                                                        \
                fill(req.initContext());                                                                  \
                req.setIndex(n);                                                                          \
                return req.send().then([](auto&&) { return Done{}; });                                    \
            });                                                                                           \
        } catch (const kj::Exception&) {                                                                  \
            failed = true;                                                                                \
        }                                                                                                 \
        expect(failed, #Name ": get past the last fixture must fail");                                    \
    }

VALUE_SCENARIO(Scalars)
VALUE_SCENARIO(Shapes)
VALUE_SCENARIO(Choice)
VALUE_SCENARIO(Generics)
VALUE_SCENARIO(Keywords)
VALUE_SCENARIO(Annotated)
#undef VALUE_SCENARIO

void large(CorpusSession& s)
{
    auto d = call<std::string>(s.corpus, [](cs::Corpus::Client& c, auto fill) {
        auto req = c.echoScalarsRequest();
        fill(req.initContext());
        auto v = req.initValue();
        auto data = v.initData(1024 * 1024);
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 251);
        auto ints = v.initInts(100000);
        for (uint32_t i = 0; i < ints.size(); ++i) ints.set(i, static_cast<int32_t>(i));
        auto sent = v.asReader();
        auto copy = kj::heap<capnp::MallocMessageBuilder>();
        copy->setRoot(sent);
        return req.send().then([copy = kj::mv(copy)](auto&& r) mutable {
            return diffValues(r.getResult(), copy->getRoot<mphub::corpus::shapes::Scalars>().asReader(), "large echo");
        });
    });
    expect(d.empty(), d);
}

int64_t increment(const CapRef<cs::Counter::Client>& c, int64_t by)
{
    return call<int64_t>(c, [by](cs::Counter::Client& client, auto fill) {
        auto req = client.incrementRequest();
        fill(req.initContext());
        req.setBy(by);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
}

std::string nameOf(const CapRef<cs::Counter::Client>& c)
{
    return call<std::string>(c, [](cs::Counter::Client& client, auto fill) {
        auto req = client.nameRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return toString(r.getResult()); });
    });
}

void interfaces(CorpusSession& s)
{
    auto weak = s.conn;
    auto counter = call<CapRef<cs::Counter::Client>>(s.corpus, [weak](cs::Corpus::Client& c, auto fill) {
        auto req = c.makeCounterRequest();
        fill(req.initContext());
        req.setName("a");
        req.setStart(5);
        return req.send().then([weak](auto&& r) { return makeCapRef(r.getResult(), weak); });
    });
    expect(increment(counter, 2) == 7, "increment(2) != 7");
    expect(increment(counter, -10) == -3, "increment(-10) != -3");
    expect(nameOf(counter) == "a", "name (inherited from Named) != a");
}

void extends(CorpusSession& s)
{
    auto weak = s.conn;
    auto derived = call<CapRef<cs::Derived::Client>>(s.corpus, [weak](cs::Corpus::Client& c, auto fill) {
        auto req = c.makeDerivedRequest();
        fill(req.initContext());
        req.setName("d");
        return req.send().then([weak](auto&& r) { return makeCapRef(r.getResult(), weak); });
    });
    auto asCounter = Loop::get().sync([&] { return makeCapRef(cs::Counter::Client(derived->client), weak); });
    expect(increment(asCounter, 3) == 3, "increment (inherited from Counter) != 3");
    expect(nameOf(asCounter) == "d", "name (inherited two levels up) != d");
    auto old = call<int64_t>(derived, [](cs::Derived::Client& c, auto fill) {
        auto req = c.resetRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
    expect(old == 3, "reset != 3");
    auto readName = [&](std::function<cs::base::Named::Client()> named) {
        return call<std::string>(s.corpus, [named](cs::Corpus::Client& c, auto fill) {
            auto req = c.readNameRequest();
            fill(req.initContext());
            req.setNamed(named());
            return req.send().then([](auto&& r) { return toString(r.getResult()); });
        });
    };
    expect(readName([derived] { return cs::base::Named::Client(derived->client); }) == "d",
           "readName(remote Derived) != d");
    // A Derived we host, passed where a Named is expected: the server calls us back.
    expect(readName([weak] { return cs::base::Named::Client(kj::heap<CounterImpl>(weak, "local", 0)); }) == "local",
           "readName(local Derived) != local");
}

void interfaceLists(CorpusSession& s)
{
    auto weak = s.conn;
    auto counters = call<std::vector<CapRef<cs::Counter::Client>>>(s.corpus, [weak](cs::Corpus::Client& c, auto fill) {
        auto req = c.makeCountersRequest();
        fill(req.initContext());
        req.setCount(3);
        return req.send().then([weak](auto&& r) {
            std::vector<CapRef<cs::Counter::Client>> out;
            for (auto cap : r.getResult()) out.push_back(makeCapRef(kj::mv(cap), weak));
            return out;
        });
    });
    expect(counters.size() == 3, "makeCounters(3) length");
    for (size_t i = 0; i < counters.size(); ++i) {
        expect(increment(counters[i], 0) == static_cast<int64_t>(i), "counter value");
        expect(nameOf(counters[i]) == "c" + std::to_string(i), "counter name");
    }
    auto sum = [&](std::function<void(capnp::List<cs::Counter>::Builder)> fillList, uint32_t n) {
        return call<int64_t>(s.corpus, [fillList, n](cs::Corpus::Client& c, auto fill) {
            auto req = c.sumCountersRequest();
            fill(req.initContext());
            fillList(req.initCounters(n));
            return req.send().then([](auto&& r) { return r.getResult(); });
        });
    };
    expect(sum([weak](capnp::List<cs::Counter>::Builder l) {
               for (uint32_t i = 0; i < 3; ++i) l.set(i, kj::heap<CounterImpl>(weak, "l", i + 1));
           }, 3) == 6,
           "sumCounters(our 1, 2, 3) != 6");
    expect(sum([&counters](capnp::List<cs::Counter>::Builder l) {
               for (uint32_t i = 0; i < 3; ++i) l.set(i, counters[i]->client);
           }, 3) == 3,
           "sumCounters(its own 0, 1, 2) != 3");
}

void interfaceStructs(CorpusSession& s)
{
    // Capabilities of ours in a struct, a list and generics come back either as ours, or
    // (from a peer that forwards a proxy passed back to its host, as libmultiprocess and
    // mphub do) as a forwarder whose calls reach our object.
    auto set = std::make_shared<capnp::CapabilityServerSet<cs::Counter>>();
    CounterImpl* held = nullptr;
    auto weak = s.conn;
    struct Back {
        std::string label;
        uint32_t counters = 0;
        std::vector<CapRef<cs::Counter::Client>> caps;
    };
    auto back = call<Back>(s.corpus, [weak, set, &held](cs::Corpus::Client& c, auto fill) {
        auto req = c.echoHolderRequest();
        fill(req.initContext());
        auto h = req.initValue();
        h.setLabel("holder");
        auto impl = kj::heap<CounterImpl>(weak, "held", 10);
        held = impl.get();
        auto mine = set->add(kj::mv(impl));
        h.setCounter(mine);
        h.initCounters(1).set(0, mine);
        auto boxed = h.initBoxed();
        boxed.setKey("boxed");
        boxed.setValue(mine);
        h.initResult().setValue(mine);
        return req.send().then([weak](auto&& r) {
            auto v = r.getResult();
            Back b;
            b.label = toString(v.getLabel());
            b.counters = v.getCounters().size();
            b.caps.push_back(makeCapRef(v.getCounter(), weak));
            if (b.counters > 0) b.caps.push_back(makeCapRef(v.getCounters()[0], weak));
            b.caps.push_back(makeCapRef(v.getBoxed().getValue(), weak));
            b.caps.push_back(makeCapRef(v.getResult().getValue(), weak));
            return b;
        });
    });
    expect(back.label == "holder", "label changed");
    expect(back.counters == 1, "counters length changed");
    int64_t expected = 10;
    for (auto& cap : back.caps) {
        bool ours = Loop::get().sync([&] {
            return set->getLocalServer(cap->client).then([](auto found) { return found != nullptr; });
        });
        if (ours) continue;
        int64_t got = increment(cap, 1);
        expected += 1;
        expect(got == expected && held->value() == expected, "a capability of ours came back, but does not reach our object");
    }
}

void exceptions(CorpusSession& s)
{
    auto raise = [&](uint8_t which) {
        return call<std::string>(s.corpus, [which](cs::Corpus::Client& c, auto fill) {
            auto req = c.raiseRequest();
            fill(req.initContext());
            req.setWhich(which);
            return req.send().then([](auto&& r) -> std::string {
                if (r.hasFailure()) {
                    return "failure " + std::to_string(r.getFailure().getCode()) + " " + toString(r.getFailure().getMessage());
                }
                if (r.hasMessage()) return "message " + toString(r.getMessage());
                if (r.hasNote()) return "note " + toString(r.getNote());
                return "result " + std::to_string(r.getResult());
            });
        });
    };
    expect(raise(0) == "result 42", "raise(0): " + raise(0));
    expect(raise(1) == "failure 1 first", "raise(1): " + raise(1));
    expect(raise(2) == "message second", "raise(2): " + raise(2));
    expect(raise(3) == "note third", "raise(3): " + raise(3));
    bool failed = false;
    try {
        raise(9);
    } catch (const kj::Exception&) {
        failed = true;
    }
    expect(failed, "raise(9) must fail");
}

void inOut(CorpusSession& s)
{
    auto got = call<std::string>(s.corpus, [](cs::Corpus::Client& c, auto fill) {
        auto req = c.findRequest();
        fill(req.initContext());
        req.setKey(capnp::Data::Reader(reinterpret_cast<const uint8_t*>("key"), 3));
        auto want = req.initBlock();
        want.setWantHash(true);
        want.initNext().setWantHeight(true);
        return req.send().then([](auto&& r) -> std::string {
            auto b = r.getBlock();
            if (!r.getResult() || !b.getFound()) return "not found";
            if (toString(b.getHash()) != "key" || b.getHeight() != 0) return "first link wrong";
            if (!b.hasNext() || b.getNext().getHeight() != 3 || b.getNext().getHash().size() != 0) return "next link wrong";
            return "";
        });
    });
    expect(got.empty(), "find(key): " + got);
    auto notFound = call<bool>(s.corpus, [](cs::Corpus::Client& c, auto fill) {
        auto req = c.findRequest();
        fill(req.initContext());
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
    expect(!notFound, "find(empty) must not be found");
}

template <typename Req>
int64_t simple(CorpusSession& s, Req (cs::Corpus::Client::*make)(kj::Maybe<capnp::MessageSize>),
               std::function<void(Req&)> setup = nullptr)
{
    return call<int64_t>(s.corpus, [make, setup](cs::Corpus::Client& c, auto fill) {
        auto req = (c.*make)(nullptr);
        fill(req.initContext());
        if (setup) setup(req);
        return req.send().then([](auto&& r) { return static_cast<int64_t>(r.getResult()); });
    });
}

class ListenerImpl final : public cs::Listener::Server {
public:
    explicit ListenerImpl(std::shared_ptr<std::vector<int32_t>> seen) : seen_(kj::mv(seen)) {}
    kj::Promise<void> notify(NotifyContext call) override
    {
        seen_->push_back(call.getParams().getValue());  // no context: the loop thread
        return kj::READY_NOW;
    }

private:
    std::shared_ptr<std::vector<int32_t>> seen_;
};

void noContext(CorpusSession& s)
{
    auto sum = callWithContext<int32_t>(s.corpus, [](cs::Corpus::Client& c, auto) {
        auto req = c.addNoContextRequest();  // no context to fill
        req.setA(2);
        req.setB(3);
        return req.send().then([](auto&& r) { return r.getResult(); });
    });
    expect(sum == 5, "addNoContext(2, 3) != 5");
    auto seen = std::make_shared<std::vector<int32_t>>();
    call<Done>(s.corpus, [seen](cs::Corpus::Client& c, auto fill) {
        auto req = c.subscribeRequest();
        fill(req.initContext());
        req.setListener(kj::heap<ListenerImpl>(seen));
        req.setCount(5);
        return req.send().then([](auto&&) { return Done{}; });
    });
    auto got = Loop::get().sync([&] { return *seen; });
    expect(got == std::vector<int32_t>({0, 1, 2, 3, 4}), "the listener did not see 0..4 in order");
}

// Callbacks inside a struct and a list, both ways (Core PR #29409's RPCCommand.actor).
void callbackStructs(CorpusSession& s)
{
    auto run = [&](std::function<void(cs::Job::Builder)> build, int32_t value) {
        return call<int32_t>(s.corpus, [build, value](cs::Corpus::Client& c, auto fill) {
            auto req = c.runJobRequest();
            fill(req.initContext());
            build(req.initJob());
            req.setValue(value);
            return req.send().then([](auto&& r) { return r.getResult(); });
        });
    };
    expect(run([](cs::Job::Builder j) {
               j.setLabel("job");
               j.setMapper(kj::heap<MapperImpl>(1));
               auto then = j.initThen(3);  // then[1] stays null
               then.set(0, kj::heap<MapperImpl>(std::nullopt));
               then.set(2, kj::heap<MapperImpl>(-3));
           }, 5) == 9,
           "runJob(add 1, then double, null, add -3; 5) != 9");
    expect(run([](cs::Job::Builder j) { j.setLabel("empty"); }, 7) == 7, "runJob(null mapper, no then; 7) != 7");

    struct Made {
        std::string label;
        uint32_t then = 0;
        CapRef<cs::Mapper::Client> mapper;
        CapRef<cs::Mapper::Client> first;
        std::string tag;
        CapRef<cs::Mapper::Client> tagged;
    };
    auto weak = s.conn;
    auto made = call<Made>(s.corpus, [weak](cs::Corpus::Client& c, auto fill) {
        auto req = c.makeJobRequest();
        fill(req.initContext());
        req.setOffset(10);
        return req.send().then([weak](auto&& r) {
            auto job = r.getResult();
            Made m;
            m.label = toString(job.getLabel());
            m.then = job.getThen().size();
            m.mapper = makeCapRef(job.getMapper(), weak);
            if (m.then > 0) m.first = makeCapRef(job.getThen()[0], weak);
            m.tag = toString(job.getTagged().getTag());
            m.tagged = makeCapRef(job.getTagged().getMapper(), weak);
            return m;
        });
    });
    expect(made.label == "add 10 then double", "makeJob label: " + made.label);
    expect(made.then == 1 && made.first, "makeJob then.size() != 1");
    auto apply = [](const CapRef<cs::Mapper::Client>& m, int32_t v) {
        return call<int32_t>(m, [v](cs::Mapper::Client& client, auto fill) {
            auto req = client.callRequest();
            fill(req.initContext());
            req.setValue(v);
            return req.send().then([](auto&& r) { return r.getResult(); });
        });
    };
    expect(apply(made.mapper, 1) == 11, "makeJob mapper.call(1) != 11");
    expect(apply(made.first, 11) == 22, "makeJob then[0].call(11) != 22");
    expect(made.tag == "tag" && apply(made.tagged, 1) == 101, "makeJob tagged: tag and a mapper adding 100");
    // The server's own mappers, handed back inside a Job.
    expect(run([&](cs::Job::Builder j) {
               j.setLabel("back");
               j.setMapper(made.mapper->client);
               j.initThen(1).set(0, made.first->client);
           }, 1) == 22,
           "runJob(makeJob(10); 1) != 22");
}

void optional(CorpusSession& s)
{
    auto maybe = [&](bool want) {
        return call<std::string>(s.corpus, [want](cs::Corpus::Client& c, auto fill) {
            auto req = c.maybeRequest();
            fill(req.initContext());
            req.setWant(want);
            return req.send().then([](auto&& r) {
                if (!r.getHasResult()) return std::string("none");
                return std::to_string(r.getResult().getX()) + "," + std::to_string(r.getResult().getY());
            });
        });
    };
    expect(maybe(true) == "1,2", "maybe(true)");
    expect(maybe(false) == "none", "maybe(false)");
    auto divide = [&](int32_t a, int32_t b, bool want) {
        return call<std::string>(s.corpus, [a, b, want](cs::Corpus::Client& c, auto fill) {
            auto req = c.divideRequest();
            fill(req.initContext());
            req.setA(a);
            req.setB(b);
            req.setWantRemainder(want);
            return req.send().then([](auto&& r) {
                return std::to_string(r.getResult()) + "r" + std::to_string(r.getRemainder());
            });
        });
    };
    expect(divide(7, 2, true) == "3r1", "divide(7, 2, want)");
    expect(divide(7, 2, false) == "3r0", "divide(7, 2, no want)");
    bool failed = false;
    try {
        divide(1, 0, false);
    } catch (const kj::Exception&) {
        failed = true;
    }
    expect(failed, "divide by zero must fail");
}

using C = cs::Corpus::Client;

const std::vector<std::pair<std::string, std::function<void(CorpusSession&)>>>& scenarios()
{
    static const std::vector<std::pair<std::string, std::function<void(CorpusSession&)>>> all = {
        {"scalars", valuesScalars},
        {"shapes", valuesShapes},
        {"choice", valuesChoice},
        {"generics", valuesGenerics},
        {"keywords", valuesKeywords},
        {"annotated", valuesAnnotated},
        {"large", large},
        {"interfaces", interfaces},
        {"extends", extends},
        {"interface-lists", interfaceLists},
        {"interface-structs", interfaceStructs},
        {"callback-structs", callbackStructs},
        {"exceptions", exceptions},
        {"in-out", inOut},
        {"count-param",
         [](CorpusSession& s) {
             auto n = simple<capnp::Request<cs::Corpus::StartParams, cs::Corpus::StartResults>>(
                 s, &C::startRequest, [](auto& req) {
                     auto argv = req.initArgv(3);
                     argv.set(0, "mphub");
                     argv.set(1, "-x");
                     argv.set(2, "");
                 });
             expect(n == 3, "start(argv of 3) != 3");
         }},
        {"void-param",
         [](CorpusSession& s) {
             auto n = simple<capnp::Request<cs::Corpus::TickParams, cs::Corpus::TickResults>>(s, &C::tickRequest,
                                                                           [](auto& req) { req.setStep(5); });
             expect(n == 6, "tick(5) != 6");
         }},
        {"no-context", noContext},
        {"ordinals",
         [](CorpusSession& s) {
             expect(simple<capnp::Request<cs::Corpus::LateParams, cs::Corpus::LateResults>>(s, &C::lateRequest) == 32, "late != 32");
             expect(simple<capnp::Request<cs::Corpus::EarlyParams, cs::Corpus::EarlyResults>>(s, &C::earlyRequest) == 31, "early != 31");
         }},
        {"names",
         [](CorpusSession& s) {
             auto t = simple<capnp::Request<cs::Corpus::TypeParams, cs::Corpus::TypeResults>>(s, &C::typeRequest, [](auto& req) {
                 req.setSelf(6);
                 req.setMatch(7);
             });
             expect(t == 42, "type(6, 7) != 42");
             expect(simple<capnp::Request<cs::Corpus::LocalParams, cs::Corpus::LocalResults>>(s, &C::localRequest) == 34, "local");
             expect(simple<capnp::Request<cs::Corpus::IntoCapParams, cs::Corpus::IntoCapResults>>(s, &C::intoCapRequest) == 35, "intoCap");
             expect(simple<capnp::Request<cs::Corpus::CountParams, cs::Corpus::CountResults>>(s, &C::countRequest) == 36, "count");
             expect(simple<capnp::Request<cs::Corpus::CountBlockingParams, cs::Corpus::CountBlockingResults>>(s, &C::countBlockingRequest) == 37,
                    "countBlocking");
         }},
        {"optional", optional},
    };
    return all;
}

}  // namespace

capnp::Capability::Client makeCorpus(std::weak_ptr<Connection> conn)
{
    return cs::Corpus::Client(kj::heap<CorpusImpl>(kj::mv(conn)));
}

std::vector<std::string> corpusScenarioNames()
{
    std::vector<std::string> out;
    for (auto& s : scenarios()) out.push_back(s.first);
    return out;
}

int runCorpusClient(const Endpoint& endpoint, const std::vector<std::string>& names)
{
    std::vector<std::string> run = names.empty() ? corpusScenarioNames() : names;
    for (auto& n : run) {
        bool known = false;
        for (auto& s : scenarios()) known |= s.first == n;
        if (!known) {
            fprintf(stderr, "unknown corpus scenario '%s'\n", n.c_str());
            return 2;
        }
    }
    startClientLoop();
    CorpusSession session;
    int fd;
    if (!endpoint.spawn.empty()) {
        session.child = spawnServer(endpoint.spawn, fd);
    } else {
        fd = connectUnix(endpoint.socket);
    }
    session.corpus = adoptFd<cs::Corpus>(fd, endpoint.spawn.empty() ? "socket" : "spawned");
    session.conn = session.corpus->conn;
    construct(session.corpus);
    int failed = 0;
    for (auto& n : run) {
        for (auto& s : scenarios()) {
            if (s.first != n) continue;
            try {
                s.second(session);
                printf("ok %s\n", n.c_str());
            } catch (const kj::Exception& e) {
                failed++;
                printf("FAIL %s: %s\n", n.c_str(), e.getDescription().cStr());
            } catch (const std::exception& e) {
                failed++;
                printf("FAIL %s: %s\n", n.c_str(), e.what());
            }
            fflush(stdout);
        }
    }
    session.corpus.reset();
    closeConnection(session.conn);
    if (session.child > 0) reapChild(session.child, 3000);
    fflush(stdout);
    fflush(stderr);
    _exit(failed == 0 ? 0 : 1);
}

}  // namespace peer
