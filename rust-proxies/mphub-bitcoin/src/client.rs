//! A version-independent client facade over the [`v31`] and
//! [`master`] proxies.
//!
//! [`Node`] wraps the node's `Init` and hands out [`Mining`] and [`Template`] handles that
//! call the right schema for the node: for the methods that are identical in both versions
//! the calls are the same; `BlockTemplate.submitSolution` goes to @7 on v31 and @10 on
//! master. Results use the plain types of [`mphub_chain`] (`BlockRef` with a 32-byte
//! internal-order hash, [`CoinbaseTemplate`], [`SubmitResult`]).
//!
//! # Detecting the version (`auto`)
//!
//! With no version given, the first call that needs one ([`Node::mining`]) detects it:
//! `Init.makeMining` (@3 in both schemas), then master's `Mining.getTransactionsByTxID`
//! (@8) with an empty list. A master node answers with an empty list; a v31 node, which
//! does not have @8, answers `UNIMPLEMENTED` (Cap'n Proto's "Method not implemented"). Any
//! other error is returned as is. A pre-v31 node fails earlier: its `Init` has no @3.

use std::path::Path;
use std::sync::{Arc, Mutex};

use mphub::{Error, ProxyClient, Result, Runtime, Text};
use mphub_chain::{BlockRef, CoinbaseTemplate, CreateOptions, SubmitResult};

use crate::{master, v31, CoreVersion};

/// Runs `$body` with `$c` bound to the version-specific client and `$m` to its schema module.
macro_rules! both {
    ($inner:expr, ($c:ident, $m:ident) => $body:expr) => {
        match $inner {
            Versioned::V31($c) => {
                #[allow(unused_imports)]
                use crate::v31 as $m;
                $body
            }
            Versioned::Master($c) => {
                #[allow(unused_imports)]
                use crate::master as $m;
                $body
            }
        }
    };
}

#[derive(Clone)]
enum Versioned<A, B> {
    V31(A),
    Master(B),
}

/// Re-types a proxy for the other schema module (same interface ID, same object).
fn cast<A: ProxyClient, B: ProxyClient>(a: &A) -> B {
    B::from_handle(a.handle().clone())
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| Error::Malformed(format!("{what} is {} bytes, expected 32", bytes.len())))
}

/// A connection to a Bitcoin Core node (or anything serving Core's `Init`).
#[derive(Clone)]
pub struct Node {
    init: master::InitClient,
    version: Arc<Mutex<Option<CoreVersion>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node(version: {:?})", self.version())
    }
}

impl Node {
    /// Connects to the unix socket at `path` (Core's `-ipcbind` socket). `version: None`
    /// detects the schema on first use (see the module docs).
    pub async fn connect(
        rt: &Runtime,
        path: impl AsRef<Path>,
        version: Option<CoreVersion>,
    ) -> Result<Node> {
        Node::connect_with(rt, path, version, mphub::ConnectOptions::default()).await
    }

    /// [`Node::connect`] with explicit connect and call timeouts.
    pub async fn connect_with(
        rt: &Runtime,
        path: impl AsRef<Path>,
        version: Option<CoreVersion>,
        options: mphub::ConnectOptions,
    ) -> Result<Node> {
        let init: master::InitClient = mphub::connect_with(rt, path, options).await?;
        Ok(Node::from_init(init, version))
    }

    /// Wraps an already connected `Init` (e.g. from [`mphub::spawn`]).
    pub fn from_init(init: master::InitClient, version: Option<CoreVersion>) -> Node {
        Node {
            init,
            version: Arc::new(Mutex::new(version)),
        }
    }

    /// The schema version in use: the one given, or the detected one (`None` until detected).
    pub fn version(&self) -> Option<CoreVersion> {
        *self.version.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `Init` proxy (master schema; `v31::InitClient::from_handle` re-types it).
    pub fn init(&self) -> &master::InitClient {
        &self.init
    }

    /// `Init.makeEcho` then `Echo.echo(text)` (same in every version).
    pub async fn echo(&self, text: impl Into<Text>) -> Result<Text> {
        let echo = self
            .init
            .make_echo()
            .await?
            .ok_or_else(|| Error::Malformed("Init.makeEcho returned a null Echo".into()))?;
        echo.echo(text).await
    }

    /// The node's schema version: the one given to the constructor, or detected once and
    /// remembered.
    ///
    /// Detection (all three share `Init`'s interface ID): `Init @3` is `makeMining` on v31
    /// and master and `makeChain` on PR #29409. On the object @3 returns, master answers
    /// `Mining.getTransactionsByTxID` (@8, absent in v31); v31 answers
    /// `Mining.isTestChain`; a `Chain` answers neither (`Unimplemented`: another interface
    /// ID), so the node is PR #29409. Errors other than `Unimplemented` are returned.
    pub async fn detect_version(&self) -> Result<CoreVersion> {
        Ok(self.probe().await?.0)
    }

    /// The version, and the object `Init @3` returned if it had to be detected (the
    /// Mining of a v31 or master node, reused by [`Node::mining`]).
    async fn probe(&self) -> Result<(CoreVersion, Option<master::MiningClient>)> {
        if let Some(v) = self.version() {
            return Ok((v, None));
        }
        let at3 = self.init.make_mining().await?.ok_or_else(|| {
            Error::Disconnected("Init @3 returned null: the node is shutting down".into())
        })?;
        let v = match at3.get_transactions_by_tx_id(Vec::new()).await {
            Ok(_) => CoreVersion::Master,
            Err(Error::Unimplemented(_)) => {
                let v31: v31::MiningClient = cast(&at3);
                match v31.is_test_chain().await {
                    Ok(_) => CoreVersion::V31,
                    Err(Error::Unimplemented(_)) => CoreVersion::Pr29409,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(target: "ipc", "detected Bitcoin Core schema {v}");
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        Ok((v, Some(at3)))
    }

    /// `Init.makeMining`, detecting the schema version first if none was given.
    ///
    /// A null result (the node is shutting down) is an error. On a PR #29409 node (whose
    /// Mining is the interface from before v31) this fails with [`Error::Usage`]: use
    /// [`crate::pr29409::MiningClient`] through [`Node::init`] there.
    pub async fn mining(&self) -> Result<Mining> {
        let (version, at3) = self.probe().await?;
        if version == CoreVersion::Pr29409 {
            return Err(Error::Usage(
                "this node speaks the PR #29409 schema, whose Mining (Init.makeMining @2) is the \
                 interface from before v31; mphub's Mining facade needs a v31 or master node"
                    .into(),
            ));
        }
        let master = match at3 {
            Some(mining) => mining,
            None => self.init.make_mining().await?.ok_or_else(|| {
                Error::Disconnected(
                    "Init.makeMining returned null: the node is shutting down".into(),
                )
            })?,
        };
        Ok(Mining {
            inner: match version {
                CoreVersion::V31 => Versioned::V31(cast(&master)),
                _ => Versioned::Master(master),
            },
        })
    }

    /// `Init.makeChain` (@3 on a PR #29409 node): the `Chain` a wallet uses. Detects the
    /// version first; on a v31 or master node (which have no Chain) it fails with
    /// [`Error::Usage`].
    pub async fn chain(&self) -> Result<crate::pr29409::ChainClient> {
        let version = self.detect_version().await?;
        if version != CoreVersion::Pr29409 {
            return Err(Error::Usage(format!(
                "Init.makeChain needs a node built from Bitcoin Core PR #29409; this node speaks \
                 the {version} schema, which has no Chain interface"
            )));
        }
        let init: crate::pr29409::InitClient = cast(&self.init);
        init.make_chain().await?.ok_or_else(|| {
            Error::Disconnected("Init.makeChain returned null: the node is shutting down".into())
        })
    }

    /// `Init.makeRpc` (master only): JSON-RPC over IPC. On a v31 node this fails with
    /// [`Error::Unimplemented`].
    pub async fn rpc(&self) -> Result<master::RpcClient> {
        if let Some(v @ (CoreVersion::V31 | CoreVersion::Pr29409)) = self.version() {
            return Err(Error::Usage(format!(
                "Init.makeRpc (JSON-RPC over IPC) needs a Bitcoin Core master node; the {v} schema does not have it"
            )));
        }
        self.init.make_rpc().await?.ok_or_else(|| {
            Error::Disconnected("Init.makeRpc returned null: the node is shutting down".into())
        })
    }

    /// `Init.makeMiningOld2` (@2): always fails on v31+ nodes; for tests and diagnostics.
    pub async fn make_mining_old2(&self) -> Result<()> {
        self.init.make_mining_old2().await
    }
}

/// A `Mining` object of either schema version.
#[derive(Clone)]
pub struct Mining {
    inner: Versioned<v31::MiningClient, master::MiningClient>,
}

impl std::fmt::Debug for Mining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mining({})", self.version())
    }
}

impl Mining {
    /// The schema version used for this object.
    pub fn version(&self) -> CoreVersion {
        match self.inner {
            Versioned::V31(_) => CoreVersion::V31,
            Versioned::Master(_) => CoreVersion::Master,
        }
    }

    /// The master-schema proxy, if this is a master node.
    pub fn as_master(&self) -> Option<&master::MiningClient> {
        match &self.inner {
            Versioned::Master(c) => Some(c),
            Versioned::V31(_) => None,
        }
    }

    /// The v31-schema proxy, if this is a v31 node.
    pub fn as_v31(&self) -> Option<&v31::MiningClient> {
        match &self.inner {
            Versioned::V31(c) => Some(c),
            Versioned::Master(_) => None,
        }
    }

    /// `Mining.isTestChain`.
    pub async fn is_test_chain(&self) -> Result<bool> {
        both!(&self.inner, (c, _m) => c.is_test_chain().await)
    }

    /// `Mining.isInitialBlockDownload`.
    pub async fn is_initial_block_download(&self) -> Result<bool> {
        both!(&self.inner, (c, _m) => c.is_initial_block_download().await)
    }

    /// `Mining.getTip`: `None` when the node has no tip yet.
    pub async fn tip(&self) -> Result<Option<BlockRef>> {
        let tip = both!(&self.inner, (c, _m) => c.get_tip().await?.map(|b| (b.hash, b.height)));
        tip.map(|(hash, height)| {
            Ok(BlockRef {
                hash: hash32(&hash, "getTip hash")?,
                height,
            })
        })
        .transpose()
    }

    /// `Mining.waitTipChanged(current_tip, timeout_ms)`: the tip once it differs from
    /// `current_tip` (internal byte order), or the current tip after the timeout.
    /// `None` means the wait was interrupted (`Mining.interrupt`) or the node is shutting
    /// down: Core returns a null result (`std::nullopt`); an empty hash is read the same way.
    pub async fn wait_tip_changed(
        &self,
        current_tip: [u8; 32],
        timeout_ms: f64,
    ) -> Result<Option<BlockRef>> {
        let tip = both!(&self.inner, (c, _m) => {
            c.wait_tip_changed(current_tip.to_vec(), timeout_ms)
                .await?
                .map(|b| (b.hash, b.height))
        });
        let Some((hash, height)) = tip.filter(|(hash, _)| !hash.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(BlockRef {
            hash: hash32(&hash, "waitTipChanged hash")?,
            height,
        }))
    }

    /// `Mining.createNewBlock(options, cooldown)`. `None` means the node is shutting down
    /// or the wait was interrupted.
    pub async fn create_new_block(
        &self,
        options: CreateOptions,
        cooldown: bool,
    ) -> Result<Option<Template>> {
        Ok(both!(&self.inner, (c, m) => {
            let opts = m::BlockCreateOptions {
                use_mempool: options.use_mempool,
                block_reserved_weight: options.block_reserved_weight,
                coinbase_output_max_additional_sigops: options.coinbase_output_max_additional_sigops,
            };
            c.create_new_block(opts, cooldown).await?.map(|t| Template { inner: versioned_template(t) })
        }))
    }

    /// `Mining.checkBlock(block, {checkMerkleRoot, checkPow})`.
    pub async fn check_block(
        &self,
        block: Vec<u8>,
        check_merkle_root: bool,
        check_pow: bool,
    ) -> Result<SubmitResult> {
        both!(&self.inner, (c, m) => {
            let r = c.check_block(block, m::BlockCheckOptions { check_merkle_root, check_pow }).await?;
            Ok(submit_result(r.result, &r.reason, &r.debug))
        })
    }

    /// `Mining.interrupt`: makes a pending (or the next) `waitTipChanged`/`createNewBlock`
    /// on this same `Mining` object return early. No context: runs on the node's event loop.
    pub async fn interrupt(&self) -> Result<()> {
        both!(&self.inner, (c, _m) => c.interrupt().await)
    }

    /// `Mining.submitBlock` (master only; [`Error::Usage`] on v31).
    pub async fn submit_block(&self, block: Vec<u8>) -> Result<SubmitResult> {
        let c = self.master_only("Mining.submitBlock")?;
        let r = c.submit_block(block).await?;
        Ok(submit_result(r.result, &r.reason, &r.debug))
    }

    /// `Mining.getTransactionsByTxID` (master only): one entry per txid (internal order),
    /// `None` when not in the mempool.
    pub async fn get_transactions_by_txid(
        &self,
        txids: &[[u8; 32]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let c = self.master_only("Mining.getTransactionsByTxID")?;
        let r = c
            .get_transactions_by_tx_id(txids.iter().map(|t| t.to_vec()).collect())
            .await?;
        Ok(r.into_iter()
            .map(|t| (!t.is_empty()).then_some(t))
            .collect())
    }

    /// `Mining.getTransactionsByWitnessID` (master only), like
    /// [`Mining::get_transactions_by_txid`].
    pub async fn get_transactions_by_wtxid(
        &self,
        wtxids: &[[u8; 32]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let c = self.master_only("Mining.getTransactionsByWitnessID")?;
        let r = c
            .get_transactions_by_witness_id(wtxids.iter().map(|t| t.to_vec()).collect())
            .await?;
        Ok(r.into_iter()
            .map(|t| (!t.is_empty()).then_some(t))
            .collect())
    }

    fn master_only(&self, what: &str) -> Result<&master::MiningClient> {
        self.as_master().ok_or_else(|| {
            Error::Usage(format!(
                "{what} needs a Bitcoin Core master node (not in the v31 schema)"
            ))
        })
    }
}

fn submit_result(accepted: bool, reason: &Text, debug: &Text) -> SubmitResult {
    SubmitResult {
        accepted,
        reason: reason.to_string_lossy().into_owned(),
        debug: debug.to_string_lossy().into_owned(),
    }
}

/// Wraps a generated template client of either module.
trait IntoVersioned {
    fn into_versioned(self) -> Versioned<v31::BlockTemplateClient, master::BlockTemplateClient>;
}

impl IntoVersioned for v31::BlockTemplateClient {
    fn into_versioned(self) -> Versioned<v31::BlockTemplateClient, master::BlockTemplateClient> {
        Versioned::V31(self)
    }
}

impl IntoVersioned for master::BlockTemplateClient {
    fn into_versioned(self) -> Versioned<v31::BlockTemplateClient, master::BlockTemplateClient> {
        Versioned::Master(self)
    }
}

fn versioned_template(
    t: impl IntoVersioned,
) -> Versioned<v31::BlockTemplateClient, master::BlockTemplateClient> {
    t.into_versioned()
}

/// A `BlockTemplate` of either schema version. Dropping the last clone destroys it on the
/// node (`BlockTemplate.destroy`).
#[derive(Clone)]
pub struct Template {
    inner: Versioned<v31::BlockTemplateClient, master::BlockTemplateClient>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template({})", self.version())
    }
}

impl Template {
    /// The schema version used for this object.
    pub fn version(&self) -> CoreVersion {
        match self.inner {
            Versioned::V31(_) => CoreVersion::V31,
            Versioned::Master(_) => CoreVersion::Master,
        }
    }

    /// `getBlockHeader`: the 80-byte header.
    pub async fn header(&self) -> Result<Vec<u8>> {
        both!(&self.inner, (c, _m) => c.get_block_header().await)
    }

    /// `getBlock`: the full block (segwit serialization) with a dummy coinbase.
    pub async fn block(&self) -> Result<Vec<u8>> {
        both!(&self.inner, (c, _m) => c.get_block().await)
    }

    /// `getTxFees`: satoshis per transaction, coinbase excluded.
    pub async fn tx_fees(&self) -> Result<Vec<i64>> {
        both!(&self.inner, (c, _m) => c.get_tx_fees().await)
    }

    /// `getTxSigops`: sigop cost per transaction, coinbase excluded.
    pub async fn tx_sigops(&self) -> Result<Vec<i64>> {
        both!(&self.inner, (c, _m) => c.get_tx_sigops().await)
    }

    /// `getCoinbaseTx`: what the miner needs to build the coinbase.
    pub async fn coinbase_tx(&self) -> Result<CoinbaseTemplate> {
        both!(&self.inner, (c, _m) => {
            let t = c
                .get_coinbase_tx()
                .await?
                .ok_or_else(|| Error::Malformed("getCoinbaseTx returned a null struct".into()))?;
            Ok(CoinbaseTemplate {
                version: t.version,
                sequence: t.sequence,
                script_sig_prefix: t.script_sig_prefix,
                witness: if t.witness.is_empty() {
                    None
                } else {
                    Some(hash32(&t.witness, "CoinbaseTx.witness")?)
                },
                block_reward_remaining: t.block_reward_remaining,
                required_outputs: t.required_outputs,
                lock_time: t.lock_time,
            })
        })
    }

    /// `getCoinbaseMerklePath`: 32-byte hashes (internal order), deepest first.
    pub async fn coinbase_merkle_path(&self) -> Result<Vec<[u8; 32]>> {
        let path = both!(&self.inner, (c, _m) => c.get_coinbase_merkle_path().await?);
        path.iter()
            .map(|h| hash32(h, "merkle path entry"))
            .collect()
    }

    /// `submitSolution`: v31 @7 (`reason`/`debug` are empty there; a rejection reads as
    /// `"rejected"`), master @10.
    pub async fn submit_solution(
        &self,
        version: u32,
        timestamp: u32,
        nonce: u32,
        coinbase: Vec<u8>,
    ) -> Result<SubmitResult> {
        match &self.inner {
            Versioned::V31(c) => {
                let ok = c
                    .submit_solution(version, timestamp, nonce, coinbase)
                    .await?;
                Ok(if ok {
                    SubmitResult::ok()
                } else {
                    SubmitResult::rejected("rejected", "the v31 schema reports no reason")
                })
            }
            Versioned::Master(c) => {
                let r = c
                    .submit_solution(version, timestamp, nonce, coinbase)
                    .await?;
                Ok(submit_result(r.result, &r.reason, &r.debug))
            }
        }
    }

    /// `waitNext({timeout, feeThreshold})`: a new template when the tip changes or fees
    /// rise by `fee_threshold`; `None` on timeout or `interruptWait`.
    pub async fn wait_next(&self, timeout_ms: f64, fee_threshold: i64) -> Result<Option<Template>> {
        Ok(both!(&self.inner, (c, m) => {
            let opts = m::BlockWaitOptions { timeout: timeout_ms, fee_threshold };
            c.wait_next(opts).await?.map(|t| Template { inner: versioned_template(t) })
        }))
    }

    /// `interruptWait`: makes a pending `waitNext` return `None`. No context.
    pub async fn interrupt_wait(&self) -> Result<()> {
        both!(&self.inner, (c, _m) => c.interrupt_wait().await)
    }
}
