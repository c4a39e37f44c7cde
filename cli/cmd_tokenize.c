/*
 * cmd_tokenize.c — `quire tokenize`: one text per input line -> {"index":N,"ids":[...]}.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"
#include "lines.h"

typedef struct tok_args {
    const char *model;
    long max_tokens;
} tok_args;

static const cli_opt opts[] = {
    {"model", 'm', 1, "DIR", "model folder (vocab.txt or tokenizer.json + configs)"},
    {"max-tokens", 0, 1, "N", "truncate to N tokens incl. [CLS]/[SEP] (default: the model's)"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out, "usage: quire tokenize --model DIR [options] [FILE|-]\n\n"
                 "Print the WordPiece ids (with [CLS]/[SEP]) of each input line as JSON lines:\n"
                 "{\"index\":N,\"ids\":[...]}.\n\noptions:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexample:\n  echo 'Hello world' | quire tokenize --model all-MiniLM-L6-v2\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    tok_args *a = user;
    if (strcmp(opts[idx].name, "model") == 0)
        a->model = val;
    else if (cli_int("tokenize", opts[idx].name, val, 2, 65536, &a->max_tokens))
        return EXIT_USAGE;
    return 0;
}

static int tokenize_stream(quire_model *model, lines_reader *lr)
{
    int cap = quire_model_max_tokens(model);
    int32_t *ids = qr_malloc((size_t)cap * sizeof(int32_t));
    qr_buf b;
    qr_buf_init(&b, 0);
    quire_error err = {0};
    size_t index = 0;
    int rc = EXIT_OK;
    if (!ids) {
        fprintf(stderr, "quire tokenize: out of memory\n");
        return EXIT_FAIL;
    }
    for (;;) {
        long n = lines_next(lr, 256);
        if (n < 0) {
            fprintf(stderr, "quire tokenize: %s: read error\n", lr->name);
            rc = EXIT_FAIL;
            break;
        }
        if (n == 0)
            break;
        qr_buf_clear(&b);
        for (long i = 0; i < n; i++) {
            size_t got = 0;
            if (quire_tokenize(model, lr->text[i], lr->len[i], ids, (size_t)cap, &got, &err)) {
                rc = cli_fail("tokenize", &err);
                goto done;
            }
            qr_buf_printf(&b, "{\"index\":%zu,\"ids\":[", index++);
            for (size_t j = 0; j < got && j < (size_t)cap; j++)
                qr_buf_printf(&b, j ? ",%d" : "%d", (int)ids[j]);
            qr_buf_append(&b, "]}\n", 3);
        }
        if (b.failed || fwrite(b.data, 1, b.len, stdout) != b.len) {
            fprintf(stderr, "quire tokenize: writing output failed\n");
            rc = EXIT_FAIL;
            break;
        }
    }
done:
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "quire tokenize: writing output: %s\n", strerror(errno));
        rc = EXIT_FAIL;
    }
    qr_buf_free(&b);
    qr_free(ids);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    tok_args a = {0};
    const char *pos[1] = {NULL};
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, 1, &n_pos, help);
    if (rc < 0)
        return EXIT_OK;
    if (rc)
        return rc;
    lines_reader lr;
    quire_model_params mp = quire_model_default_params();
    mp.max_tokens = (int)a.max_tokens;
    quire_model *model = NULL;
    rc = cli_open_lines_and_model("tokenize", n_pos ? pos[0] : NULL, a.model, &mp, &lr, &model);
    if (rc != EXIT_OK)
        return rc;
    rc = tokenize_stream(model, &lr);
    quire_model_close(model);
    lines_close(&lr);
    return rc;
}
