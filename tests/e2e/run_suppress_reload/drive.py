#!/usr/bin/env python3
"""
tests/e2e/run_suppress_reload/drive.py -- the suppression list (and Sigma
filters) of a running canh, reloaded with SIGHUP.

canh.yml names a suppression file (`suppress: suppress.yml`). Three phases
of sequence-numbered sshd lines go over TCP, every tenth a failed root
login from one of the hosts web00 .. web06:

  1. the list suppresses the root-login rule on web00;
  2. the list is rewritten (web01 instead, plus an entry that has already
     ended) and a Sigma filter excluding web02 from that rule is added to
     the rules folder; SIGHUP;
  3. the list is broken (an unknown key); SIGHUP: the reload is refused
     and the running list stays.

Each phase ends with a marker line no list touches, and the next step
waits for its alert, so every line of a phase met that phase's list.
Every failed root login must be written or counted as suppressed exactly
as its phase says; a filtered one is neither.
"""
import os, shutil, signal, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
PER_PHASE = 7000

rules = os.path.join(out, "rules")
shutil.rmtree(rules, ignore_errors=True)
shutil.copytree(os.path.join(root, "rules"), rules)
sup = os.path.join(out, "suppress.yml")

def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)

write(sup, f"""# phase 1
- rule: {ROOT_SSH_RULE}
  host: web00
  reason: phase one
""")

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: suppress-tcp
    listen: 127.0.0.1:{port}""", rules=[rules], extra="suppress: suppress.yml\n").start()
conn = d.connect(port)[0]

def marker(k):
    return (f"<38>Nov 23 10:00:00 marker{k} sshd[1]: Failed password for root from "
            f"198.51.100.1 port {900000 + k} ssh2")

def marker_written(k):
    # only whole lines: canh may be writing the next one as we read
    with open(d.alerts_path, "rb") as f:
        data = f.read()
    return f'"port":{900000 + k}'.encode() in data[:data.rfind(b"\n") + 1]

def phase(k):
    first = (k - 1) * PER_PHASE + 1
    lines = [sshd_line(i, i % 10 == 0) for i in range(first, first + PER_PHASE)]
    conn.sendall(("\n".join(lines + [marker(k)]) + "\n").encode())
    wait_until(f"the marker of phase {k}", lambda: marker_written(k), 60)
    return range(first, first + PER_PHASE)

p1 = phase(1)

write(sup, f"""# phase 2
- rule: {ROOT_SSH_RULE}
  host: web01
  reason: phase two
- tag: attack.t1110.001
  until: 2020-01-01
  reason: ended long ago
""")
write(os.path.join(rules, "mf_web02.yml"), f"""title: Filter out web02 from the root-login rule
id: mf-web02
logsource:
  product: linux
  service: sshd
filter:
  rules: [{ROOT_SSH_RULE}]
  web02:
    host.name: web02
  condition: not web02
""")
d.signal(signal.SIGHUP)
wait_until("the reload", lambda: d.log_count("rules reloaded in") >= 1, 60)
p2 = phase(2)

write(sup, f"""# phase 3: broken
- rule: {ROOT_SSH_RULE}
  hots: web03
""")
d.signal(signal.SIGHUP)
wait_until("the refused reload", lambda: d.log_count("reload refused") >= 1, 60)
p3 = phase(3)
conn.close()
rc = d.stop()

host = lambda i: f"web{i % 7:02d}"
written = {a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)}
nalerts = len(d.alerts(ROOT_SSH_RULE))
bad, want_suppressed = 0, 0
for rng, hidden, filtered in ((p1, {"web00"}, set()), (p2, {"web01"}, {"web02"}),
                              (p3, {"web01"}, {"web02"})):
    for i in rng:
        if i % 10:
            continue
        expect_written = host(i) not in hidden and host(i) not in filtered
        want_suppressed += host(i) in hidden
        if (i in written) != expect_written:
            bad += 1
last = d.records()[-1]
s = last["suppressed"]
print(f"phases of {PER_PHASE} lines; root-login alerts {nalerts} (3 markers), "
      f"wrong {bad}, duplicated {nalerts - len(written)}")
print(f"suppressed: record {s['total']}, by rule {s['by_rule'].get(ROOT_SSH_RULE, 0)}, "
      f"expected {want_suppressed}, equal {s['total'] == want_suppressed}")
r = last["rules"]
print(f"reloads {r['reloads']}, refused {r['reloads_refused']}")
sys.exit(rc)
