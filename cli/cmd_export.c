/*
 * cmd_export.c — `quire export` (collections as JSONL: documents, metadata, chunks and
 * vectors; docs/export.md) and `quire import` (the same into a new or empty collection,
 * in one transaction).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/core.h"

typedef struct xargs {
    const char *db, *collection, *out, *as, *model;
    int quiet, precision, precision_set;
} xargs;

static const cli_opt export_opts[] = {
    {"db", 0, 1, "PATH|URL", "the store file, or postgresql://... (a PostgreSQL store)"},
    {"collection", 'c', 1, "NAME", "export this collection only (default: every collection)"},
    {"output", 'o', 1, "FILE", "write to FILE (default: stdout)"},
    {"quiet", 'q', 0, NULL, "no summary on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static const cli_opt import_opts[] = {
    {"db", 0, 1, "PATH", "the store file (created when missing)"},
    {"collection", 'c', 1, "NAME", "import only this collection of the export (default: all)"},
    {"as", 0, 1, "NAME", "store the (one) imported collection under this name"},
    {"model", 'm', 1, "DIR", "refuse the import unless its vectors are from this model "
                             "(the one you will search with)"},
    {"precision", 0, 1, "fp32|bf16|int8", "with --model: its precision (default: fp32)"},
    {"quiet", 'q', 0, NULL, "no summary on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static const cli_opt *g_opts;

static void help_export(FILE *out)
{
    fprintf(out, "usage: quire export --db PATH [--collection NAME] [-o FILE]\n\n"
                 "Write collections as JSON lines: a header (format version, store schema, each\n"
                 "collection's model fingerprint and options), then every document (key,\n"
                 "sha256, metadata) followed by its chunks (text, pages, heading and the vector\n"
                 "as base64 of its float32 bytes), then an end line with the counts.\n"
                 "Streams to stdout unless -o is given. Format: docs/export.md.\n\noptions:\n");
    cli_print_opts(out, export_opts);
    fprintf(out, "\nexamples:\n  quire export --db papers.db -c papers -o papers.jsonl\n"
                 "  quire export --db papers.db | gzip > all.jsonl.gz\n");
}

static void help_import(FILE *out)
{
    fprintf(out, "usage: quire import --db PATH [--collection NAME] [--as NAME] [--model DIR] "
                 "[FILE|-]\n\n"
                 "Read an export (quire export) into new or empty collections, streaming, in one\n"
                 "transaction: a bad line is an error naming its line number and nothing is\n"
                 "written (a store file the import created is removed again). A collection that\n"
                 "already has documents is refused, as is an empty one with another model. The\n"
                 "vectors are stored byte for byte, so searches give the same hits as before.\n"
                 "\noptions:\n");
    cli_print_opts(out, import_opts);
    fprintf(out, "\nexamples:\n  quire import --db copy.db papers.jsonl\n"
                 "  zcat all.jsonl.gz | quire import --db copy.db -c papers --as papers2 -\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    xargs *a = user;
    const char *n = g_opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "collection") == 0)
        a->collection = val;
    else if (strcmp(n, "output") == 0)
        a->out = val;
    else if (strcmp(n, "as") == 0)
        a->as = val;
    else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    else if (strcmp(n, "precision") == 0) {
        a->precision_set = 1;
        return cli_precision("import", val, &a->precision) ? EXIT_USAGE : 0;
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    xargs a;
    memset(&a, 0, sizeof a);
    g_opts = export_opts;
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, export_opts, on_opt, &a, pos, 1, &n_pos, help_export);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (n_pos > 0 || !a.db) {
        fprintf(stderr, "quire export: %s (see --help)\n",
                n_pos ? "unexpected argument (write to a file with -o FILE)"
                      : "--db PATH is required");
        return EXIT_USAGE;
    }
    quire_error err = {0, ""};
    quire_store *st = NULL;
    quire_export_result r;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_store_open(a.db, QUIRE_STORE_READONLY, &st, &err) != QUIRE_OK)
        return cli_fail("export", &err);
    const char *out = a.out ? a.out : "-";
    rc = EXIT_OK;
    if (quire_store_export(st, a.collection, out, &r, &err) != QUIRE_OK) {
        rc = cli_fail("export", &err);
        if (strcmp(out, "-") != 0)
            unlink(out); /* never leave a partial export that looks whole */
    } else if (!a.quiet) {
        fprintf(stderr, "export: %d collection%s, %ld documents, %ld chunks, %ld vectors%s%s\n",
                r.collections, r.collections == 1 ? "" : "s", r.documents, r.chunks, r.vectors,
                strcmp(out, "-") ? " -> " : "", strcmp(out, "-") ? out : "");
    }
    quire_store_close(st);
    return rc;
}

static void remove_store(const char *db)
{
    char p[4096];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

int cmd_import(int argc, char **argv)
{
    xargs a;
    memset(&a, 0, sizeof a);
    g_opts = import_opts;
    const char *pos[2];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, import_opts, on_opt, &a, pos, 2, &n_pos, help_import);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.db || n_pos > 1) {
        fprintf(stderr, "quire import: %s (see --help)\n",
                !a.db ? "--db PATH is required" : "one input FILE (or -) at most");
        return EXIT_USAGE;
    }
    if (a.precision_set && !a.model) {
        fprintf(stderr, "quire import: --precision needs --model DIR\n");
        return EXIT_USAGE;
    }
    const char *in = n_pos ? pos[0] : "-";
    if (strcmp(in, "-") == 0 && isatty(0)) {
        fprintf(stderr, "quire import: no input: give an export FILE or pipe one to stdin\n");
        return EXIT_USAGE;
    }
    quire_error err = {0, ""};
    quire_store *st = NULL;
    quire_model *model = NULL;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK)
        return cli_fail("import", &err);
    quire_import_params ip = quire_import_default_params();
    ip.collection = a.collection;
    ip.rename = a.as;
    if (a.model) {
        quire_model_params mp = quire_model_default_params();
        mp.precision = a.precision;
        if (quire_model_open(a.model, &mp, &model, &err) != QUIRE_OK)
            return cli_fail("import", &err);
        ip.fingerprint = quire_model_fingerprint(model);
    }
    int created = access(a.db, F_OK) != 0;
    quire_export_result r;
    rc = EXIT_OK;
    if (quire_store_open(a.db, 0, &st, &err) != QUIRE_OK ||
        quire_store_import(st, in, &ip, &r, &err) != QUIRE_OK) {
        rc = cli_fail("import", &err);
        quire_store_close(st);
        st = NULL;
        if (created)
            remove_store(a.db); /* the import made this file: leave nothing behind */
    } else if (!a.quiet) {
        fprintf(stderr, "import: %d collection%s, %ld documents, %ld chunks, %ld vectors -> %s\n",
                r.collections, r.collections == 1 ? "" : "s", r.documents, r.chunks, r.vectors,
                a.db);
    }
    quire_store_close(st);
    quire_model_close(model);
    return rc;
}
