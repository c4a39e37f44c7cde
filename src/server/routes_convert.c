/*
 * routes_convert.c — POST /v1/convert (docs/serve.md): one document in, Markdown, JSON or
 * plain text out. The body is one of
 *   - the raw PDF/image bytes, named by ?filename= or a Content-Disposition filename;
 *   - multipart/form-data: part "file" (with a filename) and option parts;
 *   - JSON {"path": ...} naming a file under --allow-paths, with option fields.
 * The options (format, pages, ocr, vlm, strategy, report, images) come from the query or
 * the body;
 * the query wins. An unknown JSON field or multipart part is a 400, never ignored. The
 * output names the document as the client did (the upload's file name, the JSON path),
 * never by the temporary copy the converter reads.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_int.h"

enum { OPT_FORMAT, OPT_PAGES, OPT_OCR, OPT_VLM, OPT_REPORT, OPT_IMAGES, OPT_STRATEGY, N_OPT };
static const char *const opt_names[N_OPT] = {"format", "pages", "ocr", "vlm", "report",
                                             "images", "strategy"};
#define KNOWN_JSON "path, format, pages, ocr, vlm, strategy, report, images"
#define KNOWN_PARTS "file, format, pages, ocr, vlm, strategy, report, images"
#define UNNAMED "upload" /* the name of raw bytes sent without a file name */

typedef struct conv_req {
    char body_opt[N_OPT][512]; /* option values from the body */
    int has_body_opt[N_OPT];
    const char *opt[N_OPT];    /* the values in force (query, else body), NULL = absent */
    const char *data;          /* uploaded bytes (raw or multipart), or NULL (a path) */
    size_t data_len;
    char path[PATH_MAX];       /* the file the converter reads */
    int is_tmp;                /* path is our temporary copy of data */
    char name[PATH_MAX];       /* the document's name in the answer */
} conv_req;

/* ---- shared with routes_docs.c ----------------------------------------------------- */

void qr_srv_document_error(reply *r, quire_status st, quire_error *e, const char *tmp_path,
                           const char *shown, int uploaded)
{
    char *at = tmp_path && *tmp_path ? strstr(e->msg, tmp_path) : NULL;
    if (at) { /* the temporary name means nothing to the client */
        char fixed[sizeof e->msg];
        if (snprintf(fixed, sizeof fixed, "%.*s%s%s", (int)(at - e->msg), e->msg, shown,
                     at + strlen(tmp_path)) >= 0)
            memcpy(e->msg, fixed, sizeof e->msg); /* a message cut at 255 bytes is fine */
    }
    if (st == QUIRE_UNSUPPORTED_PASSWORD)
        qr_srv_error(r, 422, "password_protected", "%s (quire opens PDFs that need no user "
                     "password; remove it first, e.g. qpdf --decrypt)", e->msg);
    else if (QUIRE_STATUS_PRIMARY(st) == QUIRE_IO && st != QUIRE_IO_STORE && uploaded)
        qr_srv_error(r, 422, "unprocessable_document", "%s", e->msg);
    else
        qr_srv_error(r, qr_srv_http_status(st), qr_srv_status_code(st), "%s", e->msg);
}

int qr_srv_path_allowed(const quire_server *s, const char *path, char *out, reply *r)
{
    if (!s->allow_dir) {
        qr_srv_error(r, 403, "path_not_allowed",
                     "this server opens no file named by a request (see --allow-paths)");
        return -1;
    }
    size_t n = strlen(s->allow_dir);
    if (!realpath(path, out) || strncmp(out, s->allow_dir, n) != 0 ||
        (out[n] != '/' && s->allow_dir[n - 1] != '/')) {
        qr_srv_error(r, 403, "path_not_allowed",
                     "the path does not exist or is not under the allowed directory");
        return -1;
    }
    return 0;
}

/* Write the body to a private temporary file (mkstemps, mode 0600). */
int qr_srv_body_to_tmp(const char *body, size_t len, const char *suffix, char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!suffix || strlen(suffix) > 16 || strchr(suffix, '/'))
        suffix = "";
    if (snprintf(path, cap, "%s/quire-serve-XXXXXX%s", dir && *dir ? dir : "/tmp", suffix) >=
        (int)cap)
        return -1;
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, body + off, len - off);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

/* ---- the three body shapes --------------------------------------------------------- */

static int opt_index(const char *name)
{
    for (int i = 0; i < N_OPT; i++)
        if (strcmp(name, opt_names[i]) == 0)
            return i;
    return -1;
}

/* The last path component of a client's file name ("C:\\x\\a.pdf" and "d/a.pdf" -> a.pdf);
 * control characters become '_'. "" stays "" (the caller picks a default). */
static void base_name(const char *given, char *out, size_t cap)
{
    const char *b = given;
    for (const char *p = given; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    size_t n = 0;
    for (; *b && n + 1 < cap; b++)
        out[n++] = (unsigned char)*b < 0x20 ? '_' : *b;
    out[n] = '\0';
}

static int from_json(const quire_server *s, const char *body, size_t len, conv_req *c,
                     reply *r)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    json_t *p = json_object_get(root, "path");
    int rc = -1;
    if (!root) {
        qr_srv_error(r, 400, "invalid_json", "the body is not valid JSON: %s (line %d)", je.text,
                     je.line);
        return -1;
    }
    if (!json_is_object(root) || !json_is_string(p)) {
        qr_srv_error(r, 400, "invalid_request", "a JSON body must be {\"path\": \"...\"[, "
                     "\"format\", \"pages\", \"ocr\", ...]}; send the document's bytes otherwise");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int i = opt_index(key);
        if (strcmp(key, "path") == 0)
            continue;
        if (i < 0) {
            qr_srv_error(r, 400, "invalid_request", "unknown field \"%.40s\" (known: "
                         KNOWN_JSON ")", key);
            goto out;
        }
        char *dst = c->body_opt[i];
        size_t cap = sizeof c->body_opt[i];
        if (json_is_string(v) && json_string_length(v) < cap)
            snprintf(dst, cap, "%s", json_string_value(v));
        else if (json_is_integer(v) && (i == OPT_PAGES || i == OPT_REPORT))
            snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v) && i == OPT_REPORT)
            snprintf(dst, cap, "%d", json_is_true(v));
        else if (!json_is_null(v)) {
            qr_srv_error(r, 400, "invalid_request", "\"%s\" must be a string (under %zu bytes)%s",
                         key, cap, i == OPT_PAGES ? " or a page number"
                                   : i == OPT_REPORT ? ", 0/1 or true/false" : "");
            goto out;
        }
        c->has_body_opt[i] = !json_is_null(v);
    }
    if (qr_srv_path_allowed(s, json_string_value(p), c->path, r) != 0)
        goto out;
    snprintf(c->name, sizeof c->name, "%s", json_string_value(p));
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int from_multipart(const char *ctype, const char *body, size_t len, conv_req *c,
                          reply *r)
{
    qr_part parts[N_OPT + 2];
    int n = qr_srv_multipart(ctype, body, len, parts, N_OPT + 2);
    if (n < 0) {
        qr_srv_error(r, 400, "invalid_multipart", "the multipart body does not parse (boundary "
                     "missing or a part not closed)");
        return -1;
    }
    const qr_part *file = NULL;
    for (int k = 0; k < n; k++) {
        const qr_part *p = &parts[k];
        int i = opt_index(p->name);
        if (strcmp(p->name, "file") == 0) {
            file = p;
        } else if (i < 0) {
            qr_srv_error(r, 400, "invalid_multipart", "unknown part \"%.40s\" (known: "
                         KNOWN_PARTS ")", p->name);
            return -1;
        } else if (p->len >= sizeof c->body_opt[i] || memchr(p->data, 0, p->len)) {
            qr_srv_error(r, 400, "invalid_multipart", "part \"%s\" must be text under %zu bytes",
                         p->name, sizeof c->body_opt[i]);
            return -1;
        } else {
            memcpy(c->body_opt[i], p->data, p->len);
            c->body_opt[i][p->len] = '\0';
            c->has_body_opt[i] = 1;
        }
    }
    if (!file || !file->filename[0]) {
        qr_srv_error(r, 400, "missing_file", "no part \"file\" with a filename (curl -F "
                     "file=@doc.pdf)");
        return -1;
    }
    c->data = file->data;
    c->data_len = file->len;
    base_name(file->filename, c->name, sizeof c->name);
    return 0;
}

static int from_raw(const char *body, size_t len, const qr_convert_query *q, conv_req *c,
                    reply *r)
{
    if (len == 0) {
        qr_srv_error(r, 400, "empty_body", "send the PDF or image bytes as the request body");
        return -1;
    }
    char given[256] = "";
    if (q->filename)
        snprintf(given, sizeof given, "%s", q->filename);
    else if (q->disposition)
        qr_srv_header_param(q->disposition, strlen(q->disposition), "filename=", given,
                            sizeof given);
    base_name(given, c->name, sizeof c->name);
    if (!c->name[0])
        snprintf(c->name, sizeof c->name, UNNAMED);
    c->data = body;
    c->data_len = len;
    return 0;
}

/* ---- options ------------------------------------------------------------------------ */

static int parse_format(const char *format, reply *r)
{
    if (!format || strcmp(format, "md") == 0 || strcmp(format, "markdown") == 0)
        return QUIRE_FORMAT_MD;
    if (strcmp(format, "json") == 0)
        return QUIRE_FORMAT_JSON;
    if (strcmp(format, "txt") == 0 || strcmp(format, "text") == 0)
        return QUIRE_FORMAT_TXT;
    qr_srv_error(r, 400, "invalid_format", "format must be md, json or txt (got '%.40s')",
                 format);
    return -1;
}

/* enum quire_vlm_mode of a request's "vlm"; -1 (400 sent) if bad. */
static int parse_vlm(const char *v, int dflt, reply *r)
{
    static const char *const names[] = {"never", "auto", "always", "tables", "formulas"};
    if (!v || !*v)
        return dflt;
    for (int i = 0; i < 5; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    qr_srv_error(r, 400, "invalid_vlm", "vlm must be never, auto, always, tables or formulas "
                 "(got '%.40s')", v);
    return -1;
}

static int parse_ocr(const char *v, reply *r)
{
    if (!v || strcmp(v, "auto") == 0)
        return QUIRE_OCR_AUTO;
    if (strcmp(v, "always") == 0)
        return QUIRE_OCR_ALWAYS;
    if (strcmp(v, "never") == 0)
        return QUIRE_OCR_NEVER;
    qr_srv_error(r, 400, "invalid_ocr", "ocr must be auto, always or never (got '%.40s')", v);
    return -1;
}

/* enum quire_strategy of a request's "strategy" (the names of quire convert --strategy);
 * -1 (400 sent) if bad. */
static int parse_strategy(const char *v, reply *r)
{
    static const char *const names[] = {"auto", "fast", "ocr_only", "hi_res"};
    if (!v)
        return QUIRE_STRATEGY_AUTO;
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    qr_srv_error(r, 400, "invalid_strategy", "strategy must be fast, ocr_only, hi_res or auto "
                 "(got '%.40s')", v);
    return -1;
}

/* The options in force into cp and *report; -1 with a 400 in r. */
static int parse_options(const quire_server *s, conv_req *c, const qr_convert_query *q,
                         quire_convert_params *cp, int *report, reply *r)
{
    const char *query[N_OPT] = {q->format, q->pages, q->ocr,   q->vlm,
                                q->report, q->images, q->strategy};
    for (int i = 0; i < N_OPT; i++)
        c->opt[i] = query[i] ? query[i] : c->has_body_opt[i] ? c->body_opt[i] : NULL;
    const char *rep = c->opt[OPT_REPORT], *images = c->opt[OPT_IMAGES];
    *report = rep && (strcmp(rep, "1") == 0 || strcmp(rep, "true") == 0);
    if (rep && !*report && strcmp(rep, "0") != 0 && strcmp(rep, "false") != 0) {
        qr_srv_error(r, 400, "invalid_request", "report must be 0 or 1");
        return -1;
    }
    /* figures: no PNG files on the server's disk; embedded into the answer on request */
    int embed = images && strcmp(images, "embed") == 0;
    if (images && !embed && strcmp(images, "none") != 0) {
        qr_srv_error(r, 400, "invalid_images",
                     "images must be none or embed (the server writes no files)");
        return -1;
    }
    if ((cp->format = parse_format(c->opt[OPT_FORMAT], r)) < 0 ||
        (cp->vlm = parse_vlm(c->opt[OPT_VLM], s->p.vlm, r)) < 0 ||
        (cp->ocr = parse_ocr(c->opt[OPT_OCR], r)) < 0 ||
        (cp->strategy = parse_strategy(c->opt[OPT_STRATEGY], r)) < 0)
        return -1;
    /* fast and ocr_only read no page with a VLM: the server's --vlm default gives way to
     * them (a vlm the request names itself still contradicts them: 400) */
    if ((cp->strategy == QUIRE_STRATEGY_FAST || cp->strategy == QUIRE_STRATEGY_OCR_ONLY) &&
        !c->opt[OPT_VLM])
        cp->vlm = QUIRE_VLM_NEVER;
    const char *pages = c->opt[OPT_PAGES];
    if (pages && !*pages) {
        qr_srv_error(r, 400, "invalid_pages", "pages is empty (a page list like 1-3,7,10-)");
        return -1;
    }
    cp->pages = pages;
    cp->images = embed ? QUIRE_IMAGES_EMBED : QUIRE_IMAGES_NONE;
    cp->name = c->name;
    return 0;
}

/* ---- the answer --------------------------------------------------------------------- */

/* report=1: {"document", "output": the document, "n_pages", "n_failed", "pages": [{"page",
 * "method", "status", "reason", "ms", "chars", "conf", "error", "vlm": provenance}]} (the
 * pages of `quire convert --report`). */
static json_t *convert_report(const char *name, const quire_convert_result *res)
{
    static const char *const methods[] = {"text", "ocr", "failed", "vlm"};
    json_t *o = json_object(), *pages = json_array();
    json_object_set_new(o, "document", json_string(name));
    json_object_set_new(o, "output", json_stringn(res->output, res->output_len));
    json_object_set_new(o, "n_pages", json_integer(res->n_pages));
    json_object_set_new(o, "n_failed", json_integer(res->n_failed));
    for (int i = 0; i < res->n_reports; i++) {
        const quire_page_report *p = &res->reports[i];
        json_error_t je;
        json_t *v = res->page_vlm && res->page_vlm[i] ? json_loads(res->page_vlm[i], 0, &je)
                                                      : NULL;
        const char *outcome = json_string_value(json_object_get(v, "outcome"));
        int fell_back = outcome && strcmp(outcome, "fallback") == 0;
        json_t *pj = json_object();
        json_object_set_new(pj, "page", json_integer(p->page));
        json_object_set_new(pj, "method", json_string(methods[p->method % 4]));
        json_object_set_new(pj, "status", json_string(p->method == QUIRE_METHOD_FAILED ? "failed"
                                                      : fell_back ? "fallback" : "ok"));
        json_object_set_new(pj, "reason", json_string(p->reason));
        json_object_set_new(pj, "ms", json_real(p->ms));
        json_object_set_new(pj, "chars", json_integer(p->chars));
        json_object_set_new(pj, "conf", p->conf >= 0 ? json_real(p->conf) : json_null());
        json_object_set_new(pj, "error", p->error[0] ? json_string(p->error) : json_null());
        if (v)
            json_object_set_new(pj, "vlm", v);
        json_array_append_new(pages, pj);
    }
    json_object_set_new(o, "pages", pages);
    return o;
}

/* The page's provenance says its VLM answer was rejected (top-level outcome "fallback"). */
static int page_fell_back(const char *vlm)
{
    json_error_t je;
    json_t *v = json_loads(vlm, 0, &je);
    const char *o = json_string_value(json_object_get(v, "outcome"));
    int fb = o && !strcmp(o, "fallback");
    json_decref(v);
    return fb;
}

static void answer(const char *name, const quire_convert_result *res, int fmt, int report,
                   reply *r)
{
    r->status = 200;
    r->content_type = fmt == QUIRE_FORMAT_JSON ? "application/json"
                      : fmt == QUIRE_FORMAT_MD ? "text/markdown; charset=utf-8"
                                               : "text/plain; charset=utf-8";
    r->failed_pages = res->n_failed;
    for (int i = 0; res->page_vlm && i < res->n_reports; i++) {
        if (res->page_vlm[i] && strstr(res->page_vlm[i], "\"regions\"")) {
            /* --vlm tables / formulas: regions, counted apart */
            json_error_t je;
            json_t *v = json_loads(res->page_vlm[i], 0, &je);
            r->vlm_regions += (int)json_integer_value(json_object_get(v, "n_ok"));
            r->vlm_fallback_regions += (int)json_integer_value(json_object_get(v, "n_fallback"));
            json_decref(v);
            continue;
        }
        if (res->reports[i].method == QUIRE_METHOD_VLM)
            r->vlm_pages++;
        else if (res->page_vlm[i] && page_fell_back(res->page_vlm[i]))
            r->vlm_fallback_pages++;
    }
    if (!report) {
        qr_buf_append(&r->body, res->output, res->output_len);
        return;
    }
    json_t *j = convert_report(name, res);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) {
        qr_buf_free(&r->body);
        qr_srv_error(r, 500, "out_of_memory", "out of memory writing the report");
        return;
    }
    r->content_type = "application/json";
    qr_buf_append(&r->body, txt, strlen(txt));
    free(txt); /* lint-allow: free (jansson) */
}

void qr_route_convert(quire_server *s, const char *body, size_t len, const qr_convert_query *q,
                      reply *r)
{
    if (!s->conv) {
        qr_srv_error(r, 501, "not_supported",
                     "this server has no converter (quire was built without conversion)");
        return;
    }
    conv_req *c = qr_calloc(1, sizeof *c);
    if (!c) {
        qr_srv_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    const char *ct = q->content_type;
    int rc = ct && strncmp(ct, "application/json", 16) == 0 ? from_json(s, body, len, c, r)
             : ct && strncmp(ct, "multipart/form-data", 19) == 0
                 ? from_multipart(ct, body, len, c, r)
                 : from_raw(body, len, q, c, r);
    quire_convert_params cp = quire_convert_default_params();
    int report = 0;
    if (rc == 0)
        rc = parse_options(s, c, q, &cp, &report, r);
    if (rc == 0 && c->data) {
        if (qr_srv_body_to_tmp(c->data, c->data_len, NULL, c->path, sizeof c->path) != 0) {
            qr_srv_error(r, 500, "io_error", "cannot write a temporary file");
            rc = -1;
        } else {
            c->is_tmp = 1;
        }
    }
    if (rc != 0) {
        qr_free(c);
        return;
    }
    quire_convert_result *res = NULL;
    quire_error e = {0, ""};
    quire_status st = quire_convert_file(s->conv, c->path, &cp, &res, &e);
    if (c->is_tmp)
        unlink(c->path);
    if (res)
        answer(c->name, res, cp.format, report, r);
    else
        qr_srv_document_error(r, st, &e, c->path, c->name, c->is_tmp);
    quire_convert_result_free(res);
    qr_free(c);
}
