/*
 * fuzz_store.c — the store reader on damaged files (src/store/) and the HNSW graph
 * loader (qr_hnsw_load, src/store/hnsw_io.c) on damaged blobs.
 *
 * Input starting with the graph magic "QRHNSWG1": a saved graph, loaded with 6 fixed
 * vectors (dims 4, m 4) twice, as given and with its trailing FNV-1a checksum
 * recomputed (so mutations get past the checksum into the structural checks); a graph
 * that loads is searched (HNSW and exact) and must save and load again.
 *
 * Any other input: a store file (seed: tests/data/store-v1.db), opened read-only, then
 * every collection is listed with its documents and searched in text mode and, with
 * the tiny-bert embedder the fixture was made with, in hybrid and exact vector mode.
 */
#include "fuzz_common.h"

#include "store/hnsw.h"

#define DIMS 4
#define NVEC 6
static const int64_t labels[NVEC] = {1, 2, 3, 4, 5, 7};
static const float vecs[NVEC * DIMS] = {
    1, 0, 0, 0,  0, 1, 0, 0,  0, 0, 1, 0,  0, 0, 0, 1,  0.5f, 0.5f, 0.5f, 0.5f,
    -0.5f, 0.5f, -0.5f, 0.5f,
};

static quire_embedder *emb;
static char dir[PATH_MAX];

static void init(void)
{
    fz_quiet();
    fz_path(dir, sizeof dir, "s");
    if (mkdir(dir, 0700) != 0)
        abort();
    char path[PATH_MAX];
    fz_repo_path(path, sizeof path, "examples/tiny-bert");
    quire_error e = {0, ""};
    quire_model *m = NULL; /* kept for the life of the process */
    if (quire_model_open(path, NULL, &m, &e) != QUIRE_OK ||
        quire_embedder_new(m, NULL, &emb, &e) != QUIRE_OK) {
        fprintf(stderr, "fuzz_store: %s\n", e.msg);
        abort();
    }
}

/* ---- HNSW blobs ---- */

static void load_graph(const uint8_t *blob, size_t len)
{
    qr_hnsw_params p = {4, 16, 16, 1};
    qr_hnsw *h = NULL;
    size_t rep = 0;
    quire_error e = {0, ""};
    if (qr_hnsw_load(DIMS, &p, blob, len, labels, vecs, NVEC, &h, &rep, &e) != QUIRE_OK)
        return;
    if (qr_hnsw_size(h) != NVEC)
        abort(); /* repaired against the vectors: every vector is live */
    int64_t out[NVEC];
    float sc[NVEC];
    int n = 0;
    qr_hnsw_search(h, NULL, vecs + 4 * DIMS, 3, 0, NULL, NULL, out, sc, &n, &e);
    qr_hnsw_search_exact(h, vecs, 3, NULL, NULL, out, sc, &n, &e);
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_hnsw_save(h, &b);
    qr_hnsw *h2 = NULL;
    if (b.failed || qr_hnsw_load(DIMS, &p, b.data, b.len, labels, vecs, NVEC, &h2, &rep, &e) !=
                        QUIRE_OK || rep != 0)
        abort(); /* what we save must load as it is */
    qr_hnsw_free(h2);
    qr_buf_free(&b);
    qr_hnsw_free(h);
}

static void fuzz_graph(const uint8_t *data, size_t size)
{
    load_graph(data, size);
    if (size < 56)
        return;
    uint8_t *copy = malloc(size);
    memcpy(copy, data, size);
    uint64_t x = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < size - 8; i++) {
        x ^= copy[i];
        x *= 0x100000001B3ull;
    }
    for (int i = 0; i < 8; i++)
        copy[size - 8 + i] = (uint8_t)(x >> (8 * i));
    load_graph(copy, size);
    free(copy);
}

/* ---- store files ---- */

static void search(quire_store *st, const char *coll, int mode, int exact)
{
    quire_search_params sp = quire_search_default_params();
    sp.collection = coll;
    sp.k = 3;
    sp.mode = mode;
    sp.exact = exact;
    sp.embedder = mode == QUIRE_SEARCH_TEXT ? NULL : emb;
    quire_hits *hits = NULL;
    quire_error e = {0, ""};
    if (quire_search(st, "lighthouse keeper logbook", &sp, &hits, &e) == QUIRE_OK) {
        for (int i = 0; i < hits->n; i++)
            if (!hits->hits[i].document || !hits->hits[i].text || !hits->hits[i].snippet ||
                !hits->hits[i].heading)
                abort();
    }
    quire_hits_free(hits);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    char db[PATH_MAX + 16], side[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/store.db", dir);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    fz_write(db, data, size);
    quire_store *st = NULL;
    quire_error e = {0, ""};
    if (quire_store_open(db, QUIRE_STORE_READONLY, &st, &e) != QUIRE_OK)
        return;
    quire_collection_info *ci = NULL;
    int n = 0;
    if (quire_store_collections(st, &ci, &n, &e) == QUIRE_OK) {
        for (int i = 0; i < n; i++) {
            quire_document_list *dl = NULL;
            if (quire_store_documents(st, ci[i].name, &dl, &e) == QUIRE_OK)
                for (int j = 0; j < dl->n; j++)
                    if (!dl->docs[j].path)
                        abort();
            quire_document_list_free(dl);
            search(st, ci[i].name, QUIRE_SEARCH_TEXT, 0);
            if (ci[i].dims) {
                search(st, ci[i].name, QUIRE_SEARCH_HYBRID, 0);
                search(st, ci[i].name, QUIRE_SEARCH_VECTOR, 1);
            }
        }
        quire_free(ci);
    }
    search(st, NULL, QUIRE_SEARCH_TEXT, 0);
    quire_store_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!emb)
        init();
    if (size >= 8 && memcmp(data, "QRHNSWG1", 8) == 0)
        fuzz_graph(data, size);
    else
        fuzz_file(data, size);
    return 0;
}
