/*
 * store_pg_none.c — the PostgreSQL queue and workers in a build without libpq
 * (WITH_PG=0, e.g. the static aarch64 cross build): every call says so.
 */
#include "core/core.h"
#include "store/store_int.h"
#include "store/store_pg.h"

static quire_status no_pg(quire_error *err)
{
    return qr_err(err, QUIRE_UNSUPPORTED,
                  "this build of quire has no PostgreSQL support (built with WITH_PG=0)");
}

quire_status qr_pg_enqueue(const char *url, const qr_enqueue_params *p,
                           const char *const *paths, int n, qr_enqueue_result *res,
                           quire_error *err)
{
    (void)url;
    (void)p;
    (void)paths;
    (void)n;
    (void)res;
    return no_pg(err);
}

quire_status qr_pg_worker_run(const qr_worker_params *p, qr_worker_stats *st, quire_error *err)
{
    (void)p;
    (void)st;
    return no_pg(err);
}

quire_status qr_pg_status(const char *url, char **json, quire_error *err)
{
    (void)url;
    if (json)
        *json = NULL;
    return no_pg(err);
}

quire_status qr_pg_migrate(const char *from, const char *to, qr_migrate_result *res,
                           quire_error *err)
{
    (void)from;
    (void)to;
    if (res)
        memset(res, 0, sizeof(*res));
    return no_pg(err);
}

const char *qr_migrate_table_name(int i)
{
    static const char *const names[QR_MIGRATE_TABLES] = {"collections", "indexes", "documents",
                                                         "chunks", "vectors", "hnsw_graphs"};
    return i >= 0 && i < QR_MIGRATE_TABLES ? names[i] : "?";
}

const char *qr_pg_libpq_version(void)
{
    return "(not built: WITH_PG=0)";
}

quire_status qr_pg_store_open(quire_store *st, const char *url, quire_error *err)
{
    (void)st;
    (void)url;
    return no_pg(err);
}

quire_status qr_replica_sync(const char *url, quire_store *st, qr_replica_stats *stats,
                             quire_error *err)
{
    (void)url;
    (void)st;
    if (stats)
        memset(stats, 0, sizeof(*stats));
    return no_pg(err);
}

quire_status qr_replica_start(const char *url, quire_store *st, double poll_s,
                              qr_replica **out, quire_error *err)
{
    (void)url;
    (void)st;
    (void)poll_s;
    if (out)
        *out = NULL;
    return no_pg(err);
}

void qr_replica_get_stats(qr_replica *r, qr_replica_stats *out)
{
    (void)r;
    if (out)
        memset(out, 0, sizeof(*out));
}

void qr_replica_stop(qr_replica *r)
{
    (void)r;
}
