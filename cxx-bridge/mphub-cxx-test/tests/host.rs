//! The C++ host (`cpp/host`, peer `cpp-embedded-rust`) built with CMake against the
//! exported package, run against the Rust peer (`mphub-test-peer`) in both directions,
//! over unix sockets and spawned children, for every scenario of doc/interop.md.

mod common;

use std::path::Path;

use common::*;

/// Runs every scenario with `client` against `server`; returns the failures.
fn matrix(
    client: &Path,
    server: &Path,
    server_env: &[(&str, &str)],
    cpp_client: bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    for transport in ["socket", "spawn"] {
        for scenario in SCENARIOS {
            let out = if transport == "socket" {
                let s = SocketServer::start(server, &[], server_env);
                let out = run_client(&[], client, Some(&s), None, scenario, &[]);
                drop(s);
                out
            } else {
                run_client(&[], client, None, Some(server), scenario, server_env)
            };
            let code = out.status.code();
            let want_skip = cpp_client && CPP_CLIENT_SKIPS.contains(scenario);
            let ok = if want_skip {
                code == Some(77) && String::from_utf8_lossy(&out.stdout).contains("SKIPPED:")
            } else {
                code == Some(0)
            };
            let line = format!(
                "{} -> {} {transport} {scenario}: {:?} {}",
                client.file_name().unwrap_or_default().to_string_lossy(),
                server.file_name().unwrap_or_default().to_string_lossy(),
                code,
                reason(&out)
            );
            println!("{line}");
            if !ok {
                failures.push(line);
            }
        }
    }
    failures
}

#[test]
fn selftest_threads_ownership_errors_and_bounded_stop() {
    let _serial = serial();
    let out = std::process::Command::new(host())
        .arg("selftest")
        .output()
        .expect("running the host self-test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(" 0 failed"),
        "host selftest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cpp_client_against_rust_server_every_scenario() {
    let _serial = serial();
    let failures = matrix(host(), rust_peer(), &[], true);
    assert!(
        failures.is_empty(),
        "failed cells:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rust_client_against_cpp_host_serving_its_cpp_implementation() {
    let _serial = serial();
    let failures = matrix(rust_peer(), host(), &[("MPHUB_HOST_IMPL", "cpp")], false);
    assert!(
        failures.is_empty(),
        "failed cells:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rust_client_against_cpp_host_serving_the_embedded_rust_implementation() {
    let _serial = serial();
    let failures = matrix(rust_peer(), host(), &[("MPHUB_HOST_IMPL", "rust")], false);
    assert!(
        failures.is_empty(),
        "failed cells:\n{}",
        failures.join("\n")
    );
}

#[test]
fn pkg_config_file_builds_the_readme_example() {
    let _serial = serial();
    let _ = host(); // builds the library and exports the package
    let pc_dir = profile_dir().join("mphub-cxx-test/lib/pkgconfig");
    let flags = std::process::Command::new("pkg-config")
        .args(["--cflags", "--libs", "mphub-cxx-test"])
        .env("PKG_CONFIG_PATH", &pc_dir)
        .output()
        .expect("running pkg-config");
    assert!(flags.status.success(), "pkg-config mphub-cxx-test failed");
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("hello");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cpp/host/examples/hello.cpp");
    let out = std::process::Command::new("c++")
        .args(["-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&example)
        .args(flags.split_whitespace())
        .output()
        .expect("running c++");
    assert!(
        out.status.success(),
        "compiling the README example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = std::process::Command::new(&exe)
        .output()
        .expect("running the example");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "example failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("40 + 2 = 42"),
        "unexpected output: {stdout}"
    );
}
