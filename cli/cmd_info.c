/*
 * cmd_info.c — `quire info`: version, CPU features, kernel sets available and chosen.
 */
#include <stdio.h>

#include "cli.h"

static const cli_opt opts[] = {{NULL, 0, 0, NULL, NULL}};

static void help(FILE *out)
{
    fprintf(out, "usage: quire info\n\nPrint version, CPU features and the kernels in use, build options,\n"
                 "library versions and the installed OCR languages.\n"
                 "QUIRE_CPU=scalar|avx2|avx512|amx|neon|neon-dotprod forces a kernel set (for\n"
                 "bf16/int8: amx allows the AMX tiles, avx512 the AVX512-BF16/VNNI kernels,\n"
                 "any other set the scalar reference).\n\noptions:\n");
    cli_print_opts(out, opts);
}

static int on_opt(int idx, const char *val, void *user)
{
    (void)idx;
    (void)val;
    (void)user;
    return 0;
}

int cmd_info(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, NULL, pos, 0, &n_pos, help);
    if (rc < 0)
        return EXIT_OK;
    if (rc)
        return rc;
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
