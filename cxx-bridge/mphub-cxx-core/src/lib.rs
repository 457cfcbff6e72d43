//! `mphub-cxx-core`: Bitcoin Core's IPC interfaces for C++ programs, on mphub's Rust
//! runtime (no libmultiprocess, no Cap'n Proto C++).
//!
//! The static library `libmphub_cxx_core.a` holds, for each schema version:
//! - `<mphub/core/v31.h>` / `<mphub/core/master.h>`: the generated C++ API (types in
//!   `mphub::core::<version>`, e.g. `Mining`, `BlockTemplate`, `BlockRef`, and clients
//!   `RemoteInit`, `connectInit(path)`, ...), generated from `schema/bitcoin/<version>`;
//! - `<mphub/core/node.h>`: a facade (`mphub::core::Node`) that connects, detects the
//!   node's schema version the way `mphub_bitcoin::client::Node` does, and offers the
//!   mining workflow in version-independent types, plus `mphub::core::regtest::solve` to
//!   grind a regtest block for a template.
//!
//! `cargo build -p mphub-cxx-core` exports `target/<profile>/mphub-cxx-core/` (headers,
//! `lib/pkgconfig/mphub-cxx-core.pc`, `lib/cmake/mphub-cxx-core/`).
#![warn(missing_docs)]

mphub_cxx::bindings!(v31);
mphub_cxx::bindings!(master);

mod regtest;
