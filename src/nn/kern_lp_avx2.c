/*
 * kern_lp_avx2.c — int8 GEMM on AVX2 alone (vpmaddubsw / vpmaddwd on |q| and sign-moved
 * weights, exact int32): the int8 kernel of x86-64 CPUs without VNNI (Haswell to Zen 3).
 * It saves memory and bandwidth rather than arithmetic (about the FMA rate of fp32).
 * Compiled with -mavx2 -mfma, reached only through qr_lp_get. Body: lp_avx2_body.h.
 */
#define LP_VNNI 0
#include "lp_avx2_body.h"

const qr_lp_kernel qr_lp_avx2_int8 = {"avx2-int8", QR_PREC_INT8, gemm_int8, NULL, NULL};
