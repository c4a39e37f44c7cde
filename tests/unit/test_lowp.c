/*
 * test_lowp.c — bf16 / int8 linear layers (src/nn/linear.c, docs/precision.md):
 *  - the scalar references against an independent computation of the same arithmetic
 *    (bf16-rounded operands summed in double; per-channel / per-row int8 quantization
 *    done here and summed exactly);
 *  - every SIMD / AMX kernel against the scalar reference of its precision, on shapes
 *    with partial panels, odd k, tails of rows, bias / GELU / residual; a kernel this
 *    CPU lacks prints "SKIP <name>: not available on this CPU (...)";
 *  - the model plumbing: fingerprints per precision, bad precision values;
 *  - quality against fp32 over the golden texts of the tiny and MiniLM-shaped models:
 *    cosine >= 0.9995 (bf16) and >= 0.995 (int8) for every text, with the kernels this
 *    CPU chooses and with the scalar references.
 * QUIRE_LOWP_MAX_TOKENS=N keeps only MiniLM golden texts of at most N tokens (qemu).
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"
#include "quire.h"
#include "testlib.h"

#define BF16_COS_MIN 0.9995
#define INT8_COS_MIN 0.995

static void fill(float *x, size_t n, uint64_t *rs, float sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = sd * t_randn(rs);
}

static qr_linear make_linear(int prec, int n, int k, const float *w)
{
    qr_linear L;
    quire_error err = {0};
    T_CHECKF(qr_linear_init(&L, prec, n, k, &err) == QUIRE_OK, "init: %s", err.msg);
    for (int p = 0; p < L.n_panels; p++) {
        const float *src[QR_PANEL];
        for (int j = 0; j < QR_PANEL; j++)
            src[j] = p * QR_PANEL + j < n ? w + (size_t)(p * QR_PANEL + j) * k : NULL;
        qr_linear_fill_panel(&L, p, src);
    }
    return L;
}

static float gelu_ref(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

static double bf(float x) { return qr_bf16_to_f32(qr_f32_to_bf16(x)); }

/* q = round half away from zero (x / scale), scale = max|x| / 127 */
static void quant_row(const float *x, int k, int *q, double *scale)
{
    float amax = 0.0f;
    for (int i = 0; i < k; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    *scale = amax / 127.0f;
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++) {
        float v = x[i] * inv;
        q[i] = (int)(v >= 0 ? v + 0.5f : v - 0.5f);
    }
}

typedef struct shape {
    int m, n, k, act, bias, res;
} shape;

static const shape shapes[] = {
    {1, 16, 64, QR_ACT_NONE, 0, 0},   {3, 40, 31, QR_ACT_NONE, 1, 0},
    {17, 33, 100, QR_ACT_GELU, 1, 0}, {16, 64, 384, QR_ACT_NONE, 1, 1},
    {45, 48, 130, QR_ACT_GELU, 1, 1}, {100, 96, 64, QR_ACT_NONE, 0, 1},
    {300, 32, 200, QR_ACT_NONE, 1, 0}, {33, 1, 7, QR_ACT_GELU, 1, 1},
};

/* Runs L over A with kernel lk (NULL: the fp32 path) into C. */
static void run(const qr_linear *L, const shape *s, const float *a, const float *bias,
                const float *res, float *c, const qr_lp_kernel *lk)
{
    size_t sb = qr_linear_scratch_bytes(L->prec, s->m, s->k);
    void *scratch = sb ? qr_malloc_aligned(sb) : NULL;
    qr_linear_io io = {a, s->k, s->bias ? bias : NULL, s->res ? res : NULL, s->n, c, s->n, s->m,
                       s->act, NULL, 0, NULL, NULL, 0};
    qr_linear_run_with(NULL, L, &io, scratch, lk);
    qr_free_aligned(scratch);
}

/* The scalar references against the arithmetic written out here. */
static void test_reference_arithmetic(void)
{
    uint64_t rs = 11;
    for (size_t si = 0; si < QR_ARRAY_LEN(shapes); si++) {
        const shape *s = &shapes[si];
        size_t na = (size_t)s->m * s->k, nw = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
        float *a = malloc(na * 4), *w = malloc(nw * 4), *bias = malloc((size_t)s->n * 4);
        float *res = malloc(nc * 4), *c = malloc(nc * 4);
        fill(a, na, &rs, 1.0f);
        fill(w, nw, &rs, 0.05f);
        fill(bias, (size_t)s->n, &rs, 0.1f);
        fill(res, nc, &rs, 1.0f);
        int *qa = malloc(na * sizeof(int)), *qw = malloc(nw * sizeof(int));
        double *sa = malloc((size_t)s->m * 8), *sw = malloc((size_t)s->n * 8);
        for (int i = 0; i < s->m; i++)
            quant_row(a + (size_t)i * s->k, s->k, qa + (size_t)i * s->k, &sa[i]);
        for (int j = 0; j < s->n; j++)
            quant_row(w + (size_t)j * s->k, s->k, qw + (size_t)j * s->k, &sw[j]);
        for (int prec = QR_PREC_BF16; prec <= QR_PREC_INT8; prec++) {
            qr_linear L = make_linear(prec, s->n, s->k, w);
            run(&L, s, a, bias, res, c,
                prec == QR_PREC_BF16 ? &qr_lp_scalar_bf16 : &qr_lp_scalar_int8);
            double worst = 0;
            for (int i = 0; i < s->m; i++) {
                for (int j = 0; j < s->n; j++) {
                    double acc = 0, mag = 0;
                    if (prec == QR_PREC_BF16) {
                        for (int kk = 0; kk < s->k; kk++) {
                            double t = bf(a[(size_t)i * s->k + kk]) * bf(w[(size_t)j * s->k + kk]);
                            acc += t;
                            mag += fabs(t);
                        }
                    } else {
                        long long q = 0;
                        for (int kk = 0; kk < s->k; kk++)
                            q += (long long)qa[(size_t)i * s->k + kk] * qw[(size_t)j * s->k + kk];
                        acc = (double)q * sa[i] * sw[j];
                        mag = fabs(acc);
                    }
                    double v = acc + (s->bias ? bias[j] : 0.0);
                    if (s->act == QR_ACT_GELU)
                        v = gelu_ref((float)v);
                    if (s->res)
                        v += res[(size_t)i * s->n + j];
                    double d = fabs(v - c[(size_t)i * s->n + j]);
                    double tol = 1e-5 * (mag + fabs(v)) + 1e-6;
                    worst = d / tol > worst ? d / tol : worst;
                    T_CHECKF(d <= tol, "%s ref m=%d n=%d k=%d [%d][%d]: %.9g vs %.9g",
                             qr_prec_name(prec), s->m, s->n, s->k, i, j, c[(size_t)i * s->n + j],
                             v);
                    if (d > tol)
                        goto next;
                }
            }
        next:
            qr_linear_free(&L);
        }
        free(a), free(w), free(bias), free(res), free(c), free(qa), free(qw), free(sa), free(sw);
    }
}

/* Every kernel of this build against the scalar reference of its precision. */
static void test_kernels_vs_reference(void)
{
    uint64_t rs = 7;
    for (int ki = 0; qr_lp_names[ki]; ki++) {
        const char *name = qr_lp_names[ki];
        if (strncmp(name, "scalar", 6) == 0)
            continue;
        const qr_lp_kernel *k = qr_lp_get(name);
        if (!k) {
            printf("SKIP %s: not available on this CPU (%s)\n", name, qr_lp_missing(name));
            continue;
        }
        const qr_lp_kernel *ref = k->prec == QR_PREC_BF16 ? &qr_lp_scalar_bf16 : &qr_lp_scalar_int8;
        /* vdpbf16ps, neon-bf16 (fp32 fmla) and int8 are the reference's arithmetic; AMX bf16,
         * bfdot and bfmmla sum pairs (quads) their own way (round to odd on ARM) */
        double rel = strcmp(name, "amx-bf16") == 0 || strcmp(name, "neon-bf16dot") == 0 ||
                             strcmp(name, "neon-bf16mmla") == 0
                         ? 2e-5
                         : 1e-6;
        double worst = 0;
        for (size_t si = 0; si < QR_ARRAY_LEN(shapes); si++) {
            const shape *s = &shapes[si];
            size_t na = (size_t)s->m * s->k, nw = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
            float *a = malloc(na * 4), *w = malloc(nw * 4), *bias = malloc((size_t)s->n * 4);
            float *res = malloc(nc * 4), *c0 = malloc(nc * 4), *c1 = malloc(nc * 4);
            fill(a, na, &rs, 1.0f);
            fill(w, nw, &rs, 0.05f);
            fill(bias, (size_t)s->n, &rs, 0.1f);
            fill(res, nc, &rs, 1.0f);
            qr_linear L = make_linear(k->prec, s->n, s->k, w);
            run(&L, s, a, bias, res, c0, ref);
            run(&L, s, a, bias, res, c1, k);
            int bad = 0;
            for (size_t i = 0; i < nc; i++) {
                double mag = 0;
                size_t r = i / (size_t)s->n, j = i % (size_t)s->n;
                for (int kk = 0; kk < s->k; kk++)
                    mag += fabs((double)a[r * s->k + kk] * w[j * s->k + kk]);
                double tol = rel * (mag + fabs(c0[i])) + 1e-7;
                double d = fabs((double)c0[i] - c1[i]);
                worst = d / tol > worst ? d / tol : worst;
                if (!(d <= tol) && bad++ < 3)
                    T_CHECKF(0, "%s m=%d n=%d k=%d act=%d: [%zu] %.9g vs reference %.9g", name,
                             s->m, s->n, s->k, s->act, i, c1[i], c0[i]);
            }
            qr_linear_free(&L);
            free(a), free(w), free(bias), free(res), free(c0), free(c1);
        }
        printf("  %s vs %s: %zu shapes, worst |diff| / tolerance %.3f\n", name, ref->name,
               QR_ARRAY_LEN(shapes), worst);
    }
}

/* Every kernel's own activation conversion gives the portable conversion's bytes (and
 * int8 scales), on rows with NaN, infinities, denormals, signed zeros, exact halves of
 * the int8 step, all-zero rows and k not a multiple of the vector width. */
static void test_convert_vs_portable(void)
{
    static const int ks[] = {1, 7, 16, 31, 64, 100, 384, 1537};
    uint64_t rs = 3;
    int tested = 0;
    for (int ki = 0; qr_lp_names[ki]; ki++) {
        const qr_lp_kernel *k = qr_lp_get(qr_lp_names[ki]);
        if (!k) {
            printf("SKIP %s conversion: not available on this CPU (%s)\n", qr_lp_names[ki],
                   qr_lp_missing(qr_lp_names[ki]));
            continue;
        }
        if (!k->convert)
            continue;
        tested++;
        qr_lp_convert_fn ref = qr_lp_convert_portable(k->prec);
        size_t esz = k->prec == QR_PREC_BF16 ? 2 : 1;
        for (size_t ki2 = 0; ki2 < QR_ARRAY_LEN(ks); ki2++) {
            int kk = ks[ki2], m = 9, kp = (kk + QR_LP_KALIGN - 1) / QR_LP_KALIGN * QR_LP_KALIGN;
            long lda = kk + 3;
            float *a = malloc((size_t)m * lda * 4);
            fill(a, (size_t)m * lda, &rs, 2.0f);
            for (int j = 0; j < kk; j++) {
                a[1 * lda + j] = 0.0f; /* all-zero row */
                a[2 * lda + j] = (float)(j % 255 - 127) / 127.0f * 3.0f; /* exact steps */
                a[3 * lda + j] = ((float)j + 0.5f) * (j & 1 ? -1.0f : 1.0f); /* halves */
                a[4 * lda + j] = j & 1 ? 1e-40f : -1e-39f; /* denormals */
            }
            a[0] = NAN;
            a[5 * lda + kk / 2] = INFINITY;
            a[6 * lda] = -0.0f;
            a[7 * lda + kk - 1] = -NAN;
            {
                uint32_t snan = 0x7f800001u; /* signalling NaN: bf16 must make it quiet */
                memcpy(&a[8 * lda + kk - 1], &snan, 4);
            }
            if (kk > 2)
                a[8 * lda + 2] = 1e30f;
            size_t bytes = (size_t)m * kp * esz;
            unsigned char *d0 = malloc(bytes), *d1 = malloc(bytes);
            float s0[9], s1[9];
            memset(d0, 0xAB, bytes);
            memset(d1, 0xCD, bytes);
            for (int i = 0; i < m; i++)
                s0[i] = s1[i] = -1.0f;
            ref(a, lda, kk, kp, d0, s0, 0, m);
            k->convert(a, lda, kk, kp, d1, s1, 2, m); /* two calls, as threads split rows */
            k->convert(a, lda, kk, kp, d1, s1, 0, 2);
            T_CHECKF(memcmp(d0, d1, bytes) == 0, "%s conversion k=%d differs", k->name, kk);
            if (k->prec == QR_PREC_INT8)
                T_CHECKF(memcmp(s0, s1, sizeof s0) == 0, "%s scales k=%d differ", k->name, kk);
            free(a), free(d0), free(d1);
        }
        printf("  %s conversion = portable conversion (%zu widths, NaN/inf/denormal rows)\n",
               k->name, QR_ARRAY_LEN(ks));
    }
    (void)tested;
}

/* The low-precision paths are close to fp32 on one layer, and the fp32 path through the
 * entry point is the fp32 table's gemm. */
static void test_linear_vs_fp32(void)
{
    uint64_t rs = 5;
    shape s = {37, 70, 384, QR_ACT_GELU, 1, 1};
    size_t na = (size_t)s.m * s.k, nw = (size_t)s.n * s.k, nc = (size_t)s.m * s.n;
    float *a = malloc(na * 4), *w = malloc(nw * 4), *bias = malloc((size_t)s.n * 4);
    float *res = malloc(nc * 4), *c32 = malloc(nc * 4), *c = malloc(nc * 4);
    float *packed = qr_malloc_aligned(qr_packed_size(s.n, s.k) * 4);
    fill(a, na, &rs, 1.0f);
    fill(w, nw, &rs, 0.05f);
    fill(bias, (size_t)s.n, &rs, 0.1f);
    fill(res, nc, &rs, 1.0f);
    qr_pack(w, s.n, s.k, packed);
    qr_linear L32;
    qr_linear_init(&L32, QR_PREC_FP32, s.n, s.k, NULL);
    L32.f32 = (qr_packed){s.n, s.k, L32.n_panels, packed};
    run(&L32, &s, a, bias, res, c32, NULL);
    /* fp32 through the entry point = the fp32 table's gemm */
    float *g = malloc(nc * 4);
    qr_gemm_args ga = {a, s.k, &L32.f32, bias, res, s.n, g, s.n, s.m, 0, L32.n_panels, s.act};
    qr_nn()->gemm(&ga);
    T_CHECK(memcmp(g, c32, nc * 4) == 0);
    free(g);
    for (int prec = QR_PREC_BF16; prec <= QR_PREC_INT8; prec++) {
        qr_linear L = make_linear(prec, s.n, s.k, w);
        run(&L, &s, a, bias, res, c, qr_lp_active(prec));
        double num = 0, den = 0;
        for (size_t i = 0; i < nc; i++) {
            num += ((double)c[i] - c32[i]) * ((double)c[i] - c32[i]);
            den += (double)c32[i] * c32[i];
        }
        double relerr = sqrt(num / den);
        printf("  %s (%s) vs fp32, one layer k=384: relative RMS error %.2e\n",
               qr_prec_name(prec), qr_lp_active(prec)->name, relerr);
        T_CHECKF(relerr < (prec == QR_PREC_BF16 ? 5e-3 : 2e-2), "%s: relative error %.3g",
                 qr_prec_name(prec), relerr);
        T_CHECKF(relerr > 0, "%s: identical to fp32: the weights were not converted",
                 qr_prec_name(prec));
        qr_linear_free(&L);
    }
    qr_free_aligned(packed);
    free(a), free(w), free(bias), free(res), free(c32), free(c);
}

/* bf16 rounding: nearest even, NaN stays NaN, infinities and exact values stay. */
static void test_bf16_rounding(void)
{
    T_EQ_INT(qr_f32_to_bf16(1.0f), 0x3f80);
    T_EQ_INT(qr_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is half-way between 1 and 1 + 2^-7: to even (1) */
    T_EQ_INT(qr_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
    /* 1 + 3 * 2^-8: half-way between 1 + 2^-7 (odd) and 1 + 2^-6: to even */
    T_EQ_INT(qr_f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
    T_EQ_INT(qr_f32_to_bf16(1.0f + 1.0f / 256 + 1.0f / 65536), 0x3f81);
    T_EQ_INT(qr_f32_to_bf16(INFINITY), 0x7f80);
    T_CHECK(isnan(qr_bf16_to_f32(qr_f32_to_bf16(NAN))));
    T_CHECK(qr_bf16_to_f32(qr_f32_to_bf16(3.0e38f)) > 3.0e38f); /* rounds, not to inf */
}

/* ---- model level -------------------------------------------------------------------- */

typedef struct golden {
    int n;
    char **text;
    int *n_ids;
    float **emb;
    int dims;
} golden;

static void golden_free(golden *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->emb[i]);
    }
    free(g->text);
    free(g->n_ids);
    free(g->emb);
    memset(g, 0, sizeof(*g));
}

static int golden_load(const char *path, int max_tokens, golden *g)
{
    memset(g, 0, sizeof(*g));
    char *text = t_read_file(path, NULL);
    if (!text)
        return -1;
    int cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            continue;
        int nt = (int)json_integer_value(json_object_get(o, "n_tokens"));
        if (max_tokens > 0 && nt > max_tokens) {
            json_decref(o);
            continue;
        }
        if (g->n == cap) {
            cap = cap ? cap * 2 : 64;
            g->text = realloc(g->text, cap * sizeof(char *));
            g->n_ids = realloc(g->n_ids, cap * sizeof(int));
            g->emb = realloc(g->emb, cap * sizeof(float *));
        }
        g->text[g->n] = strdup(json_string_value(json_object_get(o, "text")));
        g->n_ids[g->n] = nt;
        const char *b64 = json_string_value(json_object_get(o, "emb_f32_b64"));
        unsigned char buf[65536];
        long nb = t_base64_decode(b64, buf, sizeof(buf));
        g->dims = (int)(nb / 4);
        g->emb[g->n] = malloc((size_t)nb);
        memcpy(g->emb[g->n], buf, (size_t)nb);
        g->n++;
        json_decref(o);
    }
    free(text);
    return g->n > 0 ? 0 : -1;
}

static double cosine(const float *a, const float *b, int n)
{
    double d = 0, na = 0, nb = 0;
    for (int i = 0; i < n; i++) {
        d += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return d / (sqrt(na) * sqrt(nb) + 1e-30);
}

/* Embeds the golden texts in prec with kernel level `level` and checks every cosine
 * against the golden (fp32-exact) vectors. */
static void check_quality(const char *model_dir, const golden *g, int prec, const char *level)
{
    quire_error err = {0};
    quire_model_params mp = quire_model_default_params();
    mp.precision = prec;
    quire_model *m = NULL;
    quire_status st = quire_model_open(model_dir, &mp, &m, &err);
    T_CHECKF(st == QUIRE_OK, "open %s (%s): %s", model_dir, qr_prec_name(prec), err.msg);
    if (st != QUIRE_OK)
        return;
    T_CHECKF(qr_nn_select(level, &err) == QUIRE_OK, "select %s: %s", level ? level : "auto",
             err.msg);
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = 2;
    quire_embedder *e = NULL;
    T_CHECKF(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK, "embedder: %s", err.msg);
    float *v = calloc((size_t)g->n * g->dims, sizeof(float));
    st = quire_embed(e, (const char *const *)g->text, NULL, (size_t)g->n, v, NULL, &err);
    T_CHECKF(st == QUIRE_OK, "embed: %s", err.msg);
    double worst = 1, sum = 0, maxdiff = 0;
    int at = -1;
    for (int i = 0; i < g->n && st == QUIRE_OK; i++) {
        for (int j = 0; j < g->dims; j++) {
            double d = fabs((double)v[(size_t)i * g->dims + j] - g->emb[i][j]);
            maxdiff = d > maxdiff ? d : maxdiff;
        }
        double c = cosine(v + (size_t)i * g->dims, g->emb[i], g->dims);
        sum += c;
        if (c < worst) {
            worst = c;
            at = i;
        }
    }
    double need = prec == QR_PREC_BF16 ? BF16_COS_MIN : INT8_COS_MIN;
    const char *kname = qr_lp_active(prec)->name;
    printf("  %s %s [%s]: %d texts, cosine vs fp32 min %.7f (text %d, %d tokens) mean %.7f, "
           "max|diff| %.2e\n",
           model_dir, qr_prec_name(prec), kname, g->n, worst, at, at >= 0 ? g->n_ids[at] : 0,
           sum / (g->n ? g->n : 1), maxdiff);
    T_CHECKF(worst >= need, "%s %s [%s]: min cosine %.6f < %.4f", model_dir, qr_prec_name(prec),
             kname, worst, need);
    /* the exact engine is within 1e-5 of the goldens: more means the weights really are
     * in the low precision */
    T_CHECKF(maxdiff > 2e-5, "%s %s: max|diff| %.2e vs fp32: not the low precision path",
             model_dir, qr_prec_name(prec), maxdiff);
    free(v);
    quire_embedder_free(e);
    quire_model_close(m);
    qr_nn_select(NULL, NULL);
}

static void test_quality_tiny(void)
{
    char dir[1024], gp[1100];
    snprintf(dir, sizeof dir, "%s/models/tiny", t_shared());
    snprintf(gp, sizeof gp, "%s/golden.jsonl", dir);
    golden g;
    T_CHECKF(golden_load(gp, 0, &g) == 0, "cannot read %s", gp);
    int scalar_active = strncmp(qr_lp_active(QR_PREC_INT8)->name, "scalar", 6) == 0;
    for (int prec = QR_PREC_BF16; prec <= QR_PREC_INT8; prec++) {
        check_quality(dir, &g, prec, NULL);
        if (!scalar_active)
            check_quality(dir, &g, prec, "scalar");
    }
    golden_free(&g);
}

static void test_quality_minilm(void)
{
    const char *e = getenv("QUIRE_MINILM");
    char dir[1024], gp[1100], st[1100];
    snprintf(dir, sizeof dir, "%s", e && *e ? e : "build/models/minilm");
    snprintf(gp, sizeof gp, "%s/models/minilm-random/golden.jsonl", t_shared());
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    T_CHECKF(qr_file_exists(st), "%s missing: generate it with make models", st);
    /* the scalar references (ARM64, x86 without AVX-512, qemu) are slow on the three
     * 512-token texts: then texts of at most 128 tokens, or QUIRE_LOWP_MAX_TOKENS /
     * QUIRE_GOLDEN_MAX_TOKENS */
    const char *cap = getenv("QUIRE_LOWP_MAX_TOKENS");
    if (!cap || !*cap)
        cap = getenv("QUIRE_GOLDEN_MAX_TOKENS");
    int max_tokens = cap && *cap ? atoi(cap) : 0;
    if (!max_tokens && strncmp(qr_lp_active(QR_PREC_INT8)->name, "scalar", 6) == 0)
        max_tokens = 128;
    golden g;
    T_CHECKF(golden_load(gp, max_tokens, &g) == 0, "cannot read %s", gp);
    if (max_tokens)
        printf("  MiniLM texts of at most %d tokens: %d\n", max_tokens, g.n);
    for (int prec = QR_PREC_BF16; prec <= QR_PREC_INT8; prec++)
        check_quality(dir, &g, prec, NULL);
    /* the scalar references on the short texts (all of them take a while unvectorised) */
    golden s;
    T_CHECKF(golden_load(gp, 32, &s) == 0, "cannot read %s", gp);
    if (strcmp(qr_lp_active(QR_PREC_INT8)->name, "scalar-int8") != 0)
        for (int prec = QR_PREC_BF16; prec <= QR_PREC_INT8; prec++)
            check_quality(dir, &s, prec, "scalar");
    /* the 256-bit int8 kernel QUIRE_CPU=avx2 chooses (avx-vnni or avx2-int8), when it is
     * not the one already checked above */
    if (qr_nn_get("avx2") && strcmp(qr_nn()->name, "avx2") != 0)
        check_quality(dir, &g, QR_PREC_INT8, "avx2");
    golden_free(&s);
    golden_free(&g);
}

static void test_fingerprint_and_args(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/tiny", t_shared());
    quire_error err = {0};
    char fp[3][65];
    for (int prec = 0; prec < 3; prec++) {
        quire_model_params mp = quire_model_default_params();
        mp.precision = prec;
        quire_model *m = NULL;
        T_CHECKF(quire_model_open(dir, &mp, &m, &err) == QUIRE_OK, "%s", err.msg);
        if (!m)
            return;
        snprintf(fp[prec], sizeof fp[prec], "%s", quire_model_fingerprint(m));
        T_EQ_INT(quire_model_precision(m), prec);
        T_CHECKF(prec == 0 || strstr(quire_model_describe(m), qr_prec_name(prec)),
                 "describe '%s' does not name %s", quire_model_describe(m), qr_prec_name(prec));
        quire_model_close(m);
    }
    /* fp32 = the default fingerprint; each precision its own */
    quire_model *m = NULL;
    T_CHECK(quire_model_open(dir, NULL, &m, &err) == QUIRE_OK);
    T_CHECK(m && strcmp(quire_model_fingerprint(m), fp[0]) == 0);
    quire_model_close(m);
    T_CHECK(strcmp(fp[0], fp[1]) != 0 && strcmp(fp[0], fp[2]) != 0 && strcmp(fp[1], fp[2]) != 0);
    quire_model_params mp = quire_model_default_params();
    mp.precision = 7;
    m = NULL;
    T_EQ_INT(quire_model_open(dir, &mp, &m, &err), QUIRE_INVALID_ARG);
    T_CHECKF(strstr(err.msg, "precision"), "message: %s", err.msg);
    T_CHECK(m == NULL);
    T_EQ_INT(quire_precision_parse("int8"), QUIRE_PRECISION_INT8);
    T_EQ_INT(quire_precision_parse("fp16"), -1);
    T_CHECK(strcmp(quire_precision_name(QUIRE_PRECISION_BF16), "bf16") == 0);
    T_CHECK(quire_precision_name(9) == NULL);
    /* QUIRE_CPU levels bound the choice of kernel */
    T_CHECK(qr_nn_select("scalar", NULL) == QUIRE_OK);
    T_CHECK(strcmp(quire_precision_kernel(QUIRE_PRECISION_INT8), "scalar-int8") == 0);
    T_CHECK(strcmp(quire_precision_kernel(QUIRE_PRECISION_BF16), "scalar-bf16") == 0);
    if (qr_nn_get("avx512")) {
        T_CHECK(qr_nn_select("avx512", NULL) == QUIRE_OK);
        T_CHECK(strncmp(quire_precision_kernel(QUIRE_PRECISION_INT8), "amx", 3) != 0);
    }
    if (qr_nn_get("avx2")) { /* int8 on the 256-bit kernels, bf16 on the reference */
        T_CHECK(qr_nn_select("avx2", NULL) == QUIRE_OK);
        const char *want = qr_lp_get("avx-vnni") ? "avx-vnni" : "avx2-int8";
        T_CHECKF(strcmp(quire_precision_kernel(QUIRE_PRECISION_INT8), want) == 0,
                 "QUIRE_CPU=avx2: int8 kernel %s, expected %s",
                 quire_precision_kernel(QUIRE_PRECISION_INT8), want);
        T_CHECK(strcmp(quire_precision_kernel(QUIRE_PRECISION_BF16), "scalar-bf16") == 0);
    }
    qr_nn_select(NULL, NULL);
}

/* ---- bf16 attention ---------------------------------------------------------------------- */

/* One attention case: q, k, v side by side in a [t][3d + 5] buffer (as the fused QKV
 * projection leaves them), out rows ldo = d + 7 apart with the gap set to 777. */
typedef struct attn_case {
    int t, d;
    long ld, ldo;
    float *qkv, *bias, *scratch;
    size_t o_len;
} attn_case;

static void attn_case_new(attn_case *c, int t, int d, int with_bias, uint64_t *rs)
{
    c->t = t;
    c->d = d;
    c->ld = 3L * d + 5;
    c->ldo = d + 7;
    size_t qkv_len = (size_t)t * (size_t)c->ld;
    c->qkv = malloc(qkv_len * sizeof(float));
    fill(c->qkv, qkv_len, rs, 1.0f);
    c->bias = NULL;
    if (with_bias) {
        c->bias = malloc((size_t)(2 * t) * sizeof(float));
        fill(c->bias, (size_t)(2 * t), rs, 0.5f);
    }
    c->o_len = (size_t)t * (size_t)c->ldo;
    size_t sc = QR_ATTN_SCRATCH(t, d);
    size_t ref_sc = (size_t)t * (size_t)d + 2 * (size_t)t;
    c->scratch = qr_malloc_aligned((sc > ref_sc ? sc : ref_sc) * sizeof(float));
}

static void attn_case_free(attn_case *c)
{
    free(c->qkv);
    free(c->bias);
    qr_free_aligned(c->scratch);
}

static qr_attn_args attn_args(const attn_case *c, float *out)
{
    qr_attn_args a = {.q = c->qkv, .k = c->qkv + c->d, .v = c->qkv + 2 * c->d, .ldq = c->ld,
                      .ldk = c->ld, .ldv = c->ld, .out = out, .ldo = c->ldo, .t = c->t,
                      .d = c->d, .scale = 2.0f / sqrtf((float)c->d), /* peakier than 1/sqrt d */
                      .scratch = c->scratch, .bias = c->bias};
    return a;
}

static float *attn_out_new(const attn_case *c)
{
    float *o = malloc(c->o_len * sizeof(float));
    for (size_t i = 0; i < c->o_len; i++)
        o[i] = 777.0f;
    return o;
}

static double attn_vmax(const attn_case *c)
{
    double vmax = 1e-30;
    for (int j = 0; j < c->t; j++)
        for (int x = 0; x < c->d; x++)
            vmax = fmax(vmax, fabs(c->qkv[(size_t)j * c->ld + 2 * c->d + x]));
    return vmax;
}

/* Worst |out - want| / max|v| over the head's cells; the ldo gap must be untouched. */
static double attn_compare(const attn_case *c, const float *out, const double *want,
                           const char *what)
{
    double vmax = attn_vmax(c), worst = 0;
    int gap = 0;
    for (size_t i = 0; i < c->o_len; i++) {
        if ((long)(i % (size_t)c->ldo) >= c->d) {
            gap += out[i] != 777.0f;
            continue;
        }
        double e = fabs((double)out[i] - want[i]) / vmax;
        worst = isnan(e) ? INFINITY : fmax(worst, e);
    }
    T_CHECKF(gap == 0, "%s t=%d d=%d: wrote %d cells of the ldo gap", what, c->t, c->d, gap);
    return worst;
}

static const int attn_shapes[][2] = {{1, 64}, {2, 64}, {7, 16}, {16, 64}, {17, 64}, {33, 80},
                                     {100, 64}, {128, 64}, {129, 32}, {257, 64}, {512, 64},
                                     {65, 128}, {40, 48}, {9, 7}, {23, 30}};

/* qr_attention_bf16_ref against an independent computation: softmax in double over scores
 * of bf16-rounded q, k (summed in double), times bf16-rounded v. The reference rounds p to
 * bf16 and sums fp32: each weight p_j / sum p is then off by at most ~2^-8 relative, so
 * |out - exact| <= 2^-8 max|v| (plus fp32 sums); a wrong pair order, layout or
 * normalisation errs by O(max|v|). */
static void test_attention_bf16_reference(void)
{
    uint64_t rs = 21;
    double worst = 0;
    for (size_t si = 0; si < sizeof attn_shapes / sizeof attn_shapes[0]; si++) {
        for (int wb = 0; wb < 2; wb++) {
            attn_case c;
            attn_case_new(&c, attn_shapes[si][0], attn_shapes[si][1], wb, &rs);
            float *out = attn_out_new(&c);
            qr_attn_args a = attn_args(&c, out);
            qr_attention_bf16_ref(&a);
            double *want = calloc(c.o_len, sizeof(double));
            double *sc = malloc((size_t)c.t * sizeof(double));
            for (int i = 0; i < c.t; i++) {
                double mx = -INFINITY, l = 0;
                for (int j = 0; j < c.t; j++) {
                    double acc = 0;
                    for (int x = 0; x < c.d; x++)
                        acc += bf(a.q[(size_t)i * c.ld + x]) * bf(a.k[(size_t)j * c.ld + x]);
                    sc[j] = acc * a.scale + (c.bias ? c.bias[j - i + c.t - 1] : 0.0);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < c.t; j++)
                    l += sc[j] = exp(sc[j] - mx);
                for (int x = 0; x < c.d; x++) {
                    double acc = 0;
                    for (int j = 0; j < c.t; j++)
                        acc += sc[j] * bf(a.v[(size_t)j * c.ld + x]);
                    want[(size_t)i * c.ldo + x] = acc / l;
                }
            }
            double e = attn_compare(&c, out, want, "bf16 reference");
            T_CHECKF(e <= 0x1p-8, "bf16 reference t=%d d=%d bias=%d: error %g max|v| (> 2^-8)",
                     c.t, c.d, wb, e);
            worst = fmax(worst, e);
            free(sc);
            free(want);
            free(out);
            attn_case_free(&c);
        }
    }
    printf("  bf16 attention reference vs double: worst %.3g max|v| (limit 2^-8)\n", worst);
}

/* Every kernel's bf16 attention against qr_attention_bf16_ref. The products and their
 * order are the same (bit for bit), exp and the order of the softmax sum differ by float
 * rounding, which can move a p by one bf16 step (2^-8 relative): the limit is 2^-9 max|v|
 * per cell, the mean well under that. Shapes the kernel does not take (bias, d % 16,
 * t > QR_ATTN_DIRECT_MAX) must return 0 and write nothing. */
static void test_attention_bf16_kernels(void)
{
    int any = 0;
    for (int ki = 0; qr_lp_names[ki]; ki++) {
        const qr_lp_kernel *k = qr_lp_get(qr_lp_names[ki]);
        if (!k) {
            if (strstr(qr_lp_names[ki], "bf16"))
                printf("SKIP %s attention: not available on this CPU (%s)\n", qr_lp_names[ki],
                       qr_lp_missing(qr_lp_names[ki]));
            continue;
        }
        if (!k->attention)
            continue;
        any = 1;
        uint64_t rs = 33;
        double worst = 0, mean_worst = 0;
        int taken = 0;
        for (size_t si = 0; si < sizeof attn_shapes / sizeof attn_shapes[0]; si++) {
            for (int wb = 0; wb < 2; wb++) {
                attn_case c;
                attn_case_new(&c, attn_shapes[si][0], attn_shapes[si][1], wb, &rs);
                float *out = attn_out_new(&c), *ref = attn_out_new(&c);
                qr_attn_args a = attn_args(&c, ref);
                qr_attention_bf16_ref(&a);
                a.out = out;
                int took = k->attention(&a);
                int should = !wb && c.d % 16 == 0 && c.t <= QR_ATTN_DIRECT_MAX;
                T_CHECKF(took == should, "%s attention t=%d d=%d bias=%d: returned %d", k->name,
                         c.t, c.d, wb, took);
                if (took) {
                    taken++;
                    double *want = malloc(c.o_len * sizeof(double)), sum = 0;
                    for (size_t i = 0; i < c.o_len; i++)
                        want[i] = ref[i];
                    double e = attn_compare(&c, out, want, k->name);
                    double vmax = attn_vmax(&c);
                    for (size_t i = 0; i < c.o_len; i++)
                        if ((long)(i % (size_t)c.ldo) < c.d)
                            sum += fabs((double)out[i] - ref[i]) / vmax;
                    double mean = sum / ((double)c.t * c.d);
                    T_CHECKF(e <= 0x1p-9 && mean <= 1e-5,
                             "%s attention t=%d d=%d: worst %g, mean %g max|v|", k->name, c.t,
                             c.d, e, mean);
                    worst = fmax(worst, e);
                    mean_worst = fmax(mean_worst, mean);
                    free(want);
                } else {
                    int touched = 0;
                    for (size_t i = 0; i < c.o_len; i++)
                        touched += out[i] != 777.0f;
                    T_CHECKF(touched == 0, "%s attention t=%d d=%d declined but wrote %d cells",
                             k->name, c.t, c.d, touched);
                }
                free(out);
                free(ref);
                attn_case_free(&c);
            }
        }
        /* past the direct limit: declined */
        attn_case c;
        attn_case_new(&c, QR_ATTN_DIRECT_MAX + 1, 64, 0, &rs);
        float *out = attn_out_new(&c);
        qr_attn_args a = attn_args(&c, out);
        T_CHECK(k->attention(&a) == 0);
        free(out);
        attn_case_free(&c);
        T_CHECK(taken > 0);
        printf("  %s attention vs reference: %d shapes, worst %.3g, worst mean %.3g max|v|\n",
               k->name, taken, worst, mean_worst);
    }
    if (!any)
        printf("SKIP bf16 attention kernels: none available on this CPU\n");
    /* the forward pass's choice: the active bf16 kernel's */
    T_CHECK(qr_lp_attention() == qr_lp_active(QR_PREC_BF16)->attention);
}

/* The fused conversions (linear.h qr_linear_io.a_lp / c_bf16, nn.h qr_attn_args.outb): a
 * bf16 layer fed bf16 rows made by the portable conversion and storing its result in bf16
 * gives, bit for bit, qr_f32_to_bf16 of what the unfused call stores in fp32, with every
 * bf16 kernel; it leaves c and the gaps of its bf16 rows untouched. The bf16 attentions
 * likewise with outb. */
/* int8: a layer fed u8 rows and scales made by the portable conversion gives, bit for bit,
 * the fp32 result of the call that converts its input itself. */
static int fused_int8_input(const qr_lp_kernel *lk, uint64_t *rs)
{
    int bad = 0;
    for (size_t si = 0; si < QR_ARRAY_LEN(shapes); si++) {
        const shape *sh = &shapes[si];
        size_t na = (size_t)sh->m * sh->k, nw = (size_t)sh->n * sh->k, nc = (size_t)sh->m * sh->n;
        float *a = malloc(na * 4), *w = malloc(nw * 4), *bias = malloc((size_t)sh->n * 4);
        float *res = malloc(nc * 4), *c = malloc(nc * 4), *c2 = malloc(nc * 4);
        fill(a, na, rs, 1.0f);
        fill(w, nw, rs, 0.05f);
        fill(bias, (size_t)sh->n, rs, 0.1f);
        fill(res, nc, rs, 1.0f);
        qr_linear L = make_linear(QR_PREC_INT8, sh->n, sh->k, w);
        run(&L, sh, a, bias, res, c, lk);
        size_t rows = ((size_t)sh->m + QR_LP_MALIGN - 1) / QR_LP_MALIGN * QR_LP_MALIGN;
        uint8_t *aq = qr_malloc_aligned(rows * (size_t)L.kp);
        float *sc = calloc(rows, sizeof(float));
        memset(aq, 128, rows * (size_t)L.kp);
        qr_lp_convert_portable(QR_PREC_INT8)(a, sh->k, sh->k, L.kp, aq, sc, 0, sh->m);
        qr_linear_io io = {a,  sh->k, sh->bias ? bias : NULL, sh->res ? res : NULL, sh->n,
                           c2, sh->n, sh->m, sh->act, aq, L.kp, sc, NULL, 0};
        qr_linear_run_with(NULL, &L, &io, NULL, lk); /* no scratch: no conversion pass */
        bad += memcmp(c, c2, nc * 4) != 0;
        qr_linear_free(&L);
        qr_free_aligned(aq);
        free(sc), free(a), free(w), free(bias), free(res), free(c), free(c2);
    }
    return bad;
}

static void test_fused_io(void)
{
    uint64_t rs = 41;
    int kernels = 0;
    for (int ki = 0; qr_lp_names[ki]; ki++) {
        const qr_lp_kernel *lk = qr_lp_get(qr_lp_names[ki]);
        if (!strstr(qr_lp_names[ki], "bf16")) {
            if (!lk) {
                printf("SKIP %s fused int8 input: not available on this CPU (%s)\n",
                       qr_lp_names[ki], qr_lp_missing(qr_lp_names[ki]));
                continue;
            }
            int bad = fused_int8_input(lk, &rs);
            T_CHECKF(bad == 0, "%s: pre-converted int8 input differs from the unfused call "
                     "in %d shapes", lk->name, bad);
            printf("  %s: pre-converted int8 input bitwise equal to the unfused call (%zu "
                   "shapes)\n", lk->name, QR_ARRAY_LEN(shapes));
            continue;
        }
        if (!lk) {
            printf("SKIP %s fused bf16 io: not available on this CPU (%s)\n", qr_lp_names[ki],
                   qr_lp_missing(qr_lp_names[ki]));
            continue;
        }
        kernels++;
        int bad = 0;
        for (size_t si = 0; si < QR_ARRAY_LEN(shapes); si++) {
            const shape *sh = &shapes[si];
            size_t na = (size_t)sh->m * sh->k, nw = (size_t)sh->n * sh->k, nc = (size_t)sh->m * sh->n;
            float *a = malloc(na * 4), *w = malloc(nw * 4), *bias = malloc((size_t)sh->n * 4);
            float *res = malloc(nc * 4), *c = malloc(nc * 4), *c2 = malloc(nc * 4);
            fill(a, na, &rs, 1.0f);
            fill(w, nw, &rs, 0.05f);
            fill(bias, (size_t)sh->n, &rs, 0.1f);
            fill(res, nc, &rs, 1.0f);
            qr_linear L = make_linear(QR_PREC_BF16, sh->n, sh->k, w);
            run(&L, sh, a, bias, res, c, lk);
            size_t rows = ((size_t)sh->m + QR_LP_MALIGN - 1) / QR_LP_MALIGN * QR_LP_MALIGN;
            uint16_t *ab = qr_malloc_aligned(rows * (size_t)L.kp * 2);
            memset(ab, 0, rows * (size_t)L.kp * 2);
            qr_lp_convert_portable(QR_PREC_BF16)(a, sh->k, sh->k, L.kp, ab, NULL, 0, sh->m);
            long ldcb = sh->n + 5;
            uint16_t *cb = malloc((size_t)sh->m * (size_t)ldcb * 2);
            for (size_t i = 0; i < (size_t)sh->m * (size_t)ldcb; i++)
                cb[i] = 0xABCD;
            for (size_t i = 0; i < nc; i++)
                c2[i] = 777.0f;
            qr_linear_io io = {a,  sh->k, sh->bias ? bias : NULL, sh->res ? res : NULL, sh->n,
                               c2, sh->n, sh->m, sh->act, ab, L.kp, NULL, cb, ldcb};
            qr_linear_run_with(NULL, &L, &io, NULL, lk); /* no scratch: no conversion pass */
            for (int i = 0; i < sh->m; i++) {
                for (long j = 0; j < ldcb; j++) {
                    uint16_t got = cb[(size_t)i * ldcb + j];
                    uint16_t want = j < sh->n ? qr_f32_to_bf16(c[(size_t)i * sh->n + j]) : 0xABCD;
                    if (got != want && bad++ < 5)
                        printf("  %s m=%d n=%d k=%d [%d][%ld]: 0x%04x, want 0x%04x\n", lk->name,
                               sh->m, sh->n, sh->k, i, j, got, want);
                }
            }
            for (size_t i = 0; i < nc; i++)
                bad += c2[i] != 777.0f;
            qr_linear_free(&L);
            qr_free_aligned(ab);
            free(a), free(w), free(bias), free(res), free(c), free(c2), free(cb);
        }
        T_CHECKF(bad == 0, "%s: fused bf16 input/output differs from the unfused call (%d)",
                 lk->name, bad);
        /* the attention's bf16 output */
        int (*att)(const qr_attn_args *) = lk->attention;
        if (strcmp(lk->name, "scalar-bf16") == 0)
            att = NULL; /* its attention is the reference, called directly below */
        int abad = 0, ashapes = 0;
        for (size_t si = 0; si < sizeof attn_shapes / sizeof attn_shapes[0]; si++) {
            attn_case ac;
            attn_case_new(&ac, attn_shapes[si][0], attn_shapes[si][1], 0, &rs);
            float *out = attn_out_new(&ac), *out2 = attn_out_new(&ac);
            qr_attn_args aa = attn_args(&ac, out);
            int took = att ? att(&aa) : (qr_attention_bf16_ref(&aa), 1);
            if (took) {
                ashapes++;
                long ldob = ac.d + 3;
                uint16_t *ob = malloc((size_t)ac.t * (size_t)ldob * 2);
                for (size_t i = 0; i < (size_t)ac.t * (size_t)ldob; i++)
                    ob[i] = 0xABCD;
                aa.out = out2;
                aa.outb = ob;
                aa.ldob = ldob;
                if (att)
                    att(&aa);
                else
                    qr_attention_bf16_ref(&aa);
                for (int i = 0; i < ac.t; i++)
                    for (long x = 0; x < ldob; x++)
                        abad += ob[(size_t)i * ldob + x] !=
                                (x < ac.d ? qr_f32_to_bf16(out[(size_t)i * ac.ldo + x]) : 0xABCD);
                for (size_t i = 0; i < ac.o_len; i++)
                    abad += out2[i] != 777.0f;
                free(ob);
            }
            free(out);
            free(out2);
            attn_case_free(&ac);
        }
        T_CHECKF(abad == 0, "%s: attention bf16 output differs from bf16(fp32 output) (%d)",
                 lk->name, abad);
        printf("  %s: fused bf16 input/output bitwise equal to the unfused call (%zu linear "
               "shapes, %d attention shapes)\n",
               lk->name, QR_ARRAY_LEN(shapes), ashapes);
    }
    T_CHECK(kernels > 0);
}

int main(void)
{
    char cache[600]; /* the packed-weight cache of the bf16/int8 opens: not ~/.cache */
    snprintf(cache, sizeof cache, "%s/pack-cache", t_tmpdir());
    setenv("QUIRE_CACHE_DIR", cache, 0);
    quire_init(QUIRE_VERSION_NUMBER, NULL);
    T_RUN(test_bf16_rounding);
    T_RUN(test_reference_arithmetic);
    T_RUN(test_kernels_vs_reference);
    T_RUN(test_fused_io);
    T_RUN(test_convert_vs_portable);
    T_RUN(test_linear_vs_fp32);
    T_RUN(test_attention_bf16_reference);
    T_RUN(test_attention_bf16_kernels);
    T_RUN(test_fingerprint_and_args);
    T_RUN(test_quality_tiny);
    T_RUN(test_quality_minilm);
    return t_done();
}
