#!/usr/bin/env python3
"""
tests/e2e/run_least_privilege/drive.py -- canh run started as root with
`user:` set: it binds ports below 1024, then runs as that user with no
capability, and everything it does later still works.

The driver (root) makes a system user for the test, with its own group and
one supplementary group that alone may read the followed log file (as
`adm` does /var/log/auth.log on Debian); both are removed at the end.

1. Refusals: a state_dir that root made (0755) and a state_dir holding a
   spool file root left behind cannot be written by the user: canh
   refuses to start and names them.
2. The run: TCP, UDP and TLS inputs on ports below 1024, a followed file
   only the supplementary group can read, the alerts file, stats and the Kafka
   output (through the spool, to the mock cluster). After start every
   thread's /proc status shows the user's uid and gid in all four fields,
   the supplementary group, no capability in any set (bounding and
   ambient too) and NoNewPrivs 1. Failed root logins over TCP, UDP, TLS
   (whose key only root may read) and the file give one alert each, in
   the alerts file and in Kafka. SIGHUP reloads a changed rule folder (a
   new rule then fires); the alerts file is rotated (renamed, SIGUSR1) and
   canh, as the user, makes the new one.
   state_dir, the spool, the rule cache, the saved offsets and both alerts
   files belong to the user.
3. The systemd way: canh started as the user with CAP_NET_BIND_SERVICE as
   an ambient capability (what AmbientCapabilities= gives) and no `user:`
   binds a port below 1024, then holds no capability.

Every wait has a deadline; the user and group are removed even when a
check fails.
"""
import atexit, glob, grp, json, os, pwd, shutil, signal, socket, ssl, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line, wait_until
from kafka import MockKafka, consume, wait_messages

build, out, root = sys.argv[1:4]
if os.geteuid() != 0:
    print("SKIP: needs root (it makes a user and binds ports below 1024)")
    sys.exit(0)
USER, LOGS_GROUP = "canh-e2e-priv", "canh-e2e-logs"
N = 300                                    # failed root logins per TCP connection and file
U = 50                                     # over UDP: few enough that the socket's
                                           # buffer holds them all, read or not
T = 20                                     # over TLS
PROBE_RULE = "5d7a1f0e-1111-4c2a-9e3b-00000000c0de"
PROBE = f"""title: Least Privilege Probe
id: {PROBE_RULE}
status: test
description: Added before SIGHUP; fires on lines sent after the reload.
logsource:
  product: linux
detection:
  keywords:
    - canh-priv-probe
  condition: keywords
level: high
"""


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def remove_user():
    for argv in (["userdel", USER], ["groupdel", USER], ["groupdel", LOGS_GROUP]):
        subprocess.run(argv, capture_output=True)


remove_user()   # a run that was killed may have left them
run("groupadd", "--system", LOGS_GROUP)
atexit.register(remove_user)   # registered first: runs after canh is killed
run("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
    "--groups", LOGS_GROUP, USER)
pw = pwd.getpwnam(USER)
UID, GID, LOGS_GID = pw.pw_uid, pw.pw_gid, grp.getgrnam(LOGS_GROUP).gr_gid


def owned(path):
    st = os.lstat(path)
    return st.st_uid == UID and st.st_gid == GID


def free_low_port(start=700):
    """A port below 1024 free for both TCP and UDP on 127.0.0.1."""
    for port in range(start, 1000):
        try:
            with socket.socket() as t, socket.socket(type=socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    sys.exit("no free port below 1024 on 127.0.0.1")


def status(pid):
    """{task: {field: value}} of every thread of pid."""
    tasks = {}
    for t in glob.glob(f"/proc/{pid}/task/*/status"):
        with open(t) as f:
            tasks[t.split("/")[4]] = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    return tasks


def no_privilege(tasks, uid, gid, groups):
    """The lines that are wrong in any thread's status (empty: all right)."""
    bad = []
    for tid, s in sorted(tasks.items()):
        want = {"Uid": f"{uid}\t{uid}\t{uid}\t{uid}", "Gid": f"{gid}\t{gid}\t{gid}\t{gid}",
                "NoNewPrivs": "1"}
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            want[cap] = "0000000000000000"
        for k, v in want.items():
            if s.get(k, "").strip() != v:
                bad.append(f"thread {tid}: {k}: {s.get(k)!r}, want {v!r}")
        if sorted(int(g) for g in s.get("Groups", "").split()) != sorted(groups):
            bad.append(f"thread {tid}: Groups: {s.get('Groups')!r}, want {sorted(groups)}")
    return bad


def attack(i):
    """A failed root login whose source port is i (one alert each)."""
    return sshd_line(i, True).encode()


logs = os.path.join(out, "logs")            # the user's, as /var/log/canh would be
shutil.rmtree(logs, ignore_errors=True)
os.makedirs(logs)
os.chown(logs, UID, GID)
rules = os.path.join(out, "rules")          # root's, readable by all, as /etc/canh/rules
shutil.rmtree(rules, ignore_errors=True)
shutil.copytree(os.path.join(root, "rules"), rules)
feed_dir = os.path.join(out, "in")          # the followed log: only LOGS_GROUP may read it
shutil.rmtree(feed_dir, ignore_errors=True)
os.makedirs(feed_dir)
auth_log = os.path.join(feed_dir, "auth.log")
open(auth_log, "w").close()
os.chown(auth_log, 0, LOGS_GID)
os.chmod(auth_log, 0o640)

# the TLS input's certificate, and its key readable by root only: canh reads
# it before it switches
pki = os.path.join(out, "pki")
shutil.rmtree(pki, ignore_errors=True)
os.makedirs(pki)
run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", os.path.join(pki, "canh.key"), "-out", os.path.join(pki, "canh.crt"),
    "-subj", "/CN=localhost", "-days", "2")
os.chmod(os.path.join(pki, "canh.key"), 0o600)

# ---- 1. what the user could not write is refused, by name ----------------
def refused(state_prep, what):
    port = free_low_port()
    d = Daemon(build, logs, root, f"""  - type: udp
    listen: 127.0.0.1:{port}""", rules=[rules], extra=f"user: {USER}\n")
    state = os.path.join(logs, "state")
    state_prep(state)
    d.start()
    try:
        d.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        d.kill()
        sys.exit(f"{what}: canh did not stop")
    d.log.close()
    text = d.log_text()
    line = next((l for l in text.splitlines() if "cannot be written by user" in l), "(none)")
    print(f"{what}: exit {d.proc.returncode}; {line.replace(logs, 'LOGS')}")
    print(f"{what}: listened: {'listening on' in text}")
    shutil.rmtree(state, ignore_errors=True)


def root_state(state):
    os.makedirs(state, 0o755)


def root_spool_file(state):
    os.makedirs(os.path.join(state, "spool"))
    with open(os.path.join(state, "spool", "head"), "w") as f:
        f.write("0\n")
    for p in (state, os.path.join(state, "spool")):
        os.chown(p, UID, GID)          # the folders are the user's, the file root's


refused(root_state, "state_dir made by root")
refused(root_spool_file, "spool file left by root")

# ---- 2. the run -------------------------------------------------------------
port = free_low_port()
tls_port = free_low_port(port + 1)
with MockKafka(build, topics=(("alerts", 1),)) as k:
    d = Daemon(build, logs, root, f"""  - type: tcp
    name: low-tcp
    listen: 127.0.0.1:{port}
  - type: udp
    name: low-udp
    listen: 127.0.0.1:{port}
  - type: file
    name: auth
    paths: [{auth_log}]
    start_at: beginning
  - type: tls
    name: low-tls
    listen: 127.0.0.1:{tls_port}
    tls:
      cert: {pki}/canh.crt
      key: {pki}/canh.key""", rules=[rules], extra=f"user: {USER}\n", outputs=f"""  kafka:
    brokers: {k.bootstrap}
    topic: alerts""").start()
    conn, = d.connect(port)
    wait_until("canh to run", lambda: d.log_count("canh: info: running: ") >= 1, 30)
    tasks = status(d.proc.pid)
    bad = no_privilege(tasks, UID, GID, [GID, LOGS_GID])
    print(f"threads checked: {len(tasks) > 1}; wrong: {bad or 'none'}")

    conn.sendall(b"".join(attack(i) + b"\n" for i in range(1, N + 1)))
    udp = socket.socket(type=socket.SOCK_DGRAM)
    for i in range(N + 1, N + U + 1):
        udp.sendto(attack(i), ("127.0.0.1", port))
    with open(auth_log, "ab") as f:
        f.write(b"".join(attack(i) + b"\n" for i in range(N + U + 1, 2 * N + U + 1)))
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "canh.crt"))
    ctx.check_hostname = False
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=10)) as t:
        t.sendall(b"".join(attack(i) + b"\n" for i in range(2 * N + U + 1, 2 * N + U + T + 1)))
    FIRST = 2 * N + U + T                  # alerts before the reload
    d.wait_alerts(FIRST)

    # SIGHUP: the rules are read again, as the user; a new rule fires
    with open(os.path.join(rules, "zz-probe.yml"), "w") as f:
        f.write(PROBE)
    d.signal(signal.SIGHUP)
    wait_until("the reload", lambda: d.log_count("rules reloaded in") >= 1, 60)
    conn.sendall(b"<38>Nov 23 10:01:00 web01 sshd[1]: canh-priv-probe\n")
    d.wait_alerts(FIRST + 1)

    # logrotate without `create`: canh makes the new alerts file itself
    os.rename(d.alerts_path, d.alerts_path + ".1")
    d.signal(signal.SIGUSR1)
    wait_until("the reopen", lambda: d.log_count("SIGUSR1: reopened") >= 1, 60)
    conn.sendall(b"".join(attack(i) + b"\n" for i in range(FIRST + 1, FIRST + N + 1)))
    d.wait_alerts(N)
    conn.close()
    wait_messages(k.bootstrap, "alerts", FIRST + N + 1, timeout=60)
    tasks_late = status(d.proc.pid)   # the reload and Kafka threads are there now
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")

kafka_ports = sorted(json.loads(m["value"])["source"]["port"] for m in msgs
                     if json.loads(m["value"])["rule"]["id"] == ROOT_SSH_RULE)
with open(d.alerts_path + ".1") as f:
    old = [json.loads(l) for l in f]
new = d.alerts()
ports = sorted(a["source"]["port"] for a in old + new if a["rule"]["id"] == ROOT_SSH_RULE)
want = list(range(1, FIRST + N + 1))
print(f"exit {rc}")
print(f"threads after the reload: wrong: "
      f"{no_privilege(tasks_late, UID, GID, [GID, LOGS_GID]) or 'none'}")
print(f"alerts file: every line once: {ports == want}; probe alerts "
      f"{sum(a['rule']['id'] == PROBE_RULE for a in old + new)}; after the rotation "
      f"{len(new)}")
print(f"kafka: every line once: {kafka_ports == want}")
state = os.path.join(logs, "state")
saved = [p for p in glob.glob(os.path.join(state, "*")) if os.path.isfile(p)]
print(f"offsets saved: {len(saved) > 0}")
paths = [state, os.path.join(state, "spool"), os.path.join(state, "hs-cache"),
         d.alerts_path, d.alerts_path + ".1", d.stats_path] + saved + \
        glob.glob(os.path.join(state, "spool", "*")) + glob.glob(os.path.join(state, "hs-cache", "*"))
print(f"owned by the user: {all(owned(p) for p in paths)} "
      f"({', '.join(os.path.relpath(p, logs) for p in paths if not owned(p)) or 'all'})")

# ---- 3. the systemd way: started as the user with an ambient capability ----
port = free_low_port()
d3 = Daemon(build, logs, root, f"""  - type: tcp
    listen: 127.0.0.1:{port}""", rules=[rules])
d3.log = open(d3.log_path, "ab")
d3.proc = subprocess.Popen(
    ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--init-groups",
     "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
     f"{build}/canh", "run", "-c", d3.cfg], stderr=d3.log)
atexit.register(d3.kill)
c3, = d3.connect(port)
bad3 = no_privilege(status(d3.proc.pid), UID, GID, [GID, LOGS_GID])
# the bounding set cannot be cleared without CAP_SETPCAP: only the other sets count
bad3 = [b for b in bad3 if "CapBnd" not in b]
c3.sendall(attack(1) + b"\n")
c3.close()
d3.wait_alerts(1)
rc3 = d3.stop()
print(f"ambient capability run: exit {rc3}; wrong: {bad3 or 'none'}")
