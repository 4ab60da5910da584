#!/usr/bin/env bash
# bench/kafka.sh -- part of `make bench` (called by bench/run.sh after the
# TCP part): alert delivery to Kafka. `canh scan --kafka` (every alert to
# the on-disk spool, then librdkafka with acks=all and idempotence, off the
# spool on its delivery report) beside a plain librdkafka producer with the
# same settings and no spool (bench/kafka_produce.c) on the same alerts,
# and beside `canh scan` writing the alerts to a file, all in the same run
# against the same broker: librdkafka's mock cluster (BUILD/kafka-mock,
# three brokers on loopback). See bench/README.md.
#
#   bench/kafka.sh BUILD
#
#   KAFKA_BENCH_LINES       lines of the alert-heavy corpus, one alert each
#                           (default 200000; about 1.5 kB of JSON per alert)
#   KAFKA_BENCH_PARTITIONS  partitions of each contender's topic (default 6)
#   BENCH_RUNS              runs of each contender; the best counts (default 3)
#
# What is timed: for both canh rows, the wall clock of the whole command
# less the rule loading canh reports on stderr ("48 rules loaded ... (0.12
# s)"); for the Kafka row this runs until canh exits, which it does once
# every alert has its delivery report (or after 30 s). canh runs without
# -q: -q would also hide the line "canh: kafka: N alerts delivered", which
# is checked. For the baseline, its own clock: first produce to last
# delivery report. Each run also times canh to Kafka with one alert (its
# fixed cost). Every command is bounded (CMD_TIMEOUT); the mock is always
# stopped. The shipped rules only.
set -euo pipefail
BUILD=${1:?usage: bench/kafka.sh BUILD}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench
mkdir -p "$OUT"
LINES=${KAFKA_BENCH_LINES:-200000}
PARTS=${KAFKA_BENCH_PARTITIONS:-6}
RUNS=${BENCH_RUNS:-3}
CMD_TIMEOUT=300     # s, any one command (canh itself waits at most 30 s for reports)
CANH=$BUILD/canh
RULES=(-r "$ROOT/rules")
MOCK_BIN=$BUILD/kafka-mock
PRODUCE=$BUILD/bench/kafka_produce
for b in "$CANH" "$MOCK_BIN" "$PRODUCE"; do
    [ -x "$b" ] || { echo "kafka bench: $b is missing (make BUILD=... all $PRODUCE)" >&2; exit 1; }
done
corpus=$OUT/kafka-corpus.log
alerts=$OUT/kafka-alerts.jsonl
spool=$OUT/kafka-spool

# The corpus: failed root logins over SSH from 50 hosts, one alert each
# ("SSH Failed Login as root"), so that every line makes an alert.
if [ ! -s "$corpus" ] || [ "$(wc -l < "$corpus")" -ne "$LINES" ]; then
    python3 - "$corpus" "$LINES" <<'PY'
import sys
out, n = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for i in range(n):
        f.write(f"<38>Nov 23 10:{i // 60 % 60:02d}:{i % 60:02d} web{i % 50:02d} "
                f"sshd[{10000 + i % 50000}]: Failed password for root from "
                f"203.0.113.{i % 250 + 1} port {1024 + i % 60000} ssh2\n")
PY
fi
one=$OUT/kafka-one.log
head -1 "$corpus" > "$one"

# timed OUT ERR CMD...: runs CMD (stdout to OUT, stderr to ERR), killed
# after CMD_TIMEOUT, or when the timer is killed (the EXIT trap does);
# sets wall, cpu and rc: wall seconds, its CPU seconds (user + system, all
# its threads), exit status
timer_pid=
timed() {
    python3 - "$CMD_TIMEOUT" "$@" > "$OUT/kafka-timed.txt" <<'PY' &
import ctypes, os, signal, subprocess, sys, time
limit, out, err, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
libc = ctypes.CDLL(None, use_errno=True)
def die_with_us():   # PR_SET_PDEATHSIG: SIGKILL when the timer goes
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)
with open(out, "wb") as o, open(err, "wb") as e:
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=o, stderr=e, preexec_fn=die_with_us)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(p.pid, signal.SIGKILL))
    signal.alarm(limit)
    _, status, ru = os.wait4(p.pid, 0)
    t1 = time.monotonic()
    signal.alarm(0)
p.returncode = os.waitstatus_to_exitcode(status)
print(f"{t1 - t0:.4f} {ru.ru_utime + ru.ru_stime:.3f} {p.returncode}")
PY
    timer_pid=$!
    wait "$timer_pid" || true
    timer_pid=
    wall= cpu= rc=
    read -r wall cpu rc < "$OUT/kafka-timed.txt" || true
    rc=${rc:-timer failed}
}

# the rule loading canh printed on stderr file $1, in seconds
load_s() {
    sed -n 's/^canh: [0-9]* rules loaded.*(\([0-9.]*\) s)$/\1/p' "$1" | head -1 | grep . ||
        { echo "kafka bench: no rule loading time in $1" >&2; return 1; }
}

# the mock's CPU seconds so far (user + system, all its threads)
mock_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$mock_pid/stat"
}

# The mock cluster: one topic per Kafka contender; its first stdout line is
# the bootstrap list; "quit" on stdin (or EOF) stops it.
mock_pid=
stop_mock() {
    [ -n "$mock_pid" ] || return 0
    { echo quit >&"${MOCK[1]}"; } 2>/dev/null || true
    local i
    for i in $(seq 50); do
        kill -0 "$mock_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
    mock_pid=
}
trap '[ -z "$timer_pid" ] || { kill "$timer_pid"; wait "$timer_pid"; } 2>/dev/null
      stop_mock; rm -rf "$spool"' EXIT
trap 'exit 1' INT TERM
coproc MOCK { exec "$MOCK_BIN" --topic "canh:$PARTS" --topic "raw:$PARTS" 2>"$OUT/kafka-mock.stderr"; }
mock_pid=$MOCK_PID
line=
read -r -t 20 line <&"${MOCK[0]}" || true
case "$line" in
    "bootstrap: "*) BOOT=${line#bootstrap: } ;;
    *) echo "kafka bench: kafka-mock did not start (see $OUT/kafka-mock.stderr)" >&2; exit 1 ;;
esac

fail() { echo "kafka bench: $*" >&2; exit 1; }
results=$OUT/kafka.txt
: > "$results"
expected=
for i in $(seq "$RUNS"); do
    # 1. canh scan, alerts to a file: the pipeline's own ceiling
    rm -f "$alerts"
    timed /dev/null "$OUT/kafka-file.stderr" \
        "$CANH" scan "${RULES[@]}" -o "$alerts" --stats "$OUT/kafka-file.json" "$corpus"
    [ "$rc" = 0 ] || fail "canh scan -o failed (exit $rc; see $OUT/kafka-file.stderr)"
    n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["alerts"])' "$OUT/kafka-file.json")
    [ "$(wc -l < "$alerts")" = "$n" ] || fail "canh counted $n alerts but wrote $(wc -l < "$alerts")"
    if [ -z "$expected" ]; then
        expected=$n
        [ "$n" = "$LINES" ] ||
            fail "$LINES lines gave $n alerts with the shipped rules: one each was expected"
        echo "kafka bench: $LINES lines, $n alerts ($(( $(stat -c %s "$alerts") / 1000000 )) MB of JSON)"
    fi
    [ "$n" = "$expected" ] || fail "canh scan -o wrote $n alerts this time, $expected before"
    echo "file $wall $(load_s "$OUT/kafka-file.stderr") $cpu" >> "$results"

    # 2. canh scan to Kafka, through a fresh spool
    rm -rf "$spool"
    m0=$(mock_cpu)
    timed /dev/null "$OUT/kafka-canh.stderr" \
        "$CANH" scan "${RULES[@]}" --kafka "$BOOT" --topic canh --spool "$spool" --stats "$OUT/kafka-canh.json" \
        "$corpus"
    m1=$(mock_cpu)
    [ "$rc" = 0 ] || fail "canh scan --kafka failed (exit $rc; see $OUT/kafka-canh.stderr)"
    got=$(sed -n 's/^canh: kafka: \([0-9]*\) alerts delivered to canh.*/\1/p' "$OUT/kafka-canh.stderr")
    [ "$got" = "$expected" ] ||
        fail "canh delivered '${got:-?}' alerts of $expected (see $OUT/kafka-canh.stderr)"
    spooled_s=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' \
        "$OUT/kafka-canh.json")
    echo "canh $wall $(load_s "$OUT/kafka-canh.stderr") $cpu $spooled_s $m0 $m1" >> "$results"
    rm -rf "$spool"

    # 2b. the same with one alert: the time to the first delivery, which a
    # canh run pays whatever the load (see bench/README.md)
    timed /dev/null "$OUT/kafka-one.stderr" \
        "$CANH" scan "${RULES[@]}" --kafka "$BOOT" --topic canh --spool "$spool" "$one"
    [ "$rc" = 0 ] || fail "canh scan --kafka, one alert, failed (exit $rc; see $OUT/kafka-one.stderr)"
    grep -q '^canh: kafka: 1 alerts delivered to canh' "$OUT/kafka-one.stderr" ||
        fail "canh did not deliver the one alert (see $OUT/kafka-one.stderr)"
    echo "one $wall $(load_s "$OUT/kafka-one.stderr")" >> "$results"
    rm -rf "$spool"

    # 3. the baseline: a plain producer, the same alerts, no spool
    m0=$(mock_cpu)
    timed "$OUT/kafka-raw.out" "$OUT/kafka-raw.stderr" \
        "$PRODUCE" "$BOOT" raw "$alerts"
    m1=$(mock_cpu)
    [ "$rc" = 0 ] || fail "kafka_produce failed (exit $rc; see $OUT/kafka-raw.stderr)"
    read -r w1 ok w2 failed w3 secs < "$OUT/kafka-raw.out"
    [ "$w1 $w2 $w3" = "delivered failed seconds" ] && [ "$ok" = "$expected" ] && [ "$failed" = 0 ] ||
        fail "kafka_produce: '$(cat "$OUT/kafka-raw.out")', $expected expected"
    echo "raw $secs $wall $cpu $m0 $m1" >> "$results"
done

# Both contenders key by host with murmur2_random on as many partitions:
# each host's alerts must be in one partition, the same in both topics.
# (The mock keeps only the newest ~5 MB of a partition: the last 200
# messages of each are read, not counted.)
keycheck="kcat not installed: keys not checked"
if command -v kcat >/dev/null; then
    for t in canh raw; do
        timeout 30 kcat -b "$BOOT" -C -t "$t" -o -200 -e -q -f '%k %p\n' > "$OUT/kafka-keys.$t" ||
            fail "kcat could not read topic $t back"
    done
    keycheck=$(python3 - "$OUT/kafka-keys.canh" "$OUT/kafka-keys.raw" <<'PY'
import sys
maps = []
for path in sys.argv[1:]:
    m = {}
    for l in open(path):
        k, p = l.split()
        m.setdefault(k, set()).add(p)
    maps.append(m)
bad = [k for m in maps for k, ps in m.items() if len(ps) > 1]
if bad or not maps[0] or maps[0].keys() != maps[1].keys() or maps[0] != maps[1]:
    sys.exit(f"kafka bench: keys differ: canh {sorted(maps[0].items())[:5]}..., "
             f"raw {sorted(maps[1].items())[:5]}...")
print(f"keys checked: {len(maps[0])} hosts, each in one partition, the same in both topics")
PY
) || exit 1
fi
stop_mock
rm -f "$alerts"

python3 - "$results" "$expected" "$RUNS" "$PARTS" "$(nproc)" "$keycheck" <<'PY'
import sys
res, n, runs, parts, ncpu, keycheck = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rows = {"file": [], "canh": [], "one": [], "raw": []}
for l in open(res):
    w = l.split()
    rows[w[0]].append([float(x) for x in w[1:]])
# the time of a row: canh's wall clock less its rule loading; the
# baseline's own clock. The best run of each counts.
def own(k, r): return r[0] if k == "raw" else r[0] - r[1]
best = {k: min(v, key=lambda r, k=k: own(k, r)) for k, v in rows.items()}
secs = {k: own(k, r) for k, r in best.items()}
rate = {k: n / secs[k] for k in ("file", "canh", "raw")}
c, r, f = best["canh"], best["raw"], best["file"]
print()
print(f"Kafka: {n:,} alerts (one per line, 50 hosts) to librdkafka's mock cluster "
      f"(3 brokers on loopback, {parts} partitions), acks=all, idempotence; same "
      f"{ncpu}-core machine; best of {runs}")
print(f"{'':34s} {'alerts/s':>10s} {'seconds':>8s} {'CPU s':>6s}  note")
print(f"{'canh scan -> file':34s} {rate['file']:10,.0f} {secs['file']:8.2f} "
      f"{f[2]:6.2f}  no Kafka: the pipeline's ceiling")
print(f"{'canh scan -> Kafka (spool)':34s} {rate['canh']:10,.0f} {secs['canh']:8.2f} "
      f"{c[2]:6.2f}  all spooled at {c[3]:.2f} s, all delivered at exit; "
      f"mock CPU {c[5] - c[4]:.2f} s")
print(f"{'raw librdkafka producer -> Kafka':34s} {rate['raw']:10,.0f} {secs['raw']:8.2f} "
      f"{r[2]:6.2f}  no spool (CPU s includes reading the file); "
      f"mock CPU {r[4] - r[3]:.2f} s")
print(f"canh to Kafka / raw librdkafka producer = {rate['canh'] / rate['raw']:.2f}x "
      f"(canh's whole job against librdkafka's part of it)")
print(f"canh to Kafka / canh to a file          = {rate['canh'] / rate['file']:.2f}x")
# the two jobs canh does, done one after the other without a spool
both = secs["file"] + secs["raw"]
print(f"canh to Kafka / (canh to a file, then the raw producer) = {both / secs['canh']:.2f}x "
      f"({both:.2f} s)")
# canh's fixed cost: librdkafka looks up a topic it has not met once a
# second; canh's producer meets its topic only with the first alert, and
# when that comes after the producer has connected, it waits for the next
# tick. A race, so every run is shown. The pipeline goes on spooling
# meanwhile: this is not simply added to the row above.
ones = ", ".join(f"{o[0] - o[1]:.2f}" for o in rows["one"])
print(f"canh to Kafka, one alert: {ones} s (the first delivery can wait for "
      f"librdkafka's 1 s metadata tick)")
print(keycheck)
PY
