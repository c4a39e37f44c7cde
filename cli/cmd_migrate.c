/*
 * cmd_migrate.c — `quire migrate --from A --to B`: a whole store from a SQLite file into
 * PostgreSQL, or from PostgreSQL into a new SQLite file (src/store/pg/migrate.c). Each
 * table's SHA-256 is printed for the source and the target; they must match or nothing
 * is committed.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"
#include "store/store_pg.h"

static const cli_opt mg_opts[] = {
    {"from", 0, 1, "STORE", "the source: a quire SQLite store file, or postgresql://..."},
    {"to", 0, 1, "STORE", "the target, empty (the other kind): postgresql://... or a new "
                          "SQLite file"},
    {"quiet", 'q', 0, NULL, "no per-table lines, only errors"},
    {NULL, 0, 0, NULL, NULL},
};

static void mg_help(FILE *out)
{
    fprintf(out,
            "usage: quire migrate --from store.db --to postgresql://...\n"
            "       quire migrate --from postgresql://... --to store.db\n\n"
            "Copy every collection (with its model fingerprint and settings), document\n"
            "(report, metadata), chunk, vector (byte for byte) and saved HNSW graph from a\n"
            "SQLite store into PostgreSQL, or back; ids are kept, so a search of the copy\n"
            "returns what a search of the original does. The target must be empty (no\n"
            "collections, no documents): a second migration into it is refused. Before the\n"
            "target commits, each table is read back and its SHA-256 compared with the\n"
            "source's; the sums are printed (one line per table on stdout).\n\n"
            "options:\n");
    cli_print_opts(out, mg_opts);
    fprintf(out, "\nexit status: 0 ok, 1 failure (nothing written), 2 usage error or the "
                 "target is not empty\n");
}

typedef struct mg_args {
    const char *from, *to;
    int quiet;
} mg_args;

static int mg_on_opt(int idx, const char *val, void *user)
{
    mg_args *a = user;
    const char *n = mg_opts[idx].name;
    if (strcmp(n, "from") == 0)
        a->from = val;
    else if (strcmp(n, "to") == 0)
        a->to = val;
    else
        a->quiet = 1;
    return 0;
}

int cmd_migrate(int argc, char **argv)
{
    mg_args a = {NULL, NULL, 0};
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, mg_opts, mg_on_opt, &a, pos, 0, &n_pos, mg_help);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.from || !a.to) {
        fprintf(stderr, "quire migrate: --from and --to are both required (see --help)\n");
        return EXIT_USAGE;
    }
    if (qr_pg_is_url(a.from) == qr_pg_is_url(a.to)) {
        fprintf(stderr, "quire migrate: one of --from/--to must be a SQLite store file and the "
                        "other a PostgreSQL URL (postgresql://USER@HOST/DB); to copy a SQLite "
                        "store, use quire export and quire import\n");
        return EXIT_USAGE;
    }
    qr_migrate_result res;
    quire_error err = {0, ""};
    double t0 = qr_now();
    quire_status s = qr_pg_migrate(a.from, a.to, &res, &err);
    if (s != QUIRE_OK) {
        fprintf(stderr, "quire migrate: %s\n", err.msg);
        return res.refused || s == QUIRE_INVALID_ARG ? EXIT_USAGE : EXIT_FAIL;
    }
    long long total = 0;
    for (int i = 0; i < QR_MIGRATE_TABLES; i++) {
        total += res.rows[i];
        if (!a.quiet)
            printf("%-12s %8lld rows  sha256 source %s  target %s  %s\n",
                   qr_migrate_table_name(i), res.rows[i], res.source_sha[i], res.target_sha[i],
                   strcmp(res.source_sha[i], res.target_sha[i]) == 0 ? "equal" : "DIFFERENT");
    }
    if (!a.quiet)
        fprintf(stderr,
                "migrated %s -> %s: %lld collections, %lld documents, %lld chunks, %lld "
                "vectors, %lld graphs (%lld rows, %.2f s); checksums equal\n",
                res.from, res.to, res.rows[0], res.rows[2], res.rows[3], res.rows[4],
                res.rows[5], total, qr_now() - t0);
    return EXIT_OK;
}
