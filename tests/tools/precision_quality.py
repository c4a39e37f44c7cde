#!/usr/bin/env python3
"""precision_quality.py — bf16 / int8 against fp32 on corpus chunks and known-item queries.

usage: precision_quality.py QUIRE MODEL DB CORPUS_DIR [--max-chunks N] [--per-doc N]
                            [--threads N] [--min-overlap X] [--min-cos-bf16 X]
                            [--min-cos-int8 X] [--precisions "bf16 int8"]

DB is a store that `quire ingest` filled from CORPUS_DIR (text-only is enough: only its
chunks are used). The chunk texts (--max-chunks of them spread evenly over the store,
default all) and known-item
queries (a distinctive sentence of 8-30 words from pdftotext's text of a seeded choice of
--per-doc pages per document, as tests/tools/known_items.py picks them) are embedded with
`quire embed --format f32` once per precision. Printed, per precision P:
  - cosine(P, fp32) over every chunk: min and mean (the vectors a store would hold);
  - top-10 overlap: for each query, |top-10 chunks by cosine with P vectors (query and
    chunks) ∩ the fp32 top-10| / 10, mean and min over the queries (exact search, so the
    figure is the embedding's drift alone, not HNSW's);
  - known-item hit@10: the query's page is inside a top-10 chunk of its document.
Then PASS/FAIL lines for the minima given (defaults: overlap 0.95, cosine bf16 0.9995,
int8 0.995). Exit 0 either way (the caller counts PASS/FAIL).
"""
import argparse
import os
import random
import re
import sqlite3
import subprocess
import sys
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("quire")
ap.add_argument("model")
ap.add_argument("db")
ap.add_argument("corpus")
ap.add_argument("--max-chunks", type=int, default=0)
ap.add_argument("--per-doc", type=int, default=4)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--min-overlap", type=float, default=0.95)
ap.add_argument("--min-cos-bf16", type=float, default=0.9995)
ap.add_argument("--min-cos-int8", type=float, default=0.995)
ap.add_argument("--precisions", default="bf16 int8")
ap.add_argument("--work", default="")
a = ap.parse_args()
work = a.work or os.path.dirname(os.path.abspath(a.db))


def norm(s):
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


# ---- chunks --------------------------------------------------------------------------------
con = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
rows = con.execute("SELECT c.id, d.path, c.page_start, c.page_end, c.text FROM chunks c "
                   "JOIN documents d ON d.id = c.document_id ORDER BY d.path, c.seq").fetchall()
if a.max_chunks and len(rows) > a.max_chunks:  # evenly spread: every document has some
    step = len(rows) / a.max_chunks
    rows = [rows[int(i * step)] for i in range(a.max_chunks)]
chunks = [(r[1], r[2], r[3], re.sub(r"\s+", " ", r[4]).strip() or ".") for r in rows]
docs = sorted({c[0] for c in chunks})

# ---- known-item queries (as known_items.py) ---------------------------------------------------
rng = random.Random(20261203)
queries = []
for path in docs:
    if not path.endswith(".pdf") or not os.path.exists(path):
        continue
    try:
        out = subprocess.run(["pdftotext", "-l", "60", "-enc", "UTF-8", path, "-"],
                             capture_output=True, timeout=60).stdout.decode("utf-8", "replace")
    except (subprocess.TimeoutExpired, FileNotFoundError):
        continue
    pages = out.split("\f")
    normed = [norm(p) for p in pages]
    cands = []
    for pi, text in enumerate(pages):
        flat = re.sub(r"\s+", " ", re.sub(r"-\n(?=[a-z])", "", text))
        for s in re.split(r"(?<=[.!?])\s+", flat):
            words = s.split()
            if not 8 <= len(words) <= 30:
                continue
            alpha = sum(1 for w in words if re.fullmatch(r"[A-Za-z][a-z]+[,.;:]?", w))
            ns = norm(s)
            if alpha < 0.7 * len(words) or len(ns) < 40:
                continue
            if any(j != pi and ns in p for j, p in enumerate(normed)):
                continue
            cands.append((pi + 1, s.strip()))
    rng.shuffle(cands)
    seen = set()
    for page, s in cands:
        if page in seen:
            continue
        seen.add(page)
        queries.append((path, page, s))
        if len(seen) >= a.per_doc:
            break

# ---- embeddings ------------------------------------------------------------------------------
def write_lines(name, texts):
    p = os.path.join(work, name)
    with open(p, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t.replace("\n", " ") + "\n")
    return p


cfile = write_lines("pq-chunks.txt", [c[3] for c in chunks])
qfile = write_lines("pq-queries.txt", [q[2] for q in queries])


def embed(prec, path, n):
    t0 = time.time()
    r = subprocess.run([a.quire, "embed", "-q", "--model", a.model, "--precision", prec,
                        "--threads", str(a.threads), "--format", "f32", path],
                       capture_output=True, timeout=3600)
    if r.returncode != 0:
        sys.exit(f"precision_quality: quire embed --precision {prec} failed: "
                 f"{r.stderr.decode(errors='replace')[-300:]}")
    v = np.frombuffer(r.stdout, dtype="<f4")
    if n == 0 or v.size % n:
        sys.exit(f"precision_quality: {v.size} floats for {n} texts")
    v = v.reshape(n, v.size // n).astype(np.float64)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
    return v, time.time() - t0


def top10(qv, cv):
    sc = qv @ cv.T  # [queries][chunks]
    return [list(np.lexsort((np.arange(sc.shape[1]), -row))[:10]) for row in sc]


def hit(q, top):
    path, page = q[0], q[1]
    return any(chunks[i][0] == path and chunks[i][1] <= page <= chunks[i][2] for i in top)


print(f"precision_quality: {len(chunks)} chunks of {len(docs)} documents, {len(queries)} "
      f"known-item queries, model {a.model}")
ref_c, t = embed("fp32", cfile, len(chunks))
ref_q, _ = embed("fp32", qfile, len(queries))
ref_top = top10(ref_q, ref_c)
ref_hits = sum(hit(q, t10) for q, t10 in zip(queries, ref_top))
print(f"fp32: chunks embedded in {t:.1f} s; known-item hit@10 {ref_hits}/{len(queries)}")
checks = []
for prec in a.precisions.split():
    pc, t = embed(prec, cfile, len(chunks))
    pq, _ = embed(prec, qfile, len(queries))
    cos = np.sum(pc * ref_c, axis=1)
    worst = int(np.argmin(cos))
    cmin = float(cos[worst])
    tops = top10(pq, pc)
    ov = [len(set(t10) & set(r10)) / 10.0 for t10, r10 in zip(tops, ref_top)]
    hits = sum(hit(q, t10) for q, t10 in zip(queries, tops))
    mean_ov = sum(ov) / len(ov) if ov else 0.0
    print(f"{prec}: chunks embedded in {t:.1f} s; cosine vs fp32 over {len(cos)} chunks: min "
          f"{cmin:.7f} (chunk {worst}, {chunks[worst][0].split('/')[-1]} p. {chunks[worst][1]}), "
          f"mean {float(np.mean(cos)):.7f}")
    print(f"{prec}: top-10 overlap with fp32 over {len(ov)} queries: mean {mean_ov:.4f}, min "
          f"{min(ov) if ov else 0:.1f}; known-item hit@10 {hits}/{len(queries)} "
          f"(fp32 {ref_hits})")
    need = a.min_cos_bf16 if prec == "bf16" else a.min_cos_int8
    checks.append((f"{prec}: cosine vs fp32 >= {need} on every one of {len(cos)} chunks "
                   f"(min {cmin:.6f})", cmin >= need))
    checks.append((f"{prec}: mean top-10 overlap with fp32 >= {a.min_overlap} over "
                   f"{len(ov)} known-item queries ({mean_ov:.4f})",
                   len(ov) > 0 and mean_ov >= a.min_overlap))
for name, ok in checks:
    print(("PASS " if ok else "FAIL ") + name)
