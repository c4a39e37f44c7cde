/*
 * store.c — the SQLite store: open/create with schema checks, collections and document
 * listings, document removal, and the in-memory HNSW indexes (load with repair, save).
 *
 * Schema (version 1; PRAGMA application_id 'quir', PRAGMA user_version = version):
 *   meta(key, value)                       created_by, created_at
 *   collections(id, name, created_at, chunk_tokens, overlap, active_index)
 *   indexes(id, collection_id, state building|active|retired, model, model_dir,
 *           fingerprint, describe, dims, doc_prefix, query_prefix, hnsw_m,
 *           ef_construction, ef_search, created_at)
 *   documents(id, collection_id, path, sha256, size, pages, failed_pages, converted_at,
 *             report)                       UNIQUE(collection_id, path)
 *   chunks(id, document_id, seq, page_start, page_end, heading, text, n_tokens)
 *   chunks_fts  FTS5(heading, text), external content = chunks, kept by triggers
 *   vectors(id, index_id, chunk_id, vec float32 LE blob, vec_i8 optional)
 *   hnsw_graphs(index_id, saved_at, nodes, graph)   qr_hnsw_save blob (a cache)
 * A later release must keep reading this layout (tests/data/store-v1.db is the fixture).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"
#include "store/store_pg.h"

static const char SCHEMA_V1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE collections("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,"
    " chunk_tokens INTEGER NOT NULL, overlap INTEGER NOT NULL,"
    " active_index INTEGER);"
    "CREATE TABLE indexes("
    " id INTEGER PRIMARY KEY,"
    " collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    " state TEXT NOT NULL CHECK(state IN ('building','active','retired')),"
    " model TEXT NOT NULL, model_dir TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " describe TEXT NOT NULL DEFAULT '', dims INTEGER NOT NULL,"
    " doc_prefix TEXT NOT NULL DEFAULT '', query_prefix TEXT NOT NULL DEFAULT '',"
    " hnsw_m INTEGER NOT NULL, ef_construction INTEGER NOT NULL, ef_search INTEGER NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX indexes_coll ON indexes(collection_id);"
    "CREATE TABLE documents("
    " id INTEGER PRIMARY KEY,"
    " collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    " path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,"
    " pages INTEGER NOT NULL DEFAULT 0, failed_pages INTEGER NOT NULL DEFAULT 0,"
    " converted_at TEXT NOT NULL, report TEXT,"
    " UNIQUE(collection_id, path));"
    "CREATE TABLE chunks("
    " id INTEGER PRIMARY KEY,"
    " document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, page_start INTEGER NOT NULL, page_end INTEGER NOT NULL,"
    " heading TEXT NOT NULL, text TEXT NOT NULL, n_tokens INTEGER NOT NULL);"
    "CREATE INDEX chunks_doc ON chunks(document_id);"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(heading, text, content='chunks',"
    " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
    " INSERT INTO chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);"
    " END;"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
    " INSERT INTO chunks_fts(chunks_fts, rowid, heading, text)"
    " VALUES ('delete', old.id, old.heading, old.text); END;"
    "CREATE TABLE vectors("
    " id INTEGER PRIMARY KEY,"
    " index_id INTEGER NOT NULL REFERENCES indexes(id) ON DELETE CASCADE,"
    " chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,"
    " vec BLOB NOT NULL, vec_i8 BLOB);"
    "CREATE UNIQUE INDEX vectors_chunk ON vectors(chunk_id, index_id);"
    "CREATE INDEX vectors_index ON vectors(index_id);"
    "CREATE TABLE hnsw_graphs("
    " index_id INTEGER PRIMARY KEY REFERENCES indexes(id) ON DELETE CASCADE,"
    " saved_at TEXT NOT NULL, nodes INTEGER NOT NULL, graph BLOB NOT NULL);";

/* Version 2: per-document metadata (a JSON object) for filters and hits. */
static const char MIGRATE_V2[] = "ALTER TABLE documents ADD COLUMN meta TEXT;";

int quire_store_schema_version(void) { return QR_STORE_SCHEMA; }

static int pragma_int(quire_store *st, const char *sql, long long *out);

/* Migrates a version-1 file opened for writing (once, under the write lock; a concurrent
 * opener that migrated first is seen by the re-read). */
static quire_status migrate(quire_store *st, long long *ver, quire_error *err)
{
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        return rc;
    if (pragma_int(st, "PRAGMA user_version", ver) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "reading the schema version");
        goto fail;
    }
    if (*ver == 1) {
        if ((rc = qr_store_exec(st, MIGRATE_V2, err)) != QUIRE_OK ||
            (rc = qr_store_exec(st, "PRAGMA user_version = 2", err)) != QUIRE_OK)
            goto fail;
        *ver = 2;
        qr_log(QUIRE_LOG_INFO, "%s: store schema migrated from version 1 to 2", st->path);
    }
    return qr_store_exec(st, "COMMIT", err);
fail:
    qr_store_exec(st, "ROLLBACK", NULL);
    return rc;
}

void qr_store_now_iso(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

quire_status qr_store_sqlerr(quire_store *st, quire_error *err, const char *what)
{
    int code = st->db ? sqlite3_errcode(st->db) : SQLITE_ERROR;
    quire_status s = QUIRE_ERROR;
    switch (code & 0xff) {
    case SQLITE_NOMEM: s = QUIRE_NOMEM; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: s = QUIRE_BUSY; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: s = QUIRE_FORMAT; break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM: s = QUIRE_IO; break;
    default: break;
    }
    return qr_err(err, s, "%s: %s: %s", st->path ? st->path : "store", what,
                  st->db ? sqlite3_errmsg(st->db) : "cannot open");
}

quire_status qr_store_exec(quire_store *st, const char *sql, quire_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, sql);
    return QUIRE_OK;
}

static int pragma_int(quire_store *st, const char *sql, long long *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_ERROR;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static quire_status create_schema(quire_store *st, quire_error *err)
{
    char now[32], sql[512];
    qr_store_now_iso(now);
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        return rc;
    long long n = 0;
    /* another process may have created it meanwhile */
    if (pragma_int(st, "SELECT count(*) FROM sqlite_master", &n) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "reading the schema");
        goto fail;
    }
    if (n > 0) {
        qr_store_exec(st, "ROLLBACK", NULL);
        return QUIRE_OK;
    }
    if ((rc = qr_store_exec(st, SCHEMA_V1, err)) != QUIRE_OK ||
        (rc = qr_store_exec(st, MIGRATE_V2, err)) != QUIRE_OK)
        goto fail;
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('created_by', 'quire %s'),"
             " ('created_at', '%s');"
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             quire_version_str(), now, QR_STORE_APP_ID, QR_STORE_SCHEMA);
    if ((rc = qr_store_exec(st, sql, err)) != QUIRE_OK)
        goto fail;
    return qr_store_exec(st, "COMMIT", err);
fail:
    qr_store_exec(st, "ROLLBACK", NULL);
    return rc;
}

quire_status quire_store_open(const char *path, int flags, quire_store **out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_open: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return qr_err(err, QUIRE_INVALID_ARG, "store: empty path");
    quire_status rc = qr_lib_init(err);
    if (rc != QUIRE_OK)
        return rc;
    quire_store *st = qr_calloc(1, sizeof(*st));
    if (!st)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    st->readonly = (flags & QUIRE_STORE_READONLY) != 0;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        qr_free(st);
        return qr_err(err, QUIRE_ERROR, "store: cannot create a mutex");
    }
    st->path = qr_strdup(path);
    if (!st->path) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    if (qr_pg_is_url(path)) { /* the PostgreSQL backend (src/store/pg/pgstore.c) */
        if ((rc = qr_pg_store_open(st, path, err)) != QUIRE_OK)
            goto fail;
        *out = st;
        return QUIRE_OK;
    }
    if (st->readonly && !qr_file_exists(path)) {
        rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no such store", path);
        goto fail;
    }
    int oflags = (st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                 SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "cannot open");
        if (QUIRE_STATUS_PRIMARY(rc) == QUIRE_ERROR)
            rc = QUIRE_IO;
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 15000);
    long long app = 0, ver = 0, n = 0;
    if (pragma_int(st, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(st, "PRAGMA user_version", &ver) != SQLITE_OK ||
        pragma_int(st, "SELECT count(*) FROM sqlite_master", &n) != SQLITE_OK) {
        int c = sqlite3_errcode(st->db);
        if (c == SQLITE_NOTADB || c == SQLITE_CORRUPT)
            rc = qr_err(err, QUIRE_FORMAT, "%s: not a quire store (not an SQLite database)", path);
        else
            rc = qr_store_sqlerr(st, err, "reading the header");
        goto fail;
    }
    if (n == 0 && app == 0) {
        if (st->readonly) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: empty file, not a quire store", path);
            goto fail;
        }
        if ((rc = qr_store_exec(st, "PRAGMA journal_mode=WAL", err)) != QUIRE_OK)
            goto fail;
        if ((rc = create_schema(st, err)) != QUIRE_OK)
            goto fail;
        if (pragma_int(st, "PRAGMA application_id", &app) != SQLITE_OK ||
            pragma_int(st, "PRAGMA user_version", &ver) != SQLITE_OK) {
            rc = qr_store_sqlerr(st, err, "reading the header");
            goto fail;
        }
    }
    if (app != QR_STORE_APP_ID) {
        rc = qr_err(err, QUIRE_FORMAT, "%s: an SQLite database but not a quire store", path);
        goto fail;
    }
    if (ver > QR_STORE_SCHEMA || ver < 1) {
        rc = qr_err(err, QUIRE_FORMAT,
                    "%s: store schema version %lld; this quire (%s) reads versions 1 to %d",
                    path, ver, quire_version_str(), QR_STORE_SCHEMA);
        goto fail;
    }
    if (ver < QR_STORE_SCHEMA && !st->readonly && (rc = migrate(st, &ver, err)) != QUIRE_OK)
        goto fail;
    st->schema = (int)ver;
    /* Durability: WAL with full sync — a committed document survives kill -9 and power
     * loss. Foreign keys drive the cascades (document -> chunks -> vectors). */
    if (!st->readonly &&
        (rc = qr_store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) != QUIRE_OK)
        goto fail;
    if ((rc = qr_store_exec(st, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;", err)) != QUIRE_OK)
        goto fail;
    *out = st;
    return QUIRE_OK;
fail:
    if (st->db)
        sqlite3_close(st->db);
    st->db = NULL;
    pthread_mutex_destroy(&st->lock);
    qr_free(st->path);
    qr_free(st);
    return rc;
}

static quire_status flush_locked(quire_store *st, quire_error *err)
{
    quire_status first = QUIRE_OK;
    if (st->readonly)
        return QUIRE_OK;
    for (int i = 0; i < st->n_idx; i++) {
        if (st->idx[i].changes > 0) {
            quire_status rc = qr_store_index_save(st, &st->idx[i], err);
            if (rc != QUIRE_OK && first == QUIRE_OK)
                first = rc;
        }
    }
    return first;
}

quire_status quire_store_flush(quire_store *st, quire_error *err)
{
    if (!st)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_flush: store is NULL");
    if (st->be)
        return QUIRE_OK; /* no graph is kept next to a PostgreSQL store */
    pthread_mutex_lock(&st->lock);
    quire_status rc = flush_locked(st, err);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void quire_store_close(quire_store *st)
{
    if (!st)
        return;
    if (st->be) {
        st->be->close(st);
        pthread_mutex_destroy(&st->lock);
        qr_free(st->path);
        qr_free(st);
        return;
    }
    quire_error e;
    pthread_mutex_lock(&st->lock);
    if (flush_locked(st, &e) != QUIRE_OK)
        qr_log(QUIRE_LOG_WARN, "%s (the graph will be repaired on next open)", e.msg);
    for (int i = 0; i < st->n_idx; i++)
        qr_hnsw_free(st->idx[i].hnsw);
    qr_free(st->idx);
    pthread_mutex_unlock(&st->lock);
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    qr_free(st->path);
    qr_free(st);
}

void quire_free(void *p) { qr_free(p); }

quire_status qr_store_unsupported(const quire_store *st, const char *what, quire_error *err)
{
    return qr_err(err, QUIRE_UNSUPPORTED, "%s: %s is not supported on a %s store yet", st->path,
                  what, st->be ? st->be->name : "SQLite");
}

char *qr_store_embed_text(const char *prefix, const char *heading, const char *text,
                          size_t len)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_buf_append(&b, prefix ? prefix : "", prefix ? strlen(prefix) : 0);
    if (heading && heading[0]) {
        qr_buf_append(&b, heading, strlen(heading));
        qr_buf_append(&b, "\n\n", 2);
    }
    qr_buf_append(&b, text ? text : "", text ? len : 0);
    qr_buf_putc(&b, 0);
    if (b.failed) {
        qr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

void qr_store_l2_normalize(float *v, int d)
{
    double s = 0;
    for (int i = 0; i < d; i++)
        s += (double)v[i] * v[i];
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (int i = 0; i < d; i++)
            v[i] *= inv;
    }
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

quire_status qr_store_index_get(quire_store *st, long long index_id, qr_coll *c, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    quire_status rc = QUIRE_OK;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT model, model_dir, fingerprint, dims, doc_prefix, query_prefix,"
                           " hnsw_m, ef_construction, ef_search, describe FROM indexes WHERE id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading an index");
    sqlite3_bind_int64(s, 1, index_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        copy_text(c->model, sizeof c->model, sqlite3_column_text(s, 0));
        copy_text(c->model_dir, sizeof c->model_dir, sqlite3_column_text(s, 1));
        copy_text(c->fingerprint, sizeof c->fingerprint, sqlite3_column_text(s, 2));
        c->dims = sqlite3_column_int(s, 3);
        copy_text(c->doc_prefix, sizeof c->doc_prefix, sqlite3_column_text(s, 4));
        copy_text(c->query_prefix, sizeof c->query_prefix, sqlite3_column_text(s, 5));
        c->hnsw_m = sqlite3_column_int(s, 6);
        c->ef_construction = sqlite3_column_int(s, 7);
        c->ef_search = sqlite3_column_int(s, 8);
        /* quire_model_describe ends in ", bf16" / ", int8" for those precisions */
        const char *d = (const char *)sqlite3_column_text(s, 9);
        size_t dl = d ? strlen(d) : 0;
        snprintf(c->precision, sizeof c->precision, "%s",
                 dl >= 6 && strcmp(d + dl - 6, ", bf16") == 0   ? "bf16"
                 : dl >= 6 && strcmp(d + dl - 6, ", int8") == 0 ? "int8"
                                                                : "fp32");
        if (c->dims <= 0 || c->dims > 65536 || c->hnsw_m < 2 || c->hnsw_m > 256)
            rc = qr_err(err, QUIRE_FORMAT, "%s: index %lld has invalid settings", st->path,
                        index_id);
    } else if (r == SQLITE_DONE) {
        rc = qr_err(err, QUIRE_FORMAT, "%s: index %lld is missing", st->path, index_id);
    } else {
        rc = qr_store_sqlerr(st, err, "reading an index");
    }
    sqlite3_finalize(s);
    return rc;
}

quire_status qr_store_coll_get(quire_store *st, const char *name, qr_coll *c, quire_error *err)
{
    memset(c, 0, sizeof(*c));
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, coalesce(active_index, 0), chunk_tokens, overlap"
                           " FROM collections WHERE name = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading collections");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        c->id = sqlite3_column_int64(s, 0);
        c->index_id = sqlite3_column_int64(s, 1);
        c->chunk_tokens = sqlite3_column_int(s, 2);
        c->overlap = sqlite3_column_int(s, 3);
    }
    sqlite3_finalize(s);
    if (r == SQLITE_DONE)
        return qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path, name);
    if (r != SQLITE_ROW)
        return qr_store_sqlerr(st, err, "reading collections");
    if (c->index_id)
        return qr_store_index_get(st, c->index_id, c, err);
    return QUIRE_OK;
}

quire_status qr_store_mismatch(quire_error *err, const char *collection, const qr_coll *c,
                               const quire_model *m)
{
    return qr_err(err, QUIRE_MISMATCH,
                  "collection '%s' holds vectors from model '%s' (%d dims, %s, fingerprint "
                  "%.12s); the model given is '%s' (%d dims, %s, fingerprint %.12s): use the "
                  "same model and precision, or switch with quire reindex",
                  collection, c->model, c->dims, c->precision[0] ? c->precision : "fp32",
                  c->fingerprint, quire_model_name(m), quire_model_dims(m),
                  quire_precision_name(quire_model_precision(m)), quire_model_fingerprint(m));
}

static long long count_q(quire_store *st, const char *sql, long long arg)
{
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, arg);
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

static quire_status fill_info(quire_store *st, const char *name, quire_collection_info *o,
                              quire_error *err)
{
    qr_coll c;
    quire_status rc = qr_store_coll_get(st, name, &c, err);
    if (rc != QUIRE_OK)
        return rc;
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->model, sizeof o->model, "%s", c.model);
    snprintf(o->model_dir, sizeof o->model_dir, "%s", c.model_dir);
    snprintf(o->fingerprint, sizeof o->fingerprint, "%s", c.fingerprint);
    snprintf(o->doc_prefix, sizeof o->doc_prefix, "%s", c.doc_prefix);
    snprintf(o->query_prefix, sizeof o->query_prefix, "%s", c.query_prefix);
    snprintf(o->precision, sizeof o->precision, "%s", c.dims ? c.precision : "");
    o->dims = c.dims;
    o->chunk_tokens = c.chunk_tokens;
    o->overlap = c.overlap;
    o->hnsw_m = c.hnsw_m;
    o->ef_construction = c.ef_construction;
    o->ef_search = c.ef_search;
    o->documents = (long)count_q(st, "SELECT count(*) FROM documents WHERE collection_id = ?", c.id);
    o->chunks = (long)count_q(st,
                              "SELECT count(*) FROM chunks JOIN documents d ON d.id = document_id"
                              " WHERE d.collection_id = ?",
                              c.id);
    o->vectors = c.index_id ? (long)count_q(st, "SELECT count(*) FROM vectors WHERE index_id = ?",
                                            c.index_id)
                            : 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT created_at FROM collections WHERE id = ?", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, c.id);
        if (sqlite3_step(s) == SQLITE_ROW)
            copy_text(o->created_at, sizeof o->created_at, sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    if (o->documents < 0 || o->chunks < 0 || o->vectors < 0)
        return qr_store_sqlerr(st, err, "counting");
    return QUIRE_OK;
}

quire_status quire_store_collection(quire_store *st, const char *name, quire_collection_info *out,
                                    quire_error *err)
{
    if (!st || !name || !out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_collection: NULL argument");
    if (st->be)
        return st->be->collection(st, name, out, err);
    pthread_mutex_lock(&st->lock);
    quire_status rc = fill_info(st, name, out, err);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

quire_status quire_store_collections(quire_store *st, quire_collection_info **out, int *n,
                                     quire_error *err)
{
    if (!st || !out || !n)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_collections: NULL argument");
    *out = NULL;
    *n = 0;
    if (st->be)
        return st->be->collections(st, out, n, err);
    pthread_mutex_lock(&st->lock);
    quire_status rc = QUIRE_OK;
    sqlite3_stmt *s = NULL;
    char **names = NULL;
    int nn = 0, cap = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT name FROM collections ORDER BY name", -1, &s, NULL) !=
        SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "listing collections");
        goto done;
    }
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (nn == cap) {
            int nc = cap ? cap * 2 : 8;
            char **t = qr_realloc(names, (size_t)nc * sizeof(*t));
            if (!t) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto done;
            }
            names = t;
            cap = nc;
        }
        const char *name = (const char *)sqlite3_column_text(s, 0);
        if (!name) { /* NOT NULL in the schema: only a damaged file has it */
            rc = qr_err(err, QUIRE_FORMAT, "%s: damaged store: a collection has no name",
                        st->path);
            goto done;
        }
        names[nn] = qr_strdup(name);
        if (!names[nn]) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        nn++;
    }
    if (r != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "listing collections");
        goto done;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (nn > 0) {
        quire_collection_info *info = qr_calloc((size_t)nn, sizeof(*info));
        if (!info) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < nn && rc == QUIRE_OK; i++)
            rc = fill_info(st, names[i], &info[i], err);
        if (rc != QUIRE_OK) {
            qr_free(info);
            goto done;
        }
        *out = info;
        *n = nn;
    }
done:
    sqlite3_finalize(s);
    for (int i = 0; i < nn; i++)
        qr_free(names[i]);
    qr_free(names);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void quire_document_list_free(quire_document_list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        qr_free(l->docs[i].path);
        qr_free(l->docs[i].metadata);
    }
    qr_free(l->docs);
    qr_free(l);
}

quire_status quire_store_documents(quire_store *st, const char *collection,
                                   quire_document_list **out, quire_error *err)
{
    if (!st || !out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_documents: NULL argument");
    *out = NULL;
    if (!collection)
        collection = "default";
    if (st->be)
        return st->be->documents(st, collection, out, err);
    pthread_mutex_lock(&st->lock);
    quire_status rc;
    qr_coll c;
    sqlite3_stmt *s = NULL;
    quire_document_list *l = NULL;
    if ((rc = qr_store_coll_get(st, collection, &c, err)) != QUIRE_OK)
        goto done;
    l = qr_calloc(1, sizeof(*l));
    if (!l) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(st->db,
                           st->schema >= 2
                               ? "SELECT path, sha256, size, pages, failed_pages, converted_at,"
                                 " (SELECT count(*) FROM chunks WHERE document_id = d.id), meta"
                                 " FROM documents d WHERE collection_id = ? ORDER BY path"
                               : "SELECT path, sha256, size, pages, failed_pages, converted_at,"
                                 " (SELECT count(*) FROM chunks WHERE document_id = d.id), NULL"
                                 " FROM documents d WHERE collection_id = ? ORDER BY path",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "listing documents");
        goto done;
    }
    sqlite3_bind_int64(s, 1, c.id);
    int r, cap = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (l->n == cap) {
            int nc = cap ? cap * 2 : 16;
            quire_document_info *t = qr_realloc(l->docs, (size_t)nc * sizeof(*t));
            if (!t) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto done;
            }
            l->docs = t;
            cap = nc;
        }
        quire_document_info *d = &l->docs[l->n];
        memset(d, 0, sizeof(*d));
        const char *path = (const char *)sqlite3_column_text(s, 0);
        if (!path) { /* NOT NULL in the schema: only a damaged file has it */
            rc = qr_err(err, QUIRE_FORMAT, "%s: damaged store: a document has no path",
                        st->path);
            goto done;
        }
        d->path = qr_strdup(path);
        if (!d->path) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        l->n++;
        copy_text(d->sha256, sizeof d->sha256, sqlite3_column_text(s, 1));
        d->size = sqlite3_column_int64(s, 2);
        d->pages = sqlite3_column_int(s, 3);
        d->failed_pages = sqlite3_column_int(s, 4);
        copy_text(d->converted_at, sizeof d->converted_at, sqlite3_column_text(s, 5));
        d->chunks = (long)sqlite3_column_int64(s, 6);
        if (sqlite3_column_text(s, 7) &&
            !(d->metadata = qr_strdup((const char *)sqlite3_column_text(s, 7)))) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
    }
    if (r != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "listing documents");
        goto done;
    }
    *out = l;
    l = NULL;
done:
    sqlite3_finalize(s);
    quire_document_list_free(l);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- in-memory HNSW indexes ------------------------------------------------------ */

static qr_loaded_index *find_loaded(quire_store *st, long long id)
{
    for (int i = 0; i < st->n_idx; i++)
        if (st->idx[i].id == id)
            return &st->idx[i];
    return NULL;
}

long long qr_store_data_version(quire_store *st)
{
    long long v = -1;
    if (pragma_int(st, "PRAGMA data_version", &v) != SQLITE_OK)
        return -1;
    return v;
}

void qr_store_index_unload(quire_store *st, long long index_id)
{
    for (int i = 0; i < st->n_idx; i++) {
        if (st->idx[i].id == index_id) {
            qr_hnsw_free(st->idx[i].hnsw);
            st->idx[i] = st->idx[--st->n_idx];
            return;
        }
    }
}

quire_status qr_store_index_load(quire_store *st, long long index_id, qr_loaded_index **out,
                                 quire_error *err)
{
    qr_loaded_index *li = find_loaded(st, index_id);
    if (li) {
        *out = li;
        return QUIRE_OK;
    }
    qr_coll c;
    memset(&c, 0, sizeof c);
    quire_status rc = qr_store_index_get(st, index_id, &c, err);
    if (rc != QUIRE_OK)
        return rc;
    long long n = count_q(st, "SELECT count(*) FROM vectors WHERE index_id = ?", index_id);
    if (n < 0)
        return qr_store_sqlerr(st, err, "counting vectors");
    int64_t *labels = NULL;
    float *vecs = NULL;
    void *blob = NULL;
    size_t blob_len = 0;
    sqlite3_stmt *s = NULL;
    qr_hnsw *h = NULL;
    size_t dims = (size_t)c.dims;
    if (n > 0) {
        labels = qr_calloc((size_t)n, sizeof(*labels));
        vecs = qr_calloc((size_t)n, dims * sizeof(float));
        if (!labels || !vecs) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory loading %lld vectors", n);
            goto done;
        }
    }
    if (sqlite3_prepare_v2(st->db, "SELECT chunk_id, vec FROM vectors WHERE index_id = ?", -1,
                           &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "reading vectors");
        goto done;
    }
    sqlite3_bind_int64(s, 1, index_id);
    long long got = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (got >= n)
            break; /* rows added since the count (cannot happen under our lock) */
        const void *v = sqlite3_column_blob(s, 1);
        size_t vl = (size_t)sqlite3_column_bytes(s, 1);
        if (vl != dims * sizeof(float) || !v) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: vector of chunk %lld has %zu bytes, expected %zu",
                        st->path, (long long)sqlite3_column_int64(s, 0), vl,
                        dims * sizeof(float));
            goto done;
        }
        labels[got] = sqlite3_column_int64(s, 0);
        memcpy(vecs + (size_t)got * dims, v, vl);
        got++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "reading vectors");
        goto done;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT graph FROM hnsw_graphs WHERE index_id = ?", -1, &s,
                           NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "reading the HNSW graph");
        goto done;
    }
    sqlite3_bind_int64(s, 1, index_id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        blob_len = (size_t)sqlite3_column_bytes(s, 0);
        if (blob_len) {
            blob = qr_malloc(blob_len);
            if (!blob) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto done;
            }
            memcpy(blob, sqlite3_column_blob(s, 0), blob_len);
        }
    }
    sqlite3_finalize(s);
    s = NULL;
    qr_hnsw_params hp = {c.hnsw_m, c.ef_construction, c.ef_search, 0};
    size_t repaired = 0;
    rc = qr_hnsw_load(c.dims, &hp, blob, blob_len, labels, vecs, (size_t)got, &h, &repaired, err);
    if (rc == QUIRE_FORMAT && blob) {
        qr_log(QUIRE_LOG_WARN, "%s (rebuilding the index from the stored vectors)",
               err ? err->msg : "damaged HNSW graph");
        rc = qr_hnsw_load(c.dims, &hp, NULL, 0, labels, vecs, (size_t)got, &h, &repaired, err);
        repaired = repaired ? repaired : 1;
    }
    if (rc != QUIRE_OK)
        goto done;
    if (st->n_idx == st->cap_idx) {
        int nc = st->cap_idx ? st->cap_idx * 2 : 4;
        qr_loaded_index *t = qr_realloc(st->idx, (size_t)nc * sizeof(*t));
        if (!t) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        st->idx = t;
        st->cap_idx = nc;
    }
    li = &st->idx[st->n_idx++];
    li->id = index_id;
    li->dims = c.dims;
    li->hnsw = h;
    h = NULL;
    li->changes = (long)repaired;
    li->saved_at = qr_now();
    li->data_version = qr_store_data_version(st);
    *out = li;
done:
    sqlite3_finalize(s);
    qr_hnsw_free(h);
    qr_free(blob);
    qr_free(labels);
    qr_free(vecs);
    return rc;
}

quire_status qr_store_index_save(quire_store *st, qr_loaded_index *li, quire_error *err)
{
    if (st->readonly)
        return QUIRE_OK;
    qr_buf b;
    qr_buf_init(&b, (size_t)900 << 20); /* below SQLite's 1e9-byte blob limit */
    qr_hnsw_save(li->hnsw, &b);
    if (b.failed) {
        qr_buf_free(&b);
        return qr_err(err, QUIRE_LIMIT, "%s: HNSW graph of index %lld too large to save",
                      st->path, li->id);
    }
    char now[32];
    qr_store_now_iso(now);
    sqlite3_stmt *s = NULL;
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        goto out;
    /* the index may have been dropped by a reindex in another process */
    if (count_q(st, "SELECT count(*) FROM indexes WHERE id = ?", li->id) != 1) {
        qr_store_exec(st, "ROLLBACK", NULL);
        li->changes = 0;
        goto out;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO hnsw_graphs(index_id, saved_at, nodes, graph)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "saving the HNSW graph");
        qr_store_exec(st, "ROLLBACK", NULL);
        goto out;
    }
    sqlite3_bind_int64(s, 1, li->id);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (long long)qr_hnsw_size(li->hnsw));
    sqlite3_bind_blob64(s, 4, b.data ? b.data : "", b.len, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "saving the HNSW graph");
        qr_store_exec(st, "ROLLBACK", NULL);
        goto out;
    }
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK) {
        qr_store_exec(st, "ROLLBACK", NULL);
        goto out;
    }
    li->changes = 0;
    li->saved_at = qr_now();
out:
    sqlite3_finalize(s);
    qr_buf_free(&b);
    return rc;
}

/* ---- SQLite's allocations through qr_malloc (tests: fault injection reaches SQLite) ---- */

static void *sq_malloc(int n)
{
    if (n <= 0)
        return NULL;
    uint64_t *p = qr_malloc((size_t)n + 16);
    if (!p)
        return NULL;
    p[0] = (uint64_t)n;
    return p + 2;
}

static void sq_free(void *q)
{
    if (q)
        qr_free((uint64_t *)q - 2);
}

static int sq_size(void *q) { return q ? (int)((uint64_t *)q)[-2] : 0; }

static void *sq_realloc(void *q, int n)
{
    if (!q)
        return sq_malloc(n);
    if (n <= 0)
        return NULL;
    uint64_t *p = qr_realloc((uint64_t *)q - 2, (size_t)n + 16);
    if (!p)
        return NULL;
    p[0] = (uint64_t)n;
    return p + 2;
}

static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *ud) { (void)ud; return SQLITE_OK; }
static void sq_shutdown(void *ud) { (void)ud; }

int qr_store_route_sqlite_alloc(void)
{
    static const sqlite3_mem_methods m = {sq_malloc, sq_free,  sq_realloc, sq_size,
                                          sq_roundup, sq_init, sq_shutdown, NULL};
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}

quire_status quire_store_drop_collection(quire_store *st, const char *collection,
                                         quire_error *err)
{
    if (!st || !collection)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_drop_collection: NULL argument");
    if (st->readonly)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: store opened read-only", st->path);
    if (st->be)
        return st->be->drop_collection(st, collection, err);
    pthread_mutex_lock(&st->lock);
    sqlite3_stmt *s = NULL;
    qr_coll c;
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        goto out;
    if ((rc = qr_store_coll_get(st, collection, &c, err)) != QUIRE_OK)
        goto fail;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM collections WHERE id = ?", -1, &s, NULL) !=
        SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "deleting a collection");
        goto fail;
    }
    sqlite3_bind_int64(s, 1, c.id);
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "deleting a collection");
        goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK)
        goto fail;
    /* drop the loaded indexes whose rows went with the collection */
    for (int i = st->n_idx - 1; i >= 0; i--) {
        int gone = 1;
        if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM indexes WHERE id = ?", -1, &s, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(s, 1, st->idx[i].id);
            gone = sqlite3_step(s) != SQLITE_ROW;
        }
        sqlite3_finalize(s);
        s = NULL;
        if (gone)
            qr_store_index_unload(st, st->idx[i].id);
    }
    goto out;
fail:
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}
