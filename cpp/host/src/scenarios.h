// The client half of the interop peer contract (doc/interop.md), through the bridge's
// C++ classes (mphub::cxx::RemoteTestInit, RemoteTester, ...).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace host {

//! Exit codes fixed by the contract.
enum Exit : int { PASS = 0, FAIL = 1, USAGE = 2, SKIP = 77 };

//! Where the server peer is: a socket (optionally with its pid), or a binary to spawn.
struct Target {
    std::string socket;
    std::optional<pid_t> server_pid;
    std::string spawn;
};

//! Every scenario of doc/interop.md, killed-mid-call last.
const std::vector<std::string>& scenarios();

//! Runs one scenario; prints `SKIPPED: <why>` or the failure reason (last stderr line).
int run_scenario(const Target& target, const std::string& name);

//! Runs a benchmark and prints one JSON line.
int run_bench(const Target& target, const std::string& kind, std::size_t calls, std::size_t warmup);

} // namespace host
