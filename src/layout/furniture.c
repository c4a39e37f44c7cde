/*
 * furniture.c — running headers, footers and page numbers. A line in the top or bottom
 * 8 % of its page is furniture when its text, with digits normalised ("Page 3" ==
 * "Page 12"), occurs in that band on at least half of the document's pages, or when
 * it is a lone page number ("12", "- 12 -", "xii", "Page 3 of 9"). Body text is never
 * touched: a sentence repeated in the middle of pages is content.
 * OCR'd pages read a running head a little differently on every page ("THE CAVERNS OF
 * THE SALT KING ©", ". THE CAVERNS OF THE SALT KlNG"), so there a band line is also
 * furniture when its loose key (letters and digit runs only) is within one edit in
 * LOOSE_PER characters of the loose keys of band lines on at least half of the pages.
 */
#include <stdlib.h>
#include <string.h>

#include "layout/layout_int.h"

#define BAND_FRAC 0.08f
/* TeX puts page numbers lower in a deeper bottom margin; a lone number this close to
 * the edge is still not body text. */
#define NUMBER_BAND_FRAC 0.12f
/* OCR pages: loose keys of at least LOOSE_MIN characters (shorter ones, a lone word, are
 * left to the exact test), at most LOOSE_MAX (a running head, not a paragraph line), one
 * edit allowed per LOOSE_PER characters of the shorter key. */
#define LOOSE_MIN 4
#define LOOSE_MAX 96
#define LOOSE_PER 8

typedef struct band_line {
    int line;    /* index into ctx->lines */
    int page;
    char *key;   /* normalised text (scratch) */
    char *loose; /* letters and '#' only (scratch), OCR pass */
    int n_loose;
} band_line;

static int in_band(const qr_lctx *c, const qr_lline *l, float frac)
{
    const qr_page *pg = c->pages[l->page];
    if (pg->height <= 0)
        return 0;
    float yc = 0.5f * (l->bbox.y0 + l->bbox.y1);
    return yc < frac * pg->height || yc > (1.0f - frac) * pg->height;
}

/* Lower-case ASCII, every digit run -> '#', whitespace collapsed. */
static char *line_key(qr_lctx *c, const qr_line *ln)
{
    size_t cap = 1;
    for (int w = 0; w < ln->n_words; w++)
        cap += ln->words[w].len + 1;
    char *k = qr_lx_scratch(c, cap);
    if (!k)
        return NULL;
    size_t n = 0;
    for (int w = 0; w < ln->n_words; w++) {
        if (w > 0)
            k[n++] = ' ';
        const char *s = ln->words[w].text;
        for (size_t i = 0; i < ln->words[w].len; i++) {
            char ch = s[i];
            if (ch >= '0' && ch <= '9') {
                if (n == 0 || k[n - 1] != '#')
                    k[n++] = '#';
                continue;
            }
            k[n++] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
        }
    }
    k[n] = '\0';
    return k;
}

static int is_roman(const char *s, size_t n)
{
    if (n == 0 || n > 7)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ivxlcIVXLC", s[i]))
            return 0;
    return 1;
}

static size_t skip_dashes(const char *s, size_t i, size_t n)
{
    for (;;) {
        if (i < n && (s[i] == ' ' || s[i] == '-' || s[i] == '[' || s[i] == ']'))
            i++;
        else if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94))
            i += 3; /* en/em dash */
        else
            return i;
    }
}

/* "12", "- 12 -", "xii", "Page 3", "page 3 of 9", "3/9" (key form: digits are '#'). */
static int is_page_number(const char *k)
{
    size_t n = strlen(k), i = skip_dashes(k, 0, n);
    if (strncmp(k + i, "page ", 5) == 0 || strncmp(k + i, "seite ", 6) == 0)
        i += k[i] == 'p' ? 5 : 6;
    size_t j = i;
    if (j < n && k[j] == '#') {
        j++;
    } else {
        while (j < n && strchr("ivxlc", k[j]))
            j++;
        if (!is_roman(k + i, j - i))
            return 0;
    }
    if (strncmp(k + j, " of #", 5) == 0)
        j += 5;
    else if (strncmp(k + j, "/#", 2) == 0 || strncmp(k + j, " / #", 4) == 0)
        j += k[j] == '/' ? 2 : 4;
    return skip_dashes(k, j, n) == n;
}

static int cmp_band(const void *a, const void *b)
{
    const band_line *x = a, *y = b;
    int d = strcmp(x->key, y->key);
    return d ? d : x->page - y->page;
}

static int valid_pages(const qr_lctx *c)
{
    int n = 0;
    for (int p = 0; p < c->n_pages; p++)
        n += c->pages[p] != NULL;
    return n;
}

static void remove_line(qr_lctx *c, int i)
{
    if (!c->lines[i].removed) {
        c->lines[i].removed = 1;
        c->n_removed++;
    }
}

static void mark_repeats(qr_lctx *c, band_line *bl, int n, int n_pages)
{
    qsort(bl, (size_t)n, sizeof(*bl), cmp_band);
    int i = 0;
    while (i < n) {
        int j = i, distinct = 0;
        while (j < n && strcmp(bl[j].key, bl[i].key) == 0) {
            distinct += (j == i || bl[j].page != bl[j - 1].page);
            j++;
        }
        if (n_pages >= 2 && distinct >= 2 && 2 * distinct >= n_pages)
            for (int k = i; k < j; k++)
                remove_line(c, bl[k].line);
        i = j;
    }
}

/* The value of a line that is a bare number ("12", "- 12 -"), else -1. */
static long bare_number(const qr_line *ln, const char *key)
{
    size_t n = strlen(key), i = skip_dashes(key, 0, n);
    if (key[i] != '#' || skip_dashes(key, i + 1, n) != n)
        return -1;
    for (int w = 0; w < ln->n_words; w++) {
        const char *t = ln->words[w].text;
        for (size_t j = 0; j < ln->words[w].len; j++)
            if (t[j] >= '0' && t[j] <= '9')
                return strtol(t + j, NULL, 10);
    }
    return -1;
}

/* section_numbers: of the bare numbers in the band (lines[idx[0..n)], values val[]), the
 * page numbers are those whose value minus their page's number is the offset shared by
 * the most of them, when at least two share it; with no such offset (one page) only a
 * number in the bottom band is taken for one. A section number heading a column has no
 * fixed relation to the page it is on. */
static void remove_page_numbers(qr_lctx *c, const int *idx, const long *val, int n)
{
    long best = 0;
    int best_n = 0;
    for (int a = 0; a < n; a++) {
        long off = val[a] - c->pages[c->lines[idx[a]].page]->number;
        int m = 0;
        for (int b = 0; b < n; b++)
            m += val[b] - c->pages[c->lines[idx[b]].page]->number == off;
        if (m > best_n) {
            best_n = m;
            best = off;
        }
    }
    for (int a = 0; a < n; a++) {
        const qr_lline *l = &c->lines[idx[a]];
        const qr_page *pg = c->pages[l->page];
        if (best_n >= 2 ? val[a] - pg->number == best
                        : 0.5f * (l->bbox.y0 + l->bbox.y1) > (1.0f - BAND_FRAC) * pg->height)
            remove_line(c, idx[a]);
    }
}

/* The loose form of a key: its ASCII letters and '#' (digit runs), nothing else, so
 * specks, quotes and spaces OCR adds or drops around a running head do not count. */
static char *loose_key(qr_lctx *c, const char *key, int *len)
{
    size_t n = strlen(key);
    char *k = qr_lx_scratch(c, n + 1);
    int m = 0;
    if (!k)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((key[i] >= 'a' && key[i] <= 'z') || key[i] == '#')
            k[m++] = key[i];
    k[m] = '\0';
    *len = m;
    return k;
}

/* Levenshtein distance of a[0..na) and b[0..nb) when it is at most max, else max + 1.
 * row: scratch of nb + 1 ints. */
static int within(const char *a, int na, const char *b, int nb, int max, int *row)
{
    if (na - nb > max || nb - na > max)
        return max + 1;
    for (int j = 0; j <= nb; j++)
        row[j] = j;
    for (int i = 1; i <= na; i++) {
        int diag = row[0], best = i;
        row[0] = i;
        for (int j = 1; j <= nb; j++) {
            int up = row[j];
            int v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > max)
            return max + 1;
    }
    return row[nb];
}

/* OCR pages: a band line not yet removed whose loose key is close to those of band lines
 * on at least half of the pages (its own page included, two pages at least) is removed. */
static void mark_loose_repeats(qr_lctx *c, band_line *bl, int n, int n_pages)
{
    int any = 0;
    for (int i = 0; i < n; i++)
        any |= c->lines[bl[i].line].src == QR_SRC_OCR;
    if (!any || n_pages < 2)
        return;
    int *row = qr_lx_scratch(c, sizeof(int) * (LOOSE_MAX + 1));
    int *seen = qr_lx_scratch(c, sizeof(int) * (size_t)(c->n_pages + 1));
    if (!row || !seen)
        return;
    for (int i = 0; i < n; i++) {
        bl[i].loose = loose_key(c, bl[i].key, &bl[i].n_loose);
        if (!bl[i].loose)
            return;
    }
    for (int i = 0; i < n; i++) {
        const band_line *a = &bl[i];
        if (c->lines[a->line].src != QR_SRC_OCR || c->lines[a->line].removed ||
            a->n_loose < LOOSE_MIN || a->n_loose > LOOSE_MAX)
            continue;
        int distinct = 0;
        for (int j = 0; j < n; j++) {
            const band_line *b = &bl[j];
            if (b->n_loose < LOOSE_MIN || b->n_loose > LOOSE_MAX || seen[b->page] == i + 1)
                continue;
            int shorter = a->n_loose < b->n_loose ? a->n_loose : b->n_loose;
            int max = shorter / LOOSE_PER;
            if (within(a->loose, a->n_loose, b->loose, b->n_loose, max, row) <= max) {
                seen[b->page] = i + 1;
                distinct++;
            }
        }
        if (distinct >= 2 && 2 * distinct >= n_pages)
            remove_line(c, a->line);
    }
}

void qr_layout_furniture(qr_lctx *c)
{
    band_line *bl = qr_lx_scratch(c, sizeof(*bl) * (size_t)(c->n_lines + 1));
    int *num_idx = qr_lx_scratch(c, sizeof(int) * (size_t)(c->n_lines + 1));
    long *num_val = qr_lx_scratch(c, sizeof(long) * (size_t)(c->n_lines + 1));
    if (!bl || !num_idx || !num_val)
        return;
    int n = 0, n_num = 0;
    for (int i = 0; i < c->n_lines; i++) {
        if (!in_band(c, &c->lines[i], NUMBER_BAND_FRAC))
            continue;
        char *k = line_key(c, c->lines[i].line);
        if (!k)
            return;
        long v = c->section_numbers ? bare_number(c->lines[i].line, k) : -1;
        if (v >= 0) {
            num_idx[n_num] = i;
            num_val[n_num++] = v;
            continue;
        }
        if (is_page_number(k)) {
            remove_line(c, i);
            continue;
        }
        if (!in_band(c, &c->lines[i], BAND_FRAC))
            continue;
        bl[n].line = i;
        bl[n].page = c->lines[i].page;
        bl[n].key = k;
        n++;
    }
    mark_repeats(c, bl, n, valid_pages(c));
    mark_loose_repeats(c, bl, n, valid_pages(c));
    remove_page_numbers(c, num_idx, num_val, n_num);
}
