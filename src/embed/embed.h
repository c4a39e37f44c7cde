/*
 * embed.h — what other modules may use of the embedding module besides quire.h.
 */
#ifndef QR_EMBED_H
#define QR_EMBED_H

#include <stddef.h>

#include "quire.h"

/* Model tokens in text[0..len) without [CLS]/[SEP] and without truncation (the chunker's
 * counter). -1 on allocation failure. */
int qr_model_count_tokens(const quire_model *m, const char *text, size_t len);

/* The folder the model was opened from (as given). */
const char *qr_model_dir(const quire_model *m);

#endif /* QR_EMBED_H */
