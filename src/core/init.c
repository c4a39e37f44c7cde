/*
 * init.c — library initialisation (kernel selection) and `quire info`.
 */
#include <stdio.h>
#include <string.h>

#include "../nn/nn.h"
#include "core.h"

quire_status qr_lib_init(quire_error *err)
{
    qr_cpu_features();
    return qr_nn_init(err);
}

quire_status quire_init(unsigned header_version, quire_error *err)
{
    if ((header_version >> 16) != (QUIRE_VERSION_NUMBER >> 16))
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "quire.h version %06x does not match library version %06x",
                      header_version, QUIRE_VERSION_NUMBER);
    return qr_lib_init(err);
}

const char *quire_kernels_name(void) { return qr_nn()->name; }

size_t quire_info(char *buf, size_t cap)
{
    char feats[512];
    qr_cpu_feature_names(qr_cpu_features(), feats, sizeof(feats));
    char avail[128] = "";
    size_t used = 0;
    for (int i = 0; qr_nn_names[i]; i++) {
        if (!qr_nn_get(qr_nn_names[i]))
            continue;
        int n = snprintf(avail + used, sizeof(avail) - used, "%s%s", used ? " " : "",
                         qr_nn_names[i]);
        if (n > 0 && (size_t)n < sizeof(avail) - used)
            used += (size_t)n;
    }
    const char *arch =
#if defined(__x86_64__)
        "x86_64";
#elif defined(__aarch64__)
        "aarch64";
#else
        "other";
#endif
    char lp[256] = "";
    used = 0;
    for (int i = 0; qr_lp_names[i]; i++) {
        if (!qr_lp_get(qr_lp_names[i]))
            continue;
        int w = snprintf(lp + used, sizeof(lp) - used, "%s%s", used ? " " : "", qr_lp_names[i]);
        if (w > 0 && (size_t)w < sizeof(lp) - used)
            used += (size_t)w;
    }
    int n = snprintf(buf, cap,
                     "version: %s\n"
                     "arch: %s\n"
                     "cpu features: %s\n"
                     "kernel sets available: %s\n"
                     "kernels: %s\n"
                     "bf16/int8 kernels available: %s\n"
                     "precision kernels: fp32 %s, bf16 %s, int8 %s\n",
                     QUIRE_VERSION_STRING, arch, feats[0] ? feats : "(none)", avail,
                     qr_nn()->name, lp, qr_nn()->name, qr_lp_active(QR_PREC_BF16)->name,
                     qr_lp_active(QR_PREC_INT8)->name);
    return n < 0 ? 0 : (size_t)n;
}
