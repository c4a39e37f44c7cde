/*
 * inserts.c — text drawn as pixels inside a text-layer page: a scanned letter pasted into
 * a report, a screenshot of a page, a figure whose labels are part of the picture. The
 * text layer does not have these words; OCR of the image regions adds them, as blocks of
 * their own (source "ocr") that layout puts into reading order like any other block.
 *
 * Cost is what decides the design: most images of born-digital documents are photos,
 * plots and logos, and Tesseract costs 0.2-3 s per region. So a region is OCR'd only
 * after cheap screens, in this order:
 *  1. geometry (qr_cv_insert_regions): image blocks of the text layer, touching ones
 *     merged (a scan drawn as strips is one region), at least INSERT_MIN_W x INSERT_MIN_H
 *     points, images of at least INSERT_MIN_PX pixels on their short side and
 *     INSERT_MIN_DPI pixels per inch (coarser glyphs cannot be read), and not under the
 *     text layer: a region of which text-layer lines cover more than INSERT_MAX_COVER is a
 *     background, or a scan that already has an (invisible) OCR text layer. These are the
 *     page's "inserts" (report), found from the text layer alone, without rendering.
 *  2. text-likeness (text_like): the region rendered at the OCR resolution, one pass
 *     over its pixels. Printed or scanned text is two-tone (ink on paper, few mid-tone
 *     pixels), has some ink but not much, rows of short strokes (many ink runs per row)
 *     and blank gaps between its lines. Photos fail on mid-tones, plots and line
 *     drawings on stroke density, empty frames on ink. --strategy hi_res skips this test
 *     (every insert is OCR'd).
 *  3. Tesseract on the region alone; its lines whose centre lies on a text-layer line are
 *     dropped (a label set over the picture is read once), and a region whose words'
 *     mean confidence is below INSERT_MIN_CONF is dropped whole (a photo or a pattern
 *     read as text gives 20-45, print 80-95).
 * A region that gave text is counted in inserts_ocr. Its image block stays (it may still be
 * a figure, figures.c, which leaves these words in the flow). Nothing here fails a page:
 * an error leaves the page as it was.
 */
#include <stdio.h>
#include <string.h>

#include "convert_int.h"

#define INSERT_MIN_W 72.0f    /* points: one inch wide ... */
#define INSERT_MIN_H 18.0f    /* ... and a quarter of an inch high (one line of 12 pt) */
#define INSERT_MIN_PX 24      /* pixels on the image's short side */
#define INSERT_MIN_DPI 60.0f  /* image pixels per inch as drawn */
#define INSERT_MAX_COVER 0.10f /* share of the region under text-layer lines */
#define INSERT_MAX_IMAGES 256 /* image blocks looked at per page (the rest are ignored) */
#define INSERT_MIN_CONF 60.0f /* mean word confidence of a region's OCR */

static float box_area(qr_bbox b)
{
    float w = b.x1 - b.x0, h = b.y1 - b.y0;
    return w > 0 && h > 0 ? w * h : 0.0f;
}

static qr_bbox box_and(qr_bbox a, qr_bbox b)
{
    return (qr_bbox){QR_MAX(a.x0, b.x0), QR_MAX(a.y0, b.y0), QR_MIN(a.x1, b.x1),
                     QR_MIN(a.y1, b.y1)};
}

static qr_bbox box_or(qr_bbox a, qr_bbox b)
{
    return (qr_bbox){QR_MIN(a.x0, b.x0), QR_MIN(a.y0, b.y0), QR_MAX(a.x1, b.x1),
                     QR_MAX(a.y1, b.y1)};
}

static int touch(qr_bbox a, qr_bbox b)
{
    const float slack = 1.0f; /* points: strips of one scan abut, rounded */
    return a.x0 <= b.x1 + slack && b.x0 <= a.x1 + slack && a.y0 <= b.y1 + slack &&
           b.y0 <= a.y1 + slack;
}

/* An image fine enough to hold readable glyphs (unknown pixel size: assumed so). */
static int image_fine(const qr_tblock *b)
{
    if (b->img_w <= 0 || b->img_h <= 0)
        return 1;
    float w = b->bbox.x1 - b->bbox.x0, h = b->bbox.y1 - b->bbox.y0;
    if (QR_MIN(b->img_w, b->img_h) < INSERT_MIN_PX || w <= 0 || h <= 0)
        return 0;
    return (float)b->img_w * 72.0f / w >= INSERT_MIN_DPI &&
           (float)b->img_h * 72.0f / h >= INSERT_MIN_DPI;
}

/* Share of r under the text layer's lines. */
static float text_cover(const qr_page *pg, qr_bbox r)
{
    double a = 0;
    for (int i = 0; i < pg->n_blocks; i++) {
        const qr_tblock *tb = &pg->blocks[i];
        if (tb->kind != QR_BLOCK_TEXT || box_area(box_and(tb->bbox, r)) <= 0)
            continue;
        for (int l = 0; l < tb->n_lines; l++)
            a += box_area(box_and(tb->lines[l].bbox, r));
    }
    float ra = box_area(r);
    return ra > 0 ? (float)(a / ra) : 1.0f;
}

/* The image's own resolution as drawn (pixels per inch), 0 when unknown. */
static float image_dpi(const qr_tblock *b)
{
    float w = b->bbox.x1 - b->bbox.x0;
    return b->img_w > 0 && w > 0 ? (float)b->img_w * 72.0f / w : 0.0f;
}

int qr_cv_insert_regions(const qr_page *pg, qr_bbox *out, float *dpi, int cap)
{
    qr_bbox box[INSERT_MAX_IMAGES];
    float res[INSERT_MAX_IMAGES];
    int n = 0;
    qr_bbox page = {0, 0, pg->width, pg->height};
    for (int i = 0; i < pg->n_blocks && n < INSERT_MAX_IMAGES; i++) {
        const qr_tblock *b = &pg->blocks[i];
        if (b->kind == QR_BLOCK_IMAGE && image_fine(b) && box_area(box_and(b->bbox, page)) > 0) {
            res[n] = image_dpi(b);
            box[n++] = box_and(b->bbox, page);
        }
    }
    /* merge touching images until none touch (n is small: quadratic is fine) */
    for (int merged = 1; merged;) {
        merged = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (touch(box[i], box[j])) {
                    box[i] = box_or(box[i], box[j]);
                    res[i] = QR_MAX(res[i], res[j]);
                    res[j] = res[n - 1];
                    box[j--] = box[--n];
                    merged = 1;
                }
    }
    int k = 0;
    for (int i = 0; i < n && k < cap; i++)
        if (box[i].x1 - box[i].x0 >= INSERT_MIN_W && box[i].y1 - box[i].y0 >= INSERT_MIN_H &&
            text_cover(pg, box[i]) <= INSERT_MAX_COVER) {
            dpi[k] = res[i];
            out[k++] = box[i];
        }
    return k;
}

/* ---- text-likeness ------------------------------------------------------------------ */

/* Thresholds of text_like, from the corpus' scanned pages (mild to moderate degradation,
 * 150-300 dpi, rendered at 300) against the photos, plots and diagrams of its born pages. */
#define TL_MIN_CONTRAST 80    /* grey levels between Otsu's ink and paper means */
#define TL_MIN_INK 0.003      /* share of ink pixels ... */
#define TL_MAX_INK 0.25       /* ... */
#define TL_MAX_MID 0.30       /* share of mid-tone pixels (64..191) */
#define TL_MIN_RUNS 1.0       /* ink runs per 100 pixels of the rows that have ink */
#define TL_ONE_LINE 0.5       /* inches: inked height up to which one line is all there is */
#define TL_MIN_GAPS 0.05      /* share of rows (inside a strip's inked span) without ink */
#define TL_STRIP 256          /* pixels: strip width for the gaps (1.3 degrees of skew: 6 px) */

/* Otsu's threshold of a 256-bin histogram. */
static int otsu(const size_t hist[256], size_t n)
{
    double sum = 0;
    for (int i = 0; i < 256; i++)
        sum += (double)i * (double)hist[i];
    double sum_b = 0, best = -1;
    size_t w_b = 0;
    int t = 128;
    for (int i = 0; i < 256; i++) {
        w_b += hist[i];
        if (w_b == 0)
            continue;
        size_t w_f = n - w_b;
        if (w_f == 0)
            break;
        sum_b += (double)i * (double)hist[i];
        double m_b = sum_b / (double)w_b, m_f = (sum - sum_b) / (double)w_f;
        double v = (double)w_b * (double)w_f * (m_b - m_f) * (m_b - m_f);
        if (v > best) {
            best = v;
            t = i;
        }
    }
    return t;
}

/* Does the rendered region look like text? why: the failed test, for the reason line. */
static int text_like(const qr_image *img, const char **why)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++)
        hist[img->pixels[i]]++;
    int t = otsu(hist, n);
    double ink = 0, ink_sum = 0, paper_sum = 0, mid = 0;
    for (int i = 0; i < 256; i++) {
        if (i <= t) {
            ink += (double)hist[i];
            ink_sum += (double)i * (double)hist[i];
        } else {
            paper_sum += (double)i * (double)hist[i];
        }
        if (i >= 64 && i < 192)
            mid += (double)hist[i];
    }
    if (ink <= 0 || ink >= (double)n) {
        *why = "blank";
        return 0;
    }
    double contrast = paper_sum / ((double)n - ink) - ink_sum / ink;
    /* ink runs per row; and per vertical strip (narrow enough that a skewed scan's lines
     * stay apart in it), the rows without ink between its first and last inked row */
    enum { MAX_STRIPS = 64 };
    int sw = QR_MAX(TL_STRIP, (img->width + MAX_STRIPS - 1) / MAX_STRIPS);
    int n_strips = (img->width + sw - 1) / sw;
    int first[MAX_STRIPS], pend[MAX_STRIPS];
    long span = 0, empty = 0, inked_rows = 0;
    int top = -1, bottom = -1;
    size_t runs = 0;
    for (int k = 0; k < n_strips; k++)
        first[k] = -1, pend[k] = 0;
    for (int y = 0; y < img->height; y++) {
        const unsigned char *row = img->pixels + (size_t)y * (size_t)img->width;
        int row_ink = 0;
        for (int k = 0; k < n_strips; k++) {
            int x1 = QR_MIN(img->width, (k + 1) * sw), any = 0;
            int prev = k > 0 && row[k * sw - 1] <= t;
            for (int x = k * sw; x < x1; x++) {
                int on = row[x] <= t;
                runs += (size_t)(on && !prev);
                any |= on;
                prev = on;
            }
            if (!any) {
                pend[k] += first[k] >= 0; /* counted once a later row has ink */
                continue;
            }
            if (first[k] < 0)
                first[k] = y;
            span += 1 + pend[k];
            empty += pend[k];
            pend[k] = 0;
            row_ink = 1;
        }
        if (row_ink) {
            inked_rows++;
            bottom = y;
            if (top < 0)
                top = y;
        }
    }
    double density = inked_rows ? (double)runs * 100.0 / ((double)inked_rows * img->width) : 0;
    double gaps = span > 0 ? (double)empty / (double)span : 0.0;
    /* one line of text has no gap: asked for only where there is room for two */
    int tall = bottom - top + 1 > (int)(TL_ONE_LINE * (img->dpi > 0 ? img->dpi : 300));
    *why = contrast < TL_MIN_CONTRAST ? "low contrast"
         : ink < TL_MIN_INK * (double)n || ink > TL_MAX_INK * (double)n ? "ink share"
         : mid > TL_MAX_MID * (double)n ? "mid-tones (a photo)"
         : density < TL_MIN_RUNS ? "few strokes"
         : tall && gaps < TL_MIN_GAPS ? "no line gaps" : NULL;
    return *why == NULL;
}

/* ---- merging the OCR'd lines ----------------------------------------------------- */

static int centre_in(qr_bbox r, qr_bbox b)
{
    float cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
    return cx >= r.x0 && cx <= r.x1 && cy >= r.y0 && cy <= r.y1;
}

static int on_text_layer(const qr_page *pg, int n_text_blocks, qr_bbox b)
{
    for (int i = 0; i < n_text_blocks; i++) {
        const qr_tblock *tb = &pg->blocks[i];
        if (tb->kind != QR_BLOCK_TEXT || !centre_in(tb->bbox, b))
            continue;
        for (int l = 0; l < tb->n_lines; l++)
            if (centre_in(tb->lines[l].bbox, b))
                return 1;
    }
    return 0;
}

static void shift(qr_bbox *b, float dx, float dy)
{
    b->x0 += dx;
    b->x1 += dx;
    b->y0 += dy;
    b->y1 += dy;
}

/* The lines of ocr (a region's OCR, in points from the region's corner at dx, dy) that
 * are not on the text layer, moved onto the page, as text blocks appended to pg->blocks
 * (room for ocr->n_blocks more). Returns the lines added; 0 (nothing added) when their
 * words' mean confidence is below INSERT_MIN_CONF. */
static int add_lines(qr_page *pg, int n_text_blocks, qr_page *ocr, float dx, float dy)
{
    double conf = 0;
    int n_words = 0, n_lines = 0, nb = pg->n_blocks;
    for (int i = 0; i < ocr->n_blocks; i++) {
        qr_tblock *ob = &ocr->blocks[i];
        int keep = 0;
        for (int l = 0; l < ob->n_lines; l++) {
            qr_line ln = ob->lines[l];
            shift(&ln.bbox, dx, dy);
            if (ln.n_words <= 0 || on_text_layer(pg, n_text_blocks, ln.bbox))
                continue;
            for (int k = 0; k < ln.n_words; k++) {
                shift(&ln.words[k].bbox, dx, dy);
                conf += ln.words[k].conf;
                n_words++;
            }
            ob->lines[keep++] = ln;
        }
        if (!keep)
            continue;
        qr_tblock *b = &pg->blocks[nb++];
        memset(b, 0, sizeof(*b));
        b->kind = QR_BLOCK_TEXT;
        b->lines = ob->lines;
        b->n_lines = keep;
        b->bbox = ob->lines[0].bbox;
        for (int l = 1; l < keep; l++)
            b->bbox = box_or(b->bbox, ob->lines[l].bbox);
        n_lines += keep;
    }
    if (!n_words || conf / n_words < INSERT_MIN_CONF)
        return 0;
    for (int i = pg->n_blocks; i < nb; i++)
        for (int l = 0; l < pg->blocks[i].n_lines; l++)
            for (int k = 0; k < pg->blocks[i].lines[l].n_words; k++)
                pg->n_chars += (long)pg->blocks[i].lines[l].words[k].len;
    pg->n_blocks = nb;
    return n_lines;
}

#define INSERT_MAX_REGIONS 16 /* regions OCR'd per page */
#define INSERT_MAX_DPI 600.0f

int qr_cv_inserts(qr_cv_worker *w, qr_cv_doc *doc, qr_pdf *pdf, qr_page *pg, int *n_inserts,
                  char *reason, size_t cap)
{
    qr_bbox r[INSERT_MAX_REGIONS];
    float native[INSERT_MAX_REGIONS];
    *n_inserts = 0;
    if (pg->text_rotation != 0)
        return 0;
    int n = qr_cv_insert_regions(pg, r, native, INSERT_MAX_REGIONS);
    *n_inserts = n;
    if (!n)
        return 0;
    int done = 0, failed = 0;
    int base = doc->dpi > 0 ? doc->dpi : 300;
    for (int i = 0; i < n && !doc->abort; i++) {
        quire_error err = {0};
        qr_image img;
        /* a scan drawn smaller than its own size is read at its own resolution (its glyphs
         * as scanned), up to INSERT_MAX_DPI */
        int dpi = native[i] > (float)base ? (int)QR_MIN(native[i], INSERT_MAX_DPI) : base;
        if (qr_pdf_render_region_gray(pdf, pg->number, r[i], dpi, &img, &doc->abort, &err) !=
            QUIRE_OK) {
            failed++;
            continue;
        }
        const char *why = NULL;
        if (doc->regions == 1 && !text_like(&img, &why)) {
            qr_image_free(&img);
            continue;
        }
        qr_page ocr;
        size_t mark = w->scratch.used;
        quire_status st = qr_cv_worker_ocr(w, doc, &err);
        if (st == QUIRE_OK)
            st = qr_ocr_page_ex(w->ocr, &img, r[i].x1 - r[i].x0, r[i].y1 - r[i].y0,
                                QR_OCR_NO_OSD, &w->scratch, &ocr, &doc->abort, &err);
        qr_image_free(&img);
        if (st != QUIRE_OK) {
            failed++;
            continue;
        }
        /* room for the new blocks after the page's own */
        qr_tblock *blocks = ocr.text_rotation == 0 && ocr.n_blocks > 0
            ? qr_arena_alloc(&w->scratch, (size_t)(pg->n_blocks + ocr.n_blocks) *
                                              sizeof(qr_tblock))
            : NULL;
        if (!blocks) {
            w->scratch.used = mark; /* a turned insert (OSD) or nothing read */
            continue;
        }
        memcpy(blocks, pg->blocks, (size_t)pg->n_blocks * sizeof(qr_tblock));
        qr_tblock *old = pg->blocks;
        pg->blocks = blocks;
        if (!add_lines(pg, pg->n_blocks, &ocr, r[i].x0, r[i].y0)) {
            pg->blocks = old;
            w->scratch.used = mark;
            continue;
        }
        done++;
    }
    if (failed) {
        size_t len = strlen(reason);
        snprintf(reason + len, cap - len, " (OCR of %d image region%s failed)", failed,
                 failed > 1 ? "s" : "");
    }
    return done;
}
