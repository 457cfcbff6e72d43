#!/usr/bin/env bash
# Demo: installs system packages, starts mphub's built-in demo node (a Core-like Init/Echo/
# Mining server over a synthetic regtest chain) and drives it with the mphub CLI over a unix
# socket, then runs a Rust server and client of schema/test (socket and spawned child).
set -euo pipefail
cd "$(dirname "$0")"
./depends/install.sh
cargo build --quiet -p mphub-cli -p mphub-test-peer --bins --examples
mphub=target/debug/mphub

dir=$(mktemp -d)
sock="$dir/node.sock"
"$mphub" serve --socket "$sock" 2>"$dir/serve.log" &
node=$!
trap 'kill $node 2>/dev/null || true; wait $node 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "demo node did not start:"; cat "$dir/serve.log"; exit 1; }

run() {
    echo "\$ mphub $*"
    "$mphub" --connect "unix:$sock" "$@"
    echo
}
echo "== built-in demo node on $sock, driven by the mphub CLI =="
run echo "hello from mphub"
run mining tip
run mining template
run mining mine --blocks 2
run mining wait-tip --timeout 200
run rpc getblockcount

echo "== schema/test: Rust server and client (socket, then spawned child) =="
cargo run --quiet -p mphub-test-peer --example demo
