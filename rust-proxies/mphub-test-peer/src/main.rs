//! `mphub-test-peer`: the Rust peer of the interop matrix (`doc/interop.md`).
//!
//! ```text
//! mphub-test-peer serve --socket PATH
//! mphub-test-peer -ipcfd N
//! mphub-test-peer client (--socket PATH [--server-pid PID] | --spawn SERVER_BIN) --scenario NAME
//! mphub-test-peer client (--socket PATH | --spawn SERVER_BIN) --bench KIND --calls N [--warmup W]
//! ```
//!
//! Client exit codes: 0 pass, 1 fail (reason on the last stderr line), 77 skip
//! (`SKIPPED: <why>` on stdout), 2 unknown scenario or bad arguments.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgGroup, Parser};
use mphub_test_peer::client::{exit, run_bench, run_scenario, BenchKind, Outcome, Session, Target};
use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::TestInitServer;

#[derive(Parser)]
#[command(about = "mphub's Rust peer for schema/test (see doc/interop.md)")]
enum Cli {
    /// Listen on a unix socket (mode 0600) until SIGTERM/SIGINT.
    Serve {
        /// Socket path.
        #[arg(long)]
        socket: PathBuf,
    },
    /// Run one scenario or one benchmark against a server peer.
    #[command(group(ArgGroup::new("to").required(true).args(["socket", "spawn"])))]
    #[command(group(ArgGroup::new("what").required(true).args(["scenario", "bench"])))]
    Client {
        /// Connect to a server listening on this unix socket.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Start `SERVER_BIN -ipcfd N` over a socketpair and use it.
        #[arg(long, value_name = "SERVER_BIN")]
        spawn: Option<PathBuf>,
        /// Scenario name (doc/interop.md).
        #[arg(long)]
        scenario: Option<String>,
        /// Pid of the socket server, so `killed-mid-call` can kill it.
        #[arg(long, value_name = "PID")]
        server_pid: Option<u32>,
        /// Benchmark kind: context, context-blocking, nocontext, data1m, concurrent-one,
        /// concurrent-each, scale.
        #[arg(long, value_name = "KIND")]
        bench: Option<String>,
        /// Timed calls (bench).
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// Untimed warm-up calls (bench) [default: calls / 10].
        #[arg(long)]
        warmup: Option<usize>,
        /// Client threads (concurrent-one, concurrent-each) or remote threads (scale).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

fn main() {
    let code = match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mphub-test-peer: {}", one_line(&e));
            exit::FAIL
        }
    };
    std::process::exit(code);
}

/// The reason as one line, so that it is the last line of stderr.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn tokio_rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn run() -> anyhow::Result<i32> {
    // Both roles pass 1 MiB payloads (data1m); see the function's docs for why.
    mphub::tune_malloc_for_large_messages();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MPHUB_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    if let Some(fd) = mphub::spawned_fd_from_args(&args) {
        // Spawned by a parent: serve it until it disconnects, then exit 0.
        // SAFETY: by the spawn convention the parent passed this fd for our IPC connection;
        // nothing else in this process uses it, so it is ours to own (and close).
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let rt = mphub::Runtime::new()?;
        let init = TestInitImpl::new(Arc::new(Stats::default())).into_cap();
        tokio_rt()?.block_on(mphub::serve_fd(&rt, fd, init))?;
        return Ok(0);
    }
    match Cli::parse() {
        Cli::Serve { socket } => serve(socket).map(|()| 0),
        Cli::Client {
            socket,
            spawn,
            scenario,
            server_pid,
            bench,
            calls,
            warmup,
            threads,
        } => {
            let target = match (socket, spawn) {
                (Some(path), _) => Target::Socket { path, server_pid },
                (None, Some(server_bin)) => Target::Spawn { server_bin },
                (None, None) => anyhow::bail!("--socket or --spawn is required"),
            };
            if let Some(name) = scenario {
                return Ok(client_scenario(&target, &name));
            }
            let kind = bench.unwrap_or_default();
            let Some(kind) = BenchKind::parse(&kind) else {
                eprintln!("mphub-test-peer: unknown bench kind '{kind}'");
                return Ok(exit::USAGE);
            };
            let warmup = warmup.unwrap_or(calls / 10);
            let report = tokio_rt()?.block_on(async {
                let session = Session::open(&target).await?;
                run_bench(&session, &target, kind, calls, warmup, threads).await
            })?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(exit::PASS)
        }
    }
}

fn client_scenario(target: &Target, name: &str) -> i32 {
    if !mphub_test_peer::client::SCENARIOS.contains(&name) {
        eprintln!("mphub-test-peer: unknown scenario '{name}'");
        return exit::USAGE;
    }
    let result = tokio_rt().and_then(|rt| rt.block_on(run_scenario(target, name)));
    match result {
        Ok(Outcome::Pass) => exit::PASS,
        Ok(Outcome::Skip(why)) => {
            println!("SKIPPED: {why}");
            exit::SKIP
        }
        Err(e) => {
            eprintln!("mphub-test-peer: {name}: {}", one_line(&e));
            exit::FAIL
        }
    }
}

fn serve(socket: PathBuf) -> anyhow::Result<()> {
    let rt = mphub::Runtime::new()?;
    let init = TestInitImpl::new(Arc::new(Stats::default())).into_cap();
    let _listener = mphub::listen(&rt, &socket, init)
        .with_context(|| format!("listening on {}", socket.display()))?;
    eprintln!("mphub-test-peer: listening on {}", socket.display());
    tokio_rt()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}
