/* Legal-action masks at the roots of the multi-agent searches
 * (mcts_ma_set_avail, mcts_sampled_set_avail). A one-step game of 2 agents
 * with 3 actions whose model strongly prefers action 0 (logits {4, 0, 0})
 * and pays 10 whenever an agent plays 0 (else 0.5 a step per action index,
 * discount 0), in 3 environments: env 0 forbids action 0 to both agents,
 * env 1 leaves agent 0 only action 2, env 2 allows everything. Every mode
 * (independent and joint with MuZero and Gumbel MuZero, sampled) must play
 * legal actions only and put no policy mass on illegal ones, env 2 must
 * still find the paying action 0 (joint and sampled), and the emulated CUDA
 * backend must agree bitwise with the CPU. */
#include <stdlib.h>
#include <string.h>

#include "mcts/multiagent.h"
#include "mcts/sampled.h"
#include "src/check.h"
#include "tests/test_util.h"

enum { E = 3, N = 2, A = 3 };

static const uint8_t AVAIL[E * N * A] = {
    0, 1, 1, 0, 1, 1, /* env 0: no action 0 */
    0, 0, 1, 1, 1, 1, /* env 1: agent 0 only action 2 */
    1, 1, 1, 1, 1, 1, /* env 2: all legal */
};

static void fill_logits(mz_backend *be, int B, float *logits) {
    float *host = (float *)mz_malloc((size_t)B * N * A * sizeof(float));
    for (int r = 0; r < B * N; r++) host[r * A] = 4.0f, host[r * A + 1] = 0.0f, host[r * A + 2] = 0.0f;
    be->copy_h2d(be, logits, host, (size_t)B * N * A * sizeof(float));
    free(host);
}

static void game_root(void *ctx, mz_backend *be, int B, float *logits, float *value) {
    (void)ctx;
    fill_logits(be, B, logits);
    be->zero(be, value, (size_t)B * sizeof(float));
}

static void game_recurrent(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                           const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    (void)ctx, (void)parent, (void)new_node;
    int32_t *joint = (int32_t *)mz_malloc((size_t)B * N * sizeof(int32_t));
    float *r = (float *)mz_malloc((size_t)B * sizeof(float));
    be->copy_d2h(be, joint, actions, (size_t)B * N * sizeof(int32_t));
    for (int b = 0; b < B; b++)
        r[b] = joint[b * N] == 0 || joint[b * N + 1] == 0 ? 10.0f : 0.5f * (float)(joint[b * N] + joint[b * N + 1]);
    be->copy_h2d(be, reward, r, (size_t)B * sizeof(float));
    be->zero(be, discount, (size_t)B * sizeof(float));
    be->zero(be, value, (size_t)B * sizeof(float));
    fill_logits(be, B, logits);
    free(joint), free(r);
}

typedef struct {
    int32_t actions[E * N];
    float policy[E * N * A];
} results;

/* mode 0 independent, 1 joint, 2 sampled */
static void run(mz_backend *be, int mode, mcts_policy kind, results *out) {
    mcts_ma_model model = {NULL, game_root, game_recurrent};
    uint8_t *avail = (uint8_t *)be->alloc(be, sizeof AVAIL);
    be->copy_h2d(be, avail, AVAIL, sizeof AVAIL);
    char err[256];
    const int32_t *act;
    const float *pol;
    mcts_ma_search *m = NULL;
    mcts_sampled_search *s = NULL;
    if (mode == 2) {
        mcts_sampled_params p;
        mcts_sampled_params_default(&p, 24);
        p.K = 8, p.seed = 5;
        s = mcts_sampled_create(be, &p, E, N, A, err, sizeof err);
        if (!s) fail_msg("%s", err);
        mcts_sampled_set_avail(s, avail);
        mcts_sampled_run(s, &model);
        act = mcts_sampled_actions(s), pol = mcts_sampled_policy(s);
    } else {
        mcts_params p;
        mcts_params_default(&p, kind, 24);
        p.seed = 5;
        m = mcts_ma_create(be, &p, mode == 1 ? MCTS_MA_JOINT : MCTS_MA_INDEPENDENT, E, N, A, 64, 0, err, sizeof err);
        if (!m) fail_msg("%s", err);
        mcts_ma_set_avail(m, avail);
        mcts_ma_run(m, &model);
        act = mcts_ma_actions(m), pol = mcts_ma_policy(m);
    }
    be->copy_d2h(be, out->actions, act, sizeof out->actions);
    be->copy_d2h(be, out->policy, pol, sizeof out->policy);
    mcts_sampled_destroy(s);
    mcts_ma_destroy(m);
    be->free(be, avail);
}

static void check_mode(int mode, mcts_policy kind, const char *name) {
    results cpu, emu;
    memset(&cpu, 0, sizeof cpu), memset(&emu, 0, sizeof emu);
    run(test_cpu_backend(), mode, kind, &cpu);
    run(test_emu_backend(), mode, kind, &emu);
    for (int r = 0; r < E * N; r++) {
        if (!AVAIL[r * A + cpu.actions[r]]) fail_msg("%s: env %d agent %d plays illegal %d", name, r / N, r % N, cpu.actions[r]);
        for (int a = 0; a < A; a++)
            if (!AVAIL[r * A + a] && cpu.policy[r * A + a] != 0.0f)
                fail_msg("%s: env %d agent %d: policy %g on illegal %d", name, r / N, r % N, (double)cpu.policy[r * A + a], a);
    }
    if (mode != 0) assert_true(cpu.actions[2 * N] == 0 || cpu.actions[2 * N + 1] == 0);
    assert_memory_equal(&cpu, &emu, sizeof cpu);
}

static void test_independent(void **state) {
    (void)state;
    check_mode(0, MCTS_MUZERO, "independent muzero");
    check_mode(0, MCTS_GUMBEL_MUZERO, "independent gumbel");
}
static void test_joint(void **state) {
    (void)state;
    check_mode(1, MCTS_MUZERO, "joint muzero");
    check_mode(1, MCTS_GUMBEL_MUZERO, "joint gumbel");
}
static void test_sampled(void **state) {
    (void)state;
    check_mode(2, MCTS_GUMBEL_MUZERO, "sampled");
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent),
        cmocka_unit_test(test_joint),
        cmocka_unit_test(test_sampled),
    };
    return MZ_RUN_GROUP("search_avail", tests);
}
MZ_TEST_GROUP("search_avail", run_group)
