/* `mazero wandb-sync RUN_DIR`: uploads a run's .wandb file (written by an
 * offline run, or by an online run whose upload failed) through the same
 * client as online runs: UpsertBucket, then every history row, the summary
 * and the exit code through file_stream. */
#ifndef MZ_WANDB_SYNC_H
#define MZ_WANDB_SYNC_H

#include <stddef.h>

#include "src/wandb_settings.h"

/* Uploads the .wandb file(s) under run_dir/wandb/. `s` gives the server,
 * key, timing and limits; the run id, entity, project, name and tags come
 * from the file's run record (s->entity / s->project when the record has
 * none). Returns 0 when every file was uploaded; 1 with the reason in err. */
int mz_wandb_sync_run_dir(const char *run_dir, const mz_wandb_settings *s, char *err, size_t err_len);

/* One .wandb file; *rows says how many history rows were sent. */
int mz_wandb_sync_file(const char *path, const mz_wandb_settings *s, long long *rows, char *err, size_t err_len);

#endif
