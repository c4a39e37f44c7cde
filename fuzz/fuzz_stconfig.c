/*
 * fuzz_stconfig.c — the sentence-transformers side files (src/embed/stconfig.c) on
 * arbitrary bytes: the input is split at the first two NUL bytes into modules.json, the
 * Pooling module's config.json (written to 1_Pooling/, the folder real models use) and
 * config_sentence_transformers.json. qr_st_read_modules and qr_st_read_prompts must
 * either refuse with a message or leave a known pooling mode, a 0/1 normalize flag and
 * prompts whose names and texts are strings, with the default prompt among them.
 */
#include "fuzz_common.h"

#include "embed/embed_int.h"

static void put(const char *dir, const char *name, const uint8_t *d, size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (d)
        fz_write(path, d, n);
    else
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        fz_quiet();
        snprintf(dir, sizeof dir, "%s", fz_tmpdir());
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
        mkdir(sub, 0755);
    }
    const uint8_t *part[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    size_t start = 0;
    for (int k = 0; k < 3; k++) {
        if (start > size)
            break;
        const uint8_t *nul = k < 2 ? memchr(data + start, 0, size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        part[k] = data + start;
        len[k] = end - start;
        start = end + 1;
        if (!nul)
            break;
    }
    put(dir, "modules.json", part[0], len[0]);
    put(dir, "1_Pooling/config.json", part[1], len[1]);
    put(dir, "config_sentence_transformers.json", part[2], len[2]);
    quire_model m;
    memset(&m, 0, sizeof m);
    quire_error err = {0, ""};
    quire_status st = qr_st_read_modules(&m, dir, &err);
    if (st == QUIRE_OK) {
        if (!strcmp(quire_pooling_name(m.pooling), "?") || (m.normalize != 0 && m.normalize != 1))
            abort();
        st = qr_st_read_prompts(&m, dir, &err);
    }
    if (st != QUIRE_OK && !err.msg[0])
        abort(); /* every refusal says why */
    if (st == QUIRE_OK) {
        for (int i = 0; i < m.n_prompts; i++)
            if (!m.prompt_names[i] || !m.prompt_texts[i] ||
                quire_model_prompt(&m, m.prompt_names[i]) == NULL)
                abort();
        if (m.default_prompt && !quire_model_prompt(&m, m.default_prompt))
            abort();
    }
    qr_st_free(&m);
    return 0;
}
