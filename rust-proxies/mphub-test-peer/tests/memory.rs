//! Memory a peer can make a server spend (issue 9, defect 1): it must grow with the bytes
//! the peer actually sends, not with what its frames or lists claim. Each test runs a
//! real `mphub-test-peer serve` process and reads its resident set from `/proc`.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mphub_test_peer::test_schema::TestInitClient;

/// capnpc's plain code for `schema/test` (see build.rs): the raw client's types.
#[allow(clippy::all, dead_code, unused)]
mod test_capnp {
    include!(concat!(env!("OUT_DIR"), "/raw/test_capnp.rs"));
}
#[path = "common/raw.rs"]
mod raw;

/// Growth of the server's resident set the tests tolerate (the bound the fuzz harness
/// uses too).
const RSS_SLACK: u64 = 64 * 1024 * 1024;

struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mem.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_mphub-test-peer"))
            .arg("serve")
            .arg("--socket")
            .arg(&path)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(Instant::now() < deadline, "the server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            _dir: dir,
            path,
        }
    }

    /// Resident set size in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the server exited"
        );
    }

    /// A fresh mphub client gets an answer within a second.
    async fn assert_answers(&self) {
        let rt = mphub::Runtime::new().unwrap();
        let answered = tokio::time::timeout(Duration::from_secs(1), async {
            let init: TestInitClient = mphub::connect(&rt, &self.path).await?;
            let tester = init.make_tester().await?.expect("tester");
            tester.add_int64(2, 3).await
        })
        .await;
        match answered {
            Ok(Ok(5)) => {}
            other => panic!("a fresh connection was not served within 1 s: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_header_claiming_64_mib_costs_what_arrives() {
    let mut server = Server::start();
    server.assert_answers().await;
    let before = server.rss();
    // Ten connections, each sending one 8-byte header: one segment of 8 Mi - 1 words
    // (just under Cap'n Proto's 64 MiB message limit), then nothing.
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut s = UnixStream::connect(&server.path).unwrap();
        let mut header = Vec::new();
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&(8 * 1024 * 1024 - 1u32).to_le_bytes());
        s.write_all(&header).unwrap();
        // And a little of the body, so a lazy allocation is touched too.
        s.write_all(&[0xAA; 4096]).unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.assert_alive();
    let grown = server.rss().saturating_sub(before);
    assert!(
        grown < RSS_SLACK / 4,
        "10 headers (80 bytes + 40 KiB of body) grew the server by {} MiB",
        grown / (1024 * 1024)
    );
    server.assert_answers().await;
    drop(held);
}

/// Sends `copies` pipelined `passMap` calls whose `arg` is a `List(Void)` of `elements`
/// (read as a `List(Pair)`: every element a default `Pair`) from a raw capnp-rpc client,
/// and returns how each call ended.
async fn send_zero_size_lists(
    path: &Path,
    copies: usize,
    elements: u32,
) -> Vec<Result<(), String>> {
    let stream = tokio::net::UnixStream::connect(path).await.unwrap();
    let init = raw::bootstrap(stream);
    let tester = raw::tester(&init);
    let mut replies = Vec::new();
    for _ in 0..copies {
        // Tester.passMap is @9; its `arg` is read as a `List(Pair)`.
        let req = raw::tester_call(&tester, 9, |arg| {
            arg.initn_as::<capnp::primitive_list::Builder<'_, ()>>(elements);
        });
        replies.push(req.send().promise);
    }
    let mut out = Vec::new();
    for r in replies {
        out.push(r.await.map(|_| ()).map_err(|e| e.extra));
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn lists_of_zero_size_elements_are_bounded() {
    let mut server = Server::start();
    server.assert_answers().await;
    let before = server.rss();
    let local = tokio::task::LocalSet::new();
    let path = server.path.clone();
    // Twenty pipelined calls of about 240 bytes each, each claiming 8 million elements.
    let outcomes = local
        .run_until(send_zero_size_lists(&path, 20, 8_000_000))
        .await;
    server.assert_alive();
    for outcome in &outcomes {
        let err = outcome
            .as_ref()
            .expect_err("a call claiming 8 million elements must fail");
        assert!(err.contains("decod"), "unclear error: {err}");
    }
    let grown = server.rss().saturating_sub(before);
    assert!(
        grown < RSS_SLACK,
        "20 calls of ~240 bytes grew the server by {} MiB",
        grown / (1024 * 1024)
    );
    server.assert_answers().await;
}
