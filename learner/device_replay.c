/* The device replay: see device_replay.h. The CPU loops of its kernels are
 * generated here from learner/device_replay_kernels.def; the CUDA ones live
 * in learner/device_replay_cuda.cu. All buffers are allocated at create. */
#include "learner/device_replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/device_replay_kernels.h"
#include "src/check.h"

#define MZ_DRP_KERNEL(name, params, args) MZ_GEN_CPU_LOOP(name, params, args)
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL

const mz_drp_kernels mz_drp_cpu_kernels = {
#define MZ_DRP_KERNEL(name, params, args) .name = cpu_##name,
#include "learner/device_replay_kernels.def"
#undef MZ_DRP_KERNEL
};

struct device_replay {
    mz_backend *be;
    const mz_drp_kernels *k;
    replay_config c;
    int64_t ET;
    /* the rings, [E*T] slots (device) */
    float *obs, *pol, *rew, *fval, *val, *prio, *pa;
    double *cum;                          /* [E*T] the sampler's running sums */
    double *bsum, *bprefix;               /* [blocks] */
    double *total;                        /* [1]: sum of pa */
    int64_t n_blocks;
    int64_t *ready;                       /* [E] ready steps per env (device) */
    int64_t *h_ready_e;                   /* [E] host copy */
    int64_t h_ready;                      /* their sum, for the state file */
    int32_t *act;
    uint8_t *term, *trunc;
    int64_t *count;   /* [E] (device) */
    int64_t *h_count; /* [E] host copy */
    float *max_prio;  /* [1] (device) */
    uint64_t calls;   /* sample calls: the sampler's RNG offset and beta's schedule */
    /* the last windows */
    int32_t *env, *src_slot, *boot_slot; /* [B], [(K+1) B], [(K+1) B] */
    int64_t *step;                       /* [B] */
    float *new_prio;                     /* [B] */
    float *boot_obs, *boot_coef, *boot_partial;
    int last_B;
    /* reanalyse (device_replay_keep_reanalyse) */
    uint8_t *avail;      /* [E*T][N][A] legal actions of each stored step */
    int32_t *pick_slot;  /* [max_picks] slots of the last pick */
    int max_picks, last_picks;
    int32_t *h_e32; /* [max_batch] staging */
    float *h_ones;  /* [max_batch] */
};

static void *dev_zeroed(mz_backend *be, size_t bytes) {
    void *p = be->alloc(be, bytes);
    be->zero(be, p, bytes);
    return p;
}

device_replay *device_replay_create(mz_backend *be, const replay_config *cfg) {
    const replay_config *c = cfg;
    MZ_CHECK(c->E >= 1 && c->N >= 1 && c->O >= 1 && c->A >= 1, "device replay: E %d, N %d, O %d, A %d", c->E, c->N,
             c->O, c->A);
    MZ_CHECK(c->K >= 1 && c->n_step >= 1, "device replay: unroll %d and n_step %d must be >= 1", c->K, c->n_step);
    MZ_CHECK(c->T > c->K + c->n_step, "device replay: %d steps per environment, windows need more than K + n = %d",
             c->T, c->K + c->n_step);
    MZ_CHECK(c->max_batch >= 1, "device replay: batch %d", c->max_batch);
    MZ_CHECK((int64_t)c->E * c->T < INT32_MAX, "device replay: %d envs x %d steps is %lld slots; at most 2^31 - 1",
             c->E, c->T, (long long)c->E * c->T);
    device_replay *r = mz_calloc(1, sizeof *r);
    r->be = be;
    r->k = (const mz_drp_kernels *)mz_kernel_table_for(be, &mz_drp_cpu_kernels, &mz_drp_cuda_kernels,
                                                       "device replay");
    r->c = *cfg;
    int64_t ET = (int64_t)c->E * c->T, KB = (int64_t)(c->K + 1) * c->max_batch;
    r->ET = ET;
    size_t f = sizeof(float);
    r->obs = dev_zeroed(be, (size_t)ET * c->N * c->O * f);
    r->pol = dev_zeroed(be, (size_t)ET * c->N * c->A * f);
    r->act = dev_zeroed(be, (size_t)ET * c->N * sizeof(int32_t));
    r->rew = dev_zeroed(be, (size_t)ET * f);
    r->fval = dev_zeroed(be, (size_t)ET * f);
    r->val = dev_zeroed(be, (size_t)ET * f);
    r->prio = dev_zeroed(be, (size_t)ET * f);
    r->pa = dev_zeroed(be, (size_t)ET * f);
    r->cum = dev_zeroed(be, (size_t)ET * sizeof(double));
    r->n_blocks = (ET + MZ_DRP_SCAN_BLOCK - 1) / MZ_DRP_SCAN_BLOCK;
    r->bsum = dev_zeroed(be, (size_t)r->n_blocks * sizeof(double));
    r->bprefix = dev_zeroed(be, (size_t)r->n_blocks * sizeof(double));
    r->total = dev_zeroed(be, sizeof(double));
    r->ready = dev_zeroed(be, (size_t)c->E * sizeof(int64_t));
    r->h_ready_e = mz_calloc((size_t)c->E, sizeof(int64_t));
    r->max_prio = be->alloc(be, sizeof(float));
    float one = 1.0f;
    be->copy_h2d(be, r->max_prio, &one, sizeof one);
    r->term = dev_zeroed(be, (size_t)ET);
    r->trunc = dev_zeroed(be, (size_t)ET);
    r->count = dev_zeroed(be, (size_t)c->E * sizeof(int64_t));
    r->h_count = mz_calloc((size_t)c->E, sizeof(int64_t));
    r->env = dev_zeroed(be, (size_t)c->max_batch * sizeof(int32_t));
    r->step = dev_zeroed(be, (size_t)c->max_batch * sizeof(int64_t));
    r->new_prio = dev_zeroed(be, (size_t)c->max_batch * sizeof(float));
    r->src_slot = dev_zeroed(be, (size_t)KB * sizeof(int32_t));
    r->h_e32 = mz_calloc((size_t)c->max_batch, sizeof(int32_t));
    r->h_ones = mz_calloc((size_t)c->max_batch, sizeof(float));
    for (int b = 0; b < c->max_batch; b++) r->h_ones[b] = 1.0f;
    return r;
}

void device_replay_destroy(device_replay *r) {
    if (!r) return;
    mz_backend *be = r->be;
    void *dev[] = {r->obs, r->pol, r->act, r->rew, r->fval, r->val, r->prio, r->pa, r->cum, r->bsum, r->bprefix, r->total, r->ready, r->max_prio, r->term,
                   r->trunc, r->count, r->env, r->step, r->new_prio, r->src_slot, r->boot_slot, r->boot_obs, r->boot_coef,
                   r->boot_partial, r->avail, r->pick_slot};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) be->free(be, dev[i]);
    free(r->h_count);
    free(r->h_ready_e);
    free(r->h_e32);
    free(r->h_ones);
    free(r);
}

void device_replay_add(device_replay *r, const float *obs, const uint8_t *avail, const int32_t *actions,
                       const float *rewards, const uint8_t *terminated, const uint8_t *truncated, const float *policy,
                       const float *root_value, const float *final_value) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    int NO = c->N * c->O, NA = c->N * c->A;
    MZ_CHECK(!r->avail || avail, "device replay: reanalyse keeps legal-action masks, and the step came without them");
    /* rows first: they go to the slot of count[e], which the step kernel moves on */
    r->k->drp_store_rows(be, (int64_t)c->E * NO, r->obs, obs, r->count, c->T, NO);
    r->k->drp_store_rows(be, (int64_t)c->E * NA, r->pol, policy, r->count, c->T, NA);
    if (r->avail) r->k->drp_store_mask(be, (int64_t)c->E * NA, r->avail, avail, r->count, c->T, NA);
    r->k->drp_store_step(be, c->E, r->act, r->rew, r->term, r->trunc, r->fval, r->val, r->prio, r->pa, r->ready,
                         r->count, actions, rewards, terminated, truncated, final_value, root_value, r->max_prio,
                         c->N, c->T, c->K + c->n_step, c->reward_shift, c->alpha);
    for (int e = 0; e < c->E; e++) r->h_count[e]++;
}

void device_replay_keep_reanalyse(device_replay *r, int max_picks) {
    const replay_config *c = &r->c;
    MZ_CHECK(max_picks >= 1, "device replay: reanalyse of %d steps at a time", max_picks);
    MZ_CHECK(!r->avail && r->h_count[0] == 0, "device replay: reanalyse is set up once, before the first step");
    size_t NA = (size_t)c->N * c->A;
    r->avail = dev_zeroed(r->be, (size_t)r->ET * NA);
    r->pick_slot = dev_zeroed(r->be, (size_t)max_picks * sizeof(int32_t));
    r->max_picks = max_picks;
}

void device_replay_pick(device_replay *r, int R, uint64_t counter, float *obs, uint8_t *avail) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    MZ_CHECK(r->avail, "device replay: pick before device_replay_keep_reanalyse");
    MZ_CHECK(R >= 1 && R <= r->max_picks, "device replay: pick of %d steps (at most %d)", R, r->max_picks);
    int NO = c->N * c->O, NA = c->N * c->A;
    r->k->drp_pick_uniform(be, R, r->pick_slot, r->count, c->E, c->T, c->seed, MZ_STREAM_DEVICE_REPLAY_PICK,
                           counter * (uint64_t)R);
    r->k->drp_gather(be, (int64_t)R * NO, obs, r->obs, r->pick_slot, NO, 0.0f);
    r->k->drp_gather_mask(be, (int64_t)R * NA, avail, r->avail, r->pick_slot, NA);
    r->last_picks = R;
}

void device_replay_refresh(device_replay *r, int R, const float *policy, const float *root_value) {
    const replay_config *c = &r->c;
    MZ_CHECK(R == r->last_picks, "device replay: %d results for a pick of %d", R, r->last_picks);
    int NA = c->N * c->A;
    r->k->drp_scatter(r->be, (int64_t)R * NA, r->pol, policy, r->pick_slot, R, NA);
    r->k->drp_scatter(r->be, R, r->val, root_value, r->pick_slot, R, 1);
    r->last_picks = 0;
}

void device_replay_last_picks(device_replay *r, int R, int32_t *slot) {
    MZ_CHECK(R <= r->max_picks, "device replay: %d picks asked, at most %d", R, r->max_picks);
    r->be->copy_d2h(r->be, slot, r->pick_slot, (size_t)R * sizeof(int32_t));
}

/* the per-env counts: E integers, not a pass over the slots */
int64_t device_replay_ready(device_replay *r) {
    r->be->copy_d2h(r->be, r->h_ready_e, r->ready, (size_t)r->c.E * sizeof(int64_t));
    int64_t n = 0;
    for (int e = 0; e < r->c.E; e++) n += r->h_ready_e[e];
    return n;
}
int64_t device_replay_steps(const device_replay *r, int env) { return r->h_count[env]; }
float device_replay_max_priority(const device_replay *r) {
    float m;
    r->be->copy_d2h(r->be, &m, r->max_prio, sizeof m);
    return m;
}

void device_replay_keep_bootstrap(device_replay *r) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    size_t KB = (size_t)(c->K + 1) * c->max_batch;
    if (r->boot_obs) return;
    r->boot_obs = dev_zeroed(be, KB * c->N * c->O * sizeof(float));
    r->boot_coef = dev_zeroed(be, KB * sizeof(float));
    r->boot_partial = dev_zeroed(be, KB * sizeof(float));
    r->boot_slot = dev_zeroed(be, KB * sizeof(int32_t));
}

device_replay_bootstrap device_replay_last_bootstrap(device_replay *r) {
    MZ_CHECK(r->boot_obs, "device replay: bootstrap observations were not kept (device_replay_keep_bootstrap)");
    device_replay_bootstrap b = {r->boot_obs, r->boot_coef, r->boot_partial};
    return b;
}

void device_replay_rewrite_targets(device_replay *r, int rows, float *value, float *sel, float *shift, float *is_boot,
                                   const float *boot_value) {
    MZ_CHECK(r->boot_obs && rows == (r->c.K + 1) * r->last_B, "device replay: %d targets to rewrite, the last batch has %d",
             rows, (r->c.K + 1) * r->last_B);
    r->k->drp_bootstrap(r->be, rows, value, sel, shift, is_boot, r->boot_partial, r->boot_coef, boot_value);
}

/* The windows of r->env / r->step into out. */
static void gather_windows(device_replay *r, int B, const wm_device_batch *out) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    int NO = c->N * c->O, NA = c->N * c->A;
    int64_t KB = (int64_t)(c->K + 1) * B;
    r->k->drp_window(be, KB, r->src_slot, out->value, out->reward, out->obs_mask, out->actions,
                     r->boot_obs ? r->boot_coef : NULL, r->boot_partial, r->boot_slot, r->env, r->step, r->rew,
                     r->term, r->trunc, r->fval, r->val, r->act, B, c->K, c->N, c->T, c->n_step, c->discount);
    r->k->drp_gather(be, KB * NO, out->obs, r->obs, r->src_slot, NO, 0.0f);
    r->k->drp_gather(be, KB * NA, out->policy, r->pol, r->src_slot, NA, 1.0f / (float)c->A);
    if (r->boot_obs) r->k->drp_gather(be, KB * NO, r->boot_obs, r->obs, r->boot_slot, NO, 0.0f);
    r->last_B = B;
}

void device_replay_sample(device_replay *r, int B, const wm_device_batch *out) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    MZ_CHECK(B >= 1 && B <= c->max_batch, "device replay: batch of %d (at most %d)", B, c->max_batch);
    int64_t ready = device_replay_ready(r);
    MZ_CHECK(ready > 0, "device replay: sampling with no ready step");
    r->k->drp_block_sums(be, r->n_blocks, r->bsum, r->pa, r->ET);
    r->k->drp_block_prefix(be, 1, r->bprefix, r->total, r->bsum, r->n_blocks);
    r->k->drp_block_scan(be, r->n_blocks, r->cum, r->pa, r->bprefix, r->ET);
    double total;
    be->copy_d2h(be, &total, r->total, sizeof total);
    MZ_CHECK(total > 0.0, "device replay: the %lld ready steps' priorities^alpha (alpha %g, max priority %g) all "
             "round to 0 in float", (long long)ready, (double)c->alpha, (double)device_replay_max_priority(r));
    double frac = c->beta_steps > 0 ? (double)r->calls / (double)c->beta_steps : 1.0;
    float beta = (float)(c->beta0 + (1.0 - c->beta0) * (frac < 1.0 ? frac : 1.0));
    r->k->drp_pick(be, B, r->env, r->step, out->weight, r->cum, r->total, r->pa, r->count, r->ET, c->T,
                   (double)ready, beta, c->seed, MZ_STREAM_DEVICE_REPLAY_SAMPLE, r->calls * (uint64_t)c->max_batch);
    r->calls++;
    gather_windows(r, B, out);
    float wmax = be->max(be, B, out->weight);
    be->scal(be, B, 1.0f / wmax, out->weight);
}

void device_replay_windows(device_replay *r, int B, const int *env, const int64_t *step, const wm_device_batch *out) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    MZ_CHECK(B >= 1 && B <= c->max_batch, "device replay: batch of %d (at most %d)", B, c->max_batch);
    for (int b = 0; b < B; b++) {
        MZ_CHECK(env[b] >= 0 && env[b] < c->E, "device replay: env %d of %d", env[b], c->E);
        MZ_CHECK(step[b] >= r->h_count[env[b]] - c->T && step[b] >= 0 && step[b] < r->h_count[env[b]],
                 "device replay: step %lld of env %d is not stored", (long long)step[b], env[b]);
        r->h_e32[b] = env[b];
    }
    be->copy_h2d(be, r->env, r->h_e32, (size_t)B * sizeof(int32_t));
    be->copy_h2d(be, r->step, step, (size_t)B * sizeof(int64_t));
    gather_windows(r, B, out);
    be->copy_h2d(be, out->weight, r->h_ones, (size_t)B * sizeof(float));
}

void device_replay_last_windows(device_replay *r, int B, int *env, int64_t *step) {
    if (r->last_B == 0) { /* no batch yet: as the host learner's zeroed arrays */
        for (int b = 0; b < B; b++) env[b] = 0, step[b] = 0;
        return;
    }
    MZ_CHECK(B == r->last_B, "device replay: %d windows asked, the last batch had %d", B, r->last_B);
    r->be->copy_d2h(r->be, r->h_e32, r->env, (size_t)B * sizeof(int32_t));
    r->be->copy_d2h(r->be, step, r->step, (size_t)B * sizeof(int64_t));
    for (int b = 0; b < B; b++) env[b] = r->h_e32[b];
}

void device_replay_update_priorities(device_replay *r, int B, const float *priority) {
    const replay_config *c = &r->c;
    mz_backend *be = r->be;
    MZ_CHECK(B == r->last_B, "device replay: %d priorities for a batch of %d", B, r->last_B);
    for (int b = 0; b < B; b++)
        MZ_CHECK(priority[b] > 0.0f && isfinite(priority[b]), "device replay: priority %g", (double)priority[b]);
    be->copy_h2d(be, r->new_prio, priority, (size_t)B * sizeof(float));
    r->k->drp_raise_max(be, 1, r->max_prio, r->env, r->step, r->count, r->new_prio, B, c->T);
    r->k->drp_set_priority(be, B, r->prio, r->pa, r->env, r->step, r->count, r->new_prio, B, c->T, c->alpha);
}

void device_replay_priorities(device_replay *r, float *out) {
    r->be->copy_d2h(r->be, out, r->prio, (size_t)r->ET * sizeof(float));
}

void device_replay_state_blocks(device_replay *r, mz_state_block *list, int *n, int max) {
    replay_rings g = {r->obs, r->act, r->rew, r->term, r->trunc, r->pol, r->val, r->fval, r->prio, r->count};
    replay_rings_state_blocks(&r->c, &g, 1, list, n, max);
    /* the host replay's blocks, so that a run saved with either replay resumes with the other */
    r->h_ready = device_replay_ready(r);
    mz_state_add(list, n, max, "replay.ready", &r->h_ready, sizeof r->h_ready, 0);
    mz_state_add(list, n, max, "replay.max_priority", r->max_prio, sizeof(float), 1);
    mz_state_add(list, n, max, "replay.sample_calls", &r->calls, sizeof r->calls, 0);
    if (r->avail)
        mz_state_add(list, n, max, "replay.avail", r->avail, (size_t)r->ET * r->c.N * r->c.A, 1);
}

void device_replay_state_loaded(device_replay *r) {
    r->be->copy_d2h(r->be, r->h_count, r->count, (size_t)r->c.E * sizeof(int64_t));
    r->k->drp_rebuild(r->be, r->c.E, r->pa, r->ready, r->prio, r->c.T, r->c.alpha);
}
