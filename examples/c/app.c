/* app.c — the C API in one page: embed two texts, ingest a file into a store, search it.
 * Build against an installed quire (make install):
 *     cc app.c $(pkg-config --cflags --libs quire)          (shared library)
 *     cc app.c $(pkg-config --cflags --libs quire-static)   (static library)
 * Run: ./a.out MODEL_DIR STORE.db FILE.md "query" */
#include <stdio.h>
#include <stdlib.h>

#include <quire.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL_DIR STORE.db FILE.md QUERY\n", argv[0]);
        return 2;
    }
    quire_error err = {0};
    quire_model *model = NULL;
    quire_embedder *emb = NULL;
    quire_store *st = NULL;
    quire_hits *hits = NULL;
    float *vecs = NULL;
    int rc = 1;
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_model_open(argv[1], NULL, &model, &err) != QUIRE_OK) /* names file and tensor */
        goto done;
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = 2;
    if (quire_embedder_new(model, &ep, &emb, &err) != QUIRE_OK)
        goto done;
    const char *texts[] = {"first text", "second text"};
    int dims = quire_model_dims(model);
    vecs = malloc(2 * (size_t)dims * sizeof(float));
    if (vecs == NULL || quire_embed(emb, texts, NULL, 2, vecs, NULL, &err) != QUIRE_OK)
        goto done;
    printf("dims %d, first values %.6f %.6f\n", dims, vecs[0], vecs[dims]);

    /* a store: ingest a file, then search it (emb may be NULL for a text-only collection) */
    if (quire_store_open(argv[2], 0, &st, &err) != QUIRE_OK)
        goto done;
    quire_ingest_params ip = quire_ingest_default_params();
    ip.collection = "papers";
    ip.embedder = emb; /* ip.converter = a quire_converter for PDFs/images */
    if (quire_ingest_file(st, argv[3], &ip, NULL, &err) != QUIRE_OK)
        goto done;
    quire_search_params sp = quire_search_default_params();
    sp.collection = "papers";
    sp.k = 5;
    sp.embedder = emb;
    if (quire_search(st, argv[4], &sp, &hits, &err) != QUIRE_OK)
        goto done;
    for (int i = 0; i < hits->n; i++)
        printf("%s p.%d %s\n", hits->hits[i].document, hits->hits[i].page_start,
               hits->hits[i].snippet);
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "error: %s\n", err.msg);
    quire_hits_free(hits);
    quire_store_close(st);
    free(vecs);
    quire_embedder_free(emb);
    quire_model_close(model);
    return rc;
}
