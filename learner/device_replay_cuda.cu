/* CUDA launchers of the device replay's kernels (learner/device_replay_kernels.def):
 * a grid-stride kernel over each body on the backend's stream; built by nvcc
 * and, for the tests, by the host compiler against src/cuda_emu.h. */
#include "learner/device_replay_kernels.h"
#include "src/cuda_common.h"

#define MZ_DRP_FIRST_(first, ...) first
#define MZ_DRP_FIRST(...) MZ_DRP_FIRST_(__VA_ARGS__, unused)

/* the first argument is an output: under emulation a host pointer there fails as on a GPU */
#define MZ_DRP_KERNEL(name, params, args)                                                          \
    __global__ void name##_kernel(int64_t n, MZ_DRP_UNPAREN params) {                              \
        MZ_GRID_STRIDE_LOOP(i, n) name##_body(i, MZ_DRP_UNPAREN args);                             \
    }                                                                                              \
    static void cuda_##name(mz_backend *be, int64_t n, MZ_DRP_UNPAREN params) {                    \
        if (n <= 0) return;                                                                        \
        MZ_REQUIRE_DEVICE(MZ_DRP_FIRST(MZ_DRP_UNPAREN args), 1, #name " output");                  \
        MZ_LAUNCH(name##_kernel, mz_grid_for(n), MZ_BLOCK, mz_cuda_backend_stream(be), n, MZ_DRP_UNPAREN args); \
    }
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL

static mz_drp_kernels make_cuda_kernels(void) {
    mz_drp_kernels k;
#define MZ_DRP_KERNEL(name, params, args) k.name = cuda_##name;
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL
    return k;
}

extern "C" const mz_drp_kernels mz_drp_cuda_kernels = make_cuda_kernels();
