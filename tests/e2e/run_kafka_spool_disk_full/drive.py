#!/usr/bin/env python3
"""
tests/e2e/run_kafka_spool_disk_full/drive.py -- the Kafka spool on a disk
that fills up, the alerts file on a healthy one: each output fails on its
own, nothing is lost.

The driver runs in its own mount namespace (daemon.in_mount_namespace) and
puts the spool on a 2 MiB tmpfs (spool max_size 1 MiB, so delivered segments
are deleted as it goes); the alerts file, the stats file and canh's log are
on the case's own disk; the mock brokers are up throughout. 500 failed root
logins are sent and reach both outputs; then the tmpfs is filled to the
last byte and 3,000 more are sent. canh must say in its log why it cannot
spool, and its stats record must say the spool is failing and count as
spooled only what reached it. Then the filler is removed and 1,500 more are
sent: every one of the 5,000 alerts must be in the alerts file exactly once
and reach Kafka exactly once, and the log must say that spooling goes on
again.

Last, the tmpfs is filled again, 2,000 more are sent, and canh gets SIGTERM
while it cannot spool: it must stop (outputs.kafka.stop_timeout), and its
log and final stats record must say how many alerts were not spooled
(spooled + not spooled = alerts), while the alerts file on the healthy
disk has every alert.
"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from daemon import (Daemon, ROOT_SSH_RULE, fill_disk, free_port, in_mount_namespace,  # noqa: E402
                    send_attacks, small_disk, wait_until)
from kafka import MockKafka, consume, wait_messages  # noqa: E402
import kafka_alerts  # noqa: E402

in_mount_namespace()
build, out, root = sys.argv[1:4]
disk = os.path.join(out, "disk")
small_disk(disk, "2m")
N1, N2, N3 = 500, 3000, 1500
total = N1 + N2 + N3

with MockKafka(build, topics=(("alerts", 3),)) as k:
    port = free_port()
    d = Daemon(build, out, root, f"""  - type: tcp
    name: tcp-in
    listen: 127.0.0.1:{port}""", workers=2, outputs=f"""  kafka:
    brokers: {k.bootstrap}
    topic: alerts
    properties:
      compression.type: lz4
    spool:
      path: {disk}/spool
      max_size: 1MiB""", extra="""limits:
  batch_lines: 64
""").start()
    conn, = d.connect(port)

    def send(first, n):
        return send_attacks(conn, first, n)

    def file_seqs():
        return [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]

    send(1, N1).join(30)
    d.wait_alerts(N1)
    wait_messages(k.bootstrap, "alerts", N1, timeout=60)
    print(f"before: {N1} alerts in the file and in Kafka")

    filler = fill_disk(disk)
    t = send(N1 + 1, N2)
    wait_until("canh to log the failed spool write",
               lambda: d.log_count("No space left on device"), 30)
    n0 = len(d.records())
    wait_until("a stats record", lambda: len(d.records()) > n0 + 1, 15)
    r = d.records()[-1]
    kc = r["kafka"]
    print(f"spool disk full: the log says why: {d.log_count('cannot write') > 0}; the stats "
          f"record says the spool is failing: {kc.get('spool_state') == 'failing'} "
          f"({kc.get('spool_error')}), failed writes counted: "
          f"{kc.get('spool_failed_writes', 0) > 0}, spooled below the alerts sent: "
          f"{kc['spooled'] < N1 + N2}")

    os.remove(filler)
    t.join(60)
    send(N1 + N2 + 1, N3).join(60)
    try:
        wait_until(f"{total} alerts in the file", lambda: d.alert_count() >= total, 60)
        wait_messages(k.bootstrap, "alerts", total, timeout=60)
    except SystemExit as e:
        print(e)
    d.wait_quiet()
    seqs = file_seqs()
    print(f"alerts file: {len(seqs)} alerts for {total}: missing "
          f"{len(set(range(1, total + 1)) - set(seqs))}, duplicated {len(seqs) - len(set(seqs))}")
    msgs = consume(k.bootstrap, "alerts")
    kseqs, bad, wrong_key = kafka_alerts.seqs(msgs)
    missing, dup = kafka_alerts.report(range(1, total + 1), kseqs)
    print(f"alerts topic: {len(msgs)} messages for {total} alerts: missing {missing}, "
          f"duplicated {dup}, not JSON {bad}")
    print(f"the log says spooling goes on: {d.log_count('writing again') > 0}")
    n0 = len(d.records())
    wait_until("a stats record", lambda: len(d.records()) > n0 + 1, 15)
    kc = d.records()[-1]["kafka"]
    print(f"stats: spooled {kc['spooled']}, not spooled {kc.get('not_spooled')}, "
          f"delivered {kc['delivered']}, spool {kc.get('spool_state')}")

    # full again, and SIGTERM while the spool cannot be written
    filler = fill_disk(disk)
    n_log = d.log_count("No space left on device")
    t = send(total + 1, 2000)
    wait_until("canh to log the failed spool write",
               lambda: d.log_count("No space left on device") > n_log, 30)
    rc = d.stop(timeout=90)
    last = d.records()[-1]
    kc = last["kafka"]
    seqs = file_seqs()
    print(f"SIGTERM while the spool disk is full: exit {rc}; final record: spooled + not "
          f"spooled = alerts: {kc['spooled'] + kc.get('not_spooled', 0) == last['alerts']}, "
          f"not spooled > 0: {kc.get('not_spooled', 0) > 0}; the log says how many: "
          f"{d.log_count(str(kc.get('not_spooled')) + ' alerts not spooled') > 0}; alerts file "
          f"(healthy disk) has every alert: {len(seqs) == last['alerts'] == len(set(seqs))}")
sys.exit(0)
