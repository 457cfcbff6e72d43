//! The `cpp-libmultiprocess` peer of mphub's interop matrix (see `doc/interop.md`).
//!
//! A C++ implementation of `schema/test` on libmultiprocess itself: `mpgen` generates the
//! proxies from `schema/test/test.capnp` and the interfaces in `cpp/include/mphub/test/`,
//! and `src/*.cpp` implement the server semantics and every client scenario on top of
//! them, the way a libmultiprocess application (Bitcoin Core) would. It is the reference
//! the other peers are held to where libmultiprocess's own behaviour is the question.
//!
//! libmultiprocess is not vendored: `build.rs` builds the executable with CMake only when
//! `MPHUB_LIBMULTIPROCESS_PREFIX` names an installed libmultiprocess prefix, e.g.
//!
//! ```text
//! MPHUB_LIBMULTIPROCESS_PREFIX=/path/to/libmultiprocess cargo build -p mphub-cpp-libmultiprocess-peer
//! ```
//!
//! The executable follows the peer contract: `serve --socket PATH`, `-ipcfd N`,
//! `client (--socket PATH [--server-pid PID] | --spawn SERVER_BIN) --scenario NAME`,
//! `client ... --bench KIND --calls N [--warmup W]`.

use std::path::PathBuf;

/// The peer's name in the interop matrix and in benchmark output (`"peer":"cpp-libmultiprocess"`).
pub const PEER_NAME: &str = "cpp-libmultiprocess";

/// Path of the `mphub-cpp-libmultiprocess-peer` executable that this package's build
/// script built, or why there is none (typically "MPHUB_LIBMULTIPROCESS_PREFIX is not
/// set ..."). The path is inside cargo's `OUT_DIR`.
pub fn peer_path() -> Result<PathBuf, String> {
    match option_env!("MPHUB_CPP_LIBMULTIPROCESS_PEER") {
        Some(path) => {
            let path = PathBuf::from(path);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!(
                    "{} was built but no longer exists; rebuild mphub-cpp-libmultiprocess-peer",
                    path.display()
                ))
            }
        }
        None => Err(option_env!("MPHUB_CPP_LIBMULTIPROCESS_PEER_UNAVAILABLE")
            .unwrap_or("mphub-cpp-libmultiprocess-peer was not built")
            .to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn availability_is_explained() {
        match super::peer_path() {
            Ok(path) => assert!(path.is_file()),
            Err(why) => assert!(!why.is_empty()),
        }
    }
}
