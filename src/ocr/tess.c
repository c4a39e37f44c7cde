/*
 * tess.c — the Tesseract handle: process-wide setup (one OpenMP thread per handle),
 * finding tessdata, checking that the requested languages are installed (naming the
 * Debian package when one is not), and creating the LSTM engine quietly. Recognition
 * and the walk over Tesseract's result are in tess_page.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocr_int.h"

#include "tess_dl.h"

/* ---- process-wide setup -------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
/* Serialises handle creation: "debug_file" is a global Tesseract parameter. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* omp_set_max_active_levels from libgomp, when Tesseract brought it in (else NULL). */
typedef void (*set_levels_fn)(int);
static set_levels_fn omp_set_levels;

/* libgomp reads OMP_THREAD_LIMIT in its load-time constructor, i.e. before main() when
 * it comes in as a dependency of libtesseract, so the setenv() below only helps when
 * Tesseract is loaded later (dlopen) and for child processes. Tesseract asks for
 * explicit num_threads(N) in its parallel loops, which omp_set_num_threads() cannot
 * lower; a max-active-levels of 0 makes every parallel region run on the calling thread
 * alone. Since OpenMP 5.0 (GCC 11) that setting is per thread, so qr_ocr_page applies it
 * on every call (qr_ocr_limit_threads). Looked up with dlsym so that we need not link
 * libgomp ourselves. Measured on 2 cores: 11.6 s/page without it, 2 s/page with it. */
static void global_init_once(void)
{
    void *sym;
    setenv("OMP_THREAD_LIMIT", "1", 0);
    if (qr_tess_load(NULL) != QUIRE_OK)
        return; /* reported by qr_ocr_new */
    sym = dlsym(qr_tess_handle(), "omp_set_max_active_levels");
    memcpy(&omp_set_levels, &sym, sizeof(omp_set_levels)); /* object -> function pointer */
}

void qr_ocr_global_init(void) { pthread_once(&global_once, global_init_once); }

void qr_ocr_limit_threads(void)
{
    qr_ocr_global_init();
    if (omp_set_levels)
        omp_set_levels(0);
}

/* ---- tessdata and languages ------------------------------------------------------ */

static int has_traineddata(const char *dir, const char *code)
{
    char name[160];
    char path[1024];
    snprintf(name, sizeof(name), "%s.traineddata", code);
    if (qr_path_join(path, sizeof(path), dir, name) != 0)
        return 0;
    return qr_file_exists(path);
}

static int try_dir(char *dir, size_t cap, const char *candidate)
{
    if (!candidate || !*candidate || strlen(candidate) >= cap)
        return -1;
    if (!has_traineddata(candidate, "eng") && !has_traineddata(candidate, "osd")) {
        /* an existing folder with other languages only is still a tessdata folder */
        char probe[1024];
        if (qr_path_join(probe, sizeof(probe), candidate, "configs") != 0 ||
            !qr_file_exists(probe))
            return -1;
    }
    snprintf(dir, cap, "%s", candidate);
    return 0;
}

int qr_ocr_tessdata_dir(char *dir, size_t cap)
{
    const char *env = getenv("TESSDATA_PREFIX");
    char sub[1024];
    if (try_dir(dir, cap, env) == 0)
        return 0;
    /* Tesseract 3 convention: the prefix is the parent of tessdata/ */
    if (env && *env && qr_path_join(sub, sizeof(sub), env, "tessdata") == 0 &&
        try_dir(dir, cap, sub) == 0)
        return 0;
    if (try_dir(dir, cap, "/usr/share/tesseract-ocr/5/tessdata") == 0)
        return 0;
    if (try_dir(dir, cap, "/usr/share/tesseract-ocr/4.00/tessdata") == 0)
        return 0;
    return -1;
}

void qr_ocr_package_name(const char *code, size_t code_len, char *out, size_t cap)
{
    static const char prefix[] = "tesseract-ocr-";
    size_t n = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; prefix[i] && n + 1 < cap; i++)
        out[n++] = prefix[i];
    for (size_t i = 0; i < code_len && n + 1 < cap; i++) {
        char c = code[i];
        out[n++] = c == '_' ? '-' : (char)tolower((unsigned char)c);
    }
    out[n] = '\0';
}

static int valid_code(const char *code, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)code[i];
        if (!isalnum(c) && c != '_')
            return 0;
    }
    return 1;
}

quire_status qr_ocr_check_langs(const char *dir, const char *lang, quire_error *err)
{
    const char *p = lang;
    for (;;) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char code[65];
        char pkg[96];
        if (!valid_code(p, len))
            return qr_err(err, QUIRE_INVALID_ARG,
                          "invalid OCR language list '%s' (expected codes like eng or deu+eng)",
                          lang);
        memcpy(code, p, len);
        code[len] = '\0';
        if (!has_traineddata(dir, code)) {
            qr_ocr_package_name(code, len, pkg, sizeof(pkg));
            return qr_err(err, QUIRE_NOT_FOUND,
                          "language '%s' is not installed: apt-get install %s", code, pkg);
        }
        if (!end)
            return QUIRE_OK;
        p = end + 1;
    }
}

/* ---- the handle ------------------------------------------------------------------ */

/* Create and initialise the engine. OUT: *out (NULL on failure). */
static quire_status create_api(const char *dir, const char *lang, TessBaseAPI **out,
                               quire_error *err)
{
    TessBaseAPI *api = TessBaseAPICreate();
    *out = NULL;
    if (!api)
        return qr_err(err, QUIRE_NOMEM, "cannot create a Tesseract instance");
    pthread_mutex_lock(&init_lock);
    /* before Init, which may already print */
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    int rc = TessBaseAPIInit2(api, dir, lang, OEM_LSTM_ONLY);
    pthread_mutex_unlock(&init_lock);
    if (rc != 0) {
        TessBaseAPIDelete(api);
        return qr_err(err, QUIRE_FORMAT, "Tesseract cannot load language '%s' from %s", lang,
                      dir);
    }
    TessBaseAPISetPageSegMode(api, PSM_AUTO);
    *out = api;
    return QUIRE_OK;
}

quire_status qr_ocr_new(const char *lang, qr_ocr **out, quire_error *err)
{
    char dir[1024];
    quire_status rc;
    qr_ocr *ocr;
    *out = NULL;
    if (!lang || !*lang)
        lang = "eng";
    if (strlen(lang) >= sizeof(ocr->lang))
        return qr_err(err, QUIRE_INVALID_ARG, "OCR language list too long");
    qr_ocr_global_init();
    rc = qr_tess_load(err);
    if (rc != QUIRE_OK)
        return rc;
    if (qr_ocr_tessdata_dir(dir, sizeof(dir)) != 0)
        return qr_err(err, QUIRE_NOT_FOUND,
                      "no tessdata folder found (set TESSDATA_PREFIX, or apt-get install "
                      "tesseract-ocr-eng)");
    rc = qr_ocr_check_langs(dir, lang, err);
    if (rc != QUIRE_OK)
        return rc;
    ocr = qr_calloc(1, sizeof(*ocr));
    if (!ocr)
        return qr_err(err, QUIRE_NOMEM, "out of memory creating the OCR handle");
    snprintf(ocr->lang, sizeof(ocr->lang), "%s", lang);
    snprintf(ocr->dir, sizeof(ocr->dir), "%s", dir);
    rc = create_api(dir, lang, &ocr->api, err);
    if (rc != QUIRE_OK) {
        qr_free(ocr);
        return rc;
    }
    *out = ocr;
    return QUIRE_OK;
}

struct TessBaseAPI *qr_ocr_osd_api(qr_ocr *ocr)
{
    if (ocr->osd_state == 0) {
        TessBaseAPI *api = NULL;
        ocr->osd_state = -1;
        if (has_traineddata(ocr->dir, "osd") && (api = TessBaseAPICreate()) != NULL) {
            pthread_mutex_lock(&init_lock);
            TessBaseAPISetVariable(api, "debug_file", "/dev/null");
            /* OSD is a legacy-engine model */
            int rc = TessBaseAPIInit2(api, ocr->dir, "osd", OEM_TESSERACT_ONLY);
            pthread_mutex_unlock(&init_lock);
            if (rc == 0) {
                TessBaseAPISetPageSegMode(api, PSM_OSD_ONLY);
                ocr->osd = api;
                ocr->osd_state = 1;
            } else {
                TessBaseAPIDelete(api);
            }
        }
    }
    return ocr->osd;
}

void qr_ocr_free(qr_ocr *ocr)
{
    if (!ocr)
        return;
    if (ocr->osd) {
        TessBaseAPIEnd(ocr->osd);
        TessBaseAPIDelete(ocr->osd);
    }
    if (ocr->api) {
        TessBaseAPIEnd(ocr->api);
        TessBaseAPIDelete(ocr->api);
    }
    qr_free(ocr);
}
