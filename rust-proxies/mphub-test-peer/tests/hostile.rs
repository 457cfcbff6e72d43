//! Hostile or careless peers: a raw capnp-rpc client (no mphub on its side) sends what
//! libmultiprocess rejects; the server answers with libmultiprocess's error texts and
//! keeps serving its other connections.

use std::sync::Arc;

use mphub::proxy_capnp::thread;
use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::{TestInitClient, TestInitServer};

/// capnpc's plain code for `schema/test` (see build.rs): the raw client's types.
#[allow(clippy::all, dead_code, unused)]
mod test_capnp {
    include!(concat!(env!("OUT_DIR"), "/raw/test_capnp.rs"));
}
#[path = "common/raw.rs"]
mod raw;

struct FakeThread;
impl thread::Server for FakeThread {}

/// A plain capnp-rpc connection on the current (LocalSet) thread.
fn raw_connect(path: &std::path::Path) -> test_capnp::test_init::Client {
    let stream = std::os::unix::net::UnixStream::connect(path).unwrap();
    stream.set_nonblocking(true).unwrap();
    raw::bootstrap(tokio::net::UnixStream::from_std(stream).unwrap())
}

fn err_text(e: capnp::Error) -> String {
    e.extra
}

#[tokio::test(flavor = "current_thread")]
async fn protocol_violations_get_libmultiprocess_errors_and_others_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.sock");
    let server_rt = mphub::Runtime::new().unwrap();
    let _listener = mphub::listen(
        &server_rt,
        &path,
        TestInitImpl::new(Arc::new(Stats::default())).into_cap(),
    )
    .unwrap();
    // A well-behaved client on its own connection, checked at the end.
    let client_rt = mphub::Runtime::new().unwrap();
    let good: TestInitClient = mphub::connect(&client_rt, &path).await.unwrap();

    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let init = raw_connect(&path);
            let construct = init.construct_request();
            let resp = construct.send().promise.await.unwrap();
            let thread_map = resp.get().unwrap().get_thread_map().unwrap();

            // 1. context null, no pool.
            let req = init.make_tester_request();
            let e = req.send().promise.await.map(|_| ()).unwrap_err();
            assert!(
                err_text(e.clone())
                    .ends_with("std::exception: no thread specified and no pool configured"),
                "{e}"
            );

            // 2. a Thread hosted by the client itself.
            let mut req = init.make_tester_request();
            let fake: thread::Client = capnp_rpc::new_client(FakeThread);
            req.get().init_context().set_thread(fake);
            let e = req.send().promise.await.map(|_| ()).unwrap_err();
            assert!(
                err_text(e.clone()).ends_with("std::exception: invalid thread handle"),
                "{e}"
            );

            // 3. a proper pipelined makeThread works on the same connection.
            let mut mt = thread_map.make_thread_request();
            mt.get().set_name("raw");
            let thread = mt.send().pipeline.get_result();
            let mut req = init.make_counter_request();
            req.get().init_context().set_thread(thread.clone());
            req.get().set_start(5);
            let counter = req
                .send()
                .promise
                .await
                .unwrap()
                .get()
                .unwrap()
                .get_result()
                .unwrap();
            let mut inc = counter.increment_request();
            inc.get().init_context().set_thread(thread.clone());
            let v = inc
                .send()
                .promise
                .await
                .unwrap()
                .get()
                .unwrap()
                .get_result();
            assert_eq!(v, 6);

            // 4. makePool, then null threads are accepted; a second makePool is refused.
            let mut mp = thread_map.make_pool_request();
            mp.get().set_count(2);
            mp.send().promise.await.unwrap();
            let v = counter
                .get_request()
                .send()
                .promise
                .await
                .unwrap()
                .get()
                .unwrap()
                .get_result();
            assert_eq!(v, 6);
            let mut mp = thread_map.make_pool_request();
            mp.get().set_count(2);
            let e = mp.send().promise.await.map(|_| ()).unwrap_err();
            assert!(err_text(e).contains("makePool called on connection with existing pool"));

            // 5. an unknown method (a Tester method ordinal sent to a Counter object).
            let as_tester: test_capnp::tester::Client =
                capnp::capability::FromClientHook::new(counter.client.hook.add_ref());
            let mut req = as_tester.add_no_context_request();
            req.get().set_a(1);
            let e = req.send().promise.await.map(|_| ()).unwrap_err();
            assert_eq!(e.kind, capnp::ErrorKind::Unimplemented, "{e}");

            // 6. an oversize message (over the 64 MiB traversal limit) kills only this connection.
            // Send raw bytes that announce a giant segment: the server must refuse them.
            let mut raw = tokio::net::UnixStream::connect(&path).await.unwrap();
            use tokio::io::AsyncWriteExt as _;
            let header: [u32; 2] = [0, 9 * 1024 * 1024]; // 1 segment of 9 Mi words = 72 MiB
            let mut bytes = Vec::new();
            for h in header {
                bytes.extend_from_slice(&h.to_le_bytes());
            }
            raw.write_all(&bytes).await.unwrap();
            // The server may send an Abort message, then it must close the socket.
            let mut rest = Vec::new();
            use tokio::io::AsyncReadExt as _;
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                raw.read_to_end(&mut rest),
            )
            .await
            .expect("server must close an oversize connection promptly")
            .ok();
            assert!(rest.len() < 4096, "only an abort message, then EOF");
        })
        .await;

    // The well-behaved connection was never affected.
    let tester = good.make_tester().await.unwrap().unwrap();
    assert_eq!(tester.add_int64(2, 2).await.unwrap(), 4);
}

/// (issue 9, defect 10) A peer that dies in the middle of a message has disconnected;
/// the error says so (it is not malformed data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_dying_mid_message_is_a_disconnect() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut first = [0u8; 8];
        s.read_exact(&mut first).unwrap();
        // One segment of 100 words, then 8 bytes of it, then gone.
        s.write_all(&0u32.to_le_bytes()).unwrap();
        s.write_all(&100u32.to_le_bytes()).unwrap();
        s.write_all(&[0; 8]).unwrap();
    });
    let rt = mphub::Runtime::new().unwrap();
    let err = mphub::connect::<TestInitClient>(&rt, &path)
        .await
        .expect_err("the server died mid-message");
    fake.join().unwrap();
    assert!(err.is_disconnected(), "{err:?}");
}

/// (issue 9, defect 10) `serve_fd` takes ownership of an fd, so it takes an `OwnedFd`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fd_takes_an_owned_fd() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let rt = mphub::Runtime::new().unwrap();
    let server_rt = rt.clone();
    let served = tokio::spawn(async move {
        let fd: std::os::fd::OwnedFd = theirs.into();
        mphub::serve_fd(
            &server_rt,
            fd,
            TestInitImpl::new(Arc::new(Stats::default())).into_cap(),
        )
        .await
    });
    let init: TestInitClient = mphub::connect_stream(&rt, ours).await.unwrap();
    let tester = init.make_tester().await.unwrap().unwrap();
    assert_eq!(tester.add_int64(1, 2).await.unwrap(), 3);
    drop((tester, init));
    served.await.unwrap().unwrap();
}
