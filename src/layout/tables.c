/*
 * tables.c — tables as cells. Two sources, both conservative because a paragraph
 * shredded into a false table is worse than a table left as text:
 *  (a) ruled: horizontal rules of the same extent stacked on a page (booktabs' top/
 *      mid/bottom rules, or a full grid) enclose a region; vertical rules, when there
 *      are any, give the columns, otherwise the words' alignment does. All rows whose
 *      centre lies in the region belong to the table, whatever column the ordering put
 *      them in (a wide table may have a gap where the page's gutter is).
 *  (b) aligned: at least three consecutive rows of one column, each split by wide gaps
 *      into two or more segments, whose segments line up into columns that no segment
 *      crosses.
 * Either way the result must look like a table: >= 2 columns and rows, cells short
 * (prose in two columns is not a table).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layout/layout_int.h"

#define MAX_VRULES 64
#define MAX_COLS 24
#define MAX_TROWS 1024
#define RULE_THIN 2.5f

struct qr_ruled {
    int page;
    qr_bbox box;
    float vx[MAX_VRULES]; /* interior vertical rules (column boundaries) */
    int n_vx;
    int n_hy;             /* horizontal rules in the stack */
    float hy[MAX_VRULES];
    int state;            /* 0 pending, 1 emitted, -1 rejected */
};

/* ---- segments and columns ------------------------------------------------------------ */

int qr_layout_segments(const qr_lrow *r, float gap, float *sx0, float *sx1, int max)
{
    int n = 0;
    for (int k = 0; k < r->n_words && n < max; k++) {
        const qr_bbox *b = &r->words[k]->bbox;
        if (n > 0 && b->x0 - sx1[n - 1] < gap) {
            sx1[n - 1] = QR_MAX(sx1[n - 1], b->x1);
            continue;
        }
        sx0[n] = b->x0;
        sx1[n] = b->x1;
        n++;
    }
    return n;
}

/* TeX's narrowest column separation is 1.2 em; justified prose stays below 1 em. */
static float seg_gap(const qr_lrow *r) { return 1.0f * r->size; }

/* Column boundaries from where few segments are: bins covered by at most `tol`
 * segments, in runs wider than min_gap, between text. Returns n_cols. */
static int infer_columns(qr_lctx *c, const qr_lrow *const *rows, int n, int tol, float *bound)
{
    float x0 = 1e30f, x1 = -1e30f, sx0[64], sx1[64], min_gap = 1e30f;
    for (int i = 0; i < n; i++) {
        x0 = QR_MIN(x0, rows[i]->bbox.x0);
        x1 = QR_MAX(x1, rows[i]->bbox.x1);
        min_gap = QR_MIN(min_gap, 0.5f * rows[i]->size);
    }
    int nb = (int)ceilf(x1 - x0) + 1;
    if (n == 0 || nb <= 1 || nb > 20000)
        return 1;
    int *cnt = qr_lx_scratch(c, sizeof(int) * (size_t)nb);
    if (!cnt)
        return 1;
    for (int i = 0; i < n; i++) {
        int ns = qr_layout_segments(rows[i], seg_gap(rows[i]), sx0, sx1, 64);
        for (int s = 0; s < ns; s++)
            for (int x = (int)floorf(sx0[s] - x0); x < (int)ceilf(sx1[s] - x0) && x < nb; x++)
                cnt[QR_MAX(x, 0)]++;
    }
    int n_cols = 1, x = 0;
    while (x < nb && n_cols < MAX_COLS) {
        if (cnt[x] > tol) {
            x++;
            continue;
        }
        int s = x;
        while (x < nb && cnt[x] <= tol)
            x++;
        if (s > 0 && x < nb && (float)(x - s) >= min_gap)
            bound[n_cols++ - 1] = x0 + 0.5f * (float)(s + x);
    }
    return n_cols;
}

static int column_of(float x, const float *bound, int n_cols)
{
    int k = 0;
    while (k < n_cols - 1 && x > bound[k])
        k++;
    return k;
}

/* ---- cells --------------------------------------------------------------------------- */

typedef struct tgrid {
    int n_rows, n_cols;
    qr_buf *cell; /* [n_rows * n_cols] */
} tgrid;

static int grid_init(qr_lctx *c, tgrid *g, int n_rows, int n_cols)
{
    g->n_rows = n_rows;
    g->n_cols = n_cols;
    g->cell = qr_lx_scratch(c, sizeof(qr_buf) * (size_t)(n_rows * n_cols));
    return g->cell != NULL;
}

static void grid_free(tgrid *g)
{
    for (int k = 0; g->cell && k < g->n_rows * g->n_cols; k++)
        qr_buf_free(&g->cell[k]);
}

static void grid_add_row(tgrid *g, int tr, const qr_lrow *r, const float *bound)
{
    for (int k = 0; k < r->n_words; k++) {
        const qr_word *w = r->words[k];
        int col = column_of(0.5f * (w->bbox.x0 + w->bbox.x1), bound, g->n_cols);
        qr_buf *b = &g->cell[tr * g->n_cols + col];
        if (b->len > 0)
            qr_buf_putc(b, ' ');
        qr_buf_append(b, w->text, w->len);
    }
}

static int word_count(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += s[i] != ' ' && (i == 0 || s[i - 1] == ' ');
    return w;
}

/* Does the grid look like a table rather than prose in columns? */
static int grid_plausible(const tgrid *g)
{
    int filled = 0, long_cells = 0, multi_rows = 0;
    for (int r = 0; r < g->n_rows; r++) {
        int in_row = 0;
        for (int k = 0; k < g->n_cols; k++) {
            const qr_buf *b = &g->cell[r * g->n_cols + k];
            if (b->failed)
                return 0;
            if (b->len == 0)
                continue;
            in_row++;
            filled++;
            long_cells += word_count(b->data, b->len) >= 8;
        }
        multi_rows += in_row >= 2;
    }
    return g->n_cols >= 2 && g->n_rows >= 2 && 2 * multi_rows >= g->n_rows &&
           10 * long_cells <= 3 * filled;
}

static void emit_grid(qr_lctx *c, const tgrid *g, qr_lrow *const *rows, int n)
{
    qr_block *b = qr_lx_block(c, QR_BLK_TABLE, rows[0]);
    for (int i = 1; i < n && b; i++)
        qr_lx_take(c, rows[i]);
    const char **cells = qr_arena_alloc(c->arena, sizeof(char *) * (size_t)(g->n_rows * g->n_cols));
    if (!b || !cells) {
        c->nomem = 1;
        return;
    }
    for (int k = 0; k < g->n_rows * g->n_cols; k++) {
        const qr_buf *cb = &g->cell[k];
        cells[k] = qr_lx_strdup(c, cb->len ? cb->data : "", cb->len);
        if (!cells[k])
            return;
    }
    b->n_rows = g->n_rows;
    b->n_cols = g->n_cols;
    b->cells = cells;
    b->text = "";
}

/* Group rows (sorted by y) into table rows by vertical overlap; OUT: tr[i]. */
static int table_rows_by_overlap(qr_lrow *const *rows, int n, int *tr)
{
    int n_tr = 0;
    float y0 = 0, y1 = 0;
    for (int i = 0; i < n; i++) {
        const qr_bbox *b = &rows[i]->bbox;
        float h = QR_MIN(b->y1 - b->y0, y1 - y0);
        if (i == 0 || QR_MIN(b->y1, y1) - QR_MAX(b->y0, y0) < 0.5f * h) {
            n_tr++;
            y0 = b->y0;
            y1 = b->y1;
        } else {
            y0 = QR_MIN(y0, b->y0);
            y1 = QR_MAX(y1, b->y1);
        }
        tr[i] = n_tr - 1;
    }
    return n_tr;
}

/* Build, check and emit; returns 1 when a table was emitted. */
static int try_grid(qr_lctx *c, qr_lrow *const *rows, int n, const int *tr, int n_tr,
                    const float *bound, int n_cols)
{
    tgrid g = {0};
    int ok = 0;
    if (n_cols < 2 || n_tr < 2 || !grid_init(c, &g, n_tr, n_cols))
        return 0;
    for (int i = 0; i < n; i++)
        grid_add_row(&g, tr[i], rows[i], bound);
    if (grid_plausible(&g)) {
        emit_grid(c, &g, rows, n);
        ok = 1;
    }
    grid_free(&g);
    return ok;
}

/* ---- ruled regions ------------------------------------------------------------------- */

static int is_hrule(const qr_bbox *b)
{
    return b->y1 - b->y0 <= RULE_THIN && b->x1 - b->x0 >= 20.0f;
}

static int is_vrule(const qr_bbox *b)
{
    return b->x1 - b->x0 <= RULE_THIN && b->y1 - b->y0 >= 6.0f;
}

static void add_unique(float *v, int *n, float x)
{
    for (int i = 0; i < *n; i++)
        if (fabsf(v[i] - x) <= 2.0f)
            return;
    if (*n < MAX_VRULES)
        v[(*n)++] = x;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Stack an h-rule onto a region of the same extent, or start a new one. */
static void stack_hrule(qr_lctx *c, int page, const qr_bbox *h, float page_h, int first)
{
    float tol = 3.0f + 0.03f * (h->x1 - h->x0), y = 0.5f * (h->y0 + h->y1);
    for (int k = first; k < c->n_ruled; k++) {
        struct qr_ruled *g = &c->ruled[k];
        if (fabsf(g->box.x0 - h->x0) <= tol && fabsf(g->box.x1 - h->x1) <= tol &&
            y - g->box.y1 <= 0.6f * page_h && y >= g->box.y0) {
            g->box.y1 = QR_MAX(g->box.y1, y);
            add_unique(g->hy, &g->n_hy, y);
            return;
        }
    }
    struct qr_ruled *g = &c->ruled[c->n_ruled++];
    memset(g, 0, sizeof(*g));
    g->page = page;
    g->box = (qr_bbox){h->x0, y, h->x1, y};
    add_unique(g->hy, &g->n_hy, y);
}

static void add_vrules(const qr_page *pg, struct qr_ruled *g)
{
    for (int i = 0; i < pg->n_rules; i++) {
        const qr_bbox *v = &pg->rules[i];
        float x = 0.5f * (v->x0 + v->x1);
        float ov = QR_MIN(v->y1, g->box.y1) - QR_MAX(v->y0, g->box.y0);
        if (!is_vrule(v) || ov < 0.5f * (v->y1 - v->y0) || x < g->box.x0 + 3.0f ||
            x > g->box.x1 - 3.0f)
            continue;
        add_unique(g->vx, &g->n_vx, x);
    }
    qsort(g->vx, (size_t)g->n_vx, sizeof(float), cmp_float);
    qsort(g->hy, (size_t)g->n_hy, sizeof(float), cmp_float);
}

static int cmp_rule_y(const void *a, const void *b)
{
    const qr_bbox *x = a, *y = b;
    return (x->y0 > y->y0) - (x->y0 < y->y0);
}

/* Room for n_more regions after the current ones. The array grows by doubling; old
 * copies stay in the scratch chain until the end, so the total is at most twice the
 * final size, which only counts accepted regions (see drop_rejected). Sizing it by
 * the document's rule count instead cost ~540 bytes per rule of a long document. */
static int reserve_ruled(qr_lctx *c, int n_more, int *cap)
{
    if (c->n_ruled + n_more <= *cap)
        return 1;
    int want = QR_MAX(2 * *cap, c->n_ruled + n_more);
    struct qr_ruled *g = qr_lx_scratch(c, sizeof(*g) * (size_t)want);
    if (!g)
        return 0;
    if (c->n_ruled)
        memcpy(g, c->ruled, sizeof(*g) * (size_t)c->n_ruled);
    c->ruled = g;
    *cap = want;
    return 1;
}

/* A single rule encloses nothing: qr_layout_table would skip it (state -1), so it is
 * not kept at all. Order of the others is unchanged. */
static void drop_rejected(qr_lctx *c, int first)
{
    int out = first;
    for (int k = first; k < c->n_ruled; k++)
        if (c->ruled[k].n_hy >= 2)
            c->ruled[out++] = c->ruled[k];
    c->n_ruled = out;
}

static int max_page_rules(const qr_lctx *c)
{
    int n = 0;
    for (int p = 0; p < c->n_pages; p++)
        n = QR_MAX(n, c->pages[p] ? c->pages[p]->n_rules : 0);
    return n;
}

void qr_layout_tables_prepare(qr_lctx *c)
{
    int n = max_page_rules(c), cap = 0;
    qr_bbox *h = qr_lx_scratch(c, sizeof(*h) * (size_t)(n + 1));
    if (!h || !reserve_ruled(c, 1, &cap))
        return;
    for (int p = 0; p < c->n_pages; p++) {
        const qr_page *pg = c->pages[p];
        if (!pg || pg->n_rules <= 0 || !pg->rules)
            continue;
        int nh = 0, first = c->n_ruled;
        for (int i = 0; i < pg->n_rules; i++)
            if (is_hrule(&pg->rules[i]))
                h[nh++] = pg->rules[i];
        if (!reserve_ruled(c, nh, &cap))
            return;
        qsort(h, (size_t)nh, sizeof(*h), cmp_rule_y);
        for (int i = 0; i < nh; i++)
            stack_hrule(c, p, &h[i], pg->height > 0 ? pg->height : 1000.0f, first);
        drop_rejected(c, first);
        for (int k = first; k < c->n_ruled; k++)
            add_vrules(pg, &c->ruled[k]);
    }
}

static int inside(const qr_lrow *r, const struct qr_ruled *g)
{
    float x = 0.5f * (r->bbox.x0 + r->bbox.x1), y = 0.5f * (r->bbox.y0 + r->bbox.y1);
    return r->page == g->page && x >= g->box.x0 - 2.0f && x <= g->box.x1 + 2.0f &&
           y >= g->box.y0 && y <= g->box.y1;
}

static int cmp_row_y(const void *a, const void *b)
{
    const qr_lrow *x = *(qr_lrow *const *)a, *y = *(qr_lrow *const *)b;
    float d = (x->bbox.y0 + x->bbox.y1) - (y->bbox.y0 + y->bbox.y1);
    if (d != 0)
        return (d > 0) - (d < 0);
    return (x->bbox.x0 > y->bbox.x0) - (x->bbox.x0 < y->bbox.x0);
}

/* Full grid: table rows are the intervals between horizontal rules. */
static int rows_by_rules(const struct qr_ruled *g, qr_lrow *const *rows, int n, int *tr)
{
    int used[MAX_VRULES] = {0}, map[MAX_VRULES], n_tr = 0;
    for (int i = 0; i < n; i++) {
        float y = 0.5f * (rows[i]->bbox.y0 + rows[i]->bbox.y1);
        int k = 0;
        while (k < g->n_hy - 2 && y > g->hy[k + 1])
            k++;
        tr[i] = k;
        used[k] = 1;
    }
    for (int k = 0; k < g->n_hy; k++)
        map[k] = used[k] ? n_tr++ : -1;
    for (int i = 0; i < n; i++)
        tr[i] = map[tr[i]];
    return n_tr;
}

static int try_ruled(qr_lctx *c, struct qr_ruled *g)
{
    /* one pair of buffers per layout: per call they added up to 12 KB per region */
    if (!c->trows)
        c->trows = qr_lx_scratch(c, sizeof(*c->trows) * MAX_TROWS);
    if (!c->ttr)
        c->ttr = qr_lx_scratch(c, sizeof(*c->ttr) * MAX_TROWS);
    qr_lrow **rows = c->trows;
    int *tr = c->ttr;
    float bound[MAX_COLS];
    int n = 0, n_tr, n_cols;
    if (!rows || !tr)
        return 0;
    for (int i = 0; i < c->n_rows && n < MAX_TROWS; i++)
        if (!c->rows[i].used && inside(&c->rows[i], g))
            rows[n++] = &c->rows[i];
    if (n < 2)
        return 0;
    qsort(rows, (size_t)n, sizeof(*rows), cmp_row_y);
    int grid = g->n_vx >= 1 && g->n_hy >= 3;
    n_tr = grid ? rows_by_rules(g, rows, n, tr) : table_rows_by_overlap(rows, n, tr);
    if (g->n_vx >= 1) {
        n_cols = QR_MIN(g->n_vx + 1, MAX_COLS);
        memcpy(bound, g->vx, sizeof(float) * (size_t)(n_cols - 1));
    } else {
        /* the rules vouch for a table: tolerate a spanning cell or two */
        n_cols = infer_columns(c, (const qr_lrow *const *)rows, n, n / 8, bound);
    }
    return try_grid(c, rows, n, tr, n_tr, bound, n_cols);
}

/* ---- aligned text -------------------------------------------------------------------- */

/* A justified line stretched wide: evenly spaced words across the whole column. */
static int justified_prose(const qr_lrow *r)
{
    if (r->n_words < 5 || r->bbox.x1 - r->bbox.x0 < 0.95f * (r->cx1 - r->cx0))
        return 0;
    double sum = 0, sum2 = 0;
    int n = r->n_words - 1;
    for (int k = 1; k < r->n_words; k++) {
        double g = r->words[k]->bbox.x0 - r->words[k - 1]->bbox.x1;
        sum += g;
        sum2 += g * g;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    return mean > 0 && var < 0.01 * mean * mean;
}

static int aligned_row(const qr_lrow *r)
{
    float sx0[3], sx1[3];
    size_t ml;
    int ordered, strong;
    if (r->mono || r->used || justified_prose(r))
        return 0;
    if (qr_layout_list_marker(r->text, &ml, &ordered, &strong))
        return 0; /* "1.   text" has a gap but is a list item */
    return qr_layout_segments(r, seg_gap(r), sx0, sx1, 3) >= 2;
}

static int aligned_next(const qr_lrow *a, const qr_lrow *b)
{
    float size = QR_MAX(a->size, b->size);
    return a->page == b->page && a->band == b->band && a->col == b->col &&
           b->bbox.y0 - a->bbox.y1 <= 1.5f * size && b->bbox.y0 > a->bbox.y0;
}

static int try_aligned(qr_lctx *c, int i)
{
    qr_lrow *rows[256];
    int tr[256], n = 0;
    float bound[MAX_COLS];
    for (int j = i; j >= 0 && n < 256; j = qr_layout_next(c, j)) {
        if (!aligned_row(&c->rows[j]) || (n > 0 && !aligned_next(rows[n - 1], &c->rows[j])))
            break;
        rows[n] = &c->rows[j];
        tr[n] = n;
        n++;
    }
    if (n < 3)
        return 0;
    int n_cols = infer_columns(c, (const qr_lrow *const *)rows, n, 0, bound);
    if (n_cols > 12)
        return 0;
    return try_grid(c, rows, n, tr, n, bound, n_cols) ? n : 0;
}

int qr_layout_table(qr_lctx *c, int i)
{
    const qr_lrow *r = &c->rows[i];
    for (int k = 0; k < c->n_ruled && !c->nomem; k++) {
        struct qr_ruled *g = &c->ruled[k];
        if (g->state != 0 || !inside(r, g))
            continue;
        if (try_ruled(c, g)) {
            g->state = 1;
            return 1;
        }
        g->state = -1;
    }
    return c->nomem ? 0 : try_aligned(c, i);
}
