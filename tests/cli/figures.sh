#!/bin/sh
# tests/cli/figures.sh — figure export (README "Figures"). The reference count is poppler's,
# not quire's: `pdfimages -list` (poppler-utils) lists every image drawn on every page with
# its pixel size and resolution, hence its drawn size in points; the images at or above
# quire's documented threshold (32 pt wide and high, >= 1 % and < 90 % of the page) must
# each be exported once as a PNG next to the output, referenced once in the Markdown at
# their page's place, and carry their "Figure N" caption where the page has one.
# Documents: the corpus' figure-heavy ones (18 photos on 15 slides, 6 plots in a 196-page
# manual) and four papers with captioned figures. Then --images none / embed, stdout, and a
# vector figure's labels kept in JSON. ~10 s.
. "$(dirname "$0")/../lib.sh"

B=$C/born
if ! command -v pdfimages > /dev/null || ! command -v pdfinfo > /dev/null; then
    bad "pdfimages/pdfinfo (poppler-utils) installed"
    exit 1
fi
cat > "$T/expected.py" <<'EOF'
import re, subprocess, sys
# {page: images} drawn at or above quire's figure threshold, from poppler's own listing
pdf = sys.argv[1]
sizes = {}
for l in subprocess.run(["pdfinfo", "-f", "1", "-l", "100000", pdf], capture_output=True,
                        text=True).stdout.splitlines():
    m = re.match(r"Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+)", l)
    if m:
        sizes[int(m[1])] = (float(m[2]), float(m[3]))
n = {}
for l in subprocess.run(["pdfimages", "-list", pdf], capture_output=True,
                        text=True).stdout.splitlines()[2:]:
    f = l.split()
    page, kind, w, h = int(f[0]), f[2], int(f[3]), int(f[4])
    xppi, yppi = float(f[-4]), float(f[-3])  # object id is one or two columns
    if kind not in ("image", "stencil"):      # smask / mask belong to their image
        continue
    wpt, hpt = w * 72 / xppi, h * 72 / yppi
    pw, ph = sizes[page]
    if wpt >= 32 and hpt >= 32 and 0.01 * pw * ph <= wpt * hpt < 0.90 * pw * ph:
        n[page] = n.get(page, 0) + 1
print(" ".join(f"{p}:{k}" for p, k in sorted(n.items())))
EOF
cat > "$T/got.py" <<'EOF'
import json, os, re, sys
# the same {page: figures} from quire: PNG files, Markdown references, JSON figure blocks
out, stem, md, js = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
files = sorted(f for f in os.listdir(out) if f.startswith(stem + "-p") and f.endswith(".png"))
refs = re.findall(r"^!\[[^\n]*\]\(([^)]+)\)$", open(md).read(), re.M)
doc = json.load(open(js))
figs = [b for b in doc["blocks"] if b["type"] == "figure"]
problems = []
if sorted(refs) != files:
    problems.append(f"Markdown references {len(refs)} != files {len(files)}")
if len(set(refs)) != len(refs):
    problems.append("a figure referenced twice")
jfiles = sorted(b["file"] for b in figs if b["file"])
if jfiles != files:
    problems.append(f"JSON files {len(jfiles)} != files {len(files)}")
for f in files:
    with open(os.path.join(out, f), "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            problems.append(f"{f} is not a PNG")
for b in figs:
    x0, y0, x1, y1 = b["bbox"]
    if not (x1 - x0 >= 32 and y1 - y0 >= 32):
        problems.append(f"figure {b['file']} smaller than the threshold: {b['bbox']}")
n = {}  # the embedded images' figures ("drawing": false); vector drawings are extra
for f in (b["file"] for b in figs if b["file"] and not b["drawing"]):
    p = int(re.search(r"-p(\d+)-fig\d+\.png$", f)[1])
    n[p] = n.get(p, 0) + 1
print(" ".join(f"{p}:{k}" for p, k in sorted(n.items())))
for p in problems:
    print("problem:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
for d in odd-slides-pt long-asymptote paper2col-acm-sigconf small-sageep paper2col-mnras paper2col-jpsj; do
    mkdir -p "$T/o" "$T/j" "$T/d"
    "$Q" convert -q --force "$B/$d.pdf" -o "$T/o/$d.md" 2> "$T/e.$d"
    "$Q" convert -q --force --images refs "$B/$d.pdf" -o "$T/j/$d.json" 2>> "$T/e.$d"
    want=$(python3 "$T/expected.py" "$B/$d.pdf")
    got=$(python3 "$T/got.py" "$T/o" "$d" "$T/o/$d.md" "$T/j/$d.json" 2> "$T/p.$d")
    check "$d: every image poppler lists above the threshold exported once, referenced once (pages:count '$want')" \
        sh -c "[ -n '$want' ] && [ '$got' = '$want' ] && [ ! -s '$T/p.$d' ]"
    [ -s "$T/p.$d" ] && cat "$T/p.$d"
done
check "odd-slides-pt: 18 figures (poppler lists 18 photos)" \
    [ "$(ls "$T/o" | grep -c '^odd-slides-pt-p.*\.png$')" -eq 18 ]

# captions: each of these papers' figures gets its own caption, in Markdown and JSON
check "captions: Markdown alt text is the caption" sh -c "
    grep -qx '!\[Figure 1: Seattle Mariners at Spring Training, 2010.\](paper2col-acm-sigconf-p1-fig1.png)' '$T/o/paper2col-acm-sigconf.md' &&
    grep -q '^!\[Figure 2: 1907 Franklin Model D roadster' '$T/o/paper2col-acm-sigconf.md' &&
    grep -qx '!\[Figure 1: SAGEEP Meeting\](small-sageep-p1-fig1.png)' '$T/o/small-sageep.md' &&
    grep -qx '!\[Figure 1. An example figure.\](paper2col-mnras-p4-fig1.png)' '$T/o/paper2col-mnras.md' &&
    grep -qx '!\[Fig. 1. You can put EPS files into the document.\](paper2col-jpsj-p4-fig1.png)' '$T/o/paper2col-jpsj.md'"
check "captions: JSON figure blocks carry page, bbox, file and caption" python3 - "$T/j" <<'EOF'
import json, sys
d = sys.argv[1]
want = {"paper2col-acm-sigconf": [(1, "Figure 1: Seattle Mariners"), (4, "Figure 2: 1907 Franklin")],
        "small-sageep": [(1, "Figure 1: SAGEEP Meeting")],
        "paper2col-mnras": [(4, "Figure 1. An example figure.")],
        "paper2col-jpsj": [(4, "Fig. 1. You can put EPS")]}
for doc, figs in want.items():
    blocks = json.load(open(f"{d}/{doc}.json"))["blocks"]
    got = [b for b in blocks if b["type"] == "figure"]
    assert len(got) == len(figs), (doc, len(got))
    for b, (page, cap) in zip(got, figs):
        assert b["page"] == page and (b["caption"] or "").startswith(cap), (doc, b)
        assert b["file"].startswith(doc + f"-p{page}-fig") and len(b["bbox"]) == 4, b
        # the figure comes right before its caption block (caption below the image)
        i = blocks.index(b)
        assert blocks[i + 1]["type"] == "caption" and blocks[i + 1]["text"] == b["caption"], (doc, blocks[i + 1])
EOF
# a figure PNG shows the region: the acm-sigconf teaser is 505 x 126 pt -> ~1051 x 263 px at 150 dpi
check "PNG size follows the figure's bbox at 150 dpi" python3 - "$T/o/paper2col-acm-sigconf-p1-fig1.png" "$T/j/paper2col-acm-sigconf.json" <<'EOF'
import json, struct, sys
w, h = struct.unpack(">II", open(sys.argv[1], "rb").read()[16:24])
b = [b for b in json.load(open(sys.argv[2]))["blocks"] if b["type"] == "figure"][0]
x0, y0, x1, y1 = b["bbox"]
assert abs(w - (x1 - x0) * 150 / 72) <= 2 and abs(h - (y1 - y0) * 150 / 72) <= 2, (w, h, b["bbox"])
EOF

# --images none: no PNG, no reference; JSON still has the figure block with "file": null
mkdir -p "$T/n"
"$Q" convert -q --images none "$B/paper2col-acm-sigconf.pdf" -o "$T/n/a.md"
"$Q" convert -q --images none "$B/paper2col-acm-sigconf.pdf" -o "$T/n/a.json"
check "--images none: no PNG written, no image reference" sh -c "
    [ -z \"\$(ls '$T/n' | grep png)\" ] && ! grep -q '!\[' '$T/n/a.md'"
check "--images none: JSON figure blocks with file null and their caption" python3 -c "
import json
f = [b for b in json.load(open('$T/n/a.json'))['blocks'] if b['type'] == 'figure']
assert len(f) == 2 and all(b['file'] is None and 'data' not in b for b in f), f
assert f[0]['caption'].startswith('Figure 1:')"
# stdout: none by default, embed on request; refs is refused (nowhere to put the files)
"$Q" convert -q "$B/small-sageep.pdf" > "$T/stdout.md"
check "-o - (stdout): no image reference by default" sh -c "! grep -q '!\[' '$T/stdout.md' && grep -q 'SAGEEP Meeting' '$T/stdout.md'"
"$Q" convert -q --images embed "$B/small-sageep.pdf" > "$T/embed.md"
check "--images embed: the PNG as a data URI, caption as alt text" python3 - "$T/embed.md" "$T/o/small-sageep-p1-fig1.png" <<'EOF'
import base64, re, sys
md = open(sys.argv[1]).read()
m = re.findall(r"^!\[Figure 1: SAGEEP Meeting\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)$", md, re.M)
assert len(m) == 1, md[:300]
png = base64.b64decode(m[0])
assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == open(sys.argv[2], "rb").read()
EOF
mkdir -p "$T/em"
"$Q" convert -q --images embed "$B/small-sageep.pdf" -o "$T/em/s.json"
check "--images embed: JSON has data, file null, nothing written beside it" python3 -c "
import json, os
f = [b for b in json.load(open('$T/em/s.json'))['blocks'] if b['type'] == 'figure']
assert len(f) == 1 and f[0]['file'] is None and f[0]['data'].startswith('data:image/png;base64,')
assert sorted(os.listdir('$T/em')) == ['.s.json.quire', 's.json'], os.listdir('$T/em')"
"$Q" convert -q --images refs "$B/small-sageep.pdf" > /dev/null 2> "$T/refs.err"; rc=$?
check "--images refs to stdout: usage error (exit 2) saying why" sh -c "[ $rc -eq 2 ] && grep -q 'images refs' '$T/refs.err'"
"$Q" convert -q --images pictures "$B/small-sageep.pdf" > /dev/null 2> "$T/bad.err"; rc=$?
check "--images pictures: usage error (exit 2)" [ $rc -eq 2 ]
# plain text reads like the page: no figure blocks, labels stay where they were
"$Q" convert -q --format txt "$B/small-sageep.pdf" -o "$T/n/s.txt"
check "--format txt: no PNG, text unchanged by figures" sh -c "[ -z \"\$(ls '$T/n' | grep sageep)\" ] && grep -q 'SAGEEP Meeting' '$T/n/s.txt'"
# up to date: a rerun with the same options skips; --images none is another option set
"$Q" convert "$B/small-sageep.pdf" -o "$T/o/small-sageep.md" 2> "$T/again"
check "rerun with the same --images: up to date" grep -q "1 file: 0 converted, 1 up to date" "$T/again"
"$Q" convert --images embed "$B/small-sageep.pdf" -o "$T/o/small-sageep.md" 2> "$T/again2"
check "rerun with another --images: converted again" sh -c "grep -q '1 file: 1 converted, 0 up to date' '$T/again2' && grep -q 'base64' '$T/o/small-sageep.md'"
# a figure PNG removed: the output is no longer up to date (the sidecar lists its PNGs)
"$Q" convert --images refs "$B/paper2col-acm-sigconf.pdf" -o "$T/o/paper2col-acm-sigconf.md" 2> "$T/again3"
check "rerun, PNGs in place: up to date" grep -q "1 file: 0 converted, 1 up to date" "$T/again3"
rm -f "$T/o/paper2col-acm-sigconf-p4-fig1.png"
"$Q" convert --images refs "$B/paper2col-acm-sigconf.pdf" -o "$T/o/paper2col-acm-sigconf.md" 2> "$T/again4"
check "rerun after a PNG was deleted: converted again, the PNG is back" sh -c "
    grep -q '1 file: 1 converted, 0 up to date' '$T/again4' && [ -s '$T/o/paper2col-acm-sigconf-p4-fig1.png' ]"
# reconverting into the same place removes the PNGs the earlier conversion wrote (its
# sidecar's list) that the new output no longer refers to, and nothing else
check "rerun with --images embed: the earlier refs PNG removed" sh -c "
    grep -q base64 '$T/o/small-sageep.md' && [ ! -e '$T/o/small-sageep-p1-fig1.png' ]"
ls "$T/o" | grep '^paper2col-acm-sigconf-p.*-fig.*\.png$' | sort > "$T/acm-before"
echo keep > "$T/o/paper2col-acm-sigconf-p9-fig9.png" # not written by quire
"$Q" convert -q --images refs -p 1 "$B/paper2col-acm-sigconf.pdf" -o "$T/o/paper2col-acm-sigconf.md" 2> /dev/null
ls "$T/o" | grep '^paper2col-acm-sigconf-p.*-fig.*\.png$' | sort > "$T/acm-after"
check "rerun on page 1 only: the other pages' PNGs removed, page 1's kept, a PNG quire did not write kept" sh -c "
    grep -q -- '-p4-fig1.png' '$T/acm-before' && ! grep -q -- '-p4-fig1.png' '$T/acm-after' &&
    grep -q -- '-p1-fig1.png' '$T/acm-after' && [ -s '$T/o/paper2col-acm-sigconf-p1-fig1.png' ] &&
    [ \"\$(grep -v -- '-p9-fig9' '$T/acm-after' | wc -l)\" -eq \"\$(grep -c -- '-fig' '$T/o/paper2col-acm-sigconf.md')\" ] &&
    [ \"\$(cat '$T/o/paper2col-acm-sigconf-p9-fig9.png')\" = keep ]"
"$Q" convert -q --images none "$B/paper2col-acm-sigconf.pdf" -o "$T/o/paper2col-acm-sigconf.md" 2> /dev/null
check "rerun with --images none: no PNG of the document left but the one quire did not write" sh -c "
    [ \"\$(ls '$T/o' | grep '^paper2col-acm-sigconf-p.*-fig.*\.png$')\" = paper2col-acm-sigconf-p9-fig9.png ]"
# uncaptioned vector drawings (curves or slanted lines in three paths or more, no table,
# no body text inside) are figures too: lshort p. 122's two TikZ pictures beside their
# source; the source listing, its frame and makecell p. 15's empty table grids are not
"$Q" convert -q --force -p 122 "$B/nonen-pl-lshort.pdf" -o "$T/d/lshort.md" 2> /dev/null
"$Q" convert -q --force -p 122 --images none --format json "$B/nonen-pl-lshort.pdf" -o "$T/d/lshort.json" 2> /dev/null
"$Q" convert -q --force -p 15 --images none --format json "$B/tables-makecell.pdf" -o "$T/d/makecell.json" 2> /dev/null
check "uncaptioned drawings: lshort p. 122 exports its 2 TikZ pictures (PNG, ![](...), drawing true, no caption), no code inside; makecell p. 15's grids give none" python3 -c "
import json, os, re, sys
md = open('$T/d/lshort.md').read()
refs = re.findall(r'^!\[\]\((lshort-p122-fig\d\.png)\)$', md, re.M)
figs = [b for b in json.load(open('$T/d/lshort.json'))['blocks'] if b['type'] == 'figure']
code = [b for b in json.load(open('$T/d/lshort.json'))['blocks'] if b['type'] == 'code']
grid = [b for b in json.load(open('$T/d/makecell.json'))['blocks'] if b['type'] == 'figure']
pngs = [r for r in refs if open(os.path.join('$T/d', r), 'rb').read(8) == b'\x89PNG\r\n\x1a\n']
print('refs', refs, 'figures', [(b['drawing'], b['caption'], b['bbox']) for b in figs], 'code blocks', len(code), 'makecell figures', len(grid))
sys.exit(not (len(refs) == 2 and len(pngs) == 2 and len(figs) == 2 and
              all(b['drawing'] and b['caption'] is None for b in figs) and len(code) >= 1 and not grid))"
