/* The learner: the same seed gives the identical loss sequence for 20
 * updates (bitwise, on the CPU and on the emulated CUDA backend), and on a
 * deterministic toy the model learns to predict rewards. */
#include <math.h>
#include <string.h>

#include "learner/learner.h"
#include "tests/test_util.h"

enum { E = 4, N = 2, O = 3, A = 2, K = 3, NS = 3, STEPS = 200, B = 16 };

/* The toy: a counter s_t per env (obs of agent i: [s mod 3 == 0, 1, i]),
 * actions a_i = (s + e + i) mod 2 from a fixed policy, team reward = number
 * of agents whose action equals s mod 2; episodes end (terminate) every 9
 * steps and are truncated every 13. */
static void fill(replay *r) {
    for (int t = 0; t < STEPS; t++) {
        float obs[E * N * O], rew[E], pol[E * N * A], val[E], fv[E];
        int32_t act[E * N];
        uint8_t term[E], trunc[E];
        for (int e = 0; e < E; e++) {
            int s = t + e;
            float rw = 0.0f;
            for (int i = 0; i < N; i++) {
                float *o = obs + (e * N + i) * O;
                o[0] = (s % 3) == 0 ? 1.0f : 0.0f;
                o[1] = (float)(s % 2);
                o[2] = (float)i;
                int a = (s + e + i) % 2;
                act[e * N + i] = a;
                rw += a == s % 2 ? 1.0f : 0.0f;
                pol[(e * N + i) * A + a] = 0.8f;
                pol[(e * N + i) * A + 1 - a] = 0.2f;
            }
            rew[e] = rw;
            val[e] = 1.0f;
            fv[e] = 1.0f;
            term[e] = (t + 1) % 9 == 0;
            trunc[e] = (t + 1) % 13 == 0;
        }
        replay_add(r, obs, act, rew, term, trunc, pol, val, fv);
    }
}

typedef struct {
    replay *rb;
    wm_model *m;
    learner *l;
} rig;

static rig make_rig(mz_backend *be, uint64_t seed) {
    wm_config c;
    memset(&c, 0, sizeof c);
    c.N = N, c.O = O, c.A = A, c.H = 16, c.F = 32, c.head_F = 16, c.P = 16, c.S = 5;
    c.comm_layers = 1, c.comm_heads = 2, c.comm_ff = 32, c.comm_concat = 1, c.zero_init = 1;
    c.K = K, c.max_batch = B, c.max_trees = 1, c.max_nodes = 1, c.max_envs = 1, c.discount = 0.9f;
    c.coef_reward = 1.0f, c.coef_value = 0.25f, c.coef_policy = 1.0f, c.coef_consistency = 2.0f;
    c.hidden_grad_scale = 0.5f, c.seed = seed;
    char err[256];
    rig g;
    g.m = wm_create(be, &c, err, sizeof err);
    assert_non_null(g.m);
    replay_config rc = {E, N, O, A, 64, K, NS, 0.9f, 0.6f, 0.4f, 1000, B, seed};
    g.rb = replay_create(&rc);
    fill(g.rb);
    learner_config lc = {B, {0.9f, 0.999f, 1e-8f, 1e-4f, 5.0f, 1.0f}, {3e-3f, 10, 1000, 3e-4f}};
    g.l = learner_create(g.m, g.rb, &lc);
    return g;
}

static void free_rig(rig *g) {
    learner_destroy(g->l);
    wm_destroy(g->m);
    replay_destroy(g->rb);
}

static void determinism(mz_backend *be) {
    float loss[2][20];
    for (int run = 0; run < 2; run++) {
        rig g = make_rig(be, 42);
        for (int i = 0; i < 20; i++) {
            learner_stats s;
            learner_update(g.l, &s);
            loss[run][i] = s.loss.total;
            assert_true(isfinite(s.loss.total));
            assert_int_equal(s.step, i + 1);
        }
        free_rig(&g);
    }
    assert_memory_equal(loss[0], loss[1], sizeof loss[0]);
}

static void test_determinism_cpu(void **state) {
    (void)state;
    determinism(test_cpu_backend());
}
static void test_determinism_emu(void **state) {
    (void)state;
    determinism(test_emu_backend());
}

/* rewards of the toy are 0, 1 or 2; after 300 updates the batch's mean
 * |predicted r_1 - r_1| is under 0.15 (it starts at the zero-initialised
 * head's error, about 1) */
static void test_learns_rewards(void **state) {
    (void)state;
    rig g = make_rig(test_cpu_backend(), 3);
    learner_stats s;
    learner_update(g.l, &s);
    float first = s.loss.reward_error, first_total = s.loss.total;
    double err = 0.0;
    for (int i = 1; i < 300; i++) {
        learner_update(g.l, &s);
        if (i >= 280) err += s.loss.reward_error / 20.0;
    }
    print_message("reward error %.3f -> %.3f (mean of the last 20 updates), loss %.3f -> %.3f\n", first, err,
                  first_total, s.loss.total);
    assert_true(first > 0.5f);
    assert_true(err < 0.15);
    assert_true(s.loss.total < first_total);
    free_rig(&g);
}

static int run_learner(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism_cpu),
        cmocka_unit_test(test_determinism_emu),
        cmocka_unit_test(test_learns_rewards),
    };
    return MZ_RUN_GROUP("learner", tests);
}
MZ_TEST_GROUP("learner", run_learner)
