/* CPU launchers of the NN kernels: an OpenMP loop over each body. */
#include "src/nn/nn_kernels.h"
#include "src/nn/nn_ops.h"

#define MZ_NN_KERNEL(name, params, args)                                                           \
    static void cpu_##name(mz_backend *be, int64_t n, MZ_UNPAREN params) {                         \
        (void)be;                                                                                  \
        _Pragma("omp parallel for schedule(static) if (n >= MZ_CPU_PARALLEL_MIN)")                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            name##_body(i, MZ_UNPAREN args);                                                       \
    }
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL

const mz_nn_kernels mz_nn_cpu_kernels = {
#define MZ_NN_KERNEL(name, params, args) .name = cpu_##name,
#include "src/nn/nn_kernels.def"
#undef MZ_NN_KERNEL
};
