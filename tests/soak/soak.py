#!/usr/bin/python3
"""Load and soak for sallyport (loopback only, bounded in count and time).

    soak.py tunnels [N]     hold N idle CONNECT tunnels (default SOAK_TUNNELS or 10000); report
                            RSS per tunnel; every tunnel still echoes; fds and RSS come back after
    soak.py slow            slowloris (proxy + gateway) and slow-read (proxy tunnel + gateway
                            stream) clients are dropped on time while a normal client is served
    soak.py mixed [SECS]    proxy tunnels + gateway streams (mock upstream) + audit for SECS
                            (default SOAK_SECONDS or 600); start/end RSS and fd counts; fails on
                            growth beyond SOAK_RSS_GROWTH_KIB / SOAK_FD_GROWTH

Prints one JSON summary line per mode (prefix "RESULT ") for reports. Raises RLIMIT_NOFILE for
itself and the sallyport it starts (which runs as UID 1001 when started as root)."""
import asyncio
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultlib import (BIN, RawServer, Router, SSE_HEAD, TempWork, chat, chunk, connect_via,  # noqa: E402
                      http, proc_fd_count, proc_rss_kib, provider, read_request, sse_event,
                      well_behaved)

ENV = {"FAULT_OPENAI_KEY": "sk-proj-soakTESTkey00000000000000000"}


def sanitized_binary():
    """True when sallyport was built with a sanitizer (scripts/test-sanitizers runs this suite
    on the ASan build): its RSS is mostly shadow memory and the allocator's quarantine of freed
    blocks, so the RSS bounds are reported, not asserted; fd, error and liveness checks stay."""
    import subprocess
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    return any(f"lib{s}san.so" in out for s in ("a", "t", "ub"))


SANITIZED = sanitized_binary()


def assert_rss(ok, message):
    if SANITIZED:
        if not ok:
            print(f"NOTE (sanitizer build, not asserted): {message}", flush=True)
        return
    assert ok, message


def raise_nofile(n=1 << 17):
    """Raises the soft fd limit (inherited by sallyport) as far as allowed: to `n` with
    CAP_SYS_RESOURCE, else to the hard limit. Returns the limit in effect."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (n, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            return want
        except (ValueError, OSError):
            continue
    return soft


async def echo_server_main():
    """`soak.py echo-server`: an asyncio echo target in its own process (its own fd budget);
    prints its port, runs until stdin closes."""
    raise_nofile()

    async def echo(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def router_for(work, extra=None, upstream_port=None):
    limits = {"max_connections": 30000, "max_connections_per_client": 30000}
    overrides = {"egress": {"connect_ports": [], "limits": limits},
                 "rate_limits": {"rpm": 1000000, "tpm": 10000000000, "max_concurrent": 256, "queue": 1024},
                 "budgets": {"per_request_tokens": 1000000, "daily_tokens": 100000000000}}
    if upstream_port:
        overrides["providers"] = [provider(upstream_port)]
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(overrides.get(k), dict):
            for kk, vv in v.items():
                if isinstance(vv, dict) and isinstance(overrides[k].get(kk), dict):
                    overrides[k][kk].update(vv)
                else:
                    overrides[k][kk] = vv
        else:
            overrides[k] = v
    return Router(work, overrides=overrides, env=ENV)


def result(mode, **figures):
    print("RESULT " + json.dumps({"mode": mode, **figures}), flush=True)


# ------------------------------------------------------------------------------------------------
async def tunnels_async(n):
    import subprocess
    target = subprocess.Popen([sys.executable, os.path.abspath(__file__), "echo-server"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    port = int(target.stdout.readline())
    with TempWork("sallyport-soak-tunnels-") as work:
        router = router_for(work, {"egress": {"connect_ports": [port],
                                              "limits": {"idle_timeout": "10m", "tunnel_lifetime": "1h"}}})
        router.config["log"]["level"] = "warn"  # 10k canonical lines would dominate the run
        router.write_config()
        router.start()
        try:
            await asyncio.sleep(1)
            base_rss, base_fds = router.rss_kib(), router.fds()
            sem = asyncio.Semaphore(256)
            tunnels = []
            failures = []

            async def open_one(i):
                async with sem:
                    try:
                        r, w = await asyncio.open_connection("127.0.0.1", router.ports["proxy"])
                        w.write(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port))
                        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
                        if not head.startswith(b"HTTP/1.1 200"):
                            failures.append(head[:80])
                            w.close()
                            return
                        tunnels.append((r, w))
                    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                        failures.append(repr(e))

            t0 = time.time()
            await asyncio.gather(*(open_one(i) for i in range(n)))
            open_s = time.time() - t0
            assert not failures, f"{len(failures)} tunnels failed, e.g. {failures[:3]}"
            await asyncio.sleep(2)
            held_rss, held_fds = router.rss_kib(), router.fds()
            # Idle for a while: memory must not creep while nothing moves.
            await asyncio.sleep(float(os.environ.get("SOAK_HOLD_SECONDS", "10")))
            later_rss = router.rss_kib()
            # Every 50th tunnel still carries bytes both ways.
            for r, w in tunnels[::50]:
                w.write(b"ping")
                assert await asyncio.wait_for(r.readexactly(4), 10) == b"ping"
            per_conn = (held_rss - base_rss) * 1024 / n
            for _, w in tunnels:
                w.close()
            deadline = time.time() + 30
            while time.time() < deadline and router.fds() > base_fds + 8:
                await asyncio.sleep(0.2)
            # The heap is trimmed when the last connection is released, just after its fds close.
            deadline = time.time() + 5
            while time.time() < deadline and router.rss_kib() - base_rss > (held_rss - base_rss) // 2:
                await asyncio.sleep(0.2)
            after_fds, after_rss = router.fds(), router.rss_kib()
            figures = dict(tunnels=n, open_seconds=round(open_s, 1), base_rss_kib=base_rss,
                           held_rss_kib=held_rss, held_after_idle_kib=later_rss,
                           rss_bytes_per_tunnel=round(per_conn), base_fds=base_fds, held_fds=held_fds,
                           after_close_fds=after_fds, after_close_rss_kib=after_rss)
            result("tunnels", **figures)
            max_per_conn = int(os.environ.get("SOAK_MAX_BYTES_PER_TUNNEL", "32768"))
            assert_rss(per_conn < max_per_conn, f"{per_conn:.0f} bytes RSS per idle tunnel > {max_per_conn}")
            assert held_fds >= base_fds + 2 * n - 16, f"expected ~2 fds per tunnel: {held_fds} vs {base_fds}"
            assert_rss(later_rss - held_rss < 8 * 1024 + held_rss // 50, f"RSS crept while idle: {held_rss} -> {later_rss}")
            assert after_fds <= base_fds + 8, f"fds not released after close: {base_fds} -> {after_fds}"
            # Once idle again the proxy hands the burst's memory back (malloc_trim): RSS must fall
            # at least halfway back to where it was before the tunnels opened.
            assert_rss(after_rss - base_rss <= (held_rss - base_rss) // 2,
                       f"memory not returned after the tunnels closed: {base_rss} -> {held_rss} -> {after_rss} KiB")
            assert router.proc.poll() is None
        finally:
            router.stop()
            target.stdin.close()
            target.wait(timeout=30)


def mode_tunnels(n):
    limit = raise_nofile()
    # sallyport holds two fds per tunnel (agent side + origin side) plus a few dozen of its own.
    feasible = (limit - 100) // 2
    if n > feasible:
        print(f"NOTE: RLIMIT_NOFILE is {limit} here (hard limit, no CAP_SYS_RESOURCE): "
              f"{n} tunnels need {2 * n + 100} fds in sallyport; holding {feasible} instead", flush=True)
        n = feasible
    asyncio.run(tunnels_async(n))


# ------------------------------------------------------------------------------------------------
def timed_close(sock, limit):
    """Seconds until the peer closes `sock` (recv returns b"" or errors), at most `limit`."""
    t0 = time.time()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return None
    except OSError:
        pass
    return time.time() - t0


def mode_slow():
    raise_nofile()
    header_timeout, idle_timeout = 2.0, 3.0

    def echo(conn, stopping):
        while data := conn.recv(65536):
            conn.sendall(data)

    def firehose(conn, stopping):  # a target that pushes bytes no matter what
        block = b"x" * 65536
        while not stopping.is_set():
            conn.sendall(block)

    def stream_forever(conn, stopping):  # an upstream that streams events until cut off
        read_request(conn)
        conn.sendall(SSE_HEAD)
        ev = chunk(sse_event("y" * 4000))
        while not stopping.is_set():
            conn.sendall(ev)

    echo_srv, hose, up_ok, up_hose = RawServer(echo), RawServer(firehose), RawServer(well_behaved), RawServer(stream_forever)
    with TempWork("sallyport-soak-slow-") as work:
        router = router_for(work, {
            "egress": {"connect_ports": [echo_srv.port, hose.port],
                       "limits": {"header_timeout": "2s", "idle_timeout": "3s"}},
            "providers": [provider(up_ok.port, "ok", ["gpt-*"]), provider(up_hose.port, "hose", ["hose-*"])],
            "gateway": {"idle_timeout": "3s", "first_byte_timeout": "5s"}})
        router.start()
        socks = []
        try:
            chat(router)  # warm the upstream pool so the baseline includes it
            time.sleep(0.3)
            base_rss, base_fds = router.rss_kib(), router.fds()
            # 300 slowloris clients on the proxy, 100 on the gateway: one header byte per second.
            for i in range(400):
                port = router.ports["proxy"] if i < 300 else router.ports["gateway"]
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n" % echo_srv.port if i < 300
                          else b"POST /v1/chat/completions HTTP/1.1\r\n")
                socks.append(s)
            # 20 slow readers on a firehose tunnel and 10 on an endless gateway stream.
            readers = []
            for _ in range(20):
                s, status, _ = connect_via(router.ports["proxy"], f"127.0.0.1:{hose.port}")
                assert status == 200
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                readers.append(s)
            body = json.dumps({"model": "hose-1", "stream": True, "max_tokens": 10,
                               "messages": [{"role": "user", "content": "hi"}]}).encode()
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", router.ports["gateway"]))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                readers.append(s)
            t_start = time.time()
            # A normal client is served promptly throughout.
            normal = []
            while time.time() - t_start < 2.5:
                for s in socks:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                t0 = time.time()
                ps, status, _ = connect_via(router.ports["proxy"], f"127.0.0.1:{echo_srv.port}", timeout=5)
                ps.sendall(b"ping")
                assert status == 200 and ps.recv(4) == b"ping"
                ps.close()
                status, _, _ = chat(router, timeout=5)
                assert status == 200
                normal.append(time.time() - t0)
                time.sleep(0.3)
            # Every slow client must be closed by the server within its timeout (+ slack).
            loris_close = [timed_close(s, header_timeout + idle_timeout + 5) for s in socks]
            loris_proxy, loris_gw = loris_close[:300], loris_close[300:]
            assert all(c is not None for c in loris_proxy), f"{loris_proxy.count(None)} proxy slowloris still open"
            assert all(c is not None for c in loris_gw), f"{loris_gw.count(None)} gateway slowloris still open"
            # Slow readers never read (zero window). The kernel may keep an orphaned socket in
            # FIN-WAIT-1 with its queued bytes after sallyport closed it, so "dropped" is judged on
            # sallyport's side: its fds come back to the baseline (listeners + pooled upstreams).
            # Dropped one idle period after the kernel buffers fill; filling ~4 MiB per socket from
            # a Python upstream takes seconds, hence the slack.
            drop_deadline = t_start + 4 * idle_timeout + 10
            while time.time() < drop_deadline and router.fds() > base_fds + 4:
                time.sleep(0.2)
            held = router.fds() - base_fds
            dropped_after = round(time.time() - t_start, 1)
            slow_read_open = max(0, held - 4) // 2  # two fds per held tunnel / stream
            total = time.time() - t_start
            rss = router.rss_kib()
            figures = dict(slowloris_proxy=300, slowloris_gateway=100, slow_readers=len(readers),
                           slow_readers_not_dropped=slow_read_open, all_dropped_after_s=dropped_after,
                           base_fds=base_fds, fds_after=base_fds + held,
                           max_normal_latency_s=round(max(normal), 3), normal_requests=len(normal),
                           rss_before_kib=base_rss, rss_after_kib=rss, seconds=round(total, 1))
            result("slow", **figures)
            assert slow_read_open == 0, f"{slow_read_open} slow readers were never dropped"
            assert max(normal) < 1.5, f"a normal client waited {max(normal):.2f}s behind slow clients"
            assert_rss(rss - base_rss < 64 * 1024, f"slow readers grew RSS by {rss - base_rss} KiB")
        finally:
            for s in socks:
                s.close()
            router.stop()
            for srv in (echo_srv, hose, up_ok, up_hose):
                srv.stop()


# ------------------------------------------------------------------------------------------------
def mode_mixed(seconds):
    raise_nofile()

    def echo(conn, stopping):
        while data := conn.recv(65536):
            conn.sendall(data)

    echo_srv, upstream = RawServer(echo), RawServer(well_behaved)
    with TempWork("sallyport-soak-mixed-") as work:
        # idle_timeout above the soak: the 200 long-lived tunnels must live through all of it.
        router = router_for(work, {"egress": {"connect_ports": [echo_srv.port],
                                              "limits": {"idle_timeout": "24h", "tunnel_lifetime": "24h"}},
                                   "audit": {"rotate": {"max_bytes": 4 * 1024 * 1024}}}, upstream_port=upstream.port)
        router.config["log"]["level"] = "warn"
        router.write_config()
        router.start()
        stop = threading.Event()
        counts = {"tunnels": 0, "gateway": 0, "errors": 0}
        lock = threading.Lock()
        idle = []

        def count(key):
            with lock:
                counts[key] += 1

        def tunnel_worker():
            while not stop.is_set():
                try:
                    s, status, _ = connect_via(router.ports["proxy"], f"127.0.0.1:{echo_srv.port}", timeout=10)
                    for _ in range(5):
                        s.sendall(b"ping" * 64)
                        got = b""
                        while len(got) < 256:
                            got += s.recv(256 - len(got))
                    s.close()
                    count("tunnels" if status == 200 else "errors")
                except OSError:
                    count("errors")

        def gateway_worker(stream):
            while not stop.is_set():
                try:
                    status, _, body = chat(router, stream=stream, timeout=10)
                    count("gateway" if status == 200 and (not stream or b"[DONE]" in body) else "errors")
                except OSError:
                    count("errors")

        threads = [threading.Thread(target=tunnel_worker) for _ in range(3)]
        threads += [threading.Thread(target=gateway_worker, args=(i % 2 == 0,)) for i in range(4)]
        samples = []
        try:
            for _ in range(200):  # long-lived idle tunnels alongside the churn
                s, status, _ = connect_via(router.ports["proxy"], f"127.0.0.1:{echo_srv.port}")
                assert status == 200
                idle.append(s)
            for t in threads:
                t.start()
            t0 = time.time()
            warmup = max(5.0, seconds * 0.1)
            start = None
            while time.time() - t0 < seconds:
                time.sleep(min(5.0, max(0.5, seconds / 60)))
                sample = (round(time.time() - t0, 1), router.rss_kib(), router.fds())
                samples.append(sample)
                if start is None and sample[0] >= warmup:
                    start = sample
            stop.set()
            for t in threads:
                t.join()
            time.sleep(2)
            end = (round(time.time() - t0, 1), router.rss_kib(), router.fds())
            start = start or samples[0]
            peak = max(s[1] for s in samples)
            figures = dict(seconds=seconds, tunnels=counts["tunnels"], gateway_requests=counts["gateway"],
                           errors=counts["errors"], idle_tunnels=len(idle),
                           start_rss_kib=start[1], end_rss_kib=end[1], peak_rss_kib=peak,
                           start_fds=start[2], end_fds=end[2],
                           audit_records=int(router.metric("sallyport_audit_records_total")),
                           audit_dropped=int(router.metric("sallyport_audit_dropped_total")))
            result("mixed", **figures)
            for s in idle[::20]:
                s.sendall(b"ping")
                assert s.recv(4) == b"ping", "an idle tunnel died during the soak"
            rss_bound = int(os.environ.get("SOAK_RSS_GROWTH_KIB", "32768"))
            fd_bound = int(os.environ.get("SOAK_FD_GROWTH", "16"))
            assert_rss(end[1] - start[1] <= rss_bound, f"RSS grew {end[1] - start[1]} KiB > {rss_bound}")
            assert end[2] - start[2] <= fd_bound, f"fds grew {start[2]} -> {end[2]}"
            assert counts["errors"] <= (counts["tunnels"] + counts["gateway"]) // 1000, counts
            assert figures["audit_dropped"] == 0
            for s in idle:
                s.close()
            router.stop()
            verify = router.verify_audit()
            assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
        finally:
            stop.set()
            for s in idle:
                s.close()
            router.stop()
            echo_srv.stop()
            upstream.stop()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "tunnels"
    if mode == "echo-server":
        asyncio.run(echo_server_main())
        sys.exit(0)
    if mode == "tunnels":
        mode_tunnels(int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("SOAK_TUNNELS", "10000")))
    elif mode == "slow":
        mode_slow()
    elif mode == "mixed":
        mode_mixed(float(sys.argv[2]) if len(sys.argv) > 2 else float(os.environ.get("SOAK_SECONDS", "600")))
    else:
        sys.exit(f"unknown mode {mode!r}: tunnels | slow | mixed")
    print("PASS " + mode)
