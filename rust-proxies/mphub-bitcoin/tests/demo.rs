//! The demo node and the client facade over a real unix socket, for both schema versions.

mod common;

use std::time::{Duration, Instant};

use common::start;
use mphub::{Error, ProxyClient};
use mphub_bitcoin::client::Node;
use mphub_bitcoin::demo::{OLD_MINING_ERROR, OLD_SUBMIT_SOLUTION_ERROR};
use mphub_bitcoin::{master, CoreVersion};
use mphub_chain::{miner, CreateOptions};

fn remote_what(e: &Error) -> String {
    e.remote_what()
        .map(str::to_string)
        .unwrap_or_else(|| format!("not a remote failure: {e}"))
}

async fn exercise(version: CoreVersion) {
    let f = start(version);
    let node = Node::connect(&f.rt, &f.path, None).await.unwrap();
    assert_eq!(node.version(), None);
    assert_eq!(node.echo("hello").await.unwrap(), "hello");

    // Deprecated ordinal and option validation: Core's exact texts.
    let e = node.make_mining_old2().await.unwrap_err();
    assert_eq!(remote_what(&e), OLD_MINING_ERROR);

    let mining = node.mining().await.unwrap();
    assert_eq!(mining.version(), version, "auto detection");
    assert_eq!(node.version(), Some(version));
    assert!(mining.is_test_chain().await.unwrap());
    let tip = mining.tip().await.unwrap().unwrap();
    assert_eq!(tip.height, 0);
    assert_eq!(
        miner::hash_to_rpc_hex(tip.hash),
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    );
    let bad = CreateOptions {
        block_reserved_weight: 0,
        ..CreateOptions::default()
    };
    let e = mining.create_new_block(bad, true).await.unwrap_err();
    // Each version words it as the real node of that version does.
    let expected = match version {
        CoreVersion::V31 => "block_reserved_weight (0) must be at least 2000 weight units",
        _ => "block_reserved_weight (0) is lower than minimum safety value of (2000)",
    };
    assert_eq!(remote_what(&e), expected);

    // A template with one mempool transaction.
    let txid = f.chain.add_mempool_tx(5_000).unwrap();
    let tmpl = mining
        .create_new_block(CreateOptions::default(), false)
        .await
        .unwrap()
        .unwrap();
    let header = tmpl.header().await.unwrap();
    assert_eq!(header.len(), 80);
    assert_eq!(&header[4..36], &tip.hash[..]);
    assert_eq!(tmpl.tx_fees().await.unwrap(), vec![5_000]);
    assert_eq!(tmpl.tx_sigops().await.unwrap(), vec![1]);
    let cb = tmpl.coinbase_tx().await.unwrap();
    assert_eq!(cb.script_sig_prefix, vec![0x51]);
    assert_eq!(cb.block_reward_remaining, 5_000_005_000);
    assert_eq!(cb.witness, Some([0; 32]));
    let path = tmpl.coinbase_merkle_path().await.unwrap();
    assert_eq!(path, vec![txid]);
    let block = tmpl.block().await.unwrap();
    // As from Core, the template's merkle root is zero (the client computes it).
    let checked = mining
        .check_block(block.clone(), true, false)
        .await
        .unwrap();
    assert_eq!(checked.reason, "bad-txnmrklroot", "{checked:?}");
    let checked = mining
        .check_block(block.clone(), false, false)
        .await
        .unwrap();
    assert!(checked.accepted, "{checked:?}");

    // waitNext: fee threshold 0 answers at once; interruptWait makes a long wait return None.
    let next = tmpl.wait_next(10_000.0, 0).await.unwrap();
    assert!(next.is_some());
    let waiter = {
        let tmpl = tmpl.clone();
        tokio::spawn(async move { tmpl.wait_next(60_000.0, i64::MAX).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    tmpl.interrupt_wait().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(r.unwrap().is_none(), "interrupted waitNext returns null");

    // Mining.interrupt: pending interrupt consumed by the next wait; and during a wait.
    mining.interrupt().await.unwrap();
    assert_eq!(
        mining.wait_tip_changed(tip.hash, 60_000.0).await.unwrap(),
        None
    );
    let waiter = {
        let mining = mining.clone();
        tokio::spawn(async move { mining.wait_tip_changed(tip.hash, 60_000.0).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    mining.interrupt().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.unwrap(), None);
    // Timeout: the current tip comes back.
    let t0 = Instant::now();
    let same = mining
        .wait_tip_changed(tip.hash, 150.0)
        .await
        .unwrap()
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(140));
    assert_eq!(same, tip);

    // Version-specific ordinals.
    match version {
        CoreVersion::Master => {
            let found = mining
                .get_transactions_by_txid(&[txid, [7; 32]])
                .await
                .unwrap();
            assert!(found[0].is_some() && found[1].is_none());
            let m: &master::BlockTemplateClient = &master_template(&mining).await;
            let e = m
                .submit_solution_old7(0, 0, 0, Vec::new())
                .await
                .unwrap_err();
            assert_eq!(remote_what(&e), OLD_SUBMIT_SOLUTION_ERROR);
        }
        CoreVersion::V31 => {
            let as_master: master::MiningClient =
                master::MiningClient::from_handle(mining.as_v31().unwrap().handle().clone());
            let e = as_master
                .get_transactions_by_tx_id(Vec::new())
                .await
                .unwrap_err();
            // The server names the method by ordinal and interface ID; the caller adds
            // the name it called.
            match &e {
                Error::Unimplemented(m) => assert!(
                    m.starts_with("Mining.getTransactionsByTxID: ") && m.contains("@8"),
                    "{m}"
                ),
                other => panic!("{other:?}"),
            }
        }
        CoreVersion::Pr29409 => unreachable!("the Mining facade refuses a PR #29409 node"),
    }

    // Mine the template: a waiter on another connection sees the new tip.
    let other = Node::connect(&f.rt, &f.path, Some(version)).await.unwrap();
    let other_mining = other.mining().await.unwrap();
    let waiter =
        tokio::spawn(async move { other_mining.wait_tip_changed(tip.hash, 30_000.0).await });
    let coinbase = miner::build_coinbase(&cb, &[1, 2, 3, 4], &[0x51]);
    let root = miner::merkle_root_from_path(miner::txid_of(&coinbase).unwrap(), &path);
    let solved = miner::solve_header(&header, root).unwrap();
    let r = tmpl
        .submit_solution(solved.version, solved.timestamp, solved.nonce, coinbase)
        .await
        .unwrap();
    assert!(r.accepted, "{r:?}");
    let new_tip = mining.tip().await.unwrap().unwrap();
    assert_eq!(new_tip.height, 1);
    assert_eq!(new_tip.hash, solved.block_hash);
    let seen = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.unwrap(), Some(new_tip));
    assert_eq!(f.chain.mempool_len(), 0);
}

async fn master_template(mining: &mphub_bitcoin::client::Mining) -> master::BlockTemplateClient {
    mining
        .as_master()
        .unwrap()
        .create_new_block(master::BlockCreateOptions::default(), false)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn demo_v31() {
    exercise(CoreVersion::V31).await;
}

#[tokio::test(flavor = "current_thread")]
async fn demo_master() {
    exercise(CoreVersion::Master).await;
}

#[tokio::test(flavor = "current_thread")]
async fn rpc_over_ipc() {
    let f = start(CoreVersion::Master);
    f.chain.mine_blocks(3).unwrap();
    let node = Node::connect(&f.rt, &f.path, None).await.unwrap();
    let rpc = node.rpc().await.unwrap();
    let reply = rpc
        .execute_rpc(
            r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]}"#,
            "/",
            "test",
        )
        .await
        .unwrap();
    // Core's key order.
    assert_eq!(reply, r#"{"jsonrpc":"2.0","result":3,"id":1}"#);

    let f31 = start(CoreVersion::V31);
    let node = Node::connect(&f31.rt, &f31.path, None).await.unwrap();
    assert!(matches!(node.rpc().await, Err(Error::Unimplemented(_))));
}

/// (issue 9, defect 8) A large `executeRpc` request must not stall other clients: the
/// JSON work runs off the event loop.
#[tokio::test(flavor = "current_thread")]
async fn a_large_rpc_request_does_not_stall_other_clients() {
    let f = start(CoreVersion::Master);
    let heavy = Node::connect(&f.rt, &f.path, None).await.unwrap();
    let rpc = heavy.rpc().await.unwrap();
    let other = Node::connect(&f.rt, &f.path, None).await.unwrap();
    assert_eq!(other.echo("warm").await.unwrap(), "warm");
    // A batch of 150,000 requests: about 10 MB of JSON in, more out.
    let one = r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]}"#;
    let batch = format!("[{}]", vec![one; 150_000].join(","));
    let big = tokio::spawn(async move { rpc.execute_rpc(batch.as_str(), "/", "test").await });
    let mut worst = Duration::ZERO;
    while !big.is_finished() {
        let started = Instant::now();
        assert_eq!(other.echo("ping").await.unwrap(), "ping");
        worst = worst.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reply = big.await.unwrap().unwrap().to_string_lossy().into_owned();
    assert!(
        reply.starts_with(r#"[{"jsonrpc":"2.0","result":0,"id":1},"#),
        "{}",
        &reply[..80]
    );
    assert!(
        worst < Duration::from_millis(500),
        "another client waited {worst:?} while the batch ran"
    );
}
