#!/usr/bin/env python3
"""
tests/e2e/run_tcp/drive.py -- canh run over TCP on loopback.

Starts `canh run` with one TCP input on a free 127.0.0.1 port, sends
LINES sequence-numbered syslog lines over four connections (two newline-
framed, two octet-counted, RFC 6587), every tenth a failed root login
(which the shipped rule "SSH Failed Login as root" must report), then sends
SIGTERM. canh must exit 0 after writing one alert per failed login: no gap,
no duplicate (checked by the port number each line carries). Every wait is
bounded; traffic goes to 127.0.0.1 only.
"""
import json, os, signal, socket, subprocess, sys, time

build, out, root = sys.argv[1], sys.argv[2], sys.argv[3]
LINES, CONNS = 20000, 4

with socket.socket() as s:          # a free port on loopback
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
alerts = os.path.join(out, "alerts.jsonl")
if os.path.exists(alerts):
    os.remove(alerts)
stats = os.path.join(out, "stats.jsonl")
if os.path.exists(stats):
    os.remove(stats)
cfg = os.path.join(out, "canh.yml")
with open(cfg, "w") as f:
    f.write(f"""workers: 2
rules:
  paths: [{root}/rules]
  fieldmap: {root}/conf/fieldmap.yml
inputs:
  - type: tcp
    name: test-tcp
    listen: 127.0.0.1:{port}
    framing: auto
outputs:
  alerts:
    path: {alerts}
  stats:
    path: {stats}
    interval: 1s
""")
proc = subprocess.Popen([f"{build}/canh", "run", "-c", cfg], stderr=subprocess.PIPE)

deadline = time.time() + 20
conns = []
while len(conns) < CONNS and time.time() < deadline:
    try:
        conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        time.sleep(0.05)
if len(conns) < CONNS:
    proc.kill()
    sys.exit("canh run did not accept connections within 20 s")

def line(i):
    host = f"web{i % 7:02d}"
    if i % 10 == 0:
        return f"<38>Nov 23 10:00:{i % 60:02d} {host} sshd[{1000 + i}]: Failed password for root from 203.0.113.{i % 250 + 1} port {i} ssh2"
    return f"<38>Nov 23 10:00:{i % 60:02d} {host} sshd[{1000 + i}]: Connection closed by 10.0.0.{i % 250 + 1} port {i} [preauth]"

expected = set()
buffers = [bytearray() for _ in range(CONNS)]
for i in range(1, LINES + 1):
    c = i % CONNS
    msg = line(i).encode()
    if c < 2:
        buffers[c] += msg + b"\n"                        # newline framing
    else:
        buffers[c] += str(len(msg)).encode() + b" " + msg  # octet counting
    if i % 10 == 0:
        expected.add(i)
for c, b in zip(conns, buffers):
    c.sendall(bytes(b))
for c in conns:
    c.close()
time.sleep(1.2)   # at least one periodic stats record while running

# wait (bounded) until every expected alert is written, then stop canh
def count():
    try:
        with open(alerts) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0
deadline = time.time() + 60
while count() < len(expected) and time.time() < deadline:
    time.sleep(0.1)
proc.send_signal(signal.SIGTERM)
try:
    _, err = proc.communicate(timeout=30)
except subprocess.TimeoutExpired:
    proc.kill()
    sys.exit("canh run did not stop within 30 s of SIGTERM")
sys.stderr.write(err.decode("utf-8", "replace"))

ports = []
with open(alerts) as f:
    for l in f:
        a = json.loads(l)
        if a["rule"]["id"] == "9f6c0c14-ee0c-4311-a655-29a4507918a2":
            ports.append(a["source"]["port"])
missing = sorted(expected - set(ports))
dups = len(ports) - len(set(ports))
print(f"sent {LINES} lines ({len(expected)} failed root logins) over {CONNS} connections; "
      f"alerts {len(ports)}, missing {len(missing)}, duplicated {dups}")
if missing[:5]:
    print("first missing:", missing[:5])
# stats records: JSON lines of running totals, the last one final
with open(stats) as f:
    recs = [json.loads(l) for l in f]
last = recs[-1]
print(f"stats: {len(recs)} records, final {last['final']}: events {last['events']}, "
      f"messages {last['stream']['messages']}, alerts {last['alerts']}, "
      f"medium {last['by_level']['medium']}, connections accepted {last['stream']['accepted']}")
sys.exit(proc.returncode)
