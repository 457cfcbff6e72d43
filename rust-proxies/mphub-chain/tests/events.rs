//! The demo chain's events, reorgs and mempool acceptance (issue 11): Core's order of
//! signals, Core's reject reasons.

use bitcoin::consensus::encode::deserialize;
use bitcoin::{Block, Transaction};
use mphub_chain::miner::spend_op_true;
use mphub_chain::{ChainEvent, DemoChain, RbfState, RemovalReason, Subscription};

/// The events queued so far (the chain emits synchronously, so all are there).
async fn drain(sub: &mut Subscription) -> Vec<ChainEvent> {
    let mut out = Vec::new();
    while let Ok(Some(e)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), sub.recv()).await
    {
        out.push(e);
    }
    out
}

/// A one-letter sketch of each event: C(height), D(height), T, A, R(reason).
fn sketch(events: &[ChainEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            ChainEvent::BlockConnected(f) => format!("C{}", f.height),
            ChainEvent::BlockDisconnected(f) => format!("D{}", f.height),
            ChainEvent::UpdatedBlockTip => "T".into(),
            ChainEvent::TransactionAddedToMempool(_) => "A".into(),
            ChainEvent::TransactionRemovedFromMempool { reason, .. } => {
                format!("R:{}", reason.as_str())
            }
        })
        .collect()
}

/// The coinbase (txid, OP_TRUE output value) of the block at `height`.
fn coinbase_at(chain: &DemoChain, height: i32) -> ([u8; 32], i64) {
    let facts = chain.block_facts(height).unwrap();
    let block: Block = deserialize(&facts.data).unwrap();
    let cb = &block.txdata[0];
    (
        cb.compute_txid().to_byte_array(),
        cb.output[0].value.to_sat() as i64,
    )
}

use bitcoin::hashes::Hash;

#[tokio::test]
async fn blocks_are_connected_then_the_tip_updated_in_order() {
    let chain = DemoChain::new();
    let mut sub = chain.subscribe();
    chain.mine_blocks(2).unwrap();
    chain.add_mempool_tx(500).unwrap();
    let events = drain(&mut sub).await;
    assert_eq!(sketch(&events), ["C1", "T", "C2", "T", "A"]);
    let ChainEvent::BlockConnected(facts) = &events[2] else {
        panic!("{:?}", events[2])
    };
    assert_eq!(*facts, chain.block_facts(2).unwrap());
    assert_eq!(facts.prev_hash, chain.block_hash_at(1).unwrap());
    let genesis_and_block1: u32 = (0..2)
        .map(|h| 8 + chain.block_facts(h).unwrap().data.len() as u32)
        .sum();
    assert_eq!(
        facts.data_pos,
        genesis_and_block1 + 8,
        "blk00000.dat offset"
    );
}

#[tokio::test]
async fn outside_transactions_are_checked_with_cores_reasons() {
    let chain = DemoChain::new();
    chain.mine_blocks(101).unwrap();
    let mut sub = chain.subscribe();
    let (cb1, value) = coinbase_at(&chain, 1);
    let spend = spend_op_true(cb1, 0, value, 1000).unwrap();
    let accepted = chain.accept_transaction(&spend, 0).unwrap();
    assert!(accepted.added);
    assert_eq!(accepted.fee, 1000);
    assert!(chain.mempool_contains(&accepted.txid));
    assert_eq!(
        drain(&mut sub).await,
        [ChainEvent::TransactionAddedToMempool(spend.clone())]
    );
    // Again: accepted, not added twice, not signalled.
    assert!(!chain.accept_transaction(&spend, 0).unwrap().added);
    assert!(drain(&mut sub).await.is_empty());

    let reason = |bytes: &[u8], max_fee| chain.accept_transaction(bytes, max_fee).unwrap_err();
    // A second spend of the same output.
    let double = spend_op_true(cb1, 0, value, 2000).unwrap();
    assert_eq!(reason(&double, 0).reason, "txn-mempool-conflict");
    // An output nobody created.
    let unknown = spend_op_true([7; 32], 0, value, 1000).unwrap();
    assert_eq!(reason(&unknown, 0).reason, "bad-txns-inputs-missingorspent");
    // A coinbase 2 blocks deep.
    let (cb100, _) = coinbase_at(&chain, 100);
    let young = spend_op_true(cb100, 0, value, 1000).unwrap();
    assert_eq!(
        reason(&young, 0).to_string(),
        "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 2"
    );
    // More out than in.
    let (cb2, _) = coinbase_at(&chain, 2);
    let mut greedy: Transaction = deserialize(&spend_op_true(cb2, 0, value, 0).unwrap()).unwrap();
    greedy.output[0].value = bitcoin::Amount::from_sat(value as u64 + 1);
    let greedy = bitcoin::consensus::serialize(&greedy);
    assert_eq!(
        reason(&greedy, 0).to_string(),
        "bad-txns-in-belowout, value in (50.00) < value out (50.00000001)"
    );
    // No fee, a fee over the cap, bytes that are no transaction.
    let free = spend_op_true(cb2, 0, value, 0).unwrap();
    assert!(reason(&free, 0)
        .to_string()
        .starts_with("min relay fee not met, 0 < "));
    let rich = spend_op_true(cb2, 0, value, 50_000).unwrap();
    assert!(reason(&rich, 10_000)
        .reason
        .starts_with("Fee exceeds maximum"));
    assert_eq!(reason(&[1, 2, 3], 0).reason, "TX decode failed");
    // Nothing refused reached the mempool or the subscribers.
    assert_eq!(chain.mempool_len(), 1);
    assert!(drain(&mut sub).await.is_empty());

    // A child of the mempool transaction, then both mined in order.
    let parent: Transaction = deserialize(&spend).unwrap();
    let child = spend_op_true(accepted.txid, 0, value - 1000, 1000).unwrap();
    chain.accept_transaction(&child, 0).unwrap();
    assert!(chain.has_descendants_in_mempool(&accepted.txid));
    let ancestry = chain.transaction_ancestry(
        &deserialize::<Transaction>(&child)
            .unwrap()
            .compute_txid()
            .to_byte_array(),
    );
    assert_eq!(
        (
            ancestry.ancestors,
            ancestry.descendants,
            ancestry.ancestor_fees
        ),
        (2, 2, 2000)
    );
    chain.mine_blocks(1).unwrap();
    assert_eq!(chain.mempool_len(), 0);
    let block: Block = deserialize(&chain.block_facts(102).unwrap().data).unwrap();
    assert_eq!(block.txdata[1].compute_txid(), parent.compute_txid());
    // A confirmed transaction cannot be broadcast again.
    assert_eq!(
        reason(&child, 0).reason,
        "Transaction outputs already in utxo set"
    );
}

#[tokio::test]
async fn a_reorg_is_disconnects_mempool_changes_connects_then_one_tip_update() {
    let chain = DemoChain::new();
    chain.mine_blocks(101).unwrap();
    let (cb1, value) = coinbase_at(&chain, 1);
    let spend = spend_op_true(cb1, 0, value, 1000).unwrap();
    chain.accept_transaction(&spend, 0).unwrap();
    chain.mine_blocks(1).unwrap(); // block 102 confirms it
    let old_tip = chain.tip();
    let mut sub = chain.subscribe();

    // Disconnecting 102 returns the spend to the mempool; it stays valid.
    let new = chain.reorg(1, 2).unwrap();
    assert_eq!(new.len(), 2);
    assert_eq!(chain.tip().height, 103);
    assert_ne!(chain.block_hash_at(102).unwrap(), old_tip.hash);
    let events = drain(&mut sub).await;
    assert_eq!(sketch(&events), ["D102", "A", "C102", "C103", "T"]);
    assert_eq!(
        events[1],
        ChainEvent::TransactionAddedToMempool(spend.clone())
    );
    let txid = deserialize::<Transaction>(&spend)
        .unwrap()
        .compute_txid()
        .to_byte_array();
    assert!(chain.mempool_contains(&txid));

    // Going back below height 101 makes block 1's coinbase immature: the spend leaves
    // the mempool with reason "reorg" before the new blocks connect.
    chain.reorg(4, 5).unwrap();
    assert_eq!(
        sketch(&drain(&mut sub).await),
        ["D103", "D102", "D101", "D100", "R:reorg", "C100", "C101", "C102", "C103", "C104", "T"]
    );
    assert!(!chain.mempool_contains(&txid));
    assert_eq!(RemovalReason::from_i32(2), Some(RemovalReason::Reorg));

    // Genesis stays; a reorg connects at least one block.
    assert!(chain.reorg(105, 106).is_err());
    assert!(chain.reorg(1, 0).is_err());
}

#[tokio::test]
async fn waiting_for_notifications_waits_for_every_subscriber() {
    let chain = DemoChain::new();
    let mut sub = chain.subscribe();
    chain.mine_blocks(1).unwrap();
    // The subscriber has not handled anything: the wait must not finish.
    let wait = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        chain.wait_for_notifications(),
    );
    assert!(
        wait.await.is_err(),
        "returned before the events were handled"
    );
    let waiter = tokio::spawn({
        let chain = chain.clone();
        async move { chain.wait_for_notifications().await }
    });
    assert!(sub.recv().await.is_some()); // C1
    assert!(sub.recv().await.is_some()); // T
    sub.handled();
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("the wait did not end once every event was handled")
        .unwrap();
    // A dropped subscription is not waited for.
    drop(sub);
    chain.mine_blocks(1).unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        chain.wait_for_notifications(),
    )
    .await
    .expect("waited for a dropped subscription");
}

/// `spend_op_true` with every input's nSequence set to `sequence`.
fn spend_with_sequence(txid: [u8; 32], value: i64, fee: i64, sequence: u32) -> Transaction {
    let mut tx: Transaction = deserialize(&spend_op_true(txid, 0, value, fee).unwrap()).unwrap();
    for input in &mut tx.input {
        input.sequence = bitcoin::Sequence(sequence);
    }
    tx
}

#[tokio::test]
async fn replaceability_is_signalled_or_inherited_from_mempool_ancestors_as_on_core() {
    let chain = DemoChain::new();
    chain.mine_blocks(102).unwrap();
    let (cb1, value) = coinbase_at(&chain, 1);
    let (cb2, _) = coinbase_at(&chain, 2);
    let bytes = |tx: &Transaction| bitcoin::consensus::encode::serialize(tx);

    // Not in the mempool: signalling decides, else Core cannot know the parents.
    let signalling = spend_with_sequence(cb1, value, 1000, 0xffff_fffd);
    let final_seq = spend_with_sequence(cb2, value, 1000, 0xffff_fffe);
    assert_eq!(chain.rbf_state(&signalling), RbfState::ReplaceableBip125);
    assert_eq!(chain.rbf_state(&final_seq), RbfState::Unknown);

    // In the mempool without signalling ancestors: final.
    chain.accept_transaction(&bytes(&final_seq), 0).unwrap();
    assert_eq!(chain.rbf_state(&final_seq), RbfState::Final);

    // A non-signalling child of a signalling parent inherits replaceability once both are in
    // the mempool, and so does its own child.
    chain.accept_transaction(&bytes(&signalling), 0).unwrap();
    let child = spend_with_sequence(
        signalling.compute_txid().to_byte_array(),
        value - 1000,
        1000,
        0xffff_ffff,
    );
    assert_eq!(chain.rbf_state(&child), RbfState::Unknown);
    chain.accept_transaction(&bytes(&child), 0).unwrap();
    assert_eq!(chain.rbf_state(&child), RbfState::ReplaceableBip125);
    let grandchild = spend_with_sequence(
        child.compute_txid().to_byte_array(),
        value - 2000,
        1000,
        0xffff_ffff,
    );
    chain.accept_transaction(&bytes(&grandchild), 0).unwrap();
    assert_eq!(chain.rbf_state(&grandchild), RbfState::ReplaceableBip125);

    // Mined, they leave the mempool: unknown again.
    chain.mine_blocks(1).unwrap();
    assert_eq!(chain.rbf_state(&grandchild), RbfState::Unknown);
}
