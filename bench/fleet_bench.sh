#!/usr/bin/env bash
# Runs bench/fleet_bench.cpp: local state backend vs Redis, in the same run. Starts its own
# redis-server (no persistence, loopback, free port) and removes it on exit.
#   bench/fleet_bench.sh [BUILD_DIR]     (default build/release)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/release}
bin=$build/bench/fleet_bench
[[ -x $bin ]] || bin=$build/fleet_bench
[[ -x $bin ]] || { echo "fleet_bench not built in $build (configure with -DSALLYPORT_BUILD_BENCH=ON)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server missing (scripts/deps)" >&2; exit 1; }
work=$(mktemp -d /tmp/sallyport-fleet-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
  --daemonize no --logfile "$work/redis.log" &
redis_pid=$!
cleanup() { kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
echo "redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port"
FLEET_BENCH_REDIS_URL="redis://127.0.0.1:$port" "$bin" --benchmark_counters_tabular=true "${@:2}"
