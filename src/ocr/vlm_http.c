/*
 * vlm_http.c — one HTTP exchange with a VLM server on libcurl (easy interface, one handle
 * per request: requests are seconds long, so connection reuse would save little and a
 * fresh handle never carries state from a failed exchange).
 *
 * Timeouts: connect (CURLOPT_CONNECTTIMEOUT_MS), whole request (CURLOPT_TIMEOUT_MS) and
 * stream idle (no byte for idle_timeout_s: checked in the progress callback, which also
 * polls the abort flag). Closing the socket is how a request is cancelled: vLLM aborts
 * the generation when the client disconnects.
 *
 * Streaming: SSE lines `data: {json}` up to `data: [DONE]`; blank lines and `:` comments
 * (OpenRouter's `: OPENROUTER PROCESSING`) are skipped; an `{"error":…}` or
 * `{"object":"error"}` event ends the stream with that error. Every 256 new characters of
 * content the tail is checked for a loop (vlm_check.c); a loop closes the connection.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "vlm.h"

#define MAX_BODY (32u << 20)    /* a page of OCR text is kilobytes; refuse runaway bodies */
#define MAX_LINE (8u << 20)
#define LOOP_CHECK_EVERY 256

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void qr_vlm_http_global_init(void) { pthread_once(&curl_once, curl_init_once); }

int qr_vlm_status_class(long s)
{
    if (s >= 200 && s < 300)
        return QR_VLM_OK;
    if (s == 0 || s == 408 || s == 409 || s == 425 || s == 429 || s >= 500)
        return QR_VLM_RETRY;
    if (s == 401 || s == 402 || s == 403)
        return QR_VLM_DISABLE;
    return QR_VLM_NEVER;
}

double qr_vlm_parse_retry_after(const char *v, double now_epoch)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        double s = strtod(v, &end);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        return *end ? -1 : s;
    }
    time_t t = curl_getdate(v, NULL); /* IMF-fixdate and the obsolete forms */
    if (t < 0)
        return -1;
    double d = (double)t - now_epoch;
    return d < 0 ? 0 : d;
}

typedef struct xfer {
    const qr_vlm_http_opts *o;
    qr_vlm_http *h;
    qr_buf body;
    qr_buf line;      /* SSE: the line being assembled */
    double last_byte; /* monotonic */
    size_t checked;   /* content length at the last loop check */
    int idle;
    int done;         /* [DONE] seen */
} xfer;

static void copy_str(char *dst, size_t cap, const char *src)
{
    qr_vlm_fmt(dst, cap, "%s", src ? src : "");
}

static void sse_event(xfer *x, const char *data, size_t n)
{
    qr_vlm_http *h = x->h;
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
        x->done = 1;
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(data, n, 0, &je);
    if (!j || !json_is_object(j)) {
        if (!h->stream_error[0])
            qr_vlm_fmt(h->stream_error, sizeof(h->stream_error), "stream event is not JSON: %.60s",
                     data);
        json_decref(j);
        return;
    }
    json_t *e = json_object_get(j, "error");
    const char *obj = json_string_value(json_object_get(j, "object"));
    if (e || (obj && strcmp(obj, "error") == 0)) {
        char *s = json_dumps(j, JSON_COMPACT);
        qr_vlm_error_message(s ? s : "", s ? strlen(s) : 0, h->stream_error,
                             sizeof(h->stream_error));
        free(s); /* lint-allow: free (jansson) */
        json_decref(j);
        return;
    }
    const char *model = json_string_value(json_object_get(j, "model"));
    if (model && !h->model[0])
        copy_str(h->model, sizeof(h->model), model);
    const char *id = json_string_value(json_object_get(j, "id"));
    if (id && !h->id[0])
        copy_str(h->id, sizeof(h->id), id);
    json_t *usage = json_object_get(j, "usage");
    if (json_is_object(usage)) {
        h->prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
        h->completion_tokens =
            (long)json_integer_value(json_object_get(usage, "completion_tokens"));
        json_t *cost = json_object_get(usage, "cost");
        if (json_is_number(cost))
            h->cost = json_number_value(cost);
    }
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    if (json_is_object(ch)) {
        json_t *delta = json_object_get(ch, "delta");
        json_t *c = json_object_get(delta, "content");
        if (json_is_string(c))
            qr_buf_append(&h->content, json_string_value(c), json_string_length(c));
        json_t *tc = json_array_get(json_object_get(delta, "tool_calls"), 0);
        json_t *args = json_object_get(json_object_get(tc, "function"), "arguments");
        if (json_is_string(args))
            qr_buf_append(&h->tool_args, json_string_value(args), json_string_length(args));
        const char *fr = json_string_value(json_object_get(ch, "finish_reason"));
        if (fr)
            copy_str(h->finish_reason, sizeof(h->finish_reason), fr);
    }
    json_decref(j);
}

/* One complete SSE line (without its newline). */
static void sse_line(xfer *x, char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        s[--n] = '\0';
    if (n == 0 || s[0] == ':')
        return; /* event separator or comment */
    if (n >= 5 && memcmp(s, "data:", 5) == 0) {
        s += 5;
        n -= 5;
        if (n && *s == ' ') {
            s++;
            n--;
        }
        sse_event(x, s, n);
    }
    /* event:, id:, retry: carry nothing we use */
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    x->last_byte = qr_now();
    if (!x->o->stream) {
        if (x->body.len + n > MAX_BODY)
            return 0;
        qr_buf_append(&x->body, p, n);
        return x->body.failed ? 0 : n;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            qr_buf_putc(&x->line, '\0');
            if (x->line.failed)
                return 0;
            sse_line(x, x->line.data, x->line.len - 1);
            qr_buf_clear(&x->line);
        } else {
            if (x->line.len >= MAX_LINE)
                return 0;
            qr_buf_putc(&x->line, p[i]);
        }
    }
    /* any body also kept (a non-SSE error answer to a streaming request) */
    if (x->body.len + n <= (1u << 20))
        qr_buf_append(&x->body, p, n);
    qr_vlm_http *h = x->h;
    if (h->content.failed || h->tool_args.failed)
        return 0;
    if (h->content.len >= x->checked + LOOP_CHECK_EVERY) {
        x->checked = h->content.len;
        char why[160];
        if (qr_vlm_is_loop(h->content.data, h->content.len, why, sizeof(why))) {
            h->loop_aborted = 1;
            qr_vlm_fmt(h->error, sizeof(h->error), "stream closed: %s", why);
            return 0;
        }
    }
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    char line[256];
    size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    while (k && (line[k - 1] == '\r' || line[k - 1] == '\n'))
        line[--k] = '\0';
    if (strncasecmp(line, "HTTP/", 5) == 0) {
        x->h->retry_after_s = -1; /* a new response (after 100 Continue) */
        return n;
    }
    if (strncasecmp(line, "retry-after:", 12) == 0)
        x->h->retry_after_s = qr_vlm_parse_retry_after(line + 12, (double)time(NULL));
    else if (strncasecmp(line, "x-generation-id:", 16) == 0) {
        const char *v = line + 16;
        while (*v == ' ')
            v++;
        copy_str(x->h->generation_id, sizeof(x->h->generation_id), v);
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    xfer *x = ud;
    if (x->o->abort_flag && *x->o->abort_flag)
        return 1;
    if (x->o->idle_timeout_s > 0 && qr_now() - x->last_byte > x->o->idle_timeout_s) {
        x->idle = 1;
        return 1;
    }
    return 0;
}

void qr_vlm_http_do(const qr_vlm_http_opts *o, qr_vlm_http *h)
{
    memset(h, 0, sizeof(*h));
    h->retry_after_s = -1;
    qr_buf_init(&h->content, MAX_BODY);
    qr_buf_init(&h->tool_args, MAX_BODY);
    qr_vlm_http_global_init();
    xfer x;
    memset(&x, 0, sizeof(x));
    x.o = o;
    x.h = h;
    qr_buf_init(&x.body, MAX_BODY);
    qr_buf_init(&x.line, MAX_LINE + 1);
    CURL *cu = curl_easy_init();
    if (!cu) {
        copy_str(h->error, sizeof(h->error), "cannot create an HTTP handle");
        goto out;
    }
    struct curl_slist *hd = NULL;
    char auth[1100];
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, o->stream ? "Accept: text/event-stream" : "Accept: application/json");
    hd = curl_slist_append(hd, "Expect:");
    if (o->api_key && *o->api_key) {
        qr_vlm_fmt(auth, sizeof(auth), "Authorization: Bearer %s", o->api_key);
        hd = curl_slist_append(hd, auth);
        memset(auth, 0, sizeof(auth));
    }
    curl_easy_setopt(cu, CURLOPT_URL, o->url);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "quire/" QUIRE_VERSION_STRING);
    if (!o->remote)
        curl_easy_setopt(cu, CURLOPT_PROXY, ""); /* loopback never goes through a proxy */
    if (o->body) {
        curl_easy_setopt(cu, CURLOPT_POST, 1L);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(o->body));
    }
    if (o->connect_timeout_s > 0)
        curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_s * 1000));
    if (o->read_timeout_s > 0)
        curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)(o->read_timeout_s * 1000));
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(cu, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
    x.last_byte = qr_now();
    CURLcode rc = curl_easy_perform(cu);
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &h->status);
    if (rc != CURLE_OK && !h->loop_aborted) {
        if (x.idle) {
            h->timed_out = 1;
            qr_vlm_fmt(h->error, sizeof(h->error), "stream idle for more than %.1f s",
                     o->idle_timeout_s);
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            h->timed_out = 1;
            qr_vlm_fmt(h->error, sizeof(h->error), "timed out (%s)",
                     h->status ? "reading the answer" : "connecting");
        } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
            copy_str(h->error, sizeof(h->error), "cancelled");
        } else {
            qr_vlm_fmt(h->error, sizeof(h->error), "%s", curl_easy_strerror(rc));
        }
        if (!h->content.len && !x.body.len)
            h->status = h->status >= 200 && h->status < 300 ? 0 : h->status;
    }
    if (o->stream && !h->loop_aborted && !h->error[0] && x.line.len) {
        qr_buf_putc(&x.line, '\0'); /* a last line without its newline */
        if (!x.line.failed)
            sse_line(&x, x.line.data, x.line.len - 1);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(cu);
    if (h->content.failed || x.body.failed)
        copy_str(h->error, sizeof(h->error), "answer too large or out of memory");
out:
    if (x.body.len) {
        qr_buf_putc(&x.body, '\0');
        if (!x.body.failed) {
            h->body = x.body.data;
            h->body_len = x.body.len - 1;
            x.body.data = NULL;
        }
    }
    qr_buf_free(&x.body);
    qr_buf_free(&x.line);
    qr_buf_putc(&h->content, '\0');
    h->content.len = h->content.len ? h->content.len - 1 : 0;
    qr_buf_putc(&h->tool_args, '\0');
    h->tool_args.len = h->tool_args.len ? h->tool_args.len - 1 : 0;
}

void qr_vlm_http_free(qr_vlm_http *h)
{
    if (!h)
        return;
    qr_free(h->body);
    qr_buf_free(&h->content);
    qr_buf_free(&h->tool_args);
    memset(h, 0, sizeof(*h));
}

const char *qr_vlm_curl_version(void) { return curl_version_info(CURLVERSION_NOW)->version; }
