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
int mz_mazero_train_async(const mz_config *cfg, mz_backend *be, const char *device_line);

/* The sync loop's settings from the config's env.*, mcts.*, muzero.* keys
 * (async mode starts from them too); 0, or 2 with a reason. */
int mz_mazero_sync_config(sync_config *c, const mz_config *cfg, char *err, size_t err_len);
/* The same plus the async.* keys (actors/async_train.c); 0, or 2 with a
 * reason. */
int mz_mazero_async_config(async_config *c, const mz_config *cfg, char *err, size_t err_len);
/* checkpoints/<name>.safetensors of s's model with its AdamW moments (0
 * or 1), and one evaluation with and without search into the run's
 * metrics, as sync mode writes them. */
int mz_mazero_save_checkpoint(mz_runlog *rl, sync_run *s, const char *name, const char *cfg_json, int64_t updates);
/* The learner's losses, norms and rates as metrics into m (room for 10);
 * returns how many. */
int mz_mazero_learner_metrics(mz_metric *m, const learner_stats *st);
void mz_mazero_evaluate(mz_runlog *rl, sync_run *s, double *returns, int n, int64_t updates, int64_t env_steps);

#endif
