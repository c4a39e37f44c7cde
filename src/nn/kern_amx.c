/*
 * kern_amx.c — bf16 and int8 GEMM on AMX tiles (Intel Xeon since Sapphire Rapids).
 * Compiled with the AMX -m flags, reached only through qr_lp_get after CPUID/XGETBV
 * and after Linux granted this process the tile data state (arch_prctl
 * ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); if it refuses, the AVX-512 kernels are used.
 *
 * The weight layouts of linear.h are the AMX "B" layout already: 16 consecutive 64-byte
 * rows of a panel (32 k of bf16 / 64 k of int8 for 16 columns) are one B tile. A tiles
 * are 16 activation rows x 64 bytes at the row stride (the scratch rows are padded to a
 * multiple of 16 with zeros, so whole tiles can always be loaded). A block is up to
 * 32 rows x 2 panels: four C tiles (tmm0-3), two A (tmm4-5), two B (tmm6-7).
 *
 * Arithmetic: int8 is exact int32 like the reference (bitwise equal results). bf16
 * (tdpbf16ps) accumulates each pair of products into fp32 in an order and with an
 * internal precision the SDM leaves to the implementation, so it is checked against the
 * reference within a tolerance.
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "nn.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int qr_amx_permit(void)
{
    static atomic_int state; /* 0 unknown, 1 granted, 2 refused */
    int s = atomic_load(&state);
    if (s == 0) {
#if defined(__linux__) && defined(SYS_arch_prctl)
        s = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 ? 1 : 2;
#else
        s = 2;
#endif
        atomic_store(&state, s);
    }
    return s == 1;
}

typedef struct tilecfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

static void config(void)
{
    tilecfg c;
    memset(&c, 0, sizeof(c));
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = 16;
    }
    _tile_loadconfig(&c);
}

static void epilogue(const qr_lp_args *g, int bf, int i0, int rows, int p, const float *t)
{
    const qr_linear *w = g->w;
    int j0 = p * QR_PANEL;
    int nj = QR_MIN_INT(QR_PANEL, w->n - j0);
    for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        __m512 v;
        if (bf) {
            v = _mm512_loadu_ps(t + r * 16);
        } else {
            __m512i acc = _mm512_loadu_si512((const void *)(t + r * 16));
            __m512i off = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(w->wsum + j0)), 7);
            __m512 s =
                _mm512_mul_ps(_mm512_set1_ps(g->ascale[i]), _mm512_loadu_ps(w->wscale + j0));
            v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, off)), s);
        }
        float out[16];
        _mm512_storeu_ps(out, v);
        qr_lp_epilogue(g, i, j0, nj, out);
    }
}

/* One block: na (1-2) row tiles of 16 from row i, nb (1-2) panels from p. */
static void block(const qr_lp_args *g, int bf, int i, int na, int p, int nb)
{
    const qr_linear *w = g->w;
    long esz = bf ? 2 : 1;
    long lda_b = g->lda * esz;
    long bp_b = (long)w->kp * QR_PANEL * esz;
    int steps = w->kp / (bf ? 32 : 64);
    const unsigned char *a0 = (const unsigned char *)g->a + (long)i * lda_b;
    const unsigned char *a1 = a0 + 16 * lda_b;
    const unsigned char *b0 = (const unsigned char *)w->lp + (long)p * bp_b;
    const unsigned char *b1 = b0 + bp_b;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int s = 0; s < steps; s++) {
        long ko = (long)s * 64;   /* A: 64 bytes of k per row */
        long bo = (long)s * 1024; /* B: 16 rows of 64 bytes */
        _tile_loadd(4, a0 + ko, lda_b);
        _tile_loadd(6, b0 + bo, 64);
        if (na > 1)
            _tile_loadd(5, a1 + ko, lda_b);
        if (nb > 1)
            _tile_loadd(7, b1 + bo, 64);
        if (bf) {
            _tile_dpbf16ps(0, 4, 6);
            if (nb > 1)
                _tile_dpbf16ps(1, 4, 7);
            if (na > 1)
                _tile_dpbf16ps(2, 5, 6);
            if (na > 1 && nb > 1)
                _tile_dpbf16ps(3, 5, 7);
        } else {
            _tile_dpbusd(0, 4, 6);
            if (nb > 1)
                _tile_dpbusd(1, 4, 7);
            if (na > 1)
                _tile_dpbusd(2, 5, 6);
            if (na > 1 && nb > 1)
                _tile_dpbusd(3, 5, 7);
        }
    }
    float t[4][256] __attribute__((aligned(64)));
    _tile_stored(0, t[0], 64);
    if (nb > 1)
        _tile_stored(1, t[1], 64);
    if (na > 1)
        _tile_stored(2, t[2], 64);
    if (na > 1 && nb > 1)
        _tile_stored(3, t[3], 64);
    int r0 = QR_MIN_INT(16, g->m - i);
    int r1 = QR_MIN_INT(16, g->m - i - 16);
    epilogue(g, bf, i, r0, p, t[0]);
    if (nb > 1)
        epilogue(g, bf, i, r0, p + 1, t[1]);
    if (na > 1 && r1 > 0) {
        epilogue(g, bf, i + 16, r1, p, t[2]);
        if (nb > 1)
            epilogue(g, bf, i + 16, r1, p + 1, t[3]);
    }
}

#define MC 256 /* rows per chunk: its A rows stay in L2 while the panels sweep */

static void gemm_amx(const qr_lp_args *g, int bf)
{
    config();
    int m16 = (g->m + 15) / 16 * 16;
    for (int i0 = 0; i0 < m16; i0 += MC) {
        int mc = QR_MIN_INT(MC, m16 - i0);
        for (int p = g->p0; p < g->p1; p += 2) {
            int nb = QR_MIN_INT(2, g->p1 - p);
            for (int i = i0; i < i0 + mc; i += 32) {
                int na = i + 32 <= i0 + mc ? 2 : 1;
                block(g, bf, i, na, p, nb);
            }
        }
    }
    _tile_release();
}

static void gemm_bf16(const qr_lp_args *g) { gemm_amx(g, 1); }
static void gemm_int8(const qr_lp_args *g) { gemm_amx(g, 0); }

const qr_lp_kernel qr_lp_amx_bf16 = {"amx-bf16", QR_PREC_BF16, gemm_bf16, NULL, qr_attention_bf16_avx512};
const qr_lp_kernel qr_lp_amx_int8 = {"amx-int8", QR_PREC_INT8, gemm_int8, NULL, NULL};
