#!/usr/bin/env python3
"""
tests/e2e/run_alerts_disk_full/drive.py -- the alerts file on a disk that
fills up: canh waits and retries, and loses nothing.

The driver runs in its own mount namespace (daemon.in_mount_namespace) and
puts the alerts file on a 16 MiB tmpfs; the stats file and canh's log are on
the case's own disk. 500 failed root logins are sent and written; then the
tmpfs is filled to the last byte and 3,000 more are sent. canh must say in
its log why it cannot write, and its stats record must say the file is
failing and count as written exactly the lines the file holds. Then the
filler is removed and 1,500 more are sent: every one of the 5,000 alerts
must be in the file exactly once, every line a whole JSON object, the log
must say that writing goes on again, and the stats must count what the
file holds.

Last, the disk is filled again, 2,000 more are sent, and canh gets SIGTERM
while it cannot write: it must stop (within outputs.alerts.stop_timeout), with
no torn line left in the file, and its log and final stats record must say
how many alerts were not written (written + not written = alerts).
"""
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from daemon import (Daemon, ROOT_SSH_RULE, fill_disk, free_port, in_mount_namespace,  # noqa: E402
                    send_attacks, small_disk, wait_until)

in_mount_namespace()
build, out, root = sys.argv[1:4]
disk = os.path.join(out, "disk")
small_disk(disk, "16m")

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: tcp-in
    listen: 127.0.0.1:{port}""", workers=2, alerts_path=os.path.join(disk, "alerts.jsonl"),
           extra="""limits:
  batch_lines: 64
""")
d.start()
conn, = d.connect(port)
def send(first, n):
    return send_attacks(conn, first, n)


def file_lines():
    """(whole lines, their alerts' sequence numbers, lines that are not a JSON alert,
    bytes after the last newline)"""
    with open(d.alerts_path, "rb") as f:
        data = f.read()
    lines, tail = data.split(b"\n")[:-1], data[data.rfind(b"\n") + 1:]
    seqs, bad = [], 0
    for l in lines:
        try:
            a = json.loads(l)
            if a["rule"]["id"] == ROOT_SSH_RULE:
                seqs.append(a["source"]["port"])
        except (ValueError, KeyError, TypeError):
            bad += 1
    return len(lines), seqs, bad, len(tail)


def record_after(n0, timeout=15):
    wait_until("a new stats record", lambda: len(d.records()) > n0, timeout)
    return d.records()[-1]


def out_state(r):
    return r.get("alerts_file", {})


N1, N2, N3 = 500, 3000, 1500
send(1, N1).join(30)
d.wait_alerts(N1)
print(f"before: {N1} alerts written")

filler = fill_disk(disk)
t = send(N1 + 1, N2)
wait_until("canh to log the failed write", lambda: d.log_count("No space left on device"), 30)
n0 = len(d.records())
r = record_after(n0)
r = record_after(len(d.records()))   # one taken wholly while it fails
lines, seqs, bad, tail = file_lines()
o = out_state(r)
print(f"disk full: the log says why: {d.log_count('cannot write') > 0}; the stats record says "
      f"the file is failing: {o.get('state') == 'failing'} ({o.get('error')}), failed writes "
      f"counted: {o.get('failed_writes', 0) > 0}, written = lines in the file: "
      f"{o.get('written') == lines}")

os.remove(filler)
t.join(60)
send(N1 + N2 + 1, N3).join(60)
total = N1 + N2 + N3
try:
    wait_until(f"{total} alerts in the file", lambda: file_lines()[0] >= total, 60)
except SystemExit as e:
    print(e)
d.wait_quiet()
lines, seqs, bad, tail = file_lines()
missing = len(set(range(1, total + 1)) - set(seqs))
dup = len(seqs) - len(set(seqs))
print(f"room again: {lines} lines for {total} alerts: missing {missing}, duplicated {dup}, "
      f"not JSON {bad}, torn {tail}")
r = record_after(len(d.records()))
o = out_state(r)
print(f"the log says it writes again: {d.log_count('writing again') > 0}; the stats record "
      f"says ok: {o.get('state') == 'ok'}, written {o.get('written')} = lines in the file: "
      f"{o.get('written') == lines}, alerts {r['alerts']}")

# full again, and SIGTERM while canh cannot write
filler = fill_disk(disk)
n_log = d.log_count("No space left on device")
t = send(total + 1, 2000)
wait_until("canh to log the failed write", lambda: d.log_count("No space left on device") > n_log,
           30)
rc = d.stop(timeout=60)
lines, seqs, bad, tail = file_lines()
last = d.records()[-1]
o = out_state(last)
print(f"SIGTERM while the disk is full: exit {rc}; final record: written {o.get('written')} "
      f"= lines in the file: {o.get('written') == lines}, written + not written = alerts: "
      f"{o.get('written', 0) + o.get('not_written', 0) == last['alerts']}, not written > 0: "
      f"{o.get('not_written', 0) > 0}; torn {tail}, not JSON {bad}, duplicated "
      f"{len(seqs) - len(set(seqs))}")
print(f"the log says how many were not written: "
      f"{d.log_count(str(o.get('not_written')) + ' alerts not written') > 0}")
sys.exit(0)
