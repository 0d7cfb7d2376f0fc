/* CUDA launchers of the PPO bodies: one grid-stride kernel each, on the
 * backend's stream; built by nvcc and, for the tests, against the emulator. */
#include "learner/ppo_kernels.h"
#include "learner/ppo_ops.h"
#include "src/cuda_common.h"

__global__ void ppo_gae_kernel(int64_t n_, float *adv, float *target, const float *value, const float *reward,
                               const uint8_t *terminated, const uint8_t *truncated, const float *final_value,
                               const float *last_value, int T, int E, int N, float gamma, float lambda, int bootstrap) {
    MZ_GRID_STRIDE_LOOP(i, n_)
    ppo_gae_body(i, adv, target, value, reward, terminated, truncated, final_value, last_value, T, E, N, gamma, lambda,
                 bootstrap);
}

extern "C" void mz_ppo_gae_cuda(mz_backend *be, float *adv, float *target, const float *value, const float *reward,
                                const uint8_t *terminated, const uint8_t *truncated, const float *final_value,
                                const float *last_value, int T, int E, int N, float gamma, float lambda,
                                int bootstrap) {
    int64_t n_ = (int64_t)E * N;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_gae_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, adv, target, value, reward,
              terminated, truncated, final_value, last_value, T, E, N, gamma, lambda, bootstrap);
}

__global__ void ppo_gather_kernel(int64_t n_, float *out, const float *src, const int32_t *perm, int64_t first, int N,
                                  int W) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_gather_body(i, out, src, perm, first, N, W);
}

extern "C" void mz_ppo_gather_cuda(mz_backend *be, float *out, const float *src, const int32_t *perm, int64_t first,
                                   int64_t R, int N, int W) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_gather_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, out, src, perm, first, N,
              W);
}

__global__ void ppo_gather_u8_kernel(int64_t n_, uint8_t *out, const uint8_t *src, const int32_t *perm, int64_t first,
                                     int N, int W) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_gather_u8_body(i, out, src, perm, first, N, W);
}

extern "C" void mz_ppo_gather_u8_cuda(mz_backend *be, uint8_t *out, const uint8_t *src, const int32_t *perm,
                                      int64_t first, int64_t R, int N, int W) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_gather_u8_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, out, src, perm, first, N,
              W);
}

__global__ void ppo_bias_relu_kernel(int64_t n_, float *h, float *a, const float *bias, int C) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_bias_relu_body(i / C, (int)(i % C), h, a, bias, C);
}

extern "C" void mz_ppo_bias_relu_cuda(mz_backend *be, float *h, float *a, const float *bias, int64_t R, int C) {
    int64_t n_ = R * C;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_bias_relu_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, h, a, bias, C);
}

__global__ void ppo_relu_grad_kernel(int64_t n_, float *dpre, const float *dpost, const float *pre) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_relu_grad_body(i, dpre, dpost, pre);
}

extern "C" void mz_ppo_relu_grad_cuda(mz_backend *be, float *dpre, const float *dpost, const float *pre, int64_t n) {
    int64_t n_ = n;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_relu_grad_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, dpre, dpost, pre);
}

__global__ void ppo_repeat_kernel(int64_t n_, float *out, const float *src, int N) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_repeat_body(i, out, src, N);
}

extern "C" void mz_ppo_repeat_cuda(mz_backend *be, float *out, const float *src, int64_t R, int N) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_repeat_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, out, src, N);
}

__global__ void ppo_gather_i32_kernel(int64_t n_, int32_t *out, const int32_t *src, const int32_t *perm, int64_t first,
                                      int N) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_gather_i32_body(i, out, src, perm, first, N);
}

extern "C" void mz_ppo_gather_i32_cuda(mz_backend *be, int32_t *out, const int32_t *src, const int32_t *perm,
                                       int64_t first, int64_t R, int N) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_gather_i32_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, out, src, perm, first,
              N);
}

__global__ void ppo_actor_loss_kernel(int64_t n_, float *dlogits, float *loss, float *stats, const float *logits,
                                      const uint8_t *avail, const int32_t *action, const float *logp_old,
                                      const float *adv, float adv_mean, float adv_std, int A, int64_t R, float clip_eps,
                                      float ent_coef) {
    MZ_GRID_STRIDE_LOOP(i, n_)
    ppo_actor_loss_body(i, dlogits, loss, stats, logits, avail, action, logp_old, adv, adv_mean, adv_std, A, R,
                        clip_eps, ent_coef);
}

extern "C" void mz_ppo_actor_loss_cuda(mz_backend *be, float *dlogits, float *loss, float *stats, const float *logits,
                                       const uint8_t *avail, const int32_t *action, const float *logp_old,
                                       const float *adv, float adv_mean, float adv_std, int A, int64_t R,
                                       float clip_eps, float ent_coef) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_actor_loss_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, dlogits, loss, stats,
              logits, avail, action, logp_old, adv, adv_mean, adv_std, A, R, clip_eps, ent_coef);
}

__global__ void ppo_critic_loss_kernel(int64_t n_, float *dvalue, float *loss, const float *value,
                                       const float *value_old, const float *target, int64_t R, float clip_eps,
                                       float vf_coef) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_critic_loss_body(i, dvalue, loss, value, value_old, target, R, clip_eps, vf_coef);
}

extern "C" void mz_ppo_critic_loss_cuda(mz_backend *be, float *dvalue, float *loss, const float *value,
                                        const float *value_old, const float *target, int64_t R, float clip_eps,
                                        float vf_coef) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_critic_loss_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, dvalue, loss, value,
              value_old, target, R, clip_eps, vf_coef);
}

__global__ void ppo_episode_acc_kernel(int64_t n_, float *acc, const uint8_t *terminated, const uint8_t *truncated,
                                       const float *done_return, const int32_t *done_length, const uint8_t *done_won,
                                       int first_only) {
    MZ_GRID_STRIDE_LOOP(i, n_)
    ppo_episode_acc_body(i, acc, terminated, truncated, done_return, done_length, done_won, first_only);
}

extern "C" void mz_ppo_episode_acc_cuda(mz_backend *be, float *acc, const uint8_t *terminated, const uint8_t *truncated,
                                        const float *done_return, const int32_t *done_length, const uint8_t *done_won,
                                        int E, int first_only) {
    int64_t n_ = (int64_t)E;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_episode_acc_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, acc, terminated,
              truncated, done_return, done_length, done_won, first_only);
}

__global__ void ppo_square_kernel(int64_t n_, float *sq, const float *x) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_square_body(i, sq, x);
}

extern "C" void mz_ppo_square_cuda(mz_backend *be, float *sq, const float *x, int64_t n) {
    int64_t n_ = n;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_square_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, sq, x);
}

__global__ void ppo_iota_kernel(int64_t n_, int32_t *idx) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_iota_body(i, idx);
}

extern "C" void mz_ppo_iota_cuda(mz_backend *be, int32_t *idx, int64_t n) {
    int64_t n_ = n;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_iota_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, idx);
}

__global__ void ppo_keep_kernel(int64_t n_, float *keep, const uint8_t *terminated, const uint8_t *truncated, int N) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_keep_body(i, keep, terminated, truncated, N);
}

extern "C" void mz_ppo_keep_cuda(mz_backend *be, float *keep, const uint8_t *terminated, const uint8_t *truncated,
                                 int64_t R, int N) {
    int64_t n_ = R;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_keep_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, keep, terminated, truncated,
              N);
}

__global__ void ppo_seq_perm_kernel(int64_t n_, int32_t *seq, const int32_t *env_perm, int64_t first, int mbE, int E) {
    MZ_GRID_STRIDE_LOOP(i, n_) ppo_seq_perm_body(i, seq, env_perm, first, mbE, E);
}

extern "C" void mz_ppo_seq_perm_cuda(mz_backend *be, int32_t *seq, const int32_t *env_perm, int64_t first, int mbE,
                                     int E, int T) {
    int64_t n_ = (int64_t)T * mbE;
    if (n_ <= 0) return;
    MZ_LAUNCH(ppo_seq_perm_kernel, mz_grid_for(n_), MZ_BLOCK, mz_cuda_backend_stream(be), n_, seq, env_perm, first,
              mbE, E);
}
