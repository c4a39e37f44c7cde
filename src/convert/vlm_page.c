/*
 * vlm_page.c — pages read by a VLM backend (hybrid OCR) inside a conversion.
 *
 * Which pages (enum quire_vlm_mode):
 *   always    every page;
 *   auto      judged by measured quality, after the local path has read the page
 *             (qr_cv_vlm_auto): a text layer kept with > 30 % unusable characters or
 *             none at all (--ocr never), or a page Tesseract read with a mean word
 *             confidence under [resources] vlm_auto_min_conf (default 70; Tesseract gives
 *             80-95 on the corpus' scans, clean or degraded) or with no word on a page
 *             with ink. Good pages stay local; either way the report's "vlm.why" says
 *             why. The OCR result is kept as the fallback, so a page whose VLM answers
 *             are rejected is not OCR'd twice.
 *   tables, formulas: no page is sent; after layout, the table / display-formula blocks
 *             are sent as regions (vlm_regions.c).
 * The page is rendered at [resources] page_render_dpi (default 200), lowered so its longest
 * side fits the strictest max_image_px of the chain and its base64 fits max_image_b64,
 * encoded as PNG and sent through the fallback chain (src/ocr/vlm_client.c). An accepted
 * answer becomes blocks (vlm_norm.c) spliced into the layout at the page's place; when
 * every backend fails, the page goes on to the text layer / Tesseract as without --vlm,
 * and its provenance says why ("fallback"). No page is ever dropped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_int.h"
#include "ocr/vlm.h"

#define DEFAULT_DPI 200

static void log_json(qr_cv_doc *doc, json_t *ev)
{
    if (!doc->vlm_log || !ev)
        return;
    char *s = json_dumps(ev, JSON_COMPACT);
    if (s)
        doc->vlm_log(doc->vlm_log_user, s);
    free(s); /* lint-allow: free (jansson) */
}

quire_status qr_cv_vlm_client(const quire_converter_params *p, qr_vlm_client **out,
                              quire_error *err)
{
    *out = NULL;
    if (!p->config || quire_config_n_backends(p->config) == 0)
        return QUIRE_OK;
    qr_vlm_client_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.cfg = p->config;
    cp.cache_dir = p->vlm_cache_dir;
    cp.stream = 1;
    const char *b = getenv("QUIRE_VLM_BACKOFF_S"); /* tests: shorter waits */
    if (b)
        cp.backoff_base_s = strtod(b, NULL);
    if (cp.backoff_base_s > 0)
        cp.backoff_cap_s = cp.backoff_base_s * 8;
    const char *st = getenv("QUIRE_VLM_STREAM");
    if (st && !strcmp(st, "0"))
        cp.stream = 0;
    cp.log_line = p->vlm_log;
    cp.log_user = p->vlm_log_user;
    qr_vlm_client *c = NULL;
    quire_status s = qr_vlm_client_new(&cp, &c, err);
    if (s != QUIRE_OK)
        return s;
    s = qr_vlm_client_probe(c, err);
    if (s != QUIRE_OK) {
        qr_vlm_client_free(c);
        return s;
    }
    *out = c;
    return QUIRE_OK;
}

quire_status qr_cv_vlm_doc_init(qr_cv_doc *doc, qr_vlm_client *vlm, int mode, int dpi,
                                double min_conf, void (*log)(void *, const char *),
                                void *log_user, quire_error *err)
{
    if (mode == QUIRE_VLM_NEVER)
        return QUIRE_OK;
    if (mode < 0 || mode > QUIRE_VLM_FORMULAS)
        return qr_err(err, QUIRE_INVALID_ARG, "bad VLM mode %d", mode);
    if (!vlm)
        return qr_err(err, QUIRE_INVALID_ARG, "a VLM mode (--vlm, or /v1/convert's vlm) needs a "
                      "VLM backend: none is configured (quire.toml [backends.NAME], --config "
                      "FILE or QUIRE_CONFIG)");
    doc->vlm_pages = qr_calloc((size_t)doc->n_tasks, sizeof(*doc->vlm_pages));
    doc->vlm_json = qr_calloc((size_t)doc->n_tasks, sizeof(*doc->vlm_json));
    if (!doc->vlm_pages || !doc->vlm_json) {
        qr_cv_vlm_doc_free(doc);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    doc->vlm = vlm;
    doc->vlm_mode = mode;
    doc->vlm_dpi = dpi > 0 ? dpi : DEFAULT_DPI;
    doc->vlm_min_conf = min_conf;
    doc->vlm_log = log;
    doc->vlm_log_user = log_user;
    return QUIRE_OK;
}

void qr_cv_vlm_doc_free(qr_cv_doc *doc)
{
    for (int i = 0; doc->vlm_pages && i < doc->n_tasks; i++)
        qr_vlm_page_free(doc->vlm_pages[i]);
    for (int i = 0; doc->vlm_json && i < doc->n_tasks; i++)
        qr_free(doc->vlm_json[i]);
    qr_free(doc->vlm_pages);
    qr_free(doc->vlm_json);
    doc->vlm_pages = NULL;
    doc->vlm_json = NULL;
}

/* ---- which pages ---------------------------------------------------------------------- */

/* Page-level choice of --vlm always: 1 = send the whole page. tables and formulas send
 * regions after layout instead (vlm_regions.c). */
int qr_cv_vlm_wants(const qr_cv_doc *doc, const qr_page *text, char *why, size_t cap)
{
    if (doc->vlm_mode == QUIRE_VLM_ALWAYS) {
        snprintf(why, cap, "--vlm always");
        return 1;
    }
    (void)text;
    return 0;
}

/* Share of a page's characters that are unusable (unmapped glyphs standing for text). */
static double garbage_share(const qr_page *pg)
{
    return pg->n_chars > 0 ? (double)pg->n_garbage_chars / (double)pg->n_chars : 0;
}

int qr_cv_vlm_auto(const qr_cv_doc *doc, const qr_page *kept, int ocr, long chars, int blank,
                   char *why, size_t cap)
{
    if (blank) {
        snprintf(why, cap, "local: blank page (no ink to read)");
        return 0;
    }
    if (!ocr) {
        double bad = garbage_share(kept);
        if (kept->n_chars > 0 && bad > 0.30) {
            snprintf(why, cap, "text layer has %.0f%% unusable characters and was not OCR'd",
                     bad * 100);
            return 1;
        }
        if (kept->n_chars == 0) {
            snprintf(why, cap, "no text layer and no OCR (--ocr never)");
            return 1;
        }
        snprintf(why, cap, "local: text layer ok (%ld characters, %.0f%% unusable)",
                 kept->n_chars, bad * 100);
        return 0;
    }
    if (chars == 0) {
        snprintf(why, cap, "Tesseract found no text on a page with ink");
        return 1;
    }
    if (kept->mean_conf < doc->vlm_min_conf) {
        snprintf(why, cap, "Tesseract mean confidence %.0f < %.0f (vlm_auto_min_conf)",
                 kept->mean_conf, doc->vlm_min_conf);
        return 1;
    }
    snprintf(why, cap, "local: Tesseract mean confidence %.0f >= %.0f (vlm_auto_min_conf)",
             kept->mean_conf, doc->vlm_min_conf);
    return 0;
}

void qr_cv_vlm_note(qr_cv_doc *doc, int idx, const char *why)
{
    if (!doc->vlm_json || doc->vlm_json[idx])
        return;
    json_t *o = json_pack("{s:s, s:s}", "outcome", "local", "why", why);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    doc->vlm_json[idx] = s ? qr_strdup(s) : NULL;
    free(s); /* lint-allow: free (jansson) */
    json_decref(o);
}

/* ---- one page ------------------------------------------------------------------------- */

static long block_chars(const qr_vlm_page *vp)
{
    long n = 0;
    for (int i = 0; i < vp->n; i++) {
        const qr_block *b = &vp->blocks[i];
        const char *t = b->text ? b->text : "";
        for (const char *c = t; *c; c++)
            n += ((unsigned char)*c & 0xC0) != 0x80;
        for (int k = 0; b->type == QR_BLK_TABLE && k < b->n_rows * b->n_cols; k++)
            for (const char *c = b->cells[k]; c && *c; c++)
                n += ((unsigned char)*c & 0xC0) != 0x80;
    }
    return n;
}

/* Render and encode within the chain's limits, as JPEG when every backend takes it, else
 * PNG. OUT: *png (qr_free), *len, *mime, img dims. */
static quire_status page_png(qr_cv_doc *doc, qr_pdf *pdf, int number, const qr_page *text,
                             unsigned char **png, size_t *len, const char **mime, int *iw,
                             int *ih, int *idpi, double *ink, quire_error *err)
{
    int quality = 85;
    int jpeg = qr_vlm_client_image_jpeg(doc->vlm, &quality);
    *mime = jpeg ? "image/jpeg" : "image/png";
    int max_px;
    long max_b64;
    qr_vlm_client_image_limits(doc->vlm, &max_px, &max_b64);
    float side = text->width > text->height ? text->width : text->height;
    double dpi = doc->vlm_dpi;
    if (side > 0 && side / 72.0 * dpi > max_px)
        dpi = max_px * 72.0 / side;
    for (int tries = 0; tries < 6; tries++) {
        qr_image img = {0};
        int d = (int)floor(dpi);
        if (d < 12)
            d = 12;
        quire_status st = qr_pdf_render_gray(pdf, number, d, 0, 1, &img, &doc->abort, err);
        if (st != QUIRE_OK)
            return st;
        st = jpeg ? qr_pdf_encode_jpeg(&img, quality, png, len, err)
                  : qr_pdf_encode_png(pdf, &img, png, len, err);
        /* ink: share of dark pixels (a page with ink must not come back empty) */
        size_t dark = 0, npx = (size_t)img.width * (size_t)img.height;
        for (size_t k = 0; k < npx; k += 7)
            dark += img.pixels[k] < 128;
        *ink = npx ? (double)dark * 7.0 / (double)npx : 0;
        *iw = img.width;
        *ih = img.height;
        *idpi = img.dpi;
        qr_image_free(&img);
        if (st != QUIRE_OK)
            return st;
        long b64 = (long)((*len + 2) / 3 * 4);
        if (max_b64 <= 0 || b64 <= max_b64)
            return QUIRE_OK;
        qr_free(*png);
        *png = NULL;
        dpi = dpi * sqrt((double)max_b64 / (double)b64) * 0.92;
    }
    return qr_err(err, QUIRE_LIMIT, "page image does not fit max_image_b64 = %ld", max_b64);
}

int qr_cv_vlm_page(qr_cv_worker *w, qr_cv_doc *doc, int idx, qr_pdf *pdf, const qr_page *text,
                   const char *why, long local_chars)
{
    if (!doc->vlm)
        return 0;
    int task = QR_VLM_PAGE;
    quire_page_report *rep = &doc->reports[idx];
    int number = rep->page;
    char label[64];
    snprintf(label, sizeof(label), "%d", number);
    const char *base = strrchr(doc->path, '/');
    base = base ? base + 1 : doc->path;
    if (doc->vlm_log) {
        json_t *ev = json_pack("{s:s, s:s, s:i}", "event", "page_started", "document", base,
                               "page", number);
        log_json(doc, ev);
        json_decref(ev);
    }
    unsigned char *png = NULL;
    size_t png_len = 0;
    const char *mime = "image/png";
    int iw = 0, ih = 0, idpi = 0;
    double ink = 0;
    quire_error err = {0};
    qr_vlm_result r;
    memset(&r, 0, sizeof(r));
    quire_status st = page_png(doc, pdf, number, text, &png, &png_len, &mime, &iw, &ih, &idpi,
                               &ink, &err);
    if (st == QUIRE_OK) {
        char lab[600];
        snprintf(lab, sizeof(lab), "%s page %d", base, number);
        /* what the answer must at least have: the text layer's characters, or some text
         * when the image has ink (0.3 % dark pixels: a scan, not a blank page) */
        long ref = text->n_chars > local_chars ? text->n_chars : local_chars;
        if (ref < 50 && ink > 0.003)
            ref = 50;
        qr_vlm_run_image(doc->vlm, png, png_len, mime, task, ref, lab, &doc->abort, &r);
    } else {
        qr_vlm_fmt(r.reason, sizeof(r.reason), "page image: %s", err.msg);
    }
    qr_free(png);
    qr_vlm_page *vp = NULL;
    if (r.ok) {
        vp = qr_vlm_normalise(r.text, r.protocol, number, text->width, text->height, iw, ih);
        if (!vp) {
            r.ok = 0;
            snprintf(r.reason, sizeof(r.reason), "out of memory reading the answer");
        } else if (vp->n == 0 && (text->n_chars >= 50 || local_chars >= 50)) {
            r.ok = 0;
            snprintf(r.reason, sizeof(r.reason), "the answer has no blocks where the %s has "
                     "%ld characters", text->n_chars >= 50 ? "text layer" : "OCR",
                     text->n_chars >= 50 ? text->n_chars : local_chars);
        }
    }
    /* provenance */
    json_t *pj = qr_vlm_result_json(&r);
    if (pj) {
        json_object_set_new(pj, "outcome", json_string(r.ok ? "ok" : "fallback"));
        json_object_set_new(pj, "task", json_string("page"));
        json_object_set_new(pj, "why", json_string(why));
        json_object_set_new(pj, "image", json_pack("{s:s, s:i, s:i, s:i, s:I, s:s}", "sha256",
                                                   r.image_sha256, "width", iw, "height", ih,
                                                   "dpi", idpi, "bytes", (json_int_t)png_len,
                                                   "format", mime + 6));
        json_object_del(pj, "ok");
        if (!r.ok)
            json_object_set_new(pj, "reason", json_string(r.reason));
        char *s = json_dumps(pj, JSON_COMPACT);
        doc->vlm_json[idx] = s ? qr_strdup(s) : NULL;
        free(s); /* lint-allow: free (jansson) */
        json_decref(pj);
    }
    if (!r.ok) {
        qr_vlm_page_free(vp);
        qr_vlm_result_free(&r);
        return 0; /* the caller goes on: text layer / Tesseract */
    }
    /* the page itself: its size, no words (the blocks come from the VLM) */
    qr_page empty = *text;
    empty.blocks = NULL;
    empty.n_blocks = 0;
    empty.rules = NULL;
    empty.n_rules = 0;
    empty.source = QR_SRC_VLM;
    doc->pages[idx] = qr_cv_page_pack(&empty);
    if (!doc->pages[idx]) {
        qr_vlm_page_free(vp);
        qr_vlm_result_free(&r);
        return 0;
    }
    doc->vlm_pages[idx] = vp;
    rep->method = QUIRE_METHOD_VLM;
    qr_vlm_fmt(rep->reason, sizeof(rep->reason), "vlm %s (%s)%s", r.backend, r.model,
             r.cached ? ", cached" : "");
    rep->chars = block_chars(vp);
    rep->conf = -1.0f;
    if (doc->vlm_log) {
        json_t *ev = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:b}", "event", "page_finished",
                               "document", base, "page", number, "method", "vlm", "backend",
                               r.backend, "model", r.model, "cached", r.cached);
        log_json(doc, ev);
        json_decref(ev);
    }
    qr_vlm_result_free(&r);
    (void)w;
    return 1;
}

void qr_cv_vlm_fell_back(qr_cv_doc *doc, int idx)
{
    if (!doc->vlm_json || !doc->vlm_json[idx] || !doc->vlm_log ||
        !strstr(doc->vlm_json[idx], "\"outcome\":\"fallback\""))
        return;
    const quire_page_report *rep = &doc->reports[idx];
    const char *base = strrchr(doc->path, '/');
    base = base ? base + 1 : doc->path;
    const char *m = rep->method == QUIRE_METHOD_OCR ? "ocr" : rep->method == QUIRE_METHOD_TEXT
                                                                 ? "text" : "failed";
    json_t *ev = json_pack("{s:s, s:s, s:i, s:s, s:s}", "event", "page_finished", "document",
                           base, "page", rep->page, "method", m, "outcome",
                           rep->method == QUIRE_METHOD_FAILED ? "failed" : "fallback");
    log_json(doc, ev);
    json_decref(ev);
}

void qr_cv_vlm_take(qr_cv_doc *doc, int idx, quire_convert_result *res, qr_vlm_page **vkept)
{
    if (!doc->vlm_json)
        return;
    if (!res->page_vlm)
        res->page_vlm = qr_calloc((size_t)doc->n_tasks, sizeof(char *));
    if (res->page_vlm) {
        res->page_vlm[idx] = doc->vlm_json[idx];
        doc->vlm_json[idx] = NULL;
    }
    if (vkept) {
        vkept[idx] = doc->vlm_pages[idx];
        doc->vlm_pages[idx] = NULL;
    }
}

quire_status qr_cv_vlm_splice(qr_layout *lay, qr_vlm_page *const *vp, int n, qr_arena *arena)
{
    long extra = 0;
    for (int i = 0; i < n; i++)
        extra += vp[i] ? vp[i]->n : 0;
    if (extra == 0)
        return QUIRE_OK;
    size_t total = (size_t)lay->n_blocks + (size_t)extra;
    qr_block *out = qr_arena_alloc(arena, total * sizeof(qr_block));
    if (!out)
        return QUIRE_NOMEM;
    size_t k = 0;
    int j = 0;
    for (int i = 0; i < n; i++) {
        if (!vp[i] || vp[i]->n == 0)
            continue;
        int page = vp[i]->blocks[0].page;
        while (j < lay->n_blocks && lay->blocks[j].page <= page)
            out[k++] = lay->blocks[j++];
        for (int b = 0; b < vp[i]->n; b++)
            out[k++] = vp[i]->blocks[b];
    }
    while (j < lay->n_blocks)
        out[k++] = lay->blocks[j++];
    lay->blocks = out;
    lay->n_blocks = (int)k;
    return QUIRE_OK;
}
