//! The Chain leg: mphub's `Chain` client against a real `bitcoin-node` built from Bitcoin
//! Core PR #29409 (the branch that exposes `Init.makeChain`).
//!
//! `MPHUB_BITCOIN_NODE_CHAIN` names such binaries (`:`-separated; build them outside this
//! repository). For each, the test starts it on regtest with IPC, mines over JSON-RPC and
//! checks Chain's answers against the node's RPC answers. Without the variable it prints
//! `SKIPPED: …` and passes.

mod common;

use common::{node_binaries, rpc};

use std::path::Path;

use mphub_bitcoin::client::Node;
use mphub_bitcoin::{pr29409, CoreVersion};
use mphub_chain::miner::hash_to_rpc_hex;
use mphub_chain::{decode_locator, encode_locator, RegtestNode};

#[tokio::test]
async fn chain_queries_against_a_pr29409_node() {
    let Some(binaries) = node_binaries("MPHUB_BITCOIN_NODE_CHAIN") else {
        println!(
            "SKIPPED: Chain leg: MPHUB_BITCOIN_NODE_CHAIN is not set (path(s) of bitcoin-node \
             built from Bitcoin Core PR #29409, ':'-separated)"
        );
        return;
    };
    assert!(
        !binaries.is_empty(),
        "MPHUB_BITCOIN_NODE_CHAIN is set but empty"
    );
    for binary in binaries {
        assert!(binary.is_file(), "{} is not a file", binary.display());
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
        check_chain(&node).await;
        println!("PASSED: Chain leg against {}", binary.display());
        tokio::task::spawn_blocking(move || drop(node))
            .await
            .unwrap();
        check_rpc_handler(&binary).await;
    }
}

async fn check_chain(node: &RegtestNode) {
    let rt = mphub::Runtime::new().unwrap();
    let client = Node::connect(&rt, node.socket(), None).await.unwrap();
    assert_eq!(client.detect_version().await.unwrap(), CoreVersion::Pr29409);
    let chain = client.chain().await.unwrap();

    rpc(node, |r| r.generatetodescriptor(30, "raw(51)")).await;
    let height = chain.get_height().await.unwrap();
    assert_eq!(height, Some(30));
    println!("  getHeight: 30 (= getblockcount)");
    for h in [0u64, 1, 15, 30] {
        let ipc = chain.get_block_hash(h as i32).await.unwrap();
        let want = rpc(node, move |r| r.getblockhash(h)).await;
        assert_eq!(
            hash_to_rpc_hex(ipc.as_slice().try_into().unwrap()),
            want,
            "height {h}"
        );
        assert!(chain.have_block_on_disk(h as i32).await.unwrap());
    }
    println!("  getBlockHash(0, 1, 15, 30) = getblockhash");
    assert!(!chain.is_initial_block_download().await.unwrap());

    // The tip locator starts at the best block and ends at genesis.
    let locator = decode_locator(&chain.get_tip_locator().await.unwrap()).unwrap();
    let best = rpc(node, |r| r.getbestblockhash()).await;
    let genesis = rpc(node, |r| r.getblockhash(0)).await;
    assert_eq!(hash_to_rpc_hex(locator[0]), best);
    assert_eq!(hash_to_rpc_hex(*locator.last().unwrap()), genesis);
    assert_eq!(
        locator.len(),
        16,
        "30 blocks: 11 single steps, then 2, 4, 8, genesis"
    );
    println!(
        "  getTipLocator: {} hashes, {best} .. genesis",
        locator.len()
    );

    // A stale locator (unknown hashes, then block 10) forks at 10.
    let at10: [u8; 32] = chain.get_block_hash(10).await.unwrap().try_into().unwrap();
    let fork = chain
        .find_locator_fork(encode_locator(&[[7; 32], at10]))
        .await
        .unwrap();
    assert_eq!(fork, Some(10));
    println!("  findLocatorFork(stale locator) = 10");

    // findBlock matches getblock.
    let hash12 = chain.get_block_hash(12).await.unwrap();
    let hex12 = hash_to_rpc_hex(hash12.as_slice().try_into().unwrap());
    let verbose = rpc(node, {
        let hex12 = hex12.clone();
        move |r| r.getblock(&hex12, 1)
    })
    .await;
    let raw = rpc(node, move |r| r.getblock(&hex12, 0)).await;
    let want = pr29409::FoundBlockParam {
        want_hash: true,
        want_height: true,
        want_time: true,
        want_mtp_time: true,
        want_in_active_chain: true,
        want_data: true,
        next_block: Some(Box::new(pr29409::FoundBlockParam {
            want_height: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let out = chain.find_block(hash12.clone(), want).await.unwrap();
    assert!(out.result);
    let b = out.block.unwrap();
    assert!(b.found && b.hash == hash12 && b.height == 12 && b.in_active_chain == 1);
    assert_eq!(b.time, verbose["time"].as_i64().unwrap());
    assert_eq!(b.mtp_time, verbose["mediantime"].as_i64().unwrap());
    let raw_hex: String = b.data.iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(raw_hex, raw.as_str().unwrap());
    assert_eq!(b.next_block.unwrap().height, 13);
    println!("  findBlock(12): time, mediantime and data = getblock; nextBlock height 13");

    let tip = chain.get_block_hash(30).await.unwrap();
    let out = chain
        .find_ancestor_by_height(
            tip,
            10,
            pr29409::FoundBlockParam {
                want_hash: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.result && out.ancestor.unwrap().hash == at10.to_vec());
    println!("  findAncestorByHeight(tip, 10) = block 10");
    assert!(!chain.is_in_mempool(vec![6; 32]).await.unwrap());
}

/// An RPC method's actor we serve; the node never calls it here (see below).
struct Actor;

impl pr29409::ActorCallbackServer for Actor {}

/// A callback inside a struct, read by libmultiprocess: `Chain.handleRpc` with an
/// `RPCCommand` whose `actor` (`ProxyCallback<CRPCCommand::Actor>`) we serve.
///
/// Core adds an RPC command only while its RPC server is not running
/// (`CRPCTable::appendCommand`: `CHECK_NONFATAL(!IsRPCRunning())`); on a node started with
/// `-server=1`, `handleRpc` terminates it (seen on /Satoshi:29.99.0/: "Internal bug
/// detected: !IsRPCRunning()"). So the node runs with `-server=0`: it decodes the command,
/// makes a client of our actor, registers it and hands back a `Handler`, whose release
/// unregisters it. Nothing can call the method on such a node, so the actor is not run.
async fn check_rpc_handler(binary: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let started = tokio::task::spawn_blocking({
        let binary = binary.to_owned();
        let datadir = dir.path().join("data");
        move || RegtestNode::start_with_args(&binary, &datadir, &["-server=0".to_owned()])
    })
    .await
    .unwrap();
    let mut node = started.unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    let rt = mphub::Runtime::new().unwrap();
    let client = Node::connect(&rt, node.socket(), None).await.unwrap();
    let chain = client.chain().await.unwrap();
    let command = pr29409::RPCCommand {
        category: "mphub".into(),
        name: "mphubecho".into(),
        actor: pr29409::ActorCallbackServer::into_cap(Actor),
        arg_names: vec![pr29409::RPCArg {
            name: "text".into(),
            named_only: false,
        }],
        unique_id: 1,
    };
    let handler = chain.handle_rpc(command).await;
    let alive = node.is_running();
    let handler = match handler {
        Ok(Some(h)) if alive => h,
        other => panic!(
            "Chain.handleRpc: {other:?}; node stderr:\n{}",
            node.stderr()
        ),
    };
    handler.disconnect().await.unwrap();
    drop(handler);
    // The node still answers on the same connection after the release.
    assert_eq!(chain.get_height().await.unwrap(), Some(0));
    assert!(node.is_running(), "the node exited");
    println!(
        "  handleRpc (-server=0): RPCCommand with our actor accepted, Handler released, node up"
    );
    drop((chain, client));
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .unwrap();
}
