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

int main(void)
{
    T_RUN(test_pooling_path_lifetime);
    return t_done();
}
