//! One method call: its static description ([`Method`]) and the pending call a generated
//! client method returns ([`Call`]), to `.await` or to run with [`Call::blocking`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::error::Result;
use crate::proxy::ProxyHandle;
use crate::wire::{ReadCx, StructBuilder, StructReader, StructSize, WriteCx};

/// What the runtime needs to know about a method to call or serve it. `mphub-build`
/// emits one `static` per method, from the schema.
#[derive(Debug)]
pub struct Method {
    /// Schema name of the interface declaring the method (`Tester`); for an inherited
    /// method, the base interface.
    pub interface: &'static str,
    /// Schema name of the method (`addInt64`).
    pub name: &'static str,
    /// Cap'n Proto ID of the declaring interface (what goes on the wire).
    pub interface_id: u64,
    /// The method's ordinal (`@N`) in the declaring interface.
    pub ordinal: u16,
    /// Size of the params struct.
    pub params: StructSize,
    /// Size of the results struct.
    pub results: StructSize,
    /// Pointer index of the `context :Proxy.Context` param, if the method has one.
    pub context: Option<u16>,
}

impl Method {
    /// A method without params, results or `context` (add them with the builders below);
    /// generated code writes `Method::new(..).params(..).results(..).context(..)`.
    pub const fn new(
        interface: &'static str,
        name: &'static str,
        interface_id: u64,
        ordinal: u16,
    ) -> Method {
        Method {
            interface,
            name,
            interface_id,
            ordinal,
            params: StructSize {
                data: 0,
                pointers: 0,
            },
            results: StructSize {
                data: 0,
                pointers: 0,
            },
            context: None,
        }
    }

    /// Sets the params struct size (data words, pointers).
    pub const fn params(mut self, data: u16, pointers: u16) -> Method {
        self.params = StructSize { data, pointers };
        self
    }

    /// Sets the results struct size (data words, pointers).
    pub const fn results(mut self, data: u16, pointers: u16) -> Method {
        self.results = StructSize { data, pointers };
        self
    }

    /// Sets the pointer index of the `context` param.
    pub const fn context(mut self, index: u16) -> Method {
        self.context = Some(index);
        self
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.interface, self.name)
    }
}

/// How a call is run: blocking or not, and its own timeout.
type MakeJob<T> = Box<
    dyn FnOnce(
            bool,
            Option<Duration>,
        ) -> Box<dyn FnOnce() -> crate::runtime::LocalFuture<Result<T>> + Send>
        + Send,
>;

/// A call a generated client method has prepared; nothing is sent until it is awaited
/// (from any thread or task; the future is `Send`) or run with [`Call::blocking`].
///
/// Dropping the awaited future cancels the call: capnp-rpc tells the server (`Finish`),
/// an mphub server drops the call's future, and a libmultiprocess server, which cannot
/// stop a running C++ call, finishes it and discards the result. The remote thread the
/// call ran on is not used again.
#[must_use = "a Call does nothing until it is awaited or run with .blocking()"]
pub struct Call<T> {
    handle: ProxyHandle,
    method: &'static Method,
    make: MakeJob<T>,
    timeout: Option<Duration>,
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Call({})", self.method)
    }
}

impl<T: Send + fmt::Debug + 'static> Call<T> {
    /// Prepares `method` on `handle`'s object: `encode` writes `args` into the params
    /// (the `Context` is added by the runtime), `decode` reads the results (it sees the
    /// args too, for `wantX` flags). Generated code calls this.
    pub fn new<A: Send + fmt::Debug + 'static>(
        handle: &ProxyHandle,
        method: &'static Method,
        args: A,
        encode: fn(&A, &mut StructBuilder<'_>, &WriteCx<'_>) -> Result<()>,
        decode: fn(&A, StructReader<'_>, &ReadCx<'_>) -> Result<T>,
    ) -> Self {
        let job_handle = handle.clone();
        Call {
            handle: handle.clone(),
            method,
            make: Box::new(move |blocking, timeout| {
                Box::new(job_handle.job(method, blocking, timeout, args, encode, decode))
            }),
            timeout: None,
        }
    }

    /// Waits at most `limit` for the answer (overrides the connection's
    /// [`ConnectOptions::call_timeout`](crate::ConnectOptions::call_timeout)); then the
    /// call fails with [`Error::TimedOut`](crate::Error::TimedOut). The server may still be
    /// running it: its remote thread stays busy there, so mphub sends no further call to
    /// that thread (a later call gets a fresh one).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Runs the call and blocks the calling OS thread until it returns. Each OS thread
    /// gets its own remote thread per connection, reused for all its calls. Must not be
    /// called on an mphub event-loop thread (use `.await` there).
    pub fn blocking(self) -> Result<T> {
        let job = (self.make)(true, self.timeout);
        name_unimplemented(self.method, self.handle.runtime().run_blocking(job))
    }

    /// The method this call invokes.
    pub fn method(&self) -> &'static Method {
        self.method
    }
}

impl<T: Send + fmt::Debug + 'static> IntoFuture for Call<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let job = (self.make)(false, self.timeout);
        let method = self.method;
        let run = self.handle.runtime().run(job);
        Box::pin(async move { name_unimplemented(method, run.await) })
    }
}

/// A server's "not implemented" names the method only by ordinal and interface ID; the
/// caller knows its name (`KvInit.construct: method @0 of interface 0x… is not implemented`).
fn name_unimplemented<T>(method: &Method, result: Result<T>) -> Result<T> {
    result.map_err(|e| match e {
        crate::Error::Unimplemented(m) if !m.contains(method.name) => {
            crate::Error::Unimplemented(format!("{method}: {m}"))
        }
        other => other,
    })
}
