/* Shared by the CUDA backend's .cu files: the runtime (real, or emulated
 * when MZ_CUDA_EMU is defined), check macros and the launch macro. */
#ifndef MZ_CUDA_COMMON_H
#define MZ_CUDA_COMMON_H

#if defined(MZ_CUDA_EMU) && defined(MZ_THRUST_TU)
/* Under emulation, Thrust's own headers pull in the real CUDA runtime
 * declarations when a toolkit is installed, which clash with the emulated
 * ones. The Thrust unit calls no runtime function, so it takes only the
 * allocation registry. */
#include "src/cuda_emu_runtime.h"
#elif defined(MZ_CUDA_EMU)
#include "src/cuda_emu.h"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#include "src/check.h"

#if !defined(MZ_THRUST_TU)
struct mz_backend;
/* The stream every kernel of a CUDA backend runs on (src/backend_cuda.cu). */
cudaStream_t mz_cuda_backend_stream(struct mz_backend *be);
#endif

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t mz_e_ = (call);                                                                \
        if (mz_e_ != cudaSuccess)                                                                  \
            mz_fail(__FILE__, __LINE__, "CUDA: %s failed: %s", #call, cudaGetErrorString(mz_e_));  \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t mz_s_ = (call);                                                             \
        if (mz_s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            mz_fail(__FILE__, __LINE__, "cuBLAS: %s failed: %s", #call,                            \
                    cublasGetStatusString(mz_s_));                                                 \
    } while (0)

/* Launch a 1-D grid and check the launch, on both builds. */
#ifdef MZ_CUDA_EMU
#define MZ_LAUNCH(kernel, grid, block, stream, ...)                                                \
    do {                                                                                           \
        (void)(stream);                                                                            \
        MZ_EMU_LAUNCH(kernel, grid, block, __VA_ARGS__);                                           \
        CUDA_CHECK(cudaGetLastError());                                                            \
    } while (0)
#else
#define MZ_LAUNCH(kernel, grid, block, stream, ...)                                                \
    do {                                                                                           \
        kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__);                                     \
        CUDA_CHECK(cudaGetLastError());                                                            \
    } while (0)
#endif

/* Each thread walks i = global id, id + total threads, ... below n. */
#define MZ_GRID_STRIDE_LOOP(i, n)                                                                  \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

#define MZ_BLOCK 256
/* Enough blocks to cover n once, capped: the grid-stride loop does the rest. */
static inline unsigned int mz_grid_for(int64_t n) {
    int64_t blocks = (n + MZ_BLOCK - 1) / MZ_BLOCK;
    if (blocks < 1) blocks = 1;
    if (blocks > 65535) blocks = 65535;
    return (unsigned int)blocks;
}

/* Emulation only: a host pointer handed to a device op is a bug that plain
 * host memory would hide and a GPU would not; fail loudly. */
#ifdef MZ_CUDA_EMU
#define MZ_REQUIRE_DEVICE(ptr, bytes, what)                                                        \
    MZ_CHECK(mz_emu_is_device((ptr), (bytes)),                                                     \
             "cuda-emu: %s: %p (+%zu bytes) is not inside a device allocation", (what),            \
             (const void *)(ptr), (size_t)(bytes))
#else
#define MZ_REQUIRE_DEVICE(ptr, bytes, what) ((void)0)
#endif

#endif
