#!/usr/bin/env bash
# Demo: installs system packages, then runs a Rust server and client over a unix socket and
# a spawned child, printing each call.
set -euo pipefail
cd "$(dirname "$0")"
./depends/install.sh
cargo build --quiet -p mphub-test-peer --bins --examples
cargo run --quiet -p mphub-test-peer --example demo
