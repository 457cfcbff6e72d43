//! Every connect failure path releases what it opened (issue 9, defect 5): a failed
//! `construct` closes its connection. (The spawn leg counts this process's file
//! descriptors, so it lives alone in `spawn_release.rs`: tests running beside it here
//! opened sockets of their own and made the count fail.)

use std::os::unix::net::UnixStream;
use std::time::Duration;

use mphub_test_peer::test_schema::{CounterServer, TestInitClient};

/// A Counter that implements nothing (only its bootstrap matters here).
struct NoCounter;
impl CounterServer for NoCounter {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_construct_closes_its_connection() {
    // The server bootstraps a Counter, which has no `construct`: a TestInit client's
    // construct fails with "not implemented".
    let (ours, theirs) = UnixStream::pair().unwrap();
    let server_rt = mphub::Runtime::new().unwrap();
    let served = tokio::spawn({
        let rt = server_rt.clone();
        async move { mphub::serve_stream(&rt, theirs, NoCounter.into_cap()).await }
    });
    let client_rt = mphub::Runtime::new().unwrap();
    let err = mphub::connect_stream::<TestInitClient>(&client_rt, ours)
        .await
        .expect_err("construct on a Counter must fail");
    assert!(err.to_string().contains("not implemented"), "{err}");
    // The client must have closed the connection: the server sees the disconnect.
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the client kept the failed connection open")
        .unwrap()
        .unwrap();
}

/// A Tester whose `passData` answers 70 MiB whatever it gets.
struct Oversized;
impl mphub_test_peer::test_schema::TesterServer for Oversized {
    async fn pass_data(&self, _cx: &mphub::CallContext, _arg: Vec<u8>) -> mphub::Result<Vec<u8>> {
        Ok(vec![7u8; 70 * 1024 * 1024])
    }
    async fn add_int64(&self, _cx: &mphub::CallContext, a: i64, b: i64) -> mphub::Result<i64> {
        Ok(a + b)
    }
}

/// An Init handing out `Oversized`.
struct OversizedInit;
impl mphub_test_peer::test_schema::TestInitServer for OversizedInit {
    async fn make_tester(
        &self,
        _cx: &mphub::CallContext,
    ) -> mphub::Result<mphub::Cap<mphub_test_peer::test_schema::TesterClient>> {
        Ok(mphub_test_peer::test_schema::TesterServer::into_cap(
            Oversized,
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_result_fails_the_call_not_the_connection() {
    use mphub_test_peer::test_schema::TestInitServer;
    // (issue 9, defect 6) A result of 64 MiB or more cannot be read by any Cap'n Proto
    // peer: the call must fail, and the connection keep working.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.sock");
    let server_rt = mphub::Runtime::new().unwrap();
    let _listener = mphub::listen(&server_rt, &path, OversizedInit.into_cap()).unwrap();
    let client_rt = mphub::Runtime::new().unwrap();
    let init: TestInitClient = mphub::connect(&client_rt, &path).await.unwrap();
    let tester = init.make_tester().await.unwrap().unwrap();
    let err = tester
        .pass_data(vec![1])
        .await
        .expect_err("a 70 MiB result must fail");
    assert!(!err.is_disconnected(), "the connection died: {err}");
    assert!(err.to_string().contains("64 MiB"), "unclear error: {err}");
    assert_eq!(
        tester.add_int64(2, 3).await.unwrap(),
        5,
        "the connection must keep working"
    );
}
