# shellcheck shell=bash
# Pod simulator: a throw-away "pod" and "internet" for one test run (shared/DESIGN.md "Pod
# simulator"). Source it from a bash test running as root:
#
#   source tests/podsim/podsim.sh
#   podsim_init                 # unique ids, tmp dir, EXIT trap -> podsim_teardown; fails if not root
#   podsim_create               # cgroup v2 pod dir, pod + outside netns, veth, addresses, routes
#   podsim_start_services       # fake IMDS, C2, web, DNS resolver + a second (non-resolver) DNS
#   podsim_run_as 1000 cmd…     # run cmd as UID 1000 inside the pod (cgroup, then netns, then setpriv)
#   podsim_run_as_caps 1000 net_raw cmd…   # same, keeping the listed capabilities (ambient)
#   podsim_bg NAME cmd…         # background process, killed by teardown (PID in PODSIM_BG_PIDS)
#   podsim_on_exit "cmd"        # extra cleanup, run (LIFO) before the built-in teardown
#   podsim_log_has NAME         # true when the services log shows traffic that reached NAME
#
# Variables after podsim_create:
#   PODSIM_ID           short unique id (also in every name below)
#   PODSIM_TMP          scratch dir, removed at teardown
#   PODSIM_CG2          cgroup2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified)
#   PODSIM_CG_ROOT      $PODSIM_CG2/sallyport-test-$PODSIM_ID (removed at teardown)
#   PODSIM_CGROUP       $PODSIM_CG_ROOT/kubepods/burstable/pod$PODSIM_POD_UID   (the pod)
#   PODSIM_POD_UID      random pod UID (dashed), as Kubernetes would put in the cgroup path
#   PODSIM_POD_NS / PODSIM_OUT_NS   network namespace names
#   PODSIM_POD_IP=192.0.2.2  PODSIM_OUT_IP=192.0.2.1   the veth link (pod default route -> outside)
#   PODSIM_IMDS=169.254.169.254 (http :80)   PODSIM_C2=203.0.113.66 (banner :4444)
#   PODSIM_WEB=198.51.100.10 (http :80, udp sink :9999)
#   PODSIM_RESOLVER=198.51.100.53 (dns :53 udp+tcp)  PODSIM_OTHER_DNS=198.51.100.54 (dns :53)
#   PODSIM_SERVICES_LOG  one line per connection/datagram: "<name> <kind> <peer>"
#
# Everything lives in namespaces this harness creates; nothing is sent from the host namespace.
# Teardown (also on failure and on INT/TERM) removes namespaces, veths, cgroups, background
# processes, registered cleanups (e.g. `bpf detach`) and the tmp dir. If your test needs its own
# EXIT trap, call podsim_teardown from it.

PODSIM_PYTHON=${PODSIM_PYTHON:-/usr/bin/python3}
PODSIM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

podsim_die() { echo "podsim: $*" >&2; exit 1; }

podsim_init() {
  [[ $(id -u) -eq 0 ]] || podsim_die "must run as root (creates namespaces, cgroups, BPF pins)"
  command -v ip >/dev/null || podsim_die "iproute2 (ip) is required"
  command -v setpriv >/dev/null || podsim_die "setpriv (util-linux) is required"
  PODSIM_ID=$(printf '%04x%02x' $(($$ & 0xffff)) $((RANDOM & 0xff)))
  PODSIM_TMP=$(mktemp -d "/tmp/podsim-$PODSIM_ID.XXXX")
  chmod 0755 "$PODSIM_TMP"
  PODSIM_CLEANUPS=()
  PODSIM_BG_PIDS=()
  PODSIM_CG_ROOT=""
  PODSIM_POD_NS="sp-pod-$PODSIM_ID"
  PODSIM_OUT_NS="sp-out-$PODSIM_ID"
  PODSIM_VETH_POD="vp$PODSIM_ID"
  PODSIM_VETH_OUT="vo$PODSIM_ID"
  PODSIM_POD_IP=192.0.2.2
  PODSIM_OUT_IP=192.0.2.1
  PODSIM_IMDS=169.254.169.254
  PODSIM_C2=203.0.113.66
  PODSIM_WEB=198.51.100.10
  PODSIM_RESOLVER=198.51.100.53
  PODSIM_OTHER_DNS=198.51.100.54
  PODSIM_SERVICES_LOG="$PODSIM_TMP/services.log"
  : >"$PODSIM_SERVICES_LOG"
  trap podsim_teardown EXIT
  trap 'exit 130' INT TERM
}

podsim_on_exit() { PODSIM_CLEANUPS+=("$1"); }

podsim_cgroup2_mount() {
  awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

podsim_create() {
  PODSIM_CG2=$(podsim_cgroup2_mount)
  [[ -n $PODSIM_CG2 ]] || podsim_die "no cgroup2 mount in /proc/mounts"
  PODSIM_POD_UID=$(cat /proc/sys/kernel/random/uuid)
  PODSIM_CG_ROOT="$PODSIM_CG2/sallyport-test-$PODSIM_ID"
  PODSIM_CGROUP="$PODSIM_CG_ROOT/kubepods/burstable/pod$PODSIM_POD_UID"
  mkdir -p "$PODSIM_CGROUP" || podsim_die "cannot create cgroup $PODSIM_CGROUP"

  ip netns add "$PODSIM_POD_NS" || podsim_die "ip netns add $PODSIM_POD_NS failed"
  ip netns add "$PODSIM_OUT_NS" || podsim_die "ip netns add $PODSIM_OUT_NS failed"
  ip link add "$PODSIM_VETH_POD" netns "$PODSIM_POD_NS" type veth peer name "$PODSIM_VETH_OUT" \
    netns "$PODSIM_OUT_NS" || podsim_die "veth creation failed"
  local pod=(ip -n "$PODSIM_POD_NS") out=(ip -n "$PODSIM_OUT_NS")
  "${pod[@]}" link set lo up
  "${out[@]}" link set lo up
  "${pod[@]}" addr add "$PODSIM_POD_IP/24" dev "$PODSIM_VETH_POD"
  "${out[@]}" addr add "$PODSIM_OUT_IP/24" dev "$PODSIM_VETH_OUT"
  "${pod[@]}" -6 addr add fd00:5a11::2/64 dev "$PODSIM_VETH_POD" nodad
  "${out[@]}" -6 addr add fd00:5a11::1/64 dev "$PODSIM_VETH_OUT" nodad
  "${pod[@]}" link set "$PODSIM_VETH_POD" up
  "${out[@]}" link set "$PODSIM_VETH_OUT" up
  "${pod[@]}" route add default via "$PODSIM_OUT_IP"
  "${pod[@]}" -6 route add default via fd00:5a11::1
  # "The internet" lives on the outside namespace's loopback.
  local a
  for a in "$PODSIM_IMDS" 169.254.170.2 "$PODSIM_C2" "$PODSIM_WEB" "$PODSIM_RESOLVER" "$PODSIM_OTHER_DNS"; do
    "${out[@]}" addr add "$a/32" dev lo
  done
  "${out[@]}" -6 addr add fd00:ec2::254/128 dev lo nodad
  "${out[@]}" -6 addr add 2001:db8::66/128 dev lo nodad
}

podsim_start_services() {
  local ready="$PODSIM_TMP/services.ready"
  podsim_bg services ip netns exec "$PODSIM_OUT_NS" "$PODSIM_PYTHON" "$PODSIM_DIR/podsim_services.py" \
    --log "$PODSIM_SERVICES_LOG" --ready "$ready" \
    --service "http:$PODSIM_IMDS:80:imds" \
    --service "http:[fd00:ec2::254]:80:imds6" \
    --service "banner:$PODSIM_C2:4444:c2" \
    --service "banner:[2001:db8::66]:4444:c2v6" \
    --service "http:$PODSIM_WEB:80:web" \
    --service "udp:$PODSIM_WEB:9999:web-udp" \
    --service "dns:$PODSIM_RESOLVER:53:resolver" \
    --service "dns:$PODSIM_OTHER_DNS:53:other-dns" \
    --dns-record "example.test=$PODSIM_WEB" --dns-record "probe.sallyport.test=$PODSIM_WEB"
  local i
  for i in $(seq 1 100); do
    [[ -s $ready ]] && return 0
    kill -0 "${PODSIM_BG_PIDS[-1]}" 2>/dev/null || podsim_die "services exited early (see output above)"
    sleep 0.1
  done
  podsim_die "services not ready after 10 s"
}

podsim_bg() {
  local name=$1
  shift
  "$@" >"$PODSIM_TMP/$name.out" 2>&1 &
  PODSIM_BG_PIDS+=("$!")
}

# podsim_run_as UID cmd… : joins the pod cgroup first (ip netns exec remounts /sys, hiding the
# cgroup2 mount), then the pod netns, then drops to UID/GID with no supplementary groups and no
# capabilities.
podsim_run_as() {
  local uid=$1
  shift
  podsim_run_as_caps "$uid" "" "$@"
}

# podsim_run_as_caps UID CAPS cmd… : CAPS is a comma list such as "net_raw" (may be empty).
podsim_run_as_caps() {
  local uid=$1 caps=$2
  shift 2
  local capargs=()
  if [[ -n $caps ]]; then
    local plus
    plus=$(sed 's/\([a-z_]*\)/+\1/g' <<<"$caps")
    capargs=(--inh-caps="$plus" --ambient-caps="$plus")
  fi
  bash -c 'echo $$ >"$1/cgroup.procs" || exit 125; shift; exec "$@"' podsim-run "$PODSIM_CGROUP" \
    ip netns exec "$PODSIM_POD_NS" \
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "${capargs[@]}" -- "$@"
}

podsim_log_has() { grep -q "^$1 " "$PODSIM_SERVICES_LOG"; }

podsim_teardown() {
  local rc=$?
  trap - EXIT
  local i
  for ((i = ${#PODSIM_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${PODSIM_CLEANUPS[$i]}" >/dev/null 2>&1 || true
  done
  for i in "${PODSIM_BG_PIDS[@]}"; do kill "$i" 2>/dev/null || true; done
  for i in "${PODSIM_BG_PIDS[@]}"; do wait "$i" 2>/dev/null || true; done
  if [[ -n $PODSIM_CG_ROOT && -d $PODSIM_CG_ROOT ]]; then
    # Kill stragglers, then remove the cgroup tree bottom-up.
    find "$PODSIM_CG_ROOT" -depth -type d | while read -r d; do
      [[ -w $d/cgroup.kill ]] && echo 1 >"$d/cgroup.kill" 2>/dev/null
    done
    sleep 0.1
    find "$PODSIM_CG_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d $PODSIM_CG_ROOT ]] && echo "podsim: warning: could not remove $PODSIM_CG_ROOT" >&2
  fi
  ip netns del "$PODSIM_POD_NS" 2>/dev/null || true  # takes the veth pair with it
  ip netns del "$PODSIM_OUT_NS" 2>/dev/null || true
  [[ -n $PODSIM_TMP && -d $PODSIM_TMP ]] && rm -rf "$PODSIM_TMP"
  exit "$rc"
}
