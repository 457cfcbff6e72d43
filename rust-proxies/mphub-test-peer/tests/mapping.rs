//! Every mapping rule of schema/test, Rust client ⇄ Rust server, over a unix socket and
//! over a spawned child.

mod common;

use common::{start, Transport};
use mphub::Text;
use mphub_test_peer::test_schema::*;

async fn check_all_mappings(t: Transport) {
    let peer = start(t).await;
    let tester = &peer.tester;

    let prims = Primitives {
        b: true,
        i8: i8::MIN,
        i16: i16::MAX,
        i32: -123_456,
        i64: i64::MIN,
        u8: u8::MAX,
        u16: 65_000,
        u32: u32::MAX,
        u64: u64::MAX,
        f32: 1.5,
        f64: -2.25e300,
    };
    assert_eq!(
        tester.pass_primitives(prims.clone()).await.unwrap(),
        Some(prims),
        "{t:?}"
    );
    assert_eq!(tester.add_int64(40, 2).await.unwrap(), 42);

    // Text keeps non-UTF-8 bytes and NULs verbatim.
    let odd = Text::from_bytes(vec![b'a', 0, 0xff, 0xfe, b'z']);
    assert_eq!(tester.pass_text(odd.clone()).await.unwrap(), odd);
    assert_eq!(tester.pass_text("").await.unwrap(), Text::default());

    // Data: bytes round trip; empty stays empty; hasX distinguishes absent from empty.
    let data: Vec<u8> = (0..=255u8).collect();
    assert_eq!(tester.pass_data(data.clone()).await.unwrap(), data);
    assert_eq!(
        tester.pass_data(Vec::new()).await.unwrap(),
        Vec::<u8>::new()
    );
    assert_eq!(tester.pass_optional_data(None).await.unwrap(), None);
    assert_eq!(
        tester.pass_optional_data(Some(Vec::new())).await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        tester.pass_optional_data(Some(vec![1, 2])).await.unwrap(),
        Some(vec![1, 2])
    );

    // Lists and maps.
    assert_eq!(
        tester.pass_ints(vec![3, -1, i32::MAX]).await.unwrap(),
        vec![3, -1, i32::MAX]
    );
    assert_eq!(tester.pass_ints(vec![]).await.unwrap(), Vec::<i32>::new());
    let texts = vec![
        Text::from("a"),
        Text::from_bytes(vec![0xff]),
        Text::default(),
    ];
    assert_eq!(tester.pass_texts(texts.clone()).await.unwrap(), texts);
    let datas = vec![vec![], vec![0u8; 3], vec![9]];
    assert_eq!(tester.pass_datas(datas.clone()).await.unwrap(), datas);
    let map = vec![
        Pair {
            key: "one".into(),
            value: 1,
        },
        Pair {
            key: "two".into(),
            value: 2,
        },
    ];
    assert_eq!(tester.pass_map(map.clone()).await.unwrap(), map);

    // Wrapped struct with a nested list and a hasX optional member.
    let point = Point {
        x: 1,
        y: -2,
        label: "p".into(),
        tags: vec!["t1".into(), "t2".into()],
        weight: Some(0.5),
    };
    assert_eq!(
        tester.pass_point(point.clone()).await.unwrap(),
        Some(point.clone())
    );
    let unweighted = Point {
        weight: None,
        ..point
    };
    assert_eq!(
        tester.pass_point(unweighted.clone()).await.unwrap(),
        Some(unweighted)
    );

    // hasResult optional return; wantX out-pointer; in/out; several outputs.
    assert_eq!(tester.maybe_int(true).await.unwrap(), Some(42));
    assert_eq!(tester.maybe_int(false).await.unwrap(), None);
    let d = tester.divide(17, 5, true).await.unwrap();
    assert_eq!((d.result, d.remainder), (3, Some(2)));
    let d = tester.divide(17, 5, false).await.unwrap();
    assert_eq!((d.result, d.remainder), (3, None));
    assert_eq!(tester.add_in_out(5, 10).await.unwrap().sum, 15);
    let s = tester.split("hello world", 5).await.unwrap();
    assert_eq!((s.head, s.tail), ("hello".into(), " world".into()));

    // Declared exceptions come back as data; generic failures as remote errors.
    let err = tester.raise(7, "bad thing").await.unwrap_err();
    let te = err.declared_as::<TestError>().expect("declared TestError");
    assert_eq!((te.code, te.message.clone()), (7, Text::from("bad thing")));
    assert_eq!(tester.checked_divide(9, 3).await.unwrap(), 3);
    let err = tester.checked_divide(1, 0).await.unwrap_err();
    assert_eq!(err.declared_as::<TestError>().map(|e| e.code), Some(1));
    let err = tester.fail("boom").await.unwrap_err();
    assert_eq!(err.remote_what(), Some("boom"), "{err}");
    let err = tester.divide(1, 0, false).await.unwrap_err();
    assert_eq!(err.remote_what(), Some("division by zero"));

    // No context; renamed method; interfaces returned and passed.
    assert_eq!(tester.add_no_context(2, 3).await.unwrap(), 5);
    assert_eq!(tester.renamed_method(21).await.unwrap(), 42);
    let counter = peer.init.make_counter(10).await.unwrap().expect("counter");
    assert_eq!(counter.increment().await.unwrap(), 11);
    assert_eq!(tester.read_counter(counter.clone()).await.unwrap(), 11);

    // The blocking API from a plain OS thread.
    let t2 = tester.clone();
    let sum = std::thread::spawn(move || t2.add_int64_blocking(1, 2))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(sum, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_over_unix_socket() {
    check_all_mappings(Transport::UnixSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_over_spawned_child() {
    check_all_mappings(Transport::SpawnedChild).await;
}
