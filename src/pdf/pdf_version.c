/* pdf_version.c — the MuPDF version this build links, for quire_build_info. */
#include <mupdf/fitz.h>

#include "buildinfo.h"

const char *qr_pdf_mupdf_version(void) { return FZ_VERSION; }
