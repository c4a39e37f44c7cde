#!/bin/sh
# tests/cli/store_identity.sh — document identity (issue 15 point 1): a file is one
# document whatever spelling reaches it (relative, ./, absolute, a symlinked folder);
# --root keys documents relative to a folder so a moved tree stays unchanged; --id keys a
# single input by a user id (another file under that id replaces it: upsert); stores
# written with typed paths are adopted, not duplicated; docs --remove accepts any spelling
# of a file that exists. Text-only: a few seconds.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
Q=$(cd "$(dirname "$Q")" && pwd)/$(basename "$Q")
mkdir -p "$T/w/papers/sub"
for i in 1 2 3; do
    printf '# Paper %s\n\nThe zebra%s grazes near the river%s every morning.\n' $i $i $i \
        > "$T/w/papers/p$i.md"
done
printf '# Deep\n\nA nested note about okapi habitats.\n' > "$T/w/papers/sub/deep.md"
ln -s papers "$T/w/alias"
DB=$T/s.db
cd "$T/w" || exit 1
ndocs() { "$Q" docs --db "$DB" -c "${1:-default}" --json 2>/dev/null | wc -l; }
summary() { grep -o '([0-9]* added, [0-9]* updated, [0-9]* unchanged, [0-9]* failed)' "$1"; }

"$Q" ingest --db "$DB" papers > /dev/null 2> "$T/e1"; rc=$?
check "first ingest by a relative path: 4 added" sh -c "[ $rc -eq 0 ] && [ '$(summary "$T/e1")' = '(4 added, 0 updated, 0 unchanged, 0 failed)' ]"
"$Q" ingest --db "$DB" ./papers/ > /dev/null 2> "$T/e2"
check "same tree as ./papers/: 4 unchanged" sh -c "[ '$(summary "$T/e2")' = '(0 added, 0 updated, 4 unchanged, 0 failed)' ]"
"$Q" ingest --db "$DB" "$T/w/papers" > /dev/null 2> "$T/e3"
check "same tree by its absolute path: 4 unchanged" sh -c "[ '$(summary "$T/e3")' = '(0 added, 0 updated, 4 unchanged, 0 failed)' ]"
"$Q" ingest --db "$DB" alias papers/../papers/p1.md > /dev/null 2> "$T/e4"
check "through a symlinked folder and a ../ spelling: unchanged" sh -c "[ '$(summary "$T/e4")' = '(0 added, 0 updated, 5 unchanged, 0 failed)' ]"
check "one copy of each document" [ "$(ndocs)" -eq 4 ]
"$Q" search --db "$DB" -k 10 --json "zebra2" > "$T/h" 2>/dev/null
check "search: one hit for a word of one document (no duplicates)" sh -c "[ \$(grep -c zebra2 '$T/h') -eq 1 ]"
"$Q" docs --db "$DB" --json > "$T/d.jsonl" 2>/dev/null
check "docs --json: ids are canonical absolute paths" $PY - "$T/d.jsonl" "$(cd "$T/w" && pwd -P)" <<'EOF'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
ids = sorted(x["id"] for x in d)
want = sorted(sys.argv[2] + "/papers/" + n for n in ["p1.md", "p2.md", "p3.md", "sub/deep.md"])
assert ids == want, (ids, want)
assert all(x["path"] == x["id"] for x in d)
EOF
# a changed file under another spelling is an update of the same document
printf '# Paper 1\n\nThe zebra1 now sleeps by the lake.\n' > papers/p1.md
"$Q" ingest --db "$DB" "$T/w/alias/p1.md" > /dev/null 2> "$T/e5"
check "changed file via another spelling: updated, not added" sh -c "[ '$(summary "$T/e5")' = '(0 added, 1 updated, 0 unchanged, 0 failed)' ] && [ $(ndocs) -eq 4 ]"
# docs --remove with any spelling of an existing file
"$Q" docs --db "$DB" --remove ./papers/p3.md > /dev/null 2>&1; rc=$?
check "docs --remove ./papers/p3.md removes the canonical document" sh -c "[ $rc -eq 0 ] && [ \$('$Q' docs --db '$DB' --json 2>/dev/null | wc -l) -eq 3 ]"
"$Q" docs --db "$DB" --remove ./papers/nothere.md > /dev/null 2> "$T/e6"; rc=$?
check "docs --remove of an unknown document: exit 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q nothere.md '$T/e6'"

# ---- --root: keys relative to a folder; moving the tree keeps every document ---------
R=$T/r.db
mkdir -p "$T/tree1"; cp -r papers "$T/tree1/"
"$Q" ingest --db "$R" -c moved --root "$T/tree1" "$T/tree1/papers" > /dev/null 2> "$T/r1"; rc=$?
check "--root: 4 added" sh -c "[ $rc -eq 0 ] && [ '$(summary "$T/r1")' = '(4 added, 0 updated, 0 unchanged, 0 failed)' ]"
"$Q" docs --db "$R" -c moved --json 2>/dev/null | $PY -c "import json,sys; print(' '.join(sorted(json.loads(l)['id'] for l in sys.stdin)))" > "$T/rids"
check "--root: ids are relative to the root" [ "$(cat "$T/rids")" = "papers/p1.md papers/p2.md papers/p3.md papers/sub/deep.md" ]
mv "$T/tree1" "$T/tree2"
"$Q" ingest --db "$R" -c moved --root "$T/tree2" "$T/tree2" > /dev/null 2> "$T/r2"
check "tree moved, --root the new place: 4 unchanged, still 4 documents" sh -c "[ '$(summary "$T/r2")' = '(0 added, 0 updated, 4 unchanged, 0 failed)' ] && [ \$('$Q' docs --db '$R' -c moved --json 2>/dev/null | wc -l) -eq 4 ]"
"$Q" search --db "$R" -c moved --json -k 3 okapi > "$T/rh" 2>/dev/null
check "search hit names the relative id" grep -q '"papers/sub/deep.md"' "$T/rh"
"$Q" ingest --db "$R" -c moved --root "$T/tree2/papers/sub" "$T/tree2/papers/p1.md" > /dev/null 2> "$T/r3"; rc=$?
check "file outside --root: that file fails naming the root, exit 1 (nothing ingested)" sh -c "[ $rc -eq 1 ] && grep -q 'p1.md: outside the root' '$T/r3'"
"$Q" ingest --db "$R" --root "$T/nope" papers > /dev/null 2> "$T/r4"; rc=$?
check "--root that does not exist: exit 2 naming it" sh -c "[ $rc -eq 2 ] && grep -q 'nope' '$T/r4'"

# ---- --id ---------------------------------------------------------------------------
I=$T/i.db
"$Q" ingest --db "$I" --id report-2024 papers/p2.md > /dev/null 2>&1; rc=$?
"$Q" ingest --db "$I" --id report-2024 "$T/w/papers/p2.md" > /dev/null 2> "$T/i2"
check "--id: stored under the id, re-ingest unchanged" sh -c "[ $rc -eq 0 ] && '$Q' docs --db '$I' --json 2>/dev/null | grep -q '\"id\": *\"report-2024\"' && [ '$(summary "$T/i2")' = '(0 added, 0 updated, 1 unchanged, 0 failed)' ]"
# upsert by id: another file under the same id replaces the document (CLI side of the
# HTTP upsert in serve_docs.sh)
"$Q" ingest --db "$I" --id report-2024 papers/p3.md > /dev/null 2> "$T/i4"; rc=$?
"$Q" search --db "$I" --mode text --json zebra2 > "$T/i4old" 2>/dev/null
"$Q" search --db "$I" --mode text --json zebra3 > "$T/i4new" 2>/dev/null
check "--id with another file: updated (upsert), still one document, old text gone, new text found under the id" sh -c "[ $rc -eq 0 ] && [ '$(summary "$T/i4")' = '(0 added, 1 updated, 0 unchanged, 0 failed)' ] && [ \$('$Q' docs --db '$I' --json 2>/dev/null | wc -l) -eq 1 ] && [ ! -s '$T/i4old' ] && grep -q '\"document\":\"report-2024\"' '$T/i4new'"
"$Q" ingest --db "$I" --id x papers > /dev/null 2> "$T/i3"; rc=$?
check "--id with several inputs: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'exactly one input' '$T/i3'"

# ---- a store keyed by typed paths (before canonical keys) is adopted ------------------
L=$T/l.db
"$Q" ingest --db "$L" --id papers/p2.md papers/p2.md > /dev/null 2>&1 # as old quire stored it
"$Q" ingest --db "$L" papers/p2.md > /dev/null 2> "$T/l1"
check "legacy typed-path key: unchanged, re-keyed to the canonical path" sh -c "[ '$(summary "$T/l1")' = '(0 added, 0 updated, 1 unchanged, 0 failed)' ] && '$Q' docs --db '$L' --json 2>/dev/null | grep -q '\"id\": *\"/.*/papers/p2.md\"' && [ \$('$Q' docs --db '$L' --json 2>/dev/null | wc -l) -eq 1 ]"
"$Q" search --db "$L" -k 3 zebra2 > /dev/null 2>&1
check "legacy store still searchable after re-keying" sh -c "'$Q' search --db '$L' -k 3 --json zebra2 2>/dev/null | grep -q zebra2"
exit 0
