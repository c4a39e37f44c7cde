/*
 * packed.c — the compact form in which a document's finished pages wait for layout.
 *
 * Layout needs every page at once (furniture, body size and heading levels are
 * document-level facts), so a long document keeps all of its pages until the last one
 * is done — including while late pages are still being OCR'd, which is when the
 * converter's memory peaks. A qr_page costs ~72 bytes per word (two pointers, a size_t
 * and padding around 28 bytes of geometry); here a word is 36 bytes plus its text,
 * with 32-bit offsets into one per-page text blob and a font id instead of a pointer.
 * Nothing is rounded: unpacking gives back exactly the page that was packed, so the
 * output cannot change. Pages are unpacked one by one just before layout, each packed
 * copy freed as soon as its unpacked twin exists.
 */
#include <stdint.h>
#include <string.h>

#include "convert_int.h"

typedef struct pk_word {
    qr_bbox bbox;
    float size;
    float conf;
    uint32_t text; /* offset into the page's blob (not NUL-terminated there) */
    uint32_t len;
    uint16_t font; /* index into the page's font table */
    uint16_t flags;
} pk_word;

typedef struct pk_line {
    qr_bbox bbox;
    float dir_x, dir_y, baseline;
    int n_words;
} pk_line;

typedef struct pk_block {
    int kind;
    qr_bbox bbox;
    int n_lines;
    int img_w, img_h;
} pk_block;

/* Font names per page: a page uses a handful, so a linear search is cheapest; the
 * id is 16-bit, a page with more distinct fonts than that fails to pack (OOM path). */
#define PK_MAX_FONTS 65535

struct qr_cv_packed {
    qr_page meta; /* blocks/rules/drawings pointers NULL: everything else as the page had it */
    size_t n_lines, n_words, text_len;
    int n_fonts;
    pk_block *blocks;
    pk_line *lines;
    pk_word *words;
    uint32_t *fonts; /* [n_fonts] offsets of NUL-terminated names in text */
    char *text;
    qr_bbox *rules;
};

/* ---- packing ------------------------------------------------------------------- */

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* The distinct font names of a page, in first-use order: their index is the id. */
typedef struct font_list {
    const char **names;
    int n, cap;
    size_t bytes; /* sum of strlen + 1 */
} font_list;

static int font_id(font_list *fl, const char *font)
{
    const char *f = font ? font : "";
    for (int i = 0; i < fl->n; i++)
        if (fl->names[i] == f || strcmp(fl->names[i], f) == 0)
            return i;
    if (fl->n >= fl->cap || fl->n >= PK_MAX_FONTS)
        return -1;
    fl->names[fl->n] = f;
    fl->bytes += strlen(f) + 1;
    return fl->n++;
}

/* Counts of a page (what the packed block must hold) and its font list. */
static int measure(const qr_page *src, font_list *fl, size_t *n_lines, size_t *n_words,
                   size_t *text)
{
    *n_lines = *n_words = *text = 0;
    for (int b = 0; b < src->n_blocks; b++) {
        const qr_tblock *tb = &src->blocks[b];
        *n_lines += (size_t)tb->n_lines;
        for (int l = 0; l < tb->n_lines; l++) {
            const qr_line *ln = &tb->lines[l];
            *n_words += (size_t)ln->n_words;
            for (int w = 0; w < ln->n_words; w++) {
                *text += (ln->words[w].text ? ln->words[w].len : 0);
                if (font_id(fl, ln->words[w].font) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

static void pack_word(qr_cv_packed *pk, font_list *fl, const qr_word *sw, pk_word *dw,
                      size_t *text_at)
{
    size_t len = sw->text ? sw->len : 0;
    dw->bbox = sw->bbox;
    dw->size = sw->size;
    dw->conf = sw->conf;
    dw->text = (uint32_t)*text_at;
    dw->len = (uint32_t)len;
    dw->font = (uint16_t)font_id(fl, sw->font);
    dw->flags = (uint16_t)sw->flags;
    if (len)
        memcpy(pk->text + *text_at, sw->text, len);
    *text_at += len;
}

static void pack_body(qr_cv_packed *pk, font_list *fl, const qr_page *src)
{
    size_t li = 0, wi = 0, text_at = 0;
    for (int i = 0; i < fl->n; i++) {
        size_t n = strlen(fl->names[i]) + 1;
        memcpy(pk->text + text_at, fl->names[i], n);
        pk->fonts[i] = (uint32_t)text_at;
        text_at += n;
    }
    for (int b = 0; b < src->n_blocks; b++) {
        const qr_tblock *sb = &src->blocks[b];
        pk->blocks[b] = (pk_block){sb->kind, sb->bbox, sb->n_lines, sb->img_w, sb->img_h};
        for (int l = 0; l < sb->n_lines; l++, li++) {
            const qr_line *sl = &sb->lines[l];
            pk->lines[li] = (pk_line){sl->bbox, sl->dir_x, sl->dir_y, sl->baseline, sl->n_words};
            for (int w = 0; w < sl->n_words; w++, wi++)
                pack_word(pk, fl, &sl->words[w], &pk->words[wi], &text_at);
        }
    }
}

/* Carve the arrays out of one block laid out as: header, blocks, lines, words, font
 * table, rules, text. base NULL only sizes. */
static size_t carve(char *base, const qr_page *src, size_t n_lines, size_t n_words,
                    int n_fonts, size_t text)
{
    size_t at = align16(sizeof(qr_cv_packed));
    qr_cv_packed *pk = (qr_cv_packed *)base;
    if (pk)
        pk->blocks = (pk_block *)(base + at);
    at += align16((size_t)src->n_blocks * sizeof(pk_block));
    if (pk)
        pk->lines = (pk_line *)(base + at);
    at += align16(n_lines * sizeof(pk_line));
    if (pk)
        pk->words = (pk_word *)(base + at);
    at += align16(n_words * sizeof(pk_word));
    if (pk)
        pk->fonts = (uint32_t *)(base + at);
    at += align16((size_t)n_fonts * sizeof(uint32_t));
    if (pk)
        pk->rules = (qr_bbox *)(base + at);
    at += align16((size_t)(src->n_rules + src->n_drawings) * sizeof(qr_bbox));
    if (pk)
        pk->text = base + at;
    return at + text;
}

qr_cv_packed *qr_cv_page_pack(const qr_page *src)
{
    size_t n_lines, n_words, text;
    font_list fl = {0};
    int n_max = 1;
    for (int b = 0; b < src->n_blocks; b++)
        for (int l = 0; l < src->blocks[b].n_lines; l++)
            n_max += src->blocks[b].lines[l].n_words;
    fl.cap = n_max < PK_MAX_FONTS ? n_max : PK_MAX_FONTS;
    fl.names = qr_malloc((size_t)fl.cap * sizeof(char *));
    if (!fl.names || measure(src, &fl, &n_lines, &n_words, &text) != 0 ||
        text + fl.bytes > UINT32_MAX) {
        qr_free(fl.names);
        return NULL;
    }
    size_t sz = carve(NULL, src, n_lines, n_words, fl.n, text + fl.bytes);
    char *base = qr_malloc(sz);
    qr_cv_packed *pk = (qr_cv_packed *)base;
    if (pk) {
        memset(pk, 0, sizeof(*pk));
        carve(base, src, n_lines, n_words, fl.n, text + fl.bytes);
        pk->meta = *src;
        pk->meta.blocks = NULL;
        pk->meta.rules = NULL;
        pk->meta.drawings = NULL;
        pk->n_lines = n_lines;
        pk->n_words = n_words;
        pk->n_fonts = fl.n;
        pk->text_len = text + fl.bytes;
        if (src->n_rules)
            memcpy(pk->rules, src->rules, (size_t)src->n_rules * sizeof(qr_bbox));
        if (src->n_drawings) /* after the rules, in the same array */
            memcpy(pk->rules + src->n_rules, src->drawings,
                   (size_t)src->n_drawings * sizeof(qr_bbox));
        pack_body(pk, &fl, src);
    }
    qr_free(fl.names);
    return pk;
}

/* ---- unpacking ----------------------------------------------------------------- */

/* A bump allocator that only measures when base is NULL: the same walk sizes the block
 * and then fills it, so the two can never disagree. */
typedef struct ubump {
    char *base;
    size_t used;
} ubump;

static void *ub_alloc(ubump *b, size_t n, size_t align)
{
    size_t at = (b->used + align - 1) & ~(align - 1);
    b->used = at + n;
    return b->base ? b->base + at : NULL;
}

static void unpack_words(ubump *b, const qr_cv_packed *pk, const char **fonts,
                         const pk_word *src, qr_word *dst, int n)
{
    for (int i = 0; i < n; i++) {
        char *t = ub_alloc(b, src[i].len + 1, 1);
        if (!dst)
            continue;
        memcpy(t, pk->text + src[i].text, src[i].len);
        t[src[i].len] = '\0';
        dst[i] = (qr_word){t, src[i].len, src[i].bbox, src[i].size, src[i].flags,
                           fonts[src[i].font], src[i].conf};
    }
}

static void unpack_into(ubump *b, const qr_cv_packed *pk, qr_page *dst)
{
    const char **fonts = ub_alloc(b, (size_t)pk->n_fonts * sizeof(char *), 16);
    for (int i = 0; i < pk->n_fonts; i++) {
        size_t n = strlen(pk->text + pk->fonts[i]) + 1;
        char *f = ub_alloc(b, n, 1);
        if (f) {
            memcpy(f, pk->text + pk->fonts[i], n);
            fonts[i] = f;
        }
    }
    qr_tblock *blocks = ub_alloc(b, (size_t)pk->meta.n_blocks * sizeof(qr_tblock), 16);
    size_t li = 0, wi = 0;
    for (int bi = 0; bi < pk->meta.n_blocks; bi++) {
        const pk_block *sb = &pk->blocks[bi];
        qr_line *lines = ub_alloc(b, (size_t)sb->n_lines * sizeof(qr_line), 16);
        for (int l = 0; l < sb->n_lines; l++, li++) {
            const pk_line *sl = &pk->lines[li];
            qr_word *words = ub_alloc(b, (size_t)sl->n_words * sizeof(qr_word), 16);
            unpack_words(b, pk, fonts, &pk->words[wi], words, sl->n_words);
            wi += (size_t)sl->n_words;
            if (lines)
                lines[l] = (qr_line){sl->bbox, words, sl->n_words, sl->dir_x, sl->dir_y,
                                     sl->baseline};
        }
        if (blocks)
            blocks[bi] = (qr_tblock){sb->kind, sb->bbox, lines, sb->n_lines, sb->img_w,
                                        sb->img_h};
    }
    size_t n_boxes = (size_t)(pk->meta.n_rules + pk->meta.n_drawings);
    qr_bbox *rules = ub_alloc(b, n_boxes * sizeof(qr_bbox), 16);
    if (!dst)
        return;
    if (n_boxes)
        memcpy(rules, pk->rules, n_boxes * sizeof(qr_bbox));
    *dst = pk->meta;
    dst->blocks = blocks;
    dst->rules = rules;
    dst->drawings = rules + pk->meta.n_rules;
}

qr_page *qr_cv_page_unpack(const qr_cv_packed *pk)
{
    ubump measure_b = {0};
    ub_alloc(&measure_b, sizeof(qr_page), 16);
    unpack_into(&measure_b, pk, NULL);
    ubump fill = {qr_malloc(measure_b.used), 0};
    if (!fill.base)
        return NULL;
    qr_page *dst = ub_alloc(&fill, sizeof(qr_page), 16);
    unpack_into(&fill, pk, dst);
    return dst;
}
