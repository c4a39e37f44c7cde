#!/bin/sh
# tests/cli/convert_pages.sh — page provenance of paragraphs that continue overleaf: the
# JSON block records page_end and every part (page, bbox, offset), Markdown with page
# markers splits the paragraph at the marker so chunks get the true page range, and a
# running head between the two parts is dropped, never spliced into the paragraph nor
# left to cut it. Real pages: R's "An Introduction to R" pages 8-9 (a paragraph runs from
# page 8 into page 9 under the running head "Chapter 1: Introduction and preliminaries 3"),
# the acmart guide pages 10-11 (a paragraph runs over with no head in between).
. "$(dirname "$0")/../lib.sh"
R=$C/born/long-r-intro.pdf
A=$C/born/long-acmart.pdf

"$Q" convert --format json --pages 8-9 "$R" > "$T/r.json" 2> /dev/null
check "r-intro p8-9: paragraph across the break is one block with page 8, page_end 9, two parts" python3 - "$T/r.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = [b for b in d["blocks"] if "A few of these are built into the base R environment" in b["text"]]
ok = len(b) == 1 and b[0]["page"] == 8 and b[0]["page_end"] == 9
if ok:
    p = b[0]["parts"]
    ok = [x["page"] for x in p] == [8, 9] and p[0]["offset"] == 0
    ok = ok and b[0]["text"][p[1]["offset"]:].startswith("into the base R environment")
    h = {x["page"]: x["height"] for x in d["pages"]}
    ok = ok and p[0]["bbox"][3] > 0.5 * h[8] and p[1]["bbox"][1] < 0.5 * h[9]  # foot / head
    ok = ok and p[0]["bbox"] == b[0]["bbox"]
print(b[0]["page"], b[0]["page_end"], b[0].get("parts") if b else None)
sys.exit(0 if ok else 1)
EOF
check "r-intro p8-9: one-piece blocks have page_end == page and no parts" python3 -c "
import json, sys
d = json.load(open('$T/r.json'))
sys.exit(0 if all(b['page_end'] == b['page'] for b in d['blocks'] if 'parts' not in b) else 1)"
check "r-intro p8-9: the running head is not in any paragraph nor between the parts" python3 -c "
import json, sys
d = json.load(open('$T/r.json'))
sys.exit(1 if any('Chapter 1: Introduction' in b['text'] for b in d['blocks']) else 0)"

"$Q" convert --page-markers --pages 8-9 "$R" > "$T/r.md" 2> /dev/null
check "r-intro p8-9 Markdown: the page marker splits the paragraph at the break" python3 - "$T/r.md" <<'EOF'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
sys.exit(0 if "A few of these are built\n\n<!-- page 9 -->\n\ninto the base R environment" in t else 1)
EOF
"$Q" convert --pages 8-9 "$R" > "$T/r0.md" 2> /dev/null
check "r-intro p8-9 Markdown without markers: one paragraph" \
    grep -q "A few of these are built into the base R environment, but many" "$T/r0.md"

# chunks: the page-11 half of a paragraph joined across the break is on page 2 of the
# two-page extract (before: the whole paragraph, and its chunk, said page 1)
qpdf --empty --pages "$A" 10-11 -- "$T/acm.pdf"
"$Q" convert --format json "$T/acm.pdf" > "$T/acm.json" 2> /dev/null
check "acmart p10-11: a paragraph continues onto page 2 (page_end 2, parts on 1 and 2)" python3 -c "
import json, sys
d = json.load(open('$T/acm.json'))
sys.exit(0 if any(b['page_end'] == 2 and [p['page'] for p in b['parts']] == [1, 2] for b in d['blocks'] if b['page'] == 1) else 1)"
"$Q" ingest --db "$T/s.db" --collection c "$T/acm.pdf" > /dev/null 2>&1
check "acmart p10-11: ingest wrote the store" [ -s "$T/s.db" ]
check "acmart p10-11: the chunk holding the page-2 text of the paragraph ends on page 2" python3 - "$T/acm.json" "$T/s.db" <<'EOF'
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
b = next(b for b in d["blocks"] if b["page_end"] == 2 and b["page"] == 1)
tail = " ".join(b["text"][b["parts"][1]["offset"]:].split()[2:8])  # text at the top of page 2
rows = sqlite3.connect(sys.argv[2]).execute("SELECT page_start, page_end, text FROM chunks").fetchall()
hit = [(s, e) for s, e, t in rows if tail in " ".join(t.split())]
print("  chunk pages for", repr(tail), hit)
sys.exit(0 if hit and all(e == 2 for s, e in hit) else 1)
EOF
