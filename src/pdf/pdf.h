/*
 * pdf.h — the MuPDF wrapper. Opens PDFs and page images (PNG, JPEG, TIFF incl.
 * multi-page) and gives, per page, the positioned text of its text layer (core/page.h)
 * and a greyscale rendering. No fz_ type, exception or setjmp leaves this module:
 * every MuPDF error becomes a quire_status with a message naming the file and page.
 *
 * Threads: a qr_pdf has its own MuPDF context and must be used by one thread at a time;
 * open the same file once per worker thread to process pages in parallel.
 * Cancellation: every long call takes `abort_flag` (may be NULL). Another thread sets
 * *abort_flag to non-zero; the wrapper forwards it into MuPDF's cookie whenever MuPDF
 * allocates (which it does continually while interpreting or drawing) and between
 * steps, and MuPDF stops at its next check. The call then returns QUIRE_CANCELLED and
 * the qr_pdf stays usable. The flag is only read, never reset.
 *
 * Usage:
 *
 *     qr_pdf *pdf;  qr_arena arena;  qr_page page;  quire_error err;
 *     if (qr_pdf_open(path, &pdf, &err) != QUIRE_OK) ...;
 *     qr_arena_init(&arena, 16 << 20);       // ~300 KB per page is typical, 16 MB ample
 *     for (int p = 1; p <= qr_pdf_page_count(pdf); p++) {
 *         qr_arena_reset(&arena);
 *         if (qr_pdf_page_text(pdf, p, &arena, &page, NULL, &err) != QUIRE_OK) ...;
 *     }
 *     qr_arena_free(&arena);
 *     qr_pdf_close(pdf);
 */
#ifndef QR_PDF_H
#define QR_PDF_H

#include <stddef.h>

#include "core/core.h"
#include "core/page.h"

typedef struct qr_pdf qr_pdf;

/* Open a PDF (also encrypted with an empty user password) or an image file (PNG, JPEG,
 * TIFF, PNM, BMP, GIF, JPEG 2000), recognised by content, not by file name. Damaged PDFs
 * are repaired where MuPDF can; the page count is the number of pages really in the
 * page tree (cycles skipped, a declared /Count is not trusted).
 * Errors: QUIRE_IO (cannot read), QUIRE_FORMAT (empty, not a PDF/image, damaged beyond
 * repair, no pages), QUIRE_UNSUPPORTED_PASSWORD ("password-protected"), QUIRE_NOMEM. */
quire_status qr_pdf_open(const char *path, qr_pdf **out, quire_error *err);
void qr_pdf_close(qr_pdf *pdf);
int qr_pdf_page_count(const qr_pdf *pdf);
int qr_pdf_is_image(const qr_pdf *pdf); /* 1 for PNG/JPEG/TIFF input */
/* The document's own metadata (Info dictionary, /Lang, XMP) as a JSON object text with
 * the keys of quire_convert_result.metadata (pdf_meta.c). *out NULL when there is none
 * (images too); damaged metadata is skipped, never an error. OUT: *out (qr_free). */
quire_status qr_pdf_metadata(qr_pdf *pdf, char **out, quire_error *err);

/* The text layer of page `number` (1-based) into *page, allocated from arena (borrowed:
 * valid until the arena is reset). Fills words/lines/blocks (image blocks too, without
 * lines), rules, rotation and the statistics fields. Words split at spaces, font or
 * size changes and gaps > 0.25 em; word.font is the font name without the subset tag
 * ("CMR10", not "ABCDEF+CMR10"). line.baseline is the y of the baseline of the line's
 * largest characters (layout groups rows on it). Lines holding only spaces are left out.
 * Errors: QUIRE_INVALID_ARG (page out of range), QUIRE_LIMIT (the page does not fit in
 * the arena: arena->used is restored and *page zeroed), QUIRE_CANCELLED, QUIRE_FORMAT
 * (the page cannot be loaded), QUIRE_NOMEM. On any error *page is zeroed. */
quire_status qr_pdf_page_text(qr_pdf *pdf, int number, qr_arena *arena, qr_page *page,
                              volatile int *abort_flag, quire_error *err);

/* A greyscale 8-bit image, rows top to bottom. */
typedef struct qr_image {
    unsigned char *pixels; /* width * height bytes, stride == width; free with qr_free */
    int width, height;
    int dpi;               /* resolution the page was rendered at (or the image's own) */
} qr_image;

/* Scans (a PDF page that is one image) of at least this resolution and below 300 dpi
 * are rendered at their own resolution by default, not resampled (pdf.c pdf_page_dpi). */
#define QR_PDF_SCAN_NATIVE_MIN_DPI 200

/* Render page `number` to greyscale at dpi (0 = for images: their own resolution, i.e.
 * the original pixel size, or 300 if there is no image; for PDF pages: 300, or a scan's
 * own resolution when that is 200..299 dpi), white
 * background, displayed orientation (/Rotate applied). Refuses (QUIRE_LIMIT) renderings
 * of more than max_pixels (0 = 200 M pixels) before allocating anything, and lowers the
 * dpi to fit instead when `fit` is 1 (out->dpi says which dpi was used). *out is
 * zeroed on failure; free it with qr_image_free. Errors: QUIRE_INVALID_ARG (page out of
 * range, dpi < 0 or > 9600), QUIRE_LIMIT, QUIRE_CANCELLED, QUIRE_FORMAT, QUIRE_NOMEM. */
quire_status qr_pdf_render_gray(qr_pdf *pdf, int number, int dpi, size_t max_pixels, int fit,
                                qr_image *out, volatile int *abort_flag, quire_error *err);
void qr_image_free(qr_image *img);

/* img as a PNG file (8-bit grey) with pdf's MuPDF context (any open handle; one thread at a
 * time, like every call on it). OUT: *out (qr_malloc'd; free with qr_free), *out_len. */
quire_status qr_pdf_encode_png(qr_pdf *pdf, const qr_image *img, unsigned char **out,
                               size_t *out_len, quire_error *err);
/* img as a baseline JPEG (grey) of quality 1-100 (libjpeg; no MuPDF context needed).
 * OUT: *out (qr_free), *out_len. */
quire_status qr_pdf_encode_jpeg(const qr_image *img, int quality, unsigned char **out,
                                size_t *out_len, quire_error *err);

/* Region `box` of page `number` (in qr_page coordinates: points, top-left origin, the page
 * turned back by text_rotation as qr_pdf_page_text gave it) rendered in colour (RGB, white
 * background, everything drawn there: images, vector paths, text) at dpi (0 = 150) and
 * encoded as PNG: figure export. Refuses (QUIRE_LIMIT) more than 40 M pixels; an empty
 * or off-page box is QUIRE_INVALID_ARG. OUT: *png (qr_malloc'd), *png_len, *w, *h pixels. */
quire_status qr_pdf_render_region_png(qr_pdf *pdf, int number, qr_bbox box, int text_rotation,
                                      int dpi, unsigned char **png, size_t *png_len, int *w,
                                      int *h, volatile int *abort_flag, quire_error *err);

/* Region `box` of page `number` (qr_page coordinates of an upright page: points, top-left
 * origin) rendered in grey (white background, everything drawn there) at dpi (0 = 300):
 * the OCR of an image inside a text-layer page. Refuses (QUIRE_LIMIT) more than 40 M
 * pixels; an empty or off-page box is QUIRE_INVALID_ARG. OUT: *out (free with
 * qr_image_free). */
quire_status qr_pdf_render_region_gray(qr_pdf *pdf, int number, qr_bbox box, int dpi,
                                       qr_image *out, volatile int *abort_flag, quire_error *err);

#endif /* QR_PDF_H */
