//! The corpus scenarios, one per construct, run by a client against any corpus server
//! (the Rust one in [`crate::server`], or the C++ one of `cpp/capnp-peer`).

use std::sync::Arc;

use anyhow::{anyhow, bail, ensure, Context as _};
use mphub::wire::AnyValue;
use mphub::{Cap, Text};

use crate::corpus::base::NamedClient;
use crate::corpus::corpus::*;
use crate::corpus::generic::{Failure, Pair, Result as Res};
use crate::corpus::shapes::{Point, Scalars, Shapes, Tree};
use crate::fixtures;
use crate::server::{CounterImpl, ListenerImpl, MapperImpl};

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: &[&str] = &[
    "scalars",
    "shapes",
    "choice",
    "generics",
    "keywords",
    "annotated",
    "large",
    "interfaces",
    "extends",
    "interface-lists",
    "interface-structs",
    "callback-structs",
    "exceptions",
    "in-out",
    "count-param",
    "void-param",
    "no-context",
    "ordinals",
    "names",
    "optional",
];

/// For every fixture: `get` returns it, `check` accepts it, `echo` returns it unchanged;
/// `get` past the end fails.
macro_rules! values {
    ($corpus:expr, $fixtures:path, $get:ident, $check:ident, $echo:ident) => {{
        let corpus = $corpus;
        let all = $fixtures();
        for (i, want) in all.iter().enumerate() {
            let i = i as u32;
            let what = concat!(stringify!($fixtures), " #");
            ensure_eq(
                &format!("{what}{i}: get"),
                corpus.$get(i).await?,
                Some(want.clone()),
            )?;
            let checked = corpus.$check(i, want.clone()).await?;
            ensure!(
                checked.ok,
                "{what}{i}: check refused it: {}",
                checked.detail
            );
            ensure_eq(
                &format!("{what}{i}: echo"),
                corpus.$echo(want.clone()).await?,
                Some(want.clone()),
            )?;
        }
        ensure!(
            corpus.$get(all.len() as u32).await.is_err(),
            "get past the last fixture must fail"
        );
        Ok(())
    }};
}

/// Runs scenario `name` against `corpus`.
pub async fn run(corpus: &CorpusClient, name: &str) -> anyhow::Result<()> {
    match name {
        "scalars" => values!(
            corpus,
            fixtures::scalars,
            get_scalars,
            check_scalars,
            echo_scalars
        ),
        "shapes" => values!(
            corpus,
            fixtures::shapes,
            get_shapes,
            check_shapes,
            echo_shapes
        ),
        "choice" => values!(
            corpus,
            fixtures::choice,
            get_choice,
            check_choice,
            echo_choice
        ),
        "generics" => values!(
            corpus,
            fixtures::generics,
            get_generics,
            check_generics,
            echo_generics
        ),
        "keywords" => values!(
            corpus,
            fixtures::keywords,
            get_keywords,
            check_keywords,
            echo_keywords
        ),
        "annotated" => values!(
            corpus,
            fixtures::annotated,
            get_annotated,
            check_annotated,
            echo_annotated
        ),
        "large" => large(corpus).await,
        "interfaces" => interfaces(corpus).await,
        "extends" => extends(corpus).await,
        "interface-lists" => interface_lists(corpus).await,
        "interface-structs" => interface_structs(corpus).await,
        "callback-structs" => callback_structs(corpus).await,
        "exceptions" => exceptions(corpus).await,
        "in-out" => in_out(corpus).await,
        "count-param" => {
            let argv: Vec<Text> = vec!["mphub".into(), "-x".into(), "".into()];
            ensure_eq("start(argv of 3)", corpus.start(argv).await?, 3)
        }
        "void-param" => ensure_eq("tick(step 5)", corpus.tick(5).await?, 6),
        "no-context" => no_context(corpus).await,
        "ordinals" => {
            ensure_eq("late (@32, declared first)", corpus.late().await?, 32)?;
            ensure_eq("early (@31)", corpus.early().await?, 31)
        }
        "names" => names(corpus).await,
        "optional" => optional(corpus).await,
        other => bail!(
            "unknown corpus scenario '{other}' (known: {})",
            SCENARIOS.join(", ")
        ),
    }
}

fn ensure_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> anyhow::Result<()> {
    ensure!(got == want, "{what}: got {got:?}, expected {want:?}");
    Ok(())
}

/// Edge sizes and depths: 1 MiB of Data, 100k list elements, a 40-deep recursion, an
/// `AnyPointer` value.
async fn large(corpus: &CorpusClient) -> anyhow::Result<()> {
    let big = Scalars {
        data: (0..1024 * 1024).map(|i| (i % 251) as u8).collect(),
        ints: (0..100_000).collect(),
        text: Text::from_bytes(vec![b'x'; 65536]),
        ..Scalars::default()
    };
    ensure!(
        corpus.echo_scalars(big.clone()).await? == Some(big),
        "echo of 1 MiB Data and 100k ints changed them"
    );
    let mut tree = Tree {
        value: 0,
        ..Tree::default()
    };
    for depth in 1..40 {
        tree = Tree {
            value: depth,
            next: Some(Box::new(tree)),
            children: vec![Tree {
                value: -depth,
                ..Tree::default()
            }],
        };
    }
    let any =
        AnyValue::from_value(&Point { x: 5, y: 6 }).context("encoding an AnyPointer value")?;
    let shapes = Shapes {
        tree: Some(tree),
        matrix: (0..1000).map(|i| vec![i; 10]).collect(),
        any,
        ..Shapes::default()
    };
    let back = corpus
        .echo_shapes(shapes.clone())
        .await?
        .ok_or_else(|| anyhow!("echo of a deep Shapes returned null"))?;
    ensure!(
        back == shapes,
        "echo of a 40-deep tree, a 1000x10 matrix and an AnyPointer changed them"
    );
    ensure_eq(
        "AnyPointer value",
        back.any.to_value::<Point>()?,
        Point { x: 5, y: 6 },
    )
}

async fn interfaces(corpus: &CorpusClient) -> anyhow::Result<()> {
    let counter = corpus
        .make_counter("a", 5)
        .await?
        .ok_or_else(|| anyhow!("makeCounter returned null"))?;
    ensure_eq("increment(2)", counter.increment(2).await?, 7)?;
    ensure_eq("increment(-10)", counter.increment(-10).await?, -3)?;
    // `name` is declared by Named, in another file: it goes out with Named's ID.
    ensure_eq("name (inherited)", counter.name().await?, Text::from("a"))
}

async fn extends(corpus: &CorpusClient) -> anyhow::Result<()> {
    let derived = corpus
        .make_derived("d")
        .await?
        .ok_or_else(|| anyhow!("makeDerived returned null"))?;
    ensure_eq(
        "increment(3) (inherited from Counter)",
        derived.increment(3).await?,
        3,
    )?;
    ensure_eq(
        "name (inherited from Named, two levels up)",
        derived.name().await?,
        Text::from("d"),
    )?;
    ensure_eq("reset", derived.reset().await?, 3)?;
    // A derived capability where the base is expected: remote, then local.
    ensure_eq(
        "readName(remote Derived)",
        corpus.read_name(derived.clone()).await?,
        Text::from("d"),
    )?;
    let local = DerivedServer::into_cap(CounterImpl::new("local", 0)).upcast::<NamedClient>();
    ensure_eq(
        "readName(local Derived)",
        corpus.read_name(local).await?,
        Text::from("local"),
    )?;
    let as_base: CounterClient = derived.into();
    ensure_eq(
        "increment on the upcast client",
        as_base.increment(1).await?,
        1,
    )
}

async fn interface_lists(corpus: &CorpusClient) -> anyhow::Result<()> {
    let counters = corpus.make_counters(3).await?;
    ensure_eq("makeCounters(3) length", counters.len(), 3)?;
    for (i, c) in counters.iter().enumerate() {
        let c = c.client().ok_or_else(|| anyhow!("counter #{i} is null"))?;
        ensure_eq(
            &format!("counter #{i} value"),
            c.increment(0).await?,
            i as i64,
        )?;
        ensure_eq(
            &format!("counter #{i} name"),
            c.name().await?,
            Text::from(format!("c{i}")),
        )?;
    }
    let locals: Vec<Cap<CounterClient>> = (1..=3)
        .map(|i| CounterServer::into_cap(CounterImpl::new(format!("l{i}"), i)))
        .collect();
    ensure_eq(
        "sumCounters(local 1, 2, 3)",
        corpus.sum_counters(locals).await?,
        6,
    )?;
    // The server's own counters, passed back to it.
    ensure_eq(
        "sumCounters(its own 0, 1, 2)",
        corpus.sum_counters(counters).await?,
        3,
    )?;
    ensure_eq("sumCounters([])", corpus.sum_counters(Vec::new()).await?, 0)
}

async fn interface_structs(corpus: &CorpusClient) -> anyhow::Result<()> {
    let shared = Arc::new(CounterImpl::new("held", 10));
    let held = CounterClient::local(shared.clone());
    let holder = Holder {
        label: "holder".into(),
        counter: held.clone(),
        counters: vec![
            held.clone(),
            Cap::null(),
            CounterServer::into_cap(CounterImpl::new("other", 1)),
        ],
        boxed: Some(Pair {
            key: "boxed".into(),
            value: held.clone(),
        }),
        result: Some(Res {
            value: held,
            error: Some(Failure {
                code: 0,
                message: "".into(),
            }),
        }),
    };
    let back = corpus
        .echo_holder(holder)
        .await?
        .ok_or_else(|| anyhow!("echoHolder returned null"))?;
    ensure_eq("label", back.label.clone(), Text::from("holder"))?;
    ensure!(
        back.counters[1].is_null(),
        "a null capability in a list must stay null"
    );
    // Every capability that went out and came back is our own object again.
    let mut total = 0;
    for (what, cap) in [
        ("counter", &back.counter),
        ("counters[0]", &back.counters[0]),
        (
            "boxed.value",
            &back
                .boxed
                .as_ref()
                .map(|b| b.value.clone())
                .unwrap_or_default(),
        ),
        (
            "result.value",
            &back
                .result
                .as_ref()
                .map(|r| r.value.clone())
                .unwrap_or_default(),
        ),
    ] {
        let c = cap
            .client()
            .ok_or_else(|| anyhow!("{what} came back null"))?;
        total += 1;
        ensure_eq(
            &format!("{what}: increment"),
            c.increment(1).await?,
            10 + total,
        )?;
    }
    let other = back.counters[2]
        .client()
        .ok_or_else(|| anyhow!("counters[2] came back null"))?;
    ensure_eq("counters[2] name", other.name().await?, Text::from("other"))?;
    ensure_eq("null holder", corpus.echo_holder(None).await?, None)
}

async fn exceptions(corpus: &CorpusClient) -> anyhow::Result<()> {
    ensure_eq("raise(0)", corpus.raise(0).await?, 42)?;
    let e = corpus.raise(1).await.expect_err("raise(1) must fail");
    ensure_eq(
        "raise(1) failure",
        e.declared_as::<Failure>().cloned(),
        Some(Failure {
            code: 1,
            message: "first".into(),
        }),
    )?;
    for (which, type_name, text) in [
        (2, "std::exception", "second"),
        (3, "mphub::corpus::Note", "third"),
    ] {
        let e = corpus.raise(which).await.expect_err("raise must fail");
        let mphub::Error::Declared(d) = &e else {
            bail!("raise({which}): expected a declared exception, got {e}");
        };
        ensure_eq(&format!("raise({which}) type"), d.type_name, type_name)?;
        ensure_eq(
            &format!("raise({which}) value"),
            d.downcast_ref::<Text>().cloned(),
            Some(Text::from(text)),
        )?;
    }
    let e = corpus.raise(9).await.expect_err("raise(9) must fail");
    ensure!(matches!(e, mphub::Error::Remote { .. }), "raise(9): {e}");
    Ok(())
}

async fn in_out(corpus: &CorpusClient) -> anyhow::Result<()> {
    let want = FindParam {
        want_hash: true,
        want_height: false,
        next: Some(Box::new(FindParam {
            want_hash: false,
            want_height: true,
            next: None,
        })),
    };
    let out = corpus.find(b"key".to_vec(), want.clone()).await?;
    ensure!(out.result, "find(key) must be found");
    ensure_eq(
        "find(key) block",
        out.block,
        Some(crate::server::find_result(b"key", Some(&want))),
    )?;
    let out = corpus.find(Vec::new(), None).await?;
    ensure!(!out.result, "find(empty key) must not be found");
    ensure_eq(
        "find(empty) block.found",
        out.block.map(|b| b.found),
        Some(false),
    )
}

async fn no_context(corpus: &CorpusClient) -> anyhow::Result<()> {
    ensure_eq("addNoContext(2, 3)", corpus.add_no_context(2, 3).await?, 5)?;
    let listener = Arc::new(ListenerImpl::default());
    corpus
        .subscribe(ListenerServer::into_cap(listener.clone()), 5)
        .await?;
    let seen = listener
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    ensure_eq(
        "notifications seen by the listener",
        seen,
        vec![0, 1, 2, 3, 4],
    )
}

async fn names(corpus: &CorpusClient) -> anyhow::Result<()> {
    ensure_eq("type(6, 7)", corpus.r#type(6, 7).await?, 42)?;
    ensure_eq("local", corpus.local2().await?, 34)?;
    ensure_eq("intoCap", corpus.into_cap2().await?, 35)?;
    ensure_eq("count", corpus.count().await?, 36)?;
    ensure_eq("countBlocking", corpus.count_blocking2().await?, 37)?;
    // The blocking twins, from a thread of their own.
    let c = corpus.clone();
    let (a, b) =
        tokio::task::spawn_blocking(move || (c.count_blocking(), c.count_blocking2_blocking()))
            .await
            .context("joining the blocking calls")?;
    ensure_eq("count (blocking)", a?, 36)?;
    ensure_eq("countBlocking (blocking)", b?, 37)
}

async fn optional(corpus: &CorpusClient) -> anyhow::Result<()> {
    ensure_eq(
        "maybe(true)",
        corpus.maybe(true).await?,
        Some(Point { x: 1, y: 2 }),
    )?;
    ensure_eq("maybe(false)", corpus.maybe(false).await?, None)?;
    let d = corpus.divide(7, 2, true).await?;
    ensure_eq("divide(7, 2, want)", (d.result, d.remainder), (3, Some(1)))?;
    let d = corpus.divide(7, 2, false).await?;
    ensure_eq("divide(7, 2, no want)", (d.result, d.remainder), (3, None))?;
    ensure!(
        corpus.divide(1, 0, false).await.is_err(),
        "divide by zero must fail"
    );
    Ok(())
}

/// Callbacks inside a struct and a list (Core PR #29409's `RPCCommand.actor`): the
/// server calls the client's, and the client calls the server's.
async fn callback_structs(corpus: &CorpusClient) -> anyhow::Result<()> {
    let mapper = |m: MapperImpl| MapperServer::into_cap(m);
    let job = Job {
        label: "job".into(),
        mapper: mapper(MapperImpl::Add(1)),
        then: vec![
            mapper(MapperImpl::Double),
            Cap::null(),
            mapper(MapperImpl::Add(-3)),
        ],
        tagged: None,
    };
    ensure_eq(
        "runJob(add 1, then double, null, add -3; 5)",
        corpus.run_job(job, 5).await?,
        9,
    )?;
    let empty = Job {
        label: "empty".into(),
        ..Job::default()
    };
    ensure_eq(
        "runJob(null mapper, no then; 7)",
        corpus.run_job(empty, 7).await?,
        7,
    )?;

    let job = corpus
        .make_job(10)
        .await?
        .ok_or_else(|| anyhow!("makeJob returned null"))?;
    ensure_eq(
        "makeJob label",
        job.label.clone(),
        Text::from("add 10 then double"),
    )?;
    ensure_eq("makeJob then.len()", job.then.len(), 1)?;
    let tagged = job
        .tagged
        .as_ref()
        .ok_or_else(|| anyhow!("makeJob: a null tagged"))?;
    ensure_eq("makeJob tagged.tag", tagged.tag.clone(), Text::from("tag"))?;
    let plus100 = tagged
        .mapper
        .client()
        .ok_or_else(|| anyhow!("makeJob: a null tagged.mapper"))?;
    ensure_eq("makeJob tagged.mapper.call(1)", plus100.call(1).await?, 101)?;
    let add = job
        .mapper
        .client()
        .ok_or_else(|| anyhow!("makeJob: a null mapper"))?;
    ensure_eq("makeJob mapper.call(1)", add.call(1).await?, 11)?;
    let double = job.then[0]
        .client()
        .ok_or_else(|| anyhow!("makeJob: a null then[0]"))?;
    ensure_eq("makeJob then[0].call(11)", double.call(11).await?, 22)?;
    // The server's own callbacks, handed back inside a struct.
    ensure_eq("runJob(makeJob(10); 1)", corpus.run_job(job, 1).await?, 22)
}
