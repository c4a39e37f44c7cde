/*
 * pdf.c — opening documents and rendering pages with MuPDF. Every entry point runs its
 * MuPDF calls inside fz_try and turns the exception into a quire_status; each qr_pdf owns
 * its fz_context (no locks: one thread at a time), whose allocations go through
 * qr_malloc so that fault injection and leak checks see them. The structured text is
 * in pdf_text.c, the ruling-line device in pdf_rules.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pdf/pdf_int.h"

/* MuPDF keeps decoded fonts and images in its store; 64 MB keeps memory flat over long
 * documents while still caching the fonts of a typical page range. */
#define STORE_BYTES ((size_t)64 << 20)
#define DEFAULT_MAX_PIXELS ((size_t)200 << 20)
#define DEFAULT_DPI 300

/* ---- MuPDF allocator: qr_malloc, plus the abort poll --------------------------- */

/* MuPDF allocates constantly while it interprets or draws a page, so the allocator is
 * a cheap, frequent place to notice the caller's abort flag and forward it into the
 * cookie, which MuPDF checks at its own safe points. */
static void poll_abort(qr_pdf *pdf)
{
    if (pdf && pdf->watch && *pdf->watch)
        pdf->cookie.abort = 1;
}

static void *pdf_malloc(void *user, size_t n)
{
    poll_abort(user);
    return qr_malloc(n);
}

static void *pdf_realloc(void *user, void *p, size_t n)
{
    poll_abort(user);
    return qr_realloc(p, n);
}

static void pdf_free(void *user, void *p)
{
    (void)user;
    qr_free(p);
}

/* MuPDF reports warnings and swallowed errors through these; by default it prints them
 * to stderr, which a library must not do on its input. */
static void pdf_log_cb(void *user, const char *message)
{
    (void)user;
    qr_log(QUIRE_LOG_DEBUG, "mupdf: %s", message);
}

void qr_pdf_watch(qr_pdf *pdf, volatile int *abort_flag)
{
    memset(&pdf->cookie, 0, sizeof(pdf->cookie));
    pdf->watch = abort_flag;
    poll_abort(pdf);
}

int qr_pdf_aborted(qr_pdf *pdf)
{
    poll_abort(pdf);
    return pdf->cookie.abort != 0;
}

quire_status qr_pdf_caught(qr_pdf *pdf, int page, quire_error *err)
{
    int code = fz_caught(pdf->ctx);
    const char *msg = fz_caught_message(pdf->ctx);
    quire_status st = QUIRE_FORMAT;
    if (code == FZ_ERROR_MEMORY)
        st = QUIRE_NOMEM;
    else if (code == FZ_ERROR_ABORT || qr_pdf_aborted(pdf))
        st = QUIRE_CANCELLED;
    if (page > 0)
        return qr_err(err, st, "%s: page %d: %s", pdf->path, page, msg);
    return qr_err(err, st, "%s: %s", pdf->path, msg);
}

/* ---- open ----------------------------------------------------------------------- */

/* Choose the document handler from the first bytes, not the file name, so that a PNG
 * called x.pdf opens as an image. Unknown content goes to the PDF handler, which can
 * repair files with junk before the header and otherwise fails cleanly. */
static const char *sniff_magic(const unsigned char *b, size_t n, int *is_image)
{
    *is_image = 1;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (n >= 3 && memcmp(b, "\xff\xd8\xff", 3) == 0)
        return "jpg";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return "tif";
    if (n >= 6 && memcmp(b, "GIF8", 4) == 0)
        return "gif";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return "bmp";
    if (n >= 12 && memcmp(b, "\0\0\0\x0cjP  ", 8) == 0)
        return "jp2";
    if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' &&
        (b[2] == '\n' || b[2] == '\r' || b[2] == ' ' || b[2] == '\t'))
        return "pnm";
    *is_image = 0;
    return "pdf";
}

/* Read the head of the file: IO errors and empty files are reported before MuPDF. */
static quire_status read_head(const char *path, unsigned char *buf, size_t cap, size_t *n,
                              quire_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qr_err(err, QUIRE_IO, "%s: cannot open file", path);
    *n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return qr_err(err, QUIRE_IO, "%s: cannot read file", path);
    if (*n == 0)
        return qr_err(err, QUIRE_FORMAT, "%s: empty file", path);
    return QUIRE_OK;
}

/* Count the leaves of the page tree ourselves. MuPDF trusts the root's /Count (so a
 * declared 2^31-1 pages would be "real") and finds cycles only when it descends; this
 * walk marks nodes to skip cycles and visits at most one node per xref entry, so its
 * cost is bounded by the file, never by a declared number. */
static int walk_pages(fz_context *ctx, pdf_obj *node, int depth, int *budget)
{
    if (!pdf_is_dict(ctx, node) || depth > 64 || --*budget < 0)
        return 0;
    pdf_obj *kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
    if (!pdf_is_array(ctx, kids))
        return 1; /* a leaf: a /Page (or a /Pages without kids, which MuPDF skips too) */
    if (pdf_mark_obj(ctx, node))
        return 0; /* already on the current path: a cycle */
    int n = 0;
    fz_try(ctx)
    {
        int len = pdf_array_len(ctx, kids);
        for (int i = 0; i < len && *budget >= 0; i++)
            n += walk_pages(ctx, pdf_array_get(ctx, kids, i), depth + 1, budget);
    }
    fz_always(ctx) pdf_unmark_obj(ctx, node);
    fz_catch(ctx) fz_rethrow(ctx);
    return n;
}

/* Throws on MuPDF errors. */
static int count_pages(fz_context *ctx, fz_document *doc)
{
    int n = fz_count_pages(ctx, doc);
    pdf_document *pdoc = pdf_specifics(ctx, doc);
    if (!pdoc || n <= 0)
        return n;
    pdf_obj *root = pdf_dict_get(ctx, pdf_trailer(ctx, pdoc), PDF_NAME(Root));
    pdf_obj *pages = pdf_dict_get(ctx, root, PDF_NAME(Pages));
    int budget = pdf_xref_len(ctx, pdoc) + 1;
    int walked = walk_pages(ctx, pages, 0, &budget);
    return walked < n ? walked : n;
}

static quire_status open_doc(qr_pdf *pdf, const char *magic, quire_error *err)
{
    fz_context *ctx = pdf->ctx;
    fz_stream *stm = NULL;
    int locked = 0;
    fz_var(stm);
    fz_var(locked);
    fz_try(ctx)
    {
        stm = fz_open_file(ctx, pdf->path);
        pdf->doc = fz_open_document_with_stream(ctx, magic, stm);
        if (fz_needs_password(ctx, pdf->doc))
            locked = !fz_authenticate_password(ctx, pdf->doc, "");
        if (!locked)
            pdf->n_pages = count_pages(ctx, pdf->doc);
    }
    fz_always(ctx) fz_drop_stream(ctx, stm);
    fz_catch(ctx) return qr_pdf_caught(pdf, 0, err);
    if (locked)
        return qr_err(err, QUIRE_UNSUPPORTED_PASSWORD, "%s: password-protected", pdf->path);
    if (pdf->n_pages <= 0)
        return qr_err(err, QUIRE_FORMAT, "%s: no pages", pdf->path);
    return QUIRE_OK;
}

static quire_status new_context(qr_pdf *pdf, quire_error *err)
{
    fz_alloc_context alloc = {pdf, pdf_malloc, pdf_realloc, pdf_free};
    pdf->ctx = fz_new_context(&alloc, NULL, STORE_BYTES);
    if (!pdf->ctx)
        return qr_err(err, QUIRE_NOMEM, "%s: cannot create MuPDF context", pdf->path);
    fz_set_warning_callback(pdf->ctx, pdf_log_cb, NULL);
    fz_set_error_callback(pdf->ctx, pdf_log_cb, NULL);
    fz_try(pdf->ctx) fz_register_document_handlers(pdf->ctx);
    fz_catch(pdf->ctx) return qr_pdf_caught(pdf, 0, err);
    return QUIRE_OK;
}

quire_status qr_pdf_open(const char *path, qr_pdf **out, quire_error *err)
{
    unsigned char head[16];
    size_t n_head = 0;
    *out = NULL;
    if (!path)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_pdf_open: path is NULL");
    quire_status rc = read_head(path, head, sizeof(head), &n_head, err);
    if (rc != QUIRE_OK)
        return rc;
    qr_pdf *pdf = qr_calloc(1, sizeof(*pdf));
    if (!pdf)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
    pdf->path = qr_strdup(path);
    if (!pdf->path) {
        qr_free(pdf);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
    }
    const char *magic = sniff_magic(head, n_head, &pdf->is_image);
    rc = new_context(pdf, err);
    if (rc == QUIRE_OK)
        rc = open_doc(pdf, magic, err);
    if (rc != QUIRE_OK) {
        qr_pdf_close(pdf);
        return rc;
    }
    *out = pdf;
    return QUIRE_OK;
}

void qr_pdf_close(qr_pdf *pdf)
{
    if (!pdf)
        return;
    if (pdf->ctx) {
        fz_drop_document(pdf->ctx, pdf->doc);
        fz_drop_context(pdf->ctx);
    }
    qr_free(pdf->path);
    qr_free(pdf);
}

int qr_pdf_page_count(const qr_pdf *pdf) { return pdf ? pdf->n_pages : 0; }

int qr_pdf_is_image(const qr_pdf *pdf) { return pdf ? pdf->is_image : 0; }

/* ---- render -------------------------------------------------------------------- */

/* Image documents: the page's pixel width over its width in points gives the image's
 * own resolution (MuPDF sizes an image page from the image's resolution), so rendering
 * at it reproduces the original pixels. PDF pages: the image drawn over the largest
 * area, with its resolution as drawn there, finds the scanned pages (scan_dpi). */
typedef struct image_probe {
    fz_device super;
    int img_w;       /* widest image drawn, pixels */
    float best_area; /* the largest drawn image: its area (points^2) and resolution */
    double best_dpi;
} image_probe;

static void probe_fill_image(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
                             float alpha, fz_color_params cp)
{
    image_probe *p = (image_probe *)dev;
    if (img->w > p->img_w)
        p->img_w = img->w;
    fz_rect r = fz_transform_rect(fz_unit_rect, ctm);
    float w = r.x1 - r.x0, h = r.y1 - r.y0;
    if (w > 0 && h > 0 && w * h > p->best_area) {
        p->best_area = w * h;
        /* an upright image: its pixels over its drawn size; turned: the longer sides */
        double side_px = QR_MAX(img->w, img->h), side_pt = QR_MAX(w, h);
        p->best_dpi = side_px * 72.0 / side_pt;
    }
}

/* Run the probe over the page. Throws. */
static void probe_images(qr_pdf *pdf, fz_page *page, image_probe **out)
{
    fz_context *ctx = pdf->ctx;
    image_probe *p = fz_new_derived_device(ctx, image_probe);
    p->super.fill_image = probe_fill_image;
    fz_try(ctx)
    {
        fz_run_page(ctx, page, &p->super, fz_identity, &pdf->cookie);
        fz_close_device(ctx, &p->super);
    }
    fz_catch(ctx)
    {
        fz_drop_device(ctx, &p->super);
        fz_rethrow(ctx);
    }
    *out = p;
}

/* Throws. */
static int image_dpi(qr_pdf *pdf, fz_page *page, fz_rect bounds)
{
    image_probe *p = NULL;
    probe_images(pdf, page, &p);
    int img_w = p->img_w;
    fz_drop_device(pdf->ctx, &p->super);
    float w_pt = bounds.x1 - bounds.x0;
    if (img_w <= 0 || w_pt <= 0)
        return DEFAULT_DPI;
    int dpi = (int)lrint(img_w * 72.0 / w_pt);
    return dpi >= 10 && dpi <= 4800 ? dpi : DEFAULT_DPI;
}

/* The default resolution of a PDF page: DEFAULT_DPI, except for a scan (one image over
 * >= 90 % of the page) of QR_PDF_SCAN_NATIVE_MIN_DPI..DEFAULT_DPI dpi, which is drawn at
 * its own resolution: resampling such a scan by a fraction (200 -> 300 dpi) smears its
 * noise into the strokes, and Tesseract then misreads short bold tokens (a generated
 * 200-dpi gamebook scan: 61 of 65 section numerals read at 200 dpi, 49 at 300, 45 at
 * 400). Coarser scans still go up to 300 dpi, where they read better (the corpus'
 * 150-dpi pages: CER 0.0010 / 0.025 / 0.059 at 300 vs 0.0016 / 0.028 / 0.069 native),
 * and finer ones down to it. Throws. */
static int pdf_page_dpi(qr_pdf *pdf, fz_page *page, fz_rect bounds)
{
    image_probe *p = NULL;
    probe_images(pdf, page, &p);
    float area = p->best_area;
    double d = p->best_dpi;
    fz_drop_device(pdf->ctx, &p->super);
    float page_area = (bounds.x1 - bounds.x0) * (bounds.y1 - bounds.y0);
    if (page_area <= 0 || area < 0.9f * page_area)
        return DEFAULT_DPI;
    int dpi = (int)lrint(d);
    return dpi >= QR_PDF_SCAN_NATIVE_MIN_DPI && dpi < DEFAULT_DPI ? dpi : DEFAULT_DPI;
}

/* Pixel box of the page at dpi; 0 if it does not fit the limit (or int). */
static int pixel_box(fz_rect bounds, double dpi, size_t max_pixels, fz_irect *box)
{
    fz_matrix ctm = fz_scale((float)(dpi / 72.0), (float)(dpi / 72.0));
    *box = fz_round_rect(fz_transform_rect(bounds, ctm));
    double w = (double)box->x1 - box->x0;
    double h = (double)box->y1 - box->y0;
    return w > 0 && h > 0 && w < 1e6 && h < 1e6 && w * h <= (double)max_pixels;
}

/* Lower dpi until the page fits max_pixels (the area scales with dpi squared). */
static double fit_dpi(fz_rect bounds, double dpi, size_t max_pixels)
{
    double w = (bounds.x1 - bounds.x0) / 72.0;
    double h = (bounds.y1 - bounds.y0) / 72.0;
    if (w <= 0 || h <= 0)
        return dpi;
    double best = floor(sqrt((double)max_pixels / (w * h)));
    fz_irect box;
    while (best > 1 && !pixel_box(bounds, best, max_pixels, &box))
        best -= 1; /* rounding can add a pixel on each side */
    return QR_MIN(best, dpi);
}

/* Draws into caller memory (img->pixels) so that no second copy exists. Throws. */
static void draw_page(qr_pdf *pdf, fz_page *page, double dpi, fz_irect box, qr_image *img)
{
    fz_context *ctx = pdf->ctx;
    fz_pixmap *pix = NULL;
    fz_device *dev = NULL;
    fz_var(pix);
    fz_var(dev);
    fz_try(ctx)
    {
        pix = fz_new_pixmap_with_bbox_and_data(ctx, fz_device_gray(ctx), box, NULL, 0,
                                               img->pixels);
        fz_clear_pixmap_with_value(ctx, pix, 255);
        dev = fz_new_draw_device(ctx, fz_identity, pix);
        fz_matrix ctm = fz_scale((float)(dpi / 72.0), (float)(dpi / 72.0));
        fz_run_page(ctx, page, dev, ctm, &pdf->cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_pixmap(ctx, pix);
    }
    fz_catch(ctx) fz_rethrow(ctx);
}

static quire_status check_page_arg(qr_pdf *pdf, int number, quire_error *err)
{
    if (!pdf)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_pdf: handle is NULL");
    if (number < 1 || number > pdf->n_pages)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: page %d out of range 1..%d", pdf->path,
                      number, pdf->n_pages);
    return QUIRE_OK;
}

/* Size the render; allocates img->pixels. */
static quire_status plan_render(qr_pdf *pdf, int number, fz_rect bounds, double *dpi,
                                size_t max_pixels, int fit, fz_irect *box, qr_image *img,
                                quire_error *err)
{
    if (!pixel_box(bounds, *dpi, max_pixels, box)) {
        if (!fit)
            return qr_err(err, QUIRE_LIMIT, "%s: page %d: rendering at %.0f dpi exceeds %zu pixels",
                          pdf->path, number, *dpi, max_pixels);
        *dpi = fit_dpi(bounds, *dpi, max_pixels);
        if (*dpi < 1 || !pixel_box(bounds, *dpi, max_pixels, box))
            return qr_err(err, QUIRE_LIMIT, "%s: page %d: page too large to render",
                          pdf->path, number);
    }
    img->width = box->x1 - box->x0;
    img->height = box->y1 - box->y0;
    img->dpi = (int)*dpi;
    img->pixels = qr_malloc((size_t)img->width * (size_t)img->height);
    if (!img->pixels)
        return qr_err(err, QUIRE_NOMEM, "%s: page %d: out of memory for %dx%d pixels",
                      pdf->path, number, img->width, img->height);
    return QUIRE_OK;
}

/* The MuPDF part of a render; img->pixels is allocated on success. */
static quire_status render_page(qr_pdf *pdf, int number, int dpi, size_t max_pixels, int fit,
                                qr_image *img, quire_error *err)
{
    fz_context *ctx = pdf->ctx;
    fz_page *page = NULL;
    quire_status rc = QUIRE_OK;
    fz_var(page);
    fz_var(rc);
    fz_try(ctx)
    {
        page = fz_load_page(ctx, pdf->doc, number - 1);
        fz_rect bounds = fz_bound_page(ctx, page);
        double d = dpi;
        if (d == 0)
            d = pdf->is_image ? image_dpi(pdf, page, bounds) : pdf_page_dpi(pdf, page, bounds);
        fz_irect box;
        rc = plan_render(pdf, number, bounds, &d, max_pixels, fit, &box, img, err);
        if (rc == QUIRE_OK && !qr_pdf_aborted(pdf))
            draw_page(pdf, page, d, box, img);
    }
    fz_always(ctx) fz_drop_page(ctx, page);
    fz_catch(ctx) rc = qr_pdf_caught(pdf, number, err);
    return rc;
}

quire_status qr_pdf_render_gray(qr_pdf *pdf, int number, int dpi, size_t max_pixels, int fit,
                                qr_image *out, volatile int *abort_flag, quire_error *err)
{
    qr_image img = {0};
    memset(out, 0, sizeof(*out));
    quire_status rc = check_page_arg(pdf, number, err);
    if (rc != QUIRE_OK)
        return rc;
    if (dpi < 0 || dpi > 9600)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: bad dpi %d", pdf->path, dpi);
    qr_pdf_watch(pdf, abort_flag);
    rc = render_page(pdf, number, dpi, max_pixels ? max_pixels : DEFAULT_MAX_PIXELS, fit, &img,
                     err);
    if (rc == QUIRE_OK && qr_pdf_aborted(pdf))
        rc = qr_err(err, QUIRE_CANCELLED, "%s: page %d: render cancelled", pdf->path, number);
    pdf->watch = NULL;
    if (rc != QUIRE_OK) {
        qr_image_free(&img);
        return rc;
    }
    *out = img;
    return QUIRE_OK;
}

void qr_image_free(qr_image *img)
{
    if (!img)
        return;
    qr_free(img->pixels);
    memset(img, 0, sizeof(*img));
}
