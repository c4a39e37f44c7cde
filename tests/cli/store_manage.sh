#!/bin/sh
# tests/cli/store_manage.sh — collection lifecycle and option validation (issue 15 points 3
# and 6): collections --remove deletes a collection (it used to be silently ignored),
# ingest --prune removes documents whose files are gone, options that cannot work are
# refused up front (exit 2, nothing written): --chunk-tokens above the model's max tokens,
# --overlap not below half the chunk, changing a collection's fixed settings, a
# single-value option given twice. Text-only except one tiny-bert check: seconds.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
M=examples/tiny-bert
mkdir -p "$T/d"
for i in 1 2 3; do printf '# Doc %s\n\nThe quokka%s lives on an island.\n' $i $i > "$T/d/n$i.md"; done
DB=$T/s.db
ndocs() { "$Q" docs --db "$DB" -c "$1" --json 2>/dev/null | wc -l; }
"$Q" ingest -q --db "$DB" -c keep "$T/d" 2>/dev/null
"$Q" ingest -q --db "$DB" -c drop "$T/d" 2>/dev/null

# ---- collections --remove -------------------------------------------------------------
"$Q" collections --db "$DB" --remove drop > /dev/null 2> "$T/e"; rc=$?
check "collections --remove: exit 0, says what went" sh -c "[ $rc -eq 0 ] && grep -q \"removed 'drop' (3 documents\" '$T/e'"
"$Q" collections --db "$DB" --json > "$T/c" 2>/dev/null
check "the collection is gone, the other one kept" sh -c "! grep -q '\"drop\"' '$T/c' && grep -q '\"keep\"' '$T/c'"
check "its chunks and text index rows are gone" sh -c "[ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM chunks')\" = 3 ] && [ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'quokka1'\")\" = 1 ]"
check "integrity_check ok after removing a collection" sh -c "[ \"\$(sqlite3 '$DB' 'PRAGMA integrity_check')\" = ok ]"
"$Q" collections --db "$DB" --remove nosuch > /dev/null 2> "$T/e"; rc=$?
check "collections --remove of an unknown name: exit 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q nosuch '$T/e'"
"$Q" ingest -q --db "$DB" -c drop "$T/d" 2>/dev/null
check "a removed collection can be created again" [ "$(ndocs drop)" -eq 3 ]
# with vectors: the index goes too, search of the remaining collection still works
"$Q" ingest -q --db "$DB" -c vec --model "$M" "$T/d" 2>/dev/null
"$Q" collections --db "$DB" --remove vec > /dev/null 2>&1
check "removing a collection with vectors removes its vectors and index" sh -c "[ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM vectors')\" = 0 ] && [ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM indexes')\" = 0 ]"

# ---- ingest --prune -------------------------------------------------------------------
rm "$T/d/n2.md"
"$Q" ingest --db "$DB" -c keep "$T/d" > /dev/null 2> "$T/e"
check "without --prune a vanished file stays" [ "$(ndocs keep)" -eq 3 ]
"$Q" ingest --db "$DB" -c keep --prune "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--prune removes the document whose file is gone" sh -c "[ $rc -eq 0 ] && [ $(ndocs keep) -eq 2 ] && grep -q 'pruned 1 document whose file is gone' '$T/e' && grep -q 'n2.md (file gone)' '$T/e'"
"$Q" search --db "$DB" -c keep -k 5 --json quokka2 > "$T/h" 2>/dev/null
check "its chunks are no longer found" [ ! -s "$T/h" ]
"$Q" ingest -q --db "$DB" -c keep --id manual-x "$T/d/n1.md" 2>/dev/null
"$Q" ingest --db "$DB" -c keep --prune "$T/d" > /dev/null 2> "$T/e"
check "--prune leaves documents keyed by --id alone" sh -c "'$Q' docs --db '$DB' -c keep --json 2>/dev/null | grep -q manual-x && grep -q 'pruned 0 documents' '$T/e'"

# ---- options that cannot work ----------------------------------------------------------
V=$T/v.db
"$Q" ingest -q --db "$V" --model "$M" --chunk-tokens 2048 "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--chunk-tokens above the model's max tokens: exit 2 naming the limit" sh -c "[ $rc -eq 2 ] && grep -q 'more than the 512 tokens' '$T/e' && [ \"\$(sqlite3 '$V' 'SELECT count(*) FROM documents')\" = 0 ]"
"$Q" ingest -q --db "$V" --chunk-tokens 64 --overlap 64 "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--overlap not below half the chunk: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'overlap 64 must be less than half' '$T/e'"
"$Q" ingest -q --db "$V" -c fixed --chunk-tokens 128 "$T/d" 2>/dev/null
"$Q" ingest -q --db "$V" -c fixed --chunk-tokens 256 "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--chunk-tokens on an existing collection with another value: exit 2 with the way out" sh -c "[ $rc -eq 2 ] && grep -q \"created with --chunk-tokens 128 (asked: 256)\" '$T/e' && grep -q 'collections --db .* --remove fixed' '$T/e'"
"$Q" ingest -q --db "$V" -c fixed --chunk-tokens 128 "$T/d" > /dev/null 2>&1; rc=$?
check "the same value again is fine" [ $rc -eq 0 ]
"$Q" ingest -q --db "$V" -c fixed --overlap 8 "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--overlap on an existing collection with another value: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'created with --overlap' '$T/e'"
"$Q" ingest -q --db "$V" -c fixed --doc-prefix 'passage: ' "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "--doc-prefix on an existing collection: exit 2 pointing at reindex" sh -c "[ $rc -eq 2 ] && grep -q 'quire reindex' '$T/e'"
"$Q" ingest -q --db "$V" -c a -c b "$T/d" > /dev/null 2> "$T/e"; rc=$?
check "a single-value option given twice: exit 2 naming both values" sh -c "[ $rc -eq 2 ] && grep -q \"collection given twice ('a' and 'b')\" '$T/e'"
"$Q" search --db "$V" -c fixed -k 3 -k 4 quokka1 > /dev/null 2> "$T/e"; rc=$?
check "search -k twice: exit 2" [ $rc -eq 2 ]
# ---- one failed document: convert and ingest exit alike ----------------------------------
printf '%%PDF-1.4\nnot really\n' > "$T/bad.pdf"
"$Q" convert -q "$T/bad.pdf" > /dev/null 2>&1; crc=$?
"$Q" ingest -q --db "$T/x.db" "$T/bad.pdf" > /dev/null 2> "$T/e"; irc=$?
check "one bad document alone: convert and ingest both exit 1 (nothing done), ingest names it" sh -c "[ $crc -eq 1 ] && [ $irc -eq 1 ] && grep -q 'bad.pdf' '$T/e'"
"$Q" convert -q -o "$T/md" "$T/bad.pdf" "$C/born/tables-tabularx.pdf" > /dev/null 2>&1; crc=$?
"$Q" ingest -q --db "$T/x.db" "$T/bad.pdf" "$C/born/tables-tabularx.pdf" > /dev/null 2>&1; irc=$?
check "one bad document beside a good one: both exit 3 (partial)" sh -c "[ $crc -eq 3 ] && [ $irc -eq 3 ]"
