/*
 * cmd_convert.c — `quire convert`: PDFs and page images to Markdown / JSON / text, one
 * file or a whole tree. The batch driver: collects inputs (directories walked
 * recursively), maps them to outputs (mirroring the input tree under -o), skips
 * outputs newer than their input, runs up to --jobs documents at once on one shared
 * converter, writes each output atomically (temp file, fsync, rename, fsync dir),
 * prints progress to stderr and an optional JSON report. One bad document never stops
 * the batch: it gets one line naming the file, and the exit status says 3 (partial).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/core.h"

/* Error lines are cut to fit their fixed buffers on purpose (a path of 4 KiB still gives
 * a readable line); GCC cannot tell that from a mistake. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

enum { JOB_PENDING = 0, JOB_OK, JOB_PARTIAL, JOB_FAILED, JOB_SKIPPED };

typedef struct conv_args {
    const char *out;
    const char *lang;
    const char *pages;
    const char *report;
    int format, ocr, force, quiet, page_markers;
    long dpi, max_pages, jobs;
    double timeout_s;
} conv_args;

typedef struct conv_job {
    char *in;
    char *rel;  /* path below its input root (mirrored under -o) */
    char *out;  /* NULL = stdout */
    int state;  /* JOB_* */
    char error[256];
    quire_convert_result *res; /* kept for the report; output freed once written */
    int pages_live;             /* pages finished so far while converting (progress) */
} conv_job;

typedef struct conv_batch {
    conv_args *a;
    conv_job *jobs;
    int n_jobs, cap_jobs;
    quire_converter *conv;
    pthread_mutex_t mu;
    int next;                   /* next job to start */
    int n_done, n_pages, tty;
    int live_pages;             /* pages finished in documents still converting */
    double t0, last_draw;
} conv_batch;

static volatile int g_stop;     /* SIGINT/SIGTERM: no new documents, cancel running ones */

static const cli_opt opts[] = {
    {"output", 'o', 1, "OUT", "output file (one input) or directory (mirrors the input tree)"},
    {"format", 'f', 1, "md|json|txt", "output format (default md)"},
    {"ocr", 0, 1, "auto|always|never", "OCR pages without a usable text layer (default auto)"},
    {"dpi", 0, 1, "N", "OCR rendering resolution (default 300; images: their own)"},
    {"lang", 'l', 1, "LANGS", "Tesseract languages, e.g. eng or deu+eng (default eng)"},
    {"pages", 'p', 1, "LIST", "pages to convert, e.g. 1-3,7,10- (1-based)"},
    {"max-pages", 0, 1, "N", "convert at most N pages per document"},
    {"jobs", 'j', 1, "N", "pages/documents in parallel (default 1)"},
    {"timeout-per-doc", 0, 1, "S", "stop a document after S seconds, keep its finished pages"},
    {"report", 0, 1, "FILE.json", "write a per-document, per-page JSON report"},
    {"page-markers", 0, 0, NULL, "Markdown: write <!-- page N --> before each page's blocks"},
    {"force", 0, 0, NULL, "convert even when the output is newer than the input"},
    {"quiet", 'q', 0, NULL, "no progress on stderr (errors are still printed)"},
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
    static const char *const formats[] = {"md", "json", "txt", NULL};
    static const char *const modes[] = {"auto", "always", "never", NULL};
    conv_args *a = user;
    const char *name = opts[idx].name;
    if (strcmp(name, "output") == 0)
        a->out = val;
    else if (strcmp(name, "format") == 0)
        return pick(name, val, formats, &a->format);
    else if (strcmp(name, "ocr") == 0)
        return pick(name, val, modes, &a->ocr);
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
    else if (strcmp(name, "force") == 0)
        a->force = 1;
    else if (strcmp(name, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

/* ---- inputs ----------------------------------------------------------------------- */

static int is_input_name(const char *name)
{
    static const char *const exts[] = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", NULL};
    const char *dot = strrchr(name, '.');
    for (int i = 0; dot && exts[i]; i++) {
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    }
    return 0;
}

static int add_job(conv_batch *b, const char *in, const char *rel)
{
    if (b->n_jobs == b->cap_jobs) {
        int cap = b->cap_jobs ? b->cap_jobs * 2 : 64;
        conv_job *j = qr_realloc(b->jobs, (size_t)cap * sizeof(*j));
        if (!j)
            return -1;
        b->jobs = j;
        b->cap_jobs = cap;
    }
    conv_job *j = &b->jobs[b->n_jobs];
    memset(j, 0, sizeof(*j));
    j->in = qr_strdup(in);
    j->rel = qr_strdup(rel);
    if (!j->in || !j->rel)
        return -1;
    b->n_jobs++;
    return 0;
}

static int cmp_job(const void *x, const void *y)
{
    return strcmp(((const conv_job *)x)->in, ((const conv_job *)y)->in);
}

/* Walk dir recursively; rel_base is the path below the input root. Symlinked
 * directories are not followed (no loops). */
static int walk_dir(conv_batch *b, const char *dir, const char *rel_base)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "quire convert: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char path[4096], rel[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (qr_path_join(path, sizeof(path), dir, e->d_name) != 0 ||
            (rel_base[0] ? qr_path_join(rel, sizeof(rel), rel_base, e->d_name)
                         : (snprintf(rel, sizeof(rel), "%s", e->d_name) >= (int)sizeof(rel))))
            continue;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(b, path, rel);
        else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && is_input_name(e->d_name))
            rc = add_job(b, path, rel);
    }
    closedir(d);
    return rc;
}

/* Returns 1 if some input was a directory. */
static int collect_inputs(conv_batch *b, const char **pos, int n_pos, int *any_dir)
{
    *any_dir = 0;
    for (int i = 0; i < n_pos; i++) {
        struct stat st;
        int first = b->n_jobs;
        if (stat(pos[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            *any_dir = 1;
            if (walk_dir(b, pos[i], "") != 0)
                return -1;
            qsort(b->jobs + first, (size_t)(b->n_jobs - first), sizeof(conv_job), cmp_job);
            continue;
        }
        const char *base = strrchr(pos[i], '/');
        if (add_job(b, pos[i], base ? base + 1 : pos[i]) != 0)
            return -1;
    }
    return 0;
}

/* Output name: rel with its extension replaced, under dir. */
static char *out_name(const char *dir, const char *rel, int format)
{
    static const char *const ext[] = {".md", ".json", ".txt"};
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(rel, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - rel) : strlen(rel);
    size_t n = strlen(dir) + 1 + stem + 6;
    char *s = qr_malloc(n);
    if (s)
        snprintf(s, n, "%s/%.*s%s", dir, (int)stem, rel, ext[format]);
    return s;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Decide where each job writes. Returns 0 or EXIT_USAGE. */
static int plan_outputs(conv_batch *b, int any_dir)
{
    const conv_args *a = b->a;
    int single = b->n_jobs == 1 && !any_dir;
    if (single && !a->out)
        return 0; /* stdout */
    if (!a->out) {
        fprintf(stderr, "quire convert: several inputs need -o DIR (see quire convert --help)\n");
        return EXIT_USAGE;
    }
    if (single && !is_dir(a->out)) {
        b->jobs[0].out = qr_strdup(a->out);
        return b->jobs[0].out ? 0 : EXIT_FAIL;
    }
    for (int i = 0; i < b->n_jobs; i++) {
        b->jobs[i].out = out_name(a->out, b->jobs[i].rel, a->format);
        if (!b->jobs[i].out)
            return EXIT_FAIL;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

static int mkdir_parents(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Temp files of runs that were killed (-9) cannot remove themselves: drop those of
 * this output whose writer process is gone. */
static void clean_stale_tmp(const char *out)
{
    char dir[4096];
    const char *slash = strrchr(out, '/');
    const char *base = slash ? slash + 1 : out;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0)
            continue;
        long pid = strtol(e->d_name + blen + 5, NULL, 10);
        if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char p[4096];
            if (qr_path_join(p, sizeof(p), dir, e->d_name) == 0)
                unlink(p);
        }
    }
    closedir(d);
}

static int fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* temp file in the same directory -> fsync -> rename -> fsync dir: a reader (or a
 * re-run after a crash) sees either the old file or the whole new one. */
static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t cap)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (mkdir_parents(path) != 0) {
        snprintf(err, cap, "%s: cannot create its directory: %s", path, strerror(errno));
        return -1;
    }
    clean_stale_tmp(path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int ok = off == len && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || g_stop || rename(tmp, path) != 0) {
        snprintf(err, cap, "%s: %s", path, g_stop ? "interrupted" : strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(path);
    return 0;
}

/* Output newer than input (and --force not given): nothing to do. */
static int up_to_date(const char *in, const char *out)
{
    struct stat si, so;
    if (stat(in, &si) != 0 || stat(out, &so) != 0)
        return 0;
    if (so.st_mtim.tv_sec != si.st_mtim.tv_sec)
        return so.st_mtim.tv_sec > si.st_mtim.tv_sec;
    return so.st_mtim.tv_nsec > si.st_mtim.tv_nsec;
}

/* ---- progress ------------------------------------------------------------------------- */

static void count_methods(const quire_convert_result *r, int *text, int *ocr, int *failed)
{
    *text = *ocr = *failed = 0;
    for (int i = 0; r && i < r->n_reports; i++) {
        int m = r->reports[i].method;
        *text += m == QUIRE_METHOD_TEXT;
        *ocr += m == QUIRE_METHOD_OCR;
        *failed += m == QUIRE_METHOD_FAILED;
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
    if (!b->a->quiet && !b->tty) {
        if (j->state == JOB_SKIPPED)
            fprintf(stderr, "quire convert: %s: skipped (output is newer; --force redoes it)\n",
                    j->in);
        else if (j->res && j->state != JOB_FAILED)
            fprintf(stderr, "quire convert: %s: %d pages (text %d, ocr %d, failed %d) in %.1f s\n",
                    j->in, j->res->n_reports, text, ocr, failed, secs);
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

static void write_output(conv_batch *b, conv_job *j)
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
    if (write_atomic(j->out, r->output, r->output_len, e, sizeof(e)) != 0) {
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
    double t0 = qr_now();
    if (j->out && !a->force && up_to_date(j->in, j->out)) {
        j->state = JOB_SKIPPED;
        return;
    }
    quire_convert_params p = quire_convert_default_params();
    p.ocr = a->ocr;
    p.format = a->format;
    p.page_markers = a->page_markers;
    p.dpi = (int)a->dpi;
    p.pages = a->pages;
    p.max_pages = (int)a->max_pages;
    p.timeout_s = a->timeout_s;
    p.abort_flag = (volatile int *)&g_stop;
    progress_ctx pc = {b, j};
    p.progress = on_progress;
    p.progress_user_data = &pc;
    quire_error err = {0};
    quire_status st = quire_convert_file(b->conv, j->in, &p, &j->res, &err);
    if (st != QUIRE_OK)
        copy_err(j->error, sizeof(j->error), err.msg[0] ? err.msg : quire_status_str(st));
    quire_convert_result *r = j->res;
    if (g_stop || !r || !r->output || r->n_failed == r->n_reports) {
        j->state = JOB_FAILED;
    } else {
        j->state = st == QUIRE_OK ? JOB_OK : JOB_PARTIAL;
        write_output(b, j);
    }
    if (r) {
        qr_free(r->output); /* the report only needs the page records */
        r->output = NULL;
    }
    (void)t0;
}

static void *job_thread(void *arg)
{
    conv_batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int i = g_stop ? b->n_jobs : b->next++;
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

static json_t *page_json(const quire_page_report *r)
{
    static const char *const methods[] = {"text", "ocr", "failed"};
    json_t *o = json_object();
    json_object_set_new(o, "page", json_integer(r->page));
    json_object_set_new(o, "method", json_string(methods[r->method % 3]));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "ms", json_real(r->ms));
    json_object_set_new(o, "chars", json_integer(r->chars));
    json_object_set_new(o, "conf", r->conf >= 0 ? json_real(r->conf) : json_null());
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    return o;
}

static json_t *doc_json(const conv_job *j)
{
    json_t *o = json_object(), *pages = json_array(), *warn = json_array();
    const quire_convert_result *r = j->res;
    json_object_set_new(o, "path", json_string(j->in));
    json_object_set_new(o, "output", j->out ? json_string(j->out) : json_null());
    json_object_set_new(o, "status", json_string(state_name(j->state)));
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    json_object_set_new(o, "n_pages", r ? json_integer(r->n_pages) : json_null());
    json_object_set_new(o, "ms", r ? json_real(r->ms) : json_null());
    for (int i = 0; r && i < r->n_reports; i++)
        json_array_append_new(pages, page_json(&r->reports[i]));
    if (r && r->warning[0])
        json_array_append_new(warn, json_string(r->warning));
    json_object_set_new(o, "pages", pages);
    json_object_set_new(o, "warnings", warn);
    return o;
}

static int write_report(const conv_batch *b, double secs)
{
    json_t *root = json_object(), *docs = json_array();
    long pages = 0, failed_pages = 0;
    int n_state[5] = {0};
    for (int i = 0; i < b->n_jobs; i++) {
        const conv_job *j = &b->jobs[i];
        n_state[j->state]++;
        json_array_append_new(docs, doc_json(j));
        for (int k = 0; j->res && k < j->res->n_reports; k++) {
            pages++;
            failed_pages += j->res->reports[k].method == QUIRE_METHOD_FAILED;
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
    json_object_set_new(t, "seconds", json_real(secs));
    json_object_set_new(t, "pages_per_s", json_real(secs > 0 ? (pages - failed_pages) / secs : 0));
    json_object_set_new(t, "peak_rss_kb", json_integer(ru.ru_maxrss));
    json_object_set_new(root, "documents", docs);
    json_object_set_new(root, "totals", t);
    char *s = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    char e[256];
    int rc = s ? write_atomic(b->a->report, s, strlen(s), e, sizeof(e)) : -1;
    if (rc != 0)
        fprintf(stderr, "quire convert: report: %s\n", s ? e : "out of memory");
    qr_free(s); /* jansson allocates through qr_malloc (json_set_alloc_funcs) */
    return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
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
        int s = b->jobs[i].state;
        ok += s == JOB_OK || s == JOB_SKIPPED || s == JOB_PARTIAL;
        bad += s == JOB_FAILED || s == JOB_PARTIAL || s == JOB_PENDING;
    }
    if (g_stop)
        return EXIT_FAIL;
    if (bad == 0)
        return EXIT_OK;
    return ok > 0 ? EXIT_PARTIAL : EXIT_FAIL;
}

static void free_batch(conv_batch *b)
{
    for (int i = 0; i < b->n_jobs; i++) {
        qr_free(b->jobs[i].in);
        qr_free(b->jobs[i].rel);
        qr_free(b->jobs[i].out);
        quire_convert_result_free(b->jobs[i].res);
    }
    qr_free(b->jobs);
    quire_converter_free(b->conv);
    pthread_mutex_destroy(&b->mu);
}

static int start(conv_batch *b, const char **pos, int n_pos)
{
    int any_dir = 0;
    if (collect_inputs(b, pos, n_pos, &any_dir) != 0)
        return EXIT_FAIL;
    if (b->n_jobs == 0) {
        fprintf(stderr, "quire convert: no PDF or image files found in the inputs\n");
        return EXIT_FAIL;
    }
    int rc = plan_outputs(b, any_dir);
    if (rc)
        return rc;
    quire_error err = {0};
    quire_converter_params cp = quire_converter_default_params();
    cp.n_threads = (int)b->a->jobs;
    cp.lang = b->a->lang;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_converter_new(&cp, &b->conv, &err) != QUIRE_OK)
        return cli_fail("convert", &err);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    conv_args a = {0};
    a.jobs = 1;
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
        if (g_stop)
            fprintf(stderr, "quire convert: interrupted; finished outputs are complete, "
                            "the others were not written\n");
    }
    free_batch(&b);
    return rc;
}
