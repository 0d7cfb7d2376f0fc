/* Dispatch table of the NN kernels (src/nn/nn_kernels.def): one instance
 * per backend kind. Each entry runs its body for every index in [0, n) on
 * the backend's stream. Only src/nn/ uses this; model code calls src/nn/nn.h. */
#ifndef MZ_NN_KERNELS_H
#define MZ_NN_KERNELS_H

#include <stdint.h>

#include "src/backend.h"
#include "src/kernel_gen.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct {
#define MZ_NN_KERNEL(name, params, args) void (*name)(mz_backend *be, int64_t n, MZ_UNPAREN params);
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL
} mz_nn_kernels;

extern const mz_nn_kernels mz_nn_cpu_kernels;
/* Defined by src/nn/nn_cuda.cu, which only CUDA and emulation builds link:
 * weak, so the CPU-only binary links with it NULL. */
extern const mz_nn_kernels mz_nn_cuda_kernels __attribute__((weak));

/* The table for `be`; exits naming the backend when it has none. */
const mz_nn_kernels *mz_nn_kernels_for(mz_backend *be);

#ifdef __cplusplus
}
#endif

#endif
