// mphub-cxx-host: the interop peer `cpp-embedded-rust` (doc/interop.md).
//
//   mphub-cxx-host serve --socket PATH [--impl cpp|rust]
//   mphub-cxx-host -ipcfd N
//   mphub-cxx-host client (--socket PATH [--server-pid PID] | --spawn SERVER_BIN) --scenario NAME
//   mphub-cxx-host client (--socket PATH | --spawn SERVER_BIN) --bench KIND --calls N [--warmup W]
//   mphub-cxx-host selftest
//
// As a server it serves, by default, its own C++ implementation of mphub::test::TestInit
// (test_impl.cpp) through the bridge's adapter; `--impl rust` (or MPHUB_HOST_IMPL=rust,
// which `-ipcfd` children inherit) serves the embedded Rust reference implementation.
// As a client it runs the scenarios through mphub::cxx::RemoteTester & co.
#include "scenarios.h"
#include "selftest.h"
#include "test_impl.h"

#include <mphub/cxx/test.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <unistd.h>

namespace {

int usage(const std::string& why)
{
    std::cerr << "mphub-cxx-host: " << why << "\n"
              << "usage: mphub-cxx-host serve --socket PATH [--impl cpp|rust]\n"
              << "       mphub-cxx-host -ipcfd N\n"
              << "       mphub-cxx-host client (--socket PATH [--server-pid PID] | --spawn BIN) --scenario NAME\n"
              << "       mphub-cxx-host client (--socket PATH | --spawn BIN) --bench KIND --calls N [--warmup W]\n"
              << "       mphub-cxx-host selftest" << std::endl;
    return host::USAGE;
}

mphub::cxx::TestInitCap implementation(const std::string& which)
{
    if (which == "rust") return mphub::cxx::rustTestInit();
    return mphub::cxx::TestInitCap(host::make_test_init());
}

std::string impl_from_env()
{
    const char* v = std::getenv("MPHUB_HOST_IMPL");
    return v ? v : "cpp";
}

bool parse_number(const std::string& s, long long& out)
{
    try {
        std::size_t used = 0;
        out = std::stoll(s, &used);
        return used == s.size();
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        mphub::cxx::initLogging();
        if (args.size() == 2 && args[0] == "-ipcfd") {
            long long fd = -1;
            if (!parse_number(args[1], fd) || fd < 0) return usage("bad fd '" + args[1] + "'");
            auto server = mphub::cxx::serveFd(implementation(impl_from_env()), static_cast<int>(fd));
            server.wait(); // until the parent disconnects
            return 0;
        }
        if (args.empty()) return usage("missing command");
        const std::string cmd = args[0];
        std::string socket, spawn, scenario, bench, impl = impl_from_env();
        std::optional<pid_t> server_pid;
        long long calls = 2000, warmup = -1;
        for (std::size_t i = 1; i < args.size(); ++i) {
            const std::string& a = args[i];
            auto value = [&](std::string& out) {
                if (i + 1 >= args.size()) return false;
                out = args[++i];
                return true;
            };
            std::string v;
            if (a == "--socket" && value(socket)) continue;
            if (a == "--spawn" && value(spawn)) continue;
            if (a == "--scenario" && value(scenario)) continue;
            if (a == "--bench" && value(bench)) continue;
            if (a == "--impl" && value(impl)) continue;
            long long n = 0;
            if (a == "--server-pid" && value(v) && parse_number(v, n) && n > 0) {
                server_pid = static_cast<pid_t>(n);
                continue;
            }
            if (a == "--calls" && value(v) && parse_number(v, calls) && calls >= 0) continue;
            if (a == "--warmup" && value(v) && parse_number(v, warmup) && warmup >= 0) continue;
            return usage("bad argument '" + a + "'");
        }
        if (impl != "cpp" && impl != "rust") return usage("--impl must be cpp or rust");
        if (cmd == "selftest") {
            return host::selftest(argv[0]) == 0 ? 0 : 1;
        }
        if (cmd == "serve") {
            if (socket.empty()) return usage("serve needs --socket PATH");
            // Block SIGTERM/SIGINT in every thread (the runtime's threads inherit the
            // mask) and wait for them here.
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGTERM);
            sigaddset(&set, SIGINT);
            pthread_sigmask(SIG_BLOCK, &set, nullptr);
            auto server = mphub::cxx::serve(implementation(impl), socket);
            std::cerr << "mphub-cxx-host: serving the " << impl << " implementation on " << socket << std::endl;
            int sig = 0;
            sigwait(&set, &sig);
            server.stop();
            return 0;
        }
        if (cmd == "client") {
            if (socket.empty() == spawn.empty()) return usage("client needs exactly one of --socket and --spawn");
            const host::Target target{socket, server_pid, spawn};
            if (!scenario.empty()) {
                // The contract's deadline: a client finishes within 20 s (MPHUB_HOST_DEADLINE_S
                // overrides it, e.g. under valgrind).
                long long deadline = 20;
                if (const char* d = std::getenv("MPHUB_HOST_DEADLINE_S")) {
                    if (!parse_number(d, deadline) || deadline <= 0) return usage("bad MPHUB_HOST_DEADLINE_S");
                }
                std::thread([scenario, deadline] {
                    std::this_thread::sleep_for(std::chrono::seconds(deadline));
                    std::cerr << "mphub-cxx-host: " << scenario << ": did not finish within " << deadline << " s"
                              << std::endl;
                    std::_Exit(host::FAIL);
                }).detach();
                const auto& all = host::scenarios();
                if (std::find(all.begin(), all.end(), scenario) == all.end()) {
                    std::cerr << "mphub-cxx-host: unknown scenario '" << scenario << "'" << std::endl;
                    return host::USAGE;
                }
                return host::run_scenario(target, scenario);
            }
            if (!bench.empty()) {
                const auto w = warmup < 0 ? calls / 10 : warmup;
                return host::run_bench(target, bench, static_cast<std::size_t>(calls), static_cast<std::size_t>(w));
            }
            return usage("client needs --scenario NAME or --bench KIND");
        }
        return usage("unknown command '" + cmd + "'");
    } catch (const std::exception& e) {
        std::cerr << "mphub-cxx-host: " << e.what() << std::endl;
        return host::FAIL;
    }
}
