#!/usr/bin/env python3
"""
tests/e2e/run_kafka_group/drive.py -- two canh processes in one consumer
group on a 4-partition topic of raw log lines.

    drive.py BUILD OUT ROOT [STRATEGY]

STRATEGY is librdkafka's partition.assignment.strategy for both members
(none: canh's default); with one, only phase 1 runs.

Phase 1, a member joins while the other is busy: 30,000 lines are
produced and canh A reads them; once A has written 3,000 alerts, lines
keep coming (5,000 a second, until 2,000 after B has been given
partitions, up to 100,000 lines in all), and once A reads them canh B is
started: A has processed messages whose offsets are not committed yet
when the group takes partitions from it. Every failed root login must
have an alert in A's or B's alerts file. The README promises each message
once with both members up, except the ranges a member could not commit
when it gave its partitions up, which it logs ("input raw: raw[P] offsets
X-Y (N messages) processed here but not committed ...") and counts
(kafka_in.possibly_duplicated). So every alert that came out twice must be
of a message in a logged range, every message of a logged range must have
been read twice (its alerts twice), and the logged ranges must add up to
the counts in the stats records.

Phase 2, one killed: 40,000 more lines are produced in steps; B is killed
(SIGKILL) midway; A takes B's partitions once the group notices (session
timeout 6 s) and reads again from B's last commit. Every expected alert
must be there at least once; the duplicates are counted in the output, and
each has the same event.id from both members (named apart in canh.yml: a
Kafka message's id is the topic, partition and offset, not who read it),
so the SOC can drop them.
"""
import json, os, re, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line, wait_until
from kafka import MockKafka, produce

build, out, root = sys.argv[1:4]
strategy = sys.argv[4] if len(sys.argv) > 4 else None

LAST1 = 100000   # phase 1 produces at most lines 1..LAST1, phase 2 the next 40,000
RANGE_RE = re.compile(r"input raw: (\S+)\[(\d+)\] offsets (\d+)-(\d+) \((\d+) messages?\) "
                      r"processed here but not committed")


def lines(a, b):
    return [sshd_line(i, i % 10 == 0) for i in range(a, b)]


def keys(a, b):
    return [f"k{i % 1000}" for i in range(a, b)]   # spread evenly (the mock keeps 5 MB a partition)


def alerts_of(d):
    """[(port, partition, offset, event.id, observer)] of the root-login alerts."""
    got = []
    if os.path.exists(d.alerts_path):
        for l in open(d.alerts_path, "rb"):
            try:
                a = json.loads(l)
            except ValueError:
                continue   # a line cut by SIGKILL
            if a["rule"]["id"] == ROOT_SSH_RULE:
                kf = a["canh"]["kafka"]
                assert kf["topic"] == "raw", kf
                got.append((a["source"]["port"], kf["partition"], kf["offset"],
                            a["event"]["id"], a["observer"]["name"]))
    return got


def seqs(d):
    return [x[0] for x in alerts_of(d)]


def eventually(cond, timeout):
    """True once cond() is; False if it is not within timeout seconds."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def logged_ranges(d):
    """The ranges d logged as possibly duplicated: [(partition, first, last, n)]."""
    return [(int(m[2]), int(m[3]), int(m[4]), int(m[5]))
            for m in RANGE_RE.finditer(d.log_text())]


with MockKafka(build, topics=(("raw", 4),)) as k:
    def member(name):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        strat = f"\n      partition.assignment.strategy: {strategy}" if strategy else ""
        return Daemon(build, os.path.join(out, name), root, f"""  - type: kafka
    name: raw
    brokers: {k.bootstrap}
    topics: raw
    group: canh-test
    start_at: beginning
    properties:
      session.timeout.ms: 6000
      heartbeat.interval.ms: 500{strat}""", workers=1, extra=f"name: canh-{name}\n")

    a, b = member("a"), member("b")
    produce(k.bootstrap, "raw", lines(1, 30001), keys=keys(1, 30001))
    a.start()
    wait_until("A to process the first 3,000 alerts", lambda: len(seqs(a)) >= 3000, 60)

    # B joins while lines keep coming (one kcat, 5,000 lines a second):
    # A is in the middle of its work whenever the group rebalances
    sent = [30000]
    def feed():
        kc = subprocess.Popen(["kcat", "-P", "-b", k.bootstrap, "-t", "raw", "-K", "\t"],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        given = None
        while sent[0] < LAST1 and time.time() < feed_deadline:
            n = sent[0]
            kc.stdin.write("".join(f"{key}\t{line}\n" for key, line in
                                   zip(keys(n + 1, n + 251), lines(n + 1, n + 251))).encode())
            kc.stdin.flush()
            sent[0] = n + 250
            if given is None and b.proc and b.log_count("partitions assigned: raw[") >= 1:
                given = sent[0]
            if given is not None and sent[0] >= given + 2000:
                break
            time.sleep(0.05)
        kc.stdin.close()
        try:
            rc = kc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kc.kill()
            rc = "timeout"
        if rc != 0:
            sys.exit(f"kcat -P exited {rc}: {kc.stderr.read().decode('utf-8', 'replace')}")
    feed_deadline = time.time() + 60
    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_until("A to read the lines coming in", lambda: max(seqs(a)) > 31000, 60)
    b.start()
    feeder.join(timeout=120)
    if feeder.is_alive():
        sys.exit("the producer did not finish within 120 s")
    wait_until("B to be given partitions",
               lambda: b.log_count("partitions assigned: raw[") >= 1, 60)
    n1 = sent[0]
    expected1 = set(range(10, n1 + 1, 10))
    wait_until("every alert of phase 1",
               lambda: expected1 <= set(seqs(a)) | set(seqs(b)), 60)
    # the messages of a logged range are read again by their new owner:
    # give it time to write their alerts, and the stats record time to
    # count the range (a record a second)
    def reread():
        got = alerts_of(a) + alerts_of(b)
        ports = [x[0] for x in got]
        rs = logged_ranges(a) + logged_ranges(b)
        return all(ports.count(x[0]) >= 2 for x in got
                   if any(p == x[1] and f <= x[2] <= l for p, f, l, _ in rs))
    eventually(reread, 30)
    def stats_count():
        return sum(d.records()[-1]["kafka_in"].get("possibly_duplicated", 0) for d in (a, b))
    eventually(lambda: stats_count() == sum(r[3] for r in logged_ranges(a) + logged_ranges(b)), 5)
    both = alerts_of(a) + alerts_of(b)
    ports = [x[0] for x in both]
    where = {}
    for port, part, off, _, _ in both:
        where.setdefault(port, set()).add((part, off))
    twice = {p for p in set(ports) if ports.count(p) > 1}
    ranges = logged_ranges(a) + logged_ranges(b)
    def in_ranges(port):
        return all(any(p == part and f <= off <= l for p, f, l, _ in ranges)
                   for part, off in where[port])
    outside = [p for p in twice if not in_ranges(p)]
    in_range_alerts = {p for p in set(ports) if in_ranges(p)}
    once_in_range = [p for p in in_range_alerts if ports.count(p) < 2]
    print(f"phase 1, B joins while A is busy: {len(expected1)} expected alerts; "
          f"A {len(seqs(a))}, B {len(seqs(b))}; missing {len(expected1 - set(ports))}, "
          f"duplicated {len(ports) - len(set(ports))}")
    print(f"both members had partitions: {len(seqs(a)) > 3000 and len(seqs(b)) > 0}")
    print(f"duplicates outside the ranges logged as possibly duplicated: {len(outside)} "
          f"{sorted(outside)[:5]}")
    print(f"alerts of a logged range that came out only once: {len(once_in_range)} "
          f"{sorted(once_in_range)[:5]}")
    logged = sum(n for _, _, _, n in ranges)
    sizes = all(n == l - f + 1 for _, f, l, n in ranges)
    counted = stats_count()
    print(f"logged ranges: {len(ranges)}, {logged} messages; range sizes agree: {sizes}; "
          f"stats possibly_duplicated agree with the log: {counted == logged}")
    if strategy:
        rc = a.stop()
        rc = b.stop() or rc
        sys.exit(rc)

    expected2 = set(range(LAST1 + 10, LAST1 + 40001, 10))
    for n, start in enumerate(range(LAST1 + 1, LAST1 + 40001, 5000)):
        produce(k.bootstrap, "raw", lines(start, start + 5000), keys=keys(start, start + 5000))
        if n == 3:
            b.kill()
        time.sleep(0.3)
    wait_until("every alert of phase 2 (A takes B's partitions after the session timeout)",
               lambda: expected2 <= set(seqs(a)) | set(seqs(b)), 90)
    rc = a.stop()
    ids = {}
    for port, _, _, eid, obs in alerts_of(a) + alerts_of(b):
        ids.setdefault(port, set()).add((eid, obs))
    got = [s for s in seqs(a) + seqs(b) if s > LAST1]
    twice = [s for s in set(got) if got.count(s) > 1] if len(got) - len(set(got)) < 5000 else []
    same = sum(len({i for i, _ in ids[s]}) == 1 for s in twice)
    print(f"every duplicate has one event.id from both members: {same == len(twice)} "
          f"({same} of {len(twice)}; read by both members: "
          f"{sum(len({o for _, o in ids[s]}) == 2 for s in twice)})")
    print(f"phase 2, B killed midway: {len(expected2)} expected alerts; missing "
          f"{len(expected2 - set(got))} (at least once); read again after the kill: "
          f"{len(got) - len(set(got))} duplicates")
    last = a.records()[-1]["kafka_in"]
    print(f"A's final stats: rebalances {last['rebalances'] >= 2}, uncommitted at exit "
          f"{last['uncommitted']}, commit failures {last['commit_failures']}")
sys.exit(rc)
