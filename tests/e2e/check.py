#!/usr/bin/env python3
"""
tests/e2e/check.py -- runs one end-to-end case and checks its `expect` file.

A case is a folder under tests/e2e/ with:
  cmd      the canh command line (one line; $BUILD, $CASE, $CORPUS, $ROOT and
           $OUT are replaced; alerts are expected in $OUT/alerts.jsonl and
           counts in $OUT/stats.json when the command writes them)
  expect   one check per line (# comments):
    requires PATH                 skip the case (with a message) if PATH is missing
                                  (a cmd that exits 0 printing "SKIP: WHY" first is skipped too)
    not_under SANITIZER WHY       skip it in that sanitizer's build ($SANITIZER: thread)
    exit N                        exit status
    stat KEY OP EXPR              a STATS.json value (dotted: by_level.high, by_rule.<id>)
    alerts OP EXPR                number of alert lines
    alerts_for RULE-ID OP EXPR    alerts of one rule
    alerts_valid                  every alert line is a JSON object with the ECS alert keys
    stderr_has TEXT / stderr_lacks TEXT / stdout_has TEXT / stdout_lacks TEXT
    stderr_clean                  stderr is well-formed UTF-8 with no control character
                                  but the line ends: no other C0 (tab, CR, ESC ...), DEL
                                  or C1 (U+0080..U+009F)
    stderr_count OP N TEXT        how many times TEXT occurs in stderr
    loaded_ratio OP X             from "N rules loaded, M refused" on stdout
    refusals_wellformed           every other stdout line is FILE:LINE: RULE-ID: REASON
    same_alerts_as FILE           alerts.jsonl equals FILE, in order (detection time aside)
    same_stats_as FILE            stats.json equals FILE (the times aside: seconds, cpu_seconds)
    cache_hits all|none ...       one word per "N of M databases loaded from the cache" line
    every_rule_fires DIR          every rule id found in DIR's *.yml raised an alert
    each_field RULE-ID KEY VALUE  every alert of RULE-ID has dotted KEY == VALUE (a
                                  number in KEY indexes a list: canh.matched.0.value)
    matched_consistent            every alert carries canh.matched, a non-empty list whose
                                  entries name a selection, the rule's key and value, and
                                  a field of the alert holding exactly that value
    matched_absent                no alert carries canh.matched
    every_alert KEY VALUE         every alert has dotted KEY == VALUE (VALUE "*": present)
    no_alert_has KEY              no alert has dotted KEY
    no_alert KEY VALUE            no alert has dotted KEY == VALUE (in an array too)
    some_alert KEY VALUE          at least one alert has dotted KEY == VALUE (in an array too)
    ids_unique                    no two alerts have the same event.id
    offsets_true                  each alert with log.file.path and log.offset: the
                                  file's line at that byte offset is the first line of
                                  event.original (the exact bytes: event.original_base64)
  input files and rules the case needs.

Whatever the expect file says, every alert of every *.jsonl file the case
leaves in $OUT is checked against ECS 9.4 (ecs_check.py: types, no dotted
or empty keys, no value where ECS has an object); a violation fails it.
EXPR is an integer, lines(FILE, "text") -- the number of lines of FILE that
contain text -- lines_re(FILE, "regex") (Python regex), or
text(FILE, MODE, "value") -- the lines whose message matches value as Sigma
compares text (MODE: contains, startswith, endswith, equals, cased, re,
re_i; see text_count) -- computed here, independently of canh.
"""
import base64, json, os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecs_check

def text_count(path, mode, value):
    """Lines of a syslog file whose message (after the first ': ') matches
    the way Sigma means text: NFC on both sides; contains, startswith,
    endswith and equals case-insensitive (str.casefold) with * and ? as
    wildcards over characters; cased: contains, exact case; re and re_i:
    Python's re (Unicode classes, case folding with re_i)."""
    import unicodedata
    nfc = lambda s: unicodedata.normalize("NFC", s)
    if mode in ("re", "re_i"):
        rx = re.compile(nfc(value), re.I if mode == "re_i" else 0)
        fold = nfc
    else:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                       for c in nfc(value if mode == "cased" else value.casefold()))
        body = {"startswith": r"\A" + body, "endswith": body + r"\Z",
                "equals": r"\A" + body + r"\Z"}.get(mode, body)
        rx = re.compile(body, re.S)
        fold = nfc if mode == "cased" else (lambda s: nfc(nfc(s).casefold()))
        if mode not in ("contains", "startswith", "endswith", "equals", "cased"):
            raise ValueError(f"text(): unknown mode {mode}")
    n = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            msg = line.rstrip("\n").split(": ", 1)[-1]
            n += bool(rx.search(fold(msg)))
    return n


def main():
    case, build, root = sys.argv[1], sys.argv[2], sys.argv[3]
    corpus = os.path.normpath(os.path.join(root, "..", "shared", "corpus"))
    out = os.path.join(build, "e2e", os.path.basename(case))
    os.makedirs(out, exist_ok=True)
    for f in ("alerts.jsonl", "stats.json"):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    subst = lambda s: (s.replace("$BUILD", build).replace("$CASE", case)
                        .replace("$CORPUS", corpus).replace("$ROOT", root).replace("$OUT", out))
    checks = [subst(l.strip()) for l in open(os.path.join(case, "expect"))
              if l.strip() and not l.strip().startswith("#")]
    for c in checks:
        if c.startswith("not_under ") and c.split(None, 2)[1] == os.environ.get("SANITIZER"):
            why = c.split(None, 2)[2] if len(c.split(None, 2)) > 2 else ""
            print(f"SKIP {os.path.basename(case)}: not run under the {c.split()[1]} sanitizer: {why}")
            return 0
        if c.startswith("requires "):
            p = c.split(None, 1)[1]
            if not os.path.exists(p):
                print(f"SKIP {os.path.basename(case)}: {p} not found (the shared corpus is not here)")
                return 0
    cmd = subst(open(os.path.join(case, "cmd")).read().strip())
    # stamps without a zone are read in the machine's zone: every case runs
    # in UTC, whatever this machine's is (the time zone cases set their own)
    p = subprocess.run(["bash", "-c", cmd], cwd=root, capture_output=True, timeout=600,
                       env=dict(os.environ, TZ="UTC"))
    stdout, stderr = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if p.returncode == 0 and stdout.startswith("SKIP: "):   # the driver cannot run here
        print(f"SKIP {os.path.basename(case)}: {stdout.splitlines()[0][6:]}")
        return 0
    stats, alerts = None, None

    def get_stats():
        nonlocal stats
        if stats is None:
            stats = json.load(open(os.path.join(out, "stats.json")))
        return stats

    def get_alerts():
        nonlocal alerts
        if alerts is None:
            path = os.path.join(out, "alerts.jsonl")
            alerts = []
            if os.path.exists(path):
                with open(path, "rb") as f:
                    for i, raw in enumerate(f, 1):
                        try:
                            alerts.append(json.loads(raw.decode("utf-8")))
                        except Exception as e:
                            fail(f"alert line {i} is not valid JSON: {e}: {raw[:200]!r}")
        return alerts

    def expr(e):
        m = re.fullmatch(r'text\((\S+),\s*(\w+),\s*"(.*)"\)', e)
        if m:
            return text_count(m.group(1), m.group(2), re.sub(r'\\(.)', r'\1', m.group(3)))
        m = re.fullmatch(r'lines_re\((\S+),\s*"(.*)"\)', e)
        if m:
            rx = re.compile(m.group(2).encode())
            with open(m.group(1), "rb") as f:
                return sum(1 for l in f if rx.search(l))
        m = re.fullmatch(r'lines\((\S+),\s*"(.*)"\)', e)
        if m:
            needle = m.group(2).encode()
            with open(m.group(1), "rb") as f:
                return sum(1 for l in f if needle in l)
        return int(e)

    def compare(name, got, op, want):
        if got is None:   # a stats key that is not there at all
            fail(f"{name}: missing, want {op} {want}")
            return
        ok = {"==": got == want, ">=": got >= want, "<=": got <= want,
              ">": got > want, "<": got < want, "!=": got != want}[op]
        if not ok:
            fail(f"{name}: got {got}, want {op} {want}")

    def dig(obj, key):
        for part in key.split("."):
            if isinstance(obj, dict) and part in obj:
                obj = obj[part]
            elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
                obj = obj[int(part)]
            else:
                return None
        return obj

    failures = []
    def fail(msg):
        failures.append(msg)

    for c in checks:
        w = c.split()
        try:
            if w[0] in ("requires", "not_under"):
                continue
            elif w[0] == "exit":
                compare("exit status", p.returncode, "==", int(w[1]))
            elif w[0] == "stat":
                key, op, e = w[1], w[2], " ".join(w[3:])
                s = get_stats()
                v = s
                for part in (key.split(".", 1) if key.startswith("by_rule.") else key.split(".")):
                    v = v.get(part, 0) if isinstance(v, dict) else None
                compare("stat " + key, v, op, expr(e))
            elif w[0] == "alerts":
                compare("alerts", len(get_alerts()), w[1], expr(" ".join(w[2:])))
            elif w[0] == "alerts_for":
                n = sum(1 for a in get_alerts() if dig(a, "rule.id") == w[1])
                compare("alerts of " + w[1], n, w[2], expr(" ".join(w[3:])))
            elif w[0] == "alerts_valid":
                for a in get_alerts():
                    # an alert on packets has no original text: its fields say it all
                    packets = dig(a, "canh.input.type") in ("pcap", "capture")
                    for k in ("@timestamp", "event.kind", "event.severity", "rule.id", "rule.name",
                              "rule.level", "rule.ruleset") + (() if packets else
                                                               ("event.original",)):
                        if dig(a, k) is None:
                            fail(f"alert lacks {k}: {json.dumps(a)[:200]}")
                            break
                    if dig(a, "event.kind") != "alert":
                        fail("event.kind is not alert")
            elif w[0] in ("stderr_has", "stderr_lacks", "stdout_has", "stdout_lacks"):
                text = c.split(None, 1)[1]
                hay = stderr if w[0].startswith("stderr") else stdout
                if (text in hay) != (not w[0].endswith("_lacks")):
                    fail(f"{w[0]} {text!r}; stdout/stderr were:\n{stdout[-1500:]}\n{stderr[-1500:]}")
            elif w[0] == "stderr_clean":
                try:
                    text = p.stderr.decode("utf-8")
                    bad = re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
                    if bad:
                        at = text[max(0, bad.start() - 60):bad.start() + 20]
                        fail(f"stderr has the control character {bad.group()!r}: ...{at!r}")
                except UnicodeDecodeError as e:
                    fail(f"stderr is not UTF-8: {e}: {p.stderr[max(0, e.start - 60):e.end]!r}")
            elif w[0] == "stderr_count":
                text = c.split(None, 3)[3]
                compare(f"stderr_count {text!r}", stderr.count(text), w[1], int(w[2]))
            elif w[0] == "loaded_ratio":
                m = re.search(r"(\d+) rules loaded, (\d+) refused", stdout)
                if not m:
                    fail("no 'N rules loaded, M refused' line on stdout")
                else:
                    ok, bad = int(m.group(1)), int(m.group(2))
                    compare(f"loaded ratio ({ok} loaded, {bad} refused)", ok / max(1, ok + bad),
                            w[1], float(w[2]))
            elif w[0] == "refusals_wellformed":
                for l in stdout.splitlines():
                    if re.match(r"^\d+ (rules loaded|patterns)", l):
                        continue
                    if not re.match(r"^\S+\.ya?ml:\d+: \S+: \S.{5,}", l):
                        fail(f"refusal line not in FILE:LINE: RULE-ID: REASON form: {l!r}")
                        break
            elif w[0] == "same_alerts_as":
                # same alerts in the same order, but for the detection time
                # (event.created, and @timestamp where it fell back to it)
                def norm(path):
                    out = []
                    with open(path, encoding="utf-8") as f:
                        for line in f:
                            a = json.loads(line)
                            created = a.get("event", {}).pop("created", None)
                            if a.get("@timestamp") == created:
                                a.pop("@timestamp")
                            out.append(a)
                    return out
                mine, other = norm(os.path.join(out, "alerts.jsonl")), norm(w[1])
                if mine != other:
                    bad = next((i for i in range(min(len(mine), len(other)))
                                if mine[i] != other[i]), min(len(mine), len(other)))
                    fail(f"alerts differ from {w[1]}: {len(mine)} vs {len(other)}, first at {bad}")
            elif w[0] == "same_stats_as":
                mine = dict(get_stats())
                other = json.load(open(w[1]))
                for timing in ("seconds", "cpu_seconds"):
                    mine.pop(timing, None)
                    other.pop(timing, None)
                if mine != other:
                    fail(f"stats differ from {w[1]}: " +
                         str({k: (mine.get(k), other.get(k)) for k in set(mine) | set(other)
                              if mine.get(k) != other.get(k)})[:400])
            elif w[0] == "cache_hits":
                # every "N of M databases loaded from the cache" line on stdout, in order
                got = re.findall(r"(\d+) of (\d+) databases loaded from the cache", stdout)
                want = w[1:]
                if len(got) != len(want):
                    fail(f"cache lines: got {got}, want {want}")
                for (h, total), wnt in zip(got, want):
                    ok = {"all": h == total and int(total) > 0, "none": h == "0"}[wnt]
                    if not ok:
                        fail(f"cache: {h} of {total} databases from the cache, want {wnt}")
            elif w[0] == "every_rule_fires":
                ids = set()
                for d, _, files in os.walk(w[1]):
                    for fn in files:
                        if fn.endswith((".yml", ".yaml")):
                            for l in open(os.path.join(d, fn)):
                                m = re.match(r"^id:\s*['\"]?([^'\"\s]+)", l)
                                if m:
                                    ids.add(m.group(1))
                fired = {dig(a, "rule.id") for a in get_alerts()}
                missing = sorted(ids - fired)
                if missing:
                    fail(f"{len(missing)} rules never fired: {missing[:10]}")
            elif w[0] == "each_field":
                rid, key, val = w[1], w[2], " ".join(w[3:])
                for a in get_alerts():
                    if dig(a, "rule.id") == rid and str(dig(a, key)) != val:
                        fail(f"alert of {rid} has {key}={dig(a, key)!r}, want {val!r}")
                        break
            elif w[0] == "matched_consistent":
                for a in get_alerts():
                    m = dig(a, "canh.matched")
                    if not isinstance(m, list) or not m:
                        fail(f"alert of {dig(a, 'rule.id')} has no canh.matched list")
                        break
                    for e in m:
                        have = dig(a, e.get("field", ""))
                        have = have if isinstance(have, list) else [have]
                        if not (e.get("selection") and e.get("rule_field") and
                                "rule_value" in e and "value" in e and
                                any(str(h) == str(e["value"]) for h in have)):
                            fail(f"alert of {dig(a, 'rule.id')}: canh.matched entry {e} does "
                                 f"not name a selection, the rule's test and an alert field "
                                 f"with that value (the alert has {have!r})")
                            break
            elif w[0] == "matched_absent":
                if any(dig(a, "canh.matched") is not None for a in get_alerts()):
                    fail("an alert carries canh.matched though it was not asked for")
            elif w[0] == "every_alert":
                key, val = w[1], " ".join(w[2:])
                if not get_alerts():
                    fail(f"every_alert {key}: there are no alerts")
                for a in get_alerts():
                    got = dig(a, key)
                    if got is None or (val != "*" and str(got) != val):
                        fail(f"an alert has {key}={got!r}, want {val!r}: {json.dumps(a)[:300]}")
                        break
            elif w[0] == "no_alert_has":
                for a in get_alerts():
                    if dig(a, w[1]) is not None:
                        fail(f"an alert has {w[1]}={dig(a, w[1])!r}: {json.dumps(a)[:300]}")
                        break
            elif w[0] == "no_alert":
                key, val = w[1], " ".join(w[2:])
                for a in get_alerts():
                    got = dig(a, key)
                    if str(got) == val or (isinstance(got, list) and val in map(str, got)):
                        fail(f"an alert has {key}={got!r}: {json.dumps(a)[:300]}")
                        break
            elif w[0] == "some_alert":
                key, val = w[1], " ".join(w[2:])
                def has(got):
                    return str(got) == val or (isinstance(got, list) and val in map(str, got))
                if not any(has(dig(a, key)) for a in get_alerts()):
                    fail(f"no alert has {key}={val!r}")
            elif w[0] == "ids_unique":
                seen = {}
                for i, a in enumerate(get_alerts(), 1):
                    eid = dig(a, "event.id")
                    if not isinstance(eid, str) or not re.fullmatch(r"[0-9a-f]{32}", eid):
                        fail(f"alert {i}: event.id {eid!r} is not 32 hex digits")
                        break
                    if eid in seen:
                        fail(f"alerts {seen[eid]} and {i} have the same event.id {eid}")
                        break
                    seen[eid] = i
            elif w[0] == "offsets_true":
                checked = 0
                for i, a in enumerate(get_alerts(), 1):
                    path, off = dig(a, "log.file.path"), dig(a, "log.offset")
                    if path is None and off is None:
                        continue
                    if not isinstance(path, str) or not isinstance(off, int):
                        fail(f"alert {i}: log.file.path {path!r} with log.offset {off!r}")
                        break
                    b64 = dig(a, "event.original_base64")
                    orig = (base64.b64decode(b64) if b64 is not None
                            else dig(a, "event.original").encode("utf-8"))
                    with open(os.path.join(root, path) if not os.path.isabs(path) else path,
                              "rb") as f:
                        f.seek(off)
                        there = f.readline().rstrip(b"\n")
                    there = there[:-1] if there.endswith(b"\r") else there
                    if there != orig.split(b"\n")[0]:
                        fail(f"alert {i}: {path} at byte {off} holds {there[:80]!r}, "
                             f"not the event's {orig[:80]!r}")
                        break
                    checked += 1
                if not checked:
                    fail("offsets_true: no alert has log.file.path and log.offset")
            else:
                fail(f"unknown check: {c}")
        except FileNotFoundError as e:
            fail(f"{c}: {e}")
    # Every alert the case left behind must be one an ECS index accepts.
    if os.path.isdir(out):
        for fn in sorted(os.listdir(out)):
            if not fn.endswith(".jsonl") or not os.path.isfile(os.path.join(out, fn)):
                continue
            with open(os.path.join(out, fn), "rb") as f:
                for i, raw in enumerate(f, 1):
                    try:
                        a = json.loads(raw.decode("utf-8"))
                    except Exception:
                        continue   # a torn last line of a killed daemon; alerts_valid judges
                    if not isinstance(a, dict) or dig(a, "event.kind") != "alert":
                        continue
                    bad = ecs_check.problems(a)
                    if bad:
                        fail(f"{fn}:{i}: not what an ECS index accepts: " + "; ".join(bad))
                        break
    name = os.path.basename(case)
    if failures:
        print(f"FAIL {name}")
        for f in failures:
            print("   ", f)
        print(f"    command: {cmd}\n    stderr: {stderr[-800:]}")
        return 1
    print(f"ok   {name}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
