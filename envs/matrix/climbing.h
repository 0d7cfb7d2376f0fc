/* The climbing game (Claus & Boutilier, 1998): a cooperative 2-agent, 3-action
 * matrix game, repeated max_steps times (1 by default). Both agents receive
 * the payoff; the team reward is the payoff. The optimum (0, 0) pays 11 but
 * sits next to -30 penalties, so independent learners tend to settle on the
 * safe (2, 2) = 5 or (1, 1) = 7: a known trap for search and learning tests.
 * Observation: the agent's one-hot id (N floats). */
#ifndef MZ_CLIMBING_H
#define MZ_CLIMBING_H

#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define CLIMBING_AGENTS 2
#define CLIMBING_ACTIONS 3
#define CLIMBING_OPTIMUM 11.0f

typedef struct {
    int unused;
} climbing_params;

typedef struct {
    int32_t t;
    uint32_t episode;
} climbing_state;

HD static inline float climbing_payoff(int a, int b) {
    const float payoff[3][3] = {{11.0f, -30.0f, 0.0f}, {-30.0f, 7.0f, 6.0f}, {0.0f, 0.0f, 5.0f}};
    return payoff[a][b];
}

HD static inline void climbing_reset(climbing_state *s) { s->t = 0; }

HD static inline float climbing_step(climbing_state *s, const int32_t *actions, float *agent_reward) {
    int a = actions[0], b = actions[1];
    a = a >= 0 && a < CLIMBING_ACTIONS ? a : 0;
    b = b >= 0 && b < CLIMBING_ACTIONS ? b : 0;
    float r = climbing_payoff(a, b);
    agent_reward[0] = agent_reward[1] = r;
    s->t++;
    return r;
}

HD static inline void climbing_observe(float *obs, uint8_t *avail) {
    for (int i = 0; i < CLIMBING_AGENTS; i++) {
        for (int j = 0; j < CLIMBING_AGENTS; j++) obs[i * CLIMBING_AGENTS + j] = i == j ? 1.0f : 0.0f;
        if (avail)
            for (int a = 0; a < CLIMBING_ACTIONS; a++) avail[i * CLIMBING_ACTIONS + a] = 1;
    }
}

#endif
