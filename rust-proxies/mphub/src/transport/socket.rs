//! Unix socket paths: Bitcoin Core's address syntax, and binding a path race-free
//! (exclusive bind, mode 0600 from the start, only our own file unlinked).

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

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

pub(crate) fn check_path_len(path: &Path) -> Result<()> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::Usage(format!(
            "socket path {} exceeded maximum socket path length ({MAX_SOCKET_PATH} bytes)",
            path.display()
        )));
    }
    Ok(())
}

pub(crate) fn io_context(e: std::io::Error, what: &str) -> Error {
    Error::Io(Arc::new(std::io::Error::new(
        e.kind(),
        format!("{what}: {e}"),
    )))
}

/// What a path that is no unix socket is, in words ("a folder"); `None` for a socket.
pub(crate) fn non_socket_kind(kind: std::fs::FileType) -> Option<&'static str> {
    Some(if kind.is_socket() {
        return None;
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "a device or pipe"
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
    // A socket is bound before it listens; in between, a probe from a racing server is
    // refused and would take it for stale. Servers using this function serialise on an
    // advisory lock of the folder, so each sees the others' sockets listening.
    let _folder_lock = lock_folder(path)?;
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
                if let Some(kind) = non_socket_kind(meta.file_type()) {
                    return Err(Error::Usage(format!(
                        "{} exists and is not a socket ({kind}); refusing to replace it",
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

/// Takes an exclusive `flock` on the folder that holds `path`, released when the returned
/// descriptor drops. The critical section is short (bind, a non-blocking probe, unlink).
fn lock_folder(path: &Path) -> Result<std::os::fd::OwnedFd> {
    use rustix::fs::{flock, open, FlockOperation, Mode, OFlags};
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    let fd = open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_context(e.into(), &format!("opening {}", dir.display())))?;
    flock(&fd, FlockOperation::LockExclusive)
        .map_err(|e| io_context(e.into(), &format!("locking {}", dir.display())))?;
    Ok(fd)
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
