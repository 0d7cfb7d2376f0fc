/* Sync MuZero end to end on games with known optima, 3 seeds each, within a
 * fixed budget: the climbing game (optimum 11; independent learners settle
 * on 7 or 5) with joint MuZero (pUCT) search of 32 simulations, 1200 env
 * steps; and the 2-agent chain of length 5 (optimum 1 - 0.01 * 3 = 0.97)
 * with joint Gumbel search of 16 simulations, 2000 env steps. Both the
 * greedy search policy and the greedy prior must reach the optimum.
 * (Gumbel search with 16 simulations on the climbing game settled on the
 * safe 5 for seed 1: the -30 entries squeeze the completed-Q scale so the
 * 11 vs 5 difference is worth about one logit.) */
#include <math.h>
#include <string.h>

#include "actors/sync.h"
#include "tests/test_util.h"

static sync_config base_config(const char *env, const char *scenario, uint64_t seed) {
    sync_config c;
    memset(&c, 0, sizeof c);
    char err[256];
    assert_int_equal(mz_env_params_resolve(&c.env, env, scenario, 0, seed, err, sizeof err), 0);
    c.model.H = 16, c.model.F = 32, c.model.head_F = 32, c.model.P = 16, c.model.S = 10;
    c.model.comm_layers = 0, c.model.zero_init = 1;
    c.model.coef_reward = 1.0f, c.model.coef_value = 0.25f, c.model.coef_policy = 1.0f;
    c.model.coef_consistency = 2.0f, c.model.hidden_grad_scale = 0.5f, c.model.seed = seed;
    mcts_params_default(&c.search, MCTS_GUMBEL_MUZERO, 16);
    c.search.seed = seed;
    c.mode = MCTS_MA_JOINT;
    c.joint_limit = 64;
    c.replay.T = 256, c.replay.alpha = 0.6f, c.replay.beta0 = 0.4f, c.replay.beta_steps = 1000;
    c.learner.batch = 32;
    c.learner.adamw = (mz_adamw_config){0.9f, 0.999f, 1e-8f, 1e-4f, 5.0f, 1.0f};
    c.learner.lr = (mz_lr_schedule){3e-3f, 20, 0, 3e-3f};
    c.eval_envs = 8;
    c.seed = seed;
    return c;
}

static void run_to_optimum(sync_config *c, double optimum, double tol, const char *name) {
    char err[256];
    sync_run *s = sync_create(test_cpu_backend(), c, err, sizeof err);
    if (!s) fail_msg("%s", err);
    sync_result r;
    memset(&r, 0, sizeof r);
    while (sync_iterate(s, &r)) {
    }
    double with = sync_evaluate(s, 1, NULL), without = sync_evaluate(s, 0, NULL);
    print_message("%s seed %llu: %lld env steps, %lld updates, train return %.3f, eval with search %.3f, "
                  "prior only %.3f (optimum %.3f)\n",
                  name, (unsigned long long)c->seed, (long long)r.env_steps, (long long)r.updates, r.train_return,
                  with, without, optimum);
    assert_true(fabs(with - optimum) <= tol);
    assert_true(fabs(without - optimum) <= tol);
    sync_destroy(s);
}

static void test_climbing(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sync_config c = base_config("climbing", "default", seed);
        c.E = 8, c.rollout_steps = 1, c.updates = 2, c.env_steps = 1200, c.min_ready = 32;
        c.replay.K = 1, c.replay.n_step = 1, c.replay.discount = 0.0f; /* one-step game */
        mcts_params_default(&c.search, MCTS_MUZERO, 32);
        c.search.seed = seed;
        run_to_optimum(&c, 11.0, 1e-4, "climbing");
    }
}

static void test_chain(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sync_config c = base_config("chain", "n2-l5", seed);
        c.E = 8, c.rollout_steps = 4, c.updates = 4, c.env_steps = 2000, c.min_ready = 64;
        c.replay.K = 3, c.replay.n_step = 5, c.replay.discount = 0.97f;
        run_to_optimum(&c, 0.97, 1e-3, "chain n2-l5");
    }
}

static int run_sync(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_climbing),
        cmocka_unit_test(test_chain),
    };
    return MZ_RUN_GROUP("sync", tests);
}
MZ_TEST_GROUP("sync", run_sync)
