/*
 * test_text.c — unit tests for src/text, the WordPiece tokenizer: the 47 Hugging Face
 * cases and the golden ids of the shared models, the tokenizer.json path against the
 * vocab.txt path, hand-checked cased / accent / Final_Sigma cases on a small fixture
 * vocabulary, edge cases (limits, invalid UTF-8, control characters, whitespace),
 * corrupt files, threads, and allocation fault injection.
 *
 * Shared data: t_shared()/models; fixtures: t_testdata()/tok (README.md there).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "testlib.h"
#include "text/text.h"

#define MAX_IDS 4096

static char *shared_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/%s", t_shared(), rel);
    return p;
}

static char *data_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/tok/%s", t_testdata(), rel);
    return p;
}

static char *tmp_path(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/%s", t_tmpdir(), rel);
    return p;
}

/* Load a vocab.txt with lowercase/strip flags (-1 = default); NULL on failure. */
static qr_tok *load_vocab(const char *path, int lowercase, int strip)
{
    qr_tok_opts o = qr_tok_default_opts();
    if (lowercase >= 0)
        o.lowercase = lowercase;
    o.strip_accents = strip;
    quire_error err = {0};
    qr_tok *tok = NULL;
    quire_status st = qr_tok_load_vocab(path, &o, &tok, &err);
    T_CHECKF(st == QUIRE_OK && tok, "load %s: %s", path, err.msg);
    return tok;
}

static qr_tok *bert_vocab(void) { return load_vocab(shared_path("models/vocab.txt"), -1, -1); }

/* Encode without special tokens and without limit into ids; returns the count. */
static size_t enc_plain(const qr_tok *tok, const char *text, size_t len, int32_t *ids)
{
    size_t n = 0;
    quire_error err = {0};
    quire_status st = qr_tok_encode(tok, text, len, 0, 0, ids, MAX_IDS, &n, &err);
    T_CHECKF(st == QUIRE_OK, "encode: %s", err.msg);
    return n;
}

/* Check that text encodes (no specials) to exactly want[0..n_want). */
static void expect_ids(const qr_tok *tok, const char *text, const int32_t *want, size_t n_want)
{
    int32_t ids[MAX_IDS];
    size_t n = enc_plain(tok, text, strlen(text), ids);
    int same = n == n_want;
    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    if (!same) {
        char got[256] = "", exp[256] = "";
        for (size_t i = 0; i < n && i < 16; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), " %d", ids[i]);
        for (size_t i = 0; i < n_want && i < 16; i++)
            snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), " %d", want[i]);
        T_CHECKF(0, "'%s': got [%s ] want [%s ]", text, got, exp);
    }
}
#define EXPECT(tok, text, ...)                                                   \
    do {                                                                         \
        static const int32_t want_[] = {__VA_ARGS__};                            \
        expect_ids((tok), (text), want_, sizeof(want_) / sizeof(want_[0]));      \
    } while (0)
#define EXPECT_NONE(tok, text) expect_ids((tok), (text), NULL, 0)

/* Two encodings (no specials, no limit) are identical. */
static int same_encoding(const qr_tok *tok, const char *a, size_t na, const char *b, size_t nb)
{
    int32_t ia[MAX_IDS], ib[MAX_IDS];
    size_t n1 = enc_plain(tok, a, na, ia), n2 = enc_plain(tok, b, nb, ib);
    return n1 == n2 && memcmp(ia, ib, n1 * sizeof(int32_t)) == 0;
}

/* ------------------------------------------------------------ HF test vectors */

/* Run every case of bert-bge.{inp,out}; returns the number that matched. */
static int run_bge_cases(const qr_tok *tok, int *n_cases)
{
    char *inp = t_read_file(shared_path("models/tokenizer_tests/bert-bge.inp"), NULL);
    char *out = t_read_file(shared_path("models/tokenizer_tests/bert-bge.out"), NULL);
    T_CHECK(inp && out);
    *n_cases = 0;
    if (!inp || !out) {
        free(inp);
        free(out);
        return 0;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *text = inp, *line = out;
    int ok = 0;
    /* like Python's split(): the text after the last separator is a case too (here
     * the empty one), paired with the empty line after the final newline */
    for (int last = 0; !last;) {
        char *end = strstr(text, sep);
        last = end == NULL;
        size_t len = last ? strlen(text) : (size_t)(end - text);
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        int32_t want[MAX_IDS], ids[MAX_IDS];
        size_t n_want = 0;
        for (char *p = line, *q; n_want < MAX_IDS; p = q) {
            long v = strtol(p, &q, 10);
            if (q == p)
                break;
            want[n_want++] = (int32_t)v;
        }
        size_t n = enc_plain(tok, text, len, ids);
        int same = n == n_want && memcmp(ids, want, n * sizeof(int32_t)) == 0;
        T_CHECKF(same, "case %d '%.30s': %zu ids, want %zu", *n_cases, text, n, n_want);
        ok += same;
        (*n_cases)++;
        text = last ? text + len : end + strlen(sep);
        line = eol ? eol + 1 : line + strlen(line);
    }
    free(inp);
    free(out);
    return ok;
}

static void test_hf_cases(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    T_EQ_INT(qr_tok_vocab_size(tok), 30522);
    T_EQ_INT(qr_tok_cls(tok), 101);
    T_EQ_INT(qr_tok_sep(tok), 102);
    T_EQ_INT(qr_tok_unk(tok), 100);
    T_EQ_INT(qr_tok_pad(tok), 0);
    int n = 0, ok = run_bge_cases(tok, &n);
    printf("  bert-bge: %d/%d cases identical\n", ok, n);
    T_EQ_INT(n, 47);
    T_EQ_INT(ok, 47);
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ golden jsonl */

static void check_golden(const qr_tok *tok, const char *jsonl, const char *name)
{
    char *data = t_read_file(jsonl, NULL);
    T_CHECKF(data != NULL, "cannot read %s", jsonl);
    if (!data)
        return;
    int n = 0, ok = 0;
    for (char *line = data, *eol; *line; line = eol ? eol + 1 : line + strlen(line)) {
        eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        if (!*line)
            continue;
        json_error_t jerr;
        json_t *obj = json_loads(line, 0, &jerr);
        T_CHECKF(obj != NULL, "%s line %d: %s", name, n + 1, jerr.text);
        if (!obj)
            continue;
        json_t *text = json_object_get(obj, "text"), *want = json_object_get(obj, "ids");
        int32_t ids[600];
        size_t n_ids = 0;
        quire_error err = {0};
        quire_status st = qr_tok_encode(tok, json_string_value(text), json_string_length(text),
                                        512, 1, ids, 600, &n_ids, &err);
        int same = st == QUIRE_OK && n_ids == json_array_size(want);
        for (size_t i = 0; same && i < n_ids; i++)
            same = ids[i] == json_integer_value(json_array_get(want, i));
        T_CHECKF(same, "%s line %d ('%.30s'): %zu ids, want %zu", name, n + 1,
                 json_string_value(text), n_ids, json_array_size(want));
        ok += same;
        n++;
        json_decref(obj);
    }
    printf("  %s: %d/%d golden lines identical\n", name, ok, n);
    T_CHECK(n >= 50);
    free(data);
}

static void test_golden_tiny(void)
{
    /* the folder path: vocab.txt + tokenizer_config.json (do_lower_case true) */
    qr_tok *tok = NULL;
    quire_error err = {0};
    quire_status st = qr_tok_open_dir(shared_path("models/tiny"), &tok, &err);
    T_CHECKF(st == QUIRE_OK, "open tiny: %s", err.msg);
    if (!tok)
        return;
    qr_tok_opts o;
    qr_tok_get_opts(tok, &o);
    T_EQ_INT(o.lowercase, 1);
    T_EQ_INT(o.strip_accents, 1);
    T_EQ_INT(o.tokenize_cjk, 1);
    check_golden(tok, shared_path("models/tiny/golden.jsonl"), "tiny");
    qr_tok_free(tok);
}

static void test_golden_minilm(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    check_golden(tok, shared_path("models/minilm-random/golden.jsonl"), "minilm-random");
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ tokenizer.json */

/* A tokenizer.json in Hugging Face's layout, built from a vocab.txt. lowercase: 1/0;
 * strip: -1 = null; seq: wrap the normalizer in a Sequence. Returns 0 on success. */
static int write_tokenizer_json(const char *vocab_txt, const char *out, int lowercase, int strip,
                                int max_chars, int seq)
{
    char *data = t_read_file(vocab_txt, NULL);
    if (!data)
        return -1;
    json_t *vocab = json_object();
    int id = 0;
    for (char *line = data, *eol; *line; line = eol + 1, id++) {
        eol = strchr(line, '\n');
        if (!eol)
            break;
        *eol = '\0';
        json_object_set_new(vocab, line, json_integer(id));
    }
    free(data);
    json_t *added = json_array();
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < 5; i++) {
        json_array_append_new(
            added, json_pack("{s:I,s:s,s:b,s:b,s:b,s:b,s:b}", "id",
                             json_integer_value(json_object_get(vocab, specials[i])), "content",
                             specials[i], "single_word", 0, "lstrip", 0, "rstrip", 0,
                             "normalized", 0, "special", 1));
    }
    json_t *norm = json_pack("{s:s,s:b,s:b,s:o,s:b}", "type", "BertNormalizer", "clean_text", 1,
                             "handle_chinese_chars", 1, "strip_accents",
                             strip < 0 ? json_null() : json_boolean(strip), "lowercase",
                             lowercase);
    if (seq)
        norm = json_pack("{s:s,s:[o]}", "type", "Sequence", "normalizers", norm);
    json_int_t cls = json_integer_value(json_object_get(vocab, "[CLS]"));
    json_int_t sep = json_integer_value(json_object_get(vocab, "[SEP]"));
    json_t *post = json_pack(
        "{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}}],"
        "s:[{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}}],"
        "s:{s:{s:s,s:[I],s:[s]},s:{s:s,s:[I],s:[s]}}}",
        "type", "TemplateProcessing", "single", "SpecialToken", "id", "[CLS]", "type_id", 0,
        "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", "[SEP]", "type_id", 0, "pair",
        "SpecialToken", "id", "[CLS]", "type_id", 0, "Sequence", "id", "A", "type_id", 0,
        "SpecialToken", "id", "[SEP]", "type_id", 0, "Sequence", "id", "B", "type_id", 1,
        "SpecialToken", "id", "[SEP]", "type_id", 1, "special_tokens", "[CLS]", "id", "[CLS]",
        "ids", cls, "tokens", "[CLS]", "[SEP]", "id", "[SEP]", "ids", sep, "tokens", "[SEP]");
    json_t *root = json_pack(
        "{s:s,s:n,s:n,s:o,s:o,s:{s:s},s:o,s:{s:s,s:s,s:b},"
        "s:{s:s,s:s,s:s,s:i,s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer", norm,
        "pre_tokenizer", "type", "BertPreTokenizer", "post_processor", post, "decoder", "type",
        "WordPiece", "prefix", "##", "cleanup", 1, "model", "type", "WordPiece", "unk_token",
        "[UNK]", "continuing_subword_prefix", "##", "max_input_chars_per_word", max_chars,
        "vocab", vocab);
    int rc = root ? json_dump_file(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
    json_decref(root);
    return rc;
}

static qr_tok *load_json(const char *path, const qr_tok_opts *opts)
{
    qr_tok *tok = NULL;
    quire_error err = {0};
    quire_status st = qr_tok_load_json(path, opts, &tok, &err);
    T_CHECKF(st == QUIRE_OK, "load %s: %s", path, err.msg);
    return tok;
}

static void test_tokenizer_json(void)
{
    const char *vocab = shared_path("models/vocab.txt");
    T_EQ_INT(write_tokenizer_json(vocab, tmp_path("tokenizer.json"), 1, -1, 100, 0), 0);
    T_EQ_INT(write_tokenizer_json(vocab, tmp_path("seq.json"), 1, -1, 100, 1), 0);
    qr_tok *a = bert_vocab();
    qr_tok *b = load_json(tmp_path("tokenizer.json"), NULL);
    qr_tok *c = load_json(tmp_path("seq.json"), NULL);
    if (!a || !b || !c)
        goto done;
    T_EQ_INT(qr_tok_vocab_size(b), 30522);
    T_EQ_INT(qr_tok_cls(b), 101);
    T_EQ_INT(qr_tok_sep(b), 102);
    T_EQ_INT(qr_tok_unk(b), 100);
    for (int id = 0; id < qr_tok_vocab_size(a); id += 97)
        T_CHECKF(strcmp(qr_tok_piece(a, id), qr_tok_piece(b, id)) == 0, "piece %d", id);
    int n = 0;
    T_EQ_INT(run_bge_cases(b, &n), 47);
    T_EQ_INT(run_bge_cases(c, &n), 47);
    static const char *const extra[] = {"Ünïcödé ΟΔΟΣ 한국어 日本語 naïve café", "a\xc2\xa0" "b\r\nc"};
    for (size_t i = 0; i < 2; i++) {
        T_CHECKF(same_encoding(a, extra[i], strlen(extra[i]), extra[i], strlen(extra[i])), "a");
        int32_t ia[MAX_IDS], ib[MAX_IDS];
        size_t na = enc_plain(a, extra[i], strlen(extra[i]), ia);
        size_t nb = enc_plain(b, extra[i], strlen(extra[i]), ib);
        T_CHECK(na == nb && memcmp(ia, ib, na * sizeof(int32_t)) == 0);
    }
done:
    qr_tok_free(a);
    qr_tok_free(b);
    qr_tok_free(c);
}

/* Cased behaviour through tokenizer.json (lowercase false), on the real vocabulary:
 * it has no capital letters, so capitalised words become [UNK]. */
static void test_tokenizer_json_cased(void)
{
    const char *path = tmp_path("cased.json");
    T_EQ_INT(write_tokenizer_json(shared_path("models/vocab.txt"), path, 0, -1, 100, 0), 0);
    qr_tok *tok = load_json(path, NULL);
    if (!tok)
        return;
    qr_tok_opts o;
    qr_tok_get_opts(tok, &o);
    T_EQ_INT(o.lowercase, 0);
    T_EQ_INT(o.strip_accents, 0);
    EXPECT(tok, "hello World!", 7592, 100, 999); /* hello [UNK] ! */
    EXPECT(tok, "Hello world", 100, 2088);       /* [UNK] world */
    EXPECT(tok, "café", 100);                    /* é is not in an uncased vocabulary */
    EXPECT(tok, "ς σ", 1172, 1173);
    EXPECT(tok, "Σ", 100);
    EXPECT(tok, "1,000.5$", 1015, 1010, 2199, 1012, 1019, 1002);
    /* opts override the file: lowercase on again gives the uncased ids */
    qr_tok_opts on = {1, -1, -1};
    qr_tok *up = load_json(path, &on);
    if (up) {
        EXPECT(up, "Hello World!", 7592, 2088, 999);
        EXPECT(up, "café", 7668);
    }
    qr_tok_free(up);
    qr_tok_free(tok);
}

/* Hand-checked cases on tests/data/tok/cased/vocab.txt (ids = line numbers - 1; see
 * README.md there): cased, uncased, and each strip_accents setting. */
static void test_small_vocab_flags(void)
{
    const char *v = data_path("cased/vocab.txt");
    qr_tok *cased = load_vocab(v, 0, -1), *unc = load_vocab(v, 1, -1);
    qr_tok *low_keep = load_vocab(v, 1, 0), *strip_only = load_vocab(v, 0, 1);
    if (!cased || !unc || !low_keep || !strip_only)
        goto done;
    EXPECT(cased, "Hello World!", 5, 7, 9);
    EXPECT(cased, "hello worlds", 6, 8, 10);
    EXPECT(cased, "Café", 11, 12);
    EXPECT(cased, "naïve", 14);
    EXPECT(cased, "nai\xcc\x88ve", 1); /* decomposed ï: no NFC, so no match */
    EXPECT(cased, "Σ σ ς", 15, 16, 17);
    EXPECT(cased, "日本", 31, 1); /* each ideograph is a word */
    EXPECT(cased, "unaffable", 28, 29, 30);
    EXPECT(unc, "Hello World!", 6, 8, 9);
    EXPECT(unc, "CAFE Café", 27, 27);
    EXPECT(unc, "AΣ", 18, 19);      /* final sigma: a ##ς */
    EXPECT(unc, "AΣA", 18, 20, 21); /* not final: a ##σ ##a */
    EXPECT(unc, "AΣ.", 18, 19, 22); /* '.' is case-ignorable: still final */
    EXPECT(unc, "Σ", 16);           /* nothing cased before it: σ */
    EXPECT(unc, "\xc4\xb0", 23);    /* İ -> i + U+0307 -> i */
    EXPECT(low_keep, "\xc4\xb0", 23, 24); /* i ##U+0307 */
    EXPECT(low_keep, "Café", 26, 12);     /* caf ##é */
    EXPECT(strip_only, "Café", 11, 13);   /* Caf ##e */
    /* NFD sorts marks by combining class: U+1D16D (226) after U+1D165 (216); both are
     * Mc, so they stay and the order decides the piece */
    EXPECT(unc, "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", 32, 33);
    EXPECT(cased, "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", 1); /* no NFD: no match */
    /* the same vocabulary with CRLF line ends and no final newline */
    qr_tok *crlf = load_vocab(data_path("crlf/vocab.txt"), 0, -1);
    if (crlf) {
        T_EQ_INT(qr_tok_vocab_size(crlf), 34);
        for (int id = 0; id < 34; id++)
            T_CHECKF(strcmp(qr_tok_piece(crlf, id), qr_tok_piece(cased, id)) == 0, "id %d", id);
        EXPECT(crlf, "Hello World! 日", 5, 7, 9, 31);
        T_EQ_INT(qr_tok_lookup(crlf, "\xe6\x97\xa5", 3), 31);
    }
    qr_tok_free(crlf);
done:
    qr_tok_free(cased);
    qr_tok_free(unc);
    qr_tok_free(low_keep);
    qr_tok_free(strip_only);
}

/* Folders: tokenizer.json preferred, tokenizer_config.json flags, missing files. */
static void test_open_dir(void)
{
    quire_error err = {0};
    qr_tok *tok = NULL;
    /* minilm-random has tokenizer_config.json but no vocabulary */
    quire_status st = qr_tok_open_dir(shared_path("models/minilm-random"), &tok, &err);
    T_EQ_INT(st, QUIRE_NOT_FOUND);
    T_CHECK(tok == NULL);
    T_CHECKF(strstr(err.msg, "minilm-random") && strstr(err.msg, "tokenizer.json") &&
                 strstr(err.msg, "vocab.txt"), "msg '%s'", err.msg);
    st = qr_tok_open_dir(tmp_path("no-such-folder"), &tok, &err);
    T_EQ_INT(st, QUIRE_NOT_FOUND);
    /* tokenizer.json (lowercase true) + tokenizer_config.json do_lower_case false:
     * transformers applies the config's flags over the normalizer */
    const char *dir = tmp_path("dir-json");
    char p[1024];
    mkdir(dir, 0755);
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    T_EQ_INT(write_tokenizer_json(shared_path("models/vocab.txt"), p, 1, -1, 100, 0), 0);
    tok = NULL;
    st = qr_tok_open_dir(dir, &tok, &err);
    T_CHECKF(st == QUIRE_OK, "open %s: %s", dir, err.msg);
    if (tok)
        EXPECT(tok, "Hello World!", 7592, 2088, 999);
    qr_tok_free(tok);
    snprintf(p, sizeof(p), "%s/tokenizer_config.json", dir);
    static const char cfg[] = "{\"do_lower_case\": false, \"strip_accents\": null,\n"
                              " \"cls_token\": {\"content\": \"[CLS]\"}}\n";
    T_EQ_INT(t_write_file(p, cfg, sizeof(cfg) - 1), 0);
    tok = NULL;
    st = qr_tok_open_dir(dir, &tok, &err);
    T_CHECKF(st == QUIRE_OK, "open %s: %s", dir, err.msg);
    if (tok)
        EXPECT(tok, "Hello World!", 100, 100, 999);
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ edge cases */

static void test_empty_and_specials(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    int32_t ids[8] = {-7, -7, -7, -7, -7, -7, -7, -7};
    size_t n = 99;
    T_EQ_INT(qr_tok_encode(tok, "", 0, 256, 1, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2);
    T_EQ_INT(ids[0], 101);
    T_EQ_INT(ids[1], 102);
    T_EQ_INT(qr_tok_encode(tok, NULL, 0, 256, 1, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2);
    T_EQ_INT(qr_tok_encode(tok, " \t\r\n\x01\x7f", 6, 256, 1, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2);
    T_EQ_INT(qr_tok_encode(tok, "", 0, 0, 0, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 0);
    /* max_tokens 2 leaves room for nothing but [CLS] [SEP]; 1 is an error */
    T_EQ_INT(qr_tok_encode(tok, "hello world", 11, 2, 1, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2);
    T_EQ_INT(ids[1], 102);
    quire_error err = {0};
    T_EQ_INT(qr_tok_encode(tok, "hello", 5, 1, 1, ids, 8, &n, &err), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_tok_encode(NULL, "hello", 5, 8, 1, ids, 8, &n, &err), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_tok_encode(tok, "hello", 5, 8, 1, NULL, 8, &n, &err), QUIRE_INVALID_ARG);
    /* without specials max_tokens caps the pieces */
    T_EQ_INT(qr_tok_encode(tok, "hello world !", 13, 2, 0, ids, 8, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2);
    T_EQ_INT(ids[0], 7592);
    T_EQ_INT(ids[1], 2088);
    /* cap smaller than the result: n reports everything, only cap ids are written */
    for (int i = 0; i < 8; i++)
        ids[i] = -7;
    T_EQ_INT(qr_tok_encode(tok, "hello world !", 13, 256, 1, ids, 3, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 5);
    T_EQ_INT(ids[0], 101);
    T_EQ_INT(ids[1], 7592);
    T_EQ_INT(ids[2], 2088);
    T_EQ_INT(ids[3], -7);
    T_EQ_INT(qr_tok_encode(tok, "hello world !", 13, 256, 1, NULL, 0, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 5);
    /* literal special-token text is plain text */
    EXPECT(tok, "[CLS]", 1031, 18856, 2015, 1033);
    /* accessors on bad input */
    T_EQ_INT(qr_tok_lookup(tok, "hello", 5), 7592);
    T_EQ_INT(qr_tok_lookup(tok, "hellox", 6), -1);
    T_CHECK(qr_tok_piece(tok, -1) == NULL);
    T_CHECK(qr_tok_piece(tok, 30522) == NULL);
    T_CHECK(strcmp(qr_tok_piece(tok, 7592), "hello") == 0);
    T_EQ_INT(qr_tok_vocab_size(NULL), 0);
    qr_tok_free(NULL);
    qr_tok_free(tok);
}

/* A repeated "hello world " of len bytes; caller frees. */
static char *repeat_text(size_t len)
{
    char *s = malloc(len + 1);
    for (size_t i = 0; s && i < len; i++)
        s[i] = "hello world "[i % 12];
    if (s)
        s[len] = '\0';
    return s;
}

static void test_long_lines(void)
{
    qr_tok *tok = bert_vocab();
    char *s = repeat_text((size_t)10 << 20);
    if (!tok || !s)
        goto done;
    static int32_t ids[300];
    size_t n = 0;
    static const size_t lens[] = {10000, 1 << 20, (size_t)10 << 20};
    for (size_t k = 0; k < 3; k++) {
        double t0 = qr_now();
        T_EQ_INT(qr_tok_encode(tok, s, lens[k], 256, 1, ids, 300, &n, NULL), QUIRE_OK);
        double dt = qr_now() - t0;
        T_EQ_INT(n, 256);
        T_EQ_INT(ids[0], 101);
        T_EQ_INT(ids[255], 102);
        T_EQ_INT(ids[1], 7592);
        T_EQ_INT(ids[2], 2088);
        T_EQ_INT(ids[254], 2088);
        /* early stop: the work is 254 pieces whatever the length (a full pass over
         * 10 MB takes ~100 ms; this is a wide margin, not a benchmark) */
        T_CHECKF(dt < 0.05, "%zu bytes took %.3f s", lens[k], dt);
    }
    /* no limit: the full count comes back, only cap ids are written */
    T_EQ_INT(qr_tok_encode(tok, s, 1 << 20, 0, 1, ids, 300, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 2 + ((1 << 20) / 12) * 2 + 1); /* 1048576 = 87381 * 12 + 4: "hell" */
    /* one 1 MB word: a single [UNK], found in one linear pass */
    memset(s, 'a', 1 << 20);
    T_EQ_INT(qr_tok_encode(tok, s, 1 << 20, 256, 1, ids, 300, &n, NULL), QUIRE_OK);
    T_EQ_INT(n, 3);
    T_EQ_INT(ids[1], 100);
done:
    free(s);
    qr_tok_free(tok);
}

static void test_word_length(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    char w[512];
    int32_t ids[MAX_IDS];
    memset(w, 'x', 101);
    T_EQ_INT(enc_plain(tok, w, 101, ids), 1);
    T_EQ_INT(ids[0], 100);
    size_t n = enc_plain(tok, w, 100, ids); /* exactly 100: xx ##xx * 49 */
    T_EQ_INT(n, 50);
    T_EQ_INT(ids[0], 22038);
    T_EQ_INT(ids[49], 20348);
    /* the limit counts characters after normalization, not bytes: é is 2 bytes */
    for (int i = 0; i < 101; i++)
        memcpy(w + 2 * i, "\xc3\xa9", 2);
    T_EQ_INT(enc_plain(tok, w, 200, ids), 50); /* ee ##ee * 49 */
    T_EQ_INT(ids[0], 25212);
    T_EQ_INT(enc_plain(tok, w, 202, ids), 1);
    T_EQ_INT(ids[0], 100);
    /* punctuation ends a word: 101 x's split by a dot are two normal words */
    memset(w, 'x', 201);
    w[100] = '.';
    n = enc_plain(tok, w, 201, ids);
    T_EQ_INT(n, 101);
    T_EQ_INT(ids[50], 1012);
    qr_tok_free(tok);
    /* max_input_chars_per_word from tokenizer.json (200: scratch on the heap) */
    const char *js = tmp_path("max200.json");
    T_EQ_INT(write_tokenizer_json(shared_path("models/vocab.txt"), js, 1, -1, 200, 0), 0);
    tok = load_json(js, NULL);
    if (!tok)
        return;
    memset(w, 'x', 201);
    T_EQ_INT(enc_plain(tok, w, 200, ids), 100); /* xx ##xx * 99 */
    T_EQ_INT(enc_plain(tok, w, 201, ids), 1);
    T_EQ_INT(ids[0], 100);
    qr_tok_free(tok);
}

static void test_whitespace_and_controls(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    EXPECT(tok, "hello world", 7592, 2088);
    EXPECT(tok, "hello\r\nworld\r\n", 7592, 2088);
    EXPECT(tok, "hello\xc2\xa0world", 7592, 2088);     /* NBSP (Zs) */
    EXPECT(tok, "hello\xe3\x80\x80world", 7592, 2088); /* ideographic space */
    EXPECT(tok, "hello\xe2\x80\xa8world", 7592, 2088); /* U+2028: str.split() splits */
    EXPECT(tok, "hel\x01lo", 7592);                    /* controls vanish, no split */
    EXPECT(tok, "hel\x7flo wor\x0b" "ld", 7592, 2088);
    EXPECT(tok, "hel\xe2\x80\x8blo", 7592);     /* U+200B zero width space (Cf) */
    EXPECT(tok, "hel\xef\xbb\xbflo", 7592);     /* BOM (Cf) */
    EXPECT(tok, "hel\xef\xbf\xbdlo", 7592);     /* U+FFFD */
    EXPECT(tok, "hel\xc2\x85lo", 7592);         /* NEL (Cc) */
    /* private use (Co) is a "C*" character for HF's _is_control and vanishes too */
    EXPECT(tok, "hel\xee\x80\x80lo", 7592);
    static const char nul[] = "hel\0lo";
    int32_t ids[8];
    T_EQ_INT(enc_plain(tok, nul, 6, ids), 1);
    T_EQ_INT(ids[0], 7592);
    EXPECT(tok, "\xce\x9f\xce\x94\xce\x9f\xce\xa3", 1169, 29722, 15297); /* ΟΔΟΣ: ο ##δ ##ος */
    EXPECT(tok, "\xce\xa3\xce\x91\xce\xa3", 1173, 14608, 19579);         /* ΣΑΣ: σ ##α ##ς */
    /* Korean decomposes to jamo; Devanagari vowel sign u (Mn) is stripped */
    EXPECT(tok, "\xed\x95\x9c", 1469, 30006, 30021); /* 한: ᄒ ##ᅡ ##ᆫ */
    EXPECT(tok, "\xe0\xa4\xa6\xe0\xa5\x81", 1325);   /* दु -> द */
    /* NFD can produce punctuation: U+1FEF GREEK VARIA -> '`' splits the word */
    EXPECT(tok, "a\xe1\xbf\xaf" "b", 1037, 1036, 1038);
    qr_tok_free(tok);
}

/* Bytes that are not UTF-8 are dropped: same ids as the text without them. */
static void test_invalid_utf8(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    static const struct {
        const char *bad, *clean;
    } cases[] = {
        {"\x80hello", "hello"},
        {"he\xbf\xbfllo world", "hello world"},
        {"a\xc0\xaf" "b", "ab"},                  /* overlong '/' */
        {"a\xe0\x80\xaf" "b", "ab"},              /* overlong 3-byte */
        {"a\xf0\x80\x80\xaf" "b", "ab"},          /* overlong 4-byte */
        {"hello\xe2\x82", "hello"},               /* truncated at the end */
        {"hello\xf0\x9f\x98", "hello"},
        {"x\xe2\x82y", "xy"},                     /* truncated in the middle */
        {"a\xed\xa0\x80" "b", "ab"},              /* UTF-16 surrogate */
        {"a\xed\xbf\xbf" "b", "ab"},
        {"\xfe\xffhello\xfe", "hello"},
        {"a\xf4\x90\x80\x80" "b", "ab"},          /* above U+10FFFF */
        {"a\xf8\x88\x80\x80\x80" "b", "ab"},      /* old 5-byte form */
        {"caf\xc3", "caf"},
        {"\xc3\xa9\xc3", "\xc3\xa9"},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(cases); i++) {
        T_CHECKF(same_encoding(tok, cases[i].bad, strlen(cases[i].bad), cases[i].clean,
                               strlen(cases[i].clean)),
                 "case %zu", i);
    }
    /* random bytes: no crash, deterministic, ids in range, limit respected */
    uint64_t rng = 42;
    unsigned char buf[96];
    int32_t a[MAX_IDS], b[MAX_IDS];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(t_rand(&rng) * sizeof(buf));
        for (size_t i = 0; i < len; i++) {
            double r = t_rand(&rng);
            buf[i] = r < 0.5 ? (unsigned char)(0x80 + t_rand(&rng) * 0x80)
                             : (unsigned char)(t_rand(&rng) * 256);
        }
        size_t n1 = 0, n2 = 0;
        qr_tok_encode(tok, (const char *)buf, len, 64, 1, a, MAX_IDS, &n1, NULL);
        qr_tok_encode(tok, (const char *)buf, len, 64, 1, b, MAX_IDS, &n2, NULL);
        int ok = n1 == n2 && n1 >= 2 && n1 <= 64 && memcmp(a, b, n1 * sizeof(int32_t)) == 0;
        for (size_t i = 0; ok && i < n1; i++)
            ok = a[i] >= 0 && a[i] < 30522;
        T_CHECKF(ok, "random bytes iteration %d", iter);
    }
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ corrupt files */

static void expect_load_error(int json, const char *rel, quire_status want, const char *needle)
{
    quire_error err = {0};
    qr_tok *tok = NULL;
    const char *path = data_path(rel);
    quire_status st = json ? qr_tok_load_json(path, NULL, &tok, &err)
                           : qr_tok_load_vocab(path, NULL, &tok, &err);
    T_CHECKF(st == want, "%s: status %d (%s), want %d", rel, st, err.msg, want);
    T_CHECK(tok == NULL);
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    T_CHECKF(strstr(err.msg, base) != NULL, "%s: message '%s' lacks the file name", rel,
             err.msg);
    T_CHECKF(!needle || strstr(err.msg, needle), "%s: message '%s' lacks '%s'", rel, err.msg,
             needle);
    qr_tok_free(tok);
}

static void test_corrupt_files(void)
{
    expect_load_error(0, "corrupt/empty_vocab.txt", QUIRE_FORMAT, "empty");
    expect_load_error(0, "corrupt/no_unk_vocab.txt", QUIRE_FORMAT, "[UNK]");
    expect_load_error(0, "corrupt/bad_utf8_vocab.txt", QUIRE_FORMAT, "line 5");
    expect_load_error(0, "corrupt/missing.txt", QUIRE_NOT_FOUND, NULL);
    expect_load_error(1, "corrupt/bad_json.json", QUIRE_FORMAT, "line");
    expect_load_error(1, "corrupt/bpe.json", QUIRE_FORMAT, "model.type");
    expect_load_error(1, "corrupt/dup_ids.json", QUIRE_FORMAT, "duplicate id 1");
    expect_load_error(1, "corrupt/hole_ids.json", QUIRE_FORMAT, "model.vocab");
    expect_load_error(1, "corrupt/string_id.json", QUIRE_FORMAT, "model.vocab");
    expect_load_error(1, "corrupt/dup_keys.json", QUIRE_FORMAT, "[CLS]");
    expect_load_error(1, "corrupt/no_model.json", QUIRE_FORMAT, "model");
    expect_load_error(1, "corrupt/no_cls.json", QUIRE_FORMAT, "[CLS]");
    expect_load_error(1, "corrupt/bad_max_chars.json", QUIRE_FORMAT, "max_input_chars_per_word");
    expect_load_error(1, "corrupt/bad_normalizer.json", QUIRE_FORMAT, "normalizer.lowercase");
    expect_load_error(1, "corrupt/not_object.json", QUIRE_FORMAT, NULL);
    quire_error err = {0};
    qr_tok *tok = NULL;
    quire_status st = qr_tok_open_dir(data_path("corrupt/badcfg"), &tok, &err);
    T_EQ_INT(st, QUIRE_FORMAT);
    T_CHECKF(strstr(err.msg, "tokenizer_config.json") != NULL, "msg '%s'", err.msg);
    T_CHECK(tok == NULL);
}

/* ------------------------------------------------------------ threads */

typedef struct thread_arg {
    const qr_tok *tok;
    int ok;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    static const char *const texts[] = {"Hello, y'all! How are you 😁 ?我想在apple工作1314151天～",
                                        "ΟΔΟΣ naïve 한국어 café", "w048 7tuijk dsdfhu"};
    int32_t want[3][64], got[64];
    size_t n_want[3];
    a->ok = 1;
    for (int i = 0; i < 3; i++)
        qr_tok_encode(a->tok, texts[i], strlen(texts[i]), 64, 1, want[i], 64, &n_want[i], NULL);
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 0;
        int i = iter % 3;
        qr_tok_encode(a->tok, texts[i], strlen(texts[i]), 64, 1, got, 64, &n, NULL);
        if (n != n_want[i] || memcmp(got, want[i], n * sizeof(int32_t)) != 0)
            a->ok = 0;
    }
    return NULL;
}

static void test_threads(void)
{
    qr_tok *tok = bert_vocab();
    if (!tok)
        return;
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].tok = tok;
        T_EQ_INT(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        T_CHECKF(args[i].ok, "thread %d", i);
    }
    qr_tok_free(tok);
}

/* ------------------------------------------------------------ fault injection */

/* Fail the Nth allocation for N = 1.. until a run succeeds: every run must return
 * NOMEM cleanly (no crash; LeakSanitizer checks that nothing is left behind). */
typedef quire_status (*load_fn)(const char *path, qr_tok **out, quire_error *err);

static quire_status load_txt(const char *p, qr_tok **o, quire_error *e)
{
    return qr_tok_load_vocab(p, NULL, o, e);
}
static quire_status load_js(const char *p, qr_tok **o, quire_error *e)
{
    return qr_tok_load_json(p, NULL, o, e);
}

static void fault_loop(load_fn load, const char *path, const char *name)
{
    static const char text[] = "Hello, wörld! ΟΔΟΣ 我想 unaffable";
    int n_fail = 0, done = 0;
    for (long nth = 1; nth < 1000 && !done; nth++) {
        quire_error err = {0};
        qr_tok *tok = NULL;
        int32_t ids[64];
        size_t n = 0;
        qr_alloc_fail_at(nth);
        quire_status st = load(path, &tok, &err);
        if (st == QUIRE_OK)
            st = qr_tok_encode(tok, text, sizeof(text) - 1, 64, 1, ids, 64, &n, &err);
        qr_alloc_fail_at(0);
        if (st == QUIRE_OK) {
            done = 1;
            T_CHECK(n > 5);
        } else {
            n_fail++;
            T_CHECKF(st == QUIRE_NOMEM, "%s: N=%ld: status %d (%s)", name, nth, st, err.msg);
            T_CHECKF(strstr(err.msg, "memory") != NULL, "%s: N=%ld: '%s'", name, nth, err.msg);
        }
        qr_tok_free(tok);
    }
    T_CHECKF(done, "%s: never succeeded", name);
    printf("  %s: %d injected failures, all clean\n", name, n_fail);
}

static void test_alloc_failures(void)
{
    fault_loop(load_txt, shared_path("models/vocab.txt"), "vocab.txt");
    /* max_input_chars_per_word 200 makes encode use heap scratch */
    const char *js = tmp_path("fault.json");
    T_EQ_INT(write_tokenizer_json(data_path("cased/vocab.txt"), js, 1, -1, 200, 0), 0);
    fault_loop(load_js, js, "tokenizer.json");
    fault_loop(qr_tok_open_dir, shared_path("models/tiny"), "open_dir");
}

int main(void)
{
    T_RUN(test_hf_cases);
    T_RUN(test_golden_tiny);
    T_RUN(test_golden_minilm);
    T_RUN(test_tokenizer_json);
    T_RUN(test_tokenizer_json_cased);
    T_RUN(test_small_vocab_flags);
    T_RUN(test_open_dir);
    T_RUN(test_empty_and_specials);
    T_RUN(test_long_lines);
    T_RUN(test_word_length);
    T_RUN(test_whitespace_and_controls);
    T_RUN(test_invalid_utf8);
    T_RUN(test_corrupt_files);
    T_RUN(test_threads);
    T_RUN(test_alloc_failures);
    return t_done();
}
