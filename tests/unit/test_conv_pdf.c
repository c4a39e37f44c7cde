/*
 * test_conv_pdf.c — src/pdf (the MuPDF wrapper) against the shared corpus: hostile files,
 * page counts of every born-digital PDF, text of known pages, scanned pages, encryption,
 * rendering sizes, image inputs written here (PGM, multi-page TIFF), cancellation, arena
 * exhaustion and a leak loop (LeakSanitizer checks it under SANITIZE=address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf/pdf.h"
#include "testlib.h"

#define ARENA_BYTES ((size_t)16 << 20)

static char *corpus_path(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/corpus/%s", t_shared(), rel);
    return buf;
}

static qr_pdf *open_corpus(const char *rel)
{
    char path[1024];
    quire_error err = {0};
    qr_pdf *pdf = NULL;
    quire_status st = qr_pdf_open(corpus_path(path, sizeof(path), rel), &pdf, &err);
    T_CHECKF(st == QUIRE_OK, "open %s: %s", rel, err.msg);
    return pdf;
}

/* Every hostile file: a clean error, or success with pages that really load. */
static void test_hostile(void)
{
    static const char *files[] = {
        "hostile/hostile-zero-bytes.pdf",     "hostile/hostile-random-bytes.pdf",
        "hostile/hostile-truncated.pdf",      "hostile/hostile-huge-page-count.pdf",
        "hostile/hostile-pages-loop.pdf",
    };
    qr_arena arena;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    for (size_t i = 0; i < QR_ARRAY_LEN(files); i++) {
        char path[1024];
        quire_error err = {0};
        qr_pdf *pdf = NULL;
        quire_status st = qr_pdf_open(corpus_path(path, sizeof(path), files[i]), &pdf, &err);
        printf("  %s: %s %s\n", files[i], quire_status_str(st), err.msg);
        if (st != QUIRE_OK) {
            T_CHECKF(st == QUIRE_FORMAT, "%s: status %d", files[i], st);
            T_CHECK(pdf == NULL);
            T_CHECK(strstr(err.msg, "hostile") != NULL);
            continue;
        }
        int n = qr_pdf_page_count(pdf);
        T_CHECKF(n >= 1 && n <= 3, "%s: %d pages", files[i], n);
        for (int p = 1; p <= n; p++) {
            qr_page page;
            qr_image img;
            qr_arena_reset(&arena);
            st = qr_pdf_page_text(pdf, p, &arena, &page, NULL, &err);
            T_CHECKF(st == QUIRE_OK || st == QUIRE_FORMAT, "%s p%d: %s", files[i], p, err.msg);
            st = qr_pdf_render_gray(pdf, p, 36, 0, 0, &img, NULL, &err);
            T_CHECKF(st == QUIRE_OK || st == QUIRE_FORMAT, "%s p%d: %s", files[i], p, err.msg);
            qr_image_free(&img);
        }
        qr_pdf_close(pdf);
    }
    qr_arena_free(&arena);
}

static void test_missing_file(void)
{
    quire_error err = {0};
    qr_pdf *pdf = NULL;
    T_EQ_INT(qr_pdf_open("/nonexistent/x.pdf", &pdf, &err), QUIRE_IO);
    T_CHECK(pdf == NULL);
    T_CHECK(strstr(err.msg, "/nonexistent/x.pdf") != NULL);
    qr_pdf_close(NULL);
}

/* Page counts of every born/ PDF match manifest.tsv's `pages` column. */
static void test_born_page_counts(void)
{
    char path[1024];
    char *tsv = t_read_file(corpus_path(path, sizeof(path), "manifest.tsv"), NULL);
    T_CHECK(tsv != NULL);
    if (!tsv)
        return;
    int n_files = 0;
    for (char *line = tsv, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char kind[32], file[256];
        int pages;
        if (sscanf(line, "%*s\t%31s\t%*s\t%*s\t%255s\t%d", kind, file, &pages) != 3 ||
            strcmp(kind, "born") != 0)
            continue;
        qr_pdf *pdf = open_corpus(file);
        if (!pdf)
            continue;
        T_CHECKF(qr_pdf_page_count(pdf) == pages, "%s: %d pages, manifest says %d", file,
                 qr_pdf_page_count(pdf), pages);
        T_CHECK(!qr_pdf_is_image(pdf));
        qr_pdf_close(pdf);
        n_files++;
    }
    T_EQ_INT(n_files, 46);
    free(tsv);
}

/* Index of the first word equal to w at or after from, or -1. */
static int find_word(const qr_page *pg, const char *w, int from, float *x)
{
    int idx = 0;
    for (int b = 0; b < pg->n_blocks; b++)
        for (int l = 0; l < pg->blocks[b].n_lines; l++)
            for (int k = 0; k < pg->blocks[b].lines[l].n_words; k++, idx++) {
                const qr_word *wd = &pg->blocks[b].lines[l].words[k];
                if (idx >= from && strcmp(wd->text, w) == 0) {
                    if (x)
                        *x = wd->bbox.x0;
                    return idx;
                }
            }
    return -1;
}

static int words_in_order(const qr_page *pg, const char *const *words, int n)
{
    int at = 0;
    for (int i = 0; i < n; i++) {
        int j = find_word(pg, words[i], at, NULL);
        if (j < 0) {
            printf("  word not found in order: %s\n", words[i]);
            return 0;
        }
        at = j + 1;
    }
    return 1;
}

static void test_known_text(void)
{
    static const char *const sentence[] = {"This", "sample", "document", "demonstrates",
                                           "proper", "use", "of"};
    qr_pdf *pdf = open_corpus("born/paper2col-apssamp.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, NULL, &err), QUIRE_OK);
    T_EQ_INT(pg.number, 1);
    T_CHECK(pg.width > 611 && pg.width < 613 && pg.height > 791 && pg.height < 793);
    T_CHECK(pg.n_chars > 2000);
    T_CHECK(pg.n_bad_chars < pg.n_chars / 50);
    T_CHECK(pg.text_coverage > 0.05f && pg.text_coverage <= 1.0f);
    T_CHECK(words_in_order(&pg, sentence, 7));
    /* two columns: the left column's "demonstrates" lies left of the right column's
     * "References" and both where pdftotext -bbox puts them */
    float x_left = 0, x_right = 0;
    T_CHECK(find_word(&pg, "demonstrates", 0, &x_left) >= 0);
    T_CHECK(find_word(&pg, "References", 0, &x_right) >= 0);
    T_CHECKF(x_left > 160 && x_left < 190, "x_left %.1f", x_left);
    T_CHECKF(x_right > 440 && x_right < 475, "x_right %.1f", x_right);
    T_CHECK(x_left < 306 && x_right > 306);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

static void test_scanned_image_only(void)
{
    qr_pdf *pdf = open_corpus("scanned/scan-long-gnuplot-p28-mild300.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_count(pdf), 1);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, NULL, &err), QUIRE_OK);
    T_EQ_INT(pg.n_chars, 0);
    T_CHECKF(pg.image_coverage > 0.9f, "image_coverage %.3f", pg.image_coverage);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

static void test_encrypted(void)
{
    qr_pdf *pdf = open_corpus("born/odd-encrypted-aes256.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_pdf_page_count(pdf), 6);
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, NULL, &err), QUIRE_OK);
    T_CHECK(pg.n_chars > 100);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

static void test_rotated(void)
{
    qr_pdf *pdf = open_corpus("born/odd-rotated-seminar.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, NULL, &err), QUIRE_OK);
    T_EQ_INT(pg.rotation, 270);
    T_CHECK(pg.width > pg.height); /* portrait A4 turned: displayed landscape */
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

static void test_render_size(void)
{
    qr_pdf *pdf = open_corpus("born/paper2col-els5p.pdf"); /* 595.276 x 841.89 */
    qr_image img;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_pdf_render_gray(pdf, 1, 150, 0, 0, &img, NULL, &err), QUIRE_OK);
    T_CHECKF(abs(img.width - 1240) <= 1 && abs(img.height - 1754) <= 1, "%dx%d", img.width,
             img.height);
    T_EQ_INT(img.dpi, 150);
    long dark = 0;
    for (size_t i = 0; img.pixels && i < (size_t)img.width * img.height; i++)
        dark += img.pixels[i] < 128;
    T_CHECK(dark > 1000);   /* there is text */
    T_CHECK(img.pixels[0] == 255); /* white background, top-left margin */
    qr_image_free(&img);
    T_CHECK(img.pixels == NULL);
    T_EQ_INT(qr_pdf_render_gray(pdf, 5, 150, 0, 0, &img, NULL, &err), QUIRE_INVALID_ARG);
    qr_pdf_close(pdf);
}

/* The A0 poster: refused above the limit, fitted below it, never gigabytes. */
static void test_render_limit(void)
{
    qr_pdf *pdf = open_corpus("born/odd-huge-a0-poster.pdf");
    qr_image img;
    quire_error err = {0};
    if (!pdf)
        return;
    /* 600 dpi: 19867 x 28087 = 558 M pixels > the 200 M default */
    T_EQ_INT(qr_pdf_render_gray(pdf, 1, 600, 0, 0, &img, NULL, &err), QUIRE_LIMIT);
    T_CHECK(img.pixels == NULL);
    size_t max = (size_t)4 << 20;
    T_EQ_INT(qr_pdf_render_gray(pdf, 1, 300, max, 1, &img, NULL, &err), QUIRE_OK);
    T_CHECK((size_t)img.width * img.height <= max);
    T_CHECK(img.dpi < 300 && img.dpi > 30);
    qr_image_free(&img);
    qr_pdf_close(pdf);
}

static void test_abort(void)
{
    qr_pdf *pdf = open_corpus("born/odd-huge-a0-poster.pdf");
    qr_image img;
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    volatile int flag = 1;
    if (!pdf)
        return;
    T_EQ_INT(qr_pdf_render_gray(pdf, 1, 72, 0, 0, &img, &flag, &err), QUIRE_CANCELLED);
    T_CHECK(img.pixels == NULL);
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, &flag, &err), QUIRE_CANCELLED);
    /* the handle stays usable after a cancelled call */
    flag = 0;
    T_EQ_INT(qr_pdf_render_gray(pdf, 1, 36, 0, 0, &img, &flag, &err), QUIRE_OK);
    qr_image_free(&img);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, &flag, &err), QUIRE_OK);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

static void test_small_arena(void)
{
    qr_pdf *pdf = open_corpus("born/paper2col-apssamp.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_arena_init(&arena, 4096), QUIRE_OK);
    T_EQ_INT(qr_pdf_page_text(pdf, 1, &arena, &pg, NULL, &err), QUIRE_LIMIT);
    T_CHECK(strstr(err.msg, "arena") != NULL);
    T_EQ_INT(arena.used, 0); /* rolled back */
    T_EQ_INT(pg.n_blocks, 0);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

/* 50 pages of a long document through one handle; LeakSanitizer checks the rest. */
static void test_long_loop(void)
{
    qr_pdf *pdf = open_corpus("born/long-r-intro.pdf");
    qr_arena arena;
    qr_page pg;
    quire_error err = {0};
    if (!pdf)
        return;
    T_EQ_INT(qr_arena_init(&arena, ARENA_BYTES), QUIRE_OK);
    long chars = 0;
    for (int p = 1; p <= 50; p++) {
        qr_arena_reset(&arena);
        T_EQ_INT(qr_pdf_page_text(pdf, p, &arena, &pg, NULL, &err), QUIRE_OK);
        chars += pg.n_chars;
    }
    T_CHECK(chars > 50 * 1000);
    qr_arena_free(&arena);
    qr_pdf_close(pdf);
}

/* ---- images written by the test ----------------------------------------------- */

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, unsigned v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

static void gray_pattern(unsigned char *px, int w, int h, int seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            px[y * w + x] = (unsigned char)(((x / 8 + y / 8 + seed) & 1) ? 255 : 0);
}

/* A little-endian, uncompressed 8-bit greyscale TIFF with n_pages IFDs at 200 dpi. */
static size_t make_tiff(unsigned char *buf, int w, int h, int n_pages)
{
    enum { N_TAGS = 11 };
    size_t ifd_bytes = 2 + N_TAGS * 12 + 4 + 16; /* + two rationals */
    size_t page_bytes = ifd_bytes + (size_t)w * h;
    memcpy(buf, "II*\0", 4);
    put32(buf + 4, 8);
    for (int p = 0; p < n_pages; p++) {
        size_t ifd = 8 + p * page_bytes;
        size_t rat = ifd + 2 + N_TAGS * 12 + 4;
        size_t pix = ifd + ifd_bytes;
        static const unsigned short tags[N_TAGS] = {256, 257, 258, 259, 262, 273,
                                                    277, 278, 279, 282, 283};
        unsigned vals[N_TAGS] = {w, h, 8, 1, 1, (unsigned)pix, 1, h, (unsigned)(w * h),
                                 (unsigned)rat, (unsigned)rat + 8};
        unsigned char *e = buf + ifd;
        put16(e, N_TAGS);
        for (int t = 0; t < N_TAGS; t++) {
            unsigned char *en = e + 2 + t * 12;
            int is_rat = tags[t] == 282 || tags[t] == 283;
            int is_long = tags[t] == 273 || tags[t] == 279 || tags[t] <= 257;
            put16(en, tags[t]);
            put16(en + 2, is_rat ? 5 : is_long ? 4 : 3);
            put32(en + 4, 1);
            put32(en + 8, vals[t]);
        }
        put32(e + 2 + N_TAGS * 12, p + 1 < n_pages ? (unsigned)(ifd + page_bytes) : 0);
        put32(buf + rat, 200);
        put32(buf + rat + 4, 1);
        put32(buf + rat + 8, 200);
        put32(buf + rat + 12, 1);
        gray_pattern(buf + pix, w, h, p);
    }
    return 8 + n_pages * page_bytes;
}

static void check_image_doc(const char *path, int pages, int w, int h)
{
    quire_error err = {0};
    qr_pdf *pdf = NULL;
    qr_image img;
    T_CHECKF(qr_pdf_open(path, &pdf, &err) == QUIRE_OK, "open %s: %s", path, err.msg);
    if (!pdf)
        return;
    T_EQ_INT(qr_pdf_page_count(pdf), pages);
    T_EQ_INT(qr_pdf_is_image(pdf), 1);
    for (int p = 1; p <= pages; p++) {
        T_EQ_INT(qr_pdf_render_gray(pdf, p, 0, 0, 0, &img, NULL, &err), QUIRE_OK);
        T_CHECKF(abs(img.width - w) <= 1 && abs(img.height - h) <= 1, "%s: %dx%d", path,
                 img.width, img.height);
        if (img.pixels) { /* the pattern survived: black where gray_pattern put 0 */
            int y = h / 2 + 4, x = 12;
            int black = !(((x / 8 + y / 8 + (strstr(path, "tiff") ? p - 1 : 0)) & 1));
            T_CHECK((img.pixels[y * img.width + x] < 64) == black);
        }
        qr_image_free(&img);
    }
    qr_pdf_close(pdf);
}

static void test_image_inputs(void)
{
    enum { W = 96, H = 64 };
    static unsigned char buf[4 * (W * H + 256)];
    char path[1024];
    /* PGM (P5): MuPDF's image document opens PNM as one page */
    int n = snprintf((char *)buf, 64, "P5\n%d %d\n255\n", W, H);
    gray_pattern(buf + n, W, H, 0);
    snprintf(path, sizeof(path), "%s/one.pgm", t_tmpdir());
    T_EQ_INT(t_write_file(path, buf, (size_t)n + W * H), 0);
    check_image_doc(path, 1, W, H);
    /* a three-page TIFF, named .pdf: content decides, not the name */
    snprintf(path, sizeof(path), "%s/three-tiff.pdf", t_tmpdir());
    T_EQ_INT(t_write_file(path, buf, make_tiff(buf, W, H, 3)), 0);
    check_image_doc(path, 3, W, H);
}

int main(void)
{
    T_RUN(test_missing_file);
    T_RUN(test_hostile);
    T_RUN(test_born_page_counts);
    T_RUN(test_render_size);
    T_RUN(test_render_limit);
    T_RUN(test_image_inputs);
    T_RUN(test_known_text);
    T_RUN(test_scanned_image_only);
    T_RUN(test_encrypted);
    T_RUN(test_rotated);
    T_RUN(test_abort);
    T_RUN(test_small_arena);
    T_RUN(test_long_loop);
    return t_done();
}
