/* Trajectory recording (record.trajectories=true): the experience of a
 * run, batch-major, as .npy chunks under <record.dir>/<env>/<uid>/, for
 * offline MARL (tools/npy_to_vault.py turns a folder into a Flashbax Vault
 * with OG-MARL's key names). Only one chunk of record.chunk_steps time
 * steps is held in memory.
 *
 * Field names by convention (OG-MARL): observations (N, O), actions (N),
 * rewards (N), terminals (N), truncations (N), infos.legals (N, A),
 * infos.state (S); algorithm extras: values, log_probs (PPO),
 * search_policies (N, A), root_values (MuZero).
 *
 * On disk: <field>.<chunk>.npy of shape (B, T_chunk, ...), chunk numbered
 * from 00000, and recording.json describing the fields and the chunks. */
#ifndef MZ_TRAJECTORY_H
#define MZ_TRAJECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "src/config.h"
#include "src/npy.h"

#define MZ_TRAJ_MAX_RANK 3

typedef struct {
    const char *name;
    mz_npy_dtype dtype;
    int rank; /* of one environment's value at one step: 0 for a scalar */
    int64_t shape[MZ_TRAJ_MAX_RANK];
} mz_traj_field;

typedef struct mz_recorder mz_recorder;

/* NULL with a reason in err when the folder cannot be made. `batch` is the
 * number of environments recorded side by side (B). */
mz_recorder *mz_recorder_open(const mz_config *cfg, int64_t batch, const mz_traj_field *fields, int n_fields,
                              char *err, size_t err_len);

/* One time step: data[f] holds field f for all B environments, (B, ...). */
void mz_recorder_step(mz_recorder *r, const void *const *data);

const char *mz_recorder_dir(const mz_recorder *r);

/* Writes the last (partial) chunk and recording.json; frees r. 0, or 1 when
 * a file could not be written. */
int mz_recorder_close(mz_recorder *r);

#endif
