/*
 * test_conv_method.c — the per-page choice between the text layer and OCR, on page
 * statistics that stand for each case of the rule (no text, unmapped glyphs, a scan with
 * a thin invisible text layer, a normal page), and the --ocr always/never overrides.
 */
#include <string.h>

#include "convert/convert_int.h"
#include "testlib.h"

/* bad: unmapped glyphs; garbage: those of them that stand for text (in words, runs) */
static qr_page stats2(long chars, long bad, long garbage, float text_cov, float image_cov)
{
    qr_page pg;
    memset(&pg, 0, sizeof(pg));
    pg.width = 612;
    pg.height = 792;
    pg.n_chars = chars;
    pg.n_bad_chars = bad;
    pg.n_garbage_chars = garbage;
    pg.text_coverage = text_cov;
    pg.image_coverage = image_cov;
    pg.mean_conf = -1;
    return pg;
}

static qr_page stats(long chars, long bad, float text_cov, float image_cov)
{
    return stats2(chars, bad, bad, text_cov, image_cov);
}

static void expect(const qr_page *pg, int mode, int want, const char *reason_part)
{
    char reason[96] = "";
    int got = qr_cv_choose_ocr(pg, mode, reason, sizeof(reason));
    T_CHECKF(got == want, "mode %d chars %ld bad %ld: got %s (%s), want %s", mode, pg->n_chars,
             pg->n_bad_chars, got ? "ocr" : "text", reason, want ? "ocr" : "text");
    T_CHECKF(strstr(reason, reason_part) != NULL, "reason '%s' lacks '%s'", reason, reason_part);
}

static void test_auto_rules(void)
{
    qr_page none = stats(0, 0, 0, 0.98f);
    expect(&none, QUIRE_OCR_AUTO, 1, "no text layer");
    qr_page unmapped = stats(2000, 1500, 0.3f, 0);
    expect(&unmapped, QUIRE_OCR_AUTO, 1, "unusable");
    /* a music score: 88 % unmapped glyphs, but lone note heads and clefs (runs of 1-3,
     * none inside a word), beside a clean title and instrument names */
    qr_page score = stats2(600, 528, 66, 0.2f, 0);
    expect(&score, QUIRE_OCR_AUTO, 0, "text layer ok (88% unmapped symbol glyphs)");
    qr_page unmapped_words = stats2(2000, 1900, 1700, 0.3f, 0); /* text font, no Unicode */
    expect(&unmapped_words, QUIRE_OCR_AUTO, 1, "unmapped glyphs in words");
    qr_page some_bad = stats(2000, 100, 0.3f, 0); /* 5 %: math symbols, still text */
    expect(&some_bad, QUIRE_OCR_AUTO, 0, "text layer ok");
    qr_page thin = stats(40, 0, 0.004f, 0.95f); /* a scan with a stamp of text on it */
    expect(&thin, QUIRE_OCR_AUTO, 1, "image");
    qr_page figure = stats(40, 0, 0.004f, 0.30f); /* a figure page with a caption */
    expect(&figure, QUIRE_OCR_AUTO, 0, "text layer ok");
    qr_page normal = stats(3500, 2, 0.35f, 0.1f);
    expect(&normal, QUIRE_OCR_AUTO, 0, "text layer ok");
}

static void test_overrides(void)
{
    qr_page normal = stats(3500, 2, 0.35f, 0.1f);
    expect(&normal, QUIRE_OCR_ALWAYS, 1, "--ocr always");
    qr_page none = stats(0, 0, 0, 0.98f);
    expect(&none, QUIRE_OCR_NEVER, 0, "--ocr never");
}

int main(void)
{
    T_RUN(test_auto_rules);
    T_RUN(test_overrides);
    return t_done();
}
