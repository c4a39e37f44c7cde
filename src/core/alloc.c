/*
 * alloc.c — the one place that calls malloc. Counting and fail-the-Nth-allocation
 * support fault-injection tests (like SQLite's malloc test hooks / curl torture).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static atomic_long n_allocs;
static atomic_long fail_at; /* absolute allocation number to fail, 0 = never */

void qr_alloc_fail_at(long n)
{
    atomic_store(&fail_at, n > 0 ? atomic_load(&n_allocs) + n : 0);
}

long qr_alloc_count(void) { return atomic_load(&n_allocs); }

static int should_fail(void)
{
    long f = atomic_load(&fail_at);
    if (f == 0)
        return 0;
    long cur = atomic_fetch_add(&n_allocs, 1) + 1;
    if (cur >= f) {
        atomic_fetch_sub(&n_allocs, 1);
        return 1;
    }
    atomic_fetch_sub(&n_allocs, 1);
    return 0;
}

void *qr_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add(&n_allocs, 1);
    return p;
}

void *qr_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add(&n_allocs, 1);
    return p;
}

void *qr_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && !p)
        atomic_fetch_add(&n_allocs, 1);
    return q;
}

void qr_free(void *p) { free(p); }

void *qr_malloc_aligned(size_t n)
{
    if (should_fail())
        return NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded < n)
        return NULL;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        atomic_fetch_add(&n_allocs, 1);
    return p;
}

void qr_free_aligned(void *p) { free(p); }

char *qr_strndup(const char *s, size_t n)
{
    char *d = qr_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *qr_strdup(const char *s) { return qr_strndup(s, strlen(s)); }
