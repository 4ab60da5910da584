#!/usr/bin/env python3
"""fuzz/make_seeds.py -- seed corpora for the libFuzzer targets (fuzz/).

    python3 fuzz/make_seeds.py                 # fuzz/seeds/<target>/ (committed)
    python3 fuzz/make_seeds.py --corpus DIR OUT  # OUT/<target>/ from ../shared/corpus
                                               # (make fuzz; never committed)

The committed seeds come only from the repository (samples/, rules/,
conf/, tests/e2e/), so CI, which clones the repository alone, has them:
see fuzz/README.md for their origin. The second form adds seeds from the
shared corpus for longer local runs; some of it may not be shipped
(loghub), so it only ever goes under build-fuzz/.

Deterministic: the same tree gives the same files (named by a hash of
their content). Each target's input layout is in its fuzz_*.c header.
"""
import glob
import hashlib
import os
import struct
import sys
import zlib



ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def put(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pick(lines, n):
    """n lines spread over the list (first, last and evenly between)."""
    lines = [l for l in lines if l.strip()]
    if len(lines) <= n:
        return lines
    step = len(lines) / n
    return [lines[int(i * step)] for i in range(n)]


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


def rule_samples():
    """Every match/nomatch sample of the shipped rules: lines that fire."""
    import yaml   # python3-yaml: only to remake the committed seeds
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "rules", "**", "*.yml"), recursive=True)):
        with open(path, "rb") as f:
            for doc in yaml.safe_load_all(f):
                tests = ((doc or {}).get("canh") or {}).get("tests") or {}
                for k in ("match", "nomatch"):
                    for s in tests.get(k) or []:
                        out.append(str(s).encode())
    return out


def line_seeds(out, lines):
    # option byte: one line, or several (bit 0); canh.matched, Ho Chi Minh
    # time and explain text/JSON on some, so each path starts covered
    opts = [0x00, 0x02, 0x04, 0x0a, 0x32, 0x86, 0xe0, 0x16]
    for i, l in enumerate(lines):
        put(out, "line", bytes([opts[i % len(opts)]]) + l)


def framer_seeds(out, lines):
    lf = b"\n".join(lines[:6]) + b"\n"
    octet = b"".join(b"%d %s" % (len(l), l) for l in lines[:6])
    for mode, body in ((0, lf), (1, lf), (0, octet), (2, octet)):
        for max_msg, seed in ((255, 7), (40, 3), (255, 1)):
            for flags in (0, 1, 2):
                put(out, "framer", bytes([mode, flags, max_msg, seed]) + body)
    put(out, "framer", bytes([0, 0, 200, 9]) + b"<34>a\r\n\n<34>b\x00<34>c")
    put(out, "framer", bytes([0, 0, 200, 9]) + b"10.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 1\n")
    put(out, "framer", bytes([2, 0, 20, 5]) + b"99999999999 x\n12 <34>twelve!!")


def sigma_seeds(out, paths):
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        if len(data) <= 64 * 1024:
            put(out, "sigma", data)


def config_seeds(out, paths):
    for p in paths:
        with open(p, "rb") as f:
            put(out, "config", f.read())


def spool_record(seq, key, val, flags=0):
    body = struct.pack("<QIHH", seq, len(val), len(key), flags) + key + val
    return b"CSP1" + struct.pack("<I", zlib.crc32(body)) + body


def spool_seed(out, opt, segs, head=None):
    """segs: (name step, bytes); head: (seg, off, seq) or raw bytes."""
    data = bytes([opt])
    for step, b in segs:
        data += bytes([step]) + struct.pack("<H", len(b)) + b
    if head is not None:
        if isinstance(head, tuple):
            h = b"CSPH" + struct.pack("<IQQQ", 1, *head)
            head = h + struct.pack("<I", zlib.crc32(h))
        data += head
    put(out, "spool", data)


def spool_seeds(out, lines):
    vals = [l[:120] for l in lines[:12]]
    recs = [spool_record(1 + i, b"host%d" % (i % 3) if i % 4 else b"", v)
            for i, v in enumerate(vals)]
    seg1 = b"".join(recs[:6])
    seg2 = b"".join(recs[6:])
    spool_seed(out, 0x00, [(0, seg1)])
    spool_seed(out, 0x01, [(0, seg1), (5, seg2)])
    spool_seed(out, 0x19, [(0, seg1), (5, seg2)], (1, len(recs[0]) + len(recs[1]), 3))
    spool_seed(out, 0x39, [(0, seg1), (5, seg2)], (7, 0, 7))
    # damage: a torn last record, a flipped byte, garbage between records
    spool_seed(out, 0x00, [(0, seg1[:-9])])
    bad = bytearray(seg1)
    bad[len(recs[0]) + 30] ^= 0x40
    spool_seed(out, 0x01, [(0, bytes(bad)), (5, seg2)])
    spool_seed(out, 0x04, [(0, recs[0] + b"\x00garbage CSP1" + recs[1] + recs[2])])
    spool_seed(out, 0x0c, [(0, seg1)], b"CSPH" + b"\xff" * 32)


def pcap_frames(path, n=None):
    """(linktype, frame) of a classic pcap file; [] for pcapng or damage."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        return []
    lt = struct.unpack(end + "I", data[20:24])[0] & 0xffff
    out, off = [], 24
    while off + 16 <= len(data) and (n is None or len(out) < n):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            break
        out.append((lt, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


# fuzz_packet's byte 0: index of the link type in its table
PACKET_DLTS = {1: 0, 113: 1, 276: 2, 12: 3, 101: 4, 228: 5, 229: 6, 0: 7, 108: 8, 14: 9}


def packet_seeds(out, frames):
    """Frames as they came, and their IP packets under every other link
    header (raw, SLL, SLL2, loopback both byte orders, 802.1Q and QinQ)."""
    for lt, fr in frames:
        if lt not in PACKET_DLTS:
            continue
        put(out, "packet", bytes([PACKET_DLTS[lt], 1]) + fr)
        if lt != 1 or len(fr) < 15 or fr[12:14] not in (b"\x08\x00", b"\x86\xdd"):
            continue
        ip, et = fr[14:], fr[12:14]
        v6 = et == b"\x86\xdd"
        put(out, "packet", bytes([PACKET_DLTS[101], 1]) + ip)
        put(out, "packet", bytes([PACKET_DLTS[229 if v6 else 228], 1]) + ip)
        put(out, "packet", bytes([PACKET_DLTS[113], 1]) + b"\x00\x00\x00\x01\x00\x06" +
            fr[6:12] + b"\x00\x00" + et + ip)
        put(out, "packet", bytes([PACKET_DLTS[276], 1]) + et + b"\x00\x00\x00\x00\x00\x02" +
            b"\x00\x01\x00\x06" + fr[6:12] + b"\x00\x00" + ip)
        fam = 30 if v6 else 2
        put(out, "packet", bytes([PACKET_DLTS[0], 1]) + struct.pack("<I", fam) + ip)
        put(out, "packet", bytes([PACKET_DLTS[108], 1]) + struct.pack(">I", fam) + ip)
        put(out, "packet", bytes([PACKET_DLTS[1], 1]) + fr[:12] + b"\x88\xa8\x00\x0a\x81\x00"
            + b"\x00\x14" + et + ip)


def fragment_seeds(out):
    """A UDP datagram in IPv4 and IPv6 fragments, out of order and
    overlapping: one frame per input (the target's decoder keeps them)."""
    udp = struct.pack(">HHHH", 5353, 53, 8 + 64, 0) + bytes(range(64))
    for i, (off, ln, more) in enumerate(((24, 24, 1), (0, 32, 1), (48, 24, 0), (16, 16, 1))):
        hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ln, 77, (more << 13) | off // 8, 64,
                          17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        put(out, "packet", bytes([PACKET_DLTS[101], 1]) + hdr + udp[off:off + ln])
        src, dst = bytes(15) + b"\x01", bytes(15) + b"\x02"
        fh = struct.pack(">BBHI", 17, 0, off | more, 0x1234)
        ip6 = struct.pack(">IHBB", 0x60000000, 8 + ln, 44, 64) + src + dst + fh
        put(out, "packet", bytes([PACKET_DLTS[229], 1]) + ip6 + udp[off:off + ln])


def net_record(flags, ep, step, payload):
    """fuzz_net's records for one packet (a payload over 255 bytes: several)."""
    out = b""
    while True:
        chunk, payload = payload[:255], payload[255:]
        out += struct.pack("!BBHB", flags, ep, step, len(chunk)) + chunk
        step = 0
        if not payload:
            return out


def net_tcp(port_bits, client, c2s, s2c):
    """A whole TCP connection: handshake, the messages each way, both FINs."""
    syn, ack, psh, fin = 0x02, 0x10, 0x08, 0x01
    ep = (port_bits << 1) | (client << 4)
    r = net_record(syn, ep, 0, b"") + net_record(syn | ack, ep | 8, 0, b"") + \
        net_record(ack, ep, 0, b"")
    for m in c2s:
        r += net_record(psh | ack, ep, 0, m)
    for m in s2c:
        r += net_record(psh | ack, ep | 8, 0, m)
    return r + net_record(fin | ack, ep, 0, b"") + net_record(fin | ack, ep | 8, 0, b"")


def net_seeds(out):
    """fuzz_net: an HTTP exchange, an SSH banner exchange, a DNS query and its
    answer, and a stream with a hole and an overlap (fuzz/fuzz_net.c)."""
    put(out, "net", net_tcp(0, 0, [b"GET /admin.php?f=../etc/passwd HTTP/1.1\r\nHost: a.vn\r\n"
                                   b"User-Agent: curl/8\r\nX-A: 1\r\n\r\n"],
                            [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"EICARxxxxx"]))
    put(out, "net", net_tcp(2, 1, [b"SSH-2.0-libssh_0.9\r\n"], [b"SSH-2.0-OpenSSH_9.2\r\n"]))
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
    put(out, "net", net_record(0, 1, 0, q) + net_record(0, 1 | 8, 0, q[:2] + b"\x81\x80" + q[4:]))
    hole = net_tcp(0, 2, [], [])[:15]   # the handshake only
    hole += net_record(0x18, 2 << 4, 5, b"login as root") + \
        net_record(0x18, 2 << 4, 0x10000 - 18, b"evil!") + net_record(0x18, 2 << 4, 0, b"root")
    put(out, "net", hole)


def repo_seeds(out):
    logs = []
    for name, n in (("auth_ec2.log", 40), ("apache_access_10k.log", 40), ("soc-demo.log", 120)):
        logs += pick(read_lines(os.path.join(ROOT, "samples", name)), n)
    samples = rule_samples()
    line_seeds(out, logs + samples)
    # a few multi-line inputs: an audit group, a mixed run
    demo = [l for l in read_lines(os.path.join(ROOT, "samples", "soc-demo.log")) if l]
    audit = [l for l in demo if b"type=" in l and b"audit(" in l][:12]
    put(out, "line", b"\x01" + b"\n".join(audit))
    put(out, "line", b"\x03" + b"\n".join(demo[:30]))
    framer_seeds(out, logs[:3] + samples[:3] + demo[:6])
    rules = sorted(glob.glob(os.path.join(ROOT, "rules", "**", "*.yml"), recursive=True))
    rules += sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*", "rules", "*.yml")))
    rules += sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*", "filters", "*.yml")))
    sigma_seeds(out, rules)
    configs = [os.path.join(ROOT, "conf", "canh.yml")]
    configs += sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*", "canh.yml")))
    config_seeds(out, configs)
    spool_seeds(out, demo)
    packet_seeds(out, pcap_frames(os.path.join(ROOT, "tests", "data", "decode",
                                               "community-id-ipv4.pcap"), 24))
    fragment_seeds(out)
    net_seeds(out)


def corpus_seeds(corpus, out):
    lines = []
    for p in sorted(glob.glob(os.path.join(corpus, "logs", "**", "*.log"), recursive=True)):
        lines += pick(read_lines(p), 60)
    for p in sorted(glob.glob(os.path.join(corpus, "rules", "wazuh", "**", "*.ini"),
                              recursive=True)):
        for l in read_lines(p):
            if l.startswith(b"log ") and b" pass = " in l:
                lines.append(l.split(b" pass = ", 1)[1])
    line_seeds(out, lines)
    framer_seeds(out, lines[:12])
    sigma_seeds(out, sorted(glob.glob(os.path.join(corpus, "rules", "sigma", "**", "*.yml"),
                                      recursive=True)))
    for p in sorted(glob.glob(os.path.join(corpus, "pcaps", "**", "*.pcap"), recursive=True)):
        packet_seeds(out, pcap_frames(p, 12))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--corpus":
        corpus_seeds(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 1:
        repo_seeds(os.path.join(ROOT, "fuzz", "seeds"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
