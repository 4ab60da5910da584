#!/usr/bin/env bash
# tests/e2e/run.sh -- runs every end-to-end case folder under tests/e2e/
# (see check.py for the format) and prints "N passed, N failed, N skipped".
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0 skip=0
for case in "$ROOT"/tests/e2e/*/; do
    case=${case%/}
    [ -f "$case/expect" ] || continue
    out=$(python3 "$ROOT/tests/e2e/check.py" "$case" "$ROOT/$BUILD" "$ROOT" 2>&1)
    rc=$?
    echo "$out"
    if [ $rc -ne 0 ]; then fail=$((fail + 1));
    elif [[ $out == SKIP* ]]; then skip=$((skip + 1));
    else pass=$((pass + 1)); fi
done
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
