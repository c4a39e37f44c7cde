/*
 * test_packcache.c — the packed-weight cache of bf16 / int8 models (src/embed/packcache.c):
 *  - the first open converts and writes the file; the next open maps it ("hit") and the
 *    vectors are bitwise those of the converting open, for bf16 and int8;
 *  - a file with one flipped payload byte, a truncated file, a file of another format
 *    version, and a model file with a new mtime are each detected: the open converts
 *    again (same vectors) and rewrites the file, which is then a hit again;
 *  - QUIRE_CACHE_DIR=off and an unusable cache folder: no cache, the open still works;
 *  - fp32 never uses it.
 * The model is a copy of shared/models/tiny in the test's temporary folder, so its mtime
 * can be changed.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "embed/embed_int.h"
#include "quire.h"
#include "testlib.h"

static char model_dir[1024], cache_dir[1100];

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    size_t len = 0;
    char *data = t_read_file(a, &len);
    if (!data)
        return; /* optional files */
    T_CHECKF(t_write_file(b, data, len) == 0, "write %s", b);
    free(data);
}

static void make_model(void)
{
    static const char *const files[] = {"config.json", "model.safetensors", "vocab.txt",
                                        "tokenizer_config.json", "special_tokens_map.json",
                                        "modules.json", "sentence_bert_config.json",
                                        "1_Pooling/config.json"};
    char src[1024];
    snprintf(src, sizeof src, "%s/models/tiny", t_shared());
    snprintf(model_dir, sizeof model_dir, "%s/pc-model", t_tmpdir());
    snprintf(cache_dir, sizeof cache_dir, "%s/pc-cache", t_tmpdir());
    mkdir(model_dir, 0700);
    char pool[1100];
    snprintf(pool, sizeof pool, "%s/1_Pooling", model_dir);
    mkdir(pool, 0700);
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++)
        copy_file(src, model_dir, files[i]);
}

#define N_TEXTS 3
static const char *const texts[N_TEXTS] = {
    "The packed weights are mapped from the cache file.",
    "hello world",
    "A longer sentence, with punctuation; numbers 12345 and words enough for many tokens of "
    "input to the encoder."};

/* Open in prec, embed the texts into v (dims floats each), report the cache state. */
static int embed_with(int prec, float *v, char *state, size_t cap, int *dims)
{
    quire_error err = {0};
    quire_model_params mp = quire_model_default_params();
    mp.precision = prec;
    quire_model *m = NULL;
    if (quire_model_open(model_dir, &mp, &m, &err) != QUIRE_OK) {
        T_CHECKF(0, "open (%d): %s", prec, err.msg);
        return -1;
    }
    snprintf(state, cap, "%s", qr_pcache_state(m));
    *dims = quire_model_dims(m);
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = 1;
    quire_embedder *e = NULL;
    int rc = quire_embedder_new(m, &ep, &e, &err) == QUIRE_OK &&
                     quire_embed(e, texts, NULL, N_TEXTS, v, NULL, &err) == QUIRE_OK
                 ? 0
                 : -1;
    T_CHECKF(rc == 0, "embed (%d): %s", prec, err.msg);
    quire_embedder_free(e);
    quire_model_close(m);
    return rc;
}

/* The one cache file of precision prec (its path into out); 0 if found. */
static int cache_file(int prec, char *out, size_t cap)
{
    quire_model_params mp = quire_model_default_params();
    mp.precision = prec;
    quire_model *m = NULL;
    quire_error err = {0};
    if (quire_model_open(model_dir, &mp, &m, &err) != QUIRE_OK)
        return -1;
    snprintf(out, cap, "%s", qr_pcache_path(m));
    quire_model_close(m);
    struct stat st;
    return out[0] && stat(out, &st) == 0 ? 0 : -1;
}

static void expect(int prec, const char *want, const float *ref, const char *what)
{
    float v[N_TEXTS * 1024];
    char state[32];
    int dims = 0;
    if (embed_with(prec, v, state, sizeof state, &dims) != 0)
        return;
    T_CHECKF(strcmp(state, want) == 0, "%s %s: cache state %s, expected %s",
             prec == QUIRE_PRECISION_INT8 ? "int8" : "bf16", what, state, want);
    T_CHECKF(memcmp(v, ref, (size_t)N_TEXTS * (size_t)dims * sizeof(float)) == 0,
             "%s %s: vectors differ from the converting open",
             prec == QUIRE_PRECISION_INT8 ? "int8" : "bf16", what);
}

static void corrupt(const char *path, long at_from_end, int truncate_it)
{
    size_t len = 0;
    char *d = t_read_file(path, &len);
    T_CHECKF(d && len > 8192, "read %s", path);
    if (!d)
        return;
    if (truncate_it)
        len -= 4096;
    else
        d[len - (size_t)at_from_end] ^= 0x10;
    T_CHECK(t_write_file(path, d, len) == 0);
    free(d);
}

static void test_cache_roundtrip(void)
{
    setenv("QUIRE_CACHE_DIR", cache_dir, 1);
    for (int prec = QUIRE_PRECISION_BF16; prec <= QUIRE_PRECISION_INT8; prec++) {
        float ref[N_TEXTS * 1024];
        char state[32], path[4200];
        int dims = 0;
        if (embed_with(prec, ref, state, sizeof state, &dims) != 0)
            return;
        T_CHECKF(dims <= 1024, "dims %d", dims);
        T_CHECKF(strcmp(state, "written") == 0, "first open: state %s", state);
        expect(prec, "hit", ref, "second open");
        T_CHECK(cache_file(prec, path, sizeof path) == 0);
        printf("  %s: %s\n", prec == QUIRE_PRECISION_INT8 ? "int8" : "bf16", path);

        corrupt(path, 100, 0); /* a flipped bit in the last layer's block */
        expect(prec, "written", ref, "after a flipped payload byte");
        expect(prec, "hit", ref, "after the rewrite");

        corrupt(path, 0, 1); /* truncated */
        expect(prec, "written", ref, "after truncation");
        expect(prec, "hit", ref, "after the rewrite");

        { /* another format version in the header (bytes 8..11) */
            size_t len = 0;
            char *d = t_read_file(path, &len);
            T_CHECK(d && len > 16);
            if (d) {
                d[8] ^= 0x7f;
                T_CHECK(t_write_file(path, d, len) == 0);
                free(d);
            }
        }
        expect(prec, "written", ref, "after a version change");

        { /* the model file changed (new mtime): the key differs */
            char st_path[1100];
            snprintf(st_path, sizeof st_path, "%s/model.safetensors", model_dir);
            struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000 + prec, 0}};
            T_CHECK(utimensat(AT_FDCWD, st_path, ts, 0) == 0);
        }
        expect(prec, "written", ref, "after the model's mtime changed");
        expect(prec, "hit", ref, "after the rewrite");
    }
}

static void test_cache_off_and_unusable(void)
{
    float ref[N_TEXTS * 1024];
    char state[32];
    int dims = 0;
    setenv("QUIRE_CACHE_DIR", "off", 1);
    if (embed_with(QUIRE_PRECISION_INT8, ref, state, sizeof state, &dims) != 0)
        return;
    T_CHECKF(strcmp(state, "off") == 0, "QUIRE_CACHE_DIR=off: state %s", state);
    /* a plain file where the folder should be: no cache, same vectors */
    char blocker[1200];
    snprintf(blocker, sizeof blocker, "%s/pc-blocker", t_tmpdir());
    T_CHECK(t_write_file(blocker, "x", 1) == 0);
    char sub[1300];
    snprintf(sub, sizeof sub, "%s/sub", blocker);
    setenv("QUIRE_CACHE_DIR", sub, 1);
    expect(QUIRE_PRECISION_INT8, "off", ref, "with an unusable cache folder");
    /* fp32 never uses the cache */
    setenv("QUIRE_CACHE_DIR", cache_dir, 1);
    float v[N_TEXTS * 1024];
    T_CHECK(embed_with(QUIRE_PRECISION_FP32, v, state, sizeof state, &dims) == 0);
    T_CHECKF(strcmp(state, "none") == 0, "fp32: state %s", state);
    unsetenv("QUIRE_CACHE_DIR");
}

int main(void)
{
    quire_init(QUIRE_VERSION_NUMBER, NULL);
    make_model();
    T_RUN(test_cache_roundtrip);
    T_RUN(test_cache_off_and_unusable);
    return t_done();
}
