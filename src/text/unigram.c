/*
 * unigram.c — encoding with a SentencePiece Unigram tokenizer exactly as Hugging Face
 * `tokenizers` does it from tokenizer.json (see unigram.h for the stages).
 *
 * Details that decide ids, each as the Rust code has it:
 *  - Precompiled works per extended grapheme cluster (utf8proc's rules): a cluster of
 *    fewer than 6 bytes that starts with a charsmap key is replaced whole by the
 *    replacement of the shortest such key; other clusters go character by character.
 *  - WhitespaceSplit and Strip use Unicode White_Space; Metaspace replaces U+0020 only,
 *    prepends the replacement unless the piece already starts with it (scheme always,
 *    or first for the piece at original offset 0: the text's first segment, when no
 *    leading character was removed or skipped) and splits before every
 *    replacement character (MergedWithNext).
 *  - Viterbi in double precision over every vocabulary entry (added tokens included),
 *    candidates of increasing length, a later candidate replaces only if strictly
 *    better; a character without a one-character piece gets an unknown edge scored
 *    min_score - 10; consecutive unknowns fuse into one piece whose text is looked up
 *    again (normally giving unk_id).
 * Invalid UTF-8 in the input becomes U+FFFD first (HF only takes valid strings).
 *
 * A limit (max_tokens) on a long text does not normalise all of it: a prefix of the
 * text is encoded with its last two units (words / added tokens, the only ones a cut
 * can change) dropped, doubling the prefix until enough ids come out.
 */
#include <string.h>

#include <utf8proc.h>

#include "text/unigram.h"

#define K_UNK_PENALTY 10.0

/* ---- small growable buffers -------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static int sb_reserve(sbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->n + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more)
        cap *= 2;
    char *p = qr_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void sb_add(sbuf *b, const void *s, size_t n)
{
    if (n && sb_reserve(b, n) == 0) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

static void sb_free(sbuf *b)
{
    qr_free(b->p);
    memset(b, 0, sizeof(*b));
}

/* A list of units: an added-token id, or a word (bytes in words.p[off..off+len)). */
typedef struct unit {
    size_t off, len;
    int id; /* >= 0: added token; -1: word */
} unit;

typedef struct work {
    const qr_tok *tok;
    const qr_uni *u;
    sbuf words;   /* bytes of all words */
    sbuf units;   /* unit[] */
    sbuf a, b;    /* the normalizer's result and scratch */
    int lead;     /* see normalize */
    sbuf lat;     /* Viterbi lattice */
    sbuf path;    /* back-tracked nodes */
} work;

static int work_oom(const work *w)
{
    return w->words.oom || w->units.oom || w->a.oom || w->b.oom || w->lat.oom ||
           w->path.oom;
}

static void add_unit(work *w, size_t off, size_t len, int id)
{
    unit x = {off, len, id};
    sb_add(&w->units, &x, sizeof(x));
}

/* ---- characters ---------------------------------------------------------------------- */

/* Length of the UTF-8 character at s[0] (input is valid UTF-8 here). */
static size_t u8len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static uint32_t u8dec(const unsigned char *s, size_t n, size_t *pos)
{
    return qr_utf8_next(s, n, pos);
}

/* Rust char::is_whitespace (Unicode White_Space). */
static int is_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Start of the character that ends at s[end) (end > 0). */
static size_t prev_start(const unsigned char *s, size_t end)
{
    size_t i = end - 1;
    while (i > 0 && (s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* ---- normalizers --------------------------------------------------------------------- */

/* *lead is cleared when the output no longer starts with what input byte 0 became (the
 * first cluster was deleted): Metaspace's prepend scheme "first" needs that. */
static void precompiled(const qr_charsmap *cm, const sbuf *in, sbuf *out, int *lead)
{
    const unsigned char *s = (const unsigned char *)in->p;
    size_t n = in->n, pos = 0;
    out->n = 0;
    utf8proc_int32_t state = 0;
    while (pos < n) {
        /* one extended grapheme cluster [start, pos) */
        size_t start = pos;
        uint32_t prev = u8dec(s, n, &pos);
        while (pos < n) {
            size_t at = pos;
            uint32_t cp = u8dec(s, n, &at);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)cp,
                                                 &state))
                break;
            prev = cp;
            pos = at;
        }
        size_t rl;
        const char *r;
        if (pos - start < 6 && (r = qr_charsmap_first(cm, s + start, pos - start, &rl))) {
            sb_add(out, r, rl);
        } else {
            for (size_t c = start; c < pos;) {
                size_t cl = u8len(s[c]);
                if ((r = qr_charsmap_first(cm, s + c, cl, &rl)))
                    sb_add(out, r, rl);
                else
                    sb_add(out, s + c, cl);
                c += cl;
            }
        }
        if (start == 0 && out->n == 0)
            *lead = 0;
    }
}

static void replace(const qr_uni_norm *nm, const sbuf *in, sbuf *out, int *lead)
{
    const char *s = in->p;
    size_t n = in->n, i = 0;
    out->n = 0;
    while (i < n) {
        if (nm->min_run == 0) {
            if (n - i >= nm->pat_len && memcmp(s + i, nm->pat, nm->pat_len) == 0) {
                if (i == 0 && nm->content_len == 0)
                    *lead = 0;
                sb_add(out, nm->content, nm->content_len);
                i += nm->pat_len;
                continue;
            }
        } else {
            size_t j = i;
            int run = 0;
            while (n - j >= nm->pat_len && memcmp(s + j, nm->pat, nm->pat_len) == 0) {
                j += nm->pat_len;
                run++;
            }
            if (run >= nm->min_run) {
                if (i == 0 && nm->content_len == 0)
                    *lead = 0;
                sb_add(out, nm->content, nm->content_len);
                i = j;
                continue;
            }
            if (run > 0) { /* a shorter run stays as it is */
                sb_add(out, s + i, j - i);
                i = j;
                continue;
            }
        }
        size_t cl = u8len((unsigned char)s[i]);
        sb_add(out, s + i, cl);
        i += cl;
    }
}

static void strip(const qr_uni_norm *nm, const sbuf *in, sbuf *out, int *lead)
{
    out->n = 0;
    if (in->n == 0)
        return;
    const unsigned char *s = (const unsigned char *)in->p;
    size_t a = 0, b = in->n;
    while (nm->strip_left && a < b) {
        size_t at = a;
        if (!is_ws(u8dec(s, b, &at)))
            break;
        a = at;
    }
    while (nm->strip_right && b > a) {
        size_t ps = prev_start(s, b), at = ps;
        if (!is_ws(u8dec(s, b, &at)))
            break;
        b = ps;
    }
    if (a > 0)
        *lead = 0;
    sb_add(out, s + a, b - a);
}

/* Normalize seg[0..n) into w->a (the result); w->lead: the result still starts where
 * the segment did (no leading character removed), i.e. at original offset 0 for the
 * text's first segment. */
static void normalize(work *w, const char *seg, size_t n)
{
    w->lead = 1;
    w->a.n = 0;
    sb_add(&w->a, seg, n);
    for (int k = 0; k < w->u->n_norm; k++) {
        const qr_uni_norm *nm = &w->u->norm[k];
        if (nm->type == QR_UNI_PRECOMPILED)
            precompiled(&nm->cm, &w->a, &w->b, &w->lead);
        else if (nm->type == QR_UNI_REPLACE)
            replace(nm, &w->a, &w->b, &w->lead);
        else
            strip(nm, &w->a, &w->b, &w->lead);
        sbuf t = w->a;
        w->a = w->b;
        w->b = t;
    }
}

/* ---- pre-tokenizers ------------------------------------------------------------------ */

/* A piece list: pieces stored back to back in a string buffer, with an index of
 * (off, len, first) triples in another. */
typedef struct piece {
    size_t off, len;
    int first;
} piece;

static void add_piece(sbuf *idx, size_t off, size_t len, int first)
{
    piece p = {off, len, first};
    sb_add(idx, &p, sizeof(p));
}

static void ws_split(const char *s, const piece *in, sbuf *out_str, sbuf *out_idx)
{
    if (in->len == 0)
        return;
    const unsigned char *t = (const unsigned char *)s + in->off;
    size_t n = in->len, pos = 0, start = 0;
    while (pos < n) {
        size_t at = pos;
        uint32_t cp = u8dec(t, n, &at);
        if (is_ws(cp)) {
            if (pos > start) {
                add_piece(out_idx, out_str->n, pos - start, in->first && start == 0);
                sb_add(out_str, t + start, pos - start);
            }
            start = at;
        }
        pos = at;
    }
    if (pos > start) {
        add_piece(out_idx, out_str->n, pos - start, in->first && start == 0);
        sb_add(out_str, t + start, pos - start);
    }
}

static void metaspace(const qr_uni_pretok *pt, const char *s, const piece *in, sbuf *out_str,
                      sbuf *out_idx)
{
    size_t n = in->len;
    if (n == 0)
        return; /* an empty piece stays empty (s may be NULL then) */
    const char *t = s + in->off;
    size_t base = out_str->n;
    int starts = n >= pt->rep_len && memcmp(t, pt->rep, pt->rep_len) == 0;
    /* a text starting with a space starts with the replacement once it is replaced */
    if (t[0] == ' ')
        starts = 1;
    if (!starts && (pt->prepend == QR_PREPEND_ALWAYS ||
                    (pt->prepend == QR_PREPEND_FIRST && in->first)))
        sb_add(out_str, pt->rep, pt->rep_len);
    for (size_t i = 0; i < n; i++) {
        if (t[i] == ' ')
            sb_add(out_str, pt->rep, pt->rep_len);
        else
            sb_add(out_str, t + i, 1);
    }
    if (out_str->oom)
        return;
    if (!pt->split) {
        add_piece(out_idx, base, out_str->n - base, 0);
        return;
    }
    /* MergedWithNext: every replacement character starts a new piece */
    const char *o = out_str->p;
    size_t start = base, end = out_str->n;
    for (size_t i = base; i < end;) {
        if (end - i >= pt->rep_len && memcmp(o + i, pt->rep, pt->rep_len) == 0) {
            if (i > start) {
                add_piece(out_idx, start, i - start, 0);
                start = i;
            }
            i += pt->rep_len;
        } else {
            i++;
        }
    }
    if (end > start)
        add_piece(out_idx, start, end - start, 0);
}

/* Pre-tokenize s[0..n) (first: it starts the text) and append the words as units. */
static void pre_tokenize(work *w, const char *s, size_t n, int first)
{
    sbuf str[2] = {{0}, {0}}, idx[2] = {{0}, {0}};
    int cur = 0;
    sb_add(&str[0], s, n);
    add_piece(&idx[0], 0, n, first);
    for (int k = 0; k < w->u->n_pretok && !str[cur].oom && !idx[cur].oom; k++) {
        const qr_uni_pretok *pt = &w->u->pretok[k];
        int nx = 1 - cur;
        str[nx].n = idx[nx].n = 0;
        const piece *ps = (const piece *)idx[cur].p;
        size_t np = idx[cur].n / sizeof(piece);
        for (size_t i = 0; i < np; i++) {
            if (pt->type == QR_UNI_WS_SPLIT)
                ws_split(str[cur].p, &ps[i], &str[nx], &idx[nx]);
            else
                metaspace(pt, str[cur].p, &ps[i], &str[nx], &idx[nx]);
        }
        cur = nx;
    }
    if (!str[cur].oom && !idx[cur].oom) {
        const piece *ps = (const piece *)idx[cur].p;
        size_t np = idx[cur].n / sizeof(piece);
        for (size_t i = 0; i < np; i++) {
            if (ps[i].len == 0)
                continue;
            add_unit(w, w->words.n, ps[i].len, -1);
            sb_add(&w->words, str[cur].p + ps[i].off, ps[i].len);
        }
    } else {
        w->words.oom = 1;
    }
    for (int i = 0; i < 2; i++) {
        sb_free(&str[i]);
        sb_free(&idx[i]);
    }
}

/* ---- added tokens ------------------------------------------------------------------------ */

/* The longest added token (of the given kind) at s[i..n), or NULL. */
static const qr_uni_added *added_at(const qr_uni *u, const unsigned char *s, size_t n, size_t i,
                                    int normalized)
{
    if (!normalized && !(u->added_first[s[i] >> 3] & (1u << (s[i] & 7))))
        return NULL;
    for (int k = 0; k < u->n_added; k++) {
        const qr_uni_added *a = &u->added[k];
        if (a->normalized == normalized && a->len <= n - i && memcmp(s + i, a->content, a->len) == 0)
            return a;
    }
    return NULL;
}

/* Split s[0..n) on added tokens of the given kind; text parts go to fn. */
typedef void (*part_fn)(work *w, const char *s, size_t n, int first);

static void split_added(work *w, const char *text, size_t n, int normalized, int first,
                        part_fn fn)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0, i = 0;
    int k = 0;
    while (i < n) {
        const qr_uni_added *a = added_at(w->u, s, n, i, normalized);
        if (!a) {
            i++;
            continue;
        }
        size_t j = i, end = i + a->len;
        while (a->lstrip && j > start) {
            size_t ps = prev_start(s, j), at = ps;
            if (!is_ws(u8dec(s, j, &at)))
                break;
            j = ps;
        }
        while (a->rstrip && end < n) {
            size_t at = end;
            if (!is_ws(u8dec(s, n, &at)))
                break;
            end = at;
        }
        if (j > start)
            fn(w, text + start, j - start, first && k == 0);
        k++;
        add_unit(w, 0, 0, a->id);
        start = i = end;
    }
    if (start < n)
        fn(w, text + start, n - start, first && k == 0);
}

static void normalized_part(work *w, const char *s, size_t n, int first)
{
    pre_tokenize(w, s, n, first);
}

static void raw_part(work *w, const char *s, size_t n, int first)
{
    normalize(w, s, n); /* into w->a, which the steps below leave alone */
    if (w->a.oom)
        return;
    first = first && w->lead;
    if (w->u->has_normalized_added)
        split_added(w, w->a.p, w->a.n, 1, first, normalized_part);
    else
        pre_tokenize(w, w->a.p, w->a.n, first);
}

/* ---- Viterbi ----------------------------------------------------------------------------- */

typedef struct node {
    double score;
    int32_t start; /* -1: not reached */
    int32_t id;
} node;

/* Ids of one word appended through emit; returns 1 once the limit is reached. */
typedef struct out {
    int32_t *ids;
    size_t cap, n, limit;
} out;

static int emit(out *o, int32_t id)
{
    if (o->n >= o->limit)
        return 1;
    if (o->n < o->cap)
        o->ids[o->n] = id;
    o->n++;
    return o->n >= o->limit;
}

static int viterbi(work *w, const char *word, size_t n, out *o)
{
    const qr_tok *t = w->tok;
    const qr_uni *u = w->u;
    const unsigned char *s = (const unsigned char *)word;
    w->lat.n = 0;
    if (sb_reserve(&w->lat, (n + 1) * sizeof(node)) != 0)
        return 1;
    node *best = (node *)w->lat.p;
    for (size_t i = 0; i <= n; i++) {
        best[i].start = -1;
        best[i].score = 0;
        best[i].id = -1;
    }
    double unk_score = u->min_score - K_UNK_PENALTY;
    for (size_t st = 0; st < n;) {
        double here = best[st].score;
        size_t mblen = u8len(s[st]);
        if (mblen > n - st)
            mblen = n - st;
        int single = 0;
        size_t stop = n - st < t->max_piece_len ? n : st + t->max_piece_len;
        uint32_t h = QR_TOK_HASH_INIT;
        for (size_t e = st + 1; e <= stop; e++) {
            h = (h ^ s[e - 1]) * QR_TOK_HASH_PRIME;
            if (e < n && (s[e] & 0xC0) == 0x80)
                continue;
            int id = qr_tok_find(t, h, word + st, e - st, "", 0);
            if (id < 0)
                continue;
            double cand = u->score[id] + here;
            if (best[e].start < 0 || cand > best[e].score) {
                best[e].score = cand;
                best[e].start = (int32_t)st;
                best[e].id = id;
            }
            if (e - st == mblen)
                single = 1;
        }
        if (!single) {
            size_t e = st + mblen;
            double cand = unk_score + here;
            if (best[e].start < 0 || cand > best[e].score) {
                best[e].score = cand;
                best[e].start = (int32_t)st;
                best[e].id = u->unk_id;
            }
        }
        st += mblen;
    }
    /* back-track into path (reversed), fusing runs of unknowns */
    w->path.n = 0;
    for (size_t e = n; e > 0;) {
        size_t st = (size_t)best[e].start;
        int32_t id = best[e].id;
        if (id == u->unk_id) {
            size_t run_end = e;
            while (st > 0 && best[st].id == u->unk_id)
                st = (size_t)best[st].start;
            int fid = qr_tok_find(t, qr_tok_hash2(word + st, run_end - st, "", 0), word + st,
                                  run_end - st, "", 0);
            id = fid >= 0 ? fid : u->unk_id;
        }
        sb_add(&w->path, &id, sizeof(id));
        e = st;
    }
    if (w->path.oom)
        return 1;
    const int32_t *p = (const int32_t *)w->path.p;
    for (size_t k = w->path.n / sizeof(int32_t); k > 0; k--) {
        if (emit(o, p[k - 1]))
            return 1;
    }
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------- */

/* Encode text[0..len) into o. prefix: text is a cut of a longer text, so its last two
 * units are dropped. Returns QUIRE_OK or QUIRE_NOMEM. */
static quire_status encode_units(work *w, const char *text, size_t len, int prefix, out *o)
{
    w->words.n = w->units.n = 0;
    split_added(w, text, len, 0, 1, raw_part);
    if (work_oom(w))
        return QUIRE_NOMEM;
    size_t nu = w->units.n / sizeof(unit);
    if (prefix)
        nu = nu > 2 ? nu - 2 : 0;
    for (size_t i = 0; i < nu; i++) {
        const unit *x = (const unit *)w->units.p + i;
        int done = x->id >= 0 ? emit(o, x->id) : viterbi(w, w->words.p + x->off, x->len, o);
        if (work_oom(w))
            return QUIRE_NOMEM;
        if (done)
            break;
    }
    return QUIRE_OK;
}

/* A copy with every invalid UTF-8 sequence replaced by U+FFFD, or NULL when the text is
 * valid (*bad = 0) or on out of memory (*bad = 1). */
static char *sanitize(const char *text, size_t len, size_t *out_len, int *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0;
    *bad = 0;
    while (pos < len) {
        size_t at = pos;
        uint32_t cp = qr_utf8_next(s, len, &pos);
        if (cp == 0xFFFD && !(pos - at == 3 && s[at] == 0xEF)) {
            *bad = 1;
            break;
        }
    }
    if (!*bad)
        return NULL;
    sbuf b = {0};
    for (pos = 0; pos < len;) {
        size_t at = pos;
        uint32_t cp = qr_utf8_next(s, len, &pos);
        if (cp == 0xFFFD)
            sb_add(&b, "\xEF\xBF\xBD", 3);
        else
            sb_add(&b, s + at, pos - at);
    }
    if (b.oom) {
        sb_free(&b);
        return NULL;
    }
    *out_len = b.n;
    sb_add(&b, "", 1);
    *bad = 0;
    return b.p;
}

quire_status qr_uni_encode(const qr_tok *tok, const char *text, size_t len, int max_tokens,
                           int add_special, int32_t *ids, size_t cap, size_t *n_ids,
                           quire_error *err)
{
    const qr_uni *u = tok->uni;
    size_t frame = add_special ? (size_t)(u->n_pre + u->n_post) : 0;
    if (max_tokens > 0 && (size_t)max_tokens < frame)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_tok_encode: max_tokens %d leaves no room "
                      "for the %zu special tokens", max_tokens, frame);
    int bad = 0;
    size_t clean_len = 0;
    char *clean = sanitize(text, len, &clean_len, &bad);
    if (bad)
        return qr_err(err, QUIRE_NOMEM, "qr_tok_encode: out of memory");
    if (clean) {
        text = clean;
        len = clean_len;
    }
    out o = {ids, cap, 0, SIZE_MAX};
    if (add_special) {
        for (int i = 0; i < u->n_pre; i++)
            emit(&o, u->pre[i]);
    }
    size_t limit = max_tokens > 0 ? (size_t)max_tokens - frame : SIZE_MAX;
    o.limit = limit == SIZE_MAX ? SIZE_MAX : o.n + limit;
    work w;
    memset(&w, 0, sizeof(w));
    w.tok = tok;
    w.u = u;
    quire_status rc = QUIRE_OK;
    size_t start_n = o.n;
    if (limit > 0) {
        /* a long text under a limit: encode growing prefixes */
        size_t cut = limit == SIZE_MAX ? len : 16 * limit + 1024;
        for (;;) {
            if (cut >= len) {
                o.n = start_n;
                rc = encode_units(&w, text, len, 0, &o);
                break;
            }
            size_t c = cut;
            while (c > 0 && ((unsigned char)text[c] & 0xC0) == 0x80)
                c--;
            o.n = start_n;
            rc = encode_units(&w, text, c, 1, &o);
            if (rc != QUIRE_OK || o.n >= o.limit)
                break;
            cut = cut > len / 2 ? len : cut * 2;
        }
    }
    o.limit = SIZE_MAX;
    if (add_special) {
        for (int i = 0; i < u->n_post; i++)
            emit(&o, u->post[i]);
    }
    sb_free(&w.words);
    sb_free(&w.units);
    sb_free(&w.a);
    sb_free(&w.b);
    sb_free(&w.lat);
    sb_free(&w.path);
    qr_free(clean);
    if (rc != QUIRE_OK)
        return qr_err(err, rc, "qr_tok_encode: out of memory");
    *n_ids = o.n;
    return QUIRE_OK;
}
