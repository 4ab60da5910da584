#!/usr/bin/env python3
"""
tests/e2e/run_pcap_live_alerts/drive.py -- live capture gives the alerts
that a scan of the same capture file gives.

  drive.py BUILD OUT ROOT CAPTURE.pcap

1. `canh scan -r live.rules CAPTURE` (the reference).
2. In a network namespace of its own (removed at the end), a veth pair
   va/vb with IPv6 off (so the kernel sends nothing of its own on them);
   `canh run` in that namespace with a pcap input on va (filter "tcp",
   immediate delivery) and the same rules; tcpreplay sends CAPTURE out of
   vb; once the stats record has counted every frame and the alerts file
   has stopped growing, canh is stopped.
3. The two alert sets are compared on what a capture and a replay have in
   common: rule id and version, both endpoints, transport, Community ID
   (not the time, not the packet number: a live link has none).

Prints "SKIP: WHY" (the case is skipped) without root or a namespace.
Anything else that goes wrong fails the case. Every wait has a deadline.
"""
import collections, json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, wait_until

build, out, root, capture = sys.argv[1:5]
case = os.path.dirname(os.path.abspath(__file__))
rules = os.path.join(case, "live.rules")
canh = os.path.join(build, "canh")
NS = f"canh-live-{os.getpid()}"


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def frames_in(path):
    with open(path, "rb") as f:
        d = f.read()
    n, o = 0, 24
    e = "little" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else "big"
    while o + 16 <= len(d):
        o += 16 + int.from_bytes(d[o + 8:o + 12], e)
        n += 1
    return n


def key(a):
    def g(path):
        v = a
        for p in path.split("."):
            v = v.get(p) if isinstance(v, dict) else None
        return v
    return tuple(str(g(k)) for k in ("rule.id", "rule.version", "source.ip", "source.port",
                                     "destination.ip", "destination.port", "network.transport",
                                     "network.community_id"))


def summary(alerts):
    c = collections.Counter(a["rule"]["id"] for a in alerts)
    return f"{len(alerts)} alerts: " + ", ".join(f"sid {s} x{n}" for s, n in sorted(c.items()))


if os.geteuid() != 0:
    print("SKIP: making a network namespace needs root")
    sys.exit(0)
chk = sh(canh, "rules", "check", "-r", rules, check=False)
if chk.returncode != 0:
    sys.exit("canh rules check refused the case's rules:\n" + (chk.stdout + chk.stderr))

# 1. the reference: canh scan of the file
scan_out = os.path.join(out, "scan.jsonl")
p = subprocess.run([canh, "scan", "-q", "-r", rules, "-o", scan_out, capture],
                   capture_output=True, text=True)
if p.returncode != 0:
    sys.exit(f"canh scan exited {p.returncode}:\n{p.stderr}")
with open(scan_out) as f:
    scanned = [json.loads(l) for l in f if l.strip()]
print("scan: " + summary(scanned))

if sh("ip", "netns", "add", NS, check=False).returncode != 0:
    print("SKIP: cannot make a network namespace here (ip netns add)")
    sys.exit(0)


class NsDaemon(Daemon):
    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS, canh, "run", "-c", self.cfg],
                                     stderr=self.log)
        return self


rc = 0
try:
    for args in (("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"),
                 ("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"),
                 ("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"),
                 ("ip", "link", "set", "va", "up"), ("ip", "link", "set", "vb", "up")):
        sh("ip", "netns", "exec", NS, *args)
    d = NsDaemon(build, out, root, """  - type: pcap
    name: cap
    interface: va
    filter: tcp
    immediate: true""", workers=2, rules=[rules])
    ck = sh("ip", "netns", "exec", NS, canh, "run", "-c", d.cfg, "--check", check=False)
    if ck.returncode != 0:
        text = (ck.stdout + ck.stderr).strip()
        sys.exit(f"canh run --check refused the configuration:\n{text}")
    d.start()
    wait_until("canh to capture on va", lambda: "capturing on va" in d.log_text()
               or d.proc.poll() is not None, 20)
    if d.proc.poll() is not None:
        sys.exit("canh run exited before capturing:\n" + d.log_text())
    sh("ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", "vb", capture)
    want = frames_in(capture)

    def captured():
        recs = d.records() if os.path.exists(d.stats_path) else []
        c = recs[-1]["inputs"]["cap"].get("capture") if recs else None
        return c["frames"] if c else 0
    wait_until(f"a stats record counting {want} frames",
               lambda: captured() >= want or d.proc.poll() is not None, 20)
    d.wait_quiet(still=2, timeout=30)
    rc = d.stop()
    print(f"live: frames captured {captured()} of {want} replayed")
    pk = d.records()[-1].get("packets", {})
    print(f"live: packet path: {pk.get('frames')} frames, {pk.get('malformed')} malformed, "
          f"{pk.get('flows')} flows")
    live = d.alerts() if os.path.exists(d.alerts_path) else []
    print("live: " + summary(live))
    same = sorted(map(key, live)) == sorted(map(key, scanned))
    print(f"live alerts equal scan alerts: {same}")
    if not same:
        for k in sorted(set(map(key, live)) ^ set(map(key, scanned))):
            print("  only in " + ("live" if k in set(map(key, live)) else "scan") + ": "
                  + " ".join(k))
finally:
    sh("ip", "netns", "del", NS, check=False)
sys.exit(rc)
