/* CUDA launchers of AWPO's kernels (learner/awpo_kernels.def); built by nvcc
 * and, for the tests, by the host compiler against src/cuda_emu.h. */
#include "learner/awpo_kernels.h"
#include "src/cuda_common.h"

#define MZ_AWPO_KERNEL(name, params, args) MZ_GEN_CUDA_LAUNCHER(name, params, args)
#include "learner/awpo_kernels.def"
#undef MZ_AWPO_KERNEL

/* positional, in the list's order, as the table's fields are */
extern "C" const mz_awpo_kernels mz_awpo_cuda_kernels = {
#define MZ_AWPO_KERNEL(name, params, args) cuda_##name,
#include "learner/awpo_kernels.def"
#undef MZ_AWPO_KERNEL
};
