#!/usr/bin/env python3
"""known_items.py — known-item retrieval check for `quire search` (text mode).

For each PDF under CORPUS (seeded choice), take pages from pdftotext (an independent
extractor, not quire's converter), pick a distinctive sentence of 8-30 words on that page
(one whose normalised text occurs on no other extracted page of that document), query
`quire search --json -k 3` with it, and count a hit when one of the top 3 results is that
document with the page inside [page_start, page_end].

usage: known_items.py QUIRE DB COLLECTION CORPUS_DIR [PAGES_PER_DOC] [MIN_RATE] [MIN_TOP1]
Env KI_EXTRA: more `quire search` arguments (e.g. "--rank bm25").
Prints one line per miss, the rate, and PASS/FAIL lines; exit 0 either way.
"""
import json, os, random, re, subprocess, sys

quire, db, coll, corpus = sys.argv[1:5]
per_doc = int(sys.argv[5]) if len(sys.argv) > 5 else 2
min_rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0.95
rng = random.Random(20261122)

def norm(s):
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()

queries = []
for name in sorted(os.listdir(corpus)):
    if not name.endswith(".pdf"):
        continue
    path = os.path.join(corpus, name)
    try:
        out = subprocess.run(["pdftotext", "-l", "60", "-enc", "UTF-8", path, "-"],
                             capture_output=True, timeout=60).stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        continue
    pages = out.split("\f")
    normed = [norm(p) for p in pages]
    cands = []
    for pi, text in enumerate(pages):
        flat = re.sub(r"-\n(?=[a-z])", "", text)          # de-hyphenate like a reader
        flat = re.sub(r"\s+", " ", flat)
        for s in re.split(r"(?<=[.!?])\s+", flat):
            words = s.split()
            if not 8 <= len(words) <= 30:
                continue
            alpha = sum(1 for w in words if re.fullmatch(r"[A-Za-z][a-z]+[,.;:]?", w))
            if alpha < 0.7 * len(words):
                continue
            ns = norm(s)
            if len(ns) < 40:
                continue
            if sum(1 for j, p in enumerate(normed) if j != pi and ns in p):
                continue
            cands.append((pi + 1, s.strip()))
    rng.shuffle(cands)
    seen = set()
    for page, s in cands:
        if page in seen:
            continue
        seen.add(page)
        queries.append((path, page, s))
        if len(seen) >= per_doc:
            break

extra = os.environ.get("KI_EXTRA", "").split()
hits = top1 = n_hits = n_marked = 0
for path, page, s in queries:
    r = subprocess.run([quire, "search", "--db", db, "--collection", coll, "--mode", "text",
                        "--json", "-k", "3"] + extra + [s], capture_output=True, timeout=120)
    rank = 0
    for i, line in enumerate(r.stdout.decode("utf-8", "replace").splitlines()):
        h = json.loads(line)
        n_hits += 1
        n_marked += "\u00ab" in h["snippet"] and "\u00bb" in h["snippet"]
        if (os.path.realpath(h["document"]) == os.path.realpath(path) and
                h["page_start"] <= page <= h["page_end"] and not rank):
            rank = i + 1
    if rank:
        hits += 1
        top1 += rank == 1
    else:
        print("miss: %s p.%d: %s" % (os.path.basename(path), page, s[:100]))
n = len(queries)
rate = hits / n if n else 0.0
rate1 = top1 / n if n else 0.0
print("known-item top-1: %d/%d = %.3f, top-3: %d/%d = %.3f over %d documents" % (
      top1, n, rate1, hits, n, rate, len(set(q[0] for q in queries))))
print(("PASS" if n >= 40 else "FAIL") + " known-item: at least 40 queries (%d)" % n)
print(("PASS" if rate >= min_rate else "FAIL") +
      " known-item top-3 rate %.3f >= %.2f (text mode)" % (rate, min_rate))
print(("PASS" if n_hits and n_marked == n_hits else "FAIL") +
      " every snippet marks a matched word (%d of %d hits)" % (n_marked, n_hits))
if len(sys.argv) > 7:
    min1 = float(sys.argv[7])
    print(("PASS" if rate1 >= min1 else "FAIL") +
          " known-item top-1 rate %.3f >= %.2f (text mode)" % (rate1, min1))
