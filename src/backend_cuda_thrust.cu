#define MZ_THRUST_TU
#include "src/backend_cuda_thrust.h"
#include "src/cuda_common.h"

#include <math.h>

#include <exception>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>

/* Thrust reports failures as C++ exceptions; turn them into our exit path. */
#define MZ_THRUST_CALL(op_name, stmt)                                                                 \
    do {                                                                                           \
        try {                                                                                      \
            stmt;                                                                                  \
        } catch (const std::exception &mz_ex_) {                                                   \
            mz_fail(__FILE__, __LINE__, "Thrust: %s failed: %s", (op_name), mz_ex_.what());        \
        }                                                                                          \
    } while (0)

/* Under emulation Thrust runs on its CPP device system (the Makefile sets
 * THRUST_DEVICE_SYSTEM), where thrust::device is the sequential host. */
#ifdef MZ_CUDA_EMU
#define MZ_THRUST_POLICY(stream) ((void)(stream), thrust::device)
#else
#define MZ_THRUST_POLICY(stream) thrust::cuda::par.on((cudaStream_t)(stream))
#endif

float mz_cuda_thrust_sum(void *stream, int64_t n, const float *x) {
    if (n <= 0) return 0.0f;
    MZ_REQUIRE_DEVICE(x, (size_t)n * sizeof(float), "sum");
    float s = 0.0f;
    MZ_THRUST_CALL("sum", s = thrust::reduce(MZ_THRUST_POLICY(stream), x, x + n, 0.0f, thrust::plus<float>()));
    return s;
}

float mz_cuda_thrust_max(void *stream, int64_t n, const float *x) {
    MZ_CHECK(n >= 1, "cuda backend: max of an empty array");
    MZ_REQUIRE_DEVICE(x, (size_t)n * sizeof(float), "max");
    float m = 0.0f;
    MZ_THRUST_CALL("max", m = thrust::reduce(MZ_THRUST_POLICY(stream), x, x + n, -INFINITY, thrust::maximum<float>()));
    return m;
}

void mz_cuda_thrust_inclusive_scan(void *stream, int64_t n, const float *x, float *out) {
    if (n <= 0) return;
    MZ_REQUIRE_DEVICE(x, (size_t)n * sizeof(float), "inclusive_scan input");
    MZ_REQUIRE_DEVICE(out, (size_t)n * sizeof(float), "inclusive_scan output");
    MZ_THRUST_CALL("inclusive_scan", thrust::inclusive_scan(MZ_THRUST_POLICY(stream), x, x + n, out));
}

void mz_cuda_thrust_sort_by_key(void *stream, int64_t n, float *keys, int32_t *values) {
    if (n <= 1) return;
    MZ_REQUIRE_DEVICE(keys, (size_t)n * sizeof(float), "sort_by_key keys");
    MZ_REQUIRE_DEVICE(values, (size_t)n * sizeof(int32_t), "sort_by_key values");
    MZ_THRUST_CALL("sort_by_key", thrust::stable_sort_by_key(MZ_THRUST_POLICY(stream), keys, keys + n, values));
}
