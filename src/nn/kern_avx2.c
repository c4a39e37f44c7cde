/*
 * kern_avx2.c — AVX2 + FMA kernels, fp32 only. Compiled with -mavx2 -mfma and reached
 * only through qr_nn_get("avx2") after CPUID/XGETBV. Same structure as kern_avx512.c,
 * with 8-wide vectors: a 16-column panel row is two ymm halves.
 *
 * GEMM: the micro-kernel holds MR rows x NP panels x 2 halves of accumulators in the 16
 * ymm registers: 1 panel x 6 rows (12 accumulators, 2 panel loads and 6 broadcasts per
 * k step) for the bulk, 2 panels x up to 2 rows when there are only one or two rows.
 * Tiles go through a stack buffer to a shared epilogue (bias, GELU, residual); a
 * partial last panel goes through a scalar copy so nothing past n is read or written.
 * Loop order, chunking and software prefetch of the next panel are as in kern_avx512.c.
 *
 * Accuracy: exp is the Cephes-style polynomial (about 1 ulp) with the 2^n step done on
 * the exponent bits; results below 2^-126 are flushed to 0 (absolute error < 1.2e-38).
 * erf for GELU is N. Juffa's faithfully rounded erff (stackoverflow.com/q/35148198).
 */
#include <immintrin.h>
#include <string.h>

#include "nn.h"

#define AI static inline __attribute__((always_inline))
#define MR_MAX 6
#define NP_MAX 2
#define ATT_MR 6

/* ---- vector helpers ---------------------------------------------------------------- */

AI __m256 v_exp(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.33654f); /* ln(2^-126) */
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    /* max(c, x)/min(c, x) return x when x is NaN, so NaN propagates. */
    x = _mm256_max_ps(lo, x);
    x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    /* n in [-126, 127]: 2^n from the exponent field */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* GELU(x) = 0.5 x (1 + erf(x / sqrt 2)); see v_gelu in kern_avx512.c. */
AI __m256 v_gelu(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 s = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(-5.96761703e-4f);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(4.99119423e-3f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-2.67681349e-2f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.12819925e-1f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.76125336e-1f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.28379166e-1f));
    __m256 small = _mm256_add_ps(one, _mm256_fmadd_ps(p, z, z));
    __m256 r = _mm256_fmadd_ps(_mm256_set1_ps(-1.72853470e-5f), t, _mm256_set1_ps(3.83197126e-4f));
    __m256 u = _mm256_fmadd_ps(_mm256_set1_ps(-3.88396438e-3f), t, _mm256_set1_ps(2.42546219e-2f));
    r = _mm256_fmadd_ps(r, s, u);
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-1.06777877e-1f));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-6.34846687e-1f));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-1.28717512e-1f));
    r = _mm256_fmsub_ps(r, t, t);
    __m256 e = v_exp(r); /* erfc(|z|) */
    __m256 big = _mm256_cmp_ps(t, _mm256_set1_ps(0.927734375f), _CMP_GT_OQ);
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 tail = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), e), e, neg);
    __m256 onep = _mm256_blendv_ps(small, tail, big);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), onep);
}

AI float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- GEMM micro-kernel ------------------------------------------------------------------ */

/* tile[r][q*16 + j] = sum_k a[r*lda + k] * b[q*bp + k*bk + j] for r < MR, q < NP, j < 16;
 * prefetches 64 bytes of pf + k*bk per k step (see kern_avx512.c). */
AI void ukr_body(const int NP, const int MR, const float *a, long lda, const float *b,
                 long bk, long bp, int kn, float *tile, const float *pf)
{
    __m256 acc[MR_MAX][NP_MAX * 2];
    const float *ar[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        ar[r] = a + r * lda;
#pragma GCC unroll 4
        for (int h = 0; h < NP * 2; h++)
            acc[r][h] = _mm256_setzero_ps();
    }
    for (int k = 0; k < kn; k++) {
        __m256 bv[NP_MAX * 2];
#pragma GCC unroll 4
        for (int h = 0; h < NP * 2; h++)
            bv[h] = _mm256_loadu_ps(b + (h >> 1) * bp + (h & 1) * 8);
        b += bk;
        _mm_prefetch((const char *)pf, _MM_HINT_T1);
        pf += bk;
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(ar[r] + k);
#pragma GCC unroll 4
            for (int h = 0; h < NP * 2; h++)
                acc[r][h] = _mm256_fmadd_ps(av, bv[h], acc[r][h]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
        for (int h = 0; h < NP * 2; h++)
            _mm256_store_ps(tile + (r * NP * 2 + h) * 8, acc[r][h]);
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
UKR(1, 1) UKR(1, 2) UKR(1, 3) UKR(1, 4) UKR(1, 5) UKR(1, 6)
UKR(2, 1) UKR(2, 2)

static const ukr_fn ukr_tab[NP_MAX + 1][MR_MAX + 1] = {
    [1] = {NULL, ukr_1_1, ukr_1_2, ukr_1_3, ukr_1_4, ukr_1_5, ukr_1_6},
    [2] = {NULL, ukr_2_1, ukr_2_2},
};
static const int mr_max[NP_MAX + 1] = {0, 6, 2};

AI int tile_rows(int rows, int nt, int ti) { return rows / nt + (ti < rows % nt); }

/* ---- GEMM --------------------------------------------------------------------------------- */

/* One 16-column panel row: v (two halves) + bias, GELU, + residual, stored to c. */
AI void epi_full(const qr_gemm_args *g, const float *t16, const float *bias, const float *res,
                 float *c)
{
    for (int h = 0; h < 2; h++) {
        __m256 v = _mm256_load_ps(t16 + h * 8);
        if (bias)
            v = _mm256_add_ps(v, _mm256_loadu_ps(bias + h * 8));
        if (g->act == QR_ACT_GELU)
            v = v_gelu(v);
        if (res)
            v = _mm256_add_ps(v, _mm256_loadu_ps(res + h * 8));
        _mm256_storeu_ps(c + h * 8, v);
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
            _Alignas(32) float bb[16] = {0}, rb[16] = {0}, cb[16];
            if (g->bias)
                memcpy(bb, g->bias + j0, (size_t)nj * sizeof(float));
            if (res)
                memcpy(rb, res + j0, (size_t)nj * sizeof(float));
            epi_full(g, t16, g->bias ? bb : NULL, res ? rb : NULL, cb);
            memcpy(c + j0, cb, (size_t)nj * sizeof(float));
        }
    }
}

static int gemm_chunk_rows(int kn)
{
    int rows = (int)((256 * 1024 / sizeof(float)) / (size_t)(kn > 0 ? kn : 1));
    rows = rows / 6 * 6;
    return rows < 24 ? 24 : rows > 480 ? 480 : rows;
}

static void gemm_avx2(const qr_gemm_args *g)
{
    const qr_packed *w = g->w;
    const int kn = w->k;
    const int p1 = QR_MIN_INT(g->p1, w->n_panels);
    if (g->m <= 0 || g->p0 >= p1)
        return;
    const int np_pref = g->m <= 2 ? 2 : 1;
    const int chunk = gemm_chunk_rows(kn);
    const long pstride = (long)kn * QR_PANEL;
    _Alignas(32) float tile[MR_MAX * NP_MAX * 16];
    for (int i0 = 0; i0 < g->m; i0 += chunk) {
        int rows = QR_MIN_INT(chunk, g->m - i0);
        for (int p = g->p0; p < p1;) {
            int np = QR_MIN_INT(np_pref, p1 - p);
            int nt = (rows + mr_max[np] - 1) / mr_max[np];
            const float *b = w->data + (size_t)p * (size_t)pstride;
            int pn = p + np < p1 ? p + np : i0 + chunk < g->m ? g->p0 : -1;
            int n_next = pn < 0 ? 0 : QR_MIN_INT(np_pref, p1 - pn);
            for (int ti = 0, i = i0; ti < nt; ti++) {
                int mr = tile_rows(rows, nt, ti);
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

static void layernorm_avx2(float *x, long ldx, int m, int n, const float *gamma,
                           const float *beta, float eps)
{
    const double inv_n = 1.0 / (n > 0 ? n : 1);
    const int n8 = n & ~7;
    for (int i = 0; i < m; i++) {
        float *row = x + (size_t)i * ldx;
        __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
        for (int j = 0; j < n8; j += 8) {
            s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(row + j)));
            s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(row + j + 4)));
        }
        double sum[4];
        _mm256_storeu_pd(sum, _mm256_add_pd(s0, s1));
        double mean = (sum[0] + sum[1]) + (sum[2] + sum[3]);
        for (int j = n8; j < n; j++)
            mean += row[j];
        mean *= inv_n;
        const __m256d vmean = _mm256_set1_pd(mean);
        s0 = _mm256_setzero_pd();
        s1 = _mm256_setzero_pd();
        for (int j = 0; j < n8; j += 8) {
            __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + j)), vmean);
            __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + j + 4)), vmean);
            s0 = _mm256_fmadd_pd(d0, d0, s0);
            s1 = _mm256_fmadd_pd(d1, d1, s1);
        }
        _mm256_storeu_pd(sum, _mm256_add_pd(s0, s1));
        double var = (sum[0] + sum[1]) + (sum[2] + sum[3]);
        for (int j = n8; j < n; j++)
            var += (row[j] - mean) * (row[j] - mean);
        var *= inv_n;
        const float inv = (float)(1.0 / __builtin_sqrt(var + eps));
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int j = 0; j < n8; j += 8) {
            __m128 d0 = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + j)), vmean));
            __m128 d1 =
                _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + j + 4)), vmean));
            __m256 d = _mm256_insertf128_ps(_mm256_castps128_ps256(d0), d1, 1);
            __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(d, vinv), _mm256_loadu_ps(gamma + j),
                                       _mm256_loadu_ps(beta + j));
            _mm256_storeu_ps(row + j, y);
        }
        for (int j = n8; j < n; j++)
            row[j] = ((float)(row[j] - mean)) * inv * gamma[j] + beta[j];
    }
}

/* Applies f to x[0..n) in 8-wide steps; the tail goes through a zero-padded buffer. */
#define MAP8(x, n, f)                                                            \
    do {                                                                         \
        long i_ = 0;                                                             \
        for (; i_ + 8 <= (n); i_ += 8)                                           \
            _mm256_storeu_ps((x) + i_, f(_mm256_loadu_ps((x) + i_)));            \
        if (i_ < (n)) {                                                          \
            _Alignas(32) float buf_[8] = {0};                                    \
            memcpy(buf_, (x) + i_, (size_t)((n)-i_) * sizeof(float));            \
            _mm256_store_ps(buf_, f(_mm256_load_ps(buf_)));                      \
            memcpy((x) + i_, buf_, (size_t)((n)-i_) * sizeof(float));            \
        }                                                                        \
    } while (0)

static void gelu_avx2(float *x, long n) { MAP8(x, n, v_gelu); }

/* exp(x - mx) in place over n values; returns the sum. */
static float exp_sum(float *x, long n, float mx)
{
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = v_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (i < n) {
        _Alignas(32) float buf[8];
        for (int j = 0; j < 8; j++)
            buf[j] = i + j < n ? x[i + j] : -__builtin_inff();
        __m256 e = v_exp(_mm256_sub_ps(_mm256_load_ps(buf), vmx));
        _mm256_store_ps(buf, e);
        sum = _mm256_add_ps(sum, e); /* the padding gave exp(-inf) = 0 */
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
    return hsum(sum);
}

static float max_of(const float *x, long n)
{
    __m256 mx = _mm256_set1_ps(-__builtin_inff());
    long i = 0;
    for (; i + 8 <= n; i += 8)
        mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
    float m = hmax(mx);
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void scale_by(float *x, long n, float s)
{
    const __m256 vs = _mm256_set1_ps(s);
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++)
        x[i] *= s;
}

static void softmax_avx2(float *x, long n)
{
    if (n <= 0)
        return;
    float sum = exp_sum(x, n, max_of(x, n));
    scale_by(x, n, (float)(1.0 / (double)sum));
}

static float dot_avx2(const float *a, const float *b, long n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_avx2(float *y, const float *x, float alpha, long n)
{
    const __m256 va = _mm256_set1_ps(alpha);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

/* ---- attention ---------------------------------------------------------------------------- */

AI void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* Keys [0, nk) of k (d % 16 == 0) in panel layout: kp[q][c][jj] = k[16q + jj][c], zero
 * past nk; 8x8 blocks transposed in registers. */
static void pack_keys(float *kp, const float *k, long ldk, int nk, int d)
{
    for (int j0 = 0; j0 < (nk + 15) / 16 * 16; j0 += 8) {
        int rows = nk - j0 < 0 ? 0 : QR_MIN_INT(8, nk - j0);
        float *dst = kp + (size_t)(j0 / 16) * (size_t)d * 16 + (j0 % 16);
        for (int c = 0; c < d; c += 8) {
            __m256 r[8];
            for (int jj = 0; jj < 8; jj++)
                r[jj] = jj < rows ? _mm256_loadu_ps(k + (size_t)(j0 + jj) * ldk + c)
                                  : _mm256_setzero_ps();
            transpose8(r);
            for (int cc = 0; cc < 8; cc++)
                _mm256_storeu_ps(dst + (size_t)(c + cc) * 16, r[cc]);
        }
    }
}

static void attention_rows(const qr_attn_args *at)
{
    float *s = at->scratch;
    for (int i = 0; i < at->t; i++) {
        const float *q = at->q + (size_t)i * at->ldq;
        for (int j = 0; j < at->t; j++)
            s[j] = at->scale * dot_avx2(q, at->k + (size_t)j * at->ldk, at->d);
        softmax_avx2(s, at->t);
        float *o = at->out + (size_t)i * at->ldo;
        for (int c = 0; c < at->d; c++)
            o[c] = 0.0f;
        for (int j = 0; j < at->t; j++)
            axpy_avx2(o, at->v + (size_t)j * at->ldv, s[j], at->d);
    }
}

/* s[r][j] = scale * q_(i0+r) . k_j for r < mr, all keys, one 16-key panel at a time. */
static void attn_block_scores(const qr_attn_args *at, const float *kp, int i0, int mr,
                              float *s, float *tile)
{
    const int t = at->t, d = at->d;
    const __m256 scale = _mm256_set1_ps(at->scale);
    for (int j0 = 0; j0 < t; j0 += 16) {
        int nk = QR_MIN_INT(16, t - j0);
        const float *kb = kp + (size_t)j0 * d;
        ukr_tab[1][mr](at->q + (size_t)i0 * at->ldq, at->ldq, kb, 16, (long)d * 16, d, tile, kb);
        for (int r = 0; r < mr; r++) {
            float *srow = s + (size_t)r * t + j0;
            __m256 v0 = _mm256_mul_ps(_mm256_load_ps(tile + r * 16), scale);
            __m256 v1 = _mm256_mul_ps(_mm256_load_ps(tile + r * 16 + 8), scale);
            if (nk == 16) {
                _mm256_storeu_ps(srow, v0);
                _mm256_storeu_ps(srow + 8, v1);
            } else {
                _Alignas(32) float buf[16];
                _mm256_store_ps(buf, v0);
                _mm256_store_ps(buf + 8, v1);
                memcpy(srow, buf, (size_t)nk * sizeof(float));
            }
        }
    }
}

/* out rows [i0, i0+mr) = inv[r] * sum_j s[r][j] v_j, 16 columns at a time. */
static void attn_block_values(const qr_attn_args *at, const float *s, int i0, int mr,
                              const float *inv, float *tile)
{
    const int t = at->t, d = at->d;
    for (int c0 = 0; c0 < d; c0 += 16) {
        ukr_tab[1][mr](s, t, at->v + c0, at->ldv, 16, t, tile, at->v + c0);
        for (int r = 0; r < mr; r++) {
            float *o = at->out + (size_t)(i0 + r) * at->ldo + c0;
            const __m256 vinv = _mm256_set1_ps(inv[r]);
            _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_load_ps(tile + r * 16), vinv));
            _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_load_ps(tile + r * 16 + 8), vinv));
        }
    }
}

/* Row blocks of ATT_MR queries, as in kern_avx512.c. */
static void attention_avx2(const qr_attn_args *at)
{
    const int t = at->t, d = at->d;
    if (t <= 0 || d <= 0)
        return;
    const size_t s_len = ((size_t)ATT_MR * (size_t)t + 15) & ~(size_t)15;
    const size_t kp_len = (size_t)(t + 15) / 16 * 16 * (size_t)d;
    if (d % 16 != 0 || s_len + kp_len > QR_ATTN_SCRATCH(t, d)) {
        attention_rows(at);
        return;
    }
    float *s = at->scratch;
    float *kp = s + s_len;
    pack_keys(kp, at->k, at->ldk, t, d);
    _Alignas(32) float tile[MR_MAX * NP_MAX * 16];
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

/* Four rows per step share each query load (see kern_avx512.c). */
static void dot_rows_avx2(const float *q, const float *x, long ld, long m, long n, float *out)
{
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 vq = _mm256_loadu_ps(q + i);
            if ((i & 15) == 0) { /* one prefetch per 64-byte line of the next group */
                _mm_prefetch((const char *)(x0 + i + 4 * ld), _MM_HINT_T0);
                _mm_prefetch((const char *)(x1 + i + 4 * ld), _MM_HINT_T0);
                _mm_prefetch((const char *)(x2 + i + 4 * ld), _MM_HINT_T0);
                _mm_prefetch((const char *)(x3 + i + 4 * ld), _MM_HINT_T0);
            }
            s0 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(x0 + i), s0);
            s1 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(x1 + i), s1);
            s2 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(x2 + i), s2);
            s3 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(x3 + i), s3);
        }
        float t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
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
    /* the last rows as each row of a group (one accumulator, the same order): a row's
       score does not depend on its position, so equal vectors score exactly equal */
    for (; r < m; r++) {
        const float *x0 = x + r * ld;
        __m256 s0 = _mm256_setzero_ps();
        long i = 0;
        for (; i + 8 <= n; i += 8)
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(x0 + i), s0);
        float t0 = hsum(s0);
        for (; i < n; i++)
            t0 += q[i] * x0[i];
        out[r] = t0;
    }
}

/* int8 dot: widen 16 bytes to int16, vpmaddwd pairs into int32 lanes. */
static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, long n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i + 16)));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    int32_t t = _mm_cvtsi128_si32(h);
    for (; i < n; i++)
        t += (int32_t)a[i] * b[i];
    return t;
}

const qr_kernels qr_kernels_avx2 = {
    .name = "avx2",
    .gemm = gemm_avx2,
    .layernorm = layernorm_avx2,
    .attention = attention_avx2,
    .gelu = gelu_avx2,
    .softmax = softmax_avx2,
    .dot = dot_avx2,
    .axpy = axpy_avx2,
    .dot_rows = dot_rows_avx2,
    .dot_i8 = dot_i8_avx2,
    .exp_sum = exp_sum,
};
