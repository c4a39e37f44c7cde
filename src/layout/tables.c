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
    float vy0[MAX_VRULES], vy1[MAX_VRULES]; /* vertical extent drawn at vx[k] */
    int n_vx;
    int n_hy;             /* horizontal rules in the stack */
    float hy[MAX_VRULES];
    int state;            /* 0 pending, 1 emitted, -1 rejected, -2 a box, not a table */
    int closed;           /* prose follows its last rule: takes no more rules */
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

static int column_of(float x, const float *bound, int n_cols)
{
    int k = 0;
    while (k < n_cols - 1 && x > bound[k])
        k++;
    return k;
}

/* ---- table lines --------------------------------------------------------------------- */

/* Inside a table region the words are regrouped into lines by baseline (the reading
 * order may have cut a wide table into columns) and each line into pieces: runs of
 * words, each in one column or spanning several. */
typedef struct tline {
    const qr_word **w; /* sorted by x */
    int n;
    float y0, y1, size;
    int sep;  /* a horizontal rule (full or partial) lies between it and the line above */
    float sep_x0; /* leftmost start of those rules */
    unsigned cover; /* columns (bit k) whose middle those rules cross */
} tline;

typedef struct tpiece {
    int c0, c1; /* columns covered */
    int w0, w1; /* words [w0, w1) of its line */
    float x0, x1;
} tpiece;

#define SEG_EM 0.7f   /* a gap this wide (in em) separates pieces */
#define SPLIT_EM 0.4f /* a word gap this wide on a column boundary splits a piece */
#define MAX_PIECES (2 * MAX_COLS)

static int cmp_word_x(const void *a, const void *b)
{
    const qr_word *x = *(const qr_word *const *)a, *y = *(const qr_word *const *)b;
    return (x->bbox.x0 > y->bbox.x0) - (x->bbox.x0 < y->bbox.x0);
}

static int cmp_row_y(const void *a, const void *b);
static int is_hrule(const qr_bbox *b);

/* Rows (any order) -> lines sorted by y. Returns the number of lines, 0 on failure. */
static int build_lines(qr_lctx *c, qr_lrow **rows, int n, tline *ln)
{
    int n_words = 0, n_ln = 0;
    qsort(rows, (size_t)n, sizeof(*rows), cmp_row_y);
    for (int i = 0; i < n; i++)
        n_words += rows[i]->n_words;
    const qr_word **w = qr_lx_scratch(c, sizeof(*w) * (size_t)(n_words + 1));
    if (!w)
        return 0;
    float y0 = 0, y1 = 0;
    const qr_bbox *prev = NULL;
    int at = 0;
    for (int i = 0; i < n; i++) {
        /* against the row before, not the line so far: a tall row (a big operator, a
         * fraction) would otherwise stretch the line over the next rows and chain them */
        const qr_bbox *b = &rows[i]->bbox;
        float h = prev ? QR_MIN(b->y1 - b->y0, prev->y1 - prev->y0) : 0;
        if (i == 0 || QR_MIN(b->y1, prev->y1) - QR_MAX(b->y0, prev->y0) < 0.5f * h) {
            if (n_ln > 0)
                qsort(ln[n_ln - 1].w, (size_t)ln[n_ln - 1].n, sizeof(*w), cmp_word_x);
            ln[n_ln] = (tline){.w = w + at, .n = 0, .y0 = b->y0, .y1 = b->y1, .size = 0};
            n_ln++;
            y0 = b->y0;
            y1 = b->y1;
        } else {
            y0 = QR_MIN(y0, b->y0);
            y1 = QR_MAX(y1, b->y1);
        }
        prev = b;
        tline *L = &ln[n_ln - 1];
        L->y0 = y0;
        L->y1 = y1;
        L->size = QR_MAX(L->size, rows[i]->size);
        for (int k = 0; k < rows[i]->n_words; k++)
            w[at++] = rows[i]->words[k];
        L->n += rows[i]->n_words;
    }
    if (n_ln > 0)
        qsort(ln[n_ln - 1].w, (size_t)ln[n_ln - 1].n, sizeof(*w), cmp_word_x);
    for (int i = 0; i < n_ln; i++)
        if (ln[i].size <= 0)
            ln[i].size = 10.0f;
    return n_ln;
}

/* Segments of a line at gaps wider than SEG_EM. */
static int line_segments(const tline *L, tpiece *sg, int max)
{
    int n = 0;
    for (int k = 0; k < L->n; k++) {
        const qr_bbox *b = &L->w[k]->bbox;
        if (n > 0 && b->x0 - sg[n - 1].x1 < SEG_EM * L->size) {
            sg[n - 1].x1 = QR_MAX(sg[n - 1].x1, b->x1);
            sg[n - 1].w1 = k + 1;
            continue;
        }
        if (n == max)
            break;
        sg[n++] = (tpiece){.w0 = k, .w1 = k + 1, .x0 = b->x0, .x1 = b->x1};
    }
    return n;
}

/* Column boundaries from the lines with the most segments (a spanning header or a
 * label-only row must not merge the columns under it): runs of bins that none of
 * those lines' segments covers, between text. Returns n_cols. */
static int infer_columns(qr_lctx *c, const tline *ln, int n, float *bound)
{
    tpiece sg[64];
    int cnt_seg[MAX_TROWS], sorted[MAX_TROWS];
    float x0 = 1e30f, x1 = -1e30f, min_gap = 1e30f;
    if (n <= 0 || n > MAX_TROWS)
        return 1;
    for (int i = 0; i < n; i++) {
        cnt_seg[i] = line_segments(&ln[i], sg, 64);
        sorted[i] = cnt_seg[i];
        for (int k = 0; k < ln[i].n; k++) {
            x0 = QR_MIN(x0, ln[i].w[k]->bbox.x0);
            x1 = QR_MAX(x1, ln[i].w[k]->bbox.x1);
        }
        min_gap = QR_MIN(min_gap, 0.5f * ln[i].size);
    }
    /* the count reached by a quarter of the lines (at least two of them) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    int k_min = sorted[QR_MIN(n - 1, QR_MAX(1, n / 4))];
    if (k_min < 2)
        k_min = 2;
    int nb = (int)ceilf(x1 - x0) + 1;
    if (nb <= 1 || nb > 20000)
        return 1;
    int *cnt = qr_lx_scratch(c, sizeof(int) * (size_t)nb);
    if (!cnt)
        return 1;
    for (int i = 0; i < n; i++) {
        if (cnt_seg[i] < k_min)
            continue;
        int ns = line_segments(&ln[i], sg, 64);
        for (int s = 0; s < ns; s++)
            for (int x = (int)floorf(sg[s].x0 - x0); x < (int)ceilf(sg[s].x1 - x0) && x < nb; x++)
                cnt[QR_MAX(x, 0)]++;
    }
    int n_cols = 1, x = 0;
    while (x < nb && n_cols < MAX_COLS) {
        if (cnt[x] > 0) {
            x++;
            continue;
        }
        int s = x;
        while (x < nb && cnt[x] == 0)
            x++;
        if (s > 0 && x < nb && (float)(x - s) >= min_gap)
            bound[n_cols++ - 1] = x0 + 0.5f * (float)(s + x);
    }
    return n_cols;
}

/* Ruled boundaries: is boundary k drawn at the height of this line? */
typedef struct tbounds {
    const float *x;   /* [n_cols - 1] */
    const int *rule;  /* [n_cols - 1]: index of the vertical rule, -1 from whitespace */
    int n_cols;
    const struct qr_ruled *g; /* NULL: unruled */
} tbounds;

static int bound_drawn(const tbounds *tb, int k, const tline *L);

static int add_piece(tpiece *out, int n, const tline *L, const tbounds *tb, tpiece p)
{
    p.c0 = column_of(p.x0 + 0.5f, tb->x, tb->n_cols);
    p.c1 = column_of(p.x1 - 0.5f, tb->x, tb->n_cols);
    if (p.c1 < p.c0)
        p.c1 = p.c0;
    /* split at a boundary that falls in a wide enough word gap */
    for (int k = p.c0; k < p.c1; k++) {
        float bx = tb->x[k];
        int ruled = tb->g && tb->rule[k] >= 0, drawn = ruled && bound_drawn(tb, k, L);
        if (ruled && !drawn)
            continue; /* a spanning cell where the rule stops */
        for (int i = p.w0; i + 1 < p.w1; i++) {
            float gx0 = L->w[i]->bbox.x1, gx1 = L->w[i + 1]->bbox.x0;
            if (gx0 <= bx + 1.0f && gx1 >= bx - 1.0f &&
                (drawn || gx1 - gx0 >= SPLIT_EM * L->size)) {
                tpiece a = p, b = p;
                a.w1 = i + 1;
                a.x1 = 0;
                for (int j = a.w0; j < a.w1; j++)
                    a.x1 = QR_MAX(a.x1, L->w[j]->bbox.x1);
                b.w0 = i + 1;
                b.x0 = L->w[i + 1]->bbox.x0;
                n = add_piece(out, n, L, tb, a);
                return add_piece(out, n, L, tb, b);
            }
        }
    }
    if (n > 0 && out[n - 1].c1 >= p.c0) { /* same column as the previous piece */
        out[n - 1].c1 = QR_MAX(out[n - 1].c1, p.c1);
        out[n - 1].w1 = p.w1;
        out[n - 1].x1 = QR_MAX(out[n - 1].x1, p.x1);
        return n;
    }
    if (n < MAX_PIECES)
        out[n++] = p;
    return n;
}

static int line_pieces(const tline *L, const tbounds *tb, tpiece *out)
{
    tpiece sg[MAX_PIECES];
    int ns = line_segments(L, sg, MAX_PIECES), n = 0;
    for (int s = 0; s < ns; s++)
        n = add_piece(out, n, L, tb, sg[s]);
    return n;
}

/* ---- cells and rows ------------------------------------------------------------------ */

typedef struct tcell_b {
    qr_buf text;
    int span;   /* columns, for the cell starting here; 0 elsewhere */
    int rspan;  /* rows, for the cell starting here (0 = 1) */
    int owner;  /* column of the cell covering this position, -1 when empty */
    qr_bbox bbox;
} tcell_b;

typedef struct tgrid {
    int n_rows, n_cols, cap_rows;
    tcell_b *cell; /* [cap_rows * n_cols] */
    float last_y1; /* bottom of the last line added to the last row */
    float *row_sep; /* [cap_rows]: sep_x0 of the rule that started the row, -1 for none */
    unsigned *row_cover; /* [cap_rows]: the columns that rule crosses (tline.cover) */
    int lower_cue; /* a stub line starting lower-case continues the label above */
} tgrid;

static int grid_init(qr_lctx *c, tgrid *g, int cap_rows, int n_cols)
{
    memset(g, 0, sizeof(*g));
    g->cap_rows = cap_rows;
    g->n_cols = n_cols;
    g->cell = qr_lx_scratch(c, sizeof(tcell_b) * (size_t)(cap_rows * n_cols));
    g->row_sep = qr_lx_scratch(c, sizeof(float) * (size_t)cap_rows);
    g->row_cover = qr_lx_scratch(c, sizeof(unsigned) * (size_t)cap_rows);
    return g->cell != NULL && g->row_sep != NULL && g->row_cover != NULL;
}

static void grid_free(tgrid *g)
{
    for (int k = 0; g->cell && k < g->cap_rows * g->n_cols; k++)
        qr_buf_free(&g->cell[k].text);
}

static tcell_b *gcell(const tgrid *g, int r, int k) { return &g->cell[r * g->n_cols + k]; }

static void piece_text(qr_buf *b, const tline *L, const tpiece *p)
{
    for (int i = p->w0; i < p->w1; i++) {
        const qr_word *w = L->w[i];
        if (b->len > 0 && i == p->w0) { /* a new line of the cell: "compa-" + "nies" */
            int space;
            b->len = qr_lx_join_point(b->data, b->len, w->text, &space);
            if (space)
                qr_buf_putc(b, ' ');
        } else if (b->len > 0) {
            qr_buf_putc(b, ' ');
        }
        qr_buf_append(b, w->text, w->len);
    }
}

static qr_bbox piece_box(const tline *L, const tpiece *p)
{
    qr_bbox b = L->w[p->w0]->bbox;
    for (int i = p->w0 + 1; i < p->w1; i++) {
        const qr_bbox *x = &L->w[i]->bbox;
        b.x0 = QR_MIN(b.x0, x->x0);
        b.y0 = QR_MIN(b.y0, x->y0);
        b.x1 = QR_MAX(b.x1, x->x1);
        b.y1 = QR_MAX(b.y1, x->y1);
    }
    return b;
}

static void grid_new_row(tgrid *g)
{
    int r = g->n_rows++;
    for (int k = 0; k < g->n_cols; k++) {
        gcell(g, r, k)->owner = -1;
        gcell(g, r, k)->span = 0;
    }
}

static void grid_add_line(tgrid *g, const tline *L, const tpiece *p, int np)
{
    int r = g->n_rows - 1;
    for (int i = 0; i < np; i++) {
        int k = gcell(g, r, p[i].c0)->owner;
        qr_bbox pb = piece_box(L, &p[i]);
        if (k < 0) {
            k = p[i].c0;
            int e = k;
            while (e < p[i].c1 && gcell(g, r, e + 1)->owner < 0)
                e++;
            for (int j = k; j <= e; j++)
                gcell(g, r, j)->owner = k;
            gcell(g, r, k)->span = e - k + 1;
            gcell(g, r, k)->bbox = pb;
        } else {
            tcell_b *cb = gcell(g, r, k);
            int e = k + cb->span - 1;
            while (e < p[i].c1 && gcell(g, r, e + 1)->owner < 0)
                gcell(g, r, ++e)->owner = k;
            cb->span = e - k + 1;
            cb->bbox.x0 = QR_MIN(cb->bbox.x0, pb.x0);
            cb->bbox.y0 = QR_MIN(cb->bbox.y0, pb.y0);
            cb->bbox.x1 = QR_MAX(cb->bbox.x1, pb.x1);
            cb->bbox.y1 = QR_MAX(cb->bbox.y1, pb.y1);
        }
        piece_text(&gcell(g, r, k)->text, L, &p[i]);
    }
    g->last_y1 = L->y1;
}

/* A number, a percentage, a year range, "(78)", "+14", "n.a." is not (letters). */
static int numeric_text(const char *s, size_t n)
{
    int digits = 0, letters = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        digits += ch >= '0' && ch <= '9';
        letters += (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
    }
    return digits > 0 && 2 * letters <= digits;
}

static int piece_numeric(const tline *L, const tpiece *p)
{
    for (int i = p->w0; i < p->w1; i++)
        if (!numeric_text(L->w[i]->text, L->w[i]->len))
            return 0;
    return 1;
}

static int starts_lower(const tline *L, const tpiece *p)
{
    return qr_lx_utf8_is_lower(L->w[p->w0]->text);
}

/* Does a label end mid-phrase ("... including Competition, External", "... in the")? */
static int label_open(const qr_buf *b)
{
    static const char *const conn[] = {"and", "or", "of", "the", "for", "in", "to", "with",
                                       "by", "on", "a", "an", "from", "at", "as", "per", NULL};
    if (b->len == 0)
        return 0;
    char last = b->data[b->len - 1];
    if (strchr(",;-/(&+", last))
        return 1;
    size_t s = b->len;
    while (s > 0 && b->data[s - 1] != ' ')
        s--;
    for (int i = 0; conn[i]; i++)
        if (strlen(conn[i]) == b->len - s && memcmp(conn[i], b->data + s, b->len - s) == 0)
            return 1;
    return 0;
}

static int cell_filled(const tgrid *g, int r, int k)
{
    int o = gcell(g, r, k)->owner;
    return o >= 0 && gcell(g, r, o)->text.len > 0;
}

static int cell_numeric(const tgrid *g, int r, int k)
{
    int o = gcell(g, r, k)->owner;
    if (o < 0)
        return 0;
    const qr_buf *b = &gcell(g, r, o)->text;
    return b->len > 0 && numeric_text(b->data, b->len);
}

/* Header lines: does line L continue the header row (wrapped header cells: each piece
 * of L under exactly one cell of the row, no two under the same one)? */
static int header_continues(const tgrid *g, const tline *L, const tpiece *p, int np)
{
    int r = g->n_rows - 1, used[MAX_COLS] = {0};
    for (int i = 0; i < np; i++) {
        int hit = -1, n_hit = 0;
        for (int k = 0; k < g->n_cols; k++) {
            const tcell_b *cb = gcell(g, r, k);
            if (cb->span <= 0 || cb->text.len == 0)
                continue;
            if (p[i].x0 < cb->bbox.x1 - 0.5f && p[i].x1 > cb->bbox.x0 + 0.5f) {
                hit = k;
                n_hit++;
            }
        }
        if (n_hit != 1 || used[hit])
            return 0;
        used[hit] = 1;
    }
    (void)L;
    return np > 0;
}

/* A number of line L under a number of the last row: L is a row of its own. */
static int numeric_clash(const tgrid *g, const tline *L, const tpiece *p, int np)
{
    int r = g->n_rows - 1;
    for (int i = 0; i < np; i++)
        if (p[i].c0 > 0 && piece_numeric(L, &p[i]) && cell_numeric(g, r, p[i].c0))
            return 1;
    return 0;
}

/* Does L's stub text continue the last row's label (lower-case start, or the label
 * ends mid-phrase) while not sitting on the baseline of L's other cells (a label centred
 * beside two rows)? */
static int label_continues(const tgrid *g, const tline *L, const tpiece *p, int np)
{
    int r = g->n_rows - 1;
    if (np < 2 || p[0].c0 != 0 || !cell_filled(g, r, 0))
        return 0;
    qr_bbox a = piece_box(L, &p[0]), b = piece_box(L, &p[1]);
    if (fabsf((a.y0 + a.y1) - (b.y0 + b.y1)) < 0.3f * L->size)
        return 0;
    return (g->lower_cue && starts_lower(L, &p[0])) ||
           label_open(&gcell(g, r, gcell(g, r, 0)->owner)->text);
}

/* Body lines: does line L continue the last row (a wrapped cell, or the data of a
 * label that wraps over several lines)? */
static int body_continues(const tgrid *g, const tline *L, const tpiece *p, int np)
{
    int r = g->n_rows - 1, a0 = cell_filled(g, r, 0), others = 0;
    for (int k = 1; k < g->n_cols; k++)
        others += cell_filled(g, r, k) && gcell(g, r, k)->owner == k;
    int b0 = np > 0 && p[0].c0 == 0;
    if (!b0) {
        if (a0 && others == 0)
            return 1; /* data beside a label's middle line */
        for (int i = 0; i < np; i++)
            if (piece_numeric(L, &p[i]) || !cell_filled(g, r, p[i].c0) ||
                cell_numeric(g, r, p[i].c0))
                return 0;
        return np > 0;
    }
    if (!a0)
        return 0;
    const qr_buf *lab = &gcell(g, r, gcell(g, r, 0)->owner)->text;
    if (!(g->lower_cue && starts_lower(L, &p[0])) && !label_open(lab))
        return 0;
    for (int i = 1; i < np; i++)
        if (cell_filled(g, r, p[i].c0) && (piece_numeric(L, &p[i]) || cell_numeric(g, r, p[i].c0)))
            return 0;
    return 1;
}

/* Rows from lines: a new row at each line unless it continues the last one. With
 * trust_rules, a ruled interval is one row whatever its lines. */
static void build_rows(tgrid *g, const tline *ln, int n, const tbounds *tb, int trust_rules)
{
    tpiece p[MAX_PIECES];
    int label_lines = 0, body_start = 0, lower = 0;
    for (int i = 0; i < n; i++) {
        int np = line_pieces(&ln[i], tb, p);
        label_lines += np > 0 && p[0].c0 == 0;
        lower += np > 0 && p[0].c0 == 0 && starts_lower(&ln[i], &p[0]);
    }
    /* lower-case stub text is a continuation cue only where labels start upper-case */
    g->lower_cue = 2 * lower < label_lines;
    if (2 * label_lines >= n) {
        body_start = n;
        for (int i = 0; i < n && body_start == n; i++) {
            int np = line_pieces(&ln[i], tb, p);
            if (np >= 2 && p[0].c0 == 0)
                body_start = i;
        }
    }
    g->n_rows = 0;
    for (int i = 0; i < n; i++) {
        int np = line_pieces(&ln[i], tb, p), fresh = 1;
        if (np == 0)
            continue;
        if (g->n_rows > 0 && g->n_rows < g->cap_rows) {
            float gap = ln[i].y0 - g->last_y1;
            if (ln[i].sep)
                fresh = 1;
            else if (trust_rules)
                fresh = 0;
            else if (gap > 1.0f * ln[i].size)
                fresh = 1;
            else if (i < body_start)
                fresh = !header_continues(g, &ln[i], p, np);
            else
                fresh = !body_continues(g, &ln[i], p, np);
        }
        if (!fresh && trust_rules && numeric_clash(g, &ln[i], p, np))
            fresh = 1; /* two rows of numbers between the same rules */
        if (fresh && g->n_rows > 0 && np >= 2 && !ln[i].sep && i >= body_start &&
            numeric_clash(g, &ln[i], p, np) && label_continues(g, &ln[i], p, np)) {
            /* a label wrapping beside two rows ("Chronic fatigue / syndrome" beside
             * Count and Percentage): its second line stays with the label */
            grid_add_line(g, &ln[i], p, 1);
            memmove(p, p + 1, sizeof(*p) * (size_t)(np - 1));
            np--;
        }
        if (fresh) {
            if (g->n_rows == g->cap_rows)
                break;
            grid_new_row(g);
            g->row_sep[g->n_rows - 1] = ln[i].sep ? ln[i].sep_x0 : -1.0f;
            g->row_cover[g->n_rows - 1] = ln[i].sep ? ln[i].cover : 0;
        }
        grid_add_line(g, &ln[i], p, np);
    }
}

/* Is cell (r, k) the only one filled in its row? (A title boxed over the table by a rule
 * under it spans the columns even where it crosses a column boundary.) */
static int alone_in_row(const tgrid *g, int r, int k)
{
    for (int j = 0; j < g->n_cols; j++)
        if (j != k && gcell(g, r, j)->owner == j && cell_filled(g, r, j))
            return 0;
    return 1;
}

/* Header rows (above the first row with a number): a text cell centred over a run of
 * columns that are empty in its row, with sub-headers or data under at least two of
 * them, spans that run ("Scores" over "A B C": centred, so it crosses no boundary). */
static void widen_header_spans(tgrid *g, const tbounds *tb, float tx0, float tx1)
{
    for (int r = 0; r + 1 < g->n_rows; r++) {
        for (int k = 0; k < g->n_cols; k++)
            if (cell_numeric(g, r, k))
                return;
        for (int k = 0; k < g->n_cols; k++) {
            tcell_b *cb = gcell(g, r, k);
            if (cb->span < 1 || cb->owner != k || cb->text.len == 0 ||
                (cb->span > 1 && !(r == 0 && g->row_sep[1] >= 0 && alone_in_row(g, r, k))))
                continue;
            float cx = 0.5f * (cb->bbox.x0 + cb->bbox.x1);
            int e = k + cb->span - 1, best_a = k, best_b = e;
            for (int a = k; a >= 0; a--) {
                if (a < k && gcell(g, r, a)->owner >= 0)
                    break;
                for (int b = e; b < g->n_cols; b++) {
                    if (b > e && gcell(g, r, b)->owner >= 0)
                        break;
                    if (b - a < 1)
                        continue;
                    float x0 = a == 0 ? tx0 : tb->x[a - 1], x1 = b == g->n_cols - 1 ? tx1 : tb->x[b];
                    int under = 0;
                    for (int j = a; j <= b; j++)
                        under += cell_filled(g, r + 1, j) && gcell(g, r + 1, j)->owner == j;
                    /* a cell across a boundary already: only a title over all */
                    int whole = cb->span == 1 || (a == 0 && b == g->n_cols - 1);
                    if (whole && under >= 2 && fabsf(cx - 0.5f * (x0 + x1)) <= 0.1f * (x1 - x0) &&
                        cb->bbox.x1 - cb->bbox.x0 < x1 - x0 && b - a > best_b - best_a) {
                        best_a = a;
                        best_b = b;
                    }
                }
            }
            if (best_a == k && best_b == e)
                continue;
            if (best_a < k) { /* move the cell to the run's first column */
                tcell_b *nb = gcell(g, r, best_a);
                qr_buf t = nb->text;
                nb->text = cb->text;
                cb->text = t;
                nb->bbox = cb->bbox;
                cb->span = 0;
            }
            gcell(g, r, best_a)->span = best_b - best_a + 1;
            for (int j = best_a; j <= best_b; j++)
                gcell(g, r, j)->owner = best_a;
            k = best_b;
        }
    }
}

/* Ruled tables: a stub label whose rows below start at rules that stop short of the stub
 * column (and have no label of their own) spans those rows ("Allergy problems" beside
 * its Count and Percentage rows). The same in any other column: a cell whose rows below
 * are empty in its column and start at rules with a gap over that column (drawn with
 * \cline around a \multirow cell) spans them. */
static void row_spans(tgrid *g, const tbounds *tb)
{
    if (g->n_cols < 2)
        return;
    for (int k = 0; k < g->n_cols; k++) {
        for (int r = 0; r < g->n_rows; r++) {
            tcell_b *cb = gcell(g, r, k);
            if (cb->owner != k || cb->span != 1 || cb->text.len == 0)
                continue;
            int n = 1;
            while (r + n < g->n_rows && gcell(g, r + n, k)->owner < 0 && g->row_sep[r + n] >= 0 &&
                   (k == 0 ? g->row_sep[r + n] >= tb->x[0] - 2.0f
                           : !(g->row_cover[r + n] & (1u << k))))
                n++;
            cb->rspan = n;
            r += n - 1;
        }
    }
}

/* ---- what the text of a candidate table is set in ------------------------------------ */

typedef struct ttraits {
    long chars, math, mono;        /* characters: all, in math fonts, typewriter */
    long words, small;             /* characters of words without digits: all, tiny */
    int src_pieces;                /* pieces holding a source-code line (below) */
    int mono_pieces;               /* pieces with typewriter letters or digits */
    int fig_caption;               /* a line starting "Figure N" / "Fig. N" */
    int interleaved;               /* lines with a piece switching type >= 3 times */
} ttraits;

/* A math font: TeX's math italic, symbols and extension fonts and the AMS symbol fonts
 * (CMMI, CMSY, CMEX, MSAM, MSBM and their Latin Modern / Type 1 versions), OpenType math
 * fonts ("...Math..."). Digits and upright text in math mode are set in the text font. */
static int math_word(const qr_word *w)
{
    static const char *const names[] = {"cmmi", "cmsy", "cmex", "msam", "msbm", "math",
                                        "lmmi", "lmsy", "lmex", "eufm", "rsfs"};
    return qr_layout_font_has(w, names, QR_ARRAY_LEN(names));
}

/* Is the typewriter text of words [w0, w1) a line of source code rather than a cell:
 * brackets that do not close on the line ("\sum_{\substack{", "0<j<n}}"), an explicit
 * line break "\\" or an alignment tab "&" amid the code ("\imat{2} \\ a & b"), a line
 * that ends in "\\", or a line comment ("% prints Fred")? A command in a cell
 * ("\qty[\typical]", "\begin{center}") closes what it opens, and a bracket alone is the
 * symbol a table of symbols names ("(", "\{"). */
static int source_line(const tline *L, int w0, int w1, int *has_mono)
{
    int depth[3] = {0, 0, 0}, neg = 0, mono = 0, alnum = 0, tab = 0;
    const char *open = "{[(", *close = "}])";
    const qr_word *last = NULL;
    for (int k = w0; k < w1; k++) {
        const qr_word *w = L->w[k];
        if (!qr_layout_mono_word(w))
            continue;
        if (mono == 0 && strcmp(w->text, "%") == 0 && k + 1 < w1) {
            *has_mono = 1;
            return 1;
        }
        mono++;
        last = w;
        tab |= strcmp(w->text, "&") == 0 || strcmp(w->text, "\\\\") == 0;
        for (const char *s = w->text; *s; s++) {
            alnum |= (*s >= '0' && *s <= '9') || ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z');
            if (*s == '\\' && s[1]) {
                s++; /* "\\{", "\\\\": escaped */
                continue;
            }
            const char *o = strchr(open, *s), *e = strchr(close, *s);
            if (o)
                depth[o - open]++;
            else if (e && --depth[e - close] < 0)
                neg = 1;
        }
    }
    if (!last || !alnum)
        return 0;
    *has_mono = 1;
    size_t n = last->len;
    int line_break = n >= 2 && last->text[n - 1] == '\\' && last->text[n - 2] == '\\';
    return neg || depth[0] > 0 || depth[1] > 0 || depth[2] > 0 || line_break ||
           (tab && mono >= 3);
}

static int figure_caption(const tline *L)
{
    if (L->n < 2)
        return 0;
    const char *t = L->w[0]->text, *d = L->w[1]->text;
    int word = strcmp(t, "Figure") == 0 || strcmp(t, "Fig.") == 0 || strcmp(t, "FIGURE") == 0;
    /* "3", "3.2:", "B.20:", "S1." */
    int num = d[0] >= '0' && d[0] <= '9';
    num |= d[0] >= 'A' && d[0] <= 'Z' && (d[1] == '.' || (d[1] >= '0' && d[1] <= '9')) &&
           strpbrk(d, "0123456789") != NULL;
    return word && num;
}

/* How often the type changes between typewriter and other type inside the piece:
 * "\ss ß \l ł" (commands, each beside the glyph it gives) changes three times; a
 * command with its result in one cell ("\qty[\typical] → [ ]") once. */
static int type_switches(const tline *L, const tpiece *p)
{
    int n = 0;
    for (int k = p->w0 + 1; k < p->w1; k++)
        n += qr_layout_mono_word(L->w[k]) != qr_layout_mono_word(L->w[k - 1]);
    return n;
}

static void table_traits(const qr_lctx *c, const tline *ln, int n, const tbounds *tb,
                         ttraits *tr)
{
    tpiece p[MAX_PIECES];
    memset(tr, 0, sizeof(*tr));
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < ln[i].n; k++) {
            const qr_word *w = ln[i].w[k];
            tr->chars += (long)w->len;
            tr->math += math_word(w) ? (long)w->len : 0;
            tr->mono += qr_layout_mono_word(w) ? (long)w->len : 0;
            /* (the small code numbers of a font chart beside its glyphs are digits) */
            if (!strpbrk(w->text, "0123456789")) {
                tr->words += (long)w->len;
                tr->small += w->size < 0.65f * c->body ? (long)w->len : 0;
            }
        }
        int np = line_pieces(&ln[i], tb, p), inter = 0;
        for (int j = 0; j < np; j++) {
            int m = 0;
            tr->src_pieces += source_line(&ln[i], p[j].w0, p[j].w1, &m);
            tr->mono_pieces += m;
            inter |= type_switches(&ln[i], &p[j]) >= 3;
        }
        tr->interleaved += inter;
        tr->fig_caption |= figure_caption(&ln[i]);
    }
}

/* Text that lines up like a table but is none (NULL: it may be one): what is wrong. */
static const char *not_a_table(const ttraits *tr, int n_lines)
{
    if (tr->chars <= 0)
        return NULL;
    if (tr->fig_caption)
        return "figure"; /* a figure's panels and labels around its caption */
    if (2 * tr->math >= tr->chars)
        return "formula"; /* a display: a matrix, an array, aligned equations */
    if (2 * tr->small >= tr->words && tr->words > 0)
        return "miniature"; /* slide thumbnails, a scaled-down page or picture */
    /* source beside what it typesets; a table of options may hold a "{...}" value that
     * its cell wraps */
    if (tr->src_pieces > 0 && 4 * tr->src_pieces >= tr->mono_pieces)
        return "code";
    /* a listing of commands, each set beside what it gives, run on in lines */
    if (2 * tr->interleaved >= n_lines)
        return "code";
    return NULL;
}

static int word_count(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += s[i] != ' ' && (i == 0 || s[i - 1] == ' ');
    return w;
}

/* Does the grid look like a table rather than prose in columns? Long cells are counted
 * per line (a wrapped cell of a ruled table is long but each of its lines is short). */
/* Dot leaders (". . . . 63", "....."): a table of contents or an index, not a table. */
static int has_leader(const tline *L)
{
    int run = 0;
    for (int k = 0; k < L->n; k++) {
        const char *t = L->w[k]->text;
        int dots = 0;
        while (t[dots] == '.')
            dots++;
        if (t[dots] == '\0' && dots >= 4)
            return 1; /* "....." */
        if (t[dots] == '\0' && dots == 1) {
            if (++run >= 4)
                return 1; /* ". . . ." ("..": a missing value) */
        } else {
            run = 0;
        }
    }
    return 0;
}

static int grid_plausible(const tgrid *g, const tline *ln, int n, const tbounds *tb, int ruled)
{
    int leaders = 0;
    for (int i = 0; i < n; i++)
        leaders += has_leader(&ln[i]);
    if (5 * leaders >= n)
        return 0;
    int multi_rows = 0, used_cols[MAX_COLS] = {0}, n_used = 0, pieces = 0, long_p = 0;
    int filled = 0, glyphs = 0;
    tpiece p[MAX_PIECES];
    for (int r = 0; r < g->n_rows; r++) {
        int in_row = 0;
        for (int k = 0; k < g->n_cols; k++) {
            const tcell_b *cb = gcell(g, r, k);
            if (cb->text.failed)
                return 0;
            if (cb->span > 0 && cb->text.len > 0) {
                in_row++;
                used_cols[k] = 1;
                filled++;
                int alnum = 0, high = 0, unmapped = 0;
                for (size_t j = 0; j < cb->text.len; j++) {
                    const unsigned char *u = (const unsigned char *)cb->text.data + j;
                    alnum += (u[0] >= '0' && u[0] <= '9') ||
                             ((u[0] | 0x20) >= 'a' && (u[0] | 0x20) <= 'z');
                    high |= u[0] >= 0x80;
                    /* control characters, U+FFFD: glyphs with no text (the line and
                     * arrow pieces of a picture drawn with a font) */
                    unmapped += u[0] < 0x20 || (u[0] == 0xEF && j + 2 < cb->text.len &&
                                                u[1] == 0xBF && u[2] == 0xBD);
                }
                /* math symbols, unmapped glyphs: a formula, or a drawing when they
                 * outnumber the letters ("-", "..": missing values; a brace fill beside a
                 * cell's text leaves it a cell) */
                glyphs += (!alnum && high) || unmapped > alnum;
            }
        }
        multi_rows += in_row >= 2;
    }
    for (int k = 0; k < g->n_cols; k++)
        n_used += used_cols[k];
    for (int i = 0; i < n; i++) {
        int np = line_pieces(&ln[i], tb, p);
        for (int j = 0; j < np; j++) {
            pieces++;
            long_p += p[j].w1 - p[j].w0 >= 8;
        }
    }
    (void)word_count;
    /* rules vouch for a table with spanning or label-only rows, not for one with no row
     * of two cells (a boxed macro description, a figure frame) */
    if (10 * glyphs >= 3 * filled)
        return 0;
    /* without rules, two rows of two cells at least, over three lines (a description
     * list's term beside the first line of its paragraph makes one such row; a formula
     * beside its source two lines) */
    if (!ruled && (multi_rows < 2 || n < 3))
        return 0;
    return n_used >= 2 && g->n_rows >= 2 && multi_rows >= 1 &&
           (ruled ? 4 * multi_rows >= g->n_rows : 2 * multi_rows >= g->n_rows) &&
           10 * long_p <= 3 * pieces;
}

/* Emit the grid as a table block taking rows[0..n). Empty columns are dropped. */
static void emit_grid(qr_lctx *c, const tgrid *g, qr_lrow *const *rows, int n)
{
    int map[MAX_COLS], nc = 0, n_cells = 0;
    for (int k = 0; k < g->n_cols; k++) {
        int used = 0;
        for (int r = 0; r < g->n_rows && !used; r++)
            used = gcell(g, r, k)->owner >= 0;
        map[k] = used ? nc++ : -1;
    }
    for (int k = 0; k < g->n_rows * g->n_cols; k++)
        n_cells += g->cell[k].span > 0 && g->cell[k].text.len > 0;
    qr_block *b = qr_lx_block(c, QR_BLK_TABLE, rows[0]);
    for (int i = 1; i < n && b; i++)
        qr_lx_take(c, rows[i]);
    const char **cells = qr_arena_alloc(c->arena, sizeof(char *) * (size_t)(g->n_rows * nc));
    qr_tcell *tc = qr_arena_alloc(c->arena, sizeof(qr_tcell) * (size_t)(n_cells + 1));
    if (!b || !cells || !tc) {
        c->nomem = 1;
        return;
    }
    int t = 0;
    for (int r = 0; r < g->n_rows; r++) {
        for (int k = 0; k < g->n_cols; k++) {
            if (map[k] < 0)
                continue;
            const tcell_b *cb = gcell(g, r, k);
            int has = cb->span > 0 && cb->text.len > 0;
            cells[r * nc + map[k]] = has ? qr_lx_strdup(c, cb->text.data, cb->text.len) : "";
            if (!cells[r * nc + map[k]])
                return;
            if (has) {
                int last = map[k];
                for (int j = k; j < k + cb->span; j++)
                    last = map[j] >= 0 ? map[j] : last;
                tc[t++] = (qr_tcell){.row = r, .col = map[k],
                                     .row_span = cb->rspan > 1 ? cb->rspan : 1,
                                     .col_span = last - map[k] + 1,
                                     .text = cells[r * nc + map[k]], .bbox = cb->bbox};
            }
        }
    }
    b->n_rows = g->n_rows;
    b->n_cols = nc;
    b->cells = cells;
    b->tcells = tc;
    b->n_tcells = t;
    b->text = "";
}

static int is_vrule(const qr_bbox *b);

/* Vertical rules along the region's left (*left) and right (*right) edges. */
static void side_rules(const qr_page *pg, const struct qr_ruled *rg, int *left, int *right)
{
    *left = *right = 0;
    float h = rg->box.y1 - rg->box.y0;
    for (int i = 0; pg && i < pg->n_rules; i++) {
        const qr_bbox *v = &pg->rules[i];
        if (!is_vrule(v))
            continue;
        float x = 0.5f * (v->x0 + v->x1);
        float ov = QR_MIN(v->y1, rg->box.y1) - QR_MAX(v->y0, rg->box.y0);
        if (ov < 0.3f * h)
            continue;
        *left |= fabsf(x - rg->box.x0) <= 3.0f;
        *right |= fabsf(x - rg->box.x1) <= 3.0f;
    }
}

/* Does the region have vertical rules along both its left and right edges (a box)? */
static int framed(const qr_page *pg, const struct qr_ruled *rg)
{
    int left, right;
    side_rules(pg, rg, &left, &right);
    return left && right;
}

/* Code beside its typeset result: lines of the region carry on across one of its side
 * rules in a typewriter font (the LaTeX source set beside the framed box that shows
 * what it gives). A table's text stays inside its outer frame; what is outside the
 * frame on the same lines, in code type, makes the frame an example box, not a table's
 * border (a chart's labels beside a framed table are not code and leave it a table). */
static int code_beside_frame(const qr_page *pg, const struct qr_ruled *rg,
                             qr_lrow *const *rows, int n)
{
    int left, right;
    long out = 0, out_mono = 0;
    side_rules(pg, rg, &left, &right);
    for (int i = 0; i < n && (left || right); i++) {
        for (int k = 0; k < rows[i]->n_words; k++) {
            const qr_word *w = rows[i]->words[k];
            if ((left && w->bbox.x1 < rg->box.x0 - 1.0f) ||
                (right && w->bbox.x0 > rg->box.x1 + 1.0f)) {
                out += (long)w->len;
                out_mono += qr_layout_mono_word(w) ? (long)w->len : 0;
            }
        }
    }
    return out > 0 && 10 * out_mono >= 9 * out;
}

static int is_hrule(const qr_bbox *b);

/* Is there a horizontal rule across the region between y0 and y1? */
static int hrule_between(const qr_page *pg, const struct qr_ruled *rg, float y0, float y1)
{
    for (int k = 0; k < pg->n_rules; k++) {
        const qr_bbox *h = &pg->rules[k];
        float y = 0.5f * (h->y0 + h->y1);
        if (is_hrule(h) && y > y0 && y < y1 &&
            QR_MIN(h->x1, rg->box.x1) - QR_MAX(h->x0, rg->box.x0) >= 10.0f)
            return 1;
    }
    return 0;
}

/* A drawing with labels (a page-layout diagram) in a ruled region, not a table: a band
 * across the region taller than three lines with neither text nor a rule in it, and
 * most lines a single piece (the labels). A table's lines follow each other or are
 * kept apart by rules (an empty grid), and beside a chart that its rules reach over
 * are mostly rows of several cells. */
static int labelled_drawing(const qr_lctx *c, const struct qr_ruled *rg, const tline *ln,
                            int n, const tbounds *tb)
{
    tpiece p[MAX_PIECES];
    float bottom = ln[0].y1;
    int band = 0, multi = 0;
    for (int i = 0; rg && i < n; i++) {
        if (i > 0 && ln[i].y0 - bottom > 3.0f * QR_MAX(ln[i].size, ln[i - 1].size) &&
            !hrule_between(c->pages[rg->page], rg, bottom, ln[i].y0))
            band = 1;
        bottom = QR_MAX(bottom, ln[i].y1);
        multi += line_pieces(&ln[i], tb, p) >= 2;
    }
    return band && 2 * multi < n;
}

/* Mark the x bins [lo, lo + nb) that a row of the page covers: its words and the word
 * gaps narrower than a table's column gap. */
static void row_cover(const qr_lrow *r, float lo, unsigned char *bin, int nb)
{
    for (int k = 0; k < r->n_words; k++) {
        float a = r->words[k]->bbox.x0, b = r->words[k]->bbox.x1;
        if (k + 1 < r->n_words && r->words[k + 1]->bbox.x0 - b < SEG_EM * r->size)
            b = r->words[k + 1]->bbox.x0;
        for (int x = QR_MAX(0, (int)ceilf(a - lo)); x < nb && lo + (float)x < b; x++)
            bin[x] = 1;
    }
}

/* Is the white between x0 and x1 (a column gap of the candidate) a gutter of the page
 * that the page's columns were not found at: on a page read as one column, no row
 * anywhere crosses some x in it, and rows above or below the candidate lie wholly on
 * either side of that x (three at least each)? The "table" is then rows of independent
 * columns (a cheat sheet's) side by side; a table's columns end where the prose above
 * or below it runs across them. */
static int page_gutter(const qr_lctx *c, const qr_lrow *in, float x0, float x1, float y0,
                       float y1)
{
    unsigned char bin[256];
    int nb = (int)(x1 - x0), a = (int)(in - c->rows), b = a;
    if (nb < 2 || a < 0 || a >= c->n_rows)
        return 0;
    nb = QR_MIN(nb, (int)sizeof(bin));
    memset(bin, 0, (size_t)nb);
    while (a > 0 && c->rows[a - 1].page == in->page)
        a--;
    while (b + 1 < c->n_rows && c->rows[b + 1].page == in->page)
        b++;
    for (int i = a; i <= b; i++) {
        if (c->rows[i].col > 0)
            return 0; /* columns were found: the layout knows the page */
        row_cover(&c->rows[i], x0, bin, nb);
    }
    for (int x = 1; x < nb - 1; x++) {
        if (bin[x])
            continue;
        float gx = x0 + (float)x;
        int left = 0, right = 0;
        for (int i = a; i <= b; i++) {
            const qr_lrow *r = &c->rows[i];
            if (r->bbox.y1 < y0 || r->bbox.y0 > y1) {
                left += r->bbox.x1 <= gx;
                right += r->bbox.x0 >= gx;
            }
        }
        return left >= 3 && right >= 3;
    }
    return 0;
}

/* The white of column boundary k over the lines: from the right end of the pieces
 * before it to the left end of those after it. */
static void bound_gap(const tline *ln, int n, const tbounds *tb, int k, float *gx0, float *gx1)
{
    tpiece p[MAX_PIECES];
    *gx0 = -1e30f;
    *gx1 = 1e30f;
    for (int i = 0; i < n; i++) {
        int np = line_pieces(&ln[i], tb, p);
        for (int j = 0; j < np; j++) {
            if (p[j].c1 <= k)
                *gx0 = QR_MAX(*gx0, p[j].x1);
            else if (p[j].c0 > k)
                *gx1 = QR_MIN(*gx1, p[j].x0);
        }
    }
}

/* Does the text end in a list of page references ("hsv, 39, 50", "\\binom , 13",
 * "polyglossia , 20, 26–29"): a term, a comma, then numbers or ranges? */
static int page_refs(const char *s, size_t n)
{
    int commas = 0;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    for (;;) {
        size_t d = n;
        while (n > 0 && s[n - 1] >= '0' && s[n - 1] <= '9')
            n--;
        if (n == d)
            return 0; /* no number where one must be */
        if (n >= 3 && memcmp(s + n - 3, "\xe2\x80\x93", 3) == 0) { /* "26–29" */
            n -= 3;
            continue;
        }
        if (n > 0 && s[n - 1] == '-') {
            n--;
            continue;
        }
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (n == 0 || s[n - 1] != ',')
            return 0;
        n--;
        commas++;
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (n > 0 && !(s[n - 1] >= '0' && s[n - 1] <= '9'))
            return commas > 0; /* the term before the first reference */
        if (n == 0)
            return 0;
    }
}

/* An index set in columns, not a table: at least half the cells are terms with their
 * page references, in two columns or more. */
static int index_columns(const tgrid *g)
{
    int filled = 0, refs = 0, cols = 0;
    for (int k = 0; k < g->n_cols; k++) {
        int in_col = 0;
        for (int r = 0; r < g->n_rows; r++) {
            const tcell_b *cb = gcell(g, r, k);
            if (cb->owner != k || cb->span <= 0 || cb->text.len == 0)
                continue;
            filled++;
            if (page_refs(cb->text.data, cb->text.len)) {
                refs++;
                in_col = 1;
            }
        }
        cols += in_col;
    }
    return cols >= 2 && 2 * refs >= filled;
}

/* Lines -> columns -> rows; emit when it looks like a table. Returns 1 when emitted, -1
 * when the region is a framed box that is not a table (its lines are then no table of
 * aligned text either), 0 otherwise. */
static int build_table(qr_lctx *c, qr_lrow **rows, int n, const struct qr_ruled *rg,
                       const float *vx, int n_vx)
{
    tline *ln = qr_lx_scratch(c, sizeof(tline) * (size_t)(n + 1));
    float bound[MAX_COLS], ws[MAX_COLS];
    int rule[MAX_COLS];
    tgrid g;
    int ok = 0;
    if (!ln || n < 2)
        return 0;
    int n_ln = build_lines(c, rows, n, ln);
    if (n_ln < 2)
        return 0;
    tbounds tb = {.x = bound, .rule = rule, .g = NULL};
    int n_ws = infer_columns(c, ln, n_ln, ws) - 1;
    if (n_vx >= MAX_COLS) { /* (whitespace columns are added beside the rules below) */
        tb.n_cols = QR_MIN(n_vx + 1, MAX_COLS);
        memcpy(bound, vx, sizeof(float) * (size_t)(tb.n_cols - 1));
        for (int k = 0; k < tb.n_cols - 1; k++)
            rule[k] = k;
        tb.g = rg;
    } else if (n_vx >= 1) {
        /* the drawn rules, and whitespace columns where there is no rule */
        int nb = 0, iv = 0, iw = 0;
        while ((iv < n_vx || iw < n_ws) && nb < MAX_COLS - 1) {
            if (iw >= n_ws || (iv < n_vx && vx[iv] <= ws[iw])) {
                rule[nb] = iv;
                bound[nb++] = vx[iv++];
                continue;
            }
            int near = 0;
            for (int v = 0; v < n_vx; v++)
                near |= fabsf(vx[v] - ws[iw]) < 1.5f * ln[0].size;
            if (!near) {
                rule[nb] = -1;
                bound[nb++] = ws[iw];
            }
            iw++;
        }
        tb.n_cols = nb + 1;
        tb.g = rg;
    } else {
        tb.n_cols = n_ws + 1;
        memcpy(bound, ws, sizeof(float) * (size_t)n_ws);
        for (int k = 0; k < n_ws; k++)
            rule[k] = -1;
    }
    if (tb.n_cols < 2)
        return 0;
    if (labelled_drawing(c, rg, ln, n_ln, &tb))
        return -1; /* a drawing with labels */
    for (int k = 0; !rg && k < tb.n_cols - 1; k++) {
        float gx0, gx1;
        bound_gap(ln, n_ln, &tb, k, &gx0, &gx1);
        if (gx0 < gx1 && gx1 < 1e29f &&
            page_gutter(c, rows[0], gx0, gx1, ln[0].y0, ln[n_ln - 1].y1))
            return -1; /* independent columns side by side */
    }
    int n_sep = 0;
    if (rg) {
        const qr_page *pg = c->pages[rg->page];
        for (int i = 1; i < n_ln; i++) {
            float ya = ln[i - 1].y1 - 0.3f * ln[i - 1].size, yb = ln[i].y0 + 0.3f * ln[i].size;
            ln[i].sep_x0 = 1e30f;
            for (int k = 0; k < pg->n_rules; k++) {
                const qr_bbox *h = &pg->rules[k];
                float y = 0.5f * (h->y0 + h->y1);
                if (is_hrule(h) && y > ya && y < yb &&
                    QR_MIN(h->x1, rg->box.x1) - QR_MAX(h->x0, rg->box.x0) >= 10.0f) {
                    ln[i].sep = 1;
                    ln[i].sep_x0 = QR_MIN(ln[i].sep_x0, h->x0);
                    for (int j = 0; j < tb.n_cols && j < 32; j++) {
                        float lo = j == 0 ? rg->box.x0 : bound[j - 1];
                        float hi = j == tb.n_cols - 1 ? rg->box.x1 : bound[j];
                        float mid = 0.5f * (lo + hi);
                        if (h->x0 <= mid && h->x1 >= mid)
                            ln[i].cover |= 1u << j;
                    }
                }
            }
            n_sep += ln[i].sep;
        }
    }
    if (!grid_init(c, &g, n_ln, tb.n_cols))
        return 0;
    build_rows(&g, ln, n_ln, &tb, 0);
    if (rg && n_vx >= 1 && rg->n_hy >= 3) {
        /* a full grid: rules between (nearly) all rows are the rows */
        if (2 * (n_sep + 1) >= g.n_rows) {
            grid_free(&g);
            if (!grid_init(c, &g, n_ln, tb.n_cols))
                return 0;
            build_rows(&g, ln, n_ln, &tb, 1);
        }
    }
    float tx0 = 1e30f, tx1 = -1e30f;
    for (int i = 0; i < n; i++) {
        tx0 = QR_MIN(tx0, rows[i]->bbox.x0);
        tx1 = QR_MAX(tx1, rows[i]->bbox.x1);
    }
    if (rg) {
        tx0 = QR_MIN(tx0, rg->box.x0);
        tx1 = QR_MAX(tx1, rg->box.x1);
    }
    widen_header_spans(&g, &tb, tx0, tx1);
    if (rg)
        row_spans(&g, &tb);
    /* two rows in a frame (side rules, no interior vertical one): framed examples (code
     * beside its typeset result, a display formula in a box), not a table; a two-row
     * booktabs table has no side rules and stays */
    int framed_pair = rg && n_vx == 0 && g.n_rows <= 2 && framed(c->pages[rg->page], rg);
    framed_pair |= rg && code_beside_frame(c->pages[rg->page], rg, rows, n);
    if (framed_pair)
        ok = -1;
    else if (grid_plausible(&g, ln, n_ln, &tb, rg != NULL)) {
        ttraits tr;
        table_traits(c, ln, n_ln, &tb, &tr);
        const char *why = index_columns(&g) ? "index" : not_a_table(&tr, n_ln);
        if (why) {
            grid_free(&g);
            return -1;
        }
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

/* A line of prose between two rules: one run of many words across most of the rule's
 * width (the text between two tables that share a rule width, not a cell). */
static int crossed_by_vrule(const qr_page *pg, const qr_bbox *b)
{
    for (int i = 0; i < pg->n_rules; i++) {
        const qr_bbox *v = &pg->rules[i];
        if (v->x1 - v->x0 <= RULE_THIN && v->y1 - v->y0 >= 6.0f && v->x0 > b->x0 + 2.0f &&
            v->x1 < b->x1 - 2.0f && v->y0 < b->y1 - 1.0f && v->y1 > b->y0 + 1.0f)
            return 1;
    }
    return 0;
}

static int prose_between(const qr_lctx *c, int r0, int r1, float ya, float yb, float x0,
                         float x1)
{
    for (int i = r0; i < r1; i++) {
        const qr_lrow *r = &c->rows[i];
        float y = 0.5f * (r->bbox.y0 + r->bbox.y1), sx0[2], sx1[2];
        if (y <= ya || y >= yb || r->bbox.x1 < x0 || r->bbox.x0 > x1 || r->n_words < 8)
            continue;
        if (r->bbox.x1 - r->bbox.x0 >= 0.6f * (x1 - x0) &&
            qr_layout_segments(r, seg_gap(r), sx0, sx1, 2) == 1 &&
            !crossed_by_vrule(c->pages[r->page], &r->bbox))
            return 1;
    }
    return 0;
}

/* Is x ruled from y0 down to y1 by vertical rule segments (drawn end to end, one per
 * row, or as one line)? */
static int vruled(const qr_page *pg, float x, float y0, float y1)
{
    float at = y0;
    for (int moved = 1; moved && at < y1 - 2.0f;) {
        moved = 0;
        for (int i = 0; i < pg->n_rules; i++) {
            const qr_bbox *v = &pg->rules[i];
            if (v->x1 - v->x0 <= RULE_THIN && fabsf(0.5f * (v->x0 + v->x1) - x) <= 3.0f &&
                v->y0 <= at + 2.0f && v->y1 > at) {
                at = v->y1;
                moved = 1;
            }
        }
    }
    return at >= y1 - 2.0f;
}

/* Stack an h-rule onto a region of the same extent, or start a new one. Rules far apart
 * (a long table with rules only around its header and at its end) stack when side
 * rules frame the space between them. */
static void stack_hrule(qr_lctx *c, int page, const qr_bbox *h, float page_h, int first,
                        int r0, int r1)
{
    float tol = 3.0f + 0.03f * (h->x1 - h->x0), y = 0.5f * (h->y0 + h->y1);
    for (int k = first; k < c->n_ruled; k++) {
        struct qr_ruled *g = &c->ruled[k];
        if (fabsf(g->box.x0 - h->x0) <= tol && fabsf(g->box.x1 - h->x1) <= tol &&
            y >= g->box.y0 && !g->closed &&
            (y - g->box.y1 <= 0.6f * page_h ||
             (vruled(c->pages[page], g->box.x0, g->box.y1, y) &&
              vruled(c->pages[page], g->box.x1, g->box.y1, y)))) {
            if (prose_between(c, r0, r1, g->box.y1, y, h->x0, h->x1)) {
                g->closed = 1;
                continue;
            }
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
        int k = 0;
        while (k < g->n_vx && fabsf(g->vx[k] - x) > 2.0f)
            k++;
        if (k == g->n_vx) {
            if (g->n_vx == MAX_VRULES)
                continue;
            g->vx[k] = x;
            g->vy0[k] = v->y0;
            g->vy1[k] = v->y1;
            g->n_vx++;
        } else {
            g->vy0[k] = QR_MIN(g->vy0[k], v->y0);
            g->vy1[k] = QR_MAX(g->vy1[k], v->y1);
        }
    }
    for (int i = 1; i < g->n_vx; i++) /* insertion sort, extents with their x */
        for (int j = i; j > 0 && g->vx[j] < g->vx[j - 1]; j--) {
            float t = g->vx[j];
            g->vx[j] = g->vx[j - 1];
            g->vx[j - 1] = t;
            t = g->vy0[j];
            g->vy0[j] = g->vy0[j - 1];
            g->vy0[j - 1] = t;
            t = g->vy1[j];
            g->vy1[j] = g->vy1[j - 1];
            g->vy1[j - 1] = t;
        }
    qsort(g->hy, (size_t)g->n_hy, sizeof(float), cmp_float);
}

/* A vertical rule segment is recorded by its overall extent at that x; a boundary is
 * drawn at a line when that extent covers the line's middle. */
static int bound_drawn(const tbounds *tb, int k, const tline *L)
{
    float y = 0.5f * (L->y0 + L->y1);
    int v = tb->rule[k];
    return y >= tb->g->vy0[v] - 1.0f && y <= tb->g->vy1[v] + 1.0f;
}

static int cmp_rule_y(const void *a, const void *b)
{
    const qr_bbox *x = a, *y = b;
    return (x->y0 > y->y0) - (x->y0 < y->y0);
}

/* Segments drawn end to end on one line (a rule per cell) become one rule. h is sorted
 * by y; returns the new count. */
static int join_hrules(qr_bbox *h, int nh)
{
    int out = 0;
    for (int i = 0; i < nh;) {
        int j = i + 1;
        while (j < nh && h[j].y0 - h[i].y0 <= 1.0f)
            j++;
        /* h[i..j) share a line: sort by x (few), merge touching ones */
        for (int a = i + 1; a < j; a++)
            for (int b = a; b > i && h[b].x0 < h[b - 1].x0; b--) {
                qr_bbox t = h[b];
                h[b] = h[b - 1];
                h[b - 1] = t;
            }
        qr_bbox cur = h[i];
        for (int a = i + 1; a < j; a++) {
            if (h[a].x0 <= cur.x1 + 3.0f) {
                cur.x1 = QR_MAX(cur.x1, h[a].x1);
                cur.y0 = QR_MIN(cur.y0, h[a].y0);
                cur.y1 = QR_MAX(cur.y1, h[a].y1);
            } else {
                h[out++] = cur;
                cur = h[a];
            }
        }
        h[out++] = cur;
        i = j;
    }
    return out;
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
    int r0 = 0;
    for (int p = 0; p < c->n_pages; p++) {
        const qr_page *pg = c->pages[p];
        while (r0 < c->n_rows && c->rows[r0].page < p)
            r0++;
        int r1 = r0;
        while (r1 < c->n_rows && c->rows[r1].page == p)
            r1++;
        if (!pg || pg->n_rules <= 0 || !pg->rules)
            continue;
        int nh = 0, first = c->n_ruled;
        for (int i = 0; i < pg->n_rules; i++)
            if (is_hrule(&pg->rules[i]))
                h[nh++] = pg->rules[i];
        if (!reserve_ruled(c, nh, &cap))
            return;
        qsort(h, (size_t)nh, sizeof(*h), cmp_rule_y);
        nh = join_hrules(h, nh);
        for (int i = 0; i < nh; i++)
            stack_hrule(c, p, &h[i], pg->height > 0 ? pg->height : 1000.0f, first, r0, r1);
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

static int try_ruled(qr_lctx *c, struct qr_ruled *g)
{
    /* one buffer per layout: per call they added up to 12 KB per region */
    if (!c->trows)
        c->trows = qr_lx_scratch(c, sizeof(*c->trows) * MAX_TROWS);
    qr_lrow **rows = c->trows;
    int n = 0;
    if (!rows)
        return 0;
    for (int i = 0; i < c->n_rows && n < MAX_TROWS; i++)
        if (!c->rows[i].used && inside(&c->rows[i], g))
            rows[n++] = &c->rows[i];
    if (n < 2)
        return 0;
    /* a vertical rule that meets none of the region's lines (an arrow between two nodes
     * of a diagram) does not separate columns */
    int kept = 0;
    for (int k = 0; k < g->n_vx; k++) {
        int meets = 0;
        for (int i = 0; i < n && !meets; i++)
            meets = QR_MIN(g->vy1[k], rows[i]->bbox.y1) - QR_MAX(g->vy0[k], rows[i]->bbox.y0) >
                    0.25f * (rows[i]->bbox.y1 - rows[i]->bbox.y0);
        if (meets) {
            g->vx[kept] = g->vx[k];
            g->vy0[kept] = g->vy0[k];
            g->vy1[kept] = g->vy1[k];
            kept++;
        }
    }
    g->n_vx = kept;
    return build_table(c, rows, n, g, g->vx, QR_MIN(g->n_vx, MAX_COLS - 1));
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
    int n = 0, j, last = i;
    if (i <= c->aligned_skip)
        return 0; /* a row of a run already found to be no table */
    for (j = i; j >= 0 && n < 256; j = qr_layout_next(c, j)) {
        if (!aligned_row(&c->rows[j]) || (n > 0 && !aligned_next(rows[n - 1], &c->rows[j])))
            break;
        rows[n++] = &c->rows[j];
        last = j;
    }
    if (n < 3)
        return 0;
    int got = build_table(c, rows, n, NULL, NULL, 0);
    if (got < 0)
        c->aligned_skip = last; /* code, a formula, ...: its later rows start no table */
    return got > 0 ? n : 0;
}

int qr_layout_table_edge(const qr_lctx *c, const qr_lrow *a, const qr_lrow *b)
{
    for (int k = 0; k < c->n_ruled; k++) {
        const struct qr_ruled *g = &c->ruled[k];
        if (g->state == 0 && inside(b, g) && !inside(a, g))
            return 1;
    }
    return 0;
}

int qr_layout_table(qr_lctx *c, int i)
{
    const qr_lrow *r = &c->rows[i];
    for (;;) {
        /* the widest pending region holding the row first: partial rules (under a
         * spanning header) stack into a region inside the table's own */
        struct qr_ruled *best = NULL;
        for (int k = 0; k < c->n_ruled && !c->nomem; k++) {
            struct qr_ruled *g = &c->ruled[k];
            if (g->state == 0 && inside(r, g) &&
                (!best || g->box.x1 - g->box.x0 > best->box.x1 - best->box.x0))
                best = g;
        }
        if (!best || c->nomem)
            break;
        int got = try_ruled(c, best);
        if (got > 0) {
            best->state = 1;
            return 1;
        }
        best->state = got < 0 ? -2 : -1;
    }
    for (int k = 0; k < c->n_ruled; k++)
        if (c->ruled[k].state == -2 && inside(r, &c->ruled[k]))
            return 0; /* a framed example box: its lines are not an aligned table */
    return c->nomem ? 0 : try_aligned(c, i);
}
