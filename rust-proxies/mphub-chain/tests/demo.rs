//! Behaviour of the demo chain driven the way an IPC miner drives Bitcoin Core.

use std::time::{Duration, Instant};

use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Block, Transaction};
use mphub_chain::demo::{bip34_height_prefix, regtest_subsidy, REGTEST_BITS, TEMPLATE_VERSION};
use mphub_chain::miner::{
    build_coinbase, hash_to_rpc_hex, merkle_root_from_path, solve_header, txid_of, SolvedHeader,
};
use mphub_chain::{
    BlockRef, ChainError, CoinbaseTemplate, CreateOptions, DemoChain, SubmitResult, Template,
    MAX_MONEY,
};

const OP_TRUE: [u8; 1] = [0x51];
const REGTEST_GENESIS_RPC: &str =
    "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

/// Builds the coinbase, folds the merkle path and grinds the header, like a real miner.
fn solve(template: &Template, extranonce: &[u8]) -> (Vec<u8>, SolvedHeader) {
    let coinbase = build_coinbase(&template.coinbase, extranonce, &OP_TRUE);
    let txid = txid_of(&coinbase).expect("coinbase decodes");
    let root = merkle_root_from_path(txid, &template.coinbase_merkle_path);
    let solved = solve_header(&template.header, root).expect("regtest target is easy");
    (coinbase, solved)
}

fn submit(
    chain: &DemoChain,
    template: &Template,
    coinbase: &[u8],
    solved: &SolvedHeader,
) -> SubmitResult {
    chain
        .submit_solution(
            template,
            solved.version,
            solved.timestamp,
            solved.nonce,
            coinbase,
        )
        .expect("template is intact")
}

fn assert_rejected(result: &SubmitResult, reason: &str) {
    assert!(
        !result.accepted,
        "expected rejection {reason}, got {result:?}"
    );
    assert_eq!(result.reason, reason, "{result:?}");
}

#[test]
fn starts_at_real_regtest_genesis() {
    let chain = DemoChain::new();
    let tip = chain.tip();
    assert_eq!(tip.height, 0);
    assert_eq!(hash_to_rpc_hex(tip.hash), REGTEST_GENESIS_RPC);
    assert!(chain.is_test_chain());
    assert!(chain.is_initial_block_download());
    assert_eq!(chain.block_hash_at(0), Some(tip.hash));
    let genesis: Block =
        deserialize(&chain.get_block(&tip.hash).expect("genesis stored")).expect("decodes");
    assert_eq!(genesis.block_hash().to_byte_array(), tip.hash);
}

#[test]
fn genesis_template_matches_core() {
    let chain = DemoChain::new();
    let t = chain
        .create_template(CreateOptions::default())
        .expect("template");
    // Values observed on a real regtest node (bitcoin-core-ipc.md §8.2).
    assert_eq!(&t.header[4..36], &chain.tip().hash[..]);
    assert_eq!(t.block.len(), 227);
    assert_eq!(t.height, 1);
    assert_eq!(t.prev, chain.tip());
    assert!(t.coinbase_merkle_path.is_empty());
    assert!(t.tx_fees.is_empty() && t.tx_sigops.is_empty());
    let cb = &t.coinbase;
    assert_eq!(cb.version, 2);
    assert_eq!(cb.sequence, 0xffff_fffe);
    assert_eq!(cb.script_sig_prefix, vec![0x51]);
    assert_eq!(cb.witness, Some([0u8; 32]));
    assert_eq!(cb.block_reward_remaining, 5_000_000_000);
    assert_eq!(cb.lock_time, 0);
    assert_eq!(cb.required_outputs.len(), 1);
    let out = &cb.required_outputs[0];
    assert_eq!(&out[..8], &[0u8; 8]);
    assert_eq!(out[8], 0x26);
    assert_eq!(&out[9..15], &[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
    assert_eq!(out.len(), 8 + 1 + 38);

    let header: Header = deserialize(&t.header).expect("80-byte header");
    assert_eq!(header.bits.to_consensus(), REGTEST_BITS);
    assert_eq!(header.version.to_consensus() as u32, TEMPLATE_VERSION);
    assert!(header.time > chain.median_time_past());
    let block: Block = deserialize(&t.block).expect("block decodes");
    assert_eq!(block.header, header);
    // Core serves the merkle root as zero; the client computes it from its own coinbase.
    assert_eq!(&t.header[36..68], &[0u8; 32]);
    assert!(!block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert_eq!(t.witness_commitment_index(), 1);
    assert_eq!(t.witness_commitment_script(), out[9..].to_vec());
    let dummy: Transaction = deserialize(&t.dummy_coinbase()).expect("dummy coinbase");
    assert_eq!(dummy.output[0].script_pubkey.as_bytes(), &OP_TRUE);

    // The template's own (dummy-coinbase) block is valid apart from proof of work and its
    // merkle root, which stays zero as in Core (the client computes it).
    assert_eq!(
        &t.header[36..68],
        &[0u8; 32],
        "merkle root zero, as Core serves it"
    );
    let check = chain.check_block(&t.block, false, true).unwrap();
    assert_eq!(
        (check.reason.as_str(), check.debug.as_str()),
        ("bad-txnmrklroot", "hashMerkleRoot mismatch")
    );
    let check = chain.check_block(&t.block, false, false).unwrap();
    assert!(check.accepted, "{check:?}");
}

#[test]
fn mine_via_template_advances_tip() {
    let chain = DemoChain::new();
    let template = chain
        .create_template(CreateOptions::default())
        .expect("template");
    let (coinbase, solved) = solve(&template, &[0xab, 0xcd]);
    let result = submit(&chain, &template, &coinbase, &solved);
    assert_eq!(result, SubmitResult::ok());

    let tip = chain.tip();
    assert_eq!(
        tip,
        BlockRef {
            hash: solved.block_hash,
            height: 1
        }
    );
    assert!(!chain.is_initial_block_download());
    // The stored block is exactly header + our coinbase.
    let block: Block = deserialize(&chain.get_block(&tip.hash).expect("stored")).expect("decodes");
    assert_eq!(serialize(&block.header), solved.header.to_vec());
    assert_eq!(serialize(&block.txdata[0]), coinbase);
    // Resubmitting the same block is a duplicate.
    let again = chain.submit_block(&serialize(&block)).unwrap();
    assert_rejected(&again, "duplicate");
    assert_eq!(again.debug, "", "Core leaves debug empty for a duplicate");

    // Next template builds on it; height 2 prefix is OP_2.
    let next = chain
        .create_template(CreateOptions::default())
        .expect("template");
    assert_eq!(next.prev, tip);
    assert_eq!(next.coinbase.script_sig_prefix, vec![0x52]);
    assert_eq!(next.coinbase.lock_time, 1);
}

#[test]
fn stale_template_is_rejected() {
    let chain = DemoChain::new();
    let stale = chain
        .create_template(CreateOptions::default())
        .expect("template");
    chain.mine_blocks(1).expect("mined");
    let before = chain.tip();
    let (coinbase, solved) = solve(&stale, &[1, 2]);
    assert_rejected(
        &submit(&chain, &stale, &coinbase, &solved),
        "inconclusive-not-best-prevblk",
    );
    assert_eq!(chain.tip(), before);
}

#[test]
fn bad_nonce_is_rejected() {
    let chain = DemoChain::new();
    let template = chain
        .create_template(CreateOptions::default())
        .expect("template");
    let (coinbase, solved) = solve(&template, &[7, 7]);
    // Tamper: find a nonce whose header hash misses the (easy) regtest target.
    let mut header: Header = deserialize(&solved.header).expect("header");
    let bad_nonce = (0..u32::MAX)
        .find(|n| {
            header.nonce = *n;
            header.validate_pow(header.target()).is_err()
        })
        .expect("about half of all nonces fail");
    let result = chain
        .submit_solution(
            &template,
            solved.version,
            solved.timestamp,
            bad_nonce,
            &coinbase,
        )
        .expect("template is intact");
    assert_rejected(&result, "high-hash");
    assert_eq!(chain.tip().height, 0);
    // The genuine solution still works afterwards.
    assert!(submit(&chain, &template, &coinbase, &solved).accepted);
}

#[test]
fn malformed_coinbases_are_rejected_without_panic() {
    let chain = DemoChain::new();
    let template = chain
        .create_template(CreateOptions::default())
        .expect("template");
    let (good, solved) = solve(&template, &[1, 2, 3]);
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        vec![0xde, 0xad, 0xbe, 0xef],
        good[..good.len() - 1].to_vec(),
        [good.clone(), vec![0]].concat(),
        vec![0xff; 300],
        // Absurd input count.
        vec![
            2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    ];
    // Core fails the call (its deserializer throws) rather than answering a result.
    for bytes in &garbage {
        let e = chain
            .submit_solution(
                &template,
                solved.version,
                solved.timestamp,
                solved.nonce,
                bytes,
            )
            .unwrap_err();
        assert!(
            matches!(&e, mphub_chain::ChainError::Undecodable(text) if text.ends_with("iostream error")),
            "{bytes:02x?}: {e:?}"
        );
    }

    // Decodable but invalid coinbases, each checked with a freshly solved header.
    let cases: Vec<(&str, CoinbaseTemplate, Vec<u8>)> = vec![
        (
            "bad-cb-height",
            CoinbaseTemplate {
                script_sig_prefix: vec![0x55],
                ..template.coinbase.clone()
            },
            vec![1],
        ),
        (
            "bad-cb-amount",
            CoinbaseTemplate {
                block_reward_remaining: template.coinbase.block_reward_remaining + 1,
                ..template.coinbase.clone()
            },
            vec![1],
        ),
        ("bad-cb-length", template.coinbase.clone(), vec![0u8; 100]),
        (
            "bad-witness-nonce-size",
            CoinbaseTemplate {
                witness: None,
                ..template.coinbase.clone()
            },
            vec![1],
        ),
        (
            "bad-witness-merkle-match",
            CoinbaseTemplate {
                witness: Some([1u8; 32]),
                ..template.coinbase.clone()
            },
            vec![1],
        ),
        (
            "bad-txns-nonfinal",
            CoinbaseTemplate {
                lock_time: 500,
                ..template.coinbase.clone()
            },
            vec![1],
        ),
    ];
    for (reason, cb, extranonce) in cases {
        let bytes = build_coinbase(&cb, &extranonce, &OP_TRUE);
        let root = merkle_root_from_path(
            txid_of(&bytes).expect("decodes"),
            &template.coinbase_merkle_path,
        );
        let solved = solve_header(&template.header, root).expect("solvable");
        assert_rejected(&submit(&chain, &template, &bytes, &solved), reason);
    }

    // scriptSig of one byte (height 1 push only): Core's bad-cb-length.
    let mut tx: Transaction = deserialize(&good).expect("decodes");
    tx.input[0].script_sig = bitcoin::ScriptBuf::from_bytes(vec![0x51]);
    let short = serialize(&tx);
    let root = merkle_root_from_path(
        txid_of(&short).expect("decodes"),
        &template.coinbase_merkle_path,
    );
    let solved_short = solve_header(&template.header, root).expect("solvable");
    assert_rejected(
        &submit(&chain, &template, &short, &solved_short),
        "bad-cb-length",
    );

    // A regular (non-coinbase) transaction in the coinbase slot.
    let txid = chain.add_mempool_tx(1000).expect("fee ok");
    let not_coinbase = chain.get_transactions_by_txid(&[txid]).remove(0);
    let root = merkle_root_from_path(txid, &template.coinbase_merkle_path);
    let solved_nc = solve_header(&template.header, root).expect("solvable");
    assert_rejected(
        &submit(&chain, &template, &not_coinbase, &solved_nc),
        "bad-cb-missing",
    );

    assert_eq!(chain.tip().height, 0);
    assert!(submit(&chain, &template, &good, &solved).accepted);
}

#[test]
fn merkle_path_with_mempool_transactions() {
    let chain = DemoChain::new();
    chain.mine_blocks(1).expect("mined");
    let fees = [1_000i64, 5_000, 2_500, 700, 10_000];
    let txids: Vec<[u8; 32]> = fees
        .iter()
        .map(|f| chain.add_mempool_tx(*f).expect("fee ok"))
        .collect();
    assert_eq!(chain.mempool_len(), 5);

    let template = chain
        .create_template(CreateOptions::default())
        .expect("template");
    assert_eq!(template.tx_fees.len(), 5);
    // Same size, so ordered by fee.
    assert_eq!(template.tx_fees, vec![10_000, 5_000, 2_500, 1_000, 700]);
    assert_eq!(template.tx_sigops, vec![1; 5]);
    assert_eq!(template.total_fees(), 19_200);
    assert_eq!(
        template.coinbase.block_reward_remaining,
        5_000_000_000 + 19_200
    );
    assert_eq!(template.coinbase_merkle_path.len(), 3); // 6 leaves -> depth 3
    let mut sorted_template_txids = template.txids();
    sorted_template_txids.sort();
    let mut sorted = txids.clone();
    sorted.sort();
    assert_eq!(sorted_template_txids, sorted);

    // Full root from rust-bitcoin over the block with our coinbase swapped in.
    let (coinbase, solved) = solve(&template, &[9, 9, 9]);
    let mut block: Block = deserialize(&template.block).expect("decodes");
    block.txdata[0] = deserialize(&coinbase).expect("decodes");
    let full_root = block
        .compute_merkle_root()
        .expect("non-empty")
        .to_byte_array();
    let path_root = merkle_root_from_path(
        txid_of(&coinbase).expect("decodes"),
        &template.coinbase_merkle_path,
    );
    assert_eq!(path_root, full_root);
    let header: Header = deserialize(&solved.header).expect("header");
    assert_eq!(header.merkle_root.to_byte_array(), full_root);

    // Mempool lookups.
    let found = chain.get_transactions_by_txid(&[txids[0], [0x42; 32]]);
    let tx: Transaction = deserialize(&found[0]).expect("decodes");
    assert_eq!(tx.compute_txid().to_byte_array(), txids[0]);
    assert!(tx.input[0].witness.len() == 2, "segwit tx");
    assert!(found[1].is_empty());
    let by_wtxid = chain.get_transactions_by_wtxid(&[tx.compute_wtxid().to_byte_array()]);
    assert_eq!(by_wtxid[0], found[0]);

    // The whole block is accepted and drains the mempool.
    assert!(submit(&chain, &template, &coinbase, &solved).accepted);
    assert_eq!(chain.tip().height, 2);
    assert_eq!(chain.mempool_len(), 0);
    assert!(chain.get_transactions_by_txid(&[txids[0]])[0].is_empty());
    block.header = header;
    assert!(block.check_witness_commitment());
}

#[test]
fn use_mempool_false_and_reserved_weight_errors() {
    let chain = DemoChain::new();
    chain.add_mempool_tx(1234).expect("fee ok");
    let empty = chain
        .create_template(CreateOptions {
            use_mempool: false,
            ..CreateOptions::default()
        })
        .expect("template");
    assert!(empty.tx_fees.is_empty());
    assert_eq!(empty.coinbase.block_reward_remaining, 5_000_000_000);

    let err = chain
        .create_template(CreateOptions {
            block_reserved_weight: 0,
            ..CreateOptions::default()
        })
        .expect_err("too low");
    assert_eq!(
        err.to_string(),
        "block_reserved_weight (0) is lower than minimum safety value of (2000)"
    );
    assert!(matches!(err, ChainError::ReservedWeightTooLow(0)));
    let err = chain
        .create_template(CreateOptions {
            block_reserved_weight: 1999,
            ..CreateOptions::default()
        })
        .expect_err("too low");
    assert_eq!(
        err.to_string(),
        "block_reserved_weight (1999) is lower than minimum safety value of (2000)"
    );
    let err = chain
        .create_template(CreateOptions {
            block_reserved_weight: 4_000_001,
            ..CreateOptions::default()
        })
        .expect_err("too high");
    assert_eq!(
        err.to_string(),
        "block_reserved_weight (4000001) exceeds consensus maximum block weight (4000000)"
    );

    let min = chain
        .create_template(CreateOptions {
            block_reserved_weight: 2000,
            ..CreateOptions::default()
        })
        .expect("2000 is fine");
    assert_eq!(min.tx_fees, vec![1234]);
    // Reserving the whole block leaves no room for transactions (Core's "empty template").
    let full = chain
        .create_template(CreateOptions {
            block_reserved_weight: 4_000_000,
            ..CreateOptions::default()
        })
        .expect("4M is fine");
    assert!(full.tx_fees.is_empty());
    // Reserving all sigops leaves no room either.
    let no_sigops = chain
        .create_template(CreateOptions {
            coinbase_output_max_additional_sigops: 80_000,
            ..CreateOptions::default()
        })
        .expect("template");
    assert!(no_sigops.tx_fees.is_empty());

    assert!(matches!(
        chain.add_mempool_tx(-1),
        Err(ChainError::InvalidFee(-1))
    ));
    assert!(chain.add_mempool_tx(MAX_MONEY + 1).is_err());
}

#[test]
fn check_block_and_submit_block() {
    let chain = DemoChain::new();
    chain.add_mempool_tx(500).expect("fee ok");
    let template = chain
        .create_template(CreateOptions::default())
        .expect("template");
    let (coinbase, solved) = solve(&template, &[3, 3]);
    let mut block: Block = deserialize(&template.block).expect("decodes");
    block.txdata[0] = deserialize(&coinbase).expect("decodes");
    block.header = deserialize(&solved.header).expect("header");
    let bytes = serialize(&block);

    assert!(chain.check_block(&bytes, true, true).unwrap().accepted);
    // Bytes that do not decode fail the call with Core's exception text.
    for short in [&bytes[..bytes.len() - 3], &[][..]] {
        let e = chain.check_block(short, true, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SpanReader::read(): end of data: iostream error"
        );
    }

    let mut bad_root = block.clone();
    bad_root.header.merkle_root = bitcoin::TxMerkleNode::all_zeros();
    let bad_root_bytes = serialize(&bad_root);
    assert_rejected(
        &chain.check_block(&bad_root_bytes, false, true).unwrap(),
        "bad-txnmrklroot",
    );
    assert!(
        chain
            .check_block(&bad_root_bytes, false, false)
            .unwrap()
            .accepted
    );

    let mut unknown_tx = block.clone();
    unknown_tx
        .txdata
        .push(deserialize(&chain.get_transactions_by_txid(&template.txids())[0]).expect("tx"));
    unknown_tx.txdata[1].output[0].value = bitcoin::Amount::from_sat(1);
    // Keep the witness commitment consistent so only the unknown transaction is wrong.
    let witness_root = unknown_tx.witness_root().expect("witness root");
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    unknown_tx.txdata[0].output[1].script_pubkey = bitcoin::ScriptBuf::from_bytes(script);
    assert!(unknown_tx.check_witness_commitment());
    unknown_tx.header.merkle_root = unknown_tx.compute_merkle_root().expect("root");
    assert_rejected(
        &chain
            .check_block(&serialize(&unknown_tx), false, true)
            .unwrap(),
        "bad-txns-inputs-missingorspent",
    );

    let mut bad_bits = block.clone();
    bad_bits.header.bits = bitcoin::CompactTarget::from_consensus(0x1d00_ffff);
    assert_rejected(
        &chain
            .check_block(&serialize(&bad_bits), false, true)
            .unwrap(),
        "bad-diffbits",
    );

    let mut old = block.clone();
    old.header.time = 0;
    assert_rejected(
        &chain.check_block(&serialize(&old), false, true).unwrap(),
        "time-too-old",
    );
    old.header.time = u32::MAX;
    assert_rejected(
        &chain.check_block(&serialize(&old), false, true).unwrap(),
        "time-too-new",
    );

    let mut orphan = block.clone();
    orphan.header.prev_blockhash = bitcoin::BlockHash::from_byte_array([5; 32]);
    assert_rejected(
        &chain.check_block(&serialize(&orphan), false, true).unwrap(),
        "inconclusive-not-best-prevblk",
    );
    assert_rejected(
        &chain.submit_block(&serialize(&orphan)).unwrap(),
        "prev-blk-not-found",
    );

    // check_block never changes the chain; submit_block does.
    assert_eq!(chain.tip().height, 0);
    assert_eq!(chain.submit_block(&bytes).unwrap(), SubmitResult::ok());
    assert_eq!(chain.tip().hash, solved.block_hash);
    assert_eq!(chain.mempool_len(), 0);
    assert_rejected(&chain.submit_block(&bytes).unwrap(), "duplicate");
    assert_rejected(
        &chain.check_block(&bytes, true, true).unwrap(),
        "inconclusive-not-best-prevblk",
    );
}

#[test]
fn mine_blocks_heights_and_halving() {
    let chain = DemoChain::new();
    let mined = chain.mine_blocks(150).expect("mined");
    assert_eq!(mined.len(), 150);
    assert_eq!(mined.last().copied(), Some(chain.tip()));
    for (i, b) in mined.iter().enumerate() {
        assert_eq!(b.height, i as i32 + 1);
        assert_eq!(chain.block_hash_at(b.height), Some(b.hash));
    }
    let t = chain
        .create_template(CreateOptions::default())
        .expect("template");
    assert_eq!(t.height, 151);
    assert_eq!(t.coinbase.block_reward_remaining, regtest_subsidy(151));
    assert_eq!(t.coinbase.block_reward_remaining, 2_500_000_000);
    assert_eq!(t.coinbase.script_sig_prefix, bip34_height_prefix(151));
    assert_eq!(t.coinbase.script_sig_prefix, vec![0x02, 0x97, 0x00]);
    let (coinbase, solved) = solve(&t, &[]);
    assert!(
        submit(&chain, &t, &coinbase, &solved).accepted,
        "no extranonce needed above height 16"
    );
}

#[tokio::test]
async fn wait_tip_changed_wakes_on_block_and_times_out() {
    let chain = DemoChain::new();
    let genesis = chain.tip();

    // Timeout returns the unchanged tip.
    let start = Instant::now();
    let r = chain
        .wait_tip_changed(genesis.hash, Duration::from_millis(50))
        .await;
    assert_eq!(r, genesis);
    assert!(start.elapsed() >= Duration::from_millis(45));

    // A tip that already differs returns at once.
    let r = chain.wait_tip_changed([0x11; 32], Duration::MAX).await;
    assert_eq!(r, genesis);

    // A pending wait wakes when a block arrives.
    let waiter = {
        let chain = chain.clone();
        tokio::spawn(async move {
            chain
                .wait_tip_changed(genesis.hash, Duration::from_secs(10))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    chain.add_mempool_tx(1).expect("fee ok"); // a mempool change alone does not wake it
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    let mined = chain.mine_blocks(1).expect("mined");
    let woke = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("joined");
    assert_eq!(woke, mined[0]);
    assert_eq!(woke.height, 1);
}

#[tokio::test]
async fn interrupt_wakes_tip_waiters() {
    let chain = DemoChain::new();
    let tip = chain.tip();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let chain = chain.clone();
            tokio::spawn(async move { chain.wait_tip_changed(tip.hash, Duration::MAX).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    chain.interrupt();
    for w in waiters {
        let r = tokio::time::timeout(Duration::from_secs(2), w)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(r, BlockRef::NULL);
        assert!(r.is_null());
    }
    // With nobody waiting, the interrupt is kept for the next wait, once.
    chain.interrupt();
    assert!(chain
        .wait_tip_changed(tip.hash, Duration::from_secs(5))
        .await
        .is_null());
    assert_eq!(
        chain
            .wait_tip_changed(tip.hash, Duration::from_millis(10))
            .await,
        tip
    );
}

#[tokio::test]
async fn wait_next_semantics() {
    let chain = DemoChain::new();
    chain.mine_blocks(1).expect("mined");
    let opts = CreateOptions {
        block_reserved_weight: 3000,
        ..CreateOptions::default()
    };
    let template = chain.create_template(opts).expect("template");

    // Nothing changes: timeout gives None.
    assert!(chain
        .wait_next(&template, Duration::from_millis(30), MAX_MONEY)
        .await
        .is_none());
    assert!(chain
        .wait_next(&template, Duration::from_millis(30), 1)
        .await
        .is_none());
    // Threshold 0: a fresh template right away.
    let fresh = chain
        .wait_next(&template, Duration::from_secs(5), 0)
        .await
        .expect("fresh");
    assert_eq!(fresh.prev, template.prev);
    assert_eq!(fresh.options, opts);

    // Fee rise of at least the threshold wakes it; smaller rises do not.
    let waiter = {
        let (chain, template) = (chain.clone(), template.clone());
        tokio::spawn(async move {
            chain
                .wait_next(&template, Duration::from_secs(10), 1000)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    chain.add_mempool_tx(400).expect("fee ok");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    chain.add_mempool_tx(600).expect("fee ok");
    let next = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("joined")
        .expect("new template");
    assert_eq!(next.total_fees(), 1000);
    assert_eq!(next.prev, template.prev);

    // MAX_MONEY: only a tip change wakes it, with a template on the new tip.
    let waiter = {
        let (chain, template) = (chain.clone(), template.clone());
        tokio::spawn(async move {
            chain
                .wait_next(&template, Duration::from_secs(10), MAX_MONEY)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    chain.add_mempool_tx(1_000_000).expect("fee ok");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    let mined = chain.mine_blocks(1).expect("mined");
    let next = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("joined")
        .expect("new template");
    assert_eq!(next.prev, mined[0]);
    assert_eq!(next.height, 3);
    // The stale template gets a new one immediately.
    assert_eq!(
        chain
            .wait_next(&template, Duration::ZERO, MAX_MONEY)
            .await
            .map(|t| t.prev),
        Some(mined[0])
    );

    // interruptWait: pending wait returns None; an early interrupt is consumed by the next wait.
    let current = chain.create_template(opts).expect("template");
    let waiter = {
        let (chain, current) = (chain.clone(), current.clone());
        tokio::spawn(async move { chain.wait_next(&current, Duration::MAX, MAX_MONEY).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    current.interrupt_wait();
    let r = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("joined");
    assert!(r.is_none());
    current.interrupt_wait();
    assert!(chain
        .wait_next(&current, Duration::from_secs(5), 0)
        .await
        .is_none());
    assert!(chain
        .wait_next(&current, Duration::from_secs(5), 0)
        .await
        .is_some());
}
