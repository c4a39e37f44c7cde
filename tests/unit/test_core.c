/*
 * test_core.c — unit tests for src/core: error buffer, status names, sticky capped
 * buffers, the arena, the thread pool, CPU feature names, file helpers, allocation
 * fault injection and logging. These are the tests `make check-arm64` runs under
 * qemu-aarch64, so they use no shared data and stay fast under emulation.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "nn/nn.h"
#include "testlib.h"

/* ------------------------------------------------------------------ errors */

static void test_err_format(void)
{
    quire_error err = {0};
    quire_status st = qr_err(&err, QUIRE_FORMAT, "%s: tensor %s has %d dims", "model", "wq", 3);
    T_EQ_INT(st, QUIRE_FORMAT);
    T_EQ_INT(err.code, QUIRE_FORMAT);
    T_CHECKF(strcmp(err.msg, "model: tensor wq has 3 dims") == 0, "msg = '%s'", err.msg);
    /* NULL err is allowed and still returns the code */
    T_EQ_INT(qr_err(NULL, QUIRE_IO, "x %d", 1), QUIRE_IO);
    /* messages stay on one line */
    qr_err(&err, QUIRE_ERROR, "line one\nline two\r\nthree");
    T_CHECK(strchr(err.msg, '\n') == NULL);
    T_CHECK(strchr(err.msg, '\r') == NULL);
    T_CHECKF(strncmp(err.msg, "line one line two", 17) == 0, "msg = '%s'", err.msg);
}

static void test_err_truncation(void)
{
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    quire_error err;
    memset(&err, 0x55, sizeof(err));
    qr_err(&err, QUIRE_LIMIT, "%s", big);
    T_EQ_INT(err.code, QUIRE_LIMIT);
    T_EQ_INT(strlen(err.msg), sizeof(err.msg) - 1);
    T_EQ_INT(err.msg[sizeof(err.msg) - 1], '\0');
    T_EQ_INT(err.msg[0], 'x');
}

static void test_status_names(void)
{
    static const char *const want[] = {"OK",     "ERROR",       "NOMEM",       "IO",
                                       "FORMAT", "INVALID_ARG", "UNSUPPORTED", "LIMIT",
                                       "NOT_FOUND", "CANCELLED", "BUSY"};
    for (int i = 0; i < (int)QR_ARRAY_LEN(want); i++) {
        const char *got = quire_status_str((quire_status)i);
        T_CHECKF(got && strcmp(got, want[i]) == 0, "status %d: '%s' != '%s'", i,
                 got ? got : "(null)", want[i]);
    }
    /* detail codes map to their primary */
    quire_status detail = (quire_status)(QUIRE_FORMAT | (3 << 8));
    T_EQ_INT(QUIRE_STATUS_PRIMARY(detail), QUIRE_FORMAT);
    T_CHECK(strcmp(quire_status_str(detail), "FORMAT") == 0);
    /* unknown codes still give a static string */
    T_CHECK(strcmp(quire_status_str((quire_status)99), "UNKNOWN") == 0);
    T_CHECK(strcmp(quire_status_str((quire_status)-1), "UNKNOWN") == 0);
    T_EQ_INT(quire_version(), QUIRE_VERSION_NUMBER);
    T_CHECK(strcmp(quire_version_str(), QUIRE_VERSION_STRING) == 0);
}

/* ------------------------------------------------------------------ qr_buf */

static void test_buf_basic(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_buf_append(&b, "abc", 3);
    qr_buf_putc(&b, '-');
    qr_buf_printf(&b, "%d/%s", 42, "x");
    T_CHECK(!b.failed);
    T_EQ_INT(b.len, 8);
    T_CHECKF(b.data && strcmp(b.data, "abc-42/x") == 0, "data = '%s'", b.data ? b.data : "");
    /* a formatted string longer than the internal 256-byte scratch */
    char long_s[600];
    memset(long_s, 'y', sizeof(long_s) - 1);
    long_s[sizeof(long_s) - 1] = '\0';
    qr_buf_printf(&b, "[%s]", long_s);
    T_CHECK(!b.failed);
    T_EQ_INT(b.len, 8 + 2 + 599);
    T_EQ_INT(b.data[b.len], '\0');
    T_EQ_INT(b.data[9], 'y');
    T_EQ_INT(b.data[b.len - 1], ']');
    qr_buf_clear(&b);
    T_EQ_INT(b.len, 0);
    qr_buf_append(&b, "z", 1);
    T_CHECK(strcmp(b.data, "z") == 0);
    qr_buf_free(&b);
    T_CHECK(b.data == NULL);
    qr_buf_free(&b); /* twice is fine */
}

static void test_buf_cap_sticky(void)
{
    qr_buf b;
    qr_buf_init(&b, 10);
    qr_buf_append(&b, "12345678", 8);
    T_CHECK(!b.failed);
    qr_buf_append(&b, "90", 2); /* exactly at the cap: allowed */
    T_CHECK(!b.failed);
    T_EQ_INT(b.len, 10);
    qr_buf_putc(&b, 'x'); /* one past the cap */
    T_CHECK(b.failed);
    T_EQ_INT(b.len, 10);
    qr_buf_clear(&b);
    qr_buf_append(&b, "a", 1); /* sticky: ignored even though it would fit now */
    qr_buf_printf(&b, "%d", 7);
    T_CHECK(b.failed);
    T_EQ_INT(b.len, 0);
    qr_buf_free(&b);

    /* printf over the cap */
    qr_buf_init(&b, 4);
    qr_buf_printf(&b, "%s", "hello");
    T_CHECK(b.failed);
    qr_buf_free(&b);

    /* an allocation failure is sticky too */
    qr_buf_init(&b, 0);
    qr_alloc_fail_at(1);
    qr_buf_append(&b, "abc", 3);
    qr_alloc_fail_at(0);
    T_CHECK(b.failed);
    qr_buf_append(&b, "abc", 3);
    T_CHECK(b.failed);
    T_EQ_INT(b.len, 0);
    qr_buf_free(&b);
}

/* ------------------------------------------------------------------ arena */

static void test_arena(void)
{
    qr_arena a;
    T_EQ_INT(qr_arena_init(&a, 1024), QUIRE_OK);
    T_EQ_INT(a.cap, 1024);
    unsigned char *p1 = qr_arena_alloc(&a, 1);
    unsigned char *p2 = qr_arena_alloc(&a, 100);
    T_CHECK(p1 && p2);
    T_EQ_INT((uintptr_t)p1 % 64, 0);
    T_EQ_INT((uintptr_t)p2 % 64, 0);
    T_EQ_INT(p2 - p1, 64);
    memset(p2, 0xab, 100); /* writable */
    /* 64 + 100 used; next starts at 192; 1024 - 192 = 832 fits exactly */
    unsigned char *p3 = qr_arena_alloc(&a, 832);
    T_CHECK(p3 != NULL);
    T_EQ_INT(a.used, 1024);
    size_t used = a.used;
    T_CHECK(qr_arena_alloc(&a, 1) == NULL); /* full */
    T_EQ_INT(a.used, used);                 /* a failed alloc changes nothing */
    qr_arena_reset(&a);
    T_EQ_INT(a.used, 0);
    T_EQ_INT(a.high, 1024);
    T_CHECK(qr_arena_alloc(&a, 1025) == NULL);
    T_CHECK(qr_arena_alloc(&a, SIZE_MAX) == NULL);     /* no wrap-around */
    T_CHECK(qr_arena_alloc(&a, SIZE_MAX - 10) == NULL);
    T_CHECK(qr_arena_alloc(&a, 1024) == a.base);       /* whole block after reset */
    qr_arena_free(&a);
    T_CHECK(a.base == NULL);

    qr_alloc_fail_at(1);
    T_EQ_INT(qr_arena_init(&a, 256), QUIRE_NOMEM);
    qr_alloc_fail_at(0);
    T_CHECK(a.base == NULL);
    qr_arena_free(&a); /* freeing a failed arena is fine */
}

/* ------------------------------------------------------------------ pool */

#define SUM_N 100003L

typedef struct {
    long n;
    long long partial[16];
    atomic_int calls[16];
    atomic_int bad_nth;
    int want_nth;
} sum_ctx;

static void sum_task(void *p, int ith, int nth)
{
    sum_ctx *c = p;
    if (nth != c->want_nth || ith < 0 || ith >= nth || ith >= 16) {
        atomic_fetch_add(&c->bad_nth, 1);
        return;
    }
    long lo, hi;
    qr_split(c->n, ith, nth, &lo, &hi);
    long long s = 0;
    for (long i = lo; i < hi; i++)
        s += i;
    c->partial[ith] = s;
    atomic_fetch_add(&c->calls[ith], 1);
}

static long long run_sum(qr_pool *pool, long n, sum_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->want_nth = qr_pool_size(pool);
    qr_pool_run(pool, sum_task, c);
    long long total = 0;
    for (int i = 0; i < c->want_nth; i++)
        total += c->partial[i];
    return total;
}

static void check_pool(int n_threads, int n_runs)
{
    qr_pool *pool = NULL;
    quire_error err = {0};
    T_EQ_INT(qr_pool_new(n_threads, &pool, &err), QUIRE_OK);
    if (!pool)
        return;
    T_EQ_INT(qr_pool_size(pool), n_threads);
    sum_ctx c;
    int bad = 0;
    for (int r = 0; r < n_runs; r++) {
        long n = SUM_N + r % 7;
        long long want = (long long)n * (n - 1) / 2;
        long long got = run_sum(pool, n, &c);
        int ok = got == want && atomic_load(&c.bad_nth) == 0;
        for (int i = 0; i < n_threads; i++)
            ok = ok && atomic_load(&c.calls[i]) == 1;
        if (!ok && bad++ < 3)
            T_CHECKF(0, "threads %d run %d: sum %lld != %lld (bad nth %d)", n_threads, r, got,
                     want, atomic_load(&c.bad_nth));
    }
    T_EQ_INT(bad, 0);
    qr_pool_free(pool);
}

static void test_pool_sum(void)
{
    check_pool(1, 3);
    check_pool(2, 3);
    check_pool(4, 3);
}

static void test_pool_back_to_back(void)
{
    check_pool(2, 2000);
    check_pool(4, 1000);
}

static void test_pool_edges(void)
{
    qr_pool *pool = NULL;
    quire_error err = {0};
    /* no pool: runs inline as one thread */
    sum_ctx c;
    memset(&c, 0, sizeof(c));
    c.n = 10;
    c.want_nth = 1;
    qr_pool_run(NULL, sum_task, &c);
    T_EQ_INT(c.partial[0], 45);
    T_EQ_INT(qr_pool_size(NULL), 1);
    /* 0 threads means 1 */
    T_EQ_INT(qr_pool_new(0, &pool, &err), QUIRE_OK);
    T_EQ_INT(qr_pool_size(pool), 1);
    qr_pool_free(pool);
    /* too many threads */
    pool = (qr_pool *)&c;
    T_EQ_INT(qr_pool_new(100000, &pool, &err), QUIRE_INVALID_ARG);
    T_CHECK(pool == NULL);
    T_EQ_INT(err.code, QUIRE_INVALID_ARG);
    qr_pool_free(NULL);
    /* more threads than work items */
    T_EQ_INT(qr_pool_new(4, &pool, &err), QUIRE_OK);
    T_EQ_INT(run_sum(pool, 2, &c), 1);
    T_EQ_INT(run_sum(pool, 0, &c), 0);
    qr_pool_free(pool);
}

static void test_split(void)
{
    for (long n = 0; n < 40; n++) {
        for (int nth = 1; nth <= 7; nth++) {
            long next = 0;
            for (int ith = 0; ith < nth; ith++) {
                long lo, hi;
                qr_split(n, ith, nth, &lo, &hi);
                T_CHECKF(lo == next && hi >= lo && hi - lo <= n / nth + 1,
                         "split(%ld, %d, %d) = [%ld, %ld)", n, ith, nth, lo, hi);
                next = hi;
            }
            T_EQ_INT(next, n);
        }
    }
}

/* ------------------------------------------------------------------ cpu */

static void test_cpu_names(void)
{
    char buf[256];
    qr_cpu_feature_names(QR_CPU_AVX2 | QR_CPU_FMA, buf, sizeof(buf));
    T_CHECKF(strcmp(buf, "avx2 fma") == 0, "'%s'", buf);
    qr_cpu_feature_names(QR_CPU_NEON | QR_CPU_ASIMDDP | QR_CPU_I8MM | QR_CPU_SVE, buf,
                         sizeof(buf));
    T_CHECKF(strcmp(buf, "neon dotprod i8mm sve") == 0, "'%s'", buf);
    qr_cpu_feature_names(0, buf, sizeof(buf));
    T_CHECKF(buf[0] == '\0', "'%s'", buf);
    /* a small buffer drops names that do not fit, never half a name */
    char small[9]; /* room for "avx avx2" but not " fma" */
    qr_cpu_feature_names(QR_CPU_AVX | QR_CPU_AVX2 | QR_CPU_FMA, small, sizeof(small));
    T_CHECKF(strcmp(small, "avx avx2") == 0, "'%s'", small);
    qr_cpu_feature_names(QR_CPU_AVX | QR_CPU_AVX2 | QR_CPU_FMA, small, 8);
    T_CHECKF(strcmp(small, "avx") == 0, "'%s'", small);
    buf[0] = 'q';
    qr_cpu_feature_names(QR_CPU_AVX, buf, 0); /* cap 0 writes nothing */
    T_EQ_INT(buf[0], 'q');
    /* every bit has a name */
    qr_cpu_feature_names(~0u, buf, sizeof(buf));
    T_CHECKF(strstr(buf, "avx512f") && strstr(buf, "neon") && strstr(buf, "sse4.2"), "'%s'",
             buf);
}

static void test_cpu_detect(void)
{
    unsigned f = qr_cpu_features();
    T_EQ_INT(qr_cpu_features(), f); /* cached, stable */
#if defined(__x86_64__)
    T_CHECK(!(f & (QR_CPU_NEON | QR_CPU_SVE)));
    if (f & QR_CPU_AVX2)
        T_CHECK(f & QR_CPU_AVX);
    if (f & QR_CPU_AVX512F)
        T_CHECK(f & QR_CPU_AVX);
#elif defined(__aarch64__)
    T_CHECK(f & QR_CPU_NEON); /* baseline on ARMv8-A */
    T_CHECK(!(f & (QR_CPU_AVX | QR_CPU_AVX2 | QR_CPU_SSE42)));
#endif
    char info[2048];
    size_t n = quire_info(info, sizeof(info));
    T_CHECK(n > 0 && n < sizeof(info));
    T_CHECKF(strstr(info, "version: " QUIRE_VERSION_STRING) != NULL, "%s", info);
#if defined(__aarch64__)
    T_CHECKF(strstr(info, "arch: aarch64") && strstr(info, "neon"), "%s", info);
#elif defined(__x86_64__)
    T_CHECKF(strstr(info, "arch: x86_64") != NULL, "%s", info);
#endif
    /* the chosen kernel set is one this build has, and scalar always works */
    const char *name = quire_kernels_name();
    int known = 0;
    for (int i = 0; qr_nn_names[i]; i++)
        known |= strcmp(qr_nn_names[i], name) == 0;
    T_CHECKF(known, "kernels '%s'", name);
    T_CHECK(qr_nn_get("scalar") != NULL);
    T_CHECK(qr_nn_get("no-such-isa") == NULL);
    /* quire_info reports the length it needed even when cut short */
    char tiny[8];
    size_t need = quire_info(tiny, sizeof(tiny));
    T_EQ_INT(need, n);
    T_EQ_INT(strlen(tiny), sizeof(tiny) - 1);
}

/* ------------------------------------------------------------------ files */

static void tmp_path(char *out, size_t cap, const char *name)
{
    T_EQ_INT(qr_path_join(out, cap, t_tmpdir(), name), 0);
}

static void test_file_missing(void)
{
    char path[600];
    tmp_path(path, sizeof(path), "does-not-exist.bin");
    quire_error err = {0};
    char *data = (char *)&err;
    size_t len = 77;
    T_EQ_INT(qr_file_read(path, 0, &data, &len, &err), QUIRE_NOT_FOUND);
    T_CHECK(data == NULL);
    T_EQ_INT(len, 0);
    T_EQ_INT(err.code, QUIRE_NOT_FOUND);
    T_CHECKF(strstr(err.msg, "does-not-exist.bin") != NULL, "msg '%s'", err.msg);
    const void *map = &err;
    memset(&err, 0, sizeof(err));
    T_EQ_INT(qr_file_map(path, &map, &len, &err), QUIRE_NOT_FOUND);
    T_CHECK(map == NULL);
    T_EQ_INT(len, 0);
    T_CHECKF(strstr(err.msg, "does-not-exist.bin") != NULL, "msg '%s'", err.msg);
    T_CHECK(!qr_file_exists(path));
    /* a directory is not a regular file */
    T_EQ_INT(qr_file_map(t_tmpdir(), &map, &len, &err), QUIRE_IO);
    T_CHECK(map == NULL);
    T_CHECK(!qr_file_exists(t_tmpdir()));
}

static void test_file_empty(void)
{
    char path[600];
    tmp_path(path, sizeof(path), "empty.txt");
    T_EQ_INT(t_write_file(path, "", 0), 0);
    T_CHECK(qr_file_exists(path));
    char *data = NULL;
    size_t len = 99;
    T_EQ_INT(qr_file_read(path, 0, &data, &len, NULL), QUIRE_OK);
    T_CHECK(data != NULL);
    T_EQ_INT(len, 0);
    if (data)
        T_EQ_INT(data[0], '\0');
    qr_free(data);
    const void *map = path;
    T_EQ_INT(qr_file_map(path, &map, &len, NULL), QUIRE_OK);
    T_CHECK(map == NULL);
    T_EQ_INT(len, 0);
    qr_file_unmap(map, len);
}

static void test_file_regular(void)
{
    char path[600];
    tmp_path(path, sizeof(path), "regular.bin");
    /* larger than file.c's 64 KiB read chunk, with NUL bytes in it */
    size_t n = 200000;
    unsigned char *src = malloc(n);
    T_CHECK(src != NULL);
    if (!src)
        return;
    for (size_t i = 0; i < n; i++)
        src[i] = (unsigned char)(i * 31 + 7);
    T_EQ_INT(t_write_file(path, src, n), 0);
    char *data = NULL;
    size_t len = 0;
    T_EQ_INT(qr_file_read(path, 0, &data, &len, NULL), QUIRE_OK);
    T_EQ_INT(len, n);
    T_CHECK(data && memcmp(data, src, n) == 0);
    if (data)
        T_EQ_INT(data[n], '\0');
    qr_free(data);
    /* max: exactly the size is fine, one less is LIMIT */
    T_EQ_INT(qr_file_read(path, n, &data, &len, NULL), QUIRE_OK);
    qr_free(data);
    quire_error err = {0};
    T_EQ_INT(qr_file_read(path, n - 1, &data, &len, &err), QUIRE_LIMIT);
    T_CHECK(data == NULL);
    T_CHECKF(strstr(err.msg, "regular.bin") != NULL, "msg '%s'", err.msg);
    const void *map = NULL;
    T_EQ_INT(qr_file_map(path, &map, &len, NULL), QUIRE_OK);
    T_EQ_INT(len, n);
    T_CHECK(map && memcmp(map, src, n) == 0);
    qr_file_unmap(map, len);
    free(src);
}

static void test_path_join(void)
{
    char out[32];
    T_EQ_INT(qr_path_join(out, sizeof(out), "models/mini", "config.json"), 0);
    T_CHECKF(strcmp(out, "models/mini/config.json") == 0, "'%s'", out);
    T_EQ_INT(qr_path_join(out, sizeof(out), "models/mini///", "vocab.txt"), 0);
    T_CHECKF(strcmp(out, "models/mini/vocab.txt") == 0, "'%s'", out);
    T_EQ_INT(qr_path_join(out, sizeof(out), ".", "a"), 0);
    T_CHECKF(strcmp(out, "./a") == 0, "'%s'", out);
    T_EQ_INT(qr_path_join(out, sizeof(out), "/abs/dir", "1_Pooling/config.json"), 0);
    T_CHECKF(strcmp(out, "/abs/dir/1_Pooling/config.json") == 0, "'%s'", out);
    /* exact fit (7 chars + NUL) and one byte short */
    char fit[8];
    T_EQ_INT(qr_path_join(fit, sizeof(fit), "abc", "def"), 0);
    T_CHECK(strcmp(fit, "abc/def") == 0);
    T_EQ_INT(qr_path_join(fit, 7, "abc", "def"), -1);
    char longname[64];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    T_EQ_INT(qr_path_join(out, sizeof(out), "dir", longname), -1);
}

/* ------------------------------------------------------------------ allocation */

static void test_alloc_basic(void)
{
    long before = qr_alloc_count();
    void *p = qr_malloc(0); /* valid, unique */
    void *q = qr_malloc(0);
    T_CHECK(p && q && p != q);
    T_EQ_INT(qr_alloc_count(), before + 2);
    qr_free(p);
    qr_free(q);
    qr_free(NULL);
    T_CHECK(qr_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow is checked */
    unsigned char *z = qr_calloc(10, 10);
    T_CHECK(z != NULL);
    int zero = 1;
    for (int i = 0; z && i < 100; i++)
        zero &= z[i] == 0;
    T_CHECK(zero);
    z = qr_realloc(z, 1000);
    T_CHECK(z != NULL);
    qr_free(z);
    void *al = qr_malloc_aligned(100);
    T_CHECK(al && (uintptr_t)al % 64 == 0);
    qr_free_aligned(al);
    char *s = qr_strdup("hello");
    T_CHECK(s && strcmp(s, "hello") == 0);
    qr_free(s);
    s = qr_strndup("hello world", 5);
    T_CHECK(s && strcmp(s, "hello") == 0);
    qr_free(s);
}

static void test_alloc_fault_injection(void)
{
    /* 1 = the next allocation fails */
    qr_alloc_fail_at(1);
    T_CHECK(qr_malloc(16) == NULL);
    qr_alloc_fail_at(0);
    void *p = qr_malloc(16);
    T_CHECK(p != NULL);
    qr_free(p);

    /* the third allocation from now fails, the first two succeed */
    qr_alloc_fail_at(3);
    void *a = qr_malloc(8);
    void *b = qr_calloc(2, 8);
    void *c = qr_malloc_aligned(64);
    qr_alloc_fail_at(0);
    T_CHECK(a != NULL);
    T_CHECK(b != NULL);
    T_CHECK(c == NULL);
    qr_free(a);
    qr_free(b);

    /* every wrapper honours it; a failed realloc keeps the old block */
    char *keep = qr_strdup("keep");
    qr_alloc_fail_at(1);
    T_CHECK(qr_calloc(1, 1) == NULL);
    qr_alloc_fail_at(1);
    T_CHECK(qr_realloc(keep, 4096) == NULL);
    qr_alloc_fail_at(1);
    T_CHECK(qr_strdup("x") == NULL);
    qr_alloc_fail_at(1);
    T_CHECK(qr_malloc_aligned(64) == NULL);
    qr_alloc_fail_at(0);
    T_CHECK(keep && strcmp(keep, "keep") == 0);
    qr_free(keep);

    /* failed allocations are not counted */
    long before = qr_alloc_count();
    qr_alloc_fail_at(1);
    T_CHECK(qr_malloc(1) == NULL);
    qr_alloc_fail_at(0);
    T_EQ_INT(qr_alloc_count(), before);
}

/* Fail the 1st, 2nd, ... allocation of a call until it succeeds: every failure must
 * be a clean status (curl's torture mode). */
static void test_alloc_torture_pool(void)
{
    int n_fail = 0;
    for (long nth = 1; nth < 64; nth++) {
        qr_pool *pool = NULL;
        quire_error err = {0};
        qr_alloc_fail_at(nth);
        quire_status st = qr_pool_new(4, &pool, &err);
        qr_alloc_fail_at(0);
        if (st == QUIRE_OK) {
            sum_ctx c;
            T_EQ_INT(run_sum(pool, 1000, &c), 999L * 1000 / 2);
            qr_pool_free(pool);
            break;
        }
        n_fail++;
        T_EQ_INT(st, QUIRE_NOMEM);
        T_CHECK(pool == NULL);
    }
    T_CHECK(n_fail >= 2); /* pool, thread table, worker args */
}

static void test_alloc_torture_file(void)
{
    char path[600];
    tmp_path(path, sizeof(path), "torture.txt");
    char content[3000];
    memset(content, 'c', sizeof(content));
    T_EQ_INT(t_write_file(path, content, sizeof(content)), 0);
    int n_fail = 0;
    for (int with_max = 0; with_max < 2; with_max++) {
        for (long nth = 1; nth < 64; nth++) {
            char *data = NULL;
            size_t len = 0;
            quire_error err = {0};
            qr_alloc_fail_at(nth);
            quire_status st = qr_file_read(path, with_max ? 1 << 20 : 0, &data, &len, &err);
            qr_alloc_fail_at(0);
            if (st == QUIRE_OK) {
                T_EQ_INT(len, sizeof(content));
                qr_free(data);
                break;
            }
            n_fail++;
            T_CHECKF(st == QUIRE_NOMEM, "fail at %ld (max %d): %s '%s'", nth, with_max,
                     quire_status_str(st), err.msg);
            T_CHECK(data == NULL);
        }
    }
    T_CHECK(n_fail >= 2);
}

/* ------------------------------------------------------------------ logging */

typedef struct {
    int n;
    int last_level;
    char last[64];
} log_rec;

static void log_cb(int level, const char *msg, void *ud)
{
    log_rec *r = ud;
    r->n++;
    r->last_level = level;
    snprintf(r->last, sizeof(r->last), "%s", msg);
}

static void test_log(void)
{
    log_rec r = {0};
    quire_log_set(log_cb, &r, QUIRE_LOG_INFO);
    qr_log(QUIRE_LOG_DEBUG, "hidden %d", 1);
    qr_log(QUIRE_LOG_WARN, "shown %d", 2);
    quire_log_set(NULL, NULL, QUIRE_LOG_WARN);
    T_EQ_INT(r.n, 1);
    T_EQ_INT(r.last_level, QUIRE_LOG_WARN);
    T_CHECKF(strcmp(r.last, "shown 2") == 0, "'%s'", r.last);
    double t0 = qr_now();
    uint64_t n0 = qr_now_ns();
    T_CHECK(qr_now() >= t0);
    T_CHECK(qr_now_ns() >= n0);
}

int main(void)
{
    T_RUN(test_err_format);
    T_RUN(test_err_truncation);
    T_RUN(test_status_names);
    T_RUN(test_buf_basic);
    T_RUN(test_buf_cap_sticky);
    T_RUN(test_arena);
    T_RUN(test_pool_sum);
    T_RUN(test_pool_back_to_back);
    T_RUN(test_pool_edges);
    T_RUN(test_split);
    T_RUN(test_cpu_names);
    T_RUN(test_cpu_detect);
    T_RUN(test_file_missing);
    T_RUN(test_file_empty);
    T_RUN(test_file_regular);
    T_RUN(test_path_join);
    T_RUN(test_alloc_basic);
    T_RUN(test_alloc_fault_injection);
    T_RUN(test_alloc_torture_pool);
    T_RUN(test_alloc_torture_file);
    T_RUN(test_log);
    return t_done();
}
