/*
 * test_conv_order.c — reading order on the two-column papers of shared/corpus: the
 * text quire produces (public API, --ocr never, txt, pages 1-2) must follow the
 * columns. Ground truth is `pdftotext -raw` (content-stream order, which for these
 * TeX-made papers is the reading order: left column before right column).
 *
 * Metric: split both texts into words; keep the distinctive words (exactly once in
 * both texts); list their quire positions in ground-truth order; score = length of the
 * longest increasing subsequence / number of such words (1.0 = same order; a block
 * moved out of place costs its size). Kendall tau (fraction of pairs in the same
 * order) is printed too but is too forgiving to assert on: line interleaving keeps
 * most far-apart pairs in order.
 *
 * Control, so the test can fail: `pdftotext -layout` puts the columns side by side and
 * so reads them interleaved line by line; on the pages that really have two columns its
 * score must be clearly lower (measured 0.62-0.71; quire 0.98-1.0).
 *
 * Needs MuPDF (built only with WITH_CONVERT=1), shared/corpus and pdftotext (poppler-
 * utils); without pdftotext the test fails with a message rather than passing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "testlib.h"

/* threshold: measured LIS scores of quire on pages 1-2 were 0.98-1.00 on the six
 * correctly ordered papers; interleaved columns score <= 0.71 */
#define MIN_SCORE 0.90
#define MAX_CONTROL 0.80

typedef struct doc {
    const char *id;
    int two_col; /* pages 1-2 really are two-column (ieeeconf, jpsj: one column there) */
} doc;

static const doc docs[] = {
    {"paper2col-apssamp", 1}, {"paper2col-acm-sigconf", 1}, {"paper2col-els5p", 1},
    {"paper2col-jacow", 1},   {"paper2col-ieeeconf", 0},    {"paper2col-mnras", 1},
    {"paper2col-jpsj", 0},
};

typedef struct words {
    char **w;
    int n, cap;
    char *buf; /* owns the text the words point into */
} words;

static int is_word_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '_' || ch >= 0x80;
}

/* Split text (taken over) into words of letters, digits and non-ASCII bytes. */
static void split_words(char *text, words *out)
{
    memset(out, 0, sizeof(*out));
    out->buf = text;
    if (!text)
        return;
    char *p = text;
    while (*p) {
        while (*p && !is_word_byte((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *s = p;
        while (*p && is_word_byte((unsigned char)*p))
            p++;
        int end = *p != '\0';
        *p = '\0';
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 256;
            char **nw = realloc(out->w, sizeof(*nw) * (size_t)out->cap);
            if (!nw)
                abort();
            out->w = nw;
        }
        out->w[out->n++] = s;
        if (end)
            p++;
    }
}

static void free_words(words *w)
{
    free(w->w);
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

static int count(const words *w, const char *s, int *pos)
{
    int k = 0;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->w[i], s) == 0) {
            k++;
            if (pos)
                *pos = i;
        }
    return k;
}

/* LIS score and Kendall tau of hyp positions of the distinctive words in ref order. */
static double order_score(const words *ref, const words *hyp, int *n_used, double *tau)
{
    int *seq = malloc(sizeof(int) * (size_t)(ref->n ? ref->n : 1));
    int *tails = malloc(sizeof(int) * (size_t)(ref->n ? ref->n : 1));
    if (!seq || !tails)
        abort();
    int n = 0;
    for (int i = 0; i < ref->n; i++) {
        int pos = -1;
        if (count(ref, ref->w[i], NULL) == 1 && count(hyp, ref->w[i], &pos) == 1)
            seq[n++] = pos;
    }
    int len = 0;
    for (int i = 0; i < n; i++) {
        int lo = 0, hi = len;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (tails[mid] < seq[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        tails[lo] = seq[i];
        if (lo == len)
            len++;
    }
    long conc = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            pairs++;
            conc += seq[i] < seq[j];
        }
    *tau = pairs ? (double)conc / (double)pairs : 0;
    *n_used = n;
    free(seq);
    free(tails);
    return n ? (double)len / n : 0;
}

/* Output of a shell command (malloc'd) or NULL. */
static char *run(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    size_t n = 0, cap = 1 << 16;
    char *b = malloc(cap);
    if (!b)
        abort();
    size_t k;
    while ((k = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 4096) {
            cap *= 2;
            char *nb = realloc(b, cap);
            if (!nb)
                abort();
            b = nb;
        }
    }
    b[n] = '\0';
    if (pclose(f) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

static char *pdftotext(const char *mode, const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "pdftotext %s -f 1 -l 2 '%s' - 2>/dev/null", mode, path);
    return run(cmd);
}

static char *quire_text(quire_converter *conv, const char *path)
{
    quire_error err = {0};
    quire_convert_params p = quire_convert_default_params();
    p.format = QUIRE_FORMAT_TXT;
    p.ocr = QUIRE_OCR_NEVER;
    p.pages = "1-2";
    quire_convert_result *res = NULL;
    quire_status st = quire_convert_file(conv, path, &p, &res, &err);
    T_CHECKF(st == QUIRE_OK, "%s: status %d: %s", path, (int)st, err.msg);
    char *t = NULL;
    if (res) {
        T_EQ_INT(res->n_reports, 2);
        t = strdup(res->output ? res->output : "");
    }
    quire_convert_result_free(res);
    return t;
}

/* The metric itself: identical order 1, a column swap / interleave much less. */
static void test_conv_order_metric(void)
{
    words a, b, c;
    split_words(strdup("a1 a2 a3 a4 a5 a6 b1 b2 b3 b4 b5 b6 the the"), &a);
    split_words(strdup("a1 a2 a3 a4 a5 a6 b1 b2 b3 b4 b5 b6"), &b);
    split_words(strdup("a1 b1 a2 b2 a3 b3 a4 b4 a5 b5 a6 b6"), &c);
    int n;
    double tau, s = order_score(&a, &b, &n, &tau);
    T_EQ_INT(n, 12); /* "the" is not distinctive */
    T_CHECKF(s == 1.0 && tau == 1.0, "identical order: %.3f %.3f", s, tau);
    s = order_score(&a, &c, &n, &tau);
    T_CHECKF(s > 0.55 && s < 0.6, "interleaved: lis %.3f (7/12 expected)", s);
    free_words(&a);
    free_words(&b);
    free_words(&c);
}

static void test_conv_order_two_column(void)
{
    char *probe = run("pdftotext -v 2>&1");
    T_CHECKF(probe != NULL, "pdftotext (poppler-utils) is needed as ground truth");
    free(probe);
    if (t_failed_checks)
        return;
    quire_error err = {0};
    quire_converter *conv = NULL;
    quire_converter_params cp = quire_converter_default_params();
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_converter_new(&cp, &conv, &err) != QUIRE_OK) {
        T_CHECKF(0, "converter: %s", err.msg);
        return;
    }
    int n_two = 0;
    printf("%-24s %6s %6s %6s | %s\n", "document", "words", "lis", "tau", "control (-layout)");
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/corpus/born/%s.pdf", t_shared(), docs[d].id);
        words ref, hyp, ctl;
        split_words(pdftotext("-raw", path), &ref);
        split_words(pdftotext("-layout", path), &ctl);
        split_words(quire_text(conv, path), &hyp);
        T_CHECKF(ref.buf && ctl.buf, "%s: pdftotext failed", path);
        int n, nc;
        double tau, tauc;
        double s = order_score(&ref, &hyp, &n, &tau);
        double sc = order_score(&ref, &ctl, &nc, &tauc);
        printf("%-24s %6d %6.3f %6.3f | %6.3f %6.3f%s\n", docs[d].id, n, s, tau, sc, tauc,
               docs[d].two_col ? "" : "  (one column on pages 1-2)");
        /* enough shared vocabulary that the score means something */
        T_CHECKF(n >= 100, "%s: only %d distinctive words shared with pdftotext", docs[d].id,
                 n);
        T_CHECKF(s >= MIN_SCORE, "%s pages 1-2: order score %.3f < %.2f (columns mixed?)",
                 docs[d].id, s, MIN_SCORE);
        if (docs[d].two_col) {
            n_two++;
            T_CHECKF(sc <= MAX_CONTROL,
                     "%s: interleaved-columns control scores %.3f > %.2f: metric blind?",
                     docs[d].id, sc, MAX_CONTROL);
            T_CHECKF(s - sc >= 0.15, "%s: quire %.3f not clearly above control %.3f",
                     docs[d].id, s, sc);
        }
        free_words(&ref);
        free_words(&hyp);
        free_words(&ctl);
    }
    T_CHECK(n_two >= 5);
    quire_converter_free(conv);
}

int main(void)
{
    T_RUN(test_conv_order_metric);
    T_RUN(test_conv_order_two_column);
    return t_done();
}
