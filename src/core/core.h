/*
 * core.h — internal helpers shared by every module: errors, logging, allocation,
 * arena, thread pool, CPU features, timer. Internal symbols use the qr_ prefix.
 * Front ends (cli/, src/server/) may include this header too (like curl's curlx_).
 */
#ifndef QR_CORE_H
#define QR_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "quire.h"

/* ---- errors ---------------------------------------------------------------- */

/* Fill err (may be NULL) with code and a printf-style message; returns code. */
quire_status qr_err(quire_error *err, quire_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- logging ---------------------------------------------------------------- */

extern int qr_log_min_level;
void qr_log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define qr_log(level, ...)                      \
    do {                                        \
        if ((level) >= qr_log_min_level)        \
            qr_log_emit((level), __VA_ARGS__);  \
    } while (0)

/* ---- allocation ------------------------------------------------------------ */
/* All library allocations go through these so tests can count and fail them.
 * qr_malloc(0) returns a valid unique pointer. Aligned allocations are 64-byte
 * aligned and must be freed with qr_free_aligned. */
void *qr_malloc(size_t n);
void *qr_calloc(size_t count, size_t size); /* overflow-checked */
void *qr_realloc(void *p, size_t n);
void qr_free(void *p);
void *qr_malloc_aligned(size_t n);
void qr_free_aligned(void *p);
char *qr_strdup(const char *s);
/* Large long-lived blocks: 2 MiB aligned, transparent huge pages when available,
 * zero-filled. Free with qr_free_huge(p, n) with the same n. */
void *qr_malloc_huge(size_t n);
void qr_free_huge(void *p, size_t n);
char *qr_strndup(const char *s, size_t n);

/* Fault injection for tests: fail the n-th allocation from now (1 = the next),
 * 0 disables. qr_alloc_count() counts successful allocations since start. */
void qr_alloc_fail_at(long n);
long qr_alloc_count(void);

/* ---- arena ------------------------------------------------------------------ */
/* A bump allocator over one fixed block: reset in one go; overflow returns NULL. */
typedef struct qr_arena {
    unsigned char *base;
    size_t cap;
    size_t used;
    size_t high; /* high-water mark */
} qr_arena;

quire_status qr_arena_init(qr_arena *a, size_t cap);
void qr_arena_free(qr_arena *a);
void *qr_arena_alloc(qr_arena *a, size_t n); /* 64-byte aligned; NULL when full */
static inline void qr_arena_reset(qr_arena *a) { a->used = 0; }

/* ---- growable byte buffer (sticky errors, capped) ---------------------------- */
typedef struct qr_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = no cap */
    int failed; /* sticky: once set, appends are ignored */
} qr_buf;

void qr_buf_init(qr_buf *b, size_t max);
void qr_buf_free(qr_buf *b);
void qr_buf_append(qr_buf *b, const void *data, size_t n);
void qr_buf_printf(qr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qr_buf_putc(qr_buf *b, char c);
static inline void qr_buf_clear(qr_buf *b) { b->len = 0; }

/* ---- base64 (RFC 4648, padded) ------------------------------------------------- */
/* Append the base64 of data[0..n) to b. */
void qr_base64_encode(qr_buf *b, const void *data, size_t n);
/* Decode in[0..n) (padding optional) into out (at most cap bytes); the byte count, or -1
 * for a character outside the alphabet, a bad length or more than cap bytes. */
long qr_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* ---- files -------------------------------------------------------------------- */
/* Map a whole file read-only. OUT: *data, *len. Empty files give data == NULL, len 0. */
quire_status qr_file_map(const char *path, const void **data, size_t *len, quire_error *err);
void qr_file_unmap(const void *data, size_t len);
/* Read a whole (small) file into a NUL-terminated buffer (free with qr_free). */
quire_status qr_file_read(const char *path, size_t max, char **out, size_t *len,
                          quire_error *err);
int qr_file_exists(const char *path);
/* Join dir and name into out (cap bytes); returns 0 on success, -1 if too long. */
int qr_path_join(char *out, size_t cap, const char *dir, const char *name);

/* ---- thread pool -------------------------------------------------------------- */
/* A fixed set of workers that run one parallel-for at a time. The calling thread
 * takes part, so a pool of n threads starts n-1 workers. Not reentrant. */
typedef struct qr_pool qr_pool;
typedef void (*qr_task_fn)(void *ctx, int ith, int nth);

quire_status qr_pool_new(int n_threads, qr_pool **out, quire_error *err);
void qr_pool_free(qr_pool *pool);
int qr_pool_size(const qr_pool *pool);
/* Run fn(ctx, ith, nth) for ith in [0, nth) on the pool's threads and wait. */
void qr_pool_run(qr_pool *pool, qr_task_fn fn, void *ctx);
/* Split [0, n) into nth near-equal ranges, return thread ith's [*lo, *hi). */
static inline void qr_split(long n, int ith, int nth, long *lo, long *hi)
{
    long chunk = n / nth;
    long rem = n % nth;
    *lo = ith * chunk + (ith < rem ? ith : rem);
    *hi = *lo + chunk + (ith < rem ? 1 : 0);
}

/* ---- CPU features --------------------------------------------------------------- */
enum {
    QR_CPU_SSE42 = 1u << 0,
    QR_CPU_AVX = 1u << 1,
    QR_CPU_AVX2 = 1u << 2,
    QR_CPU_FMA = 1u << 3,
    QR_CPU_F16C = 1u << 4,
    QR_CPU_AVX512F = 1u << 5,
    QR_CPU_AVX512BW = 1u << 6,
    QR_CPU_AVX512VL = 1u << 7,
    QR_CPU_AVX512DQ = 1u << 8,
    QR_CPU_AVX512VNNI = 1u << 9,
    QR_CPU_AVX512BF16 = 1u << 10,
    QR_CPU_AVXVNNI = 1u << 11,
    QR_CPU_AMXTILE = 1u << 12, /* CPU + OS (XCR0 tile state); use needs arch_prctl */
    QR_CPU_AMXBF16 = 1u << 13,
    QR_CPU_AMXINT8 = 1u << 14,
    QR_CPU_NEON = 1u << 16,
    QR_CPU_ASIMDDP = 1u << 17, /* dotprod */
    QR_CPU_I8MM = 1u << 18,
    QR_CPU_SVE = 1u << 19,
    QR_CPU_ARMBF16 = 1u << 20 /* ARM64 bf16 extension (bfdot, bfmmla): HWCAP2_BF16 */
};
/* Detected features (CPUID + XGETBV on x86, getauxval on ARM64). Cached. */
unsigned qr_cpu_features(void);
/* Write feature names separated by spaces. */
void qr_cpu_feature_names(unsigned feats, char *buf, size_t cap);

/* ---- time ---------------------------------------------------------------------- */
double qr_now(void); /* monotonic seconds */
uint64_t qr_now_ns(void);

/* ---- misc ---------------------------------------------------------------------- */
#define QR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define QR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Library initialisation (kernels); idempotent, thread-safe. */
quire_status qr_lib_init(quire_error *err);


/* ---- SHA-256 (sha256.c) ---- */
typedef struct qr_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} qr_sha256;
void qr_sha256_init(qr_sha256 *s);
void qr_sha256_update(qr_sha256 *s, const void *data, size_t n);
void qr_sha256_final(qr_sha256 *s, unsigned char out[32]);
/* One-shot: lowercase hex digest (64 chars + NUL). */
void qr_sha256_hex(const void *data, size_t n, char out[65]);
/* n bytes as lowercase hex into out (2n chars + NUL). */
void qr_hex(const unsigned char *d, size_t n, char *out);

#endif /* QR_CORE_H */
