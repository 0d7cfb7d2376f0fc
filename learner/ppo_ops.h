/* Launchers of the PPO bodies (learner/ppo_kernels.h) on either backend:
 * each runs its body over every index, as an OpenMP loop on the CPU and a
 * grid-stride kernel on CUDA (learner/ppo_cuda.cu). Pointers are device
 * memory of `be`. Each body has a launcher that dispatches on be->kind and
 * a CUDA launcher (weak where CUDA is not built; see src/backend.h). */
#ifndef MZ_PPO_OPS_H
#define MZ_PPO_OPS_H

#include <stdint.h>

#include "src/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

void mz_ppo_gae(mz_backend *be, float *adv, float *target, const float *value, const float *reward,
                const uint8_t *terminated, const uint8_t *truncated, const float *final_value, const float *last_value,
                int T, int E, int N, float gamma, float lambda, int bootstrap);
MZ_CUDA_LAUNCHER void mz_ppo_gae_cuda(mz_backend *be, float *adv, float *target, const float *value,
                                      const float *reward, const uint8_t *terminated, const uint8_t *truncated,
                                      const float *final_value, const float *last_value, int T, int E, int N,
                                      float gamma, float lambda, int bootstrap);
void mz_ppo_gather(mz_backend *be, float *out, const float *src, const int32_t *perm, int64_t first, int64_t R, int N,
                   int W);
MZ_CUDA_LAUNCHER void mz_ppo_gather_cuda(mz_backend *be, float *out, const float *src, const int32_t *perm,
                                         int64_t first, int64_t R, int N, int W);
void mz_ppo_bias_relu(mz_backend *be, float *h, float *a, const float *bias, int64_t R, int C);
MZ_CUDA_LAUNCHER void mz_ppo_bias_relu_cuda(mz_backend *be, float *h, float *a, const float *bias, int64_t R, int C);
void mz_ppo_relu_grad(mz_backend *be, float *dpre, const float *dpost, const float *post, int64_t n);
MZ_CUDA_LAUNCHER void mz_ppo_relu_grad_cuda(mz_backend *be, float *dpre, const float *dpost, const float *post, int64_t n);
void mz_ppo_repeat(mz_backend *be, float *out, const float *src, int64_t R, int N);
MZ_CUDA_LAUNCHER void mz_ppo_repeat_cuda(mz_backend *be, float *out, const float *src, int64_t R, int N);
void mz_ppo_gather_u8(mz_backend *be, uint8_t *out, const uint8_t *src, const int32_t *perm, int64_t first, int64_t R,
                      int N, int W);
MZ_CUDA_LAUNCHER void mz_ppo_gather_u8_cuda(mz_backend *be, uint8_t *out, const uint8_t *src, const int32_t *perm,
                                            int64_t first, int64_t R, int N, int W);
void mz_ppo_gather_i32(mz_backend *be, int32_t *out, const int32_t *src, const int32_t *perm, int64_t first, int64_t R,
                       int N);
MZ_CUDA_LAUNCHER void mz_ppo_gather_i32_cuda(mz_backend *be, int32_t *out, const int32_t *src, const int32_t *perm,
                                             int64_t first, int64_t R, int N);
void mz_ppo_actor_loss(mz_backend *be, float *dlogits, float *loss, float *stats, const float *logits,
                       const uint8_t *avail, const int32_t *action, const float *logp_old, const float *adv,
                       float adv_mean, float adv_std, int A, int64_t R, float clip_eps, float ent_coef);
MZ_CUDA_LAUNCHER void mz_ppo_actor_loss_cuda(mz_backend *be, float *dlogits, float *loss, float *stats,
                                             const float *logits, const uint8_t *avail, const int32_t *action,
                                             const float *logp_old, const float *adv, float adv_mean, float adv_std,
                                             int A, int64_t R, float clip_eps, float ent_coef);
void mz_ppo_critic_loss(mz_backend *be, float *dvalue, float *loss, const float *value, const float *value_old,
                        const float *target, int64_t R, float clip_eps, float vf_coef);
MZ_CUDA_LAUNCHER void mz_ppo_critic_loss_cuda(mz_backend *be, float *dvalue, float *loss, const float *value,
                                              const float *value_old, const float *target, int64_t R, float clip_eps,
                                              float vf_coef);
void mz_ppo_episode_acc(mz_backend *be, float *acc, const uint8_t *terminated, const uint8_t *truncated,
                        const float *done_return, const int32_t *done_length, const uint8_t *done_won, int E,
                        int first_only);
MZ_CUDA_LAUNCHER void mz_ppo_episode_acc_cuda(mz_backend *be, float *acc, const uint8_t *terminated,
                                              const uint8_t *truncated, const float *done_return,
                                              const int32_t *done_length, const uint8_t *done_won, int E,
                                              int first_only);
void mz_ppo_square(mz_backend *be, float *sq, const float *x, int64_t n);
MZ_CUDA_LAUNCHER void mz_ppo_square_cuda(mz_backend *be, float *sq, const float *x, int64_t n);
void mz_ppo_keep(mz_backend *be, float *keep, const uint8_t *terminated, const uint8_t *truncated, int64_t R, int N);
MZ_CUDA_LAUNCHER void mz_ppo_keep_cuda(mz_backend *be, float *keep, const uint8_t *terminated,
                                       const uint8_t *truncated, int64_t R, int N);
void mz_ppo_seq_perm(mz_backend *be, int32_t *seq, const int32_t *env_perm, int64_t first, int mbE, int E, int T);
MZ_CUDA_LAUNCHER void mz_ppo_seq_perm_cuda(mz_backend *be, int32_t *seq, const int32_t *env_perm, int64_t first,
                                           int mbE, int E, int T);
void mz_ppo_iota(mz_backend *be, int32_t *idx, int64_t n);
MZ_CUDA_LAUNCHER void mz_ppo_iota_cuda(mz_backend *be, int32_t *idx, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
