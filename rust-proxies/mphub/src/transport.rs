//! Connecting, listening, spawning: unix sockets and socketpairs, as libmultiprocess
//! and Bitcoin Core use them.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use crate::error::{Error, Result};
use crate::proxy::{Cap, ConnRef, ProxyClient};
use crate::runtime::{loop_state, Runtime};
use crate::state::ConnState;

/// Longest unix socket path (`sun_path` is 108 bytes including the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Resolves Bitcoin Core's address syntax: `unix` → `<datadir>/<chain dir>/node.sock`
/// (mainnet has no chain dir), `unix:<path>` → path, relative paths against that dir.
pub fn resolve_unix_address(address: &str, datadir: &Path, chain: &str) -> Result<PathBuf> {
    let net_dir = match chain {
        "main" | "mainnet" | "" => datadir.to_path_buf(),
        "test" | "testnet" | "testnet3" => datadir.join("testnet3"),
        other => datadir.join(other),
    };
    let path = if address == "unix" {
        net_dir.join("node.sock")
    } else if let Some(p) = address.strip_prefix("unix:") {
        if p.is_empty() {
            net_dir.join("node.sock")
        } else {
            net_dir.join(p)
        }
    } else {
        return Err(Error::Usage(format!(
            "Unrecognized address '{address}' (expected unix or unix:<path>)"
        )));
    };
    check_path_len(&path)?;
    Ok(path)
}

fn check_path_len(path: &Path) -> Result<()> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::Usage(format!(
            "socket path {} exceeded maximum socket path length ({MAX_SOCKET_PATH} bytes)",
            path.display()
        )));
    }
    Ok(())
}

fn io_context(e: std::io::Error, what: &str) -> Error {
    Error::Io(Arc::new(std::io::Error::new(
        e.kind(),
        format!("{what}: {e}"),
    )))
}

/// Socket read/write buffer size; larger messages bypass the buffers.
const IO_BUFFER: usize = 64 * 1024;

/// Send buffer we ask for: a 1 MiB message then fits the socket in one go instead of
/// ~200 KiB slices, each costing a wake-up on both sides. The kernel caps the request at
/// `net.core.wmem_max` (and doubles it); the buffer only fills when there is data.
const SEND_BUFFER: libc::c_int = 2 * 1024 * 1024;

/// Best effort: a smaller buffer only costs speed.
fn raise_send_buffer(stream: &UnixStream) {
    let size: libc::c_int = std::env::var("MPHUB_SNDBUF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEND_BUFFER);
    if size == 0 {
        return;
    }
    // SAFETY: setsockopt reads `size` (a c_int of the given length) from a valid pointer.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            std::ptr::addr_of!(size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!(target: "ipc", "SO_SNDBUF: {}", std::io::Error::last_os_error());
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
    let (read, write) = stream.into_split();
    // Buffered, so a message goes out in one write (not segment table + segments) and
    // one read can take in several small messages: fewer syscalls per call.
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::with_capacity(IO_BUFFER, read.compat()),
        futures::io::BufWriter::with_capacity(IO_BUFFER, write.compat_write()),
        side,
        capnp::message::ReaderOptions::new(),
    );
    let conn = ConnState::new(peer, st.runtime.clone(), client_side);
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

/// A unix socket this process bound ([`bind_unix`]).
pub struct BoundSocket {
    /// The listening socket.
    pub listener: UnixListener,
    /// The socket file it created.
    pub file: SocketFile,
}

/// The socket file a [`BoundSocket`] created: its path and identity (device, inode).
#[derive(Clone, Debug)]
pub struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

impl SocketFile {
    /// The path it was bound at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file, but only if it is still the one we bound (a newer server
    /// may own the path now, or someone may have put another file there).
    pub fn unlink(&self) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds a unix stream socket at `path`, readable and writable by this user only, and
/// listens on it.
///
/// - The mode is set on the socket before `bind`, so the file never exists with looser
///   permissions; missing parent folders are created with mode 0700.
/// - Binding is exclusive: of servers racing for one path, exactly one wins; the others
///   get "in use".
/// - A socket file already there is probed with a non-blocking connect: a server that
///   answers, or whose backlog is full, owns it ("in use"); a refused connect means a
///   stale file, which is removed (only if it is still the file probed) and the bind
///   retried. Any other kind of file is refused.
///
/// Every path that fits `sun_path` (up to [`MAX_SOCKET_PATH`] bytes) works.
pub fn bind_unix(path: &Path) -> Result<BoundSocket> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    check_path_len(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_context(e, &format!("creating {}", dir.display())))?;
        }
    }
    for _ in 0..2 {
        match bind_listen(path) {
            Ok(listener) => {
                let meta = std::fs::symlink_metadata(path)
                    .map_err(|e| io_context(e, &format!("checking {}", path.display())))?;
                return Ok(BoundSocket {
                    listener,
                    file: SocketFile {
                        path: path.to_path_buf(),
                        id: (meta.dev(), meta.ino()),
                    },
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                let meta = match std::fs::symlink_metadata(path) {
                    Ok(m) => m,
                    // Gone meanwhile: try again.
                    Err(_) => continue,
                };
                if !meta.file_type().is_socket() {
                    return Err(Error::Usage(format!(
                        "{} exists and is not a socket; refusing to replace it",
                        path.display()
                    )));
                }
                match probe(path) {
                    Probe::Answers => {
                        return Err(Error::Usage(format!(
                            "{} is in use by a running server",
                            path.display()
                        )))
                    }
                    Probe::Busy => {
                        return Err(Error::Usage(format!(
                        "{} is in use by a server that is not accepting connections (backlog full)",
                        path.display()
                    )))
                    }
                    Probe::Stale => {
                        // Remove it only if it is still the file we probed.
                        let same = std::fs::symlink_metadata(path)
                            .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
                        if same {
                            std::fs::remove_file(path).map_err(|e| {
                                io_context(e, &format!("removing stale socket {}", path.display()))
                            })?;
                        }
                    }
                }
            }
            Err(e) => return Err(io_context(e, &format!("binding {}", path.display()))),
        }
    }
    Err(Error::Usage(format!(
        "{} is in use (another server took it while a stale socket was replaced)",
        path.display()
    )))
}

/// `socket` + mode 0600 + `bind` + `listen`.
fn bind_listen(path: &Path) -> std::io::Result<UnixListener> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    // Linux gives the bound file the socket inode's mode (less the umask).
    rustix::fs::fchmod(&socket, rustix::fs::Mode::from_raw_mode(0o600))?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(128)?;
    Ok(UnixListener::from(std::os::fd::OwnedFd::from(socket)))
}

enum Probe {
    /// A server accepted the connection.
    Answers,
    /// A server listens but its backlog is full.
    Busy,
    /// Nobody listens: a file left behind.
    Stale,
}

/// Connects without blocking (a unix connect answers at once: accepted, backlog full, or
/// refused), so a stuck server cannot hang us.
fn probe(path: &Path) -> Probe {
    use socket2::{Domain, SockAddr, Socket, Type};
    let attempt = || -> std::io::Result<()> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.connect(&SockAddr::unix(path)?)
    };
    match attempt() {
        Ok(()) => Probe::Answers,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Probe::Busy,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Probe::Busy,
        Err(_) => Probe::Stale,
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
