/*
 * convert.c — the public conversion API: a converter owns N worker threads and one
 * FIFO of page tasks shared by every document in progress, so several callers of
 * quire_convert_file share the workers and at most N pages are rendered at once.
 * The calling thread waits for its document's pages, enforces the timeout, then runs
 * layout and export on the kept pages.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "convert_int.h"
#include "export/export.h"
#include "layout/layout.h"
#include "ocr/vlm.h"

/* Scratch per worker for one page's text layer plus its OCR result. Reserved, not
 * touched: only what a page really uses becomes resident. */
#define SCRATCH_BYTES ((size_t)64 << 20)
/* After a timeout or cancel, how long the caller waits for running pages to notice the
 * abort flag before it gives up on them (they may be stuck in a call that never polls). */
#define ABORT_GRACE_S 10.0

struct quire_converter {
    int n_workers;
    char *lang;
    qr_cv_worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    qr_cv_task *head, *tail;
    int stopping;
    struct qr_vlm_client *vlm; /* VLM backends (NULL = none configured): vlm_page.c */
    int vlm_dpi;
    double vlm_min_conf;
    void (*vlm_log)(void *, const char *);
    void *vlm_log_user;
};

quire_converter_params quire_converter_default_params(void)
{
    quire_converter_params p;
    memset(&p, 0, sizeof(p));
    p.n_threads = 1;
    p.lang = "eng";
    return p;
}

quire_convert_params quire_convert_default_params(void)
{
    quire_convert_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

/* ---- documents ------------------------------------------------------------------- */

/* Also called as soon as every page is done (run_doc): no worker touches the handles
 * again, and closing them returns MuPDF's caches (fonts, images: ~14 MB on a long
 * book) before layout allocates instead of after. */
static void close_pdfs(qr_cv_doc *doc, int n_workers)
{
    for (int i = 0; doc->pdfs && i < n_workers; i++) {
        qr_pdf_close(doc->pdfs[i]);
        doc->pdfs[i] = NULL;
    }
    qr_pdf_close(doc->spare);
    doc->spare = NULL;
}

static void doc_free(qr_cv_doc *doc, int n_workers)
{
    if (!doc)
        return;
    close_pdfs(doc, n_workers);
    qr_cv_vlm_doc_free(doc);
    for (int i = 0; doc->pages && i < doc->n_tasks; i++)
        qr_free(doc->pages[i]);
    pthread_cond_destroy(&doc->done_cv);
    qr_free(doc->pdfs);
    qr_free(doc->pages);
    qr_free(doc->reports);
    qr_free(doc->tasks);
    qr_free(doc->path);
    qr_free(doc);
}

/* Drop one reference; called with conv->mu held. Returns the doc when it must be freed
 * (after unlocking), else NULL. */
static qr_cv_doc *doc_unref_locked(qr_cv_doc *doc)
{
    doc->refs--;
    return doc->refs == 0 ? doc : NULL;
}

/* ---- workers --------------------------------------------------------------------- */

static qr_cv_task *pop_task(quire_converter *conv)
{
    pthread_mutex_lock(&conv->mu);
    while (!conv->head && !conv->stopping)
        pthread_cond_wait(&conv->work_cv, &conv->mu);
    qr_cv_task *t = conv->head;
    if (t) {
        conv->head = t->next;
        if (!conv->head)
            conv->tail = NULL;
    }
    pthread_mutex_unlock(&conv->mu);
    return t;
}

static void finish_task(quire_converter *conv, qr_cv_task *t)
{
    qr_cv_doc *doc = t->doc;
    pthread_mutex_lock(&conv->mu);
    t->done = 1;
    doc->n_done++;
    pthread_cond_broadcast(&doc->done_cv);
    qr_cv_doc *dead = doc_unref_locked(doc);
    pthread_mutex_unlock(&conv->mu);
    doc_free(dead, conv->n_workers);
}

static void *worker_main(void *arg)
{
    qr_cv_worker *w = arg;
    qr_cv_task *t;
    while ((t = pop_task(w->conv)) != NULL) {
        qr_cv_doc *doc = t->doc;
        if (doc->abort) {
            /* queued pages of a stopped document are not started at all */
            quire_page_report *rep = &doc->reports[t->idx];
            rep->method = QUIRE_METHOD_FAILED;
            snprintf(rep->error, sizeof(rep->error), "%s",
                     doc->stop_reason == 2 ? "cancelled" : "timed out");
        } else {
            qr_cv_run_page(w, doc, t->idx);
        }
        finish_task(w->conv, t);
    }
    return NULL;
}

quire_status quire_converter_new(const quire_converter_params *params, quire_converter **out,
                                 quire_error *err)
{
    quire_converter_params p = params ? *params : quire_converter_default_params();
    *out = NULL;
    quire_status st = qr_lib_init(err);
    if (st != QUIRE_OK)
        return st;
    qr_ocr_global_init(); /* before any thread may create a Tesseract handle */
    quire_converter *conv = qr_calloc(1, sizeof(*conv));
    if (!conv)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    conv->n_workers = p.n_threads > 0 ? p.n_threads : 1;
    conv->lang = qr_strdup(p.lang && p.lang[0] ? p.lang : "eng");
    conv->workers = qr_calloc((size_t)conv->n_workers, sizeof(qr_cv_worker));
    pthread_mutex_init(&conv->mu, NULL);
    pthread_cond_init(&conv->work_cv, NULL);
    if (!conv->lang || !conv->workers) {
        quire_converter_free(conv);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    st = qr_cv_vlm_client(&p, &conv->vlm, err);
    if (st != QUIRE_OK) {
        quire_converter_free(conv);
        return st;
    }
    conv->vlm_dpi = p.config ? p.config->page_render_dpi : 0;
    conv->vlm_min_conf = p.config ? p.config->vlm_auto_min_conf : 70;
    conv->vlm_log = p.vlm_log;
    conv->vlm_log_user = p.vlm_log_user;
    for (int i = 0; i < conv->n_workers; i++) {
        qr_cv_worker *w = &conv->workers[i];
        w->conv = conv;
        w->id = i;
        if (qr_arena_init(&w->scratch, SCRATCH_BYTES) != QUIRE_OK ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            quire_converter_free(conv);
            return qr_err(err, QUIRE_NOMEM, "cannot start conversion worker %d", i);
        }
        w->started = 1;
    }
    *out = conv;
    return QUIRE_OK;
}

void quire_converter_free(quire_converter *conv)
{
    if (!conv)
        return;
    pthread_mutex_lock(&conv->mu);
    conv->stopping = 1;
    pthread_cond_broadcast(&conv->work_cv);
    pthread_mutex_unlock(&conv->mu);
    for (int i = 0; conv->workers && i < conv->n_workers; i++) {
        qr_cv_worker *w = &conv->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        qr_ocr_free(w->ocr);
        qr_arena_free(&w->scratch);
    }
    pthread_cond_destroy(&conv->work_cv);
    pthread_mutex_destroy(&conv->mu);
    qr_free(conv->workers);
    qr_free(conv->lang);
    qr_vlm_client_free(conv->vlm);
    qr_free(conv);
}

/* ---- one document ---------------------------------------------------------------- */

/* Open once to validate and count pages; the handle is handed to the first worker. */
static quire_status open_doc(const char *path, qr_pdf **pdf, int *n_pages, quire_error *err)
{
    quire_status st = qr_pdf_open(path, pdf, err);
    if (st != QUIRE_OK) {
        /* the message must name the file: the batch prints it as its one line */
        if (err && !strstr(err->msg, path)) {
            char msg[sizeof(err->msg)];
            snprintf(msg, sizeof(msg), "%s", err->msg[0] ? err->msg : quire_status_str(st));
            qr_err(err, st, "%s: %s", path, msg);
        }
        return st;
    }
    *n_pages = qr_pdf_page_count(*pdf);
    if (*n_pages <= 0)
        return qr_err(err, QUIRE_FORMAT, "%s: the document has no pages", path);
    if (*n_pages > QR_CV_MAX_PAGES)
        return qr_err(err, QUIRE_LIMIT, "%s: the document declares %d pages (limit %d)", path,
                      *n_pages, QR_CV_MAX_PAGES);
    return QUIRE_OK;
}

static qr_cv_doc *doc_new(quire_converter *conv, const char *path, const int *list, int n)
{
    qr_cv_doc *doc = qr_calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    pthread_cond_init(&doc->done_cv, NULL);
    doc->n_tasks = n;
    doc->path = qr_strdup(path);
    doc->tasks = qr_calloc((size_t)n, sizeof(qr_cv_task));
    doc->reports = qr_calloc((size_t)n, sizeof(quire_page_report));
    doc->pages = qr_calloc((size_t)n, sizeof(qr_page *));
    doc->pdfs = qr_calloc((size_t)conv->n_workers, sizeof(qr_pdf *));
    if (!doc->path || !doc->tasks || !doc->reports || !doc->pages || !doc->pdfs) {
        doc_free(doc, conv->n_workers);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        doc->tasks[i].doc = doc;
        doc->tasks[i].idx = i;
        doc->reports[i].page = list[i];
        doc->reports[i].conf = -1.0f;
        doc->reports[i].osd_conf = -1.0f;
    }
    doc->lang = conv->lang;
    return doc;
}

static void enqueue_doc(quire_converter *conv, qr_cv_doc *doc)
{
    pthread_mutex_lock(&conv->mu);
    doc->refs = 1 + doc->n_tasks;
    for (int i = 0; i < doc->n_tasks; i++) {
        qr_cv_task *t = &doc->tasks[i];
        if (conv->tail)
            conv->tail->next = t;
        else
            conv->head = t;
        conv->tail = t;
    }
    pthread_cond_broadcast(&conv->work_cv);
    pthread_mutex_unlock(&conv->mu);
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    long ns = ts->tv_nsec + (long)(s * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
}

/* Wait (conv->mu held) until every task is done, the timeout stops the document, or
 * the caller's abort flag does; returns when done or when the grace period after a stop
 * has run out. */
static void wait_doc_locked(quire_converter *conv, qr_cv_doc *doc,
                            const quire_convert_params *p, double t0)
{
    double stopped_at = 0;
    int reported = 0;
    while (doc->n_done < doc->n_tasks) {
        struct timespec ts;
        deadline_in(&ts, 0.05);
        pthread_cond_timedwait(&doc->done_cv, &conv->mu, &ts);
        if (p->progress && doc->n_done != reported) {
            /* the callback runs without the lock: it may take its own locks and print */
            int done = doc->n_done, total = doc->n_tasks;
            reported = done;
            pthread_mutex_unlock(&conv->mu);
            p->progress(p->progress_user_data, done, total);
            pthread_mutex_lock(&conv->mu);
        }
        double now = qr_now();
        if (!doc->abort && p->abort_flag && *p->abort_flag)
            doc->stop_reason = 2;
        if (!doc->abort && p->timeout_s > 0 && now - t0 > p->timeout_s)
            doc->stop_reason = 1;
        if (!doc->abort && doc->stop_reason) {
            doc->abort = 1;
            stopped_at = now;
        }
        if (doc->abort && now - stopped_at > ABORT_GRACE_S)
            break;
    }
}

/* Snapshot (conv->mu held) the reports of finished pages and take their packed pages
 * (kept[i] NULL for the others); pages still running after the grace period are
 * reported as stopped and their results ignored. */
static void snapshot_locked(qr_cv_doc *doc, quire_convert_result *res, qr_cv_packed **kept,
                            qr_vlm_page **vkept)
{
    for (int i = 0; i < doc->n_tasks; i++) {
        quire_page_report *r = &res->reports[i];
        if (doc->tasks[i].done) {
            *r = doc->reports[i];
            kept[i] = doc->pages[i];
            doc->pages[i] = NULL;
            qr_cv_vlm_take(doc, i, res, vkept);
        } else {
            memset(r, 0, sizeof(*r));
            r->page = doc->reports[i].page;
            r->method = QUIRE_METHOD_FAILED;
            r->conf = -1.0f;
            r->osd_conf = -1.0f;
            snprintf(r->error, sizeof(r->error), "%s",
                     doc->stop_reason == 2 ? "cancelled" : "timed out");
        }
        if (r->method == QUIRE_METHOD_FAILED)
            res->n_failed++;
    }
}

/* ---- figures ---------------------------------------------------------------------- */

/* Figure names start with the prefix: params.image_prefix or the input's file name
 * without directory and extension; anything but letters, digits, '.', '_' and '-' becomes
 * '_' so the name needs no quoting in Markdown or a shell. */
static void figure_prefix(const char *path, const char *given, char *out, size_t cap)
{
    const char *s = given;
    size_t n;
    if (s && s[0]) {
        n = strlen(s);
    } else {
        const char *slash = strrchr(path, '/');
        s = slash ? slash + 1 : path;
        const char *dot = strrchr(s, '.');
        n = dot && dot > s ? (size_t)(dot - s) : strlen(s);
    }
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        out[i] = ok ? ch : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "figure");
}

static const qr_page *page_numbered(const qr_page *const *pages, int n, int number)
{
    for (int i = 0; i < n; i++)
        if (pages[i] && pages[i]->number == number)
            return pages[i];
    return NULL;
}

static void note_warning(quire_convert_result *res, const char *msg)
{
    if (!res->warning[0])
        snprintf(res->warning, sizeof(res->warning), "%s", msg);
}

/* Render every figure block of lay (params.images refs/embed): refs keeps the PNGs in
 * res->images and points the block at the name, embed points it at a data: URI in the
 * arena. A figure that fails to render stays a figure without an image (a warning). */
static quire_status export_figures(const char *path, qr_layout *lay, const qr_page *const *pages,
                                   int n, const quire_convert_params *p, qr_arena *arena,
                                   quire_convert_result *res, quire_error *err)
{
    int n_fig = 0;
    for (int k = 0; k < lay->n_blocks; k++)
        n_fig += lay->blocks[k].type == QR_BLK_FIGURE;
    if (n_fig == 0)
        return QUIRE_OK;
    qr_pdf *pdf = NULL;
    quire_error e = {0};
    if (qr_pdf_open(path, &pdf, &e) != QUIRE_OK) {
        note_warning(res, "figures not exported: the document cannot be reopened");
        return QUIRE_OK;
    }
    if (p->images == QUIRE_IMAGES_REFS) {
        res->images = qr_calloc((size_t)n_fig, sizeof(quire_image));
        if (!res->images) {
            qr_pdf_close(pdf);
            return qr_err(err, QUIRE_NOMEM, "%s: out of memory for figures", path);
        }
    }
    char prefix[128];
    figure_prefix(p->name ? p->name : path, p->image_prefix, prefix, sizeof(prefix));
    int page = -1, k_on_page = 0;
    quire_status st = QUIRE_OK;
    for (int k = 0; k < lay->n_blocks && st == QUIRE_OK; k++) {
        qr_block *b = &lay->blocks[k];
        if (b->type != QR_BLK_FIGURE)
            continue;
        k_on_page = b->page == page ? k_on_page + 1 : 1;
        page = b->page;
        const qr_page *pg = page_numbered(pages, n, b->page);
        unsigned char *png = NULL;
        size_t len = 0;
        int w = 0, h = 0;
        if (qr_pdf_render_region_png(pdf, b->page, b->bbox, pg ? pg->text_rotation : 0,
                                     p->image_dpi, &png, &len, &w, &h, p->abort_flag,
                                     &e) != QUIRE_OK) {
            char msg[160];
            snprintf(msg, sizeof(msg), "figure on page %d not exported: %.100s", b->page, e.msg);
            note_warning(res, msg);
            continue;
        }
        char name[192];
        snprintf(name, sizeof(name), "%.128s-p%d-fig%d.png", prefix, b->page, k_on_page);
        if (p->images == QUIRE_IMAGES_REFS) {
            quire_image *im = &res->images[res->n_images];
            im->name = qr_strdup(name);
            b->image = qr_arena_alloc(arena, strlen(name) + 1);
            if (!im->name || !b->image) {
                qr_free(im->name);
                qr_free(png);
                st = qr_err(err, QUIRE_NOMEM, "%s: out of memory for figures", path);
                break;
            }
            memcpy((char *)b->image, name, strlen(name) + 1);
            im->page = b->page;
            im->bbox[0] = b->bbox.x0;
            im->bbox[1] = b->bbox.y0;
            im->bbox[2] = b->bbox.x1;
            im->bbox[3] = b->bbox.y1;
            im->png = png;
            im->png_len = len;
            im->width = w;
            im->height = h;
            res->n_images++;
        } else {
            size_t b64n = 0;
            char *b64 = qr_base64(png, len, &b64n);
            char *uri = b64 ? qr_arena_alloc(arena, b64n + 23) : NULL;
            if (uri) {
                memcpy(uri, "data:image/png;base64,", 22);
                memcpy(uri + 22, b64, b64n);
                uri[22 + b64n] = '\0';
                b->image = uri;
            }
            qr_free(b64);
            qr_free(png);
            if (!uri)
                st = qr_err(err, QUIRE_NOMEM, "%s: out of memory for figures", path);
        }
    }
    qr_pdf_close(pdf);
    return st;
}

/* Layout + export of the kept pages into res->output. The layout arena is sized from
 * the pages' own size; a document that needs more gets a bigger one. */
static quire_status render_output(qr_cv_doc *doc, const qr_page *const *pages, int n,
                                  const quire_convert_params *p, qr_vlm_page *const *vkept,
                                  quire_convert_result *res, quire_error *err)
{
    const char *path = doc->path;
    qr_cv_region_keep keep = {0};
    int format = p->format, page_markers = p->page_markers, tables = p->tables;
    /* figures only in Markdown and JSON; plain text reads like the page */
    int figures = format != QUIRE_FORMAT_TXT;
    size_t cap = (size_t)1 << 22;
    quire_status st = QUIRE_NOMEM;
    qr_layout lay;
    qr_arena arena = {0};
    for (int attempt = 0; attempt < 6; attempt++, cap *= 4) {
        if (qr_arena_init(&arena, cap + (size_t)n * 65536) != QUIRE_OK)
            return qr_err(err, QUIRE_NOMEM, "%s: out of memory for layout", path);
        memset(&lay, 0, sizeof(lay));
        /* Plain text reads like the page: lines, hyphens, running heads and page numbers
         * kept (as pdftotext and the tesseract CLI do); Markdown and JSON are for
         * reading and RAG: paragraphs re-joined, furniture removed. */
        qr_layout_opts lo = {format == QUIRE_FORMAT_TXT, format == QUIRE_FORMAT_TXT, figures,
                             format == QUIRE_FORMAT_GAMEBOOK};
        st = qr_layout_doc_ex(pages, n, &lo, &arena, &lay, err);
        if (st != QUIRE_NOMEM)
            break;
        qr_arena_free(&arena);
    }
    if (st == QUIRE_OK && vkept && qr_cv_vlm_splice(&lay, vkept, n, &arena) != QUIRE_OK)
        st = qr_err(err, QUIRE_NOMEM, "%s: out of memory for layout", path);
    /* --vlm tables / formulas: regions replaced by the VLM's blocks (vlm_regions.c) */
    if (st == QUIRE_OK && qr_cv_vlm_region_mode(doc) &&
        qr_cv_vlm_regions(doc, &lay, pages, n, res, &keep) != QUIRE_OK)
        st = qr_err(err, QUIRE_NOMEM, "%s: out of memory for VLM regions", path);
    if (st == QUIRE_OK && figures && format != QUIRE_FORMAT_GAMEBOOK &&
        p->images != QUIRE_IMAGES_NONE)
        st = export_figures(path, &lay, pages, n, p, &arena, res, err);
    if (st != QUIRE_OK) {
        qr_cv_region_keep_free(&keep);
        qr_arena_free(&arena);
        return st;
    }
    qr_buf out;
    qr_buf_init(&out, 0);
    /* page sizes and the pages missing from the output (timed out, failed) */
    qr_export_page *ep = qr_calloc((size_t)(n > 0 ? n : 1), sizeof(*ep));
    if (!ep) {
        qr_cv_region_keep_free(&keep);
        qr_arena_free(&arena);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory writing the output", path);
    }
    for (int i = 0; i < n; i++) {
        const quire_page_report *r = &res->reports[i];
        ep[i].page = r->page;
        if (pages[i]) {
            ep[i].width = pages[i]->width;
            ep[i].height = pages[i]->height;
            ep[i].rotation = pages[i]->rotation;
            ep[i].text_rotation = pages[i]->text_rotation;
        }
        if (r->method == QUIRE_METHOD_FAILED || !pages[i])
            ep[i].missing = r->error[0] ? r->error : "failed";
    }
    qr_export_doc ed = {p->name ? p->name : path, ep, n, res->n_pages, res->metadata};
    if (format == QUIRE_FORMAT_JSON) {
        qr_export_json_doc(&lay, &ed, &out);
    } else if (format == QUIRE_FORMAT_GAMEBOOK) {
        qr_export_gamebook(&lay, pages, n, &ed, &out);
    } else {
        qr_export_missing_note(&ed, format == QUIRE_FORMAT_MD, &out);
        if (format == QUIRE_FORMAT_TXT)
            qr_export_text(&lay, &out);
        else
            qr_export_markdown_opts(&lay, &out, page_markers, tables);
    }
    qr_free(ep);
    qr_cv_region_keep_free(&keep);
    qr_arena_free(&arena);
    qr_buf_putc(&out, '\0');
    if (out.failed) {
        qr_buf_free(&out);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory writing the output", path);
    }
    res->output = out.data; /* qr_buf memory comes from qr_realloc: freed with qr_free */
    res->output_len = out.len - 1;
    return QUIRE_OK;
}

static quire_status doc_status(const char *path, const quire_convert_result *res,
                               int stop_reason, double timeout_s, quire_error *err)
{
    if (stop_reason == 2)
        return qr_err(err, QUIRE_CANCELLED, "%s: cancelled", path);
    if (stop_reason == 1)
        return qr_err(err, QUIRE_ERROR, "%s: timed out after %g s (%d of %d pages done)", path,
                      timeout_s, res->n_reports - res->n_failed, res->n_reports);
    if (res->n_failed == 0)
        return QUIRE_OK;
    for (int i = 0; i < res->n_reports; i++) {
        const quire_page_report *r = &res->reports[i];
        if (r->method != QUIRE_METHOD_FAILED)
            continue;
        if (strstr(r->error, path)) /* src/pdf already names file and page */
            return qr_err(err, QUIRE_ERROR, "%s (%d of %d pages failed)", r->error,
                          res->n_failed, res->n_reports);
        return qr_err(err, QUIRE_ERROR, "%s: page %d: %s (%d of %d pages failed)", path,
                      r->page, r->error, res->n_failed, res->n_reports);
    }
    return QUIRE_ERROR;
}

/* Finished pages back in full form for layout; each packed copy is freed as soon as
 * its full twin exists, so the two forms of all pages are never alive at once. */
static quire_status unpack_pages(qr_cv_packed **kept, const qr_page **pages, int n,
                                 const char *path, quire_error *err)
{
    quire_status st = QUIRE_OK;
    for (int i = 0; i < n; i++) {
        if (kept[i] && st == QUIRE_OK) {
            pages[i] = qr_cv_page_unpack(kept[i]);
            if (!pages[i])
                st = qr_err(err, QUIRE_NOMEM, "%s: out of memory for layout", path);
        }
        qr_free(kept[i]);
        kept[i] = NULL;
    }
    return st;
}

static void free_pages(const qr_page **pages, int n)
{
    for (int i = 0; pages && i < n; i++)
        qr_free((void *)pages[i]);
    qr_free(pages);
}

static quire_status run_doc(quire_converter *conv, qr_cv_doc *doc, const quire_convert_params *p,
                            double t0, quire_convert_result *res, quire_error *err)
{
    const qr_page **pages = qr_calloc((size_t)doc->n_tasks, sizeof(qr_page *));
    qr_cv_packed **kept = qr_calloc((size_t)doc->n_tasks, sizeof(qr_cv_packed *));
    res->reports = qr_calloc((size_t)doc->n_tasks, sizeof(quire_page_report));
    if (!pages || !kept || !res->reports) {
        doc->abort = 1; /* nothing to keep: let the workers drain the doc quickly */
        qr_free(pages);
        qr_free(kept);
        pthread_mutex_lock(&conv->mu);
        wait_doc_locked(conv, doc, p, t0);
        pthread_mutex_unlock(&conv->mu);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", doc->path);
    }
    res->n_reports = doc->n_tasks;
    pthread_mutex_lock(&conv->mu);
    wait_doc_locked(conv, doc, p, t0);
    qr_vlm_page **vkept = doc->vlm_pages ? qr_calloc((size_t)doc->n_tasks, sizeof(*vkept)) : NULL;
    snapshot_locked(doc, res, kept, vkept);
    int stop_reason = doc->stop_reason;
    int all_done = doc->n_done == doc->n_tasks;
    pthread_mutex_unlock(&conv->mu);
    if (all_done)
        close_pdfs(doc, conv->n_workers);
    /* pages of finished tasks are final: they are ours now, taken from the doc */
    quire_status st = unpack_pages(kept, pages, doc->n_tasks, doc->path, err);
    qr_free(kept);
    if (st == QUIRE_OK)
        st = render_output(doc, pages, doc->n_tasks, p, vkept, res, err);
    free_pages(pages, doc->n_tasks);
    for (int i = 0; vkept && i < doc->n_tasks; i++)
        qr_vlm_page_free(vkept[i]);
    qr_free(vkept);
    if (st != QUIRE_OK)
        return st;
    return doc_status(doc->path, res, stop_reason, p->timeout_s, err);
}

/* Map the strategy onto the OCR / VLM modes (include/quire.h, enum quire_strategy);
 * a combination it contradicts is refused. *regions: OCR of inserts (qr_cv_doc.regions). */
static quire_status apply_strategy(const quire_converter *conv, const char *path,
                                   quire_convert_params *p, int *regions, quire_error *err)
{
    static const char *const ocr_names[] = {"auto", "always", "never"};
    const char *ocr = p->ocr >= 0 && p->ocr <= 2 ? ocr_names[p->ocr] : "?";
    *regions = 0;
    switch (p->strategy) {
    case QUIRE_STRATEGY_AUTO:
        *regions = p->ocr == QUIRE_OCR_NEVER ? 0 : 1;
        return QUIRE_OK;
    case QUIRE_STRATEGY_FAST:
        if (p->ocr == QUIRE_OCR_ALWAYS || p->vlm != QUIRE_VLM_NEVER)
            return qr_err(err, QUIRE_INVALID_ARG, "%s: strategy fast reads the text layer "
                          "only: it contradicts %s", path,
                          p->vlm != QUIRE_VLM_NEVER ? "a VLM mode other than never"
                                                    : "ocr always");
        p->ocr = QUIRE_OCR_NEVER;
        return QUIRE_OK;
    case QUIRE_STRATEGY_OCR_ONLY:
        if (p->ocr == QUIRE_OCR_NEVER || p->vlm != QUIRE_VLM_NEVER)
            return qr_err(err, QUIRE_INVALID_ARG, "%s: strategy ocr_only OCRs every page "
                          "with Tesseract: it contradicts %s", path,
                          p->vlm != QUIRE_VLM_NEVER ? "a VLM mode other than never"
                                                    : "ocr never");
        p->ocr = QUIRE_OCR_ALWAYS;
        return QUIRE_OK;
    case QUIRE_STRATEGY_HI_RES:
        if (p->ocr == QUIRE_OCR_NEVER)
            return qr_err(err, QUIRE_INVALID_ARG, "%s: strategy hi_res OCRs image regions "
                          "and pages without a usable text layer: it contradicts ocr %s",
                          path, ocr);
        if (conv->vlm && p->vlm == QUIRE_VLM_NEVER)
            p->vlm = QUIRE_VLM_AUTO;
        *regions = 2;
        return QUIRE_OK;
    default:
        return qr_err(err, QUIRE_INVALID_ARG, "%s: strategy %d is not one of enum "
                      "quire_strategy", path, p->strategy);
    }
}

quire_status quire_convert_file(quire_converter *conv, const char *path,
                                const quire_convert_params *params, quire_convert_result **out,
                                quire_error *err)
{
    quire_convert_params p = params ? *params : quire_convert_default_params();
    double t0 = qr_now();
    qr_pdf *pdf = NULL;
    int n_pages = 0, *list = NULL, n_list = 0;
    *out = NULL;
    if (!conv || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_convert_file: no converter or path");
    int regions = 0;
    quire_status st = apply_strategy(conv, path, &p, &regions, err);
    if (st != QUIRE_OK)
        return st;
    st = open_doc(path, &pdf, &n_pages, err);
    if (st == QUIRE_OK)
        st = qr_cv_page_list(p.pages, n_pages, p.max_pages, &list, &n_list, err);
    if (st == QUIRE_OK && n_list == 0)
        st = qr_err(err, QUIRE_INVALID_ARG, "%s: no page selected (the document has %d)", path,
                    n_pages);
    if (st != QUIRE_OK) {
        qr_pdf_close(pdf);
        qr_free(list);
        return st;
    }
    char *meta = NULL;
    if (qr_pdf_metadata(pdf, &meta, err) != QUIRE_OK) {
        qr_pdf_close(pdf);
        qr_free(list);
        return QUIRE_NOMEM;
    }
    qr_cv_doc *doc = doc_new(conv, path, list, n_list);
    qr_free(list);
    quire_convert_result *res = qr_calloc(1, sizeof(*res));
    if (!doc || !res) {
        qr_pdf_close(pdf);
        doc_free(doc, conv->n_workers);
        qr_free(res);
        qr_free(meta);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
    }
    res->metadata = meta;
    doc->spare = pdf;
    doc->ocr_mode = p.ocr;
    doc->regions = regions;
    doc->dpi = p.dpi;
    st = qr_cv_vlm_doc_init(doc, conv->vlm, p.vlm, conv->vlm_dpi, conv->vlm_min_conf,
                            conv->vlm_log, conv->vlm_log_user, err);
    if (st != QUIRE_OK) {
        doc_free(doc, conv->n_workers);
        quire_convert_result_free(res);
        return st;
    }
    res->n_pages = n_pages;
    enqueue_doc(conv, doc);
    st = run_doc(conv, doc, &p, t0, res, err);
    pthread_mutex_lock(&conv->mu);
    qr_cv_doc *dead = doc_unref_locked(doc);
    pthread_mutex_unlock(&conv->mu);
    doc_free(dead, conv->n_workers);
    res->ms = (qr_now() - t0) * 1000.0;
    if (!res->output && st != QUIRE_OK && res->n_failed == 0) {
        quire_convert_result_free(res); /* nothing worth returning */
        return st;
    }
    *out = res;
    return st;
}

void quire_convert_result_free(quire_convert_result *res)
{
    if (!res)
        return;
    qr_free(res->output);
    for (int i = 0; res->page_vlm && i < res->n_reports; i++)
        qr_free(res->page_vlm[i]);
    qr_free(res->page_vlm);
    for (int i = 0; i < res->n_images; i++) {
        qr_free(res->images[i].name);
        qr_free(res->images[i].png);
    }
    qr_free(res->images);
    qr_free(res->reports);
    qr_free(res->metadata);
    qr_free(res);
}
