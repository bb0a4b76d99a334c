#!/usr/bin/python3
"""Test DNS server on 127.0.0.1:<random port> for the forward proxy tests.

Arguments: name=ip[,ip...] pairs. A queries for a listed name get those IPv4 answers; AAAA for a
listed name gets NOERROR with no answers; anything else gets NXDOMAIN. Prints the bound port on
the first stdout line, then serves until killed.
"""
import socket
import struct
import sys


def parse_name(packet, offset):
    labels = []
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            return ".".join(labels).lower(), offset
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length


def main():
    table = {}
    for spec in sys.argv[1:]:
        name, _, addresses = spec.partition("=")
        table[name.lower().rstrip(".")] = [a for a in addresses.split(",") if a]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    while True:
        packet, peer = sock.recvfrom(1500)
        if len(packet) < 12:
            continue
        qid, _flags, qdcount = struct.unpack("!HHH", packet[:6])
        if qdcount != 1:
            continue
        name, end = parse_name(packet, 12)
        qtype, _qclass = struct.unpack("!HH", packet[end:end + 4])
        question = packet[12:end + 4]
        answers = b""
        count = 0
        rcode = 0
        if name not in table:
            rcode = 3
        elif qtype == 1:
            for address in table[name]:
                answers += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(address)
                count += 1
        header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0)
        sock.sendto(header + question + answers, peer)


if __name__ == "__main__":
    main()
