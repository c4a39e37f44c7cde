/* lines.h — chunked line reader for the CLI (see lines.c). */
#ifndef QUIRE_CLI_LINES_H
#define QUIRE_CLI_LINES_H
#include <stdio.h>

#include "quire.h"

typedef struct lines_reader {
    FILE *f;
    const char *name;
    int owned;
    char **text;     /* [cap] lines, NUL-terminated (may contain NULs: use len) */
    size_t *len;     /* [cap] */
    size_t *bufcap;  /* [cap] getline buffer sizes */
    size_t cap;
} lines_reader;

int lines_open(lines_reader *r, const char *path); /* "-" or NULL = stdin; -1 on error */
long lines_next(lines_reader *r, size_t max);
void lines_close(lines_reader *r);

/* Shared start of `embed` and `tokenize`: check --model was given, initialise, open the
 * input (NULL/"-" = stdin) and the model folder, printing "quire CMD: ..." on failure.
 * Returns EXIT_OK (then close both when done) or the exit code, with nothing left open. */
int cli_open_lines_and_model(const char *cmd, const char *input, const char *model_dir,
                             const quire_model_params *mp, lines_reader *lr,
                             quire_model **model);
#endif
