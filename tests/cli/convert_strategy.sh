#!/bin/sh
# tests/cli/convert_strategy.sh — `quire convert --strategy fast|ocr_only|hi_res|auto`
# (cli/cmd_convert.c, src/convert/convert.c apply_strategy, src/convert/inserts.c) and the
# timing / memory fields of --report (docs/convert-json.md).
# Fixture (tests/tools/mkpdf.py): page 1 a text layer with a picture whose pixels show
# words that are not in the text layer (rendered by pdftoppm from a first PDF); page 2 a
# scanned page (no text layer, from the corpus' scan, embedded as an image).
# - fast: text layer only (page 2 empty, no OCR anywhere, picture words absent);
# - ocr_only: every page OCR'd (method ocr on both);
# - auto: page 1 text plus the picture's words (an insert that looks like text: inserts_ocr
#   1), page 2 OCR; with --ocr never the picture words are absent;
# - hi_res: as auto (inserts_ocr 1 on page 1: hi_res OCRs every insert);
# - contradictions (--strategy fast --ocr always, ocr_only --ocr never, ocr_only --vlm
#   auto, hi_res --ocr always) exit 2 naming both options; an unknown strategy exits 2;
# - every report has the strategy, per-page ms / rss_kb, per-document ms, pages_per_min,
#   page_ms_{mean,median,max}, peak_rss_kb, and totals seconds / pages_per_min /
#   cpu_seconds / peak_rss_kb, all within sane bounds.
. "$(dirname "$0")/../lib.sh"
python3 - "$(dirname "$0")/../tools" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import mkpdf
F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
# the words the picture will show (not in any text layer)
mkpdf.write(sys.argv[2] + "/label.pdf", [{"size": (360, 72), "content":
    b"BT /F1 28 Tf 12 26 Td (QUOKKA ZEBRA MANGO) Tj ET"}], F)
EOF
pdftoppm -gray -r 200 "$T/label.pdf" "$T/label" && mv "$T"/label*.pgm "$T/label.pgm"
python3 - "$(dirname "$0")/../tools" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import mkpdf
def pgm(path):
    d = open(path, "rb").read()
    parts, i = [], 0
    while len(parts) < 4:  # P5 W H MAX, whitespace separated
        while d[i:i + 1].isspace(): i += 1
        j = i
        while not d[j:j + 1].isspace(): j += 1
        parts.append(d[i:j]); i = j
    w, h = int(parts[1]), int(parts[2])
    return w, h, d[i + 1:i + 1 + w * h]
F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
w, h, px = pgm(sys.argv[2] + "/label.pgm")
text = [b"BT /F1 12 Tf 14 TL 72 720 Td"]
for k in range(12):
    text.append(b"(The text layer of this page is clean and reads as it is printed here.) Tj T*")
text.append(b"ET")
page1 = {"content": b"\n".join(text) + b"\nq 360 0 0 72 126 300 cm /Im1 Do Q",
         "images": {"Im1": (w, h, px)}}
mkpdf.write(sys.argv[2] + "/mixed.pdf", [page1], F)
EOF
# page 2: a real scanned page (image only)
S=$C/scanned/scan-long-gnuplot-p28-mild300.pdf
mutool merge -o "$T/book.pdf" "$T/mixed.pdf" "$S"
check "fixture: a 2-page book" sh -c "mutool info '$T/book.pdf' | grep -q 'Pages: 2'"

run() { # $1 = strategy: convert to $T/$1.md with report $T/$1.json
    "$Q" convert --strategy "$1" --allow-empty --report "$T/$1.json" -o "$T/$1.md" \
        "$T/book.pdf" 2> "$T/$1.err"
}
methods() { python3 -c "
import json
d = json.load(open('$1'))['documents'][0]
print(' '.join(p['method'] + ':' + str(p['inserts_ocr']) for p in d['pages']))"; }

for s in fast ocr_only auto hi_res; do
    run $s; rc=$?
    echo "  $s: exit $rc, pages $(methods "$T/$s.json")"
    check "--strategy $s: exit 0" [ $rc = 0 ]
done
check "fast: no page OCR'd" [ "$(methods "$T/fast.json")" = "text:0 text:0" ]
check "fast: the text layer is there, the scan and the picture words are not" sh -c "
    grep -q 'clean and reads as it is printed' '$T/fast.md' && ! grep -qi 'QUOKKA' '$T/fast.md' &&
    ! grep -qi 'gnuplot' '$T/fast.md'"
check "ocr_only: both pages OCR'd" [ "$(methods "$T/ocr_only.json")" = "ocr:0 ocr:0" ]
check "ocr_only: the OCR'd page 1 reads the picture's words too" grep -qi 'QUOKKA' "$T/ocr_only.md"
check "auto: text layer on page 1 with its insert OCR'd, OCR on the scan" \
    [ "$(methods "$T/auto.json")" = "text:1 ocr:0" ]
check "auto: the picture's words and the text layer are both in the Markdown" sh -c "
    grep -q 'QUOKKA ZEBRA MANGO' '$T/auto.md' && grep -q 'clean and reads as it is printed' '$T/auto.md'"
"$Q" convert --ocr never --allow-empty --report "$T/never.json" -o "$T/never.md" "$T/book.pdf" 2> /dev/null
check "auto --ocr never: nothing OCR'd, the picture words are not read" sh -c "
    [ \"\$(python3 -c \"
import json
d = json.load(open('$T/never.json'))['documents'][0]
print(' '.join(p['method'] + ':' + str(p['inserts']) + '/' + str(p['inserts_ocr']) for p in d['pages']))\")\" = 'text:0/0 text:0/0' ] &&
    ! grep -qi 'QUOKKA' '$T/never.md'"
check "hi_res: text layer on page 1 with its insert OCR'd, OCR on the scan" \
    [ "$(methods "$T/hi_res.json")" = "text:1 ocr:0" ]
check "hi_res: the picture's words and the text layer are both in the Markdown" sh -c "
    grep -q 'QUOKKA ZEBRA MANGO' '$T/hi_res.md' && grep -q 'clean and reads as it is printed' '$T/hi_res.md'"
check "auto and hi_res: the text layer is not repeated by the insert's OCR" \
    [ "$(grep -o 'clean and reads as it is printed' "$T/hi_res.md" | wc -l)" = 12 ] &&
    [ "$(grep -o 'clean and reads as it is printed' "$T/auto.md" | wc -l)" = 12 ]
check "hi_res: the scanned page is read" grep -qi 'gnuplot' "$T/hi_res.md"

# contradictions: exit 2, one line naming both options
contra() { # $1 = name, $2... = options
    name=$1; shift
    "$Q" convert "$@" -o "$T/x.md" "$T/book.pdf" 2> "$T/c.err"; rc=$?
    echo "  $name: exit $rc: $(head -1 "$T/c.err")"
    check "$name: exit 2 naming the strategy and the option" sh -c "
        [ $rc = 2 ] && grep -q -- '--strategy' '$T/c.err' && [ ! -e '$T/x.md' ]"
}
contra "fast + --ocr always" --strategy fast --ocr always
contra "fast + --ocr auto" --strategy fast --ocr auto
contra "ocr_only + --ocr never" --strategy ocr_only --ocr never
contra "ocr_only + --vlm auto" --strategy ocr_only --vlm auto
contra "fast + --vlm always" --strategy fast --vlm always
contra "hi_res + --ocr never" --strategy hi_res --ocr never
grep -q -- '--ocr never' "$T/c.err"; check "hi_res + --ocr never: the message names --ocr never" [ $? = 0 ]
"$Q" convert --strategy fast --ocr never --allow-empty -o "$T/y.md" "$T/book.pdf" 2> /dev/null
check "fast + --ocr never (what fast implies): accepted" [ $? = 0 ]
"$Q" convert --strategy best -o "$T/x.md" "$T/book.pdf" 2> "$T/c.err"; rc=$?
check "unknown strategy: exit 2" sh -c "[ $rc = 2 ] && grep -q 'best' '$T/c.err'"

# report: strategy, timing and memory for every strategy, sane values
for s in fast ocr_only auto hi_res; do
    out=$(python3 - "$T/$s.json" "$s" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); s = sys.argv[2]
bad = []
def need(ok, what):
    if not ok: bad.append(what)
need(r.get("strategy") == s, "top-level strategy")
d = r["documents"][0]; t = r["totals"]
need(d.get("strategy") == s, "document strategy")
need(isinstance(d["ms"], float) and 0 < d["ms"] < 600000, "document ms")
pm = [p["ms"] for p in d["pages"]]
need(all(isinstance(x, float) and 0 < x <= d["ms"] for x in pm), "page ms in (0, document ms]")
need(sum(pm) <= d["ms"] * 1.05 + 1, "page ms sum <= document ms (1 worker)")
need(abs(d["page_ms_mean"] - sum(pm) / len(pm)) < 0.01, "page_ms_mean")
need(abs(d["page_ms_max"] - max(pm)) < 0.01, "page_ms_max")
need(abs(d["page_ms_median"] - sorted(pm)[0] / 2 - sorted(pm)[1] / 2) < 0.01, "page_ms_median")
need(abs(d["pages_per_min"] - 60000 * len(pm) / d["ms"]) < 0.01, "pages_per_min")
rss = [p["rss_kb"] for p in d["pages"]]
need(all(isinstance(x, int) and 1000 < x < 64 * 2**20 for x in rss), "page rss_kb")
need(isinstance(d["peak_rss_kb"], int) and d["peak_rss_kb"] >= max(rss) * 0.9, "document peak_rss_kb")
need(t["peak_rss_kb"] >= d["peak_rss_kb"], "totals peak_rss_kb >= document's")
need(0 < t["seconds"] and t["seconds"] * 1000 >= d["ms"] * 0.95, "totals seconds")
need(abs(t["pages_per_min"] - 60 * t["pages"] / t["seconds"]) < 0.01, "totals pages_per_min")
need(0 < t["cpu_seconds"] < 3600, "totals cpu_seconds")
print(("bad: " + ", ".join(bad)) if bad else "ok",
      "doc %.0f ms, pages %s ms, peak %d KiB" % (d["ms"], "/".join("%.0f" % x for x in pm),
                                                 d["peak_rss_kb"]))
EOF
)
    echo "  report $s: $out"
    check "report ($s): strategy, timing and memory fields present and sane" [ "${out%% *}" = ok ]
done
