#!/usr/bin/python3
"""Fake "outside world" services for the pod simulator (tests/podsim/podsim.sh).

Runs inside the outside network namespace as root. Each --service is KIND:ADDR:PORT[:NAME]:
  http    answers any request with 200 and a body naming the service (fake IMDS, web servers)
  banner  accepts TCP and writes "<NAME>\n" (fake C2)
  dns     UDP and TCP DNS on ADDR:PORT; A records from --dns-record NAME=IP, NXDOMAIN otherwise
  udp     UDP sink that logs each datagram
Every accepted connection or datagram is logged to --log as "NAME KIND PEER" (one line each) so
tests can prove traffic did or did not arrive. Writes --ready once every socket is bound.
"""
import argparse
import socket
import socketserver
import struct
import sys
import threading

LOG_LOCK = threading.Lock()


def log(path, line):
    with LOG_LOCK, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def dns_answer(query, records):
    if len(query) < 12:
        return None
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1:
        return None
    pos, labels = 12, []
    while pos < len(query) and query[pos] != 0:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    pos += 1
    if pos + 4 > len(query):
        return None
    qtype, _qclass = struct.unpack("!HH", query[pos:pos + 4])
    question = query[12:pos + 4]
    name = ".".join(labels).lower()
    ip = records.get(name)
    if ip and qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(ip)
        return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
    return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question


def make_tcp_server(addr, port, handler_cls):
    class Server(socketserver.ThreadingTCPServer):
        address_family = family_of(addr)
        allow_reuse_address = True
        daemon_threads = True
    return Server((addr, port), handler_cls)


def make_udp_server(addr, port, handler_cls):
    class Server(socketserver.ThreadingUDPServer):
        address_family = family_of(addr)
        allow_reuse_address = True
        daemon_threads = True
    return Server((addr, port), handler_cls)


def build(kind, addr, port, name, args, records):
    logf = args.log

    class Http(socketserver.StreamRequestHandler):
        def handle(self):
            log(logf, f"{name} http {self.client_address[0]}")
            self.request.settimeout(2)
            try:
                self.rfile.readline()
            except OSError:
                pass
            body = f"{name}\n".encode()
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    class Banner(socketserver.BaseRequestHandler):
        def handle(self):
            log(logf, f"{name} banner {self.client_address[0]}")
            self.request.sendall(f"{name}\n".encode())

    class DnsUdp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            log(logf, f"{name} dns-udp {self.client_address[0]}")
            reply = dns_answer(data, records)
            if reply:
                sock.sendto(reply, self.client_address)

    class DnsTcp(socketserver.BaseRequestHandler):
        def handle(self):
            log(logf, f"{name} dns-tcp {self.client_address[0]}")
            self.request.settimeout(2)
            try:
                head = self.request.recv(2)
                if len(head) < 2:
                    return
                query = self.request.recv(struct.unpack("!H", head)[0])
            except OSError:
                return
            reply = dns_answer(query, records)
            if reply:
                self.request.sendall(struct.pack("!H", len(reply)) + reply)

    class UdpSink(socketserver.BaseRequestHandler):
        def handle(self):
            log(logf, f"{name} udp {self.client_address[0]}")

    if kind == "http":
        return [make_tcp_server(addr, port, Http)]
    if kind == "banner":
        return [make_tcp_server(addr, port, Banner)]
    if kind == "dns":
        return [make_udp_server(addr, port, DnsUdp), make_tcp_server(addr, port, DnsTcp)]
    if kind == "udp":
        return [make_udp_server(addr, port, UdpSink)]
    raise SystemExit(f"unknown service kind {kind!r} (expected http|banner|dns|udp)")


def parse_service(spec):
    # KIND:ADDR:PORT[:NAME]; ADDR may be [v6]
    kind, rest = spec.split(":", 1)
    if rest.startswith("["):
        addr, rest = rest[1:].split("]:", 1)
    else:
        addr, rest = rest.split(":", 1)
    port, _, name = rest.partition(":")
    return kind, addr, int(port), name or f"{kind}@{addr}:{port}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--service", action="append", default=[])
    p.add_argument("--dns-record", action="append", default=[])
    p.add_argument("--log", required=True)
    p.add_argument("--ready", required=True)
    args = p.parse_args()
    records = dict(r.lower().split("=", 1) for r in args.dns_record)
    servers = []
    for spec in args.service:
        kind, addr, port, name = parse_service(spec)
        servers += build(kind, addr, port, name, args, records)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(args.ready, "w", encoding="utf-8") as f:
        f.write("ready\n")
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
