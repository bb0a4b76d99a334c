#!/usr/bin/env bash
# The HTTP sink delivers every committed record to a receiver that fails intermittently (500s and
# dropped connections): each seq arrives at least once, byte for byte, with the configured
# Authorization header; the sink is then restarted and ships only what is new.
# Usage: http_sink_test.sh <audit_writer_driver> <http_receiver.py>
set -euo pipefail
DRIVER=$(readlink -f "$1")
RECEIVER=$(readlink -f "$2")
TMP=$(mktemp -d /tmp/sallyport-audit-http.XXXXXX)
RECV_PID=""
cleanup() {
  if [[ -n "$RECV_PID" ]]; then kill "$RECV_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
AS_AGENT=()
if [[ $(id -u) == 0 ]]; then AS_AGENT=(setpriv --reuid=1000 --regid=1000 --clear-groups); fi
chown 1000:1000 "$TMP" 2>/dev/null || true
AUTH="Splunk 0b1c2d3e-test-token"

"${AS_AGENT[@]}" /usr/bin/python3 "$RECEIVER" "$TMP/received.jsonl" "$TMP/port" "$AUTH" &
RECV_PID=$!
for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.05; done
[[ -s "$TMP/port" ]] || fail "receiver did not start"
URL="http://127.0.0.1:$(cat "$TMP/port")/services/collector/raw"

"${AS_AGENT[@]}" "$DRIVER" write "$TMP/log" "$TMP/state" --count 400 --rotate-bytes 40000 >/dev/null
"${AS_AGENT[@]}" "$DRIVER" ship "$TMP/log" --cursor "$TMP/http.cursor" --http "$URL" --auth "$AUTH" --batch 25 \
  | tee "$TMP/ship1" || fail "HTTP sink did not catch up"
grep -q "failures 0 " "$TMP/ship1" && fail "the receiver never failed; the retry path was not exercised"
"${AS_AGENT[@]}" "$DRIVER" write "$TMP/log" "$TMP/state" --count 50 >/dev/null
BEFORE=$(wc -l <"$TMP/received.jsonl")
"${AS_AGENT[@]}" "$DRIVER" ship "$TMP/log" --cursor "$TMP/http.cursor" --http "$URL" --auth "$AUTH" --batch 25 \
  || fail "restarted HTTP sink did not catch up"

/usr/bin/python3 - "$TMP" "$BEFORE" <<'PY' || fail "delivered records differ from the committed log"
import glob, json, sys
tmp, before = sys.argv[1], int(sys.argv[2])
committed = {}
for seg in sorted(glob.glob(tmp + "/log/audit-*.jsonl")):
    for line in open(seg, encoding="utf-8"):
        line = line.rstrip("\n")
        committed[json.loads(line)["seq"]] = line
lines = open(tmp + "/received.jsonl", encoding="utf-8").read().splitlines()
received = {}
for line in lines:
    seq = json.loads(line)["seq"]
    assert line == committed[seq], f"seq {seq} differs"
    received[seq] = line
missing = sorted(set(committed) - set(received))
assert not missing, f"missing {len(missing)}: {missing[:5]}"
resent = [json.loads(l)["seq"] for l in lines[before:]]
first_run_max = max(json.loads(l)["seq"] for l in lines[:before])
assert all(s > first_run_max for s in resent), "the restarted sink re-sent acknowledged records"
print(f"OK: {len(committed)} records delivered ({len(lines)} deliveries incl. at-least-once repeats)")
PY
