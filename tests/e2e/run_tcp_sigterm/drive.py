#!/usr/bin/env python3
"""
tests/e2e/run_tcp_sigterm/drive.py -- SIGTERM while a sender is flooding canh run.

Two connections (one newline-framed, one octet-counted) send numbered lines
as fast as canh takes them, every tenth line of each a failed root login;
once canh has reported some, it gets SIGTERM in the middle of the flood.
Everything canh accepted must be processed before it exits 0:

  - the final record's events equal the messages it accepted;
  - TCP delivers in order, so what canh accepted from a connection is a
    prefix of what was sent: the alerts of each connection must be exactly
    its attacks 10, 20, ... up to the last one, no gap, none twice;
  - and those prefixes must add up to the messages accepted (each ends at
    most 9 lines past its last attack).

A line cut off by the stop is counted as incomplete, never processed as
half a line. Bounded: LINES lines per connection.
"""
import os, sys, threading
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line, wait_until

build, out, root = sys.argv[1:4]
LINES, SLICE = 300_000, 256 << 10
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: flood
    listen: 127.0.0.1:{port}""").start()
conns = d.connect(port, 2)

# made before the flood, so the sender is faster than canh; line j of
# connection k carries the number 2j + k in its port field
payload = []
for k in (0, 1):
    b = bytearray()
    for j in range(1, LINES + 1):
        msg = sshd_line(2 * j + k, j % 10 == 0).encode()
        b += msg + b"\n" if k == 0 else octet(msg)
    payload.append(bytes(b))
sent = [0, 0]

def flood(c, k):
    # slices cut lines anywhere: the stop may fall inside one
    try:
        for off in range(0, len(payload[k]), SLICE):
            c.sendall(payload[k][off:off + SLICE])
            sent[k] = off + SLICE
    except OSError:
        pass   # canh stopped reading and closed: the flood ends

threads = [threading.Thread(target=flood, args=(c, k), daemon=True) for k, c in enumerate(conns)]
for t in threads:
    t.start()
wait_until("canh to report 2,000 attacks", lambda: d.alert_count() >= 2000, 60)
rc = d.stop()
for t in threads:
    t.join(timeout=30)
for c in conns:
    c.close()

last = d.records()[-1]
events, msgs = last["events"], last["stream"]["messages"]
print(f"flood stopped by SIGTERM: {min(sum(sent), sum(map(len, payload))) >> 20} MiB handed to the kernel, {msgs} lines accepted, "
      f"{events} processed: {events == msgs}; incomplete at stop "
      f"{last['stream']['incomplete_at_stop']}")
ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
ok, tops = len(ports) == len(set(ports)), []
for k in (0, 1):
    js = sorted((p - k) // 2 for p in ports if p % 2 == k)
    tops.append(js[-1] if js else 0)
    if js != list(range(10, 10 * len(js) + 1, 10)):
        ok = False
        print(f"connection {k}: {len(js)} alerts are not attacks 10, 20, ... without a gap")
ok = ok and 0 <= msgs - sum(tops) <= 18
print(f"{len(ports)} alerts: each connection's attacks up to its last, no gap, none twice, "
      f"prefixes adding up to what was accepted: {ok}")
sys.exit(rc)
