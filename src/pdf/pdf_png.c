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
