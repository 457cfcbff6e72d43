//! `mphub-interop`: runs the cross-language interop matrix and the IPC benchmark over
//! peer binaries that follow the contract in `doc/interop.md`.
//!
//! The harness knows nothing about a peer's language: it starts binaries, passes socket
//! paths and reads exit codes and JSON lines. [`peers::registry`] says which peers exist.
#![warn(missing_docs)]

pub mod bench;
pub mod corpus;
pub mod differential;
pub mod floor;
pub mod fuzz;
pub mod load;
pub mod matrix;
pub mod peers;
pub mod process;
