/* CUDA launchers of the device replay's kernels (learner/device_replay_kernels.def):
 * a grid-stride kernel over each body on the backend's stream; built by nvcc
 * and, for the tests, by the host compiler against src/cuda_emu.h. */
#include "learner/device_replay_kernels.h"
#include "src/cuda_common.h"

#define MZ_DRP_KERNEL(name, params, args) MZ_GEN_CUDA_LAUNCHER(name, params, args)
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL

/* positional, in the list's order, as the table's fields are */
extern "C" const mz_drp_kernels mz_drp_cuda_kernels = {
#define MZ_DRP_KERNEL(name, params, args) cuda_##name,
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL
};
