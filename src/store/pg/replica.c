/*
 * replica.c — search replicas: a local quire SQLite store (FTS5, HNSW, snippets) kept in
 * step with a PostgreSQL store by its change feed (schema 3, src/store/pg/pg.c).
 *
 * Feed. Triggers write one `changes` row per touched document (and a `meta` row per write
 * to collections/indexes), stamped with the writer's transaction id (xid8). A window
 * reads, in one short REPEATABLE READ transaction, h = pg_snapshot_xmin(pg_current_
 * snapshot()) and every visible row with xid >= the previous h. No transaction with an id
 * below h can still commit, so nothing is missed whatever the order in which
 * transactions commit (ids are taken at the first write, not at commit); a visible row
 * at or above h is applied now and read again by the next window (harmless: applying is
 * idempotent). By induction the cache equals PostgreSQL as of the window's snapshot.
 *
 * Apply. A window's documents are re-read as they are in that snapshot and, in ONE
 * SQLite transaction, each touched id is deleted from the cache and inserted again if it
 * still exists (same ids as in PostgreSQL, so chunk ids — HNSW labels — agree), the
 * collections and indexes are made equal to PostgreSQL's, and the new horizon is
 * written to the cache's meta table. kill -9 at any point leaves either the old state
 * and horizon or the new ones; the window is then simply read again.
 *
 * Bootstrap. h0 is recorded first (in the cache), then documents are copied by id range,
 * RP_BATCH at a time, each batch in its own short PostgreSQL transaction and its own
 * SQLite transaction together with its progress (replica.boot_last): no long snapshot
 * holds back vacuum on the primary, and a killed bootstrap resumes where it stopped.
 * A document changed while the copy runs was changed by a transaction whose id is >= h0,
 * so the feed, started at h0 once the copy is done, applies it again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/pg/pg_int.h"
#include "store/store_int.h"

#define RP_BATCH 200 /* documents per bootstrap batch and per read of a window; the
                             environment's QUIRE_REPLICA_BATCH (1..100000) overrides it */

struct qr_replica {
    char *url;
    quire_store *st;
    PGconn *c;
    char source[160];    /* system identifier / database: which PostgreSQL this cache follows */
    char name[300];      /* row in PostgreSQL's replicas table: host:cache path */
    double poll_s;
    int batch;           /* documents per bootstrap batch / window read */
    int need_check;      /* started offline from a warm cache: check_cache once connected */
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu; /* guards stats */
    qr_replica_stats stats;
    double last_report; /* qr_now() of the last replicas-table update */
};

/* ---- small helpers ------------------------------------------------------------------ */

static int unhex1(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* bytea in hex output form (\x...) -> bytes into b; 0 on success */
static int unhex_bytea(const char *v, size_t n, qr_buf *b)
{
    qr_buf_clear(b);
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || n % 2)
        return -1;
    for (size_t k = 2; k + 1 < n; k += 2) {
        int a = unhex1(v[k]), c = unhex1(v[k + 1]);
        if (a < 0 || c < 0)
            return -1;
        qr_buf_putc(b, (char)(a << 4 | c));
    }
    return b->failed ? -1 : 0;
}

static void stat_error(qr_replica *r, const char *msg)
{
    pthread_mutex_lock(&r->mu);
    snprintf(r->stats.last_error, sizeof r->stats.last_error, "%s", msg);
    r->stats.errors++;
    pthread_mutex_unlock(&r->mu);
}

/* meta table of the cache (lock held) */
static int meta_get(quire_store *st, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int found = 0;
    out[0] = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const unsigned char *v = sqlite3_column_text(s, 0);
            snprintf(out, cap, "%s", v ? (const char *)v : "");
            found = 1;
        }
    }
    sqlite3_finalize(s);
    return found;
}

static quire_status meta_set(quire_store *st, const char *key, const char *val,
                             quire_error *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = val ? "INSERT INTO meta(key, value) VALUES (?, ?)"
                            " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                          : "DELETE FROM meta WHERE key = ?";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "writing the replica's horizon");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (val)
        sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? QUIRE_OK
                             : qr_store_sqlerr(st, err, "writing the replica's horizon");
}

static long long count_rows(quire_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* ---- reading PostgreSQL -------------------------------------------------------------- */

#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char SQL_COLLS[] =
    "SELECT id, name, " TS("created_at") ", chunk_tokens, overlap, active_index"
    " FROM collections ORDER BY id";
static const char SQL_INDEXES[] =
    "SELECT id, collection_id, state, model, model_dir, fingerprint, describe, dims,"
    " doc_prefix, query_prefix, hnsw_m, ef_construction, ef_search, " TS("created_at")
    " FROM indexes ORDER BY id";
static const char SQL_DOCS[] =
    "SELECT id, collection_id, path, sha256, size, pages, failed_pages, " TS("converted_at")
    ", report, meta FROM documents WHERE id = ANY($1::bigint[]) ORDER BY id";
static const char SQL_CHUNKS[] =
    "SELECT id, document_id, seq, page_start, page_end, heading, text, n_tokens FROM chunks"
    " WHERE document_id = ANY($1::bigint[]) ORDER BY id";
static const char SQL_VECS[] =
    "SELECT v.index_id, v.chunk_id, v.vec FROM vectors v JOIN chunks c ON c.id = v.chunk_id"
    " WHERE c.document_id = ANY($1::bigint[]) ORDER BY v.index_id, v.chunk_id";

/* One group of documents as PostgreSQL has them (in the caller's transaction). */
typedef struct rp_group {
    long long *ids; /* the touched ids (present or not in PostgreSQL) */
    size_t n;
    PGresult *docs, *chunks, *vecs;
} rp_group;

static void group_clear(rp_group *g)
{
    PQclear(g->docs);
    PQclear(g->chunks);
    PQclear(g->vecs);
    g->docs = g->chunks = g->vecs = NULL;
}

static quire_status read_group(PGconn *c, rp_group *g, quire_error *err)
{
    qr_buf a;
    qr_buf_init(&a, 0);
    qr_buf_putc(&a, '{');
    for (size_t i = 0; i < g->n; i++)
        qr_buf_printf(&a, "%s%lld", i ? "," : "", g->ids[i]);
    qr_buf_putc(&a, '}');
    qr_buf_putc(&a, 0);
    if (a.failed) {
        qr_buf_free(&a);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    const char *v[1] = {a.data};
    quire_status rc = QUIRE_OK;
    if (!(g->docs = qr_pg_query(c, SQL_DOCS, 1, v, err, "reading documents", &rc)) ||
        !(g->chunks = qr_pg_query(c, SQL_CHUNKS, 1, v, err, "reading chunks", &rc)) ||
        !(g->vecs = qr_pg_query(c, SQL_VECS, 1, v, err, "reading vectors", &rc)))
        group_clear(g);
    qr_buf_free(&a);
    return rc;
}

static long long group_rows(const rp_group *g)
{
    return (g->docs ? PQntuples(g->docs) : 0) + (g->chunks ? PQntuples(g->chunks) : 0) +
           (g->vecs ? PQntuples(g->vecs) : 0);
}

/* ---- writing the cache ----------------------------------------------------------------- */

/* Bind PG text value (row i, col j) to SQLite parameter k by type: i integer, t text. */
static void bind_pg(sqlite3_stmt *s, int k, const PGresult *r, int i, int j, char type)
{
    if (PQgetisnull(r, i, j)) {
        sqlite3_bind_null(s, k);
        return;
    }
    const char *v = PQgetvalue(r, i, j);
    if (type == 'i')
        sqlite3_bind_int64(s, k, strtoll(v, NULL, 10));
    else
        sqlite3_bind_text(s, k, v, PQgetlength(r, i, j), SQLITE_STATIC);
}

static quire_status insert_rows(quire_store *st, const char *sql, const char *types,
                                const PGresult *r, const char *what, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, what);
    int nc = (int)strlen(types);
    quire_status rc = QUIRE_OK;
    for (int i = 0; i < PQntuples(r) && rc == QUIRE_OK; i++) {
        sqlite3_reset(s);
        for (int j = 0; j < nc; j++)
            bind_pg(s, j + 1, r, i, j, types[j]);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = qr_store_sqlerr(st, err, what);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ids in PostgreSQL's result r (column 0) */
static int pg_has_id(const PGresult *r, long long id)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (strtoll(PQgetvalue(r, i, 0), NULL, 10) == id)
            return 1;
    return 0;
}

/* Make the cache's collections and indexes equal to PostgreSQL's (inside the
 * transaction); ids of dropped indexes go to *gone (qr_free). */
static quire_status sync_meta(quire_store *st, const PGresult *colls, const PGresult *idxs,
                              long long **gone, size_t *n_gone, quire_error *err)
{
    *gone = NULL;
    *n_gone = 0;
    quire_status rc = QUIRE_OK;
    static const char *const tabs[2] = {"indexes", "collections"};
    for (int t = 0; t < 2 && rc == QUIRE_OK; t++) {
        const PGresult *pr = t == 0 ? idxs : colls;
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT id FROM %s", tabs[t]);
        sqlite3_stmt *s = NULL;
        long long *del = NULL;
        size_t nd = 0, cap = 0;
        if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
            return qr_store_sqlerr(st, err, "reading the cache's collections");
        while (sqlite3_step(s) == SQLITE_ROW) {
            long long id = sqlite3_column_int64(s, 0);
            if (pg_has_id(pr, id))
                continue;
            if (nd == cap) {
                cap = cap ? cap * 2 : 8;
                long long *x = qr_realloc(del, cap * sizeof(*x));
                if (!x) {
                    rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                    break;
                }
                del = x;
            }
            del[nd++] = id;
        }
        sqlite3_finalize(s);
        s = NULL;
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = ?", tabs[t]);
        if (rc == QUIRE_OK && sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
            rc = qr_store_sqlerr(st, err, "dropping a collection from the cache");
        for (size_t i = 0; i < nd && rc == QUIRE_OK; i++) {
            sqlite3_reset(s);
            sqlite3_bind_int64(s, 1, del[i]);
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = qr_store_sqlerr(st, err, "dropping a collection from the cache");
        }
        sqlite3_finalize(s);
        s = NULL;
        if (t == 0) {
            *gone = del;
            *n_gone = nd;
        } else {
            qr_free(del);
        }
    }
    if (rc == QUIRE_OK)
        rc = insert_rows(st,
                         "INSERT INTO collections(id, name, created_at, chunk_tokens, overlap,"
                         " active_index) VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                         " name = excluded.name, chunk_tokens = excluded.chunk_tokens,"
                         " overlap = excluded.overlap, active_index = excluded.active_index",
                         "ititii", colls, "copying collections", err);
    if (rc == QUIRE_OK)
        rc = insert_rows(st,
                         "INSERT INTO indexes(id, collection_id, state, model, model_dir,"
                         " fingerprint, describe, dims, doc_prefix, query_prefix, hnsw_m,"
                         " ef_construction, ef_search, created_at)"
                         " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                         " state = excluded.state, ef_search = excluded.ef_search",
                         "iitttttittiiit", idxs, "copying indexes", err);
    return rc;
}

/* per-index lists of removed / added chunk ids for the in-memory HNSW */
typedef struct rp_ix {
    long long id;
    int64_t *rm, *add;
    float *vecs;
    size_t n_rm, n_add, cap_rm, cap_add;
    int dims;
} rp_ix;

typedef struct rp_ixs {
    rp_ix *v;
    int n, cap;
} rp_ixs;

static rp_ix *ix_get(rp_ixs *x, long long id)
{
    for (int i = 0; i < x->n; i++)
        if (x->v[i].id == id)
            return &x->v[i];
    if (x->n == x->cap) {
        int nc = x->cap ? x->cap * 2 : 4;
        rp_ix *t = qr_realloc(x->v, (size_t)nc * sizeof(*t));
        if (!t)
            return NULL;
        x->v = t;
        x->cap = nc;
    }
    rp_ix *e = &x->v[x->n++];
    memset(e, 0, sizeof *e);
    e->id = id;
    return e;
}

static void ixs_free(rp_ixs *x)
{
    for (int i = 0; i < x->n; i++) {
        qr_free(x->v[i].rm);
        qr_free(x->v[i].add);
        qr_free(x->v[i].vecs);
    }
    qr_free(x->v);
    memset(x, 0, sizeof *x);
}

static int ix_rm(rp_ix *e, int64_t chunk)
{
    if (e->n_rm == e->cap_rm) {
        size_t nc = e->cap_rm ? e->cap_rm * 2 : 64;
        int64_t *t = qr_realloc(e->rm, nc * sizeof(*t));
        if (!t)
            return -1;
        e->rm = t;
        e->cap_rm = nc;
    }
    e->rm[e->n_rm++] = chunk;
    return 0;
}

static int ix_add(rp_ix *e, int64_t chunk, const void *vec, size_t bytes)
{
    int dims = (int)(bytes / sizeof(float));
    if (e->n_add && dims != e->dims)
        return 0; /* a malformed vector: the store's load check reports it */
    e->dims = dims;
    if (e->n_add == e->cap_add) {
        size_t nc = e->cap_add ? e->cap_add * 2 : 64;
        int64_t *t = qr_realloc(e->add, nc * sizeof(*t));
        if (!t)
            return -1;
        e->add = t;
        float *f = qr_realloc(e->vecs, nc * (size_t)dims * sizeof(float));
        if (!f)
            return -1;
        e->vecs = f;
        e->cap_add = nc;
    }
    e->add[e->n_add] = chunk;
    memcpy(e->vecs + e->n_add * (size_t)dims, vec, (size_t)dims * sizeof(float));
    e->n_add++;
    return 0;
}

/* Run sql (one ? parameter) for each id; with ixs, each result row (index id, chunk id)
 * is a chunk to take out of that index's in-memory graph. */
static quire_status each_id(quire_store *st, const char *sql, const long long *ids, size_t n,
                            rp_ixs *ixs, const char *what, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, what);
    quire_status rc = QUIRE_OK;
    for (size_t i = 0; i < n && rc == QUIRE_OK; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, ids[i]);
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW && rc == QUIRE_OK) {
            rp_ix *e = ixs ? ix_get(ixs, sqlite3_column_int64(s, 0)) : NULL;
            if (ixs && (!e || ix_rm(e, sqlite3_column_int64(s, 1)) != 0))
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        }
        if (rc == QUIRE_OK && step != SQLITE_DONE)
            rc = qr_store_sqlerr(st, err, what);
    }
    sqlite3_finalize(s);
    return rc;
}

typedef struct rp_kv {
    const char *key, *val; /* val NULL: delete the key */
} rp_kv;

/* Apply one group (and, when colls/idxs are given, the collections and indexes) and the
 * meta keys in one SQLite transaction; then update the loaded HNSW graphs. */
static quire_status apply(quire_store *st, const PGresult *colls, const PGresult *idxs,
                          const rp_group *g, const rp_kv *kv, int nkv, long long *docs_applied,
                          quire_error *err)
{
    rp_ixs ixs = {0};
    long long *gone = NULL;
    size_t n_gone = 0;
    sqlite3_stmt *s = NULL;
    qr_buf hex;
    qr_buf_init(&hex, 0);
    pthread_mutex_lock(&st->lock);
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        goto out;
    if (colls && idxs && (rc = sync_meta(st, colls, idxs, &gone, &n_gone, err)) != QUIRE_OK)
        goto fail;
    if (g && g->n) {
        /* the vectors the touched documents have in the cache, then the documents */
        if ((rc = each_id(st,
                          "SELECT v.index_id, v.chunk_id FROM chunks c JOIN vectors v"
                          " ON v.chunk_id = c.id WHERE c.document_id = ?",
                          g->ids, g->n, &ixs, "reading the cache", err)) != QUIRE_OK ||
            (rc = each_id(st, "DELETE FROM documents WHERE id = ?", g->ids, g->n, NULL,
                          "removing a document from the cache", err)) != QUIRE_OK)
            goto fail;
        if ((rc = insert_rows(st,
                              "INSERT INTO documents(id, collection_id, path, sha256, size,"
                              " pages, failed_pages, converted_at, report, meta)"
                              " VALUES (?,?,?,?,?,?,?,?,?,?)",
                              "iittiiittt", g->docs, "copying documents", err)) != QUIRE_OK ||
            (rc = insert_rows(st,
                              "INSERT INTO chunks(id, document_id, seq, page_start, page_end,"
                              " heading, text, n_tokens) VALUES (?,?,?,?,?,?,?,?)",
                              "iiiiitti", g->chunks, "copying chunks", err)) != QUIRE_OK)
            goto fail;
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO vectors(index_id, chunk_id, vec) VALUES (?,?,?)", -1,
                               &s, NULL) != SQLITE_OK) {
            rc = qr_store_sqlerr(st, err, "copying vectors");
            goto fail;
        }
        for (int i = 0; i < PQntuples(g->vecs); i++) {
            long long ix = strtoll(PQgetvalue(g->vecs, i, 0), NULL, 10);
            long long ch = strtoll(PQgetvalue(g->vecs, i, 1), NULL, 10);
            if (unhex_bytea(PQgetvalue(g->vecs, i, 2), (size_t)PQgetlength(g->vecs, i, 2), &hex)) {
                rc = hex.failed ? qr_err(err, QUIRE_NOMEM, "out of memory")
                                : qr_err(err, QUIRE_FORMAT,
                                         "vector of chunk %lld: not hex bytea output", ch);
                goto fail;
            }
            sqlite3_reset(s);
            sqlite3_bind_int64(s, 1, ix);
            sqlite3_bind_int64(s, 2, ch);
            sqlite3_bind_blob(s, 3, hex.data ? hex.data : "", (int)hex.len, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE) {
                rc = qr_store_sqlerr(st, err, "copying vectors");
                goto fail;
            }
            rp_ix *e = ix_get(&ixs, ix);
            if (!e || ix_add(e, ch, hex.data, hex.len) != 0) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto fail;
            }
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    for (int i = 0; i < nkv; i++)
        if ((rc = meta_set(st, kv[i].key, kv[i].val, err)) != QUIRE_OK)
            goto fail;
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK)
        goto fail;
    if (docs_applied && g)
        *docs_applied += (long long)g->n;
    for (size_t i = 0; i < n_gone; i++)
        qr_store_index_unload(st, gone[i]);
    /* the in-memory graphs: only of indexes that still exist */
    for (int i = 0; i < ixs.n; i++) {
        rp_ix *e = &ixs.v[i];
        int dropped = 0;
        for (size_t k = 0; k < n_gone; k++)
            dropped |= gone[k] == e->id;
        if (!dropped)
            qr_store_index_apply(st, e->id, e->rm, e->n_rm, e->add, e->vecs, e->n_add);
    }
    goto out;
fail:
    sqlite3_finalize(s);
    qr_store_exec(st, "ROLLBACK", NULL);
out:
    pthread_mutex_unlock(&st->lock);
    qr_buf_free(&hex);
    qr_free(gone);
    ixs_free(&ixs);
    return rc;
}

/* ---- the follower ------------------------------------------------------------------- */

static quire_status rp_connect(qr_replica *r, quire_error *err)
{
    if (r->c && !qr_pg_broken(r->c))
        return QUIRE_OK;
    if (r->c)
        PQfinish(r->c);
    r->c = NULL;
    quire_status rc = qr_pg_connect(r->url, "quire-replica", 0, &r->c, err);
    if (rc != QUIRE_OK)
        return rc;
    if ((rc = qr_pg_exec(r->c, "SET bytea_output = 'hex'", err, "setting up the session")) !=
        QUIRE_OK)
        return rc;
    /* the feed came with schema 3; an older database has none until a writer migrates it */
    PGresult *vr = qr_pg_query(r->c, "SELECT coalesce(max(version), 0) FROM quire_schema", 0,
                               NULL, err, "reading the schema version", &rc);
    if (!vr)
        return rc;
    int ver = (int)strtol(PQgetvalue(vr, 0, 0), NULL, 10);
    PQclear(vr);
    if (ver < 3) {
        char where[320];
        qr_pg_where(r->c, where, sizeof where);
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s has quire schema version %d, which has no change feed for replicas "
                      "(version 3): run any quire enqueue, worker or ingest on it once to "
                      "migrate it",
                      where, ver);
    }
    /* which database this is: a cache made from another one is refused */
    PGresult *res = PQexec(r->c, "SELECT (SELECT system_identifier::text FROM pg_control_system())"
                                 " || '/' || current_database()");
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(r->source, sizeof r->source, "%s", PQgetvalue(res, 0, 0));
    else {
        PQclear(res);
        res = PQexec(r->c, "SELECT current_database()");
        if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            snprintf(r->source, sizeof r->source, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return QUIRE_OK;
}

static quire_status read_meta(PGconn *c, PGresult **colls, PGresult **idxs, quire_error *err)
{
    quire_status rc = QUIRE_OK;
    *idxs = NULL;
    if (!(*colls = qr_pg_query(c, SQL_COLLS, 0, NULL, err, "reading collections", &rc)))
        return rc;
    if (!(*idxs = qr_pg_query(c, SQL_INDEXES, 0, NULL, err, "reading indexes", &rc))) {
        PQclear(*colls);
        *colls = NULL;
    }
    return rc;
}

static quire_status begin_read(PGconn *c, quire_error *err)
{
    return qr_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err,
                      "starting a read");
}

/* One bootstrap batch. *done = 1 when the copy is complete (the horizon then set). */
static quire_status boot_step(qr_replica *r, int *done, quire_error *err)
{
    char h0[32], last[32];
    *done = 0;
    pthread_mutex_lock(&r->st->lock);
    int have_h0 = meta_get(r->st, "replica.h0", h0, sizeof h0);
    if (!meta_get(r->st, "replica.boot_last", last, sizeof last))
        snprintf(last, sizeof last, "0");
    pthread_mutex_unlock(&r->st->lock);
    quire_status rc;
    PGresult *res = NULL, *colls = NULL, *idxs = NULL;
    if (!have_h0) { /* before anything is read: the feed restarts from here */
        res = qr_pg_query(r->c, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", 0, NULL,
                          err, "reading the feed horizon", &rc);
        if (!res)
            return rc;
        snprintf(h0, sizeof h0, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        rp_kv kv[3] = {{"replica.source", r->source}, {"replica.h0", h0},
                       {"replica.boot_last", "0"}};
        if ((rc = apply(r->st, NULL, NULL, NULL, kv, 3, NULL, err)) != QUIRE_OK)
            return rc;
    }
    rp_group g = {0};
    if ((rc = begin_read(r->c, err)) != QUIRE_OK)
        return rc;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", r->batch);
    const char *v[2] = {last, lim};
    res = qr_pg_query(r->c,
                      "SELECT id FROM documents WHERE id > $1::bigint ORDER BY id LIMIT $2::int",
                      2, v, err, "reading document ids", &rc);
    if (!res)
        goto fail;
    g.n = (size_t)PQntuples(res);
    g.ids = qr_calloc(g.n ? g.n : 1, sizeof(*g.ids));
    if (!g.ids) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < g.n; i++)
        g.ids[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    if ((rc = read_meta(r->c, &colls, &idxs, err)) != QUIRE_OK)
        goto fail;
    if (g.n && (rc = read_group(r->c, &g, err)) != QUIRE_OK)
        goto fail;
    if ((rc = qr_pg_exec(r->c, "COMMIT", err, "ending a read")) != QUIRE_OK)
        goto out;
    long long rows = group_rows(&g) + PQntuples(colls) + PQntuples(idxs);
    char nl[32];
    if (g.n)
        snprintf(nl, sizeof nl, "%lld", g.ids[g.n - 1]);
    rp_kv fin[4] = {{"replica.horizon", h0}, {"replica.h0", NULL}, {"replica.boot_last", NULL},
                    {"replica.seq", NULL}};
    rp_kv more[1] = {{"replica.boot_last", nl}};
    long long docs = 0;
    rc = apply(r->st, colls, idxs, &g, g.n ? more : fin, g.n ? 1 : 4, &docs, err);
    if (rc == QUIRE_OK) {
        pthread_mutex_lock(&r->mu);
        r->stats.bootstrap_rows += rows;
        r->stats.docs_applied += docs;
        if (!g.n) {
            r->stats.bootstrapped = 1;
            snprintf(r->stats.horizon, sizeof r->stats.horizon, "%s", h0);
        }
        pthread_mutex_unlock(&r->mu);
        *done = !g.n;
    }
    goto out;
fail:
    qr_pg_exec(r->c, "ROLLBACK", NULL, "");
out:
    PQclear(res);
    PQclear(colls);
    PQclear(idxs);
    group_clear(&g);
    qr_free(g.ids);
    return rc;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* One batch of the feed, in its own short PostgreSQL transaction and its own SQLite
 * transaction. The position is (replica.horizon, replica.seq): every change ordered by
 * (xid, seq) up to it is applied, and its xid is below some snapshot's xmin, so no row
 * can still appear before it. A batch reads at most r->batch rows after the position
 * with xid below this snapshot's xmin h (rows there are final: their transactions have
 * all ended); a full batch moves the position to its last row and sets *more (the caller
 * reads the next batch at once: a long backlog is read in bounded pieces, and a kill -9
 * in the middle keeps what was applied). A short batch means everything below h is read:
 * the rows already visible at or above h (transactions that committed while an older one
 * is still open) are applied too, paged in the same snapshot, and the position becomes
 * (h, 0), so they are read again next time (applying is idempotent). */
static quire_status feed_step(qr_replica *r, int *more, quire_error *err)
{
    char h[32], sq[32], hnew[32], cx[32], cs[32];
    *more = 0;
    pthread_mutex_lock(&r->st->lock);
    meta_get(r->st, "replica.horizon", h, sizeof h);
    if (!meta_get(r->st, "replica.seq", sq, sizeof sq) || !sq[0])
        snprintf(sq, sizeof sq, "0");
    pthread_mutex_unlock(&r->st->lock);
    double t_snap = qr_now();
    quire_status rc = begin_read(r->c, err);
    if (rc != QUIRE_OK)
        return rc;
    PGresult *res = NULL, *colls = NULL, *idxs = NULL;
    rp_group g = {0};
    long long rows = 0, docs = 0;
    int tail = 0, applied = 0;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", r->batch);
    /* the first statement takes the transaction's snapshot: its xmin bounds the batch */
    res = qr_pg_query(r->c, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", 0, NULL, err,
                      "reading the feed horizon", &rc);
    if (!res)
        goto fail;
    snprintf(hnew, sizeof hnew, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    snprintf(cx, sizeof cx, "%s", h);
    snprintf(cs, sizeof cs, "%s", sq);
    for (;;) {
        const char *v[4] = {cx, cs, hnew, lim};
        res = qr_pg_query(r->c,
                          tail ? "SELECT xid::text, seq::text, op, coalesce(document_id, 0)"
                                 " FROM changes WHERE xid >= $1::xid8"
                                 " AND (xid, seq) > ($1::xid8, $2::bigint) AND $3::text <> ''"
                                 " ORDER BY xid, seq LIMIT $4::int"
                               : "SELECT xid::text, seq::text, op, coalesce(document_id, 0)"
                                 " FROM changes WHERE xid >= $1::xid8"
                                 " AND (xid, seq) > ($1::xid8, $2::bigint) AND xid < $3::xid8"
                                 " ORDER BY xid, seq LIMIT $4::int",
                          4, v, err, "reading the change feed", &rc);
        if (!res)
            goto fail;
        int nr = PQntuples(res), meta = 0;
        rows += nr;
        qr_free(g.ids);
        g.ids = qr_calloc(nr ? (size_t)nr : 1, sizeof(*g.ids));
        g.n = 0;
        if (!g.ids) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < nr; i++) {
            if (PQgetvalue(res, i, 2)[0] == 'm')
                meta = 1;
            else
                g.ids[g.n++] = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        }
        int full = nr == r->batch;
        if (nr) {
            snprintf(cx, sizeof cx, "%s", PQgetvalue(res, nr - 1, 0));
            snprintf(cs, sizeof cs, "%s", PQgetvalue(res, nr - 1, 1));
        }
        PQclear(res);
        res = NULL;
        qsort(g.ids, g.n, sizeof(*g.ids), cmp_ll);
        size_t u = 0;
        for (size_t i = 0; i < g.n; i++)
            if (!u || g.ids[u - 1] != g.ids[i])
                g.ids[u++] = g.ids[i];
        g.n = u;
        if (nr) {
            if (meta && (rc = read_meta(r->c, &colls, &idxs, err)) != QUIRE_OK)
                goto fail;
            if (colls)
                rows += PQntuples(colls) + PQntuples(idxs);
            if (g.n && (rc = read_group(r->c, &g, err)) != QUIRE_OK)
                goto fail;
            rows += group_rows(&g);
            int at_row = !tail && full; /* the position: this batch's last row, or (h, 0) */
            rp_kv kv[2] = {{"replica.horizon", at_row ? cx : hnew},
                           {"replica.seq", at_row ? cs : NULL}};
            rc = apply(r->st, colls, idxs, g.n ? &g : NULL, kv, 2, &docs, err);
            group_clear(&g);
            PQclear(colls);
            PQclear(idxs);
            colls = idxs = NULL;
            if (rc != QUIRE_OK)
                goto fail;
            applied = 1;
        }
        if (!tail && full) {
            *more = 1; /* the next batch in a new transaction */
            break;
        }
        if (tail && !full)
            break;
        if (!tail) {
            /* everything below hnew is read: now the visible rows at or above it */
            tail = 1;
            snprintf(cx, sizeof cx, "%s", hnew);
            snprintf(cs, sizeof cs, "0");
            if (!applied && strcmp(h, hnew) != 0) {
                /* nothing below hnew: the position moves up without a row to apply */
                rp_kv kv[2] = {{"replica.horizon", hnew}, {"replica.seq", NULL}};
                if ((rc = apply(r->st, NULL, NULL, NULL, kv, 2, NULL, err)) != QUIRE_OK)
                    goto fail;
            }
        }
    }
    if ((rc = qr_pg_exec(r->c, "COMMIT", err, "ending a read")) != QUIRE_OK)
        goto out;
    pthread_mutex_lock(&r->st->lock);
    meta_get(r->st, "replica.horizon", h, sizeof h);
    pthread_mutex_unlock(&r->st->lock);
    pthread_mutex_lock(&r->mu);
    r->stats.feed_rows += rows;
    r->stats.docs_applied += docs;
    r->stats.windows++;
    if (!*more)
        r->stats.applied_at = t_snap; /* caught up as of this snapshot */
    snprintf(r->stats.horizon, sizeof r->stats.horizon, "%s", h);
    pthread_mutex_unlock(&r->mu);
    goto out;
fail:
    qr_pg_exec(r->c, "ROLLBACK", NULL, "");
out:
    PQclear(res);
    PQclear(colls);
    PQclear(idxs);
    group_clear(&g);
    qr_free(g.ids);
    return rc;
}

/* Tell PostgreSQL how far this replica is (for quire status), now and then. */
static void report_horizon(qr_replica *r)
{
    if (qr_now() - r->last_report < 5.0)
        return;
    r->last_report = qr_now();
    qr_replica_stats s;
    qr_replica_get_stats(r, &s);
    if (!s.horizon[0])
        return;
    char lag[32], rows[32];
    snprintf(lag, sizeof lag, "%.3f", s.lag_s);
    snprintf(rows, sizeof rows, "%lld", s.bootstrap_rows);
    const char *v[4] = {r->name, s.horizon, lag, rows};
    quire_status rc;
    PGresult *res = qr_pg_query(r->c,
                                "INSERT INTO replicas(name, horizon, lag_s, bootstrap_rows, seen_at)"
                                " VALUES ($1, $2::xid8, $3::float8, $4::bigint, now())"
                                " ON CONFLICT (name) DO UPDATE SET horizon = excluded.horizon,"
                                " lag_s = excluded.lag_s,"
                                " bootstrap_rows = excluded.bootstrap_rows, seen_at = now()",
                                4, v, NULL, "", &rc);
    PQclear(res);
}

/* Check the cache belongs to this database, or is new (lock not held). */
static quire_status check_cache(qr_replica *r, quire_error *err)
{
    char src[160], hz[32], h0[32];
    pthread_mutex_lock(&r->st->lock);
    int has_src = meta_get(r->st, "replica.source", src, sizeof src);
    int has_h = meta_get(r->st, "replica.horizon", hz, sizeof hz);
    int has_h0 = meta_get(r->st, "replica.h0", h0, sizeof h0);
    long long nd = count_rows(r->st, "SELECT count(*) FROM documents");
    long long nc = count_rows(r->st, "SELECT count(*) FROM collections");
    pthread_mutex_unlock(&r->st->lock);
    if (!has_src && (nd > 0 || nc > 0))
        return qr_err(err, QUIRE_INVALID_ARG,
                      "%s holds a store that is not a replica cache (%lld documents, no "
                      "replica.source): give --cache a new file",
                      r->st->path, nd);
    if (has_src && strcmp(src, r->source) != 0)
        return qr_err(err, QUIRE_INVALID_ARG,
                      "%s is the cache of another PostgreSQL database (%s, not %s): give "
                      "--cache a new file",
                      r->st->path, src, r->source);
    pthread_mutex_lock(&r->mu);
    r->stats.bootstrapped = has_h && !has_h0;
    if (has_h)
        snprintf(r->stats.horizon, sizeof r->stats.horizon, "%s", hz);
    pthread_mutex_unlock(&r->mu);
    return QUIRE_OK;
}

static quire_status rp_new(const char *url, quire_store *st, qr_replica **out, quire_error *err)
{
    *out = NULL;
    qr_replica *r = qr_calloc(1, sizeof *r);
    if (!r || !(r->url = qr_strdup(url))) {
        qr_free(r);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    r->st = st;
    r->poll_s = 0.5;
    r->batch = RP_BATCH;
    const char *eb = getenv("QUIRE_REPLICA_BATCH");
    if (eb) {
        char *end = NULL;
        long v = strtol(eb, &end, 10);
        if (end != eb && *end == '\0' && v >= 1 && v <= 100000)
            r->batch = (int)v;
    }
    r->stats.lag_s = -1;
    pthread_mutex_init(&r->mu, NULL);
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(r->name, sizeof r->name, "%s:%s", host, st->path);
    *out = r;
    return QUIRE_OK;
}

static void rp_free(qr_replica *r)
{
    if (!r)
        return;
    if (r->c)
        PQfinish(r->c);
    pthread_mutex_destroy(&r->mu);
    qr_free(r->url);
    qr_free(r);
}

/* Bootstrap (or resume one) to the end, then one window: the cache is then PostgreSQL as
 * of that window's snapshot. */
static quire_status catch_up(qr_replica *r, quire_error *err)
{
    quire_status rc = rp_connect(r, err);
    if (rc == QUIRE_OK)
        rc = check_cache(r, err);
    int done = r->stats.bootstrapped;
    while (rc == QUIRE_OK && !done && !atomic_load(&r->stop))
        rc = boot_step(r, &done, err);
    int more = 1;
    while (rc == QUIRE_OK && done && more && !atomic_load(&r->stop))
        rc = feed_step(r, &more, err);
    return rc;
}

quire_status qr_replica_sync(const char *url, quire_store *st, qr_replica_stats *stats,
                             quire_error *err)
{
    qr_replica *r = NULL;
    quire_status rc = rp_new(url, st, &r, err);
    if (rc != QUIRE_OK)
        return rc;
    rc = catch_up(r, err);
    if (rc == QUIRE_OK)
        report_horizon(r);
    if (stats)
        qr_replica_get_stats(r, stats);
    rp_free(r);
    return rc;
}

static void *follow(void *arg)
{
    qr_replica *r = arg;
    double backoff = 0.5;
    int more = 0;
    while (!atomic_load(&r->stop)) {
        more = 0;
        quire_error e = {0, ""};
        quire_status rc = rp_connect(r, &e);
        if (rc == QUIRE_OK && r->need_check) {
            rc = check_cache(r, &e);
            r->need_check = rc != QUIRE_OK;
        }
        if (rc != QUIRE_OK) {
            /* reported below */
        } else if (!r->stats.bootstrapped) {
            rc = check_cache(r, &e);
            int done = 0;
            while (rc == QUIRE_OK && !done && !atomic_load(&r->stop))
                rc = boot_step(r, &done, &e);
        } else {
            rc = feed_step(r, &more, &e);
        }
        if (rc == QUIRE_OK) {
            report_horizon(r);
            backoff = 0.5;
        } else {
            qr_log(QUIRE_LOG_WARN, "search replica: %s (retrying in %.1f s)", e.msg, backoff);
            stat_error(r, e.msg);
            if (e.code == QUIRE_INVALID_ARG || e.code == QUIRE_UNSUPPORTED)
                break; /* the cache is not ours, or the schema has no feed: no retrying */
            if (r->c && qr_pg_broken(r->c)) {
                PQfinish(r->c);
                r->c = NULL;
            }
        }
        if (rc == QUIRE_OK && more)
            continue; /* a backlog: its next batch at once */
        double wait = rc == QUIRE_OK ? r->poll_s : backoff;
        if (rc != QUIRE_OK)
            backoff = QR_MIN(backoff * 2, 10.0);
        for (double t = 0; t < wait && !atomic_load(&r->stop); t += 0.02) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

quire_status qr_replica_start(const char *url, quire_store *st, double poll_s,
                              qr_replica **out, quire_error *err)
{
    qr_replica *r = NULL;
    quire_status rc = rp_new(url, st, &r, err);
    if (rc != QUIRE_OK)
        return rc;
    if (poll_s > 0)
        r->poll_s = poll_s;
    /* first contact in the caller: a bad URL or a foreign cache fails at start; a server
     * that cannot be reached does not stop a warm cache from answering (it retries) */
    rc = rp_connect(r, err);
    if (rc == QUIRE_OK) {
        rc = check_cache(r, err);
    } else if (rc == QUIRE_IO) {
        char hz[32], h0[32];
        pthread_mutex_lock(&st->lock);
        int warm = meta_get(st, "replica.horizon", hz, sizeof hz) &&
                   !meta_get(st, "replica.h0", h0, sizeof h0);
        pthread_mutex_unlock(&st->lock);
        if (warm) {
            qr_log(QUIRE_LOG_WARN,
                   "search replica: %s (serving %s as of feed horizon %s; retrying)",
                   err ? err->msg : "PostgreSQL unreachable", st->path, hz);
            r->stats.bootstrapped = 1;
            snprintf(r->stats.horizon, sizeof r->stats.horizon, "%s", hz);
            r->need_check = 1;
            rc = QUIRE_OK;
        }
    }
    if (rc != QUIRE_OK) {
        rp_free(r);
        return rc;
    }
    r->stats.started_at = qr_now();
    if (pthread_create(&r->thread, NULL, follow, r) != 0) {
        rp_free(r);
        return qr_err(err, QUIRE_ERROR, "cannot start the replica thread");
    }
    r->started = 1;
    *out = r;
    return QUIRE_OK;
}

void qr_replica_get_stats(qr_replica *r, qr_replica_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
    double since = out->applied_at > 0 ? out->applied_at : out->started_at;
    out->lag_s = since > 0 ? qr_now() - since : -1;
}

void qr_replica_stop(qr_replica *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, 1);
    if (r->started)
        pthread_join(r->thread, NULL);
    rp_free(r);
}
