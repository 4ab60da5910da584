#!/usr/bin/env python3
"""
tests/e2e/run_hostile_names/drive.py -- host names that try to drive the
operator's terminal or forge lines in canh's own log, over TCP.

Octet-counted frames may hold any byte, a newline too: one sender's host
names carry a newline followed by a forged `canh: info:` line, ESC
sequences that clear the screen, CR, C1 controls and bytes that are not
UTF-8; another's are Vietnamese. After the stop, canh's log (its stderr,
with the summary's top hosts) must be UTF-8 with no control character but
its line ends, no line of it may be a forgery, each hostile name must be
there escaped, and the Vietnamese names as they are.
"""
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, free_port, octet

build, out, root = sys.argv[1:4]
FORGED = b"canh:\tinfo:\tall\tclear"
HOSTS = [   # (host bytes, how it must read in the log, lines)
    (b"gw\n" + FORGED, r"gw\ncanh:\tinfo:\tall\tclear", 6),
    (b"fw\r\n" + FORGED, r"fw\r\ncanh:\tinfo:\tall\tclear", 5),
    (b"web\x1b[2J\x1b[H", r"web\x1b[2J\x1b[H", 4),
    (b"c1\xc2\x9b31m", r"c1\u{009b}31m", 3),
    (b"raw\xff", r"raw\xff", 2),
    ("máy-chủ.bình-phước".encode(), "máy-chủ.bình-phước", 1),
]

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: senders
    listen: 127.0.0.1:{port}
    framing: octet""").start()
c = d.connect(port)[0]
n = 0
for host, _, count in HOSTS:
    for k in range(count):
        c.sendall(octet(b"<38>Nov 23 10:00:%02d " % k + host +
                        b" sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2"
                        % (100 + k, 5000 + n)))
        n += 1
c.close()
d.wait_alerts(n)
rc = d.stop()
log = open(d.log_path, "rb").read()
try:
    text = log.decode("utf-8")
    bad = re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    print("log is UTF-8;", f"control character {bad.group()!r} at {bad.start()}" if bad
          else "no control character but line ends")
except UnicodeDecodeError as e:
    text = log.decode("utf-8", "replace")
    print(f"log is not UTF-8: {log[max(0, e.start - 40):e.end]!r}")
lines = text.split("\n")
print("forged lines:", sum(1 for l in lines if l.startswith("canh:\tinfo:")
                           or l.startswith("\x1b") or "\r" in l))
for host, shown, count in HOSTS:
    ok = any(l.endswith(f"  {shown}") and l.split()[0] == str(count) for l in lines)
    print(f"top host {shown}: {'shown escaped' if ok else 'MISSING'}")
sys.exit(rc)
