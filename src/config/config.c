/*
 * config.c — checks a parsed quire.toml against one table of known keys (name, type,
 * bounds, field), applies the environment overrides and fills struct quire_config.
 * Every complaint names where it comes from: "quire.toml:7:1: backends.ds.rpm: must be
 * between 0 and 100000", or the environment variable that carried the bad value.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

enum ftype { F_INT, F_LONG, F_REAL, F_BOOL, F_STR, F_PROTO, F_JSON };

typedef struct field {
    const char *name;
    enum ftype type;
    size_t off;
    size_t size; /* strings: buffer size */
    double min, max;
    const char *help;
} field;

#define RF(n, t, lo, hi, h) {#n, t, offsetof(struct quire_config, n), 0, lo, hi, h}
static const field resource_fields[] = {
    RF(max_workers, F_INT, 1, 256, "pages converted at once"),
    RF(page_render_dpi, F_INT, 36, 1200, "dpi of page images sent to a VLM"),
    RF(http_timeout_s, F_REAL, 0.1, 86400, "default read timeout of a VLM request"),
    RF(http_retry_attempts, F_INT, 0, 20, "default retries of one request"),
    RF(max_memory_mb, F_INT, 0, 1 << 20, "memory cap (0 = none)"),
    RF(vlm_auto_min_conf, F_REAL, 0, 100, "--vlm auto: OCR confidence below it -> VLM"),
};

#define BF(n, t, lo, hi, h) {#n, t, offsetof(qr_backend_cfg, n), 0, lo, hi, h}
#define BS(n, h) {#n, F_STR, offsetof(qr_backend_cfg, n), sizeof(((qr_backend_cfg *)0)->n), 0, 0, h}
static const field backend_fields[] = {
    BF(protocol, F_PROTO, 0, 0, "generic | deepseek | nemotron-tools | nemotron-tokens"),
    BS(base_url, "http(s)://host:port/v1"),
    BS(model, "model name sent to the server"),
    BF(temperature, F_REAL, 0, 2, "sampling temperature (always sent)"),
    BF(max_tokens, F_INT, 1, 1000000, "max_tokens of one answer"),
    BF(max_concurrency, F_INT, 1, 256, "requests in flight"),
    BF(rpm, F_REAL, 0, 100000, "requests per minute (0 = no limit)"),
    BS(api_key_env, "environment variable holding the API key"),
    BF(extra_body, F_JSON, 0, 0, "table merged into each request body"),
    BF(allow_remote, F_BOOL, 0, 1, "allow a non-loopback base_url"),
    BF(connect_timeout_s, F_REAL, 0.05, 3600, "connect timeout"),
    BF(read_timeout_s, F_REAL, 0.05, 86400, "whole-request timeout"),
    BF(idle_timeout_s, F_REAL, 0.05, 3600, "longest silence in a stream"),
    BF(max_image_px, F_INT, 64, 16384, "longest image side in pixels"),
    BF(max_image_b64, F_LONG, 0, 1e9, "base64 characters at most (0 = no limit)"),
    BS(image_format, "png | jpeg"),
    BF(jpeg_quality, F_INT, 1, 100, "JPEG quality (image_format = jpeg)"),
    BF(retry_attempts, F_INT, 0, 20, "retries of one request"),
    BS(prompt, "page prompt (default: the protocol's)"),
    BF(max_pages, F_INT, 0, 1e9, "pages sent to this backend in a run (0 = no limit)"),
    BF(budget_tokens, F_LONG, 0, 1e15, "tokens this backend may use in a run (0 = no limit)"),
    BF(budget_cost, F_REAL, 0, 1e9, "usage.cost this backend may spend in a run (0 = no limit)"),
};

static const char *const proto_names[] = {"generic", "deepseek", "nemotron-tools",
                                          "nemotron-tokens"};

const char *qr_vlm_protocol_name(qr_vlm_protocol p)
{
    return (unsigned)p < QR_ARRAY_LEN(proto_names) ? proto_names[p] : "?";
}

/* Where a message comes from: "file:L:C: path" or "VAR". */
typedef struct origin {
    char where[600];
} origin;

static void origin_of(origin *o, const quire_config *cfg, json_t *pos, const char *path)
{
    json_t *lc = pos ? json_object_get(pos, path) : NULL;
    const char *src = cfg->source[0] ? cfg->source : "config";
    if (lc)
        snprintf(o->where, sizeof o->where, "%s:%d:%d: %s", src,
                 (int)json_integer_value(json_array_get(lc, 0)),
                 (int)json_integer_value(json_array_get(lc, 1)), path);
    else
        snprintf(o->where, sizeof o->where, "%s: %s", src, path);
}

static quire_status set_field(void *base, const field *f, json_t *v, const char *where,
                              quire_error *err)
{
    char *dst = (char *)base + f->off;
    double d;
    switch (f->type) {
    case F_INT:
    case F_LONG:
        if (!json_is_integer(v))
            return qr_err(err, QUIRE_FORMAT, "%s: expected an integer", where);
        d = (double)json_integer_value(v);
        if (d < f->min || d > f->max)
            return qr_err(err, QUIRE_FORMAT, "%s: must be between %.0f and %.0f", where,
                          f->min, f->max);
        if (f->type == F_INT)
            *(int *)dst = (int)json_integer_value(v);
        else
            *(long *)dst = (long)json_integer_value(v);
        return QUIRE_OK;
    case F_REAL:
        if (!json_is_number(v))
            return qr_err(err, QUIRE_FORMAT, "%s: expected a number", where);
        d = json_number_value(v);
        if (!(d >= f->min && d <= f->max))
            return qr_err(err, QUIRE_FORMAT, "%s: must be between %g and %g", where, f->min,
                          f->max);
        *(double *)dst = d;
        return QUIRE_OK;
    case F_BOOL:
        if (!json_is_boolean(v))
            return qr_err(err, QUIRE_FORMAT, "%s: expected true or false", where);
        *(int *)dst = json_is_true(v);
        return QUIRE_OK;
    case F_STR:
        if (!json_is_string(v))
            return qr_err(err, QUIRE_FORMAT, "%s: expected a string", where);
        if (json_string_length(v) >= f->size)
            return qr_err(err, QUIRE_FORMAT, "%s: longer than %zu bytes", where, f->size - 1);
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return QUIRE_OK;
    case F_PROTO:
        if (json_is_string(v)) {
            for (size_t k = 0; k < QR_ARRAY_LEN(proto_names); k++) {
                if (!strcmp(json_string_value(v), proto_names[k])) {
                    *(qr_vlm_protocol *)dst = (qr_vlm_protocol)k;
                    return QUIRE_OK;
                }
            }
        }
        return qr_err(err, QUIRE_FORMAT,
                      "%s: expected \"generic\", \"deepseek\", \"nemotron-tools\" or "
                      "\"nemotron-tokens\"",
                      where);
    case F_JSON:
        if (!json_is_object(v))
            return qr_err(err, QUIRE_FORMAT, "%s: expected a table", where);
        json_decref(*(json_t **)dst);
        *(json_t **)dst = json_deep_copy(v);
        return QUIRE_OK;
    }
    return QUIRE_ERROR;
}

static const field *find_field(const field *fs, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++) {
        if (!strcmp(fs[k].name, name))
            return &fs[k];
    }
    return NULL;
}

static quire_status apply_table(void *base, const field *fs, size_t nf, json_t *tbl,
                                const char *prefix, const quire_config *cfg, json_t *pos,
                                quire_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(tbl, k, v) {
        char path[256];
        origin o;
        snprintf(path, sizeof path, "%s.%s", prefix, k);
        origin_of(&o, cfg, pos, path);
        const field *f = find_field(fs, nf, k);
        if (!f && !strcmp(k, "api_key"))
            return qr_err(err, QUIRE_FORMAT,
                          "%s: keys are never read from the config file; put the key in an "
                          "environment variable and name it in api_key_env",
                          o.where);
        if (!f)
            return qr_err(err, QUIRE_FORMAT, "%s: unknown key", o.where);
        quire_status st = set_field(base, f, v, o.where, err);
        if (st != QUIRE_OK)
            return st;
    }
    return QUIRE_OK;
}

static void backend_defaults(qr_backend_cfg *b, const char *name)
{
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->max_tokens = 2048;
    b->max_concurrency = 4;
    b->connect_timeout_s = 10;
    b->read_timeout_s = -1;
    b->idle_timeout_s = 60;
    b->max_image_px = -1;
    b->max_image_b64 = -1;
    b->retry_attempts = -1;
    snprintf(b->image_format, sizeof b->image_format, "png");
    b->jpeg_quality = 85;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= QR_NAME_MAX)
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (!isalnum((unsigned char)s[k]) && s[k] != '_' && s[k] != '-')
            return 0;
    }
    return 1;
}

static quire_status read_chain(quire_config *cfg, json_t *v, const char *where,
                               quire_error *err)
{
    if (!json_is_array(v))
        return qr_err(err, QUIRE_FORMAT, "%s: expected an array of backend names", where);
    if (json_array_size(v) > QR_MAX_BACKENDS)
        return qr_err(err, QUIRE_FORMAT, "%s: %d backends at most", where, QR_MAX_BACKENDS);
    cfg->n_chain = 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !valid_name(json_string_value(e)))
            return qr_err(err, QUIRE_FORMAT, "%s: element %zu is not a backend name", where,
                          i + 1);
        snprintf(cfg->chain[cfg->n_chain++], QR_NAME_MAX, "%s", json_string_value(e));
    }
    return QUIRE_OK;
}

static quire_status read_backends(quire_config *cfg, json_t *tbl, json_t *pos,
                                  quire_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(tbl, k, v) {
        char path[256];
        origin o;
        snprintf(path, sizeof path, "backends.%s", k);
        origin_of(&o, cfg, pos, path);
        quire_status st = QUIRE_OK;
        if (!strcmp(k, "default")) {
            if (!json_is_string(v) || !valid_name(json_string_value(v)))
                return qr_err(err, QUIRE_FORMAT, "%s: expected a backend name", o.where);
            snprintf(cfg->default_backend, QR_NAME_MAX, "%s", json_string_value(v));
        } else if (!strcmp(k, "fallback_chain")) {
            st = read_chain(cfg, v, o.where, err);
        } else if (json_is_object(v)) {
            if (!valid_name(k))
                return qr_err(err, QUIRE_FORMAT, "%s: backend names use letters, digits, _ "
                              "and - (63 at most)", o.where);
            if (cfg->n_backends >= QR_MAX_BACKENDS)
                return qr_err(err, QUIRE_FORMAT, "%s: %d backends at most", o.where,
                              QR_MAX_BACKENDS);
            qr_backend_cfg *b = &cfg->backends[cfg->n_backends++];
            backend_defaults(b, k);
            st = apply_table(b, backend_fields, QR_ARRAY_LEN(backend_fields), v, path, cfg,
                             pos, err);
        } else {
            return qr_err(err, QUIRE_FORMAT, "%s: unknown key (backends are [backends.NAME] "
                          "tables)", o.where);
        }
        if (st != QUIRE_OK)
            return st;
    }
    return QUIRE_OK;
}

/* Parse an environment string as the field's type (a TOML value for tables/numbers). */
static quire_status env_value(const field *f, const char *s, json_t **out)
{
    *out = NULL;
    if (f->type == F_STR || f->type == F_PROTO) {
        *out = json_string(s);
        return *out ? QUIRE_OK : QUIRE_FORMAT;
    }
    json_t *doc = NULL;
    size_t n = strlen(s);
    char *text = qr_malloc(n + 3);
    if (!text)
        return QUIRE_NOMEM;
    memcpy(text, "v=", 2);
    memcpy(text + 2, s, n + 1);
    quire_status st = qr_toml_parse(text, n + 2, "env", &doc, NULL, NULL);
    qr_free(text);
    if (st != QUIRE_OK)
        return st;
    *out = json_incref(json_object_get(doc, "v"));
    json_decref(doc);
    return QUIRE_OK;
}

static void env_name(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    snprintf(out, cap, "QUIRE_%s_%s%s%s", a, b, c ? "_" : "", c ? c : "");
    for (char *p = out; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
        if (*p == '-')
            *p = '_';
    }
}

static quire_status env_fields(void *base, const field *fs, size_t nf, const char *a,
                               const char *b, quire_error *err)
{
    for (size_t k = 0; k < nf; k++) {
        char var[200];
        env_name(var, sizeof var, a, b ? b : fs[k].name, b ? fs[k].name : NULL);
        const char *s = getenv(var);
        if (!s)
            continue;
        json_t *v = NULL;
        if (env_value(&fs[k], s, &v) != QUIRE_OK || !v)
            return qr_err(err, QUIRE_FORMAT, "%s: not a valid value for %s", var, fs[k].name);
        quire_status st = set_field(base, &fs[k], v, var, err);
        json_decref(v);
        if (st != QUIRE_OK)
            return st;
    }
    return QUIRE_OK;
}

static quire_status env_overrides(quire_config *cfg, quire_error *err)
{
    quire_status st = env_fields(cfg, resource_fields, QR_ARRAY_LEN(resource_fields),
                                 "resources", NULL, err);
    if (st != QUIRE_OK)
        return st;
    const char *s = getenv("QUIRE_BACKENDS_DEFAULT");
    if (s) {
        if (!valid_name(s))
            return qr_err(err, QUIRE_FORMAT, "QUIRE_BACKENDS_DEFAULT: not a backend name");
        snprintf(cfg->default_backend, QR_NAME_MAX, "%s", s);
    }
    s = getenv("QUIRE_BACKENDS_FALLBACK_CHAIN");
    if (s) {
        cfg->n_chain = 0;
        const char *p = s;
        while (*p) {
            size_t n = strcspn(p, ",");
            char name[QR_NAME_MAX];
            if (n == 0 || n >= QR_NAME_MAX || cfg->n_chain >= QR_MAX_BACKENDS)
                return qr_err(err, QUIRE_FORMAT, "QUIRE_BACKENDS_FALLBACK_CHAIN: expected "
                              "comma-separated backend names");
            memcpy(name, p, n);
            name[n] = '\0';
            if (!valid_name(name))
                return qr_err(err, QUIRE_FORMAT, "QUIRE_BACKENDS_FALLBACK_CHAIN: '%s' is not "
                              "a backend name", name);
            memcpy(cfg->chain[cfg->n_chain++], name, n + 1);
            p += n + (p[n] == ',');
        }
    }
    for (int i = 0; i < cfg->n_backends; i++) {
        qr_backend_cfg *b = &cfg->backends[i];
        st = env_fields(b, backend_fields, QR_ARRAY_LEN(backend_fields), "backend", b->name,
                        err);
        if (st != QUIRE_OK)
            return st;
    }
    return QUIRE_OK;
}

int qr_url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return 0;
    h += 3;
    const char *at = strpbrk(h, "@/");
    if (at && *at == '@')
        h = at + 1;
    char host[256];
    size_t n;
    if (*h == '[') {
        n = strcspn(h + 1, "]");
        if (n >= sizeof host)
            return 0;
        memcpy(host, h + 1, n);
    } else {
        n = strcspn(h, ":/?#");
        if (n >= sizeof host)
            return 0;
        memcpy(host, h, n);
    }
    host[n] = '\0';
    if (!strcmp(host, "localhost") || !strcmp(host, "::1"))
        return 1;
    unsigned a, b, c, d;
    char tail;
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4)
        return a == 127 && b < 256 && c < 256 && d < 256;
    return 0;
}

/* Fill derived defaults and check what no single key can. */
static quire_status finish(quire_config *cfg, quire_error *err)
{
    const char *src = cfg->source[0] ? cfg->source : "config";
    for (int i = 0; i < cfg->n_backends; i++) {
        qr_backend_cfg *b = &cfg->backends[i];
        int nemo = b->protocol == QR_PROTO_NEMOTRON_TOOLS || b->protocol == QR_PROTO_NEMOTRON_TOKENS;
        if (b->read_timeout_s < 0)
            b->read_timeout_s = cfg->http_timeout_s;
        if (b->retry_attempts < 0)
            b->retry_attempts = cfg->http_retry_attempts;
        if (b->max_image_px < 0)
            b->max_image_px = nemo ? 1648 : 1288;
        if (b->max_image_b64 < 0)
            b->max_image_b64 = b->protocol == QR_PROTO_NEMOTRON_TOOLS ? 180000 : 0;
        if (!b->base_url[0])
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.base_url is missing", src, b->name);
        if (strncmp(b->base_url, "http://", 7) && strncmp(b->base_url, "https://", 8))
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.base_url must start with "
                          "http:// or https://", src, b->name);
        if (!b->allow_remote && !qr_url_is_loopback(b->base_url))
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.base_url is not a loopback "
                          "address; quire is offline by default: set allow_remote = true to "
                          "send page images there", src, b->name);
        if (!b->model[0])
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.model is missing", src, b->name);
        if (strcmp(b->image_format, "png") && strcmp(b->image_format, "jpeg"))
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.image_format must be \"png\" or "
                          "\"jpeg\"", src, b->name);
        if (b->api_key_env[0] && !valid_name(b->api_key_env))
            return qr_err(err, QUIRE_FORMAT, "%s: backends.%s.api_key_env must name an "
                          "environment variable", src, b->name);
    }
    if (cfg->default_backend[0] && !qr_config_backend(cfg, cfg->default_backend))
        return qr_err(err, QUIRE_FORMAT, "%s: backends.default names '%s', which has no "
                      "[backends.%s] table", src, cfg->default_backend, cfg->default_backend);
    if (!cfg->default_backend[0] && cfg->n_backends > 0)
        snprintf(cfg->default_backend, QR_NAME_MAX, "%s",
                 cfg->n_chain ? cfg->chain[0] : cfg->backends[0].name);
    for (int i = 0; i < cfg->n_chain; i++) {
        if (!qr_config_backend(cfg, cfg->chain[i]))
            return qr_err(err, QUIRE_FORMAT, "%s: backends.fallback_chain names '%s', which "
                          "has no [backends.%s] table", src, cfg->chain[i], cfg->chain[i]);
        for (int j = 0; j < i; j++) {
            if (!strcmp(cfg->chain[i], cfg->chain[j]))
                return qr_err(err, QUIRE_FORMAT, "%s: backends.fallback_chain lists '%s' twice",
                              src, cfg->chain[i]);
        }
    }
    return QUIRE_OK;
}

const qr_backend_cfg *qr_config_backend(const quire_config *cfg, const char *name)
{
    for (int i = 0; cfg && i < cfg->n_backends; i++) {
        if (!strcmp(cfg->backends[i].name, name))
            return &cfg->backends[i];
    }
    return NULL;
}

static void config_defaults(quire_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_workers = 8;
    cfg->page_render_dpi = 200;
    cfg->http_timeout_s = 120;
    cfg->http_retry_attempts = 3;
    cfg->vlm_auto_min_conf = 70;
}

static quire_status fill(quire_config *cfg, json_t *doc, json_t *pos, quire_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        origin o;
        origin_of(&o, cfg, pos, k);
        quire_status st;
        if (!strcmp(k, "resources") && json_is_object(v))
            st = apply_table(cfg, resource_fields, QR_ARRAY_LEN(resource_fields), v,
                             "resources", cfg, pos, err);
        else if (!strcmp(k, "backends") && json_is_object(v))
            st = read_backends(cfg, v, pos, err);
        else
            st = qr_err(err, QUIRE_FORMAT, "%s: unknown key (expected [resources] or "
                        "[backends] tables)", o.where);
        if (st != QUIRE_OK)
            return st;
    }
    return QUIRE_OK;
}

void quire_config_free(quire_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->n_backends; i++)
        json_decref(cfg->backends[i].extra_body);
    qr_free(cfg);
}

quire_status quire_config_parse(const char *text, size_t len, const char *name,
                                quire_config **out, quire_error *err)
{
    json_t *doc = NULL;
    json_t *pos = NULL;
    *out = NULL;
    quire_config *cfg = qr_malloc(sizeof *cfg);
    if (!cfg)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    config_defaults(cfg);
    snprintf(cfg->source, sizeof cfg->source, "%s", name ? name : "");
    quire_status st = QUIRE_OK;
    if (text) {
        st = qr_toml_parse(text, len, cfg->source[0] ? cfg->source : "config", &doc, &pos,
                           err);
        if (st == QUIRE_OK)
            st = fill(cfg, doc, pos, err);
    }
    if (st == QUIRE_OK)
        st = env_overrides(cfg, err);
    if (st == QUIRE_OK)
        st = finish(cfg, err);
    json_decref(doc);
    json_decref(pos);
    if (st != QUIRE_OK) {
        quire_config_free(cfg);
        return st;
    }
    *out = cfg;
    return QUIRE_OK;
}

quire_status quire_config_load(const char *path, quire_config **out, quire_error *err)
{
    *out = NULL;
    int explicit = path != NULL;
    if (!path) {
        path = getenv("QUIRE_CONFIG");
        explicit = path && *path;
    }
    if (!path || !*path)
        path = qr_file_exists("quire.toml") ? "quire.toml" : NULL;
    if (!path)
        return quire_config_parse(NULL, 0, NULL, out, err);
    if (explicit && !qr_file_exists(path))
        return qr_err(err, QUIRE_NOT_FOUND, "config file %s: not found", path);
    char *text = NULL;
    size_t len = 0;
    quire_status st = qr_file_read(path, 1 << 20, &text, &len, err);
    if (st != QUIRE_OK)
        return st;
    st = quire_config_parse(text, len, path, out, err);
    qr_free(text);
    return st;
}

int quire_config_n_backends(const quire_config *cfg) { return cfg ? cfg->n_backends : 0; }

const char *quire_config_source(const quire_config *cfg)
{
    return cfg && cfg->source[0] ? cfg->source : NULL;
}
