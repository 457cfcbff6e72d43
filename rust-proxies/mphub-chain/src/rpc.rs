//! A minimal, blocking bitcoind JSON-RPC client for tests that drive a real `bitcoin-node`.
//!
//! It speaks JSON-RPC 1.0 over plain HTTP with Basic auth (usually from the node's `.cookie`
//! file) and only ever connects to a loopback address. Calls block the current thread; from
//! async code wrap them in `tokio::task::spawn_blocking`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use thiserror::Error;

/// Upper bound on a response body (`getblock` with verbosity 2 can be large).
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
/// Overall time limit of one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Errors from [`NodeRpc`].
#[derive(Debug, Error)]
pub enum RpcError {
    /// The URL is not `http://` or could not be parsed.
    #[error("invalid RPC URL {url:?}: {detail}")]
    BadUrl {
        /// The rejected URL.
        url: String,
        /// Why it was rejected.
        detail: &'static str,
    },
    /// The URL's host is not a loopback address.
    #[error("refusing to connect to {0:?}: only loopback addresses (127.0.0.0/8, [::1], localhost) are allowed")]
    NotLoopback(String),
    /// The cookie file could not be read.
    #[error("cannot read cookie file {path}: {source}")]
    Cookie {
        /// The cookie file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The cookie file is not `user:password`.
    #[error("malformed cookie file {0}: expected user:password")]
    BadCookie(PathBuf),
    /// Connecting, sending or receiving failed.
    #[error("HTTP transport error: {0}")]
    Transport(String),
    /// The server answered with an HTTP error and no JSON-RPC error object (e.g. 401 for bad
    /// credentials).
    #[error("HTTP status {status}: {body}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Response body (possibly empty).
        body: String,
    },
    /// The node returned a JSON-RPC error.
    #[error("RPC error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code (e.g. -32601 method not found, -8 invalid parameter).
        code: i64,
        /// Error message.
        message: String,
    },
    /// The reply was not the JSON-RPC shape expected.
    #[error("unexpected RPC response: {0}")]
    BadResponse(String),
}

/// A bitcoind JSON-RPC client bound to one loopback URL and one set of credentials.
#[derive(Debug)]
pub struct NodeRpc {
    agent: ureq::Agent,
    url: String,
    authorization: String,
    next_id: AtomicU64,
}

/// Checks that `url` is `http://HOST[:PORT][/PATH]` with a loopback HOST and returns it with
/// `localhost` replaced by `127.0.0.1`.
fn loopback_url(url: &str) -> Result<String, RpcError> {
    let bad = |detail| RpcError::BadUrl {
        url: url.to_owned(),
        detail,
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// URLs are supported"))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6
            .find(']')
            .ok_or_else(|| bad("unterminated IPv6 address"))?;
        (&authority[..close + 2], &v6[close + 1..])
    } else {
        match authority.find(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    if !port.is_empty() {
        let digits = port
            .strip_prefix(':')
            .ok_or_else(|| bad("garbage after host"))?;
        if digits.parse::<u16>().is_err() {
            return Err(bad("invalid port"));
        }
    }
    let host = match host.to_ascii_lowercase().as_str() {
        "localhost" => "127.0.0.1".to_owned(),
        "[::1]" => "[::1]".to_owned(),
        other => match other.parse::<Ipv4Addr>() {
            Ok(ip) if ip.is_loopback() => ip.to_string(),
            Ok(_) => return Err(RpcError::NotLoopback(host.to_owned())),
            Err(_) if other.is_empty() => return Err(bad("missing host")),
            Err(_) => return Err(RpcError::NotLoopback(host.to_owned())),
        },
    };
    Ok(format!("http://{host}{port}{path}"))
}

impl NodeRpc {
    /// A client for `url` (e.g. `http://127.0.0.1:18443/`) with explicit credentials.
    ///
    /// Fails unless the URL is plain `http://` to a loopback host (`127.0.0.0/8`, `[::1]`, or
    /// `localhost`, which is pinned to `127.0.0.1`). Proxy environment variables are ignored.
    pub fn new(url: &str, user: &str, password: &str) -> Result<Self, RpcError> {
        let url = loopback_url(url)?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .proxy(None)
            .build();
        Ok(NodeRpc {
            agent: ureq::Agent::new_with_config(config),
            url,
            authorization: format!("Basic {token}"),
            next_id: AtomicU64::new(1),
        })
    }

    /// A client authenticating with a node's cookie file (`<datadir>/regtest/.cookie`, which
    /// holds `__cookie__:<password>`). See [`NodeRpc::new`] for the URL rules.
    pub fn from_cookie(url: &str, cookie_path: impl AsRef<Path>) -> Result<Self, RpcError> {
        let path = cookie_path.as_ref();
        let contents = std::fs::read_to_string(path).map_err(|source| RpcError::Cookie {
            path: path.to_owned(),
            source,
        })?;
        let line = contents.lines().next().unwrap_or("").trim();
        let (user, password) = line
            .split_once(':')
            .filter(|(user, _)| !user.is_empty())
            .ok_or_else(|| RpcError::BadCookie(path.to_owned()))?;
        Self::new(url, user, password)
    }

    /// The (normalized) URL this client posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params` (a JSON array or object) and returns the `result` value.
    ///
    /// A JSON-RPC `error` in the reply becomes [`RpcError::Rpc`], whatever the HTTP status
    /// (bitcoind uses 500 and 404 for those); other non-200 replies become [`RpcError::Http`].
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body =
            json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params}).to_string();
        let mut response = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| RpcError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| RpcError::Transport(e.to_string()))?;
        let reply: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) if status == 200 => return Err(RpcError::BadResponse(format!("{e}: {text}"))),
            Err(_) => return Err(RpcError::Http { status, body: text }),
        };
        match reply.get("error") {
            Some(Value::Null) | None => {}
            Some(error) => {
                return Err(RpcError::Rpc {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| error.to_string()),
                })
            }
        }
        if status != 200 {
            return Err(RpcError::Http { status, body: text });
        }
        match reply {
            Value::Object(mut map) => map
                .remove("result")
                .ok_or_else(|| RpcError::BadResponse(format!("no result in {text}"))),
            _ => Err(RpcError::BadResponse(text)),
        }
    }

    fn call_as<T>(
        &self,
        method: &str,
        params: Value,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<T, RpcError> {
        let value = self.call(method, params)?;
        convert(&value).ok_or_else(|| RpcError::BadResponse(format!("{method} returned {value}")))
    }

    /// `getbestblockhash`: the tip hash in RPC hex (see
    /// [`rpc_hex_to_hash`](crate::miner::rpc_hex_to_hash)).
    pub fn getbestblockhash(&self) -> Result<String, RpcError> {
        self.call_as("getbestblockhash", json!([]), |v| {
            v.as_str().map(str::to_owned)
        })
    }

    /// `getblockcount`: the tip height.
    pub fn getblockcount(&self) -> Result<u64, RpcError> {
        self.call_as("getblockcount", json!([]), Value::as_u64)
    }

    /// `getblockhash`: the hash (RPC hex) of the active-chain block at `height`.
    pub fn getblockhash(&self, height: u64) -> Result<String, RpcError> {
        self.call_as("getblockhash", json!([height]), |v| {
            v.as_str().map(str::to_owned)
        })
    }

    /// `generatetodescriptor`: mines `n` blocks paying to `descriptor` (e.g. `"raw(51)"`, an
    /// OP_TRUE output) and returns their hashes (RPC hex).
    pub fn generatetodescriptor(&self, n: u64, descriptor: &str) -> Result<Vec<String>, RpcError> {
        self.call_as("generatetodescriptor", json!([n, descriptor]), |v| {
            v.as_array()?
                .iter()
                .map(|h| h.as_str().map(str::to_owned))
                .collect()
        })
    }

    /// `getblock`: `verbosity` 0 gives the block hex, 1 and 2 a JSON object.
    pub fn getblock(&self, hash: &str, verbosity: u8) -> Result<Value, RpcError> {
        self.call("getblock", json!([hash, verbosity]))
    }

    /// `submitblock`: `null` when the block was accepted, otherwise a reason string such as
    /// `"duplicate"` or `"high-hash"`.
    pub fn submitblock(&self, block_hex: &str) -> Result<Value, RpcError> {
        self.call("submitblock", json!([block_hex]))
    }

    /// `stop`: asks the node to shut down and returns its message.
    pub fn stop(&self) -> Result<String, RpcError> {
        self.call_as("stop", json!([]), |v| v.as_str().map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_must_be_loopback_http() {
        assert_eq!(
            loopback_url("http://127.0.0.1:18443/").ok().as_deref(),
            Some("http://127.0.0.1:18443/")
        );
        assert_eq!(
            loopback_url("http://localhost:18443").ok().as_deref(),
            Some("http://127.0.0.1:18443")
        );
        assert_eq!(
            loopback_url("http://[::1]:18443/wallet/w").ok().as_deref(),
            Some("http://[::1]:18443/wallet/w")
        );
        assert_eq!(
            loopback_url("http://127.1.2.3").ok().as_deref(),
            Some("http://127.1.2.3")
        );
        assert!(matches!(
            loopback_url("http://10.0.0.1:18443/"),
            Err(RpcError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_url("http://example.com/"),
            Err(RpcError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_url("https://127.0.0.1/"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(matches!(
            loopback_url("http://u:p@127.0.0.1/"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(matches!(
            loopback_url("http://127.0.0.1:notaport/"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(matches!(
            loopback_url("http://:80/"),
            Err(RpcError::BadUrl { .. })
        ));
        assert!(matches!(
            loopback_url("http://[::1/"),
            Err(RpcError::BadUrl { .. })
        ));
    }
}
