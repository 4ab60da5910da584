#!/usr/bin/env python3
"""
tests/e2e/run_file/drive.py -- log files followed like `tail -F`.

canh follows logs/app.log and logs/*-auth.log. The test appends, rotates
by rename (and writes to the renamed file after the rename, as a daemon
does before it reopens), truncates in place (copytruncate), creates a new
file matching the glob, then stops canh, appends while it is down, and
starts it again: it must resume from its saved offsets. Every line is
sequence-numbered and every tenth a failed root login: each must give
exactly one alert over the whole run, none twice.
"""
import os, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line

build, out, root = sys.argv[1:4]
logs = os.path.join(out, "logs")
shutil.rmtree(logs, ignore_errors=True)
os.makedirs(logs)
app, auth = os.path.join(logs, "app.log"), os.path.join(logs, "x-auth.log")
seq, expected = 0, set()

def write(path, n, mode="a"):
    global seq
    with open(path, mode) as f:
        for _ in range(n):
            seq += 1
            f.write(sshd_line(seq, seq % 10 == 0) + "\n")
            if seq % 10 == 0:
                expected.add(seq)

write(app, 1000, "w")
d = Daemon(build, out, root, f"""  - type: file
    name: local-logs
    paths: [{app}, "{logs}/*-auth.log"]
    start_at: beginning""")
d.start()
d.wait_alerts(len(expected))
write(app, 500)                          # appended
d.wait_alerts(len(expected))
os.rename(app, app + ".1")               # logrotate `create`
write(app + ".1", 100)                   # the old writer, before it reopens
write(app, 200, "w")                     # the new file
d.wait_alerts(len(expected))
with open(app, "r+") as f:               # copytruncate
    f.truncate(0)
write(app, 100)
d.wait_alerts(len(expected))
write(auth, 100, "w")                    # a new file matching the glob
d.wait_alerts(len(expected))
rc1 = d.stop()
first = d.records()[-1]["files"]   # the final record of the first run

write(app, 300)                          # while canh is down
d.start()
d.wait_alerts(len(expected))
d.wait_quiet(1.5)
rc2 = d.stop()

ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
print(f"{seq} lines written across appends, a rotation, a truncation, a new file and a "
      f"restart; alerts {len(ports)} of {len(expected)}, missing {len(expected - set(ports))}, "
      f"duplicated {len(ports) - len(set(ports))}")
print(f"before the restart: rotations {first['rotations']}, truncations {first['truncations']}, "
      f"lines {first['lines']}")
print(f"exit statuses {rc1} {rc2}")
sys.exit(rc1 or rc2)
