/* Single-source bodies of the vectorised environment: dispatch on the kind,
 * and the per-environment reset and step (with auto-reset) run by the CPU
 * launcher (envs/vecenv.c) and the CUDA kernels (envs/vecenv_cuda.cu). */
#ifndef MZ_ENV_BODIES_H
#define MZ_ENV_BODIES_H

#include "envs/env.h"

/* The ended episode's success flag, for the win-rate metric. */
HD static inline int env_won(const mz_env_params *p, const void *st, int terminated) {
    switch (p->kind) {
    case MZ_ENV_LBF: return terminated; /* all food eaten */
    case MZ_ENV_CHAIN: return terminated; /* all agents at the goal */
    case MZ_ENV_CLIMBING: return 0;
    default: (void)st; return 0;
    }
}

/* Whether env_won can be true: the win rate is reported only for these. */
HD static inline int env_defines_win(const mz_env_params *p) {
    return p->kind == MZ_ENV_LBF || p->kind == MZ_ENV_CHAIN;
}

HD static inline void env_reset_one(const mz_env_params *p, void *st, int64_t e) {
    mz_rng r;
    uint32_t *episode;
    switch (p->kind) {
    case MZ_ENV_SPREAD: episode = &((spread_state *)st)->episode; break;
    case MZ_ENV_LBF: episode = &((lbf_state *)st)->episode; break;
    case MZ_ENV_RWARE: episode = &((rware_state *)st)->episode; break;
    case MZ_ENV_CLIMBING: episode = &((climbing_state *)st)->episode; break;
    default: episode = &((chain_state *)st)->episode; break;
    }
    mz_rng_init(&r, p->seed, MZ_STREAM_ENV_RESET, ((uint64_t)e << 32) | *episode);
    (*episode)++;
    switch (p->kind) {
    case MZ_ENV_SPREAD: spread_reset((spread_state *)st, &p->p.spread, &r); break;
    case MZ_ENV_LBF: lbf_reset((lbf_state *)st, &p->p.lbf, &r); break;
    case MZ_ENV_RWARE: rware_reset((rware_state *)st, &p->p.rware, &r); break;
    case MZ_ENV_CLIMBING: climbing_reset((climbing_state *)st); break;
    default: chain_reset((chain_state *)st, &p->p.chain); break;
    }
}

/* Steps one environment; returns the team reward and sets *terminated. */
HD static inline float env_step_one(const mz_env_params *p, void *st, int64_t e, const int32_t *actions,
                                    float *agent_reward, int *terminated, int32_t *t_after) {
    int ended = 0;
    float team;
    switch (p->kind) {
    case MZ_ENV_SPREAD: {
        spread_state *s = (spread_state *)st;
        team = spread_step(s, &p->p.spread, actions, agent_reward);
        *t_after = s->t;
        break;
    }
    case MZ_ENV_LBF: {
        lbf_state *s = (lbf_state *)st;
        team = lbf_step(s, &p->p.lbf, actions, agent_reward, &ended);
        *t_after = s->t;
        break;
    }
    case MZ_ENV_RWARE: {
        rware_state *s = (rware_state *)st;
        mz_rng r;
        mz_rng_init_at(&r, p->seed, MZ_STREAM_ENV_STEP, ((uint64_t)e << 32) | s->episode, (uint32_t)s->t);
        team = rware_step(s, &p->p.rware, actions, agent_reward, &ended, &r);
        *t_after = s->t;
        break;
    }
    case MZ_ENV_CLIMBING: {
        climbing_state *s = (climbing_state *)st;
        team = climbing_step(s, actions, agent_reward);
        *t_after = s->t;
        break;
    }
    default: {
        chain_state *s = (chain_state *)st;
        team = chain_step(s, &p->p.chain, actions, agent_reward, &ended);
        *t_after = s->t;
        break;
    }
    }
    *terminated = ended;
    return team;
}

HD static inline void env_observe_one(const mz_env_params *p, const void *st, float *obs, uint8_t *avail) {
    switch (p->kind) {
    case MZ_ENV_SPREAD: spread_observe((const spread_state *)st, &p->p.spread, obs, avail); break;
    case MZ_ENV_LBF: lbf_observe((const lbf_state *)st, &p->p.lbf, obs, avail); break;
    case MZ_ENV_RWARE: rware_observe((const rware_state *)st, &p->p.rware, obs, avail); break;
    case MZ_ENV_CLIMBING: climbing_observe(obs, avail); break;
    default: chain_observe((const chain_state *)st, &p->p.chain, obs, avail); break;
    }
}

/* The global state: every agent's observation, agent 0 first. */
HD static inline void env_global_state(const mz_env_params *p, const float *obs, float *state) {
    for (int i = 0; i < p->N * p->O; i++) state[i] = obs[i];
}

/* Stacking: dst [N][O] gets each agent's stack-1 newer frames of prev
 * [N][O] shifted one slot older and frame [N][frame] as the newest; a fresh
 * episode starts with its first frame in every slot (EfficientZero's
 * initial stack). dst may be prev. */
HD static inline void env_stack_frames(const mz_env_params *p, float *dst, const float *prev, const float *frame,
                                       int fresh) {
    int F = p->frame, S = p->stack;
    for (int i = 0; i < p->N; i++) {
        float *d = dst + (int64_t)i * p->O;
        const float *q = prev + (int64_t)i * p->O, *f = frame + (int64_t)i * F;
        for (int k = 0; k < S - 1; k++)
            for (int j = 0; j < F; j++) d[k * F + j] = fresh ? f[j] : q[(k + 1) * F + j];
        for (int j = 0; j < F; j++) d[(S - 1) * F + j] = f[j];
    }
}

/* The state's observation into dst [N][O]: as it is, or (stacking) its
 * frame into frame [N][frame], then stacked over prev's frames. */
HD static inline void env_observe_stacked(const mz_env_params *p, const void *st, float *dst, const float *prev,
                                          float *frame, uint8_t *avail, int fresh) {
    if (p->stack <= 1) {
        env_observe_one(p, st, dst, avail);
        return;
    }
    env_observe_one(p, st, frame, avail);
    env_stack_frames(p, dst, prev, frame, fresh);
}

/* Observes environment e into obs (and its frame stack); fresh: a new
 * episode (or a state set from outside) whose stack holds nothing older. */
HD static inline void vecenv_observe_body(int64_t e, const mz_env_params *p, mz_env_buffers b, int fresh) {
    int64_t NO = (int64_t)p->N * p->O;
    const uint8_t *st = b.states + e * p->state_bytes;
    uint8_t *avail = b.avail + e * (int64_t)p->N * p->A;
    env_observe_stacked(p, st, b.obs + e * NO, b.obs + e * NO,
                        p->stack > 1 ? b.frame + e * (int64_t)p->N * p->frame : 0, avail, fresh);
    env_global_state(p, b.obs + e * NO, b.global_state + e * (int64_t)p->S);
}

HD static inline void vecenv_reset_body(int64_t e, const mz_env_params *p, mz_env_buffers b) {
    env_reset_one(p, b.states + e * p->state_bytes, e);
    b.ep_return[e] = 0.0f;
    b.ep_length[e] = 0;
    b.terminated[e] = 0;
    b.truncated[e] = 0;
    vecenv_observe_body(e, p, b, 1);
}

HD static inline void vecenv_step_body(int64_t e, const mz_env_params *p, mz_env_buffers b) {
    int64_t N = p->N, NO = N * p->O;
    void *st = b.states + e * p->state_bytes;
    int terminated = 0;
    int32_t t = 0;
    float team = env_step_one(p, st, e, b.actions + e * N, b.agent_reward + e * N, &terminated, &t);
    int truncated = !terminated && t >= p->max_steps;
    b.reward[e] = team;
    b.terminated[e] = (uint8_t)terminated;
    b.truncated[e] = (uint8_t)truncated;
    b.ep_return[e] += team;
    b.ep_length[e] += 1;
    if (terminated || truncated) {
        env_observe_stacked(p, st, b.final_obs + e * NO, b.obs + e * NO,
                            p->stack > 1 ? b.frame + e * N * p->frame : 0, 0, 0);
        b.done_return[e] = b.ep_return[e];
        b.done_length[e] = b.ep_length[e];
        b.done_won[e] = (uint8_t)env_won(p, st, terminated);
        b.ep_return[e] = 0.0f;
        b.ep_length[e] = 0;
        env_reset_one(p, st, e);
    }
    vecenv_observe_body(e, p, b, terminated || truncated);
}

#endif
