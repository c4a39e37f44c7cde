/*
 * batch.c — dynamic batching of embedding requests. Every /v1/embeddings request
 * becomes one job (its inputs already tokenized) in a FIFO shared by all connections.
 * Each batcher thread owns one embedder: it takes queued inputs in order until the
 * token budget is used, waits (at most wait_us after the oldest job arrived) for more
 * while fewer jobs are queued than connections are open, runs one forward pass, and
 * hands each job its vectors. A job larger than the budget is simply taken over several
 * passes; a failed pass is retried input by input so that one bad request cannot fail
 * the others that shared its pass.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/server_int.h"

#define MAX_PASS_INPUTS 256

struct qr_batcher {
    qr_batch_queue *q;
    quire_embedder *emb;
    pthread_t thread;
    int started;
    /* one pass: input k is job[k]'s input idx[k] */
    qr_emb_job *job[MAX_PASS_INPUTS];
    size_t idx[MAX_PASS_INPUTS];
    const int32_t *ids[MAX_PASS_INPUTS];
    size_t n_ids[MAX_PASS_INPUTS];
    float *out; /* [MAX_PASS_INPUTS * dims] */
};

static void deadline_after(struct timespec *ts, double t_from, int wait_us)
{
    /* t_from is qr_now() (monotonic): convert the remaining wait to a CLOCK_MONOTONIC
     * deadline, which is the clock the condition variable uses. */
    double remain = t_from + wait_us * 1e-6 - qr_now();
    if (remain < 0)
        remain = 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    long ns = ts->tv_nsec + (long)(remain * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
}

/* Under the lock: should the batcher wait for more inputs before running a pass? It waits
 * at most wait_us from when the oldest job arrived or the batcher became free, whichever
 * is later: the clients answered by the previous pass are then back in time to join. */
static int worth_waiting(const qr_batch_queue *q, double t_ready)
{
    if (q->stopping || q->no_batching || q->wait_us < 0)
        return 0;
    if (q->queued_tokens >= q->budget || q->queued_inputs >= MAX_PASS_INPUTS)
        return 0;
    /* every open connection has its request queued or in another batcher's pass:
     * nobody else can join soon */
    if (q->queued_jobs + q->busy_jobs >= atomic_load(&q->open_connections))
        return 0;
    return qr_now() < QR_MAX(q->head->t_enqueued, t_ready) + q->wait_us * 1e-6;
}

/* Under the lock: take inputs from the head of the queue into b. Returns the count. */
static int take(qr_batch_queue *q, qr_batcher *b)
{
    int n = 0;
    long tokens = 0;
    /* Share a short queue with the other idle batchers (one core each) instead of
     * running it all in one pass while they sleep: 8 queued inputs and 2 free batchers
     * make two passes of 4, in parallel. A queue over the budget is not split. */
    int cap = MAX_PASS_INPUTS;
    int free_b = q->n_batchers - q->busy_batchers;
    if (free_b > 1 && q->queued_tokens < q->budget && !q->no_batching)
        cap = (int)((q->queued_inputs + free_b - 1) / free_b);
    while (q->head && n < cap) {
        qr_emb_job *j = q->head;
        while (j->next < j->n && n < cap) {
            size_t len = j->n_ids[j->next];
            if (n > 0 && tokens + (long)len > q->budget)
                break;
            b->job[n] = j;
            b->idx[n] = j->next;
            b->ids[n] = j->ids[j->next];
            b->n_ids[n] = len;
            tokens += (long)len;
            q->queued_tokens -= (long)len;
            q->queued_inputs--;
            j->next++;
            n++;
        }
        if (j->next < j->n)
            break; /* budget used */
        q->head = j->qnext;
        if (!q->head)
            q->tail = NULL;
        q->queued_jobs--;
        if (q->no_batching)
            break; /* one request per pass */
    }
    return n;
}

static void fail_job(qr_emb_job *j, const quire_error *e)
{
    if (j->status == QUIRE_OK) {
        j->status = e->code ? (quire_status)e->code : QUIRE_ERROR;
        snprintf(j->msg, sizeof j->msg, "%s", e->msg);
    }
}

/* Run one pass (without the lock). On failure, run input by input so the error lands
 * on the job that caused it. Failures are recorded in per-input err codes. */
static void run_pass(qr_batcher *b, int n, quire_error *errs, int *failed)
{
    int dims = b->q->dims;
    quire_error err = {0, ""};
    if (quire_embed_ids(b->emb, b->ids, b->n_ids, (size_t)n, b->out, &err) == QUIRE_OK) {
        memset(failed, 0, (size_t)n * sizeof(int));
        return;
    }
    for (int k = 0; k < n; k++) {
        quire_error e1 = {0, ""};
        failed[k] = quire_embed_ids(b->emb, &b->ids[k], &b->n_ids[k], 1,
                                    b->out + (size_t)k * dims, &e1) != QUIRE_OK;
        if (failed[k]) {
            errs[k] = e1;
            /* name the request's input, not the position in the pass */
            snprintf(errs[k].msg, sizeof errs[k].msg, "input %zu: %s", b->idx[k],
                     strncmp(e1.msg, "input 0: ", 9) == 0 ? e1.msg + 9 : e1.msg);
        }
    }
}

static void *batcher_main(void *arg)
{
    qr_batcher *b = arg;
    qr_batch_queue *q = b->q;
    int dims = q->dims;
    quire_error errs[MAX_PASS_INPUTS];
    int failed[MAX_PASS_INPUTS];
    double t_ready = 0; /* when the last pass ended */
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head)
            break; /* stopping and nothing left */
        while (q->head && worth_waiting(q, t_ready)) {
            struct timespec ts;
            deadline_after(&ts, QR_MAX(q->head->t_enqueued, t_ready), q->wait_us);
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        }
        if (!q->head)
            continue; /* another batcher took it */
        int n = take(q, b);
        long tokens = 0, jobs = 0;
        for (int k = 0; k < n; k++) {
            tokens += (long)b->n_ids[k];
            jobs += k == 0 || b->job[k] != b->job[k - 1];
        }
        q->busy_jobs += jobs;
        q->busy_batchers++;
        if (q->head)
            pthread_cond_signal(&q->cv); /* the rest is for another free batcher */
        pthread_mutex_unlock(&q->mu);

        run_pass(b, n, errs, failed);
        for (int k = 0; k < n; k++) {
            if (!failed[k])
                memcpy(b->job[k]->vecs + b->idx[k] * (size_t)dims,
                       b->out + (size_t)k * dims, (size_t)dims * sizeof(float));
        }
        qr_metrics_batch(q->metrics, n, (int)tokens);

        pthread_mutex_lock(&q->mu);
        q->busy_jobs -= jobs;
        q->busy_batchers--;
        for (int k = 0; k < n; k++) {
            qr_emb_job *j = b->job[k];
            if (failed[k])
                fail_job(j, &errs[k]);
            j->done++;
            if (j->done == j->n)
                pthread_cond_signal(&j->cv);
        }
        t_ready = qr_now();
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

quire_status qr_batch_start(qr_batch_queue *q, const quire_model *model, int n_batchers,
                            int n_threads, int budget, int wait_us, int no_batching,
                            qr_metrics *metrics, quire_error *err)
{
    memset(q, 0, sizeof *q);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&q->open_connections, 0);
    q->budget = budget;
    q->wait_us = wait_us;
    q->no_batching = no_batching;
    q->dims = quire_model_dims(model);
    q->metrics = metrics;
    q->batchers = qr_calloc((size_t)n_batchers, sizeof(qr_batcher));
    if (!q->batchers)
        return qr_err(err, QUIRE_NOMEM, "server: out of memory");
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = n_threads;
    ep.max_batch = MAX_PASS_INPUTS;
    ep.max_batch_tokens = budget;
    for (int i = 0; i < n_batchers; i++) {
        qr_batcher *b = &q->batchers[i];
        b->q = q;
        q->n_batchers = i + 1;
        quire_status rc = quire_embedder_new(model, &ep, &b->emb, err);
        if (rc != QUIRE_OK)
            return rc;
        b->out = qr_malloc((size_t)MAX_PASS_INPUTS * (size_t)q->dims * sizeof(float));
        if (!b->out)
            return qr_err(err, QUIRE_NOMEM, "server: out of memory");
        if (pthread_create(&b->thread, NULL, batcher_main, b) != 0)
            return qr_err(err, QUIRE_ERROR, "server: cannot start a batcher thread");
        b->started = 1;
    }
    return QUIRE_OK;
}

void qr_batch_stop(qr_batch_queue *q)
{
    if (!q->batchers)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_batchers; i++) {
        qr_batcher *b = &q->batchers[i];
        if (b->started)
            pthread_join(b->thread, NULL);
        quire_embedder_free(b->emb);
        qr_free(b->out);
    }
    qr_free(q->batchers);
    q->batchers = NULL;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

quire_status qr_batch_run(qr_batch_queue *q, qr_emb_job *job)
{
    job->next = 0;
    job->done = 0;
    job->status = QUIRE_OK;
    job->msg[0] = '\0';
    job->qnext = NULL;
    if (job->n == 0)
        return QUIRE_OK;
    long tokens = 0;
    for (size_t i = 0; i < job->n; i++)
        tokens += (long)job->n_ids[i];
    pthread_cond_init(&job->cv, NULL);
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        pthread_cond_destroy(&job->cv);
        snprintf(job->msg, sizeof job->msg, "the server is shutting down");
        return QUIRE_BUSY;
    }
    job->t_enqueued = qr_now();
    if (q->tail)
        q->tail->qnext = job;
    else
        q->head = job;
    q->tail = job;
    q->queued_inputs += (long)job->n;
    q->queued_tokens += tokens;
    q->queued_jobs++;
    pthread_cond_broadcast(&q->cv); /* a batcher that is waiting for more, too */
    while (job->done < job->n)
        pthread_cond_wait(&job->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&job->cv);
    return job->status;
}
