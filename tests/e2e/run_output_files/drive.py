#!/usr/bin/env python3
"""
tests/e2e/run_output_files/drive.py -- the modes of the files canh run
makes, and no write through a link planted at their paths.

canh.yml sets outputs.alerts.mode: 0640 (written unquoted, as a user
would) and leaves the stats file at its default (0600). The test runs
with umask 022 (fopen's files would be 0644). Lines go in over TCP in
three rounds:
1. the alerts and stats files canh made at start have modes 0640 and 0600;
2. both renamed away (logrotate's `nocreate`), SIGUSR1: the files canh
   makes again have the same modes;
3. the alerts file renamed away and a symbolic link to a victim file put
   at its path, SIGUSR1: canh names the link and writes on to the renamed
   file; the victim is unchanged and no alert is lost.
Bounded: 3 x 100 lines; every wait has a deadline.
"""
import os, signal, stat, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
os.umask(0o022)
port = free_port()
alerts = os.path.join(out, "alerts.jsonl")
victim = os.path.join(out, "victim")
VICTIM = "root:x:0:0:root:/root:/bin/bash\n"
with open(victim, "w") as f:
    f.write(VICTIM)
for p in (alerts + ".1", alerts + ".2", os.path.join(out, "stats.jsonl.1")):
    if os.path.lexists(p):
        os.remove(p)
d = Daemon(build, out, root, f"""  - type: tcp
    name: test-tcp
    listen: 127.0.0.1:{port}""", alerts_file=False, outputs=f"""  alerts:
    path: {alerts}
    mode: 0640""").start()
conn = d.connect(port)[0]
seq = [0]

def send(n):
    """n failed root logins (one alert each)."""
    conn.sendall(b"".join(sshd_line(seq[0] + i, True).encode() + b"\n" for i in range(1, n + 1)))
    seq[0] += n

def count(paths):
    n = 0
    for p in paths:
        if os.path.exists(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                n += sum(1 for _ in f)
    return n

mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode))
send(100)
wait_until("100 alerts", lambda: count([alerts]) >= 100, 60)
wait_until("a stats record", lambda: os.path.exists(d.stats_path), 10)
print(f"made at start: alerts {mode(alerts)}, stats {mode(d.stats_path)}")

os.rename(alerts, alerts + ".1")
os.rename(d.stats_path, d.stats_path + ".1")
d.signal(signal.SIGUSR1)
wait_until("the reopening", lambda: d.log_count("SIGUSR1: reopened") == 1, 10)
send(100)
wait_until("200 alerts", lambda: count([alerts + ".1", alerts]) >= 200, 60)
wait_until("a stats record", lambda: os.path.exists(d.stats_path), 10)
print(f"made at SIGUSR1: alerts {mode(alerts)}, stats {mode(d.stats_path)}")

os.rename(alerts, alerts + ".2")
os.symlink(victim, alerts)
d.signal(signal.SIGUSR1)
wait_until("the reopening", lambda: d.log_count("SIGUSR1: reopened") == 2, 10)
send(100)
files = [alerts + ".1", alerts + ".2"]
wait_until("300 alerts", lambda: count(files) >= 300, 60)
conn.close()
rc = d.stop()
with open(victim) as f:
    same = f.read() == VICTIM
named = f"cannot reopen the alerts file {alerts}: it is a symbolic link" in d.log_text()
print(f"link at the alerts path: victim unchanged: {same}, named: {named}, "
      f"alerts in the two files: {count(files)} of 300")
sys.exit(rc)
