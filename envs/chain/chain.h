/* A deterministic multi-agent chain: N agents start at cell 0 of a line of L
 * cells and must all stand on cell L-1. Each step costs the team 0.01; the
 * step on which the last agent arrives pays +1 instead and terminates. The
 * optimum is every agent moving right: L-1 steps, return 1 - 0.01 (L-2).
 * Actions: 0 stay, 1 left, 2 right (clamped). Observation (1 + N floats):
 * own position, then every agent's position, each divided by L-1.
 * Agent rewards are the team reward divided by N. */
#ifndef MZ_CHAIN_H
#define MZ_CHAIN_H

#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define CHAIN_MAX_AGENTS 8
#define CHAIN_ACTIONS 3
#define CHAIN_STEP_COST 0.01f
#define CHAIN_GOAL_REWARD 1.0f

typedef struct {
    int n_agents, length;
} chain_params;

typedef struct {
    int32_t pos[CHAIN_MAX_AGENTS];
    int32_t t;
    uint32_t episode;
} chain_state;

HD static inline float chain_optimal_return(const chain_params *p) {
    return CHAIN_GOAL_REWARD - CHAIN_STEP_COST * (float)(p->length - 2);
}

HD static inline void chain_reset(chain_state *s, const chain_params *p) {
    for (int i = 0; i < p->n_agents; i++) s->pos[i] = 0;
    s->t = 0;
}

HD static inline float chain_step(chain_state *s, const chain_params *p, const int32_t *actions, float *agent_reward,
                                  int *all_arrived) {
    int arrived = 1;
    for (int i = 0; i < p->n_agents; i++) {
        int a = actions[i];
        if (a == 1 && s->pos[i] > 0) s->pos[i]--;
        if (a == 2 && s->pos[i] < p->length - 1) s->pos[i]++;
        arrived &= s->pos[i] == p->length - 1;
    }
    s->t++;
    *all_arrived = arrived;
    float team = arrived ? CHAIN_GOAL_REWARD : -CHAIN_STEP_COST;
    for (int i = 0; i < p->n_agents; i++) agent_reward[i] = team / (float)p->n_agents;
    return team;
}

HD static inline void chain_observe(const chain_state *s, const chain_params *p, float *obs, uint8_t *avail) {
    int n = p->n_agents, O = 1 + n;
    float scale = 1.0f / (float)(p->length - 1);
    for (int i = 0; i < n; i++) {
        obs[i * O] = (float)s->pos[i] * scale;
        for (int j = 0; j < n; j++) obs[i * O + 1 + j] = (float)s->pos[j] * scale;
        if (avail)
            for (int a = 0; a < CHAIN_ACTIONS; a++) avail[i * CHAIN_ACTIONS + a] = 1;
    }
}

#endif
