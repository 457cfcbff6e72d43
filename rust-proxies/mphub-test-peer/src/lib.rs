//! mphub's Rust peer for `schema/test`: generated proxies, the reference server, and the
//! client side of the interop contract (`doc/interop.md`): scenarios and benchmarks.

/// Proxies generated from `schema/test/test.capnp`.
#[allow(missing_docs, clippy::all)]
pub mod test_schema {
    include!(concat!(env!("OUT_DIR"), "/test_schema/mphub_gen.rs"));
}

pub mod client;
pub mod server;
