/* The MuZero update: see learner.h. No allocation after learner_create. */
#include "learner/learner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/dist.h"
#include "src/nn/nn.h"
#include "src/clock.h"

struct learner {
    wm_model *model;
    replay *rb;           /* the host replay, or */
    device_replay *drb;   /* the device replay */
    learner_config cfg;
    float *dot;      /* one device float */
    int *env;        /* [batch] */
    int64_t *steps;  /* [batch] */
    int64_t t;       /* updates done */
    /* target network */
    wm_model *target;
    float target_ema;
    int64_t target_interval;
    float *d_boot_obs, *d_boot_logits, *d_boot_value; /* [(K+1) B N O], [(K+1) B N A], [(K+1) B] */
    float *h_boot_value;                              /* host [(K+1) B] */
    float *d_boot_stats;                              /* device replay: [3][(K+1) B] is_boot, value, shift */
};

static learner *learner_new(wm_model *model, const learner_config *cfg) {
    MZ_CHECK(cfg->batch >= 1 && cfg->batch <= wm_get_config(model)->max_batch,
             "learner: batch %d (the model was built for %d)", cfg->batch, wm_get_config(model)->max_batch);
    learner *l = calloc(1, sizeof *l);
    MZ_CHECK(l, "learner: out of host memory");
    l->model = model;
    l->cfg = *cfg;
    mz_backend *be = wm_params(model)->be;
    l->dot = be->alloc(be, sizeof(float));
    l->env = calloc((size_t)cfg->batch, sizeof(int));
    l->steps = calloc((size_t)cfg->batch, sizeof(int64_t));
    MZ_CHECK(l->env && l->steps, "learner: out of host memory");
    return l;
}

learner *learner_create(wm_model *model, replay *rb, const learner_config *cfg) {
    learner *l = learner_new(model, cfg);
    l->rb = rb;
    return l;
}

learner *learner_create_device(wm_model *model, device_replay *drb, const learner_config *cfg) {
    learner *l = learner_new(model, cfg);
    l->drb = drb;
    return l;
}

void learner_destroy(learner *l) {
    if (!l) return;
    mz_backend *be = wm_params(l->model)->be;
    be->free(be, l->dot);
    if (l->target) {
        be->free(be, l->d_boot_obs), be->free(be, l->d_boot_logits), be->free(be, l->d_boot_value);
        be->free(be, l->d_boot_stats);
        free(l->h_boot_value);
        wm_destroy(l->target);
    }
    free(l->env);
    free(l->steps);
    free(l);
}

int64_t learner_steps(const learner *l) { return l->t; }

/* Rewrites the batch's value targets that bootstrap from a stored root
 * value with the target network's value of the same observation. */
static void bootstrap_from_target(learner *l, learner_stats *out) {
    const wm_config *c = wm_get_config(l->model);
    mz_backend *be = wm_params(l->model)->be;
    int rows = (c->K + 1) * l->cfg.batch;
    replay_bootstrap rb = replay_last_bootstrap(l->rb);
    be->copy_h2d(be, l->d_boot_obs, rb.obs, (size_t)rows * c->N * c->O * sizeof(float));
    wm_search_set_obs(l->target, l->d_boot_obs, rows);
    mcts_ma_model mm = wm_search_model(l->target);
    mm.root(mm.ctx, be, rows, l->d_boot_logits, l->d_boot_value);
    be->copy_d2h(be, l->h_boot_value, l->d_boot_value, (size_t)rows * sizeof(float));
    double value = 0.0, shift = 0.0;
    int n = 0;
    for (int kb = 0; kb < rows; kb++) {
        if (!(rb.coef[kb] > 0.0f)) continue;
        float z = rb.partial[kb] + rb.coef[kb] * l->h_boot_value[kb];
        value += l->h_boot_value[kb];
        shift += fabsf(z - rb.values[kb]);
        rb.values[kb] = z;
        n++;
    }
    out->target_value = n ? (float)(value / n) : 0.0f;
    out->bootstrap_shift = n ? (float)(shift / n) : 0.0f;
}

/* The same on the device: the replay's bootstrap observations through the
 * target network, the targets rewritten in the model's device batch. */
static void bootstrap_from_target_device(learner *l, float *value, learner_stats *out) {
    const wm_config *c = wm_get_config(l->model);
    mz_backend *be = wm_params(l->model)->be;
    int rows = (c->K + 1) * l->cfg.batch;
    device_replay_bootstrap rb = device_replay_last_bootstrap(l->drb);
    wm_search_set_obs(l->target, rb.obs, rows);
    mcts_ma_model mm = wm_search_model(l->target);
    mm.root(mm.ctx, be, rows, l->d_boot_logits, l->d_boot_value);
    float *st = l->d_boot_stats;
    device_replay_rewrite_targets(l->drb, rows, value, st + rows, st + 2 * (size_t)rows, st, l->d_boot_value);
    /* the logged means, one copy, summed on the host in one order (a device sum's order is the backend's) */
    float *h = l->h_boot_value;
    be->copy_d2h(be, h, st, 3 * (size_t)rows * sizeof(float));
    double sums[3] = {0.0, 0.0, 0.0};
    for (int j = 0; j < 3; j++)
        for (int kb = 0; kb < rows; kb++) sums[j] += h[(size_t)j * rows + kb];
    out->target_value = sums[0] > 0.0 ? (float)(sums[1] / sums[0]) : 0.0f;
    out->bootstrap_shift = sums[0] > 0.0 ? (float)(sums[2] / sums[0]) : 0.0f;
}

static void update_target(learner *l) {
    mz_params *p = wm_params(l->model), *tp = wm_params(l->target);
    if (l->target_ema > 0.0f)
        mz_ema_update(p->be, tp->values, p->values, p->total, 1.0f - l->target_ema);
    else if (l->t % l->target_interval == 0)
        p->be->copy_d2d(p->be, tp->values, p->values, (size_t)p->total * sizeof(float));
}

void learner_use_target(learner *l, float ema, int64_t interval) {
    MZ_CHECK(!l->target, "learner: the target network is already on");
    MZ_CHECK(ema > 0.0f || interval >= 1, "learner: a target network needs ema > 0 or interval >= 1 (got %g, %lld)",
             (double)ema, (long long)interval);
    l->target_ema = ema, l->target_interval = interval;
    if (l->drb) device_replay_keep_bootstrap(l->drb);
    else replay_keep_bootstrap(l->rb);
    mz_backend *be = wm_params(l->model)->be;
    wm_config tc = *wm_get_config(l->model);
    int rows = (tc.K + 1) * l->cfg.batch;
    tc.max_batch = 1, tc.max_trees = rows, tc.max_envs = rows, tc.max_nodes = 1;
    char err[256];
    l->target = wm_create(be, &tc, err, sizeof err);
    MZ_CHECK(l->target, "learner: target network: %s", err);
    mz_params *p = wm_params(l->model), *tp = wm_params(l->target);
    be->copy_d2d(be, tp->values, p->values, (size_t)p->total * sizeof(float));
    if (!l->drb) l->d_boot_obs = be->alloc(be, (size_t)rows * tc.N * tc.O * sizeof(float)); /* the device replay has its own */
    l->d_boot_logits = be->alloc(be, (size_t)rows * tc.N * tc.A * sizeof(float));
    l->d_boot_value = be->alloc(be, (size_t)rows * sizeof(float));
    l->h_boot_value = calloc(3 * (size_t)rows, sizeof(float)); /* the device replay's three stats rows */
    MZ_CHECK(l->h_boot_value, "learner: out of host memory");
    if (l->drb) l->d_boot_stats = be->alloc(be, 3 * (size_t)rows * sizeof(float));
}

mz_params *learner_target_params(learner *l) { return l->target ? wm_params(l->target) : NULL; }

void learner_last_windows(learner *l, const int **env, const int64_t **step) {
    if (l->drb) device_replay_last_windows(l->drb, l->cfg.batch, l->env, l->steps);
    *env = l->env;
    *step = l->steps;
}

static const float *train_step(learner *l, int B, learner_stats *out);

/* Sample, targets and weights all on the device: only the priorities [B]
 * and the logged scalars cross to the host. */
static void update_device(learner *l, learner_stats *out) {
    double t0 = mz_clock_seconds();
    int B = l->cfg.batch;
    wm_device_batch db = wm_device_batch_buffers(l->model);
    device_replay_sample(l->drb, B, &db);
    out->target_value = out->bootstrap_shift = 0.0f;
    if (l->target) bootstrap_from_target_device(l, db.value, out);
    wm_device_batch_ready(l->model, B);
    double t1 = mz_clock_seconds();
    const float *prio = train_step(l, B, out);
    double t2 = mz_clock_seconds();
    device_replay_update_priorities(l->drb, B, prio);
    wm_params(l->model)->be->sync(wm_params(l->model)->be); /* the priority kernel is this update's */
    out->seconds_replay = (t1 - t0) + (mz_clock_seconds() - t2);
}

void learner_update(learner *l, learner_stats *out) {
    if (l->drb) {
        update_device(l, out);
        return;
    }
    double t0 = mz_clock_seconds();
    const wm_batch *batch = replay_sample(l->rb, l->cfg.batch, l->env, l->steps);
    out->target_value = out->bootstrap_shift = 0.0f;
    if (l->target) bootstrap_from_target(l, out); /* rewrites the batch's value targets */
    double sampled = mz_clock_seconds() - t0;
    const float *prio = learner_update_batch(l, batch, out);
    double t1 = mz_clock_seconds();
    replay_update_priorities(l->rb, l->cfg.batch, l->env, l->steps, prio);
    out->seconds_replay += sampled + (mz_clock_seconds() - t1);
}

const float *learner_update_batch(learner *l, const wm_batch *batch, learner_stats *out) {
    int B = batch->B;
    MZ_CHECK(B == l->cfg.batch, "learner: batch of %d windows, configured for %d", B, l->cfg.batch);
    if (!l->target) out->target_value = out->bootstrap_shift = 0.0f;
    double t0 = mz_clock_seconds();
    wm_upload(l->model, batch);
    double t1 = mz_clock_seconds();
    const float *prio = train_step(l, B, out);
    out->seconds_replay = t1 - t0;
    return prio;
}

/* Forward, backward, AdamW and the target network on the batch the model
 * holds; seconds_forward/backward timed, seconds_replay left to the caller. */
static const float *train_step(learner *l, int B, learner_stats *out) {
    double t1 = mz_clock_seconds();
    mz_params *p = wm_params(l->model);
    mz_params_zero_grads(p);
    wm_set_dropout_update(l->model, (uint64_t)l->t);
    wm_forward_loss(l->model, &out->loss);
    double t2 = mz_clock_seconds();
    wm_backward(l->model);
    mz_dist_allreduce_mean(p->be, p->grads, p->total); /* data-parallel: before clipping and AdamW */
    out->lr = mz_lr_at(&l->cfg.lr, l->t);
    l->t++;
    out->grad_norm = mz_adamw_step(p, &l->cfg.adamw, out->lr, l->t, l->dot);
    if (l->target) update_target(l);
    const float *prio = wm_priorities(l->model);
    double sum = 0.0;
    for (int b = 0; b < B; b++) sum += prio[b];
    out->mean_priority = (float)(sum / B);
    out->step = l->t;
    out->seconds_forward = t2 - t1;
    out->seconds_backward = mz_clock_seconds() - t2;
    return prio;
}

void learner_state_blocks(learner *l, mz_state_block *list, int *n, int max) {
    mz_state_add(list, n, max, "learner.updates", &l->t, sizeof l->t, 0);
    if (l->target) {
        mz_params *tp = wm_params(l->target);
        mz_state_add(list, n, max, "learner.target", tp->values, (size_t)tp->total * sizeof(float), 1);
    }
}
