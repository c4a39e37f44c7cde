#!/bin/sh
# tests/cli/precision_quality.sh — bf16 / int8 against fp32 on real corpus text with the
# MiniLM-shaped model (build/models/minilm, `make models`): 400 chunks (120 with a
# sanitizer build) of shared/corpus/born (text-only ingest, chunks spread over its
# documents) and 2
# known-item queries per document (tests/tools/precision_quality.py): cosine vs fp32 on
# every chunk >= 0.9995 (bf16) / 0.995 (int8), mean top-10 overlap with fp32's exact
# top 10 >= 0.95 for both. bench/embed/quality.sh runs the same over 2,000 chunks.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=build/models/minilm
N=400
case "$Q" in *san-*) N=120 ;; esac # a sanitizer build: the same checks on fewer chunks
check "MiniLM-shaped test model present (make models)" [ -f "$M/model.safetensors" ]
"$Q" ingest -q --db "$T/born.db" -c born --jobs 2 "$C/born" > /dev/null 2> "$T/ingest.err"
check "text-only ingest of corpus/born: exit 0" [ $? -eq 0 ]
$PY tests/tools/precision_quality.py "$Q" "$M" "$T/born.db" "$C/born" --max-chunks "$N" \
    --per-doc 2 --work "$T" > "$T/out.txt" 2> "$T/err.txt"
rc=$?
sed 's/^/  /' "$T/out.txt" | grep -v '^  PASS\|^  FAIL'
check "precision_quality.py ran (exit 0)" [ $rc -eq 0 ]
check "it made its 4 checks" [ "$(grep -c '^PASS\|^FAIL' "$T/out.txt")" -eq 4 ]
grep '^PASS\|^FAIL' "$T/out.txt"
[ -s "$T/err.txt" ] && sed 's/^/  stderr: /' "$T/err.txt" | tail -n 3
exit 0
