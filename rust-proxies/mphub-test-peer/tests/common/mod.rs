//! Shared set-up: a Rust server in this process on a unix socket, or in a spawned child.
#![allow(dead_code)]

use std::sync::Arc;

use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::{TestInitClient, TestInitServer, TesterClient};

/// How the client reaches the server.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    UnixSocket,
    SpawnedChild,
}

/// A connected client and what keeps its server alive.
pub struct Peer {
    pub init: TestInitClient,
    pub tester: TesterClient,
    /// Present for in-process servers.
    pub stats: Option<Arc<Stats>>,
    pub child: Option<std::process::Child>,
    _server_rt: Option<mphub::Runtime>,
    _listener: Option<mphub::Listener>,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub async fn start(transport: Transport) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let client_rt = mphub::Runtime::new().unwrap();
    match transport {
        Transport::UnixSocket => {
            let server_rt = mphub::Runtime::new().unwrap();
            let stats = Arc::new(Stats::default());
            let path = dir.path().join("test.sock");
            let listener = mphub::listen(
                &server_rt,
                &path,
                TestInitImpl::new(stats.clone()).into_cap(),
            )
            .unwrap();
            let init: TestInitClient = mphub::connect(&client_rt, &path).await.unwrap();
            let tester = init.make_tester().await.unwrap().expect("tester");
            Peer {
                init,
                tester,
                stats: Some(stats),
                child: None,
                _server_rt: Some(server_rt),
                _listener: Some(listener),
                _dir: dir,
            }
        }
        Transport::SpawnedChild => {
            let spawned = mphub::spawn::<TestInitClient>(
                &client_rt,
                env!("CARGO_BIN_EXE_mphub-test-peer"),
                &[],
                mphub::SpawnConvention::BitcoinCore,
            )
            .await
            .unwrap();
            let tester = spawned.client.make_tester().await.unwrap().expect("tester");
            Peer {
                init: spawned.client,
                tester,
                stats: None,
                child: Some(spawned.process),
                _server_rt: None,
                _listener: None,
                _dir: dir,
            }
        }
    }
}
