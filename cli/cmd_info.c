/*
 * cmd_info.c — `quire info`: version, CPU features, kernel sets available and chosen.
 */
#include <stdio.h>

#include "cli.h"
#include "core/core.h"

static const cli_opt opts[] = {
    {"model", 'm', 1, "DIR", "describe a model folder instead: architecture, tokenizer, pooling, "
                             "normalize, prompts, max tokens, fingerprint"},
    {NULL, 0, 0, NULL, NULL}};

static void help(FILE *out)
{
    fprintf(out, "usage: quire info [--model DIR]\n\nPrint version, CPU features and the kernels in use, build options,\n"
                 "library versions and the installed OCR languages.\n"
                 "QUIRE_CPU=scalar|avx2|avx512|neon|neon-dotprod forces a kernel set.\n\noptions:\n");
    cli_print_opts(out, opts);
}

static int on_opt(int idx, const char *val, void *user)
{
    (void)idx;
    *(const char **)user = val;
    return 0;
}

static int model_info(const char *dir)
{
    quire_error err = {0};
    quire_model *m = NULL;
    if (quire_model_open(dir, NULL, &m, &err) != QUIRE_OK)
        return cli_fail("info", &err);
    size_t need = quire_model_info(m, NULL, 0);
    char *buf = qr_malloc(need + 1);
    if (!buf) {
        quire_model_close(m);
        fprintf(stderr, "quire info: out of memory\n");
        return EXIT_FAIL;
    }
    quire_model_info(m, buf, need + 1);
    fputs(buf, stdout);
    qr_free(buf);
    quire_model_close(m);
    return EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 0;
    const char *model = NULL;
    int rc = cli_parse(argc, argv, opts, on_opt, &model, pos, 0, &n_pos, help);
    if (rc < 0)
        return EXIT_OK;
    if (rc)
        return rc;
    if (model)
        return model_info(model);
    quire_error err = {0};
    quire_status st = quire_init(QUIRE_VERSION_NUMBER, &err);
    char buf[4096];
    quire_info(buf, sizeof(buf));
    fputs(buf, stdout);
    quire_build_info(buf, sizeof(buf));
    fputs(buf, stdout);
    if (st != QUIRE_OK)
        return cli_fail("info", &err);
    return EXIT_OK;
}
