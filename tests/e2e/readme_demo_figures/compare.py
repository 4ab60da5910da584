#!/usr/bin/env python3
"""
tests/e2e/readme_demo_figures/compare.py -- the README's demo figures
against what the demo's scan prints now.

README.md shows the summary `make demo` prints on stderr and the counts it
writes (`--stats`). This compares them with a scan of the same samples:
every summary line of the README (times aside; "  ..." elides lines; the
Kafka line needs the demo's broker) must be printed, in that order, and
every count shown in the JSON block must equal the stats file's. Prints
one line per difference and "README demo figures: N differences".
"""
import json, re, sys

readme, summary, stats = sys.argv[1:4]
text = open(readme, encoding="utf-8").read()
out = open(summary, encoding="utf-8").read().splitlines()
st = json.load(open(stats))
diffs = []
times = lambda l: re.sub(r"\d+\.\d+ s\b", "T s", l)

m = re.search(r"The summary on stderr \(this is `make demo`.*?\n```\n(.*?)```", text, re.S)
if not m:
    sys.exit("README.md: no demo summary block")
at = 0
got = [times(l) for l in out]
for line in m.group(1).splitlines():
    if line.strip() == "..." or line.startswith("canh: kafka:"):
        continue
    want = times(line)
    try:
        at = got.index(want, at) + 1
    except ValueError:
        diffs.append(f"summary line not printed (in this order): {line!r}")

m = re.search(r"The counts of `make demo`.*?\n```json\n(.*?)```", text, re.S)
if not m:
    sys.exit("README.md: no demo counts block")
timing = {"seconds", "input", "workers"}
for key, val in re.findall(r'"([^"]+)":("[^"]*"|\d+(?:\.\d+)?)', m.group(1)):
    if key in timing or key.startswith("<"):
        continue
    for where in (st, st.get("by_level", {}), st.get("by_host", {}), st.get("by_rule", {}),
                  st.get("suppressed", {}), st.get("output", {})):
        if key in where:
            have = where[key]
            break
    else:
        diffs.append(f"counts: {key} is not in the stats file")
        continue
    want = json.loads(val)
    if have != want:
        diffs.append(f"counts: {key}: README {want}, the scan {have}")
for d in diffs:
    print(d)
print(f"README demo figures: {len(diffs)} differences")
