#!/usr/bin/env python3
"""mkvlmfix.py DIR — fixtures for tests/cli/vlm_auto.sh (written with mkpdf):
  born.pdf   one clean born-digital page (Helvetica text layer, no table, no formula);
  low.pdf    one image-only page of glyph-like strokes in lines of "words": a scan that
             Tesseract reads with a mean confidence far below 70 (about 18);
  table.pdf  a born page with a ruled 3x3 table (full grid) between two paragraphs;
  math.pdf   a born page with a display formula line of math symbols between paragraphs.
"""
import random
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import mkpdf  # noqa: E402

F = {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
     "F2": "<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>"}


def lines(rows, y, size=11, font="F1"):
    out = [f"BT /{font} {size} Tf {size + 3} TL 72 {y} Td".encode()]
    out += [f"({r}) Tj T*".encode("latin-1") for r in rows]
    return b"\n".join(out + [b"ET"])


PROSE = ["This page has a clean text layer with ordinary words on it, written by a",
         "program the way a word processor would, so the text layer serves it well and",
         "nothing about it needs a vision-language model to read it again."]


def born(d):
    mkpdf.write(d + "/born.pdf", [{"content": lines(PROSE, 720)}], F)


def low(d):
    random.seed(5)
    w, h = 1275, 1650
    img = bytearray(b"\xff" * (w * h))

    def rect(x0, y0, x1, y1, v=0):
        for y in range(max(0, y0), min(h, y1)):
            a, b = max(0, x0), min(w, x1)
            img[y * w + a:y * w + b] = bytes([v]) * (b - a)
    y = 120
    while y < h - 150:
        x = 110
        while x < w - 160:
            for _ in range(random.randint(3, 9)):
                gw, gh = random.randint(6, 14), random.randint(14, 26)
                k = random.random()
                if k < 0.4:
                    rect(x, y + 26 - gh, x + 3, y + 26)
                    rect(x, y + 26 - gh, x + gw, y + 29 - gh)
                elif k < 0.7:
                    rect(x, y + 12, x + gw, y + 26)
                    rect(x + 3, y + 15, x + gw - 3, y + 23, 255)
                else:
                    rect(x + gw // 2, y + 4, x + gw // 2 + 3, y + 26)
                    rect(x, y + 20, x + gw, y + 23)
                x += gw + random.randint(2, 5)
            x += random.randint(14, 24)
        y += random.randint(40, 52)
    mkpdf.write(d + "/low.pdf", [{"content": b"q 612 0 0 792 0 0 cm /Im1 Do Q",
                                  "images": {"Im1": (w, h, bytes(img))}}], {})


def table(d):
    c = [lines(PROSE, 720)]
    x = [72, 232, 392, 540]
    yy = [640, 620, 600, 580]
    g = [b"0.8 w"]
    for y in yy:
        g.append(f"{x[0]} {y} m {x[-1]} {y} l S".encode())
    for xv in x:
        g.append(f"{xv} {yy[0]} m {xv} {yy[-1]} l S".encode())
    c.append(b"\n".join(g))
    cells = [["Item", "Count", "Share"], ["pages", "12", "40%"], ["tables", "3", "10%"]]
    for r, row in enumerate(cells):
        for k, t in enumerate(row):
            c.append(f"BT /F1 10 Tf {x[k] + 6} {yy[r] - 14} Td ({t}) Tj ET".encode())
    c.append(lines(["A paragraph after the table closes the page with more ordinary words."], 540))
    mkpdf.write(d + "/table.pdf", [{"content": b"\n".join(c)}], F)


def math(d):
    c = [lines(PROSE[:2], 720)]
    # Symbol font: a = alpha, b = beta, S = Sigma, + = plus, = = equal, \xb6 partial
    c.append(b"BT /F2 14 Tf 200 660 Td (S a + b = \\266 a + \\266 b = g) Tj ET")
    c.append(lines(["The formula above is display math that the text layer cannot give as LaTeX."], 620))
    mkpdf.write(d + "/math.pdf", [{"content": b"\n".join(c)}], F)


if __name__ == "__main__":
    for f in (born, low, table, math):
        f(sys.argv[1])
