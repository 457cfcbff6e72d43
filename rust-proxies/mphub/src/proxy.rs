//! Client side: `Send` proxy handles, strands (remote threads), and the call path.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use crate::call::Method;
use crate::error::{Error, Result};
use crate::proxy_capnp::{context, thread};
use capnp::any_pointer;

use crate::runtime::{current_loop, loop_state, next_id, LocalFuture, Runtime, WeakRuntime};
use crate::state::{ConnHandle, ConnState, RemoteStrand};
use crate::wire::{ReadCx, StructBuilder, StructReader, WriteCx};

/// Identifies a server call in progress, so that calls made while it runs go to the
/// right remote thread (the caller's `callbackThread`), like libmultiprocess does.
#[derive(Clone, Copy, Debug)]
pub struct CallScope {
    pub(crate) runtime_id: u64,
    pub(crate) call_id: u64,
}

tokio::task_local! {
    pub(crate) static CURRENT_CALL: CallScope;
}

thread_local! {
    pub(crate) static BLOCKING_SCOPE: Cell<Option<CallScope>> = const { Cell::new(None) };
    static OS_THREAD_STRANDS: RefCell<HashMap<(u64, u64), OsThreadStrand>> = RefCell::new(HashMap::new());
}

pub(crate) fn current_scope() -> Option<CallScope> {
    CURRENT_CALL
        .try_with(|s| *s)
        .ok()
        .or_else(|| BLOCKING_SCOPE.with(|s| s.get()))
}

/// The remote thread a blocking caller's OS thread uses on one connection; released
/// when the OS thread exits (so the server can stop its worker).
struct OsThreadStrand {
    id: u64,
    conn_id: u64,
    runtime: WeakRuntime,
}

impl Drop for OsThreadStrand {
    fn drop(&mut self) {
        release_named_strand(&self.runtime, self.conn_id, self.id);
    }
}

fn release_named_strand(runtime: &WeakRuntime, conn_id: u64, id: u64) {
    if let Some(rt) = runtime.upgrade() {
        let _ = rt.post(move || {
            if let Some(st) = current_loop() {
                if let Ok(conn) = st.conn(conn_id) {
                    conn.named_strands.borrow_mut().remove(&id);
                }
            }
        });
    }
}

fn os_thread_strand(rt: &Runtime, conn_id: u64) -> u64 {
    OS_THREAD_STRANDS.with(|m| {
        m.borrow_mut()
            .entry((rt.id(), conn_id))
            .or_insert_with(|| OsThreadStrand {
                id: next_id(),
                conn_id,
                runtime: rt.downgrade(),
            })
            .id
    })
}

/// This OS thread's name for remote threads (`<exe>-<pid>/<thread>-<tid>`), computed once
/// per thread: blocking calls ask for it on every call.
fn os_thread_name() -> Arc<str> {
    thread_local! {
        static NAME: Arc<str> = {
            let t = std::thread::current();
            let name = t.name().unwrap_or("thread");
            // SAFETY: gettid has no preconditions; it names the thread like libmultiprocess.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) };
            format!("{}/{}-{}", crate::log::process_name(), name, tid).into()
        };
    }
    NAME.with(Arc::clone)
}

/// Where a client call should run on the server.
#[derive(Clone)]
enum Via {
    /// Inside a server call: use its callback thread (recursion, callbacks).
    Scope(CallScope),
    /// A named strand: an explicit [`Strand`] or a blocking caller's OS thread.
    Named(u64, Arc<str>),
    /// The default pool of async strands.
    Auto,
}

/// An explicit remote thread on one connection. Calls made through proxies bound to it
/// (see `on(&strand)` on generated clients) run on one server thread, in order.
#[derive(Clone)]
pub struct Strand {
    inner: Arc<StrandInner>,
}

struct StrandInner {
    conn: Arc<ConnHandle>,
    id: u64,
    name: Arc<str>,
}

impl Drop for StrandInner {
    fn drop(&mut self) {
        release_named_strand(&self.conn.runtime.downgrade(), self.conn.id, self.id);
    }
}

impl std::fmt::Debug for Strand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Strand({})", self.inner.name)
    }
}

/// Implemented by every generated client type.
pub trait ProxyClient: Sized + Send + Sync + Clone + 'static {
    /// Schema name of the interface, for logs (`Echo`, `Mining`, ...).
    const INTERFACE: &'static str;
    /// Wraps a handle.
    fn from_handle(handle: ProxyHandle) -> Self;
    /// The underlying handle.
    fn handle(&self) -> &ProxyHandle;
    /// The interface's `destroy` method, when it declares one (also inherited).
    fn destroy_method() -> Option<&'static Method> {
        None
    }
    /// The interface's `construct` call (offer our ThreadMap, keep the peer's), when it
    /// declares `construct`: the runtime runs it on connect.
    fn construct(&self) -> Option<crate::Call<()>> {
        None
    }
    /// A locally hosted object forwarding every call to `self`. Generated clients provide
    /// one; it is what gets sent when a proxy is passed back to the peer that hosts it,
    /// because a libmultiprocess server rejects its own object called with our thread.
    fn forwarder(&self) -> Option<Cap<Self>> {
        None
    }
}

struct ProxyInner {
    conn: Arc<ConnHandle>,
    obj: u64,
    interface: &'static str,
    destroy: Option<&'static Method>,
}

impl Drop for ProxyInner {
    fn drop(&mut self) {
        // Never blocks the dropper: destroy + release happen on the loop.
        let (obj, destroy, iface) = (self.obj, self.destroy, self.interface);
        let scope = current_scope();
        let conn_handle = self.conn.clone();
        // Counted from now, so a process exiting right after this drop waits for it.
        let in_flight = destroy.map(|_| self.conn.runtime.inner.destroys.begin());
        let _ = self.conn.runtime.post(move || {
            let Some(st) = current_loop() else { return };
            let entry = st.objects.borrow_mut().remove(&obj);
            let Some(entry) = entry else { return };
            let Some(destroy) = destroy else { return };
            if entry.conn.closed.get() {
                return;
            }
            tokio::task::spawn_local(async move {
                let via = scope.map(Via::Scope).unwrap_or(Via::Auto);
                let local = entry.client.hook.get_brand() == 0;
                match prepare(&entry.conn, via, destroy.context.is_some(), local) {
                    Ok(mut prep) => {
                        tracing::debug!(target: "ipc", "IPC client destroy {iface}");
                        prep.setup.method = Some(destroy);
                        let r = prep.setup.send(&entry.client, |_, _| Ok(())).await;
                        prep.finish();
                        if let Err(e) = r {
                            if !e.is_disconnected() {
                                tracing::warn!(target: "ipc", "Remote destroy call failed during cleanup. Continuing. ({iface}: {e})");
                            }
                        }
                    }
                    Err(e) => tracing::debug!(target: "ipc", "{iface} destroy skipped: {e}"),
                }
                drop(entry);
                drop(conn_handle);
                drop(in_flight);
            });
        });
    }
}

/// A `Send + Sync + Clone` reference to a remote object. Generated clients wrap one.
#[derive(Clone)]
pub struct ProxyHandle {
    inner: Arc<ProxyInner>,
    strand: Option<Strand>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.inner.interface, self.inner.obj)
    }
}

/// The `Context` to send with one call, and the call's method for logs.
#[derive(Clone)]
pub struct CallSetup {
    thread: Option<thread::Client>,
    callback_thread: Option<thread::Client>,
    method: Option<&'static Method>,
    conn: Rc<ConnState>,
}

impl CallSetup {
    /// The connection the call goes over (to import returned capabilities).
    pub fn conn(&self) -> ConnRef {
        ConnRef(self.conn.clone())
    }

    /// Fills a `Context` param: `thread` (server-hosted) and `callbackThread` (ours).
    pub fn fill(&self, mut ctx: context::Builder<'_>) {
        if let Some(t) = &self.thread {
            ctx.set_thread(t.clone());
        }
        if let Some(t) = &self.callback_thread {
            ctx.reborrow().set_callback_thread(t.clone());
        }
    }

    /// Sends `method`'s request to `target` with params filled by `encode` (the
    /// `Context` is filled here), enforcing the 64 MiB message limit and logging like
    /// libmultiprocess; returns the response.
    pub(crate) async fn send(
        &self,
        target: &capnp::capability::Client,
        encode: impl FnOnce(&mut StructBuilder<'_>, &WriteCx<'_>) -> Result<()>,
    ) -> Result<capnp::capability::Response<any_pointer::Owned>> {
        let method = self
            .method
            .ok_or_else(|| Error::Usage("call without a method".into()))?;
        let mut req = target.new_call::<any_pointer::Owned, any_pointer::Owned>(
            method.interface_id,
            method.ordinal,
            None,
        );
        let conn = self.conn();
        crate::wire::build_struct(req.get(), method.params, |mut b| {
            if let Some(index) = method.context {
                self.fill(b.pointer(index).init_as::<context::Builder<'_>>());
            }
            encode(&mut b, &WriteCx::new(&conn))
        })?;
        let words = req.get().target_size()?.word_count;
        if words >= MAX_MESSAGE_WORDS {
            return Err(Error::Usage(format!(
                "{method} request is {} MiB; Cap'n Proto peers refuse messages of 64 MiB or more",
                words * 8 / (1024 * 1024)
            )));
        }
        tracing::debug!(target: "ipc", "IPC client send {method}$Params");
        let resp = req.send().promise.await.map_err(Error::from)?;
        tracing::debug!(target: "ipc", "IPC client recv {method}$Results");
        Ok(resp)
    }
}

/// Cap'n Proto's default traversal limit (8 Mi words = 64 MiB), which both C++ and Rust
/// readers enforce per message.
pub const MAX_MESSAGE_WORDS: u64 = 8 * 1024 * 1024;

/// A call's chosen remote thread and suspended server call, released when the call is
/// over. Dropped without [`Prepared::finish`], the call counts as abandoned: its strand
/// is retired (see [`ConnState::retire`]).
struct Prepared {
    setup: CallSetup,
    strand: Option<Rc<RemoteStrand>>,
    suspended: Option<Rc<RefCell<Option<crate::slot::SlotGuard>>>>,
    answered: bool,
}

impl Prepared {
    /// The server answered (success or failure).
    fn finish(mut self) {
        self.answered = true;
    }

    /// Why the call failed if its remote thread could not be made (the server refused
    /// `makeThread`); that strand is then retired so the next call asks again.
    async fn thread_refused(&mut self) -> Option<Error> {
        let strand = self.strand.clone()?;
        let refused = strand.made.clone().await?;
        self.setup.conn.retire(&strand);
        self.strand = None;
        self.answered = true;
        Some(refused)
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(s) = self.strand.take() {
            if self.answered {
                self.setup.conn.call_returned(&s);
            } else {
                self.setup.conn.retire(&s);
            }
        }
        if let Some(g) = &self.suspended {
            if let Some(g) = g.borrow_mut().as_mut() {
                g.resume();
            }
        }
    }
}

/// Chooses the `Context` for a call. `local` means the target object is hosted by this
/// process (a capability that came back to us): it must get a thread *we* host.
fn prepare(conn: &Rc<ConnState>, via: Via, uses_context: bool, local: bool) -> Result<Prepared> {
    let mut prepared = Prepared {
        setup: CallSetup {
            thread: None,
            callback_thread: None,
            method: None,
            conn: conn.clone(),
        },
        strand: None,
        suspended: None,
        answered: false,
    };
    let mut via = via;
    if let Via::Scope(scope) = &via {
        let st = loop_state()?;
        let calls = st.calls.borrow();
        match calls.get(&scope.call_id) {
            Some(call) => {
                prepared.suspended = Some(call.guard.clone());
                if local && call.conn_id == conn.id && call.own_thread.is_some() {
                    prepared.setup.thread = call.own_thread.clone();
                    prepared.setup.callback_thread = call.own_thread.clone();
                } else if !local && call.conn_id == conn.id && call.callback_thread.is_some() {
                    prepared.setup.thread = call.callback_thread.clone();
                    prepared.setup.callback_thread = call.own_thread.clone();
                } else {
                    via = Via::Auto;
                }
            }
            None => via = Via::Auto,
        }
    }
    if uses_context && prepared.setup.thread.is_none() && local {
        let mut cached = conn.local_thread.borrow_mut();
        let thread = cached
            .get_or_insert_with(|| {
                conn.host_thread(&format!("{}/local", crate::log::process_name()))
            })
            .clone();
        prepared.setup.thread = Some(thread.clone());
        prepared.setup.callback_thread = Some(thread);
    }
    if uses_context && prepared.setup.thread.is_none() && conn.peer_thread_map.borrow().is_none() {
        // The peer gave us no ThreadMap (its interface has no `construct`): send a null
        // `Context.thread`. A libmultiprocess server runs it on its `makePool` pool or
        // answers "no thread specified and no pool configured"; an mphub server that
        // never offered a ThreadMap runs it on an implicit slot.
        let mut cached = conn.local_thread.borrow_mut();
        let callback = cached
            .get_or_insert_with(|| {
                conn.host_thread(&format!("{}/local", crate::log::process_name()))
            })
            .clone();
        prepared.setup.callback_thread = Some(callback);
    } else if uses_context && prepared.setup.thread.is_none() {
        let strand = match &via {
            Via::Named(id, name) => conn.named_strand(*id, name)?,
            _ => conn.auto_strand()?,
        };
        strand.in_flight.set(strand.in_flight.get() + 1);
        prepared.setup.thread = Some(strand.thread.clone());
        prepared.setup.callback_thread = Some(strand.callback_thread.clone());
        prepared.strand = Some(strand);
    }
    if let Some(g) = &prepared.suspended {
        if let Some(g) = g.borrow_mut().as_mut() {
            g.suspend();
        }
    }
    Ok(prepared)
}

impl ProxyHandle {
    pub(crate) fn new(
        conn: Arc<ConnHandle>,
        obj: u64,
        interface: &'static str,
        destroy: Option<&'static Method>,
    ) -> Self {
        ProxyHandle {
            inner: Arc::new(ProxyInner {
                conn,
                obj,
                interface,
                destroy,
            }),
            strand: None,
        }
    }

    /// The runtime this proxy belongs to.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.conn.runtime
    }

    /// A new explicit remote thread on this proxy's connection.
    pub fn new_strand(&self, name: &str) -> Strand {
        Strand {
            inner: Arc::new(StrandInner {
                conn: self.inner.conn.clone(),
                id: next_id(),
                name: format!("{}/{}", crate::log::process_name(), name).into(),
            }),
        }
    }

    /// The same proxy, with calls bound to `strand` (which must be on the same connection).
    pub fn on(&self, strand: &Strand) -> Result<ProxyHandle> {
        if strand.inner.conn.id != self.inner.conn.id {
            return Err(Error::Usage("strand belongs to another connection".into()));
        }
        Ok(ProxyHandle {
            inner: self.inner.clone(),
            strand: Some(strand.clone()),
        })
    }

    fn via(&self, blocking: bool) -> Via {
        if let Some(scope) = current_scope() {
            if scope.runtime_id == self.runtime().id() {
                return Via::Scope(scope);
            }
        }
        if let Some(s) = &self.strand {
            return Via::Named(s.inner.id, s.inner.name.clone());
        }
        if blocking {
            return Via::Named(
                os_thread_strand(self.runtime(), self.inner.conn.id),
                os_thread_name(),
            );
        }
        Via::Auto
    }

    /// The loop-side job of one call: choose the remote thread, send `method` with the
    /// params `encode` writes from `args`, decode the results with `decode`.
    pub(crate) fn job<A, T>(
        &self,
        method: &'static Method,
        blocking: bool,
        timeout: Option<std::time::Duration>,
        args: A,
        encode: fn(&A, &mut StructBuilder<'_>, &WriteCx<'_>) -> Result<()>,
        decode: fn(&A, StructReader<'_>, &ReadCx<'_>) -> Result<T>,
    ) -> impl FnOnce() -> LocalFuture<Result<T>> + Send + 'static
    where
        A: Send + std::fmt::Debug + 'static,
        T: Send + std::fmt::Debug + 'static,
    {
        let obj = self.inner.obj;
        let via = self.via(blocking);
        move || {
            Box::pin(async move {
                let st = loop_state()?;
                let (conn, client) = st.object(obj)?;
                if conn.closed.get() {
                    return Err(Error::Disconnected(
                        "IPC client method called after disconnect.".into(),
                    ));
                }
                let local = client.hook.get_brand() == 0;
                let timeout = timeout.or(conn.call_timeout.get());
                let mut prep = prepare(&conn, via, method.context.is_some(), local)?;
                prep.setup.method = Some(method);
                crate::rt::trace_value("send data", &args);
                let send = prep.setup.send(&client, |b, cx| encode(&args, b, cx));
                let sent = match timeout {
                    None => send.await,
                    // On timeout `prep` is dropped unanswered: its strand is retired.
                    Some(limit) => tokio::time::timeout(limit, send).await.map_err(|_| {
                        Error::TimedOut(format!("{method} did not answer within {limit:?}"))
                    })?,
                };
                let resp = match sent {
                    Ok(resp) => resp,
                    Err(e) => return Err(prep.thread_refused().await.unwrap_or(e)),
                };
                prep.finish();
                let conn_ref = ConnRef(conn);
                let results = crate::wire::read_root(resp.get()?)?;
                let out =
                    ReadCx::new(&conn_ref, resp.get()?).and_then(|cx| decode(&args, results, &cx));
                if let Ok(v) = &out {
                    crate::rt::trace_value("recv data", v);
                }
                out
            })
        }
    }
}

impl ProxyHandle {
    /// Runs `f` on the loop thread with the untyped capability and a [`CallSetup`]
    /// (a remote thread chosen when `with_context`): for tests that must send what
    /// mphub itself never sends (forged contexts, oversized messages).
    #[doc(hidden)]
    pub fn call_raw<T: Send + 'static>(
        &self,
        method: &'static Method,
        with_context: bool,
        f: impl FnOnce(capnp::capability::Client, CallSetup) -> LocalFuture<Result<T>> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T>> + Send + 'static {
        let obj = self.inner.obj;
        let via = self.via(false);
        self.runtime().run(move || {
            Box::pin(async move {
                let st = loop_state()?;
                let (conn, client) = st.object(obj)?;
                let local = client.hook.get_brand() == 0;
                let mut prep = prepare(&conn, via, with_context, local)?;
                prep.setup.method = Some(method);
                let out = f(client, prep.setup.clone()).await;
                prep.finish();
                out
            })
        })
    }
}

/// An interface value to send: a local implementation to host, an existing remote
/// object to pass on, or null.
pub struct Cap<C> {
    kind: CapKind,
    _client: PhantomData<fn() -> C>,
}

type HostFn = Arc<dyn Fn(&ConnRef) -> capnp::capability::Client + Send + Sync>;

enum CapKind {
    Null,
    Local(HostFn),
    /// A peer's object, with a forwarder to send instead when passing it back to that peer.
    Remote(ProxyHandle, Option<HostFn>),
}

impl<C> Clone for Cap<C> {
    fn clone(&self) -> Self {
        Cap {
            kind: match &self.kind {
                CapKind::Null => CapKind::Null,
                CapKind::Local(f) => CapKind::Local(f.clone()),
                CapKind::Remote(h, fwd) => CapKind::Remote(h.clone(), fwd.clone()),
            },
            _client: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for Cap<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            CapKind::Null => f.write_str("Cap(null)"),
            CapKind::Local(_) => f.write_str("Cap(local)"),
            CapKind::Remote(h, _) => write!(f, "Cap({h:?})"),
        }
    }
}

impl<C> Cap<C> {
    /// A null capability.
    pub fn null() -> Self {
        Cap {
            kind: CapKind::Null,
            _client: PhantomData,
        }
    }

    /// True for [`Cap::null`].
    pub fn is_null(&self) -> bool {
        matches!(self.kind, CapKind::Null)
    }

    /// A local implementation; `host` makes a server object for a connection.
    /// Generated `into_cap` methods call this.
    #[doc(hidden)]
    pub fn from_host_fn(
        host: impl Fn(&ConnRef) -> capnp::capability::Client + Send + Sync + 'static,
    ) -> Self {
        Cap {
            kind: CapKind::Local(Arc::new(host)),
            _client: PhantomData,
        }
    }

    /// The capnp capability to put in a message on `conn` (loop thread only).
    #[doc(hidden)]
    pub fn to_client(&self, conn: &ConnRef) -> Result<Option<capnp::capability::Client>> {
        match &self.kind {
            CapKind::Null => Ok(None),
            CapKind::Local(host) => Ok(Some(host(conn))),
            CapKind::Remote(h, forward) => {
                let st = loop_state()?;
                let (owner, client) = st.object(h.inner.obj)?;
                // Passing a peer's object back to that same peer: libmultiprocess sends a
                // new object of its own that forwards (its server would otherwise get its
                // own object called with a Thread it does not host). Do the same.
                if let Some(forward) = forward {
                    if Rc::ptr_eq(&owner, &conn.0) && client.hook.get_brand() != 0 {
                        return Ok(Some(forward(conn)));
                    }
                }
                Ok(Some(client))
            }
        }
    }
}

impl<C> Default for Cap<C> {
    fn default() -> Self {
        Cap::null()
    }
}

/// Capabilities compare by identity: the same local implementation (the same
/// `into_cap` value or a clone of it) or the same remote object.
impl<C> PartialEq for Cap<C> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.kind, &other.kind) {
            (CapKind::Null, CapKind::Null) => true,
            (CapKind::Local(a), CapKind::Local(b)) => Arc::ptr_eq(a, b),
            (CapKind::Remote(a, _), CapKind::Remote(b, _)) => Arc::ptr_eq(&a.inner, &b.inner),
            _ => false,
        }
    }
}

/// Marks `Self` as a client of an interface that extends the one of `B` (generated for
/// `extends(...)`): its capabilities can be passed where a `B` is expected.
pub trait Upcast<B> {}

impl<C> Cap<C> {
    /// The same capability, typed as a base interface it extends.
    pub fn upcast<B>(self) -> Cap<B>
    where
        C: Upcast<B>,
    {
        Cap {
            kind: self.kind,
            _client: PhantomData,
        }
    }
}

impl<C: ProxyClient> Cap<C> {
    /// A client proxy for a capability received from a peer (`None` for a null or a
    /// local one: call a local implementation directly).
    pub fn client(&self) -> Option<C> {
        match &self.kind {
            CapKind::Remote(h, _) => Some(C::from_handle(h.clone())),
            _ => None,
        }
    }
}

impl<C: ProxyClient> From<C> for Cap<C> {
    fn from(c: C) -> Self {
        let forward = c.forwarder().and_then(|cap| match cap.kind {
            CapKind::Local(host) => Some(host),
            _ => None,
        });
        Cap {
            kind: CapKind::Remote(c.handle().clone(), forward),
            _client: PhantomData,
        }
    }
}

impl<C: ProxyClient> From<Option<C>> for Cap<C> {
    fn from(c: Option<C>) -> Self {
        c.map(Cap::from).unwrap_or_else(Cap::null)
    }
}

/// A connection as seen by generated server code on the loop thread.
#[derive(Clone)]
pub struct ConnRef(pub(crate) Rc<ConnState>);

impl ConnRef {
    /// Wraps a capability received on this connection into a `Send` client proxy.
    pub fn import<C: ProxyClient>(&self, client: capnp::capability::Client) -> Result<C> {
        let st = loop_state()?;
        let obj = st.add_object(&self.0, client);
        let handle = self.0.handle()?;
        Ok(C::from_handle(ProxyHandle::new(
            handle,
            obj,
            C::INTERFACE,
            C::destroy_method(),
        )))
    }

    /// Connection id (for logs).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Keeps the peer's ThreadMap (a `Proxy.ThreadMap` field received, e.g. in
    /// `construct`), so calls can later be made on threads the peer creates.
    pub fn accept_thread_map(&self, p: any_pointer::Reader<'_>) -> Result<()> {
        if !p.is_null() {
            let map = p.get_as_capability::<crate::proxy_capnp::thread_map::Client>()?;
            *self.0.peer_thread_map.borrow_mut() = Some(map);
        }
        Ok(())
    }

    /// Fills a `Proxy.ThreadMap` field with a ThreadMap we host on this connection.
    pub fn offer_thread_map(&self, p: any_pointer::Builder<'_>) {
        let mut p = p;
        p.set_as_capability(crate::state::host_thread_map(&self.0).client.hook);
    }
}
