/* Device emulation (DESIGN.md §1.3): lets the CUDA backend's .cu files be
 * compiled by the host C++ compiler and run on a machine without a GPU.
 *   - __global__/__device__/__host__ vanish; threadIdx/blockIdx/blockDim/
 *     gridDim are thread-local variables that MZ_LAUNCH sets while it runs
 *     every (block, thread) of a 1-D grid in order;
 *   - cudaMalloc/cudaMemcpy/cudaMemset are host memory, with the emulated
 *     allocation registry checking every copy's direction and extent;
 *   - cuBLAS calls map to CBLAS with identical column-major semantics and
 *     cuBLAS's own argument checks;
 *   - Thrust runs on its CPP device system (set by the Makefile).
 * Only what the backend uses is emulated; using anything else fails to
 * compile, which is the point. Kernels must not use __syncthreads, shared
 * memory or warp intrinsics (none are defined here). */
#ifndef MZ_CUDA_EMU_H
#define MZ_CUDA_EMU_H

#ifndef __cplusplus
#error "cuda_emu.h is for .cu files compiled as C++ in the emulation build"
#endif

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "src/cuda_emu_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct dim3 {
    unsigned int x, y, z;
    dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};

static thread_local dim3 threadIdx(0, 0, 0), blockIdx(0, 0, 0), blockDim(1, 1, 1), gridDim(1, 1, 1);

/* ---- runtime API -------------------------------------------------------- */

typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
} cudaError_t;

typedef enum {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
} cudaMemcpyKind;

struct mz_emu_stream {
    int unused;
};
typedef mz_emu_stream *cudaStream_t;

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor;
    int multiProcessorCount;
};

static thread_local cudaError_t mz_emu_last_error = cudaSuccess;

static inline cudaError_t mz_emu_set_error(cudaError_t e) {
    if (e != cudaSuccess) mz_emu_last_error = e;
    return e;
}

static inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    }
    return "unknown error";
}

static inline cudaError_t cudaGetLastError(void) {
    cudaError_t e = mz_emu_last_error;
    mz_emu_last_error = cudaSuccess;
    return e;
}
static inline cudaError_t cudaPeekAtLastError(void) { return mz_emu_last_error; }

static inline cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}
static inline cudaError_t cudaSetDevice(int index) {
    return mz_emu_set_error(index == 0 ? cudaSuccess : cudaErrorInvalidDevice);
}
static inline cudaError_t cudaDriverGetVersion(int *v) {
    *v = 13000;
    return cudaSuccess;
}
static inline cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = 13000;
    return cudaSuccess;
}
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int index) {
    if (index != 0) return mz_emu_set_error(cudaErrorInvalidDevice);
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "emulated CUDA device (host memory)");
    p->totalGlobalMem = mz_emu_capacity();
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 1;
    return cudaSuccess;
}

static inline cudaError_t cudaMalloc(void **p, size_t bytes) {
    return mz_emu_set_error(mz_emu_malloc(p, bytes) == 0 ? cudaSuccess : cudaErrorMemoryAllocation);
}
static inline cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    return mz_emu_set_error(mz_emu_free(p) == 0 ? cudaSuccess : cudaErrorInvalidDevicePointer);
}
static inline cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *total_bytes = mz_emu_capacity();
    *free_bytes = *total_bytes - mz_emu_bytes_in_use();
    return cudaSuccess;
}

/* The direction must match where the pointers live, and device ranges must
 * lie inside one allocation: a real GPU faults or corrupts on either. */
static inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    bool dst_dev = mz_emu_is_device(dst, bytes), src_dev = mz_emu_is_device(src, bytes);
    bool ok = false;
    switch (kind) {
    case cudaMemcpyHostToDevice: ok = dst_dev && !src_dev; break;
    case cudaMemcpyDeviceToHost: ok = src_dev && !dst_dev; break;
    case cudaMemcpyDeviceToDevice: ok = src_dev && dst_dev; break;
    case cudaMemcpyHostToHost: ok = !src_dev && !dst_dev; break;
    }
    if (!ok) return mz_emu_set_error(cudaErrorInvalidMemcpyDirection);
    memmove(dst, src, bytes);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                                          cudaStream_t stream) {
    (void)stream;
    return cudaMemcpy(dst, src, bytes, kind);
}
static inline cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream) {
    (void)stream;
    if (bytes == 0) return cudaSuccess;
    if (!mz_emu_is_device(dst, bytes)) return mz_emu_set_error(cudaErrorInvalidValue);
    memset(dst, value, bytes);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = new mz_emu_stream();
    return cudaSuccess;
}
static inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete s;
    return cudaSuccess;
}
static inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    return cudaSuccess;
}
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

/* Runs every thread of a 1-D grid in order. A configuration CUDA would
 * refuse sets cudaErrorInvalidConfiguration and runs nothing, as on a GPU. */
#define MZ_EMU_LAUNCH(kernel, grid, block, ...)                                                    \
    do {                                                                                           \
        unsigned int mz_g_ = (unsigned int)(grid), mz_b_ = (unsigned int)(block);                  \
        if (mz_g_ == 0 || mz_g_ > 2147483647u || mz_b_ == 0 || mz_b_ > 1024u) {                    \
            mz_emu_set_error(cudaErrorInvalidConfiguration);                                       \
            break;                                                                                 \
        }                                                                                          \
        gridDim = dim3(mz_g_);                                                                     \
        blockDim = dim3(mz_b_);                                                                    \
        for (unsigned int mz_bx_ = 0; mz_bx_ < mz_g_; mz_bx_++) {                                  \
            for (unsigned int mz_tx_ = 0; mz_tx_ < mz_b_; mz_tx_++) {                              \
                blockIdx = dim3(mz_bx_, 0, 0);                                                     \
                threadIdx = dim3(mz_tx_, 0, 0);                                                    \
                kernel(__VA_ARGS__);                                                               \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- cuBLAS ------------------------------------------------------------- */

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;

struct mz_emu_cublas {
    cudaStream_t stream;
};
typedef mz_emu_cublas *cublasHandle_t;

static inline const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    }
    return "unknown cuBLAS status";
}

static inline cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new mz_emu_cublas();
    (*h)->stream = NULL;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

/* Extent in floats of a column-major rows x cols matrix with leading dim ld. */
static inline size_t mz_emu_extent(int rows, int cols, int ld) {
    if (rows <= 0 || cols <= 0) return 0;
    return (size_t)ld * (size_t)(cols - 1) + (size_t)rows;
}

static inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float *alpha, const float *A, int lda,
                                         const float *B, int ldb, const float *beta, float *C, int ldc) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
    int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
    if (m < 0 || n < 0 || k < 0 || lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) ||
        ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    size_t ea = mz_emu_extent(a_rows, a_cols, lda), eb = mz_emu_extent(b_rows, b_cols, ldb);
    size_t ec = mz_emu_extent(m, n, ldc);
    if ((ea && !mz_emu_is_device(A, ea * sizeof(float))) || (eb && !mz_emu_is_device(B, eb * sizeof(float))) ||
        !mz_emu_is_device(C, ec * sizeof(float)))
        return CUBLAS_STATUS_EXECUTION_FAILED; /* a GPU would fault on a host pointer */
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                                       cublasOperation_t tb, int m, int n, int k,
                                                       const float *alpha, const float *A, int lda,
                                                       long long sa, const float *B, int ldb, long long sb,
                                                       const float *beta, float *C, int ldc, long long sc,
                                                       int batch) {
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++) {
        cublasStatus_t s = cublasSgemm(h, ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta,
                                       C + i * sc, ldc);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSaxpy(cublasHandle_t h, int n, const float *alpha, const float *x, int incx,
                                         float *y, int incy) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (n <= 0) return CUBLAS_STATUS_SUCCESS;
    if (incx != 1 || incy != 1) return CUBLAS_STATUS_INVALID_VALUE; /* only unit strides are emulated */
    if (!mz_emu_is_device(x, (size_t)n * sizeof(float)) || !mz_emu_is_device(y, (size_t)n * sizeof(float)))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    cblas_saxpy(n, *alpha, x, 1, y, 1);
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasSscal(cublasHandle_t h, int n, const float *alpha, float *x, int incx) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (n <= 0) return CUBLAS_STATUS_SUCCESS;
    if (incx != 1) return CUBLAS_STATUS_INVALID_VALUE;
    if (!mz_emu_is_device(x, (size_t)n * sizeof(float))) return CUBLAS_STATUS_EXECUTION_FAILED;
    cblas_sscal(n, *alpha, x, 1);
    return CUBLAS_STATUS_SUCCESS;
}

#endif
