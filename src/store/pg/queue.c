/*
 * queue.c — `quire enqueue` and `quire status` on PostgreSQL: one job per document,
 * keyed by collection + canonical path + sha256 (a partial unique index: an unchanged
 * file is not queued twice, a failed one can be queued again), inserted in one
 * transaction that ends with one payload-free NOTIFY; and the queue's counts as JSON.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"
#include "store/store_int.h"

quire_status qr_pg_enqueue(const char *url, const qr_enqueue_params *p,
                           const char *const *paths, int n, qr_enqueue_result *res,
                           quire_error *err)
{
    qr_enqueue_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    qr_enqueue_params defp = {NULL, 0, 0, NULL, NULL};
    if (!p)
        p = &defp;
    const char *coll = p->collection ? p->collection : "default";
    char maxa[16], prio[16];
    snprintf(maxa, sizeof maxa, "%d", p->max_attempts > 0 ? p->max_attempts : 5);
    snprintf(prio, sizeof prio, "%d", p->priority);
    PGconn *c = NULL;
    quire_status rc = qr_pg_connect(url, "quire-enqueue", 1, &c, err);
    if (rc != QUIRE_OK)
        return rc;
    if ((rc = qr_pg_exec(c, "BEGIN", err, "starting the enqueue")) != QUIRE_OK)
        goto out;
    for (int i = 0; i < n; i++) {
        char key[PATH_MAX], sha[65];
        long long size = 0;
        quire_error e = {0, ""};
        if (!realpath(paths[i], key)) {
            snprintf(e.msg, sizeof e.msg, "%s: %s", paths[i], strerror(errno));
            if (p->report)
                p->report(p->ud, e.msg);
            res->failed++;
            continue;
        }
        if (qr_ingest_hash(key, sha, &size, &e) != QUIRE_OK) {
            if (p->report)
                p->report(p->ud, e.msg);
            res->failed++;
            continue;
        }
        const char *v[5] = {coll, key, sha, maxa, prio};
        /* nothing to do when the same content is queued, running, done, or stored */
        PGresult *r = qr_pg_query(
            c,
            "INSERT INTO jobs(collection, path, sha256, max_attempts, priority)"
            " SELECT $1, $2, $3, $4::int, $5::int WHERE NOT EXISTS ("
            "  SELECT 1 FROM documents d JOIN collections k ON k.id = d.collection_id"
            "  WHERE k.name = $1 AND d.path = $2 AND d.sha256 = $3)"
            " ON CONFLICT (collection, path, sha256) WHERE state <> 'failed' DO NOTHING"
            " RETURNING id",
            5, v, err, "queueing a job", &rc);
        if (!r)
            goto rollback;
        if (PQntuples(r) > 0)
            res->added++;
        else
            res->skipped++;
        PQclear(r);
    }
    if (res->added &&
        (rc = qr_pg_exec(c, "NOTIFY quire_jobs", err, "notifying the workers")) != QUIRE_OK)
        goto rollback;
    rc = qr_pg_exec(c, "COMMIT", err, "committing the enqueue");
    goto out;
rollback:
    qr_pg_exec(c, "ROLLBACK", NULL, "");
    res->added = 0;
out:
    PQfinish(c);
    return rc;
}

static long long count_of(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

quire_status qr_pg_status(const char *url, char **out, quire_error *err)
{
    *out = NULL;
    PGconn *c = NULL;
    quire_status rc = qr_pg_connect(url, "quire-status", 0, &c, err);
    if (rc != QUIRE_OK)
        return rc;
    json_t *o = json_object(), *jobs = json_object(), *errs = json_array();
    PGresult *r = NULL;
    if (!o || !jobs || !errs) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    /* one snapshot for every count */
    if ((rc = qr_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err,
                         "reading the queue")) != QUIRE_OK)
        goto out;
    static const char *const states[] = {"queued", "running", "done", "failed"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(jobs, states[i], json_integer(0));
    r = qr_pg_query(c, "SELECT state, count(*) FROM jobs GROUP BY state", 0, NULL, err,
                    "counting jobs", &rc);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(jobs, PQgetvalue(r, i, 0), json_integer(count_of(r, i, 1)));
    PQclear(r);
    json_object_set_new(o, "schema", json_integer(QR_PG_SCHEMA));
    json_object_set(o, "jobs", jobs);
    r = qr_pg_query(c,
                    "SELECT (SELECT count(*) FROM workers WHERE state = 'alive'),"
                    " (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks),"
                    " (SELECT count(*) FROM vectors),"
                    " (SELECT count(*) FROM jobs WHERE state = 'done'"
                    "   AND finished_at > now() - interval '60 s'),"
                    " (SELECT count(*) FROM jobs WHERE state = 'queued' AND attempt > 0),"
                    " (SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)"
                    "   FROM jobs WHERE state = 'queued' AND run_at <= now())",
                    0, NULL, err, "counting the store", &rc);
    if (!r)
        goto out;
    json_object_set_new(o, "workers_alive", json_integer(count_of(r, 0, 0)));
    json_object_set_new(o, "documents", json_integer(count_of(r, 0, 1)));
    json_object_set_new(o, "chunks", json_integer(count_of(r, 0, 2)));
    json_object_set_new(o, "vectors", json_integer(count_of(r, 0, 3)));
    json_object_set_new(o, "docs_per_s", json_real((double)count_of(r, 0, 4) / 60.0));
    json_object_set_new(o, "retrying", json_integer(count_of(r, 0, 5)));
    json_object_set_new(o, "oldest_ready_s", json_real(strtod(PQgetvalue(r, 0, 6), NULL)));
    PQclear(r);
    r = qr_pg_query(c,
                    "SELECT id, path, attempt, state, errors -> -1 ->> 'error' FROM jobs"
                    " WHERE jsonb_array_length(errors) > 0 AND state IN ('failed','queued')"
                    " ORDER BY coalesce(finished_at, run_at) DESC LIMIT 10",
                    0, NULL, err, "reading errors", &rc);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(errs, json_pack("{s:I,s:s,s:I,s:s,s:s}", "job",
                                              (json_int_t)count_of(r, i, 0), "path",
                                              PQgetvalue(r, i, 1), "attempt",
                                              (json_int_t)count_of(r, i, 2), "state",
                                              PQgetvalue(r, i, 3), "error",
                                              PQgetvalue(r, i, 4)));
    PQclear(r);
    r = NULL;
    json_object_set(o, "errors", errs);
    /* search replicas (schema 3): the lag each last reported plus the time since */
    r = qr_pg_query(c, "SELECT to_regclass('replicas') IS NOT NULL", 0, NULL, err,
                    "reading replicas", &rc);
    if (!r)
        goto out;
    int has_replicas = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    json_t *reps = json_array();
    double max_lag = -1;
    if (!reps) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(o, "replicas", reps);
    if (has_replicas) {
        r = qr_pg_query(c,
                        "SELECT name, horizon::text, coalesce(lag_s, 0) +"
                        " extract(epoch FROM now() - seen_at), extract(epoch FROM now() - seen_at),"
                        " bootstrap_rows FROM replicas ORDER BY name",
                        0, NULL, err, "reading replicas", &rc);
        if (!r)
            goto out;
        for (int i = 0; i < PQntuples(r); i++) {
            double lag = strtod(PQgetvalue(r, i, 2), NULL);
            max_lag = lag > max_lag ? lag : max_lag;
            json_array_append_new(reps, json_pack("{s:s,s:s,s:f,s:f,s:I}", "name",
                                                  PQgetvalue(r, i, 0), "horizon",
                                                  PQgetvalue(r, i, 1), "feed_lag_s", lag,
                                                  "seen_s_ago", strtod(PQgetvalue(r, i, 3), NULL),
                                                  "bootstrap_rows",
                                                  (json_int_t)count_of(r, i, 4)));
        }
        PQclear(r);
        r = NULL;
    }
    json_object_set_new(o, "feed_lag_s", max_lag >= 0 ? json_real(max_lag) : json_null());
    qr_pg_exec(c, "COMMIT", NULL, "");
    char *s = json_dumps(o, JSON_COMPACT);
    if (!s) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    *out = qr_strdup(s);
    free(s); /* lint-allow: free (json_dumps) */
    if (!*out)
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
out:
    PQclear(r);
    json_decref(o);
    json_decref(jobs);
    json_decref(errs);
    PQfinish(c);
    return rc;
}
