//! The scripted IPC session: every method of `Init`, `Echo`, `Mining`, `BlockTemplate` and
//! (master) `Rpc`, with valid, edge and invalid inputs, recorded as JSON.
//!
//! The session is deterministic given the node's state (regtest genesis) and `-mocktime`:
//! blocks are mined through IPC with a fixed coinbase (empty extranonce, bare `OP_TRUE`
//! payout) and the lowest nonce that meets the target, so two nodes that build the same
//! templates end up with the same chain, block for block.

use mphub::{Error, Text};
use mphub_bitcoin::client::{Mining, Node, Template};
use mphub_bitcoin::{master, CoreVersion};
use mphub_chain::{miner, CreateOptions};
use serde_json::{json, Value};

use super::fixture::{Recording, Step};

/// Bare `OP_TRUE`: spendable with an empty scriptSig (Core needs `-acceptnonstdtxn=1`).
const PAYOUT: [u8; 1] = [0x51];
/// Blocks mined in the session: enough for the first coinbase to mature (100 confirmations).
const BLOCKS: usize = 101;

pub(super) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A failed call as JSON: the peer's `what()` text, or the kind of local failure.
pub(super) fn error_json(e: &Error) -> Value {
    match e {
        Error::Remote { .. } => json!({"error": e.remote_what().unwrap_or_default()}),
        Error::Unimplemented(_) => json!({"unimplemented": true}),
        other => json!({"local_error": other.to_string()}),
    }
}

/// A call's result as JSON through `f`, or its failure as [`error_json`].
pub(super) fn answer<T>(r: mphub::Result<T>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(v) => f(v),
        Err(e) => error_json(&e),
    }
}

fn block_ref(b: Option<mphub_chain::BlockRef>) -> Value {
    match b {
        Some(b) => json!({"hash": hex(&b.hash), "height": b.height}),
        None => Value::Null,
    }
}

fn submit(r: mphub_chain::SubmitResult, version: CoreVersion) -> Value {
    match version {
        // v31's submitSolution answers a bare Bool.
        CoreVersion::V31 => json!({"result": r.accepted}),
        _ => json!({"result": r.accepted, "reason": r.reason, "debug": r.debug}),
    }
}

/// Records steps; a session failure (a call that should not fail at all, like `makeMining`)
/// aborts the session with that step named.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) steps: Vec<Step>,
}

impl Recorder {
    pub(super) fn record(&mut self, step: impl Into<String>, answer: Value) {
        let step = step.into();
        if std::env::var_os("MPHUB_DIFFERENTIAL_TRACE").is_some() {
            eprintln!("differential: {step}: {answer}");
        }
        self.steps.push(Step { step, answer });
    }
}

/// Everything about a template that a client can read.
async fn describe_template(t: &Template) -> Value {
    json!({
        "header": answer(t.header().await, |h| json!(hex(&h))),
        "block": answer(t.block().await, |b| json!(hex(&b))),
        "txFees": answer(t.tx_fees().await, |f| json!(f)),
        "txSigops": answer(t.tx_sigops().await, |s| json!(s)),
        "coinbaseTx": answer(t.coinbase_tx().await, |c| json!({
            "version": c.version,
            "sequence": c.sequence,
            "scriptSigPrefix": hex(&c.script_sig_prefix),
            "witness": c.witness.map(|w| hex(&w)),
            "blockRewardRemaining": c.block_reward_remaining,
            "requiredOutputs": c.required_outputs.iter().map(|o| hex(o)).collect::<Vec<_>>(),
            "lockTime": c.lock_time,
        })),
        "coinbaseMerklePath": answer(t.coinbase_merkle_path().await, |p| {
            json!(p.iter().map(|h| hex(h)).collect::<Vec<_>>())
        }),
    })
}

/// A solved block for `t`: (coinbase, version, time, nonce, block hash).
async fn solve(t: &Template) -> anyhow::Result<(Vec<u8>, miner::SolvedHeader)> {
    let header = t.header().await?;
    let cb = t.coinbase_tx().await?;
    let path = t.coinbase_merkle_path().await?;
    let coinbase = miner::build_coinbase(&cb, &[], &PAYOUT);
    let root = miner::merkle_root_from_path(miner::txid_of(&coinbase)?, &path);
    Ok((coinbase, miner::solve_header(&header, root)?))
}

/// The block `t` would be once solved: its serialization with the coinbase swapped in.
async fn solved_block(t: &Template) -> anyhow::Result<Vec<u8>> {
    use bitcoin::consensus::{deserialize, serialize};
    let (coinbase, solved) = solve(t).await?;
    let mut block: bitcoin::Block = deserialize(&t.block().await?)?;
    block.txdata[0] = deserialize(&coinbase)?;
    block.header = deserialize(&solved.header)?;
    Ok(serialize(&block))
}

/// Blocks submitted before a v31 session (see [`run`]).
pub const PREMINED: usize = 16;

/// `count` regtest blocks on top of genesis, the same on every run: coinbase version 1 with
/// scriptSig = height push + `OP_0`, 50 BTC to bare `OP_TRUE`, no witness; header version
/// `0x20000000`, time `mocktime + height`, lowest valid nonce.
pub fn premine_blocks(mocktime: u32, count: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    use bitcoin::blockdata::constants::genesis_block;
    use bitcoin::hashes::Hash;
    let mut prev = genesis_block(bitcoin::Network::Regtest).block_hash();
    let mut out = Vec::with_capacity(count);
    for height in 1..=count {
        let h = i64::try_from(height)?;
        let script_sig = bitcoin::script::Builder::new()
            .push_int(h)
            .push_opcode(bitcoin::opcodes::OP_0)
            .into_script();
        let coinbase = bitcoin::Transaction {
            version: bitcoin::transaction::Version::ONE,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn {
                previous_output: bitcoin::OutPoint::null(),
                script_sig,
                sequence: bitcoin::Sequence::MAX,
                witness: bitcoin::Witness::new(),
            }],
            output: vec![bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(50 * 100_000_000),
                script_pubkey: bitcoin::ScriptBuf::from_bytes(PAYOUT.to_vec()),
            }],
        };
        let header = bitcoin::block::Header {
            version: bitcoin::block::Version::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: bitcoin::TxMerkleNode::from_byte_array(
                coinbase.compute_txid().to_byte_array(),
            ),
            time: mocktime + u32::try_from(height)?,
            bits: bitcoin::CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        };
        let header_bytes = bitcoin::consensus::serialize(&header);
        let solved = miner::solve_header(&header_bytes, header.merkle_root.to_byte_array())?;
        let block = bitcoin::Block {
            header: bitcoin::consensus::deserialize(&solved.header)?,
            txdata: vec![coinbase],
        };
        prev = block.block_hash();
        out.push(bitcoin::consensus::serialize(&block));
    }
    Ok(out)
}

/// The lowest nonce whose header misses the target (regtest's target is met by about half
/// of all hashes, so "some other nonce" may well be valid too).
fn failing_nonce(header: &[u8; 80]) -> anyhow::Result<u32> {
    let mut h: bitcoin::block::Header = bitcoin::consensus::deserialize(header)?;
    let target = h.target();
    for nonce in 0..=u32::MAX {
        h.nonce = nonce;
        if !target.is_met_by(h.block_hash()) {
            return Ok(nonce);
        }
    }
    anyhow::bail!("every nonce meets the target")
}

async fn new_template(mining: &Mining, options: CreateOptions) -> anyhow::Result<Template> {
    mining
        .create_new_block(options, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("createNewBlock returned null"))
}

/// Runs the session against the node at `node` with the `version` schema and returns the
/// recording. Calls that a working node must answer (e.g. `Init.makeMining`) end the
/// session with an error naming the call.
///
/// On v31 the session first submits [`PREMINED`] blocks built by [`premine_blocks`] through
/// `submit_block` (the node's own way of taking a block: RPC `submitblock` on Core): a v31
/// node (v30.99) cannot make a template below height 17, where the BIP34 height push alone
/// is a one-byte scriptSig and its own check fails with `bad-cb-length`.
pub async fn run(
    node: &Node,
    version: CoreVersion,
    mocktime: u32,
    submit_block: &dyn Fn(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Recording> {
    let mut r = Recorder::default();
    if version == CoreVersion::V31 {
        let blocks = premine_blocks(mocktime, PREMINED)?;
        let mut hashes = Vec::new();
        for block in &blocks {
            submit_block(block)?;
            let b: bitcoin::Block = bitcoin::consensus::deserialize(block)?;
            hashes.push(hex(&bitcoin::hashes::Hash::to_byte_array(b.block_hash())));
        }
        r.record(
            format!("blocks 1..={PREMINED} submitted before the session"),
            json!(hashes),
        );
    }

    // Init and Echo.
    for text in ["", "hello", "₿ ünïcödé", &"x".repeat(10_000)] {
        let label = if text.len() > 20 {
            format!("{} bytes", text.len())
        } else {
            format!("{text:?}")
        };
        r.record(
            format!("Echo.echo {label}"),
            answer(node.echo(text).await, |t| json!(t.to_string_lossy())),
        );
    }
    r.record(
        "Init.makeMiningOld2",
        answer(node.make_mining_old2().await, |()| json!("ok")),
    );

    let mining = node
        .mining()
        .await
        .map_err(|e| anyhow::anyhow!("Init.makeMining: {e}"))?;
    anyhow::ensure!(
        mining.version() == version,
        "schema detected as {}",
        mining.version()
    );
    r.record(
        "Mining.isTestChain",
        answer(mining.is_test_chain().await, |b| json!(b)),
    );
    r.record(
        "Mining.isInitialBlockDownload at genesis",
        answer(mining.is_initial_block_download().await, |b| json!(b)),
    );
    let tip = mining
        .tip()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tip"))?;
    r.record("Mining.getTip at genesis", block_ref(Some(tip)));
    r.record(
        "Mining.waitTipChanged current tip, timeout 0",
        answer(mining.wait_tip_changed(tip.hash, 0.0).await, block_ref),
    );
    r.record(
        "Mining.waitTipChanged other tip, timeout 10 s",
        answer(mining.wait_tip_changed([0; 32], 10_000.0).await, block_ref),
    );

    // Template options: defaults, edges and invalid values.
    let t0 = new_template(&mining, CreateOptions::default()).await?;
    r.record("BlockTemplate at height 1", describe_template(&t0).await);
    for (label, options) in [
        (
            "blockReservedWeight=0",
            CreateOptions {
                block_reserved_weight: 0,
                ..CreateOptions::default()
            },
        ),
        (
            "blockReservedWeight=1999",
            CreateOptions {
                block_reserved_weight: 1999,
                ..CreateOptions::default()
            },
        ),
        (
            "blockReservedWeight=2000",
            CreateOptions {
                block_reserved_weight: 2000,
                ..CreateOptions::default()
            },
        ),
        (
            "blockReservedWeight=4000000",
            CreateOptions {
                block_reserved_weight: 4_000_000,
                ..CreateOptions::default()
            },
        ),
        (
            "blockReservedWeight=4000001",
            CreateOptions {
                block_reserved_weight: 4_000_001,
                ..CreateOptions::default()
            },
        ),
        (
            "coinbaseOutputMaxAdditionalSigops=80000",
            CreateOptions {
                coinbase_output_max_additional_sigops: 80_000,
                ..CreateOptions::default()
            },
        ),
        (
            "useMempool=false",
            CreateOptions {
                use_mempool: false,
                ..CreateOptions::default()
            },
        ),
    ] {
        let v = match mining.create_new_block(options, false).await {
            Ok(Some(t)) => json!({"header": answer(t.header().await, |h| json!(hex(&h)))}),
            Ok(None) => Value::Null,
            Err(e) => error_json(&e),
        };
        r.record(format!("Mining.createNewBlock {label}"), v);
    }

    // checkBlock on the unsolved template, the solved block, and garbage.
    let block0 = t0.block().await?;
    let solved0 = solved_block(&t0).await?;
    for (label, bytes, merkle, pow) in [
        ("template block, default options", &block0, true, true),
        ("template block, checkPow=false", &block0, true, false),
        (
            "template block, checkPow=false checkMerkleRoot=false",
            &block0,
            false,
            false,
        ),
        ("solved block", &solved0, true, true),
        ("3 bytes", &vec![1u8, 2, 3], true, true),
        ("empty", &Vec::new(), true, true),
    ] {
        r.record(
            format!("Mining.checkBlock {label}"),
            answer(
                mining.check_block(bytes.clone(), merkle, pow).await,
                |c| json!({"result": c.accepted, "reason": c.reason, "debug": c.debug}),
            ),
        );
    }

    // submitSolution: a wrong nonce, the right one, the same again.
    let (coinbase, solved) = solve(&t0).await?;
    let bad_nonce = failing_nonce(&solved.header)?;
    let mut hashes = Vec::new();
    for (label, nonce) in [
        ("wrong nonce", bad_nonce),
        ("solved", solved.nonce),
        ("again", solved.nonce),
    ] {
        let res = t0
            .submit_solution(solved.version, solved.timestamp, nonce, coinbase.clone())
            .await;
        r.record(
            format!("BlockTemplate.submitSolution {label}"),
            answer(res, |s| submit(s, version)),
        );
    }
    r.record(
        "BlockTemplate.submitSolution undecodable coinbase",
        answer(
            t0.submit_solution(
                solved.version,
                solved.timestamp,
                solved.nonce,
                vec![0xff; 4],
            )
            .await,
            |s| submit(s, version),
        ),
    );
    if version == CoreVersion::Master {
        r.record(
            "Mining.submitBlock block already on the chain",
            answer(mining.submit_block(solved0.clone()).await, |s| {
                submit(s, version)
            }),
        );
        r.record(
            "Mining.submitBlock 3 bytes",
            answer(mining.submit_block(vec![1, 2, 3]).await, |s| {
                submit(s, version)
            }),
        );
    }
    hashes.push(hex(&solved.block_hash));
    r.record(
        "Mining.isInitialBlockDownload after a block at mocktime",
        answer(mining.is_initial_block_download().await, |b| json!(b)),
    );
    let tip1 = mining
        .tip()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tip"))?;
    r.record("Mining.getTip after block 1", block_ref(Some(tip1)));

    // waitNext on the stale template: a new template at once.
    match t0.wait_next(10_000.0, 1).await {
        Ok(Some(t1)) => r.record(
            "BlockTemplate.waitNext after the tip moved",
            describe_template(&t1).await,
        ),
        Ok(None) => r.record("BlockTemplate.waitNext after the tip moved", Value::Null),
        Err(e) => r.record("BlockTemplate.waitNext after the tip moved", error_json(&e)),
    }

    // Mine to maturity of block 1's coinbase.
    for _ in 1..BLOCKS {
        let t = new_template(&mining, CreateOptions::default()).await?;
        let (coinbase, solved) = solve(&t).await?;
        let res = t
            .submit_solution(solved.version, solved.timestamp, solved.nonce, coinbase)
            .await?;
        anyhow::ensure!(
            res.accepted,
            "block {} rejected: {} {}",
            hashes.len() + 1,
            res.reason,
            res.debug
        );
        hashes.push(hex(&solved.block_hash));
    }
    r.record(
        format!("blocks 1..={BLOCKS} mined through IPC"),
        json!(hashes),
    );
    let tip = mining
        .tip()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tip"))?;
    r.record(
        format!("Mining.getTip after block {BLOCKS}"),
        block_ref(Some(tip)),
    );

    // Interrupts: the next wait returns at once with no result.
    mining.interrupt().await?;
    r.record(
        "Mining.waitTipChanged after Mining.interrupt",
        answer(mining.wait_tip_changed(tip.hash, 10_000.0).await, block_ref),
    );
    let t = new_template(&mining, CreateOptions::default()).await?;
    let waiter = t.clone();
    let wait =
        tokio::spawn(async move { waiter.wait_next(10_000.0, 1).await.map(|t| t.is_some()) });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    t.interrupt_wait().await?;
    let waited = wait
        .await
        .map_err(|e| anyhow::anyhow!("waitNext task: {e}"))?;
    r.record(
        "BlockTemplate.waitNext interrupted by interruptWait",
        answer(waited, |got| json!({"template": got})),
    );
    // Not compared: `waitNext` timing out. Under `-mocktime` Core's deadline is on the mocked
    // clock, which does not move, so the wait never times out (observed on master).

    if version == CoreVersion::Master {
        rpc_and_mempool(node, &mining, &mut r, &solved0).await?;
    }
    Ok(Recording { steps: r.steps })
}

/// Master only: `Rpc.executeRpc` requests, a transaction sent through it, and how the
/// mempool shows in `getTransactionsBy*` and templates.
async fn rpc_and_mempool(
    node: &Node,
    mining: &Mining,
    r: &mut Recorder,
    block1: &[u8],
) -> anyhow::Result<()> {
    let rpc = node
        .rpc()
        .await
        .map_err(|e| anyhow::anyhow!("Init.makeRpc: {e}"))?;
    let call = |request: String| {
        let rpc: master::RpcClient = rpc.clone();
        async move {
            let text = rpc
                .execute_rpc(Text::from(request), Text::from("/"), Text::from("mphub"))
                .await;
            answer(text, |t| {
                let t = t.to_string_lossy().into_owned();
                match serde_json::from_str::<Value>(&t) {
                    Ok(v) => json!({"json": v, "newline": t.ends_with('\n')}),
                    Err(_) => json!({"text": t}),
                }
            })
        }
    };
    let one = |method: &str, params: Value| {
        json!({"jsonrpc": "1.0", "id": "mphub", "method": method, "params": params}).to_string()
    };
    for (label, request) in [
        ("getblockcount", one("getblockcount", json!([]))),
        ("getbestblockhash", one("getbestblockhash", json!([]))),
        ("getblockhash 0", one("getblockhash", json!([0]))),
        ("getblockhash -1", one("getblockhash", json!([-1]))),
        ("getblockhash 1000", one("getblockhash", json!([1000]))),
        ("getblockhash \"x\"", one("getblockhash", json!(["x"]))),
        ("getblockhash 3000000000", one("getblockhash", json!([3_000_000_000u64]))),
        ("getblockhash 1.5", one("getblockhash", json!([1.5]))),
        (
            "getblockhash 99999999999999999999",
            r#"{"jsonrpc":"1.0","id":"mphub","method":"getblockhash","params":[99999999999999999999]}"#
                .to_string(),
        ),
        ("getblockhash no params", one("getblockhash", json!([]))),
        (
            "getblockhash named height",
            one("getblockhash", json!({"height": 1})),
        ),
        (
            "getblockhash too many params",
            one("getblockhash", json!([0, 1])),
        ),
        (
            "getblockhash unknown named param",
            one("getblockhash", json!({"hieght": 1})),
        ),
        ("getblockchaininfo", one("getblockchaininfo", json!([]))),
        ("getmempoolinfo", one("getmempoolinfo", json!([]))),
        ("uptime", one("uptime", json!([]))),
        ("echo", one("echo", json!(["a", 1, null]))),
        ("no such method", one("nosuchmethod", json!([]))),
        ("invalid JSON", "{\"method\": ".to_string()),
        ("not an object", "42".to_string()),
        ("method missing", json!({"id": 1, "params": []}).to_string()),
        (
            "method not a string",
            json!({"id": 1, "method": 7}).to_string(),
        ),
        (
            "params not array or object",
            json!({"id": 1, "method": "getblockcount", "params": 3}).to_string(),
        ),
        (
            "JSON-RPC 2.0",
            json!({"jsonrpc": "2.0", "id": 7, "method": "getblockcount"}).to_string(),
        ),
        (
            "JSON-RPC 2.0 error",
            json!({"jsonrpc": "2.0", "id": 8, "method": "nosuchmethod"}).to_string(),
        ),
        (
            "batch",
            json!([
                {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
                {"jsonrpc": "2.0", "id": 2, "method": "nosuchmethod"},
            ])
            .to_string(),
        ),
        ("empty batch", "[]".to_string()),
    ] {
        r.record(format!("Rpc.executeRpc {label}"), call(request).await);
    }

    // A transaction spending block 1's coinbase (matured), sent through the RPC.
    let block: bitcoin::Block = bitcoin::consensus::deserialize(block1)?;
    let cb = &block.txdata[0];
    let cb_txid = cb.compute_txid();
    let value = i64::try_from(cb.output[0].value.to_sat())?;
    let tx = miner::spend_op_true(
        bitcoin::hashes::Hash::to_byte_array(cb_txid),
        0,
        value,
        10_000,
    )?;
    let parsed: bitcoin::Transaction = bitcoin::consensus::deserialize(&tx)?;
    let txid = bitcoin::hashes::Hash::to_byte_array(parsed.compute_txid());
    let wtxid = bitcoin::hashes::Hash::to_byte_array(parsed.compute_wtxid());
    r.record(
        "Rpc.executeRpc sendrawtransaction",
        call(one("sendrawtransaction", json!([hex(&tx)]))).await,
    );
    r.record(
        "Rpc.executeRpc sendrawtransaction again",
        call(one("sendrawtransaction", json!([hex(&tx)]))).await,
    );
    r.record(
        "Rpc.executeRpc sendrawtransaction not hex",
        call(one("sendrawtransaction", json!(["zz"]))).await,
    );
    r.record(
        "Rpc.executeRpc sendrawtransaction spends a missing output",
        call(one(
            "sendrawtransaction",
            json!([hex(&miner::spend_op_true([7; 32], 0, value, 10_000)?)]),
        ))
        .await,
    );
    r.record(
        "Rpc.executeRpc getmempoolinfo with one transaction",
        call(one("getmempoolinfo", json!([]))).await,
    );
    let opt = |t: Vec<Option<Vec<u8>>>| {
        json!(t.iter().map(|t| t.as_deref().map(hex)).collect::<Vec<_>>())
    };
    r.record(
        "Mining.getTransactionsByTxID known, unknown",
        answer(mining.get_transactions_by_txid(&[txid, [9; 32]]).await, opt),
    );
    r.record(
        "Mining.getTransactionsByWitnessID known, unknown",
        answer(
            mining.get_transactions_by_wtxid(&[wtxid, [9; 32]]).await,
            opt,
        ),
    );
    r.record(
        "Mining.getTransactionsByTxID none",
        answer(mining.get_transactions_by_txid(&[]).await, opt),
    );
    let t = new_template(mining, CreateOptions::default()).await?;
    r.record(
        "BlockTemplate with the transaction",
        describe_template(&t).await,
    );
    let t = new_template(
        mining,
        CreateOptions {
            use_mempool: false,
            ..CreateOptions::default()
        },
    )
    .await?;
    r.record(
        "BlockTemplate useMempool=false with the transaction",
        describe_template(&t).await,
    );
    Ok(())
}
