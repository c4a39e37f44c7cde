/*
 * nn.h — tensor kernels behind runtime dispatch.
 *
 * Every kernel has a portable scalar reference in kern_scalar.c (always built; the
 * fallback and the test oracle) and optional per-ISA versions in kern_avx2.c,
 * kern_avx512.c, kern_neon.c, each compiled with only its own -m flags. The table in
 * use is chosen once (qr_nn_select) from the CPU features, or forced by QUIRE_CPU.
 *
 * Layouts (all float32, row-major):
 *  - activations: [m rows (tokens)][n columns], with a row stride in floats;
 *  - linear weights are packed once at load time from PyTorch's [n_out][k_in] into
 *    panels of QR_PANEL output columns: data[p][k][j] = W[p*QR_PANEL + j][k]
 *    (zero where p*QR_PANEL + j >= n). Each panel is k*QR_PANEL floats, contiguous, so
 *    a micro-kernel streams one panel while it broadcasts activations.
 */
#ifndef QR_NN_H
#define QR_NN_H

#include <stddef.h>
#include <stdint.h>

#include "quire.h"

#define QR_PANEL 16
#define QR_MIN_INT(a, b) ((a) < (b) ? (a) : (b))

typedef struct qr_packed {
    int n;        /* output features (columns of C) */
    int k;        /* input features */
    int n_panels; /* (n + QR_PANEL - 1) / QR_PANEL */
    float *data;  /* [n_panels][k][QR_PANEL], 64-byte aligned, owned by whoever packed */
} qr_packed;

/* Floats needed to pack an [n][k] matrix. */
size_t qr_packed_size(int n, int k);
/* Pack W ([n][k] row-major) into dst (qr_packed_size floats, 64-byte aligned). */
void qr_pack(const float *w, int n, int k, float *dst);

enum { QR_ACT_NONE = 0, QR_ACT_GELU = 1 };

/* C[i][j] = act( sum_k A[i][k] * W[j][k] + bias[j] ) + res[i][j]   for i < m,
 * j in columns of panels [p0, p1) (clipped to n). bias/res may be NULL.
 * When both act and res are given, act applies before the residual add. */
typedef struct qr_gemm_args {
    const float *a;     /* A: [m][k] */
    long lda;
    const qr_packed *w; /* W packed */
    const float *bias;  /* [n] or NULL */
    const float *res;   /* [m][n] or NULL; may alias c (same ldc) */
    long ldr;
    float *c;           /* C: [m][n] */
    long ldc;
    int m;
    int p0, p1;         /* panel range */
    int act;            /* QR_ACT_* */
} qr_gemm_args;

/* One head of self-attention over one sequence of t tokens (no padding: every token
 * attends to every token of its own sequence):
 *   out[i][:] = sum_j softmax_j( scale * q[i]·k[j] ) v[j][:]
 * q, k, v rows have `d` floats at strides ldq/ldk/ldv; out rows at stride ldo.
 * scratch: at least t floats... see QR_ATTN_SCRATCH(t, d). */
typedef struct qr_attn_args {
    const float *q, *k, *v;
    long ldq, ldk, ldv;
    float *out;
    long ldo;
    int t;     /* tokens */
    int d;     /* head dim */
    float scale;
    float *scratch; /* QR_ATTN_SCRATCH(t, d) floats, 64-byte aligned */
    /* NULL, or 2t - 1 floats added to the scaled scores: score(i, j) += bias[j - i + t - 1]
     * (MPNet's relative position bias). Only qr_attention_blocked reads it. */
    const float *bias;
    /* The bf16 attentions only (linear.h: qr_attention_bf16_ref, qr_lp_kernel.attention;
     * the fp32 ones ignore it): NULL, or store bf16(out) (qr_f32_to_bf16) here, rows ldob
     * elements apart, instead of out: the next linear layer's bf16 input. */
    uint16_t *outb;
    long ldob;
} qr_attn_args;
/* Blocked attention: QR_ATTN_BQ query rows against QR_ATTN_BK keys at a time. */
#define QR_ATTN_BQ 32
#define QR_ATTN_BK 256
#define QR_ATTN_D16(d) (((size_t)(d) + 15u) / 16u * 16u)
/* Scratch of one attention call: keys and values in panel layout (t rounded up to 16, head
 * rounded up to 16: O(t d)), one block of scores, row state. Enough for every kernel's
 * attention and for qr_attention_blocked; never O(t^2). */
#define QR_ATTN_SCRATCH(t, d)                                                                \
    (((size_t)(t) + 15u) / 16u * 16u * 2u * QR_ATTN_D16(d) +                                 \
     (size_t)QR_ATTN_BQ * QR_ATTN_BK + 64u * (size_t)(d) + 256u)

typedef struct qr_kernels {
    const char *name;
    /* see qr_gemm_args */
    void (*gemm)(const qr_gemm_args *a);
    /* in place: x[i] = (x[i] - mean) / sqrt(var + eps) * gamma + beta, per row of n */
    void (*layernorm)(float *x, long ldx, int m, int n, const float *gamma,
                      const float *beta, float eps);
    /* see qr_attn_args */
    void (*attention)(const qr_attn_args *a);
    /* in place GELU(erf): x * 0.5 * (1 + erf(x / sqrt 2)) */
    void (*gelu)(float *x, long n);
    /* in place softmax over n values */
    void (*softmax)(float *x, long n);
    /* sum a[i]*b[i] */
    float (*dot)(const float *a, const float *b, long n);
    /* y[i] += alpha * x[i] */
    void (*axpy)(float *y, const float *x, float alpha, long n);
    /* out[r] = sum_i q[i] * x[r*ld + i] for r < m (one query against m rows of n
     * floats at stride ld): the exact-search inner loop, one streaming pass */
    void (*dot_rows)(const float *q, const float *x, long ld, long m, long n, float *out);
    /* sum a[i]*b[i] over int8 (exact int32; |sum| must fit, i.e. n < 2^17 at +-127):
     * the quantized HNSW distance */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, long n);
    /* x[i] = exp(x[i] - mx) in place over n values; returns their sum (blocked attention's
     * online softmax) */
    float (*exp_sum)(float *x, long n, float mx);
} qr_kernels;

/* Self-attention as qr_kernels.attention computes it, for any t and head size, in blocks of
 * QR_ATTN_BQ queries x QR_ATTN_BK keys with an online softmax (running max and sum per
 * row, the output rescaled when the max grows), on k's gemm and exp_sum: memory O(t d)
 * (a->scratch, QR_ATTN_SCRATCH), never the t x t scores. Honours a->bias. */
void qr_attention_blocked(const qr_kernels *k, const qr_attn_args *a);
/* The attention one (sequence, head) takes: k->attention (the kernel's own, scores of
 * a few rows against all keys) where it is fastest — no bias, d a multiple of 16 and
 * t <= QR_ATTN_DIRECT_MAX — else qr_attention_blocked. */
#define QR_ATTN_DIRECT_MAX 1024
void qr_attention(const qr_kernels *k, const qr_attn_args *a);

/* The scalar reference (always available). */
extern const qr_kernels qr_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const qr_kernels qr_kernels_avx2;
extern const qr_kernels qr_kernels_avx512;
extern const qr_kernels qr_kernels_avx512_amx; /* the avx512 kernels, named "amx" */
#endif
#if defined(__aarch64__)
extern const qr_kernels qr_kernels_neon;         /* any ARMv8-A */
extern const qr_kernels qr_kernels_neon_dotprod; /* + dotprod (sdot) for dot_i8 */
#endif

/* The active table (selects on first use). */
const qr_kernels *qr_nn(void);
/* Select the table: name NULL = best for this CPU, or honour QUIRE_CPU. */
quire_status qr_nn_select(const char *name, quire_error *err);
/* Library initialisation's selection: as qr_nn_select(NULL) (QUIRE_CPU or the best set),
 * except that a set chosen by name with qr_nn_select stays until qr_nn_select(NULL). */
quire_status qr_nn_init(quire_error *err);
/* A named table if it is built in and this CPU can run it, else NULL. For tests. */
const qr_kernels *qr_nn_get(const char *name);
/* Names of all tables this build has (NULL-terminated). "amx" (x86-64) is the avx512
 * table plus the AMX tile kernels for bf16/int8 (linear.h). */
extern const char *const qr_nn_names[];
/* The level chosen by the last qr_nn_select: "auto" or the forced name. */
const char *qr_nn_level(void);
/* Forget the low-precision kernel choice (linear.c; qr_nn_select calls it). */
void qr_lp_reset(void);

#include "linear.h"

#endif /* QR_NN_H */
