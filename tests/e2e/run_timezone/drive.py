#!/usr/bin/env python3
"""
tests/e2e/run_timezone/drive.py -- `canh run`: each input reads the stamps
that carry no zone in its own `timezone`, else the top-level one, else the
machine's ($TZ).

First run: three followed files, one with `timezone: Asia/Ho_Chi_Minh`,
one with `America/New_York`, one with none under a top-level
`timezone: Europe/Berlin`. Second run: no timezone anywhere and TZ set to
Asia/Ho_Chi_Minh in canh's environment. Each file holds the same lines:
ISO 8601 stamps without an offset, inside and around the 2025 DST changes
of Berlin and New York; one with an offset (kept as it is); and RFC 3164
stamps of two hours and of two minutes ago in that zone (their year is
inferred from "now" in the zone). Every alert's @timestamp is checked
against Python's zoneinfo (fold=0), and canh's log must name each input's
zone.
"""
import datetime as dt, os, sys
from zoneinfo import ZoneInfo
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE

build, out, root = sys.argv[1:4]
UTC = dt.timezone.utc
MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
ISO = ["2025-03-30T02:30:00", "2025-03-30T03:00:00", "2025-10-26T02:30:00",
       "2025-03-09T02:30:00", "2025-11-02T01:30:00", "2025-11-02T02:00:00",
       "2025-07-01T12:00:00.250", "2025-12-31T23:30:00", "2025-07-01T12:00:00+07:00"]


def iso_ms(t):
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def write(path, zone, base):
    """Writes the lines; returns {port: expected @timestamp}."""
    z, want, lines = ZoneInfo(zone), {}, []
    port = base
    for text in ISO:
        port += 1
        lines.append(f"{text} web01 sshd[{port}]: Failed password for root from 203.0.113.9 "
                     f"port {port} ssh2")
        t = dt.datetime.fromisoformat(text)
        want[port] = iso_ms(t if t.tzinfo else t.replace(tzinfo=z))
    now = dt.datetime.now(UTC).replace(microsecond=0)
    for ago in (dt.timedelta(hours=2), dt.timedelta(minutes=2)):
        port += 1
        w = (now - ago).astimezone(z)
        lines.append(f"{MON[w.month - 1]} {w.day:2d} {w:%H:%M:%S} web01 sshd[{port}]: Failed "
                     f"password for root from 203.0.113.9 port {port} ssh2")
        want[port] = iso_ms(now - ago)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return want


def check(d, want, label):
    d.wait_alerts(len(want))
    d.wait_quiet(1.0)
    rc = d.stop()
    bad = 0
    got = {}
    for a in d.alerts(ROOT_SSH_RULE):
        port = int(a["event"]["original"].rsplit(" port ", 1)[1].split()[0])
        got[port] = a["@timestamp"]
    for port, w in sorted(want.items()):
        if got.get(port) != w:
            bad += 1
            print(f"{label}: line {port}: canh {got.get(port)}, zoneinfo {w}")
    print(f"{label}: {len(got)} of {len(want)} alerts, {bad} wrong, exit {rc}")


logs = os.path.join(out, "logs")
os.makedirs(logs, exist_ok=True)
want = {}
want.update(write(f"{logs}/hcm.log", "Asia/Ho_Chi_Minh", 100))
want.update(write(f"{logs}/ny.log", "America/New_York", 200))
want.update(write(f"{logs}/berlin.log", "Europe/Berlin", 300))
os.environ["TZ"] = "UTC"   # the machine's zone must not be what they get
d = Daemon(build, out, root, f"""  - type: file
    name: hcm
    paths: [{logs}/hcm.log]
    start_at: beginning
    timezone: Asia/Ho_Chi_Minh
  - type: file
    name: ny
    paths: [{logs}/ny.log]
    start_at: beginning
    timezone: America/New_York
  - type: file
    name: berlin
    paths: [{logs}/berlin.log]
    start_at: beginning""", extra="timezone: Europe/Berlin\n")
d.start()
check(d, want, "per input")
for name, zone in (("hcm", "Asia/Ho_Chi_Minh"), ("ny", "America/New_York"),
                   ("berlin", "Europe/Berlin")):
    if d.log_count(f"input {name}: stamps without a zone are read in {zone}") != 1:
        print(f"the log does not name {zone} for {name}")

want = write(f"{logs}/machine.log", "Asia/Ho_Chi_Minh", 400)
os.environ["TZ"] = "Asia/Ho_Chi_Minh"
d = Daemon(build, out, root, f"""  - type: file
    name: machine
    paths: [{logs}/machine.log]
    start_at: beginning""")
d.start()
check(d, want, "machine's zone")
