/*
 * test_conv_vlm.c — the VLM client (src/ocr/vlm*.c): status classes, Retry-After, URLs,
 * request bodies per protocol, answers and error bodies of every server shape, the loop
 * and garbage checks (on loop fixtures and on real converted pages), and the whole
 * request / retry / fallback / cache path against the replaying server
 * (tests/tools/vlm_replay.c, started here on a free port and always stopped).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocr/vlm.h"
#include "pdf/pdf.h"
#include "testlib.h"

static char replay_bin[1024];

/* ---- pure functions ------------------------------------------------------------------ */

static void test_status_classes(void)
{
    T_EQ_INT(qr_vlm_status_class(200), QR_VLM_OK);
    long retry[] = {0, 408, 409, 425, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < QR_ARRAY_LEN(retry); i++)
        T_EQ_INT(qr_vlm_status_class(retry[i]), QR_VLM_RETRY);
    long never[] = {400, 404, 413, 422};
    for (size_t i = 0; i < QR_ARRAY_LEN(never); i++)
        T_EQ_INT(qr_vlm_status_class(never[i]), QR_VLM_NEVER);
    long dis[] = {401, 402, 403};
    for (size_t i = 0; i < QR_ARRAY_LEN(dis); i++)
        T_EQ_INT(qr_vlm_status_class(dis[i]), QR_VLM_DISABLE);
}

static void test_retry_after(void)
{
    T_CHECK(qr_vlm_parse_retry_after(" 7\r\n", 0) == 7);
    T_CHECK(qr_vlm_parse_retry_after("0", 0) == 0);
    T_CHECK(qr_vlm_parse_retry_after("soon", 0) < 0);
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    double d = qr_vlm_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0 - 30);
    T_CHECKF(d == 30, "date gives %f", d);
    T_CHECK(qr_vlm_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0 + 5) == 0);
}

static void test_urls(void)
{
    char u[256];
    qr_vlm_url("http://127.0.0.1:8000/v1", "chat/completions", u, sizeof(u));
    T_CHECK(!strcmp(u, "http://127.0.0.1:8000/v1/chat/completions"));
    qr_vlm_url("http://127.0.0.1:8000/v1/", "models", u, sizeof(u));
    T_CHECK(!strcmp(u, "http://127.0.0.1:8000/v1/models"));
    qr_vlm_url("http://127.0.0.1:8000/v1/chat/completions", "models", u, sizeof(u));
    T_CHECK(!strcmp(u, "http://127.0.0.1:8000/v1/models"));
    qr_vlm_url("http://localhost:8080", "chat/completions", u, sizeof(u));
    T_CHECK(!strcmp(u, "http://localhost:8080/v1/chat/completions"));
    qr_vlm_url("https://openrouter.ai/api/v1", "chat/completions", u, sizeof(u));
    T_CHECK(!strcmp(u, "https://openrouter.ai/api/v1/chat/completions"));
}

static qr_backend_cfg backend(qr_vlm_protocol p)
{
    qr_backend_cfg b;
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "b");
    snprintf(b.model, sizeof(b.model), "m");
    b.protocol = p;
    b.max_tokens = 2048;
    return b;
}

static void test_request_bodies(void)
{
    qr_backend_cfg ds = backend(QR_PROTO_DEEPSEEK);
    json_t *j = qr_vlm_request_body(&ds, QR_VLM_PAGE, "data:image/png;base64,AA", 0.0, 2048, 1, 0);
    T_CHECK(json_is_false(json_object_get(j, "skip_special_tokens")));
    json_t *xa = json_object_get(j, "vllm_xargs");
    T_EQ_INT(json_integer_value(json_object_get(xa, "ngram_size")), 30);
    T_EQ_INT(json_integer_value(json_object_get(xa, "window_size")), 90);
    T_EQ_INT(json_integer_value(json_array_get(json_object_get(xa, "whitelist_token_ids"), 0)), 128821);
    T_CHECK(json_is_real(json_object_get(j, "temperature")));
    json_t *content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    T_CHECK(!strcmp(json_string_value(json_object_get(json_array_get(content, 0), "type")), "image_url"));
    T_CHECK(!strcmp(json_string_value(json_object_get(json_array_get(content, 1), "text")),
                    "<|grounding|>Convert the document to markdown."));
    T_CHECK(json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
    json_decref(j);
    j = qr_vlm_request_body(&ds, QR_VLM_PAGE, "x", 0.2, 2048, 0, 1);
    T_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "vllm_xargs"), "ngram_size")), 20);
    json_decref(j);

    qr_backend_cfg nt = backend(QR_PROTO_NEMOTRON_TOOLS);
    j = qr_vlm_request_body(&nt, QR_VLM_PAGE, "x", 0.0, 2048, 0, 0);
    content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    T_EQ_INT(json_array_size(content), 1); /* the image only: text gives 400 */
    T_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(json_array_get(
                        json_object_get(j, "tools"), 0), "function"), "name")), "markdown_bbox"));
    json_decref(j);

    qr_backend_cfg nk = backend(QR_PROTO_NEMOTRON_TOKENS);
    j = qr_vlm_request_body(&nk, QR_VLM_PAGE, "x", 0.0, 2048, 0, 0);
    T_EQ_INT(json_integer_value(json_object_get(j, "top_k")), 1);
    T_CHECK(json_is_false(json_object_get(j, "skip_special_tokens")));
    content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    T_CHECK(strstr(json_string_value(json_object_get(json_array_get(content, 1), "text")),
                   "<predict_bbox><predict_classes><output_markdown>") != NULL);
    json_decref(j);

    qr_backend_cfg g = backend(QR_PROTO_GENERIC);
    g.extra_body = json_pack("{s:i, s:f}", "top_k", 1, "temperature", 0.3);
    j = qr_vlm_request_body(&g, QR_VLM_TABLE, "x", 0.0, 100, 0, 0);
    content = json_object_get(json_array_get(json_object_get(j, "messages"), 0), "content");
    T_CHECK(!strcmp(json_string_value(json_object_get(json_array_get(content, 0), "type")), "text"));
    T_CHECK(strstr(json_string_value(json_object_get(json_array_get(content, 0), "text")), "<table>"));
    T_EQ_INT(json_integer_value(json_object_get(j, "top_k")), 1);
    T_CHECK(json_real_value(json_object_get(j, "temperature")) == 0.3); /* extra_body wins */
    T_CHECK(json_object_get(j, "vllm_xargs") == NULL);
    json_decref(j);
    json_decref(g.extra_body);
}

static void test_answers(void)
{
    qr_vlm_answer a;
    const char *s = "{\"id\":\"x1\",\"model\":\"M\",\"choices\":[{\"message\":{\"content\":\"hi\"},"
                    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":"
                    "2,\"cost\":0.5}}";
    T_EQ_INT(qr_vlm_parse_answer(s, strlen(s), &a), 0);
    T_CHECK(!strcmp(a.content, "hi") && !strcmp(a.finish_reason, "stop") && !strcmp(a.model, "M"));
    T_CHECK(a.prompt_tokens == 3 && a.completion_tokens == 2 && a.cost == 0.5 && !a.error[0]);
    qr_vlm_answer_free(&a);
    s = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
        "\"text\",\"text\":\"b\"}]},\"finish_reason\":\"stop\"}]}";
    T_EQ_INT(qr_vlm_parse_answer(s, strlen(s), &a), 0);
    T_CHECK(!strcmp(a.content, "ab"));
    qr_vlm_answer_free(&a);
    s = "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"function\":{\"name\":"
        "\"markdown_bbox\",\"arguments\":\"[[{\\\"text\\\":\\\"T\\\"}]]\"}}]},\"finish_reason\":"
        "\"tool_calls\"}]}";
    T_EQ_INT(qr_vlm_parse_answer(s, strlen(s), &a), 0);
    T_CHECK(a.tool_call && !strcmp(a.content, "[[{\"text\":\"T\"}]]"));
    qr_vlm_answer_free(&a);
    s = "{\"error\":{\"code\":502,\"message\":\"Provider returned error\"}}"; /* HTTP 200 */
    T_EQ_INT(qr_vlm_parse_answer(s, strlen(s), &a), 0);
    T_CHECK(strstr(a.error, "Provider returned error") != NULL);
    qr_vlm_answer_free(&a);
    T_EQ_INT(qr_vlm_parse_answer("<html>", 6, &a), -1);
    qr_vlm_answer_free(&a);

    char m[200];
    const char *bodies[][2] = {
        {"{\"error\":{\"message\":\"too big\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}", "too big (code 400)"},
        {"{\"object\":\"error\",\"message\":\"old vllm\",\"code\":400}", "old vllm"},
        {"{\"detail\":\"Model not loaded\"}", "Model not loaded"},
        {"{\"detail\":[{\"msg\":\"Field required\"}]}", "Field required"},
        {"{\"error\":\"plain string\"}", "plain string"},
        {"Bad Gateway\n", "Bad Gateway"},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(bodies); i++) {
        qr_vlm_error_message(bodies[i][0], strlen(bodies[i][0]), m, sizeof(m));
        T_CHECKF(strstr(m, bodies[i][1]) != NULL, "'%s' -> '%s'", bodies[i][0], m);
    }
    char e1[] = "text<|im_end|>\n";
    qr_vlm_strip_eos(e1);
    T_CHECK(!strcmp(e1, "text"));
    char e2[] = "x\n<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c></s>";
    qr_vlm_strip_eos(e2);
    T_CHECK(!strcmp(e2, "x"));
    size_t n;
    char *b = qr_base64((const unsigned char *)"hello", 5, &n);
    T_CHECK(b && !strcmp(b, "aGVsbG8=") && n == 8);
    qr_free(b);
}

/* ---- loop / garbage checks ----------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, int times)
{
    size_t n = strlen(head) + strlen(unit) * (size_t)times + 1;
    char *s = malloc(n);
    strcpy(s, head);
    for (int i = 0; i < times; i++)
        strcat(s, unit);
    return s;
}

static void test_loop_fixtures(void)
{
    /* the loop kinds of the brief, each must be rejected */
    char *fx[8];
    int k = 0;
    fx[k++] = repeat("# Title\n\nSome text.\n", "<td>0.00</td>", 200);      /* table cell loop */
    fx[k++] = repeat("Intro line.\n", "a", 400);                            /* one glyph (#160) */
    fx[k++] = repeat("Intro.\n", "ANNUAL REPORT 2023 - FINANCIAL STATEMENTS\n", 12); /* header x12 */
    fx[k++] = repeat("Intro.\n", "the cat sat on the mat and ", 60);        /* phrase loop */
    char near[8192] = "Intro.\n";
    for (int i = 0; i < 40; i++)
        snprintf(near + strlen(near), sizeof(near) - strlen(near),
                 "Revenue for the quarter ending %d was %d.%d million\n", 2000 + i % 2, 10 + i % 7, i % 10);
    fx[k++] = strdup(near);                                                  /* near duplicates */
    fx[k++] = repeat("x", "\n| | | |\nsame row text here\n", 10);
    int rejected = 0;
    for (int i = 0; i < k; i++) {
        char why[200] = "";
        int ok = qr_vlm_check_text(fx[i], 0, why, sizeof(why));
        T_CHECKF(!ok, "loop fixture %d accepted", i);
        rejected += !ok;
        T_CHECKF(ok || why[0], "no reason for fixture %d", i);
        free(fx[i]);
    }
    T_EQ_INT(rejected, k);
    char why[200];
    T_CHECK(!qr_vlm_check_text("  \n", 800, why, sizeof(why)) && strstr(why, "empty output"));
    T_CHECK(qr_vlm_check_text("", 0, why, sizeof(why))); /* a blank page may be blank */
    T_CHECK(qr_vlm_check_text("Name: ______________________________________________", 0, why, sizeof(why)));
    T_CHECK(qr_vlm_check_text("Contents\n1 Introduction ............................ 1\n2 Methods ............................ 5\n",
                              0, why, sizeof(why)));
}

/* Real converted pages (the conversion goldens) must pass the checks. */
static void test_checks_accept_real_pages(void)
{
    const char *names[] = {"paper2col-els5p.md", "small-fn2end.md", "tables-booktabs.md"};
    int tested = 0;
    for (size_t i = 0; i < QR_ARRAY_LEN(names); i++) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/golden/%s", t_testdata(), names[i]);
        size_t n = 0;
        char *s = t_read_file(p, &n);
        T_CHECKF(s != NULL, "cannot read %s", p);
        if (!s)
            continue;
        char why[200] = "";
        T_CHECKF(qr_vlm_check_text(s, 0, why, sizeof(why)), "%s rejected: %s", names[i], why);
        tested++;
        free(s);
    }
    T_EQ_INT(tested, 3);
}

/* ---- normalisation ------------------------------------------------------------------ */

static const qr_block *find_type(const qr_vlm_page *pg, int type, int nth)
{
    for (int i = 0; i < pg->n; i++)
        if (pg->blocks[i].type == type && nth-- == 0)
            return &pg->blocks[i];
    return NULL;
}

static void test_normalise(void)
{
    /* DeepSeek grounding: /999 of the page, HTML table with spans, formula, caption */
    const char *ds = "<|ref|>title<|/ref|><|det|>[[100, 50, 899, 100]]<|/det|>\nAnnual Report\n\n"
                     "<|ref|>table<|/ref|><|det|>[[0, 200, 999, 400]]<|/det|>\n<table><tr><td rowspan=\"2\">A"
                     "</td><td>B &amp; C</td></tr><tr><td>d</td></tr></table>\n"
                     "<|ref|>table_caption<|/ref|><|det|>[[0, 410, 999, 430]]<|/det|>\nTable 1: totals\n"
                     "<|ref|>image<|/ref|><|det|>[[0, 500, 999, 900]]<|/det|>\n\n"
                     "<|ref|>text<|/ref|><|det|>[[0, 910, 999, 990]]<|/det|>\n\\[ a^2 + b^2 \\]\n- item one\n";
    qr_vlm_page *pg = qr_vlm_normalise(ds, QR_PROTO_DEEPSEEK, 3, 999.0f, 1998.0f, 800, 1600);
    T_CHECK(pg != NULL);
    if (pg) {
        const qr_block *h = find_type(pg, QR_BLK_HEADING, 0);
        T_CHECK(h && !strcmp(h->text, "Annual Report") && h->page == 3);
        T_CHECK(h && h->bbox.x0 == 100.0f && h->bbox.y1 == 200.0f && h->source == QR_SRC_VLM);
        const qr_block *t = find_type(pg, QR_BLK_TABLE, 0);
        T_CHECK(t && t->n_rows == 2 && t->n_cols == 2);
        T_CHECK(t && !strcmp(t->cells[0], "A") && !strcmp(t->cells[1], "B & C") &&
                !strcmp(t->cells[2], "") && !strcmp(t->cells[3], "d"));
        const qr_block *c = find_type(pg, QR_BLK_CAPTION, 0);
        T_CHECK(c && !strcmp(c->text, "Table 1: totals"));
        const qr_block *f = find_type(pg, QR_BLK_FORMULA, 0);
        T_CHECK(f && !strcmp(f->text, "\\[ a^2 + b^2 \\]"));
        const qr_block *li = find_type(pg, QR_BLK_LIST_ITEM, 0);
        T_CHECK(li && !strcmp(li->text, "item one"));
        qr_vlm_page_free(pg);
    }
    /* Nemotron control tokens: padded frame, classes, furniture dropped, LaTeX table */
    const char *nt = "<x_0.1><y_0.1>Results<x_0.5><y_0.15><class_Section-header>"
                     "<x_0.1><y_0.2>\\begin{tabular}{ll} \\hline x & y \\\\ 1 & 2 \\\\ \\end{tabular}<x_0.5><y_0.3><class_Table>"
                     "<x_0.1><y_0.95>12<x_0.2><y_0.97><class_Page-footer>";
    /* image 824x2048 in a 1648x2048 frame: it covers half the width */
    pg = qr_vlm_normalise(nt, QR_PROTO_NEMOTRON_TOKENS, 1, 100.0f, 200.0f, 824, 2048);
    T_CHECK(pg != NULL);
    if (pg) {
        const qr_block *h = find_type(pg, QR_BLK_HEADING, 0);
        T_CHECK(h && !strcmp(h->text, "Results"));
        T_CHECKF(h && h->bbox.x0 > 19.9f && h->bbox.x0 < 20.1f && h->bbox.x1 > 99.9f, "x0 %f x1 %f",
                 h ? h->bbox.x0 : -1, h ? h->bbox.x1 : -1);
        const qr_block *t = find_type(pg, QR_BLK_TABLE, 0);
        T_CHECK(t && t->n_rows == 2 && t->n_cols == 2 && !strcmp(t->cells[0], "x") &&
                !strcmp(t->cells[3], "2"));
        for (int i = 0; i < pg->n; i++)
            T_CHECK(strcmp(pg->blocks[i].text, "12") != 0); /* the page footer */
        qr_vlm_page_free(pg);
    }
    /* Nemotron tool mode arguments */
    const char *tl = "[[{\"bbox\":{\"xmin\":0.1,\"ymin\":0.1,\"xmax\":0.9,\"ymax\":0.2},"
                     "\"text\":\"Intro\",\"type\":\"Title\"},{\"bbox\":{\"xmin\":0.1,\"ymin\":0.3,"
                     "\"xmax\":0.9,\"ymax\":0.5},\"text\":\"Body text.\",\"type\":\"Text\"}]]";
    pg = qr_vlm_normalise(tl, QR_PROTO_NEMOTRON_TOOLS, 1, 100.0f, 100.0f, 500, 500);
    T_CHECK(pg && pg->n == 2);
    if (pg && pg->n == 2) {
        T_CHECK(pg->blocks[0].type == QR_BLK_HEADING && !strcmp(pg->blocks[0].text, "Intro"));
        T_CHECK(pg->blocks[1].type == QR_BLK_PARAGRAPH && pg->blocks[1].bbox.y0 > 29.9f);
    }
    qr_vlm_page_free(pg);
    /* generic Markdown: headings, pipe table, paragraph joined */
    pg = qr_vlm_normalise("## Scope\n\nFirst line\nsecond line.\n\n| a | b |\n|---|---|\n| 1 | 2 \\| 3 |\n",
                          QR_PROTO_GENERIC, 2, 100, 100, 10, 10);
    T_CHECK(pg && pg->n == 3);
    if (pg && pg->n == 3) {
        T_CHECK(pg->blocks[0].type == QR_BLK_HEADING && pg->blocks[0].level == 2);
        T_CHECK(!strcmp(pg->blocks[1].text, "First line second line."));
        T_CHECK(pg->blocks[2].n_rows == 2 && !strcmp(pg->blocks[2].cells[3], "2 \\| 3"));
    }
    qr_vlm_page_free(pg);
}

/* ---- against the replaying server ----------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    char log[1024];
} server;

static int start_server(server *s, const char *flavor, const char *script, const char *extra)
{
    memset(s, 0, sizeof(*s));
    static int seq;
    char pf[1024];
    snprintf(pf, sizeof(pf), "%s/port.%d", t_tmpdir(), ++seq);
    snprintf(s->log, sizeof(s->log), "%s/log.%d", t_tmpdir(), seq);
    unlink(pf);
    unlink(s->log);
    s->pid = fork();
    if (s->pid == 0) {
        char *argv[32];
        int n = 0;
        argv[n++] = replay_bin;
        argv[n++] = "--port-file";
        argv[n++] = pf;
        argv[n++] = "--flavor";
        argv[n++] = (char *)flavor;
        argv[n++] = "--log";
        argv[n++] = s->log;
        argv[n++] = "--retry-after";
        argv[n++] = "1";
        argv[n++] = "--slow-ms";
        argv[n++] = "1500";
        if (script) {
            argv[n++] = "--script";
            argv[n++] = (char *)script;
        }
        char *ex = extra ? strdup(extra) : NULL;
        for (char *t = ex ? strtok(ex, " ") : NULL; t && n < 30; t = strtok(NULL, " "))
            argv[n++] = t;
        argv[n] = NULL;
        execv(replay_bin, argv);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) { /* up to 10 s for the port file */
        FILE *f = fopen(pf, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static void stop_server(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
    }
    s->pid = 0;
}

/* Lines of the server log containing needle. */
static int log_count(const server *s, const char *needle)
{
    size_t n;
    char *t = t_read_file(s->log, &n);
    int c = 0;
    for (char *p = t; p && (p = strstr(p, needle)); p += strlen(needle))
        c++;
    free(t);
    return c;
}

static quire_config *config_for(const char *toml)
{
    quire_config *cfg = NULL;
    quire_error err = {0, ""};
    quire_status st = quire_config_parse(toml, strlen(toml), "t.toml", &cfg, &err);
    T_CHECKF(st == QUIRE_OK, "config: %s", err.msg);
    return cfg;
}

static char toml_buf[4096];
/* A one- or two-backend config. */
static const char *toml1(const char *proto, int port, int port2, const char *more)
{
    int n = snprintf(toml_buf, sizeof(toml_buf),
                     "[resources]\nhttp_retry_attempts = 2\n[backends]\ndefault = \"a\"\n%s"
                     "[backends.a]\nprotocol = \"%s\"\nbase_url = \"http://127.0.0.1:%d/v1\"\n"
                     "model = \"deepseek-ai/DeepSeek-OCR\"\nidle_timeout_s = 0.5\n%s",
                     port2 ? "fallback_chain = [\"a\", \"b\"]\n" : "", proto, port, more ? more : "");
    if (port2)
        snprintf(toml_buf + n, sizeof(toml_buf) - (size_t)n,
                 "[backends.b]\nprotocol = \"generic\"\nbase_url = \"http://127.0.0.1:%d\"\n"
                 "model = \"deepseek-ai/DeepSeek-OCR\"\n", port2);
    return toml_buf;
}

static qr_vlm_client *client_for(const quire_config *cfg, const char *cache, int stream)
{
    qr_vlm_client_params p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.cache_dir = cache;
    p.backoff_base_s = 0.01;
    p.backoff_cap_s = 0.05;
    p.stream = stream;
    qr_vlm_client *c = NULL;
    quire_error err = {0, ""};
    T_CHECKF(qr_vlm_client_new(&p, &c, &err) == QUIRE_OK, "client: %s", err.msg);
    return c;
}

static const unsigned char PNG[] = "\x89PNG fake page image for the replay server";

static const char *run_more; /* extra backend keys for run_one */

/* One run against a fresh server of flavor with script; returns the result in *r. */
static void run_one(const char *flavor, const char *proto, const char *script, int stream,
                    long ref_chars, qr_vlm_result *r, server *s)
{
    T_CHECK(start_server(s, flavor, script, NULL) == 0);
    quire_config *cfg = config_for(toml1(proto, s->port, 0, run_more));
    qr_vlm_client *c = cfg ? client_for(cfg, NULL, stream) : NULL;
    memset(r, 0, sizeof(*r));
    if (c)
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, ref_chars, "t", NULL, r);
    qr_vlm_client_free(c);
    quire_config_free(cfg);
    stop_server(s);
}

static void test_flavors_ok(void)
{
    struct { const char *flavor, *proto, *want; } fl[] = {
        {"vllm", "deepseek", "<|ref|>title<|/ref|>"},
        {"ollama", "generic", "# Replayed page"},
        {"llama", "generic", "# Replayed page"},
        {"mlx", "generic", "# Replayed page"},
        {"openrouter", "generic", "# Replayed page"},
        {"nvidia", "nemotron-tools", "\"type\":\"Title\""},
        {"nemotron", "nemotron-tokens", "<class_Title>"},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(fl); i++) {
        for (int stream = 0; stream < 2; stream++) {
            qr_vlm_result r;
            server s;
            run_one(fl[i].flavor, fl[i].proto, NULL, stream, 0, &r, &s);
            T_CHECKF(r.ok, "%s stream=%d: %s", fl[i].flavor, stream, r.reason);
            T_CHECKF(r.text && strstr(r.text, fl[i].want), "%s: text %s", fl[i].flavor, r.text ? r.text : "(null)");
            T_CHECKF(r.text && !strstr(r.text, "end\xe2\x96\x81of"), "%s: EOS kept", fl[i].flavor);
            T_CHECK(!strcmp(r.model, "deepseek-ai/DeepSeek-OCR"));
            T_EQ_INT(r.n_attempts, 1);
            T_CHECK(r.attempts[0].prompt_tokens == 921 && r.attempts[0].completion_tokens > 0);
            if (!strcmp(fl[i].flavor, "openrouter")) {
                T_CHECK(r.attempts[0].cost > 0);
                T_CHECK(!strcmp(r.attempts[0].generation_id, "gen-replay-1"));
            }
            T_EQ_INT(log_count(&s, stream ? "\"stream\":true" : "\"stream\":false"), 1);
            qr_vlm_result_free(&r);
        }
    }
    /* what DeepSeek gets: plain prompt, image first, the n-gram guard */
    qr_vlm_result r;
    server s;
    run_one("vllm", "deepseek", NULL, 0, 0, &r, &s);
    T_EQ_INT(log_count(&s, "\"skip_special_tokens\":false"), 1);
    T_EQ_INT(log_count(&s, "\"ngram_size\":30"), 1);
    T_EQ_INT(log_count(&s, "\"order\":[\"image_url\",\"text\"]"), 1);
    T_EQ_INT(log_count(&s, "\"image_prefix\":\"data:image/png;base64,\""), 1);
    qr_vlm_result_free(&r);
}

static void test_retry_after_and_5xx(void)
{
    qr_vlm_result r;
    server s;
    run_one("openrouter", "generic", "429,503,ok", 1, 0, &r, &s);
    T_CHECKF(r.ok, "%s", r.reason);
    T_EQ_INT(r.n_attempts, 3);
    T_EQ_INT(r.attempts[0].http_status, 429);
    T_EQ_INT(r.attempts[1].http_status, 503);
    T_CHECKF(r.attempts[1].waited_ms >= 990, "waited %.0f ms after Retry-After: 1",
             r.attempts[1].waited_ms);
    T_CHECK(strstr(r.attempts[0].reason, "Rate limit exceeded") != NULL);
    qr_vlm_result_free(&r);
    run_one("llama", "generic", "429date,ok", 0, 0, &r, &s);
    T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
    T_CHECKF(r.n_attempts < 2 || r.attempts[1].waited_ms >= 0, "date form");
    qr_vlm_result_free(&r);
    /* every retryable failure kind, then ok */
    const char *kinds[] = {"500", "err200", "midstream", "reset", "objerr"};
    for (size_t i = 0; i < QR_ARRAY_LEN(kinds); i++) {
        for (int stream = 0; stream < 2; stream++) {
            char sc[64];
            snprintf(sc, sizeof(sc), "%s,ok", kinds[i]);
            run_one("openrouter", "generic", sc, stream, 0, &r, &s);
            T_CHECKF(r.ok && r.n_attempts == 2, "%s stream=%d: ok=%d n=%d %s", kinds[i], stream,
                     r.ok, r.n_attempts, r.reason);
            T_CHECKF(r.attempts[0].reason[0] && !r.attempts[0].accepted, "%s: no reason", kinds[i]);
            qr_vlm_result_free(&r);
        }
    }
    /* retries run out: the backend fails with the count */
    run_one("vllm", "deepseek", "500,500,500,ok", 0, 0, &r, &s);
    T_CHECK(!r.ok);
    T_EQ_INT(r.n_attempts, 3);
    T_CHECK(strstr(r.attempts[2].reason, "gave up after 3 tries") != NULL);
    qr_vlm_result_free(&r);
}

static void test_rejections(void)
{
    qr_vlm_result r;
    server s;
    /* length loop: rejected, retried hotter with the stricter guard, accepted */
    run_one("vllm", "deepseek", "length,ok", 0, 0, &r, &s);
    T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
    T_CHECK(strstr(r.attempts[0].reason, "finish_reason length") != NULL);
    T_CHECK(!strcmp(r.attempts[0].finish_reason, "length"));
    T_CHECK(r.attempts[1].temperature > r.attempts[0].temperature);
    T_EQ_INT(log_count(&s, "\"ngram_size\":20"), 1);
    qr_vlm_result_free(&r);
    /* a loop with finish_reason stop, streamed: the client closes the stream early */
    run_one("vllm", "deepseek", "loop,ok", 1, 0, &r, &s);
    T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
    T_CHECKF(strstr(r.attempts[0].reason, "stream closed: loop") != NULL, "%s", r.attempts[0].reason);
    T_EQ_INT(log_count(&s, "closed_early"), 1);
    qr_vlm_result_free(&r);
    /* the same, not streamed */
    const char *bad[] = {"loop", "nearloop", "garbage", "empty"};
    for (size_t i = 0; i < QR_ARRAY_LEN(bad); i++) {
        char sc[64];
        snprintf(sc, sizeof(sc), "%s,%s", bad[i], bad[i]);
        run_one("ollama", "generic", sc, 0, 500, &r, &s);
        T_CHECKF(!r.ok && r.n_attempts == 2, "%s: ok=%d n=%d", bad[i], r.ok, r.n_attempts);
        T_CHECKF(r.text == NULL, "%s: text kept", bad[i]);
        T_CHECK(strstr(r.reason, "every backend failed") != NULL);
        qr_vlm_result_free(&r);
    }
    /* 422 {"detail"}: never retried */
    run_one("mlx", "generic", "detail,ok", 0, 0, &r, &s);
    T_CHECK(!r.ok);
    T_EQ_INT(r.n_attempts, 1);
    T_CHECKF(strstr(r.attempts[0].reason, "HTTP 422") && strstr(r.attempts[0].reason, "Field required"),
             "%s", r.attempts[0].reason);
    qr_vlm_result_free(&r);
    /* vLLM's max_tokens too large: clamped to the window it reports */
    run_more = "max_tokens = 8192\n";
    run_one("vllm", "deepseek", "ctx400,ctx400", 0, 0, &r, &s);
    run_more = NULL;
    T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
    T_EQ_INT(log_count(&s, "\"max_tokens\":7270"), 1);
    qr_vlm_result_free(&r);
}

static void test_fallback_and_disable(void)
{
    server a, b;
    T_CHECK(start_server(&a, "openrouter", "401", NULL) == 0);
    T_CHECK(start_server(&b, "ollama", NULL, NULL) == 0);
    quire_config *cfg = config_for(toml1("generic", a.port, b.port, NULL));
    qr_vlm_client *c = cfg ? client_for(cfg, NULL, 0) : NULL;
    qr_vlm_result r;
    if (c) {
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, 0, "p1", NULL, &r);
        T_CHECKF(r.ok && !strcmp(r.backend, "b"), "%s", r.reason);
        T_EQ_INT(r.n_attempts, 2);
        T_EQ_INT(r.attempts[0].http_status, 401);
        qr_vlm_result_free(&r);
        /* a is disabled now: the next page skips it without a request, with a trace */
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, 0, "p2", NULL, &r);
        T_CHECK(r.ok && !strcmp(r.backend, "b"));
        T_CHECKF(strstr(r.attempts[0].reason, "skipped") && strstr(r.attempts[0].reason, "401"),
                 "%s", r.attempts[0].reason);
        T_EQ_INT(log_count(&a, "\"kind\""), 1);
        json_t *j = qr_vlm_result_json(&r);
        T_EQ_INT(json_array_size(json_object_get(j, "attempts")), 2);
        json_decref(j);
        qr_vlm_result_free(&r);
    }
    qr_vlm_client_free(c);
    quire_config_free(cfg);
    stop_server(&a);
    stop_server(&b);
}

static void test_probe_and_keys(void)
{
    server s;
    T_CHECK(start_server(&s, "openrouter", NULL, "--require-key sk-test-123") == 0);
    char more[128];
    snprintf(more, sizeof(more), "api_key_env = \"QUIRE_TEST_VLM_KEY\"\n");
    quire_config *cfg = config_for(toml1("generic", s.port, 0, more));
    /* key variable unset: disabled with its name, nothing sent */
    unsetenv("QUIRE_TEST_VLM_KEY");
    qr_vlm_client *c = cfg ? client_for(cfg, NULL, 0) : NULL;
    quire_error err = {0, ""};
    T_CHECK(c && qr_vlm_client_probe(c, &err) != QUIRE_OK);
    T_CHECKF(strstr(err.msg, "QUIRE_TEST_VLM_KEY"), "%s", err.msg);
    qr_vlm_client_free(c);
    setenv("QUIRE_TEST_VLM_KEY", "sk-test-123", 1);
    c = cfg ? client_for(cfg, NULL, 0) : NULL;
    T_CHECK(c && qr_vlm_client_probe(c, &err) == QUIRE_OK);
    qr_vlm_result r;
    if (c) {
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, 0, "p", NULL, &r);
        T_CHECKF(r.ok, "%s", r.reason);
        T_EQ_INT(log_count(&s, "\"auth\":\"ok\""), 1);
        json_t *j = qr_vlm_result_json(&r);
        char *js = json_dumps(j, 0);
        T_CHECK(js && !strstr(js, "sk-test-123"));
        free(js);
        json_decref(j);
        qr_vlm_result_free(&r);
    }
    qr_vlm_client_free(c);
    unsetenv("QUIRE_TEST_VLM_KEY");
    quire_config_free(cfg);
    stop_server(&s);
    /* nothing listening: probe disables the backend, naming the URL */
    cfg = config_for(toml1("generic", 9, 0, "connect_timeout_s = 0.5\n"));
    c = cfg ? client_for(cfg, NULL, 0) : NULL;
    T_CHECK(c && qr_vlm_client_probe(c, &err) != QUIRE_OK);
    T_CHECKF(strstr(err.msg, "127.0.0.1:9/v1/models"), "%s", err.msg);
    qr_vlm_client_free(c);
    quire_config_free(cfg);
}

static void test_timeouts(void)
{
    /* stream slower than idle_timeout_s (0.5 s between chunks of 1.5 s) */
    qr_vlm_result r;
    server s;
    run_one("vllm", "deepseek", "slow,ok", 1, 0, &r, &s);
    T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
    T_CHECKF(strstr(r.attempts[0].reason, "idle"), "%s", r.attempts[0].reason);
    qr_vlm_result_free(&r);
    /* whole-request timeout (read_timeout_s) on a non-streamed answer */
    T_CHECK(start_server(&s, "ollama", "slow,ok", NULL) == 0);
    quire_config *cfg = config_for(toml1("generic", s.port, 0, "read_timeout_s = 0.4\n"));
    qr_vlm_client *c = cfg ? client_for(cfg, NULL, 0) : NULL;
    if (c) {
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, 0, "p", NULL, &r);
        T_CHECKF(r.ok && r.n_attempts == 2, "%s", r.reason);
        T_CHECKF(strstr(r.attempts[0].reason, "timed out"), "%s", r.attempts[0].reason);
        qr_vlm_result_free(&r);
    }
    qr_vlm_client_free(c);
    quire_config_free(cfg);
    stop_server(&s);
}

static void test_cache(void)
{
    server s;
    T_CHECK(start_server(&s, "vllm", NULL, NULL) == 0);
    quire_config *cfg = config_for(toml1("deepseek", s.port, 0, NULL));
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/cache", t_tmpdir());
    qr_vlm_result r;
    for (int round = 0; round < 2 && cfg; round++) {
        qr_vlm_client *c = client_for(cfg, dir, 1);
        qr_vlm_run(c, PNG, sizeof(PNG), QR_VLM_PAGE, 0, "p", NULL, &r);
        T_CHECK(r.ok);
        T_EQ_INT(r.cached, round);
        T_CHECK(r.text && strstr(r.text, "Replayed page"));
        qr_vlm_result_free(&r);
        qr_vlm_client_free(c);
    }
    T_EQ_INT(log_count(&s, "\"kind\""), 1); /* the second run requested nothing */
    /* another image is another key */
    qr_vlm_client *c = cfg ? client_for(cfg, dir, 1) : NULL;
    if (c) {
        qr_vlm_run(c, (const unsigned char *)"other", 5, QR_VLM_PAGE, 0, "p", NULL, &r);
        T_CHECK(r.ok && !r.cached);
        qr_vlm_result_free(&r);
    }
    qr_vlm_client_free(c);
    quire_config_free(cfg);
    stop_server(&s);
    T_EQ_INT(log_count(&s, "\"kind\""), 2);
}

/* The page image encoders: a PNG and a JPEG of a synthetic page (text-like strokes and
 * noise), read back by MuPDF (qr_pdf_open on the file): the PNG pixel for pixel, the JPEG
 * within a small mean error; the PNG is no larger than the raw pixels. */
static void test_image_encoders(void)
{
    qr_image img = {0};
    img.width = 613;
    img.height = 401;
    img.dpi = 100;
    img.pixels = qr_malloc((size_t)img.width * (size_t)img.height);
    T_CHECK(img.pixels != NULL);
    if (!img.pixels)
        return;
    unsigned seed = 12345;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            seed = seed * 1103515245u + 12345u;
            int ink = (y % 40 < 12 && x % 9 < 5) || (x > 500 && y > 300);
            img.pixels[(size_t)y * (size_t)img.width + (size_t)x] =
                (unsigned char)(ink ? 20 + (seed >> 28) : 250 - (seed >> 29));
        }
    for (int fmt = 0; fmt < 2; fmt++) {
        unsigned char *enc = NULL;
        size_t n = 0;
        quire_error err = {0, ""};
        quire_status st = fmt == 0 ? qr_pdf_encode_png(NULL, &img, &enc, &n, &err)
                                   : qr_pdf_encode_jpeg(&img, 90, &enc, &n, &err);
        T_CHECKF(st == QUIRE_OK, "encode %d: %s", fmt, err.msg);
        if (st != QUIRE_OK)
            continue;
        T_CHECK(n > 100 && n < (size_t)img.width * (size_t)img.height);
        T_CHECK(fmt == 0 ? memcmp(enc, "\x89PNG\r\n\x1a\n", 8) == 0 : enc[0] == 0xFF && enc[1] == 0xD8);
        char path[1024];
        snprintf(path, sizeof(path), "%s/enc.%s", t_tmpdir(), fmt == 0 ? "png" : "jpg");
        FILE *f = fopen(path, "wb");
        T_CHECK(f && fwrite(enc, 1, n, f) == n);
        if (f)
            fclose(f);
        qr_free(enc);
        qr_pdf *pdf = NULL;
        qr_image back = {0};
        st = qr_pdf_open(path, &pdf, &err);
        T_CHECKF(st == QUIRE_OK, "open %s: %s", path, err.msg);
        if (st == QUIRE_OK)
            st = qr_pdf_render_gray(pdf, 1, 0, 0, 0, &back, NULL, &err);
        T_CHECKF(st == QUIRE_OK, "render %s: %s", path, err.msg);
        if (st == QUIRE_OK) {
            T_EQ_INT(back.width, img.width);
            T_EQ_INT(back.height, img.height);
            double diff = 0;
            long exact = 0, npx = (long)img.width * img.height;
            for (long i = 0; back.width == img.width && back.height == img.height && i < npx; i++) {
                int d = (int)back.pixels[i] - (int)img.pixels[i];
                diff += d < 0 ? -d : d;
                exact += d == 0;
            }
            if (fmt == 0)
                T_CHECKF(exact == npx, "PNG: %ld of %ld pixels differ", npx - exact, npx);
            else
                T_CHECKF(diff / (double)npx < 6.0, "JPEG: mean |diff| %.2f", diff / (double)npx);
        }
        qr_image_free(&back);
        qr_pdf_close(pdf);
    }
    qr_image_free(&img);
}

/* The public C API: a quire.toml file loaded with quire_config_load, given to the
 * converter (quire_converter_params.config), pages read by its backend; without a config a
 * VLM mode is refused with a message naming what to configure. */
static void test_public_api_config(void)
{
    server s;
    T_CHECK(start_server(&s, "vllm", NULL, NULL) == 0);
    char toml[1024], scan[1024];
    snprintf(toml, sizeof(toml), "%s/api.toml", t_tmpdir());
    snprintf(scan, sizeof(scan), "%s/corpus/scanned/scan-long-r-intro-p24-mild150.pdf", t_shared());
    FILE *f = fopen(toml, "w");
    T_CHECK(f != NULL);
    if (f) {
        /* a generous idle timeout: this test counts requests, and a slow (sanitised, loaded)
         * run must not turn one answer into a timeout and a retry */
        const char *t = toml1("deepseek", s.port, 0, NULL);
        const char *cut = strstr(t, "idle_timeout_s = 0.5\n");
        T_CHECK(cut != NULL);
        if (cut)
            fprintf(f, "%.*sidle_timeout_s = 30\n%s", (int)(cut - t), t,
                    cut + strlen("idle_timeout_s = 0.5\n"));
        fclose(f);
    }
    quire_error err = {0, ""};
    quire_config *cfg = NULL;
    T_CHECKF(quire_config_load(toml, &cfg, &err) == QUIRE_OK, "load: %s", err.msg);
    T_EQ_INT(quire_config_n_backends(cfg), 1);
    T_CHECK(cfg && strcmp(quire_config_source(cfg), toml) == 0);
    quire_converter_params cp = quire_converter_default_params();
    cp.config = cfg;
    quire_converter *conv = NULL;
    T_CHECKF(quire_converter_new(&cp, &conv, &err) == QUIRE_OK, "converter: %s", err.msg);
    quire_convert_params p = quire_convert_default_params();
    p.vlm = QUIRE_VLM_ALWAYS;
    quire_convert_result *res = NULL;
    quire_status st = conv ? quire_convert_file(conv, scan, &p, &res, &err) : QUIRE_ERROR;
    T_CHECKF(st == QUIRE_OK, "convert: %s", err.msg);
    if (res) {
        T_CHECK(strstr(res->output, "# Replayed page") != NULL);
        T_EQ_INT(res->n_reports, 1);
        T_EQ_INT(res->reports[0].method, QUIRE_METHOD_VLM);
        T_CHECK(res->page_vlm && res->page_vlm[0] && strstr(res->page_vlm[0], "\"outcome\":\"ok\""));
    }
    quire_convert_result_free(res);
    quire_converter_free(conv);
    stop_server(&s);
    T_EQ_INT(log_count(&s, "\"kind\":\"ok\""), 1);
    /* a converter without a config: the VLM mode is an argument error naming the config */
    cp = quire_converter_default_params();
    conv = NULL;
    T_CHECK(quire_converter_new(&cp, &conv, &err) == QUIRE_OK);
    res = NULL;
    st = conv ? quire_convert_file(conv, scan, &p, &res, &err) : QUIRE_ERROR;
    T_EQ_INT(st, QUIRE_INVALID_ARG);
    T_CHECK(res == NULL && strstr(err.msg, "quire.toml") && strstr(err.msg, "backends"));
    quire_converter_free(conv);
    quire_config_free(cfg);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *slash = strrchr(argv[0], '/');
    snprintf(replay_bin, sizeof(replay_bin), "%.*s/vlm_replay",
             slash ? (int)(slash - argv[0]) : 1, slash ? argv[0] : ".");
    T_RUN(test_status_classes);
    T_RUN(test_retry_after);
    T_RUN(test_urls);
    T_RUN(test_request_bodies);
    T_RUN(test_answers);
    T_RUN(test_loop_fixtures);
    T_RUN(test_checks_accept_real_pages);
    T_RUN(test_normalise);
    T_RUN(test_flavors_ok);
    T_RUN(test_retry_after_and_5xx);
    T_RUN(test_rejections);
    T_RUN(test_fallback_and_disable);
    T_RUN(test_probe_and_keys);
    T_RUN(test_timeouts);
    T_RUN(test_cache);
    T_RUN(test_public_api_config);
    T_RUN(test_image_encoders);
    return t_done();
}
