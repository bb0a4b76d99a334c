"""Helpers shared by the fault-injection, soak and hygiene tests: a `sallyport run` process that
runs as UID 1001 when started as root (so file permissions mean something), a scriptable raw TCP
"upstream" whose misbehaviour is chosen per test, a tiny HTTP server whose answers the test can
change while it runs, CONNECT helpers, and /proc readers (RSS, fd count). Loopback only."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sallyport_harness import free_port, http  # noqa: E402,F401

SOURCE = os.environ.get("SALLYPORT_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "../..")))
BIN = os.environ.get("SALLYPORT_BIN", os.path.join(SOURCE, "build/hardening/sallyport"))
AS_ROOT = os.geteuid() == 0
ROUTER_UID = 1001
ADMIN_TOKEN = "fault-test-admin-token-8c1e"


def as_user(uid, argv):
    if not AS_ROOT:
        return argv
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


def merge(base, overrides):
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


class Router:
    """`sallyport run` on free loopback ports. Config = loopback-friendly base + overrides.
    The work dir is world-traversable; state/ and the config belong to UID 1001."""

    def __init__(self, work, name="router", overrides=None, env=None):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(work, 0o755)
        self.ports = {k: free_port() for k in ("proxy", "gateway", "admin")}
        token_path = os.path.join(self.dir, "admin.token")
        with open(token_path, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        os.chmod(token_path, 0o600)
        self.config = {
            "state_dir": os.path.join(self.dir, "state"),
            "listeners": {k: f"127.0.0.1:{p}" for k, p in self.ports.items()},
            "admin": {"token": {"file": token_path}},
            "egress": {"allow_cidrs": ["127.0.0.0/8"], "bare_ip": "allow_cidrs", "feeds": []},
            "log": {"format": "json", "level": "info"},
        }
        merge(self.config, overrides)
        self.config_path = os.path.join(self.dir, "config.json")
        self.env = env
        self.proc = None
        self.log_path = os.path.join(self.dir, "sallyport.log")
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)
        self.chown()

    def chown(self):
        if AS_ROOT:
            subprocess.run(["chown", "-R", f"{ROUTER_UID}:{ROUTER_UID}", self.dir], check=True)

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.ports['admin']}"

    @property
    def gateway(self):
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def state_dir(self):
        return self.config["state_dir"]

    @property
    def audit_dir(self):
        return self.config.get("audit", {}).get("dir") or os.path.join(self.state_dir, "audit")

    def start(self, wait_ready=True, timeout=20):
        log = open(self.log_path, "ab")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(as_user(ROUTER_UID, [BIN, "run", "--config", self.config_path]),
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        if not wait_ready:
            return self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sallyport exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                if http("GET", self.admin + "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("sallyport did not start:\n" + self.log()[-4000:])

    def wait_exit(self, timeout):
        return self.proc.wait(timeout=timeout)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def metrics(self):
        return http("GET", self.admin + "/metrics", timeout=5)[2].decode()

    def metric(self, name, label_filter=""):
        total = 0.0
        for line in self.metrics().splitlines():
            if (line.startswith(name + " ") or line.startswith(name + "{")) and label_filter in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def admin_get(self, path):
        return http("GET", self.admin + path, headers={"Authorization": "Bearer " + ADMIN_TOKEN})

    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        return proc_rss_kib(self.proc.pid)

    def fds(self):
        return proc_fd_count(self.proc.pid)

    def audit_records(self):
        out = []
        for name in sorted(os.listdir(self.audit_dir)):
            if name.startswith("audit-") and name.endswith(".jsonl"):
                with open(os.path.join(self.audit_dir, name), encoding="utf-8", errors="replace") as f:
                    for line in f:
                        line = line.strip()
                        if line:
                            out.append(json.loads(line))
        return out

    def verify_audit(self):
        pub = os.path.join(self.state_dir, "identity.ed25519.pub")
        return subprocess.run([BIN, "audit", "verify", self.audit_dir, "--pubkey", pub],
                              capture_output=True, text=True, timeout=60)


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------- misbehaving upstream (raw TCP)
class RawServer:
    """Accepts on a loopback port; each connection is handed to `behaviour(conn)` in a thread.
    stop() closes the listener and every connection it accepted."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.behaviour(conn, self.stopping)
        except OSError:
            pass
        try:
            conn.close()
        except OSError:
            pass

    def stop(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would leave the listening
        # socket alive (and answering) until the next connection arrives.
        self.stopping.set()
        for s in [self.sock, *self.conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


def read_request(conn, limit=1 << 20):
    """Reads one HTTP request (head + Content-Length body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            return data
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def reset(conn):
    """Closes with RST (SO_LINGER 0) instead of FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_event(content):
    ev = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
          "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(ev).encode() + b"\n\n"


def openai_answer(text="ok"):
    body = json.dumps({"id": "c1", "object": "chat.completion", "model": "gpt-test",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def openai_stream(parts=("hel", "lo")):
    out = SSE_HEAD
    for p in parts:
        out += chunk(sse_event(p))
    usage = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [],
             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    out += chunk(b"data: " + json.dumps(usage).encode() + b"\n\n")
    out += chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
    return out


def well_behaved(conn, stopping):
    """A keep-alive OpenAI upstream: JSON or SSE depending on the request's "stream"."""
    while not stopping.is_set():
        req = read_request(conn)
        if not req:
            return
        conn.sendall(openai_stream() if b'"stream": true' in req or b'"stream":true' in req else openai_answer())


def provider(port, name="mock", models=("gpt-*",)):
    return {"name": name, "kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1",
            "api_key": {"env": "FAULT_OPENAI_KEY"}, "models": list(models)}


def chat_body(stream=False, text="hello", model="gpt-test"):
    return json.dumps({"model": model, "stream": stream, "max_tokens": 50,
                       "messages": [{"role": "user", "content": text}]}).encode()


def chat(router, stream=False, timeout=30, text="hello", headers=None):
    h = {"Content-Type": "application/json", "Authorization": "Bearer sk-dummy"}
    h.update(headers or {})
    return http("POST", router.gateway + "/v1/chat/completions", chat_body(stream, text), h, timeout=timeout)


# ---------------------------------------------------------------- changeable HTTP server
class MutableHttpServer:
    """Serves GET / with whatever (status, body) `self.answer` holds right now."""

    def __init__(self, status=200, body=b""):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        owner = self
        self.answer = (status, body)
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.hits += 1
                status, body = owner.answer
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- proxy helpers
def connect_via(proxy_port, target, timeout=10, extra_headers=b""):
    """Sends CONNECT target through the proxy; returns (socket, status, head bytes)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target.encode(), target.encode(), extra_headers))
    head = b""
    while b"\r\n\r\n" not in head:
        part = s.recv(4096)
        if not part:
            break
        head += part
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return s, status, head


class TempWork:
    """A temp dir removed at exit (also on failure)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class Skip(Exception):
    """Raised by a case that cannot run here (e.g. needs root); exit code 77 when all skip."""


def run_cases(cases, argv):
    """Runs the named cases (all when none named); prints PASS/FAIL/SKIP lines; exit code 1 on
    failure, 77 (ctest SKIP_RETURN_CODE) when every case was skipped."""
    names = argv[1:] or list(cases)
    failed, skipped = [], []
    for name in names:
        t0 = time.time()
        try:
            cases[name]()
            print(f"PASS {name} ({time.time() - t0:.1f}s)", flush=True)
        except Skip as e:
            print(f"SKIP {name}: {e}", flush=True)
            skipped.append(name)
        except Exception as e:  # noqa: BLE001 - report every failure with its case name
            import traceback
            traceback.print_exc()
            print(f"FAIL {name}: {e}", flush=True)
            failed.append(name)
    print(f"{len(names) - len(failed) - len(skipped)}/{len(names)} passed, {len(skipped)} skipped")
    if failed:
        return 1
    return 77 if skipped and len(skipped) == len(names) else 0
