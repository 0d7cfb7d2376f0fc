/* Replay and targets: n-step value targets against hand-computed numbers
 * (across a termination, a truncation and the ring's wrap-around),
 * absorbing states past an episode's end, windows that never leave their
 * environment (the check toy_mazero's sync buffer would fail), prioritised
 * sampling frequencies and importance weights. */
#include <math.h>
#include <string.h>

#include "learner/replay.h"
#include "tests/test_util.h"

/* E=1, N=1, O=1, A=2, T=8, K=2, n=3, gamma=0.5; 11 steps with reward i+1
 * and root value 10(i+1); step 2 terminates, step 6 is truncated with a
 * final value of 100. Steps 0..2 are overwritten by 8..10. */
static replay *hand_replay_shifted(float shift) {
    replay_config c = {1, 1, 1, 2, 8, 2, 3, 0.5f, 1.0f, 0.4f, 1000, 4, 1, shift};
    replay *r = replay_create(&c);
    for (int i = 0; i < 11; i++) {
        float obs = (float)i, rew = (float)(i + 1), val = 10.0f * (float)(i + 1), pol[2] = {0.25f, 0.75f}, fv = 100.0f;
        int32_t act = i % 2;
        uint8_t term = i == 2, trunc = i == 6;
        replay_add(r, &obs, &act, &rew, &term, &trunc, pol, &val, &fv);
    }
    return r;
}
static replay *hand_replay(void) { return hand_replay_shifted(0.0f); }

static void test_value_targets(void **state) {
    (void)state;
    replay *r = hand_replay();
    /* z_3 = 4 + .5*5 + .25*6 + .125*v_6(70) */
    assert_float_equal(replay_value_target(r, 0, 3), 16.75f, 1e-5f);
    /* z_4 = 5 + .5*6 + .25*7, truncated at 6: + .125*100 */
    assert_float_equal(replay_value_target(r, 0, 4), 22.25f, 1e-5f);
    /* z_5 = 6 + .5*7 + .25*100 */
    assert_float_equal(replay_value_target(r, 0, 5), 34.5f, 1e-5f);
    /* z_6 = 7 + .5*100 */
    assert_float_equal(replay_value_target(r, 0, 6), 57.0f, 1e-5f);
    /* z_7 reads steps 7..10 in slots 7, 0, 1, 2 (wrap-around): 8 + .5*9 + .25*10 + .125*110 */
    assert_float_equal(replay_value_target(r, 0, 7), 28.75f, 1e-5f);
    /* ready: 3..6 (episode ended at 6); 0..2 evicted; 7.. wait for K+n more steps */
    assert_int_equal(replay_ready(r), 4);
    replay_destroy(r);
}

/* muzero.reward_shift c: every stored reward is r + c, so the n-step parts
 * of the targets move by c (1 + .5 + .25) while the bootstraps (root and
 * final values, already in the model's shifted scale) stay. */
static void test_reward_shift(void **state) {
    (void)state;
    replay *r = hand_replay_shifted(2.0f);
    assert_float_equal(replay_value_target(r, 0, 3), 16.75f + 2.0f * 1.75f, 1e-5f);
    assert_float_equal(replay_value_target(r, 0, 6), 57.0f + 2.0f, 1e-5f);
    assert_float_equal(replay_value_target(r, 0, 7), 28.75f + 2.0f * 1.75f, 1e-5f);
    replay_destroy(r);
}

/* The split a target network uses: z = partial + coef * V(bootstrap obs),
 * coef 0 where the episode ends first (the truncation's stored final value
 * stays in partial). Window at step 3 (K = 2): targets of steps 3, 4, 5. */
static void test_bootstrap_split(void **state) {
    (void)state;
    replay *r = hand_replay();
    replay_keep_bootstrap(r);
    replay_window(r, 0, 3, 0, 1);
    replay_bootstrap b = replay_last_bootstrap(r);
    /* z_3 = 4 + .5*5 + .25*6 + .125 V(o_6); o_6 = 6 */
    assert_float_equal(b.partial[0], 8.0f, 1e-6f);
    assert_float_equal(b.coef[0], 0.125f, 1e-7f);
    assert_float_equal(b.obs[0], 6.0f, 0.0f);
    assert_float_equal(b.partial[0] + b.coef[0] * 70.0f, b.values[0], 1e-5f);
    /* z_4, z_5 end at the truncation: no network bootstrap */
    assert_float_equal(b.coef[1], 0.0f, 0.0f);
    assert_float_equal(b.partial[1], 22.25f, 1e-5f);
    assert_float_equal(b.coef[2], 0.0f, 0.0f);
    assert_float_equal(b.partial[2], 34.5f, 1e-5f);
    replay_destroy(r);
}

static void test_termination_targets(void **state) {
    (void)state;
    replay_config c = {1, 1, 1, 2, 16, 2, 3, 0.5f, 1.0f, 0.4f, 1000, 4, 1, 0.0f};
    replay *r = replay_create(&c);
    for (int i = 0; i < 4; i++) {
        float obs = (float)i, rew = (float)(i + 1), val = 10.0f * (float)(i + 1), pol[2] = {0.5f, 0.5f};
        int32_t act = 0;
        uint8_t term = i == 2, trunc = 0;
        replay_add(r, &obs, &act, &rew, &term, &trunc, pol, &val, NULL);
    }
    /* termination is not bootstrapped: z_0 = 1 + .5*2 + .25*3, z_1 = 2 + .5*3, z_2 = 3 */
    assert_float_equal(replay_value_target(r, 0, 0), 2.75f, 1e-6f);
    assert_float_equal(replay_value_target(r, 0, 1), 3.5f, 1e-6f);
    assert_float_equal(replay_value_target(r, 0, 2), 3.0f, 1e-6f);
    replay_destroy(r);
}

static void test_window_absorbing(void **state) {
    (void)state;
    replay *r = hand_replay();
    const wm_batch *b = replay_window(r, 0, 4, 0, 2);
    /* t = 4: steps 4, 5, 6 all real */
    for (int k = 0; k < 3; k++) {
        assert_float_equal(b->obs[k * 2], 4.0f + (float)k, 0.0f);
        assert_float_equal(b->obs_mask[k * 2], 1.0f, 0.0f);
    }
    assert_float_equal(b->value[0], 22.25f, 1e-5f);
    assert_float_equal(b->value[2], 34.5f, 1e-5f);
    assert_float_equal(b->value[4], 57.0f, 1e-5f);
    assert_float_equal(b->reward[0], 5.0f, 0.0f);
    assert_int_equal(b->actions[0], 0);
    assert_int_equal(b->actions[2], 1);
    /* t = 5 into sample 1: step 6 is truncated, k = 2 is past the end */
    b = replay_window(r, 0, 5, 1, 2);
    assert_float_equal(b->obs[0 * 2 + 1], 5.0f, 0.0f);
    assert_float_equal(b->obs[1 * 2 + 1], 6.0f, 0.0f);
    assert_float_equal(b->reward[1 * 2 + 1], 7.0f, 0.0f); /* the truncating transition's reward is real */
    assert_float_equal(b->obs_mask[2 * 2 + 1], 0.0f, 0.0f);
    assert_float_equal(b->obs[2 * 2 + 1], 0.0f, 0.0f);
    assert_float_equal(b->value[2 * 2 + 1], 0.0f, 0.0f);
    assert_float_equal(b->policy[(2 * 2 + 1) * 2], 0.5f, 0.0f);
    assert_float_equal(b->policy[(2 * 2 + 1) * 2 + 1], 0.5f, 0.0f);
    /* sample 0 untouched by filling sample 1 */
    assert_float_equal(b->obs[0], 4.0f, 0.0f);
    replay_destroy(r);
}

/* Every observation encodes (env, step). A window must read consecutive
 * steps of the env it was drawn from: storing the E envs of one time step
 * in consecutive slots and reading consecutive slots (toy_mazero) fails. */
static void test_windows_stay_in_env(void **state) {
    (void)state;
    enum { E = 3, N = 2, O = 2, A = 3, T = 40, K = 3, NS = 4, B = 8 };
    replay_config c = {E, N, O, A, T, K, NS, 0.9f, 0.6f, 0.4f, 1000, B, 5, 0.0f};
    replay *r = replay_create(&c);
    for (int i = 0; i < 100; i++) {
        float obs[E * N * O], rew[E], pol[E * N * A], val[E], fv[E];
        int32_t act[E * N];
        uint8_t term[E], trunc[E];
        for (int e = 0; e < E; e++) {
            for (int j = 0; j < N * O; j++) obs[e * N * O + j] = 1000.0f * (float)e + (float)i;
            for (int j = 0; j < N; j++) act[e * N + j] = (i + e + j) % A;
            for (int j = 0; j < N * A; j++) pol[e * N * A + j] = 1.0f / A;
            rew[e] = (float)e;
            val[e] = 0.0f;
            fv[e] = 0.0f;
            term[e] = (i + 1) % (7 + e) == 0;  /* episodes of 7, 8, 9 steps */
            trunc[e] = (i + 1) % (11 + 2 * e) == 0;
        }
        replay_add(r, obs, act, rew, term, trunc, pol, val, fv);
    }
    int env[B];
    int64_t step[B];
    for (int it = 0; it < 200; it++) {
        const wm_batch *b = replay_sample(r, B, env, step);
        for (int s = 0; s < B; s++) {
            for (int k = 0; k <= K; k++) {
                if (b->obs_mask[k * B + s] == 0.0f) continue;
                for (int j = 0; j < N * O; j++)
                    assert_float_equal(b->obs[((size_t)k * B + s) * N * O + j],
                                       1000.0f * (float)env[s] + (float)(step[s] + k), 0.0f);
            }
            for (int k = 0; k < K; k++)
                if (b->obs_mask[(k + 1) * B + s] != 0.0f) assert_float_equal(b->reward[k * B + s], (float)env[s], 0.0f);
        }
    }
    replay_destroy(r);
}

static void test_priorities(void **state) {
    (void)state;
    replay_config c = {1, 1, 1, 2, 16, 1, 1, 0.9f, 1.0f, 0.4f, 1000000, 4, 9, 0.0f};
    replay *r = replay_create(&c);
    for (int i = 0; i < 2; i++) {
        float obs = (float)i, rew = 0.0f, val = 0.0f, pol[2] = {0.5f, 0.5f};
        int32_t act = 0;
        uint8_t term = i == 1, trunc = 0;
        replay_add(r, &obs, &act, &rew, &term, &trunc, pol, &val, NULL);
    }
    assert_int_equal(replay_ready(r), 2);
    int env[2] = {0, 0};
    int64_t step[2] = {0, 1};
    float pr[2] = {1.0f, 9.0f};
    replay_update_priorities(r, 2, env, step, pr);
    assert_float_equal(replay_max_priority(r), 9.0f, 0.0f);
    int hits = 0, n = 0;
    for (int it = 0; it < 500; it++) {
        int e[4];
        int64_t s[4];
        const wm_batch *b = replay_sample(r, 4, e, s);
        for (int j = 0; j < 4; j++, n++) {
            hits += s[j] == 1;
            /* weights (M P)^-beta / max: 9^-beta for the likely item, beta
             * from 0.4 rising by 0.6 / 1e6 per call */
            float expect = s[j] == 1 ? powf(9.0f, -0.4f) : 1.0f;
            int both = 0;
            for (int q = 0; q < 4; q++) both |= s[q] != s[j];
            if (both) assert_float_equal(b->weight[j], expect, 2e-3f);
            else assert_float_equal(b->weight[j], 1.0f, 0.0f);
        }
    }
    double frac = (double)hits / n; /* P = 0.9: 2000 draws, sd 0.0067 */
    assert_true(fabs(frac - 0.9) < 0.03);
    /* new data at max priority */
    float obs = 5.0f, rew = 0.0f, val = 0.0f, pol[2] = {0.5f, 0.5f};
    int32_t act = 0;
    uint8_t term = 1, trunc = 0;
    replay_add(r, &obs, &act, &rew, &term, &trunc, pol, &val, NULL);
    assert_int_equal(replay_ready(r), 3);
    replay_destroy(r);
}

static int run_replay(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_targets),       cmocka_unit_test(test_reward_shift),
        cmocka_unit_test(test_termination_targets),
        cmocka_unit_test(test_window_absorbing),    cmocka_unit_test(test_windows_stay_in_env),
        cmocka_unit_test(test_priorities),          cmocka_unit_test(test_bootstrap_split),
    };
    return MZ_RUN_GROUP("replay", tests);
}
MZ_TEST_GROUP("replay", run_replay)
