/* The environment registry: env.name and env.scenario to parameters, with
 * the presets of JaxMARL and Mava and a parsed syntax for custom sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envs/vecenv.h"
#include "src/check.h"

#define MAX_STEPS_LIMIT (1 << 24)

static const char *catalogue =
    "mpe_simple_spread: 3ag (default), 5ag, 10ag, or <N>ag with 1 <= N <= 10 | "
    "lbf: 2s-8x8-2p-2f-coop (default), 8x8-2p-2f-coop, 2s-10x10-3p-3f, 10x10-3p-3f, 15x15-3p-5f, 15x15-4p-3f, "
    "15x15-4p-5f, or [<fov>s-]<G>x<G>-<N>p-<F>f[-coop] | "
    "rware: tiny-2ag (default), tiny-4ag, tiny-4ag-easy, small-4ag, or {tiny|small|medium|large|<rows>x<cols>}-<N>ag[-easy|-hard] | "
    "climbing: default | "
    "chain: n2-l5 (default), or n<N>-l<L>";

const char *mz_env_catalogue(void) { return catalogue; }

int mz_env_params_stack(mz_env_params *p, int frames, char *err, size_t err_len) {
    if (frames < 1 || frames > MZ_ENV_MAX_STACK) {
        snprintf(err, err_len, "env.stack_observations: expected 1 to %d, got %d", MZ_ENV_MAX_STACK, frames);
        return MZ_EXIT_USAGE;
    }
    p->stack = frames;
    p->O = frames * p->frame;
    p->S = p->N * p->O; /* the global state is every agent's observation */
    return 0;
}

/* Parses "<int><suffix>" at *s, advancing past it; -1 if absent. */
static int take_int(const char **s, const char *suffix) {
    char *end = NULL;
    if (**s < '0' || **s > '9') return -1;
    long v = strtol(*s, &end, 10);
    size_t n = strlen(suffix);
    if (strncmp(end, suffix, n) != 0 || v > 1000000) return -1;
    *s = end + n;
    return (int)v;
}

static int fail(char *err, size_t len, const char *fmt, const char *a, const char *b) {
    snprintf(err, len, fmt, a, b);
    return MZ_EXIT_USAGE;
}

static int resolve_spread(mz_env_params *p, const char *scenario, char *err, size_t len) {
    const char *s = scenario;
    int n = take_int(&s, "ag");
    if (n < 0 || *s) return fail(err, len, "env.scenario: '%s' is not an mpe_simple_spread scenario (expected <N>ag, e.g. %s)", scenario, "3ag");
    if (n < 1 || n > SPREAD_MAX_AGENTS) {
        snprintf(err, len, "env.scenario '%s': mpe_simple_spread needs 1 to %d agents, got %d", scenario, SPREAD_MAX_AGENTS, n);
        return MZ_EXIT_USAGE;
    }
    p->kind = MZ_ENV_SPREAD;
    p->p.spread.n_agents = n;
    p->p.spread.local_ratio = 0.5f;
    p->N = n;
    p->O = spread_obs_size(n);
    p->A = SPREAD_ACTIONS;
    p->max_steps = 25;
    p->state_bytes = (int)sizeof(spread_state);
    return 0;
}

static int resolve_lbf(mz_env_params *p, const char *scenario, char *err, size_t len) {
    const char *s = scenario;
    int fov = -1, G, G2, n, f, coop = 0;
    const char *mark = s;
    int maybe_fov = take_int(&s, "s-");
    if (maybe_fov >= 0) fov = maybe_fov;
    else s = mark;
    G = take_int(&s, "x");
    G2 = G >= 0 ? take_int(&s, "-") : -1;
    n = G2 >= 0 ? take_int(&s, "p-") : -1;
    f = n >= 0 ? take_int(&s, "f") : -1;
    if (f >= 0 && !strcmp(s, "-coop")) coop = 1, s += 5;
    if (f < 0 || *s || G != G2)
        return fail(err, len, "env.scenario: '%s' is not an lbf scenario (expected [<fov>s-]<G>x<G>-<N>p-<F>f[-coop], e.g. %s)",
                    scenario, "2s-8x8-2p-2f-coop");
    if (fov < 0) fov = G;
    char why[160] = "";
    if (n < 1 || n > LBF_MAX_AGENTS) snprintf(why, sizeof why, "needs 1 to %d agents, got %d", LBF_MAX_AGENTS, n);
    else if (f < 1 || f > LBF_MAX_FOOD) snprintf(why, sizeof why, "needs 1 to %d food, got %d", LBF_MAX_FOOD, f);
    else if (G < 5 || G > LBF_MAX_GRID) snprintf(why, sizeof why, "needs a grid of 5 to %d, got %d", LBF_MAX_GRID, G);
    else if (fov < 1 || fov > G) snprintf(why, sizeof why, "needs a field of view of 1 to the grid size %d, got %d", G, fov);
    else if ((G - 2) * (G - 2) - n <= 5 * f)
        snprintf(why, sizeof why, "%d food do not fit: (grid-2)^2 - agents = %d free inner cells, more than 5 x food = %d needed",
                 f, (G - 2) * (G - 2) - n, 5 * f);
    if (why[0]) return fail(err, len, "env.scenario '%s': lbf %s", scenario, why);
    p->kind = MZ_ENV_LBF;
    lbf_params *l = &p->p.lbf;
    l->grid_size = G, l->fov = fov, l->n_agents = n, l->n_food = f, l->max_agent_level = 2, l->force_coop = coop;
    p->N = n;
    p->O = lbf_obs_size(l);
    p->A = LBF_ACTIONS;
    p->max_steps = 100;
    p->state_bytes = (int)sizeof(lbf_state);
    return 0;
}

static int resolve_rware(mz_env_params *p, const char *scenario, char *err, size_t len) {
    static const struct {
        const char *name;
        int rows, cols;
    } sizes[] = {{"tiny-", 1, 3}, {"small-", 2, 3}, {"medium-", 2, 5}, {"large-", 3, 5}};
    const char *s = scenario;
    int rows = -1, cols = -1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t k = strlen(sizes[i].name);
        if (!strncmp(s, sizes[i].name, k)) rows = sizes[i].rows, cols = sizes[i].cols, s += k;
    }
    if (rows < 0) {
        rows = take_int(&s, "x");
        cols = rows >= 0 ? take_int(&s, "-") : -1;
    }
    int n = cols >= 0 ? take_int(&s, "ag") : -1;
    int queue = n;
    if (n >= 0 && !strcmp(s, "-easy")) queue = 2 * n, s += 5;
    else if (n >= 0 && !strcmp(s, "-hard")) queue = n / 2, s += 5;
    if (n < 0 || *s)
        return fail(err, len, "env.scenario: '%s' is not an rware scenario (expected {tiny|small|medium|large|<rows>x<cols>}-<N>ag[-easy|-hard], e.g. %s)",
                    scenario, "tiny-2ag");
    rware_params *r = &p->p.rware;
    r->shelf_rows = rows, r->shelf_columns = cols, r->column_height = 8, r->n_agents = n, r->sensor_range = 1;
    r->queue_size = queue;
    r->H = (r->column_height + 1) * rows + 2;
    r->W = 3 * cols + 1;
    r->n_shelves = 0;
    if (r->H <= RWARE_MAX_H && r->W <= RWARE_MAX_W)
        for (int x = 0; x < r->H; x++)
            for (int y = 0; y < r->W; y++) r->n_shelves += !rware_is_highway(r, x, y);
    char why[160] = "";
    if (cols % 2 == 0) snprintf(why, sizeof why, "needs an odd number of shelf columns, got %d", cols);
    else if (rows < 1 || cols < 1 || r->H > RWARE_MAX_H || r->W > RWARE_MAX_W)
        snprintf(why, sizeof why, "grid %dx%d is outside 1x1 .. %dx%d", r->H, r->W, RWARE_MAX_H, RWARE_MAX_W);
    else if (n < 1 || n > RWARE_MAX_AGENTS) snprintf(why, sizeof why, "needs 1 to %d agents, got %d", RWARE_MAX_AGENTS, n);
    else if (n > r->H * r->W) snprintf(why, sizeof why, "%d agents do not fit on %d cells", n, r->H * r->W);
    else if (queue < 1 || queue > RWARE_MAX_QUEUE || queue >= r->n_shelves)
        snprintf(why, sizeof why, "request queue of %d must be 1 to %d and below the %d shelves", queue, RWARE_MAX_QUEUE, r->n_shelves);
    if (why[0]) return fail(err, len, "env.scenario '%s': rware %s", scenario, why);
    p->kind = MZ_ENV_RWARE;
    p->N = n;
    p->O = rware_obs_size(r);
    p->A = RWARE_ACTIONS;
    p->max_steps = 500;
    p->state_bytes = (int)sizeof(rware_state);
    return 0;
}

static int resolve_climbing(mz_env_params *p, const char *scenario, char *err, size_t len) {
    if (strcmp(scenario, "default"))
        return fail(err, len, "env.scenario: '%s' is not a climbing scenario (expected %s)", scenario, "default");
    p->kind = MZ_ENV_CLIMBING;
    p->N = CLIMBING_AGENTS;
    p->O = CLIMBING_AGENTS;
    p->A = CLIMBING_ACTIONS;
    p->max_steps = 1;
    p->state_bytes = (int)sizeof(climbing_state);
    return 0;
}

static int resolve_chain(mz_env_params *p, const char *scenario, char *err, size_t len) {
    const char *s = scenario;
    int n = *s == 'n' ? (s++, take_int(&s, "-l")) : -1;
    int L = n >= 0 ? take_int(&s, "") : -1;
    if (L < 0 || *s) return fail(err, len, "env.scenario: '%s' is not a chain scenario (expected n<N>-l<L>, e.g. %s)", scenario, "n2-l5");
    if (n < 1 || n > CHAIN_MAX_AGENTS || L < 2 || L > 1000) {
        snprintf(err, len, "env.scenario '%s': chain needs 1 to %d agents and a length of 2 to 1000", scenario, CHAIN_MAX_AGENTS);
        return MZ_EXIT_USAGE;
    }
    p->kind = MZ_ENV_CHAIN;
    p->p.chain.n_agents = n;
    p->p.chain.length = L;
    p->N = n;
    p->O = 1 + n;
    p->A = CHAIN_ACTIONS;
    p->max_steps = 2 * L;
    p->state_bytes = (int)sizeof(chain_state);
    return 0;
}

int mz_env_params_resolve(mz_env_params *p, const char *name, const char *scenario, int max_steps, uint64_t seed,
                          char *err, size_t err_len) {
    static const struct {
        const char *name;
        const char *default_scenario;
        int (*resolve)(mz_env_params *, const char *, char *, size_t);
    } envs[] = {
        {"mpe_simple_spread", "3ag", resolve_spread}, {"lbf", "2s-8x8-2p-2f-coop", resolve_lbf},
        {"rware", "tiny-2ag", resolve_rware},         {"climbing", "default", resolve_climbing},
        {"chain", "n2-l5", resolve_chain},
    };
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        if (strcmp(name, envs[i].name)) continue;
        int rc = envs[i].resolve(p, scenario[0] ? scenario : envs[i].default_scenario, err, err_len);
        if (rc) return rc;
        if (max_steps < 0 || max_steps > MAX_STEPS_LIMIT) {
            snprintf(err, err_len, "env.max_steps: expected 0 (the env's default) to %d, got %d", MAX_STEPS_LIMIT, max_steps);
            return MZ_EXIT_USAGE;
        }
        if (max_steps > 0) p->max_steps = max_steps;
        p->frame = p->O;
        p->stack = 1;
        p->S = p->N * p->O;
        p->seed = seed;
        return 0;
    }
    snprintf(err, err_len, "env.name: '%s' is not an environment (known: mpe_simple_spread, lbf, rware, climbing, chain)", name);
    return MZ_EXIT_USAGE;
}
