//! `mphub-cxx`: C++ bindings to mphub's Rust runtime for `schema/test`.
//!
//! Built as one static library (`libmphub_cxx.a`) plus headers. The C++ API is
//! generated at build time from `schema/test/test.capnp` by
//! [`mphub_build::CxxBuilder`](../mphub_build/struct.CxxBuilder.html) (a `#[cxx::bridge]`
//! module, compiled here through `include!`, and a C++ header/source pair, compiled by
//! `build.rs` with `cxx-gen` and `cc`). For each wrapped interface `X`:
//!
//! - `mphub::cxx::RemoteX : public mphub::test::X` calls a remote peer through the Rust
//!   client (blocking API, any thread);
//! - `mphub::cxx::XCap` hosts a C++ implementation (`std::unique_ptr<mphub::test::X>`),
//!   and `serve`/`serveFd`/`embed` serve it from the Rust runtime;
//! - `mphub::cxx::rustTestInit()` is the Rust reference implementation
//!   ([`mphub_test_peer::server::TestInitImpl`]), to serve or embed in-process.
//!
//! `build.rs` also writes a pkg-config file and a CMake package into
//! `target/<profile>/mphub-cxx/` (see `doc/cxx-bridge.md`).
#![warn(missing_docs)]

extern crate self as mphub_cxx;

mod core;
pub mod support;

/// Rust implementations offered to C++.
pub mod rust_impls {
    use std::sync::Arc;

    use mphub_test_peer::server::{Stats, TestInitImpl};
    use mphub_test_peer::test_schema::{TestInitClient, TestInitServer};

    /// The reference `TestInit` (fresh stats per call), as `mphub::cxx::rustTestInit()`.
    pub fn test_init() -> mphub::Cap<TestInitClient> {
        TestInitImpl::new(Arc::new(Stats::default())).into_cap()
    }
}

/// The bridge generated from `schema/test/test.capnp` (`ffi` is the `#[cxx::bridge]`).
#[allow(
    missing_docs,
    dead_code,
    unused_variables,
    clippy::all,
    clippy::pedantic,
    unsafe_op_in_unsafe_fn
)]
pub mod test_bridge {
    include!(concat!(env!("OUT_DIR"), "/test_cxx/bridge.rs"));
}
