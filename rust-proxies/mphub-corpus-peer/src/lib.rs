//! mphub's corpus: `schema/corpus` uses every construct libmultiprocess schemas use
//! (generics, `extends`, unions, groups, enums, recursion, interfaces in structs and
//! lists, several declared exceptions, in/out params of different types, `Void` and
//! `$Proxy.count(N)` params, methods without `context`, ordinals out of order, names
//! Rust reserves). This crate holds the generated bindings, the fixtures written in
//! Rust ([`fixtures`]), a reference server ([`server`]) and the client scenarios
//! ([`client`]) that the tests and the C++ legs run.
#![warn(missing_docs)]

/// Bindings generated from `schema/corpus/api/corpus.capnp` and its imports.
pub mod corpus {
    include!(concat!(env!("OUT_DIR"), "/corpus/mphub_gen.rs"));
}

pub mod client;
pub mod fixtures;
pub mod server;
