/*
 * layout.h — from positioned text (core/page.h) to blocks in reading order: column
 * detection from block geometry, headings from font-size/weight statistics relative to
 * the body text, paragraphs re-joined across lines with de-hyphenation, bulleted and
 * numbered lists, tables (ruled or column-aligned) as cells, monospace code blocks,
 * running headers/footers and page numbers removed (across pages).
 */
#ifndef QR_LAYOUT_H
#define QR_LAYOUT_H

#include "core/core.h"
#include "core/page.h"

enum qr_blk_type {
    QR_BLK_PARAGRAPH = 0,
    QR_BLK_HEADING = 1,   /* level 1..3 */
    QR_BLK_LIST_ITEM = 2, /* level = nesting depth from 0; ordered = numbered */
    QR_BLK_TABLE = 3,     /* cells */
    QR_BLK_CODE = 4,      /* text keeps its line breaks */
    QR_BLK_CAPTION = 5,
    QR_BLK_FORMULA = 6,   /* display formula, LaTeX kept with its delimiters (VLM pages) */
    QR_BLK_FIGURE = 7     /* an embedded image or a vector drawing (figures.c):
                             bbox = its region, text = the labels drawn inside it,
                             caption = its "Figure N" caption, image = set by the caller */
};

/* A table cell with its extent in the grid (a spanning header has col_span > 1). */
typedef struct qr_tcell {
    int row, col, row_span, col_span;
    const char *text; /* UTF-8, never NULL */
    qr_bbox bbox;
} qr_tcell;

/* One piece of a block that continues across a page or column break. */
typedef struct qr_block_part {
    int page;      /* 1-based */
    qr_bbox bbox;  /* of the piece on that page */
    size_t offset; /* byte offset in the block's text where the piece's text starts */
} qr_block_part;

typedef struct qr_block {
    int type;       /* enum qr_blk_type */
    int level;
    int ordered;
    const char *marker; /* list marker as printed ("1.", "a)", "•"), or NULL */
    const char *text;   /* UTF-8; paragraphs joined with single spaces; code keeps '\n' */
    int n_rows, n_cols; /* tables */
    const char **cells; /* [n_rows * n_cols], row-major, "" for empty; a spanning cell's
                           text is in its top-left position, the positions it covers "" */
    const qr_tcell *tcells; /* tables: the non-empty cells with spans, row-major */
    int n_tcells;
    int page;           /* 1-based page number (of its first part) */
    qr_bbox bbox;       /* on `page` (its first part) */
    int page_end;       /* last page it covers: > page for a paragraph continued overleaf */
    const qr_block_part *parts; /* a paragraph continued across a page or column break:
                                   every piece in order (parts[0] is page/bbox) */
    int n_parts;        /* 0 when the block is in one piece */
    int source;         /* QR_SRC_TEXT / QR_SRC_OCR */
    float conf;         /* mean OCR confidence of its words, -1 for the text layer */
    /* figures */
    const char *caption; /* the caption block's text (the caption stays a block too), or NULL */
    int drawing;         /* 1: a vector drawing (painted paths), 0: an embedded image */
    const char *image;   /* file name or data: URI the output refers to (set after layout
                            by the converter when it exported the figure), or NULL */
} qr_block;

typedef struct qr_layout {
    qr_block *blocks;
    int n_blocks;
    int n_removed_furniture; /* running headers/footers/page numbers dropped */
} qr_layout;

/* Analyse a document's pages (in page order; any may be NULL for a failed page, which
 * is skipped). All output memory comes from arena. */
quire_status qr_layout_doc(const qr_page *const *pages, int n_pages, qr_arena *arena,
                           qr_layout *out, quire_error *err);

/* Options for plain-text output, which should read like the page itself. */
typedef struct qr_layout_opts {
    int keep_lines;     /* 1 = a block's text keeps its line breaks and hyphens */
    int keep_furniture; /* 1 = keep running headers/footers and page numbers */
    int figures;        /* 1 = figure blocks (QR_BLK_FIGURE) for images and captioned
                           drawings, their inner labels moved into them (figures.c) */
    int section_numbers; /* 1 = numbered sections (gamebooks, codes): a lone number in the
                            page-number band is a page number only when it follows the
                            page order (number minus page as on another page), since
                            section numbers head columns there too (furniture.c) */
} qr_layout_opts;

/* Figure thresholds (figures.c; README "Figures"): an embedded image becomes a figure
 * when it is drawn at least QR_FIG_MIN_SIDE points wide and high and covers at least
 * QR_FIG_MIN_AREA of the page (smaller: logos, icons, rules, TeX's 1x1 rule images),
 * and less than QR_FIG_MAX_AREA (a page-sized background or scan). */
#define QR_FIG_MIN_SIDE 32.0f
#define QR_FIG_MIN_AREA 0.01f
#define QR_FIG_MAX_AREA 0.90f

/* qr_layout_doc with options (opts NULL = defaults, all 0). */
quire_status qr_layout_doc_ex(const qr_page *const *pages, int n_pages,
                              const qr_layout_opts *opts, qr_arena *arena, qr_layout *out,
                              quire_error *err);

#endif /* QR_LAYOUT_H */
