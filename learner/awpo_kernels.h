/* Single-source bodies of the AWPO policy targets (learner/awpo.h): run by
 * awpo_policy_targets on host arrays, and by awpo_policy_targets_device
 * through the CPU loops (learner/awpo.c) or the CUDA kernels
 * (learner/awpo_cuda.cu, also emulated) of learner/awpo_kernels.def. The
 * moments and the statistics are one serial pass (index 0) over the E*K
 * root slots in double, so every backend gets the same bits. */
#ifndef MZ_AWPO_KERNELS_H
#define MZ_AWPO_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "src/backend.h"
#include "src/hd.h"
#include "src/kernel_gen.h"

/* Index 0 only: mean and population standard deviation of adv over the
 * visited slots (weights > 0) of n, into ms[0], ms[1]. */
HD static inline void awpo_moments_body(int64_t i, double *ms, const float *weights, const float *adv, int64_t n) {
    if (i != 0) return;
    double sum = 0.0, sq = 0.0;
    int64_t c = 0;
    for (int64_t s = 0; s < n; s++)
        if (weights[s] > 0.0f) sum += adv[s], sq += (double)adv[s] * adv[s], c++;
    double mean = c ? sum / (double)c : 0.0, var = c ? sq / (double)c - mean * mean : 0.0;
    ms[0] = mean, ms[1] = var > 0.0 ? sqrt(var) : 0.0;
}

/* Root e: policy rows [N][A] proportional to each agent's action mass
 * weights * min(exp(A_n / alpha), clip) over the visited slots (uniform
 * without visits); wsum[e] and wmax[e] of the clipped weights. */
HD static inline void awpo_root_body(int64_t e, float *policy, double *wsum, double *wmax, const int32_t *joint,
                                     const float *weights, const float *adv, const double *ms, int K, int N, int A,
                                     float alpha, float clip) {
    float *pol = policy + e * N * A;
    for (int k = 0; k < N * A; k++) pol[k] = 0.0f;
    double total = 0.0, sum = 0.0, top = 0.0, mean = ms[0], std = ms[1];
    for (int s = 0; s < K; s++) {
        int64_t slot = e * K + s;
        if (!(weights[slot] > 0.0f)) continue;
        double an = std > 1e-8 ? (adv[slot] - mean) / std : 0.0;
        double w = exp(an / alpha);
        if (w > clip) w = clip;
        sum += w;
        if (w > top) top = w;
        double eta = weights[slot] * w;
        total += eta;
        for (int i = 0; i < N; i++) pol[i * A + joint[slot * N + i]] += (float)eta;
    }
    for (int k = 0; k < N * A; k++) pol[k] = total > 0.0 ? (float)(pol[k] / total) : 1.0f / (float)A;
    wsum[e] = sum, wmax[e] = top;
}

/* Index 0 only: stats[3] = standard deviation of the advantages, mean and
 * largest clipped weight over the visited slots. */
HD static inline void awpo_stats_body(int64_t i, float *stats, const double *ms, const double *wsum,
                                      const double *wmax, const float *weights, int E, int K) {
    if (i != 0) return;
    double sum = 0.0, top = 0.0;
    int64_t c = 0;
    for (int64_t s = 0; s < (int64_t)E * K; s++) c += weights[s] > 0.0f;
    for (int e = 0; e < E; e++) sum += wsum[e], top = wmax[e] > top ? wmax[e] : top;
    stats[0] = (float)ms[1], stats[1] = c ? (float)(sum / (double)c) : 0.0f, stats[2] = (float)top;
}

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
#define MZ_AWPO_KERNEL(name, params, args) void (*name)(mz_backend *be, int64_t n, MZ_UNPAREN params);
#include "learner/awpo_kernels.def"
#undef MZ_AWPO_KERNEL
} mz_awpo_kernels;

extern const mz_awpo_kernels mz_awpo_cpu_kernels;
/* learner/awpo_cuda.cu, linked only by CUDA and emulation builds */
extern const mz_awpo_kernels mz_awpo_cuda_kernels __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif
