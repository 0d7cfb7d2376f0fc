/* One conformance suite for every environment and scenario (OpenSpiel
 * style): random legal play for many episodes, checking bounds, masks,
 * termination and truncation, auto-reset, returns, and that a seed gives
 * bitwise the same trajectories across thread counts and on the emulated
 * CUDA backend. */
#include <malloc.h>
#if defined(__SANITIZE_ADDRESS__)
/* in the ASan runtime; gcc 12 ships no header declaring it */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "envs/vecenv.h"
#include "src/check.h"
#include "src/rng.h"
#include "tests/test_util.h"

#define E_TEST 8
#define STEPS 240

typedef struct {
    const char *name, *scenario;
    int max_steps; /* 0: the env's own */
} env_case;

static const env_case CASES[] = {
    {"mpe_simple_spread", "3ag", 0}, {"mpe_simple_spread", "5ag", 0},  {"mpe_simple_spread", "10ag", 0},
    {"lbf", "2s-8x8-2p-2f-coop", 0}, {"lbf", "8x8-2p-2f-coop", 0},     {"lbf", "2s-10x10-3p-3f", 0},
    {"lbf", "10x10-3p-3f", 0},       {"lbf", "15x15-3p-5f", 0},        {"lbf", "15x15-4p-3f", 0},
    {"lbf", "15x15-4p-5f", 0},       {"rware", "tiny-2ag", 60},        {"rware", "tiny-4ag", 60},
    {"rware", "tiny-4ag-easy", 60},  {"rware", "small-4ag", 60},       {"climbing", "default", 0},
    {"chain", "n2-l5", 0},           {"chain", "n3-l8", 0},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

typedef struct {
    float *obs, *final_obs, *state, *reward, *agent_reward, *done_return, *ep_return;
    int32_t *actions, *done_length, *ep_length;
    uint8_t *terminated, *truncated, *avail;
} host_view;

static host_view host_alloc(const mz_env_params *p, int E) {
    host_view h;
    size_t e = (size_t)E, N = (size_t)p->N;
    h.obs = (float *)mz_malloc(e * N * (size_t)p->O * sizeof(float));
    h.final_obs = (float *)mz_malloc(e * N * (size_t)p->O * sizeof(float));
    h.state = (float *)mz_malloc(e * (size_t)p->S * sizeof(float));
    h.reward = (float *)mz_malloc(e * sizeof(float));
    h.agent_reward = (float *)mz_malloc(e * N * sizeof(float));
    h.done_return = (float *)mz_malloc(e * sizeof(float));
    h.ep_return = (float *)mz_malloc(e * sizeof(float));
    h.actions = (int32_t *)mz_malloc(e * N * sizeof(int32_t));
    h.done_length = (int32_t *)mz_malloc(e * sizeof(int32_t));
    h.ep_length = (int32_t *)mz_malloc(e * sizeof(int32_t));
    h.terminated = (uint8_t *)mz_malloc(e);
    h.truncated = (uint8_t *)mz_malloc(e);
    h.avail = (uint8_t *)mz_malloc(e * N * (size_t)p->A);
    return h;
}

static void host_free(host_view *h) {
    free(h->obs), free(h->final_obs), free(h->state), free(h->reward), free(h->agent_reward), free(h->done_return);
    free(h->ep_return), free(h->actions), free(h->done_length), free(h->ep_length), free(h->terminated);
    free(h->truncated), free(h->avail);
}

static void download(mz_vecenv *v, host_view *h) {
    mz_backend *be = v->be;
    const mz_env_params *p = &v->params;
    size_t e = (size_t)v->E, N = (size_t)p->N;
    be->copy_d2h(be, h->obs, v->buf.obs, e * N * (size_t)p->O * sizeof(float));
    be->copy_d2h(be, h->final_obs, v->buf.final_obs, e * N * (size_t)p->O * sizeof(float));
    be->copy_d2h(be, h->state, v->buf.global_state, e * (size_t)p->S * sizeof(float));
    be->copy_d2h(be, h->reward, v->buf.reward, e * sizeof(float));
    be->copy_d2h(be, h->agent_reward, v->buf.agent_reward, e * N * sizeof(float));
    be->copy_d2h(be, h->done_return, v->buf.done_return, e * sizeof(float));
    be->copy_d2h(be, h->ep_return, v->buf.ep_return, e * sizeof(float));
    be->copy_d2h(be, h->done_length, v->buf.done_length, e * sizeof(int32_t));
    be->copy_d2h(be, h->ep_length, v->buf.ep_length, e * sizeof(int32_t));
    be->copy_d2h(be, h->terminated, v->buf.terminated, e);
    be->copy_d2h(be, h->truncated, v->buf.truncated, e);
    be->copy_d2h(be, h->avail, v->buf.avail, e * N * (size_t)p->A);
}

static void check_observation(const env_case *c, const mz_vecenv *v, const host_view *h, int t) {
    const mz_env_params *p = &v->params;
    int NO = p->N * p->O;
    for (int e = 0; e < v->E; e++) {
        for (int i = 0; i < NO; i++) {
            float x = h->obs[e * NO + i];
            if (!isfinite(x) || fabsf(x) > v->obs_bound)
                fail_msg("%s/%s step %d env %d: obs[%d] = %g outside [-%g, %g]", c->name, c->scenario, t, e, i, x,
                         v->obs_bound, v->obs_bound);
        }
        if (memcmp(h->state + e * p->S, h->obs + e * NO, (size_t)NO * sizeof(float)))
            fail_msg("%s/%s step %d env %d: global state is not the agents' observations", c->name, c->scenario, t, e);
        for (int a = 0; a < p->N; a++) {
            int legal = 0;
            for (int k = 0; k < p->A; k++) legal += h->avail[(e * p->N + a) * p->A + k];
            if (!legal) fail_msg("%s/%s step %d env %d agent %d: no legal action", c->name, c->scenario, t, e, a);
        }
    }
}

/* Plays STEPS random legal steps; returns a hash of everything observed. */
static uint64_t play(const env_case *c, mz_backend *be, uint64_t seed, bool check) {
    mz_env_params p;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, c->name, c->scenario, c->max_steps, seed, err, sizeof err) == 0, "%s", err);
    mz_vecenv *v = mz_vecenv_create(be, &p, E_TEST);
    host_view h = host_alloc(&p, E_TEST);
    double running[E_TEST] = {0};
    int length[E_TEST] = {0}, episodes = 0;
    uint64_t hash = 1469598103934665603ull;
    size_t NO = (size_t)(p.N * p.O);
    mz_vecenv_reset(v);
    download(v, &h);
    if (check) check_observation(c, v, &h, -1);
    for (int t = 0; t < STEPS; t++) {
        for (int e = 0; e < E_TEST; e++) {
            for (int a = 0; a < p.N; a++) {
                mz_rng r;
                mz_rng_init(&r, seed, 99, (uint64_t)((t * E_TEST + e) * p.N + a));
                float w[16];
                for (int k = 0; k < p.A; k++) w[k] = h.avail[(e * p.N + a) * p.A + k];
                h.actions[e * p.N + a] = mz_rng_categorical(&r, w, p.A);
            }
        }
        be->copy_h2d(be, v->buf.actions, h.actions, (size_t)(E_TEST * p.N) * sizeof(int32_t));
        mz_vecenv_step(v);
        download(v, &h);
        hash = fnv(hash, h.obs, E_TEST * NO * sizeof(float));
        hash = fnv(hash, h.reward, E_TEST * sizeof(float));
        hash = fnv(hash, h.agent_reward, E_TEST * (size_t)p.N * sizeof(float));
        hash = fnv(hash, h.terminated, E_TEST);
        hash = fnv(hash, h.truncated, E_TEST);
        hash = fnv(hash, h.avail, E_TEST * (size_t)(p.N * p.A));
        if (!check) continue;
        check_observation(c, v, &h, t);
        for (int e = 0; e < E_TEST; e++) {
            double team_check = 0;
            for (int a = 0; a < p.N; a++) team_check += h.agent_reward[e * p.N + a];
            if (p.kind == MZ_ENV_RWARE || p.kind == MZ_ENV_CLIMBING) team_check = h.agent_reward[e * p.N];
            if (fabs(team_check - h.reward[e]) > 1e-5 * (1 + fabs(team_check)))
                fail_msg("%s/%s: team reward %g is not the agents' %g", c->name, c->scenario, h.reward[e], team_check);
            running[e] += h.reward[e];
            length[e]++;
            int done = h.terminated[e] || h.truncated[e];
            if (h.terminated[e] && h.truncated[e]) fail_msg("%s/%s: terminated and truncated at once", c->name, c->scenario);
            if (h.truncated[e] && length[e] != p.max_steps)
                fail_msg("%s/%s: truncated after %d steps, max_steps is %d", c->name, c->scenario, length[e], p.max_steps);
            if (length[e] > p.max_steps) fail_msg("%s/%s: episode longer than max_steps", c->name, c->scenario);
            if (!done) {
                if (h.ep_length[e] != length[e]) fail_msg("%s/%s: ep_length %d, counted %d", c->name, c->scenario, h.ep_length[e], length[e]);
                continue;
            }
            episodes++;
            if (h.done_length[e] != length[e] || fabs(h.done_return[e] - running[e]) > 1e-4 * (1 + fabs(running[e])))
                fail_msg("%s/%s env %d: episode return %g over %d steps, summed %g over %d", c->name, c->scenario, e,
                         h.done_return[e], h.done_length[e], running[e], length[e]);
            for (size_t i = 0; i < NO; i++)
                if (!isfinite(h.final_obs[e * NO + i])) fail_msg("%s/%s: final observation not finite", c->name, c->scenario);
            if (h.ep_length[e] != 0 || h.ep_return[e] != 0.0f)
                fail_msg("%s/%s: the auto-reset episode does not start at zero", c->name, c->scenario);
            running[e] = 0;
            length[e] = 0;
        }
    }
    if (check && episodes == 0) fail_msg("%s/%s: no episode ended in %d steps of %d envs", c->name, c->scenario, STEPS, E_TEST);
    host_free(&h);
    mz_vecenv_destroy(v);
    return hash;
}

static void test_conformance_all_envs(void **state) {
    (void)state;
    for (int i = 0; i < N_CASES; i++) {
        uint64_t cpu = play(&CASES[i], test_cpu_backend(), 7, true);
        uint64_t emu = play(&CASES[i], test_emu_backend(), 7, true);
        if (cpu != emu) fail_msg("%s/%s: CPU and emulated CUDA trajectories differ", CASES[i].name, CASES[i].scenario);
#ifdef _OPENMP
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        uint64_t one = play(&CASES[i], test_cpu_backend(), 7, false);
        omp_set_num_threads(threads);
        if (cpu != one) fail_msg("%s/%s: 1 thread and %d threads differ", CASES[i].name, CASES[i].scenario, threads);
#endif
        if (CASES[i].name[0] != 'c' && play(&CASES[i], test_cpu_backend(), 8, false) == cpu)
            fail_msg("%s/%s: seeds 7 and 8 give the same trajectories", CASES[i].name, CASES[i].scenario);
    }
}

/* Bytes the heap holds now: ASan's allocator does not report through
 * mallinfo2, so sanitizer builds ask it directly. */
static size_t heap_bytes(void) {
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
#endif
}

/* Nothing is allocated inside a step (the design allocates at create). */
static void test_no_allocation_in_step(void **state) {
    (void)state;
    for (int i = 0; i < N_CASES; i++) {
        mz_env_params p;
        char err[256];
        MZ_CHECK(mz_env_params_resolve(&p, CASES[i].name, CASES[i].scenario, CASES[i].max_steps, 3, err, sizeof err) == 0, "%s", err);
        mz_vecenv *v = mz_vecenv_create(test_cpu_backend(), &p, 64);
        mz_vecenv_reset(v);
        mz_vecenv_step(v); /* warm the OpenMP pool */
        size_t before = heap_bytes();
        for (int t = 0; t < 200; t++) mz_vecenv_step(v);
        size_t after = heap_bytes();
        if (after != before)
            fail_msg("%s/%s: step changed the heap (%zu -> %zu bytes)", CASES[i].name, CASES[i].scenario, before, after);
        mz_vecenv_destroy(v);
    }
}

/* The two small games reach their known optima. */
static void test_known_optima(void **state) {
    (void)state;
    mz_backend *be = test_cpu_backend();
    mz_env_params p;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, "climbing", "", 0, 1, err, sizeof err) == 0, "%s", err);
    mz_vecenv *v = mz_vecenv_create(be, &p, 9);
    mz_vecenv_reset(v);
    int32_t joint[18];
    for (int e = 0; e < 9; e++) joint[2 * e] = e / 3, joint[2 * e + 1] = e % 3;
    be->copy_h2d(be, v->buf.actions, joint, sizeof joint);
    mz_vecenv_step(v);
    float returns[9];
    uint8_t trunc[9];
    be->copy_d2h(be, returns, v->buf.done_return, sizeof returns);
    be->copy_d2h(be, trunc, v->buf.truncated, sizeof trunc);
    const float payoff[9] = {11, -30, 0, -30, 7, 6, 0, 0, 5};
    for (int e = 0; e < 9; e++) {
        assert_true(trunc[e]);
        assert_true(returns[e] == payoff[e]);
    }
    mz_vecenv_destroy(v);

    MZ_CHECK(mz_env_params_resolve(&p, "chain", "n3-l8", 0, 1, err, sizeof err) == 0, "%s", err);
    v = mz_vecenv_create(be, &p, 1);
    mz_vecenv_reset(v);
    int32_t right[3] = {2, 2, 2};
    uint8_t term = 0;
    int steps = 0;
    while (!term) {
        be->copy_h2d(be, v->buf.actions, right, sizeof right);
        mz_vecenv_step(v);
        be->copy_d2h(be, &term, v->buf.terminated, 1);
        steps++;
        assert_true(steps <= 7);
    }
    float ret;
    be->copy_d2h(be, &ret, v->buf.done_return, sizeof ret);
    assert_int_equal(steps, 7);
    assert_true(fabsf(ret - chain_optimal_return(&p.p.chain)) < 1e-6f);
    mz_vecenv_destroy(v);
}

/* Bad scenarios are config errors naming the value. */
static void test_bad_scenarios(void **state) {
    (void)state;
    struct {
        const char *name, *scenario, *message;
    } bad[] = {
        {"mpe_simple_spread", "0ag", "env.scenario '0ag': mpe_simple_spread needs 1 to 10 agents, got 0"},
        {"lbf", "8x8-0p-2f", "env.scenario '8x8-0p-2f': lbf needs 1 to 8 agents, got 0"},
        {"lbf", "6x6-2p-4f", "env.scenario '6x6-2p-4f': lbf 4 food do not fit: (grid-2)^2 - agents = 14 free inner cells, more than 5 x food = 20 needed"},
        {"lbf", "8x9-2p-2f", "env.scenario: '8x9-2p-2f' is not an lbf scenario"},
        {"rware", "1x4-2ag", "env.scenario '1x4-2ag': rware needs an odd number of shelf columns, got 4"},
        {"rware", "tiny-0ag", "env.scenario 'tiny-0ag': rware needs 1 to 8 agents, got 0"},
        {"chain", "n2-l1", "env.scenario 'n2-l1': chain needs 1 to 8 agents and a length of 2 to 1000"},
        {"climbing", "big", "env.scenario: 'big' is not a climbing scenario"},
        {"smac", "", "env.name: 'smac' is not an environment"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mz_env_params p;
        char err[256];
        int rc = mz_env_params_resolve(&p, bad[i].name, bad[i].scenario, 0, 1, err, sizeof err);
        if (rc != 2 || strncmp(err, bad[i].message, strlen(bad[i].message)))
            fail_msg("%s/%s: want '%s', got rc %d '%s'", bad[i].name, bad[i].scenario, bad[i].message, rc, err);
    }
}

/* Stacking (env.stack_observations): stepped beside an unstacked batch with
 * the same seed and actions, every agent's stacked observation is the
 * unstacked one's last SK observations of the episode, oldest first, the
 * first repeated where the episode is younger; a final observation stacks
 * the episode's last; rewards, masks and done flags are the same; CPU and
 * emulated CUDA give the same bits. */
#define SK 3
static uint64_t play_stacked(const env_case *c, mz_backend *be) {
    mz_env_params p, ps;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, c->name, c->scenario, c->max_steps, 5, err, sizeof err) == 0, "%s", err);
    ps = p;
    MZ_CHECK(mz_env_params_stack(&ps, SK, err, sizeof err) == 0, "%s", err);
    assert_int_equal(ps.O, SK * p.O);
    assert_int_equal(ps.S, ps.N * ps.O);
    mz_vecenv *v = mz_vecenv_create(be, &p, E_TEST), *vs = mz_vecenv_create(be, &ps, E_TEST);
    host_view h = host_alloc(&p, E_TEST), hs = host_alloc(&ps, E_TEST);
    enum { HIST = 64 };
    int N = p.N, F = p.O;
    size_t NF = (size_t)N * F;
    float *hist = (float *)mz_malloc(HIST * E_TEST * NF * sizeof(float)); /* [t % HIST][e][N][F] */
    int age[E_TEST] = {0}; /* observations of the current episode so far, minus one */
    uint64_t hash = 1469598103934665603ull;
    mz_vecenv_reset(v);
    mz_vecenv_reset(vs);
    for (int t = 0; t < STEPS; t++) {
        download(v, &h);
        download(vs, &hs);
        check_observation(c, vs, &hs, t);
        for (int e = 0; e < E_TEST; e++) memcpy(hist + ((size_t)(t % HIST) * E_TEST + e) * NF, h.obs + e * NF, NF * sizeof(float));
        for (int e = 0; e < E_TEST; e++)
            for (int i = 0; i < N; i++)
                for (int k = 0; k < SK; k++) {
                    int back = SK - 1 - k < age[e] ? SK - 1 - k : age[e]; /* steps back, the first at most */
                    const float *want = hist + ((size_t)((t - back) % HIST) * E_TEST + e) * NF + (size_t)i * F;
                    const float *got = hs.obs + ((size_t)e * N + i) * ps.O + (size_t)k * F;
                    if (memcmp(want, got, (size_t)F * sizeof(float)))
                        fail_msg("%s/%s step %d env %d agent %d: stacked slot %d is not the observation %d steps back",
                                 c->name, c->scenario, t, e, i, k, back);
                }
        if (memcmp(h.avail, hs.avail, E_TEST * (size_t)(N * p.A)))
            fail_msg("%s/%s step %d: stacking changed the legal actions", c->name, c->scenario, t);
        for (int e = 0; e < E_TEST; e++)
            for (int a = 0; a < N; a++) {
                mz_rng r;
                mz_rng_init(&r, 5, 98, (uint64_t)((t * E_TEST + e) * N + a));
                float w[16];
                for (int k = 0; k < p.A; k++) w[k] = h.avail[(e * N + a) * p.A + k];
                h.actions[e * N + a] = mz_rng_categorical(&r, w, p.A);
            }
        be->copy_h2d(be, v->buf.actions, h.actions, (size_t)(E_TEST * N) * sizeof(int32_t));
        be->copy_h2d(be, vs->buf.actions, h.actions, (size_t)(E_TEST * N) * sizeof(int32_t));
        mz_vecenv_step(v);
        mz_vecenv_step(vs);
        download(v, &h);
        download(vs, &hs);
        if (memcmp(h.reward, hs.reward, E_TEST * sizeof(float)) || memcmp(h.terminated, hs.terminated, E_TEST) ||
            memcmp(h.truncated, hs.truncated, E_TEST))
            fail_msg("%s/%s step %d: stacking changed rewards or episode ends", c->name, c->scenario, t);
        for (int e = 0; e < E_TEST; e++) {
            if (!h.terminated[e] && !h.truncated[e]) {
                age[e]++;
                continue;
            }
            for (int i = 0; i < N; i++) /* the final stack: the episode's last observations, then its final one */
                for (int k = 0; k < SK; k++) {
                    int back = SK - 2 - k; /* steps before the final observation */
                    const float *want = back < 0 ? h.final_obs + e * NF + (size_t)i * F
                                                 : hist + ((size_t)((t - (back < age[e] ? back : age[e])) % HIST) * E_TEST + e) * NF + (size_t)i * F;
                    const float *got = hs.final_obs + ((size_t)e * N + i) * ps.O + (size_t)k * F;
                    if (memcmp(want, got, (size_t)F * sizeof(float)))
                        fail_msg("%s/%s step %d env %d agent %d: final stacked slot %d wrong", c->name, c->scenario, t, e, i, k);
                }
            age[e] = 0;
        }
        hash = fnv(hash, hs.obs, E_TEST * N * (size_t)ps.O * sizeof(float));
        hash = fnv(hash, hs.final_obs, E_TEST * N * (size_t)ps.O * sizeof(float));
    }
    free(hist);
    host_free(&h);
    host_free(&hs);
    mz_vecenv_destroy(v);
    mz_vecenv_destroy(vs);
    return hash;
}

static void test_stacked_observations(void **state) {
    (void)state;
    for (int i = 0; i < N_CASES; i++) {
        uint64_t cpu = play_stacked(&CASES[i], test_cpu_backend());
        if (play_stacked(&CASES[i], test_emu_backend()) != cpu)
            fail_msg("%s/%s: stacked observations differ between CPU and emulated CUDA", CASES[i].name, CASES[i].scenario);
    }
    mz_env_params p;
    char err[256];
    MZ_CHECK(mz_env_params_resolve(&p, "chain", "", 0, 1, err, sizeof err) == 0, "%s", err);
    assert_int_equal(mz_env_params_stack(&p, 0, err, sizeof err), 2);
    assert_non_null(strstr(err, "env.stack_observations"));
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_all_envs),
        cmocka_unit_test(test_no_allocation_in_step),
        cmocka_unit_test(test_known_optima),
        cmocka_unit_test(test_bad_scenarios),
        cmocka_unit_test(test_stacked_observations),
    };
    return MZ_RUN_GROUP("env_conformance", tests);
}

MZ_TEST_GROUP("env_conformance", run_group)
