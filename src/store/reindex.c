/*
 * reindex.c — re-embed every chunk of a collection with another model into a new index
 * ("building"), then swap it in with one transaction. Readers keep using the old index
 * until the swap commits. An interrupted reindex leaves a "building" index that the next
 * reindex with the same model resumes (chunks already embedded are kept); one with a
 * different model discards it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

#define BATCH 256

/* The building index of a collection for this fingerprint, or 0 (lock held). Building
 * indexes for other fingerprints are deleted. */
static quire_status find_building(quire_store *st, const qr_coll *c, const char *fp,
                                  long long *out, quire_error *err)
{
    *out = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, fingerprint FROM indexes WHERE collection_id = ?"
                           " AND state = 'building' ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading indexes");
    sqlite3_bind_int64(s, 1, c->id);
    long long stale[64];
    int n_stale = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(s, 0);
        const char *f = (const char *)sqlite3_column_text(s, 1);
        if (!*out && f && strcmp(f, fp) == 0)
            *out = id;
        else if (n_stale < 64)
            stale[n_stale++] = id;
    }
    sqlite3_finalize(s);
    for (int i = 0; i < n_stale; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DELETE FROM indexes WHERE id = %lld", stale[i]);
        quire_status rc = qr_store_exec(st, sql, err);
        if (rc != QUIRE_OK)
            return rc;
        qr_store_index_unload(st, stale[i]);
    }
    return QUIRE_OK;
}

/* Next batch of chunks of the collection without a vector in index `ix` (lock held). */
static quire_status next_batch(quire_store *st, long long coll_id, long long ix, int64_t after,
                               const char *prefix, int64_t *ids, char **texts, int *n,
                               quire_error *err)
{
    *n = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT ch.id, ch.heading, ch.text FROM chunks ch JOIN documents d"
            " ON d.id = ch.document_id WHERE d.collection_id = ?1 AND ch.id > ?3 AND NOT EXISTS"
            " (SELECT 1 FROM vectors v WHERE v.chunk_id = ch.id AND v.index_id = ?2)"
            " ORDER BY ch.id LIMIT ?4",
            -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading chunks");
    sqlite3_bind_int64(s, 1, coll_id);
    sqlite3_bind_int64(s, 2, ix);
    sqlite3_bind_int64(s, 3, after);
    sqlite3_bind_int(s, 4, BATCH);
    quire_status rc = QUIRE_OK;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *tx = (const char *)sqlite3_column_text(s, 2);
        texts[*n] = qr_store_embed_text(prefix, (const char *)sqlite3_column_text(s, 1), tx,
                                        tx ? strlen(tx) : 0);
        if (!texts[*n]) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            break;
        }
        ids[*n] = sqlite3_column_int64(s, 0);
        (*n)++;
    }
    if (rc == QUIRE_OK && r != SQLITE_DONE)
        rc = qr_store_sqlerr(st, err, "reading chunks");
    sqlite3_finalize(s);
    return rc;
}

static quire_status insert_vectors(quire_store *st, long long ix, const int64_t *ids,
                                   const float *vecs, int n, int dims, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO vectors(index_id, chunk_id, vec) VALUES (?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "adding vectors");
    for (int i = 0; i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, ix);
        sqlite3_bind_int64(s, 2, ids[i]);
        sqlite3_bind_blob(s, 3, vecs + (size_t)i * (size_t)dims, (int)((size_t)dims * sizeof(float)),
                          SQLITE_STATIC);
        int r = sqlite3_step(s);
        /* a chunk deleted meanwhile fails its foreign key: skip it */
        if (r != SQLITE_DONE && sqlite3_errcode(st->db) != SQLITE_CONSTRAINT) {
            sqlite3_finalize(s);
            return qr_store_sqlerr(st, err, "adding vectors");
        }
    }
    sqlite3_finalize(s);
    return QUIRE_OK;
}

static long long count1(quire_store *st, const char *sql, long long a, long long b)
{
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, a);
        sqlite3_bind_int64(s, 2, b);
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

static const char MISSING_SQL[] =
    "SELECT count(*) FROM chunks ch JOIN documents d ON d.id = ch.document_id"
    " WHERE d.collection_id = ?1 AND NOT EXISTS"
    " (SELECT 1 FROM vectors v WHERE v.chunk_id = ch.id AND v.index_id = ?2)";

/* Embed one batch of missing chunks into index ix; *n = how many (0: none left). Called
 * with the lock held; releases it while embedding unless `keep_lock`. */
static quire_status embed_batch(quire_store *st, const qr_coll *c, long long ix,
                                quire_embedder *emb, int dims, const char *prefix, int64_t *after,
                                int keep_lock, int *n, quire_error *err)
{
    int64_t ids[BATCH];
    char *texts[BATCH];
    float *vecs = NULL;
    quire_status rc = next_batch(st, c->id, ix, *after, prefix, ids, texts, n, err);
    if (rc != QUIRE_OK || *n == 0)
        goto out;
    vecs = qr_malloc((size_t)*n * (size_t)dims * sizeof(float));
    if (!vecs) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    if (!keep_lock)
        pthread_mutex_unlock(&st->lock);
    rc = quire_embed(emb, (const char *const *)texts, NULL, (size_t)*n, vecs, NULL, err);
    if (!keep_lock)
        pthread_mutex_lock(&st->lock);
    if (rc != QUIRE_OK)
        goto out;
    for (int i = 0; i < *n; i++)
        qr_store_l2_normalize(vecs + (size_t)i * (size_t)dims, dims);
    if (!keep_lock && (rc = qr_store_exec(st, "BEGIN IMMEDIATE", err)) != QUIRE_OK)
        goto out;
    rc = insert_vectors(st, ix, ids, vecs, *n, dims, err);
    if (!keep_lock) {
        if (rc == QUIRE_OK)
            rc = qr_store_exec(st, "COMMIT", err);
        if (rc != QUIRE_OK)
            qr_store_exec(st, "ROLLBACK", NULL);
    }
    *after = ids[*n - 1];
out:
    for (int i = 0; i < *n; i++)
        qr_free(texts[i]);
    qr_free(vecs);
    return rc;
}

/* The collection settings a reindex builds with: the old ones, overridden by PARAMS where
 * set, defaults where neither says (shared by the SQLite and PostgreSQL backends). */
void qr_reindex_settings(const qr_coll *old, const quire_collection_params *params, qr_coll *nc)
{
    *nc = *old;
    if (params) {
        if (params->hnsw_m > 0)
            nc->hnsw_m = params->hnsw_m;
        if (params->ef_construction > 0)
            nc->ef_construction = params->ef_construction;
        if (params->ef_search > 0)
            nc->ef_search = params->ef_search;
        if (params->doc_prefix)
            snprintf(nc->doc_prefix, sizeof nc->doc_prefix, "%s", params->doc_prefix);
        if (params->query_prefix)
            snprintf(nc->query_prefix, sizeof nc->query_prefix, "%s", params->query_prefix);
    }
    if (!nc->hnsw_m)
        nc->hnsw_m = 16;
    if (!nc->ef_construction)
        nc->ef_construction = 200;
    if (!nc->ef_search)
        nc->ef_search = 64;
}

quire_status quire_reindex(quire_store *st, const char *collection, quire_embedder *emb,
                           const quire_collection_params *params,
                           void (*progress)(void *user_data, long done, long total),
                           void *user_data, quire_error *err)
{
    if (!st || !emb)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_reindex: NULL argument");
    if (st->readonly)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: store opened read-only", st->path);
    if (!collection)
        collection = "default";
    if (st->be)
        return st->be->reindex(st, collection, emb, params, progress, user_data, err);
    const quire_model *m = quire_embedder_model(emb);
    const char *fp = quire_model_fingerprint(m);
    int dims = quire_model_dims(m);
    qr_coll c, nc;
    long long ix = 0, old_ix = 0;
    pthread_mutex_lock(&st->lock);
    quire_status rc = qr_store_coll_get(st, collection, &c, err);
    if (rc != QUIRE_OK)
        goto out;
    old_ix = c.index_id;
    qr_reindex_settings(&c, params, &nc);
    if ((rc = qr_store_exec(st, "BEGIN IMMEDIATE", err)) != QUIRE_OK)
        goto out;
    rc = find_building(st, &c, fp, &ix, err);
    if (rc == QUIRE_OK && !ix)
        rc = qr_store_new_index(st, &nc, m, "building", err);
    if (rc == QUIRE_OK && !ix)
        ix = nc.index_id;
    if (rc == QUIRE_OK)
        rc = qr_store_exec(st, "COMMIT", err);
    if (rc != QUIRE_OK) {
        qr_store_exec(st, "ROLLBACK", NULL);
        goto out;
    }
    long total = (long)count1(st,
                              "SELECT count(*) FROM chunks ch JOIN documents d ON"
                              " d.id = ch.document_id WHERE d.collection_id = ?1 AND ?2 = ?2",
                              c.id, 0);
    long done = total - (long)count1(st, MISSING_SQL, c.id, ix);
    if (progress)
        progress(user_data, done, total);
    /* Phase 1: embed in batches, one transaction per batch, lock released meanwhile. */
    int64_t after = 0;
    for (;;) {
        int n = 0;
        rc = embed_batch(st, &c, ix, emb, dims, nc.doc_prefix, &after, 0, &n, err);
        if (rc != QUIRE_OK)
            goto out;
        if (n == 0)
            break;
        done += n;
        if (progress)
            progress(user_data, QR_MIN(done, total), total);
    }
    /* Phase 2: the swap. Under the write lock, embed what was added meanwhile, then make
     * the new index active and drop the old one, in one transaction. */
    if ((rc = qr_store_exec(st, "BEGIN IMMEDIATE", err)) != QUIRE_OK)
        goto out;
    after = 0;
    for (;;) {
        int n = 0;
        rc = embed_batch(st, &c, ix, emb, dims, nc.doc_prefix, &after, 1, &n, err);
        if (rc != QUIRE_OK || n == 0)
            break;
    }
    char sql[256];
    if (rc == QUIRE_OK) {
        snprintf(sql, sizeof sql,
                 "UPDATE indexes SET state = 'active' WHERE id = %lld;"
                 "UPDATE collections SET active_index = %lld WHERE id = %lld;",
                 ix, ix, c.id);
        rc = qr_store_exec(st, sql, err);
    }
    if (rc == QUIRE_OK && old_ix) {
        snprintf(sql, sizeof sql, "DELETE FROM indexes WHERE id = %lld;", old_ix);
        rc = qr_store_exec(st, sql, err);
    }
    if (rc == QUIRE_OK)
        rc = qr_store_exec(st, "COMMIT", err);
    if (rc != QUIRE_OK) {
        qr_store_exec(st, "ROLLBACK", NULL);
        goto out;
    }
    if (old_ix)
        qr_store_index_unload(st, old_ix);
    /* Build and save the new graph now, so the first search does not pay for it. */
    qr_loaded_index *li = NULL;
    if (qr_store_index_load(st, ix, &li, err) == QUIRE_OK)
        rc = qr_store_index_save(st, li, err);
    if (progress)
        progress(user_data, total, total);
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}
