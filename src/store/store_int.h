/*
 * store_int.h — internals shared by the store's files (store.c: open, schema,
 * collections, listing; ingest.c; search.c; reindex.c).
 */
#ifndef QR_STORE_INT_H
#define QR_STORE_INT_H

#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>

#include "core/core.h"
#include "store/hnsw.h"
#include "text/text.h"

#define QR_STORE_SCHEMA 2 /* 2: documents.meta (JSON object) */
#define QR_STORE_APP_ID 0x71756972 /* "quir" in PRAGMA application_id */

/* An HNSW index loaded in memory, for one row of `indexes`. */
typedef struct qr_loaded_index {
    long long id;
    int dims;
    qr_hnsw *hnsw;
    long changes;        /* adds/removes since the graph was last saved */
    double saved_at;     /* qr_now() of the last save */
    long long data_version; /* PRAGMA data_version when loaded (other writers change it) */
} qr_loaded_index;

/* The store backend interface: a quire_store is SQLite (be == NULL: the code of store.c,
 * ingest.c, reindex.c, search.c and export.c) or another backend whose table this is —
 * PostgreSQL (src/store/pg/pgstore.c). The public calls check st->be first; a backend's
 * NULL entry is a call it does not support (QUIRE_UNSUPPORTED naming the store). Each
 * entry is called without st->lock held and serialises itself. */
struct qr_coll;
struct qr_prepared;
struct qr_where;
struct qr_export_ctx;
typedef struct qr_store_backend {
    const char *name; /* "PostgreSQL" */
    void (*close)(quire_store *st);
    quire_status (*collection)(quire_store *st, const char *name, quire_collection_info *out,
                               quire_error *err);
    quire_status (*collections)(quire_store *st, quire_collection_info **out, int *n,
                                quire_error *err);
    quire_status (*documents)(quire_store *st, const char *collection,
                              quire_document_list **out, quire_error *err);
    quire_status (*remove)(quire_store *st, const char *collection, const char *path,
                           quire_error *err);
    quire_status (*drop_collection)(quire_store *st, const char *collection, quire_error *err);
    /* every document matching the compiled metadata filter w, removed in one
     * transaction; *removed: how many */
    quire_status (*remove_where)(quire_store *st, const char *collection,
                                 const struct qr_where *w, int *removed, quire_error *err);
    /* ingest, the two steps that touch the store (quire_ingest_file does the rest):
     * the collection's settings and the stored sha256 of document key (QUIRE_NOT_FOUND:
     * no such collection), then the write of the prepared document in one transaction
     * (meta: the caller's normalised metadata or NULL; with the same sha256 and not
     * p->force only that metadata is written, outcome UNCHANGED). */
    quire_status (*ingest_lookup)(quire_store *st, const char *collection, const char *key,
                                  struct qr_coll *c, char old_sha[65], quire_error *err);
    quire_status (*ingest_write)(quire_store *st, const char *collection,
                                 const quire_ingest_params *p, const char *key,
                                 const struct qr_prepared *pp, const char *meta,
                                 quire_ingest_result *res, quire_error *err);
    /* every collection (or the one named) as export lines through qr_export_put, in one
     * snapshot (export.c opened and closes the output) */
    quire_status (*export_)(quire_store *st, const char *collection, struct qr_export_ctx *x,
                            quire_export_result *res, quire_error *err);
    quire_status (*reindex)(quire_store *st, const char *collection, quire_embedder *emb,
                            const quire_collection_params *params,
                            void (*progress)(void *user_data, long done, long total),
                            void *user_data, quire_error *err);
} qr_store_backend;

/* Open the PostgreSQL backend on st (st->path: the URL as given; sets st->be, st->be_data
 * and replaces st->path by the URL without its password, for messages). WITH_PG=0:
 * QUIRE_UNSUPPORTED. */
quire_status qr_pg_store_open(quire_store *st, const char *url, quire_error *err);
/* A call a backend does not support: QUIRE_UNSUPPORTED naming it and the store. */
quire_status qr_store_unsupported(const quire_store *st, const char *what, quire_error *err);

struct quire_store {
    const qr_store_backend *be; /* NULL: SQLite */
    void *be_data;              /* the backend's state */
    sqlite3 *db;
    char *path;
    int readonly;
    int schema;            /* the file's schema version (1: no documents.meta) */
    pthread_mutex_t lock;  /* serialises every use of db and of the loaded indexes */
    qr_loaded_index *idx;
    int n_idx, cap_idx;
};

/* A collection row, with its active index (index_id 0 = text-only). */
typedef struct qr_coll {
    long long id;
    long long index_id;
    char fingerprint[65];
    char model[128];
    char model_dir[512];
    int dims;
    int chunk_tokens, overlap;
    int hnsw_m, ef_construction, ef_search;
    char doc_prefix[64], query_prefix[64];
    char precision[8]; /* of the vectors: from the index's model description */
} qr_coll;

/* sqlite error -> quire_status with a message naming the store file. */
quire_status qr_store_sqlerr(quire_store *st, quire_error *err, const char *what);
/* Run SQL without results. */
quire_status qr_store_exec(quire_store *st, const char *sql, quire_error *err);
/* Look up a collection by name (lock held). QUIRE_NOT_FOUND when absent. */
quire_status qr_store_coll_get(quire_store *st, const char *name, qr_coll *c, quire_error *err);
void qr_reindex_settings(const qr_coll *old, const quire_collection_params *params, qr_coll *nc);
/* Read an index row's settings into c (lock held). */
quire_status qr_store_index_get(quire_store *st, long long index_id, qr_coll *c,
                                quire_error *err);
/* The in-memory HNSW of an index, loading (and repairing) it from the store on first use
 * (lock held). */
quire_status qr_store_index_load(quire_store *st, long long index_id, qr_loaded_index **out,
                                 quire_error *err);
/* PRAGMA data_version (changes when another connection commits), -1 on error. */
long long qr_store_data_version(quire_store *st);
/* After a commit (lock held): remove/add chunk ids in the loaded HNSW of an index (loading
 * it first if needed; vecs [n_add][dims]); saves the graph now and then. A failure only
 * costs graph work (the graph is repaired on next load). For the ingest and the search
 * replica (src/store/pg/replica.c). */
void qr_store_index_apply(quire_store *st, long long index_id, const int64_t *removed,
                          size_t n_rm, const int64_t *added, const float *vecs, size_t n_add);
/* Drop an index from memory without saving (lock held). */
void qr_store_index_unload(quire_store *st, long long index_id);
/* Save the graph of one loaded index in its own transaction (lock held; no transaction
 * open). */
quire_status qr_store_index_save(quire_store *st, qr_loaded_index *li, quire_error *err);
/* Model mismatch message: QUIRE_MISMATCH naming both models. */
quire_status qr_store_mismatch(quire_error *err, const char *collection, const qr_coll *c,
                               const quire_model *m);
/* Insert an index row for collection c with model m (fills c's model fields and
 * c->index_id; lock held, inside a transaction). */
quire_status qr_store_new_index(quire_store *st, qr_coll *c, const quire_model *m,
                                const char *state, quire_error *err);
/* Route SQLite's own allocations through qr_malloc (so qr_alloc_fail_at reaches them).
 * Must run before SQLite is first used in the process; 0 on success. For tests. */
int qr_store_route_sqlite_alloc(void);
/* Scale v[0..d) to unit length (no-op for a zero vector): the store keeps and queries
 * normalised vectors whatever the embedder was told. */
void qr_store_l2_normalize(float *v, int d);
/* The text a chunk is embedded as: prefix + heading path + blank line + text (the same
 * for ingest and reindex). qr_malloc'd, NUL-terminated; NULL when out of memory. */
char *qr_store_embed_text(const char *prefix, const char *heading, const char *text,
                          size_t len);
/* Current UTC time as ISO 8601 into buf[32]. */
void qr_store_now_iso(char buf[32]);

/* The JSON form of a hit (hit_json.c, docs/search-hits.md): every key always present,
 * null when absent. score_kind from qr_score_kind(mode actually used, text_rank). */
struct json_t;
struct json_t *qr_hit_json(const quire_hit *h, int rank, const char *score_kind);
const char *qr_score_kind(int mode, int text_rank);
#define QR_HIT_SCHEMA_VERSION 1

/* A compiled metadata filter (where.c): sql is a boolean expression over documents `d`
 * with n_params `?` placeholders, bound in order by qr_where_bind from index first. */
#define QR_WHERE_MAX_PARAMS 256
typedef struct qr_where {
    char *sql; /* NULL: no filter */
    struct json_t *params[QR_WHERE_MAX_PARAMS];
    int n_params;
} qr_where;
quire_status qr_where_compile(const char *json, qr_where *w, quire_error *err);
void qr_where_bind(const qr_where *w, sqlite3_stmt *s, int first);
void qr_where_free(qr_where *w);

/* ---- export.c pieces shared with the PostgreSQL backend: the lines of docs/export.md -- */
typedef struct qr_export_ctx {
    quire_store *st;
    FILE *f;
    const char *path; /* for messages */
    quire_error *err;
} qr_export_ctx;
/* Write o as one compact line and release it (NULL o: out of memory while making what). */
quire_status qr_export_put(qr_export_ctx *x, struct json_t *o, const char *what);
/* The header's entry of collection name with settings c (index_id 0: text-only). */
struct json_t *qr_export_coll_entry(const char *name, const qr_coll *c, const char *created,
                                    const char *describe, long long docs, long long chunks,
                                    long long vecs);
struct json_t *qr_export_header(int schema, struct json_t *collections);
/* report, meta: the stored JSON text (NULL: null; text that does not parse: a string) */
struct json_t *qr_export_doc_line(const char *coll, const char *key, const char *sha,
                                  long long size, int pages, int failed, const char *converted,
                                  const char *report, const char *meta);
/* text: UTF-8; vec: the stored float32 bytes or NULL (vb: scratch for the base64) */
struct json_t *qr_export_chunk_line(const char *coll, const char *key, long long chunk_id,
                                    int seq, int page_start, int page_end, const char *heading,
                                    const char *text, int n_tokens, const void *vec,
                                    size_t vec_len, qr_buf *vb);
struct json_t *qr_export_end(const quire_export_result *res);

/* ---- ingest.c pieces shared with the PostgreSQL workers (src/store/pg) ---------- */
/* Everything prepared outside the lock for one document. */
typedef struct qr_prepared {
    char sha[65];
    long long size;
    int pages, failed_pages;
    char *report;        /* JSON */
    qr_chunk_list chunks;
    float *vecs;         /* [n][dims] or NULL */
    int dims;
    char *pdf_meta;      /* the document's own metadata (pdf.* keys, JSON) or NULL */
} qr_prepared;
void qr_prepared_free(qr_prepared *p);
/* A new collection's settings from params (NULL = defaults) into c. */
void qr_ingest_coll_params(const quire_collection_params *in, qr_coll *c);
/* sha256 (hex) and size of a file's bytes. */
quire_status qr_ingest_hash(const char *path, char hex[65], long long *size, quire_error *err);
/* The key a file is recorded under (p->store_path, or its path relative to p->root, or
 * its realpath). */
quire_status qr_ingest_doc_key(const char *path, const quire_ingest_params *p, char *out,
                               size_t cap, quire_error *err);
/* A document's metadata: base (the caller's, or the stored document's, whose stale pdf.*
 * keys are dropped) plus the pdf.* keys of pdf it does not set. NULL when empty/OOM. */
char *qr_ingest_merge_meta(const char *base, int base_is_user, const char *pdf, int *oom);
quire_status qr_ingest_prepare(const char *path, const quire_ingest_params *p, const qr_coll *c,
                               qr_prepared *pp, quire_ingest_result *res, quire_error *err);
/* A client's query vector (qvec.c): a JSON array of numbers, a base64 string of float32
 * LE bytes, or an object with "embedding"/"vector" holding one. OUT: *out (qr_free), *n. */
quire_status qr_qvec_from_json(const struct json_t *v, float **out, int *n, quire_error *err);
/* The same from text (a file's contents): '[' or '{' starts JSON, else base64. */
quire_status qr_qvec_parse(const char *text, size_t len, float **out, int *n, quire_error *err);

#endif /* QR_STORE_INT_H */
