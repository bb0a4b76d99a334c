#!/usr/bin/env bash
# Kernel guard integration test (issue 9). Runs as root, never skips: builds a pod simulator,
# proves the hostile operations succeed WITHOUT the guard, then attaches it and checks enforce,
# the skb backstop, events + attribution, observe mode, quarantine, and that detach leaves nothing.
#
#   guard_test.sh [BIN]     BIN defaults to $SALLYPORT_BIN (the `sallyport` or dev driver binary)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-${SALLYPORT_BIN:-}}
[[ -n $BIN && -x $BIN ]] || { echo "guard_test: no binary (pass it or set SALLYPORT_BIN)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "guard_test: FAIL: must run as root (CI runs it as root)" >&2; exit 1; }
CHECK=("/usr/bin/python3" "$HERE/check_json.py")

# shellcheck source=../podsim/podsim.sh
source "$HERE/../podsim/podsim.sh"
podsim_init
podsim_create
podsim_start_services

NAME="t$PODSIM_ID"
PIN_ROOT="/sys/fs/bpf/sallyport-test-$PODSIM_ID"
OUT="$PODSIM_TMP"
podsim_on_exit "'$BIN' bpf detach --name '$NAME' --pin-dir '$PIN_ROOT'"
podsim_on_exit "rm -rf '$PIN_ROOT'"

step() { echo "=== $*"; }
fail() { echo "guard_test: FAIL: $*" >&2; exit 1; }

# probe_as UID CAPS FILE: probe inside the pod; JSON to FILE, table to the log.
probe_as() {
  local uid=$1 caps=$2 file=$3
  local args=(probe --i-am-in-a-test-namespace --resolver "$PODSIM_RESOLVER" --other-dns "$PODSIM_OTHER_DNS"
              --imds "$PODSIM_IMDS" --c2 "$PODSIM_C2:4444" --outside-udp "$PODSIM_WEB:9999" --timeout-ms 700)
  podsim_run_as_caps "$uid" "$caps" "$BIN" "${args[@]}" --json >"$file"
  podsim_run_as_caps "$uid" "$caps" "$BIN" "${args[@]}" | sed 's/^/    /'
}

HOSTILE_BLOCKED=(imds-tcp=BLOCKED/kernel-guard imds-v4mapped-tcp6=BLOCKED/kernel-guard c2-tcp=BLOCKED/kernel-guard
                 other-dns-udp=BLOCKED/kernel-guard outside-udp-sendto=BLOCKED/kernel-guard
                 loopback-admin-tcp=BLOCKED/kernel-guard)
LOCAL_ALLOWED=(resolver-dns-udp=ALLOWED resolver-dns-tcp=ALLOWED loopback-tcp=ALLOWED)

step "probe refuses to run in the host network namespace (targets are loopback in case it does run)"
set +e
"$BIN" probe --imds 127.0.0.1 --c2 127.0.0.1:9 --resolver 127.0.0.1 --other-dns 127.0.0.1 \
  --outside-udp 127.0.0.1:9 --timeout-ms 100 >/dev/null 2>"$OUT/refuse.err"
rc=$?
set -e
if [[ $(stat -L -c %i /proc/self/ns/net) == $(stat -L -c %i /proc/1/ns/net 2>/dev/null || echo unreadable) || ! -r /proc/1/ns/net ]]; then
  [[ $rc -eq 2 ]] || fail "probe in the host netns exited $rc, want 2"
  grep -q "refusing to send probe traffic" "$OUT/refuse.err" || fail "refusal message missing"
fi

step "attach errors are clear"
set +e
"$BIN" bpf attach --cgroup "$PODSIM_TMP" --name "$NAME" --pin-dir "$PIN_ROOT" 2>"$OUT/err1"; rc1=$?
setpriv --reuid=1000 --regid=1000 --clear-groups "$BIN" bpf attach --cgroup "$PODSIM_CGROUP" --name "$NAME" \
  --pin-dir "$PIN_ROOT" 2>"$OUT/err2"; rc2=$?
set -e
[[ $rc1 -eq 1 ]] && grep -q "not on a cgroup v2" "$OUT/err1" || fail "non-cgroup2 attach: rc=$rc1 $(cat "$OUT/err1")"
[[ $rc2 -eq 1 ]] && grep -q "needs root or CAP_BPF" "$OUT/err2" || fail "unprivileged attach: rc=$rc2 $(cat "$OUT/err2")"
[[ ! -e $PIN_ROOT/$NAME ]] || fail "failed attach left pins in $PIN_ROOT/$NAME"

step "WITHOUT the guard the hostile operations succeed (so this test can fail)"
probe_as 1000 net_raw "$OUT/noguard.json"
"${CHECK[@]}" probe-all "$OUT/noguard.json" ALLOWED
podsim_log_has imds && podsim_log_has c2 || fail "fake IMDS/C2 saw no traffic without the guard"

step "attach (enforce)"
"$BIN" bpf attach --cgroup "$PODSIM_CGROUP" --name "$NAME" --pin-dir "$PIN_ROOT" \
  --resolver "$PODSIM_RESOLVER" --agent-uid 1000 --router-uid 1001 --mode enforce
set +e
"$BIN" bpf attach --cgroup "$PODSIM_CGROUP" --name "$NAME" --pin-dir "$PIN_ROOT" 2>"$OUT/err3"; rc3=$?
set -e
[[ $rc3 -eq 1 ]] && grep -q "already attached" "$OUT/err3" || fail "second attach: rc=$rc3 $(cat "$OUT/err3")"
"$BIN" bpf status --name "$NAME" --pin-dir "$PIN_ROOT" --json >"$OUT/status1.json"
CGROUP_ID=$(stat -c %i "$PODSIM_CGROUP")

# Events: a reader runs while the agent probes.
"$BIN" bpf events --name "$NAME" --pin-dir "$PIN_ROOT" --timeout-ms 15000 --count 6 \
  --pod-map "$PODSIM_POD_UID=acme/research/agent-7" >"$OUT/events.jsonl" 2>"$OUT/events.err" &
EVENTS_PID=$!
sleep 0.3

step "UID 1000 (agent, no CAP_NET_RAW): hostile ops BLOCKED by kernel-guard, loopback + resolver ALLOWED"
: >"$PODSIM_SERVICES_LOG"
probe_as 1000 "" "$OUT/agent.json"
"${CHECK[@]}" probe "$OUT/agent.json" "${HOSTILE_BLOCKED[@]}" "${LOCAL_ALLOWED[@]}" \
  raw-icmp=BLOCKED packet-socket=BLOCKED
! podsim_log_has imds && ! podsim_log_has c2 && ! podsim_log_has other-dns && ! podsim_log_has web-udp \
  || fail "traffic reached the outside despite the guard: $(cat "$PODSIM_SERVICES_LOG")"
podsim_log_has resolver || fail "resolver saw no DNS from the agent"

step "UID 1000 WITH CAP_NET_RAW: raw ICMP socket refused by the guard itself"
probe_as 1000 net_raw "$OUT/agent_raw.json"
"${CHECK[@]}" probe "$OUT/agent_raw.json" "${HOSTILE_BLOCKED[@]}" raw-icmp=BLOCKED/kernel-guard

step "events carry the agent's cgroup id, uid and pod attribution"
wait "$EVENTS_PID" || fail "event reader got fewer than 6 events: $(cat "$OUT/events.err") $(cat "$OUT/events.jsonl")"
"${CHECK[@]}" event "$OUT/events.jsonl" reason=metadata uid=1000 cgroup_id="$CGROUP_ID" dst_addr=169.254.169.254 \
  dst_port=80 hook=connect4 enforced=True tenant=acme namespace=research pod=agent-7 pod_uid="$PODSIM_POD_UID"
"${CHECK[@]}" event "$OUT/events.jsonl" reason=egress cgroup_id="$CGROUP_ID" dst_addr=203.0.113.66 dst_port=4444
"${CHECK[@]}" event "$OUT/events.jsonl" reason=dns-not-resolver dst_addr=198.51.100.54 proto=udp

step "UID 1001 (router): IMDS and the outside reachable"
: >"$PODSIM_SERVICES_LOG"
probe_as 1001 "" "$OUT/router.json"
"${CHECK[@]}" probe "$OUT/router.json" imds-tcp=ALLOWED imds-v4mapped-tcp6=ALLOWED c2-tcp=ALLOWED \
  other-dns-udp=ALLOWED outside-udp-sendto=ALLOWED loopback-admin-tcp=ALLOWED "${LOCAL_ALLOWED[@]}"
podsim_log_has imds && podsim_log_has c2 || fail "router traffic did not arrive"

step "skb backstop: a UDP socket connected while the guard was off is dropped once it enforces"
"$BIN" bpf mode --name "$NAME" --pin-dir "$PIN_ROOT" off
podsim_run_as 1000 /usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 9999)); s.send(b"before")
print("connected", flush=True)
while not os.path.exists(sys.argv[2] + "/go"): time.sleep(0.05)
try:
    s.send(b"after"); print("sent")
except PermissionError:
    print("EPERM")
' "$PODSIM_WEB" "$OUT" >"$OUT/backstop.out" 2>&1 &
BACKSTOP_PID=$!
for _ in $(seq 1 100); do grep -q connected "$OUT/backstop.out" 2>/dev/null && break; sleep 0.05; done
"$BIN" bpf mode --name "$NAME" --pin-dir "$PIN_ROOT" enforce
touch "$OUT/go"
wait "$BACKSTOP_PID" || true
grep -qx EPERM "$OUT/backstop.out" && grep -qx connected "$OUT/backstop.out" || fail "backstop did not drop: $(cat "$OUT/backstop.out")"
"$BIN" bpf status --name "$NAME" --pin-dir "$PIN_ROOT" --json >"$OUT/status2.json"
"${CHECK[@]}" status-counter "$OUT/status2.json" skb_egress egress denied 1

step "observe mode: everything allowed, would-deny decisions counted"
"$BIN" bpf mode --name "$NAME" --pin-dir "$PIN_ROOT" observe
probe_as 1000 "" "$OUT/observe.json"
"${CHECK[@]}" probe "$OUT/observe.json" imds-tcp=ALLOWED c2-tcp=ALLOWED other-dns-udp=ALLOWED outside-udp-sendto=ALLOWED
"$BIN" bpf status --name "$NAME" --pin-dir "$PIN_ROOT" --json >"$OUT/status3.json"
"${CHECK[@]}" status-counter "$OUT/status3.json" connect4 metadata observed 1
"${CHECK[@]}" status-counter "$OUT/status3.json" sendmsg4 dns-not-resolver observed 1
"$BIN" bpf mode --name "$NAME" --pin-dir "$PIN_ROOT" enforce

step "quarantine blocks the router UID too (loopback stays open), and lifts again"
"$BIN" bpf quarantine --cgroup "$PODSIM_CGROUP" --pin-dir "$PIN_ROOT" on
probe_as 1001 "" "$OUT/quarantine.json"
"${CHECK[@]}" probe "$OUT/quarantine.json" imds-tcp=BLOCKED/kernel-guard c2-tcp=BLOCKED/kernel-guard \
  resolver-dns-udp=BLOCKED/kernel-guard outside-udp-sendto=BLOCKED/kernel-guard loopback-tcp=ALLOWED
"$BIN" bpf quarantine --cgroup "$PODSIM_CGROUP" --pin-dir "$PIN_ROOT" off
probe_as 1001 "" "$OUT/unquarantine.json"
"${CHECK[@]}" probe "$OUT/unquarantine.json" imds-tcp=ALLOWED c2-tcp=ALLOWED

step "quarantine of a parent cgroup covers processes in child (container) cgroups"
mkdir "$PODSIM_CGROUP/ctr"
"$BIN" bpf quarantine --cgroup "$PODSIM_CGROUP" --pin-dir "$PIN_ROOT" on
PODSIM_CGROUP="$PODSIM_CGROUP/ctr" probe_as 1001 "" "$OUT/quarantine_child.json"
"${CHECK[@]}" probe "$OUT/quarantine_child.json" imds-tcp=BLOCKED/kernel-guard c2-tcp=BLOCKED/kernel-guard
"$BIN" bpf quarantine --cgroup "$PODSIM_CGROUP" --pin-dir "$PIN_ROOT" off

step "detach leaves no links, programs or pins"
mapfile -t PROG_IDS < <("${CHECK[@]}" status-prog-ids "$OUT/status1.json")
[[ ${#PROG_IDS[@]} -eq 6 ]] || fail "expected 6 attached programs, got ${#PROG_IDS[@]}"
"$BIN" bpf detach --name "$NAME" --pin-dir "$PIN_ROOT"
[[ ! -e $PIN_ROOT ]] || fail "pin dir left behind: $(ls -R "$PIN_ROOT")"
sleep 0.2  # programs are freed after an RCU grace period
bpftool -j prog show >"$OUT/progs.json"
bpftool -j link show >"$OUT/links.json"
/usr/bin/python3 - "$OUT/progs.json" "$OUT/links.json" "$CGROUP_ID" "${PROG_IDS[@]}" <<'EOF' || fail "detach left kernel objects"
import json, sys
progs, links, cgroup_id, ids = sys.argv[1], sys.argv[2], int(sys.argv[3]), {int(i) for i in sys.argv[4:]}
left = [p for p in json.load(open(progs)) if p["id"] in ids]
left_links = [l for l in json.load(open(links)) if l.get("cgroup_id") == cgroup_id or l.get("prog_id") in ids]
if left or left_links:
    print("left:", left, left_links, file=sys.stderr); sys.exit(1)
EOF
probe_as 1000 "" "$OUT/after_detach.json"
"${CHECK[@]}" probe "$OUT/after_detach.json" imds-tcp=ALLOWED c2-tcp=ALLOWED other-dns-udp=ALLOWED
set +e
"$BIN" bpf detach --name "$NAME" --pin-dir "$PIN_ROOT" 2>"$OUT/err4"; rc4=$?
set -e
[[ $rc4 -eq 1 ]] && grep -q "nothing to detach" "$OUT/err4" || fail "second detach: rc=$rc4"

echo "guard_test: PASS"
