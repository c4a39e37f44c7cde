/*
 * convert_plan.c — what `quire convert` will do before it does anything: the inputs
 * (directories walked recursively, `-` spooled from stdin), where each output goes
 * (every input root mirrored under -o), two inputs that would write one file refused
 * up front (exit 2), and the fingerprint sidecar that makes a re-run skip exactly the
 * outputs that a conversion with the same input bytes, options and quire version
 * completed. Outputs are written atomically (temp file, fsync, rename, fsync dir).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert_int.h"
#include "core/core.h"

/* Error lines are cut to fit their fixed buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

volatile int conv_stop;

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
    if (!j->in || !j->rel) {
        qr_free(j->in);
        qr_free(j->rel);
        return -1;
    }
    b->n_jobs++;
    return 0;
}

static int cmp_job(const void *x, const void *y)
{
    return strcmp(((const conv_job *)x)->in, ((const conv_job *)y)->in);
}

/* Walk dir recursively; rel_base is the path below -o. Symlinked directories are not
 * followed (no loops); dot files are skipped (they include our sidecars). */
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

/* The last component of a path, trailing slashes ignored ("papers/" -> "papers");
 * "." and ".." name the directory they stand for. */
static void root_name(const char *path, char *out, size_t cap)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    const char *slash = strrchr(buf, '/');
    const char *base = slash ? slash + 1 : buf;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || !base[0]) {
        char real[4096];
        const char *rs = realpath(path, real) ? strrchr(real, '/') : NULL;
        snprintf(out, cap, "%s", rs && rs[1] ? rs + 1 : "root");
        return;
    }
    snprintf(out, cap, "%s", base);
}

/* What the first bytes say the file is: ".pdf", ".png", ".jpg", ".tif" or NULL. */
static const char *sniff(const unsigned char *p, size_t n)
{
    if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
        return ".pdf";
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return ".png";
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return ".jpg";
    if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
        return ".tif";
    /* a PDF may start with a little junk before its header (readers accept 1 KiB) */
    for (size_t i = 0; i + 5 <= n && i < 1024; i++) {
        if (memcmp(p + i, "%PDF-", 5) == 0)
            return ".pdf";
    }
    return NULL;
}

/* `convert -`: stdin copied to a temp file (MuPDF and Leptonica need to seek), named
 * with the extension its first bytes call for. */
static int spool_stdin(conv_batch *b)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    unsigned char head[1024];
    size_t n_head = 0;
    ssize_t n;
    while (n_head < sizeof(head) &&
           ((n = read(0, head + n_head, sizeof(head) - n_head)) > 0 || (n < 0 && errno == EINTR)))
        n_head += n > 0 ? (size_t)n : 0;
    const char *ext = sniff(head, n_head);
    if (!ext) {
        fprintf(stderr, "quire convert: stdin: %s\n",
                n_head ? "not a PDF, PNG, JPEG or TIFF file" : "no data");
        return EXIT_FAIL;
    }
    snprintf(path, sizeof(path), "%s/quire-stdin-XXXXXX%s", tmpdir && tmpdir[0] ? tmpdir : "/tmp",
             ext);
    int fd = mkstemps(path, (int)strlen(ext));
    if (fd < 0) {
        fprintf(stderr, "quire convert: stdin: cannot create a temp file: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    b->stdin_tmp = qr_strdup(path);
    int ok = b->stdin_tmp != NULL && write(fd, head, n_head) == (ssize_t)n_head;
    char buf[65536];
    while (ok && ((n = read(0, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))) {
        if (n > 0 && write(fd, buf, (size_t)n) != n)
            ok = 0;
    }
    ok = close(fd) == 0 && ok && n == 0;
    if (!ok) {
        fprintf(stderr, "quire convert: stdin: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return 0;
}

int conv_collect(conv_batch *b, const char **pos, int n_pos)
{
    int n_stdin = 0;
    for (int i = 0; i < n_pos; i++)
        n_stdin += strcmp(pos[i], "-") == 0;
    if (n_stdin > 1) {
        fprintf(stderr, "quire convert: '-' (stdin) may be given only once\n");
        return EXIT_USAGE;
    }
    for (int i = 0; i < n_pos; i++) {
        struct stat st;
        char root[1024];
        int first = b->n_jobs;
        if (strcmp(pos[i], "-") == 0) {
            int rc = spool_stdin(b);
            if (rc)
                return rc;
            const char *ext = strrchr(b->stdin_tmp, '.');
            snprintf(root, sizeof(root), "stdin%s", ext);
            if (add_job(b, b->stdin_tmp, root) != 0 || !(b->jobs[first].shown = qr_strdup("-")))
                return EXIT_FAIL;
            continue;
        }
        root_name(pos[i], root, sizeof(root));
        if (stat(pos[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            b->any_dir = 1;
            /* one root: its contents go straight under -o; several: each under its name */
            if (walk_dir(b, pos[i], n_pos > 1 ? root : "") != 0)
                return EXIT_FAIL;
            qsort(b->jobs + first, (size_t)(b->n_jobs - first), sizeof(conv_job), cmp_job);
            continue;
        }
        if (add_job(b, pos[i], root) != 0)
            return EXIT_FAIL;
    }
    return 0;
}

/* ---- outputs ---------------------------------------------------------------------- */

static const char *const format_ext[] = {".md", ".json", ".txt", ".json"};

/* Output name: rel with its extension replaced, under dir. */
static char *out_name(const char *dir, const char *rel, int format)
{
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(rel, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - rel) : strlen(rel);
    size_t n = strlen(dir) + 1 + stem + 6;
    char *s = qr_malloc(n);
    if (s)
        snprintf(s, n, "%s/%.*s%s", dir, (int)stem, rel, format_ext[format]);
    return s;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_out(const void *x, const void *y)
{
    const conv_job *a = *(const conv_job *const *)x, *b = *(const conv_job *const *)y;
    return strcmp(a->out, b->out);
}

/* Two inputs, one output file: refused before any work, naming both. */
static int check_collisions(conv_batch *b)
{
    conv_job **v = qr_malloc((size_t)b->n_jobs * sizeof(*v));
    if (!v)
        return EXIT_FAIL;
    for (int i = 0; i < b->n_jobs; i++)
        v[i] = &b->jobs[i];
    qsort(v, (size_t)b->n_jobs, sizeof(*v), cmp_out);
    int n_bad = 0;
    for (int i = 1; i < b->n_jobs; i++) {
        if (strcmp(v[i - 1]->out, v[i]->out) != 0)
            continue;
        if (n_bad++ < 10)
            fprintf(stderr, "quire convert: %s and %s would both write %s\n",
                    job_name(v[i - 1]), job_name(v[i]), v[i]->out);
    }
    const char *report = b->a->report;
    for (int i = 0; report && i < b->n_jobs; i++) {
        if (strcmp(v[i]->out, report) == 0 && n_bad++ < 10)
            fprintf(stderr, "quire convert: --report %s is also the output of %s\n", report,
                    job_name(v[i]));
    }
    qr_free(v);
    if (!n_bad)
        return 0;
    fprintf(stderr, "quire convert: %d output name collision%s; nothing was converted (rename "
                    "the inputs or convert them to separate -o directories)\n",
            n_bad, n_bad == 1 ? "" : "s");
    return EXIT_USAGE;
}

static int ends_with_slash(const char *s)
{
    size_t n = strlen(s);
    return n && s[n - 1] == '/';
}

int conv_plan(conv_batch *b, int n_pos)
{
    conv_args *a = b->a;
    int single = b->n_jobs == 1 && n_pos == 1 && !b->any_dir;
    if (a->out && strcmp(a->out, "-") == 0) {
        if (b->n_jobs != 1) {
            fprintf(stderr, "quire convert: -o - (stdout) takes one input document, got %d\n",
                    b->n_jobs);
            return EXIT_USAGE;
        }
        return 0;
    }
    if (!a->out) {
        if (single)
            return 0; /* stdout */
        fprintf(stderr, "quire convert: several inputs need -o DIR (see quire convert --help)\n");
        return EXIT_USAGE;
    }
    if (single && !is_dir(a->out) && !ends_with_slash(a->out)) {
        /* -o FILE.json: the extension chooses the format unless --format says otherwise */
        const char *dot = strrchr(a->out, '.');
        const char *slash = strrchr(a->out, '/');
        for (int f = 0; dot && (!slash || dot > slash) && f < 3; f++) {
            if (strcasecmp(dot, format_ext[f]) != 0 && !(f == 0 && strcasecmp(dot, ".markdown") == 0))
                continue;
            if (a->format_set && a->format == QUIRE_FORMAT_GAMEBOOK && f == QUIRE_FORMAT_JSON)
                break; /* gamebook JSON */
            if (a->format_set && a->format != f) {
                static const char *const names[] = {"md", "json", "txt", "gamebook"};
                fprintf(stderr, "quire convert: -o %s does not match --format %s\n", a->out,
                        names[a->format % 4]);
                return EXIT_USAGE;
            }
            a->format = f;
        }
        b->jobs[0].out = qr_strdup(a->out);
        return b->jobs[0].out ? 0 : EXIT_FAIL;
    }
    for (int i = 0; i < b->n_jobs; i++) {
        b->jobs[i].out = out_name(a->out, b->jobs[i].rel, a->format);
        if (!b->jobs[i].out)
            return EXIT_FAIL;
    }
    return check_collisions(b);
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
int conv_write_atomic(const char *path, const char *data, size_t len, char *err, size_t cap)
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
    if (!ok || conv_stop || rename(tmp, path) != 0) {
        snprintf(err, cap, "%s: %s", path, conv_stop ? "interrupted" : strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(path);
    return 0;
}

/* ---- fingerprints ------------------------------------------------------------------- */

int conv_sha256_file(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    qr_sha256 s;
    qr_sha256_init(&s);
    unsigned char buf[65536], d[32];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0)
            qr_sha256_update(&s, buf, (size_t)n);
    }
    close(fd);
    if (n < 0)
        return -1;
    qr_sha256_final(&s, d);
    qr_hex(d, 32, out);
    return 0;
}

char *conv_sidecar_path(const char *out)
{
    const char *slash = strrchr(out, '/');
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    size_t n = strlen(out) + 9;
    char *s = qr_malloc(n);
    if (s)
        snprintf(s, n, "%.*s.%s.quire", (int)dir, out, out + dir);
    return s;
}

/* Every option that changes the output, in one canonical string. --timeout-per-doc,
 * --jobs, --quiet, --report, --allow-empty do not change a complete output. */
static void options_string(const conv_args *a, char *out, size_t cap)
{
    static const char *const formats[] = {"md", "json", "txt", "gamebook"};
    static const char *const modes[] = {"auto", "always", "never"};
    snprintf(out, cap, "format=%s ocr=%s lang=%s dpi=%ld pages=%s max-pages=%ld page-markers=%d",
             formats[a->format % 4], modes[a->ocr % 3], a->lang ? a->lang : "eng", a->dpi,
             a->pages ? a->pages : "all", a->max_pages, a->page_markers);
    if (a->tables != QUIRE_TABLES_AUTO) { /* (absent for the default: old sidecars hold) */
        size_t len = strlen(out);
        snprintf(out + len, cap - len, " tables=%s", a->tables == QUIRE_TABLES_GFM ? "gfm" : "html");
        /* (auto is the CLI's default) */
    }
    if (a->strategy != QUIRE_STRATEGY_AUTO) { /* (absent for the default) */
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " strategy=%s", conv_strategy_names[a->strategy % 4]);
    }
    int images = conv_images_mode(a, "file");
    if (images != QUIRE_IMAGES_NONE) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " images=%s image-dpi=%ld",
                 images == QUIRE_IMAGES_REFS ? "refs" : "embed", a->image_dpi ? a->image_dpi : 150);
    }
    if (a->vlm) { /* the backends' answers change the output */
        static const char *const vm[] = {"never", "auto", "always", "tables", "formulas"};
        size_t n = strlen(out);
        const char *src = a->cfg ? quire_config_source(a->cfg) : NULL;
        snprintf(out + n, cap - n, " vlm=%s config=%s", vm[a->vlm % 5], src ? src : "-");
    }
}

int conv_images_mode(const conv_args *a, const char *out)
{
    if (a->format == QUIRE_FORMAT_TXT || a->format == QUIRE_FORMAT_GAMEBOOK)
        return QUIRE_IMAGES_NONE; /* these formats have no image references */
    if (a->images >= 0)
        return a->images;
    return out ? QUIRE_IMAGES_REFS : QUIRE_IMAGES_NONE;
}

char *conv_sidecar_text(const conv_batch *b, const char *input_sha, const char *output,
                        size_t output_len, const quire_convert_result *res)
{
    char opts[1024], out_sha[65];
    options_string(b->a, opts, sizeof(opts));
    qr_sha256_hex(output, output_len, out_sha);
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:b}", "sidecar_version", 1, "quire",
                          QUIRE_VERSION_STRING, "input_sha256", input_sha, "options", opts,
                          "output_sha256", out_sha, "complete", 1);
    if (o && res && res->n_images > 0) { /* the figure PNGs the output refers to */
        json_t *im = json_array();
        for (int i = 0; i < res->n_images; i++)
            json_array_append_new(im, json_string(res->images[i].name));
        json_object_set_new(o, "images", im);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Every figure PNG the sidecar lists still exists next to the output. */
static int images_present(json_t *side, const char *out)
{
    json_t *im = json_object_get(side, "images");
    const char *slash = strrchr(out, '/');
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    for (size_t i = 0; i < json_array_size(im); i++) {
        const char *name = json_string_value(json_array_get(im, i));
        char path[4096];
        struct stat st;
        if (!name || strchr(name, '/') ||
            snprintf(path, sizeof(path), "%.*s%s", (int)dir, out, name) >= (int)sizeof(path) ||
            stat(path, &st) != 0)
            return 0;
    }
    return 1;
}

int conv_up_to_date(const conv_batch *b, const conv_job *j, char input_sha[65])
{
    input_sha[0] = '\0';
    if (!j->out || conv_sha256_file(j->in, input_sha) != 0)
        return 0;
    char *side = conv_sidecar_path(j->out);
    json_t *o = side ? json_load_file(side, 0, NULL) : NULL;
    qr_free(side);
    if (!o)
        return 0;
    char opts[1024], out_sha[65];
    options_string(b->a, opts, sizeof(opts));
    const char *v_quire = json_string_value(json_object_get(o, "quire"));
    const char *v_in = json_string_value(json_object_get(o, "input_sha256"));
    const char *v_opts = json_string_value(json_object_get(o, "options"));
    const char *v_out = json_string_value(json_object_get(o, "output_sha256"));
    int ok = json_is_true(json_object_get(o, "complete")) && v_quire && v_in && v_opts && v_out &&
             strcmp(v_quire, QUIRE_VERSION_STRING) == 0 && strcmp(v_in, input_sha) == 0 &&
             strcmp(v_opts, opts) == 0;
    /* the output itself must still be the one that conversion wrote */
    ok = ok && conv_sha256_file(j->out, out_sha) == 0 && strcmp(out_sha, v_out) == 0;
    ok = ok && images_present(o, j->out);
    json_decref(o);
    return ok;
}
