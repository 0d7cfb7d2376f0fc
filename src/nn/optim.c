#include "src/nn/optim.h"

#include <limits.h>
#include <math.h>

#include "src/check.h"
#include "src/nn/nn_kernels.h"

float mz_global_norm(mz_backend *be, const float *x, int64_t n, float *dot) {
    MZ_CHECK(n >= 0 && n <= INT_MAX, "optim: norm over %lld floats (at most %d)", (long long)n, INT_MAX);
    /* x^T x as a 1 x 1 x n product */
    be->gemm(be, true, false, 1, 1, (int)n, 1.0f, x, (int)n, x, (int)n, 0.0f, dot, 1);
    float host = 0.0f;
    be->copy_d2h(be, &host, dot, sizeof host);
    return sqrtf(host);
}

float mz_adamw_step(mz_params *p, const mz_adamw_config *cfg, float lr, int64_t t, float *dot) {
    MZ_CHECK(t >= 1, "optim: AdamW step %lld (steps count from 1)", (long long)t);
    MZ_CHECK(cfg->loss_scale > 0.0f, "optim: loss scale %g", (double)cfg->loss_scale);
    mz_backend *be = p->be;
    float norm = mz_global_norm(be, p->grads, p->total, dot) / cfg->loss_scale;
    float coef = 1.0f;
    if (cfg->max_grad_norm > 0.0f) {
        float c = cfg->max_grad_norm / (norm + 1e-6f);
        coef = c < 1.0f ? c : 1.0f;
    }
    float bias_corr1 = 1.0f - powf(cfg->beta1, (float)t);
    float bias_corr2_sqrt = sqrtf(1.0f - powf(cfg->beta2, (float)t));
    mz_nn_kernels_for(be)->adamw(be, p->total, p->values, p->adam_m, p->adam_v, p->grads, lr, cfg->beta1,
                                 cfg->beta2, cfg->eps, cfg->weight_decay, bias_corr1, bias_corr2_sqrt,
                                 coef / cfg->loss_scale);
    return norm;
}

float mz_lr_at(const mz_lr_schedule *s, int64_t t) {
    if (t < s->warmup_steps) return s->peak_lr * (float)t / (float)s->warmup_steps;
    if (s->decay_steps <= 0) return s->peak_lr;
    int64_t into = t - s->warmup_steps;
    if (into > s->decay_steps) into = s->decay_steps;
    double cosine = 0.5 * (1.0 + cos(3.14159265358979323846 * (double)into / (double)s->decay_steps));
    return (float)(s->floor_lr + (s->peak_lr - s->floor_lr) * cosine);
}

void mz_ema_update(mz_backend *be, float *ema, const float *values, int64_t n, float decay) {
    be->scale_add(be, n, 1.0f - decay, values, decay, ema);
}
