#!/usr/bin/env python3
"""
tests/e2e/run_kafka_spool_corrupt/drive.py -- a spool file damaged by hand.

With the brokers down, canh spools 100 alerts and is stopped (SIGTERM,
stop_timeout 1 s): the alerts stay in the spool. One byte in the middle of
the 50th record is flipped. The brokers come back and canh starts again:
the damaged record is skipped and counted (kafka.spool_corrupt), the other
99 arrive, and nothing unreadable is sent.
"""
import glob, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import sshd_line, wait_until
from kafka import MockKafka, consume, wait_messages
import kafka_alerts

build, out, root = sys.argv[1:4]
LINES = 200
with MockKafka(build, topics=(("alerts", 1),)) as k:
    d, port = kafka_alerts.daemon(build, out, root, k, """
    stop_timeout: 1s""")
    k.down()
    d.start()
    conn, = d.connect(port)
    expected = list(range(2, LINES + 1, 2))
    conn.sendall(b"".join(sshd_line(i, i in expected).encode() + b"\n"
                          for i in range(1, LINES + 1)))
    conn.close()
    wait_until("100 alerts in the spool",
               lambda: d.records() and d.records()[-1]["kafka"]["spooled"] == 100, 30)
    rc1 = d.stop()

    segs = sorted(glob.glob(os.path.join(out, "state", "spool", "seg-*.spool")))
    data = bytearray(open(segs[0], "rb").read())
    starts = [i for i in range(len(data)) if data[i:i + 4] == b"CSP1"]
    victim = starts[49]
    data[(victim + starts[50]) // 2] ^= 0x55
    open(segs[0], "wb").write(data)
    print(f"first run: exit {rc1}; {len(starts)} records in {len(segs)} spool file; "
          f"flipped a byte of record 50")

    k.up()
    d.start()
    wait_messages(k.bootstrap, "alerts", 99, timeout=60)
    time.sleep(1)
    rc = d.stop()
    msgs = consume(k.bootstrap, "alerts")

seqs, bad, _ = kafka_alerts.seqs(msgs)
lost = sorted(set(expected) - set(seqs))
kc = d.records()[-1]["kafka"]
print(f"second run: {len(msgs)} messages, not JSON {bad}, duplicated {len(seqs) - len(set(seqs))}; "
      f"the one missing is the 50th alert: {lost == [expected[49]]}")
print(f"stats: spool_corrupt {kc['spool_corrupt']}, delivered {kc['delivered']}, waiting "
      f"{kc['waiting']}")
sys.exit(rc)
