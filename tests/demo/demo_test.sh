#!/usr/bin/env bash
# Integration test for `sallyport demo` (root; never skips).
#   1. non-root: clear refusal, exit 2, nothing created
#   2. `sallyport demo --no-color` (embedded copy): exit 0, every step's key line present, no
#      colour codes, and the pod simulator it built (netns, cgroup, temp dirs) is gone afterwards
#   3. the same script with a kernel guard that only observes: the demo must exit non-zero and
#      name the steps that were not stopped (so CI catches a regression)
#
#   demo_test.sh BIN        BIN: the sallyport binary
set -uo pipefail

BIN=${1:-${SALLYPORT_BIN:-}}
SRC=${SALLYPORT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
fail() { echo "demo_test: FAIL: $*" >&2; exit 1; }
[[ -n $BIN && -x $BIN ]] || fail "no sallyport binary (pass it as \$1)"
[[ $(id -u) -eq 0 ]] || fail "must run as root (CI runs it as root)"

WORK=$(mktemp -d /tmp/demo-test.XXXXXX)
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

echo "=== non-root is refused with a clear message"
setpriv --reuid=1000 --regid=1000 --clear-groups "$BIN" demo --no-color >"$WORK/nonroot.out" 2>&1
rc=$?
[[ $rc -eq 2 ]] || fail "non-root demo exited $rc, want 2: $(cat "$WORK/nonroot.out")"
grep -q "must run as root" "$WORK/nonroot.out" || fail "no 'must run as root' message: $(cat "$WORK/nonroot.out")"

echo "=== sallyport demo --no-color"
before_tmp=$(find /tmp -maxdepth 1 -name "sallyport-demo-*" | sort)
start=$(date +%s)
"$BIN" demo --no-color >"$WORK/demo.out" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
cat "$WORK/demo.out"
[[ $rc -eq 0 ]] || fail "sallyport demo exited $rc"
echo "demo took ${elapsed}s"
[[ $elapsed -lt 120 ]] || fail "demo took ${elapsed}s (must stay well under 2 minutes)"

expect() { grep -qF -- "$1" "$WORK/demo.out" || fail "missing in demo output: $1"; }
expect "ERRNO EACCES"                                   # credential read
expect "kernel deny kernel:metadata rogue-agent/acme/research/agent-7"
expect "HTTP 403 deny=ip:metadata"
expect "kernel deny kernel:egress"
expect "HTTP 403 deny=blocklist:urlhaus"
expect "shield deny shield:jailbreak"
expect "blocked by policy rule 'shell-no-network'"
expect "tool_call deny tool:denied"
expect "budget deny budget:request"
expect 'sallyport_kernel_denied_total{namespace="research",pod="agent-7",reason="metadata",tenant="acme"} 1'
expect 'sallyport_egress_decisions_total{decision="deny",reason="ip:metadata"} 1'
expect 'sallyport_trust_score{agent="rogue-agent"}'
expect "the fake IMDS and C2 saw 0 connections"
expect "OK: "                                           # audit verify
expect "RESULT: all 9 attacks stopped; audit log verified."
stopped=$(grep -c "✔ STOPPED" "$WORK/demo.out")
[[ $stopped -eq 9 ]] || fail "$stopped steps stopped, want 9"
! grep -q $'\e\\[' "$WORK/demo.out" || fail "--no-color output contains ANSI escapes"
grep -qE "trust +[0-9]+ [a-z]+ \(-[0-9]+\)" "$WORK/demo.out" || fail "no trust score drop shown"

echo "=== everything the demo created is gone"
id=$(grep -oE "netns sp-pod-[0-9a-f]+" "$WORK/demo.out" | head -n 1 | sed 's/netns sp-pod-//')
[[ -n $id ]] || fail "cannot find the pod simulator id in the output"
! ip netns list | grep -q -- "-$id" || fail "network namespaces left: $(ip netns list | grep -- "-$id")"
! ls -d /sys/fs/cgroup/sallyport-test-"$id" 2>/dev/null || fail "cgroup sallyport-test-$id left"
! ls -d /tmp/podsim-"$id".* 2>/dev/null || fail "podsim temp dir left"
! grep -q "podsim-$id" /proc/mounts || fail "bpffs mount left: $(grep "podsim-$id" /proc/mounts)"
after_tmp=$(find /tmp -maxdepth 1 -name "sallyport-demo-*" | sort)
new_tmp=$(comm -13 <(echo "$before_tmp") <(echo "$after_tmp") | grep . || true)
[[ -z $new_tmp ]] || fail "extracted demo dir left: $new_tmp"

echo "=== a guard that only observes: the demo must fail and say which steps got through"
# A wrapper binary that attaches the guard in observe mode (everything else unchanged).
cat >"$WORK/sallyport-observe" <<WRAP
#!/bin/bash
args=()
for a in "\$@"; do [[ \$a == enforce ]] && a=observe; args+=("\$a"); done
exec '$BIN' "\${args[@]}"
WRAP
chmod 0755 "$WORK/sallyport-observe"
bash "$SRC/demo/rogue_agent.sh" --bin "$WORK/sallyport-observe" --no-color >"$WORK/observe.out" 2>&1
rc=$?
[[ $rc -ne 0 ]] || { cat "$WORK/observe.out"; fail "demo exited 0 although the kernel guard only observed"; }
grep -q "NOT STOPPED" "$WORK/observe.out" || { cat "$WORK/observe.out"; fail "no NOT STOPPED line"; }
grep -q "^  - \[2\] Cloud credentials, direct: IMDS SSRF" "$WORK/observe.out" ||
  { cat "$WORK/observe.out"; fail "the IMDS step is not named as failed"; }
grep -q "traffic reached the fake IMDS or C2" "$WORK/observe.out" || fail "IMDS/C2 traffic not reported"
echo "observe-mode run exited $rc as expected:"
sed -n '/^RESULT/,/^sallyport log tail/p' "$WORK/observe.out"

echo "demo_test: PASS"
