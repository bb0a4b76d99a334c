#!/usr/bin/env bash
# Kernel guard overhead, side by side in one run (issue 9, target: < 150 ns added per connect()).
# Runs the syscall benchmarks as UID 1000 inside a pod-simulator cgroup + network namespace that
# this script creates (loopback traffic only) under three configurations:
#   none      no program, no iptables rules
#   guard     the kernel guard attached to the pod cgroup (enforce)
#   iptables  the same policy as an iptables `-m owner --uid-owner` rule set in the pod netns
# and prints the median CPU ns per call (thread CPU time: wall time on a shared box mostly measures
# the neighbours) and the delta against `none`.
#
#   bench/bpf_bench.sh [BUILD_DIR]     default BUILD_DIR: build/bpf next to this repo
# Env: SALLYPORT_BIN (CLI with `bpf attach`), BENCH_REPS (default 5), BENCH_MIN_TIME (0.5 s),
#      BENCH_CPU (CPU to pin to, default the last one).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$HERE/../build/bpf}
BENCH_BIN=$BUILD/bench/sallyport_bpf_bench
CLI=${SALLYPORT_BIN:-$BUILD/bpf/sallyport-bpf-dev}
REPS=${BENCH_REPS:-5}
MIN_TIME=${BENCH_MIN_TIME:-0.5}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}  # pinned: loopback softirq work stays on the same CPU
[[ -x $BENCH_BIN && -x $CLI ]] || { echo "bpf_bench: build first: $BENCH_BIN / $CLI missing" >&2; exit 1; }
command -v iptables >/dev/null || { echo "bpf_bench: iptables missing (scripts/deps installs it)" >&2; exit 1; }

# shellcheck source=../tests/podsim/podsim.sh
source "$HERE/../tests/podsim/podsim.sh"
podsim_init
podsim_create
NAME="bench$PODSIM_ID"
PIN_ROOT="/sys/fs/bpf/sallyport-bench-$PODSIM_ID"
podsim_on_exit "'$CLI' bpf detach --name '$NAME' --pin-dir '$PIN_ROOT'"
podsim_on_exit "rm -rf '$PIN_ROOT'"

run() {  # run CONFIG ROUND -> $PODSIM_TMP/CONFIG.ROUND.json
  podsim_run_as 1000 taskset -c "$CPU" "$BENCH_BIN" --benchmark_min_time="$MIN_TIME" --benchmark_format=json \
    >"$PODSIM_TMP/$1.$2.json" 2>/dev/null
}

ipt() { ip netns exec "$PODSIM_POD_NS" iptables "$@"; }

iptables_on() {  # same policy, same order as guard.bpf.c
  ipt -A OUTPUT -o lo -j ACCEPT
  local m
  for m in 169.254.169.254 169.254.170.2 168.63.129.16 100.100.100.200; do
    ipt -A OUTPUT -d "$m" -m owner ! --uid-owner 1001 -j REJECT
  done
  ipt -A OUTPUT -d 198.51.100.53 -p udp --dport 53 -m owner --uid-owner 1000 -j ACCEPT
  ipt -A OUTPUT -d 198.51.100.53 -p tcp --dport 53 -m owner --uid-owner 1000 -j ACCEPT
  ipt -A OUTPUT -m owner --uid-owner 1000 -j REJECT
}

# Per-program run time from the kernel's BPF stats (enabled only during guard runs, restored).
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled)
podsim_on_exit "echo $STATS_WAS >/proc/sys/kernel/bpf_stats_enabled"

# Rounds interleave the three configurations so drift (other load on the box) hits all alike.
for round in $(seq 1 "$REPS"); do
  echo "bpf_bench: round $round/$REPS" >&2
  run none "$round"
  "$CLI" bpf attach --cgroup "$PODSIM_CGROUP" --name "$NAME" --pin-dir "$PIN_ROOT" --resolver 198.51.100.53 \
    --mode enforce >/dev/null
  run guard "$round"
  if [[ $round -eq $REPS ]]; then  # one extra pass with kernel stats on (they add their own cost)
    echo 1 >/proc/sys/kernel/bpf_stats_enabled
    run guard stats
    echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled
    for id in $("$CLI" bpf status --name "$NAME" --pin-dir "$PIN_ROOT" --json |
                /usr/bin/python3 -c 'import json,sys; [print(l["prog_id"]) for g in json.load(sys.stdin)["guards"] for l in g["links"]]'); do
      bpftool -j prog show id "$id" >>"$PODSIM_TMP/progstats.jsonl"
      echo >>"$PODSIM_TMP/progstats.jsonl"
    done
    rm -f "$PODSIM_TMP/guard.stats.json"
  fi
  "$CLI" bpf detach --name "$NAME" --pin-dir "$PIN_ROOT" >/dev/null
  iptables_on
  run iptables "$round"
  ipt -F OUTPUT
done

/usr/bin/python3 - "$PODSIM_TMP" "$REPS" "$(nproc)" "$(uname -r)" <<'EOF'
import glob, json, statistics, sys
tmp, reps, cpus, kernel = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
configs = ["none", "guard", "iptables"]
samples = {}
for c in configs:
    for path in glob.glob(f"{tmp}/{c}.*.json"):
        for b in json.load(open(path))["benchmarks"]:
            scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            # CPU time of the calling thread: the box is shared, wall time counts other tenants.
            samples.setdefault((c, b["name"]), []).append(b["cpu_time"] * scale)
med = {k: statistics.median(v) for k, v in samples.items()}
ops = sorted({op for (_, op) in med})
print(f"kernel guard overhead: median of {reps} interleaved rounds, CPU ns per call, UID 1000 in a pod")
print(f"cgroup + netns ({cpus} CPUs, kernel {kernel})")
print(f"{'op':<20} | {'none':>8} | {'guard':>8} | {'+guard':>8} | {'iptables':>8} | {'+iptables':>9}")
print("-" * 20 + "-+-" + "-+-".join("-" * w for w in (8, 8, 8, 8, 9)))
for op in ops:
    n, g, i = (med.get((c, op), float("nan")) for c in configs)
    print(f"{op.replace('BM_', ''):<20} | {n:8.0f} | {g:8.0f} | {g - n:+8.0f} | {i:8.0f} | {i - n:+9.0f}")
runs = {}
dec = json.JSONDecoder()
text = open(f"{tmp}/progstats.jsonl").read()
pos = 0
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    prog, pos = dec.raw_decode(text, pos)
    if prog.get("run_cnt"):
        r = runs.setdefault(prog["name"], [0, 0])
        r[0] += prog["run_time_ns"]
        r[1] += prog["run_cnt"]
print()
print("guard program run time (kernel bpf_stats, one extra guard pass): " +
      ", ".join(f"{n} {t / c:.0f} ns x {c}" for n, (t, c) in sorted(runs.items())))
EOF
