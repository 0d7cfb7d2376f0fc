/* Device-wide reductions, scan and sort of the CUDA backend (Thrust), kept in
 * their own translation unit because Thrust is slow to compile. */
#ifndef MZ_BACKEND_CUDA_THRUST_H
#define MZ_BACKEND_CUDA_THRUST_H

#include <stdint.h>

/* `stream` is the backend's cudaStream_t, passed untyped so that this
 * interface is the same whichever runtime declarations a unit sees. */
float mz_cuda_thrust_sum(void *stream, int64_t n, const float *x);
float mz_cuda_thrust_max(void *stream, int64_t n, const float *x);
void mz_cuda_thrust_inclusive_scan(void *stream, int64_t n, const float *x, float *out);
void mz_cuda_thrust_sort_by_key(void *stream, int64_t n, float *keys, int32_t *values);

#endif
