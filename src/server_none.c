/*
 * server_none.c — the HTTP server API in a build without libmicrohttpd
 * (WITH_SERVER=0, e.g. the static aarch64 cross build): every call says so.
 */
#include <string.h>

#include "core/core.h"
#include "server/server_extra.h"

quire_server_params quire_server_default_params(void)
{
    quire_server_params p;
    memset(&p, 0, sizeof(p));
    return p;
}

quire_status quire_server_new(const quire_model *model, quire_store *store,
                              quire_converter *converter, const quire_server_params *params,
                              quire_server **out, quire_error *err)
{
    (void)model;
    (void)store;
    (void)converter;
    (void)params;
    if (out)
        *out = NULL;
    return qr_err(err, QUIRE_UNSUPPORTED,
                  "this build of quire has no HTTP server (built with WITH_SERVER=0)");
}

int quire_server_port(const quire_server *srv)
{
    (void)srv;
    return 0;
}

quire_status quire_server_run(quire_server *srv, volatile int *stop)
{
    (void)srv;
    (void)stop;
    return QUIRE_UNSUPPORTED;
}

void quire_server_free(quire_server *srv) { (void)srv; }

void qr_server_set_metrics_hook(quire_server *srv, qr_metrics_hook fn, void *ud)
{
    (void)srv;
    (void)fn;
    (void)ud;
}
