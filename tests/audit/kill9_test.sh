#!/usr/bin/env bash
# kill -9 of an audit writer mid-stream, a torn last line (as a crash mid-write leaves it), then a
# restart: the torn tail is detected, reported and quarantined, the chain continues, and verify
# passes with every record that was reported committed before the kill.
# Usage: kill9_test.sh <audit_writer_driver>
set -euo pipefail
DRIVER=$(readlink -f "$1")
TMP=$(mktemp -d /tmp/sallyport-audit-kill9.XXXXXX)
WRITER_PID=""
cleanup() {
  if [[ -n "$WRITER_PID" ]]; then kill -9 "$WRITER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
chown 1000:1000 "$TMP" 2>/dev/null || true
# Run as the unprivileged test UID when root. An array, not a function: a backgrounded function
# would run in a subshell and $! would not be the writer's pid.
AS_AGENT=()
if [[ $(id -u) == 0 ]]; then AS_AGENT=(setpriv --reuid=1000 --regid=1000 --clear-groups); fi
fail() { echo "FAIL: $*" >&2; exit 1; }

"${AS_AGENT[@]}" "$DRIVER" write "$TMP/log" "$TMP/state" --forever --fsync group --rotate-bytes 200000 >"$TMP/out1" 2>&1 &
WRITER_PID=$!
for _ in $(seq 1 100); do
  [[ $(grep -c committed "$TMP/out1" || true) -ge 20 ]] && break
  sleep 0.05
done
kill -9 "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null || true
WRITER_PID=""
LAST_COMMITTED=$(grep committed "$TMP/out1" | tail -1 | awk '{print $2}')
[[ -n "$LAST_COMMITTED" ]] || fail "the writer reported no committed record"
echo "killed writer; last reported committed seq $LAST_COMMITTED"

NEWEST=$(ls "$TMP/log"/audit-*.jsonl | sort | tail -1)
printf '%s' '{"decision":"deny","detail":{"host":"torn.example","i":' >>"$NEWEST"

set +e
"${AS_AGENT[@]}" "$DRIVER" verify "$TMP/log" >"$TMP/verify1" 2>&1
RC=$?
set -e
cat "$TMP/verify1"
[[ $RC == 1 ]] || fail "verify of the crashed log should report a break (exit 1), got $RC"
grep -q "BROKEN: truncated" "$TMP/verify1" || fail "the torn tail was not reported as truncated"

"${AS_AGENT[@]}" "$DRIVER" write "$TMP/log" "$TMP/state" --count 20 >"$TMP/out2" 2>&1
cat "$TMP/out2"
grep -q "recovered torn_bytes=" "$TMP/out2" || fail "restart did not report the torn tail"
ls "$TMP/log"/*.torn >/dev/null 2>&1 || fail "no quarantined .torn side file"

"${AS_AGENT[@]}" "$DRIVER" verify "$TMP/log" --pubkey "$TMP/state/identity.ed25519.pub" --json >"$TMP/verify2"
cat "$TMP/verify2"
/usr/bin/python3 - "$TMP/verify2" "$LAST_COMMITTED" "$TMP/log" <<'PY'
import glob, json, sys
result = json.load(open(sys.argv[1]))
last_committed = int(sys.argv[2])
assert result["ok"], result
assert any("torn" in n for n in result["notes"]), result["notes"]
seqs = set()
for seg in sorted(glob.glob(sys.argv[3] + "/audit-*.jsonl")):
    for line in open(seg, encoding="utf-8"):
        seqs.add(json.loads(line)["seq"])
missing = [s for s in range(1, last_committed + 1) if s not in seqs]
assert not missing, f"committed records lost: {missing[:10]}"
print(f"OK: {len(seqs)} records, all {last_committed} committed before the kill present")
PY
