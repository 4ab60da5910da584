#!/usr/bin/env python3
"""
tests/suricata-verify/run.py -- canh against the suricata-verify cases.

Each case of OISF's suricata-verify (a folder holding test.yaml) is a real
capture, its rules and the alerts Suricata raises on it. For every case this
script decides:

  comparable?  the case's checks say how many alerts Suricata raises (see
               "Reading test.yaml" below); a case whose alert checks cannot
               be expressed on canh's alerts, or that tests Suricata itself
               (custom command, expected failure), is "n/c" with a reason.
  supported?   `canh rules check` accepts every rule of the case, and the
               case needs no configuration canh does not have (address or
               port variables other than Suricata's defaults, IPS mode,
               threshold files, stream settings that change results...).
  agree?       `canh scan -r RULES CAPTURE` raises exactly the counts every
               alert check asks for.

and prints the table (case, supported?, expected, got, agree) and the
totals: supported fraction (supported / comparable) and agreement fraction
(agree / supported). Exit status 1 when either is under the target of issue
14 (60% supported, 90% agree), 2 on a usage error; so `make verify` is a test.

Reading test.yaml (suricata-verify's run.py is the reference):
- the capture: `pcap:` (relative to the case folder; `pcap: false` = none),
  else the case's own *.pcap (input.pcap first).
- the rules: the folder's *.rules file (test.rules, or its one other
  *.rules file); `rules:` (a path to a file, or the rules inline);
  `-S FILE` in `args`. No rules at all: n/c.
- a case whose folder name holds "ips" runs with --simulate-ips in
  suricata-verify: unsupported (IPS mode).
- `requires`: canh is compared with the newest Suricata behaviour. A case
  or a check with `min-version` is kept whatever the version (canh is not
  Suricata); one with `lt-version` describes older Suricata behaviour and is
  skipped (a case: "skip"; a check: dropped). `features` (HAVE_JA4,
  HAVE_LUA ...) are not judged here: the rules check decides.
- a `filter` check counts the events of eve.json that match every key of
  `match`; `count` is exact. Only checks on alerts count here: `event_type:
  alert`, or no event_type but alert.* keys. Checks on other event types
  (http, dns, flow, fileinfo, stats ...) test Suricata's other outputs and
  are left out. A filter on another file (`filename:`) is left out.
- alert keys canh can be compared on: alert.signature_id (rule.id),
  alert.rev (rule.version), alert.signature (rule.name), src_ip/src_port,
  dest_ip/dest_port, proto (network.transport), app_proto
  (network.protocol), pcap_cnt (canh.capture.packet). Any other key in an
  alert check makes the case n/c.
- `shell` checks: `cat fast.log | wc -l` is the number of alerts (one line
  each in fast.log) and is compared; other shell checks and `stats` checks
  are about Suricata itself and are left out.
- Configuration: `args` and the case's suricata.yaml are read (a file it
  includes is a whole Suricata configuration of its day: only its
  variables and a few watched stream/threshold settings are judged there);
  options known not to change alerts (checksum checks off, run
  mode, output settings, HTTP body decompression limits, app-layer parser
  switches) pass; anything else makes the case unsupported with the option
  as reason. `--simulate-ips` (drops that change what follows) is
  unsupported. `stream.inline: true` passes: canh hands in-order bytes to
  detection as they arrive, without waiting for the ACK, which is what it
  makes Suricata do (parsers/packet/flow.h); the 62 detect-http-uri cases
  (Suricata's unit tests turned into synthetic captures) run with it.
  `stream.midstream: true` becomes canh's --midstream, and address and port
  variables (vars.address-groups.X, vars.port-groups.X) become --var X=V.

Usage: run.py [--canh build/canh] [--corpus DIR] [--case NAME ...]
              [--json FILE] [--targets 0.6,0.9] [--no-targets] [-v]
"""
import argparse
import collections
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # python3-yaml is in `make deps`
    sys.exit("run.py: python3-yaml is missing (make deps)")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus",
                                               "pcaps", "suricata-verify"))

# Suricata's default address and port groups (suricata.yaml.in): a case
# whose configuration sets other values needs variables canh's scan cannot
# be given, so it is unsupported ("vars").
SURICATA_VARS = {
    "address-groups": {
        "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
        "EXTERNAL_NET": "!$HOME_NET",
        "HTTP_SERVERS": "$HOME_NET", "SMTP_SERVERS": "$HOME_NET",
        "SQL_SERVERS": "$HOME_NET", "DNS_SERVERS": "$HOME_NET",
        "TELNET_SERVERS": "$HOME_NET", "AIM_SERVERS": "$EXTERNAL_NET",
        "DC_SERVERS": "$HOME_NET", "DNP3_SERVER": "$HOME_NET",
        "DNP3_CLIENT": "$HOME_NET", "MODBUS_CLIENT": "$HOME_NET",
        "MODBUS_SERVER": "$HOME_NET", "ENIP_CLIENT": "$HOME_NET",
        "ENIP_SERVER": "$HOME_NET",
    },
    "port-groups": {
        "HTTP_PORTS": "80", "SHELLCODE_PORTS": "!80", "ORACLE_PORTS": "1521",
        "SSH_PORTS": "22", "DNP3_PORTS": "20000", "MODBUS_PORTS": "502",
        "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]", "FTP_PORTS": "21",
        "GENEVE_PORTS": "6081", "VXLAN_PORTS": "4789", "TEREDO_PORTS": "3544",
        "SIP_PORTS": "[5060, 5061]",
    },
}

# Configuration keys (from --set or the case's suricata.yaml) that do not
# change which alerts fire for the rules canh can load. Prefix match.
NEUTRAL_CONFIG = (
    "outputs", "logging", "stats", "include", "ippair", "default-log-dir",
    "pcap-file.checksum-checks",
    "runmode", "default-rule-path",
    # HTTP body decompression: only body buffers (file_data,
    # http.response_body) see it, and canh refuses rules on them.
    "app-layer.protocols.http.libhtp.default-config.response-body-decompress-layer-limit",
    "app-layer.protocols.http.libhtp.default-config.decompression-time-limit",
    "app-layer.protocols.http.libhtp.default-config.lzma-enabled",
    "app-layer.protocols.http.libhtp.default-config.response-body-limit",
    # parser switches and limits of protocols canh has no rule keywords for
    "app-layer.protocols.smtp", "app-layer.protocols.ftp",
    "app-layer.protocols.http2.enabled",
    # fingerprints canh computes anyway
    "app-layer.protocols.tls.ja4-fingerprints",
    "app-layer.protocols.tls.ja3-fingerprints",
    "app-layer.protocols.ssh.hassh",
)

# Command-line switches: neutral, or making the case unsupported (reason).
NEUTRAL_SWITCHES = {"-k": 1, "--runmode=single": 0, "-v": 0, "-vv": 0}
UNSUPPORTED_SWITCHES = {"--simulate-ips": "ips mode", "-T": "config test",
                        "--engine-analysis": "engine analysis"}

# eve.json alert key -> (canh alert field, how values compare)
ALERT_KEYS = {
    "alert.signature_id": ("rule.id", "str"),
    "alert.rev": ("rule.version", "str"),
    "alert.signature": ("rule.name", "str"),
    "src_ip": ("source.ip", "ip"),
    "dest_ip": ("destination.ip", "ip"),
    "src_port": ("source.port", "int"),
    "dest_port": ("destination.port", "int"),
    "proto": ("network.transport", "nocase"),
    "app_proto": ("network.protocol", "nocase"),
    "pcap_cnt": ("canh.capture.packet", "int"),
}

FAST_LOG_COUNT = re.compile(r"^\s*cat\s+fast\.log\s*\|\s*wc\s+-l(\s*\|\s*xargs)?\s*$")

CANH_VERSION = (99, 0, 0)   # "newer than any Suricata": see requires above


def version_tuple(v):
    parts = [int(p) for p in re.findall(r"\d+", str(v))][:3]
    return tuple(parts + [0] * (3 - len(parts)))


class Case:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.status = None        # "skip", "n/c", "unsupported", "agree", "differ", "error"
        self.reason = ""
        self.pcap = None
        self.rule_files = []
        self.scan_args = []       # canh options the case's configuration asks for
        self.checks = []          # (match: {canh_field: (kind, value)}, count, label)
        self.expected = collections.OrderedDict()   # label -> count
        self.got = collections.OrderedDict()
        self.refused = []         # lines of `canh rules check`
        self.alerts_by_sid = collections.Counter()

    @property
    def comparable(self):
        return self.status not in ("skip", "n/c")

    @property
    def supported(self):
        return self.status in ("agree", "differ", "error")


# ---------------------------------------------------------------- test.yaml

def requires_ok(req):
    """True when canh, compared as the newest Suricata, meets `requires`."""
    if not req:
        return True, ""
    if "lt-version" in req and CANH_VERSION >= version_tuple(req["lt-version"]):
        return False, "lt-version %s (older Suricata behaviour)" % req["lt-version"]
    return True, ""


def find_pcap(case, y):
    if "pcap" in y:
        if y["pcap"] is False:
            return None
        return os.path.normpath(os.path.join(case.path, str(y["pcap"])))
    pcaps = sorted(f for f in os.listdir(case.path) if f.endswith((".pcap", ".pcapng")))
    if "input.pcap" in pcaps:
        return os.path.join(case.path, "input.pcap")
    return os.path.join(case.path, pcaps[0]) if pcaps else None


def split_args(y):
    args = y.get("args") or []
    if isinstance(args, str):
        args = [args]
    toks = []
    for a in args:
        toks += shlex.split(str(a))
    return toks


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(prefix + "." + str(k) if prefix else str(k), x, out)
    else:
        out.append((prefix, v))


# Suricata's own defaults of settings that would otherwise be judged: a
# case (or its included config) setting one to its default is fine.
SURICATA_DEFAULTS = {"stream.reassembly.depth": "1mb", "stream.async-oneside": "false",
                     "packet-alert-max": "15", "stream.bypass": "false"}


def config_problem(key, value):
    """None when KEY=VALUE does not change alerts, else a short reason."""
    v = str(value).strip().lower()
    v = {"no": "false", "yes": "true"}.get(v, v)
    if SURICATA_DEFAULTS.get(key) == v:
        return None
    if key == "stream.inline":
        return None   # what canh's reassembly always does: see the top comment
    if key.startswith("outputs") and re.search(r"'xff': \{'enabled': (True|'yes')", repr(value)):
        return "config xff (alert addresses taken from X-Forwarded-For)"
    if key.startswith("vars."):
        parts = key.split(".")
        if len(parts) == 3 and SURICATA_VARS.get(parts[1], {}).get(parts[2]) == str(value):
            return None
        return "vars (%s)" % parts[-1]
    for p in NEUTRAL_CONFIG:
        if key == p or key.startswith(p + "."):
            return None
    return "config %s" % key


# Settings judged in a file the case's suricata.yaml includes: such a file
# is a whole Suricata configuration of its day (every key of it), so only
# what would make canh differ is looked at there: variables, and the
# settings below.
WATCHED_IN_INCLUDES = ("vars.", "stream.inline", "stream.midstream", "stream.async-oneside",
                       "stream.reassembly.depth", "threshold-file", "packet-alert-max")


def load_yaml_config(path, seen=None, included=False):
    """The flattened keys of a Suricata config file and its includes (of an
    included file, only the WATCHED_IN_INCLUDES ones)."""
    seen = seen or set()
    if path in seen or not os.path.exists(path):
        return []
    seen.add(path)
    with open(path) as f:
        text = f.read()
    # Suricata's files start with "%YAML 1.1" and "---", which PyYAML reads.
    y = yaml.safe_load(text) or {}
    out = []
    inc = y.get("include")
    for i in ([inc] if isinstance(inc, str) else inc or []):
        out += load_yaml_config(os.path.join(os.path.dirname(path), i), seen, True)
    mine = []
    flatten("", {k: v for k, v in y.items() if k != "include"}, mine)
    if included:
        mine = [(k, v) for k, v in mine if k.startswith(WATCHED_IN_INCLUDES)]
    return out + mine


def canh_option(key, value):
    """The canh options a Suricata setting maps onto, or None: the midstream
    pick-up (--midstream) and address and port variables (--var)."""
    v = str(value).strip().lower()
    if key == "stream.midstream":
        return ["--midstream"] if v in ("true", "yes", "1") else []
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "vars" and parts[1] in ("address-groups",
                                                                "port-groups"):
        if SURICATA_VARS.get(parts[1], {}).get(parts[2]) == str(value):
            return []
        return ["--var", "%s=%s" % (parts[2], value)]
    return None


def read_config(case, y, toks):
    """Rule files named by -S and the first unsupported setting, if any;
    the canh options the settings map onto go to case.scan_args."""
    problems, rules = [], []

    def setting(k, v):
        opt = canh_option(k, v)
        if opt is not None:
            if opt and opt not in [case.scan_args[i:i + len(opt)]
                                   for i in range(len(case.scan_args))]:
                case.scan_args += opt
            return
        p = config_problem(k, v)
        if p:
            problems.append(p)

    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "--set" and i + 1 < len(toks):
            k, _, v = toks[i + 1].partition("=")
            setting(k.strip(), v.strip())
            i += 2
            continue
        if t.startswith("--set="):
            k, _, v = t[6:].partition("=")
            setting(k, v)
        elif t == "-S" and i + 1 < len(toks):
            rules.append(toks[i + 1].replace("${TEST_DIR}", case.path))
            i += 2
            continue
        elif t in UNSUPPORTED_SWITCHES:
            problems.append(UNSUPPORTED_SWITCHES[t])
        elif t in NEUTRAL_SWITCHES:
            i += NEUTRAL_SWITCHES[t]
        elif t.startswith("--runmode"):
            pass
        else:
            problems.append("option %s" % t)
        i += 1
    conf = os.path.join(case.path, "suricata.yaml")
    for k, v in load_yaml_config(conf):
        setting(k, v)
    return rules, problems


def alert_check(flt):
    """An alert filter as ({canh_field: (kind, value)}, count, label), or
    None when the filter is not about alerts, or a string: why it cannot be
    compared."""
    if "filename" in flt and flt["filename"] not in ("eve.json",):
        return None
    m = flt.get("match") or {}
    et = m.get("event_type")
    alertish = et == "alert" or (et is None and any(
        str(k).startswith("alert.") for k in m))
    if not alertish:
        return None
    if "count" not in flt:
        return "alert check without count"
    out, sid = {}, None
    for k, v in m.items():
        if k == "event_type":
            continue
        if k not in ALERT_KEYS:
            return "alert check on %s" % k
        field, kind = ALERT_KEYS[k]
        out[field] = (kind, v)
        if k == "alert.signature_id":
            sid = str(v)
    extra = sorted(k for k in m if k not in ("event_type", "alert.signature_id"))
    label = ("sid %s" % sid) if sid else "all"
    if extra:
        label += "[" + ",".join("%s=%s" % (k, m[k]) for k in extra) + "]"
    return out, int(flt["count"]), label


def read_case(case):
    ypath = os.path.join(case.path, "test.yaml")
    try:
        with open(ypath) as f:
            y = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        case.status, case.reason = "n/c", "test.yaml: %s" % e
        return
    ok, why = requires_ok(y.get("requires"))
    if not ok:
        case.status, case.reason = "skip", why
        return
    if "command" in y:
        case.status, case.reason = "n/c", "custom command"
        return
    if y.get("exit-code", 0) not in (0, None):
        case.status, case.reason = "n/c", "expects Suricata to fail"
        return
    for c in y.get("checks") or []:
        if "filter" in c:
            flt = c["filter"]
            if not requires_ok(flt.get("requires"))[0]:
                continue
            r = alert_check(flt)
            if r is None:
                continue
            if isinstance(r, str):
                case.status, case.reason = "n/c", r
                return
            case.checks.append(r)
        elif "shell" in c:
            sh = c["shell"]
            if FAST_LOG_COUNT.match(str(sh.get("args", ""))) and "expect" in sh:
                case.checks.append(({}, int(sh["expect"]), "fast.log"))
    if not case.checks:
        case.status, case.reason = "n/c", "no alert check"
        return
    toks = split_args(y)
    s_rules, problems = read_config(case, y, toks)
    # suricata-verify passes the folder's one *.rules file (test.rules, or
    # another name: http-sticky-location.rules, input.rules ...) with -S
    own = sorted(f for f in os.listdir(case.path) if f.endswith(".rules"))
    if "test.rules" in own:
        own = ["test.rules"]
    case.rule_files += [os.path.join(case.path, f) for f in own]
    r = y.get("rules")
    if isinstance(r, str) and "\n" not in r.strip() and \
            os.path.exists(os.path.join(case.path, r)):
        case.rule_files.append(os.path.normpath(os.path.join(case.path, r)))
    elif isinstance(r, (str, list)):
        text = r if isinstance(r, str) else "\n".join(map(str, r))
        fd, tmp = tempfile.mkstemp(prefix="sv-", suffix=".rules")
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        case.rule_files.append(tmp)
        case.temp_rules = tmp
    for s in s_rules:
        p = s if os.path.isabs(s) else os.path.join(case.path, s)
        case.rule_files.append(p)
    case.pcap = find_pcap(case, y)
    seen = collections.Counter()
    for i, (m, count, label) in enumerate(case.checks):   # labels unique: a key per check
        seen[label] += 1
        if seen[label] > 1:
            label = "%s#%d" % (label, seen[label])
            case.checks[i] = (m, count, label)
        case.expected[label] = count
    if not case.rule_files:
        case.status, case.reason = "n/c", "no rules"
        return
    if not case.pcap or not os.path.exists(case.pcap):
        case.status, case.reason = "n/c", "no capture"
        return
    if "ips" in os.path.basename(case.path):   # suricata-verify adds --simulate-ips then
        problems.insert(0, "ips mode (case name)")
    if problems:
        case.status, case.reason = "unsupported", problems[0]
        return
    case.status = "pending"


# ---------------------------------------------------------------- canh

def rule_args(case):
    out = list(case.scan_args)
    for r in case.rule_files:
        out += ["-r", r]
    return out


def rules_check(canh, case, timeout):
    try:
        p = subprocess.run([canh, "rules", "check"] + rule_args(case),
                           capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return False, "rules check timed out"
    if p.returncode == 0:
        return True, ""
    lines = [l for l in (p.stdout + p.stderr).splitlines() if ": sid:" in l]
    case.refused = lines
    if lines:
        # "FILE:LINE: sid:N: REASON" -> REASON
        why = lines[0].split(": sid:", 1)[1].split(": ", 1)
        return False, "rules: %d refused (%s)" % (len(lines), why[1] if len(why) > 1 else why[0])
    first = (p.stderr or p.stdout).strip().splitlines()
    msg = re.sub(r"^\S+:\d+: ", "", first[0])[:80] if first else ""
    return False, "rules check exit %d%s" % (p.returncode, (": " + msg) if msg else "")


def get_field(obj, path):
    """obj's value at dotted PATH, nested ({"rule":{"id":..}}) or flat
    ({"rule.id": ..}) or any mix; None when absent."""
    if not isinstance(obj, dict):
        return None
    if path in obj:
        return obj[path]
    parts = path.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in obj:
            v = get_field(obj[head], ".".join(parts[i:]))
            if v is not None:
                return v
    return None


def same(kind, want, got):
    if got is None:
        return False
    if kind == "int":
        try:
            return int(want) == int(got)
        except (TypeError, ValueError):
            return False
    if kind == "nocase":
        return str(want).lower() == str(got).lower()
    if kind == "ip":
        import ipaddress
        try:
            return ipaddress.ip_address(str(want)) == ipaddress.ip_address(str(got))
        except ValueError:
            return str(want) == str(got)
    return str(want) == str(got)


def scan(canh, case, timeout):
    try:
        p = subprocess.run([canh, "scan"] + rule_args(case) + [case.pcap],
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "scan timed out after %ds" % timeout
    if p.returncode != 0:   # 1: an input failed, 2: usage or rules (README)
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, "scan exit %d%s" % (p.returncode, (": " + err[-1][:80]) if err else "")
    alerts = []
    for line in p.stdout.splitlines():
        try:
            a = json.loads(line)
        except ValueError:
            continue
        if isinstance(a, dict) and get_field(a, "rule.id") is not None:
            alerts.append(a)
    return alerts, ""


def compare(case, alerts):
    agree = True
    for match, count, label in case.checks:
        n = sum(1 for a in alerts
                if all(same(kind, v, get_field(a, f)) for f, (kind, v) in match.items()))
        case.got[label] = n
        agree = agree and n == count
    case.alerts_by_sid = collections.Counter(str(get_field(a, "rule.id")) for a in alerts)
    return agree


# ---------------------------------------------------------------- report

def fmt_counts(d):
    return " ".join("%s:%d" % (k.replace("sid ", ""), v) for k, v in d.items()) or "-"


def find_cases(corpus, only):
    cases = []
    for dirpath, dirnames, filenames in os.walk(corpus):
        dirnames.sort()
        if "test.yaml" in filenames:
            name = os.path.relpath(dirpath, corpus)
            if not only or any(name == o or name.startswith(o.rstrip("/") + "/") for o in only):
                cases.append(Case(name, dirpath))
    return sorted(cases, key=lambda c: c.name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--canh", default=os.path.join(ROOT, "build", "canh"))
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--case", action="append", default=[],
                    help="only this case (or folder of cases); repeatable")
    ap.add_argument("--json", help="write every case's result to this file")
    ap.add_argument("--targets", default="0.6,0.9",
                    help="min supported fraction, min agreement fraction")
    ap.add_argument("--no-targets", action="store_true", help="exit 0 whatever the figures")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per canh command")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the refused rules and the reasons of n/c cases")
    a = ap.parse_args()
    if not os.path.isdir(a.corpus):
        print("run.py: no corpus at %s" % a.corpus, file=sys.stderr)
        return 2
    if not os.access(a.canh, os.X_OK):
        print("run.py: %s is not an executable (make first)" % a.canh, file=sys.stderr)
        return 2
    t_sup, t_agree = (float(x) for x in a.targets.split(","))
    cases = find_cases(a.corpus, a.case)
    if not cases:
        print("run.py: no case matches", file=sys.stderr)
        return 2

    w = max(len(c.name) for c in cases)
    print("%-*s  %-11s  %-24s  %-24s  %s" % (w, "case", "supported?", "expected", "got", "agree / why"))
    reasons = collections.Counter()
    for c in cases:
        read_case(c)
        if c.status == "pending":
            ok, why = rules_check(a.canh, c, a.timeout)
            if not ok:
                c.status, c.reason = "unsupported", why
        if c.status == "pending":
            alerts, err = scan(a.canh, c, a.timeout)
            if alerts is None:
                c.status, c.reason = "error", err
            else:
                c.status = "agree" if compare(c, alerts) else "differ"
                if c.status == "differ":
                    c.reason = "canh sids " + (fmt_counts(c.alerts_by_sid) if c.alerts_by_sid else "none")
        sup = {"agree": "yes", "differ": "yes", "error": "yes",
               "unsupported": "no", "n/c": "n/c", "skip": "skip"}[c.status]
        verdict = {"agree": "yes", "differ": "NO", "error": "ERROR"}.get(c.status, "")
        why = " ".join(x for x in (verdict, c.reason) if x)
        print("%-*s  %-11s  %-24s  %-24s  %s" % (
            w, c.name, sup, fmt_counts(c.expected) if c.comparable else "",
            fmt_counts(c.got) if c.supported else "", why))
        if c.status in ("unsupported", "n/c", "skip"):
            reasons[(c.status, re.sub(r"\d+ refused", "N refused", c.reason))] += 1
        if a.verbose:
            for l in c.refused:
                print("    " + l)
        if getattr(c, "temp_rules", None):
            os.unlink(c.temp_rules)

    total = len(cases)
    skipped = sum(c.status == "skip" for c in cases)
    comparable = [c for c in cases if c.comparable]
    supported = [c for c in comparable if c.supported]
    agreeing = [c for c in supported if c.status == "agree"]
    f_sup = len(supported) / len(comparable) if comparable else 0.0
    f_agree = len(agreeing) / len(supported) if supported else 0.0
    print()
    print("why not supported / not comparable (cases):")
    for (st, r), n in reasons.most_common():
        print("  %4d  %-11s %s" % (n, st, r))
    print()
    print("cases: %d in the corpus, %d skipped (lt-version), %d not comparable, %d comparable"
          % (total, skipped, total - skipped - len(comparable), len(comparable)))
    print("supported: %d / %d comparable = %.1f%% (target %.0f%%)"
          % (len(supported), len(comparable), 100 * f_sup, 100 * t_sup))
    print("agree:     %d / %d supported  = %.1f%% (target %.0f%%)"
          % (len(agreeing), len(supported), 100 * f_agree, 100 * t_agree))
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"case": c.name, "status": c.status, "reason": c.reason,
                        "expected": c.expected, "got": c.got,
                        "canh_sids": dict(c.alerts_by_sid), "refused": c.refused}
                       for c in cases], f, indent=1)
    if a.no_targets:
        return 0
    return 0 if (f_sup >= t_sup and f_agree >= t_agree) else 1


if __name__ == "__main__":
    sys.exit(main())
