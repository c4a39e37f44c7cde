/*
 * cmd_convert.c — `quire convert`: PDFs and page images to Markdown / JSON / text, one
 * file or a whole tree. The batch driver: collects inputs (directories walked
 * recursively), maps them to outputs (mirroring the input tree under -o), skips
 * outputs newer than their input, runs up to --jobs documents at once on one shared
 * converter, writes each output atomically (temp file, fsync, rename, fsync dir),
 * prints progress to stderr and an optional JSON report. One bad document never stops
 * the batch: it gets one line naming the file, and the exit status says 3 (partial).
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "convert_int.h"
#include "core/core.h"

/* Error lines are cut to fit their fixed buffers on purpose (a path of 4 KiB still gives
 * a readable line); GCC cannot tell that from a mistake. */
#pragma GCC diagnostic ignored "-Wformat-truncation"


static const cli_opt opts[] = {
    {"output", 'o', 1, "OUT", "output file (one input; .md/.json/.txt sets the format), - for "
                              "stdout, or a directory (mirrors each input root)"},
    {"format", 'f', 1, "md|json|txt|gamebook", "output format (default md; gamebook: numbered "
                                               "sections, choices, combat as JSON)"},
    {"strategy", 0, 1, "fast|ocr_only|hi_res|auto",
     "fast: text layer only, no OCR; ocr_only: OCR every page; auto: per page, text layer "
     "or OCR, plus OCR of pictures that look like text (default); hi_res: auto with OCR of "
     "every picture that may hold text (+ VLM when a backend is configured)"},
    {"ocr", 0, 1, "auto|always|never", "OCR pages without a usable text layer (default auto)"},
    {"dpi", 0, 1, "N", "OCR rendering resolution (default 300; images and 200-299 dpi scans: their own)"},
    {"lang", 'l', 1, "LANGS", "Tesseract languages, e.g. eng or deu+eng (default eng)"},
    {"pages", 'p', 1, "LIST", "pages to convert, e.g. 1-3,7,10- (1-based)"},
    {"max-pages", 0, 1, "N", "convert at most N pages per document"},
    {"jobs", 'j', 1, "N", "pages/documents in parallel (default 1; with --vlm: [resources] max_workers)"},
    {"timeout-per-doc", 0, 1, "S", "stop a document after S seconds, keep its finished pages"},
    {"report", 0, 1, "FILE.json", "write a per-document, per-page JSON report"},
    {"page-markers", 0, 0, NULL, "Markdown: write <!-- page N --> before each page's blocks"},
    {"tables", 0, 1, "auto|gfm|html", "Markdown tables: pipe tables, HTML <table> when a cell "
                                      "spans (auto, default), or always one kind"},
    {"images", 0, 1, "none|refs|embed", "figures: PNG files next to the output, referenced "
                                        "from it (refs, default with -o), none (default for "
                                        "stdout), or embedded as data: URIs"},
    {"image-dpi", 0, 1, "N", "figure PNG resolution (default 150)"},
    {"force", 0, 0, NULL, "convert even when the output is up to date"},
    {"allow-empty", 0, 0, NULL, "pages that end with no text, or with text that fails the "
                                "garbage check, are not an error (exit 0)"},
    {"quiet", 'q', 0, NULL, "no progress on stderr (errors are still printed)"},
    {"vlm", 0, 1, "never|auto|always|tables|formulas",
     "read pages with the VLM backends of the config (tables/formulas: only those "
     "regions; default never)"},
    {"config", 0, 1, "FILE", "quire.toml with [backends] (default $QUIRE_CONFIG, ./quire.toml)"},
    {"vlm-cache", 0, 1, "DIR", "cache VLM answers in DIR: a rerun re-requests nothing"},
    {"max-fallback-share", 0, 1, "X", "a document whose VLM pages fell back above share X "
                                      "(0..1) counts as partial (exit 3)"},
    {"log-format", 0, 1, "text|json", "json: one JSON object per VLM event on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: quire convert INPUT... [-o OUT] [options]\n\n"
            "Convert PDFs and page images (PNG, JPEG, TIFF) to Markdown, JSON or text. The\n"
            "text layer is used where it is usable, Tesseract OCR where it is not. INPUT may\n"
            "be files or directories (searched recursively for *.pdf and images).\n\n"
            "options:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexit status: 0 ok, 1 failure, 2 usage error, 3 some documents or pages "
                 "failed\nexample:\n  quire convert --jobs 4 -o md/ papers/\n");
}

static int pick(const char *opt, const char *val, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(val, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    fprintf(stderr, "quire convert: --%s: '%s' is not one of the choices (see --help)\n", opt,
            val);
    return EXIT_USAGE;
}

static int on_opt(int idx, const char *val, void *user)
{
    static const char *const formats[] = {"md", "json", "txt", "gamebook", NULL};
    static const char *const modes[] = {"auto", "always", "never", NULL};
    conv_args *a = user;
    const char *name = opts[idx].name;
    if (strcmp(name, "output") == 0)
        a->out = val;
    else if (strcmp(name, "format") == 0) {
        a->format_set = 1;
        return pick(name, val, formats, &a->format);
    }
    else if (strcmp(name, "strategy") == 0) {
        static const char *const st[] = {"auto", "fast", "ocr_only", "hi_res", NULL};
        a->strategy_set = 1;
        return pick(name, val, st, &a->strategy);
    } else if (strcmp(name, "ocr") == 0) {
        a->ocr_set = 1;
        return pick(name, val, modes, &a->ocr);
    }
    else if (strcmp(name, "dpi") == 0)
        return cli_int("convert", name, val, 50, 1200, &a->dpi) ? EXIT_USAGE : 0;
    else if (strcmp(name, "lang") == 0)
        a->lang = val;
    else if (strcmp(name, "pages") == 0) {
        /* the library checks the ranges; a typo should be a usage error, not N failures */
        if (!val[0] || strspn(val, "0123456789-, ") != strlen(val)) {
            fprintf(stderr, "quire convert: --pages: '%s' is not a list like 1-3,7,10-\n", val);
            return EXIT_USAGE;
        }
        a->pages = val;
    }
    else if (strcmp(name, "max-pages") == 0)
        return cli_int("convert", name, val, 1, 1000000, &a->max_pages) ? EXIT_USAGE : 0;
    else if (strcmp(name, "jobs") == 0)
        return cli_int("convert", name, val, 1, 256, &a->jobs) ? EXIT_USAGE : 0;
    else if (strcmp(name, "timeout-per-doc") == 0) {
        char *end = NULL;
        a->timeout_s = strtod(val, &end);
        if (end == val || *end || !(a->timeout_s > 0)) {
            fprintf(stderr, "quire convert: --timeout-per-doc: '%s' is not a positive "
                            "number of seconds\n", val);
            return EXIT_USAGE;
        }
    } else if (strcmp(name, "report") == 0)
        a->report = val;
    else if (strcmp(name, "page-markers") == 0)
        a->page_markers = 1;
    else if (strcmp(name, "tables") == 0) {
        if (strcmp(val, "auto") == 0)
            a->tables = QUIRE_TABLES_AUTO;
        else if (strcmp(val, "gfm") == 0)
            a->tables = QUIRE_TABLES_GFM;
        else if (strcmp(val, "html") == 0)
            a->tables = QUIRE_TABLES_HTML;
        else {
            fprintf(stderr, "quire convert: --tables: '%s' is not auto, gfm or html\n", val);
            return EXIT_USAGE;
        }
    }
    else if (strcmp(name, "images") == 0) {
        static const char *const im[] = {"none", "refs", "embed", NULL};
        return pick(name, val, im, &a->images);
    } else if (strcmp(name, "image-dpi") == 0)
        return cli_int("convert", name, val, 36, 600, &a->image_dpi) ? EXIT_USAGE : 0;
    else if (strcmp(name, "force") == 0)
        a->force = 1;
    else if (strcmp(name, "allow-empty") == 0)
        a->allow_empty = 1;
    else if (strcmp(name, "quiet") == 0)
        a->quiet = 1;
    else if (strcmp(name, "vlm") == 0) {
        static const char *const vm[] = {"never", "auto", "always", "tables", "formulas", NULL};
        a->vlm_set = 1;
        return pick(name, val, vm, &a->vlm);
    } else if (strcmp(name, "config") == 0)
        a->config = val;
    else if (strcmp(name, "vlm-cache") == 0)
        a->vlm_cache = val;
    else if (strcmp(name, "log-format") == 0) {
        static const char *const lf[] = {"text", "json", NULL};
        return pick(name, val, lf, &a->log_json);
    } else if (strcmp(name, "max-fallback-share") == 0) {
        char *end = NULL;
        a->max_fallback_share = strtod(val, &end);
        if (end == val || *end || a->max_fallback_share < 0 || a->max_fallback_share > 1) {
            fprintf(stderr, "quire convert: --max-fallback-share: '%s' is not a number "
                            "between 0 and 1\n", val);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* --log-format json: one event a line on stderr (from worker threads). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void log_line(void *user, const char *line)
{
    (void)user;
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_mu);
}

/* ---- progress ------------------------------------------------------------------------- */

static void count_methods(const quire_convert_result *r, int *text, int *ocr, int *failed)
{
    *text = *ocr = *failed = 0;
    for (int i = 0; r && i < r->n_reports; i++) {
        int m = r->reports[i].method;
        *text += m == QUIRE_METHOD_TEXT;
        *ocr += m == QUIRE_METHOD_OCR || m == QUIRE_METHOD_VLM; /* VLM pages: shown apart */
        *failed += m == QUIRE_METHOD_FAILED;
    }
}

/* 1 when a page's provenance says a VLM was asked for the whole page and failed (its
 * top-level "outcome" is "fallback"; "local" = not sent, e.g. --vlm auto judged it good). */
static int vlm_fell_back(const char *vlm)
{
    if (!vlm)
        return 0;
    json_error_t je;
    json_t *v = json_loads(vlm, 0, &je);
    const char *o = json_string_value(json_object_get(v, "outcome"));
    int fb = o && !strcmp(o, "fallback");
    json_decref(v);
    return fb;
}

/* Regions a page sent (--vlm tables / formulas): accepted and fallen back; 0 when the
 * provenance is a page's. */
static int vlm_regions(const char *vlm, int *ok, int *fallback)
{
    *ok = *fallback = 0;
    if (!vlm || !strstr(vlm, "\"regions\""))
        return 0;
    json_error_t je;
    json_t *v = json_loads(vlm, 0, &je);
    int has = json_is_array(json_object_get(v, "regions"));
    *ok = (int)json_integer_value(json_object_get(v, "n_ok"));
    *fallback = (int)json_integer_value(json_object_get(v, "n_fallback"));
    json_decref(v);
    return has;
}

/* VLM pages of a result: read by a backend, and fallen back to text layer / Tesseract;
 * with --vlm tables / formulas, the regions (tables, formulas) instead. */
static void count_vlm(const quire_convert_result *r, int *vlm, int *fallback, int *reg_ok,
                      int *reg_fb)
{
    *vlm = *fallback = *reg_ok = *reg_fb = 0;
    for (int i = 0; r && r->page_vlm && i < r->n_reports; i++) {
        int rok, rfb;
        if (vlm_regions(r->page_vlm[i], &rok, &rfb)) {
            *reg_ok += rok;
            *reg_fb += rfb;
            continue;
        }
        *vlm += r->reports[i].method == QUIRE_METHOD_VLM;
        *fallback += r->reports[i].method != QUIRE_METHOD_VLM && vlm_fell_back(r->page_vlm[i]);
    }
}

static void draw_bar(conv_batch *b, int final)
{
    double el = qr_now() - b->t0;
    int pages = b->n_pages + b->live_pages;
    double rate = el > 0 ? pages / el : 0;
    double eta = b->n_done ? el / b->n_done * (b->n_jobs - b->n_done) : 0;
    fprintf(stderr, "\r\033[Kquire convert: %d/%d files, %d pages, %.1f pages/s, ETA %d:%02d%s",
            b->n_done, b->n_jobs, pages, rate, (int)eta / 60, (int)eta % 60,
            final ? "\n" : "");
    b->last_draw = qr_now();
}

/* A page that converted but ended with no text: a warning (exit 3 unless --allow-empty). */
static int page_is_empty(const quire_page_report *r)
{
    return r->method != QUIRE_METHOD_FAILED && r->chars == 0;
}

/* A page whose text fails the garbage check (the library's report.quality). */
static int page_is_suspect(const quire_page_report *r)
{
    return r->method != QUIRE_METHOD_FAILED && r->chars > 0 && r->quality[0];
}

/* "pages 3, 7, 9" (cut with "..." when long). */
static void empty_list(const conv_job *j, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "page%s", j->n_empty == 1 ? "" : "s");
    int k = 0;
    for (int i = 0; j->res && i < j->res->n_reports && n < cap; i++) {
        if (!page_is_empty(&j->res->reports[i]))
            continue;
        if (n + 16 >= cap) {
            snprintf(out + n, cap - n, ", ...");
            break;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s %d", k++ ? "," : "", j->res->reports[i].page);
    }
}

/* One warning line per page whose text fails the garbage check. */
static void warn_suspect(const conv_job *j)
{
    for (int i = 0; j->res && i < j->res->n_reports; i++) {
        const quire_page_report *r = &j->res->reports[i];
        if (page_is_suspect(r))
            fprintf(stderr, "quire convert: %s: warning: page %d: text fails the garbage check "
                            "(%s); --allow-empty accepts it\n", job_name(j), r->page, r->quality);
    }
}

/* Called with b->mu held once a job has its final state. Errors always get their one
 * line (naming the file); the rest is progress and obeys -q. */
static void report_job(conv_batch *b, const conv_job *j, double secs)
{
    int text, ocr, failed;
    count_methods(j->res, &text, &ocr, &failed);
    b->live_pages -= j->pages_live; /* now counted in n_pages */
    b->n_done++;
    b->n_pages += text + ocr;
    if (b->tty && !b->a->quiet)
        fprintf(stderr, "\r\033[K");
    if (j->state == JOB_FAILED || j->state == JOB_PARTIAL)
        fprintf(stderr, "quire convert: %s\n", j->error);
    if (j->n_empty && !b->a->allow_empty) {
        char list[128];
        empty_list(j, list, sizeof(list));
        fprintf(stderr, "quire convert: %s: warning: %d page%s with no text (%s); "
                        "--allow-empty accepts them\n",
                job_name(j), j->n_empty, j->n_empty == 1 ? "" : "s", list);
    }
    if (j->n_suspect && !b->a->allow_empty)
        warn_suspect(j);
    if (!b->a->quiet && !b->tty) {
        if (j->state == JOB_SKIPPED)
            fprintf(stderr, "quire convert: %s: up to date (same input, options and quire "
                            "version; --force redoes it)\n", job_name(j));
        else if (j->res && j->state != JOB_FAILED && j->res->page_vlm) {
            int vlm, fb, rok, rfb;
            count_vlm(j->res, &vlm, &fb, &rok, &rfb);
            char regs[80] = "";
            if (rok + rfb > 0)
                snprintf(regs, sizeof(regs), "; vlm regions %d, region fallback %d", rok, rfb);
            fprintf(stderr, "quire convert: %s: %d pages (text %d, ocr %d, vlm %d, vlm fallback "
                            "%d, failed %d%s) in %.1f s\n", job_name(j), j->res->n_reports,
                    text, ocr - vlm, vlm, fb, failed, regs, secs);
        } else if (j->res && j->state != JOB_FAILED)
            fprintf(stderr, "quire convert: %s: %d pages (text %d, ocr %d, failed %d) in %.1f s\n",
                    job_name(j), j->res->n_reports, text, ocr, failed, secs);
    }
    if (b->tty && !b->a->quiet)
        draw_bar(b, b->n_done == b->n_jobs);
}

/* ---- one document ------------------------------------------------------------------------ */

static void copy_err(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    n = n < cap ? n : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Messages about the spooled stdin copy name it "-" (stdin), not the temp file. */
static void name_stdin(conv_batch *b, conv_job *j)
{
    if (!j->shown || !b->stdin_tmp)
        return;
    char *at = strstr(j->error, b->stdin_tmp);
    if (at) {
        char tmp[sizeof(j->error)];
        snprintf(tmp, sizeof(tmp), "%.*sstdin%s", (int)(at - j->error), j->error,
                 at + strlen(b->stdin_tmp));
        copy_err(j->error, sizeof(j->error), tmp);
    }
    quire_convert_result *r = j->res;
    if (r && r->output && (b->a->format == QUIRE_FORMAT_JSON || b->a->format == QUIRE_FORMAT_GAMEBOOK) &&
        (at = strstr(r->output, b->stdin_tmp)) != NULL) {
        size_t n = strlen(b->stdin_tmp);
        at[0] = '-';
        memmove(at + 1, at + n, r->output_len - (size_t)(at + n - r->output) + 1);
        r->output_len -= n - 1;
    }
}

/* DIR/NAME for a figure next to the output DIR/OUT (caller frees). */
static char *figure_path(const char *out, const char *name)
{
    const char *slash = strrchr(out, '/');
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    size_t n = dir + strlen(name) + 1;
    char *s = qr_malloc(n);
    if (s)
        snprintf(s, n, "%.*s%s", (int)dir, out, name);
    return s;
}

/* The output's file name without directory and extension: figure names start with it. */
static void output_stem(const char *out, char *stem, size_t cap)
{
    const char *slash = strrchr(out, '/');
    const char *base = slash ? slash + 1 : out;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    snprintf(stem, cap, "%.*s", (int)n, base);
}

/* The figure PNGs an earlier conversion into the same place wrote (the "images" list of
 * the sidecar it left), or NULL: reconverting removes those the new output no longer
 * refers to, so a document that lost figures leaves no stale PNGs behind. Only names
 * quire itself listed are touched (plain names, no directory part). */
static json_t *old_images(const char *side)
{
    json_t *o = side ? json_load_file(side, 0, NULL) : NULL;
    json_t *im = o ? json_object_get(o, "images") : NULL;
    if (json_is_array(im))
        json_incref(im);
    else
        im = NULL;
    json_decref(o);
    return im;
}

static void remove_stale_images(json_t *old, const char *out, const quire_convert_result *r)
{
    for (size_t i = 0; i < json_array_size(old); i++) {
        const char *name = json_string_value(json_array_get(old, i));
        if (!name || !name[0] || strchr(name, '/') || strcmp(name, "..") == 0)
            continue;
        int kept = 0;
        for (int k = 0; !kept && k < r->n_images; k++)
            kept = r->images[k].name && strcmp(r->images[k].name, name) == 0;
        char *png = kept ? NULL : figure_path(out, name);
        if (png)
            unlink(png); /* already gone is fine */
        qr_free(png);
    }
}

/* A complete output gets its fingerprint sidecar, written first: a crash between the
 * two leaves a sidecar whose output_sha256 does not match, so the file is redone. A
 * partial output has its sidecar removed first, so it is never up to date. */
static void write_output(conv_batch *b, conv_job *j, const char *input_sha)
{
    quire_convert_result *r = j->res;
    if (!j->out) {
        pthread_mutex_lock(&b->mu);
        size_t n = fwrite(r->output, 1, r->output_len, stdout);
        int ok = n == r->output_len && fflush(stdout) == 0;
        pthread_mutex_unlock(&b->mu);
        if (!ok) {
            snprintf(j->error, sizeof(j->error), "writing output: %s", strerror(errno));
            j->state = JOB_FAILED;
        }
        return;
    }
    char e[256];
    char *side = conv_sidecar_path(j->out);
    int complete = j->state == JOB_OK && (!(j->n_empty || j->n_suspect) || b->a->allow_empty) &&
                   input_sha[0];
    char *text = complete ? conv_sidecar_text(b, input_sha, r->output, r->output_len, r) : NULL;
    json_t *stale = old_images(side);
    int rc = -1;
    if (!side || (complete && !text))
        snprintf(e, sizeof(e), "%s: out of memory", j->out);
    else if (text)
        rc = conv_write_atomic(side, text, strlen(text), e, sizeof(e));
    else if (unlink(side) == 0 || errno == ENOENT)
        rc = 0;
    else
        snprintf(e, sizeof(e), "%s: %s", side, strerror(errno));
    qr_free(side);
    qr_free(text); /* jansson allocates through qr_malloc */
    /* the figures first: an output never refers to a PNG that is not there yet */
    for (int i = 0; rc == 0 && i < r->n_images; i++) {
        char *png = figure_path(j->out, r->images[i].name);
        if (!png) {
            snprintf(e, sizeof(e), "%s: out of memory", j->out);
            rc = -1;
            break;
        }
        rc = conv_write_atomic(png, (const char *)r->images[i].png, r->images[i].png_len, e,
                               sizeof(e));
        qr_free(png);
    }
    if (rc == 0)
        rc = conv_write_atomic(j->out, r->output, r->output_len, e, sizeof(e));
    if (rc == 0)
        remove_stale_images(stale, j->out, r);
    json_decref(stale);
    if (rc != 0) {
        copy_err(j->error, sizeof(j->error), e);
        j->state = JOB_FAILED;
    }
}

typedef struct progress_ctx {
    conv_batch *b;
    conv_job *j;
} progress_ctx;

/* Per-page progress from the converter (this CLI thread): keeps the TTY bar moving
 * inside long documents. */
static void on_progress(void *user, int done, int total)
{
    progress_ctx *pc = user;
    conv_batch *b = pc->b;
    (void)total;
    pthread_mutex_lock(&b->mu);
    b->live_pages += done - pc->j->pages_live;
    pc->j->pages_live = done;
    if (b->tty && !b->a->quiet && qr_now() - b->last_draw > 0.2)
        draw_bar(b, 0);
    pthread_mutex_unlock(&b->mu);
}

static void run_job(conv_batch *b, conv_job *j)
{
    const conv_args *a = b->a;
    char input_sha[65] = "";
    if (j->out) {
        if (!a->force && conv_up_to_date(b, j, input_sha)) {
            j->state = JOB_SKIPPED;
            return;
        }
        if (!input_sha[0] && conv_sha256_file(j->in, input_sha) != 0)
            input_sha[0] = '\0'; /* unreadable: the converter names the problem */
    }
    quire_convert_params p = quire_convert_default_params();
    p.ocr = a->ocr;
    p.format = a->format;
    p.page_markers = a->page_markers;
    p.tables = a->tables;
    p.dpi = (int)a->dpi;
    p.pages = a->pages;
    p.max_pages = (int)a->max_pages;
    p.timeout_s = a->timeout_s;
    p.vlm = a->vlm;
    p.strategy = a->strategy;
    p.images = conv_images_mode(a, j->out);
    p.image_dpi = (int)a->image_dpi;
    char stem[256];
    if (j->out) {
        output_stem(j->out, stem, sizeof(stem));
        p.image_prefix = stem;
    }
    p.abort_flag = (volatile int *)&conv_stop;
    progress_ctx pc = {b, j};
    p.progress = on_progress;
    p.progress_user_data = &pc;
    quire_error err = {0};
    quire_status st = quire_convert_file(b->conv, j->in, &p, &j->res, &err);
    if (st != QUIRE_OK)
        copy_err(j->error, sizeof(j->error), err.msg[0] ? err.msg : quire_status_str(st));
    quire_convert_result *r = j->res;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        j->peak_rss_kb = ru.ru_maxrss;
    for (int i = 0; r && i < r->n_reports; i++) {
        j->n_empty += page_is_empty(&r->reports[i]);
        j->n_suspect += page_is_suspect(&r->reports[i]);
    }
    name_stdin(b, j);
    if (conv_stop || !r || !r->output || r->n_failed == r->n_reports) {
        j->state = JOB_FAILED;
    } else {
        j->state = st == QUIRE_OK ? JOB_OK : JOB_PARTIAL;
        int vlm, fb, rok, rfb;
        count_vlm(r, &vlm, &fb, &rok, &rfb);
        if (a->max_fallback_share >= 0 && vlm + fb > 0 &&
            (double)fb / (double)(vlm + fb) > a->max_fallback_share) {
            j->state = JOB_PARTIAL;
            snprintf(j->error, sizeof(j->error), "%s: %d of %d VLM pages fell back (more than "
                     "--max-fallback-share %g)", job_name(j), fb, vlm + fb, a->max_fallback_share);
        } else if (a->max_fallback_share >= 0 && rok + rfb > 0 &&
                   (double)rfb / (double)(rok + rfb) > a->max_fallback_share) {
            j->state = JOB_PARTIAL; /* --vlm tables / formulas: the share of regions */
            snprintf(j->error, sizeof(j->error), "%s: %d of %d VLM regions fell back (more "
                     "than --max-fallback-share %g)", job_name(j), rfb, rok + rfb,
                     a->max_fallback_share);
        }
        write_output(b, j, input_sha);
    }
    if (r) {
        qr_free(r->output); /* the report only needs the page records */
        r->output = NULL;
    }
}

static void *job_thread(void *arg)
{
    conv_batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int i = conv_stop ? b->n_jobs : b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n_jobs)
            break;
        double t0 = qr_now();
        run_job(b, &b->jobs[i]);
        pthread_mutex_lock(&b->mu);
        report_job(b, &b->jobs[i], qr_now() - t0);
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

static void run_batch(conv_batch *b)
{
    int n = (int)(b->a->jobs < b->n_jobs ? b->a->jobs : b->n_jobs);
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&th[started], NULL, job_thread, b) != 0)
            break;
        started++;
    }
    job_thread(b);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* ---- report ---------------------------------------------------------------------------- */

static const char *state_name(int s)
{
    static const char *const names[] = {"not started", "ok", "partial", "failed", "skipped"};
    return names[s];
}

static json_t *page_json(const quire_page_report *r, const char *vlm)
{
    static const char *const methods[] = {"text", "ocr", "failed", "vlm"};
    json_t *o = json_object();
    json_object_set_new(o, "page", json_integer(r->page));
    json_object_set_new(o, "method", json_string(methods[r->method % 4]));
    /* ok, fallback (a VLM was asked and failed: the method says what replaced it), failed */
    json_object_set_new(o, "status", json_string(r->method == QUIRE_METHOD_FAILED ? "failed"
                                                 : r->method != QUIRE_METHOD_VLM &&
                                                           vlm_fell_back(vlm)
                                                     ? "fallback" : "ok"));
    json_error_t je;
    json_t *v = vlm ? json_loads(vlm, 0, &je) : NULL;
    if (v)
        json_object_set_new(o, "vlm", v);
    json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "ms", json_real(r->ms));
    json_object_set_new(o, "chars", json_integer(r->chars));
    json_object_set_new(o, "conf", r->conf >= 0 ? json_real(r->conf) : json_null());
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    json_object_set_new(o, "empty", json_boolean(page_is_empty(r)));
    json_object_set_new(o, "text_rotation", json_integer(r->text_rotation));
    json_object_set_new(o, "osd_conf", r->osd_conf >= 0 ? json_real(r->osd_conf) : json_null());
    json_object_set_new(o, "skew", json_real(r->skew));
    json_object_set_new(o, "quality", page_is_suspect(r) ? json_string(r->quality) : json_null());
    json_object_set_new(o, "inserts", json_integer(r->inserts));
    json_object_set_new(o, "inserts_ocr", json_integer(r->inserts_ocr));
    json_object_set_new(o, "rss_kb", r->rss_kb >= 0 ? json_integer(r->rss_kb) : json_null());
    return o;
}

/* Per-document timing: pages per minute and the page times' mean / median / max (ms). */
static int cmp_dbl(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void doc_timing(json_t *o, const quire_convert_result *r)
{
    int n = 0;
    double *ms = r && r->n_reports ? qr_malloc((size_t)r->n_reports * sizeof(double)) : NULL;
    for (int i = 0; ms && i < r->n_reports; i++)
        if (r->reports[i].method != QUIRE_METHOD_FAILED)
            ms[n++] = r->reports[i].ms;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    if (n)
        qsort(ms, (size_t)n, sizeof(double), cmp_dbl);
    json_object_set_new(o, "pages_per_min",
                        r && r->ms > 0 ? json_real(60000.0 * n / r->ms) : json_null());
    json_object_set_new(o, "page_ms_mean", n ? json_real(sum / n) : json_null());
    json_object_set_new(o, "page_ms_median",
                        n ? json_real(n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2)
                          : json_null());
    json_object_set_new(o, "page_ms_max", n ? json_real(ms[n - 1]) : json_null());
    qr_free(ms);
}

static json_t *doc_json(const conv_job *j, const conv_args *a)
{
    json_t *o = json_object(), *pages = json_array(), *warn = json_array();
    const quire_convert_result *r = j->res;
    json_object_set_new(o, "path", json_string(job_name(j)));
    json_object_set_new(o, "output", j->out ? json_string(j->out) : json_null());
    json_object_set_new(o, "status", json_string(state_name(j->state)));
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    json_object_set_new(o, "n_pages", r ? json_integer(r->n_pages) : json_null());
    json_object_set_new(o, "ms", r ? json_real(r->ms) : json_null());
    json_object_set_new(o, "strategy", json_string(conv_strategy_names[a->strategy % 4]));
    doc_timing(o, r);
    json_object_set_new(o, "peak_rss_kb", r ? json_integer(j->peak_rss_kb) : json_null());
    for (int i = 0; r && i < r->n_reports; i++)
        json_array_append_new(pages, page_json(&r->reports[i], r->page_vlm ? r->page_vlm[i] : NULL));
    if (r && r->warning[0])
        json_array_append_new(warn, json_string(r->warning));
    json_t *empty = json_array();
    for (int i = 0; r && i < r->n_reports; i++) {
        if (!page_is_empty(&r->reports[i]))
            continue;
        char w[64];
        snprintf(w, sizeof(w), "page %d: no text", r->reports[i].page);
        json_array_append_new(warn, json_string(w));
        json_array_append_new(empty, json_integer(r->reports[i].page));
    }
    json_object_set_new(o, "empty_pages", empty);
    json_t *suspect = json_array();
    for (int i = 0; r && i < r->n_reports; i++) {
        if (!page_is_suspect(&r->reports[i]))
            continue;
        char w[160];
        snprintf(w, sizeof(w), "page %d: %s", r->reports[i].page, r->reports[i].quality);
        json_array_append_new(warn, json_string(w));
        json_array_append_new(suspect, json_integer(r->reports[i].page));
    }
    json_object_set_new(o, "garbage_pages", suspect);
    json_object_set_new(o, "pages", pages);
    json_object_set_new(o, "warnings", warn);
    return o;
}

static int write_report(const conv_batch *b, double secs)
{
    json_t *root = json_object(), *docs = json_array();
    long pages = 0, failed_pages = 0, empty_pages = 0, suspect_pages = 0;
    long inserts = 0, inserts_ocr = 0;
    int n_state[5] = {0};
    for (int i = 0; i < b->n_jobs; i++) {
        const conv_job *j = &b->jobs[i];
        n_state[j->state]++;
        empty_pages += j->n_empty;
        suspect_pages += j->n_suspect;
        json_array_append_new(docs, doc_json(j, b->a));
        for (int k = 0; j->res && k < j->res->n_reports; k++) {
            pages++;
            failed_pages += j->res->reports[k].method == QUIRE_METHOD_FAILED;
            inserts += j->res->reports[k].inserts;
            inserts_ocr += j->res->reports[k].inserts_ocr;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_t *t = json_object();
    json_object_set_new(t, "documents", json_integer(b->n_jobs));
    json_object_set_new(t, "ok", json_integer(n_state[JOB_OK]));
    json_object_set_new(t, "partial", json_integer(n_state[JOB_PARTIAL]));
    json_object_set_new(t, "failed", json_integer(n_state[JOB_FAILED]));
    json_object_set_new(t, "skipped", json_integer(n_state[JOB_SKIPPED]));
    json_object_set_new(t, "pages", json_integer(pages));
    json_object_set_new(t, "pages_failed", json_integer(failed_pages));
    json_object_set_new(t, "pages_empty", json_integer(empty_pages));
    json_object_set_new(t, "pages_garbage", json_integer(suspect_pages));
    json_object_set_new(t, "inserts", json_integer(inserts));
    json_object_set_new(t, "inserts_ocr", json_integer(inserts_ocr));
    json_object_set_new(t, "seconds", json_real(secs));
    json_object_set_new(t, "pages_per_s", json_real(secs > 0 ? (pages - failed_pages) / secs : 0));
    json_object_set_new(t, "pages_per_min", json_real(secs > 0 ? 60.0 * (pages - failed_pages) / secs : 0));
    json_object_set_new(t, "cpu_seconds", json_real((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                                                   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
    json_object_set_new(t, "peak_rss_kb", json_integer(ru.ru_maxrss));
    json_object_set_new(t, "workers", json_integer(b->a->jobs));
    json_object_set_new(root, "report_version", json_integer(1));
    json_object_set_new(root, "strategy", json_string(conv_strategy_names[b->a->strategy % 4]));
    json_object_set_new(root, "documents", docs);
    json_object_set_new(root, "totals", t);
    char *s = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    char e[256];
    int rc = s ? conv_write_atomic(b->a->report, s, strlen(s), e, sizeof(e)) : -1;
    if (rc != 0)
        fprintf(stderr, "quire convert: report: %s\n", s ? e : "out of memory");
    qr_free(s); /* jansson allocates through qr_malloc (json_set_alloc_funcs) */
    return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    conv_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int exit_status(const conv_batch *b)
{
    int ok = 0, bad = 0;
    for (int i = 0; i < b->n_jobs; i++) {
        const conv_job *j = &b->jobs[i];
        int s = j->state, empty = (j->n_empty || j->n_suspect) && !b->a->allow_empty;
        ok += s == JOB_OK || s == JOB_SKIPPED || s == JOB_PARTIAL;
        bad += s == JOB_FAILED || s == JOB_PARTIAL || s == JOB_PENDING || empty;
    }
    if (conv_stop)
        return EXIT_FAIL;
    if (bad == 0)
        return EXIT_OK;
    return ok > 0 ? EXIT_PARTIAL : EXIT_FAIL;
}

/* The closing line: "200 files: 180 converted, 20 up to date, 0 failed" (plus partial
 * documents and empty pages when there are any). */
static void print_summary(const conv_batch *b)
{
    int n[5] = {0}, empty = 0, suspect = 0;
    for (int i = 0; i < b->n_jobs; i++) {
        n[b->jobs[i].state]++;
        empty += b->jobs[i].n_empty;
        suspect += b->jobs[i].n_suspect;
    }
    char extra[160] = "";
    size_t k = 0;
    if (n[JOB_PARTIAL])
        k += (size_t)snprintf(extra + k, sizeof(extra) - k, ", %d partial", n[JOB_PARTIAL]);
    if (n[JOB_PENDING])
        k += (size_t)snprintf(extra + k, sizeof(extra) - k, ", %d not started", n[JOB_PENDING]);
    if (empty)
        k += (size_t)snprintf(extra + k, sizeof(extra) - k, "; %d empty page%s%s", empty,
                              empty == 1 ? "" : "s", b->a->allow_empty ? " (allowed)" : "");
    if (suspect && k < sizeof(extra))
        snprintf(extra + k, sizeof(extra) - k, "; %d page%s failing the garbage check%s", suspect,
                 suspect == 1 ? "" : "s", b->a->allow_empty ? " (allowed)" : "");
    fprintf(stderr, "quire convert: %d file%s: %d converted, %d up to date, %d failed%s\n",
            b->n_jobs, b->n_jobs == 1 ? "" : "s", n[JOB_OK], n[JOB_SKIPPED], n[JOB_FAILED], extra);
}

static void free_batch(conv_batch *b)
{
    for (int i = 0; i < b->n_jobs; i++) {
        qr_free(b->jobs[i].in);
        qr_free(b->jobs[i].rel);
        qr_free(b->jobs[i].out);
        qr_free(b->jobs[i].shown);
        quire_convert_result_free(b->jobs[i].res);
    }
    qr_free(b->jobs);
    if (b->stdin_tmp)
        unlink(b->stdin_tmp);
    qr_free(b->stdin_tmp);
    quire_converter_free(b->conv);
    pthread_mutex_destroy(&b->mu);
}

const char *const conv_strategy_names[] = {"auto", "fast", "ocr_only", "hi_res"};

/* --strategy onto --ocr / --vlm (include/quire.h, enum quire_strategy); an option that
 * contradicts it is a usage error naming both. */
static int apply_strategy(conv_args *a)
{
    static const char *const modes[] = {"auto", "always", "never"};
    static const char *const vm[] = {"never", "auto", "always", "tables", "formulas"};
    static const char *const why[] = {
        "", "reads the text layer only (--ocr never, no VLM)",
        "OCRs every page with Tesseract (--ocr always, no VLM)",
        "keeps the text layer where it is usable and OCRs the other pages and the image "
        "regions (--ocr auto)"};
    static const int implied_ocr[] = {0, QUIRE_OCR_NEVER, QUIRE_OCR_ALWAYS, QUIRE_OCR_AUTO};
    int s = a->strategy;
    if (s == QUIRE_STRATEGY_AUTO)
        return 0;
    char what[32] = "";
    if (a->ocr_set && a->ocr != implied_ocr[s])
        snprintf(what, sizeof(what), "--ocr %s", modes[a->ocr % 3]);
    else if (s != QUIRE_STRATEGY_HI_RES && a->vlm_set && a->vlm != QUIRE_VLM_NEVER)
        snprintf(what, sizeof(what), "--vlm %s", vm[a->vlm % 5]);
    if (what[0]) {
        fprintf(stderr, "quire convert: --strategy %s contradicts %s: %s %s\n",
                conv_strategy_names[s], what, conv_strategy_names[s], why[s]);
        return EXIT_USAGE;
    }
    a->ocr = implied_ocr[s];
    if (a->strategy == QUIRE_STRATEGY_HI_RES && !a->vlm_set) {
        /* VLM regions when a backend is configured; none (or no config): Tesseract only */
        quire_error err = {0};
        quire_config *cfg = NULL;
        if (quire_config_load(a->config, &cfg, &err) != QUIRE_OK) {
            if (a->config) {
                fprintf(stderr, "quire convert: %s\n", err.msg);
                return EXIT_USAGE;
            }
        } else if (quire_config_n_backends(cfg) > 0)
            a->vlm = QUIRE_VLM_AUTO;
        quire_config_free(cfg);
    }
    return 0;
}

static int start(conv_batch *b, const char **pos, int n_pos)
{
    int rc = apply_strategy(b->a);
    if (rc)
        return rc;
    rc = conv_collect(b, pos, n_pos);
    if (rc)
        return rc;
    if (b->n_jobs == 0) {
        fprintf(stderr, "quire convert: no PDF or image files found in the inputs\n");
        return EXIT_FAIL;
    }
    rc = conv_plan(b, n_pos);
    if (rc)
        return rc;
    for (int i = 0; i < b->n_jobs; i++) {
        if (!b->jobs[i].out && conv_images_mode(b->a, "file") == QUIRE_IMAGES_REFS &&
            b->a->images == QUIRE_IMAGES_REFS) {
            fprintf(stderr, "quire convert: --images refs writes PNG files next to the output: "
                            "give -o DIR or -o FILE (stdout: --images embed or none)\n");
            return EXIT_USAGE;
        }
    }
    quire_error err = {0};
    quire_converter_params cp = quire_converter_default_params();
    cp.lang = b->a->lang;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK)
        return cli_fail("convert", &err);
    if (b->a->vlm) {
        if (quire_config_load(b->a->config, &b->a->cfg, &err) != QUIRE_OK) {
            fprintf(stderr, "quire convert: %s\n", err.msg);
            return EXIT_USAGE;
        }
        if (b->a->jobs == 0) /* no --jobs: the config's [resources] max_workers */
            b->a->jobs = b->a->cfg->max_workers > 0 ? b->a->cfg->max_workers : 1;
        if (quire_config_n_backends(b->a->cfg) == 0) {
            const char *src = quire_config_source(b->a->cfg);
            fprintf(stderr, "quire convert: --vlm %s: no VLM backend is configured in %s "
                            "(add a [backends.NAME] table; see README \"VLM backends\")\n",
                    b->a->vlm == 1 ? "auto" : "", src ? src : "the config (no quire.toml found)");
            return EXIT_USAGE;
        }
        cp.config = b->a->cfg;
        cp.vlm_cache_dir = b->a->vlm_cache;
        if (b->a->log_json)
            cp.vlm_log = log_line;
    }
    if (b->a->jobs == 0)
        b->a->jobs = 1;
    cp.n_threads = (int)b->a->jobs;
    if (quire_converter_new(&cp, &b->conv, &err) != QUIRE_OK)
        return cli_fail("convert", &err);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    conv_args a = {0};
    a.tables = QUIRE_TABLES_AUTO;
    a.images = -1;
    a.jobs = 0; /* not given: 1, or max_workers with --vlm */
    a.max_fallback_share = -1;
    const char **pos = qr_calloc((size_t)(argc > 1 ? argc : 1), sizeof(char *));
    int n_pos = 0;
    if (!pos)
        return EXIT_FAIL;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, argc, &n_pos, help);
    if (rc == 0 && n_pos == 0) {
        fprintf(stderr, "quire convert: no INPUT given (see quire convert --help)\n");
        rc = EXIT_USAGE;
    }
    if (rc) {
        qr_free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    json_set_alloc_funcs(qr_malloc, qr_free);
    conv_batch b;
    memset(&b, 0, sizeof(b));
    b.a = &a;
    pthread_mutex_init(&b.mu, NULL);
    b.tty = isatty(2);
    rc = start(&b, pos, n_pos);
    qr_free(pos);
    if (rc == 0) {
        install_signals();
        b.t0 = qr_now();
        run_batch(&b);
        if (a.report)
            write_report(&b, qr_now() - b.t0);
        rc = exit_status(&b);
        if (!a.quiet && (b.n_jobs > 1 || b.jobs[0].out))
            print_summary(&b);
        if (conv_stop)
            fprintf(stderr, "quire convert: interrupted; finished outputs are complete, "
                            "the others were not written\n");
    }
    free_batch(&b);
    quire_config_free(a.cfg);
    return rc;
}
