//! mphub's `DemoControl` (`schema/mphub/demo_control.capnp`): what a developer does to a
//! regtest node with RPC (generate, invalidateblock + generate, sendrawtransaction), for
//! the demo chain of a running `mphub serve`, on its own socket beside the node's.

use mphub::{CallContext, Error, Result};
use mphub_chain::{BlockRef, ChainError, DemoChain};

use crate::demo_control as s;

/// The suffix of the control socket's path: `node.sock` → `node.sock.demo`.
pub const CONTROL_SOCKET_SUFFIX: &str = ".demo";

/// The control socket beside a node socket at `node_socket`.
pub fn control_socket_path(node_socket: &std::path::Path) -> std::path::PathBuf {
    let mut path = node_socket.as_os_str().to_owned();
    path.push(CONTROL_SOCKET_SUFFIX);
    path.into()
}

/// Serves `DemoControl` over a [`DemoChain`].
pub(crate) struct Control {
    pub(crate) chain: DemoChain,
}

fn hashes(blocks: Vec<BlockRef>) -> Vec<Vec<u8>> {
    blocks.into_iter().map(|b| b.hash.to_vec()).collect()
}

fn chain_error(method: &str, e: ChainError) -> Error {
    Error::failed(format!("DemoControl.{method}: {e}"))
}

/// Most blocks one call may mine or reorg in (keeps a typo from mining for minutes).
const MAX_BLOCKS_PER_CALL: u32 = 10_000;

fn check_count(method: &str, blocks: u32) -> Result<usize> {
    if blocks > MAX_BLOCKS_PER_CALL {
        return Err(Error::failed(format!(
            "DemoControl.{method}: {blocks} blocks is more than the {MAX_BLOCKS_PER_CALL} one call may make"
        )));
    }
    Ok(blocks as usize)
}

impl s::DemoControlServer for Control {
    async fn mine(&self, cx: &CallContext, blocks: u32) -> Result<s::DemoControlMineOutput> {
        let n = check_count("mine", blocks)?;
        let chain = self.chain.clone();
        let mined = cx
            .spawn_blocking(move || chain.mine_blocks(n))
            .await?
            .map_err(|e| chain_error("mine", e))?;
        Ok(s::DemoControlMineOutput {
            hashes: hashes(mined),
        })
    }

    async fn reorg(
        &self,
        cx: &CallContext,
        depth: u32,
        blocks: u32,
    ) -> Result<s::DemoControlReorgOutput> {
        let n = check_count("reorg", blocks)?;
        let chain = self.chain.clone();
        let connected = cx
            .spawn_blocking(move || chain.reorg(depth as usize, n))
            .await?
            .map_err(|e| chain_error("reorg", e))?;
        Ok(s::DemoControlReorgOutput {
            hashes: hashes(connected),
        })
    }

    async fn add_transaction(
        &self,
        _cx: &CallContext,
        fee: i64,
    ) -> Result<s::DemoControlAddTransactionOutput> {
        let txid = self
            .chain
            .add_mempool_tx(fee)
            .map_err(|e| chain_error("addTransaction", e))?;
        Ok(s::DemoControlAddTransactionOutput {
            txid: txid.to_vec(),
        })
    }

    async fn send_transaction(
        &self,
        _cx: &CallContext,
        tx: Vec<u8>,
    ) -> Result<s::DemoControlSendTransactionOutput> {
        Ok(match self.chain.accept_transaction(&tx, 0) {
            Ok(accepted) => s::DemoControlSendTransactionOutput {
                txid: accepted.txid.to_vec(),
                accepted: true,
                error: "".into(),
            },
            Err(reject) => s::DemoControlSendTransactionOutput {
                txid: Vec::new(),
                accepted: false,
                error: reject.to_string().into(),
            },
        })
    }

    async fn tip(&self, _cx: &CallContext) -> Result<s::DemoControlTipOutput> {
        let tip = self.chain.tip();
        Ok(s::DemoControlTipOutput {
            height: tip.height,
            hash: tip.hash.to_vec(),
        })
    }
}
