#!/usr/bin/env python3
"""
tests/e2e/run_pcap_live/drive.py -- the pcap input on a live interface.

In a network namespace of its own (removed at the end), a veth pair va/vb
(IPv6 off, so the kernel sends nothing of its own on them). canh run, in
that namespace, captures on va with the filter "tcp or udp port 5555";
on vb the driver replays a suricata-verify capture (7 TCP frames,
tests/data/pcap/) with tcpreplay and sends 5 UDP frames to port 5555 and
3 to port 6666 through an AF_PACKET socket. The stats record must show
the 12 frames the filter keeps (capture.frames, capture.bytes), and
libpcap's received count at least that. A second run with snaplen 100
counts the 2 longer frames of the capture as cut. A third, with `user:
nobody`, shows the handle opened as root keeps capturing after canh has
switched user and dropped every capability. A bad filter and a
missing interface fail the start with a message; `canh run --check` names
the bad filter. Needs root (it makes the
namespace); skipped otherwise. Every wait has a deadline.
"""
import os, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from daemon import Daemon, wait_until

build, out, root = sys.argv[1:4]
NS = f"canh-pcap-{os.getpid()}"
PCAP = os.path.join(root, "tests/data/pcap/testmyids-midstream.pcap")

def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)

def in_ns(*args, check=True):
    return sh("ip", "netns", "exec", NS, *args, check=check)

if os.geteuid() != 0 or sh("ip", "netns", "add", NS, check=False).returncode != 0:
    print("SKIP: making a network namespace needs root")
    sys.exit(0)

def pcap_frames(path):
    """The frames of a classic pcap file (little-endian, microseconds)."""
    with open(path, "rb") as f:
        d = f.read()
    assert d[:4] == b"\xd4\xc3\xb2\xa1"
    frames, o = [], 24
    while o + 16 <= len(d):
        caplen = struct.unpack("<I", d[o + 8:o + 12])[0]
        frames.append(d[o + 16:o + 16 + caplen])
        o += 16 + caplen
    return frames

def udp_frame(dport, payload):
    """Ethernet + IPv4 + UDP, from 10.9.0.2 to 10.9.0.1 (checksums: IP
    computed, UDP none, which IPv4 allows)."""
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.9.0.2"), socket.inet_aton("10.9.0.1"))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip + udp

SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("vb", 0))
data = sys.stdin.buffer.read()
i = 0
while i < len(data):
    n = int.from_bytes(data[i:i + 4], "big")
    s.send(data[i + 4:i + 4 + n])
    i += 4 + n
"""

def send_frames(frames):
    blob = b"".join(len(f).to_bytes(4, "big") + f for f in frames)
    subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-c", SENDER], input=blob,
                   check=True)

class NsDaemon(Daemon):
    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS, f"{self.build}/canh", "run",
                                      "-c", self.cfg], stderr=self.log)
        return self

def capture(rec, name="cap"):
    return rec["inputs"][name].get("capture")

rc = 0
try:
    in_ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    in_ns("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    in_ns("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
    in_ns("ip", "link", "set", "va", "up")
    in_ns("ip", "link", "set", "vb", "up")

    corpus = pcap_frames(PCAP)
    udp_in = [udp_frame(5555, b"kept %d" % i) for i in range(5)]
    udp_out = [udp_frame(6666, b"filtered out %d" % i) for i in range(3)]
    want = len(corpus) + len(udp_in)
    want_bytes = sum(map(len, corpus)) + sum(map(len, udp_in))

    d = NsDaemon(build, out, root, """  - type: pcap
    name: cap
    interface: va
    filter: tcp or udp port 5555
    immediate: true""", workers=1).start()
    wait_until("canh to capture", lambda: "capturing on va" in d.log_text()
               or d.proc.poll() is not None, 20)
    if d.proc.poll() is not None:
        sys.exit("canh run exited before capturing:\n" + d.log_text())
    subprocess.run(["ip", "netns", "exec", NS, "tcpreplay", "-q", "--topspeed", "-i", "vb",
                    PCAP], check=True, capture_output=True)
    send_frames(udp_out + udp_in)

    def counted():
        recs = [r for r in d.records() if not r["final"]]
        return recs and capture(recs[-1]) and capture(recs[-1])["frames"] >= want
    try:
        wait_until(f"a stats record with {want} frames", counted, 10)
    except SystemExit as e:
        print(e)
    live = [r for r in d.records() if not r["final"]]
    got = capture(live[-1])["frames"] if live and capture(live[-1]) else None
    print(f"live record: frames {got} of {want} sent through the filter: {got == want}")
    rc = d.stop()
    last = d.records()[-1]
    c = capture(last)
    print(f"final record: frames {c['frames']}, bytes as sent: {c['bytes'] == want_bytes}, "
          f"received >= {want}: {last['final'] and c['received'] >= want}, dropped "
          f"{c['dropped']}, cut {c['cut']}; no log events: {last['events'] == 0}")

    # snaplen: the capture's two frames longer than 100 bytes are cut
    out2 = os.path.join(out, "snaplen")
    os.makedirs(out2, exist_ok=True)
    d = NsDaemon(build, out2, root, """  - type: pcap
    name: cap
    interface: va
    filter: tcp
    snaplen: 100
    promiscuous: false""", workers=1).start()
    wait_until("canh to capture", lambda: "capturing on va" in d.log_text()
               or d.proc.poll() is not None, 20)
    subprocess.run(["ip", "netns", "exec", NS, "tcpreplay", "-q", "--topspeed", "-i", "vb",
                    PCAP], check=True, capture_output=True)
    wait_until("7 frames", lambda: any(capture(r) and capture(r)["frames"] >= 7
                                       for r in d.records()), 10)
    rc = rc or d.stop()
    c = capture(d.records()[-1])
    longer = sum(1 for f in corpus if len(f) > 100)
    print(f"snaplen 100: frames {c['frames']}, cut {c['cut']}: "
          f"{c['frames'] == 7 and c['cut'] == longer == 2 and c['bytes'] == sum(min(len(f), 100) for f in corpus)}")

    # canh switched to an unprivileged user keeps capturing: the handle was
    # opened as root, before the switch
    import pwd
    nobody = pwd.getpwnam("nobody")
    out4 = os.path.join(out, "user")
    os.makedirs(out4, exist_ok=True)
    d = NsDaemon(build, out4, root, """  - type: pcap
    name: cap
    interface: va
    filter: tcp""", workers=1, extra="user: nobody\n").start()
    wait_until("canh to capture", lambda: "capturing on va" in d.log_text()
               or d.proc.poll() is not None, 20)
    def creds():
        with open(f"/proc/{d.proc.pid}/status") as f:
            st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        return st["Uid"].split()[1], st["CapEff"].strip()
    uid, capeff = creds() if d.proc.poll() is None else ("?", "?")
    subprocess.run(["ip", "netns", "exec", NS, "tcpreplay", "-q", "--topspeed", "-i", "vb",
                    PCAP], check=True, capture_output=True)
    wait_until("7 frames", lambda: d.proc.poll() is not None or any(
        capture(r) and capture(r)["frames"] >= 7 for r in d.records()), 10)
    rc = rc or d.stop()
    c = capture(d.records()[-1])
    print(f"as nobody, no capability: {uid == str(nobody.pw_uid) and int(capeff, 16) == 0}; "
          f"frames {c['frames']}: {c['frames'] == 7}")

    # start-up failures: said, exit status not 0
    for what, keys, text in (
            ("bad filter", "interface: va\n    filter: 'tcp and ((('", "bad filter"),
            ("missing interface", "interface: canh-nonesuch0", "canh-nonesuch0")):
        out3 = os.path.join(out, what.replace(" ", "_"))
        os.makedirs(out3, exist_ok=True)
        d = NsDaemon(build, out3, root, f"""  - type: pcap
    {keys}""", workers=1).start()
        try:
            d.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.kill()
        d.log.close()
        log = d.log_text()
        print(f"{what} refused: {d.proc.returncode not in (0, None) and text in log}")
        if text not in log:
            sys.stderr.write(log)
    # --check finds the bad filter without capturing (no root needed)
    chk = subprocess.run([f"{build}/canh", "run", "-c", os.path.join(out, "bad_filter", "canh.yml"),
                          "--check"], capture_output=True, text=True)
    print(f"--check names the bad filter: {chk.returncode != 0 and 'bad filter' in chk.stderr}")
finally:
    sh("ip", "netns", "del", NS, check=False)
sys.exit(rc)
