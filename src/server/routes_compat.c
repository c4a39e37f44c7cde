/*
 * routes_compat.c — drop-in routes of other embedding servers, on the same batch queue as
 * /v1/embeddings: Hugging Face text-embeddings-inference (TEI) `POST /embed` and
 * `GET /info`, and Ollama's `POST /api/embed`. Request and response shapes follow those
 * servers' documented APIs (TEI's OpenAPI document; Ollama's docs/api.md), so their
 * clients work unchanged; errors keep quire's JSON error object.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "server/server_int.h"

/* Errors in the shape of the server a route imitates, so its clients show the message:
 * TEI {"error": "...", "error_type": "..."}, Ollama {"error": "..."} (quire's own routes
 * answer {"error": {"message", "type", "code"}}). */
static void reshape_error(reply *r, int tei)
{
    if (r->status < 400 || !r->body.data)
        return;
    json_t *o = json_loadb(r->body.data, r->body.len, 0, NULL);
    json_t *e = json_object_get(o, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    json_t *n = msg ? (tei ? json_pack("{s:s,s:s}", "error", msg, "error_type", code ? code : "")
                           : json_pack("{s:s}", "error", msg))
                    : NULL;
    char *txt = n ? json_dumps(n, JSON_COMPACT) : NULL;
    if (txt) {
        qr_buf_clear(&r->body);
        qr_buf_printf(&r->body, "%s\n", txt);
        free(txt); /* lint-allow: free (json_dumps) */
    }
    json_decref(n);
    json_decref(o);
}

static void put_vec(qr_buf *b, const float *v, int dims)
{
    qr_buf_putc(b, '[');
    for (int j = 0; j < dims; j++) {
        char tmp[32];
        int len = snprintf(tmp, sizeof tmp, j ? ",%.9g" : "%.9g",
                           isfinite(v[j]) ? (double)v[j] : 0.0);
        qr_buf_append(b, tmp, (size_t)len);
    }
    qr_buf_putc(b, ']');
}

/* Common start: model loaded, body a JSON object. NULL with r filled on failure. */
static json_t *load_body(quire_server *s, const char *body, size_t len, reply *r)
{
    if (!s->model) {
        qr_srv_error(r, 503, "model_not_loaded",
                     "no embedding model is loaded (start quire serve with --model DIR)");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        qr_srv_error(r, 400, "invalid_json", "the body is not valid JSON (line %d, column %d: %s)",
                     je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        qr_srv_error(r, 400, "invalid_type", "the body must be a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* An optional boolean field; -1 when it is there but not a boolean (r filled). */
static int opt_bool(json_t *root, const char *key, int dflt, reply *r)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_boolean(v)) {
        qr_srv_error(r, 400, "invalid_type", "'%s' must be true or false", key);
        return -1;
    }
    return json_is_true(v);
}

/* An optional "dimensions" in 1..full; -1 when invalid (r filled). */
static int opt_dims(json_t *root, int full, reply *r)
{
    json_t *d = json_object_get(root, "dimensions");
    if (!d || json_is_null(d))
        return full;
    json_int_t v = json_is_integer(d) ? json_integer_value(d) : 0;
    if (v < 1 || v > full) {
        qr_srv_error(r, 400, "invalid_dimensions", "'dimensions' must be an integer from 1 to %d",
                     full);
        return -1;
    }
    return (int)v;
}

/* ---- TEI: POST /embed {"inputs": "text" | ["text", ...], "normalize", "truncate"} -> [[...]] */
static void tei_embed(quire_server *s, const char *body, size_t len, reply *r)
{
    emb_req q;
    memset(&q, 0, sizeof q);
    float *vecs = NULL;
    json_t *root = load_body(s, body, len, r);
    if (!root)
        return;
    json_t *in = json_object_get(root, "inputs");
    int normalize = opt_bool(root, "normalize", 1, r);
    int truncate = opt_bool(root, "truncate", s->p.truncate, r);
    int dims = opt_dims(root, s->dims, r);
    if (normalize < 0 || truncate < 0 || dims < 0)
        goto out;
    if (!in) {
        qr_srv_error(r, 400, "missing_input", "you must provide 'inputs'");
        goto out;
    }
    if (!normalize && quire_model_normalize(s->model)) {
        /* the batchers' embedders normalise (modules.json has Normalize); an unnormalised
         * vector cannot be recovered */
        qr_srv_error(r, 400, "unsupported", "'normalize': false is not supported by this "
                                            "server (the model's vectors are L2-normalised)");
        goto out;
    }
    q.truncate = truncate;
    if (qr_srv_prompt(s, root, &q, r) != 0 ||
        qr_srv_parse_input(s, in, &q, r) != 0 || !(vecs = qr_srv_run_inputs(s, &q, r)))
        goto out;
    if (normalize && !quire_model_normalize(s->model)) { /* TEI's default: unit vectors */
        for (size_t i = 0; i < q.n; i++) {
            float *v = vecs + i * (size_t)s->dims;
            double ss = 0;
            for (int j = 0; j < s->dims; j++)
                ss += (double)v[j] * v[j];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            for (int j = 0; j < s->dims; j++)
                v[j] *= inv;
        }
    }
    qr_buf_putc(&r->body, '[');
    for (size_t i = 0; i < q.n; i++) {
        float *v = vecs + i * (size_t)s->dims;
        qr_srv_shorten(s, v, dims, dims != s->dims);
        if (i)
            qr_buf_putc(&r->body, ',');
        put_vec(&r->body, v, dims);
    }
    qr_buf_append(&r->body, "]\n", 2);
    r->status = 200;
    r->content_type = "application/json";
    if (r->body.failed)
        qr_srv_error(r, 500, "out_of_memory", "the response is too large");
out:
    qr_free(vecs);
    qr_srv_emb_req_free(&q);
    json_decref(root);
}

/* ---- TEI: GET /info ------------------------------------------------------------------- */
void qr_route_tei_info(quire_server *s, reply *r)
{
    if (!s->model) {
        qr_srv_error(r, 503, "model_not_loaded",
                     "no embedding model is loaded (start quire serve with --model DIR)");
        reshape_error(r, 1);
        return;
    }
    const char *pool = quire_model_pooling(s->model) == QUIRE_POOLING_CLS ? "cls" : "mean";
    json_t *o = json_pack("{s:s,s:n,s:s,s:{s:{s:s}},s:i,s:i,s:i,s:i,s:i,s:s,s:i}", "model_id",
                          s->served_name, "model_sha", "model_dtype", "float32", "model_type",
                          "embedding", "pooling", pool, "max_concurrent_requests",
                          s->p.max_connections, "max_input_length", s->limit,
                          "max_batch_tokens", s->p.batch_tokens, "max_client_batch_size",
                          s->p.max_inputs, "tokenization_workers", 1, "version",
                          quire_version_str(), "dimensions", s->dims);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    qr_buf_printf(&r->body, "%s\n", txt);
    free(txt); /* lint-allow: free (json_dumps) */
    r->status = 200;
    r->content_type = "application/json";
}

/* ---- Ollama: POST /api/embed {"model", "input", "truncate", "dimensions"} ------------ */
/* Ollama names carry a tag ("nomic-embed-text:latest"): ":latest" is the default tag. */
static int ollama_name_ok(const quire_server *s, const char *name)
{
    if (qr_srv_name_matches(s, name))
        return 1;
    size_t n = strlen(name);
    if (n > 7 && strcmp(name + n - 7, ":latest") == 0) {
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)QR_MIN(n - 7, 255), name);
        return qr_srv_name_matches(s, base);
    }
    return 0;
}

static void ollama_embed(quire_server *s, const char *body, size_t len, reply *r)
{
    emb_req q;
    memset(&q, 0, sizeof q);
    float *vecs = NULL;
    double t0 = qr_now();
    json_t *root = load_body(s, body, len, r);
    if (!root)
        return;
    json_t *m = json_object_get(root, "model");
    json_t *in = json_object_get(root, "input");
    int truncate = opt_bool(root, "truncate", 1, r); /* Ollama truncates by default */
    int dims = opt_dims(root, s->dims, r);
    if (truncate < 0 || dims < 0)
        goto out;
    if (!json_is_string(m)) {
        qr_srv_error(r, 400, "missing_model", "you must provide a 'model' string (this server "
                                              "serves '%s')", s->served_name);
        goto out;
    }
    if (!ollama_name_ok(s, json_string_value(m))) {
        qr_srv_error(r, 404, "model_not_found", "model \"%s\" not found (this server serves "
                                                "'%s')", json_string_value(m), s->served_name);
        goto out;
    }
    if (!in) {
        qr_srv_error(r, 400, "missing_input", "you must provide an 'input'");
        goto out;
    }
    q.truncate = truncate;
    if (qr_srv_prompt(s, root, &q, r) != 0 ||
        qr_srv_parse_input(s, in, &q, r) != 0 || !(vecs = qr_srv_run_inputs(s, &q, r)))
        goto out;
    qr_buf *b = &r->body;
    qr_buf_append(b, "{\"model\":", 9);
    qr_srv_json_str(b, json_string_value(m));
    qr_buf_append(b, ",\"embeddings\":[", 15);
    for (size_t i = 0; i < q.n; i++) {
        float *v = vecs + i * (size_t)s->dims;
        qr_srv_shorten(s, v, dims, dims != s->dims);
        if (i)
            qr_buf_putc(b, ',');
        put_vec(b, v, dims);
    }
    qr_buf_printf(b, "],\"total_duration\":%lld,\"load_duration\":0,\"prompt_eval_count\":%ld}\n",
                  (long long)((qr_now() - t0) * 1e9), q.tokens);
    r->status = 200;
    r->content_type = "application/json";
    if (b->failed)
        qr_srv_error(r, 500, "out_of_memory", "the response is too large");
out:
    qr_free(vecs);
    qr_srv_emb_req_free(&q);
    json_decref(root);
}

void qr_route_tei_embed(quire_server *s, const char *body, size_t len, reply *r)
{
    tei_embed(s, body, len, r);
    reshape_error(r, 1);
}

void qr_route_ollama_embed(quire_server *s, const char *body, size_t len, reply *r)
{
    ollama_embed(s, body, len, r);
    reshape_error(r, 0);
}
