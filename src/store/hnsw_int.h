/*
 * hnsw_int.h — the layout of qr_hnsw shared by the files of the index: hnsw.c (graph,
 * insert, search), hnsw_flat.c (exact search), hnsw_io.c (save/load).
 *
 * Storage (node ids are dense uint32 in insertion order):
 *  - vecs:   [cap][fstride] float32, rows 64-byte aligned (fstride = dims rounded up to
 *            16, zero padded): exact scores (re-ranking, exact search);
 *  - qvecs:  [cap][qstride] int8, rows 64-byte aligned: the row quantized with its own
 *            scale (x ~ scale * q, |q| <= 127), the float scale in the last 4 bytes of
 *            the row. The graph is built and searched on these (4x less memory traffic
 *            than float32); the final candidates are re-ranked with vecs;
 *  - links0: [cap][1 + 2m] uint32: count, then the layer-0 neighbour ids;
 *  - links:  [cap] pointers, NULL for level-0 nodes, else [level][1 + m] uint32 for
 *            layers 1..level (count, ids).
 */
#ifndef QR_HNSW_INT_H
#define QR_HNSW_INT_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "hnsw.h"
#include "nn/nn.h"

#define HNSW_NONE UINT32_MAX
#define HNSW_MAX_LEVEL 31     /* levels are clamped here (and bounded on load) */
#define HNSW_MAX_NODES 0x7FFFFFF0u

typedef struct hnsw_pair {
    float s;     /* score, higher is better */
    uint32_t id; /* node id (or row index in exact search) */
} hnsw_pair;

struct qr_hnsw {
    int dims;
    qr_hnsw_params p; /* resolved */
    int m0;           /* 2*m: layer-0 capacity */
    size_t fstride;   /* floats per row of vecs */
    size_t qstride;   /* bytes per row of qvecs */
    size_t lstride;   /* uint32 per node in links0 (1 + m0) */
    double mult;      /* level multiplier 1/ln(m) */
    uint64_t rng;     /* level generator state */

    size_t n;         /* nodes, live + tombstones */
    size_t cap;
    size_t n_deleted;
    float *vecs;
    int8_t *qvecs;
    uint32_t *links0;
    uint32_t **links;
    int64_t *labels;
    uint8_t *levels;
    uint8_t *deleted;
    atomic_flag *locks; /* per node, taken while its link lists change or are copied */

    /* live label -> node id: open addressing, linear probing, power-of-two size */
    int64_t *map_keys;
    uint32_t *map_vals; /* HNSW_NONE = empty slot */
    size_t map_cap;

    uint32_t entry; /* HNSW_NONE when empty */
    int max_level;
    pthread_mutex_t glock; /* entry point / max level during parallel inserts */
};

struct qr_hnsw_scratch {
    uint16_t *visited; /* epoch stamps per node */
    size_t vcap;
    uint16_t epoch;
    hnsw_pair *cand; /* max-heap of candidates to expand */
    size_t cand_cap;
    hnsw_pair *res; /* min-heap of the best ef found */
    size_t res_cap;
    hnsw_pair *sel; /* neighbour selection / re-ranking work area */
    size_t sel_cap;
    hnsw_pair *sel2; /* a neighbour's links while it is pruned (m0 + 2) */
    size_t sel2_cap;
    uint32_t *nbuf;  /* a copied link list (1 + m0) */
    size_t nbuf_cap;
    int8_t *q8;      /* quantized query (qstride bytes, 64-byte aligned) */
    size_t q8_cap;
};

/* One layer search's query: the quantized vector and the rules for results. */
typedef struct hnsw_query {
    const int8_t *q8;
    float qs; /* q8's scale */
    qr_hnsw_filter_fn filter;
    void *ud;
    int skip_deleted; /* searches: tombstones and filtered nodes never enter results */
    int locked;       /* parallel inserts: copy link lists under the node lock */
    int32_t (*dot)(const int8_t *a, const int8_t *b, long n);
} hnsw_query;

static inline const float *hnsw_vec(const qr_hnsw *h, uint32_t id)
{
    return h->vecs + (size_t)id * h->fstride;
}
static inline const int8_t *hnsw_qvec(const qr_hnsw *h, uint32_t id)
{
    return h->qvecs + (size_t)id * h->qstride;
}
static inline float hnsw_qscale(const qr_hnsw *h, const int8_t *row)
{
    float s;
    __builtin_memcpy(&s, row + h->qstride - 4, 4);
    return s;
}
/* Link list of node id at layer (count first). */
static inline uint32_t *hnsw_links(const qr_hnsw *h, uint32_t id, int layer)
{
    if (layer == 0)
        return h->links0 + (size_t)id * h->lstride;
    return h->links[id] + (size_t)(layer - 1) * (size_t)(h->p.m + 1);
}

/* Spin briefly, then yield: on an oversubscribed machine the holder may be descheduled. */
static inline void hnsw_lock(qr_hnsw *h, uint32_t id)
{
    int spins = 0;
    while (atomic_flag_test_and_set_explicit(&h->locks[id], memory_order_acquire))
        if (++spins > 64)
            sched_yield();
}
static inline void hnsw_unlock(qr_hnsw *h, uint32_t id)
{
    atomic_flag_clear_explicit(&h->locks[id], memory_order_release);
}

/* hnsw.c */
quire_status qr_hnsw_scratch_fit(const qr_hnsw *h, qr_hnsw_scratch *s, int ef);
void qr_hnsw_greedy(const qr_hnsw *h, qr_hnsw_scratch *s, const hnsw_query *q, uint32_t *ep,
                    float *ep_s, int layer);
size_t qr_hnsw_search_layer(const qr_hnsw *h, qr_hnsw_scratch *s, const hnsw_query *q,
                            uint32_t ep, float ep_s, int layer, int ef);
uint32_t qr_hnsw_map_find(const qr_hnsw *h, int64_t label);
void qr_hnsw_quantize(const qr_hnsw *h, const float *x, int8_t *row);
/* Append one node with no links yet (capacity must be reserved; upper link arrays
 * allocated here). Returns its id or HNSW_NONE on NOMEM. The label is not mapped. */
uint32_t qr_hnsw_push_node(qr_hnsw *h, int64_t label, const float *vec, int level);
void qr_hnsw_map_put(qr_hnsw *h, int64_t label, uint32_t id);
void qr_hnsw_map_del(qr_hnsw *h, int64_t label);

/* hnsw_build.c: insert rows idx[i] (or i when idx is NULL) of labels / vecs (row
 * stride ld floats), with up to n_threads threads. */
quire_status qr_hnsw_add_rows(qr_hnsw *h, const int64_t *labels, const float *vecs, size_t ld,
                              const uint32_t *idx, size_t n, int n_threads, quire_error *err);

/* hnsw_flat.c: keep the k best of (score, id) pairs; sorts best first at the end. */
typedef struct hnsw_topk {
    hnsw_pair *heap; /* min-heap, k slots */
    int k, n;
} hnsw_topk;
void qr_hnsw_topk_push(hnsw_topk *t, float s, uint32_t id);
void qr_hnsw_topk_sort(hnsw_topk *t);

#endif /* QR_HNSW_INT_H */
