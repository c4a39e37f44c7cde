/*
 * testlib.c — see testlib.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "testlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int t_failed_checks;
static int n_pass, n_fail;
static int cur_fails;

void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    cur_fails++;
    t_failed_checks++;
    if (cur_fails > 20)
        return; /* keep logs readable */
    fprintf(stdout, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void t_run(const char *name, t_fn fn)
{
    cur_fails = 0;
    fn();
    if (cur_fails) {
        n_fail++;
        printf("FAIL %s (%d failed checks)\n", name, cur_fails);
    } else {
        n_pass++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

int t_done(void)
{
    printf("summary: pass=%d fail=%d\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

const char *t_shared(void)
{
    const char *e = getenv("QUIRE_SHARED");
    return e && *e ? e : "../shared";
}

const char *t_testdata(void)
{
    const char *e = getenv("QUIRE_TESTDATA");
    return e && *e ? e : "tests/data";
}

const char *t_tmpdir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/quire-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

long t_base64_decode(const char *in, unsigned char *out, size_t cap)
{
    static signed char map[256];
    static int init;
    if (!init) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        memset(map, -1, sizeof(map));
        for (int i = 0; a[i]; i++)
            map[(unsigned char)a[i]] = (signed char)i;
        init = 1;
    }
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        int v = map[(unsigned char)*p];
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return (long)n;
}

double t_rand(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

float t_randn(uint64_t *s)
{
    double u1 = t_rand(s), u2 = t_rand(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
