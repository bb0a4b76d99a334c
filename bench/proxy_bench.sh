#!/usr/bin/env bash
# CONNECT tunnels/s and added latency: sallyport vs squid vs tinyproxy vs a direct connection,
# side by side in one run, all on loopback. Every process runs as UID 1000 with its config, pid
# and log files in a temp dir, and is killed by the trap. Bounded: TUNNELS per run, MAX_SECONDS.
# Besides tunnels/s and latency it reports CPU time per tunnel for each proxy (user + system, all
# threads, from /proc) and for the load client: on a machine shared with other work, tunnels/s
# swings with the scheduler (a thread-per-connection proxy gets more CPU share than a one-thread
# event loop), while CPU per tunnel is what the proxy itself costs.
#   bench/proxy_bench.sh [BUILD_DIR]       (default: build/proxy)
# Env: TUNNELS (default 5000), CONCURRENCY (16), PINGS (5), MAX_SECONDS (60),
#      SALLYPORT_THREADS (event loops; default: one per core, as the sallyport binary runs them)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/proxy}
TUNNELS=${TUNNELS:-5000}
CONCURRENCY=${CONCURRENCY:-16}
PINGS=${PINGS:-5}
MAX_SECONDS=${MAX_SECONDS:-60}
SALLYPORT_THREADS=${SALLYPORT_THREADS:-$(nproc)}
LOAD=$BUILD/bench/proxy_load
DRIVER=$BUILD/bench/proxy_bench_driver
for bin in "$LOAD" "$DRIVER"; do
  [[ -x $bin ]] || { echo "missing $bin (ninja -C $BUILD proxy_load proxy_bench_driver)" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/sallyport-proxy-bench.XXXXXX)
chmod 0777 "$TMP"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for f in "$TMP"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
AS_USER=(setpriv --reuid=1000 --regid=1000 --clear-groups)
cp "$LOAD" "$DRIVER" "$TMP/"   # UID 1000 must be able to execute them
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# The echo server (the "origin").
"${AS_USER[@]}" "$TMP/proxy_load" echo > "$TMP/echo.port" &
PIDS+=($!)
for _ in $(seq 50); do [[ -s $TMP/echo.port ]] && break; sleep 0.1; done
ECHO_PORT=$(head -1 "$TMP/echo.port")
TARGET=127.0.0.1:$ECHO_PORT

# sallyport
SP_PORT=$(free_port)
"${AS_USER[@]}" "$TMP/proxy_bench_driver" 127.0.0.1:$SP_PORT "$ECHO_PORT" "$SALLYPORT_THREADS" > /dev/null 2> "$TMP/sallyport.err" &
PIDS+=($!)
SP_PID=$!

# The sallyport binary itself (when built): the same proxy plus what ships with it on every
# tunnel: the blocklist policy, the hash-chained audit record, metrics. Row "sallyport-app".
APP_BIN=${SALLYPORT_BIN:-$BUILD/sallyport}
APP_PORT=""
if [[ -x $APP_BIN ]]; then
  cp "$APP_BIN" "$TMP/sallyport"
  APP_PORT=$(free_port)
  mkdir -p "$TMP/app"
  cat > "$TMP/app/config.json" <<CONF
{"state_dir": "$TMP/app/state",
 "listeners": {"proxy": "127.0.0.1:$APP_PORT", "gateway": "127.0.0.1:$(free_port)", "admin": "127.0.0.1:$(free_port)"},
 "worker_threads": $SALLYPORT_THREADS,
 "egress": {"allow_cidrs": ["127.0.0.0/8"], "bare_ip": "allow_cidrs", "feeds": [],
            "connect_ports": [$ECHO_PORT], "tls_ports": [],
            "limits": {"max_connections": 100000, "max_connections_per_client": 100000}},
 "log": {"format": "json", "level": "warn"}}
CONF
  chown -R 1000:1000 "$TMP/app"
  "${AS_USER[@]}" "$TMP/sallyport" run --config "$TMP/app/config.json" > /dev/null 2> "$TMP/app.err" &
  PIDS+=($!)
  APP_PID=$!
fi

# squid: plain forwarding proxy, CONNECT allowed to the echo port only, no cache, no access log.
SQ_PORT=$(free_port)
cat > "$TMP/squid.conf" <<CONF
http_port 127.0.0.1:$SQ_PORT
pid_filename $TMP/squid.pid
cache_log $TMP/squid-cache.log
access_log none
cache deny all
cache_mem 8 MB
coredump_dir $TMP
netdb_filename none
shutdown_lifetime 1 seconds
max_filedescriptors 8192
acl bench_port port $ECHO_PORT
acl CONNECT method CONNECT
http_access allow CONNECT bench_port
http_access deny all
CONF
"${AS_USER[@]}" squid -N -f "$TMP/squid.conf" > "$TMP/squid.out" 2>&1 &
PIDS+=($!)
SQ_PID=$!

# tinyproxy
TP_PORT=$(free_port)
cat > "$TMP/tinyproxy.conf" <<CONF
Port $TP_PORT
Listen 127.0.0.1
Timeout 60
MaxClients 1024
Allow 127.0.0.1
ConnectPort $ECHO_PORT
PidFile "$TMP/tinyproxy.pid"
LogFile "$TMP/tinyproxy.log"
LogLevel Critical
DisableViaHeader Yes
CONF
"${AS_USER[@]}" tinyproxy -d -c "$TMP/tinyproxy.conf" > "$TMP/tinyproxy.out" 2>&1 &
PIDS+=($!)
TP_PID=$!

wait_port "$SP_PORT"; wait_port "$SQ_PORT"; wait_port "$TP_PORT"
[[ -n $APP_PORT ]] && { wait_port "$APP_PORT" || { cat "$TMP/app.err" >&2; exit 1; }; }
# CPU seconds (user + system, all threads) used so far by a process and its descendants: what
# each proxy spends per tunnel, which other load on the machine disturbs far less than tunnels/s.
cpu_seconds() {
  local pids=("$1") i=0 ticks=0
  while (( i < ${#pids[@]} )); do
    pids+=($(pgrep -P "${pids[i]}" || true)); i=$((i + 1))
  done
  for pid in "${pids[@]}"; do
    [[ -r /proc/$pid/stat ]] || continue
    local stat; stat=$(< "/proc/$pid/stat") || continue
    local fields=(${stat##*) })   # after "(comm) ": state is field 0, utime 11, stime 12
    ticks=$((ticks + fields[11] + fields[12]))
  done
  /usr/bin/python3 -c "import os,sys; print(int(sys.argv[1]) / os.sysconf('SC_CLK_TCK'))" "$ticks"
}
run_load() {  # name [proxy [proxy pid]]
  local proxy_args=()
  [[ -n ${2:-} ]] && proxy_args=(--proxy "$2")
  "${AS_USER[@]}" "$TMP/proxy_load" run --target "$TARGET" "${proxy_args[@]}" --tunnels 200 \
    --concurrency "$CONCURRENCY" --pings "$PINGS" --max-seconds 10 > /dev/null || true   # warm-up
  local before=0 after=0
  [[ -n ${3:-} ]] && before=$(cpu_seconds "$3")
  "${AS_USER[@]}" "$TMP/proxy_load" run --target "$TARGET" "${proxy_args[@]}" --tunnels "$TUNNELS" \
    --concurrency "$CONCURRENCY" --pings "$PINGS" --max-seconds "$MAX_SECONDS" > "$TMP/$1.json"
  [[ -n ${3:-} ]] && after=$(cpu_seconds "$3")
  echo "$before $after" > "$TMP/$1.cpu"
  echo "$1 $(cat "$TMP/$1.json")"
}
echo "# CONNECT bench: tunnels=$TUNNELS concurrency=$CONCURRENCY pings=$PINGS sallyport_threads=$SALLYPORT_THREADS"
run_load direct
run_load sallyport 127.0.0.1:$SP_PORT "$SP_PID"
run_load squid 127.0.0.1:$SQ_PORT "$SQ_PID"
run_load tinyproxy 127.0.0.1:$TP_PORT "$TP_PID"
[[ -n $APP_PORT ]] && run_load sallyport-app 127.0.0.1:$APP_PORT "$APP_PID"

/usr/bin/python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
import os
names = ["direct", "sallyport", "squid", "tinyproxy"] + (["sallyport-app"] if os.path.exists(f"{d}/sallyport-app.json") else [])
r = {n: json.load(open(f"{d}/{n}.json")) for n in names}
for n, v in r.items():
    before, after = map(float, open(f"{d}/{n}.cpu").read().split())
    v["proxy_cpu_us"] = (after - before) * 1e6 / max(v["tunnels"], 1)
    v["client_cpu_us"] = v.get("client_cpu_s", 0) * 1e6 / max(v["tunnels"], 1)
sp = r["sallyport"]
print()
print(f"{'proxy':<13} {'tunnels/s':>10} {'setup p50 us':>13} {'setup p99 us':>13} {'rtt p50 us':>11} {'rtt p99 us':>11} "
      f"{'added rtt p50/p99 us':>21} {'proxy cpu us/tunnel':>20} {'client cpu us/tunnel':>21}")
for n, v in r.items():
    added50 = v["rtt_us"]["p50"] - r["direct"]["rtt_us"]["p50"]
    added99 = v["rtt_us"]["p99"] - r["direct"]["rtt_us"]["p99"]
    print(f"{n:<13} {v['tunnels_per_s']:>10.0f} {v['setup_us']['p50']:>13.0f} {v['setup_us']['p99']:>13.0f} "
          f"{v['rtt_us']['p50']:>11.0f} {v['rtt_us']['p99']:>11.0f} {f'{added50:.0f} / {added99:.0f}':>21} "
          f"{v['proxy_cpu_us']:>20.0f} {v['client_cpu_us']:>21.0f}")
print()
print(f"sallyport / squid     proxy cpu per tunnel: {sp['proxy_cpu_us'] / max(r['squid']['proxy_cpu_us'], 1e-9):.2f}x "
      f"(lower is better)")
print(f"sallyport / tinyproxy proxy cpu per tunnel: {sp['proxy_cpu_us'] / max(r['tinyproxy']['proxy_cpu_us'], 1e-9):.2f}x")
print(f"sallyport / squid     tunnels/s ratio: {sp['tunnels_per_s'] / r['squid']['tunnels_per_s']:.2f}x (target >= 1.5x)")
print(f"sallyport / tinyproxy tunnels/s ratio: {sp['tunnels_per_s'] / r['tinyproxy']['tunnels_per_s']:.2f}x (target >= 1.2x)")
print(f"sallyport added in-tunnel rtt p99 vs direct: {(sp['rtt_us']['p99'] - r['direct']['rtt_us']['p99']) / 1000:.3f} ms (target < 1 ms)")
print(f"sallyport added setup p99 vs direct: {(sp['setup_us']['p99'] - r['direct']['setup_us']['p99']) / 1000:.3f} ms")
if "sallyport-app" in r:
    app = r["sallyport-app"]
    print(f"sallyport-app (binary: policy + audit) / squid     tunnels/s ratio: {app['tunnels_per_s'] / r['squid']['tunnels_per_s']:.2f}x")
    print(f"sallyport-app (binary: policy + audit) / tinyproxy tunnels/s ratio: {app['tunnels_per_s'] / r['tinyproxy']['tunnels_per_s']:.2f}x")
    print(f"sallyport-app added in-tunnel rtt p99 vs direct: {(app['rtt_us']['p99'] - r['direct']['rtt_us']['p99']) / 1000:.3f} ms")
PY
