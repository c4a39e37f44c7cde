/*
 * tess_page.c — recognise one page image with Tesseract and turn its result into a
 * qr_page (core/page.h): one qr_tblock per Tesseract paragraph, one qr_line per text
 * line, one qr_word per word, in Tesseract's reading order, with boxes scaled from
 * pixels to PDF points. The result is walked twice: once to count (so that every
 * array comes from the arena in one piece, with no reallocation) and once to fill.
 * Image, rule and noise blocks are skipped, as Tesseract's own text output does.
 */
#include <string.h>

#include "ocr_int.h"

#include "tess_dl.h"

/* The box of a text line (top of the ascenders to the bottom of the descenders) is
 * about this many font sizes high for Latin text; used to estimate the font size. */
#define LINE_HEIGHT_PER_EM 0.92f

typedef struct walk {
    /* pass 1 counts these; pass 2 checks against them */
    int n_blocks, n_lines, n_words;
    size_t text_bytes;
    /* pass 2 only (page == NULL during pass 1) */
    qr_page *page;
    qr_line *lines;  /* n_lines, shared by the blocks */
    qr_word *words;  /* n_words, shared by the lines */
    char *text;      /* text_bytes */
    int i_block, i_line, i_word;
    size_t i_text;
    float sx, sy;        /* points per pixel */
    float line_size;     /* font size estimate of the current line */
    double conf_sum;
    double line_area;    /* points^2 */
    long n_bad_chars;
    long n_chars;
} walk;

static int is_text_block(TessPolyBlockType type)
{
    switch (type) {
    case PT_FLOWING_IMAGE:
    case PT_HEADING_IMAGE:
    case PT_PULLOUT_IMAGE:
    case PT_HORZ_LINE:
    case PT_VERT_LINE:
    case PT_NOISE:
        return 0;
    default:
        return 1;
    }
}

/* A word worth keeping: not NULL, not only spaces. */
static int has_ink(const char *text)
{
    if (!text)
        return 0;
    for (const char *p = text; *p; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return 1;
    }
    return 0;
}

static qr_bbox box_at(const walk *w, const TessPageIterator *pi, TessPageIteratorLevel level)
{
    int l = 0;
    int t = 0;
    int r = 0;
    int b = 0;
    qr_bbox box;
    TessPageIteratorBoundingBox(pi, level, &l, &t, &r, &b);
    box.x0 = (float)l * w->sx;
    box.y0 = (float)t * w->sy;
    box.x1 = (float)r * w->sx;
    box.y1 = (float)b * w->sy;
    return box;
}

/* Count code points and "bad" characters (U+FFFD, private use, C0/C1 controls). */
static void count_chars(walk *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int n = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3; /* continuation bytes */
        unsigned cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
        for (int i = 0; i < n && (*p & 0xc0) == 0x80; i++)
            cp = (cp << 6) | (*p++ & 0x3f);
        w->n_chars++;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xfffd ||
            (cp >= 0xe000 && cp < 0xf900))
            w->n_bad_chars++;
    }
}

static void open_block(walk *w, const TessPageIterator *pi)
{
    if (w->page) {
        qr_tblock *blk = &w->page->blocks[w->i_block++];
        blk->kind = QR_BLOCK_TEXT;
        blk->bbox = box_at(w, pi, RIL_PARA);
        blk->lines = w->lines + w->i_line;
        blk->n_lines = 0;
    } else {
        w->n_blocks++;
    }
}

static void open_line(walk *w, const TessPageIterator *pi)
{
    if (w->page) {
        qr_line *line = &w->lines[w->i_line++];
        line->bbox = box_at(w, pi, RIL_TEXTLINE);
        line->words = w->words + w->i_word;
        line->n_words = 0;
        line->dir_x = 1.0f;
        line->dir_y = 0.0f;
        line->baseline = 0.0f; /* unknown: layout groups OCR lines by their boxes */
        w->page->blocks[w->i_block - 1].n_lines++;
        w->line_size = (line->bbox.y1 - line->bbox.y0) / LINE_HEIGHT_PER_EM;
        w->line_area += (double)(line->bbox.x1 - line->bbox.x0) * (line->bbox.y1 - line->bbox.y0);
    } else {
        w->n_lines++;
    }
}

static int font_flags(const TessResultIterator *ri)
{
    BOOL bold = 0, italic = 0, underlined = 0, mono = 0, serif = 0, smallcaps = 0;
    int pointsize = 0;
    int font_id = 0;
    int flags = 0;
    /* the LSTM engine usually has no font information: NULL then */
    const char *name = TessResultIteratorWordFontAttributes(ri, &bold, &italic, &underlined,
                                                            &mono, &serif, &smallcaps,
                                                            &pointsize, &font_id);
    if (!name)
        return 0;
    flags |= bold ? QR_FONT_BOLD : 0;
    flags |= italic ? QR_FONT_ITALIC : 0;
    flags |= mono ? QR_FONT_MONO : 0;
    flags |= serif ? QR_FONT_SERIF : 0;
    return flags;
}

static void add_word(walk *w, const TessResultIterator *ri, const TessPageIterator *pi,
                     const char *text)
{
    size_t len = strlen(text);
    if (!w->page) {
        w->n_words++;
        w->text_bytes += len + 1;
        return;
    }
    qr_word *word = &w->words[w->i_word++];
    char *dst = w->text + w->i_text;
    memcpy(dst, text, len + 1);
    w->i_text += len + 1;
    word->text = dst;
    word->len = len;
    word->bbox = box_at(w, pi, RIL_WORD);
    word->size = w->line_size;
    word->flags = font_flags(ri);
    word->font = "";
    word->conf = TessResultIteratorConfidence(ri, RIL_WORD);
    w->conf_sum += word->conf;
    w->lines[w->i_line - 1].n_words++;
    count_chars(w, text);
}

/* Would pass 2 write past what pass 1 counted? (It never should: the iterator is
 * deterministic. Checked so that a surprise costs words, not memory safety.) */
static int full(const walk *w, int new_block, int new_line)
{
    if (!w->page)
        return 0;
    return w->i_word >= w->n_words || (new_block && w->i_block >= w->n_blocks) ||
           (new_line && w->i_line >= w->n_lines) || w->i_text >= w->text_bytes;
}

/* One pass over the words in reading order (count when w->page is NULL, else fill). */
static void walk_result(TessResultIterator *ri, walk *w)
{
    TessPageIterator *pi = TessResultIteratorGetPageIterator(ri);
    int new_block = 1;
    int new_line = 1;
    int skip_block = 0;
    do {
        if (TessPageIteratorIsAtBeginningOf(pi, RIL_BLOCK))
            skip_block = !is_text_block(TessPageIteratorBlockType(pi));
        if (TessPageIteratorIsAtBeginningOf(pi, RIL_PARA))
            new_block = 1;
        if (TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE))
            new_line = 1;
        if (skip_block)
            continue;
        char *text = TessResultIteratorGetUTF8Text(ri, RIL_WORD);
        if (has_ink(text) && !full(w, new_block, new_line || new_block)) {
            if (new_block) {
                open_block(w, pi);
                new_line = 1;
            }
            if (new_line)
                open_line(w, pi);
            new_block = 0;
            new_line = 0;
            add_word(w, ri, pi, text);
        }
        if (text)
            TessDeleteText(text);
    } while (TessResultIteratorNext(ri, RIL_WORD));
}

/* Median word size of a block's lines (first 64 lines). */
static float median_line_size(const qr_tblock *blk)
{
    float v[64];
    int n = 0;
    for (int l = 0; l < blk->n_lines && n < 64; l++) {
        float x = blk->lines[l].words[0].size;
        int i = n++;
        for (; i > 0 && v[i - 1] > x; i--)
            v[i] = v[i - 1];
        v[i] = x;
    }
    return n ? v[n / 2] : 0.0f;
}

/* A line with neither ascenders nor descenders ("were", "a.") has a short box and would
 * look like small print: inside a paragraph of several lines it takes the paragraph's
 * median size instead. */
static void fix_short_lines(qr_page *page)
{
    for (int b = 0; b < page->n_blocks; b++) {
        qr_tblock *blk = &page->blocks[b];
        if (blk->n_lines < 2)
            continue;
        float median = median_line_size(blk);
        for (int l = 0; l < blk->n_lines; l++) {
            qr_line *line = &blk->lines[l];
            if (line->words[0].size >= 0.85f * median)
                continue;
            for (int w = 0; w < line->n_words; w++)
                line->words[w].size = median;
        }
    }
}

/* Allocate the page's arrays from the arena for what pass 1 counted. */
static quire_status alloc_page(walk *w, qr_arena *arena, qr_page *page, quire_error *err)
{
    if (w->n_words == 0)
        return QUIRE_OK;
    page->blocks = qr_arena_alloc(arena, sizeof(qr_tblock) * (size_t)w->n_blocks);
    w->lines = qr_arena_alloc(arena, sizeof(qr_line) * (size_t)w->n_lines);
    w->words = qr_arena_alloc(arena, sizeof(qr_word) * (size_t)w->n_words);
    w->text = qr_arena_alloc(arena, w->text_bytes);
    if (!page->blocks || !w->lines || !w->words || !w->text) {
        page->blocks = NULL;
        return qr_err(err, QUIRE_LIMIT, "page arena full (%zu bytes) for %d OCR words",
                      arena->cap, w->n_words);
    }
    w->page = page;
    return QUIRE_OK;
}

/* Walk the recognised result into page (both passes). */
static quire_status collect(TessBaseAPI *api, qr_arena *arena, qr_page *page, walk *w,
                            quire_error *err)
{
    TessResultIterator *ri = TessBaseAPIGetIterator(api);
    quire_status rc;
    if (!ri)
        return QUIRE_OK; /* nothing recognised: an empty page */
    walk_result(ri, w);
    rc = alloc_page(w, arena, page, err);
    if (rc == QUIRE_OK && w->page) {
        TessResultIterator *ri2 = TessBaseAPIGetIterator(api);
        if (ri2) {
            walk_result(ri2, w);
            TessResultIteratorDelete(ri2);
        }
        page->n_blocks = w->i_block;
        fix_short_lines(page);
    }
    TessResultIteratorDelete(ri);
    return rc;
}

static bool cancel_cb(void *cancel_this, int words)
{
    const volatile int *flag = cancel_this;
    (void)words;
    return flag && *flag;
}

static quire_status check_image(const qr_image *img, quire_error *err)
{
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return qr_err(err, QUIRE_INVALID_ARG, "OCR: empty page image");
    if (img->width > QR_OCR_MAX_SIDE || img->height > QR_OCR_MAX_SIDE)
        return qr_err(err, QUIRE_LIMIT, "OCR: page image %dx%d exceeds %d pixels a side",
                      img->width, img->height, QR_OCR_MAX_SIDE);
    return QUIRE_OK;
}

/* Reset the fields this module owns; number and rotation stay the caller's. */
static void page_init(qr_page *page, float page_w, float page_h)
{
    int number = page->number;
    int rotation = page->rotation;
    memset(page, 0, sizeof(*page));
    page->number = number;
    page->rotation = rotation;
    page->width = page_w;
    page->height = page_h;
    page->source = QR_SRC_OCR;
}

static void page_stats(qr_page *page, const walk *w)
{
    double area = (double)page->width * page->height;
    page->n_chars = w->n_chars;
    page->n_bad_chars = w->n_bad_chars;
    page->text_coverage = area > 0 ? (float)(w->line_area / area) : 0.0f;
    if (page->text_coverage > 1.0f)
        page->text_coverage = 1.0f;
    page->image_coverage = 0.0f;
    page->mean_conf = w->i_word > 0 ? (float)(w->conf_sum / w->i_word) : 0.0f;
}

/* Run layout analysis + recognition with a cancel monitor. */
static quire_status recognize(TessBaseAPI *api, volatile int *abort_flag, quire_error *err)
{
    ETEXT_DESC *monitor = TessMonitorCreate();
    int rc;
    if (!monitor)
        return qr_err(err, QUIRE_NOMEM, "OCR: cannot create a progress monitor");
    TessMonitorSetCancelFunc(monitor, cancel_cb);
    TessMonitorSetCancelThis(monitor, (void *)abort_flag);
    rc = TessBaseAPIRecognize(api, monitor);
    TessMonitorDelete(monitor);
    if (abort_flag && *abort_flag)
        return qr_err(err, QUIRE_CANCELLED, "OCR cancelled");
    if (rc != 0)
        return qr_err(err, QUIRE_ERROR, "Tesseract failed to recognise the page");
    return QUIRE_OK;
}

quire_status qr_ocr_page(qr_ocr *ocr, const qr_image *img, float page_w, float page_h,
                         qr_arena *arena, qr_page *page, volatile int *abort_flag,
                         quire_error *err)
{
    return qr_ocr_page_ex(ocr, img, page_w, page_h, 0, arena, page, abort_flag, err);
}

quire_status qr_ocr_page_ex(qr_ocr *ocr, const qr_image *img, float page_w, float page_h,
                            int flags, qr_arena *arena, qr_page *page,
                            volatile int *abort_flag, quire_error *err)
{
    walk w;
    quire_status rc;
    int dpi;
    if (!ocr || !arena || !page)
        return qr_err(err, QUIRE_INVALID_ARG, "OCR: NULL handle, arena or page");
    rc = check_image(img, err);
    if (rc != QUIRE_OK)
        return rc;
    dpi = img->dpi > 0 ? img->dpi : 300;
    if (!(page_w > 0.0f) || !(page_h > 0.0f)) {
        page_w = (float)img->width * 72.0f / (float)dpi;
        page_h = (float)img->height * 72.0f / (float)dpi;
    }
    page_init(page, page_w, page_h);
    if (abort_flag && *abort_flag)
        return qr_err(err, QUIRE_CANCELLED, "OCR cancelled");
    qr_ocr_limit_threads();
    /* upright and straight first (tess_orient.c): a turned page swaps its sides */
    qr_image view = *img;
    int owned = 0;
    qr_ocr_orient orient;
    qr_ocr_orient_image(ocr, &view, &owned, !(flags & QR_OCR_NO_OSD), &orient);
    if (orient.rotation == 90 || orient.rotation == 270) {
        float t = page_w;
        page_w = page_h;
        page_h = t;
        page_init(page, page_w, page_h);
    }
    memset(&w, 0, sizeof(w));
    w.sx = page_w / (float)view.width;
    w.sy = page_h / (float)view.height;
    TessBaseAPISetImage(ocr->api, view.pixels, view.width, view.height, 1, view.width);
    TessBaseAPISetSourceResolution(ocr->api, dpi);
    rc = recognize(ocr->api, abort_flag, err);
    if (rc == QUIRE_OK)
        rc = collect(ocr->api, arena, page, &w, err);
    /* drop the image and results so the handle does not grow from page to page, and the
     * adaptive classifier's learned shapes, so every page is recognised as a fresh
     * tesseract run would (page order cannot change the text) and memory stays flat */
    TessBaseAPIClear(ocr->api);
    TessBaseAPIClearAdaptiveClassifier(ocr->api);
    if (owned)
        qr_free(view.pixels);
    if (rc != QUIRE_OK) {
        page_init(page, page_w, page_h);
        return rc;
    }
    page_stats(page, &w);
    page->text_rotation = orient.rotation;
    page->osd_conf = orient.osd_conf;
    page->skew = orient.skew;
    return QUIRE_OK;
}
