#!/usr/bin/python3
"""The rogue agent of `sallyport demo`: one hostile (or benign) action per call, run as UID 1000
inside the simulated pod. Prints exactly one result line on stdout:

    OK <detail>            the action went through (e.g. HTTP 200, file contents length)
    ERRNO <NAME> <text>    the operating system refused (EACCES, EPERM, ECONNREFUSED, ...)
    HTTP <status> deny=<X-Sallyport-Deny or -> <short body>
    ERROR <text>           anything else (timeouts, protocol errors)

The orchestrator (demo/rogue_agent.sh) decides whether that result means "stopped". Exit code
is always 0 unless the arguments are wrong, so a refusal is data, not a crash.

    agent.py read PATH
    agent.py connect HOST PORT                 raw TCP connect + a small HTTP GET
    agent.py proxy-get PROXY URL               plain-HTTP request through the forward proxy
    agent.py proxy-connect PROXY HOST:PORT     CONNECT tunnel request through the proxy
    agent.py chat GATEWAY JSON_BODY            POST /v1/chat/completions with a dummy key
"""
import errno
import json
import signal
import socket
import sys

# Ctrl-C ends the demo: die quietly (the orchestrator cleans up) instead of printing a traceback.
signal.signal(signal.SIGINT, signal.SIG_DFL)

TIMEOUT = 5.0


def one_line(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def errno_line(exc):
    name = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else "E?"
    return f"ERRNO {name} {exc.strerror or exc}"


def read_file(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return f"OK read {len(data)} bytes"
    except OSError as e:
        return errno_line(e)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def raw_exchange(host, port, request):
    """Connects, sends `request`, returns the response head (bytes up to the blank line)."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        return None, {}, body
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(status_line[1]), headers, body


def http_line(data):
    status, headers, body = parse_response(data)
    if status is None:
        return "ERROR not an HTTP response: " + one_line(data[:80].decode("latin-1"))
    deny = headers.get("x-sallyport-deny", "-")
    return f"HTTP {status} deny={deny} {one_line(body.decode('utf-8', 'replace'), 120)}"


def connect(host, port):
    try:
        data = raw_exchange(host, int(port), f"GET /latest/meta-data/ HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    except OSError as e:
        return errno_line(e)
    return "OK connected; got " + one_line(data[:60].decode("latin-1"))


def proxy_get(proxy, url):
    host = url.split("/")[2]
    request = f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    try:
        return http_line(raw_exchange(*host_port(proxy), request))
    except OSError as e:
        return errno_line(e)


def proxy_connect(proxy, target):
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    try:
        return http_line(raw_exchange(*host_port(proxy), request))
    except OSError as e:
        return errno_line(e)


def chat(gateway, body_json):
    body = body_json.encode()
    host, port = host_port(gateway)
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Authorization: Bearer sk-agent-dummy\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    try:
        with socket.create_connection((host, port), timeout=30) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return errno_line(e)
    status, headers, raw = parse_response(data)
    if status is None:
        return "ERROR not an HTTP response"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw = dechunk(raw)
    return f"HTTP {status} " + summarize_chat(raw)


def dechunk(raw):
    out = b""
    while raw:
        size_line, _, rest = raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        raw = rest[size + 2:]
    return out


def summarize_chat(raw):
    """`error=<code> <message>` for errors, else `reply=<assistant text or tool calls>`."""
    try:
        j = json.loads(raw)
    except ValueError:
        return one_line(raw.decode("utf-8", "replace"), 120)
    err = j.get("error") if isinstance(j, dict) else None
    if isinstance(err, dict):
        return one_line(f"error={err.get('code') or err.get('type')} {err.get('message', '')}")
    try:
        msg = j["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return one_line(json.dumps(j), 120)
    calls = [c.get("function", {}).get("name") for c in msg.get("tool_calls") or []]
    if calls:
        return "tool_calls=" + ",".join(calls)
    return "reply=" + json.dumps(one_line(msg.get("content") or "", 140), ensure_ascii=False)


ACTIONS = {"read": (read_file, 1), "connect": (connect, 2), "proxy-get": (proxy_get, 2),
           "proxy-connect": (proxy_connect, 2), "chat": (chat, 2)}


def main(argv):
    if len(argv) < 2 or argv[1] not in ACTIONS or len(argv) - 2 != ACTIONS[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = ACTIONS[argv[1]]
    try:
        print(fn(*argv[2:]), flush=True)
    except Exception as e:  # noqa: BLE001 - report, never crash the demo
        print("ERROR " + one_line(f"{type(e).__name__}: {e}"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
