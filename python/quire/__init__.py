"""quire — Python binding over libquire.so (pure Python, ctypes; no compiler needed).

    import quire
    m = quire.Model("all-MiniLM-L6-v2")            # a sentence-transformers folder
    v = m.embed(["first text", "second text"])     # numpy float32 array (2, dims)
    md = quire.convert("paper.pdf")                # Markdown (format="json"|"txt" too)
    st = quire.Store("papers.db")
    st.ingest(["paper.pdf"], collection="papers", model=m)
    for hit in st.search("what is attention", collection="papers", model=m, k=5):
        print(hit["document"], hit["page_start"], hit["snippet"])

Errors raise quire.QuireError carrying the quire status (.status, .status_name) and the
library's one-line message. Every long call (embed, convert, ingest, search) releases the
GIL. Threads: a Model may be shared by any number of threads; each thread embeds with its
own embedder at a time
(taken from a pool the Model keeps), as the C API requires. Store calls are serialised
inside the library, so one Store may be shared too.

The library is found, in order: $QUIRE_LIBRARY; libquire.so* next to this file; the
source tree's build/ (python/../build); the system's libquire.so.0.
"""
import ctypes
import ctypes.util
import json
import os
import threading

import numpy as np

__all__ = ["QuireError", "Model", "Store", "convert", "version", "QuireEmbeddings"]

# ---------------------------------------------------------------- library loading

def _find_library():
    env = os.environ.get("QUIRE_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (here, os.path.join(here, "..", "..", "build")):
        for name in ("libquire.so", "libquire.so.0"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
    found = ctypes.util.find_library("quire")
    return found or "libquire.so.0"


_lib = ctypes.CDLL(_find_library())  # CDLL: the GIL is released during every call

# ---------------------------------------------------------------- C structures
# Prefixes of the public structs of quire.h. Parameter structs are only ever appended
# to and zero means "default" in every field, so each is allocated with spare zeroed
# room at the end (_pad): fields added by a newer library read as their defaults.
# tests/python/test_binding.py checks these layouts against the C compiler's offsetof.


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 256)]


class _ModelParams(ctypes.Structure):
    _fields_ = [("max_tokens", ctypes.c_int), ("pooling", ctypes.c_int),
                ("_pad", ctypes.c_char * 512)]


class _EmbedderParams(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int), ("max_batch", ctypes.c_int),
                ("max_batch_tokens", ctypes.c_int), ("no_normalize", ctypes.c_int),
                ("pooling", ctypes.c_int), ("normalize", ctypes.c_int),
                ("_pad", ctypes.c_char * 512)]


class _ConverterParams(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int), ("lang", ctypes.c_char_p),
                ("config", ctypes.c_void_p), ("vlm_cache_dir", ctypes.c_char_p),
                ("vlm_log", ctypes.c_void_p), ("vlm_log_user", ctypes.c_void_p),
                ("_pad", ctypes.c_char * 512)]


_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)


class _ConvertParams(ctypes.Structure):
    _fields_ = [("ocr", ctypes.c_int), ("format", ctypes.c_int), ("dpi", ctypes.c_int),
                ("pages", ctypes.c_char_p), ("max_pages", ctypes.c_int),
                ("timeout_s", ctypes.c_double), ("abort_flag", ctypes.c_void_p),
                ("progress", ctypes.c_void_p), ("progress_user_data", ctypes.c_void_p),
                ("page_markers", ctypes.c_int), ("tables", ctypes.c_int),
                ("vlm", ctypes.c_int), ("images", ctypes.c_int),
                ("image_prefix", ctypes.c_char_p), ("image_dpi", ctypes.c_int),
                ("name", ctypes.c_char_p), ("strategy", ctypes.c_int),
                ("_pad", ctypes.c_char * 512)]


class _PageReport(ctypes.Structure):
    _fields_ = [("page", ctypes.c_int), ("method", ctypes.c_int),
                ("reason", ctypes.c_char * 96), ("ms", ctypes.c_double),
                ("chars", ctypes.c_long), ("conf", ctypes.c_float),
                ("error", ctypes.c_char * 160), ("text_rotation", ctypes.c_int),
                ("osd_conf", ctypes.c_float), ("skew", ctypes.c_float),
                ("quality", ctypes.c_char * 96), ("inserts_ocr", ctypes.c_int),
                ("rss_kb", ctypes.c_long), ("inserts", ctypes.c_int)]


class _ConvertResult(ctypes.Structure):
    _fields_ = [("output", ctypes.c_void_p), ("output_len", ctypes.c_size_t),
                ("n_pages", ctypes.c_int), ("n_reports", ctypes.c_int),
                ("reports", ctypes.POINTER(_PageReport)), ("n_failed", ctypes.c_int),
                ("ms", ctypes.c_double), ("warning", ctypes.c_char * 160),
                ("page_vlm", ctypes.POINTER(ctypes.c_char_p))]


class _CollectionParams(ctypes.Structure):
    _fields_ = [("chunk_tokens", ctypes.c_int), ("overlap", ctypes.c_int),
                ("hnsw_m", ctypes.c_int), ("ef_construction", ctypes.c_int),
                ("ef_search", ctypes.c_int), ("doc_prefix", ctypes.c_char_p),
                ("query_prefix", ctypes.c_char_p), ("_pad", ctypes.c_char * 512)]


class _IngestParams(ctypes.Structure):
    _fields_ = [("collection", ctypes.c_char_p), ("create", ctypes.POINTER(_CollectionParams)),
                ("embedder", ctypes.c_void_p), ("converter", ctypes.c_void_p),
                ("convert", ctypes.POINTER(_ConvertParams)), ("force", ctypes.c_int),
                ("store_path", ctypes.c_char_p), ("root", ctypes.c_char_p),
                ("metadata", ctypes.c_char_p), ("_pad", ctypes.c_char * 512)]


class _IngestResult(ctypes.Structure):
    _fields_ = [("outcome", ctypes.c_int), ("pages", ctypes.c_int),
                ("failed_pages", ctypes.c_int), ("chunks", ctypes.c_int),
                ("tokens", ctypes.c_long), ("ms", ctypes.c_double),
                ("convert_ms", ctypes.c_double), ("embed_ms", ctypes.c_double),
                ("store_ms", ctypes.c_double), ("_pad", ctypes.c_char * 512)]


class _SearchParams(ctypes.Structure):
    _fields_ = [("collection", ctypes.c_char_p), ("k", ctypes.c_int), ("mode", ctypes.c_int),
                ("path_glob", ctypes.c_char_p), ("ef", ctypes.c_int),
                ("embedder", ctypes.c_void_p), ("exact", ctypes.c_int),
                ("text_rank", ctypes.c_int), ("highlight_open", ctypes.c_char_p),
                ("highlight_close", ctypes.c_char_p), ("where", ctypes.c_char_p),
                ("vector", ctypes.POINTER(ctypes.c_float)), ("vector_dims", ctypes.c_int),
                ("_pad", ctypes.c_char * 512)]


class _Hit(ctypes.Structure):
    _fields_ = [("chunk_id", ctypes.c_longlong), ("document", ctypes.c_char_p),
                ("page_start", ctypes.c_int), ("page_end", ctypes.c_int),
                ("heading", ctypes.c_char_p), ("text", ctypes.c_char_p),
                ("snippet", ctypes.c_char_p), ("score", ctypes.c_double),
                ("text_rank", ctypes.c_int), ("vector_rank", ctypes.c_int),
                ("text_score", ctypes.c_double), ("vector_score", ctypes.c_double),
                ("metadata", ctypes.c_char_p)]


class _Hits(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("hits", ctypes.POINTER(_Hit)), ("mode", ctypes.c_int),
                ("exact", ctypes.c_int), ("note", ctypes.c_char * 160)]


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_P = ctypes.c_void_p
_E = ctypes.POINTER(_Error)
_status_str = _fn("quire_status_str", ctypes.c_char_p, ctypes.c_int)
_version_str = _fn("quire_version_str", ctypes.c_char_p)
_init = _fn("quire_init", ctypes.c_int, ctypes.c_uint, _E)
_model_open = _fn("quire_model_open", ctypes.c_int, ctypes.c_char_p,
                  ctypes.POINTER(_ModelParams), ctypes.POINTER(_P), _E)
_model_close = _fn("quire_model_close", None, _P)
_model_dims = _fn("quire_model_dims", ctypes.c_int, _P)
_model_max_tokens = _fn("quire_model_max_tokens", ctypes.c_int, _P)
_model_fingerprint = _fn("quire_model_fingerprint", ctypes.c_char_p, _P)
_model_name = _fn("quire_model_name", ctypes.c_char_p, _P)
_model_describe = _fn("quire_model_describe", ctypes.c_char_p, _P)
_embedder_new = _fn("quire_embedder_new", ctypes.c_int, _P,
                    ctypes.POINTER(_EmbedderParams), ctypes.POINTER(_P), _E)
_embedder_free = _fn("quire_embedder_free", None, _P)
_model_normalize = _fn("quire_model_normalize", ctypes.c_int, _P)
_model_matryoshka = _fn("quire_model_matryoshka", ctypes.c_int, _P)
_model_shorten = _fn("quire_model_shorten", None, _P, ctypes.POINTER(ctypes.c_float),
                     ctypes.c_int, ctypes.c_int)
_embed = _fn("quire_embed", ctypes.c_int, _P, ctypes.POINTER(ctypes.c_char_p),
             ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t, ctypes.POINTER(ctypes.c_float),
             ctypes.POINTER(ctypes.c_int32), _E)
_converter_new = _fn("quire_converter_new", ctypes.c_int, ctypes.POINTER(_ConverterParams),
                     ctypes.POINTER(_P), _E)
_converter_free = _fn("quire_converter_free", None, _P)
_convert_file = _fn("quire_convert_file", ctypes.c_int, _P, ctypes.c_char_p,
                    ctypes.POINTER(_ConvertParams), ctypes.POINTER(ctypes.POINTER(_ConvertResult)),
                    _E)
_convert_result_free = _fn("quire_convert_result_free", None, ctypes.POINTER(_ConvertResult))
_config_load = _fn("quire_config_load", ctypes.c_int, ctypes.c_char_p,
                   ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_Error))
_config_free = _fn("quire_config_free", None, ctypes.c_void_p)
_store_open = _fn("quire_store_open", ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                  ctypes.POINTER(_P), _E)
_store_close = _fn("quire_store_close", None, _P)
_ingest_file = _fn("quire_ingest_file", ctypes.c_int, _P, ctypes.c_char_p,
                   ctypes.POINTER(_IngestParams), ctypes.POINTER(_IngestResult), _E)
_search = _fn("quire_search", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(_SearchParams),
              ctypes.POINTER(ctypes.POINTER(_Hits)), _E)
_hits_free = _fn("quire_hits_free", None, ctypes.POINTER(_Hits))

_VERSION_NUMBER = 0x000100  # QUIRE_VERSION_NUMBER of the header this binding follows


class QuireError(Exception):
    """A quire call failed: .status (int), .status_name (e.g. "FORMAT"), .message."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = (_status_str(status) or b"?").decode()
        self.message = message
        super().__init__("%s (%s)" % (message or self.status_name, self.status_name))


def _check(status, err):
    if status != 0:
        raise QuireError(status, err.msg.decode("utf-8", "replace"))


def _b(s):
    return None if s is None else (s.encode() if isinstance(s, str) else bytes(s))


def version():
    """The library's version string, e.g. "0.1.0"."""
    return _version_str().decode()


_err0 = _Error()
_check(_init(_VERSION_NUMBER, ctypes.byref(_err0)), _err0)

_POOLING = {None: 0, "mean": 1, "cls": 2}


# ---------------------------------------------------------------- models


class Model:
    """A sentence-embedding model folder (immutable after loading; share it freely)."""

    def __init__(self, path, max_tokens=0, pooling=None, threads=1, batch=32):
        if pooling not in _POOLING:
            raise ValueError("pooling must be one of %s" % sorted(k for k in _POOLING if k))
        p = _ModelParams(max_tokens=max_tokens, pooling=_POOLING[pooling])
        h = _P()
        err = _Error()
        _check(_model_open(_b(os.fspath(path)), ctypes.byref(p), ctypes.byref(h),
                           ctypes.byref(err)), err)
        self._h = h
        self._threads = threads
        self._batch = batch
        self._free = {True: [], False: [], None: []}
        self._all = []
        self._lock = threading.Lock()
        self.dims = _model_dims(h)
        self.max_tokens = _model_max_tokens(h)
        self.name = _model_name(h).decode()
        self.fingerprint = _model_fingerprint(h).decode()
        self.description = _model_describe(h).decode()
        self.normalize = bool(_model_normalize(h))
        self.matryoshka = bool(_model_matryoshka(h))

    def _acquire(self, normalize):
        """An embedder for this call: taken from the free list, or created. The C API
        wants one embedder per thread at a time; pooling them (instead of one per
        thread) bounds their number by the calls in flight, however many threads come
        and go."""
        with self._lock:
            if self._h is None:
                raise QuireError(5, "the model is closed")  # QUIRE_INVALID_ARG
            free = self._free[normalize]
            if free:
                return free.pop()
        p = _EmbedderParams(n_threads=self._threads, max_batch=self._batch,
                            no_normalize=1 if normalize is False else 0,
                            normalize=1 if normalize is True else 0)
        e = _P()
        err = _Error()
        _check(_embedder_new(self._h, ctypes.byref(p), ctypes.byref(e), ctypes.byref(err)), err)
        with self._lock:
            self._all.append(e)
        return e

    def _release(self, normalize, e):
        with self._lock:
            if self._h is not None:
                self._free[normalize].append(e)

    def embed(self, texts, prompt=None, dims=None, normalize=None, return_tokens=False):
        """Embed a string or a list of strings -> float32 array (n, dims) (or (dims,) for
        one string). prompt: prepended to every text (e.g. "search_query: ").
        normalize: None = as the model folder says (modules.json has a Normalize module),
        True = always L2-normalise, False = never.
        dims: keep the first N dimensions (Matryoshka), renormalised when normalised.
        return_tokens: also return the token count of each text after truncation."""
        single = isinstance(texts, (str, bytes))
        items = [texts] if single else list(texts)
        enc = [_b((prompt or "") + t if isinstance(t, str) else _b(prompt or "") + t)
               for t in items]
        n = len(enc)
        d = self.dims
        if dims is not None and not 1 <= dims <= d:
            raise ValueError("dims must be within 1..%d" % d)
        if normalize is not None:
            normalize = bool(normalize)
        norm_out = normalize if normalize is not None else bool(self.normalize)
        out = np.empty((n, d), dtype=np.float32)
        ntok = np.zeros(n, dtype=np.int32)
        if n:
            arr = (ctypes.c_char_p * n)(*enc)
            lens = (ctypes.c_size_t * n)(*[len(x) for x in enc])
            err = _Error()
            e = self._acquire(normalize)
            try:
                st = _embed(e, arr, lens, n, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                            ntok.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                            ctypes.byref(err))
            finally:
                self._release(normalize, e)
            _check(st, err)
        if dims is not None and self.matryoshka:  # the model's own rule (nomic v1.5)
            for i in range(n):
                _model_shorten(self._h, out[i].ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                               dims, 1)
            out = np.ascontiguousarray(out[:, :dims])
        elif dims is not None and dims < d:
            out = np.ascontiguousarray(out[:, :dims])
            if norm_out:  # as `quire embed --dims`: double sum in order, then scale
                v64 = out.astype(np.float64)
                ss = np.cumsum(v64 * v64, axis=1)[:, -1] if dims else np.zeros(n)
                inv = np.where(ss > 0, 1.0 / np.sqrt(np.where(ss > 0, ss, 1.0)), 0.0)
                out = (v64 * inv[:, None]).astype(np.float32)
        if single:
            out, ntok = out[0], ntok[0]
        return (out, ntok) if return_tokens else out

    def close(self):
        """Free the model and its embedders (also done at garbage collection). Calls
        still running on other threads must have returned."""
        with self._lock:
            h, self._h = self._h, None
            embs, self._all = self._all, []
            self._free = {True: [], False: [], None: []}
        for e in embs:
            _embedder_free(e)
        if h is not None:
            _model_close(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class QuireEmbeddings:
    """LangChain-shaped embeddings (duck-typed: embed_documents / embed_query).

        emb = QuireEmbeddings("nomic-embed-text-v1.5", query_prompt="search_query: ",
                              document_prompt="search_document: ")
    """

    def __init__(self, model, query_prompt=None, document_prompt=None, dims=None):
        self.model = model if isinstance(model, Model) else Model(model)
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.dims = dims

    def embed_documents(self, texts):
        return self.model.embed(list(texts), prompt=self.document_prompt,
                                dims=self.dims).tolist()

    def embed_query(self, text):
        return self.model.embed(text, prompt=self.query_prompt, dims=self.dims).tolist()


# ---------------------------------------------------------------- conversion

_FORMATS = {"md": 0, "markdown": 0, "json": 1, "txt": 2, "text": 2}
_OCR = {"auto": 0, "always": 1, "never": 2}
_METHODS = {0: "text", 1: "ocr", 2: "failed", 3: "vlm"}
_VLM = {"never": 0, "auto": 1, "always": 2, "tables": 3, "formulas": 4}
_STRATEGY = {"auto": 0, "fast": 1, "ocr_only": 2, "hi_res": 3}


class _Converter:
    def __init__(self, threads=1, lang=None, config=None, vlm_cache=None):
        self._h = _P()
        self._cfg = ctypes.c_void_p()
        err = _Error()
        if config is not None:  # a quire.toml path; the C API reads and checks it
            _check(_config_load(_b(os.fspath(config)), ctypes.byref(self._cfg),
                                ctypes.byref(err)), err)
        self._cache = _b(None if vlm_cache is None else os.fspath(vlm_cache))
        p = _ConverterParams(n_threads=threads, lang=_b(lang), config=self._cfg,
                             vlm_cache_dir=self._cache)
        _check(_converter_new(ctypes.byref(p), ctypes.byref(self._h), ctypes.byref(err)), err)

    def __del__(self):
        if getattr(self, "_h", None):
            _converter_free(self._h)
            self._h = None
        if getattr(self, "_cfg", None):
            _config_free(self._cfg)
            self._cfg = None


_converters = {}
_conv_lock = threading.Lock()


def _converter(threads, lang, config=None, vlm_cache=None):
    key = (threads, lang, None if config is None else os.fspath(config),
           None if vlm_cache is None else os.fspath(vlm_cache))
    with _conv_lock:
        c = _converters.get(key)
        if c is None:
            c = _converters[key] = _Converter(threads, lang, config, vlm_cache)
        return c


def _params_convert(format, ocr, pages, dpi, page_markers=0):
    if format not in _FORMATS:
        raise ValueError("format must be one of md, json, txt")
    if ocr not in _OCR:
        raise ValueError("ocr must be one of auto, always, never")
    return _ConvertParams(format=_FORMATS[format], ocr=_OCR[ocr], pages=_b(pages), dpi=dpi,
                          page_markers=page_markers)


def convert(path, format="md", ocr="auto", pages=None, dpi=0, lang=None, threads=1,
            report=False, config=None, vlm="never", vlm_cache=None, strategy="auto"):
    """Convert a PDF or page image. Returns the document as a str (format md|json|txt), or
    (text, pages) with report=True, pages being one dict per page (page, method, reason,
    ms, chars, conf, error, text_rotation, osd_conf, skew, quality: None or why the text
    looks like garbage; inserts, inserts_ocr, rss_kb as in --report; vlm: None or the page's VLM provenance as a dict). A document that
    cannot be opened raises QuireError; when some pages fail, the error carries the other
    pages in .partial (and .pages). config: a quire.toml path (VLM backends, as
    `quire convert --config`); vlm: never|auto|always|tables|formulas (as --vlm);
    vlm_cache: a directory for cached answers (as --vlm-cache); strategy: fast|ocr_only|
    hi_res|auto (as --strategy: fast = text layer only, ocr_only = Tesseract on every page,
    hi_res = also OCR of image regions, auto = per page; one that contradicts ocr or vlm,
    e.g. fast with ocr="always", raises QuireError INVALID_ARG naming it)."""
    if vlm not in _VLM:
        raise ValueError("vlm must be one of never, auto, always, tables, formulas")
    if strategy not in _STRATEGY:
        raise ValueError("strategy must be one of fast, ocr_only, hi_res, auto (got %r)"
                         % (strategy,))
    conv = _converter(threads, lang, config, vlm_cache)
    p = _params_convert(format, ocr, pages, dpi)
    p.vlm = _VLM[vlm]
    p.strategy = _STRATEGY[strategy]
    res = ctypes.POINTER(_ConvertResult)()
    err = _Error()
    st = _convert_file(conv._h, _b(os.fspath(path)), ctypes.byref(p), ctypes.byref(res),
                       ctypes.byref(err))
    text, rep = None, []
    if res:
        r = res.contents
        text = ctypes.string_at(r.output, r.output_len).decode("utf-8", "replace")
        for i in range(r.n_reports):
            x = r.reports[i]
            rep.append({"page": x.page, "method": _METHODS.get(x.method, str(x.method)),
                        "reason": x.reason.decode(), "ms": x.ms, "chars": x.chars,
                        "conf": None if x.conf < 0 else x.conf,
                        "error": x.error.decode() or None,
                        "text_rotation": x.text_rotation,
                        "osd_conf": None if x.osd_conf < 0 else x.osd_conf,
                        "skew": x.skew, "quality": x.quality.decode() or None,
                        "inserts": x.inserts, "inserts_ocr": x.inserts_ocr,
                        "rss_kb": None if x.rss_kb < 0 else x.rss_kb,
                        "vlm": json.loads(r.page_vlm[i]) if r.page_vlm and r.page_vlm[i]
                        else None})
        _convert_result_free(res)
    if st != 0:
        e = QuireError(st, err.msg.decode("utf-8", "replace"))
        e.partial, e.pages = text, rep
        raise e
    return (text, rep) if report else text


# ---------------------------------------------------------------- store and search

_MODES = {"hybrid": 0, "vector": 1, "text": 2}
_OUTCOMES = {0: "added", 1: "updated", 2: "unchanged"}


class Store:
    """A quire store file (SQLite): collections of chunked, embedded documents."""

    def __init__(self, path, readonly=False):
        self._h = _P()
        err = _Error()
        _check(_store_open(_b(os.fspath(path)), 1 if readonly else 0, ctypes.byref(self._h),
                           ctypes.byref(err)), err)

    def ingest(self, paths, collection="default", model=None, force=False, ocr="auto",
               threads=1):
        """Ingest files (str or list). model: a Model for a collection with vectors (None:
        text-only). Returns one dict per file: path, outcome (added|updated|unchanged),
        pages, failed_pages, chunks, tokens, ms. A failure raises QuireError after the
        files before it were committed."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        conv = _converter(threads, None)
        cp = _params_convert("md", ocr, None, 0)
        emb = model._acquire(True) if model is not None else None
        try:
            return self._ingest(paths, collection, force, conv, cp, emb)
        finally:
            if emb is not None:
                model._release(True, emb)

    def _ingest(self, paths, collection, force, conv, cp, emb):
        ip = _IngestParams(collection=_b(collection), force=1 if force else 0,
                           converter=conv._h, convert=ctypes.pointer(cp), embedder=emb)
        out = []
        for path in paths:
            r = _IngestResult()
            err = _Error()
            _check(_ingest_file(self._h, _b(os.fspath(path)), ctypes.byref(ip), ctypes.byref(r),
                                ctypes.byref(err)), err)
            out.append({"path": os.fspath(path), "outcome": _OUTCOMES.get(r.outcome, r.outcome),
                        "pages": r.pages, "failed_pages": r.failed_pages, "chunks": r.chunks,
                        "tokens": r.tokens, "ms": r.ms})
        return out

    def search(self, query, collection="default", k=10, mode=None, model=None, path_glob=None,
               exact=False, vector=None):
        """Search -> list of hit dicts, best first: rank, document, page_start, page_end,
        heading, text, snippet, score, text_rank, vector_rank, cosine (None where a value
        does not apply). mode: hybrid|vector|text (default hybrid with a model, else text;
        vector with `vector`). vector: a query vector (sequence of floats, the
        collection's dims) instead of embedding the query; no model is needed."""
        if mode is None:
            mode = "vector" if vector is not None else "hybrid" if model is not None else "text"
        if mode not in _MODES:
            raise ValueError("mode must be one of hybrid, vector, text")
        emb = model._acquire(True) if model is not None else None
        sp = _SearchParams(collection=_b(collection), k=k, mode=_MODES[mode],
                           path_glob=_b(path_glob), exact=1 if exact else 0, embedder=emb)
        if vector is not None:
            qv = (ctypes.c_float * len(vector))(*[float(x) for x in vector])
            sp.vector = ctypes.cast(qv, ctypes.POINTER(ctypes.c_float))
            sp.vector_dims = len(vector)
        hits = ctypes.POINTER(_Hits)()
        err = _Error()
        try:
            st = _search(self._h, _b(query), ctypes.byref(sp), ctypes.byref(hits),
                         ctypes.byref(err))
        finally:
            if emb is not None:
                model._release(True, emb)
        _check(st, err)
        try:
            h = hits.contents
            out = []
            for i in range(h.n):
                x = h.hits[i]
                out.append({
                    "rank": i + 1,
                    "id": x.chunk_id,
                    "document": (x.document or b"").decode("utf-8", "replace"),
                    "page_start": x.page_start,
                    "page_end": x.page_end,
                    "heading": (x.heading or b"").decode("utf-8", "replace"),
                    "text": (x.text or b"").decode("utf-8", "replace"),
                    "snippet": (x.snippet or b"").decode("utf-8", "replace"),
                    "score": x.score,
                    "text_rank": x.text_rank or None,
                    "vector_rank": x.vector_rank or None,
                    "cosine": x.vector_score if x.vector_rank else None,
                })
            return out
        finally:
            _hits_free(hits)

    def close(self):
        if getattr(self, "_h", None):
            _store_close(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
