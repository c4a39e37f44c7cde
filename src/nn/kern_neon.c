/*
 * kern_neon.c — AArch64 Advanced SIMD (NEON) kernels, fp32 only. NEON is part of
 * baseline ARMv8-A, so this file needs no -m flags; it is built on aarch64 only (the
 * Makefile's ISA_ARM) and reached through qr_nn_get("neon") or ("neon-dotprod").
 *
 * Two tables share every kernel but dot_i8:
 *  - "neon":         dot_i8 widens with smull/smull2 and pairwise-adds (sadalp) into
 *                    int32 lanes; runs on any ARMv8-A;
 *  - "neon-dotprod": dot_i8 uses sdot (vdotq_s32), compiled for armv8.2-a+dotprod
 *                    with a function attribute and chosen only when getauxval reports
 *                    HWCAP_ASIMDDP (QR_CPU_ASIMDDP). QUIRE_CPU=neon forces the other
 *                    path, so both run under qemu (whose "max" CPU has dotprod).
 *
 * GEMM: as in kern_avx2.c, with 4-wide vectors: a 16-column panel row is four q
 * registers. The micro-kernel holds MR rows x NP panels x 4 quarters of accumulators
 * in the 32 vector registers: 1 panel x 5 rows (20 accumulators, 4 panel loads and 5
 * A scalars feeding fmla-by-element per k step: 29 registers; 6 rows would need 34
 * and GCC 12 spills two accumulators every step) for the bulk, 2 panels x up to 2
 * rows when there are only one or two rows. Tiles go through a stack buffer to a shared
 * epilogue (bias, GELU, residual); a partial last panel is staged through full-width
 * buffers so nothing past n is read or written. Loop order, chunking and prefetch of
 * the next panel are as in kern_avx512.c.
 *
 * Accuracy: exp is the Cephes-style polynomial (about 1 ulp) with the 2^n step done on
 * the exponent bits; results below 2^-126 are flushed to 0 (absolute error < 1.2e-38).
 * erf for GELU is N. Juffa's faithfully rounded erff (stackoverflow.com/q/35148198),
 * the same polynomials as the x86 files. vmaxq/vminq propagate NaN on AArch64.
 */
#include <arm_neon.h>
#include <string.h>

#include "nn.h"

#define AI static inline __attribute__((always_inline))
#define MR_MAX 5
#define NP_MAX 2
#define ATT_MR 5

/* ---- vector helpers ---------------------------------------------------------------- */

AI float32x4_t v_exp(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-87.33654f); /* ln(2^-126) */
    uint32x4_t under = vcltq_f32(x, lo);
    x = vmaxq_f32(x, lo); /* NaN propagates through fmax/fmin */
    x = vminq_f32(x, vdupq_n_f32(88.3762626647949f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(r, p, vmulq_f32(r, r));
    p = vaddq_f32(p, vdupq_n_f32(1.0f));
    /* n in [-126, 127]: 2^n from the exponent field */
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), under));
}

/* GELU(x) = 0.5 x (1 + erf(x / sqrt 2)); see v_gelu in kern_avx512.c. */
AI float32x4_t v_gelu(float32x4_t x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t z = vmulq_f32(x, vdupq_n_f32(0.70710678118654752f));
    float32x4_t t = vabsq_f32(z);
    float32x4_t s = vmulq_f32(z, z);
    /* |z| <= 0.927734375: erf(z) = z + z * P(z^2) */
    float32x4_t p = vdupq_n_f32(-5.96761703e-4f);
    p = vfmaq_f32(vdupq_n_f32(4.99119423e-3f), p, s);
    p = vfmaq_f32(vdupq_n_f32(-2.67681349e-2f), p, s);
    p = vfmaq_f32(vdupq_n_f32(1.12819925e-1f), p, s);
    p = vfmaq_f32(vdupq_n_f32(-3.76125336e-1f), p, s);
    p = vfmaq_f32(vdupq_n_f32(1.28379166e-1f), p, s);
    float32x4_t small = vaddq_f32(one, vfmaq_f32(z, p, z));
    /* otherwise erfc(|z|) = exp(Q(|z|)) */
    float32x4_t r = vfmaq_f32(vdupq_n_f32(3.83197126e-4f), vdupq_n_f32(-1.72853470e-5f), t);
    float32x4_t u = vfmaq_f32(vdupq_n_f32(2.42546219e-2f), vdupq_n_f32(-3.88396438e-3f), t);
    r = vfmaq_f32(u, r, s);
    r = vfmaq_f32(vdupq_n_f32(-1.06777877e-1f), r, t);
    r = vfmaq_f32(vdupq_n_f32(-6.34846687e-1f), r, t);
    r = vfmaq_f32(vdupq_n_f32(-1.28717512e-1f), r, t);
    r = vfmaq_f32(vnegq_f32(t), r, t); /* r * t - t */
    float32x4_t e = v_exp(r);          /* erfc(|z|) */
    uint32x4_t big = vcgtq_f32(t, vdupq_n_f32(0.927734375f));
    uint32x4_t neg = vcltq_f32(z, vdupq_n_f32(0.0f));
    /* 1 + erf(z): 2 - erfc(z) for z > 0, erfc(|z|) for z < 0 (no cancellation) */
    float32x4_t tail = vbslq_f32(neg, e, vsubq_f32(vdupq_n_f32(2.0f), e));
    float32x4_t onep = vbslq_f32(big, tail, small);
    return vmulq_f32(vmulq_f32(vdupq_n_f32(0.5f), x), onep);
}

/* ---- GEMM micro-kernel ------------------------------------------------------------------ */

/* tile[r][q*16 + j] = sum_k a[r*lda + k] * b[q*bp + k*bk + j] for r < MR, q < NP, j < 16;
 * prefetches pf + k*bk per k step (see kern_avx512.c). */
AI void ukr_body(const int NP, const int MR, const float *a, long lda, const float *b,
                 long bk, long bp, int kn, float *tile, const float *pf)
{
    float32x4_t acc[MR_MAX][NP_MAX * 4];
    const float *ar[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        ar[r] = a + r * lda;
#pragma GCC unroll 8
        for (int h = 0; h < NP * 4; h++)
            acc[r][h] = vdupq_n_f32(0.0f);
    }
    for (int k = 0; k < kn; k++) {
        float32x4_t bv[NP_MAX * 4];
#pragma GCC unroll 8
        for (int h = 0; h < NP * 4; h++)
            bv[h] = vld1q_f32(b + (h >> 2) * bp + (h & 3) * 4);
        b += bk;
        __builtin_prefetch(pf, 0, 2);
        pf += bk;
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const float av = ar[r][k];
#pragma GCC unroll 8
            for (int h = 0; h < NP * 4; h++)
                acc[r][h] = vfmaq_n_f32(acc[r][h], bv[h], av);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 8
        for (int h = 0; h < NP * 4; h++)
            vst1q_f32(tile + (r * NP * 4 + h) * 4, acc[r][h]);
    }
}

typedef void (*ukr_fn)(const float *a, long lda, const float *b, long bk, long bp, int kn,
                       float *tile, const float *pf);

#define UKR(NP, MR)                                                                     \
    static void ukr_##NP##_##MR(const float *a, long lda, const float *b, long bk, long bp, \
                                int kn, float *tile, const float *pf)                   \
    {                                                                                   \
        ukr_body(NP, MR, a, lda, b, bk, bp, kn, tile, pf);                              \
    }
UKR(1, 1) UKR(1, 2) UKR(1, 3) UKR(1, 4) UKR(1, 5)
UKR(2, 1) UKR(2, 2)

/* ukr_tab[NP][MR]; mr_max[NP] is the largest MR that fits the 32 q registers. */
static const ukr_fn ukr_tab[NP_MAX + 1][MR_MAX + 1] = {
    [1] = {NULL, ukr_1_1, ukr_1_2, ukr_1_3, ukr_1_4, ukr_1_5},
    [2] = {NULL, ukr_2_1, ukr_2_2},
};
static const int mr_max[NP_MAX + 1] = {0, 5, 2};

/* Rows of tile ti when `rows` rows are split into nt near-equal tiles. */
AI int tile_rows(int rows, int nt, int ti) { return rows / nt + (ti < rows % nt); }

/* ---- GEMM --------------------------------------------------------------------------------- */

/* One 16-column panel row: tile + bias, GELU, + residual, stored to c. */
AI void epi_full(const qr_gemm_args *g, const float *t16, const float *bias, const float *res,
                 float *c)
{
    for (int h = 0; h < 4; h++) {
        float32x4_t v = vld1q_f32(t16 + h * 4);
        if (bias)
            v = vaddq_f32(v, vld1q_f32(bias + h * 4));
        if (g->act == QR_ACT_GELU)
            v = v_gelu(v);
        if (res)
            v = vaddq_f32(v, vld1q_f32(res + h * 4));
        vst1q_f32(c + h * 4, v);
    }
}

static void gemm_epilogue(const qr_gemm_args *g, const float *tile, int i0, int mr, int p,
                          int np)
{
    const int n = g->w->n;
    for (int r = 0; r < mr; r++) {
        long i = i0 + r;
        float *c = g->c + i * g->ldc;
        const float *res = g->res ? g->res + i * g->ldr : NULL;
        for (int q = 0; q < np; q++) {
            int j0 = (p + q) * QR_PANEL;
            int nj = QR_MIN_INT(QR_PANEL, n - j0);
            const float *t16 = tile + (r * np + q) * 16;
            if (nj == QR_PANEL) {
                epi_full(g, t16, g->bias ? g->bias + j0 : NULL, res ? res + j0 : NULL, c + j0);
                continue;
            }
            /* partial last panel: staged through full-width buffers */
            _Alignas(16) float bb[16] = {0}, rb[16] = {0}, cb[16];
            if (g->bias)
                memcpy(bb, g->bias + j0, (size_t)nj * sizeof(float));
            if (res)
                memcpy(rb, res + j0, (size_t)nj * sizeof(float));
            epi_full(g, t16, g->bias ? bb : NULL, res ? rb : NULL, cb);
            memcpy(c + j0, cb, (size_t)nj * sizeof(float));
        }
    }
}

/* Rows per chunk: the chunk's A rows (chunk x k floats) should stay in L2 while every
 * panel group sweeps over them. */
static int gemm_chunk_rows(int kn)
{
    int rows = (int)((256 * 1024 / sizeof(float)) / (size_t)(kn > 0 ? kn : 1));
    rows = rows / 5 * 5;
    return rows < 25 ? 25 : rows > 480 ? 480 : rows;
}

static void gemm_neon(const qr_gemm_args *g)
{
    const qr_packed *w = g->w;
    const int kn = w->k;
    const int p1 = QR_MIN_INT(g->p1, w->n_panels);
    if (g->m <= 0 || g->p0 >= p1)
        return;
    /* Few rows: two panels per tile keep enough independent accumulators in flight. */
    const int np_pref = g->m <= 2 ? 2 : 1;
    const int chunk = gemm_chunk_rows(kn);
    const long pstride = (long)kn * QR_PANEL;
    _Alignas(16) float tile[MR_MAX * NP_MAX * 16];
    for (int i0 = 0; i0 < g->m; i0 += chunk) {
        int rows = QR_MIN_INT(chunk, g->m - i0);
        for (int p = g->p0; p < p1;) {
            int np = QR_MIN_INT(np_pref, p1 - p);
            int nt = (rows + mr_max[np] - 1) / mr_max[np];
            const float *b = w->data + (size_t)p * (size_t)pstride;
            /* the panels after this group: next in this chunk, else first of the next */
            int pn = p + np < p1 ? p + np : i0 + chunk < g->m ? g->p0 : -1;
            int n_next = pn < 0 ? 0 : QR_MIN_INT(np_pref, p1 - pn);
            for (int ti = 0, i = i0; ti < nt; ti++) {
                int mr = tile_rows(rows, nt, ti);
                /* spread the next group's panels over this group's first tiles */
                const float *pf = b;
                if (ti < n_next)
                    pf = w->data + (size_t)(pn + ti) * (size_t)pstride;
                ukr_tab[np][mr](g->a + i * g->lda, g->lda, b, QR_PANEL, pstride, kn, tile, pf);
                gemm_epilogue(g, tile, i, mr, p, np);
                i += mr;
            }
            p += np;
        }
    }
}

/* ---- elementwise and reductions ---------------------------------------------------------- */

/* Mean and variance in double (as the scalar reference), four floats per step. */
static void layernorm_neon(float *x, long ldx, int m, int n, const float *gamma,
                           const float *beta, float eps)
{
    const double inv_n = 1.0 / (n > 0 ? n : 1);
    const int n4 = n & ~3;
    for (int i = 0; i < m; i++) {
        float *row = x + (size_t)i * ldx;
        float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
        for (int j = 0; j < n4; j += 4) {
            float32x4_t v = vld1q_f32(row + j);
            s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(v)));
            s1 = vaddq_f64(s1, vcvt_high_f64_f32(v));
        }
        double mean = vaddvq_f64(vaddq_f64(s0, s1));
        for (int j = n4; j < n; j++)
            mean += row[j];
        mean *= inv_n;
        const float64x2_t vmean = vdupq_n_f64(mean);
        s0 = vdupq_n_f64(0.0);
        s1 = s0;
        for (int j = 0; j < n4; j += 4) {
            float32x4_t v = vld1q_f32(row + j);
            float64x2_t d0 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), vmean);
            float64x2_t d1 = vsubq_f64(vcvt_high_f64_f32(v), vmean);
            s0 = vfmaq_f64(s0, d0, d0);
            s1 = vfmaq_f64(s1, d1, d1);
        }
        double var = vaddvq_f64(vaddq_f64(s0, s1));
        for (int j = n4; j < n; j++)
            var += (row[j] - mean) * (row[j] - mean);
        var *= inv_n;
        const float inv = (float)(1.0 / __builtin_sqrt(var + eps));
        const float32x4_t vinv = vdupq_n_f32(inv);
        for (int j = 0; j < n4; j += 4) {
            float32x4_t v = vld1q_f32(row + j);
            float32x2_t d0 = vcvt_f32_f64(vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), vmean));
            float32x4_t d = vcvt_high_f32_f64(d0, vsubq_f64(vcvt_high_f64_f32(v), vmean));
            float32x4_t y =
                vfmaq_f32(vld1q_f32(beta + j), vmulq_f32(d, vinv), vld1q_f32(gamma + j));
            vst1q_f32(row + j, y);
        }
        for (int j = n4; j < n; j++)
            row[j] = ((float)(row[j] - mean)) * inv * gamma[j] + beta[j];
    }
}

static void gelu_neon(float *x, long n)
{
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(x + i, v_gelu(vld1q_f32(x + i)));
        vst1q_f32(x + i + 4, v_gelu(vld1q_f32(x + i + 4)));
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, v_gelu(vld1q_f32(x + i)));
    if (i < n) { /* the tail goes through a zero-padded buffer */
        float buf[4] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(buf, v_gelu(vld1q_f32(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
}

/* exp(x - mx) in place over n values; returns the sum. */
static float exp_sum(float *x, long n, float mx)
{
    const float32x4_t vmx = vdupq_n_f32(mx);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t e0 = v_exp(vsubq_f32(vld1q_f32(x + i), vmx));
        float32x4_t e1 = v_exp(vsubq_f32(vld1q_f32(x + i + 4), vmx));
        vst1q_f32(x + i, e0);
        vst1q_f32(x + i + 4, e1);
        s0 = vaddq_f32(s0, e0);
        s1 = vaddq_f32(s1, e1);
    }
    if (i < n) { /* tail padded with -inf, whose exp is 0 */
        float buf[8];
        for (int j = 0; j < 8; j++)
            buf[j] = i + j < n ? x[i + j] : -__builtin_inff();
        float32x4_t e0 = v_exp(vsubq_f32(vld1q_f32(buf), vmx));
        float32x4_t e1 = v_exp(vsubq_f32(vld1q_f32(buf + 4), vmx));
        vst1q_f32(buf, e0);
        vst1q_f32(buf + 4, e1);
        s0 = vaddq_f32(s0, e0);
        s1 = vaddq_f32(s1, e1);
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static float max_of(const float *x, long n)
{
    float32x4_t mx = vdupq_n_f32(-__builtin_inff());
    long i = 0;
    for (; i + 4 <= n; i += 4)
        mx = vmaxq_f32(mx, vld1q_f32(x + i));
    float m = vmaxvq_f32(mx);
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void scale_by(float *x, long n, float s)
{
    long i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), s));
    for (; i < n; i++)
        x[i] *= s;
}

static void softmax_neon(float *x, long n)
{
    if (n <= 0)
        return;
    float sum = exp_sum(x, n, max_of(x, n));
    scale_by(x, n, (float)(1.0 / (double)sum));
}

static float dot_neon(const float *a, const float *b, long n)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_neon(float *y, const float *x, float alpha, long n)
{
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t y0 = vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha);
        float32x4_t y1 = vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), alpha);
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

/* ---- attention ---------------------------------------------------------------------------- */

/* In-register transpose of a 4x4 block: r[i][j] -> r[j][i]. */
AI void transpose4(float32x4_t r[4])
{
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);
    float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(u0, u2));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(u1, u3));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(u0, u2));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(u1, u3));
}

/* Keys [0, nk) of k (d % 16 == 0) in panel layout: kp[q][c][jj] = k[16q + jj][c], zero
 * past nk; 4x4 blocks transposed in registers. */
static void pack_keys(float *kp, const float *k, long ldk, int nk, int d)
{
    for (int j0 = 0; j0 < (nk + 15) / 16 * 16; j0 += 4) {
        int rows = nk - j0 < 0 ? 0 : QR_MIN_INT(4, nk - j0);
        float *dst = kp + (size_t)(j0 / 16) * (size_t)d * 16 + (j0 % 16);
        for (int c = 0; c < d; c += 4) {
            float32x4_t r[4];
            for (int jj = 0; jj < 4; jj++)
                r[jj] = jj < rows ? vld1q_f32(k + (size_t)(j0 + jj) * ldk + c)
                                  : vdupq_n_f32(0.0f);
            transpose4(r);
            for (int cc = 0; cc < 4; cc++)
                vst1q_f32(dst + (size_t)(c + cc) * 16, r[cc]);
        }
    }
}

/* Any head size: one query row at a time with dot/softmax/axpy. */
static void attention_rows(const qr_attn_args *at)
{
    float *s = at->scratch;
    for (int i = 0; i < at->t; i++) {
        const float *q = at->q + (size_t)i * at->ldq;
        for (int j = 0; j < at->t; j++)
            s[j] = at->scale * dot_neon(q, at->k + (size_t)j * at->ldk, at->d);
        softmax_neon(s, at->t);
        float *o = at->out + (size_t)i * at->ldo;
        for (int c = 0; c < at->d; c++)
            o[c] = 0.0f;
        for (int j = 0; j < at->t; j++)
            axpy_neon(o, at->v + (size_t)j * at->ldv, s[j], at->d);
    }
}

/* s[r][j] = scale * q_(i0+r) . k_j for r < mr, all keys, one 16-key panel at a time. */
static void attn_block_scores(const qr_attn_args *at, const float *kp, int i0, int mr,
                              float *s, float *tile)
{
    const int t = at->t, d = at->d;
    for (int j0 = 0; j0 < t; j0 += 16) {
        int nk = QR_MIN_INT(16, t - j0);
        const float *kb = kp + (size_t)j0 * d;
        ukr_tab[1][mr](at->q + (size_t)i0 * at->ldq, at->ldq, kb, 16, (long)d * 16, d, tile, kb);
        for (int r = 0; r < mr; r++) {
            float *srow = s + (size_t)r * t + j0;
            float buf[16];
            float *dst = nk == 16 ? srow : buf;
            for (int h = 0; h < 4; h++)
                vst1q_f32(dst + h * 4, vmulq_n_f32(vld1q_f32(tile + r * 16 + h * 4), at->scale));
            if (nk < 16)
                memcpy(srow, buf, (size_t)nk * sizeof(float));
        }
    }
}

/* out rows [i0, i0+mr) = inv[r] * sum_j s[r][j] v_j, 16 columns at a time, V in place. */
static void attn_block_values(const qr_attn_args *at, const float *s, int i0, int mr,
                              const float *inv, float *tile)
{
    const int t = at->t, d = at->d;
    for (int c0 = 0; c0 < d; c0 += 16) {
        ukr_tab[1][mr](s, t, at->v + c0, at->ldv, 16, t, tile, at->v + c0);
        for (int r = 0; r < mr; r++) {
            float *o = at->out + (size_t)(i0 + r) * at->ldo + c0;
            for (int h = 0; h < 4; h++)
                vst1q_f32(o + h * 4, vmulq_n_f32(vld1q_f32(tile + r * 16 + h * 4), inv[r]));
        }
    }
}

/* Row blocks of ATT_MR queries, as in kern_avx512.c: the block's scores stay in L1 from
 * Q K^T through softmax to P V; the packed keys and V rows are reused from L2. */
static void attention_neon(const qr_attn_args *at)
{
    const int t = at->t, d = at->d;
    if (t <= 0 || d <= 0)
        return;
    /* scratch: scores of one row block, then all keys in panel layout (16-float aligned) */
    const size_t s_len = ((size_t)ATT_MR * (size_t)t + 15) & ~(size_t)15;
    const size_t kp_len = (size_t)(t + 15) / 16 * 16 * (size_t)d;
    if (d % 16 != 0 || s_len + kp_len > QR_ATTN_SCRATCH(t, d)) {
        attention_rows(at);
        return;
    }
    float *s = at->scratch;
    float *kp = s + s_len;
    pack_keys(kp, at->k, at->ldk, t, d);
    _Alignas(16) float tile[MR_MAX * NP_MAX * 16];
    float inv[ATT_MR];
    const int nt = (t + ATT_MR - 1) / ATT_MR;
    for (int ti = 0, i0 = 0; ti < nt; ti++) {
        int mr = tile_rows(t, nt, ti);
        attn_block_scores(at, kp, i0, mr, s, tile);
        for (int r = 0; r < mr; r++) {
            float *row = s + (size_t)r * t;
            inv[r] = (float)(1.0 / (double)exp_sum(row, t, max_of(row, t)));
        }
        attn_block_values(at, s, i0, mr, inv, tile);
        i0 += mr;
    }
}

/* ---- search kernels ----------------------------------------------------------------------- */

/* Four rows per step share each query load; eight independent FMA chains hide the
 * latency, so the loop runs at memory speed (the caller streams rows once). */
static void dot_rows_neon(const float *q, const float *x, long ld, long m, long n, float *out)
{
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
        float32x4_t u0 = s0, u1 = s0, u2 = s0, u3 = s0;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            float32x4_t qa = vld1q_f32(q + i), qb = vld1q_f32(q + i + 4);
            if ((i & 15) == 0) { /* one prefetch per 64-byte line of the next group */
                __builtin_prefetch(x0 + i + 4 * ld, 0, 3);
                __builtin_prefetch(x1 + i + 4 * ld, 0, 3);
                __builtin_prefetch(x2 + i + 4 * ld, 0, 3);
                __builtin_prefetch(x3 + i + 4 * ld, 0, 3);
            }
            s0 = vfmaq_f32(s0, qa, vld1q_f32(x0 + i));
            s1 = vfmaq_f32(s1, qa, vld1q_f32(x1 + i));
            s2 = vfmaq_f32(s2, qa, vld1q_f32(x2 + i));
            s3 = vfmaq_f32(s3, qa, vld1q_f32(x3 + i));
            u0 = vfmaq_f32(u0, qb, vld1q_f32(x0 + i + 4));
            u1 = vfmaq_f32(u1, qb, vld1q_f32(x1 + i + 4));
            u2 = vfmaq_f32(u2, qb, vld1q_f32(x2 + i + 4));
            u3 = vfmaq_f32(u3, qb, vld1q_f32(x3 + i + 4));
        }
        for (; i + 4 <= n; i += 4) {
            float32x4_t qa = vld1q_f32(q + i);
            s0 = vfmaq_f32(s0, qa, vld1q_f32(x0 + i));
            s1 = vfmaq_f32(s1, qa, vld1q_f32(x1 + i));
            s2 = vfmaq_f32(s2, qa, vld1q_f32(x2 + i));
            s3 = vfmaq_f32(s3, qa, vld1q_f32(x3 + i));
        }
        float t0 = vaddvq_f32(vaddq_f32(s0, u0)), t1 = vaddvq_f32(vaddq_f32(s1, u1));
        float t2 = vaddvq_f32(vaddq_f32(s2, u2)), t3 = vaddvq_f32(vaddq_f32(s3, u3));
        for (; i < n; i++) {
            t0 += q[i] * x0[i];
            t1 += q[i] * x1[i];
            t2 += q[i] * x2[i];
            t3 += q[i] * x3[i];
        }
        out[r] = t0;
        out[r + 1] = t1;
        out[r + 2] = t2;
        out[r + 3] = t3;
    }
    /* the last rows as each row of a group (the same accumulators and order): a row's
       score does not depend on its position, so equal vectors score exactly equal */
    for (; r < m; r++) {
        const float *x0 = x + r * ld;
        float32x4_t s0 = vdupq_n_f32(0.0f), u0 = s0;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            s0 = vfmaq_f32(s0, vld1q_f32(q + i), vld1q_f32(x0 + i));
            u0 = vfmaq_f32(u0, vld1q_f32(q + i + 4), vld1q_f32(x0 + i + 4));
        }
        for (; i + 4 <= n; i += 4)
            s0 = vfmaq_f32(s0, vld1q_f32(q + i), vld1q_f32(x0 + i));
        float t0 = vaddvq_f32(vaddq_f32(s0, u0));
        for (; i < n; i++)
            t0 += q[i] * x0[i];
        out[r] = t0;
    }
}

/* int8 dot, any ARMv8-A: smull/smull2 to int16 products (|p| <= 2^14, exact), sadalp
 * pairs them into int32 lanes. */
static int32_t dot_i8_neon(const int8_t *a, const int8_t *b, long n)
{
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        int8x16_t va = vld1q_s8(a + i), vb = vld1q_s8(b + i);
        s0 = vpadalq_s16(s0, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
        s1 = vpadalq_s16(s1, vmull_high_s8(va, vb));
    }
    int32_t t = vaddvq_s32(vaddq_s32(s0, s1));
    for (; i < n; i++)
        t += (int32_t)a[i] * b[i];
    return t;
}

/* int8 dot with the ARMv8.2 dot-product extension: sdot adds four int8 products into
 * each int32 lane. Reached only through qr_kernels_neon_dotprod (HWCAP_ASIMDDP). */
__attribute__((target("arch=armv8.2-a+dotprod"))) static int32_t
dot_i8_neon_dotprod(const int8_t *a, const int8_t *b, long n)
{
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = vdotq_s32(s0, vld1q_s8(a + i), vld1q_s8(b + i));
        s1 = vdotq_s32(s1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
    }
    for (; i + 16 <= n; i += 16)
        s0 = vdotq_s32(s0, vld1q_s8(a + i), vld1q_s8(b + i));
    int32_t t = vaddvq_s32(vaddq_s32(s0, s1));
    for (; i < n; i++)
        t += (int32_t)a[i] * b[i];
    return t;
}

const qr_kernels qr_kernels_neon = {
    .name = "neon",
    .gemm = gemm_neon,
    .layernorm = layernorm_neon,
    .attention = attention_neon,
    .gelu = gelu_neon,
    .softmax = softmax_neon,
    .dot = dot_neon,
    .axpy = axpy_neon,
    .dot_rows = dot_rows_neon,
    .dot_i8 = dot_i8_neon,
    .exp_sum = exp_sum,
};

const qr_kernels qr_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .gemm = gemm_neon,
    .layernorm = layernorm_neon,
    .attention = attention_neon,
    .gelu = gelu_neon,
    .softmax = softmax_neon,
    .dot = dot_neon,
    .axpy = axpy_neon,
    .dot_rows = dot_rows_neon,
    .dot_i8 = dot_i8_neon_dotprod,
    .exp_sum = exp_sum,
};
