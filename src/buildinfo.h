/*
 * buildinfo.h — versions of the libraries each module wraps, for quire_build_info
 * (src/buildinfo.c). Each is implemented inside the module that owns the library, so the
 * library's headers stay in that module.
 */
#ifndef QUIRE_BUILDINFO_H
#define QUIRE_BUILDINFO_H
#include <stddef.h>

const char *qr_store_sqlite_version(void);   /* src/store/store_version.c */
const char *qr_pdf_mupdf_version(void);      /* src/pdf/pdf_version.c */
/* The tessdata folder and its installed languages ("eng osd ..."); 0, or -1 when no
 * tessdata folder was found. src/ocr/tess_langs.c */
int qr_ocr_languages(char *dir, size_t dir_cap, char *langs, size_t langs_cap);
/* libtesseract's TessVersion() (the library is loaded for it), or NULL when it cannot be
 * loaded. src/ocr/tess_dl.c */
const char *qr_ocr_tesseract_version(void);
const char *qr_vlm_curl_version(void);       /* src/ocr/vlm_http.c */
const char *qr_srv_mhd_version(void);        /* src/server/server_version.c */
const char *qr_pg_libpq_version(void);       /* src/store/pg/pg.c */
#endif
