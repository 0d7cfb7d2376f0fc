/* Checks of the emulation layer itself (src/cuda_emu.h), compiled only in the
 * emulation build: the emulated runtime must refuse what a GPU refuses.
 * Each probe returns 0, or the line of the first expectation that failed. */
#include "src/cuda_common.h"

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) return __LINE__;                                                              \
    } while (0)

__global__ void probe_fill_kernel(int64_t n, float *out) {
    MZ_GRID_STRIDE_LOOP(i, n) out[i] = (float)(blockIdx.x * 1000 + threadIdx.x);
}

extern "C" int emu_probe_memcpy(void) {
    float host[16] = {0}, back[16] = {0};
    float *dev = NULL;
    EXPECT(cudaMalloc((void **)&dev, sizeof host) == cudaSuccess);
    EXPECT(cudaMemcpy(dev, host, sizeof host, cudaMemcpyHostToDevice) == cudaSuccess);
    EXPECT(cudaMemcpy(back, dev, sizeof host, cudaMemcpyDeviceToHost) == cudaSuccess);
    /* wrong directions */
    EXPECT(cudaMemcpy(host, back, sizeof host, cudaMemcpyHostToDevice) == cudaErrorInvalidMemcpyDirection);
    EXPECT(cudaMemcpy(dev, host, sizeof host, cudaMemcpyDeviceToHost) == cudaErrorInvalidMemcpyDirection);
    EXPECT(cudaMemcpy(dev, host, sizeof host, cudaMemcpyDeviceToDevice) == cudaErrorInvalidMemcpyDirection);
    /* a range past the end of the allocation */
    EXPECT(cudaMemcpy(dev + 1, host, sizeof host, cudaMemcpyHostToDevice) == cudaErrorInvalidMemcpyDirection);
    EXPECT(cudaMemsetAsync(back, 0, sizeof back, NULL) == cudaErrorInvalidValue);
    EXPECT(cudaGetLastError() == cudaErrorInvalidValue); /* the last error is sticky until read */
    EXPECT(cudaGetLastError() == cudaSuccess);
    EXPECT(cudaFree(host) == cudaErrorInvalidDevicePointer);
    (void)cudaGetLastError();
    EXPECT(cudaFree(dev) == cudaSuccess);
    EXPECT(cudaFree(dev) == cudaErrorInvalidDevicePointer); /* double free */
    (void)cudaGetLastError();
    return 0;
}

extern "C" int emu_probe_capacity(void) {
    size_t free_b = 0, total_b = 0;
    EXPECT(cudaMemGetInfo(&free_b, &total_b) == cudaSuccess);
    mz_emu_set_capacity(mz_emu_bytes_in_use() + 1000);
    void *p = NULL, *q = NULL;
    EXPECT(cudaMalloc(&p, 800) == cudaSuccess);
    EXPECT(cudaMalloc(&q, 800) == cudaErrorMemoryAllocation);
    (void)cudaGetLastError();
    EXPECT(cudaFree(p) == cudaSuccess);
    mz_emu_set_capacity(0);
    EXPECT(mz_emu_capacity() == total_b);
    return 0;
}

extern "C" int emu_probe_launch(void) {
    enum { N = 1000 };
    float *dev = NULL, host[N];
    EXPECT(cudaMalloc((void **)&dev, sizeof host) == cudaSuccess);
    /* 3 blocks of 128 threads cover 1000 elements with a grid stride */
    MZ_EMU_LAUNCH(probe_fill_kernel, 3, 128, (int64_t)N, dev);
    EXPECT(cudaGetLastError() == cudaSuccess);
    EXPECT(cudaMemcpy(host, dev, sizeof host, cudaMemcpyDeviceToHost) == cudaSuccess);
    EXPECT(host[0] == 0.0f && host[127] == 127.0f && host[128] == 1000.0f && host[384] == 0.0f &&
           host[999] == (float)((999 % 384) / 128 * 1000 + (999 % 384) % 128));
    /* configurations CUDA refuses */
    MZ_EMU_LAUNCH(probe_fill_kernel, 1, 2048, (int64_t)N, dev);
    EXPECT(cudaGetLastError() == cudaErrorInvalidConfiguration);
    MZ_EMU_LAUNCH(probe_fill_kernel, 0, 128, (int64_t)N, dev);
    EXPECT(cudaGetLastError() == cudaErrorInvalidConfiguration);
    EXPECT(cudaFree(dev) == cudaSuccess);
    return 0;
}

extern "C" int emu_probe_cublas(void) {
    cublasHandle_t h = NULL;
    float alpha = 1.0f, beta = 0.0f, host[16] = {0};
    float *dev = NULL;
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &alpha, host, 2, host, 2, &beta, host, 2) ==
           CUBLAS_STATUS_NOT_INITIALIZED);
    EXPECT(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
    EXPECT(cudaMalloc((void **)&dev, sizeof host) == cudaSuccess);
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &alpha, dev, 2, dev + 4, 2, &beta, dev + 8, 2) ==
           CUBLAS_STATUS_SUCCESS);
    /* lda smaller than the rows */
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 2, 2, &alpha, dev, 2, dev, 2, &beta, dev, 3) ==
           CUBLAS_STATUS_INVALID_VALUE);
    /* a host matrix: a GPU would fault */
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &alpha, host, 2, dev, 2, &beta, dev + 8, 2) ==
           CUBLAS_STATUS_EXECUTION_FAILED);
    /* C runs past the allocation */
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &alpha, dev, 2, dev, 2, &beta, dev + 14, 2) ==
           CUBLAS_STATUS_EXECUTION_FAILED);
    EXPECT(cublasSaxpy(h, 4, &alpha, host, 1, dev, 1) == CUBLAS_STATUS_EXECUTION_FAILED);
    EXPECT(cublasSscal(h, 17, &alpha, dev, 1) == CUBLAS_STATUS_EXECUTION_FAILED);
    EXPECT(cudaFree(dev) == cudaSuccess);
    EXPECT(cublasDestroy(h) == CUBLAS_STATUS_SUCCESS);
    return 0;
}
