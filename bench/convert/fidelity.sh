#!/bin/sh
# bench/convert/fidelity.sh — text fidelity and speed on ../shared/corpus/born, quire vs
# mutool draw -F txt vs pdftotext, all in one run (printed, never asserted): glued words
# per 10k and median word recall from shared/tools/text_fidelity.py (whose reference is
# pdftotext -raw, de-hyphenated: pdftotext's own row is a sanity check, not a contest),
# and pages/s with two workers (quire --jobs 2; the peers two files at a time, xargs -P 2).
# Usage: sh bench/convert/fidelity.sh [QUIRE_BIN]   (env SHARED=../shared)
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
B=$SHARED/corpus/born
FID=$SHARED/tools/text_fidelity.py
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PAGES=$(awk -F'\t' '$2=="born" && $6!="-" {s+=$6} END {print s}' "$SHARED/corpus/manifest.tsv")
now() { date +%s.%N; }

t0=$(now)
"$Q" convert --format json --jobs 2 -q -o "$W/quire" "$B" 2> /dev/null
t1=$(now)
mkdir -p "$W/mutool.txt" "$W/pdftotext.txt"
ls "$B"/*.pdf | xargs -P 2 -I{} sh -c 'mutool draw -q -F txt -o "$1/$(basename "$2" .pdf).txt" "$2" 2> /dev/null' _ "$W/mutool.txt" {}
t2=$(now)
ls "$B"/*.pdf | xargs -P 2 -I{} sh -c 'pdftotext -enc UTF-8 "$2" "$1/$(basename "$2" .pdf).txt" 2> /dev/null' _ "$W/pdftotext.txt" {}
t3=$(now)

# the peers' flat text as the one-block JSON text_fidelity.py reads
for p in mutool pdftotext; do
    mkdir -p "$W/$p"
    python3 - "$W/$p.txt" "$W/$p" <<'EOF'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
for f in os.listdir(src):
    t = open(os.path.join(src, f), encoding="utf-8", errors="replace").read()
    json.dump({"blocks": [{"text": t}]}, open(os.path.join(dst, f[:-4] + ".json"), "w"))
EOF
done

echo "| tool (born, $PAGES pages) | glued per 10k words | median recall | docs < 0.95 | pages/s (2 workers) |"
echo "|---|---:|---:|---:|---:|"
for p in quire mutool pdftotext; do
    case $p in
    quire) s=$(echo "$t1 - $t0" | bc); label="quire convert --jobs 2 (JSON)" ;;
    mutool) s=$(echo "$t2 - $t1" | bc); label="mutool draw -F txt" ;;
    pdftotext) s=$(echo "$t3 - $t2" | bc); label="pdftotext (reference's own tool)" ;;
    esac
    python3 "$FID" "$B" "$W/$p" | tail -1 > "$W/$p.fid"
    python3 - "$W/$p.fid" "$label" "$PAGES" "$s" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
g = re.search(r"= ([0-9.]+) per 10k", t).group(1)
m = re.search(r"median recall ([0-9.]+)", t).group(1)
b = re.search(r"below 0.95: ([0-9]+)", t).group(1)
print(f"| {sys.argv[2]} | {g} | {m} | {b} | {float(sys.argv[3]) / float(sys.argv[4]):.0f} |")
EOF
done
