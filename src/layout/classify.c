/*
 * classify.c — walks the visual rows in reading order and emits blocks: tables first
 * (their rows would otherwise look like short bold lines or list items), then code
 * (monospace runs), captions, headings, list items, and paragraphs. A paragraph goes
 * on while the next row continues it: same column, normal line spacing, same size, no
 * first-line indent, no short sentence-ending line before it.
 */
#include <math.h>
#include <string.h>

#include "layout/layout_int.h"

#define MAX_NEST 8

typedef struct list_state {
    int depth;            /* entries in x[] */
    float x[MAX_NEST];    /* marker x of each open level */
} list_state;

static float yc(const qr_lrow *r) { return 0.5f * (r->bbox.y0 + r->bbox.y1); }

static int same_region(const qr_lrow *a, const qr_lrow *b)
{
    return a->page == b->page && a->band == b->band && a->col == b->col;
}

int qr_layout_next(const qr_lctx *c, int i)
{
    for (int j = i + 1; j < c->n_rows; j++)
        if (!c->rows[j].used)
            return j;
    return -1;
}

static const qr_lrow *prev_row(const qr_lctx *c, int i)
{
    return i > 0 ? &c->rows[i - 1] : NULL;
}

int qr_layout_flows(const qr_lctx *c, const qr_lrow *a, const qr_lrow *b)
{
    if (!a || !b || !same_region(a, b) || qr_layout_table_edge(c, a, b))
        return 0;
    float size = QR_MAX(a->size, b->size);
    float gap = b->bbox.y0 - a->bbox.y1;
    float pitch = yc(b) - yc(a);
    if (pitch <= 0 || gap > 0.6f * size || pitch > 1.75f * size)
        return 0;
    return fabsf(a->size - b->size) <= 0.15f * size;
}

static int ends_with(const qr_lrow *r, const char *set)
{
    size_t n = r->len;
    while (n > 0 && r->text[n - 1] == ' ')
        n--;
    return n > 0 && strchr(set, r->text[n - 1]) != NULL;
}

static int starts_upper_or_digit(const char *s)
{
    return (*s >= '0' && *s <= '9') || (qr_lx_utf8_is_letter(s) && !qr_lx_utf8_is_lower(s));
}

/* Does b start a new paragraph although it flows geometrically from a? */
static int paragraph_break(const qr_lrow *a, const qr_lrow *b)
{
    float s = b->size;
    float indent = b->bbox.x0 - a->bbox.x0;
    if (a->source != b->source)
        return 1; /* an OCR'd insert is never part of a text-layer paragraph */
    if (indent > 0.8f * s && indent < 8.0f * s && b->bbox.x1 >= a->bbox.x1 - s)
        return 1; /* first-line indent */
    if (a->bbox.x1 < a->cx1 - 3.0f * s && ends_with(a, ".!?:") && starts_upper_or_digit(b->text))
        return 1; /* short last line of the previous paragraph */
    if (a->blk != b->blk && (ends_with(a, ".!?:") || !qr_lx_utf8_is_lower(b->text)))
        return 1; /* the producer saw separate blocks and the text agrees */
    return 0;
}

/* ---- text joining -------------------------------------------------------------------- */

static void join_append(const qr_lctx *c, qr_buf *sb, const qr_lrow *r)
{
    if (c->keep_lines) { /* plain text keeps the page's lines and hyphens */
        if (sb->len > 0)
            qr_buf_putc(sb, '\n');
        qr_buf_append(sb, r->text, r->len);
        return;
    }
    if (sb->len > 0) {
        int space;
        sb->len = qr_lx_join_point(sb->data, sb->len, r->text, &space);
        if (space)
            qr_buf_putc(sb, ' ');
    }
    qr_buf_append(sb, r->text, r->len);
}

/* Copy the joined text into the arena; frees the buffer. */
static const char *join_finish(qr_lctx *c, qr_buf *sb)
{
    const char *t = NULL;
    if (sb->failed)
        c->nomem = 1;
    else
        t = qr_lx_strdup(c, sb->data ? sb->data : "", sb->len);
    qr_buf_free(sb);
    return t;
}

/* ---- row predicates ---------------------------------------------------------------- */

static int count_letters(const char *s, int *n_visible)
{
    int letters = 0, vis = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == ' ' || (*p & 0xC0) == 0x80)
            continue;
        vis++;
        letters += (*p >= 0x80) || ((*p | 32) >= 'a' && (*p | 32) <= 'z');
    }
    *n_visible = vis;
    return letters;
}

static int is_caption(const qr_lrow *r)
{
    static const char *const heads[] = {"Figure ", "Fig. ", "Table ", "Listing ", "Algorithm ",
                                        "Abbildung ", "Tabelle ", "Tableau ", "Tabla "};
    for (size_t i = 0; i < QR_ARRAY_LEN(heads); i++) {
        size_t n = strlen(heads[i]);
        if (strncmp(r->text, heads[i], n) == 0 &&
            ((r->text[n] >= '0' && r->text[n] <= '9') || strchr("IVX", r->text[n])))
            return r->text[n] != '\0';
    }
    return 0;
}

static int word_count(const qr_lrow *r)
{
    int n = 0, in = 0;
    for (const char *p = r->text; *p; p++) {
        if (*p == ' ')
            in = 0;
        else if (!in) {
            in = 1;
            n++;
        }
    }
    return n;
}

/* section_numbers: does row r (after row p, or NULL) stand for a section number? One
 * token (words with no letter or digit, OCR's specks, aside) of at most 4 letters and
 * digits, narrow, and either centred in its column (a heading, however OCR misread it:
 * "in" for a bold 13) or all digits after a sentence end. Such a row is a block of its
 * own: a scan's OCR runs the heading into the paragraph above or below it, where a
 * born-digital page has it apart ("... turn to 275. 23 Strange runes ..."). A number
 * that continues a sentence ("turn to" / "45.") stays in its paragraph. */
static int number_row(const qr_lctx *c, const qr_lrow *p, const qr_lrow *r)
{
    if (!c->section_numbers)
        return 0;
    int tokens = 0, alnum = 0, digits = 0;
    for (int k = 0; k < r->n_words; k++) {
        const qr_word *w = r->words[k];
        int a = 0, d = 0;
        for (size_t b = 0; b < w->len; b++) {
            char ch = w->text[b];
            d += ch >= '0' && ch <= '9';
            a += (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z');
        }
        tokens += a > 0;
        alnum += a;
        digits += d;
    }
    float cw = r->cx1 - r->cx0, w = r->bbox.x1 - r->bbox.x0;
    if (tokens != 1 || alnum > 4 || cw <= 0 || w > 0.25f * cw)
        return 0;
    float mid = 0.5f * (r->bbox.x0 + r->bbox.x1), cmid = 0.5f * (r->cx0 + r->cx1);
    if (fabsf(mid - cmid) < 0.12f * cw)
        return 1;
    return digits == alnum && (!p || p->page != r->page || ends_with(p, ".!?)"));
}

/* ---- emitters -------------------------------------------------------------------- */

static void set_text(qr_lctx *c, qr_block *b, qr_buf *sb)
{
    const char *t = join_finish(c, sb);
    if (b)
        b->text = t ? t : "";
}

static int emit_paragraph(qr_lctx *c, int i, int type)
{
    qr_lrow *r = &c->rows[i];
    qr_block *b = qr_lx_block(c, type, r);
    qr_buf sb;
    qr_buf_init(&sb, 0);
    join_append(c, &sb, r);
    for (int j = qr_layout_next(c, i); j >= 0; j = qr_layout_next(c, j)) {
        qr_lrow *n = &c->rows[j];
        if (!qr_layout_flows(c, r, n) || paragraph_break(r, n) || n->mono || is_caption(n) ||
            number_row(c, r, n))
            break;
        size_t ml;
        int ord, strong;
        if (qr_layout_list_marker(n->text, &ml, &ord, &strong) && (strong || ends_with(r, ".:;")))
            break;
        if (b)
            qr_lx_take(c, n);
        join_append(c, &sb, n);
        r = n;
    }
    set_text(c, b, &sb);
    return 1;
}

/* Rows of a heading: r and the rows that continue it in the same style. */
static int heading_rows(const qr_lctx *c, int i, int max_rows, int *last)
{
    const qr_lrow *r = &c->rows[i];
    int n = 1;
    *last = i;
    for (int j = qr_layout_next(c, i); j >= 0 && n <= max_rows; j = qr_layout_next(c, j)) {
        const qr_lrow *x = &c->rows[j];
        if (!qr_layout_flows(c, &c->rows[*last], x) || x->bold != r->bold ||
            fabsf(x->size - r->size) > 0.1f * r->size || number_row(c, &c->rows[*last], x))
            break;
        n++;
        *last = j;
    }
    return n;
}

static int heading_start(const qr_lctx *c, int i, int *last)
{
    const qr_lrow *r = &c->rows[i];
    int vis = 0, letters = count_letters(r->text, &vis);
    if (letters < 2 || 2 * letters < vis)
        return 0;
    if (strstr(r->text, ". . .") || strstr(r->text, "...."))
        return 0; /* a table-of-contents entry with dot leaders */
    float thr = r->source == QR_SRC_OCR ? 1.3f : 1.15f;
    if (r->size >= thr * c->body) {
        int n = heading_rows(c, i, 4, last);
        return n <= 4 && word_count(r) * n <= 40;
    }
    if (!r->bold || r->size < 0.95f * c->body || r->source == QR_SRC_OCR)
        return 0;
    const qr_lrow *p = prev_row(c, i);
    if (p && !p->used && qr_layout_flows(c, p, r) && !ends_with(p, ".!?:"))
        return 0; /* a bold line inside running text */
    int n = heading_rows(c, i, 2, last);
    return n <= 2 && word_count(r) <= 12 && !ends_with(&c->rows[*last], ".,;:");
}

static int emit_heading(qr_lctx *c, int i, int last)
{
    qr_lrow *r = &c->rows[i];
    qr_block *b = qr_lx_block(c, QR_BLK_HEADING, r);
    if (b) {
        c->hkeys[c->n_blocks - 1].size = r->size;
        c->hkeys[c->n_blocks - 1].bold = r->bold;
        c->hkeys[c->n_blocks - 1].depth = qr_layout_heading_depth(r->text);
    }
    qr_buf sb;
    qr_buf_init(&sb, 0);
    join_append(c, &sb, r);
    for (int j = qr_layout_next(c, i); j >= 0 && j <= last; j = qr_layout_next(c, j)) {
        if (b)
            qr_lx_take(c, &c->rows[j]);
        join_append(c, &sb, &c->rows[j]);
    }
    set_text(c, b, &sb);
    return 1;
}

/* ---- code ------------------------------------------------------------------------- */

static float char_width(const qr_lrow *r)
{
    float w = 0;
    long n = 0;
    for (int k = 0; k < r->n_words; k++) {
        w += r->words[k]->bbox.x1 - r->words[k]->bbox.x0;
        for (size_t b = 0; b < r->words[k]->len; b++)
            n += (r->words[k]->text[b] & 0xC0) != 0x80;
    }
    return n > 0 && w > 0 ? w / (float)n : 0.6f * r->size;
}

static void spaces(qr_buf *sb, long n)
{
    for (long k = 0; k < n && k < 200; k++)
        qr_buf_putc(sb, ' ');
}

static void code_row(qr_buf *sb, const qr_lrow *r, float left, float cw)
{
    spaces(sb, lroundf((r->bbox.x0 - left) / cw));
    for (int k = 0; k < r->n_words; k++) {
        const qr_word *w = r->words[k];
        if (k > 0) {
            float gap = w->bbox.x0 - r->words[k - 1]->bbox.x1;
            if (gap > 0.1f * r->size)
                spaces(sb, QR_MAX(1, lroundf(gap / cw)));
        }
        qr_buf_append(sb, w->text, w->len);
    }
}

static int code_continues(const qr_lrow *a, const qr_lrow *b)
{
    return b->mono && same_region(a, b) && yc(b) > yc(a) &&
           b->bbox.y0 - a->bbox.y1 <= 2.5f * b->size;
}

static int emit_code(qr_lctx *c, int i)
{
    int idx[4096], n = 0;
    float left = c->rows[i].bbox.x0, cw = 0;
    for (int j = i; j >= 0 && n < (int)QR_ARRAY_LEN(idx); j = qr_layout_next(c, j)) {
        if (n > 0 && !code_continues(&c->rows[idx[n - 1]], &c->rows[j]))
            break;
        idx[n++] = j;
        left = QR_MIN(left, c->rows[j].bbox.x0);
        cw += char_width(&c->rows[j]);
    }
    cw /= (float)n;
    qr_block *b = qr_lx_block(c, QR_BLK_CODE, &c->rows[i]);
    qr_buf sb;
    qr_buf_init(&sb, 0);
    for (int k = 0; k < n; k++) {
        const qr_lrow *r = &c->rows[idx[k]];
        if (k > 0) {
            qr_buf_putc(&sb, '\n');
            if (yc(r) - yc(&c->rows[idx[k - 1]]) > 1.8f * r->size)
                qr_buf_putc(&sb, '\n'); /* a blank line in the listing */
            if (b)
                qr_lx_take(c, &c->rows[idx[k]]);
        }
        code_row(&sb, r, left, cw > 0 ? cw : 0.6f * r->size);
    }
    set_text(c, b, &sb);
    return 1;
}

/* ---- lists -------------------------------------------------------------------------- */

static int list_start(const qr_lctx *c, int i, int in_list, size_t *ml, int *ordered)
{
    const qr_lrow *r = &c->rows[i];
    int strong = 0;
    if (!qr_layout_list_marker(r->text, ml, ordered, &strong))
        return 0;
    if (strong || in_list)
        return 1;
    /* weak markers ("-", "2.") only where a new item can begin */
    const qr_lrow *p = prev_row(c, i);
    return !p || !qr_layout_flows(c, p, r) || ends_with(p, ".:;!?") ||
           p->bbox.x1 < p->cx1 - 3.0f * p->size;
}

static int strong_bullet(const qr_lrow *r)
{
    size_t ml;
    int ordered, strong = 0;
    return qr_layout_list_marker(r->text, &ml, &ordered, &strong) && strong;
}

static int nest_level(list_state *ls, float x, float size)
{
    while (ls->depth > 0 && x < ls->x[ls->depth - 1] - 0.5f * size)
        ls->depth--;
    if (ls->depth == 0 || x > ls->x[ls->depth - 1] + 0.5f * size) {
        if (ls->depth < MAX_NEST)
            ls->x[ls->depth++] = x;
    }
    return ls->depth > 0 ? ls->depth - 1 : 0;
}

static int emit_list_item(qr_lctx *c, int i, size_t ml, int ordered, list_state *ls)
{
    qr_lrow *r = &c->rows[i];
    qr_block *b = qr_lx_block(c, QR_BLK_LIST_ITEM, r);
    int level = nest_level(ls, r->bbox.x0, r->size);
    if (b) {
        b->level = level;
        b->ordered = ordered;
        b->marker = qr_lx_strdup(c, r->text, ml);
    }
    qr_buf sb;
    qr_buf_init(&sb, 0);
    const char *rest = r->text + ml;
    while (*rest == ' ')
        rest++;
    qr_buf_append(&sb, rest, strlen(rest));
    float marker_x = r->bbox.x0;
    for (int j = qr_layout_next(c, i); j >= 0; j = qr_layout_next(c, j)) {
        qr_lrow *n = &c->rows[j];
        size_t m2;
        int o2, s2;
        if (!qr_layout_flows(c, r, n) || n->mono || n->bbox.x0 <= marker_x + 0.5f * n->size ||
            qr_layout_list_marker(n->text, &m2, &o2, &s2))
            break;
        if (b)
            qr_lx_take(c, n);
        join_append(c, &sb, n);
        r = n;
    }
    set_text(c, b, &sb);
    return 1;
}

/* ---- driver ------------------------------------------------------------------------ */

/* Left/right text edges of each run of rows in one page/band/column. */
static void column_edges(qr_lctx *c)
{
    int i = 0;
    while (i < c->n_rows) {
        int j = i;
        float x0 = c->rows[i].bbox.x0, x1 = c->rows[i].bbox.x1;
        while (j < c->n_rows && same_region(&c->rows[i], &c->rows[j])) {
            x0 = QR_MIN(x0, c->rows[j].bbox.x0);
            x1 = QR_MAX(x1, c->rows[j].bbox.x1);
            j++;
        }
        for (int k = i; k < j; k++) {
            c->rows[k].cx0 = x0;
            c->rows[k].cx1 = x1;
        }
        i = j;
    }
}

static int is_big(const qr_lctx *c, const qr_lrow *r)
{
    return r->size >= (r->source == QR_SRC_OCR ? 1.3f : 1.15f) * c->body;
}

void qr_layout_classify(qr_lctx *c)
{
    list_state ls = {0};
    column_edges(c);
    qr_layout_tables_prepare(c);
    for (int i = 0; i < c->n_rows && !c->nomem; i++) {
        qr_lrow *r = &c->rows[i];
        size_t ml = 0;
        int ordered = 0, last = i;
        if (r->used)
            continue;
        int was_list = ls.depth > 0 && c->n_blocks > 0 &&
                       c->blocks[c->n_blocks - 1].type == QR_BLK_LIST_ITEM;
        if (qr_layout_table(c, i) > 0) {
            ls.depth = 0;
        } else if (r->mono && !is_big(c, r)) {
            emit_code(c, i);
        } else if (is_caption(r)) {
            emit_paragraph(c, i, QR_BLK_CAPTION);
        } else if (number_row(c, prev_row(c, i), r)) {
            emit_heading(c, i, i);
        } else if (strong_bullet(r) || (!heading_start(c, i, &last) &&
                                         list_start(c, i, was_list, &ml, &ordered))) {
            if (strong_bullet(r))
                list_start(c, i, 1, &ml, &ordered);
            if (!was_list)
                ls.depth = 0;
            emit_list_item(c, i, ml, ordered, &ls);
            continue;
        } else if (heading_start(c, i, &last)) {
            emit_heading(c, i, last);
        } else {
            emit_paragraph(c, i, QR_BLK_PARAGRAPH);
        }
        ls.depth = 0;
    }
}
