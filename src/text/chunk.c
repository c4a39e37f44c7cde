/*
 * chunk.c — Markdown-aware chunking for retrieval (contract in text.h, "chunker").
 *
 * Two passes over the input, both linear:
 *  1. parse: lines become units. A unit is the smallest piece a chunk may start or end
 *     at: a sentence (or a word group, or a hard-cut piece of an over-long word) of a
 *     paragraph or list item, one table row, one whole fenced code block. Headings are
 *     units too (kind U_HEAD) that only update the heading path; page markers only set
 *     the page of what follows.
 *  2. pack: units are taken in order in groups that must not be split — a whole
 *     paragraph or list item when it fits the budget (else its sentences one by one), a
 *     table's header + separator + first data row, any later row, a code block. A group
 *     that does not fit closes the chunk; the next chunk starts with whole units from the
 *     end of the previous one (the overlap, same section only) and, when it continues a
 *     table, with the table's header rows again.
 *
 * Because units are kept in document order, a chunk is always [optional repeated table
 * header] + a contiguous range of units, so the overlap is only a start index. Nothing
 * looks at more than the units of one chunk again, which keeps pathological input
 * (1 MB without a newline, 100k headings, an unclosed fence) linear, apart from the
 * galloping search that cuts over-long words (n log n).
 */
#include <limits.h>
#include <string.h>

#include "core/core.h"
#include "text/text.h"

#define DEFAULT_CHUNK_TOKENS 256
#define DEFAULT_OVERLAP 32
#define HEADING_MAX_BYTES 256  /* per level in the heading path: bounds the path size */
#define OVERLAP_MAX_UNITS 1024 /* with a counter that returns 0, the overlap still ends */
#define MAX_LEVELS 6

enum { U_HEAD, U_PARA, U_ITEM, U_ROW, U_CODE };

typedef struct unit {
    size_t start, end; /* md[start..end), trimmed */
    size_t block;      /* units of one paragraph / list item share it */
    int kind;          /* U_* */
    int tokens;
    int page;
    int level;         /* U_HEAD: 1..6; U_ROW: row index in its table */
    int table;         /* U_ROW: table id, else -1 */
    int sep;           /* U_ROW: 1 for the separator row (|---|) under the header */
} unit;

typedef struct chunker {
    const char *md;
    size_t len;
    int budget, overlap;
    qr_count_tokens_fn count;
    void *user_data;

    unit *u; /* [n_u] every unit in document order */
    size_t n_u, cap_u;
    size_t n_blocks;
    int page;

    /* packing state: the chunk is units hdr0..hdr1 (repeated table header) + c0..c1 */
    size_t c0, c1, hdr0, hdr1;
    long tokens;
    size_t sec0;                    /* first unit after the latest heading */
    size_t h_start[MAX_LEVELS];     /* heading path: text of each level (len 0 = none) */
    size_t h_len[MAX_LEVELS];
    qr_buf text;                    /* scratch for one chunk's text */
    qr_chunk_list *out;
    size_t cap_out;
} chunker;

/* ---- token estimate ------------------------------------------------------------ */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c >= 0x80;
}

/* A CJK ideograph at s (which BERT splits into one token each)? OUT: *adv bytes. */
static int cjk_at(const unsigned char *s, size_t n, size_t *adv)
{
    if (s[0] >= 0xE3 && s[0] <= 0xEF && n >= 3 && (s[1] & 0xC0) == 0x80 &&
        (s[2] & 0xC0) == 0x80) {
        unsigned cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        *adv = 3;
        return (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
               (cp >= 0xF900 && cp <= 0xFAFF);
    }
    if (s[0] == 0xF0 && n >= 4 && s[1] >= 0xA0 && s[1] <= 0xAF && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
        *adv = 4; /* U+20000..U+2FFFF */
        return 1;
    }
    return 0;
}

static long run_tokens(size_t run)
{
    if (run == 0)
        return 0;
    return 1 + (run > 6 ? (long)((run - 6 + 5) / 6) : 0);
}

int qr_count_words_approx(const char *text, size_t len, void *user_data)
{
    const unsigned char *s = (const unsigned char *)text;
    long n = 0;
    size_t run = 0;
    for (size_t i = 0; i < len;) {
        size_t adv = 1;
        if (s[i] >= 0xE3 && cjk_at(s + i, len - i, &adv)) {
            n += run_tokens(run) + 1;
            run = 0;
            i += adv;
        } else if (is_word_byte(s[i])) {
            run++;
            i++;
        } else {
            n += run_tokens(run) + (is_space(s[i]) ? 0 : 1);
            run = 0;
            i++;
        }
    }
    n += run_tokens(run);
    return n > INT_MAX ? INT_MAX : (int)n;
}

static int count(const chunker *c, size_t start, size_t end)
{
    if (end <= start)
        return 0;
    int n = c->count(c->md + start, end - start, c->user_data);
    return n < 0 ? 0 : n;
}

/* ---- units ---------------------------------------------------------------------- */

static int add_unit(chunker *c, int kind, size_t start, size_t end, int tokens)
{
    if (c->n_u == c->cap_u) {
        size_t cap = c->cap_u ? c->cap_u * 2 : 256;
        unit *u = qr_realloc(c->u, cap * sizeof(*u));
        if (!u)
            return -1;
        c->u = u;
        c->cap_u = cap;
    }
    while (end > start && is_space((unsigned char)c->md[end - 1]))
        end--;
    unit *u = &c->u[c->n_u++];
    memset(u, 0, sizeof(*u));
    u->kind = kind;
    u->start = start;
    u->end = end;
    u->tokens = tokens;
    u->page = c->page;
    u->block = c->n_blocks;
    u->table = -1;
    return 0;
}

/* Largest prefix of md[p..e) (at a UTF-8 boundary, at least one character) that counts
 * at most budget tokens. Galloping then bisecting keeps this O(piece log piece). */
static size_t fit_prefix(const chunker *c, size_t p, size_t e)
{
    size_t good = 0, bad = 0, w = 16;
    for (;;) {
        size_t t = QR_MIN(w, e - p);
        if (count(c, p, p + t) <= c->budget) {
            good = t;
            if (t == e - p)
                break;
            w *= 2;
        } else {
            bad = t;
            break;
        }
    }
    while (bad && bad - good > 1) {
        size_t mid = good + (bad - good) / 2;
        if (count(c, p, p + mid) <= c->budget)
            good = mid;
        else
            bad = mid;
    }
    const unsigned char *s = (const unsigned char *)c->md;
    if (p + good < e) { /* back to a character start, at most 3 bytes */
        size_t k = good;
        while (k > 0 && good - k < 3 && (s[p + k] & 0xC0) == 0x80)
            k--;
        if (k > 0)
            good = k;
    }
    if (good == 0) { /* one character even if it alone is over budget */
        good = 1;
        while (p + good < e && good < 4 && (s[p + good] & 0xC0) == 0x80)
            good++;
    }
    return good;
}

static int hard_split(chunker *c, int kind, size_t p, size_t e)
{
    while (p < e) {
        size_t n = fit_prefix(c, p, e);
        if (add_unit(c, kind, p, p + n, count(c, p, p + n)) != 0)
            return -1;
        p += n;
    }
    return 0;
}

/* A sentence over budget: greedy word groups, over-long words cut by hard_split. */
static int split_words(chunker *c, int kind, size_t p, size_t e)
{
    const unsigned char *s = (const unsigned char *)c->md;
    size_t ps = 0, pe = 0;
    long pt = 0;
    int open = 0;
    while (p < e) {
        while (p < e && is_space(s[p]))
            p++;
        size_t ws = p;
        while (p < e && !is_space(s[p]))
            p++;
        if (ws == p)
            break;
        int tw = count(c, ws, p);
        if (open && pt + tw > c->budget) {
            if (add_unit(c, kind, ps, pe, (int)pt) != 0)
                return -1;
            open = 0;
        }
        if (tw > c->budget) {
            if (hard_split(c, kind, ws, p) != 0)
                return -1;
            continue;
        }
        if (!open) {
            ps = ws;
            pt = 0;
            open = 1;
        }
        pe = p;
        pt += tw;
    }
    if (open && add_unit(c, kind, ps, pe, (int)pt) != 0)
        return -1;
    return 0;
}

/* End of the sentence starting at p (exclusive, before the whitespace that follows). */
static size_t sentence_end(const chunker *c, size_t p, size_t e)
{
    const unsigned char *s = (const unsigned char *)c->md;
    for (; p < e; p++) {
        if (s[p] != '.' && s[p] != '!' && s[p] != '?')
            continue;
        size_t q = p + 1;
        while (q < e && strchr(".!?\"')]", s[q]) && s[q] != '\0')
            q++;
        if (q == e || is_space(s[q]))
            return q;
        p = q - 1;
    }
    return e;
}

/* A paragraph or list item md[start..end): its sentences become units. */
static int add_text_block(chunker *c, int kind, size_t start, size_t end)
{
    const unsigned char *s = (const unsigned char *)c->md;
    size_t p = start;
    int rc = 0;
    while (rc == 0 && p < end) {
        size_t w = p; /* the first sentence of a list item keeps its indentation */
        while (p < end && is_space(s[p]))
            p++;
        if (p == end)
            break;
        if (kind == U_ITEM && w == start)
            p = w;
        size_t q = sentence_end(c, p, end);
        int t = count(c, p, q);
        if (t <= c->budget)
            rc = add_unit(c, kind, p, q, t);
        else
            rc = split_words(c, kind, p, q);
        p = q;
    }
    c->n_blocks++;
    return rc;
}

/* ---- line classification -------------------------------------------------------------- */

static size_t skip_blank(const char *s, size_t p, size_t e)
{
    while (p < e && (s[p] == ' ' || s[p] == '\t'))
        p++;
    return p;
}

/* `<!-- page N -->` with N >= 1 (at most 9 digits; blanks optional): N, else 0. */
static int page_marker(const char *s, size_t p, size_t e)
{
    while (e > p && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e - p < 7 || memcmp(s + p, "<!--", 4) != 0 || memcmp(s + e - 3, "-->", 3) != 0)
        return 0;
    size_t q = skip_blank(s, p + 4, e - 3);
    e -= 3; /* between the comment delimiters: [q, e) */
    if (e - q < 4 || memcmp(s + q, "page", 4) != 0)
        return 0;
    q = skip_blank(s, q + 4, e);
    long n = 0;
    int digits = 0;
    while (q < e && s[q] >= '0' && s[q] <= '9' && digits < 10) {
        n = n * 10 + (s[q++] - '0');
        digits++;
    }
    if (digits == 0 || digits > 9 || n < 1 || skip_blank(s, q, e) != e)
        return 0;
    return (int)n;
}

/* Opening fence (indent <= 3, >= 3 '`' or '~'): its length, else 0. OUT: *ch. */
static size_t fence_open(const char *s, size_t p, size_t e, char *ch)
{
    size_t q = skip_blank(s, p, e);
    if (q - p > 3 || q == e || (s[q] != '`' && s[q] != '~'))
        return 0;
    size_t r = q;
    while (r < e && s[r] == s[q])
        r++;
    if (r - q < 3)
        return 0;
    if (s[q] == '`' && memchr(s + r, '`', e - r)) /* ```x``` is inline code */
        return 0;
    *ch = s[q];
    return r - q;
}

static int fence_close(const char *s, size_t p, size_t e, char ch, size_t n)
{
    size_t q = skip_blank(s, p, e);
    if (q - p > 3)
        return 0;
    size_t r = q;
    while (r < e && s[r] == ch)
        r++;
    return r - q >= n && skip_blank(s, r, e) == e;
}

/* ATX heading: level 1..6, else 0. OUT: text range [*ts, *te). */
static int heading(const char *s, size_t p, size_t e, size_t *ts, size_t *te)
{
    size_t q = skip_blank(s, p, e);
    if (q - p > 3)
        return 0;
    size_t r = q;
    while (r < e && s[r] == '#' && r - q < 7)
        r++;
    int level = (int)(r - q);
    if (level < 1 || level > 6 || (r < e && s[r] != ' ' && s[r] != '\t'))
        return 0;
    size_t a = skip_blank(s, r, e), b = e;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
    size_t h = b; /* optional closing sequence " ###" */
    while (h > a && s[h - 1] == '#')
        h--;
    if (h == a || (h < b && (s[h - 1] == ' ' || s[h - 1] == '\t'))) {
        b = h;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
    }
    *ts = a;
    *te = b;
    return level;
}

static int list_item(const char *s, size_t p, size_t e)
{
    size_t q = skip_blank(s, p, e);
    if (q + 1 < e && strchr("-*+", s[q]) && s[q] != '\0' && (s[q + 1] == ' ' || s[q + 1] == '\t'))
        return 1;
    size_t r = q;
    while (r < e && r - q < 10 && s[r] >= '0' && s[r] <= '9')
        r++;
    return r > q && r - q <= 9 && r + 1 < e && (s[r] == '.' || s[r] == ')') &&
           (s[r + 1] == ' ' || s[r + 1] == '\t');
}

static int table_row(const char *s, size_t p, size_t e)
{
    size_t q = skip_blank(s, p, e);
    return q - p <= 3 && q < e && s[q] == '|';
}

static int separator_row(const char *s, size_t p, size_t e)
{
    int dash = 0;
    for (size_t q = p; q < e; q++) {
        if (!strchr("|-: \t", s[q]) || s[q] == '\0')
            return 0;
        dash |= s[q] == '-';
    }
    return dash;
}

/* ---- pass 1: parse ---------------------------------------------------------------- */

typedef struct parse_state {
    int open;            /* 0, U_PARA or U_ITEM */
    size_t start, end;   /* the open paragraph / item */
    int open_page;
    int table, row;      /* current table id (-1 none) and next row index */
    int n_tables;
    int fence;           /* inside a fenced code block */
    char fence_ch;
    size_t fence_len, fence_start;
} parse_state;

static int close_open(chunker *c, parse_state *ps)
{
    int rc = 0;
    if (ps->open) {
        int page = c->page;
        c->page = ps->open_page;
        rc = add_text_block(c, ps->open, ps->start, ps->end);
        c->page = page;
    }
    ps->open = 0;
    return rc;
}

static int add_row(chunker *c, parse_state *ps, size_t p, size_t e)
{
    if (ps->table < 0) {
        ps->table = ps->n_tables++;
        ps->row = 0;
    }
    p = skip_blank(c->md, p, e);
    if (add_unit(c, U_ROW, p, e, count(c, p, e)) != 0)
        return -1;
    unit *u = &c->u[c->n_u - 1];
    u->table = ps->table;
    u->level = ps->row;
    u->sep = ps->row == 1 && separator_row(c->md, p, e);
    ps->row = ps->row < INT_MAX ? ps->row + 1 : ps->row;
    c->n_blocks++;
    return 0;
}

/* One line md[p..e) (without "\n" and a final "\r") outside a code fence. */
static int parse_line(chunker *c, parse_state *ps, size_t p, size_t e)
{
    const char *s = c->md;
    size_t q = skip_blank(s, p, e);
    int page = q < e ? page_marker(s, q, e) : 0;
    if (q == e || page > 0) { /* blank line or page marker: ends every open block */
        if (page > 0)
            c->page = page;
        ps->table = -1;
        return close_open(c, ps);
    }
    if (table_row(s, p, e)) {
        if (close_open(c, ps) != 0)
            return -1;
        return add_row(c, ps, p, e);
    }
    ps->table = -1;
    char ch = 0;
    size_t flen = fence_open(s, p, e, &ch);
    if (flen > 0) {
        if (close_open(c, ps) != 0)
            return -1;
        ps->fence = 1;
        ps->fence_ch = ch;
        ps->fence_len = flen;
        ps->fence_start = q;
        ps->open_page = c->page;
        return 0;
    }
    size_t ts, te;
    int level = heading(s, p, e, &ts, &te);
    if (level > 0) {
        if (close_open(c, ps) != 0 || add_unit(c, U_HEAD, ts, te, 0) != 0)
            return -1;
        c->u[c->n_u - 1].level = level;
        c->n_blocks++;
        return 0;
    }
    int item = list_item(s, p, e);
    if (item && close_open(c, ps) != 0)
        return -1;
    if (!ps->open) { /* a list item keeps its indentation (nesting) */
        ps->open = item ? U_ITEM : U_PARA;
        ps->start = item ? p : q;
        ps->open_page = c->page;
    }
    ps->end = e;
    return 0;
}

static int add_code(chunker *c, parse_state *ps, size_t end)
{
    int page = c->page;
    c->page = ps->open_page;
    int rc = add_unit(c, U_CODE, ps->fence_start, end, count(c, ps->fence_start, end));
    c->page = page;
    c->n_blocks++;
    ps->fence = 0;
    return rc;
}

static int parse(chunker *c)
{
    parse_state ps;
    memset(&ps, 0, sizeof(ps));
    ps.table = -1;
    size_t p = 0;
    size_t last_end = 0; /* end of the last line's content */
    while (p < c->len) {
        const char *nl = memchr(c->md + p, '\n', c->len - p);
        size_t le = nl ? (size_t)(nl - c->md) : c->len;
        size_t e = le > p && c->md[le - 1] == '\r' ? le - 1 : le;
        int rc = 0;
        if (ps.fence) {
            if (fence_close(c->md, p, e, ps.fence_ch, ps.fence_len))
                rc = add_code(c, &ps, e);
        } else {
            rc = parse_line(c, &ps, p, e);
        }
        if (rc != 0)
            return -1;
        last_end = e;
        p = le + 1;
    }
    if (ps.fence) /* an unclosed fence runs to the end of the input */
        return add_code(c, &ps, QR_MAX(last_end, ps.fence_start));
    return close_open(c, &ps);
}

/* ---- pass 2: pack and emit ----------------------------------------------------------- */

static void put_range(qr_buf *b, const char *s, size_t start, size_t end)
{
    while (start < end) { /* CRLF -> LF */
        const char *cr = memchr(s + start, '\r', end - start);
        size_t stop = cr ? (size_t)(cr - s) : end;
        qr_buf_append(b, s + start, stop - start);
        if (!cr)
            break;
        if (stop + 1 >= end || s[stop + 1] != '\n')
            qr_buf_putc(b, '\r');
        start = stop + 1;
    }
}

static void put_sep(chunker *c, const unit *prev, const unit *u)
{
    if (prev->block == u->block && (u->kind == U_PARA || u->kind == U_ITEM))
        put_range(&c->text, c->md, prev->end, u->start); /* the text between sentences */
    else if (prev->kind == U_ROW && u->kind == U_ROW && prev->table == u->table)
        qr_buf_putc(&c->text, '\n');
    else if (prev->kind == U_ITEM && u->kind == U_ITEM)
        qr_buf_putc(&c->text, '\n');
    else
        qr_buf_append(&c->text, "\n\n", 2);
}

static int has_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_word_byte((unsigned char)s[i]))
            return 1;
    }
    return 0;
}

static char *heading_path(const chunker *c)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_buf_putc(&b, '\0'); /* "" when there is no heading */
    b.len = 0;
    for (int k = 0; k < MAX_LEVELS; k++) {
        size_t n = c->h_len[k];
        if (n == 0)
            continue;
        if (n > HEADING_MAX_BYTES) { /* cut at a character start */
            n = HEADING_MAX_BYTES;
            while (n > 0 && (c->md[c->h_start[k] + n] & 0xC0) == 0x80)
                n--;
        }
        if (b.len > 0)
            qr_buf_append(&b, " > ", 3);
        qr_buf_append(&b, c->md + c->h_start[k], n);
    }
    if (b.failed) {
        qr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int store_chunk(chunker *c, const char *text, size_t n, int p0, int p1)
{
    qr_chunk_list *out = c->out;
    if (out->n == c->cap_out) {
        size_t cap = c->cap_out ? c->cap_out * 2 : 16;
        qr_chunk *items = qr_realloc(out->items, cap * sizeof(*items));
        if (!items)
            return -1;
        out->items = items;
        c->cap_out = cap;
    }
    qr_chunk *ch = &out->items[out->n];
    memset(ch, 0, sizeof(*ch));
    ch->text = qr_strndup(text, n);
    ch->heading = ch->text ? heading_path(c) : NULL;
    if (!ch->heading) {
        qr_free(ch->text);
        return -1;
    }
    ch->len = n;
    ch->page_start = p0;
    ch->page_end = p1;
    int t = c->count(ch->text, n, c->user_data);
    ch->n_tokens = t < 0 ? 0 : t;
    out->n++;
    return 0;
}

static void put_units(chunker *c, size_t a, size_t b, const unit **prev, int *p0, int *p1)
{
    for (size_t i = a; i < b; i++) {
        const unit *u = &c->u[i];
        if (*prev)
            put_sep(c, *prev, u);
        put_range(&c->text, c->md, u->start, u->end);
        *p0 = *prev ? QR_MIN(*p0, u->page) : u->page;
        *p1 = *prev ? QR_MAX(*p1, u->page) : u->page;
        *prev = u;
    }
}

/* Write the current chunk (if it has words). */
static int emit(chunker *c)
{
    if (c->c1 <= c->c0)
        return 0;
    const unit *prev = NULL;
    int p0 = 1, p1 = 1;
    qr_buf_clear(&c->text);
    put_units(c, c->hdr0, c->hdr1, &prev, &p0, &p1);
    put_units(c, c->c0, c->c1, &prev, &p0, &p1);
    if (c->text.failed)
        return -1;
    const char *s = c->text.data;
    size_t a = 0, b = c->text.len;
    while (a < b && is_space((unsigned char)s[a]))
        a++;
    while (b > a && is_space((unsigned char)s[b - 1]))
        b--;
    if (!has_word(s + a, b - a))
        return 0;
    return store_chunk(c, s + a, b - a, p0, p1);
}

/* First unit of the table that unit i belongs to, and its header rows. */
static size_t table_first(const chunker *c, size_t i, size_t *n_hdr)
{
    size_t f = i - (size_t)c->u[i].level; /* rows of one table are consecutive units */
    *n_hdr = f + 1 < c->n_u && c->u[f + 1].kind == U_ROW && c->u[f + 1].table == c->u[f].table &&
                     c->u[f + 1].sep
                 ? 2
                 : 0;
    return f;
}

/* Close the chunk before unit a (a group of t tokens follows) and start the next one
 * with the overlap and, inside a table, the repeated header. */
static int flush_overlap(chunker *c, size_t a, long t)
{
    if (emit(c) != 0)
        return -1;
    long limit = QR_MIN((long)c->overlap, (long)c->budget - t);
    size_t lo = QR_MAX(c->sec0, c->c0 + 1);
    c->hdr0 = c->hdr1 = 0;
    c->tokens = 0;
    const unit *u = &c->u[a];
    if (u->kind == U_ROW && u->level > 0) { /* a table goes on: only its data rows */
        size_t n_hdr;
        size_t f = table_first(c, a, &n_hdr);
        lo = QR_MAX(lo, f + n_hdr);
        long ht = n_hdr ? (long)c->u[f].tokens + c->u[f + 1].tokens : 0;
        if (n_hdr && ht + t <= c->budget) {
            c->hdr0 = f;
            c->hdr1 = f + n_hdr;
            c->tokens = ht;
            limit = QR_MIN(limit, (long)c->budget - t - ht);
        }
    }
    size_t j = a;
    long sum = 0;
    while (j > lo && a - j < OVERLAP_MAX_UNITS && sum + c->u[j - 1].tokens <= limit) {
        sum += c->u[j - 1].tokens;
        j--;
    }
    c->c0 = j;
    c->c1 = a;
    c->tokens += sum;
    return 0;
}

static int place(chunker *c, size_t a, size_t b, long t)
{
    if (c->c1 > c->c0 && c->tokens + t > c->budget && flush_overlap(c, a, t) != 0)
        return -1;
    c->c1 = b;
    c->tokens += t;
    return 0;
}

static int on_heading(chunker *c, size_t i)
{
    if (emit(c) != 0)
        return -1;
    const unit *u = &c->u[i];
    c->h_start[u->level - 1] = u->start;
    c->h_len[u->level - 1] = u->end - u->start;
    for (int k = u->level; k < MAX_LEVELS; k++)
        c->h_len[k] = 0;
    c->sec0 = c->c0 = c->c1 = i + 1;
    c->hdr0 = c->hdr1 = 0;
    c->tokens = 0;
    return 0;
}

/* End of the group that starts at unit i (units that must stay in one chunk). */
static size_t group_end(const chunker *c, size_t i)
{
    const unit *u = &c->u[i];
    size_t j = i + 1;
    if (u->kind == U_PARA || u->kind == U_ITEM) {
        while (j < c->n_u && c->u[j].block == u->block)
            j++;
    } else if (u->kind == U_ROW && u->level == 0) {
        size_t n_hdr;
        table_first(c, i, &n_hdr);
        j = i + n_hdr; /* header + separator + first data row */
        if (n_hdr && j < c->n_u && c->u[j].kind == U_ROW && c->u[j].table == u->table)
            j++;
        j = QR_MAX(j, i + 1);
    }
    return j;
}

static int pack(chunker *c)
{
    size_t i = 0;
    while (i < c->n_u) {
        if (c->u[i].kind == U_HEAD) {
            if (on_heading(c, i) != 0)
                return -1;
            i++;
            continue;
        }
        size_t j = group_end(c, i);
        long t = 0;
        for (size_t k = i; k < j; k++)
            t += c->u[k].tokens;
        int split = (c->u[i].kind == U_PARA || c->u[i].kind == U_ITEM) && t > c->budget;
        for (size_t k = i; split && k < j; k++) {
            if (place(c, k, k + 1, c->u[k].tokens) != 0)
                return -1;
        }
        if (!split && place(c, i, j, t) != 0)
            return -1;
        i = j;
    }
    return emit(c);
}

/* ---- API ---------------------------------------------------------------------------- */

void qr_chunk_list_free(qr_chunk_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        qr_free(list->items[i].text);
        qr_free(list->items[i].heading);
    }
    qr_free(list->items);
    list->items = NULL;
    list->n = 0;
}

quire_status qr_chunk_markdown(const char *md, size_t len, const qr_chunk_opts *opts,
                               qr_chunk_list *out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "chunker: no output list");
    out->items = NULL;
    out->n = 0;
    if (!md && len > 0)
        return qr_err(err, QUIRE_INVALID_ARG, "chunker: NULL text");
    qr_chunk_opts o = {0};
    if (opts)
        o = *opts;
    if (o.chunk_tokens < 0 || o.overlap < -1)
        return qr_err(err, QUIRE_INVALID_ARG, "chunker: negative chunk_tokens or overlap");
    chunker c;
    memset(&c, 0, sizeof(c));
    c.md = md;
    c.len = len;
    c.budget = o.chunk_tokens ? o.chunk_tokens : DEFAULT_CHUNK_TOKENS;
    c.overlap = o.overlap == -1 ? 0 : o.overlap == 0 ? DEFAULT_OVERLAP : o.overlap;
    c.overlap = QR_MIN(c.overlap, (c.budget - 1) / 2); /* < chunk_tokens / 2 */
    c.count = o.count_tokens ? o.count_tokens : qr_count_words_approx;
    c.user_data = o.user_data;
    c.page = 1;
    c.out = out;
    qr_buf_init(&c.text, 0);
    int rc = parse(&c);
    if (rc == 0)
        rc = pack(&c);
    qr_free(c.u);
    qr_buf_free(&c.text);
    if (rc != 0) {
        qr_chunk_list_free(out);
        return qr_err(err, QUIRE_NOMEM, "chunker: out of memory");
    }
    return QUIRE_OK;
}
