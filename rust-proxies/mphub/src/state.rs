//! Loop-thread state: connections, hosted threads, remote threads (strands), objects.
//!
//! Everything here lives on the loop thread only (`Rc`, `RefCell`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use capnp_rpc::CapabilityServerSet;

use crate::error::{Error, Result};
use crate::log;
use crate::proxy_capnp::{thread, thread_map};
use crate::runtime::{next_id, LocalFuture, WeakRuntime};
use crate::slot::Slot;

/// Idle remote threads the default async strand pool keeps per connection; a strand that
/// goes idle beyond these is released.
pub(crate) const MAX_IDLE_AUTO_STRANDS: usize = 64;

/// Remote threads the default async strand pool opens per connection at most. A call
/// only shares a busy strand (and waits behind its call) past this many concurrent
/// calls; below it, every concurrent call gets a thread of its own.
pub(crate) const MAX_AUTO_STRANDS: usize = 1024;

pub(crate) struct LoopState {
    pub(crate) runtime_id: u64,
    /// The runtime's limits (see [`Limits`](crate::Limits)).
    pub(crate) limits: crate::Limits,
    pub(crate) runtime: WeakRuntime,
    pub(crate) conns: RefCell<HashMap<u64, Rc<ConnState>>>,
    pub(crate) objects: RefCell<HashMap<u64, ObjEntry>>,
    pub(crate) calls: RefCell<HashMap<u64, ActiveCall>>,
}

/// A remote object a `Send` proxy handle refers to.
pub(crate) struct ObjEntry {
    pub(crate) conn: Rc<ConnState>,
    pub(crate) client: capnp::capability::Client,
}

/// A server call in progress; outgoing calls made while it runs use its threads.
pub(crate) struct ActiveCall {
    pub(crate) conn_id: u64,
    /// The caller's `Context.callbackThread`: the peer thread waiting for this call.
    pub(crate) callback_thread: Option<thread::Client>,
    /// The thread (hosted by us) this call runs on, sent as `callbackThread` in callbacks.
    pub(crate) own_thread: Option<thread::Client>,
    /// Suspension hook: set while the call waits on an outgoing IPC call.
    pub(crate) guard: Rc<RefCell<Option<crate::slot::SlotGuard>>>,
}

impl LoopState {
    pub(crate) fn new(runtime_id: u64, runtime: WeakRuntime, limits: crate::Limits) -> Self {
        LoopState {
            runtime_id,
            limits,
            runtime,
            conns: RefCell::new(HashMap::new()),
            objects: RefCell::new(HashMap::new()),
            calls: RefCell::new(HashMap::new()),
        }
    }

    pub(crate) fn shutdown(&self) {
        self.calls.borrow_mut().clear();
        self.objects.borrow_mut().clear();
        let conns: Vec<_> = self.conns.borrow_mut().drain().map(|(_, c)| c).collect();
        for c in conns {
            c.close("runtime stopped");
        }
    }

    pub(crate) fn conn(&self, id: u64) -> Result<Rc<ConnState>> {
        self.conns
            .borrow()
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Disconnected("connection closed".into()))
    }

    /// Registers a remote object; returns its id.
    pub(crate) fn add_object(
        &self,
        conn: &Rc<ConnState>,
        client: capnp::capability::Client,
    ) -> u64 {
        let id = next_id();
        self.objects.borrow_mut().insert(
            id,
            ObjEntry {
                conn: conn.clone(),
                client,
            },
        );
        id
    }

    pub(crate) fn object(&self, id: u64) -> Result<(Rc<ConnState>, capnp::capability::Client)> {
        let objects = self.objects.borrow();
        let e = objects
            .get(&id)
            .ok_or_else(|| Error::Disconnected("object released".into()))?;
        Ok((e.conn.clone(), e.client.clone()))
    }
}

/// Ownership of a connection by `Send` handles: a client connection closes when the
/// last proxy on it is dropped; a served connection lives as long as the peer keeps it.
pub struct ConnHandle {
    pub(crate) runtime: crate::Runtime,
    pub(crate) id: u64,
    owns_connection: bool,
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        if self.owns_connection {
            let id = self.id;
            let _ = self.runtime.post(move || {
                if let Some(st) = crate::runtime::current_loop() {
                    let conn = st.conns.borrow_mut().remove(&id);
                    if let Some(conn) = conn {
                        conn.close("client dropped its last proxy");
                    }
                }
            });
        }
    }
}

/// The outcome of the `ThreadMap.makeThread` call that made a strand's remote thread:
/// `None` when it succeeded, the error when the server refused (a thread limit, say).
pub(crate) type ThreadMade = futures::future::Shared<LocalFuture<Option<Error>>>;

/// One remote thread this side calls on: `thread` is hosted by the peer (made by its
/// `ThreadMap.makeThread`), `callback_thread` by us (where the peer's callbacks run).
pub(crate) struct RemoteStrand {
    pub(crate) thread: thread::Client,
    pub(crate) callback_thread: thread::Client,
    pub(crate) in_flight: Cell<usize>,
    /// Resolves once the peer answered `makeThread` (the thread is sent pipelined).
    pub(crate) made: ThreadMade,
}

/// Per-connection state on the loop thread.
pub(crate) struct ConnState {
    pub(crate) id: u64,
    pub(crate) peer: String,
    pub(crate) runtime: WeakRuntime,
    /// `Thread`s we created and handed out on this connection (recognised by identity).
    pub(crate) threads: RefCell<CapabilityServerSet<ThreadServer, thread::Client>>,
    /// The peer's ThreadMap (from `construct`), used to create remote threads.
    pub(crate) peer_thread_map: RefCell<Option<thread_map::Client>>,
    /// Worker slots made by `makePool`, for calls with a null `Context.thread`.
    pub(crate) pool: RefCell<Option<Vec<Rc<Slot>>>>,
    pub(crate) auto_strands: RefCell<Vec<Rc<RemoteStrand>>>,
    pub(crate) named_strands: RefCell<HashMap<u64, Rc<RemoteStrand>>>,
    handle: RefCell<Option<Weak<ConnHandle>>>,
    strong_handle: RefCell<Option<Arc<ConnHandle>>>,
    pub(crate) disconnector:
        RefCell<Option<capnp_rpc::Disconnector<capnp_rpc::rpc_twoparty_capnp::Side>>>,
    pub(crate) closed: Cell<bool>,
    pub(crate) thread_counter: Cell<u64>,
    /// A thread we host for context calls on objects we host ourselves (no peer involved).
    pub(crate) local_thread: RefCell<Option<thread::Client>>,
    /// We handed the peer a ThreadMap (in `construct` or another `ThreadMap` field).
    pub(crate) thread_map_offered: Cell<bool>,
    /// Where null-thread calls run when no ThreadMap was ever offered.
    implicit_slot: RefCell<Option<Rc<Slot>>>,
    /// Client connections close when their last proxy is dropped; served ones do not.
    client_side: bool,
    /// Traffic counters of the socket (idle time, unread bytes).
    pub(crate) link: Rc<crate::transport::LinkStats>,
    /// Calls of the peer running or waiting on this connection.
    calls_in_flight: Rc<Cell<usize>>,
    /// `Thread`s we host on this connection and the peer still holds.
    hosted_threads: Rc<Cell<usize>>,
    limits: crate::Limits,
    /// Default longest wait of a call ([`ConnectOptions::call_timeout`](crate::ConnectOptions)).
    pub(crate) call_timeout: Cell<Option<std::time::Duration>>,
}

/// Counts one call of the peer while it runs (see [`ConnState::begin_call`]).
pub(crate) struct CallInFlight(Rc<Cell<usize>>);

impl Drop for CallInFlight {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl ConnState {
    pub(crate) fn new(
        peer: String,
        runtime: WeakRuntime,
        client_side: bool,
        link: Rc<crate::transport::LinkStats>,
        limits: crate::Limits,
    ) -> Rc<ConnState> {
        Rc::new(ConnState {
            id: next_id(),
            peer,
            runtime,
            threads: RefCell::new(CapabilityServerSet::new()),
            peer_thread_map: RefCell::new(None),
            pool: RefCell::new(None),
            auto_strands: RefCell::new(Vec::new()),
            named_strands: RefCell::new(HashMap::new()),
            handle: RefCell::new(None),
            strong_handle: RefCell::new(None),
            disconnector: RefCell::new(None),
            closed: Cell::new(false),
            thread_counter: Cell::new(0),
            local_thread: RefCell::new(None),
            thread_map_offered: Cell::new(false),
            implicit_slot: RefCell::new(None),
            client_side,
            link,
            calls_in_flight: Rc::new(Cell::new(0)),
            hosted_threads: Rc::new(Cell::new(0)),
            limits,
            call_timeout: Cell::new(None),
        })
    }

    /// The `Send` handle proxies on this connection hold. On a client connection the
    /// connection closes when the last such handle goes.
    pub(crate) fn handle(&self) -> Result<Arc<ConnHandle>> {
        let owning = self.client_side;
        if let Some(h) = self.handle.borrow().as_ref().and_then(|w| w.upgrade()) {
            return Ok(h);
        }
        if let Some(h) = self.strong_handle.borrow().clone() {
            return Ok(h);
        }
        if self.closed.get() {
            return Err(Error::Disconnected("connection closed".into()));
        }
        let runtime = self
            .runtime
            .upgrade()
            .ok_or_else(|| Error::Disconnected("runtime stopped".into()))?;
        let h = Arc::new(ConnHandle {
            runtime,
            id: self.id,
            owns_connection: owning,
        });
        if owning {
            *self.handle.borrow_mut() = Some(Arc::downgrade(&h));
        } else {
            *self.strong_handle.borrow_mut() = Some(h.clone());
        }
        Ok(h)
    }

    /// Admits one more call of the peer, or refuses it past
    /// [`Limits::max_calls_per_connection`](crate::Limits::max_calls_per_connection).
    pub(crate) fn begin_call(&self, method: &crate::Method) -> Result<CallInFlight> {
        let n = self.calls_in_flight.get();
        if n >= self.limits.max_calls_per_connection {
            log::warn_limited(
                "max_calls_per_connection",
                format_args!(
                    "IPC server: refusing {method} from {}: {n} calls in flight (limit)",
                    self.peer
                ),
            );
            return Err(Error::failed(format!(
                "too many calls in flight on this connection ({n}; limit \
                 max_calls_per_connection = {})",
                self.limits.max_calls_per_connection
            )));
        }
        self.calls_in_flight.set(n + 1);
        Ok(CallInFlight(self.calls_in_flight.clone()))
    }

    /// How long the connection has been idle: no message either way and no call of
    /// the peer in flight (`None` while busy).
    pub(crate) fn idle_for(&self) -> Option<std::time::Duration> {
        (self.calls_in_flight.get() == 0 && self.link.queued() == 0)
            .then(|| self.link.last_activity().elapsed())
    }

    /// Drops everything this connection holds and disconnects the RPC system.
    pub(crate) fn close(&self, why: &str) {
        if self.closed.replace(true) {
            return;
        }
        tracing::debug!(target: "ipc", "closing connection to {}: {why}", self.peer);
        self.auto_strands.borrow_mut().clear();
        self.named_strands.borrow_mut().clear();
        self.peer_thread_map.borrow_mut().take();
        self.pool.borrow_mut().take();
        self.local_thread.borrow_mut().take();
        self.strong_handle.borrow_mut().take();
        if let Some(d) = self.disconnector.borrow_mut().take() {
            tokio::task::spawn_local(async move {
                let _ = d.await;
            });
        }
    }

    /// A new `Thread` hosted by us on this connection, recognisable when handed back.
    pub(crate) fn host_thread(&self, from: &str) -> thread::Client {
        let n = self.thread_counter.get() + 1;
        self.thread_counter.set(n);
        let name = format!(
            "{}/mphub-{}-{} (from {})",
            log::process_name(),
            self.id,
            n,
            from
        );
        self.hosted_threads.set(self.hosted_threads.get() + 1);
        self.threads.borrow_mut().new_client(ThreadServer {
            name,
            slot: Slot::new(),
            kept_callback: RefCell::new(None),
            live: self.hosted_threads.clone(),
        })
    }

    /// Finds which of our hosted threads `cap` is (after resolving promises).
    pub(crate) async fn local_thread(&self, cap: thread::Client) -> Option<Rc<ThreadServer>> {
        let resolved: thread::Client = capnp::capability::get_resolved_cap(cap).await;
        self.threads
            .borrow()
            .get_local_server_of_resolved(&resolved)
    }

    fn new_strand(&self, name: &str) -> Result<Rc<RemoteStrand>> {
        let map = self.peer_thread_map.borrow().clone().ok_or_else(|| {
            Error::Usage(format!(
                "peer {} provided no ThreadMap, so no remote thread can be made",
                self.peer
            ))
        })?;
        let mut req = map.make_thread_request();
        req.get().set_name(name);
        tracing::debug!(target: "ipc", "IPC client send ThreadMap.makeThread$Params");
        // Pipelined: the first call on the strand goes out without waiting for this answer.
        let sent = req.send();
        let thread = sent.pipeline.get_result();
        let answer = sent.promise;
        let made: LocalFuture<Option<Error>> =
            Box::pin(async move { answer.await.err().map(Error::from) });
        let callback_thread = self.host_thread(name);
        Ok(Rc::new(RemoteStrand {
            thread,
            callback_thread,
            in_flight: Cell::new(0),
            made: futures::FutureExt::shared(made),
        }))
    }

    /// An idle strand of the default pool, a new one, or (past [`MAX_AUTO_STRANDS`]
    /// concurrent calls) the least loaded.
    pub(crate) fn auto_strand(&self) -> Result<Rc<RemoteStrand>> {
        let mut strands = self.auto_strands.borrow_mut();
        if let Some(s) = strands.iter().find(|s| s.in_flight.get() == 0) {
            return Ok(s.clone());
        }
        if strands.len() < MAX_AUTO_STRANDS {
            let s = self.new_strand(&format!("{}/async-{}", log::process_name(), next_id()))?;
            strands.push(s.clone());
            return Ok(s);
        }
        strands
            .iter()
            .min_by_key(|s| s.in_flight.get())
            .cloned()
            .ok_or_else(|| Error::Usage("no strand".into()))
    }

    /// A call on `strand` returned: releases the strand if it is now idle and the pool
    /// already keeps [`MAX_IDLE_AUTO_STRANDS`] idle ones.
    pub(crate) fn call_returned(&self, strand: &Rc<RemoteStrand>) {
        strand
            .in_flight
            .set(strand.in_flight.get().saturating_sub(1));
        if strand.in_flight.get() > 0 {
            return;
        }
        let mut strands = self.auto_strands.borrow_mut();
        let idle = strands.iter().filter(|s| s.in_flight.get() == 0).count();
        if idle > MAX_IDLE_AUTO_STRANDS {
            strands.retain(|s| !Rc::ptr_eq(s, strand));
        }
    }

    /// A call on `strand` was abandoned (its future dropped, or it timed out): the
    /// server may still be running it on that thread, so no later call may go there.
    /// The strand leaves the pool (or its name) and is released once unused.
    pub(crate) fn retire(&self, strand: &Rc<RemoteStrand>) {
        strand
            .in_flight
            .set(strand.in_flight.get().saturating_sub(1));
        self.auto_strands
            .borrow_mut()
            .retain(|s| !Rc::ptr_eq(s, strand));
        self.named_strands
            .borrow_mut()
            .retain(|_, s| !Rc::ptr_eq(s, strand));
    }

    /// The named strand `id` (an explicit `Strand` or a blocking caller's OS thread).
    pub(crate) fn named_strand(&self, id: u64, name: &str) -> Result<Rc<RemoteStrand>> {
        if let Some(s) = self.named_strands.borrow().get(&id) {
            return Ok(s.clone());
        }
        let s = self.new_strand(name)?;
        self.named_strands.borrow_mut().insert(id, s.clone());
        Ok(s)
    }

    /// The pool slot with the fewest calls in flight, if `makePool` was called. A
    /// connection on which we never handed out a ThreadMap (its bootstrap interface
    /// has no `construct`) gives its peer no way to get a thread, so calls with a null
    /// `Context.thread` run there on one implicit slot instead of failing.
    pub(crate) fn pool_slot(&self) -> Option<Rc<Slot>> {
        let pool = self
            .pool
            .borrow()
            .as_ref()
            .and_then(|p| p.iter().min_by_key(|s| s.load()).cloned());
        pool.or_else(|| {
            (!self.thread_map_offered.get()).then(|| {
                self.implicit_slot
                    .borrow_mut()
                    .get_or_insert_with(Slot::new)
                    .clone()
            })
        })
    }
}

/// A `Thread` we host: a name and the ordering slot of the calls that name it.
pub(crate) struct ThreadServer {
    pub(crate) name: String,
    pub(crate) slot: Rc<Slot>,
    /// The caller's last `callbackThread`, and how many calls re-sent it (see
    /// [`ThreadServer::keep_callback`]).
    kept_callback: RefCell<Option<(thread::Client, u32)>>,
    /// The connection's count of live hosted threads.
    live: Rc<Cell<usize>>,
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.live.set(self.live.get().saturating_sub(1));
    }
}

/// Calls after which a kept `callbackThread` is let go, so capnp-rpc's per-import
/// reference count (a `u32`) never wraps on a long-lived connection.
const KEEP_CALLBACK_CALLS: u32 = 1 << 20;

impl ThreadServer {
    /// Holds on to the caller's `callbackThread` between calls. Every call carries it
    /// again; if our last reference went away after each call, capnp-rpc would send a
    /// `Release` message per call (one more write here, one more wake-up at the caller).
    /// Holding it turns those into one `Release` when it changes or after
    /// [`KEEP_CALLBACK_CALLS`] calls.
    pub(crate) fn keep_callback(&self, cb: &thread::Client) {
        let mut kept = self.kept_callback.borrow_mut();
        match kept.as_mut() {
            Some((k, n)) if k.client.hook.get_ptr() == cb.client.hook.get_ptr() => {
                if *n < KEEP_CALLBACK_CALLS {
                    *n += 1;
                } else {
                    // Let every reference go after this call, so one Release settles the count.
                    *kept = None;
                }
            }
            _ => *kept = Some((cb.clone(), 1)),
        }
    }
}

impl thread::Server for ThreadServer {
    async fn get_name(
        self: Rc<Self>,
        _: thread::GetNameParams,
        mut results: thread::GetNameResults,
    ) -> std::result::Result<(), capnp::Error> {
        results.get().set_result(self.name.as_str());
        Ok(())
    }
}

/// The `ThreadMap` we host on a connection: the peer asks it for threads on our side.
pub(crate) struct ThreadMapServer {
    pub(crate) conn: std::rc::Weak<ConnState>,
}

fn conn_gone() -> capnp::Error {
    capnp::Error::disconnected("connection closed".into())
}

impl thread_map::Server for ThreadMapServer {
    async fn make_thread(
        self: Rc<Self>,
        params: thread_map::MakeThreadParams,
        mut results: thread_map::MakeThreadResults,
    ) -> std::result::Result<(), capnp::Error> {
        let conn = self.conn.upgrade().ok_or_else(conn_gone)?;
        let held = conn.hosted_threads.get();
        let limit = conn.limits.max_threads_per_connection;
        if held >= limit {
            log::warn_limited(
                "max_threads_per_connection",
                format_args!(
                    "IPC server: refusing makeThread from {}: {held} threads held (limit)",
                    conn.peer
                ),
            );
            return Err(capnp::Error::failed(format!(
                "std::exception: too many threads on this connection ({held}; limit \
                 max_threads_per_connection = {limit})"
            )));
        }
        let name = params.get()?.get_name()?;
        let name = String::from_utf8_lossy(name.as_bytes()).into_owned();
        tracing::debug!(target: "ipc", "IPC server makeThread (from {name})");
        results.get().set_result(conn.host_thread(&name));
        Ok(())
    }

    async fn make_pool(
        self: Rc<Self>,
        params: thread_map::MakePoolParams,
        _: thread_map::MakePoolResults,
    ) -> std::result::Result<(), capnp::Error> {
        let conn = self.conn.upgrade().ok_or_else(conn_gone)?;
        let count = params.get()?.get_count();
        let mut pool = conn.pool.borrow_mut();
        if pool.is_some() {
            return Err(capnp::Error::failed(
                "std::exception: makePool called on connection with existing pool".into(),
            ));
        }
        if count == 0 || count > 1024 {
            return Err(capnp::Error::failed(format!(
                "std::exception: makePool count {count} out of range 1..=1024"
            )));
        }
        *pool = Some((0..count).map(|_| Slot::new()).collect());
        Ok(())
    }
}

/// Hosts a fresh `ThreadMap` for `conn`.
pub(crate) fn host_thread_map(conn: &Rc<ConnState>) -> thread_map::Client {
    conn.thread_map_offered.set(true);
    capnp_rpc::new_client(ThreadMapServer {
        conn: Rc::downgrade(conn),
    })
}
