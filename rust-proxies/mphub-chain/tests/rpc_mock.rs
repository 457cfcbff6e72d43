//! `NodeRpc` against a tiny fake bitcoind on 127.0.0.1 (no real node needed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use mphub_chain::rpc::{NodeRpc, RpcError};
use serde_json::{json, Value};

/// Serves `replies.len()` HTTP requests, answering each with (status, body) in order, and
/// reports every received (authorization header, JSON body).
fn fake_node(replies: Vec<(u16, String)>) -> (String, mpsc::Receiver<(String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (status, body) in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut auth = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    match name.to_ascii_lowercase().as_str() {
                        "authorization" => auth = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut request = vec![0u8; length];
            if reader.read_exact(&mut request).is_err() {
                return;
            }
            let _ = tx.send((
                auth,
                serde_json::from_slice(&request).unwrap_or(Value::Null),
            ));
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn cookie_auth_and_results() {
    let dir = std::env::temp_dir().join(format!("mphub-chain-rpc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let cookie = dir.join(".cookie");
    std::fs::write(&cookie, "__cookie__:s3cret").expect("write cookie");

    let hash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
    let (url, requests) = fake_node(vec![
        (200, json!({"result": hash, "error": null, "id": 1}).to_string()),
        (200, json!({"result": 101, "error": null, "id": 2}).to_string()),
        (200, json!({"result": [hash, hash], "error": null, "id": 3}).to_string()),
        (500, json!({"result": null, "error": {"code": -8, "message": "Block height out of range"}, "id": 4}).to_string()),
        (401, String::new()),
        (200, json!({"result": {"height": 0}, "error": null, "id": 6}).to_string()),
    ]);
    let rpc = NodeRpc::from_cookie(&url, &cookie).expect("loopback url, valid cookie");

    assert_eq!(rpc.getbestblockhash().expect("ok"), hash);
    let (auth, body) = requests.recv().expect("request");
    // base64("__cookie__:s3cret")
    assert_eq!(auth, "Basic X19jb29raWVfXzpzM2NyZXQ=");
    assert_eq!(body["method"], "getbestblockhash");
    assert_eq!(body["params"], json!([]));

    assert_eq!(rpc.getblockcount().expect("ok"), 101);
    assert_eq!(
        rpc.generatetodescriptor(2, "raw(51)").expect("ok"),
        vec![hash.to_owned(), hash.to_owned()]
    );
    let _ = requests.recv();
    let (_, body) = requests.recv().expect("request");
    assert_eq!(body["method"], "generatetodescriptor");
    assert_eq!(body["params"], json!([2, "raw(51)"]));

    match rpc.getblockhash(1000) {
        Err(RpcError::Rpc { code, message }) => {
            assert_eq!(code, -8);
            assert_eq!(message, "Block height out of range");
        }
        other => panic!("expected RPC error, got {other:?}"),
    }
    assert!(matches!(
        rpc.getblockcount(),
        Err(RpcError::Http { status: 401, .. })
    ));
    assert_eq!(rpc.getblock(hash, 1).expect("ok"), json!({"height": 0}));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_non_loopback_and_bad_cookies() {
    assert!(matches!(
        NodeRpc::new("http://192.168.1.1:8332/", "u", "p"),
        Err(RpcError::NotLoopback(_))
    ));
    let missing = std::env::temp_dir().join("mphub-chain-no-such-dir/.cookie");
    assert!(matches!(
        NodeRpc::from_cookie("http://127.0.0.1:1/", &missing),
        Err(RpcError::Cookie { .. })
    ));
    let dir = std::env::temp_dir().join(format!("mphub-chain-badcookie-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let cookie = dir.join(".cookie");
    std::fs::write(&cookie, "no-colon-here").expect("write");
    assert!(matches!(
        NodeRpc::from_cookie("http://127.0.0.1:1/", &cookie),
        Err(RpcError::BadCookie(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connection_refused_is_a_transport_error() {
    // Bind then drop to get a port that is (very likely) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let rpc = NodeRpc::new(&format!("http://127.0.0.1:{port}/"), "u", "p").expect("loopback");
    assert!(matches!(rpc.getblockcount(), Err(RpcError::Transport(_))));
}
