#!/usr/bin/env python3
"""
tests/e2e/run_tcp_idle_lockout/drive.py -- idle connections must not lock
real senders out of a tcp input.

With max_connections 100 (and the default max_connections_per_address,
64), one address opens 70 idle connections and two others 40 each: 150
connections that never say a word, more than the places there are. Then a
real sender connects and sends its lines. Every one of its lines must
arrive (each failed root login is one alert), and the final stats record
must count what happened: 6 connections refused to the first address (over
its 64), 150 - 6 - 100 = 44 idle connections evicted for later ones and one
more for the real sender, no connection refused for want of a place.
"""
import os, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
MAX, PER_ADDRESS = 100, 64              # the input's max_connections; the default per address
IDLE = [("127.0.0.2", 70), ("127.0.0.3", 40), ("127.0.0.4", 40)]
LINES, EVERY = 1000, 10                 # the real sender's lines; one in EVERY an attack

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


wait_until(f"canh to listen on tcp port {port}", listening, 20)
idle = []
for addr, n in IDLE:
    for _ in range(n):
        c = socket.socket()
        c.bind((addr, 0))
        c.settimeout(10)
        c.connect(("127.0.0.1", port))
        idle.append(c)

real = socket.create_connection(("127.0.0.1", port), timeout=10)
data = b"".join(sshd_line(i, i % EVERY == 0).encode() + b"\n" for i in range(1, LINES + 1))
try:
    real.sendall(data)
    sent = "all sent"
except OSError as e:
    sent = f"send failed: {e}"
real.close()
want = LINES // EVERY
deadline = time.time() + 30   # the alerts of every attack, or what came by then
while d.alert_count() < want and time.time() < deadline:
    time.sleep(0.1)
rc = d.stop()
for c in idle:
    c.close()
got = {a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)}
print(f"real sender: {sent}; attacks {want}, alerts {len(got)}, missing "
      f"{len({i for i in range(1, LINES + 1) if i % EVERY == 0} - got)}")
rec = d.records()[-1]
c = rec["inputs"]["senders"].get("connections", {})
print(f"final record: accepted {c.get('accepted')}, refused_per_address "
      f"{c.get('refused_per_address')}, refused_full {c.get('refused_full')}, evicted "
      f"{c.get('evicted')}, events_in {rec['inputs']['senders']['events_in']}")
print(f"stream: accepted {rec['stream']['accepted']}, refused {rec['stream']['refused']}")
sys.exit(rc)
