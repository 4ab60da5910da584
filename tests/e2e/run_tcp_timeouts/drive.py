#!/usr/bin/env python3
"""
tests/e2e/run_tcp_timeouts/drive.py -- idle_timeout and partial_frame_timeout
on a tcp input (both 1 s here).

Senders that keep a place without sending, in every way: 5 connect and say
nothing; 5 send three whole lines and fall silent; 5 send two whole lines
and then half of a third (no line end); 5 send one octet-counted frame and
then a frame shorter than its count; one sends a message a byte every
0.3 s and never ends it (so it is never idle). canh must close every one of
them (each sees its connection end), keep every whole message (each
sender's attack lines give one alert each), never hand on a cut message
(each unfinished one is an attack too, and must raise no alert), and count
them: 10 closed idle, 11 unfinished messages cut.
"""
import os, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, ROOT_SSH_RULE, free_port, octet, sshd_line, wait_until

build, out, root = sys.argv[1:4]
port = free_port()
d = Daemon(build, out, root, f"""  - type: tcp
    name: senders
    listen: 127.0.0.1:{port}
    idle_timeout: 1s
    partial_frame_timeout: 1s""").start()

seq = 0
def line(attack):
    global seq
    seq += 1
    return sshd_line(seq, attack).encode()

conns, whole_attacks, cut_attacks = [], set(), set()
def connect():
    c = d.connect(port)[0]
    conns.append(c)
    return c

for _ in range(5):                      # silent
    connect()
for _ in range(5):                      # whole lines, then silence
    c = connect()
    ls = [line(False), line(True), line(False)]
    whole_attacks.add(seq - 1)
    c.sendall(b"".join(l + b"\n" for l in ls))
for _ in range(5):                      # whole lines, then half a line
    c = connect()
    ls = [line(True), line(False)]
    whole_attacks.add(seq - 1)
    half = line(True)
    cut_attacks.add(seq)
    c.sendall(b"".join(l + b"\n" for l in ls) + half)
for _ in range(5):                      # a whole frame, then a short one
    c = connect()
    whole = line(True)
    whole_attacks.add(seq)
    half = line(True)
    cut_attacks.add(seq)
    c.sendall(octet(whole) + octet(half)[:-10])
slow = connect()                        # one byte at a time, never a line end
slow_msg = line(True)
cut_attacks.add(seq)

closed = 0
for i in range(len(slow_msg)):          # at most 0.3 s x its length
    try:
        slow.sendall(slow_msg[i:i + 1])
    except OSError:
        break
    time.sleep(0.3)
    slow.setblocking(False)
    try:
        if slow.recv(1) == b"":
            break                       # canh closed it
    except BlockingIOError:
        pass
    except OSError:
        break
    finally:
        slow.setblocking(True)
for c in conns:                          # each must end, from canh's side
    c.settimeout(15)
    try:
        if c.recv(1) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
    c.close()
print(f"closed by canh: {closed} of {len(conns)}")
d.wait_alerts(len(whole_attacks))
rc = d.stop()
ports = [a["source"]["port"] for a in d.alerts(ROOT_SSH_RULE)]
print(f"whole attack lines {len(whole_attacks)}: alerts {len(set(ports) & whole_attacks)}; "
      f"from cut messages: {len(set(ports) & cut_attacks)}; all alerts {len(ports)}")
rec = d.records()[-1]
c = rec["inputs"]["senders"]["connections"]
print(f"final record: accepted {c['accepted']}, closed_idle {c['closed_idle']}, cut_partial "
      f"{c['cut_partial']}, evicted {c['evicted']}, open {c['open']}, events_in "
      f"{rec['inputs']['senders']['events_in']}")
sys.exit(rc)
