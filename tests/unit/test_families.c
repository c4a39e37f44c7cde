/*
 * test_families.c — model families beyond BERT, against the golden vectors of the
 * independent PyTorch references in shared/models (ref/xlmr_ref.py, ref/mpnet_ref.py,
 * checked there against transformers' own modeling code):
 *   tiny-xlmr       model_type xlm-roberta: RoBERTa position ids, Unigram tokenizer
 *   tiny-xlmr-bert  model_type bert with the XLM-R Unigram tokenizer (multilingual-e5-small)
 *   tiny-mpnet      model_type mpnet: relative position bias, no token types
 * Token ids identical, cosine >= 0.99999 and max |diff| <= 1e-4 on every kernel set,
 * batch 1 and batched; MPNet's bucket function against rel_buckets.json; the real
 * all-mpnet-base-v2 ids that transformers.js records, through tokenizer.json and through
 * vocab.txt + tokenizer_config.json.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "embed/embed_int.h"
#include "nn/nn.h"
#include "testlib.h"

#define COS_MIN 0.99999
#define DIFF_MAX 1e-4

typedef struct golden {
    int n;
    char **text;
    size_t *len;
    int **ids;
    int *n_ids;
    float **emb;
    int dims;
} golden;

static void golden_free(golden *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->ids[i]);
        free(g->emb[i]);
    }
    free(g->text);
    free(g->len);
    free(g->ids);
    free(g->n_ids);
    free(g->emb);
    memset(g, 0, sizeof(*g));
}

/* golden.jsonl: text (may hold NUL), ids, emb_f32_b64. */
static int golden_load(const char *path, golden *g)
{
    memset(g, 0, sizeof(*g));
    char *data = t_read_file(path, NULL);
    if (!data)
        return -1;
    int cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &je);
        T_CHECKF(o != NULL, "%s: %s", path, je.text);
        if (!o)
            continue;
        if (g->n == cap) {
            cap = cap ? cap * 2 : 64;
            g->text = realloc(g->text, cap * sizeof(char *));
            g->len = realloc(g->len, cap * sizeof(size_t));
            g->ids = realloc(g->ids, cap * sizeof(int *));
            g->n_ids = realloc(g->n_ids, cap * sizeof(int));
            g->emb = realloc(g->emb, cap * sizeof(float *));
        }
        const json_t *t = json_object_get(o, "text");
        g->len[g->n] = json_string_length(t);
        g->text[g->n] = malloc(g->len[g->n] + 1);
        memcpy(g->text[g->n], json_string_value(t), g->len[g->n] + 1);
        const json_t *ids = json_object_get(o, "ids");
        g->n_ids[g->n] = (int)json_array_size(ids);
        g->ids[g->n] = malloc(sizeof(int) * (json_array_size(ids) + 1));
        for (size_t j = 0; j < json_array_size(ids); j++)
            g->ids[g->n][j] = (int)json_integer_value(json_array_get(ids, j));
        static unsigned char buf[65536];
        long nb = t_base64_decode(json_string_value(json_object_get(o, "emb_f32_b64")), buf,
                                  sizeof(buf));
        g->dims = (int)(nb / 4);
        g->emb[g->n] = malloc((size_t)nb);
        memcpy(g->emb[g->n], buf, (size_t)nb);
        g->n++;
        json_decref(o);
    }
    free(data);
    return g->n > 0 ? 0 : -1;
}

static const char *model_dir(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/models/%s", t_shared(), name);
    return p;
}

/* Token ids of every golden text (quire_tokenize: <s> ... </s>, cut at max tokens). */
static void check_ids(const quire_model *m, const golden *g, const char *what)
{
    int same = 0;
    int32_t ids[1024];
    for (int i = 0; i < g->n; i++) {
        size_t n = 0;
        quire_error err = {0};
        quire_status st = quire_tokenize(m, g->text[i], g->len[i], ids, 1024, &n, &err);
        int ok = st == QUIRE_OK && n == (size_t)g->n_ids[i];
        for (size_t j = 0; ok && j < n; j++)
            ok = ids[j] == g->ids[i][j];
        T_CHECKF(ok, "%s: text %d: token ids differ (%zu ids, golden %d)", what, i, n,
                 g->n_ids[i]);
        same += ok;
    }
    printf("  %s: token ids identical on %d/%d texts\n", what, same, g->n);
}

static void check_golden(const char *name, const char *kern, int batch, int threads, int ids)
{
    char gp[1200];
    snprintf(gp, sizeof gp, "%s/golden.jsonl", model_dir(name));
    golden g;
    T_CHECKF(golden_load(gp, &g) == 0, "cannot read %s", gp);
    if (g.n == 0)
        return;
    quire_error err = {0};
    T_CHECKF(qr_nn_select(kern, &err) == QUIRE_OK, "select %s: %s", kern, err.msg);
    quire_model *m = NULL;
    quire_status st = quire_model_open(model_dir(name), NULL, &m, &err);
    T_CHECKF(st == QUIRE_OK, "open %s: %s", name, err.msg);
    if (st != QUIRE_OK) {
        golden_free(&g);
        return;
    }
    T_EQ_INT(quire_model_dims(m), g.dims);
    if (ids)
        check_ids(m, &g, name);
    quire_embedder_params ep = quire_embedder_default_params();
    ep.max_batch = batch;
    ep.n_threads = threads;
    quire_embedder *e = NULL;
    T_CHECKF(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK, "embedder: %s", err.msg);
    float *vecs = calloc((size_t)g.n * g.dims, sizeof(float));
    int32_t *ntok = calloc((size_t)g.n, sizeof(int32_t));
    st = quire_embed(e, (const char *const *)g.text, g.len, (size_t)g.n, vecs, ntok, &err);
    T_CHECKF(st == QUIRE_OK, "embed: %s", err.msg);
    double wc = 1.0, wd = 0.0;
    for (int i = 0; i < g.n && st == QUIRE_OK; i++) {
        T_CHECKF(ntok[i] == g.n_ids[i], "%s: text %d: %d tokens, golden %d", name, i, ntok[i],
                 g.n_ids[i]);
        const float *got = vecs + (size_t)i * g.dims, *want = g.emb[i];
        double dot = 0, na = 0, nb = 0, md = 0;
        for (int j = 0; j < g.dims; j++) {
            dot += (double)got[j] * want[j];
            na += (double)got[j] * got[j];
            nb += (double)want[j] * want[j];
            md = fmax(md, fabs((double)got[j] - want[j]));
        }
        double cos = dot / (sqrt(na) * sqrt(nb) + 1e-30);
        wc = fmin(wc, cos);
        wd = fmax(wd, md);
        T_CHECKF(cos >= COS_MIN && md <= DIFF_MAX, "%s [%s batch %d]: text %d: cosine %.8f, "
                 "max|diff| %.3g", name, kern, batch, i, cos, md);
    }
    printf("  %s [%s batch %d threads %d]: %d texts, worst cosine %.9f, worst max|diff| %.3g\n",
           name, kern, batch, threads, g.n, wc, wd);
    free(vecs);
    free(ntok);
    quire_embedder_free(e);
    quire_model_close(m);
    golden_free(&g);
    qr_nn_select(NULL, NULL);
}

static void check_family(const char *name)
{
    for (int i = 0; qr_nn_names[i]; i++) {
        if (!qr_nn_get(qr_nn_names[i])) {
            printf("  kernel set %s: not supported by this CPU\n", qr_nn_names[i]);
            continue;
        }
        check_golden(name, qr_nn_names[i], 32, 1, i == 0);
    }
    check_golden(name, qr_nn()->name, 1, 1, 0);
    check_golden(name, qr_nn()->name, 7, 2, 0);
}

static void test_xlmr(void) { check_family("tiny-xlmr"); }
static void test_xlmr_bert(void) { check_family("tiny-xlmr-bert"); }
static void test_mpnet(void) { check_family("tiny-mpnet"); }

/* The architecture comes from model_type, and the describe line says which. */
static void test_arch_and_limits(void)
{
    static const char *const names[] = {"tiny-xlmr", "tiny-xlmr-bert", "tiny-mpnet"};
    static const char *const arch[] = {"xlm-roberta,", "bert,", "mpnet,"};
    for (int i = 0; i < 3; i++) {
        quire_error err = {0};
        quire_model *m = NULL;
        T_CHECKF(quire_model_open(model_dir(names[i]), NULL, &m, &err) == QUIRE_OK, "%s: %s",
                 names[i], err.msg);
        if (!m)
            continue;
        T_CHECKF(strncmp(quire_model_describe(m), arch[i], strlen(arch[i])) == 0, "%s: '%s'",
                 names[i], quire_model_describe(m));
        T_EQ_INT(quire_model_max_tokens(m), 512);
        quire_model_close(m);
    }
    /* 514 positions after padding_idx 1 hold 512 tokens: 513 is refused */
    quire_model_params p = {0};
    p.max_tokens = 513;
    quire_error err = {0};
    quire_model *m = NULL;
    T_EQ_INT(quire_model_open(model_dir("tiny-xlmr"), &p, &m, &err), QUIRE_INVALID_ARG);
    T_CHECKF(strstr(err.msg, "512 positions") != NULL, "msg '%s'", err.msg);
    quire_model_close(m);
}

static void test_mpnet_buckets(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/rel_buckets.json", model_dir("tiny-mpnet"));
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    T_CHECKF(o != NULL, "%s: %s", path, je.text);
    if (!o)
        return;
    int rel_min = (int)json_integer_value(json_object_get(o, "rel_min"));
    const json_t *b = json_object_get(o, "buckets");
    int bad = 0;
    for (size_t i = 0; i < json_array_size(b); i++) {
        int rel = rel_min + (int)i; /* key - query */
        int want = (int)json_integer_value(json_array_get(b, i));
        if (qr_mpnet_bucket(-rel) != want) {
            bad++;
            t_fail(__FILE__, __LINE__, "bucket(key - query = %d) = %d, want %d", rel,
                   qr_mpnet_bucket(-rel), want);
        }
    }
    T_EQ_INT(json_array_size(b), 1041);
    printf("  %zu relative distances, %d wrong buckets\n", json_array_size(b), bad);
    json_decref(o);
}

/* transformers.js' ids for the real all-mpnet-base-v2 tokenizer. */
static void check_tjs(const qr_tok *tok, const char *what)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/models/tokenizer_tests/mpnet-transformersjs.jsonl",
             t_shared());
    char *data = t_read_file(path, NULL);
    T_CHECKF(data != NULL, "cannot read %s", path);
    if (!data)
        return;
    int n = 0, same = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
        if (!o)
            continue;
        const json_t *t = json_object_get(o, "text"), *want = json_object_get(o, "ids");
        int32_t ids[512];
        size_t nids = 0;
        quire_error err = {0};
        quire_status st = qr_tok_encode(tok, json_string_value(t), json_string_length(t), 512, 1,
                                        ids, 512, &nids, &err);
        int ok = st == QUIRE_OK && nids == json_array_size(want);
        for (size_t j = 0; ok && j < nids; j++)
            ok = ids[j] == json_integer_value(json_array_get(want, j));
        T_CHECKF(ok, "%s: case %s: ids differ", what,
                 json_string_value(json_object_get(o, "case")));
        same += ok;
        n++;
        json_decref(o);
    }
    free(data);
    T_EQ_INT(n, 25);
    printf("  %s: %d/%d transformers.js cases identical\n", what, same, n);
}

static void test_mpnet_transformersjs(void)
{
    quire_error err = {0};
    qr_tok *tok = NULL;
    T_CHECKF(qr_tok_open_dir(model_dir("tiny-mpnet"), &tok, &err) == QUIRE_OK, "%s", err.msg);
    if (tok)
        check_tjs(tok, "tokenizer.json");
    qr_tok_free(tok);
    /* the same folder without tokenizer.json: vocab.txt + tokenizer_config.json names */
    char dir[1100], src[1200], dst[1200];
    snprintf(dir, sizeof dir, "%s/mpnet-vocab", t_tmpdir());
    mkdir(dir, 0755);
    static const char *const files[] = {"vocab.txt", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/%s", model_dir("tiny-mpnet"), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        size_t len = 0;
        char *d = t_read_file(src, &len);
        T_CHECK(d && t_write_file(dst, d, len) == 0);
        free(d);
    }
    tok = NULL;
    T_CHECKF(qr_tok_open_dir(dir, &tok, &err) == QUIRE_OK, "%s", err.msg);
    if (tok)
        check_tjs(tok, "vocab.txt");
    qr_tok_free(tok);
}

int main(void)
{
    T_RUN(test_xlmr);
    T_RUN(test_xlmr_bert);
    T_RUN(test_mpnet);
    T_RUN(test_arch_and_limits);
    T_RUN(test_mpnet_buckets);
    T_RUN(test_mpnet_transformersjs);
    return t_done();
}
