/*
 * charsmap.c — sentencepiece's precompiled_charsmap: a Darts-clone double-array trie
 * from UTF-8 keys to offsets into a blob of NUL-terminated replacement strings (the
 * NFKC / nmt_nfkc tables that sentencepiece compiles into every model, and that
 * Hugging Face copies base64-encoded into tokenizer.json's "Precompiled" normalizer).
 *
 * Blob: u32 LE trie size in bytes | trie size / 4 units (u32 LE) | replacements.
 * Unit u: has_leaf = bit 8, value = u & 0x7fffffff, label = u & 0x800000ff,
 * offset = (u >> 10) << ((u & 0x200) >> 6). A walk starts at offset(units[0]); for each
 * key byte c (a NUL byte ends the key): p ^= c, u = units[p], label(u) != c stops,
 * p ^= offset(u), and has_leaf(u) reports a key ending here whose value is
 * value(units[p]). Every index is checked, so a damaged blob only misses keys.
 */
#include <string.h>

#include "text/unigram.h"

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

quire_status qr_charsmap_init(qr_charsmap *cm, const unsigned char *blob, size_t len,
                              const char *path, const char *where, quire_error *err)
{
    memset(cm, 0, sizeof(*cm));
    if (len < 4)
        return qr_err(err, QUIRE_FORMAT, "%s: %s: charsmap of %zu bytes is too short", path,
                      where, len);
    uint32_t trie = rd32(blob);
    if (trie % 4 != 0 || trie == 0 || (size_t)trie > len - 4)
        return qr_err(err, QUIRE_FORMAT, "%s: %s: charsmap trie size %u does not fit its %zu "
                      "bytes", path, where, trie, len);
    cm->n_units = trie / 4;
    cm->norm_len = len - 4 - trie;
    cm->units = qr_malloc(cm->n_units * sizeof(uint32_t));
    cm->norm = qr_malloc(cm->norm_len + 1);
    if (!cm->units || !cm->norm) {
        qr_charsmap_free(cm);
        return qr_err(err, QUIRE_NOMEM, "%s: %s: out of memory", path, where);
    }
    for (size_t i = 0; i < cm->n_units; i++)
        cm->units[i] = rd32(blob + 4 + 4 * i);
    memcpy(cm->norm, blob + 4 + trie, cm->norm_len);
    cm->norm[cm->norm_len] = 0;
    return QUIRE_OK;
}

void qr_charsmap_free(qr_charsmap *cm)
{
    if (!cm)
        return;
    qr_free(cm->units);
    qr_free(cm->norm);
    memset(cm, 0, sizeof(*cm));
}

static size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & 0x200u) >> 6); }

const char *qr_charsmap_first(const qr_charsmap *cm, const unsigned char *s, size_t n,
                              size_t *rep_len)
{
    if (!cm->n_units)
        return NULL;
    size_t p = unit_offset(cm->units[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == 0)
            break;
        p ^= c;
        if (p >= cm->n_units)
            return NULL;
        uint32_t u = cm->units[p];
        if ((u & 0x800000FFu) != c)
            return NULL;
        p ^= unit_offset(u);
        if ((u >> 8) & 1) {
            if (p >= cm->n_units)
                return NULL;
            size_t v = cm->units[p] & 0x7FFFFFFFu;
            if (v >= cm->norm_len)
                return NULL; /* damaged: a value outside the strings */
            const char *r = cm->norm + v;
            *rep_len = strlen(r); /* norm is NUL-terminated at norm_len */
            return r;
        }
    }
    return NULL;
}
