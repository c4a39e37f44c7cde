/*
 * forward.c — the BERT encoder forward pass over a ragged batch.
 *
 * Sequences are concatenated token-wise with no padding: every linear layer runs as
 * one GEMM over all tokens of the batch (M = total tokens), and attention runs per
 * (sequence, head) over that sequence's own tokens only. This is exactly what a padded
 * batch with an attention mask computes, minus the wasted work on padding.
 *
 * Per layer (post-LN, as BERT):
 *   qkv = x Wqkv^T + b                      (one GEMM, N = 3H)
 *   ctx = softmax(q k^T / sqrt(d)) v         per sequence and head (bf16 / int8 models:
 *                                            with bf16 products where the CPU has a bf16
 *                                            attention kernel, qr_lp_attention)
 *   x   = LN(ctx Wo^T + bo + x)              (residual fused in the GEMM epilogue)
 *   f   = GELU(x W1^T + b1)                  (GELU fused)
 *   x   = LN(f W2^T + b2 + x)
 * All buffers are allocated in qr_fwd_new; qr_fwd_run never allocates.
 *
 * bf16 models: the input of every linear layer is written in bf16 by the op before it (the
 * LayerNorms and the embedding's into xl, the bf16 attention into ctxb, the first FFN GEMM's
 * epilogue or SwiGLU into ffnb), so no linear layer runs a conversion pass of its own; the
 * values are the ones that pass would produce (qr_f32_to_bf16 of the same fp32 results).
 * int8 models: the LayerNorms quantize their rows into xl (u8 + per-row scales) for the
 * Q/K/V and first FFN GEMMs; the other two GEMMs convert their inputs themselves (a row's
 * scale needs all of it, which the ops before them split between threads).
 */
#include <math.h>
#include <string.h>

#include "embed_int.h"

/* The feed-forward block is per token, so it runs over row chunks: its [rows][I]
 * intermediate (4x the hidden size) then needs only FFN_CHUNK rows of scratch. */
#define FFN_CHUNK 512

struct qr_fwd {
    const quire_model *m;
    qr_pool *pool;
    int max_tokens, max_seq, n_threads;
    float *x, *qkv, *ctx, *ffn; /* [T][H], [T][3H], [T][H], [FFN_CHUNK][I] */
    size_t x_bytes, qkv_bytes, ffn_bytes;
    void *lin_scratch;          /* activations converted for bf16/int8 linears */
    size_t lin_scratch_bytes;
    /* bf16 models: the linear layers' inputs in bf16, rows of kph / kpi elements (k padded
     * to QR_LP_KALIGN, zero there), rows to a multiple of QR_LP_MALIGN */
    uint16_t *ctxb, *ffnb;      /* [T16][kph], [chunk16][kpi] */
    size_t xb_bytes, ffnb_bytes;
    /* bf16 / int8 models: the LayerNorms' output converted as the layer precision does
     * (bf16, or u8 = q + 128 with per-row scales xl_scale), rows of kph elements */
    void *xl;
    float *xl_scale;            /* int8: [T16] */
    size_t xl_bytes, esz;       /* esz: bytes per element of xl (2 or 1) */
    long kph, kpi;
    qr_lp_convert_fn to_lp;     /* the precision's kernel's row conversion */
    int ln_to_lp;               /* this LayerNorm also writes xl */
    float *attn_scratch;        /* per thread */
    size_t attn_stride;
    float *rope_scratch;        /* NomicBERT with NTK scaling: [max_seq][rot_dim] per thread */
    size_t rope_stride;
    int *seq_start;             /* [max_tokens + 1] */
    /* current pass */
    const int32_t *const *ids;
    const int *lens;
    int n_seq;
    int n_tok;
    /* current op */
    const qr_kernels *k;
    int (*attn_lp)(const qr_attn_args *a); /* bf16 / int8 models: bf16 attention, or NULL */
    const qr_layer *layer;
    const float *ln_g, *ln_b;
    int ffn_rows;
};

quire_status qr_fwd_new(const quire_model *m, int max_tokens_total, int max_seq,
                        int n_threads, qr_fwd **out, quire_error *err)
{
    *out = NULL;
    if (max_tokens_total < max_seq)
        max_tokens_total = max_seq;
    qr_fwd *f = qr_calloc(1, sizeof(*f));
    if (!f)
        return qr_err(err, QUIRE_NOMEM, "embedder: out of memory");
    f->m = m;
    f->max_tokens = max_tokens_total;
    f->max_seq = max_seq;
    f->n_threads = n_threads < 1 ? 1 : n_threads;
    size_t T = (size_t)max_tokens_total, H = (size_t)m->hidden, I = (size_t)m->inter;
    if (m->arch == QR_ARCH_NOMIC)
        I *= 2; /* fc11 and fc12 outputs side by side */
    int d = m->hidden / m->n_heads;
    /* attention scratch (O(max_seq * d)) + MPNet's bias row of every distance */
    f->attn_stride = (QR_ATTN_SCRATCH(max_seq, d) + 2 * (size_t)max_seq + 15) & ~(size_t)15;
    f->x_bytes = T * H * sizeof(float);
    f->qkv_bytes = T * 3 * H * sizeof(float);
    f->ffn_bytes = QR_MIN(T, (size_t)FFN_CHUNK) * I * sizeof(float);
    f->x = qr_malloc_huge(f->x_bytes);
    f->qkv = qr_malloc_huge(f->qkv_bytes);
    f->ctx = qr_malloc_huge(f->x_bytes);
    f->ffn = qr_malloc_huge(f->ffn_bytes);
    f->attn_scratch = qr_malloc_aligned(f->attn_stride * (size_t)f->n_threads * sizeof(float));
    f->lin_scratch_bytes =
        qr_linear_scratch_bytes(m->precision, max_tokens_total, QR_MAX(m->hidden, m->inter));
    f->lin_scratch = f->lin_scratch_bytes ? qr_malloc_huge(f->lin_scratch_bytes) : NULL;
    f->seq_start = qr_calloc(T + 1, sizeof(int));
    int bf = m->precision == QR_PREC_BF16, lp = m->precision != QR_PREC_FP32;
    size_t ka = QR_LP_KALIGN, ma = QR_LP_MALIGN, T16 = (T + ma - 1) / ma * ma;
    f->kph = (long)(((size_t)m->hidden + ka - 1) / ka * ka);
    f->kpi = (long)(((size_t)m->inter + ka - 1) / ka * ka);
    if (lp) {
        f->esz = bf ? 2 : 1;
        f->xl_bytes = T16 * (size_t)f->kph * f->esz + T16 * sizeof(float);
        f->xl = qr_malloc_huge(f->xl_bytes);
        if (f->xl) {
            memset(f->xl, 0, f->xl_bytes);
            f->xl_scale = (float *)(void *)((char *)f->xl + T16 * (size_t)f->kph * f->esz);
        }
    }
    if (bf) {
        f->xb_bytes = T16 * (size_t)f->kph * sizeof(uint16_t);
        f->ffnb_bytes =
            (QR_MIN(T, (size_t)FFN_CHUNK) + ma - 1) / ma * ma * (size_t)f->kpi * sizeof(uint16_t);
        /* zero: the k padding is never written, and rows past the tokens are read by the
         * whole-tile kernels (their results are not stored) */
        f->ctxb = qr_malloc_huge(f->xb_bytes);
        f->ffnb = qr_malloc_huge(f->ffnb_bytes);
        if (f->ctxb && f->ffnb) {
            memset(f->ctxb, 0, f->xb_bytes);
            memset(f->ffnb, 0, f->ffnb_bytes);
        }
    }
    if (m->arch == QR_ARCH_NOMIC && m->rot_scaling > 0) {
        f->rope_stride = ((size_t)max_seq * (size_t)m->rot_dim + 15) & ~(size_t)15;
        f->rope_scratch = qr_malloc_aligned(f->rope_stride * (size_t)f->n_threads * sizeof(float));
    }
    if (!f->x || !f->qkv || !f->ctx || !f->ffn || !f->attn_scratch || !f->seq_start ||
        (f->rope_stride && !f->rope_scratch) || (f->lin_scratch_bytes && !f->lin_scratch) ||
        (lp && !f->xl) || (bf && (!f->ctxb || !f->ffnb))) {
        qr_fwd_free(f);
        return qr_err(err, QUIRE_NOMEM,
                      "embedder: out of memory for %d tokens of scratch (lower "
                      "max_batch_tokens)",
                      max_tokens_total);
    }
    quire_status rc = qr_pool_new(f->n_threads, &f->pool, err);
    if (rc != QUIRE_OK) {
        qr_fwd_free(f);
        return rc;
    }
    *out = f;
    return QUIRE_OK;
}

void qr_fwd_free(qr_fwd *f)
{
    if (!f)
        return;
    qr_pool_free(f->pool);
    qr_free_huge(f->x, f->x_bytes);
    qr_free_huge(f->qkv, f->qkv_bytes);
    qr_free_huge(f->ctx, f->x_bytes);
    qr_free_huge(f->ffn, f->ffn_bytes);
    qr_free_aligned(f->attn_scratch);
    if (f->lin_scratch)
        qr_free_huge(f->lin_scratch, f->lin_scratch_bytes);
    if (f->xl)
        qr_free_huge(f->xl, f->xl_bytes);
    if (f->ctxb)
        qr_free_huge(f->ctxb, f->xb_bytes);
    if (f->ffnb)
        qr_free_huge(f->ffnb, f->ffnb_bytes);
    qr_free_aligned(f->rope_scratch);
    qr_free(f->seq_start);
    qr_free(f);
}

/* ---- parallel ops ---------------------------------------------------------------- */

static void op_embed(void *ctx, int ith, int nth)
{
    qr_fwd *f = ctx;
    const quire_model *m = f->m;
    int H = m->hidden;
    long lo, hi;
    qr_split(f->n_seq, ith, nth, &lo, &hi);
    for (long s = lo; s < hi; s++) {
        int base = f->seq_start[s], n_real = 0;
        for (int p = 0; p < f->lens[s]; p++) {
            float *row = f->x + (size_t)(base + p) * H;
            int id = f->ids[s][p];
            qr_st_to_f32(m->word_emb, (size_t)id * H, (size_t)H, row);
            /* RoBERTa / MPNet: padding_idx + 1 + non-pad ids so far; a pad id inside the
             * text sits at padding_idx and is not counted (as HF computes it from ids) */
            int pos = p;
            if (m->arch != QR_ARCH_BERT)
                pos = id == m->pad_id ? m->pad_id : m->pad_id + ++n_real;
            const float *te = m->type_emb; /* token type 0 */
            if (!m->pos_emb) { /* NomicBERT: rotary positions, applied in attention */
                for (int j = 0; j < H; j++)
                    row[j] += te[j];
                continue;
            }
            const float *pe = m->pos_emb + (size_t)pos * H;
            if (te) {
                for (int j = 0; j < H; j++)
                    row[j] += pe[j] + te[j];
            } else {
                for (int j = 0; j < H; j++)
                    row[j] += pe[j];
            }
        }
        f->k->layernorm(f->x + (size_t)base * H, H, f->lens[s], H, m->emb_ln_g, m->emb_ln_b,
                        m->ln_eps);
        if (f->xl)
            f->to_lp(f->x, H, H, (int)f->kph, f->xl, f->xl_scale, base, base + f->lens[s]);
    }
}

/* MPNet: the relative position bias of head h for every distance of a t-token sequence,
 * in qr_attn_args.bias order: out[j - i + t - 1] = rel_bias[bucket(i - j)][h]. */
static void rel_bias_row(const quire_model *m, int t, int h, float *out)
{
    for (int u = -(t - 1); u <= t - 1; u++)
        out[u + t - 1] = m->rel_bias[(size_t)qr_mpnet_bucket(-u) * (size_t)m->n_heads + (size_t)h];
}

static void op_attention(void *ctx, int ith, int nth)
{
    qr_fwd *f = ctx;
    const quire_model *m = f->m;
    int H = m->hidden, nh = m->n_heads, d = H / nh;
    long lo, hi;
    qr_split((long)f->n_seq * nh, ith, nth, &lo, &hi);
    qr_attn_args a;
    a.ldq = a.ldk = a.ldv = 3L * H;
    a.ldo = H;
    a.d = d;
    a.scale = 1.0f / sqrtf((float)d);
    a.scratch = f->attn_scratch + f->attn_stride * (size_t)ith;
    for (long w = lo; w < hi; w++) {
        int s = (int)(w / nh), h = (int)(w % nh);
        size_t base = (size_t)f->seq_start[s];
        a.q = f->qkv + base * 3 * H + (size_t)h * d;
        a.k = a.q + H;
        a.v = a.q + 2 * H;
        a.out = f->ctx + base * H + (size_t)h * d;
        a.t = f->lens[s];
        a.bias = NULL;
        a.outb = f->ctxb ? f->ctxb + base * (size_t)f->kph + (size_t)h * d : NULL;
        a.ldob = f->kph;
        if (m->rel_bias) {
            float *bias = a.scratch + QR_ATTN_SCRATCH(f->max_seq, d);
            rel_bias_row(m, a.t, h, bias);
            a.bias = bias;
        }
        if (f->attn_lp && f->attn_lp(&a))
            continue;
        qr_attention(f->k, &a); /* fp32 (writes out, not outb) */
        if (a.outb) /* this head's columns of the out-projection's bf16 input */
            for (int i = 0; i < a.t; i++)
                for (int c = 0; c < d; c++)
                    a.outb[(size_t)i * f->kph + c] = qr_f32_to_bf16(a.out[(size_t)i * H + c]);
    }
}

/* NomicBERT: rotary on q and k of every sequence, with the model's table, or with rows
 * for this sequence's own NTK base when it is longer than the trained length. */
static void op_rotary(void *ctx, int ith, int nth)
{
    qr_fwd *f = ctx;
    const quire_model *m = f->m;
    long H3 = 3L * m->hidden;
    long lo, hi;
    qr_split(f->n_seq, ith, nth, &lo, &hi);
    for (long s = lo; s < hi; s++) {
        int t = f->lens[s];
        const float *cs = m->rope;
        double base = qr_nomic_base(m, t);
        if (base != m->rot_base) {
            float *rows = f->rope_scratch + f->rope_stride * (size_t)ith;
            qr_nomic_rope_rows(m, base, 0, t, rows);
            cs = rows;
        }
        qr_nomic_rotate(m, f->qkv + (size_t)f->seq_start[s] * H3, H3, t, cs);
    }
}

static void op_swiglu(void *ctx, int ith, int nth)
{
    qr_fwd *f = ctx;
    long lo, hi;
    qr_split(f->ffn_rows, ith, nth, &lo, &hi);
    if (lo < hi) {
        int I = f->m->inter;
        qr_nomic_swiglu(f->ffn + (size_t)lo * 2 * (size_t)I, (int)(hi - lo), I);
        if (f->ffnb) /* fc2's bf16 input */
            f->to_lp(f->ffn, 2L * I, I, (int)f->kpi, f->ffnb, NULL, lo, hi);
    }
}

static void op_layernorm(void *ctx, int ith, int nth)
{
    qr_fwd *f = ctx;
    int H = f->m->hidden;
    long lo, hi;
    qr_split(f->n_tok, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    if (!f->ln_to_lp) {
        f->k->layernorm(f->x + (size_t)lo * H, H, (int)(hi - lo), H, f->ln_g, f->ln_b,
                        f->m->ln_eps);
        return;
    }
    /* bf16 / int8: the rows again while they are in L1, into the next GEMM's input */
    for (long r = lo; r < hi; r += 16) {
        int n = (int)QR_MIN(16, hi - r);
        f->k->layernorm(f->x + (size_t)r * H, H, n, H, f->ln_g, f->ln_b, f->m->ln_eps);
        f->to_lp(f->x, H, H, (int)f->kph, f->xl, f->xl_scale, r, r + n);
    }
}

/* al, as (bf16 / int8 models, else NULL): the input already converted (rows kp apart) and
 * its int8 scales; cb (bf16): the result stored in bf16 instead of c (rows ldcb apart). */
static void run_gemm(qr_fwd *f, int m, const float *a, long lda, const void *al,
                     const float *as, const qr_linear *w, const float *bias, const float *res,
                     long ldr, float *c, long ldc, uint16_t *cb, long ldcb, int act)
{
    qr_linear_io io = {a,  lda, bias, res,  ldr, c, ldc, m, act, al, al ? (long)w->kp : 0, as,
                       cb, ldcb};
    qr_linear_run(f->pool, w, &io, f->lin_scratch);
}

static void layer_forward(qr_fwd *f, const qr_layer *L, int last)
{
    const quire_model *m = f->m;
    long H = m->hidden, I = m->inter;
    int T = f->n_tok;
    run_gemm(f, T, f->x, H, f->xl, f->xl_scale, &L->qkv, L->qkv_b, NULL, 0, f->qkv, 3 * H,
             NULL, 0, QR_ACT_NONE);
    if (m->arch == QR_ARCH_NOMIC)
        qr_pool_run(f->pool, op_rotary, f);
    qr_pool_run(f->pool, op_attention, f);
    run_gemm(f, T, f->ctx, H, f->ctxb, NULL, &L->out, L->out_b, f->x, H, f->x, H, NULL, 0,
             QR_ACT_NONE);
    f->ln_g = L->ln1_g;
    f->ln_b = L->ln1_b;
    f->ln_to_lp = f->xl != NULL;
    qr_pool_run(f->pool, op_layernorm, f);
    for (int r = 0; r < T; r += FFN_CHUNK) {
        int rows = QR_MIN(FFN_CHUNK, T - r);
        float *xr = f->x + (size_t)r * H;
        const void *xlr = f->xl ? (const char *)f->xl + (size_t)r * f->kph * f->esz : NULL;
        const float *xsr = f->xl ? f->xl_scale + r : NULL;
        if (m->arch == QR_ARCH_NOMIC) { /* fc2(fc11(x) * silu(fc12(x))) */
            run_gemm(f, rows, xr, H, xlr, xsr, &L->ffn_in, NULL, NULL, 0, f->ffn, 2 * I, NULL,
                     0, QR_ACT_NONE);
            f->ffn_rows = rows;
            qr_pool_run(f->pool, op_swiglu, f);
            run_gemm(f, rows, f->ffn, 2 * I, f->ffnb, NULL, &L->ffn_out, NULL, xr, H, xr, H,
                     NULL, 0, QR_ACT_NONE);
            continue;
        }
        run_gemm(f, rows, xr, H, xlr, xsr, &L->ffn_in, L->ffn_in_b, NULL, 0, f->ffn, I, f->ffnb,
                 f->kpi, QR_ACT_GELU);
        run_gemm(f, rows, f->ffn, I, f->ffnb, NULL, &L->ffn_out, L->ffn_out_b, xr, H, xr, H,
                 NULL, 0, QR_ACT_NONE);
    }
    f->ln_g = L->ln2_g;
    f->ln_b = L->ln2_b;
    f->ln_to_lp = f->xl != NULL && !last; /* the last one feeds only the pooling */
    qr_pool_run(f->pool, op_layernorm, f);
}

static void pool_one(const qr_fwd *f, int s, int pooling, int normalize, float *out)
{
    int H = f->m->hidden;
    const float *x = f->x + (size_t)f->seq_start[s] * H;
    int n = f->lens[s];
    if (pooling == QUIRE_POOLING_CLS || pooling == QUIRE_POOLING_LASTTOKEN) {
        const float *row = x + (pooling == QUIRE_POOLING_LASTTOKEN && n > 0 ? (size_t)(n - 1) * H : 0);
        memcpy(out, row, (size_t)H * sizeof(float));
    } else if (pooling == QUIRE_POOLING_MAX) {
        for (int j = 0; j < H; j++) {
            float mx = n > 0 ? x[j] : 0.0f;
            for (int t = 1; t < n; t++)
                mx = x[(size_t)t * H + j] > mx ? x[(size_t)t * H + j] : mx;
            out[j] = mx;
        }
    } else {
        /* mean: sum / n; mean_sqrt_len: sum / sqrt(n); weightedmean: weights 1..n */
        double div = n > 0 ? n : 1;
        if (pooling == QUIRE_POOLING_MEAN_SQRT_LEN)
            div = sqrt(div);
        else if (pooling == QUIRE_POOLING_WEIGHTEDMEAN)
            div = n > 0 ? 0.5 * (double)n * (n + 1) : 1;
        for (int j = 0; j < H; j++) {
            double acc = 0.0;
            for (int t = 0; t < n; t++)
                acc += (pooling == QUIRE_POOLING_WEIGHTEDMEAN ? (double)(t + 1) : 1.0) *
                       x[(size_t)t * H + j];
            out[j] = (float)(acc / div);
        }
    }
    if (normalize) {
        double ss = 0.0;
        for (int j = 0; j < H; j++)
            ss += (double)out[j] * out[j];
        double norm = sqrt(ss);
        float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        for (int j = 0; j < H; j++)
            out[j] *= inv;
    }
}

void qr_fwd_run(qr_fwd *f, const int32_t *const *ids, const int *lens, int n_seq,
                int pooling, int normalize, float *out)
{
    f->k = qr_nn();
    f->attn_lp = f->m->precision == QR_PREC_FP32 ? NULL : qr_lp_attention();
    if (f->xl) {
        int prec = f->m->precision;
        const qr_lp_kernel *lk = qr_lp_active(prec);
        f->to_lp = lk->convert ? lk->convert : qr_lp_convert_portable(prec);
    }
    f->ids = ids;
    f->lens = lens;
    f->n_seq = n_seq;
    int total = 0;
    for (int s = 0; s < n_seq; s++) {
        f->seq_start[s] = total;
        total += lens[s];
    }
    f->seq_start[n_seq] = total;
    f->n_tok = total;
    qr_pool_run(f->pool, op_embed, f);
    for (int l = 0; l < f->m->n_layers; l++)
        layer_forward(f, &f->m->layers[l], l == f->m->n_layers - 1);
    for (int s = 0; s < n_seq; s++)
        pool_one(f, s, pooling, normalize, out + (size_t)s * f->m->hidden);
}
