/*
 * store_pg.h — quire on PostgreSQL (issue 16, first increment): a job queue in
 * PostgreSQL that many `quire worker` processes on many machines drain into one shared
 * store of documents, chunks and vectors there.
 *
 * Implemented in src/store/pg/ (WITH_PG=1, libpq); a WITH_PG=0 build links
 * src/store_pg_none.c instead, where every call returns QUIRE_UNSUPPORTED. Internal to
 * quire for now (the CLI uses it); not part of quire.h's stable API yet.
 *
 * Delivery is at least once, the effect exactly once: a worker claims a job with
 * FOR UPDATE SKIP LOCKED (attempt + 1, a lease), heartbeats extend the leases of its
 * running jobs, and the document's rows commit in one transaction with the job's
 * completion, fenced by (worker id, attempt): a worker whose lease expired and whose
 * job was rescued by another cannot commit it (docs: README "Scale out on PostgreSQL").
 */
#ifndef QR_STORE_PG_H
#define QR_STORE_PG_H

#include <signal.h>
#include <string.h>

#include "quire.h"

#define QR_PG_SCHEMA 3 /* the version of the PostgreSQL schema this quire writes */

/* "postgresql://..." or "postgres://..." (libpq connection URIs; an empty host part uses
 * the PG* environment variables and ~/.pgpass). */
static inline int qr_pg_is_url(const char *db)
{
    return db && (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0);
}

typedef struct qr_enqueue_params {
    const char *collection; /* NULL = "default" */
    int max_attempts;       /* 0 = 5: a job that failed this often is dead (state failed) */
    int priority;           /* lower runs first (default 0) */
    /* one line per input that could not be queued (NULL: none) */
    void (*report)(void *ud, const char *line);
    void *ud;
} qr_enqueue_params;

typedef struct qr_enqueue_result {
    int added;     /* new jobs */
    int skipped;   /* already queued/running/done with the same content, or stored as is */
    int failed;    /* inputs that could not be read (each given to report) */
} qr_enqueue_result;

/* Queue one job per file (the key: collection + canonical path + sha256), in one
 * transaction, then one NOTIFY. Re-enqueueing an unchanged file is a no-op. */
quire_status qr_pg_enqueue(const char *url, const qr_enqueue_params *p,
                           const char *const *paths, int n, qr_enqueue_result *res,
                           quire_error *err);

typedef struct qr_worker_params {
    const char *url;
    quire_model *model;            /* NULL: text-only collections (BM25) */
    quire_converter *converter;    /* NULL: only Markdown/text files */
    const quire_convert_params *convert;
    const quire_collection_params *create; /* settings of collections created by this
                                              worker's first commit (NULL = defaults) */
    int jobs;                      /* documents in parallel (threads; default 1) */
    double lease_s;                /* a running job not heartbeated for this long is
                                      rescued (default 30; heartbeat every lease/3) */
    double poll_s;                 /* idle poll when no NOTIFY comes (default 2) */
    double retry_base_s;           /* first retry delay of a transient error, doubled per
                                      attempt, +-25 % jitter, at most 1 h (default 30) */
    double connect_wait_s;         /* at start, keep retrying an unreachable database
                                      (or one that ends the connection) for this long
                                      before failing (default 60) */
    int drain;                     /* return once no job is queued or running */
    /* one line per job outcome, retry, rescue and lost lease (NULL: none); called from the
       worker's threads, one call at a time */
    void (*report)(void *ud, const char *line);
    void *ud;
    volatile sig_atomic_t *stop;   /* set (SIGTERM): finish the jobs in hand, then return */
} qr_worker_params;

typedef struct qr_worker_stats {
    long worker_id;
    long done, unchanged, retried, failed, lost;
} qr_worker_stats;

/* Run a worker until *stop (or, with drain, until the queue is empty). QUIRE_OK unless
 * the database could not be reached/migrated at start or the model is refused. */
quire_status qr_pg_worker_run(const qr_worker_params *p, qr_worker_stats *st, quire_error *err);

/* The queue's state as one JSON object (qr_free it): jobs by state, workers alive,
 * documents/chunks/vectors, done per second over the last minute, the last errors. */
quire_status qr_pg_status(const char *url, char **json, quire_error *err);

/* ---- quire migrate: a whole store SQLite -> PostgreSQL, or PostgreSQL -> SQLite ---- */
#define QR_MIGRATE_TABLES 6 /* collections, indexes, documents, chunks, vectors, hnsw_graphs */

typedef struct qr_migrate_result {
    char from[512], to[512];                 /* the two sides, for messages (no password) */
    long long rows[QR_MIGRATE_TABLES];       /* rows copied, per table */
    char source_sha[QR_MIGRATE_TABLES][65];  /* SHA-256 of each table's canonical rows */
    char target_sha[QR_MIGRATE_TABLES][65];  /* the same, read back from the target */
    int refused;                             /* the target was not empty: nothing written */
} qr_migrate_result;

/* The name of table i (0 .. QR_MIGRATE_TABLES-1). */
const char *qr_migrate_table_name(int i);

/* Copy every collection (model fingerprint and settings), document (report, metadata),
 * chunk, vector (the float32 bytes as they are) and saved HNSW graph from one store to
 * the other, keeping their ids; exactly one of from/to is a PostgreSQL URL. The target
 * must hold no collection and no document (else QUIRE_INVALID_ARG, res->refused). The
 * target's transaction commits only when each table read back hashes as the source's
 * (else QUIRE_FORMAT, rolled back); a SQLite file created by a failed run is removed. */
quire_status qr_pg_migrate(const char *from, const char *to, qr_migrate_result *res,
                           quire_error *err);

/* ---- search replicas: a local SQLite store that follows PostgreSQL's change feed ------ */
typedef struct qr_replica qr_replica;

typedef struct qr_replica_stats {
    long long bootstrap_rows; /* rows read from PostgreSQL by the bootstrap (this process) */
    long long feed_rows;      /* rows read by feed windows (changes, documents, chunks...) */
    long long docs_applied;   /* documents written to or removed from the cache */
    long long windows;        /* feed windows completed */
    long long errors;         /* failed steps (each retried) */
    int bootstrapped;         /* the cache holds a complete copy and follows the feed */
    double started_at;        /* qr_now() when following started (0: one-shot sync) */
    double applied_at;        /* qr_now() when the last complete window's snapshot was taken */
    double lag_s;             /* now - applied_at (or - started_at before the first window);
                                 -1 when unknown */
    char horizon[32];         /* the feed position (xid8) stored in the cache */
    char last_error[256];
} qr_replica_stats;

/* Bring the cache store st (open for writing; a new file is fine) level with PostgreSQL at
 * url: bootstrap it when new (or resume a killed bootstrap), then apply one feed window.
 * A cache made from another database, or a store that is not a replica cache, is refused
 * (QUIRE_INVALID_ARG). */
quire_status qr_replica_sync(const char *url, quire_store *st, qr_replica_stats *stats,
                             quire_error *err);
/* The same, then keep following in a thread every poll_s seconds (0 = 0.5), applying
 * through st under its lock (searches of st see each window whole). Errors after the start
 * are logged and retried with backoff; qr_replica_get_stats reports them. */
quire_status qr_replica_start(const char *url, quire_store *st, double poll_s,
                              qr_replica **out, quire_error *err);
void qr_replica_get_stats(qr_replica *r, qr_replica_stats *out);
/* Stop following (waits for the window in hand) and free r. */
void qr_replica_stop(qr_replica *r);

/* The libpq version, e.g. "15.18" ("(not built: WITH_PG=0)" without it). */
const char *qr_pg_libpq_version(void);

#endif
