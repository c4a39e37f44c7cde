/*
 * vocab.c — the WordPiece vocabulary: storage, the hash index, special ids, the
 * vocab.txt loader and the small accessors.
 *
 * Loading builds everything once (pool of pieces + open-addressing table), so encoding
 * only reads: a qr_tok is immutable after load and can be shared by threads.
 */
#include <string.h>

#include "text/unigram.h"

#define VOCAB_FILE_MAX ((size_t)256 << 20) /* 256 MB: far above any real vocab.txt */

static const qr_tok_names default_names = {"[UNK]", "[CLS]", "[SEP]", "[PAD]"};

qr_tok *qr_tok_alloc(void)
{
    qr_tok *tok = qr_calloc(1, sizeof(*tok));
    if (!tok)
        return NULL;
    tok->unk = tok->cls = tok->sep = tok->pad = -1;
    tok->max_chars = 100;
    memcpy(tok->prefix, "##", 3);
    tok->prefix_len = 2;
    tok->clean_text = 1;
    tok->lowercase = 1;
    tok->strip_cfg = -1;
    tok->tokenize_cjk = 1;
    return tok;
}

void qr_tok_free(qr_tok *tok)
{
    if (!tok)
        return;
    qr_free(tok->pool);
    qr_free(tok->off);
    qr_free(tok->len);
    qr_free(tok->slots);
    qr_uni_free(tok->uni);
    qr_free(tok);
}

void qr_tok_apply_opts(qr_tok *tok, const qr_tok_opts *opts)
{
    if (!opts)
        return;
    if (opts->lowercase >= 0)
        tok->lowercase = opts->lowercase != 0;
    if (opts->strip_accents >= 0)
        tok->strip_cfg = opts->strip_accents != 0;
    else if (opts->strip_accents == QR_TOK_STRIP_FOLLOW)
        tok->strip_cfg = -1;
    if (opts->tokenize_cjk >= 0)
        tok->tokenize_cjk = opts->tokenize_cjk != 0;
}

quire_status qr_tok_reserve(qr_tok *tok, int n, size_t pool_len, quire_error *err,
                            const char *path)
{
    if (n <= 0 || n > QR_TOK_MAX_VOCAB || pool_len > UINT32_MAX)
        return qr_err(err, QUIRE_FORMAT, "%s: vocabulary size %d out of range (1..%d)", path,
                      n, QR_TOK_MAX_VOCAB);
    tok->pool = qr_malloc(pool_len);
    tok->off = qr_calloc((size_t)n, sizeof(*tok->off));
    tok->len = qr_calloc((size_t)n, sizeof(*tok->len));
    if (!tok->pool || !tok->off || !tok->len)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory for %d pieces", path, n);
    tok->n_vocab = n;
    tok->pool_len = pool_len;
    return QUIRE_OK;
}

/* FNV-1a over the concatenation: continuation pieces ("##" + bytes of the word) are
 * looked up without building the string. */
uint32_t qr_tok_hash2(const char *a, size_t na, const char *b, size_t nb)
{
    return qr_tok_hash_more(qr_tok_hash_more(QR_TOK_HASH_INIT, a, na), b, nb);
}

/* Pieces are a few bytes long: a plain loop beats two calls to memcmp. */
static int bytes_equal(const char *p, const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != q[i])
            return 0;
    }
    return 1;
}

static int piece_equals(const qr_tok *tok, int id, const char *a, size_t na, const char *b,
                        size_t nb)
{
    const char *p = tok->pool + tok->off[id];
    return tok->len[id] == na + nb && bytes_equal(p, a, na) && bytes_equal(p + na, b, nb);
}

int qr_tok_find(const qr_tok *tok, uint32_t h, const char *a, size_t na, const char *b,
                size_t nb)
{
    /* load factor <= 0.5, so an empty slot always ends the probe */
    for (size_t i = h & tok->mask;; i = (i + 1) & tok->mask) {
        const qr_tok_slot *s = &tok->slots[i];
        if (s->id < 0)
            return -1;
        if (s->hash == h && piece_equals(tok, s->id, a, na, b, nb))
            return s->id;
    }
}

int qr_tok_lookup2(const qr_tok *tok, const char *a, size_t na, const char *b, size_t nb)
{
    return qr_tok_find(tok, qr_tok_hash2(a, na, b, nb), a, na, b, nb);
}

int qr_tok_lookup(const qr_tok *tok, const char *piece, size_t len)
{
    if (!tok || !tok->slots || (!piece && len))
        return -1;
    return qr_tok_lookup2(tok, piece, len, "", 0);
}

/* Insert id; a piece seen before points to the later id, as in HF's dict. */
static void index_insert(qr_tok *tok, int id)
{
    const char *p = tok->pool + tok->off[id];
    size_t n = tok->len[id];
    uint32_t h = qr_tok_hash2(p, n, "", 0);
    size_t i = h & tok->mask;
    while (tok->slots[i].id >= 0) {
        if (tok->slots[i].hash == h && piece_equals(tok, tok->slots[i].id, p, n, "", 0)) {
            tok->slots[i].id = id;
            return;
        }
        i = (i + 1) & tok->mask;
    }
    tok->slots[i].hash = h;
    tok->slots[i].id = id;
}

static quire_status resolve_special(const qr_tok *tok, const char *name, int required,
                                    int *out, const char *path, quire_error *err)
{
    *out = qr_tok_lookup(tok, name, strlen(name));
    if (*out < 0 && required)
        return qr_err(err, QUIRE_FORMAT, "%s: vocabulary has no %s token", path, name);
    return QUIRE_OK;
}

quire_status qr_tok_index(qr_tok *tok, const qr_tok_names *names, const char *path,
                          quire_error *err)
{
    size_t n_slots = 16;
    while (n_slots < 2 * (size_t)tok->n_vocab)
        n_slots *= 2;
    tok->slots = qr_calloc(n_slots, sizeof(*tok->slots));
    if (!tok->slots)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory for the vocabulary index", path);
    tok->mask = n_slots - 1;
    for (size_t i = 0; i < n_slots; i++)
        tok->slots[i].id = -1;
    tok->max_piece_len = 0;
    for (int id = 0; id < tok->n_vocab; id++) {
        index_insert(tok, id);
        if (tok->len[id] > tok->max_piece_len)
            tok->max_piece_len = tok->len[id];
    }
    if (!names)
        names = &default_names;
    quire_status rc;
    if ((rc = resolve_special(tok, names->unk, 1, &tok->unk, path, err)) != QUIRE_OK ||
        (rc = resolve_special(tok, names->cls, 1, &tok->cls, path, err)) != QUIRE_OK ||
        (rc = resolve_special(tok, names->sep, 1, &tok->sep, path, err)) != QUIRE_OK)
        return rc;
    resolve_special(tok, names->pad, 0, &tok->pad, path, err);
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        int id = qr_tok_lookup(tok, &ch, 1);
        tok->ascii_id[c] = id >= 0 ? id : tok->unk;
    }
    tok->prefix_hash = qr_tok_hash_more(QR_TOK_HASH_INIT, tok->prefix, tok->prefix_len);
    tok->strip = tok->strip_cfg < 0 ? tok->lowercase : tok->strip_cfg;
    return QUIRE_OK;
}

/* ---- vocab.txt ------------------------------------------------------------------- */

/* Length of the line at s[0..n) and, in *next, where the following one starts. Lines end
 * at \n, \r\n or a lone \r: Python's universal newlines, which HF's load_vocab uses. */
static size_t line_len(const char *s, size_t n, size_t *next)
{
    size_t i = 0;
    while (i < n && s[i] != '\n' && s[i] != '\r')
        i++;
    size_t end = i;
    if (i < n && s[i] == '\r')
        i++;
    if (i < n && s[i] == '\n')
        i++;
    *next = i;
    return end;
}

/* Pieces must be valid UTF-8 without NUL: anything else is a damaged file. */
static int piece_valid(const char *p, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        size_t at = pos;
        uint32_t cp = qr_utf8_next((const unsigned char *)p, n, &pos);
        if (cp == 0 || (cp == 0xFFFD && !(pos - at == 3 && (unsigned char)p[at] == 0xEF)))
            return 0;
    }
    return 1;
}

static quire_status parse_vocab_txt(qr_tok *tok, const char *data, size_t len, const char *path,
                                    quire_error *err)
{
    size_t n_lines = 0, next;
    for (size_t pos = 0; pos < len; pos += next) {
        line_len(data + pos, len - pos, &next);
        n_lines++;
    }
    if (n_lines > QR_TOK_MAX_VOCAB)
        return qr_err(err, QUIRE_FORMAT, "%s: more than %d lines", path, QR_TOK_MAX_VOCAB);
    quire_status rc = qr_tok_reserve(tok, (int)n_lines, len + n_lines, err, path);
    if (rc != QUIRE_OK)
        return rc;
    size_t used = 0, id = 0;
    for (size_t pos = 0; pos < len; pos += next, id++) {
        size_t n = line_len(data + pos, len - pos, &next);
        if (!piece_valid(data + pos, n))
            return qr_err(err, QUIRE_FORMAT, "%s: line %zu: invalid UTF-8 or NUL byte", path,
                          id + 1);
        memcpy(tok->pool + used, data + pos, n);
        tok->pool[used + n] = '\0';
        tok->off[id] = (uint32_t)used;
        tok->len[id] = (uint32_t)n;
        used += n + 1;
    }
    return QUIRE_OK;
}

quire_status qr_tok_load_vocab_names(const char *path, const qr_tok_opts *opts,
                                     const qr_tok_names *names, qr_tok **out,
                                     quire_error *err)
{
    if (!out || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_load_vocab: NULL argument");
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    quire_status rc = qr_file_read(path, VOCAB_FILE_MAX, &data, &len, err);
    if (rc != QUIRE_OK)
        return rc;
    qr_tok *tok = qr_tok_alloc();
    if (!tok) {
        rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (len == 0) {
        rc = qr_err(err, QUIRE_FORMAT, "%s: empty vocabulary", path);
        goto done;
    }
    qr_tok_apply_opts(tok, opts);
    if ((rc = parse_vocab_txt(tok, data, len, path, err)) != QUIRE_OK)
        goto done;
    if ((rc = qr_tok_index(tok, names, path, err)) != QUIRE_OK)
        goto done;
    *out = tok;
    tok = NULL;
done:
    qr_tok_free(tok);
    qr_free(data);
    return rc;
}

quire_status qr_tok_load_vocab(const char *path, const qr_tok_opts *opts, qr_tok **out,
                               quire_error *err)
{
    return qr_tok_load_vocab_names(path, opts, NULL, out, err);
}

/* ---- accessors --------------------------------------------------------------------- */

qr_tok_opts qr_tok_default_opts(void)
{
    qr_tok_opts o = {1, -1, 1};
    return o;
}

void qr_tok_get_opts(const qr_tok *tok, qr_tok_opts *out)
{
    if (!tok || !out)
        return;
    out->lowercase = tok->lowercase;
    out->strip_accents = tok->strip;
    out->tokenize_cjk = tok->tokenize_cjk;
}

int qr_tok_vocab_size(const qr_tok *tok) { return tok ? tok->n_vocab : 0; }

const char *qr_tok_piece(const qr_tok *tok, int id)
{
    if (!tok || id < 0 || id >= tok->n_vocab)
        return NULL;
    return tok->pool + tok->off[id];
}

int qr_tok_cls(const qr_tok *tok) { return tok ? tok->cls : -1; }
int qr_tok_sep(const qr_tok *tok) { return tok ? tok->sep : -1; }
int qr_tok_unk(const qr_tok *tok) { return tok ? tok->unk : -1; }

/* A vocabulary without [PAD] still pads with some id: padded positions are masked out,
 * and 0 is BERT's convention. */
int qr_tok_pad(const qr_tok *tok)
{
    if (!tok)
        return -1;
    return tok->pad >= 0 ? tok->pad : 0;
}
