//! The demo node's JSON-RPC (master `Rpc.executeRpc`), answering like Core's `JSONRPCExecBatch`
//! and its RPC methods: Core's key order, error codes and texts, JSON-RPC 1.0 and 2.0
//! replies, batches. The answers were checked against a real master node by the
//! differential harness (`interop-tests/fixtures/differential/master.json`).
//!
//! Offered methods: [`METHODS`]. Any other name fails like an unknown method on Core
//! (-32601 "Method not found").

use bitcoin::consensus::deserialize;
use mphub_chain::{miner, DemoChain};
use serde_json::{json, Value};

/// The RPC methods the demo node answers, with their parameter names in Core's order.
pub const METHODS: &[(&str, &[&str])] = &[
    ("echo", &[]),
    ("getbestblockhash", &[]),
    ("getblockchaininfo", &[]),
    ("getblockcount", &[]),
    ("getblockhash", &["height"]),
    ("getmempoolinfo", &[]),
    ("help", &["command"]),
    (
        "sendrawtransaction",
        &["hexstring", "maxfeerate", "maxburnamount"],
    ),
    ("uptime", &[]),
];

// Core's error codes (src/rpc/protocol.h).
const RPC_INVALID_REQUEST: i64 = -32600;
const RPC_METHOD_NOT_FOUND: i64 = -32601;
const RPC_PARSE_ERROR: i64 = -32700;
const RPC_MISC_ERROR: i64 = -1;
const RPC_TYPE_ERROR: i64 = -3;
const RPC_INVALID_PARAMETER: i64 = -8;
const RPC_DESERIALIZATION_ERROR: i64 = -22;
const RPC_TRANSACTION_ERROR: i64 = -25;
const RPC_TRANSACTION_REJECTED: i64 = -26;
const RPC_TRANSACTION_ALREADY_IN_CHAIN: i64 = -27;

/// What a master node answers over IPC to a request that is not JSON: the JSON reader's
/// failure surfaces as the text of a `std::out_of_range` from libstdc++ (observed on
/// /Satoshi:31.99.0/), with no `id` member.
const INVALID_JSON_MESSAGE: &str =
    "vector::_M_range_check: __n (which is 0) >= this->size() (which is 0)";

/// `sendrawtransaction`'s default `maxfeerate`: 0.10 BTC/kvB, in sat/kvB.
const DEFAULT_MAX_RAW_TX_FEE_RATE: i64 = 10_000_000;

type RpcResult = Result<Value, (i64, String)>;

/// Answers one JSON-RPC request text (an object or a batch array) like Core.
pub fn execute_rpc(chain: &DemoChain, request: &str) -> String {
    let parsed: Value = match serde_json::from_str(request) {
        Ok(v) => v,
        Err(_) => {
            return json!({"result": null, "error": {"code": RPC_PARSE_ERROR, "message": INVALID_JSON_MESSAGE}})
                .to_string()
        }
    };
    match parsed {
        Value::Array(batch) => {
            Value::Array(batch.iter().map(|r| request_one(chain, r)).collect()).to_string()
        }
        Value::Object(_) => request_one(chain, &parsed).to_string(),
        _ => json!({"result": null, "error": {"code": RPC_PARSE_ERROR, "message": "Top-level object parse error"}, "id": null})
            .to_string(),
    }
}

fn request_one(chain: &DemoChain, req: &Value) -> Value {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let v2 = req.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let outcome = match (req.get("method"), req.get("params")) {
        (None, _) => Err((RPC_INVALID_REQUEST, "Missing method".to_string())),
        (Some(m), _) if !m.is_string() => {
            Err((RPC_INVALID_REQUEST, "Method must be a string".to_string()))
        }
        (_, Some(p)) if !(p.is_array() || p.is_object() || p.is_null()) => Err((
            RPC_INVALID_REQUEST,
            "Params must be an array or object".to_string(),
        )),
        (Some(m), params) => call(chain, m.as_str().unwrap_or_default(), params),
    };
    match (outcome, v2) {
        (Ok(result), true) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        (Ok(result), false) => json!({"result": result, "error": null, "id": id}),
        (Err((code, message)), true) => {
            json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
        }
        (Err((code, message)), false) => {
            json!({"result": null, "error": {"code": code, "message": message}, "id": id})
        }
    }
}

/// Positional arguments from `params` (array, or object by Core's parameter names).
fn positional(names: &[&str], params: Option<&Value>) -> Result<Vec<Value>, (i64, String)> {
    match params {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::Object(o)) => {
            if let Some(unknown) = o.keys().find(|k| !names.contains(&k.as_str())) {
                return Err((
                    RPC_INVALID_PARAMETER,
                    format!("Unknown named parameter {unknown}"),
                ));
            }
            let last = names.iter().rposition(|n| o.contains_key(*n));
            Ok(names[..last.map_or(0, |i| i + 1)]
                .iter()
                .map(|n| o.get(*n).cloned().unwrap_or(Value::Null))
                .collect())
        }
        Some(_) => Err((
            RPC_INVALID_REQUEST,
            "Params must be an array or object".into(),
        )),
    }
}

/// UniValue's type names, as Core's type errors print them.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Core's "Wrong type passed" error for argument `index` (0-based) named `name`.
fn wrong_type(index: usize, name: &str, got: &Value, expected: &str) -> (i64, String) {
    (
        RPC_TYPE_ERROR,
        format!(
            "Wrong type passed:\n{{\n    \"Position {} ({name})\": \"JSON value of type {} is not of expected type {expected}\"\n}}",
            index + 1,
            type_name(got)
        ),
    )
}

/// The usage text the demo answers (code -1, as Core does with its help text) when the
/// number of arguments is wrong.
fn usage(method: &str, names: &[&str]) -> (i64, String) {
    (
        RPC_MISC_ERROR,
        format!(
            "{method} {}\n\n(mphub demo node: see doc/demo-node.md)",
            names.join(" ")
        ),
    )
}

fn call(chain: &DemoChain, method: &str, params: Option<&Value>) -> RpcResult {
    let Some((_, names)) = METHODS.iter().find(|(m, _)| *m == method) else {
        return Err((RPC_METHOD_NOT_FOUND, "Method not found".into()));
    };
    let args = positional(names, params)?;
    // `echo` takes anything; the others at most their named parameters.
    if method != "echo" && args.len() > names.len() {
        return Err(usage(method, names));
    }
    let tip = chain.tip();
    match method {
        "echo" => Ok(Value::Array(args)),
        "getblockcount" => Ok(json!(tip.height)),
        "getbestblockhash" => Ok(json!(miner::hash_to_rpc_hex(tip.hash))),
        "getblockhash" => {
            let height = match args.first() {
                None => return Err(usage(method, names)),
                Some(v) if !v.is_number() => return Err(wrong_type(0, "height", v, "number")),
                // UniValue::getInt<int>: a number that is no int (too large, a fraction).
                Some(v) => v
                    .as_i64()
                    .and_then(|h| i32::try_from(h).ok())
                    .ok_or((RPC_MISC_ERROR, "JSON integer out of range".to_string()))?,
            };
            chain
                .block_hash_at(height)
                .map(|h| json!(miner::hash_to_rpc_hex(h)))
                .ok_or((
                    RPC_INVALID_PARAMETER,
                    "Block height out of range".to_string(),
                ))
        }
        "getblockchaininfo" => Ok(blockchain_info(chain)),
        "getmempoolinfo" => Ok(mempool_info(chain)),
        "uptime" => Ok(json!(chain.uptime())),
        "help" => Ok(json!(format!(
            "mphub demo node RPCs: {}",
            METHODS
                .iter()
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        "sendrawtransaction" => send_raw_transaction(chain, &args),
        _ => Err((RPC_METHOD_NOT_FOUND, "Method not found".into())),
    }
}

/// Satoshis as Core prints a BTC amount (a JSON number with up to 8 decimals).
fn btc(sat: i64) -> Value {
    json!(sat as f64 / 100_000_000.0)
}

/// A fee rate in sat/kvB as BTC/kvB.
fn btc_per_kvb(sat_per_kvb: i64) -> Value {
    btc(sat_per_kvb)
}

fn mempool_info(chain: &DemoChain) -> Value {
    let info = chain.mempool_info();
    let (min_relay, incremental) = chain.relay_fees();
    // Memory use (`usage`) is the demo's own estimate: about 10 times the virtual size,
    // the ratio Core shows for small transactions; the harness does not compare it.
    json!({
        "loaded": true,
        "size": info.size,
        "bytes": info.bytes,
        "usage": info.bytes * 10,
        "total_fee": btc(info.total_fee),
        "maxmempool": 300_000_000,
        "mempoolminfee": btc_per_kvb(min_relay),
        "minrelaytxfee": btc_per_kvb(min_relay),
        "incrementalrelayfee": btc_per_kvb(incremental),
        "unbroadcastcount": info.unbroadcast,
        "permitbaremultisig": true,
        "maxdatacarriersize": 100_000,
        "limitclustercount": 64,
        "limitclustersize": 101_000,
        "optimal": true,
    })
}

fn blockchain_info(chain: &DemoChain) -> Value {
    let tip = chain.tip();
    let facts = chain.block_facts(tip.height);
    // Regtest's fixed target (bits 0x207fffff): every block adds work 2.
    let chainwork = format!("{:064x}", (u64::try_from(tip.height).unwrap_or(0) + 1) * 2);
    json!({
        "chain": "regtest",
        "blocks": tip.height,
        "headers": tip.height,
        "bestblockhash": miner::hash_to_rpc_hex(tip.hash),
        "bits": "207fffff",
        "target": format!("7fffff{}", "0".repeat(58)),
        "difficulty": 4.656542373906925e-10,
        "time": facts.as_ref().map_or(0, |f| f.time),
        "mediantime": chain.median_time_past(),
        "verificationprogress": 1,
        "initialblockdownload": chain.is_initial_block_download(),
        "chainwork": chainwork,
        "size_on_disk": 0,
        "pruned": false,
        "warnings": [],
    })
}

fn send_raw_transaction(chain: &DemoChain, args: &[Value]) -> RpcResult {
    let hex = match args.first() {
        None => {
            return Err(usage(
                "sendrawtransaction",
                &["hexstring", "maxfeerate", "maxburnamount"],
            ))
        }
        Some(Value::String(s)) => s,
        Some(v) => return Err(wrong_type(0, "hexstring", v, "string")),
    };
    let decode_failed = || {
        (
            RPC_DESERIALIZATION_ERROR,
            "TX decode failed. Make sure the tx has at least one input.".to_string(),
        )
    };
    let bytes = hex::decode(hex).map_err(|_| decode_failed())?;
    let tx: bitcoin::Transaction = deserialize(&bytes).map_err(|_| decode_failed())?;
    let rate = match args.get(1) {
        None | Some(Value::Null) => DEFAULT_MAX_RAW_TX_FEE_RATE,
        Some(v) => {
            let btc = v
                .as_f64()
                .ok_or_else(|| wrong_type(1, "maxfeerate", v, "number"))?;
            (btc * 100_000_000.0).round() as i64
        }
    };
    let vsize = i64::try_from(tx.vsize()).unwrap_or(i64::MAX);
    let max_fee = rate.saturating_mul(vsize) / 1000;
    // A zero rate means "no limit" in Core; accept_transaction takes 0 the same way.
    match chain.accept_transaction(&bytes, max_fee) {
        Ok(accepted) => Ok(json!(miner::hash_to_rpc_hex(accepted.txid))),
        Err(reject) => Err(match reject.reason.as_str() {
            "bad-txns-inputs-missingorspent" => (RPC_TRANSACTION_ERROR, reject.reason),
            "Transaction outputs already in utxo set" => {
                (RPC_TRANSACTION_ALREADY_IN_CHAIN, reject.reason)
            }
            r if r.starts_with("Fee exceeds maximum") => (RPC_TRANSACTION_ERROR, reject.reason),
            _ => (RPC_TRANSACTION_REJECTED, reject.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(chain: &DemoChain, request: &str) -> String {
        execute_rpc(chain, request)
    }

    #[test]
    fn replies_keep_cores_key_order() {
        let chain = DemoChain::new();
        assert_eq!(
            ask(&chain, r#"{"id":1,"method":"getblockcount"}"#),
            r#"{"result":0,"error":null,"id":1}"#
        );
        assert_eq!(
            ask(&chain, r#"{"jsonrpc":"2.0","id":2,"method":"nope"}"#),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}"#
        );
        assert_eq!(
            ask(&chain, "{"),
            format!(
                r#"{{"result":null,"error":{{"code":-32700,"message":"{INVALID_JSON_MESSAGE}"}}}}"#
            )
        );
    }

    #[test]
    fn arguments_are_checked_like_core() {
        let chain = DemoChain::new();
        let r: Value = serde_json::from_str(&ask(
            &chain,
            r#"{"id":1,"method":"getblockhash","params":["x"]}"#,
        ))
        .unwrap();
        assert_eq!(r["error"]["code"], -3);
        let r: Value = serde_json::from_str(&ask(
            &chain,
            r#"{"id":1,"method":"getblockhash","params":{"height":0}}"#,
        ))
        .unwrap();
        assert_eq!(
            r["result"],
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
        );
        let r: Value = serde_json::from_str(&ask(
            &chain,
            r#"{"id":1,"method":"getblockhash","params":{"hieght":0}}"#,
        ))
        .unwrap();
        assert_eq!(r["error"]["message"], "Unknown named parameter hieght");
        let r: Value = serde_json::from_str(&ask(
            &chain,
            r#"{"id":1,"method":"sendrawtransaction","params":["zz"]}"#,
        ))
        .unwrap();
        assert_eq!(r["error"]["code"], -22);
    }
}
