"""Trust quarantine reaches the kernel: with the real guard attached to a test cgroup and
kernel_guard.agent_cgroup pointing at it, a blocked egress request that drops the agent to the
quarantine tier sets the guard's quarantine flag for that cgroup id (read back with
`sallyport bpf status --json`), and an operator reset through POST /admin/trust clears it.

Root only (attaching the guard and writing its maps needs CAP_BPF). The test cgroup is empty, so
the attached programs affect no process; the guard, its pins and the cgroup are removed in a
finally block (also on SIGTERM/SIGINT). Loopback only."""
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sallyport_harness import BIN, Sallyport  # noqa: E402
from sallyport_harness import http as request  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_trust_egress import Upstream, via_proxy  # noqa: E402


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    raise unittest.SkipTest("no cgroup2 mount")


def bpf(*args):
    return subprocess.run([BIN, "bpf", *args], capture_output=True, text=True, timeout=30)


def quarantined_ids(pin_root, name):
    out = bpf("status", "--name", name, "--pin-dir", pin_root, "--json")
    guards = json.loads(out.stdout)["guards"]
    assert len(guards) == 1, out.stdout + out.stderr
    return guards[0]["quarantined_cgroups"]


def metric(sp, series):
    for line in request("GET", sp.admin + "/metrics")[2].decode().splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


class KernelQuarantineFlag(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("must run as root (attaching the kernel guard needs CAP_BPF)")
        self.id_ = f"{os.getpid()}"
        self.cgroup = os.path.join(cgroup2_root(), f"sallyport-trust-{self.id_}")
        self.pin_root = f"/sys/fs/bpf/sallyport-trust-{self.id_}"
        self.name = f"t{self.id_}"
        self.cleanups = []
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        for s in previous:
            signal.signal(s, lambda *_: sys.exit(1))  # run the cleanups below, then fail
        self.addCleanup(lambda: [signal.signal(s, h) for s, h in previous.items()])
        os.mkdir(self.cgroup)
        self.addCleanup(os.rmdir, self.cgroup)
        attach = bpf("attach", "--cgroup", self.cgroup, "--name", self.name, "--pin-dir", self.pin_root,
                     "--agent-uid", "1000", "--router-uid", "1001", "--mode", "enforce")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.pin_root])
        self.addCleanup(bpf, "detach", "--name", self.name, "--pin-dir", self.pin_root)
        self.assertEqual(attach.returncode, 0, attach.stdout + attach.stderr)

    def test_quarantine_sets_and_reset_clears_the_cgroup_flag(self):
        upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        self.addCleanup(upstream.server_close)
        self.addCleanup(upstream.shutdown)
        port = upstream.server_address[1]
        cgroup_id = os.stat(self.cgroup).st_ino
        overrides = {
            "egress": {"allow_cidrs": ["127.0.0.1/32"], "bare_ip": "allow_cidrs", "http_ports": [80, port]},
            "trust": {"initial": 250, "penalties": {"egress_blocked": 100}},
            "kernel_guard": {"enabled": True, "pin_dir": self.pin_root, "name": self.name,
                             "agent_cgroup": self.cgroup},
        }
        self.assertEqual(quarantined_ids(self.pin_root, self.name), [])
        with Sallyport(overrides) as sp:
            proxy = sp.ports["proxy"]
            self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"), (200, ""))
            self.assertEqual(quarantined_ids(self.pin_root, self.name), [], "flag set before quarantine")
            self.assertEqual(via_proxy(proxy, "http://blocked.sallyport.test/"), (403, "blocklist:urlhaus"))
            self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"), (403, "trust:quarantined"))
            self.assertEqual(quarantined_ids(self.pin_root, self.name), [cgroup_id],
                             "quarantine tier must set the kernel flag for the agent cgroup\n" + sp.log())
            self.assertEqual(metric(sp, "sallyport_kernel_quarantine_flag"), 1)
            self.assertEqual(metric(sp, 'sallyport_kernel_quarantine_updates_total{action="set",result="ok"}'), 1)

            auth = {"Authorization": "Bearer " + sp.token, "Content-Type": "application/json"}
            status, _, body = request("POST", sp.admin + "/admin/trust", headers=auth,
                                      body=json.dumps({"action": "reset", "reason": "reviewed", "score": 600}).encode())
            self.assertEqual(status, 200, body)
            self.assertEqual(quarantined_ids(self.pin_root, self.name), [], "reset must clear the kernel flag")
            self.assertEqual(metric(sp, "sallyport_kernel_quarantine_flag"), 0)
            self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"), (200, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
