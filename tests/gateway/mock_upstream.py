#!/usr/bin/python3
"""Mock model provider on loopback for the gateway tests: speaks OpenAI, Azure OpenAI and Anthropic.

    mock_upstream.py --port-file F [--cert C --key K] --key-openai K1 --key-azure K2 --key-anthropic K3

Requests must carry the provider's real key (Authorization: Bearer / api-key / x-api-key), else
401: this proves sallyport replaced the agent's dummy key. Behaviour is chosen by a command in
the last user message text:
    CALL:<tool>:<json args>   answer with a tool call (also streamed as deltas)
    STATUS:<code>             answer with that HTTP error in the provider's shape
    SLOW:<seconds>            stream with that gap between events
    TRUNCATE                  stream two events, then cut the connection mid-event
    FILTER                    Azure annotations: a later chunk carries violence "high"
    CFERROR                   Azure 400 content_filter error
    NOUSAGE                   answer without usage
anything else: a short text answer with usage. GET /__last returns the last request seen
(headers and body) and GET /__count the number of model requests, for assertions.
Streams are written in small TCP pieces that split events (and CRLF pairs) on purpose.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LAST = {}
COUNT = {"n": 0, "per_path": {}}
LOCK = threading.Lock()


def last_user_text(body):
    msgs = body.get("messages") or []
    for m in reversed(msgs):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    inp = body.get("input")
    if isinstance(inp, str):
        return inp
    return ""


def command(body):
    text = last_user_text(body)
    for word in ("CALL:", "STATUS:", "SLOW:", "TRUNCATE", "FILTER", "CFERROR", "NOUSAGE"):
        i = text.find(word)
        if i >= 0:
            return word.rstrip(":"), text[i + len(word):].strip()
    return "TEXT", ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_mock_1")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", "req_mock_stream")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def send_events(self, raw, gap=0.0):
        """Writes the events, each split in two TCP pieces at an awkward offset."""
        for ev in raw:
            cut = max(1, min(len(ev) - 1, len(ev) // 2 + 1))
            self.chunk(ev[:cut])
            time.sleep(0.002)
            self.chunk(ev[cut:])
            if gap:
                time.sleep(gap)

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def check_key(self, kind):
        if kind == "openai":
            ok = self.headers.get("Authorization") == "Bearer " + ARGS.key_openai
        elif kind == "azure":
            ok = self.headers.get("api-key") == ARGS.key_azure and not self.headers.get("Authorization")
        else:
            ok = (self.headers.get("x-api-key") == ARGS.key_anthropic and
                  bool(self.headers.get("anthropic-version")) and not self.headers.get("Authorization"))
        if not ok:
            if kind == "anthropic":
                self.send_json(401, {"type": "error", "error": {"type": "authentication_error",
                                                                "message": "invalid x-api-key"}})
            else:
                self.send_json(401, {"error": {"message": "Incorrect API key provided", "type":
                                               "invalid_request_error", "code": "invalid_api_key"}})
        return ok

    # ---- HTTP
    def do_GET(self):
        if self.path == "/__last":
            with LOCK:
                return self.send_json(200, LAST)
        if self.path == "/__count":
            with LOCK:
                return self.send_json(200, COUNT)
        if self.path.endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]})
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
        with LOCK:
            LAST.clear()
            LAST.update({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            COUNT["n"] += 1
            COUNT["per_path"][self.path] = COUNT["per_path"].get(self.path, 0) + 1
        path = self.path.split("?")[0]
        if path.endswith("/v1/messages"):
            if self.check_key("anthropic"):
                self.anthropic(body)
        elif path.startswith("/openai/deployments/"):
            if self.check_key("azure"):
                self.openai(body, azure=True)
        elif path.endswith("/v1/embeddings"):
            if self.check_key("openai"):
                self.send_json(200, {"object": "list", "model": body.get("model"),
                                     "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                                     "usage": {"prompt_tokens": 4, "total_tokens": 4}})
        elif path.endswith("/v1/chat/completions"):
            if self.check_key("openai"):
                self.openai(body, azure=False)
        elif path.endswith("/v1/responses"):
            if self.check_key("openai"):
                self.send_json(200, {"id": "resp_1", "object": "response", "status": "completed",
                                     "output": [{"type": "message", "role": "assistant", "content": [
                                         {"type": "output_text", "text": "hi"}]}],
                                     "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}})
        else:
            self.send_json(404, {"error": {"message": "unknown path " + path}})

    # ---- OpenAI / Azure
    def openai(self, body, azure):
        cmd, arg = command(body)
        model = body.get("model", "deployment")
        if cmd == "STATUS":
            code = int(arg.split()[0])
            kinds = {429: ("rate_limit_exceeded", "requests"), 500: ("server_error", "server_error"),
                     503: ("overloaded", "server_error")}
            code_name, typ = kinds.get(code, ("error", "invalid_request_error"))
            return self.send_json(code, {"error": {"message": "mock %d" % code, "type": typ,
                                                   "code": code_name}}, {"retry-after": "1"})
        if cmd == "CFERROR":
            return self.send_json(400, {"error": {
                "message": "The response was filtered due to the prompt triggering content management policy.",
                "type": None, "param": "prompt", "code": "content_filter", "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "jailbreak": {"filtered": True, "detected": True},
                    "self_harm": {"filtered": False, "severity": "safe"},
                    "sexual": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": False, "severity": "safe"}}}}})
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        safe = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "sexual", "violence", "self_harm")}
        tool = None
        if cmd == "CALL":
            name, _, args = arg.partition(":")
            tool = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args or "{}"}}
        if body.get("stream"):
            return self.openai_stream(body, cmd, arg, model, usage, tool, azure, safe)
        message = {"role": "assistant", "content": None if tool else "Hello from mock"}
        if tool:
            message["tool_calls"] = [tool]
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
        answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                  "choices": [choice]}
        if cmd != "NOUSAGE":
            answer["usage"] = usage
        if azure:
            answer["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": safe}]
            choice["content_filter_results"] = safe
            if cmd == "FILTER":
                choice["content_filter_results"] = dict(safe, violence={"filtered": False, "severity": "high"})
        self.send_json(200, answer)

    def openai_stream(self, body, cmd, arg, model, usage, tool, azure, safe):
        base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": model}

        def ev(obj, crlf=False):
            text = "data: " + json.dumps(obj)
            return text + ("\r\n\r\n" if crlf else "\n\n")

        events = []
        first = dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if azure:
            events.append(ev(dict(base, choices=[], prompt_filter_results=[
                {"prompt_index": 0, "content_filter_results": safe}])))
        events.append(ev(first))
        events.append(": keep-alive comment\n\n")
        if tool:
            name = tool["function"]["name"]
            args = tool["function"]["arguments"]
            events.append(ev(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}]},
                "finish_reason": None}])))
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                events.append(ev(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "function": {"arguments": piece}}]}, "finish_reason": None}])))
            events.append(ev(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])))
        else:
            for i, word in enumerate(["Hel", "lo", " world"]):
                choice = {"index": 0, "delta": {"content": word}, "finish_reason": None}
                if azure:
                    choice["content_filter_results"] = safe
                    if cmd == "FILTER" and i == 1:
                        choice["content_filter_results"] = dict(safe, violence={"filtered": False, "severity": "high"})
                events.append(ev(dict(base, choices=[choice]), crlf=(i == 1)))
            events.append(ev(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])))
        opts = body.get("stream_options") or {}
        if opts.get("include_usage") and cmd != "NOUSAGE":
            events.append(ev(dict(base, choices=[], usage=usage)))
        events.append("data: [DONE]\n\n")
        self.start_stream()
        if cmd == "TRUNCATE":
            self.send_events(events[:2])
            self.chunk(events[2][:5] if len(events) > 2 else "data: {")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2) if hasattr(self.connection, "shutdown") else None
            return
        gap = float(arg) if cmd == "SLOW" else 0.0
        self.send_events(events, gap)
        self.end_stream()

    # ---- Anthropic
    def anthropic(self, body):
        cmd, arg = command(body)
        model = body.get("model", "claude-test")
        if cmd == "STATUS":
            code = int(arg.split()[0])
            typ = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}.get(code, "invalid_request_error")
            return self.send_json(code, {"type": "error", "error": {"type": typ, "message": "mock %d" % code}},
                                  {"retry-after": "1"})
        tool = None
        if cmd == "CALL":
            name, _, args = arg.partition(":")
            tool = {"type": "tool_use", "id": "toolu_1", "name": name, "input": json.loads(args or "{}")}
        if body.get("stream"):
            return self.anthropic_stream(model, tool, cmd)
        content = [tool] if tool else [{"type": "text", "text": "Hello from claude mock"}]
        self.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                             "content": content, "stop_reason": "tool_use" if tool else "end_turn",
                             "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 6}})

    def anthropic_stream(self, model, tool, cmd):
        def ev(name, obj):
            obj = dict(obj, type=name)
            return "event: %s\ndata: %s\n\n" % (name, json.dumps(obj))

        events = [ev("message_start", {"message": {"id": "msg_s", "type": "message", "role": "assistant",
                                                    "model": model, "content": [], "stop_reason": None,
                                                    "stop_sequence": None,
                                                    "usage": {"input_tokens": 12, "output_tokens": 1}}}),
                  ev("ping", {})]
        if tool:
            args = json.dumps(tool["input"])
            events.append(ev("content_block_start", {"index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {}}}))
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                events.append(ev("content_block_delta", {"index": 0, "delta": {
                    "type": "input_json_delta", "partial_json": piece}}))
            events.append(ev("content_block_stop", {"index": 0}))
            stop = "tool_use"
        else:
            events.append(ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
            for word in ("Hel", "lo"):
                events.append(ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}}))
            events.append(ev("content_block_stop", {"index": 0}))
            stop = "end_turn"
        events.append(ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": {"output_tokens": 6}}))
        events.append(ev("message_stop", {}))
        self.start_stream()
        self.send_events(events)
        self.end_stream()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--key-openai", default="sk-real-openai")
    p.add_argument("--key-azure", default="real-azure-key")
    p.add_argument("--key-anthropic", default="sk-ant-real")
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
