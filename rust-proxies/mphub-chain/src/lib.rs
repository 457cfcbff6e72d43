//! Pure Bitcoin logic for mphub, with no IPC code in it.
//!
//! * [`demo`]: [`DemoChain`], a synthetic regtest chain that starts from the real regtest
//!   genesis block and mimics the semantics of Bitcoin Core's `interfaces::Mining` and
//!   `interfaces::BlockTemplate` (block templates, `submitSolution`, `checkBlock`,
//!   `waitTipChanged`, `waitNext`, …). mphub's built-in demo node serves it over IPC.
//! * [`events`]: [`ChainEvent`]s in the order Core's validation interface signals them, and
//!   [`Subscription`]s delivering them (what `Chain.handleNotifications` needs).
//! * [`miner`]: client-side helpers that work against any node (the demo or a real
//!   `bitcoin-node`): build the coinbase from a [`CoinbaseTemplate`], fold the coinbase merkle
//!   path into a merkle root, grind the header nonce, and convert hashes to and from RPC hex.
//! * [`rpc`]: a minimal, blocking bitcoind JSON-RPC client (cookie auth, loopback only) used by
//!   tests that drive a real node.
//! * [`node`]: [`RegtestNode`] starts a real `bitcoin-node` on regtest with IPC enabled and
//!   stops it on drop.
//!
//! # Encodings
//!
//! Everything follows Bitcoin Core's IPC encoding: hashes are 32 raw bytes in Bitcoin's
//! *internal* byte order (the reverse of the hex shown by RPC, see
//! [`miner::hash_to_rpc_hex`]), blocks and transactions use the segwit (BIP144) serialization,
//! amounts are `i64` satoshis, and IPC timeouts are `f64` milliseconds (see
//! [`duration_from_millis_f64`]).

#![warn(missing_docs)]

pub mod demo;
pub mod events;
pub mod locator;
pub mod miner;
pub mod node;
pub mod rpc;

use std::time::Duration;

pub use demo::{
    core_decode_error, Accepted, Ancestry, ChainError, CreateOptions, DemoChain, MempoolInfo,
    RbfState, Template, TxReject,
};
pub use events::{ChainEvent, RemovalReason, Subscription};
pub use locator::{decode_locator, encode_locator, BlockFacts, LocatorError};
pub use miner::{MinerError, SolvedHeader};
pub use node::{NodeError, RegtestNode};
pub use rpc::{NodeRpc, RpcError};

/// The largest amount of money, in satoshis (`MAX_MONEY`, 21 million BTC).
///
/// It is also the `mining.capnp` constant `maxMoney` and the v31+ default of
/// `BlockWaitOptions.feeThreshold`: at this value only a tip change wakes
/// [`DemoChain::wait_next`].
pub const MAX_MONEY: i64 = 21_000_000 * 100_000_000;

/// A block identified by its hash and height (`Common.BlockRef` / `interfaces::BlockRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Block hash, 32 bytes in internal byte order (reverse of RPC hex).
    pub hash: [u8; 32],
    /// Block height; the genesis block has height 0.
    pub height: i32,
}

impl BlockRef {
    /// The "no block" value: all-zero hash and height -1.
    ///
    /// [`DemoChain::wait_tip_changed`] returns it when the wait was interrupted. Core documents
    /// this case as "the result has an empty hash", so an IPC server should encode a null
    /// `BlockRef` as an empty `hash` Data field.
    pub const NULL: BlockRef = BlockRef {
        hash: [0u8; 32],
        height: -1,
    };

    /// Whether this is [`BlockRef::NULL`] (an all-zero hash, which no real block has).
    pub fn is_null(&self) -> bool {
        self.hash == [0u8; 32]
    }
}

/// What a miner needs to build the real coinbase transaction (`Mining.CoinbaseTx`, v31+).
///
/// See [`miner::build_coinbase`] for how the fields are put together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseTemplate {
    /// Transaction version (Core uses 2).
    pub version: u32,
    /// `nSequence` of the coinbase input (Core uses `0xfffffffe`, so `lock_time` is enforced).
    pub sequence: u32,
    /// Start of the scriptSig: the BIP34 height push as a minimal script push, raw bytes with no
    /// length prefix (`[0x51]` for height 1, `[0x01, 0x66]` for height 102).
    pub script_sig_prefix: Vec<u8>,
    /// The 32-byte witness reserved value, or `None` when the template has no witness
    /// commitment.
    pub witness: Option<[u8; 32]>,
    /// Satoshis the coinbase outputs may claim in total: block subsidy plus the fees of the
    /// template's transactions.
    pub block_reward_remaining: i64,
    /// Outputs that must be appended verbatim, each a serialized `CTxOut` (8-byte LE value,
    /// compact-size script length, script). Currently the OP_RETURN witness commitment.
    pub required_outputs: Vec<Vec<u8>>,
    /// `nLockTime` of the coinbase (Core uses the new block's height minus one).
    pub lock_time: u32,
}

/// Outcome of a block submission or check, like Core's `(result, reason, debug)` triple.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitResult {
    /// Whether the block was valid (and, for submissions, connected as the new tip).
    pub accepted: bool,
    /// Core-style reject reason such as `"high-hash"`; empty when accepted.
    pub reason: String,
    /// Human-readable detail for the reject reason; empty when accepted.
    pub debug: String,
}

impl SubmitResult {
    /// A successful result with empty reason and debug strings.
    pub fn ok() -> Self {
        SubmitResult {
            accepted: true,
            reason: String::new(),
            debug: String::new(),
        }
    }

    /// A rejection with the given reason and debug text.
    pub fn rejected(reason: impl Into<String>, debug: impl Into<String>) -> Self {
        SubmitResult {
            accepted: false,
            reason: reason.into(),
            debug: debug.into(),
        }
    }
}

/// Converts an IPC timeout in (fractional) milliseconds to a [`Duration`].
///
/// Core's `MillisecondsDouble` travels as a `Float64`. Negative values and NaN become zero;
/// values too large for a `Duration` (including `.maxDouble`, the v31+ default, and infinity)
/// become [`Duration::MAX`], which the waits in [`DemoChain`] treat as "no deadline".
pub fn duration_from_millis_f64(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

/// Converts a [`Duration`] to IPC milliseconds (`Float64`), the inverse of
/// [`duration_from_millis_f64`].
pub fn millis_f64_from_duration(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_conversion_saturates() {
        assert_eq!(duration_from_millis_f64(-5.0), Duration::ZERO);
        assert_eq!(duration_from_millis_f64(f64::NAN), Duration::ZERO);
        assert_eq!(duration_from_millis_f64(f64::MAX), Duration::MAX);
        assert_eq!(duration_from_millis_f64(f64::INFINITY), Duration::MAX);
        assert_eq!(duration_from_millis_f64(200.0), Duration::from_millis(200));
        assert_eq!(duration_from_millis_f64(0.5), Duration::from_micros(500));
        assert!((millis_f64_from_duration(Duration::from_millis(1500)) - 1500.0).abs() < 1e-9);
    }

    #[test]
    fn null_block_ref() {
        assert!(BlockRef::NULL.is_null());
        assert!(!BlockRef {
            hash: [1; 32],
            height: 0
        }
        .is_null());
    }
}
