/* The online W&B client: a background thread that creates the run
 * (UpsertBucket) and streams history, summary and console lines through
 * file_stream, in batches, with heartbeats, retries and the final
 * complete/exitcode request. The training thread only appends to a bounded
 * queue: it never waits for the network. Rows that do not fit, or that a
 * dead server never takes, are still on disk (metrics.jsonl, the .wandb
 * file): the caller writes them there first. */
#ifndef MZ_WANDB_UPLOADER_H
#define MZ_WANDB_UPLOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "src/wandb_settings.h"

typedef struct mz_wandb_uploader mz_wandb_uploader;

typedef struct {
    bool run_created; /* UpsertBucket succeeded */
    bool completed;   /* the final complete/exitcode request succeeded */
    int64_t rows_sent, rows_not_sent;
    char url[1024];     /* the run's page, once known */
    char failure[512];  /* why uploading stopped, if it did */
} mz_wandb_upload_report;

/* Starts the thread. `config_json` is the run config as the JSON text of
 * {"key": {"value": v}, ...}; `resume_history` is the number of history
 * lines the server already holds (0 for a new run). Never fails for network
 * reasons: those are reported by the thread as warnings on stderr. */
mz_wandb_uploader *mz_wandb_uploader_start(const mz_wandb_settings *s, const char *config_json);

/* Queues one history line and the whole current summary line (both JSON
 * objects as text). false when the row was not queued (queue full, or the
 * upload has stopped for good). Never blocks on the network. */
bool mz_wandb_uploader_log(mz_wandb_uploader *u, const char *history_line, const char *summary_line);

/* Replaces the summary to send, without a history row. */
void mz_wandb_uploader_log_summary(mz_wandb_uploader *u, const char *summary_line);

/* Queues one console line (output.log), without the timestamp prefix. */
void mz_wandb_uploader_console(mz_wandb_uploader *u, const char *text, bool is_error);

/* Sends what is queued, then {"complete": true, "exitcode": exit_code};
 * waits at most wandb.finish_timeout_seconds, joins the thread, frees
 * everything. `report` may be NULL. */
void mz_wandb_uploader_finish(mz_wandb_uploader *u, int exit_code, mz_wandb_upload_report *report);

#endif
