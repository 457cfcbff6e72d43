//! Starting the two nodes under comparison and running the session against each.

use std::path::Path;

use anyhow::{Context, Result};
use mphub_bitcoin::client::Node;
use mphub_bitcoin::demo::DemoNode;
use mphub_bitcoin::CoreVersion;
use mphub_chain::{DemoChain, RegtestNode};

use super::fixture::Recording;
use super::{chain_session, session};

/// Runs the session against a fresh demo node serving `version`, on a unix socket in a
/// temporary folder, with the clock fixed at `mocktime`.
pub fn run_demo(version: CoreVersion, mocktime: u32) -> Result<Recording> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("node.sock");
    let rt = mphub::Runtime::new()?;
    let chain = DemoChain::new();
    chain.set_mock_time(Some(mocktime));
    let _listener = DemoNode::new(chain.clone(), version).listen(&rt, &path)?;
    let submit = |block: &[u8]| -> Result<()> {
        let r = chain.submit_block(block)?;
        anyhow::ensure!(
            r.accepted,
            "demo node rejected a premined block: {} {}",
            r.reason,
            r.debug
        );
        Ok(())
    };
    run_against(&rt, &path, version, mocktime, &submit)
}

/// A real node's identity and its recording.
#[derive(Debug)]
pub struct RealRun {
    /// The schema version it speaks.
    pub version: CoreVersion,
    /// Its user agent (`/Satoshi:31.99.0/`).
    pub user_agent: String,
    /// The session's answers.
    pub recording: Recording,
}

/// Starts `binary` on a fresh regtest datadir with `-mocktime`, detects its schema version
/// and runs the session for it (the Chain session on a PR #29409 node).
pub fn run_real(binary: &Path, mocktime: u32) -> Result<RealRun> {
    let dir = tempfile::tempdir()?;
    let mut node = RegtestNode::start_with_args(
        binary,
        &dir.path().join("datadir"),
        &[format!("-mocktime={mocktime}")],
    )
    .with_context(|| format!("starting {}", binary.display()))?;
    let rt = mphub::Runtime::new()?;
    let version = block_on(async {
        let n = Node::connect(&rt, node.socket(), None).await?;
        Ok(n.detect_version().await?)
    })?;
    let result = {
        let rpc = node.rpc();
        let submit = |block: &[u8]| -> Result<()> {
            let answer = rpc.submitblock(&hex::encode(block))?;
            anyhow::ensure!(answer.is_null(), "submitblock answered {answer}");
            Ok(())
        };
        let recording = run_against(&rt, node.socket(), version, mocktime, &submit)
            .with_context(|| format!("session against {}", binary.display()))?;
        RealRun {
            version,
            user_agent: node.version().to_string(),
            recording,
        }
    };
    node.stop();
    Ok(result)
}

fn run_against(
    rt: &mphub::Runtime,
    path: &Path,
    version: CoreVersion,
    mocktime: u32,
    submit_block: &dyn Fn(&[u8]) -> Result<()>,
) -> Result<Recording> {
    block_on(async {
        let node = Node::connect(rt, path, Some(version)).await?;
        match version {
            CoreVersion::Pr29409 => chain_session::run(&node, mocktime, submit_block).await,
            _ => session::run(&node, version, mocktime, submit_block).await,
        }
    })
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}
