//! The peer binary's exit-code contract (doc/interop.md): 2 for an unknown scenario,
//! 77 with `SKIPPED:` for a scenario it cannot express, 1 with the reason last on stderr.

use std::process::Command;

const PEER: &str = env!("CARGO_BIN_EXE_mphub-test-peer");

#[test]
fn unknown_scenario_exits_2() {
    let out = Command::new(PEER)
        .args(["client", "--spawn", PEER, "--scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn killed_mid_call_over_a_socket_without_pid_skips() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let mut server = Command::new(PEER)
        .args(["serve", "--socket"])
        .arg(&sock)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sock.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = Command::new(PEER)
        .args(["client", "--scenario", "killed-mid-call", "--socket"])
        .arg(&sock)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SKIPPED: "));
}

#[test]
fn unreachable_server_fails_with_reason_last() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(PEER)
        .args(["client", "--scenario", "primitives", "--socket"])
        .arg(dir.path().join("nobody.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("nobody.sock"), "{stderr}");
}
