/* Level-Based Foraging, Jumanji LevelBasedForaging rules (vector observer,
 * normalised reward, penalty 0), ../shared/reference/marl-envs-and-ppo.md §3:
 *   - moves are rejected out of bounds, into another agent's pre-move cell
 *     or into uneaten food; agents whose new cells coincide all revert;
 *   - a food is eaten when the summed level of adjacent (Manhattan 1) loading
 *     agents reaches its level; agent i gets level_i * level_f /
 *     (adjacent level sum * total food level), so an episode pays 1 in all;
 *   - terminated when all food is eaten, truncated at max_steps.
 * Actions: 0 noop, 1 up (row-1), 2 down, 3 left (col-1), 4 right, 5 load.
 * Observation (3(F+N)): (row, col, level) of each food, then self, then the
 * other agents in index order, relative to the field of view; (-1, -1, 0)
 * when not visible (Chebyshev distance > fov, or food eaten).
 * Reset reproduces Jumanji's generator, including its quirk that agents
 * never spawn in a row whose index equals any food coordinate. */
#ifndef MZ_LBF_H
#define MZ_LBF_H

#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define LBF_MAX_AGENTS 8
#define LBF_MAX_FOOD 8
#define LBF_MAX_GRID 24
#define LBF_ACTIONS 6
#define LBF_LOAD 5

typedef struct {
    int grid_size, fov, n_agents, n_food, max_agent_level, force_coop;
} lbf_params;

typedef struct {
    int32_t agent_pos[LBF_MAX_AGENTS][2]; /* (row, col) */
    int32_t agent_level[LBF_MAX_AGENTS];
    int32_t food_pos[LBF_MAX_FOOD][2];
    int32_t food_level[LBF_MAX_FOOD];
    uint8_t food_eaten[LBF_MAX_FOOD];
    int32_t t;
    uint32_t episode;
} lbf_state;

HD static inline int lbf_obs_size(const lbf_params *p) { return 3 * (p->n_food + p->n_agents); }

/* The k-th set cell (k from 0) of a mask of n cells. */
HD static inline int lbf_kth_set(const uint8_t *mask, int n, int k) {
    for (int i = 0; i < n; i++)
        if (mask[i] && k-- == 0) return i;
    return -1;
}

HD static inline void lbf_reset(lbf_state *s, const lbf_params *p, mz_rng *r) {
    int G = p->grid_size, cells = G * G;
    uint8_t mask[LBF_MAX_GRID * LBF_MAX_GRID];
    /* food: not on an edge, no two adjacent (flat +-1 and +-G, as Jumanji) */
    for (int i = 0; i < cells; i++) {
        int row = i / G, col = i % G;
        mask[i] = row > 0 && row < G - 1 && col > 0 && col < G - 1;
    }
    for (int f = 0; f < p->n_food; f++) {
        int free_cells = 0;
        for (int i = 0; i < cells; i++) free_cells += mask[i];
        int pick = lbf_kth_set(mask, cells, (int)(mz_rng_u32(r) % (uint32_t)free_cells));
        s->food_pos[f][0] = pick / G;
        s->food_pos[f][1] = pick % G;
        const int around[5] = {pick, pick + 1, pick - 1, pick + G, pick - G};
        for (int k = 0; k < 5; k++)
            if (around[k] >= 0 && around[k] < cells) mask[around[k]] = 0;
        s->food_eaten[f] = 0;
    }
    /* agents: distinct cells; rows equal to any food coordinate are excluded */
    for (int i = 0; i < cells; i++) mask[i] = 1;
    for (int f = 0; f < p->n_food; f++)
        for (int c = 0; c < 2; c++)
            for (int col = 0; col < G; col++) mask[s->food_pos[f][c] * G + col] = 0;
    for (int a = 0; a < p->n_agents; a++) {
        int free_cells = 0;
        for (int i = 0; i < cells; i++) free_cells += mask[i];
        int pick = lbf_kth_set(mask, cells, (int)(mz_rng_u32(r) % (uint32_t)free_cells));
        mask[pick] = 0;
        s->agent_pos[a][0] = pick / G;
        s->agent_pos[a][1] = pick % G;
    }
    for (int a = 0; a < p->n_agents; a++) s->agent_level[a] = 1 + (int)(mz_rng_u32(r) % (uint32_t)p->max_agent_level);
    /* the sum of the three lowest agent levels */
    int sorted[LBF_MAX_AGENTS];
    for (int a = 0; a < p->n_agents; a++) {
        int v = s->agent_level[a], j = a;
        for (; j > 0 && sorted[j - 1] > v; j--) sorted[j] = sorted[j - 1];
        sorted[j] = v;
    }
    int max_food_level = 0;
    for (int a = 0; a < p->n_agents && a < 3; a++) max_food_level += sorted[a];
    for (int f = 0; f < p->n_food; f++)
        s->food_level[f] = p->force_coop ? max_food_level : 1 + (int)(mz_rng_u32(r) % (uint32_t)max_food_level);
    s->t = 0;
}

HD static inline int lbf_food_at(const lbf_state *s, const lbf_params *p, int row, int col) {
    for (int f = 0; f < p->n_food; f++)
        if (!s->food_eaten[f] && s->food_pos[f][0] == row && s->food_pos[f][1] == col) return 1;
    return 0;
}

HD static inline int lbf_agent_at(const lbf_state *s, const lbf_params *p, int row, int col, int except) {
    for (int a = 0; a < p->n_agents; a++)
        if (a != except && s->agent_pos[a][0] == row && s->agent_pos[a][1] == col) return 1;
    return 0;
}

HD static inline int lbf_abs(int x) { return x < 0 ? -x : x; }

/* Returns the team reward (sum of the agents'); sets *all_eaten. */
HD static inline float lbf_step(lbf_state *s, const lbf_params *p, const int32_t *actions, float *agent_reward,
                                int *all_eaten) {
    const int moves[LBF_ACTIONS][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}, {0, 0}};
    int G = p->grid_size, n = p->n_agents;
    int moved[LBF_MAX_AGENTS][2];
    for (int a = 0; a < n; a++) {
        int act = actions[a] >= 0 && actions[a] < LBF_ACTIONS ? actions[a] : 0;
        int row = s->agent_pos[a][0] + moves[act][0], col = s->agent_pos[a][1] + moves[act][1];
        int blocked = row < 0 || row >= G || col < 0 || col >= G || lbf_agent_at(s, p, row, col, a) ||
                      lbf_food_at(s, p, row, col);
        moved[a][0] = blocked ? s->agent_pos[a][0] : row;
        moved[a][1] = blocked ? s->agent_pos[a][1] : col;
    }
    int clash[LBF_MAX_AGENTS];
    for (int a = 0; a < n; a++) {
        clash[a] = 0;
        for (int b = 0; b < n; b++)
            if (b != a && moved[b][0] == moved[a][0] && moved[b][1] == moved[a][1]) clash[a] = 1;
    }
    for (int a = 0; a < n; a++) {
        if (clash[a]) continue;
        s->agent_pos[a][0] = moved[a][0];
        s->agent_pos[a][1] = moved[a][1];
    }
    int total_level = 0;
    for (int f = 0; f < p->n_food; f++) total_level += s->food_level[f];
    for (int a = 0; a < n; a++) agent_reward[a] = 0.0f;
    for (int f = 0; f < p->n_food; f++) {
        if (s->food_eaten[f]) continue;
        int adj_level[LBF_MAX_AGENTS], sum = 0;
        for (int a = 0; a < n; a++) {
            int dist = lbf_abs(s->agent_pos[a][0] - s->food_pos[f][0]) + lbf_abs(s->agent_pos[a][1] - s->food_pos[f][1]);
            adj_level[a] = (dist == 1 && actions[a] == LBF_LOAD) ? s->agent_level[a] : 0;
            sum += adj_level[a];
        }
        if (sum < s->food_level[f]) continue;
        s->food_eaten[f] = 1;
        for (int a = 0; a < n; a++)
            agent_reward[a] += (float)(adj_level[a] * s->food_level[f]) / (float)(sum * total_level);
    }
    s->t++;
    int eaten = 1;
    for (int f = 0; f < p->n_food; f++) eaten &= s->food_eaten[f];
    *all_eaten = eaten;
    float team = 0.0f;
    for (int a = 0; a < n; a++) team += agent_reward[a];
    return team;
}

HD static inline void lbf_put_entity(float *o, int visible, int row, int col, int level, const int32_t *viewer, int fov) {
    int min_row = fov < viewer[0] ? fov : viewer[0], min_col = fov < viewer[1] ? fov : viewer[1];
    o[0] = visible ? (float)(row - viewer[0] + min_row) : -1.0f;
    o[1] = visible ? (float)(col - viewer[1] + min_col) : -1.0f;
    o[2] = visible ? (float)level : 0.0f;
}

HD static inline int lbf_in_view(const int32_t *a, const int32_t *b, int fov) {
    return lbf_abs(a[0] - b[0]) <= fov && lbf_abs(a[1] - b[1]) <= fov;
}

/* obs: [N][3(F+N)]; avail: [N][6]. */
HD static inline void lbf_observe(const lbf_state *s, const lbf_params *p, float *obs, uint8_t *avail) {
    const int moves[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
    int n = p->n_agents, O = lbf_obs_size(p), G = p->grid_size;
    for (int i = 0; i < n; i++) {
        const int32_t *me = s->agent_pos[i];
        float *o = obs + i * O;
        for (int f = 0; f < p->n_food; f++)
            lbf_put_entity(o + 3 * f, !s->food_eaten[f] && lbf_in_view(me, s->food_pos[f], p->fov), s->food_pos[f][0],
                           s->food_pos[f][1], s->food_level[f], me, p->fov);
        o += 3 * p->n_food;
        lbf_put_entity(o, 1, me[0], me[1], s->agent_level[i], me, p->fov);
        o += 3;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            lbf_put_entity(o, lbf_in_view(me, s->agent_pos[j], p->fov), s->agent_pos[j][0], s->agent_pos[j][1],
                           s->agent_level[j], me, p->fov);
            o += 3;
        }
        if (!avail) continue;
        uint8_t *m = avail + i * LBF_ACTIONS;
        for (int a = 0; a < 5; a++) {
            int row = me[0] + moves[a][0], col = me[1] + moves[a][1];
            m[a] = !(row < 0 || row >= G || col < 0 || col >= G || lbf_agent_at(s, p, row, col, i) ||
                     lbf_food_at(s, p, row, col));
        }
        int food_adjacent = 0;
        for (int f = 0; f < p->n_food; f++)
            food_adjacent |= !s->food_eaten[f] &&
                             lbf_abs(me[0] - s->food_pos[f][0]) + lbf_abs(me[1] - s->food_pos[f][1]) == 1;
        m[LBF_LOAD] = (uint8_t)food_adjacent;
    }
}

#endif
