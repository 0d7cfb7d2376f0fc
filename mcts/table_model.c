#include "mcts/table_model.h"

#include <stdlib.h>

#include "mcts/table_model_bodies.h"
#include "src/check.h"

void mcts_table_root_cuda(mz_backend *be, mcts_table_view m, int B, float *logits, float *value) MZ_CUDA_LAUNCHER;
void mcts_table_recurrent_cuda(mz_backend *be, mcts_table_view m, int B, const int32_t *parent, const int32_t *action,
                               const int32_t *new_node, float *reward, float *discount, float *logits,
                               float *value) MZ_CUDA_LAUNCHER;

struct mcts_table_model {
    mz_backend *be;
    int B;
    mcts_table_view view;
};

static void *upload(mz_backend *be, const void *host, size_t bytes) {
    void *p = be->alloc(be, bytes);
    be->copy_h2d(be, p, host, bytes);
    return p;
}

mcts_table_model *mcts_table_model_create(mz_backend *be, int M, int A, int B, int N, const float *logits,
                                          const float *value, const float *reward, const float *discount,
                                          const int32_t *next) {
    MZ_CHECK(M >= 1 && A >= 1 && B >= 1 && N >= 1, "table model: bad sizes M=%d A=%d B=%d N=%d", M, A, B, N);
    for (size_t i = 0; i < (size_t)M * A; i++)
        MZ_CHECK(next[i] >= 0 && next[i] < M, "table model: next[%zu] = %d outside [0, %d)", i, next[i], M);
    mcts_table_model *m = (mcts_table_model *)mz_calloc(1, sizeof *m);
    m->be = be;
    m->B = B;
    mcts_table_view *v = &m->view;
    v->M = M, v->A = A, v->N = N;
    size_t ma = (size_t)M * A;
    v->logits = (const float *)upload(be, logits, ma * sizeof(float));
    v->value = (const float *)upload(be, value, (size_t)M * sizeof(float));
    v->reward = (const float *)upload(be, reward, ma * sizeof(float));
    v->discount = (const float *)upload(be, discount, ma * sizeof(float));
    v->next = (const int32_t *)upload(be, next, ma * sizeof(int32_t));
    v->roots = (const int32_t *)be->alloc(be, (size_t)B * sizeof(int32_t));
    be->zero(be, (void *)v->roots, (size_t)B * sizeof(int32_t));
    v->state = (int32_t *)be->alloc(be, (size_t)B * N * sizeof(int32_t));
    be->zero(be, v->state, (size_t)B * N * sizeof(int32_t));
    return m;
}

void mcts_table_model_set_roots(mcts_table_model *m, const int32_t *roots) {
    for (int b = 0; b < m->B; b++)
        MZ_CHECK(roots[b] >= 0 && roots[b] < m->view.M, "table model: root %d of tree %d outside [0, %d)", roots[b], b, m->view.M);
    m->be->copy_h2d(m->be, (void *)m->view.roots, roots, (size_t)m->B * sizeof(int32_t));
}

static void table_root(void *ctx, mz_backend *be, float *logits, float *value) {
    mcts_table_model *m = (mcts_table_model *)ctx;
    if (be->kind == MZ_BACKEND_CUDA) {
        mcts_table_root_cuda(be, m->view, m->B, logits, value);
        return;
    }
    const mcts_table_view v = m->view;
#pragma omp parallel for schedule(static) if (m->B >= 64)
    for (int64_t b = 0; b < m->B; b++) table_root_body(b, v, logits, value);
}

static void table_recurrent(void *ctx, mz_backend *be, const int32_t *parent, const int32_t *action,
                            const int32_t *new_node, float *reward, float *discount, float *logits, float *value) {
    mcts_table_model *m = (mcts_table_model *)ctx;
    if (be->kind == MZ_BACKEND_CUDA) {
        mcts_table_recurrent_cuda(be, m->view, m->B, parent, action, new_node, reward, discount, logits, value);
        return;
    }
    const mcts_table_view v = m->view;
#pragma omp parallel for schedule(static) if (m->B >= 64)
    for (int64_t b = 0; b < m->B; b++) table_recurrent_body(b, v, parent, action, new_node, reward, discount, logits, value);
}

mcts_model mcts_table_model_model(mcts_table_model *m) {
    mcts_model model = {m, table_root, table_recurrent};
    return model;
}

void mcts_table_model_destroy(mcts_table_model *m) {
    if (!m) return;
    mz_backend *be = m->be;
    mcts_table_view *v = &m->view;
    be->free(be, (void *)v->logits), be->free(be, (void *)v->value), be->free(be, (void *)v->reward);
    be->free(be, (void *)v->discount), be->free(be, (void *)v->next), be->free(be, (void *)v->roots);
    be->free(be, v->state);
    free(m);
}
