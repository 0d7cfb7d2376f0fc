/* The sampled joint search: buffers, checks and the CPU launchers (OpenMP
 * over trees); the CUDA launchers are in mcts/sampled_cuda.cu. */
#include "mcts/sampled.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mcts/sampled_bodies.h"
#include "src/check.h"

void mcts_sampled_init_root_cuda(mz_backend *be, mcts_sampled_view v) MZ_CUDA_LAUNCHER;
void mcts_sampled_simulate_cuda(mz_backend *be, mcts_sampled_view v, int sim) MZ_CUDA_LAUNCHER;
void mcts_sampled_expand_backward_cuda(mz_backend *be, mcts_sampled_view v) MZ_CUDA_LAUNCHER;
void mcts_sampled_summary_cuda(mz_backend *be, mcts_sampled_view v) MZ_CUDA_LAUNCHER;

struct mcts_sampled_search {
    mz_backend *be;
    mcts_sampled_view view;
    uint32_t calls;
};

void mcts_sampled_params_default(mcts_sampled_params *p, int num_simulations) {
    p->num_simulations = num_simulations;
    p->K = 10;
    p->pb_c_init = 1.25f;
    p->pb_c_base = 19652.0f;
    p->dirichlet_fraction = 0.25f;
    p->dirichlet_alpha = 0.3f;
    p->os_lambda = 0.8f;
    p->os_rho = 0.25f;
    p->seed = 0;
}

void mcts_sampled_params_noise_free(mcts_sampled_params *p) { p->dirichlet_fraction = 0.0f; }

void mcts_sampled_params_from_config(mcts_sampled_params *p, const mz_config *cfg) {
    mcts_sampled_params_default(p, (int)cfg->mcts.num_simulations);
    p->K = (int)cfg->mcts.sampled_actions;
    p->os_lambda = (float)cfg->mcts.os_lambda;
    p->os_rho = (float)cfg->mcts.os_rho;
    p->dirichlet_fraction = (float)cfg->mcts.root_dirichlet_fraction;
    p->dirichlet_alpha = (float)cfg->mcts.root_dirichlet_alpha;
    p->seed = (uint64_t)cfg->seed;
}

int mcts_sampled_check(const mcts_sampled_params *p, int E, int N, int A, char *err, size_t err_len) {
    const char *why = NULL;
    char buf[160];
    if (E < 1) {
        snprintf(buf, sizeof buf, "needs at least 1 environment, got %d", E), why = buf;
    } else if (N < 1 || N > MCTS_SAMPLED_MAX_AGENTS) {
        snprintf(buf, sizeof buf, "needs 1 to %d agents, got %d", MCTS_SAMPLED_MAX_AGENTS, N), why = buf;
    } else if (A < 1 || A > MCTS_SAMPLED_MAX_ACTIONS) {
        snprintf(buf, sizeof buf, "needs 1 to %d actions per agent, got %d", MCTS_SAMPLED_MAX_ACTIONS, A), why = buf;
    } else if (p->K < 1 || p->K > MCTS_SAMPLED_MAX_K) {
        snprintf(buf, sizeof buf, "mcts.sampled_actions (K) must be 1 to %d, got %d", MCTS_SAMPLED_MAX_K, p->K), why = buf;
    } else if (p->num_simulations < 1 || p->num_simulations >= 65535) {
        snprintf(buf, sizeof buf, "mcts.num_simulations must be 1 to 65534, got %d", p->num_simulations), why = buf;
    } else if (!(p->os_lambda > 0.0f && p->os_lambda <= 1.0f)) {
        snprintf(buf, sizeof buf, "mcts.os_lambda must be in (0, 1], got %g", (double)p->os_lambda), why = buf;
    } else if (!(p->os_rho >= 0.0f && p->os_rho < 1.0f)) {
        snprintf(buf, sizeof buf, "mcts.os_rho (fraction dropped per depth) must be in [0, 1), got %g",
                 (double)p->os_rho), why = buf;
    } else if (!(p->dirichlet_fraction >= 0.0f && p->dirichlet_fraction <= 1.0f) || !(p->dirichlet_alpha > 0.0f)) {
        snprintf(buf, sizeof buf, "root Dirichlet fraction must be in [0, 1] and alpha > 0, got %g and %g",
                 (double)p->dirichlet_fraction, (double)p->dirichlet_alpha), why = buf;
    } else if (!(p->pb_c_base > 0.0f)) {
        snprintf(buf, sizeof buf, "pb_c_base must be > 0, got %g", (double)p->pb_c_base), why = buf;
    }
    if (!why) return 0;
    snprintf(err, err_len, "mcts.mode=sampled: %s", why);
    return 2;
}

static void *device_array(mz_backend *be, size_t count, size_t size) {
    void *p = be->alloc(be, count * size);
    be->zero(be, p, count * size);
    return p;
}

mcts_sampled_search *mcts_sampled_create(mz_backend *be, const mcts_sampled_params *p, int E, int N, int A, char *err,
                                         size_t err_len) {
    if (mcts_sampled_check(p, E, N, A, err, err_len)) return NULL;
    mcts_sampled_search *s = (mcts_sampled_search *)mz_calloc(1, sizeof *s);
    s->be = be;
    mcts_sampled_view *v = &s->view;
    v->B = E, v->N = N, v->A = A, v->K = p->K, v->nodes = p->num_simulations + 1, v->p = *p;
    size_t bn = (size_t)E * v->nodes, bnk = bn * (size_t)p->K;
    v->node_visits = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->raw_value = (float *)device_array(be, bn, sizeof(float));
    v->os_value = (float *)device_array(be, bn, sizeof(float));
    v->parent = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->parent_slot = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->depth = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->num_slots = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->child = (int32_t *)device_array(be, bnk, sizeof(int32_t));
    v->slot_visits = (int32_t *)device_array(be, bnk, sizeof(int32_t));
    v->slot_prior = (float *)device_array(be, bnk, sizeof(float));
    v->slot_reward = (float *)device_array(be, bnk, sizeof(float));
    v->slot_discount = (float *)device_array(be, bnk, sizeof(float));
    v->slot_joint = (int32_t *)device_array(be, bnk * N, sizeof(int32_t));
    v->adv_min = (float *)device_array(be, E, sizeof(float));
    v->adv_max = (float *)device_array(be, E, sizeof(float));
    v->scratch_node = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->scratch_depth = (int32_t *)device_array(be, bn, sizeof(int32_t));
    v->scratch_return = (float *)device_array(be, bn, sizeof(float));
    v->scratch_discount = (float *)device_array(be, bn, sizeof(float));
    v->sim_parent = (int32_t *)device_array(be, E, sizeof(int32_t));
    v->sim_slot = (int32_t *)device_array(be, E, sizeof(int32_t));
    v->sim_node = (int32_t *)device_array(be, E, sizeof(int32_t));
    v->sim_joint = (int32_t *)device_array(be, (size_t)E * N, sizeof(int32_t));
    v->model_logits = (float *)device_array(be, (size_t)E * N * A, sizeof(float));
    v->model_value = (float *)device_array(be, E, sizeof(float));
    v->model_reward = (float *)device_array(be, E, sizeof(float));
    v->model_discount = (float *)device_array(be, E, sizeof(float));
    v->actions = (int32_t *)device_array(be, (size_t)E * N, sizeof(int32_t));
    v->policy = (float *)device_array(be, (size_t)E * N * A, sizeof(float));
    v->root_value = (float *)device_array(be, E, sizeof(float));
    v->root_joint = (int32_t *)device_array(be, (size_t)E * p->K * N, sizeof(int32_t));
    v->root_weights = (float *)device_array(be, (size_t)E * p->K, sizeof(float));
    v->root_advantage = (float *)device_array(be, (size_t)E * p->K, sizeof(float));
    return s;
}

void mcts_sampled_destroy(mcts_sampled_search *s) {
    if (!s) return;
    mz_backend *be = s->be;
    mcts_sampled_view *v = &s->view;
    void *all[] = {v->node_visits, v->raw_value, v->os_value, v->parent, v->parent_slot, v->depth, v->num_slots,
                   v->child, v->slot_visits, v->slot_prior, v->slot_reward, v->slot_discount, v->slot_joint,
                   v->adv_min, v->adv_max, v->scratch_node, v->scratch_depth, v->scratch_return,
                   v->scratch_discount, v->sim_parent, v->sim_slot, v->sim_node, v->sim_joint, v->model_logits,
                   v->model_value, v->model_reward, v->model_discount, v->actions, v->policy, v->root_value,
                   v->root_joint, v->root_weights, v->root_advantage};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) be->free(be, all[i]);
    free(s);
}

const int32_t *mcts_sampled_actions(const mcts_sampled_search *s) { return s->view.actions; }
const float *mcts_sampled_policy(const mcts_sampled_search *s) { return s->view.policy; }
const float *mcts_sampled_root_value(const mcts_sampled_search *s) { return s->view.root_value; }
const int32_t *mcts_sampled_root_joint(const mcts_sampled_search *s) { return s->view.root_joint; }
const float *mcts_sampled_root_weights(const mcts_sampled_search *s) { return s->view.root_weights; }
const float *mcts_sampled_root_advantage(const mcts_sampled_search *s) { return s->view.root_advantage; }

void mcts_sampled_run(mcts_sampled_search *s, const mcts_ma_model *model) {
    mz_backend *be = s->be;
    mcts_sampled_view v = s->view;
    v.call = s->calls++;
    const int cuda = be->kind == MZ_BACKEND_CUDA;
    const int64_t B = v.B;
    model->root(model->ctx, be, v.B, v.model_logits, v.model_value);
    if (cuda) {
        mcts_sampled_init_root_cuda(be, v);
    } else {
#pragma omp parallel for schedule(static) if (B >= 16)
        for (int64_t b = 0; b < B; b++) sampled_init_root_body(b, v);
    }
    for (int sim = 0; sim < v.p.num_simulations; sim++) {
        if (cuda) {
            mcts_sampled_simulate_cuda(be, v, sim);
        } else {
#pragma omp parallel for schedule(static) if (B >= 16)
            for (int64_t b = 0; b < B; b++) sampled_simulate_body(b, v, sim);
        }
        model->recurrent(model->ctx, be, v.B, v.sim_parent, v.sim_joint, v.sim_node, v.model_reward,
                         v.model_discount, v.model_logits, v.model_value);
        if (cuda) {
            mcts_sampled_expand_backward_cuda(be, v);
        } else {
#pragma omp parallel for schedule(dynamic, 4) if (B >= 16)
            for (int64_t b = 0; b < B; b++) sampled_expand_backward_body(b, v);
        }
    }
    if (cuda) {
        mcts_sampled_summary_cuda(be, v);
    } else {
#pragma omp parallel for schedule(static) if (B >= 16)
        for (int64_t b = 0; b < B; b++) sampled_summary_body(b, v);
    }
}

void mcts_sampled_set_avail(mcts_sampled_search *s, const uint8_t *avail) { s->view.avail = avail; }

void mcts_sampled_state_blocks(mcts_sampled_search *s, const char *prefix, mz_state_block *list, int *n, int max) {
    char name[64];
    snprintf(name, sizeof name, "%s.calls", prefix);
    mz_state_add(list, n, max, name, &s->calls, sizeof s->calls, 0);
}
