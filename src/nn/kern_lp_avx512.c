/*
 * kern_lp_avx512.c — bf16 GEMM with AVX512-BF16 (vdpbf16ps) and int8 GEMM with
 * AVX512-VNNI (vpdpbusd). Compiled with those -m flags and reached only through
 * qr_lp_get after CPUID/XGETBV (linear.c).
 *
 * Both use the layouts of linear.h: one 64-byte weight vector per panel and k step
 * (2 k of bf16 or 4 k of int8 for 16 output columns), and one 32-bit broadcast of the
 * activation row per k step. A micro-tile is MR rows x NP panels of accumulators over
 * the whole (padded) k; the driver sweeps the row tiles of a chunk of MC rows over one
 * group of panels so that the group stays in L1/L2 while the chunk's rows stay in L2.
 *
 * Arithmetic: bf16 is exactly the scalar reference's (vdpbf16ps: products exact in
 * fp32, the odd pair element added first; denormals are flushed, the reference keeps
 * them, which only matters below 1e-38). int8 is exact int32 (vpdpbusd does not
 * saturate): sum (q_a + 128) q_w - 128 sum q_w = sum q_a q_w; the epilogue converts
 * with the same operations as the reference, so the results are bitwise equal. A bf16
 * output (qr_lp_args.cb: the next layer's input, no separate conversion pass) is rounded
 * as qr_f32_to_bf16 rounds.
 */
#include <immintrin.h>
#include <string.h>

#include "nn.h"
#include "avx512_math.h"
#define MR_MAX 12
#define NP_MAX 2
#define MC 96 /* rows per chunk */

AI int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* tile[r][q*16 + j] (fp32 or int32 bits) over kp/step k steps */
AI void ukr(const int BF, const int NP, const int MR, const unsigned char *a, long lda_b,
            const unsigned char *b, long bp_b, int steps, float *tile)
{
    __m512 acc[MR_MAX][NP_MAX];
    __m512i iacc[MR_MAX][NP_MAX];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int q = 0; q < NP; q++) {
            acc[r][q] = _mm512_setzero_ps();
            iacc[r][q] = _mm512_setzero_si512();
        }
    }
    for (int s = 0; s < steps; s++) {
        __m512i bv[NP_MAX];
#pragma GCC unroll 2
        for (int q = 0; q < NP; q++)
            bv[q] = _mm512_loadu_si512((const void *)(b + q * bp_b + (long)s * 64));
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512i av = _mm512_set1_epi32(ld32(a + r * lda_b + (long)s * 4));
#pragma GCC unroll 2
            for (int q = 0; q < NP; q++) {
                if (BF)
                    acc[r][q] = _mm512_dpbf16_ps(acc[r][q], (__m512bh)av, (__m512bh)bv[q]);
                else
                    iacc[r][q] = _mm512_dpbusd_epi32(iacc[r][q], av, bv[q]);
            }
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
        for (int q = 0; q < NP; q++) {
            if (BF)
                _mm512_storeu_ps(tile + (r * NP + q) * 16, acc[r][q]);
            else
                _mm512_storeu_si512((void *)(tile + (r * NP + q) * 16), iacc[r][q]);
        }
    }
}

typedef void (*ukr_fn)(const unsigned char *a, long lda_b, const unsigned char *b, long bp_b,
                       int steps, float *tile);

#define UKR(BF, NP, MR)                                                                    \
    static void ukr_##BF##_##NP##_##MR(const unsigned char *a, long lda_b,                \
                                       const unsigned char *b, long bp_b, int steps,       \
                                       float *tile)                                        \
    {                                                                                      \
        ukr(BF, NP, MR, a, lda_b, b, bp_b, steps, tile);                                   \
    }
#define UKR_ROWS(BF, NP)                                                                   \
    UKR(BF, NP, 1) UKR(BF, NP, 2) UKR(BF, NP, 3) UKR(BF, NP, 4) UKR(BF, NP, 5)            \
    UKR(BF, NP, 6) UKR(BF, NP, 7) UKR(BF, NP, 8) UKR(BF, NP, 9) UKR(BF, NP, 10)           \
    UKR(BF, NP, 11) UKR(BF, NP, 12)
UKR_ROWS(1, 1)
UKR_ROWS(1, 2)
UKR_ROWS(0, 1)
UKR_ROWS(0, 2)
#define UKR_TAB(BF, NP)                                                                    \
    {NULL,                 ukr_##BF##_##NP##_1,  ukr_##BF##_##NP##_2,  ukr_##BF##_##NP##_3, \
     ukr_##BF##_##NP##_4,  ukr_##BF##_##NP##_5,  ukr_##BF##_##NP##_6,  ukr_##BF##_##NP##_7, \
     ukr_##BF##_##NP##_8,  ukr_##BF##_##NP##_9,  ukr_##BF##_##NP##_10, ukr_##BF##_##NP##_11, \
     ukr_##BF##_##NP##_12}
static const ukr_fn ukr_bf16[NP_MAX + 1][MR_MAX + 1] = {{NULL}, UKR_TAB(1, 1), UKR_TAB(1, 2)};
static const ukr_fn ukr_int8[NP_MAX + 1][MR_MAX + 1] = {{NULL}, UKR_TAB(0, 1), UKR_TAB(0, 2)};

/* bf16, round to nearest even in integer arithmetic (as qr_f32_to_bf16: NaN stays a
 * quiet NaN, denormals are kept, unlike vcvtneps2bf16 which flushes them). */
AI __m256i bf16_rne(__m512 x)
{
    /* vcvtneps2bf16 is this rounding for zeros, normals and infinities; it flushes
     * denormals and keeps NaN payloads its own way, so a vector with any of those takes
     * the integer code (vfpclassps: QNaN 0x01, denormal 0x20, SNaN 0x80) */
    if (__builtin_expect(!_mm512_fpclass_ps_mask(x, 0x01 | 0x20 | 0x80), 1))
        return (__m256i)_mm512_cvtneps_pbh(x);
    __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_add_epi32(
        u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                            _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* The epilogue of a micro-tile, in registers: dequantize (int8), bias, GELU (the fp32
 * table's v_gelu, so the same values as the reference's call of gelu_avx512), residual,
 * masked store of a partial last panel. The same operations in the same order as
 * qr_lp_epilogue and the references' dequantization. */
AI void epilogue(const qr_lp_args *g, const int bf, int i0, int mr, int p, int np,
                 const float *tile)
{
    const qr_linear *w = g->w;
    for (int q = 0; q < np; q++) {
        int j0 = (p + q) * QR_PANEL;
        __mmask16 mk = tail_mask(w->n - j0);
        __m512 bias = g->bias ? _mm512_maskz_loadu_ps(mk, g->bias + j0) : _mm512_setzero_ps();
        __m512i off = _mm512_setzero_si512();
        __m512 ws = _mm512_setzero_ps();
        if (!bf) {
            off = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(w->wsum + j0)), 7);
            ws = _mm512_loadu_ps(w->wscale + j0);
        }
        for (int r = 0; r < mr; r++) {
            int i = i0 + r;
            const float *t = tile + (r * np + q) * 16;
            __m512 v;
            if (bf) {
                v = _mm512_loadu_ps(t);
            } else {
                __m512i acc = _mm512_loadu_si512((const void *)t);
                __m512 s = _mm512_mul_ps(_mm512_set1_ps(g->ascale[i]), ws);
                v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, off)), s);
            }
            if (g->bias)
                v = _mm512_add_ps(v, bias);
            if (g->act == QR_ACT_GELU)
                v = v_gelu(v);
            if (g->res) {
                const float *res = g->res + (size_t)i * g->ldr + j0;
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, res));
                /* the next panel group of this row comes after the chunk's other row
                 * tiles: ask for its residual line now (rows are far apart, so the
                 * hardware prefetchers do not follow them) */
                _mm_prefetch((const char *)(res + np * QR_PANEL), _MM_HINT_T0);
            }
            if (g->cb) { /* the next layer's bf16 input (qr_f32_to_bf16's rounding) */
                uint16_t *cb = g->cb + (size_t)i * g->ldcb + j0;
                _mm256_mask_storeu_epi16((void *)cb, mk, bf16_rne(v));
                __builtin_prefetch(cb + np * QR_PANEL, 1, 3);
            } else {
                float *c = g->c + (size_t)i * g->ldc + j0;
                _mm512_mask_storeu_ps(c, mk, v);
                __builtin_prefetch(c + np * QR_PANEL, 1, 3);
            }
        }
    }
}

static void gemm_lp(const qr_lp_args *g, int bf)
{
    const qr_linear *w = g->w;
    long esz = bf ? 2 : 1;
    long lda_b = g->lda * esz;
    long bp_b = (long)w->kp * QR_PANEL * esz; /* bytes per panel */
    int steps = bf ? w->kp / 2 : w->kp / 4;
    const unsigned char *A = g->a;
    const unsigned char *B = w->lp;
    float tile[MR_MAX * NP_MAX * 16];
    for (int i0 = 0; i0 < g->m; i0 += MC) {
        int mc = QR_MIN_INT(MC, g->m - i0);
        for (int p = g->p0; p < g->p1; p += NP_MAX) {
            int np = QR_MIN_INT(NP_MAX, g->p1 - p);
            for (int i = i0; i < i0 + mc; i += MR_MAX) {
                int mr = QR_MIN_INT(MR_MAX, i0 + mc - i);
                ukr_fn f = bf ? ukr_bf16[np][mr] : ukr_int8[np][mr];
                f(A + (long)i * lda_b, lda_b, B + (long)p * bp_b, bp_b, steps, tile);
                if (bf)
                    epilogue(g, 1, i, mr, p, np, tile);
                else
                    epilogue(g, 0, i, mr, p, np, tile);
            }
        }
    }
}

static void gemm_bf16(const qr_lp_args *g) { gemm_lp(g, 1); }
static void gemm_int8(const qr_lp_args *g) { gemm_lp(g, 0); }

/* ---- activation conversion: the portable code of linear.c, 16 floats at a time, with
 * the same results bit for bit (tested against it in test_lowp) ------------------------ */

static void convert_bf16(const float *a, long lda, int k, int kp, void *dst, float *scale,
                         long r0, long r1)
{
    (void)scale;
    for (long i = r0; i < r1; i++) {
        const float *s = a + (size_t)i * lda;
        uint16_t *d = (uint16_t *)dst + (size_t)i * kp;
        for (int kk = 0; kk < kp; kk += 16) {
            __mmask16 mk = tail_mask(k - kk);
            _mm256_storeu_si256((__m256i *)(void *)(d + kk),
                                bf16_rne(_mm512_maskz_loadu_ps(mk, s + kk)));
        }
    }
}

/* int8 per row: amax (NaN skipped: max(v, m) keeps m when v is NaN, as `v > m ? v : m`),
 * then q = trunc(clamp(x * 127/amax) + copysign(0.5)) + 128 (NaN -> -127, as fmaxf). */
static void convert_int8(const float *a, long lda, int k, int kp, void *dst, float *scale,
                         long r0, long r1)
{
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i half = _mm512_castps_si512(_mm512_set1_ps(0.5f));
    for (long i = r0; i < r1; i++) {
        const float *s = a + (size_t)i * lda;
        uint8_t *d = (uint8_t *)dst + (size_t)i * kp;
        __m512 m0 = _mm512_setzero_ps(), m1 = m0;
        int kk = 0;
        for (; kk + 32 <= k; kk += 32) {
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(s + kk)), m0);
            m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(s + kk + 16)), m1);
        }
        for (; kk < k; kk += 16)
            m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(k - kk), s + kk)),
                               m0);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        scale[i] = amax > 0.0f ? amax / 127.0f : 0.0f;
        const __m512 vinv = _mm512_set1_ps(inv);
        for (kk = 0; kk < kp; kk += 16) {
            __mmask16 mk = tail_mask(k - kk);
            __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, s + kk), vinv);
            x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
            __m512 h = _mm512_castsi512_ps(
                _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(x), sign), half));
            __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_add_ps(x, h)),
                                         _mm512_set1_epi32(128));
            q = _mm512_mask_mov_epi32(_mm512_set1_epi32(128), mk, q); /* k padding */
            _mm_storeu_si128((__m128i *)(void *)(d + kk), _mm512_cvtepi32_epi8(q));
        }
    }
}

/* ---- bf16 attention (qr_attention_bf16_ref's arithmetic) ---------------------------------
 *
 * One (sequence, head): Q rows, K and V converted to bf16 once (K in the weight layout of
 * linear.h, one panel per 16 keys: [t/16][d/2][16][2]; V with keys as the k of the product:
 * [d/16][tp/2][16][2]); then per block of MR_MAX query rows: scores against all keys with
 * the GEMM micro-kernel (fp32, scaled, row max), p = bf16(exp(s - max)) and their sum, and
 * P V with the same micro-kernel, scaled by 1 / sum. The scores of a block (MR_MAX x t
 * floats) and its P stay in L1/L2; nothing is t x t. */

/* 16 floats to bf16 (round to nearest even) and back to fp32 in one register. */
AI __m512 bf16_back(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

int qr_attention_bf16_avx512(const qr_attn_args *at)
{
    const int t = at->t, d = at->d;
    if (t <= 0 || d <= 0)
        return 1;
    if (at->bias || d % 16 != 0 || t > QR_ATTN_DIRECT_MAX)
        return 0;
    const size_t tp = ((size_t)t + 15) / 16 * 16;
    /* scratch in floats: Q, K, V in bf16 (tp * d / 2 each), scores, P */
    const size_t qkv_len = tp * (size_t)d / 2, s_len = (size_t)MR_MAX * tp;
    if (3 * qkv_len + s_len + s_len / 2 > QR_ATTN_SCRATCH(t, d))
        return 0;
    uint16_t *qb = (uint16_t *)(void *)at->scratch;
    uint16_t *kp = qb + tp * (size_t)d;
    uint16_t *vp = kp + tp * (size_t)d;
    float *s = at->scratch + 3 * qkv_len;
    uint16_t *pb = (uint16_t *)(void *)(s + s_len);
    const int dp = d / 2; /* pairs of the head */
    /* even / odd columns of a 32-column row held as 16 + 16 zero-extended bf16 */
    const __m512i pair_lo = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i pair_hi = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    /* Q: rows of d bf16 */
    for (int i = 0; i < t; i++) {
        const float *q = at->q + (size_t)i * at->ldq;
        for (int c = 0; c < d; c += 16)
            _mm256_storeu_si256((__m256i *)(void *)(qb + (size_t)i * d + c),
                                bf16_rne(_mm512_loadu_ps(q + c)));
    }
    /* K: kp[panel][cp][jj][e] = k[16 panel + jj][2 cp + e]: 16 keys x 16 pairs of head
     * columns (one 32-bit word each) transposed in registers give 16 of those 64-byte rows */
    for (size_t j0 = 0; j0 < tp; j0 += 16) {
        const int rows = QR_MIN_INT(16, t - (int)j0);
        for (int c = 0; c < d; c += 32) {
            __m512 r[16];
            for (int jj = 0; jj < 16; jj++) {
                const float *kr = at->k + (j0 + (size_t)jj) * at->ldk + c;
                __m512i lo = jj < rows ? _mm512_cvtepu16_epi32(bf16_rne(_mm512_loadu_ps(kr)))
                                       : _mm512_setzero_si512();
                __m512i hi = jj < rows && c + 16 < d
                                 ? _mm512_cvtepu16_epi32(bf16_rne(_mm512_loadu_ps(kr + 16)))
                                 : _mm512_setzero_si512();
                /* words: (col c + 2w, col c + 2w + 1) for w < 16 */
                __m512i ev = _mm512_permutex2var_epi32(lo, pair_lo, hi);
                __m512i od = _mm512_permutex2var_epi32(lo, pair_hi, hi);
                r[jj] = _mm512_castsi512_ps(_mm512_or_si512(ev, _mm512_slli_epi32(od, 16)));
            }
            transpose16(r);
            const int npair = QR_MIN_INT(16, (d - c) / 2);
            for (int w = 0; w < npair; w++)
                _mm512_storeu_ps((float *)(void *)(kp + ((j0 / 16) * (size_t)dp + (size_t)(c / 2 + w)) * 32), r[w]);
        }
    }
    /* V: vp[cpan][jp][cc][e] = v[2 jp + e][16 cpan + cc] */
    const size_t tpp = tp / 2;
    for (size_t jp = 0; jp < tpp; jp++) {
        long j = 2 * (long)jp;
        const float *v0 = at->v + (size_t)j * at->ldv, *v1 = v0 + at->ldv;
        for (int c = 0; c < d; c += 16) {
            __m512 a0 = j < t ? _mm512_loadu_ps(v0 + c) : _mm512_setzero_ps();
            __m512 a1 = j + 1 < t ? _mm512_loadu_ps(v1 + c) : _mm512_setzero_ps();
            __m512i lo = _mm512_cvtepu16_epi32(bf16_rne(a0));
            __m512i hi = _mm512_slli_epi32(_mm512_cvtepu16_epi32(bf16_rne(a1)), 16);
            _mm512_storeu_si512((void *)(vp + ((size_t)(c / 16) * tpp + jp) * 32),
                                _mm512_or_si512(lo, hi));
        }
    }
    const long q_b = (long)d * 2, kpan_b = (long)d * 16 * 2, vpan_b = (long)tpp * 64;
    const __m512 scale = _mm512_set1_ps(at->scale);
    float tile[MR_MAX * NP_MAX * 16];
    for (int i0 = 0; i0 < t; i0 += MR_MAX) {
        const int mr = QR_MIN_INT(MR_MAX, t - i0);
        __m512 vmax[MR_MAX];
        for (int r = 0; r < mr; r++)
            vmax[r] = _mm512_set1_ps(-__builtin_inff());
        for (int j0 = 0; j0 < t; j0 += NP_MAX * 16) {
            int np = QR_MIN_INT(NP_MAX, (t - j0 + 15) / 16);
            ukr_bf16[np][mr]((const unsigned char *)(qb + (size_t)i0 * d), q_b,
                             (const unsigned char *)kp + (long)(j0 / 16) * kpan_b, kpan_b, dp,
                             tile);
            for (int r = 0; r < mr; r++) {
                for (int q = 0; q < np; q++) {
                    __mmask16 mk = tail_mask(t - j0 - q * 16);
                    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(tile + (r * np + q) * 16), scale);
                    _mm512_storeu_ps(s + (size_t)r * tp + j0 + q * 16, v);
                    vmax[r] = _mm512_mask_max_ps(vmax[r], mk, vmax[r], v);
                }
            }
        }
        float inv[MR_MAX];
        for (int r = 0; r < mr; r++) {
            const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[r]));
            const float *row = s + (size_t)r * tp;
            uint16_t *prow = pb + (size_t)r * tp;
            __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
            for (size_t j = 0; j < tp; j += 32) { /* tp % 16 == 0: one or two vectors */
                __mmask16 m0 = tail_mask(t - (long)j), m1 = tail_mask(t - (long)j - 16);
                __m256i h0 = bf16_rne(_mm512_maskz_mov_ps(m0, v_exp(_mm512_sub_ps(_mm512_loadu_ps(row + j), mx))));
                _mm256_storeu_si256((__m256i *)(void *)(prow + j), h0);
                sum0 = _mm512_add_ps(sum0, bf16_back(h0));
                if (j + 16 < tp) {
                    __m256i h1 = bf16_rne(_mm512_maskz_mov_ps(m1, v_exp(_mm512_sub_ps(_mm512_loadu_ps(row + j + 16), mx))));
                    _mm256_storeu_si256((__m256i *)(void *)(prow + j + 16), h1);
                    sum1 = _mm512_add_ps(sum1, bf16_back(h1));
                }
            }
            inv[r] = (float)(1.0 / (double)_mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1)));
        }
        for (int c0 = 0; c0 < d; c0 += NP_MAX * 16) {
            int np = QR_MIN_INT(NP_MAX, (d - c0) / 16);
            ukr_bf16[np][mr]((const unsigned char *)pb, (long)tp * 2,
                             (const unsigned char *)vp + (long)(c0 / 16) * vpan_b, vpan_b,
                             (int)tpp, tile);
            for (int r = 0; r < mr; r++) {
                const __m512 vinv = _mm512_set1_ps(inv[r]);
                if (at->outb) { /* the next linear layer's bf16 input */
                    uint16_t *ob = at->outb + (size_t)(i0 + r) * at->ldob + c0;
                    for (int q = 0; q < np; q++)
                        _mm256_storeu_si256((__m256i *)(void *)(ob + q * 16),
                                            bf16_rne(_mm512_mul_ps(_mm512_loadu_ps(tile + (r * np + q) * 16), vinv)));
                    continue;
                }
                float *o = at->out + (size_t)(i0 + r) * at->ldo + c0;
                for (int q = 0; q < np; q++)
                    _mm512_storeu_ps(o + q * 16,
                                     _mm512_mul_ps(_mm512_loadu_ps(tile + (r * np + q) * 16), vinv));
            }
        }
    }
    return 1;
}

const qr_lp_kernel qr_lp_avx512_bf16 = {"avx512-bf16", QR_PREC_BF16, gemm_bf16, convert_bf16,
                                       qr_attention_bf16_avx512};
const qr_lp_kernel qr_lp_avx512_vnni = {"avx512-vnni", QR_PREC_INT8, gemm_int8, convert_int8, NULL};
