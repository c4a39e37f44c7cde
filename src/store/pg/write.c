/*
 * write.c — one document's rows into the PostgreSQL store: the single write path of
 * `quire worker` (inside its fenced job transaction) and of a direct
 * `quire ingest --db postgresql://...` (store.c), so that a document stored either way is
 * the same rows. The collection is created on first use (with the index of the model),
 * then locked (FOR SHARE; FOR UPDATE when its index has to be created), the old document
 * replaced, and its chunks and vectors (little-endian float32 bytea, the bytes of the
 * SQLite store's vectors) written with COPY.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed.h"
#include "store/pg/pg_int.h"
#include "store/store_int.h"

/* COPY text format: escape backslash, tab, newline, carriage return. */
void qr_pg_copy_text(qr_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\')
            qr_buf_append(b, "\\\\", 2);
        else if (ch == '\t')
            qr_buf_append(b, "\\t", 2);
        else if (ch == '\n')
            qr_buf_append(b, "\\n", 2);
        else if (ch == '\r')
            qr_buf_append(b, "\\r", 2);
        else
            qr_buf_putc(b, ch);
    }
}

quire_status qr_pg_copy_in(PGconn *c, const char *sql, const qr_buf *b, quire_error *err,
                           const char *what)
{
    if (b->failed)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", what);
    PGresult *r = PQexec(c, sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        quire_status rc = qr_pg_fail(c, r, err, what);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    int ok = PQputCopyData(c, b->data ? b->data : "", (int)b->len) == 1;
    ok = PQputCopyEnd(c, ok ? NULL : "client error") == 1 && ok;
    quire_status rc = QUIRE_OK;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == QUIRE_OK)
            rc = qr_pg_fail(c, r, err, what);
        PQclear(r);
    }
    if (rc == QUIRE_OK && !ok)
        rc = qr_pg_fail(c, NULL, err, what);
    return rc;
}

void qr_pg_vec_hex(qr_buf *b, const float *v, int dims)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = (const unsigned char *)v;
    size_t nb = (size_t)dims * sizeof(float);
    qr_buf_append(b, "\\\\x", 3);
    for (size_t q = 0; q < nb; q++) {
        qr_buf_putc(b, hex[bytes[q] >> 4]);
        qr_buf_putc(b, hex[bytes[q] & 15]);
    }
}

quire_status qr_pg_check_model(const char *coll, const qr_coll *k, const quire_model *m,
                               int worker, quire_error *err)
{
    if (k->index_id && m && strcmp(k->fingerprint, quire_model_fingerprint(m)) != 0)
        return qr_err(err, QUIRE_MISMATCH,
                      "collection '%s' holds vectors from model '%s' (fingerprint %.12s), not "
                      "from '%s' (%.12s): %s",
                      coll, k->model, k->fingerprint, quire_model_name(m),
                      quire_model_fingerprint(m),
                      worker ? "run the workers with that model"
                             : "use the same model, or switch with quire reindex");
    if (k->index_id && !m)
        return qr_err(err, QUIRE_MISMATCH, "collection '%s' holds vectors from model '%s': %s",
                      coll, k->model,
                      worker ? "run the workers with --model" : "ingest with --model (that model)");
    return QUIRE_OK;
}

/* Create the index of model m for collection k (k->index_id set). */
static quire_status new_index(PGconn *c, qr_coll *k, const quire_model *m, quire_error *err)
{
    quire_status rc;
    char dims[16], hm[16], efc[16], efs[16], cid[24];
    snprintf(dims, sizeof dims, "%d", quire_model_dims(m));
    snprintf(hm, sizeof hm, "%d", k->hnsw_m);
    snprintf(efc, sizeof efc, "%d", k->ef_construction);
    snprintf(efs, sizeof efs, "%d", k->ef_search);
    snprintf(cid, sizeof cid, "%lld", k->id);
    const char *dir = qr_model_dir(m);
    char absdir[PATH_MAX];
    if (dir[0] != '/' && realpath(dir, absdir))
        dir = absdir;
    const char *v[11] = {cid,  quire_model_name(m), dir, quire_model_fingerprint(m),
                         quire_model_describe(m), dims, hm, efc, efs, k->doc_prefix,
                         k->query_prefix};
    PGresult *r = qr_pg_query(c,
                              "WITH i AS (INSERT INTO indexes(collection_id, state, model,"
                              " model_dir, fingerprint, describe, dims, hnsw_m, ef_construction,"
                              " ef_search, doc_prefix, query_prefix)"
                              " VALUES ($1::bigint, 'active', $2, $3, $4, $5, $6::int, $7::int,"
                              " $8::int, $9::int, $10, $11) RETURNING id)"
                              " UPDATE collections SET active_index = (SELECT id FROM i)"
                              " WHERE id = $1::bigint RETURNING active_index",
                              11, v, err, "creating the index", &rc);
    if (!r)
        return rc;
    k->index_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return QUIRE_OK;
}

/* The collection: created on first use, locked, its index made when d->exclusive. */
static quire_status lock_collection(PGconn *c, const qr_pg_doc *d, qr_coll *k, quire_error *err)
{
    quire_status rc;
    memset(k, 0, sizeof *k);
    qr_ingest_coll_params(d->create, k);
    char ct[16], ov[16];
    snprintf(ct, sizeof ct, "%d", k->chunk_tokens);
    snprintf(ov, sizeof ov, "%d", k->overlap);
    const char *v[3] = {d->collection, ct, ov};
    PGresult *r = qr_pg_query(c,
                              "INSERT INTO collections(name, chunk_tokens, overlap)"
                              " VALUES ($1, $2::int, $3::int) ON CONFLICT (name) DO NOTHING",
                              3, v, err, "creating the collection", &rc);
    if (!r)
        return rc;
    PQclear(r);
    r = qr_pg_query(c,
                    d->exclusive ? "SELECT c.id, coalesce(c.active_index, 0),"
                                   " coalesce(i.fingerprint, ''), coalesce(i.model, ''),"
                                   " EXISTS (SELECT 1 FROM documents d"
                                   "  WHERE d.collection_id = c.id)"
                                   " FROM collections c LEFT JOIN indexes i"
                                   " ON i.id = c.active_index WHERE c.name = $1"
                                   " FOR UPDATE OF c"
                                 : "SELECT c.id, coalesce(c.active_index, 0),"
                                   " coalesce(i.fingerprint, ''), coalesce(i.model, ''),"
                                   " true FROM collections c LEFT JOIN indexes i"
                                   " ON i.id = c.active_index WHERE c.name = $1"
                                   " FOR SHARE OF c",
                    1, v, err, "locking the collection", &rc);
    if (!r)
        return rc;
    k->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    k->index_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    snprintf(k->fingerprint, sizeof k->fingerprint, "%s", PQgetvalue(r, 0, 2));
    snprintf(k->model, sizeof k->model, "%s", PQgetvalue(r, 0, 3));
    int has_docs = PQgetvalue(r, 0, 4)[0] == 't';
    PQclear(r);
    const quire_model *m = d->model;
    if ((rc = qr_pg_check_model(d->collection, k, m, d->job_id != NULL, err)) != QUIRE_OK)
        return rc;
    if (m && !k->index_id) {
        if (!d->exclusive)
            return qr_err(err, QUIRE_BUSY, "collection '%s' has no index yet", d->collection);
        if (has_docs)
            return qr_err(err, QUIRE_MISMATCH,
                          "collection '%s' is text-only (ingested without a model): %s",
                          d->collection,
                          d->job_id ? "run the workers without --model"
                                    : "add vectors with quire reindex --model, or ingest "
                                      "without --model");
        return new_index(c, k, m, err);
    }
    return QUIRE_OK;
}

/* COPY the chunks (ids drawn from the sequence first, so the vectors can name them) and,
 * with an index, their vectors. */
static quire_status write_chunks(PGconn *c, const qr_coll *k, const char *did,
                                 const qr_prepared *pp, quire_error *err)
{
    size_t n = pp->chunks.n;
    if (!n)
        return QUIRE_OK;
    quire_status rc;
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", n);
    const char *vv[1] = {cnt};
    PGresult *r = qr_pg_query(c,
                              "SELECT nextval(pg_get_serial_sequence('chunks', 'id'))"
                              " FROM generate_series(1, $1::int)",
                              1, vv, err, "numbering the chunks", &rc);
    if (!r)
        return rc;
    qr_buf b;
    qr_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        const qr_chunk *ch = &pp->chunks.items[i];
        qr_buf_printf(&b, "%s\t%s\t%zu\t%d\t%d\t", PQgetvalue(r, (int)i, 0), did, i,
                      ch->page_start, ch->page_end);
        const char *h = ch->heading ? ch->heading : "";
        qr_pg_copy_text(&b, h, strlen(h));
        qr_buf_putc(&b, '\t');
        qr_pg_copy_text(&b, ch->text, ch->len);
        qr_buf_printf(&b, "\t%d\n", ch->n_tokens);
    }
    rc = qr_pg_copy_in(c,
                       "COPY chunks(id, document_id, seq, page_start, page_end, heading,"
                       " text, n_tokens) FROM STDIN",
                       &b, err, "adding chunks");
    if (rc == QUIRE_OK && k->index_id && pp->vecs) {
        qr_buf_free(&b);
        qr_buf_init(&b, 0);
        for (size_t i = 0; i < n; i++) {
            qr_buf_printf(&b, "%lld\t%s\t", k->index_id, PQgetvalue(r, (int)i, 0));
            qr_pg_vec_hex(&b, pp->vecs + i * (size_t)pp->dims, pp->dims);
            qr_buf_putc(&b, '\n');
        }
        rc = qr_pg_copy_in(c, "COPY vectors(index_id, chunk_id, vec) FROM STDIN", &b, err,
                           "adding vectors");
    }
    PQclear(r);
    qr_buf_free(&b);
    return rc;
}

quire_status qr_pg_write_doc(PGconn *c, const qr_pg_doc *d, const char **outcome,
                             quire_error *err)
{
    const qr_prepared *pp = d->pp;
    quire_status rc;
    PGresult *r = NULL;
    char *meta = NULL;
    qr_coll k;
    *outcome = d->meta_only ? "unchanged" : "added";
    if ((rc = lock_collection(c, d, &k, err)) != QUIRE_OK)
        return rc;
    char cid[24];
    snprintf(cid, sizeof cid, "%lld", k.id);
    const char *v[2] = {cid, d->path};
    r = qr_pg_query(c,
                    "SELECT id, sha256, meta FROM documents"
                    " WHERE collection_id = $1::bigint AND path = $2 FOR UPDATE",
                    2, v, err, "reading the document", &rc);
    if (!r)
        return rc;
    int old = PQntuples(r) > 0;
    const char *old_meta = old && !PQgetisnull(r, 0, 2) ? PQgetvalue(r, 0, 2) : NULL;
    int oom = 0;
    if (!old && d->meta_only)
        goto out; /* removed meanwhile: nothing to update */
    if (old && (d->meta_only || (!d->force && strcmp(PQgetvalue(r, 0, 1), pp->sha) == 0))) {
        *outcome = "unchanged";
        if (d->user_meta) { /* same content, new metadata: the metadata alone */
            meta = qr_ingest_merge_meta(d->user_meta, 1, old_meta, &oom);
            const char *vm[2] = {PQgetvalue(r, 0, 0), meta};
            PGresult *u = oom ? NULL
                              : qr_pg_query(c,
                                            "UPDATE documents SET meta = $2 WHERE id = $1::bigint"
                                            " AND meta IS DISTINCT FROM $2",
                                            2, vm, err, "updating metadata", &rc);
            if (oom)
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            PQclear(u);
        }
        goto out;
    }
    *outcome = old ? "updated" : "added";
    /* the caller's metadata, or the stored document's own keys; pdf.* keys from this
       conversion where the caller sets none */
    meta = qr_ingest_merge_meta(d->user_meta ? d->user_meta : old_meta, d->user_meta != NULL,
                                pp->pdf_meta, &oom);
    if (oom) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    if (old) {
        const char *vd[1] = {PQgetvalue(r, 0, 0)};
        PGresult *del = qr_pg_query(c, "DELETE FROM documents WHERE id = $1::bigint", 1, vd, err,
                                    "replacing the document", &rc);
        if (!del)
            goto out;
        PQclear(del);
    }
    PQclear(r);
    char size[24], pages[16], fpages[16];
    snprintf(size, sizeof size, "%lld", pp->size);
    snprintf(pages, sizeof pages, "%d", pp->pages);
    snprintf(fpages, sizeof fpages, "%d", pp->failed_pages);
    const char *vi[11] = {cid,  d->path,   pp->sha,      size,     pages,     fpages,
                          pp->report ? pp->report : "{}", meta, d->job_id, d->worker_id,
                          d->attempt};
    r = qr_pg_query(c,
                    "INSERT INTO documents(collection_id, path, sha256, size, pages,"
                    " failed_pages, report, meta, job_id, worker_id, attempt)"
                    " VALUES ($1::bigint, $2, $3, $4::bigint, $5::int, $6::int, $7, $8,"
                    " $9::bigint, $10::bigint, $11::int) RETURNING id",
                    11, vi, err, "adding the document", &rc);
    if (!r)
        goto out;
    char did[24];
    snprintf(did, sizeof did, "%s", PQgetvalue(r, 0, 0));
    rc = write_chunks(c, &k, did, pp, err);
out:
    PQclear(r);
    qr_free(meta);
    return rc;
}
