/*
 * pg.c — PostgreSQL connections for quire: connect with a libpq URI (or the PG*
 * variables), classify errors by SQLSTATE, and create/migrate the schema in one
 * transaction under an advisory lock, recorded in quire_schema(version); a database
 * with a newer schema than this quire knows is refused, as the SQLite store does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"

/* Schema 1: the store's records (mirroring the SQLite store's schema 2: collections,
 * indexes, documents with meta, chunks, vectors as little-endian float32 bytea) plus
 * the queue: workers and jobs. */
static const char SCHEMA_V1[] =
    "CREATE TABLE collections("
    " id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " chunk_tokens int NOT NULL, overlap int NOT NULL, active_index bigint);"
    "CREATE TABLE indexes("
    " id bigserial PRIMARY KEY,"
    " collection_id bigint NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    " state text NOT NULL CHECK (state IN ('building','active','retired')),"
    " model text NOT NULL, model_dir text NOT NULL, fingerprint text NOT NULL,"
    " describe text NOT NULL DEFAULT '', dims int NOT NULL,"
    " doc_prefix text NOT NULL DEFAULT '', query_prefix text NOT NULL DEFAULT '',"
    " hnsw_m int NOT NULL, ef_construction int NOT NULL, ef_search int NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX indexes_coll ON indexes(collection_id);"
    "CREATE TABLE documents("
    " id bigserial PRIMARY KEY,"
    " collection_id bigint NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    " path text NOT NULL, sha256 text NOT NULL, size bigint NOT NULL DEFAULT 0,"
    " pages int NOT NULL DEFAULT 0, failed_pages int NOT NULL DEFAULT 0,"
    " converted_at timestamptz NOT NULL DEFAULT now(), report text, meta text,"
    " job_id bigint, worker_id bigint, attempt int,"
    " UNIQUE (collection_id, path));"
    "CREATE TABLE chunks("
    " id bigserial PRIMARY KEY,"
    " document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " seq int NOT NULL, page_start int NOT NULL, page_end int NOT NULL,"
    " heading text NOT NULL, text text NOT NULL, n_tokens int NOT NULL,"
    " UNIQUE (document_id, seq));"
    "CREATE TABLE vectors("
    " index_id bigint NOT NULL REFERENCES indexes(id) ON DELETE CASCADE,"
    " chunk_id bigint NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,"
    " vec bytea NOT NULL, PRIMARY KEY (chunk_id, index_id));"
    "ALTER TABLE vectors ALTER COLUMN vec SET STORAGE EXTERNAL;"
    "CREATE INDEX vectors_index ON vectors(index_id);"
    "CREATE TABLE workers("
    " id bigserial PRIMARY KEY, host text NOT NULL, pid int NOT NULL, version text NOT NULL,"
    " started_at timestamptz NOT NULL DEFAULT now(),"
    " last_seen timestamptz NOT NULL DEFAULT now(),"
    " state text NOT NULL DEFAULT 'alive' CHECK (state IN ('alive','stopped','dead')));"
    "CREATE TABLE jobs("
    " id bigserial PRIMARY KEY, collection text NOT NULL, path text NOT NULL,"
    " sha256 text NOT NULL,"
    " state text NOT NULL DEFAULT 'queued'"
    "  CHECK (state IN ('queued','running','done','failed')),"
    " priority int NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(),"
    " attempt int NOT NULL DEFAULT 0, max_attempts int NOT NULL DEFAULT 5,"
    " worker_id bigint, lease_until timestamptz,"
    " enqueued_at timestamptz NOT NULL DEFAULT now(), started_at timestamptz,"
    " finished_at timestamptz, outcome text, errors jsonb NOT NULL DEFAULT '[]')"
    " WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01);"
    "CREATE UNIQUE INDEX jobs_key ON jobs(collection, path, sha256) WHERE state <> 'failed';"
    "CREATE INDEX jobs_ready ON jobs(priority, run_at, id) WHERE state = 'queued';"
    "CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'running';"
    "CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('done','failed');";

/* Schema 2: the saved HNSW graphs (a cache, as in the SQLite store: the qr_hnsw_save blob
 * whose labels are chunk ids), carried by `quire migrate` both ways so that a store's copy
 * searches as the original does; a graph older than the vectors is repaired on load. */
static const char SCHEMA_V2[] =
    "CREATE TABLE hnsw_graphs("
    " index_id bigint PRIMARY KEY REFERENCES indexes(id) ON DELETE CASCADE,"
    " saved_at timestamptz NOT NULL DEFAULT now(), nodes bigint NOT NULL,"
    " graph bytea NOT NULL);"
    "ALTER TABLE hnsw_graphs ALTER COLUMN graph SET STORAGE EXTERNAL;";

/* Schema 3: the change feed that search replicas follow (`quire serve --db URL --cache F`).
 * Statement-level triggers on documents, chunks and vectors write one `doc` row per touched
 * document (deduplicated per statement), and any write to collections or indexes one
 * `meta` row, each stamped with the writing transaction's id (xid8; the top-level one,
 * also from a subtransaction). Writers need no code for it: the worker, quire migrate and
 * any later writer are covered. A reader takes h = pg_snapshot_xmin(pg_current_snapshot())
 * and every visible row with xid >= its previous h: ids below xmin belong to transactions
 * that have all ended, so none can commit later, whatever the order of commits (a bigserial
 * or timestamp cursor would miss a transaction that took its number first and committed
 * last). replicas(name, horizon) records how far each replica has read. */
static const char SCHEMA_V3[] =
    "CREATE TABLE changes("
    " seq bigserial PRIMARY KEY,"
    " xid xid8 NOT NULL DEFAULT pg_current_xact_id(),"
    " at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " op text NOT NULL CHECK (op IN ('doc','meta')),"
    " document_id bigint);"
    "CREATE INDEX changes_xid ON changes(xid);"
    "CREATE TABLE replicas("
    " name text PRIMARY KEY, horizon xid8 NOT NULL,"
    " lag_s double precision, bootstrap_rows bigint NOT NULL DEFAULT 0,"
    " seen_at timestamptz NOT NULL DEFAULT now());"
    "CREATE FUNCTION quire_feed_documents() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', id FROM nt;"
    " ELSIF TG_OP = 'UPDATE' THEN"
    "  INSERT INTO changes(op, document_id) SELECT 'doc', id FROM nt UNION SELECT 'doc', id"
    "  FROM ot;"
    " ELSE"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', id FROM ot;"
    " END IF; RETURN NULL; END $f$;"
    "CREATE FUNCTION quire_feed_chunks() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', document_id FROM nt;"
    " ELSIF TG_OP = 'UPDATE' THEN"
    "  INSERT INTO changes(op, document_id) SELECT 'doc', document_id FROM nt"
    "  UNION SELECT 'doc', document_id FROM ot;"
    " ELSE"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', document_id FROM ot;"
    " END IF; RETURN NULL; END $f$;"
    /* a vector's document through its chunk; a vector deleted with its chunk finds none
     * (the chunk's own trigger wrote the row) */
    "CREATE FUNCTION quire_feed_vectors() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', c.document_id"
    "  FROM nt JOIN chunks c ON c.id = nt.chunk_id;"
    " ELSIF TG_OP = 'UPDATE' THEN"
    "  INSERT INTO changes(op, document_id) SELECT 'doc', c.document_id"
    "  FROM nt JOIN chunks c ON c.id = nt.chunk_id UNION SELECT 'doc', c.document_id"
    "  FROM ot JOIN chunks c ON c.id = ot.chunk_id;"
    " ELSE"
    "  INSERT INTO changes(op, document_id) SELECT DISTINCT 'doc', c.document_id"
    "  FROM ot JOIN chunks c ON c.id = ot.chunk_id;"
    " END IF; RETURN NULL; END $f$;"
    "CREATE FUNCTION quire_feed_meta() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " INSERT INTO changes(op) VALUES ('meta'); RETURN NULL; END $f$;"
    "CREATE TRIGGER feed_documents_i AFTER INSERT ON documents REFERENCING NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_documents();"
    "CREATE TRIGGER feed_documents_u AFTER UPDATE ON documents"
    " REFERENCING OLD TABLE AS ot NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_documents();"
    "CREATE TRIGGER feed_documents_d AFTER DELETE ON documents REFERENCING OLD TABLE AS ot"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_documents();"
    "CREATE TRIGGER feed_chunks_i AFTER INSERT ON chunks REFERENCING NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_chunks();"
    "CREATE TRIGGER feed_chunks_u AFTER UPDATE ON chunks"
    " REFERENCING OLD TABLE AS ot NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_chunks();"
    "CREATE TRIGGER feed_chunks_d AFTER DELETE ON chunks REFERENCING OLD TABLE AS ot"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_chunks();"
    "CREATE TRIGGER feed_vectors_i AFTER INSERT ON vectors REFERENCING NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_vectors();"
    "CREATE TRIGGER feed_vectors_u AFTER UPDATE ON vectors"
    " REFERENCING OLD TABLE AS ot NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_vectors();"
    "CREATE TRIGGER feed_vectors_d AFTER DELETE ON vectors REFERENCING OLD TABLE AS ot"
    " FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_vectors();"
    "CREATE TRIGGER feed_collections AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON collections FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_meta();"
    "CREATE TRIGGER feed_indexes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON indexes FOR EACH STATEMENT EXECUTE FUNCTION quire_feed_meta();";

const char *qr_pg_libpq_version(void)
{
    static char buf[32];
    int v = PQlibVersion();
    snprintf(buf, sizeof buf, "%d.%d", v / 10000, v % 10000);
    return buf;
}

void qr_pg_where(PGconn *c, char *buf, size_t cap)
{
    const char *h = c ? PQhost(c) : NULL;
    const char *d = c ? PQdb(c) : NULL;
    snprintf(buf, cap, "PostgreSQL %s%s db %s", h && h[0] == '/' ? "socket " : "host ",
             h && h[0] ? h : "?", d && d[0] ? d : "?");
}

const char *qr_pg_state(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

int qr_pg_broken(PGconn *c)
{
    return !c || PQstatus(c) != CONNECTION_OK;
}

quire_status qr_pg_fail(PGconn *c, const PGresult *r, quire_error *err, const char *what)
{
    const char *st = qr_pg_state(r);
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !msg[0])
        msg = c ? PQerrorMessage(c) : "no connection";
    char m[768];
    snprintf(m, sizeof m, "%s", msg);
    for (char *q = m; *q; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
            *q = ' ';
    size_t l = strlen(m);
    while (l && m[l - 1] == ' ')
        m[--l] = 0;
    quire_status code = QUIRE_ERROR;
    if (!st[0] || qr_pg_broken(c) || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 ||
        strncmp(st, "53", 2) == 0)
        code = QUIRE_IO;
    else if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
             strcmp(st, "23505") == 0)
        code = QUIRE_BUSY;
    else if (strncmp(st, "22", 2) == 0)
        code = QUIRE_FORMAT;
    char where[320];
    qr_pg_where(c, where, sizeof where);
    return qr_err(err, code, "%s (%s): %s%s%s%s", what, where, m, st[0] ? " [" : "", st,
                  st[0] ? "]" : "");
}

quire_status qr_pg_exec(PGconn *c, const char *sql, quire_error *err, const char *what)
{
    PGresult *r = PQexec(c, sql);
    quire_status rc = QUIRE_OK;
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
        rc = qr_pg_fail(c, r, err, what);
    PQclear(r);
    return rc;
}

PGresult *qr_pg_query(PGconn *c, const char *sql, int n, const char *const *vals,
                      quire_error *err, const char *what, quire_status *rc)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)) {
        *rc = qr_pg_fail(c, r, err, what);
        PQclear(r);
        return NULL;
    }
    *rc = QUIRE_OK;
    return r;
}

static quire_status migrate(PGconn *c, int create, quire_error *err)
{
    quire_status rc;
    if (!create) {
        PGresult *r = qr_pg_query(c, "SELECT to_regclass('quire_schema') IS NOT NULL", 0, NULL,
                                  err, "reading the schema version", &rc);
        if (!r)
            return rc;
        int v = -1;
        if (PQgetvalue(r, 0, 0)[0] == 't') {
            PQclear(r);
            r = qr_pg_query(c, "SELECT coalesce(max(version), -1) FROM quire_schema", 0, NULL,
                            err, "reading the schema version", &rc);
            if (!r)
                return rc;
            v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        }
        PQclear(r);
        char where[320];
        qr_pg_where(c, where, sizeof where);
        if (v < 1)
            return qr_err(err, QUIRE_NOT_FOUND,
                          "%s holds no quire schema (run quire enqueue or quire worker first)",
                          where);
        if (v > QR_PG_SCHEMA)
            return qr_err(err, QUIRE_UNSUPPORTED,
                          "%s has quire schema version %d, newer than this quire knows (%d): "
                          "upgrade quire",
                          where, v, QR_PG_SCHEMA);
        return QUIRE_OK;
    }
    char lock[96];
    snprintf(lock, sizeof lock, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", QR_PG_LOCK_SCHEMA);
    if ((rc = qr_pg_exec(c, lock, err, "locking the schema")) != QUIRE_OK)
        return rc;
    rc = qr_pg_exec(c,
                    "CREATE TABLE IF NOT EXISTS quire_schema(version int NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    err, "creating quire_schema");
    PGresult *r = NULL;
    if (rc == QUIRE_OK)
        r = qr_pg_query(c, "SELECT coalesce(max(version), 0) FROM quire_schema", 0, NULL, err,
                        "reading the schema version", &rc);
    if (!r) {
        qr_pg_exec(c, "ROLLBACK", NULL, "");
        return rc;
    }
    int v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (v > QR_PG_SCHEMA) {
        qr_pg_exec(c, "ROLLBACK", NULL, "");
        char where[320];
        qr_pg_where(c, where, sizeof where);
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s has quire schema version %d, newer than this quire knows (%d): "
                      "upgrade quire",
                      where, v, QR_PG_SCHEMA);
    }
    if (v < 1) {
        rc = qr_pg_exec(c, SCHEMA_V1, err, "creating the quire schema (version 1)");
        if (rc == QUIRE_OK)
            rc = qr_pg_exec(c, "INSERT INTO quire_schema(version) VALUES (1)", err,
                            "recording the schema version");
    }
    if (v < 2 && rc == QUIRE_OK) {
        rc = qr_pg_exec(c, SCHEMA_V2, err, "migrating the quire schema to version 2");
        if (rc == QUIRE_OK)
            rc = qr_pg_exec(c, "INSERT INTO quire_schema(version) VALUES (2)", err,
                            "recording the schema version");
    }
    if (v < 3 && rc == QUIRE_OK) {
        rc = qr_pg_exec(c, SCHEMA_V3, err, "migrating the quire schema to version 3");
        if (rc == QUIRE_OK)
            rc = qr_pg_exec(c, "INSERT INTO quire_schema(version) VALUES (3)", err,
                            "recording the schema version");
    }
    /* (version 4 and later: one `if (v < N)` step each, in this same transaction) */
    if (rc == QUIRE_OK)
        rc = qr_pg_exec(c, "COMMIT", err, "committing the schema");
    else
        qr_pg_exec(c, "ROLLBACK", NULL, "");
    return rc;
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* "relation already exists, skipping" and the like */
}

quire_status qr_pg_connect(const char *url, const char *app, int migrate_schema, PGconn **out,
                           quire_error *err)
{
    *out = NULL;
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {url, app, "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c)
        return qr_err(err, QUIRE_NOMEM, "PostgreSQL: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", PQerrorMessage(c));
        size_t l = strlen(m);
        while (l && (m[l - 1] == '\n' || m[l - 1] == ' '))
            m[--l] = 0;
        PQfinish(c);
        c = NULL;
        /* Waiting helps when the server is down, starting, stopping or full (QUIRE_IO);
         * it does not when the server accepts connections and refused ours (no such
         * database or role, authentication) or the URL itself is bad. PQping tells them
         * apart without parsing messages; a server that came up between the two calls
         * is given one more try. */
        PGPing ping = PQpingParams(keys, vals, 1);
        if (ping == PQPING_NO_ATTEMPT)
            return qr_err(err, QUIRE_INVALID_ARG, "cannot connect to PostgreSQL: %s", m);
        if (ping == PQPING_OK) {
            c = PQconnectdbParams(keys, vals, 1);
            if (!c)
                return qr_err(err, QUIRE_NOMEM, "PostgreSQL: out of memory");
            if (PQstatus(c) != CONNECTION_OK) {
                PQfinish(c);
                return qr_err(err, QUIRE_ERROR,
                              "cannot connect to PostgreSQL (the server is up and refused "
                              "this connection): %s",
                              m);
            }
        } else
            return qr_err(err, QUIRE_IO, "cannot connect to PostgreSQL: %s", m);
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    /* a stuck client must not hold row locks (or the xmin horizon) for long */
    quire_status rc = qr_pg_exec(c,
                                 "SET idle_in_transaction_session_timeout = '60s';"
                                 " SET lock_timeout = '30s'",
                                 err, "setting session timeouts");
    if (rc == QUIRE_OK)
        rc = migrate(c, migrate_schema, err);
    if (rc != QUIRE_OK) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return QUIRE_OK;
}
