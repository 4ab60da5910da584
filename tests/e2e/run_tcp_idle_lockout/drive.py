#!/usr/bin/env python3
"""
tests/e2e/run_tcp_idle_lockout/drive.py -- idle connections must not lock
real senders out of a tcp input.

With max_connections 100 (and the default max_connections_per_address,
64), 127.0.0.2 opens 70 idle connections and 127.0.0.3 and .4 40 each: 150
connections that never say a word, more than the places there are. Then
two real senders connect and send their lines: one from 127.0.0.1, one
from 127.0.0.2 (which by then holds 20 connections: the others made room
for later ones). Every one of their lines must arrive (each failed root
login is one alert), and the final stats record must count what happened:
6 connections refused to 127.0.0.2 (over its 64), 150 - 6 - 100 = 44 idle
connections evicted for later ones and one more for each real sender, no
connection refused for want of a place.
"""
import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
MAX = 100                               # the input's max_connections
IDLE = [("127.0.0.2", 70), ("127.0.0.3", 40), ("127.0.0.4", 40)]
REAL = ["127.0.0.1", "127.0.0.2"]
LINES, EVERY = 500, 10                  # each real sender's lines; one in EVERY an attack

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: senders
    listen: 127.0.0.1:{port}
    max_connections: {MAX}""").start()


def listening():
    """canh's socket is in LISTEN (state 0A) on the port: no probe connection,
    which would take a place of its own until canh saw it close."""
    try:
        with open(f"/proc/{d.proc.pid}/net/tcp") as f:
            return any(l.split()[1].endswith(f":{port:04X}") and l.split()[3] == "0A"
                       for l in f.readlines()[1:])
    except OSError:
        return False


def connect(addr):
    c = socket.socket()
    c.bind((addr, 0))
    c.settimeout(10)
    c.connect(("127.0.0.1", port))
    return c


wait_until(f"canh to listen on tcp port {port}", listening, 20)
idle = [connect(addr) for addr, n in IDLE for _ in range(n)]

sent, attacks = [], set()
for k, addr in enumerate(REAL):
    first = k * LINES + 1
    nums = range(first, first + LINES)
    attacks |= {i for i in nums if i % EVERY == 0}
    data = b"".join(sshd_line(i, i % EVERY == 0).encode() + b"\n" for i in nums)
    try:
        real = connect(addr)
        real.sendall(data)
        real.close()
        sent.append("all sent")
    except OSError as e:
        sent.append(f"send failed: {e}")
deadline = time.time() + 30   # the alerts of every attack, or what came by then
while d.alert_count() < len(attacks) and time.time() < deadline:
    time.sleep(0.1)
rc = d.stop()
for c in idle:
    c.close()
got = {a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)}
print(f"real senders: {', '.join(sent)}; attacks {len(attacks)}, alerts {len(got)}, "
      f"missing {len(attacks - got)}")
rec = d.records()[-1]
c = rec["inputs"]["senders"].get("connections", {})
print(f"final record: accepted {c.get('accepted')}, refused_per_address "
      f"{c.get('refused_per_address')}, refused_full {c.get('refused_full')}, evicted "
      f"{c.get('evicted')}, events_in {rec['inputs']['senders']['events_in']}")
print(f"stream: accepted {rec['stream']['accepted']}, refused {rec['stream']['refused']}")
print(subprocess.run([f"{build}/canh", "stats", d.stats_path], capture_output=True,
                     text=True).stdout, end="")
sys.exit(rc)
