/*
 * vlm_check.c — is a VLM answer a page, or a loop / garbage? (research brief §5)
 *
 *   tail n-gram      after whitespace normalisation the final n characters (n = 1..40)
 *                    repeat back to back more than 30 times and over >= 200 characters
 *                    (olmOCR's rule, plus the length floor so a form's "______" line or a
 *                    table of contents' dot leaders is not a loop);
 *   repeated lines   the same line back to back (>= 3 times for a line of >= 30
 *                    characters, >= 6 for shorter ones; lines of only punctuation, pipes
 *                    and spaces are table rules and ignored), or one line of >= 30
 *                    characters >= 4 times anywhere (MinerU's validator);
 *   near duplicates  lines equal after digits -> 0 (outside tables), >= 20 characters,
 *                    >= 8 times: the alternating near-duplicate loops that slip past exact
 *                    n-gram bans (vllm-ascend#4989);
 *   compression      any 1,000-character window of the text without HTML tags compresses
 *                    more than 2.6 times with zlib (Whisper's 2.4 on 30 s segments; prose
 *                    windows measure 1.5-2.0, loops 4 and more);
 *   empty output     where the text layer or Tesseract found >= 50 characters (#272).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "vlm.h"

#define TAIL_MAX 16384
#define NGRAM_MAX 40
#define NGRAM_REPEATS 30
#define NGRAM_MIN_SPAN 200

/* Whitespace runs -> one space, of the last TAIL_MAX bytes. OUT: buf; returns its length. */
static size_t norm_tail(const char *t, size_t n, char *buf)
{
    size_t start = n > TAIL_MAX ? n - TAIL_MAX : 0;
    size_t k = 0;
    int sp = 0;
    for (size_t i = start; i < n; i++) {
        char c = t[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            sp = 1;
            continue;
        }
        if (sp && k)
            buf[k++] = ' ';
        sp = 0;
        buf[k++] = c;
    }
    return k;
}

static int tail_ngram_loop(const char *s, size_t n, char *why, size_t cap)
{
    for (size_t g = 1; g <= NGRAM_MAX && g * (NGRAM_REPEATS + 1) <= n; g++) {
        const char *last = s + n - g;
        size_t reps = 1;
        while ((reps + 1) * g <= n && memcmp(s + n - (reps + 1) * g, last, g) == 0)
            reps++;
        if (reps > NGRAM_REPEATS && reps * g >= NGRAM_MIN_SPAN) {
            char shown[48];
            size_t m = g < 40 ? g : 40;
            memcpy(shown, last, m);
            shown[m] = '\0';
            for (size_t i = 0; i < m; i++)
                if ((unsigned char)shown[i] < 0x20 || shown[i] == '"')
                    shown[i] = ' ';
            qr_vlm_fmt(why, cap, "loop: \"%s\" repeated %zu times at the end", shown, reps);
            return 1;
        }
    }
    return 0;
}

typedef struct line_ref {
    const char *p;
    size_t n;
} line_ref;

static int is_rule_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80)
            return 0;
    }
    return 1;
}

static void trim(const char **p, size_t *n)
{
    while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t' || (*p)[0] == '\r')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
        (*n)--;
}

static int has_tag(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '<' && p[i + 1] == 't')
            return 1;
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    const line_ref *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int line_loops(const char *t, size_t n, char *why, size_t cap)
{
    size_t nl = 1;
    for (size_t i = 0; i < n; i++)
        nl += t[i] == '\n';
    line_ref *lines = qr_malloc(nl * sizeof(*lines));
    char *fold = qr_malloc(n + 1); /* digits -> '0', for near duplicates */
    if (!lines || !fold) {
        qr_free(lines);
        qr_free(fold);
        return 0;
    }
    size_t k = 0, kf = 0;
    line_ref *folded = NULL;
    int found = 0;
    const char *prev = NULL;
    size_t prev_n = 0, run = 0;
    for (const char *p = t, *end = t + n; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        const char *s = p;
        size_t m = (size_t)(e - p);
        p = e + 1;
        trim(&s, &m);
        if (m == 0 || is_rule_line(s, m))
            continue;
        if (prev && prev_n == m && memcmp(prev, s, m) == 0)
            run++;
        else
            run = 1;
        prev = s;
        prev_n = m;
        if ((m >= 30 && run >= 3) || run >= 6) {
            qr_vlm_fmt(why, cap, "loop: the same line %zu times in a row (\"%.40s\")", run, s);
            found = 1;
            goto out;
        }
        lines[k].p = s;
        lines[k].n = m;
        k++;
    }
    qsort(lines, k, sizeof(*lines), cmp_lines);
    for (size_t i = 0; i < k;) {
        size_t j = i + 1;
        while (j < k && cmp_lines(&lines[i], &lines[j]) == 0)
            j++;
        if (lines[i].n >= 30 && j - i >= 4) {
            qr_vlm_fmt(why, cap, "loop: a line repeated %zu times (\"%.40s\")", j - i, lines[i].p);
            found = 1;
            goto out;
        }
        i = j;
    }
    /* near duplicates: fold digits, skip table rows */
    folded = qr_malloc((k ? k : 1) * sizeof(*folded));
    if (!folded)
        goto out;
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        if (lines[i].n < 20 || lines[i].p[0] == '|' || has_tag(lines[i].p, lines[i].n))
            continue;
        char *f = fold + off;
        for (size_t c = 0; c < lines[i].n; c++) {
            char ch = lines[i].p[c];
            f[c] = ch >= '0' && ch <= '9' ? '0' : ch;
        }
        folded[kf].p = f;
        folded[kf].n = lines[i].n;
        kf++;
        off += lines[i].n;
    }
    qsort(folded, kf, sizeof(*folded), cmp_lines);
    for (size_t i = 0; i < kf;) {
        size_t j = i + 1;
        while (j < kf && cmp_lines(&folded[i], &folded[j]) == 0)
            j++;
        if (j - i >= 8) {
            qr_vlm_fmt(why, cap, "loop: %zu near-identical lines (\"%.40s\")", j - i, folded[i].p);
            found = 1;
            goto out;
        }
        i = j;
    }
out:
    qr_free(folded);
    qr_free(lines);
    qr_free(fold);
    return found;
}

double qr_vlm_compression_ratio(const char *text, size_t len)
{
    if (len == 0)
        return 0;
    uLongf cap = compressBound((uLong)len);
    unsigned char *z = qr_malloc(cap);
    if (!z)
        return 0;
    double r = 0;
    if (compress2(z, &cap, (const Bytef *)text, (uLong)len, 6) == Z_OK && cap > 0)
        r = (double)len / (double)cap;
    qr_free(z);
    return r;
}

#define WIN 1000
#define MAX_RATIO 2.6

static int compresses_too_well(const char *t, size_t n, char *why, size_t cap)
{
    char *s = qr_malloc(n + 1);
    if (!s)
        return 0;
    size_t k = 0;
    int in_tag = 0;
    for (size_t i = 0; i < n; i++) { /* drop HTML tags and table punctuation */
        char c = t[i];
        if (c == '<')
            in_tag = 1;
        else if (c == '>' && in_tag)
            in_tag = 0;
        else if (!in_tag && c != '|' && c != '-' && !(c == ' ' && k && s[k - 1] == ' '))
            s[k++] = c;
    }
    int bad = 0;
    for (size_t at = 0; k >= WIN && at + WIN <= k; at += WIN / 2) {
        double r = qr_vlm_compression_ratio(s + at, WIN);
        if (r > MAX_RATIO) {
            qr_vlm_fmt(why, cap, "garbage: text compresses %.1f times (characters %zu-%zu)", r, at,
                     at + WIN);
            bad = 1;
            break;
        }
    }
    qr_free(s);
    return bad;
}

int qr_vlm_is_loop(const char *text, size_t len, char *why, size_t cap)
{
    char *buf = qr_malloc((len < TAIL_MAX ? len : TAIL_MAX) + 1);
    if (!buf)
        return 0;
    size_t n = norm_tail(text, len, buf);
    int loop = tail_ngram_loop(buf, n, why, cap);
    qr_free(buf);
    if (!loop)
        loop = line_loops(text + (len > TAIL_MAX ? len - TAIL_MAX : 0),
                          len > TAIL_MAX ? TAIL_MAX : len, why, cap);
    return loop;
}

int qr_vlm_check_text(const char *text, long ref_chars, char *why, size_t cap)
{
    size_t n = strlen(text);
    size_t visible = 0;
    for (size_t i = 0; i < n; i++)
        visible += text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t';
    if (visible == 0) {
        if (ref_chars >= 50) {
            qr_vlm_fmt(why, cap, "empty output where the text layer / Tesseract found %ld characters",
                     ref_chars);
            return 0;
        }
        return 1;
    }
    if (qr_vlm_is_loop(text, n, why, cap))
        return 0;
    if (line_loops(text, n, why, cap))
        return 0;
    if (compresses_too_well(text, n, why, cap))
        return 0;
    return 1;
}
