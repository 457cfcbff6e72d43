//! Hostile scenarios: raw Cap'n Proto calls that bypass mphub's `Context` handling, sent
//! over the session's own connection (so they work over sockets and spawned children).

use std::time::Duration;

use anyhow::{bail, Context as _};
use mphub::proxy_capnp::{context, thread};
use mphub::rt::{CallSetup, LocalFuture};
use mphub::ProxyClient as _;

use super::{expect_eq, expect_err, Session, Target};
use crate::test_schema::TesterClient;

/// Sends `method` on `client` with params written by `fill`, bypassing mphub's encoding.
async fn send_raw(
    client: &capnp::capability::Client,
    method: &'static mphub::Method,
    fill: impl FnOnce(&mut mphub::wire::StructBuilder<'_>) -> mphub::Result<()>,
) -> mphub::Result<capnp::capability::Response<capnp::any_pointer::Owned>> {
    let mut req = client.new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
        method.interface_id,
        method.ordinal,
        None,
    );
    mphub::wire::build_struct(req.get(), method.params, |mut b| fill(&mut b))?;
    Ok(req.send().promise.await?)
}

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
    // No strand: the job writes the context itself.
    t.handle()
        .call_raw(
            &TesterClient::ADD_INT64,
            false,
            move |client, _setup: CallSetup| -> LocalFuture<mphub::Result<i64>> {
                Box::pin(async move {
                    let resp = send_raw(&client, &TesterClient::ADD_INT64, |b| {
                        b.set(0, 1i64, 0);
                        b.set(1, 2i64, 0);
                        let mut ctx = b.pointer(0).init_as::<context::Builder<'_>>();
                        if let RawContext::ForeignThread = how {
                            let fake: thread::Client = capnp_rpc::new_client(ForeignThread);
                            ctx.set_thread(fake);
                        }
                        Ok(())
                    })
                    .await?;
                    let r = mphub::wire::read_root(resp.get()?)?;
                    Ok(r.get(0, 0i64))
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
    let big = second.tester.handle().call_raw(
        &TesterClient::PASS_DATA,
        true,
        |client, setup: CallSetup| -> LocalFuture<mphub::Result<usize>> {
            Box::pin(async move {
                let payload = vec![0x5au8; OVERSIZE];
                // Sent directly: mphub's own encoding would refuse it before the server sees it.
                let resp = send_raw(&client, &TesterClient::PASS_DATA, |b| {
                    setup.fill(b.pointer(0).init_as::<context::Builder<'_>>());
                    b.write(1, &payload, &mphub::wire::WriteCx::detached())
                })
                .await?;
                let r = mphub::wire::read_root(resp.get()?)?;
                Ok(r.pointer(0).get_as::<capnp::data::Reader<'_>>()?.len())
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
