/*
 * config.h — quire.toml: the strict TOML-subset parser (toml.c) and the checked
 * configuration it produces (config.c), for the modules that use it (src/ocr/vlm*,
 * convert, server, cli info).
 *
 * File layout (every key optional; unknown keys are errors naming line and column):
 *
 *     [resources]
 *     max_workers = 8          page_render_dpi = 200    http_timeout_s = 120
 *     http_retry_attempts = 3  max_memory_mb = 0 (no cap)
 *     vlm_auto_min_conf = 70   (--vlm auto: OCR'd pages below it go to the VLM)
 *     [backends]
 *     default = "deepseek"
 *     fallback_chain = ["deepseek", "nemotron"]
 *     [backends.deepseek]
 *     protocol = "deepseek"    # generic | deepseek | nemotron-tools | nemotron-tokens
 *     base_url = "http://127.0.0.1:8000/v1"
 *     model = "deepseek-ai/DeepSeek-OCR"
 *     temperature = 0.0        max_tokens = 2048        max_concurrency = 4
 *     rpm = 0 (no limit)       api_key_env = "OPENROUTER_API_KEY" (the variable's name)
 *     extra_body = { top_k = 1 }    allow_remote = false
 *     connect_timeout_s, read_timeout_s, idle_timeout_s, max_image_px, max_image_b64,
 *     image_format ("png" | "jpeg"; the chain sends JPEG only when every backend says jpeg),
 *     jpeg_quality (85), retry_attempts, prompt,
 *     max_pages, budget_tokens, budget_cost (run budgets; 0 = none: once spent, the
 *     remaining pages go on to the next backend of the chain, the report says why)
 *
 * Environment overrides (applied after the file): QUIRE_RESOURCES_<KEY>,
 * QUIRE_BACKENDS_DEFAULT, QUIRE_BACKENDS_FALLBACK_CHAIN (comma-separated) and
 * QUIRE_BACKEND_<NAME>_<KEY> (NAME upper-cased, '-' as '_'), e.g.
 * QUIRE_BACKEND_DEEPSEEK_BASE_URL. A bad value names the variable.
 *
 * Thread-safety: a quire_config is immutable once loaded and may be shared.
 */
#ifndef QR_CONFIG_H
#define QR_CONFIG_H

#include <jansson.h>

#include "core/core.h"

#define QR_MAX_BACKENDS 16
#define QR_NAME_MAX 64

typedef enum qr_vlm_protocol {
    QR_PROTO_GENERIC = 0,
    QR_PROTO_DEEPSEEK = 1,
    QR_PROTO_NEMOTRON_TOOLS = 2,
    QR_PROTO_NEMOTRON_TOKENS = 3
} qr_vlm_protocol;

const char *qr_vlm_protocol_name(qr_vlm_protocol p);

typedef struct qr_backend_cfg {
    char name[QR_NAME_MAX];
    qr_vlm_protocol protocol;
    char base_url[512];      /* ends in /v1 or /chat/completions (either accepted) */
    char model[256];
    double temperature;      /* always sent (Ollama's default would be 1.0) */
    int max_tokens;          /* default 2048 (DeepSeek-OCR's context is 8192) */
    int max_concurrency;     /* requests in flight to this backend; default 4 */
    double rpm;              /* requests per minute; 0 = no limit */
    char api_key_env[128];   /* name of the variable holding the key; "" = no key */
    json_t *extra_body;      /* object merged into every request body; NULL = none */
    int allow_remote;        /* 1 = a non-loopback base_url is allowed */
    double connect_timeout_s; /* default 10 */
    double read_timeout_s;    /* whole request; default [resources] http_timeout_s */
    double idle_timeout_s;    /* longest gap between stream bytes; default 60 */
    int max_image_px;         /* longest image side; default 1288 (Nemotron 1648) */
    long max_image_b64;       /* base64 characters at most; 0 = no limit (nemotron-tools
                                 180000, NVIDIA's inline limit) */
    char image_format[8];     /* "png" or "jpeg" */
    int retry_attempts;       /* per request; default [resources] http_retry_attempts */
    char prompt[512];         /* page prompt; "" = the protocol's default */
    int jpeg_quality;         /* 1-100 when image_format = "jpeg"; default 85 */
    /* Budgets for the run (0 = none). Once one is spent, the backend is skipped and the
       remaining pages go on down the chain; each page's attempt says which budget. */
    int max_pages;            /* pages (images) sent to this backend */
    long budget_tokens;       /* prompt + completion tokens reported by the server */
    double budget_cost;       /* usage.cost (OpenRouter) summed */
} qr_backend_cfg;

struct quire_config {
    char source[512]; /* the file read, or "" when none */
    int max_workers;
    int page_render_dpi;
    double http_timeout_s;
    int http_retry_attempts;
    int max_memory_mb;
    double vlm_auto_min_conf; /* --vlm auto: a page Tesseract reads with a lower mean word
                                 confidence goes to the VLM; default 70 */
    char default_backend[QR_NAME_MAX];
    int n_chain;
    char chain[QR_MAX_BACKENDS][QR_NAME_MAX]; /* fallback order (default first if not listed) */
    int n_backends;
    qr_backend_cfg backends[QR_MAX_BACKENDS];
};

/* Parse TOML-subset text. name is used in messages ("name:LINE:COL: ..."). OUT: *out (a
 * JSON object; json_decref), *pos (may be NULL: object "dotted.path" -> [line, col]).
 * QUIRE_FORMAT on any error. */
quire_status qr_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                           json_t **pos, quire_error *err);

/* The backend named name, or NULL. */
const qr_backend_cfg *qr_config_backend(const quire_config *cfg, const char *name);

/* 1 if the URL's host is loopback (localhost, 127.0.0.0/8, ::1), else 0. */
int qr_url_is_loopback(const char *url);

#endif /* QR_CONFIG_H */
