//! `mphub-interop`: the interop matrix and the benchmark (see `doc/interop.md`).
//!
//! ```text
//! mphub-interop matrix [--clients ..] [--servers ..] [--transports socket,spawn]
//!                      [--scenarios ..] [--json FILE]
//! mphub-interop bench [--rounds 7] [--calls N] [--pairs CLIENT:SERVER,..] [--kinds ..]
//!                     [--no-pinned | --only-pinned] [--json FILE]
//!                     [--no-load | --only-load] [--scale-threads 10000]
//! mphub-interop corpus [--compile-cost] [--rounds 5] DIR...
//! mphub-interop fuzz [--target rust|demo] [--seconds 60] [--seed N] [--out DIR]
//! mphub-interop fuzz --replay FILE [--target rust|demo]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use mphub_interop::bench::{self, BenchOptions};
use mphub_interop::matrix;
use mphub_interop::{corpus, floor, fuzz};

#[derive(Parser)]
#[command(
    name = "mphub-interop",
    about = "Interop matrix and benchmark for schema/test peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every client × server × transport × scenario cell; exit 1 on any failure.
    Matrix {
        #[command(flatten)]
        selection: matrix::MatrixSelection,
        /// Also write the results as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Measure every pair over a unix socket against the raw socket floor. Use release
    /// builds: cargo build --release -p mphub-interop -p mphub-test-peer.
    Bench {
        /// Rounds; each runs every variant once, in rotating order.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// Timed calls per run (1 MiB kinds: a tenth, at least 20).
        #[arg(long, default_value_t = 1000)]
        calls: usize,
        /// CLIENT:SERVER pairs (default: every available pair).
        #[arg(long, value_delimiter = ',')]
        pairs: Option<Vec<String>>,
        /// Kinds: context, context-blocking, nocontext, data1m (default: all).
        #[arg(long, value_delimiter = ',')]
        kinds: Option<Vec<String>>,
        /// Skip the pinned (taskset -c 0) figures.
        #[arg(long, conflicts_with = "only_pinned")]
        no_pinned: bool,
        /// Skip the unpinned figures.
        #[arg(long)]
        only_pinned: bool,
        /// Also write the results as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Skip the load figures (concurrency and scale).
        #[arg(long)]
        no_load: bool,
        /// Only the load figures.
        #[arg(long, conflicts_with = "no_load")]
        only_load: bool,
        /// Remote threads of the scale figure.
        #[arg(long, default_value_t = 10_000)]
        scale_threads: usize,
    },
    /// Generate, compile and smoke-run every `.capnp` of each schema folder (every
    /// interface served, every method called); exit 1 if any folder fails.
    Corpus {
        /// Schema folders (default: the folders in $MPHUB_SCHEMA_CORPUS, `:`-separated).
        dirs: Vec<PathBuf>,
        /// Also measure the debug build time of mphub's module against capnpc's output.
        #[arg(long)]
        compile_cost: bool,
        /// Rounds of the compile-time measurement (medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Replay recorded client sessions, mutated, at a real server over its socket; after
    /// each case the server must live, answer a fresh connection within 1 s and keep
    /// its RSS within 64 MiB of the start. Exit 1 on the first failing case (saved).
    Fuzz {
        /// The server: `rust` (mphub-test-peer serve) or `demo` (mphub serve).
        #[arg(long, value_enum, default_value = "rust")]
        target: fuzz::Target,
        /// How long to run.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// PRNG seed (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Where failing cases are saved.
        #[arg(long, default_value = "fuzz-failures")]
        out: PathBuf,
        /// Send one saved case to a fresh server instead.
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
    },
    /// The floor's echo server (the bench starts it).
    #[command(name = "__floor-server", hide = true)]
    FloorServer {
        #[arg(long)]
        socket: PathBuf,
    },
    /// The floor's client: prints one JSON line like a peer's bench run.
    #[command(name = "__floor-client", hide = true)]
    FloorClient {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        calls: usize,
        #[arg(long, default_value_t = 0)]
        warmup: usize,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("mphub-interop: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

/// `Ok(false)`: ran, and something failed.
fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Matrix { selection, json } => {
            let report = matrix::run(&selection.options(true)?)?;
            print!("{}", report.render());
            if let Some(path) = json {
                report.write_json(&path)?;
            }
            Ok(!report.has_failures())
        }
        Command::Bench {
            rounds,
            calls,
            pairs,
            kinds,
            no_pinned,
            only_pinned,
            json,
            no_load,
            only_load,
            scale_threads,
        } => {
            let mut ok = true;
            if !no_load {
                let load = mphub_interop::load::run(&mphub_interop::load::LoadOptions {
                    rounds,
                    calls,
                    scale_threads,
                })?;
                print!("{}", load.render());
                ok &= load.failures.is_empty();
                if only_load {
                    return Ok(ok);
                }
            }
            let pairs = pairs
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            p.split_once(':')
                                .map(|(c, s)| (c.to_string(), s.to_string()))
                                .ok_or_else(|| anyhow!("--pairs wants CLIENT:SERVER, got '{p}'"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
                .transpose()?;
            let report = bench::run(&BenchOptions {
                rounds,
                calls,
                pairs,
                kinds,
                pinned: !no_pinned,
                unpinned: !only_pinned,
                progress: true,
            })?;
            print!("{}", report.render());
            if let Some(path) = json {
                report.write_json(&path)?;
            }
            Ok(ok && !report.has_failures())
        }
        Command::Corpus {
            dirs,
            compile_cost,
            rounds,
        } => {
            let dirs = if dirs.is_empty() {
                std::env::var_os("MPHUB_SCHEMA_CORPUS")
                    .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
                    .unwrap_or_default()
            } else {
                dirs
            };
            if dirs.is_empty() {
                anyhow::bail!("no schema folder given (arguments or MPHUB_SCHEMA_CORPUS)");
            }
            let mut ok = true;
            for dir in &dirs {
                match corpus::run_folder(dir) {
                    Ok(report) => {
                        println!("{}", report.line());
                        for f in &report.failures {
                            println!("  {f}");
                        }
                        ok &= report.failures.is_empty() && report.passed == report.methods;
                    }
                    Err(e) => {
                        println!("{}: FAILED: {e:#}", dir.display());
                        ok = false;
                    }
                }
                if compile_cost {
                    let cost = corpus::compile_cost(dir, rounds)?;
                    println!(
                        "  debug build of the generated code, median of {} rounds: mphub {:.2} s ({} lines), capnpc {:.2} s ({} lines): {:.2}x",
                        cost.rounds,
                        cost.mphub.as_secs_f64(),
                        cost.lines.0,
                        cost.capnpc.as_secs_f64(),
                        cost.lines.1,
                        cost.ratio()
                    );
                }
            }
            Ok(ok)
        }
        Command::Fuzz {
            target,
            seconds,
            seed,
            out,
            replay,
        } => {
            let report = match replay {
                Some(file) => fuzz::replay_file(target, &file)?,
                None => {
                    let seed = seed.unwrap_or_else(|| {
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_nanos() as u64)
                            .unwrap_or(1)
                    });
                    println!("fuzz: target {target:?}, seed {seed}, {seconds} s");
                    fuzz::run(&fuzz::FuzzOptions {
                        target,
                        duration: std::time::Duration::from_secs(seconds),
                        seed,
                        out,
                    })?
                }
            };
            print!("{}", report.render());
            Ok(report.failure.is_none())
        }
        Command::FloorServer { socket } => floor::serve(&socket).map(|()| true),
        Command::FloorClient {
            socket,
            size,
            calls,
            warmup,
        } => {
            let samples_ns = floor::client(&socket, size, calls, warmup)?;
            let kind = if size >= floor::ECHO_BYTES {
                "echo1m"
            } else {
                "pingpong"
            };
            let line = floor::FloorReport {
                peer: "floor",
                kind: kind.into(),
                calls,
                samples_ns,
            };
            println!("{}", serde_json::to_string(&line).context("encoding JSON")?);
            Ok(true)
        }
    }
}
