/* Async-mode MuZero: a pool of CPU actor threads feeding one learner
 * through a shared prioritised replay, with optional reanalyse threads.
 *
 *   actor a (pthread, own CPU backend on one thread, own environments, own
 *   RNG streams, own CPU copy of the parameters): plays segments of
 *   segment_length steps of its environments with the same search as sync
 *   mode, pushes each segment tagged with its parameter version, and takes
 *   the newest parameters between segments (actors/param_slot.h);
 *   sampler (pthread, learner/shared_replay.h): assembles batches ahead;
 *   reanalyse r (pthread): re-runs the search on stored steps with the
 *   newest parameters and rewrites their policy and root-value targets;
 *   learner (the caller's thread, any backend): takes a prepared batch,
 *   updates, publishes every publish_interval updates;
 *   flow control (actors/flow.h) holds the replay ratio both ways.
 *
 * The learner-side model, its learner and greedy evaluation are a sync
 * run's (actors/sync.h), so both modes train and evaluate the same way. */
#ifndef MZ_ACTORS_ASYNC_H
#define MZ_ACTORS_ASYNC_H

#include <stdint.h>

#include "actors/flow.h"
#include "actors/sync.h"
#include "learner/shared_replay.h"

typedef struct {
    sync_config base;          /* env (E split between actors), model, search, replay, learner, budget, eval */
    int actors;
    int segment_length;
    int publish_interval;
    double replay_ratio;       /* > 0: windows sampled per env step */
    int queue;                 /* batches prepared ahead */
    int reanalyse;             /* threads */
    double reanalyse_fraction; /* refreshed targets per env step */
    int reanalyse_batch;
    int64_t fail_after_steps;  /* test hook: actor 0 fails after this many env steps; 0 never */
    int save_replay;           /* 1: the state file holds the replay (a resumed run needs no new warm-up) */
} async_config;

typedef struct {
    int64_t env_steps, updates, episodes;
    double train_return;   /* mean of the last 100 finished training episodes */
    learner_stats last;
    double staleness;      /* learner version minus the version that played each window, mean over the last batch */
    int64_t version;       /* parameters published so far */
    double batch_wait_seconds; /* the learner waiting for a prepared batch (flow waits are in flow) */
    mz_flow_stats flow;
} async_result;

typedef struct async_run async_run;

/* Builds everything, starts no thread. NULL and a reason on bad config. */
async_run *async_create(mz_backend *be, const async_config *cfg, char *err, size_t err_len);
/* Publishes version 1 and starts the actor, reanalyse and sampler threads. */
void async_start(async_run *a);
/* Some learner work (at most one update, or a wait of at most ~0.1 s):
 * 1 while the run goes on, 0 once the budget is spent and the ratio met,
 * -1 when a worker failed (async_error says why). */
int async_step(async_run *a, async_result *out);
const char *async_error(async_run *a);
/* Stops every thread (actors finish and push their current segment) and
 * joins them; idempotent. */
void async_stop(async_run *a);
void async_destroy(async_run *a);

double async_evaluate(async_run *a, int use_search, double *returns);
mz_params *async_params(async_run *a);
/* The learner side (model, learner, evaluation), for checkpoints and evaluation. */
sync_run *async_sync_side(async_run *a);
void async_replay_stats(async_run *a, shared_replay_stats *out);
/* Its shared replay (tests read stored steps from it after async_stop). */
shared_replay *async_replay(async_run *a);
/* The counters and training return as async_step reports them (after a
 * resume: where the saved run was). */
void async_position(async_run *a, async_result *out);

/* Resume, beside a checkpoint of async_params (values and AdamW moments):
 * the learner's update counter (and target network), the env-step, update,
 * episode and reanalyse counters, the return window, the parameter version
 * and, with save_replay, the replay with its priorities and bookkeeping.
 * Save from the learner's thread at any time (the replay is copied under
 * its lock); load before async_start, which then publishes the loaded
 * parameters as the next version and lets the actors start fresh episodes
 * (their environments are not saved: async runs are not reproducible
 * anyway), ending each stored episode in flight (replay_end_episodes). A
 * state without the replay resumes with an empty one (a new warm-up).
 * 0, or -1 with a reason naming the file in err. */
int async_save_state(async_run *a, const char *path, char *err, size_t err_len);
int async_load_state(async_run *a, const char *path, char *err, size_t err_len);

#endif
