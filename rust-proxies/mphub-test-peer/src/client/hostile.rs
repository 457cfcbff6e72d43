//! Hostile scenarios: raw Cap'n Proto calls that bypass mphub's `Context` handling, sent
//! over the session's own connection (so they work over sockets and spawned children).

use std::time::Duration;

use anyhow::{bail, Context as _};
use mphub::proxy_capnp::thread;
use mphub::rt::{CallSetup, LocalFuture};
use mphub::ProxyClient as _;

use super::{expect_eq, expect_err, Session, Target};
use crate::test_schema::{test_capnp, TesterClient};

/// A `Thread` hosted by the client: the server never made it, so it must refuse it.
struct ForeignThread;
impl thread::Server for ForeignThread {}

/// How the raw `addInt64` call fills its `context`.
#[derive(Clone, Copy)]
enum RawContext {
    /// `context.thread` is a Thread the client hosts itself.
    ForeignThread,
    /// `context.thread` is null.
    NullThread,
}

async fn raw_add(t: &TesterClient, how: RawContext) -> mphub::Result<i64> {
    // `uses_context = false`: mphub picks no strand; the job writes the context itself.
    t.handle()
        .call(
            "Tester.addInt64 (raw)",
            false,
            move |client: test_capnp::tester::Client,
                  _setup: CallSetup|
                  -> LocalFuture<mphub::Result<i64>> {
                Box::pin(async move {
                    let mut req = client.add_int64_request();
                    {
                        let mut b = req.get();
                        b.set_a(1);
                        b.set_b(2);
                        let ctx = b.init_context();
                        if let RawContext::ForeignThread = how {
                            let fake: thread::Client = capnp_rpc::new_client(ForeignThread);
                            let mut ctx = ctx;
                            ctx.set_thread(fake);
                        }
                    }
                    let resp = req.send().promise.await?;
                    Ok(resp.get()?.get_result())
                })
            },
        )
        .await
}

async fn expect_refused(t: &TesterClient, how: RawContext, text: &str) -> anyhow::Result<()> {
    let e = expect_err("raw addInt64", raw_add(t, how).await)?;
    if !e.to_string().contains(text) {
        bail!("raw addInt64 failed, but without '{text}': {e}");
    }
    expect_eq(
        "addInt64(1, 2) after the refused raw call",
        t.add_int64(1, 2).await?,
        3,
    )
}

/// `hostile-thread`: a Thread hosted by the client is an invalid thread handle.
pub(super) async fn foreign_thread(t: &TesterClient) -> anyhow::Result<()> {
    expect_refused(t, RawContext::ForeignThread, "invalid thread handle").await
}

/// `hostile-null-context`: a null thread without `makePool` is refused.
pub(super) async fn null_context(t: &TesterClient) -> anyhow::Result<()> {
    expect_refused(
        t,
        RawContext::NullThread,
        "no thread specified and no pool configured",
    )
    .await
}

/// Payload of the oversize call: over Cap'n Proto's 64 MiB per-message limit.
const OVERSIZE: usize = 72 * 1024 * 1024;

/// `hostile-oversize`: a 72 MiB `passData` on a second connection fails; the first
/// connection keeps working.
pub(super) async fn oversize(first: &Session, target: &Target) -> anyhow::Result<()> {
    let second = Session::open(target)
        .await
        .context("opening the second connection")?;
    let big = second.tester.handle().call(
        "Tester.passData (72 MiB)",
        true,
        |client: test_capnp::tester::Client,
         setup: CallSetup|
         -> LocalFuture<mphub::Result<usize>> {
            Box::pin(async move {
                let payload = vec![0x5au8; OVERSIZE];
                let mut req = client.pass_data_request();
                {
                    let mut b = req.get();
                    setup.fill(b.reborrow().init_context());
                    b.set_arg(&payload);
                }
                // Sent directly: `CallSetup::send` would refuse it before the server sees it.
                let resp = req.send().promise.await?;
                Ok(resp.get()?.get_result()?.len())
            })
        },
    );
    match tokio::time::timeout(Duration::from_secs(10), big).await {
        Err(_) => bail!("the 72 MiB passData neither failed nor returned within 10 s"),
        Ok(Ok(n)) => bail!("the 72 MiB passData succeeded ({n} bytes back); it must be refused"),
        Ok(Err(e)) => tracing::debug!("72 MiB passData failed as expected: {e}"),
    }
    drop(second);
    expect_eq(
        "addInt64(1, 2) on the first connection",
        first.tester.add_int64(1, 2).await?,
        3,
    )
}
