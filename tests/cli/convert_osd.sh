#!/bin/sh
# tests/cli/convert_osd.sh — scans shown sideways or upside down are OCR'd upright:
# Tesseract's orientation detection (tesseract-ocr-osd) runs before OCR and the page
# image is turned back; small skew is straightened (Leptonica). Real scanned pages of
# ../shared/corpus: re-saved by qpdf with /Rotate 90/180/270 (the render is sideways), and
# the page image itself turned by 90 degrees (a PNG, no /Rotate at all). Before: a
# sideways scan gave a few garbage words, an upside-down one reversed noise. A page with
# one line of text has too little for OSD to judge: it must stay as it is (0 degrees).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-numpy (.ci/setup)

similar() {
    python3 - "$1" "$2" "$3" <<'EOF'
import difflib, re, sys
words = lambda p: re.findall(r"[^\W_]+", open(p, encoding="utf-8").read().lower())
a, b = words(sys.argv[1]), words(sys.argv[2])
r = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0
print(f"  {sys.argv[2].rsplit('/', 1)[-1]}: {len(b)} words vs {len(a)}, similarity {r:.4f}")
sys.exit(0 if r >= float(sys.argv[3]) else 1)
EOF
}

# report field F of the first page of the first document
field() {
    python3 -c "
import json, sys
p = json.load(open(sys.argv[1]))['documents'][0]['pages'][0]
v = p[sys.argv[2]]
print('null' if v is None else v)" "$1" "$2"
}

for id in scan-nonen-de-l2kurz-p17-mild300 scan-small-fn2end-p1-bitonal300; do
    src=$C/scanned/$id.pdf
    "$Q" convert --format txt --report "$T/$id.up.rep" "$src" > "$T/$id.up.txt" 2> /dev/null
    check "$id: upright OCR has text" [ "$(wc -w < "$T/$id.up.txt")" -gt 150 ]
    check "$id: upright stays at 0 degrees" [ "$(field "$T/$id.up.rep" text_rotation)" = 0 ]
    check "$id: report has the OSD confidence (>= 5 on a full page)" \
        python3 -c "import sys; sys.exit(0 if float('$(field "$T/$id.up.rep" osd_conf)') >= 5 else 1)"
    for r in 90 180 270; do
        qpdf --rotate=+$r "$src" "$T/$id.r$r.pdf"
        "$Q" convert --format txt --report "$T/$id.r$r.rep" "$T/$id.r$r.pdf" \
            > "$T/$id.r$r.txt" 2> /dev/null
        check "$id /Rotate $r: same words as the upright scan's OCR (>= 0.85)" \
            similar "$T/$id.up.txt" "$T/$id.r$r.txt" 0.85
        check "$id /Rotate $r: report records text_rotation $r" \
            [ "$(field "$T/$id.r$r.rep" text_rotation)" = $r ]
    done
done

# the mild300 profile is rotated by 0.7 degrees: the angle is found and reported (under
# 1 degree Tesseract reads it better as it is than resampled)
id=scan-nonen-de-l2kurz-p17-mild300
check "$id: skew of about 0.7 degrees found and reported" python3 -c "
import sys; s = abs(float('$(field "$T/$id.up.rep" skew)')); print('  skew', s)
sys.exit(0 if 0.4 <= s <= 1.0 else 1)"
# a clean300 page is straight (it is not resampled: only 1 degree or more is)
"$Q" convert --format txt --report "$T/clean.rep" "$C/scanned/scan-small-sageep-p2-clean300.pdf" \
    > /dev/null 2>&1
check "clean300 page: straight (skew under 0.2 degree)" python3 -c "
import sys; s = abs(float('$(field "$T/clean.rep" skew)')); print('  skew', s)
sys.exit(0 if s < 0.2 else 1)"

# pixels turned, no /Rotate: a sideways PNG, and a page with a single line of text
id=scan-small-fn2end-p1-bitonal300
pdftoppm -gray -r 300 "$C/scanned/$id.pdf" "$T/img"
"$PY" - "$T"/img*.pgm "$T" <<'EOF'
import struct, sys, zlib
import numpy as np
d = open(sys.argv[1], "rb").read().split(maxsplit=4)
w, h = int(d[1]), int(d[2])
a = np.frombuffer(d[4][-w * h:], dtype=np.uint8).reshape(h, w)
def png(path, img):
    hh, ww = img.shape
    raw = np.hstack([np.zeros((hh, 1), np.uint8), img]).tobytes()
    ch = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    ppm = int(round(300 / 0.0254))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", ww, hh, 8, 0, 0, 0, 0))
                           + ch(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
                           + ch(b"IDAT", zlib.compress(raw, 6)) + ch(b"IEND", b""))
png(sys.argv[2] + "/cw90.png", np.rot90(a, -1))      # text runs downwards
one = np.full_like(a, 255)
rows = np.where((a < 128).sum(axis=1) > 0)[0]         # first line of ink: the title
top = rows[0]; end = top
while end + 1 < h and (a[end + 1] < 128).any():
    end += 1
one[top:end + 1] = a[top:end + 1]
png(sys.argv[2] + "/oneline.png", one)
EOF
"$Q" convert --format txt --report "$T/cw90.rep" "$T/cw90.png" > "$T/cw90.txt" 2> /dev/null
check "sideways PNG (pixels turned 90 cw): same words as upright (>= 0.85)" \
    similar "$T/$id.up.txt" "$T/cw90.txt" 0.85
check "sideways PNG: report records text_rotation 90" [ "$(field "$T/cw90.rep" text_rotation)" = 90 ]
"$Q" convert --format txt --allow-empty --report "$T/one.rep" "$T/oneline.png" > /dev/null 2>&1
check "one line of text: OSD unsure, page left at 0 degrees" \
    [ "$(field "$T/one.rep" text_rotation)" = 0 ]
check "one line of text: its confidence is below the threshold" \
    python3 -c "import sys; sys.exit(0 if float('$(field "$T/one.rep" osd_conf)') < 5 else 1)"

# a blank page without a text layer (a book's empty verso) is not sent to Tesseract: the
# report says so, and it is still an empty page (exit 3 unless --allow-empty)
qpdf --empty --pages "$C/born/long-memman.pdf" 2 -- "$T/blank.pdf"
"$Q" convert --report "$T/blank.rep" "$T/blank.pdf" > "$T/blank.md" 2> /dev/null; rc=$?
check "blank page: exit 3 (empty page)" [ $rc -eq 3 ]
check "blank page: reason 'blank page (nothing to OCR)', method text" python3 -c "
import json, sys
p = json.load(open('$T/blank.rep'))['documents'][0]['pages'][0]
print(' ', p['method'], p['reason'], p['empty'])
sys.exit(0 if p['method'] == 'text' and p['reason'] == 'blank page (nothing to OCR)' and p['empty'] else 1)"
"$Q" convert --allow-empty "$T/blank.pdf" > /dev/null 2>&1
check "blank page with --allow-empty: exit 0" [ $? -eq 0 ]
