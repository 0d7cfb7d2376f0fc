/* Sync-mode self-play: see sync.h. Buffers are allocated at create. With
 * the device replay a rollout step stores the env's and the search's device
 * arrays as they are; only the episode-end flags and returns (E each) come
 * to the host, for the return window. The host replay (host_replay) takes
 * host copies of observations, actions, policies and values instead. */
#include "actors/sync.h"
#include "actors/play_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/dist.h"
#include "src/clock.h"
#include "src/nn/nn.h"

#define RET_WINDOW 100

/* The world model's search callbacks with their time added to *seconds. */
typedef struct {
    mcts_ma_model inner;
    double *seconds;
} timed_model;

struct sync_run {
    mz_backend *be;
    sync_config cfg;
    int N, O, A;
    mz_vecenv *env, *eval_env;
    wm_model *model;
    play_search search, eval_search; /* self-play's E roots, the evaluation's */
    play_search rean_search;         /* reanalyse: R roots, as the training search */
    replay *rb;            /* host_replay, or */
    device_replay *drb;    /* the device replay */
    learner *learner;
    float *d_logits, *d_value; /* [maxE*N*A], [maxE] */
    float *d_obs_prev;     /* device replay: [E*N*O] observations before the step */
    uint8_t *d_avail_prev; /* reanalyse: [E*N*A] their legal actions */
    float *d_rean_obs;     /* reanalyse: [R*N*O] picked observations */
    uint8_t *d_rean_avail; /* [R*N*A] their legal actions */
    float *d_pol;          /* awpo: [E*N*A] targets */
    /* host staging */
    float *h_obs, *h_pol, *h_val, *h_rew, *h_fval, *h_ret;
    int32_t *h_act;
    awpo_stats awpo;
    awpo_device *awpo_dev;  /* awpo: targets into d_pol on the device, with either replay */
    uint8_t *h_term, *h_trunc, *h_done_any, *h_won;
    double rets[RET_WINDOW];
    int64_t n_rets;
    int64_t env_steps, updates;
    sync_timers time;
    timed_model timed;
};

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    MZ_CHECK(p, "sync: out of host memory");
    return p;
}

sync_run *sync_create(mz_backend *be, const sync_config *cfg, char *err, size_t err_len) {
    const sync_config *c = cfg;
    if (c->E < 1 || c->eval_envs < 1 || c->rollout_steps < 1 || c->updates < 0) {
        snprintf(err, err_len, "sync: envs %d, eval envs %d, rollout steps %d, updates %d", c->E, c->eval_envs,
                 c->rollout_steps, c->updates);
        return NULL;
    }
    if (c->reanalyse < 0 || (c->reanalyse > 0 && (c->host_replay || c->awpo))) {
        snprintf(err, err_len,
                 "sync: reanalyse of %d steps per rollout phase needs the device replay and the search's own policy "
                 "targets (host replay %d, AWPO %d)",
                 c->reanalyse, c->host_replay, c->awpo);
        return NULL;
    }
    sync_run *s = xcalloc(1, sizeof *s);
    s->be = be;
    s->cfg = *cfg;
    s->N = c->env.N, s->O = c->env.O, s->A = c->env.A;
    int maxE = c->E > c->eval_envs ? c->E : c->eval_envs;
    if (c->reanalyse > maxE) maxE = c->reanalyse;
    wm_config mc = c->model;
    mc.N = s->N, mc.O = s->O, mc.A = s->A;
    mc.max_batch = c->learner.batch;
    mc.max_trees = play_search_trees(c, maxE);
    mc.max_envs = maxE;
    mc.max_nodes = c->search.num_simulations + 1;
    mc.K = c->replay.K;
    mc.discount = c->replay.discount;
    s->model = wm_create(be, &mc, err, err_len);
    if (!s->model) {
        free(s);
        return NULL;
    }
    /* A greedy evaluation plays the search's own choice with its root noise
     * off: in joint and sampled search that is the joint action the planner
     * ranks first, which the per-agent argmaxes of its marginals need not
     * be (climbing: the marginals' argmax can pick a -30 cell). */
    mcts_params eval_params = c->search;
    mcts_sampled_params eval_sampled_params = c->sampled_params;
    if (!c->eval_sample) {
        mcts_params_noise_free(&eval_params);
        mcts_sampled_params_noise_free(&eval_sampled_params);
    }
    int built = play_search_create(&s->search, be, c, &c->search, &c->sampled_params, c->E, err, err_len) == 0 &&
                play_search_create(&s->eval_search, be, c, &eval_params, &eval_sampled_params, c->eval_envs, err,
                                   err_len) == 0 &&
                (!c->reanalyse || play_search_create(&s->rean_search, be, c, &c->search, &c->sampled_params,
                                                     c->reanalyse, err, err_len) == 0);
    if (!built) {
        play_search_destroy(&s->search);
        play_search_destroy(&s->eval_search);
        play_search_destroy(&s->rean_search);
        wm_destroy(s->model);
        free(s);
        return NULL;
    }
    mz_env_params ep = c->env;
    s->env = mz_vecenv_create(be, &ep, c->E);
    ep.seed = c->env.seed + 0x9e3779b9u;
    s->eval_env = mz_vecenv_create(be, &ep, c->eval_envs);
    /* the searches read the envs' legal-action masks at every root */
    play_search_set_avail(&s->search, s->env->buf.avail);
    play_search_set_avail(&s->eval_search, s->eval_env->buf.avail);
    replay_config rc = c->replay;
    rc.E = c->E, rc.N = s->N, rc.O = s->O, rc.A = s->A, rc.max_batch = c->learner.batch, rc.seed = c->seed;
    if (c->host_replay) {
        s->rb = replay_create(&rc);
        s->learner = learner_create(s->model, s->rb, &c->learner);
    } else {
        s->drb = device_replay_create(be, &rc);
        s->learner = learner_create_device(s->model, s->drb, &c->learner);
    }
    if (c->target_bootstrap) learner_use_target(s->learner, c->target_ema, c->target_interval);
    size_t NO = (size_t)s->N * s->O, NA = (size_t)s->N * s->A;
    s->d_logits = be->alloc(be, (size_t)maxE * NA * sizeof(float));
    s->d_value = be->alloc(be, (size_t)maxE * sizeof(float));
    if (s->drb) s->d_obs_prev = be->alloc(be, (size_t)c->E * NO * sizeof(float));
    if (c->awpo) s->d_pol = be->alloc(be, (size_t)c->E * NA * sizeof(float));
    if (c->reanalyse) { /* the searched steps' masks are stored with them, and restrict the search's roots */
        device_replay_keep_reanalyse(s->drb, c->reanalyse);
        s->d_avail_prev = be->alloc(be, (size_t)c->E * NA);
        s->d_rean_obs = be->alloc(be, (size_t)c->reanalyse * NO * sizeof(float));
        s->d_rean_avail = be->alloc(be, (size_t)c->reanalyse * NA);
        play_search_set_avail(&s->rean_search, s->d_rean_avail);
    }
    if (s->rb) { /* the host replay's staging; the device replay reads device arrays */
        s->h_obs = xcalloc((size_t)c->E * NO, sizeof(float));
        s->h_pol = xcalloc((size_t)c->E * NA, sizeof(float));
        s->h_val = xcalloc((size_t)c->E, sizeof(float));
        s->h_rew = xcalloc((size_t)c->E, sizeof(float));
        s->h_fval = xcalloc((size_t)c->E, sizeof(float));
        s->h_act = xcalloc((size_t)c->E * s->N, sizeof(int32_t));
    }
    s->h_ret = xcalloc((size_t)maxE, sizeof(float));
    s->h_term = xcalloc((size_t)maxE, 1);
    s->h_trunc = xcalloc((size_t)maxE, 1);
    s->h_done_any = xcalloc((size_t)maxE, 1);
    s->h_won = xcalloc((size_t)maxE, 1);
    if (c->awpo) {
        MZ_CHECK(c->sampled, "sync: AWPO needs the sampled search's advantages");
        s->awpo_dev = awpo_device_create(be, c->E, c->sampled_params.K);
    }
    mz_vecenv_reset(s->env);
    return s;
}

void sync_destroy(sync_run *s) {
    if (!s) return;
    s->be->free(s->be, s->d_logits);
    s->be->free(s->be, s->d_value);
    s->be->free(s->be, s->d_obs_prev);
    s->be->free(s->be, s->d_pol);
    s->be->free(s->be, s->d_avail_prev);
    s->be->free(s->be, s->d_rean_obs);
    s->be->free(s->be, s->d_rean_avail);
    void *all[] = {s->h_obs, s->h_pol, s->h_val, s->h_rew, s->h_fval, s->h_ret, s->h_act, s->h_term,
                   s->h_trunc, s->h_done_any, s->h_won};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    learner_destroy(s->learner);
    awpo_device_destroy(s->awpo_dev);
    replay_destroy(s->rb);
    device_replay_destroy(s->drb);
    mz_vecenv_destroy(s->env);
    mz_vecenv_destroy(s->eval_env);
    play_search_destroy(&s->search);
    play_search_destroy(&s->eval_search);
    play_search_destroy(&s->rean_search);
    wm_destroy(s->model);
    free(s);
}

mz_params *sync_params(sync_run *s) { return wm_params(s->model); }
learner *sync_learner(sync_run *s) { return s->learner; }

static void timed_root(void *ctx, mz_backend *be, int B, float *logits, float *value) {
    timed_model *t = ctx;
    double t0 = mz_clock_seconds();
    t->inner.root(t->inner.ctx, be, B, logits, value);
    *t->seconds += mz_clock_seconds() - t0;
}
static void timed_recurrent(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                            const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    timed_model *t = ctx;
    double t0 = mz_clock_seconds();
    t->inner.recurrent(t->inner.ctx, be, B, parent, actions, new_node, reward, discount, logits, value);
    *t->seconds += mz_clock_seconds() - t0;
}

/* The search of the training (eval 0) or evaluation envs: one batched
 * search for all of them; results stay on the device. Training searches
 * are timed: the model's calls apart from the rest. */
static void search_run(sync_run *s, int eval, const mcts_ma_model *mm) {
    mcts_ma_model timed = {&s->timed, timed_root, timed_recurrent};
    double t0 = mz_clock_seconds(), model0 = s->time.model_forward;
    if (!eval) {
        s->timed.inner = *mm;
        s->timed.seconds = &s->time.model_forward;
        mm = &timed;
    }
    play_search_run(eval ? &s->eval_search : &s->search, mm);
    if (!eval) s->be->sync(s->be); /* its kernels are the search's time, not the next part's */
    if (!eval) s->time.search += mz_clock_seconds() - t0 - (s->time.model_forward - model0);
}

/* value of E device observations into s->d_value (the root call's value),
 * and s->h_fval for the host replay */
static void values_of(sync_run *s, const float *obs, int E) {
    double t0 = mz_clock_seconds();
    mcts_ma_model mm = wm_search_model(s->model);
    wm_search_set_obs(s->model, obs, E);
    mm.root(mm.ctx, s->be, E, s->d_logits, s->d_value);
    if (s->rb) s->be->copy_d2h(s->be, s->h_fval, s->d_value, (size_t)E * sizeof(float));
    s->time.model_forward += mz_clock_seconds() - t0;
}

static void rollout_step(sync_run *s) {
    mz_backend *be = s->be;
    int E = s->cfg.E;
    size_t NO = (size_t)s->N * s->O, NA = (size_t)s->N * s->A;
    mz_env_buffers *b = &s->env->buf;
    mcts_ma_model mm = wm_search_model(s->model);
    wm_search_set_obs(s->model, b->obs, E);
    search_run(s, 0, &mm);
    double t0 = mz_clock_seconds();
    const float *policy = play_search_policy(&s->search);
    if (s->cfg.awpo) { /* AWPO's targets replace the search's, on the device with either replay */
        awpo_policy_targets_device(s->awpo_dev, s->d_pol, mcts_sampled_root_joint(s->search.sampled),
                                   mcts_sampled_root_weights(s->search.sampled),
                                   mcts_sampled_root_advantage(s->search.sampled), s->N,
                                   s->A, s->cfg.awpo_alpha, s->cfg.awpo_clip, &s->awpo);
        policy = s->d_pol;
    }
    if (s->drb) { /* the observation the step replaces stays on the device */
        be->copy_d2d(be, s->d_obs_prev, b->obs, E * NO * sizeof(float));
        if (s->d_avail_prev) be->copy_d2d(be, s->d_avail_prev, b->avail, E * NA);
    } else {
        be->copy_d2h(be, s->h_obs, b->obs, (size_t)E * NO * sizeof(float));
        be->copy_d2h(be, s->h_act, play_search_actions(&s->search), (size_t)E * s->N * sizeof(int32_t));
        be->copy_d2h(be, s->h_pol, policy, (size_t)E * NA * sizeof(float));
        be->copy_d2h(be, s->h_val, play_search_root_value(&s->search), (size_t)E * sizeof(float));
    }
    be->copy_d2d(be, b->actions, play_search_actions(&s->search), (size_t)E * s->N * sizeof(int32_t));
    be->sync(be); /* with the device replay nothing above waits for the device: time each part's kernels in it */
    double t1 = mz_clock_seconds();
    mz_vecenv_step(s->env);
    be->sync(be);
    double t2 = mz_clock_seconds();
    s->time.env += t2 - t1;
    s->time.replay += t1 - t0;
    be->copy_d2h(be, s->h_term, b->terminated, (size_t)E);
    be->copy_d2h(be, s->h_trunc, b->truncated, (size_t)E);
    int any_trunc = 0;
    for (int e = 0; e < E; e++) any_trunc |= s->h_trunc[e] && !s->h_term[e];
    double t3 = mz_clock_seconds();
    if (any_trunc) values_of(s, b->final_obs, E); /* bootstrap of the truncated episodes */
    double t4 = mz_clock_seconds();
    if (s->drb) {
        device_replay_add(s->drb, s->d_obs_prev, s->d_avail_prev, play_search_actions(&s->search), b->reward,
                          b->terminated, b->truncated, policy, play_search_root_value(&s->search), s->d_value);
    } else {
        be->copy_d2h(be, s->h_rew, b->reward, (size_t)E * sizeof(float));
        replay_add(s->rb, s->h_obs, s->h_act, s->h_rew, s->h_term, s->h_trunc, s->h_pol, s->h_val, s->h_fval);
    }
    be->copy_d2h(be, s->h_ret, b->done_return, (size_t)E * sizeof(float));
    for (int e = 0; e < E; e++)
        if (s->h_term[e] || s->h_trunc[e]) s->rets[s->n_rets++ % RET_WINDOW] = s->h_ret[e];
    s->env_steps += E;
    s->time.replay += (t3 - t2) + (mz_clock_seconds() - t4);
}

/* Reanalyse: R stored steps searched again with the newest parameters (the
 * training search's settings, noise included, as when they were played);
 * their policies and root values replace the stored ones. The draws are
 * counted by env steps, so a resumed run picks what the saved one would. */
static void reanalyse(sync_run *s) {
    int R = s->cfg.reanalyse;
    double t0 = mz_clock_seconds();
    device_replay_pick(s->drb, R, (uint64_t)s->env_steps, s->d_rean_obs, s->d_rean_avail);
    mcts_ma_model mm = wm_search_model(s->model);
    wm_search_set_obs(s->model, s->d_rean_obs, R);
    play_search_run(&s->rean_search, &mm);
    device_replay_refresh(s->drb, R, play_search_policy(&s->rean_search), play_search_root_value(&s->rean_search));
    s->be->sync(s->be);
    s->time.reanalyse += mz_clock_seconds() - t0;
}

int sync_iterate(sync_run *s, sync_result *out) {
    const sync_config *c = &s->cfg;
    if (s->env_steps >= c->env_steps) return 0;
    double t0 = mz_clock_seconds();
    for (int t = 0; t < c->rollout_steps && s->env_steps < c->env_steps; t++) rollout_step(s);
    /* data-parallel ranks start updating together: each update all-reduces */
    int64_t ready = s->drb ? device_replay_ready(s->drb) : replay_ready(s->rb);
    if (mz_dist_min_i64(ready) >= c->min_ready) {
        if (c->reanalyse && c->updates) reanalyse(s); /* new targets only for updates to read */
        for (int u = 0; u < c->updates; u++) {
            learner_update(s->learner, &out->last);
            s->updates++;
            s->time.replay += out->last.seconds_replay;
            s->time.train_forward += out->last.seconds_forward;
            s->time.train_backward += out->last.seconds_backward;
        }
    }
    s->time.total += mz_clock_seconds() - t0;
    sync_position(s, out);
    return 1;
}

void sync_position(const sync_run *s, sync_result *out) {
    out->time = s->time;
    out->env_steps = s->env_steps;
    out->updates = s->updates;
    out->episodes = s->n_rets;
    /* one pick of R steps before each phase's updates */
    out->reanalysed = s->cfg.updates ? s->updates / s->cfg.updates * s->cfg.reanalyse : 0;
    int n = s->n_rets < RET_WINDOW ? (int)s->n_rets : RET_WINDOW;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += s->rets[i];
    out->train_return = n ? sum / n : 0.0;
    out->awpo = s->awpo;
}

double sync_evaluate(sync_run *s, int use_search, double *returns) {
    return sync_evaluate_episodes(s, use_search, returns, NULL, NULL, NULL);
}

double sync_evaluate_episodes(sync_run *s, int use_search, double *returns, double *won, sync_frame_fn frame,
                              void *ctx) {
    mz_backend *be = s->be;
    int E = s->cfg.eval_envs, A = s->A, N = s->N;
    mz_env_buffers *b = &s->eval_env->buf;
    mz_vecenv_reset(s->eval_env);
    memset(s->h_done_any, 0, (size_t)E);
    double sum = 0.0;
    int finished = 0;
    void *state = frame ? xcalloc(1, (size_t)s->eval_env->params.state_bytes) : NULL;
    for (int guard = 0; finished < E; guard++) {
        MZ_CHECK(guard < 100000, "sync: evaluation episodes did not end in 100000 steps");
        if (frame && !s->h_done_any[0]) {
            mz_vecenv_get_state(s->eval_env, 0, state);
            frame(ctx, &s->eval_env->params, state);
        }
        mcts_ma_model mm = wm_search_model(s->model);
        wm_search_set_obs(s->model, b->obs, E);
        if (use_search) { /* the search's own choice: noisy as in self-play, or noise-free (see sync_create) */
            search_run(s, 1, &mm);
            be->copy_d2d(be, b->actions, play_search_actions(&s->eval_search), (size_t)E * N * sizeof(int32_t));
        } else {
            /* the prior: argmax, or a Gumbel-max sample, over the legal
             * actions, on the device (src/nn's masked sampler, PPO's too): an illegal argmax of
             * the prior is a no-op forever in LBF/RWARE */
            mm.root(mm.ctx, be, E, s->d_logits, s->d_value);
            mz_masked_sample(be, b->actions, NULL, s->d_logits, b->avail, (int64_t)E * N, A, !s->cfg.eval_sample,
                             s->cfg.seed, 0xe7a1u,
                             ((uint64_t)s->env_steps * 100000u + (uint64_t)guard) * (uint64_t)(E * N));
        }
        mz_vecenv_step(s->eval_env);
        be->copy_d2h(be, s->h_term, b->terminated, (size_t)E);
        be->copy_d2h(be, s->h_trunc, b->truncated, (size_t)E);
        be->copy_d2h(be, s->h_ret, b->done_return, (size_t)E * sizeof(float));
        if (won) be->copy_d2h(be, s->h_won, b->done_won, (size_t)E);
        for (int e = 0; e < E; e++)
            if ((s->h_term[e] || s->h_trunc[e]) && !s->h_done_any[e]) {
                s->h_done_any[e] = 1;
                sum += s->h_ret[e];
                if (returns) returns[e] = s->h_ret[e];
                if (won) won[e] = s->h_won[e] ? 1.0 : 0.0;
                finished++;
            }
    }
    free(state);
    mz_vecenv_reset(s->eval_env);
    return sum / E;
}

#define SYNC_STATE_BLOCKS 64

static int state_blocks(sync_run *s, mz_state_block *list) {
    int n = 0, max = SYNC_STATE_BLOCKS;
    mz_state_add(list, &n, max, "sync.env_steps", &s->env_steps, sizeof s->env_steps, 0);
    mz_state_add(list, &n, max, "sync.updates", &s->updates, sizeof s->updates, 0);
    mz_state_add(list, &n, max, "sync.returns", s->rets, sizeof s->rets, 0);
    mz_state_add(list, &n, max, "sync.episodes", &s->n_rets, sizeof s->n_rets, 0);
    learner_state_blocks(s->learner, list, &n, max);
    if (s->drb) device_replay_state_blocks(s->drb, list, &n, max);
    else replay_state_blocks(s->rb, list, &n, max);
    mz_vecenv_state_blocks(s->env, "env", list, &n, max);
    play_search_state_blocks(&s->search, "search", list, &n, max);
    play_search_state_blocks(&s->eval_search, "eval_search", list, &n, max);
    play_search_state_blocks(&s->rean_search, "reanalyse_search", list, &n, max);
    return n;
}

int sync_save_state(sync_run *s, const char *path, char *err, size_t err_len) {
    mz_state_block list[SYNC_STATE_BLOCKS];
    int n = state_blocks(s, list);
    return mz_state_save(path, s->be, list, n, "sync", err, err_len);
}

int sync_load_state(sync_run *s, const char *path, char *err, size_t err_len) {
    mz_state_block list[SYNC_STATE_BLOCKS];
    int n = state_blocks(s, list);
    int rc = mz_state_load(path, s->be, list, n, "sync", err, err_len);
    if (rc == 0 && s->drb) device_replay_state_loaded(s->drb);
    if (rc == 0 && s->rb) replay_state_loaded(s->rb);
    return rc;
}
