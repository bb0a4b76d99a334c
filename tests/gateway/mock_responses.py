#!/usr/bin/python3
"""mock_upstream.py plus OpenAI Responses API answers with tool calls, over plain HTTP on loopback.

    mock_responses.py --port-file F [--key-openai K]

POST /v1/responses: `CALL:<tool>:<json args>` in the input answers with a function_call output
item (after a short message item), streamed as response.* events when "stream": true (argument
deltas split in small pieces, each event cut in two TCP writes); anything else answers with text.
Everything else (chat completions, GET /__last, …) is mock_upstream.py's behaviour.
"""
import argparse
import json
import os
import sys
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mock_upstream  # noqa: E402


def response_object(model, output, status="completed"):
    obj = {"id": "resp_mock", "object": "response", "created_at": 1, "status": status, "model": model,
           "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    if status == "completed":
        obj["usage"] = {"input_tokens": 7, "output_tokens": 9, "total_tokens": 16}
    return obj


def message_item(text, status="completed"):
    return {"type": "message", "id": "msg_mock", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}] if text is not None else []}


def call_item(name, args, status="completed"):
    return {"type": "function_call", "id": "fc_mock", "call_id": "call_mock", "name": name,
            "arguments": args, "status": status}


class Handler(mock_upstream.Handler):
    def do_POST(self):
        if not self.path.split("?")[0].endswith("/v1/responses"):
            return super().do_POST()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        with mock_upstream.LOCK:
            mock_upstream.LAST.clear()
            mock_upstream.LAST.update({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            mock_upstream.COUNT["n"] += 1
        if not self.check_key("openai"):
            return
        cmd, arg = mock_upstream.command(body)
        model = body.get("model", "gpt-test")
        call = None
        if cmd == "CALL":
            name, _, args = arg.partition(":")
            call = (name, args or "{}")
        if body.get("stream"):
            return self.stream(model, call)
        output = [message_item("Working on it.")]
        if call:
            output.append(call_item(*call))
        self.send_json(200, response_object(model, output))

    def stream(self, model, call):
        seq = [0]
        events = []

        def ev(kind, fields):
            fields = dict(fields, type=kind, sequence_number=seq[0])
            seq[0] += 1
            events.append("event: %s\ndata: %s\n\n" % (kind, json.dumps(fields)))

        ev("response.created", {"response": response_object(model, [], "in_progress")})
        ev("response.in_progress", {"response": response_object(model, [], "in_progress")})
        ev("response.output_item.added", {"output_index": 0, "item": message_item(None, "in_progress")})
        where = {"item_id": "msg_mock", "output_index": 0, "content_index": 0}
        ev("response.content_part.added", dict(where, part={"type": "output_text", "text": "", "annotations": []}))
        for word in ("Working", " on", " it."):
            ev("response.output_text.delta", dict(where, delta=word))
        ev("response.output_text.done", dict(where, text="Working on it."))
        ev("response.content_part.done", dict(where, part={"type": "output_text", "text": "Working on it.",
                                                           "annotations": []}))
        ev("response.output_item.done", {"output_index": 0, "item": message_item("Working on it.")})
        output = [message_item("Working on it.")]
        if call:
            name, args = call
            ev("response.output_item.added", {"output_index": 1, "item": call_item(name, "", "in_progress")})
            for i in range(0, len(args), 4):
                ev("response.function_call_arguments.delta",
                   {"item_id": "fc_mock", "output_index": 1, "delta": args[i:i + 4]})
            ev("response.function_call_arguments.done", {"item_id": "fc_mock", "output_index": 1, "arguments": args})
            ev("response.output_item.done", {"output_index": 1, "item": call_item(name, args)})
            output.append(call_item(name, args))
        ev("response.completed", {"response": response_object(model, output)})
        self.start_stream()
        self.send_events(events)
        self.end_stream()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--key-openai", default="sk-real-openai")
    args = p.parse_args()
    mock_upstream.ARGS = argparse.Namespace(key_openai=args.key_openai, key_azure="unused-azure",
                                            key_anthropic="unused-anthropic")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
