/*
 * cmd_ingest.c — `quire ingest`: files and directories into a collection of a store.
 * Each document is converted, chunked, embedded and committed on its own (atomic), by
 * up to --jobs workers; unchanged files are skipped by content hash, changed ones
 * replaced. One bad document never stops the batch: it gets one line naming it and the
 * exit status says 3. SIGINT/SIGTERM stop after the documents in progress (committed
 * work is kept; a re-run finishes the rest).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <limits.h>

#include "cli.h"
#include "core/core.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

typedef struct ing_args {
    const char *db, *collection, *model, *lang, *ocr;
    const char *doc_prefix, *query_prefix, *root, *id, *meta_file;
    json_t *meta;      /* --meta k=v pairs (an object; NULL = none) */
    json_t *meta_by;   /* --meta-file: realpath -> object */
    long jobs, chunk_tokens, overlap, hnsw_m, ef_c, ef_s;
    int force, quiet, overlap_set, prune;
    int precision, precision_set;
} ing_args;

static const cli_opt opts[] = {
    {"db", 0, 1, "PATH|URL", "the store file (created when missing), or a PostgreSQL store "
                             "(postgresql://USER@HOST/DB; postgresql:// uses the PG* variables)"},
    {"collection", 'c', 1, "NAME", "collection (default: default; created on first use)"},
    {"model", 'm', 1, "DIR", "embedding model folder; without it the collection is text-only "
                            "(BM25)"},
    {"precision", 0, 1, "fp32|bf16|int8", "arithmetic of the linear layers (default: the collection's, else fp32; docs/precision.md)"},
    {"jobs", 'j', 1, "N", "documents in parallel (default 1)"},
    {"chunk-tokens", 0, 1, "N", "chunk size in model tokens (default 256; new collections)"},
    {"overlap", 0, 1, "N", "tokens shared by consecutive chunks (default 32; 0 = none)"},
    {"ocr", 0, 1, "auto|always|never", "OCR pages without a usable text layer (default auto)"},
    {"lang", 'l', 1, "LANGS", "Tesseract languages (default eng)"},
    {"hnsw-m", 0, 1, "N", "HNSW links per node (default 16; new collections)"},
    {"ef-construction", 0, 1, "N", "HNSW build candidate list (default 200)"},
    {"ef-search", 0, 1, "N", "HNSW search candidate list (default 64)"},
    {"doc-prefix", 0, 1, "STR", "text prepended to chunks before embedding (e.g. "
                                "\"search_document: \")"},
    {"query-prefix", 0, 1, "STR", "text prepended to queries before embedding"},
    {"root", 0, 1, "DIR", "key documents by their path relative to DIR (the store stays "
                          "valid when the tree moves); default: the canonical absolute path"},
    {"id", 0, 1, "ID", "record the (single) input under this document id instead of its path"},
    {"meta", 0, 2, "K=V", "metadata for every input (repeatable; numbers and true/false are "
                          "typed; --meta-file and FILE.meta.json sidecars add per-file keys)"},
    {"meta-file", 0, 1, "FILE", "JSONL of {\"path\": P, \"metadata\": {...}} per document"},
    {"prune", 0, 0, NULL, "remove the collection's documents whose files are gone"},
    {"force", 0, 0, NULL, "re-ingest documents even when their content is unchanged"},
    {"quiet", 'q', 0, NULL, "no progress on stderr (errors are still printed)"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: quire ingest --db PATH [--collection NAME] [--model DIR] INPUT...\n\n"
            "Convert, chunk, embed and store documents: PDFs and page images (converted like\n"
            "quire convert), Markdown (.md) and text (.txt) files; directories are searched\n"
            "recursively. Each document is committed atomically; unchanged files are skipped\n"
            "(sha256), changed files replace their old chunks. Without --model the collection\n"
            "is text-only and searched with BM25.\n\n"
            "options:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexit status: 0 ok, 1 failure, 2 usage error, 3 some documents failed\n"
                 "examples:\n  quire ingest --db papers.db --collection papers "
                 "--model all-MiniLM-L6-v2 --jobs 2 papers/\n"
                 "  quire ingest --db postgresql://quire@db.example/quire -c papers "
                 "--model all-MiniLM-L6-v2 papers/\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    ing_args *a = user;
    const char *n = opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "collection") == 0)
        a->collection = val;
    else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "precision") == 0) {
        a->precision_set = 1;
        return cli_precision("ingest", val, &a->precision) ? EXIT_USAGE : 0;
    } else if (strcmp(n, "jobs") == 0)
        return cli_int("ingest", n, val, 1, 64, &a->jobs) ? EXIT_USAGE : 0;
    else if (strcmp(n, "chunk-tokens") == 0)
        return cli_int("ingest", n, val, 16, 8192, &a->chunk_tokens) ? EXIT_USAGE : 0;
    else if (strcmp(n, "overlap") == 0) {
        a->overlap_set = 1;
        if (strcmp(val, "0") == 0) {
            a->overlap = -1;
            return 0;
        }
        return cli_int("ingest", n, val, 1, 4096, &a->overlap) ? EXIT_USAGE : 0;
    } else if (strcmp(n, "ocr") == 0) {
        if (strcmp(val, "auto") && strcmp(val, "always") && strcmp(val, "never")) {
            fprintf(stderr, "quire ingest: --ocr: '%s' is not auto, always or never\n", val);
            return EXIT_USAGE;
        }
        a->ocr = val;
    } else if (strcmp(n, "lang") == 0)
        a->lang = val;
    else if (strcmp(n, "hnsw-m") == 0)
        return cli_int("ingest", n, val, 2, 128, &a->hnsw_m) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ef-construction") == 0)
        return cli_int("ingest", n, val, 8, 4096, &a->ef_c) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ef-search") == 0)
        return cli_int("ingest", n, val, 1, 4096, &a->ef_s) ? EXIT_USAGE : 0;
    else if (strcmp(n, "doc-prefix") == 0)
        a->doc_prefix = val;
    else if (strcmp(n, "query-prefix") == 0)
        a->query_prefix = val;
    else if (strcmp(n, "root") == 0)
        a->root = val;
    else if (strcmp(n, "id") == 0)
        a->id = val;
    else if (strcmp(n, "force") == 0)
        a->force = 1;
    else if (strcmp(n, "prune") == 0)
        a->prune = 1;
    else if (strcmp(n, "meta-file") == 0)
        a->meta_file = val;
    else if (strcmp(n, "meta") == 0) {
        const char *eq = strchr(val, '=');
        if (!eq || eq == val) {
            fprintf(stderr, "quire ingest: --meta: '%s' is not KEY=VALUE\n", val);
            return EXIT_USAGE;
        }
        if (!a->meta && !(a->meta = json_object()))
            return EXIT_FAIL;
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        if (!v || !(json_is_number(v) || json_is_boolean(v))) {
            json_decref(v);
            v = json_string(eq + 1);
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - val), val);
        if (!v || json_object_set_new(a->meta, key, v) != 0) {
            fprintf(stderr, "quire ingest: --meta: '%s' is not valid UTF-8\n", val);
            return EXIT_USAGE;
        }
    }
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

/* ---- inputs ----------------------------------------------------------------------- */

typedef struct file_list {
    char **paths;
    int n, cap;
} file_list;

static int is_ingestible(const char *name)
{
    static const char *const exts[] = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
                                       ".md", ".markdown", ".txt", NULL};
    const char *dot = strrchr(name, '.');
    for (int i = 0; dot && exts[i]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int add_file(file_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **t = qr_realloc(l->paths, (size_t)cap * sizeof(*t));
        if (!t)
            return -1;
        l->paths = t;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = qr_strdup(p)))
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(file_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "quire ingest: %s: %s\n", dir, strerror(errno));
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
        else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && is_ingestible(e->d_name))
            rc = add_file(l, path);
    }
    closedir(d);
    qsort(l->paths + first, (size_t)(l->n - first), sizeof(char *), cmp_str);
    return rc;
}

/* ---- metadata ----------------------------------------------------------------------- */

/* --meta-file: one JSON object per line, {"path": P, "metadata": {...}}; paths relative to
 * the current directory. Returns 0, or EXIT_USAGE after an error naming the line. */
static int load_meta_file(ing_args *a)
{
    FILE *f = fopen(a->meta_file, "r");
    if (!f) {
        fprintf(stderr, "quire ingest: --meta-file %s: %s\n", a->meta_file, strerror(errno));
        return EXIT_USAGE;
    }
    a->meta_by = json_object();
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        json_error_t je;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        json_t *p = j ? json_object_get(j, "path") : NULL;
        json_t *m = j ? json_object_get(j, "metadata") : NULL;
        char real[PATH_MAX];
        if (!j || !json_is_string(p) || !json_is_object(m)) {
            fprintf(stderr, "quire ingest: --meta-file %s:%d: %s\n", a->meta_file, lineno,
                    !j ? je.text : "expected {\"path\": \"...\", \"metadata\": {...}}");
            rc = EXIT_USAGE;
        } else if (!realpath(json_string_value(p), real)) {
            fprintf(stderr, "quire ingest: --meta-file %s:%d: %s: %s\n", a->meta_file, lineno,
                    json_string_value(p), strerror(errno));
            rc = EXIT_USAGE;
        } else {
            json_object_set(a->meta_by, real, m);
        }
        json_decref(j);
    }
    free(line); /* lint-allow: free (getline) */
    fclose(f);
    return rc;
}

/* The metadata for one input: its FILE.meta.json sidecar, then its --meta-file entry, then
 * --meta (later ones win per key). *out: JSON text (free()), or NULL when there is none.
 * Returns 0, or -1 after printing an error naming the sidecar. */
static int file_meta(const ing_args *a, const char *path, char **out)
{
    *out = NULL;
    json_t *m = NULL;
    char side[4096];
    snprintf(side, sizeof side, "%s.meta.json", path);
    if (access(side, F_OK) == 0) {
        json_error_t je;
        m = json_load_file(side, JSON_REJECT_DUPLICATES, &je);
        if (!m || !json_is_object(m)) {
            fprintf(stderr, "quire ingest: %s: %s\n", side,
                    m ? "metadata must be a JSON object" : je.text);
            json_decref(m);
            return -1;
        }
    }
    char real[PATH_MAX];
    json_t *entry = a->meta_by && realpath(path, real) ? json_object_get(a->meta_by, real) : NULL;
    if ((entry || a->meta) && !m)
        m = json_object();
    if (entry)
        json_object_update(m, entry);
    if (a->meta)
        json_object_update(m, a->meta);
    if (m) {
        *out = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(m);
    }
    return 0;
}

/* ---- the batch -------------------------------------------------------------------- */

typedef struct ing_batch {
    ing_args *a;
    file_list files;
    quire_store *st;
    quire_model *model;
    quire_converter *conv;
    quire_collection_params cp;
    quire_convert_params cvp;
    pthread_mutex_t mu;
    int next, done, added, updated, unchanged, failed, partial, tty;
    long chunks, pages;
    double t0, last_draw;
    int first_error; /* exit code of the first failure */
} ing_batch;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void draw(ing_batch *b, int final)
{
    if (b->a->quiet || !b->tty)
        return;
    double now = qr_now();
    if (!final && now - b->last_draw < 0.1)
        return;
    b->last_draw = now;
    int n = b->files.n;
    int w = 30, fill = n ? (int)((long)w * b->done / n) : w;
    double el = now - b->t0;
    double eta = b->done ? el / b->done * (n - b->done) : 0;
    fprintf(stderr, "\r\033[Kingest [");
    for (int i = 0; i < w; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d docs, %ld chunks, %.0fs", b->done, n, b->chunks, el);
    if (!final && b->done)
        fprintf(stderr, ", ETA %.0fs", eta);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static const char *outcome_name(int o)
{
    return o == QUIRE_INGEST_ADDED ? "added" : o == QUIRE_INGEST_UPDATED ? "updated" : "unchanged";
}

static void *worker(void *arg)
{
    ing_batch *b = arg;
    quire_embedder *emb = NULL;
    quire_error err = {0, ""};
    if (b->model) {
        quire_embedder_params ep = quire_embedder_default_params();
        ep.n_threads = b->a->jobs > 1 ? 1 : 2;
        if (quire_embedder_new(b->model, &ep, &emb, &err) != QUIRE_OK) {
            pthread_mutex_lock(&b->mu);
            fprintf(stderr, "quire ingest: %s\n", err.msg);
            if (!b->first_error)
                b->first_error = EXIT_FAIL;
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
    }
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int i = g_stop ? b->files.n : b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->files.n)
            break;
        const char *path = b->files.paths[i];
        quire_ingest_params ip = quire_ingest_default_params();
        ip.collection = b->a->collection;
        ip.create = &b->cp;
        ip.embedder = emb;
        ip.converter = b->conv;
        ip.convert = &b->cvp;
        ip.force = b->a->force;
        ip.root = b->a->root;
        ip.store_path = b->a->id;
        char *meta = NULL;
        if (file_meta(b->a, path, &meta) != 0) {
            pthread_mutex_lock(&b->mu);
            b->done++;
            b->failed++;
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        ip.metadata = meta;
        quire_ingest_result r;
        quire_status rc = quire_ingest_file(b->st, path, &ip, &r, &err);
        qr_free(meta);
        pthread_mutex_lock(&b->mu);
        b->done++;
        if (rc != QUIRE_OK) {
            b->failed++;
            if (b->tty && !b->a->quiet)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "quire ingest: %s\n", err.msg);
            /* a model mismatch or a broken store will fail every document: stop early */
            if (QUIRE_STATUS_PRIMARY(rc) == QUIRE_MISMATCH ||
                rc == QUIRE_IO_STORE) {
                g_stop = 1;
                if (!b->first_error)
                    b->first_error = EXIT_FAIL;
            }
        } else {
            if (r.outcome == QUIRE_INGEST_ADDED)
                b->added++;
            else if (r.outcome == QUIRE_INGEST_UPDATED)
                b->updated++;
            else
                b->unchanged++;
            if (r.failed_pages)
                b->partial++;
            b->chunks += r.chunks;
            b->pages += r.pages;
            if (!b->a->quiet && !b->tty) {
                if (r.outcome == QUIRE_INGEST_UNCHANGED)
                    fprintf(stderr, "ingest: [%d/%d] %s: unchanged\n", b->done, b->files.n, path);
                else
                    fprintf(stderr,
                            "ingest: [%d/%d] %s: %s, %d pages%s, %d chunks (%.0f ms: convert "
                            "%.0f, embed %.0f, store %.0f)\n",
                            b->done, b->files.n, path, outcome_name(r.outcome), r.pages,
                            r.failed_pages ? " (some failed)" : "", r.chunks, r.ms, r.convert_ms,
                            r.embed_ms, r.store_ms);
            }
            if (r.failed_pages) {
                if (b->tty && !b->a->quiet)
                    fprintf(stderr, "\r\033[K");
                fprintf(stderr, "quire ingest: %s: %d of %d pages failed to convert (ingested "
                                "the others)\n",
                        path, r.failed_pages, r.pages);
            }
        }
        draw(b, 0);
        pthread_mutex_unlock(&b->mu);
    }
    quire_embedder_free(emb);
    return NULL;
}

/* --prune: removes the collection's documents whose files no longer exist. A key is a
 * file path when it is absolute, or relative to --root; other keys (--id, or stores keyed
 * by typed relative paths) are left alone. Returns the count, or -1 with err set. */
static int prune(ing_batch *b, quire_error *err)
{
    quire_document_list *l = NULL;
    const char *cname = b->a->collection ? b->a->collection : "default";
    if (quire_store_documents(b->st, cname, &l, err) != QUIRE_OK)
        return QUIRE_STATUS_PRIMARY(err->code) == QUIRE_NOT_FOUND ? 0 : -1;
    int n = 0, rc = 0;
    for (int i = 0; i < l->n && rc == 0; i++) {
        const char *key = l->docs[i].path;
        char p[4096];
        if (b->a->root && key[0] != '/') {
            if (qr_path_join(p, sizeof p, b->a->root, key) != 0)
                continue;
        } else if (!b->a->root && key[0] == '/') {
            snprintf(p, sizeof p, "%s", key);
        } else {
            continue;
        }
        struct stat st;
        if (stat(p, &st) == 0 || errno != ENOENT)
            continue;
        if (quire_store_remove(b->st, cname, key, err) != QUIRE_OK)
            rc = -1;
        else {
            n++;
            if (!b->a->quiet)
                fprintf(stderr, "ingest: pruned %s (file gone)\n", key);
        }
    }
    quire_document_list_free(l);
    return rc ? -1 : n;
}

int cmd_ingest(int argc, char **argv)
{
    ing_args a;
    memset(&a, 0, sizeof a);
    a.jobs = 1;
    const char **pos = qr_calloc((size_t)argc + 1, sizeof(char *));
    int n_pos = 0;
    if (!pos) {
        fprintf(stderr, "quire ingest: out of memory\n");
        return EXIT_FAIL;
    }
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, argc, &n_pos, help);
    if (rc != 0) {
        qr_free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    if (!a.db || n_pos == 0) {
        fprintf(stderr, "quire ingest: %s (see --help)\n",
                !a.db ? "--db PATH is required" : "no INPUT given");
        qr_free(pos);
        return EXIT_USAGE;
    }
    if (a.root) {
        struct stat rst;
        int bad = stat(a.root, &rst) != 0 ? errno : S_ISDIR(rst.st_mode) ? 0 : ENOTDIR;
        if (bad) {
            fprintf(stderr, "quire ingest: --root %s: %s\n", a.root, strerror(bad));
            qr_free(pos);
            return EXIT_USAGE;
        }
    }
    if (a.meta_file && load_meta_file(&a) != 0) {
        json_decref(a.meta);
        json_decref(a.meta_by);
        qr_free(pos);
        return EXIT_USAGE;
    }
    if (a.id && a.root) {
        fprintf(stderr, "quire ingest: --id and --root exclude each other\n");
        qr_free(pos);
        return EXIT_USAGE;
    }
    ing_batch b;
    memset(&b, 0, sizeof b);
    b.a = &a;
    pthread_mutex_init(&b.mu, NULL);
    quire_error err = {0, ""};
    int exit_code = EXIT_OK;
    for (int i = 0; i < n_pos; i++) {
        struct stat st;
        if (stat(pos[i], &st) != 0) {
            fprintf(stderr, "quire ingest: %s: %s\n", pos[i], strerror(errno));
            b.failed++;
            continue;
        }
        if (S_ISDIR(st.st_mode) ? walk(&b.files, pos[i]) : add_file(&b.files, pos[i])) {
            exit_code = EXIT_FAIL;
            goto out;
        }
    }
    if (a.id && (b.files.n != 1 || n_pos != 1)) {
        fprintf(stderr, "quire ingest: --id needs exactly one input file (%d given)\n",
                b.files.n);
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_store_open(a.db, 0, &b.st, &err) != QUIRE_OK) {
        exit_code = cli_fail("ingest", &err);
        goto out;
    }
    if (a.model) {
        quire_model_params mp = quire_model_default_params();
        mp.precision = a.precision;
        /* an existing collection keeps its precision unless --precision is given */
        quire_collection_info ci;
        const char *fp = NULL;
        if (!a.precision_set &&
            quire_store_collection(b.st, a.collection ? a.collection : "default", &ci, NULL) ==
                QUIRE_OK)
            fp = ci.fingerprint;
        if (cli_open_model_for(a.model, &mp, a.precision_set, fp, &b.model, &err) != QUIRE_OK) {
            exit_code = cli_fail("ingest", &err);
            goto out;
        }
    }
    /* Options that cannot work are refused before anything is written. */
    {
        const char *cname = a.collection ? a.collection : "default";
        int max = b.model ? quire_model_max_tokens(b.model) : 0;
        quire_collection_info ci;
        quire_error e2 = {0, ""};
        int exists = quire_store_collection(b.st, cname, &ci, &e2) == QUIRE_OK;
        if (a.chunk_tokens && max && a.chunk_tokens > max) {
            fprintf(stderr, "quire ingest: --chunk-tokens %ld is more than the %d tokens model "
                            "%s reads (the chunk tails would never be embedded); use "
                            "--chunk-tokens %d or less\n",
                    a.chunk_tokens, max, a.model, max);
            exit_code = EXIT_USAGE;
            goto out;
        }
        long chunk = a.chunk_tokens ? a.chunk_tokens
                     : exists        ? ci.chunk_tokens
                     : max && max < 256 ? max
                                        : 256;
        if (!a.chunk_tokens && !exists && max && max < 256)
            a.chunk_tokens = max; /* a new collection for a short-input model */
        if (a.overlap_set && a.overlap > 0 && a.overlap >= chunk / 2) {
            fprintf(stderr, "quire ingest: --overlap %ld must be less than half the chunk size "
                            "(%ld tokens): use --overlap %ld or less\n",
                    a.overlap, chunk, chunk / 2 - 1);
            exit_code = EXIT_USAGE;
            goto out;
        }
        if (exists) {
            const char *what = NULL;
            char had[96] = "", asked[96] = "";
            if (a.chunk_tokens && a.chunk_tokens != ci.chunk_tokens) {
                what = "--chunk-tokens";
                snprintf(had, sizeof had, "%d", ci.chunk_tokens);
                snprintf(asked, sizeof asked, "%ld", a.chunk_tokens);
            } else if (a.overlap_set && (a.overlap < 0 ? 0 : a.overlap) != ci.overlap) {
                what = "--overlap";
                snprintf(had, sizeof had, "%d", ci.overlap);
                snprintf(asked, sizeof asked, "%ld", a.overlap < 0 ? 0 : a.overlap);
            } else if (a.hnsw_m && ci.dims && a.hnsw_m != ci.hnsw_m) {
                what = "--hnsw-m";
                snprintf(had, sizeof had, "%d", ci.hnsw_m);
                snprintf(asked, sizeof asked, "%ld", a.hnsw_m);
            } else if (a.doc_prefix && strcmp(a.doc_prefix, ci.doc_prefix) != 0) {
                what = "--doc-prefix";
                snprintf(had, sizeof had, "'%.60s'", ci.doc_prefix);
                snprintf(asked, sizeof asked, "'%.60s'", a.doc_prefix);
            } else if (a.query_prefix && strcmp(a.query_prefix, ci.query_prefix) != 0) {
                what = "--query-prefix";
                snprintf(had, sizeof had, "'%.60s'", ci.query_prefix);
                snprintf(asked, sizeof asked, "'%.60s'", a.query_prefix);
            }
            if (what) {
                int chunking = !strcmp(what, "--chunk-tokens") || !strcmp(what, "--overlap");
                fprintf(stderr, "quire ingest: collection '%s' was created with %s %s (asked: "
                                "%s); it is fixed at creation: ingest into a new collection "
                                "(-c NAME)%s, or remove this one first (quire collections "
                                "--db %s --remove %s)\n",
                        cname, what, had, asked,
                        chunking ? "" : ", re-embed it with quire reindex and the new setting",
                        a.db, cname);
                exit_code = EXIT_USAGE;
                goto out;
            }
        }
    }
    quire_converter_params cvp = quire_converter_default_params();
    cvp.n_threads = (int)a.jobs;
    cvp.lang = a.lang;
    if (quire_converter_new(&cvp, &b.conv, &err) != QUIRE_OK) {
        /* a build without conversion can still ingest Markdown and text */
        b.conv = NULL;
    }
    b.cp = quire_collection_default_params();
    b.cp.chunk_tokens = (int)a.chunk_tokens;
    b.cp.overlap = a.overlap_set ? (int)a.overlap : 0;
    b.cp.hnsw_m = (int)a.hnsw_m;
    b.cp.ef_construction = (int)a.ef_c;
    b.cp.ef_search = (int)a.ef_s;
    b.cp.doc_prefix = a.doc_prefix;
    b.cp.query_prefix = a.query_prefix;
    /* a new collection remembers the model's document / query prompts
     * (config_sentence_transformers.json; NomicBERT's task prefixes) unless given */
    static const char *const doc_names[] = {"document", "passage", "search_document"};
    static const char *const query_names[] = {"query", "search_query"};
    for (size_t i = 0; b.model && !b.cp.doc_prefix && i < QR_ARRAY_LEN(doc_names); i++)
        b.cp.doc_prefix = quire_model_prompt(b.model, doc_names[i]);
    for (size_t i = 0; b.model && !b.cp.query_prefix && i < QR_ARRAY_LEN(query_names); i++)
        b.cp.query_prefix = quire_model_prompt(b.model, query_names[i]);
    b.cvp = quire_convert_default_params();
    if (a.ocr)
        b.cvp.ocr = strcmp(a.ocr, "always") == 0 ? QUIRE_OCR_ALWAYS
                    : strcmp(a.ocr, "never") == 0 ? QUIRE_OCR_NEVER
                                                   : QUIRE_OCR_AUTO;
    b.tty = isatty(2);
    b.t0 = qr_now();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int nth = (int)QR_MIN(a.jobs, (long)(b.files.n ? b.files.n : 1));
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nth; i++)
        if (pthread_create(&th[i], NULL, worker, &b) == 0)
            started++;
    if (!started)
        worker(&b);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    draw(&b, 1);
    int pruned = 0;
    if (a.prune && !g_stop && (pruned = prune(&b, &err)) < 0) {
        fprintf(stderr, "quire ingest: --prune: %s\n", err.msg);
        if (!b.first_error)
            b.first_error = EXIT_FAIL;
        pruned = 0;
    }
    if (quire_store_flush(b.st, &err) != QUIRE_OK)
        fprintf(stderr, "quire ingest: %s (the index will be rebuilt on next use)\n", err.msg);
    if (!a.quiet)
        fprintf(stderr,
                "ingest: %d documents into '%s' (%d added, %d updated, %d unchanged, %d failed), "
                "%ld chunks, %.1f s\n",
                b.files.n, a.collection ? a.collection : "default", b.added, b.updated,
                b.unchanged, b.failed, b.chunks, qr_now() - b.t0);
    if (a.prune && !a.quiet)
        fprintf(stderr, "ingest: pruned %d document%s whose file%s gone\n", pruned,
                pruned == 1 ? "" : "s", pruned == 1 ? " is" : "s are");
    if (g_stop && b.done < b.files.n)
        fprintf(stderr, "quire ingest: stopped with %d of %d documents done (committed work is "
                        "kept; run again to finish)\n",
                b.done, b.files.n);
    if (b.first_error)
        exit_code = b.first_error;
    else if (g_stop && b.done < b.files.n)
        exit_code = EXIT_FAIL;
    else if (b.failed && b.failed == b.files.n)
        exit_code = EXIT_FAIL; /* nothing ingested: 1, as convert exits when nothing converted */
    else if (b.failed || b.partial)
        exit_code = EXIT_PARTIAL;
out:
    quire_converter_free(b.conv);
    quire_model_close(b.model);
    quire_store_close(b.st);
    for (int i = 0; i < b.files.n; i++)
        qr_free(b.files.paths[i]);
    qr_free(b.files.paths);
    pthread_mutex_destroy(&b.mu);
    json_decref(a.meta);
    json_decref(a.meta_by);
    qr_free(pos);
    return exit_code;
}
