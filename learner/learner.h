/* The MuZero update: sample K-step windows from the replay by priority,
 * upload, forward + backward through the world model, AdamW with global
 * norm clipping and the warmup-cosine learning rate, new priorities
 * |v_0 - z_0| back into the replay. */
#ifndef MZ_LEARNER_LEARNER_H
#define MZ_LEARNER_LEARNER_H

#include <stdint.h>

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
    int64_t step;    /* updates done, this one included */
    /* wall seconds of this update: sampling and upload, forward, backward
     * with the AdamW step and the priority write-back */
    double seconds_replay, seconds_forward, seconds_backward;
} learner_stats;

typedef struct learner learner;

/* The learner trains `model` from `rb`; it owns neither. */
learner *learner_create(wm_model *model, replay *rb, const learner_config *cfg);
void learner_destroy(learner *l);
/* One update; the replay must have a ready step. */
void learner_update(learner *l, learner_stats *out);
int64_t learner_steps(const learner *l);

#ifdef __cplusplus
}
#endif

#endif
