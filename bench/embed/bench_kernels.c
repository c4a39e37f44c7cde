/*
 * bench_kernels.c — throughput of the nn kernel tables (a benchmark, not a test; nothing
 * is asserted). One thread. For every table this CPU runs (scalar, avx2, avx512):
 *   - gemm GFLOP/s for M in {1, 8, 32, 128, 512, 4096} at the encoder's two FFN shapes
 *     (K=384, N=1536 and K=1536, N=384), weights hot in cache (the same matrix each
 *     call), plus "M=32 cold": the same call cycling over 24 weight matrices (57 MB,
 *     more than the L3 holds), as a forward pass at 32 tokens sees them;
 *   - attention time for one head at t = 32, 128, 512 tokens, d = 64;
 * and the machine's measured fp32 FMA peak (a tight loop of independent FMAs) for
 * comparison. Each figure is the best of several runs (this is a shared VM: the best
 * run is the least disturbed one) with the median in parentheses.
 *
 *   build/bench/bench_kernels [--quick] [--table NAME]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define N_COLD 24

static const int bench_m[] = {1, 8, 32, 128, 512, 4096};
#define N_M (int)(sizeof(bench_m) / sizeof(bench_m[0]))
static const int shapes[2][2] = {{384, 1536}, {1536, 384}}; /* K, N */

static int quick;

static float *alloc_floats(size_t n)
{
    float *p = qr_malloc_aligned(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void fill(float *x, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int)(*s >> 41) - (1 << 22)) / (float)(1 << 22);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Times of `reps` runs (each of `inner` calls) until ~budget seconds; best and median. */
typedef struct timing {
    double best, median; /* seconds per call */
} timing;

typedef void (*bench_fn)(void *ctx, int iter);

static timing run_timed(bench_fn fn, void *ctx, double budget)
{
    double t[64];
    int reps = 0, inner = 1;
    double t0 = qr_now();
    fn(ctx, 0); /* warm up, and size the inner loop to ~5 ms */
    double one = qr_now() - t0;
    if (one < 0.005)
        inner = (int)(0.005 / (one > 1e-7 ? one : 1e-7)) + 1;
    double start = qr_now();
    int iter = 1;
    while (reps < 64 && (reps < 3 || qr_now() - start < budget)) {
        double s = qr_now();
        for (int i = 0; i < inner; i++)
            fn(ctx, iter++);
        t[reps++] = (qr_now() - s) / inner;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    return (timing){t[0], t[reps / 2]};
}

/* ---- gemm ---------------------------------------------------------------------------- */

typedef struct gemm_ctx {
    const qr_kernels *kt;
    qr_gemm_args g;
    qr_packed w[N_COLD];
    int n_w; /* weights cycled over */
} gemm_ctx;

static void gemm_call(void *ctx, int iter)
{
    gemm_ctx *c = ctx;
    c->g.w = &c->w[iter % c->n_w];
    c->kt->gemm(&c->g);
}

static void bench_gemm(const qr_kernels *kt, int kn, int n, qr_packed *w, float *a, float *c,
                       int n_w)
{
    printf("%-7s K=%-4d N=%-4d", kt->name, kn, n);
    for (int mi = 0; mi <= N_M; mi++) {
        int m = mi < N_M ? bench_m[mi] : 32;
        int cold = mi == N_M;
        if (quick && m > 512) {
            printf(" %13s", "-");
            continue;
        }
        gemm_ctx ctx = {.kt = kt, .n_w = cold ? n_w : 1};
        memcpy(ctx.w, w, sizeof(ctx.w));
        ctx.g = (qr_gemm_args){.a = a, .lda = kn, .w = &w[0], .bias = a, .res = NULL,
                               .c = c, .ldc = n, .m = m, .p0 = 0, .p1 = w[0].n_panels,
                               .act = QR_ACT_NONE};
        double budget = strcmp(kt->name, "scalar") == 0 ? 0.3 : quick ? 0.1 : 0.4;
        timing tm = run_timed(gemm_call, &ctx, budget);
        double flop = 2.0 * m * kn * n;
        printf(" %6.1f (%5.1f)", flop / tm.best * 1e-9, flop / tm.median * 1e-9);
        fflush(stdout);
    }
    printf("\n");
}

/* The four GEMMs of one encoder layer with their epilogues, as the forward pass calls
 * them: QKV (+bias), attention output (+bias +residual into C), FFN up (+bias, GELU),
 * FFN down (+bias +residual into C). */
static void bench_layer(const qr_kernels *kt, float *a, float *c, uint64_t *seed)
{
    static const struct {
        const char *name;
        int k, n, act, res;
    } g[] = {{"qkv", 384, 1152, QR_ACT_NONE, 0},
             {"attn-out", 384, 384, QR_ACT_NONE, 1},
             {"ffn-up", 384, 1536, QR_ACT_GELU, 0},
             {"ffn-down", 1536, 384, QR_ACT_NONE, 1}};
    static const int ms[] = {32, 128};
    for (int mi = 0; mi < 2; mi++) {
        printf("%-7s layer M=%-4d", kt->name, ms[mi]);
        double total_flop = 0, total_t = 0;
        for (int gi = 0; gi < 4; gi++) {
            size_t len = qr_packed_size(g[gi].n, g[gi].k);
            float *w = alloc_floats(len);
            fill(w, len, seed);
            gemm_ctx ctx = {.kt = kt, .n_w = 1};
            ctx.w[0] = (qr_packed){.n = g[gi].n, .k = g[gi].k, .n_panels = (g[gi].n + 15) / 16,
                                   .data = w};
            ctx.g = (qr_gemm_args){.a = a, .lda = g[gi].k, .bias = a, .res = g[gi].res ? c : NULL,
                                   .ldr = g[gi].n, .c = c, .ldc = g[gi].n, .m = ms[mi], .p0 = 0,
                                   .p1 = ctx.w[0].n_panels, .act = g[gi].act};
            timing tm = run_timed(gemm_call, &ctx, quick ? 0.1 : 0.3);
            double flop = 2.0 * ms[mi] * g[gi].k * g[gi].n;
            total_flop += flop;
            total_t += tm.best;
            printf("  %s %6.1f", g[gi].name, flop / tm.best * 1e-9);
            qr_free_aligned(w);
        }
        printf("  | all %6.1f GFLOP/s, %7.1f us\n", total_flop / total_t * 1e-9, total_t * 1e6);
    }
}

/* ---- attention ------------------------------------------------------------------------- */

typedef struct attn_ctx {
    const qr_kernels *kt;
    qr_attn_args a;
} attn_ctx;

static void attn_call(void *ctx, int iter)
{
    attn_ctx *c = ctx;
    (void)iter;
    c->kt->attention(&c->a);
}

static void bench_attention(const qr_kernels *kt, float *qkv, float *out, float *scratch)
{
    static const int ts[] = {32, 128, 512};
    const int d = 64, ld = 3 * 384; /* one head inside a fused QKV buffer */
    printf("%-7s attention d=64 ", kt->name);
    for (int i = 0; i < 3; i++) {
        int t = ts[i];
        attn_ctx ctx = {kt,
                        {.q = qkv, .k = qkv + 384, .v = qkv + 768, .ldq = ld, .ldk = ld,
                         .ldv = ld, .out = out, .ldo = 384, .t = t, .d = d, .scale = 0.125f,
                         .scratch = scratch}};
        timing tm = run_timed(attn_call, &ctx, quick ? 0.1 : 0.3);
        double flop = 4.0 * t * t * d;
        printf("  t=%-3d %8.1f us (%7.1f) %5.1f GFLOP/s", t, tm.best * 1e6, tm.median * 1e6,
               flop / tm.best * 1e-9);
    }
    printf("\n");
}

/* ---- peak -------------------------------------------------------------------------------- */

#if defined(__x86_64__)
#define FMA12(T, F)                                                                         \
    c0 = F(c0, x, y); c1 = F(c1, x, y); c2 = F(c2, x, y); c3 = F(c3, x, y);                 \
    c4 = F(c4, x, y); c5 = F(c5, x, y); c6 = F(c6, x, y); c7 = F(c7, x, y);                 \
    c8 = F(c8, x, y); c9 = F(c9, x, y); c10 = F(c10, x, y); c11 = F(c11, x, y)

__attribute__((target("avx512f,fma"))) static float peak_avx512(long iters)
{
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-6f);
    __m512 c0 = _mm512_set1_ps(0.f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (long i = 0; i < iters; i++) {
        FMA12(__m512, _mm512_fmadd_ps);
        /* opaque to the compiler, so the 12 identical chains stay 12 */
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));
        __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float peak_avx2(long iters)
{
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-6f);
    __m256 c0 = _mm256_set1_ps(0.f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (long i = 0; i < iters; i++) {
        FMA12(__m256, _mm256_fmadd_ps);
        __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5));
        __asm__ volatile("" : "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float f[8];
    _mm256_storeu_ps(f, s);
    return f[0];
}

typedef struct peak_ctx {
    int wide; /* 512 or 256 */
    float sink;
} peak_ctx;

enum { PEAK_ITERS = 2000000 };

static void peak_call(void *ctx, int iter)
{
    peak_ctx *p = ctx;
    (void)iter;
    p->sink += p->wide == 512 ? peak_avx512(PEAK_ITERS) : peak_avx2(PEAK_ITERS);
}

static void bench_peak(void)
{
    unsigned f = qr_cpu_features();
    if ((f & QR_CPU_AVX512F) && (f & QR_CPU_FMA)) {
        peak_ctx p = {512, 0};
        timing tm = run_timed(peak_call, &p, quick ? 0.2 : 0.6);
        double flop = 2.0 * 16 * 12 * PEAK_ITERS;
        printf("peak    avx512 FMA loop: %6.1f GFLOP/s best (%.1f median)\n",
               flop / tm.best * 1e-9, flop / tm.median * 1e-9);
    }
    if ((f & QR_CPU_AVX2) && (f & QR_CPU_FMA)) {
        peak_ctx p = {256, 0};
        timing tm = run_timed(peak_call, &p, quick ? 0.2 : 0.6);
        double flop = 2.0 * 8 * 12 * PEAK_ITERS;
        printf("peak    avx2   FMA loop: %6.1f GFLOP/s best (%.1f median)\n",
               flop / tm.best * 1e-9, flop / tm.median * 1e-9);
    }
}
#else
static void bench_peak(void) { printf("peak    (FMA loop only on x86-64)\n"); }
#endif

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--table scalar|avx2|avx512]\n", argv[0]);
            return 2;
        }
    }
    uint64_t seed = 1;
    const int max_m = 4096, max_k = 1536;
    float *a = alloc_floats((size_t)max_m * max_k);
    float *c = alloc_floats((size_t)max_m * max_k);
    fill(a, (size_t)max_m * max_k, &seed);
    float *scratch = alloc_floats(QR_ATTN_SCRATCH(512, 64));

    printf("gemm GFLOP/s, best (median) of runs; one thread; M =");
    for (int mi = 0; mi < N_M; mi++)
        printf(" %13d", bench_m[mi]);
    printf(" %13s\n", "32 cold");
    bench_peak();
    for (int s = 0; s < 2; s++) {
        const int kn = shapes[s][0], n = shapes[s][1];
        size_t len = qr_packed_size(n, kn);
        float *w = alloc_floats(len);
        fill(w, len, &seed);
        qr_packed pw[N_COLD];
        float *cold = alloc_floats(len * N_COLD);
        for (int i = 0; i < N_COLD; i++) {
            memcpy(cold + i * len, w, len * sizeof(float));
            pw[i] = (qr_packed){.n = n, .k = kn, .n_panels = (n + 15) / 16,
                                .data = cold + i * len};
        }
        for (int ti = 0; qr_nn_names[ti]; ti++) {
            const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
            if (!kt || !kt->gemm || (only && strcmp(only, kt->name) != 0))
                continue;
            bench_gemm(kt, kn, n, pw, a, c, N_COLD);
        }
        qr_free_aligned(cold);
        qr_free_aligned(w);
    }
    printf("encoder layer GEMMs with epilogues (GFLOP/s, hot weights):\n");
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
        if (!kt || !kt->gemm || (only && strcmp(only, kt->name) != 0))
            continue;
        bench_layer(kt, a, c, &seed);
    }
    printf("attention, one head (time per call, best (median)):\n");
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
        if (!kt || !kt->attention || (only && strcmp(only, kt->name) != 0))
            continue;
        bench_attention(kt, a, c, scratch);
    }
    qr_free_aligned(scratch);
    qr_free_aligned(c);
    qr_free_aligned(a);
    return 0;
}
