#!/usr/bin/env bash
# Runs every test from a fresh machine. Installs what the tests need (tshark, scapy), builds, runs the
# suite three times (all SIMD widths; Vector128 only, as on arm64; hardware intrinsics disabled,
# so the scalar fallbacks are proven equal to the SIMD paths), publishes the NativeAOT firmware and runs its demo, and smoke-runs every
# benchmark once. Slow system tests run with --system, or when CI=true: tests with the trait
# Category=System (a qemu-x64 card boots, is managed, forwards scapy's DASH traffic and is flashed)
# and the linux-arm64 firmware, cross-compiled, running its demo under qemu-user.
set -euo pipefail
cd "$(dirname "$0")"

system=0
for arg in "$@"; do
  case "$arg" in
    --system) system=1 ;;
    *) echo "test.sh: unknown option '$arg' (known: --system)" >&2; exit 2 ;;
  esac
done
if [[ "${CI:-}" == "true" ]]; then system=1; fi

need_apt=()
command -v tshark >/dev/null || need_apt+=(tshark)
/usr/bin/python3 -c "import scapy" 2>/dev/null || need_apt+=(python3-scapy)
command -v promtool >/dev/null || need_apt+=(prometheus) # promtool checks our Prometheus text
/usr/bin/python3 -c "import lz4.block" 2>/dev/null || need_apt+=(python3-lz4) # reads our replication-frame compression
command -v ip >/dev/null || need_apt+=(iproute2) # network namespaces and veth pairs for the AF_PACKET tests
command -v tar >/dev/null || need_apt+=(tar) # lists our firmware images
command -v etcd >/dev/null || need_apt+=(etcd-server) # the fleet store's distributed backend: a real 3-member cluster in the tests
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
if ((system)); then
  # The qemu-x64 board boots Debian's kernel with busybox under software emulation.
  command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
  command -v qemu-system-aarch64 >/dev/null || need_apt+=(qemu-system-arm) # the qemu-arm64 card
  ls /boot/vmlinuz-* >/dev/null 2>&1 || need_apt+=(linux-image-amd64)
  [[ -x /bin/busybox ]] || need_apt+=(busybox-static)
  # The linux-arm64 firmware is cross-linked here and its demo runs under qemu-user.
  command -v clang-14 >/dev/null || need_apt+=(clang-14)
  [[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]] || need_apt+=(libc6-dev-arm64-cross)
  command -v aarch64-linux-gnu-objcopy >/dev/null || need_apt+=(binutils-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
  command -v depmod >/dev/null || need_apt+=(kmod) # indexes the arm64 kernel's modules
  # The DPDK driver's shim builds against libdpdk; dpdk-testpmd is the peer of its tests.
  pkg-config --exists libdpdk 2>/dev/null || need_apt+=(libdpdk-dev pkg-config)
  [[ -x /usr/bin/dpdk-testpmd ]] || need_apt+=(dpdk-dev)
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: needs ${need_apt[*]}; run as root or install them first" >&2
    exit 2
  fi
  echo "== installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

echo "== build"
dotnet build SnicRuntime.sln -c Release -nologo -v quiet

# The NativeAOT firmware first: the flashing tests run it as a card (A/B slots, rollback).
echo "== NativeAOT firmware"
./firmware/publish.sh linux-x64
arm64_built=0
if ((system)); then
  # The arm64 firmware and an arm64 boot root for the qemu-arm64 card (the QEMU system tests).
  echo "== linux-arm64 firmware (cross-compiled NativeAOT) and the arm64 boot root"
  if ./firmware/publish.sh linux-arm64 && ./boards/qemu/arm64-root.sh; then arm64_built=1; fi
fi

# System tests (a QEMU machine boots) run once, in the first pass; the other passes re-run the
# rest with narrower SIMD, which the system tests do not exercise differently.
filter="Category!=System"
first_filter="$filter"
if ((system)); then first_filter=""; fi

passed=0
failed=0
skipped=0
results=$(mktemp -d)
run_tests() {
  local label="$1"; shift
  local f_arg="$1"; shift
  local log
  log=$(mktemp)
  local dir="$results/$((passed + failed + skipped))-$RANDOM"
  echo "== tests ($label)"
  set +e
  env "$@" dotnet test SnicRuntime.sln -c Release --no-build -nologo ${f_arg:+--filter "$f_arg"} \
    --logger "trx" --results-directory "$dir" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local p f s
  p=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  f=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  s=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  rm -f "$log"
  # Every skipped test with its reason (the test's Skip.If message), from the run's trx report.
  /usr/bin/python3 tests/skipped.py "$dir" "$label"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  if ((rc != 0 && f == 0)); then failed=$((failed + 1)); fi
}

run_tests "all SIMD widths and hardware CRC" "$first_filter" DOTNET_TieredPGO=1
run_tests "Vector128 only (the width arm64 NEON has)" "$filter" DOTNET_EnableAVX=0
run_tests "hardware intrinsics disabled (scalar fallbacks)" "$filter" DOTNET_EnableHWIntrinsic=0

echo "== NativeAOT firmware demos"
./out/firmware/linux-x64/snic-firmware --seconds 2 --flows 20000 --rate 300000 --plan examples/plans/demo.json
./out/firmware/linux-x64/snic-firmware --seconds 1 --flows 20000 --rate 300000 --stage flows
echo "== NativeAOT card agent (HTTP on loopback while the demo runs)"
token_file=$(mktemp)
echo "ci-agent-token-$RANDOM-$RANDOM" > "$token_file"
./out/firmware/linux-x64/snic-firmware --seconds 3 --plan examples/plans/demo.json --agent 18089 --agent-token-file "$token_file" &
fw=$!
/usr/bin/python3 - "$token_file" <<'PY'
import json, sys, time, urllib.request
token = open(sys.argv[1]).read().strip()
for attempt in range(40):
    try:
        req = urllib.request.Request("http://127.0.0.1:18089/v1/health", headers={"Authorization": "Bearer " + token})
        body = json.load(urllib.request.urlopen(req, timeout=2))
        assert body["status"] == "ok" and body["generation"] == 1, body
        req = urllib.request.Request("http://127.0.0.1:18089/v1/flows?limit=3", headers={"Authorization": "Bearer " + token})
        flows = json.load(urllib.request.urlopen(req, timeout=2))
        print("agent ok:", body, "flows on first page:", len(flows["flows"]))
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("the AOT card agent did not answer")
PY
wait "$fw"
rm -f "$token_file"

if ((system)); then
  echo "== linux-arm64 firmware: its DASH demo under qemu-user"
  if ((arm64_built == 0)); then
    echo "the linux-arm64 firmware or its boot root did not build"; failed=$((failed + 1))
  elif ! qemu-aarch64 -L /usr/aarch64-linux-gnu ./out/firmware/linux-arm64/snic-firmware --board boards/emulated/emulated-arm64.json \
      --seconds 2 --flows 2000 --rate 50000 --plan examples/plans/demo.json; then
    echo "the arm64 firmware's demo failed"; failed=$((failed + 1))
  fi
fi

echo "== benchmarks, one dry iteration each (speed is measured by bench/run.sh, not here)"
dotnet run -c Release --no-build --project bench/SnicRuntime.Bench -- --filter '*' --smoke >/tmp/snic-bench-dry.log 2>&1 \
  || { tail -40 /tmp/snic-bench-dry.log; failed=$((failed + 1)); }
# The fleet benchmark at its smallest (4 cards, etcd and SQLite, one controller killed): it runs end to end.
dotnet bench/SnicRuntime.Bench/bin/Release/net10.0/SnicRuntime.Bench.dll fleet --cards 4 --changes 3 --kills 1 >/tmp/snic-bench-fleet.log 2>&1 \
  && ! grep -Eq "lost=[1-9]|doubled=[1-9]" /tmp/snic-bench-fleet.log || { cat /tmp/snic-bench-fleet.log; failed=$((failed + 1)); }

rm -rf "$results"
echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
