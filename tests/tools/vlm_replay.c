/*
 * vlm_replay.c — a replaying VLM server for the tests (libmicrohttpd). It answers
 * OpenAI-compatible chat completions in the shapes the real servers use (research brief
 * shared/research/vlm-backends.md §1-3) and misbehaves on demand.
 *
 *   vlm_replay --port-file FILE [--flavor F] [--model NAME] [--script K1,K2,...]
 *              [--fail-rate P] [--seed N] [--retry-after S] [--slow-ms N] [--log FILE]
 *              [--require-key VALUE] [--table-cols N]
 *
 * Binds 127.0.0.1 on a free port (written to --port-file once listening) and serves
 *   GET  /v1/models, /models
 *   POST /v1/chat/completions, /chat/completions (mlx-vlm), /api/v1/chat/completions
 * until SIGTERM/SIGINT.
 *
 * Flavors (envelope, error body, extras):
 *   vllm        vLLM serving DeepSeek-OCR: grounding tags, HTML tables, \[..\];
 *               {"error":{"message","type","param","code":<int>}}
 *   ollama      Ollama /v1: system_fingerprint fp_ollama; {"error":{..,"code":null}}
 *   llama       llama-server: "timings"; {"error":{"code","message","type"}}; 503 loading
 *   mlx         mlx-vlm: usage input_tokens/output_tokens; FastAPI {"detail":"…"}
 *   openrouter  OpenRouter: X-Generation-Id, usage.cost, native_finish_reason, SSE
 *               ": OPENROUTER PROCESSING" comments, errors in HTTP 200
 *   nvidia      Nemotron Parse tool mode: tool_calls[0].function.arguments = JSON string
 *               of [[{bbox{xmin..}, text, type}]], finish_reason "tool_calls"
 *   nemotron    Nemotron Parse control tokens <x_..><y_..>TEXT<x_..><y_..><class_..>
 *
 * Behaviours (--script consumes one per chat request, in order; after it, or without it,
 * each request fails with probability --fail-rate, picking a failure kind at random):
 *   ok 429 429date 503 500 err200 length loop nearloop empty midstream reset slow
 *   ctx400 401 402 detail objerr garbage
 *
 * Region prompts (quire --vlm tables / formulas) get region answers, in the flavor's shape
 * (vllm: a grounded HTML table / \[..\]; others: an HTML table / \[..\]): the table
 * prompts ("<|grounding|>OCR this image.", "Convert this table ...") a table of
 * --table-cols columns (default 3) and 3 rows whose cells are "rRcC-TAG" (TAG: the image
 * hash), the formula prompts ("Free OCR.", "Write this formula ...") \[ x_{TAG} = ... \].
 *
 * --log appends one JSON line per request: its number, path, behaviour and what the
 * request carried (model, temperature, max_tokens, stream, skip_special_tokens,
 * vllm_xargs, tools, the text prompt, part order, image length and hash, whether the
 * Authorization header matched --require-key, "in_flight": requests being answered at
 * its arrival, itself included), plus {"closed_early":N} when a client
 * closed a stream before its end.
 */
#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define MAX_BODY (64u << 20)

static const char *flavor = "vllm";
static const char *model = "deepseek-ai/DeepSeek-OCR";
static char *script[4096];
static int n_script, script_pos;
static double fail_rate;
static uint64_t rng = 88172645463325252ull;
static int retry_after = 1;
static int slow_ms = 3000;
static int table_cols = 3;
static FILE *log_fp;
static const char *require_key;
static long req_no;
static int in_flight;            /* chat requests being answered (a stream: until its end) */
static _Thread_local int tl_streamed; /* this connection's answer is a stream */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static const char *fail_kinds[] = {"429", "503", "500", "err200", "length", "loop", "nearloop",
                                   "empty", "midstream", "reset", "garbage", "objerr"};

static double rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static const char *next_kind(void)
{
    if (script_pos < n_script)
        return script[script_pos++];
    if (fail_rate > 0 && rnd() < fail_rate)
        return fail_kinds[(int)(rnd() * (sizeof(fail_kinds) / sizeof(fail_kinds[0])))];
    return "ok";
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* ---- content ------------------------------------------------------------------------ */

static char *ok_content(const char *tag)
{
    char *s = malloc(4096);
    if (is(flavor, "vllm"))
        snprintf(s, 4096,
                 "<|ref|>title<|/ref|><|det|>[[80, 60, 920, 110]]<|/det|>\n# Replayed page %s\n\n"
                 "<|ref|>text<|/ref|><|det|>[[80, 140, 920, 300]]<|/det|>\nThis page was read "
                 "by the replaying server from image %s, in the shape of DeepSeek-OCR.\n\n"
                 "<|ref|>table<|/ref|><|det|>[[80, 320, 920, 500]]<|/det|>\n<table><tr><td>Item"
                 "</td><td>Count</td></tr><tr><td>pages</td><td>1</td></tr><tr><td colspan=\"2\">"
                 "total</td></tr></table>\n\n<|ref|>equation<|/ref|><|det|>[[80, 520, 920, 580]]"
                 "<|/det|>\n\\[ E = m c^{2} \\]\n<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                 tag, tag);
    else if (is(flavor, "nvidia"))
        snprintf(s, 4096,
                 "[[{\"bbox\":{\"xmin\":0.08,\"ymin\":0.05,\"xmax\":0.92,\"ymax\":0.09},"
                 "\"text\":\"Replayed page %s\",\"type\":\"Title\"},"
                 "{\"bbox\":{\"xmin\":0.08,\"ymin\":0.12,\"xmax\":0.92,\"ymax\":0.30},"
                 "\"text\":\"This page was read by the replaying server from image %s, in the "
                 "shape of Nemotron Parse.\",\"type\":\"Text\"},"
                 "{\"bbox\":{\"xmin\":0.4,\"ymin\":0.95,\"xmax\":0.6,\"ymax\":0.97},"
                 "\"text\":\"7\",\"type\":\"Page-footer\"}]]",
                 tag, tag);
    else if (is(flavor, "nemotron"))
        snprintf(s, 4096,
                 "<x_0.0800><y_0.0500>Replayed page %s<x_0.9200><y_0.0900><class_Title>\n"
                 "<x_0.0800><y_0.1200>This page was read by the replaying server from image %s, "
                 "in the shape of Nemotron Parse.<x_0.9200><y_0.3000><class_Text>\n"
                 "<x_0.4000><y_0.9500>7<x_0.6000><y_0.9700><class_Page-footer></s>",
                 tag, tag);
    else
        snprintf(s, 4096,
                 "# Replayed page %s\n\nThis page was read by the replaying server from image %s, "
                 "in the shape of %s.\n\n| Item | Count |\n|---|---|\n| pages | 1 |\n\n"
                 "\\[ E = m c^{2} \\]\n",
                 tag, tag, flavor);
    return s;
}

/* 1 = a table prompt, 2 = a formula prompt, 0 = a page (or anything else). */
static int region_task(const char *prompt)
{
    if (!prompt)
        return 0;
    if (strstr(prompt, "OCR this image.") || strstr(prompt, "Convert this table"))
        return 1;
    if (strstr(prompt, "Free OCR.") || strstr(prompt, "Write this formula"))
        return 2;
    return 0;
}

static char *region_content(int task, const char *tag)
{
    size_t cap = 4096 + (size_t)table_cols * 96;
    char *s = malloc(cap);
    size_t n = 0;
    if (task == 2) {
        snprintf(s, cap, "\\[ x_{%s} = \\frac{a}{b} \\]", tag);
        return s;
    }
    if (is(flavor, "vllm"))
        n += (size_t)snprintf(s + n, cap - n, "<|ref|>table<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\n");
    n += (size_t)snprintf(s + n, cap - n, "<table>");
    for (int r = 1; r <= 3; r++) {
        n += (size_t)snprintf(s + n, cap - n, "<tr>");
        for (int c = 1; c <= table_cols; c++)
            n += (size_t)snprintf(s + n, cap - n, "<td>r%dc%d-%s</td>", r, c, tag);
        n += (size_t)snprintf(s + n, cap - n, "</tr>");
    }
    snprintf(s + n, cap - n, "</table>");
    return s;
}

static char *loop_content(int near)
{
    size_t cap = 200000, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s, cap, "# Annual report\n\n");
    for (int i = 0; i < 600 && n + 200 < cap; i++) {
        if (near)
            n += (size_t)snprintf(s + n, cap - n, "Revenue for the quarter ending %d was %d.%d million\n",
                                  2000 + i % 2, 10 + i % 7, i % 10);
        else
            n += (size_t)snprintf(s + n, cap - n, "<td>0.00</td>");
    }
    return s;
}

static char *garbage_content(void)
{
    size_t cap = 8192;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "Results ");
    for (int i = 0; i < 120 && n + 64 < cap; i++)
        n += (size_t)snprintf(s + n, cap - n, "the the of of and and ");
    return s;
}

/* ---- envelopes ---------------------------------------------------------------------- */

static json_t *usage(long pt, long ct)
{
    json_t *u = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)pt, "completion_tokens",
                          (json_int_t)ct, "total_tokens", (json_int_t)(pt + ct));
    if (is(flavor, "mlx")) {
        json_object_set_new(u, "input_tokens", json_integer(pt));
        json_object_set_new(u, "output_tokens", json_integer(ct));
    }
    if (is(flavor, "openrouter"))
        json_object_set_new(u, "cost", json_real(0.000125));
    return u;
}

static json_t *completion(const char *content, const char *finish, int tool)
{
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    if (tool) {
        json_object_set_new(msg, "content", json_null());
        json_object_set_new(msg, "tool_calls",
                            json_pack("[{s:s, s:s, s:{s:s, s:s}}]", "id", "chatcmpl-tool-1", "type",
                                      "function", "function", "name", "markdown_bbox",
                                      "arguments", content));
    } else {
        json_object_set_new(msg, "content", json_string(content));
    }
    json_t *ch = json_pack("{s:i, s:o, s:s}", "index", 0, "message", msg, "finish_reason", finish);
    if (is(flavor, "openrouter"))
        json_object_set_new(ch, "native_finish_reason", json_string(finish));
    if (is(flavor, "vllm"))
        json_object_set_new(ch, "stop_reason", json_null());
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o}", "id", "chatcmpl-replay", "object",
                          "chat.completion", "created", (json_int_t)time(NULL), "model", model,
                          "choices", ch, "usage", usage(921, (long)strlen(content) / 4));
    if (is(flavor, "ollama"))
        json_object_set_new(o, "system_fingerprint", json_string("fp_ollama"));
    if (is(flavor, "llama"))
        json_object_set_new(o, "timings", json_pack("{s:f, s:f}", "prompt_ms", 12.5, "predicted_ms", 80.0));
    if (is(flavor, "openrouter"))
        json_object_set_new(o, "provider", json_string("Replay"));
    return o;
}

static json_t *error_body(int code, const char *message)
{
    if (is(flavor, "mlx"))
        return json_pack("{s:s}", "detail", message);
    if (is(flavor, "ollama"))
        return json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", message, "type",
                         "api_error", "param", "code");
    if (is(flavor, "llama"))
        return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", code, "message", message, "type",
                         code == 503 ? "unavailable_error" : "invalid_request_error");
    if (is(flavor, "openrouter"))
        return json_pack("{s:{s:i, s:s, s:{s:s}}}", "error", "code", code, "message", message,
                         "metadata", "provider_name", "Replay");
    return json_pack("{s:{s:s, s:s, s:n, s:i}}", "error", "message", message, "type",
                     code == 400 ? "BadRequestError" : "InternalServerError", "param", "code", code);
}

/* ---- responses ---------------------------------------------------------------------- */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *j,
                                 const char *retry_after_hdr)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after_hdr)
        MHD_add_response_header(r, "Retry-After", retry_after_hdr);
    if (is(flavor, "openrouter"))
        MHD_add_response_header(r, "X-Generation-Id", "gen-replay-1");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

typedef struct stream {
    char **events; /* "data: …\n\n" strings */
    int n, at;
    int delay_ms;
    long no;
    int done; /* in_flight already lowered (the last event is on its way) */
} stream;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *st = cls;
    if (st->at >= st->n)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->delay_ms)
        usleep((useconds_t)st->delay_ms * 1000);
    const char *e = st->events[st->at];
    size_t n = strlen(e);
    if (n > max)
        n = max; /* events are small; MHD's buffer is larger */
    memcpy(buf, e, n);
    st->at++;
    if (st->at == st->n && !st->done) { /* before the client can have the last event */
        st->done = 1;
        pthread_mutex_lock(&mu);
        in_flight--;
        pthread_mutex_unlock(&mu);
    }
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    if (!st->done) { /* closed before its end */
        pthread_mutex_lock(&mu);
        in_flight--;
        pthread_mutex_unlock(&mu);
    }
    if (st->at < st->n && log_fp) {
        pthread_mutex_lock(&mu);
        fprintf(log_fp, "{\"closed_early\":%ld,\"sent\":%d,\"of\":%d}\n", st->no, st->at, st->n);
        fflush(log_fp);
        pthread_mutex_unlock(&mu);
    }
    for (int i = 0; i < st->n; i++)
        free(st->events[i]);
    free(st->events);
    free(st);
}

static void push(stream *st, int *cap, char *ev)
{
    if (st->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        st->events = realloc(st->events, (size_t)*cap * sizeof(char *));
    }
    st->events[st->n++] = ev;
}

static char *data_event(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = strlen(s) + 16;
    char *e = malloc(n);
    snprintf(e, n, "data: %s\n\n", s);
    free(s);
    return e;
}

static json_t *chunk(const char *piece, const char *finish, int tool)
{
    json_t *delta = json_object();
    if (piece && tool)
        json_object_set_new(delta, "tool_calls",
                            json_pack("[{s:i, s:{s:s}}]", "index", 0, "function", "arguments", piece));
    else if (piece)
        json_object_set_new(delta, "content", json_string(piece));
    json_t *ch = json_pack("{s:i, s:o, s:o}", "index", 0, "delta", delta, "finish_reason",
                           finish ? json_string(finish) : json_null());
    return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", "chatcmpl-replay", "object",
                     "chat.completion.chunk", "created", (json_int_t)time(NULL), "model", model,
                     "choices", ch);
}

static enum MHD_Result send_stream(struct MHD_Connection *c, const char *content,
                                   const char *finish, int tool, int mid_error, int delay_ms,
                                   long no)
{
    stream *st = calloc(1, sizeof(*st));
    int cap = 0;
    st->delay_ms = delay_ms;
    st->no = no;
    if (is(flavor, "openrouter"))
        push(st, &cap, strdup(": OPENROUTER PROCESSING\n\n"));
    size_t n = strlen(content), step = 48;
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        while (i + k < n && ((unsigned char)content[i + k] & 0xC0) == 0x80)
            k++; /* keep UTF-8 sequences whole */
        char piece[256];
        memcpy(piece, content + i, k);
        piece[k] = '\0';
        push(st, &cap, data_event(chunk(piece, NULL, tool)));
        if (mid_error && i / step == 3) {
            push(st, &cap, data_event(error_body(502, "upstream provider error mid-stream")));
            goto end;
        }
        if (is(flavor, "openrouter") && i / step == 1)
            push(st, &cap, strdup(": OPENROUTER PROCESSING\n\n"));
        i += k - step; /* advance by k */
    }
    push(st, &cap, data_event(chunk(NULL, finish, tool)));
    {
        json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", "chatcmpl-replay", "object",
                              "chat.completion.chunk", "created", (json_int_t)time(NULL), "model",
                              model, "choices", "usage", usage(921, (long)n / 4));
        push(st, &cap, data_event(u));
    }
end:
    push(st, &cap, strdup("data: [DONE]\n\n"));
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_cb, st, stream_free);
    tl_streamed = 1; /* in_flight drops when the stream is freed */
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    if (is(flavor, "openrouter"))
        MHD_add_response_header(r, "X-Generation-Id", "gen-replay-1");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- the request ---------------------------------------------------------------------- */

typedef struct req {
    char *body;
    size_t len;
} req;

static void log_request(long no, const char *url, const char *kind, json_t *j,
                        struct MHD_Connection *c, const char *img, size_t img_len, int flight)
{
    if (!log_fp)
        return;
    json_t *o = json_pack("{s:I, s:s, s:s, s:i}", "n", (json_int_t)no, "path", url, "kind", kind,
                          "in_flight", flight);
    const char *keys[] = {"model", "temperature", "max_tokens", "stream", "skip_special_tokens",
                          "vllm_xargs", "tools", "top_k", "repetition_penalty", "stream_options"};
    for (size_t i = 0; j && i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (v)
            json_object_set(o, keys[i], v);
    }
    json_t *content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    json_t *order = json_array();
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *t = json_string_value(json_object_get(part, "type"));
        json_array_append_new(order, json_string(t ? t : "?"));
        if (t && is(t, "text"))
            json_object_set(o, "text", json_object_get(part, "text"));
    }
    json_object_set_new(o, "order", order);
    if (img) {
        char h[20];
        snprintf(h, sizeof(h), "%016llx", (unsigned long long)fnv(img, img_len));
        json_object_set_new(o, "image_hash", json_string(h));
        json_object_set_new(o, "image_chars", json_integer((json_int_t)img_len));
        json_object_set_new(o, "image_prefix", json_stringn(img, img_len < 22 ? img_len : 22));
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (require_key) {
        char want[512];
        snprintf(want, sizeof(want), "Bearer %s", require_key);
        json_object_set_new(o, "auth", json_string(!auth ? "missing" : is(auth, want) ? "ok" : "wrong"));
    } else {
        json_object_set_new(o, "auth", json_string(auth ? "present" : "none"));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pthread_mutex_lock(&mu);
    fprintf(log_fp, "%s\n", s);
    fflush(log_fp);
    pthread_mutex_unlock(&mu);
    free(s);
}

static enum MHD_Result chat_answer(struct MHD_Connection *c, const char *url, req *rq, int flight);

/* in_flight counts the requests answered at once (logged as "in_flight" on arrival): the
 * tests read how many a client sends concurrently from it. */
static enum MHD_Result chat(struct MHD_Connection *c, const char *url, req *rq)
{
    pthread_mutex_lock(&mu);
    int flight = ++in_flight;
    pthread_mutex_unlock(&mu);
    tl_streamed = 0;
    enum MHD_Result rc = chat_answer(c, url, rq, flight);
    if (!tl_streamed) {
        pthread_mutex_lock(&mu);
        in_flight--;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static enum MHD_Result chat_answer(struct MHD_Connection *c, const char *url, req *rq, int flight)
{
    json_error_t je;
    json_t *j = json_loadb(rq->body ? rq->body : "", rq->len, 0, &je);
    pthread_mutex_lock(&mu);
    long no = ++req_no;
    const char *kind = next_kind();
    pthread_mutex_unlock(&mu);
    const char *img = NULL;
    size_t img_len = 0;
    json_t *content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        json_t *u = json_object_get(json_object_get(part, "image_url"), "url");
        if (json_is_string(u)) {
            img = json_string_value(u);
            img_len = json_string_length(u);
        }
    }
    log_request(no, url, kind, j, c, img, img_len, flight);
    if (!json_is_object(j)) {
        json_decref(j);
        return send_json(c, 400, error_body(400, "request body is not JSON"), NULL);
    }
    if (require_key) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        char want[512];
        snprintf(want, sizeof(want), "Bearer %s", require_key);
        if (!auth || !is(auth, want)) {
            json_decref(j);
            return send_json(c, 401, error_body(401, "invalid API key"), NULL);
        }
    }
    int streaming = json_is_true(json_object_get(j, "stream"));
    long max_tokens = (long)json_integer_value(json_object_get(j, "max_tokens"));
    int tool = is(flavor, "nvidia");
    int task = 0;
    json_array_foreach(content, i, part)
    {
        const char *t = json_string_value(json_object_get(part, "type"));
        if (t && is(t, "text") && !is(flavor, "nvidia") && !is(flavor, "nemotron"))
            task = region_task(json_string_value(json_object_get(part, "text")));
    }
    char tag[24];
    snprintf(tag, sizeof(tag), "%08llx", (unsigned long long)(fnv(img ? img : "", img_len) & 0xffffffffu));
    json_decref(j);
    if (!img)
        return send_json(c, 400, error_body(400, "no image in the request"), NULL);
    char ra[64];
    snprintf(ra, sizeof(ra), "%d", retry_after);
    if (is(kind, "reset"))
        return MHD_NO; /* the connection is closed without an answer */
    if (is(kind, "429"))
        return send_json(c, 429, error_body(429, "Rate limit exceeded"), ra);
    if (is(kind, "429date")) {
        time_t t = time(NULL) + retry_after;
        struct tm tm;
        gmtime_r(&t, &tm);
        char d[64];
        strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        return send_json(c, 429, error_body(429, "Rate limit exceeded"), d);
    }
    if (is(kind, "503"))
        return send_json(c, 503, error_body(503, "Loading model"), NULL);
    if (is(kind, "500"))
        return send_json(c, 500, error_body(500, "internal error"), NULL);
    if (is(kind, "401"))
        return send_json(c, 401, error_body(401, "No auth credentials found"), NULL);
    if (is(kind, "402"))
        return send_json(c, 402, error_body(402, "Insufficient credits"), NULL);
    if (is(kind, "detail"))
        return send_json(c, 422, json_pack("{s:[{s:s, s:[s,s], s:s}]}", "detail", "type", "missing",
                                           "loc", "body", "messages", "msg", "Field required"), NULL);
    if (is(kind, "objerr"))
        return send_json(c, 500, json_pack("{s:s, s:s, s:s, s:n, s:i}", "object", "error", "message",
                                           "EngineCore encountered an issue", "type",
                                           "InternalServerError", "param", "code", 500), NULL);
    if (is(kind, "ctx400") && max_tokens > 8192 - 921) {
        char m[400];
        snprintf(m, sizeof(m), "'max_tokens' or 'max_completion_tokens' is too large: %ld. This "
                 "model's maximum context length is 8192 tokens and your request has 921 input "
                 "tokens (%ld > 8192 - 921). None", max_tokens, max_tokens);
        return send_json(c, 400, error_body(400, m), NULL);
    }
    if (is(kind, "err200")) {
        json_t *e = error_body(502, "Provider returned error");
        if (is(flavor, "mlx") || is(flavor, "vllm") || is(flavor, "ollama") || is(flavor, "llama"))
            json_object_set_new(e, "choices", json_array());
        return send_json(c, 200, e, NULL);
    }
    if (is(kind, "slow") && !streaming)
        usleep((useconds_t)slow_ms * 1000);
    char *text;
    const char *finish = tool ? "tool_calls" : "stop";
    if (is(kind, "length") || is(kind, "loop")) {
        text = loop_content(0);
        if (is(kind, "length"))
            finish = "length";
        tool = 0;
    } else if (is(kind, "nearloop")) {
        text = loop_content(1);
        tool = 0;
    } else if (is(kind, "garbage")) {
        text = garbage_content();
        tool = 0;
    } else if (is(kind, "empty")) {
        text = strdup("");
        tool = 0;
    } else {
        text = task ? region_content(task, tag) : ok_content(tag);
    }
    enum MHD_Result rc;
    if (streaming)
        rc = send_stream(c, text, finish, tool, is(kind, "midstream"), is(kind, "slow") ? slow_ms : is(kind, "loop") || is(kind, "length") ? 5 : 0, no);
    else if (is(kind, "midstream"))
        rc = send_json(c, 200, error_body(502, "upstream provider error"), NULL);
    else
        rc = send_json(c, 200, completion(text, finish, tool), NULL);
    free(text);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(req));
        return MHD_YES;
    }
    req *rq = *con_cls;
    if (*size) {
        if (rq->len + *size > MAX_BODY)
            return MHD_NO;
        rq->body = realloc(rq->body, rq->len + *size + 1);
        memcpy(rq->body + rq->len, data, *size);
        rq->len += *size;
        rq->body[rq->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    if (is(method, "GET") && (is(url, "/v1/models") || is(url, "/models") || is(url, "/api/v1/models"))) {
        if (is(flavor, "llama") && script_pos < n_script && is(script[script_pos], "503")) {
            script_pos++;
            return send_json(c, 503, error_body(503, "Loading model"), NULL);
        }
        return send_json(c, 200,
                         json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id",
                                   model, "object", "model", "created", (json_int_t)1700000000,
                                   "owned_by", flavor),
                         NULL);
    }
    if (is(method, "POST") && (is(url, "/v1/chat/completions") || is(url, "/chat/completions") ||
                               is(url, "/api/v1/chat/completions")))
        return chat(c, url, rq);
    return send_json(c, 404, error_body(404, "not found"), NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    req *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *script_s = NULL, *log_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "vlm_replay: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (is(a, "--port-file")) port_file = v;
        else if (is(a, "--flavor")) flavor = v;
        else if (is(a, "--model")) model = v;
        else if (is(a, "--script")) script_s = v;
        else if (is(a, "--fail-rate")) fail_rate = atof(v);
        else if (is(a, "--seed")) rng ^= (uint64_t)atoll(v) * 0x9e3779b97f4a7c15ull;
        else if (is(a, "--retry-after")) retry_after = atoi(v);
        else if (is(a, "--slow-ms")) slow_ms = atoi(v);
        else if (is(a, "--log")) log_path = v;
        else if (is(a, "--require-key")) require_key = v;
        else if (is(a, "--table-cols")) table_cols = atoi(v) > 0 && atoi(v) <= 40 ? atoi(v) : 3;
        else {
            fprintf(stderr, "vlm_replay: unknown option %s\n", a);
            return 2;
        }
    }
    if (!port_file) {
        fprintf(stderr, "vlm_replay: --port-file is required\n");
        return 2;
    }
    if (script_s) {
        char *s = strdup(script_s);
        for (char *t = strtok(s, ","); t && n_script < 4096; t = strtok(NULL, ","))
            script[n_script++] = t;
    }
    if (log_path && !(log_fp = fopen(log_path, "a"))) {
        perror(log_path);
        return 1;
    }
    /* SIGTERM/SIGINT are taken by sigwait in this thread only: blocked before the
     * server's threads start, so none of them can swallow the signal */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
        NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "vlm_replay: cannot start the server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%u\n", (unsigned)info->port) < 0 || fclose(pf) != 0 ||
        rename(tmp, port_file) != 0) {
        perror(port_file);
        MHD_stop_daemon(d);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    if (log_fp)
        fclose(log_fp);
    return 0;
}
