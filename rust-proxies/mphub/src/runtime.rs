//! The event-loop thread that owns all Cap'n Proto state, and the `Send` handle to it.
//!
//! Cap'n Proto RPC in Rust is single-threaded (`Rc` everywhere). mphub gives each
//! [`Runtime`] one OS thread running a current-thread tokio runtime and a `LocalSet`;
//! every capnp object lives there. Public handles hold only ids and a job channel, so
//! they are `Send + Sync + Clone` and can be used from any thread or tokio task.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::state::LoopState;

/// A unit of work sent to the loop thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;
/// A future that runs on the loop thread (may hold `Rc`s).
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh process-wide id (runtimes, connections, objects, strands, calls).
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) struct RuntimeInner {
    pub(crate) id: u64,
    jobs: mpsc::UnboundedSender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) tokio: tokio::runtime::Handle,
    /// `destroy` calls sent for dropped proxies and not answered yet.
    pub(crate) destroys: Arc<PendingDestroys>,
}

/// How long a process exit waits for `destroy` calls still in flight
/// ([`wait_for_pending_destroys`]).
pub const EXIT_DESTROY_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A count of `destroy` calls in flight, and a way to wait for it to reach zero.
#[derive(Default)]
pub(crate) struct PendingDestroys {
    count: Mutex<usize>,
    zero: std::sync::Condvar,
}

impl PendingDestroys {
    /// Counts one more; the guard counts it answered when dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> DestroyInFlight {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        DestroyInFlight(self.clone())
    }

    /// Waits until none are in flight or `deadline` passes; true if none are.
    fn wait(&self, deadline: std::time::Instant) -> bool {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            count = self
                .zero
                .wait_timeout(count, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// One `destroy` call in flight (see [`PendingDestroys::begin`]).
pub(crate) struct DestroyInFlight(Arc<PendingDestroys>);

impl Drop for DestroyInFlight {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.0.zero.notify_all();
        }
    }
}

/// Every runtime's pending `destroy` calls, for [`wait_for_pending_destroys`].
static ALL_DESTROYS: Mutex<Vec<Weak<PendingDestroys>>> = Mutex::new(Vec::new());

/// Waits until every runtime's `destroy` calls for dropped proxies are answered, or
/// `timeout` passes; returns true if none is left.
///
/// Dropping a proxy never blocks: its `destroy` goes out from the event loop. A
/// process that exits right then would cut those calls off, and a libmultiprocess
/// server can stop answering when a client disconnects in the middle of a `destroy`
/// that releases callbacks. So mphub calls this at process exit (an `atexit` handler,
/// waiting at most [`EXIT_DESTROY_GRACE`]), like libmultiprocess's own clients, whose
/// proxy destructors wait for `destroy`. Call it yourself before `_exit` or `abort`,
/// which skip exit handlers.
pub fn wait_for_pending_destroys(timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    let all: Vec<_> = ALL_DESTROYS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    all.iter().all(|p| p.wait(deadline))
}

/// Registers `destroys` with [`wait_for_pending_destroys`], and that with `atexit` once.
fn register_destroys(destroys: &Arc<PendingDestroys>) {
    let mut all = ALL_DESTROYS.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(destroys));
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        extern "C" fn at_exit() {
            wait_for_pending_destroys(EXIT_DESTROY_GRACE);
        }
        // SAFETY: `at_exit` is a plain function that stays valid for the whole process.
        // If registration fails, exits just do not wait.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        // Closing the channel (by dropping `jobs`) ends the loop; join unless we are it.
        let handle = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(handle) = handle {
            if handle.thread().id() != std::thread::current().id() {
                let (tx, _rx) = mpsc::unbounded_channel();
                drop(std::mem::replace(&mut self.jobs, tx));
                let _ = handle.join();
            }
        }
    }
}

/// Handle to an mphub event loop. Cheap to clone; the loop stops when the last
/// handle (including every proxy and server handle created from it) is dropped.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Runtime#{}", self.inner.id)
    }
}

/// A weak reference to a runtime, held by loop-side state so it does not keep itself alive.
#[derive(Clone)]
pub(crate) struct WeakRuntime(Weak<RuntimeInner>);

impl WeakRuntime {
    pub(crate) fn upgrade(&self) -> Option<Runtime> {
        self.0.upgrade().map(|inner| Runtime { inner })
    }
}

thread_local! {
    static CURRENT_LOOP: RefCell<Option<Rc<LoopState>>> = const { RefCell::new(None) };
}

/// The loop state of the current thread, when it is an mphub loop thread.
pub(crate) fn current_loop() -> Option<Rc<LoopState>> {
    CURRENT_LOOP.with(|c| c.borrow().clone())
}

/// The loop state, for code that only runs on the loop thread.
pub(crate) fn loop_state() -> Result<Rc<LoopState>> {
    current_loop().ok_or_else(|| Error::Usage("not on an mphub event-loop thread".into()))
}

impl Runtime {
    /// Starts a new event-loop thread with the default [`Limits`](crate::Limits).
    pub fn new() -> Result<Runtime> {
        Runtime::with_limits(crate::Limits::default())
    }

    /// Starts a new event-loop thread whose connections and listeners keep to `limits`.
    pub fn with_limits(limits: crate::Limits) -> Result<Runtime> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let id = next_id();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("mphub-loop-{id}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(rt.handle().clone()));
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    while let Some(job) = rx.recv().await {
                        job();
                    }
                    // Close connections while still inside the LocalSet, and give the
                    // disconnect tasks a moment to flush.
                    if let Some(state) = CURRENT_LOOP.with(|c| c.borrow_mut().take()) {
                        state.shutdown();
                    }
                    tokio::task::yield_now().await;
                });
                drop(local);
            })?;
        let tokio = ready_rx
            .recv()
            .map_err(|_| Error::Usage("event loop thread failed to start".into()))?
            .map_err(Error::from)?;
        let destroys = Arc::new(PendingDestroys::default());
        register_destroys(&destroys);
        let inner = Arc::new(RuntimeInner {
            id,
            jobs: tx,
            thread: Mutex::new(Some(thread)),
            tokio,
            destroys,
        });
        let weak = WeakRuntime(Arc::downgrade(&inner));
        let rt = Runtime { inner };
        // Install the loop state as the very first job.
        rt.post(move || {
            CURRENT_LOOP
                .with(|c| *c.borrow_mut() = Some(Rc::new(LoopState::new(id, weak, limits))));
        })?;
        Ok(rt)
    }

    /// The process-wide default runtime, started on first use.
    pub fn global() -> Result<Runtime> {
        static GLOBAL: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Runtime::new().map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::Usage)
    }

    pub(crate) fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.inner))
    }

    /// Unique id of this runtime.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// True when called on this runtime's loop thread.
    pub fn on_loop_thread(&self) -> bool {
        current_loop().is_some_and(|s| s.runtime_id == self.inner.id)
    }

    /// Posts a job to the loop thread.
    pub(crate) fn post(&self, job: impl FnOnce() + Send + 'static) -> Result<()> {
        self.inner
            .jobs
            .send(Box::new(job))
            .map_err(|_| Error::Disconnected("mphub runtime stopped".into()))
    }

    /// Runs `make()` on the loop thread and awaits its output from any thread or task.
    /// The returned future is `Send`: it only waits for the answer; dropping it cancels
    /// the work on the loop.
    pub(crate) fn run<T, F>(&self, make: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce() -> LocalFuture<Result<T>> + Send + 'static,
    {
        let (mut tx, rx) = oneshot::channel();
        let job = move || {
            tokio::task::spawn_local(async move {
                // The caller dropping its future cancels the work (an IPC call then
                // sends `Finish`).
                let out = tokio::select! {
                    out = make() => Some(out),
                    () = tx.closed() => None,
                };
                if let Some(out) = out {
                    let _ = tx.send(out);
                }
            });
        };
        let posted = if self.on_loop_thread() {
            // Already on the loop (inside its LocalSet: see `Runtime::spawn`): no hand-off.
            job();
            Ok(())
        } else {
            self.post(job)
        };
        async move {
            posted?;
            rx.await
                .map_err(|_| Error::Disconnected("mphub runtime stopped".into()))?
        }
    }

    /// Like [`Runtime::run`], but the work runs to its end even if the returned future
    /// is dropped (serving a connection until the peer leaves).
    pub(crate) fn run_detached<T, F>(
        &self,
        make: F,
    ) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce() -> LocalFuture<Result<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let posted = self.post(move || {
            tokio::task::spawn_local(async move {
                let _ = tx.send(make().await);
            });
        });
        async move {
            posted?;
            rx.await
                .map_err(|_| Error::Disconnected("mphub runtime stopped".into()))?
        }
    }

    /// Blocking version of [`Runtime::run`]; must not be called on the loop thread.
    pub(crate) fn run_blocking<T, F>(&self, make: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> LocalFuture<Result<T>> + Send + 'static,
    {
        if current_loop().is_some() {
            return Err(Error::Usage(
                "blocking mphub call made on an mphub event-loop thread; use the async API".into(),
            ));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.post(move || {
            tokio::task::spawn_local(async move {
                let _ = tx.send(make().await);
            });
        })?;
        rx.recv()
            .map_err(|_| Error::Disconnected("mphub runtime stopped".into()))?
    }

    /// Runs a blocking closure on tokio's blocking pool of this runtime (for server
    /// implementations that must block); awaits its result.
    pub async fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        self.inner
            .tokio
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::Usage(format!("blocking task failed: {e}")))
    }

    /// Runs `future` as a task on the loop thread, inside the loop's `LocalSet`, until it
    /// ends (detached). Server code that starts background work making IPC calls (a
    /// notification sender, say) must use this (or [`CallContext::spawn`]) instead of
    /// `tokio::spawn`: a `tokio::spawn` task started on the loop thread runs outside the
    /// `LocalSet`, where mphub's calls cannot run. Errors when the runtime stopped.
    ///
    /// [`CallContext::spawn`]: crate::CallContext::spawn
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        self.post(move || {
            tokio::task::spawn_local(future);
        })
    }

    /// The tokio handle of the loop (timers, blocking pool).
    pub fn tokio_handle(&self) -> &tokio::runtime::Handle {
        &self.inner.tokio
    }
}
