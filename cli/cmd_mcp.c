/*
 * cmd_mcp.c — `quire mcp`: a Model Context Protocol server over stdio for agents.
 *
 * Transport: JSON-RPC 2.0, one message per line on stdin/stdout (MCP's stdio transport);
 * nothing else is ever written to stdout (logs go to stderr). Methods: initialize,
 * notifications/initialized, ping, tools/list, tools/call. Tools: search (cited hits),
 * ingest, convert, collections, documents. Protocol errors (unknown method, bad
 * arguments, unknown tool) are JSON-RPC errors; a tool that runs and fails (a file that
 * cannot be opened, an unknown collection) is a result with isError: true, as the
 * specification asks, so the agent sees the message. Requests are served one at a time.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"

#define MCP_MAX_LINE (16u << 20) /* longest request line we read */
#define MCP_MAX_OUTPUT (1u << 20) /* convert: longest text returned before truncation */

enum { RPC_PARSE = -32700, RPC_INVALID = -32600, RPC_METHOD = -32601, RPC_PARAMS = -32602 };

/* Protocol revisions this server speaks, newest first (tools only: the same for all). */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

typedef struct mcp {
    const char *db, *model_dir, *lang;
    quire_store *st;
    quire_model *model;
    quire_embedder *emb;
    quire_converter *conv;
} mcp;

static const cli_opt opts[] = {
    {"db", 0, 1, "PATH", "the store file (created when missing; or QUIRE_DB)"},
    {"model", 'm', 1, "DIR", "embedding model for vector/hybrid search and ingest (or QUIRE_MODEL)"},
    {"lang", 0, 1, "LANGS", "Tesseract languages for OCR in convert/ingest (default eng)"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out, "usage: quire mcp --db PATH [--model DIR]\n\n"
                 "Serve a store to an agent over the Model Context Protocol (JSON-RPC 2.0 on\n"
                 "stdin/stdout, one message per line). Tools: search (cited hits), ingest,\n"
                 "convert, collections, documents.\n\noptions:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexample (an MCP client's server entry):\n"
                 "  {\"command\": \"quire\", \"args\": [\"mcp\", \"--db\", \"papers.db\", "
                 "\"--model\", \"all-MiniLM-L6-v2\"]}\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    mcp *m = user;
    const char *n = opts[idx].name;
    if (strcmp(n, "db") == 0)
        m->db = val;
    else if (strcmp(n, "model") == 0)
        m->model_dir = val;
    else if (strcmp(n, "lang") == 0)
        m->lang = val;
    return 0;
}

/* ---- output ----------------------------------------------------------------------- */

static void send_msg(json_t *msg)
{
    if (!msg)
        return;
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s)
        return;
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s); /* lint-allow: free (json_dumps) */
}

static json_t *reply(json_t *id, json_t *result)
{
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *rpc_error(json_t *id, int code, const char *msg)
{
    json_t *null_id = json_null();
    json_t *e = json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : null_id,
                          "error", "code", code, "message", msg);
    json_decref(null_id);
    return e;
}

/* A tool result: one text part, optional structured content, isError. */
static json_t *tool_result(const char *text, json_t *structured, int is_error)
{
    json_t *r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text",
                          text ? text : "", "isError", is_error);
    if (r && structured)
        json_object_set_new(r, "structuredContent", structured);
    else
        json_decref(structured);
    return r;
}

static json_t *tool_error(const char *what, const quire_error *err)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, err->msg[0] ? err->msg : "failed");
    return tool_result(msg, NULL, 1);
}

/* ---- argument checks (each failure is a JSON-RPC -32602 naming the field) ----------- */

typedef struct argerr {
    char msg[200];
} argerr;

static int arg_str(json_t *args, const char *key, int required, const char **out, argerr *e)
{
    json_t *v = json_object_get(args, key);
    *out = NULL;
    if (!v) {
        if (required)
            snprintf(e->msg, sizeof e->msg, "missing required argument '%s'", key);
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || (required && json_string_length(v) == 0)) {
        snprintf(e->msg, sizeof e->msg, "argument '%s' must be a%s string", key,
                 required ? " non-empty" : "");
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int arg_int(json_t *args, const char *key, long lo, long hi, long *out, argerr *e)
{
    json_t *v = json_object_get(args, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(e->msg, sizeof e->msg, "argument '%s' must be an integer in %ld..%ld", key,
                 lo, hi);
        return -1;
    }
    *out = (long)json_integer_value(v);
    return 0;
}

/* Unknown keys are refused, so a misspelt argument is not silently ignored. */
static int arg_known(json_t *args, const char *const *keys, argerr *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        int ok = 0;
        for (int i = 0; keys[i]; i++)
            ok |= strcmp(keys[i], k) == 0;
        if (!ok) {
            snprintf(e->msg, sizeof e->msg, "unknown argument '%s'", k);
            return -1;
        }
    }
    return 0;
}

/* ---- tools ------------------------------------------------------------------------ */

static int ensure_converter(mcp *m, quire_error *err)
{
    if (m->conv)
        return 0;
    quire_converter_params cp = quire_converter_default_params();
    cp.lang = m->lang;
    return quire_converter_new(&cp, &m->conv, err) == QUIRE_OK ? 0 : -1;
}

static json_t *tool_search(mcp *m, json_t *args, argerr *e)
{
    static const char *const keys[] = {"query", "collection", "k", "mode", "where", NULL};
    const char *query, *coll, *mode_s, *glob = NULL;
    long k = 10;
    if (arg_known(args, keys, e) || arg_str(args, "query", 1, &query, e) ||
        arg_str(args, "collection", 0, &coll, e) || arg_int(args, "k", 1, 100, &k, e) ||
        arg_str(args, "mode", 0, &mode_s, e))
        return NULL;
    /* where: {"path": GLOB} globs over document keys; every other condition is a metadata
       filter in the language of quire search --where (Chroma-style) */
    json_t *where = json_object_get(args, "where");
    char *filter = NULL;
    if (where) {
        if (!json_is_object(where)) {
            snprintf(e->msg, sizeof e->msg,
                     "argument 'where' must be an object: {\"path\": GLOB} and/or metadata "
                     "conditions such as {\"year\": {\"$gte\": 2020}}");
            return NULL;
        }
        json_t *p = json_object_get(where, "path");
        json_t *rest = json_copy(where);
        if (!rest) {
            snprintf(e->msg, sizeof e->msg, "out of memory");
            return NULL;
        }
        if (json_is_string(p)) {
            glob = json_string_value(p);
            json_object_del(rest, "path");
        }
        if (json_object_size(rest))
            filter = json_dumps(rest, JSON_COMPACT);
        json_decref(rest);
    }
    int mode = m->emb ? QUIRE_SEARCH_HYBRID : QUIRE_SEARCH_TEXT;
    if (mode_s) {
        if (strcmp(mode_s, "hybrid") == 0)
            mode = QUIRE_SEARCH_HYBRID;
        else if (strcmp(mode_s, "vector") == 0)
            mode = QUIRE_SEARCH_VECTOR;
        else if (strcmp(mode_s, "text") == 0)
            mode = QUIRE_SEARCH_TEXT;
        else {
            snprintf(e->msg, sizeof e->msg, "argument 'mode' must be hybrid, vector or text");
            return NULL;
        }
    }
    quire_error err = {0, ""};
    quire_collection_info ci;
    if (quire_store_collection(m->st, coll ? coll : "default", &ci, &err) != QUIRE_OK) {
        free(filter); /* lint-allow: free (json_dumps) */
        return tool_error("search", &err);
    }
    if (!ci.dims || !m->emb)
        mode = QUIRE_SEARCH_TEXT; /* said in the result below */
    quire_search_params sp = quire_search_default_params();
    sp.collection = coll;
    sp.k = (int)k;
    sp.mode = mode;
    sp.path_glob = glob;
    sp.where = filter;
    sp.embedder = mode == QUIRE_SEARCH_TEXT ? NULL : m->emb;
    quire_hits *hits = NULL;
    quire_status rc = quire_search(m->st, query, &sp, &hits, &err);
    int filtered = filter != NULL;
    free(filter); /* lint-allow: free (json_dumps) */
    if (rc == QUIRE_INVALID_ARG && filtered && strncmp(err.msg, "where:", 6) == 0) {
        /* a filter the language refuses is a bad argument, like a bad k */
        snprintf(e->msg, sizeof e->msg, "argument 'where': %s", err.msg + 6 + (err.msg[6] == ' '));
        return NULL;
    }
    if (rc != QUIRE_OK)
        return tool_error("search", &err);
    static const char *const names[] = {"hybrid", "vector", "text"};
    json_t *arr = json_array();
    qr_buf text;
    qr_buf_init(&text, MCP_MAX_OUTPUT);
    const char *used = names[hits->mode >= 0 && hits->mode <= 2 ? hits->mode : 2];
    qr_buf_printf(&text, "%d hits (%s search)%s%s\n", hits->n, used, hits->note[0] ? ": " : "",
                  hits->note);
    for (int i = 0; i < hits->n; i++) {
        const quire_hit *h = &hits->hits[i];
        json_array_append_new(arr,
                              cli_hit_json(h, i + 1, hits->mode, QUIRE_TEXT_RANK_PHRASE));
        qr_buf_printf(&text, "\n[%d] %s, p. %d", i + 1, h->document, h->page_start);
        if (h->page_end != h->page_start)
            qr_buf_printf(&text, "-%d", h->page_end);
        if (h->heading[0])
            qr_buf_printf(&text, " (%s)", h->heading);
        qr_buf_printf(&text, "\n%s\n", h->snippet);
    }
    json_t *sc = json_pack("{s:o,s:s,s:s}", "hits", arr, "mode", used, "note", hits->note);
    quire_hits_free(hits);
    json_t *r = tool_result(text.failed ? "out of memory" : text.data, sc, text.failed);
    qr_buf_free(&text);
    return r;
}

static json_t *tool_ingest(mcp *m, json_t *args, argerr *e)
{
    static const char *const keys[] = {"paths", "collection", "force", NULL};
    const char *coll;
    json_t *paths = json_object_get(args, "paths");
    if (arg_known(args, keys, e) || arg_str(args, "collection", 0, &coll, e))
        return NULL;
    if (!json_is_array(paths) || json_array_size(paths) == 0) {
        snprintf(e->msg, sizeof e->msg, "argument 'paths' must be a non-empty array of strings");
        return NULL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) {
        if (!json_is_string(p)) {
            snprintf(e->msg, sizeof e->msg, "argument 'paths[%zu]' must be a string", i);
            return NULL;
        }
    }
    json_t *force = json_object_get(args, "force");
    if (force && !json_is_boolean(force)) {
        snprintf(e->msg, sizeof e->msg, "argument 'force' must be a boolean");
        return NULL;
    }
    quire_error err = {0, ""};
    if (ensure_converter(m, &err) != 0)
        return tool_error("ingest", &err);
    quire_ingest_params ip = quire_ingest_default_params();
    ip.collection = coll;
    ip.embedder = m->emb;
    ip.converter = m->conv;
    ip.force = json_is_true(force);
    static const char *const outcome[] = {"added", "updated", "unchanged"};
    json_t *files = json_array();
    qr_buf text;
    qr_buf_init(&text, MCP_MAX_OUTPUT);
    int failed = 0;
    json_array_foreach(paths, i, p) {
        const char *path = json_string_value(p);
        quire_ingest_result r;
        memset(&r, 0, sizeof r);
        err.msg[0] = 0;
        if (quire_ingest_file(m->st, path, &ip, &r, &err) != QUIRE_OK) {
            failed++;
            json_array_append_new(files, json_pack("{s:s,s:s}", "path", path, "error", err.msg));
            qr_buf_printf(&text, "%s: failed: %s\n", path, err.msg);
            continue;
        }
        const char *o = r.outcome >= 0 && r.outcome <= 2 ? outcome[r.outcome] : "?";
        json_array_append_new(files, json_pack("{s:s,s:s,s:i,s:i,s:i}", "path", path, "outcome", o,
                                               "pages", r.pages, "failed_pages", r.failed_pages,
                                               "chunks", r.chunks));
        qr_buf_printf(&text, "%s: %s, %d pages, %d chunks\n", path, o, r.pages, r.chunks);
    }
    quire_store_flush(m->st, NULL);
    json_t *res = tool_result(text.failed ? "out of memory" : text.data,
                              json_pack("{s:o,s:i}", "files", files, "failed", failed),
                              failed > 0 || text.failed);
    qr_buf_free(&text);
    return res;
}

static json_t *tool_convert(mcp *m, json_t *args, argerr *e)
{
    static const char *const keys[] = {"path", "format", "pages", "ocr", NULL};
    const char *path, *fmt, *pages, *ocr;
    if (arg_known(args, keys, e) || arg_str(args, "path", 1, &path, e) ||
        arg_str(args, "format", 0, &fmt, e) || arg_str(args, "pages", 0, &pages, e) ||
        arg_str(args, "ocr", 0, &ocr, e))
        return NULL;
    quire_convert_params p = quire_convert_default_params();
    if (fmt && strcmp(fmt, "md") != 0) {
        if (strcmp(fmt, "json") == 0)
            p.format = QUIRE_FORMAT_JSON;
        else if (strcmp(fmt, "txt") == 0)
            p.format = QUIRE_FORMAT_TXT;
        else {
            snprintf(e->msg, sizeof e->msg, "argument 'format' must be md, json or txt");
            return NULL;
        }
    }
    if (ocr && strcmp(ocr, "auto") != 0) {
        if (strcmp(ocr, "always") == 0)
            p.ocr = QUIRE_OCR_ALWAYS;
        else if (strcmp(ocr, "never") == 0)
            p.ocr = QUIRE_OCR_NEVER;
        else {
            snprintf(e->msg, sizeof e->msg, "argument 'ocr' must be auto, always or never");
            return NULL;
        }
    }
    p.pages = pages;
    quire_error err = {0, ""};
    if (ensure_converter(m, &err) != 0)
        return tool_error("convert", &err);
    quire_convert_result *res = NULL;
    quire_status st = quire_convert_file(m->conv, path, &p, &res, &err);
    if (!res)
        return tool_error("convert", &err);
    size_t len = res->output_len;
    int truncated = len > MCP_MAX_OUTPUT;
    if (truncated) {
        len = MCP_MAX_OUTPUT;
        while (len > 0 && ((unsigned char)res->output[len] & 0xC0) == 0x80)
            len--; /* cut on a character boundary */
    }
    json_t *r = json_pack("{s:[{s:s,s:s%}],s:b,s:{s:i,s:i,s:b}}", "content", "type", "text", "text",
                          res->output, len, "isError", st != QUIRE_OK, "structuredContent",
                          "pages", res->n_pages, "failed_pages", res->n_failed, "truncated",
                          truncated);
    quire_convert_result_free(res);
    return r;
}

static json_t *tool_collections(mcp *m, json_t *args, argerr *e)
{
    static const char *const keys[] = {NULL};
    if (arg_known(args, keys, e))
        return NULL;
    quire_error err = {0, ""};
    quire_collection_info *ci = NULL;
    int n = 0;
    if (quire_store_collections(m->st, &ci, &n, &err) != QUIRE_OK)
        return tool_error("collections", &err);
    json_t *arr = json_array();
    qr_buf text;
    qr_buf_init(&text, MCP_MAX_OUTPUT);
    qr_buf_printf(&text, "%d collections\n", n);
    for (int i = 0; i < n; i++) {
        const quire_collection_info *c = &ci[i];
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:s,s:i}", "name", c->name,
                                             "documents", (json_int_t)c->documents, "chunks",
                                             (json_int_t)c->chunks, "vectors",
                                             (json_int_t)c->vectors, "model", c->model, "dims",
                                             c->dims));
        qr_buf_printf(&text, "%s: %ld documents, %ld chunks, %s\n", c->name, c->documents,
                      c->chunks, c->dims ? c->model : "text-only");
    }
    quire_free(ci);
    json_t *r = tool_result(text.failed ? "out of memory" : text.data,
                            json_pack("{s:o}", "collections", arr), text.failed);
    qr_buf_free(&text);
    return r;
}

static json_t *tool_documents(mcp *m, json_t *args, argerr *e)
{
    static const char *const keys[] = {"collection", NULL};
    const char *coll;
    if (arg_known(args, keys, e) || arg_str(args, "collection", 0, &coll, e))
        return NULL;
    quire_error err = {0, ""};
    quire_document_list *l = NULL;
    if (quire_store_documents(m->st, coll, &l, &err) != QUIRE_OK)
        return tool_error("documents", &err);
    json_t *arr = json_array();
    qr_buf text;
    qr_buf_init(&text, MCP_MAX_OUTPUT);
    qr_buf_printf(&text, "%d documents\n", l->n);
    for (int i = 0; i < l->n; i++) {
        const quire_document_info *d = &l->docs[i];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:i,s:I,s:s}", "path", d->path,
                                             "sha256", d->sha256, "pages", d->pages,
                                             "failed_pages", d->failed_pages, "chunks",
                                             (json_int_t)d->chunks, "converted_at",
                                             d->converted_at));
        qr_buf_printf(&text, "%s (%d pages, %ld chunks)\n", d->path, d->pages, d->chunks);
    }
    quire_document_list_free(l);
    json_t *r = tool_result(text.failed ? "out of memory" : text.data,
                            json_pack("{s:o}", "documents", arr), text.failed);
    qr_buf_free(&text);
    return r;
}

typedef json_t *(*tool_fn)(mcp *m, json_t *args, argerr *e);

static const struct tool {
    const char *name, *description, *schema; /* schema: JSON Schema of the arguments */
    tool_fn fn;
} tools[] = {
    {"search",
     "Search a collection of documents (hybrid BM25 + vector when the server has a model, "
     "else BM25). Each hit cites its document, pages and heading, with a snippet.",
     "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"description\":"
     "\"what to look for\"},\"collection\":{\"type\":\"string\",\"description\":\"collection "
     "(default: default)\"},\"k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,"
     "\"description\":\"hits wanted (default 10)\"},\"mode\":{\"type\":\"string\",\"enum\":"
     "[\"hybrid\",\"vector\",\"text\"]},\"where\":{\"type\":\"object\",\"description\":"
     "\"filter applied before ranking: path (a glob over document ids) and metadata "
     "conditions, Chroma-style: {\\\"year\\\": {\\\"$gte\\\": 2020}, \\\"tag\\\": {\\\"$in\\\": "
     "[\\\"a\\\"]}}; $eq $ne $gt $gte $lt $lte $in $nin $and $or\",\"properties\":{\"path\":"
     "{\"type\":\"string\",\"description\":\"glob over document paths\"}}}},"
     "\"required\":[\"query\"],\"additionalProperties\":false}",
     tool_search},
    {"ingest",
     "Convert, chunk, embed and store files (PDF, images, Markdown, text) in a collection. "
     "Unchanged files are skipped.",
     "{\"type\":\"object\",\"properties\":{\"paths\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"string\"},\"minItems\":1,\"description\":\"files on the server's machine\"},"
     "\"collection\":{\"type\":\"string\"},\"force\":{\"type\":\"boolean\"}},\"required\":"
     "[\"paths\"],\"additionalProperties\":false}",
     tool_ingest},
    {"convert",
     "Convert a PDF or page image to Markdown (or JSON / plain text), with OCR where there "
     "is no usable text layer.",
     "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"format\":{\"type\":"
     "\"string\",\"enum\":[\"md\",\"json\",\"txt\"]},\"pages\":{\"type\":\"string\","
     "\"description\":\"page list, e.g. 1-3,7\"},\"ocr\":{\"type\":\"string\",\"enum\":"
     "[\"auto\",\"always\",\"never\"]}},\"required\":[\"path\"],\"additionalProperties\":false}",
     tool_convert},
    {"collections", "List the collections of the store with their sizes and models.",
     "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}", tool_collections},
    {"documents", "List the documents of a collection.",
     "{\"type\":\"object\",\"properties\":{\"collection\":{\"type\":\"string\"}},"
     "\"additionalProperties\":false}",
     tool_documents},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static json_t *tools_list(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < N_TOOLS; i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "name", tools[i].name,
                                             "description", tools[i].description, "inputSchema",
                                             schema ? schema : json_object()));
    }
    return json_pack("{s:o}", "tools", arr);
}

static json_t *initialize(json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    const char *v = versions[0];
    for (size_t i = 0; asked && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(asked, versions[i]) == 0)
            v = versions[i];
    return json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s},s:s}", "protocolVersion", v, "capabilities",
                     "tools", "listChanged", 0, "serverInfo", "name", "quire", "version",
                     quire_version_str(), "instructions",
                     "Use search to find passages in the user's documents; cite hits as "
                     "document and page.");
}

/* One request or notification; returns the response (NULL for notifications). */
static json_t *handle(mcp *m, json_t *msg)
{
    if (!json_is_object(msg))
        return rpc_error(NULL, RPC_INVALID, "a request must be a JSON object");
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    int is_note = id == NULL;
    if (!method || !json_is_string(json_object_get(msg, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0)
        return is_note && method ? NULL
                                 : rpc_error(id, RPC_INVALID, "not a JSON-RPC 2.0 request");
    if (id && !json_is_string(id) && !json_is_integer(id))
        return rpc_error(NULL, RPC_INVALID, "id must be a string or an integer");
    if (params && !json_is_object(params))
        return is_note ? NULL : rpc_error(id, RPC_PARAMS, "params must be an object");
    if (is_note)
        return NULL; /* notifications/initialized, cancelled, ...: nothing to answer */
    if (strcmp(method, "initialize") == 0)
        return reply(id, initialize(params));
    if (strcmp(method, "ping") == 0)
        return reply(id, json_object());
    if (strcmp(method, "tools/list") == 0)
        return reply(id, tools_list());
    if (strcmp(method, "tools/call") != 0) {
        char msg_buf[160];
        snprintf(msg_buf, sizeof msg_buf, "method not found: %.100s", method);
        return rpc_error(id, RPC_METHOD, msg_buf);
    }
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!name)
        return rpc_error(id, RPC_PARAMS, "tools/call needs params.name");
    if (args && !json_is_object(args))
        return rpc_error(id, RPC_PARAMS, "params.arguments must be an object");
    for (size_t i = 0; i < N_TOOLS; i++) {
        if (strcmp(tools[i].name, name) != 0)
            continue;
        argerr e = {""};
        json_t *empty = json_object();
        json_t *r = tools[i].fn(m, args ? args : empty, &e);
        json_decref(empty);
        if (r)
            return reply(id, r);
        char msg_buf[260];
        snprintf(msg_buf, sizeof msg_buf, "%s: %s", name, e.msg[0] ? e.msg : "out of memory");
        return rpc_error(id, RPC_PARAMS, msg_buf);
    }
    char msg_buf[160];
    snprintf(msg_buf, sizeof msg_buf, "unknown tool: %.100s", name);
    return rpc_error(id, RPC_PARAMS, msg_buf);
}

static int open_all(mcp *m)
{
    quire_error err = {0, ""};
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK ||
        quire_store_open(m->db, 0, &m->st, &err) != QUIRE_OK)
        return cli_fail("mcp", &err);
    if (!m->model_dir)
        return 0;
    quire_embedder_params ep = quire_embedder_default_params();
    if (quire_model_open(m->model_dir, NULL, &m->model, &err) != QUIRE_OK ||
        quire_embedder_new(m->model, &ep, &m->emb, &err) != QUIRE_OK)
        return cli_fail("mcp", &err);
    return 0;
}

/* Read one line (without its newline) into *buf; lines longer than MCP_MAX_LINE are
 * consumed and reported as too long. Returns 1 = line, 0 = EOF, -1 = too long. */
static int read_line(qr_buf *buf)
{
    buf->len = 0;
    buf->failed = 0;
    if (buf->data)
        buf->data[0] = '\0'; /* an empty line must not read the previous one */
    int c, got = 0;
    while ((c = getchar()) != EOF) {
        got = 1;
        if (c == '\n')
            break;
        if (buf->len < MCP_MAX_LINE)
            qr_buf_putc(buf, (char)c);
        else
            buf->failed = 1;
    }
    if (!got)
        return 0;
    return buf->failed ? -1 : 1;
}

int cmd_mcp(int argc, char **argv)
{
    mcp m;
    memset(&m, 0, sizeof m);
    m.db = getenv("QUIRE_DB");
    m.model_dir = getenv("QUIRE_MODEL");
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, &m, NULL, 0, &n_pos, help);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (!m.db || !m.db[0]) {
        fprintf(stderr, "quire mcp: --db PATH is required (or QUIRE_DB; see --help)\n");
        return EXIT_USAGE;
    }
    rc = open_all(&m);
    if (rc == 0) {
        qr_buf line;
        qr_buf_init(&line, MCP_MAX_LINE + 1);
        int r;
        while ((r = read_line(&line)) != 0) {
            if (r < 0) {
                send_msg(rpc_error(NULL, RPC_PARSE, "message too long"));
                continue;
            }
            const char *s = line.data ? line.data : "";
            while (*s == ' ' || *s == '\t' || *s == '\r')
                s++;
            if (!*s)
                continue;
            json_error_t je;
            json_t *msg = json_loads(s, 0, &je);
            if (!msg) {
                char emsg[200];
                snprintf(emsg, sizeof emsg, "parse error: %s (column %d)", je.text, je.column);
                send_msg(rpc_error(NULL, RPC_PARSE, emsg));
                continue;
            }
            send_msg(handle(&m, msg));
            json_decref(msg);
        }
        qr_buf_free(&line);
    }
    quire_converter_free(m.conv);
    quire_embedder_free(m.emb);
    quire_model_close(m.model);
    quire_store_close(m.st);
    return rc;
}
