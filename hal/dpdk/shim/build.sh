#!/usr/bin/env bash
# Builds libsnic_dpdk.so (the DPDK driver's C shim) against the system's libdpdk, found with
# pkg-config, into the directory given (default: hal/dpdk/shim/out). Without libdpdk it says so and
# exits 0: the rest of SnicRuntime builds, and the DPDK driver reports what is missing at start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/out}"
if ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "snic_dpdk: libdpdk not found by pkg-config (Debian: libdpdk-dev); the DPDK driver is left out" >&2
  exit 0
fi
mkdir -p "$out"
cc -O2 -g -fPIC -shared -Wall -Wextra -Werror -o "$out/libsnic_dpdk.so" "$here/snic_dpdk.c" \
  $(pkg-config --cflags libdpdk) $(pkg-config --libs libdpdk)
echo "snic_dpdk: $out/libsnic_dpdk.so (DPDK $(pkg-config --modversion libdpdk))"
