// README "Use from C++": serve the embedded Rust implementation of schema/test on a unix
// socket, call it through the C++ interface, and serve a C++ implementation through the
// Rust runtime. Build: c++ -o hello hello.cpp $(pkg-config --cflags --libs mphub-cxx)
#include <mphub/cxx/test.h>

#include <atomic>
#include <iostream>
#include <string>

#include <unistd.h>

struct MyCounter final : mphub::test::Counter {
    std::atomic<std::int64_t> n{0};
    std::int64_t increment() override { return ++n; }
    std::int64_t get() override { return n; }
};

struct MyInit final : mphub::test::TestInit {
    std::unique_ptr<mphub::test::Tester> makeTester() override { return nullptr; }
    std::unique_ptr<mphub::test::Counter> makeCounter(std::int64_t) override { return std::make_unique<MyCounter>(); }
};

int main()
{
    try {
        // A Rust server in this process, reachable by other processes on the socket.
        const std::string path = "/tmp/mphub-hello-" + std::to_string(getpid()) + ".sock";
        mphub::cxx::Server server = mphub::cxx::serve(mphub::cxx::rustTestInit(), path);

        // A client: RemoteTester implements mphub::test::Tester over IPC.
        std::unique_ptr<mphub::cxx::RemoteTestInit> init = mphub::cxx::connectTestInit(path);
        std::unique_ptr<mphub::test::Tester> tester = init->makeTester();
        std::cout << "40 + 2 = " << tester->addInt64(40, 2) << "\n";
        try {
            tester->raise(7, "boom");
        } catch (const mphub::test::TestError& e) {
            std::cout << "TestError " << e.code << " " << e.message << "\n";
        }
        std::cout << "callback: " << tester->callCallback([](std::int32_t x) { return 3 * x; }, 7) << "\n";

        // A C++ implementation served by the Rust runtime (here over an in-process socketpair).
        auto embedded = mphub::cxx::embed(mphub::cxx::TestInitCap(std::make_unique<MyInit>()));
        auto counter = embedded.client->makeCounter(0);
        counter->increment();
        std::cout << "counter: " << counter->get() << "\n";
    } catch (const mphub::cxx::Error& e) {
        std::cerr << "IPC error: " << e.what() << "\n";
        return 1;
    }
    // Handles are RAII: clients release their remote objects, servers stop (bounded).
    return 0;
}
