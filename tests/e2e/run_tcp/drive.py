#!/usr/bin/env python3
"""
tests/e2e/run_tcp/drive.py -- canh run over TCP on loopback.

Sends LINES sequence-numbered syslog lines over four connections (two
newline-framed, two octet-counted, RFC 6587), every tenth a failed root
login (which the shipped rule "SSH Failed Login as root" must report), then
SIGTERM. canh must exit 0 after writing one alert per failed login: no gap,
no duplicate (the port number in each line is its sequence number).
"""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line

build, out, root = sys.argv[1:4]
LINES, CONNS = 20000, 4
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: test-tcp
    listen: 127.0.0.1:{port}
    framing: auto""").start()
conns = d.connect(port, CONNS)

expected = set()
buffers = [bytearray() for _ in range(CONNS)]
for i in range(1, LINES + 1):
    c = i % CONNS
    msg = sshd_line(i, i % 10 == 0).encode()
    buffers[c] += msg + b"\n" if c < 2 else octet(msg)
    if i % 10 == 0:
        expected.add(i)
for c, b in zip(conns, buffers):
    c.sendall(bytes(b))
for c in conns:
    c.close()
time.sleep(1.2)   # at least one periodic stats record while running
d.wait_alerts(len(expected))
rc = d.stop()

ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
missing = sorted(expected - set(ports))
print(f"sent {LINES} lines ({len(expected)} failed root logins) over {CONNS} connections; "
      f"alerts {len(ports)}, missing {len(missing)}, duplicated {len(ports) - len(set(ports))}")
if missing[:5]:
    print("first missing:", missing[:5])
recs = d.records()
last = recs[-1]
print(f"stats: {len(recs)} records, final {last['final']}: events {last['events']}, "
      f"messages {last['stream']['messages']}, alerts {last['alerts']}, "
      f"medium {last['by_level']['medium']}, connections accepted {last['stream']['accepted']}")
print(f"per input: test-tcp events_in {last['inputs']['test-tcp']['events_in']}; "
      f"by_rule root logins {last['by_rule'].get(ROOT_SSH_RULE)}; "
      f"hosts {len(last['by_host'])}")
sys.exit(rc)
