// tests/tools/insert_page.js — build test pages that hold an image inside real born-digital
// pages (mutool run; MuPDF's JavaScript). Used by tests/cli/convert_insert.sh.
//
//   mutool run insert_page.js stack OUT.pdf SRC.pdf PAGE_A PAGE_B IMAGE|none WIDTH
//       one tall page: SRC's page PAGE_A on top, then IMAGE drawn WIDTH points wide
//       (height by its aspect), centred, then page PAGE_B: text above and below the
//       image. With "none" the same page with an empty gap (the control).
//   mutool run insert_page.js place OUT.pdf SRC.pdf PAGE IMAGE X Y WIDTH [over|under]
//       [TEXTFILE]
//       SRC's page PAGE with IMAGE drawn at X, Y (top-left corner, points from the page's
//       top-left) WIDTH points wide; "under" draws it below the page's content (a
//       background); TEXTFILE: its lines written as invisible text (render mode 3) over
//       the image, one line per 1/N of its height (what an OCR'd scan's text layer is).
// Pages are copied as form XObjects: the text layer is the source page's, unchanged.
var a = scriptArgs;
var mode = a[0], out = a[1], src = new PDFDocument(a[2]);
var doc = new PDFDocument();

function pageForm(n) {
    var p = src.findPage(n - 1);
    var box = p.get("MediaBox");
    var res = p.get("Resources");
    for (var q = p; res.isNull() && !q.get("Parent").isNull(); q = q.get("Parent"))
        res = q.get("Parent").get("Resources");
    var c = p.get("Contents"), body = new Buffer();
    var parts = c.isArray() ? c : [c];
    for (var i = 0; i < parts.length; i++) {
        body.writeBuffer((c.isArray() ? c.get(i) : c).readStream());
        body.writeLine("");
    }
    var d = doc.newDictionary();
    d.put("Type", doc.newName("XObject"));
    d.put("Subtype", doc.newName("Form"));
    var bb = doc.newArray();
    for (var k = 0; k < 4; k++)
        bb.push(box.get(k));
    d.put("BBox", bb);
    d.put("Resources", doc.graftObject(res));
    var form = doc.addStream(body, d);
    return {form: form, w: box.get(2) - box.get(0), h: box.get(3) - box.get(1)};
}

function image(path) {
    var im = new Image(path);
    return {ref: doc.addImage(im), w: im.getWidth(), h: im.getHeight()};
}

function f(x) { return x.toFixed(3); }

var xo = doc.newDictionary(), res = doc.newDictionary(), content = "", W, H;
res.put("XObject", xo);
if (mode === "stack") {
    var A = pageForm(parseInt(a[3])), B = pageForm(parseInt(a[4]));
    var iw = parseFloat(a[6]), ih = 0, gap = 36;
    if (a[5] !== "none") {
        var I = image(a[5]);
        ih = iw * I.h / I.w;
        xo.put("Im", I.ref);
    } else {
        ih = iw * 11 / 8.5;
    }
    W = A.w;
    H = A.h + gap + ih + gap + B.h;
    xo.put("A", A.form);
    xo.put("B", B.form);
    content += "q 1 0 0 1 0 " + f(H - A.h) + " cm /A Do Q\n";
    if (a[5] !== "none")
        content += "q " + f(iw) + " 0 0 " + f(ih) + " " + f((W - iw) / 2) + " " + f(B.h + gap) +
            " cm /Im Do Q\n";
    content += "q /B Do Q\n";
} else if (mode === "place") {
    var P = pageForm(parseInt(a[3])), J = image(a[4]);
    var x = parseFloat(a[5]), y = parseFloat(a[6]), w = parseFloat(a[7]);
    var h = w * J.h / J.w, under = a[8] === "under";
    W = P.w;
    H = P.h;
    xo.put("P", P.form);
    xo.put("Im", J.ref);
    var im = "q " + f(w) + " 0 0 " + f(h) + " " + f(x) + " " + f(H - y - h) + " cm /Im Do Q\n";
    content = under ? im + "q /P Do Q\n" : "q /P Do Q\n" + im;
    if (a[9]) {
        var lines = read(a[9]).split("\n").filter(function (s) { return s.trim().length > 0; });
        var font = doc.addSimpleFont(new Font("Helvetica"), "Latin");
        var fd = doc.newDictionary();
        fd.put("F1", font);
        res.put("Font", fd);
        var step = h / lines.length, size = step * 0.7;
        content += "BT 3 Tr /F1 " + f(size) + " Tf\n";
        for (var i = 0; i < lines.length; i++) {
            var t = lines[i].replace(/[\\()]/g, "\\$&").replace(/[^\x20-\x7e]/g, "?");
            content += "1 0 0 1 " + f(x + 4) + " " + f(H - y - (i + 0.8) * step) + " Tm (" + t +
                ") Tj\n";
        }
        content += "ET\n";
    }
} else {
    throw new Error("mode: stack or place");
}
var page = doc.addPage([0, 0, W, H], 0, res, content);
doc.insertPage(-1, page);
doc.save(out, "compress");
