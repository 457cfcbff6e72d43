//! Reference Rust implementation of `schema/test`: what every client in the interop
//! matrix is checked against.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mphub::{CallContext, Cap, Error, Result, Text};

use crate::test_schema::*;

/// Counters a test can read when the server runs in its own process space.
#[derive(Default, Debug)]
pub struct Stats {
    /// Tester objects released (by `destroy` or by the client dropping them).
    pub testers_dropped: AtomicUsize,
    /// Counter objects created.
    pub counters_created: AtomicUsize,
    /// Counter objects released.
    pub counters_dropped: AtomicUsize,
}

/// The bootstrap object.
pub struct TestInitImpl {
    stats: Arc<Stats>,
}

impl TestInitImpl {
    /// A fresh server with its own stats.
    pub fn new(stats: Arc<Stats>) -> Self {
        TestInitImpl { stats }
    }
}

impl TestInitServer for TestInitImpl {
    async fn make_tester(&self, _cx: &CallContext) -> Result<Cap<TesterClient>> {
        Ok(TesterImpl {
            stats: self.stats.clone(),
            log: Mutex::new(Vec::new()),
            saved: Mutex::new(None),
        }
        .into_cap())
    }

    async fn make_counter(&self, _cx: &CallContext, start: i64) -> Result<Cap<CounterClient>> {
        self.stats.counters_created.fetch_add(1, Ordering::SeqCst);
        Ok(CounterImpl {
            value: AtomicI64::new(start),
            stats: self.stats.clone(),
        }
        .into_cap())
    }
}

/// Implements `Tester`.
pub struct TesterImpl {
    stats: Arc<Stats>,
    log: Mutex<Vec<i32>>,
    saved: Mutex<Option<CallbackClient>>,
}

impl Drop for TesterImpl {
    fn drop(&mut self) {
        self.stats.testers_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TesterServer for TesterImpl {
    async fn pass_primitives(
        &self,
        _cx: &CallContext,
        arg: Option<Primitives>,
    ) -> Result<Option<Primitives>> {
        Ok(arg)
    }
    async fn add_int64(&self, _cx: &CallContext, a: i64, b: i64) -> Result<i64> {
        a.checked_add(b)
            .ok_or_else(|| Error::failed("integer overflow in addInt64"))
    }
    async fn pass_text(&self, _cx: &CallContext, arg: Text) -> Result<Text> {
        Ok(arg)
    }
    async fn pass_data(&self, _cx: &CallContext, arg: Vec<u8>) -> Result<Vec<u8>> {
        Ok(arg)
    }
    async fn pass_optional_data(
        &self,
        _cx: &CallContext,
        arg: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(arg)
    }
    async fn pass_ints(&self, _cx: &CallContext, arg: Vec<i32>) -> Result<Vec<i32>> {
        Ok(arg)
    }
    async fn pass_texts(&self, _cx: &CallContext, arg: Vec<Text>) -> Result<Vec<Text>> {
        Ok(arg)
    }
    async fn pass_datas(&self, _cx: &CallContext, arg: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        Ok(arg)
    }
    async fn pass_map(&self, _cx: &CallContext, arg: Vec<Pair>) -> Result<Vec<Pair>> {
        Ok(arg)
    }
    async fn pass_point(&self, _cx: &CallContext, arg: Option<Point>) -> Result<Option<Point>> {
        Ok(arg)
    }
    async fn maybe_int(&self, _cx: &CallContext, want: bool) -> Result<Option<i32>> {
        Ok(want.then_some(42))
    }
    async fn divide(
        &self,
        _cx: &CallContext,
        a: i32,
        b: i32,
        want_remainder: bool,
    ) -> Result<TesterDivideOutput> {
        if b == 0 {
            return Err(Error::failed("division by zero"));
        }
        Ok(TesterDivideOutput {
            result: a.wrapping_div(b),
            remainder: want_remainder.then(|| a.wrapping_rem(b)),
        })
    }
    async fn add_in_out(
        &self,
        _cx: &CallContext,
        x: i32,
        sum: i32,
    ) -> Result<TesterAddInOutOutput> {
        Ok(TesterAddInOutOutput {
            sum: sum.wrapping_add(x),
        })
    }
    async fn split(&self, _cx: &CallContext, text: Text, at: u32) -> Result<TesterSplitOutput> {
        let bytes = text.as_bytes();
        let at = (at as usize).min(bytes.len());
        Ok(TesterSplitOutput {
            head: Text::from_bytes(&bytes[..at]),
            tail: Text::from_bytes(&bytes[at..]),
        })
    }
    async fn raise(&self, _cx: &CallContext, code: i32, message: Text) -> Result<()> {
        Err(Error::declared(
            "mphub::test::TestError",
            TestError { code, message },
        ))
    }
    async fn checked_divide(&self, _cx: &CallContext, a: i32, b: i32) -> Result<i32> {
        if b == 0 {
            return Err(Error::declared(
                "mphub::test::TestError",
                TestError {
                    code: 1,
                    message: "division by zero".into(),
                },
            ));
        }
        Ok(a.wrapping_div(b))
    }
    async fn fail(&self, _cx: &CallContext, message: Text) -> Result<()> {
        Err(Error::failed(message.to_string_lossy().into_owned()))
    }
    async fn add_no_context(&self, _cx: &CallContext, a: i32, b: i32) -> Result<i32> {
        Ok(a.wrapping_add(b))
    }
    async fn sleep_ms(&self, cx: &CallContext, ms: u32) -> Result<Text> {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        Ok(cx.thread_name().unwrap_or("").into())
    }
    async fn thread_name(&self, cx: &CallContext) -> Result<Text> {
        Ok(cx.thread_name().unwrap_or("").into())
    }
    async fn append_log(&self, _cx: &CallContext, value: i32) -> Result<()> {
        lock(&self.log).push(value);
        Ok(())
    }
    async fn take_log(&self, _cx: &CallContext) -> Result<Vec<i32>> {
        Ok(std::mem::take(&mut *lock(&self.log)))
    }
    async fn call_callback(
        &self,
        _cx: &CallContext,
        callback: Option<CallbackClient>,
        arg: i32,
    ) -> Result<i32> {
        let cb = callback.ok_or_else(|| Error::failed("null callback"))?;
        cb.call(arg).await
    }
    async fn save_callback(
        &self,
        _cx: &CallContext,
        callback: Option<CallbackClient>,
    ) -> Result<()> {
        *lock(&self.saved) = callback;
        Ok(())
    }
    async fn call_saved_callback(&self, _cx: &CallContext, arg: i32) -> Result<i32> {
        let cb = lock(&self.saved)
            .clone()
            .ok_or_else(|| Error::failed("no saved callback"))?;
        // From a fresh OS thread, outside this request: the runtime must make a thread
        // on the caller's ThreadMap, as libmultiprocess does.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(cb.call_blocking(arg));
        });
        rx.await
            .map_err(|_| Error::failed("callback thread vanished"))?
    }
    async fn recurse(
        &self,
        _cx: &CallContext,
        callback: Option<CallbackClient>,
        depth: i32,
    ) -> Result<i32> {
        if depth <= 0 {
            return Ok(0);
        }
        let cb = callback.ok_or_else(|| Error::failed("null callback"))?;
        Ok(cb.call(depth - 1).await? + 1)
    }
    async fn read_counter(&self, _cx: &CallContext, counter: Option<CounterClient>) -> Result<i64> {
        let counter = counter.ok_or_else(|| Error::failed("null counter"))?;
        counter.get().await
    }
    async fn renamed_method(&self, _cx: &CallContext, value: i32) -> Result<i32> {
        Ok(value.wrapping_mul(2))
    }
    async fn live_counters(&self, _cx: &CallContext) -> Result<i64> {
        let created = self.stats.counters_created.load(Ordering::SeqCst);
        let dropped = self.stats.counters_dropped.load(Ordering::SeqCst);
        Ok(created.saturating_sub(dropped) as i64)
    }
}

/// Implements `Counter`.
pub struct CounterImpl {
    value: AtomicI64,
    stats: Arc<Stats>,
}

impl Drop for CounterImpl {
    fn drop(&mut self) {
        self.stats.counters_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl CounterServer for CounterImpl {
    async fn increment(&self, _cx: &CallContext) -> Result<i64> {
        Ok(self.value.fetch_add(1, Ordering::SeqCst) + 1)
    }
    async fn get(&self, _cx: &CallContext) -> Result<i64> {
        Ok(self.value.load(Ordering::SeqCst))
    }
}
