/*
 * arena.c — bump allocator over one block, and a capped growable buffer with sticky
 * failure (the caller checks once at the end, like curl's dynbuf).
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

quire_status qr_arena_init(qr_arena *a, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->base = qr_malloc_aligned(cap);
    if (!a->base)
        return QUIRE_NOMEM;
    a->cap = cap;
    return QUIRE_OK;
}

void qr_arena_free(qr_arena *a)
{
    qr_free_aligned(a->base);
    memset(a, 0, sizeof(*a));
}

void *qr_arena_alloc(qr_arena *a, size_t n)
{
    size_t start = (a->used + 63) & ~(size_t)63;
    if (start < a->used || start > a->cap || n > a->cap - start)
        return NULL;
    a->used = start + n;
    if (a->used > a->high)
        a->high = a->used;
    return a->base + start;
}

void qr_buf_init(qr_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void qr_buf_free(qr_buf *b)
{
    qr_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_grow(qr_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX - b->len - 1 || (b->max && b->len + extra > b->max)) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *d = qr_realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void qr_buf_append(qr_buf *b, const void *data, size_t n)
{
    if (buf_grow(b, n) != 0)
        return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void qr_buf_putc(qr_buf *b, char c) { qr_buf_append(b, &c, 1); }

void qr_buf_printf(qr_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        qr_buf_append(b, tmp, (size_t)n);
        return;
    }
    if (buf_grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
