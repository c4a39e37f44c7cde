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

#endif
