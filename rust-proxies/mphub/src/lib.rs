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

mod error;
pub mod log;
mod malloc;
mod proxy;
mod runtime;
mod server;
mod slot;
mod state;
mod text;
mod transport;

/// Code generated from `mp/proxy.capnp` (ThreadMap, Thread, Context).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proxy_capnp {
    include!(concat!(env!("OUT_DIR"), "/proxy_capnp.rs"));
}

pub use error::{to_capnp_error, DeclaredException, Error, Result};
pub use malloc::tune_malloc_for_large_messages;
pub use proxy::{Cap, ProxyClient, ProxyHandle, Strand, MAX_MESSAGE_WORDS};
pub use runtime::Runtime;
pub use server::CallContext;
pub use text::Text;
pub use transport::{
    connect, connect_blocking, connect_stream, listen, resolve_unix_address, serve_fd,
    serve_stream, spawn, spawned_fd_from_args, Listener, SpawnConvention, SpawnedChild,
    MAX_SOCKET_PATH,
};

/// Items used by generated code. Not a stable API for hand-written code.
#[doc(hidden)]
pub mod rt {
    pub use crate::proxy::{CallJob, CallSetup, ConnRef, ConstructFn, DestroyFn};
    pub use crate::runtime::LocalFuture;
    pub use crate::server::{dispatch, serve_construct, ContextCaps, Hosted};
    pub use capnp;
    pub use capnp_rpc;

    /// Reads a `Text` field as raw bytes (null reads as empty, like libmultiprocess).
    pub fn read_text(r: capnp::Result<capnp::text::Reader<'_>>) -> crate::Result<crate::Text> {
        Ok(crate::Text::from_bytes(r?.as_bytes()))
    }

    /// Reads a `Data` field (null reads as empty).
    pub fn read_data(r: capnp::Result<capnp::data::Reader<'_>>) -> crate::Result<Vec<u8>> {
        Ok(r?.to_vec())
    }

    /// A list length as Cap'n Proto's `u32`, refusing lists that cannot be sent.
    pub fn list_len(len: usize) -> crate::Result<u32> {
        u32::try_from(len)
            .map_err(|_| crate::Error::Usage(format!("list of {len} elements is too long to send")))
    }

    /// A `Text` reader over raw bytes, for setters.
    pub fn text_reader(t: &crate::Text) -> capnp::text::Reader<'_> {
        capnp::text::Reader::from(t.as_bytes())
    }

    /// Logs a message's text form at trace level (`request data: (...)` and friends),
    /// escaped and cut at 200 characters like libmultiprocess. Formats nothing unless
    /// trace logging is on for target `ipc`.
    pub fn trace_data(label: &str, message: &dyn std::fmt::Debug) {
        if tracing::enabled!(target: "ipc", tracing::Level::TRACE) {
            let text = format!("{message:?}");
            tracing::trace!(target: "ipc", "{label}: {}", crate::log::cut(&crate::log::escape(text.as_bytes())));
        }
    }

    /// Converts a server-side result into what a capnp server method returns.
    pub fn server_error(e: crate::Error) -> capnp::Error {
        crate::to_capnp_error(e)
    }
}
