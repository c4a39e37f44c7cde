/*
 * attention.c — blocked self-attention with an online softmax (the FlashAttention order of
 * work, on the CPU kernel table), for long inputs, any head size and an additive bias.
 *
 * For one (sequence, head) of t tokens and head size d:
 *   K is packed once into gemm panels ([t/16][d][16]: key j is output column j) and V once
 *   per key block of QR_ATTN_BK keys ([d/16][nk][16]: V^T as the weight of P V);
 *   for each block of QR_ATTN_BQ query rows:
 *     for each key block:  S = Q_blk K_blk^T (gemm), x = scale * S (+ bias),
 *                          m' = max(m, max x), p = exp(x - m') (exp_sum), l = l e^(m-m') + sum p,
 *                          O = O e^(m-m') + P V_blk (gemm, O accumulated as the residual)
 *     O /= l
 * Memory: the packed K and V (2 t d floats, d rounded up to 16) and one QR_ATTN_BQ x
 * QR_ATTN_BK block of scores — never t x t. The arithmetic is that of softmax(x) V up to
 * the order of the sums (the max subtracted is a different but exact shift), so results
 * agree with the kernels' attention to float rounding (tests/unit/test_nn.c).
 */
#include <math.h>
#include <string.h>

#include "nn.h"

/* kp[q][c][jj] = k[16q + jj][c] for keys [0, t), zero past t (qr_pack's layout). */
static void pack_keys(float *kp, const float *k, long ldk, int t, int d)
{
    for (int q = 0; q * 16 < t; q++) {
        float *dst = kp + (size_t)q * (size_t)d * 16;
        int rows = QR_MIN_INT(16, t - q * 16);
        for (int jj = 0; jj < 16; jj++) {
            const float *src = k + (size_t)(q * 16 + jj) * (size_t)ldk;
            for (int c = 0; c < d; c++)
                dst[(size_t)c * 16 + jj] = jj < rows ? src[c] : 0.0f;
        }
    }
}

/* vp[p][j][cc] = v[j0 + j][16p + cc] for j < nk, zero past d. */
static void pack_values(float *vp, const float *v, long ldv, int j0, int nk, int d)
{
    int np = (d + 15) / 16;
    for (int p = 0; p < np; p++) {
        float *dst = vp + (size_t)p * (size_t)nk * 16;
        int cols = QR_MIN_INT(16, d - p * 16);
        for (int j = 0; j < nk; j++) {
            const float *src = v + (size_t)(j0 + j) * (size_t)ldv + (size_t)p * 16;
            float *o = dst + (size_t)j * 16;
            memcpy(o, src, (size_t)cols * sizeof(float));
            for (int cc = cols; cc < 16; cc++)
                o[cc] = 0.0f;
        }
    }
}

void qr_attention_blocked(const qr_kernels *k, const qr_attn_args *a)
{
    const int t = a->t, d = a->d;
    if (t <= 0 || d <= 0)
        return;
    const size_t tp = ((size_t)t + 15) / 16 * 16, d16 = QR_ATTN_D16(d);
    float *kp = a->scratch;                      /* tp * d */
    float *vp = kp + tp * d16;                   /* tp * d16 (blocks of BK keys) */
    float *s = vp + tp * d16;                    /* BQ * BK */
    float mx[QR_ATTN_BQ], l[QR_ATTN_BQ];
    pack_keys(kp, a->k, a->ldk, t, d);
    const int nb = (t + QR_ATTN_BK - 1) / QR_ATTN_BK;
    for (int b = 0; b < nb; b++) {
        int j0 = b * QR_ATTN_BK;
        pack_values(vp + (size_t)j0 * d16, a->v, a->ldv, j0, QR_MIN_INT(QR_ATTN_BK, t - j0), d);
    }
    for (int i0 = 0; i0 < t; i0 += QR_ATTN_BQ) {
        const int mq = QR_MIN_INT(QR_ATTN_BQ, t - i0);
        float *o = a->out + (size_t)i0 * (size_t)a->ldo;
        for (int b = 0; b < nb; b++) {
            const int j0 = b * QR_ATTN_BK, nk = QR_MIN_INT(QR_ATTN_BK, t - j0);
            qr_packed kb = {nk, d, (nk + 15) / 16, kp + (size_t)j0 * (size_t)d};
            qr_gemm_args g = {a->q + (size_t)i0 * (size_t)a->ldq, a->ldq, &kb, NULL, NULL, 0,
                              s, QR_ATTN_BK, mq, 0, kb.n_panels, QR_ACT_NONE};
            k->gemm(&g);
            for (int r = 0; r < mq; r++) {
                float *x = s + (size_t)r * QR_ATTN_BK;
                float m = -INFINITY;
                if (a->bias) {
                    const float *bi = a->bias + (j0 - (i0 + r) + t - 1);
                    for (int j = 0; j < nk; j++) {
                        x[j] = x[j] * a->scale + bi[j];
                        m = x[j] > m ? x[j] : m;
                    }
                } else {
                    for (int j = 0; j < nk; j++) {
                        x[j] *= a->scale;
                        m = x[j] > m ? x[j] : m;
                    }
                }
                if (b == 0) {
                    mx[r] = m;
                    l[r] = k->exp_sum(x, nk, m);
                    continue;
                }
                float mn = m > mx[r] ? m : mx[r];
                float c = expf(mx[r] - mn);
                l[r] = l[r] * c + k->exp_sum(x, nk, mn);
                mx[r] = mn;
                if (c != 1.0f) {
                    float *orow = o + (size_t)r * (size_t)a->ldo;
                    for (int cc = 0; cc < d; cc++)
                        orow[cc] *= c;
                }
            }
            /* O = P V_blk (first block) or O + P V_blk */
            qr_packed vb = {d, nk, (int)(d16 / 16), vp + (size_t)j0 * d16};
            qr_gemm_args pv = {s, QR_ATTN_BK, &vb, NULL, b ? o : NULL, a->ldo, o, a->ldo,
                               mq, 0, vb.n_panels, QR_ACT_NONE};
            k->gemm(&pv);
        }
        for (int r = 0; r < mq; r++) {
            float inv = (float)(1.0 / (double)l[r]);
            float *orow = o + (size_t)r * (size_t)a->ldo;
            for (int cc = 0; cc < d; cc++)
                orow[cc] *= inv;
        }
    }
}

void qr_attention(const qr_kernels *k, const qr_attn_args *a)
{
    if (!a->bias && a->d % 16 == 0 && a->t <= QR_ATTN_DIRECT_MAX)
        k->attention(a);
    else
        qr_attention_blocked(k, a);
}

/* ---- bf16 attention: the scalar reference (linear.h) ------------------------------------ */

static float bf16_round(float x) { return qr_bf16_to_f32(qr_f32_to_bf16(x)); }

void qr_attention_bf16_ref(const qr_attn_args *a)
{
    const int t = a->t, d = a->d;
    if (t <= 0 || d <= 0)
        return;
    float *s = a->scratch; /* t scores (p after rounding) */
    float *qb = s + t;     /* d: the query row in bf16 */
    float *vc = qb + d;    /* t: one column of V in bf16 */
    for (int i = 0; i < t; i++) {
        const float *q = a->q + (size_t)i * (size_t)a->ldq;
        for (int c = 0; c < d; c++)
            qb[c] = bf16_round(q[c]);
        float m = -INFINITY;
        for (int j = 0; j < t; j++) {
            const float *kr = a->k + (size_t)j * (size_t)a->ldk;
            float acc = 0.0f;
            for (int c = 0; c < d; c += 2) {
                if (c + 1 < d)
                    acc += qb[c + 1] * bf16_round(kr[c + 1]);
                acc += qb[c] * bf16_round(kr[c]);
            }
            float x = acc * a->scale;
            if (a->bias)
                x += a->bias[j - i + t - 1];
            s[j] = x;
            m = x > m ? x : m;
        }
        float l = 0.0f;
        for (int j = 0; j < t; j++) {
            s[j] = bf16_round(expf(s[j] - m));
            l += s[j];
        }
        float inv = (float)(1.0 / (double)l);
        float *o = a->out + (size_t)i * (size_t)a->ldo;
        uint16_t *ob = a->outb ? a->outb + (size_t)i * (size_t)a->ldob : NULL;
        for (int c = 0; c < d; c++) {
            for (int j = 0; j < t; j++)
                vc[j] = bf16_round(a->v[(size_t)j * (size_t)a->ldv + (size_t)c]);
            float acc = 0.0f;
            for (int j = 0; j < t; j += 2) {
                if (j + 1 < t)
                    acc += s[j + 1] * vc[j + 1];
                acc += s[j] * vc[j];
            }
            if (ob)
                ob[c] = qr_f32_to_bf16(acc * inv);
            else
                o[c] = acc * inv;
        }
    }
}
