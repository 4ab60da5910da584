#!/usr/bin/env python3
"""
tests/e2e/run_udp_flood/drive.py -- a UDP flood at canh run on loopback.

UDP cannot wait, so canh must account for every datagram: sent = received +
dropped by the kernel (SO_RXQ_OVFL), and every received one is processed
(one alert each). The receive buffer is made small so that drops are likely.
A last datagram, sent after a pause, carries the kernel's final drop count.
Bounded: DATAGRAMS sends, and every wait has a deadline.
"""
import os, re, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, free_port, sshd_line

build, out, root = sys.argv[1:4]
DATAGRAMS = 30000
port = free_port(socket.SOCK_DGRAM)
d = Daemon(build, out, root, f"""  - type: udp
    listen: 127.0.0.1:{port}
    recv_buffer: 64KiB""", workers=1).start()
d.wait_udp(port)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(1, DATAGRAMS + 1):
    try:
        sock.sendto(sshd_line(i, True).encode(), ("127.0.0.1", port))
        sent += 1
    except OSError:
        pass   # not sent (ENOBUFS on the sender): not counted on either side
time.sleep(1.0)
sock.sendto(sshd_line(0, False).encode(), ("127.0.0.1", port))
sent += 1
d.wait_quiet()
rc = d.stop()

m = re.search(r"udp: (\d+) datagrams received, (\d+) dropped by the kernel", d.log_text())
if not m:
    sys.exit("no udp accounting line in canh's log")
received, dropped = int(m.group(1)), int(m.group(2))
n_alerts = d.alert_count()
print(f"sent {sent}; received {received} + dropped {dropped} = {received + dropped}: "
      f"{received + dropped == sent}; alerts {n_alerts} for {received - 1} attacks: "
      f"{n_alerts == received - 1}")
last = d.records()[-1]
u = last["udp"]
print(f"final stats record agrees: {last['final'] and u['received'] == received and u['dropped_by_kernel'] == dropped and last['events'] == received}")
sys.exit(rc)
