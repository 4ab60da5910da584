#!/usr/bin/env python3
"""Swaps the cache files: each valid file's bytes are copied over the next
one's (in name order, the last over the first), so every file name holds a
whole, undamaged database compiled for other patterns -- what a careless
copy or an attacker who can write the folder would leave."""
import glob, sys
paths = sorted(glob.glob(sys.argv[1] + "/*.hsdb"))
if len(paths) < 2:
    sys.exit(f"want at least two cache files in {sys.argv[1]}, found {len(paths)}")
data = [open(p, "rb").read() for p in paths]
for i, p in enumerate(paths):
    with open(p, "wb") as f:
        f.write(data[i - 1])
print(f"swapped {len(paths)} cache files")
