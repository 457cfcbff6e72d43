//! `mphub demo …`: drive the chain of a running `mphub serve` through its control socket
//! (`<node socket>.demo`, mphub's `DemoControl` interface), as one drives a regtest node
//! with RPC.

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use mphub_bitcoin::demo::control_socket_path;
use mphub_bitcoin::demo_control::DemoControlClient;
use serde_json::json;

use super::{ipc_error, print_json, print_line, rpc_hex, socket_path, Global};

/// `mphub demo` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum DemoCommand {
    /// Mine blocks on the tip (mempool included); prints their hashes.
    Mine {
        /// Number of blocks.
        #[arg(default_value_t = 1)]
        blocks: u32,
    },
    /// Replace the top DEPTH blocks with DEPTH + 1 new coinbase-only blocks (or --blocks;
    /// the new branch must be longer to win), their transactions going back to the
    /// mempool; prints the new hashes.
    Reorg {
        /// Blocks to disconnect.
        depth: u32,
        /// Blocks to connect [default: DEPTH + 1].
        #[arg(long)]
        blocks: Option<u32>,
    },
    /// Add a synthetic mempool transaction paying --fee satoshis; prints its txid.
    AddTx {
        /// Fee in satoshis.
        #[arg(long, default_value_t = 1000)]
        fee: i64,
    },
    /// Offer a serialized transaction (hex) to the demo mempool; prints its txid.
    SendTx {
        /// The transaction, hex.
        tx_hex: String,
    },
    /// Height and hash of the tip.
    Tip,
}

fn hashes_out(g: &Global, hashes: &[Vec<u8>]) -> Result<()> {
    let hex: Vec<String> = hashes
        .iter()
        .map(|h| <[u8; 32]>::try_from(h.as_slice()).map(rpc_hex))
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("the demo node sent a hash that is not 32 bytes"))?;
    if g.json {
        print_json(&json!({ "hashes": hex }))
    } else {
        hex.iter().try_for_each(|h| print_line(h))
    }
}

pub(crate) async fn run(g: &Global, rt: &mphub::Runtime, command: DemoCommand) -> Result<()> {
    let path = control_socket_path(&socket_path(g)?);
    let control: DemoControlClient = mphub::connect_with(rt, &path, g.connect_options()?)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot reach the demo node's control socket unix:{}: {e} (is `mphub serve` running there?)",
                path.display()
            )
        })?;
    match command {
        DemoCommand::Mine { blocks } => {
            let out = control
                .mine(blocks)
                .await
                .map_err(|e| ipc_error(e, "DemoControl.mine"))?;
            hashes_out(g, &out.hashes)
        }
        DemoCommand::Reorg { depth, blocks } => {
            let out = control
                .reorg(depth, blocks.unwrap_or(depth.saturating_add(1)))
                .await
                .map_err(|e| ipc_error(e, "DemoControl.reorg"))?;
            hashes_out(g, &out.hashes)
        }
        DemoCommand::AddTx { fee } => {
            let out = control
                .add_transaction(fee)
                .await
                .map_err(|e| ipc_error(e, "DemoControl.addTransaction"))?;
            hashes_out(g, &[out.txid])
        }
        DemoCommand::SendTx { tx_hex } => {
            let tx = hex::decode(tx_hex.trim())
                .map_err(|e| anyhow!("the transaction is not hex: {e}"))?;
            let out = control
                .send_transaction(tx)
                .await
                .map_err(|e| ipc_error(e, "DemoControl.sendTransaction"))?;
            if !out.accepted {
                bail!("the demo mempool refused the transaction: {}", out.error);
            }
            hashes_out(g, &[out.txid])
        }
        DemoCommand::Tip => {
            let out = control
                .tip()
                .await
                .map_err(|e| ipc_error(e, "DemoControl.tip"))?;
            let hash = <[u8; 32]>::try_from(out.hash.as_slice())
                .map_err(|_| anyhow!("the demo node sent a hash that is not 32 bytes"))?;
            if g.json {
                print_json(&json!({ "height": out.height, "hash": rpc_hex(hash) }))
            } else {
                print_line(&format!("{} {}", out.height, rpc_hex(hash)))
            }
        }
    }
}
