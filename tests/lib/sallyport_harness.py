"""Shared helpers for integration tests: free ports, a temp dir, and a sallyport process that is
always killed (context manager), with its log captured for assertions."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

BIN = os.environ.get("SALLYPORT_BIN", "build/release/sallyport")
SOURCE_DIR = os.environ.get("SALLYPORT_SOURCE_DIR", os.getcwd())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_thread(fn):
    """Runs fn() on a daemon thread (e.g. a request held for approval); returns (thread, result)
    where result["value"] is fn's return value once the thread has finished."""
    result = {}
    t = threading.Thread(target=lambda: result.update(value=fn()), daemon=True)
    t.start()
    return t, result


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, body bytes) and never raises on HTTP errors."""
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Sallyport:
    """Runs `sallyport run` on free loopback ports with a config built from `overrides`."""

    def __init__(self, overrides=None, token="test-admin-token-0123", extra_args=()):
        self.dir = tempfile.TemporaryDirectory(prefix="sallyport-test-")
        self.path = self.dir.name
        self.token = token
        self.ports = {k: free_port() for k in ("proxy", "gateway", "admin")}
        self.config = {
            "state_dir": os.path.join(self.path, "state"),
            "listeners": {k: f"127.0.0.1:{p}" for k, p in self.ports.items()},
            "log": {"format": "json", "level": "debug"},
        }
        if token is not None:
            with open(os.path.join(self.path, "token"), "w") as f:
                f.write(token + "\n")
            os.chmod(os.path.join(self.path, "token"), 0o600)
            self.config["admin"] = {"token": {"file": os.path.join(self.path, "token")}}
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                self.config[key].update(value)
            else:
                self.config[key] = value
        self.config_path = os.path.join(self.path, "config.json")
        self.write_config(self.config)
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.path, "sallyport.log")

    def write_config(self, config):
        with open(self.config_path, "w") as f:
            json.dump(config, f)

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.ports['admin']}"

    def start(self, wait_ready=True):
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "run", "--config", self.config_path, *self.extra_args],
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        if wait_ready:
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sallyport exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    status, _, _ = http("GET", self.admin + "/readyz", timeout=1)
                    if status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            raise RuntimeError("sallyport did not become ready:\n" + self.log())
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_records(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def signal(self, signo):
        self.proc.send_signal(signo)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.log_file.close()
        self.dir.cleanup()



class Proc:
    """A child process whose stdout+stderr go to a log file; stop() ends it (signal, then
    SIGKILL after stop_timeout seconds) and closes the log."""

    def __init__(self, argv, log_path, env=None, stop_timeout=15):
        self.log_path = log_path
        self.stop_timeout = stop_timeout
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log_file.closed:
            self.log_file.close()


def run_cli(*args, timeout=30, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env)
