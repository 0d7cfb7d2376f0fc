/* CPU launchers of the NN kernels: an OpenMP loop over each body. */
#include "src/nn/nn_kernels.h"
#include "src/nn/nn_ops.h"

#define MZ_NN_KERNEL(name, params, args) MZ_GEN_CPU_LOOP(name, params, args)
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL

const mz_nn_kernels mz_nn_cpu_kernels = {
#define MZ_NN_KERNEL(name, params, args) .name = cpu_##name,
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL
};
