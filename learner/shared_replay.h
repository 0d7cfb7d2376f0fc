/* Async mode's replay: the per-environment trajectory rings, n-step targets
 * and prioritised window sampling of learner/replay.h (one copy of that
 * logic), shared by many writer threads (actors pushing segments), samplers
 * and reanalyse workers behind one mutex, plus
 *   - a sampler thread that assembles batches ahead into a queue of
 *     `queue` batches, so the learner takes a ready batch instead of
 *     sampling and copying windows itself;
 *   - the parameter version that produced every stored step (staleness);
 *   - bookkeeping for tests: steps pushed, stored, evicted, drawn at least
 *     once, and evicted after or without being drawn.
 * Capacity: replay.T steps per environment, FIFO within each environment
 * (all environments advance at about the same rate, so about FIFO overall).
 * Every wait has a timeout and stops on shared_replay_stop. */
#ifndef MZ_LEARNER_SHARED_REPLAY_H
#define MZ_LEARNER_SHARED_REPLAY_H

#include <stdint.h>

#include "learner/replay.h"

typedef struct {
    replay_config replay; /* E: every actor's environments; max_batch = batch */
    int batch;            /* B of every sampled batch */
    int queue;            /* batches the sampler thread prepares ahead (>= 1) */
    int64_t min_ready;    /* the sampler thread starts at this many ready steps */
} shared_replay_config;

/* A batch in caller-owned (or queue-owned) host memory. */
typedef struct {
    wm_batch batch;   /* points into the arrays below */
    int *env;         /* [B] where window b comes from */
    int64_t *step;    /* [B] */
    int64_t *version; /* [B] parameter version that played its first step */
    float *obs, *policy, *value, *reward, *mask, *weight;
    int32_t *actions;
} shared_batch;

typedef struct {
    int64_t pushed;           /* steps ever pushed */
    int64_t stored;           /* steps held now */
    int64_t evicted;          /* pushed - stored */
    int64_t evicted_sampled;  /* of those, drawn at least once before eviction */
    int64_t drawn_distinct;   /* steps drawn at least once, stored or evicted */
    int64_t drawn_stored;     /* of the stored steps, drawn at least once */
    int64_t windows;          /* windows drawn */
    int64_t ready;
    int64_t refreshed;        /* targets rewritten by reanalyse */
    double priority_total;
} shared_replay_stats;

typedef struct shared_replay shared_replay;

shared_replay *shared_replay_create(const shared_replay_config *cfg);
/* Stops and joins the sampler thread first. */
void shared_replay_destroy(shared_replay *sr);

/* A segment of L steps of `envs` environments env0 .. env0+envs-1,
 * step-major: obs [L][envs][N][O], actions [L][envs][N], policy
 * [L][envs][N][A], rewards, terminated, truncated, root_value, final_value
 * [L][envs]; `version` the parameters that played it. */
void shared_replay_push(shared_replay *sr, int env0, int envs, int L, const float *obs, const int32_t *actions,
                        const float *rewards, const uint8_t *terminated, const uint8_t *truncated,
                        const float *policy, const float *root_value, const float *final_value, int64_t version);

int64_t shared_replay_ready(shared_replay *sr);

/* Batch buffers for B windows. */
void shared_batch_alloc(shared_batch *b, const shared_replay *sr);
void shared_batch_free(shared_batch *b);
/* Draws a batch into out (any thread); 0 without touching out when fewer
 * than one ready step is stored. */
int shared_replay_sample(shared_replay *sr, shared_batch *out);
void shared_replay_update_priorities(shared_replay *sr, const shared_batch *b, const float *priority);

/* The prefetch queue: the sampler thread fills it once min_ready steps are
 * ready. take returns the oldest prepared batch, or NULL after
 * timeout_seconds or once stopped; one consumer, holding one batch at a
 * time; release gives it back with its new priorities (may be NULL). */
void shared_replay_start_sampler(shared_replay *sr);
const shared_batch *shared_replay_take(shared_replay *sr, double timeout_seconds);
void shared_replay_release(shared_replay *sr, const shared_batch *b, const float *priority);
void shared_replay_stop(shared_replay *sr);

/* Reanalyse: up to R stored steps drawn uniformly (obs [R][N][O] copied
 * out), and their new search targets (policy [R][N][A], value [R]) written
 * back where the step is still stored. Return how many. */
int shared_replay_pick(shared_replay *sr, int R, uint64_t seed, uint64_t counter, float *obs, int *env,
                       int64_t *step);
int shared_replay_refresh(shared_replay *sr, int R, const int *env, const int64_t *step, const float *policy,
                          const float *value);

/* Resume: the replay's contents and priorities, the version and draw mark
 * of every slot and the bookkeeping counters are appended to the caller's
 * blocks list (room for max) and the whole list is saved (any time: under
 * the lock, so writers wait for the file) or loaded (before the sampler
 * starts; the sum tree is rebuilt) with mz_state_save / mz_state_load. */
int shared_replay_save_state(shared_replay *sr, const char *path, mz_backend *be, mz_state_block *list, int n,
                             int max, const char *kind, char *err, size_t err_len);
int shared_replay_load_state(shared_replay *sr, const char *path, mz_backend *be, mz_state_block *list, int n,
                             int max, const char *kind, char *err, size_t err_len);
/* replay_end_episodes under the lock: the episodes in flight were lost. */
void shared_replay_end_episodes(shared_replay *sr);

void shared_replay_stats_get(shared_replay *sr, shared_replay_stats *out);
/* replay_check_priorities under the lock (0 when the tree is exact). */
double shared_replay_check(shared_replay *sr);

#endif
