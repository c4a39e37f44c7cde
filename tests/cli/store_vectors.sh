#!/bin/sh
# tests/cli/store_vectors.sh — collections with vectors (tiny test model): hybrid and
# vector search, HNSW vs exact, model fingerprint refusal naming both models, reindex
# to another model swapped in atomically while readers keep searching. ~20 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M1=$SHARED/models/tiny
# a second model: the same weights with CLS pooling give other vectors (another fingerprint)
cp -r "$M1" "$T/m2"
chmod -R u+w "$T/m2"
printf '{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}\n' > "$T/m2/1_Pooling/config.json"
DB=$T/v.db
mkdir -p "$T/in"
cp "$C/born/paper2col-jacow.pdf" "$C/born/tables-tabularx.pdf" "$T/in/"
i=0
while [ $i -lt 30 ]; do
    printf '# Animal %d\n\nThe animal number %d is called creature%d and eats food%d.\n\n## Habitat\n\nIt lives in place%d near river%d.\n' $i $i $i $i $i $i > "$T/in/a$i.md"
    i=$((i+1))
done
"$Q" ingest -q --db "$DB" --collection zoo --model "$M1" "$T/in" 2> "$T/e"
check "ingest with a model: exit 0" [ $? -eq 0 ]
"$Q" collections --db "$DB" > "$T/c"
check "collection has one vector per chunk and names the model" $PY - "$T/c" <<'EOF2'
import re, sys
line = [l for l in open(sys.argv[1]) if l.startswith("zoo")][0].split()
assert int(line[2]) == int(line[3]) > 30, line
assert "tiny" in line[4], line
EOF2
"$Q" search --db "$DB" -c zoo --model "$M1" --json -k 5 "creature7 food7" > "$T/h" 2>&1
check "hybrid search: the known document first" sh -c "head -1 '$T/h' | grep -q 'a7.md'"
check "hybrid hits carry both ranks" grep -q '"text_rank".*"vector_rank"' "$T/h"
"$Q" search --db "$DB" -c zoo --model "$M1" --mode vector --json -k 10 "animal habitat" > "$T/v1" 2>&1
"$Q" search --db "$DB" -c zoo --model "$M1" --mode vector --exact --json -k 10 "animal habitat" > "$T/v2" 2>&1
check "vector search (small collection) equals exact search" $PY - "$T/v1" "$T/v2" <<'EOF2'
import json, sys
a = [json.loads(l)["chunk_id"] for l in open(sys.argv[1])]
b = [json.loads(l)["chunk_id"] for l in open(sys.argv[2])]
assert len(a) == 10 and a == b, (a, b)
EOF2
"$Q" search --db "$DB" -c zoo --json -k 3 "creature3" > "$T/auto" 2>&1
check "search finds the collection's model by itself (recorded folder)" grep -q '"vector_rank"' "$T/auto"
"$Q" search --db "$DB" -c zoo --model "$M1" --mode vector --json -k 4 --filter 'path=*a1*.md' "animal" > "$T/fv" 2>&1
check "filtered vector search: k hits, all matching the filter" $PY - "$T/fv" <<'EOF2'
import json, sys
h = [json.loads(l) for l in open(sys.argv[1])]
assert len(h) == 4 and all("/a1" in x["document"] for x in h), h
EOF2

# ---- fingerprint mismatch ---------------------------------------------------------------
printf '# Extra\n\nmore text\n' > "$T/extra.md"
"$Q" ingest --db "$DB" --collection zoo --model "$T/m2" "$T/extra.md" > /dev/null 2> "$T/mm"
rc=$?
check "ingest with another model: refused (exit 1)" [ $rc -eq 1 ]
check "mismatch message names both models" sh -c "grep -q \"model 'tiny'\" '$T/mm' && grep -q \"'m2'\" '$T/mm'"
check "nothing was added by the refused ingest" sh -c "! '$Q' docs --db '$DB' -c zoo 2>/dev/null | grep -q extra.md"
"$Q" search --db "$DB" -c zoo --model "$T/m2" --mode vector "x" > /dev/null 2> "$T/ms"
check "query with another model: refused naming both" sh -c "grep -q \"'m2'\" '$T/ms' && grep -q \"'tiny'\" '$T/ms'"
"$Q" ingest --db "$DB" --collection zoo "$T/extra.md" > /dev/null 2> "$T/mn"
check "ingest without the model into a vector collection: refused" grep -q "holds vectors from model 'tiny'" "$T/mn"

# ---- reindex to m2 while readers search ---------------------------------------------------
chunks=$(sqlite3 "$DB" "SELECT count(*) FROM chunks")
(
    n=0; bad=0
    while [ ! -e "$T/stop" ]; do
        out=$("$Q" collections --db "$DB" 2>&1) || { bad=$((bad+1)); echo "collections failed: $out"; }
        line=$(echo "$out" | grep '^zoo')
        vec=$(echo "$line" | awk '{print $4}')
        [ "$vec" = "$chunks" ] || { bad=$((bad+1)); echo "partial index visible: $line"; }
        "$Q" search --db "$DB" -c zoo --mode text --json -k 1 creature5 > /dev/null 2>&1 || bad=$((bad+1))
        n=$((n+1))
    done
    echo "$n $bad" > "$T/readers"
) &
rpid=$!
"$Q" reindex --db "$DB" --collection zoo --model "$T/m2" 2> "$T/ri"
rc=$?
sleep 0.3
touch "$T/stop"
wait $rpid
check "reindex: exit 0" [ $rc -eq 0 ]
read rn rbad < "$T/readers"
echo "readers during reindex: $rn rounds, $rbad failures"
check "readers never saw a partial index or failed during reindex ($rn rounds)" sh -c "[ $rn -ge 1 ] && [ $rbad -eq 0 ]"
"$Q" collections --db "$DB" > "$T/c2"
check "after reindex: the collection uses m2, one vector per chunk" sh -c "grep '^zoo' '$T/c2' | grep -q ' m2 '"
check "old vectors and index are gone" sh -c "[ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM vectors')\" = $chunks ] && [ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM indexes')\" = 1 ]"
"$Q" search --db "$DB" -c zoo --model "$T/m2" --mode vector --json -k 3 "creature9" > "$T/n" 2>&1
check "after reindex: vector search with the new model works" grep -q '"document"' "$T/n"
"$Q" search --db "$DB" -c zoo --model "$M1" --mode vector "creature9" > /dev/null 2> "$T/o"
check "after reindex: the old model is refused" grep -q "holds vectors from model 'm2'" "$T/o"
check "integrity_check ok" sh -c "[ \"\$(sqlite3 '$DB' 'PRAGMA integrity_check')\" = ok ]"

# ---- text-only collection gains vectors by reindex ------------------------------------------
"$Q" ingest -q --db "$DB" --collection plain "$T/in"/a1*.md 2>/dev/null
"$Q" reindex -q --db "$DB" --collection plain --model "$M1" 2>/dev/null
"$Q" search --db "$DB" -c plain --model "$M1" --mode vector --json -k 2 "creature1" > "$T/p" 2>&1
check "text-only collection + reindex: vector search works" grep -q '"vector_rank":1' "$T/p"
