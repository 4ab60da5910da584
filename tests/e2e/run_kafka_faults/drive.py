#!/usr/bin/env python3
"""
tests/e2e/run_kafka_faults/drive.py -- request errors and 2 s of latency.

With 2 s added to every broker's round trip and the next produce requests
answered with retriable errors (NOT_LEADER_FOR_PARTITION,
REQUEST_TIMED_OUT ...), canh sends 2,000 alerts. The idempotent producer
retries; nothing may be lost or duplicated, and every host's alerts must
stay in the order sent within their partition.
"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line, wait_until
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
LINES = 4000
with MockKafka(build, topics=(("alerts", 3),)) as k:
    d, port = kafka_alerts.daemon(build, out, root, k)
    d.start()
    conn, = d.connect(port)
    expected = set(range(2, LINES + 1, 2))
    lines = [sshd_line(i, i in expected).encode() + b"\n" for i in range(1, LINES + 1)]
    conn.sendall(b"".join(lines[:200]))       # the producer is connected and has its id
    wait_messages(k.bootstrap, "alerts", 100, timeout=60)
    k.rtt(2000)
    k.cmd("errors Produce 6 NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT "
          "NOT_ENOUGH_REPLICAS LEADER_NOT_AVAILABLE REQUEST_TIMED_OUT NOT_LEADER_FOR_PARTITION")
    for n in range(200, LINES, 400):          # in steps, so requests meet the errors
        conn.sendall(b"".join(lines[n:n + 400]))
    def delivered():
        recs = d.records()
        return recs and recs[-1]["kafka"]["delivered"] >= len(expected)
    wait_until("canh's delivery reports for every alert (kafka.delivered)", delivered, 120)
    k.rtt(0)   # kcat's own metadata requests would time out at 2 s a round trip
    conn.close()
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")

seqs, bad, wrong_key = kafka_alerts.seqs(msgs)
missing, dup = kafka_alerts.report(expected, seqs)
split, order_ok = kafka_alerts.order(msgs)
print(f"with 2 s latency and 6 request errors: {len(msgs)} messages for {len(expected)} "
      f"alerts: missing {missing}, duplicated {dup}; order per host kept: {order_ok}")
sys.exit(rc)
