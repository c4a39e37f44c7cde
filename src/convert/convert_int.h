/*
 * convert_int.h — the files of src/convert: the converter's shared page queue
 * (convert.c), the work done on one page (page.c), page lists (pages.c).
 *
 * A document in progress is a qr_cv_doc: one task per selected page, all pushed onto
 * the converter's single FIFO queue. Workers pop tasks from any document, so with N
 * workers at most N pages are being rendered/OCR'd at any time, whatever the number of
 * documents in flight. A doc is reference-counted (the calling thread + every task not
 * yet finished) so a caller that gives up on a hung page can return while the worker
 * still holds the doc.
 */
#ifndef QR_CONVERT_INT_H
#define QR_CONVERT_INT_H

#include <pthread.h>

#include "core/core.h"
#include "core/page.h"
#include "ocr/ocr.h"
#include "pdf/pdf.h"

/* Most pages one document may have: a page tree declaring more is rejected instead of
 * allocating per-page state in proportion to a count an attacker chose. */
#define QR_CV_MAX_PAGES 100000

typedef struct qr_cv_doc qr_cv_doc;

/* A finished page in compact form, waiting for layout (packed.c). */
typedef struct qr_cv_packed qr_cv_packed;

typedef struct qr_cv_task {
    qr_cv_doc *doc;
    int idx;                 /* index into the doc's page arrays */
    int done;                /* set under the converter lock once report/page are final */
    struct qr_cv_task *next; /* queue link */
} qr_cv_task;

struct qr_cv_doc {
    char *path;
    int ocr_mode;            /* enum quire_ocr_mode */
    int regions;             /* OCR of the inserts of text-layer pages (inserts.c): 0 none,
                                1 those that look like text (auto), 2 all (hi_res) */
    int dpi;                 /* 0 = module default */
    const char *lang;
    int n_tasks;
    qr_cv_task *tasks;       /* [n_tasks] */
    quire_page_report *reports; /* [n_tasks] written by the worker of that task */
    qr_cv_packed **pages;    /* [n_tasks] packed copies (one qr_malloc block each) or NULL */
    qr_pdf **pdfs;           /* [n_workers] per-worker handles, opened lazily */
    qr_pdf *spare;           /* the handle the caller opened, for the first worker */
    /* VLM (vlm_page.c): NULL / unused unless the document was converted with --vlm */
    int vlm_mode;            /* enum quire_vlm_mode */
    struct qr_vlm_client *vlm;
    int vlm_dpi;             /* [resources] page_render_dpi */
    double vlm_min_conf;     /* [resources] vlm_auto_min_conf */
    void (*vlm_log)(void *user, const char *json_line);
    void *vlm_log_user;
    struct qr_vlm_page **vlm_pages; /* [n_tasks] blocks read by a VLM, or NULL */
    char **vlm_json;         /* [n_tasks] provenance JSON text, or NULL */
    volatile int abort;      /* polled by MuPDF / Tesseract */
    int stop_reason;         /* 0, or 1 = timed out, 2 = cancelled */
    int n_done;              /* under the converter lock */
    int refs;                /* under the converter lock */
    pthread_cond_t done_cv;
};

/* One worker thread's state: everything here belongs to that thread only. */
typedef struct qr_cv_worker {
    struct quire_converter *conv;
    int id;
    pthread_t thread;
    int started;
    qr_ocr *ocr;         /* created on the first page that needs OCR */
    qr_arena scratch;    /* page text and OCR result, reset per page */
} qr_cv_worker;

/* Process one page of doc (task idx) on worker w: text layer, method choice, OCR if
 * needed; fills doc->reports[idx] and doc->pages[idx]. Never fails as a whole: a page
 * error goes into the report. */
void qr_cv_run_page(qr_cv_worker *w, qr_cv_doc *doc, int idx);
/* Per-page method choice from the text layer's statistics: 1 = OCR the page. Writes the
 * reason (for the report) into reason. mode is enum quire_ocr_mode. */
int qr_cv_choose_ocr(const qr_page *pg, int mode, char *reason, size_t cap);

/* The worker's Tesseract handle, created on first use (w->ocr). */
quire_status qr_cv_worker_ocr(qr_cv_worker *w, qr_cv_doc *doc, quire_error *err);

/* ---- inserts: text drawn in the images of a text-layer page (inserts.c) ---- */
/* The page's inserts: its image regions (touching image blocks merged) big and fine
 * enough to hold text and not under its text layer, at most cap, into out, with their
 * images' resolution as drawn into dpi (pixels per inch, 0 = unknown). Returns how many.
 * Reads the text layer only. */
int qr_cv_insert_regions(const qr_page *pg, qr_bbox *out, float *dpi, int cap);
/* OCR pg's inserts (those that look like text when doc->regions is 1, all when 2) and
 * add the words that are not on the text layer as text blocks (allocated from w->scratch;
 * word conf >= 0 marks them as OCR). *n_inserts: the inserts found. Returns the inserts
 * whose text was added. A failure leaves the page as it was and is noted in reason. */
int qr_cv_inserts(qr_cv_worker *w, qr_cv_doc *doc, qr_pdf *pdf, qr_page *pg, int *n_inserts,
                  char *reason, size_t cap);

/* ---- VLM pages (vlm_page.c) ---- */
struct qr_layout;
struct qr_arena;
/* Set up doc for p->vlm with the converter's client (NULL = none configured).
 * QUIRE_INVALID_ARG when a VLM mode is asked for without backends. */
quire_status qr_cv_vlm_doc_init(qr_cv_doc *doc, struct qr_vlm_client *vlm, int mode, int dpi,
                                double min_conf, void (*log)(void *, const char *),
                                void *log_user, quire_error *err);
void qr_cv_vlm_doc_free(qr_cv_doc *doc);
/* Mode always, before the local path: 1 = send the whole page (why says why); tables
 * and formulas send regions after layout (vlm_regions.c). */
int qr_cv_vlm_wants(const qr_cv_doc *doc, const qr_page *text, char *why, size_t cap);
/* Mode auto, after the local path: judge what it kept (kept: the text layer, or the OCR
 * result when ocr; chars: its characters; blank: the rendering had no ink). 1 = send the
 * page to the VLM; why says why either way (for the report). */
int qr_cv_vlm_auto(const qr_cv_doc *doc, const qr_page *kept, int ocr, long chars, int blank,
                   char *why, size_t cap);
/* Record why a page was not sent (provenance {"outcome":"local","why":...}). */
void qr_cv_vlm_note(qr_cv_doc *doc, int idx, const char *why);
/* Read page idx with the VLM chain. Returns 1 when an answer was accepted (report and
 * pages[idx] set, page done), 0 when the caller goes on with the text layer / Tesseract
 * (the provenance then records the fallback). why: the reason the page was sent;
 * local_chars: characters the local path found (0 = not read yet), for the empty-answer
 * check. */
int qr_cv_vlm_page(qr_cv_worker *w, qr_cv_doc *doc, int idx, qr_pdf *pdf, const qr_page *text,
                   const char *why, long local_chars);
/* After the normal path of a page that fell back: note the final method in the event log. */
void qr_cv_vlm_fell_back(qr_cv_doc *doc, int idx);
/* Move finished page idx's VLM results: provenance into res->page_vlm (allocated on first
 * use), blocks into vkept[idx]. */
void qr_cv_vlm_take(qr_cv_doc *doc, int idx, quire_convert_result *res,
                    struct qr_vlm_page **vkept);
/* Put the VLM pages' blocks into the layout at their pages' places (arena: the layout's). */
quire_status qr_cv_vlm_splice(struct qr_layout *lay, struct qr_vlm_page *const *vp, int n,
                              struct qr_arena *arena);
/* ---- VLM regions (vlm_regions.c): --vlm tables / formulas ---- */
/* The answers whose blocks went into a layout: freed after the output is written. */
typedef struct qr_cv_region_keep {
    struct qr_vlm_page **vp;
    int n, cap;
} qr_cv_region_keep;
/* 1 when doc sends regions (tables / formulas) rather than pages. */
int qr_cv_vlm_region_mode(const qr_cv_doc *doc);
/* After layout: crop, send and check every table / display-formula region of the pages
 * and replace the blocks whose answers were accepted; every region recorded in
 * res->page_vlm. A page whose regions all fail keeps its text-layer blocks (never an
 * error); QUIRE_NOMEM only when nothing could be recorded. */
quire_status qr_cv_vlm_regions(qr_cv_doc *doc, struct qr_layout *lay,
                               const qr_page *const *pages, int n, quire_convert_result *res,
                               qr_cv_region_keep *keep);
void qr_cv_region_keep_free(qr_cv_region_keep *keep);
/* 1 when the text-layer words inside box are display math: >= 40 % of the characters in
 * math fonts, math code points or unmapped glyphs, >= 3 characters, < 30 % monospace. */
int qr_cv_formula_words(const qr_page *pg, qr_bbox box);

/* The converter's client: created from params->config (NULL when it has no backends) and
 * probed. */
quire_status qr_cv_vlm_client(const quire_converter_params *p, struct qr_vlm_client **out,
                              quire_error *err);

/* Compact copy of a page into one qr_malloc'd block (free with qr_free), NULL on OOM:
 * 36 bytes a word (plus its text), for the pages waiting for layout. */
qr_cv_packed *qr_cv_page_pack(const qr_page *src);

/* The page back in full form, exactly as packed, in one qr_malloc'd block (free with
 * qr_free); NULL on OOM. */
qr_page *qr_cv_page_unpack(const qr_cv_packed *pk);

/* The 1-based page numbers selected by `spec` ("1-3,7,10-"; NULL = all) among n_pages,
 * ascending, duplicates removed, at most max_pages (0 = no limit).
 * OUT: *out (free with qr_free), *n_out. QUIRE_INVALID_ARG on a malformed spec. */
quire_status qr_cv_page_list(const char *spec, int n_pages, int max_pages, int **out,
                             int *n_out, quire_error *err);

#endif /* QR_CONVERT_INT_H */
