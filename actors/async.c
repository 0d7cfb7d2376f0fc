/* Async-mode MuZero: see async.h. Threads and what they own:
 *   actor / reanalyse worker: everything in its `worker` (backend, model,
 *     environments, search, segment buffers), built inside the thread so
 *     its OpenMP setting (one thread) is its own; freed after the join;
 *   shared: the replay (its own mutex), flow control (its own mutex), the
 *     parameter slot (its own mutex), and in async_run only `error` and
 *     the return window under `mu`. Everything else in async_run belongs to
 *     the learner's (caller's) thread. */
#include "actors/async.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/param_slot.h"
#include "actors/play_search.h"
#include "src/check.h"
#include "src/safetensors.h"
#include "src/clock.h"

#define RET_WINDOW 100
#define LEARNER_WAIT_SECONDS 0.1

typedef struct async_worker {
    async_run *run;
    int id;        /* actor index, or reanalyse index */
    int reanalyse; /* 1: a reanalyse worker */
    int env0, E;   /* actor: its environments' first index in the replay and count; reanalyse: roots per search */
    pthread_t thread;
    int started;
    mz_backend *be;
    wm_model *model;
    play_search search;
    mz_vecenv *env;
    float *d_logits, *d_value, *d_obs;
    int64_t version; /* parameters in use */
    int64_t steps;   /* env steps played */
    /* a segment, step-major [L][E] (reanalyse: [R]) */
    float *obs, *pol, *val, *rew, *fval, *ret;
    int32_t *act;
    uint8_t *term, *trunc;
    int *renv;
    int64_t *rstep;
} async_worker;

struct async_run {
    mz_backend *be;
    async_config cfg;
    int N, O, A;
    sync_run *learner_side; /* model, learner and evaluation on `be` */
    shared_replay *sr;
    mz_flow *flow;
    mz_param_slot *slot;
    async_worker *workers; /* actors, then reanalyse workers */
    int n_workers;
    pthread_mutex_t mu;    /* error, failed, rets, n_rets */
    char error[512];
    int failed;
    double rets[RET_WINDOW];
    int64_t n_rets;
    /* the learner's thread */
    int64_t updates, version;
    double staleness, batch_wait_seconds;
    learner_stats last;
    int started, stopped;
    int64_t resumed_steps; /* env steps of the loaded state (0: a fresh run); shifts the workers' seeds */
};

#define LOCK(a) MZ_CHECK(pthread_mutex_lock(&(a)->mu) == 0, "async: mutex lock failed")
#define UNLOCK(a) MZ_CHECK(pthread_mutex_unlock(&(a)->mu) == 0, "async: mutex unlock failed")

/* The first failure stops the run; later ones are dropped. */
static void async_fail(async_run *a, const char *fmt, ...) MZ_PRINTF(2, 3);
static void async_fail(async_run *a, const char *fmt, ...) {
    LOCK(a);
    if (!a->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->error, sizeof a->error, fmt, ap);
        va_end(ap);
        a->failed = 1;
    }
    UNLOCK(a);
    mz_flow_stop(a->flow);
    shared_replay_stop(a->sr);
}

static int has_failed(async_run *a) {
    LOCK(a);
    int f = a->failed;
    UNLOCK(a);
    return f;
}

/* Distinct seeds per worker: actor i's environments and search, reanalyse
 * worker j's search, none equal to the learner side's. */
static uint64_t worker_seed(const async_run *a, int worker) {
    return a->cfg.base.seed + (uint64_t)(worker + 1) * 0x9E3779B97F4A7C15ull +
           (uint64_t)a->resumed_steps * 0xD1B54A32D192ED03ull; /* a resumed run plays new episodes */
}

/* Inside the worker's thread: its one-thread CPU backend, model, search,
 * environments and buffers. */
static int worker_build(async_worker *w, char *err, size_t err_len) {
    async_run *a = w->run;
    const sync_config *b = &a->cfg.base;
    int N = a->N, O = a->O, A = a->A, E = w->E;
    int L = w->reanalyse ? 1 : a->cfg.segment_length;
    uint64_t seed = worker_seed(a, w->reanalyse ? a->cfg.actors + w->id : w->id);
    w->be = mz_backend_cpu_create(1);
    wm_config mc = b->model;
    mc.N = N, mc.O = O, mc.A = A;
    mc.max_batch = 1; /* never trains */
    mc.max_trees = play_search_trees(b, E);
    mc.max_envs = E;
    mc.max_nodes = b->search.num_simulations + 1;
    mc.K = b->replay.K;
    mc.discount = b->replay.discount;
    w->model = wm_create(w->be, &mc, err, err_len);
    if (!w->model) return -1;
    mcts_params sp = b->search;
    mcts_sampled_params ssp = b->sampled_params;
    sp.seed = ssp.seed = seed;
    if (play_search_create(&w->search, w->be, b, &sp, &ssp, E, err, err_len)) return -1;
    if (!w->reanalyse) {
        mz_env_params ep = b->env;
        ep.seed = seed;
        w->env = mz_vecenv_create(w->be, &ep, E);
        mz_vecenv_reset(w->env);
        play_search_set_avail(&w->search, w->env->buf.avail); /* as sync self-play: legal actions only at the roots */
    }
    size_t LE = (size_t)L * E, NO = (size_t)N * O, NA = (size_t)N * A;
    w->d_logits = w->be->alloc(w->be, (size_t)E * NA * sizeof(float));
    w->d_value = w->be->alloc(w->be, (size_t)E * sizeof(float));
    w->d_obs = w->be->alloc(w->be, (size_t)E * NO * sizeof(float));
    w->obs = mz_calloc(LE * NO, sizeof(float));
    w->pol = mz_calloc(LE * NA, sizeof(float));
    w->act = mz_calloc(LE * N, sizeof(int32_t));
    w->val = mz_calloc(LE, sizeof(float));
    w->rew = mz_calloc(LE, sizeof(float));
    w->fval = mz_calloc(LE, sizeof(float));
    w->term = mz_calloc(LE, 1);
    w->trunc = mz_calloc(LE, 1);
    w->ret = mz_calloc((size_t)E, sizeof(float));
    w->renv = mz_calloc((size_t)E, sizeof(int));
    w->rstep = mz_calloc((size_t)E, sizeof(int64_t));
    return 0;
}

static void worker_free(async_worker *w) {
    if (w->be) {
        w->be->free(w->be, w->d_logits);
        w->be->free(w->be, w->d_value);
        w->be->free(w->be, w->d_obs);
    }
    void *all[] = {w->obs, w->pol, w->act, w->val, w->rew, w->fval, w->term, w->trunc, w->ret, w->renv, w->rstep};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    mz_vecenv_destroy(w->env);
    play_search_destroy(&w->search);
    wm_destroy(w->model);
    if (w->be) w->be->destroy(w->be);
}

/* The newest published parameters into the worker's model, when newer. */
static void worker_refresh(async_worker *w) {
    mz_param_slot *slot = w->run->slot;
    if (mz_param_slot_version(slot) == w->version) return;
    int64_t v;
    const float *p = mz_param_slot_acquire(slot, &v);
    if (p) {
        mz_params *mp = wm_params(w->model);
        w->be->copy_h2d(w->be, mp->values, p, (size_t)mp->total * sizeof(float));
        w->version = v;
    }
    mz_param_slot_release(slot, p);
}

/* One step of the actor's environments into row t of its segment. */
static void actor_step(async_worker *w, int t) {
    async_run *a = w->run;
    mz_backend *be = w->be;
    int E = w->E, N = a->N;
    size_t NO = (size_t)N * a->O, NA = (size_t)N * a->A, k = (size_t)t * E;
    mz_env_buffers *b = &w->env->buf;
    mcts_ma_model mm = wm_search_model(w->model);
    wm_search_set_obs(w->model, b->obs, E);
    play_search_run(&w->search, &mm);
    be->copy_d2h(be, w->obs + k * NO, b->obs, (size_t)E * NO * sizeof(float));
    be->copy_d2h(be, w->act + k * N, play_search_actions(&w->search), (size_t)E * N * sizeof(int32_t));
    be->copy_d2h(be, w->pol + k * NA, play_search_policy(&w->search), (size_t)E * NA * sizeof(float));
    be->copy_d2h(be, w->val + k, play_search_root_value(&w->search), (size_t)E * sizeof(float));
    be->copy_d2d(be, b->actions, play_search_actions(&w->search), (size_t)E * N * sizeof(int32_t));
    mz_vecenv_step(w->env);
    be->copy_d2h(be, w->rew + k, b->reward, (size_t)E * sizeof(float));
    be->copy_d2h(be, w->term + k, b->terminated, (size_t)E);
    be->copy_d2h(be, w->trunc + k, b->truncated, (size_t)E);
    int any_trunc = 0;
    for (int e = 0; e < E; e++) any_trunc |= w->trunc[k + e] && !w->term[k + e];
    if (any_trunc) { /* bootstrap of the truncated episodes: the root value of the final observation */
        wm_search_set_obs(w->model, b->final_obs, E);
        mm.root(mm.ctx, be, E, w->d_logits, w->d_value);
        be->copy_d2h(be, w->fval + k, w->d_value, (size_t)E * sizeof(float));
    } else {
        memset(w->fval + k, 0, (size_t)E * sizeof(float));
    }
    be->copy_d2h(be, w->ret, b->done_return, (size_t)E * sizeof(float));
    LOCK(a);
    for (int e = 0; e < E; e++)
        if (w->term[k + e] || w->trunc[k + e]) a->rets[a->n_rets++ % RET_WINDOW] = w->ret[e];
    UNLOCK(a);
    w->steps += E;
}

static void *actor_main(void *arg) {
    async_worker *w = arg;
    async_run *a = w->run;
    const async_config *c = &a->cfg;
    char err[512];
    if (worker_build(w, err, sizeof err)) {
        async_fail(a, "actor %d: %s", w->id, err);
        mz_flow_actor_finished(a->flow);
        return NULL;
    }
    for (;;) {
        int L = mz_flow_actor_reserve(a->flow, w->E, c->segment_length);
        if (L == 0) break;
        worker_refresh(w); /* between segments only: a segment is one version */
        int t = 0;
        for (; t < L; t++) {
            actor_step(w, t);
            if (c->fail_after_steps > 0 && w->id == 0 && w->steps >= c->fail_after_steps) break;
        }
        if (t < L) {
            async_fail(a, "actor %d: injected failure after %lld env steps (async.fail_actor_after_steps=%lld)", w->id,
                       (long long)w->steps, (long long)c->fail_after_steps);
            break;
        }
        shared_replay_push(a->sr, w->env0, w->E, L, w->obs, w->act, w->rew, w->term, w->trunc, w->pol, w->val,
                           w->fval, w->version);
        mz_flow_actor_pushed(a->flow, (int64_t)L * w->E);
    }
    mz_flow_actor_finished(a->flow);
    return NULL;
}

static void *reanalyse_main(void *arg) {
    async_worker *w = arg;
    async_run *a = w->run;
    char err[512];
    if (worker_build(w, err, sizeof err)) {
        async_fail(a, "reanalyse worker %d: %s", w->id, err);
        return NULL;
    }
    int R = w->E;
    size_t NO = (size_t)a->N * a->O, NA = (size_t)a->N * a->A;
    uint64_t seed = worker_seed(a, a->cfg.actors + w->id);
    for (uint64_t round = 0; mz_flow_reanalyse_reserve(a->flow, R); round++) {
        worker_refresh(w);
        int n = shared_replay_pick(a->sr, R, seed, round, w->obs, w->renv, w->rstep);
        if (n == 0) continue;
        for (int k = n; k < R; k++) memcpy(w->obs + k * NO, w->obs, NO * sizeof(float)); /* padding roots */
        w->be->copy_h2d(w->be, w->d_obs, w->obs, (size_t)R * NO * sizeof(float));
        mcts_ma_model mm = wm_search_model(w->model);
        wm_search_set_obs(w->model, w->d_obs, R);
        play_search_run(&w->search, &mm);
        w->be->copy_d2h(w->be, w->pol, play_search_policy(&w->search), (size_t)R * NA * sizeof(float));
        w->be->copy_d2h(w->be, w->val, play_search_root_value(&w->search), (size_t)R * sizeof(float));
        shared_replay_refresh(a->sr, n, w->renv, w->rstep, w->pol, w->val);
    }
    return NULL;
}

async_run *async_create(mz_backend *be, const async_config *cfg, char *err, size_t err_len) {
    const async_config *c = cfg;
    const sync_config *b = &c->base;
    if (c->actors < 1 || c->actors > b->E || c->segment_length < 1 || c->publish_interval < 1 || !(c->replay_ratio > 0.0) ||
        c->queue < 1 || c->reanalyse < 0 || c->reanalyse_batch < 1 || c->reanalyse_fraction < 0.0) {
        snprintf(err, err_len,
                 "async: %d actors for %d envs (1 to env.num_envs), segment length %d, publish interval %d, replay ratio "
                 "%g (must be > 0), queue %d, %d reanalyse workers of batch %d, fraction %g",
                 c->actors, b->E, c->segment_length, c->publish_interval, c->replay_ratio, c->queue, c->reanalyse,
                 c->reanalyse_batch, c->reanalyse_fraction);
        return NULL;
    }
    /* the warm-up must fit the replay, or actors and learner would wait on each other forever */
    int64_t fits = (int64_t)b->E * (b->replay.T - b->replay.K - b->replay.n_step);
    if (b->min_ready > fits) {
        snprintf(err, err_len,
                 "muzero.min_replay_steps=%lld exceeds the %lld steps the replay can hold ready (env.num_envs x "
                 "(muzero.replay_steps - muzero.unroll_steps - muzero.n_step))",
                 (long long)b->min_ready, (long long)fits);
        return NULL;
    }
    sync_config lc = *b; /* the learner side: model, learner, evaluation; its own rollout env is never stepped */
    lc.E = 1;
    sync_run *ls = sync_create(be, &lc, err, err_len);
    if (!ls) return NULL;
    async_run *a = mz_calloc(1, sizeof *a);
    a->be = be;
    a->cfg = *cfg;
    a->N = b->env.N, a->O = b->env.O, a->A = b->env.A;
    a->learner_side = ls;
    MZ_CHECK(pthread_mutex_init(&a->mu, NULL) == 0, "async: mutex init failed");
    shared_replay_config rc;
    rc.replay = b->replay;
    rc.replay.E = b->E, rc.replay.N = a->N, rc.replay.O = a->O, rc.replay.A = a->A, rc.replay.seed = b->seed;
    rc.batch = b->learner.batch;
    rc.queue = c->queue;
    rc.min_ready = b->min_ready > 0 ? b->min_ready : 1;
    a->sr = shared_replay_create(&rc);
    int per_actor = (b->E + c->actors - 1) / c->actors;
    mz_flow_config fc;
    fc.ratio = c->replay_ratio;
    fc.batch = b->learner.batch;
    /* the warm-up, every env's not-yet-ready tail, one segment per actor */
    fc.slack = rc.min_ready + (int64_t)b->E * (b->replay.K + b->replay.n_step + 1) +
               (int64_t)c->actors * c->segment_length * per_actor;
    fc.budget = b->env_steps;
    fc.actors = c->actors;
    fc.reanalyse_fraction = c->reanalyse_fraction;
    a->flow = mz_flow_create(&fc);
    a->slot = mz_param_slot_create(sync_params(ls)->total, c->actors + c->reanalyse);
    a->n_workers = c->actors + c->reanalyse;
    a->workers = mz_calloc((size_t)a->n_workers, sizeof(async_worker));
    int env0 = 0;
    for (int i = 0; i < a->n_workers; i++) {
        async_worker *w = &a->workers[i];
        w->run = a;
        w->reanalyse = i >= c->actors;
        w->id = w->reanalyse ? i - c->actors : i;
        if (w->reanalyse) {
            w->E = c->reanalyse_batch;
        } else {
            w->env0 = env0;
            w->E = b->E / c->actors + (i < b->E % c->actors);
            env0 += w->E;
        }
    }
    return a;
}

static void publish(async_run *a) {
    mz_params *p = sync_params(a->learner_side);
    float *buf = mz_param_slot_begin_write(a->slot);
    a->be->copy_d2h(a->be, buf, p->values, (size_t)p->total * sizeof(float));
    a->version = mz_param_slot_publish(a->slot);
}

void async_start(async_run *a) {
    MZ_CHECK(!a->started, "async: started twice");
    a->started = 1;
    if (a->resumed_steps > 0) shared_replay_end_episodes(a->sr); /* the actors' episodes in flight are lost */
    publish(a);
    shared_replay_start_sampler(a->sr);
    for (int i = 0; i < a->n_workers; i++) {
        async_worker *w = &a->workers[i];
        int rc = pthread_create(&w->thread, NULL, w->reanalyse ? reanalyse_main : actor_main, w);
        MZ_CHECK(rc == 0, "async: cannot start %s thread %d (%d)", w->reanalyse ? "reanalyse" : "actor", w->id, rc);
        w->started = 1;
    }
}

static void fill_result(async_run *a, async_result *out) {
    mz_flow_stats_get(a->flow, &out->flow);
    out->env_steps = out->flow.env_steps;
    out->updates = a->updates;
    out->last = a->last;
    out->staleness = a->staleness;
    out->version = a->version;
    out->batch_wait_seconds = a->batch_wait_seconds;
    LOCK(a);
    out->episodes = a->n_rets;
    int n = a->n_rets < RET_WINDOW ? (int)a->n_rets : RET_WINDOW;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += a->rets[i];
    UNLOCK(a);
    out->train_return = n ? sum / n : 0.0;
}

int async_step(async_run *a, async_result *out) {
    MZ_CHECK(a->started, "async: step before start");
    int permit = mz_flow_learner_wait(a->flow, LEARNER_WAIT_SECONDS);
    int rc = 1;
    if (has_failed(a)) {
        rc = -1;
    } else if (permit < 0) {
        rc = 0;
    } else if (permit > 0) {
        double t0 = mz_clock_seconds();
        const shared_batch *b = shared_replay_take(a->sr, LEARNER_WAIT_SECONDS);
        a->batch_wait_seconds += mz_clock_seconds() - t0;
        if (b) {
            const float *prio = learner_update_batch(sync_learner(a->learner_side), &b->batch, &a->last);
            double stale = 0.0;
            for (int i = 0; i < b->batch.B; i++) stale += (double)(a->version - b->version[i]);
            a->staleness = stale / b->batch.B;
            shared_replay_release(a->sr, b, prio);
            mz_flow_learner_done(a->flow);
            a->updates++;
            if (a->updates % a->cfg.publish_interval == 0) publish(a);
        } else if (has_failed(a)) {
            rc = -1;
        } else {
            mz_flow_stats fs;
            mz_flow_stats_get(a->flow, &fs);
            /* every actor done and the warm-up never reached: nothing to learn from */
            if (fs.actors_done >= a->cfg.actors && shared_replay_ready(a->sr) < a->cfg.base.min_ready) rc = 0;
        }
    }
    fill_result(a, out);
    return rc;
}

const char *async_error(async_run *a) {
    LOCK(a);
    const char *e = a->failed ? a->error : NULL;
    UNLOCK(a);
    return e;
}

void async_stop(async_run *a) {
    if (a->stopped) return;
    a->stopped = 1;
    mz_flow_stop(a->flow);
    shared_replay_stop(a->sr);
    for (int i = 0; i < a->n_workers; i++)
        if (a->workers[i].started) MZ_CHECK(pthread_join(a->workers[i].thread, NULL) == 0, "async: join failed");
}

void async_destroy(async_run *a) {
    if (!a) return;
    async_stop(a);
    for (int i = 0; i < a->n_workers; i++) worker_free(&a->workers[i]);
    free(a->workers);
    shared_replay_destroy(a->sr);
    mz_param_slot_destroy(a->slot);
    mz_flow_destroy(a->flow);
    sync_destroy(a->learner_side);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

double async_evaluate(async_run *a, int use_search, double *returns) {
    return sync_evaluate(a->learner_side, use_search, returns);
}

mz_params *async_params(async_run *a) { return sync_params(a->learner_side); }

sync_run *async_sync_side(async_run *a) { return a->learner_side; }

void async_replay_stats(async_run *a, shared_replay_stats *out) { shared_replay_stats_get(a->sr, out); }
shared_replay *async_replay(async_run *a) { return a->sr; }

void async_position(async_run *a, async_result *out) { fill_result(a, out); }

/* ---- resume ---- */

#define ASYNC_STATE_BLOCKS 40
#define KIND_WITH_REPLAY "async"
#define KIND_WITHOUT_REPLAY "async-without-replay"

/* the run's counters, copied out of their owners (flow, `mu`) */
typedef struct {
    int64_t env_steps, updates, reanalysed, version, episodes;
    double rets[RET_WINDOW];
} async_counters;

static int counter_blocks(async_run *a, async_counters *c, mz_state_block *list) {
    int n = 0, max = ASYNC_STATE_BLOCKS;
    mz_state_add(list, &n, max, "async.env_steps", &c->env_steps, sizeof c->env_steps, 0);
    mz_state_add(list, &n, max, "async.updates", &c->updates, sizeof c->updates, 0);
    mz_state_add(list, &n, max, "async.reanalysed", &c->reanalysed, sizeof c->reanalysed, 0);
    mz_state_add(list, &n, max, "async.param_version", &c->version, sizeof c->version, 0);
    mz_state_add(list, &n, max, "async.episodes", &c->episodes, sizeof c->episodes, 0);
    mz_state_add(list, &n, max, "async.returns", c->rets, sizeof c->rets, 0);
    learner_state_blocks(sync_learner(a->learner_side), list, &n, max);
    return n;
}

int async_save_state(async_run *a, const char *path, char *err, size_t err_len) {
    async_counters c;
    mz_flow_stats fs;
    mz_flow_stats_get(a->flow, &fs);
    c.env_steps = fs.env_steps, c.reanalysed = fs.reanalysed;
    c.updates = a->updates, c.version = a->version;
    LOCK(a);
    c.episodes = a->n_rets;
    memcpy(c.rets, a->rets, sizeof c.rets);
    UNLOCK(a);
    mz_state_block list[ASYNC_STATE_BLOCKS];
    int n = counter_blocks(a, &c, list);
    if (!a->cfg.save_replay) return mz_state_save(path, a->be, list, n, KIND_WITHOUT_REPLAY, err, err_len);
    return shared_replay_save_state(a->sr, path, a->be, list, n, ASYNC_STATE_BLOCKS, KIND_WITH_REPLAY, err, err_len);
}

int async_load_state(async_run *a, const char *path, char *err, size_t err_len) {
    MZ_CHECK(!a->started, "async: state loaded after start");
    mz_st_file f; /* which kind: with or without the replay */
    if (mz_st_read(path, &f, err, err_len) != 0) return -1;
    const char *k = mz_st_meta(&f, "kind");
    int with_replay = k && !strcmp(k, KIND_WITH_REPLAY), without = k && !strcmp(k, KIND_WITHOUT_REPLAY);
    if (!with_replay && !without)
        snprintf(err, err_len, "%s: not an async run's state file (kind '%s'); resume a sync run with mode=sync", path,
                 k ? k : "none");
    mz_st_free(&f);
    if (!with_replay && !without) return -1;
    async_counters c;
    mz_state_block list[ASYNC_STATE_BLOCKS];
    int n = counter_blocks(a, &c, list);
    int rc = with_replay ? shared_replay_load_state(a->sr, path, a->be, list, n, ASYNC_STATE_BLOCKS, KIND_WITH_REPLAY,
                                                    err, err_len)
                         : mz_state_load(path, a->be, list, n, KIND_WITHOUT_REPLAY, err, err_len);
    if (rc) return rc;
    mz_flow_resume(a->flow, c.env_steps, c.updates, c.reanalysed);
    mz_param_slot_start_at(a->slot, c.version);
    a->updates = c.updates, a->version = c.version;
    a->resumed_steps = c.env_steps;
    LOCK(a);
    a->n_rets = c.episodes;
    memcpy(a->rets, c.rets, sizeof c.rets);
    UNLOCK(a);
    return 0;
}
