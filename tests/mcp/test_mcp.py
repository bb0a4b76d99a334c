#!/usr/bin/python3
"""MCP gateway integration test: an MCP server built on the official @modelcontextprotocol/sdk
(tests/mcp/mcp_server.mjs, Streamable HTTP, loopback), sallyport exposing it at /mcp/<name>,
and the SDK's own client (tests/mcp/mcp_client.test.mjs, node --test) plus raw HTTP checks.

Checks: tools/list filtering, allowed / denied calls, approval flow through the admin API, the
prompt shield on a poisoned tool result (enforce withholds, observe records), SSE and JSON
answers, session id pass-through, credentials injected (the agent's dropped), batches, limits,
metrics and audit records (the audit log still verifies).
Environment: SALLYPORT_BIN (the sallyport binary), SALLYPORT_SOURCE_DIR. As root, sallyport and
the server run as UID 1001 and the clients as UID 1000. Only loopback is used.
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
sys.path.insert(0, os.path.join(SOURCE, "tests", "lib"))
from sallyport_harness import Proc, free_port, http  # noqa: E402

BIN = os.environ.get("SALLYPORT_BIN", os.path.join(SOURCE, "build/release/sallyport"))
HERE = os.path.join(SOURCE, "tests", "mcp")
MCP_TOKEN = "mcp-upstream-secret-5b1e77"
ADMIN_TOKEN = "mcp-test-admin-token-42"
AS_ROOT = os.geteuid() == 0
POLICY = {"version": 1, "default": "allow", "rules": [
    {"name": "no-shell", "tool": "shell", "action": "deny"},
    {"name": "no-ssh-keys", "tool": "read_file", "args": r"\.ssh/", "action": "deny"},
    {"name": "etc-needs-approval", "tool": "read_file", "args": "\"/etc/", "action": "require_approval"}]}
ACCEPT = "application/json, text/event-stream"


def as_user(uid, argv):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv] if AS_ROOT else argv


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)


class Sallyport:
    def __init__(self, work, name, mcp_port, shield_mode="enforce"):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port, self.admin_port = free_port(), free_port()
        self.config = {
            "state_dir": os.path.join(self.dir, "state"),
            "listeners": {"gateway": f"127.0.0.1:{self.port}", "admin": f"127.0.0.1:{self.admin_port}",
                          "proxy": f"127.0.0.1:{free_port()}"},
            "admin": {"token": {"file": os.path.join(work, "admin.token")}},
            "egress": {"allow_cidrs": ["127.0.0.0/8"], "bare_ip": "allow_cidrs", "feeds": []},
            "mcp_servers": [
                {"name": "tools", "url": f"http://127.0.0.1:{mcp_port}/mcp", "auth": {"file": os.path.join(work, "mcp.token")},
                 "timeout": "20s"},
                {"name": "tools-json", "url": f"http://127.0.0.1:{mcp_port}/mcp-json", "auth": {"env": "MCP_TOKEN"}},
                {"name": "dead", "url": f"http://127.0.0.1:{free_port()}/mcp", "timeout": "2s"},
            ],
            "safety": {"prompt_shield": {"mode": shield_mode}},
            "policy": {"file": os.path.join(work, "policy.json")},
            "trust": {"initial": 900},
            "log": {"format": "json", "level": "debug"},
        }
        self.config_path = os.path.join(self.dir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)
        if AS_ROOT:
            subprocess.run(["chown", "-R", "1001:1001", self.dir], check=True)
        self.proc = Proc(as_user(1001, [BIN, "run", "--config", self.config_path]), os.path.join(self.dir, "sallyport.log"),
                         dict(os.environ, MCP_TOKEN=MCP_TOKEN), stop_timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.proc.poll() is not None:
                raise RuntimeError("sallyport exited:\n" + self.proc.log())
            try:
                if http("GET", self.url + "/v1/models", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("sallyport did not start:\n" + self.proc.log())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def metric(self, name, **labels):
        total = 0.0
        for line in http("GET", self.admin + "/metrics")[2].decode().splitlines():
            if not (line.startswith(name + "{") or line.startswith(name + " ")):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def audit_records(self):
        audit_dir = os.path.join(self.dir, "state", "audit")
        verify = subprocess.run([BIN, "audit", "verify", audit_dir], capture_output=True, text=True)
        check(verify.returncode == 0, "audit log verifies: " + (verify.stdout + verify.stderr).strip()[-200:])
        records = []
        for name in sorted(os.listdir(audit_dir)):
            if name.endswith(".jsonl"):
                with open(os.path.join(audit_dir, name)) as f:
                    records += [json.loads(line) for line in f if line.strip()]
        return records


def sse_messages(body):
    """JSON payloads of the data lines of an SSE body."""
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:"))
        if data:
            out.append(json.loads(data))
    return out


class RawClient:
    """Plain HTTP MCP client (no SDK) for what the SDK does not expose: batches, raw SSE."""

    def __init__(self, base):
        self.base, self.session, self.next_id = base, None, 1

    def post(self, payload, raw=None):
        headers = {"content-type": "application/json", "accept": ACCEPT, "authorization": "Bearer agent-dummy"}
        if self.session:
            headers.update({"mcp-session-id": self.session, "mcp-protocol-version": "2025-06-18"})
        status, hdrs, body = http("POST", self.base, raw if raw is not None else json.dumps(payload).encode(), headers)
        hdrs = {k.lower(): v for k, v in hdrs.items()}
        ctype = hdrs.get("content-type", "")
        msgs = sse_messages(body) if ctype.startswith("text/event-stream") else (json.loads(body) if body.strip() else None)
        return status, hdrs, msgs

    def request(self, method, params=None):
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}

    def initialize(self):
        status, hdrs, msgs = self.post(self.request("initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}))
        check(status == 200 and "mcp-session-id" in hdrs, f"raw initialize through the gateway ({status})")
        self.session = hdrs["mcp-session-id"]
        status, _, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        check(status == 202, "notification passes through as 202")
        return hdrs


def node_test(sp, mcp_port):
    env = dict(os.environ, GATEWAY=sp.url, ADMIN=sp.admin, ADMIN_TOKEN=ADMIN_TOKEN, MCP_TOKEN=MCP_TOKEN,
               MCP_DEBUG=f"http://127.0.0.1:{mcp_port}/debug", NO_PROXY="*")
    r = subprocess.run(as_user(1000, ["node", "--test", "--test-concurrency=1", os.path.join(HERE, "mcp_client.test.mjs")]),
                       cwd=os.path.join(SOURCE, "tests"), env=env, capture_output=True, text=True, timeout=240)
    sys.stdout.write(r.stdout[-8000:])
    sys.stdout.write(r.stderr[-3000:])
    if r.returncode != 0:
        print("---- sallyport log (tail) ----\n" + sp.proc.log()[-6000:])
    check(r.returncode == 0, "MCP SDK client through the gateway (node --test)")


def raw_checks(sp, mcp_port):
    raw = RawClient(sp.url + "/mcp/tools")
    raw.initialize()
    status, hdrs, msgs = raw.post(raw.request("tools/list"))
    check(status == 200 and hdrs["content-type"].startswith("text/event-stream"), "tools/list answered as an SSE stream")
    names = [t["name"] for t in msgs[-1]["result"]["tools"]]
    check("shell" not in names and "read_file" in names, f"shell filtered out of the streamed tools/list: {names}")
    shell, read = raw.request("tools/call", {"name": "shell", "arguments": {"command": "id"}}), \
        raw.request("tools/call", {"name": "read_file", "arguments": {"path": "/tmp/a"}})
    status, _, msgs = raw.post([shell, read])
    by_id = {m.get("id"): m for m in msgs if "id" in m}
    check(status == 200 and by_id[shell["id"]]["error"]["code"] == -32001 and "result" in by_id[read["id"]],
          "batch: the denied call is answered by sallyport, the allowed one by the server")
    status, _, msg = raw.post(None, raw=b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")
    check(status == 400 and msg["error"]["code"] == -32700, "malformed JSON: 400 parse error")
    status, _, msg = raw.post(None, raw=b"[" * 5000 + b"]" * 5000)
    check(status == 400 and "nested deeper" in msg["error"]["message"], "deeply nested JSON refused before parsing")
    status, _, msg = raw.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "x", "arguments": "str"}})
    check(status == 400 and msg["error"]["code"] == -32602 and msg["id"] == 9, "tools/call with bad params: -32602 with its id")
    status, _, _ = http("POST", sp.url + "/mcp/nope", b"{}", {"content-type": "application/json"})
    check(status == 404, "unknown MCP server: 404")
    status, hdrs, _ = http("PUT", sp.url + "/mcp/tools", b"{}", {"content-type": "application/json"})
    check(status == 405, "PUT on an MCP endpoint: 405")
    dead = RawClient(sp.url + "/mcp/dead")
    status, _, msg = dead.post(dead.request("ping"))
    check(status == 502 and msg["error"]["code"] == -32002 and "dead" in msg["error"]["message"],
          "unreachable MCP server: 502 with a JSON-RPC error")
    status, hdrs, _ = http("DELETE", sp.url + "/mcp/tools", headers={"mcp-session-id": raw.session})
    check(status == 200, "DELETE ends the raw session")


def main():
    if not os.path.isdir(os.path.join(SOURCE, "tests/node_modules/@modelcontextprotocol/sdk")):
        print("tests/node_modules/@modelcontextprotocol/sdk missing (run `npm ci` in tests/)")
        return 1 if os.environ.get("CI") else 77
    work = tempfile.mkdtemp(prefix="sallyport-mcp-")
    os.chmod(work, 0o755)
    server = sp = observe = None
    try:
        for name, text in (("admin.token", ADMIN_TOKEN), ("mcp.token", MCP_TOKEN)):
            with open(os.path.join(work, name), "w") as f:
                f.write(text + "\n")
            os.chmod(os.path.join(work, name), 0o600)
            if AS_ROOT:
                os.chown(os.path.join(work, name), 1001, 1001)
        with open(os.path.join(work, "policy.json"), "w") as f:
            json.dump(POLICY, f)
        os.chmod(os.path.join(work, "policy.json"), 0o644)
        if AS_ROOT:
            os.chown(work, 1001, 1001)
        port_file = os.path.join(work, "mcp.port")
        server = Proc(as_user(1001, ["node", os.path.join(HERE, "mcp_server.mjs"), port_file]), os.path.join(work, "mcp_server.log"),
                      dict(os.environ, MCP_TOKEN=MCP_TOKEN), stop_timeout=30)
        deadline = time.time() + 20
        while not (os.path.exists(port_file) and open(port_file).read()) and time.time() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError("MCP test server exited:\n" + server.log())
            time.sleep(0.05)
        mcp_port = int(open(port_file).read())

        sp = Sallyport(work, "enforce", mcp_port)
        node_test(sp, mcp_port)
        raw_checks(sp, mcp_port)
        check(sp.metric("sallyport_mcp_calls_total", server="tools", decision="allow") >= 2, "allowed calls counted")
        check(sp.metric("sallyport_mcp_calls_total", decision="deny", reason="tool:denied") >= 4, "denied calls counted")
        check(sp.metric("sallyport_mcp_calls_total", decision="allow", reason="approval:approved") == 1, "approved call counted")
        check(sp.metric("sallyport_mcp_shield_total", decision="withheld") == 2, "poisoned results withheld (SSE and JSON)")
        check(sp.metric("sallyport_mcp_tools_hidden_total") >= 3, "hidden tools counted")
        sp.proc.stop()
        log = sp.proc.log()
        check(MCP_TOKEN not in log, "the MCP server credential never reaches the log")
        records = sp.audit_records()
        mcp = [r for r in records if r["kind"] == "mcp"]
        reasons = {(r["decision"], r["reason"]) for r in mcp}
        check(("deny", "tool:denied") in reasons and ("allow", "tool:allowed") in reasons, "mcp calls in the audit log")
        check(("deny", "shield:jailbreak") in reasons, "withheld tool result in the audit log")
        check(("allow", "approval:approved") in reasons and ("deny", "approval:denied") in reasons,
              "approval outcomes in the audit log")
        check(all(r["detail"].get("provider") for r in mcp), "every mcp record names its server")

        observe = Sallyport(work, "observe", mcp_port, shield_mode="observe")
        raw = RawClient(observe.url + "/mcp/tools-json")
        raw.initialize()
        status, hdrs, msg = raw.post(raw.request("tools/call", {"name": "fetch_url", "arguments": {"url": "https://x.example"}}))
        check(status == 200 and hdrs["content-type"].startswith("application/json") and "ignore all previous" in json.dumps(msg),
              "observe mode: the poisoned result is forwarded")
        check(observe.metric("sallyport_mcp_shield_total", decision="observed") == 1, "observe mode: the match is counted")
        print("all MCP gateway checks passed")
        return 0
    finally:
        for p in (observe, sp):
            if p:
                p.proc.stop()
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
