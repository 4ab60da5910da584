#!/usr/bin/env python3
"""
tests/e2e/run_tcp_reload/drive.py -- rules reloaded (SIGHUP) while events stream in.

100,000 sequence-numbered lines go over four TCP connections (two newline-
framed, two octet-counted) in RELOADS chunks; after each chunk the rule
folder changes (a harmless extra rule comes or goes) and canh gets SIGHUP,
so every reload runs while lines of the next chunk are in flight. Then a
broken rule file is added and SIGHUP sent: that reload must be refused and
the running rules kept. Last, a probe rule is added and loaded, and probe
lines sent after it must be reported by it.

Every failed root login (every tenth line) must give exactly one alert,
whatever rule set was running: no gap, no duplicate.
"""
import os, shutil, signal, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line, wait_until

build, out, root = sys.argv[1:4]
LINES, CONNS, RELOADS, PROBES = 100000, 4, 20, 10
PROBE_RULE = "5d7a1f0e-1111-4c2a-9e3b-000000000001"

rules = os.path.join(out, "rules")
shutil.rmtree(rules, ignore_errors=True)
shutil.copytree(os.path.join(root, "rules"), rules)
extra = os.path.join(rules, "zz-extra.yml")
EXTRA = """title: Reload Extra
id: 5d7a1f0e-1111-4c2a-9e3b-000000000002
status: test
description: Comes and goes between reloads; matches nothing the test sends.
logsource:
  product: linux
detection:
  keywords:
    - canh-never-sent
  condition: keywords
level: low
"""
PROBE = EXTRA.replace("Reload Extra", "Reload Probe").replace("000000000002", PROBE_RULE[-12:]) \
    .replace("canh-never-sent", "canh-reload-probe").replace("level: low", "level: high")

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: reload-tcp
    listen: 127.0.0.1:{port}""", rules=[rules]).start()
conns = d.connect(port, CONNS)

def reloaded(n):
    return d.log_count("rules reloaded in") >= n

per_chunk = LINES // RELOADS
i = 0
for k in range(1, RELOADS + 1):
    if k > 1:   # reload k-1 must be done before the next SIGHUP (else they merge)
        wait_until(f"reload {k - 1}", lambda: reloaded(k - 1), 60)
    bufs = [bytearray() for _ in range(CONNS)]
    for _ in range(per_chunk):
        i += 1
        msg = sshd_line(i, i % 10 == 0).encode()
        bufs[i % CONNS] += msg + b"\n" if i % CONNS < 2 else octet(msg)
    if k % 2:
        with open(extra, "w") as f:
            f.write(EXTRA)
    elif os.path.exists(extra):
        os.remove(extra)
    d.signal(signal.SIGHUP)
    for c, b in zip(conns, bufs):   # in flight while the new set loads and swaps in
        c.sendall(bytes(b))
wait_until(f"reload {RELOADS}", lambda: reloaded(RELOADS), 60)

# a broken rule: the reload is refused, the running set stays
broken = os.path.join(rules, "zz-broken.yml")
with open(broken, "w") as f:
    f.write("title: Broken\ndetection: [unclosed\n")
d.signal(signal.SIGHUP)
wait_until("the refused reload", lambda: d.log_count("reload refused") >= 1, 60)
os.remove(broken)

# a new rule: loaded, then lines sent afterwards are reported by it
with open(os.path.join(rules, "zz-probe.yml"), "w") as f:
    f.write(PROBE)
d.signal(signal.SIGHUP)
wait_until("the probe rule's reload", lambda: reloaded(RELOADS + 1), 60)
conns[0].sendall(b"".join(
    f"<38>Nov 23 10:01:00 web01 sshd[1]: canh-reload-probe {p}\n".encode() for p in range(PROBES)))
for c in conns:
    c.close()
attacks = LINES // 10
d.wait_alerts(attacks + PROBES)
rc = d.stop()

ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
missing = set(range(10, LINES + 1, 10)) - set(ports)
print(f"sent {LINES} lines with {attacks} failed root logins over {CONNS} connections, "
      f"{RELOADS} reloads during the send")
print(f"alerts {len(ports)}, missing {len(missing)}, duplicated {len(ports) - len(set(ports))}")
print(f"probe alerts {len(d.alerts(PROBE_RULE))} of {PROBES}")
last = d.records()[-1]
r = last["rules"]
print(f"final record: events {last['events']}, reloads {r['reloads']}, refused {r['reloads_refused']}, "
      f"generation {r['generation']}, worker swap failures {r['worker_swap_failures']}, "
      f"loaded {r['loaded']}")
sys.exit(rc)
