#!/usr/bin/env python3
"""
tests/e2e/scan_hostile_names/make_input.py -- writes input.log: sshd
failures from hosts whose names carry what a terminal obeys (ESC
sequences that clear the screen or retitle the window, CR and VT that
move the cursor, C1 controls, DEL), bytes that are not UTF-8, and
`canh: info:` forgeries, beside Vietnamese host names; and JSON lines whose
payload host carries a newline and a forged line. Each host sends a
different number of lines, so the summary's top hosts has one order.
"""
import os

HOSTS = [   # (host name bytes, lines)
    (b"<38>1 2026-11-23T10:00:00Z r5424\x1b[31mred", 10),
    (b"web\x1b[2J\x1b[3J\x1b[Hwiped", 9),
    (b"x\x1b]0;pwned\x07", 8),
    (b"y\rcanh:\tinfo:\tall\tclear", 7),
    (b"z\x0bcanh:\tinfo:\tforged", 6),
    (b"c1\xc2\x9b2J\xc2\x85", 5),
    (b"bad\xff\xfeutf8", 4),
    (b"del\x7fhost", 3),
    ("bình-phước".encode(), 2),
    ("sở-tttt.đồng-xoài".encode(), 1),
]

lines = []
for host, n in HOSTS:
    for k in range(n):
        msg = b"Failed password for root from 203.0.113.%d port %d ssh2" % (k + 1, 4000 + k)
        if host.startswith(b"<38>1 "):   # RFC 5424: the host is the second field
            lines.append(host + b" sshd 1 - - " + msg)
        else:
            lines.append(b"<38>Nov 23 10:00:%02d " % k + host + b" sshd[%d]: " % (100 + k) + msg)
lines.append(b'{"host":{"name":"json\\ncanh: info: forged by a JSON host"},'
             b'"message":"Failed password for root"}')
lines.append(b'{"host":"j2\\u001b[2J\\ncanh: info: forged","message":"Failed password for root"}')
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "input.log"), "wb") as f:
    f.write(b"\n".join(lines) + b"\n")
