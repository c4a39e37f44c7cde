/*
 * test_config.c — quire.toml: the TOML-subset parser (values, refusals with line and
 * column) and the config checker (defaults, bounds, unknown keys, loopback rule, env
 * overrides, fallback chain).
 */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "testlib.h"

static json_t *parse_ok(const char *text)
{
    json_t *doc = NULL;
    quire_error err = {0, ""};
    quire_status st = qr_toml_parse(text, strlen(text), "t.toml", &doc, NULL, &err);
    T_CHECKF(st == QUIRE_OK, "parse failed: %s", err.msg);
    return doc;
}

/* Parsing must fail with a message that contains want (e.g. "t.toml:3:7: "). */
static void parse_bad(const char *text, const char *want)
{
    json_t *doc = NULL;
    quire_error err = {0, ""};
    quire_status st = qr_toml_parse(text, strlen(text), "t.toml", &doc, NULL, &err);
    T_CHECKF(st == QUIRE_FORMAT, "accepted: %s", text);
    T_CHECKF(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    T_CHECK(doc == NULL);
}

static void test_toml_values(void)
{
    json_t *d = parse_ok("# comment\n"
                         "a = 1\n"
                         "b = -2_000\n"
                         "c = 0.5\n"
                         "d = 1e3\n"
                         "e = \"x\\ty\\u00e9\\\"\"  # trailing\n"
                         "f = 'C:\\path'\n"
                         "g = true\n"
                         "h = [ 1, 2,\n  3, # c\n ]\n"
                         "i = { top_k = 1, s = \"q\", n = { m = [] } }\r\n"
                         "[t.u]\n"
                         "\"quoted key\" = false\n"
                         "[t]\n"
                         "v = 1.5e3\n");
    if (!d)
        return;
    T_EQ_INT(json_integer_value(json_object_get(d, "a")), 1);
    T_EQ_INT(json_integer_value(json_object_get(d, "b")), -2000);
    T_CHECK(json_is_real(json_object_get(d, "c")) && json_real_value(json_object_get(d, "c")) == 0.5);
    T_CHECK(json_real_value(json_object_get(d, "d")) == 1000.0);
    T_CHECK(!strcmp(json_string_value(json_object_get(d, "e")), "x\ty\xc3\xa9\""));
    T_CHECK(!strcmp(json_string_value(json_object_get(d, "f")), "C:\\path"));
    T_CHECK(json_is_true(json_object_get(d, "g")));
    T_EQ_INT(json_array_size(json_object_get(d, "h")), 3);
    json_t *i = json_object_get(d, "i");
    T_EQ_INT(json_integer_value(json_object_get(i, "top_k")), 1);
    T_CHECK(json_is_array(json_object_get(json_object_get(i, "n"), "m")));
    json_t *t = json_object_get(d, "t");
    T_CHECK(json_is_false(json_object_get(json_object_get(t, "u"), "quoted key")));
    T_CHECK(json_real_value(json_object_get(t, "v")) == 1500.0);
    json_decref(d);
}

static void test_toml_errors(void)
{
    parse_bad("a = 1\nb = \n", "t.toml:2:5: expected a value");
    parse_bad("a = 1\na = 2\n", "t.toml:2:1: key defined twice");
    parse_bad("[x]\n[y]\n[x]\n", "t.toml:3:1: table defined twice");
    parse_bad("a = \"abc\n", "t.toml:1:9: unterminated string");
    parse_bad("a = 1 2\n", "t.toml:1:7: unexpected text");
    parse_bad("a.b = 1\n", "t.toml:1:2: dotted keys");
    parse_bad("a = \"\"\"x\"\"\"\n", "t.toml:1:5: multi-line");
    parse_bad("d = 1979-05-27\n", "t.toml:1:5: dates");
    parse_bad("x = 0x1f\n", "t.toml:1:5: hex");
    parse_bad("x = 012\n", "t.toml:1:5: invalid value");
    parse_bad("x = 1__0\n", "t.toml:1:5: invalid value");
    parse_bad("x = [1, 2\n", "expected ',' or ']'");
    parse_bad("x = { a = 1\n", "inline table");
    parse_bad("[[a]]\n", "t.toml:1:2: arrays of tables");
    parse_bad("x = \"\\q\"\n", "t.toml:1:7: unknown escape");
    parse_bad("x = \"\\u0000\"\n", "NUL");
    parse_bad("x = \"\xff\"\n", "t.toml:1:6: invalid UTF-8");
    parse_bad("x = 99999999999999999999\n", "out of range");
    parse_bad("x = 1\n[x]\n", "t.toml:2:2: table name is already a value");
    parse_bad("= 1\n", "t.toml:1:1: expected a key");
    parse_bad("x = yes\n", "t.toml:1:5: invalid value");
    parse_bad("x = -inf\n", "t.toml:1:5: inf and nan");
    parse_bad("x = 1e999\n", "t.toml:1:5: float out of range");
    /* nesting is bounded */
    char deep[200];
    memset(deep, '[', sizeof deep);
    memcpy(deep, "x = ", 4);
    deep[sizeof deep - 1] = '\0';
    parse_bad(deep, "nested too deeply");
}

static const char *good_cfg =
    "[resources]\n"
    "max_workers = 4\n"
    "page_render_dpi = 144\n"
    "\n"
    "[backends]\n"
    "default = \"ds\"\n"
    "fallback_chain = [\"ds\", \"nemo\"]\n"
    "\n"
    "[backends.ds]\n"
    "protocol = \"deepseek\"\n"
    "base_url = \"http://127.0.0.1:8000/v1\"\n"
    "model = \"deepseek-ai/DeepSeek-OCR\"\n"
    "max_tokens = 2048\n"
    "extra_body = { vllm_xargs = { ngram_size = 30, window_size = 90 } }\n"
    "\n"
    "[backends.nemo]\n"
    "protocol = \"nemotron-tools\"\n"
    "base_url = \"https://integrate.api.nvidia.com/v1\"\n"
    "allow_remote = true\n"
    "model = \"nvidia/nemotron-parse\"\n"
    "api_key_env = \"NVIDIA_API_KEY\"\n"
    "rpm = 40\n";

static void test_config_good(void)
{
    quire_config *c = NULL;
    quire_error err = {0, ""};
    quire_status st = quire_config_parse(good_cfg, strlen(good_cfg), "q.toml", &c, &err);
    T_CHECKF(st == QUIRE_OK, "%s", err.msg);
    if (!c)
        return;
    T_EQ_INT(c->max_workers, 4);
    T_EQ_INT(c->page_render_dpi, 144);
    T_EQ_INT(c->http_retry_attempts, 3);
    T_EQ_INT(c->n_backends, 2);
    T_EQ_INT(c->n_chain, 2);
    T_CHECK(!strcmp(c->default_backend, "ds"));
    const qr_backend_cfg *ds = qr_config_backend(c, "ds");
    const qr_backend_cfg *nemo = qr_config_backend(c, "nemo");
    T_CHECK(ds && nemo);
    if (ds && nemo) {
        T_EQ_INT(ds->protocol, QR_PROTO_DEEPSEEK);
        T_EQ_INT(ds->max_image_px, 1288);
        T_EQ_INT(ds->max_image_b64, 0);
        T_CHECK(ds->read_timeout_s == 120);
        T_EQ_INT(json_integer_value(json_object_get(
                     json_object_get(ds->extra_body, "vllm_xargs"), "ngram_size")),
                 30);
        T_EQ_INT(nemo->protocol, QR_PROTO_NEMOTRON_TOOLS);
        T_EQ_INT(nemo->max_image_b64, 180000);
        T_EQ_INT(nemo->max_image_px, 1648);
        T_CHECK(nemo->rpm == 40);
        T_CHECK(!strcmp(nemo->api_key_env, "NVIDIA_API_KEY"));
    }
    T_EQ_INT(quire_config_n_backends(c), 2);
    T_CHECK(!strcmp(quire_config_source(c), "q.toml"));
    quire_config_free(c);
}

static void cfg_bad(const char *text, const char *want)
{
    quire_config *c = NULL;
    quire_error err = {0, ""};
    quire_status st = quire_config_parse(text, strlen(text), "q.toml", &c, &err);
    T_CHECKF(st == QUIRE_FORMAT, "accepted: %s", text);
    T_CHECKF(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    T_CHECK(c == NULL);
    quire_config_free(c);
}

#define B "[backends.a]\nbase_url = \"http://localhost:1/v1\"\nmodel = \"m\"\n"
static void test_config_errors(void)
{
    cfg_bad("[resources]\nmax_workers = 0\n", "q.toml:2:1: resources.max_workers: must be between 1");
    cfg_bad("[resources]\nmax_wrkers = 2\n", "q.toml:2:1: resources.max_wrkers: unknown key");
    cfg_bad("[resources]\nhttp_timeout_s = \"x\"\n", "q.toml:2:1: resources.http_timeout_s: expected a number");
    cfg_bad(B "temperature = 3\n", "q.toml:4:1: backends.a.temperature: must be between 0 and 2");
    cfg_bad(B "protocol = \"deepsek\"\n", "q.toml:4:1: backends.a.protocol: expected");
    cfg_bad(B "api_key = \"sk-123\"\n", "q.toml:4:1: backends.a.api_key: keys are never read");
    cfg_bad(B "extra_body = 3\n", "backends.a.extra_body: expected a table");
    cfg_bad(B "allow_remote = 1\n", "backends.a.allow_remote: expected true or false");
    cfg_bad("[backends.a]\nmodel = \"m\"\n", "backends.a.base_url is missing");
    cfg_bad("[backends.a]\nbase_url = \"ftp://localhost/\"\nmodel = \"m\"\n", "must start with http");
    cfg_bad("[backends.a]\nbase_url = \"http://10.0.0.2:8000/v1\"\nmodel = \"m\"\n",
            "not a loopback address");
    cfg_bad("[backends.a]\nbase_url = \"http://127.0.0.1.evil.com/v1\"\nmodel = \"m\"\n",
            "not a loopback address");
    cfg_bad("[backends.a]\nbase_url = \"http://localhost:1/v1\"\n", "backends.a.model is missing");
    cfg_bad(B "[backends]\ndefault = \"b\"\n", "backends.default names 'b'");
    cfg_bad(B "[backends]\nfallback_chain = [\"a\", \"z\"]\n", "fallback_chain names 'z'");
    cfg_bad(B "[backends]\nfallback_chain = [\"a\", \"a\"]\n", "lists 'a' twice");
    cfg_bad(B "[backends]\nfallback_chain = [1]\n", "element 1 is not a backend name");
    cfg_bad("[backends]\nx = 1\n", "q.toml:2:1: backends.x: unknown key");
    cfg_bad("top = 1\n", "q.toml:1:1: top: unknown key");
    cfg_bad(B "image_format = \"gif\"\n", "image_format must be");
    cfg_bad("[resources]\nmax_workers = 2\nmax_workers = 3\n", "q.toml:3:1: key defined twice");
}

static void test_loopback(void)
{
    T_CHECK(qr_url_is_loopback("http://localhost:8000/v1"));
    T_CHECK(qr_url_is_loopback("http://127.0.0.1/v1"));
    T_CHECK(qr_url_is_loopback("http://127.3.4.5:9/x"));
    T_CHECK(qr_url_is_loopback("http://[::1]:8080/v1"));
    T_CHECK(qr_url_is_loopback("http://user@localhost/v1"));
    T_CHECK(!qr_url_is_loopback("http://localhost.example.com/v1"));
    T_CHECK(!qr_url_is_loopback("https://openrouter.ai/api/v1"));
    T_CHECK(!qr_url_is_loopback("http://127.0.0.1@evil.com/v1"));
    T_CHECK(!qr_url_is_loopback("http://128.0.0.1/v1"));
    T_CHECK(!qr_url_is_loopback("localhost"));
}

static void test_env_overrides(void)
{
    const char *text = B "[backends.b-2]\nbase_url = \"http://localhost:2/v1\"\nmodel = \"n\"\n";
    setenv("QUIRE_RESOURCES_MAX_WORKERS", "3", 1);
    setenv("QUIRE_BACKEND_A_MAX_TOKENS", "1024", 1);
    setenv("QUIRE_BACKEND_B_2_EXTRA_BODY", "{ top_k = 1 }", 1);
    setenv("QUIRE_BACKENDS_FALLBACK_CHAIN", "b-2,a", 1);
    quire_config *c = NULL;
    quire_error err = {0, ""};
    quire_status st = quire_config_parse(text, strlen(text), "q.toml", &c, &err);
    T_CHECKF(st == QUIRE_OK, "%s", err.msg);
    if (c) {
        T_EQ_INT(c->max_workers, 3);
        T_EQ_INT(qr_config_backend(c, "a")->max_tokens, 1024);
        T_EQ_INT(json_integer_value(json_object_get(qr_config_backend(c, "b-2")->extra_body,
                                                    "top_k")),
                 1);
        T_EQ_INT(c->n_chain, 2);
        T_CHECK(!strcmp(c->default_backend, "b-2"));
        quire_config_free(c);
    }
    setenv("QUIRE_BACKEND_A_MAX_TOKENS", "many", 1);
    c = NULL;
    st = quire_config_parse(text, strlen(text), "q.toml", &c, &err);
    T_CHECK(st == QUIRE_FORMAT && strstr(err.msg, "QUIRE_BACKEND_A_MAX_TOKENS"));
    quire_config_free(c);
    setenv("QUIRE_BACKEND_A_MAX_TOKENS", "0", 1);
    c = NULL;
    st = quire_config_parse(text, strlen(text), "q.toml", &c, &err);
    T_CHECK(st == QUIRE_FORMAT && strstr(err.msg, "QUIRE_BACKEND_A_MAX_TOKENS: must be"));
    quire_config_free(c);
    setenv("QUIRE_BACKEND_A_BASE_URL", "http://192.168.1.1/v1", 1);
    unsetenv("QUIRE_BACKEND_A_MAX_TOKENS");
    c = NULL;
    st = quire_config_parse(text, strlen(text), "q.toml", &c, &err);
    T_CHECK(st == QUIRE_FORMAT && strstr(err.msg, "not a loopback"));
    quire_config_free(c);
    unsetenv("QUIRE_BACKEND_A_BASE_URL");
    unsetenv("QUIRE_RESOURCES_MAX_WORKERS");
    unsetenv("QUIRE_BACKEND_B_2_EXTRA_BODY");
    unsetenv("QUIRE_BACKENDS_FALLBACK_CHAIN");
}

static void test_load_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/quire.toml", t_tmpdir());
    T_CHECK(t_write_file(path, good_cfg, strlen(good_cfg)) == 0);
    quire_config *c = NULL;
    quire_error err = {0, ""};
    T_CHECK(quire_config_load(path, &c, &err) == QUIRE_OK);
    T_CHECK(c && !strcmp(quire_config_source(c), path));
    quire_config_free(c);
    setenv("QUIRE_CONFIG", path, 1);
    c = NULL;
    T_CHECK(quire_config_load(NULL, &c, &err) == QUIRE_OK);
    T_EQ_INT(quire_config_n_backends(c), 2);
    quire_config_free(c);
    setenv("QUIRE_CONFIG", "/nonexistent/quire.toml", 1);
    c = NULL;
    T_CHECK(quire_config_load(NULL, &c, &err) == QUIRE_NOT_FOUND);
    T_CHECK(strstr(err.msg, "/nonexistent/quire.toml") != NULL);
    unsetenv("QUIRE_CONFIG");
    /* allocation failures anywhere: an error, never a crash or a leak (ASan checks) */
    for (long n = 1; n < 400; n++) {
        qr_alloc_fail_at(n);
        c = NULL;
        quire_status st = quire_config_parse(good_cfg, strlen(good_cfg), "q.toml", &c, &err);
        qr_alloc_fail_at(0);
        quire_config_free(c);
        if (st == QUIRE_OK)
            break;
    }
}

int main(void)
{
    T_RUN(test_toml_values);
    T_RUN(test_toml_errors);
    T_RUN(test_config_good);
    T_RUN(test_config_errors);
    T_RUN(test_loopback);
    T_RUN(test_env_overrides);
    T_RUN(test_load_file);
    return t_done();
}
