/* MPE simple_spread, JaxMARL MPE_simple_spread_v3 dynamics: N agents cover N
 * landmarks. Constants, collision force (logaddexp softening), integration
 * order (position with the old velocity, then damping, then force), reward
 * (local_ratio mix of collision penalty and landmark coverage) and observation
 * order follow ../shared/reference/marl-envs-and-ppo.md §2.
 *
 * Actions: 0 noop, 1 -x, 2 +x, 3 -y, 4 +y (force = accel along the axis).
 * Observation (6N floats): own velocity (2), own position (2), landmark - own
 * position (2N), other agents - own position in index order (2(N-1)), other
 * agents' communication, always 0 (2(N-1)).
 * Team reward: the sum of the agents' rewards (= N x the mean per-agent
 * reward, which is what JaxMARL's MPELogWrapper logs). */
#ifndef MZ_SPREAD_H
#define MZ_SPREAD_H

#include <math.h>
#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define SPREAD_MAX_AGENTS 10
#define SPREAD_ACTIONS 5
#define SPREAD_DT 0.1f
#define SPREAD_DAMPING 0.25f
#define SPREAD_CONTACT_FORCE 100.0f
#define SPREAD_CONTACT_MARGIN 0.001f
#define SPREAD_AGENT_RADIUS 0.15f
#define SPREAD_LANDMARK_RADIUS 0.05f
#define SPREAD_ACCEL 5.0f
#define SPREAD_OBS_BOUND 100.0f /* documented bound for conformance tests */

typedef struct {
    int n_agents; /* = landmarks */
    float local_ratio;
} spread_params;

typedef struct {
    float agent_pos[SPREAD_MAX_AGENTS][2];
    float agent_vel[SPREAD_MAX_AGENTS][2];
    float landmark_pos[SPREAD_MAX_AGENTS][2];
    int32_t t;        /* steps taken in this episode */
    uint32_t episode; /* episodes started by this environment */
} spread_state;

HD static inline int spread_obs_size(int n) { return 6 * n; }

HD static inline void spread_reset(spread_state *s, const spread_params *p, mz_rng *r) {
    int n = p->n_agents;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < 2; d++) s->agent_pos[i][d] = 2.0f * mz_rng_uniform(r) - 1.0f;
    for (int l = 0; l < n; l++)
        for (int d = 0; d < 2; d++) s->landmark_pos[l][d] = 2.0f * mz_rng_uniform(r) - 1.0f;
    for (int i = 0; i < n; i++) s->agent_vel[i][0] = s->agent_vel[i][1] = 0.0f;
    s->t = 0;
}

/* log(1 + e^x) without overflow: JAX's logaddexp(0, x). */
HD static inline float spread_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* Advances one step; writes each agent's reward; returns the team reward. */
HD static inline float spread_step(spread_state *s, const spread_params *p, const int32_t *actions,
                                   float *agent_reward) {
    int n = p->n_agents;
    float force[SPREAD_MAX_AGENTS][2];
    for (int i = 0; i < n; i++) {
        int a = actions[i];
        force[i][0] = force[i][1] = 0.0f;
        if (a > 0 && a < SPREAD_ACTIONS) force[i][a <= 2 ? 0 : 1] = (a % 2 == 0 ? 1.0f : -1.0f) * SPREAD_ACCEL;
    }
    /* Soft collisions between agents (landmarks do not collide), summed in
     * JaxMARL's order so that float rounding matches over long episodes:
     * agent i takes -F(j, i) for j < i one by one, then its own row
     * sum_{b > i} F(i, b) as one partial sum; the control force comes last. */
    float pair[SPREAD_MAX_AGENTS][SPREAD_MAX_AGENTS][2];
    for (int a = 0; a < n; a++) {
        for (int b = a + 1; b < n; b++) {
            float dx = s->agent_pos[a][0] - s->agent_pos[b][0];
            float dy = s->agent_pos[a][1] - s->agent_pos[b][1];
            float dist = sqrtf(dx * dx + dy * dy);
            float k = SPREAD_CONTACT_MARGIN;
            float pen = spread_softplus(-(dist - 2.0f * SPREAD_AGENT_RADIUS) / k) * k;
            /* coincident centres: JaxMARL divides by zero here; we push nothing */
            pair[a][b][0] = dist > 0.0f ? SPREAD_CONTACT_FORCE * dx / dist * pen : 0.0f;
            pair[a][b][1] = dist > 0.0f ? SPREAD_CONTACT_FORCE * dy / dist * pen : 0.0f;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < 2; d++) {
            float total = 0.0f, own = 0.0f;
            for (int j = 0; j < i; j++) total += -pair[j][i][d];
            for (int b = i + 1; b < n; b++) own += pair[i][b][d];
            total += own;
            force[i][d] = total + force[i][d];
        }
    }
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < 2; d++) {
            s->agent_pos[i][d] += s->agent_vel[i][d] * SPREAD_DT; /* the old velocity */
            s->agent_vel[i][d] *= 1.0f - SPREAD_DAMPING;
            s->agent_vel[i][d] += force[i][d] * SPREAD_DT; /* mass 1 */
        }
    }
    s->t++;
    /* rewards on the new state */
    float global = 0.0f;
    for (int l = 0; l < n; l++) {
        float best = INFINITY;
        for (int i = 0; i < n; i++) {
            float dx = s->agent_pos[i][0] - s->landmark_pos[l][0], dy = s->agent_pos[i][1] - s->landmark_pos[l][1];
            best = fminf(best, sqrtf(dx * dx + dy * dy));
        }
        global -= best;
    }
    float team = 0.0f;
    for (int i = 0; i < n; i++) {
        float local = 0.0f;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            float dx = s->agent_pos[i][0] - s->agent_pos[j][0], dy = s->agent_pos[i][1] - s->agent_pos[j][1];
            if (sqrtf(dx * dx + dy * dy) < 2.0f * SPREAD_AGENT_RADIUS) local -= 1.0f;
        }
        agent_reward[i] = local * p->local_ratio + global * (1.0f - p->local_ratio);
        team += agent_reward[i];
    }
    return team;
}

/* obs: [N][6N]; avail: [N][5], all legal. */
HD static inline void spread_observe(const spread_state *s, const spread_params *p, float *obs, uint8_t *avail) {
    int n = p->n_agents, O = spread_obs_size(n);
    for (int i = 0; i < n; i++) {
        float *o = obs + i * O;
        int k = 0;
        o[k++] = s->agent_vel[i][0];
        o[k++] = s->agent_vel[i][1];
        o[k++] = s->agent_pos[i][0];
        o[k++] = s->agent_pos[i][1];
        for (int l = 0; l < n; l++) {
            o[k++] = s->landmark_pos[l][0] - s->agent_pos[i][0];
            o[k++] = s->landmark_pos[l][1] - s->agent_pos[i][1];
        }
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            o[k++] = s->agent_pos[j][0] - s->agent_pos[i][0];
            o[k++] = s->agent_pos[j][1] - s->agent_pos[i][1];
        }
        for (int j = 0; j < 2 * (n - 1); j++) o[k++] = 0.0f; /* silent agents */
        if (avail)
            for (int a = 0; a < SPREAD_ACTIONS; a++) avail[i * SPREAD_ACTIONS + a] = 1;
    }
}

#endif
