"""
tests/e2e/kafka_alerts.py -- what the Kafka e2e drivers share.

daemon(...) makes the canh they all run: a TCP input on loopback and the
Kafka output to topic "alerts" of the mock cluster (lz4: the mock keeps
only about 5 MB per partition), plus the driver's own kafka keys.
seqs(msgs) turns messages of the alerts topic (kafka.consume) into the
sequence numbers of the "SSH Failed Login as root" alerts they carry (the
port of each test line is its number) and checks each message is an alert
keyed by its host and one an ECS index accepts (ecs_check.py; a message
that is not counts as "not JSON"); order(msgs) says whether each host's
alerts came in the order sent. The Kafka drivers share these.
"""
import json
import ecs_check
from daemon import Daemon, ROOT_SSH_RULE, free_port


def daemon(build, out, root, k, kafka="", **kw):
    """(Daemon, its TCP port); `kafka`: more lines under outputs.kafka."""
    port = free_port()
    d = Daemon(build, out, root, f"""  - type: tcp
    name: test-tcp
    listen: 127.0.0.1:{port}""", alerts_file=False, outputs=f"""  kafka:
    brokers: {k.bootstrap}
    topic: alerts
    properties:
      compression.type: lz4{kafka}""", **kw)
    return d, port


def seqs(msgs):
    """(list of sequence numbers, messages that are not JSON alerts an ECS index
    accepts, wrong keys)"""
    out, bad, wrong_key = [], 0, 0
    for m in msgs:
        try:
            a = json.loads(m["value"])
        except (TypeError, ValueError):
            bad += 1
            continue
        problems = ecs_check.problems(a)
        if problems:
            if not bad:
                print(f"an alert an ECS index refuses: {'; '.join(problems)}")
            bad += 1
            continue
        if a.get("rule", {}).get("id") != ROOT_SSH_RULE:
            continue
        out.append(a["source"]["port"])
        wrong_key += m["key"] != a["host"]["name"]
    return out, bad, wrong_key


def order(msgs):
    """(hosts seen in more than one partition, every host's alerts in the order sent)"""
    parts, last, ok = {}, {}, True
    for m in sorted(msgs, key=lambda m: (m["partition"], m["offset"])):
        a = json.loads(m["value"])
        host, seq = a["host"]["name"], a["source"]["port"]
        parts.setdefault(host, set()).add(m["partition"])
        ok &= seq > last.get(host, 0)
        last[host] = seq
    return sum(len(p) > 1 for p in parts.values()), ok


def report(expected, got):
    missing = set(expected) - set(got)
    return len(missing), len(got) - len(set(got))
