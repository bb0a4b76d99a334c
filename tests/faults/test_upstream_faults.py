#!/usr/bin/python3
"""Fault injection on the inference gateway's upstream (a raw loopback TCP "provider"):
reset mid-stream, never answers, garbage status line, huge headers, an endless SSE line.
Each fault must end in a clear OpenAI-shaped error, on time, with bounded memory, an audit
record of the failure, and a gateway that still serves the next request.
    test_upstream_faults.py [case ...]"""
import json
import sys
import threading
import time

from faultlib import (SSE_HEAD, Router, RawServer, TempWork, chat, chunk, provider, read_request,
                      reset, run_cases, sse_event, well_behaved)

ENV = {"FAULT_OPENAI_KEY": "sk-proj-faultTESTkey0000000000000000"}
TIMEOUTS = {"connect_timeout": "1s", "first_byte_timeout": "2s", "idle_timeout": "2s"}


def with_gateway(behaviour, body):
    """Runs body(router, bad, good) with model gpt-bad on the faulty upstream and gpt-good on a
    well-behaved one: the second proves the gateway still serves after the fault."""
    bad, good = RawServer(behaviour), RawServer(well_behaved)
    with TempWork("sallyport-fault-up-") as work:
        router = Router(work, overrides={
            "providers": [provider(bad.port, "bad", ["gpt-bad"]), provider(good.port, "good", ["gpt-good"])],
            "gateway": TIMEOUTS}, env=ENV)
        try:
            router.start()
            body(router, bad)
            status, _, answer = chat_model(router, "gpt-good", stream=False)
            assert status == 200, f"gateway did not serve a healthy upstream after the fault: {status} {answer[:200]}"
            status, _, answer = chat_model(router, "gpt-good", stream=True)
            assert status == 200 and b"[DONE]" in answer, f"stream after the fault: {status} {answer[:200]}"
        finally:
            router.stop()
            bad.stop()
            good.stop()


def chat_model(router, model, stream, timeout=30):
    from faultlib import http
    body = json.dumps({"model": model, "stream": stream, "max_tokens": 50,
                       "messages": [{"role": "user", "content": "hello"}]}).encode()
    return http("POST", router.gateway + "/v1/chat/completions", body,
                {"Content-Type": "application/json", "Authorization": "Bearer sk-dummy"}, timeout=timeout)


def error_of(answer):
    try:
        return json.loads(answer)["error"]
    except (ValueError, KeyError, TypeError):
        return None


def upstream_audit(router):
    time.sleep(0.3)  # group commit
    return [r for r in router.audit_records() if r.get("kind") == "model_request" and r.get("decision") == "deny"]


def reservation_released(router):
    status, _, body = router.admin_get("/admin/budget")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["reserved_in_flight"] == 0 and doc["in_flight_requests"] == 0, \
        f"a failed request left tokens reserved: {doc}"


# ------------------------------------------------------------------------------------------------
def case_reset_mid_stream():
    def behaviour(conn, stopping):
        req = read_request(conn)
        if b'"stream":true' in req.replace(b" ", b""):
            conn.sendall(SSE_HEAD + chunk(sse_event("partial ")))
        else:  # a JSON answer announced as 4000 bytes, cut after 20
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 4000\r\n\r\n{\"id\": \"c1\", \"choi")
        time.sleep(0.2)
        reset(conn)

    def body(router, bad):
        t0 = time.time()
        status, _, answer = chat_model(router, "gpt-bad", stream=True)
        took = time.time() - t0
        assert took < 5, f"reset mid-stream took {took:.1f}s to surface"
        # Headers were already sent (200): the stream must end with a clear error event, no [DONE].
        assert status == 200, status
        assert b"partial " in answer, answer[:300]
        assert b"[DONE]" not in answer, "a broken stream must not look complete"
        assert b"upstream" in answer and b"error" in answer, f"no error event after the reset: {answer[-300:]}"
        # Non-streamed: the reset before the body ends is a 502 (retried, then reported).
        status, _, answer = chat_model(router, "gpt-bad", stream=False)
        assert status == 502 and error_of(answer), f"{status} {answer[:300]}"
        denies = upstream_audit(router)
        assert len(denies) >= 2, f"upstream failures not audited: {denies}"
        assert all(r["reason"].startswith("upstream:") for r in denies), denies
        reservation_released(router)

    with_gateway(behaviour, body)


def case_never_answers():
    def behaviour(conn, stopping):
        read_request(conn)
        stopping.wait(60)

    def body(router, bad):
        for stream in (False, True):
            t0 = time.time()
            status, _, answer = chat_model(router, "gpt-bad", stream=stream)
            took = time.time() - t0
            err = error_of(answer)
            assert status == 504 and err, f"stream={stream}: {status} {answer[:300]}"
            assert "time" in err["message"], err
            assert 1.5 < took < 6, f"first_byte_timeout 2s but the answer took {took:.1f}s"
        assert any(r["reason"] == "upstream:first_byte_timeout" for r in upstream_audit(router))
        reservation_released(router)

    with_gateway(behaviour, body)


def case_garbage_response():
    def behaviour(conn, stopping):
        read_request(conn)
        conn.sendall(b"\x00\xff\xfeSSH-2.0-garbage\r\n\x01\x02\r\n\r\n")
        time.sleep(0.2)
        conn.close()

    def body(router, bad):
        t0 = time.time()
        status, _, answer = chat_model(router, "gpt-bad", stream=False)
        assert status == 502 and error_of(answer), f"{status} {answer[:300]}"
        assert time.time() - t0 < 5
        assert any(r["reason"] == "upstream:protocol" for r in upstream_audit(router)), upstream_audit(router)

    with_gateway(behaviour, body)


def case_huge_headers():
    sent = {"bytes": 0}

    def behaviour(conn, stopping):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        line = b"X-Filler: " + b"a" * 8000 + b"\r\n"
        try:
            for _ in range(2000):  # up to 16 MB of headers; the gateway must stop reading long before
                conn.sendall(line)
                sent["bytes"] += len(line)
        except OSError:
            pass

    def body(router, bad):
        rss0 = router.rss_kib()
        status, _, answer = chat_model(router, "gpt-bad", stream=False)
        assert status == 502 and error_of(answer), f"{status} {answer[:300]}"
        grew = router.rss_kib() - rss0
        assert grew < 32 * 1024, f"RSS grew {grew} KiB on huge upstream headers"
        assert any(r["reason"] == "upstream:protocol" for r in upstream_audit(router)), upstream_audit(router)

    with_gateway(behaviour, body)


def case_infinite_sse_line():
    sent = {"bytes": 0, "cut": False}

    def behaviour(conn, stopping):
        read_request(conn)
        conn.sendall(SSE_HEAD + chunk(sse_event("start ")) + chunk(b"data: {\"x\":\""))
        piece = chunk(b"a" * 65536)
        try:
            while sent["bytes"] < 256 << 20 and not stopping.is_set():  # one 256 MiB line, no newline
                conn.sendall(piece)
                sent["bytes"] += len(piece)
        except OSError:
            sent["cut"] = True

    def body(router, bad):
        rss0 = router.rss_kib()
        t0 = time.time()
        status, _, answer = chat_model(router, "gpt-bad", stream=True, timeout=60)
        took = time.time() - t0
        grew = router.rss_kib() - rss0
        assert status == 200 and b"start " in answer, answer[:300]
        assert b"[DONE]" not in answer
        assert b"error" in answer, f"no error event for the endless line: {answer[-400:]}"
        assert len(answer) < 1 << 20, f"the endless line reached the agent ({len(answer)} bytes)"
        time.sleep(0.5)
        assert sent["cut"] or sent["bytes"] < 256 << 20, "the gateway kept reading the endless line"
        assert sent["bytes"] < 64 << 20, f"gateway read {sent['bytes']} bytes of one line before cutting it"
        assert grew < 48 * 1024, f"RSS grew {grew} KiB on an endless SSE line"
        print(f"  endless line: cut after {sent['bytes'] >> 10} KiB sent, {took:.2f}s, RSS +{grew} KiB")
        assert any(r["reason"].startswith("upstream:") for r in upstream_audit(router)), upstream_audit(router)

    with_gateway(behaviour, body)


def case_connection_refused():
    # A provider port with nothing listening: 502 after the bounded connect retries, quickly.
    from faultlib import free_port
    dead = free_port()
    good = RawServer(well_behaved)
    with TempWork("sallyport-fault-up-") as work:
        router = Router(work, overrides={"providers": [provider(dead, "dead", ["gpt-bad"]),
                                                       provider(good.port, "good", ["gpt-good"])],
                                         "gateway": TIMEOUTS}, env=ENV)
        try:
            router.start()
            t0 = time.time()
            status, _, answer = chat_model(router, "gpt-bad", stream=False)
            assert status == 502 and error_of(answer), f"{status} {answer[:200]}"
            assert time.time() - t0 < 5
            assert chat_model(router, "gpt-good", stream=False)[0] == 200
        finally:
            router.stop()
            good.stop()


CASES = {
    "reset_mid_stream": case_reset_mid_stream,
    "never_answers": case_never_answers,
    "garbage_response": case_garbage_response,
    "huge_headers": case_huge_headers,
    "infinite_sse_line": case_infinite_sse_line,
    "connection_refused": case_connection_refused,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
