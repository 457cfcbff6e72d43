//! Following the chain like a wallet (issue 11): catch-up from a stale locator, blocks in
//! order, a reorg seen as disconnects then connects, a broadcast transaction notified
//! back, `Handler` disconnect/release stopping the calls, `requestMempoolTransactions`,
//! and the node going away mid-notification.
//!
//! The same scenario runs against the demo node and, when `MPHUB_BITCOIN_NODE_CHAIN`
//! names binaries built from Bitcoin Core PR #29409, against each real node (driven over
//! JSON-RPC: `generatetodescriptor`, `invalidateblock`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Transaction, Txid};
use common::{node_binaries, rpc, start};
use mphub::{CallContext, Result};
use mphub_bitcoin::chain::{BlockInfo, Chain, Follower, Notification};
use mphub_bitcoin::client::Node;
use mphub_bitcoin::{pr29409, CoreVersion};
use mphub_chain::{miner, DemoChain, RegtestNode};

/// What changes the chain under the follower.
trait Driver {
    /// Mines `n` blocks (mempool included).
    async fn mine(&self, n: u64);
    /// Replaces the top `depth` blocks by `blocks` new ones.
    async fn reorg(&self, depth: u64, blocks: u64);
}

impl Driver for DemoChain {
    async fn mine(&self, n: u64) {
        let chain = self.clone();
        tokio::task::spawn_blocking(move || chain.mine_blocks(n as usize).unwrap())
            .await
            .unwrap();
    }
    async fn reorg(&self, depth: u64, blocks: u64) {
        let chain = self.clone();
        tokio::task::spawn_blocking(move || chain.reorg(depth as usize, blocks as usize).unwrap())
            .await
            .unwrap();
    }
}

impl Driver for RegtestNode {
    async fn mine(&self, n: u64) {
        let url = self.rpc().url().to_string();
        let cookie = self.datadir().join("regtest").join(".cookie");
        let mined = tokio::task::spawn_blocking(move || {
            mphub_chain::NodeRpc::from_cookie(&url, cookie)?.generatetodescriptor(n, "raw(51)")
        })
        .await
        .unwrap();
        if let Err(e) = mined {
            panic!("mining {n} blocks: {e}\n{}", self.log_tail(30));
        }
    }
    async fn reorg(&self, depth: u64, blocks: u64) {
        let height = rpc(self, |r| r.getblockcount()).await;
        let first_gone = height + 1 - depth;
        let hash = rpc(self, move |r| r.getblockhash(first_gone)).await;
        rpc(self, move |r| {
            r.call("invalidateblock", serde_json::json!([hash]))
                .map(|_| ())
        })
        .await;
        // Paid to OP_2 (anyone can spend it too), so the new blocks differ from the
        // invalidated ones even when mined in the same second.
        rpc(self, move |r| r.generatetodescriptor(blocks, "raw(52)")).await;
    }
}

/// The next notification that is not `chainStateFlushed` (Core flushes when it likes).
async fn next(follower: &mut Follower) -> Notification {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), follower.next())
            .await
            .expect("no notification within 30 s")
            .expect("following failed");
        if !matches!(n, Notification::ChainStateFlushed { .. }) {
            return n;
        }
    }
}

fn connected(n: &Notification) -> &BlockInfo {
    match n {
        Notification::BlockConnected { role, block } => {
            assert_eq!(*role, 0, "the normal chainstate");
            block
        }
        other => panic!("expected blockConnected, got {other:?}"),
    }
}

/// A transaction spending the OP_TRUE coinbase of the block at `height`.
async fn spend_coinbase(chain: &Chain, height: i32, fee: i64) -> Transaction {
    let hash = chain.block_hash(height).await.unwrap();
    let found = chain
        .find_block(hash, mphub_bitcoin::chain::FoundBlock::new().data())
        .await
        .unwrap()
        .unwrap();
    let coinbase = &found.block.unwrap().txdata[0];
    let bytes = miner::spend_op_true(
        coinbase.compute_txid().to_byte_array(),
        0,
        coinbase.output[0].value.to_sat() as i64,
        fee,
    )
    .unwrap();
    deserialize(&bytes).unwrap()
}

/// The scenario both legs run; `chain` must be at height 0.
async fn follow_scenario(chain: &Chain, driver: &impl Driver) {
    driver.mine(103).await;
    // A wallet last saw block 98: it catches up 99..=103 in order.
    let stale = chain
        .active_chain_locator(chain.block_hash(98).await.unwrap())
        .await
        .unwrap();
    let mut follower = chain.follow(Some(&stale)).await.unwrap();
    let mut prev = chain.block_hash(98).await.unwrap();
    for height in 99..=103 {
        let Notification::CatchUp(block) = next(&mut follower).await else {
            panic!("expected the catch-up of block {height}")
        };
        assert_eq!(block.height, height);
        assert_eq!(block.hash, chain.block_hash(height).await.unwrap());
        assert_eq!(block.prev_hash, Some(prev), "catch-up out of order");
        assert_eq!(block.block.as_ref().unwrap().block_hash(), block.hash);
        prev = block.hash;
    }
    println!("  caught up 99..=103 from a locator at 98");

    // New blocks: connected in order, each followed by a tip update.
    driver.mine(2).await;
    for height in [104, 105] {
        let n = next(&mut follower).await;
        let block = connected(&n);
        assert_eq!((block.height, block.prev_hash), (height, Some(prev)));
        assert_eq!(block.block.as_ref().unwrap().block_hash(), block.hash);
        assert!(block.chain_time_max > 0);
        prev = block.hash;
        assert_eq!(next(&mut follower).await, Notification::UpdatedBlockTip);
    }
    println!("  blocks 104, 105 connected in order, each then updatedBlockTip");

    // A broadcast transaction comes back as transactionAddedToMempool; a bad one is
    // refused with Core's reason.
    let tx = spend_coinbase(chain, 1, 1000).await;
    chain.broadcast(&tx, 0).await.unwrap().unwrap();
    assert!(chain.is_in_mempool(tx.compute_txid()).await.unwrap());
    match next(&mut follower).await {
        Notification::TransactionAdded(added) => {
            assert_eq!(added.compute_txid(), tx.compute_txid())
        }
        other => panic!("expected transactionAddedToMempool, got {other:?}"),
    }
    let mut unknown = tx.clone();
    unknown.input[0].previous_output.txid = Txid::from_byte_array([7; 32]);
    let reason = chain.broadcast(&unknown, 0).await.unwrap().unwrap_err();
    assert!(
        reason.contains("bad-txns-inputs-missingorspent"),
        "{reason}"
    );
    println!(
        "  broadcast {} notified back; a spend of nothing refused: {reason}",
        tx.compute_txid()
    );

    // Mined: the block carries it.
    driver.mine(1).await;
    let n = next(&mut follower).await;
    let block106 = connected(&n).clone();
    assert_eq!(block106.height, 106);
    assert!(block106
        .block
        .as_ref()
        .unwrap()
        .txdata
        .iter()
        .any(|t| t.compute_txid() == tx.compute_txid()));
    assert_eq!(next(&mut follower).await, Notification::UpdatedBlockTip);

    // A reorg of one block into two: block 106 disconnected, its transaction back in the
    // mempool, then the new 106 and 107 connected, the tip updated last.
    driver.reorg(1, 2).await;
    let n = next(&mut follower).await;
    let Notification::BlockDisconnected(gone) = n else {
        panic!("expected blockDisconnected first, got {n:?}")
    };
    assert_eq!(gone.hash, block106.hash);
    let mut readded = false;
    let mut heights = Vec::new();
    let mut last = None;
    while heights.len() < 2 {
        match next(&mut follower).await {
            Notification::TransactionAdded(t) if t.compute_txid() == tx.compute_txid() => {
                assert!(heights.is_empty(), "re-added after a new block connected");
                readded = true;
            }
            Notification::UpdatedBlockTip => {}
            n => {
                let b = connected(&n);
                heights.push(b.height);
                last = Some(b.hash);
            }
        }
    }
    assert!(
        readded,
        "the disconnected block's transaction was not re-added"
    );
    assert_eq!(heights, [106, 107]);
    assert_eq!(next(&mut follower).await, Notification::UpdatedBlockTip);
    let tip = chain.block_hash(107).await.unwrap();
    assert_eq!(last, Some(tip));
    assert_ne!(chain.block_hash(106).await.unwrap(), block106.hash);
    println!("  reorg: disconnected 106, tx re-added, connected 106' and 107, tip updated");

    // The follower's locator resumes at the new tip.
    assert_eq!(follower.locator().await.unwrap().first(), Some(&tip));
    follower.stop().await.unwrap();
}

/// A `ChainNotifications` that only counts calls.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl pr29409::ChainNotificationsServer for Counter {
    async fn block_connected(
        &self,
        _cx: &CallContext,
        _role: u32,
        _block: Option<pr29409::BlockInfo>,
    ) -> Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn updated_block_tip(&self, _cx: &CallContext) -> Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn transaction_added_to_mempool(&self, _cx: &CallContext, _tx: Vec<u8>) -> Result<()> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn chain_state_flushed(
        &self,
        _cx: &CallContext,
        _role: u32,
        _locator: Vec<u8>,
    ) -> Result<()> {
        Ok(())
    }
}

async fn wait_for(count: &AtomicUsize, at_least: usize) {
    for _ in 0..300 {
        if count.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "only {} notification calls, expected {at_least}",
        count.load(Ordering::SeqCst)
    );
}

/// `Handler.disconnect` and releasing the Handler both stop the calls.
async fn handler_scenario(chain: &Chain, driver: &impl Driver) {
    for release in [false, true] {
        let counter = Counter::default();
        let handler = chain
            .client()
            .handle_notifications(pr29409::ChainNotificationsServer::into_cap(counter.clone()))
            .await
            .unwrap()
            .unwrap();
        driver.mine(1).await;
        wait_for(&counter.0, 2).await; // blockConnected + updatedBlockTip
        if release {
            drop(handler);
        } else {
            handler.disconnect().await.unwrap();
        }
        // Let the release reach the node, then change the tip and wait until the node
        // has delivered its notifications (to whoever still listens).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let old_tip = chain
            .block_hash(chain.height().await.unwrap().unwrap())
            .await
            .unwrap();
        driver.mine(1).await;
        chain
            .client()
            .wait_for_notifications_if_tip_changed(old_tip.to_byte_array().to_vec())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            2,
            "calls after the handler was {}",
            if release { "released" } else { "disconnected" }
        );
        println!(
            "  no calls after Handler.{}",
            if release {
                "destroy (released)"
            } else {
                "disconnect"
            }
        );
    }
    // requestMempoolTransactions: one call per mempool transaction.
    let tx = spend_coinbase(chain, 2, 1000).await;
    chain.broadcast(&tx, 0).await.unwrap().unwrap();
    let counter = Counter::default();
    chain
        .client()
        .request_mempool_transactions(pr29409::ChainNotificationsServer::into_cap(counter.clone()))
        .await
        .unwrap();
    assert_eq!(counter.1.load(Ordering::SeqCst), 1);
    println!("  requestMempoolTransactions: 1 call for 1 mempool transaction");
}

async fn connect_chain(rt: &mphub::Runtime, socket: &std::path::Path) -> Chain {
    let node = Node::connect(rt, socket, None).await.unwrap();
    assert_eq!(node.detect_version().await.unwrap(), CoreVersion::Pr29409);
    Chain::new(node.chain().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_demo_node() {
    let f = start(CoreVersion::Pr29409);
    let chain = connect_chain(&f.rt, &f.path).await;
    follow_scenario(&chain, &f.chain).await;
    handler_scenario(&chain, &f.chain).await;
}

/// Set in the child process of [`a_follower_reports_the_node_killed_mid_notification`]:
/// the socket its demo node serves on.
const CHILD_SOCKET_VAR: &str = "MPHUB_TEST_DEMO_NODE_SOCKET";

/// Not a test on its own: the demo node run as a separate process (this test binary
/// re-executed), so the test can kill it with SIGKILL like a crashed node. It adds a
/// mempool transaction every 2 ms, so notifications are flowing when it dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_follower_reports_the_node_killed_mid_notification"]
async fn demo_node_child_process() {
    let Some(path) = std::env::var_os(CHILD_SOCKET_VAR) else {
        return;
    };
    let rt = mphub::Runtime::new().unwrap();
    let node = mphub_bitcoin::demo::DemoNode::new(DemoChain::new(), CoreVersion::Pr29409);
    let _listener = node.listen(&rt, &path).unwrap();
    let _feeder = node.start_mempool_feeder(Duration::from_millis(2));
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reports_the_node_killed_mid_notification() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("node.sock");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "demo_node_child_process"])
        .env(CHILD_SOCKET_VAR, &socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rt = mphub::Runtime::new().unwrap();
    let chain = connect_chain(&rt, &socket).await;
    let mut follower = chain.follow(None).await.unwrap();
    for _ in 0..5 {
        assert!(matches!(
            next(&mut follower).await,
            Notification::TransactionAdded(_)
        ));
    }
    child.kill().unwrap(); // SIGKILL, mid-stream
    child.wait().unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Err(e) = follower.next().await {
                return e;
            }
        }
    })
    .await
    .expect("the follower hung after the node went away");
    assert!(end.is_disconnected(), "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_pr29409_node() {
    let Some(binaries) = node_binaries("MPHUB_BITCOIN_NODE_CHAIN") else {
        println!("SKIPPED: follow leg: MPHUB_BITCOIN_NODE_CHAIN is not set (bitcoin-node built from Bitcoin Core PR #29409)");
        return;
    };
    for binary in binaries {
        let dir = tempfile::tempdir().unwrap();
        let datadir = dir.path().join("data");
        let node = tokio::task::spawn_blocking({
            let binary = binary.clone();
            move || RegtestNode::start(&binary, &datadir)
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        println!("real node {} ({})", binary.display(), node.version());
        let rt = mphub::Runtime::new().unwrap();
        let chain = connect_chain(&rt, node.socket()).await;
        follow_scenario(&chain, &node).await;
        handler_scenario(&chain, &node).await;

        // Killed mid-notification: the follower reports it, no hang.
        let mut follower = chain.follow(None).await.unwrap();
        let pid = node.pid().unwrap();
        let miner = tokio::spawn({
            let url = node.rpc().url().to_string();
            let cookie = node.datadir().join("regtest").join(".cookie");
            async move {
                let rpc = mphub_chain::NodeRpc::from_cookie(&url, cookie).unwrap();
                tokio::task::spawn_blocking(move || {
                    for _ in 0..50 {
                        if rpc.generatetodescriptor(1, "raw(51)").is_err() {
                            break;
                        }
                    }
                })
                .await
            }
        });
        assert!(matches!(
            next(&mut follower).await,
            Notification::BlockConnected { .. }
        ));
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Err(e) = follower.next().await {
                    return e;
                }
            }
        })
        .await
        .expect("the follower hung after the node was killed");
        assert!(end.is_disconnected(), "{end}");
        let _ = miner.await;
        println!("  node killed mid-notification: follower ended with: {end}");
        println!("PASSED: follow leg against {}", binary.display());
        tokio::task::spawn_blocking(move || drop(node))
            .await
            .unwrap();
    }
}
