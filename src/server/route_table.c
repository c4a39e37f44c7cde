/*
 * route_table.c — every route `quire serve` answers, as (method, OpenAPI path template).
 * This one list is what the HTTP layer matches requests against (404 for a URL no entry
 * has, 405 with an Allow header for a known URL asked with another method), and what
 * tests/unit/test_openapi.c compares with the "paths" of docs/openapi.json — the document
 * GET /openapi.json serves — in both directions, so the spec and the server cannot drift.
 */
#include <stdio.h>
#include <string.h>

#include "server/server_int.h"

const qr_route_def qr_srv_routes[] = {
    {"POST", "/v1/embeddings", ROUTE_EMBEDDINGS, 0},
    {"GET", "/v1/models", ROUTE_MODELS, 0},
    {"GET", "/v1/models/{model}", ROUTE_MODELS, 1},
    {"POST", "/v1/search", ROUTE_SEARCH, 0},
    {"POST", "/v1/convert", ROUTE_CONVERT, 0},
    {"GET", "/v1/collections", ROUTE_COLLECTIONS, 0},
    {"GET", "/v1/collections/{name}", ROUTE_COLLECTIONS, 0},
    {"DELETE", "/v1/collections/{name}", ROUTE_COLLECTIONS, 0},
    {"GET", "/v1/collections/{name}/documents", ROUTE_COLLECTIONS, 0},
    {"POST", "/v1/collections/{name}/documents", ROUTE_COLLECTIONS, 0},
    {"DELETE", "/v1/collections/{name}/documents", ROUTE_COLLECTIONS, 0},
    {"GET", "/v1/collections/{name}/documents/{id}", ROUTE_COLLECTIONS, 1},
    {"DELETE", "/v1/collections/{name}/documents/{id}", ROUTE_COLLECTIONS, 1},
    {"POST", "/embed", ROUTE_TEI_EMBED, 0},
    {"GET", "/info", ROUTE_TEI_INFO, 0},
    {"POST", "/api/embed", ROUTE_OLLAMA_EMBED, 0},
    {"GET", "/health", ROUTE_HEALTH, 0},
    {"GET", "/metrics", ROUTE_METRICS, 0},
    {"GET", "/openapi.json", ROUTE_OPENAPI, 0},
};
const int qr_srv_n_routes = (int)(sizeof qr_srv_routes / sizeof qr_srv_routes[0]);

/* Does url match the template? A {param} matches one non-empty segment, or with tail
 * set, when it ends the template, everything left (model and document ids may hold
 * slashes). One trailing '/' after a literal end is accepted ("/v1/collections/"). */
int qr_srv_route_matches(const char *tmpl, int tail, const char *url)
{
    const char *t = tmpl, *u = url;
    while (*t) {
        if (*t == '{') {
            const char *close = strchr(t, '}');
            if (!close)
                return 0;
            t = close + 1;
            if (*t == '\0' && tail)
                return *u != '\0'; /* the last parameter takes the rest ("/srv/a.pdf") */
            if (*u == '\0' || *u == '/')
                return 0; /* an empty parameter */
            while (*u && *u != '/')
                u++;
            continue;
        }
        if (*t != *u)
            return 0;
        t++;
        u++;
    }
    return *u == '\0' || (u[0] == '/' && u[1] == '\0' && u - url > 1);
}

int qr_srv_route_find(const char *method, const char *url, char *allow, size_t cap)
{
    int known = 0;
    size_t n = 0;
    int head = strcmp(method, "HEAD") == 0;
    if (cap)
        allow[0] = '\0';
    for (int i = 0; i < qr_srv_n_routes; i++) {
        const qr_route_def *d = &qr_srv_routes[i];
        if (!qr_srv_route_matches(d->path, d->tail, url))
            continue;
        if (strcmp(method, d->method) == 0 || (head && strcmp(d->method, "GET") == 0))
            return i;
        known = 1;
        int w = snprintf(allow + n, cap > n ? cap - n : 0, "%s%s", n ? ", " : "", d->method);
        if (w > 0 && n + (size_t)w < cap)
            n += (size_t)w;
    }
    return known ? -2 : -1;
}
