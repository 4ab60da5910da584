#!/usr/bin/env python3
"""bench/et_open_load.py -- how much of a Suricata rule set canh loads.

Runs `canh rules check` on a folder of .rules files (default: ET Open in
../shared/corpus/rules/et-open) and prints the rules loaded and refused,
the load rate, and the refusals grouped by reason (sids and numbers folded,
so "unsupported keyword byte_test" is one line whatever the rule).

    python3 bench/et_open_load.py [RULES_DIR] [--canh build/canh] [--top N]
                                   [--min-rate 0.80]

Exit status 0, or 1 when the rate is under --min-rate. Needs a built canh.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules", nargs="?",
                    default=os.path.join(ROOT, "..", "shared", "corpus", "rules", "et-open"))
    ap.add_argument("--canh", default=os.path.join(ROOT, "build", "canh"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--min-rate", type=float, default=0.0)
    a = ap.parse_args()
    if not os.path.isdir(a.rules):
        sys.exit(f"et_open_load: no rules folder at {a.rules}")
    if not os.access(a.canh, os.X_OK):
        sys.exit(f"et_open_load: no canh at {a.canh}; run make first")
    p = subprocess.run([a.canh, "rules", "check", a.rules], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"et_open_load: canh rules check failed ({p.returncode}): {p.stderr.strip()}")
    m = re.search(r"^(\d+) network rules loaded, (\d+) refused$", p.stdout, re.M)
    if not m:
        sys.exit("et_open_load: canh found no network rules there")
    loaded, refused = int(m.group(1)), int(m.group(2))
    reasons = collections.Counter()
    # "FILE:LINE: sid:N: REASON"
    for line in p.stdout.splitlines():
        r = re.match(r"^.+?:\d+: (sid:\S+|-): (.*)$", line)
        if not r:
            continue
        reason = re.sub(r'"[^"]*"', '".."', r.group(2))
        reason = re.sub(r"\b\d+\b", "N", reason)
        reasons[reason] += 1
    total = loaded + refused
    rate = loaded / total if total else 0.0
    print(f"{a.rules}: {total} rules, {loaded} loaded, {refused} refused ({100 * rate:.1f}% load)")
    print(f"top refusal reasons:")
    for reason, n in reasons.most_common(a.top):
        print(f"  {n:6d}  {reason}")
    return 0 if rate >= a.min_rate else 1


if __name__ == "__main__":
    sys.exit(main())
