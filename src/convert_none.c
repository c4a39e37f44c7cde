/*
 * convert_none.c — the conversion API in a build without MuPDF/Tesseract
 * (WITH_CONVERT=0, e.g. the aarch64 cross build): every call says so.
 */
#include <string.h>

#include "core/core.h"

quire_converter_params quire_converter_default_params(void)
{
    quire_converter_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

quire_status quire_converter_new(const quire_converter_params *params, quire_converter **out,
                                 quire_error *err)
{
    (void)params;
    if (out)
        *out = NULL;
    return qr_err(err, QUIRE_UNSUPPORTED,
                  "this build of quire has no PDF/OCR support (built with WITH_CONVERT=0)");
}

void quire_converter_free(quire_converter *conv) { (void)conv; }

quire_convert_params quire_convert_default_params(void)
{
    quire_convert_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

quire_status quire_convert_file(quire_converter *conv, const char *path,
                                const quire_convert_params *params, quire_convert_result **out,
                                quire_error *err)
{
    (void)conv;
    (void)params;
    if (out)
        *out = NULL;
    return qr_err(err, QUIRE_UNSUPPORTED, "%s: this build of quire has no PDF/OCR support",
                  path ? path : "");
}

void quire_convert_result_free(quire_convert_result *res) { (void)res; }
