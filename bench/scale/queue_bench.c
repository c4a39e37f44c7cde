/*
 * queue_bench.c — no-op jobs through quire's PostgreSQL queue: N client processes,
 * each with its own connection, loop claim -> complete with the worker's own statements
 * (src/store/pg/worker.c: the SKIP LOCKED claim of one job with a lease, then the
 * completion fenced by worker id and attempt), each as its own autocommit transaction,
 * until the queue is empty. Prints jobs/s over the wall time of the whole run and the
 * claim latency percentiles (one claim = one round trip + commit), as one line of
 * key=value pairs. A benchmark, not a test (bench/scale/queue.sh runs it).
 *
 *   queue_bench URL CLIENTS [MODE]
 *
 * MODE new (default): what the worker does now (worker.c async_claims): the claim commits
 * without waiting for the WAL flush (synchronous_commit = off for the session), the
 * completion in a transaction that sets it back to the server's setting, so one flush per
 * job. MODE old: the worker's statements before that, each its own durable autocommit
 * transaction (two flushes per job): the peer, run in the same bench.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLAIM                                                                                 \
    "WITH c AS (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now()"              \
    "  ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"                        \
    " UPDATE jobs j SET state = 'running', worker_id = $1::bigint,"                         \
    "  attempt = j.attempt + 1, started_at = now(),"                                         \
    "  lease_until = now() + $2::float8 * interval '1 second'"                               \
    " FROM c WHERE j.id = c.id"                                                              \
    " RETURNING j.id, j.attempt, j.max_attempts, j.collection, j.path, j.sha256"
#define COMPLETE                                                                              \
    "UPDATE jobs SET state = 'done', outcome = $4, finished_at = now(),"                    \
    " lease_until = NULL WHERE id = $1::bigint AND state = 'running'"                        \
    " AND worker_id = $2::bigint AND attempt = $3::int RETURNING id"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* one client: claims until none is left; writes its claim latencies (ms, one per line)
 * to fd, then the count of jobs completed and of fenced-out completions on stderr */
static int client(const char *url, int idx, int fast, FILE *out)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "queue_bench: client %d: cannot connect: %s", idx, PQerrorMessage(c));
        return 1;
    }
    char wid[16];
    snprintf(wid, sizeof wid, "%d", 1000000 + idx);
    const char *cv[2] = {wid, "30"};
    if (!PQprepare(c, "claim", CLAIM, 0, NULL) || !PQprepare(c, "complete", COMPLETE, 0, NULL)) {
        fprintf(stderr, "queue_bench: prepare: %s", PQerrorMessage(c));
        return 1;
    }
    if (fast) {
        PGresult *q = PQexec(c, "SET synchronous_commit = off");
        if (PQresultStatus(q) != PGRES_COMMAND_OK) {
            fprintf(stderr, "queue_bench: SET: %s", PQerrorMessage(c));
            return 1;
        }
        PQclear(q);
    }
    long done = 0, fenced = 0;
    for (;;) {
        double t0 = now_s();
        PGresult *r = PQexecPrepared(c, "claim", 2, cv, NULL, NULL, 0);
        double ms = (now_s() - t0) * 1e3;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "queue_bench: claim: %s", PQerrorMessage(c));
            return 1;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            break;
        }
        fprintf(out, "%.4f\n", ms);
        const char *v[4] = {PQgetvalue(r, 0, 0), wid, PQgetvalue(r, 0, 1), "noop"};
        if (fast) {
            PGresult *b = PQexec(c, "BEGIN; SET LOCAL synchronous_commit = on");
            if (PQresultStatus(b) != PGRES_COMMAND_OK) {
                fprintf(stderr, "queue_bench: BEGIN: %s", PQerrorMessage(c));
                return 1;
            }
            PQclear(b);
        }
        PGresult *d = PQexecPrepared(c, "complete", 4, v, NULL, NULL, 0);
        if (PQresultStatus(d) != PGRES_TUPLES_OK) {
            fprintf(stderr, "queue_bench: complete: %s", PQerrorMessage(c));
            return 1;
        }
        if (PQntuples(d) == 1)
            done++;
        else
            fenced++;
        PQclear(d);
        if (fast) {
            PGresult *e = PQexec(c, "COMMIT");
            if (PQresultStatus(e) != PGRES_COMMAND_OK) {
                fprintf(stderr, "queue_bench: COMMIT: %s", PQerrorMessage(c));
                return 1;
            }
            PQclear(e);
        }
        PQclear(r);
    }
    fprintf(out, "done %ld %ld\n", done, fenced);
    PQfinish(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: queue_bench URL CLIENTS [new|old]\n");
        return 2;
    }
    int fast = argc < 4 || strcmp(argv[3], "old") != 0;
    int n = atoi(argv[2]);
    if (n < 1 || n > 256) {
        fprintf(stderr, "queue_bench: CLIENTS must be 1..256\n");
        return 2;
    }
    char tmpl[] = "/tmp/queue_bench_XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("queue_bench: mkdtemp");
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("queue_bench: fork");
            return 1;
        }
        if (p == 0) {
            char f[64];
            snprintf(f, sizeof f, "%s/%d", tmpl, i);
            FILE *out = fopen(f, "w");
            if (!out)
                _exit(1);
            int rc = client(argv[1], i, fast, out);
            fclose(out);
            _exit(rc);
        }
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int st = 0;
        wait(&st);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
    }
    double wall = now_s() - t0;
    if (bad) {
        fprintf(stderr, "queue_bench: a client failed\n");
        return 1;
    }
    size_t cap = 1 << 16, m = 0;
    double *lat = malloc(cap * sizeof *lat);
    long done = 0, fenced = 0;
    for (int i = 0; i < n && lat; i++) {
        char f[64], line[64];
        snprintf(f, sizeof f, "%s/%d", tmpl, i);
        FILE *in = fopen(f, "r");
        if (!in)
            return 1;
        while (fgets(line, sizeof line, in)) {
            long a, b;
            if (sscanf(line, "done %ld %ld", &a, &b) == 2) {
                done += a;
                fenced += b;
                continue;
            }
            if (m == cap) {
                double *nl = realloc(lat, 2 * cap * sizeof *lat);
                if (!nl)
                    return 1;
                lat = nl;
                cap *= 2;
            }
            lat[m++] = strtod(line, NULL);
        }
        fclose(in);
        unlink(f);
    }
    rmdir(tmpl);
    if (!lat || m == 0) {
        fprintf(stderr, "queue_bench: no job was claimed (empty queue?)\n");
        return 1;
    }
    qsort(lat, m, sizeof *lat, cmp_d);
    printf("mode=%s clients=%d jobs=%ld fenced=%ld wall_s=%.3f jobs_per_s=%.0f claim_p50_ms=%.3f "
           "claim_p95_ms=%.3f claim_p99_ms=%.3f claim_max_ms=%.3f\n",
           fast ? "new" : "old", n, done, fenced, wall, (double)done / wall, lat[m / 2], lat[(size_t)(m * 0.95)],
           lat[(size_t)(m * 0.99)], lat[m - 1]);
    free(lat);
    return 0;
}
