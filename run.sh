#!/usr/bin/env bash
# The main job: publish the NativeAOT firmware and run it on the emulated board with generated
# traffic. It logs counters every second and stops by itself (default 5 s). Options pass through
# to snic-firmware (--seconds, --flows, --rate, --workers, --board).
set -euo pipefail
cd "$(dirname "$0")"
./firmware/publish.sh linux-x64
exec ./out/firmware/linux-x64/snic-firmware --board boards/emulated/emulated.json "$@"
