"""`sallyport attest` end to end: the CLI statement verifies with the public key from keygen and
fails with a reason when tampered or checked against another key; the config digest changes
exactly when the config changes (not when only a secret's value does), the policy digest exactly
when the policy changes, the blocklist digest exactly when the blocklist changes; GET
/admin/attest on the running sidecar states the same digests and verifies. Loopback only."""
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sallyport_harness import Sallyport, run_cli  # noqa: E402
from sallyport_harness import http as request  # noqa: E402

POLICY = {"version": 1, "default": "allow",
          "rules": [{"name": "no-shell", "tool": "shell", "action": "deny"}]}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def digests(statement):
    return (statement["config"]["sha256"], statement["tool_policy"]["sha256"],
            statement["blocklist"]["sha256"])


class Attest(unittest.TestCase):
    def setUp(self):
        self.sp = Sallyport()
        self.base = self.sp.path
        self.feed = os.path.join(self.base, "feed.txt")
        self.policy = os.path.join(self.base, "policy.json")
        write(self.feed, "evil.attest.test\nbad.attest.test\n")
        write(self.policy, json.dumps(POLICY))
        self.sp.config["egress"] = {"feeds": [
            {"name": "urlhaus", "builtin": "default", "format": "auto"},
            {"name": "local", "file": self.feed, "format": "domains"}]}
        self.sp.config["policy"] = {"file": self.policy}
        # A pin dir of our own: guards other tests attach under /sys/fs/bpf are not ours.
        self.sp.config["kernel_guard"] = {"pin_dir": os.path.join(self.base, "bpf")}
        self.sp.write_config(self.sp.config)
        keygen = run_cli("keygen", "--config", self.sp.config_path)
        self.assertEqual(keygen.returncode, 0, keygen.stdout + keygen.stderr)
        self.pubkey = keygen.stdout.split("public_key ")[1].split()[0]
        self.key_id = keygen.stdout.split("key_id ")[1].split()[0]

    def tearDown(self):
        self.sp.stop()
        self.sp.__exit__(None, None, None)

    def attest(self):
        r = run_cli("attest", "--config", self.sp.config_path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def verify(self, statement_text, pubkey=None):
        path = os.path.join(self.base, "statement.json")
        write(path, statement_text)
        return run_cli("attest", "verify", path, "--pubkey", pubkey or self.pubkey)

    def test_cli_statement_verifies_and_digests_track_changes(self):
        s1 = self.attest()
        self.assertEqual(s1["format_version"], 1)
        self.assertEqual(s1["generated_by"], "cli")
        self.assertEqual(s1["identity"]["key_id"], self.key_id)
        self.assertEqual(s1["identity"]["public_key"], self.pubkey)
        self.assertEqual(s1["tool_policy"]["file"], self.policy)
        self.assertEqual(s1["audit_head"], {})  # the sidecar never ran: no record yet
        self.assertFalse(s1["kernel_guard"]["attached"])
        self.assertTrue(s1["kernel_guard"]["reason"])
        feeds = {f["name"]: f for f in s1["blocklist"]["feeds"]}
        self.assertEqual(feeds["local"]["domains"], 2)
        self.assertGreater(feeds["urlhaus"]["domains"], 0)
        self.assertIsNotNone(feeds["local"]["last_refresh"])

        ok = self.verify(json.dumps(s1))
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("signature valid", ok.stdout)
        pub_file = os.path.join(self.sp.config["state_dir"], "identity.ed25519.pub")
        self.assertEqual(self.verify(json.dumps(s1), pub_file).returncode, 0)

        # The human summary states the same digests.
        human = run_cli("attest", "--config", self.sp.config_path)
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertIn("config:       sha256 " + s1["config"]["sha256"], human.stdout)
        self.assertIn("blocklist:    sha256 " + s1["blocklist"]["sha256"], human.stdout)

        # Tampering, another key, garbage: exit 1 with a reason.
        tampered = json.loads(json.dumps(s1))
        tampered["blocklist"]["domains"] += 1
        bad = self.verify(json.dumps(tampered))
        self.assertEqual(bad.returncode, 1)
        self.assertIn("bad signature", bad.stdout)
        with tempfile.TemporaryDirectory() as other:
            other_key = run_cli("keygen", "--state-dir", other).stdout.split("public_key ")[1].split()[0]
        wrong = self.verify(json.dumps(s1), other_key)
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("wrong key", wrong.stdout)
        garbage = self.verify("{not json")
        self.assertEqual(garbage.returncode, 1)
        self.assertIn("malformed", garbage.stdout)
        self.assertEqual(self.verify(json.dumps(s1), "not-a-key").returncode, 2)

        # A secret's value changes (the admin token file): no digest changes.
        write(os.path.join(self.base, "token"), "another-admin-token-value\n")
        self.assertEqual(digests(self.attest()), digests(s1))
        # The policy file is re-spaced and its keys re-ordered: same policy, same digest.
        write(self.policy, json.dumps(dict(reversed(list(POLICY.items()))), indent=3))
        self.assertEqual(digests(self.attest()), digests(s1))

        # The config changes: only the config digest changes.
        self.sp.config["egress"]["deny"] = ["denied.attest.test"]
        self.sp.write_config(self.sp.config)
        s2 = self.attest()
        self.assertNotEqual(s2["config"]["sha256"], s1["config"]["sha256"])
        self.assertEqual(digests(s2)[1:], digests(s1)[1:])

        # The policy changes: only the policy digest changes.
        changed = dict(POLICY, rules=POLICY["rules"] + [
            {"name": "no-fetch", "tool": "fetch_url", "action": "require_approval"}])
        write(self.policy, json.dumps(changed))
        s3 = self.attest()
        self.assertNotEqual(s3["tool_policy"]["sha256"], s2["tool_policy"]["sha256"])
        self.assertEqual(s3["config"]["sha256"], s2["config"]["sha256"])
        self.assertEqual(s3["blocklist"]["sha256"], s2["blocklist"]["sha256"])

        # The blocklist changes: only the blocklist digest (and counts) change.
        write(self.feed, "evil.attest.test\nbad.attest.test\nnew.attest.test\n")
        s4 = self.attest()
        self.assertNotEqual(s4["blocklist"]["sha256"], s3["blocklist"]["sha256"])
        self.assertEqual(digests(s4)[:2], digests(s3)[:2])
        self.assertEqual({f["name"]: f for f in s4["blocklist"]["feeds"]}["local"]["domains"], 3)
        # Same entries in another order and case: same blocklist.
        write(self.feed, "NEW.attest.test\nbad.attest.test\nevil.attest.test.\n")
        self.assertEqual(self.attest()["blocklist"]["sha256"], s4["blocklist"]["sha256"])

    def test_admin_attest_matches_the_cli_and_follows_reloads(self):
        cli = self.attest()
        self.sp.start()
        try:
            url = self.sp.admin + "/admin/attest"
            status, _, _ = request("GET", url)
            self.assertEqual(status, 401)
            live = self.live(url)
            self.assertEqual(live["generated_by"], "admin-api")
            self.assertEqual(digests(live), digests(cli))
            self.assertEqual(live["identity"], cli["identity"])
            self.assertEqual(live["blocklist"]["feeds"][1]["domains"], 2)
            self.assertIn("seq", live["audit_head"])  # the start checkpoint at least
            ok = self.verify(json.dumps(live))
            self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)

            # The policy changes on disk: the live statement keeps the loaded policy until SIGHUP.
            write(self.policy, json.dumps(dict(POLICY, default="deny")))
            self.assertEqual(self.live(url)["tool_policy"]["sha256"], cli["tool_policy"]["sha256"])
            self.sp.signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline:
                live = self.live(url)
                if live["tool_policy"]["sha256"] != cli["tool_policy"]["sha256"]:
                    break
                time.sleep(0.1)
            self.assertEqual(live["tool_policy"]["sha256"], self.attest()["tool_policy"]["sha256"])
            self.assertNotEqual(live["tool_policy"]["sha256"], cli["tool_policy"]["sha256"])
        finally:
            self.sp.stop()
        # After shutdown the CLI reads the final head from the audit dir.
        final = self.attest()
        self.assertGreaterEqual(final["audit_head"]["seq"], live["audit_head"]["seq"])
        self.assertEqual(len(final["audit_head"]["hash"]), 64)

    def test_kernel_guard_state_is_stated(self):
        """Attaches the guard (observe mode) to an empty cgroup of our own with our own pin dir,
        so nothing else is affected; detached and removed in every case."""
        if os.geteuid() != 0:
            self.skipTest("attaching the kernel guard needs root")
        with open("/proc/mounts") as mounts:
            cg2 = next((f.split()[1] for f in mounts if f.split()[2] == "cgroup2"), None)
        if cg2 is None:
            self.skipTest("no cgroup2 mount")
        tag = f"sallyport-attest-{os.getpid()}"
        cgroup, pin_root = f"{cg2}/{tag}", f"/sys/fs/bpf/{tag}"
        self.sp.config["kernel_guard"] = {"pin_dir": pin_root, "name": "attest"}
        self.sp.write_config(self.sp.config)
        os.mkdir(cgroup)
        try:
            attach = run_cli("bpf", "attach", "--cgroup", cgroup, "--name", "attest",
                             "--pin-dir", pin_root, "--mode", "observe")
            self.assertEqual(attach.returncode, 0, attach.stdout + attach.stderr)
            guard = self.attest()["kernel_guard"]
            self.assertTrue(guard["attached"], guard)
            self.assertEqual(guard["name"], "attest")
            self.assertEqual(guard["mode"], "observe")
            self.assertEqual(guard["cgroup"].strip("/"), tag)
            self.assertGreater(guard["cgroup_id"], 0)
            self.assertIn("guard_connect4", guard["programs"])
            self.assertEqual(guard["programs"], sorted(guard["programs"]))
            mode = run_cli("bpf", "mode", "--name", "attest", "--pin-dir", pin_root, "enforce")
            self.assertEqual(mode.returncode, 0, mode.stdout + mode.stderr)
            enforced = self.attest()
            self.assertEqual(enforced["kernel_guard"]["mode"], "enforce")
            self.assertEqual(self.verify(json.dumps(enforced)).returncode, 0)
            human = run_cli("attest", "--config", self.sp.config_path).stdout
            self.assertIn("kernel guard: attest mode enforce on cgroup " + guard["cgroup"], human)
        finally:
            run_cli("bpf", "detach", "--name", "attest", "--pin-dir", pin_root)
            os.rmdir(cgroup)
        detached = self.attest()["kernel_guard"]
        self.assertFalse(detached["attached"])
        self.assertIn("attest", detached["reason"])

    def live(self, url):
        status, _, body = request("GET", url, headers={"Authorization": "Bearer " + self.sp.token})
        self.assertEqual(status, 200, body)
        return json.loads(body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
