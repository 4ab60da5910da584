#!/usr/bin/env python3
"""
tests/e2e/run_state_links/drive.py -- no folder or link turned against
canh run: state_dir and the spool folder as an attacker would leave them.

1. state_dir writable by every user: canh run refuses to start, naming the
   folder, its owner and mode (with a file input, and with none: the rule
   cache lives there too).
2. state_dir canh's own, but a symbolic link planted where the file
   input's offsets are written first (follow-NAME.state.tmp) pointing at a
   victim file: canh runs, every alert comes out, the error names the link,
   the stats count it (files.save_errors), and the victim is unchanged.
3. The Kafka spool's head file a symbolic link to the victim: canh run
   refuses to start, naming the file; the victim is unchanged.
Bounded: 200 lines; every wait has a deadline.
"""
import os, shutil, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, free_port, sshd_line

build, out, root = sys.argv[1:4]
logs = os.path.join(out, "logs")
shutil.rmtree(logs, ignore_errors=True)
os.makedirs(logs)
app = os.path.join(logs, "app.log")
victim = os.path.join(out, "victim")
VICTIM = "root:x:0:0:root:/root:/bin/bash\n"
with open(victim, "w") as f:
    f.write(VICTIM)
with open(app, "w") as f:
    for i in range(1, 201):
        f.write(sshd_line(i, i % 10 == 0) + "\n")
state = os.path.join(out, "state")
FILE_INPUT = f"""  - type: file
    name: local-logs
    paths: [{app}]
    start_at: beginning"""

def start_fails(d, what):
    """Starts d, which must exit at once (within 30 s): its status and log."""
    d.start()
    try:
        rc = d.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        d.kill()
        sys.exit(f"canh run started with {what}")
    d.log.close()
    return rc, d.log_text()

# 1. a state_dir every user can write
for inputs, name in ((FILE_INPUT, "a file input"), (f"""  - type: udp
    listen: 127.0.0.1:{free_port(socket.SOCK_DGRAM)}""", "no file input")):
    d = Daemon(build, out, root, inputs)
    os.makedirs(state)
    os.chmod(state, 0o777)
    rc, log = start_fails(d, f"a world-writable state_dir ({name})")
    said = f"state_dir '{state}' (owner root, mode 0777) can be written by every user" in log
    print(f"world-writable state_dir, {name}: exit {rc}, refused naming folder, owner and "
          f"mode: {said}")
    if not said:
        sys.stderr.write(log)

# 2. a link planted where the offsets are written
d = Daemon(build, out, root, FILE_INPUT)
os.makedirs(state, mode=0o700)
tmp = os.path.join(state, "follow-local-logs.state.tmp")
os.symlink(victim, tmp)
d.start()
d.wait_alerts(20)
d.wait_quiet(1.5)
rc = d.stop()
log = d.log_text()
with open(victim) as f:
    same = f.read() == VICTIM
print(f"link in state_dir: exit {rc}, alerts {d.alert_count()}, victim unchanged: {same}, "
      f"link still there: {os.path.islink(tmp)}")
print(f"the error names the link: {tmp in log and 'symbolic link' in log}; "
      f"counted: {d.records()[-1]['files']['save_errors'] > 0}")

# 3. the spool's head a link to the victim
spool = os.path.join(out, "spool")
shutil.rmtree(spool, ignore_errors=True)
os.makedirs(spool, mode=0o700)
os.symlink(victim, os.path.join(spool, "head"))
d = Daemon(build, out, root, FILE_INPUT, alerts_file=False, outputs=f"""  kafka:
    brokers: 127.0.0.1:9
    spool:
      path: {spool}""")
rc, log = start_fails(d, "a link as the spool's head")
with open(victim) as f:
    same = f.read() == VICTIM
named = f"'{spool}/head'" in log and "symbolic link" in log
print(f"link as the spool head: exit {rc}, refused naming it: {named}, victim unchanged: {same}")
if not named:
    sys.stderr.write(log)
