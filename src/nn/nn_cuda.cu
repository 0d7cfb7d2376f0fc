/* CUDA launchers of the NN kernels: a grid-stride kernel over each body,
 * on the backend's stream. Compiled by nvcc and, for the tests, by the host
 * compiler against src/cuda_emu.h. */
#include "src/backend.h"
#include "src/cuda_common.h"
#include "src/nn/nn_kernels.h"
#include "src/nn/nn_ops.h"

/* Every kernel's first argument is its output: under emulation, a host
 * pointer there fails as it would on a GPU (the other pointers are checked
 * by the parity tests' guarded device buffers). */
#define MZ_NN_KERNEL(name, params, args) MZ_GEN_CUDA_LAUNCHER(name, params, args)
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL

/* positional, in the list's order, as the table's fields are */
extern "C" const mz_nn_kernels mz_nn_cuda_kernels = {
#define MZ_NN_KERNEL(name, params, args) cuda_##name,
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL
};
