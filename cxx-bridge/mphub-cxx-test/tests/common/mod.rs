//! Shared by the C++ host tests: builds `cpp/host` with CMake against the package this
//! crate exports, finds the Rust peer, runs scenarios over real sockets and processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Every scenario of doc/interop.md (killed-mid-call last), as the harness lists them.
pub use mphub_interop::matrix::SCENARIOS;

/// Scenarios the C++ client reports as skipped (exit 77): they need raw Context values.
pub const CPP_CLIENT_SKIPS: &[&str] = &["hostile-thread", "hostile-null-context"];

/// Serialises the tests of one binary: several scenarios measure time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repository root")
        .to_path_buf()
}

/// `target/<profile>`, from this test binary's path (`target/<profile>/deps/<test>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cargo_build(args: &[&str]) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build").args(args);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    run_ok(&mut cmd, &format!("cargo build {}", args.join(" ")));
}

/// The host binary, built once per test process: `cargo build -p mphub-cxx-test` (the
/// staticlib and the exported CMake package), then CMake configure + build with
/// `-Wall -Wextra -Werror`.
pub fn host() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        cargo_build(&["-p", "mphub-cxx-test", "--lib"]);
        let profile = profile_dir();
        let package = profile.join("mphub-cxx-test");
        assert!(
            package
                .join("lib/cmake/mphub-cxx-test/mphub-cxx-testConfig.cmake")
                .is_file(),
            "the build did not export the CMake package into {}",
            package.display()
        );
        let build = profile.join("mphub-cxx-host-build");
        let source = repo().join("cpp/host");
        // A build folder configured from another checkout cannot be reused.
        let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).unwrap_or_default();
        let home = format!("CMAKE_HOME_DIRECTORY:INTERNAL={}", source.display());
        if !cache.is_empty() && !cache.lines().any(|l| l == home) {
            let _ = std::fs::remove_dir_all(&build);
        }
        run_ok(
            Command::new("cmake")
                .arg("-S")
                .arg(&source)
                .arg("-B")
                .arg(&build)
                .arg(format!("-DCMAKE_PREFIX_PATH={}", package.display()))
                .arg("-DMPHUB_HOST_WERROR=ON"),
            "cmake configure of cpp/host",
        );
        run_ok(
            Command::new("cmake")
                .arg("--build")
                .arg(&build)
                .args(["-j", "2"]),
            "cmake build of cpp/host",
        );
        build.join("mphub-cxx-host")
    })
}

/// The Rust peer binary (`MPHUB_PEER_RUST`, else built here).
pub fn rust_peer() -> &'static Path {
    static PEER: OnceLock<PathBuf> = OnceLock::new();
    PEER.get_or_init(|| {
        if let Some(p) = std::env::var_os("MPHUB_PEER_RUST").filter(|v| !v.is_empty()) {
            return PathBuf::from(p);
        }
        cargo_build(&["-p", "mphub-test-peer", "--bin", "mphub-test-peer"]);
        profile_dir().join("mphub-test-peer")
    })
}

/// A `PEER serve --socket PATH` process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct SocketServer {
    pub child: Child,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SocketServer {
    /// Starts `program [prefix...] serve --socket <tmp>` with `env` and waits for the socket.
    pub fn start(program: &Path, prefix: &[&str], env: &[(&str, &str)]) -> SocketServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        let mut cmd = Command::new(prefix.first().map(Path::new).unwrap_or(program));
        if !prefix.is_empty() {
            cmd.args(&prefix[1..]).arg(program);
        }
        cmd.arg("serve")
            .arg("--socket")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting the socket server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} did not create its socket",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SocketServer {
            child,
            path,
            _dir: dir,
        }
    }

    /// SIGTERM and wait (up to 30 s), then SIGKILL; returns stderr.
    pub fn stop(mut self) -> String {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let out = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("placeholder"),
        )
        .wait_with_output()
        .expect("server output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `client client (--socket S --server-pid P | --spawn SERVER) --scenario NAME`.
pub fn run_client(
    prefix: &[&str],
    client: &Path,
    server: Option<&SocketServer>,
    spawn: Option<&Path>,
    scenario: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(prefix.first().map(Path::new).unwrap_or(client));
    if !prefix.is_empty() {
        cmd.args(&prefix[1..]).arg(client);
    }
    cmd.arg("client");
    if let Some(s) = server {
        cmd.arg("--socket")
            .arg(&s.path)
            .arg("--server-pid")
            .arg(s.child.id().to_string());
    }
    if let Some(p) = spawn {
        cmd.arg("--spawn").arg(p);
    }
    cmd.args(["--scenario", scenario]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running the client")
}

/// The failure reason of a client run (last stderr line).
pub fn reason(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}
