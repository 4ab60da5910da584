#!/usr/bin/env python3
"""Reads canh explain --json on stdin; fails unless every line is one JSON
object of the documented shape; prints what it found, one fact a line, for
the expect file's stdout_has checks."""
import json, sys

n = 0
for raw in sys.stdin.buffer:
    n += 1
    ev = json.loads(raw.decode("utf-8"))          # one object per line, valid UTF-8
    assert isinstance(ev, dict) and ev["event"] == n, ev
    assert isinstance(ev["original"], str) and isinstance(ev["datasets"], list)
    print(f"event {n} datasets {' '.join(ev['datasets'])}")
    for f in ev["fields"]:
        print(f"event {n} field {f['name']} = {f['value']}")
    for r in ev["rules"]:
        state = "fired" if r["fired"] else "not-fired"
        print(f"event {n} {state} {r['id']} asked={str(r['asked']).lower()} seen={str(r['seen']).lower()}")
        if not r["seen"]:
            continue
        print(f"event {n} {r['id']} agrees={str(r['agrees']).lower()} why: {r.get('why')}")
        for s in r["selections"]:
            for t in s["tests"]:
                print(f"event {n} {r['id']} {s['name']}={str(s['result']).lower()} "
                      f"{t['rule_field']}: {t['rule_value']} -> {str(t['result']).lower()}"
                      + (f" {t['field']} = {t['value']}" if "field" in t else f" ({t.get('why')})"))
print(f"{n} events")
