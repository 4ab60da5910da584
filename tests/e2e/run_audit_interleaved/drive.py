#!/usr/bin/env python3
"""
tests/e2e/run_audit_interleaved/drive.py -- audit record groups from two
senders on one input, arriving interleaved.

Two hosts send auditd records over their own connections to one tcp input.
Each group (one `rm` of a file under /var/log) is sent in two writes, the
SYSCALL record first, then the other five, and the two connections take
turns: A's SYSCALL, B's SYSCALL, A's rest, B's rest. Each group must still
be one event, so each gives the one alert whose rule needs the SYSCALL and
EXECVE records together. Then the same over one udp input from two
sockets, a datagram per record.
"""
import json, os, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, audit_group as group, free_port

GROUPS = 40   # per connection


build, out, root = sys.argv[1:4]
port, uport = free_port(), free_port(socket.SOCK_DGRAM)
rules = os.path.join(root, "tests/e2e/batches_keep_audit_groups/rules")
d = Daemon(build, out, root, f"""  - type: tcp
    listen: 127.0.0.1:{port}
    framing: lf
  - type: udp
    listen: 127.0.0.1:{uport}""", rules=[rules]).start()
a, b = d.connect(port, n=2)
for k in range(GROUPS):
    ga, gb = group(1000 + k, k), group(5000 + k, k)
    for conn, lines in ((a, ga[:1]), (b, gb[:1]), (a, ga[1:]), (b, gb[1:])):
        conn.sendall(("\n".join(lines) + "\n").encode())
        time.sleep(0.01)   # canh reads each write on its own: the records interleave
a.close()
b.close()
d.wait_alerts(2 * GROUPS, timeout=30)

d.wait_udp(uport)
ua, ub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for k in range(GROUPS):
    ga, gb = group(2000 + k, k), group(7000 + k, k)
    for i in range(6):   # record by record, the two senders in turn
        ua.sendto(ga[i].encode(), ("127.0.0.1", uport))
        ub.sendto(gb[i].encode(), ("127.0.0.1", uport))
    time.sleep(0.005)
d.wait_alerts(4 * GROUPS, timeout=30)
d.wait_quiet(still=1.0)
rc = d.stop()
final = d.records()[-1]
names = [a["process"]["command_line"].split()[-1] for a in d.alerts()]   # /var/log/caseN.log
serials = [int(n[len("/var/log/case"):-len(".log")]) for n in names]
tcp = [n for n in serials if n < 2000 or 5000 <= n < 7000]
print(f"tcp: alerts {len(tcp)}, distinct {len(set(tcp))}")
print(f"all: alerts {len(names)}, distinct {len(set(names))}, events {final['events']}, "
      f"udp received {final['udp']['received']}")
print(f"final record: audit lines held {final['batches']['audit_lines_held']}, "
      f"workers used CPU {final['cpu_seconds']['workers'] > 0}")
sys.exit(rc)
