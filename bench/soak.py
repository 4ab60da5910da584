#!/usr/bin/env python3
"""
bench/soak.py -- `make soak`: canh run under a long, unkind load (not in CI).

    python3 bench/soak.py BUILD          (make soak BUILD=... SOAK_SECONDS=...)

One `canh run` (2 workers, the shipped rules) takes syslog over TCP on
loopback and writes every alert to a file and to Kafka (librdkafka's mock
cluster, build/kafka-mock). First the load it can carry is measured: the
sender goes flat out for CALIBRATE seconds against a canh set up the same
way. Then, for SOAK_SECONDS (default 600), lines go at SOAK_LOAD (default
0.7) of that rate, and meanwhile:

  - 1% of the lines are malformed (bogus priorities, NUL, invalid UTF-8,
    terminal escapes, cut frames), 0.1% are attacks that each raise one
    alert carrying its own sequence number;
  - every 30 s the rules are reloaded (SIGHUP), a rule file added or taken
    away in turn, so that each reload really swaps the rule set;
  - every 2 minutes all Kafka brokers go down for 20 s;
  - once, the disk that holds the alerts file, the spool and the state
    folder (a tmpfs of this run's own mount namespace) is filled for 20 s.

Every 5 s the resident memory and open file descriptors of canh are read
from /proc. At the end canh is stopped (SIGTERM) and the run passes when:

  - resident memory after warm-up grew under 5% (the median of the last
    minute against the median of the minute after warm-up);
  - the descriptors at the end are those after warm-up (+-2);
  - the counters balance: lines sent = events processed + lines counted
    as dropped, and canh's stats agree with its log;
  - every alert is in the alerts file exactly once and in the Kafka topic
    (read back by a kcat consumer that runs throughout) at least once,
    every duplicate carrying the same event.id.

The figures are printed, to be copied into bench/README.md. Every loop is
bounded in time. The run needs root (its mount namespace).
"""
import json, os, re, signal, socket, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from daemon import Daemon, ROOT_SSH_RULE, free_port, sshd_line, wait_until  # noqa: E402
from kafka import MockKafka  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
LOAD = float(os.environ.get("SOAK_LOAD", "0.7"))
CALIBRATE = int(os.environ.get("SOAK_CALIBRATE", "15"))
RELOAD_EVERY, OUTAGE_S, FULL_S = 30, 20, 20
OUTAGE_EVERY = int(os.environ.get("SOAK_OUTAGE_EVERY", "120"))
WARMUP = min(120, SECONDS // 5)
BLOCK = 10000                       # lines per block the sender writes
MALFORMED = BLOCK // 100            # 1%
ATTACKS = BLOCK // 1000             # 0.1%: one alert each
SAMPLE_S = 5

if len(sys.argv) != 2:
    sys.exit("usage: bench/soak.py BUILD")
BUILD = os.path.abspath(sys.argv[1])
if os.geteuid() != 0:
    sys.exit("soak: needs root (it mounts a tmpfs in its own mount namespace)")
if not os.environ.get("CANH_SOAK_NS"):
    # our own mount namespace: the tmpfs disappears with us
    os.environ["CANH_SOAK_NS"] = "1"
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private",
                          sys.executable] + sys.argv)

OUT = os.path.join(BUILD, "soak")
DISK = os.path.join(OUT, "disk")
subprocess.run(["rm", "-rf", OUT], check=True)
os.makedirs(DISK)
# the alerts of the whole run, with room to spare (filled on purpose once)
DISK_MB = 256 + SECONDS * 4
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", DISK],
               check=True)


def log(msg):
    print(f"soak [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- the lines -------------------------------------------------------------

def normal_lines(n):
    """Everyday lines of several kinds, none of which the shipped rules alert on."""
    out = []
    for i in range(n):
        k = i % 5
        if k == 0:
            out.append(sshd_line(i, False))
        elif k == 1:
            out.append(f"<86>Nov 23 10:01:{i % 60:02d} db{i % 9:02d} CRON[{2000 + i}]: "
                       f"pam_unix(cron:session): session opened for user backup by (uid=0)")
        elif k == 2:
            out.append(f"<14>1 2026-11-23T10:02:{i % 60:02d}.5+07:00 portal{i % 4} nginx - - - "
                       f"10.1.{i % 200}.{i % 250} - - \"GET /tin-tuc/{i} HTTP/1.1\" 200 {500 + i} "
                       f"\"-\" \"Mozilla/5.0\"")
        elif k == 3:
            out.append(f"<38>Nov 23 10:03:{i % 60:02d} web{i % 7:02d} sshd[{3000 + i}]: "
                       f"Accepted publickey for deploy from 10.0.{i % 200}.{i % 250} port "
                       f"{40000 + i % 20000} ssh2")
        else:
            out.append(f"<30>Nov 23 10:04:{i % 60:02d} fw{i % 3} kernel: IN=eth0 OUT= "
                       f"SRC=10.2.{i % 200}.{i % 250} DST=10.0.0.1 PROTO=TCP SPT={1024 + i} "
                       f"DPT=443")
    return [l.encode() for l in out]


def malformed_lines(n):
    bad = [b"<999>Nov 23 10:00:00 host x: bogus priority",
           b"<13>\x00\x00\x00 NUL bytes in the header",
           b"<38>Nov 23 10:00:00 h\xff\xfe\xc3 sshd[1]: invalid UTF-8 \xc0\xaf",
           b"<38>Nov 23 10:00:00 \x1b[2Jevil\x1b]0;title\x07 sshd[1]: escapes",
           b"\xff" * 64,
           b"<14>1 2026-13-45T99:99:99Z - - - - - broken 5424 stamp",
           b"{\"deep\": " + b"[" * 200 + b"]" * 200 + b"}",
           b"<",
           b"<38>" + b"A" * 3000,
           b"<38>Nov 31 25:61:61 host sshd[x]: impossible time"]
    return [bad[i % len(bad)] for i in range(n)]


NORMAL = normal_lines(BLOCK - MALFORMED - ATTACKS)
MAL = malformed_lines(MALFORMED)
# the block's fixed parts, with an attack line between each two
_fixed = NORMAL[:]
for j, m in enumerate(MAL):
    _fixed.insert((j * 97) % len(_fixed), m)
_step = len(_fixed) // ATTACKS
# what canh counts as messages: over TCP with newline framing a NUL also
# ends a message (RFC 6587 senders that NUL-terminate), an empty one is none
FRAMES = sum(len([x for x in re.split(rb"[\n\0]", l) if x]) for l in NORMAL + MAL) + ATTACKS
PARTS = [b"\n".join(_fixed[i * _step:(i + 1) * _step if i < ATTACKS - 1 else None]) + b"\n"
         for i in range(ATTACKS)]


class Sender:
    """One TCP connection; blocks of BLOCK lines, paced to a rate (or flat out)."""
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.seq = 0          # attacks sent (1..seq)
        self.lines = 0

    def block(self):
        pieces = []
        for p in PARTS:
            self.seq += 1
            pieces.append(p)
            pieces.append(sshd_line(self.seq, True).encode() + b"\n")
        self.sock.sendall(b"".join(pieces))
        self.lines += BLOCK

    def run(self, seconds, rate=None, tick=None):
        t0 = time.time()
        end = t0 + seconds
        while True:
            now = time.time()
            if now >= end:
                return
            if tick:
                tick(now - t0)
            if rate:
                due = t0 + self.lines / rate if self.lines else t0
                if due > now:
                    time.sleep(min(due - now, end - now, 0.2))
                    continue
            self.block()

    def close(self):
        self.sock.close()


# ---- the canh under test ---------------------------------------------------

def make_daemon(k, name, rules_dir):
    port = free_port()
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    disk = os.path.join(DISK, name)
    os.makedirs(disk, exist_ok=True)
    d = Daemon(BUILD, out, ROOT, f"""  - type: tcp
    name: soak
    listen: 127.0.0.1:{port}""", workers=2, rules=[rules_dir], outputs=f"""  kafka:
    brokers: {k.bootstrap}
    topic: {name}
    spool:
      path: {disk}/spool
    properties:
      compression.type: lz4""")
    # the alerts file and the state folder on the small disk
    d.alerts_path = os.path.join(disk, "alerts.jsonl")
    with open(d.cfg) as f:
        cfg = f.read()
    cfg = cfg.replace(os.path.join(out, "alerts.jsonl"), d.alerts_path)
    cfg = cfg.replace(f"state_dir: {os.path.join(out, 'state')}",
                      f"state_dir: {os.path.join(disk, 'state')}")
    with open(d.cfg, "w") as f:
        f.write(cfg)
    return d, port


def proc_figures(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                rss = int(l.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def events_of(d):
    r = d.records()
    return r[-1]["events"] if r else 0


rules_dir = os.path.join(OUT, "rules")
subprocess.run(["cp", "-r", os.path.join(ROOT, "rules"), rules_dir], check=True)
EXTRA = os.path.join(rules_dir, "soak_extra.yml")


def toggle_extra_rule(n):
    """Adds or takes away a copy of a shipped rule (a new id, never firing)."""
    if os.path.exists(EXTRA):
        os.remove(EXTRA)
    else:
        with open(EXTRA, "w") as f:
            f.write(f"""title: Soak reload marker {n}
id: 00000000-0000-4000-8000-{n:012d}
status: test
logsource:
    product: linux
    service: sshd
detection:
    selection:
        message|contains: 'soak-marker-that-never-occurs-{n}'
    condition: selection
level: low
""")


failures = []


def check(what, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(what)


with MockKafka(BUILD, topics=(("calibrate", 24), ("soak", 24))) as k:
    # 1. calibration: flat out, the same set-up
    d, port = make_daemon(k, "calibrate", rules_dir)
    d.start()
    d.connect(port)[0].close()   # once it listens
    s = Sender(port)
    t0 = time.time()
    s.run(CALIBRATE)
    s.close()
    wait_until("the calibration lines to be processed",
               lambda: events_of(d) >= s.lines // BLOCK * FRAMES, 120)
    took = time.time() - t0
    capacity = s.lines / took
    d.stop()
    rate = capacity * LOAD
    log(f"capacity: {s.lines:,} lines in {took:.1f} s = {capacity:,.0f} lines/s; "
        f"the soak runs at {LOAD:.0%}: {rate:,.0f} lines/s for {SECONDS} s")

    # 2. the soak
    d, port = make_daemon(k, "soak", rules_dir)
    # the reader of the topic: a kcat in a consumer group (it commits what
    # it read), started again whenever it exits (kcat gives up when every
    # broker is down), so that it goes on where it stopped
    kcat_out = open(os.path.join(OUT, "kafka-alerts.jsonl"), "ab")
    kcat_argv = ["kcat", "-b", k.bootstrap, "-G", "soak-check", "-X",
                 "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=500", "-q", "-u",
                 "-f", "%s\n", "soak"]
    kcat = subprocess.Popen(kcat_argv, stdout=kcat_out, stderr=subprocess.DEVNULL)
    kcat_starts = [1]
    d.start()
    d.connect(port)[0].close()
    s = Sender(port)
    samples = []          # (t, rss KiB, fds)
    state = {"next_sample": 0, "next_reload": RELOAD_EVERY, "next_outage": OUTAGE_EVERY,
             "outage_end": None, "full_at": SECONDS * 0.6, "full_end": None, "reloads": 0,
             "outages": 0, "filler": os.path.join(DISK, "filler")}

    def nonlocal_kcat():
        global kcat
        if kcat.poll() is not None:
            kcat = subprocess.Popen(kcat_argv, stdout=kcat_out, stderr=subprocess.DEVNULL)
            kcat_starts[0] += 1

    def fill_disk():
        """Writes the filler until the tmpfs says no more (ENOSPC)."""
        chunk = b"\0" * (1 << 20)
        with open(state["filler"], "wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass

    def tick(t):
        nonlocal_kcat()
        if t >= state["next_sample"]:
            state["next_sample"] += SAMPLE_S
            samples.append((t,) + proc_figures(d.proc.pid))
        if t >= state["next_reload"]:
            state["next_reload"] += RELOAD_EVERY
            state["reloads"] += 1
            toggle_extra_rule(state["reloads"])
            d.signal(signal.SIGHUP)
        if state["outage_end"] is None and t >= state["next_outage"] and t < SECONDS - 30:
            state["next_outage"] += OUTAGE_EVERY
            state["outage_end"] = t + OUTAGE_S
            state["outages"] += 1
            k.down()
            log(f"Kafka brokers down ({state['outages']})")
        elif state["outage_end"] is not None and t >= state["outage_end"]:
            k.up()
            state["outage_end"] = None
            log("Kafka brokers up")
        if state["full_end"] is None and state["full_at"] is not None and t >= state["full_at"]:
            fill_disk()
            state["full_end"] = t + FULL_S
            state["full_at"] = None
            log("the alerts/spool disk is full")
        elif state["full_end"] is not None and t >= state["full_end"]:
            os.remove(state["filler"])
            state["full_end"] = None
            log("the alerts/spool disk has room again")

    # the sender blocks while canh waits for the disk: the disk's and the
    # brokers' timers run in a thread of their own
    import threading
    stop = threading.Event()

    def timers():
        t0 = time.time()
        while not stop.is_set() and time.time() - t0 < SECONDS + 5:
            tick(time.time() - t0)
            time.sleep(0.1)
    th = threading.Thread(target=timers, daemon=True)
    th.start()
    s.run(SECONDS, rate=rate)
    stop.set()
    th.join(10)
    if state["outage_end"] is not None:
        k.up()
    if state["full_end"] is not None:
        os.remove(state["filler"])
    s.close()
    sent_lines, sent_attacks = s.lines, s.seq
    log(f"sent {sent_lines:,} lines ({sent_attacks:,} attacks); waiting for canh to finish")
    wait_until("canh to process every line", lambda: events_of(d) >= sent_lines // BLOCK * FRAMES, 300)

    # until the reader has as many alerts as were sent (bounded: 180 s)
    deadline = time.time() + 180
    while time.time() < deadline:
        nonlocal_kcat()
        with open(kcat_out.name, "rb") as f:
            if sum(1 for _ in f) >= sent_attacks:
                break
        time.sleep(2)
    time.sleep(2)   # what kcat holds in its buffers
    rc = d.stop(timeout=120)
    time.sleep(1)
    kcat.terminate()
    kcat.wait(10)
    kcat_out.close()

    # 3. the figures
    print()
    print(f"soak: {SECONDS} s at {rate:,.0f} lines/s ({LOAD:.0%} of the measured "
          f"{capacity:,.0f}); {state['reloads']} rule reloads, {state['outages']} Kafka "
          f"outages of {OUTAGE_S} s, one full disk of {FULL_S} s")
    check("canh stopped cleanly", rc == 0, f"exit {rc}")
    after = [x for x in samples if WARMUP <= x[0] < WARMUP + 60]
    last = [x for x in samples if x[0] >= SECONDS - 60]
    if after and last:
        rss0 = statistics.median(x[1] for x in after)
        rss1 = statistics.median(x[1] for x in last)
        growth = rss1 / rss0 - 1
        check("resident memory flat after warm-up", growth < 0.05,
              f"{rss0 / 1024:.1f} MiB after warm-up, {rss1 / 1024:.1f} MiB at the end "
              f"({growth:+.1%}); peak {max(x[1] for x in samples) / 1024:.1f} MiB")
        # brokers down close their connections: compare the most open
        fd0 = max(x[2] for x in samples if x[0] < WARMUP + 60)
        fd1 = max(x[2] for x in samples if x[0] >= WARMUP + 60)
        check("file descriptors stable", fd1 <= fd0 + 2,
              f"at most {fd0} open until warm-up ended, at most {fd1} after, range "
              f"{min(x[2] for x in samples)}..{max(x[2] for x in samples)}")
    else:
        check("enough samples for memory and descriptors", False)
    rec = d.records()[-1]
    dropped = rec["stream"]["dropped_too_long"] + rec["stream"]["bad_frames"]
    frames = sent_lines // BLOCK * FRAMES
    check("counters balance: messages in = events + counted drops",
          frames == rec["stream"]["messages"] == rec["events"] + dropped,
          f"sent {sent_lines:,} lines = {frames:,} messages; received "
          f"{rec['stream']['messages']:,}; events {rec['events']:,}, parse errors "
          f"{rec.get('parse_errors', 0):,}, dropped {dropped:,}")
    seqs, ids = [], {}
    for l in open(d.alerts_path, "rb"):
        a = json.loads(l)
        if a["rule"]["id"] == ROOT_SSH_RULE:
            seqs.append(a["source"]["port"])
    expected = set(range(1, sent_attacks + 1))
    check("every alert in the alerts file exactly once",
          set(seqs) == expected and len(seqs) == len(expected),
          f"{len(seqs):,} lines for {len(expected):,} attacks; missing "
          f"{len(expected - set(seqs)):,}, duplicated {len(seqs) - len(set(seqs)):,}")
    kseqs = {}
    bad = kmsgs = 0
    for l in open(kcat_out.name, "rb"):
        try:
            a = json.loads(l)
        except ValueError:
            bad += 1
            continue
        if a["rule"]["id"] == ROOT_SSH_RULE:
            kmsgs += 1
            kseqs.setdefault(a["source"]["port"], set()).add(a["event"]["id"])
    dup = sum(1 for v in kseqs.values() if len(v) > 1)
    check("every alert in Kafka, duplicates with one event.id",
          set(kseqs) == expected and dup == 0 and bad == 0,
          f"{len(kseqs):,} of {len(expected):,}; missing {len(expected - set(kseqs)):,}; "
          f"sent twice {kmsgs - len(kseqs):,} (same event.id), with another event.id {dup}; "
          f"not JSON {bad}")
    kc = rec.get("kafka", {})
    print(f"  the topic's reader (kcat) was started {kcat_starts[0]} times")
    print(f"  kafka: delivered {kc.get('delivered')}, waiting {kc.get('waiting')}, spool full "
          f"waits {kc.get('spool_full_waits')}")
    text = d.log_text()
    print(f"  log: {text.count('rules reloaded')} reloads done; "
          f"{len(re.findall(r'error', text))} error lines")
    print(f"  memory and descriptors every {SAMPLE_S} s (t, RSS MiB, fds):")
    for t, rss, fds in samples[::max(1, len(samples) // 20)]:
        print(f"    {t:6.0f} s  {rss / 1024:7.1f}  {fds}")

subprocess.run(["umount", DISK])
print(f"soak: {'PASSED' if not failures else 'FAILED: ' + '; '.join(failures)}")
sys.exit(1 if failures else 0)
