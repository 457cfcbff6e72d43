// mphub-cpp-capnp-peer: the `cpp-capnp` peer of the interop matrix (doc/interop.md).
// Cap'n Proto C++ RPC with libmultiprocess's conventions implemented by hand.

#include "client.h"
#include "corpus.h"
#include "server.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace {

const char* kUsage =
    "usage:\n"
    "  %1$s serve --socket PATH             serve TestInit on a unix socket (until SIGTERM/SIGINT)\n"
    "  %1$s -ipcfd N                        serve TestInit on inherited socket fd N (exit 0 on disconnect)\n"
    "  %1$s serve-echo (--socket PATH | -ipcfd N)\n"
    "                                       serve Bitcoin Core's Init/Echo (schema/bitcoin/master)\n"
    "  %1$s client (--socket PATH [--server-pid PID] | --spawn SERVER_BIN)\n"
    "         (--scenario NAME | --bench KIND --calls N [--warmup W])\n"
    "                                       run one scenario (exit 0 pass, 1 fail, 77 skip, 2 unknown)\n"
    "                                       or a benchmark (KIND: context, context-blocking, nocontext, data1m)\n"
    "  %1$s serve-corpus (--socket PATH | -ipcfd N)\n"
    "                                       serve mphub's corpus (schema/corpus)\n"
    "  %1$s client-corpus (--socket PATH | --spawn SERVER_BIN) [--scenario NAME]\n"
    "                                       run corpus scenarios (default all): `ok NAME` / `FAIL NAME: why`\n"
    "  %1$s client-echo --socket PATH --text T\n"
    "                                       Init.makeEcho + Echo.echo (e.g. against bitcoin-node)\n"
    "  %1$s scenarios                       list the scenario names\n";

int usage(const char* argv0, int code)
{
    fprintf(code == 0 ? stdout : stderr, kUsage, argv0);
    return code;
}

bool isNumber(const char* s)
{
    if (*s == 0) return false;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
    }
    return true;
}

// Reads `--name value` pairs after the subcommand.
bool parseFlags(int argc, char** argv, int first, std::map<std::string, std::string>& flags)
{
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0 && arg != "-ipcfd") return false;
        if (i + 1 >= argc) return false;
        flags[arg] = argv[++i];
    }
    return true;
}

long toLong(const std::string& s)
{
    char* end = nullptr;
    long v = strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != 0) throw std::runtime_error("not a number: " + s);
    return v;
}

int run(int argc, char** argv)
{
    using namespace peer;
    if (argc < 2) return usage(argv[0], 2);
    std::string cmd = argv[1];
    // Spawned child: Core's `-ipcfd N`, or libmultiprocess's example convention `<fd>`.
    if (cmd == "-ipcfd" && argc == 3 && isNumber(argv[2])) return serveFd(atoi(argv[2]), makeTestInit);
    if (argc == 2 && isNumber(argv[1])) return serveFd(atoi(argv[1]), makeTestInit);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") return usage(argv[0], 0);
    if (cmd == "scenarios") {
        for (auto& name : scenarioNames()) printf("%s\n", name.c_str());
        return 0;
    }
    std::map<std::string, std::string> flags;
    if (!parseFlags(argc, argv, 2, flags)) return usage(argv[0], 2);
    auto flag = [&](const char* name) { return flags.count(name) ? flags[name] : std::string(); };
    if (cmd == "client-corpus") {
        Endpoint endpoint;
        endpoint.socket = flag("--socket");
        endpoint.spawn = flag("--spawn");
        if (endpoint.socket.empty() == endpoint.spawn.empty()) return usage(argv[0], 2);
        std::vector<std::string> names;
        if (!flag("--scenario").empty() && flag("--scenario") != "all") names.push_back(flag("--scenario"));
        return runCorpusClient(endpoint, names);
    }
    if (cmd == "serve" || cmd == "serve-echo" || cmd == "serve-corpus") {
        BootstrapFactory bootstrap = cmd == "serve" ? makeTestInit : cmd == "serve-echo" ? makeEchoInit : makeCorpus;
        if (!flag("-ipcfd").empty()) return serveFd(static_cast<int>(toLong(flag("-ipcfd"))), bootstrap);
        if (flag("--socket").empty()) return usage(argv[0], 2);
        return serveSocket(flag("--socket"), bootstrap);
    }
    if (cmd == "client") {
        ClientOptions options;
        options.endpoint.socket = flag("--socket");
        options.endpoint.spawn = flag("--spawn");
        if (options.endpoint.socket.empty() == options.endpoint.spawn.empty()) return usage(argv[0], 2);
        if (!flag("--server-pid").empty()) options.serverPid = static_cast<pid_t>(toLong(flag("--server-pid")));
        options.scenario = flag("--scenario");
        options.bench = flag("--bench");
        if (options.scenario.empty() == options.bench.empty()) return usage(argv[0], 2);
        if (!options.bench.empty()) {
            if (flag("--calls").empty()) return usage(argv[0], 2);
            options.calls = toLong(flag("--calls"));
            if (!flag("--warmup").empty()) options.warmup = toLong(flag("--warmup"));
        }
        return runClient(options);
    }
    if (cmd == "client-echo") {
        if (flag("--socket").empty() || !flags.count("--text")) return usage(argv[0], 2);
        return runClientEcho(flag("--socket"), flags["--text"]);
    }
    return usage(argv[0], 2);
}

}  // namespace

int main(int argc, char** argv)
{
    peer::setExeName(argv[0]);
    try {
        return run(argc, argv);
    } catch (const kj::Exception& e) {
        fprintf(stderr, "%s: %s\n", peer::exeName().c_str(), e.getDescription().cStr());
    } catch (const std::exception& e) {
        fprintf(stderr, "%s: %s\n", peer::exeName().c_str(), e.what());
    }
    return 1;
}
