/*
 * export.c — `quire export` / `quire import`: collections as a JSONL stream
 * (docs/export.md). One line per record:
 *   {"type":"header","format":"quire-export","version":1,"store_schema":2,"quire":"…",
 *    "exported_at":"…","collections":[{name, model, fingerprint, dims, options…, counts}]}
 *   {"type":"document","collection":C,"id":KEY,"sha256":…,"metadata":{…}|null,…}
 *   {"type":"chunk","collection":C,"document":KEY,"chunk_id":N,"seq":…,"text":…,
 *    "vector":"<base64 of the stored float32 LE bytes>"|null}        (after its document)
 *   {"type":"end","collections":N,"documents":N,"chunks":N,"vectors":N}
 * Export reads one snapshot (a read transaction); import writes everything in one
 * transaction, so a failed import leaves the store as it was.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define QR_EXPORT_VERSION 1

quire_import_params quire_import_default_params(void)
{
    quire_import_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- export --------------------------------------------------------------------- */

typedef qr_export_ctx exp_ctx;

/* Write o as one compact line and release it. */
quire_status qr_export_put(qr_export_ctx *x, json_t *o, const char *what)
{
    if (!o)
        return qr_err(x->err, QUIRE_NOMEM, "out of memory (%s)", what);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return qr_err(x->err, QUIRE_NOMEM, "out of memory (%s)", what);
    int bad = fputs(s, x->f) < 0 || fputc('\n', x->f) == EOF;
    free(s); /* lint-allow: free (json_dumps) */
    if (bad)
        return qr_err(x->err, QUIRE_IO, "writing %s: %s", x->path, strerror(errno));
    return QUIRE_OK;
}

/* A JSON column's text (report, meta): parsed; kept as a string when it does not parse. */
static json_t *json_text(const char *t)
{
    if (!t)
        return json_null();
    json_t *j = json_loads(t, 0, NULL);
    return j ? j : json_string(t);
}

json_t *qr_export_coll_entry(const char *name, const qr_coll *c, const char *created,
                             const char *describe, long long docs, long long chunks,
                             long long vecs)
{
    int v = c->index_id != 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "chunk_tokens", json_integer(c->chunk_tokens));
    json_object_set_new(o, "overlap", json_integer(c->overlap));
    json_object_set_new(o, "model", v ? json_string(c->model) : json_null());
    json_object_set_new(o, "model_dir", v ? json_string(c->model_dir) : json_null());
    json_object_set_new(o, "fingerprint", v ? json_string(c->fingerprint) : json_null());
    json_object_set_new(o, "describe", v ? json_string(describe) : json_null());
    json_object_set_new(o, "dims", json_integer(v ? c->dims : 0));
    json_object_set_new(o, "precision", v ? json_string(c->precision) : json_null());
    json_object_set_new(o, "vector_encoding", v ? json_string("float32-le-base64") : json_null());
    json_object_set_new(o, "doc_prefix", json_string(c->doc_prefix));
    json_object_set_new(o, "query_prefix", json_string(c->query_prefix));
    json_object_set_new(o, "hnsw_m", v ? json_integer(c->hnsw_m) : json_null());
    json_object_set_new(o, "ef_construction", v ? json_integer(c->ef_construction) : json_null());
    json_object_set_new(o, "ef_search", v ? json_integer(c->ef_search) : json_null());
    json_object_set_new(o, "documents", json_integer(docs));
    json_object_set_new(o, "chunks", json_integer(chunks));
    json_object_set_new(o, "vectors", json_integer(vecs));
    return o;
}

json_t *qr_export_doc_line(const char *coll, const char *key, const char *sha,
                           long long size, int pages, int failed, const char *converted,
                           const char *report, const char *meta)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("document"));
    json_object_set_new(o, "collection", json_string(coll));
    json_object_set_new(o, "id", json_string(key));
    json_object_set_new(o, "sha256", sha ? json_string(sha) : json_null());
    json_object_set_new(o, "size", json_integer(size));
    json_object_set_new(o, "pages", json_integer(pages));
    json_object_set_new(o, "failed_pages", json_integer(failed));
    json_object_set_new(o, "converted_at", converted ? json_string(converted) : json_null());
    json_object_set_new(o, "report", json_text(report));
    json_object_set_new(o, "metadata", json_text(meta));
    return o;
}

json_t *qr_export_chunk_line(const char *coll, const char *key, long long chunk_id, int seq,
                             int page_start, int page_end, const char *heading, const char *text,
                             int n_tokens, const void *vec, size_t vec_len, qr_buf *vb)
{
    json_t *ch = json_object();
    if (!ch)
        return NULL;
    json_object_set_new(ch, "type", json_string("chunk"));
    json_object_set_new(ch, "collection", json_string(coll));
    json_object_set_new(ch, "document", json_string(key));
    json_object_set_new(ch, "chunk_id", json_integer(chunk_id));
    json_object_set_new(ch, "seq", json_integer(seq));
    json_object_set_new(ch, "page_start", json_integer(page_start));
    json_object_set_new(ch, "page_end", json_integer(page_end));
    json_object_set_new(ch, "heading", heading ? json_string(heading) : json_null());
    json_object_set_new(ch, "text", json_string(text));
    json_object_set_new(ch, "n_tokens", json_integer(n_tokens));
    if (vec) {
        qr_buf_clear(vb);
        qr_base64_encode(vb, vec, vec_len);
        json_object_set_new(ch, "vector", vb->failed ? NULL : json_stringn(vb->data, vb->len));
    } else {
        json_object_set_new(ch, "vector", json_null());
    }
    return ch;
}

json_t *qr_export_header(int schema, json_t *list)
{
    char now[32];
    qr_store_now_iso(now);
    return json_pack("{s:s,s:s,s:i,s:i,s:s,s:s,s:O}", "type", "header", "format", "quire-export",
                     "version", QR_EXPORT_VERSION, "store_schema", schema, "quire",
                     quire_version_str(), "exported_at", now, "collections", list);
}

json_t *qr_export_end(const quire_export_result *res)
{
    return json_pack("{s:s,s:i,s:I,s:I,s:I}", "type", "end", "collections", res->collections,
                     "documents", (json_int_t)res->documents, "chunks",
                     (json_int_t)res->chunks, "vectors", (json_int_t)res->vectors);
}

/* The header entry of collection `name` (lock held, inside the read transaction). */
static quire_status coll_json(exp_ctx *x, const char *name, qr_coll *c, json_t **out)
{
    quire_store *st = x->st;
    quire_status rc = qr_store_coll_get(st, name, c, x->err);
    if (rc != QUIRE_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    char created[32] = "", describe[512] = "";
    long long docs = 0, chunks = 0, vecs = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT created_at,"
                           " (SELECT count(*) FROM documents WHERE collection_id = c.id),"
                           " (SELECT count(*) FROM chunks ch JOIN documents d ON d.id ="
                           "  ch.document_id WHERE d.collection_id = c.id),"
                           " (SELECT count(*) FROM vectors WHERE index_id = ?2),"
                           " (SELECT describe FROM indexes WHERE id = ?2)"
                           " FROM collections c WHERE c.id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, x->err, "reading a collection");
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_int64(s, 2, c->index_id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(created, sizeof created, "%s",
                 sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
        docs = sqlite3_column_int64(s, 1);
        chunks = sqlite3_column_int64(s, 2);
        vecs = sqlite3_column_int64(s, 3);
        snprintf(describe, sizeof describe, "%s",
                 sqlite3_column_text(s, 4) ? (const char *)sqlite3_column_text(s, 4) : "");
    } else {
        sqlite3_finalize(s);
        return qr_store_sqlerr(st, x->err, "reading a collection");
    }
    sqlite3_finalize(s);
    json_t *o = qr_export_coll_entry(name, c, created, describe, docs, chunks, vecs);
    if (!o)
        return qr_err(x->err, QUIRE_NOMEM, "out of memory");
    *out = o;
    return QUIRE_OK;
}

/* Every document and chunk line of one collection. */
static quire_status export_coll(exp_ctx *x, const char *name, const qr_coll *c,
                                quire_export_result *res)
{
    quire_store *st = x->st;
    sqlite3_stmt *ds = NULL, *cs = NULL;
    quire_status rc = QUIRE_OK;
    qr_buf vb;
    qr_buf_init(&vb, 0);
    if (sqlite3_prepare_v2(st->db,
                           st->schema >= 2
                               ? "SELECT id, path, sha256, size, pages, failed_pages,"
                                 " converted_at, report, meta FROM documents"
                                 " WHERE collection_id = ? ORDER BY id"
                               : "SELECT id, path, sha256, size, pages, failed_pages,"
                                 " converted_at, report, NULL FROM documents"
                                 " WHERE collection_id = ? ORDER BY id",
                           -1, &ds, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "SELECT ch.id, ch.seq, ch.page_start, ch.page_end, ch.heading,"
                           " ch.text, ch.n_tokens, v.vec FROM chunks ch LEFT JOIN vectors v"
                           " ON v.chunk_id = ch.id AND v.index_id = ?2"
                           " WHERE ch.document_id = ?1 ORDER BY ch.id",
                           -1, &cs, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, x->err, "exporting documents");
        goto out;
    }
    sqlite3_bind_int64(ds, 1, c->id);
    int r;
    while (rc == QUIRE_OK && (r = sqlite3_step(ds)) == SQLITE_ROW) {
        long long doc_id = sqlite3_column_int64(ds, 0);
        const char *key = (const char *)sqlite3_column_text(ds, 1);
        if (!key) {
            rc = qr_err(x->err, QUIRE_FORMAT, "%s: damaged store: document %lld has no key",
                        st->path, doc_id);
            break;
        }
        json_t *o = qr_export_doc_line(
            name, key, (const char *)sqlite3_column_text(ds, 2), sqlite3_column_int64(ds, 3),
            sqlite3_column_int(ds, 4), sqlite3_column_int(ds, 5),
            (const char *)sqlite3_column_text(ds, 6), (const char *)sqlite3_column_text(ds, 7),
            (const char *)sqlite3_column_text(ds, 8));
        if (o) {
            if (json_is_null(json_object_get(o, "id")) || !json_object_get(o, "id")) {
                json_decref(o);
                rc = qr_err(x->err, QUIRE_FORMAT, "%s: document %lld: key is not UTF-8",
                            st->path, doc_id);
                break;
            }
        }
        if ((rc = qr_export_put(x, o, "a document")) != QUIRE_OK)
            break;
        res->documents++;
        sqlite3_reset(cs);
        sqlite3_bind_int64(cs, 1, doc_id);
        sqlite3_bind_int64(cs, 2, c->index_id);
        int r2;
        while (rc == QUIRE_OK && (r2 = sqlite3_step(cs)) == SQLITE_ROW) {
            long long cid = sqlite3_column_int64(cs, 0);
            const void *vec = sqlite3_column_blob(cs, 7);
            size_t vl = (size_t)sqlite3_column_bytes(cs, 7);
            if (c->index_id && (!vec || vl != (size_t)c->dims * sizeof(float))) {
                rc = qr_err(x->err, QUIRE_FORMAT,
                            "%s: chunk %lld of '%s' has %s (collection '%s' has %d-dim "
                            "vectors): run quire reindex",
                            st->path, cid, key, vec ? "a vector of the wrong size" : "no vector",
                            name, c->dims);
                break;
            }
            const char *t = (const char *)sqlite3_column_text(cs, 5);
            json_t *probe = json_string(t ? t : ""); /* NULL: not UTF-8 */
            json_decref(probe);
            if (!probe) {
                rc = qr_err(x->err, QUIRE_FORMAT, "%s: chunk %lld of '%s': text is not UTF-8",
                            st->path, cid, key);
                break;
            }
            json_t *ch = qr_export_chunk_line(name, key, cid, sqlite3_column_int(cs, 1),
                                              sqlite3_column_int(cs, 2), sqlite3_column_int(cs, 3),
                                              (const char *)sqlite3_column_text(cs, 4), t ? t : "",
                                              sqlite3_column_int(cs, 6), vec, vl, &vb);
            if (vec)
                res->vectors++;
            if ((rc = qr_export_put(x, ch, "a chunk")) != QUIRE_OK)
                break;
            res->chunks++;
        }
        if (rc == QUIRE_OK && r2 != SQLITE_DONE)
            rc = qr_store_sqlerr(st, x->err, "exporting chunks");
    }
    if (rc == QUIRE_OK && r != SQLITE_DONE)
        rc = qr_store_sqlerr(st, x->err, "exporting documents");
out:
    sqlite3_finalize(ds);
    sqlite3_finalize(cs);
    qr_buf_free(&vb);
    return rc;
}

quire_status quire_store_export(quire_store *st, const char *collection, const char *path,
                                quire_export_result *res, quire_error *err)
{
    quire_export_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    if (!st || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_export: NULL argument");
    if (st->be && !st->be->export_)
        return qr_store_unsupported(st, "export (use quire migrate to copy it into SQLite)",
                                    err);
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb"); /* lint-allow: stdout (export to "-" asked for) */
    if (!f)
        return qr_err(err, QUIRE_IO, "%s: %s", path, strerror(errno));
    exp_ctx x = {st, f, to_stdout ? "stdout" : path, err};
    if (st->be) {
        quire_status brc = st->be->export_(st, collection, &x, res, err);
        if (fflush(f) != 0 && brc == QUIRE_OK)
            brc = qr_err(err, QUIRE_IO, "writing %s: %s", x.path, strerror(errno));
        if (!to_stdout && fclose(f) != 0 && brc == QUIRE_OK)
            brc = qr_err(err, QUIRE_IO, "writing %s: %s", path, strerror(errno));
        return brc;
    }
    char **names = NULL;
    qr_coll *colls = NULL;
    int nn = 0;
    json_t *list = json_array(), *hdr = NULL;
    sqlite3_stmt *s = NULL;
    pthread_mutex_lock(&st->lock);
    quire_status rc = qr_store_exec(st, "BEGIN", err);
    if (rc != QUIRE_OK)
        goto unlock;
    if (sqlite3_prepare_v2(st->db, "SELECT name FROM collections ORDER BY name", -1, &s,
                           NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "listing collections");
        goto done;
    }
    int r, cap = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        if (!n || (collection && strcmp(n, collection) != 0))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 8;
            char **t = qr_realloc(names, (size_t)cap * sizeof(*t));
            qr_coll *tc = t ? qr_realloc(colls, (size_t)cap * sizeof(*tc)) : NULL;
            if (t)
                names = t;
            if (!tc) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto done;
            }
            colls = tc;
        }
        if (!(names[nn] = qr_strdup(n))) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        nn++;
    }
    if (r != SQLITE_DONE) {
        rc = qr_store_sqlerr(st, err, "listing collections");
        goto done;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (collection && nn == 0) {
        rc = qr_err(err, QUIRE_NOT_FOUND, "%s: no collection named '%s'", st->path, collection);
        goto done;
    }
    if (!list) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nn; i++) {
        json_t *cj = NULL;
        if ((rc = coll_json(&x, names[i], &colls[i], &cj)) != QUIRE_OK)
            goto done;
        json_array_append_new(list, cj);
    }
    hdr = qr_export_header(st->schema, list);
    if ((rc = qr_export_put(&x, hdr, "the header")) != QUIRE_OK)
        goto done;
    for (int i = 0; i < nn && rc == QUIRE_OK; i++) {
        rc = export_coll(&x, names[i], &colls[i], res);
        res->collections++;
    }
    if (rc == QUIRE_OK)
        rc = qr_export_put(&x, qr_export_end(res), "the end line");
done:
    sqlite3_finalize(s);
    qr_store_exec(st, "COMMIT", NULL);
unlock:
    pthread_mutex_unlock(&st->lock);
    json_decref(list);
    for (int i = 0; i < nn; i++)
        qr_free(names[i]);
    qr_free(names);
    qr_free(colls);
    if (fflush(f) != 0 && rc == QUIRE_OK)
        rc = qr_err(err, QUIRE_IO, "writing %s: %s", x.path, strerror(errno));
    if (!to_stdout && fclose(f) != 0 && rc == QUIRE_OK)
        rc = qr_err(err, QUIRE_IO, "writing %s: %s", path, strerror(errno));
    return rc;
}

/* ---- import --------------------------------------------------------------------- */

typedef struct imp_coll {
    const char *src;       /* name in the stream (points into the header JSON) */
    char target[128];      /* name in the store */
    int selected;
    json_t *j;             /* its header entry */
    long long id, index_id;
    int dims;
    long long want_docs, want_chunks, want_vecs;
    long long docs, chunks, vecs; /* lines seen */
} imp_coll;

typedef struct imp_ctx {
    quire_store *st;
    const char *name; /* for messages */
    long line;
    quire_error *err;
} imp_ctx;

#define BAD(x, ...) imp_bad((x), __VA_ARGS__)
static quire_status imp_bad(imp_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static quire_status imp_bad(imp_ctx *x, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qr_err(x->err, QUIRE_FORMAT, "%s:%ld: %s", x->name, x->line, msg);
}

/* An SQLite error while importing, with the line. */
static quire_status imp_sqlerr(imp_ctx *x, const char *what)
{
    quire_status rc = qr_store_sqlerr(x->st, x->err, what);
    char msg[sizeof x->err->msg];
    memcpy(msg, x->err->msg, sizeof msg);
    return qr_err(x->err, rc, "%s:%ld: %s", x->name, x->line, msg);
}

/* A header field error, naming the collection. */
static quire_status imp_rewrap(imp_ctx *x, quire_status rc, const char *coll)
{
    char msg[sizeof x->err->msg];
    memcpy(msg, x->err->msg, sizeof msg);
    return qr_err(x->err, rc, "%s (collection '%s' of the header)", msg, coll);
}

/* Typed fields of a record: 0 ok, -1 wrong type/missing (message set). */
static int get_str(imp_ctx *x, json_t *o, const char *k, int nullable, const char **out,
                   quire_status *rc)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (nullable && (!v || json_is_null(v)))
        return 0;
    if (!json_is_string(v)) {
        *rc = BAD(x, "'%s' must be a string", k);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int get_int(imp_ctx *x, json_t *o, const char *k, long long lo, long long hi,
                   long long *out, quire_status *rc)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        *rc = BAD(x, "'%s' must be an integer from %lld to %lld", k, lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* The target collection of c: an existing empty one with the same model, or a new one
 * created from the header's settings (lock held, inside the transaction). */
static quire_status prepare_target(imp_ctx *x, imp_coll *c)
{
    quire_store *st = x->st;
    quire_status rc = QUIRE_OK;
    const char *fp = NULL, *model = NULL, *model_dir = NULL, *describe = NULL, *created = NULL;
    const char *dp = NULL, *qp = NULL;
    long long dims = 0, ct = 0, ov = 0, m = 16, efc = 200, efs = 64;
    json_t *j = c->j;
    if (get_str(x, j, "fingerprint", 1, &fp, &rc) || get_int(x, j, "chunk_tokens", 1, 1 << 20, &ct, &rc) ||
        get_int(x, j, "overlap", 0, 1 << 20, &ov, &rc) ||
        get_str(x, j, "doc_prefix", 1, &dp, &rc) || get_str(x, j, "query_prefix", 1, &qp, &rc) ||
        get_str(x, j, "created_at", 1, &created, &rc) ||
        get_int(x, j, "documents", 0, INT64_MAX, &c->want_docs, &rc) ||
        get_int(x, j, "chunks", 0, INT64_MAX, &c->want_chunks, &rc) ||
        get_int(x, j, "vectors", 0, INT64_MAX, &c->want_vecs, &rc))
        return imp_rewrap(x, rc, c->src);
    if (fp && (get_str(x, j, "model", 0, &model, &rc) || get_str(x, j, "model_dir", 1, &model_dir, &rc) ||
               get_str(x, j, "describe", 1, &describe, &rc) ||
               get_int(x, j, "dims", 1, 65536, &dims, &rc) ||
               get_int(x, j, "hnsw_m", 2, 256, &m, &rc) ||
               get_int(x, j, "ef_construction", 1, 1 << 20, &efc, &rc) ||
               get_int(x, j, "ef_search", 1, 1 << 20, &efs, &rc)))
        return imp_rewrap(x, rc, c->src);
    c->dims = (int)dims;
    qr_coll ex;
    rc = qr_store_coll_get(st, c->target, &ex, x->err);
    if (rc == QUIRE_OK) {
        sqlite3_stmt *s = NULL;
        long long n = -1;
        if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM documents WHERE collection_id = ?",
                               -1, &s, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, ex.id);
            if (sqlite3_step(s) == SQLITE_ROW)
                n = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        if (n < 0)
            return qr_store_sqlerr(st, x->err, "counting documents");
        if (n > 0)
            return qr_err(x->err, QUIRE_INVALID_ARG,
                          "collection '%s' of %s already has %lld documents: import "
                          "into a new collection (--as NAME) or an empty store, or remove it "
                          "first (quire collections --remove %s)",
                          c->target, st->path, n, c->target);
        if ((fp != NULL) != (ex.index_id != 0) || (fp && strcmp(fp, ex.fingerprint) != 0))
            return qr_err(x->err, QUIRE_MISMATCH,
                          "collection '%s' of the export holds %s%s%s; the empty "
                          "collection '%s' of %s holds %s%s%s: import under another name "
                          "(--as NAME)",
                          c->src, fp ? "vectors of model '" : "no vectors (text-only)",
                          fp ? model : "", fp ? "'" : "", c->target, st->path,
                          ex.index_id ? "vectors of model '" : "no vectors (text-only)",
                          ex.index_id ? ex.model : "", ex.index_id ? "'" : "");
        if (fp && ex.dims != c->dims)
            return qr_err(x->err, QUIRE_MISMATCH, "collection '%s': %d dims in the "
                          "export, %d in the store", c->target, c->dims, ex.dims);
        c->id = ex.id;
        c->index_id = ex.index_id;
        return QUIRE_OK;
    }
    if (rc != QUIRE_NOT_FOUND)
        return rc;
    char now[32];
    qr_store_now_iso(now);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO collections(name, created_at, chunk_tokens, overlap)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, x->err, "creating a collection");
    sqlite3_bind_text(s, 1, c->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, created ? created : now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ct);
    sqlite3_bind_int64(s, 4, ov);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return qr_store_sqlerr(st, x->err, "creating a collection");
    c->id = sqlite3_last_insert_rowid(st->db);
    if (!fp)
        return QUIRE_OK;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO indexes(collection_id, state, model, model_dir, fingerprint,"
                           " describe, dims, doc_prefix, query_prefix, hnsw_m, ef_construction,"
                           " ef_search, created_at) VALUES (?,'active',?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, x->err, "creating an index");
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, model_dir ? model_dir : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, fp, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, describe ? describe : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, c->dims);
    sqlite3_bind_text(s, 7, dp ? dp : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, qp ? qp : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, m);
    sqlite3_bind_int64(s, 10, efc);
    sqlite3_bind_int64(s, 11, efs);
    sqlite3_bind_text(s, 12, created ? created : now, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return qr_store_sqlerr(st, x->err, "creating an index");
    c->index_id = sqlite3_last_insert_rowid(st->db);
    if (sqlite3_prepare_v2(st->db, "UPDATE collections SET active_index = ? WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, x->err, "creating a collection");
    sqlite3_bind_int64(s, 1, c->index_id);
    sqlite3_bind_int64(s, 2, c->id);
    r = sqlite3_step(s);
    sqlite3_finalize(s);
    return r == SQLITE_DONE ? QUIRE_OK : qr_store_sqlerr(st, x->err, "creating a collection");
}

/* Parse the header line into colls (entries point into *hdr). */
static quire_status parse_header(imp_ctx *x, const char *line, const quire_import_params *p,
                                 json_t **hdr, imp_coll **colls, int *n)
{
    json_error_t je;
    quire_status rc = QUIRE_OK;
    json_t *h = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    *hdr = h;
    *colls = NULL;
    *n = 0;
    const char *fmt = NULL, *type = NULL;
    if (!h || !json_is_object(h))
        return BAD(x, "not a quire export: the first line is not a JSON object%s%s",
                   h ? "" : ": ", h ? "" : je.text);
    if (get_str(x, h, "type", 0, &type, &rc) || get_str(x, h, "format", 0, &fmt, &rc) ||
        strcmp(type, "header") != 0 || strcmp(fmt, "quire-export") != 0)
        return BAD(x, "not a quire export (the first line must be the header: "
                      "{\"type\":\"header\",\"format\":\"quire-export\",...})");
    long long ver = 0, schema = 0;
    if (get_int(x, h, "version", 1, 1 << 20, &ver, &rc) ||
        get_int(x, h, "store_schema", 1, 1 << 20, &schema, &rc))
        return rc;
    if (ver > QR_EXPORT_VERSION)
        return qr_err(x->err, QUIRE_FORMAT,
                      "%s: export format version %lld (written by quire %s); this "
                      "quire (%s) reads version %d",
                      x->name, ver,
                      json_string_value(json_object_get(h, "quire"))
                          ? json_string_value(json_object_get(h, "quire"))
                          : "?",
                      quire_version_str(), QR_EXPORT_VERSION);
    json_t *list = json_object_get(h, "collections");
    if (!json_is_array(list))
        return BAD(x, "'collections' must be an array");
    size_t nc = json_array_size(list);
    imp_coll *cs = qr_calloc(nc ? nc : 1, sizeof(*cs));
    if (!cs)
        return qr_err(x->err, QUIRE_NOMEM, "out of memory");
    *colls = cs;
    *n = (int)nc;
    int selected = 0;
    for (size_t i = 0; i < nc; i++) {
        json_t *cj = json_array_get(list, i);
        if (!json_is_object(cj) || get_str(x, cj, "name", 0, &cs[i].src, &rc))
            return rc != QUIRE_OK ? rc : BAD(x, "collections[%zu] must be an object", i);
        if (strlen(cs[i].src) == 0 || strlen(cs[i].src) >= sizeof cs[i].target)
            return BAD(x, "collections[%zu]: bad name", i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(cs[k].src, cs[i].src) == 0)
                return BAD(x, "collection '%s' listed twice", cs[i].src);
        cs[i].j = cj;
        cs[i].selected = !p->collection || strcmp(p->collection, cs[i].src) == 0;
        snprintf(cs[i].target, sizeof cs[i].target, "%s", cs[i].src);
        selected += cs[i].selected;
    }
    if (p->collection && !selected) {
        qr_buf b;
        qr_buf_init(&b, 4096);
        for (size_t i = 0; i < nc; i++)
            qr_buf_printf(&b, "%s'%s'", i ? ", " : "", cs[i].src);
        qr_buf_putc(&b, 0);
        rc = qr_err(x->err, QUIRE_NOT_FOUND, "%s has no collection '%s' (it has %s)",
                    x->name, p->collection, nc && b.data ? b.data : "none");
        qr_buf_free(&b);
        return rc;
    }
    if (p->rename) {
        if (selected != 1)
            return qr_err(x->err, QUIRE_INVALID_ARG,
                          "%s holds %d collections: choose the one to rename with "
                          "--collection NAME",
                          x->name, selected);
        if (!p->rename[0] || strlen(p->rename) >= sizeof cs[0].target)
            return qr_err(x->err, QUIRE_INVALID_ARG, "bad collection name '%s'",
                          p->rename);
        for (size_t i = 0; i < nc; i++)
            if (cs[i].selected)
                snprintf(cs[i].target, sizeof cs[i].target, "%s", p->rename);
    }
    for (size_t i = 0; p->fingerprint && i < nc; i++) {
        const char *fp = NULL, *model = NULL;
        if (!cs[i].selected || get_str(x, cs[i].j, "fingerprint", 1, &fp, &rc) || !fp)
            continue;
        get_str(x, cs[i].j, "model", 1, &model, &rc);
        if (strcmp(fp, p->fingerprint) != 0)
            return qr_err(x->err, QUIRE_MISMATCH,
                          "collection '%s' of %s holds vectors from model '%s' "
                          "(fingerprint %.12s); the model given has fingerprint %.12s: import "
                          "without --model and search with that model, or re-embed after the "
                          "import with quire reindex",
                          cs[i].src, x->name, model ? model : "?", fp, p->fingerprint);
    }
    return QUIRE_OK;
}

static imp_coll *find_coll(imp_coll *cs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cs[i].src, name) == 0)
            return &cs[i];
    return NULL;
}

/* One document or chunk record (lock held, inside the transaction). */
typedef struct imp_state {
    imp_coll *coll;        /* of the current document; NULL before the first */
    char *doc_key;         /* the current document's key */
    long long doc_id;      /* its row (0 when its collection is not imported) */
    int keep_ids;
    sqlite3_stmt *ins_doc, *ins_chunk, *ins_vec;
    unsigned char *vbuf;
    size_t vcap;
    long long end_seen;
    long long total_docs, total_chunks, total_vecs;
} imp_state;

static quire_status imp_document(imp_ctx *x, imp_state *s, imp_coll *c, json_t *o)
{
    quire_status rc = QUIRE_OK;
    const char *key = NULL, *sha = NULL, *conv = NULL;
    long long size = 0, pages = 0, failed = 0;
    if (get_str(x, o, "id", 0, &key, &rc) || get_str(x, o, "sha256", 1, &sha, &rc) ||
        get_str(x, o, "converted_at", 1, &conv, &rc) ||
        get_int(x, o, "size", 0, INT64_MAX, &size, &rc) ||
        get_int(x, o, "pages", 0, INT32_MAX, &pages, &rc) ||
        get_int(x, o, "failed_pages", 0, INT32_MAX, &failed, &rc))
        return rc;
    if (!key[0])
        return BAD(x, "document 'id' is empty");
    json_t *meta = json_object_get(o, "metadata"), *rep = json_object_get(o, "report");
    if (meta && !json_is_null(meta) && !json_is_object(meta))
        return BAD(x, "document '%s': 'metadata' must be an object or null", key);
    qr_free(s->doc_key);
    if (!(s->doc_key = qr_strdup(key)))
        return qr_err(x->err, QUIRE_NOMEM, "out of memory");
    s->coll = c;
    s->doc_id = 0;
    c->docs++;
    s->total_docs++;
    if (!c->selected)
        return QUIRE_OK;
    char *ms = meta && json_is_object(meta) ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *rs = rep && !json_is_null(rep)
                   ? (json_is_string(rep) ? NULL : json_dumps(rep, JSON_COMPACT))
                   : NULL;
    char now[32];
    qr_store_now_iso(now);
    sqlite3_stmt *st = s->ins_doc;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sha ? sha : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, size);
    sqlite3_bind_int64(st, 5, pages);
    sqlite3_bind_int64(st, 6, failed);
    sqlite3_bind_text(st, 7, conv ? conv : now, -1, SQLITE_STATIC);
    if (rs)
        sqlite3_bind_text(st, 8, rs, -1, SQLITE_STATIC);
    else if (json_is_string(rep))
        sqlite3_bind_text(st, 8, json_string_value(rep), -1, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, 8, "{}", -1, SQLITE_STATIC);
    if (ms)
        sqlite3_bind_text(st, 9, ms, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 9);
    int r = sqlite3_step(st);
    free(ms); /* lint-allow: free (json_dumps) */
    free(rs); /* lint-allow: free (json_dumps) */
    if (r == SQLITE_CONSTRAINT)
        return BAD(x, "document '%s' of collection '%s' appears twice", key, c->src);
    if (r != SQLITE_DONE)
        return imp_sqlerr(x, "adding a document");
    s->doc_id = sqlite3_last_insert_rowid(x->st->db);
    return QUIRE_OK;
}

static quire_status imp_chunk(imp_ctx *x, imp_state *s, json_t *o)
{
    quire_status rc = QUIRE_OK;
    const char *coll = NULL, *doc = NULL, *heading = NULL, *text = NULL, *vec = NULL;
    long long cid = 0, seq = 0, ps = 0, pe = 0, ntok = 0;
    if (get_str(x, o, "collection", 0, &coll, &rc) || get_str(x, o, "document", 0, &doc, &rc) ||
        get_str(x, o, "heading", 1, &heading, &rc) || get_str(x, o, "text", 0, &text, &rc) ||
        get_str(x, o, "vector", 1, &vec, &rc) ||
        get_int(x, o, "seq", 0, INT32_MAX, &seq, &rc) ||
        get_int(x, o, "page_start", 0, INT32_MAX, &ps, &rc) ||
        get_int(x, o, "page_end", 0, INT32_MAX, &pe, &rc) ||
        get_int(x, o, "n_tokens", 0, INT32_MAX, &ntok, &rc))
        return rc;
    if (!s->coll || strcmp(s->coll->src, coll) != 0 || strcmp(s->doc_key, doc) != 0)
        return BAD(x, "chunk of document '%s' (collection '%s') does not follow that "
                      "document's line",
                   doc, coll);
    imp_coll *c = s->coll;
    c->chunks++;
    s->total_chunks++;
    if (vec) {
        c->vecs++;
        s->total_vecs++;
    }
    if (!c->selected)
        return QUIRE_OK;
    json_t *idv = json_object_get(o, "chunk_id");
    if (idv && !json_is_integer(idv))
        return BAD(x, "'chunk_id' must be an integer");
    cid = idv ? json_integer_value(idv) : 0;
    if (c->index_id && !vec)
        return BAD(x, "chunk %lld of '%s' has no vector (collection '%s' has %d-dim vectors)",
                   seq, doc, c->src, c->dims);
    if (!c->index_id && vec)
        return BAD(x, "chunk %lld of '%s' has a vector but collection '%s' is text-only", seq,
                   doc, c->src);
    size_t want = (size_t)c->dims * sizeof(float);
    if (vec) {
        size_t vl = strlen(vec);
        if (s->vcap < vl) {
            unsigned char *t = qr_realloc(s->vbuf, vl);
            if (!t)
                return qr_err(x->err, QUIRE_NOMEM, "out of memory");
            s->vbuf = t;
            s->vcap = vl;
        }
        long got = qr_base64_decode(vec, vl, s->vbuf, s->vcap);
        if (got < 0)
            return BAD(x, "chunk %lld of '%s': 'vector' is not base64", seq, doc);
        if ((size_t)got != want)
            return BAD(x, "chunk %lld of '%s': the vector has %ld bytes (%ld floats); "
                          "collection '%s' has %d dims",
                       seq, doc, got, got / 4, c->src, c->dims);
        for (int i = 0; i < c->dims; i++) {
            float f;
            memcpy(&f, s->vbuf + (size_t)i * 4, 4);
            if (!isfinite(f))
                return BAD(x, "chunk %lld of '%s': value %d of the vector is not finite", seq,
                           doc, i);
        }
    }
    sqlite3_stmt *st = s->ins_chunk;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s->keep_ids && cid > 0)
        sqlite3_bind_int64(st, 1, cid);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, s->doc_id);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_int64(st, 4, ps);
    sqlite3_bind_int64(st, 5, pe);
    sqlite3_bind_text(st, 6, heading ? heading : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, ntok);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT)
        return BAD(x, "chunk_id %lld appears twice", cid);
    if (r != SQLITE_DONE)
        return imp_sqlerr(x, "adding a chunk");
    long long row = sqlite3_last_insert_rowid(x->st->db);
    if (!vec)
        return QUIRE_OK;
    st = s->ins_vec;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, c->index_id);
    sqlite3_bind_int64(st, 2, row);
    sqlite3_bind_blob(st, 3, s->vbuf, (int)want, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return imp_sqlerr(x, "adding a vector");
    return QUIRE_OK;
}

static quire_status imp_end(imp_ctx *x, imp_state *s, imp_coll *cs, int n, json_t *o)
{
    quire_status rc = QUIRE_OK;
    long long nc = 0, d = 0, ch = 0, v = 0;
    if (get_int(x, o, "collections", 0, INT32_MAX, &nc, &rc) ||
        get_int(x, o, "documents", 0, INT64_MAX, &d, &rc) ||
        get_int(x, o, "chunks", 0, INT64_MAX, &ch, &rc) ||
        get_int(x, o, "vectors", 0, INT64_MAX, &v, &rc))
        return rc;
    if (nc != n || d != s->total_docs || ch != s->total_chunks || v != s->total_vecs)
        return BAD(x, "the end line counts %lld collections, %lld documents, %lld chunks, "
                      "%lld vectors; the stream had %d, %lld, %lld, %lld (lines lost?)",
                   nc, d, ch, v, n, s->total_docs, s->total_chunks, s->total_vecs);
    for (int i = 0; i < n; i++)
        if (cs[i].docs != cs[i].want_docs || cs[i].chunks != cs[i].want_chunks ||
            cs[i].vecs != cs[i].want_vecs)
            return BAD(x, "collection '%s': the header counts %lld documents, %lld chunks, "
                          "%lld vectors; the stream had %lld, %lld, %lld",
                       cs[i].src, cs[i].want_docs, cs[i].want_chunks, cs[i].want_vecs,
                       cs[i].docs, cs[i].chunks, cs[i].vecs);
    s->end_seen = x->line;
    return QUIRE_OK;
}

static quire_status imp_line(imp_ctx *x, imp_state *s, imp_coll *cs, int n, const char *line)
{
    json_error_t je;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    quire_status rc = QUIRE_OK;
    const char *type = NULL, *coll = NULL;
    if (!o || !json_is_object(o)) {
        rc = o ? BAD(x, "not a JSON object") : BAD(x, "not valid JSON: %s (column %d)", je.text, je.column);
        json_decref(o);
        return rc;
    }
    if (s->end_seen) {
        json_decref(o);
        return BAD(x, "a record after the end line (line %lld)", s->end_seen);
    }
    if (get_str(x, o, "type", 0, &type, &rc))
        goto out;
    if (strcmp(type, "document") == 0) {
        imp_coll *c = NULL;
        if (get_str(x, o, "collection", 0, &coll, &rc))
            goto out;
        if (!(c = find_coll(cs, n, coll))) {
            rc = BAD(x, "document of collection '%s', which the header does not list", coll);
            goto out;
        }
        rc = imp_document(x, s, c, o);
    } else if (strcmp(type, "chunk") == 0) {
        rc = imp_chunk(x, s, o);
    } else if (strcmp(type, "end") == 0) {
        rc = imp_end(x, s, cs, n, o);
    } else if (strcmp(type, "header") == 0) {
        rc = BAD(x, "a second header (concatenated exports are not supported)");
    } else {
        rc = BAD(x, "unknown record type '%s' (document, chunk or end)", type);
    }
out:
    json_decref(o);
    return rc;
}

quire_status quire_store_import(quire_store *st, const char *path, const quire_import_params *p,
                                quire_export_result *res, quire_error *err)
{
    quire_export_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    if (!st || !path)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_store_import: NULL argument");
    if (st->be)
        return qr_store_unsupported(st, "import (use quire migrate from a SQLite store)", err);
    if (st->readonly)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: store opened read-only", st->path);
    if (st->schema < QR_STORE_SCHEMA)
        return qr_err(err, QUIRE_UNSUPPORTED, "%s: store schema %d", st->path, st->schema);
    quire_import_params defp = quire_import_default_params();
    if (!p)
        p = &defp;
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return qr_err(err, errno == ENOENT ? QUIRE_NOT_FOUND : QUIRE_IO, "%s: %s", path,
                      strerror(errno));
    quire_error dummy_err;
    if (!err)
        err = &dummy_err;
    imp_ctx x = {st, from_stdin ? "stdin" : path, 0, err};
    imp_state s;
    memset(&s, 0, sizeof s);
    json_t *hdr = NULL;
    imp_coll *cs = NULL;
    int n = 0, in_tx = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    quire_status rc = QUIRE_OK;
    pthread_mutex_lock(&st->lock);
    /* the header */
    while ((len = getline(&line, &lcap, f)) >= 0) {
        x.line++;
        if (strspn(line, " \t\r\n") != (size_t)len)
            break;
    }
    if (len < 0) {
        rc = ferror(f) ? qr_err(err, QUIRE_IO, "reading %s: %s", x.name, strerror(errno))
                       : qr_err(err, QUIRE_FORMAT, "%s is empty (no header line)", x.name);
        goto done;
    }
    if ((rc = parse_header(&x, line, p, &hdr, &cs, &n)) != QUIRE_OK)
        goto done;
    if ((rc = qr_store_exec(st, "BEGIN IMMEDIATE", err)) != QUIRE_OK)
        goto done;
    in_tx = 1;
    {
        sqlite3_stmt *q = NULL;
        s.keep_ids = 0;
        if (sqlite3_prepare_v2(st->db, "SELECT NOT EXISTS (SELECT 1 FROM chunks)", -1, &q,
                               NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            s.keep_ids = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            if (cs[i].selected && cs[k].selected && strcmp(cs[i].target, cs[k].target) == 0) {
                rc = BAD(&x, "collection '%s' listed twice", cs[i].target);
                goto done;
            }
        if (cs[i].selected) {
            if ((rc = prepare_target(&x, &cs[i])) != QUIRE_OK)
                goto done;
        } else {
            /* counts are checked for every collection of the stream */
            quire_status r2 = QUIRE_OK;
            if (get_int(&x, cs[i].j, "documents", 0, INT64_MAX, &cs[i].want_docs, &r2) ||
                get_int(&x, cs[i].j, "chunks", 0, INT64_MAX, &cs[i].want_chunks, &r2) ||
                get_int(&x, cs[i].j, "vectors", 0, INT64_MAX, &cs[i].want_vecs, &r2)) {
                rc = r2;
                goto done;
            }
        }
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO documents(collection_id, path, sha256, size, pages,"
                           " failed_pages, converted_at, report, meta) VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &s.ins_doc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO chunks(id, document_id, seq, page_start, page_end, heading,"
                           " text, n_tokens) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &s.ins_chunk, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT INTO vectors(index_id, chunk_id, vec) VALUES (?,?,?)",
                           -1, &s.ins_vec, NULL) != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "importing");
        goto done;
    }
    while ((len = getline(&line, &lcap, f)) >= 0) {
        x.line++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        if (strlen(line) != (size_t)len) {
            rc = BAD(&x, "a NUL byte in the line");
            goto done;
        }
        if ((rc = imp_line(&x, &s, cs, n, line)) != QUIRE_OK)
            goto done;
    }
    if (ferror(f)) {
        rc = qr_err(err, QUIRE_IO, "reading %s: %s", x.name, strerror(errno));
        goto done;
    }
    if (!s.end_seen) {
        rc = qr_err(err, QUIRE_FORMAT,
                    "%s: truncated: no end line after line %ld (nothing imported)",
                    x.name, x.line);
        goto done;
    }
    sqlite3_finalize(s.ins_doc);
    sqlite3_finalize(s.ins_chunk);
    sqlite3_finalize(s.ins_vec);
    s.ins_doc = s.ins_chunk = s.ins_vec = NULL;
    if ((rc = qr_store_exec(st, "COMMIT", err)) != QUIRE_OK)
        goto done;
    in_tx = 0;
    for (int i = 0; i < n; i++) {
        if (!cs[i].selected)
            continue;
        res->collections++;
        res->documents += (long)cs[i].docs;
        res->chunks += (long)cs[i].chunks;
        res->vectors += (long)cs[i].vecs;
        if (!cs[i].index_id || !cs[i].vecs)
            continue;
        /* build the graph now and keep it, so the first search does not */
        qr_loaded_index *li = NULL;
        quire_error e;
        qr_store_index_unload(st, cs[i].index_id);
        if (qr_store_index_load(st, cs[i].index_id, &li, &e) != QUIRE_OK ||
            qr_store_index_save(st, li, &e) != QUIRE_OK)
            qr_log(QUIRE_LOG_WARN, "%s (the graph is rebuilt on first search)", e.msg);
    }
done:
    sqlite3_finalize(s.ins_doc);
    sqlite3_finalize(s.ins_chunk);
    sqlite3_finalize(s.ins_vec);
    if (in_tx)
        qr_store_exec(st, "ROLLBACK", NULL);
    pthread_mutex_unlock(&st->lock);
    if (rc != QUIRE_OK)
        memset(res, 0, sizeof(*res));
    qr_free(s.doc_key);
    qr_free(s.vbuf);
    qr_free(cs);
    json_decref(hdr);
    free(line); /* lint-allow: free (getline) */
    if (!from_stdin)
        fclose(f);
    return rc;
}
