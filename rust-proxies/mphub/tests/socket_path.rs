//! Who owns a socket path (issue 9, defects 3 and 4): binding is atomic, a server only
//! unlinks what it bound, the "in use?" probe has a deadline, and every path that fits
//! `sun_path` works.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mphub::{Cap, Runtime};

/// Any capability will do: these tests are about the socket file, not the calls.
fn dummy() -> Cap<()> {
    Cap::null()
}

fn is_socket(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn the_longest_path_sun_path_holds_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut path = dir.path().to_path_buf();
    let base = path.as_os_str().len();
    assert!(
        base < 80,
        "temp dir too long for this test: {}",
        path.display()
    );
    path.push("x".repeat(mphub::MAX_SOCKET_PATH - base - 1));
    assert_eq!(path.as_os_str().len(), mphub::MAX_SOCKET_PATH);
    let rt = Runtime::new().unwrap();
    let listener = mphub::listen(&rt, &path, dummy()).expect("a 107-byte path fits sun_path");
    assert!(UnixStream::connect(&path).is_ok());
    drop(listener);
    assert!(!path.exists(), "the listener removes its own socket");
}

#[test]
fn a_stopping_server_leaves_a_newer_servers_socket_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sock");
    let rt = Runtime::new().unwrap();
    let old = mphub::listen(&rt, &path, dummy()).unwrap();
    // Someone removes the old socket and a new server takes the path.
    std::fs::remove_file(&path).unwrap();
    let new = mphub::listen(&rt, &path, dummy()).unwrap();
    drop(old);
    assert!(
        is_socket(&path),
        "the old server deleted the new server's socket"
    );
    assert!(
        UnixStream::connect(&path).is_ok(),
        "the new server must still answer"
    );
    drop(new);
}

#[test]
fn a_stopping_server_leaves_a_regular_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sock");
    let rt = Runtime::new().unwrap();
    let server = mphub::listen(&rt, &path, dummy()).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"not a socket").unwrap();
    drop(server);
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

#[test]
fn of_servers_started_at_once_on_one_path_exactly_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.sock");
    let rt = Runtime::new().unwrap();
    for round in 0..200 {
        let _ = std::fs::remove_file(&path);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (rt, path, barrier) = (rt.clone(), path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    mphub::listen(&rt, &path, dummy())
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {ok} servers think they own the path");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    e.to_string().contains("in use"),
                    "round {round}: unclear error: {e}"
                );
            }
        }
    }
}

#[test]
fn the_in_use_probe_gives_up_on_a_server_that_does_not_accept() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("busy.sock");
    // A server that never accepts: its backlog fills and a blocking connect would hang.
    let stuck = UnixListener::bind(&path).unwrap();
    let mut queued = Vec::new();
    loop {
        let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        if s.connect(&socket2::SockAddr::unix(&path).unwrap()).is_err() {
            break;
        }
        queued.push(s);
        assert!(queued.len() < 100_000, "the backlog never filled");
    }
    let rt = Runtime::new().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let probe_path = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(mphub::listen(&rt, &probe_path, dummy()).map(|_| ()));
    });
    let start = Instant::now();
    let result = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
        panic!(
            "listen still probing the full backlog after {:?}",
            start.elapsed()
        )
    });
    let err = result.expect_err("the path is held by a live (if stuck) server");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(stuck);
}

/// (issue 9, defect 10) Folders created for a socket are private (0700) whatever the
/// umask, like the socket itself (0600).
#[test]
fn created_folders_are_private_under_any_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/node.sock");
    let old = rustix::process::umask(rustix::fs::Mode::empty());
    let bound = mphub::bind_unix(&path);
    rustix::process::umask(old);
    let bound = bound.unwrap();
    for folder in [dir.path().join("a"), dir.path().join("a/b")] {
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", folder.display());
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(bound);
}
