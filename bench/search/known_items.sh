#!/bin/sh
# bench/search/known_items.sh — known-item retrieval over ../shared/corpus/born in text
# mode: quire's default ranking (BM25 re-ranked by phrase and proximity) next to plain
# FTS5 BM25 (`--rank bm25`), same store, same queries (sentences that pdftotext extracts
# from a random page, tests/tools/known_items.py; PER_DOC pages per document, default 10).
#
#   sh bench/search/known_items.sh        (about 1 minute)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
SHARED=${QUIRE_SHARED:-$(cd .. && pwd)/shared}
PER_DOC=${PER_DOC:-10}
make -j2 cli > /dev/null || exit 1
w=build/bench/known-items
rm -rf "$w"; mkdir -p "$w"
build/quire ingest -q --db "$w/s.db" -c born --jobs 2 "$SHARED/corpus/born" || exit 1
row() { # file, name, extra args
    KI_EXTRA="$3" python3 tests/tools/known_items.py build/quire "$w/s.db" born \
        "$SHARED/corpus/born" "$PER_DOC" 0 > "$w/$1.txt"
    l=$(grep '^known-item top-1' "$w/$1.txt")
    t1=$(echo "$l" | sed 's/.*top-1: [0-9]*\/[0-9]* = \([0-9.]*\).*/\1/')
    t3=$(echo "$l" | sed 's/.*top-3: [0-9]*\/[0-9]* = \([0-9.]*\).*/\1/')
    n=$(echo "$l" | sed 's/.*top-3: [0-9]*\/\([0-9]*\) .*/\1/')
    printf '| %s | %s | %s | %s |\n' "$2" "$n" "$t1" "$t3"
}
echo "known-item retrieval, text mode, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| ranking | queries | top-1 | top-3 |"
echo "|---|---|---|---|"
row phrase "quire (BM25 + phrase/proximity, default)" ""
row bm25 "plain FTS5 BM25 (--rank bm25)" "--rank bm25"
