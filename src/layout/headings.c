/*
 * headings.c — heading levels. classify.c decides what is a heading (clearly larger
 * than the body text, or a bold short line standing alone) and records its size,
 * weight and section-number depth; here the distinct sizes of the whole document
 * become levels: the largest is 1, the next 2, everything smaller 3. Within one size,
 * deeper numbering ("2.1" under "2") goes one level down.
 */
#include <stdlib.h>
#include <string.h>

#include "layout/layout_int.h"

#define MAX_LEVEL 3

/* "2 Methods" -> 1, "2.1 Data" -> 2, "A.1 Proofs" -> 2, "Methods" -> 0. */
int qr_layout_heading_depth(const char *s)
{
    size_t i = 0;
    int depth = 0;
    if (s[0] >= 'A' && s[0] <= 'Z' && s[1] == '.' && s[2] >= '0' && s[2] <= '9') {
        i = 2; /* appendix "A.1" */
        depth = 1;
    }
    for (;;) {
        size_t d = i;
        while (s[i] >= '0' && s[i] <= '9' && i - d < 3)
            i++;
        if (i == d || i - d > 2)
            return 0;
        depth++;
        if (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
            i++;
            continue;
        }
        if (s[i] == '.')
            i++;
        break;
    }
    return s[i] == ' ' && qr_lx_utf8_is_letter(s + i + 1) ? depth : 0;
}

typedef struct size_class {
    float size;
    int bold;
    int min_depth;
} size_class;

static int cmp_class(const void *a, const void *b)
{
    const size_class *x = a, *y = b;
    if (x->size != y->size)
        return (x->size < y->size) - (x->size > y->size); /* larger first */
    return y->bold - x->bold;                              /* bold first */
}

static int same_class(const size_class *k, const qr_hkey *h)
{
    return k->bold == h->bold && h->size > k->size - 0.6f && h->size < k->size + 0.6f;
}

static int find_class(const size_class *k, int n, const qr_hkey *h)
{
    for (int i = 0; i < n; i++)
        if (same_class(&k[i], h))
            return i;
    return -1;
}

void qr_layout_heading_levels(qr_lctx *c)
{
    size_class *k = qr_lx_scratch(c, sizeof(*k) * (size_t)(c->n_blocks + 1));
    if (!k)
        return;
    int n = 0;
    for (int b = 0; b < c->n_blocks; b++) {
        if (c->blocks[b].type != QR_BLK_HEADING || find_class(k, n, &c->hkeys[b]) >= 0)
            continue;
        k[n].size = c->hkeys[b].size;
        k[n].bold = c->hkeys[b].bold;
        k[n].min_depth = 0;
        n++;
    }
    qsort(k, (size_t)n, sizeof(*k), cmp_class);
    for (int b = 0; b < c->n_blocks; b++) {
        int i = c->blocks[b].type == QR_BLK_HEADING ? find_class(k, n, &c->hkeys[b]) : -1;
        int d = i >= 0 ? c->hkeys[b].depth : 0;
        if (d > 0 && (k[i].min_depth == 0 || d < k[i].min_depth))
            k[i].min_depth = d;
    }
    for (int b = 0; b < c->n_blocks; b++) {
        if (c->blocks[b].type != QR_BLK_HEADING)
            continue;
        int i = find_class(k, n, &c->hkeys[b]);
        int level = i + 1;
        if (c->hkeys[b].depth > 0 && k[i].min_depth > 0)
            level += c->hkeys[b].depth - k[i].min_depth;
        c->blocks[b].level = QR_MIN(level, MAX_LEVEL);
    }
}
