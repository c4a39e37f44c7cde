/*
 * wordpiece.c — encoding: BERT's BasicTokenizer and WordPiece in one streaming pass.
 *
 * Hugging Face's BertTokenizer runs whole-text stages (clean, space CJK, split on
 * whitespace, then per token: lowercase, NFD, drop Mn, split punctuation) and then
 * WordPiece on each word. The same result comes out of a single left-to-right walk,
 * because every stage only looks at one character, except:
 *  - Final_Sigma (lowercase of U+03A3 depends on its neighbours in the token): we keep
 *    the left context in a flag and scan the right context on demand;
 *  - canonical ordering inside NFD (marks of one run sorted by combining class): we
 *    insertion-sort the marks we keep, within the current run.
 * Words longer than max_chars become [UNK] whatever they contain, so a word buffer of
 * max_chars code points is enough and the walk never needs memory proportional to
 * the input; it also stops as soon as max_tokens ids exist, so a 10 MB line costs no
 * more than its first few hundred words.
 */
#include <string.h>

#include "text/text_int.h"

#define STACK_CHARS 128 /* words up to this limit use stack scratch (HF default 100) */

typedef struct enc {
    const qr_tok *tok;
    const unsigned char *text;
    size_t len;
    int32_t *ids;      /* caller's output, cap entries */
    size_t cap;
    size_t n;          /* ids produced so far, [CLS] included */
    size_t limit;      /* stop adding word pieces when n reaches this */
    uint32_t *word;    /* (max_chars) code points of the current word */
    size_t n_word;     /* its length; above max_chars the chars are only counted */
    size_t run_start;  /* canonical ordering never moves a mark before this index */
    int prev_cased;    /* Final_Sigma left context: last non-ignorable char was cased */
    char *bytes;       /* (4 * max_chars) the word in UTF-8 */
    uint32_t *cut;     /* (max_chars + 1) byte offset where each char starts */
    int32_t *pieces;   /* (max_chars) ids of a word, kept until all of it matched */
} enc;

/* Append one id; returns 1 once the limit is reached (stop everything). */
static int emit(enc *e, int id)
{
    if (e->n < e->cap)
        e->ids[e->n] = id;
    e->n++;
    return e->n >= e->limit;
}

/* Greedy longest-match-first. A word with any unmatched rest is a single [UNK], so the
 * pieces are collected first and emitted only when the whole word matched. */
static int wordpiece(enc *e)
{
    const qr_tok *t = e->tok;
    size_t nb = 0;
    for (size_t i = 0; i < e->n_word; i++) {
        e->cut[i] = (uint32_t)nb;
        nb += qr_utf8_put(e->word[i], e->bytes + nb);
    }
    e->cut[e->n_word] = (uint32_t)nb;
    size_t n_pieces = 0;
    for (size_t start = 0; start < e->n_word;) {
        size_t pre = start ? t->prefix_len : 0;
        size_t end = e->n_word;
        /* no piece is longer than max_piece_len: skip lookups that cannot succeed */
        while (end > start && pre + e->cut[end] - e->cut[start] > t->max_piece_len)
            end--;
        int id = -1;
        for (; end > start; end--) {
            id = qr_tok_lookup2(t, t->prefix, pre, e->bytes + e->cut[start],
                                e->cut[end] - e->cut[start]);
            if (id >= 0)
                break;
        }
        if (id < 0)
            return emit(e, t->unk);
        e->pieces[n_pieces++] = id;
        start = end;
    }
    for (size_t i = 0; i < n_pieces; i++) {
        if (emit(e, e->pieces[i]))
            return 1;
    }
    return 0;
}

static int flush_word(enc *e)
{
    if (e->n_word == 0)
        return 0;
    int done;
    if (e->n_word > (size_t)e->tok->max_chars)
        done = emit(e, e->tok->unk);
    else
        done = wordpiece(e);
    e->n_word = 0;
    e->run_start = 0;
    return done;
}

static int end_token(enc *e)
{
    e->prev_cased = 0;
    return flush_word(e);
}

/* Add a character to the word. ccc != 0 only when we are producing NFD. */
static void word_push(enc *e, uint32_t cp, int ccc)
{
    size_t i = e->n_word++;
    if (i >= (size_t)e->tok->max_chars)
        return; /* the word is [UNK] already; keep counting for nothing else */
    if (ccc == 0) {
        e->word[i] = cp;
        e->run_start = i + 1;
        return;
    }
    while (i > e->run_start && qr_uni_ccc(e->word[i - 1]) > ccc) {
        e->word[i] = e->word[i - 1];
        i--;
    }
    e->word[i] = cp;
}

/* A character after lowercasing and accent stripping: punctuation is a word of its own. */
static int piece_char(enc *e, uint32_t cp, int ccc)
{
    if (!qr_uni_is_punct(cp)) {
        word_push(e, cp, ccc);
        return 0;
    }
    if (flush_word(e))
        return 1;
    word_push(e, cp, 0);
    return flush_word(e);
}

/* NFD and drop Mn (when stripping accents), then on to punctuation splitting. */
static int word_char(enc *e, uint32_t cp)
{
    if (!e->tok->strip || cp < 0xC0)
        return piece_char(e, cp, 0);
    uint32_t d[8];
    int nd = qr_uni_nfd(cp, d);
    for (int i = 0; i < nd; i++) {
        int ccc = qr_uni_ccc(d[i]);
        if (qr_uni_is_mn(d[i])) {
            if (ccc == 0)
                e->run_start = e->n_word; /* a starter ends the run even when dropped */
            continue;
        }
        if (piece_char(e, d[i], ccc))
            return 1;
    }
    return 0;
}

/* Final_Sigma right context: is the next non-case-ignorable character of this token
 * cased? The token ends at whitespace, at a CJK ideograph or at the end of the text;
 * characters that cleaning drops are not part of it. */
static int cased_follows(const enc *e, size_t pos)
{
    const qr_tok *t = e->tok;
    while (pos < e->len) {
        uint32_t cp = qr_utf8_next(e->text, e->len, &pos);
        int cls = qr_uni_class(cp, t->clean_text, t->tokenize_cjk);
        if (cls == QR_CH_DROP)
            continue;
        if (cls != QR_CH_OTHER)
            return 0;
        if (!qr_uni_case_ignorable(cp))
            return qr_uni_cased(cp);
    }
    return 0;
}

/* One character of a whitespace-separated token; pos is where the next one starts. */
static int token_char(enc *e, uint32_t cp, size_t pos)
{
    if (!e->tok->lowercase)
        return word_char(e, cp);
    int final_sigma = 0;
    if (cp == 0x3A3)
        final_sigma = e->prev_cased && !cased_follows(e, pos);
    if (!qr_uni_case_ignorable(cp))
        e->prev_cased = qr_uni_cased(cp);
    uint32_t low[2];
    int nl = qr_uni_lower(cp, final_sigma, low);
    for (int i = 0; i < nl; i++) {
        if (word_char(e, low[i]))
            return 1;
    }
    return 0;
}

/* ASCII letters and digits are most of the input and need none of the Unicode steps:
 * not control, space, CJK, punctuation, case-ignorable or decomposable. */
static int ascii_alnum(uint32_t c)
{
    return (c - 'a' < 26u) || (c - 'A' < 26u) || (c - '0' < 10u);
}

static void run(enc *e)
{
    const qr_tok *t = e->tok;
    size_t pos = 0;
    while (pos < e->len) {
        uint32_t cp = e->text[pos];
        if (ascii_alnum(cp)) {
            pos++;
            if (t->lowercase) {
                e->prev_cased = cp > '9';
                cp |= cp > '9' ? 0x20 : 0; /* 'A'..'Z' -> 'a'..'z' */
            }
            word_push(e, cp, 0);
            continue;
        }
        cp = qr_utf8_next(e->text, e->len, &pos);
        int cls = qr_uni_class(cp, t->clean_text, t->tokenize_cjk);
        int done = 0;
        if (cls == QR_CH_DROP)
            continue;
        if (cls == QR_CH_SPACE)
            done = end_token(e);
        else if (cls == QR_CH_CJK)
            done = end_token(e) || token_char(e, cp, pos) || end_token(e);
        else
            done = token_char(e, cp, pos);
        if (done)
            return;
    }
    end_token(e);
}

/* Scratch for one call: on the stack for the usual max_chars, else on the heap. */
typedef struct scratch {
    uint32_t word[STACK_CHARS];
    char bytes[4 * STACK_CHARS];
    uint32_t cut[STACK_CHARS + 1];
    int32_t pieces[STACK_CHARS];
} scratch;

static void *scratch_init(enc *e, scratch *s)
{
    size_t m = (size_t)e->tok->max_chars;
    if (m <= STACK_CHARS) {
        e->word = s->word;
        e->bytes = s->bytes;
        e->cut = s->cut;
        e->pieces = s->pieces;
        return s;
    }
    /* one block: word, cut, pieces (4-byte items), then bytes */
    unsigned char *p = qr_malloc(m * 4 + (m + 1) * 4 + m * 4 + m * 4);
    if (!p)
        return NULL;
    e->word = (uint32_t *)p;
    e->cut = (uint32_t *)(p + m * 4);
    e->pieces = (int32_t *)(p + m * 4 + (m + 1) * 4);
    e->bytes = (char *)(p + m * 4 + (m + 1) * 4 + m * 4);
    return p;
}

quire_status qr_tok_encode(const qr_tok *tok, const char *text, size_t len, int max_tokens,
                           int add_special, int32_t *ids, size_t cap, size_t *n_ids,
                           quire_error *err)
{
    if (n_ids)
        *n_ids = 0;
    if (!tok || !n_ids || (!text && len) || (!ids && cap))
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_encode: NULL argument");
    if (add_special && max_tokens == 1)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_encode: max_tokens 1 leaves no room "
                      "for [CLS] and [SEP]");
    enc e;
    memset(&e, 0, sizeof(e));
    e.tok = tok;
    e.text = (const unsigned char *)text;
    e.len = len;
    e.ids = ids;
    e.cap = cap;
    e.limit = SIZE_MAX;
    if (max_tokens > 0)
        e.limit = (size_t)max_tokens - (add_special ? 1 : 0); /* room for [SEP] */
    scratch s;
    void *mem = scratch_init(&e, &s);
    if (!mem)
        return qr_err(err, QUIRE_NOMEM, "qr_tok_encode: out of memory");
    if (add_special)
        emit(&e, tok->cls);
    if (e.n < e.limit)
        run(&e);
    if (add_special) {
        e.limit = SIZE_MAX;
        emit(&e, tok->sep);
    }
    if (mem != &s)
        qr_free(mem);
    *n_ids = e.n;
    return QUIRE_OK;
}
