#!/usr/bin/env python3
"""
tests/e2e/run_tcp_many/drive.py -- thousands of TCP senders at once.

CONNS connections are opened to one tcp input and kept open together;
each sends a few lines, one of them a failed root login, in two writes
with the others' writes in between. Every attack must give exactly one
alert, and the final record must count every connection and message.
"""
import os, resource, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line

build, out, root = sys.argv[1:4]
CONNS, PER = 2000, 5
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = CONNS + 100   # canh raises its own soft limit to its hard one, which it inherits
if soft < need:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (need, hard if hard == resource.RLIM_INFINITY else max(hard, need)))
    except (ValueError, OSError) as e:
        sys.exit(f"cannot allow {need} open files (limit {soft}/{hard}): {e}")

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: many
    listen: 127.0.0.1:{port}
    max_connections: {CONNS}
    max_connections_per_address: unlimited""").start()   # all of them from 127.0.0.1
conns = d.connect(port, CONNS, timeout=60)
lines = {}
for k, c in enumerate(conns):
    lines[k] = [sshd_line(k * PER + j + 1, j == 2).encode() + b"\n" for j in range(PER)]
    c.sendall(b"".join(lines[k][:2]) + lines[k][2][:20])   # stop inside the attack line
for k, c in enumerate(conns):
    c.sendall(lines[k][2][20:] + b"".join(lines[k][3:]))
for c in conns:
    c.close()
d.wait_alerts(CONNS)
rc = d.stop()
ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
want = {k * PER + 3 for k in range(CONNS)}
print(f"{CONNS} connections open at once; alerts {len(ports)}, missing {len(want - set(ports))}, "
      f"duplicated {len(ports) - len(set(ports))}")
s = d.records()[-1]["stream"]
print(f"final record: accepted {s['accepted']}, refused {s['refused']}, messages {s['messages']}")
sys.exit(rc)
