/*
 * kern_scalar.c — portable reference kernels. Always built; the fallback on any CPU and
 * the oracle that every SIMD variant is tested against. Written for clarity; the
 * compiler may auto-vectorise but nothing here depends on it.
 */
#include <math.h>

#include "nn.h"

static void gemm_scalar(const qr_gemm_args *g)
{
    const qr_packed *w = g->w;
    for (int p = g->p0; p < g->p1; p++) {
        const float *panel = w->data + (size_t)p * w->k * QR_PANEL;
        int j0 = p * QR_PANEL;
        int nj = QR_MIN_INT(QR_PANEL, w->n - j0);
        for (int i = 0; i < g->m; i++) {
            const float *a = g->a + (size_t)i * g->lda;
            float acc[QR_PANEL];
            for (int j = 0; j < QR_PANEL; j++)
                acc[j] = 0.0f;
            for (int kk = 0; kk < w->k; kk++) {
                float av = a[kk];
                const float *wp = panel + (size_t)kk * QR_PANEL;
                for (int j = 0; j < QR_PANEL; j++)
                    acc[j] += av * wp[j];
            }
            float *c = g->c + (size_t)i * g->ldc + j0;
            const float *r = g->res ? g->res + (size_t)i * g->ldr + j0 : NULL;
            for (int j = 0; j < nj; j++) {
                float v = acc[j] + (g->bias ? g->bias[j0 + j] : 0.0f);
                if (g->act == QR_ACT_GELU)
                    v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
                if (r)
                    v += r[j];
                c[j] = v;
            }
        }
    }
}

static void layernorm_scalar(float *x, long ldx, int m, int n, const float *gamma,
                             const float *beta, float eps)
{
    for (int i = 0; i < m; i++) {
        float *row = x + (size_t)i * ldx;
        double mean = 0.0;
        for (int j = 0; j < n; j++)
            mean += row[j];
        mean /= n > 0 ? n : 1;
        double var = 0.0;
        for (int j = 0; j < n; j++) {
            double d = row[j] - mean;
            var += d * d;
        }
        var /= n > 0 ? n : 1;
        float inv = (float)(1.0 / sqrt(var + eps));
        for (int j = 0; j < n; j++)
            row[j] = ((float)(row[j] - mean)) * inv * gamma[j] + beta[j];
    }
}

static void softmax_scalar(float *x, long n)
{
    if (n <= 0)
        return;
    float mx = x[0];
    for (long i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (long i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (long i = 0; i < n; i++)
        x[i] *= inv;
}

static float exp_sum_scalar(float *x, long n, float mx)
{
    double sum = 0.0;
    for (long i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return (float)sum;
}

static float dot_scalar(const float *a, const float *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

static void axpy_scalar(float *y, const float *x, float alpha, long n)
{
    for (long i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void attention_scalar(const qr_attn_args *a)
{
    float *s = a->scratch; /* one row of scores */
    for (int i = 0; i < a->t; i++) {
        const float *q = a->q + (size_t)i * a->ldq;
        for (int j = 0; j < a->t; j++)
            s[j] = a->scale * dot_scalar(q, a->k + (size_t)j * a->ldk, a->d);
        softmax_scalar(s, a->t);
        float *o = a->out + (size_t)i * a->ldo;
        for (int c = 0; c < a->d; c++)
            o[c] = 0.0f;
        for (int j = 0; j < a->t; j++)
            axpy_scalar(o, a->v + (size_t)j * a->ldv, s[j], a->d);
    }
}

static void gelu_scalar(float *x, long n)
{
    for (long i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void dot_rows_scalar(const float *q, const float *x, long ld, long m, long n, float *out)
{
    for (long r = 0; r < m; r++)
        out[r] = dot_scalar(q, x + r * ld, n);
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, long n)
{
    int32_t s = 0;
    for (long i = 0; i < n; i++)
        s += (int32_t)a[i] * b[i];
    return s;
}

const qr_kernels qr_kernels_scalar = {
    .name = "scalar",
    .gemm = gemm_scalar,
    .layernorm = layernorm_scalar,
    .attention = attention_scalar,
    .gelu = gelu_scalar,
    .softmax = softmax_scalar,
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .dot_rows = dot_rows_scalar,
    .dot_i8 = dot_i8_scalar,
    .exp_sum = exp_sum_scalar,
};
