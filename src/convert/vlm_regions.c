/*
 * vlm_regions.c — `--vlm tables` and `--vlm formulas`: regions, not pages, read by a VLM.
 *
 * After layout, every table block (tables) or display-formula block (formulas) of a page
 * the text layer or Tesseract read is cropped from the page (qr_pdf_render_region_png, at
 * [resources] page_render_dpi, lowered so the crop fits the chain's max_image_px and
 * max_image_b64, with a REGION_MARGIN point margin) and sent through the fallback chain
 * with the backend's table_to_markdown / formula_to_latex prompt (vlm_proto.c). The answer
 * is normalised (vlm_norm.c: HTML / Markdown / LaTeX tables into cells with spans, \[..\]
 * into a formula block) and checked: the client's checks (finish_reason, loops, garbage,
 * empty output where the text layer has text), then, for tables, the column count against
 * the text layer's table (fewer columns: columns lost, as DeepSeek-OCR#295; more than
 * half again as many: not the same table). An accepted answer replaces that block only;
 * a rejected one leaves the text layer's block. Every region is recorded in the page's
 * provenance (report "vlm": {"task": "regions", "regions": [...]}) with its kind, bbox,
 * status, reason, attempts, finish_reason, latency and tokens. Answers are cached like
 * pages (the client's cache keys on the image). A page's regions are sent concurrently,
 * up to the first backend's max_concurrency (at most MAX_THREADS threads).
 *
 * A display formula is a paragraph block whose text-layer words are mostly math:
 * >= 40 % of its characters in a math font (CMMI, CMSY, CMEX, MSAM, ...; its punctuation
 * aside), math code points or unmapped glyphs, at least 3 characters, at least 2 distinct
 * math characters (a row of one repeated symbol is a rule drawn with text), less than
 * 30 % in a monospace font (code lines and program listings with "=" and "+" are not
 * math); words of leader dots ("Preface . . . . 3", set in a math font) do not count.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_int.h"
#include "layout/layout_int.h"
#include "ocr/vlm.h"
#include "pdf/pdf.h"

#define REGION_MARGIN 4.0f
#define MAX_THREADS 16

/* ---- which blocks --------------------------------------------------------------------- */

static int is_math_cp(unsigned c)
{
    return (c >= 0x2200 && c <= 0x22FF) || (c >= 0x0391 && c <= 0x03C9) ||
           (c >= 0x1D400 && c <= 0x1D7FF) || c == '=' || c == '+' || c == '^' || c == 0x2032 ||
           (c >= 0x27C0 && c <= 0x27EF) || (c >= 0x2A00 && c <= 0x2AFF) || c == 0xFFFD ||
           (c >= 0xE000 && c <= 0xF8FF);
}

static int math_font(const qr_word *w)
{
    static const char *const names[] = {"cmmi", "cmsy", "cmex", "msam", "msbm", "math",
                                        "lmmi", "lmsy", "lmex", "eufm", "rsfs"};
    return qr_layout_font_has(w, names, QR_ARRAY_LEN(names));
}

/* A word of leader dots ("Preface . . . . 3": TeX sets them in a math font). */
static int leader_word(const qr_word *wd)
{
    for (size_t i = 0; i < wd->len; i++)
        if (wd->text[i] != '.' && (unsigned char)wd->text[i] != 0xC2 &&
            (unsigned char)wd->text[i] != 0xB7) /* '.', U+00B7 */
            return 0;
    return 1;
}

typedef struct mathcount {
    long all, math, mono;
    unsigned distinct[4]; /* the first distinct math characters */
    int n_distinct;
} mathcount;

/* Count a word's characters: all, math ones (a math font counts its letters, digits and
 * symbols, not its punctuation), monospace ones. */
static void word_math(const qr_word *wd, mathcount *m)
{
    if (leader_word(wd))
        return;
    int font = math_font(wd), mono = qr_layout_mono_word(wd);
    const unsigned char *s = (const unsigned char *)wd->text;
    for (size_t i = 0; i < wd->len;) {
        unsigned c = s[i];
        int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (n > 1 && i + (size_t)n <= wd->len) {
            c = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
            for (int k = 1; k < n; k++)
                c = c << 6 | (s[i + k] & 0x3F);
        }
        i += (size_t)n;
        m->all++;
        m->mono += mono;
        int punct = c == '.' || c == ',' || c == ';' || c == ':';
        if (!(is_math_cp(c) || (font && !punct)))
            continue;
        m->math++;
        int seen = 0;
        for (int k = 0; k < m->n_distinct; k++)
            seen |= m->distinct[k] == c;
        if (!seen && m->n_distinct < 4)
            m->distinct[m->n_distinct++] = c;
    }
}

static void count_box(const qr_page *pg, qr_bbox box, mathcount *m)
{
    memset(m, 0, sizeof(*m));
    for (int b = 0; b < pg->n_blocks; b++) {
        const qr_tblock *tb = &pg->blocks[b];
        for (int l = 0; l < tb->n_lines; l++) {
            for (int w = 0; w < tb->lines[l].n_words; w++) {
                const qr_word *wd = &tb->lines[l].words[w];
                float cx = (wd->bbox.x0 + wd->bbox.x1) / 2, cy = (wd->bbox.y0 + wd->bbox.y1) / 2;
                if (cx >= box.x0 && cx <= box.x1 && cy >= box.y0 && cy <= box.y1)
                    word_math(wd, m);
            }
        }
    }
}

/* >= 30 % of the characters inside box in a monospace font. */
static int mono_words(const qr_page *pg, qr_bbox box)
{
    mathcount m;
    count_box(pg, box, &m);
    return m.mono * 10 >= m.all * 3 && m.all > 0;
}

int qr_cv_formula_words(const qr_page *pg, qr_bbox box)
{
    mathcount m;
    count_box(pg, box, &m);
    /* >= 2 distinct math characters: a row of one repeated symbol ("------") is a rule
     * drawn with characters, not a formula */
    return m.all >= 3 && m.mono * 10 < m.all * 3 && m.math * 10 >= m.all * 4 &&
           m.n_distinct >= 2;
}

/* ---- one region ------------------------------------------------------------------------ */

typedef struct region {
    int task;          /* QR_VLM_TABLE / QR_VLM_FORMULA */
    int blk;           /* index in the layout's blocks (the first one) */
    int blk_last;      /* a formula of several adjacent blocks: the last one */
    int n_blocks;      /* blocks the region covers (one for a table) */
    qr_bbox bbox_text; /* the blocks' bbox */
    qr_bbox box;       /* the crop (with its margin) */
    int text_cols;     /* tables: the text layer's columns */
    long ref_chars;
    unsigned char *png;
    size_t png_len;
    int iw, ih, dpi;
    char label[600];
    qr_vlm_result r;
    qr_vlm_page *vp;   /* the normalised answer (kept until the output is written) */
    const qr_block *got; /* the block that replaces the text layer's (in vp) */
    int vlm_cols;
    int ok;
    char reason[200];
} region;

typedef struct page_job {
    qr_cv_doc *doc;
    const qr_page *page;
    region *rg;
    int n;
    int next;
    pthread_mutex_t mu;
} page_job;

static long text_chars(const char *s)
{
    long n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static long block_text_chars(const qr_block *b)
{
    long n = text_chars(b->text);
    for (int k = 0; b->type == QR_BLK_TABLE && b->cells && k < b->n_rows * b->n_cols; k++)
        n += text_chars(b->cells[k]);
    return n;
}

/* The answer's block of the region's kind; a formula answered without \[..\] becomes one. */
static void pick_block(region *g, const qr_page *pg)
{
    const qr_vlm_page *vp = g->vp;
    int want = g->task == QR_VLM_TABLE ? QR_BLK_TABLE : QR_BLK_FORMULA;
    for (int i = 0; i < vp->n; i++) {
        if (vp->blocks[i].type == want) {
            g->got = &vp->blocks[i];
            break;
        }
    }
    if (!g->got && g->task == QR_VLM_FORMULA && vp->n == 1 && vp->blocks[0].text &&
        vp->blocks[0].type == QR_BLK_PARAGRAPH && vp->blocks[0].text[0]) {
        /* bare LaTeX ("Free OCR." answers): the display delimiters are added */
        const char *t = vp->blocks[0].text;
        size_t n = strlen(t);
        char *s = qr_arena_alloc(&g->vp->arena, n + 8);
        if (s) {
            snprintf(s, n + 8, "\\[ %s \\]", t);
            g->vp->blocks[0].type = QR_BLK_FORMULA;
            g->vp->blocks[0].text = s;
            g->got = &vp->blocks[0];
        }
    }
    (void)pg;
}

static void region_check(region *g, const qr_page *pg)
{
    if (!g->r.ok) {
        g->ok = 0;
        qr_vlm_fmt(g->reason, sizeof(g->reason), "%s", g->r.reason);
        return;
    }
    g->vp = qr_vlm_normalise(g->r.text, g->r.protocol, pg->number, pg->width, pg->height,
                             g->iw, g->ih);
    if (!g->vp) {
        snprintf(g->reason, sizeof(g->reason), "out of memory reading the answer");
        return;
    }
    pick_block(g, pg);
    if (!g->got) {
        snprintf(g->reason, sizeof(g->reason), "the answer has no %s",
                 g->task == QR_VLM_TABLE ? "table" : "formula");
        return;
    }
    if (g->task == QR_VLM_TABLE) {
        int tc = g->text_cols, vc = g->got->n_cols;
        int slack = tc / 2 > 1 ? tc / 2 : 1;
        g->vlm_cols = vc;
        if (vc < tc) {
            snprintf(g->reason, sizeof(g->reason), "the answer's table has %d columns where "
                     "the text layer's has %d (columns lost)", vc, tc);
            return;
        }
        if (vc > tc + slack) {
            snprintf(g->reason, sizeof(g->reason), "the answer's table has %d columns where "
                     "the text layer's has %d (not the same table)", vc, tc);
            return;
        }
        if (g->got->n_rows < 1) {
            snprintf(g->reason, sizeof(g->reason), "the answer's table has no row");
            return;
        }
    }
    g->ok = 1;
}

static void *region_worker(void *arg)
{
    page_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int i = j->next < j->n ? j->next++ : -1;
        pthread_mutex_unlock(&j->mu);
        if (i < 0)
            break;
        region *g = &j->rg[i];
        if (!g->png)
            continue; /* the crop failed: g->reason says why */
        qr_vlm_run(j->doc->vlm, g->png, g->png_len, g->task, g->ref_chars, g->label,
                   &j->doc->abort, &g->r);
        region_check(g, j->page);
    }
    return NULL;
}

/* Crop a region within the chain's limits. */
static void region_png(qr_cv_doc *doc, qr_pdf *pdf, const qr_page *pg, region *g)
{
    int max_px;
    long max_b64;
    qr_vlm_client_image_limits(doc->vlm, &max_px, &max_b64);
    qr_bbox b = g->box;
    b.x0 = QR_MAX(0.0f, b.x0 - REGION_MARGIN);
    b.y0 = QR_MAX(0.0f, b.y0 - REGION_MARGIN);
    b.x1 = QR_MIN(pg->width, b.x1 + REGION_MARGIN);
    b.y1 = QR_MIN(pg->height, b.y1 + REGION_MARGIN);
    g->box = b;
    float side = QR_MAX(b.x1 - b.x0, b.y1 - b.y0);
    double dpi = doc->vlm_dpi;
    if (max_px > 0 && side > 0 && side / 72.0 * dpi > max_px)
        dpi = max_px * 72.0 / side;
    for (int tries = 0; tries < 6; tries++) {
        quire_error err = {0};
        int d = (int)floor(dpi);
        if (d < 12)
            d = 12;
        quire_status st = qr_pdf_render_region_png(pdf, pg->number, b, pg->text_rotation, d,
                                                   &g->png, &g->png_len, &g->iw, &g->ih,
                                                   &doc->abort, &err);
        if (st != QUIRE_OK) {
            qr_vlm_fmt(g->reason, sizeof(g->reason), "region image: %s", err.msg);
            g->png = NULL;
            return;
        }
        g->dpi = d;
        long b64 = (long)((g->png_len + 2) / 3 * 4);
        if (max_b64 <= 0 || b64 <= max_b64)
            return;
        qr_free(g->png);
        g->png = NULL;
        dpi = dpi * sqrt((double)max_b64 / (double)b64) * 0.92;
    }
    qr_vlm_fmt(g->reason, sizeof(g->reason), "region image does not fit max_image_b64 = %ld",
               max_b64);
}

static json_t *region_json(const region *g)
{
    json_t *o = g->r.n_attempts || g->r.backend[0] ? qr_vlm_result_json(&g->r) : json_object();
    if (!o)
        return NULL;
    json_object_del(o, "ok");
    json_object_set_new(o, "kind", json_string(g->task == QR_VLM_TABLE ? "table" : "formula"));
    json_object_set_new(o, "bbox", json_pack("[f,f,f,f]", g->bbox_text.x0, g->bbox_text.y0,
                                             g->bbox_text.x1, g->bbox_text.y1));
    json_object_set_new(o, "blocks", json_integer(g->n_blocks));
    json_object_set_new(o, "status", json_string(g->ok ? "ok" : "fallback"));
    json_object_set_new(o, "reason", g->ok ? json_null() : json_string(g->reason));
    double ms = 0;
    long pt = 0, ct = 0;
    for (int i = 0; i < g->r.n_attempts; i++) {
        ms += g->r.attempts[i].latency_ms;
        pt += g->r.attempts[i].prompt_tokens;
        ct += g->r.attempts[i].completion_tokens;
    }
    const char *fin = g->r.n_attempts ? g->r.attempts[g->r.n_attempts - 1].finish_reason : "";
    json_object_set_new(o, "finish_reason", fin[0] ? json_string(fin) : json_null());
    json_object_set_new(o, "latency_ms", json_real(ms));
    json_object_set_new(o, "prompt_tokens", json_integer(pt));
    json_object_set_new(o, "completion_tokens", json_integer(ct));
    if (g->task == QR_VLM_TABLE)
        json_object_set_new(o, "columns", json_pack("{s:i, s:i}", "text", g->text_cols, "vlm",
                                                    g->vlm_cols));
    if (g->png_len)
        json_object_set_new(o, "image", json_pack("{s:s, s:i, s:i, s:i, s:I, s:s}", "sha256",
                                                  g->r.image_sha256, "width", g->iw, "height",
                                                  g->ih, "dpi", g->dpi, "bytes",
                                                  (json_int_t)g->png_len, "format", "png"));
    return o;
}

static void log_region(qr_cv_doc *doc, const char *base, int page, const region *g)
{
    if (!doc->vlm_log)
        return;
    json_t *ev = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:b}", "event", "region_finished",
                           "document", base, "page", page, "kind",
                           g->task == QR_VLM_TABLE ? "table" : "formula", "outcome",
                           g->ok ? "ok" : "fallback", "backend", g->r.backend, "cached",
                           g->r.cached);
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (s)
        doc->vlm_log(doc->vlm_log_user, s);
    free(s); /* lint-allow: free (jansson) */
    json_decref(ev);
}

static void set_page_json(quire_convert_result *res, int idx, json_t *pj)
{
    char *s = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
    if (s) {
        qr_free(res->page_vlm[idx]);
        res->page_vlm[idx] = qr_strdup(s);
    }
    free(s); /* lint-allow: free (jansson) */
    json_decref(pj);
}

/* The regions of one page: collected, cropped, sent concurrently, checked, spliced. */
static void do_page(qr_cv_doc *doc, qr_pdf *pdf, qr_layout *lay, const qr_page *pg, int idx,
                    quire_convert_result *res, qr_cv_region_keep *keep, const char *base,
                    unsigned char *removed)
{
    int tables = doc->vlm_mode == QUIRE_VLM_TABLES;
    const char *what = tables ? "table" : "display formula";
    /* candidates in layout order; a formula set as several blocks (fraction lines,
     * limits, matrix rows, an equation number) is one region of adjacent blocks */
    int *cand = qr_calloc((size_t)(lay->n_blocks > 0 ? lay->n_blocks : 1), sizeof(int));
    if (!cand)
        return;
    int nc = 0;
    for (int b = 0; b < lay->n_blocks; b++) {
        const qr_block *bl = &lay->blocks[b];
        if (bl->page != pg->number || bl->n_parts > 0 || bl->page_end > bl->page)
            continue;
        if (tables ? bl->type == QR_BLK_TABLE && bl->n_cols > 0
                   : bl->type == QR_BLK_PARAGRAPH && qr_cv_formula_words(pg, bl->bbox))
            cand[nc++] = b;
    }
    region *rg = nc ? qr_calloc((size_t)nc, sizeof(*rg)) : NULL;
    int n = 0;
    for (int c = 0; rg && c < nc; c++) {
        const qr_block *bl = &lay->blocks[cand[c]];
        region *last = n ? &rg[n - 1] : NULL;
        if (!tables && last && cand[c] == last->blk_last + 1) {
            float h = QR_MIN(bl->bbox.y1 - bl->bbox.y0, last->box.y1 - last->box.y0);
            float gap = bl->bbox.y0 > last->box.y1 ? bl->bbox.y0 - last->box.y1
                        : last->box.y0 > bl->bbox.y1 ? last->box.y0 - bl->bbox.y1 : 0;
            int xover = bl->bbox.x0 < last->box.x1 && bl->bbox.x1 > last->box.x0;
            if (xover && gap <= QR_MAX(h, 6.0f)) {
                last->box.x0 = QR_MIN(last->box.x0, bl->bbox.x0);
                last->box.y0 = QR_MIN(last->box.y0, bl->bbox.y0);
                last->box.x1 = QR_MAX(last->box.x1, bl->bbox.x1);
                last->box.y1 = QR_MAX(last->box.y1, bl->bbox.y1);
                last->blk_last = cand[c];
                last->n_blocks++;
                last->ref_chars += block_text_chars(bl);
                continue;
            }
        }
        region *g = &rg[n++];
        g->task = tables ? QR_VLM_TABLE : QR_VLM_FORMULA;
        g->blk = g->blk_last = cand[c];
        g->n_blocks = 1;
        g->box = bl->bbox;
        g->text_cols = bl->n_cols;
        g->ref_chars = block_text_chars(bl);
    }
    /* formulas: regions that overlap are one; the page's other text blocks inside a
     * region (a line of a display the formula test did not take) belong to it */
    int *owner = !tables && n ? cand : NULL; /* reused: block -> region + 1 */
    if (owner) {
        for (int a = 0; a < n; a++) {
            for (int b2 = a + 1; b2 < n; b2++) {
                qr_bbox *x = &rg[a].box, *y = &rg[b2].box;
                if (rg[b2].n_blocks == 0 || x->x0 >= y->x1 || y->x0 >= x->x1)
                    continue;
                /* overlapping, or the next line of the same display (a line of a
                 * multi-line equation) */
                float h = QR_MIN(x->y1 - x->y0, y->y1 - y->y0);
                float gap = y->y0 > x->y1 ? y->y0 - x->y1 : x->y0 > y->y1 ? x->y0 - y->y1 : 0;
                if (gap > QR_MAX(h, 6.0f))
                    continue;
                x->x0 = QR_MIN(x->x0, y->x0);
                x->y0 = QR_MIN(x->y0, y->y0);
                x->x1 = QR_MAX(x->x1, y->x1);
                x->y1 = QR_MAX(x->y1, y->y1);
                rg[a].ref_chars += rg[b2].ref_chars;
                rg[a].n_blocks += rg[b2].n_blocks;
                rg[a].blk = QR_MIN(rg[a].blk, rg[b2].blk);
                rg[a].blk_last = QR_MAX(rg[a].blk_last, rg[b2].blk_last);
                rg[b2].n_blocks = 0; /* merged */
                b2 = a; /* the grown box may overlap an earlier one */
            }
        }
        int m = 0;
        for (int a = 0; a < n; a++)
            if (rg[a].n_blocks > 0)
                rg[m++] = rg[a];
        n = m;
        memset(owner, 0, (size_t)lay->n_blocks * sizeof(int));
        for (int b = 0; b < lay->n_blocks; b++) {
            const qr_block *bl = &lay->blocks[b];
            if (bl->page != pg->number || bl->n_parts > 0 ||
                (bl->type != QR_BLK_PARAGRAPH && bl->type != QR_BLK_LIST_ITEM) ||
                mono_words(pg, bl->bbox))
                continue; /* LaTeX source beside its result stays */
            float cx = (bl->bbox.x0 + bl->bbox.x1) / 2, cy = (bl->bbox.y0 + bl->bbox.y1) / 2;
            for (int a = 0; a < n; a++) {
                const qr_bbox *x = &rg[a].box;
                if (cx < x->x0 || cx > x->x1 || cy < x->y0 || cy > x->y1)
                    continue;
                owner[b] = a + 1;
                rg[a].blk = QR_MIN(rg[a].blk, b);
                break;
            }
        }
        for (int a = 0; a < n; a++) {
            rg[a].n_blocks = 0;
            rg[a].ref_chars = 0;
        }
        for (int b = 0; b < lay->n_blocks; b++) {
            if (owner[b]) {
                rg[owner[b] - 1].n_blocks++;
                rg[owner[b] - 1].ref_chars += block_text_chars(&lay->blocks[b]);
            }
        }
    }
    if (n == 0) {
        qr_free(cand);
        qr_free(rg);
        if (!res->page_vlm[idx]) {
            char why[96];
            snprintf(why, sizeof(why), "--vlm %s: no %s on the page", tables ? "tables"
                     : "formulas", what);
            set_page_json(res, idx, json_pack("{s:s, s:s, s:s}", "outcome", "local", "task",
                                              "regions", "why", why));
        }
        return;
    }
    for (int k = 0; k < n; k++) {
        region *g = &rg[k];
        g->bbox_text = g->box;
        snprintf(g->label, sizeof(g->label), "%s page %d %s %d", base, pg->number,
                 tables ? "table" : "formula", k + 1);
        region_png(doc, pdf, pg, g); /* MuPDF: one thread at a time */
    }
    /* send: up to the first backend's max_concurrency at once */
    int usable = 0;
    const char *why = NULL;
    const qr_backend_cfg *bc = qr_vlm_client_backend(doc->vlm, 0, &usable, &why);
    int conc = bc && bc->max_concurrency > 0 ? bc->max_concurrency : 1;
    if (conc > n)
        conc = n;
    if (conc > MAX_THREADS)
        conc = MAX_THREADS;
    page_job job = {doc, pg, rg, n, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < conc; t++) {
        if (pthread_create(&th[started], NULL, region_worker, &job) != 0)
            break;
        started++;
    }
    region_worker(&job);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&job.mu);
    /* splice and record */
    json_t *arr = json_array();
    int n_ok = 0, n_fb = 0;
    for (int i = 0; i < n; i++) {
        region *g = &rg[i];
        if (!g->png && !g->reason[0])
            snprintf(g->reason, sizeof(g->reason), "region image: failed");
        if (g->ok) {
            qr_block nb = *g->got;
            const qr_block *old = &lay->blocks[g->blk];
            nb.page = old->page;
            nb.page_end = old->page_end;
            nb.bbox = g->bbox_text;
            nb.parts = NULL;
            nb.n_parts = 0;
            nb.source = QR_SRC_VLM;
            nb.conf = -1.0f;
            nb.caption = old->caption;
            nb.image = NULL;
            lay->blocks[g->blk] = nb;
            for (int b = g->blk + 1; owner && b < lay->n_blocks; b++)
                if (owner[b] == i + 1)
                    removed[b] = 1; /* the formula's other pieces: in the one block now */
        }
        n_ok += g->ok;
        n_fb += !g->ok;
        json_array_append_new(arr, region_json(g));
        log_region(doc, base, pg->number, g);
    }
    char whyp[96];
    snprintf(whyp, sizeof(whyp), "--vlm %s: %d %s region%s", tables ? "tables" : "formulas", n,
             what, n == 1 ? "" : "s");
    json_t *pj = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o}", "outcome", n_fb ? "fallback" : "ok",
                           "task", "regions", "why", whyp, "n_ok", n_ok, "n_fallback", n_fb,
                           "regions", arr);
    set_page_json(res, idx, pj);
    for (int i = 0; i < n; i++) {
        qr_free(rg[i].png);
        qr_vlm_result_free(&rg[i].r);
        if (rg[i].vp && keep->n < keep->cap)
            keep->vp[keep->n++] = rg[i].vp; /* its blocks are in the layout now */
        else
            qr_vlm_page_free(rg[i].vp);
    }
    qr_free(rg);
    qr_free(cand);
}

int qr_cv_vlm_region_mode(const qr_cv_doc *doc)
{
    return doc && doc->vlm &&
           (doc->vlm_mode == QUIRE_VLM_TABLES || doc->vlm_mode == QUIRE_VLM_FORMULAS);
}

quire_status qr_cv_vlm_regions(qr_cv_doc *doc, qr_layout *lay, const qr_page *const *pages,
                               int n, quire_convert_result *res, qr_cv_region_keep *keep)
{
    if (!qr_cv_vlm_region_mode(doc))
        return QUIRE_OK;
    if (!res->page_vlm)
        res->page_vlm = qr_calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    if (!res->page_vlm)
        return QUIRE_NOMEM;
    keep->cap = 0;
    for (int b = 0; b < lay->n_blocks; b++)
        keep->cap += lay->blocks[b].type == QR_BLK_TABLE || lay->blocks[b].type == QR_BLK_PARAGRAPH;
    keep->n = 0;
    keep->vp = keep->cap ? qr_calloc((size_t)keep->cap, sizeof(*keep->vp)) : NULL;
    if (keep->cap && !keep->vp)
        return QUIRE_NOMEM;
    const char *base = strrchr(doc->path, '/');
    base = base ? base + 1 : doc->path;
    unsigned char *removed = qr_calloc((size_t)(lay->n_blocks > 0 ? lay->n_blocks : 1), 1);
    if (!removed)
        return QUIRE_NOMEM;
    qr_pdf *pdf = NULL;
    quire_error err = {0};
    quire_status st = qr_pdf_open(doc->path, &pdf, &err);
    for (int i = 0; i < n; i++) {
        const qr_page *pg = pages[i];
        if (!pg || res->reports[i].method == QUIRE_METHOD_FAILED ||
            res->reports[i].method == QUIRE_METHOD_VLM || doc->abort)
            continue;
        if (st != QUIRE_OK) { /* every page keeps its text layer; the report says why */
            char why[300];
            qr_vlm_fmt(why, sizeof(why), "cannot open the document for region images: %s",
                       err.msg);
            set_page_json(res, i, json_pack("{s:s, s:s, s:s}", "outcome", "fallback", "task",
                                            "regions", "reason", why));
            continue;
        }
        do_page(doc, pdf, lay, pg, i, res, keep, base, removed);
    }
    qr_pdf_close(pdf);
    int k = 0;
    for (int b = 0; b < lay->n_blocks; b++)
        if (!removed[b])
            lay->blocks[k++] = lay->blocks[b];
    lay->n_blocks = k;
    qr_free(removed);
    return QUIRE_OK;
}

void qr_cv_region_keep_free(qr_cv_region_keep *keep)
{
    for (int i = 0; i < keep->n; i++)
        qr_vlm_page_free(keep->vp[i]);
    qr_free(keep->vp);
    memset(keep, 0, sizeof(*keep));
}
