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
use crate::runtime::{next_id, WeakRuntime};
use crate::slot::Slot;

/// Most remote threads the default async strand pool opens per connection; beyond it,
/// calls share the least loaded one.
pub(crate) const MAX_AUTO_STRANDS: usize = 64;

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

/// One remote thread this side calls on: `thread` is hosted by the peer (made by its
/// `ThreadMap.makeThread`), `callback_thread` by us (where the peer's callbacks run).
pub(crate) struct RemoteStrand {
    pub(crate) thread: thread::Client,
    pub(crate) callback_thread: thread::Client,
    pub(crate) in_flight: Cell<usize>,
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
}

impl ConnState {
    pub(crate) fn new(
        peer: String,
        runtime: WeakRuntime,
        client_side: bool,
        link: Rc<crate::transport::LinkStats>,
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
        self.threads.borrow_mut().new_client(ThreadServer {
            name,
            slot: Slot::new(),
            kept_callback: RefCell::new(None),
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
        let thread = req.send().pipeline.get_result();
        let callback_thread = self.host_thread(name);
        Ok(Rc::new(RemoteStrand {
            thread,
            callback_thread,
            in_flight: Cell::new(0),
        }))
    }

    /// An idle strand of the default pool, a new one, or the least loaded at the cap.
    pub(crate) fn auto_strand(&self) -> Result<Rc<RemoteStrand>> {
        let mut strands = self.auto_strands.borrow_mut();
        if let Some(s) = strands.iter().find(|s| s.in_flight.get() == 0) {
            return Ok(s.clone());
        }
        if strands.len() < MAX_AUTO_STRANDS {
            let s = self.new_strand(&format!("{}/async-{}", log::process_name(), strands.len()))?;
            strands.push(s.clone());
            return Ok(s);
        }
        strands
            .iter()
            .min_by_key(|s| s.in_flight.get())
            .cloned()
            .ok_or_else(|| Error::Usage("no strand".into()))
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
