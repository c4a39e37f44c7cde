/*
 * fuzz_unigram.c — the SentencePiece Unigram tokenizer (src/text/unigram*.c, charsmap.c).
 * Byte 0 picks what the rest is (mod 3):
 *   0  a whole tokenizer.json  -> qr_tok_load_json, then encodes of a fixed text;
 *   1  a precompiled_charsmap blob, put base64-encoded into tests/data/tok/unigram's
 *      small.tokenizer-A.json -> load, encodes;
 *   2  a text for the small fixture tokenizer in style A/B/C (byte 0 / 3 % 3): the
 *      encode must succeed, ids lie in the vocabulary, <s> ... </s> frame them, counting
 *      only agrees, and an encode limited to 2..41 ids (byte 1) equals the full encoding
 *      cut to that size (the prefix logic of long texts).
 */
#include <jansson.h>

#include "fuzz_common.h"

#include "core/core.h"
#include "text/text.h"

static const char sample[] = "Hello, WORLD!  na\xc3\xafve caf\xc3\xa9 <s>x</s> <mask> \xef\xbc\x9c"
                             "\xef\xbd\x93\xef\xbc\x9e \t\n \xe6\x9d\xb1\xe4\xba\xac \xff\xfe "
                             "e\xcc\x81\xcc\x81 \xc2\xa0\xcc\x88  ";

static qr_tok *small[3];
static json_t *templ;
static char path[PATH_MAX];

static void init(void)
{
    fz_quiet();
    fz_path(path, sizeof path, "tokenizer.json");
    for (int s = 0; s < 3; s++) {
        char p[PATH_MAX], rel[64];
        snprintf(rel, sizeof rel, "tests/data/tok/unigram/small.tokenizer-%c.json", 'A' + s);
        fz_repo_path(p, sizeof p, rel);
        quire_error err = {0, ""};
        if (qr_tok_load_json(p, NULL, &small[s], &err) != QUIRE_OK) {
            fprintf(stderr, "fuzz_unigram: %s\n", err.msg);
            abort();
        }
        if (s == 0) {
            json_error_t je;
            templ = json_load_file(p, 0, &je);
            if (!templ)
                abort();
        }
    }
}

static void check_ids(const qr_tok *tok, const int32_t *ids, size_t n)
{
    int vs = qr_tok_vocab_size(tok);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vs || !qr_tok_piece(tok, ids[i]))
            abort();
    }
}

static void exercise(qr_tok *tok)
{
    int32_t ids[64];
    size_t n = 0;
    quire_error err = {0, ""};
    for (int special = 0; special <= 1; special++) {
        if (qr_tok_encode(tok, sample, sizeof sample - 1, 64, special, ids, 64, &n, &err) ==
            QUIRE_OK)
            check_ids(tok, ids, QR_MIN(n, (size_t)64));
    }
}

static char *b64(const uint8_t *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(4 * (n / 3 + 1) + 1), *p = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        *p++ = tab[v >> 18];
        *p++ = tab[(v >> 12) & 63];
        *p++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *p = 0;
    return o;
}

static void load_and_exercise(void)
{
    quire_error err = {0, ""};
    qr_tok *tok = NULL;
    if (qr_tok_load_json(path, NULL, &tok, &err) == QUIRE_OK) {
        exercise(tok);
        qr_tok_free(tok);
    } else if (tok) {
        abort(); /* a failed load leaves *out NULL */
    }
}

static void text_mode(const qr_tok *tok, const uint8_t *d, size_t n, int limit)
{
    static int32_t full[1 << 16], cut[64];
    size_t nf = 0, nc = 0, cnt = 0;
    quire_error err = {0, ""};
    const char *t = (const char *)d;
    if (qr_tok_encode(tok, t, n, 0, 1, full, 1 << 16, &nf, &err) != QUIRE_OK || nf < 2 ||
        nf > (1 << 16) || full[0] != 0 || full[nf - 1] != 2)
        abort();
    check_ids(tok, full, nf);
    if (qr_tok_encode(tok, t, n, 0, 0, NULL, 0, &cnt, &err) != QUIRE_OK || cnt + 2 != nf)
        abort();
    if (qr_tok_encode(tok, t, n, limit, 1, cut, 64, &nc, &err) != QUIRE_OK)
        abort();
    size_t want = nf < (size_t)limit ? nf : (size_t)limit;
    if (nc != want || cut[nc - 1] != 2 || memcmp(cut, full, (nc - 1) * sizeof(int32_t)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!small[0])
        init();
    if (size < 2)
        return 0;
    int mode = data[0] % 3;
    if (mode == 0) {
        fz_write(path, data + 1, size - 1);
        load_and_exercise();
    } else if (mode == 1) {
        json_t *root = json_deep_copy(templ);
        char *enc = b64(data + 1, size - 1);
        json_object_set_new(json_object_get(root, "normalizer"), "precompiled_charsmap",
                            json_string(enc));
        free(enc);
        if (json_dump_file(root, path, JSON_COMPACT) != 0)
            abort();
        json_decref(root);
        load_and_exercise();
    } else {
        text_mode(small[(data[0] / 3) % 3], data + 2, size - 2, 2 + data[1] % 40);
    }
    return 0;
}
