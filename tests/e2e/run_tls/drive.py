#!/usr/bin/env python3
"""
tests/e2e/run_tls/drive.py -- syslog over TLS (RFC 5425) into canh run.

The test makes its own throwaway CA, a server certificate for 127.0.0.1
and two client certificates (one from the SOC's CA, one from a stranger's)
with the openssl command, then starts canh with a tls input that requires
client certificates. A client with the right certificate sends LINES lines
(half newline-framed, half octet-counted on a second connection) and every
failed root login must give its alert. Refused cleanly, each closed and
counted without disturbing the good senders: plain text on the TLS port, a
client with no certificate, a client with the stranger's certificate.
"""
import os, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line, wait_until

build, out, root = sys.argv[1:4]
LINES = 2000
pki = os.path.join(out, "pki")
os.makedirs(pki, exist_ok=True)

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, cwd=pki, capture_output=True)

def ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}")

def cert(name, issuer, ext):
    with open(os.path.join(pki, f"{name}.ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt", "-CAkey",
            f"{issuer}.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
            "-extfile", f"{name}.ext")

ca("soc-ca")
ca("stranger-ca")
cert("server", "soc-ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
cert("district-01", "soc-ca", "extendedKeyUsage=clientAuth\n")
cert("intruder", "stranger-ca", "extendedKeyUsage=clientAuth\n")
P = lambda n: os.path.join(pki, n)

port = free_port()
d = Daemon(build, out, root, f"""  - type: tls
    name: district-offices
    listen: 127.0.0.1:{port}
    tls:
      cert: {P("server.crt")}
      key: {P("server.key")}
      ca: {P("soc-ca.crt")}
      require_client_cert: true""").start()

def client(certname=None):
    ctx = ssl.create_default_context(cafile=P("soc-ca.crt"))
    if certname:
        ctx.load_cert_chain(P(f"{certname}.crt"), P(f"{certname}.key"))
    raw = d.connect(port)[0]
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

def refused(make):
    """The connection must end (handshake error, EOF or reset) within 10 s."""
    try:
        c = make()
        c.settimeout(10)
        c.sendall(sshd_line(999999, True).encode() + b"\n")
        return c.recv(1) == b""
    except (ssl.SSLError, ConnectionError, OSError):
        return True

# the good sender, on two connections with the two framings
good = [client("district-01"), client("district-01")]
expected = set()
for i in range(1, LINES + 1):
    msg = sshd_line(i, i % 10 == 0).encode()
    good[i % 2].sendall(msg + b"\n" if i % 2 == 0 else octet(msg))
    if i % 10 == 0:
        expected.add(i)

def plain():
    c = d.connect(port)[0]
    c.sendall(b"<34>1 2026-11-23T10:00:00Z host app - - - plain text on the TLS port\n")
    return c
results = {
    "plain text": refused(plain),
    "no client certificate": refused(lambda: client(None)),
    "a stranger's certificate": refused(lambda: client("intruder")),
}
for c in good:
    c.close()
d.wait_alerts(len(expected))
time.sleep(1.2)   # a stats record after the refusals
rc = d.stop()

ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
print(f"TLS sender with the SOC's certificate: {LINES} lines, alerts {len(ports)} of "
      f"{len(expected)}, missing {len(expected - set(ports))}, duplicated {len(ports) - len(set(ports))}")
for what, ok in results.items():
    print(f"{what}: refused {ok}")
last = d.records()[-1]
print(f"final record: events {last['events']}, tls refused {last['tls']['refused']}, "
      f"accepted {last['stream']['accepted']}")
sys.exit(rc)
