/* Multi-agent search on the climbing game with a perfect model. Both agents'
 * priors lean towards the safe action 2. Expected outcome per mode:
 *   - independent with argmax partners is trapped: agent 0 answers partner
 *     action 2 with 1 (payoff 6), agent 1 answers 2 with 2 (payoff 5), so the
 *     joint action (1, 2) pays 6, not the optimum 11;
 *   - joint search over the 9 joint actions finds (0, 0), payoff 11.
 * (Gumbel MuZero, 32 simulations, no Gumbel noise, value_scale 1.)
 * Also: joint search refuses action spaces above the limit, and CPU and
 * emulated CUDA agree bitwise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "envs/matrix/climbing.h"
#include "mcts/multiagent.h"
#include "src/check.h"
#include "tests/test_util.h"

/* The game as a model: the root is the only decision; every joint action
 * ends the episode (discount 0) with the payoff as reward. Host arithmetic,
 * device buffers through the backend's copies, so it runs on both. */
typedef struct {
    int N, A;
    float prior[CLIMBING_ACTIONS];
} climbing_model;

static void fill_prior(const climbing_model *m, mz_backend *be, int B, float *logits) {
    float *host = (float *)mz_malloc((size_t)B * m->N * m->A * sizeof(float));
    for (int i = 0; i < B * m->N; i++)
        for (int a = 0; a < m->A; a++) host[i * m->A + a] = m->prior[a];
    be->copy_h2d(be, logits, host, (size_t)B * m->N * m->A * sizeof(float));
    free(host);
}

static void game_root(void *ctx, mz_backend *be, int B, float *logits, float *value) {
    climbing_model *m = (climbing_model *)ctx;
    fill_prior(m, be, B, logits);
    be->zero(be, value, (size_t)B * sizeof(float));
}

static void game_recurrent(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                           const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    (void)parent, (void)new_node;
    climbing_model *m = (climbing_model *)ctx;
    int32_t *joint = (int32_t *)mz_malloc((size_t)B * m->N * sizeof(int32_t));
    float *r = (float *)mz_malloc((size_t)B * sizeof(float));
    be->copy_d2h(be, joint, actions, (size_t)B * m->N * sizeof(int32_t));
    for (int b = 0; b < B; b++) r[b] = climbing_payoff(joint[b * 2], joint[b * 2 + 1]);
    be->copy_h2d(be, reward, r, (size_t)B * sizeof(float));
    be->zero(be, discount, (size_t)B * sizeof(float));
    be->zero(be, value, (size_t)B * sizeof(float));
    fill_prior(m, be, B, logits);
    free(joint), free(r);
}

/* Runs one search for E environments; returns env 0's joint action payoff. */
static float search_payoff(mz_backend *be, mcts_ma_mode mode, int E, int32_t *joint_out, float *policy_out) {
    climbing_model game = {2, 3, {0.0f, 0.0f, 1.0f}};
    mcts_ma_model model = {&game, game_root, game_recurrent};
    mcts_params p;
    mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 32);
    p.gumbel_scale = 0.0f;
    /* A perfect model's values should outweigh the prior: with the default
     * 0.1, rescaled Q puts (2, 2) = 5 at 0.85 of (0, 0) = 11 and the prior
     * towards 2 wins. */
    p.value_scale = 1.0f;
    char err[256];
    mcts_ma_search *s = mcts_ma_create(be, &p, mode, E, 2, 3, 512, 0, err, sizeof err);
    if (!s) fail_msg("%s", err);
    mcts_ma_run(s, &model);
    int32_t joint[2 * 8];
    be->copy_d2h(be, joint, mcts_ma_actions(s), (size_t)E * 2 * sizeof(int32_t));
    if (policy_out) be->copy_d2h(be, policy_out, mcts_ma_policy(s), (size_t)E * 2 * 3 * sizeof(float));
    for (int e = 1; e < E; e++) /* every environment is the same game */
        assert_true(joint[2 * e] == joint[0] && joint[2 * e + 1] == joint[1]);
    memcpy(joint_out, joint, 2 * sizeof(int32_t));
    mcts_ma_destroy(s);
    return climbing_payoff(joint[0], joint[1]);
}

static void test_independent_is_trapped(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++) {
        mz_backend *be = b ? test_emu_backend() : test_cpu_backend();
        int32_t joint[2];
        float payoff = search_payoff(be, MCTS_MA_INDEPENDENT, 3, joint, NULL);
        assert_int_equal(joint[0], 1);
        assert_int_equal(joint[1], 2);
        assert_true(payoff == 6.0f);
    }
}

static void test_joint_finds_optimum(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++) {
        mz_backend *be = b ? test_emu_backend() : test_cpu_backend();
        int32_t joint[2];
        float policy[3 * 2 * 3];
        float payoff = search_payoff(be, MCTS_MA_JOINT, 3, joint, policy);
        assert_int_equal(joint[0], 0);
        assert_int_equal(joint[1], 0);
        assert_true(payoff == CLIMBING_OPTIMUM);
        /* per-agent targets are marginals: each sums to 1 and favours action 0 */
        for (int i = 0; i < 2; i++) {
            float sum = policy[i * 3] + policy[i * 3 + 1] + policy[i * 3 + 2];
            assert_true(fabsf(sum - 1.0f) < 1e-5f);
            assert_true(policy[i * 3] > policy[i * 3 + 1] && policy[i * 3] > policy[i * 3 + 2]);
        }
    }
}

static void test_joint_limit(void **state) {
    (void)state;
    mcts_params p;
    mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 8);
    char err[256];
    assert_null(mcts_ma_create(test_cpu_backend(), &p, MCTS_MA_JOINT, 4, 5, 5, 512, 0, err, sizeof err));
    assert_non_null(strstr(err, "5 agents x 5 actions make 3125 joint actions, above the limit of 512"));
    assert_null(mcts_ma_create(test_cpu_backend(), &p, MCTS_MA_JOINT, 4, 3, 5, 100, 0, err, sizeof err));
    assert_non_null(strstr(err, "above the limit of 100"));
    mcts_ma_search *s = mcts_ma_create(test_cpu_backend(), &p, MCTS_MA_JOINT, 4, 3, 5, 125, 0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mcts_ma_trees(s), 4);
    mcts_ma_destroy(s);
    s = mcts_ma_create(test_cpu_backend(), &p, MCTS_MA_INDEPENDENT, 4, 3, 5, 0, 1, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mcts_ma_trees(s), 12); /* one tree per environment and agent */
    mcts_ma_destroy(s);
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_is_trapped),
        cmocka_unit_test(test_joint_finds_optimum),
        cmocka_unit_test(test_joint_limit),
    };
    return MZ_RUN_GROUP("mcts_multiagent", tests);
}

MZ_TEST_GROUP("mcts_multiagent", run_group)
