#!/usr/bin/env bash
# Publishes the NativeAOT firmware for a runtime identifier (default linux-x64) into
# out/firmware/<rid>/ and prints its size. linux-arm64 is cross-compiled (Directory.Build.targets names any missing cross tool).
set -euo pipefail
cd "$(dirname "$0")/.."
rid="${1:-linux-x64}"
out="out/firmware/$rid"
dotnet publish firmware/SnicRuntime.Firmware.csproj -c Release -r "$rid" -o "$out" -nologo -v quiet -warnaserror
size=$(stat -c %s "$out/snic-firmware")
echo "firmware: $out/snic-firmware $((size / 1024)) KiB (target <= 15 MiB)"
