/* Sync-mode self-play and training on one backend: E environments, batched
 * search for all of them through the world model, env step, store in the
 * replay; then U learner updates; repeated until the env-step budget is
 * spent. Evaluation plays episodes greedily with the search policy and with
 * the raw prior policy (MAZero reports both).
 *
 * `mazero train` (actors/mazero_train.c) drives it from a config and writes
 * the run outputs and checkpoints. The replay is on the backend's device
 * (learner/device_replay.h) unless host_replay is set. */
#ifndef MZ_ACTORS_SYNC_H
#define MZ_ACTORS_SYNC_H

#include <stdint.h>

#include "envs/vecenv.h"
#include "learner/awpo.h"
#include "learner/learner.h"
#include "mcts/multiagent.h"
#include "mcts/sampled.h"

typedef struct {
    mz_env_params env;
    int E;                  /* training environments */
    wm_config model;        /* N, O, A, K, max_* are filled from the rest */
    mcts_params search;
    mcts_ma_mode mode;      /* independent or joint (when not sampled) */
    int joint_limit;
    int partner_sample;     /* independent: partners sample their prior instead of its argmax */
    int sampled;            /* 1: MAZero's sampled joint search (mcts/sampled.h), mode ignored */
    mcts_sampled_params sampled_params;
    replay_config replay;   /* E, N, O, A, K, max_batch, seed filled in */
    int host_replay;        /* 1: the host replay (learner/replay.h), windows uploaded per batch; 0: the device
                             * replay (learner/device_replay.h), everything on the backend's device */
    learner_config learner;
    int target_bootstrap;   /* 1: value targets bootstrap from a target network (learner_use_target) */
    float target_ema;       /* its EMA rate, or 0 for a copy every target_interval updates */
    int64_t target_interval;
    int awpo;               /* sampled search: AWPO policy targets (learner/awpo.h) */
    float awpo_alpha, awpo_clip;
    int64_t env_steps;      /* budget: environment steps (per env, summed over envs) */
    int rollout_steps;      /* steps of every env per rollout phase */
    int updates;            /* U: learner updates per rollout phase */
    int64_t min_ready;      /* updates start once this many steps are sampleable */
    int reanalyse;          /* R: stored steps searched again before each phase's updates (device replay; 0: none) */
    int eval_envs;          /* episodes per evaluation (one per env) */
    int eval_sample;        /* evaluation samples (the search's own noisy choice, or the prior) instead of argmax */
    uint64_t seed;
} sync_config;

/* Wall seconds in each part of the loop since sync_create, evaluation
 * apart: env steps; the search's own work; the world model's forward calls
 * (the search's root and recurrent calls and the truncation bootstraps);
 * replay (host copies of a step, adding, sampling and uploading windows);
 * the training forward; backward with the AdamW step; reanalyse (its
 * picks, searches and write-backs, model calls included); and total, whose rest
 * is bookkeeping. On CUDA each part includes the device time its copies wait
 * for. */
typedef struct {
    double env, search, model_forward, replay, train_forward, train_backward, reanalyse, total;
} sync_timers;

typedef struct {
    int64_t env_steps, updates, episodes, reanalysed;
    double train_return;    /* mean return of the last 100 finished training episodes */
    double eval_search;     /* mean return, greedy on the search policy */
    double eval_prior;      /* mean return, greedy on the prior policy (no search) */
    learner_stats last;
    awpo_stats awpo;        /* of the last rollout step's roots (awpo on) */
    sync_timers time;
} sync_result;

typedef struct sync_run sync_run;

/* NULL and a reason when the pieces cannot be built. */
sync_run *sync_create(mz_backend *be, const sync_config *cfg, char *err, size_t err_len);
void sync_destroy(sync_run *s);
/* One rollout phase and its updates; false once the budget is spent. */
int sync_iterate(sync_run *s, sync_result *out);
/* Greedy evaluation episodes (one per eval env): with search (use_search 1)
 * or on the prior; the mean return, and each return in returns
 * [eval_envs] when not NULL. */
double sync_evaluate(sync_run *s, int use_search, double *returns);
/* The same, also with each episode's success flag in won [eval_envs] (the
 * env's done_won; may be NULL) and, when frame is not NULL, frame(ctx,
 * state) with evaluation env 0's state (host bytes) before each of its
 * steps, for rendering one episode. */
typedef void (*sync_frame_fn)(void *ctx, const mz_env_params *p, const void *state);
double sync_evaluate_episodes(sync_run *s, int use_search, double *returns, double *won, sync_frame_fn frame,
                              void *ctx);
/* The counters and training return as sync_iterate reports them (after a
 * resume: where the saved run was). */
void sync_position(const sync_run *s, sync_result *out);
/* The world model's parameter block (values, grads, AdamW moments). */
mz_params *sync_params(sync_run *s);
/* Its learner (async mode trains it on batches from the shared replay). */
learner *sync_learner(sync_run *s);

/* Resume: everything besides the model's parameter block (which goes to
 * a checkpoint with its AdamW moments): replay contents, environment
 * states, step, update and RNG counters, the return window. A run created
 * from the same config, given the same checkpoint and this state, goes on
 * bitwise as the saved one would have. 0, or -1 with a reason in err. */
int sync_save_state(sync_run *s, const char *path, char *err, size_t err_len);
int sync_load_state(sync_run *s, const char *path, char *err, size_t err_len);

#endif
