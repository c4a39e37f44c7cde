/*
 * avx512_math.h — AVX-512 vector helpers shared by the fp32 kernels (kern_avx512.c) and
 * the low-precision kernels (kern_lp_avx512.c), so that the GELU of a fused bf16/int8
 * epilogue is bit for bit the fp32 table's. Include only from files compiled with the
 * AVX-512 F/BW/VL/DQ + FMA flags.
 *
 * exp uses a Cephes-style polynomial (about 1 ulp) with vscalefps for the 2^n step, which
 * underflows to 0 for very negative inputs (softmax with -inf gives 0, not NaN). erf for
 * GELU follows N. Juffa's faithfully rounded erff (stackoverflow.com/q/35148198), with the
 * tail branch giving 1 + erf(x) = erfc(|x|) directly for negative x (no cancellation).
 */
#ifndef QR_AVX512_MATH_H
#define QR_AVX512_MATH_H

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

AI __mmask16 tail_mask(long n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n > 0 ? n : 0)) - 1u);
}

/* exp(x) ~1 ulp: x = n ln2 + r, |r| <= ln2/2, e^r by polynomial, 2^n by vscalefps. */
AI __m512 v_exp(__m512 x)
{
    /* max(c, x)/min(c, x) return x when x is NaN, so NaN propagates. */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* GELU(x) = 0.5 x (1 + erf(x / sqrt 2)). */
AI __m512 v_gelu(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_abs_ps(z);
    __m512 s = _mm512_mul_ps(z, z);
    /* |z| <= 0.927734375: erf(z) = z + z * P(z^2) */
    __m512 p = _mm512_set1_ps(-5.96761703e-4f);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(4.99119423e-3f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-2.67681349e-2f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.12819925e-1f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-3.76125336e-1f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.28379166e-1f));
    __m512 small = _mm512_add_ps(one, _mm512_fmadd_ps(p, z, z));
    /* otherwise erfc(|z|) = exp(Q(|z|)) */
    __m512 r = _mm512_fmadd_ps(_mm512_set1_ps(-1.72853470e-5f), t, _mm512_set1_ps(3.83197126e-4f));
    __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(-3.88396438e-3f), t, _mm512_set1_ps(2.42546219e-2f));
    r = _mm512_fmadd_ps(r, s, u);
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-1.06777877e-1f));
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-6.34846687e-1f));
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-1.28717512e-1f));
    r = _mm512_fmsub_ps(r, t, t);
    __m512 e = v_exp(r);
    __mmask16 big = _mm512_cmp_ps_mask(t, _mm512_set1_ps(0.927734375f), _CMP_GT_OQ);
    __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 onep = _mm512_mask_blend_ps(big & (__mmask16)~neg, small,
                                       _mm512_sub_ps(_mm512_set1_ps(2.0f), e));
    onep = _mm512_mask_blend_ps(big & neg, onep, e);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), onep);
}

/* In-register transpose of a 16x16 block: r[i][j] -> r[j][i]. */
AI void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    __m512 u[16];
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* u[4g + c] holds columns c, c+4, c+8, c+12 (one per 128-bit lane) of rows 4g..4g+3 */
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[c + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

#endif /* QR_AVX512_MATH_H */
