/*
 * http.c — the libmicrohttpd side of `quire serve`: daemon set-up (one thread per
 * connection, so a request handler may block until the batcher has its vectors),
 * routing, auth, body limits, replies, metrics hooks, and the drain on stop. Nothing
 * here knows JSON or embeddings beyond calling the route handlers in routes.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server_int.h"

typedef struct conn_req {
    int route;
    int route_idx; /* in qr_srv_routes; -1 = unknown URL, -2 = known URL, other method */
    int early;    /* a response was queued before the body: discard the body */
    int too_big;  /* the body went over max_body_bytes */
    qr_buf body;
    double t0;
    int status;
    char method[12];   /* for the access log */
    char *path;        /* the URL as asked (qr_strdup, capped), or NULL */
    size_t bytes_in, bytes_out;
} conn_req;

quire_server_params quire_server_default_params(void)
{
    quire_server_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static void touch(quire_server *s) { atomic_store(&s->last_activity_ms, (long)(qr_now() * 1e3)); }

/* Constant-time comparison: the time depends only on the lengths. */
static int key_equal(const char *given, const char *want)
{
    size_t a = strlen(given), b = strlen(want);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(want[i] ^ (i < a ? given[i] : 0));
    return diff == 0;
}

static int authorized(const quire_server *s, struct MHD_Connection *c)
{
    if (!s->api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    return key_equal(h + 7, s->api_key);
}

static enum MHD_Result send_reply(quire_server *s, struct MHD_Connection *c, conn_req *q,
                                  reply *r)
{
    if (r->body.failed)
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
    struct MHD_Response *resp;
    if (r->body.data && !r->body.failed) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->body.len, r->body.data,
                                                                  qr_free);
        if (resp)
            r->body.data = NULL; /* owned by the response now */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    q->bytes_out = resp ? (size_t)r->body.len : 0;
    qr_buf_free(&r->body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type
                                                                   : "application/json");
    if (r->allow)
        MHD_add_response_header(resp, "Allow", r->allow);
    if (r->failed_pages > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", r->failed_pages);
        MHD_add_response_header(resp, "X-Quire-Failed-Pages", n);
    }
    if (r->vlm_pages > 0 || r->vlm_fallback_pages > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", r->vlm_pages);
        MHD_add_response_header(resp, "X-Quire-VLM-Pages", n);
        snprintf(n, sizeof n, "%d", r->vlm_fallback_pages);
        MHD_add_response_header(resp, "X-Quire-VLM-Fallback-Pages", n);
    }
    if (r->vlm_regions > 0 || r->vlm_fallback_regions > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", r->vlm_regions);
        MHD_add_response_header(resp, "X-Quire-VLM-Regions", n);
        snprintf(n, sizeof n, "%d", r->vlm_fallback_regions);
        MHD_add_response_header(resp, "X-Quire-VLM-Fallback-Regions", n);
    }
    if (atomic_load(&s->draining))
        MHD_add_response_header(resp, "Connection", "close");
    q->status = r->status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void reply_init(reply *r)
{
    memset(r, 0, sizeof *r);
    qr_buf_init(&r->body, (size_t)1 << 30);
    r->content_type = "application/json";
}

/* Checks that need only the headers. Returns 1 (and fills r) when the request is
 * answered without reading its body. */
static int early_reply(quire_server *s, struct MHD_Connection *c, const char *url,
                       const char *method, conn_req *q, reply *r)
{
    if (q->route_idx < 0) {
        int i = qr_srv_route_find(method, url, r->allow_buf, sizeof r->allow_buf);
        if (i == -2) {
            qr_srv_error(r, 405, "method_not_allowed", "%s %s: use %s", method, url,
                         r->allow_buf);
            r->allow = r->allow_buf;
        } else {
            qr_srv_error(r, 404, "not_found", "unknown route: %s %s", method, url);
        }
        return 1;
    }
    if (q->route != ROUTE_HEALTH && !authorized(s, c)) {
        qr_srv_error(r, 401, "invalid_api_key",
                     "missing or incorrect API key (send \"Authorization: Bearer KEY\")");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > s->p.max_body_bytes) {
            qr_srv_error(r, 413, "request_too_large",
                         "the body has %llu bytes, more than the limit of %zu", n,
                         s->p.max_body_bytes);
            return 1;
        }
    }
    return 0;
}

static void route_health(quire_server *s, reply *r)
{
    if (atomic_load(&s->draining)) {
        qr_srv_error(r, 503, "draining", "the server is shutting down");
        return;
    }
    r->status = 200;
    qr_buf_printf(&r->body, "{\"status\":\"ok\"");
    if (s->model) {
        qr_buf_printf(&r->body, ",\"model\":");
        qr_srv_json_str(&r->body, s->served_name);
    }
    qr_buf_printf(&r->body, "}\n");
}

static void route_metrics(quire_server *s, reply *r)
{
    long depth = 0;
    if (s->queue_started) {
        pthread_mutex_lock(&s->queue.mu);
        depth = s->queue.queued_inputs;
        pthread_mutex_unlock(&s->queue.mu);
    }
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
    qr_metrics_write(s->metrics, &r->body, depth, atomic_load(&s->queue.open_connections),
                     atomic_load(&s->in_flight));
    qr_metrics_hook hook = atomic_load(&s->metrics_hook);
    if (hook)
        hook(atomic_load(&s->metrics_hook_ud), &r->body);
}

void qr_server_set_metrics_hook(quire_server *srv, qr_metrics_hook fn, void *ud)
{
    if (!srv)
        return;
    atomic_store(&srv->metrics_hook_ud, ud);
    atomic_store(&srv->metrics_hook, fn);
}

static void dispatch(quire_server *s, struct MHD_Connection *c, const char *url, conn_req *q,
                     reply *r)
{
    const char *body = q->body.data ? q->body.data : "";
    size_t len = q->body.len;
    const char *model_id = strncmp(url, "/v1/models/", 11) == 0 && url[11] ? url + 11 : NULL;
    switch (q->route) {
    case ROUTE_EMBEDDINGS: qr_route_embeddings(s, body, len, r); break;
    case ROUTE_MODELS: qr_route_models(s, model_id, r); break;
    case ROUTE_SEARCH: qr_route_search(s, body, len, r); break;
    case ROUTE_CONVERT: {
        qr_convert_query cq = {
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vlm"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "report"),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "images"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pages"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ocr"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "filename"),
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "strategy"),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Disposition")};
        qr_route_convert(s, body, len, &cq, r);
        break;
    }
    case ROUTE_HEALTH: route_health(s, r); break;
    case ROUTE_TEI_EMBED: qr_route_tei_embed(s, body, len, r); break;
    case ROUTE_TEI_INFO: qr_route_tei_info(s, r); break;
    case ROUTE_OLLAMA_EMBED: qr_route_ollama_embed(s, body, len, r); break;
    case ROUTE_COLLECTIONS:
        qr_route_collections(s, q->method, url, body, len,
                             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
                             r);
        break;
    case ROUTE_OPENAPI:
        r->status = 200;
        qr_buf_append(&r->body, qr_srv_openapi_json, strlen(qr_srv_openapi_json));
        break;
    default: route_metrics(s, r); break;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    quire_server *s = cls;
    conn_req *q = *con_cls;
    reply r;
    if (!q) {
        q = qr_calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        char allow[48];
        int i = qr_srv_route_find(method, url, allow, sizeof allow);
        q->t0 = qr_now();
        q->route_idx = i;
        q->route = i >= 0 ? qr_srv_routes[i].route : ROUTE_OTHER;
        for (int k = 0; i == -2 && k < qr_srv_n_routes; k++) /* a 405 counts for its route */
            if (qr_srv_route_matches(qr_srv_routes[k].path, qr_srv_routes[k].tail, url)) {
                q->route = qr_srv_routes[k].route;
                break;
            }
        snprintf(q->method, sizeof q->method, "%s", method);
        if (s->access_log) {
            q->path = qr_strndup(url, strnlen(url, 1024));
        }
        qr_buf_init(&q->body, s->p.max_body_bytes);
        *con_cls = q;
        atomic_fetch_add(&s->in_flight, 1);
        touch(s);
        reply_init(&r);
        if (early_reply(s, c, url, method, q, &r)) {
            q->early = 1;
            return send_reply(s, c, q, &r);
        }
        qr_buf_free(&r.body);
        return MHD_YES;
    }
    if (*upload_data_size) {
        q->bytes_in += *upload_data_size;
        if (!q->early && !q->too_big) {
            qr_buf_append(&q->body, upload_data, *upload_data_size);
            if (q->body.failed) {
                q->too_big = 1;
                qr_buf_free(&q->body);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->early)
        return MHD_YES;
    reply_init(&r);
    if (q->too_big)
        qr_srv_error(&r, 413, "request_too_large", "the body is larger than the limit of %zu bytes",
                     s->p.max_body_bytes);
    else
        dispatch(s, c, url, q, &r);
    qr_buf_free(&q->body);
    return send_reply(s, c, q, &r);
}

/* now as 2026-12-03T21:40:00.123Z */
static void iso_time_now(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03ldZ", (long)(ts.tv_nsec / 1000000) % 1000);
}

/* One JSON line per finished request (--access-log): written whole under log_mu and
 * flushed, so a tail -f or a crash never sees half a line. */
static void access_log_line(quire_server *s, struct MHD_Connection *c, const conn_req *q,
                            int status, double secs)
{
    char remote[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      remote, sizeof remote);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      remote, sizeof remote);
    }
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    char when[40];
    iso_time_now(when, sizeof when);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:I, s:I}", "time", when, "remote",
                          remote, "method", q->method, "path", q->path ? q->path : "",
                          "status", status, "ms", (double)(long)(secs * 1e6) / 1e3, "bytes_in",
                          (json_int_t)q->bytes_in, "bytes_out", (json_int_t)q->bytes_out);
    if (!o)
        return;
    if (ua)
        json_object_set_new(o, "user_agent", json_stringn(ua, strnlen(ua, 512)));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line)
        return;
    pthread_mutex_lock(&s->log_mu);
    fputs(line, s->access_log);
    fputc('\n', s->access_log);
    fflush(s->access_log);
    pthread_mutex_unlock(&s->log_mu);
    free(line); /* lint-allow: free (json_dumps) */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    quire_server *s = cls;
    conn_req *q = *con_cls;
    if (!q)
        return;
    int status = q->status ? q->status
                           : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499;
    double secs = qr_now() - q->t0;
    qr_metrics_request(s->metrics, q->route, status, secs);
    if (s->access_log)
        access_log_line(s, c, q, status, secs);
    qr_buf_free(&q->body);
    qr_free(q->path);
    qr_free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
    touch(s);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    quire_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->queue.open_connections, 1);
    else
        atomic_fetch_sub(&s->queue.open_connections, 1);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    qr_log(QUIRE_LOG_DEBUG, "http: %s", msg);
}

static quire_status start_daemon(quire_server *s, quire_error *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    const char *host = s->p.host;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->p.port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return qr_err(err, QUIRE_INVALID_ARG, "host '%s' is not an IP address", host);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->p.port);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return qr_err(err, QUIRE_INVALID_ARG, "host '%s' is not an IPv4/IPv6 address", host);
    }
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->p.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->p.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->p.request_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_END);
    if (!s->daemon)
        return qr_err(err, QUIRE_IO, "cannot listen on %s:%d (address in use or not allowed?)",
                      host, s->p.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->p.port;
    return QUIRE_OK;
}

static quire_status apply_defaults(quire_server *s, const quire_model *model, quire_error *err)
{
    quire_server_params *p = &s->p;
    if (!p->host || !*p->host)
        p->host = "127.0.0.1";
    if (p->port < 0 || p->port > 65535 || p->n_batchers < 0 || p->n_batchers > 64 ||
        p->n_threads < 0 || p->n_threads > 256 || p->max_inputs < 0 ||
        p->max_tokens_per_input < 0 || p->max_connections < 0 || p->request_timeout_s < 0 ||
        p->batch_tokens < 0 || p->batch_wait_us < -1)
        return qr_err(err, QUIRE_INVALID_ARG, "server: a parameter is out of range");
    p->n_batchers = p->n_batchers ? p->n_batchers : 2;
    p->n_threads = p->n_threads ? p->n_threads : 1;
    p->max_body_bytes = p->max_body_bytes ? p->max_body_bytes : (size_t)32 << 20;
    p->max_inputs = p->max_inputs ? p->max_inputs : 2048;
    p->max_connections = p->max_connections ? p->max_connections : 256;
    p->request_timeout_s = p->request_timeout_s ? p->request_timeout_s : 30;
    p->batch_tokens = p->batch_tokens ? p->batch_tokens : 2048;
    p->batch_wait_us = p->batch_wait_us ? p->batch_wait_us : 2000;
    p->drain_timeout_s = p->drain_timeout_s > 0 ? p->drain_timeout_s : 30;
    if (model) {
        int mt = quire_model_max_tokens(model);
        s->dims = quire_model_dims(model);
        s->limit = p->max_tokens_per_input && p->max_tokens_per_input < mt
                       ? p->max_tokens_per_input : mt;
        if (s->limit < 2)
            s->limit = 2;
        if (p->batch_tokens < mt)
            p->batch_tokens = mt;
    }
    return QUIRE_OK;
}

static quire_status copy_strings(quire_server *s, quire_error *err)
{
    if (s->p.api_key && *s->p.api_key && !(s->api_key = qr_strdup(s->p.api_key)))
        return qr_err(err, QUIRE_NOMEM, "server: out of memory");
    if (s->p.model_name && *s->p.model_name && !(s->model_alias = qr_strdup(s->p.model_name)))
        return qr_err(err, QUIRE_NOMEM, "server: out of memory");
    if (s->p.allow_paths) {
        char buf[PATH_MAX];
        if (!realpath(s->p.allow_paths, buf))
            return qr_err(err, QUIRE_NOT_FOUND, "allow-paths: %s: no such directory",
                          s->p.allow_paths);
        if (!(s->allow_dir = qr_strdup(buf)))
            return qr_err(err, QUIRE_NOMEM, "server: out of memory");
    }
    s->p.api_key = s->api_key;
    s->p.model_name = s->model_alias;
    if (s->model) {
        const char *n = s->model_alias ? s->model_alias : quire_model_name(s->model);
        size_t l = strcspn(n, ",");
        snprintf(s->served_name, sizeof s->served_name, "%.*s", (int)QR_MIN(l, 127), n);
        /* the framing ids: those of an empty text ([CLS] [SEP] for BERT, <s> </s> ...) */
        int32_t ids[8];
        size_t n_ids = 0;
        s->frame_first = s->frame_last = -1;
        if (quire_tokenize(s->model, "", 0, ids, 8, &n_ids, NULL) == QUIRE_OK && n_ids >= 2 &&
            n_ids <= 8) {
            s->frame_first = ids[0];
            s->frame_last = ids[n_ids - 1];
        }
    }
    s->p.allow_paths = s->allow_dir;
    if (s->p.access_log && *s->p.access_log) {
        if (strcmp(s->p.access_log, "-") == 0) {
            s->access_log = stderr;
        } else {
            s->access_log = fopen(s->p.access_log, "a");
            if (!s->access_log)
                return qr_err(err, QUIRE_IO, "access log: %s: cannot open for appending (%s)",
                              s->p.access_log, strerror(errno));
            s->access_log_owned = 1;
        }
    }
    s->p.access_log = NULL; /* the caller's string may go; the FILE is what is kept */
    return QUIRE_OK;
}

quire_status quire_server_new(const quire_model *model, quire_store *store,
                              quire_converter *converter, const quire_server_params *params,
                              quire_server **out, quire_error *err)
{
    if (!out)
        return qr_err(err, QUIRE_INVALID_ARG, "quire_server_new: out is NULL");
    *out = NULL;
    quire_status rc = qr_lib_init(err);
    if (rc != QUIRE_OK)
        return rc;
    quire_server *s = qr_calloc(1, sizeof *s);
    if (!s)
        return qr_err(err, QUIRE_NOMEM, "server: out of memory");
    s->model = model;
    s->store = store;
    s->conv = converter;
    s->p = params ? *params : quire_server_default_params();
    pthread_mutex_init(&s->search_mu, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->draining, 0);
    atomic_init(&s->last_activity_ms, 0);
    atomic_init(&s->queue.open_connections, 0);
    rc = apply_defaults(s, model, err);
    if (rc == QUIRE_OK)
        rc = copy_strings(s, err);
    if (rc == QUIRE_OK && !(s->metrics = qr_metrics_new()))
        rc = qr_err(err, QUIRE_NOMEM, "server: out of memory");
    if (rc == QUIRE_OK && model) {
        s->queue_started = 1;
        rc = qr_batch_start(&s->queue, model, s->p.n_batchers, s->p.n_threads,
                            s->p.batch_tokens, s->p.batch_wait_us, s->p.no_batching, s->metrics,
                            err);
    }
    if (rc == QUIRE_OK)
        rc = start_daemon(s, err);
    if (rc != QUIRE_OK) {
        quire_server_free(s);
        return rc;
    }
    *out = s;
    return QUIRE_OK;
}

int quire_server_port(const quire_server *srv) { return srv ? srv->port : 0; }

/* Stop accepting, then wait until the open connections are gone, or no request has been
 * in flight for a moment (idle keep-alive connections), or the drain timeout. */
static void drain(quire_server *s)
{
    atomic_store(&s->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    double t0 = qr_now();
    for (;;) {
        double now = qr_now();
        int in_flight = atomic_load(&s->in_flight);
        double idle = now - atomic_load(&s->last_activity_ms) * 1e-3;
        if (atomic_load(&s->queue.open_connections) == 0 || (in_flight == 0 && idle > 0.3) ||
            now - t0 > s->p.drain_timeout_s)
            break;
        usleep(10000);
    }
}

quire_status quire_server_run(quire_server *srv, volatile int *stop)
{
    if (!srv || !srv->daemon)
        return QUIRE_INVALID_ARG;
    while (!stop || !*stop)
        usleep(20000);
    drain(srv);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    return QUIRE_OK;
}

void quire_server_free(quire_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->queue_started)
        qr_batch_stop(&srv->queue);
    quire_embedder_free(srv->search_emb);
    qr_metrics_free(srv->metrics);
    pthread_mutex_destroy(&srv->search_mu);
    pthread_mutex_destroy(&srv->log_mu);
    if (srv->access_log_owned)
        fclose(srv->access_log);
    qr_free(srv->api_key);
    qr_free(srv->model_alias);
    qr_free(srv->allow_dir);
    qr_free(srv);
}
