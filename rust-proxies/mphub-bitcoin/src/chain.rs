//! The wallet's side of Bitcoin Core's `Chain` interface (PR #29409 schema): typed queries,
//! `FoundBlock` requests as a builder, and a [`Follower`] that catches up from a locator and
//! then yields every `ChainNotifications` call in order.
//!
//! Hashes and transactions are rust-bitcoin types ([`BlockHash`], [`Txid`],
//! [`Transaction`], [`Block`]); on the wire they are Core's encodings (32-byte hashes in
//! internal order, segwit serialization). Data the node sends that does not decode is an
//! [`Error::Malformed`] naming the method and field, never a panic.

use std::collections::HashSet;
use std::time::Duration;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, Transaction, Txid};
use mphub::{CallContext, Error, Result};
use mphub_chain::{decode_locator, encode_locator, RemovalReason};
use tokio::sync::mpsc;

use crate::pr29409 as s;

/// What a `FoundBlock` request asks the node to fill in (Core's `interfaces::FoundBlock`),
/// built like `FoundBlock::new().height().time().data()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundBlock(s::FoundBlockParam);

impl FoundBlock {
    /// A request for nothing but whether the block exists.
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask for the block hash.
    pub fn hash(mut self) -> Self {
        self.0.want_hash = true;
        self
    }
    /// Ask for the height.
    pub fn height(mut self) -> Self {
        self.0.want_height = true;
        self
    }
    /// Ask for the header time.
    pub fn time(mut self) -> Self {
        self.0.want_time = true;
        self
    }
    /// Ask for the largest header time up to this block.
    pub fn max_time(mut self) -> Self {
        self.0.want_max_time = true;
        self
    }
    /// Ask for the median time past.
    pub fn mtp_time(mut self) -> Self {
        self.0.want_mtp_time = true;
        self
    }
    /// Ask whether the block is on the active chain.
    pub fn in_active_chain(mut self) -> Self {
        self.0.want_in_active_chain = true;
        self
    }
    /// Ask for the block's locator.
    pub fn locator(mut self) -> Self {
        self.0.want_locator = true;
        self
    }
    /// Ask for the whole block.
    pub fn data(mut self) -> Self {
        self.0.want_data = true;
        self
    }
    /// Ask for facts about the next block on the active chain too.
    pub fn next_block(mut self, next: FoundBlock) -> Self {
        self.0.next_block = Some(Box::new(next.0));
        self
    }
    /// Everything but the data and the next block.
    pub fn all_but_data() -> Self {
        Self::new()
            .hash()
            .height()
            .time()
            .max_time()
            .mtp_time()
            .in_active_chain()
            .locator()
    }
    /// The wire form.
    pub fn into_param(self) -> s::FoundBlockParam {
        self.0
    }
}

/// What the node found for a [`FoundBlock`] request; each field is `None` unless asked
/// for.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundBlockInfo {
    /// Block hash.
    pub hash: Option<BlockHash>,
    /// Height.
    pub height: Option<i32>,
    /// Header time, Unix seconds.
    pub time: Option<i64>,
    /// Largest header time up to this block, Unix seconds.
    pub max_time: Option<i64>,
    /// Median time past, Unix seconds.
    pub mtp_time: Option<i64>,
    /// Whether it is on the active chain.
    pub in_active_chain: Option<bool>,
    /// Its locator hashes.
    pub locator: Option<Vec<BlockHash>>,
    /// The block.
    pub block: Option<Block>,
    /// The next block, if asked for and there is one.
    pub next: Option<Box<FoundBlockInfo>>,
}

fn hash32(method: &str, field: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        Error::Malformed(format!(
            "{method}: {field} is {} bytes, a hash is 32",
            bytes.len()
        ))
    })
}

fn block_hash(method: &str, field: &str, bytes: &[u8]) -> Result<BlockHash> {
    hash32(method, field, bytes).map(BlockHash::from_byte_array)
}

fn decode_block(method: &str, field: &str, bytes: &[u8]) -> Result<Block> {
    deserialize(bytes)
        .map_err(|e| Error::Malformed(format!("{method}: {field} is not a block: {e}")))
}

fn decode_tx(method: &str, bytes: &[u8]) -> Result<Transaction> {
    deserialize(bytes)
        .map_err(|e| Error::Malformed(format!("{method}: tx is not a transaction: {e}")))
}

fn decode_locator_hashes(method: &str, bytes: &[u8]) -> Result<Vec<BlockHash>> {
    decode_locator(bytes)
        .map(|hashes| hashes.into_iter().map(BlockHash::from_byte_array).collect())
        .map_err(|e| Error::Malformed(format!("{method}: {e}")))
}

impl FoundBlockInfo {
    fn decode(method: &str, want: &s::FoundBlockParam, r: &s::FoundBlockResult) -> Result<Self> {
        let next = match (&want.next_block, &r.next_block) {
            (Some(want), Some(next)) if next.found => {
                Some(Box::new(Self::decode(method, want, next)?))
            }
            _ => None,
        };
        Ok(FoundBlockInfo {
            hash: want
                .want_hash
                .then(|| block_hash(method, "FoundBlock.hash", &r.hash))
                .transpose()?,
            height: want.want_height.then_some(r.height),
            time: want.want_time.then_some(r.time),
            max_time: want.want_max_time.then_some(r.max_time),
            mtp_time: want.want_mtp_time.then_some(r.mtp_time),
            in_active_chain: want.want_in_active_chain.then_some(r.in_active_chain != 0),
            locator: want
                .want_locator
                .then(|| decode_locator_hashes(method, &r.locator))
                .transpose()?,
            block: want
                .want_data
                .then(|| decode_block(method, "FoundBlock.data", &r.data))
                .transpose()?,
            next,
        })
    }
}

/// A block as `ChainNotifications` receives it (Core's `interfaces::BlockInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockInfo {
    /// Block hash.
    pub hash: BlockHash,
    /// The previous block's hash; `None` when the node did not send it.
    pub prev_hash: Option<BlockHash>,
    /// Height.
    pub height: i32,
    /// Largest header time up to this block, Unix seconds.
    pub chain_time_max: u32,
    /// The block; `None` when the node did not send its data.
    pub block: Option<Block>,
}

impl BlockInfo {
    fn decode(method: &str, info: &s::BlockInfo) -> Result<Self> {
        Ok(BlockInfo {
            hash: block_hash(method, "BlockInfo.hash", &info.hash)?,
            prev_hash: (!info.prev_hash.is_empty())
                .then(|| block_hash(method, "BlockInfo.prevHash", &info.prev_hash))
                .transpose()?,
            height: info.height,
            chain_time_max: info.chain_time_max,
            block: (!info.data.is_empty())
                .then(|| decode_block(method, "BlockInfo.data", &info.data))
                .transpose()?,
        })
    }

    fn from_found(found: FoundBlockInfo) -> Option<Self> {
        Some(BlockInfo {
            hash: found.hash?,
            prev_hash: found.block.as_ref().map(|b| b.header.prev_blockhash),
            height: found.height?,
            chain_time_max: found
                .max_time
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(0),
            block: found.block,
        })
    }
}

/// One thing a [`Follower`] reports, in the order the node signalled it.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// A block of the active chain read while catching up (before notifications).
    CatchUp(BlockInfo),
    /// `blockConnected`: `role` is Core's `ChainstateRole` (0 = the normal chainstate).
    BlockConnected {
        /// Core's `ChainstateRole`.
        role: u32,
        /// The block.
        block: BlockInfo,
    },
    /// `blockDisconnected` (a reorg).
    BlockDisconnected(BlockInfo),
    /// `updatedBlockTip`.
    UpdatedBlockTip,
    /// `transactionAddedToMempool`.
    TransactionAdded(Transaction),
    /// `transactionRemovedFromMempool`; `reason` is `None` for a number Core does not use.
    TransactionRemoved {
        /// The transaction.
        tx: Transaction,
        /// Why it left the mempool.
        reason: Option<RemovalReason>,
    },
    /// `chainStateFlushed` with the locator of the flushed chain state.
    ChainStateFlushed {
        /// Core's `ChainstateRole`.
        role: u32,
        /// The locator's hashes.
        locator: Vec<BlockHash>,
    },
}

/// A notification call as received, decoded by the [`Follower`] (so a malformed one is an
/// error there, not a failed call back to the node).
#[derive(Debug)]
enum Received {
    Connected(u32, s::BlockInfo),
    Disconnected(s::BlockInfo),
    Tip,
    Added(Vec<u8>),
    Removed(Vec<u8>, i32),
    Flushed(u32, Vec<u8>),
}

/// Calls from the node waiting for the [`Follower`]; when full, the node's next call waits
/// (back-pressure on the node instead of an unbounded queue here).
const RECEIVED_CAPACITY: usize = 256;

/// The wallet's `ChainNotifications` object: forwards every call to the [`Follower`].
struct Sink(mpsc::Sender<Received>);

impl Sink {
    async fn forward(&self, received: Received) -> Result<()> {
        self.0
            .send(received)
            .await
            .map_err(|_| Error::failed("the follower stopped"))
    }
}

impl s::ChainNotificationsServer for Sink {
    async fn transaction_added_to_mempool(&self, _cx: &CallContext, tx: Vec<u8>) -> Result<()> {
        self.forward(Received::Added(tx)).await
    }
    async fn transaction_removed_from_mempool(
        &self,
        _cx: &CallContext,
        tx: Vec<u8>,
        reason: i32,
    ) -> Result<()> {
        self.forward(Received::Removed(tx, reason)).await
    }
    async fn block_connected(
        &self,
        _cx: &CallContext,
        role: u32,
        block: Option<s::BlockInfo>,
    ) -> Result<()> {
        self.forward(Received::Connected(role, block.unwrap_or_default()))
            .await
    }
    async fn block_disconnected(
        &self,
        _cx: &CallContext,
        block: Option<s::BlockInfo>,
    ) -> Result<()> {
        self.forward(Received::Disconnected(block.unwrap_or_default()))
            .await
    }
    async fn updated_block_tip(&self, _cx: &CallContext) -> Result<()> {
        self.forward(Received::Tip).await
    }
    async fn chain_state_flushed(
        &self,
        _cx: &CallContext,
        role: u32,
        locator: Vec<u8>,
    ) -> Result<()> {
        self.forward(Received::Flushed(role, locator)).await
    }
}

/// Core's `Chain` as a wallet uses it, with rust-bitcoin types.
#[derive(Clone, Debug)]
pub struct Chain {
    client: s::ChainClient,
}

impl Chain {
    /// Wraps a `Chain` proxy (from [`Node::chain`](crate::client::Node::chain)).
    pub fn new(client: s::ChainClient) -> Self {
        Chain { client }
    }

    /// The generated proxy, for methods not wrapped here.
    pub fn client(&self) -> &s::ChainClient {
        &self.client
    }

    /// `getHeight`: the tip's height, `None` when the node has no blocks.
    pub async fn height(&self) -> Result<Option<i32>> {
        self.client.get_height().await
    }

    /// `getBlockHash`: the hash of the active chain's block at `height`.
    pub async fn block_hash(&self, height: i32) -> Result<BlockHash> {
        let bytes = self.client.get_block_hash(height).await?;
        block_hash("Chain.getBlockHash", "result", &bytes)
    }

    /// `getTipLocator`: the tip's locator hashes.
    pub async fn tip_locator(&self) -> Result<Vec<BlockHash>> {
        let bytes = self.client.get_tip_locator().await?;
        decode_locator_hashes("Chain.getTipLocator", &bytes)
    }

    /// `getActiveChainLocator`: the locator of `block` if it is on the active chain, else
    /// empty.
    pub async fn active_chain_locator(&self, block: BlockHash) -> Result<Vec<BlockHash>> {
        let bytes = self
            .client
            .get_active_chain_locator(block.to_byte_array().to_vec())
            .await?;
        decode_locator_hashes("Chain.getActiveChainLocator", &bytes)
    }

    /// `findLocatorFork`: the height of the last block of `locator` on the active chain.
    pub async fn find_locator_fork(&self, locator: &[BlockHash]) -> Result<Option<i32>> {
        let hashes: Vec<[u8; 32]> = locator.iter().map(|h| h.to_byte_array()).collect();
        self.client.find_locator_fork(encode_locator(&hashes)).await
    }

    /// `findBlock`: facts about the block `hash`, `None` when the node does not know it.
    pub async fn find_block(
        &self,
        hash: BlockHash,
        want: FoundBlock,
    ) -> Result<Option<FoundBlockInfo>> {
        let want = want.into_param();
        let out = self
            .client
            .find_block(hash.to_byte_array().to_vec(), want.clone())
            .await?;
        match (out.result, out.block) {
            (true, Some(found)) => {
                FoundBlockInfo::decode("Chain.findBlock", &want, &found).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `findAncestorByHeight`: facts about the ancestor of `block` at `height`.
    pub async fn find_ancestor_by_height(
        &self,
        block: BlockHash,
        height: i32,
        want: FoundBlock,
    ) -> Result<Option<FoundBlockInfo>> {
        let want = want.into_param();
        let out = self
            .client
            .find_ancestor_by_height(block.to_byte_array().to_vec(), height, want.clone())
            .await?;
        match (out.result, out.ancestor) {
            (true, Some(found)) => {
                FoundBlockInfo::decode("Chain.findAncestorByHeight", &want, &found).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `isInMempool`.
    pub async fn is_in_mempool(&self, txid: Txid) -> Result<bool> {
        self.client
            .is_in_mempool(txid.to_byte_array().to_vec())
            .await
    }

    /// `broadcastTransaction`: `Ok(Err(reason))` when the node refused the transaction
    /// (Core's reject text, e.g. `bad-txns-inputs-missingorspent`). `max_tx_fee` in
    /// satoshis, 0 for no cap.
    pub async fn broadcast(
        &self,
        tx: &Transaction,
        max_tx_fee: i64,
    ) -> Result<std::result::Result<(), String>> {
        let out = self
            .client
            .broadcast_transaction(serialize(tx), max_tx_fee, true)
            .await?;
        Ok(if out.result {
            Ok(())
        } else {
            Err(out.error.to_string())
        })
    }

    /// Starts following the chain: registers for notifications, then (with `locator`)
    /// catches up from the last of its blocks on the active chain. See [`Follower`].
    pub async fn follow(&self, locator: Option<&[BlockHash]>) -> Result<Follower> {
        Follower::start(self.clone(), locator).await
    }
}

/// Follows a node's chain like a wallet: registered for `ChainNotifications` first (so
/// nothing is missed), it yields [`Notification::CatchUp`] for each active-chain block
/// after the locator's fork point up to the tip at start, then every notification in the
/// order the node sent it (a `blockConnected` for a block already yielded while catching
/// up is skipped).
///
/// [`next`](Follower::next) fails with [`Error::Disconnected`] when the node goes away: a
/// liveness call (`getHeight`) runs whenever no notification came for
/// [`Follower::HEARTBEAT`].
pub struct Follower {
    chain: Chain,
    handler: Option<s::handler::HandlerClient>,
    received: mpsc::Receiver<Received>,
    /// Next height to read while catching up, and the tip at start.
    catch_up: std::ops::RangeInclusive<i32>,
    caught_up: HashSet<BlockHash>,
    /// The last block yielded as connected (or the parent of one disconnected).
    last_block: Option<BlockHash>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("catch_up", &self.catch_up)
            .field("last_block", &self.last_block)
            .finish()
    }
}

impl Follower {
    /// How long without a notification before a liveness call checks the node.
    pub const HEARTBEAT: Duration = Duration::from_secs(1);

    async fn start(chain: Chain, locator: Option<&[BlockHash]>) -> Result<Follower> {
        let (tx, received) = mpsc::channel(RECEIVED_CAPACITY);
        let handler = chain
            .client
            .handle_notifications(s::ChainNotificationsServer::into_cap(Sink(tx)))
            .await?
            .ok_or_else(|| Error::Malformed("Chain.handleNotifications returned null".into()))?;
        let tip = chain.height().await?.unwrap_or(-1);
        let first = match locator {
            Some(locator) => chain.find_locator_fork(locator).await?.unwrap_or(-1) + 1,
            None => tip + 1,
        };
        let last_block = match locator {
            None if tip >= 0 => Some(chain.block_hash(tip).await?),
            _ => None,
        };
        Ok(Follower {
            chain,
            handler: Some(handler),
            received,
            catch_up: first..=tip,
            caught_up: HashSet::new(),
            last_block,
        })
    }

    /// The next notification. Errors: [`Error::Disconnected`] when the node is gone,
    /// [`Error::Malformed`] for a notification that does not decode (following may go on).
    pub async fn next(&mut self) -> Result<Notification> {
        if let Some(height) = self.catch_up.next() {
            let hash = self.chain.block_hash(height).await?;
            let want = FoundBlock::new().hash().height().max_time().data();
            let found = self.chain.find_block(hash, want).await?;
            let block = found.and_then(BlockInfo::from_found).ok_or_else(|| {
                Error::Malformed(format!(
                    "Chain.findBlock: block {hash} at height {height} was not found while catching up"
                ))
            })?;
            self.caught_up.insert(block.hash);
            self.last_block = Some(block.hash);
            return Ok(Notification::CatchUp(block));
        }
        loop {
            let received = tokio::select! {
                received = self.received.recv() => received.ok_or_else(|| {
                    Error::Disconnected("the node released the notifications object".into())
                })?,
                _ = tokio::time::sleep(Self::HEARTBEAT) => {
                    self.chain.client.get_height().timeout(Duration::from_secs(30)).await?;
                    continue;
                }
            };
            let notification = match received {
                Received::Connected(role, info) => {
                    let block = BlockInfo::decode("ChainNotifications.blockConnected", &info)?;
                    if self.caught_up.remove(&block.hash) {
                        continue;
                    }
                    self.last_block = Some(block.hash);
                    Notification::BlockConnected { role, block }
                }
                Received::Disconnected(info) => {
                    let block = BlockInfo::decode("ChainNotifications.blockDisconnected", &info)?;
                    self.last_block = block.prev_hash;
                    Notification::BlockDisconnected(block)
                }
                Received::Tip => Notification::UpdatedBlockTip,
                Received::Added(tx) => Notification::TransactionAdded(decode_tx(
                    "ChainNotifications.transactionAddedToMempool",
                    &tx,
                )?),
                Received::Removed(tx, reason) => Notification::TransactionRemoved {
                    tx: decode_tx("ChainNotifications.transactionRemovedFromMempool", &tx)?,
                    reason: RemovalReason::from_i32(reason),
                },
                Received::Flushed(role, locator) => Notification::ChainStateFlushed {
                    role,
                    locator: decode_locator_hashes(
                        "ChainNotifications.chainStateFlushed",
                        &locator,
                    )?,
                },
            };
            return Ok(notification);
        }
    }

    /// The locator of the last block yielded (to resume from with
    /// [`Chain::follow`]); the node's tip locator when nothing was yielded yet or that
    /// block left the active chain.
    pub async fn locator(&self) -> Result<Vec<BlockHash>> {
        if let Some(last) = self.last_block {
            let locator = self.chain.active_chain_locator(last).await?;
            if !locator.is_empty() {
                return Ok(locator);
            }
        }
        self.chain.tip_locator().await
    }

    /// `Handler.disconnect`: the node stops calling; then releases the handler.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(handler) = self.handler.take() {
            handler.disconnect().await?;
        }
        Ok(())
    }
}
