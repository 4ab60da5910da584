#!/usr/bin/env bash
# fuzz/run.sh -- runs the libFuzzer targets built in BUILD/fuzz/ (make fuzz,
# make fuzz-check; see fuzz/README.md).
#
#   bash fuzz/run.sh fuzz  BUILD SECONDS [TARGET...]   each target SECONDS long
#   bash fuzz/run.sh check BUILD SECONDS [TARGET...]   replay fuzz/crashes/<target>/
#                                                      and the seeds, then SECONDS each
#
# The working corpus of each target is BUILD/corpus/<target>/ (kept between
# runs, never committed), started from fuzz/seeds/<target>/ and, in `fuzz`
# mode, from ../shared/corpus when it is there. A new crash is written to
# fuzz/crashes/<target>/ (commit it with its fix: it is replayed by every
# `make test` from then on) and fails the run.
set -u
mode=${1:?mode}; build=${2:?build folder}; secs=${3:?seconds}; shift 3
cd "$(dirname "$0")/.."
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do t=${f#fuzz/}; targets+=("${t%.c}"); done
fi

# UBSan reports are errors (the build keeps them recoverable so that a
# local suppressions file can be added to UBSAN_OPTIONS); leaks are checked.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export CANH_HOME=$PWD

extra=""
if [ "$mode" = fuzz ] && [ -d ../shared/corpus ]; then
    extra="$build/seeds-corpus"
    if [ ! -d "$extra" ]; then
        echo "== seeds from ../shared/corpus into $extra"
        python3 fuzz/make_seeds.py --corpus ../shared/corpus "$extra" || extra=""
    fi
fi

status=0
for t in "${targets[@]}"; do
    name=${t#fuzz_}
    bin="$build/fuzz/$t"
    crashes="fuzz/crashes/$name"
    seeds="fuzz/seeds/$name"
    corpus="$build/corpus/$name"
    mkdir -p "$crashes" "$corpus"
    [ -x "$bin" ] || { echo "$bin: not built" >&2; status=1; continue; }
    if [ "$mode" = check ]; then
        # every input that ever crashed, and every seed, once
        mapfile -t old < <(find "$crashes" "$seeds" -type f ! -name '.*' ! -name '*.md' | sort)
        if [ ${#old[@]} -gt 0 ]; then
            echo "== $t: replaying ${#old[@]} inputs (fuzz/crashes/$name, fuzz/seeds/$name)"
            if ! "$bin" -rss_limit_mb=2048 -timeout=30 "${old[@]}" >"$build/$t.replay.log" 2>&1; then
                tail -40 "$build/$t.replay.log" >&2
                echo "$t: an input replayed above fails (full log: $build/$t.replay.log)" >&2
                status=1
                continue
            fi
        fi
    fi
    dirs=("$corpus" "$seeds")
    [ -n "$extra" ] && [ -d "$extra/$name" ] && dirs+=("$extra/$name")
    echo "== $t: fuzzing for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=65536 \
            -artifact_prefix="$crashes/" -print_final_stats=1 "${dirs[@]}" \
            >"$build/$t.log" 2>&1; then
        tail -40 "$build/$t.log" >&2
        echo "$t: crash (input saved under $crashes/; full log: $build/$t.log)" >&2
        status=1
    else
        grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$build/$t.log" | tail -2
    fi
done
exit $status
