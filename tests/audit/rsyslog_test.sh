#!/usr/bin/env bash
# rsyslog (started here, on loopback, unprivileged ports) receives every committed audit record
# byte for byte over RFC 5424/6587 octet-counted TCP and over TLS (gtls, test CA made with
# openssl). A sink pointed at the TLS port with the wrong CA must not deliver anything.
# Usage: rsyslog_test.sh <audit_writer_driver>
set -euo pipefail
DRIVER=$(readlink -f "$1")
TMP=$(mktemp -d /tmp/sallyport-audit-rsyslog.XXXXXX)
PIDFILES=()
cleanup() {
  for pf in "${PIDFILES[@]}"; do
    if [[ -s "$pf" ]]; then kill "$(cat "$pf")" 2>/dev/null || true; fi
  done
  sleep 0.2
  for pf in "${PIDFILES[@]}"; do
    if [[ -s "$pf" ]]; then kill -9 "$(cat "$pf")" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$TMP"/rsyslog-*.log; do echo "== $f"; cat "$f"; done >&2; exit 1; }
AS_AGENT=()
if [[ $(id -u) == 0 ]]; then AS_AGENT=(setpriv --reuid=1000 --regid=1000 --clear-groups); fi
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Test CA and server certificate for 127.0.0.1 / localhost.
cd "$TMP"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=sallyport test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj "/CN=other CA" 2>/dev/null
chmod 644 server.key
mkdir -p w-tcp w-tls log state
chown -R 1000:1000 "$TMP" 2>/dev/null || true

TCP_PORT=$(free_port)
TLS_PORT=$(free_port)
cat >tcp.conf <<CONF
global(workDirectory="$TMP/w-tcp" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="audit") { action(type="omfile" file="$TMP/tcp.out" template="raw" flushOnTXEnd="on") }
input(type="imtcp" address="127.0.0.1" port="$TCP_PORT" ruleset="audit")
CONF
cat >tls.conf <<CONF
global(workDirectory="$TMP/w-tls" maxMessageSize="64k"
       defaultNetstreamDriver="gtls"
       defaultNetstreamDriverCAFile="$TMP/ca.pem"
       defaultNetstreamDriverCertFile="$TMP/server.pem"
       defaultNetstreamDriverKeyFile="$TMP/server.key")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="audit") { action(type="omfile" file="$TMP/tls.out" template="raw" flushOnTXEnd="on") }
input(type="imtcp" address="127.0.0.1" port="$TLS_PORT" ruleset="audit")
CONF
for name in tcp tls; do
  PIDFILES+=("$TMP/rsyslog-$name.pid")
  "${AS_AGENT[@]}" rsyslogd -n -f "$TMP/$name.conf" -i "$TMP/rsyslog-$name.pid" >"$TMP/rsyslog-$name.log" 2>&1 &
done
wait_port() {
  for _ in $(seq 1 100); do
    /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "rsyslogd did not listen on $1"
}
wait_port "$TCP_PORT"
wait_port "$TLS_PORT"

"${AS_AGENT[@]}" "$DRIVER" write "$TMP/log" "$TMP/state" --count 300 --rotate-bytes 30000 >/dev/null
"${AS_AGENT[@]}" "$DRIVER" ship "$TMP/log" --cursor "$TMP/tcp.cursor" --syslog "127.0.0.1:$TCP_PORT" || fail "TCP sink did not catch up"
"${AS_AGENT[@]}" "$DRIVER" ship "$TMP/log" --cursor "$TMP/tls.cursor" --syslog "127.0.0.1:$TLS_PORT" --tls "$TMP/ca.pem" || fail "TLS sink did not catch up"
set +e
"${AS_AGENT[@]}" "$DRIVER" ship "$TMP/log" --cursor "$TMP/bad.cursor" --syslog "127.0.0.1:$TLS_PORT" --tls "$TMP/other-ca.pem" --timeout-s 2
BAD_RC=$?
set -e
[[ $BAD_RC == 1 ]] || fail "a sink that cannot verify the server certificate must not deliver (rc $BAD_RC)"

/usr/bin/python3 - "$TMP" <<'PY' || fail "records received by rsyslog differ from the committed log"
import glob, json, re, sys, time
tmp = sys.argv[1]
committed = {}
for seg in sorted(glob.glob(tmp + "/log/audit-*.jsonl")):
    with open(seg, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            committed[json.loads(line)["seq"]] = line
frame = re.compile(rb'^<(\d+)>1 (\S+) sandbox-1 sallyport - audit \[sallyport@32473 seq="(\d+)" hash="([0-9a-f]{64})" kind="([^"]*)"\] (.*)$')
for name in ("tcp", "tls"):
    received = {}
    for _ in range(100):  # rsyslog writes asynchronously; wait (bounded) for the last record
        try:
            lines = open(f"{tmp}/{name}.out", "rb").read().splitlines()
        except FileNotFoundError:
            lines = []
        received = {}
        for raw in lines:
            m = frame.match(raw)
            assert m, f"{name}: unexpected frame {raw[:200]!r}"
            seq = int(m.group(3))
            msg = m.group(6)
            assert msg == committed[seq], f"{name}: seq {seq} differs:\n{msg!r}\n{committed[seq]!r}"
            rec = json.loads(msg)
            assert m.group(4).decode() == rec["hash"] and m.group(5).decode() == rec["kind"]
            expected_pri = 13 * 8 + (4 if rec["decision"] == "deny" else 6)
            assert int(m.group(1)) == expected_pri, (name, seq, m.group(1))
            received[seq] = msg
        if len(received) == len(committed):
            break
        time.sleep(0.1)
    missing = sorted(set(committed) - set(received))
    assert not missing, f"{name}: {len(missing)} records missing, first {missing[:5]}"
    print(f"{name}: all {len(committed)} committed records received byte for byte")
PY
echo "OK"
