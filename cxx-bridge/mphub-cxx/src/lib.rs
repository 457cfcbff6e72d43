//! `mphub-cxx`: the schema-independent part of C++ bindings to mphub's Rust runtime.
//!
//! It knows no schema. It holds what every generated binding uses: the error type that
//! crosses into C++ ([`support::BridgeError`], `mphub::cxx::Error` in C++), the boundary
//! guard that turns panics into errors, worker threads for C++ servers, runtimes kept
//! alive for clients, servers, spawned processes and embedded servers, and the C++
//! header `<mphub/cxx/common.h>` with its compiled source.
//!
//! Bindings for a schema are generated in the user's own crate by
//! [`mphub-cxx-build`](../mphub_cxx_build/index.html), the way `cxx` splits from
//! `cxx-build`:
//!
//! ```ignore
//! // build.rs
//! mphub_cxx_build::Bindings::new("schema").file("calc.capnp").cpp_namespace("calc").build()?;
//! // src/lib.rs (crate-type = ["staticlib"])
//! mphub_cxx::bindings!();
//! ```
//!
//! The design, threading and ownership rules are in `doc/cxx-bridge.md`.
#![warn(missing_docs)]

mod core;
pub mod support;

/// Includes the bindings `mphub_cxx_build::Bindings::build` generated into `$OUT_DIR`.
///
/// `bindings!()` (at the crate root) declares module `proxies` (the Rust proxies of the
/// schema, as `mphub_build::Builder` writes them) and module `bridge` (the
/// `#[cxx::bridge]` and its glue). `bindings!(name)` declares module `name` holding both,
/// for a set built with `Bindings::module(name)`. The crate must depend on `mphub`,
/// `mphub-cxx` and `cxx`.
#[macro_export]
macro_rules! bindings {
    () => {
        $crate::bindings!(@modules "");
    };
    ($name:ident) => {
        /// C++ bindings of one schema set (module name given to `Bindings::module`).
        pub mod $name {
            $crate::bindings!(@modules concat!("/", stringify!($name)));
        }
    };
    (@modules $sub:expr) => {
        /// Rust proxies generated from the schema (clients, server traits, types).
        #[allow(missing_docs)]
        pub mod proxies {
            include!(concat!(env!("OUT_DIR"), "/mphub_cxx_bindings", $sub, "/proxies/mphub_gen.rs"));
        }

        /// The C++ bridge generated from the schema (`ffi` is the `#[cxx::bridge]`).
        #[allow(
            missing_docs,
            dead_code,
            unused_variables,
            clippy::all,
            clippy::pedantic,
            unsafe_op_in_unsafe_fn
        )]
        pub mod bridge {
            include!(concat!(env!("OUT_DIR"), "/mphub_cxx_bindings", $sub, "/bridge.rs"));
        }
    };
}
