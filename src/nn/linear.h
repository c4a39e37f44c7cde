/*
 * linear.h — linear layers (y = act(x W^T + b) + res) in a chosen precision; the one
 * entry point every forward pass uses for its matrix products (linear.c).
 *
 * Precisions (docs/precision.md):
 *  - fp32: the exact default; weights in QR_PANEL-column fp32 panels (nn.h), the fp32
 *    kernel table's gemm.
 *  - bf16: weights rounded to bf16 once at load (round to nearest even), activations
 *    rounded to bf16 at the GEMM input, fp32 accumulation and epilogue.
 *  - int8: weights quantized per output channel (symmetric, scale = max|w| / 127),
 *    activations quantized per row (per token) at the GEMM input (symmetric,
 *    scale = max|x| / 127), exact int32 accumulation, dequantized into the fp32
 *    epilogue: y = acc * sx[i] * sw[j] + b[j].
 *
 * Low-precision weight layouts are the VNNI / AMX "B" layouts, per panel of 16 output
 * columns and with k padded with zeros to a multiple of QR_LP_KALIGN:
 *  - bf16: [panel][k/2][16][2] uint16 (one 64-byte row per pair of k);
 *  - int8: [panel][k/4][16][4] int8   (one 64-byte row per four k).
 * Activations are converted once per call (by linear.c, portable code, the same for
 * every kernel) into scratch: bf16 rows, or int8 rows stored as u8 = q + 128 (for the
 * u8 x s8 dot-product instructions; the kernels subtract 128 * sum_k w[j][k]).
 */
#ifndef QR_LINEAR_H
#define QR_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

enum { QR_PREC_FP32 = 0, QR_PREC_BF16 = 1, QR_PREC_INT8 = 2 };
#define QR_LP_KALIGN 64 /* k padding of bf16/int8 weights and activations */
#define QR_LP_MALIGN 16 /* activation rows are allocated in multiples of this */

typedef struct qr_linear {
    int prec;      /* QR_PREC_* */
    int n, k;      /* output / input features */
    int n_panels;  /* (n + QR_PANEL - 1) / QR_PANEL */
    int kp;        /* k padded to QR_LP_KALIGN (bf16/int8) */
    qr_packed f32; /* fp32: the panels (data owned by whoever packed them) */
    void *lp;      /* bf16: uint16_t, int8: int8_t, layouts above */
    float *wscale; /* int8: per output column, [n_panels * 16] (0 past n) */
    int32_t *wsum; /* int8: sum over k of the quantized weights, [n_panels * 16] */
    void *owned;   /* the aligned block holding lp / wscale / wsum */
} qr_linear;

/* The name of a precision ("fp32", "bf16", "int8") and back (-1 if unknown). */
const char *qr_prec_name(int prec);
int qr_prec_parse(const char *s);

/* Allocate a bf16/int8 layer of n outputs, k inputs (fp32: only sets n/k/n_panels; the
 * caller points f32 at its panels). */
quire_status qr_linear_init(qr_linear *L, int prec, int n, int k, quire_error *err);
/* A bf16/int8 layer whose converted block (qr_linear_bytes bytes: the weights, then for
 * int8 the scales and column sums, as qr_linear_init lays them out) lives at `block`,
 * which the caller owns (the packed-weight cache maps it from a file). */
void qr_linear_view(qr_linear *L, int prec, int n, int k, void *block);
/* Convert panel p from 16 fp32 source rows of k floats (row j = output column
 * p*16 + j; NULL = past n). Panels may be filled in any order, from several threads. */
void qr_linear_fill_panel(qr_linear *L, int p, const float *const src[QR_PANEL]);
void qr_linear_free(qr_linear *L);
/* Bytes of weights the layer holds (bf16/int8: the whole block: weights, scales, sums). */
size_t qr_linear_bytes(const qr_linear *L);

/* One call: C[i][j] = act(sum_k A[i][k] W[j][k] + bias[j]) + res[i][j], i < m, j < n. */
typedef struct qr_linear_io {
    const float *a; /* [m][k] at stride lda */
    long lda;
    const float *bias; /* [n] or NULL */
    const float *res;  /* [m][n] at stride ldr, or NULL; may alias c */
    long ldr;
    float *c; /* [m][n] at stride ldc */
    long ldc;
    int m;
    int act; /* QR_ACT_* */
    /* Optional (docs/precision.md, "fused conversions"):
     *  - a_lp (bf16 and int8 layers; ignored for fp32): the input already converted as
     *    the layer's precision converts it (qr_lp_convert_fn: bf16 rows, or u8 = q + 128
     *    rows with their scales in a_scale[i]), rows of L->kp elements at stride lda_lp
     *    elements, rows readable up to m rounded up to QR_LP_MALIGN: `a` is not read and
     *    no conversion pass runs;
     *  - c_bf16 (bf16 layers; ignored otherwise): the result (after bias, act and res)
     *    rounded to bf16 (qr_f32_to_bf16) is stored there (rows at stride ldc_bf16
     *    elements, columns [0, n)) instead of c. */
    const void *a_lp;
    long lda_lp;
    const float *a_scale;
    uint16_t *c_bf16;
    long ldc_bf16;
} qr_linear_io;

/* Scratch bytes qr_linear_run needs for up to max_m rows of up to max_k inputs in
 * precision prec (0 for fp32). */
size_t qr_linear_scratch_bytes(int prec, int max_m, int max_k);
/* Run one linear layer over the pool's threads (pool may be NULL: this thread).
 * scratch: qr_linear_scratch_bytes(L->prec, >= io->m, >= L->k) bytes, 64-byte aligned
 * (NULL for fp32). */
void qr_linear_run(qr_pool *pool, const qr_linear *L, const qr_linear_io *io, void *scratch);

/* ---- low-precision kernels (for dispatch and tests) ------------------------------ */
typedef struct qr_lp_kernel qr_lp_kernel;
/* qr_linear_run with a given bf16/int8 kernel (tests, benchmarks). */
void qr_linear_run_with(qr_pool *pool, const qr_linear *L, const qr_linear_io *io,
                        void *scratch, const qr_lp_kernel *k);

typedef struct qr_lp_args {
    const void *a;        /* bf16 (uint16) or u8 rows of kp elements, lda apart */
    long lda;             /* in elements */
    const float *ascale;  /* int8: per row */
    const qr_linear *w;
    const float *bias;
    const float *res;
    long ldr;
    float *c;
    long ldc;
    int m;
    int p0, p1; /* panel range */
    int act;
    void (*gelu)(float *x, long n); /* the fp32 table's, for QR_ACT_GELU */
    uint16_t *cb; /* NULL, or: store bf16(result) here (rows ldcb apart) instead of c */
    long ldcb;
} qr_lp_args;

/* Activation conversion of rows [r0, r1) of a (k floats, lda apart) into dst (rows of kp
 * bf16 / u8 = q + 128, padded: bf16 0, u8 128) and, for int8, scale[i] (linear.c's
 * portable code is the definition; a kernel's own version must give the same bytes). */
typedef void (*qr_lp_convert_fn)(const float *a, long lda, int k, int kp, void *dst,
                                 float *scale, long r0, long r1);

struct qr_lp_kernel {
    const char *name;
    int prec;
    void (*gemm)(const qr_lp_args *g);
    qr_lp_convert_fn convert; /* NULL: the portable conversion */
    /* bf16 kernels: self-attention with bf16 products (qr_attention_bf16_ref's arithmetic);
     * returns 0, computing nothing, for a shape it does not take (then the caller runs the
     * fp32 attention). NULL: none (the bf16 / int8 precisions keep fp32 attention). */
    int (*attention)(const qr_attn_args *a);
};
/* Self-attention of one (sequence, head) with bf16 products, fp32 everywhere else: the
 * arithmetic the bf16 / int8 precisions use for attention where the CPU has a bf16 kernel
 * (docs/precision.md). q, k, v are rounded to bf16; score(i, j) = scale * sum over pairs
 * c = 0, 2, .. of (q[c+1] k[c+1] then q[c] k[c]) accumulated in fp32 (vdpbf16ps's order);
 * p = bf16(exp(score - row max)); l = sum of those p; out = (sum over key pairs of
 * p[j+1] v[j+1] then p[j] v[j], in fp32) * (1 / l). Any t, d; a->bias is honoured (added to
 * the scaled scores). The scalar reference (attention.c), the test oracle; scratch: t * d +
 * 2 t floats suffice. */
void qr_attention_bf16_ref(const qr_attn_args *a);
/* The bf16 attention for the bf16 / int8 precisions: the active bf16 kernel's (QUIRE_CPU
 * honoured), NULL where it has none. */
int (*qr_lp_attention(void))(const qr_attn_args *a);

/* The portable activation conversion of prec (linear.c). */
qr_lp_convert_fn qr_lp_convert_portable(int prec);

extern const qr_lp_kernel qr_lp_scalar_bf16, qr_lp_scalar_int8;
#if defined(__x86_64__)
extern const qr_lp_kernel qr_lp_avx512_bf16, qr_lp_avx512_vnni;
extern const qr_lp_kernel qr_lp_amx_bf16, qr_lp_amx_int8;
extern const qr_lp_kernel qr_lp_avxvnni_int8, qr_lp_avx2_int8;
/* The AVX512-BF16 attention of avx512-bf16 and amx-bf16 (kern_lp_avx512.c): no bias,
 * d % 16 == 0, t <= QR_ATTN_DIRECT_MAX, else returns 0. Scratch: QR_ATTN_SCRATCH(t, d). */
int qr_attention_bf16_avx512(const qr_attn_args *a);
#endif
#if defined(__aarch64__)
/* kern_lp_neon.c: int8 on smull (ARMv8.0) / sdot (dotprod) / smmla (i8mm); bf16 on fp32
 * fmla (ARMv8.0, bitwise the reference) / bfdot / bfmmla (bf16 extension). */
extern const qr_lp_kernel qr_lp_neon_int8, qr_lp_neon_sdot, qr_lp_neon_i8mm;
extern const qr_lp_kernel qr_lp_neon_bf16, qr_lp_neon_bf16dot, qr_lp_neon_bf16mmla;
#endif
/* Names of all low-precision kernels of this build (NULL-terminated). */
extern const char *const qr_lp_names[];
/* A kernel by name if this build has it and this CPU (and OS) can run it, else NULL. */
const qr_lp_kernel *qr_lp_get(const char *name);
/* The kernel in use for prec (bf16/int8): the best this CPU has, limited by QUIRE_CPU
 * (avx512: no AMX tiles; avx2: int8 on avx-vnni or avx2-int8, bf16 on the scalar reference;
 * neon-dotprod: int8 on sdot, bf16 on fp32 fmla; neon: the ARMv8.0 kernels; scalar: the
 * scalar references). */
const qr_lp_kernel *qr_lp_active(int prec);
/* Why a kernel is not available (for test / info lines): "" when it is. */
const char *qr_lp_missing(const char *name);

/* Round to bf16, nearest even (NaN stays NaN). */
static inline uint16_t qr_f32_to_bf16(float f)
{
    union {
        float f;
        uint32_t u;
    } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
static inline float qr_bf16_to_f32(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* The shared epilogue of the low-precision kernels for one row segment: v[0..nj) holds
 * the dequantized products of row i, columns j0.. */
static inline void qr_lp_epilogue(const qr_lp_args *g, int i, int j0, int nj, float *v)
{
    if (g->bias)
        for (int j = 0; j < nj; j++)
            v[j] += g->bias[j0 + j];
    if (g->act == QR_ACT_GELU)
        g->gelu(v, nj);
    if (g->res) {
        const float *r = g->res + (size_t)i * g->ldr + j0;
        for (int j = 0; j < nj; j++)
            v[j] += r[j];
    }
    if (g->cb) {
        uint16_t *cb = g->cb + (size_t)i * g->ldcb + j0;
        for (int j = 0; j < nj; j++)
            cb[j] = qr_f32_to_bf16(v[j]);
        return;
    }
    float *c = g->c + (size_t)i * g->ldc + j0;
    for (int j = 0; j < nj; j++)
        c[j] = v[j];
}

#endif /* QR_LINEAR_H */
