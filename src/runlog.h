/* The outputs of a run, behind one interface every trainer calls:
 *
 *   mz_runlog *rl = mz_runlog_open(&cfg, err, sizeof err);
 *   mz_runlog_row(rl, step, env_steps, metrics, n);      // each log step
 *   mz_runlog_eval(rl, step, env_steps, returns, n);     // each evaluation
 *   mz_runlog_eval_absolute(rl, returns, n);             // the final one
 *   save checkpoints under mz_runlog_checkpoint_dir(rl)
 *   mz_runlog_close(rl, exit_code);
 *
 * Everything goes to disk first, in the run directory
 * <log.dir>/<algo>/<env>-<scenario>/<YYYYmmdd-HHMMSS>-<seed>/:
 *   config.json     the resolved config
 *   metrics.jsonl   one JSON object per row: step, env_steps, wall_time,
 *                   timestamp, then every metric
 *   metrics.json    evaluations in the marl-eval schema
 *   console.log     the progress lines and messages
 *   checkpoints/ plots/
 *   wandb/          the run's .wandb file when W&B logging is on
 * W&B uploads (wandb.mode=online) happen on a background thread and never
 * hold training up. The API key is never written into the run directory.
 *
 * In a data-parallel job (src/dist.h) every rank opens, logs and closes as
 * above and only rank 0 writes: open, row, eval, eval_absolute and
 * stop_requested are then collective (same calls on every rank); rows carry
 * env steps summed and metrics averaged over ranks (summed for names ending
 * in steps_per_second), evaluations every rank's episodes. */
#ifndef MZ_RUNLOG_H
#define MZ_RUNLOG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/check.h"
#include "src/config.h"

typedef struct {
    const char *name;
    double value;
} mz_metric;

typedef struct mz_runlog mz_runlog;

/* Creates the run directory and starts W&B logging if configured. NULL with
 * a one-line reason in err (a bad WANDB_* variable, a folder that cannot be
 * created); *exit_code is then 2 for bad settings, 1 for I/O failures. */
mz_runlog *mz_runlog_open(const mz_config *cfg, int *exit_code, char *err, size_t err_len);
/* The same in an existing run directory (resume): metrics.jsonl and
 * console.log are appended to, metrics.json keeps its evaluations,
 * config.json is rewritten; wall_time counts from the reopen. */
mz_runlog *mz_runlog_reopen(const mz_config *cfg, const char *dir, int *exit_code, char *err, size_t err_len);

/* One metrics row. Metrics whose name contains "loss" show on the progress
 * line; "train_episode_return" shows as the return, "mean_episode_return"
 * (an evaluation's) as eval. */
void mz_runlog_row(mz_runlog *rl, int64_t step, int64_t env_steps, const mz_metric *metrics, int n);

/* Returns of the evaluation episodes at env_steps: a marl-eval step entry,
 * and a row with their mean as mean_episode_return. */
void mz_runlog_eval(mz_runlog *rl, int64_t step, int64_t env_steps, const double *returns, int n);

/* The final evaluation (marl-eval's absolute_metrics). */
void mz_runlog_eval_absolute(mz_runlog *rl, const double *returns, int n);

/* Adds `key: [value]` to the last marl-eval entry written by either call
 * above (Mava's win_rate, in percent, where the env defines a win). */
void mz_runlog_eval_add(mz_runlog *rl, const char *key, double value);

/* A message for the console, console.log and the W&B console. */
void mz_runlog_print(mz_runlog *rl, const char *fmt, ...) MZ_PRINTF(2, 3);

const char *mz_runlog_dir(const mz_runlog *rl);
const char *mz_runlog_checkpoint_dir(const mz_runlog *rl);
/* The .wandb file, or NULL when W&B logging is off. */
const char *mz_runlog_wandb_file(const mz_runlog *rl);

/* True once Ctrl-C (SIGINT) or SIGTERM arrived while a run is open: the
 * trainer should stop and close with exit code 130 (or 143). A second
 * Ctrl-C kills the process as usual. */
bool mz_runlog_stop_requested(void);
/* The agreement step of mz_runlog_stop_requested, with the collective
 * passed in (tests): true when max_over_ranks(*sig) is a signal; *sig only
 * ever rises, so a signal that lands during the collective is kept. */
bool mz_stop_agree(volatile sig_atomic_t *sig, int64_t (*max_over_ranks)(int64_t));
int mz_runlog_stop_signal(void);

/* Finishes the run: last progress line, the W&B exit record and final
 * upload (bounded by wandb.finish_timeout_seconds), plots/. Frees rl.
 * Returns 0, or 1 when something could not be written. If the process
 * exits with a run still open (a crash through mz_fail), the run is closed
 * with exit code 1 on the way out. */
int mz_runlog_close(mz_runlog *rl, int exit_code);

#endif
