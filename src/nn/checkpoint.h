/* Model checkpoints as safetensors (src/safetensors.h): one F32 tensor per
 * parameter under its spec name, plus __metadata__ {"format": "mazero",
 * "step": "<n>", "config": "<model config JSON>"}. With the optimiser state,
 * the AdamW moments follow as "adam_m.<name>" and "adam_v.<name>" (the step
 * gives AdamW's bias correction on resume). */
#ifndef MZ_NN_CHECKPOINT_H
#define MZ_NN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/nn/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes p's values (and moments when with_optimizer) atomically. 0, or -1 with err.
 * In a data-parallel job only rank 0 writes; the other ranks return 0. */
int mz_checkpoint_save(const char *path, const mz_params *p, bool with_optimizer, const char *config_json,
                       int64_t step, char *err, size_t err_len);
/* Loads into p after checking that the file holds exactly p's tensors (and,
 * when with_optimizer, both moments of each; moments in a file are ignored
 * otherwise), each F32 with p's shape; p is untouched on failure. *step and
 * *config_json (malloc'd; NULL when absent) are set when not NULL. */
int mz_checkpoint_load(const char *path, mz_params *p, bool with_optimizer, int64_t *step, char **config_json,
                       char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
