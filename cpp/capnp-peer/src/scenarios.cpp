// The client scenarios and benchmarks of doc/interop.md.

#include "client.h"

#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace peer {

namespace {

using Clock = std::chrono::steady_clock;

long msSince(Clock::time_point start)
{
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

void check(bool ok, const std::string& what)
{
    if (!ok) throw ScenarioFailure(what);
}

template <typename T>
std::string show(const T& v)
{
    std::ostringstream out;
    out << v;
    return out.str();
}

template <typename T>
void checkEq(const T& got, const T& want, const std::string& what)
{
    if (!(got == want)) throw ScenarioFailure(what + ": got " + show(got) + ", want " + show(want));
}

std::string hex(const std::string& bytes)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

void checkBytes(const std::string& got, const std::string& want, const std::string& what)
{
    if (got != want) {
        throw ScenarioFailure(what + ": got " + (got.size() > 64 ? std::to_string(got.size()) + " bytes" : "0x" + hex(got)) +
                              ", want " + (want.size() > 64 ? std::to_string(want.size()) + " bytes" : "0x" + hex(want)));
    }
}

// The call must fail with a generic remote failure (not a disconnect, not a declared error)
// whose text contains `needle`.
template <typename F>
void expectRemoteFailure(F&& f, const std::string& needle, const std::string& what)
{
    try {
        f();
    } catch (const DeclaredTestError& e) {
        throw ScenarioFailure(what + ": got declared " + e.what() + ", want a remote failure");
    } catch (const kj::Exception& e) {
        std::string text = e.getDescription().cStr();
        check(e.getType() != kj::Exception::Type::DISCONNECTED, what + ": got a disconnect: " + text);
        check(text.find(needle) != std::string::npos, what + ": error text '" + text + "' lacks '" + needle + "'");
        return;
    }
    throw ScenarioFailure(what + ": call succeeded, want a remote failure");
}

template <typename F>
void expectDeclared(F&& f, int32_t code, const std::string& message, const std::string& what)
{
    try {
        f();
    } catch (const DeclaredTestError& e) {
        checkEq(e.code, code, what + ": code");
        checkEq(e.message, message, what + ": message");
        return;
    } catch (const kj::Exception& e) {
        throw ScenarioFailure(what + ": got '" + e.getDescription().cStr() + "', want a declared TestError");
    }
    throw ScenarioFailure(what + ": call succeeded, want a declared TestError");
}

template <typename F>
kj::Exception expectError(F&& f, const std::string& what)
{
    try {
        f();
    } catch (const kj::Exception& e) {
        return e;
    }
    throw ScenarioFailure(what + ": call succeeded, want an error");
}

template <typename T>
uint64_t bits(T v)
{
    uint64_t out = 0;
    memcpy(&out, &v, sizeof(v));
    return out;
}

void checkPrimitives(const Primitives& got, const Primitives& want)
{
    checkEq(got.b, want.b, "b");
    checkEq<int>(got.i8, want.i8, "i8");
    checkEq(got.i16, want.i16, "i16");
    checkEq(got.i32, want.i32, "i32");
    checkEq(got.i64, want.i64, "i64");
    checkEq<unsigned>(got.u8, want.u8, "u8");
    checkEq(got.u16, want.u16, "u16");
    checkEq(got.u32, want.u32, "u32");
    checkEq(got.u64, want.u64, "u64");
    checkEq(bits(got.f32), bits(want.f32), "f32 bits");
    checkEq(bits(got.f64), bits(want.f64), "f64 bits");
}

struct Env {
    Session& session;
    const ClientOptions& options;
};

// --------------------------------------------------------------------------------------

void primitives(Env& env)
{
    auto t = env.session.makeTester();
    Primitives lo{true, INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN, UINT8_MAX, UINT16_MAX, UINT32_MAX, UINT64_MAX, -1.5f, 1e300};
    Primitives hi{false, INT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX, 0, 0, 0, 0, -0.0f, 5e-324};
    checkPrimitives(t.passPrimitives(lo), lo);
    checkPrimitives(t.passPrimitives(hi), hi);
    checkEq(t.addInt64(INT64_MAX - 1, 1), INT64_MAX, "addInt64(INT64_MAX-1, 1)");
    expectRemoteFailure([&] { t.addInt64(INT64_MAX, 1); }, "", "addInt64(INT64_MAX, 1)");
}

void text(Env& env)
{
    auto t = env.session.makeTester();
    checkBytes(t.passText("hello"), "hello", "passText(hello)");
    checkBytes(t.passText(""), "", "passText(\"\")");
    std::string odd("a\0b\xff\xfe", 5);
    checkBytes(t.passText(odd), odd, "passText(61 00 62 ff fe)");
    std::vector<std::string> texts{"", "x", std::string("a\0b", 3)};
    auto got = t.passTexts(texts);
    checkEq(got.size(), texts.size(), "passTexts length");
    for (size_t i = 0; i < texts.size(); ++i) checkBytes(got[i], texts[i], "passTexts[" + std::to_string(i) + "]");
    auto s1 = t.split("hello world", 5);
    checkBytes(s1.first, "hello", "split head");
    checkBytes(s1.second, " world", "split tail");
    auto s2 = t.split("abc", 10);
    checkBytes(s2.first, "abc", "split(abc, 10) head");
    checkBytes(s2.second, "", "split(abc, 10) tail");
}

void data(Env& env)
{
    auto t = env.session.makeTester();
    checkBytes(t.passData(""), "", "passData(empty)");
    std::string k(1000, '\0');
    for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<char>(i % 256);
    checkBytes(t.passData(k), k, "passData(1000 bytes)");
    check(!t.passOptionalData(std::nullopt).has_value(), "passOptionalData(absent) is present");
    auto empty = t.passOptionalData(std::string());
    check(empty.has_value(), "passOptionalData(present empty) is absent");
    checkBytes(*empty, "", "passOptionalData(present empty)");
    std::string three("\x01\x02\x03", 3);
    auto some = t.passOptionalData(three);
    check(some.has_value(), "passOptionalData(010203) is absent");
    checkBytes(*some, three, "passOptionalData(010203)");
    std::vector<std::string> datas{"", std::string(1, '\0'), std::string("\x01\x02", 2)};
    auto got = t.passDatas(datas);
    checkEq(got.size(), datas.size(), "passDatas length");
    for (size_t i = 0; i < datas.size(); ++i) checkBytes(got[i], datas[i], "passDatas[" + std::to_string(i) + "]");
}

void lists(Env& env)
{
    auto t = env.session.makeTester();
    check(t.passInts({}).empty(), "passInts([]) not empty");
    std::vector<int32_t> v{INT32_MIN, -1, 0, 1, INT32_MAX};
    check(t.passInts(v) == v, "passInts([INT32_MIN, -1, 0, 1, INT32_MAX]) differs");
}

void map(Env& env)
{
    auto t = env.session.makeTester();
    std::vector<Pair> v{{"a", 1}, {"b", -2}, {"", INT64_MAX}};
    check(t.passMap(v) == v, "passMap differs (content or order)");
}

void checkPoint(const Point& got, const Point& want, const std::string& what)
{
    checkEq(got.x, want.x, what + " x");
    checkEq(got.y, want.y, what + " y");
    checkBytes(got.label, want.label, what + " label");
    check(got.tags == want.tags, what + " tags differ");
    checkEq(got.hasWeight, want.hasWeight, what + " hasWeight");
    if (want.hasWeight) checkEq(got.weight, want.weight, what + " weight");
}

void structs(Env& env)
{
    auto t = env.session.makeTester();
    Point p{-3, 7, "p", {"t1", "t2"}, 2.5, true};
    checkPoint(t.passPoint(p), p, "passPoint");
    Point q{-3, 7, "p", {"t1", "t2"}, 0, false};
    checkPoint(t.passPoint(q), q, "passPoint without weight");
}

void optional(Env& env)
{
    auto t = env.session.makeTester();
    auto yes = t.maybeInt(true);
    check(yes.has_value(), "maybeInt(true) has no result");
    checkEq(*yes, 42, "maybeInt(true)");
    check(!t.maybeInt(false).has_value(), "maybeInt(false) has a result");
}

void outParams(Env& env)
{
    auto t = env.session.makeTester();
    auto d = t.divide(17, 5, true);
    checkEq(d.first, 3, "divide(17, 5) quotient");
    checkEq(d.second, 2, "divide(17, 5) remainder");
    auto n = t.divide(17, 5, false);
    checkEq(n.first, 3, "divide(17, 5, no remainder) quotient");
    checkEq(n.second, 0, "divide(17, 5, no remainder) remainder field");
    expectRemoteFailure([&] { t.divide(1, 0, true); }, "", "divide(1, 0)");
}

void inOut(Env& env)
{
    auto t = env.session.makeTester();
    checkEq(t.addInOut(5, 10), 15, "addInOut(5, 10)");
}

void exceptions(Env& env)
{
    auto t = env.session.makeTester();
    expectDeclared([&] { t.raise(7, "boom"); }, 7, "boom", "raise(7, boom)");
    checkEq(t.checkedDivide(9, 3), 3, "checkedDivide(9, 3)");
    expectDeclared([&] { t.checkedDivide(1, 0); }, 1, "division by zero", "checkedDivide(1, 0)");
    expectRemoteFailure([&] { t.fail("oops"); }, "oops", "fail(oops)");
}

void noContext(Env& env)
{
    auto t = env.session.makeTester();
    checkEq(t.addNoContext(2, 3), 5, "addNoContext(2, 3)");
    checkEq(t.renamedMethod(21), 42, "renamedMethod(21)");
}

void interfaces(Env& env)
{
    auto t = env.session.makeTester();
    auto c = env.session.makeCounter(10);
    checkEq(c.increment(), int64_t{11}, "increment()");
    checkEq(c.get(), int64_t{11}, "get()");
    checkEq(t.readCounter(c), int64_t{11}, "readCounter(counter)");
}

void ordering(Env& env)
{
    auto t = env.session.makeTester();
    std::vector<int32_t> values;
    for (int32_t i = 0; i < 50; ++i) values.push_back(i);
    t.appendLogPipelined(values);
    auto log = t.takeLog();
    if (log != values) {
        std::string got;
        for (auto v : log) got += std::to_string(v) + " ";
        throw ScenarioFailure("takeLog() = [" + got + "], want [0..49]");
    }
}

void parallel(Env& env)
{
    auto t = env.session.makeTester();
    // Two client threads: each gets its own server thread, so the sleeps overlap.
    auto start = Clock::now();
    auto a = std::async(std::launch::async, [&] { return t.sleepMs(300); });
    auto b = std::async(std::launch::async, [&] { return t.sleepMs(300); });
    std::string nameA = a.get(), nameB = b.get();
    long both = msSince(start);
    check(both < 550, "two sleepMs(300) on two client threads took " + std::to_string(both) + " ms, want < 550");
    check(nameA != nameB, "both sleeps ran on server thread '" + nameA + "'");
    // One client thread: both calls go to the same server thread, one after the other.
    start = Clock::now();
    t.sleepMs(300);
    t.sleepMs(300);
    long serial = msSince(start);
    check(serial >= 590, "two sleepMs(300) on one client thread took " + std::to_string(serial) + " ms, want >= 590");
}

void callback(Env& env)
{
    auto t = env.session.makeTester();
    auto cb = hostCallback(env.session.connection(), [](int32_t x) { return 3 * x; });
    checkEq(t.callCallback(cb, 7), 21, "callCallback(cb, 7)");
}

void callbackOutsideCall(Env& env)
{
    auto t = env.session.makeTester();
    auto cb = hostCallback(env.session.connection(), [](int32_t x) { return 3 * x; });
    t.saveCallback(cb);
    checkEq(t.callSavedCallback(5), 15, "callSavedCallback(5)");
}

void recursion(Env& env)
{
    auto t = env.session.makeTester();
    // cb(d) = tester.recurse(cb, d): the callback needs itself; a weak ref avoids a cycle.
    auto self = std::make_shared<std::weak_ptr<CapHolder<msg::Callback::Client>>>();
    auto cb = hostCallback(env.session.connection(), [t, self](int32_t d) mutable {
        auto me = self->lock();
        if (!me) throw std::runtime_error("callback gone");
        return t.recurse(me, d);
    });
    *self = cb;
    checkEq(t.recurse(cb, 6), 6, "recurse(cb, 6)");
}

void destroy(Env& env)
{
    auto t = env.session.makeTester();
    int64_t n = t.liveCounters();
    auto c = env.session.makeCounter(0);
    checkEq(t.liveCounters(), n + 1, "liveCounters() after makeCounter");
    c.destroy();
    auto start = Clock::now();
    int64_t now = t.liveCounters();
    while (now != n && msSince(start) < 1000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        now = t.liveCounters();
    }
    checkEq(now, n, "liveCounters() 1 s after destroy");
}

void killedMidCall(Env& env)
{
    pid_t victim = env.session.childPid() > 0 ? env.session.childPid() : env.options.serverPid;
    if (victim <= 0) throw ScenarioSkip("killed-mid-call over a socket needs --server-pid");
    auto t = env.session.makeTester();
    t.addInt64(1, 2);  // the connection and this thread's server thread are up
    auto pending = std::async(std::launch::async, [&]() -> kj::Maybe<kj::Exception> {
        try {
            t.sleepMs(10000);
        } catch (const kj::Exception& e) {
            return e;
        }
        return nullptr;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let sleepMs start
    if (env.session.childPid() > 0) env.session.childKilled();
    check(kill(victim, SIGKILL) == 0, std::string("kill(SIGKILL): ") + strerror(errno));
    auto killedAt = Clock::now();
    if (pending.wait_for(std::chrono::milliseconds(1000)) != std::future_status::ready) {
        throw ScenarioFailure("pending sleepMs did not fail within 1 s of the kill");
    }
    KJ_IF_MAYBE(e, pending.get()) {
        check(e->getType() == kj::Exception::Type::DISCONNECTED,
              std::string("pending call failed, but not as a disconnect: ") + e->getDescription().cStr());
    } else {
        throw ScenarioFailure("pending sleepMs returned normally after the server was killed");
    }
    PEER_LOG("pending call failed after " + std::to_string(msSince(killedAt)) + " ms");
    expectError([&] { t.addInt64(1, 2); }, "call after the kill");
}

void hostileThread(Env& env)
{
    auto t = env.session.makeTester();
    auto e = expectError([&] { t.addInt64Raw(RawThread::SelfHosted, 1, 2); }, "addInt64 with a self-hosted thread");
    std::string text = e.getDescription().cStr();
    check(text.find("invalid thread handle") != std::string::npos, "error '" + text + "' lacks 'invalid thread handle'");
    checkEq(t.addInt64(1, 2), int64_t{3}, "addInt64(1, 2) afterwards");
}

void hostileNullContext(Env& env)
{
    auto t = env.session.makeTester();
    auto e = expectError([&] { t.addInt64Raw(RawThread::Null, 1, 2); }, "addInt64 with a null thread");
    std::string text = e.getDescription().cStr();
    check(text.find("no thread specified and no pool configured") != std::string::npos,
          "error '" + text + "' lacks 'no thread specified and no pool configured'");
    checkEq(t.addInt64(1, 2), int64_t{3}, "addInt64(1, 2) afterwards");
}

void sendRawOversizeFrame(const Endpoint& endpoint)
{
    int fd;
    pid_t child = -1;
    if (!endpoint.spawn.empty()) {
        child = spawnServer(endpoint.spawn, fd);
    } else {
        fd = connectUnix(endpoint.socket);
    }
    const uint32_t words = (72u << 20) / 8;
    uint32_t header[2] = {0, words};  // segment count - 1, then the segment's size in words
    bool wroteAll = write(fd, header, sizeof(header)) == static_cast<ssize_t>(sizeof(header));
    std::string chunk(1u << 20, '\0');
    for (int i = 0; wroteAll && i < 72; ++i) {
        size_t off = 0;
        while (off < chunk.size()) {
            ssize_t n = write(fd, chunk.data() + off, chunk.size() - off);
            if (n <= 0) {
                wroteAll = false;  // the server closed early: fine
                break;
            }
            off += static_cast<size_t>(n);
        }
    }
    // Whatever it answers (perhaps an Abort), the server must end this connection.
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    ssize_t n;
    auto start = Clock::now();
    while ((n = read(fd, buf, sizeof(buf))) > 0 && msSince(start) < 2000) {
    }
    bool timedOut = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    ::close(fd);
    if (child > 0) reapChild(child, 3000);
    PEER_LOG("raw 72 MiB frame: " + std::string(wroteAll ? "fully written" : "cut short by the server"));
    check(!timedOut && n <= 0, "the server kept a connection open after a 72 MiB frame");
}

void hostileOversize(Env& env)
{
    auto t = env.session.makeTester();
    checkEq(t.addInt64(1, 2), int64_t{3}, "addInt64(1, 2) on the first connection");
    // Second connection (over --spawn a second server: the point is that the first survives).
    auto second = Session::open(env.options.endpoint);
    auto t2 = second->makeTester();
    std::string big(72u << 20, '\x5a');
    // Cap'n Proto C++ refuses to send a message over its 64 MiB limit, so this normally
    // fails on our side; a server that got it would have to refuse it or close.
    auto e = expectError([&] { t2.passData(big); }, "passData(72 MiB)");
    PEER_LOG(std::string("passData(72 MiB): ") + e.getDescription().cStr());
    big.clear();
    big.shrink_to_fit();
    checkEq(t.addInt64(1, 2), int64_t{3}, "addInt64(1, 2) on the first connection after the oversize call");
    second->close();
    // So that the server really meets an oversize message: a raw frame announcing one
    // 72 MiB segment, on yet another connection. The server must close that connection.
    sendRawOversizeFrame(env.options.endpoint);
    checkEq(t.addInt64(2, 2), int64_t{4}, "addInt64(2, 2) on the first connection after the raw oversize frame");
}

// Not in the contract: edges of libmultiprocess behaviour our server also reproduces.

void extraPool(Env& env)
{
    auto t = env.session.makeTester();
    expectRemoteFailure([&] { t.addInt64Raw(RawThread::Null, 1, 2); }, "no thread specified and no pool configured",
                        "null thread before makePool");
    env.session.makePool(2);
    checkEq(t.addInt64Raw(RawThread::Null, 1, 2), int64_t{3}, "null thread after makePool(2)");
    expectRemoteFailure([&] { env.session.makePool(2); }, "makePool called on connection with existing pool",
                        "second makePool");
    checkEq(t.addInt64(2, 3), int64_t{5}, "a normal call afterwards");
}

void extraAfterDestroy(Env& env)
{
    auto t = env.session.makeTester();
    auto c = env.session.makeCounter(1);
    CounterProxy alias(c.cap());  // keeps the capability after destroy()
    c.destroy();
    // libmultiprocess would crash here (null implementation); we answer with an error.
    expectRemoteFailure([&] { alias.get(); }, "after destroy", "Counter.get after destroy");
    checkEq(t.addInt64(1, 2), int64_t{3}, "the server still answers");
}

// A callback that takes 5 s, so a test can kill this client while the server is inside it.
void extraSlowCallback(Env& env)
{
    auto t = env.session.makeTester();
    auto cb = hostCallback(env.session.connection(), [](int32_t x) {
        std::this_thread::sleep_for(std::chrono::seconds(5));
        return x;
    });
    checkEq(t.callCallback(cb, 1), 1, "callCallback(slow cb, 1)");
}

const std::map<std::string, void (*)(Env&)>& extras()
{
    static const std::map<std::string, void (*)(Env&)> t{
        {"extra-slow-callback", extraSlowCallback},
        {"extra-pool", extraPool},
        {"extra-after-destroy", extraAfterDestroy},
    };
    return t;
}

const std::map<std::string, void (*)(Env&)>& table()
{
    static const std::map<std::string, void (*)(Env&)> t{
        {"primitives", primitives},
        {"text", text},
        {"data", data},
        {"lists", lists},
        {"map", map},
        {"struct", structs},
        {"optional", optional},
        {"out-params", outParams},
        {"in-out", inOut},
        {"exceptions", exceptions},
        {"no-context", noContext},
        {"interfaces", interfaces},
        {"ordering", ordering},
        {"parallel", parallel},
        {"callback", callback},
        {"callback-outside-call", callbackOutsideCall},
        {"recursion", recursion},
        {"destroy", destroy},
        {"killed-mid-call", killedMidCall},
        {"hostile-thread", hostileThread},
        {"hostile-null-context", hostileNullContext},
        {"hostile-oversize", hostileOversize},
    };
    return t;
}

}  // namespace

bool scenarioExists(const std::string& name) { return table().count(name) != 0 || extras().count(name) != 0; }

std::vector<std::string> scenarioNames()
{
    std::vector<std::string> out;
    for (auto& entry : table()) out.push_back(entry.first);
    return out;
}

void runScenario(const std::string& name, Session& session, const ClientOptions& options)
{
    Env env{session, options};
    auto it = table().find(name);
    (it != table().end() ? it->second : extras().at(name))(env);
}

// --------------------------------------------------------------------------------------
// Benchmarks

int runBench(Session& session, const ClientOptions& options)
{
    const std::string& kind = options.bench;
    auto t = session.makeTester();
    std::string payload;
    std::function<void(long)> call;
    if (kind == "context" || kind == "context-blocking") {
        // Our client API is the blocking one (a plain OS thread waits for each call), so
        // both kinds measure the same path.
        call = [&](long i) {
            int64_t r = t.addInt64(i, 1);
            if (r != i + 1) throw ScenarioFailure("addInt64 returned " + std::to_string(r));
        };
    } else if (kind == "nocontext") {
        call = [&](long i) {
            int32_t r = t.addNoContext(static_cast<int32_t>(i), 1);
            if (r != static_cast<int32_t>(i + 1)) throw ScenarioFailure("addNoContext returned " + std::to_string(r));
        };
    } else if (kind == "data1m") {
        payload.assign(1u << 20, '\0');
        for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
        call = [&](long) {
            auto r = t.passData(payload);
            if (r.size() != payload.size()) throw ScenarioFailure("passData returned " + std::to_string(r.size()) + " bytes");
        };
    } else {
        fprintf(stderr, "unknown bench kind: %s\n", kind.c_str());
        return 2;
    }
    long warmup = options.warmup >= 0 ? options.warmup : options.calls / 10;
    for (long i = 0; i < warmup; ++i) call(i);
    std::vector<int64_t> samples;
    samples.reserve(static_cast<size_t>(options.calls));
    for (long i = 0; i < options.calls; ++i) {
        auto start = Clock::now();
        call(i);
        samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    }
    std::string json = "{\"peer\":\"cpp-capnp\",\"kind\":\"" + kind + "\",\"calls\":" + std::to_string(options.calls) +
                       ",\"samples_ns\":[";
    for (size_t i = 0; i < samples.size(); ++i) {
        if (i) json += ",";
        json += std::to_string(samples[i]);
    }
    json += "]}";
    printf("%s\n", json.c_str());
    return 0;
}

}  // namespace peer
