//! The scenarios of `doc/interop.md`, each with exactly the assertions listed there.

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use mphub::{CallContext, Text};

use super::{expect_eq, expect_err, expect_remote, hostile, Outcome, Session, Target};
use crate::test_schema::*;

/// Opens a session and runs scenario `name` (already validated) on it.
pub(super) async fn run(target: &Target, name: &str) -> anyhow::Result<Outcome> {
    let mut s = Session::open(target).await?;
    let t = s.tester.clone();
    match name {
        "primitives" => primitives(&t).await?,
        "text" => text(&t).await?,
        "data" => data(&t).await?,
        "lists" => lists(&t).await?,
        "map" => map(&t).await?,
        "struct" => point(&t).await?,
        "optional" => optional(&t).await?,
        "out-params" => out_params(&t).await?,
        "in-out" => {
            expect_eq("addInOut(5, 10).sum", t.add_in_out(5, 10).await?.sum, 15)?;
        }
        "exceptions" => exceptions(&t).await?,
        "no-context" => {
            expect_eq("addNoContext(2, 3)", t.add_no_context(2, 3).await?, 5)?;
            expect_eq("renamedMethod(21)", t.renamed_method(21).await?, 42)?;
        }
        "interfaces" => interfaces(&s).await?,
        "ordering" => ordering(&t).await?,
        "parallel" => parallel(&t).await?,
        "callback" => {
            let got = t.call_callback(Triple.into_cap(), 7).await?;
            expect_eq("callCallback(cb = 3x, 7)", got, 21)?;
        }
        "callback-outside-call" => {
            t.save_callback(Triple.into_cap())
                .await
                .context("saveCallback")?;
            expect_eq("callSavedCallback(5)", t.call_saved_callback(5).await?, 15)?;
        }
        "recursion" => {
            let cb = Recurse { tester: t.clone() };
            expect_eq("recurse(cb, 6)", t.recurse(cb.into_cap(), 6).await?, 6)?;
        }
        "destroy" => destroy(&s).await?,
        "killed-mid-call" => return killed_mid_call(&mut s, target).await,
        "hostile-thread" => hostile::foreign_thread(&t).await?,
        "hostile-null-context" => hostile::null_context(&t).await?,
        "hostile-oversize" => hostile::oversize(&s, target).await?,
        other => bail!("unknown scenario '{other}'"),
    }
    Ok(Outcome::Pass)
}

/// Bit-exact comparison (so `-0.0` differs from `0.0` and NaN payloads count).
fn same_primitives(a: &Primitives, b: &Primitives) -> bool {
    a.b == b.b
        && a.i8 == b.i8
        && a.i16 == b.i16
        && a.i32 == b.i32
        && a.i64 == b.i64
        && a.u8 == b.u8
        && a.u16 == b.u16
        && a.u32 == b.u32
        && a.u64 == b.u64
        && a.f32.to_bits() == b.f32.to_bits()
        && a.f64.to_bits() == b.f64.to_bits()
}

async fn primitives(t: &TesterClient) -> anyhow::Result<()> {
    let low = Primitives {
        b: true,
        i8: i8::MIN,
        i16: i16::MIN,
        i32: i32::MIN,
        i64: i64::MIN,
        u8: u8::MAX,
        u16: u16::MAX,
        u32: u32::MAX,
        u64: u64::MAX,
        f32: -1.5,
        f64: 1e300,
    };
    let high = Primitives {
        b: false,
        i8: i8::MAX,
        i16: i16::MAX,
        i32: i32::MAX,
        i64: i64::MAX,
        u8: 0,
        u16: 0,
        u32: 0,
        u64: 0,
        f32: -0.0,
        f64: 5e-324,
    };
    for p in [low, high] {
        let got = t
            .pass_primitives(p.clone())
            .await?
            .ok_or_else(|| anyhow::anyhow!("passPrimitives returned a null struct"))?;
        if !same_primitives(&got, &p) {
            bail!("passPrimitives: got {got:?}, expected bit-exactly {p:?}");
        }
    }
    expect_eq(
        "addInt64(INT64_MAX-1, 1)",
        t.add_int64(i64::MAX - 1, 1).await?,
        i64::MAX,
    )?;
    expect_remote("addInt64(INT64_MAX, 1)", t.add_int64(i64::MAX, 1).await)?;
    Ok(())
}

async fn text(t: &TesterClient) -> anyhow::Result<()> {
    for arg in [
        Text::from("hello"),
        Text::from(""),
        Text::from_bytes(vec![0x61, 0x00, 0x62, 0xff, 0xfe]),
    ] {
        expect_eq("passText", t.pass_text(arg.clone()).await?, arg)?;
    }
    let texts = vec![
        Text::from(""),
        Text::from("x"),
        Text::from_bytes(b"a\0b".to_vec()),
    ];
    expect_eq("passTexts", t.pass_texts(texts.clone()).await?, texts)?;
    let s = t.split("hello world", 5).await?;
    expect_eq(
        "split(\"hello world\", 5)",
        (s.head, s.tail),
        (Text::from("hello"), Text::from(" world")),
    )?;
    let s = t.split("abc", 10).await?;
    expect_eq(
        "split(\"abc\", 10)",
        (s.head, s.tail),
        (Text::from("abc"), Text::from("")),
    )?;
    Ok(())
}

async fn data(t: &TesterClient) -> anyhow::Result<()> {
    expect_eq(
        "passData(empty)",
        t.pass_data(Vec::new()).await?,
        Vec::new(),
    )?;
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
    expect_eq(
        "passData(1000 bytes)",
        t.pass_data(bytes.clone()).await?,
        bytes,
    )?;
    expect_eq(
        "passOptionalData(absent)",
        t.pass_optional_data(None).await?,
        None,
    )?;
    expect_eq(
        "passOptionalData(present, empty)",
        t.pass_optional_data(Some(Vec::new())).await?,
        Some(Vec::new()),
    )?;
    expect_eq(
        "passOptionalData(01 02 03)",
        t.pass_optional_data(Some(vec![1, 2, 3])).await?,
        Some(vec![1, 2, 3]),
    )?;
    let datas = vec![vec![], vec![0u8], vec![1, 2]];
    expect_eq("passDatas", t.pass_datas(datas.clone()).await?, datas)?;
    Ok(())
}

async fn lists(t: &TesterClient) -> anyhow::Result<()> {
    expect_eq("passInts([])", t.pass_ints(Vec::new()).await?, Vec::new())?;
    let ints = vec![i32::MIN, -1, 0, 1, i32::MAX];
    expect_eq("passInts", t.pass_ints(ints.clone()).await?, ints)?;
    Ok(())
}

async fn map(t: &TesterClient) -> anyhow::Result<()> {
    let pair = |k: &str, v: i64| Pair {
        key: k.into(),
        value: v,
    };
    let m = vec![pair("a", 1), pair("b", -2), pair("", i64::MAX)];
    expect_eq("passMap", t.pass_map(m.clone()).await?, m)
}

async fn point(t: &TesterClient) -> anyhow::Result<()> {
    let p = Point {
        x: -3,
        y: 7,
        label: "p".into(),
        tags: vec!["t1".into(), "t2".into()],
        weight: Some(2.5),
    };
    expect_eq(
        "passPoint(weighted)",
        t.pass_point(p.clone()).await?,
        Some(p.clone()),
    )?;
    let unweighted = Point { weight: None, ..p };
    let got = t.pass_point(unweighted.clone()).await?;
    expect_eq("passPoint(no weight)", got, Some(unweighted))
}

async fn optional(t: &TesterClient) -> anyhow::Result<()> {
    expect_eq("maybeInt(true)", t.maybe_int(true).await?, Some(42))?;
    expect_eq("maybeInt(false)", t.maybe_int(false).await?, None)
}

async fn out_params(t: &TesterClient) -> anyhow::Result<()> {
    let d = t.divide(17, 5, true).await?;
    expect_eq("divide(17, 5, want)", (d.result, d.remainder), (3, Some(2)))?;
    let d = t.divide(17, 5, false).await?;
    expect_eq(
        "divide(17, 5, not wanted)",
        (d.result, d.remainder),
        (3, None),
    )?;
    expect_remote("divide(1, 0)", t.divide(1, 0, false).await)?;
    Ok(())
}

fn expect_test_error(what: &str, e: &mphub::Error, code: i32, message: &str) -> anyhow::Result<()> {
    let Some(te) = e.declared_as::<TestError>() else {
        bail!("{what}: expected declared TestError, got: {e}");
    };
    expect_eq(
        what,
        (te.code, te.message.clone()),
        (code, Text::from(message)),
    )
}

async fn exceptions(t: &TesterClient) -> anyhow::Result<()> {
    let e = expect_err("raise(7, \"boom\")", t.raise(7, "boom").await)?;
    expect_test_error("raise(7, \"boom\")", &e, 7, "boom")?;
    expect_eq("checkedDivide(9, 3)", t.checked_divide(9, 3).await?, 3)?;
    let e = expect_err("checkedDivide(1, 0)", t.checked_divide(1, 0).await)?;
    expect_test_error("checkedDivide(1, 0)", &e, 1, "division by zero")?;
    let e = expect_remote("fail(\"oops\")", t.fail("oops").await)?;
    if !e.to_string().contains("oops") {
        bail!("fail(\"oops\"): the failure text does not contain 'oops': {e}");
    }
    Ok(())
}

async fn interfaces(s: &Session) -> anyhow::Result<()> {
    let counter = s
        .init
        .make_counter(10)
        .await?
        .ok_or_else(|| anyhow!("makeCounter(10) returned a null Counter"))?;
    expect_eq("Counter.increment()", counter.increment().await?, 11)?;
    expect_eq("Counter.get()", counter.get().await?, 11)?;
    let got = s.tester.read_counter(counter.clone()).await?;
    expect_eq("readCounter(counter)", got, 11)
}

async fn ordering(t: &TesterClient) -> anyhow::Result<()> {
    // One strand is one client thread for the server; every call is issued before any
    // answer is awaited, so only the server's per-thread ordering keeps them in order.
    let strand = t.new_strand("ordering");
    let on = t.on_strand(&strand)?;
    let calls: Vec<_> = (0..50).map(|i| on.append_log(i).into_future()).collect();
    for (i, r) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        r.with_context(|| format!("appendLog({i})"))?;
    }
    expect_eq(
        "takeLog()",
        on.take_log().await?,
        (0..50).collect::<Vec<i32>>(),
    )
}

async fn parallel(t: &TesterClient) -> anyhow::Result<()> {
    // Two plain OS threads, each with its own remote thread (blocking API).
    let started = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || t.sleep_ms_blocking(300))
        })
        .collect();
    let mut names = Vec::new();
    for w in workers {
        let r = w.join().map_err(|_| anyhow!("a client thread panicked"))?;
        names.push(r.context("sleepMs(300)")?);
    }
    let took = started.elapsed();
    if took >= Duration::from_millis(550) {
        bail!("two sleepMs(300) on two client threads took {took:?} (>= 550 ms): not parallel");
    }
    if names[0] == names[1] {
        bail!(
            "two client threads ran on the same server thread {:?}",
            names[0]
        );
    }
    // One client thread: both calls issued at once on one strand must run one after the other.
    let strand = t.new_strand("serial");
    let on = t.on_strand(&strand)?;
    let started = Instant::now();
    let (a, b) = tokio::join!(on.sleep_ms(300), on.sleep_ms(300));
    a.context("sleepMs(300)")?;
    b.context("sleepMs(300)")?;
    let took = started.elapsed();
    if took < Duration::from_millis(590) {
        bail!("two sleepMs(300) on one client thread took {took:?} (< 590 ms): not serialised");
    }
    Ok(())
}

/// The client's callback `cb(x) = 3x`.
struct Triple;
impl CallbackServer for Triple {
    async fn call(&self, _cx: &CallContext, arg: i32) -> mphub::Result<i32> {
        Ok(arg.wrapping_mul(3))
    }
}

/// `cb(d) = tester.recurse(cb, d)`: every level nests one call in each direction.
struct Recurse {
    tester: TesterClient,
}
impl CallbackServer for Recurse {
    async fn call(&self, _cx: &CallContext, arg: i32) -> mphub::Result<i32> {
        let me = Recurse {
            tester: self.tester.clone(),
        };
        self.tester
            .recurse(CallbackClient::local(Arc::new(me)), arg)
            .await
    }
}

async fn destroy(s: &Session) -> anyhow::Result<()> {
    let t = &s.tester;
    let n = t.live_counters().await.context("liveCounters")?;
    let counter = s
        .init
        .make_counter(0)
        .await?
        .ok_or_else(|| anyhow!("makeCounter returned a null Counter"))?;
    expect_eq(
        "liveCounters() after makeCounter",
        t.live_counters().await?,
        n + 1,
    )?;
    drop(counter);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = t.live_counters().await?;
        if now == n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("liveCounters() = {now} 1 s after releasing the Counter, expected {n}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn killed_mid_call(s: &mut Session, target: &Target) -> anyhow::Result<Outcome> {
    if let Target::Socket {
        server_pid: None, ..
    } = target
    {
        return Ok(Outcome::Skip(
            "killed-mid-call over a socket needs --server-pid".into(),
        ));
    }
    let t = s.tester.clone();
    let pending = tokio::spawn(async move { t.sleep_ms(10_000).await });
    // Let the call reach the server before killing it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    if pending.is_finished() {
        bail!("sleepMs(10000) returned before the server was killed");
    }
    let killed = Instant::now();
    if !s.kill_server()? {
        bail!("no server pid to kill");
    }
    let r = tokio::time::timeout(Duration::from_secs(1), pending)
        .await
        .map_err(|_| anyhow!("the pending sleepMs(10000) did not fail within 1 s of SIGKILL"))?
        .map_err(|e| anyhow!("pending call task: {e}"))?;
    let took = killed.elapsed();
    let e = expect_err("pending sleepMs(10000)", r)?;
    if !e.is_disconnected() {
        bail!("the pending call failed, but not as a disconnect: {e}");
    }
    expect_err(
        "a call after the server was killed",
        s.tester.add_int64(1, 1).await,
    )?;
    tracing::debug!("pending call failed {took:?} after the kill");
    Ok(Outcome::Pass)
}
