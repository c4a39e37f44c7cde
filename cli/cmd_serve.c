/*
 * cmd_serve.c — `quire serve`: the OpenAI-compatible embedding, search and conversion
 * service. Parses options, opens the model / store / converter, runs the server until
 * SIGTERM or SIGINT, then lets the requests in flight finish and exits 0.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"
#include "server/server_extra.h"
#include "store/store_pg.h"

typedef struct serve_args {
    const char *db, *model, *host, *key_file, *allow, *model_name;
    long port, threads, batchers, max_inputs, max_tokens, max_conn, timeout, batch_tokens;
    long max_body;
    double batch_wait_ms;
    int wait_set, truncate, no_batching, quiet, accept_any, token_ids_native;
    char model_names[1024];
    int precision;
    const char *config, *vlm_cache, *access_log, *cache;
    double feed_poll;
    int vlm;
    int allow_writes;
    quire_config *cfg;
} serve_args;

static const cli_opt opts[] = {
    {"db", 0, 1, "PATH", "store for /v1/search and /v1/collections (opened read-only "
                         "unless --allow-writes; optional); postgresql://... needs --cache FILE"},
    {"cache", 0, 1, "FILE", "with --db postgresql://...: search a local SQLite replica in FILE "
                            "that follows PostgreSQL's change feed (bootstrapped when new)"},
    {"feed-poll", 0, 1, "S", "with --cache: read the change feed every S seconds (default 0.5)"},
    {"allow-writes", 0, 0, NULL, "let /v1/collections/... add, replace and delete documents "
                                 "and collections (opens --db for writing; needs --api-key-file)"},
    {"model", 'm', 1, "DIR", "embedding model folder for /v1/embeddings (optional)"},
    {"model-name", 0, 2, "NAME", "another name clients may use for the model (repeatable; "
                                 "the first is the name answers carry)"},
    {"accept-any-model-name", 0, 0, NULL, "accept any \"model\" in requests"},
    {"token-ids", 0, 1, "framed|native", "token-array inputs: only when framed by the model's "
                                         "[CLS]..[SEP] ids (default), or any ids"},
    {"host", 0, 1, "ADDR", "address to bind (default 127.0.0.1)"},
    {"port", 'p', 1, "N", "TCP port (default 8080; 0 = any free port, printed)"},
    {"api-key-file", 0, 1, "F", "require \"Authorization: Bearer KEY\" with the key in F"},
    {"threads", 't', 1, "N", "threads per forward pass (default 1)"},
    {"precision", 0, 1, "fp32|bf16|int8", "arithmetic of the linear layers (default fp32, exact; docs/precision.md)"},

    {"batchers", 0, 1, "N", "batcher threads, one embedder each (default 2)"},
    {"max-body", 0, 1, "BYTES", "largest request body (default 33554432; 413 above)"},
    {"max-inputs", 0, 1, "N", "inputs per embedding request (default 2048)"},
    {"max-tokens", 0, 1, "N", "tokens per input incl. [CLS]/[SEP] (default: the model's "
                              "max_seq_length); longer -> 413"},
    {"truncate", 0, 0, NULL, "truncate long inputs instead of answering 413"},
    {"max-connections", 0, 1, "N", "concurrent connections (default 256)"},
    {"timeout", 0, 1, "S", "close connections idle or stalled for S seconds (default 30)"},
    {"batch-tokens", 0, 1, "N", "token budget of one forward pass (default 2048)"},
    {"batch-wait-ms", 0, 1, "X", "longest wait for more inputs to batch (default 2; 0 = none)"},
    {"no-batching", 0, 0, NULL, "one request per forward pass (for comparison)"},
    {"allow-paths", 0, 1, "DIR", "let /v1/convert open files under DIR by {\"path\": ...}"},
    {"config", 0, 1, "FILE", "quire.toml whose [backends] /v1/convert uses for vlm modes "
                             "(default $QUIRE_CONFIG, ./quire.toml when --vlm is given)"},
    {"vlm", 0, 1, "never|auto|always|tables|formulas",
     "/v1/convert's VLM mode when a request names none (default never)"},
    {"vlm-cache", 0, 1, "DIR", "cache VLM answers in DIR (shared by every request)"},
    {"access-log", 0, 1, "FILE", "append one JSON line per request to FILE (- = stderr): "
                                 "time, remote, method, path, status, ms, bytes"},
    {"quiet", 'q', 0, NULL, "no messages on stderr but errors and the listening line"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: quire serve [--db PATH] [--model DIR] [--host ADDR] [--port N] [options]\n\n"
            "Serve an OpenAI-compatible embeddings API (POST /v1/embeddings, GET /v1/models),\n"
            "search (POST /v1/search), conversion (POST /v1/convert), GET /health and\n"
            "GET /metrics (Prometheus). Concurrent embedding requests are batched into\n"
            "shared forward passes. SIGTERM / Ctrl-C: finish the requests in flight, exit 0.\n"
            "\noptions:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexample:\n  quire serve --model all-MiniLM-L6-v2 --db papers.db --port 8080\n"
                 "  curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' \\\n"
                 "       -d '{\"model\":\"all-MiniLM-L6-v2\",\"input\":[\"hello\"]}'\n");
}

static int num(const char *n, const char *val, long lo, long hi, long *out)
{
    return cli_int("serve", n, val, lo, hi, out) ? EXIT_USAGE : 0;
}

static int on_opt(int idx, const char *val, void *user)
{
    serve_args *a = user;
    const char *n = opts[idx].name;
    if (strcmp(n, "db") == 0)
        a->db = val;
    else if (strcmp(n, "model") == 0)
        a->model = val;
    else if (strcmp(n, "precision") == 0)
        return cli_precision("serve", val, &a->precision) ? EXIT_USAGE : 0;
    else if (strcmp(n, "model-name") == 0) {
        size_t l = strlen(a->model_names);
        if (!*val || strchr(val, ',') || l + strlen(val) + 2 > sizeof a->model_names) {
            fprintf(stderr, "quire serve: --model-name: '%s' is empty, has a comma or is one "
                            "too many\n", val);
            return EXIT_USAGE;
        }
        snprintf(a->model_names + l, sizeof a->model_names - l, "%s%s", l ? "," : "", val);
        a->model_name = a->model_names;
    } else if (strcmp(n, "accept-any-model-name") == 0)
        a->accept_any = 1;
    else if (strcmp(n, "token-ids") == 0) {
        if (strcmp(val, "native") == 0)
            a->token_ids_native = 1;
        else if (strcmp(val, "framed") != 0) {
            fprintf(stderr, "quire serve: --token-ids: '%s' is not framed or native\n", val);
            return EXIT_USAGE;
        }
    }
    else if (strcmp(n, "host") == 0)
        a->host = val;
    else if (strcmp(n, "cache") == 0)
        a->cache = val;
    else if (strcmp(n, "feed-poll") == 0) {
        char *end = NULL;
        a->feed_poll = strtod(val, &end);
        if (!end || *end || !(a->feed_poll >= 0.01 && a->feed_poll <= 3600)) {
            fprintf(stderr, "quire serve: --feed-poll: '%s' is not a number of seconds "
                            "(0.01 .. 3600)\n", val);
            return EXIT_USAGE;
        }
    }
    else if (strcmp(n, "api-key-file") == 0)
        a->key_file = val;
    else if (strcmp(n, "allow-paths") == 0)
        a->allow = val;
    else if (strcmp(n, "allow-writes") == 0)
        a->allow_writes = 1;
    else if (strcmp(n, "config") == 0)
        a->config = val;
    else if (strcmp(n, "vlm-cache") == 0)
        a->vlm_cache = val;
    else if (strcmp(n, "access-log") == 0)
        a->access_log = val;
    else if (strcmp(n, "vlm") == 0) {
        static const char *const vm[] = {"never", "auto", "always", "tables", "formulas"};
        for (int i = 0; i < 5; i++)
            if (strcmp(val, vm[i]) == 0) {
                a->vlm = i;
                return 0;
            }
        fprintf(stderr, "quire serve: --vlm: '%s' is not never, auto, always, tables or "
                        "formulas\n", val);
        return EXIT_USAGE;
    }
    else if (strcmp(n, "port") == 0)
        return num(n, val, 0, 65535, &a->port);
    else if (strcmp(n, "threads") == 0)
        return num(n, val, 1, 256, &a->threads);
    else if (strcmp(n, "batchers") == 0)
        return num(n, val, 1, 64, &a->batchers);
    else if (strcmp(n, "max-body") == 0)
        return num(n, val, 1, 1L << 31, &a->max_body);
    else if (strcmp(n, "max-inputs") == 0)
        return num(n, val, 1, 1000000, &a->max_inputs);
    else if (strcmp(n, "max-tokens") == 0)
        return num(n, val, 2, 1 << 20, &a->max_tokens);
    else if (strcmp(n, "max-connections") == 0)
        return num(n, val, 1, 65536, &a->max_conn);
    else if (strcmp(n, "timeout") == 0)
        return num(n, val, 1, 86400, &a->timeout);
    else if (strcmp(n, "batch-tokens") == 0)
        return num(n, val, 1, 1 << 20, &a->batch_tokens);
    else if (strcmp(n, "batch-wait-ms") == 0) {
        char *end = NULL;
        a->batch_wait_ms = strtod(val, &end);
        if (end == val || *end || a->batch_wait_ms < 0 || a->batch_wait_ms > 1000) {
            fprintf(stderr, "quire serve: --batch-wait-ms: '%s' is not 0..1000\n", val);
            return EXIT_USAGE;
        }
        a->wait_set = 1;
    } else if (strcmp(n, "truncate") == 0)
        a->truncate = 1;
    else if (strcmp(n, "no-batching") == 0)
        a->no_batching = 1;
    else if (strcmp(n, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The key file's first line, without trailing white space. */
static int read_key(const char *path, char **key)
{
    quire_error err = {0, ""};
    size_t len = 0;
    if (qr_file_read(path, 4096, key, &len, &err) != QUIRE_OK) {
        fprintf(stderr, "quire serve: --api-key-file: %s\n", err.msg);
        return -1;
    }
    char *k = *key;
    k[strcspn(k, "\r\n")] = '\0';
    len = strlen(k);
    while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
        k[--len] = '\0';
    if (len == 0) {
        fprintf(stderr, "quire serve: --api-key-file: %s holds no key\n", path);
        return -1;
    }
    return 0;
}

/* Open the model; a --max-tokens above its own max_seq_length reopens it with that many
 * (then /v1/search needs a collection embedded with the same setting). */
static quire_status open_model(const serve_args *a, quire_model **out, quire_error *err)
{
    quire_model_params mp = quire_model_default_params();
    mp.precision = a->precision;
    quire_status rc = quire_model_open(a->model, &mp, out, err);
    if (rc != QUIRE_OK || a->max_tokens <= quire_model_max_tokens(*out))
        return rc;
    quire_model_close(*out);
    *out = NULL;
    mp.max_tokens = (int)a->max_tokens;
    return quire_model_open(a->model, &mp, out, err);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void fill_params(const serve_args *a, quire_server_params *sp, const char *key)
{
    sp->host = a->host;
    sp->port = a->port >= 0 ? (int)a->port : 8080;
    sp->api_key = key;
    sp->model_name = a->model_name;
    sp->accept_any_model_name = a->accept_any;
    sp->token_ids_native = a->token_ids_native;
    sp->n_batchers = (int)a->batchers;
    sp->n_threads = (int)a->threads;
    sp->max_body_bytes = (size_t)a->max_body;
    sp->max_inputs = (int)a->max_inputs;
    sp->max_tokens_per_input = (int)a->max_tokens;
    sp->truncate = a->truncate;
    sp->max_connections = (int)a->max_conn;
    sp->request_timeout_s = (int)a->timeout;
    sp->batch_tokens = (int)a->batch_tokens;
    if (a->wait_set)
        sp->batch_wait_us = a->batch_wait_ms > 0 ? (int)(a->batch_wait_ms * 1000 + 0.5) : -1;
    sp->no_batching = a->no_batching;
    sp->allow_paths = a->allow;
    sp->allow_writes = a->allow_writes;
    sp->vlm = a->vlm;
    sp->access_log = a->access_log;
}

/* The converter, with the config's VLM backends when --config or --vlm asks for them (each
 * backend is asked GET /v1/models now: the server does not start when none answers). */
static int open_converter(serve_args *a, quire_converter **conv)
{
    quire_error err = {0, ""};
    quire_converter_params cvp = quire_converter_default_params();
    cvp.n_threads = 2;
    if (a->config || a->vlm) {
        if (quire_config_load(a->config, &a->cfg, &err) != QUIRE_OK) {
            fprintf(stderr, "quire serve: %s\n", err.msg);
            return EXIT_USAGE;
        }
        if (quire_config_n_backends(a->cfg) == 0) {
            const char *src = quire_config_source(a->cfg);
            fprintf(stderr, "quire serve: no VLM backend is configured in %s (add a "
                            "[backends.NAME] table; see README \"VLM backends\")\n",
                    src ? src : "the config (no quire.toml found)");
            return EXIT_USAGE;
        }
        cvp.config = a->cfg;
        cvp.vlm_cache_dir = a->vlm_cache;
    }
    if (quire_converter_new(&cvp, conv, &err) != QUIRE_OK) {
        *conv = NULL;
        if (cvp.config) /* the backends were asked for: not answering is an error */
            return cli_fail("serve", &err);
        /* a build without conversion: /v1/convert answers 501 */
    }
    return 0;
}

/* The replica's lines in /metrics (quire serve --db postgresql://... --cache FILE). */
static void replica_metrics(void *ud, qr_buf *o)
{
    qr_replica_stats s;
    qr_replica_get_stats(ud, &s);
    qr_buf_printf(o,
                  "# HELP quire_feed_lag_seconds Seconds since the snapshot of PostgreSQL that "
                  "the replica's cache last caught up with (-1: not yet).\n"
                  "# TYPE quire_feed_lag_seconds gauge\n"
                  "quire_feed_lag_seconds %.3f\n"
                  "# HELP quire_replica_bootstrapped 1 once the cache holds a whole copy and "
                  "follows the feed.\n"
                  "# TYPE quire_replica_bootstrapped gauge\n"
                  "quire_replica_bootstrapped %d\n"
                  "# HELP quire_replica_bootstrap_rows_total Rows read from PostgreSQL to "
                  "bootstrap the cache (by this process).\n"
                  "# TYPE quire_replica_bootstrap_rows_total counter\n"
                  "quire_replica_bootstrap_rows_total %lld\n"
                  "# HELP quire_replica_feed_rows_total Rows read by change-feed windows.\n"
                  "# TYPE quire_replica_feed_rows_total counter\n"
                  "quire_replica_feed_rows_total %lld\n"
                  "# HELP quire_replica_documents_applied_total Documents written to or "
                  "removed from the cache.\n"
                  "# TYPE quire_replica_documents_applied_total counter\n"
                  "quire_replica_documents_applied_total %lld\n"
                  "# HELP quire_replica_windows_total Change-feed windows applied.\n"
                  "# TYPE quire_replica_windows_total counter\n"
                  "quire_replica_windows_total %lld\n"
                  "# HELP quire_replica_errors_total Failed feed steps (each retried).\n"
                  "# TYPE quire_replica_errors_total counter\n"
                  "quire_replica_errors_total %lld\n",
                  s.lag_s, s.bootstrapped, s.bootstrap_rows, s.feed_rows, s.docs_applied,
                  s.windows, s.errors);
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    memset(&a, 0, sizeof a);
    a.port = -1;
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, NULL, 0, &n_pos, help);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (!a.db && !a.model && !a.config && !a.vlm) {
        fprintf(stderr, "quire serve: give --model DIR, --db PATH and/or --config FILE (see "
                        "--help)\n");
        return EXIT_USAGE;
    }
    quire_error err = {0, ""};
    char *key = NULL;
    quire_model *model = NULL;
    quire_store *st = NULL;
    quire_converter *conv = NULL;
    quire_server *srv = NULL;
    qr_replica *replica = NULL;
    int exit_code = EXIT_OK;
    if (a.allow_writes && (!a.db || !a.key_file)) {
        fprintf(stderr, "quire serve: --allow-writes needs --db PATH and --api-key-file F "
                        "(changes to the store are never open to everyone)\n");
        return EXIT_USAGE;
    }
    if (a.key_file && read_key(a.key_file, &key) != 0) {
        exit_code = EXIT_USAGE;
        goto out;
    }
    int pg = qr_pg_is_url(a.db);
    if (pg && (!a.cache || a.allow_writes)) {
        /* not the URL: it may carry a password */
        fprintf(stderr, "quire serve: --db postgresql://... is a PostgreSQL store: %s\n",
                a.allow_writes ? "a replica is read-only (write with quire enqueue/worker; "
                                 "--allow-writes needs a SQLite --db)"
                               : "add --cache FILE (the local SQLite replica that "
                                 "searches run on; without it every search would be "
                                 "refused)");
        return EXIT_USAGE;
    }
    if (a.cache && !pg) {
        fprintf(stderr, "quire serve: --cache is for --db postgresql://... only\n");
        return EXIT_USAGE;
    }
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        (a.model && open_model(&a, &model, &err) != QUIRE_OK) ||
        (a.db && quire_store_open(pg ? a.cache : a.db,
                                  a.allow_writes || pg ? 0 : QUIRE_STORE_READONLY, &st,
                                  &err) != QUIRE_OK) ||
        (pg && qr_replica_start(a.db, st, a.feed_poll, &replica, &err) != QUIRE_OK)) {
        exit_code = cli_fail("serve", &err);
        goto out;
    }
    if ((exit_code = open_converter(&a, &conv)) != 0)
        goto out;
    quire_server_params sp = quire_server_default_params();
    fill_params(&a, &sp, key);
    install_signals();
    if (quire_server_new(model, st, conv, &sp, &srv, &err) != QUIRE_OK) {
        exit_code = cli_fail("serve", &err);
        goto out;
    }
    if (replica)
        qr_server_set_metrics_hook(srv, replica_metrics, replica);
    fprintf(stderr, "quire serve: listening on http://%s%s%s:%d (model %s, store %s%s%s)\n",
            strchr(a.host ? a.host : "", ':') ? "[" : "", a.host ? a.host : "127.0.0.1",
            strchr(a.host ? a.host : "", ':') ? "]" : "", quire_server_port(srv),
            model ? quire_model_name(model) : "none", a.db ? a.db : "none",
            replica ? ", replica " : "", replica ? a.cache : "");
    fflush(stderr);
    quire_server_run(srv, &stop_flag);
    if (!a.quiet)
        fprintf(stderr, "quire serve: stopped\n");
out:
    quire_server_free(srv);
    qr_replica_stop(replica);
    quire_converter_free(conv);
    quire_config_free(a.cfg);
    quire_store_close(st);
    quire_model_close(model);
    qr_free(key);
    return exit_code;
}
