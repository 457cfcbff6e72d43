#include "scenarios.h"

#include "check.h"

#include <mphub/cxx/test.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <future>
#include <iostream>
#include <limits>
#include <thread>

namespace host {
namespace {

using mphub::cxx::Error;
using mphub::test::Bytes;
using Clock = std::chrono::steady_clock;

//! One client connection with a Tester, over a socket or a spawned child.
struct Session {
    mphub::cxx::Spawned<mphub::cxx::RemoteTestInit> spawned;
    std::unique_ptr<mphub::cxx::RemoteTestInit> connected;
    std::optional<pid_t> server_pid;
    std::unique_ptr<mphub::test::Tester> tester; // destroyed first

    mphub::cxx::RemoteTestInit& init() { return connected ? *connected : *spawned.client; }

    static std::unique_ptr<Session> open(const Target& target)
    {
        auto s = std::make_unique<Session>();
        if (!target.socket.empty()) {
            s->connected = mphub::cxx::connectTestInit(target.socket);
            s->server_pid = target.server_pid;
        } else {
            s->spawned = mphub::cxx::spawnTestInit(target.spawn);
            s->server_pid = s->spawned.process.pid();
        }
        s->tester = s->init().makeTester();
        expect(s->tester != nullptr, "TestInit.makeTester returned a null Tester");
        return s;
    }

    //! SIGKILL to the server; false when its pid is unknown.
    bool kill_server()
    {
        if (spawned.client) {
            spawned.process.kill();
            return true;
        }
        if (!server_pid) return false;
        if (::kill(*server_pid, SIGKILL) != 0) throw CheckFailed("kill -9 failed: " + std::string(std::strerror(errno)));
        return true;
    }
};

template <class E, class F>
E expect_throw(const std::string& what, F&& f)
{
    try {
        f();
    } catch (const E& e) {
        return e;
    } catch (const std::exception& e) {
        throw CheckFailed(what + ": failed with the wrong kind of error: " + e.what());
    }
    throw CheckFailed(what + ": succeeded, expected a failure");
}

template <class F>
Error expect_remote(const std::string& what, F&& f)
{
    Error e = expect_throw<Error>(what, std::forward<F>(f));
    if (e.kind() != Error::Kind::Remote) throw CheckFailed(what + ": expected a remote failure, got: " + e.what());
    return e;
}

template <class T>
std::uint64_t bits(T v)
{
    std::uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}

bool same(const mphub::test::Primitives& a, const mphub::test::Primitives& b)
{
    return a.b == b.b && a.i8 == b.i8 && a.i16 == b.i16 && a.i32 == b.i32 && a.i64 == b.i64 && a.u8 == b.u8 &&
           a.u16 == b.u16 && a.u32 == b.u32 && a.u64 == b.u64 && bits(a.f32) == bits(b.f32) &&
           bits(a.f64) == bits(b.f64);
}

bool same(const mphub::test::Point& a, const mphub::test::Point& b)
{
    return a.x == b.x && a.y == b.y && a.label == b.label && a.tags == b.tags && a.weight == b.weight;
}

void primitives(mphub::test::Tester& t)
{
    mphub::test::Primitives low;
    low.b = true;
    low.i8 = std::numeric_limits<std::int8_t>::min();
    low.i16 = std::numeric_limits<std::int16_t>::min();
    low.i32 = std::numeric_limits<std::int32_t>::min();
    low.i64 = std::numeric_limits<std::int64_t>::min();
    low.u8 = std::numeric_limits<std::uint8_t>::max();
    low.u16 = std::numeric_limits<std::uint16_t>::max();
    low.u32 = std::numeric_limits<std::uint32_t>::max();
    low.u64 = std::numeric_limits<std::uint64_t>::max();
    low.f32 = -1.5f;
    low.f64 = 1e300;
    mphub::test::Primitives high;
    high.b = false;
    high.i8 = std::numeric_limits<std::int8_t>::max();
    high.i16 = std::numeric_limits<std::int16_t>::max();
    high.i32 = std::numeric_limits<std::int32_t>::max();
    high.i64 = std::numeric_limits<std::int64_t>::max();
    high.f32 = -0.0f;
    high.f64 = 5e-324;
    for (const auto& p : {low, high}) {
        expect(same(t.passPrimitives(p), p), "passPrimitives did not echo bit-exactly");
    }
    const auto max = std::numeric_limits<std::int64_t>::max();
    expect_eq("addInt64(INT64_MAX-1, 1)", t.addInt64(max - 1, 1), max);
    expect_remote("addInt64(INT64_MAX, 1)", [&] { t.addInt64(max, 1); });
}

void text(mphub::test::Tester& t)
{
    for (const std::string& s : {std::string("hello"), std::string(), std::string("a\0b\xff\xfe", 5)}) {
        expect(t.passText(s) == s, "passText did not echo " + std::to_string(s.size()) + " bytes");
    }
    const std::vector<std::string> texts{"", "x", std::string("a\0b", 3)};
    expect(t.passTexts(texts) == texts, "passTexts did not echo");
    std::string head, tail;
    t.split("hello world", 5, head, tail);
    expect_eq("split(\"hello world\", 5).head", head, std::string("hello"));
    expect_eq("split(\"hello world\", 5).tail", tail, std::string(" world"));
    t.split("abc", 10, head, tail);
    expect_eq("split(\"abc\", 10).head", head, std::string("abc"));
    expect_eq("split(\"abc\", 10).tail", tail, std::string());
}

void data(mphub::test::Tester& t)
{
    expect(t.passData({}).empty(), "passData(empty)");
    Bytes bytes(1000);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i % 256);
    expect(t.passData(bytes) == bytes, "passData(1000 bytes)");
    expect(!t.passOptionalData(std::nullopt).has_value(), "passOptionalData(absent) is not absent");
    auto empty = t.passOptionalData(Bytes{});
    expect(empty.has_value() && empty->empty(), "passOptionalData(present, empty)");
    expect(t.passOptionalData(Bytes{1, 2, 3}) == std::optional<Bytes>(Bytes{1, 2, 3}), "passOptionalData(01 02 03)");
    const std::vector<Bytes> datas{{}, {0}, {1, 2}};
    expect(t.passDatas(datas) == datas, "passDatas");
}

void lists(mphub::test::Tester& t)
{
    expect(t.passInts({}).empty(), "passInts([])");
    const std::vector<std::int32_t> ints{std::numeric_limits<std::int32_t>::min(), -1, 0, 1,
                                         std::numeric_limits<std::int32_t>::max()};
    expect(t.passInts(ints) == ints, "passInts");
}

void map(mphub::test::Tester& t)
{
    const mphub::test::PairList m{{"a", 1}, {"b", -2}, {"", std::numeric_limits<std::int64_t>::max()}};
    expect(t.passMap(m) == m, "passMap did not echo in order");
}

void point(mphub::test::Tester& t)
{
    mphub::test::Point p;
    p.x = -3;
    p.y = 7;
    p.label = "p";
    p.tags = {"t1", "t2"};
    p.weight = 2.5;
    expect(same(t.passPoint(p), p), "passPoint(weighted)");
    p.weight.reset();
    const auto got = t.passPoint(p);
    expect(same(got, p) && !got.weight, "passPoint(no weight)");
}

void out_params(mphub::test::Tester& t)
{
    std::int32_t rem = -1;
    expect_eq("divide(17, 5, want)", t.divide(17, 5, &rem), 3);
    expect_eq("divide(17, 5, want).remainder", rem, 2);
    expect_eq("divide(17, 5, not wanted)", t.divide(17, 5, nullptr), 3);
    expect_remote("divide(1, 0)", [&] { t.divide(1, 0, nullptr); });
}

void exceptions(mphub::test::Tester& t)
{
    auto e = expect_throw<mphub::test::TestError>("raise(7, \"boom\")", [&] { t.raise(7, "boom"); });
    expect_eq("raise(7, \"boom\").code", e.code, 7);
    expect_eq("raise(7, \"boom\").message", e.message, std::string("boom"));
    expect_eq("checkedDivide(9, 3)", t.checkedDivide(9, 3), 3);
    e = expect_throw<mphub::test::TestError>("checkedDivide(1, 0)", [&] { t.checkedDivide(1, 0); });
    expect_eq("checkedDivide(1, 0).code", e.code, 1);
    expect_eq("checkedDivide(1, 0).message", e.message, std::string("division by zero"));
    auto f = expect_remote("fail(\"oops\")", [&] { t.fail("oops"); });
    expect(std::string(f.what()).find("oops") != std::string::npos,
           std::string("fail(\"oops\"): the failure text does not contain 'oops': ") + f.what());
}

void interfaces(Session& s)
{
    auto counter = s.init().makeCounter(10);
    expect(counter != nullptr, "makeCounter(10) returned a null Counter");
    expect_eq("Counter.increment()", counter->increment(), 11);
    expect_eq("Counter.get()", counter->get(), 11);
    expect_eq("readCounter(counter)", s.tester->readCounter(*counter), 11);
}

void ordering(mphub::test::Tester& t)
{
    // The C++ API is blocking: 50 calls from one client thread, one after the other.
    for (std::int32_t i = 0; i < 50; ++i) t.appendLog(i);
    std::vector<std::int32_t> want(50);
    for (std::int32_t i = 0; i < 50; ++i) want[i] = i;
    expect(t.takeLog() == want, "takeLog() is not [0..49]");
}

void parallel(mphub::test::Tester& t)
{
    const auto start = Clock::now();
    auto a = std::async(std::launch::async, [&] { return t.sleepMs(300); });
    auto b = std::async(std::launch::async, [&] { return t.sleepMs(300); });
    const std::string na = a.get(), nb = b.get();
    const auto took = Clock::now() - start;
    expect(took < std::chrono::milliseconds(550),
           "two sleepMs(300) on two client threads took " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) + " ms");
    expect(na != nb, "two client threads ran on the same server thread " + na);
    const auto start2 = Clock::now();
    t.sleepMs(300);
    t.sleepMs(300);
    const auto took2 = Clock::now() - start2;
    expect(took2 >= std::chrono::milliseconds(590), "two sleepMs(300) on one client thread were not serialised");
}

void destroy(Session& s)
{
    auto& t = *s.tester;
    const auto n = t.liveCounters();
    auto counter = s.init().makeCounter(0);
    expect(counter != nullptr, "makeCounter returned a null Counter");
    expect_eq("liveCounters() after makeCounter", t.liveCounters(), n + 1);
    counter.reset();
    const auto deadline = Clock::now() + std::chrono::seconds(1);
    for (;;) {
        const auto now = t.liveCounters();
        if (now == n) return;
        if (Clock::now() >= deadline) {
            throw CheckFailed("liveCounters() = " + std::to_string(now) + " 1 s after releasing the Counter, expected " +
                              std::to_string(n));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

int killed_mid_call(Session& s, const Target& target)
{
    if (!target.socket.empty() && !target.server_pid) {
        std::cout << "SKIPPED: killed-mid-call over a socket needs --server-pid" << std::endl;
        return SKIP;
    }
    auto& t = *s.tester;
    std::promise<Clock::time_point> failed_at;
    auto failed = failed_at.get_future();
    std::string outcome;
    std::thread pending([&] {
        try {
            t.sleepMs(10000);
            outcome = "returned";
        } catch (const Error& e) {
            outcome = e.disconnected() ? "disconnected" : std::string("failed: ") + e.what();
        } catch (const std::exception& e) {
            outcome = std::string("failed: ") + e.what();
        }
        failed_at.set_value(Clock::now());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (failed.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
        pending.join();
        throw CheckFailed("sleepMs(10000) returned before the server was killed: " + outcome);
    }
    const auto killed = Clock::now();
    if (!s.kill_server()) {
        pending.detach();
        throw CheckFailed("no server pid to kill");
    }
    if (failed.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
        pending.detach();
        throw CheckFailed("the pending sleepMs(10000) did not fail within 1 s of SIGKILL");
    }
    const auto at = failed.get();
    pending.join();
    (void)killed;
    (void)at;
    expect(outcome == "disconnected", "the pending call did not fail as a disconnect: " + outcome);
    expect_throw<Error>("a call after the server was killed", [&] { t.addInt64(1, 1); });
    return PASS;
}

void oversize(Session& first, const Target& target)
{
    auto second = Session::open(target);
    Bytes big(72u * 1024u * 1024u, 0x5a);
    expect_throw<Error>("passData(72 MiB) on a second connection", [&] { second->tester->passData(big); });
    second.reset();
    expect_eq("addInt64(1, 2) on the first connection", first.tester->addInt64(1, 2), 3);
}

int run(const Target& target, const std::string& name)
{
    if (name == "hostile-thread" || name == "hostile-null-context") {
        std::cout << "SKIPPED: " << name
                  << " needs a raw Context; the C++ bridge API always sends a valid one" << std::endl;
        return SKIP;
    }
    auto s = Session::open(target);
    auto& t = *s->tester;
    if (name == "primitives") primitives(t);
    else if (name == "text") text(t);
    else if (name == "data") data(t);
    else if (name == "lists") lists(t);
    else if (name == "map") map(t);
    else if (name == "struct") point(t);
    else if (name == "optional") {
        expect(t.maybeInt(true) == std::optional<std::int32_t>(42), "maybeInt(true) != 42");
        expect(!t.maybeInt(false).has_value(), "maybeInt(false) has a result");
    } else if (name == "out-params") out_params(t);
    else if (name == "in-out") {
        std::int32_t sum = 10;
        t.addInOut(5, sum);
        expect_eq("addInOut(5, 10).sum", sum, 15);
    } else if (name == "exceptions") exceptions(t);
    else if (name == "no-context") {
        expect_eq("addNoContext(2, 3)", t.addNoContext(2, 3), 5);
        expect_eq("renamedMethod(21)", t.renamedMethod(21), 42);
    } else if (name == "interfaces") interfaces(*s);
    else if (name == "ordering") ordering(t);
    else if (name == "parallel") parallel(t);
    else if (name == "callback") {
        expect_eq("callCallback(cb = 3x, 7)", t.callCallback([](std::int32_t x) { return 3 * x; }, 7), 21);
    } else if (name == "callback-outside-call") {
        t.saveCallback([](std::int32_t x) { return 3 * x; });
        expect_eq("callSavedCallback(5)", t.callSavedCallback(5), 15);
    } else if (name == "recursion") {
        mphub::test::IntFn cb;
        cb = [&](std::int32_t d) { return t.recurse(cb, d); };
        expect_eq("recurse(cb, 6)", t.recurse(cb, 6), 6);
    } else if (name == "destroy") destroy(*s);
    else if (name == "hostile-oversize") oversize(*s, target);
    else if (name == "killed-mid-call") return killed_mid_call(*s, target);
    else throw CheckFailed("unknown scenario '" + name + "'");
    return PASS;
}

} // namespace

const std::vector<std::string>& scenarios()
{
    static const std::vector<std::string> all{
        "primitives", "text", "data", "lists", "map", "struct", "optional", "out-params",
        "in-out", "exceptions", "no-context", "interfaces", "ordering", "parallel", "callback",
        "callback-outside-call", "recursion", "destroy", "hostile-thread", "hostile-null-context",
        "hostile-oversize", "killed-mid-call"};
    return all;
}

int run_scenario(const Target& target, const std::string& name)
{
    try {
        return run(target, name);
    } catch (const std::exception& e) {
        std::string why = e.what();
        for (char& c : why) {
            if (c == '\n') c = ' ';
        }
        std::cerr << "mphub-cxx-host: " << name << ": " << why << std::endl;
        return FAIL;
    }
}

int run_bench(const Target& target, const std::string& kind, std::size_t calls, std::size_t warmup)
{
    if (kind != "context" && kind != "context-blocking" && kind != "nocontext" && kind != "data1m") {
        std::cerr << "mphub-cxx-host: unknown bench kind '" << kind << "'" << std::endl;
        return USAGE;
    }
    try {
        auto s = Session::open(target);
        auto& t = *s->tester;
        const Bytes mib(1024 * 1024, 0x42);
        auto one = [&](std::int64_t i) {
            if (kind == "nocontext") {
                t.addNoContext(static_cast<std::int32_t>(i), 1);
            } else if (kind == "data1m") {
                if (t.passData(mib).size() != mib.size()) throw CheckFailed("passData(1 MiB) length differs");
            } else {
                // The C++ API is blocking; context and context-blocking are the same call.
                t.addInt64(i, 1);
            }
        };
        for (std::size_t i = 0; i < warmup; ++i) one(static_cast<std::int64_t>(i));
        std::vector<std::int64_t> samples;
        samples.reserve(calls);
        for (std::size_t i = 0; i < calls; ++i) {
            const auto start = Clock::now();
            one(static_cast<std::int64_t>(i));
            samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
        }
        std::cout << "{\"peer\":\"cpp-embedded-rust\",\"kind\":\"" << kind << "\",\"calls\":" << calls
                  << ",\"samples_ns\":[";
        for (std::size_t i = 0; i < samples.size(); ++i) std::cout << (i ? "," : "") << samples[i];
        std::cout << "]}" << std::endl;
        return PASS;
    } catch (const std::exception& e) {
        std::cerr << "mphub-cxx-host: bench " << kind << ": " << e.what() << std::endl;
        return FAIL;
    }
}

} // namespace host
