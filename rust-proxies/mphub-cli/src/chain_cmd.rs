//! `mphub chain …`: the wallet's `Chain` interface (a node built from Bitcoin Core PR
//! #29409, or `mphub serve --core pr29409`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Transaction};
use clap::Subcommand;
use mphub_bitcoin::chain::{BlockInfo, Chain, FoundBlock, Notification};
use mphub_chain::{decode_locator, encode_locator, miner};
use serde_json::{json, Value};

use super::{connect, ipc_error, print_json, print_line, Global};

/// `mphub chain` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum ChainCommand {
    /// Follow the chain like a wallet: Chain.handleNotifications, catch up from the locator
    /// in --locator-file (if the file exists), then print every notification as it comes
    /// (one line each; JSON Lines with --json). Stops on Ctrl-C or after --max-events
    /// (exit 0), or when the node goes away (exit 1).
    Follow {
        /// File holding the hex of a serialized block locator: read to catch up from, and
        /// rewritten after every block so the next run resumes there.
        #[arg(long, value_name = "FILE")]
        locator_file: Option<PathBuf>,
        /// Exit after printing N lines of events.
        #[arg(long, value_name = "N")]
        max_events: Option<u64>,
    },
    /// Chain.broadcastTransaction of a serialized transaction (hex); prints its txid.
    Broadcast {
        /// The transaction, hex.
        tx_hex: String,
        /// Refuse a fee above this many satoshis (0: no cap).
        #[arg(long, default_value_t = 0)]
        max_fee: i64,
    },
    /// Spend the OP_TRUE coinbase output of the block at HEIGHT (what `mphub mining mine`
    /// and the demo node pay to) to a P2WSH(OP_TRUE) output, through
    /// Chain.broadcastTransaction; prints the txid. A real node needs -acceptnonstdtxn=1.
    SpendCoinbase {
        /// Height of the block whose coinbase is spent (100 blocks deep or more).
        #[arg(long)]
        height: i32,
        /// Fee in satoshis.
        #[arg(long, default_value_t = 1000)]
        fee: i64,
    },
}

pub(crate) async fn run(g: &Global, rt: &mphub::Runtime, command: ChainCommand) -> Result<()> {
    let node = connect(g, rt).await?;
    let chain = Chain::new(
        node.chain()
            .await
            .map_err(|e| ipc_error(e, "Init.makeChain"))?,
    );
    match command {
        ChainCommand::Follow {
            locator_file,
            max_events,
        } => follow(g, &chain, locator_file.as_deref(), max_events).await,
        ChainCommand::Broadcast { tx_hex, max_fee } => {
            let bytes = hex::decode(tx_hex.trim()).context("the transaction is not hex")?;
            let tx: Transaction =
                deserialize(&bytes).map_err(|e| anyhow!("the hex is not a transaction: {e}"))?;
            broadcast(g, &chain, &tx, max_fee).await
        }
        ChainCommand::SpendCoinbase { height, fee } => {
            let hash = chain
                .block_hash(height)
                .await
                .map_err(|e| ipc_error(e, "Chain.getBlockHash"))?;
            let block = chain
                .find_block(hash, FoundBlock::new().data())
                .await
                .map_err(|e| ipc_error(e, "Chain.findBlock"))?
                .and_then(|found| found.block)
                .ok_or_else(|| anyhow!("the node has no data for block {hash}"))?;
            let coinbase = &block.txdata[0];
            let out = coinbase
                .output
                .first()
                .filter(|o| o.script_pubkey.as_bytes() == [0x51])
                .ok_or_else(|| {
                    anyhow!("the coinbase of block {height} does not pay OP_TRUE in output 0")
                })?;
            let bytes = miner::spend_op_true(
                coinbase.compute_txid().to_byte_array(),
                0,
                out.value.to_sat() as i64,
                fee,
            )?;
            let tx: Transaction = deserialize(&bytes).context("building the spend")?;
            broadcast(g, &chain, &tx, 0).await
        }
    }
}

async fn broadcast(g: &Global, chain: &Chain, tx: &Transaction, max_fee: i64) -> Result<()> {
    let txid = tx.compute_txid();
    match chain
        .broadcast(tx, max_fee)
        .await
        .map_err(|e| ipc_error(e, "Chain.broadcastTransaction"))?
    {
        Ok(()) if g.json => {
            print_json(&json!({ "txid": txid.to_string(), "hex": hex::encode(serialize(tx)) }))
        }
        Ok(()) => print_line(&txid.to_string()),
        Err(reason) => bail!("the node refused the transaction: {reason}"),
    }
}

fn read_locator(path: &Path) -> Result<Option<Vec<BlockHash>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("{}: the locator is not hex", path.display()))?;
    let hashes = decode_locator(&bytes).with_context(|| format!("{}", path.display()))?;
    Ok(Some(
        hashes.into_iter().map(BlockHash::from_byte_array).collect(),
    ))
}

fn write_locator(path: &Path, locator: &[BlockHash]) -> Result<()> {
    let hashes: Vec<[u8; 32]> = locator.iter().map(|h| h.to_byte_array()).collect();
    // Write then rename, so a crash never leaves half a locator.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, hex::encode(encode_locator(&hashes)) + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn block_json(event: &str, block: &BlockInfo) -> Value {
    json!({
        "event": event,
        "height": block.height,
        "hash": block.hash.to_string(),
        "prev_hash": block.prev_hash.map(|h| h.to_string()),
        "txs": block.block.as_ref().map(|b| b.txdata.len()),
        "chain_time_max": block.chain_time_max,
    })
}

fn block_line(event: &str, block: &BlockInfo) -> String {
    let txs = block
        .block
        .as_ref()
        .map(|b| format!(" txs={}", b.txdata.len()))
        .unwrap_or_default();
    format!("{event} {} {}{txs}", block.height, block.hash)
}

/// The line (or JSON object) for one notification.
fn render(json: bool, n: &Notification) -> String {
    let (value, line) = match n {
        Notification::CatchUp(b) => (block_json("catch_up", b), block_line("catch-up", b)),
        Notification::BlockConnected { role, block } => {
            let mut v = block_json("block_connected", block);
            v["role"] = json!(role);
            (v, block_line("connected", block))
        }
        Notification::BlockDisconnected(b) => (
            block_json("block_disconnected", b),
            block_line("disconnected", b),
        ),
        Notification::UpdatedBlockTip => (
            json!({ "event": "updated_block_tip" }),
            "tip-updated".to_string(),
        ),
        Notification::TransactionAdded(tx) => (
            json!({ "event": "transaction_added", "txid": tx.compute_txid().to_string() }),
            format!("mempool-add {}", tx.compute_txid()),
        ),
        Notification::TransactionRemoved { tx, reason } => {
            let reason = reason.map(|r| r.as_str()).unwrap_or("unknown");
            (
                json!({ "event": "transaction_removed", "txid": tx.compute_txid().to_string(), "reason": reason }),
                format!("mempool-remove {} reason={reason}", tx.compute_txid()),
            )
        }
        Notification::ChainStateFlushed { role, locator } => {
            let tip = locator.first().map(|h| h.to_string());
            (
                json!({ "event": "chain_state_flushed", "role": role, "locator_tip": tip }),
                format!("flushed {}", tip.unwrap_or_default()),
            )
        }
    };
    if json {
        value.to_string()
    } else {
        line
    }
}

async fn follow(
    g: &Global,
    chain: &Chain,
    locator_file: Option<&Path>,
    max_events: Option<u64>,
) -> Result<()> {
    let locator = match locator_file {
        Some(path) => read_locator(path)?,
        None => None,
    };
    let mut follower = chain
        .follow(locator.as_deref())
        .await
        .map_err(|e| ipc_error(e, "Chain.handleNotifications"))?;
    // On stderr so scripts know notifications are registered: nothing after this is missed.
    eprintln!(
        "mphub: following the chain ({})",
        if locator.is_some() {
            "catching up from the locator first"
        } else {
            "from the tip"
        }
    );
    let mut printed = 0u64;
    let mut out = std::io::stdout().lock();
    let stopped_by_user = loop {
        if max_events.is_some_and(|max| printed >= max) {
            break true;
        }
        let next = tokio::select! {
            next = follower.next() => next,
            r = tokio::signal::ctrl_c() => { r.context("waiting for SIGINT")?; break true; }
        };
        match next {
            Ok(n) => {
                writeln!(out, "{}", render(g.json, &n)).context("writing to stdout")?;
                out.flush().context("writing to stdout")?;
                printed += 1;
                let block_event = matches!(
                    n,
                    Notification::CatchUp(_)
                        | Notification::BlockConnected { .. }
                        | Notification::BlockDisconnected(_)
                );
                if let (true, Some(path)) = (block_event, locator_file) {
                    let locator = follower
                        .locator()
                        .await
                        .map_err(|e| ipc_error(e, "Chain.getActiveChainLocator"))?;
                    write_locator(path, &locator)?;
                }
            }
            Err(mphub::Error::Malformed(detail)) => {
                eprintln!("mphub: skipping a notification that does not decode: {detail}");
            }
            Err(e) => return Err(ipc_error(e, "following the chain")),
        }
    };
    if stopped_by_user {
        follower
            .stop()
            .await
            .map_err(|e| ipc_error(e, "Handler.disconnect"))?;
    }
    Ok(())
}
