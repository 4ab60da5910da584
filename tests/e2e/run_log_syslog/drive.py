#!/usr/bin/env python3
"""
canh's own messages to syslog (`log.target: syslog`), read where syslog(3)
sends them: /dev/log. The driver re-runs itself in a private mount
namespace, where /dev is a fresh tmpfs holding only null, zero, random and
urandom (bound from the real /dev) and /dev/log is a datagram socket the
driver reads, so nothing of the machine's own /dev or syslog is touched.

canh run starts (info: "listening on tcp"); a rule it did not refuse before
is made unreadable YAML and canh gets SIGHUP (warning: the rule is refused;
error: the reload is refused); then SIGTERM, and canh must exit 0. Every
message must come as "<PRI>Mmm dd hh:mm:ss canh[PID]: LEVEL: TEXT" with
facility daemon and the syslog severity of its level, none of them on
stderr. Prints "SKIP: WHY" (and the case is skipped) where no mount
namespace can be made.
"""
import os, re, signal, socket, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from daemon import Daemon, free_port  # noqa: E402

build, out, root = sys.argv[1:4]

if not os.environ.get("CANH_TEST_NS"):
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        print("SKIP: cannot make a mount namespace here (unshare --mount: "
              f"{probe.stderr.decode(errors='replace').strip()})")
        sys.exit(0)
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)] + sys.argv[1:],
               dict(os.environ, CANH_TEST_NS="1"))

# In the namespace: a private /dev with a socket at /dev/log.
realdev = os.path.join(out, "realdev")
os.makedirs(realdev, exist_ok=True)
subprocess.run(["mount", "--rbind", "/dev", realdev], check=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/dev"], check=True)
for n in ("null", "zero", "random", "urandom"):
    open(f"/dev/{n}", "w").close()
    subprocess.run(["mount", "--bind", f"{realdev}/{n}", f"/dev/{n}"], check=True)
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind("/dev/log")
log.settimeout(0.2)

rules = os.path.join(out, "rules")
os.makedirs(rules, exist_ok=True)
rule = os.path.join(rules, "root_login.yml")
with open(os.path.join(root, "rules/linux/sshd/sshd_root_login_failed.yml")) as f:
    good = f.read()
with open(rule, "w") as f:
    f.write(good)

port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: tcp-in
    listen: 127.0.0.1:{port}""", workers=1, rules=[rules],
           extra="log:\n  target: syslog\n  level: info\n").start()

received = []


def wait_for(what, pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(pred(m) for m in received):
            return
        try:
            received.append(log.recv(65536).decode("utf-8", "replace"))
        except socket.timeout:
            if d.proc.poll() is not None:
                sys.exit(f"canh exited ({d.proc.returncode}) while waiting for {what}:\n"
                         + d.log_text())
    sys.exit(f"timed out after {timeout} s waiting for {what}; got {received!r}")


wait_for("'listening on tcp' on /dev/log", lambda m: "listening on tcp" in m)
with open(rule, "w") as f:
    f.write("title: [this is not closed\n")
d.signal(signal.SIGHUP)
wait_for("'reload refused' on /dev/log", lambda m: "reload refused" in m)
rc = d.stop()
try:   # what canh said while stopping
    while True:
        received.append(log.recv(65536).decode("utf-8", "replace"))
except socket.timeout:
    pass

form = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d canh\[(\d+)\]: "
                  r"(error|warning|info|debug): (.+)$", re.S)
severity = {"error": 3, "warning": 4, "info": 6, "debug": 7}
levels = {}
for m in received:
    g = form.match(m)
    if not g:
        sys.exit(f"not a syslog message from canh: {m!r}")
    pri, pid, level, text = int(g[1]), int(g[2]), g[3], g[4]
    if pid != d.proc.pid:
        sys.exit(f"pid {pid} is not canh's ({d.proc.pid}): {m!r}")
    if pri != 3 * 8 + severity[level]:
        sys.exit(f"priority {pri} is not daemon.{level} ({3 * 8 + severity[level]}): {m!r}")
    levels.setdefault(level, []).append(text)
for level, text in (("info", "listening on tcp"), ("warning", "rule refused"),
                    ("error", "reload refused")):
    if not any(text in t for t in levels.get(level, [])):
        sys.exit(f"no {level} message with {text!r}: {levels!r}")
leaked = [l for l in d.log_text().splitlines() if re.match(r"canh: (error|warning|info):", l)]
if leaked:
    sys.exit(f"messages on stderr with log.target syslog: {leaked!r}")
print(f"exit {rc}; syslog: " + ", ".join(f"{len(v)} {k}" for k, v in sorted(levels.items())))
