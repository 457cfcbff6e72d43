//! The regtest block solver offered to C++ (`mphub::core::regtest::ffi`): builds the
//! coinbase from a template's `CoinbaseTx` pieces and grinds the header nonce, with
//! `mphub_chain::miner` (the same code as `mphub mining mine`).

#[cxx::bridge(namespace = "mphub::core::regtest::ffi")]
mod ffi {
    /// A solved block: pass version, timestamp, nonce and coinbase to
    /// `BlockTemplate.submitSolution`.
    struct SolvedBlock {
        version: u32,
        timestamp: u32,
        nonce: u32,
        coinbase: Vec<u8>,
        /// Block hash, 32 bytes, internal byte order.
        block_hash: Vec<u8>,
    }

    /// The template's `CoinbaseTx` pieces (`Mining.CoinbaseTx`).
    struct CoinbasePieces<'a> {
        version: u32,
        sequence: u32,
        script_sig_prefix: &'a [u8],
        /// 32 bytes, or empty when the template has no witness commitment.
        witness: &'a [u8],
        block_reward_remaining: i64,
        /// `required_outputs`, concatenated; `required_output_sizes` splits them.
        required_outputs: &'a [u8],
        required_output_sizes: &'a [u32],
        lock_time: u32,
    }

    extern "Rust" {
        /// Builds the coinbase (payout to `payout_script`, `extranonce` after the height
        /// push), sets the merkle root from `merkle_path` (32-byte hashes, concatenated)
        /// and grinds the nonce of the 80-byte `header`. Fails on malformed input.
        fn solve(
            header: &[u8],
            coinbase: &CoinbasePieces,
            merkle_path: &[u8],
            payout_script: &[u8],
            extranonce: u32,
        ) -> Result<SolvedBlock>;
    }
}

use mphub_chain::{miner, CoinbaseTemplate};

fn solve(
    header: &[u8],
    cb: &ffi::CoinbasePieces<'_>,
    merkle_path: &[u8],
    payout_script: &[u8],
    extranonce: u32,
) -> Result<ffi::SolvedBlock, String> {
    let witness = match cb.witness.len() {
        0 => None,
        32 => Some(<[u8; 32]>::try_from(cb.witness).map_err(|e| e.to_string())?),
        n => return Err(format!("CoinbaseTx.witness is {n} bytes, expected 0 or 32")),
    };
    let mut required = Vec::new();
    let mut rest = cb.required_outputs;
    for &size in cb.required_output_sizes {
        let size = size as usize;
        if size > rest.len() {
            return Err("required_output_sizes exceed required_outputs".into());
        }
        let (one, tail) = rest.split_at(size);
        required.push(one.to_vec());
        rest = tail;
    }
    if !merkle_path.len().is_multiple_of(32) {
        return Err(format!(
            "merkle path is {} bytes, not a multiple of 32",
            merkle_path.len()
        ));
    }
    let path: Vec<[u8; 32]> = merkle_path
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
        .collect();
    let template = CoinbaseTemplate {
        version: cb.version,
        sequence: cb.sequence,
        script_sig_prefix: cb.script_sig_prefix.to_vec(),
        witness,
        block_reward_remaining: cb.block_reward_remaining,
        required_outputs: required,
        lock_time: cb.lock_time,
    };
    let coinbase = miner::build_coinbase(&template, &extranonce.to_le_bytes(), payout_script);
    let txid = miner::txid_of(&coinbase).map_err(|e| e.to_string())?;
    let root = miner::merkle_root_from_path(txid, &path);
    let solved = miner::solve_header(header, root).map_err(|e| e.to_string())?;
    Ok(ffi::SolvedBlock {
        version: solved.version,
        timestamp: solved.timestamp,
        nonce: solved.nonce,
        coinbase,
        block_hash: solved.block_hash.to_vec(),
    })
}
