/*
 * fuzz_http.c — the JSON request bodies of POST /v1/embeddings and POST /v1/search
 * (src/server/routes.c) through the route handlers the HTTP layer calls, on a real
 * server object: quire_server_new with examples/tiny-bert and a read-only copy of
 * tests/data/store-v1.db (collection "fixture", made with tiny-bert). No request goes
 * over the socket; the handlers get the body as libmicrohttpd would hand it over
 * (NUL-terminated). Every input goes to both routes. Checks: a status is set and the
 * reply body is valid JSON.
 */
#include <jansson.h>

#include "fuzz_common.h"

#include "core/core.h"
#include "server/server_int.h"

static quire_model *model;
static quire_store *store;
static quire_server *srv;

static void die(const char *what, const quire_error *e)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, e->msg);
    abort();
}

static void init(void)
{
    fz_quiet();
    quire_error e = {0, ""};
    char path[PATH_MAX], db[PATH_MAX];
    fz_repo_path(path, sizeof path, "examples/tiny-bert");
    if (quire_model_open(path, NULL, &model, &e) != QUIRE_OK)
        die("model", &e);
    /* a private copy: the read-only open of a WAL store writes its -shm next to it */
    fz_repo_path(path, sizeof path, "tests/data/store-v1.db");
    fz_path(db, sizeof db, "store.db");
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, &e);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    fz_write(db, buf, n);
    if (quire_store_open(db, QUIRE_STORE_READONLY, &store, &e) != QUIRE_OK)
        die("store", &e);
    quire_server_params sp = quire_server_default_params();
    sp.port = 0;
    sp.n_batchers = 1;
    sp.batch_wait_us = -1;
    if (quire_server_new(model, store, NULL, &sp, &srv, &e) != QUIRE_OK)
        die("server", &e);
}

static void route(int which, const char *body, size_t len)
{
    reply r;
    memset(&r, 0, sizeof r);
    qr_buf_init(&r.body, (size_t)1 << 30);
    r.content_type = "application/json";
    if (which == 0)
        qr_route_embeddings(srv, body, len, &r);
    else
        qr_route_search(srv, body, len, &r);
    if (r.status < 200 || r.status > 599 || r.body.failed)
        abort();
    json_error_t je;
    json_t *j = json_loadb(r.body.data, r.body.len, 0, &je);
    if (!j) {
        fprintf(stderr, "fuzz_http: reply %d is not JSON (%s): %.*s\n", r.status, je.text,
                (int)QR_MIN(r.body.len, (size_t)2000), r.body.data);
        abort();
    }
    json_decref(j);
    qr_buf_free(&r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        init();
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = 0;
    route(0, body, size);
    route(1, body, size);
    free(body);
    return 0;
}
