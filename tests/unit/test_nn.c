/*
 * test_nn.c — differential tests of the kernel tables in src/nn: every table this CPU
 * can run (scalar always; avx2, avx512 on x86) against the scalar reference on random
 * data, at edge lengths (0, 1, 15, 16, 17, 383, 384, 385, 1536, 4097), with every
 * buffer placed twice: one float off 64-byte alignment at the end of a malloc block (for
 * ASan), and flush against a PROT_NONE page (catches over-reads of masked SIMD loads,
 * which ASan does not see). GEMM also runs with canaries around C and in its row gaps.
 * Tolerances are named below and are ~10x the errors seen; each test prints the largest
 * error it saw per table.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nn/nn.h"
#include "testlib.h"

/* Named tolerances: relative to the magnitude of the terms involved. */
#define TOL_DOT 1e-6       /* |got - ref| / sum |a_i b_i| */
#define TOL_AXPY 1e-6      /* |got - ref| / (|y| + |alpha x|) */
#define TOL_GELU 5e-7      /* |got - ref| / max(1, |x|) */
#define TOL_SOFTMAX 2e-6   /* |got - ref| / ref for ref > 1e-30, else absolute */
#define TOL_LAYERNORM 2e-6 /* |got - ref| / (1 + |ref|) */
#define TOL_GEMM 1e-5      /* |got - ref| / (|A row|_2 |W row|_2 + |bias| + |res|) */
#define TOL_ATTN 5e-6      /* |got - ref| / max |v| */

static const long edge_lens[] = {0, 1, 15, 16, 17, 383, 384, 385, 1536, 4097};
#define N_EDGE (sizeof(edge_lens) / sizeof(edge_lens[0]))

static uint64_t rng = 0x5eed;

static int complete(const qr_kernels *kt)
{
    return kt && kt->gemm && kt->layernorm && kt->attention && kt->gelu && kt->softmax &&
           kt->dot && kt->axpy && kt->exp_sum;
}

/* The ti-th table of this build (qr_nn_names) if this CPU runs it, it is complete
 * (test_tables reports incomplete ones) and it is not the scalar oracle itself. */
static const qr_kernels *get_table(int ti)
{
    const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
    return complete(kt) && kt != &qr_kernels_scalar ? kt : NULL;
}

/* ---- buffers ---------------------------------------------------------------------
 * Two placements, switched by tb_guard:
 *  0: one float past a 64-byte boundary (unaligned), ending at the end of a malloc'd
 *     block, so ASan reports any access past either end;
 *  1: ending flush against a PROT_NONE page, so any access past the end faults, even
 *     from SIMD masked loads and stores, which ASan does not instrument (a wrong mask
 *     that touches lanes past the end crosses into the guard page). */
static int tb_guard;

typedef struct tbuf {
    void *base;
    size_t map_len; /* mmap'd bytes (tb_guard), else 0 */
    float *p;       /* n floats */
} tbuf;

static float *tb_new(tbuf *b, size_t n)
{
    const size_t bytes = n * sizeof(float);
    if (tb_guard) {
        const size_t page = (size_t)sysconf(_SC_PAGESIZE);
        const size_t data_pages = (bytes + page - 1) / page;
        const size_t len = (data_pages + 1) * page;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect((char *)m + data_pages * page, page, PROT_NONE) != 0)
            abort();
        b->base = m;
        b->map_len = len;
        b->p = (float *)((char *)m + data_pages * page - bytes);
        return b->p;
    }
    void *base = NULL;
    if (posix_memalign(&base, 64, bytes + sizeof(float)) != 0)
        abort();
    b->base = base;
    b->map_len = 0;
    b->p = (float *)base + 1;
    return b->p;
}

/* 64-byte aligned floats (the packed-weights and scratch contracts), exact size; flush
 * against a guard page when tb_guard is set and the size keeps the alignment. */
static float *tb_new_aligned(tbuf *b, size_t n)
{
    if (tb_guard && n % 16 == 0)
        return tb_new(b, n);
    void *base = NULL;
    if (posix_memalign(&base, 64, n ? n * sizeof(float) : 64) != 0)
        abort();
    b->base = base;
    b->map_len = 0;
    b->p = base;
    return b->p;
}

static void tb_free(tbuf *b)
{
    if (b->map_len)
        munmap(b->base, b->map_len);
    else
        free(b->base);
    b->base = NULL;
    b->p = NULL;
}

static void fill_randn(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * t_randn(&rng);
}

static float *dup_floats(tbuf *b, const float *src, size_t n)
{
    float *p = tb_new(b, n);
    if (n)
        memcpy(p, src, n * sizeof(float));
    return p;
}

static void report(const char *table, const char *kernel, double err, double tol)
{
    printf("  %-7s %-10s max err %.3g (tol %.0e)\n", table, kernel, err, tol);
}

/* ---- dot / axpy ------------------------------------------------------------------ */

static void test_dot(void)
{
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0;
        for (size_t e = 0; e < 2 * N_EDGE; e++) {
            tb_guard = e >= N_EDGE; /* every length in both placements */
            long n = edge_lens[e % N_EDGE];
            tbuf ba, bb;
            float *a = tb_new(&ba, (size_t)n), *b = tb_new(&bb, (size_t)n);
            fill_randn(a, (size_t)n, 1.0f);
            fill_randn(b, (size_t)n, 1.0f);
            double mag = 1e-30;
            for (long i = 0; i < n; i++)
                mag += fabs((double)a[i] * b[i]);
            float ref = qr_kernels_scalar.dot(a, b, n);
            float got = kt->dot(a, b, n);
            double err = fabs((double)got - ref) / mag;
            worst = fmax(worst, err);
            T_CHECKF(err <= TOL_DOT, "%s dot n=%ld: %g vs %g", kt->name, n, got, ref);
            tb_free(&ba);
            tb_free(&bb);
        }
        report(kt->name, "dot", worst, TOL_DOT);
    }
}

static void test_axpy(void)
{
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0;
        for (size_t e = 0; e < 2 * N_EDGE; e++) {
            tb_guard = e >= N_EDGE; /* every length in both placements */
            long n = edge_lens[e % N_EDGE];
            tbuf bx, by, br;
            float *x = tb_new(&bx, (size_t)n), *y = tb_new(&by, (size_t)n);
            fill_randn(x, (size_t)n, 1.0f);
            fill_randn(y, (size_t)n, 1.0f);
            float *ref = dup_floats(&br, y, (size_t)n);
            const float alpha = -0.7f;
            qr_kernels_scalar.axpy(ref, x, alpha, n);
            float *y0 = malloc((size_t)n * sizeof(float) + 1);
            if (n)
                memcpy(y0, y, (size_t)n * sizeof(float));
            kt->axpy(y, x, alpha, n);
            for (long i = 0; i < n; i++) {
                double err = fabs((double)y[i] - ref[i]) / (fabs(y0[i]) + fabs(alpha * x[i]) + 1e-30);
                worst = fmax(worst, err);
                T_CHECKF(err <= TOL_AXPY, "%s axpy n=%ld i=%ld: %g vs %g", kt->name, n, i, y[i],
                         ref[i]);
            }
            free(y0);
            tb_free(&bx);
            tb_free(&by);
            tb_free(&br);
        }
        report(kt->name, "axpy", worst, TOL_AXPY);
    }
}

/* ---- gelu ------------------------------------------------------------------------ */

static double check_gelu(const qr_kernels *kt, const float *x, long n)
{
    tbuf bg, br;
    float *got = dup_floats(&bg, x, (size_t)n);
    float *ref = dup_floats(&br, x, (size_t)n);
    kt->gelu(got, n);
    qr_kernels_scalar.gelu(ref, n);
    double worst = 0;
    for (long i = 0; i < n; i++) {
        int same_nan = isnan(got[i]) && isnan(ref[i]);
        int same_inf = isinf(got[i]) && got[i] == ref[i];
        double err = same_nan || same_inf ? 0 : fabs((double)got[i] - ref[i]) / fmax(1.0, fabs(x[i]));
        if (isnan(err))
            err = INFINITY;
        worst = fmax(worst, err);
        T_CHECKF(err <= TOL_GELU, "%s gelu(%g) = %g, ref %g", kt->name, x[i], got[i], ref[i]);
    }
    tb_free(&bg);
    tb_free(&br);
    return worst;
}

static void test_gelu(void)
{
    static const float special[] = {0.0f,   -0.0f,  1e-30f, -1e-30f, 0.5f,   -0.5f,  1.3119f,
                                    -1.3119f, 3.0f, -3.0f,  5.5f,    -5.5f,  10.0f,  -10.0f,
                                    40.0f,  -40.0f, 1e30f,  -1e30f,  3e38f,  INFINITY, -INFINITY,
                                    NAN};
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = check_gelu(kt, special, (long)(sizeof(special) / sizeof(special[0])));
        for (size_t e = 0; e < 2 * N_EDGE; e++) {
            tb_guard = e >= N_EDGE; /* every length in both placements */
            long n = edge_lens[e % N_EDGE];
            tbuf bx;
            float *x = tb_new(&bx, (size_t)n);
            fill_randn(x, (size_t)n, 3.0f);
            worst = fmax(worst, check_gelu(kt, x, n));
            tb_free(&bx);
        }
        /* a dense sweep over the range where erf is not saturated */
        enum { SWEEP = 40001 };
        tbuf bs;
        float *sw = tb_new(&bs, SWEEP);
        for (int i = 0; i < SWEEP; i++)
            sw[i] = -10.0f + 20.0f * (float)i / (SWEEP - 1);
        worst = fmax(worst, check_gelu(kt, sw, SWEEP));
        tb_free(&bs);
        report(kt->name, "gelu", worst, TOL_GELU);
    }
}

/* ---- softmax --------------------------------------------------------------------- */

static double check_softmax(const qr_kernels *kt, const float *x, long n)
{
    tbuf bg, br;
    float *got = dup_floats(&bg, x, (size_t)n);
    float *ref = dup_floats(&br, x, (size_t)n);
    kt->softmax(got, n);
    qr_kernels_scalar.softmax(ref, n);
    double worst = 0, sum = 0;
    for (long i = 0; i < n; i++) {
        double err = ref[i] > 1e-30 ? fabs((double)got[i] - ref[i]) / ref[i]
                                    : fabs((double)got[i] - ref[i]);
        if (isnan(got[i]))
            err = INFINITY;
        sum += got[i];
        if (x[i] < -1e20f)
            T_CHECKF(got[i] == 0.0f, "%s softmax: x=%g gives %g, want 0", kt->name, x[i], got[i]);
        worst = fmax(worst, err);
        T_CHECKF(err <= TOL_SOFTMAX, "%s softmax n=%ld i=%ld (x=%g): %g vs %g", kt->name, n, i,
                 x[i], got[i], ref[i]);
    }
    if (n > 0)
        T_CHECKF(fabs(sum - 1.0) < 1e-5, "%s softmax n=%ld sums to %.9g", kt->name, n, sum);
    tb_free(&bg);
    tb_free(&br);
    return worst;
}

static void test_softmax(void)
{
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0;
        for (size_t e = 0; e < 2 * N_EDGE; e++) {
            tb_guard = e >= N_EDGE; /* every length in both placements */
            long n = edge_lens[e % N_EDGE];
            tbuf bx;
            float *x = tb_new(&bx, (size_t)n);
            fill_randn(x, (size_t)n, 4.0f);
            worst = fmax(worst, check_softmax(kt, x, n));
            /* -inf and hugely negative entries must give exact zeros, never NaN */
            for (long i = 0; i < n; i += 3)
                x[i] = (i % 2) ? -INFINITY : -1e30f;
            if (n > 0)
                x[n - 1] = 2.0f;
            worst = fmax(worst, check_softmax(kt, x, n));
            tb_free(&bx);
        }
        /* large positive inputs: only differences matter */
        float big[37];
        for (int i = 0; i < 37; i++)
            big[i] = 80.0f + (float)i * 0.5f;
        worst = fmax(worst, check_softmax(kt, big, 37));
        report(kt->name, "softmax", worst, TOL_SOFTMAX);
    }
}

/* ---- layernorm ------------------------------------------------------------------- */

static void test_layernorm(void)
{
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0;
        for (size_t e = 0; e < 2 * N_EDGE; e++) {
            tb_guard = e >= N_EDGE;
            const int n = (int)edge_lens[e % N_EDGE], m = 3;
            const long ldx = n + 5;
            const size_t total = (size_t)(m - 1) * ldx + n;
            tbuf bx, bg, bb, br;
            float *x = tb_new(&bx, total);
            float *gamma = tb_new(&bg, (size_t)n), *beta = tb_new(&bb, (size_t)n);
            fill_randn(x, total, 2.0f);
            for (size_t i = 0; i < total; i++)
                x[i] += 3.0f; /* a large mean, as after residual adds */
            fill_randn(gamma, (size_t)n, 1.0f);
            fill_randn(beta, (size_t)n, 1.0f);
            float *ref = dup_floats(&br, x, total);
            float *orig = malloc(total * sizeof(float) + 1);
            if (total)
                memcpy(orig, x, total * sizeof(float));
            qr_kernels_scalar.layernorm(ref, ldx, m, n, gamma, beta, 1e-12f);
            kt->layernorm(x, ldx, m, n, gamma, beta, 1e-12f);
            for (size_t i = 0; i < total; i++) {
                int in_row = (long)(i % (size_t)ldx) < n;
                if (!in_row) {
                    T_CHECKF(x[i] == orig[i], "%s layernorm n=%d wrote the row gap", kt->name, n);
                    continue;
                }
                double err = fabs((double)x[i] - ref[i]) / (1.0 + fabs(ref[i]));
                worst = fmax(worst, err);
                T_CHECKF(err <= TOL_LAYERNORM, "%s layernorm n=%d i=%zu: %g vs %g", kt->name, n,
                         i, x[i], ref[i]);
            }
            free(orig);
            tb_free(&bx);
            tb_free(&bg);
            tb_free(&bb);
            tb_free(&br);
        }
        report(kt->name, "layernorm", worst, TOL_LAYERNORM);
    }
}

/* ---- qr_pack ---------------------------------------------------------------------- */

static void test_pack(void)
{
    static const int ns[] = {1, 15, 16, 17, 33, 385};
    static const int ks[] = {1, 7, 64};
    for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
        for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++) {
            int n = ns[a], k = ks[b];
            int panels = (n + QR_PANEL - 1) / QR_PANEL;
            T_EQ_INT(qr_packed_size(n, k), (size_t)panels * QR_PANEL * k);
            tbuf bw, bp;
            float *w = tb_new(&bw, (size_t)n * k);
            fill_randn(w, (size_t)n * k, 1.0f);
            float *p = tb_new(&bp, qr_packed_size(n, k));
            qr_pack(w, n, k, p);
            int bad = 0;
            for (int pp = 0; pp < panels; pp++)
                for (int kk = 0; kk < k; kk++)
                    for (int j = 0; j < QR_PANEL; j++) {
                        int row = pp * QR_PANEL + j;
                        float want = row < n ? w[(size_t)row * k + kk] : 0.0f;
                        bad += p[((size_t)pp * k + kk) * QR_PANEL + j] != want;
                    }
            T_CHECKF(bad == 0, "qr_pack n=%d k=%d: %d wrong values", n, k, bad);
            tb_free(&bw);
            tb_free(&bp);
        }
    }
}

/* ---- gemm -------------------------------------------------------------------------- */

enum { EPI_PLAIN, EPI_BIAS, EPI_BIAS_GELU, EPI_BIAS_RES, EPI_GELU_RES_ALIAS, EPI_RES, N_EPI };
static const char *const epi_names[N_EPI] = {"plain",    "bias",           "bias+gelu",
                                             "bias+res", "bias+gelu+res=c", "res"};

typedef struct gemm_case {
    int m, k, n;
    int epi;    /* EPI_* */
    int p0, p1; /* panel range */
} gemm_case;

/* Runs one case on kt and on the scalar reference; checks written cells against the
 * reference and every other cell of C (stride gaps, columns outside [p0, p1)) for being
 * untouched. Returns the largest relative error. */
static double run_gemm_case(const qr_kernels *kt, const gemm_case *gc)
{
    const int m = gc->m, k = gc->k, n = gc->n;
    const long lda = k + 3, ldc = n + 5;
    const int alias = gc->epi == EPI_GELU_RES_ALIAS;
    const int has_res = gc->epi >= EPI_BIAS_RES;
    const int has_bias = gc->epi >= EPI_BIAS && gc->epi != EPI_RES;
    const long ldr = alias ? ldc : n + 2;
    const size_t a_len = m ? (size_t)(m - 1) * lda + k : 0;
    const size_t c_len = m ? (size_t)(m - 1) * ldc + n : 0;
    const size_t r_len = m ? (size_t)(m - 1) * ldr + n : 0;
    tbuf ba, bw, bb, br, bc, bref;
    float *a = tb_new(&ba, a_len);
    float *w = tb_new(&bw, (size_t)n * k);
    float *bias = tb_new(&bb, (size_t)n);
    float *res = tb_new(&br, r_len);
    float *c = tb_new(&bc, c_len);
    fill_randn(a, a_len, 1.0f);
    fill_randn(w, (size_t)n * k, 1.0f / sqrtf((float)k));
    fill_randn(bias, (size_t)n, 0.5f);
    fill_randn(res, r_len, 1.0f);
    fill_randn(c, c_len, 100.0f); /* garbage that must survive outside the written cells */
    if (alias)
        memcpy(c, res, c_len * sizeof(float)); /* ldr == ldc */
    tbuf bpk;
    float *packed = tb_new_aligned(&bpk, qr_packed_size(n, k));
    qr_pack(w, n, k, packed);
    qr_packed pw = {.n = n, .k = k, .n_panels = (n + QR_PANEL - 1) / QR_PANEL, .data = packed};
    float *cref = dup_floats(&bref, c, c_len);
    qr_gemm_args g = {.a = a, .lda = lda, .w = &pw, .bias = has_bias ? bias : NULL,
                      .res = has_res ? (alias ? cref : res) : NULL, .ldr = ldr, .c = cref,
                      .ldc = ldc, .m = m, .p0 = gc->p0, .p1 = gc->p1,
                      .act = (gc->epi == EPI_BIAS_GELU || alias) ? QR_ACT_GELU : QR_ACT_NONE};
    qr_kernels_scalar.gemm(&g);
    g.c = c;
    if (alias)
        g.res = c;
    float *c0 = malloc(c_len * sizeof(float) + 1);
    if (c_len)
        memcpy(c0, c, c_len * sizeof(float)); /* what C held before */
    kt->gemm(&g);

    const int j_lo = gc->p0 * QR_PANEL, j_hi = QR_MIN_INT(gc->p1 * QR_PANEL, n);
    double *wn = malloc((size_t)n * sizeof(double) + 1); /* |W row j|^2 */
    for (int j = 0; j < n; j++) {
        wn[j] = 0;
        for (int kk = 0; kk < k; kk++)
            wn[j] += (double)w[(size_t)j * k + kk] * w[(size_t)j * k + kk];
    }
    double worst = 0;
    int bad = 0;
    for (int i = 0; i < m; i++) {
        double an = 0;
        for (int kk = 0; kk < k; kk++)
            an += (double)a[(size_t)i * lda + kk] * a[(size_t)i * lda + kk];
        for (long j = 0; j < (i == m - 1 ? n : ldc); j++) {
            size_t at = (size_t)i * ldc + (size_t)j;
            if (j < j_lo || j >= j_hi) {
                bad += c[at] != c0[at] || cref[at] != c0[at];
                continue;
            }
            double mag = sqrt(an * wn[j]) + (has_bias ? fabs(bias[j]) : 0) +
                         (has_res ? fabs(alias ? c0[at] : res[(size_t)i * ldr + j]) : 0) + 1e-30;
            double err = fabs((double)c[at] - cref[at]) / mag;
            if (!(err <= TOL_GEMM))
                err = INFINITY;
            worst = fmax(worst, err);
            T_CHECKF(err <= TOL_GEMM, "%s gemm m=%d k=%d n=%d %s p=[%d,%d) C[%d][%ld]: %g vs %g",
                     kt->name, m, k, n, epi_names[gc->epi], gc->p0, gc->p1, i, j, c[at], cref[at]);
        }
    }
    T_CHECKF(bad == 0, "%s gemm m=%d k=%d n=%d %s p=[%d,%d): %d cells outside the output changed",
             kt->name, m, k, n, epi_names[gc->epi], gc->p0, gc->p1, bad);
    free(c0);
    free(wn);
    tb_free(&bpk);
    tb_free(&ba);
    tb_free(&bw);
    tb_free(&bb);
    tb_free(&br);
    tb_free(&bc);
    tb_free(&bref);
    return worst;
}

static void test_gemm(void)
{
    static const int ms[] = {0, 1, 2, 7, 13, 14, 15, 31, 32, 33, 128};
    static const int ks[] = {1, 15, 16, 17, 64, 384, 385, 1536};
    static const int ns[] = {1, 15, 16, 17, 33, 384, 385};
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0, worst_epi[N_EPI] = {0};
        int idx = 0;
        for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++)
            for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++)
                for (size_t c = 0; c < sizeof(ns) / sizeof(ns[0]); c++, idx++) {
                    int panels = (ns[c] + QR_PANEL - 1) / QR_PANEL;
                    gemm_case gc = {ms[a], ks[b], ns[c], idx % N_EPI, 0, panels};
                    /* every few cases, a panel sub-range as a thread would get */
                    if (idx % 5 == 2 && panels >= 2) {
                        gc.p0 = panels / 3;
                        gc.p1 = panels - (panels > 2);
                    }
                    tb_guard = (idx / N_EPI) & 1;
                    double e = run_gemm_case(kt, &gc);
                    worst = fmax(worst, e);
                    worst_epi[gc.epi] = fmax(worst_epi[gc.epi], e);
                }
        /* every epilogue on the model's shapes */
        static const int shapes[][3] = {{32, 384, 1152}, {33, 1536, 384}, {7, 384, 1536}};
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
            for (int epi = 0; epi < N_EPI; epi++) {
                int panels = (shapes[s][2] + QR_PANEL - 1) / QR_PANEL;
                gemm_case gc = {shapes[s][0], shapes[s][1], shapes[s][2], epi, 0, panels};
                tb_guard = epi & 1;
                double e = run_gemm_case(kt, &gc);
                worst = fmax(worst, e);
                worst_epi[epi] = fmax(worst_epi[epi], e);
            }
        report(kt->name, "gemm", worst, TOL_GEMM);
        for (int epi = 0; epi < N_EPI; epi++)
            printf("  %-7s   %-16s %.3g\n", kt->name, epi_names[epi], worst_epi[epi]);
    }
}

/* C inside a larger block of canaries: nothing outside rows [0, m) x the columns of
 * panels [p0, p1) (clipped to n) may change, including the ldc gap. */
static void test_gemm_guard(void)
{
    static const int cases[][5] = {
        /* m, k, n, p0, p1 */
        {13, 17, 33, 0, 3}, {13, 17, 33, 2, 3}, {1, 64, 385, 5, 25}, {29, 384, 385, 23, 25},
        {128, 385, 47, 1, 3}, {3, 15, 17, 0, 2}, {40, 16, 200, 3, 12},
    };
    const float canary = -12345.5f;
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]); /* scalar too */
        if (!complete(kt))
            continue;
        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
            const int m = cases[ci][0], k = cases[ci][1], n = cases[ci][2];
            const int p0 = cases[ci][3], p1 = cases[ci][4];
            tb_guard = ci & 1;
            const long ldc = n + 9;
            const size_t guard = 64, c_len = (size_t)m * ldc;
            tbuf ba, bw, bc;
            float *a = tb_new(&ba, (size_t)m * k);
            float *w = tb_new(&bw, (size_t)n * k);
            fill_randn(a, (size_t)m * k, 1.0f);
            fill_randn(w, (size_t)n * k, 1.0f);
            float *block = tb_new(&bc, c_len + 2 * guard);
            for (size_t i = 0; i < c_len + 2 * guard; i++)
                block[i] = canary;
            tbuf bpk;
            float *packed = tb_new_aligned(&bpk, qr_packed_size(n, k));
            qr_pack(w, n, k, packed);
            qr_packed pw = {.n = n, .k = k, .n_panels = (n + 15) / 16, .data = packed};
            qr_gemm_args g = {.a = a, .lda = k, .w = &pw, .bias = NULL, .res = NULL, .ldr = 0,
                              .c = block + guard, .ldc = ldc, .m = m, .p0 = p0, .p1 = p1,
                              .act = QR_ACT_GELU};
            kt->gemm(&g);
            int outside = 0, inside = 0;
            for (size_t i = 0; i < c_len + 2 * guard; i++) {
                long rel = (long)i - (long)guard;
                long row = rel / ldc, col = rel % ldc;
                int in = rel >= 0 && row < m && col >= p0 * 16 && col < QR_MIN_INT(p1 * 16, n);
                if (in)
                    inside += block[i] == canary;
                else
                    outside += block[i] != canary;
            }
            T_CHECKF(outside == 0, "%s gemm guard m=%d k=%d n=%d p=[%d,%d): %d canaries changed",
                     kt->name, m, k, n, p0, p1, outside);
            T_CHECKF(inside == 0, "%s gemm guard m=%d k=%d n=%d p=[%d,%d): %d cells not written",
                     kt->name, m, k, n, p0, p1, inside);
            tb_free(&bpk);
            tb_free(&ba);
            tb_free(&bw);
            tb_free(&bc);
        }
    }
}

/* ---- attention ------------------------------------------------------------------------ */

/* q, k, v side by side in one [t][3d + 5] buffer as a fused QKV projection leaves them. */
static double run_attn_case(const qr_kernels *kt, int t, int d)
{
    const long ld = 3L * d + 5, ldo = d + 7;
    const size_t qkv_len = t ? (size_t)(t - 1) * ld + 3 * (size_t)d : 0;
    const size_t o_len = t ? (size_t)(t - 1) * ldo + d : 0;
    tbuf bq, bo, br;
    float *qkv = tb_new(&bq, qkv_len);
    fill_randn(qkv, qkv_len, 1.0f);
    float *out = tb_new(&bo, o_len);
    for (size_t i = 0; i < o_len; i++)
        out[i] = 777.0f;
    float *ref = dup_floats(&br, out, o_len);
    tbuf bs;
    float *scratch = tb_new_aligned(&bs, QR_ATTN_SCRATCH(t, d));
    qr_attn_args at = {.q = qkv, .k = qkv + d, .v = qkv + 2 * d, .ldq = ld, .ldk = ld,
                       .ldv = ld, .out = ref, .ldo = ldo, .t = t, .d = d,
                       .scale = 2.0f / sqrtf((float)d), /* peakier than 1/sqrt(d) */
                       .scratch = scratch};
    qr_kernels_scalar.attention(&at);
    at.out = out;
    kt->attention(&at);
    double vmax = 1e-30, worst = 0;
    for (int j = 0; j < t; j++)
        for (int c = 0; c < d; c++)
            vmax = fmax(vmax, fabs(qkv[(size_t)j * ld + 2 * d + c]));
    int gap = 0;
    for (size_t i = 0; i < o_len; i++) {
        if ((long)(i % (size_t)ldo) >= d) {
            gap += out[i] != 777.0f;
            continue;
        }
        double err = fabs((double)out[i] - ref[i]) / vmax;
        if (!(err <= TOL_ATTN))
            err = INFINITY;
        worst = fmax(worst, err);
        T_CHECKF(err <= TOL_ATTN, "%s attention t=%d d=%d out[%zu]: %g vs %g", kt->name, t, d, i,
                 out[i], ref[i]);
    }
    T_CHECKF(gap == 0, "%s attention t=%d d=%d wrote %d cells of the ldo gap", kt->name, t, d, gap);
    tb_free(&bs);
    tb_free(&bq);
    tb_free(&bo);
    tb_free(&br);
    return worst;
}

static void test_attention(void)
{
    static const int ts[] = {1, 2, 15, 16, 17, 64, 128, 383, 384, 385, 512};
    static const int ds[] = {32, 64};
    static const int odd[][2] = {{17, 8}, {65, 24}, {33, 80}, {70, 128}, {5, 1}};
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = get_table(ti);
        if (!kt)
            continue;
        double worst = 0;
        for (size_t a = 0; a < sizeof(ts) / sizeof(ts[0]); a++)
            for (size_t b = 0; b < sizeof(ds) / sizeof(ds[0]); b++) {
                tb_guard = (a + b) & 1;
                worst = fmax(worst, run_attn_case(kt, ts[a], ds[b]));
            }
        for (size_t a = 0; a < sizeof(odd) / sizeof(odd[0]); a++) {
            tb_guard = a & 1;
            worst = fmax(worst, run_attn_case(kt, odd[a][0], odd[a][1]));
        }
        run_attn_case(kt, 0, 64);
        report(kt->name, "attention", worst, TOL_ATTN);
    }
}

/* ---- blocked attention (online softmax) ------------------------------------------------ */

/* qr_attention_blocked on table kt against an oracle: the naive softmax(scale q k^T + bias) v
 * in double (oracle NULL), or kt's own attention kernel (the direct path; no bias). Every
 * table, the scalar one included (the blocked code runs on its gemm and exp_sum). */
static double run_blocked_case(const qr_kernels *kt, int t, int d, int with_bias, int vs_direct)
{
    const long ld = 3L * d + 3, ldo = d + 5;
    const size_t qkv_len = (size_t)(t - 1) * ld + 3 * (size_t)d;
    const size_t o_len = (size_t)(t - 1) * ldo + d;
    tbuf bq, bo, br, bs, bb;
    float *qkv = tb_new(&bq, qkv_len);
    fill_randn(qkv, qkv_len, 1.0f);
    float *out = tb_new(&bo, o_len);
    for (size_t i = 0; i < o_len; i++)
        out[i] = 777.0f;
    float *ref = dup_floats(&br, out, o_len);
    float *scratch = tb_new_aligned(&bs, QR_ATTN_SCRATCH(t, d));
    float *bias = NULL;
    if (with_bias) { /* a bias that grows with distance, so far keys matter less */
        bias = tb_new(&bb, 2 * (size_t)t - 1);
        for (int u = -(t - 1); u <= t - 1; u++)
            bias[u + t - 1] = -0.01f * (float)abs(u) + 0.5f * (float)((u * 7919) % 5) / 5.0f;
    }
    qr_attn_args at = {.q = qkv, .k = qkv + d, .v = qkv + 2 * d, .ldq = ld, .ldk = ld,
                       .ldv = ld, .out = out, .ldo = ldo, .t = t, .d = d,
                       .scale = 2.0f / sqrtf((float)d), .scratch = scratch, .bias = bias};
    qr_attention_blocked(kt, &at);
    if (vs_direct) {
        at.out = ref;
        at.bias = NULL;
        kt->attention(&at);
    } else {
        double *sc = malloc((size_t)t * sizeof(double));
        for (int i = 0; i < t; i++) {
            const float *q = qkv + (size_t)i * ld;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < t; j++) {
                const float *kk = qkv + (size_t)j * ld + d;
                double dot = 0;
                for (int c = 0; c < d; c++)
                    dot += (double)q[c] * kk[c];
                sc[j] = dot * at.scale + (bias ? bias[j - i + t - 1] : 0.0);
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j < t; j++)
                sum += (sc[j] = exp(sc[j] - mx));
            for (int c = 0; c < d; c++) {
                double o = 0;
                for (int j = 0; j < t; j++)
                    o += sc[j] * qkv[(size_t)j * ld + 2 * d + c];
                ref[(size_t)i * ldo + c] = (float)(o / sum);
            }
        }
        free(sc);
    }
    double vmax = 1e-30, worst = 0;
    for (int j = 0; j < t; j++)
        for (int c = 0; c < d; c++)
            vmax = fmax(vmax, fabs(qkv[(size_t)j * ld + 2 * d + c]));
    int gap = 0, bad = 0;
    for (size_t i = 0; i < o_len; i++) {
        if ((long)(i % (size_t)ldo) >= d) {
            gap += out[i] != 777.0f;
            continue;
        }
        double err = fabs((double)out[i] - ref[i]) / vmax;
        if (!(err <= TOL_ATTN))
            err = INFINITY;
        worst = fmax(worst, err);
        if (err > TOL_ATTN && bad++ < 3)
            T_CHECKF(0, "%s blocked attention t=%d d=%d bias %d vs %s: out[%zu] %g, want %g",
                     kt->name, t, d, with_bias, vs_direct ? "direct" : "naive", i, out[i], ref[i]);
    }
    T_CHECKF(gap == 0, "%s blocked attention t=%d d=%d wrote %d cells of the ldo gap", kt->name,
             t, d, gap);
    if (bias)
        tb_free(&bb);
    tb_free(&bs);
    tb_free(&bq);
    tb_free(&bo);
    tb_free(&br);
    return worst;
}

static void test_attention_blocked(void)
{
    /* around the block sizes (32 queries, 256 keys), head sizes of the tiny models (8),
     * MPNet-tiny (8 of 24), odd ones and the real models' 64 */
    static const int ts[] = {1, 2, 31, 33, 255, 256, 257, 600};
    static const int ds[] = {8, 24, 64, 5};
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
        if (!complete(kt))
            continue;
        double worst = 0;
        for (size_t a = 0; a < sizeof(ts) / sizeof(ts[0]); a++)
            for (size_t b = 0; b < sizeof(ds) / sizeof(ds[0]); b++) {
                tb_guard = (a + b) & 1;
                worst = fmax(worst, run_blocked_case(kt, ts[a], ds[b], (int)((a + b) % 2), 0));
            }
        /* a long input: against this table's direct kernel (d = 64: its blocked-rows
         * path), and with the bias against the naive reference */
        worst = fmax(worst, run_blocked_case(kt, 3000, 64, 0, 1));
        worst = fmax(worst, run_blocked_case(kt, 3000, 8, 1, 0));
        report(kt->name, "blocked attention", worst, TOL_ATTN);
    }
}

/* ---- tables ----------------------------------------------------------------------------- */

static void test_tables(void)
{
    /* every table this build has and this CPU runs is complete */
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
        if (!kt) {
            printf("  table %s: not supported by this CPU, skipped\n", qr_nn_names[ti]);
            continue;
        }
        T_CHECKF(complete(kt), "table %s has NULL kernels", qr_nn_names[ti]);
        T_CHECK(kt->name && strcmp(kt->name, qr_nn_names[ti]) == 0);
        printf("  table %s available\n", kt->name);
    }
    T_CHECK(qr_nn_get("scalar") == &qr_kernels_scalar);
    T_CHECK(qr_nn_get("no-such-table") == NULL);
}

int main(void)
{
    T_RUN(test_tables);
    T_RUN(test_pack);
    T_RUN(test_dot);
    T_RUN(test_axpy);
    T_RUN(test_gelu);
    T_RUN(test_softmax);
    T_RUN(test_layernorm);
    T_RUN(test_gemm);
    T_RUN(test_gemm_guard);
    T_RUN(test_attention);
    T_RUN(test_attention_blocked);
    return t_done();
}
