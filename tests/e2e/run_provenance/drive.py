#!/usr/bin/env python3
"""
tests/e2e/run_provenance/drive.py -- every alert of canh run says where its
event came from, and two identical lines give two event.ids.

One canh with a TCP, a UDP and a file input (named in canh.yml). The
driver sends the same failed root login three times over one TCP
connection (from a port it knows), twice in UDP datagrams (from another),
and writes it twice into the followed file after a line of another
length. Checked here: each alert names its input (canh.input.name and
.type), a network alert the sender's address and port as the driver sees
its own socket (log.source.address; source.ip stays the event's client),
a file alert the file (log.file.path); the expect file checks log.offset
against the file's bytes and that no two alerts share an event.id.
"""
import os, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, wait_until

build, out, root = sys.argv[1:4]
LINE = (b"<38>Nov 23 10:00:01 web01 sshd[1001]: Failed password for root from "
        b"203.0.113.7 port 4242 ssh2")
tport, uport = free_port(), free_port(socket.SOCK_DGRAM)
logs = os.path.join(out, "logs")
os.makedirs(logs, exist_ok=True)
path = os.path.join(logs, "auth.log")
with open(path, "wb") as f:
    f.write(b"<38>Nov 23 10:00:00 web01 sshd[1000]: Connection closed by 10.0.0.1 port 1 [preauth]\n")
d = Daemon(build, out, root, f"""  - type: tcp
    name: tcp-in
    listen: 127.0.0.1:{tport}
  - type: udp
    name: udp-in
    listen: 127.0.0.1:{uport}
  - type: file
    name: files-in
    paths: [{path}]
    start_at: beginning""")
d.start()
conn, = d.connect(tport)
tcp_from = "%s:%d" % conn.getsockname()
conn.sendall((LINE + b"\n") * 3)
conn.close()
d.wait_udp(uport)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
udp_from = "%s:%d" % u.getsockname()
for _ in range(2):
    u.sendto(LINE, ("127.0.0.1", uport))
    time.sleep(0.05)
u.close()
with open(path, "ab") as f:
    f.write((LINE + b"\n") * 2)
d.wait_alerts(7)
d.wait_quiet(1.0)
rc = d.stop()

alerts = d.alerts(ROOT_SSH_RULE)
by = {}
for a in alerts:
    by.setdefault(a["canh"]["input"]["name"], []).append(a)
def addrs(name):
    return sorted({a.get("log", {}).get("source", {}).get("address") for a in by.get(name, [])})
print(f"alerts: tcp-in {len(by.get('tcp-in', []))}, udp-in {len(by.get('udp-in', []))}, "
      f"files-in {len(by.get('files-in', []))}")
print(f"tcp sender as the driver sees it: {addrs('tcp-in') == [tcp_from]} ({addrs('tcp-in')} vs {tcp_from})")
print(f"udp sender as the driver sees it: {addrs('udp-in') == [udp_from]} ({addrs('udp-in')} vs {udp_from})")
print("input types: " + ", ".join(f"{n} {sorted({a['canh']['input']['type'] for a in v})}"
                                  for n, v in sorted(by.items())))
print(f"source.ip is the event's client: {all(a['source']['ip'] == '203.0.113.7' for a in alerts)}")
print(f"file alerts name the file: "
      f"{all(a['log']['file']['path'] == path for a in by.get('files-in', []))}")
print(f"distinct event.ids: {len({a['event']['id'] for a in alerts})} of {len(alerts)}")
print(f"exit status {rc}")
sys.exit(rc)
