// mphub-cpp-libmultiprocess-peer: the `cpp-libmultiprocess` peer of the interop matrix.
// Command line and behaviour: doc/interop.md.

#include "peer.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace {

const char* const kUsage =
    "usage:\n"
    "  mphub-cpp-libmultiprocess-peer serve --socket PATH\n"
    "  mphub-cpp-libmultiprocess-peer -ipcfd N\n"
    "  mphub-cpp-libmultiprocess-peer client (--socket PATH [--server-pid PID] | --spawn SERVER_BIN)\n"
    "      (--scenario NAME | --bench KIND --calls N [--warmup W] [--threads T])\n"
    "bench kinds: context, context-blocking, nocontext, data1m, concurrent-one, concurrent-each, scale\n";

int Usage(const std::string& problem)
{
    std::cerr << kUsage;
    std::cerr << problem << std::endl;
    return 2;
}

template <typename T>
bool ParseNumber(std::string_view text, T& out)
{
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) return Usage("missing command");
    const std::string_view command{argv[1]};

    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << kUsage << "scenarios:";
        for (const auto& name : mphub::peer::ScenarioNames()) std::cout << ' ' << name;
        std::cout << std::endl;
        return 0;
    }

    if (command == "-ipcfd") {
        int fd = -1;
        if (argc != 3 || !ParseNumber(argv[2], fd) || fd < 0) return Usage("-ipcfd takes one file descriptor number");
        return mphub::peer::ServeFd(fd);
    }

    if (command == "serve") {
        if (argc != 4 || std::string_view{argv[2]} != "--socket") return Usage("serve takes --socket PATH");
        return mphub::peer::ServeSocket(argv[3]);
    }

    if (command != "client") return Usage("unknown command: " + std::string{command});

    mphub::peer::ClientOptions options;
    bool have_calls = false;
    for (int i = 2; i < argc; ++i) {
        const std::string_view flag{argv[i]};
        if (i + 1 >= argc) return Usage("missing value for " + std::string{flag});
        const std::string_view value{argv[++i]};
        if (flag == "--socket") {
            options.socket_path = value;
        } else if (flag == "--spawn") {
            options.spawn_bin = value;
        } else if (flag == "--scenario") {
            options.scenario = value;
        } else if (flag == "--bench") {
            options.bench_kind = value;
        } else if (flag == "--server-pid") {
            int pid = 0;
            if (!ParseNumber(value, pid) || pid <= 0) return Usage("bad --server-pid");
            options.server_pid = pid;
        } else if (flag == "--calls") {
            if (!ParseNumber(value, options.calls)) return Usage("bad --calls");
            have_calls = true;
        } else if (flag == "--threads") {
            if (!ParseNumber(value, options.threads) || options.threads == 0) return Usage("bad --threads");
        } else if (flag == "--warmup") {
            uint64_t warmup = 0;
            if (!ParseNumber(value, warmup)) return Usage("bad --warmup");
            options.warmup = warmup;
        } else {
            return Usage("unknown option: " + std::string{flag});
        }
    }
    if (options.socket_path.empty() == options.spawn_bin.empty()) return Usage("give exactly one of --socket, --spawn");
    if (options.scenario.empty() == options.bench_kind.empty()) return Usage("give exactly one of --scenario, --bench");
    if (!options.bench_kind.empty() && !have_calls) return Usage("--bench needs --calls");
    return mphub::peer::RunClient(options);
}
