/*
 * routes_docs.c — document management over HTTP (docs/serve.md "Documents"):
 *   GET    /v1/collections                          the collections
 *   GET    /v1/collections/{name}                   one collection
 *   DELETE /v1/collections/{name}                   drop it with everything in it
 *   GET    /v1/collections/{name}/documents         its documents
 *   POST   /v1/collections/{name}/documents         ingest (upsert by id): a multipart
 *          upload (part "file" with a filename; optional parts "id", "metadata") or a
 *          JSON body {"path", "id", "metadata", "force"} naming a file under --allow-paths
 *   DELETE /v1/collections/{name}/documents         remove the documents matching a
 *          metadata filter: JSON body {"where": {...}} (the filters of `quire search
 *          --where`; `quire docs --remove-where`); an absent or empty filter is a 400
 *   GET    /v1/collections/{name}/documents/{id}    one document
 *   DELETE /v1/collections/{name}/documents/{id}    remove it
 * Documents are the objects of `quire docs --json`. Changes need the server started with
 * --allow-writes (else 403 read_only); the API key guards every route as elsewhere.
 */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_int.h"

static json_t *doc_json(const quire_document_info *d)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:I,s:s}", "id", d->path, "path", d->path,
                          "sha256", d->sha256, "size", (json_int_t)d->size, "pages", d->pages,
                          "failed_pages", d->failed_pages, "chunks", (json_int_t)d->chunks,
                          "converted_at", d->converted_at);
    json_t *meta = d->metadata ? json_loads(d->metadata, 0, NULL) : NULL;
    if (o)
        json_object_set_new(o, "metadata", meta ? meta : json_null());
    return o;
}

static json_t *collection_json(const quire_collection_info *c)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:i,s:i,s:s}", "object", "collection", "name",
                          c->name, "documents", (json_int_t)c->documents, "chunks",
                          (json_int_t)c->chunks, "vectors", (json_int_t)c->vectors,
                          "chunk_tokens", c->chunk_tokens, "overlap", c->overlap,
                          "created_at", c->created_at);
    if (o) {
        json_object_set_new(o, "model", c->model[0] ? json_string(c->model) : json_null());
        json_object_set_new(o, "dims", c->dims ? json_integer(c->dims) : json_null());
    }
    return o;
}

/* Serialise j (taken) as the reply body with the status. */
static void reply_json(reply *r, int status, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    r->status = status;
    qr_buf_append(&r->body, txt, strlen(txt));
    qr_buf_putc(&r->body, '\n');
    free(txt); /* lint-allow: free (jansson) */
}

static void fail(reply *r, quire_status st, const quire_error *e)
{
    qr_srv_error(r, qr_srv_http_status(st), qr_srv_status_code(st), "%s", e->msg);
}

static int method_is(const char *m, const char *want) { return strcmp(m, want) == 0; }

static void not_allowed(reply *r, const char *method, const char *url, const char *allow)
{
    qr_srv_error(r, 405, "method_not_allowed", "%s %s: use %s", method, url, allow);
    r->allow = allow;
}

/* The collection, or 0 with 404 collection_not_found in r. */
static int find_collection(quire_server *s, const char *name, quire_collection_info *ci,
                           reply *r)
{
    quire_error e = {0, ""};
    quire_status st = quire_store_collection(s->store, name, ci, &e);
    if (st == QUIRE_OK)
        return 1;
    if (QUIRE_STATUS_PRIMARY(st) == QUIRE_NOT_FOUND)
        qr_srv_error(r, 404, "collection_not_found", "no collection named '%.100s'", name);
    else
        fail(r, st, &e);
    return 0;
}

static int writable(quire_server *s, reply *r)
{
    if (s->p.allow_writes)
        return 1;
    qr_srv_error(r, 403, "read_only", "this server does not change its store (start quire "
                 "serve with --allow-writes and --api-key-file)");
    return 0;
}

/* The document keyed id of the collection (*out, free the list), or NULL. */
static const quire_document_info *find_doc(quire_server *s, const char *coll, const char *id,
                                           quire_document_list **list, reply *r)
{
    quire_error e = {0, ""};
    quire_status st = quire_store_documents(s->store, coll, list, &e);
    if (st != QUIRE_OK) {
        fail(r, st, &e);
        return NULL;
    }
    for (int i = 0; i < (*list)->n; i++)
        if (strcmp((*list)->docs[i].path, id) == 0)
            return &(*list)->docs[i];
    qr_srv_error(r, 404, "document_not_found", "collection '%.100s' has no document '%.200s'",
                 coll, id);
    return NULL;
}

/* ---- multipart/form-data --------------------------------------------------------------- */

static const char *find(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn == 0 || hn < nn)
        return NULL;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0)
            return h + i;
    return NULL;
}

void qr_srv_header_param(const char *h, size_t hn, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = find(h, hn, key, strlen(key));
    if (!p)
        return;
    p += strlen(key);
    const char *end = h + hn;
    int quoted = p < end && *p == '"';
    if (quoted)
        p++;
    size_t n = 0;
    while (p < end && n + 1 < cap && (quoted ? *p != '"' : (*p != ';' && *p != '\r'))) {
        out[n++] = *p;
        p++;
    }
    out[n] = 0;
}

int qr_srv_multipart(const char *ctype, const char *body, size_t len, qr_part *parts, int cap)
{
    char boundary[128], delim[132];
    qr_srv_header_param(ctype, strlen(ctype), "boundary=", boundary, sizeof boundary);
    if (!boundary[0])
        return -1;
    int dn = snprintf(delim, sizeof delim, "--%s", boundary);
    const char *p = find(body, len, delim, (size_t)dn), *end = body + len;
    int n = 0;
    while (p && n < cap) {
        p += dn;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return n; /* the closing delimiter */
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            p += 2;
        const char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            return -1;
        qr_part *pt = &parts[n];
        qr_srv_header_param(p, (size_t)(hend - p), "name=", pt->name, sizeof pt->name);
        qr_srv_header_param(p, (size_t)(hend - p), "filename=", pt->filename, sizeof pt->filename);
        const char *data = hend + 4;
        char close[136];
        int cn = snprintf(close, sizeof close, "\r\n%s", delim);
        const char *next = find(data, (size_t)(end - data), close, (size_t)cn);
        if (!next)
            return -1;
        pt->data = data;
        pt->len = (size_t)(next - data);
        n++;
        p = next + 2;
    }
    return p ? n : -1;
}

/* ---- POST /v1/collections/{name}/documents ---------------------------------------------- */

typedef struct upload {
    char path[PATH_MAX]; /* the file to ingest */
    int is_tmp;
    char id[1024];       /* "" = the canonical path */
    char shown[256];     /* the name to show instead of a temporary path */
    char *metadata;      /* JSON object text (qr_free) or NULL */
    int force;
} upload;

static int meta_text(json_t *m, upload *u, reply *r)
{
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_object(m)) {
        qr_srv_error(r, 400, "invalid_metadata", "\"metadata\" must be a JSON object");
        return -1;
    }
    char *t = json_dumps(m, JSON_COMPACT);
    u->metadata = t ? qr_strdup(t) : NULL;
    free(t); /* lint-allow: free (jansson) */
    if (!u->metadata) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return -1;
    }
    return 0;
}

static int from_json(quire_server *s, const char *body, size_t len, upload *u, reply *r)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    int rc = -1;
    json_t *p = json_object_get(root, "path"), *id = json_object_get(root, "id");
    json_t *force = json_object_get(root, "force");
    if (!root)
        qr_srv_error(r, 400, "invalid_json", "the body is not valid JSON: %s (line %d)", je.text,
                     je.line);
    else if (!json_is_object(root) || !json_is_string(p))
        qr_srv_error(r, 400, "invalid_request", "a JSON body must be {\"path\": \"...\"[, \"id\": "
                     "\"...\", \"metadata\": {...}]}; upload the file as multipart otherwise");
    else if (id && !json_is_null(id) && (!json_is_string(id) || !json_string_length(id)))
        qr_srv_error(r, 400, "invalid_request", "\"id\" must be a non-empty string");
    else if (force && !json_is_boolean(force))
        qr_srv_error(r, 400, "invalid_request", "\"force\" must be true or false");
    else if (meta_text(json_object_get(root, "metadata"), u, r) == 0 &&
             qr_srv_path_allowed(s, json_string_value(p), u->path, r) == 0) {
        if (json_is_string(id))
            snprintf(u->id, sizeof u->id, "%s", json_string_value(id));
        u->force = json_is_true(force);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

static int from_multipart(const char *ctype, const char *body, size_t len, upload *u,
                          reply *r)
{
    qr_part parts[8];
    int n = qr_srv_multipart(ctype, body, len, parts, 8);
    if (n < 0) {
        qr_srv_error(r, 400, "invalid_multipart", "the multipart body does not parse (boundary "
                     "missing or a part not closed)");
        return -1;
    }
    const qr_part *file = NULL;
    for (int i = 0; i < n; i++) {
        const qr_part *p = &parts[i];
        if (strcmp(p->name, "file") == 0) {
            file = p;
        } else if (strcmp(p->name, "id") == 0) {
            if (p->len == 0 || p->len >= sizeof u->id) {
                qr_srv_error(r, 400, "invalid_request", "part \"id\" must be 1 to %zu bytes",
                             sizeof u->id - 1);
                return -1;
            }
            memcpy(u->id, p->data, p->len);
            u->id[p->len] = 0;
        } else if (strcmp(p->name, "metadata") == 0) {
            json_error_t je;
            json_t *m = json_loadb(p->data, p->len, 0, &je);
            int rc = m ? meta_text(m, u, r) : -1;
            json_decref(m);
            if (!m)
                qr_srv_error(r, 400, "invalid_metadata", "part \"metadata\" is not valid JSON: "
                             "%s", je.text);
            if (rc != 0)
                return -1;
        }
    }
    if (!file || !file->filename[0]) {
        qr_srv_error(r, 400, "missing_file", "no part \"file\" with a filename (curl -F "
                     "file=@doc.pdf)");
        return -1;
    }
    const char *base = strrchr(file->filename, '/');
    base = base ? base + 1 : file->filename;
    const char *dot = strrchr(base, '.');
    snprintf(u->shown, sizeof u->shown, "%.200s", base);
    if (!u->id[0])
        snprintf(u->id, sizeof u->id, "%s", base);
    if (qr_srv_body_to_tmp(file->data, file->len, dot, u->path, sizeof u->path) != 0) {
        qr_srv_error(r, 500, "io_error", "cannot write a temporary file");
        return -1;
    }
    u->is_tmp = 1;
    return 0;
}

static void post_document(quire_server *s, const char *coll, const char *body, size_t len,
                          const char *ctype, reply *r)
{
    if (!writable(s, r))
        return;
    upload u;
    memset(&u, 0, sizeof u);
    int multi = ctype && strncmp(ctype, "multipart/form-data", 19) == 0;
    if (!multi && !(ctype && strncmp(ctype, "application/json", 16) == 0)) {
        qr_srv_error(r, 415, "unsupported_media_type", "send multipart/form-data (a part "
                     "\"file\") or application/json ({\"path\": ...})");
        return;
    }
    if ((multi ? from_multipart(ctype, body, len, &u, r) : from_json(s, body, len, &u, r)) != 0) {
        qr_free(u.metadata);
        return;
    }
    quire_collection_info ci;
    quire_error e = {0, ""};
    int exists = quire_store_collection(s->store, coll, &ci, &e) == QUIRE_OK;
    quire_embedder *emb = NULL;
    quire_status st = QUIRE_OK;
    if ((exists ? ci.dims > 0 : s->model != NULL) && !s->model)
        st = qr_err(&e, QUIRE_MISMATCH, "collection '%s' holds vectors from model '%s'; this "
                    "server has no model (start it with --model)", coll, ci.model);
    else if (exists ? ci.dims > 0 : s->model != NULL) {
        quire_embedder_params ep = quire_embedder_default_params();
        st = quire_embedder_new(s->model, &ep, &emb, &e);
    }
    quire_ingest_result res;
    memset(&res, 0, sizeof res);
    if (st == QUIRE_OK) {
        quire_ingest_params ip = quire_ingest_default_params();
        ip.collection = coll;
        ip.embedder = emb;
        ip.converter = s->conv;
        ip.force = u.force;
        ip.store_path = u.id[0] ? u.id : NULL;
        ip.metadata = u.metadata;
        st = quire_ingest_file(s->store, u.path, &ip, &res, &e);
    }
    quire_embedder_free(emb);
    if (u.is_tmp)
        unlink(u.path);
    qr_free(u.metadata);
    if (st != QUIRE_OK) {
        qr_srv_document_error(r, st, &e, u.is_tmp ? u.path : NULL, u.shown, u.is_tmp);
        return;
    }
    quire_document_list *list = NULL;
    const char *key = u.id[0] ? u.id : u.path;
    const quire_document_info *d = find_doc(s, coll, key, &list, r);
    if (d) {
        static const char *const outcomes[] = {"added", "updated", "unchanged"};
        json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "object", "ingest", "collection", coll,
                              "outcome", outcomes[res.outcome % 3], "pages", res.pages,
                              "failed_pages", res.failed_pages, "chunks", res.chunks);
        if (o)
            json_object_set_new(o, "document", doc_json(d));
        reply_json(r, res.outcome == QUIRE_INGEST_ADDED ? 201 : 200, o);
    }
    quire_document_list_free(list);
}

/* ---- the other routes -------------------------------------------------------------------- */

static void list_collections(quire_server *s, reply *r)
{
    quire_collection_info *cs = NULL;
    int n = 0;
    quire_error e = {0, ""};
    quire_status st = quire_store_collections(s->store, &cs, &n, &e);
    if (st != QUIRE_OK) {
        fail(r, st, &e);
        return;
    }
    json_t *data = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(data, collection_json(&cs[i]));
    quire_free(cs);
    reply_json(r, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

static void list_documents(quire_server *s, const char *coll, reply *r)
{
    quire_document_list *l = NULL;
    quire_error e = {0, ""};
    quire_status st = quire_store_documents(s->store, coll, &l, &e);
    if (st != QUIRE_OK) {
        fail(r, st, &e);
        return;
    }
    json_t *data = json_array();
    for (int i = 0; i < l->n; i++)
        json_array_append_new(data, doc_json(&l->docs[i]));
    quire_document_list_free(l);
    reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "object", "list", "collection", coll, "data",
                                 data));
}

/* DELETE .../documents {"where": {...}}: remove every document the filter keeps. */
static void delete_where(quire_server *s, const char *coll, const char *body, size_t len,
                         reply *r)
{
    if (!writable(s, r))
        return;
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        qr_srv_error(r, 400, "invalid_json", "the body is not JSON: %s (byte %d)", je.text,
                     je.position);
        return;
    }
    json_t *w = json_is_object(root) ? json_object_get(root, "where") : NULL;
    const char *k;
    json_t *v;
    int unknown = 0;
    if (json_is_object(root))
        json_object_foreach(root, k, v) unknown |= strcmp(k, "where") != 0;
    if (!json_is_object(w) || json_object_size(w) == 0 || unknown) {
        json_decref(root);
        qr_srv_error(r, 400, "invalid_request", "send {\"where\": {...}} with a non-empty "
                     "metadata filter and nothing else (to remove everything, DELETE the "
                     "collection)");
        return;
    }
    char *txt = json_dumps(w, JSON_COMPACT);
    json_decref(root);
    if (!txt) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    int n = 0;
    quire_error e = {0, ""};
    quire_status st = quire_store_remove_where(s->store, coll, txt, &n, &e);
    free(txt); /* lint-allow: free (jansson) */
    if (st != QUIRE_OK)
        fail(r, st, &e);
    else
        reply_json(r, 200, json_pack("{s:s,s:s,s:i}", "object", "documents.removed",
                                     "collection", coll, "removed", n));
}

static void document(quire_server *s, const char *method, const char *coll, const char *id,
                     reply *r)
{
    if (method_is(method, "DELETE") && !writable(s, r))
        return;
    quire_document_list *l = NULL;
    const quire_document_info *d = find_doc(s, coll, id, &l, r);
    if (d && method_is(method, "DELETE")) {
        quire_error e = {0, ""};
        quire_status st = quire_store_remove(s->store, coll, id, &e);
        if (st != QUIRE_OK)
            fail(r, st, &e);
        else
            reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:b}", "object", "document", "collection",
                                         coll, "id", id, "deleted", 1));
    } else if (d) {
        reply_json(r, 200, doc_json(d));
    }
    quire_document_list_free(l);
}

void qr_route_collections(quire_server *s, const char *method, const char *url,
                          const char *body, size_t len, const char *content_type, reply *r)
{
    int get = method_is(method, "GET") || method_is(method, "HEAD");
    if (!s->store) {
        qr_srv_error(r, 503, "store_not_open", "no store is open (start quire serve with --db)");
        return;
    }
    const char *p = url + strlen("/v1/collections");
    if (*p == 0 || strcmp(p, "/") == 0) {
        if (get)
            list_collections(s, r);
        else
            not_allowed(r, method, url, "GET");
        return;
    }
    p++;
    const char *slash = strchr(p, '/');
    size_t nlen = slash ? (size_t)(slash - p) : strlen(p);
    char name[128];
    if (nlen == 0 || nlen >= sizeof name) {
        qr_srv_error(r, 404, "collection_not_found", "no collection named '%.100s'", p);
        return;
    }
    memcpy(name, p, nlen);
    name[nlen] = 0;
    const char *rest = slash ? slash : "";
    int posting = method_is(method, "POST");
    quire_collection_info ci;
    if (*rest == 0) { /* the collection itself */
        if (!get && !method_is(method, "DELETE")) {
            not_allowed(r, method, url, "GET, DELETE");
            return;
        }
        if (!method_is(method, "DELETE") ? !find_collection(s, name, &ci, r)
                                         : (!writable(s, r) || !find_collection(s, name, &ci, r)))
            return;
        if (get) {
            reply_json(r, 200, collection_json(&ci));
            return;
        }
        quire_error e = {0, ""};
        quire_status st = quire_store_drop_collection(s->store, name, &e);
        if (st != QUIRE_OK)
            fail(r, st, &e);
        else
            reply_json(r, 200, json_pack("{s:s,s:s,s:b,s:I}", "object", "collection", "name",
                                         name, "deleted", 1, "documents",
                                         (json_int_t)ci.documents));
        return;
    }
    if (strcmp(rest, "/documents") == 0 || strcmp(rest, "/documents/") == 0) {
        if (posting)
            post_document(s, name, body, len, content_type, r); /* creates the collection */
        else if (method_is(method, "DELETE")) {
            if (writable(s, r) && find_collection(s, name, &ci, r))
                delete_where(s, name, body, len, r);
        } else if (!get)
            not_allowed(r, method, url, "GET, POST, DELETE");
        else if (find_collection(s, name, &ci, r))
            list_documents(s, name, r);
        return;
    }
    if (strncmp(rest, "/documents/", 11) == 0) {
        if (!get && !method_is(method, "DELETE"))
            not_allowed(r, method, url, "GET, DELETE");
        else if (find_collection(s, name, &ci, r))
            document(s, method, name, rest + 11, r);
        return;
    }
    qr_srv_error(r, 404, "not_found", "unknown route: %s %s", method, url);
}
