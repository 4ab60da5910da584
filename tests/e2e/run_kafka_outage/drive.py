#!/usr/bin/env python3
"""
tests/e2e/run_kafka_outage/drive.py -- every Kafka broker down for 30 s in
the middle of 10,000 alerts.

Half the alerts go while the brokers are up; then all brokers go down, the
other half is sent and waits (in the spool and librdkafka) for 30 s; the
brokers come back. All 10,000 must arrive, none twice, one host's alerts in
order, and canh must have applied no backpressure (the spool is far from
full) and lost nothing.
"""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
LINES, DOWN_S = 20000, 30
with MockKafka(build, topics=(("alerts", 3),)) as k:
    d, port = kafka_alerts.daemon(build, out, root, k)
    d.start()
    conn, = d.connect(port)
    expected = set(range(2, LINES + 1, 2))
    lines = [sshd_line(i, i in expected).encode() + b"\n" for i in range(1, LINES + 1)]
    conn.sendall(b"".join(lines[:LINES // 2]))
    wait_messages(k.bootstrap, "alerts", len(expected) // 2, timeout=60)
    k.down()
    t0 = time.time()
    conn.sendall(b"".join(lines[LINES // 2:]))
    time.sleep(max(0, DOWN_S - (time.time() - t0)))
    recs = d.records()
    waiting = recs[-1]["kafka"]["waiting"] if recs else -1
    k.up()
    wait_messages(k.bootstrap, "alerts", len(expected), timeout=90)
    conn.close()
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")

seqs, bad, wrong_key = kafka_alerts.seqs(msgs)
missing, dup = kafka_alerts.report(expected, seqs)
split, order_ok = kafka_alerts.order(msgs)
print(f"brokers down {DOWN_S} s mid-stream; alerts waiting at the end of the outage: "
      f"{waiting}")
print(f"alerts topic: {len(msgs)} messages for {len(expected)} alerts: missing {missing}, "
      f"duplicated {dup}, not JSON {bad}; order per host kept: {order_ok}")
kc = d.records()[-1]["kafka"]
print(f"final stats: delivered {kc['delivered']}, waiting {kc['waiting']}, "
      f"spool full waits {kc['spool_full_waits']}")
sys.exit(rc)
