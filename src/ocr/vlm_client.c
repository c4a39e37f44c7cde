/*
 * vlm_client.c — the backends of a run and the fallback chain for one image.
 *
 * Per backend (shared by every worker thread): a concurrency cap (max_concurrency
 * requests in flight), a requests-per-minute limiter (starts spaced 60/rpm s apart), a
 * circuit breaker (5 transport / 5xx failures in a row open it for 30 s: requests then
 * skip the backend instead of waiting out timeouts), and a disabled flag set for the rest
 * of the run by 401/402/403 or a failed GET /models.
 *
 * One image: for each backend of the chain (default first, then fallback_chain):
 *   request; on a retryable failure (connection, timeout, 408 409 425 429 5xx, HTTP 200
 *   carrying an error, an error event in the stream) wait and retry up to retry_attempts
 *   times: Retry-After when the server sent one (capped), else a jittered capped
 *   exponential backoff; 400 "max_tokens … too large" is retried once with max_tokens
 *   clamped to what the error reports; other 4xx go to the next backend at once.
 *   A 200 answer is accepted only with finish_reason "stop" (nemotron-tools: its tool
 *   call) and after vlm_check.c's loop and garbage checks. A rejected answer is retried
 *   once at temperature + 0.2 with the stricter guard, then the next backend is tried.
 * Every request (and every backend skipped, with why) is one attempt in the result.
 *
 * Budgets (max_pages, budget_tokens, budget_cost; per backend, for the life of the client
 * = one run): a page takes one of max_pages when it first reaches the backend; tokens and
 * cost are added as answers report them. When one is spent the backend is skipped for the
 * remaining pages, each recording "budget spent: ..." as a skipped attempt, so they go on
 * down the chain (and to the text layer / Tesseract after the last). In-flight pages may
 * overshoot budget_tokens / budget_cost by their own usage; max_pages is exact.
 *
 * Cache: an accepted answer is stored under sha256(image + for each backend of the chain:
 * name, base_url, model, prompt and request parameters) in cache_dir/xx/<key>.json, so a
 * rerun with the same images and configuration requests nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vlm.h"

#define BREAKER_FAILS 5
#define BREAKER_OPEN_S 30.0

typedef struct be_state {
    const qr_backend_cfg *cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_flight;
    double next_start;  /* rpm limiter (monotonic seconds) */
    int fails_in_row;
    double open_until;  /* circuit breaker */
    int disabled;
    char why[200];
    /* budgets (max_pages, budget_tokens, budget_cost): what the run has used so far */
    int pages_used;
    long tokens_used;
    double cost_used;
    char url[640];
    char models_url[640];
} be_state;

struct qr_vlm_client {
    qr_vlm_client_params p;
    int n;
    be_state be[QR_MAX_BACKENDS];
    pthread_mutex_t rng_mu;
    uint64_t rng;
};

static double rnd(qr_vlm_client *c)
{
    pthread_mutex_lock(&c->rng_mu);
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    uint64_t v = c->rng;
    pthread_mutex_unlock(&c->rng_mu);
    return (double)(v >> 11) / 9007199254740992.0;
}

/* Sleep s seconds in small steps; returns 1 if aborted. */
static int nap(double s, volatile int *abort_flag)
{
    double end = qr_now() + s;
    for (;;) {
        if (abort_flag && *abort_flag)
            return 1;
        double left = end - qr_now();
        if (left <= 0)
            return 0;
        if (left > 0.05)
            left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

quire_status qr_vlm_client_new(const qr_vlm_client_params *p, qr_vlm_client **out,
                               quire_error *err)
{
    *out = NULL;
    const quire_config *cfg = p->cfg;
    if (!cfg || cfg->n_backends == 0)
        return qr_err(err, QUIRE_NOT_FOUND, "no VLM backend is configured (quire.toml "
                      "[backends.NAME], or --config FILE)");
    qr_vlm_client *c = qr_calloc(1, sizeof(*c));
    if (!c)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    c->p = *p;
    if (c->p.backoff_base_s <= 0)
        c->p.backoff_base_s = 0.5;
    if (c->p.backoff_cap_s <= 0)
        c->p.backoff_cap_s = 30;
    if (c->p.retry_after_cap_s <= 0)
        c->p.retry_after_cap_s = 120;
    pthread_mutex_init(&c->rng_mu, NULL);
    c->rng = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
    const char *names[QR_MAX_BACKENDS + 1];
    int n = 0;
    names[n++] = cfg->default_backend;
    for (int i = 0; i < cfg->n_chain && n < QR_MAX_BACKENDS; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= strcmp(names[j], cfg->chain[i]) == 0;
        if (!dup)
            names[n++] = cfg->chain[i];
    }
    for (int i = 0; i < n; i++) {
        be_state *b = &c->be[c->n];
        b->cfg = qr_config_backend(cfg, names[i]);
        if (!b->cfg)
            continue;
        if (!b->cfg->allow_remote && !qr_url_is_loopback(b->cfg->base_url)) {
            qr_vlm_client_free(c);
            return qr_err(err, QUIRE_INVALID_ARG, "backend %s: %s is not a loopback address "
                          "(set allow_remote = true)", b->cfg->name, b->cfg->base_url);
        }
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
        qr_vlm_url(b->cfg->base_url, "chat/completions", b->url, sizeof(b->url));
        qr_vlm_url(b->cfg->base_url, "models", b->models_url, sizeof(b->models_url));
        if (b->cfg->api_key_env[0] && !getenv(b->cfg->api_key_env)) {
            b->disabled = 1;
            qr_vlm_fmt(b->why, sizeof(b->why), "environment variable %s (api_key_env) is not set",
                     b->cfg->api_key_env);
        }
        c->n++;
    }
    qr_vlm_http_global_init();
    *out = c;
    return QUIRE_OK;
}

void qr_vlm_client_free(qr_vlm_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        pthread_mutex_destroy(&c->be[i].mu);
        pthread_cond_destroy(&c->be[i].cv);
    }
    pthread_mutex_destroy(&c->rng_mu);
    qr_free(c);
}

int qr_vlm_client_n_backends(const qr_vlm_client *c) { return c ? c->n : 0; }

const qr_backend_cfg *qr_vlm_client_backend(const qr_vlm_client *c, int i, int *usable,
                                            const char **why)
{
    if (!c || i < 0 || i >= c->n)
        return NULL;
    be_state *b = (be_state *)&c->be[i];
    pthread_mutex_lock(&b->mu);
    if (usable)
        *usable = !b->disabled;
    pthread_mutex_unlock(&b->mu);
    if (why)
        *why = b->why;
    return b->cfg;
}

void qr_vlm_client_image_limits(const qr_vlm_client *c, int *max_px, long *max_b64)
{
    int px = 0;
    long b64 = 0;
    for (int i = 0; i < c->n; i++) {
        const qr_backend_cfg *b = c->be[i].cfg;
        if (b->max_image_px > 0 && (px == 0 || b->max_image_px < px))
            px = b->max_image_px;
        if (b->max_image_b64 > 0 && (b64 == 0 || b->max_image_b64 < b64))
            b64 = b->max_image_b64;
    }
    *max_px = px ? px : 1288;
    *max_b64 = b64;
}

int qr_vlm_client_image_jpeg(const qr_vlm_client *c, int *quality)
{
    int q = 100;
    for (int i = 0; i < c->n; i++) {
        const qr_backend_cfg *b = c->be[i].cfg;
        if (strcmp(b->image_format, "jpeg") != 0)
            return 0;
        if (b->jpeg_quality > 0 && b->jpeg_quality < q)
            q = b->jpeg_quality;
    }
    if (quality)
        *quality = q;
    return c->n > 0;
}

static void disable(be_state *b, const char *why)
{
    pthread_mutex_lock(&b->mu);
    if (!b->disabled) {
        b->disabled = 1;
        qr_vlm_fmt(b->why, sizeof(b->why), "%s", why);
    }
    pthread_mutex_unlock(&b->mu);
}

static void http_opts(const be_state *b, qr_vlm_http_opts *o, const char *url, const char *body,
                      int stream, volatile int *abort_flag)
{
    memset(o, 0, sizeof(*o));
    o->url = url;
    o->body = body;
    o->stream = stream;
    o->api_key = b->cfg->api_key_env[0] ? getenv(b->cfg->api_key_env) : NULL;
    o->connect_timeout_s = b->cfg->connect_timeout_s;
    o->read_timeout_s = b->cfg->read_timeout_s;
    o->idle_timeout_s = b->cfg->idle_timeout_s;
    o->remote = !qr_url_is_loopback(b->cfg->base_url);
    o->abort_flag = abort_flag;
}

quire_status qr_vlm_client_probe(qr_vlm_client *c, quire_error *err)
{
    int usable = 0;
    char all[900] = "";
    for (int i = 0; i < c->n; i++) {
        be_state *b = &c->be[i];
        if (!b->disabled) {
            qr_vlm_http_opts o;
            http_opts(b, &o, b->models_url, NULL, 0, NULL);
            if (o.read_timeout_s > 30)
                o.read_timeout_s = 30;
            qr_vlm_http h;
            qr_vlm_http_do(&o, &h);
            char msg[200];
            if (h.status == 0) {
                qr_vlm_fmt(msg, sizeof(msg), "GET %s: %s", b->models_url,
                         h.error[0] ? h.error : "no answer");
                disable(b, msg);
            } else if (qr_vlm_status_class(h.status) == QR_VLM_DISABLE) {
                char m[120];
                qr_vlm_error_message(h.body, h.body_len, m, sizeof(m));
                qr_vlm_fmt(msg, sizeof(msg), "GET %s: HTTP %ld: %s", b->models_url, h.status, m);
                disable(b, msg);
            } else if (h.status == 200) {
                /* note (not fatal) when the list does not name the model: llama-server
                 * lists its file name, Ollama adds ":latest", mlx-vlm loads on demand */
                json_error_t je;
                json_t *j = h.body ? json_loadb(h.body, h.body_len, 0, &je) : NULL;
                json_t *data = json_object_get(j, "data");
                size_t k;
                json_t *m;
                int listed = 0;
                json_array_foreach(data, k, m)
                {
                    const char *id = json_string_value(json_object_get(m, "id"));
                    listed |= id && strncmp(id, b->cfg->model, strlen(b->cfg->model)) == 0;
                }
                if (json_array_size(data) && !listed)
                    qr_vlm_fmt(b->why, sizeof(b->why), "GET /models does not list %s",
                             b->cfg->model);
                json_decref(j);
            } else {
                qr_vlm_fmt(b->why, sizeof(b->why), "GET /models: HTTP %ld", h.status);
            }
            qr_vlm_http_free(&h);
        }
        usable += !b->disabled;
        size_t l = strlen(all);
        if (b->disabled)
            qr_vlm_fmt(all + l, sizeof(all) - l, "%s%s: %s", l ? "; " : "", b->cfg->name, b->why);
    }
    if (!usable)
        return qr_err(err, QUIRE_IO, "no VLM backend answers: %s", all);
    return QUIRE_OK;
}

/* ---- one backend: slots, rate, breaker --------------------------------------------- */

/* Wait for a request slot. Returns 0 when taken, -1 aborted, -2 breaker open / disabled. */
static int take_slot(be_state *b, volatile int *abort_flag, double *waited)
{
    double t0 = qr_now();
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (b->disabled || qr_now() < b->open_until) {
            pthread_mutex_unlock(&b->mu);
            return -2;
        }
        if (abort_flag && *abort_flag) {
            pthread_mutex_unlock(&b->mu);
            return -1;
        }
        if (b->in_flight < b->cfg->max_concurrency)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    b->in_flight++;
    double start = qr_now();
    if (b->cfg->rpm > 0) {
        double gap = 60.0 / b->cfg->rpm;
        if (b->next_start > start)
            start = b->next_start;
        b->next_start = start + gap;
    }
    pthread_mutex_unlock(&b->mu);
    double now = qr_now();
    if (start > now && nap(start - now, abort_flag)) {
        pthread_mutex_lock(&b->mu);
        b->in_flight--;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return -1;
    }
    *waited += qr_now() - t0;
    return 0;
}

static void give_slot(be_state *b, int failed_hard)
{
    pthread_mutex_lock(&b->mu);
    b->in_flight--;
    if (failed_hard) {
        if (++b->fails_in_row >= BREAKER_FAILS) {
            b->open_until = qr_now() + BREAKER_OPEN_S;
            b->fails_in_row = 0;
        }
    } else {
        b->fails_in_row = 0;
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* ---- events ---------------------------------------------------------------------------- */

static json_t *attempt_json(const qr_vlm_attempt *a)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:f, s:f, s:I, s:I, s:f, s:f, s:b, s:b}",
                          "backend", a->backend, "model", a->model, "status",
                          (json_int_t)a->http_status, "finish_reason", a->finish_reason,
                          "latency_ms", a->latency_ms, "waited_ms", a->waited_ms,
                          "prompt_tokens", (json_int_t)a->prompt_tokens, "completion_tokens",
                          (json_int_t)a->completion_tokens, "cost", a->cost, "temperature",
                          a->temperature, "streamed", a->streamed, "accepted", a->accepted);
    if (o && a->generation_id[0])
        json_object_set_new(o, "generation_id", json_string(a->generation_id));
    if (o && a->reason[0])
        json_object_set_new(o, "reason", json_string(a->reason));
    return o;
}

#define HAS_EVENTS(c) ((c)->p.on_event || (c)->p.log_line)

static void emit(qr_vlm_client *c, const char *event, const char *label, json_t *extra)
{
    if (!HAS_EVENTS(c)) {
        json_decref(extra);
        return;
    }
    json_t *e = extra && json_is_object(extra) ? extra : json_object();
    if (extra && e != extra)
        json_decref(extra);
    json_object_set_new(e, "event", json_string(event));
    if (label)
        json_object_set_new(e, "where", json_string(label));
    if (c->p.on_event)
        c->p.on_event(c->p.event_user, e);
    if (c->p.log_line) {
        char *s = json_dumps(e, JSON_COMPACT);
        if (s)
            c->p.log_line(c->p.log_user, s);
        free(s); /* lint-allow: free (jansson) */
    }
    json_decref(e);
}

/* ---- budgets --------------------------------------------------------------------------- */

/* Take one page of the backend's budgets. 1 = taken; 0 = a budget is spent (why written). */
static int budget_take_page(be_state *b, char *why, size_t cap)
{
    const qr_backend_cfg *cfg = b->cfg;
    int ok = 1;
    pthread_mutex_lock(&b->mu);
    if (b->disabled) {
        /* skipped anyway (one_request records why): the page is not counted */
    } else if (cfg->max_pages > 0 && b->pages_used >= cfg->max_pages) {
        qr_vlm_fmt(why, cap, "budget spent: max_pages = %d pages sent", cfg->max_pages);
        ok = 0;
    } else if (cfg->budget_tokens > 0 && b->tokens_used >= cfg->budget_tokens) {
        qr_vlm_fmt(why, cap, "budget spent: budget_tokens = %ld (%ld tokens used)",
                   cfg->budget_tokens, b->tokens_used);
        ok = 0;
    } else if (cfg->budget_cost > 0 && b->cost_used >= cfg->budget_cost) {
        qr_vlm_fmt(why, cap, "budget spent: budget_cost = %g (%g spent)", cfg->budget_cost,
                   b->cost_used);
        ok = 0;
    } else {
        b->pages_used++;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static void budget_add(be_state *b, const qr_vlm_attempt *a)
{
    if (!a->prompt_tokens && !a->completion_tokens && a->cost <= 0)
        return;
    pthread_mutex_lock(&b->mu);
    b->tokens_used += a->prompt_tokens + a->completion_tokens;
    b->cost_used += a->cost;
    pthread_mutex_unlock(&b->mu);
}

/* ---- one request --------------------------------------------------------------------- */

enum outcome { OUT_ACCEPT, OUT_REJECT, OUT_NEXT, OUT_ABORT };

typedef struct run_ctx {
    qr_vlm_client *c;
    qr_vlm_result *r;
    const char *data_uri;
    int task;
    long ref_chars;
    const char *label;
    volatile int *abort_flag;
} run_ctx;

static qr_vlm_attempt *new_attempt(qr_vlm_result *r, const be_state *b, double temp)
{
    if (r->n_attempts >= QR_VLM_MAX_ATTEMPTS) /* keep the last slot for the latest */
        r->n_attempts = QR_VLM_MAX_ATTEMPTS - 1;
    qr_vlm_attempt *a = &r->attempts[r->n_attempts++];
    memset(a, 0, sizeof(*a));
    qr_vlm_fmt(a->backend, sizeof(a->backend), "%s", b->cfg->name);
    a->temperature = temp;
    return a;
}

/* Parse "... (8192 > 8192 - 921)" / "maximum context length is N" into a smaller limit. */
static int clamp_from_error(const char *msg, int cur)
{
    const char *p = strstr(msg, "too large");
    if (!p)
        return 0;
    long a = 0, b = 0, c = 0;
    const char *q = strchr(p, '(');
    if (q && sscanf(q, "(%ld > %ld - %ld)", &a, &b, &c) == 3 && b - c > 16 && b - c < cur)
        return (int)(b - c - 1);
    return cur > 64 ? cur / 2 : 0;
}

static enum outcome one_request(run_ctx *x, be_state *b, double temp, int stricter,
                                char **text_out)
{
    const qr_backend_cfg *cfg = b->cfg;
    int stream = x->c->p.stream;
    int max_tokens = cfg->max_tokens;
    int clamped = 0;
    double waited = 0;
    char last[200] = "";
    for (int attempt = 0; attempt <= cfg->retry_attempts; attempt++) {
        int slot = take_slot(b, x->abort_flag, &waited);
        if (slot == -1)
            return OUT_ABORT;
        if (slot == -2) {
            qr_vlm_attempt *a = new_attempt(x->r, b, temp);
            pthread_mutex_lock(&b->mu);
            qr_vlm_fmt(a->reason, sizeof(a->reason), "skipped: %s",
                     b->disabled ? b->why : "circuit breaker open after repeated failures");
            pthread_mutex_unlock(&b->mu);
            return OUT_NEXT;
        }
        json_t *body = qr_vlm_request_body(cfg, x->task, x->data_uri, temp, max_tokens, stream,
                                           stricter);
        char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        qr_vlm_attempt *a = new_attempt(x->r, b, temp);
        a->streamed = stream;
        a->waited_ms = waited * 1000;
        waited = 0;
        if (!s) {
            give_slot(b, 0);
            qr_vlm_fmt(a->reason, sizeof(a->reason), "out of memory building the request");
            return OUT_NEXT;
        }
        qr_vlm_http_opts o;
        http_opts(b, &o, b->url, s, stream, x->abort_flag);
        qr_vlm_http h;
        double t0 = qr_now();
        qr_vlm_http_do(&o, &h);
        a->latency_ms = (qr_now() - t0) * 1000;
        free(s); /* lint-allow: free (jansson) */
        a->http_status = h.status;
        qr_vlm_fmt(a->generation_id, sizeof(a->generation_id), "%s", h.generation_id);
        int cls = qr_vlm_status_class(h.status);
        int retry = 0;
        enum outcome res = OUT_NEXT;
        qr_vlm_answer ans;
        memset(&ans, 0, sizeof(ans));
        if (x->abort_flag && *x->abort_flag) {
            qr_vlm_fmt(a->reason, sizeof(a->reason), "cancelled");
            res = OUT_ABORT;
        } else if (h.loop_aborted) {
            qr_vlm_fmt(a->reason, sizeof(a->reason), "%s", h.error);
            qr_vlm_fmt(a->model, sizeof(a->model), "%s", h.model);
            res = OUT_REJECT;
        } else if (h.error[0] && (h.status == 0 || cls == QR_VLM_OK)) {
            qr_vlm_fmt(a->reason, sizeof(a->reason), "%s", h.error);
            retry = 1;
        } else if (cls != QR_VLM_OK) {
            char m[512];
            qr_vlm_error_message(h.body, h.body_len, m, sizeof(m));
            qr_vlm_fmt(a->reason, sizeof(a->reason), "HTTP %ld: %s", h.status, m);
            if (cls == QR_VLM_RETRY) {
                retry = 1;
            } else if (cls == QR_VLM_DISABLE) {
                disable(b, a->reason);
            } else if (h.status == 400 && !clamped && strstr(m, "max_tokens") &&
                       clamp_from_error(m, max_tokens) > 0) {
                max_tokens = clamp_from_error(m, max_tokens);
                clamped = 1;
                give_slot(b, 0);
                qr_vlm_http_free(&h);
                attempt--; /* the clamp retry does not use up a retry */
                continue;
            }
        } else {
            /* a 200: a completion, or an error carried in it */
            if (stream && !(h.body && h.body_len && h.body[0] == '{' && !h.content.len &&
                            !h.finish_reason[0] && !h.tool_args.len)) {
                if (h.content.len) {
                    ans.content = h.content.data;
                    memset(&h.content, 0, sizeof(h.content));
                } else if (h.tool_args.len) {
                    ans.content = h.tool_args.data;
                    memset(&h.tool_args, 0, sizeof(h.tool_args));
                    ans.tool_call = 1;
                } else {
                    ans.content = qr_strdup("");
                }
                qr_vlm_fmt(ans.finish_reason, sizeof(ans.finish_reason), "%s", h.finish_reason);
                qr_vlm_fmt(ans.model, sizeof(ans.model), "%s", h.model);
                ans.prompt_tokens = h.prompt_tokens;
                ans.completion_tokens = h.completion_tokens;
                ans.cost = h.cost;
                qr_vlm_fmt(ans.error, sizeof(ans.error), "%s", h.stream_error);
                if (!a->generation_id[0])
                    qr_vlm_fmt(a->generation_id, sizeof(a->generation_id), "%s", h.id);
            } else if (qr_vlm_parse_answer(h.body, h.body_len, &ans) != 0) {
                qr_vlm_fmt(a->reason, sizeof(a->reason), "%s", ans.error);
                retry = 1;
                goto decided;
            } else if (!a->generation_id[0]) {
                qr_vlm_fmt(a->generation_id, sizeof(a->generation_id), "%s", ans.id);
            }
            qr_vlm_fmt(a->model, sizeof(a->model), "%s", ans.model);
            qr_vlm_fmt(a->finish_reason, sizeof(a->finish_reason), "%s", ans.finish_reason);
            a->prompt_tokens = ans.prompt_tokens;
            a->completion_tokens = ans.completion_tokens;
            a->cost = ans.cost;
            const char *fr = ans.finish_reason;
            if (!ans.content) {
                qr_vlm_fmt(a->reason, sizeof(a->reason), "out of memory reading the answer");
                goto decided;
            }
            int nemo_tools = cfg->protocol == QR_PROTO_NEMOTRON_TOOLS;
            if (ans.error[0]) {
                qr_vlm_fmt(a->reason, sizeof(a->reason), "%s: %s",
                         stream ? "error in the stream" : "HTTP 200 carrying an error", ans.error);
                retry = 1;
            } else if (!(strcmp(fr, "stop") == 0 ||
                         (nemo_tools && ans.tool_call &&
                          (strcmp(fr, "tool_calls") == 0 || strcmp(fr, "stop") == 0)))) {
                if (nemo_tools && !ans.tool_call && strcmp(fr, "stop") == 0)
                    qr_vlm_fmt(a->reason, sizeof(a->reason), "no tool call in the answer");
                else if (fr[0])
                    qr_vlm_fmt(a->reason, sizeof(a->reason), "finish_reason %s%s", fr,
                             strcmp(fr, "length") == 0 ? " (max_tokens reached: a loop or an "
                                                         "unfinished page)" : "");
                else
                    qr_vlm_fmt(a->reason, sizeof(a->reason), "no finish_reason in the answer");
                res = OUT_REJECT;
            } else {
                qr_vlm_strip_eos(ans.content);
                char why[200];
                if (!nemo_tools && !qr_vlm_check_text(ans.content, x->ref_chars, why, sizeof(why))) {
                    qr_vlm_fmt(a->reason, sizeof(a->reason), "%s", why);
                    res = OUT_REJECT;
                } else {
                    a->accepted = 1;
                    *text_out = ans.content;
                    ans.content = NULL;
                    res = OUT_ACCEPT;
                }
            }
        }
    decided:
        qr_vlm_answer_free(&ans);
        int hard = retry && (h.status == 0 || h.status >= 500);
        budget_add(b, a);
        give_slot(b, hard);
        double ra = h.retry_after_s;
        qr_vlm_http_free(&h);
        if (HAS_EVENTS(x->c)) {
            json_t *ev = attempt_json(a);
            emit(x->c, "attempt", x->label, ev);
        }
        if (!retry)
            return res;
        qr_vlm_fmt(last, sizeof(last), "%s", a->reason);
        if (attempt == cfg->retry_attempts)
            break;
        double wait;
        if (ra >= 0) {
            wait = ra < x->c->p.retry_after_cap_s ? ra : x->c->p.retry_after_cap_s;
        } else {
            double d = x->c->p.backoff_base_s * (double)(1u << (attempt < 20 ? attempt : 20));
            if (d > x->c->p.backoff_cap_s)
                d = x->c->p.backoff_cap_s;
            wait = d / 2 + rnd(x->c) * d / 2; /* equal jitter */
        }
        if (HAS_EVENTS(x->c))
            emit(x->c, "retry", x->label,
                 json_pack("{s:s, s:f, s:s, s:b}", "backend", cfg->name, "wait_s", wait, "reason",
                           last, "retry_after", ra >= 0));
        double w0 = qr_now();
        if (nap(wait, x->abort_flag))
            return OUT_ABORT;
        waited += qr_now() - w0;
    }
    qr_vlm_attempt *tail = &x->r->attempts[x->r->n_attempts - 1];
    size_t l = strlen(tail->reason);
    qr_vlm_fmt(tail->reason + l, sizeof(tail->reason) - l, " (gave up after %d tries)",
             cfg->retry_attempts + 1);
    return OUT_NEXT;
}

/* ---- cache ------------------------------------------------------------------------------ */

static void cache_key(qr_vlm_client *c, const char *img_sha, int task, char key[65])
{
    qr_sha256 s;
    qr_sha256_init(&s);
    qr_sha256_update(&s, "quire-vlm-cache-1\n", 18);
    qr_sha256_update(&s, img_sha, 64);
    char t[16];
    qr_vlm_fmt(t, sizeof(t), "\ntask %d\n", task);
    qr_sha256_update(&s, t, strlen(t));
    for (int i = 0; i < c->n; i++) {
        const qr_backend_cfg *b = c->be[i].cfg;
        /* the request as sent, minus the image: model, prompt, every parameter */
        json_t *body = qr_vlm_request_body(b, task, "", b->temperature, b->max_tokens, 0, 0);
        char *js = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        qr_sha256_update(&s, b->name, strlen(b->name));
        qr_sha256_update(&s, "\n", 1);
        qr_sha256_update(&s, b->base_url, strlen(b->base_url));
        qr_sha256_update(&s, "\n", 1);
        if (js)
            qr_sha256_update(&s, js, strlen(js));
        qr_sha256_update(&s, "\n", 1);
        free(js); /* lint-allow: free (jansson) */
        json_decref(body);
    }
    unsigned char d[32];
    qr_sha256_final(&s, d);
    qr_hex(d, 32, key);
}

static int cache_path(const qr_vlm_client *c, const char *key, char *out, size_t cap, int mk)
{
    char dir[1024];
    if (snprintf(dir, sizeof(dir), "%s/%.2s", c->p.cache_dir, key) >= (int)sizeof(dir))
        return -1;
    if (mk) {
        mkdir(c->p.cache_dir, 0755);
        mkdir(dir, 0755);
    }
    return snprintf(out, cap, "%s/%s.json", dir, key) >= (int)cap ? -1 : 0;
}

static int cache_get(qr_vlm_client *c, const char *key, qr_vlm_result *r)
{
    char path[1200];
    if (!c->p.cache_dir || cache_path(c, key, path, sizeof(path), 0))
        return 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    const char *text = json_string_value(json_object_get(j, "text"));
    const char *be = json_string_value(json_object_get(j, "backend"));
    if (!text || !be) {
        json_decref(j);
        return 0;
    }
    r->text = qr_strdup(text);
    if (!r->text) {
        json_decref(j);
        return 0;
    }
    qr_vlm_fmt(r->backend, sizeof(r->backend), "%s", be);
    qr_vlm_fmt(r->model, sizeof(r->model), "%s",
             json_string_value(json_object_get(j, "model")) ? json_string_value(json_object_get(j, "model")) : "");
    qr_vlm_fmt(r->prompt_id, sizeof(r->prompt_id), "%s",
             json_string_value(json_object_get(j, "prompt_id")) ? json_string_value(json_object_get(j, "prompt_id")) : "");
    r->protocol = (int)json_integer_value(json_object_get(j, "protocol"));
    r->ok = 1;
    r->cached = 1;
    json_decref(j);
    return 1;
}

static void cache_put(qr_vlm_client *c, const char *key, const qr_vlm_result *r)
{
    char path[1200], tmp[1300];
    if (!c->p.cache_dir || cache_path(c, key, path, sizeof(path), 1))
        return;
    qr_vlm_fmt(tmp, sizeof(tmp), "%s.%ld.%lu.tmp", path, (long)getpid(),
             (unsigned long)pthread_self());
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i}", "text", r->text, "backend", r->backend,
                          "model", r->model, "prompt_id", r->prompt_id, "protocol", r->protocol);
    if (j && json_dump_file(j, tmp, JSON_COMPACT) == 0) {
        if (rename(tmp, path) != 0)
            unlink(tmp);
    } else {
        unlink(tmp);
    }
    json_decref(j);
}

/* ---- one image ----------------------------------------------------------------------- */

void qr_vlm_run(qr_vlm_client *c, const unsigned char *png, size_t png_len, int task,
                long ref_chars, const char *label, volatile int *abort_flag, qr_vlm_result *r)
{
    qr_vlm_run_image(c, png, png_len, "image/png", task, ref_chars, label, abort_flag, r);
}

void qr_vlm_run_image(qr_vlm_client *c, const unsigned char *png, size_t png_len,
                      const char *mime, int task, long ref_chars, const char *label,
                      volatile int *abort_flag, qr_vlm_result *r)
{
    memset(r, 0, sizeof(*r));
    qr_sha256_hex(png, png_len, r->image_sha256);
    char key[65];
    cache_key(c, r->image_sha256, task, key);
    if (cache_get(c, key, r)) {
        emit(c, "cache_hit", label, json_pack("{s:s}", "backend", r->backend));
        return;
    }
    size_t b64n = 0;
    char *b64 = qr_base64(png, png_len, &b64n);
    char head[64];
    int hn = snprintf(head, sizeof(head), "data:%s;base64,", mime && *mime ? mime : "image/png");
    char *uri = b64 && hn > 0 && hn < (int)sizeof(head) ? qr_malloc(b64n + (size_t)hn + 1) : NULL;
    if (!uri) {
        qr_free(b64);
        qr_vlm_fmt(r->reason, sizeof(r->reason), "out of memory encoding the image");
        return;
    }
    memcpy(uri, head, (size_t)hn);
    memcpy(uri + hn, b64, b64n + 1);
    qr_free(b64);
    run_ctx x = {c, r, uri, task, ref_chars, label, abort_flag};
    char last[200] = "";
    for (int i = 0; i < c->n && !r->ok; i++) {
        be_state *b = &c->be[i];
        if (i > 0 && HAS_EVENTS(c))
            emit(c, "fallback", label,
                 json_pack("{s:s, s:s}", "to", b->cfg->name, "reason", last));
        char bwhy[160];
        if (!budget_take_page(b, bwhy, sizeof(bwhy))) {
            qr_vlm_attempt *a = new_attempt(r, b, b->cfg->temperature);
            qr_vlm_fmt(a->reason, sizeof(a->reason), "skipped: %s", bwhy);
            qr_vlm_fmt(last, sizeof(last), "%s: %s", b->cfg->name, a->reason);
            if (HAS_EVENTS(c))
                emit(c, "budget_spent", label,
                     json_pack("{s:s, s:s}", "backend", b->cfg->name, "reason", bwhy));
            continue;
        }
        double temp = b->cfg->temperature;
        for (int q = 0; q < 2; q++) {
            char *text = NULL;
            enum outcome o = one_request(&x, b, temp, q > 0, &text);
            if (r->n_attempts)
                qr_vlm_fmt(last, sizeof(last), "%s: %s", b->cfg->name,
                         r->attempts[r->n_attempts - 1].reason);
            if (o == OUT_ACCEPT) {
                r->ok = 1;
                r->text = text;
                qr_vlm_fmt(r->backend, sizeof(r->backend), "%s", b->cfg->name);
                qr_vlm_fmt(r->model, sizeof(r->model), "%s",
                         r->attempts[r->n_attempts - 1].model[0]
                             ? r->attempts[r->n_attempts - 1].model : b->cfg->model);
                const char *pid = NULL;
                qr_vlm_prompt(b->cfg, task, &pid);
                qr_vlm_fmt(r->prompt_id, sizeof(r->prompt_id), "%s", pid);
                r->protocol = b->cfg->protocol;
                break;
            }
            if (o == OUT_ABORT) {
                qr_vlm_fmt(r->reason, sizeof(r->reason), "cancelled");
                qr_free(uri);
                return;
            }
            if (o != OUT_REJECT)
                break;
            /* rejected: once more, hotter (olmOCR: higher temperature overcomes repetition) */
            temp = temp + 0.2 < 1.0 ? temp + 0.2 : 1.0;
        }
    }
    qr_free(uri);
    if (r->ok)
        cache_put(c, key, r);
    else
        qr_vlm_fmt(r->reason, sizeof(r->reason), "every backend failed; last: %s",
                 last[0] ? last : "no backend");
}

void qr_vlm_result_free(qr_vlm_result *r)
{
    if (r) {
        qr_free(r->text);
        r->text = NULL;
    }
}

json_t *qr_vlm_result_json(const qr_vlm_result *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "model", json_string(r->model));
    json_object_set_new(o, "prompt_id", json_string(r->prompt_id));
    json_object_set_new(o, "image_sha256", json_string(r->image_sha256));
    json_object_set_new(o, "cached", json_boolean(r->cached));
    json_object_set_new(o, "ok", json_boolean(r->ok));
    if (!r->ok)
        json_object_set_new(o, "reason", json_string(r->reason));
    json_t *att = json_array();
    for (int i = 0; i < r->n_attempts; i++)
        json_array_append_new(att, attempt_json(&r->attempts[i]));
    json_object_set_new(o, "attempts", att);
    return o;
}
