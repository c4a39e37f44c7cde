#!/bin/sh
# tests/cli/env_defaults.sh — QUIRE_DB and QUIRE_MODEL as defaults for --db and --model:
# used when the option is left out, overridden by the command line, named in --help, and
# not applied where --model means something else (info, reindex, import).
. "$(dirname "$0")/../lib.sh"
M=$SHARED/models/tiny
S=$(dirname "$0")/../../examples/sample
printf 'alpha beta\ngamma\n' > "$T/in.txt"

# embed: QUIRE_MODEL gives the same vectors as --model
"$Q" embed --model "$M" < "$T/in.txt" > "$T/e1" 2> "$T/err"
QUIRE_MODEL=$M "$Q" embed < "$T/in.txt" > "$T/e2" 2> "$T/err"; rc=$?
check "embed: QUIRE_MODEL stands in for --model ($rc)" sh -c "[ $rc -eq 0 ] && [ -s '$T/e1' ] && cmp -s '$T/e1' '$T/e2'"
QUIRE_MODEL=$T/nosuch "$Q" embed --model "$M" < "$T/in.txt" > "$T/e3" 2> "$T/err"; rc=$?
check "embed: --model wins over QUIRE_MODEL" sh -c "[ $rc -eq 0 ] && cmp -s '$T/e1' '$T/e3'"
QUIRE_MODEL=$T/nosuch "$Q" embed < "$T/in.txt" > /dev/null 2> "$T/err"; rc=$?
check "embed: a bad QUIRE_MODEL is an error naming the folder" sh -c "[ $rc -ne 0 ] && grep -q nosuch '$T/err'"
QUIRE_MODEL= "$Q" embed < "$T/in.txt" > /dev/null 2> "$T/err"; rc=$?
check "embed: an empty QUIRE_MODEL counts as unset (usage error)" [ $rc -eq 2 ]

# ingest/docs/search/collections through QUIRE_DB
QUIRE_DB=$T/s.db "$Q" ingest -q --collection c "$S" > /dev/null 2> "$T/err"; rc=$?
check "ingest: QUIRE_DB names the store ($rc)" sh -c "[ $rc -eq 0 ] && [ -s '$T/s.db' ]"
"$Q" docs --collection c --db "$T/s.db" > "$T/d1" 2> "$T/err"
QUIRE_DB=$T/s.db "$Q" docs --collection c > "$T/d2" 2> "$T/err"; rc=$?
check "docs: QUIRE_DB lists the same documents" sh -c "[ $rc -eq 0 ] && [ -s '$T/d1' ] && cmp -s '$T/d1' '$T/d2'"
QUIRE_DB=$T/other.db "$Q" docs --collection c --db "$T/s.db" > "$T/d3" 2> "$T/err"; rc=$?
check "docs: --db wins over QUIRE_DB" sh -c "[ $rc -eq 0 ] && cmp -s '$T/d1' '$T/d3' && [ ! -e '$T/other.db' ]"
QUIRE_DB=$T/s.db "$Q" collections > "$T/c" 2> "$T/err"; rc=$?
check "collections: QUIRE_DB" sh -c "[ $rc -eq 0 ] && grep -q '^c\b\|\bc\b' '$T/c'"
"$Q" search --db "$T/s.db" --collection c --json "page" > "$T/q1" 2> "$T/err"
QUIRE_DB=$T/s.db "$Q" search --collection c --json "page" > "$T/q2" 2> "$T/err"; rc=$?
check "search: QUIRE_DB gives the same hits" sh -c "[ $rc -eq 0 ] && [ -s '$T/q1' ] && cmp -s '$T/q1' '$T/q2'"

# help names the variables; info's --model (describe a folder) takes no default
"$Q" ingest --help > "$T/h"
check "ingest --help names QUIRE_DB and QUIRE_MODEL" sh -c "grep -q 'QUIRE_DB' '$T/h' && grep -q 'QUIRE_MODEL' '$T/h'"
"$Q" info --help > "$T/h"
check "info --help does not offer QUIRE_MODEL" sh -c "! grep -q QUIRE_MODEL '$T/h'"
"$Q" info > "$T/i1" 2>&1
QUIRE_MODEL=$M "$Q" info > "$T/i2" 2>&1
check "info: QUIRE_MODEL does not turn it into a model description" cmp -s "$T/i1" "$T/i2"
