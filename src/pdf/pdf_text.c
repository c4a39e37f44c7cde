/*
 * pdf_text.c — the text layer of a page as a qr_page (core/page.h). The page is
 * interpreted once into a display list, which is then replayed into MuPDF's structured
 * text device (characters, lines, blocks, image blocks) and into our ruling-line device
 * (pdf_rules.c); replaying costs far less than interpreting the content stream twice.
 *
 * MuPDF's lines are converted into words here: a word ends at a space, at a change of
 * font or size, or at a horizontal gap wider than a quarter em, so that table cells
 * separated only by positioning become separate words. Everything is allocated from the
 * caller's arena; on failure the arena is rolled back to where it was.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "pdf/pdf_int.h"

#define BAD_RUN 3        /* this many unmapped glyphs in a row are unusable text */
#define GAP_EM 0.25f     /* a gap wider than this (in ems) splits a word */
#define BACK_EM 1.0f     /* a jump back further than this too (overprinting, reordering) */
#define MAX_FONTS 64     /* font names cached per page */
#define SUP_SIZE 0.85f   /* superscript: smaller than this fraction of the line's size */
#define SUP_RISE 0.15f   /* ... and raised by more than this fraction of it */
#define MIN_TURN_CHARS 8 /* a page is turned to read its text with at least this many */

typedef struct font_info {
    fz_font *font;
    const char *name; /* in the arena */
    int flags;
} font_info;

/* One line's characters in an array, with what each writes: v[i], side[i] (accent
 * attachment, accent_side()) and rune[i] (the code point written). */
typedef struct lchars {
    fz_stext_char **v;
    signed char *side;
    int *rune;
    int n, cap;
} lchars;

/* Conversion state of one page. */
typedef struct conv {
    fz_context *ctx;
    qr_arena *arena;
    qr_page *page;
    int full; /* the arena ran out */
    font_info fonts[MAX_FONTS];
    int n_fonts;
    double line_area, image_area;
    lchars chars; /* the line being converted (qr_malloc'd, reused) */
} conv;

/* One word: characters [first, end) of a line's lchars, spaces excluded. */
typedef struct span {
    int first, end;
    size_t bytes;
    int marks; /* accents attached to a base among them */
} span;

static void *arena_get(conv *c, size_t n)
{
    void *p = c->full ? NULL : qr_arena_alloc(c->arena, n);
    if (!p)
        c->full = 1;
    return p;
}

/* ---- characters ----------------------------------------------------------------- */

static int is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == 0xa0 ||
           (ch >= 0x2000 && ch <= 0x200b) || ch == 0x3000 || ch == 0x202f || ch == 0x205f;
}

/* Characters that mean the text layer is unusable here: replacement characters from
 * unmapped glyphs, private-use codes (unmapped symbol fonts) and control characters. */
static int is_bad(int ch)
{
    return ch == 0xfffd || (ch >= 0xe000 && ch <= 0xf8ff) || ch >= 0xf0000 ||
           (ch < 0x20 && ch != '\t' && ch != '\n') || (ch >= 0x7f && ch <= 0x9f);
}

/* What we store for a code point: invalid ones and NUL become U+FFFD. */
static int clean_rune(int ch)
{
    if (ch <= 0 || ch > 0x10ffff || (ch >= 0xd800 && ch <= 0xdfff))
        return 0xfffd;
    return ch;
}

static size_t utf8_len(int ch)
{
    return ch < 0x80 ? 1 : ch < 0x800 ? 2 : ch < 0x10000 ? 3 : 4;
}

static size_t utf8_put(char *out, int ch)
{
    if (ch < 0x80) {
        out[0] = (char)ch;
        return 1;
    }
    if (ch < 0x800) {
        out[0] = (char)(0xc0 | (ch >> 6));
        out[1] = (char)(0x80 | (ch & 0x3f));
        return 2;
    }
    if (ch < 0x10000) {
        out[0] = (char)(0xe0 | (ch >> 12));
        out[1] = (char)(0x80 | ((ch >> 6) & 0x3f));
        out[2] = (char)(0x80 | (ch & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (ch >> 18));
    out[1] = (char)(0x80 | ((ch >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((ch >> 6) & 0x3f));
    out[3] = (char)(0x80 | (ch & 0x3f));
    return 4;
}

/* ---- fonts ---------------------------------------------------------------------- */

/* Embedded subsets are named "ABCDEF+Times-Bold"; the tag differs per file and says
 * nothing about the font, so it is dropped. */
static const char *strip_subset(const char *name)
{
    for (int i = 0; i < 6; i++)
        if (name[i] < 'A' || name[i] > 'Z')
            return name;
    return name[6] == '+' ? name + 7 : name;
}

static int name_flags(const char *name)
{
    int f = 0;
    if (strstr(name, "Bold") || strstr(name, "bold") || strstr(name, "Black") ||
        strstr(name, "Heavy") || strstr(name, "CMBX") || strstr(name, "Semibold"))
        f |= QR_FONT_BOLD;
    if (strstr(name, "Italic") || strstr(name, "italic") || strstr(name, "Oblique") ||
        strstr(name, "CMTI") || strstr(name, "CMSL"))
        f |= QR_FONT_ITALIC;
    if (strstr(name, "Mono") || strstr(name, "Courier") || strstr(name, "Typewriter") ||
        strstr(name, "CMTT") || strstr(name, "Consol"))
        f |= QR_FONT_MONO;
    return f;
}

static const font_info *font_lookup(conv *c, fz_font *font)
{
    static const font_info none = {NULL, "", 0};
    for (int i = 0; i < c->n_fonts; i++)
        if (c->fonts[i].font == font)
            return &c->fonts[i];
    if (!font)
        return &none;
    font_info *fi = &c->fonts[c->n_fonts < MAX_FONTS ? c->n_fonts++ : MAX_FONTS - 1];
    const char *name = strip_subset(fz_font_name(c->ctx, font));
    size_t len = strlen(name);
    char *copy = arena_get(c, len + 1);
    if (!copy)
        return &none;
    memcpy(copy, name, len + 1);
    fi->font = font;
    fi->name = copy;
    fi->flags = name_flags(name);
    fi->flags |= fz_font_is_bold(c->ctx, font) ? QR_FONT_BOLD : 0;
    fi->flags |= fz_font_is_italic(c->ctx, font) ? QR_FONT_ITALIC : 0;
    fi->flags |= fz_font_is_monospaced(c->ctx, font) ? QR_FONT_MONO : 0;
    fi->flags |= fz_font_is_serif(c->ctx, font) ? QR_FONT_SERIF : 0;
    if (strstr(name, "Sans") || strstr(name, "CMSS"))
        fi->flags &= ~QR_FONT_SERIF; /* descriptors of Nimbus Sans & co claim serifs */
    return fi;
}

/* ---- words ---------------------------------------------------------------------- */

static float dot(fz_point p, fz_point d) { return p.x * d.x + p.y * d.y; }

/* ---- accents -------------------------------------------------------------------- */

/* The combining mark a character stands for when it is drawn as an accent of its own
 * glyph: TeX's OT1 fonts and \accent draw a spacing accent (U+00B4 ...) over the base
 * letter, and producers with real ToUnicode maps may give a combining mark (U+0301)
 * placed before or after its base. 0 = not an accent. ASCII ~ ^ ` are the tilde,
 * circumflex and grave of OT1 fonts; like every other accent here they only count as
 * one when their glyph sits over a letter (see attaches()), never in running text. */
static int accent_mark(int ch)
{
    if ((ch >= 0x300 && ch <= 0x36f) || (ch >= 0x1ab0 && ch <= 0x1aff) ||
        (ch >= 0x1dc0 && ch <= 0x1dff) || (ch >= 0x20d0 && ch <= 0x20ff) ||
        (ch >= 0xfe20 && ch <= 0xfe2f))
        return ch;
    switch (ch) {
    case 0x60: case 0x2cb: return 0x300;             /* grave */
    case 0xb4: case 0x2ca: return 0x301;             /* acute */
    case 0x5e: case 0x2c6: return 0x302;             /* circumflex */
    case 0x7e: case 0x2dc: return 0x303;             /* tilde */
    case 0xaf: case 0x2c9: return 0x304;             /* macron */
    case 0x2d8: return 0x306;                        /* breve */
    case 0x2d9: return 0x307;                        /* dot above */
    case 0xa8: return 0x308;                         /* diaeresis */
    case 0x2da: return 0x30a;                        /* ring above */
    case 0x2dd: return 0x30b;                        /* double acute */
    case 0x2c7: return 0x30c;                        /* caron */
    case 0xb8: return 0x327;                         /* cedilla */
    case 0x2db: return 0x328;                        /* ogonek */
    default: return 0;
    }
}

static int is_letter(int ch)
{
    utf8proc_category_t cat = utf8proc_category(ch);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

/* Is the accent glyph acc placed over (or under) base on a line of direction d: the
 * middle of the accent inside the base's extent along the line? A spacing accent needs
 * a letter; a combining mark any visible character (U+0338 over '=' is U+2260). */
static int attaches(const fz_stext_char *acc, const fz_stext_char *base, fz_point d)
{
    if (!base || is_space(base->c) || accent_mark(base->c) || is_bad(base->c))
        return 0;
    int combining = accent_mark(acc->c) == acc->c;
    if (!combining && !is_letter(base->c))
        return 0;
    float a0 = dot(acc->quad.ll, d), a1 = dot(acc->quad.lr, d);
    float b0 = dot(base->quad.ll, d), b1 = dot(base->quad.lr, d);
    float mid = 0.5f * (a0 + a1);
    if (b1 - b0 < 0.05f * QR_MAX(base->size, 1.0f))
        return 0; /* a zero-width glyph says nothing about where it sits */
    return mid > b0 && mid < b1;
}

/* Where accent v[i] attaches: +1 to the next character, -1 to the previous one, 0 none
 * (then it stays the character it is). The base whose middle is nearer wins. */
static int accent_side(fz_stext_char *const *v, int n, int i, fz_point d)
{
    const fz_stext_char *ch = v[i];
    if (!accent_mark(ch->c))
        return 0;
    const fz_stext_char *prev = i > 0 ? v[i - 1] : NULL, *next = i + 1 < n ? v[i + 1] : NULL;
    int p = prev && attaches(ch, prev, d), nx = next && attaches(ch, next, d);
    if (p && nx) {
        float mid = 0.5f * (dot(ch->quad.ll, d) + dot(ch->quad.lr, d));
        float mp = 0.5f * (dot(prev->quad.ll, d) + dot(prev->quad.lr, d));
        float mn = 0.5f * (dot(next->quad.ll, d) + dot(next->quad.lr, d));
        return fabsf(mid - mn) <= fabsf(mid - mp) ? 1 : -1;
    }
    return nx ? 1 : p ? -1 : 0;
}

static int lchars_fill(lchars *L, const fz_stext_line *line)
{
    int n = 0;
    for (fz_stext_char *ch = line->first_char; ch; ch = ch->next)
        n++;
    if (n > L->cap) {
        int cap = QR_MAX(n, 2 * L->cap);
        void *v = qr_realloc(L->v, (size_t)cap * sizeof(*L->v));
        if (v)
            L->v = v;
        void *sd = v ? qr_realloc(L->side, (size_t)cap * sizeof(*L->side)) : NULL;
        if (sd)
            L->side = sd;
        void *r = sd ? qr_realloc(L->rune, (size_t)cap * sizeof(*L->rune)) : NULL;
        if (!r)
            return -1;
        L->rune = r;
        L->cap = cap;
    }
    L->n = 0;
    for (fz_stext_char *ch = line->first_char; ch; ch = ch->next)
        L->v[L->n++] = ch;
    fz_point d = line->dir;
    for (int i = 0; i < n; i++) {
        L->side[i] = (signed char)accent_side(L->v, n, i, d);
        L->rune[i] = L->side[i] ? accent_mark(L->v[i]->c) : clean_rune(L->v[i]->c);
    }
    /* a dotless i/j that carries an accent is the plain letter (TeX's \'{\i}) */
    for (int i = 0; i < n; i++) {
        int c = L->v[i]->c;
        if ((c == 0x131 || c == 0x237) &&
            ((i + 1 < n && L->side[i + 1] == -1) || (i > 0 && L->side[i - 1] == 1)))
            L->rune[i] = c == 0x131 ? 'i' : 'j';
    }
    return 0;
}

/* Does a new word start at v[i], after v[i - 1] (both non-space) on a line of direction
 * d? Never between an accent and its base. */
static int word_break(const lchars *L, int i, fz_point d)
{
    const fz_stext_char *prev = L->v[i - 1], *ch = L->v[i];
    if (L->side[i - 1] == 1 || L->side[i] == -1)
        return 0;
    if (ch->font != prev->font)
        return 1;
    if (fabsf(ch->size - prev->size) > 0.01f * QR_MAX(ch->size, prev->size))
        return 1;
    float gap = dot(ch->quad.ll, d) - dot(prev->quad.lr, d);
    float em = QR_MAX(ch->size, 1.0f);
    return gap > GAP_EM * em || gap < -BACK_EM * em;
}

/* The next word at or after index i; returns 0 at the end of the line. */
static int next_word(const lchars *L, int i, fz_point d, span *w)
{
    while (i < L->n && is_space(L->v[i]->c))
        i++;
    if (i >= L->n)
        return 0;
    w->first = i;
    w->bytes = 0;
    w->marks = 0;
    int start = i;
    while (i < L->n && !is_space(L->v[i]->c) && !(i > start && word_break(L, i, d))) {
        w->bytes += utf8_len(L->rune[i]);
        w->marks += L->side[i] != 0;
        i++;
    }
    w->end = i;
    return 1;
}

/* The line's main size and baseline, the reference for superscripts. */
static void line_reference(const fz_stext_line *line, float *size, fz_point *origin)
{
    *size = 0;
    *origin = fz_make_point(0, 0);
    for (const fz_stext_char *ch = line->first_char; ch; ch = ch->next)
        if (!is_space(ch->c) && ch->size > *size) {
            *size = ch->size;
            *origin = ch->origin;
        }
}

/* Canonical composition of the n bytes at text (a word with accents moved after their
 * bases): "e" U+0301 -> "é". Returns the new length, never more than n (when the
 * composed form would be longer, the word stays decomposed). */
static size_t compose(char *text, size_t n)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)n, &out,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m >= 0 && (size_t)m <= n) {
        memcpy(text, out, (size_t)m);
        n = (size_t)m;
    }
    free(out); /* lint-allow: free (utf8proc's own malloc) */
    text[n] = '\0';
    return n;
}

static int is_alnum(int ch)
{
    return is_letter(ch) || utf8proc_category(ch) == UTF8PROC_CATEGORY_ND;
}

/* The unusable characters of a word (qr_page.n_garbage_chars): every bad one when the
 * word also has a letter or digit ("Th\ufffds", a text font without a Unicode map),
 * else those in runs of BAD_RUN or more. A glyph or two of a symbol font standing alone
 * (a note head, a clef, a dingbat, a math delimiter) is no sign of unusable text. */
static long word_garbage(const lchars *L, const span *s)
{
    int alnum = 0, run = 0;
    long n_bad = 0, in_runs = 0;
    for (int i = s->first; i < s->end; i++) {
        int ch = L->v[i]->c;
        if (is_bad(ch) || clean_rune(ch) != ch) {
            n_bad++;
            run++;
            continue;
        }
        if (run >= BAD_RUN)
            in_runs += run;
        run = 0;
        alnum |= is_alnum(ch);
    }
    if (run >= BAD_RUN)
        in_runs += run;
    return alnum ? n_bad : in_runs;
}

/* Fill one word from its span; text is written at *text. Accents drawn before their
 * base letter are written after it, then the word is composed (NFC). */
static void fill_word(conv *c, const lchars *L, const span *s, const fz_stext_line *line,
                      float ref_size, fz_point ref_origin, char *text, qr_word *w)
{
    fz_rect box = fz_empty_rect;
    size_t n = 0;
    int pending[8], n_pending = 0;
    c->page->n_garbage_chars += word_garbage(L, s);
    for (int i = s->first; i < s->end; i++) {
        const fz_stext_char *ch = L->v[i];
        int r = L->rune[i];
        box = fz_union_rect(box, fz_rect_from_quad(ch->quad));
        c->page->n_chars++;
        c->page->n_bad_chars += is_bad(ch->c) || clean_rune(ch->c) != ch->c;
        if (L->side[i] == 1 && n_pending < (int)QR_ARRAY_LEN(pending)) {
            pending[n_pending++] = r; /* written after its base */
            continue;
        }
        n += utf8_put(text + n, r);
        if (L->side[i] == 0) {
            for (int k = 0; k < n_pending; k++)
                n += utf8_put(text + n, pending[k]);
            n_pending = 0;
        }
    }
    for (int k = 0; k < n_pending; k++) /* no base followed: keep them */
        n += utf8_put(text + n, pending[k]);
    text[n] = '\0';
    if (s->marks)
        n = compose(text, n);
    const font_info *fi = font_lookup(c, L->v[s->first]->font);
    const fz_stext_char *first = L->v[s->first];
    for (int i = s->first; i < s->end; i++)
        if (!L->side[i]) {
            first = L->v[i]; /* the base, not an accent raised above it */
            fi = font_lookup(c, first->font);
            break;
        }
    w->text = text;
    w->len = n;
    w->bbox = (qr_bbox){box.x0, box.y0, box.x1, box.y1};
    w->size = first->size;
    w->flags = fi->flags;
    w->font = fi->name;
    w->conf = -1;
    /* raised against the line's baseline, perpendicular to the writing direction */
    fz_point up = fz_make_point(line->dir.y, -line->dir.x);
    fz_point rel = fz_make_point(first->origin.x - ref_origin.x,
                                 first->origin.y - ref_origin.y);
    if (w->size < SUP_SIZE * ref_size && dot(rel, up) > SUP_RISE * ref_size)
        w->flags |= QR_FONT_SUPERSCRIPT;
}

/* Convert one line; out->n_words == 0 when it holds only spaces. */
static void convert_line(conv *c, const fz_stext_line *line, qr_line *out)
{
    span s;
    int n_words = 0;
    size_t bytes = 0;
    memset(out, 0, sizeof(*out));
    lchars *L = &c->chars;
    if (lchars_fill(L, line) != 0) {
        c->full = 1;
        return;
    }
    for (int i = 0; next_word(L, i, line->dir, &s); i = s.end) {
        n_words++;
        bytes += s.bytes + 1;
    }
    if (n_words == 0)
        return;
    qr_word *words = arena_get(c, (size_t)n_words * sizeof(*words));
    char *text = arena_get(c, bytes);
    if (!words || !text)
        return;
    float ref_size;
    fz_point ref_origin;
    line_reference(line, &ref_size, &ref_origin);
    int k = 0;
    for (int i = 0; k < n_words && next_word(L, i, line->dir, &s); i = s.end) {
        fill_word(c, L, &s, line, ref_size, ref_origin, text, &words[k++]);
        text += s.bytes + 1;
    }
    out->bbox = (qr_bbox){line->bbox.x0, line->bbox.y0, line->bbox.x1, line->bbox.y1};
    out->words = words;
    out->n_words = n_words;
    out->dir_x = line->dir.x;
    out->dir_y = line->dir.y;
    out->baseline = ref_origin.y;
    c->line_area += (double)(line->bbox.x1 - line->bbox.x0) * (line->bbox.y1 - line->bbox.y0);
}

/* ---- blocks --------------------------------------------------------------------- */

static void convert_text_block(conv *c, const fz_stext_block *b, qr_tblock *out)
{
    int n = 0;
    for (fz_stext_line *l = b->u.t.first_line; l; l = l->next)
        n++;
    out->kind = QR_BLOCK_TEXT;
    out->bbox = (qr_bbox){b->bbox.x0, b->bbox.y0, b->bbox.x1, b->bbox.y1};
    out->lines = arena_get(c, (size_t)QR_MAX(n, 1) * sizeof(*out->lines));
    out->n_lines = 0;
    if (!out->lines)
        return;
    for (fz_stext_line *l = b->u.t.first_line; l && !c->full; l = l->next) {
        convert_line(c, l, &out->lines[out->n_lines]);
        if (out->lines[out->n_lines].n_words > 0)
            out->n_lines++;
    }
}

static void convert_image_block(conv *c, const fz_stext_block *b, fz_rect page_box,
                                qr_tblock *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = QR_BLOCK_IMAGE;
    out->bbox = (qr_bbox){b->bbox.x0, b->bbox.y0, b->bbox.x1, b->bbox.y1};
    if (b->u.i.image) {
        out->img_w = b->u.i.image->w;
        out->img_h = b->u.i.image->h;
    }
    fz_rect r = fz_intersect_rect(b->bbox, page_box);
    if (!fz_is_empty_rect(r))
        c->image_area += (double)(r.x1 - r.x0) * (r.y1 - r.y0);
}

static void convert_blocks(conv *c, fz_stext_page *st, fz_rect page_box)
{
    int n = 0;
    for (fz_stext_block *b = st->first_block; b; b = b->next)
        n++;
    qr_tblock *blocks = arena_get(c, (size_t)QR_MAX(n, 1) * sizeof(*blocks));
    if (!blocks)
        return;
    c->page->blocks = blocks;
    for (fz_stext_block *b = st->first_block; b && !c->full; b = b->next) {
        qr_tblock *out = &blocks[c->page->n_blocks];
        if (b->type == FZ_STEXT_BLOCK_IMAGE)
            convert_image_block(c, b, page_box, out);
        else
            convert_text_block(c, b, out);
        if (out->kind == QR_BLOCK_IMAGE || out->n_lines > 0)
            c->page->n_blocks++;
    }
}

static void copy_rules(conv *c, const qr_rules *rules)
{
    if (rules->n == 0)
        return;
    c->page->rules = arena_get(c, (size_t)rules->n * sizeof(qr_bbox));
    if (!c->page->rules)
        return;
    memcpy(c->page->rules, rules->v, (size_t)rules->n * sizeof(qr_bbox));
    c->page->n_rules = rules->n;
}

/* Painted paths grouped into drawings (figure regions for layout). */
static void copy_drawings(conv *c, const qr_rules *rules)
{
    qr_bbox *g = NULL;
    int n = 0, shaped = 0;
    if (qr_pdf_group_drawings(rules, c->page->width, c->page->height, 16.0f, &g, &n,
                              &shaped) != 0) {
        c->full = 1; /* out of memory: the page fails like a full arena */
        return;
    }
    if (n > 0) {
        c->page->drawings = arena_get(c, (size_t)n * sizeof(qr_bbox));
        if (c->page->drawings) {
            memcpy(c->page->drawings, g, (size_t)n * sizeof(qr_bbox));
            c->page->n_drawings = n;
            c->page->n_shaped_drawings = shaped;
        }
    }
    qr_free(g);
}

static float fraction(double area, fz_rect page_box)
{
    double page_area = (double)(page_box.x1 - page_box.x0) * (page_box.y1 - page_box.y0);
    if (page_area <= 0)
        return 0;
    return (float)QR_MIN(area / page_area, 1.0);
}

/* ---- running the page ------------------------------------------------------------ */

static int page_rotation(fz_context *ctx, fz_page *page)
{
    pdf_page *pp = pdf_page_from_fz_page(ctx, page);
    if (!pp)
        return 0;
    int r = pdf_to_int(ctx, pdf_dict_get_inheritable(ctx, pp->obj, PDF_NAME(Rotate)));
    r = ((r % 360) + 360) % 360;
    return (r / 90) * 90; /* MuPDF ignores rotations that are not multiples of 90 too */
}

/* Interpret the page once into a display list. Throws. */
static fz_display_list *record_page(qr_pdf *pdf, fz_page *page, fz_rect bounds)
{
    fz_context *ctx = pdf->ctx;
    fz_display_list *list = fz_new_display_list(ctx, bounds);
    fz_device *dev = NULL;
    fz_var(dev);
    fz_try(ctx)
    {
        dev = fz_new_list_device(ctx, list);
        fz_run_page(ctx, page, dev, fz_identity, &pdf->cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx) fz_drop_device(ctx, dev);
    fz_catch(ctx)
    {
        fz_drop_display_list(ctx, list);
        fz_rethrow(ctx);
    }
    return list;
}

/* Replay the list into dev (which is dropped) through ctm. Throws. */
static void replay(qr_pdf *pdf, fz_display_list *list, fz_device *dev, fz_matrix ctm)
{
    fz_context *ctx = pdf->ctx;
    fz_try(ctx)
    {
        fz_run_display_list(ctx, list, dev, ctm, fz_infinite_rect, &pdf->cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx) fz_drop_device(ctx, dev);
    fz_catch(ctx) fz_rethrow(ctx);
}

/* How the page shows its text, in degrees clockwise: the writing direction that holds
 * most of its characters (of the four right angles), when that is not left-to-right
 * and holds more than half of them. A page with /Rotate 90 shows upright-authored text
 * running downwards (90); a landscape table set sideways on a portrait page too. */
static int text_orientation(const fz_stext_page *st)
{
    long n[4] = {0, 0, 0, 0}, total = 0;
    for (const fz_stext_block *b = st->first_block; b; b = b->next) {
        if (b->type != FZ_STEXT_BLOCK_TEXT)
            continue;
        for (const fz_stext_line *l = b->u.t.first_line; l; l = l->next) {
            long k = 0;
            for (const fz_stext_char *ch = l->first_char; ch; ch = ch->next)
                k += !is_space(ch->c);
            int d = l->dir.x > 0.9f ? 0 : l->dir.y > 0.9f ? 1 : l->dir.x < -0.9f ? 2
                  : l->dir.y < -0.9f ? 3 : -1;
            if (d >= 0)
                n[d] += k;
            total += k;
        }
    }
    int best = 0;
    for (int d = 1; d < 4; d++)
        if (n[d] > n[best])
            best = d;
    return best > 0 && n[best] >= MIN_TURN_CHARS && 2 * n[best] > total ? 90 * best : 0;
}

/* The matrix that turns the page back by `orient` degrees so that its text reads
 * upright, with the turned page's top-left corner at (0, 0); *out is the turned box. */
fz_matrix qr_pdf_turn_back(fz_rect bounds, int orient, fz_rect *out)
{
    fz_matrix m = fz_rotate((float)-orient);
    fz_rect r = fz_transform_rect(bounds, m);
    m = fz_concat(m, fz_translate(bounds.x0 - r.x0, bounds.y0 - r.y0));
    *out = fz_transform_rect(bounds, m);
    return m;
}

/* The MuPDF part: fills *st_out and rules, which the caller drops/frees. */
static quire_status extract(qr_pdf *pdf, int number, qr_page *page, fz_stext_page **st_out,
                            qr_rules *rules, quire_error *err)
{
    fz_context *ctx = pdf->ctx;
    fz_page *fzpage = NULL;
    fz_display_list *list = NULL;
    fz_stext_page *st = NULL;
    fz_var(fzpage);
    fz_var(list);
    fz_var(st);
    fz_try(ctx)
    {
        fzpage = fz_load_page(ctx, pdf->doc, number - 1);
        fz_rect bounds = fz_bound_page(ctx, fzpage);
        page->width = bounds.x1 - bounds.x0;
        page->height = bounds.y1 - bounds.y0;
        page->rotation = page_rotation(ctx, fzpage);
        list = record_page(pdf, fzpage, bounds);
        /* ligatures expanded, whitespace normalised, no dehyphenation (layout does
         * it), images kept as blocks for image_coverage, invisible off-page text
         * dropped */
        fz_stext_options opts = {FZ_STEXT_PRESERVE_IMAGES | FZ_STEXT_MEDIABOX_CLIP, 1};
        fz_matrix ctm = fz_identity;
        st = fz_new_stext_page(ctx, bounds);
        if (!qr_pdf_aborted(pdf))
            replay(pdf, list, fz_new_stext_device(ctx, st, &opts), ctm);
        page->text_rotation = text_orientation(st);
        if (page->text_rotation && !qr_pdf_aborted(pdf)) {
            /* sideways or upside-down text: read the page again turned back, so that
             * everything downstream sees upright lines (a second replay is cheap) */
            fz_rect turned;
            ctm = qr_pdf_turn_back(bounds, page->text_rotation, &turned);
            fz_drop_stext_page(ctx, st);
            st = NULL;
            st = fz_new_stext_page(ctx, turned);
            replay(pdf, list, fz_new_stext_device(ctx, st, &opts), ctm);
            page->width = turned.x1 - turned.x0;
            page->height = turned.y1 - turned.y0;
        }
        if (!qr_pdf_aborted(pdf))
            replay(pdf, list, qr_pdf_new_rules_device(ctx, rules), ctm);
    }
    fz_always(ctx)
    {
        fz_drop_display_list(ctx, list);
        fz_drop_page(ctx, fzpage);
    }
    fz_catch(ctx)
    {
        fz_drop_stext_page(ctx, st);
        return qr_pdf_caught(pdf, number, err);
    }
    *st_out = st;
    return QUIRE_OK;
}

static quire_status convert(qr_pdf *pdf, int number, fz_stext_page *st, const qr_rules *rules,
                            qr_arena *arena, qr_page *page, quire_error *err)
{
    conv *c = qr_calloc(1, sizeof(*c)); /* 1.5 KB of font cache: not on the stack */
    if (!c)
        return qr_err(err, QUIRE_NOMEM, "%s: page %d: out of memory", pdf->path, number);
    c->ctx = pdf->ctx;
    c->arena = arena;
    c->page = page;
    fz_rect page_box = {0, 0, page->width, page->height};
    convert_blocks(c, st, page_box);
    copy_rules(c, rules);
    copy_drawings(c, rules);
    page->text_coverage = fraction(c->line_area, page_box);
    page->image_coverage = fraction(c->image_area, page_box);
    int full = c->full;
    qr_free(c->chars.v);
    qr_free(c->chars.side);
    qr_free(c->chars.rune);
    qr_free(c);
    if (full)
        return qr_err(err, QUIRE_LIMIT, "%s: page %d: page text exceeds arena (%zu bytes)",
                      pdf->path, number, arena->cap);
    return QUIRE_OK;
}

quire_status qr_pdf_page_text(qr_pdf *pdf, int number, qr_arena *arena, qr_page *page,
                              volatile int *abort_flag, quire_error *err)
{
    memset(page, 0, sizeof(*page));
    if (!pdf || !arena)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_pdf_page_text: NULL argument");
    if (number < 1 || number > pdf->n_pages)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: page %d out of range 1..%d", pdf->path,
                      number, pdf->n_pages);
    size_t mark = arena->used;
    fz_stext_page *st = NULL;
    qr_rules rules = {0};
    page->number = number;
    page->source = QR_SRC_TEXT;
    page->mean_conf = -1;
    qr_pdf_watch(pdf, abort_flag);
    quire_status rc = extract(pdf, number, page, &st, &rules, err);
    if (rc == QUIRE_OK && qr_pdf_aborted(pdf))
        rc = qr_err(err, QUIRE_CANCELLED, "%s: page %d: text extraction cancelled",
                    pdf->path, number);
    if (rc == QUIRE_OK)
        rc = convert(pdf, number, st, &rules, arena, page, err);
    fz_drop_stext_page(pdf->ctx, st);
    qr_free(rules.v);
    qr_free(rules.dv);
    qr_free(rules.ds);
    pdf->watch = NULL;
    if (rc != QUIRE_OK) {
        arena->used = mark;
        memset(page, 0, sizeof(*page));
    }
    return rc;
}
