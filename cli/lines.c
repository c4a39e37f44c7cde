/*
 * lines.c — reading input lines for embed/tokenize: one text per line, "\n" stripped
 * (a "\r" before it is kept: the tokenizer treats it as whitespace, like HF does).
 * Reads in chunks so arbitrarily many lines stream through bounded memory.
 */
#define _POSIX_C_SOURCE 200809L
#include "lines.h"

#include <errno.h>
#include <stdlib.h>

#include "cli.h"
#include "core/core.h"
#include <string.h>

int lines_open(lines_reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    if (!path || strcmp(path, "-") == 0) {
        r->f = stdin;
        r->name = "<stdin>";
        return 0;
    }
    r->f = fopen(path, "rb");
    r->name = path;
    r->owned = 1;
    return r->f ? 0 : -1;
}

void lines_close(lines_reader *r)
{
    for (size_t i = 0; i < r->cap; i++)
        qr_free(r->text[i]);
    qr_free(r->text);
    qr_free(r->len);
    qr_free(r->bufcap);
    if (r->owned && r->f)
        fclose(r->f);
    memset(r, 0, sizeof(*r));
}

/* Read up to max lines into r->text/r->len; returns count, 0 at EOF, -1 on error. */
long lines_next(lines_reader *r, size_t max)
{
    if (max > r->cap) {
        char **t = qr_realloc(r->text, max * sizeof(char *));
        if (!t)
            return -1;
        r->text = t;
        size_t *l = qr_realloc(r->len, max * sizeof(size_t));
        if (!l)
            return -1;
        r->len = l;
        r->bufcap = qr_realloc(r->bufcap, max * sizeof(size_t));
        if (!r->bufcap)
            return -1;
        for (size_t i = r->cap; i < max; i++) {
            r->text[i] = NULL;
            r->bufcap[i] = 0;
        }
        r->cap = max;
    }
    size_t n = 0;
    while (n < max) {
        errno = 0;
        ssize_t got = getline(&r->text[n], &r->bufcap[n], r->f);
        if (got < 0) {
            if (ferror(r->f))
                return -1;
            break;
        }
        if (got > 0 && r->text[n][got - 1] == '\n')
            got--;
        r->text[n][got] = '\0';
        r->len[n] = (size_t)got;
        n++;
    }
    return (long)n;
}

int cli_open_lines_and_model(const char *cmd, const char *input, const char *model_dir,
                             const quire_model_params *mp, lines_reader *lr,
                             quire_model **model)
{
    quire_error err = {0};
    *model = NULL;
    if (!model_dir) {
        fprintf(stderr, "quire %s: --model DIR is required (see quire %s --help)\n", cmd, cmd);
        return EXIT_USAGE;
    }
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK)
        return cli_fail(cmd, &err);
    if (lines_open(lr, input) != 0) {
        fprintf(stderr, "quire %s: %s: %s\n", cmd, input, strerror(errno));
        return EXIT_FAIL;
    }
    if (quire_model_open(model_dir, mp, model, &err) != QUIRE_OK) {
        lines_close(lr);
        return cli_fail(cmd, &err);
    }
    return EXIT_OK;
}
