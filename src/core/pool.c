/*
 * pool.c — a fixed thread pool that runs one parallel-for at a time.
 *
 * The caller is thread 0; workers 1..n-1 wait for a new generation number, run their
 * share, and count down. Workers spin briefly before sleeping on a condition variable,
 * because the forward pass issues many short parallel sections back to back and a
 * futex wake-up per section would cost more than the work.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "core.h"

#define SPIN_ITERS 20000

struct qr_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;     /* bumped for each run; workers wait for a change */
    atomic_int pending;  /* workers still running the current task */
    atomic_int stop;
    qr_task_fn fn;
    void *ctx;
};

typedef struct {
    qr_pool *pool;
    int ith;
} worker_arg;

static void *worker(void *p)
{
    worker_arg wa = *(worker_arg *)p;
    qr_free(p);
    qr_pool *pool = wa.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
               !atomic_load(&pool->stop) && spins < SPIN_ITERS)
            spins++;
        if (g == seen && !atomic_load(&pool->stop)) {
            pthread_mutex_lock(&pool->mu);
            while ((g = atomic_load(&pool->gen)) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->stop))
            return NULL;
        seen = g;
        pool->fn(pool->ctx, wa.ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
    }
}

quire_status qr_pool_new(int n_threads, qr_pool **out, quire_error *err)
{
    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > 256)
        return qr_err(err, QUIRE_INVALID_ARG, "threads: %d is more than 256", n_threads);
    qr_pool *pool = qr_calloc(1, sizeof(*pool));
    if (!pool)
        return qr_err(err, QUIRE_NOMEM, "thread pool: out of memory");
    pool->n = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    if (n_threads > 1) {
        pool->threads = qr_calloc((size_t)n_threads, sizeof(pthread_t));
        if (!pool->threads) {
            pool->n = 1; /* no workers started: nothing to join */
            qr_pool_free(pool);
            return qr_err(err, QUIRE_NOMEM, "thread pool: out of memory");
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = qr_malloc(sizeof(*wa));
        if (!wa) {
            pool->n = i;
            qr_pool_free(pool);
            return qr_err(err, QUIRE_NOMEM, "thread pool: out of memory");
        }
        wa->pool = pool;
        wa->ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker, wa) != 0) {
            qr_free(wa);
            pool->n = i;
            qr_pool_free(pool);
            return qr_err(err, QUIRE_ERROR, "thread pool: cannot start thread %d", i);
        }
    }
    *out = pool;
    return QUIRE_OK;
}

void qr_pool_free(qr_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    qr_free(pool->threads);
    qr_free(pool);
}

int qr_pool_size(const qr_pool *pool) { return pool ? pool->n : 1; }

void qr_pool_run(qr_pool *pool, qr_task_fn fn, void *ctx)
{
    if (!pool || pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->n - 1);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    fn(ctx, 0, pool->n);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
        sched_yield();
}
