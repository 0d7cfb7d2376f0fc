/* AWPO policy targets (MAZero, ../shared/reference/mazero-and-toy.md §2.4):
 * the policy loss -sum_{a in T(s)} w(a|s) exp(A(s, a) / alpha) log pi(a|s)
 * over the sampled search's root joint actions T(s), with
 * pi(a|s) = prod_i P(a_i|s_i). With eta(a) proportional to
 * w(a) min(exp(A_n(a) / alpha), clip) (A_n: the advantages normalised to
 * zero mean and unit standard deviation over every visited root slot of
 * the batch of roots, MAZero's code), that loss is, up to eta's total, the
 * cross-entropy of each agent's policy to eta's marginal, which the world
 * model's policy loss already computes: AWPO is the choice of target. */
#ifndef MZ_LEARNER_AWPO_H
#define MZ_LEARNER_AWPO_H

#include <stdint.h>

#include "src/backend.h"

typedef struct {
    float adv_std;     /* of the raw advantages over the visited slots */
    float weight_mean; /* of min(exp(A_n / alpha), clip) over the visited slots */
    float weight_max;
} awpo_stats;

/* policy [E][N][A] from the roots of E searches: joint [E][K][N] slot joint
 * actions (-1 past the last), weights [E][K] visit fractions, adv [E][K]
 * advantages (mcts/sampled.h). A root without visits keeps a uniform
 * target. Host arrays; allocates its scratch per call: the reference the
 * tests hold the device version to (the sync loop uses that one). */
void awpo_policy_targets(float *policy, const int32_t *joint, const float *weights, const float *adv, int E, int K,
                         int N, int A, float alpha, float clip, awpo_stats *stats);

/* The same on a backend's device (the sync loop with the device replay):
 * device arrays in, the same bits out on every backend but a GPU's exp;
 * stats come to the host (three floats). */
typedef struct awpo_device awpo_device;
awpo_device *awpo_device_create(mz_backend *be, int E, int K);
void awpo_device_destroy(awpo_device *a);
void awpo_policy_targets_device(awpo_device *a, float *policy, const int32_t *joint, const float *weights,
                                const float *adv, int N, int A, float alpha, float clip, awpo_stats *stats);

#endif
