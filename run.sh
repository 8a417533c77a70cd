#!/usr/bin/env bash
# The main job: publish the NativeAOT firmware and run it on the emulated board: the change plan
# examples/plans/demo.json is applied and generated DASH traffic (VMs behind four ENIs and the
# remote VMs they talk to) runs through the policy pipeline. It logs counters every second and
# stops by itself (default 5 s). Options pass through to snic-firmware (--seconds, --flows,
# --rate, --workers, --board, --plan FILE; --stage flows|forward runs without a plan).
set -euo pipefail
cd "$(dirname "$0")"
./firmware/publish.sh linux-x64
plan=(--plan examples/plans/demo.json)
for a in "$@"; do
  if [[ "$a" == "--plan" || "$a" == "--stage" ]]; then plan=(); fi
done
exec ./out/firmware/linux-x64/snic-firmware --board boards/emulated/emulated.json "${plan[@]}" "$@"
