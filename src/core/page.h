/*
 * page.h — the positioned text of one page, the common currency between the modules of
 * the conversion pipeline: src/pdf fills it from a PDF's text layer, src/ocr from
 * Tesseract's result on a rendered page image, src/layout reads it to build blocks in
 * reading order, src/export writes those.
 *
 * Coordinates are PDF points (1/72 inch) with the origin at the top-left corner of the
 * page and y growing downwards (MuPDF's convention). All memory (the arrays and the
 * text) lives in a qr_arena owned by whoever asked for the page; nothing is freed
 * individually, the arena is reset or freed as a whole.
 */
#ifndef QR_PAGE_H
#define QR_PAGE_H

#include <stddef.h>

typedef struct qr_bbox {
    float x0, y0, x1, y1;
} qr_bbox;

enum {
    QR_FONT_BOLD = 1,
    QR_FONT_ITALIC = 2,
    QR_FONT_MONO = 4,
    QR_FONT_SERIF = 8,
    QR_FONT_SUPERSCRIPT = 16
};

/* A word: characters of one font and size with no space inside (split at spaces, at
 * font changes and at horizontal gaps). */
typedef struct qr_word {
    const char *text; /* UTF-8, NUL-terminated, never empty */
    size_t len;       /* bytes */
    qr_bbox bbox;
    float size;       /* font size in points (OCR: estimated from the line height) */
    int flags;        /* QR_FONT_* */
    const char *font; /* font name ("" for OCR) */
    float conf;       /* OCR word confidence 0..100; -1 for the text layer */
} qr_word;

typedef struct qr_line {
    qr_bbox bbox;
    qr_word *words;
    int n_words;
    float dir_x, dir_y; /* writing direction (1,0) for horizontal text */
    float baseline;     /* y of the baseline of its largest characters (horizontal text
                           of the text layer); 0 = unknown (OCR, synthetic pages) */
} qr_line;

enum { QR_BLOCK_TEXT = 0, QR_BLOCK_IMAGE = 1 };

/* A block as the producer found it (MuPDF's stext block; Tesseract's paragraph). */
typedef struct qr_tblock {
    int kind; /* QR_BLOCK_* */
    qr_bbox bbox;
    qr_line *lines;
    int n_lines;
    int img_w, img_h; /* image blocks: the image's own size in pixels (0 = unknown) */
} qr_tblock;

enum { QR_SRC_TEXT = 0, QR_SRC_OCR = 1, QR_SRC_VLM = 2 /* blocks read by a VLM backend */ };

typedef struct qr_page {
    int number;    /* 1-based page number in the document */
    float width;   /* points */
    float height;
    int rotation;  /* degrees, as displayed (the PDF's /Rotate) */
    int text_rotation; /* degrees clockwise in which most of the displayed text runs
                          (0, 90, 180, 270: a /Rotate'd page, a landscape table set
                          sideways); when not 0, everything below (width, height,
                          boxes) is in the page turned back by it, text upright */
    int source;    /* QR_SRC_TEXT or QR_SRC_OCR */
    qr_tblock *blocks;
    int n_blocks;
    qr_bbox *rules; /* horizontal and vertical ruling lines (thin filled rectangles and
                       stroked lines), for table detection; may be empty */
    int n_rules;
    /* statistics used to choose text layer vs OCR */
    long n_chars;        /* characters in the text layer */
    long n_bad_chars;    /* U+FFFD, private-use, control characters */
    float text_coverage; /* fraction of the page area covered by text line boxes */
    float image_coverage;/* fraction of the page area covered by images */
    float mean_conf;     /* OCR: mean word confidence; -1 for the text layer */
    qr_bbox *drawings;   /* groups of painted vector paths (not rules, not glyphs): the
                            boxes of drawings that may be figures (src/layout/figures.c);
                            may be empty */
    int n_drawings;
    int n_shaped_drawings; /* drawings[0, this): with curves or slanted lines (plots,
                              diagrams); the rest are axis-aligned lines and boxes only */
    /* OCR: what was done to the page image before recognition (tess_orient.c) */
    float osd_conf;      /* Tesseract's orientation confidence; -1 when OSD did not run */
    float skew;          /* skew found: degrees by which the image is to be rotated to
                            straighten it (clockwise positive, as Leptonica rotates); the
                            image was straightened when |skew| >= 1; 0 = not measured */
    long n_garbage_chars; /* text layer: the bad characters that stand for text — every
                             one inside a word with letters or digits, and runs of 3 or
                             more; not lone symbol-font glyphs (music, dingbats) */
} qr_page;

#endif /* QR_PAGE_H */
