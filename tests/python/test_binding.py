"""tests/python/test_binding.py — the Python binding (python/quire) against the real
library: struct layouts = the C compiler's, embed bit-identical to `quire embed`,
convert/ingest/search equal to the CLI, errors as QuireError, LangChain-shaped embeddings,
4 threads x 4,000 embeds, the GIL released during a long call (fails with ctypes.PyDLL),
RSS flat from the 1,000th to the 10,000th of a
measured 10,000 (after 6,000 to warm up). Prints PASS/FAIL lines (tests/run.sh counts them).
Env: QUIRE_BIN (the CLI), QUIRE_LIBRARY (libquire.so), T (scratch dir), LAYOUT (the
output of the offsetof program), MINILM (a model folder, optional)."""
import ctypes
import json
import os
import subprocess
import sys
import threading

import numpy as np

import quire

Q = os.environ["QUIRE_BIN"]
T = os.environ["T"]
fails = 0


def check(name, cond, detail=""):
    global fails
    if cond:
        print("PASS " + name)
    else:
        fails += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- struct layouts vs the C compiler (offsetof/sizeof printed by a C program) ----------
layout = {}
with open(os.environ["LAYOUT"]) as f:
    for line in f:
        struct, field, off = line.split()
        layout[(struct, field)] = int(off)
mirror = {"quire_error": quire._Error, "quire_model_params": quire._ModelParams,
          "quire_embedder_params": quire._EmbedderParams,
          "quire_converter_params": quire._ConverterParams,
          "quire_convert_params": quire._ConvertParams, "quire_page_report": quire._PageReport,
          "quire_convert_result": quire._ConvertResult,
          "quire_collection_params": quire._CollectionParams,
          "quire_ingest_params": quire._IngestParams, "quire_ingest_result": quire._IngestResult,
          "quire_search_params": quire._SearchParams, "quire_hit": quire._Hit,
          "quire_hits": quire._Hits}
bad = []
for (struct, field), off in layout.items():
    cls = mirror[struct]
    if field == "sizeof":
        # Structs the library returns (arrays of hits, page reports) must match exactly;
        # params structs the binding allocates need at least the C size (spare zeroed room).
        have = ctypes.sizeof(cls)
        padded = "_pad" in [n for n, _ in cls._fields_]
        if (padded and have < off) or (not padded and have != off):
            bad.append("%s sizeof %d vs C %d" % (struct, have, off))
    elif getattr(cls, field).offset != off:
        bad.append("%s.%s at %d vs C %d" % (struct, field, getattr(cls, field).offset, off))
check("ctypes layouts = offsetof/sizeof of quire.h (%d fields)" % len(layout), not bad, bad)

# --- embed == quire embed, bit for bit ------------------------------------------------
model_dir = "examples/tiny-bert"
texts = [l for l in open("examples/sentences.txt", encoding="utf-8").read().split("\n") if l]
m = quire.Model(model_dir)
check("Model: dims %d, name, 64-hex fingerprint" % m.dims,
      m.dims == 32 and m.name == "tiny-bert" and len(m.fingerprint) == 64)
for extra, kw in (([], {}), (["--dims", "8"], {"dims": 8}), (["--batch", "1"], {})):
    ref = subprocess.run([Q, "embed", "--model", model_dir, "--format", "f32"] + extra,
                         input="\n".join(texts).encode() + b"\n", capture_output=True).stdout
    got = m.embed(texts, **kw)
    check("embed%s == quire embed %s (bit for bit, %d texts)" % (kw or "", " ".join(extra), len(texts)),
          got.dtype == np.float32 and got.tobytes() == ref, (len(got.tobytes()), len(ref)))
one = m.embed(texts[0])
check("embed(str) -> 1-D vector equal to the batched row", one.shape == (32,) and
      one.tobytes() == m.embed(texts)[0].tobytes())
pref = subprocess.run([Q, "embed", "--model", model_dir, "--format", "f32", "--prefix", "query: "],
                      input=texts[0].encode() + b"\n", capture_output=True).stdout
check("embed(prompt=...) == quire embed --prefix", m.embed([texts[0]], prompt="query: ").tobytes() == pref)
raw = m.embed(texts[:2], normalize=False)
check("normalize=False gives unnormalised vectors", abs(float(np.linalg.norm(raw[0])) - 1.0) > 1e-3)
v, ntok = m.embed(["x " * 5000], return_tokens=True)
check("a long text is truncated to max_tokens (%d tokens)" % ntok[0], ntok[0] == m.max_tokens)
check("embed([]) -> (0, dims)", m.embed([]).shape == (0, 32))
try:
    m.embed(["a"], dims=33)
    check("dims above the model's raises ValueError", False)
except ValueError:
    check("dims above the model's raises ValueError", True)

# --- errors ---------------------------------------------------------------------------
try:
    quire.Model(os.path.join(T, "nope"))
    check("missing model folder raises QuireError", False)
except quire.QuireError as e:
    check("missing model folder raises QuireError NOT_FOUND naming config.json",
          e.status_name == "NOT_FOUND" and "config.json" in e.message, (e.status_name, e.message))
bad_cfg = os.path.join(T, "badmodel")
os.makedirs(bad_cfg, exist_ok=True)
open(os.path.join(bad_cfg, "config.json"), "w").write("{not json")
try:
    quire.Model(bad_cfg)
    check("corrupt config.json raises QuireError FORMAT", False)
except quire.QuireError as e:
    check("corrupt config.json raises QuireError FORMAT", e.status_name == "FORMAT", e)

# --- convert == quire convert --------------------------------------------------------
md = quire.convert("examples/sample.pdf")
ref = subprocess.run([Q, "convert", "examples/sample.pdf"], capture_output=True).stdout.decode()
check("convert(md) == quire convert", md == ref, (len(md), len(ref)))
js, rep = quire.convert("examples/sample.pdf", format="json", pages="2", report=True)
check("convert(json, pages='2', report=True): one page, method text",
      json.loads(js) is not None and len(rep) == 1 and rep[0]["page"] == 2 and
      rep[0]["method"] == "text", rep)
# strategy= as quire convert --strategy: fast never OCRs (a scan gives no text), ocr_only
# OCRs the born-digital page, equal to the CLI's text; a bad name is a ValueError, a
# contradiction a QuireError naming the strategy
scan = os.path.join(os.environ.get("QUIRE_SHARED", "../shared"), "corpus", "scanned",
                    "scan-small-fn2end-p1-bitonal300.pdf")
_, rep = quire.convert(scan, format="txt", report=True, strategy="fast")
check("convert(strategy='fast') on a scan: no page OCR'd",
      len(rep) == 1 and rep[0]["method"] != "ocr", rep)
txt, rep = quire.convert("examples/sample.pdf", format="txt", pages="1", report=True,
                         strategy="ocr_only")
ref = subprocess.run([Q, "convert", "--format", "txt", "--pages", "1", "--strategy", "ocr_only",
                      "examples/sample.pdf"], capture_output=True).stdout.decode()
check("convert(strategy='ocr_only'): the born page OCR'd, text == quire convert --strategy "
      "ocr_only", rep[0]["method"] == "ocr" and txt == ref, (rep, len(txt), len(ref)))
try:
    quire.convert("examples/sample.pdf", strategy="turbo")
    check("strategy='turbo' raises ValueError naming strategy", False)
except ValueError as e:
    check("strategy='turbo' raises ValueError naming strategy", "strategy" in str(e), e)
try:
    quire.convert("examples/sample.pdf", strategy="fast", ocr="always")
    check("strategy='fast' with ocr='always' raises QuireError naming the strategy", False)
except quire.QuireError as e:
    check("strategy='fast' with ocr='always' raises QuireError naming the strategy",
          e.status_name == "INVALID_ARG" and "strategy fast" in e.message, e.message)
junk = os.path.join(T, "junk.pdf")
open(junk, "wb").write(b"%PDF-1.4 garbage" * 10)
try:
    quire.convert(junk)
    check("a corrupt PDF raises QuireError naming it", False)
except quire.QuireError as e:
    check("a corrupt PDF raises QuireError naming it", "junk.pdf" in e.message, e.message)

# --- store: ingest + search == the CLI -------------------------------------------------
db = os.path.join(T, "py.db")
st = quire.Store(db)
r = st.ingest(["examples/sample.pdf"], collection="demo", model=m)
check("ingest: added, 3 pages, chunks", r[0]["outcome"] == "added" and r[0]["pages"] == 3 and
      r[0]["chunks"] > 0, r)
check("re-ingest: unchanged", st.ingest("examples/sample.pdf", collection="demo", model=m)[0]
      ["outcome"] == "unchanged")
for mode in ("hybrid", "text", "vector"):
    hits = st.search("who designed the lens", collection="demo", model=m, k=3, mode=mode)
    cli = subprocess.run([Q, "search", "--db", db, "-c", "demo", "-k", "3", "--mode", mode,
                          "--model", model_dir, "--json", "who designed the lens"],
                         capture_output=True).stdout.decode().splitlines()
    cli = [json.loads(l) for l in cli if l.strip()]
    same = [(h["document"], h["page_start"], h["page_end"], h["snippet"]) for h in hits] == \
           [(h["document"], h["page_start"], h["page_end"], h["snippet"]) for h in cli]
    check("search(%s) == quire search --json (%d hits)" % (mode, len(hits)), same and hits, (hits, cli))
try:
    st.search("x", collection="nosuch")
    check("unknown collection raises QuireError NOT_FOUND", False)
except quire.QuireError as e:
    check("unknown collection raises QuireError NOT_FOUND", e.status_name == "NOT_FOUND", e)
st.close()

# --- LangChain-shaped embeddings ------------------------------------------------------
le = quire.QuireEmbeddings(m, query_prompt="query: ")
docs = le.embed_documents(texts[:3])
q = le.embed_query(texts[0])
check("QuireEmbeddings: lists of floats, query prompt applied",
      isinstance(docs, list) and len(docs) == 3 and isinstance(docs[0][0], float) and
      np.array(q, dtype=np.float32).tobytes() == pref)

# --- 4 threads x 4,000 embeds: no crash, results right, RSS flat -----------------------
expect = {t: m.embed(t).tobytes() for t in texts}
errors = []


def worker(n):
    try:
        for i in range(n):
            t = texts[i % len(texts)]
            if m.embed(t).tobytes() != expect[t]:
                errors.append("wrong vector for %r" % t)
                return
    except Exception as e:  # noqa: BLE001 - reported as a failure
        errors.append(repr(e))


def run(n):
    ths = [threading.Thread(target=worker, args=(n,)) for _ in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()


# The first runs settle malloc's per-thread arenas and the Model's embedder pool (one
# embedder per call in flight: up to 4, reached when the scheduler first overlaps 4
# calls), so RSS right after start grows without a leak. After 6,000 warm-up embeds, a
# run of 10,000 more is measured at its 1,000th and its 10,000th embed.
run(250)
run(1250)
warm = rss_kb()
run(250)
at_1k = rss_kb()
run(2250)
at_10k = rss_kb()
check("4 threads x 4,000 embeds: every vector right", not errors, errors[:3])
check("10,000 embeds from 4 threads: RSS at 1,000 = %d kB, at 10,000 = %d kB (%+.1f%%, within "
      "10%%; after warm-up %d kB, %d embedders)" % (at_1k, at_10k, (at_10k - at_1k) * 100.0 / at_1k,
                                                   warm, len(m._all)),
      at_10k <= at_1k * 1.10, (at_1k, at_10k))

# --- the GIL is released during a long call ----------------------------------------------
# A pure-Python thread stamps the clock every millisecond while another thread is inside
# one long embed call. With the GIL held for the call, the stamps would stop for the
# whole call (one gap as long as the call); released, they keep coming. The batch grows
# until one call takes at least 0.4 s, so the gap to compare against is long.
import time
batch = texts * 4
while True:
    t0 = time.monotonic()
    m.embed(batch)
    call_s = time.monotonic() - t0
    if call_s >= 0.4 or len(batch) >= 1 << 16:
        break
    batch = batch * 2
stamps = []
done = threading.Event()


def ticker():
    while not done.is_set():
        stamps.append(time.monotonic())
        time.sleep(0.001)


tk = threading.Thread(target=ticker)
tk.start()
time.sleep(0.05)
c0 = time.monotonic()
m.embed(batch)
c1 = time.monotonic()
done.set()
tk.join()
inside = [s for s in stamps if c0 <= s <= c1]
edges = [c0] + inside + [c1]
gap = max(b - a for a, b in zip(edges, edges[1:]))
check("GIL released during embed: %d clock stamps from another thread during a %.2f s call, "
      "longest gap %.3f s (must be under half the call)" % (len(inside), c1 - c0, gap),
      (c1 - c0) >= 0.2 and gap < (c1 - c0) / 2, (len(inside), c1 - c0, gap))
m.close()
try:
    m.embed("after close")
    check("embed after close raises QuireError", False)
except quire.QuireError as e:
    check("embed after close raises QuireError INVALID_ARG", e.status_name == "INVALID_ARG", e)

# NomicBERT: no Normalize module (normalize=None keeps the raw mean), the Matryoshka rule
# for dims, against the tiny-nomic goldens of the independent reference
import base64
nd = os.path.join(os.environ.get("QUIRE_SHARED", "../shared"), "models", "tiny-nomic")
ng = [json.loads(l) for l in open(os.path.join(nd, "golden.jsonl"))][50]
nm = quire.Model(nd)
b64 = lambda b: np.frombuffer(base64.b64decode(b), dtype="<f4")
check("nomic: the folder has no Normalize module", nm.normalize is False and nm.matryoshka)
raw = nm.embed(ng["text"])
check("nomic: default vector is not normalised", abs(float(np.linalg.norm(raw)) - 1) > 1e-2)
check("nomic: normalize=True = golden", np.abs(nm.embed(ng["text"], normalize=True) -
                                               b64(ng["emb_f32_b64"])).max() <= 1e-4)
for dd in ("32", "16", "8"):
    got = nm.embed(ng["text"], dims=int(dd))
    check("nomic: dims=%s follows the Matryoshka rule (golden)" % dd,
          got.shape == (int(dd),) and np.abs(got - b64(ng["mrl_f32_b64"][dd])).max() <= 1e-4)
nm.close()
print("python: %d failed" % fails)
sys.exit(1 if fails else 0)
