#!/usr/bin/env python3
"""
tests/e2e/run_kafka_audit_keys/drive.py -- audit records of two hosts,
interleaved record by record in one Kafka partition, each message keyed
by its host.

canh reads the topic as a Kafka input. Each message key is one stream, so
each host's records of one event stay together and make one event: every
group gives the one alert whose rule needs the SYSCALL and EXECVE records
together. Offsets are committed up to what is written, held records
included: at the stop nothing is left uncommitted.
"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, audit_group
from kafka import MockKafka, produce

build, out, root = sys.argv[1:4]
GROUPS = 40   # per host
lines, keys = [], []
for k in range(GROUPS):
    ga, gb = audit_group(1000 + k, k), audit_group(5000 + k, k)
    for i in range(6):   # the two hosts in turn, record by record
        lines += [ga[i], gb[i]]
        keys += ["host-a", "host-b"]

with MockKafka(build, topics=(("raw", 1),)) as k:
    rules = os.path.join(root, "tests/e2e/batches_keep_audit_groups/rules")
    d = Daemon(build, out, root, f"""  - type: kafka
    name: raw
    brokers: {k.bootstrap}
    topics: raw
    group: canh-audit
    start_at: beginning""", workers=2, rules=[rules])
    produce(k.bootstrap, "raw", lines, keys=keys)
    d.start()
    d.wait_alerts(2 * GROUPS, timeout=60)
    d.wait_quiet(still=1.0)
    rc = d.stop()

final = d.records()[-1]
names = [a["process"]["command_line"].split()[-1] for a in d.alerts()]
print(f"alerts {len(names)}, distinct {len(set(names))}, events {final['events']}, "
      f"messages {final['kafka_in']['messages']}")
print(f"uncommitted at exit {final['kafka_in']['uncommitted']}, "
      f"audit lines held {final['batches']['audit_lines_held']}")
sys.exit(rc)
