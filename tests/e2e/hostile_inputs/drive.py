#!/usr/bin/env python3
"""
tests/e2e/hostile_inputs/drive.py -- the hostile-input regression set
(tests/hostile/gen.py) through `canh scan` and through `canh run`'s TCP
input with octet-counted framing.

    drive.py BUILD OUT ROOT

Checks, printing one "ok ..." or "FAIL ..." line each:
  - no sanitizer report, and canh exits 0;
  - balance: every line fed is an event or a blank line (stats `lines`,
    `events` against the generator's own count), every stream message is an
    event, and every bogus frame is counted where the framer says;
  - the lines canh documents as broken (a PRI over 191, an audit time past
    the year 9999) are counted parse errors, each named with its file and
    line on stderr;
  - resident memory: canh's peak RSS under RSS_LIMIT_MB (plain build;
    sanitizer builds get their own, larger, figure);
  - every alerts-file line is exactly one JSON object;
  - canh's stderr and log are UTF-8 with no raw control character (C0 but
    LF, DEL, C1): a host name built of escapes is among the top hosts.
Exits 1 if any check failed. Every wait has a deadline.
"""
import base64, json, os, re, shutil, signal, subprocess, sys, time

CASE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(CASE, ".."))
from daemon import Daemon, free_port, wait_until

build, out, root = sys.argv[1:4]
SAN = os.environ.get("SANITIZER") or ("address" if "asan" in os.path.basename(build) else "")
RSS_LIMIT_MB = {"": 200, "address": 1200, "thread": 2000}.get(SAN, 2000)
failed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failed.append(what)


CTRL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def control_bytes(data, name):
    """True if data is not UTF-8, or holds a C0 (but LF), DEL or C1 control."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"  {name} is not UTF-8: {data[max(0, e.start - 80):e.end + 20]!r}")
        return True
    m = CTRL.search(text)
    if m:
        print(f"  first raw control character in {name}: "
              f"{text[max(0, m.start() - 80):m.start() + 40]!r}")
    return m is not None


def sanitizer_report(data):
    return any(k in data for k in (b"Sanitizer", b"runtime error:"))


def json_lines(path):
    """(lines, bad): every line must be exactly one JSON object."""
    n, bad = 0, []
    if not os.path.exists(path):
        return 0, bad
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            n += 1
            try:
                v = json.loads(raw)
                if not isinstance(v, dict) or not raw.endswith(b"\n"):
                    bad.append(i)
            except ValueError:
                bad.append(i)
    return n, bad


# ---- the inputs --------------------------------------------------------------
gdir = os.path.join(out, "hostile")
shutil.rmtree(gdir, ignore_errors=True)
g = subprocess.run([sys.executable, os.path.join(root, "tests/hostile/gen.py"), gdir],
                   capture_output=True, text=True, timeout=120)
if g.returncode:
    sys.exit("gen.py failed:\n" + g.stderr)
print("generated: " + g.stdout.strip())
man = json.load(open(os.path.join(gdir, "manifest.json")))
files = man["files"]
tot = lambda k: sum(f[k] for f in files)

# ---- canh scan ---------------------------------------------------------------
alerts, stats = os.path.join(out, "scan-alerts.jsonl"), os.path.join(out, "stats.json")
for p in (alerts, stats):
    if os.path.exists(p):
        os.remove(p)
cmd = [f"{build}/canh", "scan", "-j", "2", "-r", os.path.join(root, "rules"), "-o", alerts,
       "--stats", stats] + [os.path.join(gdir, f["path"]) for f in files]
err_path = os.path.join(out, "scan.stderr")
with open(err_path, "wb") as ef:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=ef, cwd=root)
    deadline = time.time() + 300
    while True:   # os.wait4 gives the child's own peak RSS
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            proc.kill()
            sys.exit("canh scan did not finish within 300 s")
        time.sleep(0.05)
rc = os.waitstatus_to_exitcode(status)
proc.returncode = rc
serr = open(err_path, "rb").read()
check(rc == 0, f"scan: exit status {rc} (0 expected)")
check(not sanitizer_report(serr), "scan: no sanitizer report")
s = json.load(open(stats)) if os.path.exists(stats) else {}
check(s.get("files") == len(files) and s.get("files_failed") == 0,
      f"scan: {len(files)} inputs read, none failed")
check(s.get("lines") == tot("lines") and s.get("events") == tot("events") and
      tot("lines") == tot("events") + tot("blank"),
      f"scan balance: {tot('lines')} lines = {tot('events')} events + {tot('blank')} blank "
      f"lines (canh: {s.get('lines')} lines, {s.get('events')} events)")
pe = s.get("parse_errors", -1)
check(tot("must_err") <= pe <= s.get("events", 0),
      f"scan: parse errors counted, at least the {tot('must_err')} known broken lines")
named = [f["path"] for f in files if f["must_err"]
         if (os.path.join(gdir, f["path"]) + ":1: ").encode() not in serr]
check(not named, f"scan: each known broken line named with file and line on stderr"
      + (f" (not: {named[:3]})" if named else ""))
rss_mb = ru.ru_maxrss / 1024
print(f"  scan peak RSS {rss_mb:.0f} MB")
check(rss_mb < RSS_LIMIT_MB, f"scan: peak RSS under {RSS_LIMIT_MB} MB")
n, bad = json_lines(alerts)
check(n > 0 and not bad, f"scan: every alerts-file line is one JSON object"
      + (f" (not lines {bad[:5]} of {n})" if bad else ""))
check(n == s.get("alerts"), "scan: the alerts file holds every alert counted")
check(not control_bytes(serr, "scan stderr"), "scan: no raw control character on stderr")

# ---- canh run, TCP with octet-counted framing --------------------------------
streams = json.load(open(os.path.join(gdir, "tcp.json")))
want = {k: sum(t["expect"].get(k, 0) for t in streams)
        for k in ("messages", "bad_frames", "truncated", "dropped_too_long")}
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: hostile-tcp
    listen: 127.0.0.1:{port}
    framing: octet""").start()
for t in streams:
    c = d.connect(port)[0]
    c.sendall(base64.b64decode(t["data"]))
    c.close()


def last():
    try:
        return d.records()[-1]
    except (OSError, IndexError, ValueError):
        return None


def settled():
    r = last()
    return r is not None and r["stream"]["accepted"] == len(streams) and \
        r["stream"]["connections_open"] == 0 and r["events"] >= want["messages"]


try:
    wait_until("every stream read and its messages processed", settled, 120)
except SystemExit as e:
    print(f"  {e}")
hwm = 0
with open(f"/proc/{d.proc.pid}/status") as f:
    for l in f:
        if l.startswith("VmHWM:"):
            hwm = int(l.split()[1]) / 1024
rc = d.stop()
log = open(d.log_path, "rb").read()
check(rc == 0, f"run: exit status {rc} (0 expected)")
check(not sanitizer_report(log), "run: no sanitizer report")
r = d.records()[-1]
st = r["stream"]
got = {"messages": st["messages"], "bad_frames": st["bad_frames"], "truncated": st["truncated"],
       "dropped_too_long": st["dropped_too_long"]}
check(got == want, f"run: {len(streams)} TCP streams framed as expected: {want} (canh: {got})")
check(r["final"] and r["events"] == st["messages"] and
      r["inputs"]["hostile-tcp"]["events_in"] == st["messages"],
      f"run balance: every message is an event ({st['messages']} messages, "
      f"{r['events']} events)")
print(f"  run peak RSS {hwm:.0f} MB")
check(hwm < RSS_LIMIT_MB, f"run: peak RSS under {RSS_LIMIT_MB} MB")
n, bad = json_lines(d.alerts_path)
check(n > 0 and not bad, f"run: every alerts-file line is one JSON object"
      + (f" (not lines {bad[:5]} of {n})" if bad else ""))
check(not control_bytes(log, "canh.log"), "run: no raw control character in canh's log")
print(f"{len(failed)} checks failed" if failed else "all checks passed")
sys.exit(1 if failed else 0)
