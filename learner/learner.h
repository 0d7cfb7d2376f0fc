/* The MuZero update: sample K-step windows from the replay by priority,
 * upload, forward + backward through the world model, AdamW with global
 * norm clipping and the warmup-cosine learning rate, new priorities
 * |v_0 - z_0| back into the replay.
 *
 * Target network (learner_use_target): a copy of the world model whose value
 * of each target's bootstrap observation replaces the stored search root
 * value in the n-step targets (learner_use_target); it follows the online
 * network by EMA (ema > 0) or by a copy every `interval` updates. Truncation
 * bootstraps keep their stored final-observation values. */
#ifndef MZ_LEARNER_LEARNER_H
#define MZ_LEARNER_LEARNER_H

#include <stdint.h>

#include "learner/device_replay.h"
#include "learner/replay.h"
#include "src/nn/optim.h"
#include "worldmodel/worldmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int batch;
    mz_adamw_config adamw;
    mz_lr_schedule lr;
} learner_config;

typedef struct {
    wm_losses loss;
    float grad_norm; /* before clipping */
    float lr;
    float mean_priority;
    /* with a target network: over the targets that bootstrap from a value */
    float target_value;      /* mean target-network value of their bootstrap observations */
    float bootstrap_shift;   /* mean |target with the target network - target with the stored root value| */
    int64_t step;    /* updates done, this one included */
    /* wall seconds of this update: sampling and upload, forward, backward
     * with the AdamW step and the priority write-back */
    double seconds_replay, seconds_forward, seconds_backward;
} learner_stats;

typedef struct learner learner;

/* The learner trains `model` from `rb` (host replay: windows uploaded per
 * batch) or `drb` (device replay: windows gathered on the device, only the
 * B priorities and logged scalars cross); it owns neither. */
learner *learner_create(wm_model *model, replay *rb, const learner_config *cfg);
learner *learner_create_device(wm_model *model, device_replay *drb, const learner_config *cfg);
void learner_destroy(learner *l);
/* One update; the replay must have a ready step. */
void learner_update(learner *l, learner_stats *out);
/* One update on a batch assembled elsewhere (async mode's sampler thread);
 * returns the new priorities [B] (host, valid until the next update). */
const float *learner_update_batch(learner *l, const wm_batch *batch, learner_stats *out);
int64_t learner_steps(const learner *l);
/* From now on n-step targets bootstrap from a target network, a copy of the
 * model now, then target += ema (online - target) after every update (ema >
 * 0) or a copy every `interval` updates (ema 0). */
void learner_use_target(learner *l, float ema, int64_t interval);
/* The target network's parameters (values), or NULL without one. */
mz_params *learner_target_params(learner *l);
/* Where the windows of the last update came from: env [batch], step [batch]. */
void learner_last_windows(learner *l, const int **env, const int64_t **step);
/* The update counter (AdamW's bias correction, the LR schedule) and the
 * target network, for resume. */
void learner_state_blocks(learner *l, mz_state_block *list, int *n, int max);

#ifdef __cplusplus
}
#endif

#endif
