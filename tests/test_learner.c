/* The learner, from the host replay and from the device replay: the same
 * seed gives the identical loss sequence for 20 updates (bitwise, on the
 * CPU and on the emulated CUDA backend), on a deterministic toy the model
 * learns to predict rewards, and the target network's bootstrap and EMA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/learner.h"
#include "tests/test_util.h"

enum { E = 4, N = 2, O = 3, A = 2, K = 3, NS = 3, STEPS = 200, B = 16 };

/* The toy: a counter s_t per env (obs of agent i: [s mod 3 == 0, 1, i]),
 * actions a_i = (s + e + i) mod 2 from a fixed policy, team reward = number
 * of agents whose action equals s mod 2; episodes end (terminate) every 9
 * steps and are truncated every 13. */
static void fill(test_replay *r) {
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
        test_replay_add(r, obs, act, rew, term, trunc, pol, val, fv);
    }
}

typedef struct {
    replay *rb;           /* host replay, or */
    device_replay *drb;   /* device replay */
    wm_model *m;
    learner *l;
} rig;

typedef struct {
    float ema;
    int64_t interval;
} target_settings;
static rig make_rig_with(mz_backend *be, uint64_t seed, const target_settings *target, int zero_init,
                         void (*fill_fn)(test_replay *), int on_device);

static rig make_rig(mz_backend *be, uint64_t seed, int on_device) {
    return make_rig_with(be, seed, NULL, 1, fill, on_device);
}

static wm_config rig_model(uint64_t seed, int zero_init) {
    wm_config c;
    memset(&c, 0, sizeof c);
    c.N = N, c.O = O, c.A = A, c.H = 16, c.F = 32, c.head_F = 16, c.P = 16, c.S = 5;
    c.comm_layers = 1, c.comm_heads = 2, c.comm_ff = 32, c.comm_concat = 1, c.zero_init = 1;
    c.K = K, c.max_batch = B, c.max_trees = 1, c.max_nodes = 1, c.max_envs = 1, c.discount = 0.9f;
    c.coef_reward = 1.0f, c.coef_value = 0.25f, c.coef_policy = 1.0f, c.coef_consistency = 2.0f;
    c.hidden_grad_scale = 0.5f, c.seed = seed;
    c.zero_init = zero_init;
    return c;
}

/* target: NULL, or the target network's settings */
static rig make_rig_with(mz_backend *be, uint64_t seed, const target_settings *target, int zero_init,
                         void (*fill_fn)(test_replay *), int on_device) {
    wm_config c = rig_model(seed, zero_init);
    char err[256];
    rig g;
    g.m = wm_create(be, &c, err, sizeof err);
    assert_non_null(g.m);
    replay_config rc = {E, N, O, A, 64, K, NS, 0.9f, 0.6f, 0.4f, 1000, B, seed, 0.0f};
    g.rb = on_device ? NULL : replay_create(&rc);
    g.drb = on_device ? device_replay_create(be, &rc) : NULL;
    test_replay tr = {g.rb, g.drb, be, E, N, O, A, NULL};
    fill_fn(&tr);
    learner_config lc = {B, {0.9f, 0.999f, 1e-8f, 1e-4f, 5.0f, 1.0f}, {3e-3f, 10, 1000, 3e-4f}};
    g.l = on_device ? learner_create_device(g.m, g.drb, &lc) : learner_create(g.m, g.rb, &lc);
    if (target) learner_use_target(g.l, target->ema, target->interval);
    return g;
}

static void free_rig(rig *g) {
    learner_destroy(g->l);
    wm_destroy(g->m);
    replay_destroy(g->rb);
    device_replay_destroy(g->drb);
}

static void determinism(mz_backend *be, int on_device) {
    float loss[2][20];
    for (int run = 0; run < 2; run++) {
        rig g = make_rig(be, 42, on_device);
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
    determinism(test_cpu_backend(), 0);
    determinism(test_cpu_backend(), 1);
}
static void test_determinism_emu(void **state) {
    (void)state;
    determinism(test_emu_backend(), 0);
    determinism(test_emu_backend(), 1);
}

/* rewards of the toy are 0, 1 or 2; after 300 updates the batch's mean
 * |predicted r_1 - r_1| is under 0.15 (it starts at the zero-initialised
 * head's error, about 1) */
static void learns_rewards(int on_device) {
    rig g = make_rig(test_cpu_backend(), 3, on_device);
    learner_stats s;
    learner_update(g.l, &s);
    float first = s.loss.reward_error, first_total = s.loss.total;
    double err = 0.0;
    for (int i = 1; i < 300; i++) {
        learner_update(g.l, &s);
        if (i >= 280) err += s.loss.reward_error / 20.0;
    }
    print_message("%s replay: reward error %.3f -> %.3f (mean of the last 20 updates), loss %.3f -> %.3f\n",
                  on_device ? "device" : "host", first, err, first_total, s.loss.total);
    assert_true(first > 0.5f);
    assert_true(err < 0.15);
    assert_true(s.loss.total < first_total);
    free_rig(&g);
}

static void test_learns_rewards(void **state) {
    (void)state;
    learns_rewards(0);
    learns_rewards(1);
}

/* Hand-made bootstrap: every reward 1, no episode ends, stored root values
 * 1000. With the target network the value target of step i is
 * 1 + 0.9 + 0.81 + 0.9^3 V(o_{i+3}), V the target network's value (at the
 * first update: the initial parameters, evaluated here by a second model of
 * the same seed); the stored 1000 would give 731.7. */
static void fill_constant(test_replay *r) {
    for (int t = 0; t < STEPS; t++) {
        float obs[E * N * O], rew[E], pol[E * N * A], val[E];
        int32_t act[E * N];
        uint8_t term[E] = {0}, trunc[E] = {0};
        for (int e = 0; e < E; e++) {
            for (int i = 0; i < N; i++) {
                float *o = obs + (e * N + i) * O;
                o[0] = (float)((t + e) % 5), o[1] = (float)i, o[2] = 0.25f * (float)(t % 3);
                act[e * N + i] = (t + i) % A;
                pol[(e * N + i) * A] = 0.5f, pol[(e * N + i) * A + 1] = 0.5f;
            }
            rew[e] = 1.0f, val[e] = 1000.0f;
        }
        test_replay_add(r, obs, act, rew, term, trunc, pol, val, NULL);
    }
}

static void target_bootstrap(mz_backend *be, int on_device) {
    target_settings tc = {0.0f, 2};
    rig g = make_rig_with(be, 9, &tc, 0, fill_constant, on_device);
    /* the initial network, evaluated apart */
    wm_config c = rig_model(9, 0);
    c.max_trees = c.max_envs = 1;
    char err[256];
    wm_model *ref = wm_create(be, &c, err, sizeof err);
    assert_non_null(ref);
    float *d_obs = be->alloc(be, N * O * sizeof(float)), *d_logits = be->alloc(be, N * A * sizeof(float));
    float *d_value = be->alloc(be, sizeof(float));
    learner_stats s;
    learner_update(g.l, &s);
    const int *env;
    const int64_t *step;
    learner_last_windows(g.l, &env, &step);
    float values[(K + 1) * B];
    if (on_device) be->copy_d2h(be, values, wm_device_batch_buffers(g.m).value, sizeof values);
    else memcpy(values, replay_last_bootstrap(g.rb).values, sizeof values);
    mcts_ma_model mm = wm_search_model(ref);
    double max_err = 0.0;
    for (int k = 0; k <= K; k++)
        for (int b = 0; b < B; b++) {
            int64_t boot = step[b] + k + NS;
            float obs[N * O];
            for (int i = 0; i < N; i++) {
                obs[i * O] = (float)((boot + env[b]) % 5), obs[i * O + 1] = (float)i;
                obs[i * O + 2] = 0.25f * (float)(boot % 3);
            }
            be->copy_h2d(be, d_obs, obs, sizeof obs);
            wm_search_set_obs(ref, d_obs, 1);
            mm.root(mm.ctx, be, 1, d_logits, d_value);
            float v;
            be->copy_d2h(be, &v, d_value, sizeof v);
            double want = 1.0 + 0.9 + 0.81 + 0.729 * v;
            double got = values[k * B + b];
            if (fabs(got - want) > max_err) max_err = fabs(got - want);
        }
    print_message("target bootstrap (%s replay): max |z - hand z| %.2e, mean target value %.4f, shift from stored %.1f\n",
                  on_device ? "device" : "host", max_err, (double)s.target_value, (double)s.bootstrap_shift);
    assert_true(max_err < 1e-4);
    assert_true(s.bootstrap_shift > 500.0f); /* 1000 stored values were not used */
    /* periodic copy: the target changes at update 2, not at update 1 or 3 */
    mz_params *p = wm_params(g.m), *tp = learner_target_params(g.l);
    size_t bytes = (size_t)p->total * sizeof(float);
    float *online = malloc(bytes), *target = malloc(bytes);
    be->copy_d2h(be, target, tp->values, bytes);
    be->copy_d2h(be, online, wm_params(ref)->values, bytes);
    assert_memory_equal(target, online, bytes); /* still the initial network after update 1 */
    learner_update(g.l, &s);
    be->copy_d2h(be, target, tp->values, bytes);
    be->copy_d2h(be, online, p->values, bytes);
    assert_memory_equal(target, online, bytes);
    learner_update(g.l, &s);
    be->copy_d2h(be, online, p->values, bytes);
    assert_memory_not_equal(target, online, bytes);
    free(online), free(target);
    be->free(be, d_obs), be->free(be, d_logits), be->free(be, d_value);
    wm_destroy(ref);
    free_rig(&g);
}

static void test_target_bootstrap(void **state) {
    (void)state;
    target_bootstrap(test_cpu_backend(), 0);
    target_bootstrap(test_cpu_backend(), 1);
    target_bootstrap(test_emu_backend(), 1);
}

/* EMA: after one update, target = 0.9 initial + 0.1 online */
static void target_ema(int on_device) {
    mz_backend *be = test_cpu_backend();
    target_settings tc = {0.1f, 0};
    rig g = make_rig_with(be, 4, &tc, 0, fill, on_device);
    mz_params *p = wm_params(g.m), *tp = learner_target_params(g.l);
    size_t n = (size_t)p->total;
    float *init = malloc(n * sizeof(float)), *online = malloc(n * sizeof(float)), *target = malloc(n * sizeof(float));
    be->copy_d2h(be, init, p->values, n * sizeof(float));
    learner_stats s;
    learner_update(g.l, &s);
    be->copy_d2h(be, online, p->values, n * sizeof(float));
    be->copy_d2h(be, target, tp->values, n * sizeof(float));
    for (size_t i = 0; i < n; i++) assert_true(fabsf(target[i] - (0.9f * init[i] + 0.1f * online[i])) <= 1e-6f);
    free(init), free(online), free(target);
    free_rig(&g);
}

static void test_target_ema(void **state) {
    (void)state;
    target_ema(0);
    target_ema(1);
}

static int run_learner(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism_cpu),
        cmocka_unit_test(test_determinism_emu),
        cmocka_unit_test(test_learns_rewards),
        cmocka_unit_test(test_target_bootstrap),
        cmocka_unit_test(test_target_ema),
    };
    return MZ_RUN_GROUP("learner", tests);
}
MZ_TEST_GROUP("learner", run_learner)
