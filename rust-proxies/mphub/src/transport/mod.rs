//! Connecting, listening, spawning: unix sockets and socketpairs, as libmultiprocess
//! and Bitcoin Core use them.

mod framing;
mod network;
mod socket;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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
    let conn = ConnState::new(peer, st.runtime.clone(), client_side, stats);
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
async fn client_on_stream<C: ProxyClient>(stream: UnixStream, peer: String) -> Result<C> {
    let (conn, mut rpc) = start_rpc(stream, Side::Client, peer, None::<&Cap<()>>, true)?;
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

/// Connects a unix stream socket; returns it with a peer label for logs.
fn open_unix(path: &Path) -> Result<(UnixStream, String)> {
    check_path_len(path)?;
    let stream = UnixStream::connect(path)
        .map_err(|e| io_context(e, &format!("connecting to {}", path.display())))?;
    Ok((stream, format!("unix:{}", path.display())))
}

/// Connects to a unix socket and returns the bootstrap interface (after `construct`).
pub async fn connect<C: ProxyClient>(runtime: &Runtime, path: impl AsRef<Path>) -> Result<C> {
    let (stream, peer) = open_unix(path.as_ref())?;
    runtime
        .run(move || Box::pin(client_on_stream::<C>(stream, peer)))
        .await
}

/// Blocking [`connect`].
pub fn connect_blocking<C: ProxyClient>(runtime: &Runtime, path: impl AsRef<Path>) -> Result<C> {
    let (stream, peer) = open_unix(path.as_ref())?;
    runtime.run_blocking(move || Box::pin(client_on_stream::<C>(stream, peer)))
}

/// Uses an already connected stream (e.g. one end of a socketpair) as a client.
pub async fn connect_stream<C: ProxyClient>(runtime: &Runtime, stream: UnixStream) -> Result<C> {
    runtime
        .run(move || Box::pin(client_on_stream::<C>(stream, "stream".into())))
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
        .run(move || {
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
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let std_stream = match stream.into_std() {
                                Ok(s) => s,
                                Err(e) => { tracing::warn!(target: "ipc", "accept: {e}"); continue; }
                            };
                            match start_rpc(std_stream, Side::Server, format!("unix:{shown}"), Some(&init), false) {
                                Ok((conn, rpc)) => {
                                    tracing::info!(target: "ipc", "IPC server: socket connected.");
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
/// convention (`<exe> -ipcfd <fd>` or `<exe> <fd>`), if any.
pub fn spawned_fd_from_args(args: &[String]) -> Option<RawFd> {
    match args {
        [_, flag, fd] if flag == "-ipcfd" => fd.parse().ok(),
        [_, fd] => fd.parse().ok(),
        _ => None,
    }
}

/// Serves `init` on an inherited socket fd until the parent disconnects.
///
/// # Safety-related note
/// Takes ownership of `fd`; it must be an open stream socket not used elsewhere.
pub async fn serve_fd<C: 'static>(runtime: &Runtime, fd: RawFd, init: Cap<C>) -> Result<()> {
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 || (stat.st_mode & libc::S_IFMT) != libc::S_IFSOCK
    {
        return Err(Error::Usage(format!("fd {fd} is not an open socket")));
    }
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    serve_stream(runtime, UnixStream::from(owned), init).await
}
