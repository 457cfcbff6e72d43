//! `mphub-corpus-peer`: the Rust peer of the corpus schema.
//!
//! ```text
//! mphub-corpus-peer serve --socket PATH        serve Corpus on a unix socket
//! mphub-corpus-peer <fd> | -ipcfd <fd>         serve Corpus on an inherited socketpair fd
//! mphub-corpus-peer client --socket PATH [--scenario NAME]...
//!                                              run scenarios (default: all) against a server
//! ```
//! A client prints `ok <scenario>` or `FAIL <scenario>: <why>` per scenario and exits 1
//! if any failed (2 for usage errors, 3 when the server cannot be reached).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mphub_corpus_peer::client::{run, SCENARIOS};
use mphub_corpus_peer::corpus::corpus::{CorpusClient, CorpusServer};
use mphub_corpus_peer::server::CorpusImpl;

#[derive(Parser)]
#[command(about = "The Rust peer of mphub's corpus schema")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Corpus on a unix socket until interrupted.
    Serve {
        #[arg(long)]
        socket: PathBuf,
    },
    /// Run scenarios against a Corpus server.
    Client {
        #[arg(long)]
        socket: PathBuf,
        /// Scenario to run (repeatable); default: all.
        #[arg(long)]
        scenario: Vec<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MPHUB_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting tokio: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(fd) = mphub::spawned_fd_from_args(&args) {
        return runtime.block_on(serve_fd(fd));
    }
    let cli = Cli::parse();
    runtime.block_on(async {
        match cli.command {
            Command::Serve { socket } => serve(socket).await,
            Command::Client { socket, scenario } => client(socket, scenario).await,
        }
    })
}

async fn serve(socket: PathBuf) -> ExitCode {
    let rt = match mphub::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let _listener = match mphub::listen(&rt, &socket, CorpusImpl.into_cap()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: listening on {}: {e}", socket.display());
            return ExitCode::from(1);
        }
    };
    eprintln!("serving Corpus on {}", socket.display());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

async fn serve_fd(fd: std::os::fd::RawFd) -> ExitCode {
    let rt = match mphub::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let shown = fd;
    // SAFETY: by the spawn convention the parent passed this fd for our IPC connection;
    // nothing else in this process uses it, so it is ours to own (and close).
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    match mphub::serve_fd(&rt, fd, CorpusImpl.into_cap()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: serving fd {shown}: {e}");
            ExitCode::from(1)
        }
    }
}

async fn client(socket: PathBuf, scenarios: Vec<String>) -> ExitCode {
    let names: Vec<String> = if scenarios.is_empty() || scenarios.iter().any(|s| s == "all") {
        SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        scenarios
    };
    if let Some(bad) = names.iter().find(|n| !SCENARIOS.contains(&n.as_str())) {
        eprintln!(
            "error: unknown scenario '{bad}' (known: {})",
            SCENARIOS.join(", ")
        );
        return ExitCode::from(2);
    }
    let rt = match mphub::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let corpus: CorpusClient = match mphub::connect(&rt, &socket).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: connecting to {}: {e}", socket.display());
            return ExitCode::from(3);
        }
    };
    let mut failed = 0;
    for name in &names {
        match run(&corpus, name).await {
            Ok(()) => println!("ok {name}"),
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e:#}");
            }
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
