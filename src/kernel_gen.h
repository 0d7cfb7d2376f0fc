/* Generators of a kernel list's launchers, shared by every list of
 * single-source bodies (src/nn/nn_kernels.def, learner/device_replay_kernels.def).
 * An entry is (name, (parameters), (arguments)); name##_body(i, arguments)
 * does index i. MZ_GEN_CPU_LOOP defines `static void cpu_<name>(be, n, ...)`,
 * an OpenMP loop (one thread below MZ_CPU_PARALLEL_MIN indices);
 * MZ_GEN_CUDA_LAUNCHER (in a .cu file, after src/cuda_common.h) defines the
 * grid-stride kernel and `static void cuda_<name>(be, n, ...)` on the
 * backend's stream, which under emulation first checks that the first
 * argument, an output, is device memory. */
#ifndef MZ_KERNEL_GEN_H
#define MZ_KERNEL_GEN_H

#include "src/backend.h"
#include "src/check.h"

/* A list's dispatch table for be: the CPU one, or the CUDA one (the address
 * of a weak symbol, NULL in a binary without CUDA: exits naming `who`). */
static inline const void *mz_kernel_table_for(const mz_backend *be, const void *cpu, const void *cuda,
                                              const char *who) {
    if (be->kind != MZ_BACKEND_CUDA) return cpu;
    MZ_CHECK(cuda != NULL, "%s: backend '%s' but this binary has no CUDA kernels", who, be->name);
    return cuda;
}

#define MZ_UNPAREN(...) __VA_ARGS__
#define MZ_GEN_FIRST_(first, ...) first
#define MZ_GEN_FIRST(...) MZ_GEN_FIRST_(__VA_ARGS__, unused)

#define MZ_GEN_CPU_LOOP(name, params, args)                                                        \
    static void cpu_##name(mz_backend *be, int64_t n, MZ_UNPAREN params) {                         \
        (void)be;                                                                                  \
        _Pragma("omp parallel for schedule(static) if (n >= MZ_CPU_PARALLEL_MIN)")                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            name##_body(i, MZ_UNPAREN args);                                                       \
    }

#define MZ_GEN_CUDA_LAUNCHER(name, params, args)                                                   \
    __global__ void name##_kernel(int64_t n, MZ_UNPAREN params) {                                  \
        MZ_GRID_STRIDE_LOOP(i, n) name##_body(i, MZ_UNPAREN args);                                 \
    }                                                                                              \
    static void cuda_##name(mz_backend *be, int64_t n, MZ_UNPAREN params) {                        \
        if (n <= 0) return;                                                                        \
        MZ_REQUIRE_DEVICE(MZ_GEN_FIRST(MZ_UNPAREN args), 1, #name " output");                      \
        MZ_LAUNCH(name##_kernel, mz_grid_for(n), MZ_BLOCK, mz_cuda_backend_stream(be), n, MZ_UNPAREN args); \
    }

#endif
