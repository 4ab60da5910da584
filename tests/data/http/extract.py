#!/usr/bin/env python3
"""tests/data/http/extract.py -- the TCP payload of each direction of the
first TCP flow (or the flow on PORT) in a pcap, in sequence order, as
<out>.c2s and <out>.s2c. Ethernet / Linux SLL / raw IPv4 and IPv6 only; no
reassembly beyond ordering by sequence number and dropping repeats. Used
once to make the test data here from suricata-verify captures (see README).

usage: extract.py CAPTURE OUT [PORT]"""
import struct, sys

def packets(path):
    d = open(path, 'rb').read()
    magic = d[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        raise SystemExit('not a pcap (pcapng is not read here)')
    link = struct.unpack(e + 'I', d[20:24])[0]
    i = 24
    while i + 16 <= len(d):
        _, _, incl, _ = struct.unpack(e + 'IIII', d[i:i + 16])
        yield link, d[i + 16:i + 16 + incl]
        i += 16 + incl

def l3(link, f):
    if link == 1:
        t = struct.unpack('>H', f[12:14])[0]; o = 14
        while t in (0x8100, 0x88a8):
            t = struct.unpack('>H', f[o + 2:o + 4])[0]; o += 4
        return f[o:]
    if link == 113:
        return f[16:]
    if link == 0:
        return f[4:]
    if link in (101, 12, 228, 229):
        return f
    return b''

def tcp(ip):
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4:
        hl = (ip[0] & 15) * 4; tl = struct.unpack('>H', ip[2:4])[0]
        if ip[9] != 6: return None
        src, dst, seg = ip[12:16], ip[16:20], ip[hl:tl]
    elif v == 6:
        if ip[6] != 6: return None
        pl = struct.unpack('>H', ip[4:6])[0]
        src, dst, seg = ip[8:24], ip[24:40], ip[40:40 + pl]
    else:
        return None
    sp, dp, seq = struct.unpack('>HHI', seg[:8])
    off = (seg[12] >> 4) * 4
    return (src, sp), (dst, dp), seq, seg[13], seg[off:]

def main():
    cap, out = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else None
    client = server = None
    segs = {0: {}, 1: {}}
    for link, f in packets(cap):
        t = tcp(l3(link, f))
        if not t: continue
        a, b, seq, flags, data = t
        if client is None:
            if port is not None and port not in (a[1], b[1]): continue
            client, server = (a, b) if (flags & 0x12) != 0x12 and (port is None or b[1] == port) else (b, a)
        if {a, b} != {client, server}: continue
        dr = 0 if a == client else 1
        if data and seq not in segs[dr]:
            segs[dr][seq] = data
    for dr, suf in ((0, '.c2s'), (1, '.s2c')):
        s = segs[dr]
        buf = b''
        if s:
            first = min(s)
            # order by sequence (wrap-around ignored: short test captures)
            for q in sorted(s):
                if q - first > len(buf): break
                buf += s[q][len(buf) - (q - first):] if q - first < len(buf) else s[q]
        open(out + suf, 'wb').write(buf)

main()
