/*
 * test_stconfig.c — the sentence-transformers side files of a model folder: modules.json
 * (which modules run: Pooling path, Normalize), the Pooling module's config.json (pooling
 * mode), config_sentence_transformers.json (prompts). Folders are copies of
 * shared/models/tiny with one file rewritten.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/core.h"
#include "quire.h"
#include "testlib.h"

static int copy_file(const char *src, const char *dst)
{
    size_t len;
    char *d = t_read_file(src, &len);
    if (!d)
        return -1;
    int rc = t_write_file(dst, d, len);
    free(d);
    return rc;
}

/* A copy of models/tiny in t_tmpdir()/name; returns the path (static buffer per call). */
static const char *make_folder(const char *name, char *dst, size_t cap)
{
    static const char *files[] = {"config.json",           "vocab.txt",
                                  "tokenizer_config.json", "sentence_bert_config.json",
                                  "modules.json",          "model.safetensors",
                                  "special_tokens_map.json"};
    char src[2100], to[2100];
    snprintf(dst, cap, "%s/%s", t_tmpdir(), name);
    mkdir(dst, 0755);
    snprintf(to, sizeof(to), "%s/1_Pooling", dst);
    mkdir(to, 0755);
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++) {
        snprintf(src, sizeof(src), "%s/models/tiny/%s", t_shared(), files[i]);
        snprintf(to, sizeof(to), "%s/%s", dst, files[i]);
        T_CHECKF(copy_file(src, to) == 0, "copy %s", src);
    }
    snprintf(src, sizeof(src), "%s/models/tiny/1_Pooling/config.json", t_shared());
    snprintf(to, sizeof(to), "%s/1_Pooling/config.json", dst);
    T_CHECKF(copy_file(src, to) == 0, "copy %s", src);
    return dst;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[2200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    T_CHECKF(t_write_file(path, text, strlen(text)) == 0, "write %s", path);
}

#define POOL_CFG(cls, mean, max, sqrt, last)                                                 \
    "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": " cls                    \
    ", \"pooling_mode_mean_tokens\": " mean ", \"pooling_mode_max_tokens\": " max          \
    ", \"pooling_mode_mean_sqrt_len_tokens\": " sqrt ", \"pooling_mode_weightedmean_tokens\": " \
    "false, \"pooling_mode_lasttoken\": " last "}"

/* read_pooling used the Pooling module's path (a string owned by the parsed modules.json)
 * after freeing the JSON, when the pooling config asked for max / sqrt-len pooling: a
 * heap-use-after-free under ASan. The path is long so that it is not kept inline. */
static void test_pooling_path_lifetime(void)
{
    char dir[1024], sub[1200];
    make_folder("uaf", dir, sizeof(dir));
    static const char longdir[] = "1_Pooling_with_a_rather_long_folder_name_to_live_on_the_heap";
    snprintf(sub, sizeof(sub), "%s/%s", dir, longdir);
    mkdir(sub, 0755);
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":"
               "\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling_with_a_rather_long_folder_name_to_"
               "live_on_the_heap\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    char rel[200];
    snprintf(rel, sizeof(rel), "%s/config.json", longdir);
    write_text(dir, rel, POOL_CFG("false", "false", "true", "false", "false"));
    quire_model *m = NULL;
    quire_error err = {0, ""};
    quire_status st = quire_model_open(dir, NULL, &m, &err);
    T_CHECKF(st == QUIRE_OK || st == QUIRE_UNSUPPORTED, "open: %s", err.msg);
    quire_model_close(m);
}


/* ---- an encoder whose token states are computable here --------------------------------
 * With attention.output.dense and output.dense (weights and biases) zeroed, every layer
 * is x <- LN2(LN1(x)) per token: no token sees another. So the hidden state of each token
 * is LN chains over word + position + type-0 embeddings, computed below in double from the
 * same file, and every pooling mode can be checked against its definition. */
typedef struct stfile {
    unsigned char *raw;
    size_t len;
    uint64_t hl;
    json_t *hdr;
} stfile;

static int st_load(const char *path, stfile *f)
{
    f->raw = (unsigned char *)t_read_file(path, &f->len);
    if (!f->raw || f->len < 8)
        return -1;
    f->hl = 0;
    for (int i = 7; i >= 0; i--)
        f->hl = (f->hl << 8) | f->raw[i];
    f->hdr = json_loadb((char *)f->raw + 8, (size_t)f->hl, 0, NULL);
    return f->hdr ? 0 : -1;
}

static float *st_get(stfile *f, const char *name, size_t *n)
{
    json_t *t = json_object_get(f->hdr, name);
    json_t *off = json_object_get(t, "data_offsets");
    if (!t || strcmp(json_string_value(json_object_get(t, "dtype")), "F32") != 0)
        return NULL;
    size_t b = (size_t)json_integer_value(json_array_get(off, 0));
    size_t e = (size_t)json_integer_value(json_array_get(off, 1));
    if (n)
        *n = (e - b) / 4;
    return (float *)(void *)(f->raw + 8 + f->hl + b);
}

static void ln(double *x, int h, const float *g, const float *b, double eps)
{
    double mu = 0, var = 0;
    for (int j = 0; j < h; j++)
        mu += x[j];
    mu /= h;
    for (int j = 0; j < h; j++)
        var += (x[j] - mu) * (x[j] - mu);
    var /= h;
    for (int j = 0; j < h; j++)
        x[j] = (x[j] - mu) / sqrt(var + eps) * g[j] + b[j];
}

#define H 32
#define NL 2
static char sep_dir[1024];

/* Make the folder once: tiny with the mixing matrices zeroed. */
static const char *separable_model(void)
{
    if (sep_dir[0])
        return sep_dir;
    make_folder("separable", sep_dir, sizeof(sep_dir));
    char path[1200];
    snprintf(path, sizeof(path), "%s/model.safetensors", sep_dir);
    stfile f;
    T_CHECK(st_load(path, &f) == 0);
    for (int l = 0; l < NL; l++) {
        static const char *zero[] = {"attention.output.dense.weight", "attention.output.dense.bias",
                                     "output.dense.weight", "output.dense.bias"};
        for (int z = 0; z < 4; z++) {
            char name[128];
            size_t n = 0;
            snprintf(name, sizeof(name), "encoder.layer.%d.%s", l, zero[z]);
            float *d = st_get(&f, name, &n);
            T_CHECKF(d != NULL, "tensor %s", name);
            if (d)
                memset(d, 0, n * sizeof(float));
        }
    }
    T_CHECK(t_write_file(path, f.raw, f.len) == 0);
    json_decref(f.hdr);
    free(f.raw);
    return sep_dir;
}

/* Reference token states [n][H] for ids, from the folder's own safetensors. */
static void ref_states(const char *dir, const int32_t *ids, int n, double *out)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    stfile f;
    T_CHECK(st_load(path, &f) == 0);
    const float *we = st_get(&f, "embeddings.word_embeddings.weight", NULL);
    const float *pe = st_get(&f, "embeddings.position_embeddings.weight", NULL);
    const float *te = st_get(&f, "embeddings.token_type_embeddings.weight", NULL);
    const float *eg = st_get(&f, "embeddings.LayerNorm.weight", NULL);
    const float *eb = st_get(&f, "embeddings.LayerNorm.bias", NULL);
    for (int t = 0; t < n; t++) {
        double *x = out + (size_t)t * H;
        for (int j = 0; j < H; j++)
            x[j] = (double)we[(size_t)ids[t] * H + j] + pe[(size_t)t * H + j] + te[j];
        ln(x, H, eg, eb, 1e-12);
        for (int l = 0; l < NL; l++) {
            char g1[96], b1[96], g2[96], b2[96];
            snprintf(g1, sizeof g1, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
            snprintf(b1, sizeof b1, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
            snprintf(g2, sizeof g2, "encoder.layer.%d.output.LayerNorm.weight", l);
            snprintf(b2, sizeof b2, "encoder.layer.%d.output.LayerNorm.bias", l);
            ln(x, H, st_get(&f, g1, NULL), st_get(&f, b1, NULL), 1e-12);
            ln(x, H, st_get(&f, g2, NULL), st_get(&f, b2, NULL), 1e-12);
        }
    }
    json_decref(f.hdr);
    free(f.raw);
}

static void ref_pool(const double *x, int n, int mode, double *out)
{
    for (int j = 0; j < H; j++) {
        double acc = 0, w = 0, mx = -1e300;
        for (int t = 0; t < n; t++) {
            double v = x[(size_t)t * H + j];
            double wt = mode == QUIRE_POOLING_WEIGHTEDMEAN ? t + 1 : 1;
            acc += wt * v;
            w += wt;
            mx = v > mx ? v : mx;
        }
        switch (mode) {
        case QUIRE_POOLING_CLS: out[j] = x[j]; break;
        case QUIRE_POOLING_LASTTOKEN: out[j] = x[(size_t)(n - 1) * H + j]; break;
        case QUIRE_POOLING_MAX: out[j] = mx; break;
        case QUIRE_POOLING_MEAN_SQRT_LEN: out[j] = acc / sqrt((double)n); break;
        default: out[j] = acc / w; break;
        }
    }
}

/* max |diff| between got and the definition of mode over text's token states. Kept out
 * of line: aarch64-linux-gnu-gcc 12 hits an internal error vectorising it inline. */
static __attribute__((noinline)) double diff_to_ref(const quire_model *m, const char *dir,
                                                    const char *text, int mode, const float *got)
{
    int32_t ids[64];
    size_t n = 0;
    quire_error err = {0, ""};
    T_CHECK(quire_tokenize(m, text, strlen(text), ids, 64, &n, &err) == QUIRE_OK);
    static double x[64 * H];
    double want[H], md = 0;
    ref_states(dir, ids, (int)n, x);
    ref_pool(x, (int)n, mode, want);
    for (int j = 0; j < H; j++) {
        double d = fabs(want[j] - (double)got[j]);
        if (d > md)
            md = d;
    }
    return md;
}

static const struct {
    const char *cfg;
    int mode;
} pool_cases[] = {
    {POOL_CFG("false", "true", "false", "false", "false"), QUIRE_POOLING_MEAN},
    {POOL_CFG("true", "false", "false", "false", "false"), QUIRE_POOLING_CLS},
    {POOL_CFG("false", "false", "true", "false", "false"), QUIRE_POOLING_MAX},
    {POOL_CFG("false", "false", "false", "true", "false"), QUIRE_POOLING_MEAN_SQRT_LEN},
    {POOL_CFG("false", "false", "false", "false", "true"), QUIRE_POOLING_LASTTOKEN},
    {"{\"pooling_mode_weightedmean_tokens\": true}", QUIRE_POOLING_WEIGHTEDMEAN},
};

/* Each mode from the folder, in batches of 1 and 3, against the definition. */
static void test_pooling_modes(void)
{
    static const char *texts[] = {"Hello world", "a longer sentence with several more tokens in it",
                                  "x"};
    const char *dir = separable_model();
    for (size_t c = 0; c < QR_ARRAY_LEN(pool_cases); c++) {
        write_text(dir, "1_Pooling/config.json", pool_cases[c].cfg);
        quire_model *m = NULL;
        quire_error err = {0, ""};
        if (quire_model_open(dir, NULL, &m, &err) != QUIRE_OK) {
            T_CHECKF(0, "open with %s: %s", pool_cases[c].cfg, err.msg);
            continue;
        }
        T_EQ_INT(quire_model_pooling(m), pool_cases[c].mode);
        T_CHECK(quire_model_normalize(m) == 1);
        quire_embedder_params ep = quire_embedder_default_params();
        ep.no_normalize = 1;
        for (int batch = 1; batch <= 3; batch += 2) {
            ep.max_batch = batch;
            quire_embedder *e = NULL;
            float got[3 * H];
            T_CHECK(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK);
            T_CHECKF(quire_embed(e, texts, NULL, 3, got, NULL, &err) == QUIRE_OK, "%s", err.msg);
            quire_embedder_free(e);
            double md = 0;
            for (int i = 0; i < 3; i++)
                md = fmax(md, diff_to_ref(m, dir, texts[i], pool_cases[c].mode, got + i * H));
            T_CHECKF(md < 1e-4, "pooling %s, batch %d: max |diff| %g against the definition",
                     quire_pooling_name(pool_cases[c].mode), batch, md);
            printf("  %s batch %d: max |diff| %.2g\n", quire_pooling_name(pool_cases[c].mode),
                   batch, md);
        }
        quire_model_close(m);
    }
    write_text(dir, "1_Pooling/config.json", pool_cases[0].cfg);
}

/* Several modes at once, none, include_prompt false, a non-boolean: refused, naming the
 * file and the modes; never replaced by mean. */
static void test_pooling_refusals(void)
{
    static const struct {
        const char *cfg, *want;
        quire_status st;
    } bad[] = {
        {POOL_CFG("true", "true", "false", "false", "false"), "cls + mean", QUIRE_UNSUPPORTED},
        {POOL_CFG("false", "true", "true", "true", "false"), "mean + max + mean_sqrt_len",
         QUIRE_UNSUPPORTED},
        {POOL_CFG("false", "false", "false", "false", "false"), "no pooling_mode", QUIRE_FORMAT},
        {"{\"pooling_mode_lasttoken\": true, \"include_prompt\": false}", "include_prompt",
         QUIRE_UNSUPPORTED},
        {"{\"pooling_mode_mean_tokens\": 1}", "pooling_mode_mean_tokens", QUIRE_FORMAT},
        {"[true]", "expected a JSON object", QUIRE_FORMAT},
        {"{\"pooling_mode_mean_tokens\": tru", "invalid JSON", QUIRE_FORMAT},
    };
    char dir[1024];
    make_folder("poolbad", dir, sizeof(dir));
    for (size_t i = 0; i < QR_ARRAY_LEN(bad); i++) {
        write_text(dir, "1_Pooling/config.json", bad[i].cfg);
        quire_model *m = NULL;
        quire_error err = {0, ""};
        quire_status st = quire_model_open(dir, NULL, &m, &err);
        T_CHECKF(st == bad[i].st, "%s: status %d, want %d (%s)", bad[i].cfg, st, bad[i].st,
                 err.msg);
        T_CHECKF(strstr(err.msg, bad[i].want) && strstr(err.msg, "1_Pooling/config.json"),
                 "%s: message '%s' lacks '%s' or the file", bad[i].cfg, err.msg, bad[i].want);
        T_CHECK(m == NULL);
        quire_model_close(m);
    }
}

static double norm_of(const float *v, int n)
{
    double ss = 0;
    for (int j = 0; j < n; j++)
        ss += (double)v[j] * v[j];
    return sqrt(ss);
}

/* modules.json decides: Normalize module -> unit vectors; none (or no modules.json) ->
 * the pooled vector as it is; normalize / no_normalize override both ways. */
static void test_normalize_rule(void)
{
    static const char *texts[] = {"Hello world"};
    char with[1024], without[1024], nomods[1024];
    make_folder("norm-with", with, sizeof(with));
    make_folder("norm-without", without, sizeof(without));
    make_folder("norm-nomods", nomods, sizeof(nomods));
    write_text(without, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":"
               "\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":"
               "\"sentence_transformers.models.Pooling\"}]");
    char p[1200];
    snprintf(p, sizeof(p), "%s/modules.json", nomods);
    T_CHECK(remove(p) == 0);
    const char *dirs[3] = {with, without, nomods};
    int want_norm[3] = {1, 0, 0};
    float raw[3][H];
    for (int d = 0; d < 3; d++) {
        quire_model *m = NULL;
        quire_error err = {0, ""};
        if (quire_model_open(dirs[d], NULL, &m, &err) != QUIRE_OK) {
            T_CHECKF(0, "open %s: %s", dirs[d], err.msg);
            continue;
        }
        T_EQ_INT(quire_model_normalize(m), want_norm[d]);
        T_EQ_INT(quire_model_pooling(m), QUIRE_POOLING_MEAN);
        for (int mode = 0; mode < 3; mode++) { /* model's, force on, force off */
            quire_embedder_params ep = quire_embedder_default_params();
            ep.normalize = mode == 1;
            ep.no_normalize = mode == 2;
            quire_embedder *e = NULL;
            float v[H];
            T_CHECK(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK);
            T_CHECK(quire_embed(e, texts, NULL, 1, v, NULL, &err) == QUIRE_OK);
            quire_embedder_free(e);
            int unit = mode == 1 || (mode == 0 && want_norm[d]);
            double nv = norm_of(v, H);
            T_CHECKF(unit ? fabs(nv - 1) < 1e-5 : fabs(nv - 1) > 1e-2,
                     "%s, normalize mode %d: norm %g", dirs[d], mode, nv);
            if (mode == 2)
                memcpy(raw[d], v, sizeof(v));
        }
        quire_embedder_params both = quire_embedder_default_params();
        both.normalize = both.no_normalize = 1;
        quire_embedder *e = NULL;
        T_CHECK(quire_embedder_new(m, &both, &e, &err) == QUIRE_INVALID_ARG);
        quire_model_close(m);
    }
    /* the same weights: the unnormalised vectors agree whatever modules.json says */
    T_CHECK(memcmp(raw[0], raw[1], sizeof(raw[0])) == 0 && memcmp(raw[0], raw[2], sizeof(raw[0])) == 0);
}

/* config_sentence_transformers.json: prompts by name, default_prompt_name, refusals. */
static void test_prompts(void)
{
    char dir[1024];
    make_folder("prompts", dir, sizeof(dir));
    write_text(dir, "config_sentence_transformers.json",
               "{\"prompts\": {\"query\": \"query: \", \"document\": \"passage: \"},"
               " \"default_prompt_name\": \"query\"}");
    quire_model *m = NULL;
    quire_error err = {0, ""};
    T_CHECKF(quire_model_open(dir, NULL, &m, &err) == QUIRE_OK, "%s", err.msg);
    T_EQ_INT(quire_model_prompt_count(m), 2);
    T_CHECK(!strcmp(quire_model_prompt_name(m, 0), "query"));
    T_CHECK(!strcmp(quire_model_prompt_name(m, 1), "document"));
    T_CHECK(quire_model_prompt_name(m, 2) == NULL);
    T_CHECK(!strcmp(quire_model_prompt(m, "document"), "passage: "));
    T_CHECK(quire_model_prompt(m, "nope") == NULL);
    T_CHECK(quire_model_default_prompt(m) && !strcmp(quire_model_default_prompt(m), "query"));
    quire_model_close(m);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"prompts\": [\"q\"]}", "\"prompts\" is not an object"},
        {"{\"prompts\": {\"q\": 1}}", "prompt \"q\" is not a string"},
        {"{\"prompts\": {\"q\": \"x\"}, \"default_prompt_name\": \"z\"}", "\"z\" is not one of"},
        {"{\"prompts\": {}, \"default_prompt_name\": 3}", "default_prompt_name"},
        {"{\"prompts\": ", "invalid JSON"},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(bad); i++) {
        write_text(dir, "config_sentence_transformers.json", bad[i].text);
        m = NULL;
        quire_status st = quire_model_open(dir, NULL, &m, &err);
        T_CHECKF(st == QUIRE_FORMAT && strstr(err.msg, bad[i].want) &&
                     strstr(err.msg, "config_sentence_transformers.json"),
                 "%s: status %d '%s'", bad[i].text, st, err.msg);
        quire_model_close(m);
    }
}

/* The count before truncation comes back, so callers can say an input was cut. */
static void test_truncation_count(void)
{
    char dir[1024];
    make_folder("trunc", dir, sizeof(dir));
    quire_model_params mp = quire_model_default_params();
    mp.max_tokens = 8;
    quire_model *m = NULL;
    quire_embedder *e = NULL;
    quire_error err = {0, ""};
    T_CHECK(quire_model_open(dir, &mp, &m, &err) == QUIRE_OK);
    T_CHECK(quire_embedder_new(m, NULL, &e, &err) == QUIRE_OK);
    static const char *texts[] = {"one two three four five six seven eight nine ten", "hi"};
    float v[2 * H];
    int32_t nt[2], ni[2];
    T_CHECK(quire_embed_counted(e, texts, NULL, 2, v, nt, ni, &err) == QUIRE_OK);
    T_EQ_INT(nt[0], 8);
    T_EQ_INT(ni[0], 12);
    T_EQ_INT(nt[1], 3);
    T_EQ_INT(ni[1], 3);
    quire_embedder_free(e);
    quire_model_close(m);
}

int main(void)
{
    T_RUN(test_pooling_path_lifetime);
    T_RUN(test_pooling_modes);
    T_RUN(test_pooling_refusals);
    T_RUN(test_normalize_rule);
    T_RUN(test_prompts);
    T_RUN(test_truncation_count);
    return t_done();
}
