/*
 * tokjson.c — loading a tokenizer from Hugging Face files: tokenizer.json (the
 * `tokenizers` library's serialization), tokenizer_config.json (transformers' flags) and
 * a model folder holding either.
 *
 * Only what a BERT WordPiece tokenizer needs is read; anything that would change the
 * result and that we do not implement (another model type, an unknown normalizer or
 * pre-tokenizer) is refused instead of being silently ignored. Every error names the
 * file and the JSON field.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "text/unigram.h"

#define JSON_FILE_MAX ((size_t)256 << 20)

/* A file parsed into a jansson tree. */
static quire_status json_read(const char *path, json_t **out, quire_error *err)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    quire_status rc = qr_file_read(path, JSON_FILE_MAX, &data, &len, err);
    if (rc != QUIRE_OK)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    qr_free(data);
    if (!root)
        return qr_err(err, QUIRE_FORMAT, "%s: line %d column %d: %s", path, jerr.line,
                      jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return qr_err(err, QUIRE_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return QUIRE_OK;
}

/* Optional boolean field: *out unchanged when absent; null gives null_value. */
static quire_status get_bool(const json_t *obj, const char *key, int null_value, int *out,
                             const char *path, const char *where, quire_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return QUIRE_OK;
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_null(v) && null_value != INT32_MIN)
        *out = null_value;
    else
        return qr_err(err, QUIRE_FORMAT, "%s: %s%s: expected true or false", path, where, key);
    return QUIRE_OK;
}

/* Optional string field (a plain string or an AddedToken {"content": ...}). */
static quire_status get_str(const json_t *obj, const char *key, const char **out,
                            const char *path, const char *where, quire_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return QUIRE_OK;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v))
        return qr_err(err, QUIRE_FORMAT, "%s: %s%s: expected a string", path, where, key);
    *out = json_string_value(v);
    return QUIRE_OK;
}

/* ---- model ------------------------------------------------------------------------- */

static quire_status check_model(qr_tok *tok, const json_t *model, const char *path,
                                quire_error *err)
{
    if (!json_is_object(model))
        return qr_err(err, QUIRE_FORMAT, "%s: model: missing or not an object", path);
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "WordPiece") != 0)
        return qr_err(err, QUIRE_FORMAT, "%s: model.type: \"%s\" is not \"WordPiece\" or "
                      "\"Unigram\"", path,
                      type ? type : "(missing)");
    const char *prefix = tok->prefix;
    quire_status rc = get_str(model, "continuing_subword_prefix", &prefix, path, "model.", err);
    if (rc != QUIRE_OK)
        return rc;
    size_t plen = strlen(prefix);
    if (plen > QR_TOK_PREFIX_MAX)
        return qr_err(err, QUIRE_FORMAT, "%s: model.continuing_subword_prefix: longer than %d "
                      "bytes", path, QR_TOK_PREFIX_MAX);
    memmove(tok->prefix, prefix, plen + 1);
    tok->prefix_len = plen;
    const json_t *mc = json_object_get(model, "max_input_chars_per_word");
    if (mc) {
        json_int_t v = json_is_integer(mc) ? json_integer_value(mc) : -1;
        if (v < 1 || v > QR_TOK_MAX_CHARS_LIMIT)
            return qr_err(err, QUIRE_FORMAT, "%s: model.max_input_chars_per_word: expected an "
                          "integer in 1..%d", path, QR_TOK_MAX_CHARS_LIMIT);
        tok->max_chars = (int)v;
    }
    return QUIRE_OK;
}

/* model.vocab: {"piece": id, ...} with ids exactly 0..n-1. */
static quire_status read_vocab(qr_tok *tok, const json_t *vocab, const char *path,
                               quire_error *err)
{
    if (!json_is_object(vocab) || json_object_size(vocab) == 0)
        return qr_err(err, QUIRE_FORMAT, "%s: model.vocab: missing, empty or not an object",
                      path);
    size_t n = json_object_size(vocab), bytes = 0, klen;
    const char *key;
    const json_t *val;
    json_object_keylen_foreach((json_t *)vocab, key, klen, val)
        bytes += klen + 1;
    quire_status rc = qr_tok_reserve(tok, n > QR_TOK_MAX_VOCAB ? -1 : (int)n, bytes, err, path);
    if (rc != QUIRE_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        tok->off[i] = UINT32_MAX; /* marks ids not seen yet */
    size_t used = 0;
    json_object_keylen_foreach((json_t *)vocab, key, klen, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || (size_t)id >= n)
            return qr_err(err, QUIRE_FORMAT, "%s: model.vocab: id of \"%.40s\" is not an integer "
                          "in 0..%zu (ids must be 0..n-1 without holes)", path, key, n - 1);
        if (tok->off[id] != UINT32_MAX)
            return qr_err(err, QUIRE_FORMAT, "%s: model.vocab: duplicate id %lld (\"%.40s\" and "
                          "\"%.40s\")", path, (long long)id, tok->pool + tok->off[id], key);
        if (memchr(key, 0, klen))
            return qr_err(err, QUIRE_FORMAT, "%s: model.vocab: piece with id %lld contains NUL",
                          path, (long long)id);
        memcpy(tok->pool + used, key, klen + 1);
        tok->off[id] = (uint32_t)used;
        tok->len[id] = (uint32_t)klen;
        used += klen + 1;
    }
    return QUIRE_OK;
}

/* ---- normalizer and pre-tokenizer ---------------------------------------------------- */

static quire_status read_bert_normalizer(qr_tok *tok, const json_t *n, const char *path,
                                         const char *where, quire_error *err)
{
    quire_status rc;
    if ((rc = get_bool(n, "clean_text", INT32_MIN, &tok->clean_text, path, where, err)) ||
        (rc = get_bool(n, "handle_chinese_chars", INT32_MIN, &tok->tokenize_cjk, path, where,
                       err)) ||
        (rc = get_bool(n, "lowercase", INT32_MIN, &tok->lowercase, path, where, err)) ||
        (rc = get_bool(n, "strip_accents", -1, &tok->strip_cfg, path, where, err)))
        return rc;
    return QUIRE_OK;
}

/* A Sequence may hold one BertNormalizer, or the Lowercase / NFD + StripAccents parts
 * that make up the same thing without cleaning or CJK handling. */
static quire_status read_norm_sequence(qr_tok *tok, const json_t *seq, const char *path,
                                       quire_error *err)
{
    const json_t *list = json_object_get(seq, "normalizers");
    if (!json_is_array(list))
        return qr_err(err, QUIRE_FORMAT, "%s: normalizer.normalizers: expected an array", path);
    tok->clean_text = tok->tokenize_cjk = tok->lowercase = 0;
    tok->strip_cfg = 0;
    int nfd = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *n = json_array_get(list, i);
        const char *type = json_string_value(json_object_get(n, "type"));
        char where[64];
        snprintf(where, sizeof(where), "normalizer.normalizers[%zu].", i);
        if (type && strcmp(type, "BertNormalizer") == 0) {
            tok->clean_text = tok->tokenize_cjk = tok->lowercase = 1;
            tok->strip_cfg = -1;
            quire_status rc = read_bert_normalizer(tok, n, path, where, err);
            if (rc != QUIRE_OK)
                return rc;
        } else if (type && strcmp(type, "Lowercase") == 0) {
            tok->lowercase = 1;
        } else if (type && strcmp(type, "NFD") == 0) {
            nfd = 1;
        } else if (type && strcmp(type, "StripAccents") == 0 && nfd) {
            tok->strip_cfg = 1;
        } else {
            return qr_err(err, QUIRE_UNSUPPORTED, "%s: %stype: \"%s\" is not supported here",
                          path, where, type ? type : "(missing)");
        }
    }
    if (nfd && tok->strip_cfg != 1)
        return qr_err(err, QUIRE_UNSUPPORTED, "%s: normalizer: NFD without StripAccents is not "
                      "supported", path);
    return QUIRE_OK;
}

static quire_status read_normalizer(qr_tok *tok, const json_t *root, const char *path,
                                    quire_error *err)
{
    const json_t *n = json_object_get(root, "normalizer");
    if (!n || json_is_null(n)) {
        /* no normalization at all: a cased tokenizer that keeps every character */
        tok->clean_text = tok->tokenize_cjk = tok->lowercase = 0;
        tok->strip_cfg = 0;
        return QUIRE_OK;
    }
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && strcmp(type, "BertNormalizer") == 0)
        return read_bert_normalizer(tok, n, path, "normalizer.", err);
    if (type && strcmp(type, "Sequence") == 0)
        return read_norm_sequence(tok, n, path, err);
    return qr_err(err, QUIRE_UNSUPPORTED, "%s: normalizer.type: \"%s\" is not supported", path,
                  type ? type : "(missing)");
}

/* Whitespace + punctuation splitting is what BertPreTokenizer does; anything else
 * would split differently. */
static quire_status check_pre_tokenizer(const json_t *root, const char *path, quire_error *err)
{
    const json_t *p = json_object_get(root, "pre_tokenizer");
    if (!p || json_is_null(p))
        return QUIRE_OK; /* older files leave it out; BERT's splitting is implied */
    const char *type = json_string_value(json_object_get(p, "type"));
    if (type && strcmp(type, "BertPreTokenizer") == 0)
        return QUIRE_OK;
    return qr_err(err, QUIRE_UNSUPPORTED, "%s: pre_tokenizer.type: \"%s\" is not supported", path,
                  type ? type : "(missing)");
}

/* [CLS]/[SEP] names from post_processor (BertProcessing or TemplateProcessing). */
static void special_names(const json_t *root, qr_tok_names *names)
{
    const json_t *pp = json_object_get(root, "post_processor");
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && strcmp(type, "BertProcessing") == 0) {
        const char *cls = json_string_value(json_array_get(json_object_get(pp, "cls"), 0));
        const char *sep = json_string_value(json_array_get(json_object_get(pp, "sep"), 0));
        names->cls = cls ? cls : names->cls;
        names->sep = sep ? sep : names->sep;
    } else if (type && strcmp(type, "TemplateProcessing") == 0) {
        /* single: [{SpecialToken: {id: "[CLS]"}}, {Sequence: ...}, {SpecialToken: ...}] */
        const json_t *single = json_object_get(pp, "single");
        int seen_seq = 0;
        for (size_t i = 0; i < json_array_size(single); i++) {
            const json_t *item = json_array_get(single, i);
            const char *id = json_string_value(
                json_object_get(json_object_get(item, "SpecialToken"), "id"));
            if (json_object_get(item, "Sequence"))
                seen_seq = 1;
            else if (id && !seen_seq)
                names->cls = id;
            else if (id)
                names->sep = id;
        }
    }
    const char *pad = json_string_value(
        json_object_get(json_object_get(root, "padding"), "pad_token"));
    if (pad)
        names->pad = pad;
}

static quire_status parse_tokenizer_json(qr_tok *tok, const json_t *root, const qr_tok_opts *opts,
                                         const char *path, quire_error *err)
{
    const json_t *model = json_object_get(root, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (json_is_object(model) && mtype && strcmp(mtype, "Unigram") == 0) {
        /* SentencePiece: tokenizer_config.json's BERT flags do not apply */
        const char *pad = json_string_value(
            json_object_get(json_object_get(root, "padding"), "pad_token"));
        return qr_uni_load(tok, root, path, pad, err);
    }
    quire_status rc;
    if ((rc = check_model(tok, model, path, err)) != QUIRE_OK ||
        (rc = read_normalizer(tok, root, path, err)) != QUIRE_OK ||
        (rc = check_pre_tokenizer(root, path, err)) != QUIRE_OK)
        return rc;
    qr_tok_names names = {"[UNK]", "[CLS]", "[SEP]", "[PAD]"};
    if ((rc = get_str(model, "unk_token", &names.unk, path, "model.", err)) != QUIRE_OK)
        return rc;
    special_names(root, &names);
    if ((rc = read_vocab(tok, json_object_get(model, "vocab"), path, err)) != QUIRE_OK)
        return rc;
    qr_tok_apply_opts(tok, opts);
    return qr_tok_index(tok, &names, path, err);
}

quire_status qr_tok_load_json(const char *path, const qr_tok_opts *opts, qr_tok **out,
                              quire_error *err)
{
    if (!out || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_load_json: NULL argument");
    *out = NULL;
    json_t *root = NULL;
    quire_status rc = json_read(path, &root, err);
    if (rc != QUIRE_OK)
        return rc;
    qr_tok *tok = qr_tok_alloc();
    if (!tok)
        rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
    else
        rc = parse_tokenizer_json(tok, root, opts, path, err);
    json_decref(root);
    if (rc != QUIRE_OK) {
        qr_tok_free(tok);
        return rc;
    }
    *out = tok;
    return QUIRE_OK;
}

/* ---- model folder -------------------------------------------------------------------- */

/* tokenizer_config.json: transformers' BertTokenizer(Fast) arguments. When the file
 * exists, transformers uses these flags (defaults do_lower_case=True,
 * strip_accents=None, tokenize_chinese_chars=True) even over tokenizer.json's
 * normalizer, so they override it here too. */
static quire_status read_config(const char *path, json_t **root, qr_tok_opts *opts,
                                qr_tok_names *names, quire_error *err)
{
    quire_status rc = json_read(path, root, err);
    if (rc != QUIRE_OK)
        return rc;
    opts->lowercase = 1;
    opts->strip_accents = QR_TOK_STRIP_FOLLOW;
    opts->tokenize_cjk = 1;
    if ((rc = get_bool(*root, "do_lower_case", INT32_MIN, &opts->lowercase, path, "", err)) ||
        (rc = get_bool(*root, "strip_accents", QR_TOK_STRIP_FOLLOW, &opts->strip_accents, path,
                       "", err)) ||
        (rc = get_bool(*root, "tokenize_chinese_chars", INT32_MIN, &opts->tokenize_cjk, path, "",
                       err)) ||
        (rc = get_str(*root, "unk_token", &names->unk, path, "", err)) ||
        (rc = get_str(*root, "cls_token", &names->cls, path, "", err)) ||
        (rc = get_str(*root, "sep_token", &names->sep, path, "", err)) ||
        (rc = get_str(*root, "pad_token", &names->pad, path, "", err)))
        return rc;
    return QUIRE_OK;
}

quire_status qr_tok_open_dir(const char *dir, qr_tok **out, quire_error *err)
{
    if (!out || !dir)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_open_dir: NULL argument");
    *out = NULL;
    char p_json[4096], p_vocab[4096], p_cfg[4096];
    if (qr_path_join(p_json, sizeof(p_json), dir, "tokenizer.json") != 0 ||
        qr_path_join(p_vocab, sizeof(p_vocab), dir, "vocab.txt") != 0 ||
        qr_path_join(p_cfg, sizeof(p_cfg), dir, "tokenizer_config.json") != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%.200s: path too long", dir);
    int has_json = qr_file_exists(p_json);
    if (!has_json && !qr_file_exists(p_vocab))
        return qr_err(err, QUIRE_NOT_FOUND, "%s: no tokenizer.json or vocab.txt in this folder",
                      dir);
    json_t *cfg = NULL;
    qr_tok_opts opts = {-1, -1, -1};
    qr_tok_names names = {"[UNK]", "[CLS]", "[SEP]", "[PAD]"};
    quire_status rc = QUIRE_OK;
    if (qr_file_exists(p_cfg))
        rc = read_config(p_cfg, &cfg, &opts, &names, err);
    if (rc == QUIRE_OK && has_json)
        rc = qr_tok_load_json(p_json, &opts, out, err);
    else if (rc == QUIRE_OK)
        rc = qr_tok_load_vocab_names(p_vocab, &opts, &names, out, err);
    json_decref(cfg);
    return rc;
}
