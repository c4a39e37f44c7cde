/*
 * fuzz_toml.c — quire.toml: the TOML-subset parser (src/config/toml.c) and the config
 * checker on top of it (src/config/config.c).
 *
 * Input: the whole file. Every rejection must be QUIRE_FORMAT with a message that names
 * "fuzz.toml:LINE:COL" (parser) or "fuzz.toml" (checker); an accepted config must hold
 * only in-range values.
 */
#include "fuzz_common.h"

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        fz_quiet();
        init = 1;
    }
    quire_error err = {0, ""};
    json_t *doc = NULL;
    json_t *pos = NULL;
    quire_status st = qr_toml_parse((const char *)data, size, "fuzz.toml", &doc, &pos, &err);
    if (st != QUIRE_OK) {
        if (st != QUIRE_FORMAT || strncmp(err.msg, "fuzz.toml:", 10) != 0 || doc || pos)
            abort();
    }
    json_decref(doc);
    json_decref(pos);

    quire_config *cfg = NULL;
    st = quire_config_parse((const char *)data, size, "fuzz.toml", &cfg, &err);
    if (st == QUIRE_OK) {
        if (!cfg || cfg->max_workers < 1 || cfg->n_backends > QR_MAX_BACKENDS ||
            cfg->n_chain > QR_MAX_BACKENDS)
            abort();
        for (int i = 0; i < cfg->n_backends; i++) {
            const qr_backend_cfg *b = &cfg->backends[i];
            if (b->max_tokens < 1 || b->max_concurrency < 1 || !b->base_url[0] ||
                (!b->allow_remote && !qr_url_is_loopback(b->base_url)))
                abort();
        }
        if (cfg->n_backends && !qr_config_backend(cfg, cfg->default_backend))
            abort();
    } else if (cfg || strncmp(err.msg, "fuzz.toml", 9) != 0) {
        abort();
    }
    quire_config_free(cfg);
    return 0;
}
