/*
 * bench_search.c — quire's HNSW and exact search on a seeded Gaussian mixture (a
 * benchmark, not a test; nothing is asserted).
 *
 *   build/bench/bench_search gen  DATA [--n N] [--nq Q] [--dims D] [--clusters C]
 *       writes the dataset, the queries and the exact top-10 of each query (computed
 *       with qr_flat_search) to DATA, which bench/search/peers.cpp reads too:
 *       "QRBENCH1", u32 n, u32 nq, u32 dims, u32 k, float base[n][dims],
 *       float queries[nq][dims], i32 gt[nq][k]
 *   build/bench/bench_search run  DATA [--m M] [--efc E] [--threads "1 2"] [--efs LIST]
 *       builds the index with each thread count, sweeps ef, times exact search and
 *       measures single-thread read bandwidth. Output lines (parsed by run.sh):
 *       BUILD quire M=16 threads=1 secs=... ips=...
 *       RES quire M=16 ef=64 recall=0.97 qps=...
 *       EXACT quire qps=... gbs=...        MEMBW gbs=...
 *
 * Data: `clusters` centres uniform on the sphere; a point is its centre plus Gaussian
 * noise of the same expected norm, normalised (in-cluster cosine ~0.5, like sentence
 * embeddings); queries are drawn the same way from the same centres.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"
#include "store/hnsw.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define GT_K 10

static uint64_t rng_state = 0x5EED1234ull;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float randn(void)
{
    double u1 = ((rnd() >> 11) + 1) * 0x1.0p-53, u2 = (rnd() >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void normalise(float *v, int d)
{
    double s = 0;
    for (int i = 0; i < d; i++)
        s += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(s > 0 ? s : 1));
    for (int i = 0; i < d; i++)
        v[i] *= inv;
}

static void gen_points(float *out, size_t n, int d, const float *centres, int nc)
{
    float sd = 1.0f / sqrtf((float)d);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)(rnd() % (uint64_t)nc) * d;
        float *v = out + i * d;
        for (int j = 0; j < d; j++)
            v[j] = c[j] + sd * randn();
        normalise(v, d);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

typedef struct dataset {
    uint32_t n, nq, d, k;
    float *base, *queries;
    int32_t *gt;
} dataset;

static int cmd_gen(const char *path, int n, int nq, int d, int nc)
{
    dataset ds = {(uint32_t)n, (uint32_t)nq, (uint32_t)d, GT_K, NULL, NULL, NULL};
    float *centres = xmalloc((size_t)nc * d * sizeof(float));
    for (int i = 0; i < nc * d; i++)
        centres[i] = randn();
    for (int i = 0; i < nc; i++)
        normalise(centres + (size_t)i * d, d);
    ds.base = xmalloc((size_t)n * d * sizeof(float));
    ds.queries = xmalloc((size_t)nq * d * sizeof(float));
    ds.gt = xmalloc((size_t)nq * GT_K * sizeof(int32_t));
    gen_points(ds.base, (size_t)n, d, centres, nc);
    gen_points(ds.queries, (size_t)nq, d, centres, nc);
    int64_t lab[GT_K];
    float sc[GT_K];
    int got;
    for (int q = 0; q < nq; q++) {
        if (qr_flat_search(ds.base, (size_t)n, d, NULL, ds.queries + (size_t)q * d, GT_K, lab, sc,
                           &got, NULL) || got != GT_K)
            return 1;
        for (int j = 0; j < GT_K; j++)
            ds.gt[(size_t)q * GT_K + j] = (int32_t)lab[j];
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    uint32_t hd[4] = {ds.n, ds.nq, ds.d, ds.k};
    fwrite("QRBENCH1", 1, 8, f);
    fwrite(hd, 4, 4, f);
    fwrite(ds.base, sizeof(float), (size_t)n * d, f);
    fwrite(ds.queries, sizeof(float), (size_t)nq * d, f);
    fwrite(ds.gt, sizeof(int32_t), (size_t)nq * GT_K, f);
    fclose(f);
    fprintf(stderr, "gen: %d x %d base, %d queries, %d clusters -> %s\n", n, d, nq, nc, path);
    return 0;
}

static int load(const char *path, dataset *ds)
{
    FILE *f = fopen(path, "rb");
    char magic[8];
    uint32_t hd[4];
    if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "QRBENCH1", 8) ||
        fread(hd, 4, 4, f) != 4) {
        fprintf(stderr, "%s: not a bench dataset\n", path);
        return 1;
    }
    ds->n = hd[0], ds->nq = hd[1], ds->d = hd[2], ds->k = hd[3];
    size_t nb = (size_t)ds->n * ds->d, nqf = (size_t)ds->nq * ds->d, ng = (size_t)ds->nq * ds->k;
    ds->base = xmalloc(nb * 4);
    ds->queries = xmalloc(nqf * 4);
    ds->gt = xmalloc(ng * 4);
    int ok = fread(ds->base, 4, nb, f) == nb && fread(ds->queries, 4, nqf, f) == nqf &&
             fread(ds->gt, 4, ng, f) == ng;
    fclose(f);
    return ok ? 0 : 1;
}

/* ---- bandwidth ------------------------------------------------------------------------ */

/* Sum of n uint64 read as `streams` interleaved sequential streams (contiguous parts of
 * the buffer). One stream is the classic streaming sum; several streams keep more
 * hardware prefetchers busy, which is what a 4-rows-at-a-time scan does, so the bound
 * is the best of both. */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *p, size_t n, int streams,
                                                          size_t pf)
{
    size_t per = n / (size_t)streams / 16 * 16;
    __m256i acc[8];
    for (int s = 0; s < 8; s++)
        acc[s] = _mm256_setzero_si256();
    for (size_t i = 0; i < per; i += 16)
        for (int s = 0; s < streams; s++) {
            const __m256i *q = (const __m256i *)(p + (size_t)s * per + i);
            if (pf && i + pf < per) /* software prefetch, as the search kernels do */
                _mm_prefetch((const char *)(p + (size_t)s * per + i + pf), _MM_HINT_T0);
            acc[s] = _mm256_add_epi64(acc[s], _mm256_add_epi64(_mm256_load_si256(q),
                                                               _mm256_load_si256(q + 1)));
            acc[s] = _mm256_add_epi64(acc[s], _mm256_add_epi64(_mm256_load_si256(q + 2),
                                                               _mm256_load_si256(q + 3)));
        }
    uint64_t t[4], tot = 0;
    for (int s = 0; s < 8; s++) {
        _mm256_storeu_si256((__m256i *)t, acc[s]);
        tot += t[0] + t[1] + t[2] + t[3];
    }
    return tot;
}
#endif

static uint64_t sum_scalar(const uint64_t *p, size_t n, int streams)
{
    uint64_t a[8] = {0};
    (void)streams;
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            a[j] += p[i + j];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

/* Best of 5 streaming sums over 1 GiB with 1, 2, 4 and 8 streams, each without and with
 * software prefetch 1 and 4 KiB ahead, GB/s (1e9 bytes). */
static double mem_bandwidth(void)
{
    size_t bytes = (size_t)1 << 30, n = bytes / 8;
    uint64_t *p = qr_malloc_huge(bytes);
    if (!p)
        return 0;
    for (size_t i = 0; i < n; i++)
        p[i] = i;
    double best = 0;
    volatile uint64_t sink = 0;
    static const size_t pfs[] = {0, 128, 512}; /* uint64 elements: 0, 1 KiB, 4 KiB */
    for (int streams = 1; streams <= 8; streams *= 2)
        for (int rep = 0; rep < 15; rep++) {
            double t0 = qr_now();
#if defined(__x86_64__)
            sink += __builtin_cpu_supports("avx2") ? sum_avx2(p, n, streams, pfs[rep % 3])
                                                   : sum_scalar(p, n, streams);
#else
            sink += sum_scalar(p, n, streams);
#endif
            double dt = qr_now() - t0;
            best = fmax(best, (double)bytes / dt / 1e9);
        }
    (void)sink;
    qr_free_huge(p, bytes);
    return best;
}

/* ---- runs ---------------------------------------------------------------------------- */

static double recall_of(const dataset *ds, const int64_t *labels, const int *n_out)
{
    long hit = 0;
    for (uint32_t q = 0; q < ds->nq; q++)
        for (int i = 0; i < n_out[q] && i < (int)ds->k; i++)
            for (uint32_t j = 0; j < ds->k; j++)
                if (labels[(size_t)q * ds->k + i] == ds->gt[(size_t)q * ds->k + j]) {
                    hit++;
                    break;
                }
    return (double)hit / ((double)ds->nq * ds->k);
}

static int sweep(const dataset *ds, qr_hnsw *h, int m, const int *efs, int n_efs)
{
    qr_hnsw_scratch *s;
    if (qr_hnsw_scratch_new(h, &s, NULL))
        return 1;
    int64_t *labels = xmalloc((size_t)ds->nq * ds->k * sizeof(int64_t));
    float *scores = xmalloc((size_t)ds->nq * ds->k * sizeof(float));
    int *n_out = xmalloc(ds->nq * sizeof(int));
    for (int e = 0; e < n_efs; e++) {
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = qr_now();
            for (uint32_t q = 0; q < ds->nq; q++)
                qr_hnsw_search(h, s, ds->queries + (size_t)q * ds->d, (int)ds->k, efs[e], NULL,
                               NULL, labels + (size_t)q * ds->k, scores + (size_t)q * ds->k,
                               &n_out[q], NULL);
            best = fmin(best, qr_now() - t0);
        }
        printf("RES quire M=%d ef=%d recall=%.4f qps=%.0f\n", m, efs[e],
               recall_of(ds, labels, n_out), ds->nq / best);
        fflush(stdout);
    }
    free(labels);
    free(scores);
    free(n_out);
    qr_hnsw_scratch_free(s);
    return 0;
}

/* Exact search QPS: best of 5 rounds of 40 queries (a shared machine: the best round
 * is the least disturbed). */
static void exact(const dataset *ds)
{
    int64_t lab[GT_K];
    float sc[GT_K];
    int got, nq = ds->nq < 40 ? (int)ds->nq : 40;
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = qr_now();
        for (int q = 0; q < nq; q++)
            qr_flat_search(ds->base, ds->n, (int)ds->d, NULL, ds->queries + (size_t)q * ds->d,
                           GT_K, lab, sc, &got, NULL);
        best = fmin(best, qr_now() - t0);
    }
    double gbs = (double)ds->n * ds->d * 4 * nq / best / 1e9;
    printf("EXACT quire qps=%.1f gbs=%.2f\n", nq / best, gbs);
    fflush(stdout);
}

static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (int)v;
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    return n;
}

static int cmd_run(const char *path, int m, int efc, const char *threads, const char *ef_list,
                   int do_exact)
{
    dataset ds;
    if (load(path, &ds))
        return 1;
    int efs[32], ths[8];
    int n_efs = parse_list(ef_list, efs, 32), n_th = parse_list(threads, ths, 8);
    int64_t *labels = xmalloc(ds.n * sizeof(int64_t));
    for (uint32_t i = 0; i < ds.n; i++)
        labels[i] = i;
    for (int t = 0; t < n_th; t++) {
        qr_hnsw_params p = {m, efc, 0, 0};
        qr_hnsw *h;
        quire_error err = {0};
        if (qr_hnsw_new((int)ds.d, &p, &h, &err))
            return 1;
        double t0 = qr_now();
        if (qr_hnsw_add_batch(h, labels, ds.base, ds.n, ths[t], &err)) {
            fprintf(stderr, "build: %s\n", err.msg);
            return 1;
        }
        double dt = qr_now() - t0;
        printf("BUILD quire M=%d threads=%d secs=%.2f ips=%.0f\n", m, ths[t], dt, ds.n / dt);
        fflush(stdout);
        if (t == n_th - 1 || ths[t] == 1)
            sweep(&ds, h, m, efs, n_efs);
        qr_hnsw_free(h);
        if (ths[t] == 1)
            n_efs = 0; /* sweep only the single-thread build */
    }
    if (do_exact) {
        exact(&ds);
        printf("MEMBW gbs=%.2f\n", mem_bandwidth());
    }
    free(labels);
    return 0;
}

int main(int argc, char **argv)
{
    if (qr_lib_init(NULL))
        return 1;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_search gen|run DATA [options]\n");
        return 2;
    }
    int n = 100000, nq = 1000, d = 384, nc = 100, m = 16, efc = 200, do_exact = 1;
    const char *threads = "1 2", *efs = "16,24,32,48,64,96,128,192,256";
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--n"))
            n = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--nq"))
            nq = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--dims"))
            d = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--clusters"))
            nc = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--m"))
            m = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--efc"))
            efc = (int)strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--threads"))
            threads = v, i++;
        else if (!strcmp(a, "--efs"))
            efs = v, i++;
        else if (!strcmp(a, "--no-exact"))
            do_exact = 0;
    }
    if (!strcmp(argv[1], "gen"))
        return cmd_gen(argv[2], n, nq, d, nc);
    if (!strcmp(argv[1], "run"))
        return cmd_run(argv[2], m, efc, threads, efs, do_exact);
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
