#!/bin/sh
# bench/convert/ocr_orient.sh — OCR of ../shared/corpus/scanned in one run (printed, never
# asserted):
#   1. CER/WER of quire (OSD + deskew + Tesseract LSTM) against the tesseract CLI on the
#      same page images (rendered once at 300 dpi by mutool, OMP_THREAD_LIMIT=1), both
#      scored by shared/tools/score.py against the corpus ground truth, with CPU seconds;
#   2. every scanned page re-saved by qpdf with /Rotate 90, 180 and 270 (the render is
#      sideways / upside down): word-sequence similarity of quire's OCR to its OCR of the
#      upright scan (issue 10 asks >= 0.85), and the orientation OSD reported;
#   3. per page: OSD confidence and the deskew angle of the upright scan.
# Usage: sh bench/convert/ocr_orient.sh [QUIRE_BIN]   (env SHARED=../shared)
set -u
Q=${1:-build/quire}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
C=$SHARED/corpus
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
score() { # HYPDIR -> "CER median x, pooled CER y, WER median z"
    python3 "$SHARED/tools/score.py" --manifest "$C/manifest.tsv" --hyp-dir "$1" \
        --filter kind=scanned 2> /dev/null |
        awk '/^# CER median/ {c=$4} /^# WER median/ {w=$4} /^# pooled CER/ {p=$4; pw=$7}
             END {printf "| %s | %s | %s | %s |", c, p, w, pw}'
}
cpu() { awk '{printf "%.1f", $1 + $2}' "$1"; } # user + sys seconds from time -f '%U %S'

mkdir -p "$W/up" "$W/ts" "$W/img"
/usr/bin/time -f '%U %S' -o "$W/up.cpu" "$Q" convert -q --force --jobs 2 --format txt \
    --report "$W/up.rep" -o "$W/up" "$C/scanned" 2> /dev/null
for f in "$C"/scanned/*.pdf; do
    id=$(basename "$f" .pdf)
    mutool draw -q -r 300 -c gray -o "$W/img/$id.png" "$f" 1 2> /dev/null
done
/usr/bin/time -f '%U %S' -o "$W/ts.cpu" sh -c "for i in '$W'/img/*.png; do OMP_THREAD_LIMIT=1 tesseract \"\$i\" '$W'/ts/\$(basename \"\$i\" .png) -l eng > /dev/null 2>&1; done"

echo "| OCR of scanned/ ($(ls "$C"/scanned/*.pdf | wc -l) pages) | CER median | pooled CER | WER median | pooled WER | CPU s |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| quire convert --jobs 2 (OSD + deskew) $(score "$W/up") $(cpu "$W/up.cpu") |"
echo "| tesseract CLI -l eng (300 dpi render) $(score "$W/ts") $(cpu "$W/ts.cpu") |"

for r in 90 180 270; do
    mkdir -p "$W/pdf$r" "$W/r$r"
    for f in "$C"/scanned/*.pdf; do qpdf --rotate=+$r "$f" "$W/pdf$r/$(basename "$f")"; done
    "$Q" convert -q --force --jobs 2 --format txt --report "$W/r$r.rep" -o "$W/r$r" "$W/pdf$r" \
        2> /dev/null
done
python3 - "$W" <<'EOF'
import difflib, json, os, re, sys
w = sys.argv[1]
words = lambda p: re.findall(r"[^\W_]+", open(p, encoding="utf-8").read().lower()) if os.path.exists(p) else []
def rep(name):
    d = json.load(open(os.path.join(w, name + ".rep")))
    return {os.path.basename(x["path"])[:-4]: x["pages"][0] for x in d["documents"] if x["pages"]}
up = rep("up")
ids = sorted(up)
print()
print("| page | OSD conf | skew | sim 90 | sim 180 | sim 270 | found 90/180/270 |")
print("|---|---:|---:|---:|---:|---:|---|")
sims = {90: [], 180: [], 270: []}
found_ok = 0
for i in ids:
    a = words(os.path.join(w, "up", i + ".txt"))
    row, got = [], []
    for r in (90, 180, 270):
        b = words(os.path.join(w, f"r{r}", i + ".txt"))
        s = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0
        sims[r].append(s)
        row.append(f"{s:.3f}")
        tr = rep(f"r{r}").get(i, {}).get("text_rotation")
        got.append(str(tr))
        found_ok += tr == r
    p = up[i]
    oc = "null" if p.get("osd_conf") is None else f"{p['osd_conf']:.1f}"
    print(f"| {i} | {oc} | {p.get('skew', 0):.2f} | {' | '.join(row)} | {'/'.join(got)} |")
n = len(ids)
print()
for r in (90, 180, 270):
    v = sims[r]
    print(f"/Rotate {r}: min similarity {min(v):.3f}, mean {sum(v) / n:.3f}, "
          f"{sum(x >= 0.85 for x in v)}/{n} >= 0.85")
print(f"orientation found: {found_ok}/{3 * n}; upright pages left at 0: "
      f"{sum(up[i]['text_rotation'] == 0 for i in ids)}/{n}")
EOF
