//! The example as a user runs it: the server program on a socket, the client program
//! against it, the client's output checked.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn client_and_server_programs_compute_over_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("calc.sock");
    let mut server = Command::new(env!("CARGO_BIN_EXE_calculator-server"))
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .expect("starting calculator-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(
            Instant::now() < deadline,
            "the server never created its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_calculator-client"))
        .arg(&sock)
        .output()
        .expect("running calculator-client");
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "6 * 7 = 42",
        "42 - 2 = 40",
        "stack: [40.0]",
        "watcher: depth 2, top Some(7.0)",
        "watcher: depth 1, top Some(42.0)",
        "apply(add) on one value: Add needs two values, the stack has 1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
