//! The demo node in the PR #29409 schema: `Init` with `makeChain` (@3), and `Chain` over
//! the [`DemoChain`] with Core's semantics (`node/interfaces.cpp`, `ChainImpl`).
//!
//! Answered: the chain queries (`getHeight`, `getBlockHash`, `haveBlockOnDisk`,
//! `getTipLocator`, `getActiveChainLocator`, `findLocatorFork`, `findBlock`,
//! `findFirstBlockWithTimeAndHeight`, `findAncestorByHeight`, `findAncestorByHash`,
//! `findCommonAncestor`, `hasBlocks`), the mempool queries (`isInMempool`,
//! `hasDescendantsInMempool`), the node state (`isInitialBlockDownload`,
//! `isReadyToBroadcast`, `shutdownRequested`, `havePruned`, `getPruneHeight`,
//! `hasAssumedValidChain`) and the UI calls (`initMessage`, `showProgress`, which only
//! log). Every other method answers `Unimplemented` naming `Chain` and the method
//! (doc/bitcoin-core.md lists them). `Init.makeMining` (the pre-v31 Mining at @2) is not
//! served: it fails with [`OLD_MINING_NOT_SERVED`].

use mphub::{CallContext, Cap, Error, Result, Text};
use mphub_chain::{decode_locator, encode_locator, DemoChain};

use crate::pr29409 as s;

/// Error of `Init.makeMining` on the demo node's PR #29409 schema.
pub const OLD_MINING_NOT_SERVED: &str =
    "not supported by the demo node: Init.makeMining (the Mining interface from before v31)";

/// `Init` of the PR #29409 schema.
pub(crate) struct Init {
    pub(crate) chain: DemoChain,
}

impl s::InitServer for Init {
    async fn make_echo(&self, _cx: &CallContext) -> Result<Cap<s::EchoClient>> {
        Ok(s::EchoServer::into_cap(Echo))
    }

    async fn make_mining(&self, _cx: &CallContext) -> Result<Cap<s::MiningClient>> {
        Err(Error::failed(OLD_MINING_NOT_SERVED))
    }

    async fn make_chain(&self, _cx: &CallContext) -> Result<Cap<s::ChainClient>> {
        Ok(s::ChainServer::into_cap(Chain {
            chain: self.chain.clone(),
        }))
    }
}

/// `Echo`: returns its input.
struct Echo;

impl s::EchoServer for Echo {
    async fn echo(&self, _cx: &CallContext, echo: Text) -> Result<Text> {
        Ok(echo)
    }
}

/// `Chain` (Core's `ChainImpl`) over the demo chain.
pub(crate) struct Chain {
    pub(crate) chain: DemoChain,
}

/// A 32-byte hash argument, or a clear error naming the method.
fn hash_arg(method: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        Error::failed(format!(
            "{method}: a block hash is 32 bytes, got {}",
            bytes.len()
        ))
    })
}

impl Chain {
    /// Core's `FillBlock`: the facts `want` asks for about the block at `height` (on the
    /// active chain), `found = false` when there is no such block.
    fn fill(&self, height: Option<i32>, want: &s::FoundBlockParam) -> s::FoundBlockResult {
        let Some(facts) = height.and_then(|h| self.chain.block_facts(h)) else {
            return s::FoundBlockResult::default();
        };
        let next = want
            .next_block
            .as_deref()
            .map(|next| Box::new(self.fill(facts.height.checked_add(1), next)));
        s::FoundBlockResult {
            hash: if want.want_hash {
                facts.hash.to_vec()
            } else {
                Vec::new()
            },
            height: if want.want_height { facts.height } else { 0 },
            time: if want.want_time {
                i64::from(facts.time)
            } else {
                0
            },
            max_time: if want.want_max_time {
                i64::from(facts.max_time)
            } else {
                0
            },
            mtp_time: if want.want_mtp_time {
                i64::from(facts.mtp_time)
            } else {
                0
            },
            // Every block the demo chain knows is on its active chain.
            in_active_chain: i64::from(want.want_in_active_chain),
            locator: if want.want_locator {
                encode_locator(&self.chain.locator_at(facts.height))
            } else {
                Vec::new()
            },
            next_block: next,
            data: if want.want_data {
                facts.data
            } else {
                Vec::new()
            },
            found: true,
        }
    }

    fn height_of(&self, method: &str, hash: &[u8]) -> Result<Option<i32>> {
        Ok(self.chain.height_of(&hash_arg(method, hash)?))
    }
}

impl s::ChainServer for Chain {
    async fn get_height(&self, _cx: &CallContext) -> Result<Option<i32>> {
        Ok(Some(self.chain.tip().height))
    }

    async fn get_block_hash(&self, _cx: &CallContext, height: i32) -> Result<Vec<u8>> {
        // Core asserts on a height past the tip; the demo answers an error instead.
        self.chain
            .block_hash_at(height)
            .map(|h| h.to_vec())
            .ok_or_else(|| {
                Error::failed(format!(
                    "getBlockHash: no block at height {height} (the tip is at {})",
                    self.chain.tip().height
                ))
            })
    }

    async fn have_block_on_disk(&self, _cx: &CallContext, height: i32) -> Result<bool> {
        Ok(self.chain.block_hash_at(height).is_some())
    }

    async fn get_tip_locator(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(encode_locator(
            &self.chain.locator_at(self.chain.tip().height),
        ))
    }

    async fn get_active_chain_locator(
        &self,
        _cx: &CallContext,
        block_hash: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let hashes = match self.height_of("getActiveChainLocator", &block_hash)? {
            Some(h) => self.chain.locator_at(h),
            None => Vec::new(),
        };
        Ok(encode_locator(&hashes))
    }

    async fn find_locator_fork(&self, _cx: &CallContext, locator: Vec<u8>) -> Result<Option<i32>> {
        let hashes =
            decode_locator(&locator).map_err(|e| Error::failed(format!("findLocatorFork: {e}")))?;
        Ok(Some(self.chain.find_fork(&hashes)))
    }

    async fn find_block(
        &self,
        _cx: &CallContext,
        hash: Vec<u8>,
        block: Option<s::FoundBlockParam>,
    ) -> Result<s::ChainFindBlockOutput> {
        let found = self.fill(
            self.height_of("findBlock", &hash)?,
            &block.unwrap_or_default(),
        );
        Ok(s::ChainFindBlockOutput {
            result: found.found,
            block: Some(found),
        })
    }

    async fn find_first_block_with_time_and_height(
        &self,
        _cx: &CallContext,
        min_time: i64,
        min_height: i32,
        block: Option<s::FoundBlockParam>,
    ) -> Result<s::ChainFindFirstBlockWithTimeAndHeightOutput> {
        let height = self.chain.first_block_at_least(min_time, min_height);
        let found = self.fill(height, &block.unwrap_or_default());
        Ok(s::ChainFindFirstBlockWithTimeAndHeightOutput {
            result: found.found,
            block: Some(found),
        })
    }

    async fn find_ancestor_by_height(
        &self,
        _cx: &CallContext,
        block_hash: Vec<u8>,
        ancestor_height: i32,
        ancestor: Option<s::FoundBlockParam>,
    ) -> Result<s::ChainFindAncestorByHeightOutput> {
        let height = self
            .height_of("findAncestorByHeight", &block_hash)?
            .filter(|h| (0..=*h).contains(&ancestor_height))
            .map(|_| ancestor_height);
        let found = self.fill(height, &ancestor.unwrap_or_default());
        Ok(s::ChainFindAncestorByHeightOutput {
            result: found.found,
            ancestor: Some(found),
        })
    }

    async fn find_ancestor_by_hash(
        &self,
        _cx: &CallContext,
        block_hash: Vec<u8>,
        ancestor_hash: Vec<u8>,
        ancestor: Option<s::FoundBlockParam>,
    ) -> Result<s::ChainFindAncestorByHashOutput> {
        let block = self.height_of("findAncestorByHash", &block_hash)?;
        let candidate = self.height_of("findAncestorByHash", &ancestor_hash)?;
        let height = match (block, candidate) {
            (Some(b), Some(a)) if a <= b => Some(a),
            _ => None,
        };
        let found = self.fill(height, &ancestor.unwrap_or_default());
        Ok(s::ChainFindAncestorByHashOutput {
            result: found.found,
            ancestor: Some(found),
        })
    }

    async fn find_common_ancestor(
        &self,
        _cx: &CallContext,
        block_hash1: Vec<u8>,
        block_hash2: Vec<u8>,
        ancestor: Option<s::FoundBlockParam>,
        block1: Option<s::FoundBlockParam>,
        block2: Option<s::FoundBlockParam>,
    ) -> Result<s::ChainFindCommonAncestorOutput> {
        let h1 = self.height_of("findCommonAncestor", &block_hash1)?;
        let h2 = self.height_of("findCommonAncestor", &block_hash2)?;
        // One active chain: the common ancestor is the lower of the two blocks.
        let common = h1.zip(h2).map(|(a, b)| a.min(b));
        let ancestor = self.fill(common, &ancestor.unwrap_or_default());
        let block1 = self.fill(h1, &block1.unwrap_or_default());
        let block2 = self.fill(h2, &block2.unwrap_or_default());
        Ok(s::ChainFindCommonAncestorOutput {
            result: ancestor.found && block1.found && block2.found,
            ancestor: Some(ancestor),
            block1: Some(block1),
            block2: Some(block2),
        })
    }

    async fn has_blocks(
        &self,
        _cx: &CallContext,
        block_hash: Vec<u8>,
        _min_height: i32,
        _max_height: Option<i32>,
    ) -> Result<bool> {
        // The demo chain has the data of every block it knows.
        Ok(self.height_of("hasBlocks", &block_hash)?.is_some())
    }

    async fn is_in_mempool(&self, _cx: &CallContext, txid: Vec<u8>) -> Result<bool> {
        Ok(self
            .chain
            .mempool_contains(&hash_arg("isInMempool", &txid)?))
    }

    async fn has_descendants_in_mempool(&self, _cx: &CallContext, txid: Vec<u8>) -> Result<bool> {
        hash_arg("hasDescendantsInMempool", &txid)?;
        // Demo mempool transactions spend only coinbase-like outputs, never each other.
        Ok(false)
    }

    async fn have_pruned(&self, _cx: &CallContext) -> Result<bool> {
        Ok(false)
    }

    async fn get_prune_height(&self, _cx: &CallContext) -> Result<Option<i32>> {
        Ok(None)
    }

    async fn is_ready_to_broadcast(&self, _cx: &CallContext) -> Result<bool> {
        Ok(!self.chain.is_initial_block_download())
    }

    async fn is_initial_block_download(&self, _cx: &CallContext) -> Result<bool> {
        Ok(self.chain.is_initial_block_download())
    }

    async fn shutdown_requested(&self, _cx: &CallContext) -> Result<bool> {
        Ok(false)
    }

    async fn init_message(&self, _cx: &CallContext, message: Text) -> Result<()> {
        tracing::info!(target: "demo", "initMessage: {message}");
        Ok(())
    }

    async fn show_progress(
        &self,
        _cx: &CallContext,
        title: Text,
        progress: i32,
        resume_possible: bool,
    ) -> Result<()> {
        tracing::info!(target: "demo", "showProgress: {title} {progress}% (resume possible: {resume_possible})");
        Ok(())
    }

    async fn has_assumed_valid_chain(&self, _cx: &CallContext) -> Result<bool> {
        Ok(false)
    }
}
