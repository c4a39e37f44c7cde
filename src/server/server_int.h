/*
 * server_int.h — the files of src/server: the embedding batch queue (batch.c), metrics
 * (metrics.c), the route handlers (routes.c) and the libmicrohttpd glue (http.c). Route
 * handlers see no libmicrohttpd type: they get the body and return a reply.
 */
#ifndef QR_SERVER_INT_H
#define QR_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"

/* ---- replies ----------------------------------------------------------------- */
typedef struct reply {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    qr_buf body;
    const char *allow;        /* Allow header for 405, else NULL */
    char allow_buf[48];       /* ... when it is built per request */
    int failed_pages;         /* /v1/convert partial result: X-Quire-Failed-Pages */
    int vlm_pages;            /* /v1/convert: pages read by a VLM (X-Quire-VLM-Pages) */
    int vlm_fallback_pages;   /* ... and pages whose VLM failed (X-Quire-VLM-Fallback-Pages) */
    int vlm_regions;          /* --vlm tables / formulas: regions read (X-Quire-VLM-Regions) */
    int vlm_fallback_regions; /* ... and regions left to the text layer
                                 (X-Quire-VLM-Fallback-Regions) */
} reply;

/* Fill r with {"error":{"message","type","code"}}; the type follows from status. */
void qr_srv_error(reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* HTTP status for a library status. */
int qr_srv_http_status(quire_status st);
/* Append s as a JSON string literal (quoted, escaped). */
void qr_srv_json_str(qr_buf *b, const char *s);

/* ---- batch queue -------------------------------------------------------------- */
/* One embedding request: its inputs as token ids, and where the vectors go. */
typedef struct qr_emb_job {
    const int32_t *const *ids; /* [n] borrowed until done */
    const size_t *n_ids;       /* [n] */
    size_t n;
    float *vecs;               /* [n * dims] written by batchers */
    /* under the queue lock: */
    size_t next;               /* first input not yet taken by a batcher */
    size_t done;               /* inputs finished */
    quire_status status;       /* first failure */
    char msg[256];
    double t_enqueued;
    struct qr_emb_job *qnext;
    pthread_cond_t cv;         /* signalled when done == n */
} qr_emb_job;

typedef struct qr_metrics qr_metrics;
typedef struct qr_batcher qr_batcher;

typedef struct qr_batch_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* work arrived / stop */
    qr_emb_job *head, *tail;
    long queued_inputs;         /* inputs not yet taken */
    long queued_tokens;
    long queued_jobs;
    long busy_jobs;             /* jobs in the batchers' running passes */
    int busy_batchers;          /* batchers running a pass */
    int stopping;
    atomic_int open_connections; /* from the HTTP layer: a hint for how long to wait */
    int budget;                  /* tokens per pass */
    int wait_us;                 /* -1 = never */
    int no_batching;
    int dims;
    qr_metrics *metrics;
    int n_batchers;
    qr_batcher *batchers;
} qr_batch_queue;

quire_status qr_batch_start(qr_batch_queue *q, const quire_model *model, int n_batchers,
                            int n_threads, int budget, int wait_us, int no_batching,
                            qr_metrics *metrics, quire_error *err);
/* Stops the batchers after the queue is empty; joins them, frees the embedders. */
void qr_batch_stop(qr_batch_queue *q);
/* Queue a job and wait until every input is embedded. Returns the job's status. */
quire_status qr_batch_run(qr_batch_queue *q, qr_emb_job *job);

/* ---- metrics ------------------------------------------------------------------ */
enum {
    ROUTE_EMBEDDINGS,
    ROUTE_MODELS,
    ROUTE_SEARCH,
    ROUTE_CONVERT,
    ROUTE_HEALTH,
    ROUTE_METRICS,
    ROUTE_TEI_EMBED,   /* POST /embed (text-embeddings-inference) */
    ROUTE_TEI_INFO,    /* GET /info */
    ROUTE_OLLAMA_EMBED, /* POST /api/embed */
    ROUTE_COLLECTIONS, /* /v1/collections[/{name}[/documents[/{id}]]] (routes_docs.c) */
    ROUTE_OPENAPI,     /* GET /openapi.json */
    ROUTE_OTHER,
    ROUTE_COUNT
};
extern const char *const qr_srv_route_names[ROUTE_COUNT];

/* ---- the route table (route_table.c) --------------------------------------------- */
typedef struct qr_route_def {
    const char *method; /* "GET", "POST", "DELETE" (GET also answers HEAD) */
    const char *path;   /* OpenAPI path template, e.g. /v1/collections/{name} */
    int route;          /* ROUTE_* */
    int tail;           /* 1 = the last {param} takes the rest of the URL, slashes included */
} qr_route_def;
extern const qr_route_def qr_srv_routes[];
extern const int qr_srv_n_routes;
/* Does url (no query string) match the path template? */
int qr_srv_route_matches(const char *tmpl, int tail, const char *url);
/* The index in qr_srv_routes of (method, url); -2 when url is known but not with this
 * method (allow gets "GET, DELETE"), -1 when no route has this URL. */
int qr_srv_route_find(const char *method, const char *url, char *allow, size_t cap);
/* docs/openapi.json, compiled in (the build generates it from the file). */
extern const char qr_srv_openapi_json[];

qr_metrics *qr_metrics_new(void);
void qr_metrics_free(qr_metrics *m);
void qr_metrics_request(qr_metrics *m, int route, int status, double seconds);
void qr_metrics_batch(qr_metrics *m, int n_inputs, int n_tokens);
/* Prometheus text exposition. queue_depth: inputs waiting. */
void qr_metrics_write(qr_metrics *m, qr_buf *out, long queue_depth, int open_connections,
                      int in_flight);

/* ---- the server ---------------------------------------------------------------- */
#include "server/server_extra.h"

struct quire_server {
    const quire_model *model;
    quire_store *store;
    quire_converter *conv;
    quire_server_params p;
    char *api_key;
    char *model_alias;        /* comma-separated extra names, or NULL */
    char served_name[128];    /* the name answers carry: the first alias, else the model's */
    int32_t frame_first, frame_last; /* ids framing every tokenized input ([CLS], [SEP]) */
    char *allow_dir;          /* realpath of allow_paths, or NULL */
    int dims, limit;          /* vector size, tokens per input */
    qr_batch_queue queue;
    int queue_started;
    qr_metrics *metrics;
    pthread_mutex_t search_mu; /* guards search_emb */
    quire_embedder *search_emb;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int in_flight;      /* requests between first callback and completion */
    atomic_int draining;
    atomic_long last_activity_ms;
    FILE *access_log;          /* NULL, or where on_completed writes one JSON line each */
    int access_log_owned;      /* 1 = fclose at free (not stderr) */
    pthread_mutex_t log_mu;    /* one line at a time */
    /* more lines for /metrics (qr_server_set_metrics_hook; the search replica's) */
    _Atomic(qr_metrics_hook) metrics_hook;
    void *_Atomic metrics_hook_ud;
};

/* Inputs of one embedding request, tokenized (routes.c). */
typedef struct emb_req {
    size_t n;
    int32_t *ids;      /* [n * cap] */
    size_t cap;        /* ids per input slot (the model's max_tokens) */
    size_t *n_ids;     /* [n] */
    const int32_t **ptrs;
    long tokens;
    int truncate;      /* 1 = cut inputs over the limit (--truncate; Ollama's default) */
    const char *prompt; /* prepended to text inputs (model prompt / request), or NULL */
    unsigned char *cut; /* [n]: 1 = input i was truncated */
} emb_req;
typedef struct json_t json_t;
/* "text" | ["text", ...] | [id, ...] | [[id, ...], ...] into q (q->truncate set first);
 * 0, or -1 with r filled. */
int qr_srv_parse_input(const quire_server *s, json_t *in, emb_req *q, reply *r);
/* Embed q through the batch queue: vectors (n x dims, qr_free) or NULL with r filled. */
float *qr_srv_run_inputs(quire_server *s, const emb_req *q, reply *r);
void qr_srv_emb_req_free(emb_req *q);
/* Matryoshka: keep the first dims values of a full-size vector by the model's rule
 * (quire_model_shorten; renormalised). explicit = the request named the dimensions, so a
 * model with its own rule (NomicBERT v1.5) applies it even at full width. */
void qr_srv_shorten(const quire_server *s, float *v, int dims, int explicit_dims);
/* The request's prompt: "prompt" (literal text), else "prompt_name" / "input_type" (a
 * model prompt by name), else the model's default prompt; 0, or -1 with r filled (400). */
int qr_srv_prompt(const quire_server *s, json_t *root, emb_req *q, reply *r);
/* Is `name` a name this server answers to (model folder, aliases, any)? */
int qr_srv_name_matches(const quire_server *s, const char *name);

/* Route handlers (routes.c, routes_compat.c). body is NUL-terminated (len bytes). */
void qr_route_tei_embed(quire_server *s, const char *body, size_t len, reply *r);
void qr_route_tei_info(quire_server *s, reply *r);
void qr_route_ollama_embed(quire_server *s, const char *body, size_t len, reply *r);
void qr_route_embeddings(quire_server *s, const char *body, size_t len, reply *r);
void qr_route_models(quire_server *s, const char *id, reply *r);
void qr_route_search(quire_server *s, const char *body, size_t len, reply *r);
/* /v1/convert's query and headers; NULL = absent. */
typedef struct qr_convert_query {
    const char *format, *vlm, *report, *content_type;
    const char *images; /* ?images= (NULL/"none" or "embed"; the server writes no files) */
    const char *pages, *ocr;
    const char *filename;    /* ?filename=: the raw body's file name */
    const char *strategy;    /* ?strategy= (fast, ocr_only, hi_res, auto) */
    const char *disposition; /* Content-Disposition header (its filename= names the body) */
} qr_convert_query;
/* The document routes: method and URL decide (405 / 404 answered here). */
void qr_route_collections(quire_server *s, const char *method, const char *url,
                          const char *body, size_t len, const char *content_type, reply *r);
/* realpath of path into out[PATH_MAX] when it lies under --allow-paths; else -1 with a
 * 403 path_not_allowed in r. */
int qr_srv_path_allowed(const quire_server *s, const char *path, char *out, reply *r);
/* The JSON error code naming a quire_status ("not_found", ...). */
const char *qr_srv_status_code(quire_status st);
/* One part of a multipart/form-data body (data points into the body). */
typedef struct qr_part {
    const char *data;
    size_t len;
    char name[64], filename[256];
} qr_part;
/* Split body into at most cap parts. Returns the number, or -1 if it is not multipart. */
int qr_srv_multipart(const char *ctype, const char *body, size_t len, qr_part *parts, int cap);
/* A quoted or bare parameter value (key="...", key ending in '=') of a header into out
 * (cap bytes); "" when absent. */
void qr_srv_header_param(const char *h, size_t hn, const char *key, char *out, size_t cap);
/* The reply for a failed conversion or ingestion of a document: the temporary path in
 * e->msg becomes `shown`; a password-protected PDF and (uploaded) bytes that are no
 * document are 422, the rest by status. */
void qr_srv_document_error(reply *r, quire_status st, quire_error *e, const char *tmp_path,
                           const char *shown, int uploaded);
/* Write len bytes to a private temporary file (mode 0600) named ...XXXXXX + suffix. */
int qr_srv_body_to_tmp(const char *body, size_t len, const char *suffix, char *path, size_t cap);
void qr_route_convert(quire_server *s, const char *body, size_t len, const qr_convert_query *q,
                      reply *r);

#endif
