/*
 * text_int.h — private to src/text: the tokenizer's layout, the vocabulary builder
 * shared by the vocab.txt and tokenizer.json loaders, and the Unicode helpers used
 * by the encoder.
 *
 * Vocabulary layout: every piece is stored once, NUL-terminated, in `pool`; `off[id]`
 * and `len[id]` locate it. `slots` is an open-addressing hash table (linear probing,
 * power-of-two size, load <= 0.5) from piece bytes to id, so a lookup hashes the bytes
 * once and compares a few slots without allocating.
 */
#ifndef QR_TEXT_INT_H
#define QR_TEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "text/text.h"

#define QR_TOK_PREFIX_MAX 32        /* longest continuing_subword_prefix we accept */
#define QR_TOK_MAX_CHARS_LIMIT 4096 /* largest max_input_chars_per_word we accept */
#define QR_TOK_MAX_VOCAB (1 << 24)  /* ids must fit comfortably in int32 and the pool */

typedef struct qr_tok_slot {
    uint32_t hash; /* full hash of the piece, compared before the bytes */
    int32_t id;    /* -1 = empty slot */
} qr_tok_slot;

struct qr_tok {
    int n_vocab;
    char *pool;    /* (pool_len) all pieces, each NUL-terminated */
    size_t pool_len;
    uint32_t *off; /* (n_vocab) start of piece id in pool */
    uint32_t *len; /* (n_vocab) bytes of piece id, without the NUL */
    qr_tok_slot *slots;
    size_t mask;          /* number of slots - 1 */
    size_t max_piece_len; /* longest piece in bytes: bounds the WordPiece search */

    int unk, cls, sep, pad;
    int max_chars; /* max_input_chars_per_word: longer words become [UNK] */
    char prefix[QR_TOK_PREFIX_MAX + 1];
    size_t prefix_len;
    uint32_t prefix_hash; /* hash state after the prefix: continuation lookups start here */
    int32_t ascii_id[128]; /* id of each 1-byte piece, [UNK] when absent (punctuation) */

    /* normalizer flags (0 or 1); strip_cfg is -1 (follow lowercase), 0 or 1 and is
     * resolved into strip by qr_tok_index */
    int clean_text;
    int lowercase;
    int strip_cfg;
    int strip;
    int tokenize_cjk;

    struct qr_uni *uni; /* set for a SentencePiece Unigram tokenizer (unigram.h) */
};

/* Names of the special tokens to resolve after the pieces are in place. */
typedef struct qr_tok_names {
    const char *unk, *cls, *sep, *pad;
} qr_tok_names;

/* ---- vocab.c ---------------------------------------------------------------------- */

/* A new empty tokenizer with HF BERT defaults (lowercase, CJK, clean, "##", 100). */
qr_tok *qr_tok_alloc(void);
/* opts.strip_accents value that forces "follow lowercase" (tokenizer_config.json's
 * null), where -1 would keep what tokenizer.json says. */
#define QR_TOK_STRIP_FOLLOW (-2)

/* Apply opts (NULL = none) on top of the current flags: fields >= 0 replace them. */
void qr_tok_apply_opts(qr_tok *tok, const qr_tok_opts *opts);
/* Reserve pool and per-id arrays for n pieces of pool_len bytes in total (NULs incl.). */
quire_status qr_tok_reserve(qr_tok *tok, int n, size_t pool_len, quire_error *err,
                            const char *path);
/* Build the hash table from off/len/pool (later duplicates win, like HF's dict) and
 * resolve the special ids. Errors name path. */
quire_status qr_tok_index(qr_tok *tok, const qr_tok_names *names, const char *path,
                          quire_error *err);
/* Load vocab.txt with explicit special-token names (NULL = defaults). */
quire_status qr_tok_load_vocab_names(const char *path, const qr_tok_opts *opts,
                                     const qr_tok_names *names, qr_tok **out,
                                     quire_error *err);
/* The piece hash (FNV-1a) is built incrementally, so WordPiece can hash every prefix of
 * a word in one pass: h = qr_tok_hash_more(QR_TOK_HASH_INIT, bytes, n). */
#define QR_TOK_HASH_INIT 2166136261u
#define QR_TOK_HASH_PRIME 16777619u
static inline uint32_t qr_tok_hash_more(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * QR_TOK_HASH_PRIME;
    return h;
}
/* Hash of the concatenation a[0..na) b[0..nb) (either may be empty). */
uint32_t qr_tok_hash2(const char *a, size_t na, const char *b, size_t nb);
/* Id of the piece a||b, or -1; qr_tok_find takes its hash h ready-made. */
int qr_tok_lookup2(const qr_tok *tok, const char *a, size_t na, const char *b, size_t nb);
int qr_tok_find(const qr_tok *tok, uint32_t h, const char *a, size_t na, const char *b,
                size_t nb);

/* ---- unicode.c -------------------------------------------------------------------- */

/* Decode one code point from s[*pos..len); invalid or truncated sequences (overlong
 * forms, surrogates, > U+10FFFF, stray continuation bytes) consume one byte and give
 * U+FFFD. Requires *pos < len. */
uint32_t qr_utf8_next(const unsigned char *s, size_t len, size_t *pos);
/* Encode cp (<= U+10FFFF) into out (4 bytes available); returns the byte count. */
size_t qr_utf8_put(uint32_t cp, char *out);

enum {
    QR_CH_OTHER = 0,
    QR_CH_DROP,  /* removed by clean_text: NUL, U+FFFD, control/format/unassigned */
    QR_CH_SPACE, /* splits words */
    QR_CH_CJK    /* CJK ideograph: a word of its own */
};
/* Class of a raw input character under the given flags. */
int qr_uni_class(uint32_t cp, int clean_text, int tokenize_cjk);
int qr_uni_is_punct(uint32_t cp);
/* Python str.lower() for one code point of a word: out gets 1 or 2 code points;
 * final_sigma selects U+03C2 for U+03A3. Returns the count. */
int qr_uni_lower(uint32_t cp, int final_sigma, uint32_t out[2]);
/* Final_Sigma classes: Case_Ignorable (checked first), else Cased, else other. */
enum { QR_SIGMA_OTHER = 0, QR_SIGMA_CASED, QR_SIGMA_IGNORABLE };
int qr_uni_sigma_class(uint32_t cp);

/* A character of a canonical decomposition with what the encoder needs to know. */
typedef struct qr_uni_part {
    uint32_t cp;
    uint8_t ccc;   /* canonical combining class */
    uint8_t mn;    /* category Mn: dropped when stripping accents */
    uint8_t punct; /* BERT punctuation */
} qr_uni_part;
/* NFD of one code point (full canonical decomposition, Hangul included); returns the
 * number of parts (1..4). */
int qr_uni_nfd(uint32_t cp, qr_uni_part out[8]);
int qr_uni_ccc(uint32_t cp);

#endif /* QR_TEXT_INT_H */
