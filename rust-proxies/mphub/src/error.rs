//! The one error type of mphub.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Result alias used throughout mphub and in generated code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in an IPC call, told apart by cause.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The connection is gone (peer exited, socket closed, runtime stopped).
    #[error("disconnected: {0}")]
    Disconnected(String),
    /// The peer ran the call and it failed; `message` is the peer's text
    /// (for libmultiprocess peers usually `std::exception: <what()>`).
    #[error("remote failure: {message}")]
    Remote {
        /// The peer's description, without Cap'n Proto's `remote exception: ` prefix.
        message: String,
    },
    /// The peer does not implement the interface or method (wrong schema version?).
    #[error("unimplemented by peer: {0}")]
    Unimplemented(String),
    /// The method failed with an exception declared in the schema (`$Proxy.exception`).
    #[error("declared exception {0}")]
    Declared(DeclaredException),
    /// The peer sent data that does not decode or violates the protocol.
    #[error("malformed data from peer: {0}")]
    Malformed(String),
    /// Local I/O failure (socket, spawn, listen).
    #[error("I/O error: {0}")]
    Io(#[from] Arc<std::io::Error>),
    /// No answer within the time allowed ([`ConnectOptions`](crate::ConnectOptions),
    /// [`Call::timeout`](crate::Call::timeout)). The call was abandoned here; the server
    /// may still be running it.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// Misuse detected locally (bad address, unsupported option, ...).
    #[error("{0}")]
    Usage(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

/// A typed exception carried in a `$Proxy.exception` result field.
#[derive(Clone)]
pub struct DeclaredException {
    /// The C++ exception type named by the annotation.
    pub type_name: &'static str,
    summary: String,
    payload: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for DeclaredException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.type_name, self.summary)
    }
}

impl fmt::Display for DeclaredException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.type_name, self.summary)
    }
}

impl DeclaredException {
    /// The exception value, if it has type `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref::<T>()
    }
}

impl Error {
    /// Wraps a declared exception value; servers return this to fill the exception slot.
    pub fn declared<T: Any + Send + Sync + fmt::Debug>(type_name: &'static str, value: T) -> Self {
        Error::Declared(DeclaredException {
            type_name,
            summary: format!("{value:?}"),
            payload: Arc::new(value),
        })
    }

    /// A failure with a message, as a server implementation reports it.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Remote {
            message: message.into(),
        }
    }

    /// The declared exception value, if this error carries one of type `T`.
    pub fn declared_as<T: Any>(&self) -> Option<&T> {
        match self {
            Error::Declared(d) => d.downcast_ref(),
            _ => None,
        }
    }

    /// True when the call or connection timed out ([`Error::TimedOut`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::TimedOut(_))
    }

    /// True when the error means the connection is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected(_))
    }

    /// The remote `what()` text with libmultiprocess's `std::exception: ` prefix removed.
    pub fn remote_what(&self) -> Option<&str> {
        match self {
            Error::Remote { message } => {
                Some(message.strip_prefix("std::exception: ").unwrap_or(message))
            }
            _ => None,
        }
    }
}

impl From<capnp::Error> for Error {
    fn from(e: capnp::Error) -> Self {
        let text = e.extra.clone();
        match e.kind {
            capnp::ErrorKind::Disconnected => Error::Disconnected(text),
            capnp::ErrorKind::Unimplemented => Error::Unimplemented(
                text.strip_prefix("remote exception: ")
                    .unwrap_or(&text)
                    .to_string(),
            ),
            capnp::ErrorKind::Failed | capnp::ErrorKind::Overloaded => {
                match text.strip_prefix("remote exception: ") {
                    Some(rest) => Error::Remote {
                        message: rest.to_string(),
                    },
                    // A failure raised by a server object hosted in this process.
                    None if text.starts_with("std::exception: ") => Error::Remote { message: text },
                    // A locally raised decode/limit error: the peer's data was bad.
                    None => Error::Malformed(text),
                }
            }
            _ if text.is_empty() => Error::Malformed(format!("{:?}", e.kind)),
            _ => Error::Malformed(format!("{:?}: {}", e.kind, text)),
        }
    }
}

impl From<capnp::NotInSchema> for Error {
    fn from(e: capnp::NotInSchema) -> Self {
        Error::Malformed(format!("value not in schema: {}", e.0))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Self {
        Error::Malformed(format!("invalid UTF-8: {e}"))
    }
}

/// Converts an mphub error into the Cap'n Proto error a server sends back.
///
/// Failures get libmultiprocess's `std::exception: ` prefix so that C++ clients see
/// the same text (`remote exception: std::exception: <what>`) as from a C++ server.
pub fn to_capnp_error(e: Error) -> capnp::Error {
    match e {
        Error::Remote { message } if message.starts_with("std::exception: ") => {
            capnp::Error::failed(message)
        }
        Error::Remote { message } => capnp::Error::failed(format!("std::exception: {message}")),
        Error::Disconnected(m) => capnp::Error::disconnected(m),
        Error::Unimplemented(m) => capnp::Error::unimplemented(m),
        other => capnp::Error::failed(format!("std::exception: {other}")),
    }
}
