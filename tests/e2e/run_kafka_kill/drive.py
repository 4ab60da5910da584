#!/usr/bin/env python3
"""
tests/e2e/run_kafka_kill/drive.py -- brokers down for longer than
message.timeout.ms, canh killed (SIGKILL) during the outage, restarted once
the brokers are back.

500 alerts go while the brokers are up. Then the brokers go down and 2,500
more are sent; with outputs.kafka.message_timeout at 2 s, librdkafka gives
up those in its hands (the stats record shows the failures) and canh keeps
them all in its spool (after a failure it hands librdkafka only a few
hundred at a time until deliveries succeed again: sinks/kafka.c). canh is killed with SIGKILL, the brokers come back, canh starts
again on the same spool: every alert must arrive. A duplicate is allowed
only where Kafka could not say whether a message was written, and then it
must have been counted (kafka.possibly_duplicated).
"""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line, wait_until
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
FIRST, LINES = 1000, 6000
with MockKafka(build, topics=(("alerts", 3),)) as k:
    d, port = kafka_alerts.daemon(build, out, root, k, """
    message_timeout: 2s""")
    d.start()
    conn, = d.connect(port)
    expected = set(range(2, LINES + 1, 2))
    lines = [sshd_line(i, i in expected).encode() + b"\n" for i in range(1, LINES + 1)]
    conn.sendall(b"".join(lines[:FIRST]))
    wait_messages(k.bootstrap, "alerts", FIRST // 2, timeout=60)
    k.down()
    conn.sendall(b"".join(lines[FIRST:]))

    def given_up():
        recs = d.records()
        kc = recs[-1]["kafka"] if recs else None
        return kc and kc["spooled"] == len(expected) and kc["failed"] > 0 and \
            kc["waiting"] == len(expected) - kc["delivered"] and kc["waiting"] > 0
    wait_until("librdkafka to give the alerts up (kafka.failed in the stats)", given_up, 60)
    before = d.records()[-1]["kafka"]
    d.kill()
    d.log.close()
    k.up()
    d.start()
    wait_messages(k.bootstrap, "alerts", len(expected), timeout=90)
    time.sleep(1)
    conn.close()
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")

seqs, bad, wrong_key = kafka_alerts.seqs(msgs)
missing, dup = kafka_alerts.report(expected, seqs)
counted = before["possibly_duplicated"] + d.records()[-1]["kafka"]["possibly_duplicated"]
print(f"killed during the outage with {before['waiting']} alerts waiting after "
      f"{before['failed']} failed deliveries")
print(f"after the restart: {len(msgs)} messages for {len(expected)} alerts: missing {missing}, "
      f"not JSON {bad}; duplicates only where counted: {dup <= counted} ({dup} duplicated, "
      f"{counted} counted as possible)")
last = d.records()[-1]["kafka"]
print(f"restart stats: replayed from the spool {last['replayed_at_start'] > 0}, waiting "
      f"{last['waiting']}")
sys.exit(rc)
