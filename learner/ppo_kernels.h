/* Single-source bodies of the PPO element-wise work: GAE, minibatch
 * gathers and the clipped actor / critic losses with their gradients. Each
 * body does the work of one index; learner/ppo_ops.c runs it in an OpenMP
 * loop and learner/ppo_cuda.cu in a grid-stride kernel (also under
 * emulation). Matrix products, input assembly and action sampling are not
 * here: they are src/nn ops, shared with MuZero. */
#ifndef MZ_PPO_KERNELS_H
#define MZ_PPO_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "src/hd.h"
#include "src/nn/nn_ops.h"
#include "src/rng.h"

#define MZ_STREAM_PPO_ACTION 0x0f000001u
#define MZ_STREAM_PPO_SHUFFLE 0x0f000002u
#define MZ_STREAM_PPO_EVAL 0x0f000003u

/* GAE for column c = e * N + n over T steps (reverse scan), all arrays
 * [T][E*N] except terminated/truncated [T][E] and last_value [E*N]:
 *   next value: 0 on termination; V(final obs) on truncation when
 *   bootstrap, else 0 (Mava); V(s_{t+1}) otherwise (last_value at T-1)
 *   delta = r + gamma * next - V;  A = delta + gamma lambda (1 - done) A'
 *   target = A + V. */
HD static inline void ppo_gae_body(int64_t c, float *adv, float *target, const float *value, const float *reward,
                                   const uint8_t *terminated, const uint8_t *truncated, const float *final_value,
                                   const float *last_value, int T, int E, int N, float gamma, float lambda,
                                   int bootstrap) {
    int64_t EN = (int64_t)E * N;
    int64_t e = c / N;
    float a_next = 0.0f;
    for (int t = T - 1; t >= 0; t--) {
        int64_t i = t * EN + c;
        int term = terminated[t * (int64_t)E + e], trunc = truncated[t * (int64_t)E + e];
        float next = t == T - 1 ? last_value[c] : value[i + EN];
        if (term) next = 0.0f;
        else if (trunc) next = bootstrap ? final_value[i] : 0.0f;
        float cont = (term || trunc) ? 0.0f : 1.0f;
        float delta = reward[i] + gamma * next - value[i];
        a_next = delta + gamma * lambda * cont * a_next;
        adv[i] = a_next;
        target[i] = a_next + value[i];
    }
}

/* out row r [W floats] = src row (perm[first + r / N] * N + r % N): a
 * minibatch of whole samples (every agent of one env-step). */
HD static inline void ppo_gather_body(int64_t r, float *out, const float *src, const int32_t *perm, int64_t first,
                                      int N, int W) {
    int64_t s = (int64_t)perm[first + r / N] * N + r % N;
    for (int w = 0; w < W; w++) out[r * W + w] = src[s * W + w];
}
HD static inline void ppo_gather_u8_body(int64_t r, uint8_t *out, const uint8_t *src, const int32_t *perm,
                                         int64_t first, int N, int W) {
    int64_t s = (int64_t)perm[first + r / N] * N + r % N;
    for (int w = 0; w < W; w++) out[r * W + w] = src[s * W + w];
}
/* The MLP's dense-layer epilogue at (row r, column c) of h [R x C]: adds
 * the bias in place or, when `a` is not NULL, writes ReLU(h + bias) to a
 * and leaves h alone (the backward masks with a, so the biased
 * pre-activation is never stored: one pass of writes less). The CPU loops
 * columns inside rows (no division per element); CUDA splits a flat index. */
HD static inline void ppo_bias_relu_body(int64_t r, int c, float *h, float *a, const float *bias, int C) {
    int64_t i = r * C + c;
    float v = h[i] + bias[c];
    if (a) a[i] = v > 0.0f ? v : 0.0f;
    else h[i] = v;
}
/* ReLU's backward, written (not accumulated): dpre = post > 0 ? dpost : 0
 * (post = ReLU(pre) is positive exactly where pre is) */
HD static inline void ppo_relu_grad_body(int64_t i, float *dpre, const float *dpost, const float *post) {
    float g = dpost[i]; /* loaded unconditionally: the CPU loop vectorises without branches */
    dpre[i] = post[i] > 0.0f ? g : 0.0f;
}

/* Row r of [E][N] gets its environment's value: the team reward repeated
 * for every agent. */
HD static inline void ppo_repeat_body(int64_t r, float *out, const float *src, int N) { out[r] = src[r / N]; }
HD static inline void ppo_gather_i32_body(int64_t r, int32_t *out, const int32_t *src, const int32_t *perm,
                                          int64_t first, int N) {
    out[r] = src[(int64_t)perm[first + r / N] * N + r % N];
}

/* Actor loss of row r of R, with advantages normalised by (mean, std):
 *   rho = exp(logp - logp_old);  An = (A - mean) / (std + 1e-8)
 *   loss_r = -min(rho An, clip(rho, 1 - eps, 1 + eps) An) - ent_coef H
 * The total is the mean over rows; dlogits [R x A] gets d total / d logits
 * (written, not added). stats [3 x R]: pg loss, entropy, |rho - 1| > eps
 * (clip fraction). */
HD static inline void ppo_actor_loss_body(int64_t r, float *dlogits, float *loss, float *stats, const float *logits,
                                          const uint8_t *avail, const int32_t *action, const float *logp_old,
                                          const float *adv, float adv_mean, float adv_std, int A, int64_t R,
                                          float clip_eps, float ent_coef) {
    const float *l = logits + r * (int64_t)A;
    const uint8_t *m = avail + r * (int64_t)A;
    float *dl = dlogits + r * (int64_t)A;
    int any = 0;
    for (int a = 0; a < A; a++) any |= m[a];
    float lse = masked_logsumexp(l, m, A);
    float H = 0.0f;
    for (int a = 0; a < A; a++) {
        if (!(m[a] || !any)) continue;
        float lp = l[a] - lse;
        H -= expf(lp) * lp;
    }
    int act = action[r];
    float logp = l[act] - lse;
    float rho = expf(logp - logp_old[r]);
    float An = (adv[r] - adv_mean) / (adv_std + 1e-8f);
    float rc = fminf(fmaxf(rho, 1.0f - clip_eps), 1.0f + clip_eps);
    float s1 = rho * An, s2 = rc * An;
    float pg = -fminf(s1, s2);
    /* d pg / d logp: the unclipped branch moves with rho, the clipped one
     * only inside the clip range */
    float dlogp = s1 <= s2 ? -rho * An : ((rho > 1.0f - clip_eps && rho < 1.0f + clip_eps) ? -rho * An : 0.0f);
    float inv = 1.0f / (float)R;
    for (int a = 0; a < A; a++) {
        if (!(m[a] || !any)) {
            dl[a] = 0.0f;
            continue;
        }
        float lp = l[a] - lse, p = expf(lp);
        float g = dlogp * ((a == act ? 1.0f : 0.0f) - p); /* policy term */
        g += ent_coef * p * (lp + H);                      /* -ent_coef dH */
        dl[a] = g * inv;
    }
    loss[r] = pg - ent_coef * H;
    stats[r] = pg;
    stats[R + r] = H;
    stats[2 * R + r] = fabsf(rho - 1.0f) > clip_eps ? 1.0f : 0.0f;
}

/* Critic loss of row r of R (values [R], one per agent-row):
 *   Vc = V_old + clip(V - V_old, -eps, eps)
 *   loss_r = vf_coef * 0.5 * max((V - R)^2, (Vc - R)^2)
 * The total is the mean over rows; dvalue[r] = d total / d V (written). */
HD static inline void ppo_critic_loss_body(int64_t r, float *dvalue, float *loss, const float *value,
                                           const float *value_old, const float *target, int64_t R, float clip_eps,
                                           float vf_coef) {
    float v = value[r], vo = value_old[r], g = target[r];
    float d = v - vo;
    float dc = fminf(fmaxf(d, -clip_eps), clip_eps);
    float vc = vo + dc;
    float l1 = (v - g) * (v - g), l2 = (vc - g) * (vc - g);
    float scale = vf_coef * 0.5f / (float)R;
    float dv;
    if (l1 >= l2) dv = 2.0f * (v - g);
    else dv = (d > -clip_eps && d < clip_eps) ? 2.0f * (vc - g) : 0.0f;
    dvalue[r] = scale * dv;
    loss[r] = vf_coef * 0.5f * (l1 >= l2 ? l1 : l2);
}

/* Environment e: add a finished episode's return / length / win into the
 * running sums acc [E x 4] (return, length, won, count). With first_only
 * (evaluation), only the first episode of each env counts. */
HD static inline void ppo_episode_acc_body(int64_t e, float *acc, const uint8_t *terminated, const uint8_t *truncated,
                                           const float *done_return, const int32_t *done_length,
                                           const uint8_t *done_won, int first_only) {
    if (!(terminated[e] || truncated[e])) return;
    float *a = acc + e * 4;
    if (first_only && a[3] > 0.0f) return;
    a[0] += done_return[e];
    a[1] += (float)done_length[e];
    a[2] += done_won[e] ? 1.0f : 0.0f;
    a[3] += 1.0f;
}

/* Row r = e * N + n of the GRU reset mask: 0 when env e's episode ended
 * on the last step (the next observation starts a new one), else 1. */
HD static inline void ppo_keep_body(int64_t r, float *keep, const uint8_t *terminated, const uint8_t *truncated,
                                    int N) {
    int64_t e = r / N;
    keep[r] = (terminated[e] || truncated[e]) ? 0.0f : 1.0f;
}
/* Recurrent minibatch i = t * mbE + j of T x mbE: the rollout sample
 * (step t, env env_perm[first + j]) as an index t * E + e for the gathers. */
HD static inline void ppo_seq_perm_body(int64_t i, int32_t *seq, const int32_t *env_perm, int64_t first, int mbE,
                                        int E) {
    int64_t t = i / mbE, j = i % mbE;
    seq[i] = (int32_t)(t * E + env_perm[first + j]);
}

/* sq[i] = x[i] * x[i] (for the advantage std) */
HD static inline void ppo_square_body(int64_t i, float *sq, const float *x) { sq[i] = x[i] * x[i]; }
/* iota with a shuffle key: idx[i] = i */
HD static inline void ppo_iota_body(int64_t i, int32_t *idx) { idx[i] = (int32_t)i; }

#endif
