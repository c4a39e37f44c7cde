/*
 * pgstore.c — the PostgreSQL backend of quire_store (store_int.h, qr_store_backend):
 * quire_store_open("postgresql://...") gives a store on which quire_ingest_file,
 * quire_store_collections / _collection / _documents / _remove / _drop_collection and
 * quire_reindex work as on a SQLite file, on the schema the workers use (pg.c; created
 * or migrated under the advisory lock on a writable open). Documents are written by
 * qr_pg_write_doc, the workers' own write path (write.c), so a document ingested
 * directly and one ingested by a worker are the same rows. Search runs on a local SQLite
 * copy (quire search --db URL --cache FILE), not here.
 *
 * One connection per store, used under st->lock (the conversion and embedding of
 * quire_ingest_file run outside it); a broken connection is re-opened on the next call.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "embed/embed.h"
#include "store/pg/pg_int.h"
#include "store/store_int.h"

#define REINDEX_BATCH 256

typedef struct pgs {
    PGconn *c;
    char *url; /* as given (may hold a password): for reconnecting only */
} pgs;

static pgs *S(quire_store *st)
{
    return (pgs *)st->be_data;
}

/* The URL for messages: a password in the user part or a password= parameter becomes
 * "***". */
void qr_pg_redact_url(const char *url, char *out, size_t cap)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    size_t alen = strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *q = auth; q < auth + alen; q++)
        if (*q == '@')
            at = q;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        qr_buf_append(&b, url, (size_t)(colon + 1 - url));
        qr_buf_append(&b, "***", 3);
        url = at;
    }
    /* password=... in the query string */
    for (;;) {
        const char *pw = strstr(url, "password=");
        if (!pw || (pw != url && pw[-1] != '?' && pw[-1] != '&')) {
            if (!pw)
                break;
            qr_buf_append(&b, url, (size_t)(pw + 9 - url));
            url = pw + 9;
            continue;
        }
        qr_buf_append(&b, url, (size_t)(pw + 9 - url));
        qr_buf_append(&b, "***", 3);
        url = pw + 9 + strcspn(pw + 9, "&");
    }
    qr_buf_append(&b, url, strlen(url));
    qr_buf_putc(&b, 0);
    snprintf(out, cap, "%s", b.failed ? "postgresql://(URL)" : b.data);
    qr_buf_free(&b);
}

/* msg for the user: libpq quotes a URL it cannot parse, so every copy of url becomes its
 * redacted form; runs of white space (libpq's "\n\t") become one space. */
static void scrub(const char *msg, const char *url, const char *shown, char *out, size_t cap)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    size_t ul = strlen(url);
    for (const char *q = msg; *q;) {
        if (ul && strncmp(q, url, ul) == 0) {
            qr_buf_append(&b, shown, strlen(shown));
            q += ul;
        } else if (*q == '\n' || *q == '\t' || *q == '\r' || *q == ' ') {
            qr_buf_putc(&b, ' ');
            while (*q == '\n' || *q == '\t' || *q == '\r' || *q == ' ')
                q++;
        } else {
            qr_buf_putc(&b, *q++);
        }
    }
    qr_buf_putc(&b, 0);
    snprintf(out, cap, "%s", b.failed ? "(out of memory)" : b.data);
    qr_buf_free(&b);
}

/* The connection, re-opened when broken (lock held). */
static quire_status conn(quire_store *st, PGconn **out, quire_error *err)
{
    pgs *s = S(st);
    if (!qr_pg_broken(s->c)) {
        *out = s->c;
        return QUIRE_OK;
    }
    if (s->c)
        PQfinish(s->c);
    s->c = NULL;
    quire_error e = {0, ""};
    quire_status rc = qr_pg_connect(s->url, "quire", !st->readonly, &s->c, &e);
    if (rc != QUIRE_OK) {
        char m[sizeof e.msg];
        scrub(e.msg, s->url, st->path, m, sizeof m);
        return qr_err(err, rc, "%s: %s", st->path, m);
    }
    *out = s->c;
    return QUIRE_OK;
}

static void pg_close(quire_store *st)
{
    pgs *s = S(st);
    if (!s)
        return;
    if (s->c)
        PQfinish(s->c);
    qr_free(s->url);
    qr_free(s);
    st->be_data = NULL;
}

/* ---- collections ------------------------------------------------------------------ */

#define COLL_COLS                                                                          \
    "c.id, c.chunk_tokens, c.overlap, coalesce(c.active_index, 0), coalesce(i.model, ''),"  \
    " coalesce(i.model_dir, ''), coalesce(i.fingerprint, ''), coalesce(i.dims, 0),"         \
    " coalesce(i.doc_prefix, ''), coalesce(i.query_prefix, ''), coalesce(i.hnsw_m, 0),"     \
    " coalesce(i.ef_construction, 0), coalesce(i.ef_search, 0), coalesce(i.describe, ''),"  \
    " to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c.name"
#define COLL_FROM " FROM collections c LEFT JOIN indexes i ON i.id = c.active_index"

static long long col_ll(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void coll_row(const PGresult *r, int row, qr_coll *k)
{
    memset(k, 0, sizeof *k);
    k->id = col_ll(r, row, 0);
    k->chunk_tokens = (int)col_ll(r, row, 1);
    k->overlap = (int)col_ll(r, row, 2);
    k->index_id = col_ll(r, row, 3);
    snprintf(k->model, sizeof k->model, "%s", PQgetvalue(r, row, 4));
    snprintf(k->model_dir, sizeof k->model_dir, "%s", PQgetvalue(r, row, 5));
    snprintf(k->fingerprint, sizeof k->fingerprint, "%s", PQgetvalue(r, row, 6));
    k->dims = (int)col_ll(r, row, 7);
    snprintf(k->doc_prefix, sizeof k->doc_prefix, "%s", PQgetvalue(r, row, 8));
    snprintf(k->query_prefix, sizeof k->query_prefix, "%s", PQgetvalue(r, row, 9));
    k->hnsw_m = (int)col_ll(r, row, 10);
    k->ef_construction = (int)col_ll(r, row, 11);
    k->ef_search = (int)col_ll(r, row, 12);
    /* quire_model_describe ends in ", bf16" / ", int8" for those precisions */
    const char *d = PQgetvalue(r, row, 13);
    size_t dl = strlen(d);
    snprintf(k->precision, sizeof k->precision, "%s",
             !k->index_id                                   ? ""
             : dl >= 6 && strcmp(d + dl - 6, ", bf16") == 0 ? "bf16"
             : dl >= 6 && strcmp(d + dl - 6, ", int8") == 0 ? "int8"
                                                            : "fp32");
}

/* Collection `name` into k (lock held); QUIRE_NOT_FOUND naming it. */
static quire_status coll_get(quire_store *st, PGconn *c, const char *name, qr_coll *k,
                             quire_error *err)
{
    quire_status rc;
    const char *v[1] = {name};
    PGresult *r = qr_pg_query(c, "SELECT " COLL_COLS COLL_FROM " WHERE c.name = $1", 1, v, err,
                              "reading collections", &rc);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path, name);
    else
        coll_row(r, 0, k);
    PQclear(r);
    return rc;
}

static void info_row(const PGresult *r, int row, quire_collection_info *o)
{
    qr_coll k;
    coll_row(r, row, &k);
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", PQgetvalue(r, row, 15));
    snprintf(o->model, sizeof o->model, "%s", k.model);
    snprintf(o->model_dir, sizeof o->model_dir, "%s", k.model_dir);
    snprintf(o->fingerprint, sizeof o->fingerprint, "%s", k.fingerprint);
    snprintf(o->doc_prefix, sizeof o->doc_prefix, "%s", k.doc_prefix);
    snprintf(o->query_prefix, sizeof o->query_prefix, "%s", k.query_prefix);
    snprintf(o->precision, sizeof o->precision, "%s", k.dims ? k.precision : "");
    snprintf(o->created_at, sizeof o->created_at, "%s", PQgetvalue(r, row, 14));
    o->dims = k.dims;
    o->chunk_tokens = k.chunk_tokens;
    o->overlap = k.overlap;
    o->hnsw_m = k.hnsw_m;
    o->ef_construction = k.ef_construction;
    o->ef_search = k.ef_search;
    o->documents = (long)col_ll(r, row, 16);
    o->chunks = (long)col_ll(r, row, 17);
    o->vectors = (long)col_ll(r, row, 18);
}

/* every collection (name = NULL, sorted by name as SQLite does: bytewise) or one */
static quire_status list_colls(quire_store *st, const char *name, quire_collection_info **out,
                               int *n, quire_error *err)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    quire_status rc = conn(st, &c, err);
    PGresult *r = NULL;
    const char *v[1] = {name};
    if (rc == QUIRE_OK)
        r = qr_pg_query(c,
                        name ? "SELECT " COLL_COLS ","
                               " (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),"
                               " (SELECT count(*) FROM chunks ch JOIN documents d"
                               "  ON d.id = ch.document_id WHERE d.collection_id = c.id),"
                               " (SELECT count(*) FROM vectors v WHERE v.index_id = c.active_index)"
                               COLL_FROM " WHERE c.name = $1"
                             : "SELECT " COLL_COLS ","
                               " (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),"
                               " (SELECT count(*) FROM chunks ch JOIN documents d"
                               "  ON d.id = ch.document_id WHERE d.collection_id = c.id),"
                               " (SELECT count(*) FROM vectors v WHERE v.index_id = c.active_index)"
                               COLL_FROM " ORDER BY c.name COLLATE \"C\"",
                        name ? 1 : 0, v, err, "listing collections", &rc);
    if (r) {
        int nn = PQntuples(r);
        if (nn == 0 && name)
            rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path, name);
        else if (nn > 0 && !(*out = qr_calloc((size_t)nn, sizeof(**out))))
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        else {
            for (int i = 0; i < nn; i++)
                info_row(r, i, &(*out)[i]);
            *n = nn;
        }
    }
    PQclear(r);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static quire_status pg_collections(quire_store *st, quire_collection_info **out, int *n,
                                   quire_error *err)
{
    return list_colls(st, NULL, out, n, err);
}

static quire_status pg_collection(quire_store *st, const char *name, quire_collection_info *out,
                                  quire_error *err)
{
    quire_collection_info *one = NULL;
    int n = 0;
    quire_status rc = list_colls(st, name, &one, &n, err);
    if (rc == QUIRE_OK)
        *out = one[0];
    qr_free(one);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------- */

static quire_status pg_documents(quire_store *st, const char *collection,
                                 quire_document_list **out, quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    qr_coll k;
    PGresult *r = NULL;
    quire_document_list *l = NULL;
    quire_status rc = conn(st, &c, err);
    if (rc == QUIRE_OK)
        rc = coll_get(st, c, collection, &k, err);
    if (rc != QUIRE_OK)
        goto done;
    char cid[24];
    snprintf(cid, sizeof cid, "%lld", k.id);
    const char *v[1] = {cid};
    r = qr_pg_query(c,
                    "SELECT path, sha256, size, pages, failed_pages,"
                    " to_char(converted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                    " (SELECT count(*) FROM chunks WHERE document_id = d.id), meta"
                    " FROM documents d WHERE collection_id = $1::bigint"
                    " ORDER BY path COLLATE \"C\"",
                    1, v, err, "listing documents", &rc);
    if (!r)
        goto done;
    int n = PQntuples(r);
    if (!(l = qr_calloc(1, sizeof(*l))) ||
        (n && !(l->docs = qr_calloc((size_t)n, sizeof(*l->docs))))) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        quire_document_info *d = &l->docs[i];
        if (!(d->path = qr_strdup(PQgetvalue(r, i, 0))) ||
            (!PQgetisnull(r, i, 7) && !(d->metadata = qr_strdup(PQgetvalue(r, i, 7))))) {
            l->n = i + 1;
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        l->n = i + 1;
        snprintf(d->sha256, sizeof d->sha256, "%s", PQgetvalue(r, i, 1));
        d->size = col_ll(r, i, 2);
        d->pages = (int)col_ll(r, i, 3);
        d->failed_pages = (int)col_ll(r, i, 4);
        snprintf(d->converted_at, sizeof d->converted_at, "%s", PQgetvalue(r, i, 5));
        d->chunks = (long)col_ll(r, i, 6);
    }
    *out = l;
    l = NULL;
done:
    PQclear(r);
    quire_document_list_free(l);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static quire_status pg_remove(quire_store *st, const char *collection, const char *path,
                              quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    qr_coll k;
    memset(&k, 0, sizeof k);
    quire_status rc = conn(st, &c, err);
    if (rc == QUIRE_OK)
        rc = coll_get(st, c, collection, &k, err);
    char cid[24], real[PATH_MAX];
    snprintf(cid, sizeof cid, "%lld", k.id);
    int gone = 0;
    /* as listed, or another spelling of a file that still exists */
    for (int pass = 0; rc == QUIRE_OK && !gone && pass < 2; pass++) {
        const char *key = path;
        if (pass == 1 && !(key = realpath(path, real)))
            break;
        const char *v[2] = {cid, key};
        PGresult *r = qr_pg_query(c,
                                  "DELETE FROM documents WHERE collection_id = $1::bigint"
                                  " AND path = $2 RETURNING id",
                                  2, v, err, "removing a document", &rc);
        gone = r && PQntuples(r) > 0;
        PQclear(r);
    }
    if (rc == QUIRE_OK && !gone)
        rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no document '%s' in collection '%s'", st->path,
                    path, collection);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static quire_status pg_drop_collection(quire_store *st, const char *collection,
                                       quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    quire_status rc = conn(st, &c, err);
    if (rc == QUIRE_OK) {
        /* indexes, documents, chunks, vectors and saved graphs go by ON DELETE CASCADE */
        const char *v[1] = {collection};
        PGresult *r = qr_pg_query(c, "DELETE FROM collections WHERE name = $1 RETURNING id", 1,
                                  v, err, "deleting a collection", &rc);
        if (r && PQntuples(r) == 0)
            rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path,
                        collection);
        PQclear(r);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* The paths of rows r (path, meta) that filter w keeps: evaluated by SQLite itself on an
 * in-memory copy of the (path, meta) pairs, so json_extract's types and comparisons are
 * exactly those of a SQLite store (the filter's SQL is SQLite's, where.c). */
static quire_status where_match(const PGresult *r, const qr_where *w, char ***out, int *n_out,
                                quire_error *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sel = NULL;
    qr_buf sql;
    qr_buf_init(&sql, 0);
    qr_buf_printf(&sql, "SELECT d.path FROM documents d WHERE %s ORDER BY rowid",
                  w->sql ? w->sql : "1");
    qr_buf_putc(&sql, 0);
    char **keys = NULL;
    int n = 0;
    quire_status rc = QUIRE_OK;
    if (sql.failed) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE documents(path TEXT NOT NULL, meta TEXT)", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO documents(path, meta) VALUES (?, ?)", -1, &ins,
                           NULL) != SQLITE_OK) {
        rc = qr_err(err, QUIRE_NOMEM, "filtering documents: %s",
                    db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    int nr = PQntuples(r);
    for (int i = 0; i < nr; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, PQgetvalue(r, i, 0), -1, SQLITE_STATIC);
        if (PQgetisnull(r, i, 1))
            sqlite3_bind_null(ins, 2);
        else
            sqlite3_bind_text(ins, 2, PQgetvalue(r, i, 1), -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = qr_err(err, QUIRE_NOMEM, "filtering documents: %s", sqlite3_errmsg(db));
            goto out;
        }
    }
    if (sqlite3_prepare_v2(db, sql.data, -1, &sel, NULL) != SQLITE_OK) {
        rc = qr_err(err, QUIRE_ERROR, "filtering documents: %s", sqlite3_errmsg(db));
        goto out;
    }
    qr_where_bind(w, sel, 1);
    int cap = 0, step;
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            char **t = qr_realloc(keys, (size_t)nc * sizeof(*t));
            if (!t) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto out;
            }
            keys = t;
            cap = nc;
        }
        const char *k = (const char *)sqlite3_column_text(sel, 0);
        if (!(keys[n] = qr_strdup(k ? k : ""))) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (step != SQLITE_DONE)
        rc = qr_err(err, QUIRE_ERROR, "filtering documents: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    qr_buf_free(&sql);
    if (rc != QUIRE_OK) {
        for (int i = 0; i < n; i++)
            qr_free(keys[i]);
        qr_free(keys);
        return rc;
    }
    *out = keys;
    *n_out = n;
    return QUIRE_OK;
}

static quire_status pg_remove_where(quire_store *st, const char *collection, const qr_where *w,
                                    int *removed, quire_error *err)
{
    if (removed)
        *removed = 0;
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    qr_coll k;
    PGresult *r = NULL;
    char **keys = NULL;
    int n = 0, in_tx = 0, gone = 0;
    quire_status rc = conn(st, &c, err);
    if (rc == QUIRE_OK)
        rc = qr_pg_exec(c, "BEGIN", err, "starting the transaction");
    in_tx = rc == QUIRE_OK;
    if (rc == QUIRE_OK)
        rc = coll_get(st, c, collection, &k, err);
    if (rc != QUIRE_OK)
        goto done;
    char cid[24];
    snprintf(cid, sizeof cid, "%lld", k.id);
    const char *v[2] = {cid, NULL};
    /* the documents as they are now, locked: a concurrent writer waits for the removal */
    r = qr_pg_query(c,
                    "SELECT path, meta FROM documents WHERE collection_id = $1::bigint"
                    " ORDER BY path COLLATE \"C\" FOR UPDATE",
                    1, v, err, "filtering documents", &rc);
    if (!r || (rc = where_match(r, w, &keys, &n, err)) != QUIRE_OK)
        goto done;
    for (int i = 0; i < n && rc == QUIRE_OK; i++) {
        v[1] = keys[i];
        PGresult *d = qr_pg_query(c,
                                  "DELETE FROM documents WHERE collection_id = $1::bigint"
                                  " AND path = $2",
                                  2, v, err, "removing a document", &rc);
        if (d)
            gone += (int)strtol(PQcmdTuples(d), NULL, 10);
        PQclear(d);
    }
    if (rc == QUIRE_OK && (rc = qr_pg_exec(c, "COMMIT", err, "committing the removal")) ==
                              QUIRE_OK) {
        in_tx = 0;
        if (removed)
            *removed = gone;
    }
done:
    if (in_tx && !qr_pg_broken(c))
        qr_pg_exec(c, "ROLLBACK", NULL, "");
    PQclear(r);
    for (int i = 0; i < n; i++)
        qr_free(keys[i]);
    qr_free(keys);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- export (docs/export.md): the lines a SQLite store of the same rows writes --------- */

/* documents are fetched 200 at a time (FETCH 200), their chunks in one query */

/* The documents of collection k (name) with their chunks, in id order as SQLite exports
 * (lock held, inside the read-only snapshot). */
static quire_status export_coll(quire_store *st, PGconn *c, const char *name, const qr_coll *k,
                                qr_export_ctx *x, quire_export_result *res, quire_error *err)
{
    char sql[512], ix[24];
    snprintf(sql, sizeof sql,
             "DECLARE qx NO SCROLL CURSOR FOR SELECT id, path, sha256, size, pages,"
             " failed_pages, to_char(converted_at AT TIME ZONE 'UTC',"
             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), report, meta FROM documents"
             " WHERE collection_id = %lld ORDER BY id",
             k->id);
    snprintf(ix, sizeof ix, "%lld", k->index_id);
    quire_status rc = qr_pg_exec(c, sql, err, "exporting documents");
    qr_buf ids, vb;
    qr_buf_init(&ids, 0);
    qr_buf_init(&vb, 0);
    while (rc == QUIRE_OK) {
        PGresult *d = qr_pg_query(c, "FETCH 200 FROM qx", 0, NULL, err,
                                  "exporting documents", &rc);
        if (!d)
            break;
        int nd = PQntuples(d);
        if (nd == 0) {
            PQclear(d);
            break;
        }
        qr_buf_clear(&ids);
        qr_buf_putc(&ids, '{');
        for (int i = 0; i < nd; i++)
            qr_buf_printf(&ids, "%s%s", i ? "," : "", PQgetvalue(d, i, 0));
        qr_buf_putc(&ids, '}');
        qr_buf_putc(&ids, 0);
        PGresult *ch = NULL;
        if (ids.failed)
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        else {
            const char *v[2] = {ids.data, ix};
            ch = qr_pg_query(c,
                             "SELECT ch.document_id, ch.id, ch.seq, ch.page_start, ch.page_end,"
                             " ch.heading, ch.text, ch.n_tokens, v.vec FROM chunks ch"
                             " LEFT JOIN vectors v ON v.chunk_id = ch.id AND v.index_id = $2::bigint"
                             " WHERE ch.document_id = ANY($1::bigint[])"
                             " ORDER BY ch.document_id, ch.id",
                             2, v, err, "exporting chunks", &rc);
        }
        int nc = ch ? PQntuples(ch) : 0, j = 0;
        for (int i = 0; rc == QUIRE_OK && i < nd; i++) {
            long long doc_id = col_ll(d, i, 0);
            const char *key = PQgetvalue(d, i, 1);
            rc = qr_export_put(
                x,
                qr_export_doc_line(name, key, PQgetisnull(d, i, 2) ? NULL : PQgetvalue(d, i, 2),
                                   col_ll(d, i, 3), (int)col_ll(d, i, 4), (int)col_ll(d, i, 5),
                                   PQgetisnull(d, i, 6) ? NULL : PQgetvalue(d, i, 6),
                                   PQgetisnull(d, i, 7) ? NULL : PQgetvalue(d, i, 7),
                                   PQgetisnull(d, i, 8) ? NULL : PQgetvalue(d, i, 8)),
                "a document");
            if (rc != QUIRE_OK)
                break;
            res->documents++;
            /* rows are ordered by document id, as the documents are */
            for (; rc == QUIRE_OK && j < nc && col_ll(ch, j, 0) == doc_id; j++) {
                long long cid = col_ll(ch, j, 1);
                unsigned char *vec = NULL;
                size_t vl = 0;
                if (!PQgetisnull(ch, j, 8) &&
                    !(vec = PQunescapeBytea((const unsigned char *)PQgetvalue(ch, j, 8), &vl))) {
                    rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                    break;
                }
                if (k->index_id && (!vec || vl != (size_t)k->dims * sizeof(float))) {
                    rc = qr_err(err, QUIRE_FORMAT,
                                "%s: chunk %lld of '%s' has %s (collection '%s' has %d-dim "
                                "vectors): run quire reindex",
                                st->path, cid, key,
                                vec ? "a vector of the wrong size" : "no vector", name, k->dims);
                    PQfreemem(vec);
                    break;
                }
                rc = qr_export_put(
                    x,
                    qr_export_chunk_line(name, key, cid, (int)col_ll(ch, j, 2),
                                         (int)col_ll(ch, j, 3), (int)col_ll(ch, j, 4),
                                         PQgetisnull(ch, j, 5) ? NULL : PQgetvalue(ch, j, 5),
                                         PQgetvalue(ch, j, 6), (int)col_ll(ch, j, 7),
                                         k->index_id ? vec : NULL, vl, &vb),
                    "a chunk");
                if (rc == QUIRE_OK) {
                    res->chunks++;
                    res->vectors += k->index_id && vec;
                }
                PQfreemem(vec);
            }
        }
        PQclear(ch);
        PQclear(d);
    }
    if (rc == QUIRE_OK)
        rc = qr_pg_exec(c, "CLOSE qx", err, "exporting documents");
    qr_buf_free(&ids);
    qr_buf_free(&vb);
    return rc;
}

static quire_status pg_export(quire_store *st, const char *collection, qr_export_ctx *x,
                              quire_export_result *res, quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    PGresult *r = NULL;
    json_t *list = json_array();
    qr_coll *ks = NULL;
    int n = 0, in_tx = 0;
    quire_status rc = list ? conn(st, &c, err) : qr_err(err, QUIRE_NOMEM, "out of memory");
    /* one snapshot for the whole export, as SQLite's read transaction */
    if (rc == QUIRE_OK)
        rc = qr_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err,
                        "starting the export");
    in_tx = rc == QUIRE_OK;
    const char *v[1] = {collection};
    if (rc == QUIRE_OK)
        r = qr_pg_query(c,
                        "SELECT " COLL_COLS ","
                        " (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),"
                        " (SELECT count(*) FROM chunks ch JOIN documents d"
                        "  ON d.id = ch.document_id WHERE d.collection_id = c.id),"
                        " (SELECT count(*) FROM vectors v WHERE v.index_id = c.active_index),"
                        " coalesce(i.describe, '')" COLL_FROM
                        " WHERE $1::text IS NULL OR c.name = $1 ORDER BY c.name COLLATE \"C\"",
                        1, v, err, "listing collections", &rc);
    if (r) {
        n = PQntuples(r);
        if (collection && n == 0)
            rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path,
                        collection);
        else if (n && !(ks = qr_calloc((size_t)n, sizeof(*ks))))
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    for (int i = 0; rc == QUIRE_OK && i < n; i++) {
        coll_row(r, i, &ks[i]);
        json_t *e = qr_export_coll_entry(PQgetvalue(r, i, 15), &ks[i], PQgetvalue(r, i, 14),
                                         PQgetvalue(r, i, 19), col_ll(r, i, 16),
                                         col_ll(r, i, 17), col_ll(r, i, 18));
        if (!e || json_array_append_new(list, e) != 0)
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    if (rc == QUIRE_OK)
        rc = qr_export_put(x, qr_export_header(QR_STORE_SCHEMA, list), "the header");
    for (int i = 0; rc == QUIRE_OK && i < n; i++) {
        rc = export_coll(st, c, PQgetvalue(r, i, 15), &ks[i], x, res, err);
        res->collections++;
    }
    if (rc == QUIRE_OK)
        rc = qr_export_put(x, qr_export_end(res), "the end line");
    if (in_tx && !qr_pg_broken(c))
        qr_pg_exec(c, rc == QUIRE_OK ? "COMMIT" : "ROLLBACK", NULL, "");
    PQclear(r);
    qr_free(ks);
    json_decref(list);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- ingest --------------------------------------------------------------------------- */

static quire_status pg_ingest_lookup(quire_store *st, const char *collection, const char *key,
                                     qr_coll *k, char old_sha[65], quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    quire_status rc = conn(st, &c, err);
    PGresult *r = NULL;
    const char *v[2] = {collection, key};
    if (rc == QUIRE_OK)
        r = qr_pg_query(c,
                        "SELECT " COLL_COLS ", coalesce((SELECT d.sha256 FROM documents d"
                        " WHERE d.collection_id = c.id AND d.path = $2), '')" COLL_FROM
                        " WHERE c.name = $1",
                        2, v, err, "reading the collection", &rc);
    if (r && PQntuples(r) == 0)
        rc = QUIRE_NOT_FOUND;
    else if (r) {
        coll_row(r, 0, k);
        snprintf(old_sha, 65, "%s", PQgetvalue(r, 0, 16));
    }
    PQclear(r);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static quire_status pg_ingest_write(quire_store *st, const char *collection,
                                    const quire_ingest_params *p, const char *key,
                                    const qr_prepared *pp, const char *meta,
                                    quire_ingest_result *res, quire_error *err)
{
    qr_pg_doc d;
    memset(&d, 0, sizeof d);
    d.collection = collection;
    d.create = p->create;
    d.model = p->embedder ? quire_embedder_model(p->embedder) : NULL;
    d.path = key;
    d.pp = pp;
    d.user_meta = meta;
    d.force = p->force;
    d.meta_only = pp->report == NULL; /* an unchanged document with new metadata */
    const char *outcome = "unchanged";
    pthread_mutex_lock(&st->lock);
    quire_status rc = QUIRE_OK;
    /* BUSY: a deadlock or a concurrent first commit into the collection; "no index
       yet": its index is to be made, under the exclusive lock */
    for (int round = 0; round < 10; round++) {
        PGconn *c = NULL;
        if ((rc = conn(st, &c, err)) != QUIRE_OK)
            break;
        if ((rc = qr_pg_exec(c, "BEGIN", err, "starting the transaction")) != QUIRE_OK)
            continue; /* the connection broke: reconnect once more */
        rc = qr_pg_write_doc(c, &d, &outcome, err);
        if (rc == QUIRE_OK)
            rc = qr_pg_exec(c, "COMMIT", err, "committing the document");
        else if (!qr_pg_broken(c))
            qr_pg_exec(c, "ROLLBACK", NULL, "");
        if (QUIRE_STATUS_PRIMARY(rc) != QUIRE_BUSY)
            break;
        if (d.model && err && strstr(err->msg, "no index yet"))
            d.exclusive = 1;
    }
    pthread_mutex_unlock(&st->lock);
    if (rc == QUIRE_OK)
        res->outcome = strcmp(outcome, "added") == 0     ? QUIRE_INGEST_ADDED
                       : strcmp(outcome, "updated") == 0 ? QUIRE_INGEST_UPDATED
                                                         : QUIRE_INGEST_UNCHANGED;
    else if (err) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        qr_err(err, rc, "%s: %s: %s", st->path, key, m);
    }
    return rc;
}

/* ---- reindex ------------------------------------------------------------------------ */

/* The building index of collection k for model m (resumed), or a new one; building
 * indexes of other models are deleted. */
static quire_status building_index(PGconn *c, const qr_coll *k, const qr_coll *nc,
                                   const quire_model *m, long long *ix, quire_error *err)
{
    quire_status rc;
    char cid[24];
    snprintf(cid, sizeof cid, "%lld", k->id);
    const char *v1[2] = {cid, quire_model_fingerprint(m)};
    PGresult *r = qr_pg_query(c,
                              "WITH gone AS (DELETE FROM indexes WHERE collection_id = $1::bigint"
                              " AND state = 'building' AND fingerprint <> $2)"
                              " SELECT id FROM indexes WHERE collection_id = $1::bigint"
                              " AND state = 'building' AND fingerprint = $2 ORDER BY id LIMIT 1",
                              2, v1, err, "reading indexes", &rc);
    if (!r)
        return rc;
    *ix = PQntuples(r) ? col_ll(r, 0, 0) : 0;
    PQclear(r);
    if (*ix)
        return QUIRE_OK;
    char dims[16], hm[16], efc[16], efs[16];
    snprintf(dims, sizeof dims, "%d", quire_model_dims(m));
    snprintf(hm, sizeof hm, "%d", nc->hnsw_m);
    snprintf(efc, sizeof efc, "%d", nc->ef_construction);
    snprintf(efs, sizeof efs, "%d", nc->ef_search);
    const char *dir = qr_model_dir(m);
    char absdir[PATH_MAX];
    if (dir[0] != '/' && realpath(dir, absdir))
        dir = absdir;
    const char *v[11] = {cid,  quire_model_name(m), dir, quire_model_fingerprint(m),
                         quire_model_describe(m), dims, hm, efc, efs, nc->doc_prefix,
                         nc->query_prefix};
    r = qr_pg_query(c,
                    "INSERT INTO indexes(collection_id, state, model, model_dir, fingerprint,"
                    " describe, dims, hnsw_m, ef_construction, ef_search, doc_prefix,"
                    " query_prefix) VALUES ($1::bigint, 'building', $2, $3, $4, $5, $6::int,"
                    " $7::int, $8::int, $9::int, $10, $11) RETURNING id",
                    11, v, err, "creating the index", &rc);
    if (!r)
        return rc;
    *ix = col_ll(r, 0, 0);
    PQclear(r);
    return QUIRE_OK;
}

static long long count2(PGconn *c, const char *sql, long long a, long long b)
{
    char sa[24], sb[24];
    snprintf(sa, sizeof sa, "%lld", a);
    snprintf(sb, sizeof sb, "%lld", b);
    const char *v[2] = {sa, sb};
    quire_status rc;
    quire_error e;
    PGresult *r = qr_pg_query(c, sql, 2, v, &e, "counting", &rc);
    long long n = r ? col_ll(r, 0, 0) : -1;
    PQclear(r);
    return n;
}

/* Embed the next batch of the collection's chunks that have no vector in index ix (ids
 * after *after) and write them, in the caller's transaction (in_tx) or in one of their
 * own. *n: how many (0: none left). */
static quire_status embed_batch(PGconn *c, long long coll_id, long long ix, quire_embedder *emb,
                                const char *prefix, long long *after, int in_tx, int *n,
                                quire_error *err)
{
    *n = 0;
    int dims = quire_model_dims(quire_embedder_model(emb));
    char sc[24], si[24], sa[24], sl[16];
    snprintf(sc, sizeof sc, "%lld", coll_id);
    snprintf(si, sizeof si, "%lld", ix);
    snprintf(sa, sizeof sa, "%lld", *after);
    snprintf(sl, sizeof sl, "%d", REINDEX_BATCH);
    const char *v[4] = {sc, si, sa, sl};
    quire_status rc;
    PGresult *r = qr_pg_query(c,
                              "SELECT ch.id, ch.heading, ch.text FROM chunks ch JOIN documents d"
                              " ON d.id = ch.document_id WHERE d.collection_id = $1::bigint"
                              " AND ch.id > $3::bigint AND NOT EXISTS (SELECT 1 FROM vectors v"
                              "  WHERE v.chunk_id = ch.id AND v.index_id = $2::bigint)"
                              " ORDER BY ch.id LIMIT $4::int",
                              4, v, err, "reading chunks", &rc);
    if (!r)
        return rc;
    int m = PQntuples(r);
    char *texts[REINDEX_BATCH];
    float *vecs = NULL;
    qr_buf b;
    qr_buf_init(&b, 0);
    int made = 0;
    for (; made < m; made++) {
        const char *tx = PQgetvalue(r, made, 2);
        if (!(texts[made] = qr_store_embed_text(prefix, PQgetvalue(r, made, 1), tx, strlen(tx)))) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto out;
        }
    }
    if (m == 0)
        goto out;
    if (!(vecs = qr_malloc((size_t)m * (size_t)dims * sizeof(float)))) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = quire_embed(emb, (const char *const *)texts, NULL, (size_t)m, vecs, NULL, err)) !=
        QUIRE_OK)
        goto out;
    for (int i = 0; i < m; i++) {
        qr_store_l2_normalize(vecs + (size_t)i * (size_t)dims, dims);
        qr_buf_printf(&b, "%lld\t%s\t", ix, PQgetvalue(r, i, 0));
        qr_pg_vec_hex(&b, vecs + (size_t)i * (size_t)dims, dims);
        qr_buf_putc(&b, '\n');
    }
    /* through a temporary table: a chunk deleted meanwhile is skipped, not an error */
    if (!in_tx && (rc = qr_pg_exec(c, "BEGIN", err, "starting a batch")) != QUIRE_OK)
        goto out;
    rc = qr_pg_exec(c,
                    "CREATE TEMP TABLE IF NOT EXISTS quire_reindex_batch"
                    " (index_id bigint, chunk_id bigint, vec bytea) ON COMMIT DELETE ROWS",
                    err, "preparing a batch");
    if (rc == QUIRE_OK)
        rc = qr_pg_copy_in(c, "COPY quire_reindex_batch(index_id, chunk_id, vec) FROM STDIN", &b,
                           err, "adding vectors");
    if (rc == QUIRE_OK)
        rc = qr_pg_exec(c,
                        "INSERT INTO vectors(index_id, chunk_id, vec)"
                        " SELECT b.index_id, b.chunk_id, b.vec FROM quire_reindex_batch b"
                        " JOIN chunks ch ON ch.id = b.chunk_id ON CONFLICT DO NOTHING;"
                        " TRUNCATE quire_reindex_batch",
                        err, "adding vectors");
    if (!in_tx) {
        if (rc == QUIRE_OK)
            rc = qr_pg_exec(c, "COMMIT", err, "committing a batch");
        else if (!qr_pg_broken(c))
            qr_pg_exec(c, "ROLLBACK", NULL, "");
    }
    if (rc == QUIRE_OK) {
        *n = m;
        *after = col_ll(r, m - 1, 0);
    }
out:
    for (int i = 0; i < made; i++)
        qr_free(texts[i]);
    qr_free(vecs);
    qr_buf_free(&b);
    PQclear(r);
    return rc;
}

static const char MISSING_SQL[] =
    "SELECT count(*) FROM chunks ch JOIN documents d ON d.id = ch.document_id"
    " WHERE d.collection_id = $1::bigint AND NOT EXISTS"
    " (SELECT 1 FROM vectors v WHERE v.chunk_id = ch.id AND v.index_id = $2::bigint)";

static quire_status pg_reindex(quire_store *st, const char *collection, quire_embedder *emb,
                               const quire_collection_params *params,
                               void (*progress)(void *user_data, long done, long total),
                               void *user_data, quire_error *err)
{
    const quire_model *m = quire_embedder_model(emb);
    pthread_mutex_lock(&st->lock);
    PGconn *c = NULL;
    qr_coll k, nc;
    long long ix = 0;
    int in_tx = 0;
    quire_status rc = conn(st, &c, err);
    if (rc == QUIRE_OK)
        rc = coll_get(st, c, collection, &k, err);
    if (rc != QUIRE_OK)
        goto out;
    qr_reindex_settings(&k, params, &nc);
    if ((rc = building_index(c, &k, &nc, m, &ix, err)) != QUIRE_OK)
        goto out;
    long total = (long)count2(c,
                              "SELECT count(*) FROM chunks ch JOIN documents d ON"
                              " d.id = ch.document_id WHERE d.collection_id = $1::bigint"
                              " AND $2::bigint = $2::bigint",
                              k.id, 0);
    long done = total - (long)count2(c, MISSING_SQL, k.id, ix);
    if (progress)
        progress(user_data, done, total);
    /* Phase 1: batches, one transaction each (workers and ingests go on meanwhile). */
    long long after = 0;
    for (;;) {
        int n = 0;
        if ((rc = embed_batch(c, k.id, ix, emb, nc.doc_prefix, &after, 0, &n, err)) != QUIRE_OK)
            goto out;
        if (n == 0)
            break;
        done += n;
        if (progress)
            progress(user_data, QR_MIN(done, total), total);
    }
    /* Phase 2: the swap. The collection row locked FOR UPDATE holds off the commits of
     * workers and ingests (they lock it FOR SHARE); what they added meanwhile is embedded,
     * then the new index is made active and the old one dropped, in one transaction. */
    char cid[24], six[24], sold[24];
    snprintf(cid, sizeof cid, "%lld", k.id);
    snprintf(six, sizeof six, "%lld", ix);
    snprintf(sold, sizeof sold, "%lld", k.index_id);
    const char *v1[1] = {cid};
    if ((rc = qr_pg_exec(c, "BEGIN", err, "starting the swap")) != QUIRE_OK)
        goto out;
    in_tx = 1;
    PGresult *r = qr_pg_query(c, "SELECT 1 FROM collections WHERE id = $1::bigint FOR UPDATE", 1,
                              v1, err, "locking the collection", &rc);
    PQclear(r);
    if (!r)
        goto out;
    after = 0;
    for (;;) {
        int n = 0;
        if ((rc = embed_batch(c, k.id, ix, emb, nc.doc_prefix, &after, 1, &n, err)) != QUIRE_OK)
            goto out;
        if (n == 0)
            break;
    }
    const char *v3[3] = {cid, six, sold};
    r = qr_pg_query(c,
                    "WITH a AS (UPDATE indexes SET state = 'active' WHERE id = $2::bigint),"
                    " d AS (DELETE FROM indexes WHERE id = $3::bigint AND id <> $2::bigint)"
                    " UPDATE collections SET active_index = $2::bigint WHERE id = $1::bigint",
                    3, v3, err, "swapping the index", &rc);
    PQclear(r);
    if (!r)
        goto out;
    rc = qr_pg_exec(c, "COMMIT", err, "committing the swap");
    in_tx = 0;
    if (rc == QUIRE_OK && progress)
        progress(user_data, total, total);
out:
    if (in_tx && !qr_pg_broken(c))
        qr_pg_exec(c, "ROLLBACK", NULL, "");
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- open ------------------------------------------------------------------------------ */

static const qr_store_backend PG_BACKEND = {
    "PostgreSQL",     pg_close,         pg_collection,   pg_collections,
    pg_documents,     pg_remove,        pg_drop_collection, pg_remove_where,
    pg_ingest_lookup, pg_ingest_write,  pg_export,        pg_reindex,
};

quire_status qr_pg_store_open(quire_store *st, const char *url, quire_error *err)
{
    char shown[1024];
    qr_pg_redact_url(url, shown, sizeof shown);
    pgs *s = qr_calloc(1, sizeof *s);
    char *p = qr_strdup(shown);
    if (!s || !p || !(s->url = qr_strdup(url))) {
        qr_free(s);
        qr_free(p);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    quire_error e = {0, ""};
    quire_status rc = qr_pg_connect(url, "quire", !st->readonly, &s->c, &e);
    if (rc != QUIRE_OK) {
        qr_free(s->url);
        qr_free(s);
        qr_free(p);
        char m[sizeof e.msg];
        scrub(e.msg, url, shown, m, sizeof m);
        return qr_err(err, rc, "%s: %s", shown, m);
    }
    qr_free(st->path);
    st->path = p;
    st->be = &PG_BACKEND;
    st->be_data = s;
    return QUIRE_OK;
}
