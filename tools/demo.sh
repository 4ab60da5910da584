#!/usr/bin/env bash
# tools/demo.sh -- `make demo`: scans samples/ with the shipped rules; the
# alerts go to a file and, through canh's spool, to Kafka: the mock cluster
# (build/kafka-mock, librdkafka's brokers on loopback speaking the real
# protocol), from which kcat reads them back. Then a summary of what was found.
set -euo pipefail
BUILD=${1:-build}
rm -rf "$BUILD/demo-spool"
coproc MOCK { exec "$BUILD/kafka-mock" --topic canh-alerts:3 2>/dev/null; }
read -r -t 20 line <&"${MOCK[0]}"
BOOT=${line#bootstrap: }
stop_mock() { echo quit >&"${MOCK[1]}" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; }
trap stop_mock EXIT
"$BUILD/canh" scan --stats "$BUILD/demo-stats.json" -o "$BUILD/demo-alerts.jsonl" \
    --kafka "$BOOT" --topic canh-alerts --spool "$BUILD/demo-spool" samples/*.log
echo
echo "alerts: $BUILD/demo-alerts.jsonl   counts: $BUILD/demo-stats.json"
kcat_cmd="kcat -b $BOOT -C -t canh-alerts -o beginning -e -q"
echo "Kafka: the same alerts, read back from topic canh-alerts of the mock cluster with"
echo "  $kcat_cmd"
echo "  -> $($kcat_cmd | wc -l) messages (the mock cluster lives only for this demo:"
echo "     run build/kafka-mock yourself to keep one; see README, Kafka)"
echo
python3 tests/e2e/show_alerts.py "$BUILD/demo-alerts.jsonl"
