/*
 * test_conv_ocr.c — src/ocr (Tesseract through its C API) on the scanned pages of the
 * shared corpus: every page is rendered at 300 dpi, recognised by us and by the
 * `tesseract` command-line tool on the very same pixels, and both texts are scored with
 * shared/tools/score.py against the ground truth: our CER must be no worse than the
 * CLI's, and the text byte-identical to it unless we deskewed the page (skew >= 1 degree;
 * orientation detection leaves these upright pages as they are). Plus the error paths (missing language, cancel), a blank page, and reuse of one
 * handle across pages.
 *
 * Env: QUIRE_OCR_PAGES = "all" or a comma-separated list of corpus ids (default: four
 * pages, ~2 s each; about 2.5x that under ASan, which does not instrument Tesseract).
 * Needs python3, and the tesseract CLI for the comparison.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ocr/ocr_int.h"
#include "pdf/pdf.h"
#include "testlib.h"

static const char *const all_pages[] = {
    "scan-long-gnuplot-p28-mild300",        "scan-long-memman-p30-moderate300",
    "scan-long-r-intro-p24-mild150",        "scan-math-amsldoc-p18-mild300",
    "scan-math-ejpecp-p4-clean300",         "scan-math-mathtools-p12-moderate300",
    "scan-nonen-cs-cstexman-p10-mild300",   "scan-nonen-de-l2kurz-p17-mild300",
    "scan-nonen-es-latex2e-p29-mild150",    "scan-nonen-fr-droit-p2-clean300",
    "scan-nonen-pl-lshort-p36-moderate300", "scan-paper2col-acm-sigconf-p4-clean300",
    "scan-paper2col-apssamp-p3-mild300",    "scan-paper2col-els5p-p2-moderate300",
    "scan-paper2col-jacow-p7-mild150",      "scan-small-fn2end-p1-bitonal300",
    "scan-small-sageep-p2-clean300",        "scan-tables-booktabs-p7-clean300",
    "scan-tables-colortbl-p5-mild300",      "scan-tables-siunitx-p40-bitonal300",
};
/* one page of each degradation profile but 150 dpi, a 2-column paper among them */
static const char *const default_pages[] = {
    "scan-small-sageep-p2-clean300",
    "scan-paper2col-apssamp-p3-mild300",
    "scan-long-memman-p30-moderate300",
    "scan-small-fn2end-p1-bitonal300",
};

#define ARENA_BYTES (16u << 20)

/* ---- helpers --------------------------------------------------------------------- */

static void corpus_path(char *out, size_t cap, const char *id, const char *ext)
{
    snprintf(out, cap, "%s/corpus/scanned/%s%s", t_shared(), id, ext);
}

/* Load a binary PGM (P5, maxval 255) as written by mutool. */
static int load_pgm(const char *path, qr_image *img)
{
    size_t len = 0;
    char *data = t_read_file(path, &len);
    int w = 0, h = 0, maxval = 0, used = 0;
    if (!data)
        return -1;
    if (sscanf(data, "P5 %d %d %d%n", &w, &h, &maxval, &used) != 3 || maxval != 255 ||
        w <= 0 || h <= 0 || (size_t)used + 1 + (size_t)w * h > len) {
        free(data);
        return -1;
    }
    img->pixels = qr_malloc((size_t)w * h);
    memcpy(img->pixels, data + used + 1, (size_t)w * h);
    img->width = w;
    img->height = h;
    img->dpi = 300;
    free(data);
    return 0;
}

static int write_pgm(const char *path, const qr_image *img)
{
    FILE *f = fopen(path, "wb");
    size_t n = (size_t)img->width * img->height;
    if (!f)
        return -1;
    fprintf(f, "P5\n%d %d\n255\n", img->width, img->height);
    int ok = fwrite(img->pixels, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Render page 1 of a scanned corpus PDF at 300 dpi (src/pdf; mutool if that fails).
 * OUT: *img, *page_w, *page_h (points). */
static int render(const char *id, qr_image *img, float *page_w, float *page_h)
{
    char path[1024];
    char cmd[3072];
    char pgm[1024];
    qr_pdf *pdf = NULL;
    quire_error err = {0};
    corpus_path(path, sizeof(path), id, ".pdf");
    memset(img, 0, sizeof(*img));
    if (qr_pdf_open(path, &pdf, &err) == QUIRE_OK &&
        qr_pdf_render_gray(pdf, 1, 300, 0, 0, img, NULL, &err) == QUIRE_OK) {
        qr_pdf_close(pdf);
        *page_w = (float)img->width * 72.0f / (float)img->dpi;
        *page_h = (float)img->height * 72.0f / (float)img->dpi;
        return 0;
    }
    qr_pdf_close(pdf);
    printf("  note: src/pdf render failed (%s); using mutool\n", err.msg);
    snprintf(pgm, sizeof(pgm), "%s/%s.mutool.pgm", t_tmpdir(), id);
    snprintf(cmd, sizeof(cmd), "mutool draw -q -r 300 -c gray -o '%s' '%s' 1", pgm, path);
    if (system(cmd) != 0 || load_pgm(pgm, img) != 0)
        return -1;
    *page_w = (float)img->width * 72.0f / 300.0f;
    *page_h = (float)img->height * 72.0f / 300.0f;
    return 0;
}

/* Plain text the way Tesseract's own text output joins it: words by spaces, each line
 * ended by '\n', a blank line between paragraphs. */
static void page_text(const qr_page *page, qr_buf *out)
{
    for (int b = 0; b < page->n_blocks; b++) {
        const qr_tblock *blk = &page->blocks[b];
        if (b)
            qr_buf_putc(out, '\n');
        for (int l = 0; l < blk->n_lines; l++) {
            for (int w = 0; w < blk->lines[l].n_words; w++) {
                if (w)
                    qr_buf_putc(out, ' ');
                qr_buf_append(out, blk->lines[l].words[w].text, blk->lines[l].words[w].len);
            }
            qr_buf_putc(out, '\n');
        }
    }
}

/* CER of hyp against the page's ground truth via score.py; -1 on failure. */
static double score_cer(const char *id, const char *hyp)
{
    char gt[1024];
    char cmd[3072];
    char line[512];
    double cer = -1.0;
    corpus_path(gt, sizeof(gt), id, ".gt.txt");
    snprintf(cmd, sizeof(cmd), "python3 '%s/tools/score.py' --json '%s' '%s'", t_shared(), gt,
             hyp);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1.0;
    if (fgets(line, sizeof(line), p)) {
        const char *c = strstr(line, "\"cer\":");
        if (c)
            cer = strtod(c + 6, NULL);
    }
    pclose(p);
    return cer;
}

/* Run the tesseract CLI on a PGM (same pixels, same dpi). OUT: the text in hyp_txt
 * (written as <base>.txt). Returns wall seconds, or -1. */
static double run_cli(const char *pgm, const char *base)
{
    char cmd[3072];
    double t0 = qr_now();
    snprintf(cmd, sizeof(cmd),
             "OMP_THREAD_LIMIT=1 tesseract '%s' '%s' -l eng --dpi 300 >/dev/null 2>&1", pgm,
             base);
    if (system(cmd) != 0)
        return -1.0;
    return qr_now() - t0;
}

/* Is our text byte for byte the CLI's (which ends the page with a form feed)? */
static int same_as_cli(const char *cli_txt, const qr_buf *ours)
{
    size_t len = 0;
    char *cli = t_read_file(cli_txt, &len);
    int same;
    if (!cli)
        return 0;
    while (len > 0 && (cli[len - 1] == '\f' || cli[len - 1] == '\n'))
        len--;
    size_t ours_len = ours->len - 1; /* without the NUL */
    while (ours_len > 0 && ours->data[ours_len - 1] == '\n')
        ours_len--;
    same = len == ours_len && memcmp(cli, ours->data, len) == 0;
    free(cli);
    return same;
}

static int have_cli(void) { return system("tesseract --version >/dev/null 2>&1") == 0; }

/* Which pages to run (QUIRE_OCR_PAGES, else the defaults). OUT: *n. */
static const char *const *pick_pages(int *n, char *storage, size_t cap, const char **list)
{
    const char *env = getenv("QUIRE_OCR_PAGES");
    if (env && strcmp(env, "all") == 0) {
        *n = (int)QR_ARRAY_LEN(all_pages);
        return all_pages;
    }
    if (env && *env) {
        int k = 0;
        snprintf(storage, cap, "%s", env);
        for (char *p = storage; p && *p && k < 32; k++) {
            list[k] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
        *n = k;
        return list;
    }
    *n = (int)QR_ARRAY_LEN(default_pages);
    return default_pages;
}

/* Every word lies on the page, has text, a confidence and a font size. */
static void check_structure(const qr_page *page)
{
    long n_words = 0;
    T_EQ_INT(page->source, QR_SRC_OCR);
    for (int b = 0; b < page->n_blocks; b++) {
        const qr_tblock *blk = &page->blocks[b];
        T_CHECK(blk->n_lines > 0);
        for (int l = 0; l < blk->n_lines; l++) {
            const qr_line *ln = &blk->lines[l];
            T_CHECK(ln->n_words > 0);
            for (int w = 0; w < ln->n_words; w++) {
                const qr_word *wd = &ln->words[w];
                T_CHECK(wd->len > 0 && strlen(wd->text) == wd->len);
                T_CHECK(wd->bbox.x0 >= 0 && wd->bbox.x1 <= page->width + 1);
                T_CHECK(wd->bbox.y0 >= 0 && wd->bbox.y1 <= page->height + 1);
                T_CHECK(wd->bbox.x0 <= wd->bbox.x1 && wd->bbox.y0 <= wd->bbox.y1);
                T_CHECK(wd->conf >= 0 && wd->conf <= 100);
                T_CHECK(wd->size > 2 && wd->size < 100);
                n_words++;
            }
        }
    }
    T_CHECK(n_words > 20);
    T_CHECK(page->n_chars > 100);
    T_CHECK(page->mean_conf > 50 && page->mean_conf <= 100);
    T_CHECK(page->text_coverage > 0 && page->text_coverage <= 1);
}

/* OCR one image with ocr into text (cleared first). */
static quire_status ocr_text(qr_ocr *ocr, const qr_image *img, float pw, float ph,
                             qr_arena *arena, qr_page *page, qr_buf *text)
{
    quire_error err = {0};
    qr_arena_reset(arena);
    qr_buf_clear(text);
    memset(page, 0, sizeof(*page));
    quire_status rc = qr_ocr_page(ocr, img, pw, ph, arena, page, NULL, &err);
    T_CHECKF(rc == QUIRE_OK, "qr_ocr_page: %s", err.msg);
    page_text(page, text);
    qr_buf_putc(text, '\0');
    return rc;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_ocr_package_names(void)
{
    char pkg[64];
    qr_ocr_package_name("chi_sim", 7, pkg, sizeof(pkg));
    T_CHECK(strcmp(pkg, "tesseract-ocr-chi-sim") == 0);
    qr_ocr_package_name("deu", 3, pkg, sizeof(pkg));
    T_CHECK(strcmp(pkg, "tesseract-ocr-deu") == 0);
    qr_ocr_package_name("Deu_Latf", 8, pkg, sizeof(pkg));
    T_CHECK(strcmp(pkg, "tesseract-ocr-deu-latf") == 0);
}

static void test_ocr_missing_language(void)
{
    qr_ocr *ocr = (qr_ocr *)1;
    quire_error err = {0};
    quire_status rc = qr_ocr_new("xyz", &ocr, &err);
    T_EQ_INT(rc, QUIRE_NOT_FOUND);
    T_CHECK(ocr == NULL);
    T_CHECKF(strstr(err.msg, "tesseract-ocr-xyz") != NULL, "message: %s", err.msg);
    T_CHECKF(strstr(err.msg, "'xyz'") != NULL, "message: %s", err.msg);
    rc = qr_ocr_new("eng+chi_sim_vert", &ocr, &err);
    T_EQ_INT(rc, QUIRE_NOT_FOUND);
    T_CHECKF(strstr(err.msg, "tesseract-ocr-chi-sim-vert") != NULL, "message: %s", err.msg);
    T_EQ_INT(qr_ocr_new("eng+", &ocr, &err), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_ocr_new("../eng", &ocr, &err), QUIRE_INVALID_ARG);
    T_CHECK(ocr == NULL);
    qr_ocr_free(NULL);
}

static void test_ocr_blank_page(void)
{
    qr_ocr *ocr = NULL;
    quire_error err = {0};
    qr_arena arena;
    qr_page page;
    qr_image img = {0};
    T_EQ_INT(qr_arena_init(&arena, 1u << 20), QUIRE_OK);
    T_EQ_INT(qr_ocr_new("eng", &ocr, &err), QUIRE_OK);
    img.width = 1275;
    img.height = 1650;
    img.dpi = 150;
    img.pixels = qr_malloc((size_t)img.width * img.height);
    memset(img.pixels, 255, (size_t)img.width * img.height);
    memset(&page, 0, sizeof(page));
    page.number = 7;
    quire_status rc = qr_ocr_page(ocr, &img, 612, 792, &arena, &page, NULL, &err);
    T_CHECKF(rc == QUIRE_OK, "blank: %s", err.msg);
    T_EQ_INT(page.n_blocks, 0);
    T_EQ_INT(page.n_chars, 0);
    T_EQ_INT(page.source, QR_SRC_OCR);
    T_EQ_INT(page.number, 7);
    T_CHECK(page.width == 612 && page.height == 792);
    /* bad images */
    img.width = 40000;
    T_EQ_INT(qr_ocr_page(ocr, &img, 612, 792, &arena, &page, NULL, &err), QUIRE_LIMIT);
    img.width = 0;
    T_EQ_INT(qr_ocr_page(ocr, &img, 612, 792, &arena, &page, NULL, &err), QUIRE_INVALID_ARG);
    qr_free(img.pixels);
    qr_ocr_free(ocr);
    qr_arena_free(&arena);
}

static void test_ocr_abort(void)
{
    qr_ocr *ocr = NULL;
    quire_error err = {0};
    qr_arena arena;
    qr_page page;
    qr_image img;
    float pw = 0, ph = 0;
    volatile int flag = 1;
    T_EQ_INT(qr_arena_init(&arena, 1u << 20), QUIRE_OK);
    T_EQ_INT(qr_ocr_new("eng", &ocr, &err), QUIRE_OK);
    T_CHECK(render(default_pages[0], &img, &pw, &ph) == 0);
    memset(&page, 0, sizeof(page));
    T_EQ_INT(qr_ocr_page(ocr, &img, pw, ph, &arena, &page, &flag, &err), QUIRE_CANCELLED);
    T_EQ_INT(page.n_blocks, 0);
    /* a tiny arena: a limit, not a crash */
    qr_arena small;
    T_EQ_INT(qr_arena_init(&small, 256), QUIRE_OK);
    T_EQ_INT(qr_ocr_page(ocr, &img, pw, ph, &small, &page, NULL, &err), QUIRE_LIMIT);
    T_EQ_INT(page.n_blocks, 0);
    qr_arena_free(&small);
    qr_image_free(&img);
    qr_ocr_free(ocr);
    qr_arena_free(&arena);
}

/* Our CER vs the CLI's on the same rendered pixels. */
static void test_ocr_cer_vs_cli(void)
{
    char storage[2048];
    const char *list[32];
    int n = 0;
    const char *const *ids = pick_pages(&n, storage, sizeof(storage), list);
    qr_ocr *ocr = NULL;
    quire_error err = {0};
    qr_arena arena;
    qr_buf text;
    double sum_ours = 0, sum_cli = 0, t_ours = 0, t_cli = 0;
    int cli = have_cli();
    T_CHECKF(cli, "the tesseract CLI is needed for the comparison (apt-get install tesseract-ocr)");
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_CHECKF(qr_ocr_new("eng", &ocr, &err) == QUIRE_OK, "%s", err.msg);
    qr_buf_init(&text, 0);
    printf("  %-40s %8s %8s %7s %7s\n", "page", "CER", "CER cli", "s", "s cli");
    for (int i = 0; i < n && ocr; i++) {
        char hyp[1024], base[1024], cli_txt[1100], pgm[1024];
        qr_image img;
        qr_page page;
        float pw = 0, ph = 0;
        if (render(ids[i], &img, &pw, &ph) != 0) {
            T_CHECKF(0, "cannot render %s", ids[i]);
            continue;
        }
        double t0 = qr_now();
        ocr_text(ocr, &img, pw, ph, &arena, &page, &text);
        double dt = qr_now() - t0;
        check_structure(&page);
        snprintf(hyp, sizeof(hyp), "%s/%s.ours.txt", t_tmpdir(), ids[i]);
        T_CHECK(t_write_file(hyp, text.data, text.len - 1) == 0);
        double cer = score_cer(ids[i], hyp);
        T_CHECKF(cer >= 0, "score.py failed on %s", hyp);
        double cer_cli = -1, dt_cli = -1;
        if (cli) {
            snprintf(pgm, sizeof(pgm), "%s/%s.pgm", t_tmpdir(), ids[i]);
            snprintf(base, sizeof(base), "%s/%s.cli", t_tmpdir(), ids[i]);
            snprintf(cli_txt, sizeof(cli_txt), "%s.txt", base);
            T_CHECK(write_pgm(pgm, &img) == 0);
            dt_cli = run_cli(pgm, base);
            T_CHECKF(dt_cli >= 0, "tesseract CLI failed on %s", pgm);
            cer_cli = score_cer(ids[i], cli_txt);
            /* same pixels, same text; except where we straightened the image first
             * (skew of 1 degree or more: the moderate300 pages), which must then read
             * at least as well (checked below) */
            if (page.skew > -1.0f && page.skew < 1.0f)
                T_CHECKF(same_as_cli(cli_txt, &text), "%s: text differs from the CLI's",
                         ids[i]);
            else
                printf("  %s: deskewed by %.2f degrees before OCR\n", ids[i], page.skew);
            T_CHECKF(cer <= cer_cli, "%s: our CER %.4f > CLI %.4f", ids[i], cer, cer_cli);
        }
        printf("  %-40s %8.4f %8.4f %7.2f %7.2f\n", ids[i], cer, cer_cli, dt, dt_cli);
        fflush(stdout);
        sum_ours += cer;
        sum_cli += cer_cli;
        t_ours += dt;
        t_cli += dt_cli;
        qr_image_free(&img);
    }
    if (n > 0)
        printf("  %-40s %8.4f %8.4f %7.2f %7.2f\n", "mean", sum_ours / n, sum_cli / n,
               t_ours / n, t_cli / n);
    qr_buf_free(&text);
    qr_ocr_free(ocr);
    qr_arena_free(&arena);
}

/* The top third of a page: a smaller image, so that reuse can be checked on 5 pages. */
static void crop_top(qr_image *img, float *ph)
{
    int h = img->height / 3;
    *ph = *ph * (float)h / (float)img->height;
    img->height = h;
}

static void test_ocr_handle_reuse(void)
{
    const char *const ids[] = {all_pages[0], all_pages[4], all_pages[12], all_pages[16],
                               all_pages[17]};
    int n = (int)QR_ARRAY_LEN(ids);
    qr_ocr *shared = NULL;
    quire_error err = {0};
    qr_arena arena;
    qr_buf a, b;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_CHECKF(qr_ocr_new("eng", &shared, &err) == QUIRE_OK, "%s", err.msg);
    qr_buf_init(&a, 0);
    qr_buf_init(&b, 0);
    for (int i = 0; i < n && shared; i++) {
        qr_image img;
        qr_page page;
        qr_ocr *fresh = NULL;
        float pw = 0, ph = 0;
        if (render(ids[i], &img, &pw, &ph) != 0) {
            T_CHECKF(0, "cannot render %s", ids[i]);
            continue;
        }
        crop_top(&img, &ph);
        ocr_text(shared, &img, pw, ph, &arena, &page, &a);
        T_CHECK(qr_ocr_new("eng", &fresh, &err) == QUIRE_OK);
        if (fresh)
            ocr_text(fresh, &img, pw, ph, &arena, &page, &b);
        qr_ocr_free(fresh);
        T_CHECK(a.len > 50);
        T_CHECKF(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                 "%s: reused handle gives different text", ids[i]);
        qr_image_free(&img);
    }
    qr_buf_free(&a);
    qr_buf_free(&b);
    qr_ocr_free(shared);
    qr_arena_free(&arena);
}

/* Threads of this process (Linux /proc); -1 if unknown. */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void *ocr_in_thread(void *arg)
{
    qr_buf *text = arg;
    qr_ocr *ocr = NULL;
    quire_error err = {0};
    qr_arena arena;
    qr_image img;
    qr_page page;
    float pw = 0, ph = 0;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_CHECKF(qr_ocr_new("eng", &ocr, &err) == QUIRE_OK, "%s", err.msg);
    if (ocr && render(default_pages[0], &img, &pw, &ph) == 0) {
        crop_top(&img, &ph);
        ocr_text(ocr, &img, pw, ph, &arena, &page, text);
        qr_image_free(&img);
    }
    /* libgomp keeps a pool per thread that starts parallel regions, until that thread
     * exits: count now, while this thread is alive (main + this one). */
    int n = count_threads();
    if (n > 0)
        T_EQ_INT(n, 2);
    qr_ocr_free(ocr);
    qr_arena_free(&arena);
    return NULL;
}

/* OCR on a worker thread must not start OpenMP threads (run first, single-threaded). */
static void test_ocr_worker_thread_one_omp_thread(void)
{
    pthread_t th;
    qr_buf text;
    qr_buf_init(&text, 0);
    T_EQ_INT(count_threads() > 0 ? count_threads() : 1, 1);
    T_EQ_INT(pthread_create(&th, NULL, ocr_in_thread, &text), 0);
    pthread_join(th, NULL);
    T_CHECK(text.len > 50);
    qr_buf_free(&text);
}

int main(void)
{
    qr_ocr_global_init();
    T_RUN(test_ocr_worker_thread_one_omp_thread); /* first: before any OpenMP pool exists */
    T_RUN(test_ocr_package_names);
    T_RUN(test_ocr_missing_language);
    T_RUN(test_ocr_blank_page);
    T_RUN(test_ocr_abort);
    T_RUN(test_ocr_cer_vs_cli);
    T_RUN(test_ocr_handle_reuse);
    return t_done();
}
