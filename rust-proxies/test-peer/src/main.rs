//! `mphub-test-peer`: the Rust server for `schema/test`, on a unix socket or as a
//! spawned child (`mphub-test-peer <fd>` or `mphub-test-peer -ipcfd <fd>`).

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::TestInitServer;

#[derive(Parser)]
#[command(about = "mphub's Rust peer for schema/test")]
enum Cli {
    /// Listen on a unix socket until interrupted.
    Serve {
        /// Socket path.
        #[arg(long)]
        socket: std::path::PathBuf,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("mphub-test-peer: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MPHUB_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let rt = mphub::Runtime::new()?;
    let init = TestInitImpl::new(Arc::new(Stats::default())).into_cap();
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(fd) = mphub::spawned_fd_from_args(&args) {
        // Spawned by a parent: serve it until it disconnects, then exit 0.
        tokio_rt.block_on(mphub::serve_fd(&rt, fd, init))?;
        return Ok(());
    }
    match Cli::parse() {
        Cli::Serve { socket } => {
            let _listener = mphub::listen(&rt, &socket, init)
                .with_context(|| format!("listening on {}", socket.display()))?;
            eprintln!("mphub-test-peer: listening on {}", socket.display());
            tokio_rt.block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                anyhow::Ok(())
            })?;
        }
    }
    Ok(())
}
