/*
 * tess_langs.c — the tessdata folder Tesseract will use and the languages installed in it
 * (every NAME.traineddata), for quire_build_info; the folder is found as for OCR.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildinfo.h"
#include "ocr/ocr_int.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int qr_ocr_languages(char *dir, size_t dir_cap, char *langs, size_t langs_cap)
{
    if (langs_cap)
        langs[0] = '\0';
    if (qr_ocr_tessdata_dir(dir, dir_cap) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char names[256][64];
    const char *ptr[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(e->d_name);
        const char *ext = ".traineddata";
        size_t el = strlen(ext);
        if (l <= el || l - el >= sizeof names[0] || strcmp(e->d_name + l - el, ext) != 0)
            continue;
        snprintf(names[n], sizeof names[n], "%.*s", (int)(l - el), e->d_name);
        ptr[n] = names[n];
        n++;
    }
    closedir(d);
    qsort(ptr, (size_t)n, sizeof ptr[0], cmp_str);
    size_t used = 0;
    for (int i = 0; i < n && langs_cap; i++) {
        int w = snprintf(langs + used, langs_cap - used, "%s%s", i ? " " : "", ptr[i]);
        if (w < 0 || (size_t)w >= langs_cap - used)
            break;
        used += (size_t)w;
    }
    return 0;
}
