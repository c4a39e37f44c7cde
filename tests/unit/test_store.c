/*
 * test_store.c — the store through the public API: text and vector collections, search
 * modes, remove, persistence of the HNSW graph across reopen (and its repair when the
 * saved graph is stale or damaged), reindex, model mismatch, and failing every allocation
 * in turn (SQLite's own included) during an ingest: each run ends with an error status or
 * success, and the store stays consistent with the document either fully old or fully new.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "quire.h"
#include "store/store_int.h"
#include "testlib.h"

static char g_dir[4096];

static void write_md(const char *name, int i, const char *extra)
{
    char path[4200], buf[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    int n = snprintf(buf, sizeof buf,
                     "<!-- page 1 -->\n\n# Animal %d\n\nThe animal number %d is called "
                     "creature%d and eats food%d. %s\n\n<!-- page 2 -->\n\n## Habitat\n\nIt "
                     "lives in place%d near river%d.\n",
                     i, i, i, i, extra ? extra : "", i, i);
    T_CHECK(t_write_file(path, buf, (size_t)n) == 0);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static long long q1(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

static int integrity_ok(const char *db)
{
    sqlite3 *h = NULL;
    int ok = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return ok;
}

static quire_model *g_model;
static quire_embedder *g_emb;

static void open_model(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/tiny", t_shared());
    quire_error err = {0, ""};
    T_CHECKF(quire_model_open(dir, NULL, &g_model, &err) == QUIRE_OK, "%s", err.msg);
    if (g_model)
        T_CHECKF(quire_embedder_new(g_model, NULL, &g_emb, &err) == QUIRE_OK, "%s", err.msg);
}

static void test_text_roundtrip(void)
{
    char db[4200], p[4200];
    path_of(db, sizeof db, "text.db");
    quire_error err = {0, ""};
    quire_store *st = NULL;
    T_CHECKF(quire_store_open(db, 0, &st, &err) == QUIRE_OK, "%s", err.msg);
    if (!st)
        return;
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.md", i);
        write_md(name, i, NULL);
        path_of(p, sizeof p, name);
        quire_ingest_params ip = quire_ingest_default_params();
        ip.collection = "t";
        quire_ingest_result r;
        T_CHECKF(quire_ingest_file(st, p, &ip, &r, &err) == QUIRE_OK, "%s", err.msg);
        T_EQ_INT(r.outcome, QUIRE_INGEST_ADDED);
        T_CHECK(r.chunks >= 1);
    }
    quire_search_params sp = quire_search_default_params();
    sp.collection = "t";
    sp.k = 3;
    quire_hits *h = NULL;
    T_CHECKF(quire_search(st, "creature3 place3", &sp, &h, &err) == QUIRE_OK, "%s", err.msg);
    T_CHECK(h && h->n >= 1 && strstr(h->hits[0].document, "t3.md"));
    T_EQ_INT(h ? h->mode : -1, QUIRE_SEARCH_TEXT); /* hybrid on text-only falls back */
    T_CHECK(h && h->note[0]);
    /* page range from the markers */
    if (h && h->n) {
        T_CHECK(h->hits[0].page_start >= 1 && h->hits[0].page_end <= 2);
        T_CHECK(strstr(h->hits[0].snippet, "\xc2\xab") != NULL); /* a term is marked «…» */
    }
    quire_hits_free(h);
    /* unchanged file skipped; remove works */
    path_of(p, sizeof p, "t3.md");
    quire_ingest_params ip = quire_ingest_default_params();
    ip.collection = "t";
    quire_ingest_result r;
    T_CHECK(quire_ingest_file(st, p, &ip, &r, &err) == QUIRE_OK);
    T_EQ_INT(r.outcome, QUIRE_INGEST_UNCHANGED);
    T_CHECKF(quire_store_remove(st, "t", p, &err) == QUIRE_OK, "%s", err.msg);
    h = NULL;
    T_CHECK(quire_search(st, "creature3", &sp, &h, &err) == QUIRE_OK);
    T_EQ_INT(h ? h->n : -1, 0);
    quire_hits_free(h);
    T_EQ_INT(quire_store_remove(st, "t", p, &err), QUIRE_NOT_FOUND);
    quire_document_list *dl = NULL;
    T_CHECK(quire_store_documents(st, "t", &dl, &err) == QUIRE_OK);
    T_EQ_INT(dl ? dl->n : -1, 4);
    quire_document_list_free(dl);
    /* bad arguments */
    sp.mode = 7;
    T_EQ_INT(quire_search(st, "x", &sp, &h, &err), QUIRE_INVALID_ARG);
    sp.mode = QUIRE_SEARCH_VECTOR;
    T_EQ_INT(quire_search(st, "x", &sp, &h, &err), QUIRE_INVALID_ARG);
    sp.collection = "nope";
    sp.mode = 0;
    T_EQ_INT(quire_search(st, "x", &sp, &h, &err), QUIRE_NOT_FOUND);
    quire_store_close(st);
    T_CHECK(integrity_ok(db));
}

static void test_vectors_persist(void)
{
    if (!g_emb)
        return;
    char db[4200], p[4200];
    path_of(db, sizeof db, "vec.db");
    quire_error err = {0, ""};
    quire_store *st = NULL;
    T_CHECKF(quire_store_open(db, 0, &st, &err) == QUIRE_OK, "%s", err.msg);
    if (!st)
        return;
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.md", i);
        write_md(name, i, NULL);
        path_of(p, sizeof p, name);
        quire_ingest_params ip = quire_ingest_default_params();
        ip.collection = "v";
        ip.embedder = g_emb;
        T_CHECKF(quire_ingest_file(st, p, &ip, NULL, &err) == QUIRE_OK, "%s", err.msg);
    }
    quire_store_close(st);
    long long chunks = q1(db, "SELECT count(*) FROM chunks");
    T_CHECK(chunks >= 40);
    T_EQ_INT(q1(db, "SELECT count(*) FROM vectors"), chunks);
    T_EQ_INT(q1(db, "SELECT nodes FROM hnsw_graphs"), chunks); /* saved at close */
    /* reopen read-only: vector search, and exact == graph for the top hit */
    T_CHECK(quire_store_open(db, QUIRE_STORE_READONLY, &st, &err) == QUIRE_OK);
    quire_search_params sp = quire_search_default_params();
    sp.collection = "v";
    sp.k = 5;
    sp.mode = QUIRE_SEARCH_VECTOR;
    sp.embedder = g_emb;
    quire_hits *a = NULL, *b = NULL;
    T_CHECKF(quire_search(st, "The animal number 17 is called creature17 and eats food17.", &sp,
                          &a, &err) == QUIRE_OK,
             "%s", err.msg);
    sp.exact = 1;
    T_CHECK(quire_search(st, "The animal number 17 is called creature17 and eats food17.", &sp,
                         &b, &err) == QUIRE_OK);
    T_CHECK(a && b && a->n == 5 && b->n == 5);
    if (a && b && a->n && b->n) {
        T_EQ_INT(a->hits[0].chunk_id, b->hits[0].chunk_id);
        T_CHECK(a->hits[0].score > 0.5 && a->hits[0].score <= 1.0001);
    }
    quire_hits_free(a);
    quire_hits_free(b);
    /* hybrid finds the exact document first */
    sp.exact = 0;
    sp.mode = QUIRE_SEARCH_HYBRID;
    a = NULL;
    T_CHECK(quire_search(st, "creature23 food23", &sp, &a, &err) == QUIRE_OK);
    T_CHECK(a && a->n && strstr(a->hits[0].document, "v23.md"));
    quire_hits_free(a);
    quire_store_close(st);
    /* a damaged saved graph is rebuilt from the vectors, not trusted */
    sqlite3 *h = NULL;
    T_CHECK(sqlite3_open(db, &h) == SQLITE_OK);
    T_CHECK(sqlite3_exec(h, "UPDATE hnsw_graphs SET graph = zeroblob(length(graph))", NULL, NULL,
                         NULL) == SQLITE_OK);
    sqlite3_close(h);
    T_CHECK(quire_store_open(db, 0, &st, &err) == QUIRE_OK);
    a = NULL;
    sp.mode = QUIRE_SEARCH_VECTOR;
    quire_log_set(NULL, NULL, QUIRE_LOG_ERROR + 1); /* the rebuild warning is expected */
    T_CHECKF(quire_search(st, "creature5", &sp, &a, &err) == QUIRE_OK, "%s", err.msg);
    quire_log_set(NULL, NULL, QUIRE_LOG_WARN);
    T_CHECK(a && a->n == 5);
    quire_hits_free(a);
    quire_store_close(st);
    /* ... and saved again, valid */
    T_CHECK(q1(db, "SELECT count(*) FROM hnsw_graphs WHERE graph != zeroblob(length(graph))") == 1);
    T_CHECK(integrity_ok(db));
}

static void test_mismatch_and_reindex(void)
{
    if (!g_emb)
        return;
    char db[4200], p[4200];
    path_of(db, sizeof db, "vec.db");
    quire_error err = {0, ""};
    quire_store *st = NULL;
    T_CHECK(quire_store_open(db, 0, &st, &err) == QUIRE_OK);
    if (!st)
        return;
    /* an embedder with CLS pooling on the same folder is another model for the store? No:
     * the fingerprint is of the folder. Use the MiniLM-shaped model when built, else skip. */
    path_of(p, sizeof p, "v1.md");
    quire_ingest_params ip = quire_ingest_default_params();
    ip.collection = "v";
    ip.force = 1;
    ip.embedder = NULL;
    T_EQ_INT(quire_ingest_file(st, p, &ip, NULL, &err), QUIRE_MISMATCH);
    T_CHECK(strstr(err.msg, "tiny") != NULL);
    /* reindex with the same model rebuilds the index and keeps search working */
    long n0 = 0;
    quire_collection_info ci;
    T_CHECK(quire_store_collection(st, "v", &ci, &err) == QUIRE_OK);
    n0 = ci.chunks;
    T_CHECKF(quire_reindex(st, "v", g_emb, NULL, NULL, NULL, &err) == QUIRE_OK, "%s", err.msg);
    T_CHECK(quire_store_collection(st, "v", &ci, &err) == QUIRE_OK);
    T_EQ_INT(ci.vectors, n0);
    T_EQ_INT(ci.chunks, n0);
    quire_store_close(st);
    T_EQ_INT(q1(db, "SELECT count(*) FROM indexes"), 1);
    T_EQ_INT(q1(db, "SELECT count(*) FROM vectors"), n0);
}

/* Fail every allocation in turn while re-ingesting one changed document. */
static void test_alloc_failures(void)
{
    if (!g_emb)
        return;
    char db[4200], p[4200];
    path_of(db, sizeof db, "fail.db");
    path_of(p, sizeof p, "f.md");
    write_md("f.md", 1, "old version");
    quire_error err = {0, ""};
    quire_store *st = NULL;
    T_CHECK(quire_store_open(db, 0, &st, &err) == QUIRE_OK);
    quire_ingest_params ip = quire_ingest_default_params();
    ip.collection = "f";
    ip.embedder = g_emb;
    T_CHECK(quire_ingest_file(st, p, &ip, NULL, &err) == QUIRE_OK);
    quire_store_close(st);
    long long old_chunks = q1(db, "SELECT count(*) FROM chunks");
    write_md("f.md", 1, "new version with more words in it to change the hash");
    int errors = 0, ok_at = 0, inconsistent = 0;
    for (long n = 1; n < 200000; n++) {
        qr_alloc_fail_at(n);
        st = NULL;
        quire_status rc = quire_store_open(db, 0, &st, &err);
        if (rc == QUIRE_OK)
            rc = quire_ingest_file(st, p, &ip, NULL, &err);
        quire_store_close(st);
        qr_alloc_fail_at(0);
        /* consistent: integrity ok, every chunk has its vector, the document has chunks */
        long long ch = q1(db, "SELECT count(*) FROM chunks");
        long long ve = q1(db, "SELECT count(*) FROM vectors");
        long long docs = q1(db, "SELECT count(*) FROM documents");
        if (!integrity_ok(db) || ch != ve || docs != 1 || ch < 1) {
            inconsistent++;
            if (inconsistent < 3)
                t_fail(__FILE__, __LINE__, "after failing allocation %ld: chunks %lld vectors "
                       "%lld docs %lld", n, ch, ve, docs);
        }
        if (rc == QUIRE_OK) {
            ok_at = (int)n;
            break;
        }
        errors++;
        T_CHECKF(err.msg[0] != 0, "allocation %ld: empty message", n);
    }
    T_CHECK(ok_at > 0);
    T_EQ_INT(inconsistent, 0);
    T_CHECK(q1(db, "SELECT count(*) FROM chunks WHERE text LIKE '%new version%'") >= 1);
    printf("  failed each of the first %d allocations (SQLite's included; the old document "
           "had %lld chunks): 0 inconsistent stores\n",
           errors, old_chunks);
}

int main(void)
{
    /* before SQLite is used anywhere in this process */
    int routed = qr_store_route_sqlite_alloc();
    snprintf(g_dir, sizeof g_dir, "%s", t_tmpdir());
    open_model();
    T_RUN(test_text_roundtrip);
    T_RUN(test_vectors_persist);
    T_RUN(test_mismatch_and_reindex);
    if (routed == 0)
        T_RUN(test_alloc_failures);
    quire_embedder_free(g_emb);
    quire_model_close(g_model);
    return t_done();
}
