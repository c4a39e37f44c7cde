/*
 * hnsw_build.c — inserting into the HNSW graph (one thread or several), tombstones
 * and compaction.
 *
 * An insert draws a level (floor(-ln U / ln m), the paper's mult = 1/ln m), descends
 * greedily to that level, then on each layer below runs a best-first search with
 * ef_construction candidates, keeps m of them with the paper's heuristic (a candidate
 * is dropped when a kept neighbour is closer to it than the new node is), links both
 * ways and prunes a neighbour's list with the same heuristic when it overflows (m on
 * upper layers, 2m on layer 0). This is hnswlib's addPoint, scored on the int8 rows.
 *
 * Batches run in two phases so the parallel part cannot fail: the calling thread
 * validates, reserves capacity, draws every level (so the graph does not depend on
 * thread timing for levels), copies and quantizes the rows and allocates the link
 * arrays; then the threads link nodes, taking per-node spinlocks around every read or
 * write of a link list and a global mutex while the entry point may change.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw_int.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int random_level(qr_hnsw *h)
{
    double u = (double)((rng_next(&h->rng) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
    double l = -log(u) * h->mult;
    return l >= HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)l;
}

typedef int32_t (*dot_i8_fn)(const int8_t *a, const int8_t *b, long n);

static float pair_score(const qr_hnsw *h, dot_i8_fn dot, uint32_t a, uint32_t b)
{
    const int8_t *ra = hnsw_qvec(h, a), *rb = hnsw_qvec(h, b);
    return hnsw_qscale(h, ra) * hnsw_qscale(h, rb) * (float)dot(ra, rb, h->dims);
}

static int cmp_desc(const void *pa, const void *pb)
{
    const hnsw_pair *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The neighbour heuristic over a[0..n) sorted best first: keeps at most m at the
 * front, returns how many. */
static size_t select_heuristic(const qr_hnsw *h, dot_i8_fn dot, hnsw_pair *a, size_t n,
                               size_t m)
{
    if (n < m)
        return n;
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        int good = 1;
        for (size_t j = 0; j < kept && good; j++)
            good = pair_score(h, dot, a[i].id, a[j].id) <= a[i].s;
        if (good)
            a[kept++] = a[i];
    }
    return kept;
}

/* Add id to nb's list at layer (nb locked by the caller); prune when full. s_id is
 * the score between id and nb. */
static void link_back(qr_hnsw *h, qr_hnsw_scratch *s, dot_i8_fn dot, uint32_t nb, uint32_t id,
                      float s_id, int layer)
{
    uint32_t *l = hnsw_links(h, nb, layer);
    uint32_t cnt = l[0], maxm = (uint32_t)(layer ? h->p.m : h->m0);
    for (uint32_t j = 0; j < cnt; j++)
        if (l[1 + j] == id)
            return;
    if (cnt < maxm) {
        l[1 + cnt] = id;
        l[0] = cnt + 1;
        return;
    }
    hnsw_pair *c = s->sel2;
    for (uint32_t j = 0; j < cnt; j++) {
        c[j].id = l[1 + j];
        c[j].s = pair_score(h, dot, nb, l[1 + j]);
    }
    c[cnt].id = id;
    c[cnt].s = s_id;
    qsort(c, cnt + 1, sizeof(*c), cmp_desc);
    size_t kept = select_heuristic(h, dot, c, cnt + 1, maxm);
    for (size_t j = 0; j < kept; j++)
        l[1 + j] = c[j].id;
    l[0] = (uint32_t)kept;
}

/* Link id on layer to the best of the n_res results of the last layer search.
 * Returns the closest result (the next layer's entry point). */
static hnsw_pair connect(qr_hnsw *h, qr_hnsw_scratch *s, dot_i8_fn dot, uint32_t id,
                         size_t n_res, int layer)
{
    hnsw_pair *sel = s->sel;
    size_t n = 0;
    for (size_t i = 0; i < n_res; i++) {
        if (s->res[i].id == id)
            continue;
        sel[n].s = -s->res[i].s;
        sel[n].id = s->res[i].id;
        n++;
    }
    hnsw_pair best = {-INFINITY, HNSW_NONE};
    if (n == 0)
        return best;
    qsort(sel, n, sizeof(*sel), cmp_desc);
    best = sel[0];
    size_t kept = select_heuristic(h, dot, sel, n, (size_t)h->p.m);
    uint32_t *own = hnsw_links(h, id, layer);
    hnsw_lock(h, id);
    for (size_t i = 0; i < kept; i++)
        own[1 + i] = sel[i].id;
    own[0] = (uint32_t)kept;
    hnsw_unlock(h, id);
    for (size_t i = 0; i < kept; i++) {
        hnsw_lock(h, sel[i].id);
        link_back(h, s, dot, sel[i].id, id, sel[i].s, layer);
        hnsw_unlock(h, sel[i].id);
    }
    return best;
}

static void insert_node(qr_hnsw *h, qr_hnsw_scratch *s, uint32_t id, int locked)
{
    int level = h->levels[id];
    pthread_mutex_lock(&h->glock);
    uint32_t ep = h->entry;
    int max_level = h->max_level;
    if (ep == HNSW_NONE) {
        h->entry = id;
        h->max_level = level;
        pthread_mutex_unlock(&h->glock);
        return;
    }
    int hold = level > max_level; /* keep others off the entry point until linked */
    if (!hold)
        pthread_mutex_unlock(&h->glock);

    const int8_t *row = hnsw_qvec(h, id);
    hnsw_query q = {row, hnsw_qscale(h, row), NULL, NULL, 0, locked, qr_nn()->dot_i8};
    float ep_s = pair_score(h, q.dot, id, ep);
    for (int l = max_level; l > level; l--)
        qr_hnsw_greedy(h, s, &q, &ep, &ep_s, l);
    for (int l = QR_MIN(level, max_level); l >= 0; l--) {
        size_t n = qr_hnsw_search_layer(h, s, &q, ep, ep_s, l, h->p.ef_construction);
        hnsw_pair next = connect(h, s, q.dot, id, n, l);
        if (next.id != HNSW_NONE) {
            ep = next.id;
            ep_s = next.s;
        }
    }
    if (hold) {
        h->entry = id;
        h->max_level = level;
        pthread_mutex_unlock(&h->glock);
    }
}

/* ---- batches ------------------------------------------------------------------------ */

typedef struct build_job {
    qr_hnsw *h;
    qr_hnsw_scratch **scr;
    uint32_t first;
    size_t n;
    atomic_size_t next;
} build_job;

static void build_task(void *ctx, int ith, int nth)
{
    build_job *job = ctx;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (i >= job->n)
            break;
        insert_node(job->h, job->scr[ith], job->first + (uint32_t)i, nth > 1);
    }
}

static int finite_row(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Map the batch's labels (ids h->n + i); undo and fail on a live or repeated label. */
static quire_status map_batch(qr_hnsw *h, const int64_t *labels, const uint32_t *idx, size_t n,
                              quire_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int64_t label = labels[idx ? idx[i] : i];
        if (qr_hnsw_map_find(h, label) != HNSW_NONE) {
            for (size_t j = 0; j < i; j++)
                qr_hnsw_map_del(h, labels[idx ? idx[j] : j]);
            return qr_err(err, QUIRE_INVALID_ARG, "hnsw add: label %lld is already present",
                          (long long)label);
        }
        qr_hnsw_map_put(h, label, (uint32_t)(h->n + i));
    }
    return QUIRE_OK;
}

static void free_scratches(qr_hnsw_scratch **scr, int n)
{
    if (!scr)
        return;
    for (int i = 0; i < n; i++)
        qr_hnsw_scratch_free(scr[i]);
    qr_free(scr);
}

quire_status qr_hnsw_add_rows(qr_hnsw *h, const int64_t *labels, const float *vecs, size_t ld,
                              const uint32_t *idx, size_t n, int n_threads, quire_error *err)
{
    if (n == 0)
        return QUIRE_OK;
    if (!labels || !vecs)
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw add: NULL labels or vectors");
    for (size_t i = 0; i < n; i++)
        if (!finite_row(vecs + (size_t)(idx ? idx[i] : i) * ld, h->dims))
            return qr_err(err, QUIRE_INVALID_ARG, "hnsw add: vector %zu is not finite", i);
    if (n > HNSW_MAX_NODES - h->n)
        return qr_err(err, QUIRE_LIMIT, "hnsw add: too many nodes");
    size_t want = h->n + n;
    if (want > h->cap) {
        size_t grown = QR_MAX(want, QR_MAX(h->cap + h->cap / 2, (size_t)64));
        quire_status rc = qr_hnsw_reserve(h, QR_MIN(grown, (size_t)HNSW_MAX_NODES), err);
        if (rc)
            return rc;
    }
    int nth = n_threads < 1 ? 1 : QR_MIN(n_threads, 64);
    nth = (int)QR_MIN((size_t)nth, n);
    quire_status rc = map_batch(h, labels, idx, n, err);
    if (rc)
        return rc;
    size_t n0 = h->n;
    qr_pool *pool = NULL;
    qr_hnsw_scratch **scr = qr_calloc((size_t)nth, sizeof(*scr));
    rc = scr ? QUIRE_OK : QUIRE_NOMEM;
    for (int t = 0; t < nth && !rc; t++)
        if (qr_hnsw_scratch_new(h, &scr[t], NULL) || qr_hnsw_scratch_fit(h, scr[t], h->p.ef_construction))
            rc = QUIRE_NOMEM;
    if (!rc && nth > 1 && qr_pool_new(nth, &pool, NULL))
        rc = QUIRE_NOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t r = idx ? idx[i] : i;
        if (qr_hnsw_push_node(h, labels[r], vecs + r * ld, random_level(h)) == HNSW_NONE)
            rc = QUIRE_NOMEM;
    }
    if (rc) {
        while (h->n > n0)
            qr_free(h->links[--h->n]);
        for (size_t i = 0; i < n; i++)
            qr_hnsw_map_del(h, labels[idx ? idx[i] : i]);
        qr_pool_free(pool);
        free_scratches(scr, nth);
        return qr_err(err, QUIRE_NOMEM, "hnsw add: out of memory");
    }
    build_job job = {h, scr, (uint32_t)n0, n, 0};
    if (pool)
        qr_pool_run(pool, build_task, &job);
    else
        build_task(&job, 0, 1);
    qr_pool_free(pool);
    free_scratches(scr, nth);
    return QUIRE_OK;
}

quire_status qr_hnsw_add(qr_hnsw *h, int64_t label, const float *vec, quire_error *err)
{
    return qr_hnsw_add_rows(h, &label, vec, (size_t)h->dims, NULL, 1, 1, err);
}

quire_status qr_hnsw_add_batch(qr_hnsw *h, const int64_t *labels, const float *vecs,
                               size_t n, int n_threads, quire_error *err)
{
    return qr_hnsw_add_rows(h, labels, vecs, (size_t)h->dims, NULL, n, n_threads, err);
}

/* ---- tombstones ---------------------------------------------------------------------- */

int qr_hnsw_remove(qr_hnsw *h, int64_t label)
{
    uint32_t id = qr_hnsw_map_find(h, label);
    if (id == HNSW_NONE)
        return 0;
    h->deleted[id] = 1;
    h->n_deleted++;
    qr_hnsw_map_del(h, label);
    return 1;
}

quire_status qr_hnsw_compact(qr_hnsw *h, quire_error *err)
{
    if (h->n_deleted == 0)
        return QUIRE_OK;
    size_t live = h->n - h->n_deleted;
    uint32_t *idx = qr_malloc((live ? live : 1) * sizeof(*idx));
    qr_hnsw *nh = NULL;
    quire_status rc = idx ? qr_hnsw_new(h->dims, &h->p, &nh, err)
                          : qr_err(err, QUIRE_NOMEM, "hnsw compact: out of memory");
    if (rc)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!h->deleted[i])
            idx[k++] = (uint32_t)i;
    rc = qr_hnsw_reserve(nh, live, err);
    if (!rc)
        rc = qr_hnsw_add_rows(nh, h->labels, h->vecs, h->fstride, idx, live, 1, err);
    if (rc)
        goto done;
    qr_hnsw tmp = *h;
    *h = *nh;
    *nh = tmp;
    pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
    h->glock = init;
    nh->glock = init;
done:
    qr_hnsw_free(nh);
    qr_free(idx);
    return rc;
}
