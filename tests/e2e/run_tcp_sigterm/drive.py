#!/usr/bin/env python3
"""
tests/e2e/run_tcp_sigterm/drive.py -- SIGTERM while a sender is flooding canh run.

Two connections (one newline-framed, one octet-counted) send sequence-
numbered lines as fast as canh takes them; once canh has processed some,
it gets SIGTERM in the middle of the flood. Everything canh accepted must
be processed before it exits 0: the final record's events equal its
messages, and, as every line is a failed root login, each connection's
alerts name exactly a prefix of the lines it sent (TCP delivers in order):
no gap, no duplicate, and as many alerts as events. A line cut off by the stop is counted as incomplete, never
processed as half a line. Bounded: at most MAX_LINES lines per connection.
"""
import os, signal, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line, wait_until

build, out, root = sys.argv[1:4]
MAX_LINES, CHUNK = 2_000_000, 2000
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: flood
    listen: 127.0.0.1:{port}""").start()
conns = d.connect(port, 2)
sent = [0, 0]

def flood(c, k):
    # connection k carries lines k, k+2, k+4, ... (line numbers from 1)
    i = k + 1
    try:
        while sent[k] < MAX_LINES:
            b = bytearray()
            for _ in range(CHUNK):
                msg = sshd_line(i, True).encode()
                b += msg + b"\n" if k == 0 else octet(msg)
                i += 2
            c.sendall(bytes(b))
            sent[k] += CHUNK
    except OSError:
        pass   # canh stopped reading and closed: the flood ends

threads = [threading.Thread(target=flood, args=(c, k), daemon=True) for k, c in enumerate(conns)]
for t in threads:
    t.start()
wait_until("canh to process 20,000 events", lambda: d.alert_count() >= 20000, 60)
rc = d.stop()
for t in threads:
    t.join(timeout=30)
for c in conns:
    c.close()

last = d.records()[-1]
events, msgs = last["events"], last["stream"]["messages"]
print(f"flood stopped by SIGTERM: {sum(sent)} lines handed to the kernel, {msgs} accepted, "
      f"{events} processed: {events == msgs}; incomplete at stop "
      f"{last['stream']['incomplete_at_stop']}")
# per connection, the alerts must name lines k+1, k+3, ... with no gap and none twice
ports = sorted(a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE))
ok = len(ports) == events
for k in (0, 1):
    mine = [p for p in ports if p % 2 == (k + 1) % 2]
    want = list(range(k + 1, k + 2 + 2 * len(mine) - 2, 2)) if mine else []
    if mine != want:
        ok = False
        print(f"connection {k}: {len(mine)} alerts, expected lines {k + 1}.. without gap")
print(f"{len(ports)} alerts, one per event, each connection's a gap-free prefix, none twice: {ok}")
sys.exit(rc)
