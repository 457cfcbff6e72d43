//! A session fuzzer: real clients' traffic, recorded, then mutated frame by frame and
//! replayed at a real server over its unix socket.
//!
//! ```text
//!  seed client ──▶ recording relay ──▶ server        (once: one session per scenario)
//!  fuzzer ── mutated session ──▶ server               (each case, on a fresh connection)
//!  fuzzer ── Bootstrap, one reply within 1 s ──▶ server   (after each case)
//! ```
//!
//! After every case the server must still run, answer a fresh connection within a
//! second, and stay within [`RSS_SLACK`] of its resident size at the start. A case that
//! breaks one of these is saved, and `--replay FILE` sends it again.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::peers;
use crate::process::{self, Server};

/// Growth of the server's resident set a run tolerates.
pub const RSS_SLACK: u64 = 64 * 1024 * 1024;

/// How long a fresh connection may take to get its `Bootstrap` answered.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// Which server to fuzz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// `mphub-test-peer serve` (schema/test), seeded by the Rust client's scenarios.
    Rust,
    /// `mphub serve` (the demo node, Core's schemas), seeded by CLI commands.
    Demo,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// The server.
    pub target: Target,
    /// How long to mutate and replay.
    pub duration: Duration,
    /// PRNG seed (the same seed and seeds give the same cases).
    pub seed: u64,
    /// Where failing cases are written.
    pub out: PathBuf,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct FuzzReport {
    /// Recorded seed sessions.
    pub seeds: usize,
    /// Mutated sessions replayed.
    pub cases: u64,
    /// Wall time of the mutation phase.
    pub elapsed: Duration,
    /// Server resident size at the start and the largest seen, in bytes.
    pub rss_start: u64,
    /// Largest resident size seen.
    pub rss_max: u64,
    /// Slowest answer to the liveness check.
    pub slowest_answer: Duration,
    /// The first failure, if any, and the file holding its case.
    pub failure: Option<(String, PathBuf)>,
}

impl FuzzReport {
    /// One paragraph for humans.
    pub fn render(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut s = format!(
            "fuzz: {} seed sessions, {} cases in {:.1} s ({:.0} cases/s); server RSS {:.1} MiB at \
             start, {:.1} MiB at most (+{:.1} MiB, limit +{} MiB); slowest liveness answer {:.1} ms\n",
            self.seeds,
            self.cases,
            self.elapsed.as_secs_f64(),
            self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9),
            mib(self.rss_start),
            mib(self.rss_max),
            mib(self.rss_max.saturating_sub(self.rss_start)),
            RSS_SLACK / (1024 * 1024),
            self.slowest_answer.as_secs_f64() * 1000.0
        );
        match &self.failure {
            None => s.push_str("fuzz: 0 crashes, 0 hangs, RSS within bounds\n"),
            Some((why, file)) => {
                s.push_str(&format!(
                    "fuzz: FAILED: {why}\n  case saved to {} (replay: mphub-interop fuzz --replay {0})\n",
                    file.display()
                ));
            }
        }
        s
    }
}

/// The server command and the seed clients of a target.
struct Plan {
    server: PathBuf,
    server_args: Vec<String>,
    /// Each seed client: program and arguments; `{}` is replaced by the relay socket.
    seeds: Vec<(PathBuf, Vec<String>)>,
}

fn plan(target: Target) -> anyhow::Result<Plan> {
    match target {
        Target::Rust => {
            let bin = peers::rust_peer().map_err(anyhow::Error::msg)?;
            // Every matrix scenario but the ones that kill the server or send 72 MiB.
            let scenarios = crate::matrix::SCENARIOS
                .iter()
                .filter(|s| !matches!(**s, "hostile-oversize" | "killed-mid-call"));
            Ok(Plan {
                server: bin.clone(),
                server_args: vec!["serve".into()],
                seeds: scenarios
                    .map(|s| {
                        let args = ["client", "--socket", "{}", "--scenario", s];
                        (bin.clone(), args.iter().map(|a| a.to_string()).collect())
                    })
                    .collect(),
            })
        }
        Target::Demo => {
            let bin = peers::cli_binary().map_err(anyhow::Error::msg)?;
            let commands: [&[&str]; 6] = [
                &["echo", "hello"],
                &["mining", "tip"],
                &["mining", "template"],
                &["mining", "wait-tip", "--timeout", "50"],
                &["mining", "mine", "--blocks", "1"],
                &["rpc", "getblockcount"],
            ];
            Ok(Plan {
                server: bin.clone(),
                server_args: vec!["serve".into()],
                seeds: commands
                    .iter()
                    .map(|c| {
                        let mut args = vec!["--connect".to_string(), "unix:{}".to_string()];
                        args.extend(c.iter().map(|a| a.to_string()));
                        (bin.clone(), args)
                    })
                    .collect(),
            })
        }
    }
}

/// Runs the fuzzer; `Ok` even when a case failed (see [`FuzzReport::failure`]).
pub fn run(opts: &FuzzOptions) -> anyhow::Result<FuzzReport> {
    let plan = plan(opts.target)?;
    let dir = tempfile::Builder::new()
        .prefix("mphub-fuzz-")
        .tempdir()
        .context("creating a temp dir")?;
    let args: Vec<&str> = plan.server_args.iter().map(String::as_str).collect();
    let mut server = Server::start(&plan.server, &args, dir.path(), "fuzzed", false)?;
    let mut seeds = Vec::new();
    for (i, (program, args)) in plan.seeds.iter().enumerate() {
        let session = record(&server, program, args, dir.path(), i)
            .with_context(|| format!("recording seed {i} ({args:?})"))?;
        let frames = split_frames(&session);
        if !frames.is_empty() {
            seeds.push(frames);
        }
    }
    if seeds.is_empty() {
        bail!("no seed session was recorded");
    }
    let bootstrap = seeds[0][0].clone();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut report = FuzzReport {
        seeds: seeds.len(),
        rss_start: rss(server.pid())?,
        ..FuzzReport::default()
    };
    report.rss_max = report.rss_start;
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let started = Instant::now();
    while started.elapsed() < opts.duration {
        let case = mutate(&mut rng, &seeds);
        replay(server.socket(), &case);
        report.cases += 1;
        let verdict = check(&mut server, &bootstrap, &mut report);
        if let Err(why) = verdict {
            let file = opts
                .out
                .join(format!(
                    "case-{:?}-{}-{}.bin",
                    opts.target, opts.seed, report.cases
                ))
                .to_path_buf();
            std::fs::write(&file, &case).with_context(|| format!("writing {}", file.display()))?;
            report.failure = Some((why, file));
            break;
        }
    }
    report.elapsed = started.elapsed();
    server.stop();
    Ok(report)
}

/// Sends a saved case to a fresh server of `target`, then checks it as a run does.
pub fn replay_file(target: Target, file: &Path) -> anyhow::Result<FuzzReport> {
    let plan = plan(target)?;
    let case = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let args: Vec<&str> = plan.server_args.iter().map(String::as_str).collect();
    let mut server = Server::start(&plan.server, &args, dir.path(), "replayed", false)?;
    // A seed's Bootstrap is enough for the liveness check.
    let (program, args) = &plan.seeds[0];
    let seed = split_frames(&record(&server, program, args, dir.path(), 0)?);
    let bootstrap = seed.first().cloned().context("the seed session is empty")?;
    let mut report = FuzzReport {
        seeds: 1,
        rss_start: rss(server.pid())?,
        ..FuzzReport::default()
    };
    report.rss_max = report.rss_start;
    let started = Instant::now();
    replay(server.socket(), &case);
    report.cases = 1;
    if let Err(why) = check(&mut server, &bootstrap, &mut report) {
        report.failure = Some((why, file.to_path_buf()));
    }
    report.elapsed = started.elapsed();
    server.stop();
    Ok(report)
}

/// The three checks after a case.
fn check(server: &mut Server, bootstrap: &[u8], report: &mut FuzzReport) -> Result<(), String> {
    if let Some(how) = server.exited() {
        return Err(format!("the server died ({how}): {}", server.log_tail()));
    }
    let took = answers(server.socket(), bootstrap)
        .map_err(|e| format!("a fresh connection was not answered within 1 s: {e}"))?;
    report.slowest_answer = report.slowest_answer.max(took);
    let now = rss(server.pid()).map_err(|e| format!("reading the server's RSS: {e}"))?;
    report.rss_max = report.rss_max.max(now);
    if now > report.rss_start + RSS_SLACK {
        return Err(format!(
            "the server's RSS grew from {} to {} MiB",
            report.rss_start / (1024 * 1024),
            now / (1024 * 1024)
        ));
    }
    Ok(())
}

/// Connects, sends a `Bootstrap` message, and waits for one whole reply frame.
fn answers(socket: &Path, bootstrap: &[u8]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut s = UnixStream::connect(socket)?;
    s.set_write_timeout(Some(ANSWER_WITHIN))?;
    s.write_all(bootstrap)?;
    let mut header = [0u8; 8];
    s.set_read_timeout(Some(ANSWER_WITHIN))?;
    s.read_exact(&mut header)?;
    let took = started.elapsed();
    if took > ANSWER_WITHIN {
        bail!("answered after {took:?}");
    }
    Ok(took)
}

/// The server's resident set in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")?;
    Ok(kib * 1024)
}

/// Runs one seed client through a relay to `server`, recording what the client sent.
fn record(
    server: &Server,
    program: &Path,
    args: &[String],
    dir: &Path,
    n: usize,
) -> anyhow::Result<Vec<u8>> {
    let relay = dir.join(format!("relay-{n}.sock"));
    let listener = UnixListener::bind(&relay)?;
    let relay_arg = relay.display().to_string();
    let mut cmd = process::command(program, false);
    cmd.args(args.iter().map(|a| a.replace("{}", &relay_arg)));
    let client = std::thread::spawn(move || process::run(cmd, Duration::from_secs(30)));
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let downstream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline || client.is_finished() {
                    bail!("the seed client never connected");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    };
    downstream.set_nonblocking(false)?;
    let upstream = UnixStream::connect(server.socket())?;
    let recorded = std::thread::spawn({
        let mut from = downstream.try_clone()?;
        let mut to = upstream.try_clone()?;
        move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
            all
        }
    });
    let back = std::thread::spawn({
        let mut from = upstream;
        let mut to = downstream;
        move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        }
    });
    let done = client
        .join()
        .map_err(|_| anyhow::anyhow!("the seed client thread panicked"))??;
    let session = recorded
        .join()
        .map_err(|_| anyhow::anyhow!("the recorder panicked"))?;
    let _ = back.join();
    let _ = std::fs::remove_file(&relay);
    if done.ended != process::Ended::Code(0) {
        bail!(
            "the seed client failed ({:?}): {}",
            done.ended,
            done.last_stderr_line().unwrap_or("")
        );
    }
    Ok(session)
}

/// Splits a recorded byte stream into whole Cap'n Proto frames (a torn tail is dropped).
pub fn split_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    let word = |i: usize| -> Option<u32> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    while let Some(first) = word(at) {
        let count = first as usize + 1;
        let table = 4 + 4 * count + if count % 2 == 0 { 4 } else { 0 };
        let mut body = 0usize;
        for i in 0..count {
            match word(at + 4 + 4 * i) {
                Some(w) => body += w as usize * 8,
                None => return frames,
            }
        }
        let end = at + table + body;
        if end > bytes.len() {
            break;
        }
        frames.push(bytes[at..end].to_vec());
        at = end;
    }
    frames
}

/// Values that tend to break decoders: zero, all ones, and Cap'n Proto pointers with
/// extreme offsets and counts (struct, list of each element size, far, capability).
fn interesting_word(rng: &mut fastrand::Rng) -> u64 {
    let offset = |rng: &mut fastrand::Rng| -> u64 {
        [0u64, 1, 0x3fff_ffff, 0x2000_0000, rng.u64(0..64)][rng.usize(0..5)]
    };
    match rng.u8(0..8) {
        0 => 0,
        1 => u64::MAX,
        // Struct pointer: offset, data words, pointer count.
        2 => (offset(rng) << 2) | (u64::from(rng.u16(..)) << 32) | (u64::from(rng.u16(..)) << 48),
        // List pointer: element size 0..7, up to 2^29 - 1 elements.
        3 => {
            1 | (offset(rng) << 2)
                | (u64::from(rng.u8(0..8)) << 32)
                | (u64::from(rng.u32(..) & 0x1fff_ffff) << 35)
        }
        // Far pointer into a segment that may not exist.
        4 => 2 | (offset(rng) << 3) | (u64::from(rng.u32(..)) << 32),
        // Capability pointer with some index.
        5 => 3 | (u64::from(rng.u32(..)) << 32),
        6 => rng.u64(..),
        _ => u64::from(rng.u32(..)),
    }
}

/// One mutated session: a seed with one to four structure-aware changes.
pub fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut frames = seeds[rng.usize(..seeds.len())].clone();
    let mut truncate_at = None;
    for _ in 0..rng.usize(1..=4) {
        if frames.is_empty() {
            break;
        }
        let f = rng.usize(..frames.len());
        match rng.u8(0..10) {
            // Flip a bit.
            0 | 1 => {
                let frame = &mut frames[f];
                let i = rng.usize(..frame.len());
                frame[i] ^= 1 << rng.u8(0..8);
            }
            // Overwrite a body word with an interesting value.
            2 | 3 => {
                let frame = &mut frames[f];
                let words = frame.len() / 8;
                if words > 1 {
                    let w = rng.usize(1..words) * 8;
                    frame[w..w + 8].copy_from_slice(&interesting_word(rng).to_le_bytes());
                }
            }
            // Corrupt the segment table: the count, or one size.
            4 => {
                let frame = &mut frames[f];
                let field = if rng.bool() { 0 } else { 4 };
                let value: u32 =
                    [0, 1, 511, 512, 0x00ff_ffff, u32::MAX, rng.u32(..)][rng.usize(0..7)];
                frame[field..field + 4].copy_from_slice(&value.to_le_bytes());
            }
            // Drop, duplicate or swap frames.
            5 => {
                frames.remove(f);
            }
            6 => {
                let copy = frames[f].clone();
                frames.insert(rng.usize(..=frames.len()), copy);
            }
            7 => {
                let g = rng.usize(..frames.len());
                frames.swap(f, g);
            }
            // A frame from another session.
            8 => {
                let other = &seeds[rng.usize(..seeds.len())];
                let frame = other[rng.usize(..other.len())].clone();
                frames.insert(rng.usize(..=frames.len()), frame);
            }
            // Cut the session short.
            _ => truncate_at = Some(rng.usize(0..=100)),
        }
    }
    let mut bytes: Vec<u8> = frames.concat();
    if let Some(percent) = truncate_at {
        bytes.truncate(bytes.len() * percent / 100);
    }
    bytes
}

/// Sends `case` on a fresh connection, reads whatever comes back, and hangs up once
/// the server has closed or gone quiet.
fn replay(socket: &Path, case: &[u8]) {
    let Ok(s) = UnixStream::connect(socket) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let drain = match s.try_clone() {
        Ok(mut r) => std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        }),
        Err(_) => return,
    };
    let mut w = s;
    let _ = w.write_all(case);
    // End of our half: the server processes what it got, then closes.
    let _ = w.shutdown(std::net::Shutdown::Write);
    let _ = drain.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_their_boundaries() {
        // Two frames: one segment of one word, then two segments (1 and 2 words).
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&[7; 8]);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[9; 24]);
        bytes.extend_from_slice(&[1, 2, 3]); // torn tail
        let frames = split_frames(&bytes);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 16);
        assert_eq!(frames[1].len(), 40);
    }

    #[test]
    fn mutation_is_deterministic_per_seed_and_changes_sessions() {
        let seeds = vec![vec![vec![0u8; 64], vec![1u8; 32]]];
        let a: Vec<_> = {
            let mut rng = fastrand::Rng::with_seed(7);
            (0..50).map(|_| mutate(&mut rng, &seeds)).collect()
        };
        let b: Vec<_> = {
            let mut rng = fastrand::Rng::with_seed(7);
            (0..50).map(|_| mutate(&mut rng, &seeds)).collect()
        };
        assert_eq!(a, b);
        let original = seeds[0].concat();
        assert!(a.iter().filter(|m| **m != original).count() > 40);
    }
}
