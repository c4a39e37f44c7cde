/*
 * dispatch.c — chooses the kernel table once from CPU features (or QUIRE_CPU) and
 * packs weights into the panel layout all tables share.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "nn.h"

/* On aarch64 kern_neon.c is always built (NEON is baseline ARMv8-A): "neon" runs on any
 * ARMv8-A CPU, "neon-dotprod" (the same kernels but dot_i8 with sdot) needs the
 * dot-product extension (HWCAP_ASIMDDP) and is preferred when the CPU has it. */
#if defined(__aarch64__)
#define QR_NN_NEON 1
#else
#define QR_NN_NEON 0
#endif

const char *const qr_nn_names[] = {
    "scalar",
#if defined(__x86_64__)
    "avx2",   "avx512", "amx",
#endif
#if QR_NN_NEON
    "neon",   "neon-dotprod",
#endif
    NULL};

static _Atomic(const qr_kernels *) active;
static _Atomic(const char *) level = "auto";
/* 1 while a set chosen by name (qr_nn_select(name)) is in force: library initialisation
 * (qr_nn_init, run by quire_model_open and the other entry points) then keeps it. */
static _Atomic int by_name;

const char *qr_nn_level(void) { return atomic_load(&level); }

size_t qr_packed_size(int n, int k)
{
    size_t panels = (size_t)(n + QR_PANEL - 1) / QR_PANEL;
    return panels * (size_t)k * QR_PANEL;
}

void qr_pack(const float *w, int n, int k, float *dst)
{
    int n_panels = (n + QR_PANEL - 1) / QR_PANEL;
    for (int p = 0; p < n_panels; p++) {
        float *panel = dst + (size_t)p * k * QR_PANEL;
        for (int j = 0; j < QR_PANEL; j++) {
            int row = p * QR_PANEL + j;
            if (row < n) {
                const float *src = w + (size_t)row * k;
                for (int kk = 0; kk < k; kk++)
                    panel[(size_t)kk * QR_PANEL + j] = src[kk];
            } else {
                for (int kk = 0; kk < k; kk++)
                    panel[(size_t)kk * QR_PANEL + j] = 0.0f;
            }
        }
    }
}

const qr_kernels *qr_nn_get(const char *name)
{
    unsigned f = qr_cpu_features();
    if (!name || strcmp(name, "scalar") == 0)
        return &qr_kernels_scalar;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0)
        return (f & QR_CPU_AVX2) && (f & QR_CPU_FMA) ? &qr_kernels_avx2 : NULL;
    if (strcmp(name, "avx512") == 0) {
        unsigned need = QR_CPU_AVX512F | QR_CPU_AVX512BW | QR_CPU_AVX512VL |
                        QR_CPU_AVX512DQ | QR_CPU_FMA;
        return (f & need) == need ? &qr_kernels_avx512 : NULL;
    }
    if (strcmp(name, "amx") == 0) {
        /* the avx512 table; the level also allows the AMX tile kernels (linear.c) */
        unsigned need = QR_CPU_AVX512F | QR_CPU_AVX512BW | QR_CPU_AVX512VL |
                        QR_CPU_AVX512DQ | QR_CPU_FMA | QR_CPU_AMXTILE;
        return (f & need) == need ? &qr_kernels_avx512_amx : NULL;
    }
#endif
#if QR_NN_NEON
    if (strcmp(name, "neon") == 0)
        return (f & QR_CPU_NEON) ? &qr_kernels_neon : NULL;
    if (strcmp(name, "neon-dotprod") == 0) {
        unsigned need = QR_CPU_NEON | QR_CPU_ASIMDDP;
        return (f & need) == need ? &qr_kernels_neon_dotprod : NULL;
    }
#endif
    (void)f;
    return NULL;
}

static const qr_kernels *best(void)
{
    const qr_kernels *k = NULL;
#if defined(__x86_64__)
    k = qr_nn_get("avx512");
    if (!k)
        k = qr_nn_get("avx2");
#endif
#if QR_NN_NEON
    k = qr_nn_get("neon-dotprod");
    if (!k)
        k = qr_nn_get("neon");
#endif
    return k ? k : &qr_kernels_scalar;
}

quire_status qr_nn_select(const char *name, quire_error *err)
{
    if (!name) {
        const char *env = getenv("QUIRE_CPU");
        if (env && *env && strcmp(env, "auto") != 0)
            name = env;
    }
    qr_lp_reset();
    atomic_store(&by_name, 0);
    if (!name) {
        atomic_store(&level, "auto");
        atomic_store(&active, best());
        return QUIRE_OK;
    }
    const qr_kernels *k = qr_nn_get(name);
    if (!k) {
        int known = 0;
        for (int i = 0; qr_nn_names[i]; i++)
            known |= strcmp(qr_nn_names[i], name) == 0;
        atomic_store(&level, "auto");
        atomic_store(&active, best());
        if (!known)
            return qr_err(err, QUIRE_INVALID_ARG,
                          "QUIRE_CPU=%s: unknown kernel set (this build has scalar%s)", name,
#if defined(__x86_64__)
                          ", avx2, avx512, amx"
#elif QR_NN_NEON
                          ", neon, neon-dotprod"
#else
                          ""
#endif
            );
        return qr_err(err, QUIRE_UNSUPPORTED, "QUIRE_CPU=%s: this CPU lacks the features", name);
    }
    for (int i = 0; qr_nn_names[i]; i++)
        if (strcmp(qr_nn_names[i], name) == 0)
            atomic_store(&level, qr_nn_names[i]);
    atomic_store(&active, k);
    atomic_store(&by_name, 1);
    return QUIRE_OK;
}

quire_status qr_nn_init(quire_error *err)
{
    if (atomic_load(&by_name) && atomic_load(&active))
        return QUIRE_OK;
    return qr_nn_select(NULL, err);
}

const qr_kernels *qr_nn(void)
{
    const qr_kernels *k = atomic_load(&active);
    if (!k) {
        qr_nn_select(NULL, NULL);
        k = atomic_load(&active);
    }
    return k;
}
