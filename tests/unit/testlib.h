/*
 * testlib.h — a very small test harness. A test function runs checks; any failed
 * check marks the test failed and prints file:line with both values. Each binary prints
 * "PASS name" / "FAIL name" per test; tests/run.sh adds them up.
 */
#ifndef QR_TESTLIB_H
#define QR_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int t_failed_checks;

void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define T_CHECK(cond)                                            \
    do {                                                         \
        if (!(cond))                                             \
            t_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)
#define T_CHECKF(cond, ...)                          \
    do {                                             \
        if (!(cond))                                 \
            t_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define T_EQ_INT(a, b)                                                                \
    do {                                                                              \
        long long ta_ = (long long)(a), tb_ = (long long)(b);                         \
        if (ta_ != tb_)                                                               \
            t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, ta_, tb_);   \
    } while (0)

typedef void (*t_fn)(void);
/* Run one test function, printing PASS/FAIL. */
void t_run(const char *name, t_fn fn);
#define T_RUN(fn) t_run(#fn, fn)
/* Print the summary; returns the process exit status. */
int t_done(void);

/* Path of the shared/ test data folder (env QUIRE_SHARED, else ../shared). */
const char *t_shared(void);
/* Path of the repo's tests/data folder (env QUIRE_TESTDATA, else tests/data). */
const char *t_testdata(void);
/* A scratch directory for this test binary (created; under $TMPDIR). */
const char *t_tmpdir(void);
/* Read a whole file (malloc'd, NUL-terminated) or NULL. */
char *t_read_file(const char *path, size_t *len);
/* Write bytes to a file; 0 on success. */
int t_write_file(const char *path, const void *data, size_t len);
/* Decode base64 into out (cap bytes); returns bytes written or -1. */
long t_base64_decode(const char *in, unsigned char *out, size_t cap);
/* Deterministic PRNG in [0,1) and N(0,1). */
double t_rand(uint64_t *state);
float t_randn(uint64_t *state);

#endif
