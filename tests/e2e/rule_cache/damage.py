#!/usr/bin/env python3
"""Damages every cache file: half are truncated, the others keep their size
with one byte flipped in the middle (which only the checksum can catch)."""
import glob, sys
for i, path in enumerate(sorted(glob.glob(sys.argv[1] + "/*.hsdb"))):
    with open(path, "r+b") as f:
        if i % 2:
            f.truncate(100)
        else:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x40
            f.seek(0)
            f.write(data)
