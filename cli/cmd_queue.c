/*
 * cmd_queue.c — scale-out on PostgreSQL: `quire enqueue` (one job per document),
 * `quire worker` (claims and ingests jobs into the shared store; many may run on many
 * machines) and `quire status` (the queue's counts). The work is in src/store/pg.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/core.h"
#include "store/store_pg.h"

static int need_pg_url(const char *cmd, const char *db)
{
    if (!db) {
        fprintf(stderr, "quire %s: --db postgresql://... is required (see --help)\n", cmd);
        return EXIT_USAGE;
    }
    if (!qr_pg_is_url(db)) {
        fprintf(stderr, "quire %s: --db %s: not a PostgreSQL URL (postgresql://USER@HOST/DB, "
                        "or postgresql:// with the PG* variables); the queue lives in "
                        "PostgreSQL only\n", cmd, db);
        return EXIT_USAGE;
    }
    return 0;
}

static void print_line(void *ud, const char *line)
{
    fprintf(stderr, "%s%s\n", (const char *)ud, line);
}

/* ---- quire enqueue ------------------------------------------------------------------ */

static const cli_opt enq_opts[] = {
    {"db", 0, 1, "URL", "the PostgreSQL database (postgresql://USER@HOST/DB; schema "
                        "created/migrated on first use)"},
    {"collection", 'c', 1, "NAME", "collection the documents go into (default: default)"},
    {"max-attempts", 0, 1, "N", "attempts before a job is failed for good (default 5)"},
    {"priority", 0, 1, "N", "lower runs first (default 0)"},
    {"quiet", 'q', 0, NULL, "no summary on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static void enq_help(FILE *out)
{
    fprintf(out,
            "usage: quire enqueue --db postgresql://... [-c NAME] INPUT...\n\n"
            "Queue one job per document (PDFs, images, .md, .txt; directories are searched\n"
            "recursively) for `quire worker`s. A job is keyed by collection, canonical path\n"
            "and sha256: re-enqueueing an unchanged file is a no-op. The paths must be the\n"
            "same on every worker machine (a shared or object-store mount).\n\n"
            "options:\n");
    cli_print_opts(out, enq_opts);
    fprintf(out, "\nexit status: 0 ok, 1 failure, 2 usage error, 3 some inputs unreadable\n");
}

typedef struct enq_args {
    const char *db, *collection;
    long max_attempts, priority;
    int quiet;
} enq_args;

static int enq_on_opt(int idx, const char *val, void *user)
{
    enq_args *a = user;
    const char *n = enq_opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "collection") == 0)
        a->collection = val;
    else if (strcmp(n, "max-attempts") == 0)
        return cli_int("enqueue", n, val, 1, 100, &a->max_attempts) ? EXIT_USAGE : 0;
    else if (strcmp(n, "priority") == 0)
        return cli_int("enqueue", n, val, -1000000, 1000000, &a->priority) ? EXIT_USAGE : 0;
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

typedef struct path_list {
    char **p;
    int n, cap;
} path_list;

static int push(path_list *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **t = qr_realloc(l->p, (size_t)cap * sizeof(*t));
        if (!t)
            return -1;
        l->p = t;
        l->cap = cap;
    }
    return (l->p[l->n] = qr_strdup(s)) ? (l->n++, 0) : -1;
}

static int ingestible(const char *name)
{
    static const char *const exts[] = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
                                       ".md", ".markdown", ".txt", NULL};
    const char *dot = strrchr(name, '.');
    for (int i = 0; dot && exts[i]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(path_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "quire enqueue: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int first = l->n, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.' || qr_path_join(path, sizeof path, dir, e->d_name) != 0 ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(l, path);
        else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && ingestible(e->d_name))
            rc = push(l, path);
    }
    closedir(d);
    if (l->n > first) /* an empty directory: l->p may still be NULL */
        qsort(l->p + first, (size_t)(l->n - first), sizeof(char *), cmp_str);
    return rc;
}

int cmd_enqueue(int argc, char **argv)
{
    enq_args a;
    memset(&a, 0, sizeof a);
    const char **pos = qr_calloc((size_t)argc + 1, sizeof(char *));
    int n_pos = 0;
    if (!pos)
        return EXIT_FAIL;
    int rc = cli_parse(argc, argv, enq_opts, enq_on_opt, &a, pos, argc, &n_pos, enq_help);
    if (rc == 0 && (rc = need_pg_url("enqueue", a.db)) == 0 && n_pos == 0) {
        fprintf(stderr, "quire enqueue: no INPUT given (see --help)\n");
        rc = EXIT_USAGE;
    }
    if (rc != 0) {
        qr_free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    path_list l = {NULL, 0, 0};
    int unreadable = 0, exit_code = EXIT_OK;
    for (int i = 0; i < n_pos; i++) {
        struct stat st;
        if (stat(pos[i], &st) != 0) {
            fprintf(stderr, "quire enqueue: %s: %s\n", pos[i], strerror(errno));
            unreadable++;
        } else if (S_ISDIR(st.st_mode) ? walk(&l, pos[i]) : push(&l, pos[i])) {
            exit_code = EXIT_FAIL;
            goto out;
        }
    }
    qr_enqueue_params p = {a.collection, (int)a.max_attempts, (int)a.priority, print_line,
                           (void *)"quire enqueue: "};
    qr_enqueue_result r;
    quire_error err = {0, ""};
    if (qr_pg_enqueue(a.db, &p, (const char *const *)l.p, l.n, &r, &err) != QUIRE_OK) {
        exit_code = cli_fail("enqueue", &err);
        goto out;
    }
    if (!a.quiet)
        fprintf(stderr, "enqueue: %d jobs queued into '%s', %d already queued or stored "
                        "unchanged, %d unreadable\n",
                r.added, a.collection ? a.collection : "default", r.skipped,
                r.failed + unreadable);
    if (r.failed + unreadable)
        exit_code = EXIT_PARTIAL;
out:
    for (int i = 0; i < l.n; i++)
        qr_free(l.p[i]);
    qr_free(l.p);
    qr_free(pos);
    return exit_code;
}

/* ---- quire worker ------------------------------------------------------------------- */

static const cli_opt wk_opts[] = {
    {"db", 0, 1, "URL", "the PostgreSQL database of the queue and the store"},
    {"model", 'm', 1, "DIR", "embedding model folder (every worker of a collection needs the "
                            "same); without it collections are text-only"},
    {"precision", 0, 1, "fp32|bf16|int8", "arithmetic of the linear layers (default fp32)"},
    {"jobs", 'j', 1, "N", "documents in parallel (default 1)"},
    {"ocr", 0, 1, "auto|always|never", "OCR pages without a usable text layer (default auto)"},
    {"lang", 'l', 1, "LANGS", "Tesseract languages (default eng)"},
    {"lease", 0, 1, "SECONDS", "a running job whose worker sent no heartbeat for this long "
                               "is given to another worker (default 30; heartbeat every "
                               "third of it)"},
    {"poll", 0, 1, "SECONDS", "look for work this often when no NOTIFY arrives (default 2)"},
    {"retry-base", 0, 1, "SECONDS", "delay before the first retry of a transient error, "
                                    "doubled each attempt, +-25 % jitter (default 30)"},
    {"connect-wait", 0, 1, "SECONDS", "at start, wait this long for an unreachable database "
                                      "(retrying with backoff) before failing (default 60)"},
    {"drain", 0, 0, NULL, "exit once no job is queued or running (batch runs, tests)"},
    {"quiet", 'q', 0, NULL, "no line per job on stderr (errors are still printed)"},
    {NULL, 0, 0, NULL, NULL},
};

static void wk_help(FILE *out)
{
    fprintf(out,
            "usage: quire worker --db postgresql://... [--model DIR] [--jobs N]\n\n"
            "Claim jobs queued by `quire enqueue` and ingest them (convert, chunk, embed)\n"
            "into the store in PostgreSQL; run one per machine (or several). Each document's\n"
            "rows commit with its job's completion, fenced by worker and attempt, so a job\n"
            "is stored once even when a worker dies or stalls and another takes it over.\n"
            "Transient errors are retried with backoff, corrupt or unsupported files fail\n"
            "at once. SIGTERM/SIGINT: finish the documents in hand, then exit 0.\n\n"
            "options:\n");
    cli_print_opts(out, wk_opts);
    fprintf(out, "\nexit status: 0 ok (stopped or drained), 1 failure, 2 usage error\n");
}

typedef struct wk_args {
    const char *db, *model, *ocr, *lang;
    long jobs;
    double lease, poll, retry_base, connect_wait;
    int drain, quiet, precision, precision_set;
} wk_args;

static int secs(const char *name, const char *val, double lo, double *out)
{
    char *end = NULL;
    double v = strtod(val, &end);
    if (end == val || *end || !(v >= lo) || v > 86400) {
        fprintf(stderr, "quire worker: --%s: '%s' is not a number of seconds in [%g, 86400]\n",
                name, val, lo);
        return EXIT_USAGE;
    }
    *out = v;
    return 0;
}

static int wk_on_opt(int idx, const char *val, void *user)
{
    wk_args *a = user;
    const char *n = wk_opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "precision") == 0) {
        a->precision_set = 1;
        return cli_precision("worker", val, &a->precision) ? EXIT_USAGE : 0;
    } else if (strcmp(n, "jobs") == 0)
        return cli_int("worker", n, val, 1, 64, &a->jobs) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ocr") == 0) {
        if (strcmp(val, "auto") && strcmp(val, "always") && strcmp(val, "never")) {
            fprintf(stderr, "quire worker: --ocr: '%s' is not auto, always or never\n", val);
            return EXIT_USAGE;
        }
        a->ocr = val;
    } else if (strcmp(n, "lang") == 0)
        a->lang = val;
    else if (strcmp(n, "lease") == 0)
        return secs(n, val, 0.3, &a->lease);
    else if (strcmp(n, "poll") == 0)
        return secs(n, val, 0.01, &a->poll);
    else if (strcmp(n, "retry-base") == 0)
        return secs(n, val, 0.001, &a->retry_base);
    else if (strcmp(n, "connect-wait") == 0)
        return secs(n, val, 0.001, &a->connect_wait);
    else if (strcmp(n, "drain") == 0)
        a->drain = 1;
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

static volatile sig_atomic_t g_wk_stop;
static void wk_on_signal(int sig)
{
    (void)sig;
    g_wk_stop = 1;
}

static void wk_line(void *ud, const char *line)
{
    const wk_args *a = ud;
    /* with --quiet only what went wrong */
    if (a->quiet && !strstr(line, "failed") && !strstr(line, "lost") && !strstr(line, "retry") &&
        !strstr(line, "giving up"))
        return;
    fprintf(stderr, "%s\n", line);
}

int cmd_worker(int argc, char **argv)
{
    wk_args a;
    memset(&a, 0, sizeof a);
    a.jobs = 1;
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, wk_opts, wk_on_opt, &a, pos, 0, &n_pos, wk_help);
    if (rc == 0)
        rc = need_pg_url("worker", a.db);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    quire_error err = {0, ""};
    quire_model *model = NULL;
    quire_converter *conv = NULL;
    int exit_code = EXIT_OK;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK)
        return cli_fail("worker", &err);
    quire_collection_params cp = quire_collection_default_params();
    if (a.model) {
        quire_model_params mp = quire_model_default_params();
        mp.precision = a.precision;
        if (quire_model_open(a.model, &mp, &model, &err) != QUIRE_OK)
            return cli_fail("worker", &err);
        /* new collections: what `quire ingest` would create for this model */
        int max = quire_model_max_tokens(model);
        if (max && max < 256)
            cp.chunk_tokens = max;
        static const char *const doc_names[] = {"document", "passage", "search_document"};
        static const char *const query_names[] = {"query", "search_query"};
        for (size_t i = 0; !cp.doc_prefix && i < QR_ARRAY_LEN(doc_names); i++)
            cp.doc_prefix = quire_model_prompt(model, doc_names[i]);
        for (size_t i = 0; !cp.query_prefix && i < QR_ARRAY_LEN(query_names); i++)
            cp.query_prefix = quire_model_prompt(model, query_names[i]);
    }
    quire_converter_params cvp = quire_converter_default_params();
    cvp.n_threads = (int)a.jobs;
    cvp.lang = a.lang;
    if (quire_converter_new(&cvp, &conv, &err) != QUIRE_OK)
        conv = NULL; /* a build without conversion still takes Markdown and text */
    quire_convert_params cv = quire_convert_default_params();
    if (a.ocr)
        cv.ocr = strcmp(a.ocr, "always") == 0  ? QUIRE_OCR_ALWAYS
                 : strcmp(a.ocr, "never") == 0 ? QUIRE_OCR_NEVER
                                               : QUIRE_OCR_AUTO;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wk_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    qr_worker_params p;
    memset(&p, 0, sizeof p);
    p.url = a.db;
    p.model = model;
    p.converter = conv;
    p.convert = &cv;
    p.create = &cp;
    p.jobs = (int)a.jobs;
    p.lease_s = a.lease;
    p.poll_s = a.poll;
    p.retry_base_s = a.retry_base;
    p.connect_wait_s = a.connect_wait;
    p.drain = a.drain;
    p.report = wk_line;
    p.ud = &a;
    p.stop = &g_wk_stop;
    qr_worker_stats st;
    double t0 = qr_now();
    if (qr_pg_worker_run(&p, &st, &err) != QUIRE_OK)
        exit_code = cli_fail("worker", &err);
    else if (!a.quiet)
        fprintf(stderr, "worker %ld: %ld done, %ld unchanged, %ld retried, %ld failed, %ld "
                        "lost leases, %.1f s%s\n",
                st.worker_id, st.done, st.unchanged, st.retried, st.failed, st.lost,
                qr_now() - t0, g_wk_stop ? " (stopped by signal)" : "");
    quire_converter_free(conv);
    quire_model_close(model);
    return exit_code;
}

/* ---- quire status ------------------------------------------------------------------- */

static const cli_opt st_opts[] = {
    {"db", 0, 1, "URL", "the PostgreSQL database of the queue"},
    {"json", 0, 0, NULL, "one JSON object instead of text"},
    {NULL, 0, 0, NULL, NULL},
};

static void st_help(FILE *out)
{
    fprintf(out, "usage: quire status --db postgresql://... [--json]\n\n"
                 "The queue's jobs by state, workers alive, documents/chunks/vectors stored,\n"
                 "documents per second over the last minute, and the latest errors.\n\n"
                 "options:\n");
    cli_print_opts(out, st_opts);
}

typedef struct st_args {
    const char *db;
    int json;
} st_args;

static int st_on_opt(int idx, const char *val, void *user)
{
    st_args *a = user;
    if (strcmp(st_opts[idx].name, "db") == 0)
        a->db = val;
    else
        a->json = 1;
    return 0;
}

int cmd_status(int argc, char **argv)
{
    st_args a = {NULL, 0};
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, st_opts, st_on_opt, &a, pos, 0, &n_pos, st_help);
    if (rc == 0)
        rc = need_pg_url("status", a.db);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    quire_error err = {0, ""};
    char *js = NULL;
    if (qr_pg_status(a.db, &js, &err) != QUIRE_OK)
        return cli_fail("status", &err);
    if (a.json) {
        printf("%s\n", js);
        qr_free(js);
        return EXIT_OK;
    }
    json_t *o = json_loads(js, 0, NULL);
    qr_free(js);
    if (!o)
        return EXIT_FAIL;
    json_t *j = json_object_get(o, "jobs");
    printf("jobs: %lld queued (%lld retrying), %lld running, %lld done, %lld failed\n",
           (long long)json_integer_value(json_object_get(j, "queued")),
           (long long)json_integer_value(json_object_get(o, "retrying")),
           (long long)json_integer_value(json_object_get(j, "running")),
           (long long)json_integer_value(json_object_get(j, "done")),
           (long long)json_integer_value(json_object_get(j, "failed")));
    printf("workers alive: %lld\n", (long long)json_integer_value(json_object_get(o, "workers_alive")));
    printf("documents: %lld, chunks: %lld, vectors: %lld\n",
           (long long)json_integer_value(json_object_get(o, "documents")),
           (long long)json_integer_value(json_object_get(o, "chunks")),
           (long long)json_integer_value(json_object_get(o, "vectors")));
    printf("docs/s (last 60 s): %.2f\n", json_real_value(json_object_get(o, "docs_per_s")));
    printf("oldest ready job waiting: %.1f s\n",
           json_real_value(json_object_get(o, "oldest_ready_s")));
    json_t *errs = json_object_get(o, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "replicas"), i, e)
    {
        printf("replica %s: feed lag %.1f s (horizon %s, reported %.1f s ago)\n",
               json_string_value(json_object_get(e, "name")),
               json_real_value(json_object_get(e, "feed_lag_s")),
               json_string_value(json_object_get(e, "horizon")),
               json_real_value(json_object_get(e, "seen_s_ago")));
    }
    json_array_foreach(errs, i, e)
    {
        printf("error: job %lld %s (attempt %lld, %s): %s\n",
               (long long)json_integer_value(json_object_get(e, "job")),
               json_string_value(json_object_get(e, "path")),
               (long long)json_integer_value(json_object_get(e, "attempt")),
               json_string_value(json_object_get(e, "state")),
               json_string_value(json_object_get(e, "error")));
    }
    json_decref(o);
    return EXIT_OK;
}
