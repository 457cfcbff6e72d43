//! The libmultiprocess peer against itself: every scenario over a unix socket and over a
//! spawned `-ipcfd` child, plus one short benchmark run. Skipped (with a note) when the
//! peer was not built because `MPHUB_LIBMULTIPROCESS_PREFIX` was not set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn peer() -> Option<PathBuf> {
    match mphub_cpp_libmultiprocess_peer::peer_path() {
        Ok(path) => Some(path),
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// Scenario names as the binary lists them (`--help`: "scenarios: a b c").
fn scenarios(peer: &Path) -> Vec<String> {
    let out = Command::new(peer)
        .arg("--help")
        .output()
        .expect("running --help");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("scenarios:"))
        .expect("--help lists scenarios");
    let names: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    assert!(names.len() >= 20, "too few scenarios: {names:?}");
    names
}

fn client(peer: &Path, args: &[&str]) -> Output {
    Command::new(peer)
        .arg("client")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running the client")
}

/// The client running `scenario` against `server` on `socket`.
fn run_scenario(peer: &Path, socket: &Path, server: &Server, scenario: &str) -> Output {
    let pid = server.child.id().to_string();
    client(
        peer,
        &[
            "--socket",
            socket.to_str().expect("utf-8 path"),
            "--server-pid",
            &pid,
            "--scenario",
            scenario,
        ],
    )
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Server {
    child: Child,
}

impl Server {
    fn start(peer: &Path, socket: &Path) -> Server {
        let child = Command::new(peer)
            .arg("serve")
            .arg("--socket")
            .arg(socket)
            .spawn()
            .expect("starting the server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "server did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_scenario_over_spawn() {
    let Some(peer) = peer() else { return };
    let bin = peer.to_str().expect("utf-8 path");
    for scenario in scenarios(&peer) {
        let out = client(&peer, &["--spawn", bin, "--scenario", &scenario]);
        assert!(
            out.status.success(),
            "{scenario} over --spawn: {}",
            describe(&out)
        );
    }
}

#[test]
fn every_scenario_over_socket() {
    let Some(peer) = peer() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("peer.sock");
    let mut server = Server::start(&peer, &socket);
    for scenario in scenarios(&peer) {
        let out = run_scenario(&peer, &socket, &server, &scenario);
        assert!(
            out.status.success(),
            "{scenario} over a socket: {}",
            describe(&out)
        );
        if scenario == "killed-mid-call" {
            drop(server);
            server = Server::start(&peer, &socket);
        }
    }
    // Without --server-pid the kill scenario cannot run over a socket: exit 77.
    let out = client(
        &peer,
        &[
            "--socket",
            socket.to_str().expect("utf-8 path"),
            "--scenario",
            "killed-mid-call",
        ],
    );
    assert_eq!(out.status.code(), Some(77), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SKIPPED: "));
}

#[test]
fn unknown_scenario_is_exit_2() {
    let Some(peer) = peer() else { return };
    let out = client(
        &peer,
        &["--socket", "/nonexistent", "--scenario", "no-such-scenario"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn bench_prints_one_json_line() {
    let Some(peer) = peer() else { return };
    let bin = peer.to_str().expect("utf-8 path");
    for kind in ["context", "context-blocking", "nocontext", "data1m"] {
        let out = client(
            &peer,
            &[
                "--spawn", bin, "--bench", kind, "--calls", "20", "--warmup", "2",
            ],
        );
        assert!(out.status.success(), "bench {kind}: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "bench {kind} printed {stdout:?}");
        let line = lines[0];
        let head = format!(
            "{{\"peer\":\"{}\",\"kind\":\"{kind}\",\"calls\":20,\"samples_ns\":[",
            mphub_cpp_libmultiprocess_peer::PEER_NAME
        );
        assert!(
            line.starts_with(&head) && line.ends_with("]}"),
            "bench {kind}: {line}"
        );
        let samples = &line[head.len()..line.len() - 2];
        let parsed: Vec<u64> = samples
            .split(',')
            .map(|s| s.parse::<u64>().expect("integer sample"))
            .collect();
        assert_eq!(parsed.len(), 20, "bench {kind}: {line}");
    }
}

#[test]
fn a_second_server_leaves_a_running_servers_socket_alone() {
    let Some(peer) = peer() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("peer.sock");
    let server = Server::start(&peer, &socket);
    let mut second = Command::new(&peer)
        .arg("serve")
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a second server");
    // Before the fix the second server took the path over and kept serving.
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.try_wait().expect("waiting").is_none() {
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("the second server took over {}", socket.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = second.wait_with_output().expect("collecting its output");
    assert!(!second.status.success(), "{}", describe(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("in use"),
        "{}",
        describe(&second)
    );
    let out = run_scenario(&peer, &socket, &server, "primitives");
    assert!(
        out.status.success(),
        "first server after the second: {}",
        describe(&out)
    );
}
