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
 * max_chars characters is enough and the walk never needs memory proportional to the
 * input; it also stops as soon as max_tokens ids exist, so a 10 MB line costs no more
 * than its first few hundred words.
 *
 * Where the time goes: printable ASCII skips every Unicode step through one table
 * lookup, the word is kept as UTF-8 (what the vocabulary lookup hashes), and the hashes
 * of all candidate pieces of a word come from one pass over its bytes.
 */
#include <string.h>

#include "text/unigram.h"

#define STACK_CHARS 128 /* words up to this limit use stack scratch (HF default 100) */

typedef struct enc {
    const qr_tok *tok;
    const unsigned char *text;
    size_t len;
    int32_t *ids;     /* caller's output, cap entries */
    size_t cap;
    size_t n;         /* ids produced so far, [CLS] included */
    size_t limit;     /* stop adding word pieces when n reaches this */
    char *word;       /* (4 * max_chars) the current word in UTF-8 */
    size_t word_len;  /* its bytes */
    size_t n_word;    /* its characters; above max_chars they are only counted */
    size_t run_start; /* canonical ordering never moves a mark before this byte */
    int prev_cased;   /* Final_Sigma left context: last non-ignorable char was cased */
    uint32_t *hash;   /* (4 * max_chars + 1) hash[end]: piece hash of word[start..end) */
    int32_t *pieces;  /* (max_chars) ids of a word, kept until all of it matched */
} enc;

/* ---- ASCII ------------------------------------------------------------------------- */

enum { A_ALNUM = 1, A_UPPER = 2, A_ALPHA = 4, A_SPACE = 8, A_PUNCT = 16, A_IGNORABLE = 32 };

/* Flags of printable ASCII and the four whitespace controls; 0 (other controls, DEL,
 * non-ASCII) sends a byte to the slow path. BERT counts every printable ASCII
 * character that is not a letter or digit as punctuation. */
#define AF(c)                                                                             \
    (unsigned char)(((c) >= 'a' && (c) <= 'z')   ? (A_ALNUM | A_ALPHA)                    \
                    : ((c) >= 'A' && (c) <= 'Z') ? (A_ALNUM | A_ALPHA | A_UPPER)          \
                    : ((c) >= '0' && (c) <= '9') ? A_ALNUM                                \
                    : ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r') ? A_SPACE \
                    : ((c) > ' ' && (c) < 0x7F)                                           \
                        ? (A_PUNCT | (((c) == '\'' || (c) == '.' || (c) == ':' ||         \
                                       (c) == '^' || (c) == '`') ? A_IGNORABLE : 0))      \
                        : 0)
#define AF8(c) AF(c), AF(c + 1), AF(c + 2), AF(c + 3), AF(c + 4), AF(c + 5), AF(c + 6), AF(c + 7)
static const unsigned char ascii_tab[256] = { /* 128..255 (UTF-8 bytes) are 0 */
    AF8(0),  AF8(8),  AF8(16), AF8(24), AF8(32),  AF8(40),  AF8(48),  AF8(56),
    AF8(64), AF8(72), AF8(80), AF8(88), AF8(96), AF8(104), AF8(112), AF8(120),
};
#undef AF8
#undef AF

/* ---- output and WordPiece ------------------------------------------------------------ */

/* Append one id; returns 1 once the limit is reached (stop everything). */
static int emit(enc *e, int id)
{
    if (e->n < e->cap)
        e->ids[e->n] = id;
    e->n++;
    return e->n >= e->limit;
}

/* Longest piece word[start..end) (with the prefix unless start is 0), or -1; *end_out
 * gets its end. The hashes of all candidate lengths come from one forward pass. */
static int longest_piece(enc *e, size_t start, size_t *end_out)
{
    const qr_tok *t = e->tok;
    const unsigned char *w = (const unsigned char *)e->word;
    size_t pre = start ? t->prefix_len : 0;
    if (pre >= t->max_piece_len)
        return -1;
    /* no piece is longer than max_piece_len: ends beyond that cannot match */
    size_t stop = e->word_len - start <= t->max_piece_len - pre ? e->word_len
                                                                : start + t->max_piece_len - pre;
    uint32_t h = start ? t->prefix_hash : QR_TOK_HASH_INIT;
    for (size_t i = start; i < stop; i++) {
        h = (h ^ w[i]) * QR_TOK_HASH_PRIME;
        e->hash[i + 1] = h;
    }
    for (size_t end = stop; end > start; end--) {
        if (end < e->word_len && (w[end] & 0xC0) == 0x80)
            continue; /* inside a character */
        int id = qr_tok_find(t, e->hash[end], t->prefix, pre, e->word + start, end - start);
        if (id >= 0) {
            *end_out = end;
            return id;
        }
    }
    return -1;
}

/* Greedy longest-match-first. A word with any unmatched rest is a single [UNK], so the
 * pieces are collected first and emitted only when the whole word matched. */
static int wordpiece(enc *e)
{
    size_t n_pieces = 0;
    for (size_t start = 0, end = 0; start < e->word_len; start = end) {
        int id = longest_piece(e, start, &end);
        if (id < 0)
            return emit(e, e->tok->unk);
        e->pieces[n_pieces++] = id;
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
    e->n_word = e->word_len = e->run_start = 0;
    return done;
}

static int end_token(enc *e)
{
    e->prev_cased = 0;
    return flush_word(e);
}

/* ---- building words -------------------------------------------------------------------- */

/* Start of the character that ends at byte end of the word. */
static size_t prev_char(const enc *e, size_t end)
{
    do
        end--;
    while (end > 0 && ((unsigned char)e->word[end] & 0xC0) == 0x80);
    return end;
}

/* Add a character to the word. ccc != 0 only when we are producing NFD: then the mark
 * moves before the marks of a higher class in the current run (canonical ordering). */
static void word_push(enc *e, uint32_t cp, int ccc)
{
    if (e->n_word++ >= (size_t)e->tok->max_chars)
        return; /* the word is [UNK] already; only its length matters */
    char buf[4];
    size_t k = qr_utf8_put(cp, buf);
    size_t at = e->word_len;
    while (ccc != 0 && at > e->run_start) {
        size_t p = prev_char(e, at);
        size_t pos = p;
        uint32_t prev = qr_utf8_next((const unsigned char *)e->word, e->word_len, &pos);
        if (qr_uni_ccc(prev) <= ccc)
            break;
        at = p;
    }
    memmove(e->word + at + k, e->word + at, e->word_len - at);
    memcpy(e->word + at, buf, k);
    e->word_len += k;
    if (ccc == 0)
        e->run_start = e->word_len;
}

/* A punctuation character is a word of its own. */
static int punct_word(enc *e, uint32_t cp)
{
    if (flush_word(e))
        return 1;
    word_push(e, cp, 0);
    return flush_word(e);
}

/* A character after lowercasing and accent stripping. */
static int piece_char(enc *e, uint32_t cp, int ccc)
{
    if (qr_uni_is_punct(cp))
        return punct_word(e, cp);
    word_push(e, cp, ccc);
    return 0;
}

/* NFD and drop Mn (when stripping accents), then on to punctuation splitting. */
static int word_char(enc *e, uint32_t cp)
{
    if (!e->tok->strip || cp < 0xC0)
        return piece_char(e, cp, 0);
    qr_uni_part d[8];
    int nd = qr_uni_nfd(cp, d);
    for (int i = 0; i < nd; i++) {
        if (d[i].mn) {
            if (d[i].ccc == 0)
                e->run_start = e->word_len; /* a starter ends the run even when dropped */
            continue;
        }
        int done = d[i].punct ? punct_word(e, d[i].cp) : (word_push(e, d[i].cp, d[i].ccc), 0);
        if (done)
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
        int sc = qr_uni_sigma_class(cp);
        if (sc != QR_SIGMA_IGNORABLE)
            return sc == QR_SIGMA_CASED;
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
    int sc = qr_uni_sigma_class(cp);
    if (sc != QR_SIGMA_IGNORABLE)
        e->prev_cased = sc == QR_SIGMA_CASED;
    uint32_t low[2];
    int nl = qr_uni_lower(cp, final_sigma, low);
    for (int i = 0; i < nl; i++) {
        if (word_char(e, low[i]))
            return 1;
    }
    return 0;
}

/* Any character outside the ASCII fast path; returns 1 to stop. */
static int slow_char(enc *e, size_t *pos)
{
    const qr_tok *t = e->tok;
    uint32_t cp = qr_utf8_next(e->text, e->len, pos);
    int cls = qr_uni_class(cp, t->clean_text, t->tokenize_cjk);
    if (cls == QR_CH_DROP)
        return 0;
    if (cls == QR_CH_SPACE)
        return end_token(e);
    if (cls == QR_CH_CJK)
        return end_token(e) || token_char(e, cp, *pos) || end_token(e);
    return token_char(e, cp, *pos);
}

/* A run of ASCII letters and digits, the bulk of most text, in a tight loop over
 * locals (stores into the char buffer would otherwise force reloads of enc's fields).
 * Returns the position after the run. */
static size_t ascii_run(enc *e, size_t pos)
{
    const unsigned char *text = e->text;
    size_t start = pos, len = e->len, wl = e->word_len;
    size_t max = (size_t)e->tok->max_chars;
    size_t room = e->n_word < max ? max - e->n_word : 0; /* chars we still store */
    unsigned fold = e->tok->lowercase ? 0x20 : 0;
    char *w = e->word;
    for (; pos < len; pos++) {
        unsigned c = text[pos], f = ascii_tab[c];
        if (!(f & A_ALNUM))
            break;
        if (pos - start < room)
            w[wl++] = (char)(c | ((f & A_UPPER) ? fold : 0));
    }
    e->n_word += pos - start;
    e->word_len = wl;
    e->run_start = wl;
    if (fold)
        e->prev_cased = (ascii_tab[text[pos - 1]] & A_ALPHA) != 0;
    return pos;
}

/* ASCII punctuation or whitespace; returns 1 to stop. */
static int ascii_other(enc *e, unsigned c, unsigned f)
{
    if (f & A_SPACE)
        return end_token(e);
    if (!(f & A_IGNORABLE))
        e->prev_cased = 0;
    /* punctuation: its id was looked up at load time */
    return flush_word(e) || emit(e, e->tok->ascii_id[c]);
}

static void run(enc *e)
{
    size_t pos = 0;
    while (pos < e->len) {
        unsigned c = e->text[pos], f = ascii_tab[c];
        int done;
        if (f & A_ALNUM) {
            pos = ascii_run(e, pos);
            continue;
        }
        if (f) {
            pos++;
            done = ascii_other(e, c, f);
        } else {
            done = slow_char(e, &pos);
        }
        if (done)
            return;
    }
    end_token(e);
}

/* ---- entry point ------------------------------------------------------------------------- */

/* Scratch for one call: on the stack for the usual max_chars, else on the heap. */
typedef struct scratch {
    char word[4 * STACK_CHARS];
    uint32_t hash[4 * STACK_CHARS + 1];
    int32_t pieces[STACK_CHARS];
} scratch;

static void *scratch_init(enc *e, scratch *s)
{
    size_t m = (size_t)e->tok->max_chars;
    if (m <= STACK_CHARS) {
        e->word = s->word;
        e->hash = s->hash;
        e->pieces = s->pieces;
        return s;
    }
    /* one block of 4-byte items: hash (4 m + 1), pieces (m), then word (4 m bytes) */
    uint32_t *p = qr_malloc((6 * m + 1) * sizeof(uint32_t));
    if (!p)
        return NULL;
    e->hash = p;
    e->pieces = (int32_t *)(p + 4 * m + 1);
    e->word = (char *)(p + 5 * m + 1);
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
    if (tok->uni)
        return qr_uni_encode(tok, text, len, max_tokens, add_special, ids, cap, n_ids, err);
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
