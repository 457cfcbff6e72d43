//! The PR #29409 schema on the demo node, over a real unix socket: version detection
//! among v31, master and PR #29409, and every `Chain` method the demo answers, checked
//! against the demo chain's own state.

mod common;

use common::start;
use mphub::Error;
use mphub_bitcoin::client::Node;
use mphub_bitcoin::{pr29409, CoreVersion};
use mphub_chain::{decode_locator, encode_locator};

fn every_want() -> pr29409::FoundBlockParam {
    pr29409::FoundBlockParam {
        want_hash: true,
        want_height: true,
        want_time: true,
        want_max_time: true,
        want_mtp_time: true,
        want_in_active_chain: true,
        want_locator: true,
        next_block: None,
        want_data: true,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn detection_tells_the_three_schemas_apart() {
    for version in [CoreVersion::V31, CoreVersion::Master, CoreVersion::Pr29409] {
        let f = start(version);
        let node = Node::connect(&f.rt, &f.path, None).await.unwrap();
        assert_eq!(node.detect_version().await.unwrap(), version);
        assert_eq!(node.version(), Some(version));
        match version {
            CoreVersion::Pr29409 => {
                let Err(e) = node.mining().await else {
                    panic!("no Mining facade on PR #29409")
                };
                assert!(
                    matches!(e, Error::Usage(_)) && e.to_string().contains("PR #29409"),
                    "{e}"
                );
                node.chain().await.expect("a Chain");
                // Its pre-v31 Mining (Init.makeMining @2) is served: mine one block
                // through it with the template's own (dummy) coinbase.
                let init: pr29409::InitClient = mphub::ProxyClient::from_handle(
                    mphub::ProxyClient::handle(node.init()).clone(),
                );
                mine_with_old_mining(&init, &f.chain).await;
            }
            _ => {
                node.mining().await.expect("a Mining facade");
                let Err(e) = node.chain().await else {
                    panic!("no Chain before PR #29409")
                };
                assert!(
                    matches!(e, Error::Usage(_)) && e.to_string().contains("makeChain"),
                    "{e}"
                );
            }
        }
        assert_eq!(node.echo("hi").await.unwrap().as_bytes(), b"hi");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn chain_queries_answer_like_core() {
    let f = start(CoreVersion::Pr29409);
    f.chain.mine_blocks(30).unwrap();
    let node = Node::connect(&f.rt, &f.path, None).await.unwrap();
    let chain = node.chain().await.unwrap();

    assert_eq!(chain.get_height().await.unwrap(), Some(30));
    for h in [0, 1, 17, 30] {
        let hash = chain.get_block_hash(h).await.unwrap();
        assert_eq!(
            hash,
            f.chain.block_hash_at(h).unwrap().to_vec(),
            "height {h}"
        );
        assert!(chain.have_block_on_disk(h).await.unwrap());
    }
    let e = chain.get_block_hash(31).await.unwrap_err();
    assert!(e.to_string().contains("no block at height 31"), "{e}");
    assert!(!chain.have_block_on_disk(31).await.unwrap());
    assert!(!chain.is_initial_block_download().await.unwrap());
    assert!(chain.is_ready_to_broadcast().await.unwrap());
    assert!(!chain.shutdown_requested().await.unwrap());
    assert!(!chain.have_pruned().await.unwrap());
    assert_eq!(chain.get_prune_height().await.unwrap(), None);
    assert!(!chain.has_assumed_valid_chain().await.unwrap());
    chain.init_message("loading").await.unwrap();
    chain.show_progress("rescan", 50, true).await.unwrap();

    // Locators: Core's entries (11 single steps, then doubling, then genesis).
    let tip_locator = decode_locator(&chain.get_tip_locator().await.unwrap()).unwrap();
    let heights: Vec<i32> = tip_locator
        .iter()
        .map(|h| f.chain.height_of(h).unwrap())
        .collect();
    assert_eq!(
        heights,
        vec![30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 17, 13, 5, 0]
    );
    let at10 = f.chain.block_hash_at(10).unwrap();
    let locator10 =
        decode_locator(&chain.get_active_chain_locator(at10.to_vec()).await.unwrap()).unwrap();
    assert_eq!(locator10.first(), Some(&at10));
    assert_eq!(locator10.last(), Some(&f.chain.block_hash_at(0).unwrap()));
    let unknown = chain.get_active_chain_locator(vec![9; 32]).await.unwrap();
    assert_eq!(decode_locator(&unknown).unwrap(), Vec::<[u8; 32]>::new());

    // findLocatorFork: the first locator entry on the chain; genesis when none is.
    let stale = encode_locator(&[[7; 32], [8; 32], at10]);
    assert_eq!(chain.find_locator_fork(stale).await.unwrap(), Some(10));
    assert_eq!(
        chain
            .find_locator_fork(encode_locator(&[[7; 32]]))
            .await
            .unwrap(),
        Some(0)
    );
    let e = chain.find_locator_fork(vec![1, 2, 3]).await.unwrap_err();
    assert!(e.to_string().contains("findLocatorFork: locator"), "{e}");

    // findBlock with every want flag, and a nextBlock chain.
    let facts = f.chain.block_facts(12).unwrap();
    let mut want = every_want();
    want.next_block = Some(Box::new(pr29409::FoundBlockParam {
        want_height: true,
        next_block: Some(Box::new(pr29409::FoundBlockParam {
            want_hash: true,
            ..Default::default()
        })),
        ..Default::default()
    }));
    let out = chain.find_block(facts.hash.to_vec(), want).await.unwrap();
    assert!(out.result);
    let b = out.block.unwrap();
    assert!(b.found);
    assert_eq!((b.hash, b.height), (facts.hash.to_vec(), 12));
    assert_eq!(
        (b.time, b.max_time, b.mtp_time),
        (
            i64::from(facts.time),
            i64::from(facts.max_time),
            i64::from(facts.mtp_time)
        )
    );
    assert_eq!(b.in_active_chain, 1);
    assert_eq!(decode_locator(&b.locator).unwrap(), f.chain.locator_at(12));
    assert_eq!(b.data, facts.data);
    let next = b.next_block.unwrap();
    assert!(next.found && next.height == 13 && next.hash.is_empty());
    let next2 = next.next_block.unwrap();
    assert!(next2.found && next2.hash == f.chain.block_hash_at(14).unwrap().to_vec());
    // Only what was asked for, and not found for an unknown hash.
    let out = chain
        .find_block(
            facts.hash.to_vec(),
            pr29409::FoundBlockParam {
                want_height: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = out.block.unwrap();
    assert!(b.found && b.height == 12 && b.hash.is_empty() && b.data.is_empty() && b.time == 0);
    let out = chain.find_block(vec![5; 32], every_want()).await.unwrap();
    assert!(!out.result && !out.block.unwrap().found);
    let e = chain
        .find_block(vec![5; 31], every_want())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("findBlock: a block hash is 32 bytes, got 31"),
        "{e}"
    );
    // The tip's next block does not exist.
    let tip = f.chain.block_hash_at(30).unwrap();
    let mut want = every_want();
    want.next_block = Some(Box::new(every_want()));
    let b = chain
        .find_block(tip.to_vec(), want)
        .await
        .unwrap()
        .block
        .unwrap();
    assert!(b.found && !b.next_block.unwrap().found);

    // Ancestors.
    let want_height = || pr29409::FoundBlockParam {
        want_height: true,
        want_hash: true,
        ..Default::default()
    };
    let out = chain
        .find_ancestor_by_height(tip.to_vec(), 7, want_height())
        .await
        .unwrap();
    assert!(out.result);
    assert_eq!(
        out.ancestor.unwrap().hash,
        f.chain.block_hash_at(7).unwrap().to_vec()
    );
    let out = chain
        .find_ancestor_by_height(at10.to_vec(), 11, want_height())
        .await
        .unwrap();
    assert!(!out.result, "a block has no ancestor above it");
    let out = chain
        .find_ancestor_by_hash(tip.to_vec(), at10.to_vec(), want_height())
        .await
        .unwrap();
    assert!(out.result && out.ancestor.unwrap().height == 10);
    let out = chain
        .find_ancestor_by_hash(at10.to_vec(), tip.to_vec(), want_height())
        .await
        .unwrap();
    assert!(!out.result);
    let out = chain
        .find_common_ancestor(
            tip.to_vec(),
            at10.to_vec(),
            want_height(),
            want_height(),
            want_height(),
        )
        .await
        .unwrap();
    assert!(out.result);
    assert_eq!(out.ancestor.unwrap().height, 10);
    assert_eq!(
        (out.block1.unwrap().height, out.block2.unwrap().height),
        (30, 10)
    );
    let out = chain
        .find_common_ancestor(
            tip.to_vec(),
            vec![3; 32],
            want_height(),
            want_height(),
            want_height(),
        )
        .await
        .unwrap();
    assert!(!out.result && out.block1.unwrap().found && !out.block2.unwrap().found);

    // findFirstBlockWithTimeAndHeight: by max time and height.
    let t20 = i64::from(f.chain.block_facts(20).unwrap().max_time);
    let out = chain
        .find_first_block_with_time_and_height(0, 5, want_height())
        .await
        .unwrap();
    assert!(out.result && out.block.unwrap().height == 5);
    let out = chain
        .find_first_block_with_time_and_height(t20, 0, want_height())
        .await
        .unwrap();
    let h = out.block.unwrap().height;
    assert!(out.result && h <= 20 && i64::from(f.chain.block_facts(h).unwrap().max_time) >= t20);
    let out = chain
        .find_first_block_with_time_and_height(i64::MAX, 0, want_height())
        .await
        .unwrap();
    assert!(!out.result);

    assert!(chain.has_blocks(tip.to_vec(), 0, Some(20)).await.unwrap());
    assert!(!chain.has_blocks(vec![4; 32], 0, None).await.unwrap());

    // Mempool.
    let txid = f.chain.add_mempool_tx(2_000).unwrap();
    assert!(chain.is_in_mempool(txid.to_vec()).await.unwrap());
    assert!(!chain.is_in_mempool(vec![6; 32]).await.unwrap());
    assert!(!chain
        .has_descendants_in_mempool(txid.to_vec())
        .await
        .unwrap());

    // A method the demo does not serve names interface and method.
    let e = chain
        .calculate_combined_bump_fee(vec![], vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Remote { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("not supported by the demo node: Chain.calculateCombinedBumpFee"),
        "{e}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn mempool_fee_settings_and_unserved_methods() {
    use bitcoin::consensus::encode::deserialize;
    use bitcoin::hashes::Hash;
    let f = start(CoreVersion::Pr29409);
    let node = Node::connect(&f.rt, &f.path, None).await.unwrap();
    let chain = node.chain().await.unwrap();
    f.chain.mine_blocks(102).unwrap();

    // broadcastTransaction into the demo mempool, with Core's reason on refusal.
    let cb = |height: i32| {
        let block: bitcoin::Block =
            deserialize(&f.chain.block_facts(height).unwrap().data).unwrap();
        let tx = &block.txdata[0];
        (
            tx.compute_txid().to_byte_array(),
            tx.output[0].value.to_sat() as i64,
        )
    };
    let (cb1, value) = cb(1);
    let parent = mphub_chain::miner::spend_op_true(cb1, 0, value, 1000).unwrap();
    let out = chain
        .broadcast_transaction(parent.clone(), 0, true)
        .await
        .unwrap();
    assert!(out.result, "{}", out.error);
    assert_eq!(out.error.to_string(), "");
    let parent_txid = deserialize::<bitcoin::Transaction>(&parent)
        .unwrap()
        .compute_txid()
        .to_byte_array();
    let child = mphub_chain::miner::spend_op_true(parent_txid, 0, value - 1000, 500).unwrap();
    assert!(
        chain
            .broadcast_transaction(child.clone(), 0, true)
            .await
            .unwrap()
            .result
    );
    let refused = chain
        .broadcast_transaction(child[..10].to_vec(), 0, true)
        .await
        .unwrap();
    assert!(!refused.result);
    assert!(
        refused.error.to_string().starts_with("TX decode failed"),
        "{}",
        refused.error
    );
    let (cb2, _) = cb(2);
    let capped = mphub_chain::miner::spend_op_true(cb2, 0, value, 20_000).unwrap();
    let refused = chain
        .broadcast_transaction(capped, 10_000, true)
        .await
        .unwrap();
    assert_eq!(
        refused.error.to_string(),
        "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"
    );

    // Ancestry, descendants, RBF signalling.
    let child_txid = deserialize::<bitcoin::Transaction>(&child)
        .unwrap()
        .compute_txid()
        .to_byte_array();
    let a = chain
        .get_transaction_ancestry(child_txid.to_vec())
        .await
        .unwrap();
    assert_eq!((a.ancestors, a.descendants, a.ancestorfees), (2, 2, 1500));
    assert!(a.ancestorsize > 0);
    let none = chain.get_transaction_ancestry(vec![9; 32]).await.unwrap();
    assert_eq!((none.ancestors, none.descendants), (0, 0));
    assert!(chain
        .has_descendants_in_mempool(parent_txid.to_vec())
        .await
        .unwrap());
    assert!(!chain
        .has_descendants_in_mempool(child_txid.to_vec())
        .await
        .unwrap());
    assert_eq!(
        chain.is_rbf_opt_in(child).await.unwrap(),
        1,
        "sequence 0xfffffffd signals"
    );
    let pkg = chain.get_package_limits().await.unwrap();
    assert_eq!((pkg.ancestors, pkg.descendants), (25, 25));

    // Fees as serialized CFeeRate (sat/kvB).
    let rate = |bytes: Vec<u8>| i64::from_le_bytes(bytes.try_into().unwrap());
    assert_eq!(rate(chain.relay_min_fee().await.unwrap()), 1000);
    assert_eq!(rate(chain.relay_incremental_fee().await.unwrap()), 1000);
    assert_eq!(rate(chain.relay_dust_fee().await.unwrap()), 3000);
    assert_eq!(rate(chain.mempool_min_fee().await.unwrap()), 0);
    let est = chain.estimate_smart_fee(6, true, true).await.unwrap();
    assert_eq!(rate(est.result), 0, "no fee history on the demo chain");
    assert_eq!(
        est.calc.unwrap().returned_target,
        0,
        "no estimate, as on Core"
    );
    assert_eq!(chain.estimate_max_blocks().await.unwrap(), 1008);

    // Settings, filters, verification progress.
    assert_eq!(
        chain.get_setting("prune").await.unwrap().to_string(),
        "null"
    );
    assert!(chain.get_settings_list("wallet").await.unwrap().is_empty());
    assert_eq!(
        chain.get_rw_setting("wallet").await.unwrap().to_string(),
        "null"
    );
    assert!(!chain.has_block_filter_index(0).await.unwrap());
    let tip = f.chain.tip().hash.to_vec();
    assert_eq!(
        chain
            .block_filter_matches_any(0, tip.clone(), vec![])
            .await
            .unwrap(),
        None
    );
    assert_eq!(chain.guess_verification_progress(tip).await.unwrap(), 1.0);

    // What the demo does not serve is named.
    let err = chain.find_coins(vec![]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not supported by the demo node: Chain.findCoins"),
        "{err}"
    );
    let err = chain.rpc_enable_deprecated("x").await.unwrap_err();
    assert!(
        err.to_string().contains("Chain.rpcEnableDeprecated"),
        "{err}"
    );
}

/// `Init.makeMining` of the PR #29409 schema (the Mining from before v31): template
/// getters, `submitSolution`, `waitTipChanged`, on the chain the Chain clients see.
async fn mine_with_old_mining(init: &pr29409::InitClient, chain: &mphub_chain::DemoChain) {
    use mphub_chain::miner;
    let mining = init.make_mining().await.unwrap().unwrap();
    assert!(mining.is_test_chain().await.unwrap());
    let tip = mining.get_tip().await.unwrap().unwrap();
    assert_eq!(tip.hash, chain.tip().hash.to_vec());
    let tmpl = mining
        .create_new_block(pr29409::BlockCreateOptions {
            use_mempool: true,
            block_reserved_weight: 0,
            coinbase_output_max_additional_sigops: 0,
        })
        .await
        .unwrap()
        .unwrap();
    let header = tmpl.get_block_header().await.unwrap();
    let coinbase = tmpl.get_coinbase_tx().await.unwrap();
    assert_eq!(tmpl.get_witness_commitment_index().await.unwrap(), 1);
    assert!(tmpl
        .get_coinbase_commitment()
        .await
        .unwrap()
        .starts_with(&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]));
    let path: Vec<[u8; 32]> = tmpl
        .get_coinbase_merkle_path()
        .await
        .unwrap()
        .iter()
        .map(|h| h.as_slice().try_into().unwrap())
        .collect();
    let root = miner::merkle_root_from_path(miner::txid_of(&coinbase).unwrap(), &path);
    let solved = miner::solve_header(&header, root).unwrap();
    assert!(tmpl
        .submit_solution(solved.version, solved.timestamp, solved.nonce, coinbase)
        .await
        .unwrap());
    let new_tip = mining
        .wait_tip_changed(tip.hash.clone(), 1000.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new_tip.height, tip.height + 1);
    assert_eq!(new_tip.hash, solved.block_hash.to_vec());
    assert_eq!(chain.tip().hash, solved.block_hash);
}
