#!/usr/bin/env python3
"""Writes a capture (pcap, Ethernet) of three HTTP/1.1 exchanges, each on its
own TCP connection with handshake and close, for tests/e2e/scan_pcap_sigma_web:
  1 10.1.1.10:40001 -> 10.2.2.20:80  a path traversal, the request cut in two
    segments inside the path, answered 404
  2 10.1.1.11:40002 -> 10.2.2.20:80  sqlmap's User-Agent, answered 200
  3 10.1.1.12:40003 -> 10.2.2.20:80  an ordinary page, answered 200
usage: gen.py OUT.pcap"""
import socket, struct, sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(src, dst, sport, dport, seq, ack, flags, data=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ps = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(ps + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def exchange(cli, port, request_parts, response):
    srv, c, s = "10.2.2.20", 1000, 5000
    out = [frame(cli, srv, port, 80, c, 0, SYN), frame(srv, cli, 80, port, s, c + 1, SYN | ACK),
           frame(cli, srv, port, 80, c + 1, s + 1, ACK)]
    c += 1
    s += 1
    for part in request_parts:
        out.append(frame(cli, srv, port, 80, c, s, PSH | ACK, part))
        c += len(part)
    out.append(frame(srv, cli, 80, port, s, c, PSH | ACK, response))
    s += len(response)
    out += [frame(cli, srv, port, 80, c, s, FIN | ACK), frame(srv, cli, 80, port, s, c + 1, FIN | ACK),
            frame(cli, srv, port, 80, c + 1, s + 1, ACK)]
    return out


def resp(code, text, body):
    return (b"HTTP/1.1 %d %s\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
            % (code, text, len(body))) + body


frames = []
frames += exchange("10.1.1.10", 40001,
                   [b"GET /download.php?file=../../../..",
                    b"/etc/passwd HTTP/1.1\r\nHost: portal.example.vn\r\nUser-Agent: Mozilla/5.0\r\n\r\n"],
                   resp(404, b"Not Found", b"<h1>404</h1>"))
frames += exchange("10.1.1.11", 40002,
                   [b"GET /index.php?id=1 HTTP/1.1\r\nHost: portal.example.vn\r\n"
                    b"User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n"],
                   resp(200, b"OK", b"<html>ok</html>"))
frames += exchange("10.1.1.12", 40003,
                   [b"GET /index.html HTTP/1.1\r\nHost: portal.example.vn\r\nUser-Agent: Mozilla/5.0\r\n\r\n"],
                   resp(200, b"OK", b"<html>home</html>"))
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t = 1765000000
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", t + i // 10, (i % 10) * 1000, len(fr), len(fr)) + fr)
