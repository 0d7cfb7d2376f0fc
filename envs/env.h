/* The vectorised multi-agent environment interface.
 *
 * A batch of E environments with N agents each lives in backend memory as
 * structure-of-arrays (mz_env_buffers). Each environment is one header
 * (envs/<name>/<name>.h) with a fixed-size state struct and HD bodies
 * reset / step / observe written once; envs/env_bodies.h dispatches on the
 * kind, and one step body per environment index is run by the CPU backend
 * (OpenMP over environments, envs/vecenv.c) and by the CUDA backend (one
 * thread per environment, envs/vecenv_cuda.cu).
 *
 * Randomness is counter-based: episode k of environment e is reset from
 * Philox(seed, MZ_STREAM_ENV_RESET, e << 32 | k), and in-episode draws at
 * step t use block t of (seed, MZ_STREAM_ENV_STEP, e << 32 | k), so a seed gives the
 * same trajectories on every backend and thread count. */
#ifndef MZ_ENV_H
#define MZ_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envs/chain/chain.h"
#include "envs/lbf/lbf.h"
#include "envs/matrix/climbing.h"
#include "envs/rware/rware.h"
#include "envs/spread/spread.h"

#define MZ_STREAM_ENV_RESET 0x0e000001u
#define MZ_STREAM_ENV_STEP 0x0e000002u

typedef enum {
    MZ_ENV_SPREAD = 0,
    MZ_ENV_LBF = 1,
    MZ_ENV_RWARE = 2,
    MZ_ENV_CLIMBING = 3,
    MZ_ENV_CHAIN = 4,
} mz_env_kind;

/* Everything a step body needs besides the buffers; small, passed by value. */
typedef struct {
    int kind; /* mz_env_kind */
    int N;    /* agents */
    int O;    /* observation floats per agent: stack * frame */
    int frame; /* floats per agent of one observation of the env (O without stacking) */
    int stack; /* observations per agent stacked, oldest first (1: none; mz_env_params_stack) */
    int S;    /* global state floats */
    int A;    /* actions per agent */
    int max_steps;
    int state_bytes; /* size of one environment's state struct */
    uint64_t seed;
    union {
        spread_params spread;
        lbf_params lbf;
        rware_params rware;
        climbing_params climbing;
        chain_params chain;
    } p;
} mz_env_params;

/* Device buffers of a batch; "valid where done" fields are written only on
 * the step that ends an episode (done = terminated || truncated). */
typedef struct {
    uint8_t *states;        /* [E][state_bytes] */
    float *obs;             /* [E][N][O], after auto-reset: the new episode's first */
    float *final_obs;       /* [E][N][O], the ended episode's last; valid where done */
    float *frame;           /* [E][N][frame] the newest observation, with stacking (else NULL) */
    float *global_state;    /* [E][S] */
    int32_t *actions;       /* [E][N], written by the caller before a step */
    float *reward;          /* [E] team reward of the step */
    float *agent_reward;    /* [E][N] */
    uint8_t *terminated;    /* [E] the episode ended by the rules */
    uint8_t *truncated;     /* [E] the episode hit max_steps (bootstrappable) */
    uint8_t *avail;         /* [E][N][A] legal-action mask, 1 = legal */
    float *ep_return;       /* [E] running team return of the current episode */
    int32_t *ep_length;     /* [E] running length */
    float *done_return;     /* [E] return of the episode ended this step; valid where done */
    int32_t *done_length;   /* [E] valid where done */
    uint8_t *done_won;      /* [E] the env's success flag; valid where done */
} mz_env_buffers;

#endif
