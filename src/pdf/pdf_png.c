/*
 * pdf_png.c — PNG encoding of a rendered page (qr_image, 8-bit grey) with MuPDF's
 * encoder, for the VLM backends (src/ocr/vlm*.c), which send pages as data URIs.
 */
#include <string.h>

#include "pdf_int.h"

quire_status qr_pdf_encode_png(qr_pdf *pdf, const qr_image *img, unsigned char **out,
                               size_t *out_len, quire_error *err)
{
    fz_context *ctx = pdf->ctx;
    fz_pixmap *pix = NULL;
    fz_buffer *buf = NULL;
    volatile quire_status rc = QUIRE_OK;
    *out = NULL;
    *out_len = 0;
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: empty image", pdf->path);
    fz_var(pix);
    fz_var(buf);
    fz_try(ctx)
    {
        pix = fz_new_pixmap_with_data(ctx, fz_device_gray(ctx), img->width, img->height, NULL, 0,
                                      img->width, img->pixels);
        buf = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
    }
    fz_always(ctx) fz_drop_pixmap(ctx, pix);
    fz_catch(ctx) rc = qr_pdf_caught(pdf, 0, err);
    if (rc != QUIRE_OK) {
        fz_drop_buffer(ctx, buf);
        return rc;
    }
    unsigned char *data = NULL;
    size_t n = fz_buffer_storage(ctx, buf, &data);
    *out = qr_malloc(n ? n : 1);
    if (!*out) {
        fz_drop_buffer(ctx, buf);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory encoding PNG", pdf->path);
    }
    memcpy(*out, data, n);
    *out_len = n;
    fz_drop_buffer(ctx, buf);
    return QUIRE_OK;
}

#define REGION_MAX_PIXELS ((size_t)40 << 20)

/* Copy buf's bytes into *out (qr_malloc'd). */
static quire_status take_buffer(qr_pdf *pdf, fz_buffer *buf, unsigned char **out,
                                size_t *out_len, quire_error *err)
{
    unsigned char *data = NULL;
    size_t n = fz_buffer_storage(pdf->ctx, buf, &data);
    *out = qr_malloc(n ? n : 1);
    if (!*out)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory encoding PNG", pdf->path);
    memcpy(*out, data, n);
    *out_len = n;
    return QUIRE_OK;
}

quire_status qr_pdf_render_region_png(qr_pdf *pdf, int number, qr_bbox box, int text_rotation,
                                      int dpi, unsigned char **png, size_t *png_len, int *w,
                                      int *h, volatile int *abort_flag, quire_error *err)
{
    *png = NULL;
    *png_len = 0;
    *w = *h = 0;
    if (!pdf || number < 1 || number > pdf->n_pages)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: page %d out of range", pdf ? pdf->path : "?",
                      number);
    if (dpi > 1200)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: bad figure dpi %d", pdf->path, dpi);
    const float scale = (float)(dpi > 0 ? dpi : 150) / 72.0f;
    fz_context *ctx = pdf->ctx;
    fz_page *page = NULL;
    fz_pixmap *pix = NULL;
    fz_device *dev = NULL;
    fz_buffer *buf = NULL;
    fz_rect bounds = fz_empty_rect;
    volatile quire_status rc = QUIRE_OK;
    fz_var(page);
    fz_var(pix);
    fz_var(dev);
    fz_var(buf);
    qr_pdf_watch(pdf, abort_flag);
    fz_try(ctx)
    {
        page = fz_load_page(ctx, pdf->doc, number - 1);
        bounds = fz_bound_page(ctx, page);
    }
    fz_catch(ctx) rc = qr_pdf_caught(pdf, number, err);
    /* the same coordinates as the page's text: turned back when it was */
    fz_rect turned = bounds;
    fz_matrix ctm = text_rotation ? qr_pdf_turn_back(bounds, text_rotation, &turned)
                                  : fz_identity;
    fz_rect clip = fz_intersect_rect(fz_make_rect(box.x0, box.y0, box.x1, box.y1), turned);
    ctm = fz_concat(ctm, fz_scale(scale, scale));
    fz_irect ir = fz_round_rect(fz_make_rect(clip.x0 * scale, clip.y0 * scale, clip.x1 * scale,
                                             clip.y1 * scale));
    if (rc == QUIRE_OK && (fz_is_empty_rect(clip) || ir.x1 - ir.x0 < 1 || ir.y1 - ir.y0 < 1))
        rc = qr_err(err, QUIRE_INVALID_ARG, "%s: page %d: figure box [%.1f %.1f %.1f %.1f] is "
                    "not on the page", pdf->path, number, box.x0, box.y0, box.x1, box.y1);
    if (rc == QUIRE_OK && (size_t)(ir.x1 - ir.x0) * (size_t)(ir.y1 - ir.y0) > REGION_MAX_PIXELS)
        rc = qr_err(err, QUIRE_LIMIT, "%s: page %d: figure of %d x %d pixels exceeds the limit",
                    pdf->path, number, ir.x1 - ir.x0, ir.y1 - ir.y0);
    if (rc == QUIRE_OK) {
        fz_try(ctx)
        {
            pix = fz_new_pixmap_with_bbox(ctx, fz_device_rgb(ctx), ir, NULL, 0);
            fz_clear_pixmap_with_value(ctx, pix, 255);
            dev = fz_new_draw_device(ctx, fz_identity, pix);
            fz_run_page(ctx, page, dev, ctm, &pdf->cookie);
            fz_close_device(ctx, dev);
            buf = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
        }
        fz_always(ctx)
        {
            fz_drop_device(ctx, dev);
            fz_drop_pixmap(ctx, pix);
        }
        fz_catch(ctx) rc = qr_pdf_caught(pdf, number, err);
    }
    fz_drop_page(ctx, page);
    if (rc == QUIRE_OK && qr_pdf_aborted(pdf))
        rc = qr_err(err, QUIRE_CANCELLED, "%s: page %d: figure render cancelled", pdf->path,
                    number);
    if (rc == QUIRE_OK)
        rc = take_buffer(pdf, buf, png, png_len, err);
    fz_drop_buffer(ctx, buf);
    pdf->watch = NULL;
    if (rc == QUIRE_OK) {
        *w = ir.x1 - ir.x0;
        *h = ir.y1 - ir.y0;
    }
    return rc;
}
