/*
 * kern_lp_avxvnni.c — int8 GEMM with AVX-VNNI (256-bit vpdpbusd, VEX encoded): Intel
 * client CPUs since Alder Lake and AMD Zen 4/5 without AVX-512 kernels allowed
 * (QUIRE_CPU=avx2). Compiled with -mavx2 -mfma -mavxvnni, reached only through qr_lp_get
 * after CPUID/XGETBV. The body is lp_avx2_body.h.
 */
#define LP_VNNI 1
#include "lp_avx2_body.h"

const qr_lp_kernel qr_lp_avxvnni_int8 = {"avx-vnni", QR_PREC_INT8, gemm_int8, NULL, NULL};
