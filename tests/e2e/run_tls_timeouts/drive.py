#!/usr/bin/env python3
"""
tests/e2e/run_tls_timeouts/drive.py -- idle_timeout and partial_frame_timeout
on a tls input (both 1 s here): the deadlines of the tcp input, checked by
the same code as the TLS handshake's.

Three clients complete the handshake: one sends two whole lines and falls
silent, one sends a whole line and half of another (no line end), one
says nothing. canh must close all three (each sees its session end), keep
the whole lines (each attack among them gives one alert), never hand on the
half line (an attack too: no alert), and count 2 closed idle and 1 cut.
"""
import os, socket, ssl, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line

build, out, root = sys.argv[1:4]
pki = os.path.join(out, "pki")
os.makedirs(pki, exist_ok=True)
P = lambda n: os.path.join(pki, n)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, cwd=pki, capture_output=True)


openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.crt", "-days", "2", "-subj", "/CN=canh-test",
        "-addext", "subjectAltName=IP:127.0.0.1")
port = free_port()
d = Daemon(build, out, root, f"""  - type: tls
    name: offices
    listen: 127.0.0.1:{port}
    idle_timeout: 1s
    partial_frame_timeout: 1s
    tls:
      cert: {P("server.crt")}
      key: {P("server.key")}""").start()

ctx = ssl.create_default_context(cafile=P("server.crt"))
def client():
    return ctx.wrap_socket(d.connect(port)[0], server_hostname="127.0.0.1")

quiet, half, silent = client(), client(), client()
quiet.sendall((sshd_line(1, True) + "\n" + sshd_line(2, False) + "\n").encode())
half.sendall((sshd_line(3, True) + "\n" + sshd_line(4, True)).encode())   # no line end
closed = 0
for c in (quiet, half, silent):
    c.settimeout(15)
    try:
        if c.recv(1) == b"":
            closed += 1
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
        closed += 1
    except socket.timeout:
        pass
    c.close()
print(f"closed by canh: {closed} of 3")
d.wait_alerts(2)
rc = d.stop()
ports = sorted(a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE))
print("alerts for lines", ports)
rec = d.records()[-1]
c = rec["inputs"]["offices"]["connections"]
print(f"final record: accepted {c['accepted']}, closed_idle {c['closed_idle']}, cut_partial "
      f"{c['cut_partial']}, open {c['open']}, events_in {rec['inputs']['offices']['events_in']}, "
      f"tls refused {rec['tls']['refused']}")
sys.exit(rc)
