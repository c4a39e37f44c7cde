/*
 * file.c — read-only mapping and small-file reading with errors that name the file.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

quire_status qr_file_map(const char *path, const void **data, size_t *len, quire_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qr_err(err, errno == ENOENT ? QUIRE_NOT_FOUND : QUIRE_IO, "%s: %s", path,
                      strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return qr_err(err, QUIRE_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qr_err(err, QUIRE_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return QUIRE_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return qr_err(err, QUIRE_IO, "%s: mmap: %s", path, strerror(e));
    *data = p;
    *len = (size_t)st.st_size;
    return QUIRE_OK;
}

void qr_file_unmap(const void *data, size_t len)
{
    if (data && len)
        munmap((void *)data, len);
}

quire_status qr_file_read(const char *path, size_t max, char **out, size_t *len,
                          quire_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qr_err(err, errno == ENOENT ? QUIRE_NOT_FOUND : QUIRE_IO, "%s: %s", path,
                      strerror(errno));
    qr_buf b;
    qr_buf_init(&b, max);
    char tmp[65536];
    size_t n;
    size_t total = 0; /* bytes read, to tell the size cap from a failed allocation */
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        total += n;
        qr_buf_append(&b, tmp, n);
        if (b.failed)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        qr_buf_free(&b);
        return qr_err(err, QUIRE_IO, "%s: read error", path);
    }
    if (b.failed) {
        qr_buf_free(&b);
        if (max && total > max)
            return qr_err(err, QUIRE_LIMIT, "%s: larger than %zu bytes", path, max);
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
    }
    if (!b.data) {
        b.data = qr_malloc(1);
        if (!b.data)
            return qr_err(err, QUIRE_NOMEM, "%s: out of memory", path);
        b.data[0] = '\0';
    }
    *out = b.data;
    if (len)
        *len = b.len;
    return QUIRE_OK;
}

int qr_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int qr_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    int n = snprintf(out, cap, "%.*s/%s", (int)dl, dir, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}
