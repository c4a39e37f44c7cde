/*
 * vlm_norm.c — a VLM answer into quire's layout blocks (qr_block), one page at a time.
 *
 *   deepseek          <|ref|>LABEL<|/ref|><|det|>[[x1,y1,x2,y2]]<|/det|> then the content:
 *                     coordinates are 0-999 of the image (the official code computes
 *                     x/999*width), mapped to PDF points; labels title / text / table /
 *                     table_caption / image / equation ...; the content is Markdown.
 *   nemotron-tokens   <x_a><y_b>TEXT<x_c><y_d><class_C>: coordinates 0-1 of the padded
 *                     input frame (1648x2048 at most, image scaled to fit, padded right and
 *                     bottom), mapped back to the page.
 *   nemotron-tools    markdown_bbox arguments [[{bbox{xmin..ymax}, text, type}]] (0-1,
 *                     top-left origin) or markdown_no_bbox [{text}].
 *   generic           Markdown.
 * Within a block's content: "# " headings; HTML <table> (colspan/rowspan spread into the
 * grid), Markdown pipe tables and LaTeX tabular become table blocks with cells; display
 * formulas \[..\] and $$..$$ become formula blocks (LaTeX kept); "- " / "1. " items become
 * list items; Nemotron classes map to headings, paragraphs, captions, list items,
 * formulas, tables, and Page-header / Page-footer are dropped as furniture.
 * Everything lives in the result's own arena.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vlm.h"

#define MAX_CELLS 4096

typedef struct nb {
    qr_vlm_page *pg;
    int page;
    float pw, ph;
} nb;

static char *adup(qr_arena *a, const char *s, size_t n)
{
    char *d = qr_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static qr_block *add_block(nb *x, int type, qr_bbox bb)
{
    qr_vlm_page *pg = x->pg;
    if (pg->n == pg->cap) {
        int cap = pg->cap ? pg->cap * 2 : 32;
        qr_block *nbk = qr_arena_alloc(&pg->arena, (size_t)cap * sizeof(qr_block));
        if (!nbk) {
            pg->failed = 1;
            return NULL;
        }
        if (pg->n)
            memcpy(nbk, pg->blocks, (size_t)pg->n * sizeof(qr_block));
        pg->blocks = nbk;
        pg->cap = cap;
    }
    qr_block *b = &pg->blocks[pg->n++];
    memset(b, 0, sizeof(*b));
    b->type = type;
    b->page = x->page;
    b->bbox = bb;
    b->source = QR_SRC_VLM;
    b->conf = -1.0f;
    return b;
}

/* Collapse whitespace runs (newlines too) into single spaces; trims. */
static char *flat(qr_arena *a, const char *s, size_t n)
{
    char *d = qr_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    size_t k = 0;
    int sp = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            sp = 1;
            continue;
        }
        if (sp && k)
            d[k++] = ' ';
        sp = 0;
        d[k++] = (char)c;
    }
    d[k] = '\0';
    return d;
}

/* ---- tables ---------------------------------------------------------------------------- */

/* Text of s[0..n) without tags, entities &amp; &lt; &gt; &nbsp; &quot; decoded, flattened. */
static char *strip_tags(qr_arena *a, const char *s, size_t n)
{
    char *t = qr_arena_alloc(a, n + 1);
    if (!t)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') {
            const char *e = memchr(s + i, '>', n - i);
            if (e) {
                if (!strncmp(s + i, "<br", 3))
                    t[k++] = ' ';
                i = (size_t)(e - s);
                continue;
            }
        }
        if (s[i] == '&') {
            static const char *ent[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
                                           {"&nbsp;", " "}, {"&quot;", "\""}, {"&#39;", "'"}};
            size_t e;
            for (e = 0; e < QR_ARRAY_LEN(ent); e++) {
                size_t l = strlen(ent[e][0]);
                if (i + l <= n && !strncmp(s + i, ent[e][0], l)) {
                    t[k++] = ent[e][1][0];
                    i += l - 1;
                    break;
                }
            }
            if (e < QR_ARRAY_LEN(ent))
                continue;
        }
        t[k++] = s[i];
    }
    return flat(a, t, k);
}

static int attr_int(const char *tag, size_t n, const char *name)
{
    char buf[256];
    size_t m = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
    memcpy(buf, tag, m);
    buf[m] = '\0';
    const char *p = strstr(buf, name);
    if (!p)
        return 1;
    p += strlen(name);
    while (*p == ' ' || *p == '=' || *p == '"' || *p == '\'')
        p++;
    long v = strtol(p, NULL, 10);
    return v >= 1 && v <= 100 ? (int)v : 1;
}

/* HTML <table> in s[0..n) into a table block. Returns 0, or -1 if not a table. */
static int html_table(nb *x, const char *s, size_t n, qr_bbox bb)
{
    qr_arena *a = &x->pg->arena;
    /* first pass: cells with their (row, col) honouring rowspan/colspan */
    enum { MR = 256, MC = 64 };
    static _Thread_local unsigned char used[MR][MC];
    static _Thread_local const char *text[MR][MC];
    memset(used, 0, sizeof(used));
    memset(text, 0, sizeof(text));
    int row = -1, rows = 0, cols = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '<')
            continue;
        const char *te = memchr(s + i, '>', n - i);
        if (!te)
            break;
        size_t tl = (size_t)(te - (s + i)) + 1;
        if (!strncasecmp(s + i, "<tr", 3)) {
            row++;
        } else if (!strncasecmp(s + i, "<td", 3) || !strncasecmp(s + i, "<th", 3)) {
            if (row < 0)
                row = 0;
            int cs = attr_int(s + i, tl, "colspan"), rs = attr_int(s + i, tl, "rowspan");
            size_t body = i + tl;
            const char *end = NULL;
            for (size_t j = body; j + 4 < n; j++) {
                if (s[j] == '<' && (!strncasecmp(s + j, "</td", 4) || !strncasecmp(s + j, "</th", 4) ||
                                    !strncasecmp(s + j, "<td", 3) || !strncasecmp(s + j, "<th", 3) ||
                                    !strncasecmp(s + j, "<tr", 3) || !strncasecmp(s + j, "</tr", 4))) {
                    end = s + j;
                    break;
                }
            }
            if (!end)
                end = s + n;
            char *t = strip_tags(a, s + body, (size_t)(end - (s + body)));
            if (row < MR) {
                int c = 0;
                while (c < MC && used[row][c])
                    c++;
                for (int dr = 0; dr < rs && row + dr < MR; dr++)
                    for (int dc = 0; dc < cs && c + dc < MC; dc++) {
                        used[row + dr][c + dc] = 1;
                        text[row + dr][c + dc] = dr == 0 && dc == 0 ? t : "";
                    }
                if (row + rs > rows)
                    rows = QR_MIN(row + rs, MR);
                if (c + cs > cols)
                    cols = QR_MIN(c + cs, MC);
            }
            i = (size_t)(end - s) - 1;
            continue;
        }
        i += tl - 1;
    }
    if (rows == 0 || cols == 0 || (size_t)rows * (size_t)cols > MAX_CELLS)
        return -1;
    qr_block *b = add_block(x, QR_BLK_TABLE, bb);
    const char **cells = qr_arena_alloc(a, (size_t)rows * (size_t)cols * sizeof(char *));
    if (!b || !cells) {
        x->pg->failed = 1;
        return 0;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            cells[r * cols + c] = text[r][c] ? text[r][c] : "";
    b->n_rows = rows;
    b->n_cols = cols;
    b->cells = cells;
    b->text = "";
    return 0;
}

/* Split a line into cells at unescaped sep (| or &); trims; returns count. */
static int split_cells(qr_arena *a, const char *s, size_t n, char sep, const char **out, int cap,
                       int pipe)
{
    size_t i = 0;
    if (pipe) {
        while (i < n && s[i] == ' ')
            i++;
        if (i < n && s[i] == '|')
            i++;
        while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\r'))
            n--;
        if (n > i && s[n - 1] == '|' && !(n >= 2 && s[n - 2] == '\\'))
            n--;
    }
    int k = 0;
    size_t start = i;
    for (; i <= n && k < cap; i++) {
        if (i == n || (s[i] == sep && !(i > 0 && s[i - 1] == '\\'))) {
            out[k++] = flat(a, s + start, i - start);
            start = i + 1;
        }
    }
    return k;
}

static int is_rule_row(const char *s, size_t n)
{
    int dash = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dash = 1;
        else if (!strchr("|: \t\r", s[i]))
            return 0;
    }
    return dash;
}

/* Pipe table lines [s, s+n). */
static void pipe_table(nb *x, const char *s, size_t n, qr_bbox bb)
{
    qr_arena *a = &x->pg->arena;
    const char *row[64];
    const char **cells = NULL;
    int rows = 0, cols = 0, cap = 0;
    for (const char *p = s, *end = s + n; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        size_t l = (size_t)(e - p);
        if (l && !is_rule_row(p, l)) {
            int k = split_cells(a, p, l, '|', row, 64, 1);
            if (rows == 0)
                cols = k;
            if (rows >= cap) {
                int nc = cap ? cap * 2 : 16;
                if ((size_t)nc * (size_t)cols > MAX_CELLS)
                    break;
                const char **g = qr_arena_alloc(a, (size_t)nc * (size_t)cols * sizeof(char *));
                if (!g)
                    break;
                if (cells)
                    memcpy(g, cells, (size_t)rows * (size_t)cols * sizeof(char *));
                cells = g;
                cap = nc;
            }
            for (int c = 0; c < cols; c++)
                cells[rows * cols + c] = c < k ? row[c] : "";
            rows++;
        }
        p = e + 1;
    }
    if (!rows || !cols)
        return;
    qr_block *b = add_block(x, QR_BLK_TABLE, bb);
    if (!b)
        return;
    b->n_rows = rows;
    b->n_cols = cols;
    b->cells = cells;
    b->text = "";
}

/* LaTeX tabular body between \begin{tabular}{..} and \end{tabular}: rows at \\, cells at &. */
static void latex_table(nb *x, const char *s, size_t n, qr_bbox bb)
{
    qr_arena *a = &x->pg->arena;
    const char *b0 = strstr(s, "\\begin{tabular}");
    if (b0 && (size_t)(b0 - s) < n) {
        const char *p = b0 + 15;
        if (*p == '{') { /* the column spec */
            int depth = 0;
            for (; p < s + n; p++) {
                depth += *p == '{';
                depth -= *p == '}';
                if (depth == 0) {
                    p++;
                    break;
                }
            }
        }
        n -= (size_t)(p - s);
        s = p;
    }
    const char *e0 = NULL;
    for (size_t i = 0; i + 13 <= n; i++)
        if (!strncmp(s + i, "\\end{tabular}", 13)) {
            e0 = s + i;
            break;
        }
    if (e0)
        n = (size_t)(e0 - s);
    const char *row[64];
    const char **cells = qr_arena_alloc(a, MAX_CELLS * sizeof(char *));
    int rows = 0, cols = 0;
    if (!cells)
        return;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\')) {
            char *line = adup(a, s + start, i - start);
            start = i + 2;
            if (!line)
                break;
            /* drop \hline, \toprule ... */
            for (const char *kw[] = {"\\hline", "\\toprule", "\\midrule", "\\bottomrule"}, **k = kw;
                 k < kw + 4; k++) {
                char *h;
                while ((h = strstr(line, *k)))
                    memset(h, ' ', strlen(*k));
            }
            int blank = 1;
            for (char *c = line; *c; c++)
                blank &= isspace((unsigned char)*c) != 0;
            if (blank)
                continue;
            int k = split_cells(a, line, strlen(line), '&', row, 64, 0);
            if (rows == 0)
                cols = k;
            if ((rows + 1) * cols > MAX_CELLS)
                break;
            for (int c = 0; c < cols; c++)
                cells[rows * cols + c] = c < k ? row[c] : "";
            rows++;
            i++;
        }
    }
    if (!rows || !cols)
        return;
    qr_block *b = add_block(x, QR_BLK_TABLE, bb);
    if (!b)
        return;
    b->n_rows = rows;
    b->n_cols = cols;
    b->cells = cells;
    b->text = "";
}

/* ---- Markdown content ------------------------------------------------------------------ */

static int starts(const char *p, const char *end, const char *w)
{
    size_t l = strlen(w);
    return (size_t)(end - p) >= l && !strncmp(p, w, l);
}

/* Markdown s[0..n) (one region) into blocks; type_hint -1 = from the text. */
static void markdown(nb *x, const char *s, size_t n, qr_bbox bb, int hint)
{
    qr_arena *a = &x->pg->arena;
    const char *end = s + n;
    const char *p = s;
    while (p < end) {
        while (p < end && (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t'))
            p++;
        if (p >= end)
            break;
        const char *q;
        /* HTML table */
        if (starts(p, end, "<table")) {
            const char *e = NULL;
            for (q = p; q + 8 <= end; q++)
                if (!strncasecmp(q, "</table>", 8)) {
                    e = q + 8;
                    break;
                }
            if (!e)
                e = end;
            if (html_table(x, p, (size_t)(e - p), bb) == 0) {
                p = e;
                continue;
            }
        }
        if (starts(p, end, "\\begin{tabular}")) {
            const char *e = NULL;
            for (q = p; q + 13 <= end; q++)
                if (!strncmp(q, "\\end{tabular}", 13)) {
                    e = q + 13;
                    break;
                }
            if (!e)
                e = end;
            latex_table(x, p, (size_t)(e - p), bb);
            p = e;
            continue;
        }
        /* display formula */
        if (starts(p, end, "\\[") || starts(p, end, "$$")) {
            const char *close = *p == '\\' ? "\\]" : "$$";
            const char *e = NULL;
            for (q = p + 2; q + 2 <= end; q++)
                if (!strncmp(q, close, 2)) {
                    e = q + 2;
                    break;
                }
            if (e) {
                qr_block *b = add_block(x, QR_BLK_FORMULA, bb);
                if (b)
                    b->text = flat(a, p, (size_t)(e - p));
                p = e;
                continue;
            }
        }
        /* a pipe table: consecutive lines starting with | */
        if (*p == '|') {
            q = p;
            while (q < end && *q == '|') {
                const char *e = memchr(q, '\n', (size_t)(end - q));
                q = e ? e + 1 : end;
                while (q < end && (*q == ' ' || *q == '\t'))
                    q++;
            }
            pipe_table(x, p, (size_t)(q - p), bb);
            p = q;
            continue;
        }
        /* one line: heading, list item; else a paragraph up to a blank line */
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            le = end;
        int hl = 0;
        while (p + hl < le && p[hl] == '#')
            hl++;
        if (hl >= 1 && hl <= 6 && p + hl < le && p[hl] == ' ') {
            qr_block *b = add_block(x, QR_BLK_HEADING, bb);
            if (b) {
                b->level = QR_MIN(hl, 3);
                b->text = flat(a, p + hl + 1, (size_t)(le - p - hl - 1));
            }
            p = le;
            continue;
        }
        size_t d = 0;
        while (p + d < le && isdigit((unsigned char)p[d]) && d < 4)
            d++;
        int bullet = (p[0] == '-' || p[0] == '*' || p[0] == '+') && p + 1 < le && p[1] == ' ';
        int ordered = d > 0 && p + d + 1 < le && (p[d] == '.' || p[d] == ')') && p[d + 1] == ' ';
        if (bullet || ordered) {
            qr_block *b = add_block(x, QR_BLK_LIST_ITEM, bb);
            if (b) {
                b->ordered = ordered;
                b->marker = ordered ? adup(a, p, d + 1) : "-";
                size_t skip = ordered ? d + 2 : 2;
                b->text = flat(a, p + skip, (size_t)(le - p) - skip);
            }
            p = le;
            continue;
        }
        /* paragraph: up to a blank line or a line that starts another construct */
        q = le;
        while (q < end) {
            const char *nx = q + 1;
            if (nx >= end)
                break;
            const char *ne = memchr(nx, '\n', (size_t)(end - nx));
            if (!ne)
                ne = end;
            int blank = 1;
            for (const char *c = nx; c < ne; c++)
                blank &= *c == ' ' || *c == '\t' || *c == '\r';
            if (blank || *nx == '#' || *nx == '|' || starts(nx, end, "<table") ||
                starts(nx, end, "\\[") || starts(nx, end, "$$") ||
                ((*nx == '-' || *nx == '*') && nx + 1 < end && nx[1] == ' '))
                break;
            q = ne;
        }
        int type = hint >= 0 ? hint : QR_BLK_PARAGRAPH;
        qr_block *b = add_block(x, type, bb);
        if (b) {
            b->text = flat(a, p, (size_t)(q - p));
            if (type == QR_BLK_HEADING)
                b->level = 1;
        }
        p = q;
    }
}

/* ---- protocols --------------------------------------------------------------------------- */

static qr_bbox box999(const nb *x, double x1, double y1, double x2, double y2)
{
    qr_bbox b = {(float)(x1 / 999.0 * x->pw), (float)(y1 / 999.0 * x->ph),
                 (float)(x2 / 999.0 * x->pw), (float)(y2 / 999.0 * x->ph)};
    return b;
}

static int label_type(const char *l, size_t n, int *drop)
{
    *drop = 0;
#define IS(s) (n == strlen(s) && !strncasecmp(l, s, n))
    if (IS("title") || IS("Title") || IS("sub_title") || IS("Section-header"))
        return QR_BLK_HEADING;
    if (IS("table_caption") || IS("image_caption") || IS("Caption") || IS("figure_caption"))
        return QR_BLK_CAPTION;
    if (IS("equation") || IS("Formula") || IS("formula"))
        return QR_BLK_FORMULA;
    if (IS("List-item"))
        return QR_BLK_LIST_ITEM;
    if (IS("image") || IS("Picture") || IS("Page-header") || IS("Page-footer") || IS("header") ||
        IS("footer") || IS("page_number")) {
        *drop = 1;
        return -1;
    }
#undef IS
    return -1;
}

static void deepseek(nb *x, const char *s)
{
    const char *p = s;
    const char *first = strstr(p, "<|ref|>");
    if (!first) {
        markdown(x, s, strlen(s), (qr_bbox){0, 0, x->pw, x->ph}, -1);
        return;
    }
    if (first > p)
        markdown(x, p, (size_t)(first - p), (qr_bbox){0, 0, x->pw, x->ph}, -1);
    p = first;
    while (p && *p) {
        const char *l0 = p + 7;
        const char *l1 = strstr(l0, "<|/ref|>");
        if (!l1)
            break;
        const char *d0 = strstr(l1, "<|det|>");
        const char *d1 = d0 ? strstr(d0, "<|/det|>") : NULL;
        if (!d1)
            break;
        double c[4] = {0, 0, 999, 999};
        const char *q = d0 + 7;
        while (*q == '[' || *q == ' ')
            q++;
        for (int i = 0; i < 4; i++) {
            char *e;
            c[i] = strtod(q, &e);
            q = e;
            while (*q == ',' || *q == ' ')
                q++;
        }
        const char *body = d1 + 8;
        const char *next = strstr(body, "<|ref|>");
        size_t bn = next ? (size_t)(next - body) : strlen(body);
        int drop;
        int hint = label_type(l0, (size_t)(l1 - l0), &drop);
        qr_bbox bb = box999(x, c[0], c[1], c[2], c[3]);
        if (!drop) {
            int before = x->pg->n;
            if (hint == QR_BLK_FORMULA || hint == QR_BLK_CAPTION)
                markdown(x, body, bn, bb, -1);
            else
                markdown(x, body, bn, bb, hint == QR_BLK_HEADING ? -1 : -1);
            /* a title without "#" is still a heading; a caption is a caption */
            for (int i = before; i < x->pg->n; i++) {
                qr_block *b = &x->pg->blocks[i];
                if (b->type == QR_BLK_PARAGRAPH && (hint == QR_BLK_HEADING || hint == QR_BLK_CAPTION)) {
                    b->type = hint;
                    if (hint == QR_BLK_HEADING)
                        b->level = 1;
                }
                if (b->type == QR_BLK_PARAGRAPH && hint == QR_BLK_FORMULA)
                    b->type = QR_BLK_FORMULA;
            }
        }
        p = next;
    }
}

/* Nemotron: where the image sat in the padded frame (scale to fit, padded right/bottom). */
static qr_bbox box_padded(const nb *x, const qr_vlm_page *pg, double x1, double y1, double x2,
                          double y2, int padded)
{
    double fx = 1, fy = 1; /* fraction of the frame the image covers */
    if (padded && pg->img_w > 0 && pg->img_h > 0) {
        const double FW = 1648, FH = 2048;
        double sc = QR_MIN(FW / pg->img_w, FH / pg->img_h);
        fx = pg->img_w * sc / FW;
        fy = pg->img_h * sc / FH;
    }
    qr_bbox b = {(float)(x1 / fx * x->pw), (float)(y1 / fy * x->ph), (float)(x2 / fx * x->pw),
                 (float)(y2 / fy * x->ph)};
    return b;
}

static void nemotron_region(nb *x, const char *cls, size_t cn, const char *text, size_t tn,
                            qr_bbox bb)
{
    int drop;
    int hint = label_type(cls, cn, &drop);
    if (drop)
        return;
    int before = x->pg->n;
    /* <br> marks soft breaks */
    qr_arena *a = &x->pg->arena;
    char *t = adup(a, text, tn);
    if (!t)
        return;
    for (char *b = t; (b = strstr(b, "<br>"));)
        memcpy(b, "\n   ", 4);
    markdown(x, t, strlen(t), bb, -1);
    for (int i = before; i < x->pg->n; i++) {
        qr_block *b = &x->pg->blocks[i];
        if (b->type == QR_BLK_PARAGRAPH && hint >= 0) {
            b->type = hint;
            if (hint == QR_BLK_HEADING)
                b->level = cn == 5 ? 1 : 2; /* Title vs Section-header */
            if (hint == QR_BLK_LIST_ITEM)
                b->marker = "-";
        }
    }
}

static void nemotron_tokens(nb *x, const char *s)
{
    const char *p = s;
    while ((p = strstr(p, "<x_"))) {
        double x1, y1, x2, y2;
        const char *q = p;
        if (sscanf(q, "<x_%lf><y_%lf>", &x1, &y1) != 2) {
            p += 3;
            continue;
        }
        q = strstr(q, "><y_");
        q = q ? strchr(q + 1, '>') : NULL;
        if (!q)
            break;
        const char *t0 = q + 1;
        const char *t1 = strstr(t0, "<x_");
        if (!t1)
            break;
        if (sscanf(t1, "<x_%lf><y_%lf>", &x2, &y2) != 2)
            break;
        const char *c0 = strstr(t1, "<class_");
        if (!c0)
            break;
        c0 += 7;
        const char *c1 = strchr(c0, '>');
        if (!c1)
            break;
        nemotron_region(x, c0, (size_t)(c1 - c0), t0, (size_t)(t1 - t0),
                        box_padded(x, x->pg, x1, y1, x2, y2, 1));
        p = c1 + 1;
    }
}

static void nemotron_tools(nb *x, const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    json_t *list = json_array_get(j, 0);
    if (!json_is_array(list))
        list = j; /* markdown_no_bbox: [{text}] */
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *text = json_string_value(json_object_get(it, "text"));
        const char *type = json_string_value(json_object_get(it, "type"));
        json_t *bb = json_object_get(it, "bbox");
        if (!text)
            continue;
        qr_bbox box = {0, 0, x->pw, x->ph};
        if (bb)
            box = box_padded(x, x->pg, json_number_value(json_object_get(bb, "xmin")),
                             json_number_value(json_object_get(bb, "ymin")),
                             json_number_value(json_object_get(bb, "xmax")),
                             json_number_value(json_object_get(bb, "ymax")), 0);
        const char *t = type ? type : "Text";
        nemotron_region(x, t, strlen(t), text, strlen(text), box);
    }
    if (!json_is_array(j))
        markdown(x, s, strlen(s), (qr_bbox){0, 0, x->pw, x->ph}, -1);
    json_decref(j);
}

qr_vlm_page *qr_vlm_normalise(const char *text, int protocol, int page, float page_w,
                              float page_h, int img_w, int img_h)
{
    qr_vlm_page *pg = qr_calloc(1, sizeof(*pg));
    if (!pg)
        return NULL;
    size_t n = strlen(text);
    if (qr_arena_init(&pg->arena, 65536 + n * 6 + (size_t)MAX_CELLS * sizeof(char *) * 4) != QUIRE_OK) {
        qr_free(pg);
        return NULL;
    }
    pg->img_w = img_w;
    pg->img_h = img_h;
    nb x = {pg, page, page_w, page_h};
    switch (protocol) {
    case QR_PROTO_DEEPSEEK:
        deepseek(&x, text);
        break;
    case QR_PROTO_NEMOTRON_TOKENS:
        if (strstr(text, "<class_"))
            nemotron_tokens(&x, text);
        else
            markdown(&x, text, n, (qr_bbox){0, 0, page_w, page_h}, -1);
        break;
    case QR_PROTO_NEMOTRON_TOOLS:
        nemotron_tools(&x, text);
        break;
    default:
        if (strstr(text, "<|ref|>"))
            deepseek(&x, text);
        else
            markdown(&x, text, n, (qr_bbox){0, 0, page_w, page_h}, -1);
        break;
    }
    /* drop blocks whose text could not be copied (arena full) or is empty */
    int k = 0;
    for (int i = 0; i < pg->n; i++) {
        qr_block *b = &pg->blocks[i];
        if (!b->text || (b->type != QR_BLK_TABLE && !b->text[0]))
            continue;
        pg->blocks[k++] = *b;
    }
    pg->n = k;
    return pg;
}

void qr_vlm_page_free(qr_vlm_page *pg)
{
    if (!pg)
        return;
    qr_arena_free(&pg->arena);
    qr_free(pg);
}
