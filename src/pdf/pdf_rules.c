/*
 * pdf_rules.c — a MuPDF device that records ruling lines for table detection: stroked
 * horizontal/vertical segments and filled axis-aligned rectangles thinner than 2 pt
 * (how TeX's \hrule and booktabs draw rules). Everything else is ignored, so running a
 * page through it costs little beyond interpreting the content stream.
 */
#include <math.h>
#include <string.h>

#include "pdf/pdf_int.h"

#define THIN_PT 2.0f   /* thicker filled rectangles are shapes or cell backgrounds */
#define MIN_LEN_PT 3.0f /* shorter ones are dots, bullets or glyph parts */
#define MAX_PTS 8      /* a rectangle subpath has 4 or 5 points */

typedef struct rules_dev {
    fz_device super;
    qr_rules *rules;
} rules_dev;

/* State of one path walk. */
typedef struct walk {
    fz_context *ctx;
    qr_rules *rules;
    fz_matrix ctm;
    float half_width; /* stroke: half the line width in page units; fill: -1 */
    fz_point pts[MAX_PTS]; /* current subpath (fill) */
    int n_pts;
    int curved;
    int shaped; /* a curve or a slanted segment anywhere in the path */
    fz_point cur, start;
} walk;

static void add_rule(fz_context *ctx, qr_rules *r, fz_rect b)
{
    float w = b.x1 - b.x0;
    float h = b.y1 - b.y0;
    if (QR_MAX(w, h) < MIN_LEN_PT || QR_MIN(w, h) > THIN_PT || !isfinite(w) || !isfinite(h))
        return;
    if (r->n >= QR_PDF_MAX_RULES) {
        r->overflow = 1;
        return;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 64;
        qr_bbox *v = qr_realloc(r->v, (size_t)cap * sizeof(*v));
        if (!v)
            fz_throw(ctx, FZ_ERROR_MEMORY, "out of memory for ruling lines");
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = (qr_bbox){b.x0, b.y0, b.x1, b.y1};
}

/* The box of something painted: drawings (figure regions) are grouped from these. */
static void add_painted(fz_context *ctx, qr_rules *r, fz_rect b, int shaped)
{
    if (fz_is_empty_rect(b) || fz_is_infinite_rect(b) || !isfinite(b.x0) || !isfinite(b.y0) ||
        !isfinite(b.x1) || !isfinite(b.y1) || r->dn >= QR_PDF_MAX_RULES)
        return;
    if (r->dn == r->dcap) {
        int cap = r->dcap ? r->dcap * 2 : 64;
        qr_bbox *v = qr_realloc(r->dv, (size_t)cap * sizeof(*v));
        if (!v)
            fz_throw(ctx, FZ_ERROR_MEMORY, "out of memory for drawings");
        r->dv = v;
        unsigned char *s = qr_realloc(r->ds, (size_t)cap);
        if (!s)
            fz_throw(ctx, FZ_ERROR_MEMORY, "out of memory for drawings");
        r->ds = s;
        r->dcap = cap;
    }
    r->ds[r->dn] = (unsigned char)(shaped != 0);
    r->dv[r->dn++] = (qr_bbox){b.x0, b.y0, b.x1, b.y1};
}

/* A stroked segment counts when it is horizontal or vertical on the page. */
static void stroke_segment(walk *w, fz_point a, fz_point b)
{
    fz_point p = fz_transform_point(a, w->ctm);
    fz_point q = fz_transform_point(b, w->ctm);
    float hw = w->half_width;
    fz_rect r = {QR_MIN(p.x, q.x), QR_MIN(p.y, q.y), QR_MAX(p.x, q.x), QR_MAX(p.y, q.y)};
    if (fabsf(p.y - q.y) < 0.5f) {
        r.y0 -= hw;
        r.y1 += hw;
    } else if (fabsf(p.x - q.x) < 0.5f) {
        r.x0 -= hw;
        r.x1 += hw;
    } else {
        w->shaped = 1;
        return;
    }
    add_rule(w->ctx, w->rules, r);
}

/* A filled subpath counts when it is an axis-aligned rectangle on the page. */
static void end_fill_subpath(walk *w)
{
    int n = w->n_pts;
    if (n >= 2 && w->pts[n - 1].x == w->pts[0].x && w->pts[n - 1].y == w->pts[0].y)
        n--;
    if (!w->curved && n == 4) {
        fz_rect r = fz_empty_rect;
        for (int i = 0; i < 4; i++)
            r = fz_include_point_in_rect(r, fz_transform_point(w->pts[i], w->ctm));
        int axis = 1;
        for (int i = 0; i < 4 && axis; i++) {
            fz_point p = fz_transform_point(w->pts[i], w->ctm);
            axis = (fabsf(p.x - r.x0) < 0.1f || fabsf(p.x - r.x1) < 0.1f) &&
                   (fabsf(p.y - r.y0) < 0.1f || fabsf(p.y - r.y1) < 0.1f);
        }
        if (axis)
            add_rule(w->ctx, w->rules, r);
    }
    w->n_pts = 0;
    w->curved = 0;
}

static void walk_moveto(fz_context *ctx, void *arg, float x, float y)
{
    walk *w = arg;
    if (w->half_width < 0)
        end_fill_subpath(w);
    w->cur = w->start = fz_make_point(x, y);
    w->pts[0] = w->cur;
    w->n_pts = 1;
}

static void walk_lineto(fz_context *ctx, void *arg, float x, float y)
{
    walk *w = arg;
    fz_point p = fz_make_point(x, y);
    fz_point a = fz_transform_point(w->cur, w->ctm), b = fz_transform_point(p, w->ctm);
    if (fabsf(a.x - b.x) >= 0.5f && fabsf(a.y - b.y) >= 0.5f)
        w->shaped = 1;
    if (w->half_width >= 0)
        stroke_segment(w, w->cur, p);
    else if (w->n_pts < MAX_PTS)
        w->pts[w->n_pts++] = p;
    else
        w->curved = 1; /* too many corners for a rectangle */
    w->cur = p;
}

static void walk_curveto(fz_context *ctx, void *arg, float x1, float y1, float x2, float y2,
                         float x3, float y3)
{
    walk *w = arg;
    w->curved = 1;
    w->shaped = 1;
    w->cur = fz_make_point(x3, y3);
}

static void walk_closepath(fz_context *ctx, void *arg)
{
    walk *w = arg;
    if (w->half_width >= 0)
        stroke_segment(w, w->cur, w->start);
    w->cur = w->start;
}

static void walk_rectto(fz_context *ctx, void *arg, float x0, float y0, float x1, float y1)
{
    walk_moveto(ctx, arg, x0, y0);
    walk_lineto(ctx, arg, x1, y0);
    walk_lineto(ctx, arg, x1, y1);
    walk_lineto(ctx, arg, x0, y1);
    walk_closepath(ctx, arg);
}

static const fz_path_walker walker = {
    walk_moveto, walk_lineto, walk_curveto, walk_closepath, NULL, NULL, NULL, walk_rectto,
};

static void rules_fill_path(fz_context *ctx, fz_device *dev, const fz_path *path, int even_odd,
                            fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
                            fz_color_params cp)
{
    walk w = {.ctx = ctx, .rules = ((rules_dev *)dev)->rules, .ctm = ctm, .half_width = -1};
    if (alpha <= 0)
        return;
    fz_walk_path(ctx, path, &walker, &w);
    end_fill_subpath(&w);
    add_painted(ctx, w.rules, fz_bound_path(ctx, path, NULL, ctm), w.shaped);
}

static void rules_stroke_path(fz_context *ctx, fz_device *dev, const fz_path *path,
                              const fz_stroke_state *st, fz_matrix ctm, fz_colorspace *cs,
                              const float *color, float alpha, fz_color_params cp)
{
    float expansion = fz_matrix_expansion(ctm);
    float lw = st ? st->linewidth : 1.0f;
    walk w = {.ctx = ctx, .rules = ((rules_dev *)dev)->rules, .ctm = ctm};
    if (alpha <= 0)
        return;
    /* Zero-width lines are drawn one device pixel wide: count them as thin. */
    w.half_width = QR_MAX(lw * expansion, 0.1f) / 2;
    fz_walk_path(ctx, path, &walker, &w);
    add_painted(ctx, w.rules, fz_bound_path(ctx, path, st, ctm), w.shaped);
}

static void rules_fill_shade(fz_context *ctx, fz_device *dev, fz_shade *shd, fz_matrix ctm,
                             float alpha, fz_color_params cp)
{
    if (alpha > 0)
        add_painted(ctx, ((rules_dev *)dev)->rules, fz_bound_shade(ctx, shd, ctm), 1);
}

/* ---- grouping the painted boxes into drawings ------------------------------------- */

#define GROUP_GAP 4.0f      /* boxes closer than this belong to one drawing */
#define MAX_GROUPS 512      /* boxes that would start more groups are dropped */
#define FRAME_SHARE 0.5f    /* a box over this share of the page is a frame/background */

static int near_box(const qr_bbox *a, const qr_bbox *b)
{
    return a->x0 <= b->x1 + GROUP_GAP && b->x0 <= a->x1 + GROUP_GAP &&
           a->y0 <= b->y1 + GROUP_GAP && b->y0 <= a->y1 + GROUP_GAP;
}

static void grow(qr_bbox *a, const qr_bbox *b)
{
    a->x0 = QR_MIN(a->x0, b->x0);
    a->y0 = QR_MIN(a->y0, b->y0);
    a->x1 = QR_MAX(a->x1, b->x1);
    a->y1 = QR_MAX(a->y1, b->y1);
}

int qr_pdf_group_drawings(const qr_rules *r, float page_w, float page_h, float min_side,
                          qr_bbox **out, int *n_out, int *n_shaped)
{
    *out = NULL;
    *n_out = 0;
    *n_shaped = 0;
    if (r->dn == 0)
        return 0;
    qr_bbox *g = qr_malloc(MAX_GROUPS * sizeof(*g));
    int gs[MAX_GROUPS]; /* shaped paths per group */
    if (!g)
        return -1;
    int n = 0;
    float page_area = page_w * page_h;
    for (int i = 0; i < r->dn; i++) {
        qr_bbox b = r->dv[i];
        b.x0 = QR_MAX(b.x0, 0);
        b.y0 = QR_MAX(b.y0, 0);
        b.x1 = QR_MIN(b.x1, page_w);
        b.y1 = QR_MIN(b.y1, page_h);
        if (b.x1 <= b.x0 && b.y1 <= b.y0)
            continue;
        if ((b.x1 - b.x0) * (b.y1 - b.y0) > FRAME_SHARE * page_area)
            continue;
        int k = 0;
        while (k < n && !near_box(&g[k], &b))
            k++;
        int shaped = r->ds ? r->ds[i] : 0;
        if (k < n) {
            grow(&g[k], &b);
            gs[k] += shaped;
        } else if (n < MAX_GROUPS) {
            gs[n] = shaped;
            g[n++] = b;
        }
    }
    /* groups that grew into each other merge, until none does */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int a = 0; a < n; a++) {
            for (int b = a + 1; b < n; b++) {
                if (!near_box(&g[a], &g[b]))
                    continue;
                grow(&g[a], &g[b]);
                gs[a] += gs[b];
                gs[b] = gs[n - 1];
                g[b--] = g[--n];
                changed = 1;
            }
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (g[i].x1 - g[i].x0 >= min_side && g[i].y1 - g[i].y0 >= min_side) {
            gs[m] = gs[i];
            g[m++] = g[i];
        }
    /* the shaped groups first, each group keeping its order otherwise */
    int s = 0;
    for (int i = 0; i < m; i++) {
        if (gs[i] < QR_PDF_SHAPED_PATHS)
            continue;
        qr_bbox t = g[i];
        int ts = gs[i];
        memmove(g + s + 1, g + s, (size_t)(i - s) * sizeof(*g));
        memmove(gs + s + 1, gs + s, (size_t)(i - s) * sizeof(*gs));
        g[s] = t;
        gs[s++] = ts;
    }
    *n_shaped = s;
    if (m == 0) {
        qr_free(g);
        return 0;
    }
    *out = g;
    *n_out = m;
    return 0;
}

fz_device *qr_pdf_new_rules_device(fz_context *ctx, qr_rules *rules)
{
    rules_dev *dev = fz_new_derived_device(ctx, rules_dev);
    dev->super.fill_path = rules_fill_path;
    dev->super.stroke_path = rules_stroke_path;
    dev->super.fill_shade = rules_fill_shade;
    dev->rules = rules;
    return &dev->super;
}
