#!/usr/bin/env python3
"""mkpdf.py — writes small PDF fixtures for the CLI tests from page content streams, with a
correct cross-reference table (no other tool needed). Used as a module:

    import mkpdf
    mkpdf.write(path, pages, fonts)

pages: list of dicts {"content": bytes, "size": (w, h) (default US letter),
                      "images": {name: (w, h, gray_bytes)} (8-bit DeviceGray, optional)}
fonts: {resource name: font dictionary source text}, shared by every page; e.g.
    {"F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
"""
import zlib


def write(path, pages, fonts):
    objs = []  # object bodies (bytes); object number = index + 1

    def add(body):
        objs.append(body if isinstance(body, bytes) else body.encode("latin-1"))
        return len(objs)

    catalog = add("")  # filled in below
    pages_obj = add("")
    font_refs = {name: add(src) for name, src in fonts.items()}
    font_dict = " ".join(f"/{n} {r} 0 R" for n, r in font_refs.items())
    kids = []
    for pg in pages:
        w, h = pg.get("size", (612, 792))
        xobjs = []
        for name, (iw, ih, data) in pg.get("images", {}).items():
            comp = zlib.compress(data)
            ref = add(f"<< /Type /XObject /Subtype /Image /Width {iw} /Height {ih} "
                      f"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
                      f"/Length {len(comp)} >>\nstream\n".encode("latin-1") + comp +
                      b"\nendstream")
            xobjs.append(f"/{name} {ref} 0 R")
        content = pg["content"]
        cref = add(f"<< /Length {len(content)} >>\nstream\n".encode("latin-1") + content +
                   b"\nendstream")
        res = f"/Font << {font_dict} >>"
        if xobjs:
            res += " /XObject << " + " ".join(xobjs) + " >>"
        kids.append(add(f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {w} {h}] "
                        f"/Resources << {res} >> /Contents {cref} 0 R >>"))
    objs[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("latin-1")
    objs[pages_obj - 1] = (f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] "
                           f"/Count {len(kids)} >>").encode("latin-1")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n".encode("latin-1") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode("latin-1")
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode("latin-1")
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root {catalog} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode("latin-1")
    with open(path, "wb") as f:
        f.write(out)
