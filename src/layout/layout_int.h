/*
 * layout_int.h — shared between the files of src/layout only.
 *
 * The pipeline (layout.c drives it):
 *   1. collect   every horizontal text line of every page into qr_lline records;
 *   2. furniture.c marks running headers/footers and page numbers as removed;
 *   3. body font size = most common size by characters;
 *   4. columns.c  gives each line a reading-order band/column and sorts each page;
 *   5. rows       lines of one band/column on the same baseline merge into a visual row
 *                 (bullet + text, table cells), and smaller lines raised or lowered
 *                 against it (superscripts, subscripts); lines on different
 *                 baselines never merge, however their boxes overlap (tight
 *                 leading, tall bullet glyphs);
 *   6. classify.c walks the rows in reading order and emits blocks (tables.c finds
 *                 ruled and column-aligned tables, headings/lists/code/paragraphs);
 *   7. post passes: paragraphs continued across columns/pages, heading levels.
 * Scratch memory comes from qr_malloc and is freed at the end; blocks and their
 * strings come from the caller's arena.
 */
#ifndef QR_LAYOUT_INT_H
#define QR_LAYOUT_INT_H

#include "layout/layout.h"

/* One producer line (qr_line) with what the ordering needs. */
typedef struct qr_lline {
    const qr_line *line;
    int page;   /* index into the pages array */
    int blk;    /* producer block, unique in the document */
    qr_bbox bbox;
    float base; /* baseline y (qr_line.baseline), 0 = unknown */
    float size; /* largest font size of its words */
    int band;   /* reading-order band on the page (columns.c) */
    int col;    /* column inside the band, -1 for full-width */
    int removed;
    int src;    /* QR_SRC_*: the page's, or QR_SRC_OCR for the OCR'd insert of a text page
                   (its words have a confidence) */
} qr_lline;

/* A visual row: lines of one band/column sharing a baseline, words sorted by x. */
typedef struct qr_lrow {
    int page;            /* index into pages */
    int page_no;         /* 1-based number as printed in output */
    int source;          /* QR_SRC_* */
    int band, col, blk;
    qr_bbox bbox;
    const qr_word **words;
    int n_words;
    float size;          /* dominant font size (by characters) */
    int bold, mono;      /* >= 90 % of the characters */
    int n_chars;
    char *text;          /* words joined with spaces where there was a gap (scratch) */
    size_t len;
    int used;            /* consumed by an emitted block */
    float cx0, cx1;      /* left/right text edge of its page/band/column (classify.c) */
} qr_lrow;

/* Is the word set in a monospace (typewriter) font? (layout.c) */
int qr_layout_mono_word(const qr_word *w);
/* True when the word's font name, lower-cased, contains one of NAMES. */
int qr_layout_font_has(const qr_word *w, const char *const *names, size_t n_names);

/* Heading key of an emitted heading, used to assign levels at the end. */
typedef struct qr_hkey {
    float size;
    int bold;
    int depth; /* numbering depth: "2" -> 1, "2.1" -> 2, 0 if not numbered */
} qr_hkey;

typedef struct qr_scratch qr_scratch;

typedef struct qr_lctx {
    const qr_page *const *pages;
    int n_pages;
    qr_arena *arena;
    quire_error *err;
    qr_scratch *scratch; /* list of qr_malloc'd blocks freed at the end */
    int nomem;           /* sticky */
    float body;          /* body font size */
    qr_lline *lines;
    int n_lines;
    qr_lrow *rows;
    int n_rows;
    qr_block *blocks; /* arena, capacity n_rows + 1 */
    qr_hkey *hkeys;   /* scratch, parallel to blocks */
    double *csum;     /* scratch, parallel to blocks: sum of OCR word confidences */
    int *ccnt;        /* and their count */
    const qr_lrow **blast; /* scratch, parallel to blocks: last row taken */
    const qr_lrow **bfirst; /* and first row */
    int n_blocks;
    int n_removed;
    int keep_lines; /* qr_layout_opts.keep_lines */
    int section_numbers; /* qr_layout_opts.section_numbers */
    struct qr_ruled *ruled; /* tables.c: ruled regions of all pages */
    int n_ruled;
    struct qr_lrow **trows; /* tables.c: try_ruled's row buffer, allocated once */
    int aligned_skip;       /* tables.c: rows up to this index start no aligned table */
} qr_lctx;

/* layout.c: memory helpers (both set ctx->nomem on failure). */
void *qr_lx_scratch(qr_lctx *c, size_t n);          /* zeroed, freed at the end */
char *qr_lx_strdup(qr_lctx *c, const char *s, size_t n); /* into the arena */
/* A new output block (zeroed, page/source/bbox from the row), or NULL. */
qr_block *qr_lx_block(qr_lctx *c, int type, qr_lrow *first);
/* Add a row to the last block: grows bbox, confidence, marks the row used. */
void qr_lx_take(qr_lctx *c, qr_lrow *r);
int qr_lx_utf8_is_lower(const char *s);
int qr_lx_utf8_is_letter(const char *s);
/* How a line's text b goes on after the text a[0, na) it continues: returns how many
 * bytes of a to keep and sets *space when a space goes between. Drops a soft hyphen or a
 * hyphen that broke a word ("exam-" + "ple"); keeps the hyphen of a compound
 * ("state-of-the-" + "art") and joins a URL or e-mail address broken at the line end
 * without a space and without removing a hyphen of its own ("https://www.acm." + "org/",
 * "doc-" + "tools.html" inside a URL). */
size_t qr_lx_join_point(const char *a, size_t na, const char *b, int *space);

/* furniture.c: mark running headers/footers and page numbers; counts them. */
void qr_layout_furniture(qr_lctx *c);

/* columns.c: band/col for the lines of one page and sort them in reading order. */
void qr_layout_order_page(qr_lctx *c, const qr_page *pg, qr_lline *lines, int n);

/* tables.c: find ruled regions (grids and booktabs-style rule stacks) of all pages. */
void qr_layout_tables_prepare(qr_lctx *c);
/* tables.c: try a table starting at rows[i]; returns the number of rows in stream
 * order it consumed from i (0 when there is no table). */
int qr_layout_table(qr_lctx *c, int i);
/* tables.c: does row b lie in a pending ruled table region that row a is outside of? */
int qr_layout_table_edge(const qr_lctx *c, const qr_lrow *a, const qr_lrow *b);
/* Split a row into segments at gaps wider than `gap` points. OUT: seg x ranges. */
int qr_layout_segments(const qr_lrow *r, float gap, float *sx0, float *sx1, int max);

/* figures.c: figure blocks for images and captioned drawings, put into reading order
 * (replaces c->blocks; run last, the parallel scratch arrays no longer apply). */
void qr_layout_figures(qr_lctx *c);

/* classify.c: walk the rows and emit blocks. */
void qr_layout_classify(qr_lctx *c);
/* Does row b continue the text of row a (same column, normal line spacing)? */
int qr_layout_flows(const qr_lctx *c, const qr_lrow *a, const qr_lrow *b);
/* Next row after i not yet used, or -1. */
int qr_layout_next(const qr_lctx *c, int i);
/* lists.c: parse a list marker at the start of s. OUT: marker length in bytes,
 * *ordered. Returns 1 when s starts with a marker followed by a space and text. */
int qr_layout_list_marker(const char *s, size_t *mlen, int *ordered, int *strong);
/* headings.c */
int qr_layout_heading_depth(const char *s);
void qr_layout_heading_levels(qr_lctx *c);

#endif /* QR_LAYOUT_INT_H */
