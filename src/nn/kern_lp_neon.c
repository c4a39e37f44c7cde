/*
 * kern_lp_neon.c — AArch64 bf16 / int8 GEMM kernels (linear.h, docs/precision.md).
 * Built on aarch64 only (the Makefile's ISA_ARM) with the baseline flags: each kernel
 * that needs an extension carries it in a function attribute and is reached only through
 * qr_lp_get, which checks getauxval's bits (QR_CPU_*), so the library runs on any ARMv8.0.
 *
 *  - neon-int8     ARMv8.0: smull (s8 x s8 -> s16, exact) + sadalp into int32 lanes;
 *  - neon-sdot     +dotprod (HWCAP_ASIMDDP): sdot by element, 4 rows x 16 columns;
 *  - neon-i8mm     +i8mm (HWCAP2_I8MM): smmla, 2x8 by 8x2 blocks, 4 rows x 16 columns;
 *  - neon-bf16     ARMv8.0: the bf16 operands widened to fp32 (a shift) and fmla in the
 *                  reference's order (k+1 then k per pair): a bf16 x bf16 product is exact
 *                  in fp32, so each fmla rounds once where the reference's add rounds:
 *                  bitwise the scalar reference's results;
 *  - neon-bf16dot  +bf16 (HWCAP2_BF16): bfdot by element;
 *  - neon-bf16mmla +bf16: bfmmla, 2x4 by 4x2 blocks.
 *
 * int8: the weights are the VNNI layout [k/4][16][4]; the activations arrive as
 * u8 = q + 128 (the x86 u8 x s8 form, the portable conversion's bytes): an eor with 0x80
 * gives q back as s8, so every kernel here is s8 x s8 and needs no column-sum correction.
 * The int32 sums are exact, the dequantization is the reference's (acc * (sx * sw)) and the
 * epilogue is the shared qr_lp_epilogue: int8 results are bitwise the reference's.
 *
 * bf16dot / bf16mmla: without FEAT_EBF16 (or with FPCR.EBF = 0) the instructions add each
 * pair (bfdot) or quad (bfmmla) of products before one rounding, round to odd and flush
 * denormals (Arm ARM, BFDOT): results differ from the reference by float rounding (the
 * tolerance of amx-bf16 in tests/unit/test_lowp.c: 2e-5 of sum |a w|).
 *
 * The mmla kernels build their 2x8 (int8) / 2x4 (bf16) column operands from two
 * consecutive k groups of the VNNI layout with one zip of 32-bit elements:
 * zip1(group t cols 0-3, group t+1 cols 0-3) = col 0 k0..7, col 1 k0..7.
 * Micro-tile: up to 4 rows x one 16-column panel; the panel (kp x 16 bytes or halves)
 * stays in L1 while the row blocks pass over it.
 */
#include <arm_neon.h>
#include <string.h>

#include "nn.h"

#define AI static inline __attribute__((always_inline))
#define MR 4

#define T_DOT __attribute__((target("arch=armv8.2-a+dotprod")))
#define T_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#define T_BF16 __attribute__((target("arch=armv8.2-a+bf16")))

/* ---- int8 epilogue: v = acc * (sx[i] * sw[j]), then the shared epilogue ---------------- */

AI void int8_store_row(const qr_lp_args *g, int i, int j0, int nj, const int32x4_t acc[4])
{
    float v[QR_PANEL];
    float32x4_t sx = vdupq_n_f32(g->ascale[i]);
    for (int q = 0; q < 4; q++) {
        float32x4_t sw = vld1q_f32(g->w->wscale + j0 + 4 * q);
        vst1q_f32(v + 4 * q, vmulq_f32(vcvtq_f32_s32(acc[q]), vmulq_f32(sx, sw)));
    }
    qr_lp_epilogue(g, i, j0, nj, v);
}

AI int8x16_t load_q(const uint8_t *p) /* u8 = q + 128 -> q */
{
    return vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x80)));
}

/* ---- neon-int8 (ARMv8.0) ---------------------------------------------------------------- */

/* Rows i0..i0+mr-1 (mr <= 2) against one panel. acc[r][c] holds columns 2c, 2c+1 as
 * (k0+k1, k2+k3) partial pairs; a final pairwise add gives the 16 columns. */
AI void int8_plain_tile(const qr_lp_args *g, const int8_t *panel, int i0, int mr, int j0,
                        int nj)
{
    const uint8_t *A = g->a;
    int kp = g->w->kp;
    int32x4_t acc[2][8];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 8; c++)
            acc[r][c] = vdupq_n_s32(0);
    const uint8_t *ar[2];
    for (int r = 0; r < 2; r++)
        ar[r] = A + (size_t)(i0 + (r < mr ? r : 0)) * g->lda;
    for (int kk = 0; kk < kp; kk += 16) {
        int32_t al[2][4];
        for (int r = 0; r < mr; r++)
            vst1q_s32(al[r], vreinterpretq_s32_s8(load_q(ar[r] + kk)));
        for (int t = 0; t < 4; t++) {
            const int8_t *b = panel + (size_t)((kk >> 2) + t) * 64;
            for (int r = 0; r < mr; r++) {
                /* the 4 k of group t, twice: 8 bytes matching 2 columns x 4 k */
                int8x8_t ak = vreinterpret_s8_s32(vdup_n_s32(al[r][t]));
                for (int q = 0; q < 4; q++) {
                    int8x16_t w = vld1q_s8(b + 16 * q);
                    acc[r][2 * q] = vpadalq_s16(acc[r][2 * q], vmull_s8(vget_low_s8(w), ak));
                    acc[r][2 * q + 1] =
                        vpadalq_s16(acc[r][2 * q + 1], vmull_s8(vget_high_s8(w), ak));
                }
            }
        }
    }
    for (int r = 0; r < mr; r++) {
        int32x4_t s[4];
        for (int q = 0; q < 4; q++)
            s[q] = vpaddq_s32(acc[r][2 * q], acc[r][2 * q + 1]);
        int8_store_row(g, i0 + r, j0, nj, s);
    }
}

static void gemm_int8_neon(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    for (int p = g->p0; p < g->p1; p++) {
        const int8_t *panel = (const int8_t *)w->lp + (size_t)p * w->kp * QR_PANEL;
        int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        int i = 0;
        for (; i + 2 <= g->m; i += 2)
            int8_plain_tile(g, panel, i, 2, j0, nj);
        if (i < g->m)
            int8_plain_tile(g, panel, i, 1, j0, nj);
    }
}

/* ---- neon-sdot (+dotprod) --------------------------------------------------------------- */

AI T_DOT void sdot_tile(const qr_lp_args *g, const int8_t *panel, int i0, int mr, int j0,
                        int nj)
{
    const uint8_t *A = g->a;
    int kp = g->w->kp;
    int32x4_t acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < 4; q++)
            acc[r][q] = vdupq_n_s32(0);
    for (int kk = 0; kk < kp; kk += 16) {
        int8x16_t a[MR];
        for (int r = 0; r < mr; r++)
            a[r] = load_q(A + (size_t)(i0 + r) * g->lda + kk);
        const int8_t *b = panel + (size_t)(kk >> 2) * 64;
#define SDOT_GROUP(t)                                                                        \
    do {                                                                                     \
        int8x16_t w0 = vld1q_s8(b + 64 * (t)), w1 = vld1q_s8(b + 64 * (t) + 16);              \
        int8x16_t w2 = vld1q_s8(b + 64 * (t) + 32), w3 = vld1q_s8(b + 64 * (t) + 48);         \
        for (int r = 0; r < mr; r++) {                                                       \
            acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, a[r], t);                             \
            acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, a[r], t);                             \
            acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, a[r], t);                             \
            acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, a[r], t);                             \
        }                                                                                    \
    } while (0)
        SDOT_GROUP(0);
        SDOT_GROUP(1);
        SDOT_GROUP(2);
        SDOT_GROUP(3);
#undef SDOT_GROUP
    }
    for (int r = 0; r < mr; r++)
        int8_store_row(g, i0 + r, j0, nj, acc[r]);
}

T_DOT static void gemm_int8_sdot(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    for (int p = g->p0; p < g->p1; p++) {
        const int8_t *panel = (const int8_t *)w->lp + (size_t)p * w->kp * QR_PANEL;
        int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        int i = 0;
        for (; i + MR <= g->m; i += MR)
            sdot_tile(g, panel, i, MR, j0, nj);
        switch (g->m - i) {
        case 3:
            sdot_tile(g, panel, i, 3, j0, nj);
            break;
        case 2:
            sdot_tile(g, panel, i, 2, j0, nj);
            break;
        case 1:
            sdot_tile(g, panel, i, 1, j0, nj);
            break;
        default:
            break;
        }
    }
}

/* ---- neon-i8mm (+i8mm) ------------------------------------------------------------------ */

/* Two row pairs (rows i0..i0+3; a row past mr repeats row i0, its results dropped).
 * acc[pr][c]: rows (2pr, 2pr+1) x columns (2c, 2c+1) as [r0c0 r0c1 r1c0 r1c1]. */
AI T_I8MM void i8mm_tile(const qr_lp_args *g, const int8_t *panel, int i0, int mr, int j0,
                         int nj)
{
    const uint8_t *A = g->a;
    int kp = g->w->kp;
    int npair = (mr + 1) / 2;
    int32x4_t acc[2][8];
    for (int pr = 0; pr < 2; pr++)
        for (int c = 0; c < 8; c++)
            acc[pr][c] = vdupq_n_s32(0);
    const uint8_t *ar[MR];
    for (int r = 0; r < MR; r++)
        ar[r] = A + (size_t)(i0 + (r < mr ? r : 0)) * g->lda;
    for (int kk = 0; kk < kp; kk += 16) {
        int8x16_t a[MR];
        for (int r = 0; r < 2 * npair; r++)
            a[r] = load_q(ar[r] + kk);
        for (int h = 0; h < 2; h++) { /* k 0..7, then 8..15 of this step */
            const int8_t *b = panel + (size_t)((kk >> 2) + 2 * h) * 64;
            int8x16_t bc[8];
            for (int q = 0; q < 4; q++) {
                int32x4_t lo = vreinterpretq_s32_s8(vld1q_s8(b + 16 * q));
                int32x4_t hi = vreinterpretq_s32_s8(vld1q_s8(b + 64 + 16 * q));
                bc[2 * q] = vreinterpretq_s8_s32(vzip1q_s32(lo, hi));
                bc[2 * q + 1] = vreinterpretq_s8_s32(vzip2q_s32(lo, hi));
            }
            for (int pr = 0; pr < npair; pr++) {
                int64x2_t r0 = vreinterpretq_s64_s8(a[2 * pr]);
                int64x2_t r1 = vreinterpretq_s64_s8(a[2 * pr + 1]);
                int8x16_t ap = vreinterpretq_s8_s64(h ? vzip2q_s64(r0, r1) : vzip1q_s64(r0, r1));
                for (int c = 0; c < 8; c++)
                    acc[pr][c] = vmmlaq_s32(acc[pr][c], ap, bc[c]);
            }
        }
    }
    for (int pr = 0; pr < npair; pr++) {
        int32x4_t top[4], bot[4];
        for (int q = 0; q < 4; q++) {
            int64x2_t x = vreinterpretq_s64_s32(acc[pr][2 * q]);
            int64x2_t y = vreinterpretq_s64_s32(acc[pr][2 * q + 1]);
            top[q] = vreinterpretq_s32_s64(vzip1q_s64(x, y));
            bot[q] = vreinterpretq_s32_s64(vzip2q_s64(x, y));
        }
        int8_store_row(g, i0 + 2 * pr, j0, nj, top);
        if (2 * pr + 1 < mr)
            int8_store_row(g, i0 + 2 * pr + 1, j0, nj, bot);
    }
}

T_I8MM static void gemm_int8_i8mm(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    for (int p = g->p0; p < g->p1; p++) {
        const int8_t *panel = (const int8_t *)w->lp + (size_t)p * w->kp * QR_PANEL;
        int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        int i = 0;
        for (; i + MR <= g->m; i += MR)
            i8mm_tile(g, panel, i, MR, j0, nj);
        if (g->m - i > 2)
            i8mm_tile(g, panel, i, 3, j0, nj);
        else if (g->m - i > 0)
            i8mm_tile(g, panel, i, g->m - i == 2 ? 2 : 1, j0, nj);
    }
}

/* ---- bf16 ---------------------------------------------------------------------------- */

AI float32x4_t bf_lo(uint16x8_t x) { return vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(x), 16)); }
AI float32x4_t bf_hi(uint16x8_t x) { return vreinterpretq_f32_u32(vshll_high_n_u16(x, 16)); }

AI void bf16_store_row(const qr_lp_args *g, int i, int j0, int nj, const float32x4_t acc[4])
{
    float v[QR_PANEL];
    for (int q = 0; q < 4; q++)
        vst1q_f32(v + 4 * q, acc[q]);
    qr_lp_epilogue(g, i, j0, nj, v);
}

/* neon-bf16 (ARMv8.0): per pair of k, acc = fma(acc, a1, w1) then fma(acc, a0, w0). */
AI void bf16_plain_tile(const qr_lp_args *g, const uint16_t *panel, int i0, int mr, int j0,
                        int nj)
{
    const uint16_t *A = g->a;
    int kp = g->w->kp;
    float32x4_t acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < 4; q++)
            acc[r][q] = vdupq_n_f32(0.0f);
    for (int kk = 0; kk < kp; kk += 4) {
        float32x4_t a[MR];
        for (int r = 0; r < mr; r++)
            a[r] = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(A + (size_t)(i0 + r) * g->lda + kk), 16));
        const uint16_t *b = panel + (size_t)(kk >> 1) * 32;
#define BF_PAIR(t)                                                                           \
    do {                                                                                     \
        uint16x8x2_t lo = vld2q_u16(b + 32 * (t)), hi = vld2q_u16(b + 32 * (t) + 16);         \
        float32x4_t e[4] = {bf_lo(lo.val[0]), bf_hi(lo.val[0]), bf_lo(hi.val[0]),            \
                            bf_hi(hi.val[0])};                                               \
        float32x4_t o[4] = {bf_lo(lo.val[1]), bf_hi(lo.val[1]), bf_lo(hi.val[1]),            \
                            bf_hi(hi.val[1])};                                               \
        for (int r = 0; r < mr; r++)                                                         \
            for (int q = 0; q < 4; q++) {                                                    \
                acc[r][q] = vfmaq_laneq_f32(acc[r][q], o[q], a[r], 2 * (t) + 1);             \
                acc[r][q] = vfmaq_laneq_f32(acc[r][q], e[q], a[r], 2 * (t));                 \
            }                                                                                \
    } while (0)
        BF_PAIR(0);
        BF_PAIR(1);
#undef BF_PAIR
    }
    for (int r = 0; r < mr; r++)
        bf16_store_row(g, i0 + r, j0, nj, acc[r]);
}

AI T_BF16 void bfdot_tile(const qr_lp_args *g, const uint16_t *panel, int i0, int mr, int j0,
                          int nj)
{
    const uint16_t *A = g->a;
    int kp = g->w->kp;
    float32x4_t acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < 4; q++)
            acc[r][q] = vdupq_n_f32(0.0f);
    for (int kk = 0; kk < kp; kk += 8) {
        bfloat16x8_t a[MR];
        for (int r = 0; r < mr; r++)
            a[r] = vreinterpretq_bf16_u16(vld1q_u16(A + (size_t)(i0 + r) * g->lda + kk));
        const uint16_t *b = panel + (size_t)(kk >> 1) * 32;
#define BFDOT_PAIR(t)                                                                        \
    do {                                                                                     \
        bfloat16x8_t w0 = vreinterpretq_bf16_u16(vld1q_u16(b + 32 * (t)));                   \
        bfloat16x8_t w1 = vreinterpretq_bf16_u16(vld1q_u16(b + 32 * (t) + 8));               \
        bfloat16x8_t w2 = vreinterpretq_bf16_u16(vld1q_u16(b + 32 * (t) + 16));              \
        bfloat16x8_t w3 = vreinterpretq_bf16_u16(vld1q_u16(b + 32 * (t) + 24));              \
        for (int r = 0; r < mr; r++) {                                                       \
            acc[r][0] = vbfdotq_laneq_f32(acc[r][0], w0, a[r], t);                           \
            acc[r][1] = vbfdotq_laneq_f32(acc[r][1], w1, a[r], t);                           \
            acc[r][2] = vbfdotq_laneq_f32(acc[r][2], w2, a[r], t);                           \
            acc[r][3] = vbfdotq_laneq_f32(acc[r][3], w3, a[r], t);                           \
        }                                                                                    \
    } while (0)
        BFDOT_PAIR(0);
        BFDOT_PAIR(1);
        BFDOT_PAIR(2);
        BFDOT_PAIR(3);
#undef BFDOT_PAIR
    }
    for (int r = 0; r < mr; r++)
        bf16_store_row(g, i0 + r, j0, nj, acc[r]);
}

/* bfmmla: acc[pr][c] = rows (2pr, 2pr+1) x columns (2c, 2c+1), [r0c0 r0c1 r1c0 r1c1]. */
AI T_BF16 void bfmmla_tile(const qr_lp_args *g, const uint16_t *panel, int i0, int mr, int j0,
                           int nj)
{
    const uint16_t *A = g->a;
    int kp = g->w->kp;
    int npair = (mr + 1) / 2;
    float32x4_t acc[2][8];
    for (int pr = 0; pr < 2; pr++)
        for (int c = 0; c < 8; c++)
            acc[pr][c] = vdupq_n_f32(0.0f);
    const uint16_t *ar[MR];
    for (int r = 0; r < MR; r++)
        ar[r] = A + (size_t)(i0 + (r < mr ? r : 0)) * g->lda;
    for (int kk = 0; kk < kp; kk += 8) {
        uint16x8_t a[MR];
        for (int r = 0; r < 2 * npair; r++)
            a[r] = vld1q_u16(ar[r] + kk);
        for (int h = 0; h < 2; h++) { /* k 0..3, then 4..7 of this step */
            const uint16_t *b = panel + (size_t)((kk >> 1) + 2 * h) * 32;
            bfloat16x8_t bc[8];
            for (int q = 0; q < 4; q++) {
                uint32x4_t lo = vreinterpretq_u32_u16(vld1q_u16(b + 8 * q));
                uint32x4_t hi = vreinterpretq_u32_u16(vld1q_u16(b + 32 + 8 * q));
                bc[2 * q] = vreinterpretq_bf16_u32(vzip1q_u32(lo, hi));
                bc[2 * q + 1] = vreinterpretq_bf16_u32(vzip2q_u32(lo, hi));
            }
            for (int pr = 0; pr < npair; pr++) {
                uint64x2_t r0 = vreinterpretq_u64_u16(a[2 * pr]);
                uint64x2_t r1 = vreinterpretq_u64_u16(a[2 * pr + 1]);
                bfloat16x8_t ap =
                    vreinterpretq_bf16_u64(h ? vzip2q_u64(r0, r1) : vzip1q_u64(r0, r1));
                for (int c = 0; c < 8; c++)
                    acc[pr][c] = vbfmmlaq_f32(acc[pr][c], ap, bc[c]);
            }
        }
    }
    for (int pr = 0; pr < npair; pr++) {
        float32x4_t top[4], bot[4];
        for (int q = 0; q < 4; q++) {
            float64x2_t x = vreinterpretq_f64_f32(acc[pr][2 * q]);
            float64x2_t y = vreinterpretq_f64_f32(acc[pr][2 * q + 1]);
            top[q] = vreinterpretq_f32_f64(vzip1q_f64(x, y));
            bot[q] = vreinterpretq_f32_f64(vzip2q_f64(x, y));
        }
        bf16_store_row(g, i0 + 2 * pr, j0, nj, top);
        if (2 * pr + 1 < mr)
            bf16_store_row(g, i0 + 2 * pr + 1, j0, nj, bot);
    }
}

/* One loop over panels and blocks of MR rows for every bf16 tile; the tail block's row
 * count is made a constant for each tile instantiation. */
#define BF16_GEMM(fname, tile, attr)                                                         \
    attr static void fname(const qr_lp_args *g)                                              \
    {                                                                                        \
        const qr_linear *w = g->w;                                                           \
        for (int p = g->p0; p < g->p1; p++) {                                                \
            const uint16_t *panel = (const uint16_t *)w->lp + (size_t)p * w->kp * QR_PANEL;  \
            int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);                     \
            int i = 0;                                                                       \
            for (; i + MR <= g->m; i += MR)                                                  \
                tile(g, panel, i, MR, j0, nj);                                               \
            switch (g->m - i) {                                                              \
            case 3:                                                                          \
                tile(g, panel, i, 3, j0, nj);                                                \
                break;                                                                       \
            case 2:                                                                          \
                tile(g, panel, i, 2, j0, nj);                                                \
                break;                                                                       \
            case 1:                                                                          \
                tile(g, panel, i, 1, j0, nj);                                                \
                break;                                                                       \
            default:                                                                         \
                break;                                                                       \
            }                                                                                \
        }                                                                                    \
    }
#define NO_ATTR
BF16_GEMM(gemm_bf16_neon, bf16_plain_tile, NO_ATTR)
BF16_GEMM(gemm_bf16_bfdot, bfdot_tile, T_BF16)
BF16_GEMM(gemm_bf16_bfmmla, bfmmla_tile, T_BF16)

const qr_lp_kernel qr_lp_neon_int8 = {"neon-int8", QR_PREC_INT8, gemm_int8_neon, NULL, NULL};
const qr_lp_kernel qr_lp_neon_sdot = {"neon-sdot", QR_PREC_INT8, gemm_int8_sdot, NULL, NULL};
const qr_lp_kernel qr_lp_neon_i8mm = {"neon-i8mm", QR_PREC_INT8, gemm_int8_i8mm, NULL, NULL};
const qr_lp_kernel qr_lp_neon_bf16 = {"neon-bf16", QR_PREC_BF16, gemm_bf16_neon, NULL, NULL};
const qr_lp_kernel qr_lp_neon_bf16dot = {"neon-bf16dot", QR_PREC_BF16, gemm_bf16_bfdot, NULL,
                                         NULL};
const qr_lp_kernel qr_lp_neon_bf16mmla = {"neon-bf16mmla", QR_PREC_BF16, gemm_bf16_bfmmla,
                                          NULL, NULL};
