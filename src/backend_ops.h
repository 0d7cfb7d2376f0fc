/* Single-source bodies of the backend's own element-wise ops. Each body does
 * the work of one index; src/backend_cpu.c runs it in an OpenMP loop and
 * src/backend_cuda.cu in a grid-stride kernel (also under emulation). */
#ifndef MZ_BACKEND_OPS_H
#define MZ_BACKEND_OPS_H

#include <stdint.h>

#include "src/backend.h"
#include "src/hd.h"
#include "src/rng.h"

HD static inline void scale_add_body(int64_t i, float a, const float *x, float b, float *y) {
    y[i] = a * x[i] + b * y[i];
}

HD static inline void rng_fill_body(int64_t i, float *out, int dist, float param, uint64_t seed,
                                    uint32_t stream, uint64_t offset_base) {
    mz_rng r;
    mz_rng_init(&r, seed, stream, offset_base + (uint64_t)i);
    float v;
    switch (dist) {
    case MZ_RNG_NORMAL: v = mz_rng_normal(&r); break;
    case MZ_RNG_GUMBEL: v = mz_rng_gumbel(&r); break;
    case MZ_RNG_GAMMA: v = mz_rng_gamma(&r, param); break;
    default: v = mz_rng_uniform(&r); break;
    }
    out[i] = v;
}

HD static inline void rng_dirichlet_body(int64_t row, float *out, int K, float alpha, uint64_t seed,
                                         uint32_t stream, uint64_t offset_base) {
    mz_rng r;
    mz_rng_init(&r, seed, stream, offset_base + (uint64_t)row);
    mz_rng_dirichlet(&r, out + row * (int64_t)K, K, alpha);
}

#endif
