/* CUDA backend: device memory, one stream, grid-stride kernels over the
 * single-source bodies (src/backend_ops.h), cuBLAS for matrix products and
 * Thrust for reductions (src/backend_cuda_thrust.cu). Compiled by nvcc for
 * GPUs and by the host compiler against src/cuda_emu.h for the tests. */
#include <stdio.h>
#include <stdlib.h>

#include "src/backend.h"
#include "src/backend_cuda_thrust.h"
#include "src/backend_ops.h"
#include "src/cuda_common.h"

typedef struct {
    cudaStream_t stream;
    cublasHandle_t blas;
} cuda_ctx;

static cuda_ctx *ctx_of(mz_backend *be) { return (cuda_ctx *)be->ctx; }

/* ---- kernels: thin grid-stride wrappers over the shared bodies ---------- */

__global__ void scale_add_kernel(int64_t n, float a, const float *x, float b, float *y) {
    MZ_GRID_STRIDE_LOOP(i, n) scale_add_body(i, a, x, b, y);
}

__global__ void rng_fill_kernel(int64_t n, float *out, int dist, float param, uint64_t seed, uint32_t stream,
                                uint64_t offset_base) {
    MZ_GRID_STRIDE_LOOP(i, n) rng_fill_body(i, out, dist, param, seed, stream, offset_base);
}

__global__ void rng_dirichlet_kernel(int64_t rows, float *out, int K, float alpha, uint64_t seed,
                                     uint32_t stream, uint64_t offset_base) {
    MZ_GRID_STRIDE_LOOP(r, rows) rng_dirichlet_body(r, out, K, alpha, seed, stream, offset_base);
}

/* ---- memory ------------------------------------------------------------- */

static void *cuda_alloc(mz_backend *be, size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&free_b, &total_b);
        mz_fail(__FILE__, __LINE__, "%s: cudaMalloc(%zu bytes) failed: %s (%zu of %zu bytes free)", be->name,
                bytes, cudaGetErrorString(e), free_b, total_b);
    }
    return p;
}

static void cuda_free(mz_backend *be, void *p) {
    (void)be;
    if (p) CUDA_CHECK(cudaFree(p));
}

static void cuda_zero(mz_backend *be, void *p, size_t bytes) {
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_of(be)->stream));
}

static void cuda_copy_h2d(mz_backend *be, void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_of(be)->stream));
}

static void cuda_copy_d2h(mz_backend *be, void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_of(be)->stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx_of(be)->stream)); /* the host reads it next */
}

static void cuda_copy_d2d(mz_backend *be, void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_of(be)->stream));
}

static void cuda_sync(mz_backend *be) { CUDA_CHECK(cudaStreamSynchronize(ctx_of(be)->stream)); }

/* Device-wide: what cudaMemGetInfo reports (all processes, context included). */
static void cuda_mem_info(mz_backend *be, size_t *used, size_t *total) {
    (void)be;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (used) *used = total_b - free_b;
    if (total) *total = total_b;
}

/* ---- BLAS --------------------------------------------------------------- */

static void cuda_gemm(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M == 0 || N == 0) return;
    CUBLAS_CHECK(cublasSgemm(ctx_of(be)->blas, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, M, N, K, &alpha, A, lda, B, ldb, &beta, C,
                             ldc));
}

static void cuda_gemm_strided_batched(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K,
                                      float alpha, const float *A, int lda, int64_t stride_a, const float *B,
                                      int ldb, int64_t stride_b, float beta, float *C, int ldc,
                                      int64_t stride_c, int batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    CUBLAS_CHECK(cublasSgemmStridedBatched(ctx_of(be)->blas, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, M, N, K, &alpha, A, lda,
                                           (long long)stride_a, B, ldb, (long long)stride_b, &beta, C, ldc,
                                           (long long)stride_c, batch));
}

#define MZ_INT_CHUNK 1073741824LL /* cuBLAS level-1 counts are int */

static void cuda_axpy(mz_backend *be, int64_t n, float alpha, const float *x, float *y) {
    for (int64_t done = 0; done < n; done += MZ_INT_CHUNK) {
        int chunk = (int)((n - done) < MZ_INT_CHUNK ? (n - done) : MZ_INT_CHUNK);
        CUBLAS_CHECK(cublasSaxpy(ctx_of(be)->blas, chunk, &alpha, x + done, 1, y + done, 1));
    }
}

static void cuda_scal(mz_backend *be, int64_t n, float alpha, float *x) {
    for (int64_t done = 0; done < n; done += MZ_INT_CHUNK) {
        int chunk = (int)((n - done) < MZ_INT_CHUNK ? (n - done) : MZ_INT_CHUNK);
        CUBLAS_CHECK(cublasSscal(ctx_of(be)->blas, chunk, &alpha, x + done, 1));
    }
}

/* ---- element-wise ops --------------------------------------------------- */

static void cuda_scale_add(mz_backend *be, int64_t n, float a, const float *x, float b, float *y) {
    if (n <= 0) return;
    MZ_REQUIRE_DEVICE(x, (size_t)n * sizeof(float), "scale_add x");
    MZ_REQUIRE_DEVICE(y, (size_t)n * sizeof(float), "scale_add y");
    MZ_LAUNCH(scale_add_kernel, mz_grid_for(n), MZ_BLOCK, ctx_of(be)->stream, n, a, x, b, y);
}

static void cuda_rng_fill(mz_backend *be, int64_t n, float *out, mz_rng_dist dist, float param, uint64_t seed,
                          uint32_t stream, uint64_t offset_base) {
    if (n <= 0) return;
    MZ_REQUIRE_DEVICE(out, (size_t)n * sizeof(float), "rng_fill out");
    MZ_LAUNCH(rng_fill_kernel, mz_grid_for(n), MZ_BLOCK, ctx_of(be)->stream, n, out, (int)dist, param, seed,
              stream, offset_base);
}

static void cuda_rng_dirichlet(mz_backend *be, int64_t rows, int K, float *out, float alpha, uint64_t seed,
                               uint32_t stream, uint64_t offset_base) {
    if (rows <= 0 || K <= 0) return;
    MZ_REQUIRE_DEVICE(out, (size_t)rows * (size_t)K * sizeof(float), "rng_dirichlet out");
    MZ_LAUNCH(rng_dirichlet_kernel, mz_grid_for(rows), MZ_BLOCK, ctx_of(be)->stream, rows, out, K, alpha, seed,
              stream, offset_base);
}

/* ---- reductions (Thrust) ------------------------------------------------ */

static float cuda_sum(mz_backend *be, int64_t n, const float *x) {
    return mz_cuda_thrust_sum((void *)ctx_of(be)->stream, n, x);
}
static float cuda_max(mz_backend *be, int64_t n, const float *x) {
    return mz_cuda_thrust_max((void *)ctx_of(be)->stream, n, x);
}
static void cuda_inclusive_scan(mz_backend *be, int64_t n, const float *x, float *out) {
    mz_cuda_thrust_inclusive_scan((void *)ctx_of(be)->stream, n, x, out);
}
static void cuda_sort_by_key(mz_backend *be, int64_t n, float *keys, int32_t *values) {
    mz_cuda_thrust_sort_by_key((void *)ctx_of(be)->stream, n, keys, values);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void cuda_destroy(mz_backend *be) {
    if (!be) return;
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    CUBLAS_CHECK(cublasDestroy(c->blas));
    CUDA_CHECK(cudaStreamDestroy(c->stream));
    free(c);
    free(be);
}

extern "C" bool mz_cuda_compiled(void) { return true; }

/* The stream every op of `be` runs on, for kernels launched outside this
 * file (src/nn/nn_cuda.cu). */
extern "C" void *mz_cuda_stream(mz_backend *be) { return (void *)ctx_of(be)->stream; }

extern "C" int mz_cuda_probe(int index, char *reason, size_t reason_len) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        int driver = 0, runtime = 0;
        (void)cudaDriverGetVersion(&driver);
        (void)cudaRuntimeGetVersion(&runtime);
        (void)cudaGetLastError();
        if (e == cudaErrorNoDevice)
            snprintf(reason, reason_len, "no CUDA device found");
        else if (e == cudaErrorInsufficientDriver && driver == 0)
            snprintf(reason, reason_len, "no NVIDIA driver found (this binary needs one for CUDA %d.%d)",
                     runtime / 1000, (runtime % 1000) / 10);
        else if (e == cudaErrorInsufficientDriver)
            snprintf(reason, reason_len, "NVIDIA driver supports CUDA %d.%d, this binary needs %d.%d",
                     driver / 1000, (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
        else
            snprintf(reason, reason_len, "CUDA unavailable: %s", cudaGetErrorString(e));
        return -1;
    }
    if (count == 0) {
        snprintf(reason, reason_len, "no CUDA device found");
        return -1;
    }
    if (index < 0 || index >= count) {
        snprintf(reason, reason_len, "cuda:%d requested but %d CUDA device%s found (cuda:0..cuda:%d)", index,
                 count, count == 1 ? "" : "s", count - 1);
        return -1;
    }
    e = cudaSetDevice(index);
    if (e == cudaSuccess) e = cudaFree(NULL); /* creates the context: fails here if the device is unusable */
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(reason, reason_len, "CUDA device %d unusable: %s", index, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

extern "C" mz_backend *mz_backend_cuda_create(int index) {
    CUDA_CHECK(cudaSetDevice(index));
    mz_backend *be = (mz_backend *)calloc(1, sizeof(mz_backend));
    cuda_ctx *c = (cuda_ctx *)calloc(1, sizeof(cuda_ctx));
    MZ_CHECK(be && c, "cuda backend: out of host memory");
    CUDA_CHECK(cudaStreamCreate(&c->stream));
    CUBLAS_CHECK(cublasCreate(&c->blas));
    CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
#ifdef MZ_CUDA_EMU
    be->name = "cuda-emu";
#else
    be->name = "cuda";
#endif
    be->device_index = index;
    be->ctx = c;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->zero = cuda_zero;
    be->copy_h2d = cuda_copy_h2d;
    be->copy_d2h = cuda_copy_d2h;
    be->copy_d2d = cuda_copy_d2d;
    be->sync = cuda_sync;
    be->mem_info = cuda_mem_info;
    be->gemm = cuda_gemm;
    be->gemm_strided_batched = cuda_gemm_strided_batched;
    be->axpy = cuda_axpy;
    be->scal = cuda_scal;
    be->scale_add = cuda_scale_add;
    be->sum = cuda_sum;
    be->max = cuda_max;
    be->inclusive_scan = cuda_inclusive_scan;
    be->sort_by_key = cuda_sort_by_key;
    be->rng_fill = cuda_rng_fill;
    be->rng_dirichlet = cuda_rng_dirichlet;
    be->destroy = cuda_destroy;
    return be;
}
