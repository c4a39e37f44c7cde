/*
 * cmd_store.c — store housekeeping: `quire collections` (list with counts and models),
 * `quire docs` (documents of a collection, or --remove one), `quire reindex` (re-embed a
 * collection with another model and swap the index in atomically).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/core.h"

typedef struct store_args {
    const char *db, *collection, *model, *remove, *remove_where;
    const char *doc_prefix, *query_prefix;
    long hnsw_m, ef_c, ef_s;
    int json, quiet;
    int precision;
} store_args;

static const cli_opt list_opts[] = {
    {"db", 0, 1, "PATH|URL", "the store file, or postgresql://... (a PostgreSQL store)"},
    {"collection", 'c', 1, "NAME", "collection (docs; default: default)"},
    {"remove", 0, 1, "PATH", "docs: remove this document (as listed) with its chunks"},
    {"remove-where", 0, 1, "JSON", "docs: remove every document matching this metadata filter "
                                   "(as search --where)"},
    {"json", 0, 0, NULL, "one JSON object per line"},
    {NULL, 0, 0, NULL, NULL},
};

static const cli_opt coll_opts[] = {
    {"db", 0, 1, "PATH|URL", "the store file, or postgresql://... (a PostgreSQL store)"},
    {"remove", 0, 1, "NAME", "delete this collection with all its documents, chunks and "
                             "vectors"},
    {"json", 0, 0, NULL, "one JSON object per line"},
    {NULL, 0, 0, NULL, NULL},
};

static const cli_opt reindex_opts[] = {
    {"db", 0, 1, "PATH|URL", "the store file, or postgresql://... (a PostgreSQL store)"},
    {"collection", 'c', 1, "NAME", "collection (default: default)"},
    {"model", 'm', 1, "DIR", "the new embedding model folder (required)"},
    {"precision", 0, 1, "fp32|bf16|int8", "precision of the new vectors (default fp32, exact; docs/precision.md)"},

    {"hnsw-m", 0, 1, "N", "HNSW links per node for the new index (default: keep)"},
    {"ef-construction", 0, 1, "N", "HNSW build candidate list (default: keep)"},
    {"ef-search", 0, 1, "N", "HNSW search candidate list (default: keep)"},
    {"doc-prefix", 0, 1, "STR", "text prepended to chunks before embedding"},
    {"query-prefix", 0, 1, "STR", "text prepended to queries before embedding"},
    {"quiet", 'q', 0, NULL, "no progress on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static const cli_opt *g_opts;
static const char *g_cmd;

static void help_collections(FILE *out)
{
    fprintf(out, "usage: quire collections --db PATH [--json] [--remove NAME]\n\n"
                 "List the collections of a store with their document, chunk and vector counts\n"
                 "and embedding model, or delete one (one transaction).\n\noptions:\n");
    cli_print_opts(out, coll_opts);
    fprintf(out, "\nexamples:\n  quire collections --db papers.db\n"
                 "  quire collections --db papers.db --remove drafts\n"
                 "  quire collections --db postgresql://quire@db.example/quire --json\n");
}

static void help_docs(FILE *out)
{
    fprintf(out, "usage: quire docs --db PATH [--collection NAME] [--json] [--remove PATH | "
                 "--remove-where JSON]\n\n"
                 "List the documents of a collection (path, pages, chunks, when converted), or\n"
                 "remove one with its chunks and vectors (one transaction).\n\noptions:\n");
    cli_print_opts(out, list_opts);
    fprintf(out, "\nexamples:\n  quire docs --db papers.db --collection papers\n"
                 "  quire docs --db postgresql://quire@db.example/quire -c papers --json\n");
}

static void help_reindex(FILE *out)
{
    fprintf(out, "usage: quire reindex --db PATH [--collection NAME] --model DIR\n\n"
                 "Re-embed every chunk of a collection with another model (or add vectors to a\n"
                 "text-only collection) into a new index, then swap it in atomically: searches\n"
                 "use the old index until the swap. An interrupted reindex resumes where it\n"
                 "stopped when run again with the same model.\n\noptions:\n");
    cli_print_opts(out, reindex_opts);
    fprintf(out, "\nexamples:\n  quire reindex --db papers.db --collection papers --model "
                 "bge-small-en-v1.5\n"
                 "  quire reindex --db postgresql://quire@db.example/quire -c papers --model "
                 "bge-small-en-v1.5\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    store_args *a = user;
    const char *n = g_opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "collection") == 0)
        a->collection = val;
    else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "precision") == 0)
        return cli_precision("reindex", val, &a->precision) ? EXIT_USAGE : 0;
    else if (strcmp(n, "remove") == 0)
        a->remove = val;
    else if (strcmp(n, "remove-where") == 0)
        a->remove_where = val;
    else if (strcmp(n, "json") == 0)
        a->json = 1;
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    else if (strcmp(n, "doc-prefix") == 0)
        a->doc_prefix = val;
    else if (strcmp(n, "query-prefix") == 0)
        a->query_prefix = val;
    else if (strcmp(n, "hnsw-m") == 0)
        return cli_int(g_cmd, n, val, 2, 128, &a->hnsw_m) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ef-construction") == 0)
        return cli_int(g_cmd, n, val, 8, 4096, &a->ef_c) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ef-search") == 0)
        return cli_int(g_cmd, n, val, 1, 4096, &a->ef_s) ? EXIT_USAGE : 0;
    return 0;
}

/* Parse, check --db, open the store. Returns -1 to continue, else the exit code. */
static int start(const char *cmd, const cli_opt *opts, void (*help)(FILE *), int argc,
                 char **argv, store_args *a, int flags, quire_store **st)
{
    memset(a, 0, sizeof(*a));
    g_opts = opts;
    g_cmd = cmd;
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, a, pos, 1, &n_pos, help);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (n_pos > 0) {
        fprintf(stderr, "quire %s: unexpected argument '%s' (see --help)\n", cmd, pos[0]);
        return EXIT_USAGE;
    }
    if (!a->db) {
        fprintf(stderr, "quire %s: --db PATH is required (see --help)\n", cmd);
        return EXIT_USAGE;
    }
    quire_error err = {0, ""};
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_store_open(a->db, flags, st, &err) != QUIRE_OK)
        return cli_fail(cmd, &err);
    return -1;
}

int cmd_collections(int argc, char **argv)
{
    store_args a;
    quire_store *st = NULL;
    int wants_remove = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--remove") == 0 || strncmp(argv[i], "--remove=", 9) == 0)
            wants_remove = 1;
    int rc = start("collections", coll_opts, help_collections, argc, argv, &a,
                   wants_remove ? 0 : QUIRE_STORE_READONLY, &st);
    if (rc >= 0)
        return rc;
    quire_error err = {0, ""};
    quire_collection_info *ci = NULL;
    int n = 0;
    rc = EXIT_OK;
    if (a.remove) {
        quire_collection_info info;
        if (quire_store_collection(st, a.remove, &info, &err) != QUIRE_OK ||
            quire_store_drop_collection(st, a.remove, &err) != QUIRE_OK)
            rc = cli_fail("collections", &err);
        else
            fprintf(stderr, "collections: removed '%s' (%ld documents, %ld chunks, %ld "
                            "vectors)\n",
                    a.remove, info.documents, info.chunks, info.vectors);
        goto out;
    }
    if (quire_store_collections(st, &ci, &n, &err) != QUIRE_OK) {
        rc = cli_fail("collections", &err);
        goto out;
    }
    if (!a.json && n)
        printf("%-20s %9s %9s %9s  %s\n", "collection", "documents", "chunks", "vectors",
               "model");
    for (int i = 0; i < n; i++) {
        const quire_collection_info *c = &ci[i];
        if (a.json) {
            json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:s,s:s,s:i,s:i,s:i,s:s,s:s}", "name", c->name,
                                  "documents", (json_int_t)c->documents, "chunks",
                                  (json_int_t)c->chunks, "vectors", (json_int_t)c->vectors,
                                  "model", c->model, "fingerprint", c->fingerprint, "dims",
                                  c->dims, "chunk_tokens", c->chunk_tokens, "hnsw_m", c->hnsw_m,
                                  "created_at", c->created_at, "precision", c->precision);
            if (cli_print_json(o) != 0) {
                rc = EXIT_FAIL;
                goto out;
            }
        } else {
            printf("%-20s %9ld %9ld %9ld  ", c->name, c->documents, c->chunks, c->vectors);
            if (c->dims && strcmp(c->precision, "fp32") != 0)
                printf("%s (%d dims, %s, %.12s)\n", c->model, c->dims, c->precision,
                       c->fingerprint);
            else if (c->dims)
                printf("%s (%d dims, %.12s)\n", c->model, c->dims, c->fingerprint);
            else
                printf("text-only (BM25)\n");
        }
    }
    if (!a.json && n == 0)
        fprintf(stderr, "quire collections: %s has no collections yet\n", a.db);
out:
    quire_free(ci);
    quire_store_close(st);
    return rc;
}

int cmd_docs(int argc, char **argv)
{
    store_args a;
    quire_store *st = NULL;
    /* --remove writes: parse first to know */
    int wants_remove = 0;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--remove", 8) == 0)
            wants_remove = 1;
    int rc = start("docs", list_opts, help_docs, argc, argv, &a,
                   wants_remove ? 0 : QUIRE_STORE_READONLY, &st);
    if (rc >= 0)
        return rc;
    quire_error err = {0, ""};
    quire_document_list *l = NULL;
    rc = EXIT_OK;
    if (a.remove_where) {
        int n = 0;
        if (quire_store_remove_where(st, a.collection, a.remove_where, &n, &err) != QUIRE_OK)
            rc = cli_fail("docs", &err);
        fprintf(stderr, "docs: removed %d document%s matching the filter\n", n,
                n == 1 ? "" : "s");
        goto out;
    }
    if (a.remove) {
        if (quire_store_remove(st, a.collection, a.remove, &err) != QUIRE_OK)
            rc = cli_fail("docs", &err);
        else
            fprintf(stderr, "docs: removed %s\n", a.remove);
        goto out;
    }
    if (quire_store_documents(st, a.collection, &l, &err) != QUIRE_OK) {
        rc = cli_fail("docs", &err);
        goto out;
    }
    if (!a.json && l->n)
        printf("%5s %6s  %-20s  %-12s  %s\n", "pages", "chunks", "converted", "sha256", "document");
    for (int i = 0; i < l->n; i++) {
        const quire_document_info *d = &l->docs[i];
        if (a.json) {
            /* id: the key the document is stored under (its canonical path, the path
               relative to --root, or the --id given); path: the same for now */
            json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:I,s:s}", "id", d->path, "path",
                                  d->path, "sha256",
                                  d->sha256, "size", (json_int_t)d->size, "pages", d->pages,
                                  "failed_pages", d->failed_pages, "chunks",
                                  (json_int_t)d->chunks, "converted_at", d->converted_at);
            json_t *meta = d->metadata ? json_loads(d->metadata, 0, NULL) : NULL;
            json_object_set_new(o, "metadata", meta ? meta : json_null());
            if (cli_print_json(o) != 0) {
                rc = EXIT_FAIL;
                goto out;
            }
        } else {
            printf("%5d %6ld  %-20s  %.12s  %s%s\n", d->pages, d->chunks, d->converted_at,
                   d->sha256, d->path, d->failed_pages ? "  (some pages failed)" : "");
        }
    }
    if (!a.json)
        fprintf(stderr, "docs: %d documents in '%s'\n", l->n,
                a.collection ? a.collection : "default");
out:
    quire_document_list_free(l);
    quire_store_close(st);
    return rc;
}

typedef struct reindex_progress {
    int tty, quiet;
    double t0, last;
} reindex_progress;

static void on_progress(void *ud, long done, long total)
{
    reindex_progress *p = ud;
    if (p->quiet)
        return;
    double now = qr_now();
    if (done < total && now - p->last < (p->tty ? 0.1 : 5.0))
        return;
    p->last = now;
    if (p->tty)
        fprintf(stderr, "\r\033[Kreindex: %ld/%ld chunks (%.0f s)%s", done, total, now - p->t0,
                done >= total ? "\n" : "");
    else
        fprintf(stderr, "reindex: %ld/%ld chunks (%.0f s)\n", done, total, now - p->t0);
}

int cmd_reindex(int argc, char **argv)
{
    store_args a;
    quire_store *st = NULL;
    int rc = start("reindex", reindex_opts, help_reindex, argc, argv, &a, 0, &st);
    if (rc >= 0)
        return rc;
    quire_error err = {0, ""};
    quire_model *model = NULL;
    quire_embedder *emb = NULL;
    rc = EXIT_OK;
    if (!a.model) {
        fprintf(stderr, "quire reindex: --model DIR is required (see --help)\n");
        rc = EXIT_USAGE;
        goto out;
    }
    quire_model_params mp = quire_model_default_params();
    mp.precision = a.precision;
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = 2;
    if (quire_model_open(a.model, &mp, &model, &err) != QUIRE_OK ||
        quire_embedder_new(model, &ep, &emb, &err) != QUIRE_OK) {
        rc = cli_fail("reindex", &err);
        goto out;
    }
    quire_collection_params cp = quire_collection_default_params();
    cp.hnsw_m = (int)a.hnsw_m;
    cp.ef_construction = (int)a.ef_c;
    cp.ef_search = (int)a.ef_s;
    cp.doc_prefix = a.doc_prefix;
    cp.query_prefix = a.query_prefix;
    reindex_progress pr = {isatty(2), a.quiet, qr_now(), 0};
    const char *coll = a.collection ? a.collection : "default";
    if (quire_reindex(st, coll, emb, &cp, on_progress, &pr, &err) != QUIRE_OK) {
        rc = cli_fail("reindex", &err);
        goto out;
    }
    if (!a.quiet)
        fprintf(stderr, "reindex: collection '%s' now uses model %s (%.1f s)\n", coll,
                quire_model_name(model), qr_now() - pr.t0);
out:
    quire_embedder_free(emb);
    quire_model_close(model);
    quire_store_close(st);
    return rc;
}
