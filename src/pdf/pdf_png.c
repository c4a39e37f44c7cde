/*
 * pdf_png.c — encoding of a rendered page (qr_image, 8-bit grey) for the VLM backends
 * (src/ocr/vlm*.c), which send pages as data URIs: PNG (zlib) or baseline JPEG (libjpeg).
 *
 * PNG: filter type 0 on every row, deflate with Z_RLE at level 1. Measured on this
 * corpus's pages at 117 dpi (995 x 1287 px): a 300-dpi scan 15 ms / 621 kB against
 * 150 ms / 658 kB with zlib's default level 6 (MuPDF's PNG writer); a born-digital page
 * 3 ms / 101 kB against 8 ms / 73 kB. Scans dominate both the time and the bytes sent, and
 * they are noise that no filter or level compresses much. The file is a valid PNG that
 * any decoder reads the same (lossless).
 * JPEG: quality 1-100 (default 85), 4:4:4 grey, optimised Huffman tables off (speed).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <zlib.h>

#include "pdf_int.h"

static void put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Write a chunk (length, type, data, CRC) at p; returns the bytes written. */
static size_t chunk(unsigned char *p, const char *type, const unsigned char *data, size_t n)
{
    put32(p, (unsigned long)n);
    memcpy(p + 4, type, 4);
    if (n && data != p + 8)
        memmove(p + 8, data, n);
    uLong crc = crc32(0L, p + 4, (uInt)(n + 4));
    put32(p + 8 + n, crc);
    return n + 12;
}

quire_status qr_pdf_encode_png(qr_pdf *pdf, const qr_image *img, unsigned char **out,
                               size_t *out_len, quire_error *err)
{
    *out = NULL;
    *out_len = 0;
    const char *name = pdf ? pdf->path : "image";
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: empty image", name);
    size_t w = (size_t)img->width, h = (size_t)img->height;
    size_t raw = (w + 1) * h;
    if (raw > 0xFFFFFFFFu / 2)
        return qr_err(err, QUIRE_LIMIT, "%s: image too large to encode", name);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15, 8, Z_RLE) != Z_OK)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory encoding PNG", name);
    size_t bound = deflateBound(&zs, (uLong)raw);
    size_t cap = 8 + 25 + 12 + bound + 12;
    unsigned char *buf = qr_malloc(cap);
    unsigned char *row = qr_malloc(w + 1);
    if (!buf || !row) {
        deflateEnd(&zs);
        qr_free(buf);
        qr_free(row);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory encoding PNG", name);
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memcpy(buf, sig, 8);
    size_t n = 8;
    unsigned char ihdr[13];
    put32(ihdr, (unsigned long)w);
    put32(ihdr + 4, (unsigned long)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* greyscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering (every row: type 0) */
    ihdr[12] = 0; /* no interlace */
    n += chunk(buf + n, "IHDR", ihdr, 13);
    /* IDAT: deflate straight into the buffer after its 8-byte chunk header */
    unsigned char *idat = buf + n + 8;
    zs.next_out = idat;
    zs.avail_out = (uInt)bound;
    int zr = Z_OK;
    row[0] = 0;
    for (size_t y = 0; y < h && zr == Z_OK; y++) {
        memcpy(row + 1, img->pixels + y * w, w);
        zs.next_in = row;
        zs.avail_in = (uInt)(w + 1);
        zr = deflate(&zs, y + 1 == h ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_OK && zs.avail_in != 0)
            zr = Z_BUF_ERROR;
    }
    size_t zlen = (size_t)zs.total_out;
    deflateEnd(&zs);
    qr_free(row);
    if (zr != Z_STREAM_END) {
        qr_free(buf);
        return qr_err(err, QUIRE_ERROR, "%s: PNG deflate failed (%d)", name, zr);
    }
    n += chunk(buf + n, "IDAT", idat, zlen);
    n += chunk(buf + n, "IEND", NULL, 0);
    *out = buf;
    *out_len = n;
    return QUIRE_OK;
}

/* libjpeg reports errors through error_exit, which must not return: back to the caller. */
typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
} jerr;

static void jpeg_fail(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    longjmp(e->jb, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

/* The libjpeg part, apart so that nothing the caller owns lives across the setjmp. */
static int jpeg_encode(const qr_image *img, int quality, unsigned char **mem,
                       unsigned long *mem_len)
{
    struct jpeg_compress_struct c;
    jerr e;
    memset(&c, 0, sizeof(c));
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_quiet;
    if (setjmp(e.jb)) {
        jpeg_destroy_compress(&c);
        return -1;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, mem, mem_len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.dct_method = JDCT_ISLOW;
    if (img->dpi > 0) {
        c.density_unit = 1; /* dots per inch */
        c.X_density = c.Y_density = (UINT16)img->dpi;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(img->pixels + (size_t)c.next_scanline * (size_t)img->width);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}

quire_status qr_pdf_encode_jpeg(const qr_image *img, int quality, unsigned char **out,
                                size_t *out_len, quire_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return qr_err(err, QUIRE_INVALID_ARG, "image: empty image");
    if (img->width > 65500 || img->height > 65500)
        return qr_err(err, QUIRE_LIMIT, "image: %d x %d is too large for JPEG", img->width,
                      img->height);
    if (quality < 1 || quality > 100)
        quality = 85;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    int rc = jpeg_encode(img, quality, &mem, &mem_len);
    if (rc == 0 && mem && mem_len) {
        *out = qr_malloc(mem_len);
        if (*out) {
            memcpy(*out, mem, mem_len);
            *out_len = mem_len;
        }
    }
    free(mem); /* lint-allow: free (libjpeg's jpeg_mem_dest buffer) */
    if (rc != 0)
        return qr_err(err, QUIRE_ERROR, "image: JPEG encoding failed");
    if (!*out)
        return qr_err(err, QUIRE_NOMEM, "image: out of memory encoding JPEG");
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

/* Draw region `box` of page `number` (qr_page coordinates, the page turned back by
 * text_rotation) at dpi into *pix (colour space cs, white background; the caller drops it).
 * what: "figure" or "region", for messages. */
static quire_status render_region(qr_pdf *pdf, int number, qr_bbox box, int text_rotation,
                                  int dpi, fz_colorspace *cs, const char *what, fz_pixmap **pix,
                                  quire_error *err)
{
    const float scale = (float)(dpi > 0 ? dpi : 150) / 72.0f;
    fz_context *ctx = pdf->ctx;
    fz_page *page = NULL;
    fz_device *dev = NULL;
    fz_rect bounds = fz_empty_rect;
    volatile quire_status rc = QUIRE_OK;
    *pix = NULL;
    fz_var(page);
    fz_var(dev);
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
        rc = qr_err(err, QUIRE_INVALID_ARG, "%s: page %d: %s box [%.1f %.1f %.1f %.1f] is "
                    "not on the page", pdf->path, number, what, box.x0, box.y0, box.x1, box.y1);
    if (rc == QUIRE_OK && (size_t)(ir.x1 - ir.x0) * (size_t)(ir.y1 - ir.y0) > REGION_MAX_PIXELS)
        rc = qr_err(err, QUIRE_LIMIT, "%s: page %d: %s of %d x %d pixels exceeds the limit",
                    pdf->path, number, what, ir.x1 - ir.x0, ir.y1 - ir.y0);
    if (rc == QUIRE_OK) {
        fz_pixmap *volatile p = NULL;
        fz_try(ctx)
        {
            p = fz_new_pixmap_with_bbox(ctx, cs, ir, NULL, 0);
            fz_clear_pixmap_with_value(ctx, p, 255);
            dev = fz_new_draw_device(ctx, fz_identity, p);
            fz_run_page(ctx, page, dev, ctm, &pdf->cookie);
            fz_close_device(ctx, dev);
        }
        fz_always(ctx) fz_drop_device(ctx, dev);
        fz_catch(ctx)
        {
            fz_drop_pixmap(ctx, p);
            p = NULL;
            rc = qr_pdf_caught(pdf, number, err);
        }
        *pix = p;
    }
    fz_drop_page(ctx, page);
    if (rc == QUIRE_OK && qr_pdf_aborted(pdf))
        rc = qr_err(err, QUIRE_CANCELLED, "%s: page %d: %s render cancelled", pdf->path,
                    number, what);
    if (rc != QUIRE_OK) {
        fz_drop_pixmap(ctx, *pix);
        *pix = NULL;
    }
    return rc;
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
    fz_context *ctx = pdf->ctx;
    fz_pixmap *pix = NULL;
    fz_buffer *volatile buf = NULL;
    qr_pdf_watch(pdf, abort_flag);
    quire_status rc = render_region(pdf, number, box, text_rotation, dpi, fz_device_rgb(ctx),
                                    "figure", &pix, err);
    if (rc == QUIRE_OK) {
        fz_try(ctx) buf = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
        fz_catch(ctx) rc = qr_pdf_caught(pdf, number, err);
    }
    if (rc == QUIRE_OK)
        rc = take_buffer(pdf, buf, png, png_len, err);
    if (rc == QUIRE_OK) {
        *w = fz_pixmap_width(ctx, pix);
        *h = fz_pixmap_height(ctx, pix);
    }
    fz_drop_buffer(ctx, buf);
    fz_drop_pixmap(ctx, pix);
    pdf->watch = NULL;
    return rc;
}

quire_status qr_pdf_render_region_gray(qr_pdf *pdf, int number, qr_bbox box, int dpi,
                                       qr_image *out, volatile int *abort_flag, quire_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!pdf || number < 1 || number > pdf->n_pages)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: page %d out of range", pdf ? pdf->path : "?",
                      number);
    if (dpi < 0 || dpi > 1200)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: bad region dpi %d", pdf->path, dpi);
    fz_context *ctx = pdf->ctx;
    fz_pixmap *pix = NULL;
    qr_pdf_watch(pdf, abort_flag);
    quire_status rc = render_region(pdf, number, box, 0, dpi ? dpi : 300, fz_device_gray(ctx),
                                    "region", &pix, err);
    if (rc == QUIRE_OK) {
        int w = fz_pixmap_width(ctx, pix), h = fz_pixmap_height(ctx, pix);
        size_t stride = (size_t)fz_pixmap_stride(ctx, pix);
        const unsigned char *src = fz_pixmap_samples(ctx, pix);
        out->pixels = qr_malloc((size_t)w * (size_t)h);
        if (!out->pixels) {
            rc = qr_err(err, QUIRE_NOMEM, "%s: page %d: out of memory for %dx%d pixels",
                        pdf->path, number, w, h);
        } else {
            for (int y = 0; y < h; y++)
                memcpy(out->pixels + (size_t)y * (size_t)w, src + (size_t)y * stride, (size_t)w);
            out->width = w;
            out->height = h;
            out->dpi = dpi ? dpi : 300;
        }
    }
    fz_drop_pixmap(ctx, pix);
    pdf->watch = NULL;
    return rc;
}
