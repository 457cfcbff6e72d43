//! Runs the cpp-capnp peer against itself: its client drives its server through every
//! scenario of doc/interop.md, over a unix socket and over a spawned child (`-ipcfd N`).
//! The cross-language matrix is interop-tests' job; this checks the peer on its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mphub_cpp_capnp_peer::peer_path;

fn scenarios() -> Vec<String> {
    let out = Command::new(peer_path())
        .arg("scenarios")
        .output()
        .expect("running the peer");
    assert!(out.status.success(), "`scenarios` failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8 scenario names")
        .lines()
        .map(str::to_string)
        .collect()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn client(args: &[&str]) -> Output {
    Command::new(peer_path())
        .arg("client")
        .args(args)
        .output()
        .expect("running the client")
}

/// A `serve --socket` server, killed when dropped.
struct SocketServer {
    child: Child,
    socket: PathBuf,
}

impl SocketServer {
    fn start(dir: &Path) -> SocketServer {
        let socket = dir.join("peer.sock");
        let child = Command::new(peer_path())
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "server did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SocketServer { child, socket }
    }

    fn path(&self) -> &str {
        self.socket.to_str().expect("utf-8 temp path")
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_scenario_over_a_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = SocketServer::start(dir.path());
    let pid = server.child.id().to_string();
    let mut failed = Vec::new();
    // killed-mid-call kills the server, so it goes last (as in the harness).
    let mut names: Vec<String> = scenarios()
        .into_iter()
        .filter(|s| s != "killed-mid-call")
        .collect();
    names.push("killed-mid-call".into());
    for name in &names {
        let out = client(&[
            "--socket",
            server.path(),
            "--server-pid",
            &pid,
            "--scenario",
            name,
        ]);
        if !out.status.success() {
            failed.push(format!("{name}: {}", describe(&out)));
        }
    }
    assert!(
        failed.is_empty(),
        "failed over a socket:\n{}",
        failed.join("\n")
    );
    let status = server.child.wait().expect("waiting for the killed server");
    assert!(
        !status.success(),
        "killed-mid-call should have killed the server"
    );
}

#[test]
fn every_scenario_over_a_spawned_child() {
    let peer = peer_path();
    let peer = peer.to_str().expect("utf-8 peer path");
    let mut failed = Vec::new();
    for name in scenarios() {
        let out = client(&["--spawn", peer, "--scenario", &name]);
        if !out.status.success() {
            failed.push(format!("{name}: {}", describe(&out)));
        }
    }
    assert!(
        failed.is_empty(),
        "failed over spawn:\n{}",
        failed.join("\n")
    );
}

#[test]
fn server_edges_beyond_the_contract() {
    // makePool and its second-call error; a call on a destroyed object is an error, not a crash.
    let peer = peer_path();
    let peer = peer.to_str().expect("utf-8 peer path");
    for name in ["extra-pool", "extra-after-destroy"] {
        let out = client(&["--spawn", peer, "--scenario", name]);
        assert!(out.status.success(), "{name}: {}", describe(&out));
    }
}

#[test]
fn server_survives_a_client_killed_inside_a_callback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = SocketServer::start(dir.path());
    let mut victim = Command::new(peer_path())
        .args([
            "client",
            "--socket",
            server.path(),
            "--scenario",
            "extra-slow-callback",
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the client");
    // The server's worker is now blocked in the call back into that client.
    std::thread::sleep(Duration::from_millis(500));
    victim.kill().expect("killing the client");
    let _ = victim.wait();
    let out = client(&["--socket", server.path(), "--scenario", "callback"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        server.child.try_wait().expect("server status").is_none(),
        "the server died"
    );
}

#[test]
fn killed_mid_call_over_a_socket_without_pid_is_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = SocketServer::start(dir.path());
    let out = client(&["--socket", server.path(), "--scenario", "killed-mid-call"]);
    assert_eq!(out.status.code(), Some(77), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SKIPPED: "));
}

#[test]
fn unknown_scenario_exits_2() {
    let out = client(&["--spawn", "/nonexistent", "--scenario", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn spawned_server_exits_0_when_the_client_leaves() {
    // The client reaps its child and warns when it did not leave with status 0 by itself.
    let peer = peer_path();
    let peer = peer.to_str().expect("utf-8 peer path");
    for name in ["no-context", "callback-outside-call", "hostile-oversize"] {
        let out = client(&["--spawn", peer, "--scenario", name]);
        assert!(out.status.success(), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("did not exit 0"),
            "{name}: {}",
            describe(&out)
        );
    }
}

#[test]
fn benchmarks_print_one_json_line() {
    let peer = peer_path();
    let peer = peer.to_str().expect("utf-8 peer path");
    for kind in ["context", "context-blocking", "nocontext", "data1m"] {
        let out = client(&[
            "--spawn", peer, "--bench", kind, "--calls", "20", "--warmup", "2",
        ]);
        assert!(out.status.success(), "{kind}: {}", describe(&out));
        let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{kind}: want one line, got {stdout:?}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON line");
        assert_eq!(v["peer"], "cpp-capnp");
        assert_eq!(v["kind"], kind);
        assert_eq!(v["calls"], 20);
        let samples = v["samples_ns"].as_array().expect("samples_ns array");
        assert_eq!(samples.len(), 20);
        assert!(samples.iter().all(|s| s.as_u64().is_some_and(|ns| ns > 0)));
    }
}

#[test]
fn echo_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("echo.sock");
    let mut server = Command::new(peer_path())
        .arg("serve-echo")
        .arg("--socket")
        .arg(&socket)
        .stderr(Stdio::null())
        .spawn()
        .expect("starting serve-echo");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "serve-echo did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(peer_path())
        .arg("client-echo")
        .arg("--socket")
        .arg(&socket)
        .arg("--text")
        .arg("hello from cpp-capnp")
        .output()
        .expect("running client-echo");
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from cpp-capnp\n"
    );
}
