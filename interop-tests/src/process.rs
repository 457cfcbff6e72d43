//! Child processes: run one with a kill timeout, keep a socket server running.

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// How a finished child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal (not by us).
    Signal(i32),
    /// Still running at the deadline; we killed it.
    TimedOut,
}

/// Output of a finished child.
#[derive(Clone, Debug)]
pub struct Finished {
    /// How it ended.
    pub ended: Ended,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub took: Duration,
}

impl Finished {
    /// The last non-empty line of stderr (where peers put the failure reason).
    pub fn last_stderr_line(&self) -> Option<&str> {
        self.stderr
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
    }
}

/// `taskset -c 0 <cmd>` when `pinned`, else `<cmd>`.
pub fn command(program: &Path, pinned: bool) -> Command {
    if pinned {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn read_all(mut f: File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let mut bytes = Vec::new();
    if f.read_to_end(&mut bytes).is_ok() {
        s = String::from_utf8_lossy(&bytes).into_owned();
    }
    s
}

/// Runs `cmd` to completion, killing it after `timeout`. Output goes to anonymous files
/// rather than pipes, so a grandchild holding them open cannot hang us, and we wait in
/// `wait()` (not polling) so an idle harness does not disturb benchmarks.
pub fn run(mut cmd: Command, timeout: Duration) -> anyhow::Result<Finished> {
    let out = tempfile::tempfile().context("creating a temp file")?;
    let err = tempfile::tempfile().context("creating a temp file")?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
            // The child is not reaped until `wait` returns, so the pid is still its.
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            return true;
        }
        false
    });
    let status = child.wait().context("waiting for a child")?;
    let took = started.elapsed();
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let ended = if timed_out {
        Ended::TimedOut
    } else if let Some(code) = status.code() {
        Ended::Code(code)
    } else {
        Ended::Signal(status.signal().unwrap_or(0))
    };
    Ok(Finished {
        ended,
        stdout: read_all(out),
        stderr: read_all(err),
        took,
    })
}

/// How long a server may take to create its socket.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer (or floor) server listening on a unix socket in a directory we own.
pub struct Server {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `program args.. --socket <dir>/<name>.sock` (pinned to CPU 0 if asked) and
    /// waits until the socket accepts connections.
    pub fn start(
        program: &Path,
        args: &[&str],
        dir: &Path,
        name: &str,
        pinned: bool,
    ) -> anyhow::Result<Server> {
        let socket = dir.join(format!("{name}.sock"));
        let log = dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&socket);
        let mut cmd = command(program, pinned);
        cmd.args(args)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).context("creating the server log")?);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting server {}", program.display()))?;
        let mut server = Server { child, socket, log };
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "server {} exited at start ({status}): {}",
                    program.display(),
                    server.log_tail()
                );
            }
            if server.socket.exists()
                && std::os::unix::net::UnixStream::connect(&server.socket).is_ok()
            {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                bail!(
                    "server {} did not create {} within {} s: {}",
                    program.display(),
                    server.socket.display(),
                    SERVER_START_TIMEOUT.as_secs(),
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while running, else how it ended.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last line of the server's stderr, for error messages.
    pub fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log)
            .ok()
            .and_then(|s| {
                s.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "(no output)".into())
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}
