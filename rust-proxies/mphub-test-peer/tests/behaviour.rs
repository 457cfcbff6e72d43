//! Threading, callbacks, lifetimes and failure behaviour, Rust client ⇄ Rust server.

mod common;

use std::future::IntoFuture as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{start, Transport};
use mphub::{CallContext, Result};
use mphub_test_peer::test_schema::*;

const BOTH: [Transport; 2] = [Transport::UnixSocket, Transport::SpawnedChild];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_one_strand_run_in_arrival_order() {
    for t in BOTH {
        let peer = start(t).await;
        let strand = peer.tester.new_strand("ordered");
        let tester = peer.tester.on_strand(&strand).unwrap();
        // Issue all calls before awaiting any: they are queued on one server thread.
        let calls: Vec<_> = (0..50)
            .map(|i| tester.append_log(i).into_future())
            .collect();
        for r in futures::future::join_all(calls).await {
            r.unwrap();
        }
        assert_eq!(
            tester.take_log().await.unwrap(),
            (0..50).collect::<Vec<_>>(),
            "{t:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_strands_run_in_parallel_and_one_strand_serialises() {
    for t in BOTH {
        let peer = start(t).await;
        let (a, b) = (peer.tester.new_strand("a"), peer.tester.new_strand("b"));
        let (ta, tb) = (
            peer.tester.on_strand(&a).unwrap(),
            peer.tester.on_strand(&b).unwrap(),
        );
        let started = Instant::now();
        let (ra, rb) = tokio::join!(ta.sleep_ms(300), tb.sleep_ms(300));
        let parallel = started.elapsed();
        assert_ne!(
            ra.unwrap(),
            rb.unwrap(),
            "two strands must be two server threads"
        );
        assert!(parallel < Duration::from_millis(550), "{t:?}: {parallel:?}");

        let started = Instant::now();
        let (r1, r2) = tokio::join!(ta.sleep_ms(300), ta.sleep_ms(300));
        let serial = started.elapsed();
        assert_eq!(r1.unwrap(), r2.unwrap(), "one strand is one server thread");
        assert!(serial >= Duration::from_millis(590), "{t:?}: {serial:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_async_calls_reuse_remote_threads() {
    let peer = start(Transport::UnixSocket).await;
    let mut names = std::collections::HashSet::new();
    for _ in 0..20 {
        names.insert(peer.tester.thread_name().await.unwrap());
    }
    assert_eq!(
        names.len(),
        1,
        "sequential calls reuse one idle strand: {names:?}"
    );
    // Concurrent calls get distinct threads (so a blocking wait does not stall others).
    let (x, y) = tokio::join!(peer.tester.sleep_ms(100), peer.tester.sleep_ms(100));
    assert_ne!(x.unwrap(), y.unwrap());
}

struct AddOne;
impl CallbackServer for AddOne {
    async fn call(&self, _cx: &CallContext, arg: i32) -> Result<i32> {
        Ok(arg + 1)
    }
}

/// Calls `recurse` back on the server: client→server→client→server...
struct Recurse {
    tester: TesterClient,
}
impl CallbackServer for Recurse {
    async fn call(&self, _cx: &CallContext, arg: i32) -> Result<i32> {
        let me = CallbackClient::local(Arc::new(Recurse {
            tester: self.tester.clone(),
        }));
        self.tester.recurse(me, arg).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_during_and_outside_a_call_and_recursion() {
    for t in BOTH {
        let peer = start(t).await;
        let tester = &peer.tester;
        assert_eq!(
            tester.call_callback(AddOne.into_cap(), 41).await.unwrap(),
            42,
            "{t:?}"
        );
        tester.save_callback(AddOne.into_cap()).await.unwrap();
        // The server calls it from a fresh OS thread, outside any request.
        assert_eq!(tester.call_saved_callback(9).await.unwrap(), 10, "{t:?}");
        let cb = Recurse {
            tester: tester.clone(),
        };
        assert_eq!(tester.recurse(cb.into_cap(), 6).await.unwrap(), 6, "{t:?}");
        // The same through the blocking API from an OS thread.
        let t2 = tester.clone();
        let got = std::thread::spawn(move || {
            t2.recurse_blocking(Recurse { tester: t2.clone() }.into_cap(), 4)
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(got, 4);
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_destroys_the_server_object() {
    let peer = start(Transport::UnixSocket).await;
    let stats = peer.stats.clone().unwrap();
    let counter = peer.init.make_counter(1).await.unwrap().unwrap();
    let clone = counter.clone();
    drop(counter);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        stats.counters_dropped.load(Ordering::SeqCst),
        0,
        "a clone is still alive"
    );
    assert_eq!(clone.increment().await.unwrap(), 2);
    drop(clone);
    wait_for("counter destroy", || {
        stats.counters_dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    let tester = peer.init.make_tester().await.unwrap().unwrap();
    tester.append_log(1).await.unwrap();
    drop(tester);
    wait_for("tester destroy", || {
        stats.testers_dropped.load(Ordering::SeqCst) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_killed_mid_call_fails_pending_calls_quickly() {
    let mut peer = start(Transport::SpawnedChild).await;
    let tester = peer.tester.clone();
    let pending = tokio::spawn(async move { tester.sleep_ms(10_000).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = Instant::now();
    peer.child.as_mut().unwrap().kill().unwrap();
    let err = pending.await.unwrap().unwrap_err();
    let took = killed.elapsed();
    assert!(err.is_disconnected(), "{err}");
    assert!(
        took < Duration::from_millis(100),
        "pending call failed after {took:?}"
    );
    let err = peer.tester.add_int64(1, 1).await.unwrap_err();
    assert!(err.is_disconnected(), "{err}");
}

/// (issue 9, defect 7) Many long calls on one connection must not make a quick call
/// queue behind one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_call_does_not_queue_behind_64_long_ones() {
    let peer = start(Transport::UnixSocket).await;
    let long: Vec<_> = (0..64)
        .map(|_| tokio::spawn(peer.tester.sleep_ms(3000).into_future()))
        .collect();
    // Let the long calls reach the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    assert_eq!(peer.tester.add_int64(1, 2).await.unwrap(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "a quick call waited {:?} behind long ones",
        started.elapsed()
    );
    for h in long {
        h.await.unwrap().unwrap();
    }
}

/// (issue 9, defect 7) Calls whose futures were dropped must not hold on to their
/// remote threads: a later call neither waits for them nor runs behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_calls_do_not_block_later_ones() {
    let peer = start(Transport::UnixSocket).await;
    let abandoned: Vec<_> = (0..64)
        .map(|_| tokio::spawn(peer.tester.sleep_ms(3000).into_future()))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for h in &abandoned {
        h.abort();
    }
    let started = Instant::now();
    let quick: Vec<_> = (0..8)
        .map(|i| peer.tester.add_int64(i, 1).into_future())
        .collect();
    for (i, r) in futures::future::join_all(quick)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(r.unwrap(), i as i64 + 1);
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "quick calls waited {:?} behind abandoned ones",
        started.elapsed()
    );
}
