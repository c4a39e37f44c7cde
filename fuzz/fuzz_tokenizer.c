/*
 * fuzz_tokenizer.c — the tokenizer loaders (src/text/tokjson.c, src/text/vocab.c) on
 * arbitrary bytes: the input is given both to qr_tok_load_json (as tokenizer.json) and
 * to qr_tok_load_vocab (as vocab.txt); a tokenizer that loads then encodes a fixed text
 * and every id it returns must be inside its vocabulary.
 */
#include "fuzz_common.h"

#include "core/core.h"
#include "text/text.h"

static const char sample[] = "Hello, WORLD! naïve café Straße 東京タワー ##ing [UNK] [CLS] "
                             "unaffable\tx\xcc\x81y \xff\xfe 12,345.67 e\xcc\x87\xcc\xa3";

static void exercise(qr_tok *tok)
{
    int32_t ids[64];
    size_t n = 0;
    quire_error err = {0, ""};
    int vs = qr_tok_vocab_size(tok);
    for (int special = 0; special <= 1; special++) {
        if (qr_tok_encode(tok, sample, sizeof sample - 1, 64, special, ids, 64, &n, &err) !=
            QUIRE_OK)
            continue;
        for (size_t i = 0; i < QR_MIN(n, (size_t)64); i++) {
            if (ids[i] < 0 || ids[i] >= vs || !qr_tok_piece(tok, ids[i]))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        fz_quiet();
        fz_path(path, sizeof path, "tokenizer.json");
    }
    fz_write(path, data, size);
    quire_error err = {0, ""};
    qr_tok *tok = NULL;
    if (qr_tok_load_json(path, NULL, &tok, &err) == QUIRE_OK) {
        exercise(tok);
        qr_tok_free(tok);
    }
    tok = NULL;
    qr_tok_opts o = qr_tok_default_opts();
    o.lowercase = size & 1; /* cased and uncased */
    if (qr_tok_load_vocab(path, &o, &tok, &err) == QUIRE_OK) {
        exercise(tok);
        qr_tok_free(tok);
    }
    return 0;
}
