//! Client-side mining helpers that work against any node (the demo chain or a real
//! `bitcoin-node`).
//!
//! The usual flow with a template from `createNewBlock`:
//!
//! 1. [`build_coinbase`] from the template's [`CoinbaseTemplate`] (`getCoinbaseTx`),
//! 2. [`txid_of`] the coinbase and [`merkle_root_from_path`] with `getCoinbaseMerklePath`,
//! 3. [`solve_header`] on the 80 bytes of `getBlockHeader`,
//! 4. `submitSolution(version, timestamp, nonce, coinbase)`.

use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize, serialize, VarInt};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Transaction, TxMerkleNode};
use thiserror::Error;

use crate::CoinbaseTemplate;

/// Errors from the mining helpers.
#[derive(Debug, Error)]
pub enum MinerError {
    /// The block header was not exactly 80 bytes.
    #[error("block header must be 80 bytes, got {0}")]
    BadHeaderLength(usize),
    /// The bytes could not be decoded as the expected Bitcoin structure.
    #[error("cannot decode {what}: {detail}")]
    Decode {
        /// What was being decoded ("block header", "transaction").
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// All 2^32 nonces were tried without meeting the target.
    #[error(
        "no nonce meets the target of bits {bits:#010x}; change the timestamp or the coinbase (extranonce) and retry"
    )]
    NonceSpaceExhausted {
        /// The header's compact target.
        bits: u32,
    },
    /// A hash given as hex was not 64 hex digits.
    #[error("invalid hash hex {input:?}: {detail}")]
    BadHashHex {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        detail: String,
    },
    /// A spend whose fee is negative or leaves nothing to pay out.
    #[error("fee {fee} satoshis must be at least 0 and below the {value} satoshis spent")]
    BadFee {
        /// The fee asked for.
        fee: i64,
        /// Value of the output spent.
        value: i64,
    },
}

/// A header whose nonce meets its target, as returned by [`solve_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolvedHeader {
    /// Header `nVersion` (pass to `submitSolution`).
    pub version: u32,
    /// Header `nTime` (pass to `submitSolution`).
    pub timestamp: u32,
    /// The nonce found (pass to `submitSolution`).
    pub nonce: u32,
    /// The full solved 80-byte header, with the merkle root filled in.
    pub header: [u8; 80],
    /// The block hash, internal byte order.
    pub block_hash: [u8; 32],
}

/// Minimum coinbase scriptSig length Core accepts (`bad-cb-length` below it).
pub const MIN_COINBASE_SCRIPT_SIG_LEN: usize = 2;
/// Maximum coinbase scriptSig length Core accepts (`bad-cb-length` above it).
pub const MAX_COINBASE_SCRIPT_SIG_LEN: usize = 100;

fn push_varint(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&serialize(&VarInt(n as u64)));
}

fn push_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    push_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Builds and serializes the real coinbase transaction from a template's [`CoinbaseTemplate`].
///
/// Layout, as Core's `getCoinbaseTx` documentation prescribes:
/// * `version`;
/// * one input spending the null outpoint (`00…00:ffffffff`) with `sequence`, whose
///   scriptSig is `script_sig_prefix` followed by `extranonce`. If that is shorter than
///   [`MIN_COINBASE_SCRIPT_SIG_LEN`] bytes it is padded with `0x00` (OP_0) bytes, because Core
///   rejects shorter coinbase scriptSigs with `bad-cb-length` (this matters at heights ≤ 16,
///   where the height push is a single opcode). The result is not truncated: a scriptSig over
///   [`MAX_COINBASE_SCRIPT_SIG_LEN`] bytes is rejected by the node;
/// * witness `[witness]` when `witness` is set (then the segwit serialization with marker and
///   flag is used), otherwise no witness and the legacy serialization;
/// * one payout output of `block_reward_remaining` satoshis (negative values count as 0) to
///   `payout_script`, then every entry of `required_outputs` copied verbatim;
/// * `lock_time`.
pub fn build_coinbase(
    coinbase: &CoinbaseTemplate,
    extranonce: &[u8],
    payout_script: &[u8],
) -> Vec<u8> {
    let mut script_sig =
        Vec::with_capacity(coinbase.script_sig_prefix.len() + extranonce.len() + 2);
    script_sig.extend_from_slice(&coinbase.script_sig_prefix);
    script_sig.extend_from_slice(extranonce);
    while script_sig.len() < MIN_COINBASE_SCRIPT_SIG_LEN {
        script_sig.push(0x00);
    }

    let mut out = Vec::with_capacity(128 + payout_script.len());
    out.extend_from_slice(&coinbase.version.to_le_bytes());
    if coinbase.witness.is_some() {
        out.extend_from_slice(&[0x00, 0x01]); // segwit marker and flag
    }
    // Inputs: exactly one, spending the null outpoint.
    push_varint(&mut out, 1);
    out.extend_from_slice(&[0u8; 32]);
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    push_var_bytes(&mut out, &script_sig);
    out.extend_from_slice(&coinbase.sequence.to_le_bytes());
    // Outputs: payout, then the required ones verbatim.
    push_varint(&mut out, 1 + coinbase.required_outputs.len());
    let reward = u64::try_from(coinbase.block_reward_remaining).unwrap_or(0);
    out.extend_from_slice(&reward.to_le_bytes());
    push_var_bytes(&mut out, payout_script);
    for txout in &coinbase.required_outputs {
        out.extend_from_slice(txout);
    }
    if let Some(reserved) = &coinbase.witness {
        // Witness of the single input: one stack item, the reserved value.
        push_varint(&mut out, 1);
        push_var_bytes(&mut out, reserved);
    }
    out.extend_from_slice(&coinbase.lock_time.to_le_bytes());
    out
}

/// Decodes a serialized transaction (with or without witness) and returns its txid in internal
/// byte order.
pub fn txid_of(tx: &[u8]) -> Result<[u8; 32], MinerError> {
    let tx: Transaction = deserialize(tx).map_err(|e| MinerError::Decode {
        what: "transaction",
        detail: e.to_string(),
    })?;
    Ok(tx.compute_txid().to_byte_array())
}

/// Folds a coinbase merkle branch (`getCoinbaseMerklePath`, deepest first) into the block's
/// merkle root.
///
/// The coinbase is always the leftmost leaf, so each step is `sha256d(current || sibling)`.
/// All hashes are in internal byte order. An empty path gives the coinbase txid itself (a block
/// with only the coinbase).
pub fn merkle_root_from_path(coinbase_txid: [u8; 32], path: &[[u8; 32]]) -> [u8; 32] {
    let mut current = coinbase_txid;
    let mut buf = [0u8; 64];
    for sibling in path {
        buf[..32].copy_from_slice(&current);
        buf[32..].copy_from_slice(sibling);
        current = sha256d::Hash::hash(&buf).to_byte_array();
    }
    current
}

/// Sets the merkle root of an 80-byte header and grinds the nonce (0, 1, 2, …) until the
/// header hash meets the target encoded in its `bits`.
///
/// Version and timestamp are kept as given. This is meant for regtest-like difficulty, where a
/// couple of tries suffice; after all 2^32 nonces fail it returns
/// [`MinerError::NonceSpaceExhausted`].
pub fn solve_header(header80: &[u8], merkle_root: [u8; 32]) -> Result<SolvedHeader, MinerError> {
    if header80.len() != Header::SIZE {
        return Err(MinerError::BadHeaderLength(header80.len()));
    }
    let mut header: Header = deserialize(header80).map_err(|e| MinerError::Decode {
        what: "block header",
        detail: e.to_string(),
    })?;
    header.merkle_root = TxMerkleNode::from_byte_array(merkle_root);
    let target = header.target();
    let mut nonce: u32 = 0;
    loop {
        header.nonce = nonce;
        let hash = header.block_hash();
        if target.is_met_by(hash) {
            let mut bytes = [0u8; 80];
            bytes.copy_from_slice(&serialize(&header));
            return Ok(SolvedHeader {
                version: header.version.to_consensus() as u32,
                timestamp: header.time,
                nonce,
                header: bytes,
                block_hash: hash.to_byte_array(),
            });
        }
        nonce = match nonce.checked_add(1) {
            Some(n) => n,
            None => {
                return Err(MinerError::NonceSpaceExhausted {
                    bits: header.bits.to_consensus(),
                })
            }
        };
    }
}

/// The P2WSH script of a bare `OP_TRUE` witness script (`0020` + SHA-256 of `51`): a
/// standard output anyone can spend with the witness `[51]`.
pub fn p2wsh_op_true_script() -> Vec<u8> {
    let mut script = vec![0x00, 0x20];
    script.extend_from_slice(bitcoin::hashes::sha256::Hash::hash(&[0x51]).as_byte_array());
    script
}

/// A version-2 transaction spending output `vout` (worth `value` satoshis) of `txid`
/// (internal order), whose script is `OP_TRUE` (what [`build_coinbase`] pays with the
/// payout script `51`), to one [`p2wsh_op_true_script`] output of `value - fee`.
///
/// The input has an empty scriptSig and no witness, so it is valid; Core calls spending a
/// bare `OP_TRUE` non-standard, so a real node needs `-acceptnonstdtxn=1` (regtest) to take
/// it into its mempool. Returns the serialized transaction.
///
/// # Errors
/// [`MinerError::BadFee`] when `fee` is negative or not below `value`.
pub fn spend_op_true(
    txid: [u8; 32],
    vout: u32,
    value: i64,
    fee: i64,
) -> Result<Vec<u8>, MinerError> {
    if fee < 0 || fee >= value {
        return Err(MinerError::BadFee { fee, value });
    }
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint {
                txid: bitcoin::Txid::from_byte_array(txid),
                vout,
            },
            script_sig: bitcoin::ScriptBuf::new(),
            sequence: bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: bitcoin::Witness::new(),
        }],
        output: vec![bitcoin::TxOut {
            value: bitcoin::Amount::from_sat((value - fee) as u64),
            script_pubkey: bitcoin::ScriptBuf::from_bytes(p2wsh_op_true_script()),
        }],
    };
    Ok(serialize(&tx))
}

/// Formats an internal-order hash as RPC hex (byte-reversed), e.g. the regtest genesis
/// `06226e46…0f` becomes `0f9188f1…466e2206`.
pub fn hash_to_rpc_hex(hash: [u8; 32]) -> String {
    let mut reversed = hash;
    reversed.reverse();
    hex::encode(reversed)
}

/// Parses RPC hex (64 hex digits, as `getbestblockhash` prints) into an internal-order hash.
pub fn rpc_hex_to_hash(s: &str) -> Result<[u8; 32], MinerError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut hash).map_err(|e| MinerError::BadHashHex {
        input: s.to_owned(),
        detail: e.to_string(),
    })?;
    hash.reverse();
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{Amount, ScriptBuf, TxOut};

    fn template(prefix: Vec<u8>, witness: Option<[u8; 32]>) -> CoinbaseTemplate {
        let commitment = TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(
                [&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed][..], &[7u8; 32][..]].concat(),
            ),
        };
        CoinbaseTemplate {
            version: 2,
            sequence: 0xffff_fffe,
            script_sig_prefix: prefix,
            witness,
            block_reward_remaining: 5_000_000_000,
            required_outputs: vec![serialize(&commitment)],
            lock_time: 0,
        }
    }

    #[test]
    fn coinbase_round_trips_through_rust_bitcoin() {
        let cb = template(vec![0x51], Some([0u8; 32]));
        let bytes = build_coinbase(&cb, &[], &[0x51]);
        let tx: Transaction = deserialize(&bytes).expect("valid coinbase");
        assert!(tx.is_coinbase());
        assert_eq!(tx.version.0, 2);
        // Padded to the two-byte minimum.
        assert_eq!(tx.input[0].script_sig.as_bytes(), &[0x51, 0x00]);
        assert_eq!(tx.input[0].sequence.0, 0xffff_fffe);
        assert_eq!(tx.input[0].witness.len(), 1);
        assert_eq!(tx.input[0].witness.nth(0), Some(&[0u8; 32][..]));
        assert_eq!(tx.output.len(), 2);
        assert_eq!(tx.output[0].value.to_sat(), 5_000_000_000);
        assert_eq!(tx.output[0].script_pubkey.as_bytes(), &[0x51]);
        assert_eq!(serialize(&tx.output[1]), cb.required_outputs[0]);
        assert_eq!(tx.lock_time.to_consensus_u32(), 0);
        // Our serialization is exactly rust-bitcoin's.
        assert_eq!(serialize(&tx), bytes);
    }

    #[test]
    fn coinbase_extranonce_and_no_witness() {
        let cb = template(vec![0x01, 0x66], None);
        let bytes = build_coinbase(&cb, &[1, 2, 3], &[0x51]);
        let tx: Transaction = deserialize(&bytes).expect("valid coinbase");
        assert_eq!(tx.input[0].script_sig.as_bytes(), &[0x01, 0x66, 1, 2, 3]);
        assert!(tx.input[0].witness.is_empty());
        assert_eq!(bytes[4], 0x01, "no segwit marker without a witness");
    }

    #[test]
    fn merkle_path_folding() {
        let a = [1u8; 32];
        assert_eq!(merkle_root_from_path(a, &[]), a);
        let b = [2u8; 32];
        let expected = sha256d::Hash::hash(&[a, b].concat()).to_byte_array();
        assert_eq!(merkle_root_from_path(a, &[b]), expected);
    }

    #[test]
    fn hex_conversions() {
        let genesis = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
        let hash = genesis.block_hash().to_byte_array();
        let rpc = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
        assert_eq!(hash_to_rpc_hex(hash), rpc);
        assert_eq!(rpc_hex_to_hash(rpc).expect("valid hex"), hash);
        assert_eq!(genesis.block_hash().to_string(), rpc);
        assert!(rpc_hex_to_hash("zz").is_err());
        assert!(rpc_hex_to_hash(&rpc[2..]).is_err());
    }

    #[test]
    fn solve_header_meets_target_and_rejects_garbage() {
        let genesis = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
        let header = serialize(&genesis.header);
        let solved = solve_header(&header, [9u8; 32]).expect("regtest is easy");
        let decoded: Header = deserialize(&solved.header).expect("80 bytes");
        assert_eq!(decoded.merkle_root.to_byte_array(), [9u8; 32]);
        assert_eq!(decoded.nonce, solved.nonce);
        assert_eq!(decoded.block_hash().to_byte_array(), solved.block_hash);
        assert!(decoded.validate_pow(decoded.target()).is_ok());
        assert!(matches!(
            solve_header(&header[..79], [0; 32]),
            Err(MinerError::BadHeaderLength(79))
        ));
        assert!(txid_of(&[1, 2, 3]).is_err());
    }
}
