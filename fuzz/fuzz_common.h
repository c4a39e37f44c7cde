/*
 * fuzz_common.h — helpers shared by the libFuzzer targets in fuzz/ (each fuzz_<name>.c
 * is one target; see docs/fuzzing.md). Header-only: every target is one translation
 * unit linked against the fuzz build of libquire.
 *
 * The library's loaders take paths, so most targets write the input to a file in a
 * private temporary folder made once per process (removed at exit).
 */
#ifndef QR_FUZZ_COMMON_H
#define QR_FUZZ_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quire.h"

static char fz_dir[PATH_MAX];

static inline void fz_rm_dir(void)
{
    char cmd[PATH_MAX + 16];
    if (fz_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
    }
}

/* The per-process scratch folder (created on first use). */
static inline const char *fz_tmpdir(void)
{
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/quire-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_rm_dir);
    }
    return fz_dir;
}

/* out = scratch folder + "/" + name. */
static inline void fz_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", fz_tmpdir(), name);
}

/* Write data[0..len) to path (replacing it). Aborts on I/O errors: they are not findings. */
static inline void fz_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* The repository root: $QUIRE_ROOT, else the folder the Makefile built from. */
#ifndef QUIRE_ROOT_DIR
#define QUIRE_ROOT_DIR "."
#endif
static inline void fz_repo_path(char *out, size_t cap, const char *rel)
{
    const char *root = getenv("QUIRE_ROOT");
    snprintf(out, cap, "%s/%s", root && *root ? root : QUIRE_ROOT_DIR, rel);
}

/* Silence the library's log output (warnings about odd input are expected). */
static inline void fz_no_log(int level, const char *msg, void *user_data)
{
    (void)level;
    (void)msg;
    (void)user_data;
}
static inline void fz_quiet(void)
{
    quire_log_set(fz_no_log, NULL, 100);
}

#endif
