/*
 * figures.c — figure blocks (QR_BLK_FIGURE) after the text blocks are final.
 *
 * A figure is
 *  - an embedded image (an image block of the text layer) drawn at least
 *    QR_FIG_MIN_SIDE points wide and high and covering QR_FIG_MIN_AREA of the page or
 *    more: smaller ones are logos, icons, bullets and the 1x1 images TeX drivers stretch
 *    into rules; one covering QR_FIG_MAX_AREA or more is a page background or a scan, not
 *    a figure. An image lying inside another one (a composite) is not a figure of its own;
 *  - a vector drawing (qr_page.drawings: the page's painted paths, grouped) of the same
 *    minimum size with a figure caption ("Figure 3", "Fig. 3", "Abbildung 3", ...) just
 *    below or above it;
 *  - without a caption, a drawing with curves or slanted lines in three paths or more
 *    (qr_page.n_shaped_drawings: a plot, a diagram) that overlaps no table and holds no
 *    body text: one of axis-aligned lines and boxes only is as likely a boxed listing, a
 *    table's grid, a frame or a decoration, and is left alone.
 * Its caption is the nearest figure caption block of its page that lies below (or, less
 * preferred, above) it within FIG_CAPTION_GAP points and overlaps it horizontally; each
 * caption goes to one figure. The text blocks that lie inside the figure (axis labels,
 * legends, callouts drawn as text) move into the figure's text, so Markdown's flow is not
 * cut by them while JSON keeps them (and Markdown keeps them as a comment, for search);
 * not the words OCR'd from the figure's own pixels (src/convert/inserts.c), which are text.
 * The figure goes into reading order just before a caption below it (after one above
 * it), else where its first label was, else before the first block of its page that
 * starts below its top edge in the same column, else at the end of its page.
 */
#include <stdlib.h>
#include <string.h>

#include "layout/layout_int.h"

#define FIG_CAPTION_GAP 72.0f  /* points between a figure and its caption */
#define FIG_ABOVE_PENALTY 18.0f /* a caption above is taken only when clearly nearer */
#define FIG_INSIDE 0.8f        /* share of a text block's area inside a figure to move it */
#define FIG_LABEL_MAX 400      /* bytes: longer text blocks are body text, never labels */
#define FIG_GROW_MAX 2.5f      /* a drawing round one image: at most this times its area */
#define FIG_TICK_GAP 8.0f      /* a short label this close outside a drawing is its own */
#define FIG_TICK_MAX 40        /* bytes: tick labels and axis titles are short */

typedef struct fig {
    int page_no;
    qr_bbox bb;
    int vector;  /* from drawings: needs a caption unless shaped */
    int shaped;  /* a drawing with curves or slanted lines (qr_page.n_shaped_drawings) */
    int cap;     /* caption block index, -1 = none */
    int first;   /* first moved label block, -1 = none */
    int at;      /* insert before this (old) block index */
    int dead;
} fig;

static float area(qr_bbox b)
{
    float w = b.x1 - b.x0, h = b.y1 - b.y0;
    return w > 0 && h > 0 ? w * h : 0;
}

static qr_bbox inter(qr_bbox a, qr_bbox b)
{
    qr_bbox r = {QR_MAX(a.x0, b.x0), QR_MAX(a.y0, b.y0), QR_MIN(a.x1, b.x1), QR_MIN(a.y1, b.y1)};
    return r;
}

static int big_enough(qr_bbox b, float page_area)
{
    float w = b.x1 - b.x0, h = b.y1 - b.y0;
    return w >= QR_FIG_MIN_SIDE && h >= QR_FIG_MIN_SIDE && page_area > 0 &&
           area(b) >= QR_FIG_MIN_AREA * page_area && area(b) < QR_FIG_MAX_AREA * page_area;
}

/* "Figure 3", "Fig. 3", "FIG. 3", "Abbildung 3", "Abb. 3", "Figura 3", "Rysunek 3", ... */
static int is_figure_caption(const char *t)
{
    static const char *const heads[] = {"Figure", "FIGURE", "Fig.", "FIG.", "Fig", "Abbildung",
                                        "Abb.", "Figura", "Rysunek", "Rys.", "Obrázek", "Obr.",
                                        "Illustration", "Plate"};
    for (size_t i = 0; i < QR_ARRAY_LEN(heads); i++) {
        size_t n = strlen(heads[i]);
        if (strncmp(t, heads[i], n) != 0)
            continue;
        const char *p = t + n;
        while (*p == ' ' || *p == '~')
            p++;
        if ((*p >= '0' && *p <= '9') || (p > t + n && strchr("IVX", *p) && *p))
            return 1;
    }
    return 0;
}

static void add(fig *f, int *n, int cap, int page_no, qr_bbox bb, int vector, int shaped)
{
    if (*n < cap)
        f[(*n)++] = (fig){page_no, bb, vector, shaped, -1, -1, -1, 0};
}

static qr_bbox unite(qr_bbox a, qr_bbox b)
{
    qr_bbox r = {QR_MIN(a.x0, b.x0), QR_MIN(a.y0, b.y0), QR_MAX(a.x1, b.x1), QR_MAX(a.y1, b.y1)};
    return r;
}

/* An image: not when it lies inside an image already there (a composite); one already
 * there that lies inside it is dropped for it. */
static void add_image(fig *f, int *n, int cap, int from, int page_no, qr_bbox bb)
{
    for (int i = from; i < *n; i++) {
        if (f[i].dead)
            continue;
        float in = area(inter(bb, f[i].bb));
        if (in >= 0.9f * area(bb))
            return;
        if (in >= 0.9f * area(f[i].bb))
            f[i].dead = 1;
    }
    add(f, n, cap, page_no, bb, 0, 0);
}

/* A drawing: around exactly one image it is that image's axes, frame and labels (the
 * figure grows to it and needs no caption); around several images it is a frame, and
 * the images stand alone; inside an image it is part of it. */
static void add_drawing(fig *f, int *n, int cap, int from, int page_no, qr_bbox bb,
                        int shaped)
{
    int inside = -1, holds = 0;
    for (int i = from; i < *n; i++) {
        if (f[i].dead || f[i].vector)
            continue;
        float in = area(inter(bb, f[i].bb));
        if (in >= 0.9f * area(bb))
            return;
        if (in >= 0.9f * area(f[i].bb)) {
            inside = i;
            holds++;
        }
    }
    if (holds == 1 && area(unite(f[inside].bb, bb)) <= FIG_GROW_MAX * area(f[inside].bb))
        f[inside].bb = unite(f[inside].bb, bb);
    else if (holds == 0)
        add(f, n, cap, page_no, bb, 1, shaped);
}

static int collect(qr_lctx *c, fig *f, int cap)
{
    int n = 0;
    for (int p = 0; p < c->n_pages; p++) {
        const qr_page *pg = c->pages[p];
        if (!pg || pg->source != QR_SRC_TEXT)
            continue;
        qr_bbox page = {0, 0, pg->width, pg->height};
        float pa = pg->width * pg->height;
        int from = n;
        for (int b = 0; b < pg->n_blocks; b++) {
            if (pg->blocks[b].kind != QR_BLOCK_IMAGE)
                continue;
            qr_bbox bb = inter(pg->blocks[b].bbox, page);
            if (big_enough(bb, pa))
                add_image(f, &n, cap, from, pg->number, bb);
        }
        for (int d = 0; d < pg->n_drawings; d++) {
            qr_bbox bb = inter(pg->drawings[d], page);
            if (big_enough(bb, pa))
                add_drawing(f, &n, cap, from, pg->number, bb, d < pg->n_shaped_drawings);
        }
    }
    return n;
}

static float x_overlap(qr_bbox a, qr_bbox b)
{
    return QR_MIN(a.x1, b.x1) - QR_MAX(a.x0, b.x0);
}

typedef struct pairing {
    int fig, cap;
    float score;
} pairing;

static int cmp_pairing(const void *a, const void *b)
{
    float x = ((const pairing *)a)->score, y = ((const pairing *)b)->score;
    return x < y ? -1 : x > y;
}

/* Captions to figures, nearest first. */
static void assign_captions(qr_lctx *c, fig *f, int n)
{
    int np = 0, capn = 0;
    for (int k = 0; k < c->n_blocks; k++)
        capn += c->blocks[k].type == QR_BLK_CAPTION;
    if (capn == 0 || n == 0)
        return;
    pairing *pr = qr_lx_scratch(c, sizeof(*pr) * (size_t)capn * (size_t)n);
    char *taken = qr_lx_scratch(c, (size_t)c->n_blocks);
    if (!pr || !taken)
        return;
    for (int k = 0; k < c->n_blocks; k++) {
        const qr_block *b = &c->blocks[k];
        if (b->type != QR_BLK_CAPTION || !b->text || !is_figure_caption(b->text))
            continue;
        for (int i = 0; i < n; i++) {
            if (f[i].dead || f[i].page_no != b->page)
                continue;
            float narrow = QR_MIN(f[i].bb.x1 - f[i].bb.x0, b->bbox.x1 - b->bbox.x0);
            if (x_overlap(f[i].bb, b->bbox) < 0.3f * narrow)
                continue;
            float below = b->bbox.y0 - f[i].bb.y1, above = f[i].bb.y0 - b->bbox.y1;
            float s;
            if (below >= -4.0f && below <= FIG_CAPTION_GAP)
                s = QR_MAX(below, 0);
            else if (above >= -4.0f && above <= FIG_CAPTION_GAP)
                s = QR_MAX(above, 0) + FIG_ABOVE_PENALTY;
            else
                continue;
            pr[np++] = (pairing){i, k, s};
        }
    }
    qsort(pr, (size_t)np, sizeof(*pr), cmp_pairing);
    for (int i = 0; i < np; i++) {
        fig *g = &f[pr[i].fig];
        if (g->cap >= 0 || taken[pr[i].cap])
            continue;
        g->cap = pr[i].cap;
        taken[pr[i].cap] = 1;
    }
}

/* A drawing without a caption is not taken for a figure; two figures that grew into
 * each other (a drawing's labels reaching the next) are one. */
/* An uncaptioned drawing stands as a figure when it is shaped, overlaps no table and
 * holds no body text: no heading or code inside, and no more text than labels take
 * (FIG_LABEL_MAX bytes in all); else it is a frame round text or a listing. */
static int drawing_alone(const qr_lctx *c, const fig *g)
{
    size_t text = 0;
    if (!g->shaped)
        return 0;
    for (int k = 0; k < c->n_blocks; k++) {
        const qr_block *b = &c->blocks[k];
        if (b->page != g->page_no)
            continue;
        float in = area(inter(b->bbox, g->bb));
        if (b->type == QR_BLK_TABLE && in > 0)
            return 0;
        if (in < FIG_INSIDE * area(b->bbox))
            continue;
        if (b->type == QR_BLK_HEADING || b->type == QR_BLK_CODE)
            return 0;
        text += b->text ? strlen(b->text) : 0;
    }
    return text <= FIG_LABEL_MAX;
}

static void settle(const qr_lctx *c, fig *f, int n)
{
    for (int i = 0; i < n; i++)
        if (f[i].vector && f[i].cap < 0 && !drawing_alone(c, &f[i]))
            f[i].dead = 1;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n && !f[i].dead; j++) {
            if (j == i || f[j].dead || f[j].page_no != f[i].page_no)
                continue;
            float in = area(inter(f[i].bb, f[j].bb));
            if (in < 0.5f * QR_MIN(area(f[i].bb), area(f[j].bb)))
                continue;
            if (!f[i].vector || f[j].vector) { /* keep the image one, or the first */
                if (f[i].vector == f[j].vector && j < i)
                    continue;
                f[i].bb = unite(f[i].bb, f[j].bb);
                if (f[i].cap < 0)
                    f[i].cap = f[j].cap;
                f[j].dead = 1;
            }
        }
    }
}

static int is_label_type(int t)
{
    return t == QR_BLK_PARAGRAPH || t == QR_BLK_HEADING || t == QR_BLK_LIST_ITEM ||
           t == QR_BLK_CODE;
}

/* A drawing's painted paths end at its axes: the tick labels and axis titles just
 * outside them (short text blocks within FIG_TICK_GAP) belong to it too. */
static void grow_to_labels(qr_lctx *c, fig *f, int n)
{
    for (int i = 0; i < n; i++) {
        fig *g = &f[i];
        if (g->dead || !g->vector)
            continue;
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < c->n_blocks; k++) {
                const qr_block *b = &c->blocks[k];
                if (b->page != g->page_no || !is_label_type(b->type) || b->n_parts > 1 ||
                    !b->text || strlen(b->text) > FIG_TICK_MAX || k == g->cap)
                    continue;
                qr_bbox near = {g->bb.x0 - FIG_TICK_GAP, g->bb.y0 - FIG_TICK_GAP,
                                g->bb.x1 + FIG_TICK_GAP, g->bb.y1 + FIG_TICK_GAP};
                if (area(inter(b->bbox, near)) <= 0 || area(inter(b->bbox, g->bb)) >= area(b->bbox))
                    continue;
                if (g->cap >= 0 && area(inter(b->bbox, c->blocks[g->cap].bbox)) > 0)
                    continue;
                g->bb = unite(g->bb, b->bbox);
            }
        }
    }
}

/* Text blocks inside a figure move into it. moved[k] = 1 + figure index. */
static void take_labels(qr_lctx *c, fig *f, int n, int *moved)
{
    for (int k = 0; k < c->n_blocks; k++) {
        const qr_block *b = &c->blocks[k];
        if (!is_label_type(b->type) || b->n_parts > 1 || !b->text ||
            strlen(b->text) > FIG_LABEL_MAX || b->source == QR_SRC_OCR)
            continue; /* (an OCR'd insert's words stay in the flow: they are its text) */
        float a = area(b->bbox);
        for (int i = 0; i < n && a > 0; i++) {
            if (f[i].dead || f[i].page_no != b->page)
                continue;
            qr_bbox g = {f[i].bb.x0 - 2, f[i].bb.y0 - 2, f[i].bb.x1 + 2, f[i].bb.y1 + 2};
            if (area(inter(b->bbox, g)) >= FIG_INSIDE * a) {
                moved[k] = 1 + i;
                if (f[i].first < 0)
                    f[i].first = k;
                break;
            }
        }
    }
}

/* Where each figure goes in the old block order. */
static void place(qr_lctx *c, fig *f, int n, const int *moved)
{
    for (int i = 0; i < n; i++) {
        fig *g = &f[i];
        if (g->dead)
            continue;
        if (g->cap >= 0) {
            const qr_block *cb = &c->blocks[g->cap];
            g->at = cb->bbox.y0 >= g->bb.y0 ? g->cap : g->cap + 1;
            continue;
        }
        if (g->first >= 0) {
            g->at = g->first;
            continue;
        }
        g->at = -1;
        int last_on_page = -1;
        for (int k = 0; k < c->n_blocks; k++) {
            const qr_block *b = &c->blocks[k];
            if (b->page > g->page_no && g->at < 0) {
                g->at = last_on_page >= 0 ? last_on_page + 1 : k;
                break;
            }
            if (b->page != g->page_no || moved[k])
                continue;
            last_on_page = k;
            if (b->bbox.y0 >= g->bb.y0 - 2 && x_overlap(b->bbox, g->bb) > 0) {
                g->at = k;
                break;
            }
        }
        if (g->at < 0)
            g->at = last_on_page >= 0 ? last_on_page + 1 : c->n_blocks;
    }
}

static int cmp_fig(const void *a, const void *b)
{
    const fig *x = a, *y = b;
    if (x->at != y->at)
        return x->at - y->at;
    if (x->bb.y0 != y->bb.y0)
        return x->bb.y0 < y->bb.y0 ? -1 : 1;
    return x->bb.x0 < y->bb.x0 ? -1 : x->bb.x0 > y->bb.x0;
}

static void figure_block(qr_lctx *c, const fig *g, int idx, const int *moved, qr_block *out)
{
    memset(out, 0, sizeof(*out));
    out->type = QR_BLK_FIGURE;
    out->page = out->page_end = g->page_no;
    out->bbox = g->bb;
    out->source = QR_SRC_TEXT;
    out->conf = -1.0f;
    out->caption = g->cap >= 0 ? c->blocks[g->cap].text : NULL;
    out->drawing = g->vector;
    qr_buf sb;
    qr_buf_init(&sb, 0);
    for (int k = 0; k < c->n_blocks; k++) {
        if (moved[k] != 1 + idx)
            continue;
        if (sb.len)
            qr_buf_putc(&sb, ' ');
        qr_buf_append(&sb, c->blocks[k].text, strlen(c->blocks[k].text));
    }
    out->text = sb.failed ? NULL : qr_lx_strdup(c, sb.data ? sb.data : "", sb.len);
    if (!out->text)
        c->nomem = 1;
    qr_buf_free(&sb);
}

void qr_layout_figures(qr_lctx *c)
{
    int cap = 0;
    for (int p = 0; p < c->n_pages; p++)
        if (c->pages[p])
            cap += c->pages[p]->n_blocks + c->pages[p]->n_drawings;
    if (cap == 0)
        return;
    fig *f = qr_lx_scratch(c, sizeof(*f) * (size_t)cap);
    int *moved = qr_lx_scratch(c, sizeof(int) * (size_t)(c->n_blocks + 1));
    if (!f || !moved)
        return;
    int n = collect(c, f, cap);
    assign_captions(c, f, n);
    grow_to_labels(c, f, n);
    settle(c, f, n);
    take_labels(c, f, n, moved);
    place(c, f, n, moved);
    int live = 0;
    for (int i = 0; i < n; i++)
        if (!f[i].dead)
            f[live++] = f[i];
    if (live == 0)
        return;
    /* in output order; moved[] then names figures by their index in it */
    qsort(f, (size_t)live, sizeof(*f), cmp_fig);
    memset(moved, 0, sizeof(int) * (size_t)(c->n_blocks + 1));
    take_labels(c, f, live, moved);
    qr_block *nb = qr_arena_alloc(c->arena, sizeof(*nb) * (size_t)(c->n_blocks + live + 1));
    if (!nb) {
        c->nomem = 1;
        return;
    }
    int out = 0, fi = 0;
    for (int k = 0; k <= c->n_blocks; k++) {
        for (; fi < live && f[fi].at <= k; fi++)
            figure_block(c, &f[fi], fi, moved, &nb[out++]);
        if (k < c->n_blocks && !moved[k])
            nb[out++] = c->blocks[k];
    }
    c->blocks = nb;
    c->n_blocks = out;
}
