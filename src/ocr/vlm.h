/*
 * vlm.h — vision-language models over OpenAI-compatible HTTP (chat completions), the
 * page path of hybrid OCR. One qr_vlm_client per conversion run, built from a quire_config:
 *
 *   - vlm_http.c   one HTTP exchange on libcurl: connect / whole-request / stream-idle
 *                  timeouts, SSE parsing with an online loop check that aborts the
 *                  stream, Retry-After and X-Generation-Id capture, status classes.
 *   - vlm_proto.c  request bodies per protocol (generic, deepseek, nemotron-tools,
 *                  nemotron-tokens) and response parsing (content string / parts / tool
 *                  call arguments, usage, cost, error bodies of every server shape).
 *   - vlm_check.c  validation: finish_reason, tail n-gram loops, repeated lines,
 *                  compression ratio, empty output where the text layer found text.
 *   - vlm_client.c backends (concurrency cap, requests/minute, circuit breaker, disabled
 *                  after 401/402/403), retries with jittered capped backoff honouring
 *                  Retry-After, one retry at a higher temperature after a rejection,
 *                  then the next backend of the fallback chain; the result cache;
 *                  GET /v1/models at start.
 *   - vlm_norm.c   output normalisation into layout blocks (grounding tags, HTML and
 *                  LaTeX tables, display formulas, Nemotron classes).
 *
 * Keys come only from the environment variable a backend names (api_key_env); they are
 * never written to logs, reports or errors. Thread-safety: a client may be used by any
 * number of threads at once (per-backend limits are shared).
 */
#ifndef QR_VLM_H
#define QR_VLM_H

#include <jansson.h>

#include "config/config.h"
#include "core/core.h"
#include "layout/layout.h"

#define QR_VLM_MAX_ATTEMPTS 24

/* What a request asks for (the prompt used). */
enum qr_vlm_task { QR_VLM_PAGE = 0, QR_VLM_TABLE = 1, QR_VLM_FORMULA = 2 };

/* How an HTTP status (or transport failure, status 0) is handled. */
enum qr_vlm_class {
    QR_VLM_OK = 0,
    QR_VLM_RETRY = 1,   /* connection failure, timeout, 408 409 425 429 5xx */
    QR_VLM_NEVER = 2,   /* 400 404 413 422 and other 4xx: next backend */
    QR_VLM_DISABLE = 3  /* 401 402 403: the backend is unusable for the rest of the run */
};
int qr_vlm_status_class(long http_status);

/* One request as sent and what came back. */
typedef struct qr_vlm_attempt {
    char backend[QR_NAME_MAX];
    char model[128];        /* the model the server echoed ("" if none) */
    long http_status;       /* 0 = no HTTP answer (connection failure, timeout, abort) */
    char finish_reason[32]; /* "" when none came */
    double latency_ms;
    double waited_ms;       /* backoff / Retry-After / rate-limit wait before it */
    long prompt_tokens, completion_tokens;
    double cost;            /* usage.cost (OpenRouter); 0 when not reported */
    double temperature;
    int streamed;
    int accepted;
    char generation_id[80]; /* X-Generation-Id, or the response id */
    char reason[200];       /* why it was rejected or failed; "" when accepted */
} qr_vlm_attempt;

/* ---- one exchange (vlm_http.c) ------------------------------------------------------ */
typedef struct qr_vlm_http {
    long status;           /* HTTP status, 0 = none */
    char *body;            /* response body (non-streaming) or NULL; qr_malloc'd */
    size_t body_len;
    double retry_after_s;  /* from Retry-After, -1 = none */
    char generation_id[80];
    char error[200];       /* transport error, "" = none */
    int timed_out;         /* connect / whole-request / idle timeout */
    int loop_aborted;      /* the stream was closed because the online check saw a loop */
    /* streaming: accumulated from the SSE chunks */
    qr_buf content;
    qr_buf tool_args;
    char finish_reason[32];
    char model[128];
    char id[80];
    long prompt_tokens, completion_tokens;
    double cost;
    char stream_error[200]; /* an error event in the stream */
} qr_vlm_http;

typedef struct qr_vlm_http_opts {
    const char *url;          /* full URL */
    const char *api_key;      /* NULL = no Authorization header; never logged */
    const char *body;         /* NULL = GET */
    int stream;
    double connect_timeout_s, read_timeout_s, idle_timeout_s;
    int remote;               /* 0 = loopback: proxies are bypassed */
    volatile int *abort_flag; /* may be NULL */
} qr_vlm_http_opts;

void qr_vlm_http_global_init(void);
/* One request; never fails as a whole: the outcome is in *out (free with
 * qr_vlm_http_free). */
void qr_vlm_http_do(const qr_vlm_http_opts *o, qr_vlm_http *out);
void qr_vlm_http_free(qr_vlm_http *h);
/* Retry-After: delta seconds or an HTTP date; -1 when unparseable. */
double qr_vlm_parse_retry_after(const char *v, double now_epoch);

/* ---- protocols (vlm_proto.c) -------------------------------------------------------- */
/* The endpoint URL for path ("chat/completions", "models") from a base_url ending in
 * /v1, /v1/, /chat/completions or a bare host. OUT: out (cap bytes). */
void qr_vlm_url(const char *base_url, const char *path, char *out, size_t cap);
/* The default prompt of a protocol and task, and its id for the report. */
const char *qr_vlm_prompt(const qr_backend_cfg *b, int task, const char **prompt_id);
/* The request body (JSON object) for an image data URI. stricter = the retry after a
 * rejection (tighter n-gram guard for deepseek). */
json_t *qr_vlm_request_body(const qr_backend_cfg *b, int task, const char *data_uri,
                            double temperature, int max_tokens, int stream, int stricter);

/* A parsed answer. */
typedef struct qr_vlm_answer {
    char *content;        /* qr_malloc'd text ("" when none); tool arguments for nemotron-tools */
    char finish_reason[32];
    char model[128];
    char id[80];
    long prompt_tokens, completion_tokens;
    double cost;
    char error[200];      /* an error body (any shape), "" = none */
    int tool_call;        /* the answer was a tool call */
} qr_vlm_answer;
/* Parse a non-streaming body. Returns 0 when it is a completion (error may still be set
 * for a 200 carrying an error), -1 when it is not JSON (error says so). */
int qr_vlm_parse_answer(const char *body, size_t len, qr_vlm_answer *a);
/* The message of an error body (error.message, message, detail, or the text). */
void qr_vlm_error_message(const char *body, size_t len, char *out, size_t cap);
void qr_vlm_answer_free(qr_vlm_answer *a);
/* Strip end-of-sequence tokens (<|im_end|>, <｜end▁of▁sentence｜>, </s>) at the end, in place. */
void qr_vlm_strip_eos(char *s);

/* ---- validation (vlm_check.c) -------------------------------------------------------- */
/* 1 when text ends in a loop (the final n-gram, n = 1..40 characters, repeated back to
 * back more than 30 times after whitespace normalisation, or the same line back to back,
 * or one long line many times); reason written. */
int qr_vlm_is_loop(const char *text, size_t len, char *reason, size_t cap);
/* Full check of an accepted-looking answer. ref_chars: characters the text layer or
 * Tesseract found (0 = unknown). Returns 1 if acceptable, else 0 with reason. */
int qr_vlm_check_text(const char *text, long ref_chars, char *reason, size_t cap);
/* len(text) / len(zlib(text)). */
double qr_vlm_compression_ratio(const char *text, size_t len);

/* ---- client (vlm_client.c) ----------------------------------------------------------- */
typedef struct qr_vlm_client qr_vlm_client;

/* events for --log-format json and progress (may be NULL); called from worker threads. */
typedef void (*qr_vlm_event_fn)(void *user, json_t *event); /* event is borrowed */

typedef struct qr_vlm_client_params {
    const quire_config *cfg;  /* borrowed; must outlive the client */
    const char *cache_dir;    /* NULL = no cache */
    double backoff_base_s;    /* first retry wait (before jitter); default 0.5 */
    double backoff_cap_s;     /* default 30 */
    double retry_after_cap_s; /* longest Retry-After honoured; default 120 */
    int stream;               /* 1 = stream (SSE) and abort loops early; default 1 */
    qr_vlm_event_fn on_event;
    void *event_user;
    /* the same events as JSON text lines (no newline), e.g. for --log-format json */
    void (*log_line)(void *user, const char *json_line);
    void *log_user;
} qr_vlm_client_params;

/* The chain: default first, then fallback_chain. Checks every backend's URL
 * (non-loopback needs allow_remote) and key variable. QUIRE_INVALID_ARG naming the
 * backend; QUIRE_NOT_FOUND if the config has no backend. */
quire_status qr_vlm_client_new(const qr_vlm_client_params *p, qr_vlm_client **out,
                               quire_error *err);
void qr_vlm_client_free(qr_vlm_client *c);
/* GET /v1/models on every backend of the chain. A backend that does not answer, answers
 * 401/403 or does not list its model (when it lists any) is disabled with the reason.
 * Returns QUIRE_IO when none is usable (err names each). */
quire_status qr_vlm_client_probe(qr_vlm_client *c, quire_error *err);
/* Backends of the chain, in order: name, whether usable, why not. */
int qr_vlm_client_n_backends(const qr_vlm_client *c);
const qr_backend_cfg *qr_vlm_client_backend(const qr_vlm_client *c, int i, int *usable,
                                            const char **why);
/* The strictest image limits over the chain: longest side (px) and base64 characters
 * (0 = none). */
void qr_vlm_client_image_limits(const qr_vlm_client *c, int *max_px, long *max_b64);
/* The image format the chain accepts: 1 = JPEG (every backend says image_format = "jpeg";
 * *quality = the lowest jpeg_quality among them), 0 = PNG. */
int qr_vlm_client_image_jpeg(const qr_vlm_client *c, int *quality);

/* One image through the chain. */
typedef struct qr_vlm_result {
    int ok;                  /* 1 = an accepted answer is in text */
    char *text;              /* accepted content (qr_malloc'd) or NULL */
    char backend[QR_NAME_MAX];
    char model[128];
    int protocol;            /* qr_vlm_protocol of the backend that answered */
    char prompt_id[32];
    char image_sha256[65];
    int cached;              /* 1 = served from the cache, nothing requested */
    char reason[200];        /* when !ok: why every backend failed */
    int n_attempts;
    qr_vlm_attempt attempts[QR_VLM_MAX_ATTEMPTS];
} qr_vlm_result;

/* png: the image file (PNG). ref_chars: what the text layer / Tesseract found (for the
 * empty-output check; 0 = unknown). label: for events ("doc.pdf page 3"). */
void qr_vlm_run(qr_vlm_client *c, const unsigned char *png, size_t png_len, int task,
                long ref_chars, const char *label, volatile int *abort_flag,
                qr_vlm_result *out);
/* The same for an image of MIME type mime ("image/png", "image/jpeg"). */
void qr_vlm_run_image(qr_vlm_client *c, const unsigned char *img, size_t img_len,
                      const char *mime, int task, long ref_chars, const char *label,
                      volatile int *abort_flag, qr_vlm_result *out);
void qr_vlm_result_free(qr_vlm_result *r);
/* The result's provenance as JSON (method, backend, model, prompt id, attempts). */
json_t *qr_vlm_result_json(const qr_vlm_result *r);

/* ---- normalisation (vlm_norm.c) ------------------------------------------------------ */
/* The blocks of one page read by a VLM (strings in its own arena). */
typedef struct qr_vlm_page {
    qr_block *blocks;
    int n, cap;
    int failed;       /* the arena ran out: some blocks are missing */
    int img_w, img_h; /* the image sent (for Nemotron's padded frame) */
    qr_arena arena;
} qr_vlm_page;
/* An accepted answer of protocol into blocks for page (1-based) of page_w x page_h
 * points, from an image of img_w x img_h pixels. NULL on OOM. */
qr_vlm_page *qr_vlm_normalise(const char *text, int protocol, int page, float page_w,
                              float page_h, int img_w, int img_h);
void qr_vlm_page_free(qr_vlm_page *pg);

/* snprintf into dst that cuts silently (messages and names are cut to fit). */
void qr_vlm_fmt(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Base64 of n bytes into a qr_malloc'd NUL-terminated string (NULL on OOM). */
char *qr_base64(const unsigned char *d, size_t n, size_t *out_len);

#endif /* QR_VLM_H */
