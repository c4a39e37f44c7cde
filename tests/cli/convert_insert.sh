#!/bin/sh
# tests/cli/convert_insert.sh — text drawn as an image inside a born-digital page (an
# "insert": README "Inserts", src/convert/inserts.c). The pages are built at test time
# from the corpus (tests/tools/insert_page.js, run by mutool): real pages of born/ copied
# unchanged as form XObjects, with a real scan of scanned/ drawn between them as an image.
# - one column: long-memman.pdf pages 40 and 41 stacked, the scan of r-intro p. 24 (150 dpi,
#   mild degradation) between them; the control is the same page with an empty gap:
#   auto OCRs the insert (report inserts 1 / inserts_ocr 1, page and totals), its words are
#   blocks of source "ocr" between page 40's text and page 41's, CER against the scan's
#   ground truth is printed and must be within 0.03 of quire's own OCR of the scan page
#   (and below 0.10), the text layer's blocks are exactly the control's;
#   --strategy fast and --ocr never OCR nothing; hi_res reads the insert too;
# - two columns: acm-sigconf p. 6, whose right column ends high, with the upper half of the
#   right column of the two-column scan of acm-sigconf p. 4 drawn into the right column's
#   empty part: the left column comes first, then the right column's text, then the insert;
# - not OCR'd: the photo of acm-sigconf p. 1 and the raster plot of mnras p. 4 (candidates,
#   not text-like), a scan with an invisible OCR text layer over it (covered by text: not
#   even a candidate; its words come out once), a scan drawn under a page's text (a
#   background).
. "$(dirname "$0")/../lib.sh"

B=$C/born
S=$C/scanned
JS=$(dirname "$0")/../tools/insert_page.js
SCAN=scan-long-r-intro-p24-mild150
mutool draw -q -r 150 -c gray -o "$T/scan.pgm" "$S/$SCAN.pdf" 1 2> /dev/null
# one column of the two-column scan (300 dpi): the upper half of its right column
mutool draw -q -r 300 -c gray -o "$T/scan2.pgm" "$S/scan-paper2col-acm-sigconf-p4-clean300.pdf" 1 2> /dev/null
python3 - "$T/scan2.pgm" "$T/col.pgm" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
parts, i = [], 0
while len(parts) < 4:
    while d[i:i + 1].isspace(): i += 1
    j = i
    while not d[j:j + 1].isspace(): j += 1
    parts.append(d[i:j]); i = j
w, h = int(parts[1]), int(parts[2]); px = d[i + 1:]
x0, x1, y0, y1 = int(w * 0.51), int(w * 0.92), int(h * 0.13), int(h * 0.55)
rows = b"".join(px[y * w + x0:y * w + x1] for y in range(y0, y1))
open(sys.argv[2], "wb").write(b"P5 %d %d 255\n" % (x1 - x0, y1 - y0) + rows)
EOF
mutool run "$JS" stack "$T/ins.pdf" "$B/long-memman.pdf" 40 41 "$T/scan.pgm" 460 &&
mutool run "$JS" stack "$T/ctl.pdf" "$B/long-memman.pdf" 40 41 none 460 &&
mutool run "$JS" place "$T/col.pdf" "$B/paper2col-acm-sigconf.pdf" 6 "$T/col.pgm" 318 240 242 &&
sed -n '1,200p' "$S/$SCAN.gt.txt" > "$T/gt.txt" &&
mutool run "$JS" place "$T/hidden.pdf" "$B/long-memman.pdf" 40 "$T/scan.pgm" 0 0 612 over "$T/gt.txt" &&
mutool run "$JS" place "$T/under.pdf" "$B/long-memman.pdf" 40 "$T/scan.pgm" 0 0 612 under
check "fixtures: built from the corpus with mutool" sh -c "
    for f in ins ctl col hidden under; do mutool info '$T/'\$f.pdf | grep -q 'Pages: 1' || exit 1; done"

conv() { # NAME INPUT OPTIONS...: JSON to $T/NAME.json, Markdown to $T/NAME.md, report $T/NAME.rep
    name=$1 in=$2; shift 2
    "$Q" convert -q --allow-empty "$@" --report "$T/$name.rep" --format json -o "$T/$name.json" "$in" &&
    "$Q" convert -q --allow-empty "$@" -o "$T/$name.md" "$in"
}
rep() { python3 -c "
import json, sys
r = json.load(open('$T/$1.rep')); p = r['documents'][0]['pages'][0]; t = r['totals']
print('%s:%d/%d totals %d/%d ocr-blocks %d' % (p['method'], p['inserts'], p['inserts_ocr'],
      t['inserts'], t['inserts_ocr'],
      sum(b['source'] == 'ocr' for b in json.load(open('$T/$1.json'))['blocks'])))"; }

conv ins "$T/ins.pdf"; rc=$?
conv ctl "$T/ctl.pdf"
echo "  auto on the insert page: exit $rc, $(rep ins); control: $(rep ctl)"
check "auto: the insert is found and OCR'd (page and totals), none on the control" sh -c "
    [ $rc = 0 ] && [ '$(rep ins | cut -d' ' -f1-3)' = 'text:1/1 totals 1/1' ] &&
    [ '$(rep ctl | cut -d' ' -f1-3)' = 'text:0/0 totals 0/0' ]"

# order, CER and the untouched text layer, from the JSON
"$Q" convert -q --force --ocr always --format txt -o "$T/scanocr.txt" "$S/$SCAN.pdf"
out=$(python3 - "$T" "$SHARED/tools" "$S/$SCAN.gt.txt" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[2])
import score
T = sys.argv[1]
# the image itself is a figure block (no text): left out
blocks = [b for b in json.load(open(T + "/ins.json"))["blocks"] if b["type"] != "figure"]
ctl = json.load(open(T + "/ctl.json"))["blocks"]
src = [b["source"] for b in blocks]
ocr = [i for i, s in enumerate(src) if s == "ocr"]
top = min(blocks[i]["bbox"][1] for i in ocr); bottom = max(blocks[i]["bbox"][3] for i in ocr)
text_idx = [i for i, s in enumerate(src) if s == "text"]
above = [i for i in text_idx if blocks[i]["bbox"][3] <= top]
below = [i for i in text_idx if blocks[i]["bbox"][1] >= bottom]
order = (ocr == list(range(ocr[0], ocr[-1] + 1)) and max(above) < ocr[0] and
         min(below) > ocr[-1] and len(above) + len(below) == len(text_idx))
same = [(b["type"], b["text"]) for b in blocks if b["source"] == "text"] == \
       [(b["type"], b["text"]) for b in ctl]
gt = open(sys.argv[3], encoding="utf-8").read()
hyp = "\n".join(blocks[i]["text"] for i in ocr)
cer = score.score_texts(gt, hyp, loose=True, dehyphenate=True)["cer"]
page = score.score_texts(gt, open(T + "/scanocr.txt", encoding="utf-8").read(), loose=True,
                         dehyphenate=True)["cer"]
print("order=%d same=%d cer=%.4f page_cer=%.4f blocks=%d/%d/%d" % (order, same, cer, page,
      len(above), len(ocr), len(below)))
EOF
)
echo "  insert: $out (blocks above / insert / below)"
check "the insert's blocks sit between the text above and below it" sh -c "echo '$out' | grep -q 'order=1'"
check "the text layer's blocks are exactly the control page's" sh -c "echo '$out' | grep -q 'same=1'"
check "CER of the insert vs the scan's ground truth < 0.10 and within 0.03 of the scan page's OCR" \
    python3 -c "
import re; d = dict(re.findall(r'(\w+)=([\d.]+)', '$out'))
exit(not (float(d['cer']) < 0.10 and float(d['cer']) <= float(d['page_cer']) + 0.03))"
# the Markdown has every long paragraph in the JSON's order (each found after the one
# before): page 40's text, the insert's paragraphs, page 41's text
python3 - "$T" <<'EOF' > "$T/md.out"
import json, re, sys
T = sys.argv[1]
md = re.sub(r"\s+", " ", open(T + "/ins.md", encoding="utf-8").read())
blocks = json.load(open(T + "/ins.json"))["blocks"]
paras = [b for b in blocks if b["type"] == "paragraph" and len(b["text"].split()) > 12]
pos, found, seq = 0, 0, []
for b in paras:
    w = b["text"].split(); k = len(w) // 2 - 2
    p = md.find(" ".join(w[k:k + 4]), pos)
    if p < 0:
        break
    pos, found = p + 1, found + 1
    seq.append(b["source"][0])
s = "".join(seq)
ok = found == len(paras) and re.fullmatch(r"t+o+t+", s)
print("ok" if ok else "bad", "%d/%d paragraphs in order: %s" % (found, len(paras), s))
EOF
echo "  Markdown: $(cat "$T/md.out") (t text layer, o insert)"
check "Markdown: the insert's paragraphs come after page 40's text and before page 41's" \
    grep -q '^ok' "$T/md.out"

for s in "fast:--strategy fast" "never:--ocr never" "hires:--strategy hi_res"; do
    conv "${s%%:*}" "$T/ins.pdf" ${s#*:}
done
echo "  fast: $(rep fast); --ocr never: $(rep never); hi_res: $(rep hires)"
check "--strategy fast and --ocr never: nothing OCR'd" sh -c "
    [ '$(rep fast)' = 'text:0/0 totals 0/0 ocr-blocks 0' ] &&
    [ '$(rep never)' = 'text:0/0 totals 0/0 ocr-blocks 0' ]"
check "--strategy hi_res: the insert is OCR'd" sh -c "[ '$(rep hires | cut -d' ' -f1-3)' = 'text:1/1 totals 1/1' ]"

# two columns: the left column (beside the insert and above it), then the right column's
# text above the insert, then the insert (full-width blocks of the page's top are left out)
conv col "$T/col.pdf"
out=$(python3 - "$T" <<'EOF'
import json, sys
blocks = json.load(open(sys.argv[1] + "/col.json"))["blocks"]
body = [b for b in blocks if b["type"] != "figure"]
ocr = [i for i, b in enumerate(body) if b["source"] == "ocr"]
text = [(i, b["bbox"]) for i, b in enumerate(body) if b["source"] == "text"]
left = [i for i, bb in text if bb[2] < 306]
right = [i for i, bb in text if bb[0] > 306]
words = sum(len(body[i]["text"].split()) for i in ocr)
ok = (ocr and left and right and ocr == list(range(ocr[0], ocr[-1] + 1)) and
      max(left) < ocr[0] and max(right) < ocr[0] and words >= 50)
print("%s ocr blocks %d (%d words), left %d, right %d" % ("ok" if ok else "bad", len(ocr), words,
      len(left), len(right)))
EOF
)
echo "  two columns: $(rep col); $out"
check "two columns: the left column, the right column's text, then the insert in the right column" sh -c "
    [ '$(rep col | cut -d' ' -f1-3)' = 'text:1/1 totals 1/1' ] && echo '$out' | grep -q '^ok'"

# not OCR'd: a photo, a raster plot, a scan under an invisible text layer, a background
"$Q" convert -q --allow-empty --pages 1 --report "$T/photo.rep" --format json -o "$T/photo.json" \
    "$B/paper2col-acm-sigconf.pdf"
"$Q" convert -q --allow-empty --pages 4 --report "$T/plot.rep" --format json -o "$T/plot.json" \
    "$B/paper2col-mnras.pdf"
conv hidden "$T/hidden.pdf"
conv under "$T/under.pdf"
echo "  photo: $(rep photo); plot: $(rep plot); invisible text layer: $(rep hidden); background: $(rep under)"
check "a photo and a raster plot: candidates, not OCR'd" sh -c "
    [ '$(rep photo)' = 'text:1/0 totals 1/0 ocr-blocks 0' ] && [ '$(rep plot)' = 'text:1/0 totals 1/0 ocr-blocks 0' ]"
n_gt=$(grep -c 'The function tapply() is used to apply a function' "$T/gt.txt")
n_md=$(grep -o 'The function tapply() is used to apply a function' "$T/hidden.md" | wc -l)
check "a scan with an invisible text layer: no candidate, its words once (text layer)" sh -c "
    [ '$(rep hidden)' = 'text:0/0 totals 0/0 ocr-blocks 0' ] && [ $n_gt = 1 ] && [ $n_md = 1 ]"
check "a scan drawn under a page's text (background): no candidate, text as the page's" sh -c "
    [ '$(rep under)' = 'text:0/0 totals 0/0 ocr-blocks 0' ] && grep -q 'are mutually exclusive' '$T/under.md'"
