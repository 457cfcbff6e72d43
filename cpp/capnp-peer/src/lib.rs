//! The `cpp-capnp` peer of mphub's interop matrix (see `doc/interop.md`).
//!
//! An independent C++ implementation of libmultiprocess's conventions (`Init.construct`,
//! `Context`/`Thread`/`ThreadMap`, `destroy`, declared exceptions) on Cap'n Proto's own C++
//! RPC, without libmultiprocess. `build.rs` compiles the sources in `src/*.cpp` against the
//! system Cap'n Proto (`libcapnp-dev`) into one executable; this crate only tells where it is.
//!
//! The executable follows the peer contract: `serve --socket PATH`, `-ipcfd N`,
//! `client (--socket PATH | --spawn SERVER_BIN) --scenario NAME`, `--bench KIND --calls N`,
//! plus `serve-echo` / `client-echo` for Bitcoin Core's `Init.makeEcho`/`Echo.echo`.

use std::path::PathBuf;

/// The peer's name in the interop matrix and in benchmark output (`"peer":"cpp-capnp"`).
pub const PEER_NAME: &str = "cpp-capnp";

/// Path of the `mphub-cpp-capnp-peer` executable that this package's build script built
/// (inside cargo's `OUT_DIR`, so it exists whenever this crate compiled).
pub fn peer_path() -> PathBuf {
    PathBuf::from(env!("MPHUB_CPP_CAPNP_PEER"))
}
