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

/* Large, long-lived blocks (packed weights, activation scratch): anonymous mappings
 * aligned to 2 MiB with transparent huge pages requested, so that a 40 MB weight
 * arena costs a few dozen page faults instead of ten thousand, and the GEMM's weight
 * stream sees few TLB misses. Falls back to ordinary pages silently. */
#include <sys/mman.h>
#define HUGE_ALIGN ((size_t)2 << 20)

static size_t huge_len(size_t n) { return (n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1); }

void *qr_malloc_huge(size_t n)
{
    if (should_fail())
        return NULL;
    size_t len = huge_len(n ? n : 1);
    if (len < n)
        return NULL;
    size_t span = len + HUGE_ALIGN;
    unsigned char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t addr = (uintptr_t)p;
    uintptr_t aligned = (addr + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
    size_t head = aligned - addr;
    if (head)
        munmap(p, head);
    size_t tail = span - head - len;
    if (tail)
        munmap((unsigned char *)aligned + len, tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)aligned, len, MADV_HUGEPAGE);
#endif
    atomic_fetch_add(&n_allocs, 1);
    return (void *)aligned;
}

void qr_free_huge(void *p, size_t n)
{
    if (p)
        munmap(p, huge_len(n ? n : 1));
}
