#!/usr/bin/env bash
# bench/tcp.sh -- part of `make bench` (called by bench/run.sh): the daemon,
# `canh run`, end to end over TCP on loopback with 1 and 2 workers, beside
# syslog-ng (Debian's syslog-ng-core) taking the same load to a file, in the
# same run (see bench/README.md).
#
#   bench/tcp.sh BUILD CORPUS
#
#   BENCH_TCP_LINES   lines of CORPUS sent (default 1000000)
#   BENCH_TCP_CONNS   TCP connections of the sender (default 1)
#   BENCH_TCP_FRAMING lf (default) or octet (RFC 6587 octet counting; canh
#                     only: syslog-ng's rows are then left out)
#   BENCH_RUNS        runs of each contender; the best counts (default 3)
#   BENCH_SYSLOGNG    0: leave syslog-ng out (default 1: installed with
#                     apt-get when missing and we are root)
#
# A contender's time runs from the sender's start until the receiver has
# everything: for canh, until `canh run` has exited after SIGTERM (it exits
# only once every accepted message is parsed, matched and its alerts are
# written); for syslog-ng, until its output file holds every line. Every
# wait is bounded. A lost or duplicated message fails the bench.
set -euo pipefail
BUILD=${1:?usage: bench/tcp.sh BUILD CORPUS}
CORPUS=${2:?usage: bench/tcp.sh BUILD CORPUS}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(cd "$BUILD" && pwd)/bench
mkdir -p "$OUT"
LINES=${BENCH_TCP_LINES:-1000000}
CONNS=${BENCH_TCP_CONNS:-1}
FRAMING=${BENCH_TCP_FRAMING:-lf}
case "$FRAMING" in
    lf) OCTET=() ;;
    octet) OCTET=(--octet) ;;
    *) echo "tcp bench: BENCH_TCP_FRAMING must be lf or octet, not '$FRAMING'" >&2; exit 2 ;;
esac
RUNS=${BENCH_RUNS:-3}
SEND_TIMEOUT=120
SEND="$BUILD/bench/tcp_send"
[ -x "$SEND" ] || { echo "tcp bench: $SEND is missing (make $SEND)" >&2; exit 1; }

# Exactly what is sent: LINES lines of the corpus (read again from the top
# if it has fewer), leaving out empty lines: over TCP an empty line is no
# message, to canh as to syslog-ng. With several connections, each slice
# the sender makes (line k*LINES/CONNS on) is also written alone, for the
# reference scan: an audit event cut between two connections is two events.
input="$OUT/tcp-input.log"
rm -f "$OUT"/tcp-slice.*.log
python3 - "$CORPUS" "$input" "$LINES" "$CONNS" "$OUT/tcp-slice" <<'PY'
import sys
src, dst, n, conns, slice_prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lines = [l if l.endswith(b"\n") else l + b"\n" for l in open(src, "rb") if l.strip(b"\r\n")]
if not lines:
    sys.exit(f"tcp bench: {src} has no line to send")
out = [lines[i % len(lines)] for i in range(n)]
with open(dst, "wb") as f:
    f.writelines(out)
if conns > 1:
    for k in range(conns):
        with open(f"{slice_prefix}.{k}.log", "wb") as f:
            f.writelines(out[n * k // conns:n * (k + 1) // conns])
PY
ref_inputs=("$input")
[ "$CONNS" -le 1 ] || ref_inputs=("$OUT"/tcp-slice.*.log)
bytes=$(stat -c %s "$input")

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ns() { date +%s%N; }

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (bounded,
# 30 s), or fail if PID died first. The probe is one empty connection.
wait_port() {
    local k
    for k in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# listening NAME PORT PID LOG: wait_port, or say so, kill PID and fail
listening() {
    wait_port "$2" "$3" && return 0
    echo "tcp bench: $1 did not listen on 127.0.0.1:$2 (see $4)" >&2
    kill -KILL "$3" 2>/dev/null || true
    wait "$3" 2>/dev/null || true
    return 1
}

# stop PID: SIGTERM, then wait for it to exit (at once: its exit time is
# measured), bounded by a watchdog that kills it after 60 s; its status.
stop() {
    local rc=0 dog
    kill -TERM "$1" 2>/dev/null || true
    # the watchdog's sleep must not outlive it: it would hold our caller's
    # $(...) open for its whole minute
    (
        trap 'kill "${nap:-}" 2>/dev/null; exit 0' TERM
        sleep 60 & nap=$!
        wait "$nap"
        kill -KILL "$1" 2>/dev/null &&
            echo "tcp bench: pid $1 did not stop within 60 s of SIGTERM; killed" >&2
    ) >/dev/null &
    dog=$!
    wait "$1" || rc=$?
    kill "$dog" 2>/dev/null || true
    wait "$dog" 2>/dev/null || true
    return $rc
}

# The reference: canh scan -j1 on the same lines from files, same rules,
# alerts to a file too (best of RUNS, its own clock: first read to last
# alert). canh run should report the same events and write as many alerts.
ref_s=
for i in $(seq "$RUNS"); do
    "$BUILD/canh" scan -q -o "$OUT/tcp-ref-alerts.jsonl" --stats "$OUT/tcp-ref.json" "${ref_inputs[@]}" \
        2>"$OUT/tcp-ref.stderr"
    read -r ref_events ref_alerts s < <(python3 -c '
import json, sys; s = json.load(open(sys.argv[1])); print(s["events"], s["alerts"], s["seconds"])' \
        "$OUT/tcp-ref.json")
    ref_s=$(python3 -c 'import sys; print(min(float(x) for x in sys.argv[1:] if x))' "$s" "$ref_s")
done
rm -f "$OUT/tcp-ref-alerts.jsonl"
nrules=$("$BUILD/canh" rules check 2>/dev/null | grep -o '^[0-9]* rules loaded' | grep -o '^[0-9]*' || echo "?")

# canh_once WORKERS -> "seconds read_seconds alerts"
canh_once() {
    local port cfg pid t1 sent rc=0
    port=$(free_port)
    cfg="$OUT/tcp-canh.yml"
    rm -f "$OUT/tcp-alerts.jsonl" "$OUT/tcp-stats.jsonl"
    cat > "$cfg" <<EOF
workers: $1
rules:
  paths: [$ROOT/rules]
  fieldmap: $ROOT/conf/fieldmap.yml
inputs:
  - type: tcp
    name: bench
    listen: 127.0.0.1:$port
    framing: $FRAMING
    max_connections_per_address: unlimited   # every connection comes from 127.0.0.1
outputs:
  alerts:
    path: $OUT/tcp-alerts.jsonl
  stats:
    path: $OUT/tcp-stats.jsonl
    interval: 1s
log:
  level: warn
EOF
    "$BUILD/canh" run -c "$cfg" 2>"$OUT/tcp-canh.stderr" &
    pid=$!
    listening "canh run" "$port" "$pid" "$OUT/tcp-canh.stderr" || return 1
    sent=$("$SEND" --conns "$CONNS" --timeout "$SEND_TIMEOUT" ${OCTET[@]+"${OCTET[@]}"} \
        "$port" "$input") || rc=$?
    if [ $rc -ne 0 ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    fi
    stop "$pid" || { echo "tcp bench: canh run failed (exit $?; see $OUT/tcp-canh.stderr)" >&2; return 1; }
    t1=$(now_ns)
    python3 - "$OUT/tcp-stats.jsonl" "$OUT/tcp-alerts.jsonl" "$LINES" "$ref_events" "$ref_alerts" \
        "$t1" "$sent" <<'PY'
import json, sys
stats, alerts_path, lines, ref_events, ref_alerts = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
t1, sent = int(sys.argv[6]), sys.argv[7].split()
t0 = int(sent[sent.index("start_ns") + 1])
last = [json.loads(l) for l in open(stats)][-1]
with open(alerts_path, "rb") as f:
    written = sum(1 for _ in f)
problems, changed = [], []
if not last.get("final"):
    problems.append("no final stats record")
if last["stream"]["messages"] != lines:
    problems.append(f"{last['stream']['messages']:,} messages received of {lines:,} sent")
if last["alerts"] != written:
    problems.append(f"{last['alerts']:,} alerts counted but {written:,} written")
if last["events"] != ref_events:
    changed.append(f"{last['events']:,} events, canh scan has {ref_events:,} for the same lines")
if written != ref_alerts:
    changed.append(f"{written:,} alerts, canh scan raises {ref_alerts:,} on the same lines")
# A known defect of canh run, noted rather than failed (bench/README.md): it
# can cut the records of one audit event in two events, where a partly
# filled batch is handed on on a timer (run.c's idle flush) or, with several
# connections, where another connection's lines come between them.
if changed and not problems:
    print("tcp bench: note: " + "; ".join(changed) + " (the records of an audit event "
          "cut in two: see bench/README.md)", file=sys.stderr)
if problems:
    sys.exit("tcp bench: canh run failed the check: " + "; ".join(problems))
print(f"{(t1 - t0) / 1e9:.3f} {float(sent[sent.index('seconds') + 1]):.3f} {written}")
PY
}

# syslog-ng: Debian's package, a standalone instance of our own (its own
# config, persist file, pid file and control socket under OUT; no system
# source, so /dev/log and /var/lib are left alone).
SNG=$(command -v syslog-ng || true)
sng_skip=
if [ "${BENCH_SYSLOGNG:-1}" = 0 ]; then
    sng_skip="left out (BENCH_SYSLOGNG=0)"
elif [ "$FRAMING" != lf ]; then
    sng_skip="left out: its network() source frames by newline, and this run is octet-counted"
elif [ -z "$SNG" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tcp bench: installing syslog-ng-core (apt-get) for the peer baseline"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends syslog-ng-core >"$OUT/apt.log" 2>&1 ||
        { apt-get update -qq >>"$OUT/apt.log" 2>&1 &&
          apt-get install -y -qq --no-install-recommends syslog-ng-core >>"$OUT/apt.log" 2>&1; } || true
    SNG=$(command -v syslog-ng || true)
fi
if [ -z "$sng_skip" ] && [ -z "$SNG" ]; then
    sng_skip="not installed and could not be (apt-get install syslog-ng-core, as root)"
fi
[ -z "$sng_skip" ] || SNG=
sng_version=
[ -n "$SNG" ] && sng_version=$("$SNG" --version | sed -n 's/^Config version: *//p')

# sng_once MODE -> "seconds": MODE parse (syslog header parsed, the default
# file template) or no-parse (each line kept whole, written back as it came).
# flow-control makes a full queue stop the reading (TCP pushes back) as in
# canh, instead of dropping. The window is per connection: log-iw-size over
# max-connections, 10,000 messages. Two settings from outside its config
# give syslog-ng its best figure on this machine (without them it takes 2
# to 3 times as long): TZ, so that glibc does not stat /etc/localtime for
# every timestamp, and a high malloc trim threshold, so that freeing does
# not madvise (and flush the TLBs of both cores) all the time.
sng_once() {
    local port dir pid sent rc=0 flags= template='${ISODATE} ${HOST} ${MSGHDR}${MESSAGE}\n'
    port=$(free_port)
    dir="$OUT/syslog-ng"
    mkdir -p "$dir"
    rm -f "$dir"/out.log "$dir"/persist "$dir"/pid "$dir"/ctl
    if [ "$1" = no-parse ]; then flags='flags(no-parse)'; template='${MESSAGE}\n'; fi
    cat > "$dir/syslog-ng.conf" <<EOF
@version: $sng_version
options {
    threaded(yes); use-dns(no); dns-cache(no); use-fqdn(no);
    keep-hostname(yes); chain-hostnames(no); keep-timestamp(yes);
    stats-freq(0); mark-freq(0); create-dirs(no);
    log-fifo-size(200000); flush-lines(1000);
};
source s_bench {
    network(ip("127.0.0.1") port($port) transport("tcp") $flags
            max-connections(8) log-iw-size(80000) log-fetch-limit(1000));
};
destination d_file {
    file("$dir/out.log" template("$template") log-fifo-size(200000) flush-lines(1000));
};
log { source(s_bench); destination(d_file); flags(flow-control); };
EOF
    TZ=:/etc/localtime GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456 \
        "$SNG" -F --no-caps -f "$dir/syslog-ng.conf" -R "$dir/persist" -p "$dir/pid" -c "$dir/ctl" \
        >"$dir/stderr" 2>&1 &
    pid=$!
    listening "syslog-ng" "$port" "$pid" "$dir/stderr" || return 1
    sent=$("$SEND" --conns "$CONNS" --timeout "$SEND_TIMEOUT" --until-file "$dir/out.log" \
        "$port" "$input") || rc=$?
    stop "$pid" || true
    [ $rc -eq 0 ] || { echo "tcp bench: syslog-ng did not write every line (see $dir/stderr)" >&2; return 1; }
    local got
    got=$(wc -l < "$dir/out.log")
    [ "$got" -eq "$LINES" ] || { echo "tcp bench: syslog-ng wrote $got lines of $LINES" >&2; return 1; }
    # with one connection, no-parse writes back what it got, in order, less
    # the \r of a CRLF line end
    if [ "$1" = no-parse ] && [ "$CONNS" = 1 ] && ! sed 's/\r$//' "$input" | cmp -s - "$dir/out.log"; then
        echo "tcp bench: syslog-ng's output differs from what was sent" >&2; return 1
    fi
    sed 's/.* seconds \([0-9.]*\).*/\1/' <<< "$sent"
}

# best of RUNS: the least disturbed run on this shared machine
results="$OUT/tcp.txt"
: > "$results"
for w in 1 2; do
    best=
    for i in $(seq "$RUNS"); do
        r=$(canh_once "$w")
        if [ -z "$best" ] || python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' \
                "${r%% *}" "${best%% *}"; then best=$r; fi
    done
    echo "canh$w $best" >> "$results"
done
echo "scan $ref_s" >> "$results"
if [ -n "$SNG" ]; then
    for mode in parse no-parse; do
        best=
        for i in $(seq "$RUNS"); do
            if ! r=$(sng_once "$mode"); then
                echo "tcp bench: syslog-ng ($mode) failed; its row is left out" >&2
                best=
                break
            fi
            if [ -z "$best" ] || python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' \
                    "$r" "$best"; then best=$r; fi
        done
        [ -z "$best" ] || echo "sng-$mode $best" >> "$results"
    done
fi
# the bulky files go (a failed run stops before this and keeps them)
rm -f "$input" "$OUT"/tcp-slice.*.log "$OUT/tcp-alerts.jsonl" "$OUT/syslog-ng/out.log"

python3 - "$results" "$LINES" "$bytes" "$CONNS" "$RUNS" "$nrules" "$ref_alerts" "$(nproc)" \
    "$FRAMING" "${SNG:+$("$SNG" --version | head -1)}" "$sng_skip" <<'PY'
import sys
res, (lines, nbytes, conns, runs), nrules, alerts, ncpu = \
    sys.argv[1], map(int, sys.argv[2:6]), sys.argv[6], int(sys.argv[7]), sys.argv[8]
framing, sng, sng_skip = sys.argv[9:12]
rows = {}
for l in open(res):
    w = l.split()
    rows[w[0]] = [float(x) for x in w[1:]]
def rate(k): return lines / rows[k][0], nbytes / rows[k][0] / 1e6
print()
print(f"TCP on 127.0.0.1, {framing} framing: {lines:,} lines ({nbytes / 1e6:.0f} MB) over "
      f"{conns} connection{'s' if conns > 1 else ''}, the sender on the same {ncpu}-core "
      f"machine; {nrules} shipped rules; best of {runs}")
print(f"{'':34s} {'lines/s':>12s} {'MB/s':>8s}  note")
c1, c2 = rate("canh1"), rate("canh2")
n1 = int(rows["canh1"][2])
for k, label, note in (("canh1", "canh run tcp -j1",
                        f"{n1:,} alerts" + (", as canh scan" if n1 == alerts else f" (canh scan {alerts:,})")),
                       ("canh2", "canh run tcp -j2", f"{c2[0] / c1[0]:.2f}x -j1")):
    r = rate(k)
    print(f"{label:34s} {r[0]:12,.0f} {r[1]:8.1f}  {note}; all read at {rows[k][1]:.2f} s, "
          f"exit at {rows[k][0]:.2f} s")
r = rate("scan")
print(f"{'canh scan -j1, same lines, file':34s} {r[0]:12,.0f} {r[1]:8.1f}  the reference: "
      f"no TCP, no daemon; alerts to a file too")
for k, label, note in (("sng-parse", "syslog-ng -> file (parse syslog)", "header parsed, default template"),
                       ("sng-no-parse", "syslog-ng -> file (no-parse)", "lines written back as they came")):
    if k in rows:
        r = rate(k)
        print(f"{label:34s} {r[0]:12,.0f} {r[1]:8.1f}  {sng}: {note}")
if "sng-parse" in rows:
    p = rate("sng-parse")[0]
    print(f"canh / syslog-ng (parse syslog): -j1 {c1[0] / p:.2f}x, -j2 {c2[0] / p:.2f}x")
elif sng_skip:
    print(f"syslog-ng: {sng_skip}")
best = max(c1[0], c2[0])
print(f"target 500,000 lines/s end to end: {'met' if best >= 500000 else 'NOT met'} "
      f"({best:,.0f}, canh -j{1 if c1[0] >= c2[0] else 2})")
PY
