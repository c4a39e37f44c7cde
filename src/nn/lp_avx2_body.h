/*
 * lp_avx2_body.h — the int8 GEMM on 256-bit vectors, included by kern_lp_avxvnni.c
 * (LP_VNNI 1: AVX-VNNI vpdpbusd, Intel client CPUs since Alder Lake, AMD Zen 4/5) and
 * kern_lp_avx2.c (LP_VNNI 0: AVX2 only). Two files because the VNNI instruction needs
 * its -m flag and the AVX2 kernel must not be compiled with it.
 *
 * Weights: the layout of linear.h ([k/4][16][4] int8 per panel of 16 columns: two ymm
 * per k step). A micro-tile is up to 6 rows x 1 panel: 12 accumulators, 2 weight loads
 * and 6 broadcasts of 4 activation bytes per k step (15 of the 16 ymm registers).
 *
 * Arithmetic (exact int32, as the scalar reference):
 *  - VNNI: vpdpbusd of u8 = q + 128 with s8 weights, then - 128 sum_k w (as avx512-vnni);
 *  - AVX2: vpmaddubsw saturates int16, and (q + 128) * w pairs reach 2 * 255 * 127, so it
 *    works on q itself: |q| (u8 <= 127) times w with q's sign (vpsignb), pairs at most
 *    2 * 127 * 127 < 32767, then vpmaddwd by 1 to int32: sum q w exactly, no offset.
 * The dequantization is the reference's (float(acc) * (sx * sw)); bias, GELU (the fp32
 * table's, g->gelu) and residual go through the shared qr_lp_epilogue.
 */
#include <immintrin.h>
#include <string.h>

#include "nn.h"

#define AI static inline __attribute__((always_inline))
#define MR_MAX 6
#define MC 96 /* rows per chunk: the chunk's activations stay in L2 over all panels */

AI int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

AI void ukr(const int MR, const unsigned char *a, long lda, const signed char *b, int steps,
            int32_t *tile)
{
    __m256i acc[MR_MAX][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
#if !LP_VNNI
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
#endif
    for (int s = 0; s < steps; s++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(b + (long)s * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + (long)s * 64 + 32));
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256i av = _mm256_set1_epi32(ld32(a + r * lda + (long)s * 4));
#if LP_VNNI
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, b1);
#else
            __m256i q = _mm256_xor_si256(av, flip); /* u8 q + 128 -> s8 q */
            __m256i aq = _mm256_sign_epi8(q, q);    /* |q| */
            __m256i p0 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(b0, q));
            __m256i p1 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(b1, q));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
#endif
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_si256((__m256i *)(void *)(tile + r * 16), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(void *)(tile + r * 16 + 8), acc[r][1]);
    }
}

typedef void (*ukr_fn)(const unsigned char *a, long lda, const signed char *b, int steps,
                       int32_t *tile);
#define UKR(MR)                                                                             \
    static void ukr_##MR(const unsigned char *a, long lda, const signed char *b, int steps, \
                         int32_t *tile)                                                     \
    {                                                                                       \
        ukr(MR, a, lda, b, steps, tile);                                                    \
    }
UKR(1) UKR(2) UKR(3) UKR(4) UKR(5) UKR(6)
static const ukr_fn ukr_tab[MR_MAX + 1] = {NULL, ukr_1, ukr_2, ukr_3, ukr_4, ukr_5, ukr_6};

static void epilogue(const qr_lp_args *g, int i0, int mr, int p, const int32_t *tile)
{
    const qr_linear *w = g->w;
    int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
    __m256i off0 = _mm256_setzero_si256(), off1 = off0;
#if LP_VNNI
    off0 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(w->wsum + j0)), 7);
    off1 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(w->wsum + j0 + 8)), 7);
#endif
    __m256 ws0 = _mm256_loadu_ps(w->wscale + j0), ws1 = _mm256_loadu_ps(w->wscale + j0 + 8);
    for (int r = 0; r < mr; r++) {
        const int32_t *t = tile + r * 16;
        __m256 sx = _mm256_set1_ps(g->ascale[i0 + r]);
        __m256i a0 = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(const void *)t), off0);
        __m256i a1 = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(t + 8)), off1);
        float v[16];
        _mm256_storeu_ps(v, _mm256_mul_ps(_mm256_cvtepi32_ps(a0), _mm256_mul_ps(sx, ws0)));
        _mm256_storeu_ps(v + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(a1), _mm256_mul_ps(sx, ws1)));
        qr_lp_epilogue(g, i0 + r, j0, nj, v);
    }
}

static void gemm_int8(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    int steps = w->kp / 4;
    long bp = (long)w->kp * QR_PANEL; /* bytes per panel */
    const unsigned char *A = g->a;
    const signed char *B = w->lp;
    int32_t tile[MR_MAX * 16];
    for (int i0 = 0; i0 < g->m; i0 += MC) {
        int mc = QR_MIN_INT(MC, g->m - i0);
        for (int p = g->p0; p < g->p1; p++) {
            for (int i = i0; i < i0 + mc; i += MR_MAX) {
                int mr = QR_MIN_INT(MR_MAX, i0 + mc - i);
                ukr_tab[mr](A + (long)i * g->lda, g->lda, B + (long)p * bp, steps, tile);
                epilogue(g, i, mr, p, tile);
            }
        }
    }
}
