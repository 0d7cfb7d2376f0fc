/* MAZero's sampled joint search (mcts/sampled.h).
 *
 * Expected outcomes:
 *   - climbing game, perfect model, both priors leaning to the safe action 2
 *     (logits {0, 0, 1}), K = 64 sampled joint actions, 200 simulations,
 *     default root noise (0.25 / 0.3), 4 environments: for seeds 0, 1, 2 the
 *     search plays (0, 0), payoff 11 (independent search with argmax
 *     partners is trapped at 6, tests/test_mcts_multiagent.c), and (0, 0)
 *     has the largest exported advantage. Why so many: K = 32 misses (0, 0)
 *     in one of the 12 root sets (its proposal is ~0.045 before noise), and
 *     with the tree-wide min-max over payoffs -30..11 the value gap between
 *     11 and 5 is only 0.15, so the prior towards (2, 2) keeps up to 100
 *     simulations' most-visited choice at (2, 2) in some environments. The
 *     per-agent marginals of the visits need not favour action 0 (agent 1's
 *     action 2 collects (2, 2), (1, 2), (0, 2)); they are checked to be the
 *     marginals.
 *   - OS(lambda) on a hand-built tree for rho 0, 0.25, 0.75 (below).
 *   - CPU and emulated CUDA agree bitwise on a random table model with depth.
 *   - invalid settings are refused with a reason. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "envs/matrix/climbing.h"
#include "mcts/sampled.h"
#include "src/check.h"
#include "tests/test_util.h"

/* A model given by tables over M states for N agents with A actions: the
 * joint action j = sum_i a_i A^(N-1-i) goes from s to next[s][j] with
 * reward[s][j] and discount[s][j]; state s answers logits[s][N][A] and
 * value[s]. The state of each (tree, node) is kept on the host. */
typedef struct {
    int M, N, A, J, nodes, B;
    const float *logits, *value, *reward, *discount;
    const int32_t *next;
    int32_t *state; /* [B][nodes] */
} table_ma_model;

static void answer(table_ma_model *m, mz_backend *be, const int32_t *states, float *logits, float *value) {
    int B = m->B, NA = m->N * m->A;
    float *l = (float *)mz_malloc((size_t)B * NA * sizeof(float)), *v = (float *)mz_malloc((size_t)B * sizeof(float));
    for (int b = 0; b < B; b++) {
        memcpy(l + b * NA, m->logits + (size_t)states[b] * NA, (size_t)NA * sizeof(float));
        v[b] = m->value[states[b]];
    }
    be->copy_h2d(be, logits, l, (size_t)B * NA * sizeof(float));
    be->copy_h2d(be, value, v, (size_t)B * sizeof(float));
    free(l), free(v);
}

static void table_root(void *ctx, mz_backend *be, int B, float *logits, float *value) {
    table_ma_model *m = (table_ma_model *)ctx;
    assert_int_equal(B, m->B);
    int32_t *roots = (int32_t *)mz_malloc((size_t)B * sizeof(int32_t));
    for (int b = 0; b < B; b++) roots[b] = m->state[b * m->nodes] = 0;
    answer(m, be, roots, logits, value);
    free(roots);
}

static void table_recurrent(void *ctx, mz_backend *be, int B, const int32_t *parent, const int32_t *actions,
                            const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    table_ma_model *m = (table_ma_model *)ctx;
    int N = m->N;
    int32_t *par = (int32_t *)mz_malloc((size_t)B * sizeof(int32_t)), *node = (int32_t *)mz_malloc((size_t)B * sizeof(int32_t));
    int32_t *joint = (int32_t *)mz_malloc((size_t)B * N * sizeof(int32_t)), *next = (int32_t *)mz_malloc((size_t)B * sizeof(int32_t));
    float *r = (float *)mz_malloc((size_t)B * sizeof(float)), *d = (float *)mz_malloc((size_t)B * sizeof(float));
    be->copy_d2h(be, par, parent, (size_t)B * sizeof(int32_t));
    be->copy_d2h(be, node, new_node, (size_t)B * sizeof(int32_t));
    be->copy_d2h(be, joint, actions, (size_t)B * N * sizeof(int32_t));
    for (int b = 0; b < B; b++) {
        int s = m->state[b * m->nodes + par[b]], j = 0;
        for (int i = 0; i < N; i++) {
            assert_true(joint[b * N + i] >= 0 && joint[b * N + i] < m->A);
            j = j * m->A + joint[b * N + i];
        }
        next[b] = m->next[s * m->J + j];
        r[b] = m->reward[s * m->J + j];
        d[b] = m->discount[s * m->J + j];
        m->state[b * m->nodes + node[b]] = next[b];
    }
    be->copy_h2d(be, reward, r, (size_t)B * sizeof(float));
    be->copy_h2d(be, discount, d, (size_t)B * sizeof(float));
    answer(m, be, next, logits, value);
    free(par), free(node), free(joint), free(next), free(r), free(d);
}

typedef struct {
    int E, N, A, K;
    int32_t actions[64 * 2];
    float policy[64 * 2 * 3];
    float root_value[64];
    int32_t root_joint[64 * 64 * 2];
    float weights[64 * 64], advantage[64 * 64];
} sampled_results;

static void run_search(mz_backend *be, const mcts_sampled_params *p, table_ma_model *m, int E, sampled_results *out) {
    char err[256];
    mcts_sampled_search *s = mcts_sampled_create(be, p, E, m->N, m->A, err, sizeof err);
    if (!s) fail_msg("%s", err);
    m->B = E, m->nodes = p->num_simulations + 1;
    m->state = (int32_t *)mz_calloc((size_t)E * m->nodes, sizeof(int32_t));
    mcts_ma_model model = {m, table_root, table_recurrent};
    mcts_sampled_run(s, &model);
    out->E = E, out->N = m->N, out->A = m->A, out->K = p->K;
    assert_true(E * m->N * m->A <= 64 * 2 * 3 && E * p->K <= 64 * 64 && E * p->K * m->N <= 64 * 64 * 2);
    be->copy_d2h(be, out->actions, mcts_sampled_actions(s), (size_t)E * m->N * sizeof(int32_t));
    be->copy_d2h(be, out->policy, mcts_sampled_policy(s), (size_t)E * m->N * m->A * sizeof(float));
    be->copy_d2h(be, out->root_value, mcts_sampled_root_value(s), (size_t)E * sizeof(float));
    be->copy_d2h(be, out->root_joint, mcts_sampled_root_joint(s), (size_t)E * p->K * m->N * sizeof(int32_t));
    be->copy_d2h(be, out->weights, mcts_sampled_root_weights(s), (size_t)E * p->K * sizeof(float));
    be->copy_d2h(be, out->advantage, mcts_sampled_root_advantage(s), (size_t)E * p->K * sizeof(float));
    free(m->state);
    m->state = NULL;
    mcts_sampled_destroy(s);
}

/* The climbing game as a one-state table: every joint action ends the
 * episode (discount 0) with its payoff. */
static void test_climbing_finds_optimum(void **state) {
    (void)state;
    /* state 0 is the game, state 1 the end; rows [state][joint action] */
    float logits[2 * 2 * 3], value[2] = {0, 0}, reward[2 * 9], discount[2 * 9] = {0};
    int32_t next[2 * 9];
    for (int i = 0; i < 2 * 2 * 3; i++) logits[i] = i % 3 == 2 ? 1.0f : 0.0f;
    for (int j = 0; j < 2 * 9; j++) reward[j] = climbing_payoff(j % 9 / 3, j % 3), next[j] = 1;
    table_ma_model m = {2, 2, 3, 9, 0, 0, logits, value, reward, discount, next, NULL};
    for (uint64_t seed = 0; seed < 3; seed++) {
        mcts_sampled_params p;
        mcts_sampled_params_default(&p, 200);
        p.K = 64;
        p.seed = seed;
        for (int b = 0; b < 2; b++) {
            sampled_results r;
            run_search(b ? test_emu_backend() : test_cpu_backend(), &p, &m, 4, &r);
            for (int e = 0; e < 4; e++) {
                assert_int_equal(r.actions[2 * e], 0);
                assert_int_equal(r.actions[2 * e + 1], 0);
                /* targets are the marginals of the root visit weights; the
                 * advantage exported for AWPO is largest at (0, 0), 11 - 0 */
                float marginal[2][3] = {{0}}, wsum = 0.0f, best_adv = -1e30f;
                int best = -1;
                for (int k = 0; k < p.K; k++) {
                    const int32_t *ja = r.root_joint + (e * p.K + k) * 2;
                    float w = r.weights[e * p.K + k];
                    wsum += w;
                    if (ja[0] < 0) continue;
                    marginal[0][ja[0]] += w, marginal[1][ja[1]] += w;
                    if (r.advantage[e * p.K + k] > best_adv) best_adv = r.advantage[e * p.K + k], best = k;
                }
                assert_true(fabsf(wsum - 1.0f) < 1e-5f);
                assert_close(&marginal[0][0], r.policy + e * 6, 6, 1e-6, 0, "per-agent marginals");
                assert_int_equal(r.root_joint[(e * p.K + best) * 2], 0);
                assert_int_equal(r.root_joint[(e * p.K + best) * 2 + 1], 0);
                assert_true(best_adv == CLIMBING_OPTIMUM);
            }
        }
    }
}

/* A hand-built tree (1 agent, 4 actions, discount 0.9 everywhere):
 *   root s0: uniform prior, v = 0; action a goes to s(1+a) with reward
 *     r = {1, 0, 0, 0}; v(s1..s4) = {2, 1, 0, -1};
 *   s1..s4 put all prior on action 0, which goes to s5..s8 with reward 1;
 *     v(s5..s8) = 3.
 * K = 64 samples the 4 root actions (one slot each); no root noise. With 5
 * simulations the root visits each child once, then pUCT takes s1 (its
 * advantage 2.8 is the largest; priors ~1/4 each), which expands s5:
 *   U_0(root) = {0}
 *   U_1(root) = {1 + .9*2, .9*1, 0, -.9} = {2.8, .9, 0, -.9}
 *   U_2(root) = {1 + .9*1 + .81*3} = {4.33}
 * lambda 0.8; per depth keep max(1, ceil(count (1 - rho))):
 *   rho 0:    keep 4 at depth 1: V = (0 + .8*2.8 + .64*4.33) / (1 + .8*4 + .64) = 5.0112 / 4.84 = 1.0353719
 *   rho 0.25: keep 3 (2.8, .9, 0): V = (.8*3.7 + 2.7712) / (1 + .8*3 + .64) = 5.7312 / 4.04 = 1.4186139
 *   rho 0.75: keep 1 (2.8):        V = (.8*2.8 + 2.7712) / (1 + .8 + .64) = 5.0112 / 2.44 = 2.0537705
 * V(s1) = (2 + .8*(1 + .9*3)) / 1.8 = 2.7555556 for every rho, so the root
 * advantages are A(s1) = 1 + .9*2.7555556 - 0 = 3.48 and .9, 0, -.9 for the
 * others; visit weights .4, .2, .2, .2. */
static void test_os_lambda_hand_tree(void **state) {
    (void)state;
    enum { M = 9, A = 4 };
    float logits[M * A], value[M] = {0, 2, 1, 0, -1, 3, 3, 3, 3}, reward[M * A], discount[M * A];
    int32_t next[M * A];
    for (int s = 0; s < M; s++)
        for (int a = 0; a < A; a++) {
            logits[s * A + a] = s == 0 ? 0.0f : a == 0 ? 0.0f : -1000.0f;
            discount[s * A + a] = 0.9f;
            next[s * A + a] = s == 0 ? 1 + a : s <= 4 ? 4 + s : s;
            reward[s * A + a] = s == 0 ? (a == 0 ? 1.0f : 0.0f) : s <= 4 ? 1.0f : 0.0f;
        }
    table_ma_model m = {M, 1, A, A, 0, 0, logits, value, reward, discount, next, NULL};
    const float rhos[3] = {0.0f, 0.25f, 0.75f}, expected[3] = {1.0353719f, 1.4186139f, 2.0537705f};
    const float adv_by_action[A] = {3.48f, 0.9f, 0.0f, -0.9f}, weight_by_action[A] = {0.4f, 0.2f, 0.2f, 0.2f};
    for (int k = 0; k < 3; k++) {
        mcts_sampled_params p;
        mcts_sampled_params_default(&p, 5);
        p.K = 64, p.dirichlet_fraction = 0.0f, p.os_lambda = 0.8f, p.os_rho = rhos[k];
        for (int b = 0; b < 2; b++) {
            sampled_results r;
            run_search(b ? test_emu_backend() : test_cpu_backend(), &p, &m, 2, &r);
            for (int e = 0; e < 2; e++) {
                assert_close(&expected[k], &r.root_value[e], 1, 1e-5, 1e-5, "OS(lambda) root value");
                int seen[A] = {0};
                for (int s = 0; s < p.K; s++) {
                    int a = r.root_joint[e * p.K + s];
                    if (s >= A) {
                        assert_int_equal(a, -1);
                        assert_true(r.weights[e * p.K + s] == 0.0f);
                        continue;
                    }
                    assert_true(a >= 0 && a < A && !seen[a]);
                    seen[a] = 1;
                    assert_close(&adv_by_action[a], &r.advantage[e * p.K + s], 1, 1e-5, 1e-5, "root advantage");
                    assert_close(&weight_by_action[a], &r.weights[e * p.K + s], 1, 1e-6, 0, "visit weight");
                }
                assert_int_equal(r.actions[e], 0);
            }
        }
    }
}

/* A random table model with depth: CPU and emulated CUDA give the same bits. */
static void test_cpu_emu_bitwise(void **state) {
    (void)state;
    enum { M = 16, N = 2, A = 3, J = 9 };
    float logits[M * N * A], value[M], reward[M * J], discount[M * J];
    int32_t next[M * J];
    uint32_t h = 12345u;
#define NEXT_RAND() (h = h * 1664525u + 1013904223u, (float)(h >> 8) / 16777216.0f)
    for (int i = 0; i < M * N * A; i++) logits[i] = 2.0f * NEXT_RAND() - 1.0f;
    for (int s = 0; s < M; s++) value[s] = 2.0f * NEXT_RAND() - 1.0f;
    for (int i = 0; i < M * J; i++) {
        reward[i] = NEXT_RAND();
        discount[i] = NEXT_RAND() < 0.1f ? 0.0f : 0.95f;
        next[i] = (int32_t)(NEXT_RAND() * M) % M;
    }
#undef NEXT_RAND
    table_ma_model m = {M, N, A, J, 0, 0, logits, value, reward, discount, next, NULL};
    mcts_sampled_params p;
    mcts_sampled_params_default(&p, 40);
    p.K = 6, p.seed = 7;
    static sampled_results cpu, emu;
    run_search(test_cpu_backend(), &p, &m, 5, &cpu);
    run_search(test_emu_backend(), &p, &m, 5, &emu);
    assert_memory_equal(cpu.actions, emu.actions, 5 * N * sizeof(int32_t));
    assert_memory_equal(cpu.policy, emu.policy, 5 * N * A * sizeof(float));
    assert_memory_equal(cpu.root_value, emu.root_value, 5 * sizeof(float));
    assert_memory_equal(cpu.root_joint, emu.root_joint, 5 * p.K * N * sizeof(int32_t));
    assert_memory_equal(cpu.weights, emu.weights, 5 * p.K * sizeof(float));
    assert_memory_equal(cpu.advantage, emu.advantage, 5 * p.K * sizeof(float));
    /* a different seed changes the sampled root set of some environment */
    p.seed = 8;
    static sampled_results other;
    run_search(test_cpu_backend(), &p, &m, 5, &other);
    assert_true(memcmp(cpu.root_joint, other.root_joint, 5 * p.K * N * sizeof(int32_t)) != 0);
}

static void expect_refused(const mcts_sampled_params *p, int E, int N, int A, const char *why) {
    char err[256] = "";
    assert_null(mcts_sampled_create(test_cpu_backend(), p, E, N, A, err, sizeof err));
    if (!strstr(err, why)) fail_msg("expected '%s' in '%s'", why, err);
}

static void test_invalid_settings(void **state) {
    (void)state;
    mcts_sampled_params p;
    mcts_sampled_params_default(&p, 8);
    expect_refused(&p, 4, 17, 3, "mcts.mode=sampled: needs 1 to 16 agents, got 17");
    expect_refused(&p, 4, 2, 65, "needs 1 to 64 actions per agent, got 65");
    expect_refused(&p, 0, 2, 3, "needs at least 1 environment");
    p.K = 0;
    expect_refused(&p, 4, 2, 3, "mcts.sampled_actions (K) must be 1 to 256, got 0");
    p.K = 10, p.os_rho = 1.0f;
    expect_refused(&p, 4, 2, 3, "mcts.os_rho (fraction dropped per depth) must be in [0, 1), got 1");
    p.os_rho = 0.25f, p.os_lambda = 0.0f;
    expect_refused(&p, 4, 2, 3, "mcts.os_lambda must be in (0, 1], got 0");
    p.os_lambda = 0.8f, p.dirichlet_alpha = 0.0f;
    expect_refused(&p, 4, 2, 3, "root Dirichlet fraction must be in [0, 1] and alpha > 0");
    p.dirichlet_alpha = 0.3f, p.num_simulations = 0;
    expect_refused(&p, 4, 2, 3, "mcts.num_simulations must be 1 to 65534, got 0");
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_climbing_finds_optimum),
        cmocka_unit_test(test_os_lambda_hand_tree),
        cmocka_unit_test(test_cpu_emu_bitwise),
        cmocka_unit_test(test_invalid_settings),
    };
    return MZ_RUN_GROUP("mcts_sampled", tests);
}

MZ_TEST_GROUP("mcts_sampled", run_group)
