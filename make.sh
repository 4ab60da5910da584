#!/bin/sh
# make.sh -- the README's entry point on a bare Debian machine: installs
# make if it is missing, then the build dependencies (make deps, apt-get,
# as root), then runs `make TARGET...` (demo, test, bench, asan).
set -e
cd "$(dirname "$0")"
if ! command -v make >/dev/null 2>&1; then
    echo "make.sh: installing make (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make
fi
make --no-print-directory deps
exec make --no-print-directory "$@"
