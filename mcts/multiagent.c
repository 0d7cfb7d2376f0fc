/* The multi-agent adapter: wraps a multi-agent model as the single-agent
 * search's model, and maps the results back per agent. CPU launchers here,
 * CUDA ones in mcts/multiagent_cuda.cu. */
#include "mcts/multiagent.h"

#include <stdio.h>
#include <stdlib.h>

#include "mcts/multiagent_bodies.h"
#include "src/check.h"

void mcts_ma_adapt_cuda(mz_backend *be, mcts_ma_view v, int B, const int32_t *node_of_tree, int node_fixed) MZ_CUDA_LAUNCHER;
void mcts_ma_root_mask_cuda(mz_backend *be, mcts_ma_view v, int B) MZ_CUDA_LAUNCHER;
void mcts_ma_joint_action_cuda(mz_backend *be, mcts_ma_view v, int B, const int32_t *parent, const int32_t *action) MZ_CUDA_LAUNCHER;
void mcts_ma_results_cuda(mz_backend *be, mcts_ma_view v, int E, const int32_t *tree_action, const float *tree_weights,
                          const float *tree_value, int32_t *actions, float *policy, float *root_value) MZ_CUDA_LAUNCHER;

struct mcts_ma_search {
    mz_backend *be;
    int mode, E, N, A, B;
    mcts_search *search;
    mcts_ma_view view;
    float *agent_logits; /* [B][N][A] */
    int32_t *actions;    /* [E][N] */
    float *policy;       /* [E][N][A] */
    float *root_value;   /* [E] */
    const mcts_ma_model *model; /* during a run */
    uint32_t calls;
};

/* A^N, or 0 when it is above `limit` (or the per-agent action count is
 * above what the joint prior's scratch holds), with the reason in err. */
static int joint_actions(int N, int A, int joint_limit, char *err, size_t err_len) {
    double joint = 1;
    for (int i = 0; i < N; i++) joint *= A;
    int limit = joint_limit < MCTS_MAX_ACTIONS ? joint_limit : MCTS_MAX_ACTIONS;
    if (joint <= limit && A <= 32) return (int)joint;
    snprintf(err, err_len,
             "mcts.mode=joint: %d agents x %d actions make %.0f joint actions, above the limit of %d "
             "(mcts.joint_action_limit, at most %d); use mcts.mode=sampled or independent",
             N, A, joint, limit, MCTS_MAX_ACTIONS);
    return 0;
}

int mcts_ma_check_config(int joint, int N, int A, int joint_limit, char *err, size_t err_len) {
    if (!joint) return 0;
    return joint_actions(N, A, joint_limit, err, err_len) ? 0 : 2;
}

mcts_ma_search *mcts_ma_create(mz_backend *be, const mcts_params *params, mcts_ma_mode mode, int E, int N, int A,
                               int joint_limit, int partner_sample, char *err, size_t err_len) {
    if (N < 1 || N > MCTS_MA_MAX_AGENTS || A < 1 || E < 1) {
        snprintf(err, err_len, "multi-agent search needs 1 to %d agents, A >= 1 and E >= 1 (got N=%d, A=%d, E=%d)",
                 MCTS_MA_MAX_AGENTS, N, A, E);
        return NULL;
    }
    int TA = A, B = E * N;
    if (mode == MCTS_MA_JOINT) {
        TA = joint_actions(N, A, joint_limit, err, err_len);
        if (!TA) return NULL;
        B = E;
    }
    mcts_ma_search *m = (mcts_ma_search *)mz_calloc(1, sizeof *m);
    m->be = be, m->mode = mode, m->E = E, m->N = N, m->A = A, m->B = B;
    m->search = mcts_search_create(be, params, B, TA);
    int nodes = params->num_simulations + 1;
    m->agent_logits = (float *)be->alloc(be, (size_t)B * N * A * sizeof(float));
    m->actions = (int32_t *)be->alloc(be, (size_t)E * N * sizeof(int32_t));
    m->policy = (float *)be->alloc(be, (size_t)E * N * A * sizeof(float));
    m->root_value = (float *)be->alloc(be, (size_t)E * sizeof(float));
    mcts_ma_view *v = &m->view;
    v->mode = mode, v->N = N, v->A = A, v->TA = TA, v->nodes = nodes, v->partner_sample = partner_sample;
    v->seed = params->seed;
    v->agent_logits = m->agent_logits;
    v->partner = mode == MCTS_MA_INDEPENDENT ? (int32_t *)be->alloc(be, (size_t)B * nodes * N * sizeof(int32_t)) : NULL;
    v->joint_actions = (int32_t *)be->alloc(be, (size_t)B * N * sizeof(int32_t));
    v->root_logits = m->agent_logits;
    v->root_invalid = m->search->tree.root_invalid;
    return m;
}

void mcts_ma_destroy(mcts_ma_search *m) {
    if (!m) return;
    mz_backend *be = m->be;
    mcts_search_destroy(m->search);
    be->free(be, m->agent_logits), be->free(be, m->actions), be->free(be, m->policy), be->free(be, m->root_value);
    be->free(be, m->view.partner), be->free(be, m->view.joint_actions);
    free(m);
}

int mcts_ma_trees(const mcts_ma_search *m) { return m->B; }
const int32_t *mcts_ma_actions(const mcts_ma_search *m) { return m->actions; }
const float *mcts_ma_policy(const mcts_ma_search *m) { return m->policy; }
const float *mcts_ma_root_value(const mcts_ma_search *m) { return m->root_value; }
mcts_search *mcts_ma_tree_search(mcts_ma_search *m) { return m->search; }

static void adapt(mcts_ma_search *m, float *tree_logits, const int32_t *node_of_tree, int node_fixed) {
    mcts_ma_view v = m->view;
    v.tree_logits = tree_logits;
    v.call = m->calls;
    if (m->be->kind == MZ_BACKEND_CUDA) {
        mcts_ma_adapt_cuda(m->be, v, m->B, node_of_tree, node_fixed);
        return;
    }
#pragma omp parallel for schedule(static) if (m->B >= 64)
    for (int64_t b = 0; b < m->B; b++) ma_adapt_logits_body(b, v, node_of_tree, node_fixed);
}

static void adapter_root(void *ctx, mz_backend *be, float *logits, float *value) {
    mcts_ma_search *m = (mcts_ma_search *)ctx;
    m->model->root(m->model->ctx, be, m->B, m->agent_logits, value);
    if (m->view.avail && be->kind == MZ_BACKEND_CUDA) {
        mcts_ma_root_mask_cuda(be, m->view, m->B);
    } else if (m->view.avail) {
        const mcts_ma_view v = m->view;
#pragma omp parallel for schedule(static) if (m->B >= 64)
        for (int64_t b = 0; b < m->B; b++) ma_root_mask_body(b, v);
    }
    adapt(m, logits, NULL, 0);
}

static void adapter_recurrent(void *ctx, mz_backend *be, const int32_t *parent, const int32_t *action,
                              const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    mcts_ma_search *m = (mcts_ma_search *)ctx;
    const mcts_ma_view v = m->view;
    if (be->kind == MZ_BACKEND_CUDA) {
        mcts_ma_joint_action_cuda(be, v, m->B, parent, action);
    } else {
#pragma omp parallel for schedule(static) if (m->B >= 64)
        for (int64_t b = 0; b < m->B; b++) ma_joint_action_body(b, v, parent, action);
    }
    m->model->recurrent(m->model->ctx, be, m->B, parent, v.joint_actions, new_node, reward, discount, m->agent_logits, value);
    adapt(m, logits, new_node, 0);
}

void mcts_ma_run(mcts_ma_search *m, const mcts_ma_model *model) {
    m->model = model;
    mcts_model adapter = {m, adapter_root, adapter_recurrent};
    mcts_search_run(m->search, &adapter);
    const mcts_tree *t = &m->search->tree;
    const mcts_ma_view v = m->view;
    if (m->be->kind == MZ_BACKEND_CUDA) {
        mcts_ma_results_cuda(m->be, v, m->E, t->action, t->action_weights, t->root_value, m->actions, m->policy,
                             m->root_value);
    } else {
#pragma omp parallel for schedule(static) if (m->E >= 64)
        for (int64_t e = 0; e < m->E; e++)
            ma_results_body(e, v, t->action, t->action_weights, t->root_value, m->actions, m->policy, m->root_value);
    }
    m->model = NULL;
    m->calls++;
}

void mcts_ma_set_avail(mcts_ma_search *m, const uint8_t *avail) { m->view.avail = avail; }

void mcts_ma_state_blocks(mcts_ma_search *m, const char *prefix, mz_state_block *list, int *n, int max) {
    char name[64];
    snprintf(name, sizeof name, "%s.calls", prefix);
    mz_state_add(list, n, max, name, &m->calls, sizeof m->calls, 0);
    snprintf(name, sizeof name, "%s.tree_calls", prefix);
    mz_state_add(list, n, max, name, &m->search->calls, sizeof m->search->calls, 0);
}
