/*
 * pdf.h — the MuPDF wrapper. Opens PDFs and page images (PNG, JPEG, TIFF incl.
 * multi-page) and gives, per page, the positioned text of its text layer (core/page.h)
 * and a greyscale rendering. No fz_ type, exception or setjmp leaves this module:
 * every MuPDF error becomes a quire_status with a message naming the file and page.
 *
 * Threads: a qr_pdf has its own MuPDF context and must be used by one thread at a time;
 * open the same file once per worker thread to process pages in parallel.
 * Cancellation: every long call polls `abort_flag` (may be NULL) through MuPDF's
 * cookie, so a hanging page can be stopped from another thread.
 */
#ifndef QR_PDF_H
#define QR_PDF_H

#include <stddef.h>

#include "core/core.h"
#include "core/page.h"

typedef struct qr_pdf qr_pdf;

/* Open a PDF (also encrypted with an empty user password) or an image file.
 * Errors: QUIRE_IO (cannot read), QUIRE_FORMAT (not a PDF/image, damaged beyond
 * repair, no pages), QUIRE_UNSUPPORTED (needs a password). */
quire_status qr_pdf_open(const char *path, qr_pdf **out, quire_error *err);
void qr_pdf_close(qr_pdf *pdf);
int qr_pdf_page_count(const qr_pdf *pdf);
int qr_pdf_is_image(const qr_pdf *pdf); /* 1 for PNG/JPEG/TIFF input */

/* The text layer of page `number` (1-based) into *page, allocated from arena.
 * Fills words/lines/blocks, rules, and the statistics fields. */
quire_status qr_pdf_page_text(qr_pdf *pdf, int number, qr_arena *arena, qr_page *page,
                              volatile int *abort_flag, quire_error *err);

/* A greyscale 8-bit image, rows top to bottom. */
typedef struct qr_image {
    unsigned char *pixels; /* width * height bytes, stride == width; free with qr_free */
    int width, height;
    int dpi;               /* resolution the page was rendered at (or the image's own) */
} qr_image;

/* Render page `number` to greyscale at dpi (0 = for images: their own resolution, or
 * 300 if unknown; for PDF pages: 300). Refuses (QUIRE_LIMIT) renderings of more than
 * max_pixels (0 = 200 M pixels) and scales the dpi down instead when `fit` is 1. */
quire_status qr_pdf_render_gray(qr_pdf *pdf, int number, int dpi, size_t max_pixels, int fit,
                                qr_image *out, volatile int *abort_flag, quire_error *err);
void qr_image_free(qr_image *img);

#endif /* QR_PDF_H */
