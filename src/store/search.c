/*
 * search.c — hybrid search: BM25 over the FTS5 index and vector search over the
 * collection's HNSW (exact when the collection is small or a filter is selective),
 * fused by reciprocal rank fusion; hits carry document, pages, heading path and a
 * snippet with the query terms marked.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Below this many vectors, exact search is used: it is exact and as fast as the graph.
 * Measured (bench_search, 384 dims, 1 thread, ef 64): 2k vectors exact 22.6k QPS vs HNSW
 * 27.0k; 10k: exact 4.0k vs HNSW 29.0k; 30k: 0.95k vs 19.7k. */
#define QR_EXACT_BELOW 2048
/* A filter that allows fewer than 1/QR_SELECTIVE of the vectors is searched exactly
 * over the allowed ones (a graph search would starve). */
#define QR_SELECTIVE 10
#define QR_RRF_K 60.0

quire_search_params quire_search_default_params(void)
{
    quire_search_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void quire_hits_free(quire_hits *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++) {
        qr_free((char *)h->hits[i].document);
        qr_free((char *)h->hits[i].heading);
        qr_free((char *)h->hits[i].text);
        qr_free((char *)h->hits[i].snippet);
        qr_free((char *)h->hits[i].metadata);
    }
    qr_free(h->hits);
    qr_free(h);
}

/* ---- query terms ----------------------------------------------------------------- */

typedef struct terms {
    char **t;
    int n;
    unsigned char stop[64]; /* 1 = a common English word: searched, but not marked */
} terms;

static int is_stopword(const char *w)
{
    static const char *const sw[] = {
        "a",     "an",    "and",   "are",  "as",    "at",   "be",   "but",  "by",   "can",
        "do",    "does",  "for",   "from", "has",   "have", "he",   "her",  "his",  "how",
        "i",     "if",    "in",    "into", "is",    "it",   "its",  "not",  "of",   "on",
        "or",    "she",   "so",    "than", "that",  "the",  "their", "them", "then", "there",
        "these", "they",  "this",  "to",   "was",   "we",   "were", "what", "when", "where",
        "which", "who",   "why",   "will", "with",  "you",  "your", NULL};
    for (int i = 0; sw[i]; i++)
        if (strcmp(sw[i], w) == 0)
            return 1;
    return 0;
}

static void terms_free(terms *q)
{
    for (int i = 0; i < q->n; i++)
        qr_free(q->t[i]);
    qr_free(q->t);
    q->t = NULL;
    q->n = 0;
}

static int is_word_byte(unsigned char c) { return isalnum(c) || c >= 0x80; }

/* Lowercased word tokens of the query (distinct, at most 64). */
static quire_status query_terms(const char *q, terms *out, quire_error *err)
{
    memset(out, 0, sizeof(*out));
    out->t = qr_calloc(64, sizeof(char *));
    if (!out->t)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    const unsigned char *p = (const unsigned char *)q;
    while (*p && out->n < 64) {
        while (*p && !is_word_byte(*p))
            p++;
        const unsigned char *b = p;
        while (*p && is_word_byte(*p))
            p++;
        if (p == b)
            break;
        size_t len = (size_t)(p - b);
        if (len > 64)
            len = 64;
        char *w = qr_strndup((const char *)b, len);
        if (!w) {
            terms_free(out);
            return qr_err(err, QUIRE_NOMEM, "out of memory");
        }
        for (char *c = w; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        int dup = 0;
        for (int i = 0; i < out->n && !dup; i++)
            dup = strcmp(out->t[i], w) == 0;
        if (dup) {
            qr_free(w);
        } else {
            out->stop[out->n] = (unsigned char)is_stopword(w);
            out->t[out->n++] = w;
        }
    }
    /* a query of stopwords only ("to be or not to be") marks them after all */
    int all_stop = 1;
    for (int i = 0; i < out->n; i++)
        all_stop &= out->stop[i];
    if (all_stop)
        memset(out->stop, 0, sizeof out->stop);
    return QUIRE_OK;
}

/* FTS5 expression: "t1" OR "t2" ... (each term quoted, so no FTS syntax leaks in). */
static void fts_expr(const terms *q, qr_buf *b)
{
    for (int i = 0; i < q->n; i++) {
        if (i)
            qr_buf_append(b, " OR ", 4);
        qr_buf_putc(b, '"');
        for (const char *c = q->t[i]; *c; c++) {
            if (*c == '"')
                qr_buf_putc(b, '"');
            qr_buf_putc(b, *c);
        }
        qr_buf_putc(b, '"');
    }
    qr_buf_putc(b, 0);
}

/* A word of the text matches a term when equal, or when they share a prefix of at least
 * 4 bytes and one is a prefix-extension of the other by a suffix (run ~ running). */
static int word_matches(const terms *q, const char *w, size_t len)
{
    char low[72];
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    low[len] = 0;
    for (int i = 0; i < q->n; i++) {
        if (q->stop[i])
            continue;
        const char *t = q->t[i];
        size_t tl = strlen(t);
        if (tl == len && memcmp(t, low, len) == 0)
            return 1;
        size_t common = 0;
        while (common < tl && common < len && t[common] == low[common])
            common++;
        /* inflections: a shared stem of >= 4 bytes (or the whole of a 3-byte word) with
           short endings on both sides: design ~ designer ~ designed, run ~ running */
        size_t shorter = tl < len ? tl : len;
        if (shorter >= 3 && common >= (shorter < 4 ? shorter : 4) && tl - common <= 4 &&
            len - common <= 4)
            return 1;
    }
    return 0;
}

/* ~30 words around the densest run of matches, matches between open and close. */
static char *make_snippet(const char *text, const terms *q, const char *open,
                          const char *close, int *n_marked)
{
    enum { WIN = 30, MAXW = 4096 };
    size_t starts[MAXW], lens[MAXW];
    unsigned char match[MAXW];
    int nw = 0;
    const char *p = text;
    while (*p && nw < MAXW) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *b = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        starts[nw] = (size_t)(b - text);
        lens[nw] = (size_t)(p - b);
        /* any word-character run inside (GNUPLOT_LIB, e-mail, x.y: the text index splits
           them too) */
        match[nw] = 0;
        for (const char *r = b; r < p && !match[nw];) {
            while (r < p && !is_word_byte((unsigned char)*r))
                r++;
            const char *re = r;
            while (re < p && is_word_byte((unsigned char)*re))
                re++;
            if (re > r)
                match[nw] = (unsigned char)word_matches(q, r, (size_t)(re - r));
            r = re;
        }
        nw++;
    }
    int best = 0, best_count = -1, count = 0;
    for (int i = 0; i < nw; i++) {
        count += match[i];
        if (i >= WIN)
            count -= match[i - WIN];
        int s = i - WIN + 1 < 0 ? 0 : i - WIN + 1;
        if (count > best_count) {
            best_count = count;
            best = s;
        }
    }
    /* start a few words before the window's first match (never past it, so the snippet
       always shows a match when the text has one) */
    if (best_count > 0) {
        int f = best;
        while (f < nw && !match[f])
            f++;
        best = f > 4 ? f - 4 : 0;
    }
    int end = best + WIN < nw ? best + WIN : nw;
    if (n_marked)
        *n_marked = best_count > 0 ? best_count : 0;
    qr_buf b;
    qr_buf_init(&b, 0);
    if (best > 0)
        qr_buf_append(&b, "\xe2\x80\xa6 ", 4);
    for (int i = best; i < end; i++) {
        if (i > best)
            qr_buf_putc(&b, ' ');
        const char *w = text + starts[i];
        size_t l = lens[i];
        if (match[i]) {
            size_t a = 0, z = l;
            while (a < z && !is_word_byte((unsigned char)w[a]))
                a++;
            while (z > a && !is_word_byte((unsigned char)w[z - 1]))
                z--;
            qr_buf_append(&b, w, a);
            qr_buf_append(&b, open, strlen(open));
            qr_buf_append(&b, w + a, z - a);
            qr_buf_append(&b, close, strlen(close));
            qr_buf_append(&b, w + z, l - z);
        } else {
            qr_buf_append(&b, w, l);
        }
    }
    if (end < nw || *p)
        qr_buf_append(&b, " \xe2\x80\xa6", 4);
    qr_buf_putc(&b, 0);
    if (b.failed) {
        qr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- candidate lists ---------------------------------------------------------- */

/* A candidate and the key that orders equal scores: (document path, chunk seq), the
 * content's own order, so every store holding the same documents ranks ties the same
 * (chunk ids differ between stores: a SQLite ingest, PostgreSQL workers, a replica).
 * path is NULL until needed; owned: this entry frees it. */
typedef struct cand {
    int64_t id;
    double score;
    char *path;
    int seq;
    int owned;
} cand;

/* best first: higher score, then (path, seq) bytewise, then id (keys not read) */
static int cand_order(const cand *x, const cand *y)
{
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->path && y->path) {
        int c = strcmp(x->path, y->path);
        if (c)
            return c < 0 ? -1 : 1;
        if (x->seq != y->seq)
            return x->seq < y->seq ? -1 : 1;
    }
    return x->id < y->id ? -1 : x->id > y->id;
}

static void cand_release(cand *c)
{
    if (c->owned)
        qr_free(c->path);
    c->path = NULL;
    c->owned = 0;
}

/* The key of chunk c->id (lock held). */
static quire_status cand_key(quire_store *st, cand *c, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT d.path, ch.seq FROM chunks ch JOIN documents d"
                           " ON d.id = ch.document_id WHERE ch.id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading a hit");
    sqlite3_bind_int64(s, 1, c->id);
    quire_status rc = QUIRE_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *pth = (const char *)sqlite3_column_text(s, 0);
        if (!(c->path = qr_strdup(pth ? pth : "")))
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        c->owned = c->path != NULL;
        c->seq = sqlite3_column_int(s, 1);
    } else {
        rc = qr_store_sqlerr(st, err, "reading a hit");
    }
    sqlite3_finalize(s);
    return rc;
}

/* base[0..n) (elements of size sz, each starting with a cand) sorted by score, best first:
 * every run of equal scores that starts before limit is put in (path, seq) order, the
 * keys read where missing (lock held). */
static quire_status order_ties(quire_store *st, void *base, int n, size_t sz, int limit,
                               int (*cmp)(const void *, const void *), quire_error *err)
{
    char *b = base;
    for (int i = 0; i < n && i < limit;) {
        int j = i + 1;
        while (j < n && ((cand *)(b + (size_t)j * sz))->score == ((cand *)(b + (size_t)i * sz))->score)
            j++;
        if (j - i > 1) {
            for (int x = i; x < j; x++) {
                cand *c = (cand *)(b + (size_t)x * sz);
                quire_status rc = c->path ? QUIRE_OK : cand_key(st, c, err);
                if (rc != QUIRE_OK)
                    return rc;
            }
            qsort(b + (size_t)i * sz, (size_t)(j - i), sz, cmp);
        }
        i = j;
    }
    return QUIRE_OK;
}

/* ---- phrase and proximity ------------------------------------------------------ */

/* FNV-1a of the lowercased word text[0..len). */
static uint64_t word_hash(const char *w, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)tolower((unsigned char)w[i]);
        h *= 1099511628211ull;
    }
    return h;
}

/* Hashes of the words of s in order (at most max); returns the count. */
static int word_seq(const char *s, uint64_t *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p && n < max) {
        while (*p && !is_word_byte((unsigned char)*p))
            p++;
        const char *b = p;
        while (*p && is_word_byte((unsigned char)*p))
            p++;
        if (p == b)
            break;
        out[n++] = word_hash(b, (size_t)(p - b));
    }
    return n;
}

static uint64_t pair_hash(uint64_t a, uint64_t b) { return (a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2)); }

/* Share of the query's adjacent word pairs that occur adjacent, in the same order, in
 * text (0..1; 0 when the query has fewer than 2 words). */
static double phrase_share(const uint64_t *qw, int nq, const char *text)
{
    if (nq < 2)
        return 0;
    enum { MAXW = 8192 };
    uint64_t *tw = qr_malloc(MAXW * sizeof(uint64_t));
    if (!tw)
        return 0;
    int nt = word_seq(text, tw, MAXW);
    size_t cap = 64;
    while (cap < (size_t)nt * 2)
        cap <<= 1;
    uint64_t *set = qr_calloc(cap, sizeof(uint64_t));
    double share = 0;
    if (set) {
        for (int i = 0; i + 1 < nt; i++) {
            uint64_t h = pair_hash(tw[i], tw[i + 1]) | 1; /* 0 = empty slot */
            size_t j = (size_t)h & (cap - 1);
            while (set[j] && set[j] != h)
                j = (j + 1) & (cap - 1);
            set[j] = h;
        }
        int found = 0;
        for (int i = 0; i + 1 < nq; i++) {
            uint64_t h = pair_hash(qw[i], qw[i + 1]) | 1;
            size_t j = (size_t)h & (cap - 1);
            while (set[j] && set[j] != h)
                j = (j + 1) & (cap - 1);
            found += set[j] == h;
        }
        share = (double)found / (nq - 1);
    }
    qr_free(set);
    qr_free(tw);
    return share;
}

static int cmp_cand(const void *a, const void *b)
{
    return cand_order(a, b);
}

/* What a search keeps: a path glob and/or a compiled metadata filter. */
typedef struct qr_filter {
    const char *glob;
    const qr_where *where;
} qr_filter;

static int filter_on(const qr_filter *f) { return f->glob || (f->where && f->where->sql); }

/* Appends " AND ..." for f, its parameters numbered from first (glob as ?first, the
 * filter's own as anonymous ?s after it); returns the next free parameter number. */
static int filter_sql(qr_buf *b, const qr_filter *f, int first)
{
    if (f->glob)
        qr_buf_printf(b, " AND d.path GLOB ?%d", first++);
    if (f->where && f->where->sql) {
        qr_buf_printf(b, " AND %s", f->where->sql);
        first += f->where->n_params;
    }
    return first;
}

static void filter_bind(sqlite3_stmt *s, const qr_filter *f, int first)
{
    if (f->glob)
        sqlite3_bind_text(s, first++, f->glob, -1, SQLITE_STATIC);
    if (f->where && f->where->sql)
        qr_where_bind(f->where, s, first);
}

#define QR_PHRASE_POOL 200
#define QR_PHRASE_WEIGHT 1.5

/* Text candidates, top n (lock held): FTS5 BM25 over the query terms; with phrase ranking
 * (enum quire_text_rank) the best QR_PHRASE_POOL are re-scored by phrase share. */
static quire_status text_candidates(quire_store *st, const qr_coll *c, const terms *q,
                                    const char *query, int rank_mode, const qr_filter *flt, int n,
                                    cand *out, int *n_out, quire_error *err)
{
    *n_out = 0;
    if (q->n == 0)
        return QUIRE_OK;
    uint64_t qw[64];
    int nq = rank_mode == QUIRE_TEXT_RANK_BM25 ? 0 : word_seq(query, qw, 64);
    int phrase = nq >= 2;
    int pool = phrase ? QR_MAX(n, QR_PHRASE_POOL) : n;
    cand *cs = phrase ? qr_calloc((size_t)pool, sizeof(cand)) : out;
    if (!cs)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    qr_buf e;
    qr_buf_init(&e, 0);
    fts_expr(q, &e);
    if (e.failed) {
        qr_buf_free(&e);
        if (cs != out)
            qr_free(cs);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = NULL;
    quire_status rc = QUIRE_OK;
    qr_buf sql;
    qr_buf_init(&sql, 0);
    qr_buf_printf(&sql, "SELECT f.rowid, bm25(chunks_fts, 0.5, 1.0) AS r, ch.text, d.path,"
                        " ch.seq FROM chunks_fts f"
                        " JOIN chunks ch ON ch.id = f.rowid JOIN documents d ON d.id = ch.document_id"
                        " WHERE chunks_fts MATCH ?1 AND d.collection_id = ?2");
    int limit_at = filter_sql(&sql, flt, 3);
    /* equal scores in (path, seq) order, the cut at the limit too (see cand) */
    qr_buf_printf(&sql, " ORDER BY r, d.path, ch.seq LIMIT ?%d", limit_at);
    qr_buf_putc(&sql, 0);
    if (sql.failed) {
        qr_buf_free(&sql);
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    int prep = sqlite3_prepare_v2(st->db, sql.data, -1, &s, NULL);
    qr_buf_free(&sql);
    if (prep != SQLITE_OK) {
        rc = qr_store_sqlerr(st, err, "text search");
        goto out;
    }
    sqlite3_bind_text(s, 1, e.data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->id);
    filter_bind(s, flt, 3);
    sqlite3_bind_int(s, limit_at, pool);
    int r, got = 0;
    double best = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && got < pool) {
        cs[got].id = sqlite3_column_int64(s, 0);
        cs[got].score = -sqlite3_column_double(s, 1);
        const char *pth = (const char *)sqlite3_column_text(s, 3);
        cs[got].path = qr_strdup(pth ? pth : "");
        cs[got].owned = 1;
        cs[got].seq = sqlite3_column_int(s, 4);
        if (!cs[got].path) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            got++;
            break;
        }
        if (phrase) {
            if (got == 0)
                best = cs[0].score > 0 ? cs[0].score : 1;
            const char *t = (const char *)sqlite3_column_text(s, 2);
            cs[got].score = cs[got].score / best +
                            QR_PHRASE_WEIGHT * (t ? phrase_share(qw, nq, t) : 0);
        }
        got++;
    }
    if (rc == QUIRE_OK && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = qr_store_sqlerr(st, err, "text search");
    if (rc == QUIRE_OK && phrase) {
        qsort(cs, (size_t)got, sizeof(cand), cmp_cand);
        int keep = QR_MIN(got, n);
        memcpy(out, cs, (size_t)keep * sizeof(cand));
        for (int i = keep; i < got; i++)
            cand_release(&cs[i]);
        got = keep;
    }
    if (rc == QUIRE_OK)
        *n_out = got;
    else
        for (int i = 0; i < got; i++)
            cand_release(&cs[i]);
out:
    sqlite3_finalize(s);
    qr_buf_free(&e);
    if (cs != out)
        qr_free(cs);
    return rc;
}

typedef struct allowed_set {
    int64_t *ids; /* sorted */
    size_t n;
} allowed_set;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int allowed_fn(int64_t label, void *ud)
{
    const allowed_set *a = ud;
    return bsearch(&label, a->ids, a->n, sizeof(int64_t), cmp_i64) != NULL;
}

static quire_status allowed_chunks(quire_store *st, const qr_coll *c, const qr_filter *flt,
                                   allowed_set *a, quire_error *err)
{
    memset(a, 0, sizeof(*a));
    sqlite3_stmt *s = NULL;
    qr_buf sql;
    qr_buf_init(&sql, 0);
    qr_buf_printf(&sql, "SELECT ch.id FROM chunks ch JOIN documents d ON d.id = ch.document_id"
                        " WHERE d.collection_id = ?1");
    filter_sql(&sql, flt, 2);
    qr_buf_printf(&sql, " ORDER BY ch.id");
    qr_buf_putc(&sql, 0);
    if (sql.failed) {
        qr_buf_free(&sql);
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    }
    int prep = sqlite3_prepare_v2(st->db, sql.data, -1, &s, NULL);
    qr_buf_free(&sql);
    if (prep != SQLITE_OK)
        return qr_store_sqlerr(st, err, "filtering");
    sqlite3_bind_int64(s, 1, c->id);
    filter_bind(s, flt, 2);
    size_t cap = 0;
    int r;
    quire_status rc = QUIRE_OK;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (a->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            int64_t *t = qr_realloc(a->ids, nc * sizeof(*t));
            if (!t) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                break;
            }
            a->ids = t;
            cap = nc;
        }
        a->ids[a->n++] = sqlite3_column_int64(s, 0);
    }
    if (rc == QUIRE_OK && r != SQLITE_DONE)
        rc = qr_store_sqlerr(st, err, "filtering");
    sqlite3_finalize(s);
    return rc;
}

/* Vector top n (lock held). */
static quire_status vector_candidates(quire_store *st, const qr_coll *c, const float *qv,
                                      const qr_filter *flt, int ef, int exact, int n, cand *out,
                                      int *n_out, int *used_exact, quire_error *err)
{
    *n_out = 0;
    qr_loaded_index *li = NULL;
    quire_status rc;
    /* another process changed the store since this index was loaded: reload */
    for (int i = 0; i < st->n_idx; i++)
        if (st->idx[i].id == c->index_id && st->idx[i].data_version != qr_store_data_version(st))
            qr_store_index_unload(st, c->index_id);
    if ((rc = qr_store_index_load(st, c->index_id, &li, err)) != QUIRE_OK)
        return rc;
    allowed_set a;
    memset(&a, 0, sizeof a);
    int filtered = filter_on(flt);
    if (filtered && (rc = allowed_chunks(st, c, flt, &a, err)) != QUIRE_OK)
        return rc;
    size_t total = qr_hnsw_size(li->hnsw);
    size_t reachable = filtered ? a.n : total;
    int want = (int)QR_MIN((size_t)n, reachable);
    int64_t *labels = NULL;
    float *scores = NULL;
    cand *all = NULL;
    int got = 0;
    qr_hnsw_filter_fn f = filtered ? allowed_fn : NULL;
    *used_exact = exact || total < QR_EXACT_BELOW || (filtered && a.n * QR_SELECTIVE < total);
    /* Ask for one more than n: when the n-th and the last scores are equal, a run of
       equal scores may go on past the cut, so ask for twice as many until it ends; the
       run is then cut in (path, seq) order (cand), not by chunk id. */
    int kreq = n + 1;
    for (;;) {
        int64_t *tl = qr_realloc(labels, (size_t)kreq * sizeof(*labels));
        if (tl)
            labels = tl;
        float *ts = tl ? qr_realloc(scores, (size_t)kreq * sizeof(*scores)) : NULL;
        if (!ts) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto out;
        }
        scores = ts;
        got = 0;
        if (want > 0 && !*used_exact) {
            /* a filter drops the share of candidates it rejects: widen the list to match */
            int efw = QR_MAX(ef, kreq);
            if (filtered && a.n > 0)
                efw = (int)QR_MIN((double)efw * (double)total / (double)a.n,
                                  (double)QR_MAX(4096, kreq));
            rc = qr_hnsw_search(li->hnsw, NULL, qv, kreq, efw, f, &a, labels, scores, &got, err);
            if (rc != QUIRE_OK)
                goto out;
            if (got < want)
                *used_exact = 1; /* the filter starved the graph search */
        }
        if (want > 0 && *used_exact) {
            rc = qr_hnsw_search_exact(li->hnsw, qv, kreq, f, &a, labels, scores, &got, err);
            if (rc != QUIRE_OK)
                goto out;
        }
        if (got < kreq || got <= n || scores[got - 1] != scores[n - 1] ||
            (size_t)kreq > total)
            break;
        kreq = (int)QR_MIN((size_t)kreq * 2, total + 1);
    }
    if (got > 0 && !(all = qr_calloc((size_t)got, sizeof(*all)))) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < got; i++) {
        all[i].id = labels[i];
        all[i].score = scores[i];
    }
    rc = order_ties(st, all, got, sizeof(*all), n, cmp_cand, err);
    int keep = QR_MIN(got, n);
    for (int i = 0; i < got; i++) {
        if (rc == QUIRE_OK && i < keep)
            out[i] = all[i];
        else
            cand_release(&all[i]);
    }
    if (rc == QUIRE_OK)
        *n_out = keep;
out:
    qr_free(all);
    qr_free(labels);
    qr_free(scores);
    qr_free(a.ids);
    return rc;
}

/* ---- fusion and hit details ---------------------------------------------------- */

typedef struct fused {
    cand c; /* first: order_ties sees a fused as its cand */
    int trank, vrank;
    double tscore, vscore;
} fused;

static int cmp_fused(const void *a, const void *b)
{
    return cand_order(&((const fused *)a)->c, &((const fused *)b)->c);
}

static fused *fused_find(fused *f, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (f[i].c.id == id)
            return &f[i];
    return NULL;
}

static quire_status fill_hit(quire_store *st, int64_t id, const terms *q,
                             const quire_search_params *p, quire_hit *h, quire_error *err)
{
    sqlite3_stmt *s = NULL;
    quire_status rc = QUIRE_OK;
    if (sqlite3_prepare_v2(st->db,
                           st->schema >= 2
                               ? "SELECT d.path, ch.page_start, ch.page_end, ch.heading, ch.text,"
                                 " d.meta FROM chunks ch JOIN documents d ON d.id = ch.document_id"
                                 " WHERE ch.id = ?"
                               : "SELECT d.path, ch.page_start, ch.page_end, ch.heading, ch.text,"
                                 " NULL FROM chunks ch JOIN documents d ON d.id = ch.document_id"
                                 " WHERE ch.id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return qr_store_sqlerr(st, err, "reading a hit");
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        h->chunk_id = id;
        /* NULL text (NOT NULL in the schema: a damaged file) reads as "" */
        const char *doc = (const char *)sqlite3_column_text(s, 0);
        const char *heading = (const char *)sqlite3_column_text(s, 3);
        const char *text = (const char *)sqlite3_column_text(s, 4);
        h->document = qr_strdup(doc ? doc : "");
        h->page_start = sqlite3_column_int(s, 1);
        h->page_end = sqlite3_column_int(s, 2);
        h->heading = qr_strdup(heading ? heading : "");
        h->text = qr_strdup(text ? text : "");
        const char *meta = (const char *)sqlite3_column_text(s, 5);
        h->metadata = meta ? qr_strdup(meta) : NULL;
        const char *open = p->highlight_open ? p->highlight_open : "\xc2\xab";
        const char *close = p->highlight_close ? p->highlight_close : "\xc2\xbb";
        int marked = 0;
        h->snippet = h->text ? make_snippet(h->text, q, open, close, &marked) : NULL;
        /* matched by common words only ("you can"): mark those */
        if (!marked && h->snippet) {
            terms all = *q;
            memset(all.stop, 0, sizeof all.stop);
            char *s2 = make_snippet(h->text, &all, open, close, &marked);
            if (s2 && marked) {
                qr_free((char *)h->snippet);
                h->snippet = s2;
            } else {
                qr_free(s2);
                marked = 0;
            }
        }
        /* matched by its heading only: the snippet starts with the marked heading, so it
           always shows why the hit is there */
        int hmarked = 0;
        char *hs = !marked && h->snippet && h->heading && h->heading[0]
                       ? make_snippet(h->heading, q, open, close, &hmarked)
                       : NULL;
        if (hs && hmarked) {
            qr_buf b;
            qr_buf_init(&b, 0);
            qr_buf_printf(&b, "%s \xc2\xb7 %s", hs, h->snippet);
            if (!b.failed) {
                qr_free((char *)h->snippet);
                h->snippet = b.data;
            } else {
                qr_buf_free(&b);
            }
        }
        qr_free(hs);
        if (!h->document || !h->heading || !h->text || !h->snippet)
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
    } else {
        rc = r == SQLITE_DONE ? qr_err(err, QUIRE_NOT_FOUND, "%s: chunk %lld vanished", st->path,
                                       (long long)id)
                              : qr_store_sqlerr(st, err, "reading a hit");
    }
    sqlite3_finalize(s);
    return rc;
}

/* A caller's query vector (params.vector): the collection has vectors of its size, the
 * mode uses it, the values are finite and not all zero. */
static quire_status check_query_vector(const quire_search_params *p, const qr_coll *c,
                                       const char *cname, int mode, const terms *q,
                                       quire_error *err)
{
    if (mode == QUIRE_SEARCH_TEXT)
        return qr_err(err, QUIRE_INVALID_ARG,
                      "a query vector needs vector or hybrid mode, not text");
    if (!c->index_id)
        return qr_err(err, QUIRE_INVALID_ARG,
                      "collection '%s' is text-only (ingested without a model): it has no "
                      "vectors to search by a query vector",
                      cname);
    if (p->vector_dims != c->dims)
        return qr_err(err, QUIRE_INVALID_ARG,
                      "the query vector has %d dimensions; collection '%s' holds %d-dim "
                      "vectors (model '%s')",
                      p->vector_dims, cname, c->dims, c->model);
    if (mode == QUIRE_SEARCH_HYBRID && q->n == 0)
        return qr_err(err, QUIRE_INVALID_ARG,
                      "hybrid search by a query vector needs query text too (for BM25); "
                      "use vector mode for the vector alone");
    int nonzero = 0;
    for (int i = 0; i < c->dims; i++) {
        if (!isfinite(p->vector[i]))
            return qr_err(err, QUIRE_INVALID_ARG,
                          "the query vector's value %d is not a finite number", i);
        nonzero |= p->vector[i] != 0.0f;
    }
    if (!nonzero)
        return qr_err(err, QUIRE_INVALID_ARG, "the query vector is all zeros");
    return QUIRE_OK;
}

quire_status quire_search(quire_store *st, const char *query, const quire_search_params *p,
                          quire_hits **out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_search: out is NULL");
    *out = NULL;
    if (!st || !query)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_search: NULL argument");
    if (st->be) /* search runs on a local SQLite copy (FTS5 + HNSW) */
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s: a %s store is searched through a local SQLite copy: quire search "
                      "--db URL --cache FILE",
                      st->path, st->be->name);
    quire_search_params defp = quire_search_default_params();
    if (!p)
        p = &defp;
    const char *cname = p->collection ? p->collection : "default";
    int k = p->k > 0 ? p->k : 10;
    if (k > 1000)
        return qr_err(err, QUIRE_LIMIT, "k = %d: at most 1000 hits per search", k);
    if (p->mode < QUIRE_SEARCH_HYBRID || p->mode > QUIRE_SEARCH_TEXT)
        return qr_err(err, QUIRE_INVALID_ARG, "search mode %d is not hybrid, vector or text",
                      p->mode);
    quire_hits *h = qr_calloc(1, sizeof(*h));
    terms q;
    memset(&q, 0, sizeof q);
    float *qv = NULL;
    cand *tc = NULL, *vc = NULL;
    fused *fu = NULL;
    int ntc = 0, nvc = 0, nlist_f = 0;
    qr_where where;
    memset(&where, 0, sizeof where);
    qr_filter flt = {p->path_glob, &where};
    if (!h)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    quire_status rc = query_terms(query, &q, err);
    if (rc != QUIRE_OK)
        goto fail;
    if (p->where && st->schema < 2) {
        rc = qr_err(err, QUIRE_UNSUPPORTED,
                    "%s: store schema version %d has no metadata to filter on: open it once "
                    "for writing (e.g. quire ingest) to migrate it to version %d",
                    st->path, st->schema, QR_STORE_SCHEMA);
        goto fail;
    }
    if ((rc = qr_where_compile(p->where, &where, err)) != QUIRE_OK)
        goto fail;

    qr_coll c;
    pthread_mutex_lock(&st->lock);
    rc = qr_store_coll_get(st, cname, &c, err);
    pthread_mutex_unlock(&st->lock);
    if (rc != QUIRE_OK)
        goto fail;
    int mode = p->mode;
    if (p->vector && (rc = check_query_vector(p, &c, cname, mode, &q, err)) != QUIRE_OK)
        goto fail;
    if (mode != QUIRE_SEARCH_TEXT && !c.index_id) {
        if (mode == QUIRE_SEARCH_VECTOR) {
            rc = qr_err(err, QUIRE_INVALID_ARG,
                        "collection '%s' is text-only (ingested without a model): use text "
                        "mode, or add vectors with quire reindex --model",
                        cname);
            goto fail;
        }
        mode = QUIRE_SEARCH_TEXT;
        snprintf(h->note, sizeof h->note, "collection '%s' is text-only: text (BM25) search",
                 cname);
    }
    if (p->vector) {
        if (!(qv = qr_malloc((size_t)c.dims * sizeof(float)))) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(qv, p->vector, (size_t)c.dims * sizeof(float));
        qr_store_l2_normalize(qv, c.dims);
    } else if (mode != QUIRE_SEARCH_TEXT) {
        if (!p->embedder) {
            rc = qr_err(err, QUIRE_INVALID_ARG,
                        "%s search of collection '%s' needs its model '%s' (%s)",
                        mode == QUIRE_SEARCH_VECTOR ? "vector" : "hybrid", cname, c.model,
                        c.model_dir);
            goto fail;
        }
        const quire_model *m = quire_embedder_model(p->embedder);
        if (strcmp(quire_model_fingerprint(m), c.fingerprint) != 0) {
            rc = qr_store_mismatch(err, cname, &c, m);
            goto fail;
        }
        qv = qr_malloc((size_t)c.dims * sizeof(float));
        qr_buf qb;
        qr_buf_init(&qb, 0);
        qr_buf_printf(&qb, "%s%s", c.query_prefix, query);
        if (!qv || qb.failed) {
            qr_buf_free(&qb);
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto fail;
        }
        const char *qt = qb.data ? qb.data : "";
        rc = quire_embed(p->embedder, &qt, NULL, 1, qv, NULL, err);
        qr_buf_free(&qb);
        if (rc != QUIRE_OK)
            goto fail;
        qr_store_l2_normalize(qv, c.dims);
    }
    /* candidates per list: k for a single list; more for fusion */
    int nlist = mode == QUIRE_SEARCH_HYBRID ? QR_MAX(4 * k, 50) : k;
    tc = qr_calloc((size_t)nlist, sizeof(*tc));
    vc = qr_calloc((size_t)nlist, sizeof(*vc));
    fu = qr_calloc((size_t)nlist * 2, sizeof(*fu));
    nlist_f = fu ? nlist * 2 : 0;
    if (!tc || !vc || !fu) {
        rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        goto fail;
    }
    pthread_mutex_lock(&st->lock);
    if (mode != QUIRE_SEARCH_VECTOR)
        rc = text_candidates(st, &c, &q, query, p->text_rank, &flt, nlist, tc, &ntc,
                             err);
    if (rc == QUIRE_OK && mode != QUIRE_SEARCH_TEXT)
        rc = vector_candidates(st, &c, qv, &flt,
                               p->ef > 0 ? p->ef : c.ef_search, p->exact, nlist, vc, &nvc,
                               &h->exact, err);
    int nf = 0;
    for (int i = 0; rc == QUIRE_OK && i < ntc; i++) {
        fused *f = &fu[nf++];
        f->c = tc[i];
        f->c.owned = 0; /* borrowed from tc */
        f->trank = i + 1;
        f->tscore = tc[i].score;
        f->c.score = mode == QUIRE_SEARCH_TEXT ? tc[i].score : 1.0 / (QR_RRF_K + i + 1);
    }
    for (int i = 0; rc == QUIRE_OK && i < nvc; i++) {
        fused *f = fused_find(fu, nf, vc[i].id);
        if (!f) {
            f = &fu[nf++];
            f->c = vc[i];
            f->c.owned = 0; /* borrowed from vc */
            f->c.score = 0;
        }
        if (!f->c.path && vc[i].path) {
            f->c.path = vc[i].path;
            f->c.seq = vc[i].seq;
        }
        f->vrank = i + 1;
        f->vscore = vc[i].score;
        f->c.score = mode == QUIRE_SEARCH_VECTOR ? vc[i].score : f->c.score + 1.0 / (QR_RRF_K + i + 1);
    }
    if (rc == QUIRE_OK) {
        qsort(fu, (size_t)nf, sizeof(*fu), cmp_fused);
        rc = order_ties(st, fu, nf, sizeof(*fu), k, cmp_fused, err);
    }
    if (rc == QUIRE_OK) {
        int nh = QR_MIN(nf, k);
        h->hits = qr_calloc((size_t)(nh ? nh : 1), sizeof(quire_hit));
        if (!h->hits)
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
        for (int i = 0; rc == QUIRE_OK && i < nh; i++) {
            quire_hit *x = &h->hits[i];
            h->n = i + 1;
            rc = fill_hit(st, fu[i].c.id, &q, p, x, err);
            x->score = fu[i].c.score;
            x->text_rank = fu[i].trank;
            x->vector_rank = fu[i].vrank;
            x->text_score = fu[i].tscore;
            x->vector_score = fu[i].vscore;
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (rc != QUIRE_OK)
        goto fail;
    h->mode = mode;
    *out = h;
    h = NULL;
fail:
    quire_hits_free(h);
    qr_where_free(&where);
    terms_free(&q);
    qr_free(qv);
    for (int i = 0; tc && i < ntc; i++)
        cand_release(&tc[i]);
    for (int i = 0; vc && i < nvc; i++)
        cand_release(&vc[i]);
    for (int i = 0; fu && i < nlist_f; i++)
        cand_release(&fu[i].c);
    qr_free(tc);
    qr_free(vc);
    qr_free(fu);
    return rc;
}
