#!/bin/sh
# bench/tables/run.sh — table detection and structure, printed (never asserted):
#  1. ICDAR 2013 Table Competition, EU half (27 born-digital PDFs, 77 tables; complete
#     process, quire finds the tables itself): pooled adjacency precision / recall / F1,
#     mean per-document F1 and documents with no table, scored by
#     shared/tools/score_icdar.py, next to the reference figures of issue 11 (Camelot and
#     pdfplumber are not Debian packages, so they are not run here: their rows are the
#     figures measured side by side when the issue was filed).
#  2. shared/corpus/born (prose, TOCs, code, manuals): table blocks and pages with a table
#     per document, before (the quire of BASE: BASE_BIN, or BASE_REV built from git in a
#     temporary worktree, or, when neither is given, the per-document counts of
#     bench/tables/born-before.tsv, measured with 72fb3b3 = main before issue 11's table
#     work) and after (this build), with the pages that have a table now and had none
#     before: where a new false table in prose, a TOC or code would show; each new page is
#     looked up in bench/tables/born-judged.tsv (pages judged real or false by looking at
#     them), so "new false tables" is a count printed here.
#  3. Figures (README "Figures"): per born document with images, the figures exported
#     next to poppler's count of images at or above the size threshold (pdfimages -list).
# Camelot and pdfplumber are not run: neither is a Debian 12 package (apt-cache search
# finds neither; only pdfplumber's base, python3-pdfminer, is packaged) and PyPI cannot be
# reached from this machine, so their rows are the issue's side-by-side figures.
# Usage: sh bench/tables/run.sh [QUIRE_BIN]
#   env SHARED=../shared, BASE_BIN=old/quire, BASE_REV=72fb3b3 (builds it, ~3 min),
#   SAVE_BASE=FILE (write the base's per-document counts, the format of born-before.tsv)
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
BASE=${BASE_BIN:-}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
EU=$SHARED/corpus/tables-icdar2013-eu
BORN=$SHARED/corpus/born
W=$(mktemp -d)
trap 'rm -rf "$W"; [ -n "${BASE_REV:-}" ] && git -C "$REPO" worktree remove --force "$W.base" 2> /dev/null' EXIT
if [ -z "$BASE" ] && [ -n "${BASE_REV:-}" ]; then
    echo "building quire at $BASE_REV for the before column ..." >&2
    git -C "$REPO" worktree add --detach "$W.base" "$BASE_REV" > /dev/null 2>&1 &&
        make -C "$W.base" -j2 build/quire > "$W.build.log" 2>&1 && BASE=$W.base/build/quire
    [ -n "$BASE" ] || { echo "cannot build $BASE_REV (see the make log)" >&2; exit 1; }
fi

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
echo "Camelot and pdfplumber: not run here (not Debian 12 packages, PyPI unreachable from this"
echo "machine); their rows are the figures measured side by side when issue 11 was filed."
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
    print(f"{f[:-5]}\t{len(tb)}\t{len(pages)}\t{','.join(map(str, pages)) or '-'}")
PY
}
echo "## Table blocks in corpus/born (prose, TOCs, code, manuals): before / after"
echo
count "$Q" "$W/bq"
if [ -n "$BASE" ]; then
    count "$BASE" "$W/bb"
    BEFORE="$BASE"
    [ -n "${SAVE_BASE:-}" ] && cp "$W/bb.tsv" "$SAVE_BASE"
else
    cp "$(dirname "$0")/born-before.tsv" "$W/bb.tsv"
    BEFORE="72fb3b3 (bench/tables/born-before.tsv)"
fi
LC_ALL=C join -t "$(printf '\t')" -a 1 -e - -o 0,1.2,1.3,1.4,2.2,2.3,2.4 "$W/bq.tsv" "$W/bb.tsv" > "$W/j.tsv"
awk -F'\t' '{q+=$2; qp+=$3; b+=$5; bp+=$6
    n = split($4, a, ","); m = split($7, c, ","); delete seen
    for (i = 1; i <= m; i++) seen[c[i]] = 1
    for (i = 1; i <= n; i++) if (a[i] != "-" && !(a[i] in seen)) newp++
    for (i = 1; i <= n; i++) now[a[i]] = 1
    for (i = 1; i <= m; i++) if (c[i] != "-" && !(c[i] in now)) gone++
    delete now }
    END {printf "| | table blocks | pages with a table | pages with a table now, none before | pages with a table before, none now |\n|---|---|---|---|---|\n"
         printf "| before: %s | %d | %d | | |\n| after: this build | %d | %d | %d | %d |\n\n", "'"$BEFORE"'", b, bp, q, qp, newp, gone}' "$W/j.tsv"
# each new page against the committed judgement (bench/tables/born-judged.tsv: real,
# false = a known false table, fixed = a false table the rules now remove)
JUDGED=$(dirname "$0")/born-judged.tsv
echo "New pages against bench/tables/born-judged.tsv (judged by looking at each page):"
echo
awk -F'\t' -v J="$JUDGED" 'BEGIN { while ((getline l < J) > 0) if (l !~ /^#/) {
        split(l, f, "\t"); v[f[1] " " f[2]] = f[3]; why[f[1] " " f[2]] = f[5] } }
    { n = split($4, a, ","); m = split($7, b, ","); delete seen
      for (i = 1; i <= m; i++) seen[b[i]] = 1
      for (i = 1; i <= n; i++) if (a[i] != "-" && !(a[i] in seen)) {
          k = $1 " " a[i]; t = (k in v) ? v[k] : "unjudged"; cnt[t]++
          if (t != "real") printf "- %s p. %s: %s%s\n", $1, a[i], t == "fixed" ? "FALSE AGAIN (was fixed)" : t, (k in why) ? " - " why[k] : "" } }
    END { printf "\n| new pages | judged real | new false tables (known) | false again (fixed before) | not judged |\n|---|---|---|---|---|\n"
          printf "| %d | %d | %d | %d | %d |\n\n", cnt["real"] + cnt["false"] + cnt["fixed"] + cnt["unjudged"], cnt["real"], cnt["false"], cnt["fixed"], cnt["unjudged"] }' "$W/j.tsv"
echo "Documents that differ (\"new pages\": a table now and none before, where a new false"
echo "table in prose, a TOC or code would show):"
echo
echo "| document | blocks (after / before) | pages with a table (after / before) | new pages |"
echo "|---|---|---|---|"
awk -F'\t' '$2 != $5 || $4 != $7 {
    n = split($4, a, ","); m = split($7, b, ","); delete seen; new = ""
    for (i = 1; i <= m; i++) seen[b[i]] = 1
    for (i = 1; i <= n; i++) if (a[i] != "-" && !(a[i] in seen)) new = new (new ? "," : "") a[i]
    printf "| %s | %d / %d | %d / %d | %s |\n", $1, $2, $5, $3, $6, new }' "$W/j.tsv"
echo

echo "## Figures in corpus/born: exported (this build) vs images poppler lists above the threshold"
echo
echo "| document | figures exported | with a caption | vector drawings (uncaptioned) | poppler: images >= threshold (text pages) |"
echo "|---|---|---|---|---|"
python3 - "$W/bq" "$BORN" <<'PY'
import json, os, re, subprocess, sys
out, born = sys.argv[1], sys.argv[2]
for f in sorted(os.listdir(out)):
    if not f.endswith(".json"):
        continue
    try:
        doc = json.load(open(os.path.join(out, f)))
    except Exception:
        continue
    figs = [b for b in doc["blocks"] if b.get("type") == "figure"]
    text_pages = {p["page"] for p in doc.get("pages", []) if p.get("status") == "ok"}
    pdf = os.path.join(born, f[:-5] + ".pdf")
    sizes = {}
    for l in subprocess.run(["pdfinfo", "-f", "1", "-l", "100000", pdf], capture_output=True,
                            text=True).stdout.splitlines():
        m = re.match(r"Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+)", l)
        if m:
            sizes[int(m[1])] = (float(m[2]), float(m[3]))
    n = 0
    for l in subprocess.run(["pdfimages", "-list", pdf], capture_output=True,
                            text=True).stdout.splitlines()[2:]:
        x = l.split()
        if len(x) < 14 or x[2] not in ("image", "stencil") or int(x[0]) not in sizes:
            continue
        w, h = int(x[3]) * 72 / float(x[-4]), int(x[4]) * 72 / float(x[-3])
        pw, ph = sizes[int(x[0])]
        n += w >= 32 and h >= 32 and 0.01 * pw * ph <= w * h < 0.9 * pw * ph
    if figs or n:
        cap = sum(1 for b in figs if b.get("caption"))
        dr = [b for b in figs if b.get("drawing")]
        un = sum(1 for b in dr if not b.get("caption"))
        print(f"| {f[:-5]} | {len(figs)} | {cap} | {len(dr)} ({un}) | {n} |")
PY
