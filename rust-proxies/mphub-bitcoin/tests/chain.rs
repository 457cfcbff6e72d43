//! The PR #29409 schema on the demo node, over a real unix socket: version detection
//! among v31, master and PR #29409, and every `Chain` method the demo answers, checked
//! against the demo chain's own state.

mod common;

use common::start;
use mphub::Error;
use mphub_bitcoin::client::Node;
use mphub_bitcoin::demo::OLD_MINING_NOT_SERVED;
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
                // Its pre-v31 Mining is not served by the demo node, with a clear error.
                let init: pr29409::InitClient = mphub::ProxyClient::from_handle(
                    mphub::ProxyClient::handle(node.init()).clone(),
                );
                let Err(e) = init.make_mining().await else {
                    panic!("makeMining fails")
                };
                assert_eq!(e.remote_what(), Some(OLD_MINING_NOT_SERVED));
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
    let e = chain.estimate_max_blocks().await.unwrap_err();
    assert!(matches!(e, Error::Unimplemented(_)), "{e:?}");
    assert!(e.to_string().contains("estimateMaxBlocks"), "{e}");
}
