//! The interop matrix: every client × server × transport × scenario, one client process
//! per cell, run one after another (several scenarios are timing-sensitive).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Serialize;

use crate::peers::{self, Peer};
use crate::process::{self, Ended, Server};

/// The scenarios of `doc/interop.md`, in run order (`killed-mid-call` last: it kills
/// the server).
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

/// The harness kills a client that has not exited after this long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `SERVER serve --socket PATH`, started by the harness.
    Socket,
    /// `SERVER -ipcfd N`, started by the client over a socketpair.
    Spawn,
}

impl Transport {
    /// Both transports.
    pub const ALL: [Transport; 2] = [Transport::Socket, Transport::Spawn];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Socket => "socket",
            Transport::Spawn => "spawn",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// The matrix's selection flags, of `mphub-interop matrix` (`mphub interop` runs that program).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MatrixSelection {
    /// Client peers (default: all available).
    #[arg(long, value_delimiter = ',')]
    pub clients: Option<Vec<String>>,
    /// Server peers (default: all available).
    #[arg(long, value_delimiter = ',')]
    pub servers: Option<Vec<String>>,
    /// Transports: socket, spawn (default: both).
    #[arg(long, value_delimiter = ',')]
    pub transports: Option<Vec<String>>,
    /// Scenarios (default: all).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Option<Vec<String>>,
}

impl MatrixSelection {
    /// The run options, with transport names checked.
    pub fn options(self, progress: bool) -> anyhow::Result<MatrixOptions> {
        let transports = self
            .transports
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        Transport::parse(t).ok_or_else(|| {
                            anyhow::anyhow!("unknown transport '{t}' (socket, spawn)")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?;
        Ok(MatrixOptions {
            clients: self.clients,
            servers: self.servers,
            transports,
            scenarios: self.scenarios,
            progress,
        })
    }
}

/// What to run. `None` lists mean "all".
#[derive(Clone, Debug, Default)]
pub struct MatrixOptions {
    /// Client peer names.
    pub clients: Option<Vec<String>>,
    /// Server peer names.
    pub servers: Option<Vec<String>>,
    /// Transports.
    pub transports: Option<Vec<Transport>>,
    /// Scenario names.
    pub scenarios: Option<Vec<String>>,
    /// Print one line per finished row to stderr while running.
    pub progress: bool,
}

/// Result of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Exit 0.
    Pass,
    /// Anything else but 77.
    Fail,
    /// Exit 77.
    Skip,
}

/// One client run.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// Client peer.
    pub client: String,
    /// Server peer.
    pub server: String,
    /// Transport.
    pub transport: Transport,
    /// Scenario.
    pub scenario: String,
    /// Outcome.
    pub status: Status,
    /// Failure reason or skip reason.
    pub reason: Option<String>,
    /// Wall time of the client process.
    pub millis: u64,
}

/// A peer that could not take part, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Unavailable {
    /// Peer name.
    pub peer: String,
    /// Why.
    pub why: String,
}

/// Everything a matrix run found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MatrixReport {
    /// Every cell run, in run order.
    pub cells: Vec<Cell>,
    /// Requested peers that are not available (once per peer).
    pub unavailable: Vec<Unavailable>,
}

/// Picks the requested peers (all known ones by default); unavailable ones are listed
/// apart. An unknown name is an error.
fn select(
    names: &Option<Vec<String>>,
    unavailable: &mut Vec<Unavailable>,
) -> anyhow::Result<Vec<(String, std::path::PathBuf)>> {
    let all = peers::registry();
    let wanted: Vec<Peer> = match names {
        None => all,
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                match all.iter().find(|p| p.name == n) {
                    Some(p) => out.push(p.clone()),
                    None => bail!(
                        "unknown peer '{n}' (known: {})",
                        all.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                    ),
                }
            }
            out
        }
    };
    let mut ok = Vec::new();
    for p in wanted {
        match p.binary {
            Ok(path) => ok.push((p.name.to_string(), path)),
            Err(why) => {
                if !unavailable.iter().any(|u| u.peer == p.name) {
                    unavailable.push(Unavailable {
                        peer: p.name.to_string(),
                        why,
                    });
                }
            }
        }
    }
    Ok(ok)
}

/// The selected scenarios in canonical order; unknown names are an error.
fn scenarios(names: &Option<Vec<String>>) -> anyhow::Result<Vec<&'static str>> {
    let Some(names) = names else {
        return Ok(SCENARIOS.to_vec());
    };
    for n in names {
        if !SCENARIOS.contains(&n.as_str()) {
            bail!("unknown scenario '{n}' (known: {})", SCENARIOS.join(", "));
        }
    }
    Ok(SCENARIOS
        .iter()
        .copied()
        .filter(|s| names.iter().any(|n| n == s))
        .collect())
}

/// Runs the matrix.
pub fn run(opts: &MatrixOptions) -> anyhow::Result<MatrixReport> {
    let mut report = MatrixReport::default();
    let clients = select(&opts.clients, &mut report.unavailable)?;
    let servers = select(&opts.servers, &mut report.unavailable)?;
    let scenarios = scenarios(&opts.scenarios)?;
    let transports = opts
        .transports
        .clone()
        .unwrap_or_else(|| Transport::ALL.to_vec());
    let dir = tempfile::Builder::new()
        .prefix("mphub-interop-")
        .tempdir()
        .context("creating a temp dir")?;
    for (cname, cbin) in &clients {
        for (sname, sbin) in &servers {
            for &transport in &transports {
                let row = Row {
                    client: cname,
                    client_bin: cbin,
                    server: sname,
                    server_bin: sbin,
                    transport,
                };
                let cells = row.run(&scenarios, dir.path())?;
                if opts.progress {
                    let passed = cells.iter().filter(|c| c.status == Status::Pass).count();
                    let failed: Vec<_> = cells
                        .iter()
                        .filter(|c| c.status == Status::Fail)
                        .map(|c| c.scenario.as_str())
                        .collect();
                    eprintln!(
                        "mphub-interop: {} → {}/{}: {passed}/{} passed{}",
                        cname,
                        sname,
                        transport.name(),
                        cells.len(),
                        if failed.is_empty() {
                            String::new()
                        } else {
                            format!(", failed: {}", failed.join(" "))
                        }
                    );
                }
                report.cells.extend(cells);
            }
        }
    }
    Ok(report)
}

/// Longest a health probe of a socket server may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `server` answers a fresh Rust client (`primitives`) within
/// [`PROBE_TIMEOUT`]. Without the Rust peer, assumes it does.
fn answers(server: &Server) -> bool {
    let Ok(rust) = crate::peers::rust_peer() else {
        return true;
    };
    let mut cmd = process::command(&rust, false);
    cmd.arg("client")
        .arg("--socket")
        .arg(server.socket())
        .args(["--scenario", "primitives"]);
    matches!(
        process::run(cmd, PROBE_TIMEOUT).map(|d| d.ended),
        Ok(Ended::Code(0))
    )
}

/// One client → server/transport row.
struct Row<'a> {
    client: &'a str,
    client_bin: &'a Path,
    server: &'a str,
    server_bin: &'a Path,
    transport: Transport,
}

impl Row<'_> {
    fn run(&self, scenarios: &[&str], dir: &Path) -> anyhow::Result<Vec<Cell>> {
        let mut cells = Vec::new();
        let mut server: Option<Server> = None;
        for &scenario in scenarios {
            let cell = |status, reason: Option<String>, millis| Cell {
                client: self.client.into(),
                server: self.server.into(),
                transport: self.transport,
                scenario: scenario.into(),
                status,
                reason,
                millis,
            };
            let mut cmd = process::command(self.client_bin, false);
            cmd.arg("client");
            match self.transport {
                Transport::Spawn => {
                    cmd.arg("--spawn").arg(self.server_bin);
                }
                Transport::Socket => {
                    // (Re)start the server when there is none or it died (killed-mid-call).
                    if let Some(s) = server.as_mut() {
                        if s.exited().is_some() {
                            server = None;
                        }
                    }
                    if server.is_none() {
                        match Server::start(self.server_bin, &["serve"], dir, self.server, false) {
                            Ok(s) => server = Some(s),
                            Err(e) => {
                                cells.push(cell(
                                    Status::Fail,
                                    Some(format!("server did not start: {e:#}")),
                                    0,
                                ));
                                continue;
                            }
                        }
                    }
                    if let Some(s) = &server {
                        cmd.arg("--socket")
                            .arg(s.socket())
                            .arg("--server-pid")
                            .arg(s.pid().to_string());
                    }
                }
            }
            cmd.arg("--scenario").arg(scenario);
            let done = process::run(cmd, CLIENT_TIMEOUT)?;
            let millis = u64::try_from(done.took.as_millis()).unwrap_or(u64::MAX);
            let reason_line = || done.last_stderr_line().unwrap_or("(no stderr)").to_string();
            let (mut status, mut reason) = match done.ended {
                Ended::Code(0) => (Status::Pass, None),
                Ended::Code(77) => {
                    let why = done
                        .stdout
                        .lines()
                        .find_map(|l| l.strip_prefix("SKIPPED:"))
                        .map(|w| w.trim().to_string())
                        .unwrap_or_else(|| "(no SKIPPED line)".into());
                    (Status::Skip, Some(why))
                }
                Ended::Code(2) => (
                    Status::Fail,
                    Some(format!("exit 2 (unknown scenario?): {}", reason_line())),
                ),
                Ended::Code(c) => (Status::Fail, Some(format!("exit {c}: {}", reason_line()))),
                Ended::Signal(s) => (
                    Status::Fail,
                    Some(format!("killed by signal {s}: {}", reason_line())),
                ),
                Ended::TimedOut => (
                    Status::Fail,
                    Some(format!(
                        "still running after {} s; killed: {}",
                        CLIENT_TIMEOUT.as_secs(),
                        reason_line()
                    )),
                ),
            };
            // A client that hung may have left the server wedged (a call it never
            // finished): the next cell gets a fresh server rather than inheriting that.
            if done.ended == Ended::TimedOut {
                if let Some(s) = server.take() {
                    s.stop();
                }
            }
            // After a failure, check that the server still answers a fresh client; one
            // that stopped answering is named in this cell and replaced, so one wedge
            // cannot fail every later cell.
            if status == Status::Fail && scenario != "killed-mid-call" {
                if let Some(mut s) = server.take() {
                    if s.exited().is_none() && !answers(&s) {
                        if let Some(r) = reason.as_mut() {
                            r.push_str(" (then the server stopped answering; restarted)");
                        }
                        s.stop();
                    } else {
                        server = Some(s);
                    }
                }
            }
            // Servers must survive every scenario but the one that kills them.
            if scenario != "killed-mid-call" {
                if let Some(s) = server.as_mut() {
                    if let Some(how) = s.exited() {
                        status = Status::Fail;
                        reason = Some(format!(
                            "the server exited during this scenario ({how}): {}",
                            s.log_tail()
                        ));
                    }
                }
            }
            cells.push(cell(status, reason, millis));
        }
        Ok(cells)
    }
}

impl MatrixReport {
    /// True when any cell failed.
    pub fn has_failures(&self) -> bool {
        self.cells.iter().any(|c| c.status == Status::Fail)
    }

    /// Cells with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cells.iter().filter(|c| c.status == status).count()
    }

    /// The report as text: one row per client → server/transport, then failures with
    /// their reasons, then one `SKIPPED:` line per unavailable peer. Fits 100 columns.
    pub fn render(&self) -> String {
        const WIDTH: usize = 100;
        let mut rows: Vec<(&str, &str, Transport)> = Vec::new();
        for c in &self.cells {
            let key = (c.client.as_str(), c.server.as_str(), c.transport);
            if !rows.contains(&key) {
                rows.push(key);
            }
        }
        let name_width = rows
            .iter()
            .map(|(c, s, _)| c.chars().count() + s.chars().count() + 3)
            .max()
            .unwrap_or(0)
            .max("client → server".chars().count());
        // Where the failing names start: the columns before them, then two spaces.
        let names_at = name_width + 1 + 9 + 1 + 5 + 1 + 4 + 1 + 4 + 2;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<name_width$} {:<9} {:>5} {:>4} {:>4}  failing",
            "client → server", "transport", "pass", "fail", "skip"
        );
        for (client, server, transport) in &rows {
            let cells: Vec<&Cell> = self
                .cells
                .iter()
                .filter(|c| c.client == *client && c.server == *server && c.transport == *transport)
                .collect();
            let n = |s| cells.iter().filter(|c| c.status == s).count();
            let failing: Vec<&str> = cells
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| c.scenario.as_str())
                .collect();
            let mut line = format!(
                "{:<name_width$} {:<9} {:>5} {:>4} {:>4}  ",
                format!("{client} → {server}"),
                transport.name(),
                format!("{}/{}", n(Status::Pass), cells.len()),
                n(Status::Fail),
                n(Status::Skip),
            );
            if failing.is_empty() {
                line.push('-');
            }
            let failing = if failing.len() == cells.len() && cells.len() > 1 {
                vec!["(all)"]
            } else {
                failing
            };
            // Wrap the failing names under their column.
            let mut first = true;
            for name in failing {
                let width = line.chars().count();
                if !first && width + 1 + name.len() > WIDTH {
                    let _ = writeln!(out, "{}", line.trim_end());
                    line = " ".repeat(names_at);
                } else if !first {
                    line.push(' ');
                }
                line.push_str(name);
                first = false;
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let failures: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for c in failures {
                let _ = writeln!(
                    out,
                    "  {} → {}/{} {}: {}",
                    c.client,
                    c.server,
                    c.transport.name(),
                    c.scenario,
                    c.reason.as_deref().unwrap_or("")
                );
            }
        }
        let skipped: BTreeSet<(&str, &str)> = self
            .cells
            .iter()
            .filter(|c| c.status == Status::Skip)
            .map(|c| (c.scenario.as_str(), c.reason.as_deref().unwrap_or("")))
            .collect();
        if !skipped.is_empty() {
            let _ = writeln!(out, "\nSkipped cells (exit 77):");
            for (scenario, why) in skipped {
                let _ = writeln!(out, "  {scenario}: {why}");
            }
        }
        if !self.unavailable.is_empty() {
            out.push('\n');
            for u in &self.unavailable {
                let _ = writeln!(out, "SKIPPED: peer {}: {}", u.peer, u.why);
            }
        }
        let _ = writeln!(
            out,
            "\n{} cells: {} passed, {} failed, {} skipped",
            self.cells.len(),
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        );
        out
    }

    /// Writes the report as JSON.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
