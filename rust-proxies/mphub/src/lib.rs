//! mphub runtime: libmultiprocess-compatible Cap'n Proto IPC for Rust.
//!
//! Generated code (see the `mphub-build` crate) turns each `$Proxy.wrap` interface into
//! a `Send + Sync + Clone` client type and a server trait; this crate runs them:
//!
//! - one event-loop thread per [`Runtime`] owns every Cap'n Proto object;
//! - clients: `construct` on connect, one remote `Thread` per caller (per OS thread for
//!   blocking calls, a pool of reusable strands for async calls, or an explicit
//!   [`Strand`]), `Context` on every call, `destroy` when the last handle is dropped;
//! - servers: `ThreadMap`/`Thread` hosting, per-thread ordering, callbacks routed to
//!   the caller's `callbackThread`, libmultiprocess's error texts;
//! - transports: unix sockets (Core's `unix`/`unix:<path>` rule), socketpairs to
//!   spawned children (`-ipcfd N` or `<fd>`).
//!
//! See `doc/design.md` in the repository for the design and a diagram.
#![warn(missing_docs)]

mod call;
mod error;
mod limits;
pub mod log;
mod malloc;
mod proxy;
mod runtime;
mod server;
mod slot;
mod state;
mod text;
mod transport;
pub mod wire;

/// Code generated from `mp/proxy.capnp` (ThreadMap, Thread, Context).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proxy_capnp {
    include!(concat!(env!("OUT_DIR"), "/proxy_capnp.rs"));
}

pub use call::{Call, Method};
pub use error::{to_capnp_error, DeclaredException, Error, Result};
pub use limits::{ConnectOptions, Limits};
pub use malloc::tune_malloc_for_large_messages;
pub use proxy::{Cap, ProxyClient, ProxyHandle, Strand, Upcast, MAX_MESSAGE_WORDS};
pub use runtime::{wait_for_pending_destroys, Runtime, EXIT_DESTROY_GRACE};
pub use server::CallContext;
pub use text::Text;
pub use transport::{
    bind_unix, connect, connect_blocking, connect_stream, connect_with, listen,
    resolve_unix_address, serve_fd, serve_stream, spawn, spawned_fd_from_args, BoundSocket,
    Listener, SocketFile, SpawnConvention, SpawnedChild, MAX_SOCKET_PATH,
};

/// Items used by generated code. Not a stable API for hand-written code.
#[doc(hidden)]
pub mod rt {
    pub use crate::proxy::{CallSetup, ConnRef};
    pub use crate::runtime::LocalFuture;
    pub use crate::server::{
        dispatch, host, ContextCaps, Dispatch, Dispatched, EncodeException, EncodeResults, Hosted,
        Incoming,
    };
    pub use capnp;
    pub use capnp_rpc;

    /// A list length as Cap'n Proto's `u32`, refusing lists that cannot be sent.
    pub fn list_len(len: usize) -> crate::Result<u32> {
        u32::try_from(len)
            .map_err(|_| crate::Error::Usage(format!("list of {len} elements is too long to send")))
    }

    /// Logs a value at trace level (`send data: ...` and friends), escaped and cut at
    /// 200 characters like libmultiprocess. Formats nothing unless trace logging is on
    /// for target `ipc`.
    pub fn trace_value(label: &str, value: &dyn std::fmt::Debug) {
        if tracing::enabled!(target: "ipc", tracing::Level::TRACE) {
            let text = format!("{value:?}");
            tracing::trace!(target: "ipc", "{label}: {}", crate::log::cut(&crate::log::escape(text.as_bytes())));
        }
    }

    /// Converts a server-side result into what a capnp server method returns.
    pub fn server_error(e: crate::Error) -> capnp::Error {
        crate::to_capnp_error(e)
    }

    /// The error a generated server trait's default method returns.
    pub fn unimplemented(method: &crate::Method) -> crate::Error {
        crate::Error::Unimplemented(format!("{method} is not implemented by this server"))
    }
}
