#!/usr/bin/env python3
"""
bench/pcap_build.py -- the packet benchmark's capture, built from the corpus.

Reads every capture under the suricata-verify corpus (each distinct file
once, in path order) and writes one classic pcap (Ethernet, microsecond
stamps) holding at least --size bytes of frames: round 0 is the captures as they are, one
after the other in time; each further round k repeats them with every
address rewritten (the low 16 bits of each IPv4 address, the last 16 bits
of each IPv6 address, plus k * 0x0301 modulo 2^16), so the flows of each
round are new flows, to the same networks (RFC 1918 stays RFC 1918, the
/16 of every address is kept, so $HOME_NET and $EXTERNAL_NET match as in
the originals). Ports are left alone: rules look at them. The IPv4 header
checksum and the TCP/UDP/ICMPv6 checksums are updated incrementally
(RFC 1624), so the rewritten packets are as valid as the originals.
Timestamps never go back: each capture is shifted to start 1 ms after the
previous one ended, a packet stamped before its predecessor (there are some)
gets its predecessor's time, and an idle spell longer than 60 s within a
capture (some captures span years) is cut to 60 s.

Link types: Ethernet as is; BSD loopback (0), raw IP (101, 228, 229) and
Linux cooked (113) are given an Ethernet header; anything else is left out
(counted on stderr). Pure Python, deterministic: the same corpus gives the
same bytes.

Usage: pcap_build.py [--corpus DIR] [--size BYTES] [-o build/bench/net.pcap]
Runs once, offline; not a test.
"""
import argparse
import hashlib
import os
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus",
                                               "pcaps", "suricata-verify"))
ETH_SRC = b"\x02\x00\x00\x00\x00\x01"
ETH_DST = b"\x02\x00\x00\x00\x00\x02"
STEP = 0x0301
MAX_GAP = 60 * 1000000   # a capture's idle spells longer than this are cut to this


def read_pcap(path):
    """(linktype, [(ts_us, bytes)]) of a classic pcap, or None."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 24:
        return None
    magic = b[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e, nano = "<", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        e, nano = "<", True
    elif magic == b"\xa1\xb2\xc3\xd4":
        e, nano = ">", False
    elif magic == b"\xa1\xb2\x3c\x4d":
        e, nano = ">", True
    else:
        return None   # pcapng: none in the corpus today
    linktype = struct.unpack(e + "I", b[20:24])[0] & 0x0FFFFFFF
    hdr = struct.Struct(e + "IIII")
    pkts, off = [], 24
    while off + 16 <= len(b):
        sec, frac, caplen, _ = hdr.unpack_from(b, off)
        off += 16
        if caplen > len(b) - off:
            break   # truncated last record
        us = frac // 1000 if nano else frac
        pkts.append((sec * 1000000 + us, b[off:off + caplen]))
        off += caplen
    return linktype, pkts


def to_ethernet(linktype, data):
    """The frame with an Ethernet header, or None for a link type we skip."""
    if linktype == 1:
        return data
    if linktype == 0:          # BSD loopback: 4-byte address family, host order
        if len(data) < 4:
            return None
        fam = struct.unpack("<I", data[:4])[0]
        if fam > 0xFFFF:
            fam = struct.unpack(">I", data[:4])[0]
        payload = data[4:]
        et = {2: 0x0800, 24: 0x86DD, 28: 0x86DD, 30: 0x86DD, 10: 0x86DD}.get(fam)
    elif linktype in (101, 228, 229, 12, 14):
        payload = data
        if not payload:
            return None
        et = 0x0800 if payload[0] >> 4 == 4 else 0x86DD if payload[0] >> 4 == 6 else None
    elif linktype == 113:      # Linux cooked v1: 16-byte header, protocol last
        if len(data) < 16:
            return None
        et, payload = struct.unpack(">H", data[14:16])[0], data[16:]
    else:
        return None
    if et is None:
        return None
    return ETH_DST + ETH_SRC + struct.pack(">H", et) + payload


def csum_fix(cs, old, new):
    """RFC 1624 eqn 3: checksum CS after one 16-bit word goes OLD -> NEW."""
    s = (~cs & 0xFFFF) + (~old & 0xFFFF) + new
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def plan(frame):
    """Where a frame's rewritable words are: (address word offsets,
    checksum offsets [(offset, zero_means_none)]) or None."""
    off = 12
    et = struct.unpack_from(">H", frame, off)[0] if len(frame) >= 14 else 0
    off = 14
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:   # VLAN tags
        et = struct.unpack_from(">H", frame, off + 2)[0]
        off += 4
    if et == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        if ihl < 20 or len(frame) < off + ihl:
            return None
        words = [off + 14, off + 18]              # low halves of src, dst
        sums = [(off + 10, False)]                # IPv4 header checksum
        frag = struct.unpack_from(">H", frame, off + 6)[0] & 0x1FFF
        proto, l4 = frame[off + 9], off + ihl
        if frag == 0:
            if proto == 6 and len(frame) >= l4 + 18:
                sums.append((l4 + 16, False))
            elif proto == 17 and len(frame) >= l4 + 8:
                sums.append((l4 + 6, True))
        return words, sums
    if et == 0x86DD and len(frame) >= off + 40:
        words = [off + 8 + 14, off + 24 + 14]     # last words of src, dst
        nh, l4, sums = frame[off + 6], off + 40, []
        if nh == 6 and len(frame) >= l4 + 18:
            sums.append((l4 + 16, False))
        elif nh == 17 and len(frame) >= l4 + 8:
            sums.append((l4 + 6, True))
        elif nh == 58 and len(frame) >= l4 + 4:
            sums.append((l4 + 2, False))
        elif nh not in (59,):
            return None   # extension headers: not rewritten (checksum unknown)
        return words, sums
    return None


def rewrite(frame, where, k):
    if where is None or k == 0:
        return frame
    words, sums = where
    b = bytearray(frame)
    deltas = []
    for w in words:
        old = (b[w] << 8) | b[w + 1]
        new = (old + k * STEP) & 0xFFFF
        b[w], b[w + 1] = new >> 8, new & 0xFF
        deltas.append((old, new))
    for off, zero_none in sums:
        cs = (b[off] << 8) | b[off + 1]
        if zero_none and cs == 0:
            continue
        for old, new in deltas:
            cs = csum_fix(cs, old, new)
        if zero_none and cs == 0:
            cs = 0xFFFF
        b[off], b[off + 1] = cs >> 8, cs & 0xFF
    return bytes(b)


def main():
    ap = argparse.ArgumentParser(description="build the packet bench capture")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--size", type=int, default=500 * 1000 * 1000,
                    help="minimum bytes of frames, headers not counted (default 500 MB)")
    ap.add_argument("-o", "--out", default=os.path.join(ROOT, "build", "bench", "net.pcap"))
    a = ap.parse_args()
    t0 = time.monotonic()
    paths = []
    for d, dirs, files in os.walk(a.corpus):
        dirs.sort()
        paths += [os.path.join(d, f) for f in sorted(files) if f.endswith((".pcap", ".pcapng"))]
    seen, captures, skipped = set(), [], {}
    for p in paths:
        with open(p, "rb") as f:
            h = hashlib.sha256(f.read()).digest()
        if h in seen:
            continue
        seen.add(h)
        r = read_pcap(p)
        if r is None:
            skipped["not a classic pcap"] = skipped.get("not a classic pcap", 0) + 1
            continue
        lt, pkts = r
        frames = []
        for ts, data in pkts:
            fr = to_ethernet(lt, data)
            if fr is None:
                skipped["link type %d" % lt] = skipped.get("link type %d" % lt, 0) + 1
                continue
            frames.append((ts, fr, plan(fr)))
        if frames:
            captures.append(frames)
    if not captures:
        print("pcap_build: no capture under %s" % a.corpus, file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    rec = struct.Struct("<IIII")
    written, frame_bytes, npkts, k = 24, 0, 0, 0
    clock = 1700000000 * 1000000        # 2023-11-14: a fixed start, deterministic
    with open(tmp, "wb", buffering=1 << 20) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while frame_bytes < a.size:
            if k > 0xFFFF // 2:
                print("pcap_build: too many rounds; corpus too small", file=sys.stderr)
                return 1
            for frames in captures:
                t, prev = clock, frames[0][0]
                for ts, fr, where in frames:
                    t += min(max(ts - prev, 0), MAX_GAP)
                    prev = ts
                    data = rewrite(fr, where, k)
                    out.write(rec.pack(t // 1000000, t % 1000000, len(data), len(data)))
                    out.write(data)
                    written += 16 + len(data)
                    frame_bytes += len(data)
                    npkts += 1
                clock = t + 1000
            k += 1
    os.replace(tmp, a.out)
    print("pcap_build: %s: %d bytes (%d of frames), %d packets, %d rounds of %d captures, %.1f s%s"
          % (a.out, written, frame_bytes, npkts, k, len(captures), time.monotonic() - t0,
             "".join("; left out %d (%s)" % (n, why) for why, n in sorted(skipped.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
