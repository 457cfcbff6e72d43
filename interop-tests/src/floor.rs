//! The floor every IPC figure is compared with: two processes exchanging fixed-size
//! messages over a unix socket with plain blocking reads and writes, no RPC at all.
//!
//! The harness re-executes itself as both ends (hidden subcommands), so the floor runs
//! under exactly the same process set-up (and `taskset`) as the peers.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde::Serialize;

/// Message size of the ping-pong floor.
pub const PINGPONG_BYTES: usize = 64;
/// Message size of the bandwidth floor (1 MiB each way).
pub const ECHO_BYTES: usize = 1024 * 1024;

/// Largest message size the echo server accepts (protects it from a bad header).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Echo server: for each connection, read the message size (u32 LE), then echo messages
/// of that size until EOF. Connections are served one at a time, forever.
pub fn serve(socket: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).with_context(|| format!("binding {}", socket.display()))?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        // A broken connection only ends that connection.
        let _ = echo_connection(&mut stream);
    }
    Ok(())
}

fn echo_connection(stream: &mut UnixStream) -> anyhow::Result<()> {
    let mut header = [0u8; 4];
    if stream.read_exact(&mut header).is_err() {
        return Ok(()); // readiness probe: connect and close
    }
    let size = u32::from_le_bytes(header) as usize;
    if size == 0 || size > MAX_BYTES {
        bail!("bad message size {size}");
    }
    let mut buf = vec![0u8; size];
    loop {
        match stream.read_exact(&mut buf) {
            Ok(()) => stream.write_all(&buf)?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The JSON line the floor client prints (same shape as a peer's bench output).
#[derive(Debug, Serialize)]
pub struct FloorReport {
    /// Always `floor`.
    pub peer: &'static str,
    /// `pingpong` or `echo1m`.
    pub kind: String,
    /// Timed round trips.
    pub calls: usize,
    /// Per round trip, nanoseconds.
    pub samples_ns: Vec<u64>,
}

/// Floor client: `warmup` untimed and `calls` timed round trips of `size` bytes.
pub fn client(socket: &Path, size: usize, calls: usize, warmup: usize) -> anyhow::Result<Vec<u64>> {
    let mut stream =
        UnixStream::connect(socket).with_context(|| format!("connecting {}", socket.display()))?;
    let header = u32::try_from(size).context("message size")?.to_le_bytes();
    stream.write_all(&header)?;
    let out_buf: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut in_buf = vec![0u8; size];
    let mut samples = Vec::with_capacity(calls);
    for i in 0..warmup + calls {
        let start = Instant::now();
        stream.write_all(&out_buf)?;
        stream.read_exact(&mut in_buf)?;
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if i >= warmup {
            samples.push(ns);
        }
    }
    if in_buf != out_buf {
        bail!("the echo server returned different bytes");
    }
    Ok(samples)
}
