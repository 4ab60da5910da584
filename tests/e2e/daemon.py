"""
tests/e2e/daemon.py -- what the `canh run` test drivers share.

A Daemon writes a config for one test (rules, inputs, alerts and stats
files, state_dir, all under the case's output folder), starts `canh run`
with its log going to OUT/canh.log, waits for its inputs, and stops it with
SIGTERM. Every wait has a deadline; a driver that runs out of time exits
with a message saying what it was waiting for. Traffic goes to 127.0.0.1.
"""
import atexit, json, os, shutil, signal, socket, subprocess, sys, threading, time

ROOT_SSH_RULE = "9f6c0c14-ee0c-4311-a655-29a4507918a2"   # SSH Failed Login as root


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sshd_line(i, attack):
    """Sequence-numbered sshd syslog line; the port field carries i."""
    host = f"web{i % 7:02d}"
    if attack:
        return (f"<38>Nov 23 10:00:{i % 60:02d} {host} sshd[{1000 + i}]: Failed password "
                f"for root from 203.0.113.{i % 250 + 1} port {i} ssh2")
    return (f"<38>Nov 23 10:00:{i % 60:02d} {host} sshd[{1000 + i}]: Connection closed by "
            f"10.0.0.{i % 250 + 1} port {i} [preauth]")


def audit_group(serial, k):
    """The six auditd records of one event: an `rm` of /var/log/case<serial>.log
    (the rule in batches_keep_audit_groups/rules needs SYSCALL and EXECVE
    together)."""
    st = f"msg=audit(1700000000.{k % 1000:03d}:{serial}):"
    return [
        f"type=SYSCALL {st} arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=1 "
        f"pid={100 + k} auid=0 uid=0 gid=0 euid=0 comm=\"rm\" exe=\"/usr/bin/rm\"",
        f"type=EXECVE {st} argc=3 a0=\"rm\" a1=\"-f\" a2=\"/var/log/case{serial}.log\"",
        f"type=CWD {st} cwd=\"/root\"",
        f"type=PATH {st} item=0 name=\"/usr/bin/rm\" nametype=NORMAL",
        f"type=PATH {st} item=1 name=\"/var/log/case{serial}.log\" nametype=DELETE",
        f"type=PROCTITLE {st} proctitle=726D002D66",
    ]


def send_attacks(conn, first, n):
    """Attack lines first .. first+n-1 (sshd_line) sent on conn from a thread of
    their own, which waits while canh pushes back; the thread, started."""
    data = "".join(sshd_line(i, True) + "\n" for i in range(first, first + n)).encode()
    t = threading.Thread(target=conn.sendall, args=(data,), daemon=True)
    t.start()
    return t


def octet(msg):
    """RFC 6587 octet counting."""
    return str(len(msg)).encode() + b" " + msg


def in_mount_namespace():
    """Re-runs the calling driver in a private mount namespace (unshare
    --mount), where it may mount what it likes without touching the
    machine's mounts; returns there. Where none can be made, prints
    "SKIP: WHY" and exits 0 (check.py then skips the case)."""
    if os.environ.get("CANH_TEST_NS"):
        return
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        print("SKIP: cannot make a mount namespace here (unshare --mount: "
              f"{probe.stderr.decode(errors='replace').strip()})")
        sys.exit(0)
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(sys.argv[0])] + sys.argv[1:],
               dict(os.environ, CANH_TEST_NS="1"))


def small_disk(path, size):
    """A tmpfs of `size` (mount's units: 2m) at path, made if missing (in the
    driver's own mount namespace: in_mount_namespace first)."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=700", "tmpfs", path],
                   check=True)


def fill_disk(path):
    """Fills the file system of folder `path` with a file `filler` until
    writing fails for want of space; returns the filler's path (remove it to
    free the room)."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                if e.errno not in (28, 122):   # ENOSPC, EDQUOT
                    raise
    finally:
        os.close(fd)
    return filler


def wait_until(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    sys.exit(f"timed out after {timeout} s waiting for {what}")


class Daemon:
    def __init__(self, build, out, root, inputs, workers=2, rules=None, extra="",
                 outputs="", alerts_file=True, alerts_path=None):
        """inputs: the YAML of the inputs list; outputs: more YAML under `outputs:`
        (indented by 2), such as a kafka section; alerts_file=False: no alerts file;
        alerts_path: where it is (default OUT/alerts.jsonl)."""
        self.build, self.out, self.root = build, out, root
        self.alerts_path = alerts_path or os.path.join(out, "alerts.jsonl")
        self.stats_path = os.path.join(out, "stats.jsonl")
        self.log_path = os.path.join(out, "canh.log")
        for p in (self.alerts_path, self.stats_path, self.log_path):
            if os.path.exists(p):
                os.remove(p)
        state = os.path.join(out, "state")
        shutil.rmtree(state, ignore_errors=True)
        rules = rules or [os.path.join(root, "rules")]
        self.cfg = os.path.join(out, "canh.yml")
        with open(self.cfg, "w") as f:
            f.write(f"""workers: {workers}
state_dir: {state}
rules:
  paths: [{", ".join(rules)}]
  fieldmap: {root}/conf/fieldmap.yml
inputs:
{inputs}
outputs:
{f"  alerts:{chr(10)}    path: {self.alerts_path}" if alerts_file else ""}
{outputs}
  stats:
    path: {self.stats_path}
    interval: 1s
{extra}""")
        self.proc = None

    def start(self):
        """Starts canh (again, after stop: its alerts, stats and log are appended to)."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([f"{self.build}/canh", "run", "-c", self.cfg],
                                     stderr=self.log)
        atexit.register(self.kill)   # a driver that gives up leaves no canh behind
        return self

    def connect(self, port, n=1, timeout=20):
        """n TCP connections to the daemon, once it listens."""
        conns, deadline = [], time.time() + timeout
        while len(conns) < n and time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"canh run exited ({self.proc.returncode}) before listening:\n"
                         + self.log_text())
            try:
                conns.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            except OSError:
                time.sleep(0.05)
        if len(conns) < n:
            self.kill()
            sys.exit(f"canh run did not accept {n} connections within {timeout} s")
        return conns

    def wait_udp(self, port, timeout=10, v6=False):
        def bound():
            try:
                with open(f"/proc/{self.proc.pid}/net/udp{'6' if v6 else ''}") as f:
                    return f":{port:04X}" in f.read()
            except OSError:
                return False
        wait_until(f"canh to bind udp port {port}", bound, timeout)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_count(self, text):
        return self.log_text().count(text)

    def alert_count(self):
        try:
            with open(self.alerts_path, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def wait_alerts(self, n, timeout=60):
        wait_until(f"{n} alerts (have {self.alert_count()})", lambda: self.alert_count() >= n,
                   timeout)

    def wait_quiet(self, still=1.5, timeout=60):
        """Until the alerts file has stopped growing for `still` seconds."""
        last, since, deadline = -1, time.time(), time.time() + timeout
        while time.time() < deadline:
            c = self.alert_count()
            if c != last:
                last, since = c, time.time()
            elif time.time() - since > still:
                return
            time.sleep(0.1)

    def alerts(self, rule_id=None):
        with open(self.alerts_path) as f:
            v = [json.loads(l) for l in f]
        return [a for a in v if rule_id is None or a["rule"]["id"] == rule_id]

    def records(self):
        with open(self.stats_path) as f:
            return [json.loads(l) for l in f]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        """SIGTERM, then the exit status; canh's log goes to our stderr."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            sys.exit(f"canh run did not stop within {timeout} s of SIGTERM")
        self.log.close()
        sys.stderr.write(self.log_text())
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
