//! mphub's Rust peer for `schema/test`: generated proxies and a reference implementation.

/// Proxies generated from `schema/test/test.capnp`.
#[allow(missing_docs, clippy::all)]
pub mod test_schema {
    include!(concat!(env!("OUT_DIR"), "/test_schema/mphub_gen.rs"));
}

pub mod server;
