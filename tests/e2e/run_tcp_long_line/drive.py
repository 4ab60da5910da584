#!/usr/bin/env python3
"""
tests/e2e/run_tcp_long_line/drive.py -- a 10 MiB message over TCP.

One newline-framed connection sends an attack line, then 10 MiB with no
newline (then its newline), then more attack lines; one octet-counted
connection does the same with a 10 MiB frame. Each long message is cut to
max_message_size (64 KiB), counted as truncated, and scanned; the
connection goes on, and every attack line on both gives its alert.
"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line

build, out, root = sys.argv[1:4]
BIG = 10 << 20
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: long-lines
    listen: 127.0.0.1:{port}""").start()
lf, oc = d.connect(port, 2)
big = b"<38>Nov 23 10:00:00 web01 app[1]: " + b"A" * BIG
lf.sendall(sshd_line(1, True).encode() + b"\n" + big)            # no newline yet: 10 MiB held?
lf.sendall(b"\n" + b"".join(sshd_line(i, True).encode() + b"\n" for i in range(3, 11, 2)))
oc.sendall(octet(sshd_line(2, True).encode()) + octet(big) +
           b"".join(octet(sshd_line(i, True).encode()) for i in range(4, 11, 2)))
lf.close()
oc.close()
d.wait_alerts(10)
rc = d.stop()
ports = sorted(a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE))
last = d.records()[-1]
s = last["stream"]
print(f"alerts for lines {ports}")
print(f"messages {s['messages']}, truncated {s['truncated']}, dropped {s['dropped_too_long']}, "
      f"events {last['events']}")
sys.exit(rc)
