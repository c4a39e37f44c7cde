/*
 * test_conv_golden.c — born-digital corpus PDFs through src/pdf + src/layout +
 * src/export, compared with committed Markdown in tests/data/golden/. The goldens
 * were reviewed by eye (headings, list items, table rows, column order); after an
 * intended change regenerate them with QUIRE_GOLDEN_UPDATE=1 and review the diff.
 * Needs MuPDF (built only with WITH_CONVERT=1) and shared/corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "layout/layout.h"
#include "pdf/pdf.h"
#include "testlib.h"

typedef struct golden {
    const char *id;       /* corpus file stem = golden file stem */
    int first, last;      /* pages */
    const char *must[4];  /* lines that must be in the output, reviewed by eye */
} golden;

static const golden goldens[] = {
    {"paper2col-els5p", 1, 2,
     {"## 1. Introduction\n", "## Abstract\n",
      "## 2. Evanescent vs. conventional quadrupole light-matter coupling\n", NULL}},
    {"tables-booktabs", 2, 2,
     /* "Item" spans Animal and Description (\multicolumn{2}), so the table is HTML */
     {"<tr><th colspan=\"2\">Item</th><th></th></tr>\n",
      "<tr><td>Animal</td><td>Description</td><td>Price ($)</td></tr>\n",
      "<tr><td>Gnu</td><td>stuffed</td><td>92.50</td></tr>\n", NULL}},
    {"small-fn2end", 1, 2, {NULL, NULL, NULL, NULL}},
};

static char *convert(const char *path, int first, int last)
{
    qr_pdf *pdf = NULL;
    quire_error err = {0};
    qr_arena in, out;
    char *md = NULL;
    const qr_page *pages[64] = {0};
    if (qr_pdf_open(path, &pdf, &err) != QUIRE_OK) {
        T_CHECKF(0, "open %s: %s", path, err.msg);
        return NULL;
    }
    qr_arena_init(&in, 64u << 20);
    qr_arena_init(&out, 16u << 20);
    int n = 0;
    for (int p = first; p <= last && n < 64; p++, n++) {
        qr_page *pg = qr_arena_alloc(&in, sizeof(*pg));
        if (qr_pdf_page_text(pdf, p, &in, pg, NULL, &err) == QUIRE_OK)
            pages[n] = pg;
        else
            T_CHECKF(0, "%s page %d: %s", path, p, err.msg);
    }
    qr_layout lay;
    if (qr_layout_doc(pages, n, &out, &lay, &err) == QUIRE_OK) {
        qr_buf b;
        qr_buf_init(&b, 0);
        qr_export_markdown(&lay, &b);
        md = strdup(b.data ? b.data : "");
        qr_buf_free(&b);
    } else {
        T_CHECKF(0, "layout %s: %s", path, err.msg);
    }
    qr_arena_free(&in);
    qr_arena_free(&out);
    qr_pdf_close(pdf);
    return md;
}

static void report_diff(const char *id, const char *want, const char *got)
{
    int line = 1;
    const char *w = want, *g = got;
    while (*w && *w == *g) {
        line += *w == '\n';
        w++;
        g++;
    }
    t_fail(__FILE__, __LINE__, "%s: differs from golden at line %d:\n  want: %.120s\n  got:  %.120s",
           id, line, w, g);
}

static void check_one(const golden *gd)
{
    char pdf[1024], gold[1024];
    snprintf(pdf, sizeof(pdf), "%s/corpus/born/%s.pdf", t_shared(), gd->id);
    snprintf(gold, sizeof(gold), "%s/golden/%s.md", t_testdata(), gd->id);
    char *md = convert(pdf, gd->first, gd->last);
    if (!md)
        return;
    for (int i = 0; i < 4 && gd->must[i]; i++)
        T_CHECKF(strstr(md, gd->must[i]) != NULL, "%s lacks '%s'", gd->id, gd->must[i]);
    const char *upd = getenv("QUIRE_GOLDEN_UPDATE");
    if (upd && strcmp(upd, "1") == 0) {
        T_CHECKF(t_write_file(gold, md, strlen(md)) == 0, "cannot write %s", gold);
        printf("  updated %s\n", gold);
    } else {
        size_t len = 0;
        char *want = t_read_file(gold, &len);
        T_CHECKF(want != NULL, "missing golden %s (QUIRE_GOLDEN_UPDATE=1 creates it)", gold);
        if (want && strcmp(want, md) != 0)
            report_diff(gd->id, want, md);
        free(want);
    }
    free(md);
}

static void test_goldens(void)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(goldens); i++)
        check_one(&goldens[i]);
}

int main(void)
{
    T_RUN(test_goldens);
    return t_done();
}
