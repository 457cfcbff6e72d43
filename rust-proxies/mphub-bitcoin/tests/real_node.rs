//! The real-node leg: mphub's Core client against a real `bitcoin-node`.
//!
//! `MPHUB_BITCOIN_NODE` names one or more `bitcoin-node` binaries built with IPC, separated by
//! `:` (e.g. a v31 build and a master build). For each, the test starts it on regtest with
//! `-ipcbind=unix:<tmp>/node.sock`, mines blocks over JSON-RPC and checks the mining workflow
//! over IPC. Without the variable it prints `SKIPPED: …` and passes.

mod common;

use common::{node_binaries, rpc};
use std::time::{Duration, Instant};

use mphub_bitcoin::client::{Mining, Node};
use mphub_bitcoin::CoreVersion;
use mphub_chain::miner::{self, hash_to_rpc_hex};
use mphub_chain::{CreateOptions, RegtestNode};

/// OP_TRUE: the payout script of the blocks mined in this test.
const PAYOUT_SCRIPT: [u8; 1] = [0x51];

#[tokio::test]
async fn mining_workflow_against_real_bitcoin_node() {
    let Some(binaries) = node_binaries("MPHUB_BITCOIN_NODE") else {
        println!(
            "SKIPPED: real-node leg: MPHUB_BITCOIN_NODE is not set (path(s) of bitcoin-node built with IPC, ':'-separated)"
        );
        return;
    };
    assert!(!binaries.is_empty(), "MPHUB_BITCOIN_NODE is set but empty");
    for binary in binaries {
        assert!(
            binary.is_file(),
            "MPHUB_BITCOIN_NODE entry {} is not a file",
            binary.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let started = tokio::task::spawn_blocking({
            let binary = binary.clone();
            let datadir = dir.path().join("data");
            move || RegtestNode::start(&binary, &datadir)
        })
        .await
        .unwrap();
        let node = started.unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        println!("real node {} ({})", binary.display(), node.version());
        match check_node(&node).await {
            Some(version) => println!(
                "PASSED: real-node leg against {} ({}, schema {version})",
                binary.display(),
                node.version()
            ),
            None => println!(
                "SKIPPED: {} speaks the PR #29409 schema: the mining leg is for v31 and master \
                 nodes (MPHUB_BITCOIN_NODE_CHAIN runs the Chain leg on it)",
                binary.display()
            ),
        }
        tokio::task::spawn_blocking(move || drop(node))
            .await
            .unwrap();
    }
}

/// The mining leg on one node; `None` (nothing checked) for a PR #29409 node.
async fn check_node(node: &RegtestNode) -> Option<CoreVersion> {
    let rt = mphub::Runtime::new().unwrap();
    let client = Node::connect(&rt, node.socket(), None).await.unwrap();
    if client.detect_version().await.unwrap() == CoreVersion::Pr29409 {
        return None;
    }

    // Echo, with bytes that are not UTF-8 and an embedded NUL.
    let text = mphub::Text::from_bytes(b"hello from mphub \x00\xff");
    assert_eq!(client.echo(text.clone()).await.unwrap(), text);

    // v31 rejects templates below height 16 (bad-cb-length); mine past that over RPC.
    let mined = rpc(node, |r| r.generatetodescriptor(101, "raw(51)")).await;
    assert_eq!(mined.len(), 101);

    let mining = client.mining().await.unwrap();
    let version = client.version().expect("version detected by Node::mining");
    println!("  detected schema: {version}");
    assert!(mining.is_test_chain().await.unwrap());

    // getTip is the RPC best block.
    let tip = mining.tip().await.unwrap().expect("a tip");
    let best = rpc(node, |r| r.getbestblockhash()).await;
    assert_eq!(hash_to_rpc_hex(tip.hash), best);
    assert_eq!(tip.height, 101);
    println!(
        "  getTip: height {} hash {best} (= getbestblockhash)",
        tip.height
    );

    // createNewBlock builds on the tip; getBlock carries the same header.
    let template = mining
        .create_new_block(CreateOptions::default(), false)
        .await
        .unwrap()
        .expect("a template");
    let header = template.header().await.unwrap();
    assert_eq!(header.len(), 80);
    assert_eq!(
        &header[4..36],
        &tip.hash[..],
        "template's prev hash is the tip"
    );
    let block = template.block().await.unwrap();
    assert!(block.len() > 80);
    assert_eq!(
        &block[..80],
        &header[..],
        "getBlock starts with getBlockHeader"
    );
    let coinbase = template.coinbase_tx().await.unwrap();
    // Regtest halves every 150 blocks, so height 102 still earns 50 BTC; no fees.
    assert_eq!(coinbase.block_reward_remaining, 50 * 100_000_000);
    println!(
        "  createNewBlock: header 80 bytes, block {} bytes",
        block.len()
    );

    // waitTipChanged times out with the unchanged tip.
    let started = Instant::now();
    let same = mining
        .wait_tip_changed(tip.hash, 200.0)
        .await
        .unwrap()
        .expect("a tip after the timeout");
    let waited = started.elapsed();
    assert_eq!(same.hash, tip.hash);
    assert!(
        waited >= Duration::from_millis(150),
        "returned after {waited:?}"
    );
    println!("  waitTipChanged(200 ms): unchanged after {waited:?}");

    // waitTipChanged wakes up when a block arrives (mined over RPC meanwhile).
    let waiter = {
        let mining = mining.clone();
        tokio::spawn(async move { mining.wait_tip_changed(tip.hash, 30_000.0).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let new_hash = rpc(node, |r| r.generatetodescriptor(1, "raw(51)")).await;
    let changed = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("waitTipChanged woke up")
        .unwrap()
        .unwrap()
        .expect("a new tip");
    assert_eq!(hash_to_rpc_hex(changed.hash), new_hash[0]);
    assert_eq!(changed.height, 102);
    println!("  waitTipChanged: woke at height 102 hash {}", new_hash[0]);

    // interrupt ends a pending wait on the same Mining object.
    let waiter = {
        let mining = mining.clone();
        tokio::spawn(async move { mining.wait_tip_changed(changed.hash, 60_000.0).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    mining.interrupt().await.unwrap();
    let interrupted = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("interrupt ended the wait")
        .unwrap()
        .unwrap();
    assert!(
        interrupted.is_none(),
        "an interrupted wait has no tip: {interrupted:?}"
    );
    println!(
        "  interrupt: pending waitTipChanged ended after {:?}",
        started.elapsed()
    );

    // destroy: dropping the template calls BlockTemplate.destroy on the node.
    drop(template);
    wait_for_log(node, "BlockTemplate.destroy$Params").await;
    println!("  destroy: the node logged BlockTemplate.destroy");

    // submitSolution of a block mined through IPC (fresh Mining: the old one is interrupted).
    let mining = client.mining().await.unwrap();
    let height = mine_one(&mining).await;
    let best = rpc(node, |r| r.getbestblockhash()).await;
    let count = rpc(node, |r| r.getblockcount()).await;
    assert_eq!(count, 103);
    assert_eq!(height.0, 103);
    assert_eq!(height.1, best, "the submitted block is the RPC tip");
    println!("  submitSolution: block {best} accepted at height 103");
    Some(version)
}

/// Mines one block through IPC; returns its height and RPC-hex hash.
async fn mine_one(mining: &Mining) -> (i32, String) {
    let tip = mining.tip().await.unwrap().expect("a tip");
    let template = mining
        .create_new_block(CreateOptions::default(), false)
        .await
        .unwrap()
        .expect("a template");
    let header = template.header().await.unwrap();
    let cb = template.coinbase_tx().await.unwrap();
    let path = template.coinbase_merkle_path().await.unwrap();
    let coinbase = miner::build_coinbase(&cb, b"mphub", &PAYOUT_SCRIPT);
    let root = miner::merkle_root_from_path(miner::txid_of(&coinbase).unwrap(), &path);
    let solved = miner::solve_header(&header, root).unwrap();
    let result = template
        .submit_solution(solved.version, solved.timestamp, solved.nonce, coinbase)
        .await
        .unwrap();
    assert!(
        result.accepted,
        "submitSolution rejected: {} {}",
        result.reason, result.debug
    );
    let new_tip = mining.tip().await.unwrap().expect("a tip");
    assert_eq!(new_tip.hash, solved.block_hash);
    (tip.height + 1, hash_to_rpc_hex(solved.block_hash))
}

async fn wait_for_log(node: &RegtestNode, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node.debug_log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the node never logged {needle:?}; log tail:\n{}",
            node.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
