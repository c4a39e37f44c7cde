/*
 * hnsw_io.c — the saved graph (layout at the top of hnsw.h): writing it, validating
 * every field of a blob before trusting it, and repairing the loaded graph against
 * the current vectors.
 *
 * Validation runs in two passes over the node records: the first checks record
 * bounds, flags, levels and link counts and learns every node's level; the second
 * checks each link id (in range, not the node itself, pointing at a node that has the
 * layer) while it builds the graph. A trailing FNV-1a checksum catches damage that
 * would still be structurally valid. Any failure is QUIRE_FORMAT and frees everything.
 */
#include <string.h>

#include "hnsw_int.h"

#define MAGIC "QRHNSWG1"
#define VERSION 1u
#define HEADER_LEN 48u
#define NODE_HEAD 12u /* label, flags, level, 2 reserved bytes */

/* ---- little-endian helpers ------------------------------------------------------------ */

static void put_u32(qr_buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    qr_buf_append(b, c, 4);
}

static void put_u64(qr_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t x = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) {
        x ^= p[i];
        x *= 0x100000001B3ull;
    }
    return x;
}

/* ---- save ------------------------------------------------------------------------------ */

void qr_hnsw_save(const qr_hnsw *h, qr_buf *out)
{
    if (out->failed)
        return;
    size_t start = out->len;
    uint64_t body = 0;
    for (size_t i = 0; i < h->n; i++) {
        body += NODE_HEAD;
        for (int l = 0; l <= h->levels[i]; l++)
            body += 4 + 4 * (uint64_t)hnsw_links(h, (uint32_t)i, l)[0];
    }
    qr_buf_append(out, MAGIC, 8);
    put_u32(out, VERSION);
    put_u32(out, (uint32_t)h->dims);
    put_u32(out, (uint32_t)h->p.m);
    put_u32(out, (uint32_t)h->p.ef_construction);
    put_u64(out, h->n);
    put_u32(out, h->entry);
    put_u32(out, (uint32_t)(h->entry == HNSW_NONE ? 0 : h->max_level));
    put_u64(out, body);
    for (size_t i = 0; i < h->n; i++) {
        put_u64(out, (uint64_t)h->labels[i]);
        unsigned char head[4] = {h->deleted[i] ? 1 : 0, h->levels[i], 0, 0};
        qr_buf_append(out, head, 4);
        for (int l = 0; l <= h->levels[i]; l++) {
            const uint32_t *ln = hnsw_links(h, (uint32_t)i, l);
            for (uint32_t j = 0; j <= ln[0]; j++)
                put_u32(out, ln[j]);
        }
    }
    if (out->failed)
        return;
    put_u64(out, fnv1a((const unsigned char *)out->data + start, out->len - start));
}

/* ---- load: parse ------------------------------------------------------------------------ */

typedef struct blob_head {
    uint32_t dims, m, efc, entry, max_level;
    uint64_t n_nodes, body;
} blob_head;

static quire_status bad(quire_error *err, const char *what)
{
    return qr_err(err, QUIRE_FORMAT, "hnsw blob: %s", what);
}

static quire_status parse_head(const unsigned char *p, size_t len, blob_head *hd,
                               quire_error *err)
{
    if (len < HEADER_LEN + 8)
        return bad(err, "truncated header");
    if (memcmp(p, MAGIC, 8) != 0)
        return bad(err, "bad magic");
    if (get_u32(p + 8) != VERSION)
        return bad(err, "unsupported version");
    hd->dims = get_u32(p + 12);
    hd->m = get_u32(p + 16);
    hd->efc = get_u32(p + 20);
    hd->n_nodes = get_u64(p + 24);
    hd->entry = get_u32(p + 32);
    hd->max_level = get_u32(p + 36);
    hd->body = get_u64(p + 40);
    if (hd->body != len - HEADER_LEN - 8)
        return bad(err, "length does not match");
    if (get_u64(p + len - 8) != fnv1a(p, len - 8))
        return bad(err, "checksum mismatch");
    if (hd->m < 2 || hd->m > 1024 || hd->dims < 1 || hd->dims > 65536 || hd->efc < 1)
        return bad(err, "bad parameters");
    if (hd->n_nodes > HNSW_MAX_NODES || hd->n_nodes > hd->body / (NODE_HEAD + 4))
        return bad(err, "bad node count");
    if (hd->max_level > HNSW_MAX_LEVEL)
        return bad(err, "bad max level");
    if (hd->n_nodes == 0 ? hd->entry != HNSW_NONE || hd->max_level != 0
                         : hd->entry >= hd->n_nodes)
        return bad(err, "bad entry point");
    return QUIRE_OK;
}

/* Pass 1: record bounds, flags, levels, counts; levels go to h->levels. */
static quire_status scan_nodes(qr_hnsw *h, const unsigned char *p, const blob_head *hd,
                               quire_error *err)
{
    size_t off = 0, end = (size_t)hd->body;
    uint32_t seen_max = 0;
    for (uint64_t i = 0; i < hd->n_nodes; i++) {
        if (end - off < NODE_HEAD)
            return bad(err, "truncated node");
        unsigned flags = p[off + 8], level = p[off + 9];
        if (flags > 1 || p[off + 10] || p[off + 11] || level > hd->max_level)
            return bad(err, "bad node header");
        off += NODE_HEAD;
        for (unsigned l = 0; l <= level; l++) {
            if (end - off < 4)
                return bad(err, "truncated links");
            uint32_t cnt = get_u32(p + off);
            if (cnt > (uint32_t)(l ? hd->m : 2 * hd->m) || (end - off - 4) / 4 < cnt)
                return bad(err, "bad link count");
            off += 4 + 4 * (size_t)cnt;
        }
        h->levels[i] = (uint8_t)level;
        seen_max = QR_MAX(seen_max, level);
    }
    if (off != end)
        return bad(err, "trailing bytes");
    if (hd->n_nodes && (seen_max != hd->max_level || h->levels[hd->entry] != hd->max_level))
        return bad(err, "entry point is not on the top level");
    return QUIRE_OK;
}

/* Pass 2: build nodes and links, checking every id. */
static quire_status build_nodes(qr_hnsw *h, const unsigned char *p, const blob_head *hd,
                                quire_error *err)
{
    size_t off = 0;
    for (uint64_t i = 0; i < hd->n_nodes; i++) {
        int64_t label = (int64_t)get_u64(p + off);
        int dead = p[off + 8];
        int level = h->levels[i]; /* pass 1 */
        off += NODE_HEAD;
        if (qr_hnsw_push_node(h, label, NULL, level) == HNSW_NONE)
            return qr_err(err, QUIRE_NOMEM, "hnsw load: out of memory");
        h->levels[i] = (uint8_t)level;
        for (int l = 0; l <= level; l++) {
            uint32_t cnt = get_u32(p + off);
            uint32_t *ln = hnsw_links(h, (uint32_t)i, l);
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t id = get_u32(p + off + 4 + 4 * (size_t)j);
                if (id >= hd->n_nodes || id == i || h->levels[id] < l)
                    return bad(err, "bad link");
                ln[1 + j] = id;
            }
            ln[0] = cnt;
            off += 4 + 4 * (size_t)cnt;
        }
        if (dead) {
            h->deleted[i] = 1;
            h->n_deleted++;
        } else if (qr_hnsw_map_find(h, label) != HNSW_NONE) {
            return bad(err, "duplicate label");
        } else {
            qr_hnsw_map_put(h, label, (uint32_t)i);
        }
    }
    h->entry = hd->n_nodes ? hd->entry : HNSW_NONE;
    h->max_level = (int)hd->max_level;
    return QUIRE_OK;
}

/* Fill h from a blob. *ignored = 1 when the blob is valid but built with other dims
 * or m (then h stays empty and the caller rebuilds from the vectors). */
static quire_status parse_blob(qr_hnsw *h, const void *blob, size_t len, size_t extra,
                               int *ignored, quire_error *err)
{
    const unsigned char *p = blob;
    blob_head hd = {0};
    quire_status rc = parse_head(p, len, &hd, err);
    if (rc)
        return rc;
    if (hd.dims != (uint32_t)h->dims || hd.m != (uint32_t)h->p.m) {
        *ignored = 1;
        return QUIRE_OK;
    }
    rc = qr_hnsw_reserve(h, (size_t)hd.n_nodes + extra, err);
    if (rc)
        return rc;
    /* levels of nodes not yet pushed live in the reserved tail of h->levels */
    rc = scan_nodes(h, p + HEADER_LEN, &hd, err);
    if (!rc)
        rc = build_nodes(h, p + HEADER_LEN, &hd, err);
    return rc;
}

/* ---- load: repair ---------------------------------------------------------------------- */

typedef struct row_map {
    int64_t *keys;
    uint32_t *rows;
    size_t mask;
} row_map;

static size_t row_slot(int64_t key, size_t mask)
{
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 31)) & mask;
}

static uint32_t row_find(const row_map *m, int64_t key)
{
    for (size_t i = row_slot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->rows[i] == HNSW_NONE || m->keys[i] == key)
            return m->rows[i];
    }
}

/* Map the input labels to rows; INVALID_ARG on a repeated label. */
static quire_status row_map_build(row_map *m, const int64_t *labels, size_t n, quire_error *err)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->keys = qr_malloc(cap * sizeof(*m->keys));
    m->rows = qr_malloc(cap * sizeof(*m->rows));
    m->mask = cap - 1;
    if (!m->keys || !m->rows)
        return qr_err(err, QUIRE_NOMEM, "hnsw load: out of memory");
    memset(m->rows, 0xFF, cap * sizeof(*m->rows));
    for (size_t r = 0; r < n; r++) {
        size_t i = row_slot(labels[r], m->mask);
        while (m->rows[i] != HNSW_NONE && m->keys[i] != labels[r])
            i = (i + 1) & m->mask;
        if (m->rows[i] != HNSW_NONE)
            return qr_err(err, QUIRE_INVALID_ARG, "hnsw load: label %lld given twice",
                          (long long)labels[r]);
        m->keys[i] = labels[r];
        m->rows[i] = (uint32_t)r;
    }
    return QUIRE_OK;
}

/* Give blob nodes their vectors, tombstone the ones without, insert the rest. */
static quire_status repair(qr_hnsw *h, const int64_t *labels, const float *vecs, size_t n,
                           size_t *n_repaired, quire_error *err)
{
    row_map m = {0};
    uint8_t *used = qr_calloc(n ? n : 1, 1);
    uint32_t *idx = qr_malloc((n ? n : 1) * sizeof(*idx));
    quire_status rc = used && idx ? row_map_build(&m, labels, n, err)
                                  : qr_err(err, QUIRE_NOMEM, "hnsw load: out of memory");
    if (rc)
        goto done;
    for (size_t i = 0; i < h->n; i++) {
        uint32_t r = row_find(&m, h->labels[i]);
        if (r != HNSW_NONE) {
            const float *v = vecs + (size_t)r * (size_t)h->dims;
            memcpy(h->vecs + i * h->fstride, v, (size_t)h->dims * sizeof(float));
            qr_hnsw_quantize(h, v, h->qvecs + i * h->qstride);
            if (!h->deleted[i])
                used[r] = 1;
        } else if (!h->deleted[i]) {
            h->deleted[i] = 1;
            h->n_deleted++;
            qr_hnsw_map_del(h, h->labels[i]);
            (*n_repaired)++;
        }
    }
    size_t k = 0;
    for (size_t r = 0; r < n; r++)
        if (!used[r])
            idx[k++] = (uint32_t)r;
    rc = qr_hnsw_add_rows(h, labels, vecs, (size_t)h->dims, idx, k, 1, err);
    if (!rc)
        *n_repaired += k;
done:
    qr_free(m.keys);
    qr_free(m.rows);
    qr_free(used);
    qr_free(idx);
    return rc;
}

quire_status qr_hnsw_load(int dims, const qr_hnsw_params *params, const void *blob,
                          size_t blob_len, const int64_t *labels, const float *vecs, size_t n,
                          qr_hnsw **out, size_t *n_repaired, quire_error *err)
{
    size_t repaired = 0;
    if (n_repaired)
        *n_repaired = 0;
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw load: NULL out");
    *out = NULL;
    if (n && (!labels || !vecs))
        return qr_err(err, QUIRE_INVALID_ARG, "hnsw load: NULL vectors");
    if (n > HNSW_MAX_NODES)
        return qr_err(err, QUIRE_LIMIT, "hnsw load: too many vectors");
    qr_hnsw *h = NULL;
    quire_status rc = qr_hnsw_new(dims, params, &h, err);
    if (rc)
        return rc;
    int ignored = 0;
    if (blob && blob_len)
        rc = parse_blob(h, blob, blob_len, n, &ignored, err);
    if (!rc)
        rc = repair(h, labels, vecs, n, &repaired, err);
    if (rc) {
        qr_hnsw_free(h);
        return rc;
    }
    if (n_repaired)
        *n_repaired = repaired;
    *out = h;
    return QUIRE_OK;
}
