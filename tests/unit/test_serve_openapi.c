/*
 * test_serve_openapi.c — docs/openapi.json against the server's route table
 * (src/server/route_table.c, the list the HTTP layer dispatches by): every (method, path)
 * the server registers is an operation of the spec and every operation of the spec is a
 * registered route; the copy compiled into the library (what GET /openapi.json serves)
 * is the file byte for byte; every path parameter is declared; every $ref resolves; and
 * the matcher sends a concrete URL of each route to that route (and others to 404/405).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"
#include "testlib.h"

static json_t *spec;

static json_t *load_spec(void)
{
    json_error_t je;
    json_t *j = json_load_file("docs/openapi.json", 0, &je);
    T_CHECKF(j != NULL, "docs/openapi.json: %s (line %d)", je.text, je.line);
    return j;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static int is_method(const char *k)
{
    static const char *const m[] = {"get", "put", "post", "delete", "options", "head",
                                    "patch", "trace"};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(k, m[i]) == 0)
            return 1;
    return 0;
}

static void test_embedded_copy_is_the_file(void)
{
    size_t len = 0;
    char *file = t_read_file("docs/openapi.json", &len);
    T_CHECK(file != NULL);
    if (!file)
        return;
    T_EQ_INT(strlen(qr_srv_openapi_json), len);
    T_CHECKF(strcmp(file, qr_srv_openapi_json) == 0,
             "the compiled-in spec differs from docs/openapi.json (rebuild)");
    free(file);
    T_CHECK(strncmp(str(spec, "openapi"), "3.", 2) == 0);
    T_CHECKF(strcmp(str(json_object_get(spec, "info"), "version"), QUIRE_VERSION_STRING) == 0,
             "info.version is not " QUIRE_VERSION_STRING);
}

/* Every route of the table is an operation of the spec. */
static void test_routes_in_spec(void)
{
    json_t *paths = json_object_get(spec, "paths");
    T_CHECK(json_is_object(paths));
    T_CHECK(qr_srv_n_routes >= 18);
    for (int i = 0; i < qr_srv_n_routes; i++) {
        char m[16];
        lower(qr_srv_routes[i].method, m, sizeof m);
        json_t *op = json_object_get(json_object_get(paths, qr_srv_routes[i].path), m);
        T_CHECKF(json_is_object(op), "route %s %s is not in docs/openapi.json",
                 qr_srv_routes[i].method, qr_srv_routes[i].path);
        T_CHECKF(json_object_size(json_object_get(op, "responses")) > 0,
                 "%s %s has no responses", qr_srv_routes[i].method, qr_srv_routes[i].path);
        T_CHECKF(json_is_string(json_object_get(op, "operationId")), "%s %s has no operationId",
                 qr_srv_routes[i].method, qr_srv_routes[i].path);
    }
}

/* Every operation of the spec is a route of the table. */
static void test_spec_in_routes(void)
{
    const char *path, *key;
    json_t *item, *op;
    int n_ops = 0;
    json_object_foreach(json_object_get(spec, "paths"), path, item) {
        json_object_foreach(item, key, op) {
            if (!is_method(key))
                continue;
            n_ops++;
            int found = 0;
            for (int i = 0; i < qr_srv_n_routes && !found; i++) {
                char m[16];
                lower(qr_srv_routes[i].method, m, sizeof m);
                found = strcmp(m, key) == 0 && strcmp(qr_srv_routes[i].path, path) == 0;
            }
            T_CHECKF(found, "spec operation %s %s is no route of the server", key, path);
        }
    }
    T_EQ_INT(n_ops, qr_srv_n_routes);
}

/* {param} in a path is declared as an "in": "path", required parameter (path or op). */
static int declared(json_t *params, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        if (strcmp(str(p, "name"), name) == 0 && strcmp(str(p, "in"), "path") == 0 &&
            json_is_true(json_object_get(p, "required")))
            return 1;
    }
    return 0;
}

static void test_path_params(void)
{
    const char *path, *key;
    json_t *item, *op;
    json_object_foreach(json_object_get(spec, "paths"), path, item) {
        json_object_foreach(item, key, op) {
            if (!is_method(key))
                continue;
            for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
                char name[64];
                const char *e = strchr(p, '}');
                snprintf(name, sizeof name, "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
                T_CHECKF(declared(json_object_get(item, "parameters"), name) ||
                             declared(json_object_get(op, "parameters"), name),
                         "%s %s: path parameter {%s} is not declared", key, path, name);
            }
        }
    }
}

/* Every "$ref": "#/components/<kind>/<name>" names a component that exists. */
static void check_refs(json_t *j, int *n)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) check_refs(v, n);
        return;
    }
    if (!json_is_object(j))
        return;
    json_object_foreach(j, k, v) {
        if (strcmp(k, "$ref") == 0 && json_is_string(v)) {
            char kind[32], name[64];
            (*n)++;
            int ok = sscanf(json_string_value(v), "#/components/%31[^/]/%63s", kind, name) == 2;
            T_CHECKF(ok && json_object_get(json_object_get(json_object_get(spec, "components"),
                                                           kind), name),
                     "unresolved $ref %s", json_string_value(v));
        } else {
            check_refs(v, n);
        }
    }
}

static void test_refs_resolve(void)
{
    int n = 0;
    check_refs(spec, &n);
    T_CHECK(n > 30);
}

/* The matcher: a concrete URL of each route finds that route; wrong methods are 405 with
 * the Allow list; unknown URLs are 404. */
static void test_matcher(void)
{
    for (int i = 0; i < qr_srv_n_routes; i++) {
        char url[256];
        size_t n = 0;
        for (const char *p = qr_srv_routes[i].path; *p && n + 8 < sizeof url;) {
            if (*p == '{') {
                n += (size_t)snprintf(url + n, sizeof url - n, "x-1");
                p = strchr(p, '}') + 1;
            } else {
                url[n++] = *p++;
            }
        }
        url[n] = '\0';
        char allow[48];
        int k = qr_srv_route_find(qr_srv_routes[i].method, url, allow, sizeof allow);
        T_CHECKF(k == i, "%s %s -> %d, want %d", qr_srv_routes[i].method, url, k, i);
    }
    char allow[48];
    T_EQ_INT(qr_srv_route_find("PUT", "/v1/collections/c/documents", allow, sizeof allow), -2);
    T_CHECKF(strcmp(allow, "GET, POST, DELETE") == 0, "Allow: %s", allow);
    T_EQ_INT(qr_srv_route_find("POST", "/v1/collections/c", allow, sizeof allow), -2);
    T_CHECKF(strcmp(allow, "GET, DELETE") == 0, "Allow: %s", allow);
    T_EQ_INT(qr_srv_route_find("GET", "/v1/embeddings", allow, sizeof allow), -2);
    T_CHECKF(strcmp(allow, "POST") == 0, "Allow: %s", allow);
    T_CHECK(qr_srv_route_find("HEAD", "/health", allow, sizeof allow) >= 0);
    /* ids may hold slashes; a collection name may not be empty */
    int d = qr_srv_route_find("DELETE", "/v1/collections/c/documents//srv/a.pdf", allow,
                              sizeof allow);
    T_CHECK(d >= 0 && strcmp(qr_srv_routes[d].path, "/v1/collections/{name}/documents/{id}") == 0);
    int m = qr_srv_route_find("GET", "/v1/models/org/model-v2", allow, sizeof allow);
    T_CHECK(m >= 0 && strcmp(qr_srv_routes[m].path, "/v1/models/{model}") == 0);
    T_CHECK(qr_srv_route_find("GET", "/v1/collections/", allow, sizeof allow) >= 0);
    T_EQ_INT(qr_srv_route_find("GET", "/v1/collections//documents", allow, sizeof allow), -1);
    T_EQ_INT(qr_srv_route_find("GET", "/v2/nothing", allow, sizeof allow), -1);
    T_EQ_INT(qr_srv_route_find("GET", "/healthz", allow, sizeof allow), -1);
    T_EQ_INT(qr_srv_route_find("GET", "/", allow, sizeof allow), -1);
}

int main(void)
{
    spec = load_spec();
    if (!spec)
        return t_done();
    T_RUN(test_embedded_copy_is_the_file);
    T_RUN(test_routes_in_spec);
    T_RUN(test_spec_in_routes);
    T_RUN(test_path_params);
    T_RUN(test_refs_resolve);
    T_RUN(test_matcher);
    json_decref(spec);
    return t_done();
}
