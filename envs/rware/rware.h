/* Robot Warehouse, Jumanji RobotWarehouse rules,
 * ../shared/reference/marl-envs-and-ppo.md §4, with Jumanji's quirks kept so
 * results compare with Mava's:
 *   - actions illegal under the previous step's mask become NOOP; the only
 *     illegal action is FORWARD while carrying into another shelf's cell;
 *   - agents act sequentially by id; FORWARD moves without an occupancy
 *     check (clamped to the grid) and collisions are detected afterwards:
 *     any agent whose cell no longer shows its id ends the episode
 *     (terminated);
 *   - NOOP, and TOGGLE while carrying, drop the shelf on a non-highway cell;
 *   - a requested shelf on a goal cell pays +1 to every agent (shared) and is
 *     replaced in the queue by a uniform pick among non-queued shelves; no
 *     drop is needed.
 * Jumanji reports the time limit as a termination; we keep it apart as
 * truncation (bootstrappable); the PPO config can treat it Jumanji's way.
 * Actions: 0 noop, 1 forward, 2 left, 3 right, 4 toggle load.
 * Directions: 0 up (row-1), 1 right (col+1), 2 down, 3 left.
 * Observation (8 + 5(R^2-1) + 2R^2, R = 2 sensor_range + 1; 66 for range 1):
 * row, col, carrying, one-hot direction, on highway; for each other cell of
 * the R x R window (row-major, self skipped): [1, one-hot direction] of an
 * agent there or zeros; for every cell: [1, requested] of a shelf or zeros. */
#ifndef MZ_RWARE_H
#define MZ_RWARE_H

#include <stdint.h>

#include "src/hd.h"
#include "src/rng.h"

#define RWARE_MAX_AGENTS 8
#define RWARE_MAX_H 32
#define RWARE_MAX_W 16
#define RWARE_MAX_SHELVES (RWARE_MAX_H * RWARE_MAX_W)
#define RWARE_MAX_QUEUE 32
#define RWARE_MAX_SENSOR 3
#define RWARE_ACTIONS 5
enum { RWARE_NOOP = 0, RWARE_FORWARD = 1, RWARE_LEFT = 2, RWARE_RIGHT = 3, RWARE_TOGGLE = 4 };

typedef struct {
    int shelf_rows, shelf_columns, column_height, n_agents, sensor_range, queue_size;
    int H, W, n_shelves; /* derived: (column_height+1) shelf_rows + 2, 3 shelf_columns + 1 */
} rware_params;

typedef struct {
    uint16_t shelf_grid[RWARE_MAX_H][RWARE_MAX_W]; /* shelf id + 1, 0 = none */
    uint8_t agent_grid[RWARE_MAX_H][RWARE_MAX_W];  /* agent id + 1, 0 = none */
    uint8_t requested[RWARE_MAX_SHELVES];
    int16_t queue[RWARE_MAX_QUEUE]; /* requested shelf ids */
    int16_t agent_pos[RWARE_MAX_AGENTS][2];
    uint8_t agent_dir[RWARE_MAX_AGENTS];
    uint8_t carrying[RWARE_MAX_AGENTS];
    uint8_t legal[RWARE_MAX_AGENTS]; /* bit a: action a legal, from the last mask */
    int32_t t;
    uint32_t episode;
} rware_state;

HD static inline int rware_obs_size(const rware_params *p) {
    int R = 2 * p->sensor_range + 1;
    return 8 + 5 * (R * R - 1) + 2 * R * R;
}

HD static inline int rware_is_highway(const rware_params *p, int x, int y) {
    return y % 3 == 0 || x % (p->column_height + 1) == 0 || x == p->H - 1 ||
           (x > p->H - (p->column_height + 3) && (y == p->W / 2 - 1 || y == p->W / 2));
}

HD static inline void rware_forward_target(const rware_params *p, int x, int y, int dir, int *nx, int *ny) {
    *nx = x, *ny = y;
    if (dir == 0) *nx = x > 0 ? x - 1 : 0;
    else if (dir == 1) *ny = y + 1 < p->W ? y + 1 : p->W - 1;
    else if (dir == 2) *nx = x + 1 < p->H ? x + 1 : p->H - 1;
    else *ny = y > 0 ? y - 1 : 0;
}

HD static inline uint8_t rware_legal_bits(const rware_state *s, const rware_params *p, int a) {
    int x = s->agent_pos[a][0], y = s->agent_pos[a][1], nx, ny;
    rware_forward_target(p, x, y, s->agent_dir[a], &nx, &ny);
    int forward_blocked = s->carrying[a] && (nx != x || ny != y) && s->shelf_grid[nx][ny] != 0;
    return (uint8_t)(0x1f & ~(forward_blocked << RWARE_FORWARD));
}

HD static inline void rware_update_legal(rware_state *s, const rware_params *p) {
    for (int a = 0; a < p->n_agents; a++) s->legal[a] = rware_legal_bits(s, p, a);
}

/* Uniform pick of k distinct values from 0..n-1 by partial Fisher-Yates over
 * a scratch array (n <= RWARE_MAX_SHELVES). */
HD static inline void rware_sample_distinct(mz_rng *r, int n, int k, int16_t *out) {
    int16_t pool[RWARE_MAX_SHELVES];
    for (int i = 0; i < n; i++) pool[i] = (int16_t)i;
    for (int i = 0; i < k; i++) {
        int j = i + (int)(mz_rng_u32(r) % (uint32_t)(n - i));
        int16_t tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
        out[i] = pool[i];
    }
}

HD static inline void rware_reset(rware_state *s, const rware_params *p, mz_rng *r) {
    int H = p->H, W = p->W;
    int16_t cells[RWARE_MAX_AGENTS];
    rware_sample_distinct(r, H * W, p->n_agents, cells);
    for (int x = 0; x < H; x++)
        for (int y = 0; y < W; y++) s->agent_grid[x][y] = 0;
    for (int a = 0; a < p->n_agents; a++) {
        s->agent_pos[a][0] = (int16_t)(cells[a] / W);
        s->agent_pos[a][1] = (int16_t)(cells[a] % W);
        s->agent_dir[a] = (uint8_t)(mz_rng_u32(r) % 4u);
        s->carrying[a] = 0;
        s->agent_grid[s->agent_pos[a][0]][s->agent_pos[a][1]] = (uint8_t)(a + 1);
    }
    rware_sample_distinct(r, p->n_shelves, p->queue_size, s->queue);
    for (int i = 0; i < p->n_shelves; i++) s->requested[i] = 0;
    for (int q = 0; q < p->queue_size; q++) s->requested[s->queue[q]] = 1;
    int id = 0;
    for (int x = 0; x < H; x++)
        for (int y = 0; y < W; y++) s->shelf_grid[x][y] = rware_is_highway(p, x, y) ? 0 : (uint16_t)(++id);
    s->t = 0;
    rware_update_legal(s, p);
}

/* Returns the shared reward (each agent's); sets *collision. `r` draws the
 * replacement requests. */
HD static inline float rware_step(rware_state *s, const rware_params *p, const int32_t *actions, float *agent_reward,
                                  int *collision, mz_rng *r) {
    int n = p->n_agents;
    for (int a = 0; a < n; a++) {
        int act = actions[a];
        if (act < 0 || act >= RWARE_ACTIONS || !((s->legal[a] >> act) & 1)) act = RWARE_NOOP;
        int x = s->agent_pos[a][0], y = s->agent_pos[a][1];
        if (act == RWARE_FORWARD) {
            int nx, ny;
            rware_forward_target(p, x, y, s->agent_dir[a], &nx, &ny);
            s->agent_pos[a][0] = (int16_t)nx;
            s->agent_pos[a][1] = (int16_t)ny;
            s->agent_grid[x][y] = 0;
            s->agent_grid[nx][ny] = (uint8_t)(a + 1);
            if (s->carrying[a]) {
                uint16_t shelf = s->shelf_grid[x][y];
                s->shelf_grid[x][y] = 0;
                s->shelf_grid[nx][ny] = shelf;
            }
        } else if (act == RWARE_LEFT || act == RWARE_RIGHT) {
            s->agent_dir[a] = (uint8_t)((s->agent_dir[a] + (act == RWARE_LEFT ? 3 : 1)) % 4);
        } else if (act == RWARE_TOGGLE && !s->carrying[a]) {
            if (s->shelf_grid[x][y] > 0) s->carrying[a] = 1;
        } else if (!rware_is_highway(p, x, y)) {
            s->carrying[a] = 0; /* NOOP or TOGGLE while carrying: drop off the highway */
        }
    }
    int hit = 0;
    for (int a = 0; a < n; a++) hit |= s->agent_grid[s->agent_pos[a][0]][s->agent_pos[a][1]] != a + 1;
    *collision = hit;
    float reward = 0.0f;
    const int goal_cols[2] = {p->W / 2 - 1, p->W / 2};
    for (int g = 0; g < 2; g++) {
        int shelf = (int)s->shelf_grid[p->H - 1][goal_cols[g]] - 1;
        if (shelf < 0 || !s->requested[shelf]) continue;
        /* the k-th shelf id not in the queue, in increasing order */
        int k = (int)(mz_rng_u32(r) % (uint32_t)(p->n_shelves - p->queue_size)), pick = -1;
        for (int i = 0; i < p->n_shelves && pick < 0; i++)
            if (!s->requested[i] && k-- == 0) pick = i;
        for (int q = 0; q < p->queue_size; q++)
            if (s->queue[q] == shelf) s->queue[q] = (int16_t)pick;
        s->requested[shelf] = 0;
        s->requested[pick] = 1;
        reward += 1.0f;
    }
    s->t++;
    rware_update_legal(s, p);
    for (int a = 0; a < n; a++) agent_reward[a] = reward;
    return reward;
}

/* Jumanji writes each block at min(index, O - size) (dynamic_update_slice
 * clamps) and advances the index by the block's size regardless. */
HD static inline void rware_write(float *o, int O, int *idx, const float *data, int size) {
    int at = *idx < O - size ? *idx : O - size;
    for (int i = 0; i < size; i++) o[at + i] = data[i];
    *idx += size;
}

/* obs: [N][O]; avail: [N][5] from the mask just computed. */
HD static inline void rware_observe(const rware_state *s, const rware_params *p, float *obs, uint8_t *avail) {
    int n = p->n_agents, O = rware_obs_size(p), R = p->sensor_range;
    for (int a = 0; a < n; a++) {
        float *o = obs + a * O;
        for (int i = 0; i < O; i++) o[i] = 0.0f;
        int x = s->agent_pos[a][0], y = s->agent_pos[a][1], idx = 0;
        float own[8] = {(float)x, (float)y, (float)s->carrying[a], 0, 0, 0, 0, (float)rware_is_highway(p, x, y)};
        own[3 + s->agent_dir[a]] = 1.0f;
        rware_write(o, O, &idx, own, 8);
        for (int dx = -R; dx <= R; dx++) {
            for (int dy = -R; dy <= R; dy++) {
                int cx = x + dx, cy = y + dy;
                int id = (cx >= 0 && cx < p->H && cy >= 0 && cy < p->W) ? s->agent_grid[cx][cy] : 0;
                if (id == a + 1) continue; /* self: nothing written */
                if (id == 0) {
                    idx += 5;
                    continue;
                }
                float cell[5] = {1, 0, 0, 0, 0};
                cell[1 + s->agent_dir[id - 1]] = 1.0f;
                rware_write(o, O, &idx, cell, 5);
            }
        }
        for (int dx = -R; dx <= R; dx++) {
            for (int dy = -R; dy <= R; dy++) {
                int cx = x + dx, cy = y + dy;
                int id = (cx >= 0 && cx < p->H && cy >= 0 && cy < p->W) ? s->shelf_grid[cx][cy] : 0;
                if (id == 0) {
                    idx += 2;
                    continue;
                }
                float cell[2] = {1, (float)s->requested[id - 1]};
                rware_write(o, O, &idx, cell, 2);
            }
        }
        if (avail)
            for (int act = 0; act < RWARE_ACTIONS; act++) avail[a * RWARE_ACTIONS + act] = (s->legal[a] >> act) & 1;
    }
}

#endif
