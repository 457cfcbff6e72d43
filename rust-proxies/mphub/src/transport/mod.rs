//! Connecting, listening, spawning: unix sockets and socketpairs, as libmultiprocess
//! and Bitcoin Core use them.

mod framing;
mod network;
mod socket;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::RpcSystem;

pub(crate) use network::LinkStats;
use network::Network;
pub use socket::{bind_unix, resolve_unix_address, BoundSocket, SocketFile, MAX_SOCKET_PATH};
use socket::{check_path_len, io_context};

use crate::error::{Error, Result};
use crate::limits::ConnectOptions;
use crate::proxy::{Cap, ConnRef, ProxyClient};
use crate::runtime::{loop_state, Runtime};
use crate::state::ConnState;

/// Send buffer we ask for: a 1 MiB message then fits the socket in one go instead of
/// ~200 KiB slices, each costing a wake-up on both sides. The kernel caps the request at
/// `net.core.wmem_max` (and doubles it); the buffer only fills when there is data.
const SEND_BUFFER: usize = 2 * 1024 * 1024;

/// Best effort: a smaller buffer only costs speed. `MPHUB_SNDBUF=0` keeps the default.
fn raise_send_buffer(stream: &UnixStream) {
    let size = std::env::var("MPHUB_SNDBUF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEND_BUFFER);
    if size == 0 {
        return;
    }
    if let Err(e) = socket2::SockRef::from(stream).set_send_buffer_size(size) {
        tracing::debug!(target: "ipc", "SO_SNDBUF: {e}");
    }
}

/// Starts an RPC system over `stream` on the loop thread and registers the connection.
fn start_rpc<B>(
    stream: UnixStream,
    side: Side,
    peer: String,
    bootstrap: Option<&Cap<B>>,
    client_side: bool,
) -> Result<(Rc<ConnState>, RpcSystem<Side>)> {
    let st = loop_state()?;
    stream.set_nonblocking(true)?;
    raise_send_buffer(&stream);
    let stream = tokio::net::UnixStream::from_std(stream)?;
    let stats = LinkStats::new(&st.limits);
    let network = Network::new(stream, side, stats.clone());
    let conn = ConnState::new(
        peer,
        st.runtime.clone(),
        client_side,
        stats,
        st.limits.clone(),
    );
    let boot = match bootstrap {
        Some(cap) => cap.to_client(&ConnRef(conn.clone()))?,
        None => None,
    };
    let rpc = RpcSystem::new(Box::new(network), boot);
    *conn.disconnector.borrow_mut() = Some(rpc.get_disconnector());
    st.conns.borrow_mut().insert(conn.id, conn.clone());
    Ok((conn, rpc))
}

/// Drives an RPC system until the connection ends, then cleans up.
async fn run_until_disconnect(conn: Rc<ConnState>, rpc: RpcSystem<Side>, server: bool) {
    let result = rpc.await;
    if server {
        tracing::info!(target: "ipc", "IPC server: socket disconnected.");
    } else if !conn.closed.get() {
        tracing::warn!(target: "ipc", "IPC client: unexpected network disconnect.");
    }
    if let Err(e) = result {
        tracing::debug!(target: "ipc", "connection to {} ended: {e}", conn.peer);
    }
    conn.close("disconnected");
    if let Ok(st) = loop_state() {
        st.conns.borrow_mut().remove(&conn.id);
    }
}

/// Client side of a connected stream: bootstrap, `construct`, typed proxy.
async fn client_on_stream<C: ProxyClient>(
    stream: UnixStream,
    peer: String,
    call_timeout: Option<std::time::Duration>,
) -> Result<C> {
    let (conn, mut rpc) = start_rpc(stream, Side::Client, peer, None::<&Cap<()>>, true)?;
    conn.call_timeout.set(call_timeout);
    let boot: capnp::capability::Client = rpc.bootstrap(Side::Server);
    tokio::task::spawn_local(run_until_disconnect(conn.clone(), rpc, false));
    let client = ConnRef(conn).import::<C>(boot)?;
    // `construct(threadMap) -> (threadMap)` (generated): offer our ThreadMap, keep the
    // peer's. It has no Context, so it goes out before any remote thread exists.
    if let Some(construct) = client.construct() {
        tracing::debug!(target: "ipc", "IPC client send {}$Params", construct.method());
        construct.await?;
    }
    Ok(client)
}

/// What a client connects over.
enum Dial {
    /// A unix socket path.
    Path(std::path::PathBuf),
    /// A connected stream and its label for logs.
    Stream(UnixStream, String),
}

/// Why connecting to `path` cannot work when it exists but is no socket (a regular file or
/// a folder answer "connection refused", which would send a user looking for a server).
fn not_a_socket(path: &std::path::Path) -> Option<std::io::Error> {
    let what = socket::non_socket_kind(std::fs::metadata(path).ok()?.file_type())?;
    Some(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("the path exists and is {what}, not a unix socket"),
    ))
}

/// Connects (without blocking the loop, even on a server whose backlog is full) and
/// runs `construct`, within `options.connect_timeout`.
async fn dial<C: ProxyClient>(to: Dial, options: ConnectOptions) -> Result<C> {
    let what = match &to {
        Dial::Path(p) => p.display().to_string(),
        Dial::Stream(_, peer) => peer.clone(),
    };
    let work = async move {
        let (stream, peer) = match to {
            Dial::Path(path) => {
                let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
                    io_context(
                        not_a_socket(&path).unwrap_or(e),
                        &format!("connecting to {}", path.display()),
                    )
                })?;
                (stream.into_std()?, format!("unix:{}", path.display()))
            }
            Dial::Stream(stream, peer) => (stream, peer),
        };
        client_on_stream::<C>(stream, peer, options.call_timeout).await
    };
    match options.connect_timeout {
        None => work.await,
        Some(limit) => tokio::time::timeout(limit, work).await.map_err(|_| {
            Error::TimedOut(format!(
                "connecting to {what}: no answer within {limit:?} (is the server stopped?)"
            ))
        })?,
    }
}

/// Connects to a unix socket and returns the bootstrap interface (after `construct`),
/// with the default [`ConnectOptions`].
pub async fn connect<C: ProxyClient>(runtime: &Runtime, path: impl AsRef<Path>) -> Result<C> {
    connect_with(runtime, path, ConnectOptions::default()).await
}

/// [`connect`] with explicit timeouts.
///
/// # Errors
/// [`Error::Io`] when nothing listens at `path`; [`Error::TimedOut`] when the server
/// accepts but does not answer `construct` within `options.connect_timeout`.
pub async fn connect_with<C: ProxyClient>(
    runtime: &Runtime,
    path: impl AsRef<Path>,
    options: ConnectOptions,
) -> Result<C> {
    let path = path.as_ref().to_path_buf();
    check_path_len(&path)?;
    runtime
        .run(move || Box::pin(dial::<C>(Dial::Path(path), options)))
        .await
}

/// Blocking [`connect`] (default [`ConnectOptions`]).
pub fn connect_blocking<C: ProxyClient>(runtime: &Runtime, path: impl AsRef<Path>) -> Result<C> {
    let path = path.as_ref().to_path_buf();
    check_path_len(&path)?;
    runtime.run_blocking(move || Box::pin(dial::<C>(Dial::Path(path), ConnectOptions::default())))
}

/// Uses an already connected stream (e.g. one end of a socketpair) as a client, with
/// the default [`ConnectOptions`].
pub async fn connect_stream<C: ProxyClient>(runtime: &Runtime, stream: UnixStream) -> Result<C> {
    runtime
        .run(move || {
            Box::pin(dial::<C>(
                Dial::Stream(stream, "stream".into()),
                ConnectOptions::default(),
            ))
        })
        .await
}

/// Serves `init` on one connected stream (a socketpair end, an accepted socket).
/// Resolves when the peer disconnects.
pub async fn serve_stream<C: 'static>(
    runtime: &Runtime,
    stream: UnixStream,
    init: Cap<C>,
) -> Result<()> {
    runtime
        .run_detached(move || {
            Box::pin(async move {
                let (conn, rpc) =
                    start_rpc(stream, Side::Server, "stream".into(), Some(&init), false)?;
                tracing::info!(target: "ipc", "IPC server: socket connected.");
                run_until_disconnect(conn, rpc, true).await;
                Ok(())
            })
        })
        .await
}

/// A listening unix socket serving an interface; stops accepting when dropped and
/// removes its socket file if that is still the one it bound (existing connections keep
/// running until their peers leave).
pub struct Listener {
    file: SocketFile,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _runtime: Runtime,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listener({})", self.path().display())
    }
}

impl Listener {
    /// The socket path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.file.unlink();
    }
}

/// Binds a unix socket with mode 0600 (see [`bind_unix`]: exclusive, a stale socket file
/// is replaced, any other file refused) and serves `init` to every connection.
pub fn listen<C: 'static>(
    runtime: &Runtime,
    path: impl AsRef<Path>,
    init: Cap<C>,
) -> Result<Listener> {
    let path = path.as_ref().to_path_buf();
    let BoundSocket { listener, file } = bind_unix(&path)?;
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shown = path.display().to_string();
    runtime.post(move || {
        tokio::task::spawn_local(async move {
            let listener = match listener
                .set_nonblocking(true)
                .and_then(|_| tokio::net::UnixListener::from_std(listener))
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(target: "ipc", "cannot listen on {shown}: {e}");
                    return;
                }
            };
            let mut served: Vec<std::rc::Weak<ConnState>> = Vec::new();
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            if !make_room(&mut served, &shown) {
                                drop(stream);
                                continue;
                            }
                            let std_stream = match stream.into_std() {
                                Ok(s) => s,
                                Err(e) => { tracing::warn!(target: "ipc", "accept: {e}"); continue; }
                            };
                            match start_rpc(std_stream, Side::Server, format!("unix:{shown}"), Some(&init), false) {
                                Ok((conn, rpc)) => {
                                    tracing::info!(target: "ipc", "IPC server: socket connected.");
                                    served.push(Rc::downgrade(&conn));
                                    tokio::task::spawn_local(run_until_disconnect(conn, rpc, true));
                                }
                                Err(e) => tracing::warn!(target: "ipc", "cannot serve connection: {e}"),
                            }
                        }
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(target: "ipc", "accept on {shown} failed: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
    })?;
    Ok(Listener {
        file,
        stop: Some(stop_tx),
        _runtime: runtime.clone(),
    })
}

/// Keeps a listener within [`Limits::max_connections`](crate::Limits::max_connections):
/// below it, true; at it, closes the connection idle longest if it has been idle for
/// [`Limits::idle_timeout`](crate::Limits::idle_timeout) and returns true; otherwise
/// false (the new connection is refused).
fn make_room(served: &mut Vec<std::rc::Weak<ConnState>>, shown: &str) -> bool {
    served.retain(|c| c.upgrade().is_some_and(|c| !c.closed.get()));
    let Ok(st) = loop_state() else { return false };
    let limits = &st.limits;
    if served.len() < limits.max_connections {
        return true;
    }
    let idlest = served
        .iter()
        .filter_map(|c| c.upgrade())
        .filter_map(|c| c.idle_for().map(|idle| (idle, c)))
        .filter(|(idle, _)| *idle >= limits.idle_timeout)
        .max_by_key(|(idle, _)| *idle);
    match idlest {
        Some((idle, conn)) => {
            crate::log::warn_limited(
                "listener_full_evict",
                format_args!(
                    "IPC server: {shown} has {} connections (limit max_connections); closing \
                     one idle for {} s",
                    served.len(),
                    idle.as_secs()
                ),
            );
            conn.close("idle while the listener is full");
            served.retain(|c| c.upgrade().is_some_and(|c| !Rc::ptr_eq(&c, &conn)));
            true
        }
        None => {
            crate::log::warn_limited(
                "listener_full",
                format_args!(
                    "IPC server: refusing a connection on {shown}: {} connections open (limit \
                     max_connections), none idle for {:?}",
                    served.len(),
                    limits.idle_timeout
                ),
            );
            false
        }
    }
}

/// How a spawned child is told its socket fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnConvention {
    /// Bitcoin Core: `<exe> -ipcfd <fd>`.
    BitcoinCore,
    /// libmultiprocess examples: `<exe> <fd>`.
    Libmultiprocess,
}

/// A child process serving us over a socketpair, and our client for it.
pub struct SpawnedChild<C> {
    /// The child's bootstrap interface.
    pub client: C,
    /// The child process; wait for it after dropping every proxy.
    pub process: std::process::Child,
}

/// Spawns `program` with one end of a socketpair (libmultiprocess's `SpawnProcess`),
/// and connects to it as a client.
pub async fn spawn<C: ProxyClient>(
    runtime: &Runtime,
    program: impl AsRef<Path>,
    extra_args: &[String],
    convention: SpawnConvention,
) -> Result<SpawnedChild<C>> {
    let (ours, theirs) = UnixStream::pair()?;
    let child_fd: RawFd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(program.as_ref());
    match convention {
        SpawnConvention::BitcoinCore => cmd.arg("-ipcfd").arg(child_fd.to_string()),
        SpawnConvention::Libmultiprocess => cmd.arg(child_fd.to_string()),
    };
    cmd.args(extra_args);
    // The socketpair is close-on-exec; let exactly the child's end through.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let flags = libc::fcntl(child_fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(child_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut process = cmd
        .spawn()
        .map_err(|e| io_context(e, &format!("spawning {}", program.as_ref().display())))?;
    drop(theirs);
    match connect_stream::<C>(runtime, ours).await {
        Ok(client) => Ok(SpawnedChild { client, process }),
        Err(e) => {
            // The connection failed: the child is of no use; do not leave it behind.
            let _ = process.kill();
            let _ = process.wait();
            Err(e)
        }
    }
}

/// The socket fd this process was given by a spawning parent, from either argv
/// convention (`<exe> -ipcfd <fd>` or `<exe> <fd>`), if any. Taking ownership of it is
/// the caller's `unsafe` step (`OwnedFd::from_raw_fd`): only the caller knows the
/// number names an fd inherited for this purpose and used nowhere else.
pub fn spawned_fd_from_args(args: &[String]) -> Option<RawFd> {
    match args {
        [_, flag, fd] if flag == "-ipcfd" => fd.parse().ok(),
        [_, fd] => fd.parse().ok(),
        _ => None,
    }
}

/// Serves `init` on an inherited socket (see [`spawned_fd_from_args`]) until the parent
/// disconnects.
///
/// # Errors
/// [`Error::Usage`] when `fd` is not a socket.
pub async fn serve_fd<C: 'static>(runtime: &Runtime, fd: OwnedFd, init: Cap<C>) -> Result<()> {
    let stat = rustix::fs::fstat(&fd).map_err(std::io::Error::from)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
        return Err(Error::Usage(format!(
            "fd {} is not a socket",
            fd.as_raw_fd()
        )));
    }
    serve_stream(runtime, UnixStream::from(fd), init).await
}
