/* CPU launchers of the PPO bodies and the dispatch to CUDA (learner/ppo_ops.h). */
#include "learner/ppo_ops.h"

#include "learner/ppo_kernels.h"

/* Below this many indices a loop runs on one thread: a parallel region costs
 * more than the work, and much more on a loaded machine. */
#define PPO_PARALLEL_MIN 2048

void mz_ppo_bias_relu(mz_backend *be, float *h, float *a, const float *bias, int64_t R, int C) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_bias_relu_cuda(be, h, a, bias, R, C);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ * C >= PPO_PARALLEL_MIN)
    for (int64_t r = 0; r < n_; r++)
        for (int c = 0; c < C; c++) ppo_bias_relu_body(r, c, h, a, bias, C);
}

void mz_ppo_relu_grad(mz_backend *be, float *dpre, const float *dpost, const float *pre, int64_t n) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_relu_grad_cuda(be, dpre, dpost, pre, n);
        return;
    }
    int64_t n_ = n;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_relu_grad_body(i, dpre, dpost, pre);
}

void mz_ppo_repeat(mz_backend *be, float *out, const float *src, int64_t R, int N) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_repeat_cuda(be, out, src, R, N);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_repeat_body(i, out, src, N);
}

void mz_ppo_gae(mz_backend *be, float *adv, float *target, const float *value, const float *reward,
                const uint8_t *terminated, const uint8_t *truncated, const float *final_value, const float *last_value,
                int T, int E, int N, float gamma, float lambda, int bootstrap) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_gae_cuda(be, adv, target, value, reward, terminated, truncated, final_value, last_value, T, E, N, gamma,
                        lambda, bootstrap);
        return;
    }
    int64_t n_ = (int64_t)E * N;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_gae_body(i, adv, target, value, reward, terminated, truncated, final_value, last_value, T, E, N, gamma,
                     lambda, bootstrap);
}

void mz_ppo_gather(mz_backend *be, float *out, const float *src, const int32_t *perm, int64_t first, int64_t R, int N,
                   int W) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_gather_cuda(be, out, src, perm, first, R, N, W);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_gather_body(i, out, src, perm, first, N, W);
}

void mz_ppo_gather_u8(mz_backend *be, uint8_t *out, const uint8_t *src, const int32_t *perm, int64_t first, int64_t R,
                      int N, int W) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_gather_u8_cuda(be, out, src, perm, first, R, N, W);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_gather_u8_body(i, out, src, perm, first, N, W);
}

void mz_ppo_gather_i32(mz_backend *be, int32_t *out, const int32_t *src, const int32_t *perm, int64_t first, int64_t R,
                       int N) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_gather_i32_cuda(be, out, src, perm, first, R, N);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_gather_i32_body(i, out, src, perm, first, N);
}

void mz_ppo_actor_loss(mz_backend *be, float *dlogits, float *loss, float *stats, const float *logits,
                       const uint8_t *avail, const int32_t *action, const float *logp_old, const float *adv,
                       float adv_mean, float adv_std, int A, int64_t R, float clip_eps, float ent_coef) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_actor_loss_cuda(be, dlogits, loss, stats, logits, avail, action, logp_old, adv, adv_mean, adv_std, A, R,
                               clip_eps, ent_coef);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_actor_loss_body(i, dlogits, loss, stats, logits, avail, action, logp_old, adv, adv_mean, adv_std, A, R,
                            clip_eps, ent_coef);
}

void mz_ppo_critic_loss(mz_backend *be, float *dvalue, float *loss, const float *value, const float *value_old,
                        const float *target, int64_t R, float clip_eps, float vf_coef) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_critic_loss_cuda(be, dvalue, loss, value, value_old, target, R, clip_eps, vf_coef);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_critic_loss_body(i, dvalue, loss, value, value_old, target, R, clip_eps, vf_coef);
}

void mz_ppo_episode_acc(mz_backend *be, float *acc, const uint8_t *terminated, const uint8_t *truncated,
                        const float *done_return, const int32_t *done_length, const uint8_t *done_won, int E,
                        int first_only) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_episode_acc_cuda(be, acc, terminated, truncated, done_return, done_length, done_won, E, first_only);
        return;
    }
    int64_t n_ = (int64_t)E;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_episode_acc_body(i, acc, terminated, truncated, done_return, done_length, done_won, first_only);
}

void mz_ppo_square(mz_backend *be, float *sq, const float *x, int64_t n) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_square_cuda(be, sq, x, n);
        return;
    }
    int64_t n_ = n;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_square_body(i, sq, x);
}

void mz_ppo_iota(mz_backend *be, int32_t *idx, int64_t n) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_iota_cuda(be, idx, n);
        return;
    }
    int64_t n_ = n;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_iota_body(i, idx);
}

void mz_ppo_keep(mz_backend *be, float *keep, const uint8_t *terminated, const uint8_t *truncated, int64_t R, int N) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_keep_cuda(be, keep, terminated, truncated, R, N);
        return;
    }
    int64_t n_ = R;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_keep_body(i, keep, terminated, truncated, N);
}

void mz_ppo_seq_perm(mz_backend *be, int32_t *seq, const int32_t *env_perm, int64_t first, int mbE, int E, int T) {
    if (be->kind == MZ_BACKEND_CUDA) {
        mz_ppo_seq_perm_cuda(be, seq, env_perm, first, mbE, E, T);
        return;
    }
    int64_t n_ = (int64_t)T * mbE;
#pragma omp parallel for schedule(static) if (n_ >= PPO_PARALLEL_MIN)
    for (int64_t i = 0; i < n_; i++)
        ppo_seq_perm_body(i, seq, env_perm, first, mbE, E);
}
