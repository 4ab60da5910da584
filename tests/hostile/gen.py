#!/usr/bin/env python3
"""
tests/hostile/gen.py -- the hostile-input regression set (issue 13).

    python3 tests/hostile/gen.py OUTDIR

Writes, deterministically (fixed seed, no clock), into OUTDIR:
  files/NNNN.log   one input file each (well over 1,000): for every format
                   canh parses (RFC 3164, RFC 5424, JSON, JSON in syslog,
                   key=value, sshd, sudo, su, PAM, shadow tools, auditd,
                   web access lines) and every field of it, a line with one
                   hostile token in that field (NUL, CR, LF, CR LF, ANSI
                   escapes, invalid UTF-8, quotes, a 70 kB run, nothing ...),
                   then a clean line of the same format; half of them
                   without a final newline. Then bogus priorities and time
                   stamps, out-of-range audit times, deep JSON, huge lines
                   (MBs, one without a newline), empty files, blank lines.
  tcp.json         the byte streams of the TCP part (octet-counted framing,
                   bogus and oversize counts, frames cut off), each with
                   what canh's framer must make of it.
  manifest.json    per file: its lines, blank lines and events as canh
                   counts them (a line ends at LF; one CR before it is
                   dropped; an empty line is no event; every other line is
                   one event: audit serials are never repeated, so no two
                   records group), and the lines canh documents it counts as
                   parse errors (bogus PRI, audit time out of range).

Nothing here knows canh's parsers beyond that: it is an independent count.
Thread: single, a test helper.
"""
import base64, json, os, random, sys

SEED = 1313
rng = random.Random(SEED)

# Hostile tokens, each put into each field of each format.
TOKENS = [
    ("nul", b"\x00"), ("nul2", b"a\x00\x00b"), ("cr", b"\r"), ("lf", b"\n"),
    ("crlf", b"\r\n"), ("lfcr", b"x\n\ry"), ("ansi_clear", b"\x1b[2J\x1b[H"),
    ("ansi_title", b"\x1b]0;pwned\x07"), ("ansi_color", b"\x1b[31;1mred\x1b[0m"),
    ("c0", bytes(range(1, 32)).replace(b"\n", b"")), ("del", b"\x7f"), ("bell", b"\x07\x08"),
    ("bad_utf8", b"\xff\xfe"), ("bad_cont", b"\xc3\x28"), ("overlong", b"\xc0\xaf"),
    ("surrogate", b"\xed\xa0\x80"), ("too_big", b"\xf4\x90\x80\x80"), ("trunc_utf8", b"\xe1\xbb"),
    ("bidi", "\u202eevil\u202c".encode()), ("vi", "Nguyễn Văn Ánh".encode()),
    ("quote", b'"'), ("squote", b"'"), ("backslash", b"\\"), ("json_esc", b'\\u0000\\"}'),
    ("fmt", b"%n%s%x%p"), ("forged", b"\ncanh: info: forged line"), ("empty", b""),
    ("space", b"   "), ("tab", b"\t"), ("long", b"A" * 70000), ("brackets", b"[]{}<>"),
    ("eq", b"k=v=w"), ("colon", b": : :"), ("digits", b"99999999999999999999999"),
    ("neg", b"-1"),
]

MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
          b"Nov", b"Dec"]

serial_next = [1000]


def serial():
    serial_next[0] += 1
    return serial_next[0]


def ts3164():
    return b"%s %2d %02d:%02d:%02d" % (rng.choice(MONTHS), rng.randint(1, 28),
                                     rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def ts_iso():
    return b"2026-12-%02dT%02d:%02d:%02d.%03dZ" % (rng.randint(1, 6), rng.randint(0, 23),
                                                  rng.randint(0, 59), rng.randint(0, 59),
                                                  rng.randint(0, 999))


def ip():
    return b"203.0.113.%d" % rng.randint(1, 254)


# Each format: a list of fields with their clean value, and how to build a
# line from them. A clean line of each format is one a shipped rule or the
# case's rules may alert on, so alerts carry the hostile bytes too.
def fmt_3164(f):
    return b"<%s>%s %s %s[%s]: %s" % (f["pri"], f["ts"], f["host"], f["prog"], f["pid"], f["msg"])


def fmt_5424(f):
    return b"<%s>1 %s %s %s %s %s [ex@32473 %s=\"%s\"] %s" % (
        f["pri"], f["ts"], f["host"], f["app"], f["procid"], f["msgid"], f["sdkey"], f["sdval"],
        f["msg"])


def fmt_json(f):
    return (b'{"@timestamp":"%s","host":{"name":"%s"},"message":"%s","user":{"name":"%s"},'
            b'"source":{"ip":"%s"},"event":{"action":"%s"}}' % (
                f["ts"], f["host"], f["msg"], f["user"], f["ip"], f["action"]))


def fmt_json_syslog(f):
    return b"<14>%s %s app[1]: %s" % (f["ts3164"], f["host"], fmt_json(f))


def fmt_kv(f):
    return b"<14>%s %s fw[2]: time=%s host=%s user=%s src=%s action=%s msg=\"%s\"" % (
        f["ts3164"], f["host"], f["time"], f["host"], f["user"], f["ip"], f["action"], f["msg"])


def fmt_sshd(f):
    return b"<38>%s %s sshd[%s]: Failed password for %s from %s port %s ssh2" % (
        f["ts"], f["host"], f["pid"], f["user"], f["ip"], f["port"])


def fmt_sshd_ok(f):
    return b"<38>%s %s sshd[%s]: Accepted publickey for %s from %s port %s ssh2: RSA SHA256:%s" % (
        f["ts"], f["host"], f["pid"], f["user"], f["ip"], f["port"], f["key"])


def fmt_sudo(f):
    return b"<85>%s %s sudo: %s : TTY=%s ; PWD=%s ; USER=%s ; COMMAND=%s" % (
        f["ts"], f["host"], f["user"], f["tty"], f["pwd"], f["target"], f["cmd"])


def fmt_su(f):
    return b"<86>%s %s su[%s]: (to %s) %s on %s" % (f["ts"], f["host"], f["pid"], f["target"],
                                                   f["user"], f["tty"])


def fmt_pam(f):
    return (b"<86>%s %s sshd[%s]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
            b"euid=0 tty=ssh ruser= rhost=%s  user=%s" % (f["ts"], f["host"], f["pid"], f["ip"],
                                                          f["user"]))


def fmt_shadow(f):
    return (b"<86>%s %s useradd[%s]: new user: name=%s, UID=%s, GID=%s, home=%s, shell=/bin/bash"
            % (f["ts"], f["host"], f["pid"], f["user"], f["uid"], f["uid"], f["pwd"]))


def fmt_auditd(f):
    return (b"type=%s msg=audit(%s.%s:%d): pid=%s uid=0 auid=%s comm=\"%s\" exe=\"%s\" "
            b"key=\"%s\"" % (f["type"], f["sec"], f["ms"], serial(), f["pid"], f["uid"], f["comm"],
                            f["exe"], f["key"]))


def fmt_execve(f):
    return b"type=EXECVE msg=audit(%s.%s:%d): argc=2 a0=\"%s\" a1=%s" % (
        f["sec"], f["ms"], serial(), f["comm"], f["hexarg"])


def fmt_access(f):
    return b'%s - %s [%s] "%s %s HTTP/1.1" %s %s "%s" "%s"' % (
        f["ip"], f["user"], f["time"], f["method"], f["path"], f["status"], f["size"], f["ref"],
        f["ua"])


def fmt_access_syslog(f):
    return b"<150>%s %s nginx: %s" % (f["ts3164"], f["host"], fmt_access(f))


def clean(kind):
    """Fresh clean field values for a format (drawn from the seeded rng)."""
    host = b"web%02d" % rng.randint(0, 9)
    base = {"host": host, "pid": b"%d" % rng.randint(100, 65000), "ip": ip(),
            "user": rng.choice([b"root", b"admin", b"oracle", b"nguyenvana"]),
            "port": b"%d" % rng.randint(1024, 65535)}
    if kind == "3164":
        base.update(pri=b"38", ts=ts3164(), prog=b"sshd", msg=b"Failed password for root from "
                    + base["ip"] + b" port 22 ssh2")
    elif kind == "5424":
        base.update(pri=b"165", ts=ts_iso(), app=b"sshd", procid=b"4321", msgid=b"ID47",
                    sdkey=b"iut", sdval=b"3", msg=b"Failed password for root from "
                    + base["ip"] + b" port 22 ssh2")
    elif kind in ("json", "json_syslog"):
        base.update(ts=ts_iso(), ts3164=ts3164(), msg=b"cmd.exe /c whoami", action=b"exec")
    elif kind == "kv":
        base.update(ts3164=ts3164(), time=ts_iso(), action=b"deny", msg=b"blocked ../../etc/passwd")
    elif kind in ("sshd", "sshd_ok"):
        base.update(ts=ts3164(), key=b"abcDEF123")
    elif kind == "sudo":
        base.update(ts=ts3164(), tty=b"pts/0", pwd=b"/home/x", target=b"root",
                    cmd=b"/bin/bash -c 'cat /etc/shadow'")
    elif kind == "su":
        base.update(ts=ts3164(), target=b"root", tty=b"pts/1")
    elif kind == "pam":
        base.update(ts=ts3164())
    elif kind == "shadow":
        base.update(ts=ts3164(), uid=b"0", pwd=b"/root")
    elif kind in ("auditd", "execve"):
        base.update(type=b"SYSCALL", sec=b"1700000000", ms=b"%03d" % rng.randint(0, 999),
                    uid=b"0", comm=b"rm", exe=b"/usr/bin/rm", key=b"delete",
                    hexarg=b"2F6574632F736861646F77")
    elif kind in ("access", "access_syslog"):
        base.update(ts3164=ts3164(), time=b"06/Dec/2026:08:%02d:%02d +0700" % (
                    rng.randint(0, 59), rng.randint(0, 59)), method=b"GET",
                    path=b"/cgi-bin/../../etc/passwd", status=b"200", size=b"512",
                    ref=b"-", ua=b"sqlmap/1.7")
    return base


FORMATS = {
    "3164": (fmt_3164, ["pri", "ts", "host", "prog", "pid", "msg"]),
    "5424": (fmt_5424, ["pri", "ts", "host", "app", "procid", "msgid", "sdkey", "sdval", "msg"]),
    "json": (fmt_json, ["ts", "host", "msg", "user", "ip", "action"]),
    "json_syslog": (fmt_json_syslog, ["ts3164", "host", "msg", "user", "ip"]),
    "kv": (fmt_kv, ["ts3164", "host", "time", "user", "ip", "action", "msg"]),
    "sshd": (fmt_sshd, ["ts", "host", "pid", "user", "ip", "port"]),
    "sshd_ok": (fmt_sshd_ok, ["user", "ip", "port", "key"]),
    "sudo": (fmt_sudo, ["host", "user", "tty", "pwd", "target", "cmd"]),
    "su": (fmt_su, ["pid", "target", "user", "tty"]),
    "pam": (fmt_pam, ["pid", "ip", "user"]),
    "shadow": (fmt_shadow, ["user", "uid", "pwd"]),
    "auditd": (fmt_auditd, ["type", "sec", "ms", "pid", "uid", "comm", "exe", "key"]),
    "execve": (fmt_execve, ["sec", "comm", "hexarg"]),
    "access": (fmt_access, ["ip", "user", "time", "method", "path", "status", "size", "ref",
                            "ua"]),
    "access_syslog": (fmt_access_syslog, ["host", "time", "path", "ua"]),
}

BOGUS_PRI = [b"<999>", b"<192>", b"<-1>", b"<>", b"<00013>", b"<abc>", b"<1.5>", b"<13",
             b"<4294967309>", b"<99999999999999999999>", b"<0", b"<<13>>", b"<1\x003>"]
PRI_OUT_OF_RANGE = (b"<999>", b"<192>")   # RFC 5424: 0 to 191; canh counts these
BOGUS_3164_TS = [b"Feb 30 25:61:61", b"Foo  1 00:00:00", b"Dec 99 99:99:99", b"Dec  6 8:0:0",
                 b"Dec  6 08:00:00.9999999999999999999", b"Dec", b"Dec  6"]
BOGUS_ISO = [b"2026-13-45T99:99:99Z", b"9999-12-31T23:59:60+23:59", b"0000-01-01T00:00:00-23:59",
             b"0000-01-01T00:00:00+23:59", b"99999-01-01T00:00:00Z", b"2026-12-06T08:00:00.",
             b"2026-12-06T08:00:00.123456789012345678901234567890Z", b"2026-12-06T08:00:00+99:99",
             b"-2026-12-06T08:00:00Z", b"2026-02-30T00:00:00Z", b"9999-12-31T23:59:59-00:01"]
# valid stamps whose offset moves them out of the years 0000-9999 in UTC:
# canh counts them as broken (the @timestamp could not say them)
ISO_OUT_OF_RANGE = (b"0000-01-01T00:00:00+23:59", b"9999-12-31T23:59:59-00:01")
BOGUS_AUDIT_TIME = [b"999999999999999999.999", b"253402300800.000", b"100000000000000000.0",
                    b"9223372036854775.807", b"18446744073709551616.1"]
BOGUS_ACCESS_TIME = [b"31/Dec/0000:00:00:00 +2359", b"31/Dec/9999:23:59:59 -2359",
                     b"99/Foo/2026:99:99:99 +9999", b"06/Dec/2026:08:00:00",
                     b"01/Jan/0000:00:00:00 +0001"]
ACCESS_OUT_OF_RANGE = (b"31/Dec/9999:23:59:59 -2359", b"01/Jan/0000:00:00:00 +0001")


class Out:
    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "files")
        os.makedirs(self.dir, exist_ok=True)
        self.files = []

    def add(self, data, must_err=0, why=""):
        path = os.path.join(self.dir, "%04d.log" % len(self.files))
        with open(path, "wb") as f:
            f.write(data)
        parts = data.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()          # a final newline ends the last line; it starts none
        blank = sum(1 for p in parts if (p[:-1] if p.endswith(b"\r") else p) == b"")
        self.files.append({"path": os.path.relpath(path, self.root), "bytes": len(data), "lines": len(parts),
                           "blank": blank, "events": len(parts) - blank,
                           "must_err": must_err, "why": why})


def line_with(kind, field, token):
    fmt, _ = FORMATS[kind]
    f = clean(kind)
    v = f[field]
    where = rng.randint(0, 2)
    f[field] = token + v if where == 0 else v + token if where == 1 else \
        v[:len(v) // 2] + token + v[len(v) // 2:]
    return fmt(f)


def main():
    root = sys.argv[1]
    out = Out(root)

    # 1. every token in every field of every format, then a clean line
    for kind in sorted(FORMATS):
        fmt, fields = FORMATS[kind]
        for field in fields:
            for name, tok in TOKENS:
                data = line_with(kind, field, tok) + b"\n" + fmt(clean(kind))
                out.add(data if rng.random() < 0.5 else data + b"\n", why=f"{kind}.{field}.{name}")

    # 2. every token in every field at once
    for kind in sorted(FORMATS):
        fmt, fields = FORMATS[kind]
        for name, tok in TOKENS:
            if name == "long":
                continue
            f = clean(kind)
            for field in fields:
                f[field] = f[field] + tok
            out.add(fmt(f) + b"\n", why=f"{kind}.*.{name}")

    # 3. bogus priorities: a header canh documents it counts as broken
    for pri in BOGUS_PRI:
        out.add(pri + b"Dec  6 08:00:00 web01 sshd[1]: Failed password for root from "
                b"203.0.113.9 port 22 ssh2\n", must_err=int(pri in PRI_OUT_OF_RANGE),
                why="pri " + pri.decode("latin-1"))
        out.add(pri + b"1 2026-12-06T08:00:00Z web01 sshd 1 - - Failed password\n",
                why="pri5424 " + pri.decode("latin-1"))

    # 4. bogus time stamps
    for ts in BOGUS_3164_TS:
        out.add(b"<38>" + ts + b" web01 sshd[1]: Failed password for root from 203.0.113.9 "
                b"port 22 ssh2\n", why="ts3164")
    for ts in BOGUS_ISO:
        out.add(b"<38>1 " + ts + b" web01 sshd 1 - - Failed password for root from "
                b"203.0.113.9 port 22 ssh2\n", must_err=int(ts in ISO_OUT_OF_RANGE),
                why="ts5424")
        out.add(b'{"@timestamp":"' + ts + b'","message":"Failed password for root",'
                b'"host":{"name":"j"}}\n', why="tsjson")
    for ts in BOGUS_AUDIT_TIME:
        out.add(b"type=SYSCALL msg=audit(" + ts + b":%d): pid=1 uid=0 comm=\"rm\" "
                b"exe=\"/usr/bin/rm\" key=\"delete\"\n" % serial(),
                must_err=1 if int(ts.split(b".")[0]) > 253402300799 and
                len(ts.split(b".")[0]) <= 18 else 0, why="audit time")
    for ts in BOGUS_ACCESS_TIME:
        out.add(b'203.0.113.7 - - [' + ts + b'] "GET /../../etc/passwd HTTP/1.1" 200 1 "-" '
                b'"sqlmap"\n', must_err=int(ts in ACCESS_OUT_OF_RANGE), why="access time")

    # 5. deep and broken JSON, raw and as a syslog payload
    deep = [b"[" * 100000, b'{"a":' * 50000 + b"1" + b"}" * 50000,
            b'{"a":' * 3000 + b'"x"' + b"}" * 3000, b'{"message":"' + b"\\" * 5001 + b'"}',
            b'{"message":"x"', b'{"message":"\\ud800"}', b'{"a":1,"a":2,"a":{"a":3}}',
            b'{"": "", " ": " ", ".": ".", "a..b": 1, "\\u0000": 2}',
            b'{"message":' + b"1" * 5000 + b"}", b'{"message":1e999999}',
            b'{"host":' + b"[" * 1000 + b"]" * 1000 + b"}", b"{" + b'"k":[],' * 20000 + b'"z":0}']
    for d in deep:
        out.add(d + b"\n", why="deep json")
        out.add(b"<14>Dec  6 08:00:00 web01 app[1]: " + d + b"\n", why="deep json in syslog")

    # 6. structure: too many fields, broken structured data, odd audit values
    H = b"<14>Dec  6 08:00:00 web01 "
    shapes = [
        H + b"fw[2]: " + b" ".join(b"k%d=v%d" % (i, i) for i in range(20000)),
        H + b"fw[2]: " + b"=" * 5000, H + b"fw[2]: a=\"unterminated b=1",
        H + b"fw[2]: " + b"a=" * 3000, H + b"fw[2]: " + b"x.y.z=1 " * 2000,
        H + b"app[1]: {" + b",".join(b'"k%d":%d' % (i, i) for i in range(20000)) + b"}",
        H + b'app[1]: {"a":{"b":{"c":[' + b"{},[]," * 5000 + b'0]}}}',
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [ex@1 a=\"b\\\"]\\\\\" c=\"d\"] m",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [ex@1 a=\"unterminated",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [ex@1" + b" k=\"v\"" * 5000 + b"] m",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID " + b"[e@1 a=\"1\"]" * 3000 + b" m",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [[[]]] m",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [ex@1 =\"\" .=\"x\" a..b=\"y\"] m",
        b"<165>1 2026-12-06T08:00:00Z web01 app 1 ID [" + b"x" * 70000 + b"] m",
        b"<165>1 - - - - - -", b"<165>1", b"<165>1 ", b"<165>", b"<165>1 - - - - - - \xef\xbb\xbf",
        b"type=EXECVE msg=audit(1700000000.1:%d): argc=300 " % serial()
        + b" ".join(b"a%d=41" % i for i in range(300)),
        b"type=EXECVE msg=audit(1700000000.1:%d): argc=2 a0=ABC a1=ZZ a2=\"" % serial(),
        b"type=EXECVE msg=audit(1700000000.1:%d): a0_len=99999 a0[0]=41 a0[1]=42" % serial(),
        b"type=PROCTITLE msg=audit(1700000000.1:%d): proctitle=" % serial() + b"41" * 40000,
        b"type=USER_CMD msg=audit(1700000000.1:%d): pid=1 msg='cmd=" % serial() + b"'" * 10,
        b"type=SYSCALL msg=audit(1700000000.1:%d): " % serial() + b"k=v " * 10000,
        b"node=" + b"n" * 5000 + b" type=SYSCALL msg=audit(1700000000.1:%d): pid=1" % serial(),
        b"type=SYSCALL msg=audit(1700000000.1:18446744073709551616): pid=1",
        b"type=SYSCALL msg=audit(.:): pid=1", b"type= msg=audit(1.1:1): x",
        b'203.0.113.7 - - [06/Dec/2026:08:00:00 +0700] "' + b"GET /" + b"A" * 100000
        + b' HTTP/1.1" 200 1 "-" "x"',
        b'203.0.113.7 - - [06/Dec/2026:08:00:00 +0700] "GET / HTTP/1.1" 200 1 "unterminated',
        b'203.0.113.7 - - [06/Dec/2026:08:00:00 +0700] "\\"\\"\\"" 200 1 "\\" "\\',
        b'203.0.113.7 - - [06/Dec/2026:08:00:00 +0700] "GET / HTTP/1.1" 99999999999999999999 '
        b'99999999999999999999999 "-" "-"',
        H + b"sshd[1]: Failed password for " + b"root " * 10000 + b"from 1.2.3.4 port 99999999999 ssh2",
        H + b"sshd[99999999999999999999]: Accepted password for root from ::ffff:1.2.3.4%eth0 port -1 ssh2",
        H + b"sudo: " + b";" * 5000 + b" COMMAND=" + b"/" * 5000,
        H + b"sudo: u : " + b"TTY=x ; " * 3000 + b"COMMAND=/bin/sh",
        H + b"useradd[1]: new user: name=, UID=99999999999999999999, GID=-1, home=, shell=",
    ]
    for line in shapes:
        out.add(line + b"\n", why="structure")
        out.add(line, why="structure, no newline")

    # 7. host names built to reach the operator's terminal: enough alerts
    #    to be among the "top hosts" canh prints on stderr at the end
    out.add(b"".join(b"<38>Dec  6 08:00:%02d ev\x1b[2J\x1b]0;t\x07il\xff\xc2\x9b sshd[1]: "
                     b"Failed password for root from 203.0.113.9 port 22 ssh2\n" % (i % 60)
                     for i in range(400)), why="escapes in a top host")

    # 8. huge lines, no final newline, empty and blank files
    out.add(b"<38>Dec  6 08:00:00 web01 sshd[1]: " + b"Failed password for root " * 200000,
            why="5 MB line, no newline")
    out.add(b"A" * (3 << 20) + b"\n" + b"B" * (2 << 20) + b"\n", why="two MB lines")
    out.add(b"\x00" * (1 << 20), why="1 MB of NUL, no newline")
    out.add(bytes(rng.getrandbits(8) for _ in range(1 << 18)), why="256 kB of random bytes")
    out.add(b"", why="empty file")
    out.add(b"\n\n\n", why="blank lines")
    out.add(b"\r\n\r\n", why="blank CR LF lines")
    out.add(b"\r\r\n", why="a lone CR")
    out.add(b"x", why="one byte, no newline")
    for i in range(20):
        n = rng.randint(1, 4000)
        out.add(bytes(rng.getrandbits(8) for _ in range(n)), why="random bytes")

    # 9. the TCP part: octet-counted frames (RFC 6587), good and bogus
    pool = [line_with(k, rng.choice(FORMATS[k][1]), tok)
            for k in sorted(FORMATS) for _, tok in TOKENS if len(tok) < 1000]
    pool += [b"<38>Dec  6 08:00:00 ev\x1b[2Jil\ncanh: sshd[1]: Failed password for root from "
             b"203.0.113.9 port 22 ssh2"] * 100   # a top host with an escape and a newline
    good = b"".join(b"%d %s" % (len(m), m) for m in pool)
    big = b"<38>Dec  6 08:00:00 web01 sshd[1]: " + b"Failed password for root " * 4000  # 100 kB
    tcp = [
        {"name": "good frames", "data": good,
         "expect": {"messages": len(pool), "bad_frames": 0, "dropped_too_long": 0,
                    "truncated": 0}},
        {"name": "oversize frame (truncated to max_message_size)",
         "data": b"%d %s" % (len(big), big) + b"5 hello",
         "expect": {"messages": 2, "truncated": 1}},
        {"name": "letters for a length", "data": b"abc def\nxyz\n",
         "expect": {"messages": 2, "bad_frames": 1}},
        {"name": "eleven digits", "data": b"12345678901 hello\n",
         "expect": {"messages": 1, "bad_frames": 1}},
        {"name": "zero length", "data": b"0 x\n", "expect": {"messages": 1, "bad_frames": 1}},
        {"name": "negative length", "data": b"-5 x\n",
         "expect": {"messages": 1, "bad_frames": 1}},
        {"name": "frame cut off by close", "data": b"500 short",
         "expect": {"messages": 0, "dropped_too_long": 1}},
        {"name": "10-digit length, 200 kB, then close", "data": b"9999999999 " + b"Z" * 200000,
         "expect": {"messages": 0, "dropped_too_long": 1}},
        {"name": "nothing", "data": b"", "expect": {"messages": 0}},
        {"name": "stray line ends", "data": b"\r\n\r\n5 hello", "expect": {"messages": 1}},
        {"name": "NUL after the length", "data": b"5 \x00\x00\x00\x00\x00" + b"3 abc",
         "expect": {"messages": 2}},
    ]
    with open(os.path.join(root, "tcp.json"), "w") as f:
        json.dump([dict(t, data=base64.b64encode(t["data"]).decode()) for t in tcp], f)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump({"seed": SEED, "files": out.files}, f)
    tot = lambda k: sum(x[k] for x in out.files)
    print(f"{len(out.files)} files, {tot('lines')} lines ({tot('blank')} blank), "
          f"{tot('bytes')} bytes; {len(tcp)} TCP streams ({len(pool)} good frames)")


if __name__ == "__main__":
    main()
