//! Runs the interop matrix through the built `mphub-interop` binary over every available
//! peer, with real processes and sockets. The Rust peer is (re)built first so a stale
//! binary is never tested (unless `MPHUB_PEER_RUST` names one); C++ peers join when their
//! variables are set.

use std::process::Command;

use serde_json::Value;

/// `cargo build` of the Rust peer binary, which `cargo test -p mphub-interop` alone does
/// not build (a binary of another package).
fn build_rust_peer() {
    if std::env::var_os("MPHUB_PEER_RUST").is_some() {
        return;
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-p", "mphub-test-peer", "--bin", "mphub-test-peer"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo build");
    assert!(status.success(), "cargo build -p mphub-test-peer failed");
}

#[test]
fn matrix_passes_and_rust_to_rust_is_complete() {
    build_rust_peer();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("matrix.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mphub-interop"))
        .args(["matrix", "--json"])
        .arg(&json)
        .output()
        .expect("running mphub-interop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "matrix failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cells = report["cells"].as_array().expect("cells");
    for c in cells {
        assert_ne!(c["status"], "fail", "{c}");
    }
    // The Rust peer is always there, so this cannot pass with an empty matrix.
    for transport in ["socket", "spawn"] {
        let rust: Vec<&Value> = cells
            .iter()
            .filter(|c| {
                c["client"] == "rust" && c["server"] == "rust" && c["transport"] == transport
            })
            .collect();
        assert_eq!(rust.len(), 22, "rust → rust/{transport} cells: {rust:?}");
        for c in rust {
            assert_eq!(c["status"], "pass", "{c}");
        }
    }
}
