/* kern_avx2.c — placeholder until the avx2 kernels land: forwards to scalar. */
#include "nn.h"

const qr_kernels qr_kernels_avx2 = {
    .name = "avx2",
    .gemm = NULL,
};
