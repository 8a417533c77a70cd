#!/usr/bin/env bash
# The main job: `snicctl demo`. Publishes the NativeAOT firmware, builds snicctl, then starts two
# emulated cards as separate firmware processes with their agents on loopback (mutual TLS),
# enrolls them, applies examples/plans/demo.json through the agents, drives generated DASH traffic
# through both and shows live counters; it stops by itself (default 8 s) and leaves nothing
# running. Options pass through to `snicctl demo` (--seconds N).
#
#   ./run.sh firmware [options]   runs one card's firmware directly instead (options of
#                                 snic-firmware: --seconds, --flows, --rate, --workers, --plan FILE,
#                                 --stage flows|forward, --agent PORT, ...)
set -euo pipefail
cd "$(dirname "$0")"
./firmware/publish.sh linux-x64
if [[ "${1:-}" == "firmware" ]]; then
  shift
  plan=(--plan examples/plans/demo.json)
  for a in "$@"; do
    if [[ "$a" == "--plan" || "$a" == "--stage" ]]; then plan=(); fi
  done
  exec ./out/firmware/linux-x64/snic-firmware --board boards/emulated/emulated.json "${plan[@]}" "$@"
fi
dotnet build host/snicctl -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
exec dotnet host/snicctl/bin/Release/net9.0/snicctl.dll demo "$@"
