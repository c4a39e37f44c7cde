/* kern_avx512.c — placeholder until the avx512 kernels land: forwards to scalar. */
#include "nn.h"

const qr_kernels qr_kernels_avx512 = {
    .name = "avx512",
    .gemm = NULL,
};
