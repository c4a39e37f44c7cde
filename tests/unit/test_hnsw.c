/*
 * test_hnsw.c — the HNSW index and exact search (src/store/hnsw*.c) and the two search
 * kernels behind them (dot_i8, dot_rows) against the scalar reference.
 *
 * Data: a seeded Gaussian mixture (clusters of normalised vectors, in-cluster cosine
 * ~0.5), small enough that the file runs in a few seconds natively and well under a
 * minute under ASan or qemu-aarch64 (one shared index of N_BASE x DIMS, built once).
 * Recall is measured against qr_hnsw_search_exact, which is itself checked against a
 * naive double-precision loop. Damaged blobs are made by truncation, random byte flips,
 * and targeted field edits with the checksum recomputed (so the structural checks, not
 * just the checksum, are exercised); ASan checks that none of them reads out of bounds.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"
#include "store/hnsw.h"
#include "testlib.h"

#define DIMS 64
#define N_BASE 6000
#define N_CLUSTERS 40
#define N_QUERY 100
#define K 10

static uint64_t rng = 0x5eedf00d;

static float *centres;

static void normalise(float *v, int d)
{
    double s = 0;
    for (int i = 0; i < d; i++)
        s += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(s > 0 ? s : 1));
    for (int i = 0; i < d; i++)
        v[i] *= inv;
}

static float *gen(size_t n, int d)
{
    if (!centres) {
        centres = malloc((size_t)N_CLUSTERS * d * sizeof(float));
        for (int i = 0; i < N_CLUSTERS * d; i++)
            centres[i] = t_randn(&rng);
        for (int i = 0; i < N_CLUSTERS; i++)
            normalise(centres + (size_t)i * d, d);
    }
    float *v = malloc(n * d * sizeof(float));
    float sd = 1.6f / sqrtf((float)d); /* in-cluster cosine ~0.3: not too easy */
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)(t_rand(&rng) * N_CLUSTERS) * d;
        for (int j = 0; j < d; j++)
            v[i * d + j] = c[j] + sd * t_randn(&rng);
        normalise(v + i * d, d);
    }
    return v;
}

/* The shared fixture: base vectors with labels 1000 + i, queries, one index. */
static float *base, *queries;
static int64_t *base_labels;
static qr_hnsw *idx;

static int64_t *labels_from(size_t n, int64_t first)
{
    int64_t *l = malloc(n * sizeof(*l));
    for (size_t i = 0; i < n; i++)
        l[i] = first + (int64_t)i;
    return l;
}

static qr_hnsw *build(const float *v, const int64_t *labels, size_t n, int threads)
{
    qr_hnsw *h = NULL;
    quire_error err = {0};
    T_CHECKF(qr_hnsw_new(DIMS, NULL, &h, &err) == QUIRE_OK, "new: %s", err.msg);
    if (!h)
        return NULL;
    quire_status st = qr_hnsw_add_batch(h, labels, v, n, threads, &err);
    T_CHECKF(st == QUIRE_OK, "add_batch: %s", err.msg);
    return h;
}

static void setup(void)
{
    base = gen(N_BASE, DIMS);
    queries = gen(N_QUERY, DIMS);
    base_labels = labels_from(N_BASE, 1000);
    idx = build(base, base_labels, N_BASE, 1);
}

/* recall@K of the index against exact search over the same index, with a filter. */
static double recall(const qr_hnsw *h, int ef, qr_hnsw_filter_fn f, void *ud)
{
    long hit = 0, total = 0;
    qr_hnsw_scratch *s = NULL;
    T_CHECK(qr_hnsw_scratch_new(h, &s, NULL) == QUIRE_OK);
    for (int q = 0; q < N_QUERY; q++) {
        int64_t la[K], lb[K];
        float sa[K], sb[K];
        int na = 0, nb = 0;
        const float *qv = queries + (size_t)q * DIMS;
        T_CHECK(qr_hnsw_search(h, s, qv, K, ef, f, ud, la, sa, &na, NULL) == QUIRE_OK);
        T_CHECK(qr_hnsw_search_exact(h, qv, K, f, ud, lb, sb, &nb, NULL) == QUIRE_OK);
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < na; j++)
                if (lb[i] == la[j]) {
                    hit++;
                    break;
                }
        total += nb;
    }
    qr_hnsw_scratch_free(s);
    return total ? (double)hit / (double)total : 1.0;
}

/* ------------------------------------------------------------------ kernels */

static void test_kernels(void)
{
    static const long lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 383, 384, 385, 4097};
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        const qr_kernels *kt = qr_nn_get(qr_nn_names[ti]);
        if (!kt)
            continue;
        for (size_t li = 0; li < QR_ARRAY_LEN(lens); li++) {
            long n = lens[li];
            /* one byte / float off alignment, at the end of the block */
            int8_t *a = malloc((size_t)n + 1), *b = malloc((size_t)n + 1);
            for (long i = 0; i <= n; i++) {
                a[i] = (int8_t)(t_rand(&rng) * 255 - 127);
                b[i] = (int8_t)(t_rand(&rng) * 255 - 127);
            }
            a[1 % (n + 1)] = -128; /* the full int8 range */
            int32_t ref = qr_kernels_scalar.dot_i8(a + 1, b + 1, n > 0 ? n : 0);
            int32_t got = kt->dot_i8(a + 1, b + 1, n > 0 ? n : 0);
            T_CHECKF(got == ref, "%s dot_i8 n=%ld: %d vs %d", kt->name, n, got, ref);
            free(a);
            free(b);

            long m = 7, ld = n + 3;
            float *q = malloc(((size_t)n + 1) * sizeof(float));
            float *x = malloc(((size_t)m * ld + 1) * sizeof(float));
            for (long i = 0; i <= n; i++)
                q[i] = t_randn(&rng);
            for (long i = 0; i <= m * ld; i++)
                x[i] = t_randn(&rng);
            float out[7], want[7];
            kt->dot_rows(q + 1, x + 1, ld, m, n, out);
            qr_kernels_scalar.dot_rows(q + 1, x + 1, ld, m, n, want);
            for (long r = 0; r < m; r++) {
                double mag = 1e-30;
                for (long i = 0; i < n; i++)
                    mag += fabs((double)q[1 + i] * x[1 + r * ld + i]);
                T_CHECKF(fabs((double)out[r] - want[r]) / mag <= 1e-5,
                         "%s dot_rows n=%ld row %ld: %g vs %g", kt->name, n, r, out[r], want[r]);
            }
            /* the same row at every position (in a group of four and in the tail)
               scores bit for bit the same: equal vectors tie exactly, so a search orders
               them by content (issue 16), not by where the scan met them */
            for (long r = 1; r < m; r++)
                memcpy(x + 1 + r * ld, x + 1, (size_t)n * sizeof(float));
            kt->dot_rows(q + 1, x + 1, ld, m, n, out);
            int same = 1;
            for (long r = 1; r < m; r++)
                same &= memcmp(&out[r], &out[0], sizeof(float)) == 0;
            T_CHECKF(same, "%s dot_rows n=%ld: one row copied to 7 positions scores the same "
                     "(%.9g, %.9g)", kt->name, n, out[0], out[m - 1]);
            free(q);
            free(x);
        }
    }
}

/* ------------------------------------------------------------------ exact */

static void test_exact_naive(void)
{
    int64_t lab[K], flab[K];
    float sc[K], fsc[K];
    for (int q = 0; q < 20; q++) {
        const float *qv = queries + (size_t)q * DIMS;
        /* naive: double dots, selection by repeated max */
        double *d = malloc(N_BASE * sizeof(double));
        for (int i = 0; i < N_BASE; i++) {
            d[i] = 0;
            for (int j = 0; j < DIMS; j++)
                d[i] += (double)qv[j] * base[(size_t)i * DIMS + j];
        }
        int n = 0, nf = 0;
        T_CHECK(qr_hnsw_search_exact(idx, qv, K, NULL, NULL, lab, sc, &n, NULL) == QUIRE_OK);
        T_CHECK(qr_flat_search(base, N_BASE, DIMS, base_labels, qv, K, flab, fsc, &nf, NULL) ==
                QUIRE_OK);
        T_EQ_INT(n, K);
        T_EQ_INT(nf, K);
        for (int r = 0; r < K && r < n; r++) {
            int best = 0;
            for (int i = 1; i < N_BASE; i++)
                if (d[i] > d[best])
                    best = i;
            /* the same label unless the next score is a near tie */
            T_CHECKF(fabs(sc[r] - d[best]) < 1e-5, "rank %d score %g vs %g", r, sc[r], d[best]);
            T_CHECKF(lab[r] == base_labels[best] || fabs(sc[r] - d[best]) < 1e-6,
                     "rank %d label %lld vs %lld", r, (long long)lab[r],
                     (long long)base_labels[best]);
            T_CHECK(flab[r] == lab[r] && fsc[r] == sc[r]);
            d[best] = -INFINITY;
        }
        free(d);
    }
    /* k larger than n, and labels NULL = row index */
    int64_t l3[5];
    float s3[5];
    int n3 = 0;
    T_CHECK(qr_flat_search(base, 3, DIMS, NULL, queries, 5, l3, s3, &n3, NULL) == QUIRE_OK);
    T_EQ_INT(n3, 3);
    for (int i = 0; i < n3; i++)
        T_CHECK(l3[i] >= 0 && l3[i] < 3);
    T_EQ_INT(qr_flat_search(base, 3, DIMS, NULL, queries, 0, l3, s3, &n3, NULL),
             QUIRE_INVALID_ARG);
}

/* ------------------------------------------------------------------ recall */

static void test_recall(void)
{
    T_EQ_INT(qr_hnsw_size(idx), N_BASE);
    double r = recall(idx, 0, NULL, NULL);
    printf("  recall@%d (%d x %d, default params, ef 64) = %.4f\n", K, N_BASE, DIMS, r);
    T_CHECKF(r >= 0.95, "recall %.4f", r);
    /* every vector finds itself first, with its exact score */
    for (int i = 0; i < 50; i++) {
        int64_t l[1];
        float s[1];
        int n = 0;
        T_CHECK(qr_hnsw_search(idx, NULL, base + (size_t)i * DIMS, 1, 0, NULL, NULL, l, s, &n,
                               NULL) == QUIRE_OK);
        T_CHECK(n == 1 && l[0] == base_labels[i]);
    }
    qr_hnsw_params p;
    qr_hnsw_get_params(idx, &p);
    T_CHECK(p.m == 16 && p.ef_construction == 200 && p.ef_search == 64);
    T_EQ_INT(qr_hnsw_dims(idx), DIMS);
}

/* The same graph on every kernel table (int8 dots are exact), so the same blob. */
static void test_cross_isa(void)
{
    qr_buf ref;
    qr_buf_init(&ref, 0);
    int64_t *lab = labels_from(1000, 0);
    for (int ti = 0; qr_nn_names[ti]; ti++) {
        if (!qr_nn_get(qr_nn_names[ti]))
            continue;
        T_CHECK(qr_nn_select(qr_nn_names[ti], NULL) == QUIRE_OK);
        qr_hnsw *h = build(base, lab, 1000, 1);
        qr_buf b;
        qr_buf_init(&b, 0);
        qr_hnsw_save(h, &b);
        T_CHECK(!b.failed);
        if (ti == 0)
            qr_buf_append(&ref, b.data, b.len);
        else
            T_CHECKF(b.len == ref.len && memcmp(b.data, ref.data, b.len) == 0,
                     "table %s builds another graph", qr_nn_names[ti]);
        qr_buf_free(&b);
        qr_hnsw_free(h);
    }
    qr_nn_select(NULL, NULL);
    qr_buf_free(&ref);
    free(lab);
}

/* ------------------------------------------------------------------ filter */

static int keep_mod3(int64_t label, void *ud)
{
    (void)ud;
    return label % 3 == 0;
}

static int keep_none(int64_t label, void *ud)
{
    (void)label;
    (void)ud;
    return 0;
}

static void test_filter(void)
{
    for (int q = 0; q < N_QUERY; q++) {
        int64_t l[K];
        float s[K];
        int n = 0;
        T_CHECK(qr_hnsw_search(idx, NULL, queries + (size_t)q * DIMS, K, 0, keep_mod3, NULL, l, s,
                               &n, NULL) == QUIRE_OK);
        T_EQ_INT(n, K);
        for (int i = 0; i < n; i++)
            T_CHECKF(l[i] % 3 == 0, "label %lld passed the filter", (long long)l[i]);
        for (int i = 1; i < n; i++)
            T_CHECK(s[i - 1] >= s[i]);
    }
    double r = recall(idx, 0, keep_mod3, NULL);
    printf("  filtered recall@%d (1/3 allowed) = %.4f\n", K, r);
    T_CHECKF(r >= 0.9, "filtered recall %.4f", r);
    int64_t l[K];
    float s[K];
    int n = 1;
    T_CHECK(qr_hnsw_search(idx, NULL, queries, K, 0, keep_none, NULL, l, s, &n, NULL) ==
            QUIRE_OK);
    T_EQ_INT(n, 0);
}

/* ------------------------------------------------------------------ remove / compact */

static int removed_label(int64_t label) { return label % 5 == 0; }

static void test_remove_compact(void)
{
    int64_t *lab = labels_from(3000, 1000);
    qr_hnsw *h = build(base, lab, 3000, 1);
    if (!h)
        return;
    size_t n_rm = 0;
    for (int i = 0; i < 3000; i++)
        if (removed_label(lab[i]))
            n_rm += (size_t)qr_hnsw_remove(h, lab[i]);
    T_EQ_INT(qr_hnsw_remove(h, lab[0]), 0); /* already removed */
    T_EQ_INT(qr_hnsw_remove(h, 99), 0);     /* unknown */
    T_EQ_INT(qr_hnsw_size(h), 3000 - n_rm);
    T_EQ_INT(qr_hnsw_tombstones(h), n_rm);
    T_CHECK(!qr_hnsw_contains(h, lab[0]) && qr_hnsw_contains(h, lab[1]));
    int64_t before[N_QUERY][K];
    for (int pass = 0; pass < 2; pass++) {
        for (int q = 0; q < N_QUERY; q++) {
            int64_t l[K], le[K];
            float s[K], se[K];
            int n = 0, ne = 0;
            const float *qv = queries + (size_t)q * DIMS;
            T_CHECK(qr_hnsw_search(h, NULL, qv, K, 0, NULL, NULL, l, s, &n, NULL) == QUIRE_OK);
            T_CHECK(qr_hnsw_search_exact(h, qv, K, NULL, NULL, le, se, &ne, NULL) == QUIRE_OK);
            T_EQ_INT(n, K);
            for (int i = 0; i < n; i++)
                T_CHECKF(!removed_label(l[i]) && !removed_label(le[i]), "removed %lld returned",
                         (long long)l[i]);
            if (pass == 0)
                memcpy(before[q], le, sizeof(le));
            else /* compaction does not change exact results */
                T_CHECK(memcmp(before[q], le, sizeof(le)) == 0);
        }
        if (pass == 0) {
            quire_error err = {0};
            T_CHECKF(qr_hnsw_compact(h, &err) == QUIRE_OK, "compact: %s", err.msg);
            T_EQ_INT(qr_hnsw_tombstones(h), 0);
            T_EQ_INT(qr_hnsw_size(h), 3000 - n_rm);
        }
    }
    double r = recall(h, 0, NULL, NULL);
    T_CHECKF(r >= 0.95, "recall after compact %.4f", r);
    /* a removed label may be added again */
    T_CHECK(qr_hnsw_add(h, lab[0], base, NULL) == QUIRE_OK);
    T_EQ_INT(qr_hnsw_add(h, lab[0], base, NULL), QUIRE_INVALID_ARG);
    T_CHECK(qr_hnsw_contains(h, lab[0]));
    qr_hnsw_free(h);
    free(lab);
}

/* ------------------------------------------------------------------ persistence */

static void same_results(const qr_hnsw *a, const qr_hnsw *b)
{
    for (int q = 0; q < N_QUERY; q++) {
        int64_t la[K], lb[K];
        float sa[K], sb[K];
        int na = 0, nb = 0;
        const float *qv = queries + (size_t)q * DIMS;
        T_CHECK(qr_hnsw_search(a, NULL, qv, K, 0, NULL, NULL, la, sa, &na, NULL) == QUIRE_OK);
        T_CHECK(qr_hnsw_search(b, NULL, qv, K, 0, NULL, NULL, lb, sb, &nb, NULL) == QUIRE_OK);
        T_EQ_INT(na, nb);
        T_CHECK(memcmp(la, lb, (size_t)na * sizeof(*la)) == 0);
        T_CHECK(memcmp(sa, sb, (size_t)na * sizeof(*sa)) == 0);
    }
}

static void test_save_load(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_hnsw_save(idx, &b);
    T_CHECK(!b.failed && b.len > 48);
    qr_hnsw *h = NULL;
    size_t rep = 99;
    quire_error err = {0};
    T_CHECKF(qr_hnsw_load(DIMS, NULL, b.data, b.len, base_labels, base, N_BASE, &h, &rep, &err) ==
                 QUIRE_OK,
             "load: %s", err.msg);
    T_EQ_INT(rep, 0);
    if (h) {
        same_results(idx, h);
        qr_buf b2;
        qr_buf_init(&b2, 0);
        qr_hnsw_save(h, &b2);
        T_CHECK(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
        qr_buf_free(&b2);
    }
    qr_hnsw_free(h);
    /* other m: the blob is ignored and the graph rebuilt */
    qr_hnsw_params p = {8, 0, 0, 0};
    T_CHECK(qr_hnsw_load(DIMS, &p, b.data, b.len, base_labels, base, 500, &h, &rep, NULL) ==
            QUIRE_OK);
    T_EQ_INT(rep, 500);
    qr_hnsw_free(h);
    /* no blob: build from the vectors; duplicate labels are refused */
    T_CHECK(qr_hnsw_load(DIMS, NULL, NULL, 0, base_labels, base, 300, &h, &rep, NULL) ==
            QUIRE_OK);
    T_EQ_INT(rep, 300);
    T_EQ_INT(qr_hnsw_size(h), 300);
    qr_hnsw_free(h);
    int64_t dup[2] = {5, 5};
    T_EQ_INT(qr_hnsw_load(DIMS, NULL, NULL, 0, dup, base, 2, &h, NULL, NULL), QUIRE_INVALID_ARG);
    T_CHECK(h == NULL);
    qr_buf_free(&b);
}

/* The blob lags the vectors: some vectors were deleted, others added since. */
static void test_load_repair(void)
{
    int64_t *lab = labels_from(N_BASE, 1000);
    qr_hnsw *old = build(base, lab, 2000, 1);
    if (!old)
        return;
    qr_hnsw_remove(old, lab[1]); /* a tombstone in the blob stays one */
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_hnsw_save(old, &b);
    /* now: rows 0..2999 minus every 7th (deleted) minus row 1; rows >= 2000 are new */
    size_t n = 0;
    int64_t *nl = malloc(3000 * sizeof(*nl));
    float *nv = malloc(3000 * DIMS * sizeof(float));
    for (int i = 0; i < 3000; i++) {
        if (i % 7 == 3 || i == 1)
            continue;
        nl[n] = lab[i];
        memcpy(nv + n * DIMS, base + (size_t)i * DIMS, DIMS * sizeof(float));
        n++;
    }
    size_t n_deleted = 0, n_new = 0;
    for (int i = 0; i < 3000; i++) {
        n_deleted += i < 2000 && i % 7 == 3;
        n_new += i >= 2000 && i % 7 != 3;
    }
    qr_hnsw *h = NULL;
    size_t rep = 0;
    quire_error err = {0};
    T_CHECKF(qr_hnsw_load(DIMS, NULL, b.data, b.len, nl, nv, n, &h, &rep, &err) == QUIRE_OK,
             "load: %s", err.msg);
    T_EQ_INT(rep, n_deleted + n_new);
    if (h) {
        T_EQ_INT(qr_hnsw_size(h), n);
        T_EQ_INT(qr_hnsw_tombstones(h), n_deleted + 1);
        for (int i = 0; i < 3000; i++) {
            int live = !(i % 7 == 3 || i == 1);
            T_CHECKF(qr_hnsw_contains(h, lab[i]) == live, "label %lld", (long long)lab[i]);
            int64_t l[K];
            float s[K];
            int got = 0;
            T_CHECK(qr_hnsw_search(h, NULL, base + (size_t)i * DIMS, K, 0, NULL, NULL, l, s, &got,
                                   NULL) == QUIRE_OK);
            for (int j = 0; j < got; j++)
                T_CHECK(l[j] != lab[1] && !((l[j] - 1000) % 7 == 3));
            if (live)
                T_CHECKF(got > 0 && l[0] == lab[i], "row %d does not find itself", i);
        }
    }
    qr_hnsw_free(h);
    qr_hnsw_free(old);
    qr_buf_free(&b);
    free(nl);
    free(nv);
    free(lab);
}

/* ------------------------------------------------------------------ damaged blobs */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void fix_checksum(unsigned char *p, size_t len)
{
    uint64_t x = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < len - 8; i++) {
        x ^= p[i];
        x *= 0x100000001B3ull;
    }
    put32(p + len - 8, (uint32_t)x);
    put32(p + len - 4, (uint32_t)(x >> 32));
}

/* FORMAT or a usable index; never a crash or an out-of-bounds read (ASan). */
static int try_load(const unsigned char *p, size_t len, const int64_t *lab, const float *v,
                    size_t n)
{
    unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    memcpy(copy, p, len);
    qr_hnsw *h = NULL;
    quire_error err = {0};
    qr_hnsw_params prm = {4, 20, 0, 0}; /* as test_damaged builds it */
    quire_status st = qr_hnsw_load(16, &prm, copy, len, lab, v, n, &h, NULL, &err);
    T_CHECKF(st == QUIRE_OK || st == QUIRE_FORMAT, "status %d: %s", st, err.msg);
    if (st == QUIRE_OK) {
        int64_t l[K];
        float s[K];
        int got = 0;
        T_CHECK(qr_hnsw_search(h, NULL, v, K, 0, NULL, NULL, l, s, &got, NULL) == QUIRE_OK);
    } else {
        T_CHECK(h == NULL);
    }
    qr_hnsw_free(h);
    free(copy);
    return st;
}

static void test_damaged(void)
{
    enum { N = 120, D = 16 };
    float *v = malloc(N * D * sizeof(float));
    for (int i = 0; i < N * D; i++)
        v[i] = t_randn(&rng);
    int64_t *lab = labels_from(N, 7);
    qr_hnsw_params p = {4, 20, 0, 0}; /* m 4: several levels in 120 nodes */
    qr_hnsw *h = NULL;
    T_CHECK(qr_hnsw_new(D, &p, &h, NULL) == QUIRE_OK);
    T_CHECK(qr_hnsw_add_batch(h, lab, v, N, 1, NULL) == QUIRE_OK);
    qr_hnsw_remove(h, lab[3]);
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_hnsw_save(h, &b);
    qr_hnsw_free(h);
    unsigned char *blob = (unsigned char *)b.data;
    size_t len = b.len;
    p.m = 4;
    /* the intact blob loads (with m 4) */
    T_CHECK(qr_hnsw_load(D, &p, blob, len, lab, v, N, &h, NULL, NULL) == QUIRE_OK);
    qr_hnsw_free(h);

    int n_format = 0;
    for (size_t cut = 0; cut < len; cut++)
        n_format += try_load(blob, cut, lab, v, N) == QUIRE_FORMAT;
    T_EQ_INT(n_format, len - 1); /* cut 0 means no blob */

    unsigned char *w = malloc(len);
    /* random flips, then the same with the checksum recomputed */
    int n_ok = 0;
    for (int t = 0; t < 3000; t++) {
        memcpy(w, blob, len);
        int flips = 1 + (int)(t_rand(&rng) * 3);
        for (int f = 0; f < flips; f++)
            w[(size_t)(t_rand(&rng) * (len - 8))] ^= (unsigned char)(1 + t_rand(&rng) * 255);
        if (t >= 1000)
            fix_checksum(w, len);
        int st = try_load(w, len, lab, v, N);
        if (t < 1000)
            T_EQ_INT(st, QUIRE_FORMAT);
        n_ok += st == QUIRE_OK;
    }
    printf("  flipped blobs with a fixed checksum that still loaded: %d of 2000\n", n_ok);

    /* targeted edits (checksum fixed): each must be FORMAT */
    struct {
        size_t off;
        uint32_t val;
    } edits[] = {
        {8, 2},               /* version */
        {16, 0},              /* m */
        {24, 0xFFFFFFFF},     /* n_nodes */
        {28, 1},              /* n_nodes high word */
        {32, N},              /* entry out of range */
        {36, 32},             /* max level */
        {40, 0},              /* body length */
        {48 + 8, 2},          /* node 0 flags */
        {48 + 9, 31},         /* node 0 level above max */
        {48 + 10, 1},         /* reserved */
        {48 + 12, 9},         /* node 0 layer-0 count > 2m */
        {48 + 16, N},         /* node 0 first link out of range */
        {48 + 16, 0},         /* node 0 links to itself */
    };
    for (size_t e = 0; e < QR_ARRAY_LEN(edits); e++) {
        memcpy(w, blob, len);
        if (edits[e].off == 48 + 8 || edits[e].off == 48 + 9 || edits[e].off == 48 + 10)
            w[edits[e].off] = (unsigned char)edits[e].val;
        else
            put32(w + edits[e].off, edits[e].val);
        fix_checksum(w, len);
        T_CHECKF(try_load(w, len, lab, v, N) == QUIRE_FORMAT, "edit %zu loaded", e);
    }
    /* a duplicate live label: node 1 gets node 0's label */
    memcpy(w, blob, len);
    size_t off1 = 48 + 12 + 4 + 4 * (size_t)w[48 + 12]; /* node 0 has level 0? */
    if (w[48 + 9] == 0) {
        memcpy(w + off1, w + 48, 8);
        fix_checksum(w, len);
        T_CHECK(try_load(w, len, lab, v, N) == QUIRE_FORMAT);
    }
    /* garbage of every small size */
    for (size_t n = 1; n < 80; n++) {
        for (size_t i = 0; i < n; i++)
            w[i] = (unsigned char)(t_rand(&rng) * 256);
        T_EQ_INT(try_load(w, n, lab, v, N), QUIRE_FORMAT);
    }
    free(w);
    qr_buf_free(&b);
    free(v);
    free(lab);
}

/* ------------------------------------------------------------------ threads */

static void test_threads(void)
{
    int64_t *lab = labels_from(N_BASE, 1000);
    qr_hnsw *h = build(base, lab, N_BASE, 2);
    if (h) {
        T_EQ_INT(qr_hnsw_size(h), N_BASE);
        double r = recall(h, 0, NULL, NULL);
        printf("  recall@%d after a 2-thread build = %.4f\n", K, r);
        T_CHECKF(r >= 0.95, "recall %.4f", r);
        /* a repeated label anywhere in a batch refuses the whole batch */
        int64_t two[2] = {1, 1};
        T_EQ_INT(qr_hnsw_add_batch(h, two, base, 2, 2, NULL), QUIRE_INVALID_ARG);
        T_EQ_INT(qr_hnsw_add_batch(h, lab, base, 1, 2, NULL), QUIRE_INVALID_ARG);
        T_EQ_INT(qr_hnsw_size(h), N_BASE);
        T_CHECK(!qr_hnsw_contains(h, 1));
    }
    qr_hnsw_free(h);
    free(lab);
}

/* ------------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    qr_hnsw *h = NULL;
    T_EQ_INT(qr_hnsw_new(0, NULL, &h, NULL), QUIRE_INVALID_ARG);
    qr_hnsw_params p = {1, 0, 0, 0};
    T_EQ_INT(qr_hnsw_new(8, &p, &h, NULL), QUIRE_INVALID_ARG);
    T_CHECK(qr_hnsw_new(8, NULL, &h, NULL) == QUIRE_OK);
    float v[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    int64_t l[4];
    float s[4];
    int n = 9;
    /* empty index */
    T_CHECK(qr_hnsw_search(h, NULL, v, 4, 0, NULL, NULL, l, s, &n, NULL) == QUIRE_OK);
    T_EQ_INT(n, 0);
    T_CHECK(qr_hnsw_search_exact(h, v, 4, NULL, NULL, l, s, &n, NULL) == QUIRE_OK);
    T_EQ_INT(n, 0);
    v[2] = NAN;
    T_EQ_INT(qr_hnsw_add(h, 1, v, NULL), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_hnsw_search(h, NULL, v, 4, 0, NULL, NULL, l, s, &n, NULL), QUIRE_INVALID_ARG);
    v[2] = 0;
    T_CHECK(qr_hnsw_add(h, 1, v, NULL) == QUIRE_OK);
    float z[8] = {0};
    T_CHECK(qr_hnsw_add(h, 2, z, NULL) == QUIRE_OK); /* zero vector */
    T_CHECK(qr_hnsw_search(h, NULL, v, 4, 0, NULL, NULL, l, s, &n, NULL) == QUIRE_OK);
    T_EQ_INT(n, 2);
    T_CHECK(l[0] == 1 && s[0] == 1.0f);
    T_EQ_INT(qr_hnsw_search(h, NULL, v, 0, 0, NULL, NULL, l, s, &n, NULL), QUIRE_INVALID_ARG);
    qr_hnsw_free(h);
    qr_hnsw_free(NULL);
    qr_hnsw_scratch_free(NULL);
}

/* ------------------------------------------------------------------ allocation failures */

static void test_alloc_fail(void)
{
    enum { N = 200 };
    qr_hnsw_params p = {8, 32, 0, 0}; /* small: this rebuilds once per allocation */
    int64_t *lab = labels_from(N, 0);
    qr_buf blob;
    qr_buf_init(&blob, 0);
    qr_hnsw *hb = NULL;
    T_CHECK(qr_hnsw_new(DIMS, &p, &hb, NULL) == QUIRE_OK);
    T_CHECK(qr_hnsw_add_batch(hb, lab, base, N, 1, NULL) == QUIRE_OK);
    qr_hnsw_save(hb, &blob);
    qr_hnsw_free(hb);
    int done = 0, failures = 0;
    for (long at = 1; at < 5000 && !done; at++) {
        qr_hnsw *h = NULL, *h2 = NULL;
        qr_hnsw_scratch *s = NULL;
        qr_alloc_fail_at(at);
        quire_status st = qr_hnsw_new(DIMS, &p, &h, NULL);
        if (!st)
            st = qr_hnsw_add_batch(h, lab, base, N / 2, 2, NULL);
        for (int i = N / 2; i < N && !st; i += 10)
            st = qr_hnsw_add(h, lab[i], base + (size_t)i * DIMS, NULL);
        if (!st)
            st = qr_hnsw_scratch_new(h, &s, NULL);
        int64_t l[K];
        float sc[K];
        int n = 0;
        if (!st)
            st = qr_hnsw_search(h, s, queries, K, 0, NULL, NULL, l, sc, &n, NULL);
        if (!st)
            st = qr_hnsw_search(h, NULL, queries, K, 0, NULL, NULL, l, sc, &n, NULL);
        if (!st)
            st = qr_hnsw_search_exact(h, queries, K, NULL, NULL, l, sc, &n, NULL);
        if (!st) {
            qr_hnsw_remove(h, lab[0]);
            st = qr_hnsw_compact(h, NULL);
        }
        if (!st)
            st = qr_hnsw_load(DIMS, &p, blob.data, blob.len, lab + 10, base + 10 * DIMS, N - 10,
                              &h2, NULL, NULL);
        qr_alloc_fail_at(0);
        T_CHECKF(st == QUIRE_OK || st == QUIRE_NOMEM, "fail at %ld: status %d", at, st);
        if (st == QUIRE_OK) {
            done = 1;
            T_EQ_INT(qr_hnsw_size(h), N / 2 + N / 20 - 1);
            T_EQ_INT(qr_hnsw_size(h2), N - 10);
        } else {
            failures++;
        }
        if (h) { /* still consistent after a failed call */
            int ok = qr_hnsw_search(h, NULL, queries, K, 0, NULL, NULL, l, sc, &n, NULL) ==
                     QUIRE_OK;
            T_CHECK(ok);
        }
        qr_hnsw_scratch_free(s);
        qr_hnsw_free(h);
        qr_hnsw_free(h2);
    }
    T_CHECK(done);
    printf("  %d injected allocation failures, all reported as NOMEM\n", failures);
    qr_buf_free(&blob);
    free(lab);
}

int main(void)
{
    qr_lib_init(NULL);
    setup();
    T_RUN(test_kernels);
    T_RUN(test_exact_naive);
    T_RUN(test_recall);
    T_RUN(test_cross_isa);
    T_RUN(test_filter);
    T_RUN(test_remove_compact);
    T_RUN(test_save_load);
    T_RUN(test_load_repair);
    T_RUN(test_damaged);
    T_RUN(test_threads);
    T_RUN(test_bad_input);
    T_RUN(test_alloc_fail);
    qr_hnsw_free(idx);
    free(base);
    free(queries);
    free(base_labels);
    free(centres);
    return t_done();
}
