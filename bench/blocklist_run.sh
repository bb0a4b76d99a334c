#!/bin/sh
# Runs the blocklist benchmarks pinned to one core: the RSS figure in its own process (so no
# other benchmark's allocations count), then load time and lookups. Usage:
#   bench/blocklist_run.sh [build dir]      (needs ../shared/data/oisd/domainswild2_big.txt)
set -eu
build_dir=${1:-build/blocklist}
bench="$build_dir/bench/blocklist_bench"
taskset -c 0 "$bench" --benchmark_filter='BM_StoreRss' --benchmark_counters_tabular=true
exec taskset -c 0 "$bench" --benchmark_filter='-BM_StoreRss' --benchmark_counters_tabular=true
