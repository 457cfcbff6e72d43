//! The client half of the interop peer contract (`doc/interop.md`): connect to a server
//! peer over a unix socket or a spawned child, run one named scenario or one benchmark.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mphub_test_peer::client::{run_scenario, Outcome, Target};
//! let target = Target::Socket { path: "/tmp/t.sock".into(), server_pid: None };
//! match run_scenario(&target, "primitives").await? {
//!     Outcome::Pass => println!("ok"),
//!     Outcome::Skip(why) => println!("SKIPPED: {why}"),
//! }
//! # Ok(()) }
//! ```

mod bench;
mod hostile;
mod scenarios;

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};

use crate::test_schema::{TestInitClient, TesterClient};

pub use bench::{run_bench, BenchKind, BenchReport};

/// Every scenario of `doc/interop.md`, in the order the harness runs them
/// (`killed-mid-call` last, because it kills the server).
pub const SCENARIOS: &[&str] = &[
    "primitives",
    "text",
    "data",
    "lists",
    "map",
    "struct",
    "optional",
    "out-params",
    "in-out",
    "exceptions",
    "no-context",
    "interfaces",
    "ordering",
    "parallel",
    "callback",
    "callback-outside-call",
    "recursion",
    "destroy",
    "hostile-thread",
    "hostile-null-context",
    "hostile-oversize",
    "killed-mid-call",
];

/// Exit codes of a client run, as the contract fixes them.
pub mod exit {
    /// All assertions held.
    pub const PASS: i32 = 0;
    /// An assertion failed; the reason is the last line of stderr.
    pub const FAIL: i32 = 1;
    /// Unknown scenario or bench kind, or bad command line.
    pub const USAGE: i32 = 2;
    /// The scenario cannot be expressed in this setting; `SKIPPED: <why>` on stdout.
    pub const SKIP: i32 = 77;
}

/// A client must finish within this time (the harness kills it after 30 s).
pub const SCENARIO_DEADLINE: Duration = Duration::from_secs(20);

/// Where the server peer is.
#[derive(Clone, Debug)]
pub enum Target {
    /// A server listening on a unix socket; `server_pid` lets `killed-mid-call` kill it.
    Socket {
        /// Socket path.
        path: PathBuf,
        /// Process id of the server, if the harness passed `--server-pid`.
        server_pid: Option<u32>,
    },
    /// A server binary started as `SERVER_BIN -ipcfd N` over a socketpair.
    Spawn {
        /// The server peer binary.
        server_bin: PathBuf,
    },
}

/// Result of a scenario that did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Pass,
    /// The scenario does not apply here (exit 77), with the reason.
    Skip(String),
}

/// One client connection to a server peer, with the first `Tester` made.
pub struct Session {
    /// The bootstrap interface.
    pub init: TestInitClient,
    /// A `Tester` made with `makeTester`.
    pub tester: TesterClient,
    /// The spawned server process (spawn transport only).
    child: Option<std::process::Child>,
    /// The server's process id when known (spawned child or `--server-pid`).
    server_pid: Option<u32>,
    /// Kept last so proxies are released before the runtime handle.
    rt: mphub::Runtime,
}

impl Session {
    /// Connects (or spawns) and makes a `Tester`.
    pub async fn open(target: &Target) -> anyhow::Result<Session> {
        let rt = mphub::Runtime::new().context("starting the mphub runtime")?;
        let (init, child, server_pid) = match target {
            Target::Socket { path, server_pid } => {
                let init: TestInitClient = mphub::connect(&rt, path)
                    .await
                    .with_context(|| format!("connecting to {}", path.display()))?;
                (init, None, *server_pid)
            }
            Target::Spawn { server_bin } => {
                let spawned = mphub::spawn::<TestInitClient>(
                    &rt,
                    server_bin,
                    &[],
                    mphub::SpawnConvention::BitcoinCore,
                )
                .await
                .with_context(|| format!("spawning {} -ipcfd N", server_bin.display()))?;
                let pid = spawned.process.id();
                (spawned.client, Some(spawned.process), Some(pid))
            }
        };
        let tester = init
            .make_tester()
            .await
            .context("TestInit.makeTester")?
            .ok_or_else(|| anyhow!("TestInit.makeTester returned a null Tester"))?;
        Ok(Session {
            init,
            tester,
            child,
            server_pid,
            rt,
        })
    }

    /// The runtime the proxies run on.
    pub fn runtime(&self) -> &mphub::Runtime {
        &self.rt
    }

    /// Kills the server with SIGKILL: the spawned child, or the `--server-pid` process.
    /// Returns `Ok(false)` when the server's pid is unknown.
    pub fn kill_server(&mut self) -> anyhow::Result<bool> {
        if let Some(child) = self.child.as_mut() {
            child.kill().context("killing the spawned server")?;
            let _ = child.wait();
            return Ok(true);
        }
        let Some(pid) = self.server_pid else {
            return Ok(false);
        };
        let pid =
            libc::pid_t::try_from(pid).map_err(|_| anyhow!("server pid {pid} out of range"))?;
        // SAFETY: kill(2) has no memory-safety preconditions.
        if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
            bail!("kill -9 {pid} failed: {}", std::io::Error::last_os_error());
        }
        Ok(true)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The child exits by itself once we disconnect; our proxies are still alive
            // here, so do not wait for that: stop it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs scenario `name` against `target`, within [`SCENARIO_DEADLINE`].
/// `Err` is a failed assertion or a broken connection; its text is the reason.
pub async fn run_scenario(target: &Target, name: &str) -> anyhow::Result<Outcome> {
    if !SCENARIOS.contains(&name) {
        bail!("unknown scenario '{name}'");
    }
    match tokio::time::timeout(SCENARIO_DEADLINE, scenarios::run(target, name)).await {
        Ok(r) => r,
        Err(_) => bail!("did not finish within {} s", SCENARIO_DEADLINE.as_secs()),
    }
}

/// Fails with a readable message unless `got == want`.
pub(crate) fn expect_eq<T: PartialEq + Debug>(what: &str, got: T, want: T) -> anyhow::Result<()> {
    if got != want {
        bail!("{what}: got {got:?}, expected {want:?}");
    }
    Ok(())
}

/// The error of a call that had to fail; fails if it succeeded.
pub(crate) fn expect_err<T: Debug>(
    what: &str,
    r: mphub::Result<T>,
) -> anyhow::Result<mphub::Error> {
    match r {
        Ok(v) => bail!("{what}: succeeded with {v:?}, expected a failure"),
        Err(e) => Ok(e),
    }
}

/// The error of a call that had to fail with a generic remote failure.
pub(crate) fn expect_remote<T: Debug>(
    what: &str,
    r: mphub::Result<T>,
) -> anyhow::Result<mphub::Error> {
    let e = expect_err(what, r)?;
    if !matches!(e, mphub::Error::Remote { .. }) {
        bail!("{what}: expected a remote failure, got: {e}");
    }
    Ok(e)
}
