/*
 * cmd_search.c — `quire search`: hybrid (BM25 + vector, fused), vector or text search of
 * a collection, with document / page / heading citations and a snippet per hit.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store/store_pg.h"
#include "core/core.h"
#include "store/store_int.h"

typedef struct search_args {
    const char *db, *collection, *model, *filter, *hl_open, *hl_close, *where, *vector;
    const char *cache;
    long k, ef;
    int mode, mode_set, json, exact, full, rank;
    char hl[64];
    int precision, precision_set;
} search_args;

static const cli_opt opts[] = {
    {"db", 0, 1, "PATH", "the store file, or postgresql://... with --cache"},
    {"cache", 0, 1, "FILE", "with --db postgresql://...: search this local SQLite replica of "
                            "the PostgreSQL store, bootstrapped when new and brought level "
                            "by the change feed on each run (as quire serve --cache)"},
    {"collection", 'c', 1, "NAME", "collection (default: default)"},
    {"k", 'k', 1, "N", "number of hits (default 10)"},
    {"mode", 0, 1, "hybrid|vector|text", "ranking (default hybrid when the collection has "
                                         "vectors, else text)"},
    {"filter", 0, 1, "path=GLOB", "only documents whose path matches GLOB (* ? [...])"},
    {"where", 0, 1, "JSON", "metadata filter, e.g. '{\"year\":{\"$gte\":2020}}' ($eq $ne $gt "
                            "$gte $lt $lte $in $nin $and $or), applied before ranking"},
    {"model", 'm', 1, "DIR", "the collection's model folder (default: where it was at ingest)"},
    {"precision", 0, 1, "fp32|bf16|int8", "arithmetic of the linear layers (default: the collection's; docs/precision.md)"},

    {"vector", 0, 1, "FILE|-", "query by this vector instead of embedding QUERY: a JSON array "
                               "of floats, base64 of float32 LE bytes, or a `quire embed` line; "
                               "no model needed. Mode vector without QUERY, hybrid (BM25 on "
                               "QUERY) with one"},
    {"ef", 0, 1, "N", "HNSW candidate list (default: the collection's ef-search)"},
    {"exact", 0, 0, NULL, "exact vector search (no HNSW)"},
    {"rank", 0, 1, "phrase|bm25", "text ranking: BM25 re-ranked by phrase and proximity "
                                  "(default), or plain BM25"},
    {"highlight", 0, 1, "OPEN,CLOSE", "snippet markers around matched words (default \xc2\xab,"
                                      "\xc2\xbb; bold on a terminal)"},
    {"json", 0, 0, NULL, "one JSON object per hit (JSONL, best first)"},
    {"full", 0, 0, NULL, "print each hit's whole chunk text (--json always has it)"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out, "usage: quire search --db PATH [--collection NAME] [-k N] [--mode M] [--json] "
                 "QUERY...\n"
                 "       quire search --db PATH [--collection NAME] --vector FILE|- [QUERY...]\n\n"
                 "Search a collection. Hybrid fuses BM25 and vector ranks (reciprocal rank\n"
                 "fusion); each hit cites its document, pages and heading path, with a snippet\n"
                 "where the query's words are marked \xc2\xablike this\xc2\xbb (bold on a "
                 "terminal).\n\noptions:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexamples:\n  quire search --db papers.db -k 5 \"attention is all you need\"\n"
                 "  echo '[0.12, -0.03, ...]' | quire search --db papers.db --vector - --json\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    search_args *a = user;
    const char *n = opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "cache") == 0)
        a->cache = val;
    else if (strcmp(n, "collection") == 0)
        a->collection = val;
    else if (strcmp(n, "k") == 0)
        return cli_int("search", n, val, 1, 1000, &a->k) ? EXIT_USAGE : 0;
    else if (strcmp(n, "ef") == 0)
        return cli_int("search", n, val, 1, 4096, &a->ef) ? EXIT_USAGE : 0;
    else if (strcmp(n, "mode") == 0) {
        a->mode_set = 1;
        if (strcmp(val, "hybrid") == 0)
            a->mode = QUIRE_SEARCH_HYBRID;
        else if (strcmp(val, "vector") == 0)
            a->mode = QUIRE_SEARCH_VECTOR;
        else if (strcmp(val, "text") == 0)
            a->mode = QUIRE_SEARCH_TEXT;
        else {
            fprintf(stderr, "quire search: --mode: '%s' is not hybrid, vector or text\n", val);
            return EXIT_USAGE;
        }
    } else if (strcmp(n, "filter") == 0) {
        if (strncmp(val, "path=", 5) != 0 || !val[5]) {
            fprintf(stderr, "quire search: --filter: '%s' is not path=GLOB\n", val);
            return EXIT_USAGE;
        }
        a->filter = val + 5;
    } else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "precision") == 0) {
        a->precision_set = 1;
        return cli_precision("search", val, &a->precision) ? EXIT_USAGE : 0;
    }
    else if (strcmp(n, "exact") == 0)
        a->exact = 1;
    else if (strcmp(n, "where") == 0)
        a->where = val;
    else if (strcmp(n, "vector") == 0)
        a->vector = val;
    else if (strcmp(n, "rank") == 0) {
        if (strcmp(val, "phrase") && strcmp(val, "bm25")) {
            fprintf(stderr, "quire search: --rank: '%s' is not phrase or bm25\n", val);
            return EXIT_USAGE;
        }
        a->rank = strcmp(val, "bm25") == 0 ? QUIRE_TEXT_RANK_BM25 : QUIRE_TEXT_RANK_PHRASE;
    } else if (strcmp(n, "highlight") == 0) {
        const char *comma = strchr(val, ',');
        if (!comma || strlen(val) >= sizeof a->hl || strchr(comma + 1, ',')) {
            fprintf(stderr, "quire search: --highlight: '%s' is not OPEN,CLOSE (e.g. "
                            "'**,**' or '<b>,</b>')\n", val);
            return EXIT_USAGE;
        }
        memcpy(a->hl, val, strlen(val) + 1);
        a->hl[comma - val] = 0;
        a->hl_open = a->hl;
        a->hl_close = a->hl + (comma - val) + 1;
    }
    else if (strcmp(n, "json") == 0)
        a->json = 1;
    else if (strcmp(n, "full") == 0)
        a->full = 1;
    return 0;
}

static void print_pages(FILE *out, const quire_hit *h)
{
    if (h->page_start == h->page_end)
        fprintf(out, "p. %d", h->page_start);
    else
        fprintf(out, "pp. %d-%d", h->page_start, h->page_end);
}

int cmd_search(int argc, char **argv)
{
    search_args a;
    memset(&a, 0, sizeof a);
    const char **pos = qr_calloc((size_t)argc + 1, sizeof(char *));
    int n_pos = 0;
    if (!pos)
        return EXIT_FAIL;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, argc, &n_pos, help);
    if (rc != 0) {
        qr_free(pos);
        return rc < 0 ? EXIT_OK : rc;
    }
    if (!a.db || (n_pos == 0 && !a.vector)) {
        fprintf(stderr, "quire search: %s (see --help)\n",
                !a.db ? "--db PATH is required" : "no QUERY given (or --vector FILE)");
        qr_free(pos);
        return EXIT_USAGE;
    }
    if (qr_pg_is_url(a.db) && !a.cache) {
        /* not the URL: it may carry a password */
        fprintf(stderr, "quire search: --db postgresql://... is a PostgreSQL store: give "
                        "--cache FILE (a local SQLite copy, made on first use; search runs "
                        "there)\n");
        qr_free(pos);
        return EXIT_USAGE;
    }
    if (a.cache && !qr_pg_is_url(a.db)) {
        fprintf(stderr, "quire search: --cache is for --db postgresql://... only\n");
        qr_free(pos);
        return EXIT_USAGE;
    }
    if (a.cache) {
        /* the replica path (as quire serve --cache): bootstrap a new cache, resume a killed
         * bootstrap, or apply the change feed since the cache's horizon (a warm cache reads
         * no bootstrap rows) */
        quire_store *cst = NULL;
        quire_error cerr = {0, ""};
        qr_replica_stats rs;
        memset(&rs, 0, sizeof rs);
        quire_status crc = quire_store_open(a.cache, 0, &cst, &cerr);
        if (crc == QUIRE_OK)
            crc = qr_replica_sync(a.db, cst, &rs, &cerr);
        quire_store_close(cst);
        if (crc != QUIRE_OK) {
            fprintf(stderr, "quire search: cache %s: %s\n", a.cache, cerr.msg);
            qr_free(pos);
            return EXIT_FAIL;
        }
        fprintf(stderr,
                "quire search: cache %s level with PostgreSQL (feed horizon %s): %lld "
                "bootstrap rows, %lld feed rows, %lld documents applied\n",
                a.cache, rs.horizon, rs.bootstrap_rows, rs.feed_rows, rs.docs_applied);
    }
    if (a.cache)
        a.db = a.cache;
    /* the query: all positional words */
    qr_buf q;
    qr_buf_init(&q, 1 << 20);
    for (int i = 0; i < n_pos; i++)
        qr_buf_printf(&q, "%s%s", i ? " " : "", pos[i]);
    qr_free(pos);
    quire_error err = {0, ""};
    quire_store *st = NULL;
    quire_model *model = NULL;
    quire_embedder *emb = NULL;
    quire_hits *hits = NULL;
    int exit_code = EXIT_OK;
    float *qvec = NULL;
    int qdims = 0;
    if (n_pos == 0)
        qr_buf_append(&q, "", 1);
    if (q.failed || !q.data) {
        fprintf(stderr, "quire search: query too long\n");
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_store_open(a.db, QUIRE_STORE_READONLY, &st, &err) != QUIRE_OK) {
        exit_code = cli_fail("search", &err);
        goto out;
    }
    quire_collection_info ci;
    if (quire_store_collection(st, a.collection ? a.collection : "default", &ci, &err) !=
        QUIRE_OK) {
        exit_code = cli_fail("search", &err);
        goto out;
    }
    if (a.vector) {
        char *text = NULL;
        size_t len = 0;
        if (strcmp(a.vector, "-") == 0) {
            qr_buf in;
            qr_buf_init(&in, (size_t)64 << 20);
            char chunk[65536];
            size_t got;
            while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
                qr_buf_append(&in, chunk, got);
            qr_buf_putc(&in, 0);
            if (in.failed || ferror(stdin)) {
                qr_buf_free(&in);
                fprintf(stderr, "quire search: --vector -: cannot read stdin (at most 64 MiB)\n");
                exit_code = EXIT_USAGE;
                goto out;
            }
            text = in.data;
            len = in.len - 1;
        } else if (qr_file_read(a.vector, (size_t)64 << 20, &text, &len, &err) != QUIRE_OK) {
            exit_code = cli_fail("search", &err);
            goto out;
        }
        quire_status vs = qr_qvec_parse(text, len, &qvec, &qdims, &err);
        qr_free(text);
        if (vs != QUIRE_OK) {
            fprintf(stderr, "quire search: --vector %s: %s\n", a.vector, err.msg);
            exit_code = EXIT_USAGE;
            goto out;
        }
        if (a.mode_set && a.mode == QUIRE_SEARCH_TEXT) {
            fprintf(stderr, "quire search: --vector needs --mode vector or hybrid\n");
            exit_code = EXIT_USAGE;
            goto out;
        }
    }
    int mode = a.mode_set ? a.mode
               : a.vector ? (n_pos ? QUIRE_SEARCH_HYBRID : QUIRE_SEARCH_VECTOR)
               : (ci.dims ? QUIRE_SEARCH_HYBRID : QUIRE_SEARCH_TEXT);
    if (!a.vector && mode != QUIRE_SEARCH_TEXT && ci.dims) {
        const char *dir = a.model ? a.model : ci.model_dir;
        quire_model_params mp = quire_model_default_params();
        mp.precision = a.precision;
        if (cli_open_model_for(dir, &mp, a.precision_set, ci.fingerprint, &model, &err) !=
            QUIRE_OK) {
            if (a.mode_set || a.model) {
                exit_code = cli_fail("search", &err);
                goto out;
            }
            fprintf(stderr,
                    "quire search: the collection's model is not at %s (%s): text search only; "
                    "pass --model DIR for hybrid\n",
                    dir, err.msg);
            mode = QUIRE_SEARCH_TEXT;
        } else {
            quire_embedder_params ep = quire_embedder_default_params();
            ep.max_batch = 1;
            if (quire_embedder_new(model, &ep, &emb, &err) != QUIRE_OK) {
                exit_code = cli_fail("search", &err);
                goto out;
            }
        }
    }
    quire_search_params sp = quire_search_default_params();
    sp.collection = a.collection;
    sp.k = (int)a.k;
    sp.mode = mode;
    sp.path_glob = a.filter;
    sp.ef = (int)a.ef;
    sp.exact = a.exact;
    sp.embedder = emb;
    sp.text_rank = a.rank;
    sp.where = a.where;
    sp.highlight_open = a.hl_open;
    sp.highlight_close = a.hl_close;
    sp.vector = qvec;
    sp.vector_dims = qdims;
    if (!a.hl_open && !a.json && isatty(1)) {
        sp.highlight_open = "\033[1m";
        sp.highlight_close = "\033[0m";
    }
    if (quire_search(st, q.data, &sp, &hits, &err) != QUIRE_OK) {
        exit_code = cli_fail("search", &err);
        goto out;
    }
    if (hits->note[0])
        fprintf(stderr, "quire search: %s\n", hits->note);
    for (int i = 0; i < hits->n; i++) {
        const quire_hit *h = &hits->hits[i];
        if (a.json) {
            if (cli_print_json(cli_hit_json(h, i + 1, hits->mode, a.rank)) != 0) {
                fprintf(stderr, "quire search: out of memory\n");
                exit_code = EXIT_FAIL;
                goto out;
            }
            continue;
        }
        printf("%d. %s ", i + 1, h->document);
        print_pages(stdout, h);
        if (h->heading[0])
            printf(" \xc2\xb7 %s", h->heading);
        printf("  (score %.4g", h->score);
        if (hits->mode == QUIRE_SEARCH_HYBRID)
            printf("; bm25 rank %d, vector rank %d", h->text_rank, h->vector_rank);
        printf(")\n   %s\n", a.full ? h->text : h->snippet);
    }
    if (!a.json && hits->n == 0)
        fprintf(stderr, "quire search: no hits\n");
    if (fflush(stdout) != 0) {
        fprintf(stderr, "quire search: writing the results failed\n");
        exit_code = EXIT_FAIL;
    }
out:
    qr_free(qvec);
    quire_hits_free(hits);
    quire_embedder_free(emb);
    quire_model_close(model);
    quire_store_close(st);
    qr_buf_free(&q);
    return exit_code;
}
