//! The scripted session for the PR #29409 schema's `Chain` (what a wallet uses): every
//! query method with present, absent and edge inputs, and a transaction through
//! `broadcastTransaction` into the mempool.
//!
//! Both nodes first take the same [`CHAIN_BLOCKS`] blocks from
//! [`premine_blocks`](super::session::premine_blocks) through their own door (RPC
//! `submitblock` on Core), so heights, hashes and times match.

use mphub_bitcoin::chain::FoundBlock;
use mphub_bitcoin::client::Node;
use mphub_bitcoin::pr29409 as s;
use mphub_chain::miner;
use serde_json::{json, Value};

use super::fixture::Recording;
use super::session::{answer, hex, premine_blocks, Recorder};

/// Blocks submitted before the session: the first coinbase is mature at 101.
pub const CHAIN_BLOCKS: usize = 110;

/// Everything a `FoundBlock` answer carries.
fn found(b: &s::FoundBlockResult) -> Value {
    json!({
        "found": b.found,
        "hash": hex(&b.hash),
        "height": b.height,
        "time": b.time,
        "maxTime": b.max_time,
        "mtpTime": b.mtp_time,
        "inActiveChain": b.in_active_chain,
        "locator": hex(&b.locator),
        "data": hex(&b.data),
        "nextBlock": b.next_block.as_deref().map(found),
    })
}

fn want_all_but_data() -> s::FoundBlockParam {
    FoundBlock::all_but_data().into_param()
}

fn want_hash_height() -> s::FoundBlockParam {
    FoundBlock::new().hash().height().into_param()
}

/// Runs the Chain session; `submit_block` gives a serialized block to the node.
pub async fn run(
    node: &Node,
    mocktime: u32,
    submit_block: &dyn Fn(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Recording> {
    let mut recorder = Recorder::default();
    let mut record = |step: String, answer: Value| recorder.record(step, answer);
    let blocks = premine_blocks(mocktime, CHAIN_BLOCKS)?;
    let mut hashes = Vec::new();
    for block in &blocks {
        submit_block(block)?;
        let b: bitcoin::Block = bitcoin::consensus::deserialize(block)?;
        hashes.push(bitcoin::hashes::Hash::to_byte_array(b.block_hash()));
    }
    let hash = |h: usize| hashes[h - 1].to_vec();
    let unknown = vec![0x11u8; 32];
    let chain = node
        .chain()
        .await
        .map_err(|e| anyhow::anyhow!("Init.makeChain: {e}"))?;

    record(
        "Chain.getHeight".into(),
        answer(chain.get_height().await, |h| json!(h)),
    );
    for h in [0, 1, CHAIN_BLOCKS as i32] {
        record(
            format!("Chain.getBlockHash {h}"),
            answer(chain.get_block_hash(h).await, |b| json!(hex(&b))),
        );
        record(
            format!("Chain.haveBlockOnDisk {h}"),
            answer(chain.have_block_on_disk(h).await, |b| json!(b)),
        );
    }
    let tip_locator = chain.get_tip_locator().await?;
    record("Chain.getTipLocator".into(), json!(hex(&tip_locator)));
    record(
        "Chain.getActiveChainLocator block 50".into(),
        answer(chain.get_active_chain_locator(hash(50)).await, |l| {
            json!(hex(&l))
        }),
    );
    record(
        "Chain.findLocatorFork tip locator".into(),
        answer(chain.find_locator_fork(tip_locator.clone()).await, |f| {
            json!(f)
        }),
    );

    let tip = hash(CHAIN_BLOCKS);
    let mut with_next = want_all_but_data();
    with_next.next_block = Some(Box::new(want_hash_height()));
    for (label, h, want) in [
        ("block 100, all but data, next", hash(100), with_next),
        ("tip, all but data, next", tip.clone(), {
            let mut w = want_all_but_data();
            w.next_block = Some(Box::new(want_hash_height()));
            w
        }),
        (
            "block 1, data",
            hash(1),
            s::FoundBlockParam {
                want_data: true,
                ..Default::default()
            },
        ),
        ("unknown hash", unknown.clone(), want_hash_height()),
    ] {
        record(
            format!("Chain.findBlock {label}"),
            answer(
                chain.find_block(h, want).await,
                |o| json!({"result": o.result, "block": o.block.as_ref().map(found)}),
            ),
        );
    }
    for (label, time, height) in [
        ("time of block 50, height 10", i64::from(mocktime) + 50, 10),
        (
            "height 60 after time of block 50",
            i64::from(mocktime) + 50,
            60,
        ),
        ("time after the tip", i64::from(mocktime) + 10_000, 0),
    ] {
        record(
            format!("Chain.findFirstBlockWithTimeAndHeight {label}"),
            answer(
                chain
                    .find_first_block_with_time_and_height(time, height, want_hash_height())
                    .await,
                |o| json!({"result": o.result, "block": o.block.as_ref().map(found)}),
            ),
        );
    }
    for (label, from, height) in [
        ("tip, 50", tip.clone(), 50),
        ("block 10, 50", hash(10), 50),
        ("unknown, 5", unknown.clone(), 5),
    ] {
        record(
            format!("Chain.findAncestorByHeight {label}"),
            answer(
                chain
                    .find_ancestor_by_height(from, height, want_hash_height())
                    .await,
                |o| json!({"result": o.result, "ancestor": o.ancestor.as_ref().map(found)}),
            ),
        );
    }
    for (label, from, to) in [
        ("tip, block 20", tip.clone(), hash(20)),
        ("block 20, tip", hash(20), tip.clone()),
    ] {
        record(
            format!("Chain.findAncestorByHash {label}"),
            answer(
                chain
                    .find_ancestor_by_hash(from, to, want_hash_height())
                    .await,
                |o| json!({"result": o.result, "ancestor": o.ancestor.as_ref().map(found)}),
            ),
        );
    }
    record(
        "Chain.findCommonAncestor block 50, tip".into(),
        answer(
            chain
                .find_common_ancestor(
                    hash(50),
                    tip.clone(),
                    want_hash_height(),
                    want_hash_height(),
                    want_hash_height(),
                )
                .await,
            |o| {
                json!({
                    "result": o.result,
                    "ancestor": o.ancestor.as_ref().map(found),
                    "block1": o.block1.as_ref().map(found),
                    "block2": o.block2.as_ref().map(found),
                })
            },
        ),
    );
    record(
        "Chain.hasBlocks tip, 0..".into(),
        answer(chain.has_blocks(tip.clone(), 0, None).await, |b| json!(b)),
    );
    record(
        "Chain.havePruned".into(),
        answer(chain.have_pruned().await, |b| json!(b)),
    );
    record(
        "Chain.getPruneHeight".into(),
        answer(chain.get_prune_height().await, |h| json!(h)),
    );
    record(
        "Chain.isReadyToBroadcast".into(),
        answer(chain.is_ready_to_broadcast().await, |b| json!(b)),
    );
    record(
        "Chain.isInitialBlockDownload".into(),
        answer(chain.is_initial_block_download().await, |b| json!(b)),
    );
    record(
        "Chain.shutdownRequested".into(),
        answer(chain.shutdown_requested().await, |b| json!(b)),
    );
    record(
        "Chain.hasAssumedValidChain".into(),
        answer(chain.has_assumed_valid_chain().await, |b| json!(b)),
    );
    record(
        "Chain.hasBlockFilterIndex basic".into(),
        answer(chain.has_block_filter_index(0).await, |b| json!(b)),
    );
    record(
        "Chain.getPackageLimits".into(),
        answer(
            chain.get_package_limits().await,
            |p| json!({"ancestors": p.ancestors, "descendants": p.descendants}),
        ),
    );
    record(
        "Chain.estimateSmartFee 6".into(),
        answer(chain.estimate_smart_fee(6, true, true).await, |f| {
            json!({
                "result": hex(&f.result),
                "returnedTarget": f.calc.as_ref().map(|c| c.returned_target),
            })
        }),
    );
    record(
        "Chain.estimateMaxBlocks".into(),
        answer(chain.estimate_max_blocks().await, |n| json!(n)),
    );
    record(
        "Chain.mempoolMinFee".into(),
        answer(chain.mempool_min_fee().await, |f| json!(hex(&f))),
    );
    record(
        "Chain.relayMinFee".into(),
        answer(chain.relay_min_fee().await, |f| json!(hex(&f))),
    );
    record(
        "Chain.relayIncrementalFee".into(),
        answer(chain.relay_incremental_fee().await, |f| json!(hex(&f))),
    );
    record(
        "Chain.relayDustFee".into(),
        answer(chain.relay_dust_fee().await, |f| json!(hex(&f))),
    );

    // A transaction spending block 1's coinbase (mature), broadcast into the mempool.
    let block1: bitcoin::Block = bitcoin::consensus::deserialize(&blocks[0])?;
    let cb = &block1.txdata[0];
    let value = i64::try_from(cb.output[0].value.to_sat())?;
    let cb_txid = bitcoin::hashes::Hash::to_byte_array(cb.compute_txid());
    let tx = miner::spend_op_true(cb_txid, 0, value, 10_000)?;
    let txid = miner::txid_of(&tx)?.to_vec();
    record(
        "Chain.isRBFOptIn before broadcast".into(),
        answer(chain.is_rbf_opt_in(tx.clone()).await, |r| json!(r)),
    );
    record(
        "Chain.isInMempool before broadcast".into(),
        answer(chain.is_in_mempool(txid.clone()).await, |b| json!(b)),
    );
    for label in ["broadcastTransaction", "broadcastTransaction again"] {
        record(
            format!("Chain.{label}"),
            answer(
                chain.broadcast_transaction(tx.clone(), 0, true).await,
                broadcast_json,
            ),
        );
    }
    let missing = miner::spend_op_true([7; 32], 0, value, 10_000)?;
    record(
        "Chain.broadcastTransaction spends a missing output".into(),
        answer(
            chain.broadcast_transaction(missing, 0, true).await,
            broadcast_json,
        ),
    );
    record(
        "Chain.isInMempool after broadcast".into(),
        answer(chain.is_in_mempool(txid.clone()).await, |b| json!(b)),
    );
    record(
        "Chain.hasDescendantsInMempool".into(),
        answer(chain.has_descendants_in_mempool(txid.clone()).await, |b| {
            json!(b)
        }),
    );
    record(
        "Chain.getTransactionAncestry".into(),
        answer(
            chain.get_transaction_ancestry(txid.clone()).await,
            ancestry_json,
        ),
    );
    record(
        "Chain.isRBFOptIn after broadcast".into(),
        answer(chain.is_rbf_opt_in(tx.clone()).await, |r| json!(r)),
    );

    // Its child opts out (nSequence final) yet inherits replaceability from the parent once
    // both are in the mempool (Core's IsRBFOptIn walks in-mempool ancestors).
    let child = final_child_of(&txid, value - 10_000, 10_000)?;
    let child_txid = miner::txid_of(&child)?.to_vec();
    record(
        "Chain.isRBFOptIn final child before broadcast".into(),
        answer(chain.is_rbf_opt_in(child.clone()).await, |r| json!(r)),
    );
    record(
        "Chain.broadcastTransaction final child".into(),
        answer(
            chain.broadcast_transaction(child.clone(), 0, true).await,
            broadcast_json,
        ),
    );
    record(
        "Chain.isRBFOptIn final child of a signalling parent".into(),
        answer(chain.is_rbf_opt_in(child).await, |r| json!(r)),
    );
    record(
        "Chain.getTransactionAncestry final child".into(),
        answer(
            chain.get_transaction_ancestry(child_txid).await,
            ancestry_json,
        ),
    );
    Ok(Recording {
        steps: recorder.steps,
    })
}

/// A standard spend of output 0 of `parent_txid` (a P2WSH `OP_TRUE` output of `value`
/// satoshis, as `spend_op_true` makes): the witness carries the `OP_TRUE` script, and the
/// input's nSequence is final, so it does not signal BIP 125 itself.
fn final_child_of(parent_txid: &[u8], value: i64, fee: i64) -> anyhow::Result<Vec<u8>> {
    let parent: [u8; 32] = parent_txid.try_into()?;
    let mut tx: bitcoin::Transaction =
        bitcoin::consensus::deserialize(&miner::spend_op_true(parent, 0, value, fee)?)?;
    for input in &mut tx.input {
        input.sequence = bitcoin::Sequence::MAX;
        input.witness = bitcoin::Witness::from_slice(&[[0x51u8]]);
    }
    Ok(bitcoin::consensus::serialize(&tx))
}

/// `Chain.getTransactionAncestry`'s answer, as recorded.
fn ancestry_json(a: s::ChainGetTransactionAncestryOutput) -> Value {
    json!({
        "ancestors": a.ancestors,
        "descendants": a.descendants,
        "ancestorsize": a.ancestorsize,
        "ancestorfees": a.ancestorfees,
    })
}

/// `Chain.broadcastTransaction`'s answer, as recorded.
fn broadcast_json(o: s::ChainBroadcastTransactionOutput) -> Value {
    json!({"result": o.result, "error": o.error.to_string_lossy()})
}
