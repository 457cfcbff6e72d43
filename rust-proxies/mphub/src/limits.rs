//! What one peer may make this process hold, and how long a client waits.
//!
//! Every limit has a default that a libmultiprocess peer (Bitcoin Core's `bitcoin-node`,
//! `bitcoin-wallet`, the libmultiprocess examples) stays far below, and each one, when
//! hit, costs only the connection or call that hit it. `doc/limits.md` lists them with
//! what the peer sees.

use std::time::Duration;

/// Per-runtime bounds on connections and what each connection may hold. Set them with
/// [`Runtime::with_limits`](crate::Runtime::with_limits); they apply to every connection
/// of that runtime (listened, connected or spawned) and to each of its listeners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections one [`Listener`](crate::Listener) serves at once. Past it, the
    /// listener closes the connection that has been idle longest if it has been idle
    /// for [`idle_timeout`](Self::idle_timeout); otherwise it accepts the new
    /// connection and closes it at once (the client sees a disconnect, the server logs
    /// a warning). Default: 1024, or less so that 64 file descriptors stay free under
    /// the process's `RLIMIT_NOFILE` soft limit.
    pub max_connections: usize,
    /// How long a connection must have been idle (no bytes either way, no call of the
    /// peer running) before a full listener may close it for a new one. Default: 60 s.
    pub idle_timeout: Duration,
    /// `Thread`s (from `ThreadMap.makeThread`) a peer may hold on one connection; the
    /// next `makeThread` fails. Default: 16384 (about 10 MB of server state).
    pub max_threads_per_connection: usize,
    /// Calls of a peer that may run or wait on one connection at once; later calls fail
    /// at once with an error naming the limit. Default: 4096.
    pub max_calls_per_connection: usize,
    /// Bytes of replies waiting for the peer to read them at which this side stops
    /// reading the peer's next messages; reading resumes below half. Default: 16 MiB.
    pub pause_reading_bytes: usize,
    /// Bytes of replies waiting for the peer past which the connection is closed: the
    /// peer does not read what it asked for. Default: 128 MiB.
    pub max_unread_bytes: usize,
    /// How long reading may stay paused with the peer taking none of its replies before
    /// the connection is closed. Default: 60 s.
    pub unread_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            idle_timeout: Duration::from_secs(60),
            max_threads_per_connection: 16 * 1024,
            max_calls_per_connection: 4096,
            pause_reading_bytes: 16 * 1024 * 1024,
            max_unread_bytes: 128 * 1024 * 1024,
            unread_timeout: Duration::from_secs(60),
        }
    }
}

/// 1024, or the soft `RLIMIT_NOFILE` less 64 if that is smaller (at least 1).
fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(soft.saturating_sub(64))
        .unwrap_or(usize::MAX)
        .clamp(1, 1024)
}

/// How a client connects: timeouts for connecting and for its calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Longest wait for the connection and its `construct` call; `None` waits forever.
    /// A server that is stopped (SIGSTOP) or overloaded accepts the socket but never
    /// answers. Default: 30 s.
    pub connect_timeout: Option<Duration>,
    /// Default longest wait for each call on this connection; `None` (the default) waits
    /// forever, which long calls like `Mining.waitNext` need. Override per call with
    /// [`Call::timeout`](crate::Call::timeout). A call that times out is abandoned by
    /// this side, but its remote thread stays busy on the server until the server
    /// answers, so mphub does not send another call on that thread.
    pub call_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Some(Duration::from_secs(30)),
            call_timeout: None,
        }
    }
}
