#!/usr/bin/python3
"""Inference gateway integration test: a TLS mock provider on loopback (test CA made here with
openssl), sallyport's gateway, and the official `openai` / `@anthropic-ai/sdk` clients (node --test).

Environment: SALLYPORT_GATEWAY_BIN (a binary accepting `run --config F` that serves the gateway:
the sallyport binary),
SALLYPORT_SOURCE_DIR. Runs as UID 1001 (sallyport, mock) and 1000 (clients) when started as root.
Only loopback is used. Exits non-zero on the first failure.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE = os.environ.get("SALLYPORT_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sallyport_harness import Proc, free_port, http  # noqa: E402

BIN = os.environ.get("SALLYPORT_GATEWAY_BIN", os.path.join(SOURCE, "build/release/sallyport"))
HERE = os.path.join(SOURCE, "tests/gateway")
KEYS = {"openai": "sk-real-openai-7f3a9c", "azure": "real-azure-key-51be02", "anthropic": "sk-ant-real-c0ffee"}
ADMIN_TOKEN = "gateway-test-admin-token-42"
AS_ROOT = os.geteuid() == 0


def as_user(uid, argv):
    if not AS_ROOT:
        return argv
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


def make_ca(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
        "-days", "2", "-subj", "/CN=sallyport gateway test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
        "-subj", "/CN=localhost")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-out", f"{d}/server.pem", "-days", "2", "-extfile", f"{d}/san.ext")
    # A second CA the gateway does not trust: the certificate check must fail against it.
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/other.key", "-out",
        f"{d}/other.pem", "-days", "2", "-subj", "/CN=untrusted")


class Gateway:
    def __init__(self, work, name, mock_port, overrides):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.gateway_port, self.admin_port = free_port(), free_port()
        with open(os.path.join(work, "admin.token"), "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        base = f"https://localhost:{mock_port}"
        ca = os.path.join(work, "ca.pem")
        self.config = {
            "state_dir": os.path.join(self.dir, "state"),
            "listeners": {"gateway": f"127.0.0.1:{self.gateway_port}", "admin": f"127.0.0.1:{self.admin_port}",
                          "proxy": f"127.0.0.1:{free_port()}"},
            "admin": {"token": {"file": os.path.join(work, "admin.token")}},
            "egress": {"allow_cidrs": ["127.0.0.0/8", "::1/128"], "feeds": []},
            "providers": [
                {"name": "azure", "kind": "azure_openai", "base_url": base, "api_key": {"env": "AZ_KEY"},
                 "ca_file": ca, "models": ["gpt-az"], "api_version": "2024-10-21"},
                {"name": "openai", "kind": "openai", "base_url": base + "/v1", "api_key": {"env": "OAI_KEY"},
                 "ca_file": ca, "models": ["gpt-test", "gpt-*", "text-embed-*"]},
                {"name": "anthropic", "kind": "anthropic", "base_url": base, "api_key": {"file": os.path.join(work, "anthropic.key")},
                 "ca_file": ca, "models": ["claude-*"]},
            ],
            "gateway": {"idle_timeout": "2s", "first_byte_timeout": "5s", "connect_timeout": "2s"},
            "budgets": {"per_request_tokens": 100000, "daily_tokens": 10000000},
            "rate_limits": {"rpm": 100000, "tpm": 100000000, "max_concurrent": 16, "queue": 64},
            "policy": {"file": os.path.join(work, "policy.json")},
            "trust": {"initial": 900},
            "log": {"format": "json", "level": "debug"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                self.config[key].update(value)
            else:
                self.config[key] = value
        self.config_path = os.path.join(self.dir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self):
        env = dict(os.environ, OAI_KEY=KEYS["openai"], AZ_KEY=KEYS["azure"])
        if AS_ROOT:
            subprocess.run(["chown", "-R", "1001:1001", self.dir], check=True)
        self.proc = Proc(as_user(1001, [BIN, "run", "--config", self.config_path]),
                         os.path.join(self.dir, "sallyport.log"), env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.proc.poll() is not None:
                raise RuntimeError("gateway exited:\n" + self.proc.log())
            try:
                if http("GET", self.url + "/v1/models", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not start:\n" + self.proc.log())

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            self.proc.stop(sig)

    def metrics(self):
        return http("GET", self.admin + "/metrics")[2].decode()

    def metric(self, name):
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def post(self, path, obj, headers=None):
        h = {"content-type": "application/json", "authorization": "Bearer sk-agent-dummy"}
        h.update(headers or {})
        status, hdrs, body = http("POST", self.url + path, json.dumps(obj).encode(), h)
        return status, {k.lower(): v for k, v in hdrs.items()}, body


def node_test(files, env):
    node_env = dict(os.environ, **env)
    r = subprocess.run(as_user(1000, ["node", "--test", "--test-concurrency=1", *files]),
                       cwd=os.path.join(SOURCE, "tests"), env=node_env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(r.stdout[-6000:])
    sys.stdout.write(r.stderr[-3000:])
    check(r.returncode == 0, f"node SDK tests: {[os.path.basename(f) for f in files]}")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)


def chat(content, **extra):
    return dict({"model": "gpt-test", "messages": [{"role": "user", "content": content}]}, **extra)


def main_scenario(work, mock_port, mock_url):
    gw = Gateway(work, "main", mock_port, {}).start()
    try:
        node_test([os.path.join(HERE, "sdk_main.test.mjs")],
                  {"GATEWAY": gw.url, "ADMIN": gw.admin, "ADMIN_TOKEN": ADMIN_TOKEN, "MOCK": mock_url,
                   "NODE_EXTRA_CA_CERTS": os.path.join(work, "ca.pem"),
                   "KEY_OPENAI": KEYS["openai"], "KEY_AZURE": KEYS["azure"], "KEY_ANTHROPIC": KEYS["anthropic"]})
        status, headers, body = gw.post("/v1/chat/completions", chat("hello"))
        check(status == 200 and "x-sallyport-overhead-ms" in headers, "plain client answer with overhead header")
        status, _, body = gw.post("/v1/chat/completions", chat("hello", max_tokens=-1))
        check(status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error", "schema error is 400")
        status, _, body = gw.post("/v1/messages", {"model": "claude-test", "messages": []})
        check(status == 400 and json.loads(body)["type"] == "error", "anthropic-shaped 400 on /v1/messages")
        check(gw.metric("sallyport_uncharged_responses_total") == 0, "every answer was charged (uncharged = 0)")
        check(gw.metric("sallyport_tokens_total") > 0, "tokens counted")
        check('sallyport_gateway_requests_total{' in gw.metrics(), "request metric exported")
        check(gw.metric("sallyport_gateway_in_flight") == 0, "nothing in flight")
    finally:
        gw.stop()
    log = gw.proc.log()
    for name, key in KEYS.items():
        check(key not in log, f"{name} key never in the sallyport log")
    check('"kind":"tool_call"' in log and '"decision":"deny"' in log, "tool call denials recorded as events")


def egress_scenario(work, mock_port):
    """A base_url on a metadata address or with an untrusted certificate never gets a request."""
    providers = [
        {"name": "imds", "kind": "openai", "base_url": "https://169.254.169.254/v1", "api_key": {"env": "OAI_KEY"},
         "models": ["imds-*"]},
        {"name": "untrusted", "kind": "openai", "base_url": f"https://localhost:{mock_port}/v1",
         "api_key": {"env": "OAI_KEY"}, "ca_file": os.path.join(work, "other.pem"), "models": ["bad-cert"]},
        {"name": "dead", "kind": "openai", "base_url": f"https://127.0.0.1:{free_port()}/v1",
         "api_key": {"env": "OAI_KEY"}, "ca_file": os.path.join(work, "ca.pem"), "models": ["dead"]},
    ]
    gw = Gateway(work, "egress", mock_port, {"providers": providers, "egress": {
        "allow_cidrs": ["127.0.0.0/8", "169.254.0.0/16"], "bare_ip": "allow_cidrs", "feeds": []}}).start()
    try:
        status, _, body = gw.post("/v1/chat/completions", chat("x", model="imds-1"))
        check(status == 502 and b"egress policy" in body, "metadata base_url denied by egress policy (502)")
        status, _, body = gw.post("/v1/chat/completions", chat("x", model="bad-cert"))
        check(status == 502 and b"TLS" in body, "untrusted upstream certificate refused (502)")
        status, _, body = gw.post("/v1/chat/completions", chat("x", model="dead"))
        check(status == 502 and json.loads(body)["error"]["code"] == "upstream_error", "connect failure is 502")
    finally:
        gw.stop()


def limits_scenario(work, mock_port):
    overrides = {"budgets": {"per_request_tokens": 50, "daily_tokens": 60}}
    gw = Gateway(work, "budget", mock_port, overrides).start()
    try:
        status, _, body = gw.post("/v1/chat/completions", chat("hello", max_tokens=5000))
        check(status == 429 and json.loads(body)["error"]["code"] == "budget_exceeded", "over per-request cap: 429 budget")
        codes = [gw.post("/v1/chat/completions", chat("hello", max_tokens=20))[0] for _ in range(6)]
        check(codes[0] == 200 and codes[-1] == 429, f"daily budget runs out: {codes}")
        status, headers, body = gw.post("/v1/chat/completions", chat("hello", max_tokens=20))
        err = json.loads(body)["error"]
        check(err["type"] == "insufficient_quota" and headers.get("x-sallyport-budget-remaining") is not None,
              "budget error shape and remaining header")
        spent = json.loads(http("GET", gw.admin + "/admin/budget", headers={"authorization": "Bearer " + ADMIN_TOKEN})[2])["spent_today"]
    finally:
        gw.stop(signal.SIGKILL)
    gw.start()
    try:
        status, _, _ = gw.post("/v1/chat/completions", chat("hello", max_tokens=20))
        check(status == 429, "budget exhaustion survives kill -9 and restart")
        snap = json.loads(http("GET", gw.admin + "/admin/budget", headers={"authorization": "Bearer " + ADMIN_TOKEN})[2])
        check(snap["spent_today"] == spent, f"spend persisted exactly ({spent})")
        status, _, _ = http("POST", gw.admin + "/admin/budget", json.dumps({"action": "reset"}).encode(),
                            {"authorization": "Bearer " + ADMIN_TOKEN})
        check(status == 200, "admin budget reset")
        check(gw.post("/v1/chat/completions", chat("hello", max_tokens=20))[0] == 200, "requests flow after reset")
        check(http("GET", gw.admin + "/admin/budget")[0] == 401, "admin budget needs the token")
    finally:
        gw.stop()

    gw = Gateway(work, "rate", mock_port, {"rate_limits": {"rpm": 2, "tpm": 100000000, "max_concurrent": 4, "queue": 4}}).start()
    try:
        codes = []
        for _ in range(3):
            status, headers, body = gw.post("/v1/chat/completions", chat("hello"))
            codes.append(status)
        check(codes == [200, 200, 429], f"rpm limit: {codes}")
        check(int(headers.get("retry-after", "0")) >= 1 and json.loads(body)["error"]["code"] == "rate_limit_exceeded",
              "rate limit 429 carries Retry-After")
        check(any(k.startswith("x-ratelimit-") for k in headers), "x-ratelimit-* headers on 429")
    finally:
        gw.stop()

    gw = Gateway(work, "noprov", mock_port, {"providers": [], "policy": {}}).start()
    try:
        status, _, body = gw.post("/v1/chat/completions", chat("hello"))
        check(status == 503 and json.loads(body)["error"]["message"] == "no provider configured",
              "no provider configured: 503")
    finally:
        gw.stop()


def main():
    if not os.path.isdir(os.path.join(SOURCE, "tests/node_modules/openai")):
        print("tests/node_modules missing (run `npm ci` in tests/, as scripts/test does)")
        # CI installs the SDKs, so a missing client there is a failure, never a skip.
        return 1 if os.environ.get("CI") else 77
    work = tempfile.mkdtemp(prefix="sallyport-gw-")
    os.chmod(work, 0o755)
    if AS_ROOT:  # the mock and sallyport (UID 1001) write their port file and state here
        os.chown(work, 1001, 1001)
    mock = None
    try:
        make_ca(work)
        with open(os.path.join(work, "anthropic.key"), "w") as f:
            f.write(KEYS["anthropic"] + "\n")
        with open(os.path.join(work, "policy.json"), "w") as f:
            json.dump({"version": 1, "default": "allow", "rules": [
                {"name": "no-shell", "tool": "shell", "action": "deny"},
                {"name": "deploy-needs-approval", "tool": "deploy", "action": "require_approval"}]}, f)
        for name in os.listdir(work):
            os.chmod(os.path.join(work, name), 0o644)
        if AS_ROOT:
            subprocess.run(["chown", "1001:1001", os.path.join(work, "anthropic.key")], check=True)
        os.chmod(os.path.join(work, "anthropic.key"), 0o600)
        port_file = os.path.join(work, "mock.port")
        mock = Proc(as_user(1001, ["/usr/bin/python3", os.path.join(HERE, "mock_upstream.py"), "--port-file", port_file,
                                   "--cert", os.path.join(work, "server.pem"), "--key", os.path.join(work, "server.key"),
                                   "--key-openai", KEYS["openai"], "--key-azure", KEYS["azure"],
                                   "--key-anthropic", KEYS["anthropic"]]), os.path.join(work, "mock.log"))
        deadline = time.time() + 10
        while not os.path.exists(port_file) and time.time() < deadline:
            time.sleep(0.05)
        mock_port = int(open(port_file).read())
        main_scenario(work, mock_port, f"https://localhost:{mock_port}")
        egress_scenario(work, mock_port)
        limits_scenario(work, mock_port)
        print("all gateway integration checks passed")
        return 0
    finally:
        if mock:
            mock.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
