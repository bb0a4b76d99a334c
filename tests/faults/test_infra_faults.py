#!/usr/bin/python3
"""Fault injection on sallyport's own dependencies: DNS resolver silent, blocklist feed broken,
state dir read-only at start, SIEM receiver down then back, audit dir disk full (tmpfs, root
only), kill -9 under load then restart. Loopback only; everything is torn down on failure.
    test_infra_faults.py [case ...]"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

from faultlib import (AS_ROOT, MutableHttpServer, RawServer, Router, Skip, TempWork, chat, connect_via,
                      free_port, http, provider, run_cases, well_behaved)

ENV = {"FAULT_OPENAI_KEY": "sk-proj-faultTESTkey0000000000000000"}


def echo_server():
    """The CONNECT "origin": echoes every byte back."""
    def behaviour(conn, stopping):
        while not stopping.is_set():
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)
    return RawServer(behaviour)


def tunnel_ok(router, target_port):
    s, status, _ = connect_via(router.ports["proxy"], f"127.0.0.1:{target_port}", timeout=5)
    try:
        if status != 200:
            return status
        s.sendall(b"ping")
        return 200 if s.recv(16) == b"ping" else -1
    finally:
        s.close()


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ------------------------------------------------------------------------------------------------
def case_dns_timeout():
    """egress.resolvers → a loopback UDP port that never answers: CONNECT fails on time with a
    clear refusal, and a tunnel to an IP literal (no DNS) is served meanwhile."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    echo = echo_server()
    with TempWork("sallyport-fault-dns-") as work:
        router = Router(work, overrides={"egress": {
            "resolvers": [f"127.0.0.1:{silent.getsockname()[1]}"],
            "connect_ports": [443, echo.port], "limits": {"dns_timeout": "1s"}}})
        try:
            router.start()
            results = {}

            def slow():
                t0 = time.time()
                s, status, head = connect_via(router.ports["proxy"], "dns-timeout.example:443", timeout=15)
                s.close()
                results["slow"] = (status, head, time.time() - t0)

            threads = [threading.Thread(target=slow) for _ in range(20)]
            for t in threads:
                t.start()
            t0 = time.time()
            assert tunnel_ok(router, echo.port) == 200, "a client without DNS was starved"
            assert time.time() - t0 < 1, "the IP-literal tunnel waited behind the DNS lookups"
            for t in threads:
                t.join()
            status, head, took = results["slow"]
            assert status in (502, 504), head
            assert b"x-sallyport-error: dns:timeout" in head.lower(), head
            assert 0.8 < took < 4, f"dns_timeout 1s but the refusal took {took:.1f}s"
            assert silent.recv(4096), "the resolver never got a query (resolvers not used?)"
            print(f"  refusal after {took:.2f}s: {head.splitlines()[0].decode()} "
                  f"{[h.decode() for h in head.splitlines() if h.lower().startswith(b'x-sallyport-')]}")
            time.sleep(0.3)
            denies = [r for r in router.audit_records() if r["kind"] == "egress" and r["decision"] == "deny"
                      and r["detail"].get("host") == "dns-timeout.example"]
            assert len(denies) == 20, f"{len(denies)} of 20 DNS failures audited"
        finally:
            router.stop()
            echo.stop()
            silent.close()


# ------------------------------------------------------------------------------------------------
GOOD_FEED = "".join(f"evil-{i}.example\n" for i in range(40)).encode()


def case_blocklist_feed_faults():
    """A URL feed that answers 500, then empty, then HTML garbage, then a list 10x smaller: every
    bad copy is rejected, the last good list keeps blocking (also across a restart: cache), and a
    good new copy is still taken."""
    feed = MutableHttpServer(200, GOOD_FEED)
    with TempWork("sallyport-fault-feed-") as work:
        router = Router(work, overrides={"egress": {
            "feeds": [{"name": "testfeed", "url": f"http://127.0.0.1:{feed.port}/list.txt", "format": "auto"}]}})

        def denied(host):
            s, status, head = connect_via(router.ports["proxy"], f"{host}:443", timeout=5)
            s.close()
            return status == 403 and b"blocklist:testfeed" in head

        def reload_and_wait():
            hits = feed.hits
            router.proc.send_signal(1)  # SIGHUP: a fresh store loads from cache, then refetches
            wait_for(lambda: feed.hits > hits, 10, "the feed to be fetched again")
            time.sleep(0.5)

        cache = os.path.join(router.state_dir, "feeds")
        try:
            router.start()
            wait_for(lambda: denied("evil-7.example"), 10, "the feed to block evil-7.example")
            assert not denied("fine.example")
            for label, answer in (("HTTP 500", (500, b"oops")), ("empty 200", (200, b"")),
                                  ("HTML garbage", (200, b"<html><body>\x00\xff Service Unavailable</body></html>\n" * 80)),
                                  ("list 10x smaller", (200, b"evil-0.example\nevil-1.example\nevil-2.example\n"))):
                feed.answer = answer
                reload_and_wait()
                assert denied("evil-7.example") and denied("evil-39.example"), f"{label}: last good list lost"
                # Each SIGHUP builds a fresh store (cache load + refetch): its failure count is 1.
                failures = router.metric("sallyport_blocklist_feed_failures_total")
                assert failures >= 1, f"{label}: the rejected copy was not counted ({failures})"
                print(f"  {label}: rejected, last good kept")
            # Restart while the feed is down: the cached last good copy is enforced at once.
            feed.answer = (500, b"down")
            router.stop()
            router.start()
            assert denied("evil-7.example"), "restart with the feed down lost the list"
            # A good new copy is taken (the refresher is not stuck on the failures).
            feed.answer = (200, GOOD_FEED + b"evil-new.example\n")
            reload_and_wait()
            wait_for(lambda: denied("evil-new.example"), 10, "the new copy to be applied")
            assert os.path.isdir(cache) or any("feed" in n for n in os.listdir(router.state_dir))
        finally:
            router.stop()
            feed.stop()


# ------------------------------------------------------------------------------------------------
def case_state_dir_readonly():
    """state_dir not writable by the router's user: a clear start-up error and a non-zero exit,
    before any listener opens."""
    with TempWork("sallyport-fault-ro-") as work:
        router = Router(work)
        os.makedirs(router.state_dir)
        router.chown()
        os.chmod(router.state_dir, 0o555)
        if not AS_ROOT and os.access(router.state_dir, os.W_OK):
            raise Skip("cannot make a read-only dir for this user")
        router.start(wait_ready=False)
        rc = router.wait_exit(15)
        assert rc != 0, "sallyport started on a read-only state_dir"
        errors = [r for r in router.log_records() if r.get("level") == "error"]
        assert errors, router.log()
        first = errors[0]
        assert "state_dir" in json.dumps(first) and router.state_dir in json.dumps(first), first
        print(f"  exit {rc}: {first['msg']} ({first.get('error')})")
        # A read-only audit dir (state_dir fine) is a clear start-up error too.
        os.chmod(router.state_dir, 0o700)
        audit = os.path.join(work, "audit-ro")
        os.makedirs(audit)
        os.chmod(audit, 0o555)
        router.config["audit"] = {"dir": audit}
        router.write_config()
        os.chmod(audit, 0o555)
        router.start(wait_ready=False)
        rc = router.wait_exit(15)
        assert rc != 0, "sallyport started on a read-only audit dir"
        errors = [r for r in router.log_records() if r.get("level") == "error" and "audit" in json.dumps(r)]
        assert errors and audit in json.dumps(errors[-1]), router.log()[-2000:]
        print(f"  audit dir read-only: exit {rc}: {errors[-1]['msg']} ({errors[-1].get('error')})")


# ------------------------------------------------------------------------------------------------
class SiemReceiver:
    """HTTP JSON batch receiver on a fixed port; collects every record's seq."""

    def __init__(self, port):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        owner = self
        self.seqs = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.seqs.extend(r["seq"] for r in json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def case_siem_down_then_back():
    """The HTTP SIEM receiver is down while records are made and while sallyport restarts; when it
    comes back every committed seq arrives (at-least-once: duplicates allowed, gaps not)."""
    port = free_port()
    with TempWork("sallyport-fault-siem-") as work:
        router = Router(work, overrides={"audit": {"sinks": [
            {"name": "siem", "kind": "http", "url": f"http://127.0.0.1:{port}/ingest", "batch": 50}]}})
        receiver = None
        try:
            router.start()
            for i in range(60):  # denied CONNECTs: one audit record each, no upstream needed
                s, status, _ = connect_via(router.ports["proxy"], f"blocked-{i}.tk:443")
                s.close()
                assert status == 403
            time.sleep(1)
            lag = router.metric("sallyport_siem_lag_records")
            assert lag >= 60, f"SIEM lag should show the undelivered records, got {lag}"
            router.stop()  # restart while the receiver is still down: the cursor must survive
            router.start()
            for i in range(20):
                s, _, _ = connect_via(router.ports["proxy"], f"blocked-again-{i}.tk:443")
                s.close()
            time.sleep(0.5)
            receiver = SiemReceiver(port)
            wait_for(lambda: router.metric("sallyport_siem_lag_records") == 0, 45, "the SIEM lag to drain")
            # Everything committed so far (both runs, incl. the first run's shutdown checkpoint).
            # The final checkpoint of a stop is shipped at the next start (persistent cursor).
            time.sleep(0.5)
            on_disk = {r["seq"] for r in router.audit_records()}
            wait_for(lambda: on_disk <= set(receiver.seqs), 10, "every committed record to arrive")
            missing = sorted(on_disk - set(receiver.seqs))
            assert not missing, f"records never delivered: {missing[:20]}"
            dups = len(receiver.seqs) - len(set(receiver.seqs))
            print(f"  {len(on_disk)} records on disk, all delivered ({dups} duplicates)")
        finally:
            router.stop()
            if receiver:
                receiver.stop()


# ------------------------------------------------------------------------------------------------
class Tmpfs:
    def __init__(self, path, size):
        self.path = path
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path], check=True)
        subprocess.run(["chown", "1001:1001", path], check=True)

    def fill(self):
        filler = os.path.join(self.path, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def close(self):
        subprocess.run(["umount", "-l", self.path], check=False)


def disk_full_run(on_failure):
    echo = echo_server()
    upstream = RawServer(well_behaved)
    with TempWork("sallyport-fault-disk-") as work:
        fs = Tmpfs(os.path.join(work, "auditfs"), "4m")
        router = Router(work, overrides={
            "audit": {"dir": fs.path, "on_failure": on_failure, "fsync": "record"},
            "egress": {"connect_ports": [echo.port]},
            "providers": [provider(upstream.port)]}, env=ENV)
        try:
            router.start()
            ok_before = sum(tunnel_ok(router, echo.port) == 200 for _ in range(5))
            assert ok_before == 5
            filler = fs.fill()
            outcomes = []
            for _ in range(60):
                s, status, head = connect_via(router.ports["proxy"], f"127.0.0.1:{echo.port}", timeout=5)
                s.close()
                outcomes.append((status, head))
                if status == 503:
                    break
                time.sleep(0.05)
            statuses = [o[0] for o in outcomes]
            allowed_during = statuses.count(200)
            if on_failure == "fail_closed":
                assert statuses[-1] == 503, f"no 503 while the audit disk is full: {statuses}"
                head = outcomes[-1][1].decode()
                assert "policy:unavailable" in head and "audit" in head, head
                gw_status, _, gw_body = chat(router)
                err = json.loads(gw_body)["error"]
                assert gw_status == 503 and err["code"] == "audit_unavailable", (gw_status, gw_body)
                assert http("GET", router.admin + "/readyz")[0] == 503, "readyz should fail while audit is down"
                print(f"  disk full: {allowed_during} tunnel(s) allowed before the writer noticed, then 503: "
                      f"{head.splitlines()[0]} / gateway 503 {err['message']!r}")
            else:
                time.sleep(0.5)
                statuses += [tunnel_ok(router, echo.port) for _ in range(10)]
                assert all(s == 200 for s in statuses), f"fail_open must keep serving: {statuses}"
                assert chat(router)[0] == 200
                dropped = router.metric("sallyport_audit_dropped_total")
                assert dropped > 0, "fail_open: dropped records must be counted"
                print(f"  fail_open: {len(statuses)} tunnels served on a full disk, {dropped:.0f} records dropped (counted)")
            os.unlink(filler)
            wait_for(lambda: tunnel_ok(router, echo.port) == 200, 40, "recovery after the disk has room")
            assert chat(router)[0] == 200
            ok_after = sum(tunnel_ok(router, echo.port) == 200 for _ in range(5)) + 1
            router.stop()
            verify = router.verify_audit()
            assert verify.returncode == 0, verify.stdout + verify.stderr
            allows = [r for r in router.audit_records() if r["kind"] == "egress" and r["decision"] == "allow"]
            expected = ok_before + allowed_during + ok_after
            if on_failure == "fail_closed":
                # Every tunnel that was allowed has its record: none was served unaudited.
                assert len(allows) >= expected, f"{len(allows)} allow records for {expected} tunnels served"
            print(f"  recovered; audit verify OK; {len(allows)} allow records for {expected}+ tunnels")
        finally:
            router.stop()
            fs.close()
            echo.stop()
            upstream.stop()


def case_audit_disk_full():
    if not AS_ROOT:
        raise Skip("mounting a tmpfs needs root")
    disk_full_run("fail_closed")
    disk_full_run("fail_open")


# ------------------------------------------------------------------------------------------------
def case_kill9_under_load():
    """kill -9 while gateway streams, JSON requests and tunnels run; restart: the budget charges at
    least every completed request (in-flight reservations charged, never lost), the audit chain
    verifies (torn tail quarantined) and holds the committed records; the process serves again."""
    echo = echo_server()
    upstream = RawServer(well_behaved)
    with TempWork("sallyport-fault-kill9-") as work:
        router = Router(work, overrides={
            "egress": {"connect_ports": [echo.port]}, "providers": [provider(upstream.port)],
            "budgets": {"per_request_tokens": 100000, "daily_tokens": 100000000},
            "rate_limits": {"rpm": 1000000, "tpm": 1000000000, "max_concurrent": 64, "queue": 256}}, env=ENV)
        stop = threading.Event()
        counts = {"ok": 0, "started": 0, "tunnels": 0}
        lock = threading.Lock()

        def gateway_load(stream):
            while not stop.is_set():
                with lock:
                    counts["started"] += 1
                try:
                    status, _, body = chat(router, stream=stream, timeout=5)
                except OSError:
                    continue
                if status == 200 and (not stream or b"[DONE]" in body):
                    with lock:
                        counts["ok"] += 1

        def proxy_load():
            while not stop.is_set():
                try:
                    if tunnel_ok(router, echo.port) == 200:
                        with lock:
                            counts["tunnels"] += 1
                except OSError:
                    pass

        try:
            router.start()
            threads = [threading.Thread(target=gateway_load, args=(i % 2 == 0,)) for i in range(6)]
            threads += [threading.Thread(target=proxy_load) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(3)
            router.kill9()
            stop.set()
            for t in threads:
                t.join()
            ok, started = counts["ok"], counts["started"]
            assert ok > 20, f"too little load before the kill: {counts}"
            router.start()
            status, _, body = router.admin_get("/admin/budget")
            budget = json.loads(body)
            spent = budget["spent_today"]
            reserve_each = 50 + 64  # max_tokens 50 + a generous prompt estimate
            assert spent >= 15 * ok, f"budget lost charges: spent {spent} < 15 x {ok} completed"
            assert spent <= 15 * ok + reserve_each * (started - ok), f"budget over-charged: {spent} {counts}"
            assert budget["reserved_in_flight"] == 0, budget
            assert chat(router)[0] == 200 and tunnel_ok(router, echo.port) == 200
            router.stop()
            verify = router.verify_audit()
            assert verify.returncode == 0, verify.stdout + verify.stderr
            records = router.audit_records()
            model_ok = sum(1 for r in records if r["kind"] == "model_request" and r["decision"] == "allow")
            # Records still in the writer's queue at the kill (not yet written) are the only loss:
            # bounded by the requests in flight, never a committed record (verify checks the chain).
            assert model_ok >= ok + 1 - 8, f"{model_ok} audited model requests for {ok} completed"
            print(f"  before kill: {counts}; after restart: spent {spent} tokens "
                  f"(>= {15 * ok}), audit verify OK, {model_ok} model_request records")
        finally:
            stop.set()
            router.stop()
            echo.stop()
            upstream.stop()


CASES = {
    "dns_timeout": case_dns_timeout,
    "blocklist_feed_faults": case_blocklist_feed_faults,
    "state_dir_readonly": case_state_dir_readonly,
    "siem_down_then_back": case_siem_down_then_back,
    "audit_disk_full": case_audit_disk_full,
    "kill9_under_load": case_kill9_under_load,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
