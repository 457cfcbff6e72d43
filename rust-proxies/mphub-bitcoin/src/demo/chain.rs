//! The demo node in the PR #29409 schema: `Init` with `makeChain` (@3), and `Chain` over
//! the [`DemoChain`] with Core's semantics (`node/interfaces.cpp`, `ChainImpl`).
//!
//! Answered: the chain queries (`getHeight`, `getBlockHash`, `haveBlockOnDisk`,
//! `getTipLocator`, `getActiveChainLocator`, `findLocatorFork`, `findBlock`,
//! `findFirstBlockWithTimeAndHeight`, `findAncestorByHeight`, `findAncestorByHash`,
//! `findCommonAncestor`, `hasBlocks`, `guessVerificationProgress`), the mempool
//! (`isInMempool`, `hasDescendantsInMempool`, `isRBFOptIn`, `broadcastTransaction`,
//! `getTransactionAncestry`, `getPackageLimits`), fees (`estimateSmartFee`,
//! `estimateMaxBlocks`, `mempoolMinFee`, `relayMinFee`, `relayIncrementalFee`,
//! `relayDustFee`), block filters (none), settings (none set), the node state
//! (`isInitialBlockDownload`, `isReadyToBroadcast`, `shutdownRequested`, `havePruned`,
//! `getPruneHeight`, `hasAssumedValidChain`), the UI calls (`initMessage`,
//! `initWarning`, `initError`, `showProgress`, which only log) and notifications
//! (`handleNotifications`, `requestMempoolTransactions`,
//! `waitForNotificationsIfTipChanged`). The rest (`findCoins`, bump fees,
//! `checkChainLimits`, RPC registration, writable settings) answer
//! "not supported by the demo node: Chain.<method>" (doc/design.md lists them).
//! `Init.makeMining` (@2) serves the Mining interface from before v31
//! (`old_mining.rs`), so miners and wallets share one demo node.

use mphub::{CallContext, Cap, Error, Result, Text};
use mphub_chain::demo::DUST_RELAY_FEE_PER_KVB;
use mphub_chain::{
    decode_locator, encode_locator, BlockFacts, ChainEvent, DemoChain, Subscription,
};
use tokio::sync::watch;

use crate::pr29409 as s;

/// `Init` of the PR #29409 schema.
pub(crate) struct Init {
    pub(crate) chain: DemoChain,
}

impl s::InitServer for Init {
    async fn make_echo(&self, _cx: &CallContext) -> Result<Cap<s::EchoClient>> {
        Ok(s::EchoServer::into_cap(Echo))
    }

    async fn make_mining(&self, _cx: &CallContext) -> Result<Cap<s::MiningClient>> {
        Ok(s::MiningServer::into_cap(super::old_mining::Mining {
            chain: self.chain.clone(),
        }))
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
        Ok(self
            .chain
            .has_descendants_in_mempool(&hash_arg("hasDescendantsInMempool", &txid)?))
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

    async fn guess_verification_progress(
        &self,
        _cx: &CallContext,
        block_hash: Vec<u8>,
    ) -> Result<f64> {
        // The demo chain is fully synced: every block it knows is verified.
        Ok(
            match self.height_of("guessVerificationProgress", &block_hash)? {
                Some(_) => 1.0,
                None => 0.0,
            },
        )
    }

    async fn has_block_filter_index(&self, _cx: &CallContext, _filter_type: u8) -> Result<bool> {
        Ok(false)
    }

    async fn block_filter_matches_any(
        &self,
        _cx: &CallContext,
        _filter_type: u8,
        _block_hash: Vec<u8>,
        _filter_set: Vec<Vec<u8>>,
    ) -> Result<Option<bool>> {
        // No filter index: Core answers "no result".
        Ok(None)
    }

    async fn is_rbf_opt_in(&self, _cx: &CallContext, tx: Vec<u8>) -> Result<i32> {
        let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&tx).map_err(|e| {
            Error::failed(format!("isRBFOptIn: the transaction does not decode: {e}"))
        })?;
        Ok(self.chain.rbf_state(&tx) as i32)
    }

    async fn broadcast_transaction(
        &self,
        _cx: &CallContext,
        tx: Vec<u8>,
        max_tx_fee: i64,
        _relay: bool,
    ) -> Result<s::ChainBroadcastTransactionOutput> {
        Ok(match self.chain.accept_transaction(&tx, max_tx_fee) {
            Ok(_) => s::ChainBroadcastTransactionOutput {
                error: Text::from(""),
                result: true,
            },
            Err(reject) => s::ChainBroadcastTransactionOutput {
                error: Text::from(reject.to_string()),
                result: false,
            },
        })
    }

    async fn get_transaction_ancestry(
        &self,
        _cx: &CallContext,
        txid: Vec<u8>,
    ) -> Result<s::ChainGetTransactionAncestryOutput> {
        let a = self
            .chain
            .transaction_ancestry(&hash_arg("getTransactionAncestry", &txid)?);
        Ok(s::ChainGetTransactionAncestryOutput {
            ancestors: a.ancestors,
            descendants: a.descendants,
            ancestorsize: a.ancestor_size,
            ancestorfees: a.ancestor_fees,
        })
    }

    async fn get_package_limits(
        &self,
        _cx: &CallContext,
    ) -> Result<s::ChainGetPackageLimitsOutput> {
        // Core's DEFAULT_ANCESTOR_LIMIT and DEFAULT_DESCENDANT_LIMIT.
        Ok(s::ChainGetPackageLimitsOutput {
            ancestors: 25,
            descendants: 25,
        })
    }

    async fn estimate_smart_fee(
        &self,
        _cx: &CallContext,
        num_blocks: i32,
        _conservative: bool,
        want_calc: bool,
    ) -> Result<s::ChainEstimateSmartFeeOutput> {
        // No fee history on the demo chain: Core's estimator answers a zero rate.
        Ok(s::ChainEstimateSmartFeeOutput {
            calc: want_calc.then(|| s::FeeCalculation {
                desired_target: num_blocks,
                // No fee history: Core answers returnedTarget 0 (observed on PR #29409).
                returned_target: 0,
                ..Default::default()
            }),
            result: fee_rate(0),
        })
    }

    async fn estimate_max_blocks(&self, _cx: &CallContext) -> Result<u32> {
        // Core's longest fee-estimate horizon (LONG_BLOCK_PERIODS * LONG_SCALE).
        Ok(1008)
    }

    async fn mempool_min_fee(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        // The demo mempool is never full, so its rolling minimum stays zero.
        Ok(fee_rate(0))
    }

    async fn relay_min_fee(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(fee_rate(self.chain.relay_fees().0))
    }

    async fn relay_incremental_fee(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(fee_rate(self.chain.relay_fees().1))
    }

    async fn relay_dust_fee(&self, _cx: &CallContext) -> Result<Vec<u8>> {
        Ok(fee_rate(DUST_RELAY_FEE_PER_KVB))
    }

    async fn get_setting(&self, _cx: &CallContext, _name: Text) -> Result<Text> {
        // No settings: Core's null UniValue, written as JSON.
        Ok(Text::from("null"))
    }

    async fn get_settings_list(&self, _cx: &CallContext, _name: Text) -> Result<Vec<Text>> {
        Ok(Vec::new())
    }

    async fn get_rw_setting(&self, _cx: &CallContext, _name: Text) -> Result<Text> {
        Ok(Text::from("null"))
    }

    async fn init_warning(
        &self,
        _cx: &CallContext,
        message: Option<s::common::BilingualStr>,
    ) -> Result<()> {
        let message = message.map(|m| m.original.to_string()).unwrap_or_default();
        tracing::warn!(target: "demo", "initWarning: {message}");
        Ok(())
    }

    async fn init_error(
        &self,
        _cx: &CallContext,
        message: Option<s::common::BilingualStr>,
    ) -> Result<()> {
        let message = message.map(|m| m.original.to_string()).unwrap_or_default();
        tracing::error!(target: "demo", "initError: {message}");
        Ok(())
    }

    async fn handle_notifications(
        &self,
        cx: &CallContext,
        notifications: Option<s::ChainNotificationsClient>,
    ) -> Result<Cap<s::handler::HandlerClient>> {
        Chain::handle_notifications(self, cx, notifications).await
    }

    async fn request_mempool_transactions(
        &self,
        _cx: &CallContext,
        notifications: Option<s::ChainNotificationsClient>,
    ) -> Result<()> {
        let notifications = notifications.ok_or_else(|| {
            Error::failed("requestMempoolTransactions: the notifications object is null")
        })?;
        for tx in self.chain.mempool_transactions() {
            notifications.transaction_added_to_mempool(tx).await?;
        }
        Ok(())
    }

    async fn wait_for_notifications_if_tip_changed(
        &self,
        _cx: &CallContext,
        old_tip: Vec<u8>,
    ) -> Result<()> {
        if self.chain.tip().hash[..] != old_tip[..] {
            self.chain.wait_for_notifications().await;
        }
        Ok(())
    }

    async fn find_coins(
        &self,
        _cx: &CallContext,
        _coins: Vec<s::common::Pair<Vec<u8>, Vec<u8>>>,
    ) -> Result<s::ChainFindCoinsOutput> {
        Err(not_supported("findCoins"))
    }

    async fn check_chain_limits(
        &self,
        _cx: &CallContext,
        _tx: Vec<u8>,
    ) -> Result<Option<s::common::ResultVoid>> {
        Err(not_supported("checkChainLimits"))
    }

    async fn calculate_individual_bump_fees(
        &self,
        _cx: &CallContext,
        _outpoints: Vec<Vec<u8>>,
        _target_feerate: Vec<u8>,
    ) -> Result<Vec<s::common::PairInt64<Vec<u8>>>> {
        Err(not_supported("calculateIndividualBumpFees"))
    }

    async fn calculate_combined_bump_fee(
        &self,
        _cx: &CallContext,
        _outpoints: Vec<Vec<u8>>,
        _target_feerate: Vec<u8>,
    ) -> Result<Option<i64>> {
        Err(not_supported("calculateCombinedBumpFee"))
    }

    async fn handle_rpc(
        &self,
        _cx: &CallContext,
        _command: Option<s::RPCCommand>,
    ) -> Result<Cap<s::handler::HandlerClient>> {
        Err(not_supported("handleRpc"))
    }

    async fn rpc_enable_deprecated(&self, _cx: &CallContext, _method: Text) -> Result<bool> {
        Err(not_supported("rpcEnableDeprecated"))
    }

    async fn rpc_run_later(
        &self,
        _cx: &CallContext,
        _name: Text,
        _fn: Option<s::RunLaterCallbackClient>,
        _seconds: i64,
    ) -> Result<()> {
        Err(not_supported("rpcRunLater"))
    }

    async fn update_rw_setting(
        &self,
        _cx: &CallContext,
        _name: Text,
        _update: Option<s::SettingsUpdateCallbackClient>,
    ) -> Result<bool> {
        Err(not_supported("updateRwSetting"))
    }

    async fn overwrite_rw_setting(
        &self,
        _cx: &CallContext,
        _name: Text,
        _value: Text,
        _action: i32,
    ) -> Result<bool> {
        Err(not_supported("overwriteRwSetting"))
    }

    async fn delete_rw_settings(
        &self,
        _cx: &CallContext,
        _name: Text,
        _action: i32,
    ) -> Result<bool> {
        Err(not_supported("deleteRwSettings"))
    }
}

/// The error of a Chain method the demo node does not serve.
fn not_supported(method: &str) -> Error {
    Error::failed(format!("not supported by the demo node: Chain.{method}"))
}

/// A serialized `CFeeRate` (its `nSatoshisPerK`, Int64 little-endian), as Core sends fee
/// rates over IPC.
fn fee_rate(sat_per_kvb: i64) -> Vec<u8> {
    sat_per_kvb.to_le_bytes().to_vec()
}

/// Core's `MakeBlockInfo` for a block of the demo chain: block file 0, role-independent.
fn block_info(facts: BlockFacts) -> s::BlockInfo {
    s::BlockInfo {
        hash: facts.hash.to_vec(),
        prev_hash: facts.prev_hash.to_vec(),
        height: facts.height,
        file_number: 0,
        data_pos: facts.data_pos,
        data: facts.data,
        undo_data: Vec::new(),
        chain_time_max: facts.max_time,
    }
}

/// `ChainstateRole::NORMAL`: the demo has one chainstate, never a background one.
const ROLE_NORMAL: u32 = 0;

/// Sends one event to the client's `ChainNotifications`.
async fn deliver(notifications: &s::ChainNotificationsClient, event: ChainEvent) -> Result<()> {
    match event {
        ChainEvent::BlockConnected(facts) => {
            notifications
                .block_connected(ROLE_NORMAL, block_info(facts))
                .await
        }
        ChainEvent::BlockDisconnected(facts) => {
            notifications.block_disconnected(block_info(facts)).await
        }
        ChainEvent::UpdatedBlockTip => notifications.updated_block_tip().await,
        ChainEvent::TransactionAddedToMempool(tx) => {
            notifications.transaction_added_to_mempool(tx).await
        }
        ChainEvent::TransactionRemovedFromMempool { tx, reason } => {
            notifications
                .transaction_removed_from_mempool(tx, reason as i32)
                .await
        }
    }
}

/// Calls the client's `ChainNotifications` for every event of `subscription`, one call at
/// a time and in order, until `stop` fires or is dropped (the Handler was disconnected or
/// released) or the client is gone. A call the client fails is logged and skipped, as
/// the other clients must not miss events because of it.
async fn notify_loop(
    notifications: s::ChainNotificationsClient,
    mut subscription: Subscription,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            event = subscription.recv() => match event {
                Some(event) => event,
                None => {
                    if subscription.lagged() {
                        tracing::warn!(target: "demo", "a ChainNotifications client fell behind by {} events: notifications to it stopped", mphub_chain::events::SUBSCRIPTION_CAPACITY);
                    }
                    break;
                }
            },
        };
        let result = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            result = deliver(&notifications, event) => result,
        };
        match result {
            Ok(()) => {}
            Err(e) if e.is_disconnected() => break,
            Err(e) => tracing::warn!(target: "demo", "ChainNotifications call failed: {e}"),
        }
    }
}

/// The `Handler` of `handleNotifications`: `disconnect`, or releasing it, stops the
/// notifications.
struct NotificationsHandler {
    stop: watch::Sender<bool>,
}

impl s::handler::HandlerServer for NotificationsHandler {
    async fn disconnect(&self, _cx: &CallContext) -> Result<()> {
        self.stop.send_replace(true);
        Ok(())
    }
}

impl Drop for NotificationsHandler {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Chain methods beyond the chain queries: mempool, fees, settings, notifications.
impl Chain {
    pub(crate) async fn handle_notifications(
        &self,
        cx: &CallContext,
        notifications: Option<s::ChainNotificationsClient>,
    ) -> Result<Cap<s::handler::HandlerClient>> {
        let notifications = notifications.ok_or_else(|| {
            Error::failed("handleNotifications: the notifications object is null")
        })?;
        let subscription = self.chain.subscribe();
        let (stop, stopped) = watch::channel(false);
        cx.spawn(notify_loop(notifications, subscription, stopped))?;
        Ok(s::handler::HandlerServer::into_cap(NotificationsHandler {
            stop,
        }))
    }
}
