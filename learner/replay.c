/* Host replay of per-environment trajectories: see replay.h. */
#include "learner/replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/sumtree.h"
#include "src/check.h"
#include "src/rng.h"

struct replay {
    replay_config c;
    float *obs;      /* [E][T][N*O] */
    int32_t *act;    /* [E][T][N] */
    float *rew;      /* [E][T] */
    uint8_t *term;   /* [E][T] */
    uint8_t *trunc;  /* [E][T] */
    float *pol;      /* [E][T][N*A] */
    float *val;      /* [E][T] */
    float *fval;     /* [E][T] */
    float *prio;     /* [E][T]: 0 while not ready */
    int64_t *count;  /* [E] steps ever added */
    int64_t ready;
    float max_prio;
    uint64_t calls;
    mz_sumtree tree; /* [E*T] leaves prio^alpha (0 while not ready): O(log n) sampling */
    /* the batch, [k][b] layouts of wm_batch */
    float *b_obs, *b_pol, *b_val, *b_rew, *b_mask, *b_w;
    float *b_boot_obs, *b_boot_coef, *b_boot_partial; /* [K+1][B][N*O], [K+1][B], [K+1][B] (bootstrap_obs) */
    int32_t *b_act;
    wm_batch batch;
};

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    MZ_CHECK(p, "replay: out of host memory (%zu x %zu bytes)", n, size);
    return p;
}

replay *replay_create(const replay_config *cfg) {
    const replay_config *c = cfg;
    MZ_CHECK(c->E >= 1 && c->N >= 1 && c->O >= 1 && c->A >= 1, "replay: E %d, N %d, O %d, A %d", c->E, c->N, c->O, c->A);
    MZ_CHECK(c->K >= 1 && c->n_step >= 1, "replay: unroll %d and n_step %d must be >= 1", c->K, c->n_step);
    MZ_CHECK(c->T > c->K + c->n_step, "replay: %d steps per environment, windows need more than K + n = %d", c->T,
             c->K + c->n_step);
    MZ_CHECK(c->max_batch >= 1, "replay: batch %d", c->max_batch);
    replay *r = xcalloc(1, sizeof *r);
    r->c = *cfg;
    size_t ET = (size_t)c->E * c->T, K1 = (size_t)c->K + 1, B = (size_t)c->max_batch;
    r->obs = xcalloc(ET * c->N * c->O, sizeof(float));
    r->act = xcalloc(ET * c->N, sizeof(int32_t));
    r->rew = xcalloc(ET, sizeof(float));
    r->term = xcalloc(ET, 1);
    r->trunc = xcalloc(ET, 1);
    r->pol = xcalloc(ET * c->N * c->A, sizeof(float));
    r->val = xcalloc(ET, sizeof(float));
    r->fval = xcalloc(ET, sizeof(float));
    r->prio = xcalloc(ET, sizeof(float));
    r->count = xcalloc((size_t)c->E, sizeof(int64_t));
    mz_sumtree_init(&r->tree, (int64_t)ET);
    r->b_obs = xcalloc(K1 * B * c->N * c->O, sizeof(float));
    r->b_pol = xcalloc(K1 * B * c->N * c->A, sizeof(float));
    r->b_val = xcalloc(K1 * B, sizeof(float));
    r->b_rew = xcalloc((size_t)c->K * B, sizeof(float));
    r->b_mask = xcalloc(K1 * B, sizeof(float));
    r->b_w = xcalloc(B, sizeof(float));
    r->b_act = xcalloc((size_t)c->K * B * c->N, sizeof(int32_t));

    r->max_prio = 1.0f;
    return r;
}

void replay_destroy(replay *r) {
    if (!r) return;
    void *all[] = {r->obs, r->act, r->rew, r->term, r->trunc, r->pol, r->val, r->fval, r->prio, r->count,
                   r->b_obs, r->b_pol, r->b_val, r->b_rew, r->b_mask, r->b_w, r->b_act, r->b_boot_obs, r->b_boot_coef,
                   r->b_boot_partial};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    mz_sumtree_free(&r->tree);
    free(r);
}

static size_t slot(const replay *r, int e, int64_t i) { return (size_t)e * r->c.T + (size_t)(i % r->c.T); }

static void set_priority(replay *r, size_t s, float p) {
    r->prio[s] = p;
    mz_sumtree_set(&r->tree, (int64_t)s, p > 0.0f ? pow(p, r->c.alpha) : 0.0);
}

static void mark_ready(replay *r, int e, int64_t i) {
    size_t s = slot(r, e, i);
    if (r->prio[s] > 0.0f) return;
    set_priority(r, s, r->max_prio);
    r->ready++;
}

void replay_add_env(replay *r, int e, const float *obs, const int32_t *actions, float reward, int terminated,
                    int truncated, const float *policy, float root_value, float final_value) {
    const replay_config *c = &r->c;
    int NO = c->N * c->O, NA = c->N * c->A, Kn = c->K + c->n_step;
    MZ_CHECK(e >= 0 && e < c->E, "replay: env %d of %d", e, c->E);
    int64_t i = r->count[e];
    size_t s = slot(r, e, i);
    if (r->prio[s] > 0.0f) r->ready--; /* evicting step i - T */
    set_priority(r, s, 0.0f);
    memcpy(r->obs + s * NO, obs, (size_t)NO * sizeof(float));
    memcpy(r->act + s * c->N, actions, (size_t)c->N * sizeof(int32_t));
    memcpy(r->pol + s * NA, policy, (size_t)NA * sizeof(float));
    r->rew[s] = reward + c->reward_shift;
    r->term[s] = terminated ? 1 : 0;
    r->trunc[s] = truncated && !terminated ? 1 : 0;
    r->fval[s] = r->trunc[s] ? final_value : 0.0f;
    r->val[s] = root_value;
    r->count[e] = i + 1;
    int64_t oldest = i + 1 - c->T > 0 ? i + 1 - c->T : 0;
    if (r->term[s] || r->trunc[s])
        for (int64_t j = i; j >= oldest && r->prio[slot(r, e, j)] == 0.0f; j--) mark_ready(r, e, j);
    if (i - Kn >= oldest) mark_ready(r, e, i - Kn);
}

void replay_add(replay *r, const float *obs, const int32_t *actions, const float *rewards, const uint8_t *terminated,
                const uint8_t *truncated, const float *policy, const float *root_value, const float *final_value) {
    const replay_config *c = &r->c;
    size_t NO = (size_t)c->N * c->O, NA = (size_t)c->N * c->A;
    for (int e = 0; e < c->E; e++) {
        int trunc = truncated[e] && !terminated[e];
        MZ_CHECK(!trunc || final_value, "replay: env %d truncated without a final value", e);
        replay_add_env(r, e, obs + e * NO, actions + (size_t)e * c->N, rewards[e], terminated[e], truncated[e],
                       policy + e * NA, root_value[e], trunc ? final_value[e] : 0.0f);
    }
}

int64_t replay_ready(const replay *r) { return r->ready; }
int64_t replay_steps(const replay *r, int env) { return r->count[env]; }
float replay_max_priority(const replay *r) { return r->max_prio; }

/* The target of step i as partial + *coef * val[*boot] (coef 0 and boot -1
 * when the episode ends within n steps: partial is then the whole target). */
static float value_target_split(const replay *r, int env, int64_t i, float *coef, int64_t *boot) {
    const replay_config *c = &r->c;
    float z = 0.0f, g = 1.0f;
    *coef = 0.0f, *boot = -1;
    for (int j = 0; j < c->n_step; j++) {
        size_t s = slot(r, env, i + j);
        MZ_CHECK(i + j < r->count[env], "replay: target of step %lld of env %d reads unstored step %lld", (long long)i,
                 env, (long long)(i + j));
        z += g * r->rew[s];
        g *= c->discount;
        if (r->term[s]) return z;
        if (r->trunc[s]) return z + g * r->fval[s];
    }
    MZ_CHECK(i + c->n_step < r->count[env], "replay: bootstrap of step %lld of env %d is not stored", (long long)i, env);
    *coef = g, *boot = i + c->n_step;
    return z;
}

float replay_value_target(const replay *r, int env, int64_t i) {
    float coef;
    int64_t boot;
    float z = value_target_split(r, env, i, &coef, &boot);
    return boot < 0 ? z : z + coef * r->val[slot(r, env, boot)];
}

void replay_keep_bootstrap(replay *r) {
    const replay_config *c = &r->c;
    size_t K1 = (size_t)c->K + 1, B = (size_t)c->max_batch;
    if (r->b_boot_obs) return;
    r->b_boot_obs = xcalloc(K1 * B * c->N * c->O, sizeof(float));
    r->b_boot_coef = xcalloc(K1 * B, sizeof(float));
    r->b_boot_partial = xcalloc(K1 * B, sizeof(float));
}

replay_bootstrap replay_last_bootstrap(replay *r) {
    MZ_CHECK(r->b_boot_obs, "replay: bootstrap observations were not kept (replay_keep_bootstrap)");
    return (replay_bootstrap){r->b_boot_obs, r->b_boot_coef, r->b_boot_partial, r->b_val};
}

const wm_batch *replay_window(replay *r, int env, int64_t t, int b, int B) {
    const replay_config *c = &r->c;
    int NO = c->N * c->O, NA = c->N * c->A;
    MZ_CHECK(b >= 0 && b < B && B <= c->max_batch, "replay: sample %d of %d (at most %d)", b, B, c->max_batch);
    MZ_CHECK(t >= r->count[env] - c->T && t < r->count[env], "replay: step %lld of env %d is not stored", (long long)t,
             env);
    int ended = 0;
    for (int k = 0; k <= c->K; k++) {
        int64_t i = t + k;
        size_t kb = (size_t)k * B + b;
        float *o = r->b_obs + kb * NO, *p = r->b_pol + kb * NA;
        if (!ended) {
            size_t s = slot(r, env, i);
            memcpy(o, r->obs + s * NO, (size_t)NO * sizeof(float));
            memcpy(p, r->pol + s * NA, (size_t)NA * sizeof(float));
            r->b_mask[kb] = 1.0f;
            r->b_val[kb] = replay_value_target(r, env, i);
            if (r->b_boot_obs) {
                int64_t boot;
                r->b_boot_partial[kb] = value_target_split(r, env, i, &r->b_boot_coef[kb], &boot);
                float *bo = r->b_boot_obs + kb * NO;
                if (boot >= 0) memcpy(bo, r->obs + slot(r, env, boot) * NO, (size_t)NO * sizeof(float));
                else memset(bo, 0, (size_t)NO * sizeof(float));
            }
            if (k < c->K) {
                memcpy(r->b_act + kb * c->N, r->act + s * c->N, (size_t)c->N * sizeof(int32_t));
                r->b_rew[kb] = r->rew[s];
            }
            ended = r->term[s] || r->trunc[s];
        } else { /* absorbing */
            memset(o, 0, (size_t)NO * sizeof(float));
            for (int a = 0; a < NA; a++) p[a] = 1.0f / (float)c->A;
            r->b_mask[kb] = 0.0f;
            r->b_val[kb] = 0.0f;
            if (r->b_boot_obs) {
                r->b_boot_partial[kb] = r->b_boot_coef[kb] = 0.0f;
                memset(r->b_boot_obs + kb * NO, 0, (size_t)NO * sizeof(float));
            }
            if (k < c->K) {
                memset(r->b_act + kb * c->N, 0, (size_t)c->N * sizeof(int32_t));
                r->b_rew[kb] = 0.0f;
            }
        }
    }
    r->b_w[b] = 1.0f;
    r->batch = (wm_batch){B, r->b_obs, r->b_act, r->b_pol, r->b_val, r->b_rew, r->b_mask, r->b_w};
    return &r->batch;
}

const wm_batch *replay_sample(replay *r, int B, int *env_out, int64_t *step_out) {
    const replay_config *c = &r->c;
    MZ_CHECK(r->ready > 0, "replay: sampling with no ready step");
    double total = mz_sumtree_total(&r->tree);
    double frac = c->beta_steps > 0 ? (double)r->calls / (double)c->beta_steps : 1.0;
    double beta = c->beta0 + (1.0 - c->beta0) * (frac < 1.0 ? frac : 1.0);
    mz_rng rng;
    mz_rng_init(&rng, c->seed, 0x5eb1a7u, r->calls);
    r->calls++;
    double wmax = 0.0;
    for (int b = 0; b < B; b++) {
        double u = (double)mz_rng_uniform(&rng) * total;
        size_t lo = (size_t)mz_sumtree_find(&r->tree, u);
        int e = (int)(lo / c->T);
        int64_t sl = (int64_t)(lo % c->T), cnt = r->count[e];
        /* the step in that slot: the newest i < cnt with i % T == sl */
        int64_t i = cnt - 1 - (((cnt - 1 - sl) % c->T) + c->T) % c->T;
        replay_window(r, e, i, b, B);
        double P = mz_sumtree_get(&r->tree, (int64_t)lo) / total;
        double w = pow((double)r->ready * P, -beta);
        r->b_w[b] = (float)w;
        if (w > wmax) wmax = w;
        if (env_out) env_out[b] = e;
        if (step_out) step_out[b] = i;
    }
    for (int b = 0; b < B; b++) r->b_w[b] = (float)(r->b_w[b] / wmax);
    return &r->batch;
}

void replay_update_priorities(replay *r, int B, const int *env, const int64_t *step, const float *priority) {
    for (int b = 0; b < B; b++) {
        MZ_CHECK(priority[b] > 0.0f && isfinite(priority[b]), "replay: priority %g", (double)priority[b]);
        if (step[b] < r->count[env[b]] - r->c.T) continue; /* evicted since it was sampled */
        float *p = &r->prio[slot(r, env[b], step[b])];
        if (*p > 0.0f) set_priority(r, slot(r, env[b], step[b]), priority[b]);
        if (priority[b] > r->max_prio) r->max_prio = priority[b];
    }
}

void replay_rings_state_blocks(const replay_config *c, const replay_rings *g, int on_device, mz_state_block *list,
                               int *n, int max) {
    size_t ET = (size_t)c->E * c->T, f = sizeof(float);
    mz_state_add(list, n, max, "replay.obs", g->obs, ET * c->N * c->O * f, on_device);
    mz_state_add(list, n, max, "replay.actions", g->act, ET * c->N * sizeof(int32_t), on_device);
    mz_state_add(list, n, max, "replay.reward", g->rew, ET * f, on_device);
    mz_state_add(list, n, max, "replay.terminated", g->term, ET, on_device);
    mz_state_add(list, n, max, "replay.truncated", g->trunc, ET, on_device);
    mz_state_add(list, n, max, "replay.policy", g->pol, ET * c->N * c->A * f, on_device);
    mz_state_add(list, n, max, "replay.root_value", g->val, ET * f, on_device);
    mz_state_add(list, n, max, "replay.final_value", g->fval, ET * f, on_device);
    mz_state_add(list, n, max, "replay.priority", g->prio, ET * f, on_device);
    mz_state_add(list, n, max, "replay.count", g->count, (size_t)c->E * sizeof(int64_t), on_device);
}

void replay_state_blocks(replay *r, mz_state_block *list, int *n, int max) {
    replay_rings g = {r->obs, r->act, r->rew, r->term, r->trunc, r->pol, r->val, r->fval, r->prio, r->count};
    replay_rings_state_blocks(&r->c, &g, 0, list, n, max);
    mz_state_add(list, n, max, "replay.ready", &r->ready, sizeof r->ready, 0);
    mz_state_add(list, n, max, "replay.max_priority", &r->max_prio, sizeof r->max_prio, 0);
    mz_state_add(list, n, max, "replay.sample_calls", &r->calls, sizeof r->calls, 0);
}

void replay_state_loaded(replay *r) {
    size_t ET = (size_t)r->c.E * r->c.T;
    for (size_t s = 0; s < ET; s++) set_priority(r, s, r->prio[s]);
}

void replay_end_episodes(replay *r) {
    const replay_config *c = &r->c;
    for (int e = 0; e < c->E; e++) {
        int64_t i = r->count[e], oldest = i - c->T > 0 ? i - c->T : 0;
        if (i == 0) continue;
        size_t s = slot(r, e, i - 1);
        if (r->term[s] || r->trunc[s]) continue;
        r->trunc[s] = 1;
        r->fval[s] = c->discount > 0.0f ? (r->val[s] - r->rew[s]) / c->discount : 0.0f;
        for (int64_t j = i - 1; j >= oldest && r->prio[slot(r, e, j)] == 0.0f; j--) mark_ready(r, e, j);
    }
}

const float *replay_obs_at(const replay *r, int env, int64_t i) {
    MZ_CHECK(i >= r->count[env] - r->c.T && i >= 0 && i < r->count[env], "replay: step %lld of env %d is not stored",
             (long long)i, env);
    return r->obs + slot(r, env, i) * (size_t)r->c.N * r->c.O;
}

void replay_set_search(replay *r, int env, int64_t i, const float *policy, float root_value) {
    MZ_CHECK(i >= r->count[env] - r->c.T && i >= 0 && i < r->count[env], "replay: step %lld of env %d is not stored",
             (long long)i, env);
    size_t s = slot(r, env, i), NA = (size_t)r->c.N * r->c.A;
    memcpy(r->pol + s * NA, policy, NA * sizeof(float));
    r->val[s] = root_value;
}

void replay_priorities(const replay *r, float *out) {
    memcpy(out, r->prio, (size_t)r->c.E * r->c.T * sizeof(float));
}

double replay_priority_total(const replay *r) { return mz_sumtree_total(&r->tree); }

double replay_check_priorities(const replay *r) {
    int64_t nonzero = 0;
    double worst = mz_sumtree_check(&r->tree, &nonzero);
    size_t ET = (size_t)r->c.E * r->c.T;
    for (size_t s = 0; s < ET; s++) {
        double want = r->prio[s] > 0.0f ? pow(r->prio[s], r->c.alpha) : 0.0;
        double d = fabs(mz_sumtree_get(&r->tree, (int64_t)s) - want);
        if (d > worst) worst = d;
    }
    if (nonzero != r->ready) worst = INFINITY;
    return worst;
}
