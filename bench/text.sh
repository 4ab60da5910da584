#!/usr/bin/env bash
# bench/text.sh -- part of `make bench` (called by bench/run.sh): what
# comparing values as Unicode text costs (engine/text.h, README "Text").
#
#   bench/text.sh BUILD CORPUS RULE_PATH...
#
# Two tables, each contender best of BENCH_SCAN_RUNS rounds, taking turns
# within a round so a disturbed spell of the machine falls on all alike:
#
#  1. ASCII logs (CORPUS, make bench's corpus): `canh scan -j1` against
#     build/bench/canh-bytes, the same canh with the text views compiled
#     out (every value matched as raw bytes, as canh did before). The ratio
#     is what the views cost on pure-ASCII input, where they should cost
#     nothing.
#  2. A Vietnamese portal log (generated here, BENCH_TEXT_LINES lines):
#     the same lines in NFC, in NFD, and with their diacritics removed
#     (ASCII), each scanned by `canh scan -j1` with the same rules as
#     make bench (which raise no alert on it, so alert writing does not
#     weigh on one side): what Vietnamese text costs per line against the
#     same words in ASCII.
#
#   BENCH_TEXT_LINES  lines of the Vietnamese corpus (default 500000)
#   BENCH_SCAN_RUNS   rounds (default 5)
set -euo pipefail
BUILD=${1:?usage: bench/text.sh BUILD CORPUS RULE_PATH...}
CORPUS=${2:?usage: bench/text.sh BUILD CORPUS RULE_PATH...}
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$BUILD/bench"
RUNS=${BENCH_SCAN_RUNS:-5}
VLINES=${BENCH_TEXT_LINES:-500000}
RULES=()
for p in "$@"; do RULES+=(-r "$p"); done
[ -x "$BUILD/bench/canh-bytes" ] || { echo "text bench: $BUILD/bench/canh-bytes is missing" >&2; exit 1; }

python3 - "$OUT" "$VLINES" <<'PY'
import random, sys, unicodedata
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(2026)
names = ["Nguyễn Văn Ánh", "Trần Thị Bích", "Lê Hoàng Phúc", "Phạm Thị Thủy", "Đỗ Quốc Hưng",
         "Vũ Minh Đức", "Hoàng Thị Nguyệt", "Bùi Văn Lượng"]
units = ["Sở Giáo dục và Đào tạo", "Sở Tài nguyên và Môi trường", "UBND Huyện Bù Đăng",
         "UBND Thị xã Phước Long", "Văn phòng UBND tỉnh", "UBND Huyện Lộc Ninh"]
tmpl = [
    "Người dùng {name} nộp hồ sơ {id} tại {unit}",
    "Đăng nhập thất bại cho tài khoản {user} từ {ip}",
    "Đăng nhập thành công: {name} ({user}) từ {ip}",
    "Hồ sơ {id} của {unit} đã được phê duyệt bởi {name}",
    "Cảnh báo: dung lượng hộp thư của {name} vượt hạn mức",
    "Tài khoản {user} bị khóa sau 5 lần nhập sai mật khẩu",
]
def strip(s):
    s = s.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
files = {k: open(f"{out}/text-{k}.log", "w", encoding="utf-8") for k in ("nfc", "nfd", "ascii")}
for i in range(n):
    nm = rnd.choice(names)
    msg = rnd.choice(tmpl).format(name=nm, unit=rnd.choice(units), id=f"H{rnd.randint(10000, 99999)}",
                                  user=strip(nm).lower().replace(" ", ""), ip=f"10.{rnd.randint(0,255)}.{rnd.randint(0,255)}.{rnd.randint(1,254)}")
    line = f"Dec  6 {8 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d} portal-dichvucong hoso[2201]: "
    for k, f in files.items():
        m = {"nfc": unicodedata.normalize("NFC", msg), "nfd": unicodedata.normalize("NFD", msg),
             "ascii": strip(msg)}[k]
        f.write(line + m + "\n")
for f in files.values():
    f.close()
PY

warm() { cat "$1" > /dev/null; }
run() {   # run BIN FILE STATS.json
    warm "$2"
    "$1" scan -j 1 "${RULES[@]}" -q -o /dev/null --stats "$3" "$2" 2>/dev/null
}
best() {   # best BEST.json RUN.json: keep the quicker
    python3 - "$1" "$2" <<'PY'
import json, os, sys
best, run = sys.argv[1:3]
if not os.path.exists(best) or json.load(open(run))["seconds"] < json.load(open(best))["seconds"]:
    json.dump(json.load(open(run)), open(best, "w"))
PY
}
rm -f "$OUT"/text-best-*.json
for i in $(seq "$RUNS"); do
    run "$BUILD/canh" "$CORPUS" "$OUT/text-run.json" && best "$OUT/text-best-views.json" "$OUT/text-run.json"
    run "$BUILD/bench/canh-bytes" "$CORPUS" "$OUT/text-run.json" && best "$OUT/text-best-bytes.json" "$OUT/text-run.json"
    for k in nfc nfd ascii; do
        run "$BUILD/canh" "$OUT/text-$k.log" "$OUT/text-run.json" &&
            best "$OUT/text-best-$k.json" "$OUT/text-run.json"
    done
done

python3 - "$OUT" "$CORPUS" <<'PY'
import json, sys
out, corpus = sys.argv[1:3]
def load(k):
    return json.load(open(f"{out}/text-best-{k}.json"))
def rate(d):
    return d["lines"] / d["seconds"]
v, b = load("views"), load("bytes")
print(f"{'':44s} {'lines/s':>12s}  note")
print(f"{'canh scan -j1, ASCII corpus':44s} {rate(v):12,.0f}  {v['alerts']:,} alerts")
print(f"{'  the same, values as raw bytes (no views)':44s} {rate(b):12,.0f}  {b['alerts']:,} alerts")
print(f"text views on ASCII logs: {rate(v) / rate(b):.3f}x the raw-bytes speed")
rows = {k: load(k) for k in ("nfc", "nfd", "ascii")}
for k, label in (("nfc", "Vietnamese portal log, NFC"), ("nfd", "  the same lines in NFD"),
                 ("ascii", "  the same words without diacritics (ASCII)")):
    d = rows[k]
    print(f"{label:44s} {rate(d):12,.0f}  {d['alerts']:,} alerts, {d['bytes'] / d['lines']:.0f} bytes/line")
a = rate(rows["ascii"])
print(f"Vietnamese NFC: {rate(rows['nfc']) / a:.2f}x the ASCII speed "
      f"({(1 / rate(rows['nfc']) - 1 / a) * 1e6:+.2f} us per line); "
      f"NFD: {rate(rows['nfd']) / a:.2f}x ({(1 / rate(rows['nfd']) - 1 / a) * 1e6:+.2f} us per line)")
PY
