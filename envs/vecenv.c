/* Buffers and the CPU launchers of the vectorised environments; the CUDA
 * launchers are in envs/vecenv_cuda.cu. */
#include "envs/vecenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envs/env_bodies.h"
#include "src/check.h"

void mz_vecenv_reset_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) MZ_CUDA_LAUNCHER;
void mz_vecenv_step_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) MZ_CUDA_LAUNCHER;
void mz_vecenv_observe_cuda(mz_backend *be, const mz_env_params *p, mz_env_buffers b, int E) MZ_CUDA_LAUNCHER;

/* Below this many environments a step is cheaper than waking a thread team. */
#define PARALLEL_MIN_ENVS 32

static void *zeroed(mz_backend *be, size_t bytes) {
    void *p = be->alloc(be, bytes);
    be->zero(be, p, bytes);
    return p;
}

mz_vecenv *mz_vecenv_create(mz_backend *be, const mz_env_params *p, int E) {
    MZ_CHECK(E >= 1, "vecenv: need at least one environment, got %d", E);
    mz_vecenv *v = (mz_vecenv *)mz_calloc(1, sizeof *v);
    v->be = be;
    v->params = *p;
    v->E = E;
    size_t e = (size_t)E, N = (size_t)p->N;
    mz_env_buffers *b = &v->buf;
    b->states = (uint8_t *)zeroed(be, e * (size_t)p->state_bytes);
    b->obs = (float *)zeroed(be, e * N * (size_t)p->O * sizeof(float));
    b->final_obs = (float *)zeroed(be, e * N * (size_t)p->O * sizeof(float));
    MZ_CHECK(p->stack >= 1 && p->O == p->stack * p->frame, "vecenv: %d stacked frames of %d floats, observation %d",
             p->stack, p->frame, p->O);
    if (p->stack > 1) b->frame = (float *)zeroed(be, e * N * (size_t)p->frame * sizeof(float));
    b->global_state = (float *)zeroed(be, e * (size_t)p->S * sizeof(float));
    b->actions = (int32_t *)zeroed(be, e * N * sizeof(int32_t));
    b->reward = (float *)zeroed(be, e * sizeof(float));
    b->agent_reward = (float *)zeroed(be, e * N * sizeof(float));
    b->terminated = (uint8_t *)zeroed(be, e);
    b->truncated = (uint8_t *)zeroed(be, e);
    b->avail = (uint8_t *)zeroed(be, e * N * (size_t)p->A);
    b->ep_return = (float *)zeroed(be, e * sizeof(float));
    b->ep_length = (int32_t *)zeroed(be, e * sizeof(int32_t));
    b->done_return = (float *)zeroed(be, e * sizeof(float));
    b->done_length = (int32_t *)zeroed(be, e * sizeof(int32_t));
    b->done_won = (uint8_t *)zeroed(be, e);
    switch (p->kind) {
    case MZ_ENV_SPREAD: v->obs_bound = SPREAD_OBS_BOUND; break;
    case MZ_ENV_LBF: v->obs_bound = (float)(2 * p->p.lbf.grid_size); break;
    case MZ_ENV_RWARE: v->obs_bound = (float)(p->p.rware.H > p->p.rware.W ? p->p.rware.H : p->p.rware.W); break;
    default: v->obs_bound = 1.0f; break;
    }
    return v;
}

void mz_vecenv_destroy(mz_vecenv *v) {
    if (!v) return;
    mz_backend *be = v->be;
    mz_env_buffers *b = &v->buf;
    void *all[] = {b->states, b->obs, b->final_obs, b->frame, b->global_state, b->actions, b->reward, b->agent_reward,
                   b->terminated, b->truncated, b->avail, b->ep_return, b->ep_length, b->done_return,
                   b->done_length, b->done_won};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
    free(v);
}

void mz_vecenv_reset(mz_vecenv *v) {
    if (v->be->kind == MZ_BACKEND_CUDA) {
        mz_vecenv_reset_cuda(v->be, &v->params, v->buf, v->E);
        return;
    }
    const mz_env_params p = v->params;
    const mz_env_buffers b = v->buf;
#pragma omp parallel for schedule(static) if (v->E >= PARALLEL_MIN_ENVS)
    for (int64_t e = 0; e < v->E; e++) vecenv_reset_body(e, &p, b);
}

void mz_vecenv_step(mz_vecenv *v) {
    if (v->be->kind == MZ_BACKEND_CUDA) {
        mz_vecenv_step_cuda(v->be, &v->params, v->buf, v->E);
        return;
    }
    const mz_env_params p = v->params;
    const mz_env_buffers b = v->buf;
#pragma omp parallel for schedule(static) if (v->E >= PARALLEL_MIN_ENVS)
    for (int64_t e = 0; e < v->E; e++) vecenv_step_body(e, &p, b);
}

static void observe_all(mz_vecenv *v) {
    if (v->be->kind == MZ_BACKEND_CUDA) {
        mz_vecenv_observe_cuda(v->be, &v->params, v->buf, v->E);
        return;
    }
    const mz_env_params p = v->params;
    const mz_env_buffers b = v->buf;
    for (int64_t e = 0; e < v->E; e++) vecenv_observe_body(e, &p, b, 1);
}

void mz_vecenv_set_state(mz_vecenv *v, int e, const void *state) {
    MZ_CHECK(e >= 0 && e < v->E, "vecenv: environment %d out of range [0, %d)", e, v->E);
    size_t bytes = (size_t)v->params.state_bytes;
    v->be->copy_h2d(v->be, v->buf.states + (size_t)e * bytes, state, bytes);
    observe_all(v);
}

void mz_vecenv_get_state(mz_vecenv *v, int e, void *state) {
    MZ_CHECK(e >= 0 && e < v->E, "vecenv: environment %d out of range [0, %d)", e, v->E);
    size_t bytes = (size_t)v->params.state_bytes;
    v->be->copy_d2h(v->be, state, v->buf.states + (size_t)e * bytes, bytes);
}

void mz_vecenv_state_blocks(mz_vecenv *v, const char *prefix, mz_state_block *list, int *n, int max) {
    const mz_env_params *p = &v->params;
    size_t E = (size_t)v->E, EN = E * (size_t)p->N;
    const struct {
        const char *name;
        void *data;
        size_t bytes;
    } parts[] = {
        {"states", v->buf.states, E * (size_t)p->state_bytes},
        {"obs", v->buf.obs, EN * (size_t)p->O * sizeof(float)},
        {"global_state", v->buf.global_state, E * (size_t)p->S * sizeof(float)},
        {"avail", v->buf.avail, EN * (size_t)p->A},
        {"ep_return", v->buf.ep_return, E * sizeof(float)},
        {"ep_length", v->buf.ep_length, E * sizeof(int32_t)},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i].name);
        mz_state_add(list, n, max, name, parts[i].data, parts[i].bytes, 1);
    }
}
