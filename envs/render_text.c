/* Text frames of every environment. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "envs/render.h"

typedef struct {
    char *out;
    size_t len, used;
} text_buf;

static void put(text_buf *t, const char *fmt, ...) {
    if (t->used + 1 >= t->len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->out + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0) t->used += (size_t)n < t->len - t->used ? (size_t)n : t->len - t->used - 1;
}

/* LBF: agents as letters A.. (level after the grid), food as its level. */
static void text_lbf(text_buf *t, const lbf_params *p, const lbf_state *s) {
    for (int r = 0; r < p->grid_size; r++) {
        for (int c = 0; c < p->grid_size; c++) {
            char ch = '.';
            for (int f = 0; f < p->n_food; f++)
                if (!s->food_eaten[f] && s->food_pos[f][0] == r && s->food_pos[f][1] == c) ch = (char)('0' + s->food_level[f] % 10);
            for (int a = 0; a < p->n_agents; a++)
                if (s->agent_pos[a][0] == r && s->agent_pos[a][1] == c) ch = (char)('A' + a);
            put(t, "%c", ch);
        }
        put(t, "\n");
    }
    put(t, "step %d; levels:", s->t);
    for (int a = 0; a < p->n_agents; a++) put(t, " %c=%d", 'A' + a, s->agent_level[a]);
    put(t, "\n");
}

/* RWARE: '.' highway, '#' shelf, '$' requested shelf, 'G' goal, agents as
 * arrows of their heading (lower case 'n e s w' when carrying). */
static void text_rware(text_buf *t, const rware_params *p, const rware_state *s) {
    const char facing[4] = {'^', '>', 'v', '<'}, carrying[4] = {'n', 'e', 's', 'w'};
    for (int x = 0; x < p->H; x++) {
        for (int y = 0; y < p->W; y++) {
            char ch = rware_is_highway(p, x, y) ? '.' : ' ';
            if (x == p->H - 1 && (y == p->W / 2 - 1 || y == p->W / 2)) ch = 'G';
            int shelf = s->shelf_grid[x][y];
            if (shelf) ch = s->requested[shelf - 1] ? '$' : '#';
            int a = s->agent_grid[x][y];
            if (a) ch = s->carrying[a - 1] ? carrying[s->agent_dir[a - 1]] : facing[s->agent_dir[a - 1]];
            put(t, "%c", ch);
        }
        put(t, "\n");
    }
    put(t, "step %d; requested:", s->t);
    for (int q = 0; q < p->queue_size; q++) put(t, " %d", s->queue[q]);
    put(t, "\n");
}

/* simple_spread: a 31 x 31 view of [-1.5, 1.5]^2; agents as digits, landmarks 'o'. */
static void text_spread(text_buf *t, const spread_params *p, const spread_state *s) {
    enum { SIDE = 31 };
    char grid[SIDE][SIDE];
    memset(grid, '.', sizeof grid);
    for (int k = 0; k < 2 * p->n_agents; k++) {
        const float *pos = k < p->n_agents ? s->landmark_pos[k] : s->agent_pos[k - p->n_agents];
        int col = (int)((pos[0] + 1.5f) / 3.0f * (SIDE - 1) + 0.5f), row = (int)((1.5f - pos[1]) / 3.0f * (SIDE - 1) + 0.5f);
        if (row >= 0 && row < SIDE && col >= 0 && col < SIDE) grid[row][col] = k < p->n_agents ? 'o' : (char)('0' + (k - p->n_agents) % 10);
    }
    for (int r = 0; r < SIDE; r++) put(t, "%.*s\n", SIDE, grid[r]);
    put(t, "step %d (x right, y up, [-1.5, 1.5])\n", s->t);
}

size_t mz_env_render_text(const mz_env_params *p, const void *state, char *out, size_t len) {
    text_buf t = {out, len, 0};
    if (len) out[0] = '\0';
    switch (p->kind) {
    case MZ_ENV_LBF: text_lbf(&t, &p->p.lbf, (const lbf_state *)state); break;
    case MZ_ENV_RWARE: text_rware(&t, &p->p.rware, (const rware_state *)state); break;
    case MZ_ENV_SPREAD: text_spread(&t, &p->p.spread, (const spread_state *)state); break;
    case MZ_ENV_CHAIN: {
        const chain_state *s = (const chain_state *)state;
        for (int a = 0; a < p->p.chain.n_agents; a++) {
            for (int c = 0; c < p->p.chain.length; c++) put(&t, "%c", s->pos[a] == c ? (char)('A' + a) : c == p->p.chain.length - 1 ? '|' : '-');
            put(&t, "\n");
        }
        put(&t, "step %d\n", s->t);
        break;
    }
    default: put(&t, "climbing game, step %d (stateless)\n", ((const climbing_state *)state)->t); break;
    }
    return t.used;
}
