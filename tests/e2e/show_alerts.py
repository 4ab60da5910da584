#!/usr/bin/env python3
"""tests/e2e/show_alerts.py -- prints a few alerts of each rule from an
alerts file in a readable form (used by `make demo`)."""
import collections, json, sys

by_rule = collections.OrderedDict()
for line in open(sys.argv[1], encoding="utf-8"):
    a = json.loads(line)
    by_rule.setdefault(a["rule"]["id"], []).append(a)
order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
for rid, alerts in sorted(by_rule.items(), key=lambda kv: (order.get(kv[1][0]["rule"]["level"], 9), -len(kv[1]))):
    r = alerts[0]["rule"]
    print(f"[{r['level']:>13}] {len(alerts):6d} x {r['name']}")
    for a in alerts[:2]:
        host = a.get("host", {}).get("name", "-")
        src = a.get("source", {}).get("ip", "")
        orig = a["event"]["original"]
        print(f"                  {a['@timestamp']} {host} {src} | {orig[:110]}")
