/*
 * error.c — status names, the caller-owned error buffer, version.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *quire_status_str(quire_status status)
{
    static const char *const names[] = {"OK",     "ERROR",       "NOMEM",       "IO",
                                        "FORMAT", "INVALID_ARG", "UNSUPPORTED", "LIMIT",
                                        "NOT_FOUND", "CANCELLED", "BUSY", "MISMATCH"};
    int p = (int)QUIRE_STATUS_PRIMARY(status);
    if (p >= 0 && (size_t)p < QR_ARRAY_LEN(names))
        return names[p];
    return "UNKNOWN";
}

unsigned quire_version(void) { return QUIRE_VERSION_NUMBER; }

const char *quire_version_str(void) { return QUIRE_VERSION_STRING; }

quire_status qr_err(quire_error *err, quire_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = (int)code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        /* keep messages one line */
        for (char *p = err->msg; *p; p++) {
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        }
    }
    return code;
}
