#!/bin/sh
# tests/cli/store_pdfmeta.sh — the PDF's own metadata stored at ingest (issue 15 point 2),
# checked against independent readers on real corpus PDFs: poppler's `pdfinfo` for the Info
# dictionary (strings with whitespace folded; dates as the same instant, UTC), `pdfinfo
# -meta` + Python's XML parser for what only the XMP packet has (dc:creator as "a; b",
# pdf:Keywords), qpdf's JSON for the catalog's /Lang. Covers UTF-16 (CJK) strings, zones
# +08/-05/+05:30, a date without a zone (kept without "Z"), the Y2K "19112..." year, a date
# that is no date (left out), and a filter on pdf.author. ~10 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
B=$C/born
DB=$T/s.db
mkdir -p "$T/in"
for f in small-opteng odd-word-cjk paper2col-acm-sigconf math-bussproofs paper2col-els5p \
         small-sageep math-physics small-grant paper2col-jpsj odd-slides-pt paper2col-apssamp \
         nonen-cs-cstexman; do
    cp "$B/$f.pdf" "$T/in/"
done
"$Q" ingest -q --db "$DB" --jobs 2 "$T/in" > /dev/null 2> "$T/e"; rc=$?
check "ingest of 12 corpus PDFs: exit 0" [ $rc -eq 0 ] || cat "$T/e"
"$Q" docs --db "$DB" --json > "$T/docs" 2>/dev/null
check "quire's pdf.* keys = pdfinfo / XMP / qpdf, key by key" $PY - "$T/docs" <<'EOF2'
import json, re, subprocess, sys, os
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
INFO = {"Title": "pdf.title", "Author": "pdf.author", "Subject": "pdf.subject",
        "Keywords": "pdf.keywords", "Creator": "pdf.creator", "Producer": "pdf.producer",
        "CreationDate": "pdf.created", "ModDate": "pdf.modified"}
DATES = ("pdf.created", "pdf.modified")
NS = {"dc": "http://purl.org/dc/elements/1.1/", "pdf": "http://ns.adobe.com/pdf/1.3/",
      "xmp": "http://ns.adobe.com/xap/1.0/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
def fold(s): return " ".join(s.split())
def pdfinfo(path, *opt):
    out = subprocess.run(["pdfinfo", *opt, path], capture_output=True).stdout.decode("utf-8", "replace")
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        if k in INFO and v.strip():
            d[INFO[k]] = v.strip()
    return d
def xmp(path):
    raw = subprocess.run(["pdfinfo", "-meta", path], capture_output=True).stdout.decode("utf-8", "replace")
    m = re.search(r"<x:xmpmeta.*</x:xmpmeta>|<rdf:RDF.*</rdf:RDF>", raw, re.S)
    if not m:
        return {}
    root = ET.fromstring(m.group(0))
    d = {}
    lis = lambda tag: [fold(e.text or "") for e in root.iter("{%s}%s" % (NS["dc"], tag))
                       for e in e.iter("{%s}li" % NS["rdf"]) if (e.text or "").strip()]
    if lis("creator"): d["pdf.author"] = "; ".join(lis("creator"))
    if lis("title"): d["pdf.title"] = lis("title")[0]
    if lis("description"): d["pdf.subject"] = lis("description")[0]
    for ns, tag, key in (("pdf", "Keywords", "pdf.keywords"), ("xmp", "CreatorTool", "pdf.creator"),
                         ("pdf", "Producer", "pdf.producer")):
        e = root.find(".//{%s}%s" % (NS[ns], tag))
        v = fold(e.text or "") if e is not None else ""
        if not v and ns == "pdf":  # also an attribute of rdf:Description
            for desc in root.iter("{%s}Description" % NS["rdf"]):
                v = fold(desc.get("{%s}%s" % (NS[ns], tag), ""))
                if v: break
        if v: d[key] = v
    return d
def lang(path):
    j = json.loads(subprocess.run(["qpdf", "--json", "--json-key=qpdf", path], capture_output=True).stdout)
    objs = j["qpdf"][1]
    root = objs["trailer"]["value"]["/Root"]
    l = objs["obj:" + root]["value"].get("/Lang")
    return l[2:] if isinstance(l, str) and l.startswith("u:") else None
checked = 0
fails = []
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == 12, len(docs)
for doc in docs:
    path, meta = doc["path"], doc["metadata"] or {}
    name = os.path.basename(path)
    iso, rawd, x = pdfinfo(path, "-isodates"), pdfinfo(path, "-rawdates"), xmp(path)
    want = {}
    for k, v in iso.items():
        if k not in DATES:
            want[k] = fold(v)
            continue
        raw = rawd.get(k, "")
        if re.fullmatch(r"\d{4}-\d\d-\d\d", raw):   # already an ISO date: kept
            want[k] = raw
        elif re.fullmatch(r"D:\d{14,15}", raw):     # no zone: the wall clock, no "Z"
            want[k] = datetime.fromisoformat(v).strftime("%Y-%m-%dT%H:%M:%S")
        else:
            try:
                t = datetime.fromisoformat(v)
            except ValueError:                       # "September 2002": not a date
                continue
            want[k] = t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t.tzinfo else t.isoformat()
    for k, v in x.items():
        want.setdefault(k, v)                        # XMP fills what Info leaves out
    l = lang(path)
    if l: want["pdf.language"] = l
    got = {k: v for k, v in meta.items() if k.startswith("pdf.")}
    for k in sorted(set(want) | set(got)):
        checked += 1
        if want.get(k) != got.get(k):
            fails.append("%s %s: want %r, got %r" % (name, k, want.get(k), got.get(k)))
print("%d keys compared over %d PDFs, %d differ" % (checked, len(docs), len(fails)))
for f in fails: print("  " + f)
assert not fails and checked >= 55
EOF2
"$Q" convert --format json --pages 1 "$T/in/odd-word-cjk.pdf" > "$T/cj.json" 2>/dev/null
check "convert --format json carries the same metadata as the store" $PY - "$T/cj.json" "$T/docs" <<'EOF2'
import json, sys, os
j = json.load(open(sys.argv[1]))
d = {os.path.basename(x["path"]): x["metadata"] for x in map(json.loads, open(sys.argv[2]))}
assert j["metadata"] == d["odd-word-cjk.pdf"] and j["metadata"]["pdf.language"] == "zh-CN", j["metadata"]
EOF2
pick() { $PY -c 'import json,sys,os; d={os.path.basename(x["path"]): x["metadata"] for x in map(json.loads, open(sys.argv[1]))}; print(d[sys.argv[2]].get(sys.argv[3]))' "$T/docs" "$@"; }
check "UTF-16 CJK title read" [ "$(pick odd-word-cjk.pdf pdf.title)" = "各院、系：" ]
check "a zone +08 becomes UTC" [ "$(pick odd-word-cjk.pdf pdf.created)" = "2016-01-04T10:36:53Z" ]
check "the Y2K year 19112 read as 2012 (no zone: no Z)" [ "$(pick math-bussproofs.pdf pdf.created)" = "2012-08-20T15:20:31" ]
check "'September 2002' is no date: left out" [ "$(pick nonen-cs-cstexman.pdf pdf.created)" = None ]
pick paper2col-acm-sigconf.pdf pdf.author > "$T/au"
check "XMP-only authors joined with '; '" grep -q '^Ben Trovato; G.K.M. Tobin; ' "$T/au"
"$Q" search --db "$DB" --json -k 50 --where '{"pdf.author":"Patrick Egan"}' manuscript > "$T/h" 2>/dev/null
check "--where on pdf.author: hits from that PDF only" $PY -c 'import json,sys; h=[json.loads(l) for l in open(sys.argv[1])]; assert h and all(x["document"].endswith("small-opteng.pdf") for x in h), h' "$T/h"
"$Q" search --db "$DB" --json -k 50 --where '{"pdf.created":{"$lt":"2007"}}' the > "$T/h2" 2>/dev/null
check "--where on pdf.created (ISO strings sort): only PDFs made before 2007" $PY - "$T/h2" <<'EOF2'
import json, sys, os
docs = {os.path.basename(json.loads(l)["document"]) for l in open(sys.argv[1])}
# made before 2007: small-opteng, paper2col-jpsj and odd-slides-pt (Portuguese: no "the")
assert {"small-opteng.pdf", "paper2col-jpsj.pdf"} <= docs <= {"small-opteng.pdf", "paper2col-jpsj.pdf", "odd-slides-pt.pdf"}, docs
EOF2
