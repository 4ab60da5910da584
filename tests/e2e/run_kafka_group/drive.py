#!/usr/bin/env python3
"""
tests/e2e/run_kafka_group/drive.py -- two canh processes in one consumer
group on a 4-partition topic of raw log lines.

Phase 1, both up: 30,000 lines are produced and canh A reads them alone;
canh B joins the group (A gives partitions up only after committing what
it processed), then 30,000 more lines are produced. Every failed root
login among the 60,000 must have exactly one alert, in A's or B's alerts
file.

Phase 2, one killed: 40,000 more lines are produced in steps; B is killed
(SIGKILL) midway; A takes B's partitions once the group notices (session
timeout 6 s) and reads again from B's last commit. Every expected alert
must be there at least once; the duplicates are counted in the output, and
each has the same event.id from both members (named apart in canh.yml: a
Kafka message's id is the topic, partition and offset, not who read it),
so the SOC can drop them.
"""
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, sshd_line, wait_until
from kafka import MockKafka, produce

build, out, root = sys.argv[1:4]


def lines(a, b):
    return [sshd_line(i, i % 10 == 0) for i in range(a, b)]


def keys(a, b):
    return [f"k{i % 1000}" for i in range(a, b)]   # spread evenly (the mock keeps 5 MB a partition)


def seqs(d, ids=None):
    got = []
    if os.path.exists(d.alerts_path):
        for l in open(d.alerts_path, "rb"):
            try:
                a = json.loads(l)
            except ValueError:
                continue   # a line cut by SIGKILL
            if a["rule"]["id"] == ROOT_SSH_RULE:
                got.append(a["source"]["port"])
                if ids is not None:
                    ids.setdefault(a["source"]["port"], set()).add(
                        (a["event"]["id"], a["canh"]["kafka"]["topic"],
                         a["observer"]["name"]))
    return got


with MockKafka(build, topics=(("raw", 4),)) as k:
    def member(name):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        return Daemon(build, os.path.join(out, name), root, f"""  - type: kafka
    name: raw
    brokers: {k.bootstrap}
    topics: raw
    group: canh-test
    start_at: beginning
    properties:
      session.timeout.ms: 6000
      heartbeat.interval.ms: 500""", workers=1, extra=f"name: canh-{name}\n")

    a, b = member("a"), member("b")
    produce(k.bootstrap, "raw", lines(1, 30001), keys=keys(1, 30001))
    a.start()
    wait_until("A to process the first 30,000 lines", lambda: len(seqs(a)) >= 3000, 60)

    def all_committed(d, n):
        r = d.records()
        return r and r[-1]["kafka_in"]["messages"] == n and r[-1]["kafka_in"]["uncommitted"] == 0
    # librdkafka's mock refuses commits while the group rebalances (a real
    # broker takes the leaving member's last commit), so B joins once A's
    # periodic commit has caught up
    wait_until("A to commit what it processed", lambda: all_committed(a, 30000), 30)
    b.start()
    wait_until("B to be given partitions", lambda: b.log_count("partitions assigned") >= 1, 60)
    produce(k.bootstrap, "raw", lines(30001, 60001), keys=keys(30001, 60001))
    expected1 = set(range(10, 60001, 10))
    wait_until("every alert of phase 1",
               lambda: expected1 <= set(seqs(a)) | set(seqs(b)), 60)
    time.sleep(1)
    both = seqs(a) + seqs(b)
    print(f"phase 1, both up: {len(expected1)} expected alerts; A {len(seqs(a))}, "
          f"B {len(seqs(b))}; missing {len(expected1 - set(both))}, "
          f"duplicated {len(both) - len(set(both))}")
    print(f"both members had partitions: {len(seqs(a)) > 3000 and len(seqs(b)) > 0}")

    expected2 = set(range(60010, 100001, 10))
    for n, start in enumerate(range(60001, 100001, 5000)):
        produce(k.bootstrap, "raw", lines(start, start + 5000), keys=keys(start, start + 5000))
        if n == 3:
            b.kill()
        time.sleep(0.3)
    wait_until("every alert of phase 2 (A takes B's partitions after the session timeout)",
               lambda: expected2 <= set(seqs(a)) | set(seqs(b)), 90)
    rc = a.stop()
    ids = {}
    got = [s for s in seqs(a, ids) + seqs(b, ids) if s > 60000]
    twice = [s for s in set(got) if got.count(s) > 1] if len(got) - len(set(got)) < 5000 else []
    same = sum(len({i for i, _, _ in ids[s]}) == 1 for s in twice)
    print(f"every duplicate has one event.id from both members: {same == len(twice)} "
          f"({same} of {len(twice)}; read by both members: "
          f"{sum(len({o for _, _, o in ids[s]}) == 2 for s in twice)})")
    print(f"alerts name their topic: {all(t == 'raw' for v in ids.values() for _, t, _ in v)}")
    print(f"phase 2, B killed midway: {len(expected2)} expected alerts; missing "
          f"{len(expected2 - set(got))} (at least once); read again after the kill: "
          f"{len(got) - len(set(got))} duplicates")
    last = a.records()[-1]["kafka_in"]
    print(f"A's final stats: rebalances {last['rebalances'] >= 2}, uncommitted at exit "
          f"{last['uncommitted']}, commit failures {last['commit_failures']}")
sys.exit(rc)
