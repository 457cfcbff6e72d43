//! Memory check: the C++ host runs the interop scenarios under valgrind (memcheck), as a
//! client against the Rust peer and as a server for the Rust peer. Passes when valgrind
//! reports no definitely-lost blocks and no invalid reads or writes. Without valgrind on
//! PATH it prints `SKIPPED: valgrind is not installed` (depends/install.sh installs it).
//!
//! Valgrind slows the host down ~20x, so the few scenarios with wall-clock limits
//! (`TIMING`) may fail on time under it; they still count for the memory check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const TIMING: &[&str] = &["parallel", "killed-mid-call", "destroy"];

fn valgrind() -> Option<PathBuf> {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("valgrind"))
}

fn valgrind_prefix(log: &Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--error-exitcode=99".into(),
        "--leak-check=full".into(),
        "--errors-for-leak-kinds=definite".into(),
        "--show-leak-kinds=definite".into(),
        "--child-silent-after-fork=yes".into(),
        format!("--log-file={}", log.display()),
    ]
}

/// Problems valgrind reported in `log` (empty when clean).
fn memory_problems(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut problems: Vec<String> = text
        .lines()
        .filter(|l| {
            l.contains("Invalid read")
                || l.contains("Invalid write")
                || l.contains("Invalid free")
                || l.contains("definitely lost in")
                || l.contains("uninitialised value")
        })
        .map(str::to_string)
        .collect();
    if let Some(summary) = text.lines().find(|l| l.contains("definitely lost:")) {
        if !summary.contains("definitely lost: 0 bytes") {
            problems.push(summary.to_string());
        }
    }
    if !problems.is_empty() {
        problems.push(format!("(full report: {})", log.display()));
    }
    problems
}

#[test]
fn host_scenarios_are_memory_clean_under_valgrind() {
    let _serial = serial();
    if valgrind().is_none() {
        println!("SKIPPED: valgrind is not installed (depends/install.sh installs it)");
        return;
    }
    let host = host();
    let peer = rust_peer();
    let logs = tempfile::Builder::new()
        .prefix("mphub-valgrind-")
        .tempdir()
        .expect("tempdir");
    // Keep the reports when something fails.
    let logs = logs.keep();
    let mut failures = Vec::new();

    // 1. The host as a client (every scenario) against the Rust peer's socket server.
    for scenario in SCENARIOS {
        let server = SocketServer::start(peer, &[], &[]);
        let log = logs.join(format!("client-{scenario}.log"));
        let prefix = valgrind_prefix(&log);
        let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let out = run_client(
            &prefix,
            host,
            Some(&server),
            None,
            scenario,
            &[("MPHUB_HOST_DEADLINE_S", "120")],
        );
        drop(server);
        let code = out.status.code();
        let mut problems = memory_problems(&log);
        if !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("ERROR SUMMARY: 0 errors")
        {
            problems.push(format!("no clean ERROR SUMMARY in {}", log.display()));
        }
        println!("valgrind client {scenario}: exit {code:?} {}", reason(&out));
        if code == Some(99) || !problems.is_empty() {
            failures.push(format!("client {scenario}: {}", problems.join("; ")));
        } else if !matches!(code, Some(0) | Some(77)) && !TIMING.contains(scenario) {
            failures.push(format!(
                "client {scenario}: exit {code:?}: {}",
                reason(&out)
            ));
        }
    }

    // 2. The host as a server (its C++ implementation through the adapter) under
    // valgrind, for every scenario but killed-mid-call (which SIGKILLs the server, so
    // valgrind could not report); then SIGTERM, and valgrind's report at exit.
    let log = logs.join("server.log");
    let prefix = valgrind_prefix(&log);
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let server = SocketServer::start(host, &prefix, &[("MPHUB_HOST_IMPL", "cpp")]);
    for scenario in SCENARIOS.iter().filter(|s| **s != "killed-mid-call") {
        let out = Command::new(peer)
            .arg("client")
            .arg("--socket")
            .arg(&server.path)
            .args(["--scenario", scenario])
            .output()
            .expect("running the Rust client");
        let code = out.status.code();
        println!("valgrind server {scenario}: exit {code:?} {}", reason(&out));
        if !matches!(code, Some(0) | Some(77)) && !TIMING.contains(scenario) {
            failures.push(format!(
                "server {scenario}: exit {code:?}: {}",
                reason(&out)
            ));
        }
    }
    let stderr = server.stop();
    let problems = memory_problems(&log);
    if !problems.is_empty() {
        failures.push(format!("server: {}", problems.join("; ")));
    }
    if !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("ERROR SUMMARY: 0 errors")
    {
        failures.push(format!(
            "server: valgrind did not report 0 errors at exit (log {}); stderr: {stderr}",
            log.display()
        ));
    }
    assert!(
        failures.is_empty(),
        "valgrind found problems (logs in {}):\n{}",
        logs.display(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&logs);
}
