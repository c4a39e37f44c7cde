/*
 * pages.c — `--pages` lists ("1-3,7,10-") and `--max-pages`. Ranges are kept as
 * ranges and clipped to the document, so "1-2000000000" on a 3-page file costs nothing.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "convert_int.h"

typedef struct page_range {
    long lo, hi;
} page_range;

#define MAX_RANGES 1024

static int parse_num(const char **s, long *out)
{
    const char *p = *s;
    long v = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        if (v > INT_MAX / 10)
            return -1;
        v = v * 10 + (*p - '0');
        p++;
    }
    *s = p;
    *out = v;
    return 0;
}

/* One item "N", "N-M", "N-" or "-M". */
static int parse_item(const char **s, page_range *r)
{
    r->lo = 1;
    r->hi = INT_MAX;
    if (**s != '-' && parse_num(s, &r->lo) != 0)
        return -1;
    if (**s != '-') {
        r->hi = r->lo;
        return r->lo >= 1 ? 0 : -1;
    }
    (*s)++;
    if (isdigit((unsigned char)**s) && parse_num(s, &r->hi) != 0)
        return -1;
    return (r->lo >= 1 && r->hi >= r->lo) ? 0 : -1;
}

static int cmp_range(const void *a, const void *b)
{
    const page_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

static int parse_spec(const char *spec, page_range *r, int *n)
{
    const char *s = spec;
    *n = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (*n >= MAX_RANGES || parse_item(&s, &r[*n]) != 0)
            return -1;
        (*n)++;
        while (*s == ' ')
            s++;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *n > 0 ? 0 : -1;
}

quire_status qr_cv_page_list(const char *spec, int n_pages, int max_pages, int **out,
                             int *n_out, quire_error *err)
{
    page_range *r = qr_malloc(MAX_RANGES * sizeof(*r));
    int n_r = 0;
    *out = NULL;
    *n_out = 0;
    if (!r)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    if (spec && parse_spec(spec, r, &n_r) != 0) {
        qr_free(r);
        return qr_err(err, QUIRE_INVALID_ARG, "--pages: '%s' is not a page list like 1-3,7,10-",
                      spec);
    }
    if (!spec) {
        r[0].lo = 1;
        r[0].hi = INT_MAX;
        n_r = 1;
    }
    qsort(r, (size_t)n_r, sizeof(*r), cmp_range);
    long cap = n_pages;
    if (max_pages > 0 && max_pages < cap)
        cap = max_pages;
    int *list = qr_malloc((size_t)(cap > 0 ? cap : 1) * sizeof(int));
    if (!list) {
        qr_free(r);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    long n = 0, next = 1; /* next: smallest page not yet emitted (ranges may overlap) */
    for (int i = 0; i < n_r && n < cap; i++) {
        long lo = QR_MAX(r[i].lo, next);
        long hi = QR_MIN(r[i].hi, (long)n_pages);
        for (long p = lo; p <= hi && n < cap; p++)
            list[n++] = (int)p;
        if (hi + 1 > next)
            next = hi + 1;
    }
    qr_free(r);
    *out = list;
    *n_out = (int)n;
    return QUIRE_OK;
}
