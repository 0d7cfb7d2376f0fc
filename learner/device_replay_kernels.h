/* Single-source bodies of the device replay (learner/device_replay.h): each
 * does the work of one index; learner/device_replay.c runs it in an OpenMP
 * loop (CPU backend) and learner/device_replay_cuda.cu in a grid-stride
 * kernel (CUDA, also emulated). The list of kernels is
 * learner/device_replay_kernels.def.
 *
 * Ring layout as the host replay's (learner/replay.h): step i of env e in
 * slot e*T + i%T. Per slot: prio (0 while not ready) and pa = prio^alpha
 * (what the sampler scans); per env: ready[e], its ready steps, kept by the
 * env's own thread in drp_store_step (counting them would be a pass over
 * every slot per rollout step). The largest priority so far, max_prio [1],
 * lives on the device too.
 * The value targets are computed with the host replay's float operations
 * in its order, so both give the same bits on the CPU and under emulation
 * (nvcc contracts a*b+c into FMAs on a GPU: the last bit may differ there). */
#ifndef MZ_DEVICE_REPLAY_KERNELS_H
#define MZ_DEVICE_REPLAY_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define MZ_STREAM_DEVICE_REPLAY_SAMPLE 0x5eb1a8u
#define MZ_STREAM_DEVICE_REPLAY_PICK 0x5eb1a9u

HD static inline int64_t drp_slot(int64_t e, int64_t i, int T) { return e * T + i % T; }

HD static inline void drp_mark_ready(float *prio, float *pa, int64_t *ready_e, int64_t s, float max_prio,
                                    float max_pa) {
    if (prio[s] > 0.0f) return;
    prio[s] = max_prio, pa[s] = max_pa;
    (*ready_e)++;
}

/* Index i of E*W: row e of src [E][W] into env e's next slot of dst [E*T][W]
 * (run before drp_store_step, which moves count on). */
HD static inline void drp_store_rows_body(int64_t i, float *dst, const float *src, const int64_t *count, int T, int W) {
    int64_t e = i / W;
    dst[drp_slot(e, count[e], T) * W + i % W] = src[i];
}

/* Env e: the scalars and actions of its step count[e], then count[e]++, then
 * the steps that became ready get max priority: every step back to the
 * last ready one when this step ends the episode, and the step K+n back. */
HD static inline void drp_store_step_body(int64_t e, int32_t *act, float *rew, uint8_t *term, uint8_t *trunc,
                                          float *fval, float *val, float *prio, float *pa, int64_t *ready, int64_t *count,
                                          const int32_t *actions, const float *reward, const uint8_t *terminated,
                                          const uint8_t *truncated, const float *final_value, const float *root_value,
                                          const float *max_prio_p, int N, int T, int Kn, float reward_shift,
                                          float alpha) {
    float max_prio = max_prio_p[0];
    float max_pa = powf(max_prio, alpha); /* the device's powf, as drp_set_priority and drp_rebuild use */
    int64_t i = count[e], s = drp_slot(e, i, T);
    if (prio[s] > 0.0f) ready[e]--; /* evicting step i - T */
    prio[s] = 0.0f, pa[s] = 0.0f;
    for (int n = 0; n < N; n++) act[s * N + n] = actions[e * N + n];
    int tm = terminated[e] != 0, tr = truncated[e] != 0 && !tm;
    rew[s] = reward[e] + reward_shift;
    term[s] = (uint8_t)tm, trunc[s] = (uint8_t)tr;
    fval[s] = tr ? final_value[e] : 0.0f;
    val[s] = root_value[e];
    count[e] = i + 1;
    int64_t oldest = i + 1 - T > 0 ? i + 1 - T : 0;
    if (tm || tr)
        for (int64_t j = i; j >= oldest && prio[drp_slot(e, j, T)] == 0.0f; j--)
            drp_mark_ready(prio, pa, ready + e, drp_slot(e, j, T), max_prio, max_pa);
    if (i - Kn >= oldest) drp_mark_ready(prio, pa, ready + e, drp_slot(e, i - Kn, T), max_prio, max_pa);
}

/* The sampler's scan, in double and in the same order on every backend
 * (a float scan of millions of slots would round small priorities away):
 * blocks of MZ_DRP_SCAN_BLOCK slots are summed, one pass prefixes the block
 * sums, and each block then writes its slots' running sums. */
#define MZ_DRP_SCAN_BLOCK 256

/* Block j: the sum of pa over its slots. */
HD static inline void drp_block_sums_body(int64_t j, double *bsum, const float *pa, int64_t n_slots) {
    int64_t lo = j * MZ_DRP_SCAN_BLOCK, hi = lo + MZ_DRP_SCAN_BLOCK < n_slots ? lo + MZ_DRP_SCAN_BLOCK : n_slots;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += pa[i];
    bsum[j] = s;
}

/* Index 0 only: exclusive prefix of the block sums into bprefix, and
 * total[0] = the sum of pa. */
HD static inline void drp_block_prefix_body(int64_t i, double *bprefix, double *total, const double *bsum,
                                            int64_t n_blocks) {
    if (i != 0) return;
    double acc = 0.0;
    for (int64_t j = 0; j < n_blocks; j++) bprefix[j] = acc, acc += bsum[j];
    total[0] = acc;
}

/* Block j: cum[s] = sum of pa[0..s] (the block's prefix, then its slots in order). */
HD static inline void drp_block_scan_body(int64_t j, double *cum, const float *pa, const double *bprefix,
                                          int64_t n_slots) {
    int64_t lo = j * MZ_DRP_SCAN_BLOCK, hi = lo + MZ_DRP_SCAN_BLOCK < n_slots ? lo + MZ_DRP_SCAN_BLOCK : n_slots;
    double acc = bprefix[j];
    for (int64_t i = lo; i < hi; i++) acc += pa[i], cum[i] = acc;
}

/* First s in [0, n) with cum[s] > u; n if none. */
HD static inline int64_t drp_upper_bound(const double *cum, int64_t n, double u) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Sample b: slot s with probability pa[s] / total (cum: the inclusive
 * running sums of pa, total: drp_block_prefix's), a 53-bit uniform; its
 * env, step and unnormalised weight (ready * P)^-beta. A slot found has
 * cum[s] > cum[s-1], so pa[s] > 0: it is ready (the host checks total > 0
 * first). Only where a block's prefix rounds a hair above the previous
 * block's last running sum could a not-ready slot own a gap of one ulp; the
 * nearest ready slot is taken then. */
HD static inline void drp_pick_body(int64_t b, int32_t *env_out, int64_t *step_out, float *weight, const double *cum,
                                    const double *total_p, const float *pa, const int64_t *count, int64_t n_slots,
                                    int T, double ready, float beta, uint64_t seed, uint32_t stream, uint64_t offset) {
    double total = total_p[0];
    mz_rng g;
    mz_rng_init(&g, seed, stream, offset + (uint64_t)b);
    int64_t s = drp_upper_bound(cum, n_slots, mz_rng_uniform53(&g) * total);
    if (s >= n_slots) s = n_slots - 1; /* not reached: u < total = cum[n-1] */
    int64_t up = s, down = s;
    while (!(pa[up] > 0.0f) && up + 1 < n_slots) up++;
    while (!(pa[down] > 0.0f) && down > 0) down--;
    s = pa[up] > 0.0f ? up : down;
    int64_t e = s / T, sl = s % T, cnt = count[e];
    env_out[b] = (int32_t)e;
    step_out[b] = cnt - 1 - (cnt - 1 - sl) % T; /* the newest step stored in that slot */
    weight[b] = (float)pow(ready * ((double)pa[s] / total), -(double)beta);
}

/* Env e after a resume: pa of its slots from the priorities (the alpha of
 * this run; the same powf as when the slots were stored), and its ready count. */
HD static inline void drp_rebuild_body(int64_t e, float *pa, int64_t *ready, const float *prio, int T, float alpha) {
    int64_t n = 0;
    for (int64_t s = e * T; s < (e + 1) * T; s++) {
        pa[s] = prio[s] > 0.0f ? powf(prio[s], alpha) : 0.0f;
        n += prio[s] > 0.0f;
    }
    ready[e] = n;
}

/* Index 0 only: the largest priority grows with every sample of the batch
 * not evicted since it was drawn, in sample order (the host replay's rule). */
HD static inline void drp_raise_max_body(int64_t i, float *max_prio, const int32_t *env, const int64_t *step,
                                         const int64_t *count, const float *priority, int B, int T) {
    if (i != 0) return;
    for (int b = 0; b < B; b++)
        if (step[b] >= count[env[b]] - T && priority[b] > max_prio[0]) max_prio[0] = priority[b];
}

/* Row kb = k*B + b of a batch: the slot of step t+k of window b (src -1
 * past the episode's end: absorbing), its n-step value target (the host
 * replay's arithmetic), mask, reward and actions (k < K), and, when
 * boot_coef is set, the target's split partial + coef * V(obs of boot_slot). */
HD static inline void drp_window_body(int64_t kb, int32_t *src_slot, float *value, float *reward, float *mask,
                                      int32_t *actions, float *boot_coef, float *boot_partial, int32_t *boot_slot,
                                      const int32_t *env, const int64_t *step, const float *rew, const uint8_t *term,
                                      const uint8_t *trunc, const float *fval, const float *val, const int32_t *act,
                                      int B, int K, int N, int T, int n_step, float discount) {
    int k = (int)(kb / B), b = (int)(kb % B);
    int64_t e = env[b], t = step[b];
    int ended = 0;
    for (int j = 0; j < k && !ended; j++) {
        int64_t s = drp_slot(e, t + j, T);
        ended = term[s] || trunc[s];
    }
    if (ended) {
        src_slot[kb] = -1, mask[kb] = 0.0f, value[kb] = 0.0f;
        if (boot_coef) boot_coef[kb] = 0.0f, boot_partial[kb] = 0.0f, boot_slot[kb] = -1;
        if (k < K) {
            reward[kb] = 0.0f;
            for (int n = 0; n < N; n++) actions[kb * N + n] = 0;
        }
        return;
    }
    int64_t s = drp_slot(e, t + k, T), boot = -1;
    float z = 0.0f, g = 1.0f, coef = 0.0f;
    int done = 0;
    for (int j = 0; j < n_step && !done; j++) {
        int64_t sj = drp_slot(e, t + k + j, T);
        z += g * rew[sj];
        g *= discount;
        if (term[sj]) done = 1;
        else if (trunc[sj]) z = z + g * fval[sj], done = 1;
    }
    if (!done) coef = g, boot = drp_slot(e, t + k + n_step, T);
    src_slot[kb] = (int32_t)s, mask[kb] = 1.0f;
    value[kb] = boot < 0 ? z : z + coef * val[boot];
    if (boot_coef) boot_coef[kb] = coef, boot_partial[kb] = z, boot_slot[kb] = (int32_t)boot;
    if (k < K) {
        reward[kb] = rew[s];
        for (int n = 0; n < N; n++) actions[kb * N + n] = act[s * N + n];
    }
}

/* Index i of rows*W: row r of dst is row rows[r] of data [.][W], or `fill`
 * everywhere where rows[r] < 0. */
HD static inline void drp_gather_body(int64_t i, float *dst, const float *data, const int32_t *rows, int W,
                                      float fill) {
    int64_t r = i / W;
    dst[i] = rows[r] >= 0 ? data[(int64_t)rows[r] * W + i % W] : fill;
}

/* Reanalyse (device_replay_pick / device_replay_refresh). */

/* Index i of E*W: env e's legal-action row into its next slot, as
 * drp_store_rows (the masks the reanalyse search restricts its roots to). */
HD static inline void drp_store_mask_body(int64_t i, uint8_t *dst, const uint8_t *src, const int64_t *count, int T,
                                          int W) {
    int64_t e = i / W;
    dst[drp_slot(e, count[e], T) * W + i % W] = src[i];
}

/* Pick i: a uniform env, then a uniform step among those its ring holds
 * (ready or not: a step's policy and bootstrap value are targets of the
 * windows that reach it), as its slot; -1 while the env has none. */
HD static inline void drp_pick_uniform_body(int64_t i, int32_t *slot, const int64_t *count, int E, int T,
                                            uint64_t seed, uint32_t stream, uint64_t offset) {
    mz_rng g;
    mz_rng_init(&g, seed, stream, offset + (uint64_t)i);
    int64_t e = (int64_t)(((uint64_t)mz_rng_u32(&g) * (uint64_t)E) >> 32);
    int64_t cnt = count[e], held = cnt < T ? cnt : T;
    int64_t j = (int64_t)(((uint64_t)mz_rng_u32(&g) * (uint64_t)held) >> 32);
    slot[i] = held > 0 ? (int32_t)drp_slot(e, cnt - held + j, T) : -1;
}

/* Index i of rows*W: as drp_gather for masks; where rows[r] < 0, all legal. */
HD static inline void drp_gather_mask_body(int64_t i, uint8_t *dst, const uint8_t *data, const int32_t *rows, int W) {
    int64_t r = i / W;
    dst[i] = rows[r] >= 0 ? data[(int64_t)rows[r] * W + i % W] : (uint8_t)1;
}

/* Index i of R*W: row r of src into row rows[r] of data [.][W], skipped
 * where rows[r] < 0 or a later row goes to the same place (the last write
 * wins on every backend; the check keeps the writes disjoint). */
HD static inline void drp_scatter_body(int64_t i, float *data, const float *src, const int32_t *rows, int R, int W) {
    int64_t r = i / W;
    if (rows[r] < 0) return;
    for (int r2 = (int)r + 1; r2 < R; r2++)
        if (rows[r2] == rows[r]) return;
    data[(int64_t)rows[r] * W + i % W] = src[i];
}

/* Sample b's new priority, unless its step was evicted since it was drawn
 * or a later sample of the batch is the same step (the last write wins, as
 * on the host; the check keeps the writes disjoint). */
HD static inline void drp_set_priority_body(int64_t b, float *prio, float *pa, const int32_t *env, const int64_t *step,
                                            const int64_t *count, const float *priority, int B, int T, float alpha) {
    for (int b2 = (int)b + 1; b2 < B; b2++)
        if (env[b2] == env[b] && step[b2] == step[b]) return;
    if (step[b] < count[env[b]] - T) return;
    int64_t s = drp_slot(env[b], step[b], T);
    if (prio[s] > 0.0f) prio[s] = priority[b], pa[s] = powf(priority[b], alpha);
}

/* Row kb: a target that bootstraps from a value (coef > 0) becomes partial +
 * coef * the target network's value; sel/shift/is_boot feed the logged means. */
HD static inline void drp_bootstrap_body(int64_t kb, float *value, float *sel, float *shift, float *is_boot,
                                         const float *partial, const float *coef, const float *boot_value) {
    if (coef[kb] > 0.0f) {
        float z = partial[kb] + coef[kb] * boot_value[kb];
        shift[kb] = fabsf(z - value[kb]);
        sel[kb] = boot_value[kb], is_boot[kb] = 1.0f;
        value[kb] = z;
    } else {
        shift[kb] = 0.0f, sel[kb] = 0.0f, is_boot[kb] = 0.0f;
    }
}

/* Dispatch table: one entry per kernel of device_replay_kernels.def, each
 * running its body for every index in [0, n) on the backend's stream. */
#include "src/backend.h"
#include "src/kernel_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
#define MZ_DRP_KERNEL(name, params, args) void (*name)(mz_backend *be, int64_t n, MZ_UNPAREN params);
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL
} mz_drp_kernels;

extern const mz_drp_kernels mz_drp_cpu_kernels;
/* learner/device_replay_cuda.cu, linked only by CUDA and emulation builds */
extern const mz_drp_kernels mz_drp_cuda_kernels __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif
