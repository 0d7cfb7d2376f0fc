/* AWPO policy targets: see awpo.h. */
#include "learner/awpo.h"

#include <math.h>

void awpo_policy_targets(float *policy, const int32_t *joint, const float *weights, const float *adv, int E, int K,
                         int N, int A, float alpha, float clip, awpo_stats *stats) {
    double sum = 0.0, sq = 0.0;
    int n = 0;
    for (int s = 0; s < E * K; s++)
        if (weights[s] > 0.0f) sum += adv[s], sq += (double)adv[s] * adv[s], n++;
    double mean = n ? sum / n : 0.0, var = n ? sq / n - mean * mean : 0.0;
    double std = var > 0.0 ? sqrt(var) : 0.0;
    double wsum = 0.0, wmax = 0.0;
    for (int e = 0; e < E; e++) {
        float *pol = policy + (int64_t)e * N * A;
        for (int k = 0; k < N * A; k++) pol[k] = 0.0f;
        double total = 0.0;
        for (int s = 0; s < K; s++) {
            int64_t slot = (int64_t)e * K + s;
            if (!(weights[slot] > 0.0f)) continue;
            double an = std > 1e-8 ? (adv[slot] - mean) / std : 0.0;
            double w = exp(an / alpha);
            if (w > clip) w = clip;
            wsum += w;
            if (w > wmax) wmax = w;
            double eta = weights[slot] * w;
            total += eta;
            for (int i = 0; i < N; i++) pol[i * A + joint[slot * N + i]] += (float)eta;
        }
        for (int k = 0; k < N * A; k++) pol[k] = total > 0.0 ? (float)(pol[k] / total) : 1.0f / (float)A;
    }
    if (stats) {
        stats->adv_std = (float)std;
        stats->weight_mean = n ? (float)(wsum / n) : 0.0f;
        stats->weight_max = (float)wmax;
    }
}
