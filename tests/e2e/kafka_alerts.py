"""
tests/e2e/kafka_alerts.py -- reading the alerts of the Kafka e2e drivers back.

seqs(msgs) turns messages of the alerts topic (kafka.consume) into the
sequence numbers of the "SSH Failed Login as root" alerts they carry (the
port of each test line is its number) and checks each message is an alert
keyed by its host; order(msgs) says whether each host's alerts came in the
order sent. The Kafka drivers share these.
"""
import json
from daemon import ROOT_SSH_RULE


def seqs(msgs):
    """(list of sequence numbers, messages that are not JSON alerts, wrong keys)"""
    out, bad, wrong_key = [], 0, 0
    for m in msgs:
        try:
            a = json.loads(m["value"])
        except (TypeError, ValueError):
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
