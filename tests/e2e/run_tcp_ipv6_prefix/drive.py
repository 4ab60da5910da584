#!/usr/bin/env python3
"""
tests/e2e/run_tcp_ipv6_prefix/drive.py -- max_connections_per_address
counts an IPv6 sender by its /64: one host can take any number of
addresses of its network.

In a network namespace of its own (so it may add addresses to lo), canh
listens on [::]. 70 connections come from 70 addresses of 2001:db8:a::/64:
64 (the default limit) get in, 6 are refused. Another /64 and an IPv4
sender (mapped onto the same socket) are counted on their own: their
lines arrive.
"""
import os, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

build, out, root = sys.argv[1:4]
if not os.environ.get("CANH_TEST_NS"):
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        print("SKIP: cannot make a network namespace here (unshare --net: "
              f"{probe.stderr.decode(errors='replace').strip()})")
        sys.exit(0)
    os.execvpe("unshare", ["unshare", "--net", sys.executable, os.path.abspath(__file__)]
               + sys.argv[1:], dict(os.environ, CANH_TEST_NS="1"))

A = [f"2001:db8:a::1:{k:x}" for k in range(1, 71)]   # one /64, 70 addresses
B = [f"2001:db8:b::{k:x}" for k in range(1, 7)]       # another /64
cmds = "link set lo up\n" + "".join(f"addr add {a}/128 dev lo nodad\n" for a in A + B)
subprocess.run(["ip", "-batch", "-"], input=cmds.encode(), check=True)

from daemon import Daemon, ROOT_SSH_RULE, sshd_line, wait_until
with socket.socket(socket.AF_INET6) as s:
    s.bind(("::", 0))
    port = s.getsockname()[1]
d = Daemon(build, out, root, f"""  - type: tcp
    name: dual
    listen: "[::]:{port}\"""").start()


def listening():
    try:
        with open(f"/proc/{d.proc.pid}/net/tcp6") as f:
            return any(l.split()[1].endswith(f":{port:04X}") and l.split()[3] == "0A"
                       for l in f.readlines()[1:])
    except OSError:
        return False


wait_until(f"canh to listen on tcp port {port}", listening, 20)


def conn(src, family=socket.AF_INET6, dst="::1"):
    c = socket.socket(family)
    c.bind((src, 0))
    c.settimeout(10)
    c.connect((dst, port))
    return c


idle = [conn(a) for a in A] + [conn(b) for b in B[:5]]
talkers = [conn(B[5]), conn("127.0.0.1", socket.AF_INET, "127.0.0.1")]
for k, c in enumerate(talkers):
    c.sendall(sshd_line(k + 1, True).encode() + b"\n")
    c.close()
d.wait_alerts(2, timeout=30)
rc = d.stop()
for c in idle:
    c.close()
print("alerts for lines", sorted(a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)))
c = d.records()[-1]["inputs"]["dual"]["connections"]
print(f"final record: accepted {c['accepted']}, refused_per_address {c['refused_per_address']}, "
      f"refused_full {c['refused_full']}, evicted {c['evicted']}")
sys.exit(rc)
