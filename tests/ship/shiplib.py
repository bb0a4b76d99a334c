"""Helpers for the ship tests (docker/, docker/k8s/, docker/prometheus/, docker/grafana/):
repository paths, the sallyport binary, a Dockerfile parser, Prometheus text parsing and the
metric-family list in tests/ship/metric_names.txt."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("SALLYPORT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
DOCKER = os.path.join(ROOT, "docker")
K8S = os.path.join(DOCKER, "k8s")

# Labels that Prometheus adds at scrape time (Kubernetes service discovery), not sallyport.
SCRAPE_LABELS = {"namespace", "pod", "instance", "job", "container"}


def sallyport_bin():
    """The binary under test: SALLYPORT_BIN (set by tests.cmake), else None."""
    path = os.environ.get("SALLYPORT_BIN")
    return os.path.abspath(path) if path and os.access(path, os.X_OK) else None


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


# ---------------------------------------------------------------------------------- Dockerfile
class Instruction:
    def __init__(self, keyword, args, line):
        self.keyword, self.args, self.line = keyword, args, line

    def json_args(self):
        """Exec-form arguments (a JSON array) or None for shell form."""
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        return value if isinstance(value, list) else None

    def __repr__(self):
        return f"{self.keyword} {self.args} (line {self.line})"


class Stage:
    def __init__(self, base, name, line):
        self.base, self.name, self.line, self.instructions = base, name, line, []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text):
    """Splits a Dockerfile into stages of instructions; joins `\\` continuations and drops
    comments (also comment lines inside a continued instruction, as docker does)."""
    stages, logical, start, buf = [], [], None, ""
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if start is None:
            start = number
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        logical.append((start, buf.strip()))
        buf, start = "", None
    if buf.strip():
        logical.append((start, buf.strip()))
    for line, content in logical:
        keyword, _, args = content.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            m = re.match(r"^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", args, re.IGNORECASE)
            if not m:
                raise ValueError(f"line {line}: cannot parse FROM {args!r}")
            stages.append(Stage(m.group(1), m.group(2), line))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"line {line}: {keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(keyword, args, line))
    return stages


def apt_installed_packages(run_args):
    """Packages named by `apt-get install` in one RUN's shell text."""
    out = []
    for m in re.finditer(r"apt-get\s+install\s+([^&;|]*)", run_args):
        out += [w for w in m.group(1).split() if not w.startswith("-")]
    return out


def deps_groups(path=None):
    """scripts/deps PACKAGES as {group comment: [packages]} in file order."""
    path = path or os.path.join(ROOT, "scripts", "deps")
    with open(path) as f:
        text = f.read()
    body = re.search(r"PACKAGES=\(\n(.*?)\n\)", text, re.S)
    if not body:
        raise ValueError(f"{path}: no PACKAGES=( ... ) block")
    groups, current = {}, None
    for line in body.group(1).splitlines():
        code, _, comment = line.partition("#")
        if not code.strip() and comment.strip():
            current = comment.strip()
            groups.setdefault(current, [])
            continue
        groups.setdefault(current, []).extend(code.split())
    return groups


# ---------------------------------------------------------------------------- metric families
def load_metric_names(path=None):
    """tests/ship/metric_names.txt as {family: {"type", "labels", "status", "source"}}."""
    path = path or os.path.join(HERE, "metric_names.txt")
    out = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 4)
            if len(parts) < 4:
                raise ValueError(f"{path}:{number}: expected 'family type labels status source'")
            name, kind, labels, status = parts[:4]
            if status not in ("exposed", "expected"):
                raise ValueError(f"{path}:{number}: status must be exposed|expected, got {status!r}")
            if kind not in ("counter", "gauge", "histogram", "summary"):
                raise ValueError(f"{path}:{number}: unknown type {kind!r}")
            if name in out:
                raise ValueError(f"{path}:{number}: {name} listed twice")
            out[name] = {"type": kind, "labels": set() if labels == "-" else set(labels.split(",")),
                         "status": status, "source": parts[4] if len(parts) > 4 else ""}
    return out


METRIC_RE = re.compile(r"\bsallyport_[a-z0-9_]*[a-z0-9]")
SELECTOR_RE = re.compile(r"\b(sallyport_[a-z0-9_]*[a-z0-9])\s*\{([^}]*)\}")
LABEL_MATCHER_RE = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def family_of(series_name, known):
    """Maps a series name to its family: histogram/summary suffixes to their base."""
    if series_name in known:
        return series_name
    for suffix in ("_bucket", "_sum", "_count"):
        base = series_name[: -len(suffix)]
        if series_name.endswith(suffix) and known.get(base, {}).get("type") in ("histogram", "summary"):
            return base
    return series_name


def families_in_text(text, known):
    return {family_of(m, known) for m in METRIC_RE.findall(text)}


def selector_labels(text, known):
    """{family: {label names used in `family{...}` selectors}} of a PromQL text."""
    out = {}
    for name, body in SELECTOR_RE.findall(text):
        labels = set(LABEL_MATCHER_RE.findall(body)) - {"__name__"}
        out.setdefault(family_of(name, known), set()).update(labels)
    return out


def parse_exposition(text):
    """Prometheus text format -> {family: {"type": t or None, "samples": [(name, {labels})]}}."""
    families = {}
    sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            families.setdefault(name, {"type": None, "samples": []})["type"] = kind.strip()
        elif line and not line.startswith("#"):
            m = sample_re.match(line)
            if not m:
                raise ValueError(f"unparseable exposition line: {line!r}")
            name, labels = m.group(1), dict(label_re.findall(m.group(3) or ""))
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and families.get(name[: -len(suffix)], {}).get("type") in ("histogram", "summary"):
                    family = name[: -len(suffix)]
            families.setdefault(family, {"type": None, "samples": []})["samples"].append((name, labels))
    return families


# ------------------------------------------------------------------------------ live process
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=3):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (e.g. a ctest timeout), so
    no sallyport outlives its test. (The kernel clears this when setpriv changes the UID.)"""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class RunningSallyport:
    """`sallyport run` on free loopback ports with state_dir in a temp dir; always stopped and
    cleaned up by __exit__ (SIGTERM, then SIGKILL). `uid` runs it as that user via setpriv."""

    def __init__(self, binary, uid=None, extra_config=None):
        self.binary, self.uid = binary, uid
        self.tmp = tempfile.mkdtemp(prefix="sallyport-ship-")
        os.chmod(self.tmp, 0o755)
        self.state_dir = os.path.join(self.tmp, "state")
        self.ports = {k: free_port() for k in ("proxy", "gateway", "admin")}
        config = {"state_dir": self.state_dir,
                  "listeners": {k: f"127.0.0.1:{p}" for k, p in self.ports.items()},
                  "log": {"format": "json", "level": "info"}}
        config.update(extra_config or {})
        self.config_path = os.path.join(self.tmp, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        if uid is not None:
            os.mkdir(self.state_dir, 0o700)
            os.chown(self.state_dir, uid, uid)
        self.log_path = os.path.join(self.tmp, "sallyport.log")
        self.proc, self.log_file = None, None

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.ports['admin']}"

    def __enter__(self):
        try:
            return self._start()
        except BaseException:
            self.__exit__(None, None, None)  # never leave a process or a temp dir behind
            raise

    def _start(self):
        cmd = [self.binary, "run", "--config", self.config_path]
        if self.uid is not None:
            cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", *cmd]
        self.log_file = open(self.log_path, "wb")
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp"}
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env,
                                     cwd="/", preexec_fn=_die_with_parent)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sallyport exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if http_get(self.admin + "/readyz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("sallyport did not become ready in 30 s:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
