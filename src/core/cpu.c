/*
 * cpu.c — CPU feature detection. On x86-64: CPUID for what the CPU has and XGETBV for
 * what the OS saves on context switch (an AVX-512 CPU under an OS that does not enable
 * the ZMM state must not run AVX-512 code). On ARM64: getauxval(AT_HWCAP/AT_HWCAP2).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void)
{
    unsigned f = 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1;
    if ((c >> 20) & 1)
        f |= QR_CPU_SSE42;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6;            /* XMM + YMM state */
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (os_avx && ((c >> 28) & 1))
        f |= QR_CPU_AVX;
    if (os_avx && ((c >> 12) & 1))
        f |= QR_CPU_FMA;
    if (os_avx && ((c >> 29) & 1))
        f |= QR_CPU_F16C;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (os_avx && ((b >> 5) & 1))
            f |= QR_CPU_AVX2;
        if (os_avx512) {
            if ((b >> 16) & 1)
                f |= QR_CPU_AVX512F;
            if ((b >> 17) & 1)
                f |= QR_CPU_AVX512DQ;
            if ((b >> 30) & 1)
                f |= QR_CPU_AVX512BW;
            if ((b >> 31) & 1)
                f |= QR_CPU_AVX512VL;
            if ((c >> 11) & 1)
                f |= QR_CPU_AVX512VNNI;
        }
        /* AMX: CPUID.7.0:EDX bits 24 (tile), 22 (bf16), 25 (int8); XCR0 bits 17-18 */
        if ((xcr0 & 0x60000) == 0x60000 && ((d >> 24) & 1)) {
            f |= QR_CPU_AMXTILE;
            if ((d >> 22) & 1)
                f |= QR_CPU_AMXBF16;
            if ((d >> 25) & 1)
                f |= QR_CPU_AMXINT8;
        }
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1;
        (void)c1;
        (void)d1;
        if (os_avx512 && ((a1 >> 5) & 1))
            f |= QR_CPU_AVX512BF16;
        if (os_avx && ((a1 >> 4) & 1))
            f |= QR_CPU_AVXVNNI;
    }
    return f;
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif
static unsigned detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    unsigned long hw2 = getauxval(AT_HWCAP2);
    unsigned f = QR_CPU_NEON; /* baseline on ARMv8-A */
    if (hw & HWCAP_ASIMDDP)
        f |= QR_CPU_ASIMDDP;
    if (hw & HWCAP_SVE)
        f |= QR_CPU_SVE;
    if (hw2 & HWCAP2_I8MM)
        f |= QR_CPU_I8MM;
    if (hw2 & HWCAP2_BF16)
        f |= QR_CPU_ARMBF16;
    return f;
}
#elif defined(__aarch64__)
static unsigned detect(void) { return QR_CPU_NEON; }
#else
static unsigned detect(void) { return 0; }
#endif

static atomic_uint cached;
static atomic_int cached_ok;

unsigned qr_cpu_features(void)
{
    if (!atomic_load(&cached_ok)) {
        atomic_store(&cached, detect());
        atomic_store(&cached_ok, 1);
    }
    return atomic_load(&cached);
}

void qr_cpu_feature_names(unsigned feats, char *buf, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {QR_CPU_SSE42, "sse4.2"},         {QR_CPU_AVX, "avx"},
        {QR_CPU_AVX2, "avx2"},            {QR_CPU_FMA, "fma"},
        {QR_CPU_F16C, "f16c"},            {QR_CPU_AVX512F, "avx512f"},
        {QR_CPU_AVX512BW, "avx512bw"},    {QR_CPU_AVX512VL, "avx512vl"},
        {QR_CPU_AVX512DQ, "avx512dq"},    {QR_CPU_AVX512VNNI, "avx512vnni"},
        {QR_CPU_AVX512BF16, "avx512bf16"}, {QR_CPU_AVXVNNI, "avxvnni"},
        {QR_CPU_AMXTILE, "amx-tile"},     {QR_CPU_AMXBF16, "amx-bf16"},
        {QR_CPU_AMXINT8, "amx-int8"},
        {QR_CPU_NEON, "neon"},            {QR_CPU_ASIMDDP, "dotprod"},
        {QR_CPU_I8MM, "i8mm"},            {QR_CPU_SVE, "sve"},
        {QR_CPU_ARMBF16, "bf16"},
    };
    size_t used = 0;
    if (cap == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < QR_ARRAY_LEN(names); i++) {
        if (!(feats & names[i].bit))
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", names[i].name);
        if (n < 0 || (size_t)n >= cap - used) {
            buf[used] = '\0'; /* drop the truncated name: whole names only */
            break;
        }
        used += (size_t)n;
    }
}
