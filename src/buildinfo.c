/*
 * buildinfo.c — quire_build_info: what this build of the library was made with. The
 * versions come from the modules that wrap each library (buildinfo.h); parts left out of
 * the build (WITH_CONVERT=0, WITH_SERVER=0, WITH_PG=0) say so.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "buildinfo.h"
#include "core/core.h"

size_t quire_build_info(char *buf, size_t cap)
{
    qr_buf b;
    qr_buf_init(&b, 1 << 16);
    qr_buf_printf(&b, "build options: WITH_CONVERT=%d WITH_SERVER=%d WITH_PG=%d\n",
                  QR_WITH_CONVERT, QR_WITH_SERVER, QR_WITH_PG);
    qr_buf_printf(&b, "sqlite: %s\n", qr_store_sqlite_version());
    qr_buf_printf(&b, "jansson: %s\n", JANSSON_VERSION);
    qr_buf_printf(&b, "utf8proc: %s\n", utf8proc_version());
#if QR_WITH_CONVERT
    qr_buf_printf(&b, "mupdf: %s\n", qr_pdf_mupdf_version());
    const char *tv = qr_ocr_tesseract_version();
    qr_buf_printf(&b, "tesseract: %s\n", tv ? tv : "(cannot load libtesseract.so.5)");
    qr_buf_printf(&b, "libcurl: %s\n", qr_vlm_curl_version());
    char dir[1024], langs[2048];
    if (qr_ocr_languages(dir, sizeof dir, langs, sizeof langs) == 0)
        qr_buf_printf(&b, "tessdata: %s\nocr languages: %s\n", dir, langs[0] ? langs : "(none)");
    else
        qr_buf_printf(&b, "tessdata: not found (install tesseract-ocr-eng, or set "
                          "TESSDATA_PREFIX)\nocr languages: (none)\n");
#else
    qr_buf_printf(&b, "mupdf: (not built: WITH_CONVERT=0)\n");
#endif
#if QR_WITH_SERVER
    qr_buf_printf(&b, "libmicrohttpd: %s\n", qr_srv_mhd_version());
#else
    qr_buf_printf(&b, "libmicrohttpd: (not built: WITH_SERVER=0)\n");
#endif
#if QR_WITH_PG
    qr_buf_printf(&b, "libpq: %s\n", qr_pg_libpq_version());
#else
    qr_buf_printf(&b, "libpq: (not built: WITH_PG=0)\n");
#endif
    size_t need = b.failed ? 0 : b.len;
    if (cap > 0) {
        size_t n = need < cap ? need : cap - 1;
        if (n)
            memcpy(buf, b.data, n);
        buf[n] = '\0';
    }
    qr_buf_free(&b);
    return need;
}
