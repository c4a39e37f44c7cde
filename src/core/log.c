/*
 * log.c — one log callback for the library; default writes WARN+ to stderr.
 */
#include <stdio.h>

#include "core.h"

int qr_log_min_level = QUIRE_LOG_WARN;
static quire_log_fn log_fn;
static void *log_ud;

void quire_log_set(quire_log_fn fn, void *user_data, int min_level)
{
    log_fn = fn;
    log_ud = user_data;
    qr_log_min_level = fn ? min_level : QUIRE_LOG_WARN;
}

void qr_log_emit(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, msg, log_ud);
        return;
    }
    static const char *const names[] = {"debug", "info", "warning", "error"};
    const char *name = level >= 0 && level <= 3 ? names[level] : "log";
    fprintf(stderr, "quire: %s: %s\n", name, msg);
}
