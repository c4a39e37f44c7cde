/*
 * server_extra.h — internal hooks of the HTTP server for the CLI (not in quire.h):
 * lines appended to GET /metrics, e.g. the search replica's feed lag (quire serve --cache).
 */
#ifndef QR_SERVER_EXTRA_H
#define QR_SERVER_EXTRA_H

#include "core/core.h"
#include "quire.h"

/* Appends Prometheus text lines to o; called from a request thread. */
typedef void (*qr_metrics_hook)(void *ud, qr_buf *o);
/* Set (or clear, fn NULL) the hook; ud must outlive the server. A no-op without the server
 * (WITH_SERVER=0). */
void qr_server_set_metrics_hook(quire_server *srv, qr_metrics_hook fn, void *ud);

#endif
