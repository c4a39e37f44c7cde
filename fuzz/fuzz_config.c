/*
 * fuzz_config.c — the JSON side files of a model folder (src/embed/config.c) and the
 * tokenizer flags in tokenizer_config.json (src/text/tokjson.c).
 *
 * Input: byte 0 picks the file that gets the rest of the input (0 config.json,
 * 1 tokenizer_config.json, 2 sentence_bert_config.json, 3 modules.json,
 * 4 1_Pooling/config.json); the other files are tiny-bert's valid ones. Then
 * qr_model_read_configs (what quire_model_open does before the weights) and
 * qr_tok_open_dir (a 10-piece vocab.txt next to them) run on the folder.
 */
#include "fuzz_common.h"

#include "embed/embed_int.h"

static const char *const names[] = {"config.json", "tokenizer_config.json",
                                    "sentence_bert_config.json", "modules.json",
                                    "1_Pooling/config.json"};
#define N_FILES 5
static char *defaults[N_FILES];
static size_t default_len[N_FILES];
static char dir[PATH_MAX];

static void read_default(int i)
{
    char src[PATH_MAX];
    char rel[256];
    snprintf(rel, sizeof rel, "examples/tiny-bert/%s", names[i]);
    fz_repo_path(src, sizeof src, rel);
    FILE *f = fopen(src, "rb");
    if (!f) {
        perror(src);
        abort();
    }
    defaults[i] = malloc(1 << 16);
    default_len[i] = fread(defaults[i], 1, 1 << 16, f);
    fclose(f);
}

static void put(int i, const void *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    fz_write(path, data, len);
}

static void init(void)
{
    fz_quiet();
    fz_path(dir, sizeof dir, "model");
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sub, 0700) != 0) {
        perror(sub);
        abort();
    }
    for (int i = 0; i < N_FILES; i++) {
        read_default(i);
        put(i, defaults[i], default_len[i]);
    }
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nquick\n##ly\nfox\n.\n";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    fz_write(path, vocab, sizeof vocab - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        init();
    if (size < 1)
        return 0;
    int which = data[0] % N_FILES;
    put(which, data + 1, size - 1);

    struct quire_model m;
    memset(&m, 0, sizeof m);
    quire_model_params p = quire_model_default_params();
    quire_error err = {0, ""};
    if (qr_model_read_configs(&m, dir, &p, &err) == QUIRE_OK) {
        /* what the forward pass relies on */
        if (m.hidden % m.n_heads != 0 || m.max_tokens < 1 || m.max_tokens > m.max_pos ||
            m.pooling < QUIRE_POOLING_MEAN || m.pooling > QUIRE_POOLING_WEIGHTEDMEAN)
            abort();
    }
    qr_tok *tok = NULL;
    if (qr_tok_open_dir(dir, &tok, &err) == QUIRE_OK) {
        int32_t ids[16];
        size_t n = 0;
        qr_tok_encode(tok, "The quickly fox.", 16, 16, 1, ids, 16, &n, &err);
        qr_tok_free(tok);
    }
    put(which, defaults[which], default_len[which]);
    return 0;
}
