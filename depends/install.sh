#!/usr/bin/env bash
# Installs the system packages mphub needs on Debian/Ubuntu, idempotently.
# It only uses the distribution's package manager and never downloads anything else.
#   capnproto, libcapnp-dev  the capnp compiler and capnp/c++.capnp (schemas import it)
#   g++, cmake, pkg-config   C++ peers and the cxx bridge
#   valgrind                 memory check of the C++ host (cxx-bridge/tests/valgrind.rs)
#   util-linux               taskset, for the pinned figures of mphub-interop bench (essential: always there)
set -euo pipefail

packages=(capnproto libcapnp-dev g++ cmake pkg-config valgrind util-linux)

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "depends: this script supports Debian/Ubuntu (apt). Install these yourself: ${packages[*]}" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        :
    else
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "depends: all present (${packages[*]})"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "depends: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "depends: installed ${missing[*]}"
capnp --version
