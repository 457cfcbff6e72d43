//! The `mphub` CLI against a real `bitcoin-node` (see `MPHUB_BITCOIN_NODE` in the README):
//! echo, tip, template, wait-tip, mine through IPC, and JSON-RPC over IPC on master nodes.
//! Prints `SKIPPED: …` and passes when the variable is unset.

use std::path::Path;
use std::process::Command;

use mphub_chain::RegtestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mphub");

fn mphub(node: &RegtestNode, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("--connect")
        .arg(format!("unix:{}", node.socket().display()))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mphub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "mphub {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn cli_against_real_bitcoin_node() {
    let Some(value) = std::env::var_os("MPHUB_BITCOIN_NODE") else {
        println!("SKIPPED: CLI real-node leg: MPHUB_BITCOIN_NODE is not set");
        return;
    };
    for binary in std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()) {
        check(&binary);
    }
}

/// Whether the node is one built from PR #29409 (detected over IPC, as the CLI does).
fn speaks_pr29409(node: &RegtestNode) -> bool {
    let rt = mphub::Runtime::new().unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let version = tokio.block_on(async {
        let client = mphub_bitcoin::client::Node::connect(&rt, node.socket(), None)
            .await
            .unwrap();
        client.detect_version().await.unwrap()
    });
    version == mphub_bitcoin::CoreVersion::Pr29409
}

fn check(binary: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let node = RegtestNode::start(binary, &dir.path().join("data"))
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    if speaks_pr29409(&node) {
        println!(
            "SKIPPED: {} speaks the PR #29409 schema: the CLI mining leg is for v31 and master nodes",
            binary.display()
        );
        return;
    }
    // v31 templates need height ≥ 16.
    node.mine_over_rpc(20).unwrap();

    assert_eq!(mphub(&node, &["echo", "hi there"])["result"], "hi there");

    let tip = mphub(&node, &["mining", "tip"]);
    assert_eq!(tip["height"], 20);
    assert_eq!(tip["hash"], node.rpc().getbestblockhash().unwrap());

    let template = mphub(&node, &["mining", "template"]);
    assert_eq!(template["height"], 21);
    assert_eq!(template["prev_hash"], tip["hash"]);
    assert_eq!(template["bits"], "207fffff");
    let core = template["core"].as_str().unwrap().to_owned();

    let waited = mphub(&node, &["mining", "wait-tip", "--timeout", "100"]);
    assert_eq!(waited["changed"], false);
    assert_eq!(waited["hash"], tip["hash"]);

    let mined = mphub(&node, &["mining", "mine", "--blocks", "2"]);
    assert_eq!(mined["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(mined["tip"]["height"], 22);
    assert_eq!(mined["tip"]["hash"], node.rpc().getbestblockhash().unwrap());
    assert_eq!(node.rpc().getblockcount().unwrap(), 22);

    if core == "master" {
        let count = mphub(&node, &["rpc", "getblockcount"]);
        assert_eq!(count["result"], 22);
    }
    println!(
        "PASSED: mphub CLI against {} ({}, schema {core})",
        binary.display(),
        node.version()
    );
}
