/*
 * vlm_proto.c — what each protocol sends and how answers of every server shape are read.
 *
 *   generic          instruction prompt (text part first, as OpenRouter asks), then the
 *                    image; temperature always sent (Ollama's default would be 1.0).
 *   deepseek         DeepSeek-OCR's plain prompts ("<|grounding|>Convert the document to
 *                    markdown."), image part first as vLLM's recipe does,
 *                    skip_special_tokens:false (the grounding tags are special tokens) and
 *                    vllm_xargs {ngram_size 30, window_size 90, whitelist <td> </td>}: the
 *                    n-gram guard of NGramPerReqLogitsProcessor, which runs only when the
 *                    request carries ngram_size. The retry after a rejection uses 20/50.
 *   nemotron-tools   Nemotron Parse tool mode (NVIDIA API, NIM <= 1.5): the image is the
 *                    only content; tools = [markdown_bbox]; the answer is a tool call
 *                    whose arguments are a JSON string.
 *   nemotron-tokens  Nemotron Parse on vLLM / NIM 1.7: control-token prompt
 *                    "</s><s><predict_bbox><predict_classes><output_markdown>", top_k 1,
 *                    repetition_penalty 1.1, skip_special_tokens false.
 * extra_body is merged last, so a user can override any field.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlm.h"

void qr_vlm_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

void qr_vlm_url(const char *base, const char *path, char *out, size_t cap)
{
    char b[600];
    qr_vlm_fmt(b, sizeof(b), "%s", base);
    size_t n = strlen(b);
    while (n && b[n - 1] == '/')
        b[--n] = '\0';
    const char *cc = "/chat/completions";
    size_t ccl = strlen(cc);
    if (n >= ccl && strcmp(b + n - ccl, cc) == 0) {
        b[n - ccl] = '\0';
        n -= ccl;
    }
    /* a bare host (no path) gets /v1; an explicit path (/v1, /api/v1, /) is kept */
    const char *scheme = strstr(b, "://");
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    qr_vlm_fmt(out, cap, "%s%s/%s", b, slash ? "" : "/v1", path);
}

static const char *GENERIC_PAGE =
    "Convert this document page to Markdown. Keep the reading order; headings as #, ##, ###; "
    "tables as HTML <table>; display formulas as \\[ ... \\] in LaTeX. Leave out running "
    "headers, footers and page numbers. Output only the page's content, nothing else.";
static const char *GENERIC_TABLE =
    "Convert this table to one HTML <table> (<tr>, <th>, <td>, with colspan/rowspan where "
    "cells span). Output only the table.";
static const char *GENERIC_FORMULA =
    "Write this formula in LaTeX between \\[ and \\]. Output only the formula.";
static const char *NEMOTRON_TOKENS = "</s><s><predict_bbox><predict_classes><output_markdown>";

const char *qr_vlm_prompt(const qr_backend_cfg *b, int task, const char **id)
{
    const char *dummy;
    if (!id)
        id = &dummy;
    if (b->prompt[0] && task == QR_VLM_PAGE) {
        *id = "config";
        return b->prompt;
    }
    switch (b->protocol) {
    case QR_PROTO_DEEPSEEK:
        if (task == QR_VLM_PAGE) {
            *id = "deepseek-markdown";
            return "<|grounding|>Convert the document to markdown.";
        }
        *id = task == QR_VLM_TABLE ? "deepseek-ocr" : "deepseek-free";
        return task == QR_VLM_TABLE ? "<|grounding|>OCR this image." : "Free OCR.";
    case QR_PROTO_NEMOTRON_TOOLS:
        *id = "nemotron-markdown_bbox";
        return "";
    case QR_PROTO_NEMOTRON_TOKENS:
        *id = "nemotron-tokens";
        return NEMOTRON_TOKENS;
    default:
        *id = task == QR_VLM_PAGE ? "generic-page" : task == QR_VLM_TABLE ? "generic-table"
                                                                          : "generic-formula";
        return task == QR_VLM_PAGE ? GENERIC_PAGE : task == QR_VLM_TABLE ? GENERIC_TABLE
                                                                         : GENERIC_FORMULA;
    }
}

static json_t *image_part(const char *uri)
{
    return json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", uri);
}

json_t *qr_vlm_request_body(const qr_backend_cfg *b, int task, const char *uri,
                            double temperature, int max_tokens, int stream, int stricter)
{
    const char *prompt = qr_vlm_prompt(b, task, NULL);
    json_t *content = json_array();
    json_t *body = json_object();
    if (!content || !body) {
        json_decref(content);
        json_decref(body);
        return NULL;
    }
    switch (b->protocol) {
    case QR_PROTO_DEEPSEEK:
    case QR_PROTO_NEMOTRON_TOKENS:
        json_array_append_new(content, image_part(uri));
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", prompt));
        break;
    case QR_PROTO_NEMOTRON_TOOLS:
        json_array_append_new(content, image_part(uri)); /* text input gives 400 */
        break;
    default:
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", prompt));
        json_array_append_new(content, image_part(uri));
        break;
    }
    json_object_set_new(body, "model", json_string(b->model));
    json_object_set_new(body, "messages",
                        json_pack("[{s:s, s:o}]", "role", "user", "content", content));
    json_object_set_new(body, "temperature", json_real(temperature));
    json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    if (stream) {
        json_object_set_new(body, "stream", json_true());
        json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
    } else {
        json_object_set_new(body, "stream", json_false());
    }
    switch (b->protocol) {
    case QR_PROTO_DEEPSEEK:
        json_object_set_new(body, "skip_special_tokens", json_false());
        json_object_set_new(body, "vllm_xargs",
                            json_pack("{s:i, s:i, s:[i,i]}", "ngram_size", stricter ? 20 : 30,
                                      "window_size", stricter ? 50 : 90, "whitelist_token_ids",
                                      128821, 128822));
        break;
    case QR_PROTO_NEMOTRON_TOOLS:
        json_object_set_new(body, "tools",
                            json_pack("[{s:s, s:{s:s}}]", "type", "function", "function", "name",
                                      "markdown_bbox"));
        json_object_set_new(body, "tool_choice",
                            json_pack("{s:s, s:{s:s}}", "type", "function", "function", "name",
                                      "markdown_bbox"));
        break;
    case QR_PROTO_NEMOTRON_TOKENS:
        json_object_set_new(body, "top_k", json_integer(1));
        json_object_set_new(body, "repetition_penalty", json_real(stricter ? 1.2 : 1.1));
        json_object_set_new(body, "skip_special_tokens", json_false());
        break;
    default:
        break;
    }
    if (b->extra_body && json_is_object(b->extra_body))
        json_object_update(body, b->extra_body);
    return body;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    qr_vlm_fmt(dst, cap, "%s", src ? src : "");
}

/* One line of printable text from s (control characters as spaces), at most cap-1. */
static void one_line(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    while (n && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        n--;
    }
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    while (k && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

static int error_of(json_t *j, char *out, size_t cap)
{
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e)) {
        copy_str(out, cap, json_string_value(e));
        return 1;
    }
    if (json_is_object(e)) {
        const char *m = json_string_value(json_object_get(e, "message"));
        json_t *code = json_object_get(e, "code");
        if (json_is_integer(code))
            qr_vlm_fmt(out, cap, "%s (code %lld)", m ? m : "error", (long long)json_integer_value(code));
        else if (json_is_string(code))
            qr_vlm_fmt(out, cap, "%s (%s)", m ? m : "error", json_string_value(code));
        else
            copy_str(out, cap, m ? m : "error");
        return 1;
    }
    const char *obj = json_string_value(json_object_get(j, "object"));
    if (obj && strcmp(obj, "error") == 0) {
        copy_str(out, cap, json_string_value(json_object_get(j, "message")));
        if (!out[0])
            copy_str(out, cap, "error");
        return 1;
    }
    json_t *d = json_object_get(j, "detail"); /* FastAPI (mlx-vlm) */
    if (d) {
        if (json_is_string(d)) {
            copy_str(out, cap, json_string_value(d));
        } else {
            char *s = json_dumps(d, JSON_COMPACT);
            copy_str(out, cap, s ? s : "error");
            free(s); /* lint-allow: free (jansson) */
        }
        return 1;
    }
    return 0;
}

void qr_vlm_error_message(const char *body, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    if (!body || !len) {
        copy_str(out, cap, "empty body");
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (json_is_object(j)) {
        if (!error_of(j, out, cap)) {
            const char *m = json_string_value(json_object_get(j, "message"));
            if (m)
                copy_str(out, cap, m);
        }
    }
    json_decref(j);
    if (!out[0])
        one_line(out, cap, body, len);
}

int qr_vlm_parse_answer(const char *body, size_t len, qr_vlm_answer *a)
{
    memset(a, 0, sizeof(*a));
    json_error_t je;
    json_t *j = body ? json_loadb(body, len, 0, &je) : NULL;
    if (!json_is_object(j)) {
        char t[120];
        one_line(t, sizeof(t), body ? body : "", body ? len : 0);
        qr_vlm_fmt(a->error, sizeof(a->error), "answer is not JSON: %s", t[0] ? t : "(empty)");
        json_decref(j);
        return -1;
    }
    error_of(j, a->error, sizeof(a->error));
    copy_str(a->model, sizeof(a->model), json_string_value(json_object_get(j, "model")));
    copy_str(a->id, sizeof(a->id), json_string_value(json_object_get(j, "id")));
    json_t *usage = json_object_get(j, "usage");
    a->prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    a->completion_tokens = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    if (json_is_number(json_object_get(usage, "cost")))
        a->cost = json_number_value(json_object_get(usage, "cost"));
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    json_t *msg = json_object_get(ch, "message");
    copy_str(a->finish_reason, sizeof(a->finish_reason),
             json_string_value(json_object_get(ch, "finish_reason")));
    qr_buf b;
    qr_buf_init(&b, 0);
    json_t *c = json_object_get(msg, "content");
    if (json_is_string(c)) {
        qr_buf_append(&b, json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) { /* a list of parts */
        size_t i;
        json_t *part;
        json_array_foreach(c, i, part)
        {
            json_t *t = json_object_get(part, "text");
            if (json_is_string(t))
                qr_buf_append(&b, json_string_value(t), json_string_length(t));
        }
    }
    if (b.len == 0) {
        json_t *tc = json_array_get(json_object_get(msg, "tool_calls"), 0);
        json_t *args = json_object_get(json_object_get(tc, "function"), "arguments");
        if (json_is_string(args)) {
            qr_buf_append(&b, json_string_value(args), json_string_length(args));
            a->tool_call = 1;
        } else if (args) { /* some servers send the arguments as JSON, not a string */
            char *s = json_dumps(args, JSON_COMPACT);
            if (s)
                qr_buf_append(&b, s, strlen(s));
            free(s); /* lint-allow: free (jansson) */
            a->tool_call = 1;
        }
    }
    qr_buf_putc(&b, '\0');
    json_decref(j);
    if (b.failed) {
        qr_buf_free(&b);
        copy_str(a->error, sizeof(a->error), "out of memory reading the answer");
        return -1;
    }
    a->content = b.data;
    if (!ch && !a->error[0])
        copy_str(a->error, sizeof(a->error), "answer has no choices");
    return 0;
}

void qr_vlm_answer_free(qr_vlm_answer *a)
{
    if (a) {
        qr_free(a->content);
        a->content = NULL;
    }
}

void qr_vlm_strip_eos(char *s)
{
    static const char *eos[] = {"<|im_end|>", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>",
                                "</s>", "<|end_of_text|>", "<|endoftext|>"};
    size_t n = strlen(s);
    for (int again = 1; again;) {
        again = 0;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
            s[--n] = '\0';
        for (size_t i = 0; i < QR_ARRAY_LEN(eos); i++) {
            size_t k = strlen(eos[i]);
            if (n >= k && memcmp(s + n - k, eos[i], k) == 0) {
                n -= k;
                s[n] = '\0';
                again = 1;
            }
        }
    }
}

char *qr_base64(const unsigned char *d, size_t n, size_t *out_len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t m = (n + 2) / 3 * 4;
    char *o = qr_malloc(m + 1);
    if (!o)
        return NULL;
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        o[k++] = tab[v >> 18];
        o[k++] = tab[(v >> 12) & 63];
        o[k++] = tab[(v >> 6) & 63];
        o[k++] = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        o[k++] = tab[v >> 18];
        o[k++] = tab[(v >> 12) & 63];
        o[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[k++] = '=';
    }
    o[k] = '\0';
    if (out_len)
        *out_len = k;
    return o;
}
