/*
 * routes.c — the endpoints, free of HTTP plumbing: each parses its JSON body (jansson),
 * calls the quire_ API and serialises the answer into a reply. /v1/embeddings follows
 * OpenAI's embeddings API (inputs as strings or token-id arrays, float or base64
 * output, Matryoshka `dimensions`); /v1/search and /v1/convert are quire's own.
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_int.h"
#include "store/store_int.h"

/* ---- helpers -------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (1 to 4), 0 when it is not one. p is
 * NUL-terminated, so the continuation checks stop at the end. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) || /* overlong, surrogate */
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))   /* overlong, > U+10FFFF */
        return 0;
    return n;
}

/* Invalid UTF-8 (e.g. body bytes quoted in a jansson error, or a message cut inside a
 * character) becomes U+FFFD, so the reply stays valid JSON. */
void qr_srv_json_str(qr_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    qr_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            qr_buf_append(b, "\\ufffd", 6);
        } else if (n > 1) {
            qr_buf_append(b, p, n);
            p += n - 1;
        } else if (*p == '"' || *p == '\\') {
            qr_buf_putc(b, '\\');
            qr_buf_putc(b, (char)*p);
        } else if (*p < 0x20) {
            char e[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
            qr_buf_append(b, e, 6);
        } else {
            qr_buf_putc(b, (char)*p);
        }
    }
    qr_buf_putc(b, '"');
}

void qr_srv_error(reply *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status >= 500 ? "server_error"
                       : status == 401 ? "authentication_error"
                       : status == 404 && strcmp(code, "not_found") == 0 ? "not_found_error"
                                                                          : "invalid_request_error";
    r->status = status;
    r->content_type = "application/json";
    qr_buf_clear(&r->body);
    r->body.failed = 0;
    qr_buf_append(&r->body, "{\"error\":{\"message\":", 20);
    qr_srv_json_str(&r->body, msg);
    qr_buf_printf(&r->body, ",\"type\":\"%s\",\"code\":", type);
    qr_srv_json_str(&r->body, code);
    qr_buf_append(&r->body, "}}\n", 3);
}

int qr_srv_http_status(quire_status st)
{
    switch (QUIRE_STATUS_PRIMARY(st)) {
    case QUIRE_OK: return 200;
    case QUIRE_INVALID_ARG: return 400;
    case QUIRE_MISMATCH: return 400;
    case QUIRE_NOT_FOUND: return 404;
    case QUIRE_LIMIT: return 413;
    case QUIRE_FORMAT: return 422;
    case QUIRE_UNSUPPORTED: return 501;
    case QUIRE_BUSY: return 503;
    default: return 500;
    }
}

static const char *status_code_name(quire_status st);
const char *qr_srv_status_code(quire_status st) { return status_code_name(st); }

static const char *status_code_name(quire_status st)
{
    switch (QUIRE_STATUS_PRIMARY(st)) {
    case QUIRE_INVALID_ARG: return "invalid_request";
    case QUIRE_MISMATCH: return "model_mismatch";
    case QUIRE_NOT_FOUND: return "not_found";
    case QUIRE_LIMIT: return "limit_exceeded";
    case QUIRE_FORMAT: return "unprocessable_document";
    case QUIRE_UNSUPPORTED: return "not_supported";
    case QUIRE_BUSY: return "unavailable";
    case QUIRE_NOMEM: return "out_of_memory";
    default: return "internal_error";
    }
}

static void set_json(reply *r, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    r->status = 200;
    r->content_type = "application/json";
    qr_buf_append(&r->body, s, strlen(s));
    qr_buf_putc(&r->body, '\n');
    free(s); /* lint-allow: free (json_dumps) */
}

static const char *served_name(const quire_server *s) { return s->served_name; }

/* The model folder's name, any of the comma-separated aliases, or anything with
 * accept_any_model_name. */
int qr_srv_name_matches(const quire_server *s, const char *name)
{
    if (s->p.accept_any_model_name || strcmp(name, quire_model_name(s->model)) == 0)
        return 1;
    size_t nl = strlen(name);
    for (const char *a = s->model_alias; a && *a;) {
        size_t l = strcspn(a, ",");
        if (l == nl && strncmp(a, name, l) == 0)
            return 1;
        a += l + (a[l] == ',');
    }
    return 0;
}

/* ---- /v1/embeddings ------------------------------------------------------------------- */


void qr_srv_emb_req_free(emb_req *q)
{
    qr_free(q->ids);
    qr_free(q->n_ids);
    qr_free(q->ptrs);
    qr_free(q->cut);
}

/* Tokens of a text incl. [CLS]/[SEP], also when it is longer than the model's max_tokens
 * (where quire_tokenize stops counting): WordPiece works word by word, so the halves of
 * a text split at white space add up (minus one [CLS]/[SEP] pair). A text that cannot be
 * split counts as the model's max_tokens + 1 ("at least"). */
static size_t count_tokens(const quire_model *m, const char *t, size_t len, int32_t *tmp,
                           int depth)
{
    size_t cap = (size_t)quire_model_max_tokens(m), n = 0;
    if (quire_tokenize(m, t, len, tmp, cap, &n, NULL) != QUIRE_OK)
        return cap + 1;
    if (n < cap)
        return n;
    size_t mid = len / 2, cut = 0;
    for (size_t d = 0; d <= len / 2 && !cut; d++) {
        if (mid + d < len && strchr(" \t\r\n", t[mid + d]) && t[mid + d])
            cut = mid + d;
        else if (d <= mid && mid - d > 0 && strchr(" \t\r\n", t[mid - d]) && t[mid - d])
            cut = mid - d;
    }
    if (!cut || depth > 48)
        return cap + 1;
    size_t a = count_tokens(m, t, cut, tmp, depth + 1);
    size_t b = count_tokens(m, t + cut + 1, len - cut - 1, tmp, depth + 1);
    return a + b - 2;
}

/* Apply the per-input token limit to input i (n_ids[i] is its full length, maybe more
 * than the slot holds); returns 0 or fills r (413). */
static int check_len(const quire_server *s, emb_req *q, size_t i, reply *r)
{
    size_t n = q->n_ids[i];
    if (n <= (size_t)s->limit)
        return 0;
    if (!q->truncate) {
        qr_srv_error(r, 413, "context_length_exceeded",
                     "input[%zu] has %zu tokens, more than the limit of %d tokens per input "
                     "(shorten it, or start the server with --truncate)",
                     i, n, s->limit);
        return -1;
    }
    int32_t *v = q->ids + i * q->cap;
    size_t last = QR_MIN(n, q->cap) - 1;
    v[s->limit - 1] = v[last]; /* keep the final [SEP] */
    q->n_ids[i] = (size_t)s->limit;
    if (q->cut)
        q->cut[i] = 1;
    return 0;
}

static int put_text(const quire_server *s, emb_req *q, size_t i, json_t *v, reply *r)
{
    size_t len = json_string_length(v);
    const char *text = json_string_value(v);
    if (len == 0) {
        qr_srv_error(r, 400, "invalid_input", "input[%zu] is an empty string", i);
        return -1;
    }
    quire_error e = {0, ""};
    int32_t *slot = q->ids + i * q->cap;
    char *joined = NULL;
    if (q->prompt && *q->prompt) {
        size_t pl = strlen(q->prompt);
        joined = qr_malloc(pl + len + 1);
        if (!joined) {
            qr_srv_error(r, 500, "out_of_memory", "out of memory");
            return -1;
        }
        memcpy(joined, q->prompt, pl);
        memcpy(joined + pl, text, len + 1);
        text = joined;
        len += pl;
    }
    quire_status st = quire_tokenize(s->model, text, len, slot, q->cap, &q->n_ids[i], &e);
    if (st != QUIRE_OK) {
        qr_free(joined);
        qr_srv_error(r, qr_srv_http_status(st), status_code_name(st), "input[%zu]: %s", i,
                     e.msg);
        return -1;
    }
    if (q->n_ids[i] >= q->cap) {
        /* filled the slot: the text may be longer than the tokenizer counted (and then it
         * is refused, or cut and reported as truncated) */
        int32_t *tmp = qr_malloc(q->cap * sizeof(int32_t));
        if (!tmp) {
            qr_free(joined);
            qr_srv_error(r, 500, "out_of_memory", "out of memory");
            return -1;
        }
        size_t full = count_tokens(s->model, text, len, tmp, 0);
        qr_free(tmp);
        if (full > q->n_ids[i])
            q->n_ids[i] = full;
    }
    qr_free(joined);
    return check_len(s, q, i, r);
}

static int put_ids(const quire_server *s, emb_req *q, size_t i, json_t *arr, reply *r)
{
    size_t n = json_array_size(arr);
    if (n == 0) {
        qr_srv_error(r, 400, "invalid_input", "input[%zu] is an empty token array", i);
        return -1;
    }
    int32_t *v = q->ids + i * q->cap;
    size_t keep = QR_MIN(n, q->cap);
    for (size_t j = 0; j < n; j++) {
        json_t *t = json_array_get(arr, j);
        json_int_t id = json_is_integer(t) ? json_integer_value(t) : -1;
        if (!json_is_integer(t) || id < 0 || id > INT32_MAX) {
            qr_srv_error(r, 400, "invalid_input",
                         "input[%zu][%zu]: token ids must be integers from the model's "
                         "vocabulary", i, j);
            return -1;
        }
        if (j < keep)
            v[j] = (int32_t)id;
    }
    /* OpenAI clients (LangChain's default among them) send tiktoken ids, which are valid
     * integers for any vocabulary and would give meaningless vectors: accept arrays only
     * when they carry this model's own framing, unless the operator said otherwise. */
    if (!s->p.token_ids_native && s->frame_first >= 0 &&
        (json_integer_value(json_array_get(arr, 0)) != s->frame_first ||
         json_integer_value(json_array_get(arr, n - 1)) != s->frame_last)) {
        qr_srv_error(r, 400, "invalid_input",
                     "input[%zu] is a token array not framed by this model's ids %d ... %d: "
                     "probably tiktoken ids from an OpenAI client (LangChain: set "
                     "check_embedding_ctx_length=False to send text); start the server with "
                     "--token-ids native to accept raw ids", i, (int)s->frame_first,
                     (int)s->frame_last);
        return -1;
    }
    if (n > keep) /* longer than any slot: as too long as it gets; keep the last id */
        v[keep - 1] = (int32_t)json_integer_value(json_array_get(arr, n - 1));
    q->n_ids[i] = n > keep ? n : keep;
    if (check_len(s, q, i, r) != 0)
        return -1;
    if (q->n_ids[i] > q->cap)
        q->n_ids[i] = q->cap;
    return 0;
}

/* input: "text" | ["text", ...] | [id, ...] | [[id, ...], ...] */
int qr_srv_parse_input(const quire_server *s, json_t *in, emb_req *q, reply *r)
{
    int kind; /* 0 one string, 1 strings, 2 one token array, 3 token arrays */
    size_t n = 1;
    if (json_is_string(in)) {
        kind = 0;
    } else if (json_is_array(in)) {
        n = json_array_size(in);
        if (n == 0) {
            qr_srv_error(r, 400, "invalid_input", "'input' is an empty array");
            return -1;
        }
        json_t *first = json_array_get(in, 0);
        kind = json_is_string(first) ? 1 : json_is_integer(first) ? 2 : json_is_array(first) ? 3 : -1;
        if (kind == 2)
            n = 1;
        for (size_t i = 0; kind == 1 || kind == 3 ? i < n : 0; i++) {
            json_t *e = json_array_get(in, i);
            if ((kind == 1 && !json_is_string(e)) || (kind == 3 && !json_is_array(e)))
                kind = -1;
        }
    } else {
        kind = -1;
    }
    if (kind < 0) {
        qr_srv_error(r, 400, "invalid_type",
                     "'input' must be a string, an array of strings, an array of token ids "
                     "or an array of token-id arrays");
        return -1;
    }
    if (n > (size_t)s->p.max_inputs) {
        qr_srv_error(r, 400, "too_many_inputs",
                     "'input' has %zu items, more than the limit of %d per request", n,
                     s->p.max_inputs);
        return -1;
    }
    q->n = n;
    q->cap = (size_t)quire_model_max_tokens(s->model);
    q->ids = qr_calloc(n * q->cap, sizeof(int32_t));
    q->n_ids = qr_calloc(n, sizeof(size_t));
    q->ptrs = qr_calloc(n, sizeof(int32_t *));
    q->cut = qr_calloc(n, 1);
    if (!q->ids || !q->n_ids || !q->ptrs || !q->cut) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (kind == 0)
            rc = put_text(s, q, i, in, r);
        else if (kind == 1)
            rc = put_text(s, q, i, json_array_get(in, i), r);
        else if (kind == 2)
            rc = put_ids(s, q, i, in, r);
        else
            rc = put_ids(s, q, i, json_array_get(in, i), r);
        if (rc != 0)
            return -1;
        q->ptrs[i] = q->ids + i * q->cap;
        q->tokens += (long)q->n_ids[i];
    }
    return 0;
}

typedef struct emb_opts {
    int base64;
    int dims, dims_explicit;
} emb_opts;

static int parse_options(const quire_server *s, json_t *root, emb_opts *o, reply *r)
{
    json_t *m = json_object_get(root, "model");
    if (!m || json_is_null(m)) {
        qr_srv_error(r, 400, "missing_model", "you must provide a 'model' (this server "
                     "serves '%s')", served_name(s));
        return -1;
    }
    if (!json_is_string(m)) {
        qr_srv_error(r, 400, "invalid_type", "'model' must be a string");
        return -1;
    }
    if (!qr_srv_name_matches(s, json_string_value(m))) {
        qr_srv_error(r, 404, "model_not_found",
                     "The model '%s' does not exist (this server serves '%s')",
                     json_string_value(m), served_name(s));
        return -1;
    }
    json_t *f = json_object_get(root, "encoding_format");
    o->base64 = 0;
    if (f && !json_is_null(f)) {
        const char *v = json_is_string(f) ? json_string_value(f) : "";
        if (strcmp(v, "base64") == 0)
            o->base64 = 1;
        else if (strcmp(v, "float") != 0) {
            qr_srv_error(r, 400, "invalid_encoding_format",
                         "'encoding_format' must be \"float\" or \"base64\"");
            return -1;
        }
    }
    json_t *d = json_object_get(root, "dimensions");
    o->dims = s->dims;
    o->dims_explicit = 0;
    if (d && !json_is_null(d)) {
        json_int_t v = json_is_integer(d) ? json_integer_value(d) : 0;
        if (v < 1 || v > s->dims) {
            qr_srv_error(r, 400, "invalid_dimensions",
                         "'dimensions' must be an integer from 1 to %d (the model's size; "
                         "smaller values keep the first N dimensions, renormalised)",
                         s->dims);
            return -1;
        }
        o->dims = (int)v;
        o->dims_explicit = 1;
    }
    return 0;
}

int qr_srv_prompt(const quire_server *s, json_t *root, emb_req *q, reply *r)
{
    json_t *lit = json_object_get(root, "prompt");
    json_t *name = json_object_get(root, "prompt_name");
    json_t *type = json_object_get(root, "input_type");
    if (lit && !json_is_null(lit)) {
        if (!json_is_string(lit)) {
            qr_srv_error(r, 400, "invalid_type", "'prompt' must be a string");
            return -1;
        }
        q->prompt = json_string_value(lit);
        return 0;
    }
    json_t *n = name && !json_is_null(name) ? name : type;
    const char *key = n == name ? "prompt_name" : "input_type";
    if (n && !json_is_null(n)) {
        if (!json_is_string(n)) {
            qr_srv_error(r, 400, "invalid_type", "'%s' must be a string", key);
            return -1;
        }
        q->prompt = quire_model_prompt(s->model, json_string_value(n));
        if (!q->prompt) {
            char names[512] = "";
            size_t used = 0;
            for (int i = 0; i < quire_model_prompt_count(s->model) && used < sizeof names - 64; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                         quire_model_prompt_name(s->model, i));
            qr_srv_error(r, 400, "invalid_prompt", "'%s': the model has no prompt \"%s\" "
                         "(its prompts: %s)", key, json_string_value(n), used ? names : "none");
            return -1;
        }
        return 0;
    }
    const char *def = quire_model_default_prompt(s->model);
    q->prompt = def ? quire_model_prompt(s->model, def) : NULL;
    return 0;
}

/* Matryoshka: keep the first `dims` values by the model's rule (as `quire embed --dims`). */
void qr_srv_shorten(const quire_server *s, float *v, int dims, int explicit_dims)
{
    if (dims == s->dims && !(explicit_dims && quire_model_matryoshka(s->model)))
        return;
    quire_model_shorten(s->model, v, dims, 1);
}

static void write_embeddings(const quire_server *s, const emb_req *q, float *vecs,
                             const emb_opts *o, reply *r)
{
    qr_buf *b = &r->body;
    qr_buf_append(b, "{\"object\":\"list\",\"data\":[", 25);
    for (size_t i = 0; i < q->n; i++) {
        float *v = vecs + i * (size_t)s->dims;
        qr_srv_shorten(s, v, o->dims, o->dims_explicit);
        qr_buf_printf(b, "%s{\"object\":\"embedding\",\"index\":%zu,%s\"embedding\":",
                      i ? "," : "", i, q->cut && q->cut[i] ? "\"truncated\":true," : "");
        if (o->base64) {
            /* little-endian float32 bytes (the host order on x86_64 and arm64) */
            qr_buf_putc(b, '"');
            qr_base64_encode(b, v, (size_t)o->dims * sizeof(float));
            qr_buf_putc(b, '"');
        } else {
            qr_buf_putc(b, '[');
            for (int j = 0; j < o->dims; j++) {
                char tmp[32];
                int len = snprintf(tmp, sizeof tmp, j ? ",%.9g" : "%.9g",
                                   isfinite(v[j]) ? (double)v[j] : 0.0);
                qr_buf_append(b, tmp, (size_t)len);
            }
            qr_buf_putc(b, ']');
        }
        qr_buf_putc(b, '}');
    }
    qr_buf_append(b, "],\"model\":", 10);
    qr_srv_json_str(b, served_name(s));
    qr_buf_printf(b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}\n", q->tokens,
                  q->tokens);
    r->status = 200;
    r->content_type = "application/json";
}

/* Embed the parsed inputs through the shared batch queue. Returns the vectors
 * (n x dims, free with qr_free) or NULL with r filled. */
float *qr_srv_run_inputs(quire_server *s, const emb_req *q, reply *r)
{
    float *vecs = qr_malloc(q->n * (size_t)s->dims * sizeof(float));
    if (!vecs) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return NULL;
    }
    qr_emb_job job;
    memset(&job, 0, sizeof job);
    job.ids = q->ptrs;
    job.n_ids = q->n_ids;
    job.n = q->n;
    job.vecs = vecs;
    quire_status st = qr_batch_run(&s->queue, &job);
    if (st != QUIRE_OK) {
        qr_srv_error(r, qr_srv_http_status(st), status_code_name(st), "%s", job.msg);
        qr_free(vecs);
        return NULL;
    }
    return vecs;
}

void qr_route_embeddings(quire_server *s, const char *body, size_t len, reply *r)
{
    if (!s->model) {
        qr_srv_error(r, 503, "model_not_loaded",
                     "no embedding model is loaded (start quire serve with --model DIR)");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    emb_req q;
    memset(&q, 0, sizeof q);
    float *vecs = NULL;
    emb_opts o;
    if (!root) {
        qr_srv_error(r, 400, "invalid_json", "the body is not valid JSON (line %d, column %d: %s)",
                     je.line, je.column, je.text);
        return;
    }
    if (!json_is_object(root)) {
        qr_srv_error(r, 400, "invalid_type", "the body must be a JSON object");
        goto out;
    }
    if (parse_options(s, root, &o, r) != 0)
        goto out;
    json_t *in = json_object_get(root, "input");
    if (!in) {
        qr_srv_error(r, 400, "missing_input", "you must provide an 'input'");
        goto out;
    }
    q.truncate = s->p.truncate;
    if (qr_srv_prompt(s, root, &q, r) != 0 ||
        qr_srv_parse_input(s, in, &q, r) != 0 || !(vecs = qr_srv_run_inputs(s, &q, r)))
        goto out;
    write_embeddings(s, &q, vecs, &o, r);
    if (r->body.failed)
        qr_srv_error(r, 500, "out_of_memory", "the response is too large");
out:
    qr_free(vecs);
    qr_srv_emb_req_free(&q);
    json_decref(root);
}

/* ---- /v1/models ------------------------------------------------------------------------ */

static json_t *model_obj(const quire_server *s)
{
    return json_pack("{s:s,s:s,s:i,s:s,s:i,s:i}", "id", served_name(s), "object", "model",
                     "created", 0, "owned_by", "quire", "dimensions", s->dims,
                     "max_tokens", s->limit);
}

void qr_route_models(quire_server *s, const char *id, reply *r)
{
    if (id) {
        if (!s->model || !qr_srv_name_matches(s, id)) {
            qr_srv_error(r, 404, "model_not_found", "The model '%s' does not exist", id);
            return;
        }
        set_json(r, model_obj(s));
        return;
    }
    json_t *data = json_array();
    if (s->model)
        json_array_append_new(data, model_obj(s));
    set_json(r, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

/* ---- /v1/search ------------------------------------------------------------------------ */

typedef struct search_req {
    const char *query, *collection, *glob;
    int k, mode, mode_set, ef, exact, rank;
    char *where; /* JSON text of "where" (free()) */
    float *vector; /* "vector" (qr_free), vector_dims values */
    int vector_dims;
} search_req;

static int parse_search(json_t *root, search_req *q, reply *r)
{
    memset(q, 0, sizeof *q);
    q->k = 10;
    json_t *v = json_object_get(root, "vector");
    if (v && !json_is_null(v)) {
        quire_error e = {0, ""};
        if (qr_qvec_from_json(v, &q->vector, &q->vector_dims, &e) != QUIRE_OK) {
            qr_srv_error(r, 400, "invalid_vector", "'vector': %s", e.msg);
            return -1;
        }
    }
    v = json_object_get(root, "query");
    if (q->vector && (!v || json_is_null(v))) {
        q->query = "";
    } else if (!json_is_string(v) || (json_string_length(v) == 0 && !q->vector)) {
        qr_srv_error(r, 400, v ? "invalid_type" : "missing_query",
                     "'query' must be a non-empty string (or give \"vector\")");
        return -1;
    } else {
        q->query = json_string_value(v);
    }
    v = json_object_get(root, "collection");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            qr_srv_error(r, 400, "invalid_type", "'collection' must be a string");
            return -1;
        }
        q->collection = json_string_value(v);
    }
    v = json_object_get(root, "k");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000) {
            qr_srv_error(r, 400, "invalid_k", "'k' must be an integer from 1 to 1000");
            return -1;
        }
        q->k = (int)json_integer_value(v);
    }
    v = json_object_get(root, "mode");
    if (v && !json_is_null(v)) {
        const char *m = json_is_string(v) ? json_string_value(v) : "";
        q->mode_set = 1;
        if (strcmp(m, "hybrid") == 0)
            q->mode = QUIRE_SEARCH_HYBRID;
        else if (strcmp(m, "vector") == 0)
            q->mode = QUIRE_SEARCH_VECTOR;
        else if (strcmp(m, "text") == 0)
            q->mode = QUIRE_SEARCH_TEXT;
        else {
            qr_srv_error(r, 400, "invalid_mode", "'mode' must be hybrid, vector or text");
            return -1;
        }
    }
    v = json_object_get(root, "filter");
    if (v && !json_is_null(v)) {
        const char *f = json_is_string(v) ? json_string_value(v) : "";
        if (strncmp(f, "path=", 5) != 0 || !f[5]) {
            qr_srv_error(r, 400, "invalid_filter", "'filter' must be \"path=GLOB\"");
            return -1;
        }
        q->glob = f + 5;
    }
    v = json_object_get(root, "ef");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096) {
            qr_srv_error(r, 400, "invalid_ef", "'ef' must be an integer from 1 to 4096");
            return -1;
        }
        q->ef = (int)json_integer_value(v);
    }
    v = json_object_get(root, "exact");
    q->exact = v && json_is_true(v);
    v = json_object_get(root, "where");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v)) {
            qr_srv_error(r, 400, "invalid_where", "'where' must be a JSON object (a filter)");
            return -1;
        }
        q->where = json_dumps(v, JSON_COMPACT);
    }
    v = json_object_get(root, "rank");
    if (v && !json_is_null(v)) {
        const char *m = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(m, "phrase") && strcmp(m, "bm25")) {
            qr_srv_error(r, 400, "invalid_rank", "'rank' must be phrase or bm25");
            return -1;
        }
        q->rank = strcmp(m, "bm25") == 0 ? QUIRE_TEXT_RANK_BM25 : QUIRE_TEXT_RANK_PHRASE;
    }
    return 0;
}

static const char *mode_name(int mode)
{
    return mode == QUIRE_SEARCH_VECTOR ? "vector" : mode == QUIRE_SEARCH_TEXT ? "text" : "hybrid";
}

/* The response: hit schema 1 (docs/search-hits.md), the mode used and, when it is not
 * the one asked for (or the default a client would expect), why. */
static json_t *hits_json(const quire_hits *h, const char *collection, const search_req *q,
                         const char *fallback)
{
    json_t *data = json_array();
    for (int i = 0; i < h->n; i++)
        json_array_append_new(data, qr_hit_json(&h->hits[i], i + 1,
                                                qr_score_kind(h->mode, q->rank)));
    char note[600];
    snprintf(note, sizeof note, "%s%s%s", fallback ? fallback : "",
             fallback && h->note[0] ? "; " : "", h->note);
    return json_pack("{s:s,s:i,s:o,s:s,s:s,s:s?,s:b,s:b,s:s}", "object", "list",
                     "hit_schema_version", QR_HIT_SCHEMA_VERSION, "data", data, "collection",
                     collection, "mode", mode_name(h->mode), "mode_requested",
                     q->mode_set ? mode_name(q->mode) : NULL, "mode_fallback", fallback != NULL,
                     "exact", h->exact, "note", note);
}

/* Run a search, with the shared search embedder when the mode needs vectors. */
static quire_status do_search(quire_server *s, const search_req *q, int mode,
                              quire_hits **hits, quire_error *e)
{
    quire_search_params sp = quire_search_default_params();
    sp.collection = q->collection;
    sp.k = q->k;
    sp.mode = mode;
    sp.path_glob = q->glob;
    sp.ef = q->ef;
    sp.exact = q->exact;
    sp.text_rank = q->rank;
    sp.where = q->where;
    sp.vector = q->vector;
    sp.vector_dims = q->vector_dims;
    if (mode == QUIRE_SEARCH_TEXT || q->vector)
        return quire_search(s->store, q->query, &sp, hits, e);
    pthread_mutex_lock(&s->search_mu);
    quire_status st = QUIRE_OK;
    if (!s->search_emb) {
        quire_embedder_params ep = quire_embedder_default_params();
        ep.max_batch = 1;
        st = quire_embedder_new(s->model, &ep, &s->search_emb, e);
    }
    if (st == QUIRE_OK) {
        sp.embedder = s->search_emb;
        st = quire_search(s->store, q->query, &sp, hits, e);
    }
    pthread_mutex_unlock(&s->search_mu);
    return st;
}

void qr_route_search(quire_server *s, const char *body, size_t len, reply *r)
{
    if (!s->store) {
        qr_srv_error(r, 503, "store_not_open", "no store is open (start quire serve with --db)");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root || !json_is_object(root)) {
        qr_srv_error(r, 400, root ? "invalid_type" : "invalid_json",
                     root ? "the body must be a JSON object" : "the body is not valid JSON: %s",
                     je.text);
        json_decref(root);
        return;
    }
    search_req q;
    quire_hits *hits = NULL;
    if (parse_search(root, &q, r) != 0)
        goto out;
    const char *coll = q.collection ? q.collection : "default";
    quire_collection_info ci;
    quire_error e = {0, ""};
    quire_status st = quire_store_collection(s->store, coll, &ci, &e);
    if (st != QUIRE_OK) {
        qr_srv_error(r, qr_srv_http_status(st),
                     st == QUIRE_NOT_FOUND ? "collection_not_found" : status_code_name(st), "%s",
                     e.msg);
        goto out;
    }
    int same_model = s->model && ci.dims && strcmp(ci.fingerprint,
                                                   quire_model_fingerprint(s->model)) == 0;
    int mode = q.mode_set ? q.mode : same_model ? QUIRE_SEARCH_HYBRID : QUIRE_SEARCH_TEXT;
    if (q.vector && !q.mode_set) /* the client's vector: no model needed */
        mode = q.query[0] ? QUIRE_SEARCH_HYBRID : QUIRE_SEARCH_VECTOR;
    /* never silently: a collection with vectors searched by text is said in the reply */
    char why[400];
    const char *fallback = NULL;
    if (!q.mode_set && ci.dims && !same_model && !q.vector) {
        snprintf(why, sizeof why, "text search: the collection's vectors are from model '%s' "
                 "and the server has %s; pass \"mode\" to choose", ci.model,
                 s->model ? "another model loaded" : "no model (--model)");
        fallback = why;
    }
    if (mode != QUIRE_SEARCH_TEXT && !s->model && !q.vector) {
        qr_srv_error(r, 400, "model_not_loaded",
                     "mode '%s' needs the collection's model: start quire serve with --model",
                     mode_name(mode));
        goto out;
    }
    st = do_search(s, &q, mode, &hits, &e);
    if (st != QUIRE_OK) {
        qr_srv_error(r, qr_srv_http_status(st), status_code_name(st), "%s", e.msg);
        goto out;
    }
    set_json(r, hits_json(hits, coll, &q, fallback));
out:
    qr_free(q.where);
    qr_free(q.vector);
    quire_hits_free(hits);
    json_decref(root);
}
