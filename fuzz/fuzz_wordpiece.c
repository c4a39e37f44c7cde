/*
 * fuzz_wordpiece.c — qr_tok_encode (src/text/wordpiece.c, unicode.c) on arbitrary bytes
 * with the BERT uncased vocabulary of examples/tiny-bert (loaded once, in four flag
 * combinations). Input: byte 0 = flags (bits 0-1 pick the tokenizer, bit 2 add_special,
 * bits 3-7 the token limit), the rest is the text. Checks: the call succeeds, the ids
 * are in the vocabulary, [CLS] ... [SEP] framing, the limit and the cap are respected.
 */
#include "fuzz_common.h"

#include "core/core.h"
#include "text/text.h"

static qr_tok *toks[4];

static void init(void)
{
    fz_quiet();
    char vocab[PATH_MAX];
    const char *env = getenv("QUIRE_FUZZ_VOCAB");
    if (env && *env)
        snprintf(vocab, sizeof vocab, "%s", env);
    else
        fz_repo_path(vocab, sizeof vocab, "examples/tiny-bert/vocab.txt");
    for (int i = 0; i < 4; i++) {
        qr_tok_opts o = qr_tok_default_opts();
        o.lowercase = !(i & 1);       /* uncased, cased */
        o.strip_accents = i & 2 ? 0 : -1;
        o.tokenize_cjk = !(i & 2);
        quire_error err = {0, ""};
        if (qr_tok_load_vocab(vocab, &o, &toks[i], &err) != QUIRE_OK) {
            fprintf(stderr, "fuzz_wordpiece: %s\n", err.msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!toks[0])
        init();
    if (size < 1)
        return 0;
    const qr_tok *tok = toks[data[0] & 3];
    int special = (data[0] >> 2) & 1;
    int limit = data[0] >> 3; /* 0 = no limit, else 2..33 */
    int max_tokens = limit ? limit + 1 : 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    enum { CAP = 64 };
    int32_t ids[CAP];
    size_t n = 0;
    quire_error err = {0, ""};
    quire_status rc = qr_tok_encode(tok, text, len, max_tokens, special, ids, CAP, &n, &err);
    if (rc != QUIRE_OK)
        abort(); /* any bytes are valid input */
    if (max_tokens > 0 && n > (size_t)max_tokens)
        abort();
    int vs = qr_tok_vocab_size(tok);
    for (size_t i = 0; i < QR_MIN(n, (size_t)CAP); i++)
        if (ids[i] < 0 || ids[i] >= vs)
            abort();
    if (special && (n < 2 || ids[0] != qr_tok_cls(tok) ||
                    (n <= CAP && ids[n - 1] != qr_tok_sep(tok))))
        abort();
    /* counting only (ids NULL, cap 0) gives the same count */
    size_t n2 = 0;
    if (qr_tok_encode(tok, text, len, max_tokens, special, NULL, 0, &n2, &err) != QUIRE_OK ||
        n2 != n)
        abort();
    return 0;
}
