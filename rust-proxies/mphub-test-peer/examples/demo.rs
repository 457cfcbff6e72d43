//! Demo: a Rust server for schema/test on a unix socket and a spawned child, driven by a
//! Rust client through the generated proxies. Prints what happened.

use std::sync::Arc;

use mphub_test_peer::server::{Stats, TestInitImpl};
use mphub_test_peer::test_schema::*;

struct Double;
impl CallbackServer for Double {
    async fn call(&self, _cx: &mphub::CallContext, arg: i32) -> mphub::Result<i32> {
        Ok(arg * 2)
    }
}

/// `target/<profile>/mphub-test-peer`, beside this example's `examples/` directory.
fn peer_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or_else(|| anyhow::anyhow!("cannot locate target directory"))?;
    Ok(dir.join("mphub-test-peer"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mphub-demo-{}", std::process::id()));
    let path = dir.join("test.sock");
    let server_rt = mphub::Runtime::new()?;
    let _listener = mphub::listen(
        &server_rt,
        &path,
        TestInitImpl::new(Arc::new(Stats::default())).into_cap(),
    )?;
    println!("server: listening on {}", path.display());

    let rt = mphub::Runtime::new()?;
    let init: TestInitClient = mphub::connect(&rt, &path).await?;
    println!("client: connected, construct done");
    let tester = init
        .make_tester()
        .await?
        .ok_or_else(|| anyhow::anyhow!("null tester"))?;
    println!(
        "client: addInt64(40, 2) = {}",
        tester.add_int64(40, 2).await?
    );
    println!(
        "client: passText(\"héllo\") = {}",
        tester.pass_text("héllo").await?
    );
    println!(
        "client: callCallback(x2, 21) = {}",
        tester.call_callback(Double.into_cap(), 21).await?
    );
    println!("client: server thread = {}", tester.thread_name().await?);
    match tester.raise(7, "declared").await {
        Err(e) => println!("client: raise -> {e}"),
        Ok(()) => println!("client: raise unexpectedly succeeded"),
    }

    let child = mphub::spawn::<TestInitClient>(
        &rt,
        peer_binary()?,
        &[],
        mphub::SpawnConvention::BitcoinCore,
    )
    .await?;
    let remote = child
        .client
        .make_tester()
        .await?
        .ok_or_else(|| anyhow::anyhow!("null tester"))?;
    println!(
        "spawned child: addNoContext(2, 3) = {}",
        remote.add_no_context(2, 3).await?
    );
    drop(remote);
    drop(child.client);
    let mut process = child.process;
    let status = tokio::task::spawn_blocking(move || process.wait()).await??;
    println!("spawned child exited: {status}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
