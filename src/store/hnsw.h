/*
 * hnsw.h — approximate nearest-neighbour index (HNSW, Malkov & Yashunin 2016) over
 * float32 vectors under inner product (vectors are expected L2-normalised, so the
 * score is cosine similarity; higher is better), plus exact (brute force) search.
 *
 * Nodes carry an int64 label (the store uses the chunk id). The index keeps its own
 * contiguous copy of the vectors (64-byte aligned rows) so distance computations
 * stream through qr_nn()->dot. Deletes are tombstones: a removed node still routes
 * searches but is never returned; qr_hnsw_compact() rebuilds without them.
 *
 * Threads: adds/removes/compaction need exclusive access; any number of searches may
 * run at once when each uses its own qr_hnsw_scratch (or passes NULL: then the call
 * allocates one).
 *
 * Persistence: qr_hnsw_save writes the graph (labels, levels, links; not the vectors,
 * which the store keeps in its vectors table) to a self-describing little-endian blob;
 * qr_hnsw_load validates every field (a damaged blob is QUIRE_FORMAT, never a crash)
 * and takes the vectors as (label, vector) pairs: labels in the blob with no vector are
 * tombstoned, vectors with no node in the blob are inserted. So the saved graph is a
 * cache of the vectors table that may lag behind it and is repaired on load.
 *
 * Inside (hnsw_int.h): the graph is built and searched on a per-row int8 copy of the
 * vectors (scale = max|x|/127), and the ef best candidates of a search are re-ranked
 * with exact float32 inner products, so returned scores are exact. The graph is the
 * same on every kernel table (int8 dots are exact integers).
 *
 * Blob layout (version 1, all integers little-endian):
 *   offset  0  char[8] magic "QRHNSWG1"
 *           8  u32 version (1)
 *          12  u32 dims
 *          16  u32 m
 *          20  u32 ef_construction
 *          24  u64 n_nodes
 *          32  u32 entry point node (0xFFFFFFFF when n_nodes is 0)
 *          36  u32 max_level (<= 31; the entry point's level)
 *          40  u64 body_len: bytes of the node records that follow
 *          48  n_nodes records, node ids are their order:
 *                i64 label, u8 flags (1 = tombstone), u8 level, u16 0,
 *                then for each layer 0..level: u32 count (<= 2m on layer 0, <= m above),
 *                count x u32 node id (< n_nodes, not itself, with level >= the layer)
 *   48+body_len u64 FNV-1a 64 of every byte before it
 * A valid blob whose dims or m differ from the ones given to qr_hnsw_load is ignored
 * (the graph is rebuilt from the vectors and every vector counts as repaired).
 */
#ifndef QR_HNSW_H
#define QR_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "quire.h"

typedef struct qr_hnsw qr_hnsw;
typedef struct qr_hnsw_scratch qr_hnsw_scratch;

typedef struct qr_hnsw_params {
    int m;               /* links per node on upper layers (layer 0: 2*m); 0 = 16 */
    int ef_construction; /* candidate list while inserting; 0 = 200 */
    int ef_search;       /* default candidate list while searching; 0 = 64 */
    uint64_t seed;       /* level generator; 0 = fixed default */
} qr_hnsw_params;

/* Keep-callback for filtered search: return nonzero to allow `label`. */
typedef int (*qr_hnsw_filter_fn)(int64_t label, void *user_data);

quire_status qr_hnsw_new(int dims, const qr_hnsw_params *params, qr_hnsw **out,
                         quire_error *err);
void qr_hnsw_free(qr_hnsw *h);

int qr_hnsw_dims(const qr_hnsw *h);
void qr_hnsw_get_params(const qr_hnsw *h, qr_hnsw_params *out); /* defaults resolved */
size_t qr_hnsw_size(const qr_hnsw *h);       /* live (not removed) nodes */
size_t qr_hnsw_tombstones(const qr_hnsw *h); /* removed nodes still in the graph */
int qr_hnsw_contains(const qr_hnsw *h, int64_t label); /* live node with this label */

/* Make room for `n` nodes in total (optional; adds grow as needed). */
quire_status qr_hnsw_reserve(qr_hnsw *h, size_t n, quire_error *err);
/* Insert one vector (copied). A label that is already live is QUIRE_INVALID_ARG. */
quire_status qr_hnsw_add(qr_hnsw *h, int64_t label, const float *vec, quire_error *err);
/* Insert n vectors (rows of vecs, dims floats each) using up to n_threads threads
 * (1 = the calling thread only). Same result quality as one-by-one adds. */
quire_status qr_hnsw_add_batch(qr_hnsw *h, const int64_t *labels, const float *vecs,
                               size_t n, int n_threads, quire_error *err);
/* Tombstone a label; returns 1 if it was live, 0 if unknown or already removed. */
int qr_hnsw_remove(qr_hnsw *h, int64_t label);
/* Rebuild without tombstones (same params). */
quire_status qr_hnsw_compact(qr_hnsw *h, quire_error *err);

quire_status qr_hnsw_scratch_new(const qr_hnsw *h, qr_hnsw_scratch **out, quire_error *err);
void qr_hnsw_scratch_free(qr_hnsw_scratch *s);

/* Top-k by inner product (best first). ef <= 0: the index default; ef is raised to k.
 * filter may be NULL. OUT: labels[0..*n_out), scores[0..*n_out) (n_out <= k; fewer
 * only when fewer nodes pass the filter or the filter starves the search — callers that
 * need k filtered hits fall back to exact search). scratch may be NULL. */
quire_status qr_hnsw_search(const qr_hnsw *h, qr_hnsw_scratch *scratch, const float *query,
                            int k, int ef, qr_hnsw_filter_fn filter, void *user_data,
                            int64_t *labels, float *scores, int *n_out, quire_error *err);

/* Exact search over the index's own live vectors (same contract as qr_hnsw_search). */
quire_status qr_hnsw_search_exact(const qr_hnsw *h, const float *query, int k,
                                  qr_hnsw_filter_fn filter, void *user_data, int64_t *labels,
                                  float *scores, int *n_out, quire_error *err);

/* Exact top-k over n rows of a plain matrix (row i has label labels[i], or i when labels
 * is NULL), SIMD inner product, one pass over memory. */
quire_status qr_flat_search(const float *vecs, size_t n, int dims, const int64_t *labels,
                            const float *query, int k, int64_t *out_labels, float *out_scores,
                            int *n_out, quire_error *err);

/* Serialise the graph (see top of file) into out (sticky qr_buf errors apply). */
void qr_hnsw_save(const qr_hnsw *h, qr_buf *out);
/* Rebuild an index from a saved graph and the current vectors (n rows, labels unique,
 * else QUIRE_INVALID_ARG). A damaged blob is QUIRE_FORMAT (nothing is returned; pass
 * blob NULL to rebuild). blob may be NULL/0 (then: build from the vectors, 1 thread). *out gets the index; *n_repaired
 * (optional) = nodes tombstoned + vectors inserted to catch up with the vectors. */
quire_status qr_hnsw_load(int dims, const qr_hnsw_params *params, const void *blob,
                          size_t blob_len, const int64_t *labels, const float *vecs, size_t n,
                          qr_hnsw **out, size_t *n_repaired, quire_error *err);

#endif /* QR_HNSW_H */
