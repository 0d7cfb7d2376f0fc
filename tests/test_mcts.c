/* Tree search against mctx: its three stored trees replayed through the
 * oracle, golden results of mctx itself on table models (batch > 1, invalid
 * actions, depth limits, injected noise), its sequential-halving and
 * Q-transform cases, masking, and CPU vs emulated CUDA bitwise. */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcts/mcts_bodies.h"
#include "mcts/oracle.h"
#include "mcts/table_model.h"
#include "src/check.h"
#include "tests/test_util.h"

#define MCTX_DIR "../shared/fixtures/mctx"
#define GOLDEN "tests/fixtures/mcts/mctx_golden.json"

static mz_backend *backend_at(int b) { return b == 0 ? test_cpu_backend() : test_emu_backend(); }

static void test_mctx_stored_trees(void **state) {
    (void)state;
    const char *files[] = {"muzero_qtransform_tree.json", "gumbel_muzero_reward_tree.json", "gumbel_muzero_tree.json"};
    for (int f = 0; f < 3; f++) {
        char path[256];
        snprintf(path, sizeof path, MCTX_DIR "/%s", files[f]);
        float *values[2] = {NULL, NULL};
        size_t n_values = 0;
        for (int b = 0; b < 2; b++) {
            mz_backend *be = backend_at(b);
            mcts_params p;
            char err[300];
            mcts_oracle *o = mcts_oracle_load(path, be, 1, &p, err, sizeof err);
            if (!o) fail_msg("%s", err);
            mcts_search *s = mcts_search_create(be, &p, 1, mcts_oracle_num_actions(o));
            mcts_model m = mcts_oracle_model(o);
            mcts_search_run(s, &m);
            mcts_oracle_report r;
            mcts_oracle_compare(o, s, 0, &r);
            if (r.mismatched_visits || r.mismatched_order || r.missing || r.max_value_error > 1e-5)
                fail_msg("%s on %s: %d visit and %d order mismatches, %d missing, max value error %g: %s", files[f],
                         be->name, r.mismatched_visits, r.mismatched_order, r.missing, r.max_value_error, r.first_problem);
            print_message("      %s on %s: %d nodes, visits and order exact, max value error %.2g\n", files[f], be->name,
                          r.nodes_compared, r.max_value_error);
            n_values = (size_t)s->tree.N;
            values[b] = (float *)mz_malloc(n_values * sizeof(float));
            be->copy_d2h(be, values[b], s->tree.node_values, n_values * sizeof(float));
            mcts_search_destroy(s);
            mcts_oracle_destroy(o);
        }
        assert_memory_equal(values[0], values[1], n_values * sizeof(float));
        free(values[0]), free(values[1]);
    }
}

static void test_oracle_rejects_bad_files(void **state) {
    (void)state;
    mcts_params p;
    char err[300];
    assert_null(mcts_oracle_load("tests/fixtures/nope.json", test_cpu_backend(), 1, &p, err, sizeof err));
    assert_non_null(strstr(err, "tests/fixtures/nope.json"));
    assert_null(mcts_oracle_load("configs/default.json", test_cpu_backend(), 1, &p, err, sizeof err));
    assert_non_null(strstr(err, "missing tree or env_config"));
}

static void test_sequential_halving(void **state) {
    (void)state;
    /* mctx's own get_sequence_of_considered_visits */
    struct {
        int m, S;
        int32_t want[47];
    } cases[] = {
        {8, 24, {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}},
        {8, 47, {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
                 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17}},
        {7, 13, {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3}},
        {16, 2, {0, 0}},
        {2, 5, {0, 0, 1, 1, 2}},
        {1, 5, {0, 1, 2, 3, 4}},
        {0, 3, {0, 1, 2}},
        {4, 20, {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t got[47];
        mcts_considered_visits(cases[c].m, cases[c].S, got);
        assert_memory_equal(got, cases[c].want, (size_t)cases[c].S * sizeof(int32_t));
    }
}

/* A one-node tree on the host, for the Q transforms. */
static void test_qtransform_cases(void **state) {
    (void)state;
    enum { A = 4 };
    int32_t visits[A] = {0, 4, 4, 0}, node_visits[1] = {9}, index[A] = {-1, -1, -1, -1};
    float logits[A] = {-INFINITY, -1.0f, 2.0f, -INFINITY}, rewards[A], discounts[A] = {0}, values[A] = {0};
    float raw[1] = {-0.8f}, node_values[1] = {0.0f};
    for (int a = 0; a < A; a++) rewards[a] = 10.0f / 54 * (float[]){20, 3, -1, 10}[a];
    mcts_tree t;
    memset(&t, 0, sizeof t);
    t.B = 1, t.N = 1, t.A = A;
    t.children_visits = visits, t.children_logits = logits, t.children_rewards = rewards;
    t.children_discounts = discounts, t.children_values = values, t.raw_values = raw, t.node_values = node_values;
    t.node_visits = node_visits, t.children_index = index;
    float prior[A];
    mcts_softmax(logits, A, prior);
    t.children_prior = prior;
    mcts_params p;
    mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 8);
    p.rescale_values = 0, p.value_scale = 1.0f, p.maxvisit_init = 0.0f;
    float out[A];
    mcts_q_mix_value(&t, &p, 0, 0, out);
    /* scale (0 + max visits 4) x: visited q, unvisited the mixed value, which
     * mctx computes as -0.22227102518081665 */
    assert_true(fabsf(out[0] / 4.0f - -0.22227102518081665f) < 1e-6f);
    assert_true(fabsf(out[3] / 4.0f - -0.22227102518081665f) < 1e-6f);
    assert_true(fabsf(out[1] / 4.0f - rewards[1]) < 1e-6f);
    /* no visits: the raw value, and no NaN */
    for (int a = 0; a < A; a++) visits[a] = 0;
    p.maxvisit_init = 1.0f;
    mcts_q_mix_value(&t, &p, 0, 0, out);
    for (int a = 0; a < A; a++) assert_true(out[a] == -0.8f);
    /* rescaled: every entry in [0, scale] */
    visits[1] = 3, visits[2] = 1;
    p.rescale_values = 1;
    mcts_q_mix_value(&t, &p, 0, 0, out);
    for (int a = 0; a < A; a++) assert_true(out[a] >= 0.0f && out[a] <= (p.maxvisit_init + 3) * p.value_scale + 1e-6f);
    /* parent and siblings: visited min -> 0, max -> 1, unvisited -> 0 */
    node_values[0] = 0.5f;
    mcts_q_parent_and_siblings(&t, 0, 0, out);
    assert_true(out[0] == 0.0f && out[3] == 0.0f);
    assert_true(fabsf(out[1] - 1.0f) < 1e-6f && out[2] == 0.0f); /* q1 = 1.11 max, q2 = -0.185 = min */
}

/* Runs a one-tree search on a table model with one state per depth. */
static mcts_search *bandit_search(mz_backend *be, mcts_params *p, const float *logits, const uint8_t *invalid, int A,
                                  mcts_table_model **model_out) {
    float value[1] = {0}, reward[16] = {0}, discount[16] = {0};
    int32_t next[16] = {0};
    mcts_table_model *tm = mcts_table_model_create(be, 1, A, 1, p->num_simulations + 1, logits, value, reward, discount, next);
    int32_t root = 0;
    mcts_table_model_set_roots(tm, &root);
    mcts_search *s = mcts_search_create(be, p, 1, A);
    be->copy_h2d(be, s->tree.root_invalid, invalid, (size_t)A);
    mcts_model m = mcts_table_model_model(tm);
    mcts_search_run(s, &m);
    *model_out = tm;
    return s;
}

static void test_masking(void **state) {
    (void)state;
    for (int bi = 0; bi < 2; bi++) {
        mz_backend *be = backend_at(bi);
        /* mctx: MuZero, 1 simulation, prior [-1, 0, 2, 3], action 3 invalid -> action 2, weights one-hot */
        mcts_params p;
        mcts_params_default(&p, MCTS_MUZERO, 1);
        p.dirichlet_fraction = 0.0f;
        float logits[4] = {-1, 0, 2, 3};
        uint8_t invalid[4] = {0, 0, 0, 1};
        mcts_table_model *tm;
        mcts_search *s = bandit_search(be, &p, logits, invalid, 4, &tm);
        int32_t action;
        float w[4];
        be->copy_d2h(be, &action, s->tree.action, sizeof action);
        be->copy_d2h(be, w, s->tree.action_weights, sizeof w);
        assert_int_equal(action, 2);
        assert_true(w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] == 0);
        mcts_search_destroy(s);
        mcts_table_model_destroy(tm);
        /* Gumbel: huge logits and -inf with two invalid -> weights softmax([0, 1]) on the valid pair */
        mcts_params_default(&p, MCTS_GUMBEL_MUZERO, 2);
        p.gumbel_scale = 0.0f;
        float big[4] = {1e6f, -INFINITY, 1e6f + 1, -100};
        uint8_t inv2[4] = {0, 1, 0, 1};
        s = bandit_search(be, &p, big, inv2, 4, &tm);
        be->copy_d2h(be, w, s->tree.action_weights, sizeof w);
        float e = expf(1.0f);
        assert_true(w[1] == 0.0f && w[3] == 0.0f);
        assert_true(fabsf(w[0] - 1.0f / (1.0f + e)) < 1e-6f && fabsf(w[2] - e / (1.0f + e)) < 1e-6f);
        mcts_search_destroy(s);
        mcts_table_model_destroy(tm);
        /* all invalid -> uniform weights, action 0, nothing NaN */
        uint8_t all[4] = {1, 1, 1, 1};
        s = bandit_search(be, &p, logits, all, 4, &tm);
        be->copy_d2h(be, w, s->tree.action_weights, sizeof w);
        be->copy_d2h(be, &action, s->tree.action, sizeof action);
        for (int a = 0; a < 4; a++) assert_true(w[a] == 0.25f);
        assert_int_equal(action, 0);
        mcts_search_destroy(s);
        mcts_table_model_destroy(tm);
    }
}

static float setting(const cJSON *settings, const char *key, float fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, key);
    return cJSON_IsNumber(v) ? (float)v->valuedouble : cJSON_IsBool(v) ? (float)cJSON_IsTrue(v) : fallback;
}

#define BIG 4096

static void run_golden_case(const cJSON *c, mz_backend *be) {
    const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
    const char *policy = cJSON_GetObjectItemCaseSensitive(c, "policy")->valuestring;
    int B = (int)cJSON_GetObjectItemCaseSensitive(c, "B")->valuedouble, A = (int)cJSON_GetObjectItemCaseSensitive(c, "A")->valuedouble;
    int S = (int)cJSON_GetObjectItemCaseSensitive(c, "S")->valuedouble, M = (int)cJSON_GetObjectItemCaseSensitive(c, "M")->valuedouble;
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(c, "settings"), *table = cJSON_GetObjectItemCaseSensitive(c, "table");
    mcts_params p;
    bool gumbel = !strcmp(policy, "gumbel");
    mcts_params_default(&p, gumbel ? MCTS_GUMBEL_MUZERO : MCTS_MUZERO, S);
    p.max_depth = (int)cJSON_GetObjectItemCaseSensitive(c, "max_depth")->valuedouble;
    if (gumbel) {
        p.max_num_considered_actions = (int)setting(settings, "max_num_considered_actions", 16);
        p.gumbel_scale = setting(settings, "gumbel_scale", 1);
        p.value_scale = setting(settings, "value_scale", p.value_scale);
        p.maxvisit_init = setting(settings, "maxvisit_init", p.maxvisit_init);
        p.rescale_values = (int)setting(settings, "rescale_values", 1);
        p.use_mixed_value = (int)setting(settings, "use_mixed_value", 1);
    } else {
        p.dirichlet_fraction = setting(settings, "dirichlet_fraction", 0.25f);
        p.dirichlet_alpha = setting(settings, "dirichlet_alpha", 0.3f);
        p.temperature = setting(settings, "temperature", 1.0f);
        const cJSON *qt = cJSON_GetObjectItemCaseSensitive(settings, "qtransform");
        if (cJSON_IsString(qt) && !strcmp(qt->valuestring, "min_max")) {
            p.qtransform = MCTS_Q_MIN_MAX;
            p.qmin = setting(settings, "qmin", 0), p.qmax = setting(settings, "qmax", 1);
        }
    }
    static float logits[BIG], value[BIG], reward[BIG], discount[BIG], noise[BIG], fbuf[BIG];
    static int32_t next[BIG], roots[BIG], invalid32[BIG], ibuf[BIG];
    json_floats(cJSON_GetObjectItemCaseSensitive(table, "logits"), logits, BIG);
    json_floats(cJSON_GetObjectItemCaseSensitive(table, "value"), value, BIG);
    json_floats(cJSON_GetObjectItemCaseSensitive(table, "reward"), reward, BIG);
    json_floats(cJSON_GetObjectItemCaseSensitive(table, "discount"), discount, BIG);
    json_ints(cJSON_GetObjectItemCaseSensitive(table, "next"), next, BIG);
    json_ints(cJSON_GetObjectItemCaseSensitive(c, "roots"), roots, BIG);
    json_ints(cJSON_GetObjectItemCaseSensitive(c, "invalid"), invalid32, BIG);
    json_floats(cJSON_GetObjectItemCaseSensitive(c, gumbel ? "gumbel" : "dirichlet"), noise, BIG);
    mcts_table_model *tm = mcts_table_model_create(be, M, A, B, S + 1, logits, value, reward, discount, next);
    mcts_table_model_set_roots(tm, roots);
    mcts_search *s = mcts_search_create(be, &p, B, A);
    uint8_t invalid[BIG];
    for (int i = 0; i < B * A; i++) invalid[i] = (uint8_t)invalid32[i];
    be->copy_h2d(be, s->tree.root_invalid, invalid, (size_t)(B * A));
    mcts_set_root_noise(s, gumbel ? noise : NULL, gumbel ? NULL : noise);
    mcts_model m = mcts_table_model_model(tm);
    mcts_search_run(s, &m);
    int32_t action[64], visits[BIG];
    float weights[BIG], root_value[64];
    be->copy_d2h(be, action, s->tree.action, (size_t)B * sizeof(int32_t));
    be->copy_d2h(be, visits, s->tree.visit_counts, (size_t)(B * A) * sizeof(int32_t));
    be->copy_d2h(be, weights, s->tree.action_weights, (size_t)(B * A) * sizeof(float));
    be->copy_d2h(be, root_value, s->tree.root_value, (size_t)B * sizeof(float));
    int n = json_ints(cJSON_GetObjectItemCaseSensitive(c, "visit_counts"), ibuf, BIG);
    for (int i = 0; i < n; i++)
        if (ibuf[i] != visits[i]) fail_msg("%s on %s: root visits [%d][%d] = %d, mctx %d", name, be->name, i / A, i % A, visits[i], ibuf[i]);
    n = json_ints(cJSON_GetObjectItemCaseSensitive(c, "action"), ibuf, BIG);
    for (int b = 0; b < n; b++) {
        if (ibuf[b] == action[b]) continue;
        /* MuZero at temperature 0: mctx samples among equally visited actions */
        bool tie = !gumbel && visits[b * A + action[b]] == visits[b * A + ibuf[b]];
        if (!tie) fail_msg("%s on %s: tree %d action %d, mctx %d", name, be->name, b, action[b], ibuf[b]);
    }
    n = json_floats(cJSON_GetObjectItemCaseSensitive(c, "action_weights"), fbuf, BIG);
    char what[128];
    snprintf(what, sizeof what, "%s action_weights on %s", name, be->name);
    assert_close(fbuf, weights, n, 1e-5, 1e-5, what);
    n = json_floats(cJSON_GetObjectItemCaseSensitive(c, "root_value"), fbuf, BIG);
    snprintf(what, sizeof what, "%s root values on %s", name, be->name);
    assert_close(fbuf, root_value, n, 1e-5, 1e-5, what);
    int N = S + 1;
    int32_t *node_visits = (int32_t *)mz_malloc((size_t)B * N * sizeof(int32_t));
    float *node_values = (float *)mz_malloc((size_t)B * N * sizeof(float));
    be->copy_d2h(be, node_visits, s->tree.node_visits, (size_t)B * N * sizeof(int32_t));
    be->copy_d2h(be, node_values, s->tree.node_values, (size_t)B * N * sizeof(float));
    n = json_ints(cJSON_GetObjectItemCaseSensitive(c, "node_visits"), ibuf, BIG);
    for (int i = 0; i < n; i++)
        if (ibuf[i] != node_visits[i]) fail_msg("%s on %s: node [%d][%d] visits %d, mctx %d", name, be->name, i / N, i % N, node_visits[i], ibuf[i]);
    n = json_floats(cJSON_GetObjectItemCaseSensitive(c, "node_values"), fbuf, BIG);
    snprintf(what, sizeof what, "%s node values on %s", name, be->name);
    assert_close(fbuf, node_values, n, 1e-5, 1e-5, what);
    free(node_visits), free(node_values);
    mcts_search_destroy(s);
    mcts_table_model_destroy(tm);
}

static void test_mctx_golden_cases(void **state) {
    (void)state;
    char *text = read_text_file(GOLDEN);
    cJSON *root = cJSON_Parse(text);
    MZ_CHECK(root, GOLDEN ": not JSON");
    int cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        run_golden_case(c, test_cpu_backend());
        run_golden_case(c, test_emu_backend());
        cases++;
    }
    print_message("      %d mctx cases match on cpu and cuda-emu\n", cases);
    assert_true(cases >= 6);
    cJSON_Delete(root);
    free(text);
}

/* Same seed, same trees on the CPU and emulated CUDA, noise drawn inside. */
static void test_cpu_emu_bitwise(void **state) {
    (void)state;
    enum { M = 30, A = 6, B = 9, S = 30 };
    float logits[M * A], value[M], reward[M * A], discount[M * A];
    int32_t next[M * A], roots[B];
    fill_normal(logits, M * A, 31);
    fill_normal(value, M, 32);
    fill_normal(reward, M * A, 33);
    for (int i = 0; i < M * A; i++) discount[i] = i % 7 ? 0.95f : 0.0f, next[i] = (i * 7 + 3) % M;
    for (int b = 0; b < B; b++) roots[b] = (b * 11) % M;
    for (int pol = 0; pol < 2; pol++) {
        float *out[2];
        int32_t *vis[2];
        for (int bi = 0; bi < 2; bi++) {
            mz_backend *be = backend_at(bi);
            mcts_params p;
            mcts_params_default(&p, pol ? MCTS_GUMBEL_MUZERO : MCTS_MUZERO, S);
            p.seed = 1234;
            mcts_table_model *tm = mcts_table_model_create(be, M, A, B, S + 1, logits, value, reward, discount, next);
            mcts_table_model_set_roots(tm, roots);
            mcts_search *s = mcts_search_create(be, &p, B, A);
            mcts_model m = mcts_table_model_model(tm);
            mcts_search_run(s, &m);
            mcts_search_run(s, &m); /* a second call draws new noise, the same on both */
            out[bi] = (float *)mz_malloc((size_t)B * (S + 1) * sizeof(float));
            vis[bi] = (int32_t *)mz_malloc((size_t)B * A * sizeof(int32_t));
            be->copy_d2h(be, out[bi], s->tree.node_values, (size_t)B * (S + 1) * sizeof(float));
            be->copy_d2h(be, vis[bi], s->tree.visit_counts, (size_t)B * A * sizeof(int32_t));
            mcts_search_destroy(s);
            mcts_table_model_destroy(tm);
        }
        assert_memory_equal(out[0], out[1], (size_t)B * (S + 1) * sizeof(float));
        assert_memory_equal(vis[0], vis[1], (size_t)B * A * sizeof(int32_t));
        free(out[0]), free(out[1]), free(vis[0]), free(vis[1]);
    }
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mctx_stored_trees), cmocka_unit_test(test_oracle_rejects_bad_files),
        cmocka_unit_test(test_sequential_halving), cmocka_unit_test(test_qtransform_cases),
        cmocka_unit_test(test_masking), cmocka_unit_test(test_mctx_golden_cases),
        cmocka_unit_test(test_cpu_emu_bitwise),
    };
    return MZ_RUN_GROUP("mcts", tests);
}

MZ_TEST_GROUP("mcts", run_group)
