/*
 * test_embed.c — model folder loading and the forward pass against the golden vectors
 * of an independent PyTorch implementation (shared/models/<m>/golden.jsonl), for every
 * kernel set this CPU can run; handcrafted corrupt folders; edge inputs; allocation
 * failure at every step.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/core.h"
#include "embed/embed_int.h"
#include "nn/nn.h"
#include "testlib.h"

#define COS_MIN 0.99999
#define DIFF_MAX 1e-4

typedef struct golden {
    int n;
    char **text;
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
    free(g->ids);
    free(g->n_ids);
    free(g->emb);
    memset(g, 0, sizeof(*g));
}

static int golden_load(const char *path, golden *g)
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
        if (g->n == cap) {
            cap = cap ? cap * 2 : 64;
            g->text = realloc(g->text, cap * sizeof(char *));
            g->ids = realloc(g->ids, cap * sizeof(int *));
            g->n_ids = realloc(g->n_ids, cap * sizeof(int));
            g->emb = realloc(g->emb, cap * sizeof(float *));
        }
        g->text[g->n] = strdup(json_string_value(json_object_get(o, "text")));
        json_t *ids = json_object_get(o, "ids");
        g->n_ids[g->n] = (int)json_array_size(ids);
        g->ids[g->n] = malloc(sizeof(int) * (json_array_size(ids) + 1));
        for (size_t j = 0; j < json_array_size(ids); j++)
            g->ids[g->n][j] = (int)json_integer_value(json_array_get(ids, j));
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

static void compare_vec(const char *what, int i, const float *got, const float *want, int dims,
                        double *worst_cos, double *worst_diff)
{
    double dot = 0, na = 0, nb = 0, md = 0;
    for (int j = 0; j < dims; j++) {
        dot += (double)got[j] * want[j];
        na += (double)got[j] * got[j];
        nb += (double)want[j] * want[j];
        double d = fabs((double)got[j] - want[j]);
        md = d > md ? d : md;
    }
    double cos = dot / (sqrt(na) * sqrt(nb) + 1e-30);
    if (cos < *worst_cos)
        *worst_cos = cos;
    if (md > *worst_diff)
        *worst_diff = md;
    T_CHECKF(cos >= COS_MIN && md <= DIFF_MAX, "%s: text %d: cosine %.8f, max|diff| %.3g", what,
             i, cos, md);
}

static char minilm_dir[1024];

static const char *minilm(void)
{
    const char *e = getenv("QUIRE_MINILM");
    snprintf(minilm_dir, sizeof(minilm_dir), "%s", e && *e ? e : "build/models/minilm");
    return minilm_dir;
}

/* Embed all golden texts with the given kernel set, batch and threads. */
static void check_golden(const char *model_dir, const char *golden_path, const char *kern,
                         int batch, int threads)
{
    golden g;
    T_CHECKF(golden_load(golden_path, &g) == 0, "cannot read %s", golden_path);
    if (g.n == 0)
        return;
    quire_error err = {0};
    T_CHECKF(qr_nn_select(kern, &err) == QUIRE_OK, "select %s: %s", kern, err.msg);
    quire_model *m = NULL;
    quire_status st = quire_model_open(model_dir, NULL, &m, &err);
    T_CHECKF(st == QUIRE_OK, "open %s: %s", model_dir, err.msg);
    if (st != QUIRE_OK) {
        golden_free(&g);
        return;
    }
    /* quire_model_open initialises the library: the set chosen by name must stay */
    T_CHECKF(qr_nn() == qr_nn_get(kern), "kernel set %s after quire_model_open, not %s",
             qr_nn()->name, kern);
    T_EQ_INT(quire_model_dims(m), g.dims);
    /* Under emulation (qemu, scalar kernels) the 512-token MiniLM texts take minutes:
     * QUIRE_GOLDEN_MAX_TOKENS=N keeps only golden texts of at most N tokens. */
    const char *cap_env = getenv("QUIRE_GOLDEN_MAX_TOKENS");
    int cap_tok = cap_env ? atoi(cap_env) : 0;
    if (cap_tok > 0 && quire_model_dims(m) > 64) {
        int kept = 0;
        for (int i = 0; i < g.n; i++) {
            if (g.n_ids[i] > cap_tok) {
                free(g.text[i]);
                free(g.ids[i]);
                free(g.emb[i]);
                continue;
            }
            g.text[kept] = g.text[i];
            g.ids[kept] = g.ids[i];
            g.n_ids[kept] = g.n_ids[i];
            g.emb[kept] = g.emb[i];
            kept++;
        }
        printf("  QUIRE_GOLDEN_MAX_TOKENS=%d: %d of %d texts\n", cap_tok, kept, g.n);
        g.n = kept;
    }
    quire_embedder_params ep = quire_embedder_default_params();
    ep.max_batch = batch;
    ep.n_threads = threads;
    quire_embedder *e = NULL;
    T_CHECKF(quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK, "embedder: %s", err.msg);
    float *vecs = calloc((size_t)g.n * g.dims, sizeof(float));
    int32_t *ntok = calloc((size_t)g.n, sizeof(int32_t));
    st = quire_embed(e, (const char *const *)g.text, NULL, (size_t)g.n, vecs, ntok, &err);
    T_CHECKF(st == QUIRE_OK, "embed: %s", err.msg);
    double wc = 1.0, wd = 0.0;
    char what[256];
    snprintf(what, sizeof(what), "%s [%s batch %d threads %d]", model_dir, kern, batch, threads);
    for (int i = 0; i < g.n && st == QUIRE_OK; i++) {
        T_CHECKF(ntok[i] == g.n_ids[i], "%s: text %d: %d tokens, golden %d", what, i, ntok[i],
                 g.n_ids[i]);
        compare_vec(what, i, vecs + (size_t)i * g.dims, g.emb[i], g.dims, &wc, &wd);
    }
    printf("  %s: %d texts, worst cosine %.9f, worst max|diff| %.3g\n", what, g.n, wc, wd);
    free(vecs);
    free(ntok);
    quire_embedder_free(e);
    quire_model_close(m);
    golden_free(&g);
    qr_nn_select(NULL, NULL);
}

/* only: NULL = every kernel set, else a space-separated list (QUIRE_GOLDEN_KERNELS: the
 * emulated arm64 run checks the MiniLM goldens with its default set only, to stay short;
 * the tiny model's goldens run on every set there too). */
static void for_each_kernel(const char *model_dir, const char *golden_path, const char *only)
{
    for (int i = 0; qr_nn_names[i]; i++) {
        if (only) {
            char pad[256], name[64];
            snprintf(pad, sizeof pad, " %s ", only);
            snprintf(name, sizeof name, " %s ", qr_nn_names[i]);
            if (!strstr(pad, name)) {
                printf("  kernel set %s: skipped (QUIRE_GOLDEN_KERNELS=%s)\n", qr_nn_names[i],
                       only);
                continue;
            }
        }
        if (!qr_nn_get(qr_nn_names[i])) {
            printf("  kernel set %s: not supported by this CPU\n", qr_nn_names[i]);
            continue;
        }
        check_golden(model_dir, golden_path, qr_nn_names[i], 32, 1);
    }
}

static void test_golden_tiny(void)
{
    char dir[1024], gp[1100];
    snprintf(dir, sizeof(dir), "%s/models/tiny", t_shared());
    snprintf(gp, sizeof(gp), "%s/golden.jsonl", dir);
    for_each_kernel(dir, gp, NULL);
    check_golden(dir, gp, qr_nn()->name, 1, 1);
    check_golden(dir, gp, qr_nn()->name, 7, 2);
}

static void test_golden_minilm(void)
{
    char gp[1100];
    snprintf(gp, sizeof(gp), "%s/models/minilm-random/golden.jsonl", t_shared());
    char st[1100];
    snprintf(st, sizeof(st), "%s/model.safetensors", minilm());
    T_CHECKF(qr_file_exists(st),
             "%s missing: generate it with make models (gen_weights.py minilm)", st);
    if (!qr_file_exists(st))
        return;
    for_each_kernel(minilm(), gp, getenv("QUIRE_GOLDEN_KERNELS"));
    if (getenv("QUIRE_GOLDEN_MAX_TOKENS"))
        return; /* emulated run: one pass per kernel set is enough */
    check_golden(minilm(), gp, qr_nn()->name, 1, 1);
    check_golden(minilm(), gp, qr_nn()->name, 32, 2);
}

/* ---- corrupt folders ------------------------------------------------------------- */

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

static void make_folder(const char *dst)
{
    static const char *files[] = {"config.json",        "vocab.txt",
                                  "tokenizer_config.json", "sentence_bert_config.json",
                                  "modules.json",       "model.safetensors",
                                  "special_tokens_map.json"};
    char src[2100], to[2100];
    mkdir(dst, 0755);
    snprintf(to, sizeof(to), "%s/1_Pooling", dst);
    mkdir(to, 0755);
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++) {
        snprintf(src, sizeof(src), "%s/models/tiny/%s", t_shared(), files[i]);
        snprintf(to, sizeof(to), "%s/%s", dst, files[i]);
        copy_file(src, to);
    }
    snprintf(src, sizeof(src), "%s/models/tiny/1_Pooling/config.json", t_shared());
    snprintf(to, sizeof(to), "%s/1_Pooling/config.json", dst);
    copy_file(src, to);
}

/* Rewrite the safetensors header with edits applied by fn, keeping data. */
typedef void (*header_edit)(json_t *hdr);

static void write_st(const char *path, json_t *hdr, const unsigned char *data, size_t dlen)
{
    char *h = json_dumps(hdr, JSON_COMPACT);
    size_t hl = strlen(h);
    size_t pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    unsigned char lenb[8];
    uint64_t total = hl + pad;
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(total >> (8 * i));
    fwrite(lenb, 1, 8, f);
    fwrite(h, 1, hl, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fwrite(data, 1, dlen, f);
    fclose(f);
    free(h);
}

static void edit_st(const char *dir, header_edit fn)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    size_t len;
    unsigned char *raw = (unsigned char *)t_read_file(path, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | raw[i];
    json_t *hdr = json_loadb((char *)raw + 8, hl, 0, NULL);
    fn(hdr);
    write_st(path, hdr, raw + 8 + hl, len - 8 - hl);
    json_decref(hdr);
    free(raw);
}

static void e_offsets(json_t *h)
{
    json_t *t = json_object_get(h, "encoder.layer.1.output.dense.weight");
    json_array_set_new(json_object_get(t, "data_offsets"), 1, json_integer(1 << 30));
}
static void e_dtype(json_t *h)
{
    json_t *t = json_object_get(h, "encoder.layer.0.attention.self.key.weight");
    json_object_set_new(t, "dtype", json_string("I32"));
}
static void e_shape(json_t *h)
{
    json_t *t = json_object_get(h, "encoder.layer.0.intermediate.dense.weight");
    json_t *s = json_object_get(t, "shape");
    json_int_t a = json_integer_value(json_array_get(s, 0));
    json_int_t b = json_integer_value(json_array_get(s, 1));
    json_array_set_new(s, 0, json_integer(b));
    json_array_set_new(s, 1, json_integer(a));
}
static void e_missing(json_t *h) { json_object_del(h, "encoder.layer.1.attention.self.value.bias"); }

static void truncate_file(const char *dir, const char *name, double frac)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    char *d = t_read_file(path, &len);
    t_write_file(path, d, (size_t)(len * frac));
    free(d);
}

static void header_beyond(const char *dir)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    size_t len;
    unsigned char *d = (unsigned char *)t_read_file(path, &len);
    uint64_t big = (uint64_t)len + 100;
    for (int i = 0; i < 8; i++)
        d[i] = (unsigned char)(big >> (8 * i));
    t_write_file(path, d, len);
    free(d);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    t_write_file(path, text, strlen(text));
}

static void bad_header_json(const char *dir)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    size_t len;
    unsigned char *d = (unsigned char *)t_read_file(path, &len);
    d[8 + 1] = '}'; /* "{}" followed by garbage: not valid JSON */
    t_write_file(path, d, len);
    free(d);
}

static void vocab_mismatch(const char *dir)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    char *c = t_read_file(path, NULL);
    char *p = strstr(c, "30522");
    memcpy(p, "30000", 5);
    t_write_file(path, c, strlen(c));
    free(c);
}

/* Run the CLI on a folder: exit status, stdout bytes, stderr lines. */
static int run_cli(const char *dir, size_t *out_bytes, int *err_lines, char *first_err,
                   size_t cap)
{
    const char *bin = getenv("QUIRE_BIN");
    char cmd[4096], outp[1024], errp[1024];
    snprintf(outp, sizeof(outp), "%s/cli.out", t_tmpdir());
    snprintf(errp, sizeof(errp), "%s/cli.err", t_tmpdir());
    const char *runner = getenv("QUIRE_RUNNER"); /* e.g. qemu-aarch64 */
    snprintf(cmd, sizeof(cmd), "echo hello | %s '%s' embed --model '%s' > '%s' 2> '%s'",
             runner && *runner ? runner : "", bin && *bin ? bin : "build/quire", dir, outp, errp);
    int st = system(cmd);
    size_t ol = 0, el = 0;
    char *o = t_read_file(outp, &ol);
    char *e = t_read_file(errp, &el);
    *out_bytes = ol;
    *err_lines = 0;
    for (size_t i = 0; e && i < el; i++)
        *err_lines += e[i] == '\n';
    snprintf(first_err, cap, "%s", e ? e : "");
    free(o);
    free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct corrupt_case {
    const char *name;
    const char *expect; /* substring of the message */
    int code;
    void (*make)(const char *dir);
} corrupt_case;

static void c_trunc(const char *d) { truncate_file(d, "model.safetensors", 0.5); }
static void c_tiny(const char *d) { truncate_file(d, "model.safetensors", 0.0001); }
static void c_offsets(const char *d) { edit_st(d, e_offsets); }
static void c_dtype(const char *d) { edit_st(d, e_dtype); }
static void c_shape(const char *d) { edit_st(d, e_shape); }
static void c_missing(const char *d) { edit_st(d, e_missing); }
static void c_config(const char *d) { write_text(d, "config.json", "{\"hidden_size\": 32,"); }
static void c_config_field(const char *d)
{
    write_text(d, "config.json",
               "{\"model_type\":\"bert\",\"vocab_size\":30522,\"hidden_size\":\"big\"}");
}
static void c_tokcfg(const char *d) { write_text(d, "tokenizer_config.json", "[1,2"); }
static void c_pool(const char *d) { write_text(d, "modules.json", "{\"not\":\"a list\"}"); }
static void c_vocab_empty(const char *d) { write_text(d, "vocab.txt", ""); }
static void c_no_weights(const char *d) { truncate_file(d, "model.safetensors", 0.0); }

static const corrupt_case cases[] = {
    {"truncated", "model.safetensors", QUIRE_FORMAT, c_trunc},
    {"shorter-than-header-length", "model.safetensors", QUIRE_FORMAT, c_tiny},
    {"header-beyond-file", "beyond the end", QUIRE_FORMAT, header_beyond},
    {"header-bad-json", "not valid JSON", QUIRE_FORMAT, bad_header_json},
    {"offsets-outside", "encoder.layer.1.output.dense.weight", QUIRE_FORMAT, c_offsets},
    {"wrong-dtype", "encoder.layer.0.attention.self.key.weight", QUIRE_FORMAT, c_dtype},
    {"wrong-shape", "encoder.layer.0.intermediate.dense.weight", QUIRE_FORMAT, c_shape},
    {"missing-tensor", "encoder.layer.1.attention.self.value.bias", QUIRE_FORMAT, c_missing},
    {"config-bad-json", "config.json", QUIRE_FORMAT, c_config},
    {"config-bad-field", "hidden_size", QUIRE_FORMAT, c_config_field},
    {"tokenizer-config-bad-json", "tokenizer_config.json", QUIRE_FORMAT, c_tokcfg},
    {"modules-not-list", "modules.json", QUIRE_FORMAT, c_pool},
    {"vocab-size-mismatch", "vocab", QUIRE_FORMAT, vocab_mismatch},
    {"vocab-empty", "vocab.txt", QUIRE_FORMAT, c_vocab_empty},
    {"weights-empty", "model.safetensors", QUIRE_FORMAT, c_no_weights},
};

static void test_corrupt_folders(void)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(cases); i++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/corrupt-%s", t_tmpdir(), cases[i].name);
        make_folder(dir);
        cases[i].make(dir);
        quire_error err = {0};
        quire_model *m = (quire_model *)1;
        quire_status st = quire_model_open(dir, NULL, &m, &err);
        T_CHECKF(st == (quire_status)cases[i].code, "%s: status %s, want %s (%s)", cases[i].name,
                 quire_status_str(st), quire_status_str(cases[i].code), err.msg);
        T_CHECKF(m == NULL, "%s: model not NULL on failure", cases[i].name);
        T_CHECKF(strstr(err.msg, cases[i].expect) != NULL, "%s: message '%s' lacks '%s'",
                 cases[i].name, err.msg, cases[i].expect);
        size_t ob;
        int el;
        char first[512];
        int ex = run_cli(dir, &ob, &el, first, sizeof(first));
        T_CHECKF(ex == 1, "%s: CLI exit %d, want 1", cases[i].name, ex);
        T_CHECKF(ob == 0, "%s: CLI wrote %zu bytes to stdout", cases[i].name, ob);
        T_CHECKF(el == 1, "%s: CLI wrote %d stderr lines: %s", cases[i].name, el, first);
        printf("  %-28s -> %s", cases[i].name, first);
    }
}

/* ---- dtype variants and name prefix ------------------------------------------------- */

static uint16_t f2h(float f)
{
    /* round-to-nearest-even float -> half for normal range values */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int exp = (int)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - exp;
        uint32_t hm = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1)))
            hm++;
        return (uint16_t)(sign | hm);
    }
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00);
    uint32_t hm = mant >> 13, rem = mant & 0x1fff;
    uint32_t h = sign | ((uint32_t)exp << 10) | hm;
    if (rem > 0x1000 || (rem == 0x1000 && (hm & 1)))
        h++;
    return (uint16_t)h;
}

static uint16_t f2bf(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t r = x + 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(r >> 16);
}

/* Write two safetensors: `half` with F16/BF16 weights, `f32` with the same values as F32
 * (exactly representable), optionally with a "bert." prefix on every name. */
static void write_variants(const char *src_dir, const char *dir_half, const char *dir_f32,
                           int bf16, int prefix)
{
    char path[2100];
    snprintf(path, sizeof(path), "%s/model.safetensors", src_dir);
    size_t len;
    unsigned char *raw = (unsigned char *)t_read_file(path, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | raw[i];
    json_t *hdr = json_loadb((char *)raw + 8, hl, 0, NULL);
    const unsigned char *data = raw + 8 + hl;
    json_t *h16 = json_object(), *h32 = json_object();
    size_t cap = len * 2, o16 = 0, o32 = 0;
    unsigned char *d16 = malloc(cap), *d32 = malloc(cap);
    const char *key;
    json_t *val;
    json_object_foreach(hdr, key, val)
    {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        char name[512];
        snprintf(name, sizeof(name), "%s%s", prefix ? "bert." : "", key);
        const char *dt = json_string_value(json_object_get(val, "dtype"));
        json_int_t b = json_integer_value(json_array_get(json_object_get(val, "data_offsets"), 0));
        json_int_t e = json_integer_value(json_array_get(json_object_get(val, "data_offsets"), 1));
        json_t *shape = json_object_get(val, "shape");
        if (strcmp(dt, "F32") != 0) { /* e.g. position_ids I64: copy as is */
            memcpy(d16 + o16, data + b, (size_t)(e - b));
            memcpy(d32 + o32, data + b, (size_t)(e - b));
            json_object_set_new(h16, name, json_pack("{s:s,s:O,s:[I,I]}", "dtype", dt, "shape",
                                                     shape, "data_offsets", (json_int_t)o16,
                                                     (json_int_t)(o16 + (e - b))));
            json_object_set_new(h32, name, json_pack("{s:s,s:O,s:[I,I]}", "dtype", dt, "shape",
                                                     shape, "data_offsets", (json_int_t)o32,
                                                     (json_int_t)(o32 + (e - b))));
            o16 += (size_t)(e - b);
            o32 += (size_t)(e - b);
            continue;
        }
        size_t n = (size_t)(e - b) / 4;
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, data + b + 4 * i, 4);
            uint16_t h = bf16 ? f2bf(f) : f2h(f);
            d16[o16 + 2 * i] = (unsigned char)(h & 0xff);
            d16[o16 + 2 * i + 1] = (unsigned char)(h >> 8);
            float back;
            if (bf16) {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&back, &bits, 4);
            } else {
                back = qr_half_to_float(h);
            }
            memcpy(d32 + o32 + 4 * i, &back, 4);
        }
        json_object_set_new(h16, name, json_pack("{s:s,s:O,s:[I,I]}", "dtype", bf16 ? "BF16" : "F16",
                                                 "shape", shape, "data_offsets", (json_int_t)o16,
                                                 (json_int_t)(o16 + 2 * n)));
        json_object_set_new(h32, name, json_pack("{s:s,s:O,s:[I,I]}", "dtype", "F32", "shape",
                                                 shape, "data_offsets", (json_int_t)o32,
                                                 (json_int_t)(o32 + 4 * n)));
        o16 += 2 * n;
        o32 += 4 * n;
    }
    snprintf(path, sizeof(path), "%s/model.safetensors", dir_half);
    write_st(path, h16, d16, o16);
    snprintf(path, sizeof(path), "%s/model.safetensors", dir_f32);
    write_st(path, h32, d32, o32);
    json_decref(hdr);
    json_decref(h16);
    json_decref(h32);
    free(d16);
    free(d32);
    free(raw);
}

static int embed_texts(const char *dir, const char *const *texts, int n, float *out)
{
    quire_error err = {0};
    quire_model *m = NULL;
    quire_embedder *e = NULL;
    if (quire_model_open(dir, NULL, &m, &err) != QUIRE_OK) {
        printf("  open %s: %s\n", dir, err.msg);
        return -1;
    }
    int rc = -1;
    if (quire_embedder_new(m, NULL, &e, &err) == QUIRE_OK &&
        quire_embed(e, texts, NULL, (size_t)n, out, NULL, &err) == QUIRE_OK)
        rc = 0;
    else
        printf("  embed %s: %s\n", dir, err.msg);
    quire_embedder_free(e);
    quire_model_close(m);
    return rc;
}

static void test_dtypes_and_prefix(void)
{
    static const char *texts[] = {"Hello world", "The quick brown fox jumps over the lazy dog.",
                                  "café naïve résumé"};
    char src[1024];
    snprintf(src, sizeof(src), "%s/models/tiny", t_shared());
    for (int variant = 0; variant < 3; variant++) {
        int bf16 = variant == 1, prefix = variant == 2;
        char dh[1024], df[1024];
        snprintf(dh, sizeof(dh), "%s/variant-%d-half", t_tmpdir(), variant);
        snprintf(df, sizeof(df), "%s/variant-%d-f32", t_tmpdir(), variant);
        make_folder(dh);
        make_folder(df);
        write_variants(src, dh, df, bf16, prefix);
        float a[3 * 32], b[3 * 32];
        T_CHECK(embed_texts(dh, texts, 3, a) == 0);
        T_CHECK(embed_texts(df, texts, 3, b) == 0);
        double md = 0;
        for (int i = 0; i < 3 * 32; i++)
            {
            double d = fabs((double)a[i] - b[i]);
            if (d > md)
                md = d;
        }
        T_CHECKF(md == 0.0, "%s weights%s: differ from the same values in F32 by %g",
                 bf16 ? "BF16" : "F16", prefix ? " with bert. prefix" : "", md);
        printf("  %s%s: identical to F32 of the same values\n", bf16 ? "BF16" : "F16",
               prefix ? " + bert. prefix" : "");
    }
}

/* ---- edge inputs ------------------------------------------------------------------ */

static void test_edge_inputs(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/tiny", t_shared());
    quire_error err = {0};
    quire_model *m = NULL;
    quire_embedder *e = NULL;
    T_CHECK(quire_model_open(dir, NULL, &m, &err) == QUIRE_OK);
    T_CHECK(quire_embedder_new(m, NULL, &e, &err) == QUIRE_OK);
    if (!m || !e)
        return;
    int H = quire_model_dims(m);
    char *longline = malloc(10001);
    for (int i = 0; i < 10000; i++)
        longline[i] = "abc def, ghij! "[i % 15];
    longline[10000] = 0;
    const char *texts[] = {"", longline, "bad \xff\xfe utf8 \xc3\x28 \xe2\x82", "crlf line\r",
                           "\xed\xa0\x80 surrogate"};
    int n = 5;
    float *v = calloc((size_t)n * H, sizeof(float));
    int32_t nt[5];
    T_CHECKF(quire_embed(e, texts, NULL, (size_t)n, v, nt, &err) == QUIRE_OK, "%s", err.msg);
    T_EQ_INT(nt[0], 2);
    T_EQ_INT(nt[1], quire_model_max_tokens(m));
    for (int i = 0; i < n * H; i++)
        T_CHECKF(isfinite(v[i]), "non-finite output at %d", i);
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int j = 0; j < H; j++)
            ss += (double)v[i * H + j] * v[i * H + j];
        T_CHECKF(fabs(sqrt(ss) - 1.0) < 1e-5, "text %d: norm %f", i, sqrt(ss));
    }
    /* CRLF: the \r is whitespace, so "crlf line\r" == "crlf line" */
    float w[64];
    const char *plain[] = {"crlf line"};
    T_CHECK(quire_embed(e, plain, NULL, 1, w, NULL, &err) == QUIRE_OK);
    for (int j = 0; j < H; j++)
        T_CHECK(fabsf(w[j] - v[3 * H + j]) < 1e-6f);
    free(v);
    free(longline);

    /* 10,000 inputs in one call: order preserved, same as one at a time */
    int N = 10000;
    char **many = malloc(sizeof(char *) * N);
    for (int i = 0; i < N; i++) {
        many[i] = malloc(64);
        snprintf(many[i], 64, "sentence number %d with %s", i, (i % 3) ? "words" : "more words here");
    }
    float *all = malloc(sizeof(float) * (size_t)N * H);
    T_CHECK(quire_embed(e, (const char *const *)many, NULL, (size_t)N, all, NULL, &err) == QUIRE_OK);
    for (int i = 0; i < N; i += 997) {
        float one[64];
        T_CHECK(quire_embed(e, (const char *const *)&many[i], NULL, 1, one, NULL, &err) == QUIRE_OK);
        double md = 0;
        for (int j = 0; j < H; j++)
            {
            double d = fabs((double)one[j] - all[(size_t)i * H + j]);
            if (d > md)
                md = d;
        }
        T_CHECKF(md < 1e-6, "input %d: batched vs single differ by %g", i, md);
    }
    for (int i = 0; i < N; i++)
        free(many[i]);
    free(many);
    free(all);

    /* quire_embed_ids validation */
    int32_t bad[3] = {101, 40000, 102};
    const int32_t *bp = bad;
    size_t bn = 3;
    float o[64];
    T_CHECK(quire_embed_ids(e, &bp, &bn, 1, o, &err) == QUIRE_INVALID_ARG);
    T_CHECKF(strstr(err.msg, "40000") != NULL, "%s", err.msg);
    quire_embedder_free(e);
    quire_model_close(m);
}

/* ---- allocation failures --------------------------------------------------------------- */

static void test_alloc_failures(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/tiny", t_shared());
    const char *texts[] = {"hello world", "second text"};
    int ok_at = -1, errors = 0;
    for (long n = 1; n < 100000; n++) {
        qr_alloc_fail_at(n);
        quire_error err = {0};
        quire_model *m = NULL;
        quire_embedder *e = NULL;
        float v[64];
        quire_status st = quire_model_open(dir, NULL, &m, &err);
        if (st == QUIRE_OK)
            st = quire_embedder_new(m, NULL, &e, &err);
        if (st == QUIRE_OK)
            st = quire_embed(e, texts, NULL, 2, v, NULL, &err);
        quire_embedder_free(e);
        quire_model_close(m);
        qr_alloc_fail_at(0);
        if (st == QUIRE_OK) {
            ok_at = (int)n;
            break;
        }
        errors++;
        T_CHECKF(err.msg[0] != '\0', "allocation %ld failed with an empty message", n);
    }
    T_CHECKF(ok_at > 0, "never succeeded");
    printf("  failed each of the first %d allocations: every run returned an error cleanly\n",
           errors);
}

int main(void)
{
    T_RUN(test_golden_tiny);
    T_RUN(test_golden_minilm);
    T_RUN(test_corrupt_folders);
    T_RUN(test_dtypes_and_prefix);
    T_RUN(test_edge_inputs);
    T_RUN(test_alloc_failures);
    return t_done();
}
