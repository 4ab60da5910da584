#!/usr/bin/env python3
"""
tests/e2e/run_file_kill/drive.py -- file offsets are saved under constant
load, never ahead of the alerts, and a crash (SIGKILL) loses nothing.

canh follows a file of 12,000 failed root logins (one alert each) and
writes its alerts to a named pipe that this driver reads slowly, 1,500
alerts a second: canh's pipeline is full the whole time, its input waits,
and it is never idle. The driver watches the state file meanwhile, kills
canh with SIGKILL three quarters of the way through, reads what was left
in the pipe, and starts canh again with an ordinary alerts file. Checked:
- an offset was saved while canh was under load;
- whenever a new offset shows in the state file, every line below it has
  its alert out already, read or still in the pipe (offsets never run
  ahead of the alerts), and so at the kill;
- after the restart, every line has its alert (none lost), and fewer than
  half of the lines were read twice (only those after the last save);
- a line read twice gives the same event.id both times (so the SOC can
  drop the duplicate), and no two lines share one.
"""
import fcntl, json, os, struct, sys, termios, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line

build, out, root = sys.argv[1:4]
N, RATE, KILL_AT = 12000, 1500, 9000
logs = os.path.join(out, "logs")
os.makedirs(logs, exist_ok=True)
app = os.path.join(logs, "app.log")
ends = []   # byte offset just past each line: line i (1-based) ends at ends[i-1]
with open(app, "w") as f:
    for i in range(1, N + 1):
        f.write(sshd_line(i, True) + "\n")
        ends.append(f.tell())

d = Daemon(build, out, root, f"""  - type: file
    name: big
    paths: [{app}]
    start_at: beginning""", workers=1, extra="limits:\n  batch_lines: 64\n")
os.mkfifo(d.alerts_path)
rfd = os.open(d.alerts_path, os.O_RDONLY | os.O_NONBLOCK)
state = os.path.join(out, "state", "follow-big.state")

def saved_lines():
    """Lines covered by the saved offset of app.log (0: none saved yet)."""
    try:
        with open(state) as f:
            rows = [l.split(None, 4) for l in f if not l.startswith("#")]
    except FileNotFoundError:
        return 0
    offs = [int(r[2]) for r in rows if len(r) == 5 and r[4].strip() == app]
    if not offs:
        return 0
    return sum(1 for e in ends if e <= offs[0])

first, partial = [], b""
first_ids = {}   # line -> event.id of its alert before the kill
def take(data):
    global partial
    partial += data
    *whole, partial = partial.split(b"\n")
    for l in whole:
        a = json.loads(l)
        if a["rule"]["id"] == ROOT_SSH_RULE:
            first.append(a["source"]["port"])
            first_ids[a["source"]["port"]] = a["event"]["id"]

d.start()
t0, deadline = time.time(), time.time() + 60
saved_under_load, ahead = 0, 0   # lines saved; lines saved before their alert was out
while len(first) < KILL_AT and time.time() < deadline:
    if d.proc.poll() is not None:
        sys.exit(f"canh exited early ({d.proc.returncode}):\n" + d.log_text())
    allowed = int(RATE * (time.time() - t0)) - len(first)
    if allowed > 0:
        try:
            take(os.read(rfd, min(65536, allowed * 400)))
        except BlockingIOError:
            pass
    s = saved_lines()
    if s > saved_under_load:
        # a new save: the alerts of every line below it must be out by now,
        # read or still in the pipe (FIONREAD: its bytes, read whole now)
        saved_under_load = s
        inpipe = struct.unpack("i", fcntl.ioctl(rfd, termios.FIONREAD, b"\0" * 4))[0]
        while inpipe > 0:
            try:
                data = os.read(rfd, inpipe)
            except BlockingIOError:
                break
            take(data)
            inpipe -= len(data)
        got = set(first)
        ahead = max(ahead, sum(1 for i in range(1, s + 1) if i not in got))
    time.sleep(0.02)
if len(first) < KILL_AT:
    sys.exit(f"only {len(first)} alerts within 60 s:\n" + d.log_text())
d.kill()
covered = saved_lines()
os.set_blocking(rfd, True)
while True:   # what canh wrote before it died
    data = os.read(rfd, 65536)
    if not data:
        break
    take(data)
os.close(rfd)
got = set(first)
ahead = max(ahead, sum(1 for i in range(1, covered + 1) if i not in got))
print(f"an offset was saved while canh was under load: {'yes' if saved_under_load else 'no'}")
print(f"lines below a saved offset whose alert was not out yet: {ahead}")
sys.stderr.write(f"saved under load {saved_under_load} lines; at the kill {covered}; "
                 f"alerts out before the kill {len(first)}\n")

os.remove(d.alerts_path)   # the restart writes an ordinary file
d.start()
d.wait_alerts(N - covered)
d.wait_quiet(1.5)
rc = d.stop()
second = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
second_ids = {a["source"]["port"]: a["event"]["id"] for a in d.alerts(ROOT_SSH_RULE)}
twice = set(first_ids) & set(second_ids)
same = sum(first_ids[i] == second_ids[i] for i in twice)
ids = {**first_ids, **second_ids}
print(f"lines read twice with the same event.id both times: {same} of {len(twice)}"
      f"{' (none read twice)' if not twice else ''}")
print(f"lines sharing an event.id with another line: {len(ids) - len(set(ids.values()))}")
both = got | set(second)
again = len(first) + len(second) - N
print(f"after the restart: lines with an alert {len(both & set(range(1, N + 1)))} of {N}, "
      f"missing {N - len(both)}")
print(f"read again after the crash: {'fewer' if again < N // 2 else 'not fewer'} than half "
      f"the lines")
sys.stderr.write(f"read again: {again}\n")
print(f"exit status of the restart {rc}")
sys.exit(rc)
