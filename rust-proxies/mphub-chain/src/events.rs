//! Chain events in the order Bitcoin Core's validation interface signals them, and
//! subscriptions that deliver them one by one (what `interfaces::Chain::Notifications`
//! receives).
//!
//! A [`DemoChain`](crate::DemoChain) emits every event to every subscription while it holds
//! its state lock, so each subscription sees events in the order the chain changed. Each
//! subscription has its own bounded queue ([`SUBSCRIPTION_CAPACITY`] events): a subscriber
//! that falls that far behind is dropped (its [`Subscription::lagged`] turns true) instead
//! of letting the queue grow without bound or slowing the chain and other subscribers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::BlockFacts;

/// Events a subscription may queue before it is dropped as lagging.
pub const SUBSCRIPTION_CAPACITY: usize = 10_000;

/// Why a transaction left the mempool: Core's `MemPoolRemovalReason`, with the same
/// numbers (`EXPIRY` = 0 … `REPLACED` = 5) as `transactionRemovedFromMempool`'s `reason`.
///
/// Core does not signal `Block` removals to chain clients: they learn of them from the
/// block itself (`blockConnected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum RemovalReason {
    /// Expired from the mempool.
    Expiry = 0,
    /// Removed to keep the mempool within its size limit.
    SizeLimit = 1,
    /// Removed after a reorg (its inputs vanished or became immature).
    Reorg = 2,
    /// Included in a block.
    Block = 3,
    /// Conflicts with a transaction in a block.
    Conflict = 4,
    /// Replaced by a transaction paying more (RBF).
    Replaced = 5,
}

impl RemovalReason {
    /// The reason for Core's number, `None` for an unknown one.
    pub fn from_i32(n: i32) -> Option<Self> {
        Some(match n {
            0 => Self::Expiry,
            1 => Self::SizeLimit,
            2 => Self::Reorg,
            3 => Self::Block,
            4 => Self::Conflict,
            5 => Self::Replaced,
            _ => return None,
        })
    }

    /// Core's name for the reason (`RemovalReasonToString`): `expiry`, `sizelimit`,
    /// `reorg`, `block`, `conflict`, `replaced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expiry => "expiry",
            Self::SizeLimit => "sizelimit",
            Self::Reorg => "reorg",
            Self::Block => "block",
            Self::Conflict => "conflict",
            Self::Replaced => "replaced",
        }
    }
}

/// One change of the chain or mempool, as Core's `CValidationInterface` signals it.
///
/// Order per change (Core's `ActivateBestChain`): a new block is `BlockConnected` then
/// `UpdatedBlockTip`; a reorg is `BlockDisconnected` for each block from the old tip down,
/// the mempool changes it causes (transactions of disconnected blocks re-added,
/// transactions whose inputs vanished removed with [`RemovalReason::Reorg`]), then
/// `BlockConnected` for each new block from the fork up, then one `UpdatedBlockTip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// A block became part of the active chain.
    BlockConnected(BlockFacts),
    /// A block left the active chain (a reorg).
    BlockDisconnected(BlockFacts),
    /// The tip changed (after the blocks of one change were connected).
    UpdatedBlockTip,
    /// A transaction (serialized with witness) entered the mempool.
    TransactionAddedToMempool(Vec<u8>),
    /// A transaction (serialized with witness) left the mempool for `reason`.
    TransactionRemovedFromMempool {
        /// The transaction, serialized with witness.
        tx: Vec<u8>,
        /// Why it left.
        reason: RemovalReason,
    },
}

/// The chain's end of a subscription.
#[derive(Debug)]
pub(crate) struct Subscriber {
    events: mpsc::Sender<(u64, ChainEvent)>,
    delivered: watch::Receiver<u64>,
    lagged: Arc<AtomicBool>,
}

impl Subscriber {
    /// Queues `event` numbered `seq`; false when the subscription is gone or was dropped
    /// for lagging (the caller forgets this subscriber).
    pub(crate) fn send(&self, seq: u64, event: ChainEvent) -> bool {
        match self.events.try_send((seq, event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::SeqCst);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// A receiver of the number of the last event the subscriber handled.
    pub(crate) fn delivered(&self) -> watch::Receiver<u64> {
        self.delivered.clone()
    }
}

/// The subscriber's end: receives [`ChainEvent`]s in order and reports which it handled
/// (so [`DemoChain::wait_for_notifications`](crate::DemoChain::wait_for_notifications),
/// Core's `SyncWithValidationInterfaceQueue`, can wait for them).
///
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    events: mpsc::Receiver<(u64, ChainEvent)>,
    delivered: watch::Sender<u64>,
    lagged: Arc<AtomicBool>,
    /// Number of the event returned last by [`recv`](Subscription::recv).
    current: u64,
}

impl Subscription {
    /// A new pair; events after `seq` will be queued.
    pub(crate) fn new(seq: u64) -> (Subscriber, Subscription) {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        let (delivered_tx, delivered_rx) = watch::channel(seq);
        let lagged = Arc::new(AtomicBool::new(false));
        (
            Subscriber {
                events: tx,
                delivered: delivered_rx,
                lagged: lagged.clone(),
            },
            Subscription {
                events: rx,
                delivered: delivered_tx,
                lagged,
                current: seq,
            },
        )
    }

    /// The next event, once the previous one has been handled (calling `recv` again says
    /// so). `None` when the chain is gone or dropped this subscription for lagging.
    pub async fn recv(&mut self) -> Option<ChainEvent> {
        self.delivered.send_replace(self.current);
        let (seq, event) = self.events.recv().await?;
        self.current = seq;
        Some(event)
    }

    /// Marks the event returned last as handled without waiting for the next one.
    pub fn handled(&self) {
        self.delivered.send_replace(self.current);
    }

    /// Whether the chain dropped this subscription because it fell
    /// [`SUBSCRIPTION_CAPACITY`] events behind.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::SeqCst)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Nothing more will be handled: let waiters stop waiting for this subscriber.
        self.delivered.send_replace(u64::MAX);
    }
}
