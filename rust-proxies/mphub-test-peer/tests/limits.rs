//! Per-runtime limits (issue 9): connections per listener with idle eviction, remote
//! threads and calls per connection, unread replies. Each limit is hit by one client
//! while another keeps being served.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mphub::Limits;
use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::{TestInitClient, TestInitServer, TesterClient};

/// capnpc's plain code for `schema/test` (see build.rs): the raw client's types.
#[allow(clippy::all, dead_code, unused)]
mod test_capnp {
    include!(concat!(env!("OUT_DIR"), "/raw/test_capnp.rs"));
}
#[path = "common/raw.rs"]
mod raw;

struct Server {
    _rt: mphub::Runtime,
    _listener: mphub::Listener,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn serve(limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limits.sock");
    let rt = mphub::Runtime::with_limits(limits).unwrap();
    let listener = mphub::listen(
        &rt,
        &path,
        TestInitImpl::new(Arc::new(Stats::default())).into_cap(),
    )
    .unwrap();
    Server {
        _rt: rt,
        _listener: listener,
        _dir: dir,
        path,
    }
}

async fn tester(rt: &mphub::Runtime, server: &Server) -> mphub::Result<TesterClient> {
    let init: TestInitClient = mphub::connect(rt, &server.path).await?;
    let tester = init.make_tester().await?.expect("tester");
    tester.add_int64(1, 1).await?;
    Ok(tester)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listener_refuses_then_frees_the_idlest_slot() {
    let server = serve(Limits {
        max_connections: 3,
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    });
    let rt = mphub::Runtime::new().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tester(&rt, &server).await.unwrap());
    }
    // Nobody idle long enough: the fourth is refused, quickly and clearly.
    let started = Instant::now();
    let refused = tester(&rt, &server).await.expect_err("a fourth connection");
    assert!(refused.is_disconnected(), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Keep one busy, let the others idle past the timeout: one of those makes room.
    tokio::time::sleep(Duration::from_millis(250)).await;
    held[0].add_int64(2, 2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fourth = tester(&rt, &server).await.expect("room for a fourth");
    assert_eq!(fourth.add_int64(2, 3).await.unwrap(), 5);
    assert_eq!(
        held[0].add_int64(3, 3).await.unwrap(),
        6,
        "the busy one stays"
    );
    let mut closed = 0;
    for t in &held[1..] {
        if t.add_int64(1, 2).await.is_err() {
            closed += 1;
        }
    }
    assert_eq!(closed, 1, "exactly one idle connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_threads_per_connection_are_capped() {
    let server = serve(Limits {
        max_threads_per_connection: 6,
        ..Limits::default()
    });
    let rt = mphub::Runtime::new().unwrap();
    let t = tester(&rt, &server).await.unwrap();
    // Every OS thread making blocking calls gets its own remote thread (and the async
    // call above used one): the sixth OS thread is the seventh remote thread.
    // The OS threads stay alive (holding their remote threads) until all have called.
    let all_called = Arc::new(std::sync::Barrier::new(6));
    let outcomes: Vec<_> = (0..6)
        .map(|_| {
            let t = t.clone();
            let all_called = all_called.clone();
            std::thread::spawn(move || {
                let r = t.add_int64(1, 2).blocking();
                all_called.wait();
                r
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(
        refused[0]
            .to_string()
            .contains("max_threads_per_connection"),
        "{}",
        refused[0]
    );
    // Another connection is not affected.
    let other = tester(&rt, &server).await.unwrap();
    assert_eq!(other.add_int64(2, 2).await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_per_connection_are_capped() {
    let server = serve(Limits {
        max_calls_per_connection: 4,
        ..Limits::default()
    });
    let rt = mphub::Runtime::new().unwrap();
    let t = tester(&rt, &server).await.unwrap();
    let sleeps: Vec<_> = (0..5).map(|_| t.sleep_ms(400).into_future()).collect();
    let outcomes = futures::future::join_all(sleeps).await;
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(
        refused[0].to_string().contains("max_calls_per_connection"),
        "{}",
        refused[0]
    );
    assert_eq!(
        t.add_int64(2, 2).await.unwrap(),
        4,
        "later calls are served"
    );
}

/// A reader that never reads: the peer's replies pile up in the socket.
/// It holds the read half so the socket stays open.
struct NeverRead(#[allow(dead_code)] Arc<tokio::net::unix::OwnedReadHalf>);

/// Whether the other end closed the socket (`POLLHUP`/`POLLRDHUP`), without reading.
fn hung_up(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && (p.revents & (libc::POLLHUP | libc::POLLRDHUP)) != 0
}

impl futures::AsyncRead for NeverRead {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Pending
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_peer_that_never_reads_is_paused_then_disconnected() {
    use capnp_rpc::rpc_twoparty_capnp::Side;
    use capnp_rpc::{twoparty, RpcSystem};
    use tokio_util::compat::TokioAsyncWriteCompatExt;
    let server = serve(Limits {
        pause_reading_bytes: 1024 * 1024,
        unread_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let local = tokio::task::LocalSet::new();
    let path = server.path.clone();
    local
        .run_until(async move {
            let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
            let (r, w) = stream.into_split();
            let r = Arc::new(r);
            let fd = {
                use std::os::fd::AsRawFd;
                r.as_ref().as_ref().as_raw_fd()
            };
            let net = twoparty::VatNetwork::new(
                NeverRead(r.clone()),
                w.compat_write(),
                Side::Client,
                Default::default(),
            );
            let mut rpc = RpcSystem::new(Box::new(net), None);
            let init: test_capnp::test_init::Client = rpc.bootstrap(Side::Server);
            tokio::task::spawn_local(rpc);
            let tester = raw::tester(&init);
            // Forty 512 KiB echoes (without a Context they run on the connection's
            // implicit thread): 20 MiB of replies nobody reads.
            let mut pending = Vec::new();
            for _ in 0..40 {
                // Tester.passData is @4.
                let req = raw::tester_call(&tester, 4, |arg| {
                    arg.initn_as::<capnp::data::Builder<'_>>(512 * 1024);
                });
                pending.push(req.send().promise);
            }
            // Another client is served meanwhile.
            let rt = mphub::Runtime::new().unwrap();
            let other = tester_at(&rt, &path).await;
            assert_eq!(other.add_int64(2, 2).await.unwrap(), 4);
            assert!(!hung_up(fd), "closed before the peer had a chance to read");
            // The server gives up on the reader-less peer: it closes the socket.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !hung_up(fd) {
                assert!(
                    Instant::now() < deadline,
                    "the server kept a peer that reads nothing"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(other.add_int64(3, 3).await.unwrap(), 6);
            drop(pending);
        })
        .await;
}

async fn tester_at(rt: &mphub::Runtime, path: &std::path::Path) -> TesterClient {
    let init: TestInitClient = mphub::connect(rt, path).await.unwrap();
    init.make_tester().await.unwrap().expect("tester")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_stopped_server_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stopped.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mphub-test-peer"))
        .arg("serve")
        .arg("--socket")
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !path.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let rt = mphub::Runtime::new().unwrap();
    let started = Instant::now();
    let options = mphub::ConnectOptions {
        connect_timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    };
    let err = mphub::connect_with::<TestInitClient>(&rt, &path, options)
        .await
        .expect_err("a stopped server cannot answer");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_time_out_per_call_and_per_connection() {
    let server = serve(Limits::default());
    let rt = mphub::Runtime::new().unwrap();
    let t = tester(&rt, &server).await.unwrap();
    let started = Instant::now();
    let err = t
        .sleep_ms(3000)
        .timeout(Duration::from_millis(200))
        .await
        .expect_err("a per-call timeout");
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("Tester.sleepMs"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The next call does not run behind the abandoned one.
    let started = Instant::now();
    assert_eq!(t.add_int64(1, 1).await.unwrap(), 2);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Blocking calls honour it too.
    let tb = t.clone();
    let err = tokio::task::spawn_blocking(move || {
        tb.sleep_ms(3000)
            .timeout(Duration::from_millis(200))
            .blocking()
    })
    .await
    .unwrap()
    .expect_err("a blocking per-call timeout");
    assert!(err.is_timeout(), "{err}");

    // A connection-wide default, overridden per call.
    let options = mphub::ConnectOptions {
        call_timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let init: TestInitClient = mphub::connect_with(&rt, &server.path, options)
        .await
        .unwrap();
    let t2 = init.make_tester().await.unwrap().expect("tester");
    assert!(t2.sleep_ms(3000).await.unwrap_err().is_timeout());
    assert!(t2
        .sleep_ms(400)
        .timeout(Duration::from_secs(5))
        .await
        .is_ok());
}
