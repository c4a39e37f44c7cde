#!/bin/sh
# bench/convert/run.sh — `quire convert` against its peers on ../shared/corpus, all in
# one run (printed, never asserted):
#   born/    pages/s: quire --jobs 1 / --jobs 2, pdftotext, mutool draw -F txt
#   scanned/ pages/min + CER/WER: quire --jobs 2 (--ocr always), tesseract CLI one page
#            after another (OMP_THREAD_LIMIT=1), ocrmypdf --force-ocr -j 2 if installed
#   peak RSS of every run (/usr/bin/time -v).
# Usage: sh bench/convert/run.sh [QUIRE_BIN]   (env SHARED=../shared)
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
C=$SHARED/corpus
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
BORN_PAGES=$(awk -F'\t' '$2=="born" && $6!="-" {s+=$6} END {print s}' "$C/manifest.tsv")
SCAN_PAGES=$(ls "$C"/scanned/*.pdf | wc -l)

# run NAME CMD...: wall seconds and peak RSS (MiB) of CMD into $W/NAME.{s,rss}
run() {
    name=$1; shift
    /usr/bin/time -v -o "$W/$name.time" "$@" > /dev/null 2> "$W/$name.err"
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' \
        "$W/$name.time" > "$W/$name.s"
    awk -F': ' '/Maximum resident/ {printf "%.0f\n", $2/1024}' "$W/$name.time" > "$W/$name.rss"
}
row() { # LABEL NAME PAGES UNIT(s|min) [CER WER]
    s=$(cat "$W/$2.s"); rss=$(cat "$W/$2.rss")
    if [ "$4" = s ]; then rate=$(awk "BEGIN{printf \"%.1f pages/s\", $3/$s}")
    else rate=$(awk "BEGIN{printf \"%.1f pages/min\", $3*60/$s}"); fi
    printf '| %-34s | %8.1f s | %-16s | %6s MiB | %s |\n' "$1" "$s" "$rate" "$rss" "${5:-}"
}
per_file() { # CMD-PREFIX for each born PDF, output to /dev/null
    for f in "$C"/born/*.pdf; do "$@" "$f" || true; done
}
score() { # HYPDIR -> "CER x WER y"
    python3 "$SHARED/tools/score.py" --manifest "$C/manifest.tsv" --hyp-dir "$1" \
        --filter kind=scanned 2>/dev/null |
        awk '/^# CER median/ {c=$4} /^# WER median/ {w=$4} /^# pooled CER/ {p=$4}
             END {printf "CER median %s, WER median %s, pooled CER %s", c, w, p}'
}

echo "born/: $BORN_PAGES pages in $(ls "$C"/born/*.pdf | wc -l) files; scanned/: $SCAN_PAGES pages"
run quire_j1 "$Q" convert -q --force --jobs 1 -o "$W/q1" "$C/born"
run quire_j2 "$Q" convert -q --force --jobs 2 -o "$W/q2" "$C/born"
run pdftotext sh -c "for f in '$C'/born/*.pdf; do pdftotext \"\$f\" - || true; done"
run mutool sh -c "for f in '$C'/born/*.pdf; do mutool draw -q -F txt -o - \"\$f\" || true; done"

mkdir -p "$W/qs" "$W/ts" "$W/img"
run quire_scan env "$Q" convert -q --force --jobs 2 --ocr always --format txt -o "$W/qs" "$C/scanned"
# tesseract CLI: the page image extracted once (not timed), then OCR'd one after another
for f in "$C"/scanned/*.pdf; do
    id=$(basename "$f" .pdf)
    mutool draw -q -r 300 -c gray -o "$W/img/$id.png" "$f" 1 2>/dev/null
done
run tesseract sh -c "for i in '$W'/img/*.png; do OMP_THREAD_LIMIT=1 tesseract \"\$i\" '$W'/ts/\$(basename \"\$i\" .png) -l eng >/dev/null 2>&1; done"

echo
echo "| run | wall | rate | peak RSS | quality |"
echo "|---|---|---|---|---|"
row "quire convert --jobs 1 (born)" quire_j1 "$BORN_PAGES" s
row "quire convert --jobs 2 (born)" quire_j2 "$BORN_PAGES" s
row "pdftotext (born, per file)" pdftotext "$BORN_PAGES" s
row "mutool draw -F txt (born)" mutool "$BORN_PAGES" s
row "quire --jobs 2 --ocr always (scan)" quire_scan "$SCAN_PAGES" min "$(score "$W/qs")"
row "tesseract CLI, 1 thread, serial" tesseract "$SCAN_PAGES" min "$(score "$W/ts")"
if command -v ocrmypdf > /dev/null; then
    mkdir -p "$W/om"
    run ocrmypdf sh -c "for f in '$C'/scanned/*.pdf; do ocrmypdf -q --force-ocr -j 2 --sidecar '$W'/om/\$(basename \"\$f\" .pdf).txt \"\$f\" /dev/null; done"
    row "ocrmypdf --force-ocr -j 2 (scan)" ocrmypdf "$SCAN_PAGES" min "$(score "$W/om")"
else
    echo "(ocrmypdf not installed: apt-get install ocrmypdf to add its row)"
fi
# RSS flat in the number of pages: 10 vs 500 pages of the same long manual
run rss10 "$Q" convert -q --force --max-pages 10 -o "$W/r10.md" "$C/born/long-memman.pdf"
run rss500 "$Q" convert -q --force --max-pages 500 -o "$W/r500.md" "$C/born/long-memman.pdf"
echo
echo "peak RSS: 10 pages $(cat "$W/rss10.rss") MiB, 500 pages $(cat "$W/rss500.rss") MiB"
