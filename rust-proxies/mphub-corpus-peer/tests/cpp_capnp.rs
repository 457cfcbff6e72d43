//! Every corpus construct through the `cpp-capnp` peer (Cap'n Proto's own C++ code and
//! reflection, no mphub), in both roles: Rust client → C++ server and C++ client → Rust
//! server, over a unix socket. The C++ side checks values against the schema's fixtures
//! as the capnp compiler encoded them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mphub_corpus_peer::client::{self, SCENARIOS};
use mphub_corpus_peer::corpus::corpus::{CorpusClient, CorpusServer};
use mphub_corpus_peer::server::CorpusImpl;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The C++ client's verdicts (`ok NAME` / `FAIL NAME: why`) against a server on `sock`.
fn cpp_client(sock: &Path) -> (Vec<String>, Vec<String>, String) {
    let out = Command::new(mphub_cpp_capnp_peer::peer_path())
        .args(["client-corpus", "--socket"])
        .arg(sock)
        .output()
        .expect("running the cpp-capnp corpus client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ok = text
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(String::from)
        .collect();
    let failed = text
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(String::from)
        .collect();
    (
        ok,
        failed,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_to_cpp_capnp_server_every_construct() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("cpp-corpus.sock");
    let _server = Server(
        Command::new(mphub_cpp_capnp_peer::peer_path())
            .args(["serve-corpus", "--socket"])
            .arg(&sock)
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the cpp-capnp corpus server"),
    );
    wait_for(&sock);
    let rt = mphub::Runtime::new().unwrap();
    let corpus: CorpusClient = mphub::connect(&rt, &sock).await.unwrap();
    let mut failures = Vec::new();
    for name in SCENARIOS {
        if let Err(e) = client::run(&corpus, name).await {
            failures.push(format!("{name}: {e:#}"));
        }
    }
    assert!(
        failures.is_empty(),
        "against the C++ server:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cpp_capnp_client_to_rust_server_every_construct() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("rust-corpus.sock");
    let rt = mphub::Runtime::new().unwrap();
    let _listener = mphub::listen(&rt, &sock, CorpusImpl.into_cap()).unwrap();
    let (ok, failed, stderr) = cpp_client(&sock);
    assert!(
        failed.is_empty(),
        "the C++ client against the Rust server:\n{}\n{stderr}",
        failed.join("\n")
    );
    for name in SCENARIOS {
        assert!(
            ok.iter().any(|o| o == name),
            "scenario {name} did not pass: {ok:?}\n{stderr}"
        );
    }
}
