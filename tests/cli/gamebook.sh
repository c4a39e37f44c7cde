#!/bin/sh
# tests/cli/gamebook.sh — `quire convert --format gamebook` on a generated gamebook
# (tests/tools/gen_gamebook.py: 400 numbered sections in two columns, combat blocks,
# illustrations, running head and page numbers; its ground truth says every section's
# number, choices and creatures). Born-digital: the whole book, >= 99.5 % of sections with
# the right number, >= 99 % of choices with the right target (and >= 99 % precision),
# >= 99 % of creatures right; the page numbers and running head are not sections.
# Also: the format's schema fields, -o FILE.json with --format gamebook. ~5 s.
# (The scanned form, gen_gamebook.py --scan, does not reach its targets yet: not asserted.)
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
