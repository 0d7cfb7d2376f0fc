/* The MuZero update: see learner.h. No allocation after learner_create. */
#include "learner/learner.h"

#include <stdlib.h>

#include "src/check.h"
#include "src/clock.h"

struct learner {
    wm_model *model;
    replay *rb;
    learner_config cfg;
    float *dot;      /* one device float */
    int *env;        /* [batch] */
    int64_t *steps;  /* [batch] */
    int64_t t;       /* updates done */
};

learner *learner_create(wm_model *model, replay *rb, const learner_config *cfg) {
    MZ_CHECK(cfg->batch >= 1 && cfg->batch <= wm_get_config(model)->max_batch,
             "learner: batch %d (the model was built for %d)", cfg->batch, wm_get_config(model)->max_batch);
    learner *l = calloc(1, sizeof *l);
    MZ_CHECK(l, "learner: out of host memory");
    l->model = model;
    l->rb = rb;
    l->cfg = *cfg;
    mz_backend *be = wm_params(model)->be;
    l->dot = be->alloc(be, sizeof(float));
    l->env = calloc((size_t)cfg->batch, sizeof(int));
    l->steps = calloc((size_t)cfg->batch, sizeof(int64_t));
    MZ_CHECK(l->env && l->steps, "learner: out of host memory");
    return l;
}

void learner_destroy(learner *l) {
    if (!l) return;
    mz_backend *be = wm_params(l->model)->be;
    be->free(be, l->dot);
    free(l->env);
    free(l->steps);
    free(l);
}

int64_t learner_steps(const learner *l) { return l->t; }

void learner_update(learner *l, learner_stats *out) {
    int B = l->cfg.batch;
    double t0 = mz_clock_seconds();
    const wm_batch *batch = replay_sample(l->rb, B, l->env, l->steps);
    wm_upload(l->model, batch);
    double t1 = mz_clock_seconds();
    mz_params *p = wm_params(l->model);
    mz_params_zero_grads(p);
    wm_forward_loss(l->model, &out->loss);
    double t2 = mz_clock_seconds();
    wm_backward(l->model);
    out->lr = mz_lr_at(&l->cfg.lr, l->t);
    l->t++;
    out->grad_norm = mz_adamw_step(p, &l->cfg.adamw, out->lr, l->t, l->dot);
    const float *prio = wm_priorities(l->model);
    double sum = 0.0;
    for (int b = 0; b < B; b++) sum += prio[b];
    out->mean_priority = (float)(sum / B);
    replay_update_priorities(l->rb, B, l->env, l->steps, prio);
    out->step = l->t;
    out->seconds_replay = t1 - t0;
    out->seconds_forward = t2 - t1;
    out->seconds_backward = mz_clock_seconds() - t2;
}
