#!/usr/bin/env bash
# The whole test suite: installs system packages, checks formatting and lints, runs
# every test. Real-peer legs run when MPHUB_BITCOIN_NODE / MPHUB_LIBMULTIPROCESS_PREFIX
# are set and print "SKIPPED: <why>" otherwise.
set -euo pipefail
cd "$(dirname "$0")"
# One clean build: incremental caches would add several GB that a single run never reuses.
export CARGO_INCREMENTAL=0
./depends/install.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
