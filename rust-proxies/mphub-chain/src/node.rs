//! Start and stop a real `bitcoin-node` on regtest for tests and demos.
//!
//! [`RegtestNode::start`] runs the given binary with IPC on a unix socket inside a data
//! directory the caller owns, waits until both the socket and JSON-RPC answer, and stops the
//! node when dropped (RPC `stop`, then `SIGTERM`, then `SIGKILL`), so a failing test never
//! leaves a node behind.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::rpc::{NodeRpc, RpcError};

/// How long a fresh regtest node may take to open its socket and answer RPC.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to shut down before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Errors from [`RegtestNode`].
#[derive(Debug, Error)]
pub enum NodeError {
    /// The binary could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary given.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The node exited before it was ready.
    #[error("{binary} exited during start-up ({status}); last log lines:\n{log_tail}")]
    Exited {
        /// The binary given.
        binary: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its `debug.log`.
        log_tail: String,
    },
    /// The node did not become ready in time.
    #[error("{binary} was not ready after {timeout:?} ({what}); last log lines:\n{log_tail}")]
    NotReady {
        /// The binary given.
        binary: PathBuf,
        /// The limit.
        timeout: Duration,
        /// What was still missing.
        what: String,
        /// The end of its `debug.log`.
        log_tail: String,
    },
    /// A local I/O error (picking ports, reading files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// The file in the data directory that takes the node's stderr.
const STDERR_FILE: &str = "bitcoin-node.stderr";

/// A `bitcoin-node` running on regtest with `-ipcbind=unix:<datadir>/node.sock`.
#[derive(Debug)]
pub struct RegtestNode {
    child: Option<Child>,
    binary: PathBuf,
    datadir: PathBuf,
    socket: PathBuf,
    rpc: NodeRpc,
    version: String,
}

impl RegtestNode {
    /// Starts `binary` on regtest in `datadir` (created if missing) with IPC, RPC on a free
    /// loopback port, no peers, and `-debug=ipc`. Returns once the IPC socket exists and
    /// RPC answers `getblockcount`.
    pub fn start(binary: &Path, datadir: &Path) -> Result<RegtestNode, NodeError> {
        RegtestNode::start_with_args(binary, datadir, &[])
    }

    /// [`RegtestNode::start`] with more command-line options after the usual ones
    /// (e.g. `-mocktime=1700000000`). With `-server=0` (no RPC server) it returns once the
    /// IPC socket exists; [`RegtestNode::version`] is then empty and RPC calls fail.
    pub fn start_with_args(
        binary: &Path,
        datadir: &Path,
        extra_args: &[String],
    ) -> Result<RegtestNode, NodeError> {
        std::fs::create_dir_all(datadir)?;
        let socket = datadir.join("node.sock");
        let rpc_port = free_port()?;
        let p2p_port = free_port()?;
        // A crash (an assertion, a C++ exception) prints only to stderr: keep it.
        let stderr = std::fs::File::create(datadir.join(STDERR_FILE))?;
        let child = Command::new(binary)
            .arg("-regtest")
            .arg(format!("-datadir={}", datadir.display()))
            .arg(format!("-ipcbind=unix:{}", socket.display()))
            .arg(format!("-rpcport={rpc_port}"))
            .arg(format!("-port={p2p_port}"))
            .args([
                "-connect=0",
                "-listen=0",
                "-server=1",
                "-debug=ipc",
                "-printtoconsole=0",
                "-fallbackfee=0.0001",
                // Lets tests spend the OP_TRUE coinbase outputs `mine_over_rpc` pays to
                // (a bare OP_TRUE input is non-standard otherwise).
                "-acceptnonstdtxn=1",
            ])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| NodeError::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        let mut node = RegtestNode {
            child: Some(child),
            binary: binary.to_owned(),
            datadir: datadir.to_owned(),
            socket,
            // Replaced once the cookie exists; a placeholder keeps `Drop` simple.
            rpc: NodeRpc::new(&format!("http://127.0.0.1:{rpc_port}/"), "", "")?,
            version: String::new(),
        };
        let rpc = !extra_args.iter().any(|a| a == "-server=0");
        node.wait_ready(rpc_port, rpc)?;
        Ok(node)
    }

    fn wait_ready(&mut self, rpc_port: u16, rpc: bool) -> Result<(), NodeError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let cookie = self.datadir.join("regtest").join(".cookie");
        let url = format!("http://127.0.0.1:{rpc_port}/");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(NodeError::Exited {
                        binary: self.binary.clone(),
                        status,
                        log_tail: self.log_tail(20),
                    });
                }
            }
            let missing = if !self.socket.exists() {
                Some("IPC socket".to_owned())
            } else if !rpc {
                return Ok(());
            } else if !cookie.exists() {
                Some("RPC cookie".to_owned())
            } else {
                let rpc = NodeRpc::from_cookie(&url, &cookie)?;
                // -28 ("Loading…", "Verifying…") means the node is still warming up.
                match rpc.call("getnetworkinfo", serde_json::json!([])) {
                    Ok(info) => {
                        self.version = info["subversion"].as_str().unwrap_or("").to_owned();
                        self.rpc = rpc;
                        return Ok(());
                    }
                    Err(e) => Some(format!("RPC: {e}")),
                }
            };
            if Instant::now() > deadline {
                return Err(NodeError::NotReady {
                    binary: self.binary.clone(),
                    timeout: START_TIMEOUT,
                    what: missing.unwrap_or_default(),
                    log_tail: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The IPC socket (`-ipcbind=unix:<datadir>/node.sock`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// A JSON-RPC client for this node (cookie auth).
    pub fn rpc(&self) -> &NodeRpc {
        &self.rpc
    }

    /// The node's user agent, e.g. `/Satoshi:31.99.0/`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the node process is still running (false once it exited, even by a crash).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The node's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The whole `regtest/debug.log` so far (empty if unreadable).
    pub fn debug_log(&self) -> String {
        let bytes =
            std::fs::read(self.datadir.join("regtest").join("debug.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// What the node printed to stderr so far (`<datadir>/bitcoin-node.stderr`): where an
    /// assertion or an uncaught exception that ends it shows.
    pub fn stderr(&self) -> String {
        let bytes = std::fs::read(self.datadir.join(STDERR_FILE)).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The last `lines` lines of `debug.log`.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.debug_log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Mines `n` blocks paying to `raw(51)` (anyone-can-spend OP_TRUE) over RPC and returns
    /// their hashes in RPC hex.
    pub fn mine_over_rpc(&self, n: u64) -> Result<Vec<String>, NodeError> {
        Ok(self.rpc.generatetodescriptor(n, "raw(51)")?)
    }

    /// Stops the node and waits for it: RPC `stop`, then `SIGTERM`, then `SIGKILL`, each
    /// after [`STOP_TIMEOUT`]. Returns its exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if self.rpc.stop().is_err() {
            signal(&child, libc::SIGTERM);
        }
        if let Some(status) = wait_for(&mut child, STOP_TIMEOUT) {
            return Some(status);
        }
        signal(&child, libc::SIGTERM);
        if let Some(status) = wait_for(&mut child, STOP_TIMEOUT) {
            return Some(status);
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for RegtestNode {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
    None
}

/// A loopback TCP port that was free a moment ago (the OS picks it).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
