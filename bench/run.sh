#!/usr/bin/env bash
# Peer benchmarks: ours and the peer in the same run, on the same inputs, with the ratio.
#   ./bench/run.sh flowtable   flow table bulk lookup vs DPDK rte_hash_lookup_bulk
# Installs what it needs (Debian's libdpdk-dev, pkg-config, gcc), builds, runs, prints one line
# per case and writes the figures as JSON under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-}"
if [[ "$what" != "flowtable" && "$what" != "lpm" ]]; then
  echo "usage: bench/run.sh flowtable|lpm" >&2
  exit 2
fi

need=()
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v gcc >/dev/null || need+=(gcc)
pkg-config --exists libdpdk 2>/dev/null || need+=(libdpdk-dev)
if ((${#need[@]})); then
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p bench/peers/out bench/results
for p in rte_hash_peer rte_lpm_peer; do
  gcc -O3 -march=native -Wall "bench/peers/$p.c" $(pkg-config --cflags --libs libdpdk) -o "bench/peers/out/$p"
done
dotnet build bench/SnicRuntime.Bench -c Release -nologo -v quiet
ours="bench/SnicRuntime.Bench/bin/Release/net10.0/SnicRuntime.Bench.dll"
peer="bench/peers/out/rte_hash_peer"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

if [[ "$what" == "lpm" ]]; then
  # One run per side: rte_lpm_add is quadratic in rules per depth, so the peer's setup alone
  # takes minutes at 1M routes. The found counts must agree (same routes, same keys).
  json="bench/results/lpm.json"
  o=$(dotnet "$ours" lpm-peer --routes 1000000)
  p=$(bench/peers/out/rte_lpm_peer --routes 1000000 2>/dev/null | grep ns_per_lookup)
  ons=$(echo "$o" | field ns_per_lookup); pns=$(echo "$p" | field ns_per_lookup)
  ofound=$(echo "$o" | field found); pfound=$(echo "$p" | field found)
  ratio=$(awk -v a="$ons" -v b="$pns" 'BEGIN { printf "%.2f", a / b }')
  echo "lpm ipv4-1M-routes ours_ns=$ons peer_ns=$pns ratio=$ratio found_ours=$ofound found_peer=$pfound"
  printf '[\n  {"case": "ipv4-1M-routes", "ours_ns": %s, "peer_ns": %s, "ratio": %s, "found_ours": %s, "found_peer": %s}\n]\n' \
    "$ons" "$pns" "$ratio" "$ofound" "$pfound" > "$json"
  [[ "$ofound" == "$pfound" ]] || { echo "lpm: ours and rte_lpm disagree on how many keys have a route" >&2; exit 1; }
  echo "written: $json (random keys, bursts of 32, 16M lookups; target ratio <= 1.0)"
  exit 0
fi
json="bench/results/flowtable.json"
echo "[" > "$json.tmp"
first=1
for flows in 1000000 4000000; do
  for key in 16 40; do
    for kind in hit miss; do
      extra=()
      [[ "$kind" == miss ]] && extra=(--miss)
      # Three runs of each side, interleaved, and the median of each: this 2-core machine is
      # noisy enough that a single pair of runs can be off by half.
      os=() ps=()
      for rep in 1 2 3; do
        o=$(dotnet "$ours" flowtable-peer --flows "$flows" --key "$key" "${extra[@]}")
        p=$("$peer" --flows "$flows" --key "$key" "${extra[@]}" 2>/dev/null | grep ns_per_lookup)
        os+=("$(echo "$o" | field ns_per_lookup)")
        ps+=("$(echo "$p" | field ns_per_lookup)")
      done
      ons=$(printf '%s\n' "${os[@]}" | sort -g | sed -n 2p)
      pns=$(printf '%s\n' "${ps[@]}" | sort -g | sed -n 2p)
      bpf=$(echo "$o" | field bytes_per_flow)
      ratio=$(awk -v a="$ons" -v b="$pns" 'BEGIN { printf "%.2f", a / b }')
      case="${flows}flows-${key}B-${kind}"
      echo "flowtable $case ours_ns=$ons rte_hash_ns=$pns ratio=$ratio bytes_per_flow=$bpf"
      ((first)) || echo "," >> "$json.tmp"
      first=0
      printf '  {"case": "%s", "flows": %s, "key_bytes": %s, "kind": "%s", "ours_ns": %s, "rte_hash_ns": %s, "ratio": %s, "bytes_per_flow": %s}' \
        "$case" "$flows" "$key" "$kind" "$ons" "$pns" "$ratio" "$bpf" >> "$json.tmp"
    done
  done
done
printf '\n]\n' >> "$json.tmp"
mv "$json.tmp" "$json"
echo "written: $json (median of 3 interleaved runs per side, bursts of 32, 8M lookups per run, same keys and order on both sides; target ratio <= 0.6)"
