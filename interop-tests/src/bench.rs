//! The benchmark: every client⇄server pair over a unix socket, each kind, unpinned and
//! pinned (`taskset -c 0` on both processes), interleaved in rounds, against a socket
//! floor measured the same way (see `/work/shared/docs/performance-baseline.md` for
//! the method and reference figures).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::floor;
use crate::peers;
use crate::process::{self, Ended, Server};

/// The peer bench kinds of `doc/interop.md`.
pub const KINDS: [&str; 4] = ["context", "context-blocking", "nocontext", "data1m"];

/// A bench client is killed after this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Documented libmultiprocess C++⇄C++ `add(ctx)` latency as a multiple of the ping-pong
/// floor (performance-baseline.md: 579 µs / ~80 µs unpinned, 290 µs / 13.5 µs pinned).
const LIBMULTIPROCESS_DOC_RATIO: [f64; 2] = [7.0, 21.0];

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Rounds; each runs every variant once.
    pub rounds: usize,
    /// Timed calls per run of a small-message kind; 1 MiB kinds use a tenth (at least 20).
    pub calls: usize,
    /// `(client, server)` peer pairs; `None`: every available pair.
    pub pairs: Option<Vec<(String, String)>>,
    /// Kinds; `None`: all of [`KINDS`].
    pub kinds: Option<Vec<String>>,
    /// Also measure pinned to one CPU.
    pub pinned: bool,
    /// Also measure unpinned.
    pub unpinned: bool,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            rounds: 7,
            calls: 1000,
            pairs: None,
            kinds: None,
            pinned: true,
            unpinned: true,
            progress: false,
        }
    }
}

/// What a variant measures.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Subject {
    /// The raw socket floor (`pingpong` or `echo1m`).
    Floor,
    /// A client peer against a server peer.
    Pair {
        /// Client peer.
        client: String,
        /// Server peer.
        server: String,
    },
}

impl Subject {
    fn label(&self) -> String {
        match self {
            Subject::Floor => "floor: raw unix socket, two processes".into(),
            Subject::Pair { client, server } => format!("{client} ⇄ {server}"),
        }
    }

    fn is_pair(&self, client: &str, server: &str) -> bool {
        matches!(self, Subject::Pair { client: c, server: s } if c == client && s == server)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Variant {
    subject: Subject,
    kind: String,
    pinned: bool,
}

fn is_data_kind(kind: &str) -> bool {
    kind == "data1m" || kind == "echo1m"
}

/// One measured figure (all times in microseconds).
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// What ran.
    pub subject: Subject,
    /// Bench kind (`pingpong`/`echo1m` for the floor).
    pub kind: String,
    /// Both processes on CPU 0.
    pub pinned: bool,
    /// Rounds that produced samples.
    pub rounds: usize,
    /// Median of the per-round means.
    pub median_us: f64,
    /// Smallest per-round mean.
    pub min_us: f64,
    /// Largest per-round mean.
    pub max_us: f64,
    /// Median of all samples pooled.
    pub p50_us: f64,
    /// 99th percentile of all samples pooled.
    pub p99_us: f64,
    /// Calls per second at the median.
    pub calls_per_s: f64,
    /// MiB/s one way, for 1 MiB kinds.
    pub mib_per_s: Option<f64>,
    /// Latency kinds: median ÷ ping-pong floor. 1 MiB kinds: throughput ÷ raw echo
    /// throughput (a fraction).
    pub vs_floor: Option<f64>,
    /// Median ÷ the baseline pair's median for the same kind and pinning.
    pub vs_baseline: Option<f64>,
}

/// One of the performance targets, checked.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCheck {
    /// What is compared.
    pub what: String,
    /// Pinned figure.
    pub pinned: bool,
    /// Measured ratio.
    pub measured: Option<f64>,
    /// The bound.
    pub limit: f64,
    /// `true`: measured must be at most `limit`; `false`: at least.
    pub at_most: bool,
    /// Whether it holds (None when not measured).
    pub met: Option<bool>,
    /// How the comparison was made, when not directly.
    pub note: Option<String>,
}

/// Everything the bench found.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Rounds run.
    pub rounds: usize,
    /// Calls per small-message run.
    pub calls: usize,
    /// Calls per 1 MiB run.
    pub data_calls: usize,
    /// The pair the `vs_baseline` column divides by.
    pub baseline: Option<(String, String)>,
    /// Measured figures.
    pub figures: Vec<Figure>,
    /// The targets.
    pub targets: Vec<TargetCheck>,
    /// Variants that did not run (exit 77) with the reason.
    pub unsupported: Vec<String>,
    /// Variants that failed, with the reason.
    pub failures: Vec<String>,
    /// Unavailable peers.
    pub unavailable: Vec<String>,
    /// Warnings (debug builds).
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct SamplesLine {
    samples_ns: Vec<u64>,
}

#[derive(Default)]
struct Collected {
    round_means_ns: Vec<f64>,
    pooled_ns: Vec<u64>,
}

/// Long-lived servers, one per (server peer or floor, pinned), restarted if they die.
struct Servers {
    dir: tempfile::TempDir,
    running: HashMap<(String, bool), Server>,
}

impl Servers {
    fn socket(
        &mut self,
        name: &str,
        program: &Path,
        args: &[&str],
        pinned: bool,
    ) -> anyhow::Result<PathBuf> {
        let key = (name.to_string(), pinned);
        if let Some(s) = self.running.get_mut(&key) {
            if s.exited().is_none() {
                return Ok(s.socket().to_path_buf());
            }
            self.running.remove(&key);
        }
        let file = format!("{name}-{}", if pinned { "pinned" } else { "unpinned" });
        let s = Server::start(program, args, self.dir.path(), &file, pinned)?;
        let path = s.socket().to_path_buf();
        self.running.insert(key, s);
        Ok(path)
    }
}

fn parse_pairs_available(
    opts: &BenchOptions,
    unavailable: &mut Vec<String>,
) -> anyhow::Result<Vec<(String, PathBuf, String, PathBuf)>> {
    let registry = peers::registry();
    let lookup = |name: &str, unavailable: &mut Vec<String>| -> anyhow::Result<Option<PathBuf>> {
        let Some(p) = registry.iter().find(|p| p.name == name) else {
            bail!("unknown peer '{name}'");
        };
        match &p.binary {
            Ok(path) => Ok(Some(path.clone())),
            Err(why) => {
                let line = format!("peer {name}: {why}");
                if !unavailable.contains(&line) {
                    unavailable.push(line);
                }
                Ok(None)
            }
        }
    };
    let wanted: Vec<(String, String)> = match &opts.pairs {
        Some(p) => p.clone(),
        None => {
            let names: Vec<&str> = registry.iter().map(|p| p.name).collect();
            names
                .iter()
                .flat_map(|c| names.iter().map(move |s| (c.to_string(), s.to_string())))
                .collect()
        }
    };
    let mut out = Vec::new();
    for (c, s) in wanted {
        let cp = lookup(&c, unavailable)?;
        let sp = lookup(&s, unavailable)?;
        if let (Some(cp), Some(sp)) = (cp, sp) {
            out.push((c, cp, s, sp));
        }
    }
    Ok(out)
}

/// Runs the benchmark.
pub fn run(opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    let kinds: Vec<String> = match &opts.kinds {
        Some(k) => {
            for kind in k {
                if !KINDS.contains(&kind.as_str()) {
                    bail!("unknown bench kind '{kind}' (known: {})", KINDS.join(", "));
                }
            }
            k.clone()
        }
        None => KINDS.iter().map(|k| k.to_string()).collect(),
    };
    let mut unavailable = Vec::new();
    let pairs = parse_pairs_available(opts, &mut unavailable)?;
    let mut warnings = Vec::new();
    let mut pin_modes = Vec::new();
    if opts.unpinned {
        pin_modes.push(false);
    }
    if opts.pinned {
        if taskset_works() {
            pin_modes.push(true);
        } else {
            warnings.push(
                "`taskset -c 0 true` failed: no pinned figures (taskset is in util-linux)".into(),
            );
        }
    }
    if pin_modes.is_empty() {
        bail!("nothing to measure: both pinned and unpinned are off");
    }
    let data_calls = (opts.calls / 10).max(20);
    let me = std::env::current_exe().context("finding this executable")?;

    if cfg!(debug_assertions) {
        warnings.push("the harness is a debug build".to_string());
    }
    for (c, cp, s, sp) in &pairs {
        for (name, path) in [(c, cp), (s, sp)] {
            // Only cargo's profile decides how the Rust peer is optimised (the C++ peers'
            // build scripts pick their own flags).
            let w = format!("peer {name} is a debug build ({})", path.display());
            if name == "rust" && peers::is_debug_build(path) && !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    if !warnings.is_empty() {
        warnings.push(
            "for real numbers: cargo build --release -p mphub-interop -p mphub-test-peer && \
             target/release/mphub-interop bench"
                .into(),
        );
        for w in &warnings {
            eprintln!("mphub-interop bench: WARNING: {w}");
        }
    }

    let mut variants = Vec::new();
    for &pinned in &pin_modes {
        for kind in ["pingpong", "echo1m"] {
            variants.push(Variant {
                subject: Subject::Floor,
                kind: kind.into(),
                pinned,
            });
        }
        for (c, _, s, _) in &pairs {
            for kind in &kinds {
                variants.push(Variant {
                    subject: Subject::Pair {
                        client: c.clone(),
                        server: s.clone(),
                    },
                    kind: kind.clone(),
                    pinned,
                });
            }
        }
    }
    let bins: HashMap<&str, &Path> = pairs
        .iter()
        .flat_map(|(c, cp, s, sp)| [(c.as_str(), cp.as_path()), (s.as_str(), sp.as_path())])
        .collect();

    let mut servers = Servers {
        dir: tempfile::Builder::new()
            .prefix("mphub-bench-")
            .tempdir()
            .context("creating a temp dir")?,
        running: HashMap::new(),
    };
    let mut collected: HashMap<Variant, Collected> = HashMap::new();
    let mut dropped: HashMap<Variant, (bool, String)> = HashMap::new();
    let started = Instant::now();
    for round in 0..opts.rounds {
        // Rotate the order each round so that slow drifts spread over every variant.
        let n = variants.len();
        for i in 0..n {
            let v = &variants[(i + round) % n];
            if dropped.contains_key(v) {
                continue;
            }
            let calls = if is_data_kind(&v.kind) {
                data_calls
            } else {
                opts.calls
            };
            let warmup = calls / 10;
            let mut cmd;
            match &v.subject {
                Subject::Floor => {
                    let socket = servers.socket("floor", &me, &["__floor-server"], v.pinned)?;
                    let size = if v.kind == "echo1m" {
                        floor::ECHO_BYTES
                    } else {
                        floor::PINGPONG_BYTES
                    };
                    cmd = process::command(&me, v.pinned);
                    cmd.arg("__floor-client")
                        .arg("--socket")
                        .arg(&socket)
                        .arg("--size")
                        .arg(size.to_string());
                }
                Subject::Pair { client, server } => {
                    let (Some(cbin), Some(sbin)) =
                        (bins.get(client.as_str()), bins.get(server.as_str()))
                    else {
                        bail!("internal: no binary for {client} or {server}");
                    };
                    let socket = match servers.socket(server, sbin, &["serve"], v.pinned) {
                        Ok(s) => s,
                        Err(e) => {
                            dropped
                                .insert(v.clone(), (true, format!("server did not start: {e:#}")));
                            continue;
                        }
                    };
                    cmd = process::command(cbin, v.pinned);
                    cmd.arg("client")
                        .arg("--socket")
                        .arg(&socket)
                        .arg("--bench")
                        .arg(&v.kind);
                }
            }
            cmd.arg("--calls")
                .arg(calls.to_string())
                .arg("--warmup")
                .arg(warmup.to_string());
            let done = process::run(cmd, RUN_TIMEOUT)?;
            let reason = || done.last_stderr_line().unwrap_or("(no stderr)").to_string();
            match done.ended {
                Ended::Code(0) => {
                    let line = done
                        .stdout
                        .lines()
                        .rev()
                        .find(|l| l.trim_start().starts_with('{'));
                    let parsed = line.map(serde_json::from_str::<SamplesLine>).transpose();
                    match parsed {
                        Ok(Some(s)) if s.samples_ns.len() == calls => {
                            let c = collected.entry(v.clone()).or_default();
                            let mean = s.samples_ns.iter().map(|&x| x as f64).sum::<f64>()
                                / calls.max(1) as f64;
                            c.round_means_ns.push(mean);
                            c.pooled_ns.extend(s.samples_ns);
                        }
                        Ok(Some(s)) => {
                            dropped.insert(
                                v.clone(),
                                (
                                    true,
                                    format!("{} samples for {calls} calls", s.samples_ns.len()),
                                ),
                            );
                        }
                        Ok(None) => {
                            dropped.insert(v.clone(), (true, "no JSON line on stdout".into()));
                        }
                        Err(e) => {
                            dropped.insert(v.clone(), (true, format!("bad JSON line: {e}")));
                        }
                    }
                }
                Ended::Code(77) => {
                    let why = done
                        .stdout
                        .lines()
                        .find_map(|l| l.strip_prefix("SKIPPED:"))
                        .unwrap_or("exit 77")
                        .trim()
                        .to_string();
                    dropped.insert(v.clone(), (false, why));
                }
                Ended::Code(c) => {
                    dropped.insert(v.clone(), (true, format!("exit {c}: {}", reason())));
                }
                Ended::Signal(s) => {
                    dropped.insert(v.clone(), (true, format!("signal {s}: {}", reason())));
                }
                Ended::TimedOut => {
                    dropped.insert(
                        v.clone(),
                        (true, format!("killed after {} s", RUN_TIMEOUT.as_secs())),
                    );
                }
            }
        }
        if opts.progress {
            eprintln!(
                "mphub-interop bench: round {}/{} done ({:.0} s)",
                round + 1,
                opts.rounds,
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(servers);

    let mut report = BenchReport {
        rounds: opts.rounds,
        calls: opts.calls,
        data_calls,
        baseline: None,
        figures: Vec::new(),
        targets: Vec::new(),
        unsupported: Vec::new(),
        failures: Vec::new(),
        unavailable,
        warnings,
    };
    for v in &variants {
        if let Some((failed, why)) = dropped.get(v) {
            let line = format!(
                "{} {} ({}): {why}",
                v.subject.label(),
                v.kind,
                pin_name(v.pinned)
            );
            if *failed {
                report.failures.push(line);
            } else {
                report.unsupported.push(line);
            }
            continue;
        }
        if let Some(c) = collected.get(v) {
            report.figures.push(figure(v, c));
        }
    }
    fill_ratios(&mut report);
    report.targets = targets(&report);
    Ok(report)
}

/// Whether `taskset -c 0` can run a program here.
fn taskset_works() -> bool {
    process::command(Path::new("true"), true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pin_name(pinned: bool) -> &'static str {
    if pinned {
        "pinned"
    } else {
        "unpinned"
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64
}

fn figure(v: &Variant, c: &Collected) -> Figure {
    let mut means = c.round_means_ns.clone();
    means.sort_by(f64::total_cmp);
    let median = if means.is_empty() {
        f64::NAN
    } else if means.len() % 2 == 1 {
        means[means.len() / 2]
    } else {
        (means[means.len() / 2 - 1] + means[means.len() / 2]) / 2.0
    };
    let mut pooled = c.pooled_ns.clone();
    pooled.sort_unstable();
    let us = |ns: f64| ns / 1000.0;
    Figure {
        subject: v.subject.clone(),
        kind: v.kind.clone(),
        pinned: v.pinned,
        rounds: means.len(),
        median_us: us(median),
        min_us: us(means.first().copied().unwrap_or(f64::NAN)),
        max_us: us(means.last().copied().unwrap_or(f64::NAN)),
        p50_us: us(percentile(&pooled, 0.5)),
        p99_us: us(percentile(&pooled, 0.99)),
        calls_per_s: 1e9 / median,
        // 1 MiB per call each way: one-way MiB/s is calls per second.
        mib_per_s: is_data_kind(&v.kind).then(|| 1e9 / median),
        vs_floor: None,
        vs_baseline: None,
    }
}

fn find<'a>(figs: &'a [Figure], subject: &Subject, kind: &str, pinned: bool) -> Option<&'a Figure> {
    figs.iter()
        .find(|f| &f.subject == subject && f.kind == kind && f.pinned == pinned)
}

const BLOCKING_VS_LMP: &str = "rust⇄rust blocking ≤ 0.5× libmultiprocess C++⇄C++";

const BASELINE_CANDIDATES: [&str; 3] = ["cpp-libmultiprocess", "cpp-capnp", "rust"];

fn fill_ratios(report: &mut BenchReport) {
    let baseline = BASELINE_CANDIDATES.iter().find_map(|p| {
        report
            .figures
            .iter()
            .any(|f| f.subject.is_pair(p, p))
            .then(|| (p.to_string(), p.to_string()))
    });
    report.baseline = baseline.clone();
    let figs = report.figures.clone();
    for f in &mut report.figures {
        if is_data_kind(&f.kind) {
            if let Some(echo) = find(&figs, &Subject::Floor, "echo1m", f.pinned) {
                f.vs_floor = Some(echo.median_us / f.median_us);
            }
        } else if let Some(pp) = find(&figs, &Subject::Floor, "pingpong", f.pinned) {
            f.vs_floor = Some(f.median_us / pp.median_us);
        }
        if let (Subject::Pair { .. }, Some((c, s))) = (&f.subject, &baseline) {
            let base = Subject::Pair {
                client: c.clone(),
                server: s.clone(),
            };
            if let Some(b) = find(&figs, &base, &f.kind, f.pinned) {
                f.vs_baseline = Some(f.median_us / b.median_us);
            }
        }
    }
}

fn targets(report: &BenchReport) -> Vec<TargetCheck> {
    let rr = Subject::Pair {
        client: "rust".into(),
        server: "rust".into(),
    };
    let lmp = Subject::Pair {
        client: "cpp-libmultiprocess".into(),
        server: "cpp-libmultiprocess".into(),
    };
    let figs = &report.figures;
    let mut out = Vec::new();
    for pinned in [false, true] {
        if !figs.iter().any(|f| f.pinned == pinned) {
            continue;
        }
        let check =
            |what: &str, measured: Option<f64>, limit: f64, at_most: bool, note: Option<String>| {
                TargetCheck {
                    what: what.into(),
                    pinned,
                    measured,
                    limit,
                    at_most,
                    met: measured.map(|m| if at_most { m <= limit } else { m >= limit }),
                    note,
                }
            };
        let ctx = find(figs, &rr, "context", pinned).and_then(|f| f.vs_floor);
        out.push(check(
            "rust⇄rust async context ≤ 3× floor",
            ctx,
            3.0,
            true,
            None,
        ));

        let blocking = find(figs, &rr, "context-blocking", pinned);
        let cpp = find(figs, &lmp, "context-blocking", pinned)
            .or_else(|| find(figs, &lmp, "context", pinned));
        match (blocking, cpp) {
            (b, Some(c)) => out.push(check(
                BLOCKING_VS_LMP,
                b.map(|b| b.median_us / c.median_us),
                0.5,
                true,
                None,
            )),
            (b, None) => {
                let doc = LIBMULTIPROCESS_DOC_RATIO[usize::from(pinned)];
                out.push(check(
                    BLOCKING_VS_LMP,
                    b.and_then(|b| b.vs_floor),
                    doc / 2.0,
                    true,
                    Some(format!(
                        "no cpp-libmultiprocess ⇄ cpp-libmultiprocess pair measured: the blocking \
                         limit is half of libmultiprocess's documented ~{}× floor (unpinned) / \
                         ~{}× floor (pinned), from shared/docs/performance-baseline.md",
                        LIBMULTIPROCESS_DOC_RATIO[0], LIBMULTIPROCESS_DOC_RATIO[1]
                    )),
                ))
            }
        }
        let data = find(figs, &rr, "data1m", pinned).and_then(|f| f.vs_floor);
        out.push(check(
            "rust⇄rust 1 MiB echo ≥ 50% of raw socket echo",
            data,
            0.5,
            false,
            None,
        ));
    }
    out
}

/// Wraps `text` at spaces to `width` columns, with a newline after each line.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut fresh = true;
    for word in text.split(' ') {
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "  ".into();
        } else if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn fmt_rate(f: &Figure) -> String {
    match f.mib_per_s {
        Some(m) => format!("{m:.0} MiB/s"),
        None => format!("{:.0}/s", f.calls_per_s),
    }
}

fn fmt_ratio(r: Option<f64>, data: bool) -> String {
    match r {
        None => "-".into(),
        Some(r) if data => format!("{:.0}%", r * 100.0),
        Some(r) => format!("{r:.2}×"),
    }
}

impl BenchReport {
    /// True when a variant failed (not merely unsupported).
    pub fn has_failures(&self) -> bool {
        !self.failures.is_empty()
    }

    /// The report as text, within 100 columns.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "mphub-interop bench: {} rounds, {} calls per run ({} for 1 MiB kinds); µs per call,",
            self.rounds, self.calls, self.data_calls
        );
        let _ = writeln!(
            out,
            "median of per-round means [min..max], p50/p99 of pooled samples. ×floor: latency ÷"
        );
        let _ = writeln!(
            out,
            "ping-pong floor; for 1 MiB kinds, throughput as % of the raw socket 1 MiB echo."
        );
        if let Some((c, s)) = &self.baseline {
            let _ = writeln!(out, "×base: ÷ the same figure of {c} ⇄ {s}.");
        }
        for w in &self.warnings {
            out.push_str(&wrap(&format!("WARNING: {w}"), 100));
        }
        for pinned in [false, true] {
            let figs: Vec<&Figure> = self.figures.iter().filter(|f| f.pinned == pinned).collect();
            if figs.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n{}",
                if pinned {
                    "PINNED (taskset -c 0 on both processes)"
                } else {
                    "UNPINNED"
                }
            );
            let _ = writeln!(
                out,
                "  {:<18} {:>9} {:>19} {:>9} {:>9} {:>11} {:>7} {:>6}",
                "kind", "µs/call", "[min..max]", "p50", "p99", "rate", "×floor", "×base"
            );
            let mut last: Option<&Subject> = None;
            for f in figs {
                if last != Some(&f.subject) {
                    let _ = writeln!(out, "{}", f.subject.label());
                    last = Some(&f.subject);
                }
                let data = is_data_kind(&f.kind);
                let kind = match f.kind.as_str() {
                    "pingpong" => "ping-pong 64 B",
                    "echo1m" => "echo 1 MiB",
                    k => k,
                };
                let _ = writeln!(
                    out,
                    "  {:<18} {:>9.1} {:>19} {:>9.1} {:>9.1} {:>11} {:>7} {:>6}",
                    kind,
                    f.median_us,
                    format!("[{:.1}..{:.1}]", f.min_us, f.max_us),
                    f.p50_us,
                    f.p99_us,
                    fmt_rate(f),
                    if f.subject == Subject::Floor {
                        "-".into()
                    } else {
                        fmt_ratio(f.vs_floor, data)
                    },
                    fmt_ratio(f.vs_baseline, false),
                );
            }
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<52} {:>22} {:>22}",
                "target (limit per column)", "unpinned", "pinned"
            );
            let mut whats: Vec<&str> = Vec::new();
            for t in &self.targets {
                if !whats.contains(&t.what.as_str()) {
                    whats.push(&t.what);
                }
            }
            let cell = |t: Option<&TargetCheck>| -> String {
                let Some(t) = t else { return "-".into() };
                let pct = |x: f64| format!("{:.0}%", x * 100.0);
                let (v, limit) = if t.at_most {
                    (
                        t.measured.map_or("n/a".into(), |m| format!("{m:.2}×")),
                        format!("≤{}×", t.limit),
                    )
                } else {
                    (
                        t.measured.map_or("n/a".into(), pct),
                        format!("≥{}", pct(t.limit)),
                    )
                };
                let mark = match t.met {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => "?",
                };
                format!("{v} ({limit}) {mark}")
            };
            for what in whats {
                let get = |pinned| {
                    self.targets
                        .iter()
                        .find(|t| t.what == what && t.pinned == pinned)
                };
                let mark = if self
                    .targets
                    .iter()
                    .any(|t| t.what == what && t.note.is_some())
                {
                    " *"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{:<52} {:>22} {:>22}",
                    format!("{what}{mark}"),
                    cell(get(false)),
                    cell(get(true))
                );
            }
            if let Some(note) = self.targets.iter().find_map(|t| t.note.as_deref()) {
                out.push_str(&wrap(&format!("* {note}"), 100));
            }
        }
        for u in &self.unsupported {
            let _ = writeln!(out, "not supported: {u}");
        }
        for f in &self.failures {
            let _ = writeln!(out, "FAILED: {f}");
        }
        for u in &self.unavailable {
            let _ = writeln!(out, "SKIPPED: {u}");
        }
        out
    }

    /// Writes the report as JSON.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
