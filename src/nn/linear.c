/*
 * linear.c — the linear-layer entry point (see linear.h): weight conversion at load,
 * activation conversion per call, the scalar references of the bf16 / int8 kernels,
 * and the choice of kernel per precision.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

const char *qr_prec_name(int prec)
{
    switch (prec) {
    case QR_PREC_BF16:
        return "bf16";
    case QR_PREC_INT8:
        return "int8";
    default:
        return "fp32";
    }
}

int qr_prec_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "fp32") == 0)
        return QR_PREC_FP32;
    if (strcmp(s, "bf16") == 0)
        return QR_PREC_BF16;
    if (strcmp(s, "int8") == 0)
        return QR_PREC_INT8;
    return -1;
}

static size_t kpad(int k) { return ((size_t)k + QR_LP_KALIGN - 1) / QR_LP_KALIGN * QR_LP_KALIGN; }

/* The fields of a layer, and its bf16/int8 block (lp, then wscale, wsum) at `block`. */
static void linear_setup(qr_linear *L, int prec, int n, int k, void *block)
{
    memset(L, 0, sizeof(*L));
    L->prec = prec;
    L->n = n;
    L->k = k;
    L->n_panels = (n + QR_PANEL - 1) / QR_PANEL;
    L->kp = prec == QR_PREC_FP32 ? k : (int)kpad(k);
    if (prec == QR_PREC_FP32 || !block)
        return;
    size_t cols = (size_t)L->n_panels * QR_PANEL;
    size_t wbytes = cols * (size_t)L->kp * (prec == QR_PREC_BF16 ? 2 : 1);
    L->lp = block;
    if (prec == QR_PREC_INT8) {
        L->wscale = (float *)(void *)((char *)block + wbytes);
        L->wsum = (int32_t *)(void *)(L->wscale + cols);
    }
}

quire_status qr_linear_init(qr_linear *L, int prec, int n, int k, quire_error *err)
{
    linear_setup(L, prec, n, k, NULL);
    if (prec == QR_PREC_FP32)
        return QUIRE_OK;
    void *block = qr_malloc_aligned(qr_linear_bytes(L));
    if (!block)
        return qr_err(err, QUIRE_NOMEM, "out of memory for %s weights [%d][%d]",
                      qr_prec_name(prec), n, k);
    linear_setup(L, prec, n, k, block);
    L->owned = block;
    return QUIRE_OK;
}

void qr_linear_view(qr_linear *L, int prec, int n, int k, void *block)
{
    linear_setup(L, prec, n, k, block);
}

void qr_linear_free(qr_linear *L)
{
    if (!L)
        return;
    qr_free_aligned(L->owned);
    L->owned = L->lp = NULL;
    L->wscale = NULL;
    L->wsum = NULL;
}

size_t qr_linear_bytes(const qr_linear *L)
{
    size_t cols = (size_t)L->n_panels * QR_PANEL;
    switch (L->prec) {
    case QR_PREC_BF16:
        return cols * (size_t)L->kp * 2;
    case QR_PREC_INT8:
        return cols * (size_t)L->kp + cols * 8;
    default:
        return cols * (size_t)L->k * 4;
    }
}

/* Round half away from zero (deterministic, no dependence on the rounding mode). */
static inline int round_i(float x) { return (int)(x >= 0.0f ? x + 0.5f : x - 0.5f); }

void qr_linear_fill_panel(qr_linear *L, int p, const float *const src[QR_PANEL])
{
    size_t k = (size_t)L->k, kp = (size_t)L->kp;
    if (L->prec == QR_PREC_BF16) {
        uint16_t *d = (uint16_t *)L->lp + (size_t)p * kp * QR_PANEL;
        for (int j = 0; j < QR_PANEL; j++) {
            const float *s = src[j];
            for (size_t kk = 0; kk < kp; kk++)
                d[(kk >> 1) * 2 * QR_PANEL + (size_t)j * 2 + (kk & 1)] =
                    s && kk < k ? qr_f32_to_bf16(s[kk]) : 0;
        }
    } else if (L->prec == QR_PREC_INT8) {
        int8_t *d = (int8_t *)L->lp + (size_t)p * kp * QR_PANEL;
        for (int j = 0; j < QR_PANEL; j++) {
            const float *s = src[j];
            float amax = 0.0f;
            for (size_t kk = 0; s && kk < k; kk++) {
                float a = fabsf(s[kk]);
                amax = a > amax ? a : amax; /* NaN is skipped */
            }
            float scale = amax > 0.0f ? amax / 127.0f : 0.0f;
            float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
            int32_t sum = 0;
            for (size_t kk = 0; kk < kp; kk++) {
                int q = 0;
                if (s && kk < k) {
                    float x = s[kk] * inv;
                    q = x != x ? 0 : round_i(x > 127.0f ? 127.0f : x < -127.0f ? -127.0f : x);
                }
                d[(kk >> 2) * 4 * QR_PANEL + (size_t)j * 4 + (kk & 3)] = (int8_t)q;
                sum += q;
            }
            L->wscale[p * QR_PANEL + j] = scale;
            L->wsum[p * QR_PANEL + j] = sum;
        }
    }
}

/* ---- activation conversion --------------------------------------------------------- */

size_t qr_linear_scratch_bytes(int prec, int max_m, int max_k)
{
    if (prec == QR_PREC_FP32)
        return 0;
    size_t rows = ((size_t)max_m + QR_LP_MALIGN - 1) / QR_LP_MALIGN * QR_LP_MALIGN;
    size_t data = rows * kpad(max_k) * (prec == QR_PREC_BF16 ? 2 : 1);
    return (data + 63) / 64 * 64 + rows * sizeof(float) + 64;
}

static void convert_rows_bf16(const float *a, long lda, int k, int kp, void *out, float *scale,
                              long r0, long r1)
{
    uint16_t *dst = out;
    (void)scale;
    for (long i = r0; i < r1; i++) {
        const float *s = a + (size_t)i * lda;
        uint16_t *d = dst + (size_t)i * kp;
        for (int kk = 0; kk < k; kk++)
            d[kk] = qr_f32_to_bf16(s[kk]);
        for (int kk = k; kk < kp; kk++)
            d[kk] = 0;
    }
}

static void convert_rows_int8(const float *a, long lda, int k, int kp, void *out,
                              float *scale, long r0, long r1)
{
    uint8_t *dst = out;
    for (long i = r0; i < r1; i++) {
        const float *s = a + (size_t)i * lda;
        uint8_t *d = dst + (size_t)i * kp;
        float amax = 0.0f;
        for (int kk = 0; kk < k; kk++) {
            float v = fabsf(s[kk]);
            amax = v > amax ? v : amax;
        }
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        scale[i] = amax > 0.0f ? amax / 127.0f : 0.0f;
        /* round half away from zero, branch-free (= round_i); the clamp is written as
         * fmaxf(x, -127) then fminf(x, 127) would be (NaN -> -127) without the libm calls
         * GCC makes for fminf/fmaxf */
        for (int kk = 0; kk < k; kk++) {
            float x = s[kk] * inv;
            x = x > -127.0f ? x : -127.0f;
            x = x < 127.0f ? x : 127.0f;
            d[kk] = (uint8_t)((int)(x + copysignf(0.5f, x)) + 128);
        }
        for (int kk = k; kk < kp; kk++)
            d[kk] = 128;
    }
}

qr_lp_convert_fn qr_lp_convert_portable(int prec)
{
    return prec == QR_PREC_BF16 ? convert_rows_bf16 : convert_rows_int8;
}

/* ---- scalar references ------------------------------------------------------------- */

/* bf16: the arithmetic of vdpbf16ps: per pair of k, acc += a1*w1 then acc += a0*w0,
 * each product exact in fp32, each add rounded to fp32 (k outer, the 16 columns inner,
 * so the compiler can vectorise it without changing the order of any column's sum). */
static void gemm_bf16_scalar(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    const uint16_t *A = g->a;
    int kp = w->kp;
    for (int p = g->p0; p < g->p1; p++) {
        const uint16_t *panel = (const uint16_t *)w->lp + (size_t)p * kp * QR_PANEL;
        int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        for (int i = 0; i < g->m; i++) {
            const uint16_t *a = A + (size_t)i * g->lda;
            float acc[QR_PANEL] = {0};
            for (int kk = 0; kk < kp; kk += 2) {
                const uint16_t *b = panel + (size_t)(kk >> 1) * 2 * QR_PANEL;
                float a0 = qr_bf16_to_f32(a[kk]), a1 = qr_bf16_to_f32(a[kk + 1]);
                for (int j = 0; j < QR_PANEL; j++) {
                    float p1 = a1 * qr_bf16_to_f32(b[2 * j + 1]);
                    float p0 = a0 * qr_bf16_to_f32(b[2 * j]);
                    acc[j] += p1;
                    acc[j] += p0;
                }
            }
            qr_lp_epilogue(g, i, j0, nj, acc);
        }
    }
}

/* int8: exact int32 sums of q_a * q_w, then acc * (sx * sw) in fp32. */
static void gemm_int8_scalar(const qr_lp_args *g)
{
    const qr_linear *w = g->w;
    const uint8_t *A = g->a;
    int kp = w->kp;
    for (int p = g->p0; p < g->p1; p++) {
        const int8_t *panel = (const int8_t *)w->lp + (size_t)p * kp * QR_PANEL;
        int j0 = p * QR_PANEL, nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        for (int i = 0; i < g->m; i++) {
            const uint8_t *a = A + (size_t)i * g->lda;
            int32_t acc[QR_PANEL] = {0};
            for (int kk = 0; kk < kp; kk += 4) {
                const int8_t *b = panel + (size_t)(kk >> 2) * 4 * QR_PANEL;
                int32_t a0 = (int32_t)a[kk] - 128, a1 = (int32_t)a[kk + 1] - 128;
                int32_t a2 = (int32_t)a[kk + 2] - 128, a3 = (int32_t)a[kk + 3] - 128;
                for (int j = 0; j < QR_PANEL; j++)
                    acc[j] += a0 * b[4 * j] + a1 * b[4 * j + 1] + a2 * b[4 * j + 2] +
                              a3 * b[4 * j + 3];
            }
            float v[QR_PANEL];
            for (int j = 0; j < QR_PANEL; j++)
                v[j] = (float)acc[j] * (g->ascale[i] * w->wscale[j0 + j]);
            qr_lp_epilogue(g, i, j0, nj, v);
        }
    }
}

const qr_lp_kernel qr_lp_scalar_bf16 = {"scalar-bf16", QR_PREC_BF16, gemm_bf16_scalar, NULL, NULL};
const qr_lp_kernel qr_lp_scalar_int8 = {"scalar-int8", QR_PREC_INT8, gemm_int8_scalar, NULL, NULL};

/* ---- the run --------------------------------------------------------------------- */

typedef struct lin_run {
    const qr_linear *L;
    const qr_linear_io *io;
    const qr_kernels *kt;
    const qr_lp_kernel *lk;
    const void *adata;
    long lda; /* of adata, in elements */
    const float *ascale;
    void *aout;      /* the conversion's output: scratch (adata) */
    float *sout;     /* and its scales (ascale) */
} lin_run;

static void op_fp32(void *ctx, int ith, int nth)
{
    const lin_run *r = ctx;
    const qr_linear_io *io = r->io;
    long lo, hi;
    qr_split(r->L->n_panels, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    qr_gemm_args g = {io->a,   io->lda, &r->L->f32, io->bias, io->res,  io->ldr,
                      io->c,   io->ldc, io->m,      (int)lo,  (int)hi,  io->act};
    r->kt->gemm(&g);
}

static void op_convert(void *ctx, int ith, int nth)
{
    const lin_run *r = ctx;
    const qr_linear_io *io = r->io;
    long lo, hi;
    qr_split(io->m, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    qr_lp_convert_fn cv = r->lk->convert ? r->lk->convert : qr_lp_convert_portable(r->L->prec);
    cv(io->a, io->lda, r->L->k, r->L->kp, r->aout, r->sout, lo, hi);
}

static void op_lowp(void *ctx, int ith, int nth)
{
    const lin_run *r = ctx;
    const qr_linear_io *io = r->io;
    long lo, hi;
    qr_split(r->L->n_panels, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    int cb = io->c_bf16 && r->L->prec == QR_PREC_BF16;
    qr_lp_args g = {r->adata, r->lda,  r->ascale, r->L,    io->bias, io->res,
                    io->ldr,  io->c,   io->ldc,   io->m,   (int)lo,  (int)hi,
                    io->act,  r->kt->gelu, cb ? io->c_bf16 : NULL, cb ? io->ldc_bf16 : 0};
    r->lk->gemm(&g);
}

static void run_on(qr_pool *pool, qr_task_fn fn, lin_run *r)
{
    if (pool)
        qr_pool_run(pool, fn, r);
    else
        fn(r, 0, 1);
}

void qr_linear_run(qr_pool *pool, const qr_linear *L, const qr_linear_io *io, void *scratch)
{
    qr_linear_run_with(pool, L, io, scratch,
                       L->prec == QR_PREC_FP32 ? NULL : qr_lp_active(L->prec));
}

void qr_linear_run_with(qr_pool *pool, const qr_linear *L, const qr_linear_io *io,
                        void *scratch, const qr_lp_kernel *lk)
{
    lin_run r = {L, io, qr_nn(), lk, NULL, L->kp, NULL, NULL, NULL};
    if (io->m <= 0)
        return;
    if (L->prec == QR_PREC_FP32) {
        run_on(pool, op_fp32, &r);
        return;
    }
    if (io->a_lp) { /* converted by the producer */
        r.adata = io->a_lp;
        r.lda = io->lda_lp;
        r.ascale = io->a_scale;
        run_on(pool, op_lowp, &r);
        return;
    }
    size_t rows = ((size_t)io->m + QR_LP_MALIGN - 1) / QR_LP_MALIGN * QR_LP_MALIGN;
    size_t data = rows * (size_t)L->kp * (L->prec == QR_PREC_BF16 ? 2 : 1);
    r.adata = scratch;
    r.aout = scratch;
    r.sout = (float *)(void *)((char *)scratch + (data + 63) / 64 * 64);
    r.ascale = r.sout;
    run_on(pool, op_convert, &r);
    /* rows past m up to the 16-row tile: zero (the AMX kernels load whole tiles) */
    size_t esz = L->prec == QR_PREC_BF16 ? 2 : 1;
    memset((char *)scratch + (size_t)io->m * L->kp * esz, L->prec == QR_PREC_BF16 ? 0 : 128,
           (rows - (size_t)io->m) * L->kp * esz);
    for (size_t i = (size_t)io->m; i < rows; i++)
        r.sout[i] = 0.0f;
    run_on(pool, op_lowp, &r);
}

/* ---- kernel choice ----------------------------------------------------------------- */

const char *const qr_lp_names[] = {
    "scalar-bf16", "scalar-int8",
#if defined(__x86_64__)
    "avx512-bf16", "avx512-vnni", "amx-bf16", "amx-int8", "avx-vnni", "avx2-int8",
#endif
#if defined(__aarch64__)
    "neon-bf16mmla", "neon-bf16dot", "neon-bf16", "neon-i8mm", "neon-sdot", "neon-int8",
#endif
    NULL};

#if defined(__x86_64__)
int qr_amx_permit(void); /* kern_amx.c: 1 if the OS lets this process use AMX tiles */
#endif

const char *qr_lp_missing(const char *name)
{
    unsigned f = qr_cpu_features();
    (void)f;
    if (!name)
        return "no name";
    if (strcmp(name, "scalar-bf16") == 0 || strcmp(name, "scalar-int8") == 0)
        return "";
#if defined(__x86_64__)
    unsigned avx512 = QR_CPU_AVX512F | QR_CPU_AVX512BW | QR_CPU_AVX512VL | QR_CPU_AVX512DQ |
                      QR_CPU_FMA;
    if (strcmp(name, "avx512-bf16") == 0)
        return (f & (avx512 | QR_CPU_AVX512BF16)) == (avx512 | QR_CPU_AVX512BF16)
                   ? ""
                   : "needs avx512f/bw/vl/dq + avx512bf16";
    if (strcmp(name, "avx512-vnni") == 0)
        return (f & (avx512 | QR_CPU_AVX512VNNI)) == (avx512 | QR_CPU_AVX512VNNI)
                   ? ""
                   : "needs avx512f/bw/vl/dq + avx512vnni";
    if (strcmp(name, "avx-vnni") == 0)
        return (f & (QR_CPU_AVX2 | QR_CPU_FMA | QR_CPU_AVXVNNI)) ==
                       (QR_CPU_AVX2 | QR_CPU_FMA | QR_CPU_AVXVNNI)
                   ? ""
                   : "needs avx2 + fma + avx-vnni";
    if (strcmp(name, "avx2-int8") == 0)
        return (f & (QR_CPU_AVX2 | QR_CPU_FMA)) == (QR_CPU_AVX2 | QR_CPU_FMA) ? ""
                                                                             : "needs avx2 + fma";
    if (strcmp(name, "amx-bf16") == 0 || strcmp(name, "amx-int8") == 0) {
        unsigned need = avx512 | QR_CPU_AMXTILE |
                        (name[4] == 'b' ? QR_CPU_AMXBF16 : QR_CPU_AMXINT8);
        if ((f & need) != need)
            return name[4] == 'b' ? "needs avx512 + amx-tile + amx-bf16 (and OS support)"
                                  : "needs avx512 + amx-tile + amx-int8 (and OS support)";
        if (!qr_amx_permit())
            return "the kernel refused AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)";
        return "";
    }
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon-bf16") == 0 || strcmp(name, "neon-int8") == 0)
        return (f & QR_CPU_NEON) ? "" : "needs neon";
    if (strcmp(name, "neon-sdot") == 0)
        return (f & QR_CPU_ASIMDDP) ? "" : "needs dotprod (HWCAP_ASIMDDP)";
    if (strcmp(name, "neon-i8mm") == 0)
        return (f & QR_CPU_I8MM) ? "" : "needs i8mm (HWCAP2_I8MM)";
    if (strcmp(name, "neon-bf16dot") == 0 || strcmp(name, "neon-bf16mmla") == 0)
        return (f & QR_CPU_ARMBF16) ? "" : "needs bf16 (HWCAP2_BF16)";
#endif
    return "not built for this architecture";
}

const qr_lp_kernel *qr_lp_get(const char *name)
{
    if (!name || qr_lp_missing(name)[0])
        return NULL;
    if (strcmp(name, "scalar-bf16") == 0)
        return &qr_lp_scalar_bf16;
    if (strcmp(name, "scalar-int8") == 0)
        return &qr_lp_scalar_int8;
#if defined(__x86_64__)
    if (strcmp(name, "avx512-bf16") == 0)
        return &qr_lp_avx512_bf16;
    if (strcmp(name, "avx512-vnni") == 0)
        return &qr_lp_avx512_vnni;
    if (strcmp(name, "amx-bf16") == 0)
        return &qr_lp_amx_bf16;
    if (strcmp(name, "amx-int8") == 0)
        return &qr_lp_amx_int8;
    if (strcmp(name, "avx-vnni") == 0)
        return &qr_lp_avxvnni_int8;
    if (strcmp(name, "avx2-int8") == 0)
        return &qr_lp_avx2_int8;
#endif
#if defined(__aarch64__)
    static const qr_lp_kernel *const neon[] = {&qr_lp_neon_bf16mmla, &qr_lp_neon_bf16dot,
                                               &qr_lp_neon_bf16,     &qr_lp_neon_i8mm,
                                               &qr_lp_neon_sdot,     &qr_lp_neon_int8};
    for (size_t i = 0; i < QR_ARRAY_LEN(neon); i++)
        if (strcmp(name, neon[i]->name) == 0)
            return neon[i];
#endif
    return NULL;
}

static _Atomic(const qr_lp_kernel *) active_lp[3];

#if defined(__aarch64__)
/* auto: everything the CPU has (the mmla kernels first: twice the products per
 * instruction of the dot ones); neon-dotprod: sdot for int8, the fp32-FMA bf16 kernel;
 * neon: the ARMv8.0 kernels; scalar: the references. */
static const qr_lp_kernel *choose_neon(int prec, const char *lvl)
{
    int any = strcmp(lvl, "auto") == 0;
    int dot = any || strcmp(lvl, "neon-dotprod") == 0;
    int base = dot || strcmp(lvl, "neon") == 0;
    static const char *const order[2][3] = {{"neon-bf16mmla", "neon-bf16dot", "neon-bf16"},
                                            {"neon-i8mm", "neon-sdot", "neon-int8"}};
    const char *const *o = order[prec == QR_PREC_INT8];
    const qr_lp_kernel *k = NULL;
    if (any)
        k = qr_lp_get(o[0]);
    if (!k && (any || (dot && prec == QR_PREC_INT8)))
        k = qr_lp_get(o[1]);
    if (!k && base)
        k = qr_lp_get(o[2]);
    return k ? k : prec == QR_PREC_INT8 ? &qr_lp_scalar_int8 : &qr_lp_scalar_bf16;
}
#endif

static const qr_lp_kernel *choose(int prec)
{
    /* the QUIRE_CPU level bounds the choice: amx > avx512 > avx2 (int8 only) > the
     * scalar references (scalar); on ARM64 auto > neon-dotprod > neon > scalar */
    const char *lvl = qr_nn_level();
#if defined(__aarch64__)
    return choose_neon(prec, lvl);
#endif
    int amx = strcmp(lvl, "amx") == 0 || strcmp(lvl, "auto") == 0;
    int avx512 = amx || strcmp(lvl, "avx512") == 0;
    int avx2 = avx512 || strcmp(lvl, "avx2") == 0;
    const qr_lp_kernel *k = NULL;
    if (prec == QR_PREC_BF16) {
#if defined(__x86_64__)
        if (amx)
            k = qr_lp_get("amx-bf16");
        if (!k && avx512)
            k = qr_lp_get("avx512-bf16");
#endif
        (void)amx;
        (void)avx512;
        (void)avx2;
        return k ? k : &qr_lp_scalar_bf16;
    }
#if defined(__x86_64__)
    if (amx)
        k = qr_lp_get("amx-int8");
    if (!k && avx512)
        k = qr_lp_get("avx512-vnni");
    if (!k && avx2)
        k = qr_lp_get("avx-vnni");
    if (!k && avx2)
        k = qr_lp_get("avx2-int8");
#endif
    return k ? k : &qr_lp_scalar_int8;
}

const qr_lp_kernel *qr_lp_active(int prec)
{
    if (prec != QR_PREC_BF16 && prec != QR_PREC_INT8)
        return NULL;
    const qr_lp_kernel *k = atomic_load(&active_lp[prec]);
    if (!k) {
        k = choose(prec);
        atomic_store(&active_lp[prec], k);
    }
    return k;
}

void qr_lp_reset(void)
{
    atomic_store(&active_lp[QR_PREC_BF16], NULL);
    atomic_store(&active_lp[QR_PREC_INT8], NULL);
}

/* The bf16 attention's scalar reference as QUIRE_CPU=scalar runs it: it takes the shapes
 * qr_attention_bf16_avx512 takes (no bias, d a multiple of 16, t <= QR_ATTN_DIRECT_MAX)
 * and leaves the rest to the fp32 attention, as that kernel does, so that a scalar run
 * reproduces the SIMD run's arithmetic. */
static int attention_bf16_scalar(const qr_attn_args *a)
{
    if (a->t > 0 && a->d > 0 && (a->bias || a->d % 16 != 0 || a->t > QR_ATTN_DIRECT_MAX))
        return 0;
    qr_attention_bf16_ref(a);
    return 1;
}

int (*qr_lp_attention(void))(const qr_attn_args *a)
{
    /* QUIRE_CPU=scalar: the references of everything, the bf16 attention's included. A CPU
     * without a bf16 SIMD kernel otherwise keeps the fp32 SIMD attention (the scalar bf16
     * one would cost more than it saves). */
    if (strcmp(qr_nn_level(), "scalar") == 0)
        return attention_bf16_scalar;
    return qr_lp_active(QR_PREC_BF16)->attention;
}
