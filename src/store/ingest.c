/*
 * ingest.c — one file into a collection: hash, convert (or read Markdown/text), chunk,
 * embed, then one transaction that replaces the document's rows; and document removal.
 *
 * Only the transaction runs under the store lock; conversion, chunking and embedding of
 * several files proceed in parallel when callers ingest from several threads.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "embed/embed.h"
#include "store/store_int.h"
#include "text/text.h"

quire_collection_params quire_collection_default_params(void)
{
    quire_collection_params p;
    memset(&p, 0, sizeof p);
    return p;
}

quire_ingest_params quire_ingest_default_params(void)
{
    quire_ingest_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void qr_ingest_coll_params(const quire_collection_params *in, qr_coll *c)
{
    quire_collection_params d = quire_collection_default_params();
    if (!in)
        in = &d;
    c->chunk_tokens = in->chunk_tokens > 0 ? in->chunk_tokens : 256;
    c->overlap = in->overlap == 0 ? 32 : in->overlap < 0 ? 0 : in->overlap;
    if (c->overlap >= c->chunk_tokens / 2)
        c->overlap = c->chunk_tokens / 2 - 1 > 0 ? c->chunk_tokens / 2 - 1 : 0;
    c->hnsw_m = in->hnsw_m > 0 ? in->hnsw_m : 16;
    c->ef_construction = in->ef_construction > 0 ? in->ef_construction : 200;
    c->ef_search = in->ef_search > 0 ? in->ef_search : 64;
    snprintf(c->doc_prefix, sizeof c->doc_prefix, "%s", in->doc_prefix ? in->doc_prefix : "");
    snprintf(c->query_prefix, sizeof c->query_prefix, "%s",
             in->query_prefix ? in->query_prefix : "");
}

/* sha256 of a file's bytes, streamed. */
quire_status qr_ingest_hash(const char *path, char hex[65], long long *size, quire_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qr_err(err, errno == ENOENT ? QUIRE_NOT_FOUND : QUIRE_IO, "%s: %s", path,
                      strerror(errno));
    qr_sha256 s;
    qr_sha256_init(&s);
    unsigned char buf[65536];
    size_t n;
    long long total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        qr_sha256_update(&s, buf, n);
        total += (long long)n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return qr_err(err, QUIRE_IO, "%s: read error", path);
    unsigned char d[32];
    qr_sha256_final(&s, d);
    qr_hex(d, 32, hex);
    *size = total;
    return QUIRE_OK;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int count_model_tokens(const char *text, size_t len, void *ud)
{
    int n = qr_model_count_tokens((const quire_model *)ud, text, len);
    return n < 0 ? (int)(len / 4 + 1) : n;
}

typedef qr_prepared prepared;

void qr_prepared_free(qr_prepared *p)
{
    qr_free(p->pdf_meta);
    qr_free(p->report);
    qr_chunk_list_free(&p->chunks);
    qr_free(p->vecs);
}

static char *make_report(const quire_convert_result *r, const char *kind)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "kind", json_string(kind));
    if (r) {
        int text = 0, ocr = 0;
        json_t *failed = json_array();
        for (int i = 0; i < r->n_reports; i++) {
            const quire_page_report *pr = &r->reports[i];
            if (pr->method == QUIRE_METHOD_TEXT)
                text++;
            else if (pr->method == QUIRE_METHOD_OCR)
                ocr++;
            else if (failed)
                json_array_append_new(failed, json_pack("{s:i,s:s}", "page", pr->page, "error",
                                                        pr->error));
        }
        json_object_set_new(o, "pages", json_integer(r->n_pages));
        json_object_set_new(o, "text_pages", json_integer(text));
        json_object_set_new(o, "ocr_pages", json_integer(ocr));
        if (failed)
            json_object_set_new(o, "failed", failed);
        json_object_set_new(o, "ms", json_real(r->ms));
        if (r->warning[0])
            json_object_set_new(o, "warning", json_string(r->warning));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return NULL;
    char *out = qr_strdup(s);
    free(s); /* lint-allow: free (json_dumps) */
    return out;
}

/* Embed chunk texts (doc prefix + heading path + text). */
static quire_status embed_chunks(quire_embedder *emb, const qr_chunk_list *cl,
                                 const char *prefix, float *vecs, long *tokens, quire_error *err)
{
    size_t n = cl->n;
    char **texts = qr_calloc(n ? n : 1, sizeof(char *));
    size_t *lens = qr_calloc(n ? n : 1, sizeof(size_t));
    int32_t *ntok = qr_calloc(n ? n : 1, sizeof(int32_t));
    quire_status rc = QUIRE_OK;
    if (!texts || !lens || !ntok) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const qr_chunk *c = &cl->items[i];
        texts[i] = qr_store_embed_text(prefix, c->heading, c->text, c->len);
        if (!texts[i]) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto out;
        }
        lens[i] = strlen(texts[i]);
    }
    rc = quire_embed(emb, (const char *const *)texts, lens, n, vecs, ntok, err);
    if (rc == QUIRE_OK) {
        int d = quire_model_dims(quire_embedder_model(emb));
        for (size_t i = 0; i < n; i++) {
            qr_store_l2_normalize(vecs + i * (size_t)d, d);
            *tokens += ntok[i];
        }
    }
out:
    if (texts)
        for (size_t i = 0; i < n; i++)
            qr_free(texts[i]);
    qr_free(texts);
    qr_free(lens);
    qr_free(ntok);
    return rc;
}

/* Create the collection (and its vector index when a model is given); lock held, inside
 * a transaction. */
static quire_status create_collection(quire_store *st, const char *name,
                                      const quire_collection_params *cp, const quire_model *m,
                                      qr_coll *c, quire_error *err)
{
    char now[32];
    qr_store_now_iso(now);
    memset(c, 0, sizeof(*c));
    qr_ingest_coll_params(cp, c);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO collections(name, created_at, chunk_tokens, overlap)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "creating a collection");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, c->chunk_tokens);
    sqlite3_bind_int(s, 4, c->overlap);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return qr_store_sqlerr(st, err, "creating a collection");
    c->id = sqlite3_last_insert_rowid(st->db);
    if (!m)
        return QUIRE_OK;
    quire_status rc = qr_store_new_index(st, c, m, "active", err);
    if (rc != QUIRE_OK)
        return rc;
    if (sqlite3_prepare_v2(st->db, "UPDATE collections SET active_index = ? WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "creating a collection");
    sqlite3_bind_int64(s, 1, c->index_id);
    sqlite3_bind_int64(s, 2, c->id);
    r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return qr_store_sqlerr(st, err, "creating a collection");
    return QUIRE_OK;
}

quire_status qr_store_new_index(quire_store *st, qr_coll *c, const quire_model *m,
                                const char *state, quire_error *err)
{
    char now[32];
    qr_store_now_iso(now);
    const char *dir = m ? qr_model_dir(m) : "";
    char absdir[4096];
    if (dir[0] != '/' && realpath(dir, absdir))
        dir = absdir;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO indexes(collection_id, state, model, model_dir, fingerprint,"
                           " describe, dims, doc_prefix, query_prefix, hnsw_m, ef_construction,"
                           " ef_search, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "creating an index");
    snprintf(c->model, sizeof c->model, "%s", quire_model_name(m));
    size_t dl = strnlen(dir, sizeof c->model_dir - 1);
    memcpy(c->model_dir, dir, dl);
    c->model_dir[dl] = 0;
    snprintf(c->fingerprint, sizeof c->fingerprint, "%s", quire_model_fingerprint(m));
    c->dims = quire_model_dims(m);
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->model_dir, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, c->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, quire_model_describe(m), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 7, c->dims);
    sqlite3_bind_text(s, 8, c->doc_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, c->query_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 10, c->hnsw_m);
    sqlite3_bind_int(s, 11, c->ef_construction);
    sqlite3_bind_int(s, 12, c->ef_search);
    sqlite3_bind_text(s, 13, now, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return qr_store_sqlerr(st, err, "creating an index");
    c->index_id = sqlite3_last_insert_rowid(st->db);
    return QUIRE_OK;
}

/* Chunk ids of a document (for tombstoning its vectors after the commit). */
static quire_status doc_chunk_ids(quire_store *st, long long doc_id, int64_t **ids, size_t *n,
                                  quire_error *err)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM chunks WHERE document_id = ?", -1, &s, NULL) !=
        SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading chunks");
    sqlite3_bind_int64(s, 1, doc_id);
    size_t cap = 0;
    int r;
    quire_status rc = QUIRE_OK;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *t = qr_realloc(*ids, nc * sizeof(*t));
            if (!t) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                break;
            }
            *ids = t;
            cap = nc;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (rc == QUIRE_OK && r != SQLITE_DONE)
        rc = qr_store_sqlerr(st, err, "reading chunks");
    sqlite3_finalize(s);
    if (rc != QUIRE_OK) {
        qr_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

/* The key a file is recorded under (documents.path): an explicit store_path as given;
 * else the file's canonical path (realpath: one document whatever the spelling), relative
 * to the canonical root when one is given (the store survives moving the tree). */
quire_status qr_ingest_doc_key(const char *path, const quire_ingest_params *p, char *out,
                               size_t cap, quire_error *err)
{
    if (p->store_path) {
        if (!p->store_path[0])
            return qr_err(err, QUIRE_INVALID_ARG, "%s: empty document id", path);
        if (strlen(p->store_path) >= cap)
            return qr_err(err, QUIRE_INVALID_ARG, "%s: document id longer than %zu bytes", path,
                          cap - 1);
        memcpy(out, p->store_path, strlen(p->store_path) + 1);
        return QUIRE_OK;
    }
    char real[PATH_MAX], root[PATH_MAX];
    if (!realpath(path, real))
        return qr_err(err, errno == ENOENT ? QUIRE_NOT_FOUND : QUIRE_IO, "%s: %s", path,
                      strerror(errno));
    const char *key = real;
    if (p->root) {
        if (!realpath(p->root, root))
            return qr_err(err, QUIRE_INVALID_ARG, "root %s: %s", p->root, strerror(errno));
        size_t n = strlen(root);
        if (n == 1 && root[0] == '/')
            key = real + 1;
        else if (strncmp(real, root, n) == 0 && real[n] == '/')
            key = real + n + 1;
        else
            return qr_err(err, QUIRE_INVALID_ARG, "%s: outside the root %s (%s)", path, p->root,
                          root);
    }
    if (strlen(key) >= cap)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", path);
    memcpy(out, key, strlen(key) + 1);
    return QUIRE_OK;
}

static long long find_doc(quire_store *st, long long coll_id, const char *path, char sha[65])
{
    sqlite3_stmt *s = NULL;
    long long id = 0;
    if (sha)
        sha[0] = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, sha256 FROM documents WHERE collection_id = ? AND path = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, coll_id);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        const char *h = (const char *)sqlite3_column_text(s, 1);
        if (sha) /* NULL only in a damaged file: then it never matches, so it is re-ingested */
            snprintf(sha, 65, "%s", h ? h : "");
    } else if (r != SQLITE_DONE) {
        id = -1;
    }
    sqlite3_finalize(s);
    return id;
}

/* The metadata as stored: a compact JSON object with sorted keys (*out NULL when in is). */
static quire_status norm_meta(const char *in, const char *path, char **out, quire_error *err)
{
    *out = NULL;
    if (!in)
        return QUIRE_OK;
    json_error_t je;
    json_t *j = json_loads(in, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return qr_err(err, QUIRE_INVALID_ARG, "%s: metadata must be a JSON object%s%s", path,
                      j ? "" : ": ", j ? "" : je.text);
    }
    *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return *out ? QUIRE_OK : qr_err(err, QUIRE_NOMEM, "out of memory");
}

/* The stored metadata of document id (malloc'd; NULL when none or on error). */
static char *doc_meta(quire_store *st, long long id)
{
    sqlite3_stmt *s = NULL;
    char *m = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT meta FROM documents WHERE id = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            m = qr_strdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return m;
}

/* The metadata to store: base (the caller's metadata when base_is_user, else what the
 * document had, whose stale "pdf." keys are dropped) plus every "pdf." key of pdf that base
 * does not set (the caller's own value wins). qr_malloc'd JSON; NULL when both are empty
 * or out of memory (*oom set). */
char *qr_ingest_merge_meta(const char *base, int base_is_user, const char *pdf, int *oom)
{
    *oom = 0;
    json_t *b = base ? json_loads(base, 0, NULL) : NULL;
    json_t *p = pdf ? json_loads(pdf, 0, NULL) : NULL;
    if (!json_is_object(b)) {
        json_decref(b);
        b = json_object();
    }
    if (!b) {
        json_decref(p);
        *oom = 1;
        return NULL;
    }
    const char *k;
    json_t *v;
    void *tmp;
    if (!base_is_user)
        json_object_foreach_safe(b, tmp, k, v) if (strncmp(k, "pdf.", 4) == 0)
            json_object_del(b, k);
    if (json_is_object(p))
        json_object_foreach(p, k, v) if (strncmp(k, "pdf.", 4) == 0 && !json_object_get(b, k))
            json_object_set(b, k, v);
    char *out = NULL;
    if (json_object_size(b) > 0 || (base && base_is_user)) {
        char *d = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        out = d ? qr_strdup(d) : NULL;
        free(d); /* lint-allow: free (json_dumps) */
        *oom = !out;
    }
    json_decref(b);
    json_decref(p);
    return out;
}

/* Replaces the metadata of the document keyed path (the caller's keys, plus the pdf.*
 * keys it had from its last conversion). */
static quire_status set_meta(quire_store *st, long long coll_id, const char *path,
                             const char *user_meta, quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    sqlite3_stmt *s = NULL;
    quire_status rc = QUIRE_OK;
    char *old = NULL, *meta = NULL;
    int oom = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT meta FROM documents WHERE collection_id = ? AND path = ?",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, coll_id);
        sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            old = qr_strdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    s = NULL;
    meta = qr_ingest_merge_meta(user_meta, 1, old, &oom);
    qr_free(old);
    if (oom) {
        pthread_mutex_unlock(&st->lock);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE documents SET meta = ? WHERE collection_id = ? AND path = ?"
                           " AND meta IS NOT ?",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "updating metadata");
    } else {
        sqlite3_bind_text(s, 1, meta, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, coll_id);
        sqlite3_bind_text(s, 3, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, meta, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = qr_store_sqlerr(st, err, "updating metadata");
    }
    sqlite3_finalize(s);
    qr_free(meta);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* Renames document id to key; returns id, or -1 on an SQLite error. */
static long long rekey_doc(quire_store *st, long long id, const char *key)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "UPDATE documents SET path = ? WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, id);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    return r == SQLITE_DONE ? id : -1;
}

/* Apply removals/additions to the in-memory index after a commit (lock held). A failure
 * here only costs graph work: the graph is repaired from the vectors table on load. */
static void index_apply(quire_store *st, long long index_id, const int64_t *removed, size_t n_rm,
                        const int64_t *added, const float *vecs, size_t n_add)
{
    qr_loaded_index *li = NULL;
    quire_error e;
    if (!index_id || qr_store_index_load(st, index_id, &li, &e) != QUIRE_OK) {
        if (index_id)
            qr_log(QUIRE_LOG_WARN, "%s", e.msg);
        return;
    }
    for (size_t i = 0; i < n_rm; i++)
        li->changes += qr_hnsw_remove(li->hnsw, removed[i]);
    for (size_t i = 0; i < n_add; i++) {
        if (qr_hnsw_contains(li->hnsw, added[i]))
            continue; /* the load already picked it up from the vectors table */
        if (qr_hnsw_add(li->hnsw, added[i], vecs + i * (size_t)li->dims, &e) != QUIRE_OK) {
            qr_log(QUIRE_LOG_WARN, "%s (index %lld will be repaired on next load)", e.msg,
                   index_id);
            qr_store_index_unload(st, index_id);
            return;
        }
        li->changes++;
    }
    if (qr_hnsw_tombstones(li->hnsw) > 1024 &&
        qr_hnsw_tombstones(li->hnsw) * 5 > qr_hnsw_size(li->hnsw)) {
        if (qr_hnsw_compact(li->hnsw, &e) != QUIRE_OK) {
            qr_store_index_unload(st, index_id);
            return;
        }
        li->changes++;
    }
    /* save the graph now and then so that a crash costs little graph work */
    if (li->changes > 0 && qr_now() - li->saved_at > 60.0 &&
        qr_store_index_save(st, li, &e) != QUIRE_OK)
        qr_log(QUIRE_LOG_WARN, "%s", e.msg);
}

static quire_status write_document(quire_store *st, const char *coll_name,
                                   const quire_ingest_params *p, const char *path,
                                   const prepared *pp, const char *meta,
                                   quire_ingest_result *res, quire_error *err)
{
    char *kept_meta = NULL;
    const quire_model *m = p->embedder ? quire_embedder_model(p->embedder) : NULL;
    qr_coll c;
    char now[32];
    qr_store_now_iso(now);
    int64_t *old_ids = NULL, *new_ids = NULL;
    size_t n_old = 0;
    sqlite3_stmt *s = NULL;
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        return rc;
    rc = qr_store_coll_get(st, coll_name, &c, err);
    if (rc == QUIRE_NOT_FOUND)
        rc = create_collection(st, coll_name, p->create, m, &c, err);
    if (rc != QUIRE_OK)
        goto fail;
    /* checked again under the write lock: a reindex may have swapped models meanwhile */
    if (c.index_id && (!m || strcmp(c.fingerprint, quire_model_fingerprint(m)) != 0)) {
        rc = m ? qr_store_mismatch(err, coll_name, &c, m)
               : qr_err(err, QUIRE_MISMATCH,
                        "collection '%s' holds vectors from model '%s': ingest with --model "
                        "(the same model) or switch with quire reindex",
                        coll_name, c.model);
        goto fail;
    }
    if (!c.index_id && m) {
        rc = qr_err(err, QUIRE_MISMATCH,
                    "collection '%s' is text-only (ingested without a model): add vectors "
                    "with quire reindex --model, or ingest without --model",
                    coll_name);
        goto fail;
    }
    long long old = find_doc(st, c.id, path, NULL);
    if (old < 0) {
        rc = qr_store_sqlerr(st, err, "reading documents");
        goto fail;
    }
    char *old_meta = NULL;
    int user_meta = meta != NULL, oom = 0;
    if (old > 0 && !meta)
        meta = old_meta = doc_meta(st, old);
    kept_meta = qr_ingest_merge_meta(meta, user_meta, pp->pdf_meta, &oom);
    qr_free(old_meta);
    meta = kept_meta;
    if (oom) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    if (old > 0) {
        if ((rc = doc_chunk_ids(st, old, &old_ids, &n_old, err)) != QUIRE_OK)
            goto fail;
        if (sqlite3_prepare_v2(st->db, "DELETE FROM documents WHERE id = ?", -1, &s, NULL) !=
            SQLITE_OK) {
            rc = qr_store_sqlerr(st, err, "replacing a document");
            goto fail;
        }
        sqlite3_bind_int64(s, 1, old);
        if (sqlite3_step(s) != SQLITE_DONE) {
            rc = qr_store_sqlerr(st, err, "replacing a document");
            goto fail;
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO documents(collection_id, path, sha256, size, pages,"
                           " failed_pages, converted_at, report, meta)"
                           " VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "adding a document");
        goto fail;
    }
    sqlite3_bind_int64(s, 1, c.id);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, pp->sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, pp->size);
    sqlite3_bind_int(s, 5, pp->pages);
    sqlite3_bind_int(s, 6, pp->failed_pages);
    sqlite3_bind_text(s, 7, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, pp->report ? pp->report : "{}", -1, SQLITE_STATIC);
    if (meta)
        sqlite3_bind_text(s, 9, meta, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 9);
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "adding a document");
        goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    long long doc_id = sqlite3_last_insert_rowid(st->db);
    size_t n = pp->chunks.n;
    new_ids = qr_calloc(n ? n : 1, sizeof(*new_ids));
    if (!new_ids) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO chunks(document_id, seq, page_start, page_end, heading,"
                           " text, n_tokens) VALUES (?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "adding chunks");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const qr_chunk *ch = &pp->chunks.items[i];
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, doc_id);
        sqlite3_bind_int64(s, 2, (long long)i);
        sqlite3_bind_int(s, 3, ch->page_start);
        sqlite3_bind_int(s, 4, ch->page_end);
        sqlite3_bind_text(s, 5, ch->heading ? ch->heading : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, ch->text, (int)ch->len, SQLITE_STATIC);
        sqlite3_bind_int(s, 7, ch->n_tokens);
        if (sqlite3_step(s) != SQLITE_DONE) {
            rc = qr_store_sqlerr(st, err, "adding chunks");
            goto fail;
        }
        new_ids[i] = sqlite3_last_insert_rowid(st->db);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (c.index_id && n) {
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO vectors(index_id, chunk_id, vec) VALUES (?,?,?)", -1,
                               &s, NULL) != SQLITE_OK) {
            rc = qr_store_sqlerr(st, err, "adding vectors");
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            sqlite3_reset(s);
            sqlite3_bind_int64(s, 1, c.index_id);
            sqlite3_bind_int64(s, 2, new_ids[i]);
            sqlite3_bind_blob(s, 3, pp->vecs + i * (size_t)pp->dims,
                              (int)((size_t)pp->dims * sizeof(float)), SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE) {
                rc = qr_store_sqlerr(st, err, "adding vectors");
                goto fail;
            }
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK)
        goto fail;
    res->outcome = old > 0 ? QUIRE_INGEST_UPDATED : QUIRE_INGEST_ADDED;
    if (c.index_id)
        index_apply(st, c.index_id, old_ids, n_old, new_ids, pp->vecs, n);
    qr_free(old_ids);
    qr_free(new_ids);
    qr_free(kept_meta);
    return QUIRE_OK;
fail:
    sqlite3_finalize(s);
    qr_store_exec(st, "ROLLBACK", NULL);
    qr_free(old_ids);
    qr_free(new_ids);
    qr_free(kept_meta);
    return rc;
}

/* Convert (PDF/image) or read (Markdown/text) path, chunk it with c's settings and embed
 * the chunks with p->embedder (when given): everything of one document that needs no
 * store, for quire_ingest_file and the PostgreSQL workers alike. pp->sha/size are the
 * caller's; on error pp may hold partial results (qr_prepared_free frees them). */
quire_status qr_ingest_prepare(const char *path, const quire_ingest_params *p, const qr_coll *c,
                               qr_prepared *pp, quire_ingest_result *res, quire_error *err)
{
    const quire_model *m = p->embedder ? quire_embedder_model(p->embedder) : NULL;
    quire_status rc = QUIRE_OK;
    /* Convert. */
    char *md = NULL;
    size_t md_len = 0;
    double tc = qr_now();
    quire_convert_result *cr = NULL;
    if (has_ext(path, ".md") || has_ext(path, ".markdown") || has_ext(path, ".txt")) {
        rc = qr_file_read(path, (size_t)1 << 30, &md, &md_len, err);
        if (rc != QUIRE_OK)
            return rc;
        pp->pages = 1;
        pp->report = make_report(NULL, has_ext(path, ".txt") ? "text" : "markdown");
    } else {
        if (!p->converter)
            return qr_err(err, QUIRE_UNSUPPORTED,
                          "%s: not a Markdown or text file, and no converter was given", path);
        quire_convert_params cp = p->convert ? *p->convert : quire_convert_default_params();
        cp.format = QUIRE_FORMAT_MD;
        cp.page_markers = 1;
        rc = quire_convert_file(p->converter, path, &cp, &cr, err);
        if (!cr)
            return rc != QUIRE_OK ? rc : qr_err(err, QUIRE_ERROR, "%s: conversion failed", path);
        if (cr->n_failed > 0 && cr->n_failed >= cr->n_reports) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: no page could be converted (%s)", path,
                        cr->n_reports > 0 ? cr->reports[0].error : "no pages");
            quire_convert_result_free(cr);
            return rc;
        }
        pp->pages = cr->n_pages;
        pp->failed_pages = cr->n_failed;
        pp->report = make_report(cr, "converted");
        if (cr->metadata && !(pp->pdf_meta = qr_strdup(cr->metadata))) {
            quire_convert_result_free(cr);
            return qr_err(err, QUIRE_NOMEM, "out of memory");
        }
    }
    res->convert_ms = (qr_now() - tc) * 1e3;
    const char *text = md ? md : cr->output;
    size_t text_len = md ? md_len : cr->output_len;

    /* Chunk and embed. */
    qr_chunk_opts co;
    memset(&co, 0, sizeof co);
    co.chunk_tokens = c->chunk_tokens;
    co.overlap = c->overlap > 0 ? c->overlap : -1;
    if (m) {
        co.count_tokens = count_model_tokens;
        co.user_data = (void *)m;
    }
    rc = qr_chunk_markdown(text, text_len, &co, &pp->chunks, err);
    quire_convert_result_free(cr);
    qr_free(md);
    if (rc != QUIRE_OK)
        return rc;
    if (!pp->report)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    double te = qr_now();
    if (m && pp->chunks.n) {
        pp->dims = quire_model_dims(m);
        pp->vecs = qr_malloc(pp->chunks.n * (size_t)pp->dims * sizeof(float));
        if (!pp->vecs)
            return qr_err(err, QUIRE_NOMEM, "%s: out of memory for %zu vectors", path,
                          pp->chunks.n);
        rc = embed_chunks(p->embedder, &pp->chunks, c->doc_prefix, pp->vecs, &res->tokens, err);
        if (rc != QUIRE_OK)
            return rc;
    }
    res->embed_ms = (qr_now() - te) * 1e3;
    return QUIRE_OK;
}

/* The collection's settings and the stored sha256 of document key (SQLite; takes the
 * lock). QUIRE_NOT_FOUND: no such collection. */
static quire_status lookup(quire_store *st, const char *coll_name, const char *path,
                           const char *key, const quire_ingest_params *p, qr_coll *c,
                           char old_sha[65], quire_error *err)
{
    pthread_mutex_lock(&st->lock);
    quire_status rc = qr_store_coll_get(st, coll_name, c, err);
    if (rc == QUIRE_OK) {
        long long old = find_doc(st, c->id, key, old_sha);
        /* a store written before canonical keys has the path as it was typed: adopt that
           document under its canonical key, so it is not ingested a second time */
        if (old == 0 && !p->store_path && strcmp(path, key) != 0 &&
            (old = find_doc(st, c->id, path, old_sha)) > 0)
            old = rekey_doc(st, old, key);
        if (old < 0)
            rc = qr_store_sqlerr(st, err, "reading documents");
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* An I/O failure of the store itself (not of the input file) is QUIRE_IO_STORE, so that a
 * caller with many documents can stop instead of failing each the same way. */
static quire_status store_failed(quire_status rc, quire_error *err)
{
    if (rc == QUIRE_IO) {
        rc = QUIRE_IO_STORE;
        if (err)
            err->code = (int)rc;
    }
    return rc;
}

quire_status quire_ingest_file(quire_store *st, const char *path, const quire_ingest_params *p,
                               quire_ingest_result *res, quire_error *err)
{
    quire_ingest_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    if (!st || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_ingest_file: NULL argument");
    if (st->readonly)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: store opened read-only", st->path);
    quire_ingest_params defp = quire_ingest_default_params();
    if (!p)
        p = &defp;
    const char *coll_name = p->collection ? p->collection : "default";
    char rec_path[PATH_MAX];
    const quire_model *m = p->embedder ? quire_embedder_model(p->embedder) : NULL;
    double t0 = qr_now();
    prepared pp;
    memset(&pp, 0, sizeof pp);
    quire_status rc = qr_ingest_hash(path, pp.sha, &pp.size, err);
    if (rc != QUIRE_OK)
        return rc;
    if ((rc = qr_ingest_doc_key(path, p, rec_path, sizeof rec_path, err)) != QUIRE_OK)
        return rc;

    /* What the collection expects (or the settings it will be created with). */
    qr_coll c;
    char old_sha[65] = "";
    rc = st->be ? st->be->ingest_lookup(st, coll_name, rec_path, &c, old_sha, err)
                : lookup(st, coll_name, path, rec_path, p, &c, old_sha, err);
    if (rc == QUIRE_NOT_FOUND) {
        memset(&c, 0, sizeof c);
        qr_ingest_coll_params(p->create, &c);
        rc = QUIRE_OK;
    }
    if (rc != QUIRE_OK)
        return store_failed(rc, err);
    if (c.index_id && m && strcmp(c.fingerprint, quire_model_fingerprint(m)) != 0)
        return qr_store_mismatch(err, coll_name, &c, m);
    if (c.id && c.index_id && !m)
        return qr_err(err, QUIRE_MISMATCH,
                      "collection '%s' holds vectors from model '%s' (%s): ingest with "
                      "--model pointing at it",
                      coll_name, c.model, c.model_dir);
    if (c.id && !c.index_id && m)
        return qr_err(err, QUIRE_MISMATCH,
                      "collection '%s' is text-only (ingested without a model): add vectors "
                      "with quire reindex --model, or ingest without --model",
                      coll_name);
    char *meta = NULL; /* normalised p->metadata; freed at out */
    if ((rc = norm_meta(p->metadata, path, &meta, err)) != QUIRE_OK)
        return rc;
    if (!p->force && old_sha[0] && strcmp(old_sha, pp.sha) == 0) {
        res->outcome = QUIRE_INGEST_UNCHANGED;
        if (meta && st->be) /* same content: the backend writes the metadata alone */
            rc = st->be->ingest_write(st, coll_name, p, rec_path, &pp, meta, res, err);
        else if (meta) /* same content, new metadata: an upsert of the metadata alone */
            rc = set_meta(st, c.id, rec_path, meta, err);
        qr_free(meta);
        res->ms = (qr_now() - t0) * 1e3;
        return store_failed(rc, err);
    }

    rc = qr_ingest_prepare(path, p, &c, &pp, res, err);
    if (rc != QUIRE_OK)
        goto out;

    /* One transaction. */
    double ts = qr_now();
    if (st->be) {
        rc = st->be->ingest_write(st, coll_name, p, rec_path, &pp, meta, res, err);
    } else {
        pthread_mutex_lock(&st->lock);
        rc = write_document(st, coll_name, p, rec_path, &pp, meta, res, err);
        pthread_mutex_unlock(&st->lock);
    }
    rc = store_failed(rc, err);
    res->store_ms = (qr_now() - ts) * 1e3;
    res->pages = pp.pages;
    res->failed_pages = pp.failed_pages;
    res->chunks = (int)pp.chunks.n;
out:
    qr_prepared_free(&pp);
    qr_free(meta);
    res->ms = (qr_now() - t0) * 1e3;
    return rc;
}

quire_status quire_store_remove(quire_store *st, const char *collection, const char *path,
                                quire_error *err)
{
    if (!st || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_remove: NULL argument");
    if (!collection)
        collection = "default";
    if (st->be)
        return st->be->remove(st, collection, path, err);
    pthread_mutex_lock(&st->lock);
    qr_coll c;
    int64_t *ids = NULL;
    size_t n = 0;
    sqlite3_stmt *s = NULL;
    quire_status rc = qr_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != QUIRE_OK)
        goto out;
    if ((rc = qr_store_coll_get(st, collection, &c, err)) != QUIRE_OK)
        goto fail;
    long long id = find_doc(st, c.id, path, NULL);
    char real[PATH_MAX];
    if (id == 0 && realpath(path, real)) /* another spelling of a file that still exists */
        id = find_doc(st, c.id, real, NULL);
    if (id <= 0) {
        rc = id < 0 ? qr_store_sqlerr(st, err, "reading documents")
                    : qr_err(err, QUIRE_NOT_FOUND, "%s: no document '%s' in collection '%s'",
                             st->path, path, collection);
        goto fail;
    }
    if ((rc = doc_chunk_ids(st, id, &ids, &n, err)) != QUIRE_OK)
        goto fail;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM documents WHERE id = ?", -1, &s, NULL) !=
        SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "removing a document");
        goto fail;
    }
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "removing a document");
        goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK)
        goto fail;
    if (c.index_id)
        index_apply(st, c.index_id, ids, n, NULL, NULL, 0);
    goto out;
fail:
    sqlite3_finalize(s);
    qr_store_exec(st, "ROLLBACK", NULL);
out:
    qr_free(ids);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

quire_status quire_store_remove_where(quire_store *st, const char *collection,
                                      const char *where, int *removed, quire_error *err)
{
    if (removed)
        *removed = 0;
    if (!st || !where)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_remove_where: NULL argument");
    if (!collection)
        collection = "default";
    if (!st->be && st->schema < 2)
        return qr_err(err, QUIRE_UNSUPPORTED, "%s: store schema version %d has no metadata",
                      st->path, st->schema);
    qr_where w;
    quire_status rc = qr_where_compile(where, &w, err);
    if (rc != QUIRE_OK)
        return rc;
    if (st->be) {
        rc = st->be->remove_where ? st->be->remove_where(st, collection, &w, removed, err)
                                  : qr_store_unsupported(st, "removing documents by a "
                                                             "metadata filter", err);
        qr_where_free(&w);
        return rc;
    }
    char **keys = NULL;
    int n = 0, cap = 0;
    pthread_mutex_lock(&st->lock);
    qr_coll c;
    sqlite3_stmt *s = NULL;
    qr_buf sql;
    qr_buf_init(&sql, 0);
    qr_buf_printf(&sql, "SELECT d.path FROM documents d WHERE d.collection_id = ?1 AND %s",
                  w.sql ? w.sql : "1");
    qr_buf_putc(&sql, 0);
    if ((rc = qr_store_coll_get(st, collection, &c, err)) == QUIRE_OK) {
        if (sql.failed || sqlite3_prepare_v2(st->db, sql.data, -1, &s, NULL) != SQLITE_OK) {
            rc = sql.failed ? qr_err(err, QUIRE_NOMEM, "out of memory")
                            : qr_store_sqlerr(st, err, "filtering documents");
        } else {
            sqlite3_bind_int64(s, 1, c.id);
            qr_where_bind(&w, s, 2);
            while (rc == QUIRE_OK && sqlite3_step(s) == SQLITE_ROW) {
                if (n == cap) {
                    int nc = cap ? cap * 2 : 16;
                    char **t = qr_realloc(keys, (size_t)nc * sizeof(*t));
                    if (!t) {
                        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                        break;
                    }
                    keys = t;
                    cap = nc;
                }
                const char *k = (const char *)sqlite3_column_text(s, 0);
                if (!(keys[n] = qr_strdup(k ? k : "")))
                    rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                else
                    n++;
            }
        }
    }
    sqlite3_finalize(s);
    qr_buf_free(&sql);
    pthread_mutex_unlock(&st->lock);
    for (int i = 0; i < n && rc == QUIRE_OK; i++) {
        rc = quire_store_remove(st, collection, keys[i], err);
        if (rc == QUIRE_OK && removed)
            (*removed)++;
    }
    for (int i = 0; i < n; i++)
        qr_free(keys[i]);
    qr_free(keys);
    qr_where_free(&w);
    return rc;
}

void qr_store_index_apply(quire_store *st, long long index_id, const int64_t *removed,
                          size_t n_rm, const int64_t *added, const float *vecs, size_t n_add)
{
    index_apply(st, index_id, removed, n_rm, added, vecs, n_add);
}
