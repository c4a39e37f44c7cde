/*
 * unigram_load.c — reading a Unigram tokenizer.json (what transformers' SpmConverter /
 * XLMRobertaConverter writes) into a qr_tok.
 *
 * Every component that changes ids is read and followed: the normalizer chain
 * (Precompiled, Replace with a literal or a run "C{n,}" / "C+" regex, Strip), the
 * pre-tokenizer chain (WhitespaceSplit, Metaspace in both its old add_prefix_space and
 * its newer prepend_scheme / split form), added tokens (lstrip, rstrip, normalized) and
 * the post-processor (TemplateProcessing, RobertaProcessing, BertProcessing). Anything
 * else is refused with an error naming the file and the field, never ignored.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "text/unigram.h"

#define ERRF(code, ...) qr_err(err, code, __VA_ARGS__)

void qr_uni_free(qr_uni *u)
{
    if (!u)
        return;
    qr_free(u->score);
    for (int i = 0; i < u->n_norm; i++) {
        qr_charsmap_free(&u->norm[i].cm);
        qr_free(u->norm[i].pat);
        qr_free(u->norm[i].content);
    }
    qr_free(u->norm);
    qr_free(u->pretok);
    for (int i = 0; i < u->n_added; i++)
        qr_free(u->added[i].content);
    qr_free(u->added);
    qr_free(u);
}

/* ---- helpers ------------------------------------------------------------------------- */

static char *dup_bytes(const char *s, size_t n)
{
    char *p = qr_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Optional boolean: *out unchanged when absent or null. */
static quire_status opt_bool(const json_t *o, const char *key, int *out, const char *path,
                             const char *where, quire_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return QUIRE_OK;
    if (!json_is_boolean(v))
        return ERRF(QUIRE_FORMAT, "%s: %s.%s: expected true or false", path, where, key);
    *out = json_is_true(v);
    return QUIRE_OK;
}

/* ---- model ------------------------------------------------------------------------------ */

static quire_status read_model(qr_tok *tok, qr_uni *u, const json_t *model, const char *path,
                               quire_error *err)
{
    const json_t *bf = json_object_get(model, "byte_fallback");
    if (json_is_true(bf))
        return ERRF(QUIRE_UNSUPPORTED, "%s: model.byte_fallback: true is not supported", path);
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_array(vocab) || json_array_size(vocab) == 0)
        return ERRF(QUIRE_FORMAT, "%s: model.vocab: missing, empty or not an array of "
                    "[piece, score]", path);
    size_t n = json_array_size(vocab), bytes = 0;
    if (n > QR_TOK_MAX_VOCAB)
        return ERRF(QUIRE_FORMAT, "%s: model.vocab: more than %d pieces", path,
                    QR_TOK_MAX_VOCAB);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(vocab, i);
        const json_t *p = json_array_get(e, 0), *s = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) ||
            !json_is_number(s))
            return ERRF(QUIRE_FORMAT, "%s: model.vocab[%zu]: expected [piece, score]", path, i);
        size_t l = json_string_length(p);
        if (memchr(json_string_value(p), 0, l))
            return ERRF(QUIRE_FORMAT, "%s: model.vocab[%zu]: piece contains NUL", path, i);
        bytes += l + 1;
    }
    quire_status rc = qr_tok_reserve(tok, (int)n, bytes, err, path);
    if (rc != QUIRE_OK)
        return rc;
    u->score = qr_malloc(n * sizeof(double));
    if (!u->score)
        return ERRF(QUIRE_NOMEM, "%s: out of memory for %zu scores", path, n);
    size_t used = 0;
    u->min_score = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(vocab, i);
        const json_t *p = json_array_get(e, 0);
        size_t l = json_string_length(p);
        memcpy(tok->pool + used, json_string_value(p), l + 1);
        tok->off[i] = (uint32_t)used;
        tok->len[i] = (uint32_t)l;
        used += l + 1;
        double sc = json_number_value(json_array_get(e, 1));
        if (!(sc == sc) || sc > 1e300 || sc < -1e300)
            return ERRF(QUIRE_FORMAT, "%s: model.vocab[%zu]: score is not a finite number",
                        path, i);
        u->score[i] = sc;
        if (i == 0 || sc < u->min_score)
            u->min_score = sc;
    }
    const json_t *unk = json_object_get(model, "unk_id");
    if (!json_is_integer(unk) || json_integer_value(unk) < 0 ||
        json_integer_value(unk) >= (json_int_t)n)
        return ERRF(QUIRE_UNSUPPORTED, "%s: model.unk_id: expected an id in 0..%zu (a Unigram "
                    "model without an unknown token is not supported)", path, n - 1);
    u->unk_id = (int)json_integer_value(unk);
    return QUIRE_OK;
}

/* ---- normalizers ------------------------------------------------------------------------ */

/* Regex patterns of Replace that we implement: one (possibly escaped) character
 * followed by "{n,}" or "+". */
static int parse_run_regex(const char *re, size_t n, qr_uni_norm *nm)
{
    size_t cl;
    const char *c = re;
    if (n >= 2 && re[0] == '\\') {
        if (!strchr(" .+*?()[]{}|\\^$/-", re[1]))
            return -1;
        c = re + 1;
        cl = 1;
    } else {
        if (n == 0 || strchr(".+*?()[]{}|\\^$", re[0]))
            return -1;
        size_t pos = 0;
        qr_utf8_next((const unsigned char *)re, n, &pos);
        cl = pos;
    }
    const char *rest = c + cl;
    size_t rl = n - (size_t)(rest - re);
    int min = 0;
    if (rl == 1 && rest[0] == '+') {
        min = 1;
    } else if (rl >= 4 && rest[0] == '{' && rest[rl - 2] == ',' && rest[rl - 1] == '}') {
        for (size_t i = 1; i < rl - 2; i++) {
            if (rest[i] < '0' || rest[i] > '9' || min > 100000)
                return -1;
            min = min * 10 + (rest[i] - '0');
        }
        if (min < 1)
            return -1;
    } else {
        return -1;
    }
    nm->pat = dup_bytes(c, cl);
    nm->pat_len = cl;
    nm->min_run = min;
    return nm->pat ? 0 : -2;
}

static quire_status read_one_norm(qr_uni *u, const json_t *n, const char *path,
                                  const char *where, quire_error *err)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type)
        return ERRF(QUIRE_FORMAT, "%s: %s.type: missing", path, where);
    qr_uni_norm *nm = &u->norm[u->n_norm];
    memset(nm, 0, sizeof(*nm));
    if (strcmp(type, "Precompiled") == 0) {
        const json_t *b = json_object_get(n, "precompiled_charsmap");
        if (!json_is_string(b))
            return ERRF(QUIRE_UNSUPPORTED, "%s: %s.precompiled_charsmap: expected a base64 "
                        "string", path, where);
        size_t bl = json_string_length(b);
        unsigned char *blob = qr_malloc(3 * (bl / 4 + 1));
        if (!blob)
            return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
        long dl = qr_base64_decode(json_string_value(b), bl, blob, 3 * (bl / 4 + 1));
        quire_status rc;
        char w2[128];
        snprintf(w2, sizeof w2, "%s.precompiled_charsmap", where);
        if (dl < 0)
            rc = ERRF(QUIRE_FORMAT, "%s: %s: not valid base64", path, w2);
        else
            rc = qr_charsmap_init(&nm->cm, blob, (size_t)dl, path, w2, err);
        qr_free(blob);
        if (rc != QUIRE_OK)
            return rc;
        nm->type = QR_UNI_PRECOMPILED;
        u->n_norm++;
        return QUIRE_OK;
    }
    if (strcmp(type, "Replace") == 0) {
        const json_t *pat = json_object_get(n, "pattern");
        const json_t *content = json_object_get(n, "content");
        const json_t *lit = json_object_get(pat, "String");
        const json_t *re = json_object_get(pat, "Regex");
        if (!json_is_string(content))
            return ERRF(QUIRE_FORMAT, "%s: %s.content: expected a string", path, where);
        nm->type = QR_UNI_REPLACE;
        u->n_norm++; /* freed with u from here on */
        if (json_is_string(lit) && json_string_length(lit) > 0) {
            nm->pat = dup_bytes(json_string_value(lit), json_string_length(lit));
            nm->pat_len = json_string_length(lit);
        } else if (json_is_string(re)) {
            int r = parse_run_regex(json_string_value(re), json_string_length(re), nm);
            if (r == -1)
                return ERRF(QUIRE_UNSUPPORTED, "%s: %s.pattern.Regex: \"%.60s\" is not supported "
                            "(only a character repeated: \"C{n,}\" or \"C+\")", path, where,
                            json_string_value(re));
        } else {
            return ERRF(QUIRE_FORMAT, "%s: %s.pattern: expected {\"String\": s} or {\"Regex\": r}",
                        path, where);
        }
        nm->content = dup_bytes(json_string_value(content), json_string_length(content));
        nm->content_len = json_string_length(content);
        if (!nm->pat || !nm->content)
            return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
        return QUIRE_OK;
    }
    if (strcmp(type, "Strip") == 0) {
        nm->type = QR_UNI_STRIP;
        nm->strip_left = nm->strip_right = 1;
        quire_status rc;
        if ((rc = opt_bool(n, "strip_left", &nm->strip_left, path, where, err)) ||
            (rc = opt_bool(n, "strip_right", &nm->strip_right, path, where, err)))
            return rc;
        u->n_norm++;
        return QUIRE_OK;
    }
    return ERRF(QUIRE_UNSUPPORTED, "%s: %s.type: \"%s\" is not supported for a Unigram "
                "tokenizer", path, where, type);
}

/* Count the leaves of a (nested) Sequence; -1 when something is not an object. */
static int count_leaves(const json_t *n, const char *list_key, int depth)
{
    if (!json_is_object(n) || depth > 8)
        return -1;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type || strcmp(type, "Sequence") != 0)
        return 1;
    const json_t *l = json_object_get(n, list_key);
    if (!json_is_array(l))
        return -1;
    int total = 0;
    for (size_t i = 0; i < json_array_size(l); i++) {
        int c = count_leaves(json_array_get(l, i), list_key, depth + 1);
        if (c < 0 || total > 64)
            return -1;
        total += c;
    }
    return total;
}

typedef quire_status (*leaf_fn)(qr_uni *u, const json_t *n, const char *path,
                                const char *where, quire_error *err);

static quire_status walk_leaves(qr_uni *u, const json_t *n, const char *list_key,
                                const char *path, const char *where, leaf_fn fn,
                                quire_error *err)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type || strcmp(type, "Sequence") != 0)
        return fn(u, n, path, where, err);
    const json_t *l = json_object_get(n, list_key);
    for (size_t i = 0; i < json_array_size(l); i++) {
        char w2[256];
        snprintf(w2, sizeof w2, "%.200s.%s[%zu]", where, list_key, i);
        quire_status rc = walk_leaves(u, json_array_get(l, i), list_key, path, w2, fn, err);
        if (rc != QUIRE_OK)
            return rc;
    }
    return QUIRE_OK;
}

static quire_status read_normalizer(qr_uni *u, const json_t *root, const char *path,
                                    quire_error *err)
{
    const json_t *n = json_object_get(root, "normalizer");
    if (!n || json_is_null(n))
        return QUIRE_OK;
    int c = count_leaves(n, "normalizers", 0);
    if (c < 0)
        return ERRF(QUIRE_FORMAT, "%s: normalizer: expected an object (a Sequence holds a "
                    "\"normalizers\" array, at most 64 entries)", path);
    u->norm = qr_calloc((size_t)c + 1, sizeof(*u->norm));
    if (!u->norm)
        return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
    return walk_leaves(u, n, "normalizers", path, "normalizer", read_one_norm, err);
}

/* ---- pre-tokenizers --------------------------------------------------------------------- */

static quire_status read_one_pretok(qr_uni *u, const json_t *n, const char *path,
                                    const char *where, quire_error *err)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type)
        return ERRF(QUIRE_FORMAT, "%s: %s.type: missing", path, where);
    qr_uni_pretok *pt = &u->pretok[u->n_pretok];
    memset(pt, 0, sizeof(*pt));
    if (strcmp(type, "WhitespaceSplit") == 0) {
        pt->type = QR_UNI_WS_SPLIT;
        u->n_pretok++;
        return QUIRE_OK;
    }
    if (strcmp(type, "Metaspace") != 0)
        return ERRF(QUIRE_UNSUPPORTED, "%s: %s.type: \"%s\" is not supported for a Unigram "
                    "tokenizer", path, where, type);
    pt->type = QR_UNI_METASPACE;
    const json_t *rep = json_object_get(n, "replacement");
    const char *r = "\xE2\x96\x81"; /* U+2581 */
    size_t rl = 3;
    if (rep && !json_is_null(rep)) {
        size_t pos = 0;
        if (!json_is_string(rep) || json_string_length(rep) == 0 ||
            json_string_length(rep) > 4 ||
            (qr_utf8_next((const unsigned char *)json_string_value(rep), json_string_length(rep),
                          &pos),
             pos != json_string_length(rep)))
            return ERRF(QUIRE_FORMAT, "%s: %s.replacement: expected one character", path, where);
        r = json_string_value(rep);
        rl = json_string_length(rep);
    }
    memcpy(pt->rep, r, rl);
    pt->rep_len = rl;
    /* prepend_scheme when present, else the older add_prefix_space (true = always) */
    int aps = 1;
    quire_status rc;
    if ((rc = opt_bool(n, "add_prefix_space", &aps, path, where, err)) != QUIRE_OK)
        return rc;
    pt->prepend = aps ? QR_PREPEND_ALWAYS : QR_PREPEND_NEVER;
    const json_t *ps = json_object_get(n, "prepend_scheme");
    if (ps && !json_is_null(ps)) {
        const char *s = json_string_value(ps);
        if (s && strcmp(s, "always") == 0)
            pt->prepend = QR_PREPEND_ALWAYS;
        else if (s && strcmp(s, "first") == 0)
            pt->prepend = QR_PREPEND_FIRST;
        else if (s && strcmp(s, "never") == 0)
            pt->prepend = QR_PREPEND_NEVER;
        else
            return ERRF(QUIRE_FORMAT, "%s: %s.prepend_scheme: expected \"always\", \"first\" or "
                        "\"never\"", path, where);
    }
    pt->split = 1;
    if ((rc = opt_bool(n, "split", &pt->split, path, where, err)) != QUIRE_OK)
        return rc;
    u->n_pretok++;
    return QUIRE_OK;
}

static quire_status read_pre_tokenizer(qr_uni *u, const json_t *root, const char *path,
                                       quire_error *err)
{
    const json_t *n = json_object_get(root, "pre_tokenizer");
    if (!n || json_is_null(n))
        return QUIRE_OK;
    int c = count_leaves(n, "pretokenizers", 0);
    if (c < 0)
        return ERRF(QUIRE_FORMAT, "%s: pre_tokenizer: expected an object (a Sequence holds a "
                    "\"pretokenizers\" array, at most 64 entries)", path);
    u->pretok = qr_calloc((size_t)c + 1, sizeof(*u->pretok));
    if (!u->pretok)
        return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
    return walk_leaves(u, n, "pretokenizers", path, "pre_tokenizer", read_one_pretok, err);
}

/* ---- added tokens and post-processor ------------------------------------------------------ */

static quire_status read_added(qr_tok *tok, qr_uni *u, const json_t *root, const char *path,
                               quire_error *err)
{
    const json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list))
        return QUIRE_OK;
    if (!json_is_array(list))
        return ERRF(QUIRE_FORMAT, "%s: added_tokens: expected an array", path);
    size_t n = json_array_size(list);
    if (n > (size_t)tok->n_vocab)
        return ERRF(QUIRE_FORMAT, "%s: added_tokens: more entries than the vocabulary", path);
    u->added = qr_calloc(n + 1, sizeof(*u->added));
    if (!u->added)
        return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i);
        const json_t *c = json_object_get(a, "content"), *id = json_object_get(a, "id");
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (!json_is_string(c) || !json_is_integer(id))
            return ERRF(QUIRE_FORMAT, "%s: %s: expected {\"id\": N, \"content\": \"...\"}", path,
                        where);
        if (json_integer_value(id) < 0 || json_integer_value(id) >= tok->n_vocab)
            return ERRF(QUIRE_UNSUPPORTED, "%s: %s.id: %lld is outside the model's vocabulary "
                        "(0..%d)", path, where, (long long)json_integer_value(id),
                        tok->n_vocab - 1);
        int single = 0, lstrip = 0, rstrip = 0, normalized = 0;
        quire_status rc;
        if ((rc = opt_bool(a, "single_word", &single, path, where, err)) ||
            (rc = opt_bool(a, "lstrip", &lstrip, path, where, err)) ||
            (rc = opt_bool(a, "rstrip", &rstrip, path, where, err)) ||
            (rc = opt_bool(a, "normalized", &normalized, path, where, err)))
            return rc;
        if (single)
            return ERRF(QUIRE_UNSUPPORTED, "%s: %s.single_word: true is not supported", path,
                        where);
        size_t len = json_string_length(c);
        if (len == 0 || memchr(json_string_value(c), 0, len))
            continue; /* HF never matches an empty token */
        qr_uni_added *x = &u->added[u->n_added];
        x->content = dup_bytes(json_string_value(c), len);
        if (!x->content)
            return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
        u->n_added++;
        x->len = len;
        x->id = (int)json_integer_value(id);
        x->lstrip = lstrip;
        x->rstrip = rstrip;
        x->normalized = normalized;
        if (normalized)
            u->has_normalized_added = 1;
        else
            u->added_first[(unsigned char)x->content[0] >> 3] |=
                (unsigned char)(1u << ((unsigned char)x->content[0] & 7));
    }
    /* longest first (insertion sort keeps the file's order among equal lengths) */
    for (int i = 1; i < u->n_added; i++) {
        qr_uni_added t = u->added[i];
        int j = i;
        while (j > 0 && u->added[j - 1].len < t.len) {
            u->added[j] = u->added[j - 1];
            j--;
        }
        u->added[j] = t;
    }
    return QUIRE_OK;
}

/* The id of a special token named in the post-processor. */
static int frame_add(int32_t *arr, int *n, json_int_t id, int n_vocab)
{
    if (*n >= QR_UNI_MAX_FRAME || id < 0 || id >= n_vocab)
        return -1;
    arr[(*n)++] = (int32_t)id;
    return 0;
}

static quire_status read_post(qr_tok *tok, qr_uni *u, const json_t *root, const char *path,
                              quire_error *err)
{
    const json_t *pp = json_object_get(root, "post_processor");
    if (!pp || json_is_null(pp))
        return QUIRE_OK;
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0)) {
        const json_t *cls = json_array_get(json_object_get(pp, "cls"), 1);
        const json_t *sep = json_array_get(json_object_get(pp, "sep"), 1);
        if (!json_is_integer(cls) || !json_is_integer(sep) ||
            frame_add(u->pre, &u->n_pre, json_integer_value(cls), tok->n_vocab) ||
            frame_add(u->post, &u->n_post, json_integer_value(sep), tok->n_vocab))
            return ERRF(QUIRE_FORMAT, "%s: post_processor.cls/sep: expected [\"token\", id] with "
                        "an id in the vocabulary", path);
        return QUIRE_OK;
    }
    if (!type || strcmp(type, "TemplateProcessing") != 0)
        return ERRF(QUIRE_UNSUPPORTED, "%s: post_processor.type: \"%s\" is not supported", path,
                    type ? type : "(missing)");
    const json_t *single = json_object_get(pp, "single");
    const json_t *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return ERRF(QUIRE_FORMAT, "%s: post_processor.single: expected an array", path);
    int seen_seq = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i);
        const json_t *seq = json_object_get(item, "Sequence");
        const json_t *sp = json_object_get(item, "SpecialToken");
        if (seq) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (seen_seq || !id || strcmp(id, "A") != 0)
                return ERRF(QUIRE_UNSUPPORTED, "%s: post_processor.single[%zu]: only one "
                            "Sequence \"A\" is supported", path, i);
            seen_seq = 1;
            continue;
        }
        const char *name = json_string_value(json_object_get(sp, "id"));
        const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (!name || !json_is_array(ids) || json_array_size(ids) == 0)
            return ERRF(QUIRE_FORMAT, "%s: post_processor.single[%zu]: a special token missing "
                        "from post_processor.special_tokens", path, i);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            const json_t *v = json_array_get(ids, k);
            if (!json_is_integer(v) ||
                frame_add(seen_seq ? u->post : u->pre, seen_seq ? &u->n_post : &u->n_pre,
                          json_integer_value(v), tok->n_vocab))
                return ERRF(QUIRE_FORMAT, "%s: post_processor.special_tokens.%s.ids: expected at "
                            "most %d ids in the vocabulary", path, name, QR_UNI_MAX_FRAME);
        }
    }
    if (!seen_seq)
        return ERRF(QUIRE_FORMAT, "%s: post_processor.single: no Sequence \"A\"", path);
    return QUIRE_OK;
}

/* ---- entry ------------------------------------------------------------------------------- */

quire_status qr_uni_load(qr_tok *tok, const json_t *root, const char *path,
                         const char *pad_name, quire_error *err)
{
    qr_uni *u = qr_calloc(1, sizeof(*u));
    if (!u)
        return ERRF(QUIRE_NOMEM, "%s: out of memory", path);
    tok->uni = u;
    quire_status rc;
    if ((rc = read_model(tok, u, json_object_get(root, "model"), path, err)) != QUIRE_OK ||
        (rc = read_normalizer(u, root, path, err)) != QUIRE_OK ||
        (rc = read_pre_tokenizer(u, root, path, err)) != QUIRE_OK ||
        (rc = read_added(tok, u, root, path, err)) != QUIRE_OK ||
        (rc = read_post(tok, u, root, path, err)) != QUIRE_OK)
        return rc;
    /* the hash index; special names resolve to the unknown piece, fixed up below */
    const char *unk = tok->pool + tok->off[u->unk_id];
    qr_tok_names names = {unk, unk, unk, pad_name ? pad_name : "<pad>"};
    if ((rc = qr_tok_index(tok, &names, path, err)) != QUIRE_OK)
        return rc;
    tok->unk = u->unk_id;
    tok->cls = u->n_pre ? u->pre[0] : -1;
    tok->sep = u->n_post ? u->post[u->n_post - 1] : -1;
    tok->lowercase = tok->strip = tok->strip_cfg = tok->tokenize_cjk = tok->clean_text = 0;
    return QUIRE_OK;
}
