/*
 * ocr.h — OCR engines. Tesseract through its C API (LSTM engine, automatic page
 * segmentation), one handle per worker thread, created lazily and reused. Debian's
 * Tesseract uses OpenMP: qr_ocr_global_init() limits it to one thread per handle
 * (OMP_THREAD_LIMIT=1 before the first handle) because parallelism comes from our
 * workers.
 */
#ifndef QR_OCR_H
#define QR_OCR_H

#include "core/core.h"
#include "core/page.h"
#include "pdf/pdf.h"

typedef struct qr_ocr qr_ocr;

/* Call once before any thread creates a handle (idempotent). */
void qr_ocr_global_init(void);

/* A Tesseract handle for `lang` ("eng", "deu+eng", ...). A language without trained
 * data -> QUIRE_NOT_FOUND naming the missing Debian package (tesseract-ocr-deu). */
quire_status qr_ocr_new(const char *lang, qr_ocr **out, quire_error *err);
void qr_ocr_free(qr_ocr *ocr);

/* Recognise a page image. The result is laid out in PDF points for a page of
 * page_w x page_h points (image pixels are scaled by page_w / img->width), with
 * Tesseract's blocks/paragraphs/lines/words and word confidences; page->source is
 * QR_SRC_OCR and page->mean_conf is set. abort_flag is polled (may be NULL). */
quire_status qr_ocr_page(qr_ocr *ocr, const qr_image *img, float page_w, float page_h,
                         qr_arena *arena, qr_page *page, volatile int *abort_flag,
                         quire_error *err);

/* qr_ocr_page with options: QR_OCR_NO_OSD = no orientation detection (the image is read
 * as it is; deskew still runs): the image regions of a text-layer page, whose text runs
 * as the page's does. */
enum { QR_OCR_NO_OSD = 1 };
quire_status qr_ocr_page_ex(qr_ocr *ocr, const qr_image *img, float page_w, float page_h,
                            int flags, qr_arena *arena, qr_page *page,
                            volatile int *abort_flag, quire_error *err);

#endif /* QR_OCR_H */
