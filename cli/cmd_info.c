/*
 * cmd_info.c — `quire info`: version, CPU features, kernel sets available and chosen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"
#ifdef HAVE_CONVERT
#include "ocr/vlm.h"
#endif

static const cli_opt opts[] = {
    {"model", 'm', 1, "DIR", "describe a model folder instead: architecture, tokenizer, pooling, "
                             "normalize, prompts, max tokens, fingerprint"},
    {"config", 0, 1, "FILE", "list the VLM backends of FILE (default $QUIRE_CONFIG, "
                             "./quire.toml) and whether each answers"},
    {NULL, 0, 0, NULL, NULL}};

static void help(FILE *out)
{
    fprintf(out, "usage: quire info [--model DIR] [--config FILE]\n\nPrint version, CPU features and the kernels in use, build options,\n"
                 "library versions and the installed OCR languages.\n"
                 "QUIRE_CPU=scalar|avx2|avx512|amx|neon|neon-dotprod forces a kernel set (for\n"
                 "bf16/int8: amx allows the AMX tiles, avx512 the AVX512-BF16/VNNI kernels,\n"
                 "any other set the scalar reference).\n\noptions:\n");
    cli_print_opts(out, opts);
}

typedef struct info_args {
    const char *model, *config;
} info_args;

static int on_opt(int idx, const char *val, void *user)
{
    info_args *a = user;
    if (opts[idx].short_name == 'm')
        a->model = val;
    else
        a->config = val;
    return 0;
}

/* The configured VLM backends, in fallback order, each asked GET /v1/models. */
static int backends_info(const char *path)
{
#ifdef HAVE_CONVERT
    quire_error err = {0};
    quire_config *cfg = NULL;
    if (!path && !getenv("QUIRE_CONFIG") && !qr_file_exists("quire.toml"))
        return EXIT_OK; /* nothing configured: nothing to say */
    if (quire_config_load(path, &cfg, &err) != QUIRE_OK) {
        fprintf(stderr, "quire info: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const char *src = quire_config_source(cfg);
    printf("vlm config: %s (%d backends)\n", src ? src : "(defaults)", quire_config_n_backends(cfg));
    qr_vlm_client_params p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    qr_vlm_client *c = NULL;
    if (quire_config_n_backends(cfg) > 0 && qr_vlm_client_new(&p, &c, &err) == QUIRE_OK) {
        qr_vlm_client_probe(c, &err); /* each backend's answer is listed below */
        for (int i = 0; i < qr_vlm_client_n_backends(c); i++) {
            int ok = 0;
            const char *why = NULL;
            const qr_backend_cfg *b = qr_vlm_client_backend(c, i, &ok, &why);
            printf("vlm backend %d: %s protocol=%s url=%s model=%s: %s%s%s\n", i + 1, b->name,
                   qr_vlm_protocol_name(b->protocol), b->base_url, b->model,
                   ok ? "answers" : "not usable", why && why[0] ? ": " : "", why ? why : "");
        }
        for (int k = 0; k < cfg->n_backends; k++) {
            int in_chain = 0;
            for (int i = 0; i < qr_vlm_client_n_backends(c); i++)
                in_chain |= qr_vlm_client_backend(c, i, NULL, NULL) == &cfg->backends[k];
            if (!in_chain)
                printf("vlm backend -: %s protocol=%s url=%s model=%s: not in the fallback chain\n",
                       cfg->backends[k].name, qr_vlm_protocol_name(cfg->backends[k].protocol),
                       cfg->backends[k].base_url, cfg->backends[k].model);
        }
    } else if (quire_config_n_backends(cfg) > 0) {
        fprintf(stderr, "quire info: %s\n", err.msg);
    }
    qr_vlm_client_free(c);
    quire_config_free(cfg);
#else
    (void)path;
#endif
    return EXIT_OK;
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
    info_args a = {NULL, NULL};
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, 0, &n_pos, help);
    const char *model = a.model;
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
    return backends_info(a.config);
}
