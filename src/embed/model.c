/*
 * model.c — opening a model folder: configs, tokenizer, and weights. Linear weights are
 * converted to float32 and packed into the kernel panel layout once, here; the word
 * embedding table stays in the read-only mapping and is read row by row (only the rows
 * of tokens actually seen are ever paged in).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include "embed.h"
#include "embed_int.h"

quire_model_params quire_model_default_params(void)
{
    quire_model_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

/* Find a tensor and check its dtype and shape. */
static quire_status need(const quire_model *m, const char *name, int64_t d0, int64_t d1,
                         const qr_st_tensor **out, quire_error *err)
{
    const qr_st_tensor *t = qr_st_find(&m->st, name);
    *out = NULL;
    if (!t)
        return qr_err(err, QUIRE_FORMAT, "%s: missing tensor %s", m->st.path, name);
    if (t->dtype == QR_DT_OTHER)
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: dtype must be F32, F16 or BF16",
                      m->st.path, name);
    int want_dims = d1 > 0 ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != d0 || (d1 > 0 && t->shape[1] != d1)) {
        char got[96] = "";
        size_t used = 0;
        for (int i = 0; i < t->n_dims && used < sizeof(got) - 24; i++)
            used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%lld", i ? ", " : "",
                                     (long long)t->shape[i]);
        if (d1 > 0)
            return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: shape [%s], expected [%lld, %lld]",
                          m->st.path, name, got, (long long)d0, (long long)d1);
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: shape [%s], expected [%lld]",
                      m->st.path, name, got, (long long)d0);
    }
    *out = t;
    return QUIRE_OK;
}

static void drop_pages(const qr_st_tensor *t);
static void populate_pages(const qr_st_tensor *t);

typedef struct loader {
    quire_model *m;
    float *next;  /* bump pointer into m->arena */
    float *tmp;   /* conversion buffer, large enough for the biggest matrix */
    quire_error *err;
    int layer, slot; /* the next linear layer, for the packed-weight cache */
} loader;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static float *take(loader *ld, size_t n)
{
    float *p = ld->next;
    ld->next += round16(n);
    return p;
}

/* Convert a vector/matrix tensor to float32 into the arena. */
static quire_status load_plain(loader *ld, const char *name, int64_t d0, int64_t d1,
                               float **out)
{
    const qr_st_tensor *t;
    quire_status rc = need(ld->m, name, d0, d1, &t, ld->err);
    if (rc != QUIRE_OK)
        return rc;
    size_t n = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    *out = take(ld, n);
    qr_st_to_f32(t, 0, n, *out);
    drop_pages(t);
    return QUIRE_OK;
}

/* Map a tensor's pages in one call before reading it: a page fault per 4 KiB (even with
 * fault-around) costs more than the copy itself on virtual machines. Best effort. */
static void populate_pages(const qr_st_tensor *t)
{
#ifdef MADV_POPULATE_READ
    uintptr_t pg = 4096;
    uintptr_t lo = (uintptr_t)t->data & ~(pg - 1);
    uintptr_t hi = ((uintptr_t)t->data + t->n_bytes + pg - 1) & ~(pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
#else
    (void)t;
#endif
}

/* Give the pages of a tensor we have finished copying back to the page cache: only
 * the packed copy is used from now on, so they need not count in our RSS. */
static void drop_pages(const qr_st_tensor *t)
{
#ifdef MADV_DONTNEED
    uintptr_t pg = 4096;
    uintptr_t lo = ((uintptr_t)t->data + pg - 1) & ~(pg - 1);
    uintptr_t hi = ((uintptr_t)t->data + t->n_bytes) & ~(pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
    (void)t;
#endif
}

/* panel[kk][j] = src[j][kk] for 16 rows (NULL row = zeros). With SSE2 (baseline on
 * x86-64) 4x4 blocks are transposed in registers: packing 40 MB of weights is then
 * bound by memory bandwidth, which matters for cold start. */
static void transpose_panel(const float *const *src, size_t k, float *dst)
{
    size_t kk = 0;
#if defined(__SSE2__)
    static const float zeros[4] = {0, 0, 0, 0};
    for (; kk + 4 <= k; kk += 4) {
        for (int j = 0; j < QR_PANEL; j += 4) {
            __m128 r0 = _mm_loadu_ps(src[j] ? src[j] + kk : zeros);
            __m128 r1 = _mm_loadu_ps(src[j + 1] ? src[j + 1] + kk : zeros);
            __m128 r2 = _mm_loadu_ps(src[j + 2] ? src[j + 2] + kk : zeros);
            __m128 r3 = _mm_loadu_ps(src[j + 3] ? src[j + 3] + kk : zeros);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + (kk + 0) * QR_PANEL + j, r0);
            _mm_storeu_ps(dst + (kk + 1) * QR_PANEL + j, r1);
            _mm_storeu_ps(dst + (kk + 2) * QR_PANEL + j, r2);
            _mm_storeu_ps(dst + (kk + 3) * QR_PANEL + j, r3);
        }
    }
#endif
    for (; kk < k; kk++) {
        for (int j = 0; j < QR_PANEL; j++)
            dst[kk * QR_PANEL + j] = src[j] ? src[j][kk] : 0.0f;
    }
}

/* Stack one or more [rows][k] weight tensors and pack them into panels, reading the
 * mapping directly (F32) or through a 16-row conversion buffer (F16/BF16). The inner
 * loop writes the panel sequentially while reading 16 row streams. */
static quire_status load_packed(loader *ld, const char *const *names, int n_names,
                                int64_t rows, int64_t k, qr_linear *lin)
{
    const qr_st_tensor *t[4];
    for (int i = 0; i < n_names; i++) {
        quire_status rc = need(ld->m, names[i], rows, k, &t[i], ld->err);
        if (rc != QUIRE_OK)
            return rc;
    }
    int n = (int)(rows * n_names);
    if (qr_pcache_view(ld->m, ld->layer, ld->slot++, lin, n, (int)k))
        return QUIRE_OK; /* converted on an earlier open: mapped from the cache file */
    for (int i = 0; i < n_names; i++)
        populate_pages(t[i]);
    quire_status rc = qr_linear_init(lin, ld->m->precision, n, (int)k, ld->err);
    if (rc != QUIRE_OK)
        return rc;
    qr_packed *out = &lin->f32;
    out->n = n;
    out->k = (int)k;
    out->n_panels = lin->n_panels;
    if (lin->prec == QR_PREC_FP32)
        out->data = take(ld, qr_packed_size(n, (int)k));
    for (int p = 0; p < out->n_panels; p++) {
        const float *src[QR_PANEL];
        for (int j = 0; j < QR_PANEL; j++) {
            int r = p * QR_PANEL + j;
            if (r >= n) {
                src[j] = NULL;
                continue;
            }
            const qr_st_tensor *tt = t[r / rows];
            size_t row = (size_t)(r % rows);
            if (tt->dtype == QR_DT_F32) {
                src[j] = (const float *)(const void *)(tt->data + row * (size_t)k * 4);
            } else {
                float *buf = ld->tmp + (size_t)j * (size_t)k;
                qr_st_to_f32(tt, row * (size_t)k, (size_t)k, buf);
                src[j] = buf;
            }
        }
        if (lin->prec == QR_PREC_FP32)
            transpose_panel(src, (size_t)k, out->data + (size_t)p * (size_t)k * QR_PANEL);
        else
            qr_linear_fill_panel(lin, p, src);
    }
    for (int i = 0; i < n_names; i++)
        drop_pages(t[i]);
    return QUIRE_OK;
}

static quire_status load_bias3(loader *ld, const char *const *names, int64_t h, float **out)
{
    float *dst = take(ld, (size_t)(3 * h));
    for (int i = 0; i < 3; i++) {
        const qr_st_tensor *t;
        quire_status rc = need(ld->m, names[i], h, 0, &t, ld->err);
        if (rc != QUIRE_OK)
            return rc;
        qr_st_to_f32(t, 0, (size_t)h, dst + i * h);
    }
    *out = dst;
    return QUIRE_OK;
}

/* Floats of the embedding part, then of each layer (layers are laid out back to back
 * at fixed offsets so they can be loaded in parallel). */
static size_t emb_floats(const quire_model *m)
{
    size_t h = (size_t)m->hidden;
    return round16((size_t)m->max_pos * h) + round16((size_t)m->type_vocab * h) +
           2 * round16(h) + round16((size_t)m->rel_buckets * (size_t)m->n_heads);
}

/* fp32 panels live in the arena; bf16/int8 layers own their converted weights */
static size_t packed_floats(const quire_model *m, int n, int k)
{
    return m->precision == QR_PREC_FP32 ? round16(qr_packed_size(n, k)) : 0;
}

static size_t layer_floats(const quire_model *m)
{
    size_t h = (size_t)m->hidden, in = (size_t)m->inter;
    int in_rows = m->arch == QR_ARCH_NOMIC ? 2 * m->inter : m->inter; /* fc11 + fc12 */
    return packed_floats(m, 3 * m->hidden, m->hidden) + round16(3 * h) +
           packed_floats(m, m->hidden, m->hidden) + round16(h) + 2 * round16(h) +
           packed_floats(m, in_rows, m->hidden) + round16(in) +
           packed_floats(m, m->hidden, m->inter) + round16(h) + 2 * round16(h);
}

static size_t arena_size(const quire_model *m)
{
    return emb_floats(m) + layer_floats(m) * (size_t)m->n_layers;
}

#define LNAME(buf, i, suffix) (snprintf(buf, sizeof(buf), "encoder.layer.%d.%s", i, suffix), buf)

/* Attention tensor names per architecture (the feed-forward names are BERT's in all). */
typedef struct attn_names {
    const char *q, *k, *v, *o, *ln; /* + ".weight" / ".bias" */
} attn_names;
static const attn_names bert_attn = {"attention.self.query", "attention.self.key",
                                     "attention.self.value", "attention.output.dense",
                                     "attention.output.LayerNorm"};
static const attn_names mpnet_attn = {"attention.attn.q", "attention.attn.k", "attention.attn.v",
                                      "attention.attn.o", "attention.LayerNorm"};

#define ANAME(buf, i, base, suffix) \
    (snprintf(buf, sizeof(buf), "encoder.layer.%d.%s.%s", i, base, suffix), buf)

static quire_status load_layer(loader *ld, int i, qr_layer *L)
{
    quire_model *m = ld->m;
    int64_t h = m->hidden, in = m->inter;
    const attn_names *an = m->arch == QR_ARCH_MPNET ? &mpnet_attn : &bert_attn;
    char q[128], k[128], v[128], b[128], g[128];
    const char *qkv_w[3] = {ANAME(q, i, an->q, "weight"), ANAME(k, i, an->k, "weight"),
                            ANAME(v, i, an->v, "weight")};
    quire_status rc = load_packed(ld, qkv_w, 3, h, h, &L->qkv);
    if (rc)
        return rc;
    const char *qkv_b[3] = {ANAME(q, i, an->q, "bias"), ANAME(k, i, an->k, "bias"),
                            ANAME(v, i, an->v, "bias")};
    if ((rc = load_bias3(ld, qkv_b, h, &L->qkv_b)))
        return rc;
    const char *ow[1] = {ANAME(q, i, an->o, "weight")};
    if ((rc = load_packed(ld, ow, 1, h, h, &L->out)) ||
        (rc = load_plain(ld, ANAME(b, i, an->o, "bias"), h, 0, &L->out_b)) ||
        (rc = load_plain(ld, ANAME(g, i, an->ln, "weight"), h, 0, &L->ln1_g)) ||
        (rc = load_plain(ld, ANAME(b, i, an->ln, "bias"), h, 0, &L->ln1_b)))
        return rc;
    const char *fw[1] = {LNAME(q, i, "intermediate.dense.weight")};
    if ((rc = load_packed(ld, fw, 1, in, h, &L->ffn_in)) ||
        (rc = load_plain(ld, LNAME(b, i, "intermediate.dense.bias"), in, 0, &L->ffn_in_b)))
        return rc;
    const char *f2[1] = {LNAME(q, i, "output.dense.weight")};
    if ((rc = load_packed(ld, f2, 1, h, in, &L->ffn_out)) ||
        (rc = load_plain(ld, LNAME(b, i, "output.dense.bias"), h, 0, &L->ffn_out_b)) ||
        (rc = load_plain(ld, LNAME(g, i, "output.LayerNorm.weight"), h, 0, &L->ln2_g)) ||
        (rc = load_plain(ld, LNAME(b, i, "output.LayerNorm.bias"), h, 0, &L->ln2_b)))
        return rc;
    return QUIRE_OK;
}

/* NomicBERT: encoder.layers.N.{attn.Wqkv, attn.out_proj, norm1, mlp.fc11, mlp.fc12,
 * mlp.fc2, norm2}; no biases (qkv_b, out_b, ffn_in_b, ffn_out_b stay NULL). fc11 and fc12
 * are stacked into one [2I][H] matrix: fc11 rows first. */
static quire_status load_layer_nomic(loader *ld, int i, qr_layer *L)
{
    quire_model *m = ld->m;
    int64_t h = m->hidden, in = m->inter;
    char a[128], b[128];
#define NNAME(buf, suffix) (snprintf(buf, sizeof(buf), "encoder.layers.%d.%s", i, suffix), buf)
    const char *qkv[1] = {NNAME(a, "attn.Wqkv.weight")};
    quire_status rc = load_packed(ld, qkv, 1, 3 * h, h, &L->qkv);
    if (rc)
        return rc;
    const char *ow[1] = {NNAME(a, "attn.out_proj.weight")};
    if ((rc = load_packed(ld, ow, 1, h, h, &L->out)) ||
        (rc = load_plain(ld, NNAME(a, "norm1.weight"), h, 0, &L->ln1_g)) ||
        (rc = load_plain(ld, NNAME(a, "norm1.bias"), h, 0, &L->ln1_b)))
        return rc;
    const char *fw[2] = {NNAME(a, "mlp.fc11.weight"), NNAME(b, "mlp.fc12.weight")};
    if ((rc = load_packed(ld, fw, 2, in, h, &L->ffn_in)))
        return rc;
    const char *f2[1] = {NNAME(a, "mlp.fc2.weight")};
    if ((rc = load_packed(ld, f2, 1, h, in, &L->ffn_out)) ||
        (rc = load_plain(ld, NNAME(a, "norm2.weight"), h, 0, &L->ln2_g)) ||
        (rc = load_plain(ld, NNAME(b, "norm2.bias"), h, 0, &L->ln2_b)))
        return rc;
#undef NNAME
    return QUIRE_OK;
}

/* Packing the layers is most of the load time (a cold start is mostly this), so the
 * layers are split over up to two threads; each has its own conversion buffer and
 * error buffer, and the first failing layer's error is reported. */
typedef struct par_load {
    quire_model *m;
    float *tmp[2];
    quire_status rc[2];
    quire_error err[2];
} par_load;

static void load_layers_task(void *ctx, int ith, int nth)
{
    par_load *pl = ctx;
    quire_model *m = pl->m;
    float *base = m->arena + emb_floats(m);
    for (int i = ith; i < m->n_layers; i += nth) {
        loader ld = {m, base + layer_floats(m) * (size_t)i, pl->tmp[ith], &pl->err[ith], i, 0};
        pl->rc[ith] = m->arch == QR_ARCH_NOMIC ? load_layer_nomic(&ld, i, &m->layers[i])
                                               : load_layer(&ld, i, &m->layers[i]);
        if (pl->rc[ith] != QUIRE_OK)
            return;
    }
}

static quire_status load_layers(quire_model *m, quire_error *err)
{
    size_t tmp_n = (size_t)QR_PANEL * (size_t)QR_MAX(m->hidden, m->inter);
    par_load pl;
    memset(&pl, 0, sizeof(pl));
    pl.m = m;
    qr_pool *pool = NULL;
    if (m->n_layers > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1)
        qr_pool_new(2, &pool, NULL); /* on failure: load on this thread only */
    int nth = qr_pool_size(pool);
    quire_status rc = QUIRE_OK;
    for (int t = 0; t < nth; t++) {
        pl.tmp[t] = qr_malloc_aligned(tmp_n * sizeof(float));
        if (!pl.tmp[t])
            rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory for weights", m->st.path);
    }
    if (rc == QUIRE_OK) {
        qr_pool_run(pool, load_layers_task, &pl);
        for (int t = 0; t < nth && rc == QUIRE_OK; t++) {
            if (pl.rc[t] != QUIRE_OK) {
                rc = pl.rc[t];
                if (err)
                    *err = pl.err[t];
            }
        }
    }
    for (int t = 0; t < nth; t++)
        qr_free_aligned(pl.tmp[t]);
    qr_pool_free(pool);
    return rc;
}

/* The layers, from the packed-weight cache where it has them (bf16/int8), and the cache
 * written after a load that converted. */
static quire_status load_layers_cached(quire_model *m, quire_error *err)
{
    qr_pcache_open(m);
    quire_status rc = load_layers(m, err);
    if (rc == QUIRE_OK)
        qr_pcache_store(m);
    return rc;
}

quire_status qr_model_load_weights(quire_model *m, const char *dir, quire_error *err)
{
    char path[4096];
    if (qr_path_join(path, sizeof(path), dir, "model.safetensors") != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", dir);
    char *spath = qr_strdup(path);
    if (!spath)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    quire_status rc = qr_st_open(spath, &m->st, err);
    m->st.path = spath; /* owned by the model from here on (freed in close) */
    if (rc != QUIRE_OK)
        return rc;
    int64_t h = m->hidden;
    if ((rc = need(m, "embeddings.word_embeddings.weight", m->vocab_size, h, &m->word_emb, err)))
        return rc;
    m->arena_floats = arena_size(m);
    m->arena = qr_malloc_huge(m->arena_floats * sizeof(float));
    m->layers = qr_calloc((size_t)m->n_layers, sizeof(qr_layer));
    size_t tmp_n = (size_t)QR_PANEL * (size_t)QR_MAX(h, m->inter); /* 16 rows */
    float *tmp = qr_malloc_aligned(tmp_n * sizeof(float));
    if (!m->arena || !m->layers || !tmp) {
        qr_free_aligned(tmp);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory for weights", path);
    }
    loader ld = {m, m->arena, tmp, err, -1, 0};
    if (m->arch == QR_ARCH_NOMIC) {
        /* no position table: its arena slot ([max_pos][H] >= [max_pos][rot_dim]) holds the
         * rotary cos/sin rows at the configured base */
        m->rope = take(&ld, (size_t)m->max_pos * (size_t)h);
        qr_nomic_rope_rows(m, m->rot_base, 0, m->max_pos, m->rope);
        rc = load_plain(&ld, "embeddings.token_type_embeddings.weight", m->type_vocab, h,
                        &m->type_emb);
        if (rc == QUIRE_OK)
            rc = load_plain(&ld, "emb_ln.weight", h, 0, &m->emb_ln_g);
        if (rc == QUIRE_OK)
            rc = load_plain(&ld, "emb_ln.bias", h, 0, &m->emb_ln_b);
        qr_free_aligned(tmp);
        return rc != QUIRE_OK ? rc : load_layers_cached(m, err);
    }
    if ((rc = load_plain(&ld, "embeddings.position_embeddings.weight", m->max_pos, h,
                         &m->pos_emb)) ||
        (m->type_vocab > 0 &&
         (rc = load_plain(&ld, "embeddings.token_type_embeddings.weight", m->type_vocab, h,
                          &m->type_emb))) ||
        (m->rel_buckets > 0 &&
         (rc = load_plain(&ld, "encoder.relative_attention_bias.weight", m->rel_buckets,
                          m->n_heads, &m->rel_bias))) ||
        (rc = load_plain(&ld, "embeddings.LayerNorm.weight", h, 0, &m->emb_ln_g)) ||
        (rc = load_plain(&ld, "embeddings.LayerNorm.bias", h, 0, &m->emb_ln_b))) {
        qr_free_aligned(tmp);
        return rc;
    }
    qr_free_aligned(tmp);
    return load_layers_cached(m, err);
}

/* sha256 over everything that decides the vectors: config.json, the safetensors header
 * (tensor names, dtypes, shapes, offsets), the tokenizer file, and the derived settings
 * (max tokens, pooling). Files that cannot be read hash as absent. */
static quire_status model_fingerprint(quire_model *m, const char *dir, quire_error *err)
{
    static const char *const files[] = {"config.json", "tokenizer.json", "vocab.txt",
                                        "tokenizer_config.json"};
    qr_sha256 s;
    qr_sha256_init(&s);
    char path[4096];
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++) {
        char *data = NULL;
        size_t len = 0;
        if (qr_path_join(path, sizeof path, dir, files[i]) != 0 || !qr_file_exists(path))
            continue;
        quire_status rc = qr_file_read(path, (size_t)256 << 20, &data, &len, err);
        if (rc != QUIRE_OK)
            return rc;
        qr_sha256_update(&s, files[i], strlen(files[i]) + 1);
        qr_sha256_update(&s, data, len);
        qr_free(data);
    }
    /* safetensors: 8-byte length + JSON header */
    if (m->st.map && m->st.map_len >= 8) {
        const unsigned char *b = m->st.map;
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | b[i];
        if (hl <= m->st.map_len - 8)
            qr_sha256_update(&s, b, (size_t)(8 + hl));
    }
    char extra[128];
    int n = snprintf(extra, sizeof extra, "max_tokens=%d pooling=%d normalize=%d", m->max_tokens,
                     m->pooling, m->normalize);
    /* fp32 fingerprints are what they always were; other precisions give other vectors */
    if (m->precision != QR_PREC_FP32)
        n += snprintf(extra + n, sizeof extra - (size_t)n, " precision=%s",
                      qr_prec_name(m->precision));
    qr_sha256_update(&s, extra, (size_t)n);
    unsigned char d[32];
    qr_sha256_final(&s, d);
    qr_hex(d, 32, m->fingerprint);
    return QUIRE_OK;
}

/* the folder's basename, without trailing slashes */
static void model_name(quire_model *m, const char *dir)
{
    size_t e = strlen(dir);
    while (e > 1 && dir[e - 1] == '/')
        e--;
    size_t b0 = e;
    while (b0 > 0 && dir[b0 - 1] != '/')
        b0--;
    size_t nl = QR_MIN(e - b0, sizeof(m->name) - 1);
    memcpy(m->name, dir + b0, nl);
    m->name[nl] = 0;
}

quire_status quire_model_open(const char *dir, const quire_model_params *params,
                              quire_model **out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_model_open: out is NULL");
    *out = NULL;
    if (!dir || !*dir)
        return qr_err(err, QUIRE_INVALID_ARG, "model folder: empty path");
    quire_status rc = qr_lib_init(err);
    if (rc != QUIRE_OK)
        return rc;
    quire_model *m = qr_calloc(1, sizeof(*m));
    if (!m)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    m->dir = qr_strdup(dir);
    if (!m->dir) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = qr_model_read_configs(m, dir, params, err)) != QUIRE_OK)
        goto fail;
    m->precision = params ? params->precision : QUIRE_PRECISION_FP32;
    if (m->precision < QUIRE_PRECISION_FP32 || m->precision > QUIRE_PRECISION_INT8) {
        rc = qr_err(err, QUIRE_INVALID_ARG, "%s: precision %d is not fp32, bf16 or int8", dir,
                    m->precision);
        goto fail;
    }
    if ((rc = qr_tok_open_dir(dir, &m->tok, err)) != QUIRE_OK)
        goto fail;
    if (qr_tok_vocab_size(m->tok) > m->vocab_size) {
        rc = qr_err(err, QUIRE_FORMAT,
                    "%s: vocabulary has %d entries but config.json vocab_size is %d", dir,
                    qr_tok_vocab_size(m->tok), m->vocab_size);
        goto fail;
    }
    if ((rc = qr_model_load_weights(m, dir, err)) != QUIRE_OK)
        goto fail;
    model_name(m, dir);
    snprintf(m->describe, sizeof(m->describe),
             "%s, %d layers, hidden %d, %d heads, ffn %d, vocab %d, max tokens %d, %s "
             "pooling%s%s%s",
             qr_arch_name(m->arch), m->n_layers, m->hidden, m->n_heads, m->inter, m->vocab_size,
             m->max_tokens,
             quire_pooling_name(m->pooling),
             m->normalize ? ", normalized" : "", m->precision ? ", " : "",
             m->precision ? qr_prec_name(m->precision) : "");
    *out = m;
    return QUIRE_OK;
fail:
    quire_model_close(m);
    return rc;
}

void quire_model_close(quire_model *m)
{
    if (!m)
        return;
    char *spath = (char *)m->st.path;
    qr_st_close(&m->st);
    qr_free(spath);
    qr_tok_free(m->tok);
    for (int i = 0; m->layers && i < m->n_layers; i++) {
        qr_linear_free(&m->layers[i].qkv);
        qr_linear_free(&m->layers[i].out);
        qr_linear_free(&m->layers[i].ffn_in);
        qr_linear_free(&m->layers[i].ffn_out);
    }
    qr_pcache_close(m); /* after the layers: views into its mapping are gone */
    qr_st_free(m);
    qr_free(m->layers);
    qr_free_huge(m->arena, m->arena_floats * sizeof(float));
    qr_free(m->dir);
    qr_free(m);
}

const char *qr_arch_name(int arch)
{
    return arch == QR_ARCH_XLMR    ? "xlm-roberta"
           : arch == QR_ARCH_MPNET ? "mpnet"
           : arch == QR_ARCH_NOMIC ? "nomic_bert"
                                   : "bert";
}

int quire_model_dims(const quire_model *m) { return m ? m->hidden : 0; }
int quire_model_max_tokens(const quire_model *m) { return m ? m->max_tokens : 0; }
int quire_model_pooling(const quire_model *m) { return m ? m->pooling : 0; }
const char *quire_model_describe(const quire_model *m) { return m ? m->describe : ""; }
/* Computed on first use (hashing the tokenizer costs a few ms that `quire embed` should
 * not pay at start-up); the model is otherwise immutable, so a lock guards the lazy fill. */
static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;

const char *quire_model_fingerprint(const quire_model *cm)
{
    if (!cm)
        return "";
    quire_model *m = (quire_model *)cm;
    pthread_mutex_lock(&fp_lock);
    if (!m->fingerprint[0] && model_fingerprint(m, m->dir, NULL) != QUIRE_OK)
        m->fingerprint[0] = 0;
    pthread_mutex_unlock(&fp_lock);
    return m->fingerprint[0] ? m->fingerprint : "unreadable";
}
const char *quire_model_name(const quire_model *m) { return m ? m->name : ""; }
int quire_model_precision(const quire_model *m) { return m ? m->precision : 0; }

const char *quire_precision_name(int precision)
{
    return precision < 0 || precision > QUIRE_PRECISION_INT8 ? NULL : qr_prec_name(precision);
}

int quire_precision_parse(const char *name) { return qr_prec_parse(name); }

const char *quire_precision_kernel(int precision)
{
    if (precision == QUIRE_PRECISION_FP32)
        return qr_nn()->name;
    const qr_lp_kernel *k = qr_lp_active(precision);
    return k ? k->name : "";
}

quire_status quire_tokenize(const quire_model *m, const char *text, size_t len, int32_t *ids,
                            size_t cap, size_t *n_ids, quire_error *err)
{
    if (n_ids)
        *n_ids = 0;
    if (!m || !text || !n_ids)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_tokenize: NULL argument");
    return qr_tok_encode(m->tok, text, len, m->max_tokens, 1, ids, cap, n_ids, err);
}

int qr_model_count_tokens(const quire_model *m, const char *text, size_t len)
{
    size_t n = 0;
    if (!m || qr_tok_encode(m->tok, text, len, 0, 0, NULL, 0, &n, NULL) != QUIRE_OK)
        return -1;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

const char *qr_model_dir(const quire_model *m) { return m && m->dir ? m->dir : ""; }
