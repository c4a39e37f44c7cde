/*
 * test_nomic_full.c — the full-size nomic-embed-text-v1.5 shape (768 hidden, 12 layers, 12
 * heads, SwiGLU 3072; seeded weights, build/models/nomic-full from `make models`) against the
 * golden subset of tests/data/nomic-full/golden.jsonl (independent PyTorch reference
 * shared/models/ref/nomic_ref.py in float64; tests/data/nomic-full/make_golden.py): token
 * ids, the L2 of the mean-pooled vector and the v1.5 Matryoshka vectors at 768, 512, 256,
 * 128 and 64 dims, cosine >= 0.99999 and max |diff| <= 1e-4 on every kernel set this CPU
 * runs, batch 1 and batched (texts of 4 to 902 tokens padded together).
 *
 * Env: QUIRE_NOMIC_FULL (model folder, default build/models/nomic-full),
 * QUIRE_GOLDEN_MAX_TOKENS=N (only texts of <= N tokens: emulation), QUIRE_GOLDEN_KERNELS
 * (space-separated kernel sets to run; default every set).
 * The scalar set runs the texts of <= 64 tokens (the 602- and 902-token ones take about a
 * minute there; tiny-nomic's goldens check the scalar set on long inputs).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"
#include "quire.h"
#include "testlib.h"

#define COS_MIN 0.99999
#define DIFF_MAX 1e-4
#define D 768
#define N_MRL 5
#define SCALAR_MAX_TOKENS 64

typedef struct gold {
    int i; /* index into tiny-nomic's golden texts */
    char *text;
    int n_ids, *ids;
    float emb[D], mrl[N_MRL][D];
} gold;
static const int mrl_dims[N_MRL] = {768, 512, 256, 128, 64};

static int n_gold;
static gold *golds;
static char model_dir[1024], gold_path[1024];

static int dec(json_t *s, float *out, int want)
{
    static unsigned char buf[4 * D + 8];
    if (!json_is_string(s))
        return -1;
    long n = t_base64_decode(json_string_value(s), buf, sizeof(buf));
    if (n != 4L * want)
        return -1;
    memcpy(out, buf, (size_t)n);
    return 0;
}

static int load_golds(void)
{
    if (golds)
        return 0;
    const char *e = getenv("QUIRE_NOMIC_FULL");
    snprintf(model_dir, sizeof model_dir, "%s", e && *e ? e : "build/models/nomic-full");
    snprintf(gold_path, sizeof gold_path, "%s/nomic-full/golden.jsonl", t_testdata());
    char *text = t_read_file(gold_path, NULL);
    T_CHECKF(text != NULL, "cannot read %s", gold_path);
    if (!text)
        return -1;
    char *save = NULL;
    int cap = 0, line_no = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        json_t *o = json_loads(line, 0, NULL);
        T_CHECKF(o != NULL, "%s: line %d is not JSON", gold_path, line_no);
        if (!o)
            continue;
        if (n_gold == cap) {
            cap = cap ? 2 * cap : 16;
            golds = realloc(golds, (size_t)cap * sizeof(gold));
        }
        gold *g = &golds[n_gold];
        memset(g, 0, sizeof(*g));
        g->i = (int)json_integer_value(json_object_get(o, "i"));
        const char *t = json_string_value(json_object_get(o, "text"));
        g->text = t ? strdup(t) : NULL;
        json_t *ids = json_object_get(o, "ids");
        g->n_ids = (int)json_array_size(ids);
        g->ids = malloc(sizeof(int) * (size_t)(g->n_ids + 1));
        for (int j = 0; j < g->n_ids; j++)
            g->ids[j] = (int)json_integer_value(json_array_get(ids, (size_t)j));
        int bad = dec(json_object_get(o, "emb_f32_b64"), g->emb, D);
        json_t *mrl = json_object_get(o, "mrl_f32_b64");
        for (int k = 0; k < N_MRL; k++) {
            char key[8];
            snprintf(key, sizeof key, "%d", mrl_dims[k]);
            bad |= dec(json_object_get(mrl, key), g->mrl[k], mrl_dims[k]);
        }
        T_CHECKF(!bad && g->text && g->n_ids > 0, "%s: line %d: unreadable golden", gold_path,
                 line_no);
        json_decref(o);
        if (!bad && g->text && g->n_ids > 0)
            n_gold++;
    }
    free(text);
    return n_gold > 0 ? 0 : -1;
}

static void cmp(const char *what, int i, int dims, const float *got, const float *want,
                double *wc, double *wd)
{
    double dot = 0, na = 0, nb = 0, md = 0;
    for (int j = 0; j < dims; j++) {
        dot += (double)got[j] * want[j];
        na += (double)got[j] * got[j];
        nb += (double)want[j] * want[j];
        md = fmax(md, fabs((double)got[j] - want[j]));
    }
    double cos = dot / (sqrt(na) * sqrt(nb) + 1e-30);
    *wc = fmin(*wc, cos);
    *wd = fmax(*wd, md);
    T_CHECKF(cos >= COS_MIN && md <= DIFF_MAX, "%s: text %d, %d dims: cosine %.8f, max|diff| %.3g",
             what, i, dims, cos, md);
}

static int max_tokens_env(void)
{
    const char *cap = getenv("QUIRE_GOLDEN_MAX_TOKENS");
    return cap && atoi(cap) > 0 ? atoi(cap) : 0;
}

/* Embed the golden texts of at most max_tok tokens (0 = all) with kernel set kern, at most
 * `batch` per forward pass on `threads` threads (normalize forced: the goldens are L2 of the
 * mean; modules.json has no Normalize module), and compare ids, vectors and Matryoshka. */
static void check(const char *kern, int batch, int threads, int max_tok)
{
    quire_error err = {0, ""};
    T_CHECKF(qr_nn_select(kern, &err) == QUIRE_OK, "select %s: %s", kern, err.msg);
    quire_model *m = NULL;
    if (quire_model_open(model_dir, NULL, &m, &err) != QUIRE_OK) {
        T_CHECKF(0, "open %s: %s (`make models` builds it)", model_dir, err.msg);
        qr_nn_select(NULL, NULL);
        return;
    }
    /* opening a model initialises the library; the set chosen by name must stay */
    T_CHECKF(qr_nn() == qr_nn_get(kern), "%s: kernel set %s after quire_model_open, not %s",
             model_dir, qr_nn()->name, kern);
    T_EQ_INT(quire_model_dims(m), D);
    T_EQ_INT(quire_model_max_tokens(m), 8192);
    T_CHECK(quire_model_matryoshka(m) == 1);
    T_CHECK(quire_model_normalize(m) == 0);
    quire_embedder_params ep = quire_embedder_default_params();
    ep.max_batch = batch;
    ep.n_threads = threads;
    ep.normalize = 1;
    quire_embedder *e = NULL;
    if (quire_embedder_new(m, &ep, &e, &err) != QUIRE_OK) {
        T_CHECKF(0, "embedder: %s", err.msg);
        quire_model_close(m);
        qr_nn_select(NULL, NULL);
        return;
    }
    const char **texts = calloc((size_t)n_gold, sizeof(char *));
    int *idx = calloc((size_t)n_gold, sizeof(int)), n = 0, n_long = 0;
    for (int k = 0; k < n_gold; k++)
        if (max_tok <= 0 || golds[k].n_ids <= max_tok) {
            idx[n] = k;
            texts[n++] = golds[k].text;
            n_long += golds[k].n_ids > 512;
        }
    float *v = calloc((size_t)n * D, sizeof(float));
    int32_t *nt = calloc((size_t)n, sizeof(int32_t)), *ids = calloc(8192, sizeof(int32_t));
    T_CHECKF(quire_embed_counted(e, texts, NULL, (size_t)n, v, nt, NULL, &err) == QUIRE_OK,
             "embed: %s", err.msg);
    char what[160];
    snprintf(what, sizeof what, "nomic-full [%s batch %d threads %d, <= %d tokens]", kern, batch,
             threads, max_tok ? max_tok : 8192);
    double wc = 1, wd = 0, mc = 1, md = 0;
    for (int k = 0; k < n; k++) {
        const gold *g = &golds[idx[k]];
        T_CHECKF(nt[k] == g->n_ids, "%s: text %d: %d tokens, golden %d", what, g->i, nt[k],
                 g->n_ids);
        size_t got = 0;
        T_CHECK(quire_tokenize(m, g->text, strlen(g->text), ids, 8192, &got, &err) == QUIRE_OK);
        int same = (int)got == g->n_ids;
        for (int j = 0; same && j < g->n_ids; j++)
            same = ids[j] == g->ids[j];
        T_CHECKF(same, "%s: text %d: token ids differ from the golden", what, g->i);
        cmp(what, g->i, D, v + (size_t)k * D, g->emb, &wc, &wd);
        for (int r = 0; r < N_MRL; r++) {
            float s[D];
            memcpy(s, v + (size_t)k * D, sizeof(s));
            quire_model_shorten(m, s, mrl_dims[r], 0);
            cmp(what, g->i, mrl_dims[r], s, g->mrl[r], &mc, &md);
        }
    }
    printf("  %s: %d texts (%d over 512 tokens), worst cosine %.9f max|diff| %.3g; Matryoshka "
           "768/512/256/128/64: %.9f %.3g\n", what, n, n_long, wc, wd, mc, md);
    free(texts);
    free(idx);
    free(v);
    free(nt);
    free(ids);
    quire_embedder_free(e);
    quire_model_close(m);
    qr_nn_select(NULL, NULL);
}

static int kernel_wanted(const char *name)
{
    const char *only = getenv("QUIRE_GOLDEN_KERNELS");
    if (!only || !*only)
        return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
    return 0;
}

/* Every kernel set: batch 1 on one thread, and all texts in one padded batch on 2 threads. */
static void test_golden_kernels(void)
{
    if (load_golds() != 0)
        return;
    T_CHECKF(n_gold >= 10, "%s: %d goldens, expected 11", gold_path, n_gold);
    int cap = max_tokens_env(), ran = 0;
    for (int i = 0; qr_nn_names[i]; i++) {
        const char *k = qr_nn_names[i];
        if (!qr_nn_get(k)) {
            printf("  kernel set %s: not supported by this CPU\n", k);
            continue;
        }
        if (!kernel_wanted(k)) {
            printf("  kernel set %s: skipped (QUIRE_GOLDEN_KERNELS)\n", k);
            continue;
        }
        int mt = strcmp(k, "scalar") == 0 ? SCALAR_MAX_TOKENS : 0;
        if (cap && (!mt || cap < mt))
            mt = cap;
        check(k, 1, 1, mt);
        check(k, 32, 2, mt);
        ran++;
    }
    T_CHECKF(ran > 0, "no kernel set ran");
}

/* A batch limit smaller than the text count: the texts are split over several passes whose
 * padding differs (and the token budget of one pass is exceeded by the long texts). */
static void test_golden_split_batches(void)
{
    if (load_golds() != 0)
        return;
    check(qr_nn()->name, 3, 2, max_tokens_env());
}

int main(void)
{
    T_RUN(test_golden_kernels);
    T_RUN(test_golden_split_batches);
    return t_done();
}
