"""Foundation: CLI exit codes, admin auth, /metrics through promtool, SIGTERM drain and SIGHUP
reload on a running process. Real sockets on loopback only."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sallyport_harness import BIN, SOURCE_DIR, Sallyport, http, run_cli  # noqa: E402


class Cli(unittest.TestCase):
    def test_version(self):
        r = run_cli("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^sallyport \d+\.\d+\.\d+")

    def test_help_everywhere(self):
        for args in (["--help"], ["run", "--help"], ["check-config", "--help"],
                     ["blocklist", "--help"], ["audit", "--help"], ["bpf", "--help"]):
            r = run_cli(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("Usage", r.stdout, args)

    def test_unknown_command_is_usage_error(self):
        self.assertEqual(run_cli("frobnicate").returncode, 2)
        self.assertEqual(run_cli().returncode, 2)

    def test_check_config_good_and_bad(self):
        good = run_cli("check-config", os.path.join(SOURCE_DIR, "config", "default.json"))
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        self.assertIn("OK", good.stdout)
        bad_dir = os.path.join(SOURCE_DIR, "config", "test", "bad")
        for name in sorted(os.listdir(bad_dir)):
            r = run_cli("check-config", os.path.join(bad_dir, name))
            self.assertEqual(r.returncode, 1, name)
            self.assertIn(name, r.stdout)

    def test_check_config_prints_every_error_with_pointer(self):
        with open("/tmp/sallyport-two-errors.json", "w") as f:
            json.dump({"log": {"level": "loud"}, "egress": {"mode": "open", "x": 1}}, f)
        r = run_cli("check-config", "/tmp/sallyport-two-errors.json")
        os.unlink("/tmp/sallyport-two-errors.json")
        self.assertEqual(r.returncode, 1)
        for pointer in ("/log/level", "/egress/mode", "/egress/x"):
            self.assertIn(pointer, r.stdout)
        self.assertIn("3 errors", r.stdout)

    def test_run_with_bad_config_exits_nonzero_with_reason(self):
        with open("/tmp/sallyport-bad-run.json", "w") as f:
            f.write('{"listeners": {"proxy": "nope"}}')
        r = run_cli("run", "--config", "/tmp/sallyport-bad-run.json")
        os.unlink("/tmp/sallyport-bad-run.json")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/listeners/proxy", r.stdout)


class Admin(unittest.TestCase):
    def test_token_required_for_admin_endpoints(self):
        with Sallyport() as sp:
            status, headers, _ = http("GET", sp.admin + "/admin/config")
            self.assertEqual(status, 401)
            self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))
            status, _, _ = http("GET", sp.admin + "/admin/config",
                                headers={"Authorization": "Bearer wrong-token"})
            self.assertEqual(status, 401)
            status, _, _ = http("GET", sp.admin + "/admin/config",
                                headers={"Authorization": "Bearer " + sp.token + "x"})
            self.assertEqual(status, 401)
            status, _, body = http("GET", sp.admin + "/admin/config",
                                   headers={"Authorization": "Bearer " + sp.token})
            self.assertEqual(status, 200)
            effective = json.loads(body)
            self.assertEqual(effective["listeners"]["admin"], f"127.0.0.1:{sp.ports['admin']}")
            # The token file is shown as a reference, never its value.
            self.assertNotIn(sp.token, body.decode())
            self.assertNotIn(sp.token, sp.log())

    def test_no_token_configured_means_admin_closed(self):
        with Sallyport(token=None) as sp:
            status, _, body = http("GET", sp.admin + "/admin/config",
                                   headers={"Authorization": "Bearer anything"})
            self.assertEqual(status, 401)
            self.assertIn(b"no admin token configured", body)

    def test_health_ready_and_metrics_through_promtool(self):
        with Sallyport() as sp:
            self.assertEqual(http("GET", sp.admin + "/healthz")[0], 200)
            status, _, body = http("GET", sp.admin + "/readyz")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["status"], "ready")
            http("GET", sp.admin + "/admin/config")  # a 401 to count
            status, headers, body = http("GET", sp.admin + "/metrics")
            self.assertEqual(status, 200)
            self.assertIn("text/plain", headers["Content-Type"])
            text = body.decode()
            self.assertIn("sallyport_build_info", text)
            self.assertIn('sallyport_admin_requests_total{code="401",route="/admin"} 1', text)
            check = subprocess.run(["promtool", "check", "metrics"], input=body,
                                   capture_output=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertEqual(check.stdout + check.stderr, b"", "promtool lint findings")

    def test_unknown_paths_and_methods(self):
        with Sallyport() as sp:
            self.assertEqual(http("GET", sp.admin + "/nope")[0], 404)
            self.assertEqual(http("POST", sp.admin + "/healthz", body=b"")[0], 405)
            auth = {"Authorization": "Bearer " + sp.token}
            self.assertEqual(http("GET", sp.admin + "/admin/nope", headers=auth)[0], 404)


def open_partial_request(port):
    """An admin connection with a request whose head is not finished yet (in-flight work)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return s


class Signals(unittest.TestCase):
    def test_sigterm_drains_in_flight_then_exits_zero(self):
        sp = Sallyport(extra_args=["--drain-timeout", "10"])
        with sp:
            conn = open_partial_request(sp.ports["admin"])
            time.sleep(0.2)
            sp.signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(sp.proc.poll(), "exited before the in-flight request finished")
            # New connections are refused once draining started.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", sp.ports["admin"]), timeout=1).close()
            conn.sendall(b"\r\n")
            reply = conn.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
            conn.close()
            self.assertEqual(sp.wait(timeout=5), 0)
            self.assertIn("shutting down", sp.log())

    def test_sigterm_drain_deadline_bounds_shutdown(self):
        sp = Sallyport(extra_args=["--drain-timeout", "1"])
        with sp:
            conn = open_partial_request(sp.ports["admin"])
            time.sleep(0.2)
            start = time.time()
            sp.signal(signal.SIGTERM)
            self.assertEqual(sp.wait(timeout=10), 0)
            self.assertLess(time.time() - start, 5)
            self.assertIn("drain deadline reached", sp.log())
            conn.close()

    def test_sighup_reload_good_and_bad(self):
        with Sallyport() as sp:
            auth_old = {"Authorization": "Bearer " + sp.token}
            self.assertEqual(http("GET", sp.admin + "/admin/config", headers=auth_old)[0], 200)
            # Good reload: a new token file takes over.
            new_token_path = os.path.join(sp.path, "token2")
            with open(new_token_path, "w") as f:
                f.write("rotated-admin-token-456\n")
            config = dict(sp.config)
            config["admin"] = {"token": {"file": new_token_path}}
            sp.write_config(config)
            sp.signal(signal.SIGHUP)
            auth_new = {"Authorization": "Bearer rotated-admin-token-456"}
            deadline = time.time() + 5
            while time.time() < deadline and http("GET", sp.admin + "/admin/config", headers=auth_new)[0] != 200:
                time.sleep(0.05)
            self.assertEqual(http("GET", sp.admin + "/admin/config", headers=auth_new)[0], 200)
            self.assertEqual(http("GET", sp.admin + "/admin/config", headers=auth_old)[0], 401)
            # Bad reload: rejected with a logged error; the running config stays.
            with open(sp.config_path, "w") as f:
                f.write('{"egress": {"mode": "wide-open"}}')
            sp.signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline and "reload rejected" not in sp.log():
                time.sleep(0.05)
            self.assertIn("reload rejected", sp.log())
            self.assertIn("/egress/mode", sp.log())
            self.assertEqual(http("GET", sp.admin + "/admin/config", headers=auth_new)[0], 200)
            metrics = http("GET", sp.admin + "/metrics")[2].decode()
            self.assertIn('sallyport_config_reloads_total{result="applied"} 1', metrics)
            self.assertIn('sallyport_config_reloads_total{result="rejected"} 1', metrics)
            self.assertIsNone(sp.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
