//! `--bench KIND`: W untimed calls, then N timed calls on one client thread, one sample
//! (nanoseconds) per call; and the load kinds (`--threads T`): many client threads at
//! once, or many remote threads on one server (doc/interop.md).

use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;

use std::future::IntoFuture as _;

use super::{Session, Target};
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
    /// T OS threads, each N blocking `addInt64` calls, all on one connection.
    ConcurrentOne,
    /// T OS threads, each N blocking `addInt64` calls on a connection of its own.
    ConcurrentEach,
    /// T − 1 remote threads made and kept (one call each), then N timed `addInt64`.
    Scale,
}

impl BenchKind {
    /// Every kind, in the contract's order.
    pub const ALL: [BenchKind; 7] = [
        BenchKind::Context,
        BenchKind::ContextBlocking,
        BenchKind::NoContext,
        BenchKind::Data1m,
        BenchKind::ConcurrentOne,
        BenchKind::ConcurrentEach,
        BenchKind::Scale,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            BenchKind::Context => "context",
            BenchKind::ContextBlocking => "context-blocking",
            BenchKind::NoContext => "nocontext",
            BenchKind::Data1m => "data1m",
            BenchKind::ConcurrentOne => "concurrent-one",
            BenchKind::ConcurrentEach => "concurrent-each",
            BenchKind::Scale => "scale",
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
    /// Per-call wall time, nanoseconds (all threads' calls for the concurrent kinds).
    pub samples_ns: Vec<u64>,
    /// Client threads (concurrent kinds) or remote threads held (scale).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Wall time of the whole timed part (concurrent kinds), nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ns: Option<u64>,
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `warmup` untimed and `calls` timed calls of `kind` on `session` (`threads` and
/// `target`, for more connections, are for the load kinds).
pub async fn run_bench(
    session: &Session,
    target: &Target,
    kind: BenchKind,
    calls: usize,
    warmup: usize,
    threads: usize,
) -> anyhow::Result<BenchReport> {
    let t = session.tester.clone();
    let mut report = BenchReport {
        peer: "rust",
        kind: kind.name(),
        calls,
        samples_ns: Vec::new(),
        threads: None,
        elapsed_ns: None,
    };
    report.samples_ns = match kind {
        BenchKind::ConcurrentOne | BenchKind::ConcurrentEach => {
            let threads = threads.max(1);
            let mut testers = Vec::with_capacity(threads);
            let mut sessions = Vec::new();
            for _ in 0..threads {
                if kind == BenchKind::ConcurrentOne {
                    testers.push(t.clone());
                } else {
                    let s = Session::open(target).await?;
                    testers.push(s.tester.clone());
                    sessions.push(s);
                }
            }
            let (samples, elapsed) =
                tokio::task::spawn_blocking(move || concurrent(testers, calls, warmup)).await??;
            report.threads = Some(threads);
            report.elapsed_ns = Some(elapsed);
            drop(sessions);
            samples
        }
        BenchKind::Scale => {
            let held = make_remote_threads(&t, threads.saturating_sub(1)).await?;
            report.threads = Some(threads.max(1));
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
            drop(held);
            out
        }
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
    Ok(report)
}

/// Each tester on its own OS thread: `warmup` untimed, then `calls` timed blocking
/// `addInt64`; all threads start the timed part together. Returns every sample and the
/// wall time from the common start to the last thread's end.
fn concurrent(
    testers: Vec<TesterClient>,
    calls: usize,
    warmup: usize,
) -> anyhow::Result<(Vec<u64>, u64)> {
    let start_line = std::sync::Arc::new(std::sync::Barrier::new(testers.len() + 1));
    let workers: Vec<_> = testers
        .into_iter()
        .enumerate()
        .map(|(n, t)| {
            let start_line = start_line.clone();
            std::thread::Builder::new()
                .name(format!("bench-{n}"))
                .spawn(move || -> anyhow::Result<Vec<u64>> {
                    for i in 0..warmup {
                        check_sum(t.add_int64_blocking(i as i64, 1)?, i as i64 + 1)?;
                    }
                    start_line.wait();
                    blocking_loop(&t, calls, 0)
                })
        })
        .collect::<Result<_, _>>()?;
    start_line.wait();
    let started = Instant::now();
    let mut samples = Vec::with_capacity(calls * workers.len());
    for w in workers {
        samples.extend(w.join().map_err(|_| anyhow!("a bench thread panicked"))??);
    }
    Ok((samples, elapsed_ns(started)))
}

/// Makes `n` remote threads on the server (one explicit strand each, one call on each,
/// 256 at a time) and returns them, so they stay alive.
async fn make_remote_threads(
    t: &TesterClient,
    n: usize,
) -> anyhow::Result<Vec<(mphub::Strand, TesterClient)>> {
    let mut held = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(256) {
        let batch: Vec<_> = (chunk_start..n.min(chunk_start + 256))
            .map(|i| -> anyhow::Result<_> {
                let strand = t.new_strand(&format!("scale-{i}"));
                let on = t.on_strand(&strand)?;
                Ok((strand, on))
            })
            .collect::<anyhow::Result<_>>()?;
        let calls = batch.iter().map(|(_, on)| on.add_int64(1, 1).into_future());
        for r in futures::future::join_all(calls).await {
            check_sum(r.context("addInt64 on a new remote thread")?, 2)?;
        }
        held.extend(batch);
    }
    Ok(held)
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
