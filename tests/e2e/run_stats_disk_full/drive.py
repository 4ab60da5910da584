#!/usr/bin/env python3
"""
tests/e2e/run_stats_disk_full/drive.py -- the stats file on a disk that
fills up: records that cannot be written are skipped whole, said once, and
the file stays one JSON object per line.

The driver runs in its own mount namespace (daemon.in_mount_namespace) and
puts the stats file on a 1 MiB tmpfs (stats every second); the alerts file
and canh's log are on the case's own disk. A few alerts are sent, the tmpfs
is filled to the last byte until canh says it cannot write a record, and
three more stats intervals pass (canh's log has a `stats:` line for each); then the filler is removed and more alerts are
sent. The log must say once that records cannot be written and then that
they go on again; every line of the stats file must be a whole JSON record;
the last one must count every alert.
"""
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from daemon import (Daemon, fill_disk, free_port, in_mount_namespace, small_disk,  # noqa: E402
                    sshd_line, wait_until)

in_mount_namespace()
build, out, root = sys.argv[1:4]
disk = os.path.join(out, "disk")
small_disk(disk, "1m")
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: tcp-in
    listen: 127.0.0.1:{port}""", workers=1)
d.stats_path = os.path.join(disk, "stats.jsonl")
cfg = open(d.cfg).read().replace(os.path.join(out, "stats.jsonl"), d.stats_path)
open(d.cfg, "w").write(cfg)
d.start()
conn, = d.connect(port)
conn.sendall("".join(sshd_line(i, True) + "\n" for i in range(1, 101)).encode())
d.wait_alerts(100)
wait_until("a stats record", lambda: os.path.exists(d.stats_path) and d.records(), 15)

filler = fill_disk(disk)
wait_until("canh to say it cannot write a stats record",
           lambda: d.log_count("cannot write a stats record"), 30)
n = d.log_count("info: stats:")
wait_until("three more stats intervals", lambda: d.log_count("info: stats:") >= n + 3, 30)
os.remove(filler)
conn.sendall("".join(sshd_line(i, True) + "\n" for i in range(101, 201)).encode())
d.wait_alerts(200)
try:
    wait_until("canh to say stats records go on again", lambda: d.log_count("again;"), 15)
except SystemExit as e:
    print(e)
rc = d.stop()
with open(d.stats_path, "rb") as f:
    lines = f.read().split(b"\n")
bad = 0
for l in lines[:-1]:
    try:
        json.loads(l)
    except ValueError:
        bad += 1
last = json.loads(lines[-2]) if len(lines) > 1 and not bad else {}
print(f"stats file full for three intervals: the log says so {d.log_count('cannot write a stats record')} "
      f"time(s), and that they go on again: {d.log_count('stats records go to') > 0}")
print(f"the stats file: {len(lines) - 1} records, not JSON {bad}, torn {len(lines[-1])}; the last "
      f"counts every alert: {last.get('final')} {last.get('alerts')}")
sys.exit(rc)
