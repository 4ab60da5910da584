#!/usr/bin/env python3
"""
tests/e2e/scan_timezone/drive.py -- `canh scan --timezone ZONE` and the
machine's zone ($TZ), on stamps that carry no zone.

One log of failed root logins (each line numbered by its port), written
here: RFC 3164 stamps without a year, across the new year and on both
sides of and inside every daylight-saving change of 2025 in Berlin and New
York; ISO 8601 and RFC 5424 stamps with and without an offset; one
access-log-style +0700 line's moment written as local syslog. The file's
modification time, the reference of year inference, is 2026-01-05 03:00
UTC: January 5 in Ho Chi Minh City, still January 4 in New York. canh
scans it in Asia/Ho_Chi_Minh, Europe/Berlin and America/New_York, by
--timezone and by TZ; each alert's @timestamp must be what Python's
zoneinfo (fold=0: a repeated time is the first, a skipped one takes the
offset before the change) makes of its line. Then an unknown zone and a
bad TZ must be refused, naming the option.
"""
import datetime as dt, json, os, subprocess, sys
from zoneinfo import ZoneInfo

build, out, root = sys.argv[1:4]
UTC = dt.timezone.utc
REF = dt.datetime(2026, 1, 5, 3, 0, 0, tzinfo=UTC)   # the file's mtime
SLACK = dt.timedelta(days=2)                          # README: "at most two days after"
MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

# (month, day, hh, mm, ss) of RFC 3164 stamps, no year
bsd = [(12, 31, 23, 30, 0), (1, 1, 0, 30, 0), (1, 4, 10, 0, 0), (1, 6, 10, 0, 0), (12, 1, 8, 0, 0),
       (7, 1, 12, 0, 0),
       (3, 30, 1, 59, 59), (3, 30, 2, 30, 0), (3, 30, 3, 0, 0),          # Berlin, spring
       (10, 26, 1, 59, 59), (10, 26, 2, 30, 0), (10, 26, 3, 0, 0),       # Berlin, autumn
       (3, 9, 1, 59, 59), (3, 9, 2, 30, 0), (3, 9, 3, 0, 0),             # New York, spring
       (11, 2, 0, 59, 59), (11, 2, 1, 30, 0), (11, 2, 2, 0, 0)]          # New York, autumn
# ISO 8601 stamps (rsyslog's format and RFC 5424): (text, offset or None)
iso = [("2025-03-30T02:30:00", None), ("2025-10-26T02:30:00.250", None),
       ("2025-11-02T01:30:00", None), ("2025-06-01T07:00:00", None),
       ("2025-06-01T07:00:00+07:00", "+07:00"), ("2025-06-01T07:00:00Z", "Z")]

lines, wall = [], {}      # wall[port] = (naive local datetime) or an aware one
port = 1000


def failed(port):
    return f"sshd[{port}]: Failed password for root from 203.0.113.9 port {port} ssh2"


for (mo, d, h, mi, s) in bsd:
    port += 1
    lines.append(f"{MON[mo - 1]} {d:2d} {h:02d}:{mi:02d}:{s:02d} web01 {failed(port)}")
    wall[port] = ("bsd", (mo, d, h, mi, s))
for text, off in iso:
    port += 1
    lines.append(f"{text} web01 {failed(port)}")
    wall[port] = ("iso", text)
    port += 1
    lines.append(f"<38>1 {text} web01 sshd {port} - - Failed password for root from "
                 f"203.0.113.9 port {port} ssh2")
    wall[port] = ("iso", text)

log = os.path.join(out, "zoneless.log")
with open(log, "w") as f:
    f.write("\n".join(lines) + "\n")
os.utime(log, (REF.timestamp(), REF.timestamp()))


def expected(zone, kind, v):
    z = ZoneInfo(zone)
    if kind == "iso":
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=z)           # fold=0
        return t.astimezone(UTC)
    mo, d, h, mi, s = v
    ref_wall = REF.astimezone(z).replace(tzinfo=None)
    for y in (ref_wall.year + 1, ref_wall.year, ref_wall.year - 1):
        w = dt.datetime(y, mo, d, h, mi, s)
        if w <= ref_wall + SLACK:              # the latest year not past "now" + slack
            return w.replace(tzinfo=z).astimezone(UTC)


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def scan(args, env=None):
    p = subprocess.run([f"{build}/canh", "scan", "-q", "-r", f"{root}/rules", *args, log],
                       capture_output=True, text=True, env=env, timeout=120)
    return p


bad = 0
checked = 0
for zone in ("Asia/Ho_Chi_Minh", "Europe/Berlin", "America/New_York"):
    for how in ("--timezone", "TZ"):
        env = dict(os.environ)
        if how == "TZ":
            env["TZ"] = zone
            p = scan([], env)
        else:
            env["TZ"] = "UTC"                  # the option wins over the machine's zone
            p = scan(["--timezone", zone], env)
        if p.returncode != 0:
            sys.exit(f"{how} {zone}: exit {p.returncode}: {p.stderr}")
        seen = set()
        for raw in p.stdout.splitlines():
            a = json.loads(raw)
            if a["rule"]["id"] != "9f6c0c14-ee0c-4311-a655-29a4507918a2":
                continue
            pt = int(a["event"]["original"].rsplit(" port ", 1)[1].split()[0])
            want = iso_ms(expected(zone, *wall[pt]))
            checked += 1
            seen.add(pt)
            if a["@timestamp"] != want:
                bad += 1
                print(f"{how} {zone}: {a['event']['original'][:40]!r}: "
                      f"canh {a['@timestamp']}, zoneinfo {want}")
        if seen != set(wall):
            sys.exit(f"{how} {zone}: alerts for {len(seen)} of {len(wall)} lines")
print(f"checked {checked} stamps, {bad} wrong")

# refused: an unknown zone, a zone's name in the wrong case, a broken TZ
p = scan(["--timezone", "Asia/Hanoi"])
print(f"unknown zone: exit {p.returncode}: {p.stderr.strip()}")
p = scan(["--timezone", "asia/ho_chi_minh"])
print(f"wrong case: exit {p.returncode}: {p.stderr.strip()}")
p = scan([], dict(os.environ, TZ="Nowhere/Zone"))
print(f"bad TZ: exit {p.returncode}: {p.stderr.strip()}")
