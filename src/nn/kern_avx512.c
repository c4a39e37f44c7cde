/*
 * kern_avx512.c — AVX-512 (F/BW/VL/DQ + FMA) kernels, fp32 only. Compiled with the
 * AVX-512 -m flags and reached only through qr_nn_get("avx512") after CPUID/XGETBV.
 *
 * GEMM: a register-blocked micro-kernel computes a tile of MR rows x NP panels
 * (NP*16 columns) over the whole k range: MR*NP zmm accumulators, NP panel vectors
 * streamed from the packed weights and one broadcast A element per row and step.
 * With NP = 2, MR = 12 that is 24 FMAs for 14 loads per k step, enough to keep both
 * FMA pipes busy. The accumulators go to a small stack tile and a shared epilogue adds
 * bias, GELU and residual with masked loads/stores, so a partial last panel writes only
 * its valid columns. The driver sweeps all row tiles of a row chunk over one panel
 * group before moving on, so the group (2 x k x 64 bytes) is read from memory once per
 * chunk and then hits L1/L2, and the chunk's rows of A stay in L2.
 *
 * Attention reuses the micro-kernel twice per block of 6 query rows: scores against all
 * keys (K transposed once into panel layout in scratch, 16x16 blocks in registers), then
 * softmax on the block while it is in L1, then O = P V with V rows read in place and
 * the 1/sum normalisation applied to the output.
 *
 * Accuracy: every kernel is exact fp32 (no BF16/VNNI). exp uses a Cephes-style
 * polynomial (about 1 ulp) with vscalefps for the 2^n step, which underflows to 0 for
 * very negative inputs (softmax with -inf gives 0, not NaN). erf for GELU follows
 * N. Juffa's faithfully rounded erff (stackoverflow.com/q/35148198), with the tail
 * branch giving 1 + erf(x) = erfc(|x|) directly for negative x (no cancellation).
 */
#include <immintrin.h>

#include "nn.h"
#include "avx512_math.h"

#define MR_MAX 12 /* rows per micro-tile: 12 row pointers + 3 fit the 15 free GPRs */
#define NP_MAX 4  /* panels per micro-tile */
#define KEY_BLOCK 64 /* keys per Q K^T micro-kernel call: NP_MAX panels */

/* ---- vector helpers ---------------------------------------------------------------- */

AI float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

/* ---- GEMM micro-kernel ------------------------------------------------------------------ */

/* tile[r][q*16 + j] = sum_k a[r*lda + k] * b[q*bp + k*bk + j] for r < MR, q < NP, j < 16.
 * Panel vectors are read whole (the packed layout pads panels with zeros). Each k step
 * also prefetches 64 bytes of pf + k*bk into L2: the driver points pf at the panel it
 * will need next, so weights streaming from DRAM arrive ahead of use. */
AI void ukr_body(const int NP, const int MR, const float *a, long lda, const float *b,
                 long bk, long bp, int kn, float *tile, const float *pf)
{
    __m512 acc[MR_MAX][NP_MAX];
    const float *ar[MR_MAX];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        ar[r] = a + r * lda;
#pragma GCC unroll 4
        for (int q = 0; q < NP; q++)
            acc[r][q] = _mm512_setzero_ps();
    }
    for (int k = 0; k < kn; k++) {
        __m512 bv[NP_MAX];
#pragma GCC unroll 4
        for (int q = 0; q < NP; q++)
            bv[q] = _mm512_loadu_ps(b + q * bp);
        b += bk;
        _mm_prefetch((const char *)pf, _MM_HINT_T1);
        pf += bk;
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(ar[r][k]);
#pragma GCC unroll 4
            for (int q = 0; q < NP; q++)
                acc[r][q] = _mm512_fmadd_ps(av, bv[q], acc[r][q]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
        for (int q = 0; q < NP; q++)
            _mm512_store_ps(tile + (r * NP + q) * 16, acc[r][q]);
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
#define UKR6(NP) UKR(NP, 1) UKR(NP, 2) UKR(NP, 3) UKR(NP, 4) UKR(NP, 5) UKR(NP, 6)
#define UKR8(NP) UKR6(NP) UKR(NP, 7) UKR(NP, 8)
#define UKR12(NP) UKR8(NP) UKR(NP, 9) UKR(NP, 10) UKR(NP, 11) UKR(NP, 12)
UKR12(1)
UKR12(2)
UKR8(3)
UKR6(4)

#define L6(NP) ukr_##NP##_1, ukr_##NP##_2, ukr_##NP##_3, ukr_##NP##_4, ukr_##NP##_5, ukr_##NP##_6
#define L8(NP) L6(NP), ukr_##NP##_7, ukr_##NP##_8
#define L12(NP) L8(NP), ukr_##NP##_9, ukr_##NP##_10, ukr_##NP##_11, ukr_##NP##_12

/* ukr_tab[NP][MR]; mr_max[NP] is the largest MR that fits the 32 zmm registers. */
static const ukr_fn ukr_tab[NP_MAX + 1][MR_MAX + 1] = {
    [1] = {NULL, L12(1)},
    [2] = {NULL, L12(2)},
    [3] = {NULL, L8(3)},
    [4] = {NULL, L6(4)},
};
static const int mr_max[NP_MAX + 1] = {0, 12, 12, 8, 6};

/* Rows of tile ti when `rows` rows are split into nt near-equal tiles. */
AI int tile_rows(int rows, int nt, int ti) { return rows / nt + (ti < rows % nt); }

/* ---- GEMM --------------------------------------------------------------------------------- */

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
            __mmask16 mk = tail_mask(n - j0);
            __m512 v = _mm512_load_ps(tile + (r * np + q) * 16);
            if (g->bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, g->bias + j0));
            if (g->act == QR_ACT_GELU)
                v = v_gelu(v);
            if (res)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, res + j0));
            _mm512_mask_storeu_ps(c + j0, mk, v);
        }
    }
}

/* Rows per chunk: the chunk's A rows (chunk x k floats) should stay in L2 while every
 * panel group sweeps over them. */
#ifndef GEMM_A_BYTES
#define GEMM_A_BYTES (256 * 1024)
#endif
static int gemm_chunk_rows(int kn)
{
    int rows = (int)((GEMM_A_BYTES / sizeof(float)) / (size_t)(kn > 0 ? kn : 1));
    rows = rows / 12 * 12;
    return rows < 24 ? 24 : rows > 480 ? 480 : rows;
}

static void gemm_avx512(const qr_gemm_args *g)
{
    const qr_packed *w = g->w;
    const int kn = w->k;
    const int p1 = QR_MIN_INT(g->p1, w->n_panels);
    if (g->m <= 0 || g->p0 >= p1)
        return;
    /* Few rows: more panels per tile keep enough independent accumulators in flight. */
    const int np_pref = g->m <= 3 ? 4 : 2;
    const int chunk = gemm_chunk_rows(kn);
    const long pstride = (long)kn * QR_PANEL;
    _Alignas(64) float tile[MR_MAX * NP_MAX * 16];
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

static void layernorm_avx512(float *x, long ldx, int m, int n, const float *gamma,
                             const float *beta, float eps)
{
    const double inv_n = 1.0 / (n > 0 ? n : 1);
    for (int i = 0; i < m; i++) {
        float *row = x + (size_t)i * ldx;
        /* mean and variance in double, two passes, like the reference */
        __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
        for (int j = 0; j < n; j += 16) {
            __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - j), row + j);
            s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
            s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
        }
        const double mean = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) * inv_n;
        const __m512d vmean = _mm512_set1_pd(mean);
        s0 = _mm512_setzero_pd();
        s1 = _mm512_setzero_pd();
        for (int j = 0; j < n; j += 16) {
            __mmask16 mk = tail_mask(n - j);
            __m512 v = _mm512_maskz_loadu_ps(mk, row + j);
            __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vmean);
            __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vmean);
            s0 = _mm512_mask3_fmadd_pd(d0, d0, s0, (__mmask8)mk);
            s1 = _mm512_mask3_fmadd_pd(d1, d1, s1, (__mmask8)(mk >> 8));
        }
        const double var = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) * inv_n;
        const __m512 inv = _mm512_set1_ps((float)(1.0 / __builtin_sqrt(var + eps)));
        for (int j = 0; j < n; j += 16) {
            __mmask16 mk = tail_mask(n - j);
            __m512 v = _mm512_maskz_loadu_ps(mk, row + j);
            __m256 d0 = _mm512_cvtpd_ps(
                _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vmean));
            __m256 d1 = _mm512_cvtpd_ps(
                _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vmean));
            __m512 d = _mm512_insertf32x8(_mm512_castps256_ps512(d0), d1, 1);
            __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(d, inv), _mm512_maskz_loadu_ps(mk, gamma + j),
                                       _mm512_maskz_loadu_ps(mk, beta + j));
            _mm512_mask_storeu_ps(row + j, mk, y);
        }
    }
}

/* exp(x - mx) in place over n values; returns the sum. */
static float exp_sum_avx512(float *x, long n, float mx)
{
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        __m512 e = v_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), vmx));
        _mm512_mask_storeu_ps(x + i, mk, e);
        sum = _mm512_mask_add_ps(sum, mk, sum, e);
    }
    return hsum(sum);
}

static void softmax_avx512(float *x, long n)
{
    if (n <= 0)
        return;
    const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
    __m512 mx = ninf;
    for (long i = 0; i < n; i += 16)
        mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        __m512 e = v_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), vmax));
        _mm512_mask_storeu_ps(x + i, mk, e);
        sum = _mm512_mask_add_ps(sum, mk, sum, e);
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / (double)hsum(sum)));
    for (long i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), inv));
    }
}

static void gelu_avx512(float *x, long n)
{
    for (long i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, mk, v_gelu(_mm512_maskz_loadu_ps(mk, x + i)));
    }
}

static float dot_avx512(const float *a, const float *b, long n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + i), _mm512_maskz_loadu_ps(mk, b + i), s0);
    }
    return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static void axpy_avx512(float *y, const float *x, float alpha, long n)
{
    const __m512 va = _mm512_set1_ps(alpha);
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        __m512 v = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mk, x + i),
                                   _mm512_maskz_loadu_ps(mk, y + i));
        _mm512_mask_storeu_ps(y + i, mk, v);
    }
}

/* ---- attention ---------------------------------------------------------------------------- */

/* Keys [0, nk) of k (d % 16 == 0) in panel layout:
 * kp[q][c][jj] = k[16q + jj][c], zero past nk. */
static void pack_keys(float *kp, const float *k, long ldk, int nk, int d)
{
    for (int q = 0; q * 16 < nk; q++) {
        int rows = QR_MIN_INT(16, nk - q * 16);
        const float *kq = k + (long)q * 16 * ldk;
        float *dst = kp + (size_t)q * (size_t)d * 16;
        for (int c = 0; c < d; c += 16) {
            __m512 r[16];
            for (int jj = 0; jj < 16; jj++)
                r[jj] = jj < rows ? _mm512_loadu_ps(kq + jj * ldk + c) : _mm512_setzero_ps();
            transpose16(r);
            for (int cc = 0; cc < 16; cc++)
                _mm512_storeu_ps(dst + (size_t)(c + cc) * 16, r[cc]);
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
            s[j] = at->scale * dot_avx512(q, at->k + (size_t)j * at->ldk, at->d);
        softmax_avx512(s, at->t);
        float *o = at->out + (size_t)i * at->ldo;
        for (int c = 0; c < at->d; c++)
            o[c] = 0.0f;
        for (int j = 0; j < at->t; j++)
            axpy_avx512(o, at->v + (size_t)j * at->ldv, s[j], at->d);
    }
}

/* Query rows go through attention in blocks of ATT_MR: their scores against all keys
 * (ATT_MR x t floats) stay in L1 from Q K^T through softmax to P V, and the packed keys
 * and V rows are reused from L2 by every block. NP = 4 panels x 6 rows fills the
 * registers for both products at d = 64. */
#define ATT_MR 6

/* s[r][j] = scale * q_(i0+r) . k_j for r < mr, all keys (row stride t); mx[r] = row max. */
static void attn_block_scores(const qr_attn_args *at, const float *kp, int i0, int mr,
                              float *s, float *mx, float *tile)
{
    const int t = at->t, d = at->d;
    const __m512 scale = _mm512_set1_ps(at->scale);
    __m512 vmax[ATT_MR];
    for (int r = 0; r < mr; r++)
        vmax[r] = _mm512_set1_ps(-__builtin_inff());
    for (int j0 = 0; j0 < t; j0 += KEY_BLOCK) {
        int nk = QR_MIN_INT(KEY_BLOCK, t - j0);
        int np = (nk + 15) / 16;
        const float *kb = kp + (size_t)j0 * d; /* panel j0/16 */
        ukr_tab[np][mr](at->q + (size_t)i0 * at->ldq, at->ldq, kb, 16, (long)d * 16, d, tile,
                        kb);
        for (int r = 0; r < mr; r++) {
            for (int q = 0; q < np; q++) {
                __mmask16 mk = tail_mask(nk - q * 16);
                __m512 v = _mm512_mul_ps(_mm512_load_ps(tile + (r * np + q) * 16), scale);
                _mm512_mask_storeu_ps(s + (size_t)r * t + j0 + q * 16, mk, v);
                vmax[r] = _mm512_mask_max_ps(vmax[r], mk, vmax[r], v);
            }
        }
    }
    for (int r = 0; r < mr; r++)
        mx[r] = _mm512_reduce_max_ps(vmax[r]);
}

/* s[r][j] = exp(s[r][j] - mx[r]) in place; inv[r] = 1 / sum_j s[r][j]. */
static void attn_block_exp(float *s, int t, int mr, const float *mx, float *inv)
{
    for (int r = 0; r < mr; r++) {
        float *row = s + (size_t)r * t;
        const __m512 vmx = _mm512_set1_ps(mx[r]);
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < t; j += 16) {
            __mmask16 mk = tail_mask(t - j);
            __m512 e = v_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + j), vmx));
            _mm512_mask_storeu_ps(row + j, mk, e);
            sum = _mm512_mask_add_ps(sum, mk, sum, e);
        }
        inv[r] = (float)(1.0 / (double)hsum(sum));
    }
}

/* out rows [i0, i0+mr) = inv[r] * sum_j s[r][j] v_j, V rows read in place. */
static void attn_block_values(const qr_attn_args *at, const float *s, int i0, int mr,
                              const float *inv, float *tile)
{
    const int t = at->t, d = at->d;
    for (int c0 = 0; c0 < d; c0 += NP_MAX * 16) {
        int np = QR_MIN_INT(NP_MAX, (d - c0) / 16);
        ukr_tab[np][mr](s, t, at->v + c0, at->ldv, 16, t, tile, at->v + c0);
        for (int r = 0; r < mr; r++) {
            float *o = at->out + (size_t)(i0 + r) * at->ldo + c0;
            const __m512 vinv = _mm512_set1_ps(inv[r]);
            for (int q = 0; q < np; q++)
                _mm512_storeu_ps(o + q * 16,
                                 _mm512_mul_ps(_mm512_load_ps(tile + (r * np + q) * 16), vinv));
        }
    }
}

static void attention_avx512(const qr_attn_args *at)
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
    _Alignas(64) float tile[MR_MAX * NP_MAX * 16];
    float mx[ATT_MR], inv[ATT_MR];
    const int nt = (t + ATT_MR - 1) / ATT_MR;
    for (int ti = 0, i0 = 0; ti < nt; ti++) {
        int mr = tile_rows(t, nt, ti);
        attn_block_scores(at, kp, i0, mr, s, mx, tile);
        attn_block_exp(s, t, mr, mx, inv);
        attn_block_values(at, s, i0, mr, inv, tile);
        i0 += mr;
    }
}

/* Four rows per step share each query load; four independent FMA chains hide the
 * latency, so the loop runs at memory speed (the caller streams rows once). */
static void dot_rows_avx512(const float *q, const float *x, long ld, long m, long n, float *out)
{
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (long i = 0; i < n; i += 16) {
            __mmask16 mk = tail_mask(n - i);
            __m512 vq = _mm512_maskz_loadu_ps(mk, q + i);
            /* the next group's rows: the hardware prefetcher alone reaches only
             * ~60% of the read bandwidth on four interleaved streams */
            _mm_prefetch((const char *)(x0 + i + 4 * ld), _MM_HINT_T0);
            _mm_prefetch((const char *)(x1 + i + 4 * ld), _MM_HINT_T0);
            _mm_prefetch((const char *)(x2 + i + 4 * ld), _MM_HINT_T0);
            _mm_prefetch((const char *)(x3 + i + 4 * ld), _MM_HINT_T0);
            s0 = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, x0 + i), s0);
            s1 = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, x1 + i), s1);
            s2 = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, x2 + i), s2);
            s3 = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, x3 + i), s3);
        }
        out[r] = hsum(s0);
        out[r + 1] = hsum(s1);
        out[r + 2] = hsum(s2);
        out[r + 3] = hsum(s3);
    }
    /* the last rows as each row of a group (one accumulator, the same order): a row's
       score does not depend on its position, so equal vectors score exactly equal */
    for (; r < m; r++) {
        const float *x0 = x + r * ld;
        __m512 s0 = _mm512_setzero_ps();
        for (long i = 0; i < n; i += 16) {
            __mmask16 mk = tail_mask(n - i);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, q + i), _mm512_maskz_loadu_ps(mk, x0 + i), s0);
        }
        out[r] = hsum(s0);
    }
}

/* int8 dot: widen 32 bytes to int16, vpmaddwd pairs into int32 lanes. */
static int32_t dot_i8_avx512(const int8_t *a, const int8_t *b, long n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512i a1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
        __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(a1, b1));
    }
    for (; i < n; i += 32) {
        long rem = n - i;
        __mmask32 mk = rem >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << rem) - 1u);
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mk, a + i));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mk, b + i));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

const qr_kernels qr_kernels_avx512 = {
    .name = "avx512",
    .gemm = gemm_avx512,
    .layernorm = layernorm_avx512,
    .attention = attention_avx512,
    .gelu = gelu_avx512,
    .softmax = softmax_avx512,
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .dot_rows = dot_rows_avx512,
    .dot_i8 = dot_i8_avx512,
    .exp_sum = exp_sum_avx512,
};

/* QUIRE_CPU=amx: the same fp32 kernels; the level lets bf16/int8 use the AMX tiles. */
const qr_kernels qr_kernels_avx512_amx = {
    .name = "amx",
    .gemm = gemm_avx512,
    .layernorm = layernorm_avx512,
    .attention = attention_avx512,
    .gelu = gelu_avx512,
    .softmax = softmax_avx512,
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .dot_rows = dot_rows_avx512,
    .dot_i8 = dot_i8_avx512,
    .exp_sum = exp_sum_avx512,
};
