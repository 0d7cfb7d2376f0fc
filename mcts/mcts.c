/* Search orchestration, buffers and the CPU launchers (OpenMP over trees);
 * the CUDA launchers are in mcts/mcts_cuda.cu. */
#include "mcts/mcts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mcts/mcts_bodies.h"
#include "src/check.h"

void mcts_init_root_cuda(mz_backend *be, mcts_tree t, mcts_params p, uint32_t call, int noise_from_caller) MZ_CUDA_LAUNCHER;
void mcts_simulate_cuda(mz_backend *be, mcts_tree t, mcts_params p, int sim, uint32_t call) MZ_CUDA_LAUNCHER;
void mcts_expand_backward_cuda(mz_backend *be, mcts_tree t) MZ_CUDA_LAUNCHER;
void mcts_summary_cuda(mz_backend *be, mcts_tree t, mcts_params p, uint32_t call) MZ_CUDA_LAUNCHER;

/* Below this many trees a kernel step is cheaper than waking a thread team
 * (the search runs three steps per simulation). */
#define MCTS_PARALLEL_MIN_TREES 16

void mcts_params_default(mcts_params *p, mcts_policy policy, int num_simulations) {
    memset(p, 0, sizeof *p);
    p->policy = policy;
    p->num_simulations = num_simulations;
    p->max_depth = 0;
    p->qtransform = policy == MCTS_MUZERO ? MCTS_Q_PARENT_AND_SIBLINGS : MCTS_Q_COMPLETED_BY_MIX_VALUE;
    p->pb_c_init = 1.25f;
    p->pb_c_base = 19652.0f;
    p->dirichlet_fraction = 0.25f;
    p->dirichlet_alpha = 0.3f;
    p->temperature = 1.0f;
    p->max_num_considered_actions = 16;
    p->gumbel_scale = 1.0f;
    p->value_scale = 0.1f;
    p->maxvisit_init = 50.0f;
    p->rescale_values = 1;
    p->use_mixed_value = 1;
    p->seed = 0;
}

void mcts_params_noise_free(mcts_params *p) {
    p->gumbel_scale = 0.0f;
    p->dirichlet_fraction = 0.0f;
    p->temperature = 0.0f;
}

void mcts_considered_visits(int m, int S, int32_t *out) {
    if (m <= 1) {
        for (int i = 0; i < S; i++) out[i] = i;
        return;
    }
    int log2max = (int)ceil(log2((double)m)), k = m, n = 0;
    int *visits = (int *)mz_calloc((size_t)m, sizeof(int));
    while (n < S) {
        int extra = S / (log2max * k);
        if (extra < 1) extra = 1;
        for (int e = 0; e < extra && n < S; e++) {
            for (int i = 0; i < k && n < S; i++) out[n++] = visits[i];
            for (int i = 0; i < k; i++) visits[i]++;
        }
        k = k / 2 > 2 ? k / 2 : 2;
    }
    free(visits);
}

static void *device_array(mz_backend *be, size_t count, size_t size) {
    void *p = be->alloc(be, count * size);
    be->zero(be, p, count * size);
    return p;
}

mcts_search *mcts_search_create(mz_backend *be, const mcts_params *params, int B, int A) {
    MZ_CHECK(B >= 1 && A >= 1 && A <= MCTS_MAX_ACTIONS, "mcts: need 1 <= B and 1 <= A <= %d, got B=%d A=%d",
             MCTS_MAX_ACTIONS, B, A);
    MZ_CHECK(params->num_simulations >= 1, "mcts: num_simulations must be >= 1, got %d", params->num_simulations);
    MZ_CHECK(params->policy != MCTS_GUMBEL_MUZERO || params->max_num_considered_actions >= 1,
             "mcts: max_num_considered_actions must be >= 1");
    mcts_search *s = (mcts_search *)mz_calloc(1, sizeof *s);
    s->be = be;
    s->params = *params;
    mcts_tree *t = &s->tree;
    int S = params->num_simulations, N = S + 1, m = params->max_num_considered_actions;
    t->B = B, t->N = N, t->A = A;
    size_t bn = (size_t)B * N, bna = bn * (size_t)A, ba = (size_t)B * A;
    t->node_visits = (int32_t *)device_array(be, bn, sizeof(int32_t));
    t->raw_values = (float *)device_array(be, bn, sizeof(float));
    t->node_values = (float *)device_array(be, bn, sizeof(float));
    t->parents = (int32_t *)device_array(be, bn, sizeof(int32_t));
    t->action_from_parent = (int32_t *)device_array(be, bn, sizeof(int32_t));
    t->children_index = (int32_t *)device_array(be, bna, sizeof(int32_t));
    t->children_logits = (float *)device_array(be, bna, sizeof(float));
    t->children_prior = (float *)device_array(be, bna, sizeof(float));
    t->children_visits = (int32_t *)device_array(be, bna, sizeof(int32_t));
    t->children_rewards = (float *)device_array(be, bna, sizeof(float));
    t->children_discounts = (float *)device_array(be, bna, sizeof(float));
    t->children_values = (float *)device_array(be, bna, sizeof(float));
    t->root_invalid = (uint8_t *)device_array(be, ba, 1);
    t->root_gumbel = (float *)device_array(be, ba, sizeof(float));
    t->root_dirichlet = (float *)device_array(be, ba, sizeof(float));
    t->considered = (int32_t *)device_array(be, (size_t)(m + 1) * S, sizeof(int32_t));
    t->sim_parent = (int32_t *)device_array(be, B, sizeof(int32_t));
    t->sim_action = (int32_t *)device_array(be, B, sizeof(int32_t));
    t->sim_node = (int32_t *)device_array(be, B, sizeof(int32_t));
    t->model_logits = (float *)device_array(be, ba, sizeof(float));
    t->model_value = (float *)device_array(be, B, sizeof(float));
    t->model_reward = (float *)device_array(be, B, sizeof(float));
    t->model_discount = (float *)device_array(be, B, sizeof(float));
    t->action = (int32_t *)device_array(be, B, sizeof(int32_t));
    t->action_weights = (float *)device_array(be, ba, sizeof(float));
    t->root_value = (float *)device_array(be, B, sizeof(float));
    t->root_qvalues = (float *)device_array(be, ba, sizeof(float));
    t->visit_counts = (int32_t *)device_array(be, ba, sizeof(int32_t));
    int32_t *table = (int32_t *)mz_malloc((size_t)(m + 1) * S * sizeof(int32_t));
    for (int k = 0; k <= m; k++) mcts_considered_visits(k, S, table + (size_t)k * S);
    be->copy_h2d(be, t->considered, table, (size_t)(m + 1) * S * sizeof(int32_t));
    free(table);
    return s;
}

void mcts_search_destroy(mcts_search *s) {
    if (!s) return;
    mz_backend *be = s->be;
    mcts_tree *t = &s->tree;
    void *all[] = {t->node_visits, t->raw_values, t->node_values, t->parents, t->action_from_parent, t->children_index,
                   t->children_logits, t->children_prior, t->children_visits, t->children_rewards, t->children_discounts,
                   t->children_values, t->root_invalid, t->root_gumbel, t->root_dirichlet, t->considered,
                   t->sim_parent, t->sim_action, t->sim_node, t->model_logits, t->model_value, t->model_reward,
                   t->model_discount, t->action, t->action_weights, t->root_value, t->root_qvalues, t->visit_counts};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
    free(s);
}

void mcts_set_root_noise(mcts_search *s, const float *gumbel, const float *dirichlet) {
    size_t bytes = (size_t)s->tree.B * s->tree.A * sizeof(float);
    if (gumbel) s->be->copy_h2d(s->be, s->tree.root_gumbel, gumbel, bytes);
    if (dirichlet) s->be->copy_h2d(s->be, s->tree.root_dirichlet, dirichlet, bytes);
    s->noise_from_caller = gumbel || dirichlet;
}

void mcts_search_run(mcts_search *s, const mcts_model *model) {
    mz_backend *be = s->be;
    const mcts_tree t = s->tree;
    const mcts_params p = s->params;
    const uint32_t call = s->calls++;
    const int noise = s->noise_from_caller;
    const bool cuda = be->kind == MZ_BACKEND_CUDA;
    model->root(model->ctx, be, t.model_logits, t.model_value);
    if (cuda) {
        mcts_init_root_cuda(be, t, p, call, noise);
    } else {
#pragma omp parallel for schedule(static) if (t.B >= MCTS_PARALLEL_MIN_TREES)
        for (int64_t b = 0; b < t.B; b++) mcts_init_root_body(b, t, p, call, noise);
    }
    for (int sim = 0; sim < p.num_simulations; sim++) {
        if (cuda) {
            mcts_simulate_cuda(be, t, p, sim, call);
        } else {
#pragma omp parallel for schedule(static) if (t.B >= MCTS_PARALLEL_MIN_TREES)
            for (int64_t b = 0; b < t.B; b++) mcts_simulate_body(b, t, p, sim, call);
        }
        model->recurrent(model->ctx, be, t.sim_parent, t.sim_action, t.sim_node, t.model_reward, t.model_discount,
                         t.model_logits, t.model_value);
        if (cuda) {
            mcts_expand_backward_cuda(be, t);
        } else {
#pragma omp parallel for schedule(static) if (t.B >= MCTS_PARALLEL_MIN_TREES)
            for (int64_t b = 0; b < t.B; b++) mcts_expand_backward_body(b, t);
        }
    }
    if (cuda) {
        mcts_summary_cuda(be, t, p, call);
    } else {
#pragma omp parallel for schedule(static) if (t.B >= MCTS_PARALLEL_MIN_TREES)
        for (int64_t b = 0; b < t.B; b++) mcts_summary_body(b, t, p, call);
    }
}
