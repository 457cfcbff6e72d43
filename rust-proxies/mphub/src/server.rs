//! Server side: running an incoming call on the right hosted thread, in order.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::proxy::{CallScope, ConnRef, BLOCKING_SCOPE, CURRENT_CALL};
use crate::proxy_capnp::{context, thread};
use crate::runtime::{loop_state, next_id, Runtime};
use crate::state::ActiveCall;

static REQUEST_NUMBER: AtomicU64 = AtomicU64::new(0);

/// The `Context` of an incoming call: which of our threads should run it, and which
/// caller thread waits for it.
#[derive(Default)]
pub struct ContextCaps {
    thread: Option<thread::Client>,
    callback_thread: Option<thread::Client>,
}

impl ContextCaps {
    /// Reads a `context` param (`None` when the pointer is null).
    pub fn read(ctx: Option<context::Reader<'_>>) -> Result<ContextCaps> {
        let Some(ctx) = ctx else {
            return Ok(ContextCaps::default());
        };
        Ok(ContextCaps {
            thread: if ctx.has_thread() {
                Some(ctx.get_thread()?)
            } else {
                None
            },
            callback_thread: if ctx.has_callback_thread() {
                Some(ctx.get_callback_thread()?)
            } else {
                None
            },
        })
    }
}

/// What a server implementation learns about the call it is running.
#[derive(Clone, Debug)]
pub struct CallContext {
    scope: Option<CallScope>,
    request: u64,
    runtime: Option<Runtime>,
    thread_name: Option<String>,
}

impl CallContext {
    /// Process-wide request number, as in libmultiprocess logs (`request #N`).
    pub fn request_number(&self) -> u64 {
        self.request
    }

    /// Name of the hosted thread running the call (`<exe>-<pid>/mphub-<conn>-<n> (from
    /// <caller>)`, `pool`), or `None` for methods without a context.
    pub fn thread_name(&self) -> Option<&str> {
        self.thread_name.as_deref()
    }

    /// Runs blocking work on the runtime's blocking pool while this call keeps its
    /// place on its thread; IPC calls made inside (blocking API) count as made during
    /// this call, so callbacks reach the caller's waiting thread.
    pub async fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let rt = self
            .runtime
            .clone()
            .ok_or_else(|| Error::Usage("runtime stopped".into()))?;
        let scope = self.scope;
        rt.spawn_blocking(move || {
            BLOCKING_SCOPE.with(|s| s.set(scope));
            let out = f();
            BLOCKING_SCOPE.with(|s| s.set(None));
            out
        })
        .await
    }
}

/// Removes the active-call record however the call ends (also when cancelled).
struct ActiveCallGuard(u64);

impl Drop for ActiveCallGuard {
    fn drop(&mut self) {
        if let Ok(st) = loop_state() {
            let call = st.calls.borrow_mut().remove(&self.0);
            if let Some(call) = call {
                let guard = call.guard.borrow_mut().take();
                drop(guard);
            }
        }
    }
}

/// Runs one incoming call. Without a `Context` (`ctx == None`) it runs at once on the
/// loop, like libmultiprocess's event-loop methods. With one, it resolves
/// `context.thread` to one of our threads (or the `makePool` pool), waits its turn on
/// that thread and runs with `callbackThread` remembered for calls back to the caller.
pub async fn dispatch<T, F, Fut>(
    conn: &ConnRef,
    method: &'static str,
    ctx: Option<ContextCaps>,
    run: F,
) -> Result<T>
where
    F: FnOnce(CallContext) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let n = REQUEST_NUMBER.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::debug!(target: "ipc", "IPC server recv request  #{n} {method}$Params");
    let st = loop_state()?;
    let runtime = st.runtime.upgrade();
    let Some(caps) = ctx else {
        let out = run(CallContext {
            scope: None,
            request: n,
            runtime,
            thread_name: None,
        })
        .await;
        log_done(n, method, &out);
        return out;
    };
    let conn_state = conn.0.clone();
    let (slot, own_thread, thread_name) = match caps.thread {
        None => match conn_state.pool_slot() {
            Some(slot) => (slot, None, "pool".to_string()),
            None => {
                tracing::error!(target: "ipc", "IPC server error request #{n}, no thread specified and no pool configured");
                return Err(Error::failed("no thread specified and no pool configured"));
            }
        },
        Some(t) => match conn_state.local_thread(t.clone()).await {
            Some(server) => {
                if let Some(cb) = &caps.callback_thread {
                    server.keep_callback(cb);
                }
                (server.slot.clone(), Some(t), server.name.clone())
            }
            None => {
                tracing::error!(target: "ipc", "IPC server error request #{n}, invalid thread handle");
                return Err(Error::failed("invalid thread handle"));
            }
        },
    };
    tracing::debug!(target: "ipc", "IPC server post request  #{n} {{{thread_name}}}");
    let guard = slot.enter().await;
    tracing::debug!(target: "ipc", "IPC server executing request #{n}");
    let call_id = next_id();
    st.calls.borrow_mut().insert(
        call_id,
        ActiveCall {
            conn_id: conn_state.id,
            callback_thread: caps.callback_thread,
            own_thread,
            guard: Rc::new(RefCell::new(Some(guard))),
        },
    );
    let _active = ActiveCallGuard(call_id);
    let scope = CallScope {
        runtime_id: st.runtime_id,
        call_id,
    };
    let out = CURRENT_CALL
        .scope(
            scope,
            run(CallContext {
                scope: Some(scope),
                request: n,
                runtime,
                thread_name: Some(thread_name),
            }),
        )
        .await;
    log_done(n, method, &out);
    out
}

fn log_done<T>(n: u64, method: &str, out: &Result<T>) {
    match out {
        Ok(_) => tracing::debug!(target: "ipc", "IPC server send response #{n} {method}$Results"),
        Err(Error::Declared(_)) => {
            tracing::debug!(target: "ipc", "IPC server send response #{n} {method}$Results (declared exception)")
        }
        Err(e) => {
            tracing::error!(target: "ipc", "IPC server error request #{n} {method}$Results {e}")
        }
    }
}

/// An implementation object hosted for a peer; `destroy` drops it.
pub struct Hosted<T: ?Sized> {
    inner: RefCell<Option<Arc<T>>>,
    interface: &'static str,
}

impl<T: ?Sized> Hosted<T> {
    /// Hosts `imp`.
    pub fn new(imp: Arc<T>, interface: &'static str) -> Self {
        Hosted {
            inner: RefCell::new(Some(imp)),
            interface,
        }
    }

    /// The implementation, unless destroyed. (A libmultiprocess server crashes on a
    /// call after destroy; mphub answers with an error instead.)
    pub fn get(&self) -> Result<Arc<T>> {
        self.inner
            .borrow()
            .clone()
            .ok_or_else(|| Error::failed(format!("{} method called after destroy", self.interface)))
    }

    /// Drops the implementation (the `destroy` method).
    pub fn destroy(&self) {
        tracing::debug!(target: "ipc", "IPC server destroy {}", self.interface);
        let imp = self.inner.borrow_mut().take();
        drop(imp);
    }
}

/// Serves `construct(threadMap) -> (threadMap)`: keeps the peer's ThreadMap and
/// returns one we host.
pub fn serve_construct(
    conn: &ConnRef,
    peer_thread_map: Option<crate::proxy_capnp::thread_map::Client>,
) -> crate::proxy_capnp::thread_map::Client {
    if let Some(map) = peer_thread_map {
        *conn.0.peer_thread_map.borrow_mut() = Some(map);
    }
    crate::state::host_thread_map(&conn.0)
}
