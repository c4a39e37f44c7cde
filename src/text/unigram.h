/*
 * unigram.h — private to src/text: the SentencePiece Unigram tokenizer as Hugging Face
 * `tokenizers` runs it from a tokenizer.json (XLM-RoBERTa, multilingual-e5,
 * paraphrase-multilingual-*, bge-m3).
 *
 * Pipeline, in HF's order: added tokens are cut out of the raw text (leftmost-longest,
 * lstrip/rstrip); each remaining segment goes through the normalizer chain (Precompiled
 * charsmap, Replace, Strip), the pre-tokenizer chain (WhitespaceSplit, Metaspace) and
 * Viterbi over the vocabulary scores; the post-processor's special tokens frame the ids.
 *
 * The pieces themselves live in the qr_tok's pool and hash index (vocab.c), so lookup,
 * piece text and vocabulary size work as for WordPiece; this adds the scores and the
 * pipeline description. Immutable after loading.
 */
#ifndef QR_UNIGRAM_H
#define QR_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "text/text_int.h"

/* ---- charsmap.c: sentencepiece's precompiled_charsmap ------------------------------ */

/* Blob layout: u32 LE trie size in bytes | Darts-clone double-array units (u32 LE) |
 * NUL-separated UTF-8 replacement strings. */
typedef struct qr_charsmap {
    uint32_t *units;
    size_t n_units;
    char *norm;      /* replacement strings (a copy, NUL-terminated at norm_len) */
    size_t norm_len;
} qr_charsmap;

/* Parse and copy blob[0..len); errors name path and where (the JSON field). */
quire_status qr_charsmap_init(qr_charsmap *cm, const unsigned char *blob, size_t len,
                              const char *path, const char *where, quire_error *err);
void qr_charsmap_free(qr_charsmap *cm);
/* Shortest key that is a prefix of s[0..n) (the first hit of the double array's common
 * prefix search, as spm_precompiled's transform takes): returns its replacement (NUL
 * terminated, *rep_len bytes) or NULL when no key matches. */
const char *qr_charsmap_first(const qr_charsmap *cm, const unsigned char *s, size_t n,
                              size_t *rep_len);

/* ---- pipeline description ---------------------------------------------------------- */

enum { QR_UNI_PRECOMPILED = 1, QR_UNI_REPLACE, QR_UNI_STRIP };

typedef struct qr_uni_norm {
    int type;
    qr_charsmap cm;      /* PRECOMPILED */
    /* REPLACE: a literal string, or a run of min_run or more of one character */
    char *pat;           /* literal (String) or the repeated character (Regex) */
    size_t pat_len;
    int min_run;         /* 0 = literal pattern */
    char *content;
    size_t content_len;
    int strip_left, strip_right; /* STRIP */
} qr_uni_norm;

enum { QR_UNI_WS_SPLIT = 1, QR_UNI_METASPACE };
enum { QR_PREPEND_ALWAYS = 0, QR_PREPEND_FIRST, QR_PREPEND_NEVER };

typedef struct qr_uni_pretok {
    int type;
    char rep[8];   /* METASPACE replacement character, UTF-8 */
    size_t rep_len;
    int prepend;   /* QR_PREPEND_* */
    int split;
} qr_uni_pretok;

typedef struct qr_uni_added {
    char *content;
    size_t len;
    int id;
    int lstrip, rstrip;
    int normalized; /* matched in the normalized text instead of the raw text */
} qr_uni_added;

#define QR_UNI_MAX_FRAME 4 /* special tokens before / after the pieces */

typedef struct qr_uni {
    double *score;   /* (n_vocab) */
    double min_score;
    int unk_id;
    qr_uni_norm *norm;
    int n_norm;
    qr_uni_pretok *pretok;
    int n_pretok;
    qr_uni_added *added; /* sorted by decreasing length: the first hit is the longest */
    int n_added;
    int has_normalized_added;
    unsigned char added_first[32]; /* bitmap of first bytes of raw-matched added tokens */
    int32_t pre[QR_UNI_MAX_FRAME], post[QR_UNI_MAX_FRAME];
    int n_pre, n_post;
} qr_uni;

/* unigram_load.c: fill tok (pool, index, specials) and tok->uni from a parsed
 * tokenizer.json whose model.type is "Unigram"; pad_name (NULL = "<pad>") names the
 * padding token (tokenizer_config.json's pad_token). Errors name path and the field. */
struct json_t;
quire_status qr_uni_load(qr_tok *tok, const struct json_t *root, const char *path,
                         const char *pad_name, quire_error *err);
void qr_uni_free(qr_uni *u);

/* unigram.c: qr_tok_encode for a Unigram tokenizer (same contract). */
quire_status qr_uni_encode(const qr_tok *tok, const char *text, size_t len, int max_tokens,
                           int add_special, int32_t *ids, size_t cap, size_t *n_ids,
                           quire_error *err);

#endif /* QR_UNIGRAM_H */
