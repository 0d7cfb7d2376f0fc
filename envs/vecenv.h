/* A batch of E environments on one backend: create from the config's
 * env.name / env.scenario, reset, step (reads buf.actions, auto-resets),
 * destroy. The buffers (envs/env.h) live in backend memory; nothing is
 * allocated after create. */
#ifndef MZ_VECENV_H
#define MZ_VECENV_H

#include <stddef.h>

#include "envs/env.h"
#include "src/backend.h"
#include "src/state_file.h"

typedef struct {
    mz_backend *be;
    mz_env_params params;
    int E;
    mz_env_buffers buf;
    float obs_bound; /* documented: every observation lies in [-obs_bound, obs_bound] */
} mz_vecenv;

/* The registry: env.name and env.scenario (and env.max_steps, 0 = the env's
 * default) to parameters. Returns 0, or 2 with a one-line message naming the
 * key and value at fault. */
int mz_env_params_resolve(mz_env_params *p, const char *name, const char *scenario, int max_steps, uint64_t seed,
                          char *err, size_t err_len);
/* Each agent then observes its last `frames` observations, oldest first
 * (params->O = frames * params->frame; a new episode repeats its first);
 * 1 = none. Returns 0, or 2 with a message naming env.stack_observations. */
#define MZ_ENV_MAX_STACK 16
int mz_env_params_stack(mz_env_params *p, int frames, char *err, size_t err_len);
/* "name: scenario, scenario, ...; name: ..." for --help and README */
const char *mz_env_catalogue(void);

mz_vecenv *mz_vecenv_create(mz_backend *be, const mz_env_params *p, int E);
void mz_vecenv_destroy(mz_vecenv *v);
void mz_vecenv_reset(mz_vecenv *v);
void mz_vecenv_step(mz_vecenv *v);

/* Tests: replace environment e's state (host bytes of params.state_bytes)
 * and recompute its observation, or read it back. */
void mz_vecenv_set_state(mz_vecenv *v, int e, const void *state);
void mz_vecenv_get_state(mz_vecenv *v, int e, void *state);
/* Every environment's state, observation, mask and running episode
 * statistics (backend memory), for resuming a run mid-episode. */
void mz_vecenv_state_blocks(mz_vecenv *v, const char *prefix, mz_state_block *list, int *n, int max);

#endif
