/*
 * migrate.c — `quire migrate`: a whole store from SQLite into PostgreSQL, or back
 * (PostgreSQL -> SQLite is also how a search cache is bootstrapped).
 *
 * Rows keep their ids (the target must be empty: collections and documents), so chunk
 * ids — the labels of the saved HNSW graphs, carried too — stay valid and a search of
 * the copy returns what a search of the original does. Tables are copied in the order
 * of their references: collections, indexes (model, fingerprint, dims, HNSW settings),
 * documents (with report and metadata), chunks, vectors (the float32 bytes as they are:
 * SQLite BLOB <-> bytea), hnsw_graphs.
 *
 * The source is read in one read transaction; the target is written in one transaction
 * (COPY into PostgreSQL; prepared INSERTs into SQLite, whose FTS5 triggers index the
 * chunks). Before that transaction commits, every table is read back from the target and
 * a SHA-256 over its rows in a canonical form (ids, values, NULLs, lengths; timestamps as
 * UTC seconds YYYY-MM-DDTHH:MM:SSZ, SQLite's form) is compared with the same hash of the
 * source: a difference rolls the migration back. A SQLite target created by a failed
 * migration is removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pg/pg_int.h"
#include "store/store_int.h"

#define MG_MAXCOL 16

/* column types: i integer, t text, z timestamp (text in SQLite), b bytes */
typedef struct mg_table {
    const char *name;
    const char *cols[MG_MAXCOL];
    const char *types;
    const char *order;
} mg_table;

static const mg_table TABLES[QR_MIGRATE_TABLES] = {
    {"collections",
     {"id", "name", "created_at", "chunk_tokens", "overlap", "active_index"},
     "itziii",
     "id"},
    {"indexes",
     {"id", "collection_id", "state", "model", "model_dir", "fingerprint", "describe", "dims",
      "doc_prefix", "query_prefix", "hnsw_m", "ef_construction", "ef_search", "created_at"},
     "iitttttittiiiz",
     "id"},
    {"documents",
     {"id", "collection_id", "path", "sha256", "size", "pages", "failed_pages", "converted_at",
      "report", "meta"},
     "iittiiiztt",
     "id"},
    {"chunks",
     {"id", "document_id", "seq", "page_start", "page_end", "heading", "text", "n_tokens"},
     "iiiiitti",
     "id"},
    {"vectors", {"index_id", "chunk_id", "vec"}, "iib", "index_id, chunk_id"},
    {"hnsw_graphs", {"index_id", "saved_at", "nodes", "graph"}, "izib", "index_id"},
};

const char *qr_migrate_table_name(int i)
{
    return i >= 0 && i < QR_MIGRATE_TABLES ? TABLES[i].name : "?";
}

/* ---- one side of a migration: a SQLite store or a PostgreSQL connection ------------- */

typedef struct mg_side {
    int pg;
    PGconn *c;
    quire_store *st;
    char where[512]; /* for messages: the file, or "PostgreSQL socket ... db ..." */
    /* reading */
    sqlite3_stmt *s;
    PGresult *r;
    qr_buf hex[MG_MAXCOL]; /* decoded bytea values of the current PG row */
    int ncol;
    const char *types;
} mg_side;

typedef struct mg_row {
    const char *v[MG_MAXCOL]; /* NULL = SQL NULL */
    size_t len[MG_MAXCOL];
} mg_row;

static int unhex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void select_sql(const mg_side *sd, const mg_table *t, qr_buf *q)
{
    qr_buf_printf(q, "SELECT ");
    for (int i = 0; t->cols[i]; i++) {
        const char *c = t->cols[i];
        if (i)
            qr_buf_putc(q, ',');
        if (!sd->pg && strcmp(c, "meta") == 0 && sd->st->schema < 2)
            qr_buf_printf(q, "NULL"); /* a schema-1 store: no metadata yet */
        else if (sd->pg && t->types[i] == 'z')
            qr_buf_printf(q, "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                          c);
        else
            qr_buf_printf(q, "%s", c);
    }
    qr_buf_printf(q, " FROM %s ORDER BY %s", t->name, t->order);
    qr_buf_putc(q, 0);
}

/* Start reading table t in id order. */
static quire_status read_begin(mg_side *sd, const mg_table *t, quire_error *err)
{
    qr_buf q;
    qr_buf_init(&q, 0);
    select_sql(sd, t, &q);
    if (q.failed) {
        qr_buf_free(&q);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    sd->types = t->types;
    sd->ncol = (int)strlen(t->types);
    quire_status rc = QUIRE_OK;
    char what[96];
    snprintf(what, sizeof what, "reading %s", t->name);
    if (sd->pg) {
        if (!PQsendQueryParams(sd->c, q.data, 0, NULL, NULL, NULL, NULL, 0) ||
            !PQsetSingleRowMode(sd->c))
            rc = qr_pg_fail(sd->c, NULL, err, what);
    } else if (sqlite3_prepare_v2(sd->st->db, q.data, -1, &sd->s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(sd->st, err, what);
    }
    qr_buf_free(&q);
    return rc;
}

/* The next row: 1, 0 at the end, -1 on error (err set). */
static int read_row(mg_side *sd, const mg_table *t, mg_row *row, quire_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "reading %s", t->name);
    if (!sd->pg) {
        int r = sqlite3_step(sd->s);
        if (r == SQLITE_DONE)
            return 0;
        if (r != SQLITE_ROW) {
            qr_store_sqlerr(sd->st, err, what);
            return -1;
        }
        for (int i = 0; i < sd->ncol; i++) {
            if (sqlite3_column_type(sd->s, i) == SQLITE_NULL) {
                row->v[i] = NULL;
                row->len[i] = 0;
                continue;
            }
            if (sd->types[i] == 'b')
                row->v[i] = sqlite3_column_blob(sd->s, i);
            else
                row->v[i] = (const char *)sqlite3_column_text(sd->s, i);
            row->len[i] = (size_t)sqlite3_column_bytes(sd->s, i);
            if (!row->v[i])
                row->v[i] = ""; /* an empty blob */
        }
        return 1;
    }
    PQclear(sd->r);
    sd->r = PQgetResult(sd->c);
    if (!sd->r)
        return 0;
    ExecStatusType es = PQresultStatus(sd->r);
    if (es == PGRES_TUPLES_OK) { /* the end of the rows; drain the NULL that follows */
        PQclear(sd->r);
        while ((sd->r = PQgetResult(sd->c)) != NULL)
            PQclear(sd->r);
        return 0;
    }
    if (es != PGRES_SINGLE_TUPLE) {
        qr_pg_fail(sd->c, sd->r, err, what);
        PQclear(sd->r);
        while ((sd->r = PQgetResult(sd->c)) != NULL)
            PQclear(sd->r);
        return -1;
    }
    for (int i = 0; i < sd->ncol; i++) {
        if (PQgetisnull(sd->r, 0, i)) {
            row->v[i] = NULL;
            row->len[i] = 0;
            continue;
        }
        const char *v = PQgetvalue(sd->r, 0, i);
        size_t n = (size_t)PQgetlength(sd->r, 0, i);
        if (sd->types[i] == 'b') { /* bytea_output = hex: \x0a1b... */
            qr_buf *h = &sd->hex[i];
            qr_buf_clear(h);
            if (n < 2 || v[0] != '\\' || v[1] != 'x' || n % 2) {
                qr_err(err, QUIRE_FORMAT, "%s: %s.%s: not hex bytea output", sd->where, t->name,
                       t->cols[i]);
                return -1;
            }
            for (size_t k = 2; k + 1 < n; k += 2) {
                int a = unhex(v[k]), b = unhex(v[k + 1]);
                if (a < 0 || b < 0) {
                    qr_err(err, QUIRE_FORMAT, "%s: %s.%s: bad hex in bytea", sd->where, t->name,
                           t->cols[i]);
                    return -1;
                }
                qr_buf_putc(h, (char)(a << 4 | b));
            }
            if (h->failed) {
                qr_err(err, QUIRE_NOMEM, "out of memory");
                return -1;
            }
            row->v[i] = h->data ? h->data : "";
            row->len[i] = h->len;
        } else {
            row->v[i] = v;
            row->len[i] = n;
        }
    }
    return 1;
}

static void read_end(mg_side *sd)
{
    if (sd->pg) {
        PQclear(sd->r);
        sd->r = NULL;
        if (sd->c && PQisBusy(sd->c)) /* stopped early: cancel and drain */
        {
            PGcancel *cn = PQgetCancel(sd->c);
            char eb[128];
            if (cn) {
                PQcancel(cn, eb, sizeof eb);
                PQfreeCancel(cn);
            }
        }
        PGresult *r;
        while (sd->c && (r = PQgetResult(sd->c)) != NULL)
            PQclear(r);
    } else {
        sqlite3_finalize(sd->s);
        sd->s = NULL;
    }
}

/* ---- the canonical hash of a table's rows ------------------------------------------- */

static void hash_row(qr_sha256 *h, int ncol, const mg_row *row)
{
    for (int i = 0; i < ncol; i++) {
        unsigned char tag[9];
        if (!row->v[i]) {
            tag[0] = 0;
            qr_sha256_update(h, tag, 1);
            continue;
        }
        tag[0] = 1;
        unsigned long long n = row->len[i];
        for (int k = 0; k < 8; k++)
            tag[1 + k] = (unsigned char)(n >> (8 * k));
        qr_sha256_update(h, tag, 9);
        qr_sha256_update(h, row->v[i], row->len[i]);
    }
}

static void hash_hex(qr_sha256 *h, char out[65])
{
    unsigned char d[32];
    qr_sha256_final(h, d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Hash one whole table of a side (rows counted into *n). */
static quire_status hash_table(mg_side *sd, const mg_table *t, char out[65], long long *n,
                               quire_error *err)
{
    quire_status rc = read_begin(sd, t, err);
    if (rc != QUIRE_OK)
        return rc;
    qr_sha256 h;
    qr_sha256_init(&h);
    mg_row row;
    int got;
    *n = 0;
    while ((got = read_row(sd, t, &row, err)) == 1) {
        hash_row(&h, sd->ncol, &row);
        (*n)++;
    }
    read_end(sd);
    if (got < 0)
        return err ? err->code : QUIRE_ERROR;
    hash_hex(&h, out);
    return QUIRE_OK;
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct mg_writer {
    mg_side *sd;
    const mg_table *t;
    qr_buf b;            /* PG: COPY data not yet sent */
    sqlite3_stmt *ins;   /* SQLite: the INSERT */
} mg_writer;

static quire_status write_begin(mg_writer *w, mg_side *sd, const mg_table *t, quire_error *err)
{
    memset(w, 0, sizeof *w);
    w->sd = sd;
    w->t = t;
    qr_buf_init(&w->b, 0);
    qr_buf q;
    qr_buf_init(&q, 0);
    int n = (int)strlen(t->types);
    qr_buf_printf(&q, sd->pg ? "COPY %s(" : "INSERT INTO %s(", t->name);
    for (int i = 0; i < n; i++)
        qr_buf_printf(&q, "%s%s", i ? "," : "", t->cols[i]);
    if (sd->pg) {
        qr_buf_printf(&q, ") FROM STDIN");
    } else {
        qr_buf_printf(&q, ") VALUES (");
        for (int i = 0; i < n; i++)
            qr_buf_printf(&q, "%s?", i ? "," : "");
        qr_buf_printf(&q, ")");
    }
    qr_buf_putc(&q, 0);
    quire_status rc = QUIRE_OK;
    char what[96];
    snprintf(what, sizeof what, "writing %s", t->name);
    if (q.failed) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
    } else if (sd->pg) {
        PGresult *r = PQexec(sd->c, q.data);
        if (!r || PQresultStatus(r) != PGRES_COPY_IN)
            rc = qr_pg_fail(sd->c, r, err, what);
        PQclear(r);
    } else if (sqlite3_prepare_v2(sd->st->db, q.data, -1, &w->ins, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(sd->st, err, what);
    }
    qr_buf_free(&q);
    return rc;
}

static quire_status pg_flush(mg_writer *w, quire_error *err)
{
    if (w->b.failed)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    if (w->b.len && PQputCopyData(w->sd->c, w->b.data, (int)w->b.len) != 1) {
        char what[96];
        snprintf(what, sizeof what, "writing %s", w->t->name);
        return qr_pg_fail(w->sd->c, NULL, err, what);
    }
    qr_buf_clear(&w->b);
    return QUIRE_OK;
}

static quire_status write_row(mg_writer *w, const mg_row *row, quire_error *err)
{
    const mg_table *t = w->t;
    int n = (int)strlen(t->types);
    if (w->sd->pg) {
        static const char hx[] = "0123456789abcdef";
        for (int i = 0; i < n; i++) {
            if (i)
                qr_buf_putc(&w->b, '\t');
            if (!row->v[i]) {
                qr_buf_append(&w->b, "\\N", 2);
            } else if (t->types[i] == 'b') {
                qr_buf_append(&w->b, "\\\\x", 3);
                const unsigned char *p = (const unsigned char *)row->v[i];
                for (size_t k = 0; k < row->len[i]; k++) {
                    qr_buf_putc(&w->b, hx[p[k] >> 4]);
                    qr_buf_putc(&w->b, hx[p[k] & 15]);
                }
            } else {
                qr_pg_copy_text(&w->b, row->v[i], row->len[i]);
            }
        }
        qr_buf_putc(&w->b, '\n');
        return w->b.len >= ((size_t)1 << 20) ? pg_flush(w, err) : QUIRE_OK;
    }
    sqlite3_stmt *s = w->ins;
    sqlite3_reset(s);
    for (int i = 0; i < n; i++) {
        int k = i + 1;
        if (!row->v[i])
            sqlite3_bind_null(s, k);
        else if (t->types[i] == 'i')
            sqlite3_bind_int64(s, k, strtoll(row->v[i], NULL, 10));
        else if (t->types[i] == 'b')
            sqlite3_bind_blob64(s, k, row->v[i], row->len[i], SQLITE_TRANSIENT);
        else
            sqlite3_bind_text64(s, k, row->v[i], row->len[i], SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        char what[96];
        snprintf(what, sizeof what, "writing %s", t->name);
        return qr_store_sqlerr(w->sd->st, err, what);
    }
    return QUIRE_OK;
}

static quire_status write_end(mg_writer *w, quire_status rc, quire_error *err)
{
    if (w->sd->pg) {
        if (rc == QUIRE_OK)
            rc = pg_flush(w, err);
        PGconn *c = w->sd->c;
        int ok = PQputCopyEnd(c, rc == QUIRE_OK ? NULL : "migration stopped") == 1;
        PGresult *r;
        char what[96];
        snprintf(what, sizeof what, "writing %s", w->t->name);
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == QUIRE_OK)
                rc = qr_pg_fail(c, r, err, what);
            PQclear(r);
        }
        if (!ok && rc == QUIRE_OK)
            rc = qr_pg_fail(c, NULL, err, what);
    } else {
        sqlite3_finalize(w->ins);
        w->ins = NULL;
    }
    qr_buf_free(&w->b);
    return rc;
}

/* ---- opening, emptiness, transactions ----------------------------------------------- */

static quire_status side_exec(mg_side *sd, const char *sql, quire_error *err, const char *what)
{
    if (sd->pg)
        return qr_pg_exec(sd->c, sql, err, what);
    if (sqlite3_exec(sd->st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return qr_store_sqlerr(sd->st, err, what);
    return QUIRE_OK;
}

static quire_status side_count(mg_side *sd, const char *sql, long long *n, quire_error *err)
{
    *n = 0;
    if (sd->pg) {
        quire_status rc;
        PGresult *r = qr_pg_query(sd->c, sql, 0, NULL, err, "counting rows", &rc);
        if (!r)
            return rc;
        *n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return QUIRE_OK;
    }
    sqlite3_stmt *s = NULL;
    quire_status rc = QUIRE_OK;
    if (sqlite3_prepare_v2(sd->st->db, sql, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        rc = qr_store_sqlerr(sd->st, err, "counting rows");
    else
        *n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

static quire_status side_open(mg_side *sd, const char *db, int target, int *created,
                              quire_error *err)
{
    if (qr_pg_is_url(db)) {
        sd->pg = 1;
        quire_status rc = qr_pg_connect(db, "quire-migrate", 1, &sd->c, err);
        if (rc != QUIRE_OK)
            return rc;
        qr_pg_where(sd->c, sd->where, sizeof sd->where);
        /* the hex form read_row decodes; statements may take long on big stores */
        return qr_pg_exec(sd->c, "SET bytea_output = 'hex'; SET statement_timeout = 0", err,
                          "setting up the session");
    }
    snprintf(sd->where, sizeof sd->where, "%s", db);
    if (target)
        *created = !qr_file_exists(db);
    return quire_store_open(db, target ? 0 : QUIRE_STORE_READONLY, &sd->st, err);
}

static void side_close(mg_side *sd)
{
    if (sd->c)
        PQfinish(sd->c);
    sd->c = NULL;
    if (sd->st)
        quire_store_close(sd->st);
    sd->st = NULL;
    for (int i = 0; i < MG_MAXCOL; i++)
        qr_buf_free(&sd->hex[i]);
}

quire_status qr_pg_migrate(const char *from, const char *to, qr_migrate_result *res,
                           quire_error *err)
{
    qr_migrate_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (!from || !to)
        return qr_err(err, QUIRE_INVALID_ARG, "migrate: --from and --to are required");
    if (qr_pg_is_url(from) == qr_pg_is_url(to))
        return qr_err(err, QUIRE_INVALID_ARG,
                      "migrate: one side must be a SQLite store file and the other a "
                      "PostgreSQL URL (postgresql://...)");
    mg_side src, dst;
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    for (int i = 0; i < MG_MAXCOL; i++) {
        qr_buf_init(&src.hex[i], 0);
        qr_buf_init(&dst.hex[i], 0);
    }
    int created = 0;
    quire_status rc = side_open(&src, from, 0, NULL, err);
    if (rc == QUIRE_OK)
        rc = side_open(&dst, to, 1, &created, err);
    int in_src = 0, in_dst = 0;
    if (rc != QUIRE_OK)
        goto out;
    snprintf(res->from, sizeof res->from, "%s", src.where);
    snprintf(res->to, sizeof res->to, "%s", dst.where);
    /* one snapshot of the source */
    rc = side_exec(&src, src.pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN",
                   err, "starting the read transaction");
    if (rc != QUIRE_OK)
        goto out;
    in_src = 1;
    rc = side_exec(&dst,
                   dst.pg ? "BEGIN; LOCK TABLE collections, documents IN EXCLUSIVE MODE"
                          : "BEGIN IMMEDIATE",
                   err, "starting the write transaction");
    if (rc != QUIRE_OK)
        goto out;
    in_dst = 1;
    {
        long long nc = 0, nd = 0;
        if ((rc = side_count(&dst, "SELECT count(*) FROM collections", &nc, err)) != QUIRE_OK ||
            (rc = side_count(&dst, "SELECT count(*) FROM documents", &nd, err)) != QUIRE_OK)
            goto out;
        if (nc || nd) {
            res->refused = 1;
            rc = qr_err(err, QUIRE_INVALID_ARG,
                        "%s is not empty (%lld collections, %lld documents): migrate only into "
                        "an empty store (a new file, or a database that has no quire "
                        "collections); nothing was written",
                        dst.where, nc, nd);
            goto out;
        }
    }
    for (int ti = 0; ti < QR_MIGRATE_TABLES; ti++) {
        const mg_table *t = &TABLES[ti];
        mg_writer w;
        if ((rc = read_begin(&src, t, err)) != QUIRE_OK)
            goto out;
        if ((rc = write_begin(&w, &dst, t, err)) != QUIRE_OK) {
            read_end(&src);
            write_end(&w, rc, NULL);
            goto out;
        }
        qr_sha256 h;
        qr_sha256_init(&h);
        mg_row row;
        int got;
        while ((got = read_row(&src, t, &row, err)) == 1) {
            hash_row(&h, src.ncol, &row);
            res->rows[ti]++;
            if ((rc = write_row(&w, &row, err)) != QUIRE_OK)
                break;
        }
        if (got < 0 && rc == QUIRE_OK)
            rc = err ? err->code : QUIRE_ERROR;
        read_end(&src);
        rc = write_end(&w, rc, err);
        if (rc != QUIRE_OK)
            goto out;
        hash_hex(&h, res->source_sha[ti]);
    }
    if (dst.pg) { /* the next ids after the copied ones */
        rc = qr_pg_exec(dst.c,
                        "SELECT setval(pg_get_serial_sequence('collections', 'id'),"
                        "  coalesce((SELECT max(id) FROM collections), 0) + 1, false);"
                        "SELECT setval(pg_get_serial_sequence('indexes', 'id'),"
                        "  coalesce((SELECT max(id) FROM indexes), 0) + 1, false);"
                        "SELECT setval(pg_get_serial_sequence('documents', 'id'),"
                        "  coalesce((SELECT max(id) FROM documents), 0) + 1, false);"
                        "SELECT setval(pg_get_serial_sequence('chunks', 'id'),"
                        "  coalesce((SELECT max(id) FROM chunks), 0) + 1, false)",
                        err, "advancing the id sequences");
        if (rc != QUIRE_OK)
            goto out;
    }
    /* read everything back, inside the write transaction, and compare */
    for (int ti = 0; ti < QR_MIGRATE_TABLES; ti++) {
        long long n = 0;
        if ((rc = hash_table(&dst, &TABLES[ti], res->target_sha[ti], &n, err)) != QUIRE_OK)
            goto out;
        if (n != res->rows[ti] || strcmp(res->target_sha[ti], res->source_sha[ti]) != 0) {
            rc = qr_err(err, QUIRE_FORMAT,
                        "migrate: %s differs after copying (source %lld rows, sha256 %.16s; "
                        "target %lld rows, sha256 %.16s): rolled back, nothing was written",
                        TABLES[ti].name, res->rows[ti], res->source_sha[ti], n,
                        res->target_sha[ti]);
            goto out;
        }
    }
    rc = side_exec(&dst, "COMMIT", err, "committing the migration");
    in_dst = 0;
out:
    if (in_dst)
        side_exec(&dst, "ROLLBACK", NULL, "");
    if (in_src)
        side_exec(&src, "ROLLBACK", NULL, "");
    side_close(&src);
    side_close(&dst);
    if (rc != QUIRE_OK && created && !qr_pg_is_url(to)) {
        char p[4096];
        unlink(to);
        snprintf(p, sizeof p, "%s-wal", to);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", to);
        unlink(p);
    }
    return rc;
}
