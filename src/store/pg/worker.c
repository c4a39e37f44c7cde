/*
 * worker.c — `quire worker`: drain the PostgreSQL job queue into the shared store.
 *
 * Each of --jobs threads owns one connection: it claims one job at a time
 * (FOR UPDATE SKIP LOCKED; attempt + 1; a lease), converts/chunks/embeds the file with
 * the same code as `quire ingest` (qr_ingest_prepare), and commits the document's rows
 * (COPY) together with the job's completion in one transaction. The completing UPDATE is
 * fenced by (worker id, attempt): when the lease expired and another worker took the
 * job over, 0 rows match and the transaction is rolled back ("lease lost"), so a paused
 * or partitioned worker can never commit over the new owner.
 *
 * A heartbeat thread (its own connection) extends the leases of the jobs in hand every
 * lease/3 and runs the reaper under pg_try_advisory_xact_lock: running jobs whose lease
 * expired are requeued (or failed, after max_attempts) with the rescue in their errors.
 * Errors of the document that cannot get better (corrupt/unsupported input, a model
 * mismatch) fail the job at once; others are retried with jittered exponential backoff.
 * Lost connections are re-established with backoff; a COMMIT whose outcome is unknown is
 * resolved by reading the job row.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "embed/embed.h"
#include "store/pg/pg_int.h"
#include "store/store_int.h"

#define QR_LOST QUIRE_CANCELLED /* internal: the fence matched no row */

typedef struct wk_shared wk_shared;

typedef struct wk_thread {
    wk_shared *sh;
    pthread_t tid;
    PGconn *conn;
    quire_embedder *emb;
    long long job_id; /* the job in hand (0 = none), read by the heartbeat; under sh->mu */
    unsigned rng;
    char durable[64]; /* "BEGIN; SET LOCAL synchronous_commit = <the server's setting>" */
} wk_thread;

struct wk_shared {
    const qr_worker_params *p;
    long long worker_id;
    char wid[24], lease[24];
    pthread_mutex_t mu; /* stats, reports, job ids */
    qr_worker_stats st;
    volatile int quit;  /* every job thread has returned: the heartbeat stops */
    double hold_s;      /* QUIRE_WORKER_HOLD_MS: sleep before each commit (fault tests) */
    wk_thread *t;
    int n;
};

static int stopping(const wk_shared *sh)
{
    return sh->p->stop && *sh->p->stop;
}

static void report(wk_shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(wk_shared *sh, const char *fmt, ...)
{
    if (!sh->p->report)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&sh->mu);
    sh->p->report(sh->p->ud, line);
    pthread_mutex_unlock(&sh->mu);
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* sleep up to s, in slices, returning early when the worker is told to stop */
static void nap(const wk_shared *sh, double s)
{
    double end = qr_now() + s;
    while (!stopping(sh)) {
        double left = end - qr_now();
        if (left <= 0)
            break;
        sleep_s(left < 0.1 ? left : 0.1);
    }
}

static double jitter(unsigned *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    return 0.75 + 0.5 * (double)((*rng >> 8) & 0xffffff) / (double)0x1000000;
}

/* A job connection commits its claims without waiting for the WAL flush
 * (synchronous_commit = off for the session): a claim lost in a server crash only puts the
 * job back in the queue, and every completion is fenced by (state 'running', worker id,
 * attempt), so at most the work is redone. What must survive a crash — the document's rows
 * with the job's completion, a recorded failure — commits in a transaction that sets
 * synchronous_commit back to the server's own setting (t->durable). This halves the WAL
 * flushes a job waits for (one instead of two). */
static quire_status async_claims(wk_thread *t, quire_error *e)
{
    quire_status rc;
    PGresult *r = qr_pg_query(t->conn, "SELECT current_setting('synchronous_commit')", 0, NULL,
                              e, "reading synchronous_commit", &rc);
    if (!r)
        return rc;
    const char *v = PQgetvalue(r, 0, 0);
    if (!v[0] || strspn(v, "abcdefghijklmnopqrstuvwxyz_") != strlen(v) || strlen(v) > 20)
        v = "on";
    snprintf(t->durable, sizeof t->durable, "BEGIN; SET LOCAL synchronous_commit = %s", v);
    PQclear(r);
    return qr_pg_exec(t->conn, "SET synchronous_commit = off", e, "setting synchronous_commit");
}

/* (Re)connect with backoff 0.1 s -> 5 s, for up to 120 s (or until stopped with no job in
 * hand). 0 on success. */
static int reconnect(wk_thread *t, const char *app, int in_job, int listen)
{
    wk_shared *sh = t->sh;
    if (t->conn)
        PQfinish(t->conn);
    t->conn = NULL;
    double wait = 0.1, t0 = qr_now();
    for (;;) {
        quire_error e = {0, ""};
        if (qr_pg_connect(sh->p->url, app, 0, &t->conn, &e) == QUIRE_OK) {
            if (!listen || (qr_pg_exec(t->conn, "LISTEN quire_jobs", &e, "LISTEN") == QUIRE_OK &&
                            async_claims(t, &e) == QUIRE_OK))
                return 0;
            PQfinish(t->conn);
            t->conn = NULL;
        }
        if ((!in_job && stopping(sh)) || qr_now() - t0 > 120) {
            report(sh, "worker %s: giving up reconnecting: %s", sh->wid, e.msg);
            return -1;
        }
        sleep_s(wait * jitter(&t->rng));
        wait = wait * 2 > 5 ? 5 : wait * 2;
    }
}

typedef struct wk_job {
    long long id;
    int attempt, max_attempts;
    char sid[24], satt[16];
    char collection[256], path[PATH_MAX], sha[65];
} wk_job;

/* 1: a job claimed, 0: none ready, -1: error (connection) */
static int claim(wk_thread *t, wk_job *j)
{
    wk_shared *sh = t->sh;
    const char *v[2] = {sh->wid, sh->lease};
    quire_status rc;
    quire_error e = {0, ""};
    PGresult *r = qr_pg_query(
        t->conn,
        "WITH c AS (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now()"
        "  ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " UPDATE jobs j SET state = 'running', worker_id = $1::bigint,"
        "  attempt = j.attempt + 1, started_at = now(),"
        "  lease_until = now() + $2::float8 * interval '1 second'"
        " FROM c WHERE j.id = c.id"
        " RETURNING j.id, j.attempt, j.max_attempts, j.collection, j.path, j.sha256",
        2, v, &e, "claiming a job", &rc);
    if (!r) {
        report(sh, "worker %s: %s", sh->wid, e.msg);
        return -1;
    }
    int got = PQntuples(r) > 0;
    if (got) {
        j->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        j->attempt = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
        j->max_attempts = (int)strtol(PQgetvalue(r, 0, 2), NULL, 10);
        snprintf(j->collection, sizeof j->collection, "%s", PQgetvalue(r, 0, 3));
        snprintf(j->path, sizeof j->path, "%s", PQgetvalue(r, 0, 4));
        snprintf(j->sha, sizeof j->sha, "%s", PQgetvalue(r, 0, 5));
        snprintf(j->sid, sizeof j->sid, "%lld", j->id);
        snprintf(j->satt, sizeof j->satt, "%d", j->attempt);
        pthread_mutex_lock(&sh->mu);
        t->job_id = j->id;
        pthread_mutex_unlock(&sh->mu);
    }
    PQclear(r);
    return got;
}

/* The collection's settings (defaults when it does not exist yet: have = 0). */
static quire_status coll_settings(PGconn *c, const quire_collection_params *create,
                                  const char *name, const char *path, qr_coll *k, int *have,
                                  char old_sha[65], quire_error *err)
{
    memset(k, 0, sizeof(*k));
    qr_ingest_coll_params(create, k);
    *have = 0;
    old_sha[0] = 0;
    quire_status rc;
    const char *v[2] = {name, path};
    PGresult *r = qr_pg_query(c,
                              "SELECT c.id, c.chunk_tokens, c.overlap, coalesce(i.id, 0),"
                              " coalesce(i.fingerprint, ''), coalesce(i.model, ''),"
                              " coalesce(i.doc_prefix, ''), coalesce(i.dims, 0),"
                              " coalesce((SELECT d.sha256 FROM documents d"
                              "  WHERE d.collection_id = c.id AND d.path = $2), '')"
                              " FROM collections c LEFT JOIN indexes i ON i.id = c.active_index"
                              " WHERE c.name = $1",
                              2, v, err, "reading the collection", &rc);
    if (!r)
        return rc;
    if (PQntuples(r)) {
        *have = 1;
        k->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        k->chunk_tokens = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
        k->overlap = (int)strtol(PQgetvalue(r, 0, 2), NULL, 10);
        k->index_id = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        snprintf(k->fingerprint, sizeof k->fingerprint, "%s", PQgetvalue(r, 0, 4));
        snprintf(k->model, sizeof k->model, "%s", PQgetvalue(r, 0, 5));
        snprintf(k->doc_prefix, sizeof k->doc_prefix, "%s", PQgetvalue(r, 0, 6));
        k->dims = (int)strtol(PQgetvalue(r, 0, 7), NULL, 10);
        snprintf(old_sha, 65, "%s", PQgetvalue(r, 0, 8));
    }
    PQclear(r);
    return QUIRE_OK;
}

/* One transaction: the document's rows (qr_pg_write_doc: the same write as a direct
 * `quire ingest`) and the fenced completion. *outcome: "added", "updated" or "unchanged". */
static quire_status commit(wk_thread *t, const wk_job *j, const qr_prepared *pp, int exclusive,
                           const char **outcome, quire_error *err)
{
    wk_shared *sh = t->sh;
    PGconn *c = t->conn;
    quire_status rc;
    PGresult *r = NULL;
    if ((rc = qr_pg_exec(c, t->durable, err, "starting the commit")) != QUIRE_OK)
        return rc;
    qr_pg_doc d;
    memset(&d, 0, sizeof d);
    d.collection = j->collection;
    d.create = sh->p->create;
    d.model = sh->p->model;
    d.path = j->path;
    d.pp = pp;
    d.exclusive = exclusive;
    d.job_id = j->sid;
    d.worker_id = sh->wid;
    d.attempt = j->satt;
    if ((rc = qr_pg_write_doc(c, &d, outcome, err)) != QUIRE_OK)
        goto fail;
    {
        const char *v[4] = {j->sid, sh->wid, j->satt, *outcome};
        r = qr_pg_query(c,
                        "UPDATE jobs SET state = 'done', outcome = $4, finished_at = now(),"
                        " lease_until = NULL WHERE id = $1::bigint AND state = 'running'"
                        " AND worker_id = $2::bigint AND attempt = $3::int RETURNING id",
                        4, v, err, "completing the job", &rc);
        if (!r)
            goto fail;
        int fenced = PQntuples(r) == 1;
        PQclear(r);
        r = NULL;
        if (!fenced) {
            rc = qr_err(err, QR_LOST, "lease lost");
            goto fail;
        }
    }
    return qr_pg_exec(c, "COMMIT", err, "committing the document");
fail:
    if (!qr_pg_broken(c))
        qr_pg_exec(c, "ROLLBACK", NULL, "");
    return rc;
}

/* The job row after a connection loss: 1 = done by us (the COMMIT went through),
 * 0 = still ours and running, -1 = not ours any more (or unreadable). */
static int job_is_ours(wk_thread *t, const wk_job *j)
{
    const char *v[1] = {j->sid};
    quire_status rc;
    quire_error e;
    PGresult *r = qr_pg_query(t->conn, "SELECT state, worker_id, attempt FROM jobs WHERE id = $1::bigint",
                              1, v, &e, "reading the job", &rc);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    int mine = strcmp(PQgetvalue(r, 0, 1), t->sh->wid) == 0 &&
               strcmp(PQgetvalue(r, 0, 2), j->satt) == 0;
    const char *s = PQgetvalue(r, 0, 0);
    int out = !mine ? -1 : strcmp(s, "done") == 0 ? 1 : strcmp(s, "running") == 0 ? 0 : -1;
    PQclear(r);
    return out;
}

static int permanent(quire_status rc)
{
    switch (QUIRE_STATUS_PRIMARY(rc)) {
    case QUIRE_FORMAT:
    case QUIRE_UNSUPPORTED:
    case QUIRE_MISMATCH:
    case QUIRE_INVALID_ARG:
    case QUIRE_LIMIT:
        return 1;
    default:
        return 0;
    }
}

/* Record a failed attempt, fenced like a completion: requeue with backoff, or fail the
 * job (permanent error, or the last attempt). QR_LOST when the job is not ours. */
static quire_status record_failure(wk_thread *t, const wk_job *j, quire_status why,
                                   const char *msg, quire_error *err)
{
    wk_shared *sh = t->sh;
    int perm = permanent(why);
    int final = perm || j->attempt >= j->max_attempts;
    double base = sh->p->retry_base_s > 0 ? sh->p->retry_base_s : 30;
    double delay = 0;
    if (!final) {
        delay = base * pow(2.0, j->attempt - 1);
        if (delay > 3600)
            delay = 3600;
        delay *= jitter(&t->rng);
    }
    char sdelay[32];
    snprintf(sdelay, sizeof sdelay, "%.3f", delay);
    const char *v[7] = {j->sid, sh->wid, j->satt, final ? "t" : "f", sdelay, msg,
                        perm ? "t" : "f"};
    quire_status rc;
    if ((rc = qr_pg_exec(t->conn, t->durable, err, "recording the failure")) != QUIRE_OK)
        return rc;
    PGresult *r = qr_pg_query(
        t->conn,
        "UPDATE jobs SET state = CASE WHEN $4::bool THEN 'failed' ELSE 'queued' END,"
        " run_at = now() + $5::float8 * interval '1 second', lease_until = NULL,"
        " worker_id = CASE WHEN $4::bool THEN worker_id END,"
        " finished_at = CASE WHEN $4::bool THEN now() END,"
        " outcome = CASE WHEN $4::bool THEN 'failed' END,"
        " errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt,"
        "  'worker', worker_id, 'at', now(), 'error', $6::text, 'permanent', $7::bool,"
        "  'retry_in_s', CASE WHEN $4::bool THEN NULL ELSE $5::float8 END))"
        " WHERE id = $1::bigint AND state = 'running' AND worker_id = $2::bigint"
        " AND attempt = $3::int RETURNING id",
        7, v, err, "recording the failure", &rc);
    if (!r) {
        if (!qr_pg_broken(t->conn))
            qr_pg_exec(t->conn, "ROLLBACK", NULL, "");
        return rc;
    }
    int fenced = PQntuples(r) == 1;
    PQclear(r);
    if ((rc = qr_pg_exec(t->conn, fenced ? "COMMIT" : "ROLLBACK", err,
                         "recording the failure")) != QUIRE_OK)
        return rc;
    if (!fenced)
        return qr_err(err, QR_LOST, "lease lost");
    pthread_mutex_lock(&sh->mu);
    if (final)
        sh->st.failed++;
    else
        sh->st.retried++;
    pthread_mutex_unlock(&sh->mu);
    if (final)
        report(sh, "worker %s: job %lld %s: failed (%s, attempt %d of %d): %s", sh->wid, j->id,
               j->path, perm ? "permanent error" : "last attempt", j->attempt, j->max_attempts,
               msg);
    else
        report(sh, "worker %s: job %lld %s: attempt %d of %d failed, retry in %.1f s: %s",
               sh->wid, j->id, j->path, j->attempt, j->max_attempts, delay, msg);
    return QUIRE_OK;
}

static void lost(wk_thread *t, const wk_job *j)
{
    wk_shared *sh = t->sh;
    pthread_mutex_lock(&sh->mu);
    sh->st.lost++;
    pthread_mutex_unlock(&sh->mu);
    report(sh, "worker %s: job %lld %s: lease lost (attempt %d was taken over by another "
               "worker): not committed",
           sh->wid, j->id, j->path, j->attempt);
}

static void process(wk_thread *t, wk_job *j)
{
    wk_shared *sh = t->sh;
    const qr_worker_params *p = sh->p;
    const quire_model *m = p->model;
    qr_prepared pp;
    memset(&pp, 0, sizeof pp);
    quire_ingest_result res;
    memset(&res, 0, sizeof res);
    int prepared = 0, exclusive = 0;
    quire_status fail_rc = QUIRE_OK; /* the document's error, still to be recorded */
    char fail_msg[256] = "";
    double t0 = qr_now();
    for (int round = 0; round < 10; round++) {
        if (qr_pg_broken(t->conn)) {
            if (reconnect(t, "quire-worker", 1, 1) != 0)
                break;
            int s = job_is_ours(t, j);
            if (s < 0) {
                lost(t, j);
                break;
            }
            if (s == 1) { /* the COMMIT went through before the connection broke */
                pthread_mutex_lock(&sh->mu);
                sh->st.done++;
                pthread_mutex_unlock(&sh->mu);
                report(sh, "worker %s: job %lld %s: committed (confirmed after reconnecting)",
                       sh->wid, j->id, j->path);
                break;
            }
        }
        quire_error e = {0, ""};
        quire_status rc = QUIRE_OK;
        if (fail_rc == QUIRE_OK && !prepared) {
            qr_coll k;
            int have = 0;
            char old_sha[65] = "";
            rc = qr_ingest_hash(j->path, pp.sha, &pp.size, &e);
            if (rc == QUIRE_OK)
                rc = coll_settings(t->conn, p->create, j->collection, j->path, &k, &have, old_sha, &e);
            if (rc == QUIRE_OK)
                rc = have ? qr_pg_check_model(j->collection, &k, m, 1, &e) : QUIRE_OK;
            if (rc == QUIRE_OK && strcmp(old_sha, pp.sha) == 0) {
                prepared = 1; /* stored with this content already: commit() says unchanged */
                continue;
            }
            if (rc == QUIRE_OK) {
                exclusive = m && !k.index_id;
                quire_ingest_params ip = quire_ingest_default_params();
                ip.collection = j->collection;
                ip.embedder = t->emb;
                ip.converter = p->converter;
                ip.convert = p->convert;
                ip.store_path = j->path;
                rc = qr_ingest_prepare(j->path, &ip, &k, &pp, &res, &e);
            }
            if (rc != QUIRE_OK) {
                if (qr_pg_broken(t->conn))
                    continue; /* the database's trouble, not the document's */
                fail_rc = rc;
                snprintf(fail_msg, sizeof fail_msg, "%s", e.msg);
            } else {
                prepared = 1;
                if (sh->hold_s > 0)
                    sleep_s(sh->hold_s);
            }
        }
        if (fail_rc != QUIRE_OK) {
            rc = record_failure(t, j, fail_rc, fail_msg, &e);
            if (rc == QR_LOST)
                lost(t, j);
            else if (rc != QUIRE_OK && qr_pg_broken(t->conn))
                continue;
            else if (rc != QUIRE_OK)
                report(sh, "worker %s: job %lld: %s", sh->wid, j->id, e.msg);
            break;
        }
        const char *outcome = "added";
        rc = commit(t, j, &pp, exclusive, &outcome, &e);
        if (rc == QUIRE_OK) {
            pthread_mutex_lock(&sh->mu);
            if (strcmp(outcome, "unchanged") == 0)
                sh->st.unchanged++;
            else
                sh->st.done++;
            pthread_mutex_unlock(&sh->mu);
            report(sh, "worker %s: job %lld %s: %s, %d pages, %zu chunks (attempt %d, %.0f ms)",
                   sh->wid, j->id, j->path, outcome, pp.pages, pp.chunks.n, j->attempt,
                   (qr_now() - t0) * 1e3);
            break;
        }
        if (rc == QR_LOST) {
            lost(t, j);
            break;
        }
        if (qr_pg_broken(t->conn))
            continue; /* reconnect, then read the job row: the COMMIT may have landed */
        if (QUIRE_STATUS_PRIMARY(rc) == QUIRE_BUSY) {
            exclusive = exclusive || (m && strstr(e.msg, "no index yet"));
            sleep_s(0.01 * (round + 1) * jitter(&t->rng));
            continue; /* deadlock, serialization, a concurrent insert: run it again */
        }
        fail_rc = rc; /* the data was refused (e.g. invalid text): record it */
        snprintf(fail_msg, sizeof fail_msg, "%s", e.msg);
    }
    qr_prepared_free(&pp);
    pthread_mutex_lock(&sh->mu);
    t->job_id = 0;
    pthread_mutex_unlock(&sh->mu);
}

/* Wait for a NOTIFY on quire_jobs, at most s seconds. */
static void wait_for_work(wk_thread *t, double s)
{
    double end = qr_now() + s;
    int sock = PQsocket(t->conn);
    while (!stopping(t->sh) && sock >= 0) {
        double left = end - qr_now();
        if (left <= 0)
            return;
        struct pollfd pf = {sock, POLLIN, 0};
        int ms = (int)(left * 1e3);
        poll(&pf, 1, ms < 100 ? (ms < 1 ? 1 : ms) : 100);
        if (!PQconsumeInput(t->conn))
            return;
        PGnotify *n;
        int got = 0;
        while ((n = PQnotifies(t->conn)) != NULL) {
            PQfreemem(n);
            got = 1;
        }
        if (got)
            return;
    }
}

static int queue_empty(wk_thread *t)
{
    quire_status rc;
    quire_error e;
    PGresult *r = qr_pg_query(t->conn,
                              "SELECT NOT EXISTS (SELECT 1 FROM jobs"
                              " WHERE state IN ('queued', 'running'))",
                              0, NULL, &e, "reading the queue", &rc);
    int empty = r && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return empty;
}

static void *job_thread(void *arg)
{
    wk_thread *t = arg;
    wk_shared *sh = t->sh;
    const qr_worker_params *p = sh->p;
    if (reconnect(t, "quire-worker", 0, 1) != 0)
        return NULL;
    double poll_s = p->poll_s > 0 ? p->poll_s : 2;
    while (!stopping(sh)) {
        if (qr_pg_broken(t->conn) && reconnect(t, "quire-worker", 0, 1) != 0)
            break;
        wk_job j;
        memset(&j, 0, sizeof j);
        int got = claim(t, &j);
        if (got < 0) {
            nap(sh, 0.2 * jitter(&t->rng));
            continue;
        }
        if (got == 0) {
            if (p->drain && queue_empty(t))
                break;
            wait_for_work(t, p->drain ? (poll_s < 0.5 ? poll_s : 0.5) : poll_s);
            continue;
        }
        process(t, &j);
    }
    if (t->conn)
        PQfinish(t->conn);
    t->conn = NULL;
    return NULL;
}

/* Extend the leases of the jobs in hand; mark this worker alive; reap. */
static void beat(wk_thread *hb)
{
    wk_shared *sh = hb->sh;
    char ids[1024];
    size_t o = 0;
    ids[o++] = '{';
    pthread_mutex_lock(&sh->mu);
    for (int i = 0; i < sh->n && o < sizeof ids - 32; i++)
        if (sh->t[i].job_id)
            o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%lld", o > 1 ? "," : "",
                                  sh->t[i].job_id);
    pthread_mutex_unlock(&sh->mu);
    ids[o++] = '}';
    ids[o] = 0;
    quire_status rc;
    quire_error e = {0, ""};
    const char *v[3] = {sh->wid, sh->lease, ids};
    PGresult *r = qr_pg_query(hb->conn,
                              "WITH w AS (UPDATE workers SET last_seen = now(), state = 'alive'"
                              " WHERE id = $1::bigint RETURNING id)"
                              " UPDATE jobs SET lease_until = now() + $2::float8 * interval"
                              " '1 second' WHERE id = ANY($3::bigint[]) AND state = 'running'"
                              " AND worker_id = $1::bigint",
                              3, v, &e, "heartbeat", &rc);
    PQclear(r);
    if (!r)
        return;
    /* the reaper: one worker at a time does it (the UPDATE is safe either way) */
    char lock[128];
    snprintf(lock, sizeof lock, "BEGIN; SELECT pg_try_advisory_xact_lock(%lld)",
             QR_PG_LOCK_REAPER);
    r = PQexec(hb->conn, lock);
    int have = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (have) {
        const char *vv[1] = {sh->lease};
        r = qr_pg_query(
            hb->conn,
            "UPDATE jobs SET state = CASE WHEN attempt >= max_attempts THEN 'failed'"
            " ELSE 'queued' END, run_at = now(), lease_until = NULL,"
            " finished_at = CASE WHEN attempt >= max_attempts THEN now() END,"
            " outcome = CASE WHEN attempt >= max_attempts THEN 'failed' END,"
            " worker_id = CASE WHEN attempt >= max_attempts THEN worker_id END,"
            " errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt,"
            "  'worker', worker_id, 'at', now(), 'error', 'lease expired: worker ' ||"
            "  worker_id || ' lost (no heartbeat for ' || $1 || ' s)', 'permanent', false))"
            " WHERE state = 'running' AND lease_until < now()"
            " RETURNING id, path, errors -> -1 ->> 'worker', state",
            1, vv, &e, "reaping", &rc);
        for (int i = 0; r && i < PQntuples(r); i++)
            report(sh, "worker %s: rescued job %s %s of lost worker %s: %s", sh->wid,
                   PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                   strcmp(PQgetvalue(r, i, 3), "failed") == 0 ? "failed (no attempts left)"
                                                              : "requeued");
        PQclear(r);
        r = qr_pg_query(hb->conn,
                        "UPDATE workers SET state = 'dead' WHERE state = 'alive'"
                        " AND last_seen < now() - 2 * $1::float8 * interval '1 second'",
                        1, vv, &e, "reaping workers", &rc);
        PQclear(r);
    }
    qr_pg_exec(hb->conn, have ? "COMMIT" : "ROLLBACK", NULL, "");
}

static void *heartbeat_thread(void *arg)
{
    wk_thread *hb = arg;
    wk_shared *sh = hb->sh;
    double every = (sh->p->lease_s > 0 ? sh->p->lease_s : 30) / 3;
    double next = 0;
    while (!sh->quit) {
        if (qr_now() >= next) {
            if (qr_pg_broken(hb->conn) && reconnect(hb, "quire-heartbeat", 1, 0) != 0) {
                sleep_s(0.2);
                continue;
            }
            beat(hb);
            next = qr_now() + every;
        }
        sleep_s(0.05);
    }
    return NULL;
}

quire_status qr_pg_worker_run(const qr_worker_params *p, qr_worker_stats *st, quire_error *err)
{
    qr_worker_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    if (!p || !p->url)
        return qr_err(err, QUIRE_INVALID_ARG, "qr_pg_worker_run: NULL argument");
    wk_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.p = p;
    pthread_mutex_init(&sh.mu, NULL);
    snprintf(sh.lease, sizeof sh.lease, "%.3f", p->lease_s > 0 ? p->lease_s : 30);
    const char *hold = getenv("QUIRE_WORKER_HOLD_MS");
    if (hold && hold[0])
        sh.hold_s = strtod(hold, NULL) / 1e3;
    PGconn *c = NULL;
    quire_status rc;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    const char *v[3] = {host, pid, quire_version_str()};
    PGresult *r = NULL;
    /* Start-up (connect, migrate, register) is retried like a lost connection: a server
     * that is restarting, refusing connections or ending ours (pg_terminate_backend) is
     * waited for, with backoff 0.1 s -> 5 s +-25 %, for at most connect_wait_s; errors
     * that waiting cannot fix (a newer schema, a bad URL) are returned at once. */
    double wait = 0.1, t0 = qr_now();
    double limit = p->connect_wait_s > 0 ? p->connect_wait_s : 60;
    unsigned rng = (unsigned)getpid() * 2246822519u ^ (unsigned)time(NULL);
    int tries = 0;
    for (;;) {
        tries++;
        rc = qr_pg_connect(p->url, "quire-worker", 1, &c, err);
        if (rc == QUIRE_OK) {
            r = qr_pg_query(c,
                            "INSERT INTO workers(host, pid, version) VALUES ($1, $2::int, $3)"
                            " RETURNING id",
                            3, v, err, "registering the worker", &rc);
            if (r)
                break;
            PQfinish(c);
            c = NULL;
        }
        if ((rc != QUIRE_IO && rc != QUIRE_BUSY) || (p->stop && *p->stop))
            return rc;
        double left = limit - (qr_now() - t0);
        if (left <= 0) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            return qr_err(err, rc, "worker start-up: gave up after %d attempts in %.1f s: %s",
                          tries, qr_now() - t0, m);
        }
        /* slices of 0.1 s: SIGTERM while waiting ends the wait at once */
        double d = wait * jitter(&rng), end = qr_now() + (d < left ? d : left);
        while (!(p->stop && *p->stop) && qr_now() < end)
            sleep_s(end - qr_now() < 0.1 ? end - qr_now() : 0.1);
        wait = wait * 2 > 5 ? 5 : wait * 2;
    }
    if (tries > 1)
        report(&sh, "worker: connected after %d attempts (%.1f s)", tries, qr_now() - t0);
    sh.worker_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(sh.wid, sizeof sh.wid, "%lld", sh.worker_id);
    PQclear(r);
    st->worker_id = (long)sh.worker_id;
    int n = p->jobs > 0 ? p->jobs : 1;
    sh.t = qr_calloc((size_t)n, sizeof(wk_thread));
    wk_thread hb;
    memset(&hb, 0, sizeof hb);
    hb.sh = &sh;
    hb.conn = c; /* the heartbeat keeps the registering connection */
    hb.rng = (unsigned)getpid() * 2654435761u;
    if (!sh.t) {
        PQfinish(c);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    sh.n = n;
    pthread_t hbt;
    int hb_started = pthread_create(&hbt, NULL, heartbeat_thread, &hb) == 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        wk_thread *t = &sh.t[i];
        t->sh = &sh;
        t->rng = (unsigned)(getpid() * 31 + i) * 2654435761u ^ (unsigned)time(NULL);
        if (p->model) {
            quire_embedder_params ep = quire_embedder_default_params();
            ep.n_threads = n > 1 ? 1 : 2;
            if ((rc = quire_embedder_new(p->model, &ep, &t->emb, err)) != QUIRE_OK)
                break;
        }
        if (pthread_create(&t->tid, NULL, job_thread, t) != 0) {
            quire_embedder_free(t->emb);
            t->emb = NULL;
            rc = qr_err(err, QUIRE_ERROR, "cannot start a worker thread");
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(sh.t[i].tid, NULL);
        quire_embedder_free(sh.t[i].emb);
    }
    sh.quit = 1;
    if (hb_started)
        pthread_join(hbt, NULL);
    if (!qr_pg_broken(hb.conn)) {
        const char *vv[1] = {sh.wid};
        quire_error e;
        quire_status r2;
        PQclear(qr_pg_query(hb.conn, "UPDATE workers SET state = 'stopped' WHERE id = $1::bigint",
                            1, vv, &e, "stopping", &r2));
    }
    PQfinish(hb.conn);
    *st = sh.st;
    st->worker_id = (long)sh.worker_id;
    qr_free(sh.t);
    pthread_mutex_destroy(&sh.mu);
    return rc;
}
