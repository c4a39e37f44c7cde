#!/bin/sh
# bench/convert/speed.sh — born-digital conversion speed on ../shared/corpus/born, quire
# vs pdftotext vs mutool draw -F txt in one run (printed, never asserted). Two workers
# each (quire --jobs 2; the peers two files at a time, xargs -P 2). Every command runs
# ROUNDS times, interleaved with the others, and the best round is printed: wall-clock
# pages/s, and CPU seconds (user + sys from /usr/bin/time), which stay comparable on a
# loaded machine where wall time does not.
# quire rows: as a user runs it (JSON, figures exported as PNG files, OCR where a page has
# no usable text layer: the corpus has 4 image-only handwriting pages and 2 music-score
# pages with unmapped glyphs), then without figure files (--images none: pdftotext does
# not render figures either), then text layer only (--ocr never --images none).
# Usage: sh bench/convert/speed.sh [QUIRE_BIN] [ROUNDS]   (env SHARED=../shared)
set -u
Q=${1:-build/quire}
ROUNDS=${2:-3}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
B=$SHARED/corpus/born
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PAGES=$(awk -F'\t' '$2=="born" && $6!="-" {s+=$6} END {print s}' "$SHARED/corpus/manifest.tsv")

# one NAME CMD...: time CMD once, append "wall cpu" to $W/NAME
one() {
    name=$1; shift
    rm -rf "$W/out"; mkdir -p "$W/out"
    /usr/bin/time -f '%e %U %S' -o "$W/t" "$@" > /dev/null 2>&1
    awk '{printf "%s %.2f\n", $1, $2 + $3}' "$W/t" >> "$W/$name"
}
r=0
while [ $r -lt "$ROUNDS" ]; do
    one quire "$Q" convert -q --force --allow-empty --jobs 2 --format json -o "$W/out" "$B"
    one quire_noimg "$Q" convert -q --force --allow-empty --jobs 2 --format json --images none -o "$W/out" "$B"
    one quire_text "$Q" convert -q --force --allow-empty --jobs 2 --format json --images none --ocr never -o "$W/out" "$B"
    one pdftotext sh -c "ls '$B'/*.pdf | xargs -P 2 -I{} pdftotext -enc UTF-8 {} /dev/null"
    one mutool sh -c "ls '$B'/*.pdf | xargs -P 2 -I{} mutool draw -q -F txt -o /dev/null {}"
    r=$((r + 1))
done

echo "born/: $PAGES pages, best of $ROUNDS rounds"
echo "| run (2 workers) | wall s | pages/s | CPU s | CPU ms/page |"
echo "|---|---:|---:|---:|---:|"
for n in quire quire_noimg quire_text pdftotext mutool; do
    case $n in
    quire) label="quire convert --jobs 2 --format json" ;;
    quire_noimg) label="quire ... --images none" ;;
    quire_text) label="quire ... --images none --ocr never" ;;
    pdftotext) label="pdftotext (xargs -P 2)" ;;
    mutool) label="mutool draw -F txt (xargs -P 2)" ;;
    esac
    sort -n "$W/$n" | head -1 | awk -v p="$PAGES" -v l="$label" '{printf "| %s | %.2f | %.0f | ", l, $1, p / $1}'
    sort -n -k2 "$W/$n" | head -1 | awk -v p="$PAGES" '{printf "%.2f | %.2f |\n", $2, 1000 * $2 / p}'
done
