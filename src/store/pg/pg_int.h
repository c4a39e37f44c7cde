/*
 * pg_int.h — internals of the PostgreSQL backend (src/store/pg): connections, errors
 * by SQLSTATE, the schema and its migrations.
 */
#ifndef QR_PG_INT_H
#define QR_PG_INT_H

#include <libpq-fe.h>

#include "core/core.h"
#include "store/store_pg.h"

/* Advisory lock keys (pg_advisory_xact_lock): "quire" + a purpose. */
#define QR_PG_LOCK_SCHEMA 0x7175697265000001LL
#define QR_PG_LOCK_REAPER 0x7175697265000002LL

/* Connect (url: a libpq URI; application_name set to app) and bring the schema to
 * QR_PG_SCHEMA under an advisory lock (migrate = 0: only check that it is there and not
 * newer). The error names the server (host/socket and database, never a password). */
quire_status qr_pg_connect(const char *url, const char *app, int migrate, PGconn **out,
                           quire_error *err);
/* URL without its password (user:PASSWORD@ and password=... become ***), for messages. */
void qr_pg_redact_url(const char *url, char *out, size_t cap);
/* "host=... db=..." of a connection, for messages. */
void qr_pg_where(PGconn *c, char *buf, size_t cap);
/* A result's error as a quire_status (QUIRE_IO for connection/transient classes,
 * QUIRE_BUSY for serialization/deadlock/lock timeouts, QUIRE_FORMAT for bad data,
 * QUIRE_ERROR otherwise) with a message "what: server message [SQLSTATE]". */
quire_status qr_pg_fail(PGconn *c, const PGresult *r, quire_error *err, const char *what);
/* SQLSTATE of a result ("" when none). */
const char *qr_pg_state(const PGresult *r);
/* Statements without results / with parameters (text); 0 on success, else err set. */
quire_status qr_pg_exec(PGconn *c, const char *sql, quire_error *err, const char *what);
PGresult *qr_pg_query(PGconn *c, const char *sql, int n, const char *const *vals,
                      quire_error *err, const char *what, quire_status *rc);
/* True when the connection is gone (reconnect). */
int qr_pg_broken(PGconn *c);
/* Append S[0..N) to B escaped for COPY's text format (backslash, tab, newline, CR). */
void qr_pg_copy_text(qr_buf *b, const char *s, size_t n);
/* Append a vector as a COPY-text bytea ("\\x" + hex of the little-endian float32s). */
void qr_pg_vec_hex(qr_buf *b, const float *v, int dims);
/* COPY ... FROM STDIN with B as the data (write.c). */
quire_status qr_pg_copy_in(PGconn *c, const char *sql, const qr_buf *b, quire_error *err,
                           const char *what);

/* ---- write.c: one document's rows, the one write path of workers and direct ingest --- */
struct qr_prepared;
struct qr_coll;
typedef struct qr_pg_doc {
    const char *collection;
    const quire_collection_params *create; /* a new collection's settings (NULL = defaults) */
    const quire_model *model;              /* NULL: text-only */
    const char *path;                      /* the document key */
    const struct qr_prepared *pp;          /* converted, chunked, embedded */
    const char *user_meta;                 /* the caller's metadata (normalised JSON); NULL =
                                              keep the stored document's own keys */
    int force;                             /* replace even when the sha256 is the same */
    int meta_only;                         /* write only user_meta into the stored document
                                              (pp is not prepared; outcome "unchanged") */
    int exclusive;                         /* lock the collection FOR UPDATE, so that its
                                              index may be created (else FOR SHARE, and
                                              QUIRE_BUSY "no index yet" when one is needed) */
    const char *job_id, *worker_id, *attempt; /* provenance of a worker's commit (text);
                                                 NULL for a direct ingest */
} qr_pg_doc;
/* Inside the caller's open transaction: create/lock the collection (and its index), replace
 * the document, COPY its chunks and vectors. *outcome: "added", "updated" or "unchanged"
 * (same sha256 and not force: nothing but the caller's metadata is written). */
quire_status qr_pg_write_doc(PGconn *c, const qr_pg_doc *d, const char **outcome,
                             quire_error *err);
/* QUIRE_MISMATCH when collection k's index is not model m's (worker: the message's advice). */
quire_status qr_pg_check_model(const char *coll, const struct qr_coll *k, const quire_model *m,
                               int worker, quire_error *err);

#endif
