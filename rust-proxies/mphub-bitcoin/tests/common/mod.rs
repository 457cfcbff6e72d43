//! Helpers shared by mphub-bitcoin's integration tests: a demo node on a temporary unix
//! socket, and the real-node plumbing (binaries from an environment variable, RPC calls
//! off the async threads).
#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;

use mphub_bitcoin::demo::DemoNode;
use mphub_bitcoin::CoreVersion;
use mphub_chain::{DemoChain, RegtestNode};

/// A demo node serving one schema on `<tmp>/node.sock`.
pub struct Fixture {
    _dir: tempfile::TempDir,
    _listener: mphub::Listener,
    pub rt: mphub::Runtime,
    pub path: PathBuf,
    pub chain: DemoChain,
}

/// Starts a demo node on a fresh chain, serving the `version` schema.
pub fn start(version: CoreVersion) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sock");
    let rt = mphub::Runtime::new().unwrap();
    let chain = DemoChain::new();
    let listener = DemoNode::new(chain.clone(), version)
        .listen(&rt, &path)
        .unwrap();
    Fixture {
        _dir: dir,
        _listener: listener,
        rt,
        path,
        chain,
    }
}

/// The `:`-separated binaries named by environment variable `var`, if it is set.
pub fn node_binaries(var: &str) -> Option<Vec<PathBuf>> {
    let value = std::env::var_os(var)?;
    Some(
        std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
    )
}

/// Runs a blocking RPC closure against `node` off the async threads.
pub async fn rpc<T: Send + 'static>(
    node: &RegtestNode,
    f: impl FnOnce(&mphub_chain::NodeRpc) -> Result<T, mphub_chain::RpcError> + Send + 'static,
) -> T {
    let rpc = mphub_chain::NodeRpc::from_cookie(
        node.rpc().url(),
        node.datadir().join("regtest").join(".cookie"),
    )
    .unwrap();
    tokio::task::spawn_blocking(move || f(&rpc))
        .await
        .unwrap()
        .unwrap()
}
