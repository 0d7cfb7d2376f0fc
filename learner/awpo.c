/* AWPO policy targets: see awpo.h. The bodies are learner/awpo_kernels.h;
 * their CPU loops are generated here, the CUDA ones in learner/awpo_cuda.cu. */
#include "learner/awpo.h"

#include <stdlib.h>

#include "learner/awpo_kernels.h"
#include "src/check.h"

#define MZ_AWPO_KERNEL(name, params, args) MZ_GEN_CPU_LOOP(name, params, args)
#include "learner/awpo_kernels.def"
#undef MZ_AWPO_KERNEL

const mz_awpo_kernels mz_awpo_cpu_kernels = {
#define MZ_AWPO_KERNEL(name, params, args) .name = cpu_##name,
#include "learner/awpo_kernels.def"
#undef MZ_AWPO_KERNEL
};

/* The three passes with k's launchers on be's memory (the CPU ones run on
 * host arrays); scratch: ms [2], wsum [E], wmax [E] doubles, st [3] floats. */
static void targets(const mz_awpo_kernels *k, mz_backend *be, float *policy, const int32_t *joint, const float *weights,
                    const float *adv, int E, int K, int N, int A, float alpha, float clip, double *ms, double *wsum,
                    double *wmax, float *st) {
    k->awpo_moments(be, 1, ms, weights, adv, (int64_t)E * K);
    k->awpo_root(be, E, policy, wsum, wmax, joint, weights, adv, ms, K, N, A, alpha, clip);
    k->awpo_stats(be, 1, st, ms, wsum, wmax, weights, E, K);
}

static void stats_from(awpo_stats *stats, const float *st) {
    if (stats) stats->adv_std = st[0], stats->weight_mean = st[1], stats->weight_max = st[2];
}

void awpo_policy_targets(float *policy, const int32_t *joint, const float *weights, const float *adv, int E, int K,
                         int N, int A, float alpha, float clip, awpo_stats *stats) {
    double *scratch = mz_calloc(2 + 2 * (size_t)E, sizeof(double));
    float st[3];
    targets(&mz_awpo_cpu_kernels, NULL, policy, joint, weights, adv, E, K, N, A, alpha, clip, scratch, scratch + 2,
            scratch + 2 + E, st);
    stats_from(stats, st);
    free(scratch);
}

struct awpo_device {
    mz_backend *be;
    const mz_awpo_kernels *k;
    int E, K;
    double *scratch; /* device: ms [2], wsum [E], wmax [E] */
    float *st;       /* device [3] */
};

awpo_device *awpo_device_create(mz_backend *be, int E, int K) {
    MZ_CHECK(E >= 1 && K >= 1, "awpo: %d roots of %d slots", E, K);
    awpo_device *a = mz_calloc(1, sizeof *a);
    a->be = be, a->E = E, a->K = K;
    a->k = (const mz_awpo_kernels *)mz_kernel_table_for(be, &mz_awpo_cpu_kernels, &mz_awpo_cuda_kernels, "awpo");
    a->scratch = be->alloc(be, (2 + 2 * (size_t)E) * sizeof(double));
    a->st = be->alloc(be, 3 * sizeof(float));
    return a;
}

void awpo_device_destroy(awpo_device *a) {
    if (!a) return;
    a->be->free(a->be, a->scratch);
    a->be->free(a->be, a->st);
    free(a);
}

void awpo_policy_targets_device(awpo_device *a, float *policy, const int32_t *joint, const float *weights,
                                const float *adv, int N, int A, float alpha, float clip, awpo_stats *stats) {
    targets(a->k, a->be, policy, joint, weights, adv, a->E, a->K, N, A, alpha, clip, a->scratch, a->scratch + 2,
            a->scratch + 2 + a->E, a->st);
    float st[3];
    a->be->copy_d2h(a->be, st, a->st, sizeof st);
    stats_from(stats, st);
}
