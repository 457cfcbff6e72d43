//! Server side: running an incoming call on the right hosted thread, in order.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use capnp::any_pointer;

use crate::call::Method;
use crate::error::{DeclaredException, Error, Result};
use crate::proxy::{CallScope, ConnRef, BLOCKING_SCOPE, CURRENT_CALL};
use crate::proxy_capnp::{context, thread};
use crate::runtime::{loop_state, next_id, Runtime};
use crate::state::ActiveCall;
use crate::wire::{build_struct, read_root, ReadCx, StructBuilder, StructReader, WriteCx};

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

    /// Starts `future` as a detached task on this runtime's loop (see
    /// [`Runtime::spawn`](crate::Runtime::spawn)): background work of a server that makes
    /// IPC calls, e.g. calling back a client's object after this call returned.
    pub fn spawn(
        &self,
        future: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        self.runtime
            .as_ref()
            .ok_or_else(|| Error::Usage("runtime stopped".into()))?
            .spawn(future)
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
    method: &'static Method,
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

fn log_done<T>(n: u64, method: &Method, out: &Result<T>) {
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

/// An implementation object hosted for a peer; `destroy` drops it. Clones share it.
pub struct Hosted<T: ?Sized> {
    inner: Rc<RefCell<Option<Arc<T>>>>,
    interface: &'static str,
}

impl<T: ?Sized> Clone for Hosted<T> {
    fn clone(&self) -> Self {
        Hosted {
            inner: self.inner.clone(),
            interface: self.interface,
        }
    }
}

impl<T: ?Sized> Hosted<T> {
    /// Hosts `imp`.
    pub fn new(imp: Arc<T>, interface: &'static str) -> Self {
        Hosted {
            inner: Rc::new(RefCell::new(Some(imp))),
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

/// Serves the calls made on one hosted object. Generated per interface (`XAdapter`):
/// it picks the method by interface ID and ordinal and hands it to [`Incoming::serve`].
pub trait Dispatch: 'static {
    /// Serves one call.
    fn dispatch(&self, call: Incoming) -> Dispatched;
}

/// What [`Dispatch::dispatch`] returns: the call's completion, for capnp-rpc.
pub type Dispatched = capnp::capability::DispatchCallResult;

/// One incoming call, before its method is known to the runtime.
pub struct Incoming {
    interface_id: u64,
    ordinal: u16,
    params: capnp::capability::Params<any_pointer::Owned>,
    results: capnp::capability::Results<any_pointer::Owned>,
    conn: ConnRef,
}

/// Encodes a method's results (generated per method).
pub type EncodeResults<R> = fn(R, &mut StructBuilder<'_>, &WriteCx<'_>) -> Result<()>;
/// Writes a declared exception into its result field; `false` if the method does not
/// declare that exception type (generated per method).
pub type EncodeException =
    fn(&DeclaredException, &mut StructBuilder<'_>, &WriteCx<'_>) -> Result<bool>;

impl Incoming {
    /// The Cap'n Proto ID of the interface the call names.
    pub fn interface_id(&self) -> u64 {
        self.interface_id
    }

    /// The method's ordinal in that interface.
    pub fn ordinal(&self) -> u16 {
        self.ordinal
    }

    /// Serves the call on `hosted`: decodes the params with `decode`, runs `run` with
    /// the implementation on the thread the `Context` names (in order, see
    /// [`dispatch`]), and encodes its value with `encode` (or a declared exception with
    /// `exceptions`).
    pub fn serve<T, A, R, F, Fut>(
        self,
        hosted: &Hosted<T>,
        method: &'static Method,
        decode: fn(StructReader<'_>, &ReadCx<'_>) -> Result<A>,
        run: F,
        encode: EncodeResults<R>,
        exceptions: EncodeException,
    ) -> Dispatched
    where
        T: ?Sized + 'static,
        A: std::fmt::Debug + 'static,
        R: std::fmt::Debug + 'static,
        F: FnOnce(Arc<T>, CallContext, A) -> Fut + 'static,
        Fut: Future<Output = Result<R>> + 'static,
    {
        let imp = match hosted.get() {
            Ok(imp) => imp,
            Err(e) => return self.fail(e),
        };
        self.serve_fn(
            method,
            decode,
            move |cx, args| run(imp, cx, args),
            encode,
            exceptions,
        )
    }

    fn serve_fn<A, R, F, Fut>(
        self,
        method: &'static Method,
        decode: fn(StructReader<'_>, &ReadCx<'_>) -> Result<A>,
        run: F,
        encode: EncodeResults<R>,
        exceptions: EncodeException,
    ) -> Dispatched
    where
        A: std::fmt::Debug + 'static,
        R: std::fmt::Debug + 'static,
        F: FnOnce(CallContext, A) -> Fut + 'static,
        Fut: Future<Output = Result<R>> + 'static,
    {
        let Incoming {
            params,
            mut results,
            conn,
            ..
        } = self;
        let in_flight = match conn.0.begin_call(method) {
            Ok(guard) => guard,
            Err(e) => {
                return Dispatched::new(
                    capnp::capability::Promise::err(crate::to_capnp_error(e)),
                    false,
                )
            }
        };
        let call = async move {
            let _in_flight = in_flight;
            let (ctx, args) = {
                let root = read_root(params.get()?)?;
                let ctx = match method.context {
                    Some(index) if root.has(index) => Some(ContextCaps::read(Some(
                        root.pointer(index).get_as::<context::Reader<'_>>()?,
                    ))?),
                    Some(_) => Some(ContextCaps::default()),
                    None => None,
                };
                (ctx, decode(root, &ReadCx::new(&conn, params.get()?)?)?)
            };
            crate::rt::trace_value("request data", &args);
            drop(params);
            let out = dispatch(&conn, method, ctx, move |cx| run(cx, args)).await;
            let cx = WriteCx::new(&conn);
            match out {
                Ok(value) => {
                    crate::rt::trace_value("response data", &value);
                    build_struct(results.get(), method.results, |mut b| {
                        encode(value, &mut b, &cx)
                    })?;
                }
                Err(Error::Declared(d)) => {
                    let handled = build_struct(results.get(), method.results, |mut b| {
                        exceptions(&d, &mut b, &cx)
                    })?;
                    if !handled {
                        return Err(Error::Declared(d));
                    }
                }
                Err(e) => return Err(e),
            }
            // A reply no Cap'n Proto reader accepts would kill the connection at the
            // caller; the call fails instead (capnp-rpc then sends a fresh, small
            // exception message, not the filled one).
            let words = results.get().target_size()?.word_count;
            if words >= crate::MAX_MESSAGE_WORDS {
                return Err(Error::Usage(format!(
                    "{method} result is {} MiB; Cap'n Proto peers refuse messages of 64 MiB \
                     or more",
                    words * 8 / (1024 * 1024)
                )));
            }
            Ok(())
        };
        Dispatched::new(
            capnp::capability::Promise::from_future(async move {
                call.await.map_err(crate::to_capnp_error)
            }),
            false,
        )
    }

    /// Serves `destroy`: waits for the call's turn on its thread, then drops `hosted`.
    pub fn destroy<T: ?Sized + 'static>(
        self,
        method: &'static Method,
        hosted: &Hosted<T>,
    ) -> Dispatched {
        let hosted = hosted.clone();
        self.serve_fn(
            method,
            |_, _| Ok(()),
            move |_, ()| async move {
                hosted.destroy();
                Ok(())
            },
            |(), _, _| Ok(()),
            |_, _, _| Ok(false),
        )
    }

    /// Answers a call this server does not know (unknown interface or ordinal).
    pub fn unimplemented(self) -> Dispatched {
        let message = format!(
            "method @{} of interface {:#018x} is not implemented by this server",
            self.ordinal, self.interface_id
        );
        Dispatched::new(
            capnp::capability::Promise::err(capnp::Error::unimplemented(message)),
            false,
        )
    }

    /// Fails the call with `e` (e.g. the object was destroyed).
    pub fn fail(self, e: Error) -> Dispatched {
        Dispatched::new(
            capnp::capability::Promise::err(crate::to_capnp_error(e)),
            false,
        )
    }
}

/// A hosted object as capnp-rpc sees it.
pub struct ServerObject<D> {
    dispatch: D,
    conn: ConnRef,
}

/// capnp-rpc's handle on a [`ServerObject`].
pub struct ServerRc<D>(Rc<ServerObject<D>>);

impl<D> Clone for ServerRc<D> {
    fn clone(&self) -> Self {
        ServerRc(self.0.clone())
    }
}

impl<D> std::ops::Deref for ServerRc<D> {
    type Target = ServerObject<D>;
    fn deref(&self) -> &ServerObject<D> {
        &self.0
    }
}

impl<D: Dispatch> capnp::capability::Server for ServerRc<D> {
    fn dispatch_call(
        self,
        interface_id: u64,
        ordinal: u16,
        params: capnp::capability::Params<any_pointer::Owned>,
        results: capnp::capability::Results<any_pointer::Owned>,
    ) -> Dispatched {
        let conn = self.0.conn.clone();
        self.0.dispatch.dispatch(Incoming {
            interface_id,
            ordinal,
            params,
            results,
            conn,
        })
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
}

/// An untyped capability, as capnp-rpc's `new_client` needs a client type.
struct AnyClient(capnp::capability::Client);

impl capnp::capability::FromClientHook for AnyClient {
    fn new(hook: Box<dyn capnp::private::capability::ClientHook>) -> Self {
        AnyClient(capnp::capability::Client::new(hook))
    }
    fn into_client_hook(self) -> Box<dyn capnp::private::capability::ClientHook> {
        self.0.hook
    }
    fn as_client_hook(&self) -> &dyn capnp::private::capability::ClientHook {
        &*self.0.hook
    }
}

impl<D: Dispatch> capnp::capability::FromServer<ServerObject<D>> for AnyClient {
    type Dispatch = ServerRc<D>;
    fn from_server(s: Rc<ServerObject<D>>) -> ServerRc<D> {
        ServerRc(s)
    }
}

/// Hosts `dispatch` on `conn`: the capability to put in a message.
pub fn host<D: Dispatch>(dispatch: D, conn: &ConnRef) -> capnp::capability::Client {
    let client: AnyClient = capnp_rpc::new_client(ServerObject {
        dispatch,
        conn: conn.clone(),
    });
    client.0
}
