/*
 * quire.h — the whole public C API of quire, a local document-AI toolkit.
 *
 * Usage (sentence embeddings):
 *
 *     quire_error err = {0};
 *     quire_model *model = NULL;
 *     quire_embedder *emb = NULL;
 *     if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK) { ... err.msg ... }
 *     quire_model_params mp = quire_model_default_params();
 *     if (quire_model_open("all-MiniLM-L6-v2", &mp, &model, &err) != QUIRE_OK) { ... }
 *     quire_embedder_params ep = quire_embedder_default_params();
 *     if (quire_embedder_new(model, &ep, &emb, &err) != QUIRE_OK) { ... }
 *     const char *texts[2] = { "hello world", "good morning" };
 *     float *vecs = malloc(2 * quire_model_dims(model) * sizeof(float));
 *     quire_embed(emb, texts, NULL, 2, vecs, NULL, &err);
 *     quire_embedder_free(emb);
 *     quire_model_close(model);
 *
 * Conventions
 *  - Every fallible call returns quire_status (QUIRE_OK == 0). Results go through
 *    OUT parameters, which are set to NULL/0 on failure.
 *  - `err` is an optional caller-owned buffer (may be NULL) that receives a one-line
 *    message naming the file, tensor, field or input that failed. The library never
 *    allocates for errors, never prints to stdout and never calls exit/abort on input.
 *  - Freeing/closing NULL is a no-op.
 *  - Threads: a quire_model is immutable after quire_model_open and may be shared by any
 *    number of threads. A quire_embedder holds scratch memory and a thread pool; it must
 *    be used by one thread at a time (create one per thread, or guard it).
 *  - Parameter structs: get them from *_default_params(); a zero field means "default".
 *    Fields are only ever appended.
 */
#ifndef QUIRE_H
#define QUIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(QUIRE_STATIC_NO_VISIBILITY)
#define QUIRE_API __attribute__((visibility("default")))
#else
#define QUIRE_API
#endif

/* Version: 0xMMmmpp. */
#define QUIRE_VERSION_MAJOR 0
#define QUIRE_VERSION_MINOR 1
#define QUIRE_VERSION_PATCH 0
#define QUIRE_VERSION_NUMBER 0x000100
#define QUIRE_VERSION_STRING "0.1.0"

/* Status codes. Stable numbers, append-only. Detail codes may be encoded as
 * primary | (n << 8); use QUIRE_STATUS_PRIMARY() to get the primary code. */
typedef enum quire_status {
    QUIRE_OK = 0,
    QUIRE_ERROR = 1,       /* generic failure */
    QUIRE_NOMEM = 2,       /* allocation failed */
    QUIRE_IO = 3,          /* file could not be opened / read / written */
    QUIRE_FORMAT = 4,      /* input file or data is malformed or inconsistent */
    QUIRE_INVALID_ARG = 5, /* bad argument from the caller */
    QUIRE_UNSUPPORTED = 6, /* valid but not supported (architecture, dtype, ...) */
    QUIRE_LIMIT = 7,       /* a configured limit was exceeded */
    QUIRE_NOT_FOUND = 8,   /* named thing does not exist */
    QUIRE_CANCELLED = 9,   /* stopped by an abort callback */
    QUIRE_BUSY = 10,       /* resource busy / locked */
    QUIRE_MISMATCH = 11    /* data from a different embedding model than the collection's */
} quire_status;

#define QUIRE_STATUS_PRIMARY(s) ((quire_status)((int)(s)&0xff))
/* Detail codes (compare the whole status; their primary code is the part before _): */
#define QUIRE_UNSUPPORTED_PASSWORD ((quire_status)(QUIRE_UNSUPPORTED | (1 << 8))) /* a PDF that
                                   needs a user password (none is asked for) */
#define QUIRE_IO_STORE ((quire_status)(QUIRE_IO | (1 << 8))) /* quire_ingest_file: the store
                                   (its file or its PostgreSQL server) failed, not the input:
                                   the next document will most likely fail the same way */

/* Caller-owned error buffer. */
typedef struct quire_error {
    int code;      /* the quire_status of the failure */
    char msg[256]; /* NUL-terminated one-line message */
} quire_error;

/* Static name of a status, e.g. "FORMAT". Never NULL. */
QUIRE_API const char *quire_status_str(quire_status status);

/* Library version as 0xMMmmpp and as a string. */
QUIRE_API unsigned quire_version(void);
QUIRE_API const char *quire_version_str(void);

/* Initialise the library: detects CPU features and chooses kernels (honouring the
 * QUIRE_CPU environment variable: scalar|avx2|avx512|neon|neon-dotprod). Pass QUIRE_VERSION_NUMBER.
 * Safe to call more than once and from several threads; other calls initialise lazily,
 * so calling it is only needed to learn about errors (e.g. QUIRE_CPU names a kernel set
 * this CPU lacks -> QUIRE_UNSUPPORTED). */
QUIRE_API quire_status quire_init(unsigned header_version, quire_error *err);

/* Logging. Levels: */
enum { QUIRE_LOG_DEBUG = 0, QUIRE_LOG_INFO = 1, QUIRE_LOG_WARN = 2, QUIRE_LOG_ERROR = 3 };
typedef void (*quire_log_fn)(int level, const char *msg, void *user_data);
/* Install a log callback (NULL restores the default: WARN and above to stderr).
 * min_level filters before formatting. Not thread-safe against concurrent logging:
 * call at start-up. Document text and keys are never logged. */
QUIRE_API void quire_log_set(quire_log_fn fn, void *user_data, int min_level);

/* CPU and kernel information, written as "key: value" lines into buf (always
 * NUL-terminated when cap > 0). Returns the length it needed. */
QUIRE_API size_t quire_info(char *buf, size_t cap);

/* Build and library information as "key: value" lines into buf (NUL-terminated when
 * cap > 0): the build options (WITH_CONVERT, WITH_SERVER), the versions of the libraries
 * linked (SQLite, jansson, utf8proc, MuPDF, libmicrohttpd), and the tessdata folder with its
 * installed OCR languages. Returns the length it needed. */
QUIRE_API size_t quire_build_info(char *buf, size_t cap);

/* Name of the kernel set in use: "scalar", "avx2", "avx512", "neon". */
QUIRE_API const char *quire_kernels_name(void);

/* ------------------------------------------------------------------ models */

typedef struct quire_model quire_model;       /* immutable, shareable */
typedef struct quire_embedder quire_embedder; /* per-thread scratch + pool */

enum quire_pooling {
    QUIRE_POOLING_DEFAULT = 0,       /* from the Pooling module's config.json, else mean */
    QUIRE_POOLING_MEAN = 1,          /* mean over the tokens ([CLS]/[SEP] included) */
    QUIRE_POOLING_CLS = 2,           /* the first token's ([CLS]) hidden state */
    QUIRE_POOLING_MAX = 3,           /* per-dimension maximum over the tokens */
    QUIRE_POOLING_MEAN_SQRT_LEN = 4, /* sum over the tokens / sqrt(token count) */
    QUIRE_POOLING_LASTTOKEN = 5,     /* the last token's hidden state */
    QUIRE_POOLING_WEIGHTEDMEAN = 6   /* mean weighted by position 1..n (SGPT) */
};
/* "mean", "cls", "max", "mean_sqrt_len", "lasttoken", "weightedmean"; "?" if unknown. */
QUIRE_API const char *quire_pooling_name(int pooling);
/* The enum value for a name above, or 0. */
QUIRE_API int quire_pooling_from_name(const char *name);

typedef struct quire_model_params {
    int max_tokens; /* truncate inputs to this many tokens incl. [CLS]/[SEP];
                       0 = sentence_bert_config.json max_seq_length, else the
                       tokenizer's model_max_length, else max_position_embeddings
                       (never more than max_position_embeddings) */
    int pooling;    /* enum quire_pooling; 0 = from the model folder */
    int precision;  /* enum quire_precision of the linear layers; 0 = fp32 (exact) */
} quire_model_params;

/* Arithmetic of the linear layers (docs/precision.md). fp32 is exact; bf16 rounds
 * weights (at load) and activations (at each matrix product) to bf16 with fp32
 * accumulation; int8 quantizes weights per output channel and activations per token,
 * with int32 accumulation. Everything else (LayerNorm, softmax, GELU, pooling) stays
 * fp32. The precision is part of the model fingerprint (except fp32, unchanged), so a
 * collection never mixes vectors of two precisions. */
enum quire_precision {
    QUIRE_PRECISION_FP32 = 0,
    QUIRE_PRECISION_BF16 = 1,
    QUIRE_PRECISION_INT8 = 2
};
/* "fp32" / "bf16" / "int8" (NULL if out of range), and back (-1 if unknown). */
QUIRE_API const char *quire_precision_name(int precision);
QUIRE_API int quire_precision_parse(const char *name);
/* The kernel this CPU uses for a precision ("avx512", "avx512-bf16", "amx-int8", ...). */
QUIRE_API const char *quire_precision_kernel(int precision);

QUIRE_API quire_model_params quire_model_default_params(void);

/* Open a Hugging Face / sentence-transformers model folder: config.json,
 * model.safetensors (F32/F16/BF16), vocab.txt or tokenizer.json, optional
 * tokenizer_config.json, sentence_bert_config.json, modules.json, 1_Pooling/config.json.
 * Weights are mmap'd read-only. Any inconsistency -> QUIRE_FORMAT with a message naming
 * the file and tensor/field; a missing required file -> QUIRE_IO or QUIRE_NOT_FOUND.
 * OUT: *out is a new model (close with quire_model_close) or NULL on failure.
 * params may be NULL for defaults. */
QUIRE_API quire_status quire_model_open(const char *dir, const quire_model_params *params,
                                        quire_model **out, quire_error *err);
QUIRE_API void quire_model_close(quire_model *model);

QUIRE_API int quire_model_dims(const quire_model *model);       /* output vector size */
QUIRE_API int quire_model_max_tokens(const quire_model *model); /* effective truncation */
QUIRE_API int quire_model_pooling(const quire_model *model);    /* enum quire_pooling */
/* 1 when the folder's modules.json lists a Normalize module (the vectors are then
 * L2-normalised by default), else 0. */
QUIRE_API int quire_model_normalize(const quire_model *model);
/* Prompts of config_sentence_transformers.json ("prompts": {name: text}): the text of the
 * prompt called name, or NULL. Valid while model is. */
QUIRE_API const char *quire_model_prompt(const quire_model *model, const char *name);
/* Number of prompts and the i-th name (NULL past the end), in file order. */
QUIRE_API int quire_model_prompt_count(const quire_model *model);
QUIRE_API const char *quire_model_prompt_name(const quire_model *model, int i);
/* default_prompt_name of config_sentence_transformers.json, or NULL. */
QUIRE_API const char *quire_model_default_prompt(const quire_model *model);
/* 1 when the model has its own Matryoshka rule for shortened vectors (NomicBERT v1.5:
 * layer_norm without affine over the full vector, then truncate, then L2). */
QUIRE_API int quire_model_matryoshka(const quire_model *model);
/* Shorten one vector v[0..dims of the model) in place to its first dims values by the
 * model's rule: the Matryoshka rule above (always L2-normalised), else truncation
 * followed by L2 normalisation when normalize is 1. */
QUIRE_API void quire_model_shorten(const quire_model *model, float *v, int dims, int normalize);
/* What the folder says, as "key: value" lines into buf (NUL-terminated when cap > 0):
 * model, folder, architecture, describe, tokenizer, pooling, normalize, prompts, default
 * prompt, max tokens, dims, fingerprint. Returns the length it needed. */
QUIRE_API size_t quire_model_info(const quire_model *model, char *buf, size_t cap);
/* Short human description ("bert, 6 layers, hidden 384, ..."), valid while model is. */
QUIRE_API const char *quire_model_describe(const quire_model *model);
/* Identity of what decides the vectors, as 64 hex digits: sha256 over config.json, the
 * safetensors header, the tokenizer files and the effective max tokens / pooling. Two
 * folders with the same fingerprint give the same vectors. Valid while model is. */
QUIRE_API const char *quire_model_fingerprint(const quire_model *model);
/* The model folder's name (basename), for messages. Valid while model is. */
QUIRE_API const char *quire_model_name(const quire_model *model);
/* enum quire_precision the model was opened with. */
QUIRE_API int quire_model_precision(const quire_model *model);

/* Tokenize one text (UTF-8, invalid sequences replaced) into ids with [CLS]/[SEP],
 * truncated to the model's max_tokens. Thread-safe (allocates its own scratch).
 * OUT: ids[0..*n_ids) (at most cap are written; *n_ids is the full count, so a
 * caller can retry with a larger buffer when *n_ids > cap). */
QUIRE_API quire_status quire_tokenize(const quire_model *model, const char *text, size_t len,
                                      int32_t *ids, size_t cap, size_t *n_ids, quire_error *err);

typedef struct quire_embedder_params {
    int n_threads;        /* worker threads for one call; 0 = 1 */
    int max_batch;        /* most texts per forward pass; 0 = 32 */
    int max_batch_tokens; /* most tokens (sum over texts) per pass; 0 = 4096 (raised to
                             max_tokens if smaller); scratch (about 24 KB per token for
                             a 384-wide model) is sized for this at creation and never
                             allocated in the forward pass */
    int no_normalize;     /* 1 = skip L2 normalisation of the output */
    int pooling;          /* enum quire_pooling; 0 = the model's */
    int normalize;        /* 1 = L2-normalise even when modules.json has no Normalize
                             module. With neither this nor no_normalize, the model folder
                             decides (quire_model_normalize). */
} quire_embedder_params;

QUIRE_API quire_embedder_params quire_embedder_default_params(void);

/* Create an embedder for a model (borrowed: the model must outlive the embedder).
 * Allocates all scratch memory up front. OUT: *out or NULL. */
QUIRE_API quire_status quire_embedder_new(const quire_model *model,
                                          const quire_embedder_params *params,
                                          quire_embedder **out, quire_error *err);
QUIRE_API void quire_embedder_free(quire_embedder *emb);
/* The model an embedder was created for. */
QUIRE_API const quire_model *quire_embedder_model(const quire_embedder *emb);

/* Embed n texts. texts[i] is UTF-8 of lens[i] bytes (lens may be NULL: NUL-terminated).
 * Texts are length-bucketed internally; results are in input order.
 * OUT: vecs[i * dims .. +dims) for each text (caller-allocated, n * dims floats);
 *      n_tokens[i] (optional, may be NULL) = tokens used after truncation.
 * Returns QUIRE_OK, or an error status (vecs content then unspecified). */
QUIRE_API quire_status quire_embed(quire_embedder *emb, const char *const *texts,
                                   const size_t *lens, size_t n, float *vecs,
                                   int32_t *n_tokens, quire_error *err);
/* As quire_embed, and n_input_tokens[i] (optional) = the text's token count before
 * truncation (incl. [CLS]/[SEP]): the text was cut when it is above n_tokens[i]. */
QUIRE_API quire_status quire_embed_counted(quire_embedder *emb, const char *const *texts,
                                           const size_t *lens, size_t n, float *vecs,
                                           int32_t *n_tokens, int32_t *n_input_tokens,
                                           quire_error *err);

/* Embed pre-tokenized inputs: ids[i] has n_ids[i] ids, which must already include
 * [CLS]/[SEP] and be <= max_tokens long; every id must be < vocab size
 * (else QUIRE_INVALID_ARG naming the input). */
QUIRE_API quire_status quire_embed_ids(quire_embedder *emb, const int32_t *const *ids,
                                       const size_t *n_ids, size_t n, float *vecs,
                                       quire_error *err);


/* ------------------------------------------------------------------ conversion */
/*
 * PDF and page images (PNG, JPEG, TIFF) to Markdown / JSON / text. Per page, the text
 * layer is used when it is usable; otherwise the page is rendered and OCR'd with
 * Tesseract. Usage:
 *
 *     quire_converter_params cp = quire_converter_default_params();
 *     cp.n_threads = 2;
 *     quire_converter *conv = NULL;
 *     quire_converter_new(&cp, &conv, &err);
 *     quire_convert_params p = quire_convert_default_params();
 *     quire_convert_result *res = NULL;
 *     quire_status st = quire_convert_file(conv, "paper.pdf", &p, &res, &err);
 *     if (res) fwrite(res->output, 1, res->output_len, stdout);  (res may be set with a
 *     partial result even when st is an error: some pages failed)
 *     quire_convert_result_free(res);
 *     quire_converter_free(conv);
 *
 * Threads: a converter owns n_threads workers (each with its own MuPDF context and a
 * lazily created Tesseract handle). quire_convert_file may be called from several
 * threads at once on the same converter: pages of all documents in progress share the
 * workers, so at most n_threads pages are rendered at any time.
 */

typedef struct quire_converter quire_converter;

typedef struct quire_config quire_config;

typedef struct quire_converter_params {
    int n_threads;    /* page workers; 0 = 1 */
    const char *lang; /* Tesseract languages, e.g. "eng" or "deu+eng"; NULL = "eng" */
    /* VLM backends (hybrid OCR; README "VLM backends"). NULL = none: quire_convert_params.vlm
     * must then be QUIRE_VLM_NEVER. With backends, quire_converter_new asks each one
     * GET /v1/models and fails when none answers. Borrowed: must outlive the converter. */
    const quire_config *config;
    const char *vlm_cache_dir; /* answers cached here (NULL = no cache): reruns re-request nothing */
    /* One JSON object per VLM event (page_started, attempt, retry, fallback, page_finished),
     * called from worker threads (may be NULL). The line has no newline. */
    void (*vlm_log)(void *user, const char *json_line);
    void *vlm_log_user;
} quire_converter_params;

QUIRE_API quire_converter_params quire_converter_default_params(void);
QUIRE_API quire_status quire_converter_new(const quire_converter_params *params,
                                           quire_converter **out, quire_error *err);
QUIRE_API void quire_converter_free(quire_converter *conv);

enum quire_ocr_mode { QUIRE_OCR_AUTO = 0, QUIRE_OCR_ALWAYS = 1, QUIRE_OCR_NEVER = 2 };
/* Where a VLM reads pages: never; auto = the pages the local path reads badly (measured
 * confidence, unusable characters), the local result as the fallback; always = every
 * page; tables / formulas = regions, not pages: each table / display-formula block after
 * layout is cropped, sent, and replaced by the answer when it passes the checks (else the
 * text layer's block stays); the page's provenance lists every region. */
enum quire_vlm_mode {
    QUIRE_VLM_NEVER = 0,
    QUIRE_VLM_AUTO = 1,
    QUIRE_VLM_ALWAYS = 2,
    QUIRE_VLM_TABLES = 3,
    QUIRE_VLM_FORMULAS = 4
};
/* gamebook: numbered sections with their choices, combat and item notes as JSON
 * (docs/gamebook.md); figures are counted, never exported as images. */
enum quire_format {
    QUIRE_FORMAT_MD = 0,
    QUIRE_FORMAT_JSON = 1,
    QUIRE_FORMAT_TXT = 2,
    QUIRE_FORMAT_GAMEBOOK = 3
};
/* How Markdown writes a table: gfm (0, the library default, what ingestion's chunker
 * reads) = always a GitHub pipe table, a spanning cell's text in its first column;
 * auto (the CLI's default) = a pipe table, or an HTML <table> with colspan/rowspan when
 * a cell spans (what a pipe table cannot say); html = always HTML. */
/* Conversion strategies (`quire convert --strategy`, README "Strategies"): auto (0, the
 * default) = per page, the text layer when usable, else OCR (quire_convert_params.ocr,
 * .vlm as given), plus OCR of the inserts of text-layer pages (image regions that may hold
 * text, quire_page_report.inserts) that pass a quick text-likeness test (none with ocr
 * never); fast = the text layer only, no OCR at all (ocr must not be always, vlm must be
 * never: QUIRE_INVALID_ARG otherwise); ocr_only = Tesseract on every page (ocr must not be
 * never, vlm never); hi_res = auto with OCR of every insert (no text-likeness test) and,
 * on a converter with VLM backends, vlm auto when vlm is never (ocr must not be never).
 * Layout and table structure run in all. */
enum quire_strategy {
    QUIRE_STRATEGY_AUTO = 0,
    QUIRE_STRATEGY_FAST = 1,
    QUIRE_STRATEGY_OCR_ONLY = 2,
    QUIRE_STRATEGY_HI_RES = 3
};
enum quire_tables { QUIRE_TABLES_GFM = 0, QUIRE_TABLES_AUTO = 1, QUIRE_TABLES_HTML = 2 };
/* Figures (embedded images above the size threshold, vector drawings with a "Figure N"
 * caption, uncaptioned drawings with curves or slanted lines; README "Figures"): none (0, the library default) = no PNG is made, Markdown
 * has no image reference (JSON figure blocks still say where they are, "file": null);
 * refs = each figure is rendered to a PNG returned in quire_convert_result.images (the
 * library writes no file: the caller does, under image.name) and referenced by that name
 * in Markdown (`![caption](name)`) and JSON ("file"); embed = the same PNGs written into
 * the output as data:image/png;base64 URIs, nothing in .images. */
enum quire_images { QUIRE_IMAGES_NONE = 0, QUIRE_IMAGES_REFS = 1, QUIRE_IMAGES_EMBED = 2 };

/* One exported figure (quire_convert_params.images = QUIRE_IMAGES_REFS). */
typedef struct quire_image {
    char *name;          /* file name the output refers to: PREFIX-pN-figK.png */
    int page;            /* 1-based */
    float bbox[4];       /* x0, y0, x1, y1 in PDF points, top-left origin (as the JSON) */
    unsigned char *png;  /* the PNG file's bytes */
    size_t png_len;
    int width, height;   /* pixels */
} quire_image;

typedef struct quire_convert_params {
    int ocr;            /* enum quire_ocr_mode */
    int format;         /* enum quire_format */
    int dpi;            /* OCR rendering resolution; 0 = 300 (images: their own) */
    const char *pages;  /* page list "1-3,7,10-" (1-based); NULL = all */
    int max_pages;      /* 0 = no limit */
    double timeout_s;   /* stop the document after this long (0 = none): the pages done
                           so far are kept, the rest are reported as timed out */
    volatile int *abort_flag; /* set to 1 from another thread to cancel (may be NULL) */
    /* Progress (may be NULL): called on the calling thread, at most about every 50 ms and
     * only when a page has finished, with the pages of this document done so far and the
     * pages to do. Must not call back into the converter. */
    void (*progress)(void *user_data, int pages_done, int pages_total);
    void *progress_user_data;
    int page_markers;   /* Markdown only: 1 = write a line `<!-- page N -->` before the
                           first block of each page (used by ingestion for citations) */
    int tables;         /* Markdown only: enum quire_tables (0 = gfm pipe tables) */
    int vlm;            /* enum quire_vlm_mode (needs a converter with backends) */
    int images;         /* enum quire_images (0 = none); Markdown and JSON only */
    const char *image_prefix; /* figure file names start with this (NULL = the input's
                                 file name without directory and extension) */
    int image_dpi;      /* figure rendering resolution; 0 = 150 */
    const char *name;   /* the document's name in the output (JSON "document") and the
                           default figure prefix, e.g. an uploaded file's name when path
                           is a temporary copy; NULL = path */
    int strategy;       /* enum quire_strategy (0 = auto) */
} quire_convert_params;

QUIRE_API quire_convert_params quire_convert_default_params(void);

enum quire_page_method {
    QUIRE_METHOD_TEXT = 0,
    QUIRE_METHOD_OCR = 1,
    QUIRE_METHOD_FAILED = 2,
    QUIRE_METHOD_VLM = 3 /* read by a VLM backend (quire_convert_result.page_vlm says which) */
};

typedef struct quire_page_report {
    int page;          /* 1-based */
    int method;        /* enum quire_page_method */
    char reason[96];   /* why this method, e.g. "text layer ok", "no text layer",
                          "62% unusable characters (unmapped glyphs in words)",
                          "forced by --ocr always" */
    double ms;         /* wall time spent on the page */
    long chars;        /* characters of text produced */
    float conf;        /* mean OCR word confidence (0..100), -1 for text layer */
    char error[160];   /* empty, or why the page failed */
    int text_rotation; /* degrees clockwise in which the page showed its text (0, 90,
                          180, 270); the output reads it upright. OCR pages: the
                          orientation Tesseract's OSD found (0 when unsure) */
    float osd_conf;    /* OCR pages: Tesseract's orientation confidence (turned only at
                          >= 5); -1 when OSD did not run (text layer, no tesseract-ocr-osd) */
    float skew;        /* OCR pages: the skew found, degrees by which the image is to be
                          rotated to straighten it (clockwise positive); the image was
                          straightened before OCR when |skew| >= 1. 0 when not measured */
    char quality[96];  /* "" when the page's text passes the garbage check, else why it
                          is likely garbage: "text layer: 45% unusable characters ...",
                          "OCR mean confidence 31 (< 45)" (a warning: exit 3 in the CLI
                          unless --allow-empty) */
    int inserts_ocr;   /* inserts (below) whose OCR'd words were added to the page as blocks
                          of source "ocr" (strategies auto and hi_res; 0 otherwise) */
    long rss_kb;       /* resident memory of the process when the page finished (KiB,
                          /proc/self/statm); -1 when unknown */
    int inserts;       /* text-layer pages: image regions that may hold text (big and fine
                          enough, not under the text layer: README "Inserts"); auto OCRs
                          those that look like text, hi_res all of them, fast none */
} quire_page_report;

typedef struct quire_convert_result {
    char *output;       /* the document in the requested format (NUL-terminated) */
    size_t output_len;
    int n_pages;        /* pages in the document */
    int n_reports;      /* pages processed (after --pages / --max-pages) */
    quire_page_report *reports; /* [n_reports] in page order */
    int n_failed;       /* pages that failed */
    double ms;          /* wall time for the document */
    char warning[160];  /* e.g. "text extraction not allowed by the document (ignored)" */
    /* [n_reports] or NULL (no VLM): per page NULL, or its VLM provenance as a JSON object
     * text: {"outcome": "ok"|"fallback", "backend", "model", "prompt_id", "cached",
     * "image": {"sha256", "width", "height", "dpi", "bytes"}, "attempts": [{"backend",
     * "model", "status", "finish_reason", "latency_ms", "waited_ms", "prompt_tokens",
     * "completion_tokens", "cost", "temperature", "streamed", "accepted", "reason"}],
     * "reason" (fallback)}. A fallback page's method says what replaced the VLM. */
    char **page_vlm;
    int n_images;        /* figures exported (params.images = refs), in output order */
    quire_image *images; /* [n_images] or NULL; freed with the result */
    /* The document's own metadata (PDF Info dictionary, else its XMP packet) as a JSON
     * object text with the keys that are set: "pdf.title", "pdf.author", "pdf.subject",
     * "pdf.keywords", "pdf.creator", "pdf.producer", "pdf.created", "pdf.modified" (dates
     * as ISO 8601, "2022-11-05T23:27:23Z" when the zone is known), "pdf.language"
     * (/Lang, or XMP dc:language). NULL: none (images, or a PDF without any). Ingest
     * stores these keys with the document's metadata (README "Metadata"). */
    char *metadata;
} quire_convert_result;

/* Convert one file. Returns QUIRE_OK when every page converted; a document that cannot
 * be opened returns an error with *out NULL and a one-line message naming the file;
 * when some pages failed, returns QUIRE_ERROR (detail in the reports) and *out holds
 * the other pages. OUT: *out (free with quire_convert_result_free). */
QUIRE_API quire_status quire_convert_file(quire_converter *conv, const char *path,
                                          const quire_convert_params *params,
                                          quire_convert_result **out, quire_error *err);
QUIRE_API void quire_convert_result_free(quire_convert_result *res);

/* Check a gamebook export (--format gamebook, docs/gamebook.md): choices that lead to no
 * section ("missing_target"), sections no chain of choices from the first reaches
 * ("unreachable"), numbers used twice ("duplicate"), sections without choices that are
 * not endings ("dead_end"), numbers missing in the run ("missing_section"). OUT:
 * *report, a JSON object {"errors": [{"kind", "section", "target"?, "page"?,
 * "message"}], "n_errors", "n_sections", "ok"} (free with quire_free); *n_errors.
 * Text that is not a gamebook export is QUIRE_FORMAT with the place named. */
QUIRE_API quire_status quire_gamebook_validate(const char *json, size_t len, char **report,
                                               int *n_errors, quire_error *err);


/* ------------------------------------------------------------------ store and search */
/*
 * A store is one SQLite file (WAL mode) holding named collections of documents, their
 * chunks (Markdown-aware, with heading path and page range), an FTS5 index over the
 * chunk text (BM25) and, when the collection has an embedding model, one float32 vector
 * per chunk with an HNSW index persisted next to them. Usage:
 *
 *     quire_store *st = NULL;
 *     quire_store_open("papers.db", 0, &st, &err);
 *     quire_ingest_params ip = quire_ingest_default_params();
 *     ip.collection = "papers"; ip.converter = conv; ip.embedder = emb;   (emb may be NULL:
 *                                                           the collection is then text-only)
 *     quire_ingest_result r;
 *     quire_ingest_file(st, "paper.pdf", &ip, &r, &err);
 *     quire_search_params sp = quire_search_default_params();
 *     sp.collection = "papers"; sp.k = 5; sp.embedder = emb;
 *     quire_hits *hits = NULL;
 *     quire_search(st, "what is attention", &sp, &hits, &err);
 *     ... hits->hits[i].document, .page_start, .page_end, .heading, .score, .snippet
 *     quire_hits_free(hits);
 *     quire_store_close(st);
 *
 * Durability: each document is committed in one transaction (its chunks, text index and
 * vectors together), so after a crash or kill -9 a document is either fully there or
 * not at all, and re-running the ingest finishes the rest. The HNSW graph is a cache of
 * the vectors table: it is saved at quire_store_close (and periodically while ingesting)
 * and repaired on load when it lags behind.
 *
 * Model lifecycle: a collection records the fingerprint of its embedding model
 * (quire_model_fingerprint); vectors or queries from another model are refused with
 * QUIRE_MISMATCH naming both. quire_reindex re-embeds every chunk into a new index and
 * swaps it in atomically.
 *
 * Threads: one quire_store may be used from several threads (calls are serialised
 * inside; conversion and embedding in quire_ingest_file run outside the lock, so
 * ingesting from N threads, each with its own embedder, overlaps that work). Several
 * processes may use one store file: one writer at a time (others wait up to
 * busy_timeout_ms), readers never block.
 */
typedef struct quire_store quire_store;

enum { QUIRE_STORE_READONLY = 1 /* open an existing store for reading only */ };

/* Open (creating when missing, unless READONLY) a store file. A file written by a newer
 * schema than this release knows, or one that is not a quire store, is QUIRE_FORMAT.
 * path may also be a PostgreSQL URL ("postgresql://USER@HOST/DB", or "postgresql://" with
 * the PG* variables; a build with libpq): the store is then that database's (the schema
 * `quire worker` uses, created or migrated on a writable open), and ingest, the listings,
 * remove, drop and reindex work on it as on a file; search, export and import return
 * QUIRE_UNSUPPORTED (search a local copy: quire search --db URL --cache FILE). A URL
 * libpq cannot parse is QUIRE_INVALID_ARG, an unreachable server QUIRE_IO; messages show
 * the URL with its password as ***. */
QUIRE_API quire_status quire_store_open(const char *path, int flags, quire_store **out,
                                        quire_error *err);
/* Saves changed HNSW graphs, then closes. NULL is a no-op. */
QUIRE_API void quire_store_close(quire_store *st);
/* Save changed HNSW graphs now (quire_store_close does this too). */
QUIRE_API quire_status quire_store_flush(quire_store *st, quire_error *err);
/* The schema version this release writes. */
QUIRE_API int quire_store_schema_version(void);

typedef struct quire_collection_params {
    int chunk_tokens;     /* chunk size in model tokens (word estimate when text-only); 0 = 256 */
    int overlap;          /* tokens shared by consecutive chunks; 0 = 32, -1 = none */
    int hnsw_m;           /* HNSW links per node; 0 = 16 */
    int ef_construction;  /* 0 = 200 */
    int ef_search;        /* 0 = 64 */
    const char *doc_prefix;   /* prepended to chunk text before embedding; NULL = "" */
    const char *query_prefix; /* prepended to queries before embedding; NULL = "" */
} quire_collection_params;

QUIRE_API quire_collection_params quire_collection_default_params(void);

typedef struct quire_collection_info {
    char name[128];
    char model[128];        /* model folder name; "" = text-only */
    char model_dir[512];    /* where the model was when the index was made */
    char fingerprint[65];   /* "" = text-only */
    int dims;               /* 0 = text-only */
    long documents, chunks, vectors;
    int chunk_tokens, overlap, hnsw_m, ef_construction, ef_search;
    char doc_prefix[64], query_prefix[64];
    char created_at[32];    /* UTC, ISO 8601 */
    char precision[8];      /* of the vectors: "fp32", "bf16", "int8"; "" = text-only */
} quire_collection_info;

/* All collections (sorted by name). OUT: *out (free with quire_free), *n. */
QUIRE_API quire_status quire_store_collections(quire_store *st, quire_collection_info **out,
                                               int *n, quire_error *err);
/* One collection (QUIRE_NOT_FOUND when absent). */
QUIRE_API quire_status quire_store_collection(quire_store *st, const char *name,
                                              quire_collection_info *out, quire_error *err);

typedef struct quire_document_info {
    char *path;             /* as ingested */
    char sha256[65];        /* of the file's bytes */
    long long size;
    int pages;
    int failed_pages;
    long chunks;
    char converted_at[32];  /* UTC, ISO 8601 */
    char *metadata;         /* JSON object text; NULL = none */
} quire_document_info;

typedef struct quire_document_list {
    int n;
    quire_document_info *docs;
} quire_document_list;

/* Documents of a collection, sorted by path. OUT: *out (free with quire_document_list_free). */
QUIRE_API quire_status quire_store_documents(quire_store *st, const char *collection,
                                             quire_document_list **out, quire_error *err);
QUIRE_API void quire_document_list_free(quire_document_list *list);
/* Remove a document (its chunks and vectors) in one transaction. */
QUIRE_API quire_status quire_store_remove(quire_store *st, const char *collection,
                                          const char *path, quire_error *err);
/* Remove every document of a collection that matches a metadata filter (the JSON of
 * quire_search_params.where), each with its chunks and vectors in its own transaction.
 * *removed (may be NULL): how many. */
QUIRE_API quire_status quire_store_remove_where(quire_store *st, const char *collection,
                                                const char *where, int *removed,
                                                quire_error *err);
/* Delete a collection with all its documents, chunks, vectors and indexes, in one
 * transaction (QUIRE_NOT_FOUND naming it when absent). */
QUIRE_API quire_status quire_store_drop_collection(quire_store *st, const char *collection,
                                                   quire_error *err);
/* Free memory returned by quire_store_collections. */
QUIRE_API void quire_free(void *p);

/* Export and import (docs/export.md): a JSONL stream of collections with their documents,
 * metadata, chunks and vectors (base64 of the stored float32 bytes), led by a header line
 * (export format version, store schema, each collection's model fingerprint and options)
 * and closed by an end line with the counts (so a truncated stream is detected). */
typedef struct quire_export_result {
    int collections;
    long documents, chunks, vectors;
} quire_export_result;

/* Write one collection (NULL = every collection) to path ("-" = stdout), as one read
 * snapshot. res (may be NULL): what was written. */
QUIRE_API quire_status quire_store_export(quire_store *st, const char *collection,
                                          const char *path, quire_export_result *res,
                                          quire_error *err);

typedef struct quire_import_params {
    const char *collection;  /* import only this collection of the stream; NULL = all */
    const char *rename;      /* store it under this name (the stream, or collection, must
                                select exactly one); NULL = the exported name */
    const char *fingerprint; /* the model the caller will search with: a collection whose
                                vectors are from another model is refused (QUIRE_MISMATCH);
                                NULL = no check */
} quire_import_params;

QUIRE_API quire_import_params quire_import_default_params(void);

/* Read an export from path ("-" = stdin), streaming, into collections that are new or
 * empty (one with documents is refused; an empty one must have the same model). All in
 * one transaction: on any error (a bad line names its line number) nothing is written.
 * Chunk ids are kept when the store has no chunks yet, so hits are identical. */
QUIRE_API quire_status quire_store_import(quire_store *st, const char *path,
                                          const quire_import_params *params,
                                          quire_export_result *res, quire_error *err);

typedef struct quire_ingest_params {
    const char *collection;        /* NULL = "default"; created on first use */
    const quire_collection_params *create; /* settings when the collection is created;
                                              NULL = defaults */
    quire_embedder *embedder;      /* NULL: text-only (BM25). A collection created with
                                      vectors needs an embedder of the same model */
    quire_converter *converter;    /* for PDF and images; NULL: only Markdown/text files */
    const quire_convert_params *convert; /* NULL = defaults (Markdown with page markers
                                            is forced either way) */
    int force;                     /* 1 = re-ingest even when the content is unchanged */
    const char *store_path;        /* the key to record the document under, used as given
                                      (a user id); NULL = its canonical path, below */
    const char *root;              /* NULL: documents are keyed by their canonical absolute
                                      path (realpath), so every spelling of one file is one
                                      document; DIR: keyed relative to realpath(DIR), so the
                                      store stays valid when the tree moves (a file outside
                                      DIR is an error) */
    const char *metadata;          /* a JSON object stored with the document (replacing the
                                      one it had, also when the content is unchanged); NULL
                                      = keep what it has */
} quire_ingest_params;

QUIRE_API quire_ingest_params quire_ingest_default_params(void);

enum quire_ingest_outcome {
    QUIRE_INGEST_ADDED = 0,     /* new document */
    QUIRE_INGEST_UPDATED = 1,   /* content changed: its chunks were replaced */
    QUIRE_INGEST_UNCHANGED = 2  /* same content hash: skipped */
};

typedef struct quire_ingest_result {
    int outcome;        /* enum quire_ingest_outcome */
    int pages;
    int failed_pages;   /* pages that failed to convert (the others were ingested) */
    int chunks;
    long tokens;        /* chunk tokens embedded (0 when text-only) */
    double ms;          /* total; convert_ms + embed_ms + store_ms is the breakdown */
    double convert_ms, embed_ms, store_ms;
} quire_ingest_result;

/* Convert (PDF/image via the converter; .md/.markdown/.txt read as they are), chunk,
 * embed and store one file, atomically. Unchanged content is skipped by sha256.
 * Returns QUIRE_OK (also when some pages failed: see res->failed_pages), or an error
 * naming the file; nothing of the document is changed on error. */
QUIRE_API quire_status quire_ingest_file(quire_store *st, const char *path,
                                         const quire_ingest_params *params,
                                         quire_ingest_result *res, quire_error *err);

enum quire_search_mode {
    QUIRE_SEARCH_HYBRID = 0, /* BM25 and vector ranks fused (reciprocal rank fusion) */
    QUIRE_SEARCH_VECTOR = 1,
    QUIRE_SEARCH_TEXT = 2
};

typedef struct quire_search_params {
    const char *collection;   /* NULL = "default" */
    int k;                    /* hits wanted; 0 = 10 */
    int mode;                 /* enum quire_search_mode */
    const char *path_glob;    /* only documents whose path matches (SQLite GLOB); NULL = all */
    int ef;                   /* HNSW candidate list; 0 = the collection's ef_search */
    quire_embedder *embedder; /* needed for vector/hybrid; must match the collection */
    int exact;                /* 1 = exact vector search (no HNSW) */
    int text_rank;            /* enum quire_text_rank: how text candidates are ranked */
    const char *highlight_open, *highlight_close; /* snippet markers; NULL = "«" and "»" */
    const char *where;        /* metadata filter, Chroma-style JSON ({"year": {"$gte": 2020}},
                                 $eq $ne $gt $gte $lt $lte $in $nin $and $or; field "path" is
                                 the document key), applied before ranking; NULL = none */
    const float *vector;      /* query by vector: vector_dims floats (normalised by the
                                 search); no embedder is needed. Vector mode ranks by it
                                 alone (query may be ""); hybrid fuses it with BM25 over the
                                 query text. NULL = embed the query text */
    int vector_dims;          /* must equal the collection's dims (else QUIRE_INVALID_ARG) */
} quire_search_params;

enum quire_text_rank {
    /* FTS5 BM25 over the query words, re-ranked by phrase and proximity: the best 200 BM25
       candidates get score = bm25 / best bm25 + 1.5 * (share of the query's adjacent word
       pairs found adjacent, in order, in the chunk), so a pasted sentence finds its chunk */
    QUIRE_TEXT_RANK_PHRASE = 0,
    QUIRE_TEXT_RANK_BM25 = 1  /* plain BM25 (score = -bm25) */
};

QUIRE_API quire_search_params quire_search_default_params(void);

typedef struct quire_hit {
    long long chunk_id;
    const char *document;   /* path as ingested */
    int page_start, page_end;
    const char *heading;    /* heading path, "" when none */
    const char *text;       /* the whole chunk */
    const char *snippet;    /* about 30 words around the best match, terms as [term] */
    double score;           /* hybrid: RRF sum; vector: cosine; text: -bm25 (higher = better) */
    int text_rank;          /* 1-based rank in the BM25 list, 0 = not in it */
    int vector_rank;        /* 1-based rank in the vector list, 0 = not in it */
    double text_score, vector_score;
    const char *metadata;   /* the document's metadata, JSON object text; NULL = none */
} quire_hit;

typedef struct quire_hits {
    int n;
    quire_hit *hits;        /* best first */
    int mode;               /* the mode actually used */
    int exact;              /* 1 = vectors were searched exactly (small or filtered) */
    char note[160];         /* e.g. why the mode differs from the one asked for */
} quire_hits;

/* Search a collection. Text mode needs no model. OUT: *out (free with quire_hits_free). */
QUIRE_API quire_status quire_search(quire_store *st, const char *query,
                                    const quire_search_params *params, quire_hits **out,
                                    quire_error *err);
QUIRE_API void quire_hits_free(quire_hits *hits);

/* Re-embed every chunk of a collection with `embedder`'s model into a new index and swap
 * it in atomically (readers use the old index until then; an interrupted reindex is
 * resumed by the next call with the same model). params: HNSW settings for the new
 * index (NULL = keep the collection's). progress (may be NULL): chunks done / total. */
QUIRE_API quire_status quire_reindex(quire_store *st, const char *collection,
                                     quire_embedder *embedder,
                                     const quire_collection_params *params,
                                     void (*progress)(void *user_data, long done, long total),
                                     void *user_data, quire_error *err);


/* ------------------------------------------------------------------ HTTP server */
/*
 * An OpenAI-compatible embedding service plus search and conversion over HTTP/1.1
 * (libmicrohttpd, one thread per connection). Endpoints: POST /v1/embeddings,
 * GET /v1/models, POST /v1/search, POST /v1/convert, GET /health, GET /metrics.
 * Embedding requests from all connections share one queue; batcher threads (one
 * embedder each) merge queued inputs into forward passes of up to batch_tokens tokens,
 * waiting at most batch_wait_us for more, and hand every request its vectors in order.
 * Usage:
 *
 *     quire_server_params sp = quire_server_default_params();
 *     sp.port = 8080;
 *     quire_server *srv = NULL;
 *     if (quire_server_new(model, store, conv, &sp, &srv, &err) != QUIRE_OK) { ... }
 *     printf("port %d\n", quire_server_port(srv));
 *     volatile int stop = 0;          (set to 1 from a signal handler)
 *     quire_server_run(srv, &stop);   (returns after draining in-flight requests)
 *     quire_server_free(srv);
 *
 * model, store and converter are borrowed (they must outlive the server) and each may be
 * NULL: the endpoints that need it then answer 503/501. Every error response is JSON:
 * {"error":{"message":...,"type":...,"code":...}}.
 */
typedef struct quire_server quire_server;

typedef struct quire_server_params {
    const char *host;           /* address to bind; NULL = "127.0.0.1" */
    int port;                   /* 0 = pick a free port (see quire_server_port) */
    const char *api_key;        /* NULL or "" = no auth; else every route but /health needs
                                   "Authorization: Bearer KEY" (copied) */
    const char *model_name;     /* extra name accepted in "model" (besides the model
                                   folder's name); NULL = none */
    int n_batchers;             /* batcher threads, one embedder each; 0 = 2 */
    int n_threads;              /* threads per embedder's forward pass; 0 = 1 (measured on
                                   2 cores: 2 batchers x 1 thread beat 1 x 2, see
                                   docs/serve.md) */
    size_t max_body_bytes;      /* larger request bodies -> 413; 0 = 32 MiB */
    int max_inputs;             /* inputs per embedding request; 0 = 2048 */
    int max_tokens_per_input;   /* longer inputs (counted in full, incl. [CLS]/[SEP]) ->
                                   413, or truncated; 0 = the model's max_tokens (also the
                                   most: open the model with a larger max_tokens for more) */
    int truncate;               /* 1 = truncate long inputs instead of 413 */
    int max_connections;        /* concurrent connections; 0 = 256 */
    int request_timeout_s;      /* idle connection / slow client timeout; 0 = 30 */
    int batch_tokens;           /* token budget of one forward pass; 0 = 2048 (raised to
                                   the per-input limit when smaller) */
    int batch_wait_us;          /* longest wait for more inputs when the queue is short;
                                   0 = 2000, -1 = never wait */
    int no_batching;            /* 1 = one request per forward pass (for comparison) */
    const char *allow_paths;    /* directory whose files /v1/convert may open by
                                   {"path": ...}; NULL = request paths are refused */
    double drain_timeout_s;     /* longest wait for in-flight requests at stop; 0 = 30 */
    /* model_name may list several names separated by commas ("text-embedding-ada-002,
     * text-embedding-3-small"): all are accepted, the first is the name answers carry. */
    int accept_any_model_name;  /* 1 = any "model" value is accepted (answers name the
                                   served model) */
    int token_ids_native;       /* token-array inputs: 0 = accepted only when framed by the
                                   model's own first/last special ids ([CLS] ... [SEP]),
                                   else 400 (they are likely tiktoken ids from an OpenAI
                                   client); 1 = taken as the model's ids as they are */
    int vlm;                    /* /v1/convert's enum quire_vlm_mode when a request names
                                   none (its "vlm" query field or JSON member); anything
                                   but QUIRE_VLM_NEVER needs a converter made with a
                                   quire_config that has backends */
    const char *access_log;     /* NULL = none; else a file (appended to) that gets one JSON
                                   line per finished request: time, remote, method, path,
                                   status, ms, bytes_in, bytes_out, user_agent (never the
                                   API key); "-" = stderr */
    int allow_writes;           /* 1 = the document routes (POST/DELETE /v1/collections/...)
                                   change the store, which must be open for writing;
                                   0 = they answer 403 read_only */
} quire_server_params;

QUIRE_API quire_server_params quire_server_default_params(void);

/* Create embedders and start listening (the port is bound when this returns). OUT: *out
 * (free with quire_server_free) or NULL. QUIRE_IO when the address cannot be bound. */
QUIRE_API quire_status quire_server_new(const quire_model *model, quire_store *store,
                                        quire_converter *converter,
                                        const quire_server_params *params,
                                        quire_server **out, quire_error *err);
/* The bound TCP port (useful with port 0). */
QUIRE_API int quire_server_port(const quire_server *srv);
/* Serve until *stop becomes nonzero (polled every 20 ms; may be set from a signal
 * handler), then stop accepting, let every request in flight finish (at most
 * drain_timeout_s) and return QUIRE_OK. */
QUIRE_API quire_status quire_server_run(quire_server *srv, volatile int *stop);
/* Stops (if running) and frees. NULL is a no-op. */
QUIRE_API void quire_server_free(quire_server *srv);


/* ---- configuration file (quire.toml) -------------------------------------------------
 * The VLM backends, fallback chain and resources of a conversion, in a strict TOML subset
 * (the layout and every key: src/config/config.h and README "VLM backends"). Any error
 * names the file, line and column (or the environment variable) and returns QUIRE_FORMAT.
 * A loaded config is immutable and may be shared by threads.
 *
 *     quire_config *cfg = NULL;
 *     if (quire_config_load(NULL, &cfg, &err) != QUIRE_OK) { ... err.msg ... }
 *     ... cp.config = cfg ...          (quire_converter_params, appended field)
 *     quire_config_free(cfg);
 */
/* path NULL: $QUIRE_CONFIG, else ./quire.toml when it exists, else an empty config (no
 * backends). Environment overrides QUIRE_RESOURCES_<KEY>, QUIRE_BACKENDS_DEFAULT,
 * QUIRE_BACKENDS_FALLBACK_CHAIN, QUIRE_BACKEND_<NAME>_<KEY> are applied last.
 * OUT: *out (free with quire_config_free). A named file that is missing: QUIRE_NOT_FOUND. */
QUIRE_API quire_status quire_config_load(const char *path, quire_config **out, quire_error *err);
/* The same from text in memory; name (may be NULL) is used in messages. */
QUIRE_API quire_status quire_config_parse(const char *text, size_t len, const char *name,
                                          quire_config **out, quire_error *err);
QUIRE_API void quire_config_free(quire_config *cfg);
QUIRE_API int quire_config_n_backends(const quire_config *cfg);
/* The file the config came from, or NULL (built-in defaults). */
QUIRE_API const char *quire_config_source(const quire_config *cfg);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_H */
