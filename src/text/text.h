/*
 * text.h — text processing: BERT WordPiece tokenizer (Hugging Face BertTokenizer
 * compatible, uncased and cased), later the Markdown chunker.
 *
 * The tokenizer is immutable after loading and may be shared by threads; encoding
 * allocates only its own temporary buffers.
 */
#ifndef QR_TEXT_H
#define QR_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "quire.h"

typedef struct qr_tok qr_tok;

typedef struct qr_tok_opts {
    int lowercase;      /* 1 = lowercase (uncased models) */
    int strip_accents;  /* -1 = follow lowercase (HF default), 0 = no, 1 = yes */
    int tokenize_cjk;   /* 1 = put spaces around CJK ideographs (HF default) */
} qr_tok_opts;

/* Load a WordPiece vocabulary from vocab.txt (one token per line, id = line number). */
quire_status qr_tok_load_vocab(const char *path, const qr_tok_opts *opts, qr_tok **out,
                               quire_error *err);
/* Load from a Hugging Face tokenizer.json (model.type WordPiece: vocab, unk_token,
 * continuing_subword_prefix, max_input_chars_per_word; normalizer BertNormalizer flags
 * lowercase / strip_accents / handle_chinese_chars / clean_text). opts may be NULL, or
 * override what the file says when a field is >= 0. */
quire_status qr_tok_load_json(const char *path, const qr_tok_opts *opts, qr_tok **out,
                              quire_error *err);
/* Load from a model folder: tokenizer.json when present, else vocab.txt; the flags
 * come from tokenizer_config.json (do_lower_case, strip_accents,
 * tokenize_chinese_chars) when present. Errors name the file. */
quire_status qr_tok_open_dir(const char *dir, qr_tok **out, quire_error *err);
void qr_tok_free(qr_tok *tok);

/* Added: HF BERT defaults {lowercase 1, strip_accents -1, tokenize_cjk 1}. */
qr_tok_opts qr_tok_default_opts(void);
/* Added: the flags in effect after loading (strip_accents resolved to 0 or 1). */
void qr_tok_get_opts(const qr_tok *tok, qr_tok_opts *out);

int qr_tok_vocab_size(const qr_tok *tok);
/* Id of a vocabulary entry, or -1. */
int qr_tok_lookup(const qr_tok *tok, const char *piece, size_t len);
/* Text of an id (valid while tok is), or NULL. */
const char *qr_tok_piece(const qr_tok *tok, int id);
int qr_tok_cls(const qr_tok *tok);
int qr_tok_sep(const qr_tok *tok);
int qr_tok_pad(const qr_tok *tok); /* 0 when the vocabulary has no [PAD] */
int qr_tok_unk(const qr_tok *tok);

/* Encode UTF-8 text (invalid sequences become U+FFFD, which is then dropped like HF
 * does) into WordPiece ids. With add_special, the result is [CLS] ids [SEP] and at most
 * max_tokens long (max_tokens >= 2); without, at most max_tokens ids (max_tokens <= 0:
 * no limit). Stops work early once the limit is reached.
 * OUT: ids[0..min(*n_ids, cap)) and *n_ids = number of ids produced.
 * Also: max_tokens <= 0 means no limit with add_special too; max_tokens 1 with
 * add_special is QUIRE_INVALID_ARG. ids may be NULL when cap is 0 (counting only).
 * Words longer than max_input_chars_per_word (100) become one [UNK]; a tokenizer
 * loaded with a limit above 128 allocates one scratch block per call (QUIRE_NOMEM). */
quire_status qr_tok_encode(const qr_tok *tok, const char *text, size_t len, int max_tokens,
                           int add_special, int32_t *ids, size_t cap, size_t *n_ids,
                           quire_error *err);

#endif /* QR_TEXT_H */
