/*
 * test_nomic.c — NomicBERT (nomic-embed-text-v1.5 layout) against the goldens of an
 * independent PyTorch reference (shared/models/tiny-nomic/golden.jsonl, checked there
 * against the original modeling code): token ids, the L2 of the mean-pooled vector, the
 * Matryoshka vectors at every golden width, and for inputs over 2048 tokens the dynamic-NTK
 * vectors of a copy with rotary_scaling_factor 2; every kernel set this CPU runs, batch 1
 * and batched, 1 and 2 threads. Also: no Normalize module -> unnormalised by default,
 * config refusals naming the field.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "nn/nn.h"
#include "quire.h"
#include "testlib.h"

#define COS_MIN 0.99999
#define DIFF_MAX 1e-4
#define D 32

typedef struct gold {
    char *text;
    int n_ids, *ids;
    float emb[D], mrl[3][D], ntk_emb[D], ntk_mrl[3][D];
    int has_ntk;
} gold;
static const int mrl_dims[3] = {32, 16, 8};

static int n_gold;
static gold *golds;

static int dec(json_t *s, float *out, int want)
{
    unsigned char buf[4 * D];
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
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/tiny-nomic/golden.jsonl", t_shared());
    char *text = t_read_file(path, NULL);
    if (!text)
        return -1;
    char *save = NULL;
    int cap = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        if (n_gold == cap) {
            cap = cap ? 2 * cap : 64;
            golds = realloc(golds, (size_t)cap * sizeof(gold));
        }
        gold *g = &golds[n_gold];
        memset(g, 0, sizeof(*g));
        g->text = strdup(json_string_value(json_object_get(o, "text")));
        json_t *ids = json_object_get(o, "ids");
        g->n_ids = (int)json_array_size(ids);
        g->ids = malloc(sizeof(int) * (size_t)(g->n_ids + 1));
        for (int j = 0; j < g->n_ids; j++)
            g->ids[j] = (int)json_integer_value(json_array_get(ids, (size_t)j));
        int bad = dec(json_object_get(o, "emb_f32_b64"), g->emb, D);
        json_t *mrl = json_object_get(o, "mrl_f32_b64");
        for (int k = 0; k < 3; k++) {
            char key[8];
            snprintf(key, sizeof key, "%d", mrl_dims[k]);
            bad |= dec(json_object_get(mrl, key), g->mrl[k], mrl_dims[k]);
        }
        json_t *ntk = json_object_get(o, "ntk2");
        if (ntk) {
            g->has_ntk = 1;
            bad |= dec(json_object_get(ntk, "emb_f32_b64"), g->ntk_emb, D);
            json_t *nm = json_object_get(ntk, "mrl_f32_b64");
            for (int k = 0; k < 3; k++) {
                char key[8];
                snprintf(key, sizeof key, "%d", mrl_dims[k]);
                bad |= dec(json_object_get(nm, key), g->ntk_mrl[k], mrl_dims[k]);
            }
        }
        T_CHECKF(!bad && g->text, "%s: line %d: unreadable golden", path, n_gold + 1);
        n_gold++;
        json_decref(o);
    }
    free(text);
    return n_gold > 0 ? 0 : -1;
}

/* Texts to run: those of at most max_tok tokens (0 = all), and under emulation
 * QUIRE_GOLDEN_MAX_TOKENS=N those of <= N tokens. */
static int keep(const gold *g, int max_tok)
{
    const char *cap = getenv("QUIRE_GOLDEN_MAX_TOKENS");
    if (max_tok > 0 && g->n_ids > max_tok)
        return 0;
    return !cap || atoi(cap) <= 0 || g->n_ids <= atoi(cap);
}

static void cmp(const char *what, int i, const float *got, const float *want, int n, double *wc,
                double *wd)
{
    double dot = 0, na = 0, nb = 0, md = 0;
    for (int j = 0; j < n; j++) {
        dot += (double)got[j] * want[j];
        na += (double)got[j] * got[j];
        nb += (double)want[j] * want[j];
        md = fmax(md, fabs((double)got[j] - want[j]));
    }
    double cos = dot / (sqrt(na) * sqrt(nb) + 1e-30);
    *wc = fmin(*wc, cos);
    *wd = fmax(*wd, md);
    T_CHECKF(cos >= COS_MIN && md <= DIFF_MAX, "%s: text %d: cosine %.8f, max|diff| %.3g", what,
             i, cos, md);
}

/* Embed every kept golden text (normalize forced: the goldens are L2-normalised) and
 * compare the vector, its Matryoshka shortenings and the ids. ntk: the dynamic-NTK
 * copy, compared on the texts that have ntk2 goldens (the others must be unchanged). */
static void check(const char *dir, const char *kern, int batch, int threads, int ntk,
                  int max_tok)
{
    quire_error err = {0, ""};
    T_CHECKF(qr_nn_select(kern, &err) == QUIRE_OK, "select %s: %s", kern, err.msg);
    quire_model *m = NULL;
    if (quire_model_open(dir, NULL, &m, &err) != QUIRE_OK) {
        T_CHECKF(0, "open %s: %s", dir, err.msg);
        qr_nn_select(NULL, NULL);
        return;
    }
    T_EQ_INT(quire_model_dims(m), D);
    T_EQ_INT(quire_model_max_tokens(m), 8192);
    T_CHECK(quire_model_matryoshka(m) == 1);
    quire_embedder_params ep = quire_embedder_default_params();
    ep.max_batch = batch;
    ep.n_threads = threads;
    ep.normalize = 1;
    quire_embedder *e = NULL;
    T_CHECKF(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK, "embedder: %s", err.msg);
    const char **texts = calloc((size_t)n_gold, sizeof(char *));
    int *idx = calloc((size_t)n_gold, sizeof(int)), n = 0;
    for (int i = 0; i < n_gold; i++)
        if (keep(&golds[i], max_tok) && (!ntk || golds[i].has_ntk || i % 8 == 0)) {
            idx[n] = i;
            texts[n++] = golds[i].text;
        }
    float *v = calloc((size_t)n * D, sizeof(float));
    int32_t *nt = calloc((size_t)n, sizeof(int32_t)), *ni = calloc((size_t)n, sizeof(int32_t));
    T_CHECKF(quire_embed_counted(e, texts, NULL, (size_t)n, v, nt, ni, &err) == QUIRE_OK, "%s",
             err.msg);
    char what[256];
    snprintf(what, sizeof what, "tiny-nomic%s [%s batch %d threads %d, <= %d tokens]",
             ntk ? " ntk2" : "", kern, batch, threads, max_tok ? max_tok : 8192);
    double wc = 1, wd = 0, mc = 1, md = 0;
    int n_cut = 0;
    for (int k = 0; k < n; k++) {
        const gold *g = &golds[idx[k]];
        T_CHECKF(nt[k] == g->n_ids, "%s: text %d: %d tokens, golden %d", what, idx[k], nt[k],
                 g->n_ids);
        n_cut += ni[k] > nt[k];
        int32_t ids[8192];
        size_t got = 0;
        if (!ntk && quire_tokenize(m, g->text, strlen(g->text), ids, 8192, &got, &err) == QUIRE_OK) {
            int same = (int)got == g->n_ids;
            for (int j = 0; same && j < g->n_ids; j++)
                same = ids[j] == g->ids[j];
            T_CHECKF(same, "%s: text %d: token ids differ from the golden", what, idx[k]);
        }
        const float *want = ntk && g->has_ntk ? g->ntk_emb : g->emb;
        cmp(what, idx[k], v + (size_t)k * D, want, D, &wc, &wd);
        for (int r = 0; r < 3; r++) {
            float s[D];
            memcpy(s, v + (size_t)k * D, sizeof(s));
            quire_model_shorten(m, s, mrl_dims[r], 0);
            cmp(what, idx[k], s, ntk && g->has_ntk ? g->ntk_mrl[r] : g->mrl[r], mrl_dims[r], &mc,
                &md);
        }
    }
    printf("  %s: %d texts (%d cut at 8192), worst cosine %.9f max|diff| %.3g; Matryoshka "
           "32/16/8: %.9f %.3g\n", what, n, n_cut, wc, wd, mc, md);
    free(texts);
    free(idx);
    free(v);
    free(nt);
    free(ni);
    quire_embedder_free(e);
    quire_model_close(m);
    qr_nn_select(NULL, NULL);
}

static char model_dir[1024], ntk_dir[1024];

/* The attention kernels work row by row, which is slow for this model's 8-wide heads at
 * thousands of tokens (the 8192-token text takes ~20 s): every kernel set runs the texts
 * up to 1024 tokens batched; the default set runs them all one at a time up to 2100
 * tokens and batched on 2 threads with the 8192-token text. */
static void test_golden_kernels(void)
{
    T_CHECK(load_golds() == 0);
    snprintf(model_dir, sizeof model_dir, "%s/models/tiny-nomic", t_shared());
    for (int i = 0; qr_nn_names[i]; i++) {
        if (!qr_nn_get(qr_nn_names[i])) {
            printf("  kernel set %s: not supported by this CPU\n", qr_nn_names[i]);
            continue;
        }
        check(model_dir, qr_nn_names[i], 32, 1, 0, 1024);
    }
    check(model_dir, qr_nn()->name, 1, 1, 0, 2100);
    check(model_dir, qr_nn()->name, 7, 2, 0, 0);
}

/* A copy whose config.json sets rotary_scaling_factor 2 (the model card's setting for
 * long inputs): texts over 2048 tokens take the NTK base of their own length (the 2049-
 * and 2100-token goldens; the 8192-token one is left out for time). */
static void test_golden_ntk(void)
{
    T_CHECK(load_golds() == 0);
    const char *cap = getenv("QUIRE_GOLDEN_MAX_TOKENS");
    if (cap && atoi(cap) > 0 && atoi(cap) <= 2048)
        printf("  QUIRE_GOLDEN_MAX_TOKENS=%s: no text over 2048 tokens; checking that short "
               "texts are unchanged\n", cap);
    snprintf(ntk_dir, sizeof ntk_dir, "%s/ntk", t_tmpdir());
    mkdir(ntk_dir, 0755);
    static const char *files[] = {"model.safetensors", "tokenizer.json", "vocab.txt",
                                  "tokenizer_config.json", "special_tokens_map.json",
                                  "sentence_bert_config.json", "modules.json",
                                  "config_sentence_transformers.json", "1_Pooling/config.json"};
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/1_Pooling", ntk_dir);
    mkdir(sub, 0755);
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++) {
        char s[1200], d[1200];
        snprintf(s, sizeof s, "%s/%s", model_dir, files[i]);
        snprintf(d, sizeof d, "%s/%s", ntk_dir, files[i]);
        size_t len;
        char *data = t_read_file(s, &len);
        T_CHECKF(data && t_write_file(d, data, len) == 0, "copy %s", s);
        free(data);
    }
    char cp[1200];
    snprintf(cp, sizeof cp, "%s/config.json", model_dir);
    json_t *c = json_load_file(cp, 0, NULL);
    T_CHECK(c != NULL);
    json_object_set_new(c, "rotary_scaling_factor", json_integer(2));
    snprintf(cp, sizeof cp, "%s/config.json", ntk_dir);
    T_CHECK(json_dump_file(c, cp, 0) == 0);
    json_decref(c);
    check(ntk_dir, qr_nn()->name, 32, 2, 1, 2100);
    check(ntk_dir, qr_nn()->name, 1, 1, 1, 2100);
}

/* modules.json has no Normalize module: the default output is the raw mean. */
static void test_not_normalised(void)
{
    T_CHECK(load_golds() == 0);
    quire_model *m = NULL;
    quire_embedder *e = NULL;
    quire_error err = {0, ""};
    T_CHECK(quire_model_open(model_dir, NULL, &m, &err) == QUIRE_OK);
    T_CHECK(quire_model_normalize(m) == 0);
    T_CHECK(quire_embedder_new(m, NULL, &e, &err) == QUIRE_OK);
    float v[D];
    const char *t = golds[0].text;
    T_CHECK(quire_embed(e, &t, NULL, 1, v, NULL, &err) == QUIRE_OK);
    double ss = 0, dot = 0;
    for (int j = 0; j < D; j++) {
        ss += (double)v[j] * v[j];
        dot += (double)v[j] * golds[0].emb[j];
    }
    T_CHECKF(fabs(sqrt(ss) - 1) > 1e-2, "norm %g: normalised without a Normalize module",
             sqrt(ss));
    T_CHECKF(dot / sqrt(ss) > COS_MIN, "direction differs from the golden: cosine %g",
             dot / sqrt(ss));
    quire_embedder_free(e);
    quire_model_close(m);
}

/* config.json variants the engine does not compute are refused naming the field. */
static void test_config_refusals(void)
{
    static const struct {
        const char *key, *json, *want;
    } bad[] = {
        {"activation_function", "\"gelu\"", "activation_function"},
        {"prenorm", "true", "prenorm"},
        {"qkv_proj_bias", "true", "qkv_proj_bias"},
        {"mlp_fc1_bias", "true", "mlp_fc1_bias"},
        {"rotary_emb_fraction", "0.0", "rotary_emb_fraction"},
        {"rotary_emb_scale_base", "512", "rotary_emb_scale_base"},
        {"rotary_scaling_factor", "0.5", "rotary_scaling_factor"},
        {"n_embd", "\"32\"", "n_embd"},
        {"rotary_emb_interleaved", "1", "rotary_emb_interleaved"},
    };
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/ntk", t_tmpdir());
    char cp[1300], orig[1300];
    snprintf(cp, sizeof cp, "%s/config.json", dir);
    snprintf(orig, sizeof orig, "%s/config.json", model_dir);
    for (size_t i = 0; i < QR_ARRAY_LEN(bad); i++) {
        json_t *c = json_load_file(orig, 0, NULL);
        json_object_set_new(c, bad[i].key, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
        json_dump_file(c, cp, 0);
        json_decref(c);
        quire_model *m = NULL;
        quire_error err = {0, ""};
        quire_status st = quire_model_open(dir, NULL, &m, &err);
        T_CHECKF(st != QUIRE_OK && strstr(err.msg, bad[i].want) && strstr(err.msg, "config.json"),
                 "%s = %s: status %d '%s'", bad[i].key, bad[i].json, st, err.msg);
        quire_model_close(m);
    }
}

int main(void)
{
    T_RUN(test_golden_kernels);
    T_RUN(test_golden_ntk);
    T_RUN(test_not_normalised);
    T_RUN(test_config_refusals);
    return t_done();
}
