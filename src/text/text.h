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

/* ------------------------------------------------------------------ chunker */
/*
 * Markdown-aware chunking for retrieval. The input is Markdown as quire convert writes
 * it, optionally with page markers: a line `<!-- page N -->` (N >= 1) says the blocks
 * that follow come from page N (input without markers is page 1 throughout).
 *
 * Blocks are headings, paragraphs, list items, table rows and fenced code blocks.
 * Chunks are runs of whole blocks of about opts.chunk_tokens tokens; a chunk never
 * starts or ends inside a table row or a fenced code block (a single block longer than
 * the budget is split at sentence, then word boundaries — except a table row or a fenced
 * code block, which become chunks of their own however long). A heading closes the
 * current chunk; each chunk carries the heading path in effect at its start ("A > B > C",
 * empty when none) and the page range of its blocks. Consecutive chunks within one
 * section share about opts.overlap tokens (whole sentences/blocks from the end of the
 * previous chunk). Page markers and the heading lines themselves are not part of chunk
 * text (headings are in the path). Chunks with no words are dropped.
 *
 * Details of this implementation (src/text/chunk.c): chunk text is its blocks joined
 * with "\n\n", consecutive table rows and consecutive list items with "\n", CRLF turned
 * into LF; a code block keeps its fence lines; an unclosed fence runs to the end of the
 * input. A table's header row + separator row stay with its first data row; when a
 * table is split, a chunk that continues it starts with the header rows again (if they
 * fit), and its overlap is limited to rows of that table. The budget is checked on the
 * sum of the counts of the pieces (the separators between them are not counted). Each
 * level of the heading path is cut to 256 bytes. Time is linear in len (n log n for
 * over-long words without spaces).
 */
typedef struct qr_chunk {
    char *text;       /* NUL-terminated, owned by the list */
    size_t len;
    char *heading;    /* heading path, NUL-terminated ("" when none) */
    int page_start;   /* 1-based, inclusive */
    int page_end;
    int n_tokens;     /* as counted by opts.count_tokens */
} qr_chunk;

typedef struct qr_chunk_list {
    qr_chunk *items;
    size_t n;
} qr_chunk_list;

/* Token counter: tokens in text[0..len) (without [CLS]/[SEP]). */
typedef int (*qr_count_tokens_fn)(const char *text, size_t len, void *user_data);

typedef struct qr_chunk_opts {
    int chunk_tokens;  /* target size; 0 = 256 */
    int overlap;       /* tokens repeated from the previous chunk; -1 = none, 0 = 32;
                          must be < chunk_tokens / 2 (clamped) */
    qr_count_tokens_fn count_tokens; /* NULL = qr_count_words_approx */
    void *user_data;
} qr_chunk_opts;

/* Split md[0..len) (UTF-8; invalid bytes are kept as they are) into chunks. opts may be
 * NULL (all defaults). Errors: QUIRE_INVALID_ARG (out NULL, md NULL with len > 0, negative
 * chunk_tokens, overlap < -1), QUIRE_NOMEM (nothing is leaked; *out is then empty).
 * OUT: *out filled (free with qr_chunk_list_free, also after an error). */
quire_status qr_chunk_markdown(const char *md, size_t len, const qr_chunk_opts *opts,
                               qr_chunk_list *out, quire_error *err);
void qr_chunk_list_free(qr_chunk_list *list);

/* Model-free token estimate close to BERT's pre-WordPiece split: runs of letters/digits
 * count one each (plus one per started 6 bytes beyond the first 6, for WordPiece splits),
 * every other non-space character counts one. Bytes >= 0x80 are letters, except that a
 * CJK ideograph counts one on its own (as BERT splits them). user_data unused. */
int qr_count_words_approx(const char *text, size_t len, void *user_data);

#endif /* QR_TEXT_H */
