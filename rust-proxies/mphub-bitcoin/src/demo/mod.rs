//! A built-in demo node: Core's `Init`, `Echo`, `Mining`, `BlockTemplate` (and master's
//! `Rpc`) implemented in Rust on top of [`mphub_chain::DemoChain`], for both schema versions,
//! and in the PR #29409 schema `Init` with `Chain` (what a wallet uses; see the `chain`
//! submodule for what it answers).
//!
//! It follows the node-side behaviour described in `bitcoin-core-ipc.md` §3, §5 and §7:
//!
//! * `Init.makeMiningOld2` (@2) fails with "Old mining interface (@2) not supported. Please
//!   update your client!"; on master `BlockTemplate.submitSolutionOld7` (@7) fails with
//!   "Old submitSolution (@7) not supported. Please update your client!". Methods a schema
//!   does not have (e.g. `Mining.getTransactionsByTxID` on the v31 node) answer
//!   `UNIMPLEMENTED`, exactly like a real node of that version.
//! * `Mining.getTip` returns the tip hash in internal byte order; `waitTipChanged` takes a
//!   `Float64` timeout in milliseconds, returns the current tip on timeout, and returns a
//!   `BlockRef` with an **empty hash** (height 0, which is what a reader sees for Core's unset
//!   `std::optional` result) when `Mining.interrupt` is called. As in Core, the interrupt is
//!   per `Mining` object (`MinerImpl::m_interrupt_mining`), and an interrupt with no wait
//!   pending is kept for the next wait.
//! * `createNewBlock` validates the options with Core's messages (e.g. "block_reserved_weight
//!   (0) is lower than minimum safety value of (2000)"); `cooldown` is ignored (the demo is
//!   never in IBD in a way that matters). The other `BlockTemplate` methods map to the fields
//!   of [`mphub_chain::Template`].
//! * master's `Rpc.executeRpc` answers the JSON-RPC methods in [`RPC_METHODS`] (among them
//!   `sendrawtransaction`, into the chain's mempool) with Core's key order, codes and texts;
//!   see the `rpc` submodule.
//!
//! [`MempoolFeeder`] adds a synthetic transaction to the chain's mempool periodically so that
//! templates (and `waitNext` with a fee threshold) change over time.
//!
//! ```no_run
//! use mphub_bitcoin::{demo::DemoNode, CoreVersion};
//! let rt = mphub::Runtime::new().unwrap();
//! let node = DemoNode::new(mphub_chain::DemoChain::new(), CoreVersion::Master);
//! let _feeder = node.start_mempool_feeder(std::time::Duration::from_secs(5));
//! let _listener = node.listen(&rt, "/tmp/demo/node.sock").unwrap();
//! // ... serve until shutdown; dropping the listener removes the socket file.
//! ```

use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mphub::{CallContext, Cap, Error, Result, Runtime, Text};
use mphub_chain::{duration_from_millis_f64, miner, ChainError, CreateOptions, DemoChain};
use tokio::sync::Notify;

use crate::CoreVersion;

/// The `BlockTemplate` methods every schema version declares alike (header, block, fees,
/// sigops, coinbase merkle path, `waitNext`), for an `impl s::BlockTemplateServer for
/// Template` where `Template` has `chain: DemoChain` and `tmpl: mphub_chain::Template`.
macro_rules! template_methods {
    () => {
        async fn get_block_header(&self, _cx: &CallContext) -> Result<Vec<u8>> {
            Ok(self.tmpl.header.to_vec())
        }

        async fn get_block(&self, _cx: &CallContext) -> Result<Vec<u8>> {
            Ok(self.tmpl.block.clone())
        }

        async fn get_tx_fees(&self, _cx: &CallContext) -> Result<Vec<i64>> {
            Ok(self.tmpl.tx_fees.clone())
        }

        async fn get_tx_sigops(&self, _cx: &CallContext) -> Result<Vec<i64>> {
            Ok(self.tmpl.tx_sigops.clone())
        }

        async fn get_coinbase_merkle_path(&self, _cx: &CallContext) -> Result<Vec<Vec<u8>>> {
            Ok(self
                .tmpl
                .coinbase_merkle_path
                .iter()
                .map(|h| h.to_vec())
                .collect())
        }

        async fn wait_next(
            &self,
            _cx: &CallContext,
            options: Option<s::BlockWaitOptions>,
        ) -> Result<Cap<s::BlockTemplateClient>> {
            let options = options.unwrap_or_default();
            let next = self
                .chain
                .wait_next(
                    &self.tmpl,
                    duration_from_millis_f64(options.timeout),
                    options.fee_threshold,
                )
                .await;
            Ok(match next {
                Some(tmpl) => s::BlockTemplateServer::into_cap(Template {
                    chain: self.chain.clone(),
                    tmpl,
                }),
                None => Cap::null(),
            })
        }
    };
}

mod chain;
mod control;
mod old_mining;
mod rpc;
pub use control::{control_socket_path, CONTROL_SOCKET_SUFFIX};
pub use rpc::{execute_rpc, METHODS as RPC_METHODS};

/// Error text of `Init.makeMiningOld2` (v31+), as Core words it.
pub const OLD_MINING_ERROR: &str =
    "Old mining interface (@2) not supported. Please update your client!";
/// Error text of master's `BlockTemplate.submitSolutionOld7`, as Core words it.
pub const OLD_SUBMIT_SOLUTION_ERROR: &str =
    "Old submitSolution (@7) not supported. Please update your client!";

/// The demo node: a [`DemoChain`] served with the schema of one Core version.
#[derive(Clone, Debug)]
pub struct DemoNode {
    chain: DemoChain,
    version: CoreVersion,
}

impl DemoNode {
    /// A node serving `chain` with the `version` schema.
    ///
    /// For [`CoreVersion::Pr29409`] the chain's relay fee rates are set to that branch's
    /// (29.99) defaults, 1000 sat/kvB; v31 and master use 100 (Core v30+).
    pub fn new(chain: DemoChain, version: CoreVersion) -> Self {
        if version == CoreVersion::Pr29409 {
            chain.set_relay_fees(
                mphub_chain::demo::PRE_V30_RELAY_FEE_PER_KVB,
                mphub_chain::demo::PRE_V30_RELAY_FEE_PER_KVB,
            );
        }
        DemoNode { chain, version }
    }

    /// The chain behind the node (shared: changes are visible to all clients).
    pub fn chain(&self) -> &DemoChain {
        &self.chain
    }

    /// The schema version served.
    pub fn version(&self) -> CoreVersion {
        self.version
    }

    /// The v31 `Init` capability (whatever [`DemoNode::version`] says).
    pub fn v31_init(&self) -> Cap<crate::v31::InitClient> {
        use crate::v31::InitServer;
        v31_node::Init {
            chain: self.chain.clone(),
        }
        .into_cap()
    }

    /// The master `Init` capability (whatever [`DemoNode::version`] says).
    pub fn master_init(&self) -> Cap<crate::master::InitClient> {
        use crate::master::InitServer;
        master_node::Init {
            chain: self.chain.clone(),
        }
        .into_cap()
    }

    /// The PR #29409 `Init` capability (`makeEcho`, `makeChain`; whatever
    /// [`DemoNode::version`] says).
    pub fn pr29409_init(&self) -> Cap<crate::pr29409::InitClient> {
        use crate::pr29409::InitServer;
        chain::Init {
            chain: self.chain.clone(),
        }
        .into_cap()
    }

    /// Listens on a unix socket at `path` (mode 0600; a stale socket is replaced) and serves
    /// the node's `Init` to every connection. Dropping the listener stops accepting and
    /// removes the socket file.
    pub fn listen(&self, rt: &Runtime, path: impl AsRef<Path>) -> Result<mphub::Listener> {
        match self.version {
            CoreVersion::V31 => mphub::listen(rt, path, self.v31_init()),
            CoreVersion::Master => mphub::listen(rt, path, self.master_init()),
            CoreVersion::Pr29409 => mphub::listen(rt, path, self.pr29409_init()),
        }
    }

    /// mphub's `DemoControl` capability over this node's chain (mine, reorg, mempool).
    pub fn control(&self) -> Cap<crate::demo_control::DemoControlClient> {
        use crate::demo_control::DemoControlServer;
        control::Control {
            chain: self.chain.clone(),
        }
        .into_cap()
    }

    /// Listens for `DemoControl` clients on `path` (by convention
    /// [`control_socket_path`] of the node socket), like [`DemoNode::listen`].
    pub fn listen_control(&self, rt: &Runtime, path: impl AsRef<Path>) -> Result<mphub::Listener> {
        mphub::listen(rt, path, self.control())
    }

    /// Serves the node on an inherited socket fd (Core's `-ipcfd N` convention) until the
    /// peer disconnects.
    pub async fn serve_fd(&self, rt: &Runtime, fd: std::os::fd::OwnedFd) -> Result<()> {
        match self.version {
            CoreVersion::V31 => mphub::serve_fd(rt, fd, self.v31_init()).await,
            CoreVersion::Master => mphub::serve_fd(rt, fd, self.master_init()).await,
            CoreVersion::Pr29409 => mphub::serve_fd(rt, fd, self.pr29409_init()).await,
        }
    }

    /// Starts a [`MempoolFeeder`] on this node's chain.
    pub fn start_mempool_feeder(&self, interval: Duration) -> MempoolFeeder {
        MempoolFeeder::start(self.chain.clone(), interval)
    }
}

/// A background thread adding one synthetic transaction to a [`DemoChain`]'s mempool every
/// `interval`, with fees between 1 000 and 10 000 sat. Stops when dropped.
pub struct MempoolFeeder {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MempoolFeeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MempoolFeeder")
    }
}

impl MempoolFeeder {
    /// Starts feeding `chain`.
    pub fn start(chain: DemoChain, interval: Duration) -> Self {
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mphub-demo-mempool".into())
            .spawn(move || {
                let mut n: u64 = 0;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(interval)
                {
                    let fee = 1_000 + (n.wrapping_mul(7_919) % 9_001) as i64;
                    n += 1;
                    match chain.add_mempool_tx(fee) {
                        Ok(txid) => tracing::debug!(
                            target: "mphub::demo",
                            "mempool: added tx {} paying {fee} sat",
                            miner::hash_to_rpc_hex(txid)
                        ),
                        Err(e) => tracing::warn!(target: "mphub::demo", "mempool: {e}"),
                    }
                }
            })
            .ok();
        MempoolFeeder {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for MempoolFeeder {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Version-independent helpers.

fn chain_error(e: ChainError) -> Error {
    Error::failed(e.to_string())
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        Error::failed(format!(
            "{what} must be 32 bytes (internal byte order), got {}",
            bytes.len()
        ))
    })
}

/// `createNewBlock` as the node of `version` checks its options: v31 nodes (v30.99) word
/// the lower bound differently and take a `blockReservedWeight` above the block weight limit
/// (leaving no room for transactions); master refuses it.
fn create_template(
    chain: &DemoChain,
    version: CoreVersion,
    mut options: CreateOptions,
) -> Result<mphub_chain::Template> {
    if version == CoreVersion::V31 {
        let weight = options.block_reserved_weight;
        if weight < mphub_chain::demo::MINIMUM_BLOCK_RESERVED_WEIGHT {
            return Err(Error::failed(format!(
                "block_reserved_weight ({weight}) must be at least {} weight units",
                mphub_chain::demo::MINIMUM_BLOCK_RESERVED_WEIGHT
            )));
        }
        options.block_reserved_weight = weight.min(mphub_chain::demo::MAX_BLOCK_WEIGHT);
    }
    chain.create_template(options).map_err(chain_error)
}

/// Per-`Mining` interrupt flag (Core's `m_interrupt_mining`).
#[derive(Default)]
struct Interrupt {
    flag: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    fn raise(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

/// `waitTipChanged` with Core's per-object interrupt: `None` when interrupted.
async fn wait_tip(
    chain: &DemoChain,
    interrupt: &Interrupt,
    current_tip: &[u8],
    timeout_ms: f64,
) -> Result<Option<mphub_chain::BlockRef>> {
    let current = hash32(current_tip, "currentTip")?;
    let mut notified = pin!(interrupt.notify.notified());
    notified.as_mut().enable();
    if interrupt.flag.swap(false, Ordering::SeqCst) {
        return Ok(None);
    }
    tokio::select! {
        tip = chain.wait_tip_changed(current, duration_from_millis_f64(timeout_ms)) => {
            Ok(if tip.is_null() { None } else { Some(tip) })
        }
        _ = notified => {
            interrupt.flag.store(false, Ordering::SeqCst);
            Ok(None)
        }
    }
}

fn txs_by_id(chain: &DemoChain, ids: &[Vec<u8>], by_wtxid: bool) -> Vec<Vec<u8>> {
    // An id that is not 32 bytes cannot be in the mempool: answer "not found" (empty Data).
    let parsed: Vec<Option<[u8; 32]>> = ids.iter().map(|i| i.as_slice().try_into().ok()).collect();
    let wanted: Vec<[u8; 32]> = parsed.iter().map(|p| p.unwrap_or([0; 32])).collect();
    let found = if by_wtxid {
        chain.get_transactions_by_wtxid(&wanted)
    } else {
        chain.get_transactions_by_txid(&wanted)
    };
    found
        .into_iter()
        .zip(parsed)
        .map(|(tx, p)| if p.is_some() { tx } else { Vec::new() })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Server implementations, generated for both schema modules by one macro. The parts that
// differ between versions are passed in as extra trait items.

macro_rules! demo_servers {
    (
        init_extra = { $($init_extra:tt)* },
        mining_extra = { $($mining_extra:tt)* },
        template_extra = { $($template_extra:tt)* }
    ) => {
        /// `Init`: the bootstrap interface.
        pub(crate) struct Init {
            pub(crate) chain: DemoChain,
        }

        impl s::InitServer for Init {
            async fn make_echo(&self, _cx: &CallContext) -> Result<Cap<s::EchoClient>> {
                Ok(s::EchoServer::into_cap(Echo))
            }

            async fn make_mining_old2(&self, _cx: &CallContext) -> Result<()> {
                Err(Error::failed(OLD_MINING_ERROR))
            }

            async fn make_mining(&self, _cx: &CallContext) -> Result<Cap<s::MiningClient>> {
                Ok(s::MiningServer::into_cap(Mining {
                    chain: self.chain.clone(),
                    interrupt: Arc::new(Interrupt::default()),
                }))
            }

            $($init_extra)*
        }

        /// `Echo`: returns its input.
        pub(crate) struct Echo;

        impl s::EchoServer for Echo {
            async fn echo(&self, _cx: &CallContext, echo: Text) -> Result<Text> {
                Ok(echo)
            }
        }

        /// `Mining` (Core's `MinerImpl`).
        pub(crate) struct Mining {
            chain: DemoChain,
            interrupt: Arc<Interrupt>,
        }

        fn block_ref(b: mphub_chain::BlockRef) -> s::BlockRef {
            s::BlockRef {
                hash: b.hash.to_vec(),
                height: b.height,
            }
        }

        impl s::MiningServer for Mining {
            async fn is_test_chain(&self, _cx: &CallContext) -> Result<bool> {
                Ok(self.chain.is_test_chain())
            }

            async fn is_initial_block_download(&self, _cx: &CallContext) -> Result<bool> {
                Ok(self.chain.is_initial_block_download())
            }

            async fn get_tip(&self, _cx: &CallContext) -> Result<Option<s::BlockRef>> {
                Ok(Some(block_ref(self.chain.tip())))
            }

            async fn wait_tip_changed(
                &self,
                _cx: &CallContext,
                current_tip: Vec<u8>,
                timeout: f64,
            ) -> Result<Option<s::BlockRef>> {
                // Interrupted: Core returns `std::nullopt`, a null result on the wire.
                Ok(wait_tip(&self.chain, &self.interrupt, &current_tip, timeout)
                    .await?
                    .map(block_ref))
            }

            async fn create_new_block(
                &self,
                _cx: &CallContext,
                options: Option<s::BlockCreateOptions>,
                _cooldown: bool,
            ) -> Result<Cap<s::BlockTemplateClient>> {
                // A null struct reads as its schema defaults, as in Core.
                let options = options.unwrap_or_default();
                let tmpl = create_template(
                    &self.chain,
                    SCHEMA_VERSION,
                    CreateOptions {
                        use_mempool: options.use_mempool,
                        block_reserved_weight: options.block_reserved_weight,
                        coinbase_output_max_additional_sigops: options
                            .coinbase_output_max_additional_sigops,
                    },
                )?;
                Ok(s::BlockTemplateServer::into_cap(Template {
                    chain: self.chain.clone(),
                    tmpl,
                }))
            }

            async fn check_block(
                &self,
                cx: &CallContext,
                block: Vec<u8>,
                options: Option<s::BlockCheckOptions>,
            ) -> Result<s::MiningCheckBlockOutput> {
                let options = options.unwrap_or_default();
                // Parsing and hashing grow with the block: off the event loop.
                let chain = self.chain.clone();
                let r = cx
                    .spawn_blocking(move || {
                        chain.check_block(&block, options.check_pow, options.check_merkle_root)
                    })
                    .await?
                    .map_err(chain_error)?;
                Ok(s::MiningCheckBlockOutput {
                    reason: r.reason.into(),
                    debug: r.debug.into(),
                    result: r.accepted,
                })
            }

            async fn interrupt(&self, _cx: &CallContext) -> Result<()> {
                self.interrupt.raise();
                Ok(())
            }

            $($mining_extra)*
        }

        /// `BlockTemplate` (Core's `BlockTemplateImpl`).
        pub(crate) struct Template {
            chain: DemoChain,
            tmpl: mphub_chain::Template,
        }

        impl s::BlockTemplateServer for Template {
            async fn get_coinbase_tx(&self, _cx: &CallContext) -> Result<Option<s::CoinbaseTx>> {
                let c = &self.tmpl.coinbase;
                Ok(Some(s::CoinbaseTx {
                    version: c.version,
                    sequence: c.sequence,
                    script_sig_prefix: c.script_sig_prefix.clone(),
                    witness: c.witness.map(|w| w.to_vec()).unwrap_or_default(),
                    block_reward_remaining: c.block_reward_remaining,
                    required_outputs: c.required_outputs.clone(),
                    lock_time: c.lock_time,
                }))
            }

            template_methods!();

            async fn interrupt_wait(&self, _cx: &CallContext) -> Result<()> {
                self.tmpl.interrupt_wait();
                Ok(())
            }

            $($template_extra)*
        }
    };
}

/// The v31 schema servers.
mod v31_node {
    use super::*;
    use crate::v31 as s;

    const SCHEMA_VERSION: CoreVersion = CoreVersion::V31;

    demo_servers! {
        init_extra = {},
        mining_extra = {},
        template_extra = {
            async fn submit_solution(
                &self,
                _cx: &CallContext,
                version: u32,
                timestamp: u32,
                nonce: u32,
                coinbase: Vec<u8>,
            ) -> Result<bool> {
                let r = self
                    .chain
                    .submit_solution(&self.tmpl, version, timestamp, nonce, &coinbase)
                    .map_err(chain_error)?;
                // A v31 node answers true for a block it already has (Core's
                // ProcessNewBlock accepts it again); master reports "duplicate".
                Ok(r.accepted || r.reason == "duplicate")
            }
        }
    }
}

/// The master schema servers.
mod master_node {
    use super::*;
    use crate::master as s;

    const SCHEMA_VERSION: CoreVersion = CoreVersion::Master;

    /// `Rpc`: JSON-RPC over IPC.
    pub(crate) struct Rpc {
        chain: DemoChain,
    }

    impl s::RpcServer for Rpc {
        async fn execute_rpc(
            &self,
            cx: &CallContext,
            request: Text,
            _uri: Text,
            _user: Text,
        ) -> Result<Text> {
            // JSON work grows with the request: off the event loop.
            let chain = self.chain.clone();
            cx.spawn_blocking(move || execute_rpc(&chain, &request.to_string_lossy()).into())
                .await
        }
    }

    demo_servers! {
        init_extra = {
            async fn make_rpc(&self, _cx: &CallContext) -> Result<Cap<s::RpcClient>> {
                Ok(s::RpcServer::into_cap(Rpc { chain: self.chain.clone() }))
            }
        },
        mining_extra = {
            async fn submit_block(
                &self,
                cx: &CallContext,
                block: Vec<u8>,
            ) -> Result<s::MiningSubmitBlockOutput> {
                let chain = self.chain.clone();
                let r = cx
                    .spawn_blocking(move || chain.submit_block(&block))
                    .await?
                    .map_err(chain_error)?;
                Ok(s::MiningSubmitBlockOutput {
                    reason: r.reason.into(),
                    debug: r.debug.into(),
                    result: r.accepted,
                })
            }

            async fn get_transactions_by_tx_id(
                &self,
                cx: &CallContext,
                txids: Vec<Vec<u8>>,
            ) -> Result<Vec<Vec<u8>>> {
                let chain = self.chain.clone();
                cx.spawn_blocking(move || txs_by_id(&chain, &txids, false)).await
            }

            async fn get_transactions_by_witness_id(
                &self,
                cx: &CallContext,
                wtxids: Vec<Vec<u8>>,
            ) -> Result<Vec<Vec<u8>>> {
                let chain = self.chain.clone();
                cx.spawn_blocking(move || txs_by_id(&chain, &wtxids, true)).await
            }
        },
        template_extra = {
            async fn submit_solution_old7(
                &self,
                _cx: &CallContext,
                _version: u32,
                _timestamp: u32,
                _nonce: u32,
                _coinbase: Vec<u8>,
            ) -> Result<bool> {
                Err(Error::failed(OLD_SUBMIT_SOLUTION_ERROR))
            }

            async fn submit_solution(
                &self,
                _cx: &CallContext,
                version: u32,
                timestamp: u32,
                nonce: u32,
                coinbase: Vec<u8>,
            ) -> Result<s::BlockTemplateSubmitSolutionOutput> {
                let r = self
                    .chain
                    .submit_solution(&self.tmpl, version, timestamp, nonce, &coinbase)
                    .map_err(chain_error)?;
                Ok(s::BlockTemplateSubmitSolutionOutput {
                    reason: r.reason.into(),
                    debug: r.debug.into(),
                    result: r.accepted,
                })
            }
        }
    }
}
