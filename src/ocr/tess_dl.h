/*
 * tess_dl.h — Tesseract's C API through a table filled by dlopen/dlsym on first use.
 *
 * Why: linking libtesseract into the `quire` binary runs Tesseract's (and its
 * dependencies') static initialisers at every process start, ~25 ms here, which a
 * `quire embed` that never OCRs should not pay. Loading it on the first OCR handle keeps
 * the CLI's cold start at a few ms, and makes OMP_THREAD_LIMIT=1 effective (libgomp reads
 * it when it loads, which is now after our setenv). Files of src/ocr include this header
 * instead of <tesseract/capi.h>; the macros below route every call through the table.
 */
#ifndef QR_TESS_DL_H
#define QR_TESS_DL_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <tesseract/capi.h>
#pragma GCC diagnostic pop

#include <leptonica/allheaders.h>

#include "core/core.h"

#define QR_TESS_FUNCS(X)                                                                      \
    X(TessBaseAPIClear) X(TessBaseAPIClearAdaptiveClassifier) X(TessBaseAPICreate)             \
    X(TessBaseAPIDelete) X(TessBaseAPIEnd) X(TessBaseAPIGetIterator) X(TessBaseAPIInit2)       \
    X(TessBaseAPIRecognize) X(TessBaseAPISetImage) X(TessBaseAPISetPageSegMode)               \
    X(TessBaseAPISetSourceResolution) X(TessBaseAPISetVariable) X(TessDeleteText)             \
    X(TessMonitorCreate) X(TessMonitorDelete) X(TessMonitorSetCancelFunc)                     \
    X(TessMonitorSetCancelThis) X(TessPageIteratorBlockType) X(TessPageIteratorBoundingBox)   \
    X(TessPageIteratorIsAtBeginningOf) X(TessResultIteratorConfidence)                        \
    X(TessResultIteratorDelete) X(TessResultIteratorGetPageIterator)                          \
    X(TessResultIteratorGetUTF8Text) X(TessResultIteratorNext)                                \
    X(TessResultIteratorWordFontAttributes) X(TessBaseAPIDetectOrientationScript)

typedef struct qr_tess_api {
#define QR_TESS_MEMBER(name) __typeof__(name) *name;
    QR_TESS_FUNCS(QR_TESS_MEMBER)
#undef QR_TESS_MEMBER
} qr_tess_api;

extern qr_tess_api qr_tess;

/* Leptonica (a dependency of libtesseract, so loaded with it) for deskewing, looked up
 * through the same handle. Optional: when a symbol is missing, qr_lept.ok is 0 and pages
 * are not deskewed (Tesseract copes with small skew itself, less well with more). */
#define QR_LEPT_FUNCS(X)                                                                      \
    X(pixCreate) X(pixDestroy) X(pixGetData) X(pixGetWpl) X(pixGetWidth) X(pixGetHeight)      \
    X(pixGetDepth) X(pixConvertTo1) X(pixFindSkew) X(pixRotate) X(setMsgSeverity)

typedef struct qr_lept_api {
    int ok;
#define QR_LEPT_MEMBER(name) __typeof__(name) *name;
    QR_LEPT_FUNCS(QR_LEPT_MEMBER)
#undef QR_LEPT_MEMBER
} qr_lept_api;

extern qr_lept_api qr_lept;

/* Load libtesseract once (thread-safe). Errors name the library and the Debian package. */
quire_status qr_tess_load(quire_error *err);
/* The dlopen handle (NULL before a successful load), for other lookups (libgomp). */
void *qr_tess_handle(void);

#ifndef QR_TESS_NO_MACROS /* tess_dl.c itself needs the plain names */
#define TessBaseAPIClear (qr_tess.TessBaseAPIClear)
#define TessBaseAPIClearAdaptiveClassifier (qr_tess.TessBaseAPIClearAdaptiveClassifier)
#define TessBaseAPICreate (qr_tess.TessBaseAPICreate)
#define TessBaseAPIDelete (qr_tess.TessBaseAPIDelete)
#define TessBaseAPIEnd (qr_tess.TessBaseAPIEnd)
#define TessBaseAPIGetIterator (qr_tess.TessBaseAPIGetIterator)
#define TessBaseAPIInit2 (qr_tess.TessBaseAPIInit2)
#define TessBaseAPIRecognize (qr_tess.TessBaseAPIRecognize)
#define TessBaseAPISetImage (qr_tess.TessBaseAPISetImage)
#define TessBaseAPISetPageSegMode (qr_tess.TessBaseAPISetPageSegMode)
#define TessBaseAPISetSourceResolution (qr_tess.TessBaseAPISetSourceResolution)
#define TessBaseAPISetVariable (qr_tess.TessBaseAPISetVariable)
#define TessDeleteText (qr_tess.TessDeleteText)
#define TessMonitorCreate (qr_tess.TessMonitorCreate)
#define TessMonitorDelete (qr_tess.TessMonitorDelete)
#define TessMonitorSetCancelFunc (qr_tess.TessMonitorSetCancelFunc)
#define TessMonitorSetCancelThis (qr_tess.TessMonitorSetCancelThis)
#define TessPageIteratorBlockType (qr_tess.TessPageIteratorBlockType)
#define TessPageIteratorBoundingBox (qr_tess.TessPageIteratorBoundingBox)
#define TessPageIteratorIsAtBeginningOf (qr_tess.TessPageIteratorIsAtBeginningOf)
#define TessResultIteratorConfidence (qr_tess.TessResultIteratorConfidence)
#define TessResultIteratorDelete (qr_tess.TessResultIteratorDelete)
#define TessResultIteratorGetPageIterator (qr_tess.TessResultIteratorGetPageIterator)
#define TessResultIteratorGetUTF8Text (qr_tess.TessResultIteratorGetUTF8Text)
#define TessResultIteratorNext (qr_tess.TessResultIteratorNext)
#define TessResultIteratorWordFontAttributes (qr_tess.TessResultIteratorWordFontAttributes)
#define TessBaseAPIDetectOrientationScript (qr_tess.TessBaseAPIDetectOrientationScript)
#endif

#endif /* QR_TESS_DL_H */
