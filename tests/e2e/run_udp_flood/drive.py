#!/usr/bin/env python3
"""
tests/e2e/run_udp_flood/drive.py -- a UDP flood at canh run on loopback.

UDP cannot wait, so canh must account for every datagram: sent = received +
dropped by the kernel, and every received one is processed (one alert
each). The receive buffer is 16 KiB so that drops happen. The flood ends in
drops with nothing sent after them: canh is paused (SIGSTOP) while a last
burst fills its socket and the kernel drops the rest, then resumed. The
datagrams only carry the drop count as it was when they were queued
(SO_RXQ_OVFL), so those last drops must come from the socket's own counter
(SO_MEMINFO): the stats record after the burst and the final one must both
balance. Then a canh with a large buffer is paused, sent a burst and
stopped (SIGTERM) before it is resumed: what its socket holds at the stop
is read and processed, so its final record balances too. Bounded:
DATAGRAMS + 3 * BURST sends, and every wait has a deadline.
"""
import os, re, signal, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, free_port, sshd_line, wait_until

build, out, root = sys.argv[1:4]
DATAGRAMS, BURST = 30000, 2000
port = free_port(socket.SOCK_DGRAM)
d = Daemon(build, out, root, f"""  - type: udp
    listen: 127.0.0.1:{port}
    recv_buffer: 16KiB""", workers=1).start()
d.wait_udp(port)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
def send(i):
    global sent
    try:
        sock.sendto(sshd_line(i, True).encode(), ("127.0.0.1", port))
        sent += 1
    except OSError:
        pass   # not sent (ENOBUFS on the sender): not counted on either side

for i in range(1, DATAGRAMS + 1):
    send(i)
d.signal(signal.SIGSTOP)   # canh reads nothing: the burst fills its socket, the rest drop
try:
    time.sleep(0.2)
    for i in range(DATAGRAMS + 1, DATAGRAMS + BURST + 1):
        send(i)
finally:
    d.signal(signal.SIGCONT)
d.wait_quiet()

def balanced(rec):
    u = rec["udp"]
    return u["received"] + u["dropped_by_kernel"] == sent
# a stats record written after the burst, while canh runs on (interval 1 s)
def after_burst():
    recs = [r for r in d.records() if not r["final"]]
    return recs and balanced(recs[-1])
try:
    wait_until("a stats record where received + dropped = sent", after_burst, 5)
    tick_ok = True
except SystemExit as e:
    print(e)
    tick_ok = False
tick = [r for r in d.records() if not r["final"]][-1]["udp"]
print(f"stats record after the burst: received {tick['received']} + dropped "
      f"{tick['dropped_by_kernel']} = sent {sent}: {tick_ok}")
rc = d.stop()

m = re.search(r"udp: (\d+) datagrams received, (\d+) dropped by the kernel", d.log_text())
if not m:
    sys.exit("no udp accounting line in canh's log")
received, dropped = int(m.group(1)), int(m.group(2))
n_alerts = d.alert_count()
print(f"sent {sent}; received {received} + dropped {dropped} = {received + dropped}: "
      f"{received + dropped == sent}; alerts {n_alerts} for {received} attacks: "
      f"{n_alerts == received}; dropped at the end: {dropped > 0}")
last = d.records()[-1]
u = last["udp"]
print(f"final stats record agrees: {last['final'] and u['received'] == received and u['dropped_by_kernel'] == dropped and last['events'] == received}")
if rc:
    sys.exit(rc)

# The stop comes while the socket holds a burst, more than one turn of
# the loop reads (1,024 datagrams): a receive buffer of 4 MiB (the kernel
# caps it at net.core.rmem_max) holds about 10,000 of these.
out2 = os.path.join(out, "stop")
os.makedirs(out2, exist_ok=True)
port = free_port(socket.SOCK_DGRAM)
d = Daemon(build, out2, root, f"""  - type: udp
    listen: 127.0.0.1:{port}
    recv_buffer: 4MiB""", workers=1).start()
d.wait_udp(port)
sent = 0
d.signal(signal.SIGSTOP)
try:
    time.sleep(0.2)
    for i in range(1, 2 * BURST + 1):
        send(i)
    d.signal(signal.SIGTERM)
finally:
    d.signal(signal.SIGCONT)
rc = d.stop()
last = d.records()[-1]
u = last["udp"]
with open("/proc/sys/net/core/rmem_max") as f:
    big = int(f.read()) >= 4 << 20
print(f"stopped with a full socket: sent {sent}; received {u['received']} + dropped "
      f"{u['dropped_by_kernel']} = {u['received'] + u['dropped_by_kernel']}: "
      f"{last['final'] and u['received'] + u['dropped_by_kernel'] == sent}; alerts "
      f"{d.alert_count()}: {d.alert_count() == u['received']}; more than one turn held: "
      f"{u['received'] > 1024 if big else 'not here (net.core.rmem_max is below 4 MiB)'}")
sys.exit(rc)
