/* AdamW over a parameter block, global-norm clipping, loss scaling, LR
 * schedules and the EMA copy for target networks. */
#ifndef MZ_NN_OPTIM_H
#define MZ_NN_OPTIM_H

#include <stdint.h>

#include "src/nn/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float beta1, beta2, eps;
    float weight_decay; /* decoupled: p *= 1 - lr * weight_decay */
    float max_grad_norm; /* <= 0: no clipping */
    float loss_scale;    /* the loss was multiplied by this before backward; 1 for none */
} mz_adamw_config;

/* L2 norm of n device floats (through one gemm: no scratch beyond `dot`,
 * one device float). */
float mz_global_norm(mz_backend *be, const float *x, int64_t n, float *dot);

/* One step over the whole block: unscale by loss_scale, clip to
 * max_grad_norm (PyTorch's clip_grad_norm_: coefficient
 * max / (norm + 1e-6) when below 1), then AdamW with bias correction for
 * step t (1-based). Returns the pre-clip (unscaled) gradient norm.
 * `dot` is one device float of scratch. */
float mz_adamw_step(mz_params *p, const mz_adamw_config *cfg, float lr, int64_t t, float *dot);

typedef struct {
    float peak_lr;
    int64_t warmup_steps; /* linear from 0 to peak over these steps; 0: none */
    int64_t decay_steps;  /* cosine from peak to floor after warmup; 0: constant */
    float floor_lr;
} mz_lr_schedule;

/* Learning rate at step t (0-based, optax's warmup_cosine_decay_schedule
 * with init 0): t / warmup * peak, then floor + (peak - floor) *
 * (1 + cos(pi * min(t - warmup, decay) / decay)) / 2. */
float mz_lr_at(const mz_lr_schedule *s, int64_t t);

/* ema = decay * ema + (1 - decay) * values, over n floats */
void mz_ema_update(mz_backend *be, float *ema, const float *values, int64_t n, float decay);

#ifdef __cplusplus
}
#endif

#endif
