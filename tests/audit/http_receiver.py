"""Flaky HTTP SIEM receiver for the audit HTTP sink test (loopback only).

Answers 500 to every 3rd POST (and drops the connection on every 7th) so the sink must retry;
accepted batches are appended to OUT as JSON Lines (one record per line, byte for byte as sent).
Checks the Authorization header. Writes its port to PORT_FILE once listening.
Usage: http_receiver.py OUT PORT_FILE EXPECTED_AUTH
"""
import http.server
import json
import sys
import threading

OUT, PORT_FILE, AUTH = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            count += 1
            n = count
        if self.headers.get("Authorization") != AUTH:
            self.send_response(401)
            self.end_headers()
            return
        if n % 7 == 0:
            self.close_connection = True
            return  # no answer at all
        if n % 3 == 0:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        records = json.loads(body)
        assert isinstance(records, list)
        # Re-slice the body so each record is stored with the exact bytes that were sent.
        decoder = json.JSONDecoder()
        text = body.decode("utf-8")
        pos = 1
        with lock, open(OUT, "a", encoding="utf-8") as out:
            for _ in records:
                _, end = decoder.raw_decode(text, pos)
                out.write(text[pos:end] + "\n")
                pos = end + 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
