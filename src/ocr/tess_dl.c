/*
 * tess_dl.c — loads libtesseract on first use and fills the call table (see tess_dl.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define QR_TESS_NO_MACROS
#include "tess_dl.h"

qr_tess_api qr_tess;
qr_lept_api qr_lept;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static void *handle;
static char load_error[200];

static void load(void)
{
    static const char *const names[] = {"libtesseract.so.5", "libtesseract.so"};
    for (size_t i = 0; i < QR_ARRAY_LEN(names) && !handle; i++)
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof(load_error),
                 "cannot load libtesseract.so.5 (%s): apt-get install libtesseract5",
                 dlerror());
        return;
    }
    qr_tess_api api;
    memset(&api, 0, sizeof(api));
#define QR_TESS_LOOKUP(name)                                                                 \
    {                                                                                        \
        void *sym = dlsym(handle, #name);                                                    \
        if (!sym) {                                                                          \
            snprintf(load_error, sizeof(load_error), "libtesseract.so.5 lacks %s", #name);   \
            dlclose(handle);                                                                 \
            handle = NULL;                                                                   \
            return;                                                                          \
        }                                                                                    \
        memcpy(&api.name, &sym, sizeof(sym)); /* object -> function pointer */               \
    }
    QR_TESS_FUNCS(QR_TESS_LOOKUP)
#undef QR_TESS_LOOKUP
    qr_tess = api;

    /* Leptonica: optional (deskew only) */
    qr_lept_api lept;
    memset(&lept, 0, sizeof(lept));
    lept.ok = 1;
#define QR_LEPT_LOOKUP(name)                                                                 \
    {                                                                                        \
        void *sym = dlsym(handle, #name);                                                    \
        if (!sym)                                                                            \
            lept.ok = 0;                                                                     \
        memcpy(&lept.name, &sym, sizeof(sym));                                               \
    }
    QR_LEPT_FUNCS(QR_LEPT_LOOKUP)
#undef QR_LEPT_LOOKUP
    if (lept.ok)
        lept.setMsgSeverity(L_SEVERITY_NONE); /* its warnings would go to our stderr */
    qr_lept = lept;
}

quire_status qr_tess_load(quire_error *err)
{
    pthread_once(&load_once, load);
    if (!handle)
        return qr_err(err, QUIRE_NOT_FOUND, "OCR: %s", load_error);
    return QUIRE_OK;
}

void *qr_tess_handle(void) { return handle; }

const char *qr_ocr_tesseract_version(void)
{
    if (qr_tess_load(NULL) != QUIRE_OK)
        return NULL;
    void *sym = dlsym(handle, "TessVersion");
    const char *(*fn)(void) = NULL;
    if (!sym)
        return NULL;
    memcpy(&fn, &sym, sizeof(sym)); /* object -> function pointer */
    return fn();
}
