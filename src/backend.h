/* The backend: one small interface, implemented by the CPU (OpenMP + CBLAS)
 * and by CUDA (kernels + cuBLAS + Thrust). The CUDA sources are also built
 * against src/cuda_emu.h with the host compiler ("emulated CUDA") so tests run
 * every CUDA path on a GPU-less machine and compare it with the CPU.
 *
 * Pointers named "device" below live in the backend's memory: host memory for
 * the CPU backend, GPU memory for CUDA. Every call either succeeds or exits 1
 * with file:line and the library's error string (src/check.h).
 *
 * GEMM CONVENTION (column-major, exactly BLAS and cuBLAS):
 *   C = alpha * op(A) * op(B) + beta * C,   C is M x N, op(A) M x K, op(B) K x N
 *   element (i, j) of a column-major matrix X with leading dimension ldX is
 *   X[i + j * ldX]; A is stored M x K (lda >= M) when !trans_a, K x M
 *   (lda >= K) when trans_a; likewise B is K x N or N x K; ldc >= M.
 * Row-major code computes Y[R x C] = X[R x I] * W[I x C] as the column-major
 * product Y^T = W^T X^T: gemm(be, 0, 0, C, R, I, 1, W, C, X, I, 0, Y, C). */
#ifndef MZ_BACKEND_H
#define MZ_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MZ_RNG_UNIFORM = 0, /* [0, 1) */
    MZ_RNG_NORMAL = 1,  /* N(0, 1) */
    MZ_RNG_GUMBEL = 2,  /* Gumbel(0, 1) */
    MZ_RNG_GAMMA = 3,   /* Gamma(param, 1) */
} mz_rng_dist;

typedef struct mz_backend mz_backend;

typedef enum { MZ_BACKEND_CPU = 0, MZ_BACKEND_CUDA = 1 } mz_backend_kind;

/* Kernels outside this interface (environments, network ops) have a CPU
 * launcher in a .c file and a CUDA launcher in a .cu file. A caller declares
 * the CUDA launcher MZ_CUDA_LAUNCHER and calls it only when be->kind is
 * MZ_BACKEND_CUDA: a binary without CUDA cannot create such a backend, so the
 * weak reference, unresolved there, is never called. */
#define MZ_CUDA_LAUNCHER __attribute__((weak))

/* CPU launchers run a loop on one thread below this many indices: waking a
 * thread team costs microseconds, and on a loaded machine a descheduled team
 * member stalls every region (2 threads measured 5-7x slower than 1). */
#define MZ_CPU_PARALLEL_MIN 1024

struct mz_backend {
    const char *name; /* "cpu", "cuda", "cuda-emu" */
    mz_backend_kind kind; /* CUDA also under emulation */
    int device_index;
    void *ctx; /* implementation state */

    /* memory */
    void *(*alloc)(mz_backend *be, size_t bytes); /* zero bytes gives a valid unique pointer */
    void (*free)(mz_backend *be, void *p);        /* NULL is a no-op */
    void (*zero)(mz_backend *be, void *p, size_t bytes);
    void (*copy_h2d)(mz_backend *be, void *dst_dev, const void *src_host, size_t bytes);
    void (*copy_d2h)(mz_backend *be, void *dst_host, const void *src_dev, size_t bytes);
    void (*copy_d2d)(mz_backend *be, void *dst_dev, const void *src_dev, size_t bytes);
    void (*sync)(mz_backend *be);
    /* bytes this backend holds / the device's capacity */
    void (*mem_info)(mz_backend *be, size_t *used, size_t *total);

    /* dense linear algebra, column-major (see the convention above) */
    void (*gemm)(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* batch of independent gemms, matrix b at A + b*stride_a etc. */
    void (*gemm_strided_batched)(mz_backend *be, bool trans_a, bool trans_b, int M, int N, int K,
                                 float alpha, const float *A, int lda, int64_t stride_a,
                                 const float *B, int ldb, int64_t stride_b, float beta, float *C,
                                 int ldc, int64_t stride_c, int batch);
    void (*axpy)(mz_backend *be, int64_t n, float alpha, const float *x, float *y); /* y += alpha x */
    void (*scal)(mz_backend *be, int64_t n, float alpha, float *x);               /* x *= alpha */

    /* y[i] = a * x[i] + b * y[i]: the worked single-source example kernel
     * (src/backend_ops.h), launched by both backends. */
    void (*scale_add)(mz_backend *be, int64_t n, float a, const float *x, float b, float *y);

    /* reductions, scan and sort (Thrust on CUDA); results of sum/max land on the host */
    float (*sum)(mz_backend *be, int64_t n, const float *x);
    float (*max)(mz_backend *be, int64_t n, const float *x); /* n >= 1 */
    void (*inclusive_scan)(mz_backend *be, int64_t n, const float *x, float *out); /* out may be x */
    /* stable ascending sort of keys (no NaN; -0.0 sorts before +0.0, as the
     * device radix sort orders them), values permuted alongside */
    void (*sort_by_key)(mz_backend *be, int64_t n, float *keys, int32_t *values);

    /* out[i] = draw of `dist` from rng (seed, stream, offset_base + i): the
     * same bits on every backend (src/rng.h) */
    void (*rng_fill)(mz_backend *be, int64_t n, float *out, mz_rng_dist dist, float param,
                     uint64_t seed, uint32_t stream, uint64_t offset_base);
    /* rows x K Dirichlet(alpha) draws; row r uses offset offset_base + r */
    void (*rng_dirichlet)(mz_backend *be, int64_t rows, int K, float *out, float alpha,
                          uint64_t seed, uint32_t stream, uint64_t offset_base);

    void (*destroy)(mz_backend *be);
};

/* The CPU backend; threads <= 0 means all cores (OpenMP's default). */
mz_backend *mz_backend_cpu_create(int threads);

/* Whether this binary carries the CUDA backend (real or emulated). */
bool mz_cuda_compiled(void);
/* Is CUDA device `index` usable? 0 if yes; otherwise -1 and a one-line
 * reason in `reason`. Never aborts, whatever the driver state. */
int mz_cuda_probe(int index, char *reason, size_t reason_len);
/* The CUDA backend on device `index` (probe first). */
mz_backend *mz_backend_cuda_create(int index);

/* Opens the backend a config's `device` names: "auto", "cpu", "cuda",
 * "cuda:N". On success returns 0 and sets *out; `chosen` gets a one-line
 * description ("cpu (OpenMP, 2 threads)" or "auto -> cpu: <why>").
 * On failure returns MZ_EXIT_USAGE (2) with a one-line reason in `err`. */
int mz_backend_open(const char *device, int threads, mz_backend **out, char *chosen,
                    size_t chosen_len, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
