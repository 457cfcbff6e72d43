//! `--bench KIND`: W untimed calls, then N timed calls on one client thread, one sample
//! (nanoseconds) per call.

use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;

use super::Session;
use crate::test_schema::TesterClient;

/// Size of the `data1m` payload.
pub const DATA1M: usize = 1024 * 1024;

/// What each benchmark call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchKind {
    /// `addInt64(i, 1)` through the async API.
    Context,
    /// `addInt64(i, 1)` through the blocking API from a plain OS thread.
    ContextBlocking,
    /// `addNoContext(i, 1)`.
    NoContext,
    /// `passData` of 1 MiB, returned length checked.
    Data1m,
}

impl BenchKind {
    /// Every kind, in the contract's order.
    pub const ALL: [BenchKind; 4] = [
        BenchKind::Context,
        BenchKind::ContextBlocking,
        BenchKind::NoContext,
        BenchKind::Data1m,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            BenchKind::Context => "context",
            BenchKind::ContextBlocking => "context-blocking",
            BenchKind::NoContext => "nocontext",
            BenchKind::Data1m => "data1m",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Option<BenchKind> {
        BenchKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The one JSON line a bench run prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Peer name (`rust`).
    pub peer: &'static str,
    /// Kind name.
    pub kind: &'static str,
    /// Timed calls.
    pub calls: usize,
    /// Per-call wall time, nanoseconds.
    pub samples_ns: Vec<u64>,
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `warmup` untimed and `calls` timed calls of `kind` on `session`.
pub async fn run_bench(
    session: &Session,
    kind: BenchKind,
    calls: usize,
    warmup: usize,
) -> anyhow::Result<BenchReport> {
    let t = session.tester.clone();
    let samples_ns = match kind {
        BenchKind::Context => {
            let mut out = Vec::with_capacity(calls);
            for i in 0..warmup + calls {
                let start = Instant::now();
                let a = i as i64;
                let got = t.add_int64(a, 1).await.context("addInt64")?;
                let ns = elapsed_ns(start);
                check_sum(got, a + 1)?;
                if i >= warmup {
                    out.push(ns);
                }
            }
            out
        }
        BenchKind::ContextBlocking => std::thread::Builder::new()
            .name("bench-blocking".into())
            .spawn(move || blocking_loop(&t, calls, warmup))?
            .join()
            .map_err(|_| anyhow!("the blocking bench thread panicked"))??,
        BenchKind::NoContext => {
            let mut out = Vec::with_capacity(calls);
            for i in 0..warmup + calls {
                let a = (i % 1_000_000) as i32;
                let start = Instant::now();
                let got = t.add_no_context(a, 1).await.context("addNoContext")?;
                let ns = elapsed_ns(start);
                if got != a + 1 {
                    bail!("addNoContext({a}, 1) = {got}");
                }
                if i >= warmup {
                    out.push(ns);
                }
            }
            out
        }
        BenchKind::Data1m => {
            let mut payload: Vec<u8> = (0..DATA1M).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::with_capacity(calls);
            for i in 0..warmup + calls {
                // The API takes the Vec by value: send back what came back, so the loop
                // does not add a copy of its own (a C++ caller passes a reference).
                let start = Instant::now();
                payload = t.pass_data(payload).await.context("passData")?;
                let ns = elapsed_ns(start);
                if payload.len() != DATA1M {
                    bail!("passData(1 MiB) returned {} bytes", payload.len());
                }
                if i >= warmup {
                    out.push(ns);
                }
            }
            out
        }
    };
    Ok(BenchReport {
        peer: "rust",
        kind: kind.name(),
        calls,
        samples_ns,
    })
}

fn check_sum(got: i64, want: i64) -> anyhow::Result<()> {
    if got != want {
        bail!("addInt64 returned {got}, expected {want}");
    }
    Ok(())
}

fn blocking_loop(t: &TesterClient, calls: usize, warmup: usize) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(calls);
    for i in 0..warmup + calls {
        let a = i as i64;
        let start = Instant::now();
        let got = t.add_int64_blocking(a, 1).context("addInt64 (blocking)")?;
        let ns = elapsed_ns(start);
        check_sum(got, a + 1)?;
        if i >= warmup {
            out.push(ns);
        }
    }
    Ok(out)
}
