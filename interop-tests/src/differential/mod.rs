//! Differential testing of mphub's demo node against a real `bitcoin-node`.
//!
//! ```text
//!   session.rs ── scripted IPC calls ──► demo node (in process, -mocktime)
//!        │                          └──► bitcoin-node -regtest -mocktime (MPHUB_BITCOIN_NODE)
//!        ▼
//!   Recording (JSON per step) ── compare.rs ──► divergences (step, field, expected, actual)
//!        ▲
//!   fixtures/differential/<schema>.json: the real node's recording + named normalisations
//! ```
//!
//! Sessions: `session.rs` for v31 and master (Init, Echo, Mining, BlockTemplate, Rpc),
//! `chain_session.rs` for the PR #29409 schema's Chain.
//!
//! Both nodes start from regtest genesis with the same `-mocktime`, and the session mines
//! its blocks through IPC with a fixed coinbase, so a demo node that builds templates like
//! Core ends up with the same chain, hash for hash. CI compares the demo node against the
//! fixture; with `MPHUB_BITCOIN_NODE` set the real node is run too, compared live, and
//! (with `MPHUB_DIFFERENTIAL_RECORD=1`) written back to the fixture.

pub mod chain_session;
pub mod compare;
pub mod fixture;
pub mod nodes;
pub mod session;

pub use compare::{compare, Divergence};
pub use fixture::{fixture_path, Fixture, Normalisation, Recording, Step, MOCKTIME};
