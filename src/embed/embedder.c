/*
 * embedder.c — the public embedding calls: tokenize a window of texts, sort them by
 * length, cut the window into passes of at most max_batch texts and max_batch_tokens
 * tokens (length bucketing: similar lengths share a pass; with the ragged forward pass
 * nothing is padded anyway), run the encoder and scatter results back to input order.
 */
#include <stdlib.h>
#include <string.h>

#include "embed_int.h"

#define WINDOW_PER_BATCH 8

struct quire_embedder {
    const quire_model *m;
    qr_fwd *fwd;
    int max_batch, max_batch_tokens, normalize, pooling;
    int window;
    int32_t *ids_buf;     /* [window][max_tokens] */
    int *lens;            /* [window] */
    int *order;           /* [window] */
    int *count;           /* [max_tokens + 2] counting-sort buckets */
    const int32_t **seq;  /* [window] */
    const int32_t **ptrs; /* [max_batch] */
    int *blens;           /* [max_batch] */
    float *out_tmp;       /* [max_batch][H] */
};

quire_embedder_params quire_embedder_default_params(void)
{
    quire_embedder_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

quire_status quire_embedder_new(const quire_model *m, const quire_embedder_params *params,
                                quire_embedder **out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_embedder_new: out is NULL");
    *out = NULL;
    if (!m)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_embedder_new: model is NULL");
    quire_embedder_params p = params ? *params : quire_embedder_default_params();
    if (p.n_threads < 0 || p.n_threads > 256 || p.max_batch < 0 || p.max_batch > 65536 ||
        p.max_batch_tokens < 0 || p.max_batch_tokens > (1 << 24))
        return qr_err(err, QUIRE_INVALID_ARG,
                      "embedder: n_threads 0..256, max_batch 0..65536, max_batch_tokens "
                      "0..16777216");
    if (p.pooling && !strcmp(quire_pooling_name(p.pooling), "?"))
        return qr_err(err, QUIRE_INVALID_ARG, "embedder: unknown pooling %d", p.pooling);
    if (p.normalize && p.no_normalize)
        return qr_err(err, QUIRE_INVALID_ARG, "embedder: normalize and no_normalize both set");
    quire_embedder *e = qr_calloc(1, sizeof(*e));
    if (!e)
        return qr_err(err, QUIRE_NOMEM, "embedder: out of memory");
    e->m = m;
    e->max_batch = p.max_batch ? p.max_batch : 32;
    e->max_batch_tokens = p.max_batch_tokens ? p.max_batch_tokens : 4096;
    if (e->max_batch_tokens < m->max_tokens)
        e->max_batch_tokens = m->max_tokens;
    e->normalize = p.no_normalize ? 0 : p.normalize ? 1 : m->normalize;
    e->pooling = p.pooling ? p.pooling : m->pooling;
    e->window = e->max_batch * WINDOW_PER_BATCH;
    if (e->window > 4096)
        e->window = QR_MAX(4096, e->max_batch); /* bounds the ids buffer */
    size_t W = (size_t)e->window;
    e->ids_buf = qr_malloc(W * (size_t)m->max_tokens * sizeof(int32_t));
    e->lens = qr_calloc(W, sizeof(int));
    e->order = qr_calloc(W, sizeof(int));
    e->count = qr_calloc((size_t)m->max_tokens + 2, sizeof(int));
    e->seq = qr_calloc(W, sizeof(*e->seq));
    e->ptrs = qr_calloc((size_t)e->max_batch, sizeof(*e->ptrs));
    e->blens = qr_calloc((size_t)e->max_batch, sizeof(int));
    e->out_tmp = qr_malloc_aligned((size_t)e->max_batch * (size_t)m->hidden * sizeof(float));
    quire_status rc = QUIRE_OK;
    if (!e->ids_buf || !e->lens || !e->order || !e->count || !e->seq || !e->ptrs || !e->blens || !e->out_tmp)
        rc = qr_err(err, QUIRE_NOMEM, "embedder: out of memory");
    if (rc == QUIRE_OK)
        rc = qr_fwd_new(m, e->max_batch_tokens, m->max_tokens, p.n_threads, &e->fwd, err);
    if (rc != QUIRE_OK) {
        quire_embedder_free(e);
        return rc;
    }
    *out = e;
    return QUIRE_OK;
}

void quire_embedder_free(quire_embedder *e)
{
    if (!e)
        return;
    qr_fwd_free(e->fwd);
    qr_free(e->ids_buf);
    qr_free(e->lens);
    qr_free(e->order);
    qr_free(e->count);
    qr_free(e->seq);
    qr_free(e->ptrs);
    qr_free(e->blens);
    qr_free_aligned(e->out_tmp);
    qr_free(e);
}

/* Order window indices by length, longest first; ties keep input order so results
 * are deterministic. Counting sort: lengths are bounded by max_tokens. */
static void sort_by_len(int *order, int *count, const int *lens, int n, int max_len)
{
    memset(count, 0, (size_t)(max_len + 2) * sizeof(int));
    for (int i = 0; i < n; i++)
        count[max_len - lens[i] + 1]++;
    for (int l = 1; l <= max_len + 1; l++)
        count[l] += count[l - 1];
    for (int i = 0; i < n; i++)
        order[count[max_len - lens[i]]++] = i;
}

/* Run the window's texts (ids in ptr_of(i), lengths in lens) in passes. */
static void run_window(quire_embedder *e, const int32_t *const *seq_ids, const int *lens,
                       int n, float *vecs, size_t base)
{
    int H = e->m->hidden;
    sort_by_len(e->order, e->count, lens, n, e->m->max_tokens);
    int i = 0;
    while (i < n) {
        int nb = 0, tok = 0;
        while (i + nb < n && nb < e->max_batch &&
               tok + lens[e->order[i + nb]] <= e->max_batch_tokens) {
            int idx = e->order[i + nb];
            e->ptrs[nb] = seq_ids[idx];
            e->blens[nb] = lens[idx];
            tok += lens[idx];
            nb++;
        }
        qr_fwd_run(e->fwd, e->ptrs, e->blens, nb, e->pooling, e->normalize, e->out_tmp);
        for (int b = 0; b < nb; b++) {
            size_t dst = base + (size_t)e->order[i + b];
            memcpy(vecs + dst * H, e->out_tmp + (size_t)b * H, (size_t)H * sizeof(float));
        }
        i += nb;
    }
}

quire_status quire_embed(quire_embedder *e, const char *const *texts, const size_t *lens,
                         size_t n, float *vecs, int32_t *n_tokens, quire_error *err)
{
    return quire_embed_counted(e, texts, lens, n, vecs, n_tokens, NULL, err);
}

quire_status quire_embed_counted(quire_embedder *e, const char *const *texts,
                                 const size_t *lens, size_t n, float *vecs, int32_t *n_tokens,
                                 int32_t *n_input_tokens, quire_error *err)
{
    if (!e || (n && (!texts || !vecs)))
        return qr_err(err, QUIRE_INVALID_ARG, "quire_embed: NULL argument");
    const quire_model *m = e->m;
    for (size_t w0 = 0; w0 < n; w0 += (size_t)e->window) {
        int nw = (int)QR_MIN((size_t)e->window, n - w0);
        for (int i = 0; i < nw; i++) {
            const char *t = texts[w0 + i];
            if (!t)
                return qr_err(err, QUIRE_INVALID_ARG, "quire_embed: text %zu is NULL",
                              w0 + (size_t)i);
            size_t len = lens ? lens[w0 + i] : strlen(t);
            size_t got = 0;
            int32_t *dst = e->ids_buf + (size_t)i * m->max_tokens;
            quire_status rc =
                qr_tok_encode(m->tok, t, len, m->max_tokens, 1, dst, (size_t)m->max_tokens,
                              &got, err);
            if (rc != QUIRE_OK)
                return rc;
            e->lens[i] = (int)QR_MIN(got, (size_t)m->max_tokens);
            if (n_tokens)
                n_tokens[w0 + i] = e->lens[i];
            if (n_input_tokens) {
                /* at the limit: count again without one to tell a cut from an exact fit */
                size_t full = got;
                if (got >= (size_t)m->max_tokens &&
                    (rc = qr_tok_encode(m->tok, t, len, 0, 1, NULL, 0, &full, err)) != QUIRE_OK)
                    return rc;
                n_input_tokens[w0 + i] = full > (size_t)INT32_MAX ? INT32_MAX : (int32_t)full;
            }
        }
        for (int i = 0; i < nw; i++)
            e->seq[i] = e->ids_buf + (size_t)i * m->max_tokens;
        run_window(e, e->seq, e->lens, nw, vecs, w0);
    }
    return QUIRE_OK;
}

quire_status quire_embed_ids(quire_embedder *e, const int32_t *const *ids, const size_t *n_ids,
                             size_t n, float *vecs, quire_error *err)
{
    if (!e || (n && (!ids || !n_ids || !vecs)))
        return qr_err(err, QUIRE_INVALID_ARG, "quire_embed_ids: NULL argument");
    const quire_model *m = e->m;
    for (size_t i = 0; i < n; i++) {
        if (n_ids[i] < 1 || n_ids[i] > (size_t)m->max_tokens)
            return qr_err(err, QUIRE_INVALID_ARG,
                          "input %zu: %zu tokens (must be 1..%d incl. [CLS]/[SEP])", i,
                          n_ids[i], m->max_tokens);
        for (size_t j = 0; j < n_ids[i]; j++) {
            if (ids[i][j] < 0 || ids[i][j] >= m->vocab_size)
                return qr_err(err, QUIRE_INVALID_ARG,
                              "input %zu: token id %d at position %zu is outside the "
                              "vocabulary (0..%d)",
                              i, (int)ids[i][j], j, m->vocab_size - 1);
        }
    }
    for (size_t w0 = 0; w0 < n; w0 += (size_t)e->window) {
        int nw = (int)QR_MIN((size_t)e->window, n - w0);
        for (int i = 0; i < nw; i++)
            e->lens[i] = (int)n_ids[w0 + i];
        run_window(e, ids + w0, e->lens, nw, vecs, w0);
    }
    return QUIRE_OK;
}

const quire_model *quire_embedder_model(const quire_embedder *emb) { return emb ? emb->m : NULL; }
