/* Model checkpoints as safetensors (src/safetensors.h): one F32 tensor per
 * parameter under its spec name, plus __metadata__ {"format": "mazero",
 * "step": "<n>", "config": "<model config JSON>"}. */
#ifndef MZ_NN_CHECKPOINT_H
#define MZ_NN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "src/nn/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes p's values atomically. 0, or -1 with err. */
int mz_checkpoint_save(const char *path, const mz_params *p, const char *config_json, int64_t step, char *err,
                       size_t err_len);
/* Loads into p's values after checking that the file holds exactly p's
 * tensors, each F32 with p's shape; p is untouched on failure. *step and
 * *config_json (malloc'd; may be NULL when absent) are set when not NULL. */
int mz_checkpoint_load(const char *path, mz_params *p, int64_t *step, char **config_json, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
