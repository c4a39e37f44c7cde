/*
 * hnsw_flat.c — exact (brute force) top-k by inner product, and the small top-k heap
 * the index shares.
 *
 * The scan is memory bound (100k x 384 float32 is 153.6 MB per query), so it is one
 * streaming pass: qr_nn()->dot_rows scores a block of rows (four at a time sharing
 * each query load), then a cheap threshold test against the current k-th best
 * rejects almost every row before it touches the heap. The filter callback and the
 * tombstone test run only on rows that beat that threshold.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw_int.h"

#define BLOCK 256 /* rows scored per dot_rows call (1 KB of scores on the stack) */

/* ---- top-k --------------------------------------------------------------------------- */

/* x ranks below y: lower score, or the same score and a later id. */
static inline int worse(float xs, uint32_t xid, float ys, uint32_t yid)
{
    return xs < ys || (xs == ys && xid > yid);
}

/* Min-heap in rank order: heap[0] is the worst kept pair. */
void qr_hnsw_topk_push(hnsw_topk *t, float s, uint32_t id)
{
    hnsw_pair *a = t->heap;
    size_t i;
    if (t->n < t->k) {
        i = (size_t)t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (worse(a[p].s, a[p].id, s, id))
                break;
            a[i] = a[p];
            i = p;
        }
        a[i].s = s;
        a[i].id = id;
        return;
    }
    if (!worse(a[0].s, a[0].id, s, id))
        return;
    size_t n = (size_t)t->n;
    i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && worse(a[c + 1].s, a[c + 1].id, a[c].s, a[c].id))
            c++;
        if (worse(s, id, a[c].s, a[c].id))
            break;
        a[i] = a[c];
        i = c;
    }
    a[i].s = s;
    a[i].id = id;
}

static int cmp_best_first(const void *pa, const void *pb)
{
    const hnsw_pair *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

void qr_hnsw_topk_sort(hnsw_topk *t)
{
    qsort(t->heap, (size_t)t->n, sizeof(*t->heap), cmp_best_first);
}

/* ---- scans ------------------------------------------------------------------------------ */

typedef struct scan {
    const float *vecs;
    size_t n, ld;
    int dims;
    const uint8_t *deleted;       /* or NULL */
    const int64_t *labels;        /* for the filter; or NULL */
    qr_hnsw_filter_fn filter;
    void *ud;
} scan;

static void run_scan(const scan *sc, const float *query, hnsw_topk *t)
{
    void (*dot_rows)(const float *, const float *, long, long, long, float *) =
        qr_nn()->dot_rows;
    float scores[BLOCK];
    for (size_t r0 = 0; r0 < sc->n; r0 += BLOCK) {
        size_t m = QR_MIN((size_t)BLOCK, sc->n - r0);
        dot_rows(query, sc->vecs + r0 * sc->ld, (long)sc->ld, (long)m, sc->dims, scores);
        float thr = t->n == t->k ? t->heap[0].s : -INFINITY;
        for (size_t j = 0; j < m; j++) {
            if (!(scores[j] > thr) && t->n == t->k)
                continue;
            size_t r = r0 + j;
            if (sc->deleted && sc->deleted[r])
                continue;
            if (sc->filter && !sc->filter(sc->labels ? sc->labels[r] : (int64_t)r, sc->ud))
                continue;
            qr_hnsw_topk_push(t, scores[j], (uint32_t)r);
            thr = t->n == t->k ? t->heap[0].s : -INFINITY;
        }
    }
    qr_hnsw_topk_sort(t);
}

static quire_status check_query(const float *query, int dims, int k, int64_t *labels,
                                float *scores, int *n_out, quire_error *err)
{
    if (n_out)
        *n_out = 0;
    if (!query || !labels || !scores || !n_out || k < 1 || k > (1 << 24))
        return qr_err(err, QUIRE_INVALID_ARG, "exact search: bad arguments");
    for (int i = 0; i < dims; i++)
        if (!isfinite(query[i]))
            return qr_err(err, QUIRE_INVALID_ARG, "exact search: query is not finite");
    return QUIRE_OK;
}

quire_status qr_flat_search(const float *vecs, size_t n, int dims, const int64_t *labels,
                            const float *query, int k, int64_t *out_labels, float *out_scores,
                            int *n_out, quire_error *err)
{
    quire_status rc = check_query(query, dims, k, out_labels, out_scores, n_out, err);
    if (rc)
        return rc;
    if (dims < 1 || (n && !vecs) || n > HNSW_MAX_NODES)
        return qr_err(err, QUIRE_INVALID_ARG, "exact search: bad matrix");
    int kk = (int)QR_MIN((size_t)k, n);
    if (kk == 0)
        return QUIRE_OK;
    hnsw_topk t = {qr_malloc((size_t)kk * sizeof(hnsw_pair)), kk, 0};
    if (!t.heap)
        return qr_err(err, QUIRE_NOMEM, "exact search: out of memory");
    scan sc = {vecs, n, (size_t)dims, dims, NULL, NULL, NULL, NULL};
    run_scan(&sc, query, &t);
    for (int i = 0; i < t.n; i++) {
        out_labels[i] = labels ? labels[t.heap[i].id] : (int64_t)t.heap[i].id;
        out_scores[i] = t.heap[i].s;
    }
    *n_out = t.n;
    qr_free(t.heap);
    return QUIRE_OK;
}

quire_status qr_hnsw_search_exact(const qr_hnsw *h, const float *query, int k,
                                  qr_hnsw_filter_fn filter, void *user_data, int64_t *labels,
                                  float *scores, int *n_out, quire_error *err)
{
    if (!h)
        return qr_err(err, QUIRE_INVALID_ARG, "exact search: NULL index");
    quire_status rc = check_query(query, h->dims, k, labels, scores, n_out, err);
    if (rc)
        return rc;
    int kk = (int)QR_MIN((size_t)k, h->n - h->n_deleted);
    if (kk == 0)
        return QUIRE_OK;
    hnsw_topk t = {qr_malloc((size_t)kk * sizeof(hnsw_pair)), kk, 0};
    if (!t.heap)
        return qr_err(err, QUIRE_NOMEM, "exact search: out of memory");
    scan sc = {h->vecs,  h->n,    h->fstride, h->dims, h->n_deleted ? h->deleted : NULL,
               h->labels, filter, user_data};
    run_scan(&sc, query, &t);
    for (int i = 0; i < t.n; i++) {
        labels[i] = h->labels[t.heap[i].id];
        scores[i] = t.heap[i].s;
    }
    *n_out = t.n;
    qr_free(t.heap);
    return QUIRE_OK;
}
