#!/usr/bin/env python3
"""
tests/e2e/run_ipv6/drive.py -- tcp and udp inputs on the IPv6 loopback, [::1].

One failed root login over each; both must be reported.
"""
import os, socket, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line, wait_until

build, out, root = sys.argv[1:4]
with socket.socket(socket.AF_INET6) as s:   # a free TCP port on ::1; UDP takes the same number
    s.bind(("::1", 0))
    port = s.getsockname()[1]
d = Daemon(build, out, root, f"""  - type: tcp
    listen: "[::1]:{port}"
  - type: udp
    listen: "[::1]:{port}\"""").start()
d.wait_udp(port, timeout=20, v6=True)
# the UDP socket is bound before canh runs (with the TCP one, before a
# switch of user); the TCP one listens once canh runs, and says so
wait_until("the tcp listener", lambda: d.log_count(f"listening on tcp [::1]:{port}") >= 1, 30)
c = socket.create_connection(("::1", port), timeout=10)
c.sendall(sshd_line(1, True).encode() + b"\n")
c.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.sendto(sshd_line(2, True).encode(), ("::1", port))
d.wait_alerts(2, timeout=30)
rc = d.stop()
print("alerts for lines", sorted(a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)))
sys.exit(rc)
