/*
 * test_unigram.c — the SentencePiece Unigram tokenizer (src/text/unigram*.c,
 * charsmap.c) against the ids of the real Hugging Face `tokenizers` library:
 * every line of shared/models/tok-unigram/NAME.cases.jsonl on all three tokenizer.json
 * shapes of both models (nmt_nfkc and nfkc charsmaps), the golden ids of tiny-xlmr and
 * tiny-xlmr-bert through the model-folder loader; the limit (a long text is encoded
 * from growing prefixes: the result must equal the full encoding cut), invalid UTF-8,
 * refused tokenizer.json variants naming the field, and allocation failures.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testlib.h"
#include "text/text.h"

#define MAX_IDS 8192

static const char *shared_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/%s", t_shared(), rel);
    return p;
}

static qr_tok *load_json(const char *path)
{
    quire_error err = {0};
    qr_tok *tok = NULL;
    quire_status st = qr_tok_load_json(path, NULL, &tok, &err);
    T_CHECKF(st == QUIRE_OK, "load %s: %s", path, err.msg);
    return tok;
}

static int ids_equal(const int32_t *a, size_t na, const json_t *want)
{
    if (na != json_array_size(want))
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (a[i] != json_integer_value(json_array_get(want, i)))
            return 0;
    }
    return 1;
}

static void print_ids(const char *what, const int32_t *a, size_t n)
{
    printf("    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++)
        printf(" %d", a[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* Every line of a cases/golden file: field `field` must equal the ids of `text`
 * (max_tokens 0 = no limit). Returns the number of lines compared. */
static int check_file(const qr_tok *tok, const char *cases, const char *field, int max_tokens,
                      const char *what)
{
    char *data = t_read_file(cases, NULL);
    T_CHECKF(data != NULL, "cannot read %s", cases);
    if (!data)
        return 0;
    int n = 0, same = 0;
    static int32_t ids[MAX_IDS];
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &je);
        T_CHECKF(o != NULL, "%s: line %d: %s", cases, n + 1, je.text);
        if (!o)
            continue;
        const json_t *text = json_object_get(o, "text"), *want = json_object_get(o, field);
        T_CHECKF(json_is_string(text) && json_is_array(want), "%s: line %d: no text/%s", cases,
                 n + 1, field);
        size_t nids = 0;
        quire_error err = {0};
        quire_status st = qr_tok_encode(tok, json_string_value(text), json_string_length(text),
                                        max_tokens, 1, ids, MAX_IDS, &nids, &err);
        T_CHECKF(st == QUIRE_OK, "%s: line %d: %s", what, n + 1, err.msg);
        int ok = st == QUIRE_OK && ids_equal(ids, nids, want);
        same += ok;
        if (!ok) {
            t_fail(__FILE__, __LINE__, "%s: line %d (%.60s): ids differ", what, n + 1,
                   json_string_value(text));
            print_ids("got ", ids, nids);
            printf("    want:");
            for (size_t i = 0; i < json_array_size(want) && i < 40; i++)
                printf(" %lld", (long long)json_integer_value(json_array_get(want, i)));
            printf("\n");
        }
        /* counting only (no specials, no limit) agrees with the ids */
        if (max_tokens == 0 && ok) {
            size_t cnt = 0;
            st = qr_tok_encode(tok, json_string_value(text), json_string_length(text), 0, 0, NULL,
                               0, &cnt, &err);
            T_CHECKF(st == QUIRE_OK && cnt + 2 == nids, "%s: line %d: count %zu, ids %zu", what,
                     n + 1, cnt, nids);
        }
        n++;
        json_decref(o);
    }
    free(data);
    printf("  %s: %d/%d lines identical\n", what, same, n);
    return n;
}

static void test_golden_shapes(void)
{
    static const char *const models[] = {"xlmr-test", "ja-test"};
    static const char *const styles[] = {"A", "B", "C"};
    for (int m = 0; m < 2; m++) {
        char cases[256];
        snprintf(cases, sizeof cases, "models/tok-unigram/%s.cases.jsonl", models[m]);
        for (int s = 0; s < 3; s++) {
            char js[256], field[16], what[64];
            snprintf(js, sizeof js, "models/tok-unigram/%s.tokenizer-%s.json", models[m],
                     styles[s]);
            snprintf(field, sizeof field, "hf_%s", styles[s]);
            snprintf(what, sizeof what, "%s style %s", models[m], styles[s]);
            qr_tok *tok = load_json(shared_path(js));
            if (!tok)
                continue;
            T_EQ_INT(qr_tok_vocab_size(tok), m == 0 ? 1002 : 8002);
            T_EQ_INT(qr_tok_unk(tok), 3);
            T_EQ_INT(qr_tok_cls(tok), 0);
            T_EQ_INT(qr_tok_sep(tok), 2);
            T_EQ_INT(qr_tok_pad(tok), 1);
            int n = check_file(tok, shared_path(cases), field, 0, what);
            T_EQ_INT(n, 96);
            qr_tok_free(tok);
        }
    }
}

/* The hand-made fixture (tests/data/tok/unigram): a 12-key charsmap built by
 * make_small.py (multi-character key, deletion, full-width forms), ids from the
 * reference restatement unigram_ref.py. */
static void test_small_fixture(void)
{
    static const char *const styles[] = {"A", "B", "C"};
    for (int s = 0; s < 3; s++) {
        char js[1024], cases[1024], field[16], what[64];
        snprintf(js, sizeof js, "%s/tok/unigram/small.tokenizer-%s.json", t_testdata(),
                 styles[s]);
        snprintf(cases, sizeof cases, "%s/tok/unigram/small.cases.jsonl", t_testdata());
        snprintf(field, sizeof field, "hf_%s", styles[s]);
        snprintf(what, sizeof what, "small style %s", styles[s]);
        qr_tok *tok = load_json(js);
        if (!tok)
            continue;
        T_EQ_INT(check_file(tok, cases, field, 0, what), 22);
        qr_tok_free(tok);
    }
}

/* Metaspace prepend_scheme "first" prepends only to the piece at original offset 0:
 * with WhitespaceSplit, words are encoded one by one, so each expectation is built from
 * the same fixture with schemes "always" (that word gets the replacement) and "never". */
static qr_tok *small_scheme(const char *scheme)
{
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/tok/unigram/small.tokenizer-A.json", t_testdata());
    snprintf(dst, sizeof dst, "%s/small-%s.json", t_tmpdir(), scheme);
    json_t *root = json_load_file(src, 0, NULL);
    T_CHECK(root != NULL);
    if (!root)
        return NULL;
    json_t *ms = json_array_get(
        json_object_get(json_object_get(root, "pre_tokenizer"), "pretokenizers"), 1);
    json_object_del(ms, "add_prefix_space");
    json_object_set_new(ms, "prepend_scheme", json_string(scheme));
    T_EQ_INT(json_dump_file(root, dst, JSON_COMPACT), 0);
    json_decref(root);
    return load_json(dst);
}

static size_t pieces(const qr_tok *tok, const char *s, int32_t *ids)
{
    size_t n = 0;
    T_EQ_INT(qr_tok_encode(tok, s, strlen(s), 0, 0, ids, 64, &n, NULL), QUIRE_OK);
    return n;
}

static void test_prepend_first(void)
{
    qr_tok *first = small_scheme("first"), *always = small_scheme("always"),
           *never = small_scheme("never");
    if (!first || !always || !never)
        goto done;
    static const struct {
        const char *text;
        const char *with, *without; /* the words encoded with / without the prefix */
    } cases[] = {
        {"hello world", "hello", "world"},
        {"  hello", "", "hello"},      /* skipped whitespace: not at offset 0 */
        {"hello", "", "hello"},    /* a deleted leading control: not at offset 0 */
        {"<s>hello", "", "<s>hello"},  /* after an added token */
        {"fine", "fine", ""},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int32_t got[64], want[128], tmp[64];
        size_t ng = pieces(first, cases[c].text, got), nw = 0;
        if (*cases[c].with) {
            size_t k = pieces(always, cases[c].with, tmp);
            memcpy(want, tmp, k * sizeof(int32_t));
            nw += k;
        }
        if (*cases[c].without) {
            size_t k = pieces(never, cases[c].without, tmp);
            memcpy(want + nw, tmp, k * sizeof(int32_t));
            nw += k;
        }
        T_CHECKF(ng == nw && memcmp(got, want, ng * sizeof(int32_t)) == 0,
                 "prepend first: '%s': %zu ids, want %zu", cases[c].text, ng, nw);
    }
    /* and never differs from always where it should */
    int32_t a[64], b[64];
    T_CHECK(pieces(never, "hello", a) != pieces(always, "hello", b) || a[0] != b[0]);
done:
    qr_tok_free(first);
    qr_tok_free(always);
    qr_tok_free(never);
}

/* The model folders: tokenizer_config.json's BERT flags must not disturb a Unigram
 * tokenizer; goldens are cut to 512 ids. */
static void test_golden_models(void)
{
    static const char *const dirs[] = {"models/tiny-xlmr", "models/tiny-xlmr-bert"};
    for (int i = 0; i < 2; i++) {
        quire_error err = {0};
        qr_tok *tok = NULL;
        quire_status st = qr_tok_open_dir(shared_path(dirs[i]), &tok, &err);
        T_CHECKF(st == QUIRE_OK, "%s: %s", dirs[i], err.msg);
        if (st != QUIRE_OK)
            continue;
        char gp[256];
        snprintf(gp, sizeof gp, "%s/golden.jsonl", dirs[i]);
        int n = check_file(tok, shared_path(gp), "ids", 512, dirs[i]);
        T_EQ_INT(n, 96);
        qr_tok_free(tok);
    }
}

/* ------------------------------------------------------------ limits */

static size_t encode(const qr_tok *tok, const char *s, size_t len, int max_tokens, int32_t *ids,
                     size_t cap)
{
    size_t n = 0;
    quire_error err = {0};
    quire_status st = qr_tok_encode(tok, s, len, max_tokens, 1, ids, cap, &n, &err);
    T_CHECKF(st == QUIRE_OK, "encode: %s", err.msg);
    return n;
}

/* text built from fragments chosen to sit on the cut: runs of spaces, combining marks,
 * added tokens (also <mask>, which eats the whitespace on its left), CJK, emoji
 * sequences, controls, a word of 300 letters. */
static char *random_text(uint64_t *rng, size_t target, size_t *len)
{
    static const char *const frag[] = {
        "Hello", " ", "  ", "   ", "\t", "\n", "world", "e\xCC\x81", "\xC2\xA0\xCC\x88",
        "<s>", "</s>", " <mask>", "<pad>", "\xEF\xBC\x9C\xEF\xBD\x93\xEF\xBC\x9E",
        "\xE4\xBD\xA0\xE5\xA5\xBD", "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB",
        "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA", "\x01", "\xE2\x96\x81", "Stra\xC3\x9F" "e",
        "\xEF\xBD\xB6\xEF\xBE\x9E", "running", ".", ",", "\xE3\x80\x80",
        "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    size_t nf = sizeof(frag) / sizeof(frag[0]), cap = target + 512, n = 0;
    char *s = malloc(cap);
    while (n < target) {
        const char *f = frag[(size_t)(t_rand(rng) * (double)nf) % nf];
        size_t fl = strlen(f);
        memcpy(s + n, f, fl);
        n += fl;
    }
    s[n] = 0;
    *len = n;
    return s;
}

static void test_limits(void)
{
    static int32_t full[200000], cut[MAX_IDS];
    const char *const styles[] = {"models/tok-unigram/xlmr-test.tokenizer-A.json",
                                  "models/tok-unigram/xlmr-test.tokenizer-B.json",
                                  "models/tok-unigram/xlmr-test.tokenizer-C.json",
                                  "models/tok-unigram/ja-test.tokenizer-C.json"};
    uint64_t rng = 12345;
    int checked = 0;
    for (int s = 0; s < 4; s++) {
        qr_tok *tok = load_json(shared_path(styles[s]));
        if (!tok)
            continue;
        for (int rep = 0; rep < 6; rep++) {
            size_t len;
            char *text = random_text(&rng, 60000, &len);
            size_t nf = encode(tok, text, len, 0, full, sizeof(full) / sizeof(full[0]));
            T_CHECK(nf > 600 && nf < sizeof(full) / sizeof(full[0]));
            static const int limits[] = {2, 3, 7, 64, 255, 512, 2000};
            for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
                int lim = limits[k];
                size_t nc = encode(tok, text, len, lim, cut, MAX_IDS);
                T_EQ_INT(nc, (size_t)lim);
                int same = nc >= 2 && memcmp(cut, full, (nc - 1) * sizeof(int32_t)) == 0 &&
                           cut[nc - 1] == 2;
                T_CHECKF(same, "%s: text %d, limit %d: ids differ from the full encoding cut",
                         styles[s], rep, lim);
                checked++;
            }
            free(text);
        }
        /* no room for <s> and </s> */
        size_t n = 0;
        quire_error err = {0};
        T_EQ_INT(qr_tok_encode(tok, "abc", 3, 1, 1, cut, MAX_IDS, &n, &err), QUIRE_INVALID_ARG);
        /* max_tokens 2: only the frame */
        T_EQ_INT(encode(tok, "abc", 3, 2, cut, MAX_IDS), 2);
        T_CHECK(cut[0] == 0 && cut[1] == 2);
        /* empty text and whitespace only */
        T_EQ_INT(encode(tok, "", 0, 0, cut, MAX_IDS), 2);
        /* one very long word without spaces: the prefix trick cannot cut it, the result is
         * still the full encoding cut */
        size_t wl = 40000;
        char *w = malloc(wl);
        for (size_t i = 0; i < wl; i++)
            w[i] = "abcdefghij"[i % 7];
        size_t nfw = encode(tok, w, wl, 0, full, sizeof(full) / sizeof(full[0]));
        size_t ncw = encode(tok, w, wl, 100, cut, MAX_IDS);
        T_EQ_INT(ncw, 100);
        T_CHECK(nfw > 100 && memcmp(cut, full, 99 * sizeof(int32_t)) == 0 && cut[99] == 2);
        free(w);
        qr_tok_free(tok);
    }
    printf("  %d limited encodings equal to the full encoding cut\n", checked);
}

static void test_invalid_utf8(void)
{
    qr_tok *tok = load_json(shared_path("models/tok-unigram/xlmr-test.tokenizer-A.json"));
    if (!tok)
        return;
    int32_t a[64], b[64];
    static const char bad[] = "caf\xC3 ok \xFF\xFE end \xE2\x82";
    /* one U+FFFD per invalid byte, as qr_utf8_next reads them */
    static const char good[] = "caf\xEF\xBF\xBD ok \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD";
    size_t na = encode(tok, bad, sizeof(bad) - 1, 0, a, 64);
    size_t nb = encode(tok, good, sizeof(good) - 1, 0, b, 64);
    T_EQ_INT(na, nb);
    T_CHECK(na == nb && memcmp(a, b, na * sizeof(int32_t)) == 0);
    /* a NUL byte is a character like any other */
    size_t n0 = encode(tok, "a\0b", 3, 0, a, 64);
    T_CHECK(n0 >= 4);
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ refused files */

typedef void (*edit_fn)(json_t *root);

static json_t *norm_list(json_t *r) { return json_object_get(json_object_get(r, "normalizer"), "normalizers"); }
static void e_nfkc(json_t *r)
{
    json_array_insert_new(norm_list(r), 0, json_pack("{s:s}", "type", "NFKC"));
}
static void e_regex(json_t *r)
{
    json_object_set_new(json_object_get(json_array_get(norm_list(r), 1), "pattern"), "Regex",
                        json_string("\\s+"));
}
static void e_b64(json_t *r)
{
    json_object_set_new(json_array_get(norm_list(r), 0), "precompiled_charsmap",
                        json_string("AAA*"));
}
static void e_trie(json_t *r)
{
    /* trie size 0x7fffff00 in a 8-byte blob */
    json_object_set_new(json_array_get(norm_list(r), 0), "precompiled_charsmap",
                        json_string("AP///38AAAA="));
}
static void e_bytefb(json_t *r) { json_object_set_new(json_object_get(r, "model"), "byte_fallback", json_true()); }
static void e_unk(json_t *r) { json_object_set_new(json_object_get(r, "model"), "unk_id", json_null()); }
static void e_vocab(json_t *r)
{
    json_array_set_new(json_object_get(json_object_get(r, "model"), "vocab"), 5,
                       json_string("x"));
}
static void e_pretok(json_t *r)
{
    json_object_set_new(r, "pre_tokenizer", json_pack("{s:s}", "type", "ByteLevel"));
}
static void e_post(json_t *r)
{
    json_object_set_new(json_object_get(r, "post_processor"), "type", json_string("Weird"));
}
static void e_added(json_t *r)
{
    json_object_set_new(json_array_get(json_object_get(r, "added_tokens"), 4), "id",
                        json_integer(99999));
}

static void expect_refused(const char *name, edit_fn fn, quire_status code, const char *needle)
{
    json_error_t je;
    json_t *root = json_load_file(shared_path("models/tok-unigram/xlmr-test.tokenizer-B.json"), 0,
                                  &je);
    T_CHECKF(root != NULL, "load: %s", je.text);
    if (!root)
        return;
    fn(root);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", t_tmpdir(), name);
    T_EQ_INT(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);
    quire_error err = {0};
    qr_tok *tok = NULL;
    quire_status st = qr_tok_load_json(path, NULL, &tok, &err);
    T_CHECKF(st == code, "%s: status %d, want %d (%s)", name, st, code, err.msg);
    T_CHECKF(strstr(err.msg, needle) && strstr(err.msg, path), "%s: message '%s' lacks '%s'",
             name, err.msg, needle);
    T_CHECK(tok == NULL);
    qr_tok_free(tok);
}

static void test_refused(void)
{
    expect_refused("nfkc", e_nfkc, QUIRE_UNSUPPORTED, "normalizer.normalizers[0].type: \"NFKC\"");
    expect_refused("regex", e_regex, QUIRE_UNSUPPORTED, "normalizers[1].pattern.Regex");
    expect_refused("b64", e_b64, QUIRE_FORMAT, "precompiled_charsmap: not valid base64");
    expect_refused("trie", e_trie, QUIRE_FORMAT, "charsmap trie size");
    expect_refused("bytefb", e_bytefb, QUIRE_UNSUPPORTED, "model.byte_fallback");
    expect_refused("unk", e_unk, QUIRE_UNSUPPORTED, "model.unk_id");
    expect_refused("vocab", e_vocab, QUIRE_FORMAT, "model.vocab[5]");
    expect_refused("pretok", e_pretok, QUIRE_UNSUPPORTED, "pre_tokenizer.type: \"ByteLevel\"");
    expect_refused("post", e_post, QUIRE_UNSUPPORTED, "post_processor.type: \"Weird\"");
    expect_refused("added", e_added, QUIRE_UNSUPPORTED, "added_tokens[4].id");
}

/* ------------------------------------------------------------ fault injection */

static void test_alloc_failures(void)
{
    static const char text[] = "Hello, w\xC3\xB6rld! \xCE\x9F\xCE\x94 <mask> \xE6\x88\x91  x ";
    const char *path = shared_path("models/tok-unigram/xlmr-test.tokenizer-C.json");
    int n_fail = 0, done = 0;
    for (long nth = 1; nth < 2000 && !done; nth++) {
        quire_error err = {0};
        qr_tok *tok = NULL;
        int32_t ids[64];
        size_t n = 0;
        qr_alloc_fail_at(nth);
        quire_status st = qr_tok_load_json(path, NULL, &tok, &err);
        if (st == QUIRE_OK)
            st = qr_tok_encode(tok, text, sizeof(text) - 1, 64, 1, ids, 64, &n, &err);
        qr_alloc_fail_at(0);
        if (st == QUIRE_OK) {
            done = 1;
            T_CHECK(n > 5);
        } else {
            n_fail++;
            T_CHECKF(st == QUIRE_NOMEM && strstr(err.msg, "memory"), "N=%ld: status %d (%s)",
                     nth, st, err.msg);
        }
        qr_tok_free(tok);
    }
    T_CHECK(done);
    printf("  %d injected failures, all clean\n", n_fail);
}

int main(void)
{
    T_RUN(test_golden_shapes);
    T_RUN(test_golden_models);
    T_RUN(test_small_fixture);
    T_RUN(test_prepend_first);
    T_RUN(test_limits);
    T_RUN(test_invalid_utf8);
    T_RUN(test_refused);
    T_RUN(test_alloc_failures);
    return t_done();
}
