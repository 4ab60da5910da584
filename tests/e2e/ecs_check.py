"""
tests/e2e/ecs_check.py -- is an alert one an Elasticsearch/OpenSearch index
with the ECS 9.4 template accepts? Used by check.py on every alert of every
end-to-end case and by the Kafka drivers on every alert they read back.

problems(alert) lists what is wrong, [] when nothing is:
  - a key that is empty, blank, or holds a dot (an index reads a dot as a
    path: {"a.b":1} beside {"a":"x"} is a mapping conflict);
  - a field ECS defines (tests/ecs/ecs_types.tsv) with a value of another
    type: keyword/wildcard/text a string, long/integer an integer in
    range, float/double a number, ip an IPv4/IPv6 address (no zone), date
    an ISO 8601 string, boolean true/false, object/flattened/nested an
    object; null fits any field;
  - an array in a field an alert has one of (ONE below: event.dataset,
    event.id, rule.id ...); other fields may hold arrays, as in ECS and
    Elasticsearch (file.path of an audit event with two PATH records);
  - a value where ECS has an object ("host":"x" while ECS has host.name),
    or an object where ECS has a value.
Fields ECS does not define (canh.*, auditd.*, log.offset ...) are checked
for their keys only. Independent of canh: the table is made from ECS's own
ecs_flat.yml by tests/ecs/make_types.py.
"""
import ipaddress, os, re

_TYPES = None
_PARENTS = None
_ARRAYS = None

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")
STRINGS = {"keyword", "constant_keyword", "wildcard", "match_only_text", "text"}
INTS = {"long": 63, "integer": 31, "short": 15, "byte": 7}
FLOATS = {"float", "double", "scaled_float", "half_float"}
OBJECTS = {"object", "flattened", "nested"}
# what an alert says once (alert.h): never an array
ONE = {"@timestamp", "event.dataset", "event.id", "event.kind", "event.severity",
       "event.created", "event.original", "ecs.version", "rule.id", "rule.name",
       "rule.ruleset", "rule.level", "observer.name", "observer.hostname", "observer.product",
       "observer.vendor", "observer.version", "observer.type", "log.file.path", "log.offset",
       "log.source.address", "message", "host.name"}


def _load():
    global _TYPES, _PARENTS, _ARRAYS
    if _TYPES is None:
        _ARRAYS = set()
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ecs",
                            "ecs_types.tsv")
        _TYPES = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                cols = line.rstrip("\n").split("\t")
                _TYPES[cols[0]] = cols[1]
                if len(cols) > 2 and cols[2] == "array":
                    _ARRAYS.add(cols[0])
        _PARENTS = set()
        for name in _TYPES:
            parts = name.split(".")
            for i in range(1, len(parts)):
                _PARENTS.add(".".join(parts[:i]))
    return _TYPES, _PARENTS, _ARRAYS


def _fits(typ, v):
    if v is None:
        return True
    if typ in STRINGS:
        return isinstance(v, str)
    if typ in INTS:
        bits = INTS[typ]
        return isinstance(v, int) and not isinstance(v, bool) and -(1 << bits) <= v < (1 << bits)
    if typ in FLOATS:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if typ == "boolean":
        return isinstance(v, bool)
    if typ == "ip":
        if not isinstance(v, str) or "%" in v:
            return False
        try:
            ipaddress.ip_address(v)
            return True
        except ValueError:
            return False
    if typ == "date":
        return isinstance(v, str) and bool(DATE.match(v))
    if typ in OBJECTS:
        return isinstance(v, dict)
    if typ == "geo_point":
        return isinstance(v, (dict, str, list))
    return True   # a type this checker does not know: not judged


def problems(alert, limit=10):
    types, parents, arrays = _load()
    out = []

    def say(msg):
        if len(out) < limit:
            out.append(msg)

    def walk(obj, path):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else k
            if k.strip() == "":
                say(f"an empty or blank key under {path or 'the top level'!r}")
            elif "." in k:
                say(f"a dotted key {k!r} under {path or 'the top level'!r}")
            vals = v if isinstance(v, list) else [v]
            typ = types.get(p)
            if isinstance(v, list) and p in ONE:
                say(f"{p}: an array ({len(v)} values) where an alert has one value")
            if typ is not None:
                for x in vals:
                    if isinstance(x, list):
                        say(f"{p}: an array inside an array")
                    elif not _fits(typ, x):
                        say(f"{p}: {x!r:.80} is not an ECS {typ}")
            elif p in parents:
                for x in vals:
                    if x is not None and not isinstance(x, dict):
                        say(f"{p}: a value {x!r:.80} where ECS has an object")
            for x in vals:
                if isinstance(x, dict):
                    if typ is not None and typ not in OBJECTS:
                        continue   # said above
                    walk(x, p)

    if not isinstance(alert, dict):
        return ["not a JSON object"]
    walk(alert, "")
    return out
