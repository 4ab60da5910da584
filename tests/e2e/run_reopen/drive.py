#!/usr/bin/env python3
"""
tests/e2e/run_reopen/drive.py -- the alerts and stats files rotated under
canh run, the way logrotate does it, while alerts are being written.

A sender streams LINES sequence-numbered failed root logins over TCP (one
alert each; the source port is the line's number). Meanwhile the alerts
and stats files are rotated twice: first as logrotate's `create` does it
(rename, make a new empty file with mode 0640, then SIGUSR1), then as
`nocreate` does (rename, then SIGHUP, which also reloads the rules). At the
end every line's alert is in exactly one of the three alerts files, each
line of each file is a whole JSON object, the newest files (at the
original paths) got alerts and stats records after the rotations, and the
file logrotate made keeps its mode. Bounded: LINES lines; every wait has a
deadline.
"""
import json, os, signal, socket, stat, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
LINES = 30000
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: test-tcp
    listen: 127.0.0.1:{port}""").start()
conn = d.connect(port)[0]
for p in (d.alerts_path, d.stats_path):
    for k in (1, 2):
        if os.path.exists(f"{p}.{k}"):
            os.remove(f"{p}.{k}")

sent = [0]
def sender():
    """LINES lines in chunks of 100, paced so that the rotations fall in the
    middle of the stream."""
    for start in range(1, LINES + 1, 100):
        chunk = b"".join(sshd_line(i, True).encode() + b"\n"
                         for i in range(start, min(start + 100, LINES + 1)))
        conn.sendall(chunk)
        sent[0] = min(start + 99, LINES)
        time.sleep(0.01)
    conn.close()
t = threading.Thread(target=sender)
t.start()

def rotate(k, sig, create):
    """Renames the alerts and stats files to .k (as logrotate does), makes
    new empty ones if `create`, and signals canh."""
    for p in (d.alerts_path, d.stats_path):
        os.rename(p, f"{p}.{k}")
        if create:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            os.fchmod(fd, 0o640)
            os.close(fd)
    d.signal(sig)

wait_until("a third of the lines sent", lambda: sent[0] >= LINES // 3, 60)
rotate(1, signal.SIGUSR1, create=True)
wait_until("two thirds of the lines sent", lambda: sent[0] >= 2 * LINES // 3, 60)
rotate(2, signal.SIGHUP, create=False)
t.join(timeout=120)
wait_until("canh to log the reopenings",
           lambda: d.log_count("SIGUSR1: reopened") == 1 and d.log_count("SIGHUP: reopened") == 1, 10)

def count_all():
    n = 0
    for p in (f"{d.alerts_path}.1", f"{d.alerts_path}.2", d.alerts_path):
        if os.path.exists(p):
            with open(p, "rb") as f:
                n += sum(1 for _ in f)
    return n
wait_until(f"{LINES} alerts in the three files", lambda: count_all() >= LINES, 60)
time.sleep(1.2)   # a stats record after the rotations
rc = d.stop()

ports, torn, per_file = [], 0, []
for p in (f"{d.alerts_path}.1", f"{d.alerts_path}.2", d.alerts_path):
    n = 0
    with open(p, "rb") as f:
        for raw in f:
            try:
                a = json.loads(raw)
            except ValueError:
                torn += 1
                continue
            if a["rule"]["id"] == ROOT_SSH_RULE:
                ports.append(a["source"]["port"])
                n += 1
    per_file.append(n)
missing = set(range(1, LINES + 1)) - set(ports)
print(f"alerts per file (.1 .2 current): {per_file}; each file got alerts: "
      f"{all(n > 0 for n in per_file)}")
print(f"{LINES} lines: {len(ports)} alerts, missing {len(missing)}, doubled "
      f"{len(ports) - len(set(ports))}, torn lines {torn}")
recs = []
for p in (f"{d.stats_path}.1", f"{d.stats_path}.2", d.stats_path):
    with open(p) as f:
        recs.append([json.loads(l) for l in f])
print(f"stats records per file: each file got records: {all(len(r) > 0 for r in recs)}; "
      f"final record in the current file: {recs[2][-1]['final']}, alerts {recs[2][-1]['alerts']}")
mode = stat.S_IMODE(os.stat(f"{d.alerts_path}.2").st_mode)   # made at the first rotation
print(f"the file made as logrotate's create makes it keeps its mode: {oct(mode)}")
sys.exit(rc)
