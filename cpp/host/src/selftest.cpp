// In-process checks of the bridge's contract (doc/cxx-bridge.md): which thread runs C++
// server methods and callbacks, ownership of served objects, error mapping, panics,
// bounded stop.
#include "selftest.h"

#include "check.h"
#include "test_impl.h"

#include <mphub/cxx/test.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <iostream>
#include <thread>
#include <vector>

#include <unistd.h>

namespace host {
namespace {

using mphub::cxx::Error;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t)
{
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

template <class E, class F>
E expect_throw(const std::string& what, F&& f)
{
    try {
        f();
    } catch (const E& e) {
        return e;
    } catch (const std::exception& e) {
        throw CheckFailed(what + ": wrong kind of error: " + e.what());
    }
    throw CheckFailed(what + ": did not fail");
}

//! Records where its methods run.
struct Probe final : mphub::test::Counter {
    std::atomic<bool>* destroyed;
    std::thread::id ran_on;
    bool on_worker = false;
    explicit Probe(std::atomic<bool>* d) : destroyed(d) {}
    ~Probe() override
    {
        if (destroyed) *destroyed = true;
    }
    std::int64_t increment() override
    {
        ran_on = std::this_thread::get_id();
        on_worker = mphub::cxx::onWorkerThread();
        return 1;
    }
    std::int64_t get() override
    {
        // The caller reads back where increment() ran: 1 when on a worker thread that
        // is not this get()'s caller.
        return on_worker ? 1 : 0;
    }
};

struct Thrower final : mphub::test::Counter {
    std::int64_t increment() override { throw 42; }
    std::int64_t get() override { throw std::runtime_error("get failed in C++"); }
};

//! A TestInit whose makeCounter hands out a prepared Counter (once).
struct OneCounterInit final : mphub::test::TestInit {
    std::unique_ptr<mphub::test::Counter> counter;
    explicit OneCounterInit(std::unique_ptr<mphub::test::Counter> c) : counter(std::move(c)) {}
    std::unique_ptr<mphub::test::Tester> makeTester() override { return nullptr; }
    std::unique_ptr<mphub::test::Counter> makeCounter(std::int64_t) override { return std::move(counter); }
};

mphub::cxx::Embedded<mphub::cxx::RemoteTestInit> embed_counter(std::unique_ptr<mphub::test::Counter> c)
{
    return mphub::cxx::embed(mphub::cxx::TestInitCap(std::make_unique<OneCounterInit>(std::move(c))));
}

struct LocalCounter final : mphub::test::Counter {
    std::int64_t value{0};
    std::int64_t increment() override { return ++value; }
    std::int64_t get() override { return value; }
};

void calls_and_errors(mphub::test::TestInit& init)
{
    auto t = init.makeTester();
    expect(t != nullptr, "makeTester returned null");
    expect_eq("addInt64(40, 2)", t->addInt64(40, 2), 42);
    expect_eq("passText", t->passText(std::string("a\0b", 3)), std::string("a\0b", 3));
    auto te = expect_throw<mphub::test::TestError>("raise(7, boom)", [&] { t->raise(7, "boom"); });
    expect_eq("TestError.code", te.code, 7);
    expect_eq("TestError.message", te.message, std::string("boom"));
    auto e = expect_throw<Error>("fail(oops)", [&] { t->fail("oops"); });
    expect(e.kind() == Error::Kind::Remote, std::string("fail(oops) kind: ") + e.what());
    expect(std::string(e.what()).find("oops") != std::string::npos, std::string("fail text: ") + e.what());
    std::int32_t rem = 0;
    expect_eq("divide(17, 5)", t->divide(17, 5, &rem), 3);
    expect_eq("remainder", rem, 2);
    LocalCounter local;
    local.value = 41;
    expect_eq("readCounter(local C++ Counter by reference)", t->readCounter(local), 41);
}

struct Check {
    const char* name;
    std::function<void()> run;
};

} // namespace

int selftest(const std::string& self_exe)
{
    const auto main_thread = std::this_thread::get_id();
    char dir_template[] = "/tmp/mphub-cxx-selftest-XXXXXX";
    const std::string dir = ::mkdtemp(dir_template) ? dir_template : "/tmp";
    std::vector<Check> checks{
        {"embedded Rust implementation: calls, declared and generic errors, C++ object by reference",
         [&] {
             auto e = mphub::cxx::embed(mphub::cxx::rustTestInit());
             calls_and_errors(*e.client);
         }},
        {"embedded C++ implementation through the adapter: same checks",
         [&] {
             auto e = mphub::cxx::embed(mphub::cxx::TestInitCap(make_test_init()));
             calls_and_errors(*e.client);
         }},
        {"a C++ server method runs on a bridge worker thread, not the caller's",
         [&] {
             auto probe = std::make_unique<Probe>(nullptr);
             Probe* raw = probe.get();
             auto e = embed_counter(std::move(probe));
             auto c = e.client->makeCounter(0);
             c->increment();
             expect(raw->on_worker, "increment() did not run on a worker thread");
             expect(raw->ran_on != main_thread, "increment() ran on the calling thread");
             expect(!mphub::cxx::onWorkerThread(), "main thread claims to be a worker");
         }},
        {"a C++ callback runs on a worker thread of the caller's runtime while the call waits",
         [&] {
             for (auto make : {+[] { return mphub::cxx::rustTestInit(); },
                               +[] { return mphub::cxx::TestInitCap(make_test_init()); }}) {
                 auto e = mphub::cxx::embed(make());
                 auto t = e.client->makeTester();
                 std::thread::id ran_on;
                 bool worker = false;
                 const auto r = t->callCallback(
                     [&](std::int32_t x) {
                         ran_on = std::this_thread::get_id();
                         worker = mphub::cxx::onWorkerThread();
                         return 3 * x;
                     },
                     7);
                 expect_eq("callCallback", r, 21);
                 expect(worker, "the callback did not run on a worker thread");
                 expect(ran_on != main_thread, "the callback ran on the calling thread");
                 // Recursion: the callback calls back into the server while it waits.
                 mphub::test::IntFn cb;
                 cb = [&](std::int32_t d) { return t->recurse(cb, d); };
                 expect_eq("recurse(cb, 4)", t->recurse(cb, 4), 4);
             }
         }},
        {"served C++ objects are destroyed when the peer releases them, on a worker thread",
         [&] {
             std::atomic<bool> destroyed{false};
             auto e = embed_counter(std::make_unique<Probe>(&destroyed));
             auto c = e.client->makeCounter(0);
             c->increment();
             c.reset(); // destroy
             const auto deadline = Clock::now() + std::chrono::seconds(1);
             while (!destroyed.load() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
             expect(destroyed.load(), "the C++ Counter was not destroyed within 1 s of its release");
             std::atomic<bool> init_gone{false};
             struct Init final : mphub::test::TestInit {
                 std::atomic<bool>* gone;
                 explicit Init(std::atomic<bool>* g) : gone(g) {}
                 ~Init() override { *gone = true; }
                 std::unique_ptr<mphub::test::Tester> makeTester() override { return nullptr; }
                 std::unique_ptr<mphub::test::Counter> makeCounter(std::int64_t) override { return nullptr; }
             };
             auto e2 = mphub::cxx::embed(mphub::cxx::TestInitCap(std::make_unique<Init>(&init_gone)));
             expect(e2.client->makeTester() == nullptr, "makeTester() returning nullptr arrives as null");
             e2.client.reset();
             e2.server.stop();
             expect(init_gone.load(), "the served C++ TestInit was not destroyed by Server::stop()");
         }},
        {"C++ exceptions of any type become remote failures",
         [&] {
             auto e = embed_counter(std::make_unique<Thrower>());
             auto c = e.client->makeCounter(0);
             auto x = expect_throw<Error>("increment() throwing 42", [&] { c->increment(); });
             expect(x.kind() == Error::Kind::Remote, std::string("kind: ") + x.what());
             expect(std::string(x.what()).find("unknown C++ exception") != std::string::npos, x.what());
             auto y = expect_throw<Error>("get() throwing runtime_error", [&] { c->get(); });
             expect(std::string(y.what()).find("get failed in C++") != std::string::npos, y.what());
         }},
        {"a Rust panic arrives as Error(Panic), not as an unwind",
         [&] {
             auto x = expect_throw<Error>("panic_for_test", [&] { mphub::cxx::detail::panic_for_test("boom"); });
             expect(x.kind() == Error::Kind::Panic, std::string("kind: ") + x.what());
             expect(std::string(x.what()).find("boom") != std::string::npos, x.what());
         }},
        {"connecting to a missing socket throws Error(Io)",
         [&] {
             auto x = expect_throw<Error>("connect", [&] { mphub::cxx::connectTestInit(dir + "/missing.sock"); });
             expect(x.kind() == Error::Kind::Io, std::string("kind: ") + x.what());
         }},
        {"Server::stop() is bounded while a C++ method runs; the pending call fails as a disconnect",
         [&] {
             const std::string path = dir + "/stop.sock";
             auto server = mphub::cxx::serve(mphub::cxx::TestInitCap(make_test_init()), path);
             expect_eq("Server::path()", server.path(), path);
             auto init = mphub::cxx::connectTestInit(path);
             auto t = init->makeTester();
             auto pending = std::async(std::launch::async, [&] {
                 try {
                     t->sleepMs(3000);
                     return std::string("returned");
                 } catch (const Error& e) {
                     return std::string(e.disconnected() ? "disconnected" : e.what());
                 }
             });
             std::this_thread::sleep_for(std::chrono::milliseconds(200));
             const auto start = Clock::now();
             server.stop();
             const long took = ms_since(start);
             expect(took <= 1000, "stop() took " + std::to_string(took) + " ms");
             expect(pending.wait_for(std::chrono::seconds(1)) == std::future_status::ready,
                    "the pending call did not fail within 1 s of stop()");
             expect_eq("pending call", pending.get(), std::string("disconnected"));
             expect(::access(path.c_str(), F_OK) != 0, "socket file left behind");
             auto x = expect_throw<Error>("call after stop", [&] { t->addInt64(1, 2); });
             expect(x.disconnected(), std::string("kind: ") + x.what());
         }},
        {"spawnTestInit: this program as a -ipcfd child, reaped on destruction",
         [&] {
             auto s = mphub::cxx::spawnTestInit(self_exe);
             auto t = s.client->makeTester();
             expect_eq("addInt64 in the child", t->addInt64(2, 3), 5);
             t.reset();
             s.client.reset();
             const auto code = s.process.wait(std::chrono::seconds(5));
             expect(code.has_value(), "the child did not exit after the client left");
             expect_eq("child exit code", *code, 0);
         }},
    };
    int passed = 0, failed = 0;
    for (auto& c : checks) {
        try {
            c.run();
            ++passed;
            std::cout << "ok   " << c.name << std::endl;
        } catch (const std::exception& e) {
            ++failed;
            std::cout << "FAIL " << c.name << ": " << e.what() << std::endl;
        }
    }
    ::rmdir(dir.c_str());
    std::cout << "selftest: " << passed << " passed, " << failed << " failed" << std::endl;
    return failed;
}

} // namespace host
