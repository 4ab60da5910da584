#!/usr/bin/env python3
"""Writes N audit record groups of 6 lines each (2,400 lines: batches of 512
lines, or canh scan's chunks of 96 KiB, must be cut between groups, never
inside one). The groups differ in length, so that chunk ends fall at
every record of a group in turn."""
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    for k in range(n):
        s = 5000 + k
        st = f"msg=audit(1700000000.{k % 1000:03d}:{s}):"
        f.write(f"type=SYSCALL {st} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=1 pid={100 + k} auid=0 uid=0 gid=0 euid=0 comm=\"rm\" exe=\"/usr/bin/rm\" key=(null)\n")
        f.write(f"type=EXECVE {st} argc=3 a0=\"rm\" a1=\"-f\" a2=\"/var/log/case{k}{'x' * (k * 7 % 97)}.log\"\n")
        f.write(f"type=CWD {st} cwd=\"/root\"\n")
        f.write(f"type=PATH {st} item=0 name=\"/usr/bin/rm\" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n")
        f.write(f"type=PATH {st} item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=2 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n")
        f.write(f"type=PROCTITLE {st} proctitle=726D002D66\n")
