/*
 * pdf_int.h — shared by the files of src/pdf only. This is the one header in quire that
 * includes MuPDF; nothing declared here may appear in src/pdf/pdf.h.
 */
#ifndef QR_PDF_INT_H
#define QR_PDF_INT_H

/* MuPDF's headers trip -Wstrict-prototypes/-Wshadow; they are not our code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wshadow"
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#pragma GCC diagnostic pop

#include "pdf/pdf.h"

struct qr_pdf {
    fz_context *ctx;
    fz_document *doc;
    fz_cookie cookie;     /* handed to every fz_run_*; reset per call */
    volatile int *watch;  /* the current call's abort_flag (or NULL): see pdf_alloc */
    char *path;           /* for error messages */
    int n_pages;          /* the real count (see count_pages in pdf.c) */
    int is_image;
};

/* Start/end of a long call: resets the cookie and watches abort_flag. */
void qr_pdf_watch(qr_pdf *pdf, volatile int *abort_flag);
int qr_pdf_aborted(qr_pdf *pdf); /* flag or cookie set */

/* Map the caught MuPDF error to a status with "path: page N: message". page 0 = none. */
quire_status qr_pdf_caught(qr_pdf *pdf, int page, quire_error *err);

/* Rules (ruling lines) collected by qr_pdf_new_rules_device, in page coordinates. */
typedef struct qr_rules {
    qr_bbox *v;
    int n, cap;
    int overflow; /* more than QR_PDF_MAX_RULES: later ones were dropped */
    /* every painted path's and shading's box (rules included), for figure regions */
    qr_bbox *dv;
    unsigned char *ds; /* [dn]: 1 when that path has a curve or a slanted segment */
    int dn, dcap;
} qr_rules;
#define QR_PDF_MAX_RULES 20000

/* A device that records stroked axis-aligned segments and thin filled rectangles (and the
 * boxes of all painted paths and shadings into rules->dv, at most QR_PDF_MAX_RULES). Throws
 * (FZ_ERROR_MEMORY) only when qr_malloc fails. rules->v is freed by the caller. */
fz_device *qr_pdf_new_rules_device(fz_context *ctx, qr_rules *rules);

/* The matrix that turns a page (bounds) back by `orient` degrees (qr_page.text_rotation)
 * so that its text reads upright, the turned page's top-left corner at (0, 0); *out is
 * the turned box (pdf_text.c). */
/* The painted boxes grouped into drawings (boxes closer than a few points merged), the
 * groups at least min_side points wide and high kept, page-sized ones (frames,
 * backgrounds) left out. OUT: *out (qr_malloc'd), *n_out; the first *n_shaped of them
 * hold QR_PDF_SHAPED_PATHS or more paths with a curve or a slanted segment (plots,
 * diagrams), the others only axis-aligned lines and boxes (rules, grids, frames).
 * Returns 0, -1 on OOM. */
#define QR_PDF_SHAPED_PATHS 3
int qr_pdf_group_drawings(const qr_rules *r, float page_w, float page_h, float min_side,
                          qr_bbox **out, int *n_out, int *n_shaped);

fz_matrix qr_pdf_turn_back(fz_rect bounds, int orient, fz_rect *out);

#endif /* QR_PDF_INT_H */
