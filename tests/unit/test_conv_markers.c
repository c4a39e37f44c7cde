/*
 * test_conv_markers.c — quire_convert_params.page_markers: a multi-page born-digital PDF
 * converted with and without markers. With markers, every `<!-- page N -->` line names
 * a page in increasing order; without the marker lines the Markdown is the same as the
 * default output up to line breaks (a marker splits a tight list, and a paragraph that
 * continues overleaf is split at its marker). Other formats
 * ignore the flag. Needs MuPDF (built only with WITH_CONVERT=1) and shared/corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "testlib.h"

static char *convert(quire_converter *conv, const char *path, int format, int markers)
{
    quire_convert_params p = quire_convert_default_params();
    p.format = format;
    p.pages = "1-4";
    p.ocr = QUIRE_OCR_NEVER;
    p.page_markers = markers;
    quire_convert_result *res = NULL;
    quire_error err = {0};
    quire_status st = quire_convert_file(conv, path, &p, &res, &err);
    T_CHECKF(st == QUIRE_OK, "convert %s: %s", path, err.msg);
    char *out = res && res->output ? strdup(res->output) : NULL;
    quire_convert_result_free(res);
    return out;
}

/* Parse a marker line; returns the page or 0 when the line is not a marker. */
static int marker_page(const char *line, size_t len)
{
    int page = 0;
    int used = 0;
    if (len < 15 || strncmp(line, "<!-- page ", 10) != 0)
        return 0;
    if (sscanf(line + 10, "%d -->%n", &page, &used) != 1 || used == 0 ||
        10 + (size_t)used != len)
        return 0;
    return page;
}

/* Copy md without marker lines and without empty lines; collect marker pages. */
static char *strip(const char *md, int *pages, int cap, int *n_pages)
{
    size_t n = strlen(md);
    char *out = malloc(n + 1);
    size_t o = 0;
    *n_pages = 0;
    for (const char *s = md; *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        int page = marker_page(s, len);
        if (page > 0 && *n_pages < cap)
            pages[(*n_pages)++] = page;
        if (page == 0 && len > 0) {
            memcpy(out + o, s, len);
            o += len;
            out[o++] = '\n';
        }
        s += len + (e ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

static void test_markers_born(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/corpus/born/paper2col-els5p.pdf", t_shared());
    quire_converter *conv = NULL;
    quire_error err = {0};
    T_CHECKF(quire_converter_new(NULL, &conv, &err) == QUIRE_OK, "converter: %s", err.msg);
    if (!conv)
        return;
    char *plain = convert(conv, path, QUIRE_FORMAT_MD, 0);
    char *marked = convert(conv, path, QUIRE_FORMAT_MD, 1);
    if (plain && marked) {
        T_CHECK(strstr(plain, "<!-- page") == NULL);
        T_CHECKF(strncmp(marked, "<!-- page 1 -->\n\n", 17) == 0, "starts: %.40s", marked);
        int pages[64], n_pages = 0, n_plain = 0;
        char *a = strip(marked, pages, 64, &n_pages);
        char *b = strip(plain, pages + 32, 32, &n_plain);
        T_EQ_INT(n_plain, 0);
        T_CHECKF(n_pages >= 3, "only %d markers", n_pages);
        for (int i = 1; i < n_pages; i++)
            T_CHECKF(pages[i] > pages[i - 1], "marker %d: page %d after %d", i, pages[i],
                     pages[i - 1]);
        T_CHECKF(n_pages == 0 || (pages[0] >= 1 && pages[n_pages - 1] <= 4), "pages %d..%d",
                 pages[0], pages[n_pages - 1]);
        for (char *p = a; *p; p++)
            *p = *p == '\n' ? ' ' : *p;
        for (char *p = b; *p; p++)
            *p = *p == '\n' ? ' ' : *p;
        T_CHECKF(strcmp(a, b) == 0, "markdown differs once markers are removed");
        /* els5p's paragraph from page 2 into page 3 is split at the marker */
        T_CHECKF(strstr(marked, "the cubic centered\n\n<!-- page 3 -->\n\ngroup Oh.") &&
                     strstr(plain, "the cubic centered group Oh."),
                 "the paragraph over pages 2-3 is not split at the marker");
        /* each marker is followed by a blank line */
        for (const char *m = strstr(marked, "<!-- page "); m; m = strstr(m + 1, "<!-- page ")) {
            const char *e = strchr(m, '\n');
            T_CHECK(e && e[1] == '\n');
            T_CHECK(m == marked || m[-1] == '\n');
        }
        free(a);
        free(b);
    }
    /* JSON ignores the flag */
    char *j0 = convert(conv, path, QUIRE_FORMAT_JSON, 0);
    char *j1 = convert(conv, path, QUIRE_FORMAT_JSON, 1);
    T_CHECK(j0 && j1 && strcmp(j0, j1) == 0);
    free(j0);
    free(j1);
    free(plain);
    free(marked);
    quire_converter_free(conv);
}

int main(void)
{
    T_RUN(test_markers_born);
    return t_done();
}
