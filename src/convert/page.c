/*
 * page.c — what a worker does with one page: read the text layer, decide whether it is
 * usable, OCR the rendered page when it is not, and keep a private copy of the result.
 *
 * Method choice in auto mode (thresholds and why):
 *  - no characters at all -> OCR ("no text layer"): image-only pages and scans.
 *  - more than 30 % unusable characters -> OCR. Unusable are the unmapped glyphs
 *    (U+FFFD, private use, control: what MuPDF gives for glyphs without a Unicode
 *    mapping) that stand for text: each one inside a word with letters or digits, and
 *    runs of 3 or more (qr_page.n_garbage_chars, pdf_text.c). A text font without
 *    ToUnicode gives close to 100 %: its words are runs of unmapped glyphs. Lone glyphs
 *    of a symbol font do not count: a music score's note heads and clefs (1-3 unmapped
 *    glyphs apart from each other, 88 % of the characters of the corpus' Bach score,
 *    whose title, tempo and instrument names are clean text that OCR turned into
 *    noise), dingbats, the unmapped delimiters of TeX math pages. Healthy pages have a
 *    few percent at most; 30 % is far from both sides, so neither flips on noise.
 *  - text boxes cover < 1 % of the page while images cover > 50 % -> OCR: a scan with
 *    only a stamp, page number or a few searchable words in its text layer. A normal
 *    text page covers 15-40 %; a figure page with a caption has a low text share
 *    but its images rarely exceed half of the page, and when they do, OCR loses little.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "convert_int.h"

#define BAD_CHAR_SHARE 0.30
#define MIN_TEXT_COVERAGE 0.01f
#define MIN_IMAGE_COVERAGE 0.50f

/* Returns 1 when the page should be OCR'd; writes why into reason. */
int qr_cv_choose_ocr(const qr_page *pg, int mode, char *reason, size_t cap)
{
    if (mode == QUIRE_OCR_ALWAYS) {
        snprintf(reason, cap, "forced by --ocr always");
        return 1;
    }
    if (mode == QUIRE_OCR_NEVER) {
        snprintf(reason, cap, "%s (--ocr never)", pg->n_chars ? "text layer" : "no text layer");
        return 0;
    }
    if (pg->n_chars <= 0) {
        snprintf(reason, cap, "no text layer");
        return 1;
    }
    double bad = (double)pg->n_garbage_chars / (double)pg->n_chars;
    if (bad > BAD_CHAR_SHARE) {
        snprintf(reason, cap, "%.0f%% unusable characters (unmapped glyphs in words)",
                 bad * 100);
        return 1;
    }
    if (pg->text_coverage < MIN_TEXT_COVERAGE && pg->image_coverage > MIN_IMAGE_COVERAGE) {
        snprintf(reason, cap, "text covers %.1f%% of a page that is %.0f%% image",
                 pg->text_coverage * 100, pg->image_coverage * 100);
        return 1;
    }
    double sym = (double)pg->n_bad_chars / (double)pg->n_chars;
    if (sym > BAD_CHAR_SHARE)
        snprintf(reason, cap, "text layer ok (%.0f%% unmapped symbol glyphs)", sym * 100);
    else
        snprintf(reason, cap, "text layer ok");
    return 0;
}

/* The garbage check on the text a page ends with (report.quality; "" = passes): a text
 * layer kept although more than BAD_CHAR_SHARE of its characters are unusable (--ocr
 * never, or a page whose rendering was blank so OCR had nothing to read: its text is
 * glyphs without a Unicode mapping), or OCR whose mean word confidence is below
 * MIN_OCR_CONF. Tesseract gives 80-95 on the corpus' scans, clean or degraded; a
 * photo, a music score or a pattern read as text gives 20-45. */
#define MIN_OCR_CONF 45.0f
static void check_quality(const qr_page *kept, int ocr, char *out, size_t cap)
{
    out[0] = '\0';
    if (!ocr && kept->n_chars > 0) {
        double bad = (double)kept->n_garbage_chars / (double)kept->n_chars;
        if (bad > BAD_CHAR_SHARE)
            snprintf(out, cap, "text layer: %.0f%% unusable characters (unmapped glyphs in "
                     "words)", bad * 100);
    } else if (ocr && kept->n_chars > 0 && kept->mean_conf < MIN_OCR_CONF) {
        snprintf(out, cap, "OCR mean confidence %.0f (< %.0f): likely not text",
                 kept->mean_conf, MIN_OCR_CONF);
    }
}

/* Characters (code points) of a page's words. */
static long count_chars(const qr_page *pg)
{
    long n = 0;
    for (int b = 0; b < pg->n_blocks; b++) {
        const qr_tblock *tb = &pg->blocks[b];
        for (int l = 0; l < tb->n_lines; l++) {
            for (int w = 0; w < tb->lines[l].n_words; w++) {
                const qr_word *wd = &tb->lines[l].words[w];
                for (size_t i = 0; i < wd->len; i++)
                    n += ((unsigned char)wd->text[i] & 0xC0) != 0x80;
            }
        }
    }
    return n;
}

/* The worker's handle for this doc: the caller's spare one first, else open it. */
static quire_status worker_pdf(qr_cv_worker *w, qr_cv_doc *doc, qr_pdf **out, quire_error *err)
{
    if (!doc->pdfs[w->id]) {
        qr_pdf *spare = __atomic_exchange_n(&doc->spare, NULL, __ATOMIC_ACQ_REL);
        if (spare)
            doc->pdfs[w->id] = spare;
        else if (qr_pdf_open(doc->path, &doc->pdfs[w->id], err) != QUIRE_OK)
            return err->code;
    }
    *out = doc->pdfs[w->id];
    return QUIRE_OK;
}

/* A rendering with no ink: fewer dark pixels than a full stop has at 300 dpi (16), or
 * one in 200,000 of a large page. Blank pages (the versos of a book, most of the pages
 * of the corpus' born/ that have no text layer) give Tesseract nothing to read: OCR
 * would cost 0.5-3 s each and return no word. */
static int image_blank(const qr_image *img)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    size_t limit = n / 200000 > 16 ? n / 200000 : 16;
    size_t dark = 0;
    for (size_t i = 0; i < n; i++)
        if (img->pixels[i] < 192 && ++dark >= limit)
            return 0;
    return 1;
}

quire_status qr_cv_worker_ocr(qr_cv_worker *w, qr_cv_doc *doc, quire_error *err)
{
    return w->ocr ? QUIRE_OK : qr_ocr_new(doc->lang, &w->ocr, err);
}

/* OCR the rendered page into out; *blank = 1 (and out untouched) when the rendering has
 * no ink at all, so there is nothing to OCR. */
static quire_status ocr_page(qr_cv_worker *w, qr_cv_doc *doc, qr_pdf *pdf, int number,
                             const qr_page *text, qr_page *out, int *blank, quire_error *err)
{
    qr_image img;
    memset(&img, 0, sizeof(img));
    quire_status st = qr_pdf_render_gray(pdf, number, doc->dpi, 0, 1, &img, &doc->abort, err);
    if (st != QUIRE_OK)
        return st;
    *blank = image_blank(&img);
    if (*blank) {
        qr_image_free(&img);
        return QUIRE_OK;
    }
    st = qr_cv_worker_ocr(w, doc, err);
    if (st != QUIRE_OK) {
        qr_image_free(&img);
        return st;
    }
    memset(out, 0, sizeof(*out));
    /* the render shows the page as displayed; a text page turned back to read its
     * sideways text has its width and height swapped */
    int turned = text->text_rotation == 90 || text->text_rotation == 270;
    st = qr_ocr_page(w->ocr, &img, turned ? text->height : text->width,
                     turned ? text->width : text->height, &w->scratch, out, &doc->abort, err);
    qr_image_free(&img);
    if (st == QUIRE_OK) {
        out->number = number;
        out->rotation = text->rotation;
    }
    return st;
}

/* Resident memory of the process now (KiB), -1 when unknown. */
static long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    long pg = sysconf(_SC_PAGESIZE);
    return res < 0 || pg <= 0 ? -1 : res * (pg / 1024);
}

/* Copy a message, cut to fit (a report line is shorter than a quire_error). */
static void copy_msg(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fail_page(quire_page_report *rep, const qr_cv_doc *doc, const quire_error *err)
{
    rep->method = QUIRE_METHOD_FAILED;
    if (doc->abort && doc->stop_reason)
        copy_msg(rep->error, sizeof(rep->error),
                 doc->stop_reason == 1 ? "timed out" : "cancelled");
    else
        copy_msg(rep->error, sizeof(rep->error),
                 err->msg[0] ? err->msg : quire_status_str(err->code));
}

void qr_cv_run_page(qr_cv_worker *w, qr_cv_doc *doc, int idx)
{
    quire_page_report *rep = &doc->reports[idx];
    int number = rep->page;
    double t0 = qr_now();
    quire_error err = {0};
    qr_pdf *pdf = NULL;
    qr_page text, ocr;
    const qr_page *kept = &text;
    memset(&text, 0, sizeof(text));
    qr_arena_reset(&w->scratch);
    if (worker_pdf(w, doc, &pdf, &err) != QUIRE_OK ||
        qr_pdf_page_text(pdf, number, &w->scratch, &text, &doc->abort, &err) != QUIRE_OK) {
        fail_page(rep, doc, &err);
        goto done;
    }
    text.number = number;
    int want_ocr = qr_cv_choose_ocr(&text, doc->ocr_mode, rep->reason, sizeof(rep->reason));
    char why[200];
    int vlm_auto = doc->vlm && doc->vlm_mode == QUIRE_VLM_AUTO;
    if (doc->vlm && !vlm_auto && qr_cv_vlm_wants(doc, &text, why, sizeof(why)) &&
        qr_cv_vlm_page(w, doc, idx, pdf, &text, why, 0))
        goto done; /* read by a VLM backend (vlm_page.c); else its fallback goes on here */
    int blank = 0;
    if (want_ocr) {
        if (ocr_page(w, doc, pdf, number, &text, &ocr, &blank, &err) != QUIRE_OK) {
            fail_page(rep, doc, &err);
            goto done;
        }
        if (blank) /* nothing to read: the (empty) text layer stands */
            snprintf(rep->reason, sizeof(rep->reason), "blank page (nothing to OCR)");
        else
            kept = &ocr;
    } else if (doc->regions) {
        rep->inserts_ocr = qr_cv_inserts(w, doc, pdf, &text, &rep->inserts, rep->reason,
                                         sizeof(rep->reason));
    }
    long chars = count_chars(kept);
    if (vlm_auto) { /* judged on what the local path read; that stays the fallback */
        if (qr_cv_vlm_auto(doc, kept, kept == &ocr, chars, blank, why, sizeof(why))) {
            if (qr_cv_vlm_page(w, doc, idx, pdf, &text, why, chars))
                goto done;
        } else {
            qr_cv_vlm_note(doc, idx, why);
        }
    }
    doc->pages[idx] = qr_cv_page_pack(kept);
    if (!doc->pages[idx]) {
        qr_err(&err, QUIRE_NOMEM, "out of memory keeping page %d", number);
        fail_page(rep, doc, &err);
        goto done;
    }
    rep->method = kept == &ocr ? QUIRE_METHOD_OCR : QUIRE_METHOD_TEXT;
    rep->chars = chars;
    rep->conf = kept == &ocr ? kept->mean_conf : -1.0f;
    rep->text_rotation = kept->text_rotation;
    rep->osd_conf = kept == &ocr ? kept->osd_conf : -1.0f;
    rep->skew = kept == &ocr ? kept->skew : 0.0f;
    if (rep->chars > 0)
        check_quality(kept, kept == &ocr, rep->quality, sizeof(rep->quality));
done:
    if (doc->vlm && rep->method != QUIRE_METHOD_VLM)
        qr_cv_vlm_fell_back(doc, idx);
    rep->rss_kb = rss_now_kb();
    rep->ms = (qr_now() - t0) * 1000.0;
}
