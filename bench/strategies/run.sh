#!/bin/sh
# bench/strategies/run.sh — `quire convert --strategy fast|ocr_only|hi_res|auto`, one table
# (printed, never asserted). Per strategy, on three sets converted with --jobs 1:
#   scanned  ../shared/corpus/scanned (page images with ground truth): pooled CER and
#            median CER by shared/tools/score.py (--format txt);
#   tables   ../shared/corpus/tables-icdar2013-eu (born-digital, ICDAR 2013 EU half):
#            adjacency F1 by shared/tools/score_icdar.py (--format json);
#   born     a sample of ../shared/corpus/born (the BORN_N shortest files by page count):
#            median word recall by shared/tools/text_fidelity.py (--format json).
# Timing and memory from each run's --report (docs/convert-json.md): per-page median and
# max ms, per-book (document) mean ms, pages/min over all sets, peak RSS.
# SCAN_N / ICDAR_N / BORN_N limit each set to its first N files (0 = all; defaults 0 / 0 / 8).
# The OCR-heavy rows cost ~3-10 s a page: the full run is ~1 h on 2 loaded cores.
# No VLM backend is configured here, so hi_res is Tesseract-only (README "Strategies").
# Usage: sh bench/strategies/run.sh [QUIRE_BIN]   (env SHARED=../shared, SCAN_N, ICDAR_N, BORN_N,
#        STRATEGIES="fast ocr_only hi_res auto")
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
C=$SHARED/corpus
T=$SHARED/tools
SCAN_N=${SCAN_N:-0} ICDAR_N=${ICDAR_N:-0} BORN_N=${BORN_N:-8}
STRATEGIES=${STRATEGIES:-fast ocr_only hi_res auto}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

sample() { # SRCDIR N DST [ALSO-GLOBS...]: link the first N PDFs (and their companions)
    src=$1 n=$2 dst=$3
    mkdir -p "$dst"
    ls "$src"/*.pdf | { [ "$n" -gt 0 ] && head -n "$n" || cat; } | while read -r f; do
        b=$(basename "$f" .pdf)
        for g in "$src/$b".*  "$src/$b"-*.xml; do [ -e "$g" ] && ln -sf "$g" "$dst/"; done
    done
}
sample "$C/scanned" "$SCAN_N" "$W/in/scanned"
sample "$C/tables-icdar2013-eu" "$ICDAR_N" "$W/in/tables"
# born: the BORN_N shortest documents of the manifest (OCR of a 300-page manual would
# dominate the run), ties by name
mkdir -p "$W/in/born"
awk -F'\t' '$2 == "born" && $6 ~ /^[0-9]+$/ {print $6 "\t" $5}' "$C/manifest.tsv" |
    sort -k1,1n -k2 | { [ "$BORN_N" -gt 0 ] && head -n "$BORN_N" || cat; } |
    while read -r n f; do ln -sf "$C/$f" "$W/in/born/"; done
# a manifest of the sampled scans only (score.py counts a missing hypothesis as CER 1)
awk -F'\t' -v d="$W/in/scanned" 'NR == 1 {print; next}
    $2 == "scanned" {f = d "/" $1 ".pdf"; if ((getline l < f) >= 0) print; close(f)}' \
    "$C/manifest.tsv" > "$W/in/manifest.tsv"
(cd "$W/in" && ln -s "$C/scanned" gt-scanned) # gt paths are relative: scanned/...
sed -i 's#\tscanned/#\tgt-scanned/#g' "$W/in/manifest.tsv"

conv() { # STRATEGY SET FORMAT
    "$Q" convert -q --force --allow-empty --jobs 1 --strategy "$1" --format "$3" \
        --report "$W/$1.$2.report.json" -o "$W/$1/$2" "$W/in/$2" > /dev/null 2>&1
}

echo "quire $("$Q" --version 2>/dev/null | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" \
     "(shared machine: timings are noisy)"
echo "sets: scanned $(ls "$W"/in/scanned/*.pdf | wc -l) files, tables $(ls "$W"/in/tables/*.pdf | wc -l)," \
     "born sample $(ls "$W"/in/born/*.pdf | wc -l)"
echo
echo "| strategy | pages | page ms median | page ms max | book ms mean | pages/min | peak RSS MiB | scanned CER pooled (median) | ICDAR table F1 | born word recall (median) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in $STRATEGIES; do
    conv "$s" scanned txt
    conv "$s" tables json
    conv "$s" born json
    cer=$(python3 "$T/score.py" --manifest "$W/in/manifest.tsv" --hyp-dir "$W/$s/scanned" \
              --json 2> /dev/null | python3 -c "
import json, sys
s = json.load(sys.stdin)['summary']
print('%.4f (%.4f)' % (s['cer_pooled'], s['cer_median']))" 2> /dev/null || echo "-")
    f1=$(python3 "$T/score_icdar.py" "$W/in/tables" "$W/$s/tables" --json "$W/$s.icdar.json" \
             > /dev/null 2>&1 && python3 -c "
import json, sys; print('%.3f' % json.load(open(sys.argv[1]))['f1'])" "$W/$s.icdar.json" || echo "-")
    rec=$(python3 "$T/text_fidelity.py" "$W/in/born" "$W/$s/born" 2> /dev/null | tail -1 |
              sed -n 's/.*median recall \([0-9.]*\).*/\1/p')
    python3 - "$s" "$cer" "$f1" "${rec:--}" "$W/$s".*.report.json <<'EOF'
import json, statistics, sys
s, cer, f1, rec = sys.argv[1:5]
pages, books, secs, rss = [], [], 0.0, 0
for f in sys.argv[5:]:
    r = json.load(open(f))
    secs += r["totals"]["seconds"]
    rss = max(rss, r["totals"]["peak_rss_kb"])
    for d in r["documents"]:
        if d["ms"] is not None:
            books.append(d["ms"])
        pages += [p["ms"] for p in d["pages"] if p["method"] != "failed"]
print("| %s | %d | %.0f | %.0f | %.0f | %.1f | %.0f | %s | %s | %s |" % (
    s, len(pages), statistics.median(pages), max(pages), sum(books) / len(books),
    60 * len(pages) / secs, rss / 1024, cer, f1, rec))
EOF
done
echo
echo "aarch64 under qemu: not measured by this script yet (emulated speed would be labelled so)."
