#!/usr/bin/env python3
"""
tests/e2e/run_kafka/drive.py -- alerts to Kafka, broker up.

Starts the mock Kafka cluster (build/kafka-mock: librdkafka's mock brokers
on loopback, the real protocol), runs canh with a TCP input and the Kafka
output (alerts topic of 3 partitions, stats topic), sends 20,000
sequence-numbered sshd lines of which 10,000 are failed root logins, and
reads the alerts topic back with kcat, a separate consumer. Every alert must
be there once, as valid JSON keyed by its host; one host's alerts sit in one
partition, in the order sent.
"""
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
LINES = 20000
with MockKafka(build, topics=(("alerts", 3), ("stats", 1))) as k:
    d, port = kafka_alerts.daemon(build, out, root, k, """
    stats_topic: stats""")
    d.start()
    conn, = d.connect(port)
    expected = set(range(2, LINES + 1, 2))
    conn.sendall(b"".join(sshd_line(i, i in expected).encode() + b"\n"
                          for i in range(1, LINES + 1)))
    conn.close()
    msgs = wait_messages(k.bootstrap, "alerts", len(expected), timeout=60)
    time.sleep(1.5)   # a stats record reaches the stats topic
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")
    stats_msgs = consume(k.bootstrap, "stats")

seqs, bad, wrong_key = kafka_alerts.seqs(msgs)
missing, dup = kafka_alerts.report(expected, seqs)
print(f"sent {LINES} lines ({len(expected)} failed root logins); alerts topic has "
      f"{len(msgs)} messages: missing {missing}, duplicated {dup}, not JSON {bad}, "
      f"key not the host {wrong_key}")
split, order_ok = kafka_alerts.order(msgs)
print(f"hosts in more than one partition: {split}; order per host kept: {order_ok}")
last = d.records()[-1]
kc = last["kafka"]
print(f"final stats: spooled {kc['spooled']}, delivered {kc['delivered']}, waiting "
      f"{kc['waiting']}, failed {kc['failed']}, in_flight {kc['in_flight']}")
st = [json.loads(m["value"]) for m in stats_msgs]
print(f"stats topic: {'records with kafka counts' if st and all('kafka' in s for s in st) else 'no records'}")
sys.exit(rc)
