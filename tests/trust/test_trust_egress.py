"""Trust drives egress: blocked proxy requests lower the agent's score; in the quarantine tier
every destination is denied (trust:quarantined) until an operator resets the score through the
admin API. Each step is in the audit log, which still verifies. Loopback only."""
import http.server
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sallyport_harness import BIN, Sallyport  # noqa: E402
from sallyport_harness import http as request  # noqa: E402


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from upstream\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def via_proxy(proxy_port, url):
    """curl through the proxy; returns (status, deny reason header or '')."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                          "-x", f"http://127.0.0.1:{proxy_port}", url],
                         capture_output=True, text=True, timeout=20).stdout
    status = int(out.split()[1]) if out.startswith("HTTP/") else 0
    deny = ""
    for line in out.splitlines():
        if line.lower().startswith("x-sallyport-deny:"):
            deny = line.split(":", 1)[1].strip()
    return status, deny


class TrustQuarantinesEgress(unittest.TestCase):
    def test_blocked_egress_quarantines_then_reset_restores(self):
        upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        port = upstream.server_address[1]
        overrides = {
            "egress": {"allow_cidrs": ["127.0.0.1/32"], "bare_ip": "allow_cidrs", "http_ports": [80, port]},
            # One blocked request takes the agent from 250 to 150: below 200 is quarantine.
            "trust": {"initial": 250, "penalties": {"egress_blocked": 100}},
        }
        try:
            with Sallyport(overrides) as sp:
                proxy = sp.ports["proxy"]
                self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"), (200, ""))
                self.assertEqual(via_proxy(proxy, "http://blocked.sallyport.test/"),
                                 (403, "blocklist:urlhaus"))
                # Quarantined: the destination that was fine a moment ago is now denied.
                self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"),
                                 (403, "trust:quarantined"))
                metrics = request("GET", sp.admin + "/metrics")[2].decode()
                self.assertIn('sallyport_trust_tier{agent="default"} 0', metrics)
                self.assertIn('sallyport_trust_score{agent="default"} 150', metrics)
                auth = {"Authorization": "Bearer " + sp.token, "Content-Type": "application/json"}
                status, _, body = request("POST", sp.admin + "/admin/trust", headers=auth,
                                       body=json.dumps({"action": "reset", "reason": "reviewed",
                                                        "score": 600}).encode())
                self.assertEqual(status, 200, body)
                self.assertEqual(via_proxy(proxy, f"http://127.0.0.1:{port}/"), (200, ""))
                audit_dir = os.path.join(sp.path, "state", "audit")
                # After a clean stop the log is closed by a signed checkpoint and verifies.
                sp.stop()
                verify = subprocess.run([BIN, "audit", "verify", audit_dir], capture_output=True, text=True)
                self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
                records = []
                for name in sorted(os.listdir(audit_dir)):
                    if name.endswith(".jsonl"):
                        with open(os.path.join(audit_dir, name)) as f:
                            records += [json.loads(line) for line in f if line.strip()]
                reasons = [(r["kind"], r["reason"]) for r in records]
                self.assertIn(("egress", "blocklist:urlhaus"), reasons)
                self.assertIn(("egress", "trust:quarantined"), reasons)
                self.assertIn(("trust", "trust:tier-quarantined"), reasons)
        finally:
            upstream.shutdown()
            upstream.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
