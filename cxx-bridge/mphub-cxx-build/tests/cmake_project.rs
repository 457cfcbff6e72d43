//! A user's CMake project with its own schema and no C++ header (`cpp/examples/kvstore`),
//! copied to a clean folder, configured against the package `cargo build -p mphub-cxx`
//! exports, built (its bindings crate is generated and built by `mphub_cxx_bindings()`,
//! offline, with the workspace's lockfile and target folder) and run: the program serves
//! its C++ implementation and checks every answer of the generated client.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// `target/<profile>`, from this test binary's path (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn cmake_project_with_its_own_schema_and_generated_types() {
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-p", "mphub-cxx", "--lib"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    run(&mut build, "cargo build -p mphub-cxx");
    let package = profile_dir().join("mphub-cxx");
    assert!(
        package
            .join("lib/cmake/mphub-cxx/mphub-cxxConfig.cmake")
            .is_file(),
        "cargo build -p mphub-cxx did not export the CMake package into {}",
        package.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("kvstore");
    copy_tree(&workspace().join("cpp/examples/kvstore"), &source);
    let build_dir = dir.path().join("build");
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build_dir)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", package.display())),
        "cmake configure of the kvstore example",
    );
    run(
        Command::new("cmake")
            .arg("--build")
            .arg(&build_dir)
            .args(["-j", "2"]),
        "cmake build of the kvstore example",
    );
    let generated =
        profile_dir().join("mphub_bindings_kvstore_bindings/include/mphub/cxx/kvstore-types.h");
    let types = std::fs::read_to_string(&generated)
        .unwrap_or_else(|e| panic!("{}: {e}", generated.display()));
    assert!(
        types.contains("class Store") && types.contains("struct NotFound : std::exception"),
        "the generated types header lacks the Store class or the NotFound exception:\n{types}"
    );
    let out = run(
        &mut Command::new(build_dir.join("kvstore-demo")),
        "running kvstore-demo",
    );
    assert!(
        out.contains("kvstore-demo: all checks passed") && !out.contains("FAIL"),
        "{out}"
    );
    let passed = out.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, 28, "expected 28 passed checks:\n{out}");

    // The same run under valgrind: client and server round trips in one process, so
    // both sides of the generated bridge are checked for leaks and invalid accesses.
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("SKIPPED: kvstore-demo under valgrind: valgrind is not installed");
        return;
    }
    let log = dir.path().join("valgrind.log");
    let out = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(format!("--log-file={}", log.display()))
        .arg(build_dir.join("kvstore-demo"))
        .output()
        .expect("running valgrind");
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success()
            && (report.contains("definitely lost: 0 bytes")
                || report.contains("no leaks are possible"))
            && report.contains("ERROR SUMMARY: 0 errors"),
        "kvstore-demo under valgrind ({}):\n{}\n{report}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}
