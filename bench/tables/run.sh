#!/bin/sh
# bench/tables/run.sh — table detection and structure, printed (never asserted):
#  1. ICDAR 2013 Table Competition, EU half (27 born-digital PDFs, 77 tables; complete
#     process, quire finds the tables itself): pooled adjacency precision / recall / F1,
#     mean per-document F1 and documents with no table, scored by
#     shared/tools/score_icdar.py, next to the reference figures of issue 11 (Camelot and
#     pdfplumber are not Debian packages, so they are not run here: their rows are the
#     figures measured side by side when the issue was filed).
#  2. shared/corpus/born (prose, TOCs, code, manuals): table blocks per document, with
#     BASE_BIN's count beside it when given (an older quire), so new false tables in
#     prose, TOC or code pages show up as a difference.
# Usage: sh bench/tables/run.sh [QUIRE_BIN]   (env SHARED=../shared, BASE_BIN=old/quire)
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
BASE=${BASE_BIN:-}
EU=$SHARED/corpus/tables-icdar2013-eu
BORN=$SHARED/corpus/born
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

score() { # BIN OUTDIR -> score line "P R F1 MEAN EMPTY"
    "$1" convert --force --format json -o "$2" "$EU"/*.pdf > /dev/null 2>&1
    python3 "$SHARED/tools/score_icdar.py" "$EU" "$2" --json "$2.score" > /dev/null
    python3 - "$2.score" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
empty = sum(1 for d in s["docs"] if d["pred_tables"] == 0)
print(f'{s["precision"]:.3f} {s["recall"]:.3f} {s["f1"]:.3f} {s["macro_f1"]:.3f} {empty}')
PY
}

echo "## ICDAR 2013 EU half (27 documents, 77 tables), adjacency relations"
echo
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' system precision recall "F1" "mean F1" "no table"
printf '|%s|\n' "------------------------------------------|-----------|--------|--------|----------|---------"
set -- $(score "$Q" "$W/q")
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "quire (this build)" "$1" "$2" "$3" "$4" "$5 of 27"
if [ -n "$BASE" ]; then
    set -- $(score "$BASE" "$W/b")
    printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "quire ($BASE)" "$1" "$2" "$3" "$4" "$5 of 27"
fi
# issue 11's side-by-side figures (same scorer; "no table" counted over all 67 documents)
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "quire when issue 11 was filed" 0.83 0.66 0.729 0.751 "8 of 67"
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "Camelot 2.0 hybrid (issue 11)" - - 0.841 0.797 "1 of 67"
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "Camelot 2.0 lattice (issue 11)" - - 0.844 0.708 "14 of 67"
printf '| %-40s | %9s | %6s | %6s | %8s | %8s |\n' "pdfplumber 0.10 lines (issue 11)" - - 0.802 0.656 "14 of 67"
echo
echo "Published complete-process mean F1 (official evaluator, Namysl et al. 2022): ABBYY"
echo "FineReader 0.877, OmniPage 0.842, Nurminen 0.837, Acrobat 0.769."
echo

count() { # BIN OUTDIR: table blocks per born document -> OUTDIR.tsv
    "$1" convert --force --jobs 2 --ocr never --format json -o "$2" "$BORN" > /dev/null 2>&1
    python3 - "$2" <<'PY' > "$2.tsv"
import json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if not f.endswith(".json"):
        continue
    try:
        doc = json.load(open(os.path.join(d, f)))
    except Exception:
        continue
    tb = [b for b in doc.get("blocks", []) if b.get("type") == "table"]
    pages = sorted({b.get("page") for b in tb})
    print(f"{f[:-5]}\t{len(tb)}\t{len(pages)}\t{','.join(map(str, pages))}")
PY
}
echo "## Table blocks in corpus/born (prose, TOCs, code, manuals)"
echo
count "$Q" "$W/bq"
if [ -n "$BASE" ]; then
    count "$BASE" "$W/bb"
    join -t "$(printf '\t')" "$W/bq.tsv" "$W/bb.tsv" > "$W/j.tsv"
    # this build: blocks pages list; base: blocks pages list
    awk -F'\t' '{q+=$2; qp+=$3; b+=$5; bp+=$6} END {printf "total: %d table blocks on %d pages (this build), %d on %d pages (base %s)\n\n", q, qp, b, bp, "'"$BASE"'"}' "$W/j.tsv"
    echo "Documents that differ; \"new pages\" = pages with a table now and none in base"
    echo "(where a new false table in prose, a TOC or code would show):"
    echo
    echo "| document | blocks (this / base) | pages with a table (this / base) | new pages |"
    echo "|---|---|---|---|"
    awk -F'\t' '$2 != $5 || $4 != $7 {
        n = split($4, a, ","); m = split($7, b, ","); delete seen; new = ""
        for (i = 1; i <= m; i++) seen[b[i]] = 1
        for (i = 1; i <= n; i++) if (a[i] != "" && !(a[i] in seen)) new = new (new ? "," : "") a[i]
        printf "| %s | %d / %d | %d / %d | %s |\n", $1, $2, $5, $3, $6, new }' "$W/j.tsv"
else
    awk -F'\t' '{q+=$2; p+=$3} END {printf "total: %d table blocks on %d pages in %d documents\n\n", q, p, NR}' "$W/bq.tsv"
    echo "| document | tables | pages with a table |"
    echo "|---|---|---|"
    awk -F'\t' '$2 > 0 {printf "| %s | %d | %d |\n", $1, $2, $3}' "$W/bq.tsv"
fi
