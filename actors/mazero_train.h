/* `mazero train` for algo=mazero (actors/mazero_train.c). */
#ifndef MZ_ACTORS_MAZERO_TRAIN_H
#define MZ_ACTORS_MAZERO_TRAIN_H

#include "actors/async.h"
#include "actors/sync.h"
#include "src/backend.h"
#include "src/config.h"
#include "src/runlog.h"

/* Trains cfg (mode=sync here, mode=async in actors/async_train.c) on be
 * and returns the exit status: 0, 1 (runtime), 2 (config), 128+signal when
 * stopped by SIGINT/SIGTERM (after saving the model). */
int mz_mazero_train(const mz_config *cfg, mz_backend *be, const char *device_line);
/* The same, resuming the run of `resume` (a run directory or a checkpoint,
 * see mz_mazero_run_paths; NULL starts afresh): the model, AdamW moments
 * and the state file beside the checkpoint are loaded, and the run goes on
 * in its own directory, appending to its metrics. */
int mz_mazero_train_from(const mz_config *cfg, mz_backend *be, const char *device_line, const char *resume);

/* The sync loop's settings from cfg's env.*, mcts.* and muzero.* keys; 0,
 * or 2 with a reason in err. */
int mz_mazero_sync_config(sync_config *c, const mz_config *cfg, char *err, size_t err_len);
/* The sync loop of cfg with its settings in *c; NULL after printing
 * "mazero WHO: reason" with the exit status in *rc. */
sync_run *mz_mazero_sync_create(const mz_config *cfg, mz_backend *be, const char *who, sync_config *c, int *rc);

/* A run directory (its final checkpoints/model.safetensors) or a
 * checkpoint file to the checkpoint, its state file (<name>.state.safetensors)
 * and the run directory, each of len bytes. 0, or 2 with a reason in err. */
int mz_mazero_run_paths(const char *arg, char *model, char *state, char *run_dir, size_t len, char *err,
                        size_t err_len);

/* `mazero eval` for algo=mazero: loads the checkpoint of `what` (see
 * mz_mazero_run_paths) into a model built from cfg, plays cfg's
 * muzero.eval_episodes greedy episodes with search and with the prior,
 * prints mean return with its 95% confidence interval (and win rate where
 * the env defines one), and writes one episode as a GIF when gif_path is
 * not NULL. Returns the exit status. */
int mz_mazero_eval(const mz_config *cfg, mz_backend *be, const char *what, const char *gif_path);

/* mode=async (actors/async_train.c); resume as mz_mazero_train_from. */
int mz_mazero_train_async(const mz_config *cfg, mz_backend *be, const char *device_line, const char *resume);

/* The same plus the async.* keys (actors/async_train.c); 0, or 2 with a
 * reason. */
int mz_mazero_async_config(async_config *c, const mz_config *cfg, char *err, size_t err_len);
/* A run's state (sync_save_state, async_save_state, or their loads) behind
 * one signature: 0, or -1 with a reason in err. */
typedef int (*mz_mazero_state_fn)(void *run, const char *path, char *err, size_t err_len);
/* checkpoints/<name>.safetensors of params with their AdamW moments and
 * <name>.state.safetensors by save_state(run, ...): 0, or 1 after saying
 * why in the run's log. */
int mz_mazero_save_checkpoint(mz_runlog *rl, mz_params *params, mz_mazero_state_fn save_state, void *run,
                              const char *name, const char *cfg_json, int64_t updates);
/* Loads the model (with AdamW moments) of `resume` (see
 * mz_mazero_run_paths) into params and its state file by load_state(run,
 * ...), and names the run directory; 0, or 2 after printing why. */
int mz_mazero_resume(const char *resume, mz_params *params, mz_mazero_state_fn load_state, void *run, char *run_dir,
                     size_t len);
/* The learner's losses, norms and rates as metrics into m (room for 10);
 * returns how many. */
int mz_mazero_learner_metrics(mz_metric *m, const learner_stats *st);
/* One evaluation with and without search into the run's metrics, as sync
 * mode writes them. */
void mz_mazero_evaluate(mz_runlog *rl, sync_run *s, double *returns, int n, int64_t updates, int64_t env_steps);

#endif
