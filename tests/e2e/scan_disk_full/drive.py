#!/usr/bin/env python3
"""
tests/e2e/scan_disk_full/drive.py -- canh scan writing its alerts file to a
disk that fills up: it waits, says why, and once there is room finishes
with every alert written once; it never reports success with alerts lost.

The driver runs in its own mount namespace (daemon.in_mount_namespace) and
puts the alerts file on a 4 MiB tmpfs with about 1 MiB left: room for some
600 of the 1,520 alerts of samples/auth_ec2.log (2.4 MB). canh scan must
say on stderr that it cannot write and why, and keep running; once the
driver makes room it must finish (exit 0) with the same alerts as a scan
to a healthy disk (by event.id, each once, every line a whole JSON
object), its --stats file counting them as written and the failed writes.
"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from daemon import fill_disk, in_mount_namespace, small_disk, wait_until  # noqa: E402

in_mount_namespace()
build, out, root = sys.argv[1:4]
disk = os.path.join(out, "disk")
small_disk(disk, "4m")
sample = os.path.join(root, "samples", "auth_ec2.log")
canh = [os.path.join(build, "canh"), "scan", "-j", "2", "-r", os.path.join(root, "rules")]

ref = os.path.join(out, "reference.jsonl")
subprocess.run(canh + ["-q", "-o", ref, sample], check=True)


def ids(path):
    """(event.ids of the file's whole lines, lines that are not a JSON alert, bytes after
    the last newline)"""
    with open(path, "rb") as f:
        data = f.read()
    got, bad = [], 0
    for l in data.split(b"\n")[:-1]:
        try:
            got.append(json.loads(l)["event"]["id"])
        except (ValueError, KeyError, TypeError):
            bad += 1
    return got, bad, len(data) - data.rfind(b"\n") - 1


want, _, _ = ids(ref)
filler = fill_disk(disk)
os.truncate(filler, os.path.getsize(filler) - (1 << 20))   # 1 MiB of room

alerts, stats, errf = (os.path.join(disk, "alerts.jsonl"), os.path.join(out, "stats.json"),
                       os.path.join(out, "stderr.txt"))
with open(errf, "wb") as e:
    p = subprocess.Popen(canh + ["-o", alerts, "--stats", stats, sample], stderr=e)


def err_text():
    with open(errf, "rb") as f:
        return f.read().decode("utf-8", "replace")


wait_until("canh scan to say it cannot write, or to exit",
           lambda: "No space left on device" in err_text() or p.poll() is not None, 60)
time.sleep(1)
running = p.poll() is None
print(f"disk full: canh scan says why: {'cannot write' in err_text()}; it waits (still "
      f"running): {running}")
os.remove(filler)
try:
    rc = p.wait(timeout=120)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("canh scan did not finish within 120 s of the room being made")
got, bad, tail = ids(alerts)
print(f"room again: exit {rc}; {len(got)} alerts for {len(want)}: missing "
      f"{len(set(want) - set(got))}, duplicated {len(got) - len(set(got))}, not JSON {bad}, "
      f"torn {tail}")
with open(stats) as f:
    st = json.load(f).get("output", {})
print(f"--stats: written {st.get('written')} = alerts in the file: {st.get('written') == len(got)}"
      f", not written {st.get('not_written')}, failed writes counted: "
      f"{st.get('failed_writes', 0) > 0}")
sys.stderr.write(err_text())
sys.exit(0)
