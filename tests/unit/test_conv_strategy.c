/*
 * test_conv_strategy.c — quire_convert_params.strategy in the C API (src/convert/convert.c
 * apply_strategy): on a scanned page (no text layer) fast reads nothing and OCRs nothing,
 * ocr_only / auto / hi_res OCR it; on a born-digital page ocr_only OCRs it while fast,
 * auto and hi_res keep the text layer; the combinations a strategy contradicts (fast with
 * ocr always or a VLM mode, ocr_only with ocr never or a VLM mode, hi_res with ocr never)
 * and an unknown strategy are QUIRE_INVALID_ARG with a message naming the file and the
 * strategy, and return no result. Needs MuPDF, Tesseract and shared/corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "testlib.h"

/* Convert page 1 of path; returns the page's method, -1 on error (status in *st). */
static int method_of(quire_converter *conv, const char *path, int strategy, int ocr, int vlm,
                     quire_status *st, char *msg, size_t cap)
{
    quire_convert_params p = quire_convert_default_params();
    p.format = QUIRE_FORMAT_TXT;
    p.pages = "1";
    p.strategy = strategy;
    p.ocr = ocr;
    p.vlm = vlm;
    quire_convert_result *res = NULL;
    quire_error err = {0};
    *st = quire_convert_file(conv, path, &p, &res, &err);
    snprintf(msg, cap, "%s", err.msg);
    int m = res && res->n_reports == 1 ? res->reports[0].method : -1;
    if (*st != QUIRE_OK)
        T_CHECKF(res == NULL, "%s: an error with a result", path);
    quire_convert_result_free(res);
    return m;
}

static void test_strategies(void)
{
    char scan[1024], born[1024], msg[256];
    snprintf(scan, sizeof(scan), "%s/corpus/scanned/scan-long-gnuplot-p28-mild300.pdf",
             t_shared());
    snprintf(born, sizeof(born), "%s/corpus/born/paper2col-els5p.pdf", t_shared());
    quire_converter *conv = NULL;
    quire_error err = {0};
    T_CHECKF(quire_converter_new(NULL, &conv, &err) == QUIRE_OK, "converter: %s", err.msg);
    if (!conv)
        return;
    quire_status st;
    struct { int strategy, scan_method, born_method; } want[] = {
        {QUIRE_STRATEGY_FAST, QUIRE_METHOD_TEXT, QUIRE_METHOD_TEXT},
        {QUIRE_STRATEGY_OCR_ONLY, QUIRE_METHOD_OCR, QUIRE_METHOD_OCR},
        {QUIRE_STRATEGY_AUTO, QUIRE_METHOD_OCR, QUIRE_METHOD_TEXT},
        {QUIRE_STRATEGY_HI_RES, QUIRE_METHOD_OCR, QUIRE_METHOD_TEXT},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int m = method_of(conv, scan, want[i].strategy, QUIRE_OCR_AUTO, QUIRE_VLM_NEVER, &st,
                          msg, sizeof(msg));
        T_CHECKF(st == QUIRE_OK && m == want[i].scan_method, "strategy %d, scan: status %d "
                 "method %d (%s)", want[i].strategy, st, m, msg);
        m = method_of(conv, born, want[i].strategy, QUIRE_OCR_AUTO, QUIRE_VLM_NEVER, &st, msg,
                      sizeof(msg));
        T_CHECKF(st == QUIRE_OK && m == want[i].born_method, "strategy %d, born: status %d "
                 "method %d (%s)", want[i].strategy, st, m, msg);
    }
    struct { int strategy, ocr, vlm; const char *name; } bad[] = {
        {QUIRE_STRATEGY_FAST, QUIRE_OCR_ALWAYS, QUIRE_VLM_NEVER, "fast"},
        {QUIRE_STRATEGY_FAST, QUIRE_OCR_AUTO, QUIRE_VLM_AUTO, "fast"},
        {QUIRE_STRATEGY_OCR_ONLY, QUIRE_OCR_NEVER, QUIRE_VLM_NEVER, "ocr_only"},
        {QUIRE_STRATEGY_OCR_ONLY, QUIRE_OCR_AUTO, QUIRE_VLM_ALWAYS, "ocr_only"},
        {QUIRE_STRATEGY_HI_RES, QUIRE_OCR_NEVER, QUIRE_VLM_NEVER, "hi_res"},
        {17, QUIRE_OCR_AUTO, QUIRE_VLM_NEVER, "strategy 17"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int m = method_of(conv, born, bad[i].strategy, bad[i].ocr, bad[i].vlm, &st, msg,
                          sizeof(msg));
        T_CHECKF(st == QUIRE_INVALID_ARG && m == -1 && strstr(msg, born) &&
                     strstr(msg, bad[i].name),
                 "contradiction %zu: status %d, message '%s'", i, st, msg);
    }
    quire_converter_free(conv);
}

int main(void)
{
    T_RUN(test_strategies);
    return t_done();
}
