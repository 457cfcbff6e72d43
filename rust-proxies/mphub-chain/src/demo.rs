//! A synthetic regtest chain that mimics Bitcoin Core's mining interface.
//!
//! [`DemoChain`] starts from the real regtest genesis block and keeps one active chain (a
//! [`reorg`](DemoChain::reorg) replaces its top blocks) plus a mempool holding synthetic
//! segwit transactions and transactions from outside
//! ([`accept_transaction`](DemoChain::accept_transaction), checked against the chain's
//! unspent outputs with Core's reject reasons). Every change is signalled to
//! [`subscribe`](DemoChain::subscribe)rs as [`ChainEvent`]s in Core's order. Its methods follow
//! the semantics of Core's `interfaces::Mining` and `interfaces::BlockTemplate` as served over
//! IPC (see `bitcoin-core-ipc.md` §3.7–§3.10, §5, §7):
//!
//! | Core IPC method | here |
//! |---|---|
//! | `Mining.getTip` / `isTestChain` / `isInitialBlockDownload` | [`DemoChain::tip`], [`DemoChain::is_test_chain`], [`DemoChain::is_initial_block_download`] |
//! | `Mining.createNewBlock` | [`DemoChain::create_template`] |
//! | `Mining.waitTipChanged` / `interrupt` | [`DemoChain::wait_tip_changed`], [`DemoChain::interrupt`] |
//! | `Mining.checkBlock` / `submitBlock` | [`DemoChain::check_block`], [`DemoChain::submit_block`] |
//! | `Mining.getTransactionsByTxID` / `…ByWitnessID` | [`DemoChain::get_transactions_by_txid`], [`DemoChain::get_transactions_by_wtxid`] |
//! | `BlockTemplate.getBlockHeader`, `getBlock`, `getTxFees`, `getTxSigops`, `getCoinbaseTx`, `getCoinbaseMerklePath` | fields of [`Template`] |
//! | `BlockTemplate.submitSolution` | [`DemoChain::submit_solution`] |
//! | `BlockTemplate.waitNext` / `interruptWait` | [`DemoChain::wait_next`], [`Template::interrupt_wait`] |
//!
//! Validation is a useful subset of Core's consensus checks with Core's reject reasons
//! (`high-hash`, `bad-txnmrklroot`, `bad-cb-length`, `bad-cb-height`, `bad-cb-amount`,
//! `bad-witness-merkle-match`, `inconclusive-not-best-prevblk`, …). Non-coinbase transactions
//! are valid exactly when they are in the demo mempool. Scripts are never evaluated: a
//! transaction from outside is accepted when its structure, inputs (known, unspent, coinbase
//! outputs mature), amounts and fee are right.
//!
//! The async waits use tokio timers, so they must run inside a tokio runtime with the time
//! driver enabled.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::opcodes::all::OP_PUSHNUM_1;
use bitcoin::script::Builder;
use bitcoin::transaction::Version as TxVersion;
use bitcoin::{
    absolute, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness, Wtxid,
};
use thiserror::Error;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::events::{ChainEvent, RemovalReason, Subscriber, Subscription};
use crate::miner::{
    build_coinbase, merkle_root_from_path, solve_header, txid_of, MinerError,
    MAX_COINBASE_SCRIPT_SIG_LEN, MIN_COINBASE_SCRIPT_SIG_LEN,
};
use crate::{BlockFacts, BlockRef, CoinbaseTemplate, SubmitResult, MAX_MONEY};

/// Compact target of regtest blocks (`0x207fffff`); about every second hash meets it.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Header `nVersion` of new templates (BIP9 top bits, no deployment signalled).
pub const TEMPLATE_VERSION: u32 = 0x2000_0000;
/// Consensus maximum block weight.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Smallest `block_reserved_weight` Core accepts.
pub const MINIMUM_BLOCK_RESERVED_WEIGHT: u64 = 2000;
/// Consensus maximum sigop cost per block.
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;
/// Blocks between subsidy halvings on regtest.
pub const REGTEST_HALVING_INTERVAL: i32 = 150;
/// Default `block_reserved_weight` (`mining.capnp` `defaultBlockReservedWeight`).
pub const DEFAULT_BLOCK_RESERVED_WEIGHT: u64 = 8000;
/// Default `coinbase_output_max_additional_sigops`
/// (`mining.capnp` `defaultCoinbaseOutputMaxAdditionalSigops`).
pub const DEFAULT_COINBASE_OUTPUT_MAX_ADDITIONAL_SIGOPS: u64 = 400;

/// How far in the future a block timestamp may be (Core's `MAX_FUTURE_BLOCK_TIME`).
const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;
/// Core's `DEFAULT_MAX_TIP_AGE`: a tip older than this (seconds) means initial block download.
const MAX_TIP_AGE: i64 = 24 * 60 * 60;
/// Prefix of a witness commitment output script: OP_RETURN, push 36, `aa21a9ed`.
const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
/// Value of the output of each synthetic mempool transaction.
const SYNTHETIC_OUTPUT_VALUE: u64 = 100_000;
/// Sigop cost of a synthetic transaction (one P2WPKH input).
const SYNTHETIC_TX_SIGOPS: i64 = 1;
/// Blocks a coinbase output must wait before it can be spent (Core's `COINBASE_MATURITY`).
pub const COINBASE_MATURITY: i32 = 100;
/// Core's default minimum relay fee rate (`DEFAULT_MIN_RELAY_TX_FEE`), sat/kvB: 100 since
/// v30 (`getmempoolinfo` on master and v31 answers `minrelaytxfee` 0.00000100).
pub const MIN_RELAY_FEE_PER_KVB: i64 = 100;
/// Core's default incremental relay fee rate (`DEFAULT_INCREMENTAL_RELAY_FEE`), sat/kvB: 100
/// since v30.
pub const INCREMENTAL_RELAY_FEE_PER_KVB: i64 = 100;
/// The same two defaults before v30 (and on the PR #29409 branch, 29.99), sat/kvB.
pub const PRE_V30_RELAY_FEE_PER_KVB: i64 = 1000;
/// Core's default dust relay fee rate (`DUST_RELAY_TX_FEE`), sat/kvB.
pub const DUST_RELAY_FEE_PER_KVB: i64 = 3000;

/// Errors from [`DemoChain`].
///
/// The `Display` text of the option errors is exactly Core's, so an IPC server can forward it
/// as the exception message.
#[derive(Debug, Error)]
pub enum ChainError {
    /// `block_reserved_weight` below [`MINIMUM_BLOCK_RESERVED_WEIGHT`].
    #[error("block_reserved_weight ({0}) is lower than minimum safety value of (2000)")]
    ReservedWeightTooLow(u64),
    /// `block_reserved_weight` above [`MAX_BLOCK_WEIGHT`].
    #[error("block_reserved_weight ({0}) exceeds consensus maximum block weight (4000000)")]
    ReservedWeightTooHigh(u64),
    /// A mempool fee outside `0..=MAX_MONEY`.
    #[error("invalid fee {0}: must be between 0 and {MAX_MONEY} satoshis")]
    InvalidFee(i64),
    /// Bytes from the client that do not decode; the text is Core's exception text
    /// (e.g. "SpanReader::read(): end of data: iostream error").
    #[error("{0}")]
    Undecodable(String),
    /// A [`Template`] whose block bytes cannot be used (e.g. edited by the caller).
    #[error("malformed template: {0}")]
    MalformedTemplate(String),
    /// A block mined by [`DemoChain::mine_blocks`] was rejected.
    #[error("mined block rejected: {reason} ({debug})")]
    BlockRejected {
        /// Core-style reject reason.
        reason: String,
        /// Detail.
        debug: String,
    },
    /// A mining helper failed.
    #[error(transparent)]
    Miner(#[from] MinerError),
    /// A reorg asked to disconnect the genesis block or to connect no block.
    #[error("cannot reorg {depth} blocks into {blocks} new ones: the tip is at height {height} (genesis stays) and at least one block must be connected")]
    BadReorg {
        /// Blocks to disconnect.
        depth: usize,
        /// Blocks to connect.
        blocks: usize,
        /// Height of the tip.
        height: i32,
    },
}

/// Why the mempool refused a transaction: Core's reject reason and debug text, shown as
/// Core's `TxValidationState::ToString()` (`reason, debug`), the error text of
/// `Chain.broadcastTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}{}{debug}", if debug.is_empty() { "" } else { ", " })]
pub struct TxReject {
    /// Core's reason, e.g. `bad-txns-inputs-missingorspent`.
    pub reason: String,
    /// Detail (may be empty).
    pub debug: String,
}

impl TxReject {
    fn new(reason: &str, debug: impl Into<String>) -> Self {
        TxReject {
            reason: reason.into(),
            debug: debug.into(),
        }
    }
}

/// A transaction the mempool took (or already had), from
/// Mempool totals (RPC `getmempoolinfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MempoolInfo {
    /// Transactions.
    pub size: usize,
    /// Sum of virtual sizes, vbytes.
    pub bytes: u64,
    /// Sum of fees, satoshis.
    pub total_fee: i64,
    /// Transactions a client submitted that were never relayed (there are no peers).
    pub unbroadcast: usize,
}

/// [`DemoChain::accept_transaction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Txid, internal byte order.
    pub txid: [u8; 32],
    /// Fee in satoshis.
    pub fee: i64,
    /// False when it was in the mempool already (Core then only relays it again).
    pub added: bool,
}

/// Core's `GetTransactionAncestry` for a mempool transaction: counts include the
/// transaction itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ancestry {
    /// Transactions in its in-mempool ancestry, itself included.
    pub ancestors: u64,
    /// The largest descendant count (itself included) among its ancestors without
    /// in-mempool parents (Core's `CalculateDescendantMaximum`).
    pub descendants: u64,
    /// Virtual size of the ancestry, vbytes.
    pub ancestor_size: u64,
    /// Fees of the ancestry, satoshis.
    pub ancestor_fees: i64,
}

/// Core's `RBFTransactionState` (`src/policy/rbf.h`), as `Chain.isRBFOptIn` returns it
/// over the wire (an `Int32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbfState {
    /// Not in the mempool and not signalling itself: its unconfirmed parents are unknown.
    Unknown = 0,
    /// It, or an in-mempool ancestor, has an input with nSequence <= 0xfffffffd (BIP 125).
    ReplaceableBip125 = 1,
    /// In the mempool, and neither it nor any in-mempool ancestor signals.
    Final = 2,
}

/// Core's `FormatMoney`: BTC with at least two decimals (`0.001`, `1.00`).
fn format_money(sats: u64) -> String {
    let mut s = format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000);
    while s.ends_with('0') && s.len() - s.find('.').unwrap_or(0) > 3 {
        s.pop();
    }
    s
}

/// Options for [`DemoChain::create_template`] (`BlockCreateOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOptions {
    /// Include mempool transactions; `false` gives a coinbase-only template.
    pub use_mempool: bool,
    /// Weight kept free for the coinbase; must be in `2000..=4_000_000`.
    pub block_reserved_weight: u64,
    /// Sigop cost kept free for the coinbase outputs (clamped to `0..=80_000`).
    pub coinbase_output_max_additional_sigops: u64,
}

impl Default for CreateOptions {
    /// The v31+ schema defaults: `true`, 8000, 400.
    fn default() -> Self {
        CreateOptions {
            use_mempool: true,
            block_reserved_weight: DEFAULT_BLOCK_RESERVED_WEIGHT,
            coinbase_output_max_additional_sigops: DEFAULT_COINBASE_OUTPUT_MAX_ADDITIONAL_SIGOPS,
        }
    }
}

/// The per-template flag behind `BlockTemplate.interruptWait`.
#[derive(Debug, Default)]
struct WaitInterrupt {
    flag: AtomicBool,
    notify: Notify,
}

/// A block template (what `createNewBlock` returns), with everything the `BlockTemplate`
/// getters expose.
///
/// Clones share the [`Template::interrupt_wait`] flag.
#[derive(Debug, Clone)]
pub struct Template {
    /// `getBlockHeader`: 80-byte header; prev = tip, bits = [`REGTEST_BITS`], version
    /// [`TEMPLATE_VERSION`], merkle root of the dummy-coinbase block, nonce 0.
    pub header: [u8; 80],
    /// `getBlock`: the full block, segwit serialization, with a dummy coinbase (OP_TRUE payout
    /// of the whole reward plus the witness commitment). `txs[1..]` are the block contents.
    pub block: Vec<u8>,
    /// `getTxFees`: fee in satoshis of each transaction, coinbase excluded.
    pub tx_fees: Vec<i64>,
    /// `getTxSigops`: sigop cost of each transaction, coinbase excluded.
    pub tx_sigops: Vec<i64>,
    /// `getCoinbaseTx`: the coinbase fields for the miner.
    pub coinbase: CoinbaseTemplate,
    /// `getCoinbaseMerklePath`: the coinbase's merkle branch, deepest first, internal order.
    pub coinbase_merkle_path: Vec<[u8; 32]>,
    /// The tip this template builds on.
    pub prev: BlockRef,
    /// Height of the block this template is for (`prev.height + 1`).
    pub height: i32,
    /// The options it was created with (reused by [`DemoChain::wait_next`]).
    pub options: CreateOptions,
    parsed: Arc<Block>,
    interrupt: Arc<WaitInterrupt>,
}

impl Template {
    /// `BlockTemplate.interruptWait`: makes a pending [`DemoChain::wait_next`] on this template
    /// (or on a clone) return `None`. If no wait is pending, the next one returns `None` at
    /// once; the interrupt is consumed by the wait that reports it, as in Core.
    pub fn interrupt_wait(&self) {
        self.interrupt.flag.store(true, Ordering::SeqCst);
        self.interrupt.notify.notify_waiters();
    }

    /// Sum of [`Template::tx_fees`].
    pub fn total_fees(&self) -> i64 {
        self.tx_fees.iter().copied().fold(0i64, i64::saturating_add)
    }

    /// The dummy coinbase transaction, serialized with witness (v29/v30 `getCoinbaseTx`).
    pub fn dummy_coinbase(&self) -> Vec<u8> {
        self.parsed
            .txdata
            .first()
            .map(serialize)
            .unwrap_or_default()
    }

    /// Index of the witness commitment output in the dummy coinbase, or -1 if there is none
    /// (v29/v30 `getWitnessCommitmentIndex`).
    pub fn witness_commitment_index(&self) -> i32 {
        self.parsed
            .txdata
            .first()
            .and_then(witness_commitment_index)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(-1)
    }

    /// The witness commitment output script (`6a24aa21a9ed…`), empty if there is none
    /// (v29/v30 `getCoinbaseCommitment`).
    pub fn witness_commitment_script(&self) -> Vec<u8> {
        self.parsed
            .txdata
            .first()
            .and_then(|cb| {
                witness_commitment_index(cb).map(|i| cb.output[i].script_pubkey.to_bytes())
            })
            .unwrap_or_default()
    }

    /// The txids (internal order) of the template's transactions, coinbase excluded.
    pub fn txids(&self) -> Vec<[u8; 32]> {
        self.parsed
            .txdata
            .iter()
            .skip(1)
            .map(|tx| tx.compute_txid().to_byte_array())
            .collect()
    }
}

#[derive(Debug, Clone)]
struct MempoolEntry {
    tx: Transaction,
    wtxid: Wtxid,
    fee: i64,
    sigops: i64,
    weight: u64,
    seq: u64,
    /// Made by [`DemoChain::add_mempool_tx`]: spends a fake outpoint, so its inputs are
    /// never checked.
    synthetic: bool,
}

impl MempoolEntry {
    fn vsize(&self) -> u64 {
        self.weight.div_ceil(4)
    }
}

/// An unspent output of the active chain.
#[derive(Debug, Clone, Copy)]
struct Coin {
    value: u64,
    height: i32,
    coinbase: bool,
}

#[derive(Debug)]
struct State {
    blocks: Vec<Block>,
    hashes: Vec<BlockHash>,
    mempool: HashMap<Txid, MempoolEntry>,
    /// Entries of mempool transactions now in a block, kept so a reorg can return them.
    confirmed: HashMap<Txid, MempoolEntry>,
    next_seq: u64,
    /// Blocks mined by this chain (makes every mined coinbase unique).
    mined: u64,
    /// Number of the last [`ChainEvent`] emitted.
    event_seq: u64,
    subscribers: Vec<Subscriber>,
    /// Incremented by every [`DemoChain::interrupt`].
    interrupt_epoch: u64,
    /// Waits in [`DemoChain::wait_tip_changed`] currently pending.
    tip_waiters: usize,
    /// An interrupt arrived while nobody waited; the next wait consumes it.
    interrupt_pending: bool,
    /// Core's `-mocktime`: the clock reads this many seconds since the epoch when set.
    mock_time: Option<u32>,
    /// Core latches "initial block download" off once it has been seen off.
    ibd_done: bool,
    /// Minimum and incremental relay fee rates, sat/kvB.
    relay_fees: (i64, i64),
    /// When the node started (`uptime`; Core's is on the real clock even under `-mocktime`).
    started: Instant,
    /// Transactions accepted from a client and never relayed (no peers): Core's
    /// unbroadcast set. Entries no longer in the mempool are ignored.
    unbroadcast: HashSet<Txid>,
}

impl State {
    fn tip(&self) -> BlockRef {
        let height = self.hashes.len().saturating_sub(1);
        BlockRef {
            hash: self
                .hashes
                .last()
                .map(|h| h.to_byte_array())
                .unwrap_or_default(),
            height: i32::try_from(height).unwrap_or(i32::MAX),
        }
    }

    fn tip_hash(&self) -> BlockHash {
        self.hashes
            .last()
            .copied()
            .unwrap_or_else(BlockHash::all_zeros)
    }

    fn next_height(&self) -> i32 {
        i32::try_from(self.hashes.len()).unwrap_or(i32::MAX)
    }

    /// [`BlockFacts`] of the block at `index` of the active chain.
    fn facts(&self, index: usize) -> Option<BlockFacts> {
        let block = self.blocks.get(index)?;
        let times: Vec<u32> = self.blocks[..=index]
            .iter()
            .map(|b| b.header.time)
            .collect();
        let mut last11: Vec<u32> = times[times.len().saturating_sub(11)..].to_vec();
        last11.sort_unstable();
        // blk00000.dat: each block follows its 4-byte magic and 4-byte size.
        let data_pos: u64 = self.blocks[..index]
            .iter()
            .map(|b| 8 + b.total_size() as u64)
            .sum::<u64>()
            + 8;
        Some(BlockFacts {
            hash: self.hashes[index].to_byte_array(),
            prev_hash: block.header.prev_blockhash.to_byte_array(),
            height: i32::try_from(index).ok()?,
            time: block.header.time,
            max_time: times.iter().copied().max().unwrap_or(0),
            mtp_time: last11[last11.len() / 2],
            data: serialize(block),
            data_pos: u32::try_from(data_pos).unwrap_or(u32::MAX),
        })
    }

    /// Signals `event` to every subscriber, forgetting those gone or lagging.
    fn emit(&mut self, event: ChainEvent) {
        self.event_seq += 1;
        let seq = self.event_seq;
        self.subscribers.retain(|s| s.send(seq, event.clone()));
    }

    /// The unspent outputs of the active chain (Core's UTXO set; the genesis coinbase is
    /// not spendable, as in Core).
    fn chain_coins(&self) -> HashMap<OutPoint, Coin> {
        let mut coins = HashMap::new();
        for (height, block) in self.blocks.iter().enumerate().skip(1) {
            for tx in &block.txdata {
                let coinbase = tx.is_coinbase();
                if !coinbase {
                    for input in &tx.input {
                        coins.remove(&input.previous_output);
                    }
                }
                let txid = tx.compute_txid();
                for (vout, out) in tx.output.iter().enumerate() {
                    coins.insert(
                        OutPoint {
                            txid,
                            vout: vout as u32,
                        },
                        Coin {
                            value: out.value.to_sat(),
                            height: height as i32,
                            coinbase,
                        },
                    );
                }
            }
        }
        coins
    }

    /// Core's input checks for `tx` (txid `txid`) against the chain's `coins` and the other
    /// mempool transactions: the fee it pays, or why it cannot enter the mempool.
    fn check_inputs(
        &self,
        txid: Txid,
        tx: &Transaction,
        coins: &HashMap<OutPoint, Coin>,
    ) -> Result<i64, TxReject> {
        let spend_height = self.next_height();
        let mut value_in: u64 = 0;
        for input in &tx.input {
            let prev = input.previous_output;
            let conflict = self
                .mempool
                .iter()
                .any(|(id, e)| *id != txid && e.tx.input.iter().any(|i| i.previous_output == prev));
            if conflict {
                return Err(TxReject::new("txn-mempool-conflict", ""));
            }
            let value = if let Some(coin) = coins.get(&prev) {
                let depth = spend_height - coin.height;
                if coin.coinbase && depth < COINBASE_MATURITY {
                    return Err(TxReject::new(
                        "bad-txns-premature-spend-of-coinbase",
                        format!("tried to spend coinbase at depth {depth}"),
                    ));
                }
                coin.value
            } else {
                self.mempool
                    .get(&prev.txid)
                    .and_then(|parent| parent.tx.output.get(prev.vout as usize))
                    .map(|out| out.value.to_sat())
                    .ok_or_else(|| TxReject::new("bad-txns-inputs-missingorspent", ""))?
            };
            value_in = value_in.saturating_add(value);
        }
        let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        if value_in < value_out {
            return Err(TxReject::new(
                "bad-txns-in-belowout",
                format!(
                    "value in ({}) < value out ({})",
                    format_money(value_in),
                    format_money(value_out)
                ),
            ));
        }
        Ok(i64::try_from(value_in - value_out).unwrap_or(i64::MAX))
    }

    /// Txids of the in-mempool parents of `entry`.
    fn mempool_parents(&self, entry: &MempoolEntry) -> Vec<Txid> {
        let mut parents: Vec<Txid> = entry
            .tx
            .input
            .iter()
            .map(|i| i.previous_output.txid)
            .filter(|id| self.mempool.contains_key(id))
            .collect();
        parents.sort_unstable();
        parents.dedup();
        parents
    }

    /// Txids of the mempool transactions spending an output of `txid`.
    fn mempool_children(&self, txid: Txid) -> Vec<Txid> {
        self.mempool
            .iter()
            .filter(|(_, e)| e.tx.input.iter().any(|i| i.previous_output.txid == txid))
            .map(|(id, _)| *id)
            .collect()
    }

    /// `txid` and its in-mempool ancestors (`up`) or descendants.
    fn mempool_family(&self, txid: Txid, up: bool) -> HashSet<Txid> {
        let mut seen = HashSet::from([txid]);
        let mut todo = vec![txid];
        while let Some(id) = todo.pop() {
            let next = match (up, self.mempool.get(&id)) {
                (true, Some(entry)) => self.mempool_parents(entry),
                (true, None) => Vec::new(),
                (false, _) => self.mempool_children(id),
            };
            for n in next {
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        seen
    }

    /// Removes mempool transactions whose inputs are gone or immature after a reorg (and
    /// their descendants), signalling each with [`RemovalReason::Reorg`].
    fn remove_for_reorg(&mut self) {
        let coins = self.chain_coins();
        loop {
            let mut failed: Vec<(u64, Txid)> = self
                .mempool
                .iter()
                .filter(|(id, e)| !e.synthetic && self.check_inputs(**id, &e.tx, &coins).is_err())
                .map(|(id, e)| (e.seq, *id))
                .collect();
            if failed.is_empty() {
                return;
            }
            failed.sort_unstable();
            for (_, id) in failed {
                if let Some(entry) = self.mempool.remove(&id) {
                    self.emit(ChainEvent::TransactionRemovedFromMempool {
                        tx: serialize(&entry.tx),
                        reason: RemovalReason::Reorg,
                    });
                }
            }
        }
    }

    /// Median of the timestamps of the last 11 blocks (Core's `GetMedianTimePast`).
    /// Seconds since the epoch: the mock time if set, else the system clock.
    fn now(&self) -> u32 {
        self.mock_time.unwrap_or_else(now_secs)
    }

    /// Core's `IsInitialBlockDownload` on regtest (no minimum chain work): true until the
    /// tip is at most `DEFAULT_MAX_TIP_AGE` (24 hours) older than now, then false for good.
    fn is_initial_block_download(&mut self) -> bool {
        if !self.ibd_done {
            let tip_time = self.blocks.last().map_or(0, |b| b.header.time);
            if i64::from(tip_time) >= i64::from(self.now()) - MAX_TIP_AGE {
                self.ibd_done = true;
            }
        }
        !self.ibd_done
    }

    fn median_time_past(&self) -> u32 {
        let start = self.blocks.len().saturating_sub(11);
        let mut times: Vec<u32> = self.blocks[start..].iter().map(|b| b.header.time).collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }
}

struct Inner {
    state: Mutex<State>,
    /// Bumped on every tip change, mempool change and interrupt; waiters re-check state.
    events: watch::Sender<u64>,
}

/// A synthetic regtest chain with a mempool, shared by reference (`Clone` is cheap and all
/// clones see the same chain). It is `Send + Sync`.
#[derive(Clone)]
pub struct DemoChain {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DemoChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("DemoChain")
            .field("tip", &state.tip())
            .field("mempool_len", &state.mempool.len())
            .finish()
    }
}

impl Default for DemoChain {
    fn default() -> Self {
        Self::new()
    }
}

/// Block subsidy at `height` on regtest: 50 BTC halving every 150 blocks.
pub fn regtest_subsidy(height: i32) -> i64 {
    let halvings = height.max(0) / REGTEST_HALVING_INTERVAL;
    if halvings >= 64 {
        0
    } else {
        (50 * 100_000_000i64) >> halvings
    }
}

/// The BIP34 height push as Core writes it (`CScript() << height`): OP_1..OP_16 for 1..16,
/// OP_0 for 0, otherwise a minimal CScriptNum push (`[0x01, 0x66]` for 102).
pub fn bip34_height_prefix(height: i32) -> Vec<u8> {
    Builder::new().push_int(i64::from(height)).into_bytes()
}

/// Core's exception text for bytes that do not decode as a block or transaction (its
/// `SpanReader`/`ReadCompactSize` errors; the IPC server passes them to the client as the
/// call's failure). End of data: "SpanReader::read(): end of data: iostream error".
pub fn core_decode_error(e: &bitcoin::consensus::encode::Error) -> String {
    use bitcoin::consensus::encode::Error as E;
    match e {
        E::Io(io) if io.kind() == bitcoin::io::ErrorKind::UnexpectedEof => {
            "SpanReader::read(): end of data: iostream error".into()
        }
        E::NonMinimalVarInt => "non-canonical ReadCompactSize(): iostream error".into(),
        E::OversizedVectorAllocation { .. } => {
            "ReadCompactSize(): size too large: iostream error".into()
        }
        E::UnsupportedSegwitFlag(_) => "Unknown transaction optional data: iostream error".into(),
        other => format!("{other}: iostream error"),
    }
}

fn now_secs() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

fn witness_commitment_index(coinbase: &Transaction) -> Option<usize> {
    coinbase.output.iter().rposition(|o| {
        let s = o.script_pubkey.as_bytes();
        s.len() >= 38 && s[..6] == WITNESS_COMMITMENT_HEADER
    })
}

fn legacy_sigops(tx: &Transaction) -> u64 {
    let inputs: usize = tx
        .input
        .iter()
        .map(|i| i.script_sig.count_sigops_legacy())
        .sum();
    let outputs: usize = tx
        .output
        .iter()
        .map(|o| o.script_pubkey.count_sigops_legacy())
        .sum();
    (inputs + outputs) as u64
}

fn is_final(tx: &Transaction, height: i32, mtp: u32) -> bool {
    let lock_time = tx.lock_time.to_consensus_u32();
    if lock_time == 0 {
        return true;
    }
    let limit = if lock_time < absolute::LOCK_TIME_THRESHOLD {
        u32::try_from(height).unwrap_or(0)
    } else {
        mtp
    };
    if lock_time < limit {
        return true;
    }
    tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}

/// Merkle branch of leaf 0, deepest first.
fn coinbase_branch(mut level: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    let mut path = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            if let Some(last) = level.last().copied() {
                level.push(last);
            }
        }
        path.push(level[1]);
        level = level
            .chunks(2)
            .map(|pair| merkle_root_from_path(pair[0], &pair[1..]))
            .collect();
    }
    path
}

fn reject(reason: &str, debug: impl Into<String>) -> Result<(), SubmitResult> {
    Err(SubmitResult::rejected(reason, debug))
}

/// Core's `CheckTransaction`: the structure checks that need no chain state.
fn check_transaction(tx: &Transaction) -> Result<(), TxReject> {
    if tx.input.is_empty() {
        return Err(TxReject::new("bad-txns-vin-empty", ""));
    }
    if tx.output.is_empty() {
        return Err(TxReject::new("bad-txns-vout-empty", ""));
    }
    if (tx.base_size() as u64).saturating_mul(4) > MAX_BLOCK_WEIGHT {
        return Err(TxReject::new("bad-txns-oversize", ""));
    }
    let mut total: u64 = 0;
    for out in &tx.output {
        let value = out.value.to_sat();
        if value > MAX_MONEY as u64 {
            return Err(TxReject::new("bad-txns-vout-toolarge", ""));
        }
        total = total.saturating_add(value);
        if total > MAX_MONEY as u64 {
            return Err(TxReject::new("bad-txns-txouttotal-toolarge", ""));
        }
    }
    let mut seen = HashSet::with_capacity(tx.input.len());
    if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
        return Err(TxReject::new("bad-txns-inputs-duplicate", ""));
    }
    if tx.is_coinbase() {
        let len = tx.input[0].script_sig.len();
        if !(2..=100).contains(&len) {
            return Err(TxReject::new("bad-cb-length", ""));
        }
    } else if tx.input.iter().any(|i| i.previous_output.is_null()) {
        return Err(TxReject::new("bad-txns-prevout-null", ""));
    }
    Ok(())
}

fn synthetic_tx(seq: u64) -> Transaction {
    let seed =
        sha256d::Hash::hash(&[&b"mphub-demo-fake-outpoint"[..], &seq.to_le_bytes()].concat());
    let key = sha256d::Hash::hash(seed.as_byte_array()).to_byte_array();
    // A DER-looking signature (72 bytes incl. SIGHASH_ALL) and a compressed public key.
    let mut sig = vec![0x30, 0x45, 0x02, 0x21, 0x00];
    sig.extend_from_slice(&key);
    sig.extend_from_slice(&[0x02, 0x20]);
    sig.extend_from_slice(seed.as_byte_array());
    sig.push(0x01);
    let mut pubkey = vec![0x02];
    pubkey.extend_from_slice(&key);
    let mut spk = vec![0x00, 0x14];
    spk.extend_from_slice(&key[..20]);
    Transaction {
        version: TxVersion::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array(seed.to_byte_array()),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::from_slice(&[sig, pubkey]),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(SYNTHETIC_OUTPUT_VALUE),
            script_pubkey: ScriptBuf::from_bytes(spk),
        }],
    }
}

impl DemoChain {
    /// A chain holding only the real regtest genesis block
    /// (`0f9188f1…466e2206` in RPC hex), with an empty mempool.
    pub fn new() -> Self {
        let genesis = genesis_block(Network::Regtest);
        let hash = genesis.block_hash();
        let (events, _) = watch::channel(0u64);
        DemoChain {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    blocks: vec![genesis],
                    hashes: vec![hash],
                    mempool: HashMap::new(),
                    confirmed: HashMap::new(),
                    next_seq: 0,
                    mined: 0,
                    event_seq: 0,
                    subscribers: Vec::new(),
                    interrupt_epoch: 0,
                    tip_waiters: 0,
                    interrupt_pending: false,
                    mock_time: None,
                    ibd_done: false,
                    relay_fees: (MIN_RELAY_FEE_PER_KVB, INCREMENTAL_RELAY_FEE_PER_KVB),
                    started: Instant::now(),
                    unbroadcast: HashSet::new(),
                }),
                events,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that matters
        // more than stopping the whole demo, so recover from poisoning.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.inner.events.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The current tip (`Mining.getTip`).
    pub fn tip(&self) -> BlockRef {
        self.lock().tip()
    }

    /// Always `true`: this is a regtest chain (`Mining.isTestChain`).
    pub fn is_test_chain(&self) -> bool {
        true
    }

    /// `true` while only the genesis block exists, like a fresh regtest Core node whose tip is
    /// years old; `false` once a block has been mined (`Mining.isInitialBlockDownload`).
    pub fn is_initial_block_download(&self) -> bool {
        self.lock().is_initial_block_download()
    }

    /// Sets Core's `-mocktime` (seconds since the epoch; `None`: the system clock). Template
    /// times, the "too far in the future" check and initial block download read it.
    pub fn set_mock_time(&self, seconds: Option<u32>) {
        self.lock().mock_time = seconds;
    }

    /// Sets the minimum and incremental relay fee rates (sat/kvB) the mempool applies and
    /// the node reports; the defaults are Core's since v30 ([`MIN_RELAY_FEE_PER_KVB`],
    /// [`INCREMENTAL_RELAY_FEE_PER_KVB`]).
    pub fn set_relay_fees(&self, min_relay: i64, incremental: i64) {
        self.lock().relay_fees = (min_relay, incremental);
    }

    /// The minimum and incremental relay fee rates, sat/kvB.
    pub fn relay_fees(&self) -> (i64, i64) {
        self.lock().relay_fees
    }

    /// Whole seconds since the chain was made (RPC `uptime`). On the real clock, as Core's:
    /// a master node under `-mocktime` still counts up.
    pub fn uptime(&self) -> u64 {
        self.lock().started.elapsed().as_secs()
    }

    /// The mempool's totals as `getmempoolinfo` reports them.
    pub fn mempool_info(&self) -> MempoolInfo {
        let state = self.lock();
        MempoolInfo {
            size: state.mempool.len(),
            bytes: state.mempool.values().map(MempoolEntry::vsize).sum(),
            total_fee: state.mempool.values().map(|e| e.fee).sum(),
            unbroadcast: state
                .unbroadcast
                .iter()
                .filter(|t| state.mempool.contains_key(*t))
                .count(),
        }
    }

    /// Hash (internal order) of the block at `height` on the chain, if any.
    pub fn block_hash_at(&self, height: i32) -> Option<[u8; 32]> {
        let index = usize::try_from(height).ok()?;
        self.lock().hashes.get(index).map(|h| h.to_byte_array())
    }

    /// The serialized block (with witness) with this hash (internal order), if on the chain.
    pub fn get_block(&self, hash: &[u8; 32]) -> Option<Vec<u8>> {
        let state = self.lock();
        let wanted = BlockHash::from_byte_array(*hash);
        let index = state.hashes.iter().position(|h| *h == wanted)?;
        state.blocks.get(index).map(serialize)
    }

    /// Median time past of the tip (the next block's time must be greater).
    pub fn median_time_past(&self) -> u32 {
        self.lock().median_time_past()
    }

    /// Number of transactions in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.lock().mempool.len()
    }

    /// Adds a synthetic segwit transaction paying `fee` satoshis to the mempool and returns its
    /// txid (internal order).
    ///
    /// Each transaction spends a unique fake outpoint with a P2WPKH-style witness and pays
    /// 100 000 sat to a P2WPKH output; its sigop cost is 1. Signals
    /// [`ChainEvent::TransactionAddedToMempool`] and wakes [`DemoChain::wait_next`] waiters.
    /// Errors if `fee` is outside `0..=MAX_MONEY`.
    pub fn add_mempool_tx(&self, fee: i64) -> Result<[u8; 32], ChainError> {
        if !(0..=MAX_MONEY).contains(&fee) {
            return Err(ChainError::InvalidFee(fee));
        }
        let txid = {
            let mut state = self.lock();
            let seq = state.next_seq;
            state.next_seq += 1;
            let tx = synthetic_tx(seq);
            let txid = tx.compute_txid();
            let entry = MempoolEntry {
                wtxid: tx.compute_wtxid(),
                weight: tx.weight().to_wu(),
                tx,
                fee,
                sigops: SYNTHETIC_TX_SIGOPS,
                seq,
                synthetic: true,
            };
            let bytes = serialize(&entry.tx);
            state.mempool.insert(txid, entry);
            state.emit(ChainEvent::TransactionAddedToMempool(bytes));
            txid
        };
        self.notify();
        Ok(txid.to_byte_array())
    }

    /// `Mining.getTransactionsByTxID`: one entry per id, the serialized transaction (with
    /// witness) if it is in the mempool, else an empty vector.
    pub fn get_transactions_by_txid(&self, txids: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let state = self.lock();
        txids
            .iter()
            .map(|id| {
                state
                    .mempool
                    .get(&Txid::from_byte_array(*id))
                    .map(|e| serialize(&e.tx))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `Mining.getTransactionsByWitnessID`: like
    /// [`get_transactions_by_txid`](DemoChain::get_transactions_by_txid) but keyed by wtxid.
    pub fn get_transactions_by_wtxid(&self, wtxids: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let state = self.lock();
        wtxids
            .iter()
            .map(|id| {
                let wanted = Wtxid::from_byte_array(*id);
                state
                    .mempool
                    .values()
                    .find(|e| e.wtxid == wanted)
                    .map(|e| serialize(&e.tx))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `Mining.createNewBlock`: a template on the current tip.
    ///
    /// Transactions are picked from the mempool by fee rate while the block weight (starting at
    /// `block_reserved_weight`) stays below 4 000 000 and the sigop cost (starting at
    /// `coinbase_output_max_additional_sigops`) stays below 80 000, as Core's `BlockAssembler`
    /// does. The dummy coinbase has scriptSig = BIP34 height push (+ OP_0 when that is a single
    /// byte), sequence `0xfffffffe`, lock time `height - 1` (as Core since v30), the 32-byte
    /// zero witness reserved value, an OP_TRUE output of the whole reward, and the witness
    /// commitment. The header time is `max(median_time_past + 1, now)`.
    ///
    /// Unlike Core with `cooldown=true`, this never waits (not even at genesis, where
    /// [`is_initial_block_download`](DemoChain::is_initial_block_download) is true).
    ///
    /// Errors with Core's exact messages when `block_reserved_weight` is outside
    /// `2000..=4_000_000`.
    pub fn create_template(&self, opts: CreateOptions) -> Result<Template, ChainError> {
        let state = self.lock();
        Self::create_template_locked(&state, opts)
    }

    fn create_template_locked(state: &State, opts: CreateOptions) -> Result<Template, ChainError> {
        if opts.block_reserved_weight < MINIMUM_BLOCK_RESERVED_WEIGHT {
            return Err(ChainError::ReservedWeightTooLow(opts.block_reserved_weight));
        }
        if opts.block_reserved_weight > MAX_BLOCK_WEIGHT {
            return Err(ChainError::ReservedWeightTooHigh(
                opts.block_reserved_weight,
            ));
        }
        let prev = state.tip();
        let height = state.next_height();

        // Transaction selection, best fee rate first (ties: oldest first), a transaction
        // only after its in-mempool parents.
        let mut selected: Vec<&MempoolEntry> = Vec::new();
        if opts.use_mempool {
            let mut candidates: Vec<(&Txid, &MempoolEntry)> = state.mempool.iter().collect();
            candidates.sort_by(|(_, a), (_, b)| {
                let lhs = i128::from(b.fee) * i128::from(a.weight);
                let rhs = i128::from(a.fee) * i128::from(b.weight);
                lhs.cmp(&rhs).then(a.seq.cmp(&b.seq))
            });
            let mut weight = opts.block_reserved_weight;
            let mut sigops = opts
                .coinbase_output_max_additional_sigops
                .min(MAX_BLOCK_SIGOPS_COST);
            let mut done: HashSet<Txid> = HashSet::new();
            let mut included: HashSet<Txid> = HashSet::new();
            loop {
                let mut progress = false;
                for (txid, entry) in &candidates {
                    if done.contains(*txid)
                        || !state
                            .mempool_parents(entry)
                            .iter()
                            .all(|p| included.contains(p))
                    {
                        continue;
                    }
                    done.insert(**txid);
                    progress = true;
                    let entry_sigops = u64::try_from(entry.sigops).unwrap_or(u64::MAX);
                    if weight.saturating_add(entry.weight) >= MAX_BLOCK_WEIGHT
                        || sigops.saturating_add(entry_sigops) >= MAX_BLOCK_SIGOPS_COST
                    {
                        continue;
                    }
                    weight += entry.weight;
                    sigops += entry_sigops;
                    included.insert(**txid);
                    selected.push(entry);
                }
                if !progress {
                    break;
                }
            }
        }
        let tx_fees: Vec<i64> = selected.iter().map(|e| e.fee).collect();
        let tx_sigops: Vec<i64> = selected.iter().map(|e| e.sigops).collect();
        let fees = tx_fees.iter().copied().fold(0i64, i64::saturating_add);
        let reward = regtest_subsidy(height).saturating_add(fees);

        let prefix = bip34_height_prefix(height);
        let mut dummy_script_sig = prefix.clone();
        while dummy_script_sig.len() < MIN_COINBASE_SCRIPT_SIG_LEN {
            dummy_script_sig.push(0x00);
        }
        let reserved = [0u8; 32];
        let lock_time = u32::try_from(height.saturating_sub(1)).unwrap_or(0);
        let coinbase = Transaction {
            version: TxVersion::TWO,
            lock_time: absolute::LockTime::from_consensus(lock_time),
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(dummy_script_sig),
                sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                witness: Witness::from_slice(&[reserved]),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(u64::try_from(reward).unwrap_or(0)),
                script_pubkey: Builder::new().push_opcode(OP_PUSHNUM_1).into_script(),
            }],
        };

        let mut txdata = Vec::with_capacity(selected.len() + 1);
        txdata.push(coinbase);
        txdata.extend(selected.iter().map(|e| e.tx.clone()));
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(TEMPLATE_VERSION as i32),
                prev_blockhash: state.tip_hash(),
                merkle_root: TxMerkleNode::all_zeros(),
                time: state.now().max(state.median_time_past().saturating_add(1)),
                bits: CompactTarget::from_consensus(REGTEST_BITS),
                nonce: 0,
            },
            txdata,
        };

        // Witness commitment (independent of the coinbase, whose wtxid counts as zero).
        let witness_root = block
            .witness_root()
            .ok_or_else(|| ChainError::MalformedTemplate("empty block".into()))?;
        let commitment = Block::compute_witness_commitment(&witness_root, &reserved);
        let mut commitment_script = WITNESS_COMMITMENT_HEADER.to_vec();
        commitment_script.extend_from_slice(commitment.as_byte_array());
        let commitment_out = TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(commitment_script),
        };
        let required_outputs = vec![serialize(&commitment_out)];
        block.txdata[0].output.push(commitment_out);

        let txids: Vec<[u8; 32]> = block
            .txdata
            .iter()
            .map(|tx| tx.compute_txid().to_byte_array())
            .collect();
        // As in Core, the merkle root stays zero: it depends on the coinbase the client
        // builds, so the client computes it (`coinbase_merkle_path`).
        let mut header = [0u8; 80];
        header.copy_from_slice(&serialize(&block.header));

        Ok(Template {
            header,
            block: serialize(&block),
            tx_fees,
            tx_sigops,
            coinbase: CoinbaseTemplate {
                version: 2,
                sequence: Sequence::ENABLE_LOCKTIME_NO_RBF.0,
                script_sig_prefix: prefix,
                witness: Some(reserved),
                block_reward_remaining: reward,
                required_outputs,
                lock_time,
            },
            coinbase_merkle_path: coinbase_branch(txids),
            prev,
            height,
            options: opts,
            parsed: Arc::new(block),
            interrupt: Arc::new(WaitInterrupt::default()),
        })
    }

    /// `BlockTemplate.submitSolution`: swaps `coinbase_tx` (serialized with witness) into the
    /// template's block, sets version, timestamp and nonce, recomputes the merkle root and
    /// submits the block.
    ///
    /// On success the block becomes the new tip, its transactions leave the mempool and
    /// waiters are woken. A rejection is an `Ok` with `accepted == false` and a Core-style
    /// reason: undecodable coinbase bytes give `bad-cb-deserialize`, a template whose prev is
    /// no longer the tip gives `inconclusive-not-best-prevblk`, an unmet target `high-hash`,
    /// and so on. `Err` is returned only for a template whose `block` bytes the caller broke.
    pub fn submit_solution(
        &self,
        template: &Template,
        version: u32,
        timestamp: u32,
        nonce: u32,
        coinbase_tx: &[u8],
    ) -> Result<SubmitResult, ChainError> {
        let coinbase: Transaction = match deserialize(coinbase_tx) {
            Ok(tx) => tx,
            Err(e) => return Err(ChainError::Undecodable(core_decode_error(&e))),
        };
        let mut block: Block = deserialize(&template.block)
            .map_err(|e| ChainError::MalformedTemplate(format!("block does not decode: {e}")))?;
        match block.txdata.first_mut() {
            Some(slot) => *slot = coinbase,
            None => {
                return Err(ChainError::MalformedTemplate(
                    "block has no transactions".into(),
                ))
            }
        }
        block.header.version = BlockVersion::from_consensus(version as i32);
        block.header.time = timestamp;
        block.header.nonce = nonce;
        if let Some(root) = block.compute_merkle_root() {
            block.header.merkle_root = root;
        }
        Ok(self.process_block(block))
    }

    /// `Mining.checkBlock`: validates a serialized block against the current tip without
    /// adding it. `check_pow` and `check_merkle_root` switch those two checks off, as
    /// `BlockCheckOptions` does. Undecodable bytes are [`ChainError::Undecodable`] with
    /// Core's text (Core's IPC server throws: the call fails, there is no result).
    pub fn check_block(
        &self,
        block_bytes: &[u8],
        check_pow: bool,
        check_merkle_root: bool,
    ) -> Result<SubmitResult, ChainError> {
        let block: Block =
            deserialize(block_bytes).map_err(|e| ChainError::Undecodable(core_decode_error(&e)))?;
        let state = self.lock();
        Ok(
            match Self::validate(&state, &block, check_pow, check_merkle_root) {
                Ok(()) => SubmitResult::ok(),
                Err(rejected) => rejected,
            },
        )
    }

    /// `Mining.submitBlock`: fully validates a serialized block and, if valid, appends it as
    /// the new tip. A block already on the chain gives `duplicate`; one whose parent is an
    /// older block gives `inconclusive-not-best-prevblk` (the demo keeps no side branches), an
    /// unknown parent `prev-blk-not-found`.
    pub fn submit_block(&self, block_bytes: &[u8]) -> Result<SubmitResult, ChainError> {
        let block: Block =
            deserialize(block_bytes).map_err(|e| ChainError::Undecodable(core_decode_error(&e)))?;
        Ok(self.process_block(block))
    }

    fn process_block(&self, block: Block) -> SubmitResult {
        let result = {
            let mut state = self.lock();
            let result = Self::connect_locked(&mut state, block);
            if result.accepted {
                state.emit(ChainEvent::UpdatedBlockTip);
            }
            result
        };
        if result.accepted {
            self.notify();
        }
        result
    }

    /// Validates `block` and appends it as the new tip: its transactions leave the mempool
    /// (no removal signal, as in Core) and [`ChainEvent::BlockConnected`] is signalled. The
    /// caller signals [`ChainEvent::UpdatedBlockTip`] once the change is complete.
    fn connect_locked(state: &mut State, block: Block) -> SubmitResult {
        let hash = block.block_hash();
        if state.hashes.contains(&hash) {
            // Core leaves `debug` empty for a duplicate.
            return SubmitResult::rejected("duplicate", "");
        }
        if block.header.prev_blockhash != state.tip_hash()
            && !state.hashes.contains(&block.header.prev_blockhash)
        {
            return SubmitResult::rejected("prev-blk-not-found", "parent block is unknown");
        }
        if let Err(rejected) = Self::validate(state, &block, true, true) {
            return rejected;
        }
        for tx in block.txdata.iter().skip(1) {
            let txid = tx.compute_txid();
            if let Some(entry) = state.mempool.remove(&txid) {
                state.confirmed.insert(txid, entry);
            }
        }
        state.hashes.push(hash);
        state.blocks.push(block);
        if let Some(facts) = state.facts(state.blocks.len() - 1) {
            state.emit(ChainEvent::BlockConnected(facts));
        }
        SubmitResult::ok()
    }

    /// Consensus checks in roughly Core's order (`TestBlockValidity`).
    fn validate(
        state: &State,
        block: &Block,
        check_pow: bool,
        check_merkle_root: bool,
    ) -> Result<(), SubmitResult> {
        let header = &block.header;
        let height = state.next_height();
        if header.prev_blockhash != state.tip_hash() {
            return reject(
                "inconclusive-not-best-prevblk",
                format!(
                    "block builds on {} but the tip is {}",
                    header.prev_blockhash,
                    state.tip_hash()
                ),
            );
        }

        // CheckBlockHeader
        if check_pow && header.validate_pow(header.target()).is_err() {
            return reject("high-hash", "proof of work failed");
        }

        // CheckBlock
        if check_merkle_root {
            let root = block
                .compute_merkle_root()
                .unwrap_or_else(TxMerkleNode::all_zeros);
            if root != header.merkle_root {
                return reject("bad-txnmrklroot", "hashMerkleRoot mismatch");
            }
        }
        if block.txdata.is_empty() || block.weight().to_wu() > MAX_BLOCK_WEIGHT {
            return reject("bad-blk-length", "size limits failed");
        }
        let Some(coinbase) = block.txdata.first().filter(|tx| tx.is_coinbase()) else {
            return reject("bad-cb-missing", "first tx is not coinbase");
        };
        if block.txdata.iter().skip(1).any(|tx| tx.is_coinbase()) {
            return reject("bad-cb-multiple", "more than one coinbase");
        }
        let mut seen = HashSet::with_capacity(block.txdata.len());
        for tx in &block.txdata {
            if tx.output.is_empty() {
                return reject("bad-txns-vout-empty", format!("{}", tx.compute_txid()));
            }
            let mut total: u64 = 0;
            for out in &tx.output {
                let value = out.value.to_sat();
                if value > MAX_MONEY as u64 {
                    return reject("bad-txns-vout-toolarge", format!("{}", tx.compute_txid()));
                }
                total = total.saturating_add(value);
                if total > MAX_MONEY as u64 {
                    return reject(
                        "bad-txns-txouttotal-toolarge",
                        format!("{}", tx.compute_txid()),
                    );
                }
            }
            if !seen.insert(tx.compute_txid()) {
                return reject("bad-txns-duplicate", "duplicate transaction");
            }
        }
        let script_sig_len = coinbase.input[0].script_sig.len();
        if !(MIN_COINBASE_SCRIPT_SIG_LEN..=MAX_COINBASE_SCRIPT_SIG_LEN).contains(&script_sig_len) {
            return reject(
                "bad-cb-length",
                format!("coinbase scriptSig is {script_sig_len} bytes"),
            );
        }
        // ContextualCheckBlockHeader
        if header.bits.to_consensus() != REGTEST_BITS {
            return reject("bad-diffbits", "incorrect proof of work");
        }
        let mtp = state.median_time_past();
        if header.time <= mtp {
            return reject("time-too-old", "block's timestamp is too early");
        }
        if header.time > state.now().saturating_add(MAX_FUTURE_BLOCK_TIME) {
            return reject("time-too-new", "block timestamp too far in the future");
        }
        let version = header.version.to_consensus();
        if version < 4 {
            return reject(
                &format!("bad-version(0x{:08x})", version as u32),
                "rejected nVersion block",
            );
        }

        // ContextualCheckBlock
        if let Some(tx) = block.txdata.iter().find(|tx| !is_final(tx, height, mtp)) {
            return reject(
                "bad-txns-nonfinal",
                format!("non-final transaction {}", tx.compute_txid()),
            );
        }
        if !coinbase.input[0]
            .script_sig
            .as_bytes()
            .starts_with(&bip34_height_prefix(height))
        {
            return reject("bad-cb-height", "block height mismatch in coinbase");
        }
        match witness_commitment_index(coinbase) {
            Some(pos) => {
                let witness = &coinbase.input[0].witness;
                let reserved = match witness.nth(0) {
                    Some(item) if witness.len() == 1 && item.len() == 32 => item,
                    _ => {
                        return reject(
                            "bad-witness-nonce-size",
                            "invalid witness reserved value size",
                        )
                    }
                };
                let root = block.witness_root().ok_or_else(|| {
                    SubmitResult::rejected("bad-witness-merkle-match", "no witness root")
                })?;
                let expected = Block::compute_witness_commitment(&root, reserved);
                let script = coinbase.output[pos].script_pubkey.as_bytes();
                if script[6..38] != expected.as_byte_array()[..] {
                    return reject(
                        "bad-witness-merkle-match",
                        "witness merkle commitment mismatch",
                    );
                }
            }
            None => {
                if block
                    .txdata
                    .iter()
                    .any(|tx| tx.input.iter().any(|i| !i.witness.is_empty()))
                {
                    return reject("unexpected-witness", "unexpected witness data found");
                }
            }
        }

        // ConnectBlock: every transaction is from the mempool, and spends chain outputs or
        // outputs of transactions before it in the block.
        let mut mempool_entries = Vec::with_capacity(block.txdata.len().saturating_sub(1));
        for tx in block.txdata.iter().skip(1) {
            match state.mempool.get(&tx.compute_txid()) {
                Some(entry) => mempool_entries.push(entry),
                None => {
                    return reject(
                        "bad-txns-inputs-missingorspent",
                        format!("{} is not in the demo mempool", tx.compute_txid()),
                    )
                }
            }
        }
        if mempool_entries.iter().any(|e| !e.synthetic) {
            let coins = state.chain_coins();
            let mut earlier: HashSet<Txid> = HashSet::new();
            for (tx, entry) in block.txdata.iter().skip(1).zip(&mempool_entries) {
                let spendable = |i: &TxIn| {
                    coins.contains_key(&i.previous_output)
                        || earlier.contains(&i.previous_output.txid)
                };
                if !entry.synthetic && !tx.input.iter().all(spendable) {
                    return reject(
                        "bad-txns-inputs-missingorspent",
                        format!("{} spends an output not before it", tx.compute_txid()),
                    );
                }
                earlier.insert(tx.compute_txid());
            }
        }
        let sigops = legacy_sigops(coinbase).saturating_mul(4).saturating_add(
            mempool_entries
                .iter()
                .map(|e| u64::try_from(e.sigops).unwrap_or(0))
                .sum::<u64>(),
        );
        if sigops > MAX_BLOCK_SIGOPS_COST {
            return reject("bad-blk-sigops", "out-of-bounds SigOpCount");
        }

        let fees = mempool_entries
            .iter()
            .map(|e| e.fee)
            .fold(0i64, i64::saturating_add);
        let allowed = regtest_subsidy(height).saturating_add(fees);
        let claimed: u64 = coinbase.output.iter().map(|o| o.value.to_sat()).sum();
        if claimed > u64::try_from(allowed).unwrap_or(0) {
            return reject(
                "bad-cb-amount",
                format!("coinbase pays too much (actual={claimed} vs limit={allowed})"),
            );
        }
        Ok(())
    }

    /// `Mining.waitTipChanged`: waits until the tip hash differs from `current_tip_hash` and
    /// returns the new tip.
    ///
    /// Returns at once if the tip already differs. After `timeout` it returns the current tip
    /// (so the caller sees `hash == current_tip_hash`). A `timeout` too large for a deadline
    /// (e.g. [`Duration::MAX`] from `.maxDouble`) waits forever.
    ///
    /// When [`interrupt`](DemoChain::interrupt) is called, every pending wait returns
    /// [`BlockRef::NULL`] (zero hash, height -1; Core's "empty hash"). An interrupt that
    /// arrives while no wait is pending is remembered and makes the next wait return
    /// [`BlockRef::NULL`] at once, as in Core.
    pub async fn wait_tip_changed(
        &self,
        current_tip_hash: [u8; 32],
        timeout: Duration,
    ) -> BlockRef {
        let mut events = self.inner.events.subscribe();
        let deadline = Instant::now().checked_add(timeout);
        let start_epoch = {
            let mut state = self.lock();
            if state.interrupt_pending {
                state.interrupt_pending = false;
                return BlockRef::NULL;
            }
            let tip = state.tip();
            if tip.hash != current_tip_hash {
                return tip;
            }
            state.tip_waiters += 1;
            state.interrupt_epoch
        };
        let _guard = TipWaiterGuard(self);
        loop {
            let changed = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, events.changed()).await {
                    Ok(result) => result.is_ok(),
                    Err(_elapsed) => false,
                },
                None => events.changed().await.is_ok(),
            };
            let state = self.lock();
            if state.interrupt_epoch != start_epoch {
                return BlockRef::NULL;
            }
            let tip = state.tip();
            if !changed || tip.hash != current_tip_hash {
                return tip;
            }
        }
    }

    /// `Mining.interrupt`: wakes every pending
    /// [`wait_tip_changed`](DemoChain::wait_tip_changed), which then returns
    /// [`BlockRef::NULL`]. With none pending, the next wait returns it immediately.
    pub fn interrupt(&self) {
        {
            let mut state = self.lock();
            state.interrupt_epoch = state.interrupt_epoch.wrapping_add(1);
            if state.tip_waiters == 0 {
                state.interrupt_pending = true;
            }
        }
        self.notify();
    }

    /// `BlockTemplate.waitNext`: waits for a better template than `template`.
    ///
    /// Returns a new template (built with `template.options`) as soon as the tip differs from
    /// `template.prev`, or, when `fee_threshold < MAX_MONEY`, as soon as a fresh template's
    /// total fees reach `template.total_fees() + fee_threshold` (so 0 returns a fresh template
    /// at once). Returns `None` on timeout or after [`Template::interrupt_wait`]. A `timeout` too
    /// large for a deadline waits forever.
    pub async fn wait_next(
        &self,
        template: &Template,
        timeout: Duration,
        fee_threshold: i64,
    ) -> Option<Template> {
        let mut events = self.inner.events.subscribe();
        let deadline = Instant::now().checked_add(timeout);
        let interrupt = Arc::clone(&template.interrupt);
        let wanted_fees = template.total_fees().saturating_add(fee_threshold);
        loop {
            let mut notified = pin!(interrupt.notify.notified());
            notified.as_mut().enable();
            if interrupt.flag.swap(false, Ordering::SeqCst) {
                return None;
            }
            {
                let state = self.lock();
                if state.tip().hash != template.prev.hash {
                    return Self::create_template_locked(&state, template.options).ok();
                }
                if fee_threshold < MAX_MONEY {
                    if let Ok(candidate) = Self::create_template_locked(&state, template.options) {
                        if candidate.total_fees() >= wanted_fees {
                            return Some(candidate);
                        }
                    }
                }
            }
            let sleep = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                changed = events.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = sleep => return None,
            }
        }
    }

    /// Height of the block with this hash (internal order) on the chain, if any.
    pub fn height_of(&self, hash: &[u8; 32]) -> Option<i32> {
        let wanted = BlockHash::from_byte_array(*hash);
        let state = self.lock();
        let index = state.hashes.iter().position(|h| *h == wanted)?;
        i32::try_from(index).ok()
    }

    /// [`BlockFacts`] of the block at `height` on the chain, if any.
    pub fn block_facts(&self, height: i32) -> Option<BlockFacts> {
        let index = usize::try_from(height).ok()?;
        self.lock().facts(index)
    }

    /// The locator hashes of the block at `height` (Core's `GetLocator`); empty when there
    /// is no such block.
    pub fn locator_at(&self, height: i32) -> Vec<[u8; 32]> {
        let state = self.lock();
        let tip = state.hashes.len() as i64 - 1;
        if i64::from(height) > tip || height < 0 {
            return Vec::new();
        }
        crate::locator::locator_heights(height)
            .into_iter()
            .map(|h| state.hashes[h as usize].to_byte_array())
            .collect()
    }

    /// The height of the first locator hash on the chain, or genesis (0) when none is
    /// (Core's `FindForkInGlobalIndex`).
    pub fn find_fork(&self, locator: &[[u8; 32]]) -> i32 {
        locator.iter().find_map(|h| self.height_of(h)).unwrap_or(0)
    }

    /// The first block with a max time at least `min_time` and a height at least
    /// `min_height` (Core's `FindEarliestAtLeast`).
    pub fn first_block_at_least(&self, min_time: i64, min_height: i32) -> Option<i32> {
        let state = self.lock();
        let mut max_time = 0u32;
        for (index, block) in state.blocks.iter().enumerate() {
            max_time = max_time.max(block.header.time);
            let height = i32::try_from(index).ok()?;
            if i64::from(max_time) >= min_time && height >= min_height {
                return Some(height);
            }
        }
        None
    }

    /// Whether `txid` (internal order) is in the mempool.
    pub fn mempool_contains(&self, txid: &[u8; 32]) -> bool {
        self.lock()
            .mempool
            .contains_key(&Txid::from_byte_array(*txid))
    }

    /// Extends the chain by `n` blocks, each built from a default template (mempool included)
    /// with [`build_coinbase`] (OP_TRUE payout, a unique extranonce),
    /// [`merkle_root_from_path`] and [`solve_header`], then connected like a submitted
    /// solution. Each block is signalled as `BlockConnected` then `UpdatedBlockTip`. Returns
    /// the new tips in order.
    pub fn mine_blocks(&self, n: usize) -> Result<Vec<BlockRef>, ChainError> {
        let mut mined = Vec::with_capacity(n);
        for _ in 0..n {
            let block = {
                let mut state = self.lock();
                let block = Self::mine_locked(&mut state, CreateOptions::default())?;
                state.emit(ChainEvent::UpdatedBlockTip);
                block
            };
            self.notify();
            mined.push(block);
        }
        Ok(mined)
    }

    /// Builds, solves and connects one block on the tip (see
    /// [`mine_blocks`](DemoChain::mine_blocks)); signals `BlockConnected` only.
    fn mine_locked(state: &mut State, opts: CreateOptions) -> Result<BlockRef, ChainError> {
        let template = Self::create_template_locked(state, opts)?;
        state.mined += 1;
        let extranonce = state.mined.to_le_bytes();
        let coinbase = build_coinbase(&template.coinbase, &extranonce, &[OP_PUSHNUM_1.to_u8()]);
        let root = merkle_root_from_path(txid_of(&coinbase)?, &template.coinbase_merkle_path);
        let solved = solve_header(&template.header, root)?;
        let mut block: Block = (*template.parsed).clone();
        block.txdata[0] = deserialize(&coinbase)
            .map_err(|e| ChainError::MalformedTemplate(format!("coinbase: {e}")))?;
        block.header.version = BlockVersion::from_consensus(solved.version as i32);
        block.header.time = solved.timestamp;
        block.header.nonce = solved.nonce;
        block.header.merkle_root = TxMerkleNode::from_byte_array(root);
        let result = Self::connect_locked(state, block);
        if !result.accepted {
            return Err(ChainError::BlockRejected {
                reason: result.reason,
                debug: result.debug,
            });
        }
        Ok(BlockRef {
            hash: solved.block_hash,
            height: template.height,
        })
    }

    /// Replaces the top `depth` blocks with `blocks` new coinbase-only blocks, as a node
    /// switching to a competing chain does.
    ///
    /// Signals, in Core's order: `BlockDisconnected` for each old block from the tip down;
    /// `TransactionAddedToMempool` for each transaction of those blocks returned to the
    /// mempool (oldest block first); `TransactionRemovedFromMempool` with
    /// [`RemovalReason::Reorg`] for each mempool transaction whose inputs vanished or became
    /// immature; `BlockConnected` for each new block; one `UpdatedBlockTip`. Returns the new
    /// blocks. Errors when `depth` would disconnect the genesis block or `blocks` is 0.
    pub fn reorg(&self, depth: usize, blocks: usize) -> Result<Vec<BlockRef>, ChainError> {
        let connected = {
            let mut state = self.lock();
            let height = state.tip().height;
            if depth >= state.blocks.len() || blocks == 0 {
                return Err(ChainError::BadReorg {
                    depth,
                    blocks,
                    height,
                });
            }
            let mut returned: Vec<Vec<Transaction>> = Vec::with_capacity(depth);
            for _ in 0..depth {
                let index = state.blocks.len() - 1;
                let facts = state.facts(index);
                state.hashes.pop();
                if let Some(block) = state.blocks.pop() {
                    returned.push(block.txdata.into_iter().skip(1).collect());
                }
                if let Some(facts) = facts {
                    state.emit(ChainEvent::BlockDisconnected(facts));
                }
            }
            for tx in returned.into_iter().rev().flatten() {
                let txid = tx.compute_txid();
                if let Some(entry) = state.confirmed.remove(&txid) {
                    state.mempool.insert(txid, entry);
                    state.emit(ChainEvent::TransactionAddedToMempool(serialize(&tx)));
                }
            }
            state.remove_for_reorg();
            let mut connected = Vec::with_capacity(blocks);
            for _ in 0..blocks {
                let opts = CreateOptions {
                    use_mempool: false,
                    ..CreateOptions::default()
                };
                connected.push(Self::mine_locked(&mut state, opts)?);
            }
            state.emit(ChainEvent::UpdatedBlockTip);
            connected
        };
        self.notify();
        Ok(connected)
    }

    /// `Chain.broadcastTransaction` into the mempool: takes a serialized transaction (with
    /// or without witness) if Core's mempool would, and signals
    /// [`ChainEvent::TransactionAddedToMempool`].
    ///
    /// Checks in Core's order, refusing with Core's reason: the encoding (`TX decode
    /// failed`), already confirmed (`Transaction outputs already in utxo set`), structure
    /// (`bad-txns-vin-empty`, `bad-txns-vout-empty`, `bad-txns-oversize`,
    /// `bad-txns-vout-toolarge`, `bad-txns-txouttotal-toolarge`,
    /// `bad-txns-inputs-duplicate`, `bad-txns-prevout-null`, `coinbase`), finality
    /// (`non-final`), inputs (`txn-mempool-conflict`, `bad-txns-inputs-missingorspent`,
    /// `bad-txns-premature-spend-of-coinbase`, `bad-txns-in-belowout`), the 1 sat/vB relay
    /// fee (`min relay fee not met`) and, when `max_tx_fee > 0`, that cap (`Fee exceeds
    /// maximum configured by user (e.g. -maxtxfee, maxfeerate)`). Scripts are not run. A
    /// transaction already in the mempool is accepted again without a signal.
    pub fn accept_transaction(&self, bytes: &[u8], max_tx_fee: i64) -> Result<Accepted, TxReject> {
        let tx: Transaction =
            deserialize(bytes).map_err(|e| TxReject::new("TX decode failed", e.to_string()))?;
        let txid = tx.compute_txid();
        let accepted = {
            let mut state = self.lock();
            if let Some(entry) = state.mempool.get(&txid) {
                return Ok(Accepted {
                    txid: txid.to_byte_array(),
                    fee: entry.fee,
                    added: false,
                });
            }
            let coins = state.chain_coins();
            if (0..tx.output.len()).any(|vout| {
                coins.contains_key(&OutPoint {
                    txid,
                    vout: vout as u32,
                })
            }) {
                return Err(TxReject::new("Transaction outputs already in utxo set", ""));
            }
            check_transaction(&tx)?;
            if tx.is_coinbase() {
                return Err(TxReject::new("coinbase", ""));
            }
            if !is_final(&tx, state.next_height(), state.median_time_past()) {
                return Err(TxReject::new("non-final", ""));
            }
            let fee = state.check_inputs(txid, &tx, &coins)?;
            let weight = tx.weight().to_wu();
            let vsize = weight.div_ceil(4);
            let min_fee = i64::try_from(vsize)
                .unwrap_or(i64::MAX)
                .saturating_mul(state.relay_fees.0)
                / 1000;
            if fee < min_fee {
                return Err(TxReject::new(
                    "min relay fee not met",
                    format!("{fee} < {min_fee}"),
                ));
            }
            if max_tx_fee > 0 && fee > max_tx_fee {
                return Err(TxReject::new(
                    "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
                    "",
                ));
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            let sigops = i64::try_from(legacy_sigops(&tx).saturating_mul(4)).unwrap_or(i64::MAX);
            state.mempool.insert(
                txid,
                MempoolEntry {
                    wtxid: tx.compute_wtxid(),
                    weight,
                    fee,
                    sigops,
                    seq,
                    synthetic: false,
                    tx,
                },
            );
            state.unbroadcast.insert(txid);
            state.emit(ChainEvent::TransactionAddedToMempool(bytes.to_vec()));
            Accepted {
                txid: txid.to_byte_array(),
                fee,
                added: true,
            }
        };
        self.notify();
        Ok(accepted)
    }

    /// Subscribes to every [`ChainEvent`] after this call, in order (Core's
    /// `RegisterValidationInterface`). Dropping the [`Subscription`] unsubscribes.
    pub fn subscribe(&self) -> Subscription {
        let mut state = self.lock();
        let (subscriber, subscription) = Subscription::new(state.event_seq);
        state.subscribers.push(subscriber);
        subscription
    }

    /// Waits until every subscription has handled every event signalled so far (Core's
    /// `SyncWithValidationInterfaceQueue`). A subscription that stops receiving without
    /// being dropped makes this wait forever, as a stuck listener does in Core.
    pub async fn wait_for_notifications(&self) {
        let (seq, watchers) = {
            let state = self.lock();
            let watchers: Vec<_> = state.subscribers.iter().map(|s| s.delivered()).collect();
            (state.event_seq, watchers)
        };
        for mut delivered in watchers {
            // An error means the subscription is gone: nothing left to wait for.
            let _ = delivered.wait_for(|d| *d >= seq).await;
        }
    }

    /// The mempool transactions (serialized with witness), oldest first.
    pub fn mempool_transactions(&self) -> Vec<Vec<u8>> {
        let state = self.lock();
        let mut entries: Vec<&MempoolEntry> = state.mempool.values().collect();
        entries.sort_by_key(|e| e.seq);
        entries.iter().map(|e| serialize(&e.tx)).collect()
    }

    /// Whether a mempool transaction spends an output of `txid` (internal order).
    pub fn has_descendants_in_mempool(&self, txid: &[u8; 32]) -> bool {
        !self
            .lock()
            .mempool_children(Txid::from_byte_array(*txid))
            .is_empty()
    }

    /// Core's `IsRBFOptIn`: a transaction signals replaceability itself, or (when it is in
    /// the mempool) inherits it from any in-mempool ancestor that signals.
    pub fn rbf_state(&self, tx: &Transaction) -> RbfState {
        let signals = |tx: &Transaction| tx.input.iter().any(|i| i.sequence.is_rbf());
        if signals(tx) {
            return RbfState::ReplaceableBip125;
        }
        let state = self.lock();
        let txid = tx.compute_txid();
        if !state.mempool.contains_key(&txid) {
            return RbfState::Unknown;
        }
        let inherited = state
            .mempool_family(txid, true)
            .iter()
            .filter_map(|id| state.mempool.get(id))
            .any(|e| signals(&e.tx));
        if inherited {
            RbfState::ReplaceableBip125
        } else {
            RbfState::Final
        }
    }

    /// Core's `GetTransactionAncestry` for `txid` (internal order); all zero when it is not
    /// in the mempool.
    pub fn transaction_ancestry(&self, txid: &[u8; 32]) -> Ancestry {
        let state = self.lock();
        let txid = Txid::from_byte_array(*txid);
        if !state.mempool.contains_key(&txid) {
            return Ancestry::default();
        }
        let ancestors = state.mempool_family(txid, true);
        let entries: Vec<&MempoolEntry> = ancestors
            .iter()
            .filter_map(|id| state.mempool.get(id))
            .collect();
        let descendants = ancestors
            .iter()
            .filter(|id| {
                state
                    .mempool
                    .get(*id)
                    .is_some_and(|e| state.mempool_parents(e).is_empty())
            })
            .map(|root| state.mempool_family(*root, false).len())
            .max()
            .unwrap_or(1);
        Ancestry {
            ancestors: ancestors.len() as u64,
            descendants: descendants as u64,
            ancestor_size: entries.iter().map(|e| e.vsize()).sum(),
            ancestor_fees: entries.iter().map(|e| e.fee).fold(0, i64::saturating_add),
        }
    }
}

struct TipWaiterGuard<'a>(&'a DemoChain);

impl Drop for TipWaiterGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.tip_waiters = state.tip_waiters.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_branch_matches_rust_bitcoin() {
        for n in 1..=9usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 + 1; 32]).collect();
            let path = coinbase_branch(leaves.clone());
            let expected = bitcoin::merkle_tree::calculate_root(
                leaves.iter().map(|l| TxMerkleNode::from_byte_array(*l)),
            )
            .map(|r| r.to_byte_array());
            assert_eq!(
                Some(merkle_root_from_path(leaves[0], &path)),
                expected,
                "n={n}"
            );
        }
    }

    #[test]
    fn subsidy_and_prefix() {
        assert_eq!(regtest_subsidy(1), 5_000_000_000);
        assert_eq!(regtest_subsidy(149), 5_000_000_000);
        assert_eq!(regtest_subsidy(150), 2_500_000_000);
        assert_eq!(regtest_subsidy(150 * 64), 0);
        assert_eq!(bip34_height_prefix(1), vec![0x51]);
        assert_eq!(bip34_height_prefix(16), vec![0x60]);
        assert_eq!(bip34_height_prefix(17), vec![0x01, 0x11]);
        assert_eq!(bip34_height_prefix(102), vec![0x01, 0x66]);
        assert_eq!(bip34_height_prefix(128), vec![0x02, 0x80, 0x00]);
    }

    #[test]
    fn demo_chain_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DemoChain>();
        assert_send_sync::<Template>();
    }
}
