/*
 * hnsw.c — the HNSW graph: storage, label map, scratch, the layer search shared by
 * queries and inserts, and top-k search with exact re-ranking.
 *
 * Where the time goes: a query at ef=64 on 100k x 384 scores ~1-2k nodes, each a
 * random row of memory. Scoring on int8 rows (384 bytes instead of 1536 for float32)
 * and prefetching every unvisited neighbour's row before scoring any of them keeps the
 * memory system busy with many misses at once; the ef survivors are then re-scored
 * with exact float32 dots, so returned scores are exact. Insertion lives in
 * hnsw_build.c, exact search in hnsw_flat.c, the blob format in hnsw_io.c.
 */
#include <math.h>
#include <string.h>

#include "hnsw_int.h"

#define HUGE_MIN ((size_t)4 << 20) /* blocks this large go to (transparent) huge pages */

/* ---- blocks ---------------------------------------------------------------------- */

static void *blk_alloc(size_t n)
{
    return n >= HUGE_MIN ? qr_malloc_huge(n) : qr_malloc_aligned(n);
}

static void blk_free(void *p, size_t n)
{
    if (n >= HUGE_MIN)
        qr_free_huge(p, n);
    else
        qr_free_aligned(p);
}

/* ---- params, lifecycle, accessors --------------------------------------------------- */

static quire_status resolve_params(const qr_hnsw_params *in, qr_hnsw_params *out,
                                   quire_error *err)
{
    qr_hnsw_params p = {0};
    if (in)
        p = *in;
    if (p.m < 0 || p.m == 1 || p.m > 1024 || p.ef_construction < 0 || p.ef_search < 0)
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw: bad params m=%d ef_construction=%d "
                      "ef_search=%d", p.m, p.ef_construction, p.ef_search);
    p.m = p.m ? p.m : 16;
    p.ef_construction = p.ef_construction ? p.ef_construction : 200;
    p.ef_construction = QR_MAX(p.ef_construction, p.m);
    p.ef_search = p.ef_search ? p.ef_search : 64;
    p.seed = p.seed ? p.seed : 100;
    *out = p;
    return QUIRE_OK;
}

quire_status qr_hnsw_new(int dims, const qr_hnsw_params *params, qr_hnsw **out,
                         quire_error *err)
{
    *out = NULL;
    if (dims < 1 || dims > 65536)
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw: dims %d out of range 1..65536", dims);
    qr_hnsw_params p;
    quire_status rc = resolve_params(params, &p, err);
    if (rc)
        return rc;
    qr_hnsw *h = qr_calloc(1, sizeof(*h));
    if (!h)
        return qr_err(err, QUIRE_NOMEM, "hnsw: out of memory");
    h->dims = dims;
    h->p = p;
    h->m0 = 2 * p.m;
    h->fstride = ((size_t)dims + 15) & ~(size_t)15;
    h->qstride = ((size_t)dims + 4 + 63) & ~(size_t)63;
    h->lstride = 1 + (size_t)h->m0;
    h->mult = 1.0 / log((double)p.m);
    h->rng = p.seed;
    h->entry = HNSW_NONE;
    pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
    h->glock = init;
    *out = h;
    return QUIRE_OK;
}

void qr_hnsw_free(qr_hnsw *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        qr_free(h->links[i]);
    blk_free(h->vecs, h->cap * h->fstride * sizeof(float));
    blk_free(h->qvecs, h->cap * h->qstride);
    qr_free(h->links0);
    qr_free(h->links);
    qr_free(h->labels);
    qr_free(h->levels);
    qr_free(h->deleted);
    qr_free(h->locks);
    qr_free(h->map_keys);
    qr_free(h->map_vals);
    qr_free(h);
}

int qr_hnsw_dims(const qr_hnsw *h) { return h->dims; }
void qr_hnsw_get_params(const qr_hnsw *h, qr_hnsw_params *out) { *out = h->p; }
size_t qr_hnsw_size(const qr_hnsw *h) { return h->n - h->n_deleted; }
size_t qr_hnsw_tombstones(const qr_hnsw *h) { return h->n_deleted; }
int qr_hnsw_contains(const qr_hnsw *h, int64_t label)
{
    return qr_hnsw_map_find(h, label) != HNSW_NONE;
}

/* ---- label map ---------------------------------------------------------------------- */

static size_t map_slot(int64_t key, size_t mask)
{
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 31)) & mask;
}

uint32_t qr_hnsw_map_find(const qr_hnsw *h, int64_t label)
{
    if (!h->map_cap)
        return HNSW_NONE;
    size_t mask = h->map_cap - 1;
    for (size_t i = map_slot(label, mask);; i = (i + 1) & mask) {
        if (h->map_vals[i] == HNSW_NONE)
            return HNSW_NONE;
        if (h->map_keys[i] == label)
            return h->map_vals[i];
    }
}

/* Capacity is reserved (map_cap >= 2 * cap), so there is always a free slot. */
void qr_hnsw_map_put(qr_hnsw *h, int64_t label, uint32_t id)
{
    size_t mask = h->map_cap - 1;
    size_t i = map_slot(label, mask);
    while (h->map_vals[i] != HNSW_NONE && h->map_keys[i] != label)
        i = (i + 1) & mask;
    h->map_keys[i] = label;
    h->map_vals[i] = id;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void qr_hnsw_map_del(qr_hnsw *h, int64_t label)
{
    if (!h->map_cap)
        return;
    size_t mask = h->map_cap - 1;
    size_t i = map_slot(label, mask);
    while (h->map_vals[i] != HNSW_NONE && h->map_keys[i] != label)
        i = (i + 1) & mask;
    if (h->map_vals[i] == HNSW_NONE)
        return;
    for (size_t j = (i + 1) & mask; h->map_vals[j] != HNSW_NONE; j = (j + 1) & mask) {
        size_t home = map_slot(h->map_keys[j], mask);
        /* j's entry may move to the hole at i unless its home lies in (i, j] */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            h->map_keys[i] = h->map_keys[j];
            h->map_vals[i] = h->map_vals[j];
            i = j;
        }
    }
    h->map_vals[i] = HNSW_NONE;
}

static quire_status map_grow(qr_hnsw *h, size_t cap)
{
    size_t want = 16;
    while (want < 2 * cap)
        want *= 2;
    if (want <= h->map_cap)
        return QUIRE_OK;
    int64_t *keys = qr_malloc(want * sizeof(*keys));
    uint32_t *vals = qr_malloc(want * sizeof(*vals));
    if (!keys || !vals) {
        qr_free(keys);
        qr_free(vals);
        return QUIRE_NOMEM;
    }
    memset(vals, 0xFF, want * sizeof(*vals));
    int64_t *old_keys = h->map_keys;
    uint32_t *old_vals = h->map_vals;
    size_t old_cap = h->map_cap;
    h->map_keys = keys;
    h->map_vals = vals;
    h->map_cap = want;
    for (size_t i = 0; i < old_cap; i++)
        if (old_vals[i] != HNSW_NONE)
            qr_hnsw_map_put(h, old_keys[i], old_vals[i]);
    qr_free(old_keys);
    qr_free(old_vals);
    return QUIRE_OK;
}

/* ---- capacity ------------------------------------------------------------------------ */

/* Grow one array with qr_realloc; on failure the old block (and h) stay valid. */
static int grow(void **p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return -1;
    void *q = qr_realloc(*p, count * size);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

quire_status qr_hnsw_reserve(qr_hnsw *h, size_t n, quire_error *err)
{
    if (n <= h->cap)
        return QUIRE_OK;
    if (n > HNSW_MAX_NODES)
        return qr_err(err, QUIRE_LIMIT, "hnsw: %zu nodes is over the limit", n);
    size_t vbytes = n * h->fstride * sizeof(float), qbytes = n * h->qstride;
    float *vecs = blk_alloc(vbytes);
    int8_t *qvecs = blk_alloc(qbytes);
    atomic_flag *locks = qr_calloc(n, sizeof(*locks));
    if (!vecs || !qvecs || !locks || map_grow(h, n) ||
        grow((void **)&h->links0, n, h->lstride * sizeof(uint32_t)) ||
        grow((void **)&h->links, n, sizeof(*h->links)) ||
        grow((void **)&h->labels, n, sizeof(*h->labels)) ||
        grow((void **)&h->levels, n, 1) || grow((void **)&h->deleted, n, 1)) {
        if (vecs)
            blk_free(vecs, vbytes);
        if (qvecs)
            blk_free(qvecs, qbytes);
        qr_free(locks);
        return qr_err(err, QUIRE_NOMEM, "hnsw: out of memory reserving %zu nodes", n);
    }
    if (h->n) {
        memcpy(vecs, h->vecs, h->n * h->fstride * sizeof(float));
        memcpy(qvecs, h->qvecs, h->n * h->qstride);
    }
    blk_free(h->vecs, h->cap * h->fstride * sizeof(float));
    blk_free(h->qvecs, h->cap * h->qstride);
    qr_free(h->locks);
    h->vecs = vecs;
    h->qvecs = qvecs;
    h->locks = locks;
    h->cap = n;
    return QUIRE_OK;
}

/* ---- nodes ----------------------------------------------------------------------------- */

/* Symmetric per-row int8: q = round(x / scale), scale = max|x| / 127, stored at the end
 * of the row. Zero rows get scale 0 (every score 0). */
void qr_hnsw_quantize(const qr_hnsw *h, const float *x, int8_t *row)
{
    float mx = 0.0f;
    for (int i = 0; i < h->dims; i++)
        mx = QR_MAX(mx, fabsf(x[i]));
    float scale = mx / 127.0f;
    float inv = mx > 0.0f ? 127.0f / mx : 0.0f;
    memset(row, 0, h->qstride);
    for (int i = 0; i < h->dims; i++) {
        float v = x[i] * inv;
        v = QR_MAX(-127.0f, QR_MIN(127.0f, v));
        row[i] = (int8_t)lrintf(v);
    }
    memcpy(row + h->qstride - 4, &scale, 4);
}

uint32_t qr_hnsw_push_node(qr_hnsw *h, int64_t label, const float *vec, int level)
{
    uint32_t id = (uint32_t)h->n;
    uint32_t *up = NULL;
    if (level > 0) {
        up = qr_calloc((size_t)level * (size_t)(h->p.m + 1), sizeof(uint32_t));
        if (!up)
            return HNSW_NONE;
    }
    float *v = h->vecs + (size_t)id * h->fstride;
    memset(v, 0, h->fstride * sizeof(float));
    if (vec) {
        memcpy(v, vec, (size_t)h->dims * sizeof(float));
        qr_hnsw_quantize(h, vec, h->qvecs + (size_t)id * h->qstride);
    } else {
        memset(h->qvecs + (size_t)id * h->qstride, 0, h->qstride);
    }
    h->links0[(size_t)id * h->lstride] = 0;
    h->links[id] = up;
    h->labels[id] = label;
    h->levels[id] = (uint8_t)level;
    h->deleted[id] = 0;
    h->n++;
    return id;
}

/* ---- scratch ---------------------------------------------------------------------------- */

quire_status qr_hnsw_scratch_new(const qr_hnsw *h, qr_hnsw_scratch **out, quire_error *err)
{
    (void)h;
    *out = qr_calloc(1, sizeof(**out));
    if (!*out)
        return qr_err(err, QUIRE_NOMEM, "hnsw: out of memory (scratch)");
    return QUIRE_OK;
}

void qr_hnsw_scratch_free(qr_hnsw_scratch *s)
{
    if (!s)
        return;
    qr_free(s->visited);
    qr_free(s->cand);
    qr_free(s->res);
    qr_free(s->sel);
    qr_free(s->sel2);
    qr_free(s->nbuf);
    qr_free_aligned(s->q8);
    qr_free(s);
}

static int ensure(void **p, size_t *cap, size_t want, size_t size)
{
    if (*cap >= want)
        return 0;
    if (grow(p, want, size))
        return -1;
    *cap = want;
    return 0;
}

/* Size the scratch for h and a candidate list of ef. */
quire_status qr_hnsw_scratch_fit(const qr_hnsw *h, qr_hnsw_scratch *s, int ef)
{
    size_t e = (size_t)QR_MAX(ef, h->m0) + 1;
    if (s->vcap < h->cap) {
        qr_free(s->visited);
        s->visited = qr_calloc(h->cap, sizeof(*s->visited));
        s->vcap = s->visited ? h->cap : 0;
        s->epoch = 0;
        if (!s->visited)
            return QUIRE_NOMEM;
    }
    if (ensure((void **)&s->res, &s->res_cap, e + 1, sizeof(hnsw_pair)) ||
        ensure((void **)&s->cand, &s->cand_cap, 2 * e + 64, sizeof(hnsw_pair)) ||
        ensure((void **)&s->sel, &s->sel_cap, e + 1, sizeof(hnsw_pair)) ||
        ensure((void **)&s->sel2, &s->sel2_cap, (size_t)h->m0 + 2, sizeof(hnsw_pair)) ||
        ensure((void **)&s->nbuf, &s->nbuf_cap, h->lstride, sizeof(uint32_t)))
        return QUIRE_NOMEM;
    if (s->q8_cap < h->qstride) {
        qr_free_aligned(s->q8);
        s->q8 = qr_malloc_aligned(h->qstride);
        s->q8_cap = s->q8 ? h->qstride : 0;
        if (!s->q8)
            return QUIRE_NOMEM;
    }
    return QUIRE_OK;
}

/* ---- heaps (max-heaps on .s; the result heap stores -score so its top is the worst) --- */

static inline void heap_push(hnsw_pair *a, size_t *n, float s, uint32_t id)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a[p].s >= s)
            break;
        a[i] = a[p];
        i = p;
    }
    a[i].s = s;
    a[i].id = id;
}

static inline void heap_pop(hnsw_pair *a, size_t *n)
{
    size_t cnt = --(*n);
    if (cnt == 0)
        return;
    hnsw_pair last = a[cnt];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= cnt)
            break;
        if (c + 1 < cnt && a[c + 1].s > a[c].s)
            c++;
        if (a[c].s <= last.s)
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = last;
}

/* The candidate heap is full: drop candidates worse than the worst result (they
 * would end the search when popped), or grow it when nothing can go. */
static int cand_make_room(qr_hnsw_scratch *s, size_t *n_cand, float lower, int full)
{
    if (full) {
        size_t keep = 0;
        for (size_t i = 0; i < *n_cand; i++)
            if (s->cand[i].s >= lower)
                s->cand[keep++] = s->cand[i];
        if (keep < *n_cand) {
            size_t n = 0;
            for (size_t i = 0; i < keep; i++)
                heap_push(s->cand, &n, s->cand[i].s, s->cand[i].id);
            *n_cand = n;
            return 0;
        }
    }
    return ensure((void **)&s->cand, &s->cand_cap, s->cand_cap * 2, sizeof(hnsw_pair));
}

/* ---- scoring and layer search ----------------------------------------------------- */

static inline float qscore(const qr_hnsw *h, const hnsw_query *q, uint32_t id)
{
    const int8_t *row = hnsw_qvec(h, id);
    return q->qs * hnsw_qscale(h, row) * (float)q->dot(q->q8, row, h->dims);
}

static inline void prefetch_row(const qr_hnsw *h, uint32_t id)
{
    const char *p = (const char *)hnsw_qvec(h, id);
    for (size_t o = 0; o < h->qstride; o += 64)
        __builtin_prefetch(p + o, 0, 3);
}

/* The link list of id at layer: in place, or copied under the node lock. */
static const uint32_t *read_links(const qr_hnsw *h, qr_hnsw_scratch *s, const hnsw_query *q,
                                  uint32_t id, int layer)
{
    const uint32_t *l = hnsw_links(h, id, layer);
    if (!q->locked)
        return l;
    qr_hnsw *mh = (qr_hnsw *)h; /* the locks are the only thing written */
    hnsw_lock(mh, id);
    memcpy(s->nbuf, l, (l[0] + 1) * sizeof(uint32_t));
    hnsw_unlock(mh, id);
    return s->nbuf;
}

void qr_hnsw_greedy(const qr_hnsw *h, qr_hnsw_scratch *s, const hnsw_query *q, uint32_t *ep,
                    float *ep_s, int layer)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        const uint32_t *l = read_links(h, s, q, *ep, layer);
        uint32_t cnt = l[0];
        for (uint32_t j = 0; j < cnt; j++)
            prefetch_row(h, l[1 + j]);
        for (uint32_t j = 0; j < cnt; j++) {
            float sc = qscore(h, q, l[1 + j]);
            if (sc > *ep_s) {
                *ep_s = sc;
                *ep = l[1 + j];
                changed = 1;
            }
        }
    }
}

static inline int allowed(const qr_hnsw *h, const hnsw_query *q, uint32_t id)
{
    if (!q->skip_deleted)
        return 1;
    if (h->deleted[id])
        return 0;
    return !q->filter || q->filter(h->labels[id], q->ud);
}

static inline uint16_t next_epoch(qr_hnsw_scratch *s)
{
    if (++s->epoch == 0) {
        memset(s->visited, 0, s->vcap * sizeof(*s->visited));
        s->epoch = 1;
    }
    return s->epoch;
}

/* Best-first search of one layer from ep (Algorithm 2 of the paper, with hnswlib's
 * rules for filtered/deleted nodes: they are expanded but never enter the results).
 * OUT: s->res holds up to ef pairs as a heap with negated scores; returns their count. */
size_t qr_hnsw_search_layer(const qr_hnsw *h, qr_hnsw_scratch *s, const hnsw_query *q,
                            uint32_t ep, float ep_s, int layer, int ef)
{
    uint16_t ep_mark = next_epoch(s);
    uint16_t *vis = s->visited;
    int filtering = q->skip_deleted && (q->filter || h->n_deleted);
    size_t n_res = 0, n_cand = 0;
    float lower = -INFINITY;
    uint32_t fresh[2 * 1024 + 1]; /* unvisited neighbours of the candidate, prefetched */

    vis[ep] = ep_mark;
    if (allowed(h, q, ep)) {
        heap_push(s->res, &n_res, -ep_s, ep);
        lower = ep_s;
    }
    heap_push(s->cand, &n_cand, ep_s, ep);
    while (n_cand) {
        hnsw_pair c = s->cand[0];
        if (c.s < lower && (n_res == (size_t)ef || !filtering))
            break;
        heap_pop(s->cand, &n_cand);
        const uint32_t *l = read_links(h, s, q, c.id, layer);
        uint32_t cnt = l[0], n_fresh = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t nb = l[1 + j];
            if (vis[nb] == ep_mark)
                continue;
            vis[nb] = ep_mark;
            fresh[n_fresh++] = nb;
            prefetch_row(h, nb);
        }
        for (uint32_t j = 0; j < n_fresh; j++) {
            uint32_t nb = fresh[j];
            float sc = qscore(h, q, nb);
            if (n_res < (size_t)ef || sc > lower) {
                if (n_cand == s->cand_cap &&
                    cand_make_room(s, &n_cand, lower, n_res == (size_t)ef))
                    continue; /* out of memory: drop this candidate */
                heap_push(s->cand, &n_cand, sc, nb);
                if (allowed(h, q, nb)) {
                    heap_push(s->res, &n_res, -sc, nb);
                    if (n_res > (size_t)ef)
                        heap_pop(s->res, &n_res);
                    lower = -s->res[0].s;
                }
            }
        }
    }
    return n_res;
}

/* ---- search ------------------------------------------------------------------------------ */

static int finite_vec(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Re-rank the n pairs of s->res with exact float32 scores; write the best k. */
static int rerank(const qr_hnsw *h, qr_hnsw_scratch *s, size_t n, const float *query, int k,
                  int64_t *labels, float *scores)
{
    float (*dot)(const float *, const float *, long) = qr_nn()->dot;
    hnsw_topk t = {s->sel, k, 0};
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n) {
            const char *p = (const char *)hnsw_vec(h, s->res[i + 2].id);
            for (size_t o = 0; o < h->fstride * sizeof(float); o += 64)
                __builtin_prefetch(p + o, 0, 3);
        }
        uint32_t id = s->res[i].id;
        qr_hnsw_topk_push(&t, dot(query, hnsw_vec(h, id), h->dims), id);
    }
    qr_hnsw_topk_sort(&t);
    for (int i = 0; i < t.n; i++) {
        labels[i] = h->labels[t.heap[i].id];
        scores[i] = t.heap[i].s;
    }
    return t.n;
}

quire_status qr_hnsw_search(const qr_hnsw *h, qr_hnsw_scratch *scratch, const float *query,
                            int k, int ef, qr_hnsw_filter_fn filter, void *user_data,
                            int64_t *labels, float *scores, int *n_out, quire_error *err)
{
    if (n_out)
        *n_out = 0;
    if (!h || !query || !labels || !scores || !n_out || k < 1)
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw search: bad arguments");
    if (!finite_vec(query, h->dims))
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw search: query is not finite");
    if (h->entry == HNSW_NONE || h->n == h->n_deleted)
        return QUIRE_OK;
    ef = ef > 0 ? ef : h->p.ef_search;
    ef = QR_MAX(ef, k);
    if (ef > (1 << 20))
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw search: ef %d too large", ef);
    qr_hnsw_scratch *s = scratch;
    if (!s && qr_hnsw_scratch_new(h, &s, err))
        return QUIRE_NOMEM;
    quire_status rc = QUIRE_OK;
    if (qr_hnsw_scratch_fit(h, s, ef)) {
        rc = qr_err(err, QUIRE_NOMEM, "hnsw search: out of memory");
        goto done;
    }
    qr_hnsw_quantize(h, query, s->q8);
    hnsw_query q = {s->q8, hnsw_qscale(h, s->q8), filter, user_data, 1, 0, qr_nn()->dot_i8};
    uint32_t ep = h->entry;
    float ep_s = qscore(h, &q, ep);
    for (int l = h->max_level; l > 0; l--)
        qr_hnsw_greedy(h, s, &q, &ep, &ep_s, l);
    size_t n = qr_hnsw_search_layer(h, s, &q, ep, ep_s, 0, ef);
    *n_out = rerank(h, s, n, query, k, labels, scores);
done:
    if (!scratch)
        qr_hnsw_scratch_free(s);
    return rc;
}
