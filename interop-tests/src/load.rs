//! The load part of `mphub-interop bench`: aggregate throughput of 1, 2, 4 and 8 client
//! threads (on one connection, and on a connection each), and a server holding 1,000 and
//! 10,000 remote threads (its peak RSS and call latency against 1 thread). Same-language pairs
//! only (rust⇄rust, and cpp-libmultiprocess⇄cpp-libmultiprocess when built), side by
//! side. Peers implement the `concurrent-one`, `concurrent-each` and `scale` bench
//! kinds (doc/interop.md).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::peers;
use crate::process::{self, Ended, Server};

/// Client thread counts of the concurrency figures.
pub const THREADS: [usize; 4] = [1, 2, 4, 8];

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What to measure.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Rounds (medians are reported).
    pub rounds: usize,
    /// Timed calls per client thread.
    pub calls: usize,
    /// Remote threads of the scale figure.
    pub scale_threads: usize,
}

/// One concurrency figure.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// `rust⇄rust` and the like.
    pub pair: String,
    /// `one` connection or `each` thread its own.
    pub connections: &'static str,
    /// Client threads.
    pub threads: usize,
    /// Median over rounds of all threads' calls ÷ wall time.
    pub calls_per_s: f64,
}

/// One scale figure.
#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    /// `rust⇄rust` and the like.
    pub pair: String,
    /// Remote threads the server held.
    pub threads: usize,
    /// Median over rounds of the server's peak resident size, bytes.
    pub server_peak_rss: u64,
    /// Median over rounds of the median call latency, nanoseconds.
    pub p50_ns: f64,
}

/// Everything the load part found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Concurrency figures.
    pub throughput: Vec<Throughput>,
    /// Scale figures.
    pub scale: Vec<Scale>,
    /// Runs that failed, with the reason.
    pub failures: Vec<String>,
    /// Pairs left out, with the reason.
    pub unavailable: Vec<String>,
}

#[derive(Deserialize)]
struct Line {
    samples_ns: Vec<u64>,
    elapsed_ns: Option<u64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs one client bench and returns its JSON line.
fn client(
    bin: &Path,
    socket: &Path,
    kind: &str,
    threads: usize,
    calls: usize,
) -> anyhow::Result<Line> {
    let mut cmd = process::command(bin, false);
    cmd.arg("client")
        .arg("--socket")
        .arg(socket)
        .args(["--bench", kind, "--threads", &threads.to_string()])
        .args([
            "--calls",
            &calls.to_string(),
            "--warmup",
            &(calls / 10).to_string(),
        ]);
    let done = process::run(cmd, RUN_TIMEOUT)?;
    if done.ended != Ended::Code(0) {
        let how = match done.ended {
            Ended::TimedOut => format!("did not finish within {} s", RUN_TIMEOUT.as_secs()),
            other => format!("{other:?}: {}", done.last_stderr_line().unwrap_or("")),
        };
        bail!("{kind} --threads {threads}: {how}");
    }
    let line = done
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line")?;
    Ok(serde_json::from_str(line)?)
}

/// A value from `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} line"))?;
    Ok(kib * 1024)
}

/// The pairs measured: each peer against itself.
fn pairs(report: &mut LoadReport) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for p in peers::registry() {
        if p.name != "rust" && p.name != "cpp-libmultiprocess" {
            continue;
        }
        match p.binary {
            Ok(bin) => out.push((p.name.to_string(), bin)),
            Err(why) => report.unavailable.push(format!("{}: {why}", p.name)),
        }
    }
    out
}

/// Runs the load figures.
pub fn run(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    let mut report = LoadReport::default();
    let pairs = pairs(&mut report);
    let dir = tempfile::Builder::new()
        .prefix("mphub-load-")
        .tempdir()
        .context("creating a temp dir")?;
    // Concurrency: one long-lived server per pair; rounds interleave every variant.
    let mut servers = Vec::new();
    for (name, bin) in &pairs {
        servers.push(Server::start(bin, &["serve"], dir.path(), name, false)?);
    }
    let modes = [("one", "concurrent-one"), ("each", "concurrent-each")];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); pairs.len() * modes.len() * THREADS.len()];
    for _ in 0..opts.rounds {
        for (p, (name, bin)) in pairs.iter().enumerate() {
            for (m, (_, kind)) in modes.iter().enumerate() {
                for (t, &threads) in THREADS.iter().enumerate() {
                    let socket = servers[p].socket().to_path_buf();
                    match client(bin, &socket, kind, threads, opts.calls) {
                        Ok(Line {
                            elapsed_ns: Some(ns),
                            samples_ns,
                        }) if ns > 0 => {
                            let i = (p * modes.len() + m) * THREADS.len() + t;
                            rates[i].push(samples_ns.len() as f64 / (ns as f64 / 1e9));
                        }
                        Ok(_) => report
                            .failures
                            .push(format!("{name} {kind} --threads {threads}: no elapsed_ns")),
                        Err(e) => report.failures.push(format!("{name}: {e:#}")),
                    }
                }
            }
        }
    }
    drop(servers);
    for (p, (name, _)) in pairs.iter().enumerate() {
        for (m, (connections, _)) in modes.iter().enumerate() {
            for (t, &threads) in THREADS.iter().enumerate() {
                let v = std::mem::take(&mut rates[(p * modes.len() + m) * THREADS.len() + t]);
                if !v.is_empty() {
                    report.throughput.push(Throughput {
                        pair: format!("{name}⇄{name}"),
                        connections,
                        threads,
                        calls_per_s: median(v),
                    });
                }
            }
        }
    }
    // Scale: a fresh server per run, so its peak RSS belongs to that run. 1,000 as well,
    // so that a peer that cannot reach the full count still has a figure.
    let mut counts = vec![1, 1000, opts.scale_threads.max(1)];
    counts.sort_unstable();
    counts.dedup();
    let mut given_up = vec![false; pairs.len() * counts.len()];
    let mut peaks: Vec<Vec<f64>> = vec![Vec::new(); pairs.len() * counts.len()];
    let mut p50s: Vec<Vec<f64>> = vec![Vec::new(); pairs.len() * counts.len()];
    for round in 0..opts.rounds.clamp(1, 3) {
        for (p, (name, bin)) in pairs.iter().enumerate() {
            for (c, &threads) in counts.iter().enumerate() {
                if given_up[p * counts.len() + c] {
                    continue;
                }
                let label = format!("{name}-scale-{round}-{threads}");
                let server = Server::start(bin, &["serve"], dir.path(), &label, false)?;
                let outcome = client(bin, server.socket(), "scale", threads, opts.calls)
                    .and_then(|line| Ok((line, proc_status_bytes(server.pid(), "VmHWM")?)));
                server.stop();
                match outcome {
                    Ok((line, peak)) => {
                        let mut s = line.samples_ns;
                        s.sort_unstable();
                        let i = p * counts.len() + c;
                        peaks[i].push(peak as f64);
                        p50s[i].push(s.get(s.len() / 2).copied().unwrap_or(0) as f64);
                    }
                    Err(e) => {
                        // One failure (typically: not within the run timeout) is the figure.
                        given_up[p * counts.len() + c] = true;
                        report.failures.push(format!("{name} scale: {e:#}"));
                    }
                }
            }
        }
    }
    for (p, (name, _)) in pairs.iter().enumerate() {
        for (c, &threads) in counts.iter().enumerate() {
            let i = p * counts.len() + c;
            if !peaks[i].is_empty() {
                report.scale.push(Scale {
                    pair: format!("{name}⇄{name}"),
                    threads,
                    server_peak_rss: median(std::mem::take(&mut peaks[i])) as u64,
                    p50_ns: median(std::mem::take(&mut p50s[i])),
                });
            }
        }
    }
    Ok(report)
}

impl LoadReport {
    /// The figures as text, with ratios (against 1 thread, and rust against
    /// libmultiprocess when both ran).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\nconcurrency: blocking addInt64 from T client threads, aggregate calls/s (median)"
        );
        let _ = write!(s, "  {:<62}", "pair, connections");
        for t in THREADS {
            let _ = write!(s, "{:>16}", format!("T={t}"));
        }
        s.push('\n');
        let mut rows: Vec<(String, &'static str)> = Vec::new();
        for f in &self.throughput {
            if !rows.contains(&(f.pair.clone(), f.connections)) {
                rows.push((f.pair.clone(), f.connections));
            }
        }
        let rate = |pair: &str, conns: &str, t: usize| {
            self.throughput
                .iter()
                .find(|f| f.pair == pair && f.connections == conns && f.threads == t)
                .map(|f| f.calls_per_s)
        };
        for (pair, conns) in &rows {
            let what = if *conns == "one" {
                "one connection"
            } else {
                "a connection per thread"
            };
            let _ = write!(s, "  {:<62}", format!("{pair}, {what}"));
            let one = rate(pair, conns, 1);
            for t in THREADS {
                let cell = match (rate(pair, conns, t), one) {
                    (Some(r), Some(o)) if t > 1 => format!("{r:.0} ({:.2}×)", r / o),
                    (Some(r), _) => format!("{r:.0}"),
                    _ => "-".into(),
                };
                let _ = write!(s, "{cell:>16}");
            }
            s.push('\n');
        }
        for conns in ["one", "each"] {
            let lmp = "cpp-libmultiprocess⇄cpp-libmultiprocess";
            if rate(lmp, conns, 1).is_none() {
                continue;
            }
            let _ = write!(s, "  {:<62}", format!("rust ÷ libmultiprocess ({conns})"));
            for t in THREADS {
                let cell = match (rate("rust⇄rust", conns, t), rate(lmp, conns, t)) {
                    (Some(r), Some(l)) => format!("{:.2}×", r / l),
                    _ => "-".into(),
                };
                let _ = write!(s, "{cell:>16}");
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "\nscale: one server holding N remote threads (fresh server per run, medians)"
        );
        let _ = writeln!(
            s,
            "  {:<44}{:>8}{:>18}{:>16}{:>20}",
            "pair", "threads", "server peak RSS", "per thread", "p50 call"
        );
        for f in &self.scale {
            let base = self
                .scale
                .iter()
                .find(|b| b.pair == f.pair && b.threads == 1);
            let per_thread = match base {
                Some(b) if f.threads > 1 => format!(
                    "{:.1} KiB",
                    (f.server_peak_rss as f64 - b.server_peak_rss as f64)
                        / 1024.0
                        / (f.threads - 1) as f64
                ),
                _ => "-".into(),
            };
            let latency = match base {
                Some(b) if f.threads > 1 && b.p50_ns > 0.0 => {
                    format!("{:.1} µs ({:.2}×)", f.p50_ns / 1e3, f.p50_ns / b.p50_ns)
                }
                _ => format!("{:.1} µs", f.p50_ns / 1e3),
            };
            let _ = writeln!(
                s,
                "  {:<44}{:>8}{:>18}{:>16}{:>20}",
                f.pair,
                f.threads,
                format!("{:.1} MiB", f.server_peak_rss as f64 / (1024.0 * 1024.0)),
                per_thread,
                latency
            );
        }
        for u in &self.unavailable {
            let _ = writeln!(s, "  not measured: {u}");
        }
        for f in &self.failures {
            let _ = writeln!(s, "  FAILED: {f}");
        }
        s
    }
}
