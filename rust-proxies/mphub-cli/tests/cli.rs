//! End-to-end tests of the `mphub` binary: a demo node in a child process (`mphub serve`)
//! and client commands in other child processes, over a real unix socket.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mphub");

/// `mphub serve` running in a temp dir.
struct DemoServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    sock: PathBuf,
}

impl DemoServer {
    fn start(core: &str) -> DemoServer {
        Self::start_with(core, 100)
    }

    /// A demo node whose mempool changes only when told (`--mempool-interval-ms 0`).
    fn start_quiet(core: &str) -> DemoServer {
        Self::start_with(core, 0)
    }

    fn start_with(core: &str, mempool_interval_ms: u64) -> DemoServer {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("node.sock");
        let log = File::create(dir.path().join("serve.log")).unwrap();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--core",
                core,
                "--mempool-interval-ms",
                &mempool_interval_ms.to_string(),
                "--socket",
            ])
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "demo node did not start: {}",
                self_log(dir.path())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        DemoServer {
            child: Some(child),
            dir,
            sock,
        }
    }

    fn connect_arg(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--connect").arg(self.connect_arg()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mphub {args:?} failed: {}\nserver log: {}",
            String::from_utf8_lossy(&out.stderr),
            self_log(self.dir.path())
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a `--json` command that must succeed; returns the parsed output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("mphub {args:?}: bad JSON ({e}): {out}"))
    }

    /// Runs a command that must fail with status 1 and a one-line message; returns it.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        check_failure(&out, args)
    }

    /// SIGTERM: the server exits 0 and removes its socket.
    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "serve exited with {status}: {}",
            self_log(self.dir.path())
        );
        assert!(!self.sock.exists(), "socket file left behind");
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn self_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

fn check_failure(out: &Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "mphub {args:?}: expected exit 1, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.starts_with("mphub: error: "), "{stderr}");
    stderr
}

fn height(v: &Value) -> i64 {
    v["height"]
        .as_i64()
        .unwrap_or_else(|| panic!("no height in {v}"))
}

fn exercise(core: &str) {
    let server = DemoServer::start(core);

    assert_eq!(server.ok(&["echo", "hi"]), "hi\n");
    assert_eq!(server.json(&["echo", "hi"])["result"], "hi");

    // --core auto (the default) detects the demo's schema.
    let tip = server.json(&["mining", "tip"]);
    assert_eq!(tip["core"], core);
    assert_eq!(height(&tip), 0);
    assert_eq!(
        tip["hash"],
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    );
    let human = server.ok(&["mining", "tip"]);
    assert!(human.contains("height: 0"), "{human}");

    let human = server.ok(&["mining", "template"]);
    assert!(human.contains("height: 1\n"), "{human}");
    assert!(
        human.contains(&format!("prev_hash: {}", tip["hash"].as_str().unwrap())),
        "{human}"
    );
    let tmpl = server.json(&["mining", "template"]);
    assert_eq!(height(&tmpl), 1);
    assert_eq!(tmpl["prev_hash"], tip["hash"]);
    assert_eq!(tmpl["header"].as_str().unwrap().len(), 160);
    assert_eq!(tmpl["coinbase"]["script_sig_prefix"], "51");
    assert_eq!(tmpl["bits"], "207fffff");

    // Mining through IPC, with the explicit --core too.
    let mined = server.json(&["--core", core, "mining", "mine", "--blocks", "2"]);
    assert_eq!(mined["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(height(&mined["tip"]), 2);
    let tip2 = server.json(&["mining", "tip"]);
    assert_eq!(height(&tip2), 2);
    assert_eq!(tip2["hash"], mined["tip"]["hash"]);
    assert_eq!(tip2["hash"], mined["blocks"][1]["hash"]);

    // waitTipChanged: timeout returns the current tip.
    let t0 = Instant::now();
    let waited = server.json(&["mining", "wait-tip", "--timeout", "200"]);
    assert!(t0.elapsed() >= Duration::from_millis(200));
    assert_eq!(waited["changed"], false);
    assert_eq!(waited["hash"], tip2["hash"]);
    // ... Mining.interrupt ends it early ...
    let waited = server.json(&["mining", "wait-tip", "--interrupt-after", "100"]);
    assert_eq!(waited["interrupted"], true);
    // ... and a block mined by another client wakes it.
    let waiter = server
        .command(&["--json", "mining", "wait-tip", "--timeout", "10000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.ok(&["mining", "mine"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    let woke: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(woke["changed"], true);
    assert_eq!(height(&woke), 3);

    assert_eq!(server.json(&["mining", "interrupt"])["interrupted"], true);

    match core {
        "master" => {
            assert_eq!(server.ok(&["rpc", "getblockcount"]), "3\n");
            assert_eq!(
                server.ok(&["rpc", "getblockhash", "3"]).trim(),
                woke["hash"]
            );
            let reply = server.json(&["rpc", "getblockcount"]);
            assert_eq!(reply["result"], 3);
            let e = server.fails(&["rpc", "nosuchmethod"]);
            assert!(e.contains("Method not found"), "{e}");
            // A v31 client on a master node: submitSolution @7 is retired.
            let e = server.fails(&["--core", "v31", "mining", "mine"]);
            assert!(
                e.contains("Old submitSolution (@7) not supported. Please update your client!"),
                "{e}"
            );
        }
        _ => {
            let e = server.fails(&["rpc", "getblockcount"]);
            assert!(e.contains("makeRpc"), "{e}");
            // A master client on a v31 node: submitSolution @10 does not exist.
            let e = server.fails(&["--core", "master", "mining", "mine"]);
            assert!(e.contains("does not implement"), "{e}");
        }
    }
    server.stop();
}

#[test]
fn demo_node_v31() {
    exercise("v31");
}

#[test]
fn demo_node_master() {
    exercise("master");
}

#[test]
fn bad_socket_path_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let echo_at = |path: &Path| {
        let out = Command::new(BIN)
            .arg("--connect")
            .arg(format!("unix:{}", path.display()))
            .args(["echo", "hi"])
            .output()
            .unwrap();
        check_failure(&out, &["echo"])
    };
    let e = echo_at(&dir.path().join("missing.sock"));
    assert!(e.contains("cannot connect to unix:"), "{e}");
    assert!(e.contains("No such file or directory"), "{e}");
    assert!(
        e.contains("-ipcbind=unix"),
        "a missing socket hints at IPC: {e}"
    );

    // A path that exists but is no socket says so, not "connection refused".
    let file = dir.path().join("regular");
    std::fs::write(&file, b"").unwrap();
    for (path, what) in [(file.as_path(), "a regular file"), (dir.path(), "a folder")] {
        let e = echo_at(path);
        assert!(
            e.contains(&format!("the path exists and is {what}, not a unix socket")),
            "{e}"
        );
        assert!(!e.contains("refused") && !e.contains("-ipcbind"), "{e}");
    }

    let out = Command::new(BIN)
        .args(["--connect", "tcp:127.0.0.1:1", "mining", "tip"])
        .output()
        .unwrap();
    let e = check_failure(&out, &["mining", "tip"]);
    assert!(e.contains("Unrecognized address"), "{e}");

    // Default location: <datadir>/regtest/node.sock.
    let out = Command::new(BIN)
        .arg("--datadir")
        .arg(dir.path())
        .args(["--chain", "regtest", "echo", "hi"])
        .output()
        .unwrap();
    let e = check_failure(&out, &["echo"]);
    assert!(
        e.contains(&format!("{}/regtest/node.sock", dir.path().display())),
        "{e}"
    );
}

/// `mphub -ipcfd N`: the demo node as a spawned child (Core's spawnProcess convention).
#[test]
fn spawned_with_ipcfd() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let rt = mphub::Runtime::new().unwrap();
        let child = mphub::spawn::<mphub_bitcoin::master::InitClient>(
            &rt,
            BIN,
            &[],
            mphub::SpawnConvention::BitcoinCore,
        )
        .await
        .unwrap();
        let mut process = child.process;
        {
            let node = mphub_bitcoin::client::Node::from_init(child.client, None);
            assert_eq!(
                node.echo("over a socketpair").await.unwrap(),
                "over a socketpair"
            );
            let mining = node.mining().await.unwrap();
            assert_eq!(mining.version(), mphub_bitcoin::CoreVersion::Master);
            assert_eq!(mining.tip().await.unwrap().unwrap().height, 0);
        }
        // Dropping the last proxy closes the connection; the child then exits by itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = process.try_wait().unwrap() {
                assert!(status.success(), "child exited with {status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "child did not exit after disconnect"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

/// (issue 9) A stopped node (SIGSTOP) accepts the socket but never answers: the CLI
/// gives up after `--connect-timeout`, and `--call-timeout` bounds each call.
#[test]
fn timeouts_against_a_stopped_node() {
    let server = DemoServer::start("master");
    let pid = server.child.as_ref().unwrap().id() as libc::pid_t;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let started = Instant::now();
    let msg = server.fails(&["--connect-timeout", "0.5", "echo", "hi"]);
    assert!(msg.contains("timed out"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(5));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    // A wait longer than the call timeout fails with the call named.
    let msg = server.fails(&[
        "--call-timeout",
        "0.3",
        "mining",
        "wait-tip",
        "--timeout",
        "5000",
    ]);
    assert!(
        msg.contains("timed out") && msg.contains("waitTipChanged"),
        "{msg}"
    );
    let msg = server.fails(&["--call-timeout=-1", "echo", "hi"]);
    assert!(msg.contains("--call-timeout"), "{msg}");
    assert_eq!(
        server.ok(&["--call-timeout", "5", "echo", "hi"]).trim(),
        "hi"
    );
}

/// `mphub interop` runs the separate `mphub-interop` program (the CLI builds no test
/// peer); where that program is not installed it says so and how to get it.
#[test]
fn interop_without_the_harness_installed_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mphub");
    std::fs::copy(BIN, &copy).unwrap();
    let out = std::process::Command::new(&copy)
        .arg("interop")
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mphub-interop is not installed")
            && err.contains("cargo install --path interop-tests"),
        "{err}"
    );
}

/// Issue 11: `mphub chain follow --json` over a scripted session driven with `mphub demo`
/// and `mphub chain spend-coinbase` (mine, broadcast, reorg), a resume from a saved
/// locator, and the node killed: the follower exits 1 and says so.
#[test]
fn chain_follow_over_a_scripted_session() {
    use std::io::{BufRead, BufReader};
    let s = DemoServer::start_quiet("pr29409");
    s.ok(&["demo", "mine", "101"]);
    let locator = s.dir.path().join("wallet.locator");
    let mut follower = s
        .command(&["--json", "chain", "follow", "--locator-file"])
        .arg(&locator)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(follower.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    assert!(ready.contains("following the chain"), "{ready}");
    let (tx, lines) = std::sync::mpsc::channel::<Value>();
    let stdout = BufReader::new(follower.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(serde_json::from_str(&line).expect("a JSON line"));
        }
    });
    let expect = |event: &str| -> Value {
        let v = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {event} line"));
        assert_eq!(v["event"], event, "{v}");
        v
    };

    s.ok(&["demo", "mine", "2"]);
    for height in [102, 103] {
        assert_eq!(expect("block_connected")["height"], height);
        expect("updated_block_tip");
    }
    let txid = s.ok(&["chain", "spend-coinbase", "--height", "1", "--fee", "1000"]);
    assert_eq!(expect("transaction_added")["txid"], txid.trim());
    s.ok(&["demo", "mine", "1"]);
    let mined = expect("block_connected");
    assert_eq!(
        (mined["height"].as_i64(), mined["txs"].as_i64()),
        (Some(104), Some(2))
    );
    expect("updated_block_tip");
    s.ok(&["demo", "reorg", "1"]);
    assert_eq!(expect("block_disconnected")["hash"], mined["hash"]);
    assert_eq!(expect("transaction_added")["txid"], txid.trim());
    assert_eq!(expect("block_connected")["height"], 104);
    assert_eq!(expect("block_connected")["height"], 105);
    expect("updated_block_tip");

    // The locator file now points at 105: a second follower resumes there and catches up
    // the next block.
    let saved = s.dir.path().join("saved.locator");
    std::fs::copy(&locator, &saved).unwrap();
    s.ok(&["demo", "mine", "1"]);
    expect("block_connected");
    expect("updated_block_tip");
    let out = s.ok(&[
        "--json",
        "chain",
        "follow",
        "--max-events",
        "1",
        "--locator-file",
        saved.to_str().unwrap(),
    ]);
    let caught: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (caught["event"].as_str(), caught["height"].as_i64()),
        (Some("catch_up"), Some(106))
    );

    // The node dies: the follower says so and exits 1, no hang.
    let server = s.child.as_ref().map(|c| c.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(server as libc::pid_t, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = follower.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the follower hung after the node died"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "{status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("disconnected"), "{rest}");
}
