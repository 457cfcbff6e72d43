//! `mphub`: talk to Bitcoin Core over its multiprocess IPC socket (`-ipcbind`), or run a
//! built-in demo node that speaks the same protocol.
//!
//! ```text
//! mphub [--connect unix[:PATH]] [--datadir DIR] [--chain CHAIN] [--core v31|master|pr29409|auto]
//!       [--debug ipc[:trace]] [--json] [--connect-timeout SECS] [--call-timeout SECS]
//!       <COMMAND>
//!
//!   echo TEXT                       Init.makeEcho + Echo.echo
//!   mining tip                      Mining.getTip
//!   mining template                 Mining.createNewBlock + BlockTemplate getters
//!   mining wait-tip [--timeout MS]  Mining.waitTipChanged (Ctrl-C / --interrupt-after: interrupt)
//!   mining interrupt                Mining.interrupt (on a fresh Mining object)
//!   mining mine [--blocks N]        createNewBlock → coinbase → grind → submitSolution
//!   rpc METHOD [ARGS...]            Init.makeRpc + Rpc.executeRpc (master nodes)
//!   chain follow [--locator-file F] [--max-events N]  Chain.handleNotifications (PR #29409)
//!   chain broadcast HEX             Chain.broadcastTransaction
//!   chain spend-coinbase --height H Chain.broadcastTransaction of an OP_TRUE coinbase spend
//!   serve [--socket PATH] [--mempool-interval-ms N]   run the demo node
//!   demo mine|reorg|add-tx|send-tx|tip  drive the demo node's chain (its .demo socket)
//! ```
//!
//! The socket is found like Core does: `--connect unix` means `<datadir>/<chain dir>/node.sock`
//! (mainnet: `<datadir>/node.sock`), `unix:PATH` a given path (relative paths against the
//! chain dir). Hashes are printed in RPC hex order (byte-reversed). Errors print one line
//! to stderr and exit with status 1.
//!
//! When started as `mphub -ipcfd N` (exactly those arguments, as Core's `spawnProcess`
//! does), it serves the demo node on the inherited socket fd `N` (schema from
//! `MPHUB_DEMO_CORE`, default `master`) until the parent disconnects.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use mphub_bitcoin::client::{Mining, Node};
use mphub_bitcoin::demo::DemoNode;
use mphub_bitcoin::CoreVersion;
use mphub_chain::{miner, BlockRef, CoinbaseTemplate, CreateOptions, DemoChain};
use serde_json::{json, Value};

mod chain_cmd;
mod demo_cmd;

/// Command-line interface for Bitcoin Core's multiprocess IPC (and a demo node).
#[derive(Parser, Debug)]
#[command(name = "mphub", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options valid before or after any subcommand.
#[derive(Args, Debug, Clone)]
struct Global {
    /// Node address: `unix` (= <datadir>/<chain dir>/node.sock) or `unix:PATH`
    /// (relative PATH: against the chain dir), as Core's -ipcbind/-ipcconnect.
    #[arg(
        long,
        global = true,
        default_value = "unix",
        value_name = "unix[:PATH]"
    )]
    connect: String,
    /// Bitcoin data directory [default: ~/.bitcoin].
    #[arg(long, global = true, value_name = "DIR")]
    datadir: Option<PathBuf>,
    /// Chain, for the socket location (like Core: main uses the datadir itself,
    /// test → testnet3/, others → <chain>/).
    #[arg(long, global = true, value_enum, default_value_t = Chain::Main)]
    chain: Chain,
    /// Schema of the node: v31, master, pr29409 (a node built from Bitcoin Core PR #29409,
    /// with Init.makeChain), or auto (detected: see Node::detect_version).
    /// For `serve`: the schema the demo node serves (auto = master).
    #[arg(long, global = true, value_enum, default_value_t = CoreChoice::Auto)]
    core: CoreChoice,
    /// Log category to stderr: `ipc` (IPC calls at debug level), `ipc:trace`, or `all`.
    /// May be repeated.
    #[arg(long, global = true, value_name = "CATEGORY")]
    debug: Vec<String>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for the node to accept the connection and answer its first call
    /// (0: forever).
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS")]
    connect_timeout: f64,
    /// Seconds any one IPC call may take before the command fails (0: no limit, the
    /// default; `mining wait-tip` also has its own `--timeout`).
    #[arg(long, global = true, default_value_t = 0.0, value_name = "SECS")]
    call_timeout: f64,
}

impl Global {
    /// The connect and call timeouts from the command line.
    fn connect_options(&self) -> Result<mphub::ConnectOptions> {
        let secs = |name: &str, v: f64| -> Result<Option<Duration>> {
            if !v.is_finite() || v < 0.0 {
                bail!("--{name} must be a number of seconds ≥ 0, got {v}");
            }
            Ok((v > 0.0).then(|| Duration::from_secs_f64(v)))
        };
        Ok(mphub::ConnectOptions {
            connect_timeout: secs("connect-timeout", self.connect_timeout)?,
            call_timeout: secs("call-timeout", self.call_timeout)?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Chain {
    Main,
    Test,
    Testnet4,
    Signet,
    Regtest,
}

impl Chain {
    fn as_str(self) -> &'static str {
        match self {
            Chain::Main => "main",
            Chain::Test => "test",
            Chain::Testnet4 => "testnet4",
            Chain::Signet => "signet",
            Chain::Regtest => "regtest",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CoreChoice {
    V31,
    Master,
    Pr29409,
    Auto,
}

impl CoreChoice {
    fn version(self) -> Option<CoreVersion> {
        match self {
            CoreChoice::V31 => Some(CoreVersion::V31),
            CoreChoice::Master => Some(CoreVersion::Master),
            CoreChoice::Pr29409 => Some(CoreVersion::Pr29409),
            CoreChoice::Auto => None,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Init.makeEcho + Echo.echo: the node sends TEXT back.
    Echo {
        /// Text to echo.
        text: String,
    },
    /// Mining interface commands.
    Mining {
        #[command(subcommand)]
        command: MiningCommand,
    },
    /// JSON-RPC over IPC (Init.makeRpc + Rpc.executeRpc; Bitcoin Core master only).
    /// Arguments are parsed as JSON when possible, else passed as strings.
    Rpc {
        /// RPC method, e.g. getblockcount.
        method: String,
        /// Positional parameters.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The wallet's Chain interface (Init.makeChain; nodes built from Bitcoin Core PR
    /// #29409, or `mphub serve --core pr29409`).
    Chain {
        #[command(subcommand)]
        command: chain_cmd::ChainCommand,
    },
    /// Drive the chain of a running `mphub serve` (mine, reorg, mempool) through its
    /// control socket, <socket>.demo.
    Demo {
        #[command(subcommand)]
        command: demo_cmd::DemoCommand,
    },
    /// Run the built-in demo node (synthetic regtest chain) on a unix socket until
    /// SIGINT/SIGTERM, with its control socket at <socket>.demo (`mphub demo`). The schema
    /// is chosen with --core (auto = master).
    Serve {
        /// Socket path [default: the --connect/--datadir/--chain location].
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Add a synthetic mempool transaction every N ms (0: never).
        #[arg(long, value_name = "N", default_value_t = 5000)]
        mempool_interval_ms: u64,
    },
    /// Run the schema/test interop matrix (doc/interop.md): runs the separate
    /// `mphub-interop matrix` program (found next to `mphub` or on PATH) with ARGS, so
    /// installing the CLI builds no test peer. Fails when any cell fails.
    Interop {
        /// Arguments for `mphub-interop matrix` (e.g. `--json FILE`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MiningCommand {
    /// Mining.getTip: height and hash of the tip.
    Tip,
    /// Mining.createNewBlock and the BlockTemplate getters.
    Template {
        /// Coinbase-only template (BlockCreateOptions.useMempool = false).
        #[arg(long)]
        no_mempool: bool,
    },
    /// Mining.waitTipChanged from the current tip; prints the tip afterwards (the same tip
    /// after a timeout). Ctrl-C sends Mining.interrupt on the same Mining object.
    WaitTip {
        /// Timeout in milliseconds [default: wait forever].
        #[arg(long, value_name = "MS")]
        timeout: Option<f64>,
        /// Send Mining.interrupt after MS milliseconds.
        #[arg(long, value_name = "MS")]
        interrupt_after: Option<u64>,
    },
    /// Mining.interrupt. As in Core the interrupt belongs to one Mining object, so from a
    /// separate process this only exercises the call (it does not stop other clients' waits).
    Interrupt,
    /// Mine blocks through IPC: createNewBlock → coinbase from getCoinbaseTx → merkle root
    /// from getCoinbaseMerklePath → grind the nonce → submitSolution. Regtest difficulty only.
    Mine {
        /// Number of blocks.
        #[arg(long, default_value_t = 1)]
        blocks: u32,
        /// Payout scriptPubKey, hex (51 is OP_TRUE).
        #[arg(long, value_name = "HEX", default_value = "51")]
        payout_script: String,
    },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, fd] = args.as_slice() {
        if flag == "-ipcfd" {
            return finish(serve_ipcfd(fd));
        }
    }
    let cli = Cli::parse();
    finish(run(cli))
}

fn finish(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("mphub: error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(debug: &[String], default: &str) -> Result<()> {
    let mut directives = Vec::new();
    for d in debug {
        for part in d.split(',') {
            directives.push(match part.trim() {
                "ipc" => "ipc=debug".to_string(),
                "ipc:trace" => "ipc=trace".to_string(),
                "1" | "all" => "debug".to_string(),
                "0" | "none" => continue,
                other => {
                    bail!("unknown --debug category '{other}' (expected ipc, ipc:trace or all)")
                }
            });
        }
    }
    let filter = if directives.is_empty() {
        default.to_string()
    } else {
        directives.join(",")
    };
    if filter.is_empty() {
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .try_init()
        .map_err(|e| anyhow!("cannot set up logging: {e}"))
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting tokio")
}

fn run(cli: Cli) -> Result<()> {
    let default_log = if matches!(cli.command, Command::Serve { .. }) {
        "ipc=info,mphub=info"
    } else {
        ""
    };
    init_logging(&cli.global.debug, default_log)?;
    let tokio = tokio_runtime()?;
    let rt = mphub::Runtime::new().context("starting the mphub runtime")?;
    let g = cli.global;
    tokio.block_on(async {
        match cli.command {
            Command::Interop { args } => interop(&args),
            Command::Serve {
                socket,
                mempool_interval_ms,
            } => serve(&g, &rt, socket, mempool_interval_ms).await,
            Command::Echo { text } => {
                let node = connect(&g, &rt).await?;
                let reply = node
                    .echo(text)
                    .await
                    .map_err(|e| ipc_error(e, "Echo.echo"))?;
                if g.json {
                    print_json(&json!({ "result": reply.to_string_lossy() }))
                } else {
                    print_line(&reply.to_string_lossy())
                }
            }
            Command::Chain { command } => chain_cmd::run(&g, &rt, command).await,
            Command::Demo { command } => demo_cmd::run(&g, &rt, command).await,
            Command::Rpc { method, args } => {
                let node = connect(&g, &rt).await?;
                rpc(&g, &node, &method, &args).await
            }
            Command::Mining { command } => {
                let node = connect(&g, &rt).await?;
                let mining = node.mining().await.map_err(|e| match e {
                    mphub::Error::Unimplemented(_) => anyhow!(
                        "the node has no Init.makeMining @3: Bitcoin Core before v31 (v29/v30 schema) is not supported"
                    ),
                    other => ipc_error(other, "Init.makeMining"),
                })?;
                match command {
                    MiningCommand::Tip => tip(&g, &mining).await,
                    MiningCommand::Template { no_mempool } => {
                        template(&g, &mining, no_mempool).await
                    }
                    MiningCommand::WaitTip {
                        timeout,
                        interrupt_after,
                    } => wait_tip(&g, &mining, timeout, interrupt_after).await,
                    MiningCommand::Interrupt => {
                        mining
                            .interrupt()
                            .await
                            .map_err(|e| ipc_error(e, "Mining.interrupt"))?;
                        if g.json {
                            print_json(&json!({ "interrupted": true }))
                        } else {
                            print_line("interrupt sent")
                        }
                    }
                    MiningCommand::Mine {
                        blocks,
                        payout_script,
                    } => mine(&g, &mining, blocks, &payout_script).await,
                }
            }
        }
    })
}

/// `mphub interop`: runs `mphub-interop matrix ARGS`, the interop harness (crate
/// `mphub-interop`, which builds the C++ test peers), as a separate program.
fn interop(args: &[String]) -> Result<()> {
    let program = interop_program().ok_or_else(|| {
        anyhow!(
            "mphub-interop is not installed (it is not next to mphub nor on PATH); from the \
             mphub source tree run `cargo run -p mphub-interop -- matrix`, or install it with \
             `cargo install --path interop-tests`"
        )
    })?;
    let status = std::process::Command::new(&program)
        .arg("matrix")
        .args(args)
        .status()
        .with_context(|| format!("running {}", program.display()))?;
    if !status.success() {
        bail!("{} matrix failed ({status})", program.display());
    }
    Ok(())
}

/// `mphub-interop` next to this executable (a cargo target folder or an install
/// folder), else the first one on PATH.
fn interop_program() -> Option<PathBuf> {
    let name = "mphub-interop";
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file());
    beside.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

// ---------------------------------------------------------------------------------------
// Connection and errors.

fn datadir(g: &Global) -> Result<PathBuf> {
    match &g.datadir {
        Some(d) => Ok(d.clone()),
        None => std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".bitcoin"))
            .ok_or_else(|| anyhow!("HOME is not set; pass --datadir")),
    }
}

fn socket_path(g: &Global) -> Result<PathBuf> {
    let dir = datadir(g)?;
    mphub::resolve_unix_address(&g.connect, &dir, g.chain.as_str())
        .map_err(|e| anyhow!("--connect {}: {e}", g.connect))
}

async fn connect(g: &Global, rt: &mphub::Runtime) -> Result<Node> {
    let path = socket_path(g)?;
    Node::connect_with(rt, &path, g.core.version(), g.connect_options()?)
        .await
        .map_err(|e| match e {
            mphub::Error::Io(io) => {
                let detail = io.to_string();
                let prefix = format!("connecting to {}: ", path.display());
                let detail = detail.strip_prefix(&prefix).unwrap_or(&detail).to_string();
                // No server behind the path: the likely cause is a node without IPC.
                let hint = match io.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        " (is the node running with -ipcbind=unix?)"
                    }
                    _ => "",
                };
                anyhow!("cannot connect to unix:{}: {detail}{hint}", path.display())
            }
            other => ipc_error(other, &format!("connecting to unix:{}", path.display())),
        })
}

/// One readable line for an IPC failure of `what`.
fn ipc_error(e: mphub::Error, what: &str) -> anyhow::Error {
    match &e {
        mphub::Error::Remote { .. } => {
            let message = e.remote_what().unwrap_or_default();
            // Core v30.99 (the v31 schema) cannot build a template below height 17.
            let hint = if message.contains("bad-cb-length") {
                " (a v31 node builds no template below height 17, a Core defect: mine 17 \
                 blocks first, e.g. `bitcoin-cli -regtest generatetodescriptor 17 'raw(51)'`)"
            } else {
                ""
            };
            anyhow!("{what} failed on the node: {message}{hint}")
        }
        mphub::Error::Unimplemented(m) => anyhow!(
            "{what}: the node does not implement this method ({m}); is --core right for this node?"
        ),
        mphub::Error::Disconnected(m) => anyhow!("{what}: disconnected from the node ({m})"),
        // Already a whole sentence naming the call.
        mphub::Error::Usage(m) => anyhow!("{m}"),
        other => anyhow!("{what}: {other}"),
    }
}

fn print_line(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}").context("writing to stdout")
}

fn print_json(v: &Value) -> Result<()> {
    print_line(&serde_json::to_string_pretty(v).context("encoding JSON")?)
}

fn rpc_hex(hash: [u8; 32]) -> String {
    miner::hash_to_rpc_hex(hash)
}

fn tip_json(tip: &BlockRef) -> Value {
    json!({ "height": tip.height, "hash": rpc_hex(tip.hash) })
}

// ---------------------------------------------------------------------------------------
// Mining commands.

async fn current_tip(mining: &Mining) -> Result<BlockRef> {
    mining
        .tip()
        .await
        .map_err(|e| ipc_error(e, "Mining.getTip"))?
        .ok_or_else(|| anyhow!("the node has no tip yet (still loading?)"))
}

async fn tip(g: &Global, mining: &Mining) -> Result<()> {
    let tip = current_tip(mining).await?;
    if g.json {
        let mut v = tip_json(&tip);
        v["core"] = json!(mining.version().as_str());
        print_json(&v)
    } else {
        print_line(&format!(
            "height: {}\nhash: {}",
            tip.height,
            rpc_hex(tip.hash)
        ))
    }
}

/// Height from a BIP34 coinbase prefix (`CScript() << height`).
fn bip34_height(prefix: &[u8]) -> Option<i64> {
    let (&op, rest) = prefix.split_first()?;
    match op {
        0x00 => Some(0),
        0x51..=0x60 => Some(i64::from(op) - 0x50),
        1..=8 => {
            let bytes = rest.get(..usize::from(op))?;
            let mut v: i64 = 0;
            for (i, b) in bytes.iter().enumerate() {
                v |= i64::from(*b) << (8 * i);
            }
            // CScriptNum: the top bit of the last byte is the sign.
            let last = *bytes.last()?;
            if last & 0x80 != 0 {
                v &= !(0x80i64 << (8 * (bytes.len() - 1)));
                v = -v;
            }
            Some(v)
        }
        _ => None,
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// `Mining.createNewBlock` (no cooldown) and the template's 80-byte header.
async fn new_template(
    mining: &Mining,
    opts: CreateOptions,
) -> Result<(mphub_bitcoin::client::Template, Vec<u8>)> {
    let tmpl = mining
        .create_new_block(opts, false)
        .await
        .map_err(|e| ipc_error(e, "Mining.createNewBlock"))?
        .ok_or_else(|| {
            anyhow!(
                "Mining.createNewBlock returned no template (node shutting down or interrupted)"
            )
        })?;
    let header = tmpl
        .header()
        .await
        .map_err(|e| ipc_error(e, "BlockTemplate.getBlockHeader"))?;
    if header.len() != 80 {
        bail!(
            "BlockTemplate.getBlockHeader returned {} bytes, expected 80",
            header.len()
        );
    }
    Ok((tmpl, header))
}

/// The sum of per-transaction numbers the node sent (`what`: "fees", "sigops").
///
/// # Errors
/// When the sum does not fit an `i64`: no real template comes near it, so the node's
/// data is wrong.
fn node_total(what: &str, values: &[i64]) -> Result<i64> {
    values
        .iter()
        .try_fold(0i64, |sum, v| sum.checked_add(*v))
        .ok_or_else(|| anyhow!("the node's per-transaction {what} overflow a 64-bit total"))
}

async fn template(g: &Global, mining: &Mining, no_mempool: bool) -> Result<()> {
    let tip = current_tip(mining).await?;
    let opts = CreateOptions {
        use_mempool: !no_mempool,
        ..CreateOptions::default()
    };
    let (tmpl, header) = new_template(mining, opts).await?;
    let fees = tmpl
        .tx_fees()
        .await
        .map_err(|e| ipc_error(e, "BlockTemplate.getTxFees"))?;
    let sigops = tmpl
        .tx_sigops()
        .await
        .map_err(|e| ipc_error(e, "BlockTemplate.getTxSigops"))?;
    let cb = tmpl
        .coinbase_tx()
        .await
        .map_err(|e| ipc_error(e, "BlockTemplate.getCoinbaseTx"))?;
    let path = tmpl
        .coinbase_merkle_path()
        .await
        .map_err(|e| ipc_error(e, "BlockTemplate.getCoinbaseMerklePath"))?;
    let mut prev = [0u8; 32];
    prev.copy_from_slice(&header[4..36]);
    let height = bip34_height(&cb.script_sig_prefix).unwrap_or(i64::from(tip.height) + 1);
    let total_fees = node_total("fees", &fees)?;
    let total_sigops = node_total("sigops", &sigops)?;
    let v = json!({
        "core": mining.version().as_str(),
        "height": height,
        "prev_hash": rpc_hex(prev),
        "version": le_u32(&header, 0),
        "time": le_u32(&header, 68),
        "bits": format!("{:08x}", le_u32(&header, 72)),
        "tx_count": fees.len(),
        "fees": total_fees,
        "sigops": total_sigops,
        "tx_fees": fees,
        "header": hex::encode(&header),
        "coinbase": coinbase_json(&cb),
        "merkle_path": path.iter().map(|h| rpc_hex(*h)).collect::<Vec<_>>(),
    });
    if g.json {
        return print_json(&v);
    }
    let mut lines = vec![
        format!("height: {height}"),
        format!("prev_hash: {}", rpc_hex(prev)),
        format!("version: {:#010x}", le_u32(&header, 0)),
        format!("time: {}", le_u32(&header, 68)),
        format!("bits: {:08x}", le_u32(&header, 72)),
        format!("tx_count: {} (coinbase excluded)", fees.len()),
        format!("fees: {total_fees} sat"),
        format!("sigops: {total_sigops}"),
        format!("header: {}", hex::encode(&header)),
        format!("coinbase.version: {}", cb.version),
        format!("coinbase.sequence: {:#010x}", cb.sequence),
        format!(
            "coinbase.script_sig_prefix: {}",
            hex::encode(&cb.script_sig_prefix)
        ),
        format!(
            "coinbase.witness: {}",
            cb.witness
                .map(hex::encode)
                .unwrap_or_else(|| "(none)".into())
        ),
        format!(
            "coinbase.block_reward_remaining: {} sat",
            cb.block_reward_remaining
        ),
    ];
    for (i, o) in cb.required_outputs.iter().enumerate() {
        lines.push(format!(
            "coinbase.required_outputs[{i}]: {}",
            hex::encode(o)
        ));
    }
    lines.push(format!("coinbase.lock_time: {}", cb.lock_time));
    for (i, h) in path.iter().enumerate() {
        lines.push(format!("merkle_path[{i}]: {}", rpc_hex(*h)));
    }
    print_line(&lines.join("\n"))
}

fn coinbase_json(cb: &CoinbaseTemplate) -> Value {
    json!({
        "version": cb.version,
        "sequence": cb.sequence,
        "script_sig_prefix": hex::encode(&cb.script_sig_prefix),
        "witness": cb.witness.map(hex::encode),
        "block_reward_remaining": cb.block_reward_remaining,
        "required_outputs": cb.required_outputs.iter().map(hex::encode).collect::<Vec<_>>(),
        "lock_time": cb.lock_time,
    })
}

async fn wait_tip(
    g: &Global,
    mining: &Mining,
    timeout: Option<f64>,
    interrupt_after: Option<u64>,
) -> Result<()> {
    let start = current_tip(mining).await?;
    let timeout_ms = timeout.unwrap_or(f64::MAX);
    if timeout_ms.is_nan() || timeout_ms < 0.0 {
        bail!("--timeout must be a non-negative number of milliseconds");
    }
    let wait = mining.wait_tip_changed(start.hash, timeout_ms);
    tokio::pin!(wait);
    let interrupter = async {
        match interrupt_after {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
        mining.interrupt().await
    };
    let result = tokio::select! {
        r = &mut wait => r,
        sent = interrupter => {
            sent.map_err(|e| ipc_error(e, "Mining.interrupt"))?;
            wait.await
        }
    }
    .map_err(|e| ipc_error(e, "Mining.waitTipChanged"))?;
    match result {
        Some(tip) => {
            let changed = tip.hash != start.hash;
            if g.json {
                let mut v = tip_json(&tip);
                v["changed"] = json!(changed);
                v["interrupted"] = json!(false);
                print_json(&v)
            } else {
                print_line(&format!(
                    "height: {}\nhash: {}\nchanged: {changed}",
                    tip.height,
                    rpc_hex(tip.hash)
                ))
            }
        }
        None => {
            if g.json {
                print_json(&json!({ "interrupted": true, "changed": false }))
            } else {
                print_line("interrupted (the node returned an empty tip)")
            }
        }
    }
}

async fn mine(g: &Global, mining: &Mining, blocks: u32, payout_hex: &str) -> Result<()> {
    let payout = hex::decode(payout_hex).context("--payout-script is not hex")?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut mined = Vec::new();
    for i in 0..blocks {
        let (tmpl, header) = new_template(mining, CreateOptions::default()).await?;
        let bits = le_u32(&header, 72);
        if bits != mphub_chain::demo::REGTEST_BITS {
            bail!("`mining mine` only grinds regtest-difficulty blocks (bits 207fffff); this template has bits {bits:08x}");
        }
        let cb = tmpl
            .coinbase_tx()
            .await
            .map_err(|e| ipc_error(e, "BlockTemplate.getCoinbaseTx"))?;
        let path = tmpl
            .coinbase_merkle_path()
            .await
            .map_err(|e| ipc_error(e, "BlockTemplate.getCoinbaseMerklePath"))?;
        let extranonce = seed.wrapping_add(i).to_le_bytes();
        let coinbase = miner::build_coinbase(&cb, &extranonce, &payout);
        let root = miner::merkle_root_from_path(miner::txid_of(&coinbase)?, &path);
        let solved = miner::solve_header(&header, root)?;
        let height = bip34_height(&cb.script_sig_prefix);
        let r = tmpl
            .submit_solution(solved.version, solved.timestamp, solved.nonce, coinbase)
            .await
            .map_err(|e| ipc_error(e, "BlockTemplate.submitSolution"))?;
        if !r.accepted {
            bail!(
                "block {} rejected by the node: {} {}",
                rpc_hex(solved.block_hash),
                r.reason,
                r.debug
            );
        }
        if !g.json {
            print_line(&format!(
                "mined block {} at height {}",
                rpc_hex(solved.block_hash),
                height.map(|h| h.to_string()).unwrap_or_else(|| "?".into())
            ))?;
        }
        mined.push(json!({ "height": height, "hash": rpc_hex(solved.block_hash) }));
    }
    let tip = current_tip(mining).await?;
    if g.json {
        print_json(&json!({
            "core": mining.version().as_str(),
            "blocks": mined,
            "tip": tip_json(&tip),
        }))
    } else {
        print_line(&format!(
            "tip: height {} hash {}",
            tip.height,
            rpc_hex(tip.hash)
        ))
    }
}

// ---------------------------------------------------------------------------------------
// JSON-RPC over IPC.

async fn rpc(g: &Global, node: &Node, method: &str, args: &[String]) -> Result<()> {
    let client = node.rpc().await.map_err(|e| match e {
        mphub::Error::Unimplemented(_) | mphub::Error::Usage(_) => anyhow!(
            "this node has no Init.makeRpc (a v31 or PR #29409 node); JSON-RPC over IPC needs Bitcoin Core master"
        ),
        other => ipc_error(other, "Init.makeRpc"),
    })?;
    let params: Vec<Value> = args
        .iter()
        .map(|a| serde_json::from_str(a).unwrap_or_else(|_| Value::String(a.clone())))
        .collect();
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let reply = client
        .execute_rpc(request.to_string(), "/", "mphub")
        .await
        .map_err(|e| ipc_error(e, "Rpc.executeRpc"))?;
    let reply = reply.to_string_lossy();
    let parsed: Value = serde_json::from_str(&reply)
        .with_context(|| format!("the node's JSON-RPC reply is not JSON: {reply}"))?;
    if g.json {
        print_json(&parsed)?;
    }
    if let Some(err) = parsed.get("error").filter(|e| !e.is_null()) {
        let code = err.get("code").cloned().unwrap_or(Value::Null);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)");
        bail!("RPC {method} failed: error code {code}: {message}");
    }
    if g.json {
        return Ok(());
    }
    match parsed.get("result") {
        Some(Value::String(s)) => print_line(s),
        Some(Value::Null) | None => Ok(()),
        Some(v) => print_json(v),
    }
}

// ---------------------------------------------------------------------------------------
// The demo node.

async fn serve(
    g: &Global,
    rt: &mphub::Runtime,
    socket: Option<PathBuf>,
    mempool_interval_ms: u64,
) -> Result<()> {
    let version = g.core.version().unwrap_or(CoreVersion::Master);
    let path = match socket {
        Some(p) => p,
        None => socket_path(g)?,
    };
    let node = DemoNode::new(DemoChain::new(), version);
    let _feeder = (mempool_interval_ms > 0)
        .then(|| node.start_mempool_feeder(Duration::from_millis(mempool_interval_ms)));
    let listener = node
        .listen(rt, &path)
        .map_err(|e| anyhow!("cannot listen on unix:{}: {e}", path.display()))?;
    let control_path = mphub_bitcoin::demo::control_socket_path(&path);
    let control = node
        .listen_control(rt, &control_path)
        .map_err(|e| anyhow!("cannot listen on unix:{}: {e}", control_path.display()))?;
    eprintln!(
        "mphub: demo node (Bitcoin Core {version} schema, synthetic regtest chain) listening on unix:{} (control: unix:{})",
        path.display(),
        control_path.display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    drop(listener);
    drop(control);
    eprintln!("mphub: shutting down");
    Ok(())
}

fn serve_ipcfd(fd: &str) -> Result<()> {
    let fd: std::os::fd::RawFd = fd
        .parse()
        .map_err(|_| anyhow!("-ipcfd expects a file descriptor number, got '{fd}'"))?;
    let version = match std::env::var("MPHUB_DEMO_CORE") {
        Ok(v) => v.parse::<CoreVersion>()?,
        Err(_) => CoreVersion::Master,
    };
    let tokio = tokio_runtime()?;
    let rt = mphub::Runtime::new().context("starting the mphub runtime")?;
    let node = DemoNode::new(DemoChain::new(), version);
    // SAFETY: `-ipcfd N` is how a parent (Bitcoin Core's convention) passes this
    // process its IPC socket; nothing else here uses that fd, so it is ours to own.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    tokio.block_on(node.serve_fd(&rt, fd))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip34_heights() {
        assert_eq!(bip34_height(&[0x51]), Some(1));
        assert_eq!(bip34_height(&[0x60]), Some(16));
        assert_eq!(bip34_height(&[0x01, 0x66]), Some(102));
        assert_eq!(bip34_height(&[0x02, 0x80, 0x00]), Some(128));
        assert_eq!(bip34_height(&[]), None);
    }

    /// (issue 9, defect 10) Fees and sigops come from the node: their sum must not
    /// overflow (a panic in debug builds, a wrong total in release ones).
    #[test]
    fn node_supplied_totals_do_not_overflow() {
        assert_eq!(node_total("fees", &[1, 2, 3]).unwrap(), 6);
        let e = node_total("fees", &[i64::MAX, 1]).unwrap_err().to_string();
        assert!(e.contains("fees") && e.contains("overflow"), "{e}");
        assert!(node_total("sigops", &[i64::MIN, -1]).is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
