#!/bin/sh
# tests/cli/gamebook.sh — `quire convert --format gamebook` on a generated gamebook
# (tests/tools/gen_gamebook.py: 400 numbered sections in two columns, combat blocks,
# illustrations, running head and page numbers; its ground truth says every section's
# number, choices and creatures). Born-digital: the whole book, >= 99.5 % of sections with
# the right number, >= 99 % of choices with the right target (and >= 99 % precision),
# >= 99 % of creatures right; the page numbers and running head are not sections.
# Also: the format's schema fields, -o FILE.json with --format gamebook; `quire validate
# gamebook` on the clean book (no errors), on a book with planted errors (each found,
# nothing else) and on small hand-made and broken exports. Scanned form (gen_gamebook.py
# --scan: 200 dpi, skewed, noised): source pages 3-8 (65 sections, 96 choices) through
# OCR, >= 97 % of sections with the right number, >= 95 % of choices with the right target
# (and >= 95 % precision). ~10 s + ~15 s CPU of OCR.
. "$(dirname "$0")/../lib.sh"

TOOLS=$(dirname "$0")/../tools
python3 "$TOOLS/gen_gamebook.py" "$T/b" --sections 400 > /dev/null ||
    { bad "gen_gamebook.py writes the book"; exit 1; }
"$Q" convert -q --format gamebook -o "$T/b/out.json" "$T/b/book.pdf"
check "born-digital: exit 0, gamebook JSON written" test -s "$T/b/out.json"
check "born-digital: schema fields" python3 -c "
import json; d = json.load(open('$T/b/out.json'))
assert d['schema'] == 'quire-gamebook' and d['schema_version'] == 1, d.get('schema')
s = d['sections'][0]
for k in ('number', 'label', 'page', 'page_end', 'found_as', 'text', 'choices', 'combat',
          'items', 'ending', 'figures'):
    assert k in s, k
assert d['n_sections'] == len(d['sections'])
assert 'Roll two dice' in d['front_matter']
"
check "born-digital: sections >= 99.5 %, choices >= 99 % (precision >= 99 %), combat >= 99 %" \
    python3 "$TOOLS/gamebook_score.py" "$T/b/truth.json" "$T/b/out.json" --min-sections 99.5 \
    --min-choices 99 --min-precision 99 --min-combat 99
check "born-digital: page numbers and the running head are not sections" python3 -c "
import json; d = json.load(open('$T/b/out.json'))
n = [s['number'] for s in d['sections']]
assert n == list(range(1, 401)), [x for x in n if n.count(x) > 1 or x > 400][:10]
assert not any('SALT KING' in s['text'] for s in d['sections'])
"

# Scanned form: 6 pages of the same book rendered, turned, greyed and noised.
python3 "$TOOLS/gen_gamebook.py" "$T/s" --sections 400 --scan --scan-pages 3-8 > /dev/null ||
    { bad "gen_gamebook.py --scan writes the scanned book"; exit 1; }
"$Q" convert -q --format gamebook -o "$T/s/out.json" "$T/s/scan.pdf"
check "scanned: exit 0, gamebook JSON written" test -s "$T/s/out.json"
check "scanned: sections >= 97 %, choices >= 95 % (precision >= 95 %)" \
    python3 "$TOOLS/gamebook_score.py" "$T/s/truth.json" "$T/s/out.json" --scan \
    --min-sections 97 --min-choices 95 --min-precision 95
check "scanned: the running head, read with OCR noise on each page, is not in any section" \
    python3 -c "
import json; d = json.load(open('$T/s/out.json'))
assert not any('SALT KING' in s['text'] for s in d['sections']), 'running head kept'
"

# quire validate gamebook: the clean book has no errors (exit 0); a book with planted errors
# (gen_gamebook.py --plant-errors: a choice to a section that does not exist, a section
# no choice leads to, a dead end that is not an ending, a number printed twice) converted
# the same way: every planted error found, nothing else reported, exit 1.
check "validate: the clean book has no errors, exit 0" \
    "$Q" validate gamebook "$T/b/out.json"
"$Q" validate gamebook --json "$T/b/out.json" > "$T/b/val.json"
check "validate --json on the clean book: ok, 0 errors, 400 sections" python3 -c "
import json; r = json.load(open('$T/b/val.json'))
assert r['ok'] is True and r['n_errors'] == 0 and r['errors'] == [] and r['n_sections'] == 400, r
"
python3 "$TOOLS/gen_gamebook.py" "$T/p" --sections 400 --plant-errors > /dev/null ||
    { bad "gen_gamebook.py --plant-errors writes the book"; exit 1; }
"$Q" convert -q --format gamebook -o "$T/p/out.json" "$T/p/book.pdf"
"$Q" validate gamebook --json "$T/p/out.json" > "$T/p/val.json"
check "validate: planted errors exit 1" test $? -eq 1
check "validate: every planted error found, no other error" python3 -c "
import json
t = json.load(open('$T/p/truth.json'))['planted']
r = json.load(open('$T/p/val.json'))
want = sorted((p['kind'], p['section']) for p in t)
got = sorted((e['kind'], e['section']) for e in r['errors'])
assert len(want) == 4 and got == want, (want, got)
mt = [e for e in r['errors'] if e['kind'] == 'missing_target'][0]
assert mt['target'] == [p for p in t if p['kind'] == 'missing_target'][0]['target'], mt
assert r['ok'] is False and r['n_errors'] == 4 and all(e['page'] > 0 for e in r['errors']), r
"
"$Q" validate gamebook "$T/p/out.json" > "$T/p/val.txt"
check "validate: human output, one line per error and a summary" python3 -c "
l = open('$T/p/val.txt').read().splitlines()
assert len(l) == 5 and l[-1].endswith(': 401 sections, 4 errors'), l
assert all(': section ' in x and ', page ' in x for x in l[:4]), l
"
# Small hand-made exports: a repeated first number, missing numbers, errors named.
printf '%s' '{"schema":"quire-gamebook","sections":[{"number":1,"page":1,"choices":[{"target":2}],"ending":null},{"number":1,"page":2,"choices":[{"target":4}],"ending":null},{"number":4,"page":3,"choices":[],"ending":"victory"}]}' > "$T/s.json"
"$Q" validate gamebook --json "$T/s.json" > "$T/s.out"
check "validate: first number twice, missing 2 and 3, missing target 2" python3 -c "
import json; r = json.load(open('$T/s.out'))
got = sorted((e['kind'], e['section']) for e in r['errors'])
assert got == [('duplicate', 1), ('missing_section', 2), ('missing_section', 3),
               ('missing_target', 1)], got
assert [e['page'] for e in r['errors'] if e['kind'] == 'duplicate'] == [2], r
"
printf '{"schema":"quire-gamebook","sections":[{"number":"x"}]}' > "$T/bad.json"
"$Q" validate gamebook "$T/bad.json" 2> "$T/bad.err"
check "validate: a bad field is exit 1 naming the field" \
    sh -c "test $? -eq 1 && grep -q 'sections\[0\]' '$T/bad.err'"
printf '{"sections": [' > "$T/trunc.json"
"$Q" validate gamebook "$T/trunc.json" 2> "$T/trunc.err"
check "validate: broken JSON is exit 1 naming line and column" \
    sh -c "test $? -eq 1 && grep -q 'line 1, column' '$T/trunc.err'"
"$Q" validate sections "$T/s.json" 2> /dev/null
check "validate: an unknown kind is a usage error" test $? -eq 2
check "validate --help" sh -c "'$Q' validate --help | grep -q missing_target"
