//! The peer registry: which peer binaries exist on this machine.
//!
//! To add or re-wire a peer, change [`registry`]; nothing else knows peer names.

use std::path::{Path, PathBuf};

/// One implementation of `schema/test` (a peer binary following `doc/interop.md`).
#[derive(Clone, Debug)]
pub struct Peer {
    /// Short name used on the command line and in reports (`rust`, `cpp-capnp`, ...).
    pub name: &'static str,
    /// The binary, or why this peer cannot run here.
    pub binary: Result<PathBuf, String>,
}

impl Peer {
    /// The binary, when available.
    pub fn path(&self) -> Option<&Path> {
        self.binary.as_deref().ok()
    }
}

/// Every known peer, available or not, in report order.
pub fn registry() -> Vec<Peer> {
    vec![
        Peer {
            name: "rust",
            binary: rust_peer(),
        },
        Peer {
            name: "cpp-capnp",
            // Built by cpp/capnp-peer's build script on every machine.
            binary: env_override("MPHUB_PEER_CPP_CAPNP")
                .unwrap_or_else(|| existing(mphub_cpp_capnp_peer::peer_path(), "cpp/capnp-peer")),
        },
        Peer {
            name: "cpp-libmultiprocess",
            // Built by cpp/libmultiprocess-peer's build script when
            // MPHUB_LIBMULTIPROCESS_PREFIX was set at build time.
            binary: env_override("MPHUB_PEER_CPP_LIBMULTIPROCESS").unwrap_or_else(|| {
                mphub_cpp_libmultiprocess_peer::peer_path()
                    .and_then(|p| existing(p, "cpp/libmultiprocess-peer"))
            }),
        },
        Peer {
            name: "cpp-embedded-rust",
            // cpp/host, built with CMake against mphub-cxx-test by `cargo test -p mphub-cxx-test`.
            binary: env_override("MPHUB_PEER_CPP_EMBEDDED_RUST")
                .unwrap_or_else(cpp_embedded_rust_peer),
        },
    ]
}

/// `<profile>/mphub-cxx-host-build/mphub-cxx-host`, where mphub-cxx-test's tests build cpp/host.
fn cpp_embedded_rust_peer() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let path = dir.join("mphub-cxx-host-build").join("mphub-cxx-host");
    existing(path, "cpp/host (run `cargo test -p mphub-cxx-test --test host` to build it, or set MPHUB_PEER_CPP_EMBEDDED_RUST)")
}

/// Looks a peer up by name.
pub fn find(name: &str) -> Option<Peer> {
    registry().into_iter().find(|p| p.name == name)
}

/// A binary named by `var`, when set: it overrides the built-in peer.
fn env_override(var: &str) -> Option<Result<PathBuf, String>> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(existing(PathBuf::from(v), var)),
        _ => None,
    }
}

fn existing(path: PathBuf, from: &str) -> Result<PathBuf, String> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{from} names {}, which does not exist",
            path.display()
        ))
    }
}

const RUST_PEER_BIN: &str = "mphub-test-peer";

/// `MPHUB_PEER_RUST`, else `mphub-test-peer` next to this executable (or next to its
/// `deps/` folder for test binaries), else the other cargo profile's folder.
pub(crate) fn rust_peer() -> Result<PathBuf, String> {
    workspace_binary(RUST_PEER_BIN, "MPHUB_PEER_RUST")
}

/// The `mphub` CLI (its `serve` is the demo node): `MPHUB_CLI`, else found like
/// [`rust_peer`].
pub fn cli_binary() -> Result<PathBuf, String> {
    workspace_binary("mphub", "MPHUB_CLI")
}

/// A binary of this workspace: `$env_var`, else `name` next to this executable (or its
/// `deps/` folder's parent), else in the other cargo profile's folder.
fn workspace_binary(name: &str, env_var: &str) -> Result<PathBuf, String> {
    if let Some(v) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        return existing(PathBuf::from(v), env_var);
    }
    let missing =
        || format!("{name} is not built; run `cargo build --workspace` (or set {env_var})");
    let exe = std::env::current_exe().map_err(|e| format!("{}: {e}", missing()))?;
    let mut dir = exe.parent().map(Path::to_path_buf).ok_or_else(missing)?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let mut candidates = vec![dir.join(name)];
    if let (Some(profile), Some(target)) = (dir.file_name(), dir.parent()) {
        for other in ["release", "debug"] {
            if profile != other {
                candidates.push(target.join(other).join(name));
            }
        }
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .ok_or_else(missing)
}

/// True when `path` looks like a cargo debug build (for the bench's warning).
pub fn is_debug_build(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "debug")
}
