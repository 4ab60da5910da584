#!/usr/bin/env python3
"""
tests/e2e/run_udp_flood/drive.py -- a UDP flood at canh run on loopback.

UDP cannot wait, so canh must account for every datagram: sent = received +
dropped by the kernel (SO_RXQ_OVFL), and every received one is processed
(one alert each). The receive buffer is made small so that drops are likely.
A last datagram, sent after a pause, carries the kernel's final drop count.
Bounded: DATAGRAMS sends, and every wait has a deadline. 127.0.0.1 only.
"""
import json, os, re, signal, socket, subprocess, sys, time

build, out, root = sys.argv[1], sys.argv[2], sys.argv[3]
DATAGRAMS = 30000

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
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
    f.write(f"""workers: 1
rules:
  paths: [{root}/rules]
  fieldmap: {root}/conf/fieldmap.yml
inputs:
  - type: udp
    listen: 127.0.0.1:{port}
    recv_buffer: 64KiB
outputs:
  alerts:
    path: {alerts}
  stats:
    path: {stats}
    interval: 1s
""")
proc = subprocess.Popen([f"{build}/canh", "run", "-c", cfg], stderr=subprocess.PIPE)
time.sleep(0.5)   # let it bind; datagrams sent before are simply not received (and not counted)
deadline = time.time() + 10
while proc.poll() is None and time.time() < deadline:
    try:
        with open(f"/proc/{proc.pid}/net/udp") as f:
            if f":{port:04X}" in f.read():
                break
    except OSError:
        pass
    time.sleep(0.05)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(1, DATAGRAMS + 1):
    msg = f"<38>Nov 23 10:00:{i % 60:02d} web{i % 7} sshd[{1000 + i}]: Failed password for root from 203.0.113.{i % 250 + 1} port {i} ssh2"
    try:
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        sent += 1
    except OSError:
        pass   # not sent (ENOBUFS on the sender): not counted on either side
time.sleep(1.0)
sock.sendto(b"<38>Nov 23 10:01:00 web0 sshd[1]: Connection closed by 10.0.0.1 port 1 [preauth]",
            ("127.0.0.1", port))
sent += 1

def count():
    try:
        with open(alerts) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0
last, stable_since, deadline = -1, time.time(), time.time() + 60
while time.time() < deadline:
    c = count()
    if c != last:
        last, stable_since = c, time.time()
    elif time.time() - stable_since > 1.5:
        break
    time.sleep(0.1)
proc.send_signal(signal.SIGTERM)
try:
    _, err = proc.communicate(timeout=30)
except subprocess.TimeoutExpired:
    proc.kill()
    sys.exit("canh run did not stop within 30 s of SIGTERM")
err = err.decode("utf-8", "replace")
sys.stderr.write(err)
m = re.search(r"udp: (\d+) datagrams received, (\d+) dropped by the kernel", err)
if not m:
    sys.exit("no udp accounting line in canh's log")
received, dropped = int(m.group(1)), int(m.group(2))
n_alerts = count()
print(f"sent {sent}; received {received} + dropped {dropped} = {received + dropped}: "
      f"{received + dropped == sent}; alerts {n_alerts} for {received - 1} attacks: "
      f"{n_alerts == received - 1}")
with open(stats) as f:
    last = [json.loads(l) for l in f][-1]
u = last["udp"]
print(f"final stats record agrees: {last['final'] and u['received'] == received and u['dropped_by_kernel'] == dropped and last['events'] == received}")
sys.exit(proc.returncode)
