#!/usr/bin/env python3
"""
tests/e2e/run_kafka_backpressure/drive.py -- a full spool makes the inputs
wait; nothing is dropped; stats records go on; SIGTERM still stops canh.

The brokers are down and the spool is capped at 1 MiB (about 700 alerts),
with a small batch pool. 5,000 failed root logins are sent, each followed by
a 4 KB line that raises no alert, so that the bytes outgrow the sockets'
buffers. The spool fills (canh logs it), stays within its cap, and the
sender blocks: canh has stopped reading; its stats records still come
every second and show the wait. When the brokers come back, every
alert arrives, once, and the sender finishes.

Then the brokers go down again and more is sent until the spool is full
and the sender blocks; SIGTERM must still stop canh (the cap gives way to
the stop) with every accepted event's alert spooled.
"""
import glob, os, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line, wait_until
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
N = 5000
with MockKafka(build, topics=(("alerts", 3),)) as k:
    d, port = kafka_alerts.daemon(build, out, root, k, """
    spool:
      max_size: 1MiB""", workers=1, extra="""limits:
  batch_lines: 16
  batches: 2
""")
    k.down()
    d.start()
    conn, = d.connect(port)
    expected = list(range(1, N + 1))
    filler = b"<38>Nov 23 10:00:00 filler app: " + b"x" * 4000 + b"\n"
    data = b"".join(sshd_line(i, True).encode() + b"\n" + filler for i in expected)
    sender = threading.Thread(target=conn.sendall, args=(data,), daemon=True)
    sender.start()
    spool = os.path.join(out, "state", "spool")
    wait_until("canh to say the spool is full", lambda: d.log_count("the spool is full"), 60)
    time.sleep(2)
    size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(spool, "seg-*")))
    print(f"brokers down: spool files {size <= (1 << 20)} within the 1 MiB cap; "
          f"the sender is blocked (canh stopped reading): {sender.is_alive()}")
    n0 = len(d.records())
    wait_until("a stats record while the inputs wait", lambda: len(d.records()) > n0 + 1, 10)
    r = d.records()[-1]
    print(f"stats records go on meanwhile: writing alerts waits (kafka.spool_full_waits > 0: "
          f"{r['kafka']['spool_full_waits'] > 0}), events in {r['events'] < N} below what was sent")
    k.up()
    wait_messages(k.bootstrap, "alerts", N, timeout=120)
    sender.join(60)
    msgs = consume(k.bootstrap, "alerts")
    seqs, bad, _ = kafka_alerts.seqs(msgs)
    missing, dup = kafka_alerts.report(expected, seqs)
    print(f"brokers back: {len(msgs)} messages for {N} alerts: missing {missing}, "
          f"duplicated {dup}; the sender finished: {not sender.is_alive()}")

    k.down()
    more = b"".join(sshd_line(i, True).encode() + b"\n" + filler for i in range(N + 1, 2 * N + 1))
    sender = threading.Thread(target=conn.sendall, args=(more,), daemon=True)
    sender.start()
    time.sleep(5)
    blocked = sender.is_alive()
    t0 = time.time()
    rc = d.stop(timeout=60)
    last = d.records()[-1]
    print(f"SIGTERM with the spool full and the sender blocked ({blocked}): exit {rc} within "
          f"60 s; every accepted alert spooled: {last['kafka']['spooled'] == last['alerts']}")
sys.exit(rc)
