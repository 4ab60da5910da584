#!/usr/bin/env python3
"""
tests/ecs/make_types.py -- makes tests/ecs/ecs_types.tsv, the field -> type
table of the Elastic Common Schema that the e2e checker validates every
alert against (tests/e2e/ecs_check.py), from ECS's own ecs_flat.yml.

    python3 tests/ecs/make_types.py [ECS_FLAT_YML] > tests/ecs/ecs_types.tsv

ECS_FLAT_YML defaults to ../shared/corpus/ecs/ecs_flat.yml (elastic/ecs
v9.4.0, generated/ecs/ecs_flat.yml; see tests/ecs/SOURCES.md). The file is
read line by line (each field is a key at column 0, its type the first
"  type:" under it, "array" when its "normalize:" list holds it), so no
YAML library is needed.

Columns: field, type, and "array" for a field ECS expects to hold an
array (the checker allows any other field one value only).
"""
import os, re, sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(
        os.path.join(here, "..", "..", "..", "shared", "corpus", "ecs", "ecs_flat.yml"))
    types, arrays, name, in_normalize = {}, set(), None, False
    with open(src, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^('?)([^\s'][^']*?)\1:\s*$", line)
            if m:
                name, in_normalize = m.group(2), False
                continue
            if line.rstrip() == "  normalize:":
                in_normalize = True
                continue
            if in_normalize and re.match(r"^  - ", line):
                if line.strip() == "- array" and name:
                    arrays.add(name)
                continue
            in_normalize = False
            m = re.match(r"^  type: (\S+)\s*$", line)
            if m and name and name not in types:
                types[name] = m.group(1)
    if len(types) < 1000:
        sys.exit(f"{src}: only {len(types)} fields found; is it ecs_flat.yml?")
    print("# ECS field types, made by tests/ecs/make_types.py from elastic/ecs "
          "generated/ecs/ecs_flat.yml (Apache-2.0; see tests/ecs/SOURCES.md)")
    print("# field\ttype\tarray")
    for n in sorted(types):
        print(f"{n}\t{types[n]}" + ("\tarray" if n in arrays else ""))


if __name__ == "__main__":
    main()
