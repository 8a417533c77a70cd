#!/usr/bin/env bash
# Makes the arm64 boot root a qemu-arm64 image needs on an x86-64 host: Debian's arm64 kernel (with
# its modules, indexed by depmod), busybox-static, glibc and OpenSSL, unpacked into DIR (default
# out/boot-roots/arm64). Packages come through apt (signatures checked) with arm64 added as a
# foreign architecture. Then: snicctl image build --board qemu-arm64 --boot-root DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="${1:-out/boot-roots/arm64}"
if [[ $(id -u) -ne 0 ]]; then
  echo "arm64-root.sh: needs root (dpkg --add-architecture arm64, apt-get update)" >&2
  exit 2
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update -qq
kernel=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ { sub(/:arm64$/, "", $2); print $2; exit }')
[[ -n "$kernel" ]] || { echo "arm64-root.sh: no arm64 kernel package found" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq "$kernel:arm64" busybox-static:arm64 libc6:arm64 libssl3:arm64)
rm -rf "$root"
mkdir -p "$root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
version=$(basename "$root"/lib/modules/*)
depmod -b "$root" "$version"
echo "arm64 boot root: $root (kernel $version)"
