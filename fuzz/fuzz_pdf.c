/*
 * fuzz_pdf.c — the PDF entry point through our wrapper: quire_convert_file (src/convert,
 * src/pdf, src/layout, src/export) on arbitrary bytes written to a .pdf file, with one
 * page worker, OCR off, at most 3 pages and a 2 s budget, in all three output formats
 * (picked by the input's length). Built only with WITH_CONVERT=1. MuPDF itself is not
 * instrumented: coverage guides the fuzzer through our code only.
 */
#include "fuzz_common.h"

static quire_converter *conv;
static char path[PATH_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!conv) {
        fz_quiet();
        fz_path(path, sizeof path, "doc.pdf");
        quire_converter_params cp = quire_converter_default_params();
        cp.n_threads = 1;
        quire_error e = {0, ""};
        if (quire_converter_new(&cp, &conv, &e) != QUIRE_OK) {
            fprintf(stderr, "fuzz_pdf: %s\n", e.msg);
            abort();
        }
    }
    fz_write(path, data, size);
    quire_convert_params p = quire_convert_default_params();
    p.ocr = QUIRE_OCR_NEVER;
    p.max_pages = 3;
    p.timeout_s = 2.0;
    p.format = (int)(size % 3);
    p.page_markers = 1;
    quire_convert_result *res = NULL;
    quire_error e = {0, ""};
    quire_convert_file(conv, path, &p, &res, &e);
    if (res) {
        if (!res->output || res->output[res->output_len] != 0 || res->n_reports > 3 ||
            res->n_failed > res->n_reports)
            abort();
        quire_convert_result_free(res);
    }
    return 0;
}
