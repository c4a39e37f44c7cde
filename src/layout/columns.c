/*
 * columns.c — reading order of one page from geometry alone (content-stream order is
 * wrong on some PDFs, so it is never used).
 *
 * A gutter is a vertical strip with (almost) no text from narrow lines across the
 * page, with substantial column-like text on both sides: several lines each, most of
 * them filling their side (justified prose, unlike table cells). Lines that reach
 * well into two columns (titles, abstracts, wide figures and tables) are full-width
 * and cut the page into bands: the columns between two full-width lines form one
 * band, read column by column, top to bottom; bands are read top to bottom.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layout/layout_int.h"

#define MAX_GUTTERS 4

typedef struct extent {
    float x0, y0, x1, y1;
} extent;

static float width(const qr_lline *l) { return l->bbox.x1 - l->bbox.x0; }
static float height(const qr_lline *l) { return l->bbox.y1 - l->bbox.y0; }
static float yc(const qr_lline *l) { return 0.5f * (l->bbox.y0 + l->bbox.y1); }

static int page_extent(const qr_lline *lines, int n, extent *e)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const qr_bbox *b = &lines[i].bbox;
        if (lines[i].removed)
            continue;
        if (k++ == 0) {
            e->x0 = b->x0, e->y0 = b->y0, e->x1 = b->x1, e->y1 = b->y1;
            continue;
        }
        e->x0 = QR_MIN(e->x0, b->x0);
        e->y0 = QR_MIN(e->y0, b->y0);
        e->x1 = QR_MAX(e->x1, b->x1);
        e->y1 = QR_MAX(e->y1, b->y1);
    }
    return k;
}

typedef struct side {
    int n;
    float h;      /* sum of line heights */
    float lo, hi; /* outer x extent of the side */
} side;

static void side_add(side *s, const qr_lline *ln)
{
    s->n++;
    s->h += height(ln);
    s->lo = QR_MIN(s->lo, ln->bbox.x0);
    s->hi = QR_MAX(s->hi, ln->bbox.x1);
}

/* Height of the lines that fill most of their side: prose fills its column, table
 * cells and figure labels do not (math splits into fragments, so not a median). */
static float full_height(const qr_lline *lines, int n, const side *s, int left, float g0,
                         float g1)
{
    float h = 0;
    for (int i = 0; i < n; i++) {
        const qr_lline *ln = &lines[i];
        int on_side = left ? ln->bbox.x1 <= g1 + 1.0f : ln->bbox.x0 >= g0 - 1.0f;
        if (!ln->removed && on_side && width(ln) >= 0.7f * (s->hi - s->lo))
            h += height(ln);
    }
    return h;
}

/* Is [g0, g1] a gutter between two real columns? */
static int gutter_ok(const qr_lline *lines, int n, const extent *e, float g0, float g1)
{
    side l = {0, 0, g0, g0}, r = {0, 0, g1, g1};
    float hc = 0, H = e->y1 - e->y0;
    for (int i = 0; i < n; i++) {
        const qr_lline *ln = &lines[i];
        if (ln->removed)
            continue;
        if (ln->bbox.x1 <= g1 + 1.0f)
            side_add(&l, ln);
        else if (ln->bbox.x0 >= g0 - 1.0f)
            side_add(&r, ln);
        else
            hc += height(ln);
    }
    if (l.n < 3 || r.n < 3 || l.h < 0.2f * H || r.h < 0.1f * H || hc > l.h + r.h)
        return 0;
    float fl = full_height(lines, n, &l, 1, g0, g1);
    float fr = full_height(lines, n, &r, 0, g0, g1);
    if (fl >= 0.1f * H && fr >= 0.05f * H)
        return 1;
    /* A ragged left column (a contents list of short entries, as on page 1 of the MNRAS
     * guide) next to a prose column: the left side rarely fills its width, but it has
     * many lines (>= 40; short author/affiliation blocks must not qualify), both sides
     * are long, the right side is clearly prose, and the right column starts at the
     * middle of the text area, where a two-column layout puts it. */
    float W = e->x1 - e->x0, mid = e->x0 + 0.5f * W;
    return l.n >= 40 && r.n >= 15 && l.h >= 0.4f * H && r.h >= 0.4f * H && fr >= 0.2f * H &&
           fabsf(g1 - mid) <= 0.08f * W;
}

/* Coverage of the x axis by narrow lines, in points of line height per 1 pt bin. */
static float *coverage(qr_lctx *c, const qr_lline *lines, int n, const extent *e, int nb)
{
    float *cov = qr_lx_scratch(c, sizeof(float) * (size_t)nb);
    if (!cov)
        return NULL;
    float W = e->x1 - e->x0;
    for (int i = 0; i < n; i++) {
        const qr_lline *ln = &lines[i];
        if (ln->removed || width(ln) >= 0.6f * W)
            continue;
        int a = (int)floorf(ln->bbox.x0 - e->x0), b = (int)ceilf(ln->bbox.x1 - e->x0);
        for (int x = QR_MAX(a, 0); x < QR_MIN(b, nb); x++)
            cov[x] += height(ln);
    }
    return cov;
}

static int find_gutters(qr_lctx *c, const qr_lline *lines, int n, const extent *e,
                        float *g0, float *g1)
{
    float W = e->x1 - e->x0;
    if (W < 20.0f || n < 6 || W > 20000.0f)
        return 0;
    int nb = (int)ceilf(W) + 1, ng = 0;
    float *cov = coverage(c, lines, n, e, nb);
    if (!cov)
        return 0;
    /* centred title and author lines cross the gutter of a paper's first page */
    float narrow_h = 0;
    for (int i = 0; i < n; i++)
        if (!lines[i].removed && width(&lines[i]) < 0.6f * W)
            narrow_h += height(&lines[i]);
    float tol = QR_MAX(2.5f * c->body, 0.25f * narrow_h), gmin = QR_MAX(5.0f, 0.6f * c->body);
    int x = 0;
    while (x < nb && ng < MAX_GUTTERS) {
        if (cov[x] > tol) {
            x++;
            continue;
        }
        int s = x;
        while (x < nb && cov[x] <= tol)
            x++;
        /* runs touching the text edges are margins, not gutters */
        if (s == 0 || x >= nb || (float)(x - s) < gmin)
            continue;
        float a = e->x0 + (float)s, b = e->x0 + (float)x;
        if (gutter_ok(lines, n, e, a, b)) {
            g0[ng] = a;
            g1[ng] = b;
            ng++;
        }
    }
    return ng;
}

static int crosses(const qr_lline *ln, float g0, float g1)
{
    return ln->bbox.x0 < g0 - 1.0f && ln->bbox.x1 > g1 + 1.0f;
}

/* A gap inside one column (between its short lines and a tab-aligned block such as a
 * gamebook's "SKILL 9   STAMINA 7", with the real gutter beside it) can pass gutter_ok.
 * Such a gap is crossed by the column's own long lines, which stop at the real gutter;
 * what crosses a real gutter (titles, wide figures) crosses the others too. While some
 * gutter is crossed by more than three lines' height of lines that stop before another
 * gutter, the one with the most is dropped. Returns the gutters left. */
static int prune_gutters(const qr_lline *lines, int n, float body, float *g0, float *g1,
                         int ng)
{
    while (ng >= 2) {
        int worst = -1;
        float worst_h = 3.0f * 1.2f * body;
        for (int k = 0; k < ng; k++) {
            float h = 0;
            for (int i = 0; i < n; i++) {
                const qr_lline *ln = &lines[i];
                if (ln->removed || !crosses(ln, g0[k], g1[k]))
                    continue;
                for (int j = 0; j < ng; j++)
                    if (j != k && !crosses(ln, g0[j], g1[j])) {
                        h += height(ln);
                        break;
                    }
            }
            if (h > worst_h) {
                worst_h = h;
                worst = k;
            }
        }
        if (worst < 0)
            break;
        for (int k = worst; k + 1 < ng; k++) {
            g0[k] = g0[k + 1];
            g1[k] = g1[k + 1];
        }
        ng--;
    }
    return ng;
}

/* Column of a line, or -1 when it reaches well into two columns. */
static int line_column(const qr_lline *ln, const extent *e, const float *g0, const float *g1,
                       int ng)
{
    int best = 0, n_big = 0;
    float best_ov = -1;
    for (int k = 0; k <= ng; k++) {
        float cx0 = k == 0 ? e->x0 : g1[k - 1];
        float cx1 = k == ng ? e->x1 : g0[k];
        float ov = QR_MIN(ln->bbox.x1, cx1) - QR_MAX(ln->bbox.x0, cx0);
        if (ov > best_ov) {
            best_ov = ov;
            best = k;
        }
        if (ov > 0 && ov >= QR_MIN(0.2f * (cx1 - cx0), 0.3f * width(ln)))
            n_big++;
    }
    return n_big >= 2 ? -1 : best;
}

static int cmp_reading(const void *a, const void *b)
{
    const qr_lline *x = a, *y = b;
    if (x->band != y->band)
        return x->band - y->band;
    if (x->col != y->col)
        return x->col - y->col;
    /* on baselines where the text layer gives them: a tall glyph (a bullet in a font
     * with a big ascent) moves a box's centre below the next line's */
    float dy = x->base > 0 && y->base > 0 ? x->base - y->base : yc(x) - yc(y);
    if (dy != 0)
        return (dy > 0) - (dy < 0);
    return (x->bbox.x0 > y->bbox.x0) - (x->bbox.x0 < y->bbox.x0);
}

/* Band of each line: full-width line j (in y order) is band 2j+1; column lines
 * between full-width lines j-1 and j are band 2j. */
static void assign_bands(qr_lline *lines, int n)
{
    for (int i = 0; i < n; i++) {
        qr_lline *l = &lines[i];
        int above = 0;
        for (int j = 0; j < n; j++) {
            const qr_lline *s = &lines[j];
            if (j == i || s->removed || s->col != -1)
                continue;
            if (yc(s) < yc(l) || (yc(s) == yc(l) && j < i))
                above++;
        }
        l->band = l->col == -1 ? 2 * above + 1 : 2 * above;
    }
}

void qr_layout_order_page(qr_lctx *c, const qr_page *pg, qr_lline *lines, int n)
{
    (void)pg;
    extent e = {0, 0, 0, 0};
    float g0[MAX_GUTTERS], g1[MAX_GUTTERS];
    int active = page_extent(lines, n, &e);
    int ng = active > 0 ? find_gutters(c, lines, n, &e, g0, g1) : 0;
    ng = prune_gutters(lines, n, c->body, g0, g1, ng);
    for (int i = 0; i < n; i++) {
        lines[i].col = ng > 0 && !lines[i].removed ? line_column(&lines[i], &e, g0, g1, ng) : 0;
        lines[i].band = 0;
    }
    if (ng > 0)
        assign_bands(lines, n);
    qsort(lines, (size_t)n, sizeof(*lines), cmp_reading);
}
