//! Block locators and per-block facts, as Bitcoin Core's `interfaces::Chain` returns them.
//!
//! A locator (Core's `CBlockLocator`) is serialized as a little-endian `i32` version
//! (Core writes `DUMMY_VERSION` = 70016 and ignores it on read) followed by a
//! compact-size count and that many 32-byte hashes in internal byte order. Entries follow
//! Core's `LocatorEntries`: the block itself, then its ancestors one by one for ten steps,
//! then with a doubling step, always ending with the genesis block.

use bitcoin::consensus::encode::{deserialize_partial, serialize, VarInt};
use thiserror::Error;

/// The version Core writes in front of a serialized locator.
pub const LOCATOR_VERSION: i32 = 70016;

/// Core's `MAX_LOCATOR_SZ`: a locator with more hashes is refused.
pub const MAX_LOCATOR_HASHES: usize = 101;

/// A malformed serialized locator.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LocatorError {
    /// Fewer than the 4-byte version and the count, or fewer hashes than the count says.
    #[error("locator: {0} bytes is too short (version, count and 32 bytes per hash)")]
    Truncated(usize),
    /// More hashes than Core accepts.
    #[error("locator: {0} hashes is more than the {MAX_LOCATOR_HASHES} Core accepts")]
    TooLong(u64),
    /// Bytes left after the last hash.
    #[error("locator: {0} bytes after the last hash")]
    TrailingBytes(usize),
}

/// Heights of the locator entries of a block at `height` (Core's `LocatorEntries`).
pub fn locator_heights(height: i32) -> Vec<i32> {
    let mut heights = Vec::new();
    if height < 0 {
        return heights;
    }
    let mut h = height;
    let mut step = 1;
    loop {
        heights.push(h);
        if h == 0 {
            break;
        }
        h = (h - step).max(0);
        if heights.len() > 10 {
            step *= 2;
        }
    }
    heights
}

/// Serializes locator `hashes` (internal byte order) as Core does.
pub fn encode_locator(hashes: &[[u8; 32]]) -> Vec<u8> {
    let mut out = LOCATOR_VERSION.to_le_bytes().to_vec();
    out.extend(serialize(&VarInt(hashes.len() as u64)));
    for h in hashes {
        out.extend_from_slice(h);
    }
    out
}

/// Parses a serialized locator into its hashes (internal byte order), refusing more than
/// [`MAX_LOCATOR_HASHES`] before allocating for them.
pub fn decode_locator(bytes: &[u8]) -> Result<Vec<[u8; 32]>, LocatorError> {
    let rest = bytes.get(4..).ok_or(LocatorError::Truncated(bytes.len()))?;
    let (count, used) =
        deserialize_partial::<VarInt>(rest).map_err(|_| LocatorError::Truncated(bytes.len()))?;
    if count.0 > MAX_LOCATOR_HASHES as u64 {
        return Err(LocatorError::TooLong(count.0));
    }
    let rest = &rest[used..];
    let n = count.0 as usize;
    if rest.len() < n * 32 {
        return Err(LocatorError::Truncated(bytes.len()));
    }
    if rest.len() > n * 32 {
        return Err(LocatorError::TrailingBytes(rest.len() - n * 32));
    }
    Ok(rest
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// What Core's `FoundBlock` can report about one block of the active chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockFacts {
    /// Hash, internal byte order.
    pub hash: [u8; 32],
    /// The previous block's hash (all zeros for genesis).
    pub prev_hash: [u8; 32],
    /// Height (genesis 0).
    pub height: i32,
    /// Header time, Unix seconds.
    pub time: u32,
    /// Largest header time of this block and its ancestors (Core's `GetBlockTimeMax`).
    pub max_time: u32,
    /// Median time past: median of the last 11 header times up to this block.
    pub mtp_time: u32,
    /// The serialized block (segwit serialization).
    pub data: Vec<u8>,
    /// Offset of the block's data in its block file (`blk00000.dat` for the demo chain:
    /// each block follows an 8-byte magic and size record), Core's `nDataPos`.
    pub data_pos: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_follow_core() {
        assert_eq!(locator_heights(0), vec![0]);
        assert_eq!(locator_heights(3), vec![3, 2, 1, 0]);
        // Eleven single steps from the tip, then steps of 2, 4, 8, ... down to genesis.
        assert_eq!(
            locator_heights(100),
            vec![100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 87, 83, 75, 59, 27, 0]
        );
    }

    #[test]
    fn locator_round_trips_and_bad_input_is_refused() {
        let hashes = vec![[1u8; 32], [2u8; 32]];
        let bytes = encode_locator(&hashes);
        assert_eq!(&bytes[..4], &70016i32.to_le_bytes());
        assert_eq!(bytes.len(), 4 + 1 + 64);
        assert_eq!(decode_locator(&bytes), Ok(hashes));
        assert_eq!(decode_locator(&bytes[..3]), Err(LocatorError::Truncated(3)));
        assert_eq!(
            decode_locator(&bytes[..40]),
            Err(LocatorError::Truncated(40))
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_locator(&long), Err(LocatorError::TrailingBytes(1)));
        // A count of 2^32 is refused before any allocation.
        let huge = [0, 0, 0, 0, 0xfe, 0, 0, 0, 0x01];
        assert!(matches!(
            decode_locator(&huge),
            Err(LocatorError::TooLong(_))
        ));
        assert_eq!(decode_locator(&encode_locator(&[])), Ok(vec![]));
    }
}
