/*
 * gamebook.c — `--format gamebook`: a book of numbered sections (Fighting Fantasy style)
 * as JSON (docs/gamebook.md). Sections are found by their numbers: a block that is only
 * a numeral (a centred heading), a numeral at the start of a paragraph, or one after a
 * sentence end inside a paragraph (where a layout joined a heading into the text). Every
 * such candidate gets a weight (more when bold or larger than the body text), and the
 * sections are the chain of candidates, in reading order, with increasing numbers that
 * weighs most once each skipped number is paid for (a dynamic program, like a longest
 * increasing subsequence). So a "22 steps lead down" inside section 12, a page number
 * or an OCR misread is outvoted by the sequence around it, and "l2" still reads 12.
 * A number printed twice in the heading style is kept twice (the validator reports it).
 * Each section's text then goes to gamebook_text.c for choices, combat and items.
 */
#include <stdlib.h>
#include <string.h>

#include "export/gamebook_int.h"

enum { CAND_HEAD = 0, CAND_LEAD = 1, CAND_INLINE = 2, CAND_INFERRED = 3 };
static const char *const cand_names[] = {"heading", "numeral", "inline", "inferred"};

/* Chain scoring: what a candidate is worth, what each number skipped between two
 * chained candidates costs (capped: a run of lost pages must not hide the rest), and
 * what a repeated number costs. */
#define W_HEAD 1.0f
#define W_HEAD_STRONG 1.5f
#define W_LEAD 0.5f
#define W_LEAD_STRONG 1.2f
#define W_INLINE 0.3f
#define W_INLINE_STRONG 0.9f
#define W_ALT 0.9f /* a second reading of a heading ("66|" as 66, not 661) */
#define GAP_COST 0.45f
#define GAP_CAP 3.0f
#define DUP_COST 0.6f
#define CHAIN_WINDOW 4000 /* candidates looked back at (bounds the work on huge inputs) */

typedef struct cand {
    int blk;         /* block index */
    size_t off, end; /* the numeral's bytes in the block's text */
    long val;
    float w;
    int kind;   /* CAND_* */
    int strong; /* bold, large or a heading: may repeat the number before it */
} cand;

typedef struct gb {
    const qr_layout *l;
    const qr_page *const *pages;
    int n_pages;
    const char **text; /* per block: its text as a section holds it (NULL: a figure) */
    char **owned;      /* per block: the text when made here (tables, list items) */
    float body;        /* body font size, points */
    cand *c;
    int n_c, cap_c;
    cand *unread; /* heading blocks of one short token OCR did not read as a number */
    int n_unread, cap_unread;
    int failed;
} gb;

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* ---- block texts ------------------------------------------------------------------- */

static char *table_text(const qr_block *b)
{
    qr_buf t;
    qr_buf_init(&t, 0);
    for (int r = 0; r < b->n_rows; r++) {
        if (r)
            qr_buf_putc(&t, '\n');
        for (int c = 0, k = 0; c < b->n_cols; c++) {
            const char *cell = b->cells[r * b->n_cols + c];
            if (!cell || !cell[0])
                continue;
            if (k++)
                qr_buf_putc(&t, ' ');
            qr_buf_append(&t, cell, strlen(cell));
        }
    }
    qr_buf_putc(&t, '\0');
    if (t.failed) {
        qr_buf_free(&t);
        return NULL;
    }
    return t.data;
}

static int block_texts(gb *g)
{
    int n = g->l->n_blocks;
    g->text = qr_calloc((size_t)(n + 1), sizeof(*g->text));
    g->owned = qr_calloc((size_t)(n + 1), sizeof(*g->owned));
    if (!g->text || !g->owned)
        return -1;
    for (int k = 0; k < n; k++) {
        const qr_block *b = &g->l->blocks[k];
        if (b->type == QR_BLK_FIGURE)
            continue;
        if (b->type == QR_BLK_TABLE) {
            g->owned[k] = table_text(b);
            if (!g->owned[k])
                return -1;
            g->text[k] = g->owned[k];
        } else if (b->type == QR_BLK_LIST_ITEM && b->marker) {
            size_t nm = strlen(b->marker), nt = strlen(b->text);
            g->owned[k] = qr_malloc(nm + nt + 2);
            if (!g->owned[k])
                return -1;
            memcpy(g->owned[k], b->marker, nm);
            g->owned[k][nm] = ' ';
            memcpy(g->owned[k] + nm + 1, b->text, nt + 1);
            g->text[k] = g->owned[k];
        } else {
            g->text[k] = b->text ? b->text : "";
        }
    }
    return 0;
}

/* ---- fonts of the numerals --------------------------------------------------------- */

static const qr_page *page_of(const gb *g, int number)
{
    for (int i = 0; i < g->n_pages; i++)
        if (g->pages[i] && g->pages[i]->number == number)
            return g->pages[i];
    return NULL;
}

/* Most common font size, by characters (0.5 pt bins). */
static float body_size(const gb *g)
{
    long hist[200] = {0};
    for (int p = 0; p < g->n_pages; p++) {
        const qr_page *pg = g->pages[p];
        for (int b = 0; pg && b < pg->n_blocks; b++)
            for (int li = 0; li < pg->blocks[b].n_lines; li++) {
                const qr_line *ln = &pg->blocks[b].lines[li];
                for (int w = 0; w < ln->n_words; w++) {
                    int bin = (int)(ln->words[w].size * 2.0f + 0.5f);
                    if (bin >= 0 && bin < 200)
                        hist[bin] += (long)ln->words[w].len;
                }
            }
    }
    int best = 20;
    for (int i = 1; i < 200; i++)
        if (hist[i] > hist[best])
            best = i;
    return (float)best / 2.0f;
}

static int inside(const qr_bbox *box, const qr_bbox *w)
{
    float cx = 0.5f * (w->x0 + w->x1), cy = 0.5f * (w->y0 + w->y1);
    return cx >= box->x0 - 2 && cx <= box->x1 + 2 && cy >= box->y0 - 2 && cy <= box->y1 + 2;
}

/* Is the first word of block b that starts with tok[0..n) (the top-most, then left-most)
 * bold or larger than the body? */
static int numeral_strong(const gb *g, const qr_block *b, const char *tok, size_t n)
{
    const qr_page *pg = page_of(g, b->page);
    const qr_word *best = NULL;
    for (int bi = 0; pg && bi < pg->n_blocks; bi++)
        for (int li = 0; li < pg->blocks[bi].n_lines; li++) {
            const qr_line *ln = &pg->blocks[bi].lines[li];
            for (int w = 0; w < ln->n_words; w++) {
                const qr_word *wd = &ln->words[w];
                if (wd->len < n || memcmp(wd->text, tok, n) != 0 || !inside(&b->bbox, &wd->bbox))
                    continue;
                if (!best || wd->bbox.y0 < best->bbox.y0 - 1 ||
                    (wd->bbox.y0 < best->bbox.y0 + 1 && wd->bbox.x0 < best->bbox.x0))
                    best = wd;
            }
        }
    if (!best)
        return 0;
    return (best->flags & QR_FONT_BOLD) || best->size >= 1.12f * g->body;
}

/* ---- candidates -------------------------------------------------------------------- */

static void push_cand(gb *g, cand **v, int *n, int *cap, cand c)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        cand *nv = qr_realloc(*v, sizeof(*nv) * (size_t)nc);
        if (!nv) {
            g->failed = 1;
            return;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = c;
}

static void add_cand(gb *g, cand c)
{
    push_cand(g, &g->c, &g->n_c, &g->cap_c, c);
}

static int is_alnum(char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z');
}

/* Is t[0..n) one token once the tokens with no letter or digit (OCR's specks, rules and
 * stray marks: ": 68 :", "& 22") are left out? [*a, *b) is that token trimmed of what is
 * neither a letter, a digit nor a look-alike of one ("38°" -> "38"). */
static int one_token(const char *t, size_t n, size_t *a, size_t *b)
{
    int found = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space(t[i]))
            i++;
        size_t s = i, has = 0;
        while (i < n && !is_space(t[i]))
            has += is_alnum(t[i++]);
        if (!has)
            continue;
        if (found++)
            return 0;
        *a = s;
        *b = i;
    }
    if (!found)
        return 0;
    while (*a < *b && !is_alnum(t[*a]) && !strchr("|!]", t[*a]))
        (*a)++;
    while (*b > *a && !is_alnum(t[*b - 1]) && !strchr("|!]", t[*b - 1]))
        (*b)--;
    return 1;
}

/* A block that is one numeral: a heading candidate, and a second one without the
 * look-alikes of 1 at its edges, which OCR also makes of specks and rules ("66|" is 661
 * or 66: the chain decides). A heading block of one short token that reads as no number
 * ("a1", "TL" for a bold 21, 71) is kept for gap filling. Returns 0 when the block is not
 * one token. */
static int numeral_block(gb *g, int k, const char *t, size_t n)
{
    const qr_block *b = &g->l->blocks[k];
    size_t i, e;
    if (!one_token(t, n, &i, &e) || e == i)
        return 0;
    long v = qr_gb_number(t + i, e - i, 1);
    int strong = b->type == QR_BLK_HEADING || numeral_strong(g, b, t + i, e - i);
    if (v > 0)
        add_cand(g, (cand){k, i, e, v, strong ? W_HEAD_STRONG : W_HEAD, CAND_HEAD, strong});
    size_t i2 = i, e2 = e;
    while (i2 < e2 && strchr("|!]lI", t[i2]))
        i2++;
    while (e2 > i2 && strchr("|!]lI", t[e2 - 1]))
        e2--;
    long v2 = e2 > i2 && (i2 != i || e2 != e) ? qr_gb_number(t + i2, e2 - i2, 0) : -1;
    if (v2 > 0 && v2 != v)
        add_cand(g, (cand){k, i, e, v2, W_ALT * (strong ? W_HEAD_STRONG : W_HEAD), CAND_HEAD,
                           strong});
    int n_alnum = 0, n_digits = 0;
    for (size_t j = i; j < e; j++) {
        n_alnum += is_alnum(t[j]);
        n_digits += t[j] >= '0' && t[j] <= '9';
    }
    /* no digit at all ("Si" for a bold 335 reads 51 only through look-alikes): also unread */
    if ((n_digits == 0 || (v <= 0 && v2 <= 0)) && b->type == QR_BLK_HEADING && n_alnum <= 4)
        push_cand(g, &g->unread, &g->n_unread, &g->cap_unread,
                  (cand){k, i, e, 0, 0, CAND_INFERRED, 1});
    return 1;
}

static int upper_start(const char *s)
{
    while (*s == '"' || *s == '(')
        s++;
    return (*s >= 'A' && *s <= 'Z') || (unsigned char)*s >= 0xC0;
}

static void block_cands(gb *g, int k)
{
    const qr_block *b = &g->l->blocks[k];
    const char *t = g->text[k];
    size_t n = strlen(t), i = 0;
    while (i < n && is_space(t[i]))
        i++;
    size_t e = i;
    while (e < n && !is_space(t[e]))
        e++;
    size_t rest = e;
    while (rest < n && is_space(t[rest]))
        rest++;
    if (numeral_block(g, k, t, n))
        return;
    long v = e > i ? qr_gb_number(t + i, e - i, 0) : -1;
    if (v > 0 && b->type != QR_BLK_TABLE) { /* a paragraph opening with a numeral */
        int strong = numeral_strong(g, b, t + i, e - i);
        add_cand(g, (cand){k, i, e, v, strong ? W_LEAD_STRONG : W_LEAD, CAND_LEAD, strong});
    }
    /* numerals after a sentence end, before a capital: a heading the layout ran in */
    size_t ps = i, pe = e;
    i = rest;
    while (i < n && b->type != QR_BLK_TABLE) {
        e = i;
        while (e < n && !is_space(t[e]))
            e++;
        rest = e;
        while (rest < n && is_space(t[rest]))
            rest++;
        char last = t[pe - 1];
        int after_end = last == '.' || last == '!' || last == '?' || last == ')';
        int after_to = pe - ps == 2 && (t[ps] == 't' || t[ps] == 'T') && t[ps + 1] == 'o';
        if (after_end && !after_to && rest < n && upper_start(t + rest)) {
            v = qr_gb_number(t + i, e - i, 0);
            if (v > 0) {
                int strong = numeral_strong(g, b, t + i, e - i);
                add_cand(g, (cand){k, i, e, v, strong ? W_INLINE_STRONG : W_INLINE,
                                   CAND_INLINE, strong});
            }
        }
        int mark = 1; /* a token with no letter or digit ("/", ":") is OCR's speck */
        for (size_t j = i; j < e && mark; j++)
            mark = !is_alnum(t[j]);
        if (!mark) {
            ps = i;
            pe = e;
        }
        i = rest;
    }
}

/* ---- the chain --------------------------------------------------------------------- */

static float gap_cost(long skipped)
{
    float c = GAP_COST * (float)skipped;
    return c < GAP_CAP ? c : GAP_CAP;
}

/* Indices of the chosen candidates in order into *chain. Returns their count, -1 on
 * failure. */
static int best_chain(const gb *g, int **chain)
{
    int m = g->n_c;
    float *f = qr_malloc(sizeof(*f) * (size_t)(m + 1));
    int *prev = qr_malloc(sizeof(*prev) * (size_t)(m + 1));
    *chain = qr_malloc(sizeof(**chain) * (size_t)(m + 1));
    if (!f || !prev || !*chain) {
        qr_free(f);
        qr_free(prev);
        return -1;
    }
    int end = -1;
    for (int i = 0; i < m; i++) {
        const cand *ci = &g->c[i];
        f[i] = ci->w - gap_cost(ci->val - 1);
        prev[i] = -1;
        for (int j = i - 1; j >= 0 && i - j <= CHAIN_WINDOW; j--) {
            const cand *cj = &g->c[j];
            float s;
            if (cj->blk == ci->blk && cj->off == ci->off)
                continue; /* two readings of one numeral */
            if (cj->val < ci->val)
                s = f[j] + ci->w - gap_cost(ci->val - cj->val - 1);
            else if (cj->val == ci->val && ci->strong && cj->strong && ci->kind == CAND_HEAD &&
                     cj->kind == CAND_HEAD)
                s = f[j] + ci->w - DUP_COST;
            else
                continue;
            if (s > f[i]) {
                f[i] = s;
                prev[i] = j;
            }
        }
        if (f[i] > 0 && (end < 0 || f[i] > f[end]))
            end = i;
    }
    int n = 0;
    for (int i = end; i >= 0; i = prev[i])
        (*chain)[n++] = i;
    for (int a = 0, b = n - 1; a < b; a++, b--) {
        int t = (*chain)[a];
        (*chain)[a] = (*chain)[b];
        (*chain)[b] = t;
    }
    qr_free(f);
    qr_free(prev);
    return n;
}

/* Numbers the chain skips between two of its sections a and b, where exactly as many
 * unread heading blocks stand between them as numbers are missing, go to those blocks in
 * order (a scan's "a1" between 20 and 22 is 21). Rebuilds *chain; returns its length. */
static int fill_gaps(gb *g, int **chain, int n)
{
    if (g->n_unread == 0 || n < 2)
        return n;
    int *out = qr_malloc(sizeof(*out) * (size_t)(n + g->n_unread + 1));
    if (!out)
        return -1;
    int m = 0, u = 0;
    for (int i = 0; i < n; i++) {
        out[m++] = (*chain)[i];
        if (i + 1 == n)
            break;
        const cand a = g->c[(*chain)[i]], b = g->c[(*chain)[i + 1]];
        while (u < g->n_unread && g->unread[u].blk <= a.blk)
            u++;
        int u1 = u;
        while (u1 < g->n_unread && g->unread[u1].blk < b.blk)
            u1++;
        if (u1 > u && b.val - a.val - 1 == u1 - u) {
            for (int k = u; k < u1 && !g->failed; k++) {
                cand c = g->unread[k];
                c.val = a.val + 1 + (k - u);
                add_cand(g, c);
                out[m++] = g->n_c - 1;
            }
        }
        u = u1;
    }
    qr_free(*chain);
    *chain = out;
    return g->failed ? -1 : m;
}

/* ---- output ------------------------------------------------------------------------ */

/* Append t[a, b) trimmed to the section text, a blank line before it when not first. */
static void put_piece(qr_buf *s, const char *t, size_t a, size_t b)
{
    while (a < b && is_space(t[a]))
        a++;
    while (b > a && is_space(t[b - 1]))
        b--;
    if (a == b)
        return;
    if (s->len)
        qr_buf_append(s, "\n\n", 2);
    qr_buf_append(s, t + a, b - a);
}

/* The text from (block k0, byte o0) up to (block k1, byte o1) into s; *figures counts
 * the figure blocks, *page_end the last page. */
static void collect(const gb *g, int k0, size_t o0, int k1, size_t o1, qr_buf *s,
                    int *figures, int *page_end)
{
    for (int k = k0; k <= k1 && k < g->l->n_blocks; k++) {
        const qr_block *b = &g->l->blocks[k];
        if (k == k1 && o1 == 0)
            break;
        if (!g->text[k]) {
            (*figures)++;
            continue;
        }
        size_t a = k == k0 ? o0 : 0, e = k == k1 ? o1 : strlen(g->text[k]);
        put_piece(s, g->text[k], a, e);
        int last = b->page_end > b->page ? b->page_end : b->page;
        if (last > *page_end)
            *page_end = last;
    }
}

static void put_section(qr_buf *out, const gb *g, const cand *c, const cand *next, qr_buf *s)
{
    const qr_block *b = &g->l->blocks[c->blk];
    int figures = 0, page_end = b->page;
    qr_buf_clear(s);
    int k1 = next ? next->blk : g->l->n_blocks - 1;
    size_t o1 = next ? next->off : (g->text[k1] ? strlen(g->text[k1]) : 0);
    if (!next && !g->text[k1]) { /* a figure ends the book: count it */
        k1 = g->l->n_blocks;
        o1 = 0;
    }
    collect(g, c->blk, c->end, k1, o1, s, &figures, &page_end);
    qr_buf_printf(out, "{\"number\":%ld,\"label\":", c->val);
    qr_export_json_str(out, g->text[c->blk] + c->off, c->end - c->off);
    qr_buf_printf(out, ",\"page\":%d,\"page_end\":%d,\"found_as\":\"%s\",\"text\":", b->page,
                  page_end, cand_names[c->kind]);
    qr_export_json_str(out, s->data ? s->data : "", s->len);
    qr_gb_put_analysis(out, s->data ? s->data : "", s->len);
    qr_buf_printf(out, ",\"figures\":%d}", figures);
}

static void put_doc(qr_buf *out, const gb *g, const qr_export_doc *d, const int *chain, int n)
{
    qr_buf_printf(out, "{\"schema\":\"quire-gamebook\",\"schema_version\":%d,\"document\":",
                  QR_GAMEBOOK_SCHEMA_VERSION);
    qr_export_json_str(out, d->path, d->path ? strlen(d->path) : 0);
    if (d->n_pages_total > 0)
        qr_buf_printf(out, ",\"n_pages\":%d", d->n_pages_total);
    qr_buf_append(out, ",\"missing_pages\":[", 18);
    for (int i = 0, k = 0; i < d->n_pages; i++)
        if (d->pages[i].missing)
            qr_buf_printf(out, "%s%d", k++ ? "," : "", d->pages[i].page);
    qr_buf_append(out, "],\"front_matter\":", 17);
    qr_buf s;
    qr_buf_init(&s, 0);
    int figures = 0, page_end = 0;
    if (n > 0)
        collect(g, 0, 0, g->c[chain[0]].blk, g->c[chain[0]].off, &s, &figures, &page_end);
    else
        collect(g, 0, 0, g->l->n_blocks, 0, &s, &figures, &page_end);
    qr_export_json_str(out, s.data ? s.data : "", s.len);
    qr_buf_printf(out, ",\"n_sections\":%d,\"sections\":[", n);
    for (int i = 0; i < n; i++) {
        qr_buf_append(out, i ? ",\n" : "\n", i ? 2 : 1);
        put_section(out, g, &g->c[chain[i]], i + 1 < n ? &g->c[chain[i + 1]] : NULL, &s);
    }
    qr_buf_append(out, "\n]}\n", 4);
    if (s.failed)
        out->failed = 1;
    qr_buf_free(&s);
}

void qr_export_gamebook(const qr_layout *l, const qr_page *const *pages, int n_pages,
                        const qr_export_doc *d, qr_buf *out)
{
    gb g;
    memset(&g, 0, sizeof(g));
    g.l = l;
    g.pages = pages;
    g.n_pages = pages ? n_pages : 0;
    int *chain = NULL;
    int n = -1;
    if (block_texts(&g) == 0) {
        g.body = body_size(&g);
        for (int k = 0; k < l->n_blocks && !g.failed; k++)
            if (g.text[k])
                block_cands(&g, k);
        if (!g.failed)
            n = best_chain(&g, &chain);
        if (n >= 0)
            n = fill_gaps(&g, &chain, n);
    }
    if (n < 0)
        out->failed = 1;
    else
        put_doc(out, &g, d, chain, n);
    for (int k = 0; g.owned && k < l->n_blocks; k++)
        qr_free(g.owned[k]);
    qr_free(g.owned);
    qr_free(g.text);
    qr_free(g.c);
    qr_free(g.unread);
    qr_free(chain);
}
