/*
 * ocr_int.h — shared between the files of src/ocr only. No Tesseract type appears here
 * either: tess.c owns the handle, tess_page.c walks Tesseract's result through the few
 * calls declared below; the Tesseract headers are included by the .c files only.
 */
#ifndef QR_OCR_INT_H
#define QR_OCR_INT_H

#include "ocr.h"

/* The handle: one Tesseract instance, used by one thread at a time. */
struct TessBaseAPI;
struct qr_ocr {
    struct TessBaseAPI *api;
    char lang[128];
    char dir[1024];          /* the tessdata folder */
    struct TessBaseAPI *osd; /* orientation detection ("osd" model), made on first use */
    int osd_state;           /* 0 = not tried yet, 1 = ready, -1 = unavailable */
};

/* The OSD engine of a handle, created on first use (NULL when osd.traineddata is not
 * installed or fails to load; tried once per handle). */
struct TessBaseAPI *qr_ocr_osd_api(qr_ocr *ocr);

/* What qr_ocr_orient found and did (tess_orient.c). */
typedef struct qr_ocr_orient {
    int rotation;   /* degrees clockwise in which the text ran in the image: 0, 90, 180,
                       270; the image was turned back by it */
    float osd_conf; /* Tesseract's orientation confidence; -1 when OSD did not run */
    float skew;     /* skew found: degrees by which the image is to be rotated to
                       straighten it (clockwise positive, as Leptonica rotates); 0 when
                       not measured with confidence */
    int deskewed;   /* 1 when the image was rotated by skew (|skew| >= 1 degree) */
} qr_ocr_orient;

/* Before recognition: detect the page's orientation with Tesseract's OSD (when osd is 1)
 * and turn the image upright when OSD is confident, then measure the skew with Leptonica
 * and straighten the image when it is 1 degree or more. *img is
 * replaced by the new image when one is made (its old pixels are freed only when
 * owned: *owned is set to 1 once img->pixels is ours to free). Never fails: whatever
 * cannot be done is left undone (and reported as 0 / -1 in *out). */
void qr_ocr_orient_image(qr_ocr *ocr, qr_image *img, int *owned, int osd, qr_ocr_orient *out);

/* Tesseract's coordinates are int16 in Debian's build (TDimension): larger images
 * are refused before they reach it. */
#define QR_OCR_MAX_SIDE 32767

/* Make Tesseract's OpenMP loops run on the calling thread only (per-thread setting in
 * libgomp >= 11; cheap, called before each recognition). */
void qr_ocr_limit_threads(void);

/* The tessdata folder in use (TESSDATA_PREFIX, then Debian's 5 and 4.00 folders).
 * OUT: dir (cap bytes). Returns 0 if found, -1 if none exists. */
int qr_ocr_tessdata_dir(char *dir, size_t cap);

/* Check that every '+'-separated language of `lang` has <code>.traineddata in dir.
 * QUIRE_INVALID_ARG for a malformed list, QUIRE_NOT_FOUND naming the Debian package. */
quire_status qr_ocr_check_langs(const char *dir, const char *lang, quire_error *err);

/* Debian package name of a Tesseract language code ("chi_sim" -> "tesseract-ocr-chi-sim")
 * into out (cap bytes). */
void qr_ocr_package_name(const char *code, size_t code_len, char *out, size_t cap);

#endif /* QR_OCR_INT_H */
