#!/usr/bin/env python3
"""
tests/suricata-verify/test_run.py -- tests of run.py's reading of
suricata-verify cases, on small made-up cases and a stand-in for canh (so
that they hold whatever canh's packet path does today).

The stand-in (written below) answers `rules check` with exit 0, or with
exit 1 and a "FILE:LINE: sid:N: REASON" line when a rule holds the word
`unsupportedkw`; and `scan` by printing the JSON alerts of the file
CAPTURE.alerts beside the capture. Run: python3 test_run.py
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

FAKE_CANH = r'''#!/usr/bin/env python3
import json
import sys
a = sys.argv[1:]
rules = [a[i + 1] for i in range(len(a)) if a[i] == "-r"]
if a[:2] == ["rules", "check"]:
    bad = 0
    for r in rules:
        for n, line in enumerate(open(r), 1):
            if "unsupportedkw" in line:
                print("%s:%d: sid:9: unsupported keyword 'unsupportedkw'" % (r, n))
                bad += 1
    sys.exit(1 if bad else 0)
if a[0] == "scan":
    cap = a[-1]
    with open(cap + ".argv", "w") as f:   # what the case's settings made run.py pass
        f.write(json.dumps(a))
    try:
        sys.stdout.write(open(cap + ".alerts").read())
    except OSError:
        pass
    print("canh: summary", file=sys.stderr)
    sys.exit(0)
sys.exit(2)
'''


def alert(sid, packet=1, nested=True):
    if nested:
        return json.dumps({"rule": {"id": str(sid), "version": "1", "name": "m"},
                           "source": {"ip": "10.0.0.1", "port": 1234},
                           "network": {"transport": "tcp"},
                           "canh": {"capture": {"file": "x", "packet": packet}}})
    return json.dumps({"rule.id": str(sid), "canh.capture.packet": packet})


def make_case(root, name, yaml_text, rules="alert tcp any any -> any any (content:\"a\"; sid:1;)\n",
              alerts=(), suricata_yaml=None, extra=None):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "test.yaml"), "w") as f:
        f.write(textwrap.dedent(yaml_text))
    if rules is not None:
        with open(os.path.join(d, "test.rules"), "w") as f:
            f.write(rules)
    with open(os.path.join(d, "input.pcap"), "wb") as f:
        f.write(b"\xd4\xc3\xb2\xa1")
    with open(os.path.join(d, "input.pcap.alerts"), "w") as f:
        f.write("".join(a + "\n" for a in alerts))
    if suricata_yaml:
        with open(os.path.join(d, "suricata.yaml"), "w") as f:
            f.write(textwrap.dedent(suricata_yaml))
    for name, text in (extra or {}).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(textwrap.dedent(text))


SID1_TWICE = """
    checks:
      - filter:
          count: 2
          match:
            event_type: alert
            alert.signature_id: 1
    """

CASES = {
    # name: (test.yaml, kwargs, expected status)
    "agree": (SID1_TWICE, dict(alerts=[alert(1), alert(1, nested=False)]), "agree"),
    "differ-count": (SID1_TWICE, dict(alerts=[alert(1)]), "differ"),
    "differ-extra": (SID1_TWICE, dict(alerts=[alert(1), alert(1), alert(1)]), "differ"),
    "skip-lt": ("requires:\n  lt-version: 7\n" + textwrap.dedent(SID1_TWICE), {}, "skip"),
    "vars": (SID1_TWICE, dict(alerts=[alert(1), alert(1)], suricata_yaml="""
        %YAML 1.1
        ---
        vars:
          address-groups:
            HOME_NET: "[10.0.0.0/8]"
        """), "agree"),
    "vars-default": (SID1_TWICE, dict(alerts=[alert(1), alert(1)], suricata_yaml="""
        %YAML 1.1
        ---
        vars:
          address-groups:
            HOME_NET: "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
        outputs:
          - fast:
              enabled: yes
        """), "agree"),
    "include-full": (SID1_TWICE, dict(alerts=[alert(1), alert(1)], suricata_yaml="""
        %YAML 1.1
        ---
        include: full.yaml
        """, extra={"full.yaml": """
        vars:
          address-groups:
            HOME_NET: "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
        af-packet:
          - interface: eth0
        stream:
          reassembly:
            depth: 1mb
        app-layer:
          protocols:
            tls:
              enabled: yes
        """}), "agree"),
    "include-vars": (SID1_TWICE, dict(alerts=[alert(1), alert(1)], suricata_yaml="""
        include: full.yaml
        """, extra={"full.yaml": """
        vars:
          port-groups:
            HTTP_PORTS: "8080"
        """}), "agree"),
    "midstream": ("args:\n  - --set stream.midstream=true\n" + textwrap.dedent(SID1_TWICE),
                  dict(alerts=[alert(1), alert(1)]), "agree"),
    "ips": ("args:\n  - --simulate-ips -k none\n" + textwrap.dedent(SID1_TWICE), {}, "unsupported"),
    "refused": (SID1_TWICE, dict(rules="alert tcp any any -> any any (unsupportedkw; sid:9;)\n"),
                "unsupported"),
    "other-events": ("""
        checks:
          - filter:
              count: 1
              match:
                event_type: http
                http.hostname: a
        """, {}, "n/c"),
    "unknown-key": ("""
        checks:
          - filter:
              count: 1
              match:
                event_type: alert
                alert.metadata.x: y
        """, {}, "n/c"),
    "no-rules": (SID1_TWICE, dict(rules=None), "n/c"),
    "other-rules-name": (SID1_TWICE, dict(rules=None, alerts=[alert(1), alert(1)],
                                          extra={"mine.rules": "alert ip any any -> any any "
                                                 "(content:\"b\"; sid:1;)\n"}), "agree"),
    "case-ips": (SID1_TWICE, dict(alerts=[alert(1), alert(1)]), "unsupported"),
    "pcap-cnt": ("""
        checks:
          - filter:
              count: 1
              match:
                event_type: alert
                pcap_cnt: 7
                alert.signature_id: 1
          - filter:
              count: 0
              match:
                event_type: alert
                alert.signature_id: 2
        """, dict(alerts=[alert(1, 7), alert(1, 8)]), "agree"),
    "fast-log": ("""
        checks:
          - shell:
              args: cat fast.log | wc -l | xargs
              expect: 2
        """, dict(alerts=[alert(1), alert(5)]), "agree"),
    "check-lt-dropped": ("""
        checks:
          - filter:
              requires:
                lt-version: 8
              count: 5
              match:
                event_type: alert
          - filter:
              requires:
                min-version: 99
              count: 1
              match:
                event_type: alert
        """, dict(alerts=[alert(3)]), "agree"),
}


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus")
        for name, (y, kw, _) in CASES.items():
            make_case(corpus, name, y, **kw)
        canh = os.path.join(tmp, "canh")
        with open(canh, "w") as f:
            f.write(FAKE_CANH)
        os.chmod(canh, 0o755)
        out = os.path.join(tmp, "r.json")
        p = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--canh", canh,
                            "--corpus", corpus, "--json", out],
                           capture_output=True, text=True)
        got = {c["case"]: c for c in json.load(open(out))}
        for name, (_, _, want) in CASES.items():
            if got[name]["status"] != want:
                failures += 1
                print("FAIL %s: status %s (%s), want %s"
                      % (name, got[name]["status"], got[name]["reason"], want))
        # a case's variables and midstream setting become canh options
        for name, want in (("vars", ["--var", "HOME_NET=[10.0.0.0/8]"]),
                           ("include-vars", ["--var", "HTTP_PORTS=8080"]),
                           ("midstream", ["--midstream"]), ("agree", [])):
            argv = json.load(open(os.path.join(corpus, name, "input.pcap.argv")))
            opts = [x for x in argv[1:-1] if x != "-r" and not x.endswith(".rules")]
            if opts != want:
                failures += 1
                print("FAIL %s: canh scan got options %r, want %r" % (name, opts, want))
        if "unsupportedkw" not in got["refused"]["reason"]:
            failures += 1
            print("FAIL refused: reason %r does not name the keyword" % got["refused"]["reason"])
        if got["differ-count"]["got"] != {"sid 1": 1}:
            failures += 1
            print("FAIL differ-count: got %r" % got["differ-count"]["got"])
        # comparable: agree, differ-count, differ-extra, vars, vars-default,
        # include-full, include-vars, midstream, ips, refused, pcap-cnt,
        # fast-log, check-lt-dropped, other-rules-name, case-ips -> 15;
        # supported 12, agreeing 10
        if "supported: 12 / 15" not in p.stdout or "agree:     10 / 12" not in p.stdout:
            failures += 1
            print("FAIL totals:\n" + p.stdout[-400:])
        if p.returncode != 1:   # 10/12 = 83% agree < 90%
            failures += 1
            print("FAIL exit status %d, want 1 (under the targets)" % p.returncode)
        p2 = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--canh", canh,
                             "--corpus", corpus, "--case", "agree", "--case", "pcap-cnt"],
                            capture_output=True, text=True)
        if p2.returncode != 0:
            failures += 1
            print("FAIL two agreeing cases: exit %d\n%s" % (p2.returncode, p2.stdout))
    print("test_run.py: %d cases, %d failures" % (len(CASES), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
