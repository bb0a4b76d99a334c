#!/usr/bin/env bash
# Full load and soak run (manual; the registered ctest versions are short): 10,000 idle CONNECT
# tunnels with RSS per tunnel, slowloris / slow-read clients, then a mixed soak of SOAK_SECONDS
# (default 600) of proxy tunnels + gateway streams + audit. Loopback only; every process the
# run starts is stopped by tests/soak/soak.py itself (context managers + finally).
#   bench/soak_run.sh [BUILD_DIR]        (default: build/hardening)
# Env: SOAK_TUNNELS (10000), SOAK_SECONDS (600), SOAK_RSS_GROWTH_KIB (32768), SOAK_FD_GROWTH (16),
#      SOAK_MAX_BYTES_PER_TUNNEL (32768), SOAK_HOLD_SECONDS (10).
# Prints one "RESULT {json}" line per mode; exits non-zero when a bound is exceeded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/hardening}
export SALLYPORT_BIN=${SALLYPORT_BIN:-$BUILD/sallyport}
export SALLYPORT_SOURCE_DIR=$ROOT
[[ -x $SALLYPORT_BIN ]] || { echo "missing $SALLYPORT_BIN (ninja -C $BUILD sallyport)" >&2; exit 2; }
# Each process may hold 2 fds per tunnel: raise the soft limit as far as the hard limit allows
# (soak.py raises it further itself when it has CAP_SYS_RESOURCE).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SOAK=$ROOT/tests/soak/soak.py
rc=0
/usr/bin/python3 "$SOAK" tunnels "${SOAK_TUNNELS:-10000}" || rc=1
/usr/bin/python3 "$SOAK" slow || rc=1
/usr/bin/python3 "$SOAK" mixed "${SOAK_SECONDS:-600}" || rc=1
exit $rc
