#!/usr/bin/env bash
# Gateway added-latency benchmark in one run: json + stream, 1/16/64 clients, p50/p99, RSS.
#   bench/gateway_bench.sh [build_dir] [requests_per_level]
set -euo pipefail
build=${1:-build/release}
requests=${2:-2000}
bin=$build/sallyport
exec "$build/sallyport_gateway_bench" "$bin" "$requests"
