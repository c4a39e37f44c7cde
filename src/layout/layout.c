/*
 * layout.c — qr_layout_doc: drives the layout pipeline described in layout_int.h and
 * owns its memory. Scratch (line and row records, joined row text) is qr_malloc'd and
 * chained so one call frees it all on every exit path; everything the caller keeps
 * (blocks, their strings, cells) comes from the caller's arena.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "layout/layout_int.h"

struct qr_scratch {
    struct qr_scratch *next;
    max_align_t align[]; /* payload follows */
};

void *qr_lx_scratch(qr_lctx *c, size_t n)
{
    if (c->nomem || n > SIZE_MAX - sizeof(qr_scratch))
        return NULL;
    qr_scratch *s = qr_malloc(sizeof(qr_scratch) + n);
    if (!s) {
        c->nomem = 1;
        return NULL;
    }
    memset(s->align, 0, n);
    s->next = c->scratch;
    c->scratch = s;
    return s->align;
}

static void scratch_free_all(qr_lctx *c)
{
    while (c->scratch) {
        qr_scratch *next = c->scratch->next;
        qr_free(c->scratch);
        c->scratch = next;
    }
}

char *qr_lx_strdup(qr_lctx *c, const char *s, size_t n)
{
    if (c->nomem || n == SIZE_MAX)
        return NULL;
    char *d = qr_arena_alloc(c->arena, n + 1);
    if (!d) {
        c->nomem = 1;
        return NULL;
    }
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- small UTF-8 helpers ------------------------------------------------------- */

static int first_category(const char *s)
{
    utf8proc_int32_t cp = 0;
    if (!s || !*s)
        return -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp) <= 0)
        return -1;
    return utf8proc_category(cp);
}

int qr_lx_utf8_is_lower(const char *s) { return first_category(s) == UTF8PROC_CATEGORY_LL; }

int qr_lx_utf8_is_letter(const char *s)
{
    int cat = first_category(s);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

/* ---- joining lines ---------------------------------------------------------------- */

/* The code point that ends s[0, n), or -1. */
static int last_cp(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return -1;
    utf8proc_int32_t cp = -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + i - 1, (utf8proc_ssize_t)(n - i + 1),
                         &cp) <= 0)
        return -1;
    return cp;
}

/* Does the word ending at s[end] (exclusive) already contain a hyphen? */
static int has_hyphen(const char *s, size_t end)
{
    while (end > 0 && s[end - 1] != ' ') {
        if (s[end - 1] == '-')
            return 1;
        end--;
    }
    return 0;
}

static int is_alnum_ascii(int ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z');
}

/* Is t[0, n) (a line's last word, opening brackets/quotes skipped) the start of a URL or
 * an e-mail address? */
static int url_start(const char *t, size_t n)
{
    const char *e = t + n;
    while (t < e && strchr("(<[{\"'", *t))
        t++;
    while (e - t >= 3 && (unsigned char)t[0] == 0xE2 && (unsigned char)t[1] == 0x80 &&
           ((unsigned char)t[2] == 0x9C || (unsigned char)t[2] == 0x98))
        t += 3; /* “ ‘ */
    n = (size_t)(e - t);
    if (n >= 4 && (strncmp(t, "www.", 4) == 0 || strncmp(t, "WWW.", 4) == 0))
        return 1;
    size_t k = 0;
    while (k < n && ((t[k] | 32) >= 'a' && (t[k] | 32) <= 'z'))
        k++;
    if (k >= 2 && n >= k + 3 && memcmp(t + k, "://", 3) == 0)
        return 1;
    if (k >= 4 && n > k && t[k] == ':' && strncmp(t, "mailto", 6) == 0)
        return 1;
    /* local@domain: only the characters of an address, one '@' with a name before it */
    size_t at = 0;
    int n_at = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)t[i];
        if (ch == '@') {
            n_at++;
            at = i;
        } else if (!is_alnum_ascii(ch) && !strchr("._%+-", ch)) {
            return 0;
        }
    }
    return n_at == 1 && at > 0 && is_alnum_ascii((unsigned char)t[at - 1]);
}

/* Does the next line's first word w[0, n) go on with a URL that ended the previous line
 * with character `last`? URLs break after punctuation (TeX's url package: / . - _ ...);
 * what follows a complete URL is a word, a new sentence, a page number. */
static int url_goes_on(int last, const char *w, size_t n)
{
    if (n == 0)
        return 0;
    size_t m = n; /* w without trailing sentence punctuation */
    while (m > 0 && strchr(".,;:!?)]}>\"'", w[m - 1]))
        m--;
    int inner = 0; /* URL punctuation inside the word */
    for (size_t i = 0; i + 1 < m; i++)
        if (strchr("/.#?&=_~%@-", w[i]) && i > 0)
            inner = 1;
    int starts_punct = strchr("/#?&=_~%.", w[0]) != NULL;
    if (strchr("-_~#?&=%@:+", last))
        return 1; /* the URL cannot end there */
    if (last == '/')
        return inner || starts_punct || (m < n && m > 0 && is_alnum_ascii((unsigned char)w[m - 1]));
    if (last == '.')
        return inner || qr_lx_utf8_is_lower(w) || (w[0] >= '0' && w[0] <= '9' && inner);
    if (is_alnum_ascii(last))
        return starts_punct;
    return 0;
}

size_t qr_lx_join_point(const char *a, size_t na, const char *b, int *space)
{
    *space = 0;
    if (na == 0)
        return 0;
    if (na >= 2 && (unsigned char)a[na - 2] == 0xC2 && (unsigned char)a[na - 1] == 0xAD)
        return na - 2; /* soft hyphen */
    size_t t0 = na; /* the last word of a */
    while (t0 > 0 && a[t0 - 1] != ' ')
        t0--;
    size_t nb = 0; /* the first word of b */
    while (b[nb] && b[nb] != ' ')
        nb++;
    if (url_start(a + t0, na - t0) && url_goes_on((unsigned char)a[na - 1], b, nb))
        return na;
    if (a[na - 1] == '-' && na >= 2) {
        int cp = last_cp(a, na - 1);
        utf8proc_category_t cat = cp >= 0 ? utf8proc_category(cp) : UTF8PROC_CATEGORY_CN;
        if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO &&
            qr_lx_utf8_is_lower(b))
            return has_hyphen(a, na - 1) ? na : na - 1; /* "state-of-the-art" / "example" */
    }
    *space = 1;
    return na;
}

/* ---- blocks -------------------------------------------------------------------- */

qr_block *qr_lx_block(qr_lctx *c, int type, qr_lrow *first)
{
    /* every block takes at least one row, so n_rows bounds the count */
    if (c->nomem || c->n_blocks >= c->n_rows + 1)
        return NULL;
    qr_block *b = &c->blocks[c->n_blocks++];
    memset(b, 0, sizeof(*b));
    b->type = type;
    b->page = first->page_no;
    b->page_end = first->page_no;
    b->source = first->source;
    b->bbox = first->bbox;
    b->conf = -1.0f;
    c->bfirst[c->n_blocks - 1] = first;
    qr_lx_take(c, first);
    return b;
}

void qr_lx_take(qr_lctx *c, qr_lrow *r)
{
    int k = c->n_blocks - 1;
    qr_block *b = &c->blocks[k];
    if (r->page_no == b->page) {
        b->bbox.x0 = QR_MIN(b->bbox.x0, r->bbox.x0);
        b->bbox.y0 = QR_MIN(b->bbox.y0, r->bbox.y0);
        b->bbox.x1 = QR_MAX(b->bbox.x1, r->bbox.x1);
        b->bbox.y1 = QR_MAX(b->bbox.y1, r->bbox.y1);
    }
    for (int i = 0; i < r->n_words; i++) {
        if (r->words[i]->conf >= 0) {
            c->csum[k] += r->words[i]->conf;
            c->ccnt[k]++;
        }
    }
    c->blast[k] = r;
    r->used = 1;
}

/* ---- collection ---------------------------------------------------------------- */

static int line_usable(const qr_line *ln)
{
    /* vertical and rotated runs (margin stamps, rotated table heads) would break
     * the geometry of everything else; they are dropped */
    if (ln->n_words <= 0 || !ln->words)
        return 0;
    return !(fabsf(ln->dir_y) > 0.5f);
}

static int count_lines(const qr_lctx *c)
{
    int n = 0;
    for (int p = 0; p < c->n_pages; p++) {
        const qr_page *pg = c->pages[p];
        if (!pg)
            continue;
        for (int b = 0; b < pg->n_blocks; b++) {
            const qr_tblock *tb = &pg->blocks[b];
            if (tb->kind != QR_BLOCK_TEXT)
                continue;
            for (int l = 0; l < tb->n_lines; l++)
                n += line_usable(&tb->lines[l]);
        }
    }
    return n;
}

static qr_bbox words_bbox(const qr_line *ln)
{
    qr_bbox bb = ln->words[0].bbox;
    for (int i = 1; i < ln->n_words; i++) {
        const qr_bbox *w = &ln->words[i].bbox;
        bb.x0 = QR_MIN(bb.x0, w->x0);
        bb.y0 = QR_MIN(bb.y0, w->y0);
        bb.x1 = QR_MAX(bb.x1, w->x1);
        bb.y1 = QR_MAX(bb.y1, w->y1);
    }
    return bb;
}

static void collect_lines(qr_lctx *c)
{
    int blk_id = 0;
    for (int p = 0; p < c->n_pages; p++) {
        const qr_page *pg = c->pages[p];
        if (!pg)
            continue;
        for (int b = 0; b < pg->n_blocks; b++, blk_id++) {
            const qr_tblock *tb = &pg->blocks[b];
            if (tb->kind != QR_BLOCK_TEXT)
                continue;
            for (int l = 0; l < tb->n_lines; l++) {
                if (!line_usable(&tb->lines[l]))
                    continue;
                qr_lline *ll = &c->lines[c->n_lines++];
                ll->line = &tb->lines[l];
                ll->page = p;
                ll->blk = blk_id;
                ll->bbox = words_bbox(ll->line);
                ll->base = ll->line->baseline;
                ll->src = pg->source == QR_SRC_TEXT && ll->line->words[0].conf >= 0
                    ? QR_SRC_OCR : pg->source;
                for (int w = 0; w < ll->line->n_words; w++)
                    ll->size = QR_MAX(ll->size, ll->line->words[w].size);
            }
        }
    }
}

/* ---- body size ----------------------------------------------------------------- */

static float body_size(const qr_lctx *c)
{
    enum { N_BINS = 512 }; /* half-point bins up to 256 pt */
    long hist[N_BINS] = {0};
    for (int i = 0; i < c->n_lines; i++) {
        if (c->lines[i].removed)
            continue;
        const qr_line *ln = c->lines[i].line;
        for (int w = 0; w < ln->n_words; w++) {
            long bin = lroundf(ln->words[w].size * 2.0f);
            if (bin > 0 && bin < N_BINS)
                hist[bin] += (long)ln->words[w].len;
        }
    }
    int best = 20; /* 10 pt when there is no text at all */
    for (int b = 1; b < N_BINS; b++)
        if (hist[b] > hist[best])
            best = b;
    return (float)best / 2.0f;
}

/* ---- rows ---------------------------------------------------------------------- */

static float vert_overlap(const qr_bbox *a, const qr_bbox *b)
{
    return QR_MIN(a->y1, b->y1) - QR_MAX(a->y0, b->y0);
}

/* The row being built: its box, and the baseline and size of its largest line. */
typedef struct row_ref {
    qr_bbox bb;
    float base, size;
} row_ref;

#define SAME_BASE 0.25f /* baselines closer than this (in ems of the smaller) are one */
#define SCRIPT_SIZE 0.85f /* a line this much smaller may be a super-/subscript ... */
#define SCRIPT_UP 0.75f   /* ... with its baseline up to this far above (in ems) ... */
#define SCRIPT_DOWN 0.4f  /* ... or this far below the row's */

static int same_row(const qr_lline *l, const row_ref *row, int band, int col, int page, int src)
{
    if (l->page != page || l->band != band || l->col != col || l->src != src)
        return 0;
    if (l->base > 0 && row->base > 0) {
        /* the text layer knows its baselines: lines of neighbouring rows can overlap
         * (tight leading, tall glyphs), so boxes are not trusted */
        float big = QR_MAX(l->size, row->size), small = QR_MIN(l->size, row->size);
        float d = l->base - row->base;
        if (fabsf(d) <= SAME_BASE * QR_MAX(small, 1.0f))
            return 1;
        if (small >= SCRIPT_SIZE * big)
            return 0;
        float rel = l->size < row->size ? d : -d; /* the smaller one's offset */
        return rel >= -SCRIPT_UP * big && rel <= SCRIPT_DOWN * big;
    }
    float h = QR_MIN(l->bbox.y1 - l->bbox.y0, row->bb.y1 - row->bb.y0);
    return vert_overlap(&l->bbox, &row->bb) >= 0.5f * h;
}

static int cmp_word_x(const void *a, const void *b)
{
    const qr_word *wa = *(const qr_word *const *)a;
    const qr_word *wb = *(const qr_word *const *)b;
    return (wa->bbox.x0 > wb->bbox.x0) - (wa->bbox.x0 < wb->bbox.x0);
}

/* True when the word's font name, lower-cased, contains one of NAMES. */
int qr_layout_font_has(const qr_word *w, const char *const *names, size_t n_names)
{
    if (!w->font || !*w->font)
        return 0;
    char low[64];
    size_t n = 0;
    for (; w->font[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)((w->font[n] >= 'A' && w->font[n] <= 'Z') ? w->font[n] + 32 : w->font[n]);
    low[n] = '\0';
    for (size_t i = 0; i < n_names; i++)
        if (strstr(low, names[i]))
            return 1;
    return 0;
}

int qr_layout_mono_word(const qr_word *w)
{
    /* TeX's typewriter fonts: cmtt, its Czech/Slovak (cstt), EC/TC (ectt, tctt), cm-super
     * (sftt), Latin Modern (lmtt) and txfonts (txtt) versions */
    static const char *const names[] = {"mono",  "courier", "consol", "menlo",      "cmtt",
                                        "cstt",  "ectt",    "tctt",   "sftt",       "lmtt",
                                        "txtt", "typewriter", "inconsolata"};
    if (w->flags & QR_FONT_MONO)
        return 1;
    return qr_layout_font_has(w, names, QR_ARRAY_LEN(names));
}

/* Dominant size, weight and monospace share, by characters. */
static void row_stats(qr_lrow *r)
{
    float best_size = 0;
    long best_n = -1, n_bold = 0, n_mono = 0, n = 0;
    for (int i = 0; i < r->n_words; i++) {
        const qr_word *w = r->words[i];
        long same = 0;
        for (int j = 0; j < r->n_words; j++)
            if (fabsf(r->words[j]->size - w->size) < 0.25f)
                same += (long)r->words[j]->len;
        if (same > best_n) {
            best_n = same;
            best_size = w->size;
        }
        n += (long)w->len;
        n_bold += (w->flags & QR_FONT_BOLD) ? (long)w->len : 0;
        n_mono += qr_layout_mono_word(w) ? (long)w->len : 0;
    }
    r->size = best_size > 0 ? best_size : 10.0f;
    r->n_chars = (int)n;
    r->bold = n > 0 && n_bold * 10 >= n * 9;
    r->mono = n > 0 && n_mono * 10 >= n * 9;
}

static void row_text(qr_lctx *c, qr_lrow *r)
{
    size_t cap = 1;
    for (int i = 0; i < r->n_words; i++)
        cap += r->words[i]->len + 1;
    char *t = qr_lx_scratch(c, cap);
    if (!t)
        return;
    size_t n = 0;
    for (int i = 0; i < r->n_words; i++) {
        const qr_word *w = r->words[i];
        /* words split at font changes touch; real spaces leave a gap */
        if (i > 0 && w->bbox.x0 - r->words[i - 1]->bbox.x1 > 0.1f * r->size)
            t[n++] = ' ';
        memcpy(t + n, w->text, w->len);
        n += w->len;
    }
    t[n] = '\0';
    r->text = t;
    r->len = n;
}

static void fill_row(qr_lctx *c, qr_lrow *r, const qr_lline *l0, const qr_lline *l1)
{
    int nw = 0;
    for (const qr_lline *l = l0; l < l1; l++)
        nw += l->removed ? 0 : l->line->n_words;
    r->words = qr_lx_scratch(c, sizeof(*r->words) * (size_t)(nw ? nw : 1));
    if (!r->words)
        return;
    for (const qr_lline *l = l0; l < l1; l++) {
        if (l->removed)
            continue;
        for (int w = 0; w < l->line->n_words; w++)
            r->words[r->n_words++] = &l->line->words[w];
    }
    qsort(r->words, (size_t)r->n_words, sizeof(*r->words), cmp_word_x);
    row_stats(r);
    row_text(c, r);
}

/* Lines are sorted in reading order; runs on the same baseline become one row. */
static void build_rows(qr_lctx *c)
{
    int i = 0;
    while (i < c->n_lines && !c->nomem) {
        qr_lline *l0 = &c->lines[i];
        if (l0->removed) {
            i++;
            continue;
        }
        row_ref ref = {l0->bbox, l0->base, l0->size};
        int j = i + 1;
        while (j < c->n_lines &&
               (c->lines[j].removed || same_row(&c->lines[j], &ref, l0->band, l0->col, l0->page,
                                            l0->src))) {
            const qr_lline *lj = &c->lines[j];
            if (!lj->removed) {
                ref.bb.x0 = QR_MIN(ref.bb.x0, lj->bbox.x0);
                ref.bb.y0 = QR_MIN(ref.bb.y0, lj->bbox.y0);
                ref.bb.x1 = QR_MAX(ref.bb.x1, lj->bbox.x1);
                ref.bb.y1 = QR_MAX(ref.bb.y1, lj->bbox.y1);
                if (lj->size > ref.size * (1.0f / SCRIPT_SIZE) || ref.base <= 0) {
                    ref.base = lj->base; /* a superscript started the row */
                    ref.size = lj->size;
                }
            }
            j++;
        }
        qr_bbox bb = ref.bb;
        qr_lrow *r = &c->rows[c->n_rows++];
        const qr_page *pg = c->pages[l0->page];
        r->page = l0->page;
        r->page_no = pg->number > 0 ? pg->number : l0->page + 1;
        r->source = l0->src;
        r->band = l0->band;
        r->col = l0->col;
        r->blk = l0->blk;
        r->bbox = bb;
        fill_row(c, r, l0, &c->lines[j]);
        i = j;
    }
}

/* ---- post passes ----------------------------------------------------------------- */

#define MARGIN_FRAC 0.12f /* top/bottom share of a page where running heads sit */

static int ends_sentence(const char *t)
{
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '"' || t[n - 1] == ')'))
        n--;
    return n > 0 && strchr(".!?:;", t[n - 1]) != NULL;
}

/* Is block k a lone short line at the top or bottom of its page (a running head,
 * footer or page number that the furniture pass could not confirm)? */
static int margin_line(const qr_lctx *c, int k)
{
    const qr_block *b = &c->blocks[k];
    const qr_lrow *r = c->bfirst[k];
    if (b->type != QR_BLK_PARAGRAPH || !r || r != c->blast[k] || strlen(b->text) > 80)
        return 0;
    const qr_page *pg = c->pages[r->page];
    float h = pg ? pg->height : 0, y = 0.5f * (r->bbox.y0 + r->bbox.y1);
    return h > 0 && (y < MARGIN_FRAC * h || y > (1.0f - MARGIN_FRAC) * h);
}

/* Does paragraph b (block k) continue paragraph a (block i) across a break? */
static int continues(const qr_lctx *c, int i, int k)
{
    const qr_block *a = &c->blocks[i], *b = &c->blocks[k];
    const qr_lrow *la = c->blast[i], *fb = c->bfirst[k];
    int moved = la && fb && (la->page != fb->page || la->band != fb->band ||
                             la->col != fb->col);
    return a->type == QR_BLK_PARAGRAPH && b->type == QR_BLK_PARAGRAPH && moved &&
           !ends_sentence(a->text) && qr_lx_utf8_is_lower(b->text);
}

/* Append block b's text and provenance to a (a paragraph continued by b). */
static int join_into(qr_lctx *c, qr_block *a, const qr_block *b)
{
    size_t na = strlen(a->text), nb = strlen(b->text);
    char *t = qr_arena_alloc(c->arena, na + nb + 2);
    int n = a->n_parts ? a->n_parts : 1;
    qr_block_part *parts = qr_arena_alloc(c->arena, sizeof(*parts) * (size_t)(n + 1));
    if (!t || !parts) {
        c->nomem = 1;
        return 0;
    }
    int space;
    size_t keep = qr_lx_join_point(a->text, na, b->text, &space);
    memcpy(t, a->text, keep);
    if (space)
        t[keep++] = ' ';
    memcpy(t + keep, b->text, nb + 1);
    if (a->n_parts)
        memcpy(parts, a->parts, sizeof(*parts) * (size_t)n);
    else
        parts[0] = (qr_block_part){a->page, a->bbox, 0};
    parts[n] = (qr_block_part){b->page, b->bbox, keep};
    a->text = t;
    a->parts = parts;
    a->n_parts = n + 1;
    a->page_end = QR_MAX(a->page_end, b->page_end);
    return 1;
}

static void move_block(qr_lctx *c, int to, int from)
{
    c->blocks[to] = c->blocks[from];
    c->hkeys[to] = c->hkeys[from];
    c->csum[to] = c->csum[from];
    c->ccnt[to] = c->ccnt[from];
    c->blast[to] = c->blast[from];
    c->bfirst[to] = c->bfirst[from];
}

/* A paragraph cut by a column or page break ("... the re-" | "sult is ...") is one
 * paragraph for a reader: join it when the first part does not end a sentence and
 * the second starts in lower case; the joined block records every part (page, bbox,
 * where its text starts). A lone short line at the page's top or bottom margin between
 * the two (a running head or page number that the furniture pass missed, e.g. when only
 * a few pages are converted) is furniture: it is dropped rather than spliced into the
 * paragraph ("... 26 breathe vapours ...") or left to cut it. */
static void join_broken_paragraphs(qr_lctx *c)
{
    int out = 0;
    for (int k = 0; k < c->n_blocks; k++) {
        qr_block *b = &c->blocks[k];
        if (out > 0 && b->type == QR_BLK_PARAGRAPH) {
            int skip = 0; /* margin lines between the parts */
            while (skip < 2 && out - 1 - skip > 0 && margin_line(c, out - 1 - skip))
                skip++;
            int i = out - 1;
            if (!continues(c, i, k) && skip > 0 && continues(c, out - 1 - skip, k)) {
                out -= skip;
                c->n_removed += skip;
                i = out - 1;
            }
            if (continues(c, i, k)) {
                if (!join_into(c, &c->blocks[i], b))
                    return;
                c->csum[i] += c->csum[k];
                c->ccnt[i] += c->ccnt[k];
                c->blast[i] = c->blast[k];
                continue;
            }
        }
        if (out != k)
            move_block(c, out, k);
        out++;
    }
    c->n_blocks = out;
}

static void finish_conf(qr_lctx *c)
{
    for (int k = 0; k < c->n_blocks; k++)
        c->blocks[k].conf = c->ccnt[k] ? (float)(c->csum[k] / c->ccnt[k]) : -1.0f;
}

/* ---- driver ---------------------------------------------------------------------- */

static void order_pages(qr_lctx *c)
{
    int i = 0;
    while (i < c->n_lines) {
        int j = i;
        while (j < c->n_lines && c->lines[j].page == c->lines[i].page)
            j++;
        qr_layout_order_page(c, c->pages[c->lines[i].page], &c->lines[i], j - i);
        i = j;
    }
}

static int alloc_work(qr_lctx *c)
{
    int n = count_lines(c);
    c->lines = qr_lx_scratch(c, sizeof(*c->lines) * (size_t)(n + 1));
    c->rows = qr_lx_scratch(c, sizeof(*c->rows) * (size_t)(n + 1));
    c->hkeys = qr_lx_scratch(c, sizeof(*c->hkeys) * (size_t)(n + 1));
    c->csum = qr_lx_scratch(c, sizeof(*c->csum) * (size_t)(n + 1));
    c->ccnt = qr_lx_scratch(c, sizeof(*c->ccnt) * (size_t)(n + 1));
    c->blast = qr_lx_scratch(c, sizeof(*c->blast) * (size_t)(n + 1));
    c->bfirst = qr_lx_scratch(c, sizeof(*c->bfirst) * (size_t)(n + 1));
    if (!c->nomem)
        c->blocks = qr_arena_alloc(c->arena, sizeof(*c->blocks) * (size_t)(n + 1));
    if (!c->blocks)
        c->nomem = 1;
    return !c->nomem;
}

quire_status qr_layout_doc(const qr_page *const *pages, int n_pages, qr_arena *arena,
                           qr_layout *out, quire_error *err)
{
    return qr_layout_doc_ex(pages, n_pages, NULL, arena, out, err);
}

quire_status qr_layout_doc_ex(const qr_page *const *pages, int n_pages,
                              const qr_layout_opts *opts, qr_arena *arena, qr_layout *out,
                              quire_error *err)
{
    if (!out || !arena || n_pages < 0 || (n_pages > 0 && !pages))
        return qr_err(err, QUIRE_INVALID_ARG, "layout: bad arguments");
    memset(out, 0, sizeof(*out));
    qr_lctx c;
    memset(&c, 0, sizeof(c));
    c.pages = pages;
    c.n_pages = n_pages;
    c.arena = arena;
    c.err = err;
    c.keep_lines = opts ? opts->keep_lines : 0;
    c.section_numbers = opts ? opts->section_numbers : 0;
    c.aligned_skip = -1;
    if (alloc_work(&c)) {
        collect_lines(&c);
        if (!opts || !opts->keep_furniture)
            qr_layout_furniture(&c);
        c.body = body_size(&c);
        order_pages(&c);
        build_rows(&c);
    }
    if (!c.nomem)
        qr_layout_classify(&c);
    if (!c.nomem && !c.keep_lines)
        join_broken_paragraphs(&c);
    if (!c.nomem) {
        qr_layout_heading_levels(&c);
        finish_conf(&c);
    }
    if (!c.nomem && opts && opts->figures)
        qr_layout_figures(&c);
    scratch_free_all(&c);
    if (c.nomem)
        return qr_err(err, QUIRE_NOMEM, "layout: out of memory (arena %zu bytes)", arena->cap);
    out->blocks = c.blocks;
    out->n_blocks = c.n_blocks;
    out->n_removed_furniture = c.n_removed;
    return QUIRE_OK;
}
