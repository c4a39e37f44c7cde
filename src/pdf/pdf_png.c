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
